#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Proof that the kunit stage bites: build the test kernel with one of the
# replay crate's mutants (replay/mutants/NAME.patch, a re-introduced
# lifecycle bug) applied to a copy of kmod/, run the stage, and require
# that it fails with the kernel's own report or a failed KUnit case
# matching PATTERN.
#
#   kunit-mutant.sh NAME [PATTERN]   default PATTERN: the kernel's list
#                                    corruption, lockdep or WARN/BUG report,
#                                    a failed case (`not ok`), or the line
#                                    a scenario that broke prints (its case
#                                    fails for it: `traces/NAME: what
#                                    (after line N)`)
#   kunit-mutant.sh --build NAME     only build NAME's kernel; its image is
#                                    kept in target/kunit-mutant/NAME/image
#   kunit-mutant.sh --run NAME [PATTERN]
#                                    only boot that image and judge
# (kunit-bites.sh builds the next mutant while the previous one boots.)
#
# The run skips the differential fuzzing's generated scenarios (the traces
# are what the mutants are judged on) and gives QEMU
# DAEDALUS_KUNIT_TIMEOUT seconds (default 90). It ends 5 seconds after the
# console's first line matching PATTERN (DAEDALUS_KUNIT_STOP_AT_REPORT):
# a mutant that deadlocks is caught by lockdep's report, not by the
# timeout, and one that breaks a scenario by that scenario's line, not by
# the case's `not ok` once every other trace has run.
#
# The copy lives under $DAEDALUS_CACHE/mutants/NAME and is laid out like a
# clone (replay/ and traces/ are symlinks to this one), so the in-tree
# symlink points at it for this build only (the run boots a copy of the
# image, while the symlink may already point at the next mutant); the
# next kunit.sh build points it back. Only the module's objects rebuild
# either way.
# Last line: `kunit-mutant: N passed, N failed` (1 passed: caught).
set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KMOD_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
ROOT=$(cd "$KMOD_DIR/.." && pwd)
CACHE=${DAEDALUS_CACHE:-$HOME/.cache/daedalus}
PHASES="build run"
case "${1:-}" in
--build) PHASES=build; shift ;;
--run) PHASES=run; shift ;;
esac
NAME=${1:?usage: kunit-mutant.sh [--build|--run] NAME [PATTERN]}
# shellcheck source=kmod/scripts/kunit-patterns.sh
. "$SCRIPT_DIR/kunit-patterns.sh"
PATTERN=${2:-"list_(add|del) corruption|possible recursive locking|BUG: |WARNING: |^ *not ok |$BROKEN_SCENARIO"}
PATCH=$ROOT/replay/mutants/$NAME.patch

log() { printf 'kunit-mutant: %s\n' "$*" >&2; }
verdict() {
	if [ "$1" = caught ]; then
		echo "kunit-mutant: 1 passed, 0 failed"
		exit 0
	fi
	echo "kunit-mutant: 0 passed, 1 failed"
	exit 1
}

out=$ROOT/target/kunit-mutant/$NAME
# The scenario executor is where a field bug shows; one suite keeps a
# crashed test from holding up the others.
export DAEDALUS_DIFFFUZZ_N=0 DAEDALUS_DIFFFUZZ_CORPUS_SAMPLE=0 \
	DAEDALUS_KUNIT_TIMEOUT=${DAEDALUS_KUNIT_TIMEOUT:-90} \
	DAEDALUS_KUNIT_STOP_AT_REPORT=${DAEDALUS_KUNIT_STOP_AT_REPORT:-5} \
	DAEDALUS_KUNIT_STOP_PATTERN=$PATTERN \
	DAEDALUS_KUNIT_OUT=$out \
	DAEDALUS_KUNIT_FILTER=${DAEDALUS_KUNIT_FILTER:-daedalus_replay_module}

if [[ " $PHASES " == *" build "* ]]; then
	[ -f "$PATCH" ] || { log "no mutant $PATCH"; verdict missed; }
	dir=$CACHE/mutants/$NAME
	rm -rf "$dir"
	mkdir -p "$dir"
	rsync -a --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' \
		--exclude='*.mod*' --exclude=Module.symvers --exclude=modules.order \
		"$KMOD_DIR/" "$dir/kmod/"
	ln -s "$ROOT/replay" "$dir/replay"
	ln -s "$ROOT/traces" "$dir/traces"
	if ! (cd "$dir" && patch -s -p1 <"$PATCH"); then
		log "$NAME.patch does not apply to this kmod/"
		verdict missed
	fi
	mkdir -p "$out"
	if ! DAEDALUS_KUNIT_BUILD_ONLY=1 DAEDALUS_KMOD_LINK=$dir/kmod \
		bash "$SCRIPT_DIR/kunit.sh" >"$out.build.log" 2>&1; then
		tail -n 5 "$out.build.log" >&2
		log "$NAME: the kernel did not build ($out.build.log)"
		verdict missed
	fi
	[[ " $PHASES " == *" run "* ]] || exit 0
fi

[ -f "$out/image/judging.sh" ] || { log "no image of $NAME: run kunit-mutant.sh --build $NAME first"; verdict missed; }
DAEDALUS_KUNIT_IMAGE=$out/image bash "$SCRIPT_DIR/kunit.sh" >"$out.log" 2>&1
rc=$?
tail -n 1 "$out.log" >&2
rm -rf "$out/image"
if [ "$rc" -ne 0 ] && grep -qE "$PATTERN" "$out/console.log" 2>/dev/null; then
	log "$NAME caught: $(grep -m1 -E "$PATTERN" "$out/console.log")"
	verdict caught
fi
log "$NAME not caught by '$PATTERN' (stage exit $rc; $out.log)"
verdict missed
