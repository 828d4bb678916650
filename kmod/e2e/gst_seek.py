#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Seek mid-stream through GStreamer's v4l2h264dec.

Plays CLIP (MPEG-TS, H.264) through tsdemux ! h264parse ! v4l2h264dec to an
appsink, and after AFTER pictures does a flushing seek back to the start:
the decoder element flushes (STREAMOFF/STREAMON of both queues with jobs in
flight) and decodes the clip again. Prints one line per picture,
"<pts ns> <md5 of the I420 picture>", with a line "seek" where the seek
happened. Exit status 0 when the pipeline ran to EOS without an error.

    gst_seek.py CLIP AFTER
"""

import hashlib
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstApp", "1.0")
from gi.repository import Gst, GstApp  # noqa: E402,F401


def main() -> int:
    clip, after = sys.argv[1], int(sys.argv[2])
    Gst.init(None)
    pipe = Gst.parse_launch(
        f'filesrc location="{clip}" ! tsdemux ! h264parse ! v4l2h264dec ! '
        "videoconvert ! video/x-raw,format=I420 ! "
        "appsink name=sink sync=false max-buffers=4"
    )
    sink = pipe.get_by_name("sink")
    pipe.set_state(Gst.State.PLAYING)
    seen = 0
    sought = False
    while True:
        sample = sink.try_pull_sample(60 * Gst.SECOND)
        if sample is None:
            break
        buf = sample.get_buffer()
        ok, info = buf.map(Gst.MapFlags.READ)
        if not ok:
            print("map failed", file=sys.stderr)
            return 1
        print(f"{buf.pts} {hashlib.md5(info.data).hexdigest()}", flush=True)
        buf.unmap(info)
        seen += 1
        if seen == after and not sought:
            sought = True
            print("seek", flush=True)
            if not pipe.seek_simple(
                Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT, 0
            ):
                print("seek refused", file=sys.stderr)
                return 1
    bus = pipe.get_bus()
    msg = bus.pop_filtered(Gst.MessageType.ERROR)
    pipe.set_state(Gst.State.NULL)
    if msg is not None:
        err, dbg = msg.parse_error()
        print(f"error: {err.message} ({dbg})", file=sys.stderr)
        return 1
    if not sink.is_eos():
        print("no EOS: timed out waiting for a picture", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
