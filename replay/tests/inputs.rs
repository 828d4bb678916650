//! Every input `check` and `import` are given is judged: the command ends,
//! reads each file once, and an input it cannot use fully is exit 2 with
//! the file (and line) named, never a quiet success.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn traces() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../traces")
}

/// A fresh directory of its own for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("daedalus-inputs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `daedalus-replay ARGS`; a run that does not end within a minute
/// is killed and fails the test.
fn replay<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_daedalus-replay"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("daedalus-replay did not end within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn a_directory_walk_follows_no_link_cycle_and_reads_each_file_once() {
    let dir = scratch("walk");
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::copy(traces().join("regress/drain.scn"), tree.join("drain.scn")).unwrap();
    let once = |why: &str| {
        let r = replay(&[Path::new("check"), &tree]);
        assert_eq!(r.code, Some(0), "{why}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stdout
                .contains("core real: 1 clean, 0 violation(s), 0 unusable"),
            "{why}: {}",
            r.stdout
        );
    };
    symlink("..", tree.join("sub/up")).unwrap();
    once("a link to the parent");
    symlink(".", tree.join("self-a")).unwrap();
    symlink(".", tree.join("self-b")).unwrap();
    once("two links to the directory itself");
    // A link to a directory outside the tree is followed, and a file
    // named on the command line may be a link.
    let outside = dir.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::copy(
        traces().join("regress/watchdog.scn"),
        outside.join("watchdog.scn"),
    )
    .unwrap();
    symlink(&outside, tree.join("sub/elsewhere")).unwrap();
    symlink(tree.join("drain.scn"), dir.join("link.scn")).unwrap();
    let r = replay(&[Path::new("check"), &tree, &dir.join("link.scn")]);
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("core real: 2 clean, 0 violation(s), 0 unusable"),
        "{}",
        r.stdout
    );
    let r = replay(&[Path::new("check"), &dir.join("link.scn")]);
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("1 clean"), "{}", r.stdout);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_directory_without_scenarios_is_unusable_input() {
    let dir = scratch("empty");
    let empty = dir.join("empty");
    std::fs::create_dir_all(empty.join("sub")).unwrap();
    std::fs::write(empty.join("notes.txt"), "not a scenario\n").unwrap();
    let want = format!(
        "daedalus-replay: {}: no scenario file (*.scn) in this directory or below",
        empty.display()
    );
    for args in [vec!["check"], vec!["check", "--mutants"]] {
        let mut args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        args.push(empty.as_os_str());
        let r = replay(&args);
        assert_eq!(r.code, Some(2), "{args:?}: {}{}", r.stdout, r.stderr);
        assert_eq!(r.stderr.trim_end(), want, "{args:?}");
        assert!(!r.stdout.contains("NOT caught"), "{args:?}: {}", r.stdout);
    }
    // Also next to a directory that has some: each one given must.
    let r = replay(&[
        Path::new("check"),
        &traces().join("regress/drain.scn"),
        &empty,
    ]);
    assert_eq!(r.code, Some(2), "{}{}", r.stdout, r.stderr);
    assert_eq!(r.stderr.trim_end(), want);
    std::fs::remove_dir_all(&dir).unwrap();
}
