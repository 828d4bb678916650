//! The command line as users see it: --help, the diagnostics of a bad
//! script or a missing one, root refused without --allow-root, and a
//! device the daemon's user may not open.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_daedalusd");

/// The binary with `args`, allowed to run as root (CI runs as root; the
/// refusal itself is `root_is_refused_without_allow_root`'s).
fn run(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["--allow-root"];
    all.extend_from_slice(args);
    run_as_is(&all)
}

/// Runs the daemon with `args` and nothing added: exit status (-1 for a
/// signal), stdout, stderr.
fn run_as_is(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_explains_itself() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("help", out);
}

#[test]
fn a_bad_script_is_refused_with_its_line() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("bad.script");
    std::fs::write(&script, "info 16x16\nframe 1 consumed+sideways\n").unwrap();
    let (code, _, err) = run(&[
        "--backend",
        "scripted",
        "--script",
        script.to_str().unwrap(),
        "--once",
    ]);
    assert_eq!(code, 2);
    let line = err
        .lines()
        .find(|l| l.contains("script line"))
        .unwrap_or(&err)
        .to_string();
    let line = line.replace(dir.to_str().unwrap(), "<dir>");
    let line = line
        .split_once("ERROR")
        .map(|(_, rest)| rest.trim().to_string())
        .unwrap_or(line);
    insta::assert_snapshot!("bad_script", line);
}

#[test]
fn scripted_backend_needs_a_script() {
    let (code, _, err) = run(&["--backend", "scripted"]);
    assert_eq!(code, 2);
    assert!(err.contains("--script"), "{err}");
}

#[test]
fn once_without_a_device_fails() {
    let (code, _, err) = run(&[
        "--device",
        "/nonexistent/daedalus",
        "--once",
        "--codecs",
        "h264",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot attach"), "{err}");
}

/// Runs the daemon as `uid` (root's children only): a copy in a directory
/// every user may enter, as an installed binary is.
fn as_user(args: &[&str], uid: u32) -> (Option<i32>, String) {
    let dir = std::env::temp_dir().join(format!("daedalusd-cli-{uid}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("daedalusd");
    std::fs::copy(BIN, &bin).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new(&bin)
        .args(args)
        .env_remove("RUST_LOG")
        .uid(uid)
        .gid(uid)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn root_is_refused_without_allow_root() {
    let args = [
        "--device",
        "/nonexistent/daedalus",
        "--once",
        "--codecs",
        "h264",
    ];
    let refusal = "refusing to run as root";
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let (code, _, log) = run_as_is(&args);
        assert_eq!(code, 2, "{log}");
        assert!(log.contains(refusal), "{log}");
        // Any other user goes on (and finds no device).
        let (code, log) = as_user(&args, 65534);
        assert_eq!(code, Some(1), "{log}");
        assert!(!log.contains(refusal), "{log}");
        assert!(log.contains("cannot attach"), "{log}");
    } else {
        eprintln!("not root: only the admission of an ordinary user is checked");
        let (code, _, log) = run_as_is(&args);
        assert_eq!(code, 1, "{log}");
        assert!(!log.contains(refusal), "{log}");
    }
}

#[test]
fn a_refused_device_is_explained() {
    // A node the daemon's user may not open: EACCES, said with both of its
    // possible causes (the node's mode, the sandbox). Root opens anything,
    // so as root the daemon runs as nobody; otherwise the node has mode 0.
    let dir = std::env::temp_dir().join(format!("daedalusd-cli-node-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let node = dir.join("daedalus");
    std::fs::write(&node, b"").unwrap();
    let args = [
        "--device",
        node.to_str().unwrap(),
        "--once",
        "--codecs",
        "h264",
    ];
    // SAFETY: geteuid has no preconditions.
    let (code, log) = if unsafe { libc::geteuid() } == 0 {
        std::fs::set_permissions(&node, std::fs::Permissions::from_mode(0o600)).unwrap();
        as_user(&args, 65534)
    } else {
        std::fs::set_permissions(&node, std::fs::Permissions::from_mode(0o000)).unwrap();
        let (code, _, log) = run(&args);
        (Some(code), log)
    };
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("Permission denied"), "{log}");
    assert!(log.contains("the node's owner and mode"), "{log}");
}
