#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Kernel trees for daedalus: Debian's linux-source fetched with a private apt
# configuration (the system's /etc/apt is never read or written), extracted
# once, and built out of tree under $DAEDALUS_CACHE (default
# $HOME/.cache/daedalus).
#
#   kernel.sh source VERSION         fetch + extract, print the source dir
#   kernel.sh prepare VERSION ARCH   configured + modules_prepare'd build dir
#                                    for external modules, printed on stdout
#   kernel.sh build [VERSION]        the KUnit/e2e test kernel, build dir on stdout
#   kernel.sh builddir [VERSION]     the test kernel's build dir (no building)
#   kernel.sh config [VERSION]       the kunit.py --kunitconfig arguments
#   kernel.sh link [VERSION]         (re)point the in-tree daedalus symlink
#   kernel.sh env                    the toolchain environment, as shell
#   kernel.sh kunit-py ACTION ARGS   kunit.py with the project's options
#                                    (DAEDALUS_KUNIT_IMAGE=DIR: exec boots
#                                    DIR/arch/x86/boot/bzImage, a kernel
#                                    built before, and leaves the tree's
#                                    symlink alone)
#
# Progress goes to stderr; stdout carries only the answer, so callers can do
#   make -C "$(kmod/scripts/kernel.sh prepare 7.3 x86_64)" M="$PWD/kmod" LLVM=-19
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KMOD_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
# What the in-tree symlink points at: this clone's kmod/, or a patched copy
# (kunit-mutant.sh) laid out like a clone.
LINK_DIR=${DAEDALUS_KMOD_LINK:-$KMOD_DIR}
CACHE=${DAEDALUS_CACHE:-$HOME/.cache/daedalus}
MIRROR=${DAEDALUS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEFAULT_VERSION=7.3
LLVM_SUFFIX=-19
# Where the module's sources appear inside the kernel tree.
INTREE_REL=drivers/media/test-drivers/daedalus
HOOK_TAG="daedalus test-kernel hook"

log() { printf 'kernel.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# A progress line on stderr every 30 s (ticker.sh) while a long step is
# silent (kunit.py keeps make's output to itself, prepare runs make -s),
# when stderr is not a terminal: CI and logs see the build move. Never on
# stdout, which carries the answer. Stopped when the step ends or this
# script exits.
TICKER=
ticker_start() {
	ticker_stop
	[ -t 2 ] && return 0
	# Not holding build_lock's descriptor: the lock goes with this script.
	bash "$SCRIPT_DIR/ticker.sh" $$ "kernel.sh: $1" "${2:-}" >&2 9>&- &
	TICKER=$!
}
ticker_stop() {
	[ -n "$TICKER" ] || return 0
	kill "$TICKER" 2>/dev/null || true
	wait "$TICKER" 2>/dev/null || true
	TICKER=
}
trap ticker_stop EXIT

usage() {
	sed -n '3,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	cat <<EOF

Building the module against a prepared tree (compile check; there is no
Module.symvers from modules_prepare, so modpost only warns):
  KDIR=\$(kmod/scripts/kernel.sh prepare 7.3 x86_64)
  make -C "\$KDIR" M="\$PWD/kmod" LLVM=-19 KBUILD_MODPOST_WARN=1 modules
  KDIR=\$(kmod/scripts/kernel.sh prepare 7.3 arm64)
  make -C "\$KDIR" M="\$PWD/kmod" LLVM=-19 ARCH=arm64 KBUILD_MODPOST_WARN=1 modules

Versions: 7.x comes from trixie-backports, 6.12 from trixie. The exact Debian
package version used is recorded in <source dir>/.debian-version.
Environment: DAEDALUS_CACHE (cache root), DAEDALUS_DEBIAN_MIRROR,
DAEDALUS_KERNEL_BUILD_DIR (build the test kernel there instead).
EOF
}

# One kernel build at a time on this machine (2 shared cores): build and
# prepare wait for each other, whoever started them.
build_lock() {
	mkdir -p "$CACHE"
	exec 9>"$CACHE/.build.lock"
	if ! flock -n 9; then
		log "waiting for another kernel build to finish"
		flock 9
	fi
}

# --- toolchain --------------------------------------------------------------

toolchain_env() {
	export PATH="$HOME/.cargo/bin:$PATH"
	export LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm${LLVM_SUFFIX}/lib}
}

# Rust for Linux needs the exact rustc's library sources and a recent bindgen.
ensure_rust_toolchain() {
	toolchain_env
	command -v rustc >/dev/null || die "rustc not found (install rustup)"
	local sysroot
	sysroot=$(rustc --print sysroot)
	if [ ! -d "$sysroot/lib/rustlib/src/rust/library" ]; then
		log "installing rust-src"
		rustup component add rust-src >&2
	fi
	if ! bindgen_ok; then
		log "installing bindgen-cli (cargo install --locked)"
		nice cargo install --locked bindgen-cli >&2
		bindgen_ok || die "bindgen-cli >= 0.71.1 still missing"
	fi
}

bindgen_ok() {
	local v
	command -v bindgen >/dev/null || return 1
	v=$(bindgen --version | awk '{print $2}')
	[ "$(printf '%s\n0.71.1\n' "$v" | sort -V | head -n1)" = 0.71.1 ]
}

# --- source -----------------------------------------------------------------

suite_for() {
	case "$1" in
	7.*) echo trixie-backports ;;
	6.12) echo trixie ;;
	*) die "no Debian suite known for linux-source-$1" ;;
	esac
}

