#!/usr/bin/env python3
"""Plays a daemon that takes mapped jobs on /dev/daedalus and checks the
zero-copy contract the module enforces, with a real client (v4l2-ctl
streaming MMAP buffers) feeding the decoder:

- a REQ_DECODE comes with F_MAPPED, no inline bitstream, and page-aligned
  offsets for its OUTPUT and CAPTURE planes;
- the OUTPUT plane maps read-only (PROT_WRITE is refused) and holds the
  client's bitstream; the CAPTURE plane maps read-write; an offset naming
  no live plane, and a length beyond the plane, are refused; nothing can
  pin a mapped page (vmsplice() of the CAPTURE plane fails with EFAULT);
- once RESP_FRAME completes the buffers, each plane's mapping is revoked:
  a process that still touches it dies of SIGBUS;
- a mapped job the watchdog ends before its REQ_DECODE was read reaches
  the daemon inline, with its bitstream (the decoder still needs it); the
  client is stopped (SIGSTOP) meanwhile, so its session stays open.

Usage: mapped_revoke.py VIDEO_DEV CLIP.h264 DEBUGFS_STATS (a clip larger
than two OUTPUT buffers, 1555200 bytes each at the default format, so that
later jobs have sources)
Prints one line per check; exits 0 when every check held.
"""

import ctypes
import errno
import mmap
import os
import select
import signal
import struct
import subprocess
import sys
import time

MAGIC = 0x534C4444
HDR = struct.Struct("<IHHIIQ")
REQ_HELLO, REQ_DECODE = 0x0001, 0x0004
RESP_HELLO, RESP_FRAME = 0x8001, 0x8002
DECODE = struct.Struct("<IIIIQIIIIQQ")
F_NO_SRC, F_MAPPED = 1 << 0, 1 << 1
HELLO_F_MAPPED = 1 << 0
SRC_CONSUMED, HAS_PIXELS = 1 << 0, 1 << 1
PAGE = mmap.PAGESIZE

video, clip, stats = sys.argv[1:4]
failed = 0


def check(ok, what):
    global failed
    print(("ok: " if ok else "FAILED: ") + what, flush=True)
    if not ok:
        failed += 1


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


LIBC = ctypes.CDLL(None, use_errno=True)


def not_pinnable(m, plane):
    """get_user_pages() refuses the mapping: vmsplice() of its first page
    into a pipe, which would hold the page past the buffer's revocation,
    fails with EFAULT."""
    buf = ctypes.c_char.from_buffer(m)
    iov = IoVec(ctypes.addressof(buf), PAGE)
    r, w = os.pipe()
    n = LIBC.vmsplice(w, ctypes.byref(iov), 1, 0)
    err = ctypes.get_errno()
    os.close(r)
    os.close(w)
    del buf
    check(n == -1 and err == errno.EFAULT,
          f"pinning: vmsplice() of the {plane} mapping refused with EFAULT "
          f"(returned {n}, {os.strerror(err) if n < 0 else 'pinned'})")


def msg(ty, body, cookie=0):
    return HDR.pack(MAGIC, 1, ty, len(body), 0, cookie) + body


def read_msg(fd, timeout):
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return None
    buf = os.read(fd, 16 << 20)  # an inline REQ_DECODE: up to a whole OUTPUT buffer
    _, _, ty, plen, _, cookie = HDR.unpack_from(buf)
    return ty, cookie, buf[HDR.size:HDR.size + plen]


def pages(n):
    return (n + PAGE - 1) // PAGE * PAGE


