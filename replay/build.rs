//! Compiles the module's job core, decoder front, message dispatcher and
//! message codec, unchanged, against the shim headers in shim/include, plus
//! one renamed copy of the job core, front and dispatcher per patch in
//! mutants/ (each a deliberately re-introduced lifecycle bug).
//!
//! Every copy's global symbols get a per-variant prefix (a forced-include
//! header of #defines, built from `nm` on the real objects), so all
//! variants link into one binary; src/core.rs picks one per run through
//! the generated function tables in $OUT_DIR/cores.rs.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The job-core and front functions the executor calls: name, Rust
/// argument types, Rust return type. Must match kmod/daedalus_job.h and
/// kmod/daedalus_front.h.
const API: &[(&str, &str, &str)] = &[
    (
        "core_init",
        "*mut c_void, *mut c_void, *const JobOps, u64",
        "()",
    ),
    ("core_destroy", "*mut c_void", "()"),
    (
        "ctx_init",
        "*mut c_void, *mut c_void, *mut c_void, u32",
        "()",
    ),
    ("abort", "*mut c_void", "()"),
    ("detach", "*mut c_void", "u32"),
    ("watchdog", "*mut c_void, u64", "u32"),
    ("ctx_count", "*mut c_void, *mut u32", "u32"),
    (
        "dispatch",
        "*mut c_void, *const DispatchOps, *mut c_void, *const u8, usize",
        "i32",
    ),
    (
        "front_init",
        "*mut c_void, *mut c_void, *mut c_void, *const FrontOps, *mut c_void",
        "()",
    ),
    ("front_job_ready", "*mut c_void, u32, u32", "bool"),
    ("front_device_run", "*mut c_void, u64", "()"),
    ("front_start_streaming", "*mut c_void, bool, u32", "i32"),
    ("front_stop_streaming", "*mut c_void, bool", "()"),
    ("front_streamoff", "*mut c_void", "()"),
    ("front_decoder_cmd", "*mut c_void, u32", "i32"),
    ("front_closing", "*mut c_void", "()"),
    ("front_release", "*mut c_void", "()"),
    (
        "front_stream_info",
        "*mut c_void, *const MsgStreamInfo",
        "i32",
    ),
    ("front_session_error", "*mut c_void", "()"),
    ("front_daemon_gone", "*mut c_void", "()"),
    ("front_last", "*mut c_void", "()"),
    ("front_cap_sizeimage", "*mut c_void", "u32"),
    ("front_reqbufs_min", "*mut c_void", "u32"),
    ("front_session_open", "*mut c_void", "bool"),
    ("front_min_buffers", "*mut c_void", "u32"),
];

/// The C function behind an [`API`] entry.
fn c_name(f: &str) -> String {
    if f == "dispatch" {
        "daedalus_dispatch".into()
    } else if f.starts_with("front_") {
        format!("daedalus_{f}")
    } else {
        format!("daedalus_job_{f}")
    }
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let kmod = manifest.join("../kmod");
    let shim = manifest.join("shim/include");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let sanitize = env::var_os("CARGO_FEATURE_SANITIZE").is_some()
        || env::var("DAEDALUS_SANITIZE").is_ok_and(|v| v == "1");
    for p in [
        "../kmod/daedalus_job.c",
        "../kmod/daedalus_job.h",
        "../kmod/daedalus_front.c",
        "../kmod/daedalus_front.h",
        "../kmod/daedalus_msg.c",
        "../kmod/daedalus_msg.h",
        "../kmod/daedalus_dispatch.c",
        "../kmod/daedalus_dispatch.h",
        "../kmod/daedalus_trace.h",
        "../kmod/include/uapi/linux/daedalus.h",
        "shim",
        "mutants",
    ] {
        println!("cargo:rerun-if-changed={p}");
    }
    println!("cargo:rerun-if-env-changed=DAEDALUS_SANITIZE");

    let base = |b: &mut cc::Build| {
        b.include(&shim)
            .include(kmod.join("include"))
            .flag("-std=gnu11")
            .flag("-fno-strict-aliasing")
            .flag("-Wno-unused-parameter")
            .flag("-Wno-sign-compare")
            .warnings(true)
            .opt_level(2)
            .debug(true);
        if sanitize {
            b.compiler("gcc")
                .flag("-fsanitize=address,undefined")
                .flag("-fno-sanitize-recover=undefined")
                .flag("-fno-omit-frame-pointer");
        }
    };

    // The real core, front and dispatcher, the codec and the glue.
    let mut real = cc::Build::new();
    base(&mut real);
    real.include(&kmod)
        .file(kmod.join("daedalus_job.c"))
        .file(kmod.join("daedalus_front.c"))
        .file(kmod.join("daedalus_dispatch.c"))
        .file(kmod.join("daedalus_msg.c"))
        .file(manifest.join("shim/glue.c"));
    let objs = real.compile_intermediates();
    // A variant renames what the core, the front and the dispatcher
    // define; it shares the codec and the glue.
    let mut syms = Vec::new();
    for name in ["daedalus_job", "daedalus_front", "daedalus_dispatch"] {
        let obj = objs
            .iter()
            .find(|o| {
                o.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(name))
            })
            .unwrap_or_else(|| panic!("{name} object"));
        syms.extend(defined_globals(obj));
    }
    real.compile("daedalus_core");

    // The mutants.
    let mut variants: Vec<(String, String)> = vec![("real".into(), String::new())];
    let mut broken: Vec<(String, String)> = Vec::new();
    let mut patches: Vec<PathBuf> = fs::read_dir(manifest.join("mutants"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    patches.retain(|p| p.extension().is_some_and(|e| e == "patch"));
    patches.sort();
    for patch in patches {
        let name = patch.file_stem().unwrap().to_string_lossy().into_owned();
        let ident = name.replace('-', "_");
        let prefix = format!("mut_{ident}_");
        let dir = out.join("mutants").join(&name);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("kmod")).unwrap();
        for f in [
            "daedalus_job.c",
            "daedalus_job.h",
            "daedalus_front.c",
            "daedalus_front.h",
            "daedalus_dispatch.c",
            "daedalus_dispatch.h",
            "daedalus_msg.h",
            "daedalus_trace.h",
        ] {
            fs::copy(kmod.join(f), dir.join("kmod").join(f)).unwrap();
        }
        let st = Command::new("patch")
            .args(["-p1", "--quiet", "--no-backup-if-mismatch", "-r", "-", "-d"])
            .arg(&dir)
            .arg("-i")
            .arg(&patch)
            .output()
            .expect("run patch(1)");
        if !st.status.success() {
            let why = String::from_utf8_lossy(&st.stdout)
                .trim()
                .replace('\n', "; ");
            println!("cargo:warning=mutant {name} does not apply to kmod/: {why}");
            broken.push((name, why));
            continue;
        }
        let mut h = String::new();
        for s in &syms {
            writeln!(h, "#define {s} {prefix}{s}").unwrap();
        }
        let hdr = dir.join("prefix.h");
        fs::write(&hdr, h).unwrap();
        let mut b = cc::Build::new();
        base(&mut b);
        b.include(dir.join("kmod"))
            .flag("-include")
            .flag(hdr.to_str().unwrap())
            .file(dir.join("kmod/daedalus_job.c"))
            .file(dir.join("kmod/daedalus_front.c"))
            .file(dir.join("kmod/daedalus_dispatch.c"))
            .compile(&format!("daedalus_mut_{ident}"));
        variants.push((name, prefix));
    }

    if sanitize {
        println!("cargo:rustc-link-lib=dylib=asan");
        println!("cargo:rustc-link-lib=dylib=ubsan");
        println!("cargo:rustc-cfg=daedalus_sanitize");
    }
    println!("cargo::rustc-check-cfg=cfg(daedalus_sanitize)");
    // After the sanitizer runtimes: ASan must come first among the shared
    // libraries a test binary loads.
    if env::var_os("CARGO_FEATURE_TRACEDAT").is_some() {
        tracedat(&manifest);
    }
    fs::write(out.join("cores.rs"), tables(&variants, &broken)).unwrap();
}

