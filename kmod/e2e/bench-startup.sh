#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# How long a client takes to start in the e2e guest, with the guest's 9p
# root as virtme-ng mounts it (no cache) and as the e2e stage mounts it
# (cache=loose), side by side: two boots of the same kernel in one run,
# each timing ffmpeg, gst-launch-1.0 and v4l2-ctl three times in a row
# (guest.sh group_startup). Under TCG every client start pays for the
# libraries it maps; uncached, each start reads them all again.
#
# Prints a markdown table; same environment as run.sh.
set -uo pipefail

E2E_STAGE=bench-startup
# shellcheck source=kmod/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_tools && ensure_binaries && ensure_clips && ensure_kernel || exit 1
declare -A ns
for mode in uncached loose; do
	run=$OUT/bench-startup-$mode
	if [ "$mode" = uncached ]; then
		DAEDALUS_E2E_ROOTFLAGS= boot_guest "$run" startup
	else
		(unset DAEDALUS_E2E_ROOTFLAGS && boot_guest "$run" startup)
	fi
	if [ ! -f "$run/startup" ] || ! grep -q '^PASS startup-runs' "$run/results"; then
		e2e_log "the $mode guest did not produce a measurement (see $run/console.log)"
		exit 1
	fi
	for kv in $(cat "$run/startup"); do
		ns[$mode.${kv%%=*}]=${kv#*=}
	done
done

echo "| client start, guest root | vng's (uncached) | cache=loose |"
echo "|---|---|---|"
for c in ffmpeg gst-launch-1.0 v4l2-ctl; do
	for i in 1 2 3; do
		printf '| %s, start %d | %.1f s | %.1f s |\n' "$c" "$i" \
			"$(bc -l <<<"${ns[uncached.${c}_$i]} / 1000000000")" \
			"$(bc -l <<<"${ns[loose.${c}_$i]} / 1000000000")"
	done
done
echo "| root mount options | ${ns[uncached.rootflags]} | ${ns[loose.rootflags]} |"
