//! H.264 parameter sets written from what a stateless (Request API)
//! client passes in its controls: `V4L2_CID_STATELESS_H264_SPS`, `_PPS`
//! and `_SCALING_MATRIX` (Documentation/userspace-api/media/v4l/
//! ext-ctrls-codec-stateless.rst). A stateless client sends slices without
//! their parameter sets; libavcodec needs them as NAL units, so the daemon
//! writes them from the controls: an exp-Golomb bit writer, the SPS and
//! PPS syntax of ITU-T H.264 7.3.2.1.1 and 7.3.2.2, emulation prevention
//! (7.4.1) and Annex B start codes.
//!
//! The controls carry no frame cropping and no VUI: the visible size comes
//! from the CAPTURE format, and [`Sps::to_nal`] writes it as the SPS's
//! cropping. The scaling matrix control is the one in effect (the SPS's,
//! overridden by the PPS's): it is written into the PPS, every list
//! explicit, and the SPS carries none.

use std::fmt;

/// `V4L2_H264_SPS_FLAG_*`.
pub mod sps_flags {
    pub const SEPARATE_COLOUR_PLANE: u32 = 0x01;
    pub const QPPRIME_Y_ZERO_TRANSFORM_BYPASS: u32 = 0x02;
    pub const DELTA_PIC_ORDER_ALWAYS_ZERO: u32 = 0x04;
    pub const GAPS_IN_FRAME_NUM_VALUE_ALLOWED: u32 = 0x08;
    pub const FRAME_MBS_ONLY: u32 = 0x10;
    pub const MB_ADAPTIVE_FRAME_FIELD: u32 = 0x20;
    pub const DIRECT_8X8_INFERENCE: u32 = 0x40;
}

/// `V4L2_H264_PPS_FLAG_*`.
pub mod pps_flags {
    pub const ENTROPY_CODING_MODE: u16 = 0x01;
    pub const BOTTOM_FIELD_PIC_ORDER_IN_FRAME_PRESENT: u16 = 0x02;
    pub const WEIGHTED_PRED: u16 = 0x04;
    pub const DEBLOCKING_FILTER_CONTROL_PRESENT: u16 = 0x08;
    pub const CONSTRAINED_INTRA_PRED: u16 = 0x10;
    pub const REDUNDANT_PIC_CNT_PRESENT: u16 = 0x20;
    pub const TRANSFORM_8X8_MODE: u16 = 0x40;
    pub const SCALING_MATRIX_PRESENT: u16 = 0x80;
}

/// `V4L2_H264_DPB_ENTRY_FLAG_*`.
pub mod dpb_flags {
    /// The entry names a picture.
    pub const VALID: u32 = 0x01;
    /// The picture is used for reference.
    pub const ACTIVE: u32 = 0x02;
}

/// `V4L2_H264_DECODE_PARAM_FLAG_*`.
pub mod decode_flags {
    pub const IDR_PIC: u32 = 0x01;
}

/// The controls' payloads, as the protocol carries them
/// (`daedalus_h264_slice`).
pub use daedalus_proto::{H264Pps as Pps, H264ScalingMatrix as ScalingMatrix, H264Sps as Sps};

/// Flat_4x4_16 and Flat_8x8_16: the matrix of a stream without one.
pub fn flat_matrix() -> ScalingMatrix {
    ScalingMatrix {
        scaling_list_4x4: [[16; 16]; 6],
        scaling_list_8x8: [[16; 64]; 6],
    }
}

/// Why controls cannot be written as parameter sets: the field and the
/// rule it breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamError {
    pub field: &'static str,
    pub why: String,
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.why)
    }
}

impl std::error::Error for ParamError {}

fn check(ok: bool, field: &'static str, why: impl FnOnce() -> String) -> Result<(), ParamError> {
    if ok {
        Ok(())
    } else {
        Err(ParamError { field, why: why() })
    }
}

/// 4x4 zig-zag scan (H.264 Table 8-13, frame): position `i` of a list in
/// the bitstream is raster index `ZIGZAG_4X4[i]`.
pub const ZIGZAG_4X4: [usize; 16] = [0, 1, 4, 8, 5, 2, 3, 6, 9, 12, 13, 10, 7, 11, 14, 15];

