//! Compiles the module's job core, decoder front, message dispatcher,
//! request queue and message codec, unchanged, against the shim headers in shim/include, plus
//! one renamed copy of the job core, front, dispatcher and request queue
//! per patch in
//! mutants/ (each a deliberately re-introduced lifecycle bug).
//!
//! Every copy's global symbols get a per-variant prefix (a forced-include
//! header of #defines, built from `nm` on the real objects), so all
//! variants link into one binary. Each variant's function table is C data
//! (shim/fns.c, compiled under the variant's prefix, checked by the C
//! compiler against the module's prototypes); src/core.rs picks one per
//! run from $OUT_DIR/cores.rs. The Rust side of every struct, prototype
//! and constant the executor shares with the C is generated from
//! shim/replay.h by bindgen into $OUT_DIR/ffi.rs: nothing is mirrored by
//! hand.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

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
        "../kmod/daedalus_outq.c",
        "../kmod/daedalus_outq.h",
        "../kmod/daedalus_trace.h",
        "../kmod/include/uapi/linux/daedalus.h",
        "../kmod/kunit/daedalus_replay_glue.h",
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
        .file(kmod.join("daedalus_outq.c"))
        .file(kmod.join("daedalus_msg.c"))
        .file(manifest.join("shim/glue.c"))
        .file(manifest.join("shim/fns.c"));
    let objs = real.compile_intermediates();
    // A variant renames what the core, the front, the dispatcher and its
    // function table define; it shares the codec and the glue.
    let mut syms = Vec::new();
    for name in [
        "daedalus_job",
        "daedalus_front",
        "daedalus_dispatch",
        "daedalus_outq",
        "fns",
    ] {
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
    // A mutant's archive is in its own directory; one left in OUT_DIR by
    // an older build would come first in the link's search path.
    for e in fs::read_dir(&out).into_iter().flatten().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with("libdaedalus_mut_") && n.ends_with(".a") {
            let _ = fs::remove_file(e.path());
        }
    }
    // Each mutant is patched and compiled on its own; as many at a time as
    // cargo gives this build jobs (NUM_JOBS), the results in name order.
    let jobs = env::var("NUM_JOBS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, patches.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<Result<String, String>>> = vec![None; patches.len()];
    let done = std::sync::Mutex::new(&mut results);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(patch) = patches.get(i) else { break };
                    let r = build_mutant(patch, &out, &kmod, &manifest, &syms, &base);
                    done.lock().unwrap()[i] = Some(r);
                }
            });
        }
    });
    for (patch, r) in patches.iter().zip(results) {
        let name = patch.file_stem().unwrap().to_string_lossy().into_owned();
        match r.expect("every mutant built") {
            Ok(prefix) => variants.push((name, prefix)),
            Err(why) => {
                println!("cargo:warning=mutant {name} does not apply to kmod/: {why}");
                broken.push((name, why));
            }
        }
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
    bindings(&manifest, &kmod, &shim, &out);
    fs::write(out.join("cores.rs"), tables(&variants, &broken)).unwrap();
}

/// Patches a copy of the core, front, dispatcher and request queue with
/// PATCH and compiles it under the mutant's prefix. Ok(prefix), or
/// Err(why patch(1) refused it).
fn build_mutant(
    patch: &Path,
    out: &Path,
    kmod: &Path,
    manifest: &Path,
    syms: &[String],
    base: &(dyn Fn(&mut cc::Build) + Sync),
) -> Result<String, String> {
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
        "daedalus_outq.c",
        "daedalus_outq.h",
        "daedalus_msg.h",
        "daedalus_trace.h",
    ] {
        fs::copy(kmod.join(f), dir.join("kmod").join(f)).unwrap();
    }
    let st = Command::new("patch")
        .args(["-p1", "--quiet", "--no-backup-if-mismatch", "-r", "-", "-d"])
        .arg(&dir)
        .arg("-i")
        .arg(patch)
        .output()
        .expect("run patch(1)");
    if !st.status.success() {
        return Err(String::from_utf8_lossy(&st.stdout)
            .trim()
            .replace('\n', "; "));
    }
    let mut h = String::new();
    for s in syms {
        writeln!(h, "#define {s} {prefix}{s}").unwrap();
    }
    let hdr = dir.join("prefix.h");
    fs::write(&hdr, h).unwrap();
    let mut b = cc::Build::new();
    base(&mut b);
    // Objects and archive in the mutant's own directory: every mutant
    // compiles shim/fns.c, which cc would put at one path for all.
    b.out_dir(dir.join("obj"))
        .include(dir.join("kmod"))
        .flag("-include")
        .flag(hdr.to_str().unwrap())
        .file(dir.join("kmod/daedalus_job.c"))
        .file(dir.join("kmod/daedalus_front.c"))
        .file(dir.join("kmod/daedalus_dispatch.c"))
        .file(dir.join("kmod/daedalus_outq.c"))
        .file(manifest.join("shim/fns.c"))
        .compile(&format!("daedalus_mut_{ident}"));
    Ok(prefix)
}

