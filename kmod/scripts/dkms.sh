#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Stage "dkms": the DKMS package builds. The sources are laid out as DKMS
# expects (daedalus-<version>/ with dkms.conf) in a private source tree and
# a private dkms tree, so the host's /usr/src and /var/lib/dkms are never
# touched, then `dkms add` and `dkms build` run against a kernel tree: the
# running kernel's headers if installed, else the 7.3 x86_64 tree kernel.sh
# prepares. With dkms missing or no usable tree the stage cannot run: it
# fails under CI=true, and elsewhere says SKIP without counting a pass
# (lib.sh's cannot_run).
#
#   kmod/scripts/dkms.sh
#
# Last line: "dkms: N passed, N failed".
set -uo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

command -v dkms >/dev/null || cannot_run dkms "dkms is not installed (apt-get install dkms)"

NAME=$(sed -n 's/^PACKAGE_NAME="\(.*\)"/\1/p' "$KMOD_DIR/dkms.conf")
VERSION=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$KMOD_DIR/dkms.conf")
if [ -n "$NAME" ] && [ -n "$VERSION" ]; then
	pass "dkms.conf names $NAME $VERSION"
else
	fail "dkms.conf has no PACKAGE_NAME/PACKAGE_VERSION"
	summary dkms
	exit 1
fi

kdir=/lib/modules/$(uname -r)/build
tree_ver=
if [ ! -f "$kdir/Makefile" ]; then
	mkdir -p "$CACHE/logs"
	tree_ver=7.3
	kdir=$("$KERNEL_SH" prepare "$tree_ver" x86_64 2>"$CACHE/logs/dkms-prepare.log") ||
		cannot_run dkms "no kernel tree: no headers for $(uname -r) and kernel.sh prepare failed ($CACHE/logs/dkms-prepare.log)"
fi
kver=$(cat "$kdir/include/config/kernel.release" 2>/dev/null) ||
	cannot_run dkms "kernel tree $kdir has no include/config/kernel.release"

work=$(mktemp -d "${TMPDIR:-/tmp}/daedalus-dkms.XXXXXX")
trap 'rm -rf "$work"' EXIT
srctree=$work/src
dkmstree=$work/dkms
pkg=$srctree/$NAME-$VERSION
mkdir -p "$pkg" "$dkmstree"
sync_sources "$pkg"
cp -p "$KMOD_DIR/dkms.conf" "$KMOD_DIR/dkms-make.sh" "$pkg/"
opts=(-m "$NAME" -v "$VERSION" --sourcetree "$srctree" --dkmstree "$dkmstree")

if dkms add "${opts[@]}" >"$work/add.log" 2>&1; then
	pass "dkms add"
else
	fail "dkms add"
	sed 's/^/    /' "$work/add.log"
fi

if dkms build "${opts[@]}" -k "$kver" --kernelsourcedir "$kdir" \
	>"$work/build.log" 2>&1; then
	pass "dkms build for $kver"
else
	fail "dkms build for $kver"
	sed 's/^/    /' "$work/build.log" | tail -n 30
	find "$dkmstree" -name make.log -exec tail -n 30 {} \; | sed 's/^/    /'
fi

# modpost: with the tree's Module.symvers it checks every import itself
# (dkms-make.sh sets no KBUILD_MODPOST_WARN then) and warns of nothing;
# without one (kernel.sh's prepared tree) it can only warn that every
# import is undefined, so the imports are checked against the exports of
# the tree's source, as kmod and kmod-compat do (lib.sh check_imports).
# dkms keeps the module (uncompressed here: the prepared tree does not
# compress modules) and the build's make.log under KVER/ARCH.
built=$(find "$dkmstree/$NAME/$VERSION/$kver" -path '*/module/daedalus_v4l2.ko' 2>/dev/null | head -n1)
makelog=$(find "$dkmstree/$NAME/$VERSION/$kver" -path '*/log/make.log' 2>/dev/null | head -n1)
if [ -n "$built" ] && [ -n "$makelog" ]; then
	bad=$(modpost_warnings "$makelog")
	if [ -f "$kdir/Module.symvers" ]; then
		how="modpost against $kdir/Module.symvers"
	elif [ -n "$tree_ver" ] && table=$(export_table "$tree_ver" 2>/dev/null); then
		how="imports against linux-source-$tree_ver's exports"
		bad=$(printf '%s\n' "$bad" "$(check_imports "$built" "$table")" | sed '/^$/d')
	else
		how=
	fi
	if [ -z "$how" ]; then
		cannot_check "imports: $kdir has no Module.symvers and no source tree to check them against"
	elif [ -z "$bad" ]; then
		pass "no modpost warning; $how"
	else
		fail "modpost warnings or imports ($how)"
		printf '%s\n' "$bad" | sed 's/^/    /'
	fi
else
	fail "modpost and imports: no uncompressed daedalus_v4l2.ko and make.log in the dkms tree"
fi

ko=$(find "$dkmstree/$NAME/$VERSION/$kver" -name 'daedalus_v4l2.ko*' 2>/dev/null | head -n1)
if [ -n "$ko" ] && modinfo "$ko" | grep -q "^vermagic: *$kver "; then
	pass "built module has vermagic $kver"
else
	fail "no daedalus_v4l2.ko for $kver in the dkms tree"
fi

status=$(dkms status "${opts[@]}" -k "$kver" 2>/dev/null)
if printf '%s' "$status" | grep -q 'built'; then
	pass "dkms status: $status"
else
	fail "dkms status: ${status:-empty}"
fi

rules=$KMOD_DIR/udev/60-daedalus.rules
if grep -q '^KERNEL=="daedalus", SUBSYSTEM=="misc"' "$rules" &&
	! grep -vE '^(#|$)' "$rules" | grep -vqE '^[A-Z]+(\{[a-z_]+\})?(==|\+=|=)"[^"]*"(, [A-Z_]+(\{[a-z_]+\})?(==|\+=|=)"[^"]*")*$'; then
	pass "udev rule names /dev/daedalus and parses"
else
	fail "udev rule $rules"
fi

summary dkms
