//! The daemon binary confined as it runs: it decodes exactly inside its
//! sandbox (decoder threads, re-attaching over the loopback socket,
//! re-opening a device), and the sandbox bites: a system call outside the
//! allow-list ends it with its number and exit status 4, a file outside the
//! device's directory is EACCES.
//!
//! Landlock must be enforced on the machine that runs these tests: a kernel
//! without it fails `files_outside_the_device_directory_are_denied` rather
//! than skipping it.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use daedalus_proto::{Codec, Pixfmt};
use daedalusd::clip::{self, FrameMd5};
use daedalusd::kernel_role::KernelRole;
use daedalusd::sandbox::{PROBE_SYSCALL, SECCOMP_EXIT};
use daedalusd::transport::Loopback;

const BIN: &str = env!("CARGO_BIN_EXE_daedalusd");

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sandbox-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A scratch directory for `name` holding `s.script`, a one-line script for
/// the scripted backend.
fn scripted(name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    let script = dir.join("s.script");
    std::fs::write(&script, "info 16x16\n").unwrap();
    (dir, script)
}

/// The kernel's side of a loopback attachment, listening at
/// `dir`/kernel.sock.
fn kernel_socket(dir: &Path) -> (PathBuf, UnixListener) {
    let sock = dir.join("kernel.sock");
    let _ = std::fs::remove_file(&sock);
    let listener = UnixListener::bind(&sock).unwrap();
    (sock, listener)
}

/// The daemon, allowed to run as root (CI runs as root), logging to a pipe.
fn daemon(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--allow-root")
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

fn sigterm(child: &Child) {
    // SAFETY: kill only signals the child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
}

/// Waits for the child, giving its exit code (None: killed) and its log.
fn finish(child: Child) -> (Option<i32>, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `finish`, but a child still running after `limit` is sent SIGTERM first.
fn finish_within(mut child: Child, limit: Duration) -> (Option<i32>, String) {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() && start.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(50));
    }
    if child.try_wait().unwrap().is_none() {
        sigterm(&child);
    }
    finish(child)
}

struct Clip {
    codec: Codec,
    packets: Vec<(u64, Vec<u8>)>,
    expected: Vec<FrameMd5>,
}

fn clip(dir: &Path, codec: Codec) -> Clip {
    let path = clip::encode_codec(dir, &format!("{codec:?}"), codec, 320, 240, 1, 0).unwrap();
    Clip {
        codec,
        packets: clip::packets(&path).unwrap(),
        expected: clip::framemd5(&path).unwrap(),
    }
}

/// One attachment from the listener's side: the clip decoded whole, every
/// picture's MD5 and timestamp equal to ffmpeg's.
fn decode_exactly(listener: &UnixListener, ctx: u32, pixfmt: Pixfmt, clip: &Clip) {
    let (stream, _) = listener.accept().unwrap();
    let mut role = KernelRole::new(
        Loopback::from_stream(stream),
        ctx,
        clip.codec,
        pixfmt,
        12,
        1 << 20,
    );
    role.hello().unwrap();
    assert_eq!(
        role.open(320, 240).unwrap(),
        None,
        "{:?} refused",
        clip.codec
    );
    for (ts, data) in &clip.packets {
        role.job(Some((*ts, data))).unwrap();
    }
    role.drain().unwrap();
    assert_eq!(role.violations, Vec::<String>::new());
    assert_eq!(role.dst_errors, 0, "CAPTURE buffers returned with ERROR");
    let got = common::digest(&role);
    assert_eq!(got, clip.expected, "{:?} {pixfmt:?}", clip.codec);
    role.hang_up();
}

/// The binary with `threads` decoder threads decodes two clips exactly,
/// the second after re-attaching (a new connect() inside the sandbox), and
/// stops cleanly on SIGTERM; its log says it was confined.
fn confined_binary_decodes(name: &str, threads: &str, clips: [Codec; 2]) {
    let dir = scratch(name);
    let first = clip(&dir, clips[0]);
    let second = clip(&dir, clips[1]);
    let (sock, listener) = kernel_socket(&dir);
    let child = daemon(&[
        "--codecs",
        "h264,hevc,vp9",
        "--threads",
        threads,
        "--connect",
    ])
    .arg(&sock)
    .spawn()
    .unwrap();
    decode_exactly(&listener, 1, Pixfmt::Nv12, &first);
    decode_exactly(&listener, 2, Pixfmt::Yuv420, &second);
    sigterm(&child);
    let (code, log) = finish(child);
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("sandbox: seccomp on"), "{log}");
    assert!(log.contains("waiting to re-attach"), "{log}");
    assert!(!log.contains("not allowed"), "{log}");
}

#[test]
fn the_confined_binary_decodes_with_two_decoder_threads() {
    confined_binary_decodes("two-threads", "2", [Codec::H264, Codec::Hevc]);
}

