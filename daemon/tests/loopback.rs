//! The daemon over the loopback transport with the scripted backend and
//! hostile input: exact reply orderings, malformed requests, version
//! mismatch, the CLI binary with SIGTERM.

use std::io::Write as _;
use std::os::unix::net::UnixListener;
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

use daedalus_proto::*;
use daedalusd::backend::Backend;
use daedalusd::daemon::{Daemon, DaemonError, Exit};
use daedalusd::kernel_role::KernelRole;
use daedalusd::sandbox::{self, Reach};
use daedalusd::scripted::{Script, ScriptedBackend};
use daedalusd::transport::{Loopback, Transport};

const SCRIPT: &str = "\
info 32x16 dpb=2
frame 1 consumed
# job 2's dst shows the picture of job 1's source, then job 1's dst job 2's
frame 2 consumed+pixels ts=src:1
frame 1 pixels ts=src:2
await flush
frame 3 pixels+last bytes=0
";

fn spawn(
    mut backend: Box<dyn Backend + Send>,
) -> (Loopback, JoinHandle<Result<Exit, DaemonError>>) {
    let (mut daemon_end, role_end) = Loopback::pair().unwrap();
    role_end
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let handle = std::thread::spawn(move || {
        // Confined as the binary is once attached.
        sandbox::confine(Reach::Nothing).unwrap();
        Daemon::new(backend.as_mut()).run(&mut daemon_end, None)
    });
    (role_end, handle)
}

/// Sends `msgs`, then a ping, and returns the replies that came before
/// its pong: everything those messages caused, in order.
fn exchange(t: &mut impl Transport, msgs: &[Message]) -> Vec<Message> {
    for m in msgs {
        t.send(&m.encode().unwrap()).unwrap();
    }
    let ping = Message::ReqPing {
        token: 99,
        body: Ping {
            seq: 1,
            reserved: 0,
        },
    };
    t.send(&ping.encode().unwrap()).unwrap();
    let mut buf = Vec::new();
    let mut replies = Vec::new();
    loop {
        assert!(t.recv(&mut buf).unwrap(), "the daemon hung up");
        match Message::decode_dir(&buf, Direction::Response).unwrap() {
            Message::RespPong { token: 99, .. } => return replies,
            m => replies.push(m),
        }
    }
}

fn scripted() -> Box<dyn Backend + Send> {
    Box::new(ScriptedBackend::new(Script::parse(SCRIPT).unwrap()))
}

fn play_script(role: &mut KernelRole) {
    role.hello().unwrap();
    assert_eq!(role.open(32, 16).unwrap(), None);
    role.job(Some((100, b"\0\0\x01\x65one"))).unwrap();
    role.job(Some((200, b"\0\0\x01\x65two"))).unwrap();
    role.barrier().unwrap();
    assert_eq!(role.pictures.len(), 2, "both pictures before the drain");
    assert_eq!(
        role.drain().unwrap(),
        0,
        "the drain has only its LAST buffer"
    );
    assert_eq!(role.violations, Vec::<String>::new());
    let got: Vec<(u32, u64, usize)> = role
        .pictures
        .iter()
        .map(|p| (cookie_id(p.cookie), p.timestamp, p.data.len()))
        .collect();
    assert_eq!(got, vec![(2, 100, 32 * 16 * 3 / 2), (1, 200, 768)]);
    assert!(
        role.pictures[0].data.iter().all(|b| *b == 2),
        "scripted pixels name their job"
    );
    assert_eq!((role.src_consumed, role.lasts, role.infos.len()), (2, 1, 1));
}

#[test]
fn scripted_backend_replays_the_exact_order() {
    let (t, daemon) = spawn(scripted());
    let mut role = KernelRole::new(t, 4, Codec::H264, Pixfmt::Nv12, 4, 4096);
    play_script(&mut role);
    role.hang_up();
    assert_eq!(daemon.join().unwrap().unwrap(), Exit::Detached);
}