# A throwaway apt root: own sources, lists, cache and an empty dpkg status,
# so nothing here can see or change the host's package state.
apt_private() {
	local root=$CACHE/apt
	mkdir -p "$root/etc/sources.list.d" "$root/etc/preferences.d" \
		"$root/etc/apt.conf.d" "$root/state/lists/partial" \
		"$root/cache/archives/partial" "$root/dl" "$root/etc/trusted.gpg.d"
	: >"$root/state/status"
	local key=/usr/share/keyrings/debian-archive-keyring.gpg
	local keys="$key"
	for k in /usr/share/keyrings/debian-archive-trixie-automatic.gpg \
		/usr/share/keyrings/debian-archive-trixie-stable.gpg; do
		[ -r "$k" ] && keys="$keys,$k"
	done
	cat >"$root/etc/sources.list" <<EOF
deb [signed-by=$keys] $MIRROR trixie main
deb [signed-by=$keys] $MIRROR trixie-backports main
EOF
	# APT_CONFIG replaces /etc/apt/apt.conf, and its Dir::Etc::Parts keeps
	# /etc/apt/apt.conf.d from being read at all.
	cat >"$root/etc/apt.conf" <<EOF
Dir::Etc "$root/etc";
Dir::Etc::SourceList "$root/etc/sources.list";
Dir::Etc::SourceParts "$root/etc/sources.list.d";
Dir::Etc::Preferences "$root/etc/preferences";
Dir::Etc::PreferencesParts "$root/etc/preferences.d";
Dir::Etc::Parts "$root/etc/apt.conf.d";
Dir::Etc::Trusted "$root/etc/trusted.gpg";
Dir::Etc::TrustedParts "$root/etc/trusted.gpg.d";
Dir::State "$root/state";
Dir::State::status "$root/state/status";
Dir::Cache "$root/cache";
Debug::NoLocking "1";
APT::Sandbox::User "root";
Acquire::Languages "none";
EOF
	export APT_CONFIG=$root/etc/apt.conf
	APT_OPTS=(-o "Dir::Etc::Parts=$root/etc/apt.conf.d")
	APT_ROOT=$root
}

