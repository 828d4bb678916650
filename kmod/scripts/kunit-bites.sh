#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Stage `kunit-bites`: proof that the kunit stage bites. Each mutant of
# replay/mutants/ (every one patches the module's own job core, dispatcher
# or front) built into the test kernel must end in the kernel's own report
# (the field bug's list corruption, lockdep, a WARN) or a failed KUnit
# case (kunit-mutant.sh); one that survives fails the stage.
#
# A pipeline of two: while one mutant's kernel boots under QEMU, the next
# one's builds (each half mostly keeps one core busy). The kernel build
# dir is shared, so builds stay one at a time, and each run boots a copy
# of its image. The next kernel.sh build points the tree back at the real
# module.
#
#   kunit-bites.sh [NAME...]    default: every replay/mutants/*.patch
#
# Logs: target/stages/kunit-bites-NAME.log (the verdict),
# target/kunit-mutant/NAME{.build.log,.log,/console.log}.
# Last line: `kunit-bites: N passed, N failed`.
set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
LOGS=$ROOT/target/stages
mkdir -p "$LOGS"

# Each name once: two runs of one mutant would share its files.
mapfile -t names < <(printf '%s\n' "$@" | awk 'NF && !seen[$0]++')
if [ ${#names[@]} -eq 0 ]; then
	for p in "$ROOT"/replay/mutants/*.patch; do
		[ -f "$p" ] && names+=("$(basename "$p" .patch)")
	done
fi
if [ ${#names[@]} -eq 0 ]; then
	echo "kunit-bites: no mutants under replay/mutants/"
	echo "kunit-bites: 0 passed, 1 failed"
	exit 1
fi

passed=0
failed=0
# judge NAME: the verdict of NAME's run (its log holds the phases' lines).
judge() {
	local log=$LOGS/kunit-bites-$1.log
	grep -Ev '^kunit(-mutant)?: [0-9]+ passed' "$log"
	if grep -q '^kunit-mutant: 1 passed, 0 failed' "$log"; then
		passed=$((passed + 1))
		echo "kunit-bites: $1 caught"
	else
		failed=$((failed + 1))
		echo "kunit-bites: $1 NOT caught (target/kunit-mutant/$1.log)"
	fi
}

t0=$SECONDS
running=
running_pid=
reuse=0
for m in "${names[@]}"; do
	log=$LOGS/kunit-bites-$m.log
	: >"$log"
	# Build this one while the previous one boots; the userspace logs the
	# mutants are judged against are made once, by the first build.
	if DAEDALUS_KUNIT_REUSE_EXPECTED=$reuse \
		bash "$SCRIPT_DIR/kunit-mutant.sh" --build "$m" >>"$log" 2>&1; then
		built=1
		reuse=1
	else
		built=0
	fi
	if [ -n "$running" ]; then
		wait "$running_pid"
		judge "$running"
		running=
	fi
	if [ "$built" -eq 1 ]; then
		bash "$SCRIPT_DIR/kunit-mutant.sh" --run "$m" >>"$log" 2>&1 &
		running=$m
		running_pid=$!
	else
		judge "$m"
	fi
done
if [ -n "$running" ]; then
	wait "$running_pid"
	judge "$running"
fi
echo "kunit-bites: ${#names[@]} mutant(s) in $((SECONDS - t0)) s"
echo "kunit-bites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
