//! Mapped jobs (F_MAPPED) with the scripted backend: when RESP_HELLO
//! offers them, pictures written into the mapped dst, jobs the daemon
//! cannot map, and the daemon's live mappings at every point where the
//! module takes buffers back (reply, CAPTURE off, reset, close, detach).
//! `KernelRole` plays the module on a mapped loopback pair: it revokes a
//! buffer as its reply is written, so a late touch kills the test with
//! SIGBUS, and every barrier fails on a mapping kept past its buffer.

use std::thread::JoinHandle;
use std::time::Duration;

use daedalus_proto::*;
use daedalusd::backend::Backend;
use daedalusd::daemon::{Daemon, DaemonError, Exit};
use daedalusd::kernel_role::{KernelRole, MapMode};
use daedalusd::mapping::{MapKind, page_size};
use daedalusd::sandbox::{self, Reach};
use daedalusd::scripted::{Script, ScriptedBackend};
use daedalusd::transport::{CharDev, Loopback, Transport};

const SCRIPT: &str = "\
info 32x16 dpb=2
frame 1 consumed
frame 2 consumed+pixels ts=src:1
frame 1 pixels ts=src:2
await flush
frame 3 pixels+last bytes=0
";

fn spawn(
    script: &str,
    mapped_pair: bool,
    offer: bool,
) -> (Loopback, JoinHandle<Result<Exit, DaemonError>>) {
    let (mut daemon_end, role_end) = if mapped_pair {
        Loopback::pair_mapped().unwrap()
    } else {
        Loopback::pair().unwrap()
    };
    role_end
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut backend: Box<dyn Backend + Send> =
        Box::new(ScriptedBackend::new(Script::parse(script).unwrap()));
    let handle = std::thread::spawn(move || {
        // Confined as the binary is once attached; the mapped pair's
        // emulation of the module runs in this thread too.
        sandbox::confine_with(Reach::Nothing, &[sandbox::EMULATED_MODULE]).unwrap();
        let mut daemon = Daemon::new(backend.as_mut());
        daemon.offer_mapped(offer);
        daemon.run(&mut daemon_end, None)
    });
    (role_end, handle)
}

fn mapped_role(t: Loopback, mode: MapMode) -> KernelRole {
    let mut role = KernelRole::new(t, 4, Codec::H264, Pixfmt::Nv12, 4, 4096);
    role.mapping = mode;
    role
}

#[test]
fn hello_offers_mapped_jobs_only_when_the_transport_maps_them() {
    for (mapped_pair, offer, want) in [
        (false, true, 0),
        (true, true, HELLO_F_MAPPED),
        (true, false, 0),
    ] {
        let (t, daemon) = spawn(SCRIPT, mapped_pair, offer);
        let mut role = mapped_role(t, MapMode::Mapped);
        let hello = role.hello().unwrap();
        assert_eq!(
            hello.flags & HELLO_F_MAPPED,
            want,
            "pair mapped {mapped_pair}, offer {offer}"
        );
        assert_eq!(hello.flags & !HELLO_F_MAPPED, HELLO_F_CAPTURE_FMT);
        role.hang_up();
        assert_eq!(daemon.join().unwrap().unwrap(), Exit::Detached);
    }
}

/// The script's exact order with every job mapped, then with mapped and
/// inline jobs alternating: the pictures are the same bytes, and a mapped
/// dst's come through the buffer, none inline.
#[test]
fn scripted_pictures_go_into_the_mapped_dsts() {
    for mode in [MapMode::Mapped, MapMode::Mixed] {
        let (t, daemon) = spawn(SCRIPT, true, true);
        let mut role = mapped_role(t, mode);
        role.hello().unwrap();
        assert_eq!(role.open(32, 16).unwrap(), None);
        role.job(Some((100, b"\0\0\x01\x65one"))).unwrap();
        role.job(Some((200, b"\0\0\x01\x65two"))).unwrap();
        role.barrier().unwrap();
        assert_eq!(role.pictures.len(), 2, "{mode:?}: both pictures");
        assert_eq!(role.drain().unwrap(), 0);
        assert_eq!(role.violations, Vec::<String>::new(), "{mode:?}");
        let got: Vec<(u32, u64, usize)> = role
            .pictures
            .iter()
            .map(|p| (cookie_id(p.cookie), p.timestamp, p.data.len()))
            .collect();
        assert_eq!(got, vec![(2, 100, 768), (1, 200, 768)], "{mode:?}");
        for p in &role.pictures {
            let id = cookie_id(p.cookie) as u8;
            assert!(p.data.iter().all(|b| *b == id), "{mode:?}: job {id}");
        }
        let mapped = if mode == MapMode::Mapped { 3 } else { 1 };
        assert_eq!(role.mapped_jobs, mapped, "{mode:?}");
        assert_eq!(role.live_mappings(), Some(0), "{mode:?}: every dst back");
        role.hang_up();
        assert_eq!(daemon.join().unwrap().unwrap(), Exit::Detached);
    }
}

