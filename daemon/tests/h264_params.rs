//! The parameter sets daedalusd writes from stateless H.264 controls,
//! against the ones x264 emits: each stream's SPS and PPS are read into
//! the controls a stateless client would set (as FFmpeg's v4l2-request
//! hwaccel and GStreamer's v4l2codecs fill them from their own parsers),
//! written back by `daedalusd::h264_params`, put in place of x264's, and
//! the stream decoded by libavcodec both ways: every picture must be the
//! same. A reader of the syntax lives here, for the test alone.

use std::path::Path;
use std::process::Command;

use daedalusd::clip;
use daedalusd::h264_params::{
    NAL_PPS, NAL_SPS, Pps, ScalingMatrix, Sps, Visible, ZIGZAG_4X4, ZIGZAG_8X8, pps_flags,
    sps_flags,
};

/// A reader of an RBSP (emulation prevention already removed).
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn bit(&mut self) -> bool {
        let b = self.data[self.pos / 8] >> (7 - self.pos % 8) & 1 != 0;
        self.pos += 1;
        b
    }

    fn bits(&mut self, n: u32) -> u32 {
        (0..n).fold(0, |v, _| v << 1 | u32::from(self.bit()))
    }

    fn ue(&mut self) -> u32 {
        let mut zeros = 0;
        while !self.bit() {
            zeros += 1;
        }
        ((1u64 << zeros) - 1 + u64::from(self.bits(zeros))) as u32
    }

    fn se(&mut self) -> i32 {
        let k = i64::from(self.ue());
        (if k % 2 == 1 { (k + 1) / 2 } else { -k / 2 }) as i32
    }

    /// more_rbsp_data(): anything before the rbsp_stop_one_bit.
    fn more(&self) -> bool {
        let last_one = (0..self.data.len() * 8)
            .rev()
            .find(|&p| self.data[p / 8] >> (7 - p % 8) & 1 != 0)
            .expect("an RBSP ends with a stop bit");
        self.pos < last_one
    }
}

fn unescape(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len());
    let mut zeros = 0;
    for &b in payload {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    out
}

