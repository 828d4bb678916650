#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# A current v4l2-compliance and v4l2-ctl for the e2e guest, whose userland
# is the host's Debian 12: its v4l-utils 1.22 predates the test kernel's
# uapi (NV12 is now "Y/UV 4:2:0", CREATE_BUFS' reserved[] holds
# max_num_buffers) and fails checks the kernel's own vim2m fails too.
#
# The archive this project can reach serves v4l-utils' binary packages but
# not its source package (the .dsc and tarballs answer 404), so nothing is
# compiled here. Debian's v4l-utils binary package and its dependency
# closure (libc6, libstdc++6, libv4l, ...) from trixie are fetched with a
# private apt configuration (the host's /etc/apt is never read or written)
# and unpacked into a private sysroot; v4l2-compliance and v4l2-ctl are
# copied out and patched (patchelf) to use that sysroot's dynamic loader
# and libraries, so they run on Debian 12's older glibc without touching it.
#
#   bindir=$(bash kmod/e2e/v4l-utils.sh)
#
# The last line on stdout is the directory holding v4l2-compliance and
# v4l2-ctl; progress goes to stderr. Cached under
# $DAEDALUS_CACHE/v4l-utils/<debian version>/ (default $HOME/.cache/daedalus);
# a warm run only prints the path. Environment: DAEDALUS_CACHE,
# DAEDALUS_DEBIAN_MIRROR, DAEDALUS_V4L_UTILS_SUITES (suites searched for the
# newest v4l-utils, default "trixie trixie-backports"; "sid" may be added).
set -euo pipefail

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
CACHE=${DAEDALUS_CACHE:-$HOME/.cache/daedalus}
MIRROR=${DAEDALUS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITES=${DAEDALUS_V4L_UTILS_SUITES:-trixie trixie-backports}
BASE=$CACHE/v4l-utils
PKG=v4l-utils
TOOLS="v4l2-compliance v4l2-ctl"
MULTIARCH=x86_64-linux-gnu

log() { printf 'v4l-utils.sh: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# What the cached result depends on: this script and the suites asked for.
# A changed recipe fetches again; the Debian version names the directory.
recipe_key() {
	{
		cat "$SELF"
		printf 'suites=%s\n' "$SUITES"
	} | sha256sum | cut -c1-16
}

# The cached bin directory, when a complete one matches the recipe.
cached_bindir() {
	local dir
	[ -f "$BASE/current" ] || return 1
	dir=$(cat "$BASE/current")
	[ -f "$dir/.stamp" ] && [ "$(cat "$dir/.stamp")" = "$KEY" ] || return 1
	local t
	for t in $TOOLS; do
		[ -x "$dir/bin/$t" ] || return 1
	done
	echo "$dir/bin"
}

ensure_patchelf() {
	command -v patchelf >/dev/null && return 0
	[ "$(id -u)" = 0 ] || die "patchelf is missing (apt-get install patchelf)"
	log "installing patchelf (Debian 12)"
	DEBIAN_FRONTEND=noninteractive apt-get -q -y install --no-install-recommends \
		patchelf </dev/null >&2 || die "apt-get install patchelf failed"
	command -v patchelf >/dev/null || die "patchelf still missing after apt-get install"
}

# A throwaway apt root of our own (as kernel.sh's, but separate, so the two
# never rewrite each other's sources): own sources, lists, cache and an
# empty dpkg status. Rolling suites get check-valid-until=no: a mirror
# snapshot older than their week-long Valid-Until is still signed.
apt_private() {
	local root=$BASE/apt
	mkdir -p "$root/etc/sources.list.d" "$root/etc/preferences.d" \
		"$root/etc/apt.conf.d" "$root/etc/trusted.gpg.d" \
		"$root/state/lists/partial" "$root/cache/archives/partial"
	: >"$root/state/status"
	local keys=/usr/share/keyrings/debian-archive-keyring.gpg k s opts
	[ -r "$keys" ] || die "$keys missing (apt-get install debian-archive-keyring)"
	for k in /usr/share/keyrings/debian-archive-trixie-automatic.gpg \
		/usr/share/keyrings/debian-archive-trixie-stable.gpg; do
		[ -r "$k" ] && keys="$keys,$k"
	done
	: >"$root/etc/sources.list"
	for s in $SUITES; do
		opts="signed-by=$keys"
		case "$s" in
		sid | unstable | forky | testing) opts="$opts check-valid-until=no" ;;
		esac
		printf 'deb [%s] %s %s main\n' "$opts" "$MIRROR" "$s" >>"$root/etc/sources.list"
	done
	# APT_CONFIG replaces /etc/apt/apt.conf, and Dir::Etc::Parts keeps
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
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
APT::Install-Recommends "false";
Acquire::Languages "none";
EOF
	export APT_CONFIG=$root/etc/apt.conf
	APT_OPTS=(-o "Dir::Etc::Parts=$root/etc/apt.conf.d")
	APT_ROOT=$root
}

# The newest v4l-utils among the suites, as "VERSION SUITE".
newest_version() {
	apt-cache "${APT_OPTS[@]}" madison "$PKG" |
		awk -F'|' '{gsub(/ /, "", $2); split($3, a, " "); split(a[2], s, "/"); print $2, s[1]}' |
		sort -V -k1,1 | tail -n1
}

# Every resolved library must come from the sysroot: one taken from the
# host would be Debian 12's, built for a different glibc.
check_resolution() {
	local ldso=$1 bin=$2 sysroot=$3 list
	list=$("$ldso" --list "$bin") || die "$ldso --list $bin failed"
	if grep -q 'not found' <<<"$list"; then
		die "unresolved libraries for $bin:"$'\n'"$list"
	fi
	local stray
	stray=$(grep '=>' <<<"$list" | grep -v "=> $sysroot/" || true)
	[ -z "$stray" ] || die "libraries of $bin resolved outside $sysroot:"$'\n'"$stray"
}

build() {
	local ver=$1 suite=$2
	local dir=$BASE/$ver
	local sysroot=$dir/sysroot debs=$dir/debs
	rm -rf "$dir"
	mkdir -p "$debs/partial" "$sysroot" "$dir/bin"
	log "fetching $PKG=$ver and its dependencies from $suite"
	if ! apt-get "${APT_OPTS[@]}" -q -y -t "$suite" \
		-o "Dir::Cache::archives=$debs" install --download-only \
		"$PKG=$ver" >"$dir/fetch.log" 2>&1; then
		cat "$dir/fetch.log" >&2
		die "could not fetch $PKG=$ver and its dependencies (log above)"
	fi
	local deb n=0
	for deb in "$debs"/*.deb; do
		[ -f "$deb" ] || continue
		dpkg-deb -x "$deb" "$sysroot" || die "could not unpack $deb"
		dpkg-deb -W --showformat='${Package} ${Version}\n' "$deb" >>"$dir/packages"
		n=$((n + 1))
	done
	[ "$n" -gt 0 ] || die "apt-get fetched no package (see $dir/fetch.log)"
	log "unpacked $n packages into $sysroot"
	local ldso=$sysroot/usr/lib/$MULTIARCH/ld-linux-x86-64.so.2
	[ -x "$ldso" ] || die "no dynamic loader at $ldso (did libc6 come?)"
	local rpath=$sysroot/usr/lib/$MULTIARCH:$sysroot/lib/$MULTIARCH
	local t
	for t in $TOOLS; do
		[ -x "$sysroot/usr/bin/$t" ] || die "$PKG $ver has no /usr/bin/$t"
		cp "$sysroot/usr/bin/$t" "$dir/bin/$t"
		# DT_RPATH rather than RUNPATH: an executable's RPATH also serves
		# its libraries' own dependencies (libv4l2 -> libv4lconvert).
		patchelf --set-interpreter "$ldso" --force-rpath --set-rpath "$rpath" \
			"$dir/bin/$t" || die "patchelf failed on $t"
		check_resolution "$ldso" "$dir/bin/$t" "$sysroot"
	done
	local got
	got=$("$dir/bin/v4l2-compliance" --version 2>&1 | head -n1) ||
		die "the patched v4l2-compliance does not run: $got"
	[[ "$got" == *"${ver%%-*}"* ]] || die "v4l2-compliance says '$got', expected $ver"
	"$dir/bin/v4l2-ctl" --version >/dev/null 2>&1 || die "the patched v4l2-ctl does not run"
	rm -rf "$debs"
	printf '%s %s %s\n' "$PKG" "$ver" "$suite" >"$dir/.debian-version"
	echo "$KEY" >"$dir/.stamp"
	echo "$dir" >"$BASE/.current.tmp"
	mv "$BASE/.current.tmp" "$BASE/current"
	log "$got ($PKG $ver from $suite) in $dir/bin"
}

main() {
	case "${1:-}" in
	"") ;;
	-h | --help)
		sed -n '4,25p' "$SELF" | sed 's/^# \{0,1\}//'
		return 0
		;;
	*) die "no arguments expected (see --help)" ;;
	esac
	KEY=$(recipe_key)
	if cached_bindir; then
		return 0
	fi
	mkdir -p "$BASE"
	exec 8>"$BASE/.lock"
	if ! flock -n 8; then
		log "waiting for another v4l-utils.sh run to finish"
		flock 8
	fi
	# Whoever held the lock may have just finished the same work.
	if cached_bindir; then
		return 0
	fi
	local t0=$SECONDS
	ensure_patchelf
	apt_private
	log "apt-get update (private root $APT_ROOT; suites: $SUITES)"
	if ! apt-get "${APT_OPTS[@]}" -q update >"$APT_ROOT/update.log" 2>&1 ||
		grep -q '^E:' "$APT_ROOT/update.log"; then
		cat "$APT_ROOT/update.log" >&2
		die "apt-get update of $MIRROR ($SUITES) failed"
	fi
	local newest ver suite
	newest=$(newest_version)
	[ -n "$newest" ] || die "$PKG not found in $SUITES at $MIRROR"
	read -r ver suite <<<"$newest"
	build "$ver" "$suite"
	# The suites' package lists are over 100 MB and only a cold run reads
	# them: it fetches fresh ones anyway.
	rm -rf "$APT_ROOT"
	log "done in $((SECONDS - t0)) s"
	cached_bindir || die "internal: $BASE/$ver is incomplete after building"
}

main "$@"
