#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make record`: boot the e2e guest once for the short recording runs
# (guest.sh group `record`: v4l2-compliance, ffmpeg, GStreamer, two
# clients, close mid-stream, on the tiny and odd clips) and keep each
# recording that replays clean under traces/field/:
#
#   traces/field/<client>-<clip>-<scenario>.trace     tracefs text, as
#       recorded (daedalus:*, v4l2:*, vb2:*): what `daedalus-replay import`
#       reads
#   traces/field/<client>-<clip>-<scenario>.dat       the same buffer as
#       trace-cmd's trace.dat, for the recordings the guest extracts
#       (TRACE_DAT, default ffmpeg-tiny-decode)
#   traces/field/<client>-<clip>-<scenario>[-ctxN].scn   its import: what
#       `make run` and the KUnit replay suite run
#
# A recording that does not import, or does not replay clean on the
# userspace executor, is not stored (and fails the run). A trace under
# traces/field/ stays there forever: a recording whose name is taken is
# stored beside it with the date appended. Same environment as run.sh.
# Last line: `record: N stored, N failed`.
set -uo pipefail

E2E_STAGE=record
# shellcheck source=kmod/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FIELD=$ROOT/traces/field
stored=0
failed=0
finish() {
	echo "record: $stored stored, $failed failed"
	exit "$1"
}

ensure_tools && ensure_binaries && ensure_clips && ensure_kernel || finish 1
RUN=$OUT/record
boot_guest "$RUN" record
if [ ! -f "$RUN/finished" ]; then
	e2e_log "the guest did not finish (see $RUN/console.log)"
	failed=$((failed + 1))
fi
grep -nE "$SPLATS" "$RUN/console.log" >"$RUN/splats.txt"
if [ -s "$RUN/splats.txt" ]; then
	e2e_log "kernel reports in the guest log ($RUN/splats.txt): nothing stored"
	finish 1
fi
grep '^FAIL' "$RUN/results" >&2 && failed=$((failed + $(grep -c '^FAIL' "$RUN/results")))

# renumber SCN: context ids from 1 in order of appearance. The guest's ids
# count every open since boot (v4l2-compliance alone opens a hundred); the
# KUnit executor has contexts 1..8 only.
renumber() {
	awk '{
		out = ""; rest = $0
		while (match(rest, /ctx=[0-9]+/)) {
			id = substr(rest, RSTART + 4, RLENGTH - 4)
			if (!(id in map)) map[id] = ++n
			out = out substr(rest, 1, RSTART - 1) "ctx=" map[id]
			rest = substr(rest, RSTART + RLENGTH)
		}
		print out rest
	}' "$1"
}

mkdir -p "$FIELD"
for t in "$RUN"/traces/*.trace; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .trace)
	grep -q ' daedalus_' "$t" || continue
	dir=$RUN/scn/$name
	rm -rf "$dir"
	mkdir -p "$dir"
	if ! "$REPLAY" import "$t" --out "$dir" 2>"$dir/import.log" ||
		! "$REPLAY" check "$dir" >"$dir/check.log" 2>&1; then
		e2e_log "$name: does not replay clean ($dir), not stored"
		failed=$((failed + 1))
		continue
	fi
	# A field recording is a client decoding: one that ran no decode
	# job (the client gave up before streaming) records something else.
	if ! grep -q ' daedalus_device_run:' "$t"; then
		e2e_log "$name: no decode job ran in the recording, not stored"
		failed=$((failed + 1))
		continue
	fi
	if ! ls "$dir"/ctx*.scn >/dev/null 2>&1; then
		e2e_log "$name: no decoder context in the trace, not stored"
		failed=$((failed + 1))
		continue
	fi
	if [ -e "$FIELD/$name.trace" ]; then
		name=$name-$(date -u +%Y%m%d)
		rm -f "$FIELD/$name".trace "$FIELD/$name".dat "$FIELD/$name".scn \
			"$FIELD/$name"-ctx*.scn
	fi
	cp "$t" "$FIELD/$name.trace"
	# The same buffer as trace-cmd's trace.dat, when the guest kept one,
	# without kernel pointers (docs/recording.md).
	dat=${t%.trace}.dat
	if [ -f "$dat" ] && ! "$REPLAY" scrub "$dat" -o "$FIELD/$name.dat"; then
		e2e_log "$name: trace.dat not scrubbed, not stored"
		rm -f "$FIELD/$name.dat"
		failed=$((failed + 1))
	fi
	set -- "$dir"/ctx*.scn
	if [ $# -eq 1 ]; then
		renumber "$1" >"$FIELD/$name.scn"
	else
		for s in "$@"; do
			renumber "$s" >"$FIELD/$name-$(basename "$s")"
		done
	fi
	if ! "$REPLAY" check "$FIELD/$name"*.scn >/dev/null 2>&1; then
		e2e_log "$name: renumbered scenario does not replay clean"
		failed=$((failed + 1))
		continue
	fi
	e2e_log "stored $name ($(tail -n1 "$dir/check.log"))"
	stored=$((stored + 1))
done
[ "$failed" -eq 0 ]
finish $?
