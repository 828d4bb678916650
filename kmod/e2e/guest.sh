#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the virtme-ng guest (booted by run.sh): the real module, the
# real daemon and real V4L2 clients on the clips of clips.sh. Each check
# appends one line to $OUT/results ("PASS name" or "FAIL name: why") and,
# while it runs, the daedalus:*, v4l2:* and vb2:* events are recorded
# through tracefs into $OUT/traces/<client>-<clip>-<scenario>.trace.
# run.sh judges what this leaves behind; this script never decides the
# stage's verdict by itself, so a guest that dies half way still fails.
#
#   guest.sh OUT CLIPS DAEDALUSD [CHECK...]
#
# With CHECK names, only those groups run (compliance ffmpeg gst clients
# stateless streams faults bench); default: all but bench.
set -uo pipefail

OUT=${1:?usage: guest.sh OUT CLIPS DAEDALUSD [CHECK...]}
CLIPS=${2:?}
DAEDALUSD=${3:?}
shift 3
GROUPS_RUN=${*:-compliance ffmpeg gst clients stateless streams faults}
# Where the helper scripts are (run.sh runs a copy of this file).
E2E=${DAEDALUS_E2E_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
# A current v4l2-compliance and v4l2-ctl first (lib.sh, v4l-utils.sh).
[ -n "${DAEDALUS_V4L_UTILS_BIN:-}" ] && PATH=$DAEDALUS_V4L_UTILS_BIN:$PATH
TRACING=/sys/kernel/tracing
DEBUGFS=/sys/kernel/debug/daedalus
# Per client command: TCG with KASAN decodes a few pictures a second.
CLIENT_TIMEOUT=${DAEDALUS_E2E_CLIENT_TIMEOUT:-90}
# How long the unprivileged client loops against the stopped daemon.
QUEUE_STRESS_SECONDS=${DAEDALUS_E2E_QUEUE_STRESS_SECONDS:-60}
# v4l2-compliance -s: its ioctl tests take ~30 s, its streaming tests a few
# each. Every OUTPUT buffer it queues is a whole default sizeimage (1.5 MB:
# the tiny clip, then zeros), so each decode job parses that much under
# TCG: COMPLIANCE_FRAMES OUTPUT buffers per streaming test, not its 60.
COMPLIANCE_TIMEOUT=${DAEDALUS_E2E_COMPLIANCE_TIMEOUT:-240}
COMPLIANCE_FRAMES=${DAEDALUS_E2E_COMPLIANCE_FRAMES:-12}
WORK=/tmp/daedalus-e2e
# The daemon's user and its node, as the package sets them up.
SYSUSERS=$E2E/../../daemon/daedalusd.sysusers
UDEV_RULE=$E2E/../udev/60-daedalus.rules

mkdir -p "$OUT/traces" "$OUT/logs" "$WORK"
RESULTS=$OUT/results
: >"$RESULTS"
DAEMON_PID=

log() { printf 'guest: %s\n' "$*"; }
pass() {
	echo "PASS $1" >>"$RESULTS"
	log "PASS $1"
}
fail() {
	local name=$1
	shift
	echo "FAIL $name: $*" >>"$RESULTS"
	log "FAIL $name: $*"
}
# check NAME COND-RC WHY: pass when the command's status is 0.
check() {
	if [ "$2" -eq 0 ]; then pass "$1"; else fail "$1" "$3"; fi
}

# --- tracing -------------------------------------------------------------------

trace_setup() {
	mountpoint -q "$TRACING" || mount -t tracefs nodev "$TRACING"
	mountpoint -q /sys/kernel/debug || mount -t debugfs nodev /sys/kernel/debug
	echo 0 >"$TRACING/tracing_on"
	echo 16384 >"$TRACING/buffer_size_kb"
	echo >"$TRACING/set_event"
	local sys
	for sys in daedalus v4l2 vb2; do
		echo 1 >"$TRACING/events/$sys/enable" || return 1
	done
}

# trace_start: an empty buffer, recording on.
trace_start() {
	echo 0 >"$TRACING/tracing_on"
	echo >"$TRACING/trace"
	echo 1 >"$TRACING/tracing_on"
}

# trace_stop NAME [empty-ok]: the recording goes to traces/NAME.trace; a
# buffer that overflowed is not a recording (events lost): that is a
# failure, and so is one without a daedalus event unless "empty-ok" (a
# client that died before it queued anything).
trace_stop() {
	local name=$1 f=$OUT/traces/$1.trace empty_ok=${2:-}
	echo 0 >"$TRACING/tracing_on"
	cat "$TRACING/trace" >"$f"
	local hdr
	hdr=$(grep -m1 '^# entries-in-buffer/entries-written:' "$f" || true)
	if [[ "$hdr" =~ ([0-9]+)/([0-9]+) ]] &&
		[ "${BASH_REMATCH[1]}" != "${BASH_REMATCH[2]}" ]; then
		fail "trace-complete:$name" "trace buffer overflowed ($hdr)"
		return
	fi
	if ! grep -q ' daedalus_' "$f"; then
		[ "$empty_ok" = empty-ok ] && return
		fail "trace-complete:$name" "no daedalus events recorded"
		return
	fi
	# Some recordings also go to trace-cmd's trace.dat, read from the same
	# buffer: the host checks that it imports as the text does.
	case " ${TRACE_DAT-ffmpeg-tiny-decode} " in
	*" $name "*)
		if ! trace-cmd extract -o "$OUT/traces/$name.dat" \
			>"$OUT/logs/$name.extract.log" 2>&1; then
			fail "trace-dat:$name" "trace-cmd extract failed (logs/$name.extract.log)"
		fi
		# extract may leave tracing as it likes: set it up again.
		trace_setup || fail "trace-setup:$name" "tracefs events missing"
		;;
	esac
}

# --- the daemon's user ---------------------------------------------------------

# daemon_user: the daedalus user made as the package makes it
# (systemd-sysusers on daemon/daedalusd.sysusers), /dev/daedalus given to it
# as kmod/udev/60-daedalus.rules says, and a copy of the daemon it may run.
# The guest's /etc must be its own: vng overlays the host's
# (--overlay-rwdir /etc); anything else gets an overlay here, its upper
# layer in /run, so the host's files are never written. virtme-ng's init
# binds files of its own over /etc/shadow (and maybe /etc/passwd,
# /etc/group, /etc/gshadow): systemd-sysusers replaces each by rename(),
# which a mount point refuses, so those binds go first.
daemon_user() {
	local f
	case "$(findmnt -n -o FSTYPE --target /etc)" in
	overlay | tmpfs) ;;
	*)
		if ! mkdir -p /run/daedalus-etc/upper /run/daedalus-etc/work ||
			! mount -t overlay overlay -o lowerdir=/etc,upperdir=/run/daedalus-etc/upper,workdir=/run/daedalus-etc/work /etc; then
			fail "daemon-user" "/etc is $(findmnt -n -o FSTYPE --target /etc) and no overlay could be put on it"
			return 1
		fi
		;;
	esac
	for f in /etc/passwd /etc/group /etc/shadow /etc/gshadow; do
		while mountpoint -q "$f"; do umount "$f" || break; done
	done
	if ! systemd-sysusers "$(realpath "$SYSUSERS")" >"$OUT/logs/sysusers.log" 2>&1 ||
		! id daedalus >"$OUT/logs/daedalus-id.log" 2>&1; then
		fail "daemon-user" "systemd-sysusers $SYSUSERS made no daedalus user (logs/sysusers.log)"
		return 1
	fi
	pass "daemon-user"
	log "daedalus user: $(id daedalus)"
	DAEMON_UID=$(id -u daedalus)
	DAEMON_GID=$(id -g daedalus)
	# As an installed binary is: where every user may run it (the clone the
	# guest sees may be under a directory only root may enter). The daemon
	# also reads the scripts written into $WORK.
	chmod 0755 "$WORK"
	install -d -m 0755 "$WORK/bin"
	install -m 0755 "$DAEDALUSD" "$WORK/bin/daedalusd"
	DAEDALUSD=$WORK/bin/daedalusd
	daemon_node
}