#[test]
fn the_confined_binary_decodes_with_libavcodecs_thread_count() {
    confined_binary_decodes("auto-threads", "0", [Codec::Vp9, Codec::H264]);
}

#[test]
fn a_forbidden_system_call_ends_the_daemon_with_its_number() {
    let (dir, script) = scripted("seccomp");
    let (sock, listener) = kernel_socket(&dir);
    let child = daemon(&[
        "--backend",
        "scripted",
        "--sandbox-probe",
        "seccomp",
        "--script",
    ])
    .arg(&script)
    .arg("--connect")
    .arg(&sock)
    .spawn()
    .unwrap();
    // The probe runs once the daemon is attached and confined; a daemon
    // that survives it is stopped, and fails below.
    let (_stream, _) = listener.accept().unwrap();
    let (code, log) = finish_within(child, Duration::from_secs(30));
    let line = format!("daedalusd: seccomp: system call {PROBE_SYSCALL} not allowed");
    assert!(log.lines().any(|l| l == line), "no '{line}' in:\n{log}");
    assert_eq!(code, Some(SECCOMP_EXIT), "{log}");
}

#[test]
fn files_outside_the_device_directory_are_denied() {
    let (_dir, script) = scripted("landlock");
    // /dev/null stands in for the device: attached, confined, probed, then
    // read() says the kernel side is gone and --once ends the daemon.
    let child = daemon(&[
        "--backend",
        "scripted",
        "--device",
        "/dev/null",
        "--once",
        "--sandbox-probe",
        "landlock",
        "--script",
    ])
    .arg(&script)
    .spawn()
    .unwrap();
    let (code, log) = finish(child);
    assert!(
        !log.contains("Landlock NOT enforced"),
        "Landlock is not enforced by this machine's kernel, so the daemon's file \
         confinement cannot be tested here:\n{log}"
    );
    assert!(
        log.contains("no file access but reading and writing existing files beneath /dev"),
        "{log}"
    );
    assert!(
        log.contains("sandbox probe: open /etc/passwd: Permission denied (os error 13)"),
        "/etc/passwd was not refused with EACCES:\n{log}"
    );
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn the_confined_daemon_reopens_its_device() {
    let (_dir, script) = scripted("reopen");
    // /dev/null ends every attachment at once: each later one is an open()
    // beneath /dev from inside the sandbox.
    let mut child = daemon(&["--backend", "scripted", "--device", "/dev/null", "--script"])
        .arg(&script)
        .spawn()
        .unwrap();
    let mut log = String::new();
    let mut attached = 0;
    let mut lines = BufReader::new(child.stderr.take().unwrap());
    while attached < 3 {
        let mut line = String::new();
        if lines.read_line(&mut line).unwrap() == 0 {
            break;
        }
        attached += usize::from(line.contains("attached to the kernel side"));
        log.push_str(&line);
    }
    sigterm(&child);
    lines.read_to_string(&mut log).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(attached, 3, "{log}");
    assert!(log.contains("sandbox: seccomp on"), "{log}");
    assert!(!log.contains("cannot attach"), "{log}");
    assert!(status.success(), "{status:?}: {log}");
}

/// A confined daemon stopped and continued (SIGSTOP, SIGCONT: a stuck
/// machine, a debugger, the e2e's stopped-daemon check) while it waits
/// with a timeout: the kernel resumes that wait through restart_syscall,
/// which the filter must allow, or the daemon dies at its first SIGCONT.
#[test]
fn a_stopped_and_continued_daemon_lives_on() {
    let (dir, script) = scripted("stop-cont");
    let (sock, listener) = kernel_socket(&dir);
    let mut child = daemon(&["--backend", "scripted", "--script"])
        .arg(&script)
        .arg("--connect")
        .arg(&sock)
        .spawn()
        .unwrap();
    // Attached and confined, then the kernel side goes and does not come
    // back: the daemon waits 500 ms at a time for it (poll with a timeout).
    let (stream, _) = listener.accept().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    while !log.contains("sandbox: seccomp on") {
        let mut line = String::new();
        if lines.read_line(&mut line).unwrap() == 0 {
            break;
        }
        log.push_str(&line);
    }
    std::fs::remove_file(&sock).unwrap();
    drop(stream);
    drop(listener);
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id() as i32;
    for _ in 0..6 {
        // SAFETY: kill only signals the child this test started.
        unsafe {
            assert_eq!(libc::kill(pid, libc::SIGSTOP), 0);
            std::thread::sleep(Duration::from_millis(150));
            assert_eq!(libc::kill(pid, libc::SIGCONT), 0);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let alive = child.try_wait().unwrap().is_none();
    if alive {
        sigterm(&child);
    }
    lines.read_to_string(&mut log).unwrap();
    let status = child.wait().unwrap();
    assert!(alive, "the daemon died at a SIGCONT ({status:?}):\n{log}");
    assert!(!log.contains("not allowed"), "{log}");
    assert!(status.success(), "{status:?}: {log}");
}