cmd_source() {
	local ver=${1:-$DEFAULT_VERSION}
	local src=$CACHE/src/linux-source-$ver
	if [ -f "$src/.extracted" ]; then
		echo "$src"
		return
	fi
	local suite pkg=linux-source-$ver
	suite=$(suite_for "$ver")
	apt_private
	log "apt-get update (private root $APT_ROOT)"
	apt-get "${APT_OPTS[@]}" -q update >&2
	local debver
	debver=$(apt-cache "${APT_OPTS[@]}" madison "$pkg" |
		awk -F'|' -v s="$suite" '$3 ~ s"/" {gsub(/ /,"",$2); print $2}' |
		sort -V | tail -n1)
	[ -n "$debver" ] || die "$pkg not found in $suite"
	log "fetching $pkg=$debver from $suite"
	ticker_start "fetching and extracting $pkg"
	rm -f "$APT_ROOT/dl/${pkg}_"*.deb
	(cd "$APT_ROOT/dl" && apt-get "${APT_OPTS[@]}" -q download "$pkg=$debver" >&2)
	local deb
	deb=$(ls "$APT_ROOT/dl/${pkg}_"*.deb)
	local tmp=$CACHE/src/.tmp-$ver
	rm -rf "$tmp" "$src"
	mkdir -p "$tmp"
	log "extracting $deb"
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" "./usr/src/$pkg.tar.xz"
	tar -xJf "$tmp/usr/src/$pkg.tar.xz" -C "$tmp"
	mv "$tmp/$pkg" "$src"
	rm -rf "$tmp"
	ticker_stop
	printf '%s %s %s\n' "$pkg" "$debver" "$suite" >"$src/.debian-version"
	touch "$src/.extracted"
	log "$pkg $debver ($suite) in $src"
	echo "$src"
}

# --- prepare (external module builds) ----------------------------------------

# A target: ARCH, built with clang (LLVM=-19, which cross-compiles arm64
# itself), or ARCH-gcc, built with Debian's gcc (native x86_64, and the
# aarch64-linux-gnu cross compiler for arm64: what DKMS uses on a Debian
# or Raspberry Pi OS machine).
make_arch_args() {
	case "$1" in
	x86_64) MAKE_ARGS=(LLVM=$LLVM_SUFFIX ARCH=x86_64) ;;
	arm64 | aarch64) MAKE_ARGS=(LLVM=$LLVM_SUFFIX ARCH=arm64) ;;
	x86_64-gcc) MAKE_ARGS=(ARCH=x86_64) ;;
	arm64-gcc | aarch64-gcc) MAKE_ARGS=(ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-) ;;
	*) die "unsupported target $1 (x86_64, arm64, x86_64-gcc, arm64-gcc)" ;;
	esac
}

cmd_prepare() {
	local ver=${1:?usage: prepare VERSION ARCH} arch=${2:?usage: prepare VERSION ARCH}
	arch=${arch/aarch64/arm64}
	local src out frag=$KMOD_DIR/config/prepare.config
	src=$(cmd_source "$ver")
	make_arch_args "$arch"
	out=$CACHE/build/prepare-$ver-$arch
	local key
	key=$(cat "$src/.debian-version" "$frag" | sha256sum | cut -c1-16)
	if [ -f "$out/.prepared" ] && [ "$(cat "$out/.prepared")" = "$key" ]; then
		echo "$out"
		return
	fi
	build_lock
	mkdir -p "$out"
	ticker_start "preparing $out" "$out"
	log "configuring $out (defconfig + $frag)"
	make -s -C "$src" O="$out" "${MAKE_ARGS[@]}" defconfig >&2
	"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "$frag" >&2
	make -s -C "$src" O="$out" "${MAKE_ARGS[@]}" olddefconfig >&2
	check_config "$out/.config" "$frag"
	log "modules_prepare in $out"
	nice make -s -C "$src" O="$out" "${MAKE_ARGS[@]}" -j"$(nproc)" modules_prepare >&2
	ticker_stop
	echo "$key" >"$out/.prepared"
	echo "$out"
}