/// trace.dat through libtracecmd: the importer's reader, csrc/tracedat.c.
fn tracedat(manifest: &Path) {
    println!("cargo:rerun-if-changed=csrc");
    let pc = Command::new("pkg-config")
        .args(["--cflags", "--libs", "libtracecmd"])
        .output();
    let flags = match pc {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        _ => panic!("pkg-config finds no libtracecmd: install libtracecmd-dev (`make setup` does)"),
    };
    let mut td = cc::Build::new();
    td.file(manifest.join("csrc/tracedat.c"))
        .warnings(true)
        .flag("-Wno-unused-parameter")
        .opt_level(2)
        .debug(true);
    for f in flags.split_whitespace() {
        if let Some(dir) = f.strip_prefix("-I") {
            td.include(dir);
        } else if let Some(lib) = f.strip_prefix("-l") {
            println!("cargo:rustc-link-lib=dylib={lib}");
        } else if let Some(dir) = f.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
        }
    }
    td.compile("daedalus_tracedat");
}

/// Global symbols the object defines (functions and data).
fn defined_globals(obj: &Path) -> Vec<String> {
    let out = Command::new("nm")
        .args(["-g", "--defined-only", "-P"])
        .arg(obj)
        .output()
        .expect("run nm");
    assert!(out.status.success(), "nm failed on {}", obj.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|s| s.starts_with("daedalus_"))
        .map(str::to_owned)
        .collect()
}

fn tables(variants: &[(String, String)], broken: &[(String, String)]) -> String {
    let mut s = String::new();
    for (name, prefix) in variants {
        let m = format!("v_{}", name.replace('-', "_"));
        writeln!(
            s,
            "mod {m} {{\n    use super::*;\n    unsafe extern \"C\" {{"
        )
        .unwrap();
        for (f, args, ret) in API {
            let params: Vec<String> = args
                .split(", ")
                .filter(|a| !a.is_empty())
                .enumerate()
                .map(|(i, t)| format!("a{i}: {t}"))
                .collect();
            writeln!(
                s,
                "        #[link_name = \"{prefix}{}\"]\n        pub(super) fn {f}({}) -> {ret};",
                c_name(f),
                params.join(", ")
            )
            .unwrap();
        }
        writeln!(s, "    }}\n}}").unwrap();
    }
    writeln!(s, "pub(crate) static CORES: &[(&str, CoreFns)] = &[").unwrap();
    for (name, _) in variants {
        let m = format!("v_{}", name.replace('-', "_"));
        write!(s, "    (\"{name}\", CoreFns {{").unwrap();
        for (f, _, _) in API {
            write!(s, " {f}: {m}::{f},").unwrap();
        }
        writeln!(s, " }}),").unwrap();
    }
    writeln!(s, "];").unwrap();
    writeln!(
        s,
        "/// Mutant patches that no longer apply, with patch(1)'s complaint."
    )
    .unwrap();
    writeln!(s, "pub static BROKEN_MUTANTS: &[(&str, &str)] = &[").unwrap();
    for (n, why) in broken {
        writeln!(s, "    ({n:?}, {why:?}),").unwrap();
    }
    writeln!(s, "];").unwrap();
    s
}