# daemon_node: /dev/daedalus as the udev rule leaves it. With udevd running
# in the guest, the rule itself, installed and re-triggered; without (the
# usual case: virtme-ng starts udevd only where the host has it), the rule's
# own OWNER, GROUP and MODE applied by hand. Either way the node must end
# daedalus:daedalus 0600, which is also what the rule must say.
daemon_node() {
	local rule owner group mode how got
	rule=$(grep '^KERNEL=="daedalus", SUBSYSTEM=="misc"' "$UDEV_RULE")
	owner=$(sed -n 's/.*OWNER="\([^"]*\)".*/\1/p' <<<"$rule")
	group=$(sed -n 's/.*GROUP="\([^"]*\)".*/\1/p' <<<"$rule")
	mode=$(sed -n 's/.*MODE="\([^"]*\)".*/\1/p' <<<"$rule")
	if udevadm control --ping >/dev/null 2>&1; then
		how="by udev"
		install -D -m 0644 "$UDEV_RULE" /etc/udev/rules.d/60-daedalus.rules &&
			udevadm control --reload &&
			udevadm trigger --action=add --subsystem-match=misc --sysname-match=daedalus &&
			udevadm settle --timeout=30
	else
		how="by hand from the rule (no udevd in the guest)"
		chown "$owner:$group" /dev/daedalus && chmod "$mode" /dev/daedalus
	fi
	got=$(stat -c '%U:%G %a' /dev/daedalus)
	if [ "$got" = "daedalus:daedalus 600" ] && [ "$got" = "$owner:$group ${mode#0}" ]; then
		pass "daemon-node"
		log "/dev/daedalus $got, $how"
	else
		fail "daemon-node" "/dev/daedalus is $got $how; the rule says $owner:$group $mode, the daemon's user needs daedalus:daedalus 600"
	fi
}

# --- daemon -------------------------------------------------------------------

# daemon_start [ARGS...]: a daedalusd attached to /dev/daedalus, handshake
# done (the module's stats say daemon_ready: 1). It runs as the daedalus
# user with no capability (none permitted, inheritable or in the bounding
# set) and no supplementary group, as its systemd unit runs it.
daemon_start() {
	local logf=$OUT/logs/daedalusd.log
	setpriv --reuid="$DAEMON_UID" --regid="$DAEMON_GID" --clear-groups \
		--inh-caps=-all --bounding-set=-all \
		"$DAEDALUSD" --log info "$@" >>"$logf" 2>&1 &
	DAEMON_PID=$!
	local i
	for i in $(seq 1 100); do
		if grep -qx 'daemon_ready: 1' "$DEBUGFS/stats" 2>/dev/null &&
			grep -qx "daemon_pid: $DAEMON_PID" "$DEBUGFS/stats"; then
			return 0
		fi
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.2
	done
	log "daedalusd did not attach (see logs/daedalusd.log)"
	return 1
}

# daemon_stop [SIGNAL]: stop it and wait until the module saw it go.
daemon_stop() {
	[ -n "$DAEMON_PID" ] || return 0
	kill -"${1:-TERM}" "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
	local i
	for i in $(seq 1 50); do
		grep -qx 'daemon_attached: 0' "$DEBUGFS/stats" && return 0
		sleep 0.1
	done
	return 1
}

stat_of() { awk -v k="$1:" '$1 == k {print $2}' "$DEBUGFS/stats"; }

# daemon_confined: the attached daemon runs as the daedalus user (real,
# effective, saved and file system ids) with no capability, under its
# seccomp filter (mode 2) with no_new_privs, and its log says Landlock is
# fully enforced.
daemon_confined() {
	local status=/proc/$DAEMON_PID/status
	if awk -v u="$DAEMON_UID" -v g="$DAEMON_GID" '
		$1 == "Uid:" { uid = ($2 == u && $3 == u && $4 == u && $5 == u) }
		$1 == "Gid:" { gid = ($2 == g && $3 == g && $4 == g && $5 == g) }
		$1 == "Groups:" { groups = (NF == 1) }
		$1 ~ /^Cap(Inh|Prm|Eff|Amb):$/ && $2 !~ /^0+$/ { caps = 1 }
		END { exit !(uid && gid && groups && !caps) }' "$status"; then
		pass "daemon-unprivileged"
	else
		fail "daemon-unprivileged" "$(grep -E '^(Uid|Gid|Groups|Cap[A-Za-z]+):' "$status" | tr -s '\t\n' '  ')"
	fi
	local landlock
	landlock=$(grep -o 'Landlock [^:]*' "$OUT/logs/daedalusd.log" | tail -n1)
	if grep -qx $'Seccomp:\t2' "$status" && grep -qx $'NoNewPrivs:\t1' "$status" &&
		[[ "$landlock" =~ ^Landlock\ ABI\ [0-9]+\ fully\ enforced$ ]]; then
		pass "daemon-sandboxed"
		log "daedalusd: $landlock"
	else
		fail "daemon-sandboxed" "$(grep -E '^(Seccomp|NoNewPrivs):' "$status" | tr -s '\t\n' '  ')log: ${landlock:-no Landlock line} (logs/daedalusd.log)"
	fi
}

# wait_jobs N: until N more decode jobs have run (at most 60 s): "mid-stream"
# means jobs are flowing, however slowly TCG starts the client.
wait_jobs() {
	local want=$(($(stat_of jobs) + $1)) i
	for i in $(seq 1 300); do
		[ "$(stat_of jobs)" -ge "$want" ] && return 0
		sleep 0.2
	done
	return 1
}

# --- clients ------------------------------------------------------------------

# ffmpeg_decode CLIP OUTFILE [EXTRA INPUT ARGS...]: the stack's decode of a
# clip as framemd5, the same options as the software reference of clips.sh.
ffmpeg_decode() {
	local clip=$1 out=$2 pid
	shift 2
	timeout -k 5 "$CLIENT_TIMEOUT" ffmpeg -nostdin -v error -copyts \
		-c:v "$(clip_codec "$clip")_v4l2m2m" "$@" -i "$(clip_file "$clip")" \
		-fps_mode passthrough -autoscale 0 -pix_fmt yuv420p -f framemd5 "$out" &
	pid=$!
	stall_guard "$pid"
	wait "$pid"
}

# stall_guard PID: while PID (a client under timeout) runs and once decode
# jobs have flowed since it started, end it when no job has run for
# STALL_SECONDS (20): SIGTERM to its timeout, which passes it on and
# SIGKILLs 5 s later (exit 137). A client stuck waiting on itself
# (known-failures) ends there instead of at CLIENT_TIMEOUT, and stderr
# (the client's log) says "stalled".
STALL_SECONDS=${DAEDALUS_E2E_STALL_SECONDS:-20}
stall_guard() {
	local pid=$1 start last now idle=0 flowing=0
	start=$(stat_of jobs)
	last=$start
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		now=$(stat_of jobs)
		if [ "$now" != "$last" ]; then
			flowing=1
			last=$now
			idle=0
			continue
		fi
		[ "$flowing" = 1 ] || continue
		idle=$((idle + 1))
		if [ "$idle" -ge "$STALL_SECONDS" ]; then
			echo "e2e: stalled: no decode job for $STALL_SECONDS s after $((now - start)) job(s); the client is ended" >&2
			kill -TERM "$pid" 2>/dev/null
			return
		fi
	done
}

# stalled_in LOG: ": stalled" when stall_guard ended the client of LOG.
stalled_in() {
	grep -q '^e2e: stalled: ' "$1" 2>/dev/null && echo ": stalled"
}

# clip_codec CLIP: h264, hevc or vp9 (clips.sh names its HEVC and VP9
# clips after the codec); clip_file CLIP: the clip's container file.
clip_codec() {
	case $1 in
	hevc | vp9) echo "$1" ;;
	*) echo h264 ;;
	esac
}
clip_file() {
	if [ -f "$CLIPS/$1.ts" ]; then echo "$CLIPS/$1.ts"; else echo "$CLIPS/$1.webm"; fi
}

# same_frames A B: the framemd5 bodies are equal (every column: pts, dts,
# duration, size and MD5).
same_frames() {
	diff <(grep -v '^#' "$1" | tr -d ' ') <(grep -v '^#' "$2" | tr -d ' ') \
		>"$3" 2>&1
}

# pictures_in TRACE: CAPTURE buffers completed with a picture (bytesused
# not 0), inline and mapped jobs alike.
pictures_in() {
	grep -oE 'vb2_buf_done: .* type = 9, bytesused = [0-9]+' "$1" |
		awk '$NF + 0 > 0 {n++} END {print n + 0}'
}

# --- checks -------------------------------------------------------------------