# Every CONFIG_X=y/m/value and '# CONFIG_X is not set' line of the fragments
# must be what the final .config says; anything that did not stick is fatal.
check_config() {
	local config=$1
	shift
	local bad=0 frag line sym val got
	for frag in "$@"; do
		while IFS= read -r line; do
			case "$line" in
			CONFIG_*=*)
				sym=${line%%=*}
				val=${line#*=}
				;;
			"# CONFIG_"*" is not set")
				sym=${line#\# }
				sym=${sym%% *}
				val=n
				;;
			*) continue ;;
			esac
			got=$(grep -E "^(# )?$sym[= ]" "$config" || true)
			if [ "$val" = n ]; then
				# Off, or not even visible, is what was asked for.
				[ -z "$got" ] || [ "$got" = "# $sym is not set" ] && continue
			else
				[ "$got" = "$sym=$val" ] && continue
			fi
			log "config: wanted $sym=$val (${frag##*/}), got '${got:-absent}'"
			bad=1
		done <"$frag"
	done
	[ "$bad" = 0 ] || die "some wanted config symbols did not stick in $config"
}

# --- the test kernel ----------------------------------------------------------

# Fragments that make up the test kernel, in merge order. The module's own
# symbols are only added once the module's Kconfig declares them.
kunit_fragments() {
	echo "$KMOD_DIR/.kunitconfig"
	echo "$KMOD_DIR/config/virtme.config"
	echo "$KMOD_DIR/config/tcg.config"
	if module_kconfig_present; then
		echo "$KMOD_DIR/config/daedalus.config"
	fi
	if kunit_kconfig_has DAEDALUS_REPLAY_KUNIT_TEST; then
		echo "$KMOD_DIR/config/kunit-replay.config"
	fi
	if module_kconfig_present && kunit_kconfig_has DAEDALUS_JOB_KUNIT_TEST; then
		echo "$KMOD_DIR/config/kunit-job.config"
	fi
}

module_kconfig_present() {
	[ -f "$KMOD_DIR/Kconfig" ] && grep -q '^config VIDEO_DAEDALUS$' "$KMOD_DIR/Kconfig"
}

kunit_kconfig_has() {
	[ -f "$KMOD_DIR/kunit/Kconfig" ] && grep -q "^config $1\$" "$KMOD_DIR/kunit/Kconfig"
}

# The cache key covers the kernel version and every fragment, whether or not
# it is in use this run, but not the module's sources: they are rebuilt
# incrementally in the same tree wherever the clone lives.
test_kernel_key() {
	local ver=$1 src=$2
	cat "$src/.debian-version" "$KMOD_DIR/.kunitconfig" "$KMOD_DIR"/config/virtme.config \
		"$KMOD_DIR"/config/tcg.config "$KMOD_DIR"/config/daedalus.config "$KMOD_DIR"/config/kunit-*.config \
		"$KMOD_DIR/kunit/qemu_x86_64_tcg.py" | sha256sum | cut -c1-12
}

cmd_builddir() {
	local ver=${1:-$DEFAULT_VERSION} src
	src=$(cmd_source "$ver")
	# DAEDALUS_KERNEL_BUILD_DIR: another directory (kunit-bench.sh's cold
	# build), instead of the cache's.
	echo "${DAEDALUS_KERNEL_BUILD_DIR:-$CACHE/build/test-$ver-x86_64-$(test_kernel_key "$ver" "$src")}"
}

cmd_config() {
	local f
	for f in $(kunit_fragments); do
		printf -- '--kunitconfig=%s\n' "$f"
	done
}

replace_if_changed() {
	if cmp -s "$1" "$2"; then
		rm -f "$1"
	else
		mv "$1" "$2"
	fi
}

