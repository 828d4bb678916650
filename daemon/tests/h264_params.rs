//! The parameter sets daedalusd writes from stateless H.264 controls,
//! against the ones x264 emits: each stream's SPS and PPS are read into
//! the controls a stateless client would set (as FFmpeg's v4l2-request
//! hwaccel and GStreamer's v4l2codecs fill them from their own parsers),
//! written back by `daedalusd::h264_params`, put in place of x264's, and
//! the stream decoded by libavcodec both ways: every picture must be the
//! same. The reader of the syntax is the tests' own (common/h264.rs).

use std::path::Path;
use std::process::Command;

use daedalusd::clip;
use daedalusd::h264_params::{
    NAL_PPS, NAL_SPS, Pps, PpsControl, Sps, SpsControl, Visible, flat_matrix, nal_units, pps_flags,
    sps_flags,
};

#[path = "common/h264.rs"]
mod h264;
use h264::{Lists, ReadSps, default_list, matrix_of, read_pps, read_sps, unescape};

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What rewriting one x264 stream showed.
struct Rewritten {
    sps: Sps,
    pps: Pps,
    matrix: bool,
    pictures: usize,
}

/// Encodes testsrc2 at `size` with x264's `args`, rewrites the stream's
/// parameter sets from their controls, and checks both decode to the
/// same pictures.
fn rewrite_and_compare(dir: &Path, name: &str, size: (u32, u32), args: &[&str]) -> Rewritten {
    let orig = dir.join(format!("{name}.h264"));
    run(Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size={}x{}:rate=25", size.0, size.1))
        .args(["-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p"])
        .args(args)
        .args(["-f", "h264"])
        .arg(&orig));
    let stream = std::fs::read(&orig).unwrap();
    let mut sps = None;
    let mut out = Vec::new();
    let mut seen = None;
    for unit in nal_units(&stream) {
        let (kind, rbsp) = (unit[0] & 0x1f, unescape(&unit[1..]));
        match kind {
            NAL_SPS => {
                let s = read_sps(&rbsp);
                out.extend(s.sps.to_nal(s.visible, s.reorder).unwrap());
                sps = Some(s);
            }
            NAL_PPS => {
                let s = sps.as_ref().expect("an SPS before the PPS");
                let (p, lists) = read_pps(&rbsp, s);
                let m = lists.as_ref().map(matrix_of);
                out.extend(p.to_nal(&s.sps, m.as_ref()).unwrap());
                seen = Some((s.sps, p, m.is_some()));
            }
            _ => {
                out.extend([0, 0, 0, 1]);
                out.extend(unit);
            }
        }
    }
    let new = dir.join(format!("{name}-rewritten.h264"));
    std::fs::write(&new, &out).unwrap();
    let (a, b) = (
        clip::framemd5(&orig).unwrap(),
        clip::framemd5(&new).unwrap(),
    );
    assert_eq!(a.len(), 25, "{name}: x264's stream decodes to 25 pictures");
    assert_eq!(a, b, "{name}: rewritten parameter sets decode differently");
    let (sps, pps, matrix) = seen.expect("the stream has parameter sets");
    Rewritten {
        sps,
        pps,
        matrix,
        pictures: b.len(),
    }
}

