//! A reader of H.264 parameter sets, for the tests alone: what a
//! stateless client's parser fills its controls from.

use daedalusd::h264_params::{
    Pps, ScalingMatrix, Sps, SpsControl, Visible, ZIGZAG_4X4, ZIGZAG_8X8, flat_matrix, pps_flags,
    sps_flags,
};

/// A reader of an RBSP (emulation prevention already removed).
pub struct Reader<'a> {
    pub data: &'a [u8],
    pub pos: usize,
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

pub fn unescape(payload: &[u8]) -> Vec<u8> {
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

pub const DEFAULT_4X4_INTRA: [u8; 16] = [
    6, 13, 13, 20, 20, 20, 28, 28, 28, 28, 32, 32, 32, 37, 37, 42,
];
pub const DEFAULT_4X4_INTER: [u8; 16] = [
    10, 14, 14, 20, 20, 20, 24, 24, 24, 24, 27, 27, 27, 30, 30, 34,
];
pub const DEFAULT_8X8_INTRA: [u8; 64] = [
    6, 10, 10, 13, 11, 13, 16, 16, 16, 16, 18, 18, 18, 18, 18, 23, 23, 23, 23, 23, 23, 25, 25, 25,
    25, 25, 25, 25, 27, 27, 27, 27, 27, 27, 27, 27, 29, 29, 29, 29, 29, 29, 29, 31, 31, 31, 31, 31,
    31, 33, 33, 33, 33, 33, 36, 36, 36, 36, 38, 38, 38, 40, 40, 42,
];
pub const DEFAULT_8X8_INTER: [u8; 64] = [
    9, 13, 13, 15, 13, 15, 17, 17, 17, 17, 19, 19, 19, 19, 19, 21, 21, 21, 21, 21, 21, 22, 22, 22,
    22, 22, 22, 22, 24, 24, 24, 24, 24, 24, 24, 24, 25, 25, 25, 25, 25, 25, 25, 27, 27, 27, 27, 27,
    27, 28, 28, 28, 28, 28, 30, 30, 30, 30, 32, 32, 32, 33, 33, 35,
];

/// Scaling lists in zig-zag order, as coded: twelve lists (6 of 4x4,
/// then 8x8 Intra Y, Inter Y, Intra Cb, Inter Cb, Intra Cr, Inter Cr).
pub type Lists = Vec<Vec<u8>>;

pub fn default_list(i: usize) -> Vec<u8> {
    match i {
        0..=2 => DEFAULT_4X4_INTRA.to_vec(),
        3..=5 => DEFAULT_4X4_INTER.to_vec(),
        _ if i.is_multiple_of(2) => DEFAULT_8X8_INTRA.to_vec(),
        _ => DEFAULT_8X8_INTER.to_vec(),
    }
}

/// scaling_list(): Some(list), or None for "use the default".
pub fn read_list(r: &mut Reader<'_>, size: usize) -> Option<Vec<u8>> {
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
pub fn read_lists(r: &mut Reader<'_>, count: usize, base: Option<&Lists>) -> Lists {
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
pub struct ReadSps {
    pub sps: Sps,
    pub visible: Visible,
    pub reorder: Option<u8>,
    pub lists: Option<Lists>,
}

pub fn read_sps(rbsp: &[u8]) -> ReadSps {
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
pub fn read_pps(rbsp: &[u8], sps: &ReadSps) -> (Pps, Option<Lists>) {
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
pub fn matrix_of(lists: &Lists) -> ScalingMatrix {
    let mut m = flat_matrix();
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