#[test]
fn malformed_requests_are_dropped_and_the_session_goes_on() {
    let (t, daemon) = spawn(scripted());
    let mut role = KernelRole::new(t, 4, Codec::H264, Pixfmt::Nv12, 4, 4096);
    // Before HELLO nothing but HELLO is served.
    let early = Message::ReqFlush(ReqFlush {
        ctx_id: 4,
        generation: 1,
    })
    .encode()
    .unwrap();
    role.send_raw(&early).unwrap();
    role.hello().unwrap();
    assert_eq!(role.open(32, 16).unwrap(), None);
    // A job with an undefined flag bit, and one whose data is short of bytes.
    let job = |flags: u32, bytes: u32| {
        let mut m = Message::ReqDecode {
            cookie: cookie(77, 1),
            body: ReqDecode {
                ctx_id: 4,
                codec: 1,
                flags: 0,
                generation: 1,
                timestamp: 5,
                src_index: 0,
                dst_index: 1,
                bytes: 3,
                dst_size: 4096,
                src_map: 0,
                dst_map: 0,
            },
            data: vec![1, 2, 3],
        }
        .encode()
        .unwrap();
        m[HDR_SIZE + 8..HDR_SIZE + 12].copy_from_slice(&flags.to_le_bytes());
        m[HDR_SIZE + 32..HDR_SIZE + 36].copy_from_slice(&bytes.to_le_bytes());
        m
    };
    role.send_raw(&job(1 << 7, 3)).unwrap();
    role.send_raw(&job(0, 9)).unwrap();
    role.barrier().unwrap();
    assert_eq!(
        role.violations,
        Vec::<String>::new(),
        "no reply to a malformed job"
    );
    // An open naming a codec outside the enum is refused, not ignored.
    let mut open = Message::ReqSessionOpen(ReqSessionOpen {
        ctx_id: 5,
        codec: 1,
        pixfmt: 1,
        width: 0,
        height: 0,
        reserved: 0,
    })
    .encode()
    .unwrap();
    open[HDR_SIZE + 4..HDR_SIZE + 8].copy_from_slice(&99u32.to_le_bytes());
    role.send_raw(&open).unwrap();
    role.barrier().unwrap();
    assert_eq!(
        role.session_errors,
        vec![SessionErrorCode::UnsupportedCodec.raw()]
    );
    // The session of context 4 is untouched.
    role.job(Some((100, b"abc"))).unwrap();
    assert_eq!(role.src_consumed, 1);
    role.hang_up();
    assert_eq!(daemon.join().unwrap().unwrap(), Exit::Detached);
}

/// REQ_CAPTURE_FMT naming a pixel format outside the enum: the context
/// cannot get pictures in the layout its client set up, so its session
/// ends (RESP_SESSION_ERROR UNSUPPORTED_FORMAT); one for a context without
/// a session changes nothing; other contexts go on.
#[test]
fn a_capture_format_outside_the_enum_ends_that_session_only() {
    let (t, daemon) = spawn(scripted());
    let mut role = KernelRole::new(t, 4, Codec::H264, Pixfmt::Nv12, 4, 1 << 20);
    let hello = role.hello().unwrap();
    assert_eq!(hello.flags & HELLO_F_CAPTURE_FMT, HELLO_F_CAPTURE_FMT);
    assert_eq!(role.open(320, 240).unwrap(), None);
    let fmt = |ctx_id: u32, pixfmt: u32| {
        let mut m = Message::ReqCaptureFmt(ReqCaptureFmt {
            ctx_id,
            pixfmt: Pixfmt::Yuv420.raw(),
        })
        .encode()
        .unwrap();
        m[HDR_SIZE + 4..HDR_SIZE + 8].copy_from_slice(&pixfmt.to_le_bytes());
        m
    };
    // No session on context 9: nothing happens.
    role.send_raw(&fmt(9, Pixfmt::Yuv420.raw())).unwrap();
    role.barrier().unwrap();
    assert_eq!(role.session_errors, Vec::<u32>::new());
    role.send_raw(&fmt(4, 99)).unwrap();
    role.barrier().unwrap();
    assert_eq!(
        role.session_errors,
        vec![SessionErrorCode::UnsupportedFormat.raw()]
    );
    role.hang_up();
    assert_eq!(daemon.join().unwrap().unwrap(), Exit::Detached);
}

#[test]
fn another_protocol_version_ends_the_attachment() {
    let (mut t, daemon) = spawn(scripted());
    let mut hello = Message::ReqHello(ReqHello {
        proto_version: 1,
        max_contexts: 1,
        max_payload: 4096,
        reserved: 0,
    })
    .encode()
    .unwrap();
    hello[4] = 2;
    t.send(&hello).unwrap();
    let mut buf = Vec::new();
    // The daemon closes without answering (EOF or reset, as the kernel
    // sees a release of the device).
    assert!(
        !matches!(t.recv(&mut buf), Ok(true)),
        "no RESP_HELLO to a version-2 kernel"
    );
    assert!(matches!(
        daemon.join().unwrap(),
        Err(DaemonError::Version(ProtoError::BadVersion(2)))
    ));
}