fn mapped_job(cookie_id: u32, src_map: u64, dst_map: u64) -> Message {
    Message::ReqDecode {
        cookie: cookie(cookie_id, 1),
        body: ReqDecode {
            ctx_id: 4,
            codec: Codec::H264.raw(),
            flags: DECODE_F_MAPPED,
            generation: 1,
            timestamp: 5,
            src_index: 0,
            dst_index: 1,
            bytes: 3,
            dst_size: 4096,
            src_map,
            dst_map,
        },
        data: Vec::new(),
    }
}

/// A mapped job whose buffers the daemon cannot map (an offset naming no
/// buffer, or mapped jobs it never offered) fails alone: both of its
/// buffers back with ERROR, the session goes on.
#[test]
fn a_mapped_job_the_daemon_cannot_map_fails_alone() {
    let page = page_size() as u64;
    for offer in [true, false] {
        let (mut t, daemon) = spawn("frame 1 consumed+pixels bytes=4\n", true, offer);
        let hello = Message::ReqHello(ReqHello {
            proto_version: 1,
            max_contexts: 1,
            max_payload: 1 << 16,
            reserved: 0,
        });
        let open = Message::ReqSessionOpen(ReqSessionOpen {
            ctx_id: 4,
            codec: Codec::H264.raw(),
            pixfmt: Pixfmt::Nv12.raw(),
            width: 16,
            height: 16,
            reserved: 0,
        });
        for m in [hello, open] {
            t.send(&m.encode().unwrap()).unwrap();
        }
        t.send(&mapped_job(1, 64 * page, 65 * page).encode().unwrap())
            .unwrap();
        let mut buf = Vec::new();
        let mut frames = Vec::new();
        while frames.is_empty() {
            assert!(t.recv(&mut buf).unwrap());
            if let Message::RespFrame { cookie, body, data } =
                Message::decode_dir(&buf, Direction::Response).unwrap()
            {
                frames.push((cookie_id(cookie), body.flags, body.bytesused, data.len()));
            }
        }
        assert_eq!(
            frames,
            vec![(1, FRAME_SRC_CONSUMED | FRAME_HAS_PIXELS | FRAME_ERROR, 0, 0)],
            "offered {offer}"
        );
        let space = t.map_space().unwrap().clone();
        let refused = space.take_refused();
        assert_eq!(refused.len(), usize::from(offer), "{refused:?}");
        // The session goes on: an inline job (the session's first) is
        // answered by the script.
        let inline = Message::ReqDecode {
            cookie: cookie(2, 1),
            body: ReqDecode {
                ctx_id: 4,
                codec: Codec::H264.raw(),
                flags: 0,
                generation: 1,
                timestamp: 6,
                src_index: 0,
                dst_index: 2,
                bytes: 1,
                dst_size: 4096,
                src_map: 0,
                dst_map: 0,
            },
            data: vec![9],
        };
        t.send(&inline.encode().unwrap()).unwrap();
        assert!(t.recv(&mut buf).unwrap());
        match Message::decode_dir(&buf, Direction::Response).unwrap() {
            Message::RespFrame { cookie, body, data } => {
                assert_eq!(cookie_id(cookie), 2);
                assert_eq!(
                    (body.flags, data.len()),
                    (FRAME_SRC_CONSUMED | FRAME_HAS_PIXELS, 4)
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(space.live(), 0);
        t.shutdown().unwrap();
        assert_eq!(daemon.join().unwrap().unwrap(), Exit::Detached);
    }
}

/// A script that never fills a dst: every dst stays parked (mapped) in the
/// daemon until the module takes it back. After each way the module has
/// of taking them back, the daemon maps nothing.
#[test]
fn parked_mappings_go_at_capture_off_reset_close_and_detach() {
    let script = "info 32x16 dpb=8\nframe 1 consumed\nframe 2 consumed\nframe 3 consumed\n\
                  frame 4 consumed\nframe 5 consumed\nframe 6 consumed\nframe 7 consumed\n\
                  frame 8 consumed\nframe 9 consumed\n";
    let (t, daemon) = spawn(script, true, true);
    let space = t.map_space().unwrap().clone();
    let mut role = mapped_role(t, MapMode::Mapped);
    role.hello().unwrap();
    assert_eq!(role.open(32, 16).unwrap(), None);
    let jobs = |role: &mut KernelRole, n| {
        for _ in 0..n {
            role.job(Some((1, b"bits"))).unwrap();
        }
        role.barrier().unwrap();
    };
    let live = |role: &KernelRole| role.live_mappings().unwrap();

    jobs(&mut role, 2);
    assert_eq!(
        (live(&role), role.parked_mapped()),
        (2, 2),
        "two dsts parked, srcs unmapped"
    );
    role.stream_capture_off();
    role.barrier().unwrap();
    assert_eq!(live(&role), 0, "after REQ_CAPTURE_OFF");

    jobs(&mut role, 2);
    assert_eq!(live(&role), 2);
    role.reset().unwrap();
    assert_eq!(live(&role), 0, "after REQ_RESET");

    jobs(&mut role, 2);
    assert_eq!(live(&role), 2);
    role.close().unwrap();
    assert_eq!(live(&role), 0, "after REQ_SESSION_CLOSE");

    assert_eq!(role.open(32, 16).unwrap(), None);
    jobs(&mut role, 3);
    assert_eq!(live(&role), 3);
    assert_eq!(role.violations, Vec::<String>::new());
    role.hang_up();
    assert_eq!(daemon.join().unwrap().unwrap(), Exit::Detached);
    assert_eq!(space.live(), 0, "after the daemon detached");
    assert_eq!(space.take_refused(), Vec::<String>::new());
}

/// The device transport maps through its own descriptor: /dev/zero stands
/// in for /dev/daedalus (a character device with an mmap handler).
#[test]
fn the_device_transport_maps_its_descriptor() {
    let mut dev = CharDev::open("/dev/zero".as_ref()).unwrap();
    assert!(dev.can_map(), "a character device can map");
    let mut dst = dev.map(0, 5000, MapKind::Dst).unwrap();
    assert_eq!(dst.len(), 5000);
    let out = dst.bytes_mut().unwrap();
    out[4999] = 7;
    assert_eq!(dst.bytes()[4999], 7);
    let src = dev.map(0, 10, MapKind::Src).unwrap();
    assert!(src.bytes().iter().all(|b| *b == 0));
    let mut src = src;
    assert!(src.bytes_mut().is_none(), "a src is read only");
    let e = dev.map(0, 0, MapKind::Src).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    // A socket standing in for the device has no mmap: no F_MAPPED.
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let sock = CharDev::from_file(std::fs::File::from(std::os::fd::OwnedFd::from(a)));
    assert!(!sock.can_map());
}

/// The module revokes a parked dst on its own (STREAMOFF, the watchdog)
/// while the daemon, not told yet, fills it: the write faults, the daemon
/// absorbs the SIGBUS, reports the touch and goes on serving.
#[test]
fn a_dst_revoked_under_the_daemon_does_not_kill_it() {
    let script = "info 32x16 dpb=4\nframe 1 consumed\nframe 2 consumed\n\
                  frame 1 pixels ts=src:2\nframe 3 consumed+pixels ts=src:3\n";
    let (t, daemon) = spawn(script, true, true);
    let space = t.map_space().unwrap().clone();
    let mut role = mapped_role(t, MapMode::Mapped);
    role.hello().unwrap();
    assert_eq!(role.open(32, 16).unwrap(), None);
    role.job(Some((10, b"one"))).unwrap();
    role.barrier().unwrap();
    // Job 1's dst is parked in the daemon: the module takes it back.
    space.revoke_job(cookie(1, 1));
    role.job(Some((20, b"two"))).unwrap();
    role.job(Some((30, b"three"))).unwrap();
    role.barrier().unwrap();
    assert!(
        role.violations
            .iter()
            .any(|v| v == "1 mapping(s) touched after their buffers were revoked"),
        "{:?}",
        role.violations
    );
    let last = role.pictures.last().expect("job 3's picture");
    assert_eq!((cookie_id(last.cookie), last.timestamp), (3, 30));
    assert!(last.data.len() == 768 && last.data.iter().all(|b| *b == 3));
    role.hang_up();
    assert_eq!(daemon.join().unwrap().unwrap(), Exit::Detached);
}
