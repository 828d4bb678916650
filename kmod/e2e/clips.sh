#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The e2e clips: H.264 made with libx264 from ffmpeg's testsrc2, and the
# software decode of each (`ffmpeg -copyts -f framemd5`, libavcodec) that
# every client's output is compared with, frame for frame, timestamps
# included.
#
#   clips.sh OUTDIR
#
# OUTDIR/<clip>.ts          MPEG-TS, what ffmpeg and GStreamer read
# OUTDIR/<clip>.h264        the same elementary stream (Annex B), for
#                           v4l2-compliance --stream-from and v4l2-ctl
#                           (.h265 for HEVC)
# OUTDIR/<clip>.framemd5    software decode, yuv420p, display order
# OUTDIR/<clip>.i420md5     per-frame MD5 of the tightly packed I420
#                           pictures (GStreamer's output is compared to it)
# OUTDIR/<clip>.sizes       each picture's width and height, display order
# OUTDIR/clips.txt          name WxH frames, one clip a line
#
# Clips (25 fps, GOPs of 12, 3 B-frames with b-pyramid, no scenecut):
#   bframes    320x240, 36 frames: three GOPs, reordering, pyramid
#   odd        174x98, 24 frames: width and height not multiples of 16
#   reschange  320x240 then 176x144 (24 frames each) in one stream: a
#              resolution change mid-stream, timestamps continuing
#   grow       176x144 then 320x240 (24 frames each): a change to a
#              larger size
#   tiny       64x48, 12 frames: one GOP, the quickest clip (traces)
#   long       320x240, 250 frames: faults mid-stream, close mid-stream
#   bench      640x360, 100 frames: throughput
#   one        320x240, a single picture: the drain is the whole decode
#   opengop    320x240, 36 frames, open GOPs: B-frames before each
#              non-IDR I-frame reference the GOP before it
#   baseline   176x144, 24 frames, constrained baseline: CAVLC, no B
#   hevc       320x240, 24 frames, HEVC (libx265, B-frames, pyramid)
#   vp9        320x240, 24 frames, VP9 (libvpx-vp9, alt-ref frames) in
#              WebM: OUTDIR/vp9.webm instead of a .ts, no Annex B file
#   cut        bframes with its last access unit (decode order) cut in
#              the middle of its NAL unit, as a recording stopped while
#              writing: the decoder conceals the rest. Concealment depends
#              on the decoder's thread count, so its reference is decoded
#              with one thread (the e2e daemon runs --threads 1 for it).
# Regenerated only when this script changes (the stamp holds its hash).
set -euo pipefail