#[test]
fn the_binary_serves_a_socket_reattaches_and_stops_on_sigterm() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("kernel.sock");
    let _ = std::fs::remove_file(&sock);
    let script = dir.join("order.script");
    std::fs::File::create(&script)
        .unwrap()
        .write_all(SCRIPT.as_bytes())
        .unwrap();
    let listener = UnixListener::bind(&sock).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_daedalusd"))
        .args(["--allow-root", "--backend", "scripted", "--script"])
        .arg(&script)
        .arg("--connect")
        .arg(&sock)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (stream, _) = listener.accept().unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut role = KernelRole::new(
        Loopback::from_stream(stream),
        4,
        Codec::H264,
        Pixfmt::Yuv420,
        4,
        4096,
    );
    play_script(&mut role);
    // The kernel side goes away (module unload) and comes back: the daemon
    // attaches again and starts from HELLO with fresh sessions.
    role.hang_up();
    let (stream, _) = listener.accept().unwrap();
    let mut role = KernelRole::new(
        Loopback::from_stream(stream),
        4,
        Codec::H264,
        Pixfmt::Nv12,
        4,
        4096,
    );
    play_script(&mut role);
    // SAFETY: kill only signals the child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {log}", out.status);
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("waiting to re-attach"), "{log}");
}

/// The device transport, on a SOCK_SEQPACKET pair that keeps read() and
/// write() boundaries as /dev/daedalus does: every response must arrive as
/// exactly one write().
#[test]
fn chardev_transport_writes_one_message_per_write() {
    use daedalusd::transport::CharDev;
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints for socketpair to fill.
    assert_eq!(
        unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0, fds.as_mut_ptr()) },
        0
    );
    // SAFETY: both descriptors were just created and are owned here only.
    let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let mut dev = CharDev::from_file(std::fs::File::from(a));
    // The kernel's end reads one packet per recv(), so each reply decodes
    // only if the daemon wrote it whole in one write().
    let mut kernel = CharDev::from_file(std::fs::File::from(b));
    let daemon = std::thread::spawn(move || {
        let mut backend = ScriptedBackend::new(
            Script::parse("info 16x16\nframe 1 consumed+pixels ts=src:1\n").unwrap(),
        );
        Daemon::new(&mut backend).run(&mut dev, None)
    });
    let hello = Message::ReqHello(ReqHello {
        proto_version: 1,
        max_contexts: 1,
        max_payload: 1 << 16,
        reserved: 0,
    });
    assert!(matches!(
        exchange(&mut kernel, &[hello])[..],
        [Message::RespHello(_)]
    ));
    let open = Message::ReqSessionOpen(ReqSessionOpen {
        ctx_id: 2,
        codec: 1,
        pixfmt: 1,
        width: 16,
        height: 16,
        reserved: 0,
    });
    assert!(exchange(&mut kernel, &[open]).is_empty());
    let job = Message::ReqDecode {
        cookie: cookie(1, 1),
        body: ReqDecode {
            ctx_id: 2,
            codec: 1,
            flags: 0,
            generation: 1,
            timestamp: 42,
            src_index: 0,
            dst_index: 0,
            bytes: 2,
            dst_size: 4096,
            src_map: 0,
            dst_map: 0,
        },
        data: vec![0xab, 0xcd],
    };
    let replies = exchange(&mut kernel, &[job]);
    assert_eq!(replies.len(), 2, "{replies:?}");
    match &replies[1] {
        Message::RespFrame { body, data, .. } => {
            assert_eq!(body.flags, FRAME_SRC_CONSUMED | FRAME_HAS_PIXELS);
            assert_eq!((body.timestamp, data.len()), (42, 16 * 16 * 3 / 2));
        }
        other => panic!("{other:?}"),
    }
    drop(kernel);
    assert_eq!(daemon.join().unwrap().unwrap(), Exit::Detached);
}