# Hooks the module's directory into drivers/media/test-drivers once, and
# points the symlink at this clone every time: CI clones elsewhere.
cmd_link() {
	local ver=${1:-$DEFAULT_VERSION} src
	src=$(cmd_source "$ver")
	local dir=$src/drivers/media/test-drivers
	# Inside the V4L_TEST_DRIVERS block, so VIDEO_DEV is there. Kconfig has
	# no optional source any more: Kconfig.daedalus (below) is regenerated on
	# every link with what the clone has. The module's own Makefile descends
	# into kunit/. Rewritten only when different, so mtimes stay put.
	grep -v daedalus "$dir/Kconfig" | awk -v tag="$HOOK_TAG" '
		/^endif #V4L_TEST_DRIVERS/ {
			print "# " tag
			print "source \"drivers/media/test-drivers/Kconfig.daedalus\""
		}
		{ print }' >"$dir/.Kconfig.daedalus-tmp"
	grep -q 'Kconfig.daedalus"' "$dir/.Kconfig.daedalus-tmp" ||
		die "could not hook $dir/Kconfig"
	replace_if_changed "$dir/.Kconfig.daedalus-tmp" "$dir/Kconfig"
	{
		grep -v daedalus "$dir/Makefile"
		printf '# %s\n' "$HOOK_TAG"
		printf 'obj-y += daedalus/\n'
	} >"$dir/.Makefile.daedalus-tmp"
	replace_if_changed "$dir/.Makefile.daedalus-tmp" "$dir/Makefile"
	local gen="# Generated by kmod/scripts/kernel.sh link: $HOOK_TAG"
	[ -f "$KMOD_DIR/Kconfig" ] &&
		gen+=$'\nsource "drivers/media/test-drivers/daedalus/Kconfig"'
	[ -f "$KMOD_DIR/kunit/Kconfig" ] &&
		gen+=$'\nsource "drivers/media/test-drivers/daedalus/kunit/Kconfig"'
	printf '%s\n' "$gen" >"$dir/.Kconfig.daedalus-tmp"
	replace_if_changed "$dir/.Kconfig.daedalus-tmp" "$dir/Kconfig.daedalus"
	local cur
	cur=$(readlink "$src/$INTREE_REL" 2>/dev/null || true)
	if [ "$cur" != "$LINK_DIR" ]; then
		ln -sfn "$LINK_DIR" "$src/$INTREE_REL"
		log "linked $INTREE_REL -> $LINK_DIR"
	fi
}

# kunit.py with everything the project needs: TCG-only qemu config, clang,
# the build dir in the cache. Extra arguments go to kunit.py.
kunit_py() {
	local ver=$1 action=$2
	shift 2
	local src out
	src=$(cmd_source "$ver")
	out=$(cmd_builddir "$ver")
	[ "$action" != exec ] || out=${DAEDALUS_KUNIT_IMAGE:-$out}
	mkdir -p "$out"
	local args=()
	mapfile -t args < <(cmd_config)
	(cd "$src" && nice -n "${NICE:-0}" python3 tools/testing/kunit/kunit.py "$action" \
		--build_dir="$out" --arch=x86_64 \
		--qemu_config="$KMOD_DIR/kunit/qemu_x86_64_tcg.py" \
		--make_options LLVM=$LLVM_SUFFIX \
		"${args[@]}" "$@")
}

# "HASH  PATH" of each of the module's files in $LINK_DIR (what kbuild
# reads from the tree; not the objects of an out-of-tree build there).
module_sources() {
	(cd "$LINK_DIR" && find . -type f ! -name '*.o' ! -name '*.ko' \
		! -name '*.mod' ! -name '*.mod.c' ! -name '.*.cmd' ! -name '*.a' \
		! -name Module.symvers ! -name modules.order -print0 |
		LC_ALL=C sort -z | xargs -0 -r sha1sum)
}

# The paths of SOURCES (module_sources' lines) that RECORD (a file of
# them) lacks or lists with another hash.
changed_sources() {
	local record=$1 sources=$2
	LC_ALL=C comm -13 <(LC_ALL=C sort "$record") <(LC_ALL=C sort <<<"$sources") |
		cut -c43-
}

