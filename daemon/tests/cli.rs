//! The command line as users see it: --help, and the diagnostics of a bad
//! script or a missing one.

use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_daedalusd"))
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
