#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Stage "kmod-compat": daedalus_v4l2.ko must build with W=1 and no warning
# against every tree users run: Debian's linux-source-6.12 and 7.x, for
# x86_64 and arm64 (Raspberry Pi 5 / CM5), each with clang (LLVM=-19, which
# cross-compiles arm64 itself) and with Debian's gcc (native x86_64, and
# the gcc-aarch64-linux-gnu cross compiler for arm64), since DKMS builds
# with whatever compiled the user's kernel. Trees come from kernel.sh
# (configured and modules_prepare'd once per toolchain, cached); each is
# built with the toolchain it was prepared with.
#
#   kmod/scripts/compat.sh [VERSION...]      default: 6.12 7.3
#
# Last line: "kmod-compat: N passed, N failed".
set -uo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

VERSIONS=("$@")
[ ${#VERSIONS[@]} -gt 0 ] || VERSIONS=(6.12 7.3)
ARCHES=(x86_64 arm64 x86_64-gcc arm64-gcc)
LOGDIR=$CACHE/logs
mkdir -p "$LOGDIR"

for ver in "${VERSIONS[@]}"; do
	for arch in "${ARCHES[@]}"; do
		log=$LOGDIR/kmod-compat-$ver-$arch.log
		t0=$SECONDS
		# A cold tree is minutes of modules_prepare with its output in
		# $log.prepare: progress on stderr meanwhile (lib.sh ticker_start).
		ticker_start "kmod-compat: $ver $arch" \
			"$CACHE/build/prepare-$ver-$arch:$CACHE/kmod-build/$ver-$arch" \
			"$log.prepare" "$log"
		build_module "$ver" "$arch" "$log"
		rc=$?
		ticker_stop
		dt=$((SECONDS - t0))
		case $rc in
		0)
			pass "$ver $arch W=1 clean (${dt}s)"
			;;
		1)
			fail "$ver $arch (log: $log)"
			real_warnings "$log" | head -n 40 | sed 's/^/    /'
			;;
		*)
			fail "$ver $arch: tree not available (log: $log.prepare)"
			tail -n 20 "$log.prepare" | sed 's/^/    /'
			;;
		esac
		if [ "$rc" = 0 ]; then
			ko=$CACHE/kmod-build/$ver-$arch/daedalus_v4l2.ko
			want=X86-64
			[ "${arch%-gcc}" = arm64 ] && want=AArch64
			machine=$(readelf -h "$ko" 2>/dev/null | sed -n 's/^ *Machine: *//p')
			if printf '%s' "$machine" | grep -q "$want"; then
				pass "$ver $arch object is $want"
			else
				fail "$ver $arch object is '${machine:-unreadable}'"
			fi
		fi
	done
done

summary kmod-compat
