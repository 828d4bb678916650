//! Drift check: the system C compiler's view of the uapi header (every
//! struct's sizeof, every field's offsetof and sizeof, every constant)
//! must equal the Rust codec's.

use daedalus_proto::wire::all_layouts;
use daedalus_proto::*;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

fn constants() -> Vec<(&'static str, u64)> {
    let mut c: Vec<(&'static str, u64)> = vec![
        ("DAEDALUS_PROTO_MAGIC", PROTO_MAGIC.into()),
        ("DAEDALUS_PROTO_VERSION", PROTO_VERSION.into()),
        ("DAEDALUS_MAX_PAYLOAD", MAX_PAYLOAD.into()),
        ("DAEDALUS_MAX_DIM", MAX_DIM.into()),
        ("DAEDALUS_MAX_DPB", MAX_DPB.into()),
        ("DAEDALUS_NO_BUF", NO_BUF.into()),
        ("DAEDALUS_MSG_RESPONSE", MSG_RESPONSE.into()),
        ("DAEDALUS_HELLO_F_MAPPED", HELLO_F_MAPPED.into()),
        ("DAEDALUS_HELLO_F_CAPTURE_FMT", HELLO_F_CAPTURE_FMT.into()),
        ("DAEDALUS_HELLO_FLAGS", HELLO_FLAGS.into()),
        ("DAEDALUS_DECODE_F_NO_SRC", DECODE_F_NO_SRC.into()),
        ("DAEDALUS_DECODE_F_MAPPED", DECODE_F_MAPPED.into()),
        ("DAEDALUS_DECODE_FLAGS", DECODE_FLAGS.into()),
        ("DAEDALUS_FRAME_SRC_CONSUMED", FRAME_SRC_CONSUMED.into()),
        ("DAEDALUS_FRAME_HAS_PIXELS", FRAME_HAS_PIXELS.into()),
        ("DAEDALUS_FRAME_ERROR", FRAME_ERROR.into()),
        ("DAEDALUS_FRAME_LAST", FRAME_LAST.into()),
        ("DAEDALUS_FRAME_FLAGS", FRAME_FLAGS.into()),
        ("DAEDALUS_CODEC_H264", Codec::H264.raw().into()),
        ("DAEDALUS_CODEC_HEVC", Codec::Hevc.raw().into()),
        ("DAEDALUS_CODEC_VP8", Codec::Vp8.raw().into()),
        ("DAEDALUS_CODEC_VP9", Codec::Vp9.raw().into()),
        ("DAEDALUS_CODEC_H264_SLICE", Codec::H264Slice.raw().into()),
        ("DAEDALUS_CODECS_BASE", CODECS_BASE.into()),
        (
            "DAEDALUS_H264_F_SCALING_MATRIX",
            H264_F_SCALING_MATRIX.into(),
        ),
        ("DAEDALUS_H264_FLAGS", H264_FLAGS.into()),
        (
            "DAEDALUS_CODEC_MAX",
            Codec::ALL.iter().map(|c| c.raw()).max().unwrap_or(0).into(),
        ),
        ("DAEDALUS_PIXFMT_NV12", Pixfmt::Nv12.raw().into()),
        ("DAEDALUS_PIXFMT_YUV420", Pixfmt::Yuv420.raw().into()),
        (
            "DAEDALUS_PIXFMT_MAX",
            Pixfmt::ALL
                .iter()
                .map(|c| c.raw())
                .max()
                .unwrap_or(0)
                .into(),
        ),
        (
            "DAEDALUS_ERR_UNSUPPORTED_CODEC",
            SessionErrorCode::UnsupportedCodec.raw().into(),
        ),
        (
            "DAEDALUS_ERR_UNSUPPORTED_FORMAT",
            SessionErrorCode::UnsupportedFormat.raw().into(),
        ),
        ("DAEDALUS_ERR_NOMEM", SessionErrorCode::Nomem.raw().into()),
        (
            "DAEDALUS_ERR_INTERNAL",
            SessionErrorCode::Internal.raw().into(),
        ),
        (
            "DAEDALUS_ERR_MAX",
            SessionErrorCode::ALL
                .iter()
                .map(|c| c.raw())
                .max()
                .unwrap_or(0)
                .into(),
        ),
        (
            "DAEDALUS_CODEC_BIT(DAEDALUS_CODEC_VP9)",
            Codec::Vp9.bit().into(),
        ),
        (
            "DAEDALUS_PIXFMT_BIT(DAEDALUS_PIXFMT_YUV420)",
            Pixfmt::Yuv420.bit().into(),
        ),
        (
            "DAEDALUS_COOKIE(0x12345678u, 0x9abcdef0u)",
            cookie(0x1234_5678, 0x9abc_def0),
        ),
        (
            "DAEDALUS_COOKIE_ID(0x0123456789abcdefull)",
            cookie_id(0x0123_4567_89ab_cdef).into(),
        ),
        (
            "DAEDALUS_COOKIE_GEN(0x0123456789abcdefull)",
            cookie_gen(0x0123_4567_89ab_cdef).into(),
        ),
        ("sizeof(enum daedalus_msg_type) >= 2", 1),
    ];
    for t in MsgType::ALL {
        let name: &'static str = Box::leak(format!("DAEDALUS_{}", t.name()).into_boxed_str());
        c.push((name, t.raw().into()));
    }
    c
}

