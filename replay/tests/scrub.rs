//! `daedalus-replay scrub`: the committed trace.dat recordings hold no
//! kernel pointer, scrubbing keeps what the importer reads, and the check
//! finds a pointer put back.

use std::path::{Path, PathBuf};

use daedalus_replay::{import, scrub};

fn traces() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../traces")
}

fn dats(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            dats(&p, out);
        } else if p.extension().is_some_and(|x| x == "dat") {
            out.push(p);
        }
    }
}

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("daedalus-scrub-test-{}-{name}", std::process::id()))
}

const TINY: &str = "field/ffmpeg-tiny-decode-20261204";

#[test]
fn committed_trace_dats_hold_no_kernel_pointer() {
    let mut files = Vec::new();
    dats(&traces(), &mut files);
    assert!(!files.is_empty(), "no trace.dat under traces/");
    for f in files {
        let found = scrub::check(&f).unwrap();
        assert!(found.is_empty(), "{}: {found:?}", f.display());
        // Scrubbing what is scrubbed changes nothing.
        let (again, _) = scrub::scrub(&f).unwrap();
        assert!(again == std::fs::read(&f).unwrap(), "{}", f.display());
    }
}

#[test]
fn a_pointer_put_back_is_found_with_its_event_and_offset() {
    let path = traces().join(format!("{TINY}.dat"));
    let ptrs = scrub::pointers(&path).unwrap();
    // Each vb2 event of the recording names its queue's owner.
    let text = std::fs::read_to_string(traces().join(format!("{TINY}.trace"))).unwrap();
    assert_eq!(ptrs.len(), text.matches("owner = ").count());
    assert!(ptrs.iter().all(|p| p.field == "owner" && p.value <= 2));
    let mut bytes = std::fs::read(&path).unwrap();
    let at = ptrs[3].offset;
    bytes[at..at + 8].copy_from_slice(&0xff11_0000_0385_4000u64.to_le_bytes());
    let dirty = tmp("dirty.dat");
    std::fs::write(&dirty, &bytes).unwrap();
    let found = scrub::check(&dirty).unwrap();
    assert_eq!(
        found,
        [format!(
            "byte {at}: {}.owner = 0xff11000003854000",
            ptrs[3].event
        )]
    );
    // Scrubbed again, it is clean and imports as before.
    let clean = tmp("clean.dat");
    let (b, n) = scrub::scrub(&dirty).unwrap();
    std::fs::write(&clean, b).unwrap();
    assert_eq!(n, 2);
    assert!(scrub::check(&clean).unwrap().is_empty());
    let before = import::import_file(&path).unwrap();
    let after = import::import_file(&clean).unwrap();
    assert_eq!(before.used, after.used);
    let _ = std::fs::remove_file(dirty);
    let _ = std::fs::remove_file(clean);
}

/// trace-cmd's default output (version 7, zstd sections) is converted,
/// scrubbed, and reads as the same recording.
#[test]
fn a_version_7_trace_dat_is_converted_and_scrubbed() {
    let path = traces().join(format!("{TINY}.dat"));
    let v7 = tmp("v7.dat");
    let st = std::process::Command::new("trace-cmd")
        .args([
            "convert",
            "--file-version",
            "7",
            "--compression",
            "any",
            "-i",
        ])
        .arg(&path)
        .arg("-o")
        .arg(&v7)
        .output()
        .expect("trace-cmd (Makefile's apt packages) runs");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert!(
        std::fs::read(&v7)
            .unwrap()
            .starts_with(b"\x17\x08\x44tracing7")
    );
    let (b, _) = scrub::scrub(&v7).unwrap();
    let out = tmp("v7-scrubbed.dat");
    std::fs::write(&out, &b).unwrap();
    assert!(scrub::check(&out).unwrap().is_empty());
    let a = import::import_file(&path).unwrap();
    let c = import::import_file(&out).unwrap();
    assert_eq!(a.used, c.used);
    assert_eq!(a.scenarios.len(), c.scenarios.len());
    for ((ia, sa), (ic, sc)) in a.scenarios.iter().zip(&c.scenarios) {
        assert_eq!((ia, sa.to_text()), (ic, sc.to_text()));
    }
    let _ = std::fs::remove_file(v7);
    let _ = std::fs::remove_file(out);
}

#[test]
fn not_a_trace_dat_is_an_error_naming_the_file() {
    let path = traces().join(format!("{TINY}.trace"));
    let e = scrub::check(&path).unwrap_err().to_string();
    assert!(e.starts_with(&path.display().to_string()), "{e}");
    assert!(e.contains("not a trace.dat"), "{e}");
}

/// Damaged files (bytes changed in the structure and in the event pages)
/// are scrubbed or refused with a reason, never a panic; what is scrubbed
/// checks clean.
#[test]
fn damaged_trace_dats_are_scrubbed_or_refused() {
    let b = std::fs::read(traces().join(format!("{TINY}.dat"))).unwrap();
    let data_at = scrub::pointers(&traces().join(format!("{TINY}.dat"))).unwrap()[0].offset;
    let mut seed = 0x2026_1205_u64;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize % n
    };
    let (mut scrubbed, mut refused) = (0, 0);
    for round in 0..600 {
        let mut m = b.clone();
        for _ in 0..1 + next(4) {
            // Half in the first KiB (the layout), half in the event pages.
            let at = if round % 2 == 0 {
                next(1024)
            } else {
                data_at - 64 + next(b.len() - data_at + 64)
            };
            m[at] = next(256) as u8;
        }
        match scrub::scrub_bytes(&m) {
            Ok((out, _)) => {
                scrubbed += 1;
                assert_eq!(scrub::check_bytes(&out), Ok(vec![]));
            }
            Err(why) => {
                refused += 1;
                assert!(!why.is_empty());
            }
        }
    }
    assert!(
        scrubbed > 0 && refused > 0,
        "{scrubbed} scrubbed, {refused} refused"
    );
}
