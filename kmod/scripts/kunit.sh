#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Stage `kunit`: build the test kernel (kernel.sh build: cached, incremental),
# boot it under QEMU/TCG through kunit.py, and judge the daedalus_* suites.
#
# Outputs under target/kunit/: console.log (the whole kernel log),
# results.json (kunit.py's KernelCI-style JSON), summary.txt.
# Fails when a test fails or crashes, when no daedalus suite ran (with the
# default filter: when any of daedalus_job, daedalus_replay and
# daedalus_replay_module did not), when a replay suite ran fewer or more
# scenarios than traces/ holds *.scn files, when the replay suite printed
# a broken scenario's line (kunit-patterns.sh), or when the kernel log holds
# a KASAN, lockdep, list-debug, debug-objects, kmemleak, UBSAN, BUG or
# WARN report, even if every test said ok.
#
# Two halves, for kunit-bites' pipeline (kunit-mutant.sh), where one
# mutant's kernel builds while the one before boots:
#   DAEDALUS_KUNIT_BUILD_ONLY=1  stop after the build, with the kernel
#                                image and what judging it needs in
#                                $OUT/image
#   DAEDALUS_KUNIT_IMAGE=DIR     boot DIR (such an image) instead of building
# DAEDALUS_KUNIT_REUSE_EXPECTED=1: build with the userspace logs the
# previous build made, instead of making them again.
# DAEDALUS_KUNIT_STOP_AT_REPORT=N: once the console holds a kernel report
# (or a line matching DAEDALUS_KUNIT_STOP_PATTERN), give the kernel N more
# seconds to print it and end the run (a mutant that WARNs in a loop or
# deadlocks is caught; no need to wait for the timeout).
# Last line: `kunit: N passed, N failed`.
set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KMOD_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
ROOT=$(cd "$KMOD_DIR/.." && pwd)
OUT=${DAEDALUS_KUNIT_OUT:-$ROOT/target/kunit}
KERNEL_SH=$SCRIPT_DIR/kernel.sh
FILTER=${DAEDALUS_KUNIT_FILTER:-daedalus_*}

passed=0
failed=0

finish() {
	echo "kunit: $passed passed, $failed failed"
	exit "$1"
}

log() { printf 'kunit.sh: %s\n' "$*" >&2; }

mkdir -p "$OUT"
rm -f "$OUT/console.log" "$OUT/results.json" "$OUT/summary.txt"