/// 8x8 zig-zag scan (H.264 Table 8-14, frame).
pub const ZIGZAG_8X8: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// Profiles whose SPS carries chroma_format_idc, bit depths and the
/// scaling matrix flag (7.3.2.1.1).
fn high_profile(profile_idc: u8) -> bool {
    matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    )
}

/// An RBSP being written, most significant bit first.
#[derive(Default)]
pub struct BitWriter {
    bytes: Vec<u8>,
    /// Bits used in the last byte (0: none started).
    used: u8,
}

impl BitWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// u(n): the `n` low bits of `value`, n <= 32.
    pub fn bits(&mut self, n: u32, value: u32) {
        debug_assert!(n <= 32 && (n == 32 || value >> n == 0));
        for i in (0..n).rev() {
            self.bit(value >> i & 1 != 0);
        }
    }

    pub fn bit(&mut self, b: bool) {
        if self.used == 0 {
            self.bytes.push(0);
        }
        if b {
            *self.bytes.last_mut().expect("a byte was pushed") |= 0x80 >> self.used;
        }
        self.used = (self.used + 1) % 8;
    }

    /// ue(v) (9.1): `value` + 1 in binary, after as many zeros as it has
    /// bits less one.
    pub fn ue(&mut self, value: u32) {
        let v = u64::from(value) + 1;
        let len = 64 - v.leading_zeros();
        for _ in 1..len {
            self.bit(false);
        }
        for i in (0..len).rev() {
            self.bit(v >> i & 1 != 0);
        }
    }

    /// se(v) (9.1.1): k > 0 as 2k - 1, k <= 0 as -2k.
    pub fn se(&mut self, value: i32) {
        let v = i64::from(value);
        let mapped = if v > 0 { 2 * v - 1 } else { -2 * v };
        // |value| <= 2^31, so the mapped value fits in 32 bits.
        self.ue(u32::try_from(mapped).expect("se(v) of an i32 fits ue(v)"));
    }

    /// rbsp_trailing_bits(): a one, then zeros to the byte boundary.
    pub fn trailing(&mut self) {
        self.bit(true);
        while self.used != 0 {
            self.bit(false);
        }
    }

    /// The bytes written (the last byte padded with zeros).
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// The NAL units of an Annex B stream (H.264 or HEVC), start codes
/// stripped: each runs from a `00 00 01` to the next `00 00 00` or
/// `00 00 01`, less trailing zero bytes (a NAL unit's last byte is never
/// 0, 7.4.1). Empty ones are skipped.
pub fn nal_units(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut at = 0;
    std::iter::from_fn(move || {
        loop {
            let pos = data[at..].windows(3).position(|w| w == [0, 0, 1])?;
            let start = at + pos + 3;
            let mut end = data[start..]
                .windows(3)
                .position(|w| w[0] == 0 && w[1] == 0 && w[2] <= 1)
                .map_or(data.len(), |n| start + n);
            at = end;
            while end > start && data[end - 1] == 0 {
                end -= 1;
            }
            if start < end {
                return Some(&data[start..end]);
            }
        }
    })
}

/// An Annex B NAL unit: start code, header, then the RBSP with an
/// emulation_prevention_three_byte before every 0x00-0x03 that follows
/// two zero bytes (7.4.1).
pub fn nal(nal_ref_idc: u8, nal_unit_type: u8, rbsp: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0, 1, (nal_ref_idc & 3) << 5 | (nal_unit_type & 0x1f)];
    let mut zeros = 0;
    for &b in rbsp {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    out
}

/// nal_unit_type of an SPS and a PPS.
pub const NAL_SPS: u8 = 7;
pub const NAL_PPS: u8 = 8;

/// The visible picture inside the coded one, for the SPS's cropping: the
/// CAPTURE format's visible size (top-left at 0, 0, as the stateless
/// decoders' formats have it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Visible {
    pub width: u32,
    pub height: u32,
}