def touch_after_release(fd, offset, length, prot):
    """A child that maps a plane, reads it, reports, waits for the go, then
    reads it again. Returns (pid, ready pipe, go pipe)."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            m = mmap.mmap(fd, length, mmap.MAP_SHARED, prot, offset=offset)
            first = m[0]
            os.write(ready_w, bytes([first]))
            os.read(go_r, 1)
            m[0]  # after the release: SIGBUS
            os._exit(0)
        except Exception as e:  # noqa: BLE001 - reported through the exit
            print(f"child: {e}", flush=True)
            os._exit(2)
    os.close(ready_w)
    os.close(go_r)
    return pid, ready_r, go_w


def main():
    fd = os.open("/dev/daedalus", os.O_RDWR)
    m = read_msg(fd, 10)
    check(m is not None and m[0] == REQ_HELLO, "REQ_HELLO first")
    hello = struct.pack("<8I", 1, 1 << 8, 1 << 1, 1 << 1, 4096, 2304,
                        HELLO_F_MAPPED, 0)
    os.write(fd, msg(RESP_HELLO, hello))

    client = subprocess.Popen(
        ["v4l2-ctl", "-d", video, "--stream-mmap", "--stream-out-mmap",
         "--stream-from", clip, "--stream-to", "/dev/null"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    job = None
    while job is None:
        m = read_msg(fd, 60)
        if m is None:
            break
        ty, cookie, body = m
        if ty == REQ_DECODE:
            job = (cookie, body)
    check(job is not None, "a REQ_DECODE within 60 s")
    if job is None:
        client.kill()
        return
    cookie, body = job
    (ctx, _codec, flags, gen, _ts, _si, _di, nbytes, dst_size, src_map,
     dst_map) = DECODE.unpack_from(body)
    check(flags & F_MAPPED and not flags & F_NO_SRC and len(body) == DECODE.size,
          f"REQ_DECODE is mapped with no inline bitstream (flags {flags:#x}, "
          f"payload {len(body)})")
    check(src_map and dst_map and src_map % PAGE == 0 and dst_map % PAGE == 0
          and src_map != dst_map, f"plane offsets {src_map:#x} {dst_map:#x}")

    src = mmap.mmap(fd, pages(nbytes), mmap.MAP_SHARED, mmap.PROT_READ,
                    offset=src_map)
    with open(clip, "rb") as f:
        head = f.read(nbytes)
    check(src[:nbytes] == head, "the OUTPUT plane holds the client's bitstream")
    src.close()
    try:
        mmap.mmap(fd, pages(nbytes), mmap.MAP_SHARED,
                  mmap.PROT_READ | mmap.PROT_WRITE, offset=src_map)
        check(False, "OUTPUT plane refused PROT_WRITE")
    except OSError as e:
        check(e.errno in (errno.EACCES, errno.EPERM),
              f"OUTPUT plane refused PROT_WRITE ({e.strerror})")
    for what, off, length in (
            ("an offset naming no plane", dst_map + (1 << 20) * PAGE, PAGE),
            ("a length beyond the plane", dst_map, pages(dst_size) + PAGE)):
        try:
            mmap.mmap(fd, length, mmap.MAP_SHARED, mmap.PROT_READ, offset=off)
            check(False, f"{what} refused")
        except OSError as e:
            check(e.errno == errno.EINVAL, f"{what} refused ({e.strerror})")

    dst = mmap.mmap(fd, pages(dst_size), mmap.MAP_SHARED,
                    mmap.PROT_READ | mmap.PROT_WRITE, offset=dst_map)
    dst[:16] = b"\x80" * 16
    not_pinnable(dst, "CAPTURE")
    dst.close()

    kids = [touch_after_release(fd, src_map, pages(nbytes), mmap.PROT_READ),
            touch_after_release(fd, dst_map, pages(dst_size),
                                mmap.PROT_READ | mmap.PROT_WRITE)]
    for _, ready, _ in kids:
        check(len(os.read(ready, 1)) == 1, "a second process maps the plane")

    # The client is stopped from here to the end: its next job must be
    # ended by the watchdog while its session stays open (a client that
    # closed would end the session, and the queue would drop the job's
    # request as moot, as it must).
    os.kill(client.pid, signal.SIGSTOP)
    frame = struct.pack("<IIQII8x", ctx, SRC_CONSUMED | HAS_PIXELS, 0, 16, gen)
    os.write(fd, msg(RESP_FRAME, frame, cookie))
    for (pid, _, go), plane in zip(kids, ("OUTPUT", "CAPTURE")):
        os.write(go, b"g")
        _, status = os.waitpid(pid, 0)
        check(os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGBUS,
              f"{plane} plane revoked at RESP_FRAME: a late touch gets SIGBUS "
              f"(status {status:#x})")

    # Leave the next job unread past the module's watchdog (2 s): its
    # request must come inline, bitstream included.
    time.sleep(3.5)
    late = None
    while late is None:
        m = read_msg(fd, 10)
        if m is None:
            break
        if m[0] == REQ_DECODE and not DECODE.unpack_from(m[2])[2] & F_NO_SRC:
            late = m
    check(late is not None, "a second REQ_DECODE with a source")
    if late is not None:
        lflags = DECODE.unpack_from(late[2])[2]
        lbytes = DECODE.unpack_from(late[2])[7]
        check(not lflags & F_MAPPED and len(late[2]) == DECODE.size + lbytes
              and lbytes > 0,
              f"a job ended unread comes inline (flags {lflags:#x}, "
              f"payload {len(late[2])}, bytes {lbytes})")

    with open(stats) as f:
        st = dict(line.split(": ", 1) for line in f.read().splitlines()
                  if ": " in line)
    check(int(st.get("mapped_jobs", "0")) >= 1
          and int(st.get("maps_revoked", "0")) >= 2,
          f"debugfs mapped_jobs {st.get('mapped_jobs')} maps_revoked "
          f"{st.get('maps_revoked')}")
    client.kill()
    client.wait()
    os.close(fd)


main()
sys.exit(1 if failed else 0)