/// Errno values (the shim's linux/errno.h) as the `i32` the executor
/// returns and logs; every other macro keeps bindgen's type.
#[derive(Debug)]
struct Errnos;

impl bindgen::callbacks::ParseCallbacks for Errnos {
    fn int_macro(&self, name: &str, _value: i64) -> Option<bindgen::callbacks::IntKind> {
        let errno =
            name.len() > 1 && name.starts_with('E') && name.bytes().all(|b| b.is_ascii_uppercase());
        errno.then_some(bindgen::callbacks::IntKind::I32)
    }
}

/// $OUT_DIR/ffi.rs: the Rust side of shim/replay.h.
fn bindings(manifest: &Path, kmod: &Path, shim: &Path, out: &Path) {
    let b = bindgen::Builder::default()
        .header(manifest.join("shim/replay.h").to_str().unwrap())
        // The scenario daemon's RESP_HELLO, which the KUnit executor sends
        // too.
        .header(kmod.join("kunit/daedalus_replay_glue.h").to_str().unwrap())
        .clang_arg("-std=gnu11")
        .clang_arg(format!("-I{}", shim.display()))
        .clang_arg(format!("-I{}", kmod.join("include").display()))
        .clang_arg(format!("-I{}", kmod.display()))
        .use_core()
        .derive_default(true)
        .layout_tests(true)
        .allowlist_type("daedalus_replay_fns")
        .allowlist_type("daedalus_msg")
        .allowlist_type("daedalus_shim_fdev")
        .allowlist_type("daedalus_shim_held")
        .allowlist_type("daedalus_out")
        .allowlist_type("daedalus_req_flush")
        .allowlist_type("daedalus_req_hello")
        .allowlist_type("daedalus_outq_state")
        .allowlist_type("v4l2_m2m_buffer")
        .allowlist_function("daedalus_shim_.*")
        .allowlist_function("daedalus_msg_parse")
        .allowlist_function("daedalus_msg_encode_decode")
        .allowlist_function("daedalus_msg_header_len")
        .allowlist_function("daedalus_msg_reject_name")
        .allowlist_var("DAEDALUS_.*")
        .allowlist_var("DR_DAEMON_.*")
        .allowlist_var("DR_MSG_MAX")
        .allowlist_var("E[A-Z]+")
        .allowlist_type("daedalus_finish_reason")
        .parse_callbacks(Box::new(Errnos))
        .allowlist_var("VB2_.*")
        .allowlist_var("V4L2_BUF_FLAG_LAST")
        .allowlist_type("v4l2_buf_type")
        .allowlist_type("v4l2_field")
        // The executor holds these as memory of their size; what is in
        // them is the C's alone.
        .opaque_type("daedalus_job_core")
        .opaque_type("daedalus_job_ctx")
        .opaque_type("daedalus_outq")
        .opaque_type("daedalus_front")
        .opaque_type("daedalus_shim_fdev")
        .opaque_type("v4l2_m2m_dev")
        .opaque_type("v4l2_m2m_ctx")
        .opaque_type("v4l2_m2m_queue_ctx")
        .opaque_type("vb2_queue")
        .prepend_enum_name(false)
        .generate()
        .expect("bindgen on replay/shim/replay.h");
    b.write_to_file(out.join("ffi.rs")).unwrap();
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
    writeln!(s, "unsafe extern \"C\" {{").unwrap();
    for (name, prefix) in variants {
        writeln!(
            s,
            "    #[link_name = \"{prefix}daedalus_replay_fns\"]\n    static FNS_{}: CoreFns;",
            name.replace('-', "_").to_uppercase()
        )
        .unwrap();
    }
    writeln!(s, "}}").unwrap();
    writeln!(
        s,
        "/// Each compiled variant's function table, \"real\" first.\npub(crate) fn cores() -> [(&'static str, &'static CoreFns); {}] {{",
        variants.len()
    )
    .unwrap();
    writeln!(
        s,
        "    // SAFETY: each table is constant C data that shim/fns.c defines.\n    unsafe {{ ["
    )
    .unwrap();
    for (name, _) in variants {
        writeln!(
            s,
            "        ({name:?}, &FNS_{}),",
            name.replace('-', "_").to_uppercase()
        )
        .unwrap();
    }
    writeln!(s, "    ] }}\n}}").unwrap();
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