/// Two contexts on one attachment: replies are routed by context, each
/// session replays its own script, and closing or failing one leaves the
/// other working.
#[test]
fn sessions_are_per_context() {
    let (mut role, daemon) = spawn(Box::new(ScriptedBackend::new(
        Script::parse("frame 1 consumed\nframe 2 consumed+pixels ts=src:2 bytes=4\n").unwrap(),
    )));
    let open = |ctx_id| {
        Message::ReqSessionOpen(ReqSessionOpen {
            ctx_id,
            codec: 1,
            pixfmt: 2,
            width: 0,
            height: 0,
            reserved: 0,
        })
    };
    let job = |ctx_id: u32, slot: u32, ts: u64| Message::ReqDecode {
        cookie: cookie(slot, 1),
        body: ReqDecode {
            ctx_id,
            codec: 1,
            flags: 0,
            generation: 1,
            timestamp: ts,
            src_index: 0,
            dst_index: slot,
            bytes: 1,
            dst_size: 64,
            src_map: 0,
            dst_map: 0,
        },
        data: vec![slot as u8],
    };
    let hello = Message::ReqHello(ReqHello {
        proto_version: 1,
        max_contexts: 4,
        max_payload: 1 << 20,
        reserved: 0,
    });
    assert_eq!(
        exchange(&mut role, &[hello, open(10), open(11)]).len(),
        1,
        "only RESP_HELLO"
    );
    // Interleaved jobs: each context's script counts its own jobs.
    let r = exchange(
        &mut role,
        &[job(10, 1, 100), job(11, 2, 200), job(10, 3, 300)],
    );
    let frames: Vec<(u32, u32, u32, u64)> = r
        .iter()
        .map(|m| match m {
            Message::RespFrame { cookie, body, .. } => {
                (body.ctx_id, cookie_id(*cookie), body.flags, body.timestamp)
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        frames,
        vec![
            (10, 1, FRAME_SRC_CONSUMED, 0),
            (11, 2, FRAME_SRC_CONSUMED, 0),
            (10, 3, FRAME_SRC_CONSUMED | FRAME_HAS_PIXELS, 300),
        ]
    );
    // Closing context 10 leaves 11 alone; a job for the closed context is
    // refused with a session error instead of hanging.
    let close = Message::ReqSessionClose(ReqSessionClose {
        ctx_id: 10,
        reserved: 0,
    });
    let r = exchange(&mut role, &[close, job(11, 4, 400), job(10, 5, 500)]);
    assert!(
        matches!(
            r[0],
            Message::RespFrame {
                body: RespFrame {
                    ctx_id: 11,
                    timestamp: 400,
                    ..
                },
                ..
            }
        ),
        "{r:?}"
    );
    assert!(
        matches!(
            r[1],
            Message::RespSessionError(RespSessionError { ctx_id: 10, .. })
        ),
        "{r:?}"
    );
    assert_eq!(r.len(), 2);
    role.shutdown().unwrap();
    assert_eq!(daemon.join().unwrap().unwrap(), Exit::Detached);
}

/// Each reply names the stream generation of its own job, even when later
/// jobs came with a newer one.
#[test]
fn replies_carry_their_jobs_generation() {
    let (mut t, daemon) = spawn(Box::new(ScriptedBackend::new(
        Script::parse(
            "frame 1 consumed\nframe 2 consumed\nframe 1 pixels bytes=1\nframe 2 pixels bytes=1\n",
        )
        .unwrap(),
    )));
    let hello = Message::ReqHello(ReqHello {
        proto_version: 1,
        max_contexts: 4,
        max_payload: 1 << 20,
        reserved: 0,
    });
    let open = Message::ReqSessionOpen(ReqSessionOpen {
        ctx_id: 1,
        codec: 1,
        pixfmt: 1,
        width: 0,
        height: 0,
        reserved: 0,
    });
    let job = |slot: u32, generation: u32| Message::ReqDecode {
        cookie: cookie(slot, 1),
        body: ReqDecode {
            ctx_id: 1,
            codec: 1,
            flags: 0,
            generation,
            timestamp: 1,
            src_index: 0,
            dst_index: slot,
            bytes: 0,
            dst_size: 64,
            src_map: 0,
            dst_map: 0,
        },
        data: vec![],
    };
    for m in [hello, open, job(1, 3), job(2, 4)] {
        t.send(&m.encode().unwrap()).unwrap();
    }
    let mut buf = Vec::new();
    let mut gens = Vec::new();
    while gens.len() < 4 {
        assert!(t.recv(&mut buf).unwrap());
        if let Message::RespFrame { cookie, body, .. } =
            Message::decode_dir(&buf, Direction::Response).unwrap()
        {
            gens.push((cookie_id(cookie), body.flags, body.generation));
        }
    }
    assert_eq!(
        gens,
        vec![
            (1, FRAME_SRC_CONSUMED, 3),
            (2, FRAME_SRC_CONSUMED, 4),
            (1, FRAME_HAS_PIXELS, 3),
            (2, FRAME_HAS_PIXELS, 4)
        ]
    );
    t.shutdown().unwrap();
    daemon.join().unwrap().unwrap();
}

/// A picture larger than the kernel's max_payload goes back as an ERROR
/// buffer rather than as a write the kernel would refuse.
#[test]
fn pictures_over_max_payload_become_error_buffers() {
    let (mut t, daemon) = spawn(Box::new(ScriptedBackend::new(
        Script::parse(
            "frame 1 consumed+pixels ts=7 bytes=500\nframe 2 consumed+pixels ts=8 bytes=50\n",
        )
        .unwrap(),
    )));
    let hello = Message::ReqHello(ReqHello {
        proto_version: 1,
        max_contexts: 1,
        max_payload: 200,
        reserved: 0,
    });
    let open = Message::ReqSessionOpen(ReqSessionOpen {
        ctx_id: 1,
        codec: 1,
        pixfmt: 1,
        width: 0,
        height: 0,
        reserved: 0,
    });
    let job = |slot: u32| Message::ReqDecode {
        cookie: cookie(slot, 1),
        body: ReqDecode {
            ctx_id: 1,
            codec: 1,
            flags: 0,
            generation: 1,
            timestamp: 1,
            src_index: 0,
            dst_index: slot,
            bytes: 0,
            dst_size: 4096,
            src_map: 0,
            dst_map: 0,
        },
        data: vec![],
    };
    for m in [hello, open, job(1), job(2)] {
        t.send(&m.encode().unwrap()).unwrap();
    }
    let mut buf = Vec::new();
    let mut frames = Vec::new();
    while frames.len() < 2 {
        assert!(t.recv(&mut buf).unwrap());
        if let Message::RespFrame { body, data, .. } =
            Message::decode_dir(&buf, Direction::Response).unwrap()
        {
            frames.push((body.flags, body.bytesused, data.len()));
        }
    }
    let both = FRAME_SRC_CONSUMED | FRAME_HAS_PIXELS;
    assert_eq!(frames, vec![(both | FRAME_ERROR, 0, 0), (both, 50, 50)]);
    t.shutdown().unwrap();
    daemon.join().unwrap().unwrap();
}

/// The daemon's end of the link as the character device behaves when the
/// kernel refuses a write: `refuse` says, message by message, whether the
/// kernel refuses it and with which errno. A refused message is not
/// applied and write() fails; every other one goes through.
struct Refusing<F> {
    inner: Loopback,
    refuse: F,
    refused: usize,
}

impl<F: FnMut(&[u8]) -> Option<i32>> Transport for Refusing<F> {
    fn recv(&mut self, buf: &mut Vec<u8>) -> std::io::Result<bool> {
        self.inner.recv(buf)
    }

    fn send(&mut self, msg: &[u8]) -> std::io::Result<()> {
        if let Some(errno) = (self.refuse)(msg) {
            self.refused += 1;
            return Err(std::io::Error::from_raw_os_error(errno));
        }
        self.inner.send(msg)
    }

    fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.inner.fd()
    }
}

/// The kernel refuses the first message of type `ty` with `errno`.
fn reject_one(
    inner: Loopback,
    ty: MsgType,
    errno: i32,
) -> Refusing<impl FnMut(&[u8]) -> Option<i32>> {
    let mut armed = true;
    Refusing {
        inner,
        refused: 0,
        refuse: move |msg: &[u8]| {
            let this = peek_header(msg).map(|(_, t, _)| t).ok() == Some(ty);
            (armed && this).then(|| {
                armed = false;
                errno
            })
        },
    }
}

fn rejected_write_keeps_the_session(errno: i32) {
    let (daemon_end, role_end) = Loopback::pair().unwrap();
    role_end
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let daemon = std::thread::spawn(move || {
        let mut backend = scripted();
        let mut t = reject_one(daemon_end, MsgType::RespResetDone, errno);
        let mut d = Daemon::new(backend.as_mut());
        let exit = d.run(&mut t, None);
        (exit, d.rejected, d.dropped)
    });
    let mut role = KernelRole::new(role_end, 4, Codec::H264, Pixfmt::Nv12, 4, 4096);
    role.hello().unwrap();
    assert_eq!(role.open(32, 16).unwrap(), None);
    // The kernel refuses this RESP_RESET_DONE (as it does a stale one);
    // the session must survive it and decode the whole script.
    role.reset().unwrap();
    role.job(Some((100, b"\0\0\x01\x65one"))).unwrap();
    role.job(Some((200, b"\0\0\x01\x65two"))).unwrap();
    role.barrier().unwrap();
    assert_eq!(role.drain().unwrap(), 0);
    assert_eq!(role.violations, Vec::<String>::new());
    let got: Vec<(u32, u64)> = role
        .pictures
        .iter()
        .map(|p| (cookie_id(p.cookie), p.timestamp))
        .collect();
    assert_eq!(got, vec![(2, 100), (1, 200)]);
    assert_eq!((role.src_consumed, role.lasts), (2, 1));
    role.hang_up();
    let (exit, rejected, dropped) = daemon.join().unwrap();
    assert_eq!(exit.unwrap(), Exit::Detached);
    assert_eq!((rejected, dropped), (1, 0));
}

#[test]
fn a_write_the_kernel_rejects_with_einval_is_counted_and_decoding_goes_on() {
    rejected_write_keeps_the_session(libc::EINVAL);
}

#[test]
fn a_write_the_kernel_rejects_with_eproto_is_counted_and_decoding_goes_on() {
    rejected_write_keeps_the_session(libc::EPROTO);
}

#[test]
fn a_dead_link_still_ends_the_attachment() {
    let (daemon_end, role_end) = Loopback::pair().unwrap();
    role_end
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let daemon = std::thread::spawn(move || {
        let mut backend = scripted();
        let mut t = reject_one(daemon_end, MsgType::RespHello, libc::ENODEV);
        Daemon::new(backend.as_mut()).run(&mut t, None)
    });
    let mut role = KernelRole::new(role_end, 4, Codec::H264, Pixfmt::Nv12, 4, 4096);
    assert!(
        role.hello().is_err(),
        "the daemon must not answer after ENODEV"
    );
    match daemon.join().unwrap() {
        Err(DaemonError::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::ENODEV)),
        other => panic!("ENODEV must end the attachment, got {other:?}"),
    }
}

