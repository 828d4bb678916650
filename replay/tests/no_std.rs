//! The scenario parser compiles the way the kernel's Rust KUnit suite
//! compiles it: `#![no_std]`, edition 2021, `#[path] mod`, with the
//! kernel's warning flags (unreachable_pub among them) turned into errors.

use std::path::Path;
use std::process::Command;

#[test]
fn scenario_parser_builds_as_a_no_std_kernel_module() {
    let dir = std::env::temp_dir().join(format!("daedalus-nostd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let parser = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/scenario.rs");
    let lib = format!(
        "//! Stand-in for the KUnit crate.\n#![no_std]\n#[path = {:?}]\nmod scenario;\n\
         /// Counts the events of a scenario.\npub fn count(t: &str) -> u32 {{\n    \
         scenario::Parser::for_each(t, |_| {{}}).unwrap_or(0)\n}}\n",
        parser.to_str().unwrap()
    );
    std::fs::write(dir.join("lib.rs"), lib).unwrap();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc)
        .current_dir(&dir)
        .args([
            "--crate-type",
            "lib",
            "--edition",
            "2021",
            "-C",
            "panic=abort",
            "-O",
        ])
        .args([
            "-W",
            "unreachable_pub",
            "-W",
            "missing_docs",
            "-W",
            "rust_2018_idioms",
        ])
        .args([
            "-D",
            "unsafe_op_in_unsafe_fn",
            "-D",
            "non_ascii_idents",
            "-D",
            "warnings",
        ])
        .args(["--out-dir", "."])
        .arg("lib.rs")
        .output()
        .expect("rustc runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
