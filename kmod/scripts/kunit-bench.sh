#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`, the test kernel's part: how long its builds take and how
# long QEMU (TCG) takes to boot it and run the daedalus KUnit suites.
#   - cold build: the first build of the cached tree, as kernel.sh
#     recorded it (.daedalus-build-times in the build directory); with
#     DAEDALUS_BENCH_COLD=1 a fresh build into a scratch directory is timed
#     instead (about 10 minutes on 2 cores);
#   - incremental: kernel.sh build after touching the job core, then with
#     nothing changed;
#   - QEMU run: kunit.py exec of the daedalus suites, median of 3.
# Prints a markdown table.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KERNEL_SH=$ROOT/kmod/scripts/kernel.sh

log() { printf 'kunit-bench: %s\n' "$*" >&2; }

out=$("$KERNEL_SH" builddir) || exit 1
if [ "${DAEDALUS_BENCH_COLD:-0}" = 1 ]; then
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/daedalus-cold.XXXXXX")
	log "cold build into $scratch"
	t0=$SECONDS
	DAEDALUS_KERNEL_BUILD_DIR=$scratch "$KERNEL_SH" build >/dev/null || exit 1
	cold="$((SECONDS - t0)) s (timed now)"
	rm -rf "$scratch"
else
	"$KERNEL_SH" build >/dev/null || exit 1
	cold=$(awk '$2 == "cold" { print $3 " s (" $1 ")"; exit }' "$out/.daedalus-build-times" 2>/dev/null)
	[ -n "$cold" ] || cold="not recorded for this tree (DAEDALUS_BENCH_COLD=1 times one)"
fi

touch "$ROOT/kmod/daedalus_job.c"
t0=$SECONDS
"$KERNEL_SH" build >/dev/null || exit 1
touched=$((SECONDS - t0))
t0=$SECONDS
"$KERNEL_SH" build >/dev/null || exit 1
noop=$((SECONDS - t0))

runs=()
for _ in 1 2 3; do
	t0=$(date +%s.%N)
	"$KERNEL_SH" kunit-py exec --timeout=300 'daedalus_*' >/dev/null 2>&1 || {
		log "kunit.py exec failed"
		exit 1
	}
	runs+=("$(echo "$(date +%s.%N) - $t0" | bc)")
done
median=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p)

echo "| test kernel | time |"
echo "| --- | --- |"
echo "| cold build (Rust, KASAN, lockdep, kmemleak, media, virtme fragment) | $cold |"
echo "| incremental build, job core touched | $touched s |"
echo "| incremental build, nothing changed | $noop s |"
printf '| QEMU/TCG boot + daedalus suites (median of 3: %s s) | %.1f s |\n' \
	"$(printf '%.1f ' "${runs[@]}" | sed 's/ $//')" "$median"