/// A daemon that decodes stateless H.264 says so in RESP_HELLO; a module
/// of the first release refuses that, and the daemon answers again with
/// the codecs it knows, so the two still work together.
#[test]
fn resp_hello_falls_back_to_the_first_release_s_codecs_when_refused() {
    for first_release in [false, true] {
        let (daemon_end, role_end) = Loopback::pair().unwrap();
        role_end
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let daemon = std::thread::spawn(move || {
            let mut backend = scripted();
            let mut d = Daemon::new(backend.as_mut());
            // A module of the first release refuses (EINVAL) a RESP_HELLO
            // naming a codec outside DAEDALUS_CODECS_BASE, as its
            // daedalus_parse_hello() does, and goes on waiting for one.
            let mut t = Refusing {
                inner: daemon_end,
                refused: 0,
                refuse: |msg: &[u8]| {
                    let newer = matches!(Message::decode(msg),
                        Ok(Message::RespHello(h)) if h.codecs & !CODECS_BASE != 0);
                    (first_release && newer).then_some(libc::EINVAL)
                },
            };
            let exit = d.run(&mut t, None);
            (exit, d.rejected, t.refused)
        });
        let mut role = KernelRole::new(role_end, 4, Codec::H264, Pixfmt::Nv12, 4, 4096);
        let hello = role.hello().unwrap();
        let want = if first_release {
            CODECS_BASE
        } else {
            Codec::mask()
        };
        assert_eq!(hello.codecs, want, "first release: {first_release}");
        assert_ne!(
            Codec::mask(),
            CODECS_BASE,
            "the daemon has a stateless codec"
        );
        // The session goes on as ever.
        assert_eq!(role.open(32, 16).unwrap(), None);
        role.job(Some((100, b"\0\0\x01\x65one"))).unwrap();
        role.barrier().unwrap();
        role.hang_up();
        let (exit, rejected, refused) = daemon.join().unwrap();
        assert_eq!(exit.unwrap(), Exit::Detached);
        assert_eq!(
            (rejected, refused),
            if first_release { (1, 1) } else { (0, 0) }
        );
    }
}