# Which of the project's suites this tree can build, and why not the others.
describe_suites() {
	local kconfig=$KMOD_DIR/kunit/Kconfig
	if [ -f "$KMOD_DIR/Kconfig" ] && grep -q '^config VIDEO_DAEDALUS$' "$KMOD_DIR/Kconfig"; then
		log "module: CONFIG_VIDEO_DAEDALUS=y (built in)"
	else
		log "module: kmod/Kconfig does not declare VIDEO_DAEDALUS; not built"
	fi
	local sym suite
	for pair in DAEDALUS_JOB_KUNIT_TEST:daedalus_job \
		DAEDALUS_REPLAY_KUNIT_TEST:daedalus_replay; do
		sym=${pair%%:*}
		suite=${pair#*:}
		if grep -qx "CONFIG_$sym=y" "$BUILD/.config" 2>/dev/null; then
			log "suite $suite: built (CONFIG_$sym=y)"
		elif [ -f "$kconfig" ] && grep -q "^config $sym\$" "$kconfig"; then
			log "suite $suite: declared but not enabled (dependencies unmet)"
		else
			log "suite $suite: not in this tree (no CONFIG_$sym)"
		fi
	done
}

# The userspace executor's logs of every scenario, for the differential
# check built into daedalus_replay: the traces/ scenarios, and the
# generated ones of the differential fuzzing (DIFFFUZZ_N scenarios of the
# orderings fuzz target's generator from seed DIFFFUZZ_SEED, at most
# DIFFFUZZ_OPS operations each, plus the committed orderings seeds and a
# sample of the local orderings corpus when there is one). Files are
# rewritten only when they change, so an unchanged set does not rebuild
# the suite.
DIFFFUZZ_N=${DAEDALUS_DIFFFUZZ_N:-500}
DIFFFUZZ_SEED=${DAEDALUS_DIFFFUZZ_SEED:-20261205}
DIFFFUZZ_OPS=${DAEDALUS_DIFFFUZZ_OPS:-24}
DIFFFUZZ_CORPUS_SAMPLE=${DAEDALUS_DIFFFUZZ_CORPUS_SAMPLE:-50}

# sync_dir SRC DST PATTERN...: DST holds exactly SRC's files matching a
# pattern, a file touched only when its content changed.
sync_dir() {
	local src=$1 dst=$2 rel
	shift 2
	local find_args=(-name "$1")
	shift
	for p in "$@"; do find_args+=(-o -name "$p"); done
	mkdir -p "$dst"
	(cd "$src" && find . \( "${find_args[@]}" \) -print) | while read -r rel; do
		mkdir -p "$dst/$(dirname "$rel")"
		cmp -s "$src/$rel" "$dst/$rel" || cp "$src/$rel" "$dst/$rel"
	done
	(cd "$dst" && find . \( "${find_args[@]}" \) -print) | while read -r rel; do
		[ -f "$src/$rel" ] || rm -f "$dst/$rel"
	done
}

# split_logs CHECK_OUTPUT PREFIX DIR [SUFFIX]: `check --trace-log` output into
# DIR/<path after PREFIX>SUFFIX.log (job-core tracepoints and V4L2 events) and
# .io (requests queued for the daemon, each event's errno or DQBUF result,
# the job core's counters after the last event).
split_logs() {
	awk -v dir="$3" -v prefix="$2" -v suffix="${4:-}" '
		index($0, "== " prefix) == 1 {
			f = dir "/" substr($2, length(prefix) + 1) suffix ".log"; n = split(f, p, "/");
			d = substr(f, 1, length(f) - length(p[n]) - 1);
			io = substr(f, 1, length(f) - 4) ".io";
			system("mkdir -p \"" d "\""); printf "" > f; printf "" > io; next }
		/^$/ { f = ""; next }
		f && /^(device_run|claim|park|buf_done|job_finish|reject|event) / { print > f }
		f && /^(request |[0-9]+: |stats )/ { print > io }
	' "$1"
}

expected_logs() {
	local dir=$1 gen=$2 tmp corpus sample
	tmp=$(mktemp -d)
	if ! (cd "$ROOT" && cargo build -q -p daedalus-replay) >"$OUT/replay-build.log" 2>&1; then
		log "differential: daedalus-replay does not build (target/kunit/replay-build.log); no outcome logs"
		rm -rf "$tmp" "$dir" "$gen"
		differential_broken=1
		return
	fi
	(cd "$ROOT" && target/debug/daedalus-replay check --trace-log traces) \
		>"$OUT/replay-check.txt" 2>&1
	split_logs "$OUT/replay-check.txt" traces/ "$tmp/logs"
	# And with mapped jobs: <path>.mapped.log and .mapped.io.
	(cd "$ROOT" && target/debug/daedalus-replay check --trace-log --mapped traces) \
		>"$OUT/replay-check-mapped.txt" 2>&1
	split_logs "$OUT/replay-check-mapped.txt" traces/ "$tmp/logs" .mapped

	# The differential fuzzing's scenarios.
	sample=()
	corpus=$ROOT/fuzz/corpus/orderings
	if [ -d "$corpus" ] && [ "$DIFFFUZZ_CORPUS_SAMPLE" -gt 0 ]; then
		mkdir -p "$tmp/corpus"
		find "$corpus" -maxdepth 1 -type f | sort | head -n "$DIFFFUZZ_CORPUS_SAMPLE" |
			xargs -r cp -t "$tmp/corpus"
		sample=(--inputs "$tmp/corpus")
	fi
	if ! (cd "$ROOT" && target/debug/daedalus-replay generate --seed "$DIFFFUZZ_SEED" \
		--count "$DIFFFUZZ_N" --max-ops "$DIFFFUZZ_OPS" \
		--inputs fuzz/seeds/orderings "${sample[@]}" -o "$tmp/generated") \
		>"$OUT/generate.txt" 2>&1; then
		log "differential fuzzing: the generator failed or the real core broke on a generated scenario (target/kunit/generate.txt):"
		head -n 40 "$OUT/generate.txt" >&2
		generate_broken=1
	fi
	(cd "$tmp" && "$ROOT/target/debug/daedalus-replay" check --trace-log generated) \
		>"$OUT/replay-check-generated.txt" 2>&1
	split_logs "$OUT/replay-check-generated.txt" generated/ "$tmp/logs/generated"
	sync_dir "$tmp/logs" "$dir" '*.log' '*.io'
	sync_dir "$tmp/generated" "$gen" '*.scn'
	generated_n=$(find "$gen" -name '*.scn' | wc -l)
	# The list the Rust suite includes (kmod/kunit/Makefile).
	{
		echo '// Generated by kmod/scripts/kunit.sh: the differential fuzzing scenarios.'
		echo 'pub(crate) static GENERATED: &[(&str, &str, Option<&str>, Option<&str>)] = &['
		find "$gen" -name '*.scn' -printf '%f\n' | sort | while read -r f; do
			printf '    ("%s", include_str!("%s"),\n' "$f" "$gen/$f"
			for ext in log io; do
				if [ -f "$dir/generated/$f.$ext" ]; then
					printf '     Some(include_str!("%s")),\n' "$dir/generated/$f.$ext"
				else
					printf '     None,\n'
				fi
			done
			echo '    ),'
		done
		echo '];'
	} >"$tmp/generated.rs"
	cmp -s "$tmp/generated.rs" "$gen/generated.rs" || cp "$tmp/generated.rs" "$gen/generated.rs"
	log "differential: $(find "$dir" -name '*.log' | wc -l) userspace outcome log(s) in $dir; $generated_n generated scenario(s) in $gen (seed $DIFFFUZZ_SEED)"
	rm -rf "$tmp"
}

differential_broken=0
generate_broken=0
generated_n=0
IMAGE=${DAEDALUS_KUNIT_IMAGE:-}
if [ -n "$IMAGE" ]; then
	# What the build half left for the judging (generated_n, *_broken).
	# shellcheck disable=SC1091
	. "$IMAGE/judging.sh" || { log "no $IMAGE/judging.sh: not an image of DAEDALUS_KUNIT_BUILD_ONLY"; finish 1; }
	BUILD=$IMAGE
	build_s=0
elif [ "${DAEDALUS_KUNIT_REUSE_EXPECTED:-0}" = 1 ] &&
	[ -d "$("$KERNEL_SH" builddir)/daedalus-expected" ]; then
	# The userspace logs of the run before (kunit-bites: every mutant is
	# judged against the same unmutated executor).
	generated_n=$(find "$("$KERNEL_SH" builddir)/daedalus-generated" -name '*.scn' | wc -l)
	log "differential: the userspace logs of the previous build, $generated_n generated scenario(s)"
else
	expected_logs "$("$KERNEL_SH" builddir)/daedalus-expected" \
		"$("$KERNEL_SH" builddir)/daedalus-generated"
fi
if [ -z "$IMAGE" ]; then
	t0=$SECONDS
	if ! BUILD=$("$KERNEL_SH" build); then
		log "test kernel build failed"
		finish 1
	fi
	build_s=$((SECONDS - t0))
fi
describe_suites
if [ "${DAEDALUS_KUNIT_BUILD_ONLY:-0}" = 1 ]; then
	img=$OUT/image
	rm -rf "$img"
	mkdir -p "$img/arch/x86/boot"
	cp "$BUILD/arch/x86/boot/bzImage" "$img/arch/x86/boot/bzImage" &&
		cp "$BUILD/.config" "$img/.config" || { log "could not copy the kernel image to $img"; finish 1; }
	printf 'generated_n=%s\ndifferential_broken=%s\ngenerate_broken=%s\n' \
		"$generated_n" "$differential_broken" "$generate_broken" >"$img/judging.sh"
	log "build ${build_s}s; image in $img"
	finish 0
fi

# SPLATS (the debug options' reports) and BROKEN_SCENARIO.
# shellcheck source=kmod/scripts/kunit-patterns.sh
. "$SCRIPT_DIR/kunit-patterns.sh"

# stop_at_report GRACE PATTERN: end the QEMU run GRACE seconds after the
# console's first line matching PATTERN (kunit.py sees the console end,
# as at a timeout).
stop_at_report() {
	local grace=$1 pattern=$2 kernel=$BUILD/arch/x86/boot/bzImage
	while sleep 1; do
		[ -e "$OUT/.exec-done" ] && return
		if grep -qE "$pattern" "$OUT/console.log" 2>/dev/null; then
			sleep "$grace"
			[ -e "$OUT/.exec-done" ] && return
			log "the console has '$(grep -m1 -oE "$pattern" "$OUT/console.log" | head -n1)'; ending the run ${grace}s later"
			pkill -f -- "qemu-system-.* -kernel $kernel " ||
				log "no QEMU process with -kernel $kernel to end: the run goes on to its timeout"
			return
		fi
	done
}

t1=$SECONDS
rm -f "$OUT/.exec-done"
watcher=
if [ "${DAEDALUS_KUNIT_STOP_AT_REPORT:-0}" -gt 0 ]; then
	stop_at_report "$DAEDALUS_KUNIT_STOP_AT_REPORT" "${DAEDALUS_KUNIT_STOP_PATTERN:-$SPLATS}" &
	watcher=$!
	trap 'kill "$watcher" 2>/dev/null' EXIT
fi
# --raw_output=all: the whole console, so splats outside KTAP are seen too.
# oops=panic, panic=-1: an oops (a BUG from DEBUG_LIST, say) may leave a
# lock held and hang every later test until the timeout; end the run at
# once instead, with the report on the console. Unbuffered, so the
# console is on disk as the kernel prints it.
PYTHONUNBUFFERED=1 "$KERNEL_SH" kunit-py exec --raw_output=all --timeout="${DAEDALUS_KUNIT_TIMEOUT:-300}" \
	--kernel_args=oops=panic --kernel_args=panic=-1 \
	"$FILTER" >"$OUT/console.log" 2>"$OUT/exec.err"
exec_rc=$?
touch "$OUT/.exec-done"
[ -z "$watcher" ] || wait "$watcher"
run_s=$((SECONDS - t1))
if [ ! -s "$OUT/console.log" ]; then
	cat "$OUT/exec.err" >&2
	log "no kernel output (kunit.py exec exited $exec_rc)"
	finish 1
fi

# kunit.py parses the KTAP (and crashes) into KernelCI-style JSON.
SRC=$("$KERNEL_SH" source)
python3 "$SRC/tools/testing/kunit/kunit.py" parse --json="$OUT/results.json" \
	"$OUT/console.log" >"$OUT/parse.txt" 2>&1
parse_rc=$?
sed -n '/Testing complete/,$p' "$OUT/parse.txt" >&2

read -r passed failed skipped suites < <(python3 - "$OUT/results.json" <<'EOF'
import json
import sys

counts = {"PASS": 0, "FAIL": 0, "SKIP": 0, "ERROR": 0}
suites = []

def walk(node, depth):
    if depth == 1:
        suites.append(node.get("name", "?"))
    for case in node.get("test_cases", []):
        status = case.get("status", "ERROR")
        counts[status if status in counts else "ERROR"] += 1
    for sub in node.get("sub_groups", []):
        walk(sub, depth + 1)

try:
    with open(sys.argv[1]) as f:
        walk(json.load(f), 0)
except (OSError, ValueError):
    counts["ERROR"] += 1
print(counts["PASS"], counts["FAIL"] + counts["ERROR"], counts["SKIP"],
      ",".join(suites) or "-")
EOF
)
log "suites run: $suites (skipped cases: $skipped)"

grep -nE "$SPLATS" "$OUT/console.log" >"$OUT/splats.txt"
splat_n=$(wc -l <"$OUT/splats.txt")

{
	echo "test kernel: $BUILD"
	echo "build/check: ${build_s}s, qemu run: ${run_s}s"
	echo "suites: $suites"
	echo "passed: $passed failed: $failed skipped: $skipped"
	echo "splat lines: $splat_n"
} >"$OUT/summary.txt"
log "build ${build_s}s (cached/incremental), QEMU run ${run_s}s"

rc=0
# Checks outside the suites count as cases of their own in the summary.

# Every suite, and every scenario under traces/: kmod/kunit/Makefile
# finds the scenarios through the in-tree symlink, and an empty (or
# short) list would pass every per-scenario check. The Rust suites print
# how many scenarios they ran ("daedalus_replay: N scenario(s), ...");
# that must be the number of *.scn files under traces/.
want_scn=$(find "$ROOT/traces" -name '*.scn' | wc -l)
count_fail() {
	log "$*"
	failed=$((failed + 1))
	rc=1
}
if [ "$FILTER" = 'daedalus_*' ]; then
	for s in daedalus_job daedalus_replay daedalus_replay_module; do
		case ",$suites," in *",$s,"*) ;; *) count_fail "suite $s did not run" ;; esac
	done
