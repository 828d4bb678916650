//! Compiles the module's message codec (kmod/daedalus_msg.c), unchanged,
//! against the replay crate's shim headers, for the `kmod_messages` target.
//!
//! The replay crate links the same file under its real symbol names, so
//! this copy's globals get a `daedalus_fuzz_` prefix through a forced
//! include of #defines. Under `cargo fuzz` the C flags come from the
//! environment (CC and CFLAGS_<target>, which cc honours; run.sh sets
//! clang with -fsanitize=fuzzer-no-link,address), so libFuzzer sees the
//! codec's branches.

use std::env;
use std::fs;
use std::path::PathBuf;

const GLOBALS: &[&str] = &[
    "daedalus_msg_header_len",
    "daedalus_msg_parse",
    "daedalus_msg_encode",
    "daedalus_msg_encode_decode",
    "daedalus_msg_reject_name",
];

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let kmod = manifest.join("../kmod");
    let shim = manifest.join("../replay/shim/include");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    for p in [
        "../kmod/daedalus_msg.c",
        "../kmod/daedalus_msg.h",
        "../kmod/include/uapi/linux/daedalus.h",
        "../replay/shim/include",
        "csrc",
    ] {
        println!("cargo:rerun-if-changed={p}");
    }
    let prefix: String = GLOBALS
        .iter()
        .map(|g| format!("#define {g} daedalus_fuzz_{}\n", &g["daedalus_".len()..]))
        .collect();
    let hdr = out.join("fuzz_prefix.h");
    fs::write(&hdr, prefix).unwrap();
    cc::Build::new()
        .include(&shim)
        .include(kmod.join("include"))
        .include(&kmod)
        .flag("-std=gnu11")
        .flag("-fno-strict-aliasing")
        .flag("-Wno-unused-parameter")
        .flag("-Wno-sign-compare")
        .flag("-include")
        .flag(hdr.to_str().unwrap())
        .warnings(true)
        .opt_level(2)
        .debug(true)
        .file(kmod.join("daedalus_msg.c"))
        .file(manifest.join("csrc/layout.c"))
        .compile("daedalus_fuzz_msg");
}
