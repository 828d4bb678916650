# SPDX-License-Identifier: GPL-2.0
#
# Shared by run.sh, record.sh and bench.sh: the tools, the test kernel, the
# binaries and the clips, then one guest boot under virtme-ng (TCG).
# Sourced, not run. Sets ROOT, E2E, OUT, CLIPS, KERNEL, DAEDALUSD, REPLAY.

E2E=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$E2E/../.." && pwd)
KERNEL_SH=$ROOT/kmod/scripts/kernel.sh
OUT=${DAEDALUS_E2E_OUT:-$ROOT/target/e2e}
CLIPS=$OUT/clips
CACHE=${DAEDALUS_CACHE:-$HOME/.cache/daedalus}

e2e_log() { printf '%s: %s\n' "${E2E_STAGE:-e2e}" "$*" >&2; }

# virtme-ng is not a Debian package on bookworm: it comes from PyPI.
ensure_vng() {
	command -v vng >/dev/null && return 0
	e2e_log "installing virtme-ng from PyPI"
	python3 -m pip install -q --root-user-action=ignore virtme-ng==1.42 >&2 ||
		python3 -m pip install -q --root-user-action=ignore --break-system-packages virtme-ng==1.42 >&2 || return 1
	hash -r
	command -v vng >/dev/null
}

ensure_tools() {
	local t missing=
	for t in ffmpeg ffprobe v4l2-compliance v4l2-ctl gst-launch-1.0 mpv strace \
		qemu-system-x86_64 python3 cargo; do
		command -v "$t" >/dev/null || missing+=" $t"
	done
	if [ -n "$missing" ]; then
		e2e_log "missing tools:$missing (make setup installs them)"
		return 1
	fi
	# Debian 12's v4l-utils (1.22) predates the test kernel's uapi: the
	# guest runs a current v4l2-compliance and v4l2-ctl (v4l-utils.sh).
	V4L_UTILS_BIN=$(bash "$E2E/v4l-utils.sh") || {
		e2e_log "no current v4l-utils (kmod/e2e/v4l-utils.sh failed)"
		return 1
	}
	e2e_log "v4l-utils: $V4L_UTILS_BIN"
	ensure_vng
}

# The test kernel: kernel.sh build (cached, incremental), or the bzImage
# named by DAEDALUS_E2E_KERNEL. The build directory is shared with the
# kunit stage (and its mutant runs, which build patched copies of the
# module there): the image is copied out at once, so a later build cannot
# change what this run boots. Never two kernel builds at once: waits while
# another build's compilers run.
ensure_kernel() {
	if [ -n "${DAEDALUS_E2E_KERNEL:-}" ]; then
		KERNEL=$DAEDALUS_E2E_KERNEL
		[ -f "$KERNEL" ] || {
			e2e_log "no kernel image at $KERNEL"
			return 1
		}
		return 0
	fi
	local i
	for i in $(seq 1 120); do
		pgrep -x clang-19 >/dev/null || pgrep -x clang >/dev/null ||
			pgrep -x rustc >/dev/null ||
			pgrep -f 'kunit/kunit.py build' >/dev/null || break
		[ "$i" = 1 ] && e2e_log "waiting for another kernel build to finish"
		sleep 10
	done
	local build
	build=$("$KERNEL_SH" build) || return 1
	mkdir -p "$OUT"
	cp "$build/arch/x86/boot/bzImage" "$OUT/bzImage"
	KERNEL=$OUT/bzImage
	# visl, the stateless control (guest.sh, visl_control), and the
	# modules it needs, in load order.
	rm -rf "$OUT/modules"
	mkdir -p "$OUT/modules"
	local m
	for m in lib/fonts/font.ko drivers/media/common/v4l2-tpg/v4l2-tpg.ko \
		drivers/media/test-drivers/visl/visl.ko; do
		[ -f "$build/$m" ] || continue
		cp "$build/$m" "$OUT/modules/"
		echo "${m##*/}" >>"$OUT/modules/order"
	done
}

# DAEDALUS_E2E_BIN: a directory holding both, already built.
ensure_binaries() {
	local bin=${DAEDALUS_E2E_BIN:-$ROOT/target/release}
	if [ -z "${DAEDALUS_E2E_BIN:-}" ]; then
		(cd "$ROOT" && nice cargo build -q --release -p daedalusd -p daedalus-replay) >&2 ||
			return 1
	fi
	DAEDALUSD=$bin/daedalusd
	REPLAY=$bin/daedalus-replay
	[ -x "$DAEDALUSD" ] && [ -x "$REPLAY" ]
}

