#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""A client without privilege against a daemon that stopped reading.

A child process, dropped to USER with the video group as its only
supplementary group (what the udev rule admits to the decoder node),
loops for SECONDS: open the node, REQBUFS both queues, STREAMON and
STREAMOFF of both queues CYCLES times (each STREAMOFF queues a request
for the daemon), close. Meanwhile the daedalusd attached to /dev/daedalus
is stopped (SIGSTOP by the caller) and reads nothing.

The parent samples the module's debugfs stats every half second and checks
that the requests held for the daemon stay bounded and flat (the queue
coalesces what a client repeats, kmod/daedalus_outq.h), while the client
really looped; prints one line per check, "PASS name" or "FAIL name:
why", and a summary line of the samples.

    queue_stress.py VIDEO_DEV DEBUGFS_STATS SECONDS USER
"""

import errno
import fcntl
import grp
import os
import pwd
import struct
import sys
import time

CYCLES = 16
# The most requests the queue may hold here: one context at a time, whose
# unread session open, latest reset and CAPTURE off survive coalescing,
# and one more context's open while the last one closes.
HELD_MAX = 8

V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE = 9
V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE = 10
V4L2_MEMORY_MMAP = 1


def _ioc(direction, nr, size):
    return (direction << 30) | (size << 16) | (ord("V") << 8) | nr


REQBUFS_FMT = "<IIIII"  # count, type, memory, capabilities, flags+reserved
VIDIOC_REQBUFS = _ioc(3, 8, struct.calcsize(REQBUFS_FMT))
VIDIOC_STREAMON = _ioc(1, 18, 4)
VIDIOC_STREAMOFF = _ioc(1, 19, 4)


def reqbufs(fd, buf_type, count):
    arg = bytearray(struct.pack(REQBUFS_FMT, count, buf_type, V4L2_MEMORY_MMAP,
                                0, 0))
    fcntl.ioctl(fd, VIDIOC_REQBUFS, arg)
    return struct.unpack_from("<I", arg)[0]


def stream(fd, buf_type, on):
    fcntl.ioctl(fd, VIDIOC_STREAMON if on else VIDIOC_STREAMOFF,
                struct.pack("<I", buf_type))


def client(dev, seconds, user):
    """The looping client; exits 0 after `seconds`, 3 when it cannot open
    or stream, 4 when it could not drop its privileges."""
    try:
        pw = pwd.getpwnam(user)
        os.setgroups([grp.getgrnam("video").gr_gid])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    except (KeyError, OSError) as e:
        print(f"client: cannot become {user} in group video: {e}", flush=True)
        os._exit(4)
    if os.geteuid() == 0 or os.getegid() == 0:
        os._exit(4)
    opens = cycles = 0
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            fd = os.open(dev, os.O_RDWR | os.O_NONBLOCK)
            opens += 1
            try:
                reqbufs(fd, V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE, 1)
                reqbufs(fd, V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, 4)
                for _ in range(CYCLES):
                    stream(fd, V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, True)
                    stream(fd, V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE, True)
                    stream(fd, V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE, False)
                    stream(fd, V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, False)
                    cycles += 1
            finally:
                os.close(fd)
    except OSError as e:
        print(f"client: {os.strerror(e.errno or errno.EIO)} after {opens} "
              f"opens, {cycles} cycles", flush=True)
        os._exit(3)
    print(f"client: {opens} opens, {cycles} STREAMON/STREAMOFF cycles as "
          f"uid {os.getuid()}", flush=True)
    os._exit(0)


def stats(path):
    with open(path) as f:
        return {k: int(v) for k, v in (line.split(": ", 1) for line in
                                       f.read().splitlines() if ": " in line)
                if v.strip().lstrip("-").isdigit()}


def meminfo(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def main():
    dev, stats_path, seconds, user = (sys.argv[1], sys.argv[2],
                                      float(sys.argv[3]), sys.argv[4])
    failed = False

    def check(ok, name, why):
        nonlocal failed
        print(f"PASS {name}" if ok else f"FAIL {name}: {why}", flush=True)
        failed |= not ok

    before = stats(stats_path)
    slab0 = meminfo("Slab")
    pid = os.fork()
    if pid == 0:
        client(dev, seconds, user)
    held = []
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        s = stats(stats_path)
        held.append((s.get("queued_requests", -1), s.get("queued_bytes", -1)))
        if done:
            break
        time.sleep(0.5)
    after = stats(stats_path)
    slab1 = meminfo("Slab")
    reqs = [r for r, _ in held]
    half = len(reqs) // 2
    print(f"samples {len(held)}: queued_requests max {max(reqs)} (first half "
          f"{max(reqs[:half] or [0])}, second half {max(reqs[half:])}), "
          f"queued_bytes max {max(b for _, b in held)}, coalesced "
          f"{after.get('coalesced', 0) - before.get('coalesced', 0)}, Slab "
          f"{slab0} -> {slab1} kB", flush=True)
    check(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0,
          "queue-stress-client",
          f"the unprivileged client did not loop to the end (status "
          f"{status:#x})")
    check(min(reqs) >= 0 and max(reqs) <= HELD_MAX
          and max(reqs[half:]) <= max(reqs[:half] or [HELD_MAX]),
          "queue-stress-bounded",
          f"queued requests {reqs[:20]}... (max {max(reqs)}, allowed "
          f"{HELD_MAX}, and no growth from the first half to the second)")
    check(after.get("coalesced", 0) - before.get("coalesced", 0) > 100,
          "queue-stress-coalesced",
          f"coalesced only {after.get('coalesced', 0) - before.get('coalesced', 0)} "
          f"requests: the client did not loop, or the daemon was reading")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