/// What the SPS control gives: its coded size, its checks and its NAL
/// unit.
pub trait SpsControl {
    /// Coded size in luma samples (whole macroblocks; a field-coded
    /// stream's map units are pairs of macroblock rows).
    fn coded_size(&self) -> (u32, u32);

    /// The limits of 7.4.2.1.1 this writer relies on, and what it
    /// supports: 4:2:0 with 8-bit samples.
    fn validate(&self) -> Result<(), ParamError>;

    /// The SPS NAL unit (Annex B), cropped to `visible`.
    fn to_nal(
        &self,
        visible: Visible,
        num_reorder_frames: Option<u8>,
    ) -> Result<Vec<u8>, ParamError>;

    /// Whether a `V4L2_H264_SPS_FLAG_*` is set.
    fn flag(&self, f: u32) -> bool;
}

impl SpsControl for Sps {
    fn flag(&self, f: u32) -> bool {
        self.flags & f != 0
    }

    /// Coded size in luma samples (whole macroblocks; a field-coded
    /// stream's map units are pairs of macroblock rows).
    fn coded_size(&self) -> (u32, u32) {
        let mbs_h = u32::from(self.pic_height_in_map_units_minus1) + 1;
        let frame_h = if self.flag(sps_flags::FRAME_MBS_ONLY) {
            mbs_h
        } else {
            2 * mbs_h
        };
        (
            (u32::from(self.pic_width_in_mbs_minus1) + 1) * 16,
            frame_h * 16,
        )
    }

    /// The limits of 7.4.2.1.1 this writer relies on, and what it
    /// supports: 4:2:0 with 8-bit samples, the decoded pictures daedalusd
    /// hands back.
    fn validate(&self) -> Result<(), ParamError> {
        check(
            self.seq_parameter_set_id <= 31,
            "seq_parameter_set_id",
            || format!("{} > 31", self.seq_parameter_set_id),
        )?;
        // Other profiles are 4:2:0 8-bit by definition: their SPS has no
        // room for these fields, whatever the client left in them.
        if high_profile(self.profile_idc) {
            check(self.chroma_format_idc == 1, "chroma_format_idc", || {
                format!("{} (only 4:2:0 is decoded)", self.chroma_format_idc)
            })?;
            check(
                self.bit_depth_luma_minus8 == 0 && self.bit_depth_chroma_minus8 == 0,
                "bit_depth_luma_minus8",
                || {
                    format!(
                        "luma {} chroma {} (only 8-bit samples are decoded)",
                        u32::from(self.bit_depth_luma_minus8) + 8,
                        u32::from(self.bit_depth_chroma_minus8) + 8
                    )
                },
            )?;
        }
        check(
            self.log2_max_frame_num_minus4 <= 12,
            "log2_max_frame_num_minus4",
            || format!("{} > 12", self.log2_max_frame_num_minus4),
        )?;
        check(self.pic_order_cnt_type <= 2, "pic_order_cnt_type", || {
            format!("{} > 2", self.pic_order_cnt_type)
        })?;
        check(
            self.log2_max_pic_order_cnt_lsb_minus4 <= 12,
            "log2_max_pic_order_cnt_lsb_minus4",
            || format!("{} > 12", self.log2_max_pic_order_cnt_lsb_minus4),
        )?;
        check(
            !self.flag(sps_flags::SEPARATE_COLOUR_PLANE) || self.chroma_format_idc == 3,
            "flags",
            || "SEPARATE_COLOUR_PLANE without 4:4:4".into(),
        )?;
        check(self.max_num_ref_frames <= 16, "max_num_ref_frames", || {
            format!("{} > 16", self.max_num_ref_frames)
        })?;
        for (field, v) in [
            ("offset_for_non_ref_pic", self.offset_for_non_ref_pic),
            (
                "offset_for_top_to_bottom_field",
                self.offset_for_top_to_bottom_field,
            ),
        ] {
            check(v != i32::MIN, field, || format!("{v} < -(2^31 - 1)"))?;
        }
        let cycle = usize::from(self.num_ref_frames_in_pic_order_cnt_cycle);
        if let Some(v) = self.offset_for_ref_frame[..cycle]
            .iter()
            .find(|v| **v == i32::MIN)
        {
            return Err(ParamError {
                field: "offset_for_ref_frame",
                why: format!("{v} < -(2^31 - 1)"),
            });
        }
        Ok(())
    }