ensure_clips() {
	bash "$E2E/clips.sh" "$CLIPS"
}

# boot_guest RUNDIR [GROUP...]: one guest boot running guest.sh with those
# check groups (none: guest.sh's default set); RUNDIR (shared read-write)
# gets what guest.sh leaves. The console goes to RUNDIR/console.log. vng's
# own exit status is not the command's (it is lost on the console
# fallback): run.sh judges RUNDIR.
boot_guest() {
	local rundir=$1
	shift
	rm -rf "$rundir"
	mkdir -p "$rundir"
	# A copy: bash reads a script as it runs, and the tree may change.
	cp "$E2E/guest.sh" "$rundir/guest.sh"
	# GStreamer's registry of every plugin, scanned here in seconds (what
	# the guest scans again under TCG is only what its devices change).
	GST_REGISTRY=$rundir/gst-registry.host.bin gst-inspect-1.0 >/dev/null 2>&1 ||
		e2e_log "gst-inspect-1.0 on the host failed; the guest scans every plugin itself"
	# The guest's root is the host's, over 9p, which vng mounts uncached:
	# every process start reads each of its libraries again through the
	# emulated virtio queue (ffmpeg's ~215: 22-78 s a start under TCG,
	# 8-20 s cached). The root is read-only to the guest and nothing on
	# the host changes what the guest reads while it runs (clips, modules
	# and binaries are made before the boot; RUNDIR is a mount of its
	# own), so it is mounted cache=loose: vng 1.42's rootflags plus that,
	# appended after vng's, and the last rootflags= is the kernel's.
	# DAEDALUS_E2E_ROOTFLAGS overrides them; empty: vng's own (bench-startup.sh
	# boots both ways).
	local rootflags=${DAEDALUS_E2E_ROOTFLAGS-version=9p2000.L,trans=virtio,access=any,msize=524288,cache=loose}
	local append=()
	[ -z "$rootflags" ] || append=(--append "rootflags=$rootflags")
	local cmd="DAEDALUS_V4L_UTILS_BIN=${V4L_UTILS_BIN:-} DAEDALUS_E2E_MODULES=$OUT/modules DAEDALUS_E2E_DIR=$E2E DAEDALUS_E2E_GST_REGISTRY=$rundir/gst-registry.host.bin bash $rundir/guest.sh $rundir $CLIPS $DAEDALUSD $*"
	timeout -k 10 "${DAEDALUS_E2E_BOOT_TIMEOUT:-2400}" \
		vng --run "$KERNEL" --force-9p --disable-kvm --verbose \
		--cpus 2 --memory 2G --rwdir "$rundir" --cwd "$ROOT" \
		"${append[@]}" --exec "$cmd" </dev/null >"$rundir/console.log" 2>&1 &
	local vng=$!
	e2e_progress "$rundir/results" "$vng" "$(basename "$rundir")" &
	local progress=$!
	wait "$vng"
	wait "$progress"
	return 0
}

# e2e_progress RESULTS PID LABEL: while PID (the guest) runs, each line the
# guest adds to RESULTS as a line on stderr with the guest's LABEL, the
# time since boot and since the line before (the check's own time), and a
# line at least every E2E_TICK seconds (30) when no check finished
# meanwhile.
e2e_progress() {
	local results=$1 pid=$2 label=$3 seen=0 t0=$SECONDS last=$SECONDS prev=$SECONDS
	local n line
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		n=0
		[ -f "$results" ] && n=$(wc -l <"$results")
		if [ "$n" -gt "$seen" ]; then
			while IFS= read -r line; do
				printf 'e2e: %s %4d s (+%d s) %s\n' "$label" $((SECONDS - t0)) \
					$((SECONDS - prev)) "$line" >&2
				prev=$SECONDS
			done < <(sed -n "$((seen + 1)),${n}p" "$results")
			seen=$n
			last=$SECONDS
		elif [ $((SECONDS - last)) -ge "${E2E_TICK:-30}" ]; then
			printf 'e2e: %s %4d s, %d check(s) reported, running\n' \
				"$label" $((SECONDS - t0)) "$seen" >&2
			last=$SECONDS
		fi
	done
}

# Kernel reports that fail a run wherever they appear in the guest's log.
SPLATS='BUG: |WARNING: |DEBUG_LOCKS_WARN_ON|INFO: (possible|trying to register)|list_(add|del) corruption|kernel BUG at|Oops|ODEBUG:|kmemleak: .*suspected|unreferenced object|UBSAN:|Kernel panic|refcount_t:|general protection fault|cut here|in active state|KASAN'