group_compliance() {
	# tiny, the quickest clip: v4l2-compliance sets CAPTURE up for the
	# 1920x1080 announced at STREAMON(OUTPUT), so the 64x48 stream's first
	# header is a resolution change it must follow (SOURCE_CHANGE, the LAST
	# buffer, CAPTURE reallocated, DEC_CMD_START) in every streaming test.
	local clip=${COMPLIANCE_CLIP:-tiny}
	local name=v4l2-compliance-$clip-stream
	trace_start
	timeout -k 5 "$COMPLIANCE_TIMEOUT" v4l2-compliance -d "$DEV" \
		--streaming="$COMPLIANCE_FRAMES" --stream-from "$CLIPS/$clip.h264" \
		>"$OUT/logs/$name.log" 2>&1
	local rc=$?
	trace_stop "$name"
	local summary
	summary=$(grep -E '^Total for .*: [0-9]+, Succeeded: [0-9]+, Failed: [0-9]+' \
		"$OUT/logs/$name.log" | tail -n1)
	log "v4l2-compliance: ${summary:-no summary} (exit $rc)"
	log "v4l2-compliance: $(v4l2-compliance --version 2>&1 | head -n1)"
	local control=0
	if [[ "$summary" =~ Failed:\ ([0-9]+) ]] && [ "${BASH_REMATCH[1]}" = 0 ] &&
		[ "$rc" -eq 0 ]; then
		pass "v4l2-compliance"
	else
		fail "v4l2-compliance" "${summary:-no summary}, exit $rc: $(grep -m1 'fail:' "$OUT/logs/$name.log" | tr -d '\t') (logs/$name.log)"
		control=1
	fi
	# A decoder that v4l2-compliance does not recognise as one skips its
	# decoder tests without a word: insist that it saw a stateful decoder
	# and ran DECODER_CMD for real.
	if grep -q 'Detected Stateful Decoder' "$OUT/logs/$name.log" &&
		grep -qx $'\ttest VIDIOC_(TRY_)DECODER_CMD: OK' "$OUT/logs/$name.log"; then
		pass "v4l2-compliance-decoder-tests-ran"
	else
		fail "v4l2-compliance-decoder-tests-ran" \
			"not detected as a stateful decoder, or DECODER_CMD not tested (logs/$name.log)"
	fi
	# After a failure, the kernel's own vim2m under the same
	# v4l2-compliance, for the record only: a failure both share is the
	# tool's, not daedalus'.
	local d
	if [ "$control" = 1 ]; then
		for d in /sys/class/video4linux/video*; do
			[ "$(cat "$d/name")" = vim2m ] || continue
			timeout -k 5 300 v4l2-compliance -d "/dev/${d##*/}" -s \
				>"$OUT/logs/v4l2-compliance-vim2m.log" 2>&1
			log "vim2m control: $(grep -E '^Total for' "$OUT/logs/v4l2-compliance-vim2m.log" | tail -n1)"
		done
	fi
	# The streaming tests passed and the clip really went through the
	# daemon: decode jobs ran and pictures came back.
	local runs pics
	runs=$(grep -c ' daedalus_device_run:' "$OUT/traces/$name.trace")
	pics=$(pictures_in "$OUT/traces/$name.trace")
	if grep -qE $'^\ttest MMAP \\(select(, REQBUFS)?\\): OK$' "$OUT/logs/$name.log" &&
		[ "$runs" -gt 0 ] && [ "$pics" -gt 0 ]; then
		pass "v4l2-compliance-streamed"
	else
		fail "v4l2-compliance-streamed" "MMAP streaming: $(grep -m1 'test MMAP (select' "$OUT/logs/$name.log" | tr -d '\t'); decode jobs $runs, pictures $pics"
	fi
}

group_ffmpeg() {
	local clip
	for clip in ${FFMPEG_CLIPS:-bframes odd reschange tiny}; do
		ffmpeg_check "$clip"
	done
}

# ffmpeg_check CLIP: ffmpeg h264_v4l2m2m's framemd5 of the clip equals the
# software decode's, every column of every picture.
ffmpeg_check() {
	local clip=$1 name=ffmpeg-$1-decode out rc m0 jobs0
	out=$WORK/$name.framemd5
	m0=$(stat_of mapped_jobs)
	jobs0=$(stat_of jobs)
	trace_start
	ffmpeg_decode "$clip" "$out" 2>"$OUT/logs/$name.log"
	rc=$?
	trace_stop "$name"
	# ffmpeg's buffers are MMAP buffers: every job goes zero-copy.
	log "$name: $(($(stat_of mapped_jobs) - m0)) of $(($(stat_of jobs) - jobs0)) jobs mapped"
	if [ "$clip" = bframes ]; then
		check "ffmpeg-bframes-zero-copy" \
			"$([ $(($(stat_of mapped_jobs) - m0)) -eq $(($(stat_of jobs) - jobs0)) ] &&
				[ "$(stat_of jobs)" -gt "$jobs0" ]; echo $?)" \
			"$(($(stat_of mapped_jobs) - m0)) of $(($(stat_of jobs) - jobs0)) jobs mapped"
	fi
	if [ "$rc" -ne 0 ]; then
		fail "$name" "ffmpeg exit $rc$(signal_of "$rc")$(stalled_in "$OUT/logs/$name.log") (logs/$name.log)"
		return
	fi
	cp "$out" "$OUT/logs/$name.framemd5"
	if same_frames "$CLIPS/$clip.framemd5" "$out" "$OUT/logs/$name.diff"; then
		pass "$name"
	else
		fail "$name" "framemd5 differs from the software decode: $(grep -c '^[<>]' "$OUT/logs/$name.diff") line(s) (logs/$name.diff)"
	fi
}

# signal_of RC: ", killed by SIGNAME" for a status a signal ended.
signal_of() {
	[ "$1" -gt 128 ] && [ "$1" -lt 160 ] || return 0
	printf ', killed by SIG%s' "$(kill -l "$(($1 - 128))")"
}

# mpv_decode CLIP NAME CONTAINER MPV-OPTION...: mpv decodes the clip,
# remuxed into CONTAINER (ts: the clip as made; mkv: Matroska), through
# the node, and its encoding mode writes each picture's MD5 (framemd5 of
# yuv420p, display order). The MD5s, in order, must be the software
# decode's, and the pictures must have come from the node (mpv falls back
# to software decoding when a hardware decoder fails to open). mpv re-sends
# the first packet of a Matroska file once the decoder opened: the node
# decodes it twice, so one repeat of the first picture is allowed, and
# only when the trace shows that first OUTPUT buffer queued twice.
# With MPV_STRACE set, mpv runs under strace (poll and ioctl), and a crash
# is told apart: FFmpeg's v4l2_m2m (5.1, still in 6.0) reads its
# CAPTURE buffer array before allocating it when its first poll() returns
# POLLERR, which V4L2 requires before STREAMON (docs/clients.md).
mpv_decode() {
	local clip=$1 name=$2 container=$3 rc in
	shift 3
	in=$(clip_file "$clip")
	if [ "$container" = mkv ]; then
		ffmpeg -nostdin -v error -y -i "$in" -c copy "$WORK/$clip.mkv" || {
			fail "$name" "cannot remux $in into Matroska"
			return
		}
		in=$WORK/$clip.mkv
	fi
	local trace=()
	[ -n "${MPV_STRACE:-}" ] && trace=(strace -f -qq -o "$WORK/$name.strace" -e trace=poll,ioctl)
	trace_start
	timeout -k 5 "$CLIENT_TIMEOUT" "${trace[@]}" mpv --no-config --msg-level=all=v \
		--no-audio "$@" --vf=format=yuv420p --o="$WORK/$name.framemd5" \
		--of=framemd5 --ovc=rawvideo "$in" >"$OUT/logs/$name.log" 2>&1
	rc=$?
	trace_stop "$name" "$([ "$rc" -ne 0 ] && echo empty-ok)"
	local t=$OUT/traces/$name.trace
	if [ "$rc" -ne 0 ]; then
		[ -f "$WORK/$name.strace" ] && cp "$WORK/$name.strace" "$OUT/logs/"
		fail "$name" "mpv exit $rc$(signal_of "$rc")$(mpv_crash_site "$WORK/$name.strace") (logs/$name.log)"
		return
	fi
	if [ "$(pictures_in "$t")" -eq 0 ]; then
		fail "$name" "no picture came from the node: mpv decoded in software (logs/$name.log)"
		return
	fi
	grep -v '^#' "$WORK/$name.framemd5" | awk -F', *' '{print $6}' >"$WORK/$name.got"
	local resent
	resent=$(grep -E 'vb2_qbuf: .* type = 10,' "$t" | head -n2 |
		grep -oE 'bytesused = [0-9]+, timestamp = [0-9]+' | uniq | wc -l)
	if [ "$container" = mkv ] && [ "$resent" = 1 ] &&
		[ "$(sed -n 1p "$WORK/$name.got")" = "$(sed -n 2p "$WORK/$name.got")" ]; then
		log "$name: mpv queued its first packet twice; its repeated first picture is counted once"
		sed -i 1d "$WORK/$name.got"
	fi
	if diff "$CLIPS/$clip.i420md5" "$WORK/$name.got" >"$OUT/logs/$name.diff" 2>&1; then
		pass "$name"
	else
		fail "$name" "$(wc -l <"$WORK/$name.got") pictures for $(wc -l <"$CLIPS/$clip.i420md5"), $(grep -c '^[<>]' "$OUT/logs/$name.diff") differing line(s) (logs/$name.diff)"
	fi
}