cmd_build() {
	local ver=${1:-$DEFAULT_VERSION} src out
	ensure_rust_toolchain
	src=$(cmd_source "$ver")
	build_lock
	cmd_link "$ver"
	out=$(cmd_builddir "$ver")
	mkdir -p "$out"
	# Rust needs to be available before kunit.py validates CONFIG_RUST=y.
	if ! make -s -C "$src" O="$out" LLVM=$LLVM_SUFFIX rustavailable >&2; then
		die "Rust toolchain not usable by this kernel (see above)"
	fi
	# kbuild judges by mtime, and another clone's files (or a mutant copy)
	# may be older than the objects built from the previous target. A
	# finished build records the hash of each of the module's files: when
	# the symlink's target changed, the files whose content differs from
	# that record are touched, so kbuild rebuilds what depends on them and
	# nothing else (a mutant costs its patched file). Without a record
	# (none yet, or the last build did not finish) the module's objects go.
	local record=$out/.daedalus-sources sources changed
	sources=$(module_sources)
	if [ "$(cat "$out/.daedalus-link" 2>/dev/null)" != "$LINK_DIR" ]; then
		if [ -f "$record" ]; then
			changed=$(changed_sources "$record" "$sources")
			log "module sources changed since the last build: $(wc -w <<<"$changed")"
			# shellcheck disable=SC2086
			[ -z "$changed" ] || (cd "$LINK_DIR" && touch -- $changed)
		else
			rm -rf "${out:?}/$INTREE_REL"
		fi
		printf '%s\n' "$LINK_DIR" >"$out/.daedalus-link"
	fi
	rm -f "$record"
	local frags=()
	mapfile -t frags < <(kunit_fragments)
	log "configuring test kernel in $out from ${frags[*]##*/}"
	kunit_py "$ver" config >&2
	check_config "$out/.config" "${frags[@]}"
	log "building test kernel in $out"
	local t0=$SECONDS kind=incremental
	[ -f "$out/vmlinux" ] || kind=cold
	ticker_start "building test kernel ($kind) in $out" "$out"
	NICE=10 kunit_py "$ver" build --jobs="$(nproc)" >&2
	ticker_stop
	log "test kernel built in $((SECONDS - t0)) s ($kind)"
	printf '%s\n' "$sources" >"$record"
	# For kunit-bench.sh: how long each build of this tree took.
	printf '%s %s %s\n' "$(date -u +%FT%TZ)" "$kind" "$((SECONDS - t0))" \
		>>"$out/.daedalus-build-times"
	echo "$out"
}

main() {
	local cmd=${1:-}
	[ $# -gt 0 ] && shift
	case "$cmd" in
	source) cmd_source "$@" ;;
	prepare) cmd_prepare "$@" ;;
	build) cmd_build "$@" ;;
	builddir) cmd_builddir "$@" ;;
	config) cmd_config ;;
	make-args)
		make_arch_args "${1:?usage: make-args TARGET}"
		printf '%s\n' "${MAKE_ARGS[@]}"
		;;
	link) cmd_link "$@" ;;
	env)
		toolchain_env
		printf 'export PATH=%q\nexport LIBCLANG_PATH=%q\n' "$PATH" "$LIBCLANG_PATH"
		;;
	kunit-py)
		local ver=${DAEDALUS_KERNEL_VERSION:-$DEFAULT_VERSION}
		toolchain_env
		# A kernel image copied out of the build dir is booted while the
		# next build may already point the symlink elsewhere.
		[ "${1:-}" = exec ] && [ -n "${DAEDALUS_KUNIT_IMAGE:-}" ] || cmd_link "$ver"
		kunit_py "$ver" "$@"
		;;
	-h | --help | help) usage ;;
	*)
		usage >&2
		exit 2
		;;
	esac
}

main "$@"