    /// The SPS NAL unit (Annex B), cropped to `visible`, or why these
    /// controls make none. `num_reorder_frames`, when given, goes into a
    /// VUI's bitstream restriction (with max_dec_frame_buffering =
    /// max_num_ref_frames): 0 has the decoder output each picture as soon
    /// as it is decoded, in decode order, as a stateless decoder must.
    fn to_nal(
        &self,
        visible: Visible,
        num_reorder_frames: Option<u8>,
    ) -> Result<Vec<u8>, ParamError> {
        self.validate()?;
        let (cw, ch) = self.coded_size();
        check(
            (1..=cw).contains(&visible.width) && (1..=ch).contains(&visible.height),
            "visible",
            || {
                format!(
                    "{}x{} does not fit the coded {cw}x{ch}",
                    visible.width, visible.height
                )
            },
        )?;
        // Cropping units of 4:2:0 (7-19, 7-20): 2 luma samples, times 2
        // lines when a frame is two fields. A visible size between two
        // units keeps the part unit that holds it.
        let frame_mbs_only = self.flag(sps_flags::FRAME_MBS_ONLY);
        let (unit_x, unit_y) = (2, 2 * (2 - u32::from(frame_mbs_only)));
        let crop_right = (cw - visible.width) / unit_x * unit_x;
        let crop_bottom = (ch - visible.height) / unit_y * unit_y;
        let mut w = BitWriter::new();
        w.bits(8, u32::from(self.profile_idc));
        // constraint_set0_flag is the first bit written.
        for i in 0..6 {
            w.bit(self.constraint_set_flags >> i & 1 != 0);
        }
        w.bits(2, 0);
        w.bits(8, u32::from(self.level_idc));
        w.ue(u32::from(self.seq_parameter_set_id));
        if high_profile(self.profile_idc) {
            w.ue(u32::from(self.chroma_format_idc));
            w.ue(u32::from(self.bit_depth_luma_minus8));
            w.ue(u32::from(self.bit_depth_chroma_minus8));
            w.bit(self.flag(sps_flags::QPPRIME_Y_ZERO_TRANSFORM_BYPASS));
            // seq_scaling_matrix_present_flag: the matrix goes in the PPS.
            w.bit(false);
        }
        w.ue(u32::from(self.log2_max_frame_num_minus4));
        w.ue(u32::from(self.pic_order_cnt_type));
        match self.pic_order_cnt_type {
            0 => w.ue(u32::from(self.log2_max_pic_order_cnt_lsb_minus4)),
            1 => {
                w.bit(self.flag(sps_flags::DELTA_PIC_ORDER_ALWAYS_ZERO));
                w.se(self.offset_for_non_ref_pic);
                w.se(self.offset_for_top_to_bottom_field);
                w.ue(u32::from(self.num_ref_frames_in_pic_order_cnt_cycle));
                let cycle = usize::from(self.num_ref_frames_in_pic_order_cnt_cycle);
                for &o in &self.offset_for_ref_frame[..cycle] {
                    w.se(o);
                }
            }
            _ => {}
        }
        w.ue(u32::from(self.max_num_ref_frames));
        w.bit(self.flag(sps_flags::GAPS_IN_FRAME_NUM_VALUE_ALLOWED));
        w.ue(u32::from(self.pic_width_in_mbs_minus1));
        w.ue(u32::from(self.pic_height_in_map_units_minus1));
        w.bit(frame_mbs_only);
        if !frame_mbs_only {
            w.bit(self.flag(sps_flags::MB_ADAPTIVE_FRAME_FIELD));
        }
        w.bit(self.flag(sps_flags::DIRECT_8X8_INFERENCE));
        let cropped = crop_right != 0 || crop_bottom != 0;
        w.bit(cropped);
        if cropped {
            w.ue(0);
            w.ue(crop_right / unit_x);
            w.ue(0);
            w.ue(crop_bottom / unit_y);
        }
        w.bit(num_reorder_frames.is_some());
        if let Some(reorder) = num_reorder_frames {
            write_vui_reorder(&mut w, reorder, self.max_num_ref_frames);
        }
        w.trailing();
        Ok(nal(3, NAL_SPS, &w.into_bytes()))
    }
}