fi
for pair in 'daedalus_replay:scenario\(s\), [0-9]+ event' \
	'daedalus_replay_module:scenario\(s\) run on the module'; do
	s=${pair%%:*}
	case ",$suites," in *",$s,"*) ;; *) continue ;; esac
	n=$(grep -oE "daedalus_replay: [0-9]+ ${pair#*:}" "$OUT/console.log" | tail -n1 |
		grep -oE '[0-9]+' | head -n1)
	if [ -z "$n" ]; then
		count_fail "suite $s printed no scenario count (target/kunit/console.log)"
	elif [ "$n" -ne "$want_scn" ]; then
		count_fail "suite $s ran $n scenario(s); traces/ holds $want_scn *.scn"
	else
		log "suite $s ran all $n scenarios under traces/"
	fi
	echo "scenarios ($s): ${n:-none} of $want_scn" >>"$OUT/summary.txt"
done

if [ "$splat_n" -gt 0 ]; then
	log "kernel log has $splat_n report line(s) (target/kunit/splats.txt):"
	head -n 40 "$OUT/splats.txt" >&2
	failed=$((failed + 1))
	rc=1
fi
# A scenario the suite reported broken fails the stage by its line too,
# whatever the case's verdict (a mutant's run may end on that line).
broken_n=$(grep -cE "$BROKEN_SCENARIO" "$OUT/console.log")
if [ "$broken_n" -gt 0 ]; then
	log "the suite reported $broken_n broken scenario(s):"
	grep -m 10 -E "$BROKEN_SCENARIO" "$OUT/console.log" >&2
	failed=$((failed + 1))
	rc=1