/// The C program and the lines it must print, both from the Rust tables.
fn program_and_expectation() -> (String, String) {
    let mut prog = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include <linux/daedalus.h>\n\
         #define F(s, f) printf(\"offsetof %s.%s %zu\\n\", #s, #f, offsetof(struct s, f)); \
         printf(\"sizeof %s.%s %zu\\n\", #s, #f, sizeof(((struct s *)0)->f));\n\
         int main(void)\n{\n",
    );
    let mut want = String::new();
    for (name, size, fields) in all_layouts() {
        writeln!(
            prog,
            "\tprintf(\"sizeof %s %zu\\n\", \"{name}\", sizeof(struct {name}));"
        )
        .unwrap();
        writeln!(want, "sizeof {name} {size}").unwrap();
        let mut end = 0;
        for f in &fields {
            assert_eq!(f.offset, end, "{name}.{}: Rust layout has a gap", f.name);
            end = f.offset + f.size;
            writeln!(prog, "\tF({name}, {});", f.name).unwrap();
            writeln!(want, "offsetof {name}.{} {}", f.name, f.offset).unwrap();
            writeln!(want, "sizeof {name}.{} {}", f.name, f.size).unwrap();
        }
        assert_eq!(end, size, "{name}: Rust fields do not tile the struct");
        // The V4L2 controls inside daedalus_h264_slice keep their own
        // layout; the protocol's structs are multiples of 8.
        if name.starts_with("daedalus_") {
            assert_eq!(size % 8, 0, "{name}: size not a multiple of 8");
        }
    }
    for (expr, value) in constants() {
        writeln!(
            prog,
            "\tprintf(\"const %s %llu\\n\", \"{expr}\", (unsigned long long)({expr}));"
        )
        .unwrap();
        writeln!(want, "const {expr} {value}").unwrap();
    }
    prog.push_str("\treturn 0;\n}\n");
    (prog, want)
}

#[test]
fn rust_layout_and_constants_match_the_c_header() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let uapi = root.join("kmod/include/uapi");
    assert!(
        uapi.join("linux/daedalus.h").exists(),
        "uapi header missing at {}",
        uapi.display()
    );
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c_layout");
    std::fs::create_dir_all(&dir).unwrap();
    let (prog, want) = program_and_expectation();
    let src = dir.join("layout.c");
    let exe = dir.join("layout");
    std::fs::write(&src, prog).unwrap();

    let target = env!("DAEDALUS_PROTO_TARGET");
    let compiler = cc::Build::new()
        .cargo_metadata(false)
        .cargo_warnings(false)
        .target(target)
        .host(target)
        .opt_level(0)
        .get_compiler();
    let out = compiler
        .to_command()
        .arg("-std=gnu11")
        .arg("-Wall")
        .arg("-Werror")
        .arg("-I")
        .arg(&uapi)
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("run the C compiler");
    assert!(
        out.status.success(),
        "C compile failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe).output().expect("run the layout program");
    assert!(run.status.success());
    let got = String::from_utf8(run.stdout).unwrap();
    let mismatches: Vec<String> = want
        .lines()
        .zip(got.lines())
        .filter(|(w, g)| w != g)
        .map(|(w, g)| format!("rust: {w}\n   C: {g}"))
        .collect();
    assert!(
        mismatches.is_empty(),
        "layout drift:\n{}",
        mismatches.join("\n")
    );
    assert_eq!(want.lines().count(), got.lines().count());
    // Sanity: the check really covered every struct of the header.
    assert_eq!(
        got.lines()
            .filter(|l| l.starts_with("sizeof daedalus_") && !l.contains('.'))
            .count(),
        16
    );
}

/// Every struct, enumerator and object-like constant the header defines is
/// covered above, so an addition to the header cannot go unchecked.
#[test]
fn every_name_of_the_header_is_covered() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let header = std::fs::read_to_string(root.join("kmod/include/uapi/linux/daedalus.h")).unwrap();
    let structs: Vec<&str> = all_layouts().iter().map(|l| l.0).collect();
    let consts: Vec<&str> = constants().iter().map(|c| c.0).collect();
    let mut seen_structs = 0;
    for line in header.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("struct ")
            && let Some(name) = rest.strip_suffix(" {")
        {
            assert!(
                structs.contains(&name),
                "struct {name} has no Rust counterpart"
            );
            seen_structs += 1;
        }
        let name = if let Some(rest) = t.strip_prefix("#define ") {
            rest.split_whitespace().next().unwrap_or("")
        } else if t.starts_with("DAEDALUS_") && t.contains('=') {
            t.split_whitespace().next().unwrap_or("")
        } else {
            continue;
        };
        // Function-like macros are exercised through the expressions above.
        if name.contains('(') || name == "_UAPI_LINUX_DAEDALUS_H" {
            continue;
        }
        assert!(
            consts.contains(&name),
            "{name} has no Rust counterpart in the drift check"
        );
    }
    assert_eq!(
        seen_structs,
        structs
            .iter()
            .filter(|s| s.starts_with("daedalus_"))
            .count()
    );
}