# mpv_crash_site STRACE: where the thread that took SIGSEGV was, from
# strace's log: ": after poll() returned POLLERR with no CAPTURE buffers
# requested" when its last call was a poll() that returned POLLERR and no
# thread had asked for CAPTURE buffers yet; otherwise its last call.
mpv_crash_site() {
	local f=$1 pid last
	[ -f "$f" ] || return 0
	pid=$(awk '/--- SIGSEGV/ {print $1; exit}' "$f")
	[ -n "$pid" ] || return 0
	last=$(awk -v p="$pid" '$1 == p && !/^[0-9]+ +---/ {l = $0} /--- SIGSEGV/ && $1 == p {print l; exit}' "$f")
	if [[ "$last" == *"poll("*"revents=POLLERR"* ]] &&
		! sed -n "1,/--- SIGSEGV/p" "$f" | grep -q 'VIDIOC_REQBUFS, {.*V4L2_BUF_TYPE_VIDEO_CAPTURE'; then
		printf ': after poll() returned POLLERR with no CAPTURE buffers requested'
	else
		printf ': last call %s' "$(sed -E 's/^[0-9]+ +//' <<<"$last" | cut -c1-160)"
	fi
}

# v4l2ctl_decode CLIP NAME V4L2-CTL PIXFMT: v4l2-ctl streams the Annex B
# clip in (OUTPUT buffers of its default size: a small clip is one
# buffer) with CAPTURE in PIXFMT (NV12 or YU12), and writes every CAPTURE
# picture (tightly packed at the coded size, the layout of the node's
# single plane) to a file. Cut into pictures of each one's size (the
# clip's .sizes) and cropped to I420, the file must be the software
# decode's pictures in order.
v4l2ctl_decode() {
	local clip=$1 name=$2 tool=$3 pixfmt=$4 rc
	trace_start
	timeout -k 5 "$CLIENT_TIMEOUT" "$tool" -d "$DEV" --set-fmt-video pixelformat="$pixfmt" \
		--stream-mmap --stream-out-mmap --stream-from "$CLIPS/$clip.h264" \
		--stream-to "$WORK/$name.yuv" >"$OUT/logs/$name.log" 2>&1
	rc=$?
	trace_stop "$name"
	log "$name: $("$tool" --version 2>&1 | head -n1)"
	if [ "$rc" -ne 0 ]; then
		fail "$name" "v4l2-ctl exit $rc$(signal_of "$rc") (logs/$name.log)"
		return
	fi
	python3 - "$WORK/$name.yuv" "$CLIPS/$clip.sizes" "$pixfmt" >"$WORK/$name.got" <<'PY'
import hashlib, sys
data = open(sys.argv[1], "rb").read()
sizes = [tuple(map(int, l.split())) for l in open(sys.argv[2]) if l.strip()]
nv12 = sys.argv[3] == "NV12"
at = 0
for w, h in sizes:
    cw, ch = -(-w // 16) * 16, -(-h // 16) * 16
    n = cw * ch * 3 // 2
    if at + n > len(data):
        break
    pic = data[at:at + n]
    at += n
    y = b"".join(pic[r * cw:r * cw + w] for r in range(h))
    c = pic[cw * ch:]
    w2, h2 = (w + 1) // 2, (h + 1) // 2
    if nv12:
        u = b"".join(c[r * cw:r * cw + 2 * w2:2] for r in range(h2))
        v = b"".join(c[r * cw + 1:r * cw + 2 * w2:2] for r in range(h2))
    else:
        q = (cw // 2) * (ch // 2)
        u = b"".join(c[r * (cw // 2):r * (cw // 2) + w2] for r in range(h2))
        v = b"".join(c[q + r * (cw // 2):q + r * (cw // 2) + w2] for r in range(h2))
    print(hashlib.md5(y + u + v).hexdigest())
if at != len(data):
    print(f"{len(data) - at} bytes left over")
PY
	if diff "$CLIPS/$clip.i420md5" "$WORK/$name.got" >"$OUT/logs/$name.diff" 2>&1; then
		pass "$name"
	else
		fail "$name" "$(grep -c . "$WORK/$name.got") of $(wc -l <"$CLIPS/$clip.i420md5") pictures written, $(grep -c '^[<>]' "$OUT/logs/$name.diff") differing line(s) (logs/$name.diff)"
	fi
}

# clients: what users pick, on the clips that break decoders, each
# compared picture by picture with the software decode.
group_clients() {
	local clip
	for clip in one opengop baseline hevc vp9; do
		ffmpeg_check "$clip"
	done
	# GStreamer with each CAPTURE format the node offers, forced by caps,
	# and decodebin as applications plug it.
	gst_registry
	gst_decode bframes gst-bframes-nv12 v4l2h264dec ! video/x-raw,format=NV12
	gst_decode bframes gst-bframes-i420 v4l2h264dec ! video/x-raw,format=I420
	gst_decode opengop gst-opengop-decodebin decodebin
	gst_decode hevc
	gst_decode vp9
	# mpv: its only way to the node is the hwdec wrapper (copy-back);
	# --vd=lavc:h264_v4l2m2m decodes in software, --vd=h264_v4l2m2m takes
	# the same path as hwdec. From MPEG-TS, and from Matroska, where mpv
	# sends a packet before it asks for a picture (docs/clients.md).
	MPV_STRACE=1 mpv_decode bframes mpv-bframes-ts-hwdec-copy ts --hwdec=v4l2m2m-copy
	mpv_decode bframes mpv-bframes-mkv-hwdec-copy mkv --hwdec=v4l2m2m-copy
	# v4l2-ctl: the whole stream in one OUTPUT buffer, each CAPTURE
	# format, through a change to a smaller and to a larger size.
	v4l2ctl_decode reschange v4l2-ctl-reschange-nv12 v4l2-ctl NV12
	v4l2ctl_decode grow v4l2-ctl-grow-yu12 v4l2-ctl YU12
	# A stream cut short: its concealed last picture is the software
	# decode's only with the reference's one decoder thread.
	daemon_stop TERM
	if daemon_start --threads 1; then
		ffmpeg_check cut
		gst_decode cut
		mpv_decode cut mpv-cut-mkv-hwdec-copy mkv --hwdec=v4l2m2m-copy
		daemon_stop TERM
	else
		fail "ffmpeg-cut-decode" "daedalusd --threads 1 did not attach"
	fi
	if daemon_start; then
		pass "daemon-restart"
	else
		fail "daemon-restart" "daedalusd did not attach again after the cut clip"
	fi
}

# gst_registry: GStreamer's plugin registry, made once outside the
# clients' timeouts. A first GStreamer run scans every plugin (and probes
# every video node); under TCG that alone can take longer than a client's
# whole budget. The host scans every plugin before the boot (run.sh,
# DAEDALUS_E2E_GST_REGISTRY: the guest runs the host's userland), so here
# only the plugins whose devices differ are scanned again (v4l2's
# /dev/video*, v4l2codecs' /dev/media*), and v4l2h264dec must then be in it.
# Reported on the first call of a run, and again only when a later call
# has to make it again.
GST_REGISTRY=$WORK/gst-registry.bin
export GST_REGISTRY
GST_REGISTRY_REPORTED=
gst_registry() {
	if [ -n "$GST_REGISTRY_REPORTED" ] && [ -s "$GST_REGISTRY" ]; then
		return 0
	fi
	if [ ! -s "$GST_REGISTRY" ] && [ -s "${DAEDALUS_E2E_GST_REGISTRY:-}" ]; then
		cp "$DAEDALUS_E2E_GST_REGISTRY" "$GST_REGISTRY"
	fi
	timeout -k 5 600 gst-inspect-1.0 v4l2h264dec >"$OUT/logs/gst-registry.log" 2>&1
	check "gst-registry" $? "gst-inspect-1.0 v4l2h264dec failed (logs/gst-registry.log)"
	GST_REGISTRY_REPORTED=1
}

group_gst() {
	local clip
	gst_registry
	for clip in ${GST_CLIPS:-bframes reschange}; do
		gst_decode "$clip"
	done
	# A change to a larger size as applications decode it: decodebin
	# plugs v4l2h264dec, negotiates NV12, and after the change
	# renegotiates I420 (REQ_CAPTURE_FMT); and NV12 kept throughout.
	gst_decode grow gst-grow-decodebin decodebin
	gst_decode grow gst-grow-nv12 v4l2h264dec ! video/x-raw,format=NV12
}

# gst_decode CLIP [NAME DECODER...]: the decoder (v4l2h264dec by default)
# into checksumsink, against the reference; the trace must show the
# node's pictures (decodebin could plug a software decoder).
gst_decode() {
	# 320x240 and 176x144: GStreamer's I420 strides are the width, so each
	# buffer's MD5 is the MD5 of the tightly packed picture the reference
	# hashed.
	local clip=$1 name=gst-$1-decode codec demux=tsdemux
	codec=$(clip_codec "$clip")
	[ "$codec" = vp9 ] && demux=matroskademux
	local parser=${codec/hevc/h265}parse decoder=("v4l2${codec/hevc/h265}dec")
	if [ $# -ge 3 ]; then
		name=$2
		shift 2
		decoder=("$@")
	fi
	trace_start
	timeout -k 5 "$CLIENT_TIMEOUT" \
		gst-launch-1.0 -q filesrc location="$(clip_file "$clip")" ! "$demux" ! \
		"$parser" ! "${decoder[@]}" ! videoconvert ! video/x-raw,format=I420 ! \
		checksumsink hash=md5 >"$OUT/logs/$name.log" 2>&1
	local rc=$?
	trace_stop "$name"
	if [ "$rc" -ne 0 ]; then
		fail "$name" "gst-launch exit $rc$(signal_of "$rc") (logs/$name.log)"
		return
	fi
	if [ "$(pictures_in "$OUT/traces/$name.trace")" -eq 0 ]; then
		fail "$name" "no picture came from the node (${decoder[*]} did not use it)"
		return
	fi
	# checksumsink prints "H:MM:SS.NNNNNNNNN md5" per buffer; the reference
	# has pts in its "#tb" (1/25 s from MPEG-TS, 1/1000 s from WebM). The
	# demuxer maps the first PTS to its segment start, so timestamps are
	# compared relative to the first picture's.
	awk -F', *' '/^#tb 0:/ { sub(/^#tb 0: */, ""); split($0, r, "/"); num = r[1]; den = r[2]; next }
		!/^#/ {
		ns = $3 * num * 1000000000 / den; if (first == "") first = ns
		printf "%.0f %s\n", ns - first, $6
	}' "$CLIPS/$clip.framemd5" >"$WORK/$name.want"
	awk '$1 ~ /^[0-9]+:[0-9]+:[0-9.]+$/ {
		split($1, t, ":"); split(t[3], s, ".")
		ns = ((t[1] * 60 + t[2]) * 60 + s[1]) * 1000000000 + s[2]
		if (first == "") first = ns
		printf "%.0f %s\n", ns - first, $2
	}' "$OUT/logs/$name.log" >"$WORK/$name.got"
	# reschange and grow are two streams back to back with a PTS jump
	# between them, which tsdemux closes up: there only the pictures, in
	# order, count.
	if [ "$clip" = reschange ] || [ "$clip" = grow ]; then
		local f
		for f in want got; do
			cut -d' ' -f2 "$WORK/$name.$f" >"$WORK/$name.$f.md5"
			mv "$WORK/$name.$f.md5" "$WORK/$name.$f"
		done
	fi
	if [ ! -s "$WORK/$name.got" ]; then
		fail "$name" "no picture reached checksumsink ($(pictures_in "$OUT/traces/$name.trace") from the daemon in the trace)"
	elif diff "$WORK/$name.want" "$WORK/$name.got" >"$OUT/logs/$name.diff"; then
		pass "$name"
	else
		fail "$name" "checksums or timestamps differ from the software decode: $(grep -c '^[<>]' "$OUT/logs/$name.diff") line(s) (logs/$name.diff)"
	fi
}

# group_stateless: the stateless (Request API) node. v4l2-compliance must
# see a stateless decoder there and pass; after a failure, the kernel's
# visl goes under the same tool, for the record only (its module, from the
# test kernel's build, is loaded for that and removed again, so no client
# ever finds a second stateless H.264 decoder); GStreamer's v4l2slh264dec decodes
# through the node, picture for picture the software decode's, through a
# change to a smaller and to a larger size.
group_stateless() {
	local d sl= name=v4l2-compliance-stateless rc summary
	for d in /sys/class/video4linux/video*; do
		[ "$(cat "$d/name")" = daedalus-stateless ] && sl=/dev/${d##*/}
	done
	if [ -z "$sl" ]; then
		fail "stateless-find-device" "no video device named daedalus-stateless"
		return
	fi
	pass "stateless-find-device"
	log "stateless decoder at $sl"
	trace_start
	timeout -k 5 "$COMPLIANCE_TIMEOUT" v4l2-compliance -d "$sl" \
		>"$OUT/logs/$name.log" 2>&1
	rc=$?
	trace_stop "$name" empty-ok
	summary=$(grep -E '^Total for .*: [0-9]+, Succeeded: [0-9]+, Failed: [0-9]+' \
		"$OUT/logs/$name.log" | tail -n1)
	log "v4l2-compliance (stateless): ${summary:-no summary} (exit $rc)"
	if [[ "$summary" =~ Failed:\ ([0-9]+) ]] && [ "${BASH_REMATCH[1]}" = 0 ] &&
		[ "$rc" -eq 0 ] && grep -q 'Detected Stateless Decoder' "$OUT/logs/$name.log"; then
		pass "$name"
	else
		fail "$name" "${summary:-no summary}, exit $rc$(grep -q 'Detected Stateless Decoder' "$OUT/logs/$name.log" || echo ', not detected as a stateless decoder'): $(grep -m1 'fail:' "$OUT/logs/$name.log" | tr -d '\t') (logs/$name.log)"
		visl_control
	fi
	gst_registry
	gst_decode bframes gst-stateless-bframes v4l2slh264dec
	gst_decode reschange gst-stateless-reschange v4l2slh264dec
	gst_decode grow gst-stateless-grow v4l2slh264dec
}

# visl_control: v4l2-compliance on visl, logged after the stateless
# node's failed, for the record only, as vim2m's after the stateful one's
# (run.sh copies the module and what it needs into DAEDALUS_E2E_MODULES).
visl_control() {
	local dir=${DAEDALUS_E2E_MODULES:-} m d
	if [ -z "$dir" ] || [ ! -f "$dir/visl.ko" ]; then
		log "visl control: no visl module to load"
		return
	fi
	for m in $(cat "$dir/order"); do
		insmod "$dir/$m" 2>>"$OUT/logs/visl-insmod.log"
	done
	for d in /sys/class/video4linux/video*; do
		[ "$(cat "$d/name")" = visl ] || continue
		timeout -k 5 300 v4l2-compliance -d "/dev/${d##*/}" \
			>"$OUT/logs/v4l2-compliance-visl.log" 2>&1
		log "visl control: $(grep -E '^Total for' "$OUT/logs/v4l2-compliance-visl.log" | tail -n1)"
	done
	for m in $(tac "$dir/order"); do
		rmmod "${m%.ko}" 2>>"$OUT/logs/visl-insmod.log"
	done
}

group_streams() {
	local name rc
	# Two clients at once, each exact.
	name=ffmpeg-bframes-two-clients
	trace_start
	ffmpeg_decode bframes "$WORK/$name.1" 2>"$OUT/logs/$name.1.log" &
	local p1=$!
	ffmpeg_decode odd "$WORK/$name.2" 2>"$OUT/logs/$name.2.log" &
	local p2=$!
	wait $p1
	local r1=$?
	wait $p2
	local r2=$?
	trace_stop "$name"
	if [ $r1 -eq 0 ] && [ $r2 -eq 0 ] &&
		same_frames "$CLIPS/bframes.framemd5" "$WORK/$name.1" "$OUT/logs/$name.1.diff" &&
		same_frames "$CLIPS/odd.framemd5" "$WORK/$name.2" "$OUT/logs/$name.2.diff"; then
		pass "$name"
	else
		fail "$name" "exits $r1/$r2 or frames differ (logs/$name.*)"
	fi

	# Close mid-stream: the client stops after a few pictures with jobs in
	# flight and closes; then a full decode is exact again.
	name=ffmpeg-long-close-mid-stream
	trace_start
	timeout -k 5 "$CLIENT_TIMEOUT" ffmpeg -nostdin -v error -c:v h264_v4l2m2m \
		-i "$CLIPS/long.ts" -frames:v 5 -f null - >"$OUT/logs/$name.log" 2>&1
	rc=$?
	trace_stop "$name"
	check "$name" $rc "ffmpeg exit $rc (logs/$name.log)"

	# Killed mid-stream: the file is closed by the kernel at exit.
	name=ffmpeg-long-killed-mid-stream
	trace_start
	ffmpeg -nostdin -v error -c:v h264_v4l2m2m -i "$CLIPS/long.ts" \
		-f null - >"$OUT/logs/$name.log" 2>&1 &
	local pid=$! flowing=0
	wait_jobs 20 && flowing=1
	kill -KILL $pid 2>/dev/null
	wait $pid 2>/dev/null
	sleep 0.5
	trace_stop "$name"
	if [ $flowing = 0 ]; then
		fail "$name" "no decode jobs within 60 s of the client's start"
	elif [ "$(stat_of in_flight)" = 0 ] && [ "$(stat_of parked)" = 0 ]; then
		pass "$name"
	else
		fail "$name" "jobs left: in_flight $(stat_of in_flight), parked $(stat_of parked)"
	fi

	# Seek: GStreamer flushes v4l2h264dec (both queues off and on, jobs in
	# flight) and decodes from the start again; every picture before and
	# after the seek is the software decode's, timestamps included.
	name=gst-bframes-seek
	gst_registry
	trace_start
	timeout -k 5 "$CLIENT_TIMEOUT" \
		/usr/bin/python3 "$E2E/gst_seek.py" "$CLIPS/bframes.ts" 10 \
		>"$OUT/logs/$name.out" 2>"$OUT/logs/$name.log"
	rc=$?
	trace_stop "$name"
	awk -F', *' '!/^#/ {
		ns = $3 * 40000000; if (first == "") first = ns
		printf "%.0f %s\n", ns - first, $6
	}' "$CLIPS/bframes.framemd5" >"$WORK/$name.want"
	{
		head -n 10 "$WORK/$name.want"
		echo seek
		cat "$WORK/$name.want"
	} >"$WORK/$name.expect"
	awk '$1 == "seek" {print; next}
		{ if (first == "") first = $1; printf "%.0f %s\n", $1 - first, $2 }' \
		"$OUT/logs/$name.out" >"$WORK/$name.got"
	local offon
	offon=$(grep -oE 'daedalus_stream: ctx=[0-9]+ queue=OUTPUT (on|off)' \
		"$OUT/traces/$name.trace" | awk '{print $NF}' | tr '\n' ' ')
	if [ $rc -eq 0 ] && diff "$WORK/$name.expect" "$WORK/$name.got" >"$OUT/logs/$name.diff" &&
		[[ "$offon" == "on off on "* ]]; then
		pass "$name"
	else
		fail "$name" "exit $rc, OUTPUT stream: ${offon:-none}, $(grep -c '^[<>]' "$OUT/logs/$name.diff") differing line(s) (logs/$name.*)"
	fi

	# Drain with v4l2-ctl: the whole clip in, DEC_CMD_STOP at its end;
	# every picture must come back before the LAST buffer and the EOS
	# event, and v4l2-ctl must end by itself. The pictures are counted in
	# the trace: v4l2-ctl 1.22 writes none of them to --stream-to (it keeps
	# comparing bytesused with the sizeimage from before SOURCE_CHANGE).
	name=v4l2-ctl-bframes-drain
	trace_start
	timeout -k 5 "$CLIENT_TIMEOUT" v4l2-ctl -d "$DEV" --stream-mmap \
		--stream-out-mmap --stream-from "$CLIPS/bframes.h264" \
		--stream-to "$WORK/$name.nv12" >"$OUT/logs/$name.log" 2>&1
	rc=$?
	trace_stop "$name"
	local frames pics last
	frames=$(grep "^bframes " "$CLIPS/clips.txt" | awk '{print $3}')
	pics=$(pictures_in "$OUT/traces/$name.trace")
	last=$(grep -c 'daedalus_drain: .* phase=last' "$OUT/traces/$name.trace")
	if [ $rc -eq 0 ] && [ "$pics" -eq "$frames" ] && [ "$last" -ge 1 ] &&
		grep -q 'EOS EVENT' "$OUT/logs/$name.log"; then
		pass "$name"
	else
		fail "$name" "exit $rc, $pics of $frames pictures, $last LAST, EOS $(grep -c 'EOS EVENT' "$OUT/logs/$name.log") (logs/$name.log)"
	fi

	# After all of it: nothing left in flight, then a clean exact decode.
	name=ffmpeg-bframes-after-streams
	trace_start
	ffmpeg_decode bframes "$WORK/$name" 2>"$OUT/logs/$name.log"
	rc=$?
	trace_stop "$name"
	if [ $rc -eq 0 ] && same_frames "$CLIPS/bframes.framemd5" "$WORK/$name" "$OUT/logs/$name.diff"; then
		pass "$name"
	else
		fail "$name" "exit $rc or frames differ (logs/$name.diff)"
	fi
}

# daemon_killed_check NAME PID [JOBS]: once JOBS (20) decode jobs ran for
# the client PID, SIGKILL the daemon; the client must exit with an error
# by itself (not 0, not through timeout's 124/137) and leave nothing in
# flight.
daemon_killed_check() {
	local name=$1 pid=$2 flowing=0 rc
	wait_jobs "${3:-20}" && flowing=1
	daemon_stop KILL
	wait "$pid"
	rc=$?
	trace_stop "$name"
	if [ $flowing = 0 ]; then
		fail "$name" "no decode jobs within 60 s of the client's start"
	elif [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $rc -ne 137 ] &&
		[ "$(stat_of in_flight)" = 0 ] && [ "$(stat_of parked)" = 0 ]; then
		pass "$name"
		log "$name: client exit $rc: $(grep -v '^\s*$' "$OUT/logs/$name.log" | tail -n 1)"
	else
		fail "$name" "client exit $rc (0: no error seen; 124/137: hung), in_flight $(stat_of in_flight), parked $(stat_of parked) (logs/$name.log)"
	fi
}

group_faults() {
	local name rc pid
	# Daemon killed mid-stream: the client gets errors and ends, no hang.
	# The daemon dies mid-stream: the module returns every claimed and
	# parked buffer with ERROR and puts both queues of each streaming
	# context in error (vb2_queue_error: POLLERR, -EIO on QBUF/DQBUF).
	# Each client must end with an error of its own, not hang.
	#
	# ffmpeg's v4l2m2m wrapper (5.1 and later) turns POLLERR into EAGAIN
	# and never reports it; its CLI prints each as "Error while decoding
	# stream" and, at the end of input, waits for pictures forever. -xerror
	# (exit on decode error) is how an ffmpeg user gets the error out.
	name=ffmpeg-long-daemon-killed
	trace_start
	timeout -k 5 "$CLIENT_TIMEOUT" ffmpeg -nostdin -v error -xerror -c:v h264_v4l2m2m \
		-i "$CLIPS/long.ts" -f null - >"$OUT/logs/$name.log" 2>&1 &
	daemon_killed_check "$name" $!

	# GStreamer's v4l2h264dec: POLLERR is an error message on the bus.
	name=gst-long-daemon-killed
	gst_registry
	if daemon_start; then
		trace_start
		timeout -k 5 "$CLIENT_TIMEOUT" \
			gst-launch-1.0 -q filesrc location="$CLIPS/long.ts" ! tsdemux ! \
			h264parse ! v4l2h264dec ! fakesink >"$OUT/logs/$name.log" 2>&1 &
		daemon_killed_check "$name" $!
	else
		fail "$name" "daedalusd did not re-attach"
	fi

	# Raw garbage on /dev/daedalus while nobody else holds it: every write
	# refused with a typed error and counted.
	name=garbage-writes
	local before after
	before=$(awk '$1 ~ /^rejected_/ {s += $2} END {print s + 0}' "$DEBUGFS/stats")
	python3 - <<'EOF' >"$OUT/logs/$name.log" 2>&1
import errno
import os
import random
import struct

random.seed(8)
fd = os.open("/dev/daedalus", os.O_RDWR | os.O_NONBLOCK)
refused = 0
cases = [b"", b"\x00" * 3, os.urandom(16), os.urandom(64), os.urandom(4096)]
# A plausible header (magic from the uapi) with nonsense after it.
cases += [struct.pack("<IHHIIQ", 0x534C4444, 1, 0x8002, 8, 0, 0) + os.urandom(8)]
cases += [bytes(random.getrandbits(8) for _ in range(random.randint(1, 256)))
          for _ in range(50)]
accepted = 0
for c in cases:
    try:
        os.write(fd, c)
        accepted += 1
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.EPROTO, errno.EFAULT, errno.EAGAIN):
            raise
        refused += 1
os.close(fd)
print(f"refused {refused} accepted {accepted}")
EOF
	rc=$?
	after=$(awk '$1 ~ /^rejected_/ {s += $2} END {print s + 0}' "$DEBUGFS/stats")
	if [ $rc -eq 0 ] && [ "$after" -gt "$before" ] &&
		grep -q 'accepted 0$' "$OUT/logs/$name.log"; then
		pass "$name"
	else
		fail "$name" "exit $rc, rejected counters $before -> $after, $(cat "$OUT/logs/$name.log" | tail -n1)"
	fi

	# Zero-copy: a daemon (mapped_revoke.py) that takes mapped jobs from a
	# real client: read-only bitstream planes, refused bad offsets and
	# lengths, and every mapping revoked (SIGBUS) once its buffer is done.
	# v4l2-ctl fills its OUTPUT buffers whole (1555200 bytes at the default
	# format): the long clip eight times over makes three jobs with sources.
	name=mapped-revoke
	local i
	for i in 1 2 3 4 5 6 7 8; do cat "$CLIPS/long.h264"; done >"$WORK/long8.h264"
	trace_start
	timeout -k 5 "$CLIENT_TIMEOUT" python3 "$E2E/mapped_revoke.py" "$DEV" \
		"$WORK/long8.h264" "$DEBUGFS/stats" >"$OUT/logs/$name.log" 2>&1
	rc=$?
	trace_stop "$name"
	# The contract of a mapped job, and (its own check) the inline rewrite
	# of one the watchdog ends unread.
	local contract
	contract=$(grep -E '^FAILED|Error|child' "$OUT/logs/$name.log" |
		grep -vE 'second REQ_DECODE|ended unread' | head -n1)
	if [ -z "$contract" ] &&
		[ "$(grep -c '^ok: .*SIGBUS' "$OUT/logs/$name.log")" -eq 2 ] &&
		[ "$(stat_of in_flight)" = 0 ]; then
		pass "$name"
	else
		fail "$name" "exit $rc, in_flight $(stat_of in_flight): ${contract:-no SIGBUS seen} (logs/$name.log)"
	fi
	if grep -q '^ok: a job ended unread comes inline' "$OUT/logs/$name.log"; then
		pass "mapped-inline-after-expiry"
	else
		fail "mapped-inline-after-expiry" "$(grep -m1 -E 'second REQ_DECODE|ended unread' "$OUT/logs/$name.log") (logs/$name.log)"
	fi

	# The scripted backend answering nonsense in protocol form, on the tiny
	# clip (12 pictures: 12 jobs with a source, then the drain's). Each
	# step names a job that exists: job 1's source consumed twice
	# (dup_src_consumed); job 2's picture twice (dup_has_pixels); job 2's
	# source is never consumed, so job 3 arrives only after the watchdog
	# expired job 2 and freed its slot. Then job 3 consumed in error, and
	# three replies to freed jobs: job 2's source, job 3's picture again,
	# and job 1's parked picture (accepted) sent twice (stale_cookie: a
	# slot's generation moves on when its job is freed; a never-issued
	# cookie, unknown_cookie, is garbage-writes' and the KUnit suite's).
	# Every later job expires unanswered.
	name=ffmpeg-tiny-scripted-garbage
	cat >"$WORK/garbage.script" <<'EOF'
info 64x48 dpb=2
frame 1 consumed
frame 1 consumed
frame 2 pixels ts=src:1
frame 2 pixels ts=src:1
frame 3 consumed+pixels+error
frame 2 consumed
frame 3 pixels
frame 1 pixels ts=src:1
frame 1 pixels
EOF
	chmod 0644 "$WORK/garbage.script"
	# The refusals the script must cause, by reject counter: at least.
	local want="dup_src_consumed:1 dup_has_pixels:1 stale_cookie:3" w k n
	local -A r0
	for w in $want; do r0[${w%%:*}]=$(stat_of "rejected_${w%%:*}"); done
	if daemon_start --backend scripted --script "$WORK/garbage.script"; then
		trace_start
		timeout -k 5 30 ffmpeg -nostdin -v error -c:v h264_v4l2m2m \
			-i "$CLIPS/tiny.ts" -f null - >"$OUT/logs/$name.log" 2>&1
		rc=$?
		trace_stop "$name"
		daemon_stop TERM
		# The client may fail or time out waiting for pictures that never
		# come; what counts is that the kernel refused every reply the
		# script made garbage of, and that no job is left behind.
		local got="" short=""
		for w in $want; do
			k=${w%%:*}
			n=$(($(stat_of "rejected_$k") - ${r0[$k]}))
			got+=" $k+$n"
			[ "$n" -ge "${w#*:}" ] || short+=" $k+$n (want ${w#*:})"
		done
		log "scripted garbage: client exit $rc, rejected$got"
		if [ -n "$short" ]; then
			fail "$name" "the script's replies were not all refused:$short (logs/daedalusd.log, traces/$name.trace)"
		elif [ "$(stat_of in_flight)" = 0 ] && [ "$(stat_of parked)" = 0 ]; then
			pass "$name"
		else
			fail "$name" "in_flight $(stat_of in_flight) parked $(stat_of parked) after the client"
		fi
	else
		fail "$name" "scripted daedalusd did not attach"
	fi

	# Restarted: the next stream decodes exactly.
	name=ffmpeg-bframes-after-restart
	if daemon_start; then
		trace_start
		ffmpeg_decode bframes "$WORK/$name" 2>"$OUT/logs/$name.log"
		rc=$?
		trace_stop "$name"
		if [ $rc -eq 0 ] && same_frames "$CLIPS/bframes.framemd5" "$WORK/$name" "$OUT/logs/$name.diff"; then
			pass "$name"
		else
			fail "$name" "exit $rc or frames differ (logs/$name.diff)"
		fi
	else
		fail "$name" "daedalusd did not re-attach"
	fi

	queue_stress_check
}

# queue_stress_check: a client without privilege (nobody, in the video
# group, which kmod/udev/60-daedalus.rules admits to the decoder node)
# loops STREAMON/STREAMOFF/close for QUEUE_STRESS_SECONDS against the
# attached daemon stopped with SIGSTOP: what the module holds for the
# daemon stays bounded and flat (queue_stress.py), and once the daemon goes
# on it reads what is left.
queue_stress_check() {
	local name=queue-stress c why i
	if [ -z "$DAEMON_PID" ] || ! kill -0 "$DAEMON_PID" 2>/dev/null; then
		fail "$name" "no daedalusd attached"
		return
	fi
	# The node as the udev rule sets it up.
	chgrp video "$DEV" && chmod 0660 "$DEV"
	kill -STOP "$DAEMON_PID"
	timeout -k 5 $((QUEUE_STRESS_SECONDS + 60)) python3 "$E2E/queue_stress.py" \
		"$DEV" "$DEBUGFS/stats" "$QUEUE_STRESS_SECONDS" nobody \
		>"$OUT/logs/$name.log" 2>&1
	kill -CONT "$DAEMON_PID"
	for c in queue-stress-client queue-stress-bounded queue-stress-coalesced; do
		if grep -qx "PASS $c" "$OUT/logs/$name.log"; then
			pass "$c"
		else
			why=$(grep -m1 "^FAIL $c: " "$OUT/logs/$name.log" | cut -d' ' -f3-)
			fail "$c" "${why:-no verdict} (logs/$name.log)"
		fi
	done
	for i in $(seq 1 50); do
		[ "$(stat_of queued_requests)" = 0 ] && break
		sleep 0.2
	done
	if [ "$(stat_of queued_requests)" = 0 ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		pass "queue-stress-drained"
	else
		fail "queue-stress-drained" "queued_requests $(stat_of queued_requests) 10 s after SIGCONT"
	fi
}

# record: the short runs whose traces `make record` keeps in traces/field.
group_record() {
	COMPLIANCE_CLIP=tiny group_compliance
	FFMPEG_CLIPS="tiny odd" group_ffmpeg
	GST_CLIPS=tiny group_gst
	# The stateless node, through the Request API: B-frames, so the
	# pictures come in decode order into each request's buffer.
	gst_decode tiny gst-stateless-tiny-decode v4l2slh264dec
	gst_decode bframes gst-stateless-bframes-decode v4l2slh264dec
	local name=ffmpeg-tiny-two-clients rc
	trace_start
	ffmpeg_decode tiny "$WORK/$name.1" 2>"$OUT/logs/$name.1.log" &
	local p1=$!
	ffmpeg_decode tiny "$WORK/$name.2" 2>"$OUT/logs/$name.2.log"
	rc=$?
	wait $p1
	rc=$((rc | $?))
	trace_stop "$name"
	check "$name" $rc "ffmpeg exit (logs/$name.*)"
	name=ffmpeg-bframes-close-mid-stream
	trace_start
	timeout -k 5 "$CLIENT_TIMEOUT" ffmpeg -nostdin -v error -c:v h264_v4l2m2m \
		-i "$CLIPS/bframes.ts" -frames:v 3 -f null - >"$OUT/logs/$name.log" 2>&1
	rc=$?
	trace_stop "$name"
	check "$name" $rc "ffmpeg exit $rc (logs/$name.log)"
}

# bench: the same clip through the stack and through libavcodec alone, in
# this guest, one decoding thread each, tracing off; then one traced run
# whose RESP_FRAME/REQ_DECODE sizes give the bytes each frame moves across
# /dev/daedalus. Results in $OUT/bench (key=value), trace in traces/.
group_bench() {
	local clip=${DAEDALUS_BENCH_CLIP:-bench} n t0 t1 t2 t3 t4 r1 r2 r3 m0 m1
	n=$(grep "^$clip " "$CLIPS/clips.txt" | awk '{print $3}')
	echo 0 >"$TRACING/tracing_on"
	# The daemon as started: mapped jobs (zero-copy) where buffers allow.
	m0=$(stat_of mapped_jobs)
	t0=$(date +%s%N)
	ffmpeg -nostdin -v error -c:v h264_v4l2m2m -i "$CLIPS/$clip.ts" \
		-f null - 2>"$OUT/logs/bench-stack.log"
	r1=$?
	t1=$(date +%s%N)
	m1=$(stat_of mapped_jobs)
	ffmpeg -nostdin -v error -threads 1 -c:v h264 -i "$CLIPS/$clip.ts" \
		-f null - 2>"$OUT/logs/bench-sw.log"
	r2=$?
	t2=$(date +%s%N)
	# The same with every job copied through read()/write().
	daemon_stop TERM
	daemon_start --no-mapped
	t3=$(date +%s%N)
	ffmpeg -nostdin -v error -c:v h264_v4l2m2m -i "$CLIPS/$clip.ts" \
		-f null - 2>"$OUT/logs/bench-stack-copy.log"
	r3=$?
	t4=$(date +%s%N)
	echo "clip=$clip frames=$n stack_ns=$((t1 - t0)) sw_ns=$((t2 - t1)) copy_ns=$((t4 - t3)) mapped_jobs=$((m1 - m0)) stack_rc=$r1 sw_rc=$r2 copy_rc=$r3" >"$OUT/bench"
	check "bench-runs" $((r1 | r2 | r3)) "ffmpeg exits $r1/$r2/$r3"
	local name=ffmpeg-$clip-bench
	trace_start
	ffmpeg -nostdin -v error -c:v h264_v4l2m2m -i "$CLIPS/$clip.ts" \
		-f null - 2>"$OUT/logs/$name.log"
	trace_stop "$name"
}

# root_flags: the options the guest's root is mounted with (lib.sh's
# rootflags, or vng's own).
root_flags() {
	awk '$2 == "/" { print $4; exit }' /proc/mounts
}

# group_startup: how long a client takes to start and exit, three times
# in a row (the first reads its libraries; the next ones find them cached
# or not, by the root's 9p cache mode): ffmpeg, GStreamer, v4l2-ctl.
group_startup() {
	local i t0 t1 line= rc=0 c
	for c in "ffmpeg -hide_banner -version" "gst-launch-1.0 --version" "v4l2-ctl --version"; do
		for i in 1 2 3; do
			t0=$(date +%s%N)
			$c >/dev/null 2>&1 || rc=1
			t1=$(date +%s%N)
			line+=" ${c%% *}_$i=$((t1 - t0))"
		done
	done
	echo "${line# } rootflags=$(root_flags)" >"$OUT/startup"
	check "startup-runs" "$rc" "a client's --version failed"
}

# kmemleak_check GROUP: a kmemleak scan once the group is over. An object
# it reports whose allocation passed through the module or the media core
# (its backtrace names daedalus, v4l2, vb2, videobuf or media) fails
# kmemleak-GROUP; the whole report goes to logs/kmemleak-GROUP.txt, and is
# then cleared so that the next group's scan reports only what is new.
kmemleak_check() {
	local name=kmemleak-$1 k=/sys/kernel/debug/kmemleak
	local f=$OUT/logs/$name.txt
	if [ ! -w "$k" ]; then
		fail "$name" "no $k: the test kernel has no kmemleak"
		return
	fi
	echo scan >"$k"
	cat "$k" >"$f"
	echo clear >"$k"
	local all ours
	all=$(grep -c '^unreferenced object' "$f")
	ours=$(awk '/^unreferenced object/ { n += hit; hit = 0 }
		/daedalus|v4l2|vb2_|videobuf|media_/ { hit = 1 }
		END { print n + hit }' "$f")
	if [ "$ours" -gt 0 ]; then
		fail "$name" "$ours unreferenced object(s) allocated through the module or the media core (logs/$name.txt)"
	else
		pass "$name"
		[ "$all" -eq 0 ] || log "$name: $all unreferenced object(s) elsewhere in the kernel (logs/$name.txt)"
	fi
}

# --- main ---------------------------------------------------------------------

DEV=
for d in /sys/class/video4linux/video*; do
	if [ "$(cat "$d/name")" = daedalus ]; then
		DEV=/dev/${d##*/}
	fi
done
if [ -z "$DEV" ]; then
	fail "find-device" "no video device named daedalus"
	echo done >"$OUT/finished"
	exit 0
fi
pass "find-device"
log "decoder at $DEV"
log "root mounted $(root_flags)"
if trace_setup; then pass "trace-setup"; else fail "trace-setup" "tracefs events missing"; fi
dmesg >"$OUT/dmesg.boot"

if ! daemon_user; then
	fail "daemon-attach" "no daedalus user to run daedalusd as"
elif daemon_start; then
	pass "daemon-attach"
	daemon_confined
	for g in $GROUPS_RUN; do
		# After a kernel report every later client would only time out.
		if dmesg | grep -qE 'BUG: |WARNING: |Oops|KASAN|list_(add|del) corruption|INFO: possible'; then
			fail "group-$g" "not run: the kernel already reported a bug"
			continue
		fi
		t0=$SECONDS
		"group_$g"
		kmemleak_check "$g"
		echo "TIME $g $((SECONDS - t0))" >>"$RESULTS"
	done
else
	fail "daemon-attach" "daedalusd did not complete the handshake"
fi
daemon_stop TERM
cat "$DEBUGFS/stats" >"$OUT/stats"
dmesg >"$OUT/dmesg"
echo done >"$OUT/finished"
