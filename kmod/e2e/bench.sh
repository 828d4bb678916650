#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Decode throughput through the whole stack (ffmpeg h264_v4l2m2m ->
# daedalus_v4l2.ko -> daedalusd -> libavcodec) relative to libavcodec alone
# (ffmpeg -c:v h264 -threads 1), both in the same TCG guest on the same
# clip: under TCG only the ratio means anything. Also the bytes each frame
# moves across /dev/daedalus, from one traced run (REQ_DECODE and
# RESP_FRAME sizes), as copies of the bitstream and of the picture.
#
# Prints a markdown table; same environment as run.sh, plus
# DAEDALUS_BENCH_CLIP (a clip of clips.sh, default `bench`, 640x360).
set -uo pipefail

E2E_STAGE=bench
# shellcheck source=kmod/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_tools && ensure_binaries && ensure_clips && ensure_kernel || exit 1
RUN=$OUT/bench
boot_guest "$RUN" bench
if [ ! -f "$RUN/bench" ] || ! grep -q '^PASS bench-runs' "$RUN/results"; then
	e2e_log "the guest did not produce a measurement (see $RUN/console.log, $RUN/logs)"
	exit 1
fi
grep -nE "$SPLATS" "$RUN/console.log" >"$RUN/splats.txt"
if [ -s "$RUN/splats.txt" ]; then
	e2e_log "kernel reports in the guest log ($RUN/splats.txt): no result"
	exit 1
fi

# shellcheck disable=SC1090
. <(tr ' ' '\n' <"$RUN/bench" | grep -E '^[a-z_]+=[0-9a-z]+$')
read -r _ size _ < <(grep "^$clip " "$CLIPS/clips.txt")
w=${size%x*}
h=${size#*x}
trace=$RUN/traces/ffmpeg-$clip-bench.trace
es_bytes=$(stat -c %s "$CLIPS/$clip.h264")

python3 - "$trace" "$frames" "$w" "$h" "$es_bytes" "$stack_ns" "$sw_ns" "$clip" "$copy_ns" "$mapped_jobs" <<'EOF'
import re
import sys

trace, frames, w, h, es_bytes, stack_ns, sw_ns, clip, copy_ns, mapped = sys.argv[1:]
frames, w, h, es_bytes = int(frames), int(w), int(h), int(es_bytes)
stack_ns, sw_ns, copy_ns, mapped = int(stack_ns), int(sw_ns), int(copy_ns), int(mapped)
HDR = 24            # struct daedalus_hdr
DECODE_BODY = 56    # struct daedalus_req_decode
FRAME_BODY = 32     # struct daedalus_resp_frame
ev = re.compile(r"daedalus_msg_(out|in): type=(0x[0-9a-f]+) cookie=\S+ ctx=\d+ "
                r"flags=(0x[0-9a-f]+) len=(\d+)")
src = pix = pictures = 0
with open(trace) as f:
    for line in f:
        m = ev.search(line)
        if not m:
            continue
        way, typ, flags, n = m.group(1), int(m.group(2), 16), int(m.group(3), 16), int(m.group(4))
        if way == "out" and typ == 0x0004:
            src += n - HDR - DECODE_BODY
        elif way == "in" and typ == 0x8002 and flags & 2 and n > HDR + FRAME_BODY:
            pix += n - HDR - FRAME_BODY
            pictures += 1
picture = w * h * 3 // 2
sw_fps = frames * 1e9 / sw_ns
st_fps = frames * 1e9 / stack_ns
cp_fps = frames * 1e9 / copy_ns
print(f"| clip | {clip}, {w}x{h}, {frames} frames, H.264 (x264, B-frames) |")
print("|---|---|")
print(f"| libavcodec alone (1 thread) | {sw_fps:.1f} frames/s |")
print(f"| through the stack, mapped jobs ({mapped} jobs mapped) | {st_fps:.1f} frames/s |")
print(f"| through the stack, copies (daedalusd --no-mapped) | {cp_fps:.1f} frames/s |")
print(f"| stack / libavcodec, mapped | {st_fps / sw_fps:.2f} |")
print(f"| stack / libavcodec, copies | {cp_fps / sw_fps:.2f} |")
print(f"| pictures across /dev/daedalus (traced run, copies) | {pictures} |")
if pictures:
    print(f"| picture bytes per frame across the chardev | {pix / pictures:.0f} "
          f"({pix / pictures / picture:.2f} x the visible I420 picture) |")
print(f"| bitstream bytes across the chardev / elementary stream | "
      f"{src / es_bytes:.2f} |")
EOF
cat <<'EOF'

Copies on the data path, per frame, counted in the sources (the chardev
numbers above are what the traced copy run moved):

| data | copy | copies | mapped |
|---|---|---|---|
| bitstream | vb2 OUTPUT buffer -> request message (kmod/daedalus_chardev.c) | yes | no |
| bitstream | request -> daemon, read() (kmod/daedalus_chardev.c) | yes | no |
| bitstream | daemon -> parser scratch (daemon/src/ffmpeg.rs) | yes | yes, from the mapping |
| bitstream | scratch -> AVPacket (daemon/src/ffmpeg.rs) | yes | yes |
| picture | AVFrame -> protocol layout (daemon/src/layout.rs) | into a Vec | into the CAPTURE buffer |
| picture | header + picture joined for one write() (daemon/src/transport.rs) | yes | no |
| picture | daemon -> kernel, write() (kmod/daedalus_chardev.c) | yes | no |
| picture | message -> vb2 CAPTURE buffer (kmod/daedalus_job.c) | yes | no |

docs/daemon.md counts the daemon's own copies in detail. The client's
copy of the bitstream into the mapped OUTPUT buffer is outside the stack
(ffmpeg and GStreamer read the pictures from the mapped CAPTURE buffers).
EOF