/// vui_parameters() (E.1.1) with nothing but bitstream_restriction.
fn write_vui_reorder(w: &mut BitWriter, reorder: u8, max_dec_frame_buffering: u8) {
    // aspect_ratio_info, overscan_info, video_signal_type,
    // chroma_loc_info, timing_info, nal_hrd, vcl_hrd: none present.
    for _ in 0..7 {
        w.bit(false);
    }
    // pic_struct_present_flag
    w.bit(false);
    // bitstream_restriction_flag
    w.bit(true);
    // motion_vectors_over_pic_boundaries_flag
    w.bit(true);
    // max_bytes_per_pic_denom, max_bits_per_mb_denom: no limit.
    w.ue(0);
    w.ue(0);
    // log2_max_mv_length_horizontal, _vertical: the largest allowed.
    w.ue(15);
    w.ue(15);
    w.ue(u32::from(reorder));
    w.ue(u32::from(max_dec_frame_buffering.max(reorder)));
}

/// scaling_list() (7.3.2.1.1.1) of `raster`, every value explicit.
fn write_scaling_list(w: &mut BitWriter, raster: &[u8], scan: &[usize]) {
    let mut last: i32 = 8;
    for &pos in scan {
        let v = i32::from(raster[pos]);
        // delta_scale is taken modulo 256 into -128..=127 (7-7).
        let delta = (v - last + 128).rem_euclid(256) - 128;
        w.se(delta);
        last = v;
    }
}

/// What the PPS control gives: its checks and its NAL unit.
pub trait PpsControl {
    /// The limits of 7.4.2.2 this writer relies on.
    fn validate(&self, sps: &Sps) -> Result<(), ParamError>;

    /// The PPS NAL unit (Annex B).
    fn to_nal(&self, sps: &Sps, matrix: Option<&ScalingMatrix>) -> Result<Vec<u8>, ParamError>;

    /// Whether a `V4L2_H264_PPS_FLAG_*` is set.
    fn flag(&self, f: u16) -> bool;
}

impl PpsControl for Pps {
    fn flag(&self, f: u16) -> bool {
        self.flags & f != 0
    }

    /// The limits of 7.4.2.2 this writer relies on.
    fn validate(&self, sps: &Sps) -> Result<(), ParamError> {
        check(
            self.seq_parameter_set_id == sps.seq_parameter_set_id,
            "seq_parameter_set_id",
            || {
                format!(
                    "{} names no SPS (the SPS control has {})",
                    self.seq_parameter_set_id, sps.seq_parameter_set_id
                )
            },
        )?;
        check(
            self.num_slice_groups_minus1 == 0,
            "num_slice_groups_minus1",
            || {
                format!(
                    "{} (slice groups, FMO, have no control)",
                    self.num_slice_groups_minus1
                )
            },
        )?;
        for (field, v) in [
            (
                "num_ref_idx_l0_default_active_minus1",
                self.num_ref_idx_l0_default_active_minus1,
            ),
            (
                "num_ref_idx_l1_default_active_minus1",
                self.num_ref_idx_l1_default_active_minus1,
            ),
        ] {
            check(v <= 31, field, || format!("{v} > 31"))?;
        }
        check(self.weighted_bipred_idc <= 2, "weighted_bipred_idc", || {
            format!("{} > 2", self.weighted_bipred_idc)
        })?;
        let qp_low = -26 - 6 * i32::from(sps.bit_depth_luma_minus8);
        for (field, v) in [
            ("pic_init_qp_minus26", self.pic_init_qp_minus26),
            ("pic_init_qs_minus26", self.pic_init_qs_minus26),
        ] {
            check((qp_low..=25).contains(&i32::from(v)), field, || {
                format!("{v} outside {qp_low}..=25")
            })?;
        }
        for (field, v) in [
            ("chroma_qp_index_offset", self.chroma_qp_index_offset),
            (
                "second_chroma_qp_index_offset",
                self.second_chroma_qp_index_offset,
            ),
        ] {
            check((-12..=12).contains(&v), field, || {
                format!("{v} outside -12..=12")
            })?;
        }
        Ok(())
    }

