#!/usr/bin/env bash
# The `fuzz` stage: (1) every target's corpus replayed under `cargo test`
# on stable, (2) a short coverage-guided burst per target under
# `cargo +nightly fuzz run` with the C code (job core, message codec)
# instrumented for libFuzzer and built with ASan. A crash keeps its input
# under fuzz/artifacts/<target>/; an orderings/kmod_messages/scenario_text
# crash is turned into a scenario, shrunk with `daedalus-replay minimize`
# and stored as traces/fuzz/<invariant>-<target>-<hash>.scn. (3) The
# ClusterFuzzLite build script run as the engine runs it, every target it
# puts in $OUT run over its seed corpus from there (fuzz/cflite.sh). Any
# failure fails the stage.
#
# Environment: FUZZ_SECONDS (per target, default 20), FUZZ_TARGETS
# (default all; a target of fuzz_targets/ it leaves out fails under
# CI=true and is reported as skipped elsewhere, never as passed), FUZZ_JOBS
# (bursts at a time, default 1; under CI=true one a core), FUZZ_SEED
# (libFuzzer's -seed for every burst; default: a fresh one, printed, so a
# run that finds something can be repeated; under CI=true a fixed one, and
# each burst a fixed number of runs rather than seconds, so a CI verdict
# depends on the tree and not on the draw or the machine's speed), CI.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$here"

seconds=${FUZZ_SECONDS:-20}
if [ "${CI:-}" = true ]; then
	seed=${FUZZ_SEED:-20261125}
