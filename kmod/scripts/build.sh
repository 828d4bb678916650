#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Stage "kmod": build daedalus_v4l2.ko with W=1 against the 7.3 x86_64 tree
# (kernel.sh prepares it), fail on any warning; run sparse over the module
# against 6.12, fail on any warning in its files; run the tree's
# checkpatch.pl on every source file of the module, fail on any error;
# require a silent kernel-doc -Wall; check the job
# core's include list is the one its header comment promises (the replay
# tools compile it in userspace against mirrors of exactly those headers).
#
#   kmod/scripts/build.sh [VERSION]      default 7.3
#
# Last line: "kmod: N passed, N failed".
set -uo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

VERSION=${1:-7.3}
LOGDIR=$CACHE/logs
mkdir -p "$LOGDIR"

# 1. The module, W=1, no warnings.
log=$LOGDIR/kmod-build-$VERSION-x86_64.log
build_module "$VERSION" x86_64 "$log"
case $? in
0) pass "build $VERSION x86_64 W=1 clean" ;;
1)
	fail "build $VERSION x86_64 W=1 (log: $log)"
	real_warnings "$log" | head -n 40
	;;
*)
	fail "kernel tree $VERSION x86_64 not available (log: $log.prepare)"
	tail -n 20 "$log.prepare"
	;;
esac

# 1b. sparse (kbuild C=2) on every .c of the module, against 6.12 x86_64:
#     the sparse Debian ships (0.6.4) cannot read 7.x headers (they need
#     __typeof_unqual__: kbuild says so and turns C= off), and in 7.x
#     __acquires() and the other lock annotations are Clang's context
#     analysis, which sparse does not see. On 6.12 it checks address
#     spaces, byte order (__le32 and the like) and lock contexts: spinlocks,
#     and the mutex hand-offs the module names with __acquire()/__release().
#     Any warning or error in the module's own files fails the check.
SPARSE_VERSION=6.12
log=$LOGDIR/kmod-sparse-$SPARSE_VERSION-x86_64.log
if ! command -v sparse >/dev/null; then
	cannot_check "sparse: not installed (make setup installs it)"
