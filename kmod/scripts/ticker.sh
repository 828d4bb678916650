#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# A progress line every PERIOD seconds (default 30) for a long build whose
# own output is silent or goes to a file, so a log read by CI or a person
# is never quiet for minutes: the time so far, the objects built so far
# under DIR (directories separated by ':'), the last line of the newest
# LOG.
#
#   ticker.sh PID LABEL [DIR [LOG...]]     (PERIOD: DAEDALUS_TICK_SECONDS)
#
# Prints on stdout (callers send it to stderr) until killed, or until
# process PID (the build's script) is gone, so an orphan never holds a
# pipe open. Callers start it only when their stderr is not a terminal.
set -u

pid=${1:?usage: ticker.sh PID LABEL [DIR [LOG...]]}
label=${2:?usage: ticker.sh PID LABEL [DIR [LOG...]]}
dir=${3:-}
shift 2
[ $# -gt 0 ] && shift
period=${DAEDALUS_TICK_SECONDS:-30}
start=$SECONDS
marker=$(mktemp)
trap 'rm -f "$marker"' EXIT
trap 'exit 0' TERM INT

while kill -0 "$pid" 2>/dev/null; do
	# Short sleeps: the ticker ends soon after the build's script does.
	for _ in $(seq "$period"); do
		sleep 1
		kill -0 "$pid" 2>/dev/null || exit 0
	done
	line="$label: $((SECONDS - start)) s"
	if [ -n "$dir" ]; then
		IFS=: read -ra dirs <<<"$dir"
		line+=", $(find "${dirs[@]}" -name '*.o' -newer "$marker" 2>/dev/null | wc -l) objects built"
	fi
	newest=
	for f in "$@"; do
		[ -s "$f" ] || continue
		if [ -z "$newest" ] || [ "$f" -nt "$newest" ]; then newest=$f; fi
	done
	if [ -n "$newest" ]; then
		line+=", last: $(tail -n 1 "$newest" | cut -c1-160)"
	fi
	printf '%s\n' "$line"
done