else
	seed=${FUZZ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
fi
echo "fuzz: seed $seed (FUZZ_SEED=$seed repeats these bursts)"
targets=${FUZZ_TARGETS:-"orderings kmod_messages daemon_protocol scenario_text trace_import bitstream"}
# Each target once: two bursts of one target would share its files.
targets=$(printf '%s\n' $targets | awk 'NF && !seen[$0]++' | tr '\n' ' ')
passed=0
failed=0
skipped=0
ok() { passed=$((passed + 1)); echo "fuzz: ok: $*"; }
bad() { failed=$((failed + 1)); echo "fuzz: FAILED: $*"; }
summary() {
	local extra=
	[ "$skipped" -eq 0 ] || extra=", $skipped skipped"
	echo "fuzz: $passed passed, $failed failed$extra"
}

# Every target in fuzz_targets/ runs: one left out (FUZZ_TARGETS, or a new
# target missing from the default list) cannot pass by not running.
for f in fuzz_targets/*.rs; do
	t=$(basename "$f" .rs)
	for x in $targets; do [ "$x" = "$t" ] && continue 2; done
	if [ "${CI:-}" = true ]; then
		bad "$t: not run (not in FUZZ_TARGETS or the default list; under CI=true every target runs)"
	else
		skipped=$((skipped + 1))
		echo "fuzz: SKIP: $t: not run (not in FUZZ_TARGETS); not counted as passed"
	fi
done

# The C code cc compiles for the fuzz build (replay's job core, front,
# dispatcher, codec and mutants) gets libFuzzer's coverage counters,
# comparison tracing and ASan: cc-instrument.sh adds them to those files.
export CC="$here/cc-instrument.sh"

# The scenario targets drive that C through the replay's Rust harness.
# For a hunt, comparison tracing stays on the C and is left off their Rust
# side: that doubles their exec/s and finds the mutants sooner
# (BENCHMARKS.md). That is a build of its own (every crate, the C and
# libFuzzer again: ~110 s on 2 cores), in a target directory of its own.
# Under CI=true a burst is a fixed set of inputs, not a hunt: the scenario
# targets share the other targets' build.
scenario_targets="orderings kmod_messages"
build_for() {
	[ "${CI:-}" != true ] || return 0
	case " $scenario_targets " in
	*" $1 "*) echo "--no-trace-compares --target-dir $here/target/no-cmp" ;;
	esac
}

# (1) Stable: format, lints, then build every target and replay the corpora.
if cargo +stable fmt -- --check >/dev/null 2>&1; then ok "cargo fmt"; else bad "cargo fmt"; fi
if env -u CC cargo +stable clippy -q --all-targets -- -D warnings; then ok "cargo clippy"; else bad "cargo clippy"; fi
# Counted from cargo's exit status and its result lines together: a test
# binary killed by a signal (a stack overflow, an abort or a segfault in
# the C code it links) prints no result line, and is a failure named by
# cargo-test-count.sh. --no-fail-fast: every binary runs and is counted.
log=$(mktemp)
env -u CC -u DAEDALUS_FUZZ_CORE cargo +stable test --no-fail-fast 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
read -r p f < <(bash "$root/scripts/cargo-test-count.sh" fuzz "$log" "$rc")
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-1}))
rm -f "$log"

# (2) Nightly bursts. clang's ASan runtime links other crates' build-time
# checks once cc adds -fsanitize=address (docs/fuzzing.md).
if ! dpkg-query -W -f='${Status}' libclang-rt-19-dev 2>/dev/null | grep -q 'ok installed'; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		libclang-rt-19-dev >/dev/null 2>&1 || true
fi
if ! rustup toolchain list | grep -q '^nightly'; then
	rustup toolchain install nightly --profile minimal >/dev/null 2>&1 || true
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
	cargo install --locked cargo-fuzz >/dev/null 2>&1 || true
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
	bad "cargo +nightly fuzz is not available"
	summary
	exit 1
fi

# Build the stable helpers (crash conversion) and the replay CLI once.
env -u CC cargo +stable build -q --bin fuzz-scenario 2>/dev/null
(cd "$root" && env -u CC cargo build -q -p daedalus-replay --bin daedalus-replay) 2>/dev/null

# Every target with build_for's options (none: comparison tracing on the
# Rust side too, in the default target directory).
for t in $targets; do
	# shellcheck disable=SC2046
	if ! cargo +nightly fuzz build -O -s address $(build_for "$t") "$t" 2>&1 | tail -n 3; then
		bad "cargo fuzz build $t"
		summary
		exit 1
	fi
done

# Executions per second of each target on a 2-core CI machine (see
# BENCHMARKS.md): under CI=true a burst is a fixed number of runs, about
# FUZZ_SECONDS' worth, so that with the fixed seed and the committed
# seeds the same inputs run every time; the time limit is only a guard.
rate_for() {
	case $1 in
	daemon_protocol) echo 15000 ;;
	scenario_text) echo 9000 ;;
	trace_import) echo 5000 ;;
	bitstream) echo 170 ;;
	# Its seeds are whole client sessions, one a trace: 233-444 exec/s.
	orderings) echo 250 ;;
	*) echo 1000 ;;
	esac
}

# Per-target libFuzzer options: dictionaries, input size, time and memory.
opts_for() {
	local t=$1 o=(-seed="$seed" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1)
	if [ "${CI:-}" = true ]; then
		o+=(-runs=$(($(rate_for "$t") * seconds)) -max_total_time=$((seconds * 4)))
	else
		o+=(-max_total_time="$seconds")
	fi
	[ -f "dict/$t.dict" ] && o+=(-dict="dict/$t.dict")
	case $t in
	bitstream) o+=(-max_len=65536) ;;
	trace_import | scenario_text) o+=(-max_len=16384) ;;
	*) o+=(-max_len=4096) ;;
	esac
	echo "${o[@]}"
}

# Extra read-only corpora from traces/.
extra_for() {
	case $1 in
	scenario_text) echo "$root/traces/regress" ;;
	esac
}

store_find() {
	local t=$1 crash=$2 inv hash scn out
	hash=$(sha1sum "$crash" | cut -c1-8)
	scn="$here/artifacts/$t/crash-$hash.scn"
	if ! inv=$("$here/target/debug/fuzz-scenario" "$t" "$crash" "$scn" 2>/dev/null); then
		echo "fuzz: $t crash kept as $crash (not a job-core scenario: see the panic above)"
		return
	fi
	if [ "$inv" = clean ]; then
		echo "fuzz: $t crash kept as $crash ($scn runs clean: a check outside the oracles)"
		return
	fi
	# A find on the real core is a regression for traces/; a mutant's
	# (DAEDALUS_FUZZ_CORE) stays with the artifacts.
	local dir="$root/traces/fuzz"
	[ "${DAEDALUS_FUZZ_CORE:-real}" = real ] || dir="$here/artifacts/$t"
	mkdir -p "$dir"
	out="$dir/$inv-$t-$hash.scn"
	if "$root/target/debug/daedalus-replay" minimize "$scn" --core "${DAEDALUS_FUZZ_CORE:-real}" -o "$out"; then
		echo "fuzz: $t found $inv: minimized scenario in ${out#"$root"/}"
	else
		cp "$scn" "$out"
		echo "fuzz: $t found $inv: minimize failed, scenario in ${out#"$root"/}"
	fi
}

# FUZZ_JOBS bursts at a time (default: one a core under CI=true, else 1),
# each libFuzzer process on one core; judged in the targets' order once
# all have ended.
jobs=${FUZZ_JOBS:-$([ "${CI:-}" = true ] && nproc || echo 1)}
declare -A before
burst() {
	local t=$1
	# shellcheck disable=SC2046
	cargo +nightly fuzz run -O -s address $(build_for "$t") "$t" "corpus/$t" "seeds/$t" $(extra_for "$t") \
		-- $(opts_for "$t") >"artifacts/$t.log" 2>&1
	echo $? >"artifacts/$t.rc"
}
running=0
for t in $targets; do
	mkdir -p "corpus/$t" "artifacts/$t"
	before[$t]=$(ls "artifacts/$t" | grep -c '^crash-\|^timeout-\|^oom-\|^leak-' || true)
	rm -f "artifacts/$t.rc"
	burst "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait
for t in $targets; do
	rc=$(cat "artifacts/$t.rc" 2>/dev/null || echo 1)
	grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' "artifacts/$t.log" |
		sed "s/^/fuzz: $t: /"
	after=$(ls "artifacts/$t" | grep -c '^crash-\|^timeout-\|^oom-\|^leak-' || true)
	ran=$(sed -nE 's/^stat::number_of_executed_units: *//p' "artifacts/$t.log")
	# Under CI=true the guard (-max_total_time) must not have cut the
	# burst short: the verdict is over a fixed set of inputs.
	if [ "${CI:-}" = true ] && [ "$rc" -eq 0 ] &&
		[ "${ran:-0}" -lt $(($(rate_for "$t") * seconds)) ]; then
		bad "$t ran ${ran:-0} of $(($(rate_for "$t") * seconds)) inputs before its time guard ($((seconds * 4)) s): slower than rate_for says"
		continue
	fi
	if [ "$rc" -eq 0 ] && [ "$after" -eq "${before[$t]}" ]; then
		ok "$t ran $ran inputs"
	else
		bad "$t (exit $rc), log: fuzz/artifacts/$t.log"
		grep -E 'panicked|ERROR: libFuzzer|ERROR: AddressSanitizer|SUMMARY' "artifacts/$t.log" | head -n 5
		for c in $(ls -t "artifacts/$t" | grep -E '^(crash|timeout|oom|leak)-' | head -n 1); do
			store_find "$t" "$here/artifacts/$t/$c"
		done
	fi
done

# (3) The ClusterFuzzLite build, run as the engine runs it, and its $OUT
# used as the runner uses it (fuzz/cflite.sh): one check a line.
while read -r line; do
	case $line in
	"cflite: ok: "*) ok "${line#cflite: ok: }" ;;
	"cflite: FAILED: "*) bad "${line#cflite: FAILED: }" ;;
	esac
done < <(bash "$here/cflite.sh" 2>&1 | tee "$here/artifacts/cflite.log")

summary
[ "$failed" -eq 0 ]