fi
if [ "$differential_broken" -ne 0 ]; then
	log "the differential check had no userspace outcome logs to compare with"
	failed=$((failed + 1))
	rc=1
fi
if [ "$generate_broken" -ne 0 ]; then
	failed=$((failed + 1))
	rc=1
fi
# The differential fuzzing must have compared every scenario it generated,
# and at least its floor.
floor=$((DIFFFUZZ_N < 500 ? DIFFFUZZ_N : 500))
compared_gen=$(sed -nE 's/.*daedalus_replay: ([0-9]+) generated scenario\(s\) compared with the userspace executor.*/\1/p' \
	"$OUT/console.log" | tail -n1)
log "differential fuzzing: ${compared_gen:-0} of $generated_n generated scenario(s) compared on the kernel (floor $floor)"
if [ "${compared_gen:-0}" -lt "$floor" ] || [ "${compared_gen:-0}" -lt "$generated_n" ]; then
	log "differential fuzzing compared fewer generated scenarios than its floor or than it generated"
	failed=$((failed + 1))
	rc=1
fi
if [ "$failed" -gt 0 ] || [ "$parse_rc" -ne 0 ]; then
	log "failures (target/kunit/parse.txt):"
	grep -E 'FAILED|CRASHED|not ok|Expected|ERROR' "$OUT/parse.txt" | head -n 60 >&2
	rc=1
fi
if [ "$exec_rc" -ne 0 ] && [ "$rc" -eq 0 ]; then
	log "kunit.py exec exited $exec_rc"
	cat "$OUT/exec.err" >&2
	rc=1
fi
if [ "$suites" = - ] || [ $((passed + failed)) -eq 0 ]; then
	log "no daedalus suite ran (filter $FILTER)"
	rc=1
fi
finish "$rc"
