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
# scenarios than traces/ holds *.scn files, or when the kernel log holds
# a KASAN, lockdep, list-debug, debug-objects, kmemleak, UBSAN, BUG or
# WARN report, even if every test said ok.
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

# The userspace executor's outcome logs (its job-core records), for
# the differential check built into daedalus_replay. Rewritten only when
# they change, so an unchanged set does not rebuild the suite.
expected_logs() {
	local dir=$1 tmp rel
	tmp=$(mktemp -d)
	if ! (cd "$ROOT" && cargo build -q -p daedalus-replay) >"$OUT/replay-build.log" 2>&1; then
		log "differential: daedalus-replay does not build (target/kunit/replay-build.log); no outcome logs"
		rm -rf "$tmp" "$dir"
		differential_broken=1
		return
	fi
	# --trace-log: the records both executors observe: job-core
	# tracepoints and V4L2 events (.log), then the requests queued for the
	# daemon and each event's errno or DQBUF result (.io).
	(cd "$ROOT" && target/debug/daedalus-replay check --trace-log traces) \
		>"$OUT/replay-check.txt" 2>&1
	awk -v dir="$tmp" '
		/^== traces\// { f = dir "/" substr($2, 8) ".log"; n = split(f, p, "/");
			d = substr(f, 1, length(f) - length(p[n]) - 1);
			io = substr(f, 1, length(f) - 4) ".io";
			system("mkdir -p \"" d "\""); printf "" > f; printf "" > io; next }
		/^$/ { f = ""; next }
		f && /^(device_run|claim|park|buf_done|job_finish|reject|event) / { print > f }
		f && /^(request |[0-9]+: )/ { print > io }
	' "$OUT/replay-check.txt"
	mkdir -p "$dir"
	(cd "$tmp" && find . -name '*.log' -o -name '*.io') | while read -r rel; do
		mkdir -p "$dir/$(dirname "$rel")"
		cmp -s "$tmp/$rel" "$dir/$rel" || cp "$tmp/$rel" "$dir/$rel"
	done
	(cd "$dir" && find . -name '*.log' -o -name '*.io') | while read -r rel; do
		[ -f "$tmp/$rel" ] || rm -f "$dir/$rel"
	done
	log "differential: $(find "$dir" -name '*.log' | wc -l) userspace outcome log(s) in $dir"
	rm -rf "$tmp"
}

differential_broken=0
expected_logs "$("$KERNEL_SH" builddir)/daedalus-expected"

t0=$SECONDS
if ! BUILD=$("$KERNEL_SH" build); then
	log "test kernel build failed"
	finish 1
fi
build_s=$((SECONDS - t0))
describe_suites

t1=$SECONDS
# --raw_output=all: the whole console, so splats outside KTAP are seen too.
# oops=panic, panic=-1: an oops (a BUG from DEBUG_LIST, say) may leave a
# lock held and hang every later test until the timeout; end the run at
# once instead, with the report on the console.
"$KERNEL_SH" kunit-py exec --raw_output=all --timeout=300 \
	--kernel_args=oops=panic --kernel_args=panic=-1 \
	"$FILTER" >"$OUT/console.log" 2>"$OUT/exec.err"
exec_rc=$?
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

# Reports the debug options print; any of them fails the run.
SPLATS='BUG: |WARNING: |DEBUG_LOCKS_WARN_ON|INFO: (possible|trying to register)|list_(add|del) corruption|kernel BUG at|Oops|ODEBUG:|kmemleak: .*suspected|unreferenced object|UBSAN:|Kernel panic|refcount_t:|general protection fault|cut here|in active state'
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
if [ "$differential_broken" -ne 0 ]; then
	log "the differential check had no userspace outcome logs to compare with"
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