    /// The PPS NAL unit (Annex B), with `matrix` (the one in effect, when
    /// SCALING_MATRIX_PRESENT is set) written explicitly, or why these
    /// controls make none.
    fn to_nal(&self, sps: &Sps, matrix: Option<&ScalingMatrix>) -> Result<Vec<u8>, ParamError> {
        self.validate(sps)?;
        let matrix = if self.flag(pps_flags::SCALING_MATRIX_PRESENT) {
            let m = matrix.ok_or(ParamError {
                field: "flags",
                why: "SCALING_MATRIX_PRESENT without a scaling matrix control".into(),
            })?;
            let zero4 = m.scaling_list_4x4.iter().any(|l| l.contains(&0));
            let zero8 = m.scaling_list_8x8.iter().any(|l| l.contains(&0));
            check(!zero4 && !zero8, "scaling matrix", || {
                "a weight of 0 (each is 1..=255)".into()
            })?;
            Some(m)
        } else {
            None
        };
        let mut w = BitWriter::new();
        w.ue(u32::from(self.pic_parameter_set_id));
        w.ue(u32::from(self.seq_parameter_set_id));
        w.bit(self.flag(pps_flags::ENTROPY_CODING_MODE));
        w.bit(self.flag(pps_flags::BOTTOM_FIELD_PIC_ORDER_IN_FRAME_PRESENT));
        w.ue(u32::from(self.num_slice_groups_minus1));
        w.ue(u32::from(self.num_ref_idx_l0_default_active_minus1));
        w.ue(u32::from(self.num_ref_idx_l1_default_active_minus1));
        w.bit(self.flag(pps_flags::WEIGHTED_PRED));
        w.bits(2, u32::from(self.weighted_bipred_idc));
        w.se(i32::from(self.pic_init_qp_minus26));
        w.se(i32::from(self.pic_init_qs_minus26));
        w.se(i32::from(self.chroma_qp_index_offset));
        w.bit(self.flag(pps_flags::DEBLOCKING_FILTER_CONTROL_PRESENT));
        w.bit(self.flag(pps_flags::CONSTRAINED_INTRA_PRED));
        w.bit(self.flag(pps_flags::REDUNDANT_PIC_CNT_PRESENT));
        let transform_8x8 = self.flag(pps_flags::TRANSFORM_8X8_MODE);
        if transform_8x8
            || matrix.is_some()
            || self.second_chroma_qp_index_offset != self.chroma_qp_index_offset
        {
            w.bit(transform_8x8);
            w.bit(matrix.is_some());
            if let Some(m) = matrix {
                for list in &m.scaling_list_4x4 {
                    w.bit(true);
                    write_scaling_list(&mut w, list, &ZIGZAG_4X4);
                }
                if transform_8x8 {
                    // 4:2:0: the luma lists only (Intra Y, Inter Y).
                    let n = if sps.chroma_format_idc == 3 { 6 } else { 2 };
                    for list in &m.scaling_list_8x8[..n] {
                        w.bit(true);
                        write_scaling_list(&mut w, list, &ZIGZAG_8X8);
                    }
                }
            }
            w.se(i32::from(self.second_chroma_qp_index_offset));
        }
        w.trailing();
        Ok(nal(3, NAL_PPS, &w.into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(f: impl FnOnce(&mut BitWriter)) -> String {
        let mut w = BitWriter::new();
        f(&mut w);
        let used = w.used;
        let bytes = w.into_bytes();
        let mut s: String = bytes.iter().map(|b| format!("{b:08b}")).collect();
        if used != 0 {
            s.truncate(s.len() - (8 - usize::from(used)));
        }
        s
    }

    #[test]
    fn exp_golomb_codes_are_the_standard_s() {
        // H.264 Table 9-2 and 9-3.
        assert_eq!(written(|w| w.ue(0)), "1");
        assert_eq!(written(|w| w.ue(1)), "010");
        assert_eq!(written(|w| w.ue(2)), "011");
        assert_eq!(written(|w| w.ue(3)), "00100");
        assert_eq!(written(|w| w.ue(6)), "00111");
        assert_eq!(written(|w| w.ue(7)), "0001000");
        assert_eq!(written(|w| w.se(1)), "010");
        assert_eq!(written(|w| w.se(-1)), "011");
        assert_eq!(written(|w| w.se(2)), "00100");
        assert_eq!(written(|w| w.se(-2)), "00101");
        assert_eq!(written(|w| w.se(0)), "1");
        // The extremes of both.
        assert_eq!(written(|w| w.ue(u32::MAX)).len(), 65);
        assert_eq!(written(|w| w.se(i32::MIN + 1)).len(), 63);
        assert_eq!(written(|w| w.bits(3, 5)), "101");
        assert_eq!(written(|w| w.trailing()), "10000000");
    }

    /// The zig-zag scan of an n x n block, built by walking it: one
    /// anti-diagonal after another, down-left on odd ones, up-right on
    /// even ones (H.264 Figure 8-8 a).
    fn walked_zigzag(n: usize) -> Vec<usize> {
        let mut scan = Vec::new();
        for d in 0..2 * n - 1 {
            let rows: Vec<usize> = (0..n).filter(|r| d >= *r && d - r < n).collect();
            let ordered: Vec<usize> = if d % 2 == 1 {
                rows
            } else {
                rows.into_iter().rev().collect()
            };
            scan.extend(ordered.into_iter().map(|r| r * n + (d - r)));
        }
        scan
    }

    #[test]
    fn the_scan_tables_are_the_zigzag_walk() {
        assert_eq!(ZIGZAG_4X4.to_vec(), walked_zigzag(4));
        assert_eq!(ZIGZAG_8X8.to_vec(), walked_zigzag(8));
    }

    #[test]
    fn nal_units_are_cut_at_start_codes_without_their_zeros() {
        let stream = [
            0, 0, 0, 1, 0x67, 1, 2, 0, // 4-byte start code, trailing zero
            0, 0, 1, // an empty unit
            0, 0, 1, 0x68, 0, 0, 3, 0, // escaped zeros stay
            0, 0, 1, 0x65, 9,
        ];
        let units: Vec<&[u8]> = nal_units(&stream).collect();
        assert_eq!(
            units,
            [&[0x67, 1, 2][..], &[0x68, 0, 0, 3][..], &[0x65, 9][..]]
        );
        assert_eq!(nal_units(&[0, 0, 1]).count(), 0);
        assert_eq!(nal_units(&[1, 2, 3]).count(), 0);
    }

    #[test]
    fn emulation_prevention_escapes_every_start_code_prefix() {
        assert_eq!(
            nal(3, 7, &[0, 0, 1, 0, 0, 0, 0, 0, 3, 0, 0, 4]),
            [
                0, 0, 0, 1, 0x67, 0, 0, 3, 1, 0, 0, 3, 0, 0, 3, 0, 3, 0, 0, 4
            ]
        );
        // A zero pair ended by a byte > 3 needs nothing.
        assert_eq!(nal(0, 8, &[0, 0, 4]), [0, 0, 0, 1, 0x08, 0, 0, 4]);
    }

    fn sps_1080p() -> Sps {
        Sps {
            profile_idc: 100,
            level_idc: 40,
            chroma_format_idc: 1,
            log2_max_pic_order_cnt_lsb_minus4: 2,
            max_num_ref_frames: 4,
            pic_width_in_mbs_minus1: 119,
            pic_height_in_map_units_minus1: 67,
            flags: sps_flags::FRAME_MBS_ONLY | sps_flags::DIRECT_8X8_INFERENCE,
            ..Sps::default()
        }
    }

    #[test]
    fn bad_controls_are_refused_with_their_field() {
        let full = Visible {
            width: 1920,
            height: 1080,
        };
        type Bad = Box<dyn Fn(&mut Sps)>;
        let cases: [(&str, Bad); 6] = [
            ("chroma_format_idc", Box::new(|s| s.chroma_format_idc = 0)),
            (
                "bit_depth_luma_minus8",
                Box::new(|s| s.bit_depth_luma_minus8 = 2),
            ),
            ("pic_order_cnt_type", Box::new(|s| s.pic_order_cnt_type = 3)),
            (
                "seq_parameter_set_id",
                Box::new(|s| s.seq_parameter_set_id = 32),
            ),
            (
                "max_num_ref_frames",
                Box::new(|s| s.max_num_ref_frames = 17),
            ),
            (
                "offset_for_ref_frame",
                Box::new(|s| {
                    s.pic_order_cnt_type = 1;
                    s.num_ref_frames_in_pic_order_cnt_cycle = 3;
                    s.offset_for_ref_frame[2] = i32::MIN;
                }),
            ),
        ];
        for (field, bad) in cases {
            let mut s = sps_1080p();
            bad(&mut s);
            assert_eq!(s.to_nal(full, None).unwrap_err().field, field);
        }
        let s = sps_1080p();
        for (w, h) in [(1921, 1080), (1920, 1089), (0, 1080), (1920, 0)] {
            let e = s
                .to_nal(
                    Visible {
                        width: w,
                        height: h,
                    },
                    None,
                )
                .unwrap_err();
            assert_eq!(e.field, "visible", "{w}x{h}");
        }
        // Between two cropping units: the unit that holds the last line
        // stays.
        let size = |width, height| Visible { width, height };
        assert_eq!(
            s.to_nal(size(1920, 1079), None),
            s.to_nal(size(1920, 1080), None)
        );
        // Not a High profile: chroma format and bit depths are implied,
        // whatever the fields hold; a bit depth at the top of its range
        // is refused, not wrapped, in a High one.
        let mut main = sps_1080p();
        main.profile_idc = 77;
        main.chroma_format_idc = 0;
        main.bit_depth_luma_minus8 = 255;
        assert!(main.to_nal(full, None).is_ok());
        main.profile_idc = 100;
        main.chroma_format_idc = 1;
        let e = main.to_nal(full, None).unwrap_err();
        assert_eq!(e.field, "bit_depth_luma_minus8");
        assert!(e.why.contains("luma 263"), "{e}");

        let pps = Pps::default();
        let mut p = pps;
        p.seq_parameter_set_id = 1;
        assert_eq!(
            p.to_nal(&s, None).unwrap_err().field,
            "seq_parameter_set_id"
        );
        let mut p = pps;
        p.num_slice_groups_minus1 = 1;
        assert_eq!(
            p.to_nal(&s, None).unwrap_err().field,
            "num_slice_groups_minus1"
        );
        let mut p = pps;
        p.pic_init_qp_minus26 = 26;
        assert_eq!(p.to_nal(&s, None).unwrap_err().field, "pic_init_qp_minus26");
        let mut p = pps;
        p.chroma_qp_index_offset = -13;
        assert_eq!(
            p.to_nal(&s, None).unwrap_err().field,
            "chroma_qp_index_offset"
        );
        let mut p = pps;
        p.weighted_bipred_idc = 3;
        assert_eq!(p.to_nal(&s, None).unwrap_err().field, "weighted_bipred_idc");
        let mut p = pps;
        p.flags = pps_flags::SCALING_MATRIX_PRESENT;
        assert_eq!(p.to_nal(&s, None).unwrap_err().field, "flags");
        let mut m = flat_matrix();
        m.scaling_list_8x8[1][63] = 0;
        assert_eq!(p.to_nal(&s, Some(&m)).unwrap_err().field, "scaling matrix");
    }

    #[test]
    fn a_1080p_sps_crops_to_1080_lines() {
        let nal = sps_1080p()
            .to_nal(
                Visible {
                    width: 1920,
                    height: 1080,
                },
                None,
            )
            .unwrap();
        insta::assert_snapshot!(
            nal.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
}