/// The NAL units of an Annex B stream, start codes stripped.
fn nal_units(stream: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= stream.len() {
        if stream[i..i + 3] == [0, 0, 1] {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut units = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let mut end = starts.get(k + 1).map_or(stream.len(), |n| n - 3);
        // A four-byte start code's leading zero, and trailing zeros.
        while end > s && stream[end - 1] == 0 {
            end -= 1;
        }
        units.push(&stream[s..end]);
    }
    units
}

const DEFAULT_4X4_INTRA: [u8; 16] = [
    6, 13, 13, 20, 20, 20, 28, 28, 28, 28, 32, 32, 32, 37, 37, 42,
];
const DEFAULT_4X4_INTER: [u8; 16] = [
    10, 14, 14, 20, 20, 20, 24, 24, 24, 24, 27, 27, 27, 30, 30, 34,
];
const DEFAULT_8X8_INTRA: [u8; 64] = [
    6, 10, 10, 13, 11, 13, 16, 16, 16, 16, 18, 18, 18, 18, 18, 23, 23, 23, 23, 23, 23, 25, 25, 25,
    25, 25, 25, 25, 27, 27, 27, 27, 27, 27, 27, 27, 29, 29, 29, 29, 29, 29, 29, 31, 31, 31, 31, 31,
    31, 33, 33, 33, 33, 33, 36, 36, 36, 36, 38, 38, 38, 40, 40, 42,
];
const DEFAULT_8X8_INTER: [u8; 64] = [
    9, 13, 13, 15, 13, 15, 17, 17, 17, 17, 19, 19, 19, 19, 19, 21, 21, 21, 21, 21, 21, 22, 22, 22,
    22, 22, 22, 22, 24, 24, 24, 24, 24, 24, 24, 24, 25, 25, 25, 25, 25, 25, 25, 27, 27, 27, 27, 27,
    27, 28, 28, 28, 28, 28, 30, 30, 30, 30, 32, 32, 32, 33, 33, 35,
];

/// Scaling lists in zig-zag order, as coded: twelve lists (6 of 4x4,
/// then 8x8 Intra Y, Inter Y, Intra Cb, Inter Cb, Intra Cr, Inter Cr).
type Lists = Vec<Vec<u8>>;

fn default_list(i: usize) -> Vec<u8> {
    match i {
        0..=2 => DEFAULT_4X4_INTRA.to_vec(),
        3..=5 => DEFAULT_4X4_INTER.to_vec(),
        _ if i.is_multiple_of(2) => DEFAULT_8X8_INTRA.to_vec(),
        _ => DEFAULT_8X8_INTER.to_vec(),
    }
}

/// scaling_list(): Some(list), or None for "use the default".
fn read_list(r: &mut Reader<'_>, size: usize) -> Option<Vec<u8>> {
    let (mut last, mut next) = (8i32, 8i32);
    let mut list = vec![0u8; size];
    for (j, v) in list.iter_mut().enumerate() {
        if next != 0 {
            next = (last + r.se() + 256) % 256;
            if j == 0 && next == 0 {
                return None;
            }
        }
        *v = if next == 0 { last } else { next } as u8;
        last = i32::from(*v);
    }
    Some(list)
}

/// The lists of an SPS (fall-back rule A) or a PPS (rule B, over the
/// SPS's `base` when it has a matrix), `count` of them coded.
fn read_lists(r: &mut Reader<'_>, count: usize, base: Option<&Lists>) -> Lists {
    let mut lists: Lists = Vec::new();
    for i in 0..12 {
        let coded = if i < count && r.bit() {
            read_list(r, if i < 6 { 16 } else { 64 })
        } else if i < count || i < 8 {
            // Not present: fall back.
            Some(match (i, base) {
                (0 | 3 | 6 | 7, Some(b)) => b[i].clone(),
                (0 | 3 | 6 | 7, None) => default_list(i),
                (1 | 2 | 4 | 5, _) => lists[i - 1].clone(),
                _ => lists[i - 2].clone(),
            })
        } else {
            Some(lists[i - 2].clone())
        };
        lists.push(coded.unwrap_or_else(|| default_list(i)));
    }
    lists
}

/// An SPS as x264 wrote it: the controls, the visible size, its VUI's
/// max_num_reorder_frames and the scaling lists, if any.
struct ReadSps {
    sps: Sps,
    visible: Visible,
    reorder: Option<u8>,
    lists: Option<Lists>,
}

fn read_sps(rbsp: &[u8]) -> ReadSps {
    let r = &mut Reader { data: rbsp, pos: 0 };
    let mut s = Sps {
        profile_idc: r.bits(8) as u8,
        ..Sps::default()
    };
    for i in 0..6 {
        s.constraint_set_flags |= u8::from(r.bit()) << i;
    }
    assert_eq!(r.bits(2), 0);
    s.level_idc = r.bits(8) as u8;
    s.seq_parameter_set_id = r.ue() as u8;
    s.chroma_format_idc = 1;
    let mut lists = None;
    if matches!(s.profile_idc, 100 | 110 | 122 | 244) {
        s.chroma_format_idc = r.ue() as u8;
        s.bit_depth_luma_minus8 = r.ue() as u8;
        s.bit_depth_chroma_minus8 = r.ue() as u8;
        if r.bit() {
            s.flags |= sps_flags::QPPRIME_Y_ZERO_TRANSFORM_BYPASS;
        }
        if r.bit() {
            let count = if s.chroma_format_idc == 3 { 12 } else { 8 };
            lists = Some(read_lists(r, count, None));
        }
    }
    s.log2_max_frame_num_minus4 = r.ue() as u8;
    s.pic_order_cnt_type = r.ue() as u8;
    match s.pic_order_cnt_type {
        0 => s.log2_max_pic_order_cnt_lsb_minus4 = r.ue() as u8,
        1 => {
            if r.bit() {
                s.flags |= sps_flags::DELTA_PIC_ORDER_ALWAYS_ZERO;
            }
            s.offset_for_non_ref_pic = r.se();
            s.offset_for_top_to_bottom_field = r.se();
            s.num_ref_frames_in_pic_order_cnt_cycle = r.ue() as u8;
            for i in 0..usize::from(s.num_ref_frames_in_pic_order_cnt_cycle) {
                s.offset_for_ref_frame[i] = r.se();
            }
        }
        _ => {}
    }
    s.max_num_ref_frames = r.ue() as u8;
    if r.bit() {
        s.flags |= sps_flags::GAPS_IN_FRAME_NUM_VALUE_ALLOWED;
    }
    s.pic_width_in_mbs_minus1 = r.ue() as u16;
    s.pic_height_in_map_units_minus1 = r.ue() as u16;
    let frame_mbs_only = r.bit();
    if frame_mbs_only {
        s.flags |= sps_flags::FRAME_MBS_ONLY;
    } else if r.bit() {
        s.flags |= sps_flags::MB_ADAPTIVE_FRAME_FIELD;
    }
    if r.bit() {
        s.flags |= sps_flags::DIRECT_8X8_INFERENCE;
    }
    let (cw, ch) = s.coded_size();
    let mut visible = Visible {
        width: cw,
        height: ch,
    };
    if r.bit() {
        let unit_y = 2 * (2 - u32::from(frame_mbs_only));
        let (left, right, top, bottom) = (r.ue(), r.ue(), r.ue(), r.ue());
        assert_eq!((left, top), (0, 0), "x264 crops right and bottom only");
        visible.width -= 2 * right;
        visible.height -= unit_y * bottom;
    }
    let mut reorder = None;
    if r.bit() {
        // vui_parameters(), as x264 writes them (no HRD).
        if r.bit() && r.bits(8) == 255 {
            r.bits(32);
        }
        if r.bit() {
            r.bit();
        }
        if r.bit() {
            r.bits(4);
            if r.bit() {
                r.bits(24);
            }
        }
        if r.bit() {
            r.ue();
            r.ue();
        }
        if r.bit() {
            r.bits(32);
            r.bits(32);
            r.bit();
        }
        assert!(!r.bit() && !r.bit(), "HRD parameters are not read here");
        r.bit();
        if r.bit() {
            r.bit();
            for _ in 0..4 {
                r.ue();
            }
            reorder = Some(r.ue() as u8);
            r.ue();
        }
    }
    ReadSps {
        sps: s,
        visible,
        reorder,
        lists,
    }
}

/// A PPS as x264 wrote it, and the scaling lists in effect with it.
fn read_pps(rbsp: &[u8], sps: &ReadSps) -> (Pps, Option<Lists>) {
    let r = &mut Reader { data: rbsp, pos: 0 };
    let mut p = Pps {
        pic_parameter_set_id: r.ue() as u8,
        seq_parameter_set_id: r.ue() as u8,
        ..Pps::default()
    };
    let flag = |r: &mut Reader<'_>, p: &mut Pps, f: u16| {
        if r.bit() {
            p.flags |= f;
        }
    };
    flag(r, &mut p, pps_flags::ENTROPY_CODING_MODE);
    flag(
        r,
        &mut p,
        pps_flags::BOTTOM_FIELD_PIC_ORDER_IN_FRAME_PRESENT,
    );
    p.num_slice_groups_minus1 = r.ue() as u8;
    assert_eq!(p.num_slice_groups_minus1, 0);
    p.num_ref_idx_l0_default_active_minus1 = r.ue() as u8;
    p.num_ref_idx_l1_default_active_minus1 = r.ue() as u8;
    flag(r, &mut p, pps_flags::WEIGHTED_PRED);
    p.weighted_bipred_idc = r.bits(2) as u8;
    p.pic_init_qp_minus26 = r.se() as i8;
    p.pic_init_qs_minus26 = r.se() as i8;
    p.chroma_qp_index_offset = r.se() as i8;
    p.second_chroma_qp_index_offset = p.chroma_qp_index_offset;
    flag(r, &mut p, pps_flags::DEBLOCKING_FILTER_CONTROL_PRESENT);
    flag(r, &mut p, pps_flags::CONSTRAINED_INTRA_PRED);
    flag(r, &mut p, pps_flags::REDUNDANT_PIC_CNT_PRESENT);
    let mut lists = sps.lists.clone();
    if r.more() {
        flag(r, &mut p, pps_flags::TRANSFORM_8X8_MODE);
        if r.bit() {
            let t8 = p.flags & pps_flags::TRANSFORM_8X8_MODE != 0;
            let n8 = if sps.sps.chroma_format_idc == 3 { 6 } else { 2 };
            lists = Some(read_lists(r, 6 + usize::from(t8) * n8, sps.lists.as_ref()));
        }
        p.second_chroma_qp_index_offset = r.se() as i8;
    }
    if lists.is_some() {
        p.flags |= pps_flags::SCALING_MATRIX_PRESENT;
    }
    (p, lists)
}

/// The control's matrix (raster order) from coded lists (zig-zag order).
fn matrix_of(lists: &Lists) -> ScalingMatrix {
    let mut m = ScalingMatrix::default();
    for (i, list) in lists[..6].iter().enumerate() {
        for (j, &v) in list.iter().enumerate() {
            m.scaling_list_4x4[i][ZIGZAG_4X4[j]] = v;
        }
    }
    for (i, list) in lists[6..].iter().enumerate() {
        for (j, &v) in list.iter().enumerate() {
            m.scaling_list_8x8[i][ZIGZAG_8X8[j]] = v;
        }
    }
    m
}

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
                seen = Some((s.sps.clone(), p, m.is_some()));
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
    // The JVT scaling matrices, signalled in x264's SPS: written here as
    // explicit lists in the PPS.
    let cqm = rewrite_and_compare(&dir, "cqm", (320, 240), &["-x264-params", "cqm=jvt"]);
    assert!(cqm.matrix);
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
    for r in [&high, &base, &cqm, &mbaff] {
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
    let mut m = ScalingMatrix::default();
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
        sps: sps.clone(),
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
