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
# OUTDIR/<clip>.framemd5    software decode, yuv420p, display order
# OUTDIR/<clip>.i420md5     per-frame MD5 of the tightly packed I420
#                           pictures (GStreamer's output is compared to it)
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
# Regenerated only when this script changes (the stamp holds its hash).
set -euo pipefail

OUT=${1:?usage: clips.sh OUTDIR}
SELF=${BASH_SOURCE[0]}
mkdir -p "$OUT"
stamp=$(sha256sum "$SELF" | cut -c1-16)
if [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$stamp" ]; then
	exit 0
fi
rm -f "$OUT"/*.ts "$OUT"/*.h264 "$OUT"/*.framemd5 "$OUT"/*.i420md5 "$OUT/clips.txt"

X264=(-c:v libx264 -preset veryfast -bf 3 -g 12
	-x264-params keyint=12:min-keyint=12:scenecut=0:b-pyramid=normal:b-adapt=0
	-pix_fmt yuv420p)

# encode NAME WxH FRAMES OFFSET_S
encode() {
	ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=$2:rate=25" \
		-frames:v "$3" "${X264[@]}" -output_ts_offset "$4" "$OUT/$1.ts"
}

# reference NAME: the software decode and the tight I420 MD5s.
reference() {
	ffmpeg -nostdin -v error -copyts -i "$OUT/$1.ts" -fps_mode passthrough -autoscale 0 \
		-pix_fmt yuv420p -f framemd5 "$OUT/$1.framemd5"
	grep -v '^#' "$OUT/$1.framemd5" | awk -F', *' '{print $6}' >"$OUT/$1.i420md5"
	ffmpeg -nostdin -v error -i "$OUT/$1.ts" -c:v copy -f h264 "$OUT/$1.h264"
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
encode gr-a 176x144 24 0
encode gr-b 320x240 24 2
cat "$OUT/gr-a.ts" "$OUT/gr-b.ts" >"$OUT/grow.ts"
rm -f "$OUT/gr-a.ts" "$OUT/gr-b.ts"

for c in bframes odd tiny long bench reschange grow; do
	reference "$c"
	size=$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height \
		-of csv=p=0:s=x "$OUT/$c.ts" | sed -n 1p)
	n=$(grep -vc '^#' "$OUT/$c.framemd5")
	echo "$c $size $n" >>"$OUT/clips.txt"
done
echo "$stamp" >"$OUT/.stamp"
