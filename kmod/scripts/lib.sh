# SPDX-License-Identifier: GPL-2.0
# Shared by the kmod stage scripts: check counting, the private build copy
# of the module's sources, and module builds against prepared trees.

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KMOD_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
CACHE=${DAEDALUS_CACHE:-$HOME/.cache/daedalus}
KERNEL_SH=$SCRIPT_DIR/kernel.sh
LLVM_SUFFIX=-19

PASSED=0
FAILED=0
SKIPPED=0

pass() {
	PASSED=$((PASSED + 1))
	printf 'PASS %s\n' "$*"
}

fail() {
	FAILED=$((FAILED + 1))
	printf 'FAIL %s\n' "$*"
}

# The module's own sources (the KUnit suites and scripts stay out).
module_sources() {
	(cd "$KMOD_DIR" && ls Makefile Kconfig ./*.c ./*.h && find include -type f)
}

# Copy the sources to a private build directory, so builds for several
# trees never share (or leave) objects in the checkout.
sync_sources() {
	local dst=$1 f
	mkdir -p "$dst"
	find "$dst" -maxdepth 1 -type f \( -name '*.c' -o -name '*.h' \) -delete
	while IFS= read -r f; do
		mkdir -p "$dst/$(dirname "$f")"
		cp -p "$KMOD_DIR/$f" "$dst/$f"
	done < <(module_sources)
}

# Compiler and modpost warnings that matter. Without a Module.symvers (a
# modules_prepare'd tree) every imported symbol is "undefined": expected.
real_warnings() {
	grep -E 'warning:|error:|^WARNING:|^ERROR:' "$1" |
		grep -vE 'Module\.symvers is missing|undefined!$|suppressed [0-9]+ unresolved symbol warnings' ||
		true
}

# build_module VERSION ARCH LOGFILE [extra make args]: 0 when the module
# built with W=1 and no warning; the log keeps the compiler output.
build_module() {
	local ver=$1 arch=$2 log=$3
	shift 3
	local kdir out make_args=()
	if ! kdir=$("$KERNEL_SH" prepare "$ver" "$arch" 2>"$log.prepare"); then
		echo "kernel.sh prepare $ver $arch failed, see $log.prepare" >"$log"
		return 2
	fi
	# The toolchain the tree was prepared with.
	mapfile -t make_args < <("$KERNEL_SH" make-args "$arch")
	out=$CACHE/kmod-build/$ver-$arch
	sync_sources "$out"
	if ! make -C "$kdir" M="$out" "${make_args[@]}" W=1 \
		KBUILD_MODPOST_WARN=1 "$@" modules >"$log" 2>&1; then
		return 1
	fi
	[ -f "$out/daedalus_v4l2.ko" ] || return 1
	[ -z "$(real_warnings "$log")" ]
}

# cannot_check REASON: one check cannot be done here (a tool or a tree is
# missing). That is never a pass: under CI (CI=true) it fails and says
# why; elsewhere it says SKIP and why, and the summary line counts it as
# skipped.
cannot_check() {
	if [ "${CI:-}" = true ]; then
		fail "$* (cannot run: under CI=true that fails)"
		return
	fi
	SKIPPED=$((SKIPPED + 1))
	printf 'SKIP %s (not counted as passed; under CI=true this fails)\n' "$*"
}

# cannot_run STAGE REASON: the same for the rest of the stage, which ends
# here with its summary line.
cannot_run() {
	local stage=$1
	shift
	cannot_check "$@"
	summary "$stage"
	exit
}

summary() {
	if [ "$SKIPPED" -gt 0 ]; then
		printf '%s: %d passed, %d failed, %d skipped\n' "$1" "$PASSED" "$FAILED" "$SKIPPED"
	else
		printf '%s: %d passed, %d failed\n' "$1" "$PASSED" "$FAILED"
	fi
	[ "$FAILED" -eq 0 ]
}