OUT=${1:?usage: clips.sh OUTDIR}
SELF=${BASH_SOURCE[0]}
mkdir -p "$OUT"
stamp=$(sha256sum "$SELF" | cut -c1-16)
if [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$stamp" ]; then
	exit 0
fi
rm -f "$OUT"/*.ts "$OUT"/*.webm "$OUT"/*.h264 "$OUT"/*.h265 "$OUT"/*.framemd5 "$OUT"/*.sizes "$OUT"/*.i420md5 "$OUT/clips.txt"

X264=(-c:v libx264 -preset veryfast -bf 3 -g 12
	-x264-params keyint=12:min-keyint=12:scenecut=0:b-pyramid=normal:b-adapt=0
	-pix_fmt yuv420p)

# encode NAME WxH FRAMES OFFSET_S [X264-OPTION...]: later options override
# the common ones.
encode() {
	local name=$1 size=$2 frames=$3 offset=$4
	shift 4
	ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=$size:rate=25" \
		-frames:v "$frames" "${X264[@]}" "$@" -output_ts_offset "$offset" "$OUT/$name.ts"
}

# reference NAME [DECODER-OPTION...]: the software decode and the tight
# I420 MD5s.
reference() {
	local name=$1
	shift
	local in=$OUT/$name.ts
	[ -f "$in" ] || in=$OUT/$name.webm
	ffmpeg -nostdin -v error "$@" -copyts -i "$in" -fps_mode passthrough -autoscale 0 \
		-pix_fmt yuv420p -f framemd5 "$OUT/$name.framemd5"
	grep -v '^#' "$OUT/$name.framemd5" | awk -F', *' '{print $6}' >"$OUT/$name.i420md5"
	ffprobe -v error -select_streams v:0 -show_entries frame=width,height -of csv=p=0 \
		"$in" | tr , " " >"$OUT/$name.sizes"
	case $name in
	hevc) ffmpeg -nostdin -v error -i "$in" -c:v copy -f hevc "$OUT/$name.h265" ;;
	vp9) ;;
	*) ffmpeg -nostdin -v error -i "$in" -c:v copy -f h264 "$OUT/$name.h264" ;;
	esac
}

encode bframes 320x240 36 0
encode odd 174x98 24 0
encode tiny 64x48 12 0
encode long 320x240 250 0
encode bench 640x360 100 0
encode rc-a 320x240 24 0
encode rc-b 176x144 24 2
# Two transport streams back to back: one H.264 stream whose SPS changes
# size at the second IDR, with continuing timestamps.
cat "$OUT/rc-a.ts" "$OUT/rc-b.ts" >"$OUT/reschange.ts"
rm -f "$OUT/rc-a.ts" "$OUT/rc-b.ts"
encode one 320x240 1 0
encode opengop 320x240 36 0 -x264-params \
	keyint=12:min-keyint=12:scenecut=0:b-pyramid=normal:b-adapt=0:open-gop=1
encode baseline 176x144 24 0 -profile:v baseline
ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=320x240:rate=25 -frames:v 24 \
	-c:v libx265 -preset veryfast -pix_fmt yuv420p \
	-x265-params keyint=12:min-keyint=12:scenecut=0:bframes=3:b-pyramid=1:b-adapt=0:log-level=error \
	"$OUT/hevc.ts"
ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=320x240:rate=25 -frames:v 24 \
	-c:v libvpx-vp9 -g 12 -deadline good -cpu-used 8 -lag-in-frames 16 -auto-alt-ref 1 \
	-row-mt 0 -pix_fmt yuv420p "$OUT/vp9.webm"
# cut: the transport stream ends half way through the last PES packet of
# the video PID (188-byte TS packets; ffmpeg's muxer puts one access unit
# in each PES packet, the last in decode order last).
python3 - "$OUT/bframes.ts" "$OUT/cut.ts" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
pkts = [data[i:i + 188] for i in range(0, len(data), 188)]
starts = [i for i, p in enumerate(pkts)
          if p[0] == 0x47 and p[1] & 0x40 and ((p[1] & 0x1f) << 8 | p[2]) == 0x100]
last = starts[-1]
keep = last + max(1, (len(pkts) - last) // 2)
assert keep < len(pkts), "the last access unit spans one TS packet"
open(sys.argv[2], "wb").write(b"".join(pkts[:keep]))
PY
encode gr-a 176x144 24 0
encode gr-b 320x240 24 2
cat "$OUT/gr-a.ts" "$OUT/gr-b.ts" >"$OUT/grow.ts"
rm -f "$OUT/gr-a.ts" "$OUT/gr-b.ts"

for c in bframes odd tiny long bench reschange grow one opengop baseline hevc vp9 cut; do
	if [ "$c" = cut ]; then
		reference "$c" -threads 1
	else
		reference "$c"
	fi
	in=$OUT/$c.ts
	[ -f "$in" ] || in=$OUT/$c.webm
	size=$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height \
		-of csv=p=0:s=x "$in" | sed -n 1p)
	n=$(grep -vc '^#' "$OUT/$c.framemd5")
	echo "$c $size $n" >>"$OUT/clips.txt"
done
echo "$stamp" >"$OUT/.stamp"