else
	sparse_module "$SPARSE_VERSION" x86_64 "$log"
	rc=$?
	out=$(sparse_dir "$SPARSE_VERSION" x86_64)
	# Diagnostics are "FILE:LINE:COL: warning: ..." (continuation lines
	# carry the same position); the module's files are those in $out.
	ours=$(awk -v dir="$out/" 'index($0, dir) == 1 &&
		substr($0, length(dir) + 1) ~ /^[^\/:]+:[0-9]+:[0-9]+: /' "$log" 2>/dev/null)
	n=$(printf '%s\n' "$ours" | grep -cE ':[0-9]+:[0-9]+: (warning|error):')
	others=$(grep -E '^[^ ]+:[0-9]+:[0-9]+: ' "$log" 2>/dev/null | grep -vF "$out/")
	srcs=("$KMOD_DIR"/*.c)
	srcs=("${srcs[@]##*/}")
	unchecked=
	for f in "${srcs[@]}"; do
		grep -qxE " +CHECK +$out/$f" "$log" 2>/dev/null || unchecked+=" $f"
	done
	if [ "$rc" = 2 ]; then
		fail "sparse: kernel tree $SPARSE_VERSION x86_64 not available (log: $log.prepare)"
		tail -n 20 "$log.prepare" | sed 's/^/    /'
	elif [ "$rc" != 0 ]; then
		fail "sparse $SPARSE_VERSION x86_64: the module did not build (log: $log.build)"
		{ real_warnings "$log.build"; tail -n 5 "$log"; } | head -n 40 | sed 's/^/    /'
	elif grep -q 'specified, but .* is not available or not up to date' "$log"; then
		fail "sparse $SPARSE_VERSION x86_64: kbuild did not run it (log: $log)"
		grep 'not available or not up to date' "$log" | sed 's/^/    /'
	elif [ -n "$unchecked" ]; then
		fail "sparse $SPARSE_VERSION x86_64: did not check$unchecked (log: $log)"
	elif [ "$n" != 0 ]; then
		w=warnings
		[ "$n" = 1 ] && w=warning
		fail "sparse $SPARSE_VERSION x86_64: $n $w in the module's files (log: $log)"
		printf '%s\n' "$ours" | sed "s|^$out/|    kmod/|" | head -n 40
	else
		pass "sparse $SPARSE_VERSION x86_64 clean (${#srcs[@]} files)"
	fi
	# Reported inside kernel headers: shown, not counted.
	[ -z "$others" ] || printf '%s\n' "$others" | head -n 20 | sed 's/^/    (kernel) /'
fi

# 2. checkpatch on each source file: errors fail, warnings are shown.
src=$("$KERNEL_SH" source "$VERSION" 2>/dev/null) || src=
if [ -n "$src" ] && [ -x "$src/scripts/checkpatch.pl" ]; then
	while IFS= read -r f; do
		case "$f" in include/uapi/*) continue ;; esac
		out=$("$src/scripts/checkpatch.pl" --no-tree --show-types \
			--ignore LINUX_VERSION_CODE -f "$KMOD_DIR/$f" 2>&1)
		errors=$(printf '%s\n' "$out" | sed -n 's/^total: \([0-9]*\) errors.*/\1/p')
		if [ "${errors:-1}" = 0 ]; then
			pass "checkpatch $f"
		else
			fail "checkpatch $f"
		fi
		printf '%s\n' "$out" | grep -E '^(ERROR|WARNING):' | sed 's/^/    /'
	done < <(cd "$KMOD_DIR" && ls ./*.c ./*.h | sed 's|^\./||')
else
	fail "checkpatch: no kernel source tree for $VERSION"
fi

# 2b. kernel-doc: every documented function and struct fully described.
if [ -n "$src" ] && [ -x "$src/scripts/kernel-doc" ]; then
	out=$(cd "$KMOD_DIR" && "$src/scripts/kernel-doc" -none -Wall ./*.c ./*.h 2>&1)
	if [ -z "$out" ]; then
		pass "kernel-doc -Wall clean"
	else
		fail "kernel-doc -Wall"
		printf '%s\n' "$out" | head -n 20 | sed 's/^/    /'
	fi
else
	cannot_check "kernel-doc: no scripts/kernel-doc in a kernel source tree for $VERSION"
fi

# 3. The includes of every file the replay compiles unchanged (job core,
#    front, dispatcher, request queue) are exactly their documented lists,
#    and none has preprocessor conditionals.
for f in daedalus_job.c daedalus_front.c daedalus_dispatch.c daedalus_outq.c; do
	documented=$(sed -n '/compiled unchanged in userspace/,/^ \*\//p' "$KMOD_DIR/$f" |
		grep -oE '<[a-z0-9/._-]+\.h>|"[a-z0-9_]+\.h"' | grep -v 'uapi/linux/daedalus.h' | sort -u)
	actual=$(grep -E '^#include' "$KMOD_DIR/$f" |
		grep -oE '<[a-z0-9/._-]+\.h>|"[a-z0-9_]+\.h"' | sort -u)
	if [ -n "$actual" ] && [ "$documented" = "$actual" ]; then
		pass "$f includes match its documented list"
	else
		fail "$f includes differ from its documented list"
		diff <(echo "$documented") <(echo "$actual") | sed 's/^/    /'
	fi
	if grep -qE '^#\s*if(def|ndef)?\b' "$KMOD_DIR/$f"; then
		fail "$f has preprocessor conditionals"
	else
		pass "$f has no preprocessor conditionals"
	fi
done

# 4. The job core and the codec compile unchanged in userspace against the
#    replay tools' shim headers (the same flags replay/build.rs uses).
shim=$KMOD_DIR/../replay/shim/include
if [ -d "$shim" ]; then
	for f in daedalus_job.c daedalus_front.c daedalus_msg.c daedalus_dispatch.c \
		daedalus_outq.c; do
		if out=$(cc -std=gnu11 -fno-strict-aliasing -Wall -Wno-unused-parameter \
			-Wno-sign-compare -Werror -fsyntax-only -I"$shim" \
			-I"$KMOD_DIR/include" "$KMOD_DIR/$f" 2>&1); then
			pass "$f compiles in userspace against replay/shim"
		else
			fail "$f does not compile in userspace against replay/shim"
			printf '%s\n' "$out" | head -n 20 | sed 's/^/    /'
		fi
	done
else
	cannot_check "userspace compile: no replay/shim/include beside kmod/"
fi

summary kmod
