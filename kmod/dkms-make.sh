#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# dkms-make.sh KERNEL_SOURCE_DIR [ARCH]: the MAKE command of dkms.conf.
# Builds with the compiler the kernel was built with: gcc (Debian's
# kernels), or clang/LLVM when the tree's config says so, preferring the
# clang-N that matches the kernel's CONFIG_CLANG_VERSION. A tree without a
# Module.symvers (modules_prepare only) gets modpost's unresolved symbols as
# warnings rather than errors: the dkms stage then checks the module's
# imports against the tree's source (kmod/scripts/lib.sh, check_imports).
set -euo pipefail

kdir=${1:?usage: dkms-make.sh KERNEL_SOURCE_DIR [ARCH]}
arch=${2:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
args=(-C "$kdir" M="$here")

config=$kdir/.config
[ -f "$config" ] || config=$kdir/include/config/auto.conf
if grep -q '^CONFIG_CC_IS_CLANG=y' "$config" 2>/dev/null; then
	ver=$(sed -n 's/^CONFIG_CLANG_VERSION=\([0-9]*\)/\1/p' "$config")
	major=$((ver / 10000))
	if command -v "clang-$major" >/dev/null; then
		args+=(LLVM=-"$major")
	else
		args+=(LLVM=1)
	fi
fi
case "$arch" in
aarch64 | arm64) args+=(ARCH=arm64) ;;
esac
[ -f "$kdir/Module.symvers" ] || args+=(KBUILD_MODPOST_WARN=1)

exec make "${args[@]}" -j"$(nproc)" modules
