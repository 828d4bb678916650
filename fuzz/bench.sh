#!/usr/bin/env bash
# Fuzzing benchmark, printed as markdown:
#  1. time for `orderings` to find each job-core mutant of
#     replay/mutants/ (the re-introduced field bug first) from an empty
#     corpus and its dictionary: median and range over 5 seeds, one core
#     each;
#  2. exec/s of every target on the real code, from its seed corpus.
# Environment: BENCH_SEEDS (default "1 2 3 4 5"), BENCH_LIMIT (seconds
# before a hunt counts as not found, default 60), BENCH_SECONDS (exec/s
# run per target, default 10), BENCH_MUTANTS (default field-bug and every
# other patch).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$here"
export CC="$here/cc-instrument.sh"
seeds=${BENCH_SEEDS:-"1 2 3 4 5"}
limit=${BENCH_LIMIT:-60}
secs=${BENCH_SECONDS:-10}
mutants=${BENCH_MUTANTS:-"field-bug $(ls "$root/replay/mutants" | sed -n 's/\.patch$//p' | grep -vx field-bug | tr '\n' ' ')"}
targets="orderings kmod_messages daemon_protocol scenario_text trace_import bitstream"

# As fuzz/run.sh builds them: the scenario targets without comparison
# tracing on their Rust side, in a target directory of their own.
build() {
	cargo +nightly fuzz build -O -s address || return 1
	for t in orderings kmod_messages; do
		cargo +nightly fuzz build -O -s address --no-trace-compares \
			--target-dir "$here/target/no-cmp" "$t" || return 1
	done
}
if ! build >/dev/null 2>&1; then
	echo "bench: cargo +nightly fuzz build failed" >&2
	exit 1
fi
bin="$here/target/no-cmp/x86_64-unknown-linux-gnu/release"
bin_for() {
	case $1 in
	orderings | kmod_messages) echo "$bin" ;;
	*) echo "$here/target/x86_64-unknown-linux-gnu/release" ;;
	esac
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A hunt starts from an empty corpus, with the dictionary fuzz/run.sh
# gives the target (one operation an entry).
hunt_dict=()
[ -f dict/orderings.dict ] && hunt_dict=(-dict=dict/orderings.dict)

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

echo "## orderings: time to find a job-core mutant from an empty corpus"
echo
echo "| mutant | invariant | median s | min s | max s | median execs | found |"
echo "|---|---|---|---|---|---|---|"
for m in $mutants; do
	: >"$work/times"
	: >"$work/execs"
	found=0
	inv=-
	for s in $seeds; do
		rm -rf "$work/corpus" "$work/art" && mkdir -p "$work/corpus" "$work/art"
		t0=$(date +%s.%N)
		DAEDALUS_FUZZ_CORE=$m "$bin/orderings" "$work/corpus" -seed="$s" -max_len=4096 \
			-max_total_time="$limit" -artifact_prefix="$work/art/" -print_final_stats=1 \
			"${hunt_dict[@]}" >"$work/log" 2>&1
		t1=$(date +%s.%N)
		if ls "$work/art" | grep -q '^crash-'; then
			found=$((found + 1))
			echo "$t1 - $t0" | bc -l >>"$work/times"
			sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$work/log" >>"$work/execs"
			inv=$(sed -nE 's/^orderings: invariant ([a-z-]+) broken/\1/p' "$work/log" | head -n 1)
		fi
	done
	if [ "$found" -gt 0 ]; then
		printf '| %s | %s | %.2f | %.2f | %.2f | %s | %s/%s |\n' "$m" "$inv" \
			"$(median <"$work/times")" "$(sort -g "$work/times" | head -n 1)" \
			"$(sort -g "$work/times" | tail -n 1)" "$(median <"$work/execs")" \
			"$found" "$(echo "$seeds" | wc -w)"
	else
		printf '| %s | - | not found in %ss | | | | 0/%s |\n' "$m" "$limit" "$(echo "$seeds" | wc -w)"
	fi
done

echo
echo "## exec/s per target (real code, seed corpus, ${secs} s, one core)"
echo
echo "| target | execs | exec/s | coverage (cov) | stopped by a crash |"
echo "|---|---|---|---|---|"
for t in $targets; do
	rm -rf "$work/corpus" "$work/art" && mkdir -p "$work/corpus" "$work/art"
	cp -r "seeds/$t/." "$work/corpus/" 2>/dev/null
	d=()
	[ -f "dict/$t.dict" ] && d=(-dict="dict/$t.dict")
	to=30
	[ "$t" = bitstream ] && to=0
	"$(bin_for "$t")/$t" "$work/corpus" -max_total_time="$secs" -timeout="$to" -rss_limit_mb=2048 \
		-artifact_prefix="$work/art/" -print_final_stats=1 "${d[@]}" >"$work/log" 2>&1
	n=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$work/log")
	r=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$work/log")
	c=$(grep -oE 'cov: [0-9]+' "$work/log" | tail -n 1 | cut -d' ' -f2)
	crash=no
	if ls "$work/art" | grep -q .; then
		crash="yes: $(grep -m1 -E 'panicked at|ERROR: AddressSanitizer' -A1 "$work/log" | tail -n 1 | cut -c1-80)"
	fi
	echo "| $t | ${n:--} | ${r:--} | ${c:--} | $crash |"
done