#[test]
fn parameter_sets_written_from_controls_decode_as_x264_s() {
    let dir = std::env::temp_dir().join(format!("daedalus-h264-params-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // High: CABAC, 8x8 transform, B-pyramid, weighted prediction; a
    // height that is cropped (180 of 192 lines).
    let high = rewrite_and_compare(
        &dir,
        "high",
        (320, 180),
        &["-bf", "3", "-x264-params", "b-pyramid=normal:weightp=2"],
    );
    assert_eq!(high.sps.profile_idc, 100);
    assert_ne!(high.pps.flags & pps_flags::ENTROPY_CODING_MODE, 0);
    assert_ne!(high.pps.flags & pps_flags::TRANSFORM_8X8_MODE, 0);
    assert_ne!(high.pps.flags & pps_flags::WEIGHTED_PRED, 0);
    assert_eq!(high.pps.weighted_bipred_idc, 2);
    assert!(!high.matrix);
    // Constrained baseline: CAVLC, picture order type 2, no B-frames.
    let base = rewrite_and_compare(&dir, "baseline", (176, 144), &["-profile:v", "baseline"]);
    assert_eq!(base.sps.profile_idc, 66);
    assert_eq!(base.sps.pic_order_cnt_type, 2);
    assert_eq!(base.pps.flags & pps_flags::ENTROPY_CODING_MODE, 0);
    // The JVT matrices, which x264 signals in its PPS as "use the
    // default" lists: written here as explicit lists.
    let cqm = rewrite_and_compare(&dir, "cqm", (320, 240), &["-x264-params", "cqm=jvt"]);
    assert!(cqm.matrix);
    // Matrices of x264's options, none symmetric, each list its own: a
    // list written in another's place, or transposed, decodes otherwise.
    let list = |f: &dyn Fn(usize) -> usize, n| {
        (0..n)
            .map(|i| f(i).to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let own = format!(
        "cqm4iy={}:cqm4ic={}:cqm4py={}:cqm4pc={}:cqm8i={}:cqm8p={}",
        list(&|i| 4 + 3 * i, 16),
        list(&|i| 60 - 2 * i, 16),
        list(&|i| 10 + (i * 5) % 16, 16),
        list(&|i| 30 + (i * 7) % 13, 16),
        list(&|i| 8 + (i * 7) % 50, 64),
        list(&|i| 20 + (i * 11) % 40, 64),
    );
    let custom = rewrite_and_compare(&dir, "cqm-own", (320, 240), &["-x264-params", &own]);
    assert!(custom.matrix);
    // Interlaced (MBAFF): frames of two fields, cropping units of 4 lines
    // (240 of 256).
    let mbaff = rewrite_and_compare(
        &dir,
        "mbaff",
        (320, 240),
        &[
            "-flags",
            "+ildct+ilme",
            "-x264-params",
            "interlaced=1:tff=1",
        ],
    );
    assert_eq!(mbaff.sps.flags & sps_flags::FRAME_MBS_ONLY, 0);
    assert_ne!(mbaff.sps.flags & sps_flags::MB_ADAPTIVE_FRAME_FIELD, 0);
    assert_eq!(mbaff.sps.coded_size(), (320, 256));
    for r in [&high, &base, &cqm, &custom, &mbaff] {
        assert_eq!(r.pictures, 25);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_scan_tables_place_the_default_lists_by_frequency() {
    // The default matrices (H.264 Table 7-3, 7-4 as matrices) are
    // symmetric and weigh higher frequencies more: placed by the scan
    // tables, each equals its transpose and grows along every row and
    // column, the 4x4 ones alike along each anti-diagonal. A wrong scan
    // position breaks that.
    let lists: Lists = (0..12).map(default_list).collect();
    let m = matrix_of(&lists);
    let rasters = m
        .scaling_list_4x4
        .iter()
        .map(|l| (4, l.to_vec()))
        .chain(m.scaling_list_8x8.iter().map(|l| (8, l.to_vec())));
    for (n, raster) in rasters {
        let at = |r: usize, c: usize| raster[r * n + c];
        for r in 0..n {
            for c in 0..n {
                assert_eq!(at(r, c), at(c, r), "{n}x{n} at ({r}, {c}): {raster:?}");
                if c + 1 < n {
                    assert!(at(r, c) <= at(r, c + 1), "{n}x{n} row {r}: {raster:?}");
                }
                if n == 4 && r + 1 < n && c > 0 {
                    assert_eq!(at(r, c), at(r + 1, c - 1), "4x4 anti-diagonal: {raster:?}");
                }
            }
        }
    }
    assert_eq!(m.scaling_list_4x4[0][..4], [6, 13, 20, 28]);
    assert_eq!(m.scaling_list_8x8[1][..8], [9, 13, 15, 17, 19, 21, 22, 24]);
}

#[test]
fn a_scaling_list_is_written_value_for_value() {
    // A matrix no default reproduces: each weight distinct, written in
    // zig-zag order, read back in raster order.
    let sps = Sps {
        profile_idc: 100,
        level_idc: 30,
        chroma_format_idc: 1,
        max_num_ref_frames: 1,
        pic_width_in_mbs_minus1: 1,
        pic_height_in_map_units_minus1: 1,
        flags: sps_flags::FRAME_MBS_ONLY,
        ..Sps::default()
    };
    let mut m = flat_matrix();
    for (i, l) in m.scaling_list_4x4.iter_mut().enumerate() {
        for (j, v) in l.iter_mut().enumerate() {
            *v = (1 + i * 40 + j * 3) as u8;
        }
    }
    for (i, l) in m.scaling_list_8x8.iter_mut().enumerate() {
        for (j, v) in l.iter_mut().enumerate() {
            // 255 down to 2, and a jump of more than 127 between lists.
            *v = (255 - (i * 64 + j) % 254) as u8;
        }
    }
    let pps = Pps {
        flags: pps_flags::TRANSFORM_8X8_MODE | pps_flags::SCALING_MATRIX_PRESENT,
        ..Pps::default()
    };
    let nal = pps.to_nal(&sps, Some(&m)).unwrap();
    let read = ReadSps {
        sps,
        visible: Visible {
            width: 32,
            height: 32,
        },
        reorder: None,
        lists: None,
    };
    let (back, lists) = read_pps(&unescape(&nal[5..]), &read);
    assert_eq!(back, pps);
    let got = matrix_of(&lists.unwrap());
    assert_eq!(got.scaling_list_4x4, m.scaling_list_4x4);
    // 4:2:0 codes the two luma 8x8 lists; the chroma ones follow them.
    assert_eq!(got.scaling_list_8x8[..2], m.scaling_list_8x8[..2]);
}
