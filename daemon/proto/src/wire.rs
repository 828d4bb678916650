//! The fixed-layout structs of the uapi header, field for field.
//!
//! Each struct is declared once through `wire_struct!`, which derives its
//! little-endian encoder, decoder and layout table from the same field list;
//! `tests/c_layout.rs` checks that table against the C compiler's `sizeof`
//! and `offsetof`, so the codec cannot drift from the header unnoticed.

/// One field's place in a wire struct, for the layout check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldLayout {
    /// The C field name (arrays without their brackets).
    pub name: &'static str,
    pub offset: usize,
    pub size: usize,
}

/// A scalar or array field as it sits on the wire.
pub trait WireField: Sized + Copy {
    const FIELD_SIZE: usize;
    fn put_field(&self, out: &mut Vec<u8>);
    /// Reads from the start of `buf`, which holds at least `FIELD_SIZE`
    /// bytes.
    fn get_field(buf: &[u8]) -> Self;
}

macro_rules! le_field {
    ($($t:ty),*) => {$(
        impl WireField for $t {
            const FIELD_SIZE: usize = std::mem::size_of::<$t>();
            fn put_field(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn get_field(buf: &[u8]) -> Self {
                let mut b = [0u8; std::mem::size_of::<$t>()];
                b.copy_from_slice(&buf[..Self::FIELD_SIZE]);
                <$t>::from_le_bytes(b)
            }
        }
    )*};
}
le_field!(u8, i8, u16, i16, u32, i32, u64);

impl<T: WireField, const N: usize> WireField for [T; N] {
    const FIELD_SIZE: usize = T::FIELD_SIZE * N;
    fn put_field(&self, out: &mut Vec<u8>) {
        for v in self {
            v.put_field(out);
        }
    }
    fn get_field(buf: &[u8]) -> Self {
        std::array::from_fn(|i| T::get_field(&buf[i * T::FIELD_SIZE..]))
    }
}

/// A struct of the uapi header with its C name and layout.
pub trait WireStruct: Sized {
    /// `struct <C_NAME>` in the header.
    const C_NAME: &'static str;
    /// Its size in bytes, also its `sizeof` (no implicit padding).
    const SIZE: usize;
    fn layout() -> Vec<FieldLayout>;
    fn put(&self, out: &mut Vec<u8>);
    /// Reads from the start of `buf`, which holds at least `SIZE` bytes.
    fn get(buf: &[u8]) -> Self;
}

/// The C name of a Rust field: `type` is a Rust keyword, so it is `ty` here.
fn c_field_name(rust: &'static str) -> &'static str {
    if rust == "ty" { "type" } else { rust }
}

macro_rules! wire_struct {
    (
        $(#[$m:meta])*
        pub struct $name:ident = $cname:literal {
            $( $(#[$fm:meta])* $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name {
            $( $(#[$fm])* pub $field: $ty ),*
        }

        impl Default for $name {
            /// Every field zero.
            fn default() -> Self {
                <Self as WireStruct>::get(&[0u8; <Self as WireStruct>::SIZE])
            }
        }

        /// A struct inside another one (the V4L2 controls in
        /// `daedalus_h264_slice`).
        impl WireField for $name {
            const FIELD_SIZE: usize = <Self as WireStruct>::SIZE;
            fn put_field(&self, out: &mut Vec<u8>) {
                <Self as WireStruct>::put(self, out)
            }
            fn get_field(buf: &[u8]) -> Self {
                <Self as WireStruct>::get(buf)
            }
        }

        impl WireStruct for $name {
            const C_NAME: &'static str = $cname;
            const SIZE: usize = 0 $( + <$ty as WireField>::FIELD_SIZE )*;

            fn layout() -> Vec<FieldLayout> {
                let mut offset = 0;
                let mut fields = Vec::new();
                $(
                    let size = <$ty as WireField>::FIELD_SIZE;
                    fields.push(FieldLayout { name: c_field_name(stringify!($field)), offset, size });
                    offset += size;
                )*
                let _ = offset;
                fields
            }

            fn put(&self, out: &mut Vec<u8>) {
                $( WireField::put_field(&self.$field, out); )*
            }

            fn get(buf: &[u8]) -> Self {
                let mut at = 0;
                $(
                    let $field = <$ty as WireField>::get_field(&buf[at..]);
                    at += <$ty as WireField>::FIELD_SIZE;
                )*
                let _ = at;
                Self { $( $field ),* }
            }
        }
    };
}

wire_struct! {
    /// `struct daedalus_hdr`: in front of every message.
    pub struct Hdr = "daedalus_hdr" {
        magic: u32,
        version: u16,
        /// An enum daedalus_msg_type value.
        ty: u16,
        /// Bytes after the header: fixed body plus data.
        payload_len: u32,
        reserved: u32,
        /// The job (REQ_DECODE, RESP_FRAME, RESP_STREAM_INFO), a PING/PONG
        /// token, or zero.
        cookie: u64,
    }
}

wire_struct! {
    /// `struct daedalus_req_hello`: the first message the kernel sends.
    pub struct ReqHello = "daedalus_req_hello" {
        proto_version: u32,
        max_contexts: u32,
        max_payload: u32,
        reserved: u32,
    }
}

wire_struct! {
    /// `struct daedalus_resp_hello`: the daemon's capabilities.
    pub struct RespHello = "daedalus_resp_hello" {
        proto_version: u32,
        /// (major << 16) | (minor << 8) | patch
        daemon_version: u32,
        /// Mask of `Codec::bit()`.
        codecs: u32,
        /// Mask of `Pixfmt::bit()`.
        pixfmts: u32,
        max_width: u32,
        max_height: u32,
        /// `HELLO_F_*`.
        flags: u32,
        reserved: u32,
    }
}

wire_struct! {
    /// `struct daedalus_req_session_open`: a context starts streaming.
    pub struct ReqSessionOpen = "daedalus_req_session_open" {
        ctx_id: u32,
        codec: u32,
        pixfmt: u32,
        width: u32,
        height: u32,
        reserved: u32,
    }
}

wire_struct! {
    /// `struct daedalus_req_session_close`: every cookie of the context is dead.
    pub struct ReqSessionClose = "daedalus_req_session_close" {
        ctx_id: u32,
        reserved: u32,
    }
}

wire_struct! {
    /// `struct daedalus_req_decode`: one job, named by the header's cookie.
    pub struct ReqDecode = "daedalus_req_decode" {
        ctx_id: u32,
        codec: u32,
        /// `DECODE_F_*`.
        flags: u32,
        generation: u32,
        /// The OUTPUT buffer's timestamp in ns; 0 with `DECODE_F_NO_SRC`.
        timestamp: u64,
        src_index: u32,
        dst_index: u32,
        /// Bitstream bytes; unless mapped they follow the struct.
        bytes: u32,
        dst_size: u32,
        src_map: u64,
        dst_map: u64,
    }
}

wire_struct! {
    /// `struct daedalus_resp_frame`: progress of the job named by the cookie.
    pub struct RespFrame = "daedalus_resp_frame" {
        ctx_id: u32,
        /// `FRAME_*`.
        flags: u32,
        /// With HAS_PIXELS: the timestamp of the source that produced the picture.
        timestamp: u64,
        /// With HAS_PIXELS: picture bytes; unless mapped they follow the struct.
        bytesused: u32,
        generation: u32,
        reserved: [u32; 2],
    }
}

wire_struct! {
    /// `struct daedalus_resp_stream_info`: the stream's format.
    pub struct RespStreamInfo = "daedalus_resp_stream_info" {
        ctx_id: u32,
        generation: u32,
        coded_width: u32,
        coded_height: u32,
        visible_left: u32,
        visible_top: u32,
        visible_width: u32,
        visible_height: u32,
        pixfmt: u32,
        dpb_size: u32,
        reserved: [u32; 2],
    }
}

wire_struct! {
    /// `struct daedalus_req_flush`: drain the context.
    pub struct ReqFlush = "daedalus_req_flush" {
        ctx_id: u32,
        generation: u32,
    }
}

wire_struct! {
    /// `struct daedalus_req_reset`: drop all decoder state and jobs.
    pub struct ReqReset = "daedalus_req_reset" {
        ctx_id: u32,
        /// The new stream generation.
        generation: u32,
    }
}

wire_struct! {
    /// `struct daedalus_req_capture_off`: CAPTURE was streamed off; every
    /// cookie of the context issued so far is dead, the decoder state stays.
    pub struct ReqCaptureOff = "daedalus_req_capture_off" {
        ctx_id: u32,
        /// The context's stream generation, unchanged.
        generation: u32,
    }
}

wire_struct! {
    /// `struct daedalus_req_capture_fmt`: CAPTURE starts streaming with
    /// this pixel format; pictures go out in it from now on.
    pub struct ReqCaptureFmt = "daedalus_req_capture_fmt" {
        ctx_id: u32,
        /// `enum daedalus_pixfmt` of the CAPTURE format.
        pixfmt: u32,
    }
}

wire_struct! {
    /// `struct daedalus_resp_reset_done`: the answer to REQ_RESET.
    pub struct RespResetDone = "daedalus_resp_reset_done" {
        ctx_id: u32,
        generation: u32,
    }
}

wire_struct! {
    /// `struct daedalus_ping`: REQ_PING and RESP_PONG.
    pub struct Ping = "daedalus_ping" {
        seq: u32,
        reserved: u32,
    }
}

wire_struct! {
    /// `struct daedalus_resp_session_error`: the session is unusable.
    pub struct RespSessionError = "daedalus_resp_session_error" {
        ctx_id: u32,
        error: u32,
    }
}

wire_struct! {
    /// `struct v4l2_h264_dpb_entry`: a reference picture of a stateless
    /// H.264 request, named by its request's timestamp.
    pub struct H264DpbEntry = "v4l2_h264_dpb_entry" {
        reference_ts: u64,
        pic_num: u32,
        frame_num: u16,
        fields: u8,
        reserved: [u8; 5],
        top_field_order_cnt: i32,
        bottom_field_order_cnt: i32,
        /// `V4L2_H264_DPB_ENTRY_FLAG_*`.
        flags: u32,
    }
}

wire_struct! {
    /// `struct v4l2_ctrl_h264_decode_params`:
    /// `V4L2_CID_STATELESS_H264_DECODE_PARAMS`.
    pub struct H264DecodeParams = "v4l2_ctrl_h264_decode_params" {
        dpb: [H264DpbEntry; 16],
        nal_ref_idc: u16,
        frame_num: u16,
        top_field_order_cnt: i32,
        bottom_field_order_cnt: i32,
        idr_pic_id: u16,
        pic_order_cnt_lsb: u16,
        delta_pic_order_cnt_bottom: i32,
        delta_pic_order_cnt0: i32,
        delta_pic_order_cnt1: i32,
        dec_ref_pic_marking_bit_size: u32,
        pic_order_cnt_bit_size: u32,
        slice_group_change_cycle: u32,
        reserved: u32,
        /// `V4L2_H264_DECODE_PARAM_FLAG_*`.
        flags: u32,
    }
}

wire_struct! {
    /// `struct v4l2_ctrl_h264_sps`: `V4L2_CID_STATELESS_H264_SPS`.
    pub struct H264Sps = "v4l2_ctrl_h264_sps" {
        profile_idc: u8,
        /// `V4L2_H264_SPS_CONSTRAINT_SET0_FLAG` (0x01) to `SET5` (0x20).
        constraint_set_flags: u8,
        level_idc: u8,
        seq_parameter_set_id: u8,
        chroma_format_idc: u8,
        bit_depth_luma_minus8: u8,
        bit_depth_chroma_minus8: u8,
        log2_max_frame_num_minus4: u8,
        pic_order_cnt_type: u8,
        log2_max_pic_order_cnt_lsb_minus4: u8,
        max_num_ref_frames: u8,
        num_ref_frames_in_pic_order_cnt_cycle: u8,
        offset_for_ref_frame: [i32; 255],
        offset_for_non_ref_pic: i32,
        offset_for_top_to_bottom_field: i32,
        pic_width_in_mbs_minus1: u16,
        pic_height_in_map_units_minus1: u16,
        /// `V4L2_H264_SPS_FLAG_*`.
        flags: u32,
    }
}

wire_struct! {
    /// `struct v4l2_ctrl_h264_pps`: `V4L2_CID_STATELESS_H264_PPS`.
    pub struct H264Pps = "v4l2_ctrl_h264_pps" {
        pic_parameter_set_id: u8,
        seq_parameter_set_id: u8,
        num_slice_groups_minus1: u8,
        num_ref_idx_l0_default_active_minus1: u8,
        num_ref_idx_l1_default_active_minus1: u8,
        weighted_bipred_idc: u8,
        pic_init_qp_minus26: i8,
        pic_init_qs_minus26: i8,
        chroma_qp_index_offset: i8,
        second_chroma_qp_index_offset: i8,
        /// `V4L2_H264_PPS_FLAG_*`.
        flags: u16,
    }
}

wire_struct! {
    /// `struct v4l2_ctrl_h264_scaling_matrix`:
    /// `V4L2_CID_STATELESS_H264_SCALING_MATRIX`, every list in raster
    /// order; 4x4 lists Intra Y, Cb, Cr, Inter Y, Cb, Cr; 8x8 lists Intra
    /// Y, Inter Y, Intra Cb, Inter Cb, Intra Cr, Inter Cr.
    pub struct H264ScalingMatrix = "v4l2_ctrl_h264_scaling_matrix" {
        scaling_list_4x4: [[u8; 16]; 6],
        scaling_list_8x8: [[u8; 64]; 6],
    }
}

wire_struct! {
    /// `struct daedalus_h264_slice`: the controls of one stateless H.264
    /// request, first in a `CODEC_H264_SLICE` REQ_DECODE's data.
    pub struct H264Slice = "daedalus_h264_slice" {
        /// `H264_F_*`.
        flags: u32,
        /// The visible size (the OUTPUT format's).
        width: u32,
        height: u32,
        reserved: u32,
        decode_params: H264DecodeParams,
        sps: H264Sps,
        pps: H264Pps,
        /// Zero without `H264_F_SCALING_MATRIX`.
        scaling_matrix: H264ScalingMatrix,
        reserved2: [u8; 4],
    }
}

/// Every wire struct's C name and layout, for the drift check.
pub fn all_layouts() -> Vec<(&'static str, usize, Vec<FieldLayout>)> {
    fn one<T: WireStruct>() -> (&'static str, usize, Vec<FieldLayout>) {
        (T::C_NAME, T::SIZE, T::layout())
    }
    vec![
        one::<Hdr>(),
        one::<ReqHello>(),
        one::<RespHello>(),
        one::<ReqSessionOpen>(),
        one::<ReqSessionClose>(),
        one::<ReqDecode>(),
        one::<RespFrame>(),
        one::<RespStreamInfo>(),
        one::<ReqFlush>(),
        one::<ReqReset>(),
        one::<ReqCaptureOff>(),
        one::<ReqCaptureFmt>(),
        one::<RespResetDone>(),
        one::<Ping>(),
        one::<RespSessionError>(),
        one::<H264DpbEntry>(),
        one::<H264DecodeParams>(),
        one::<H264Sps>(),
        one::<H264Pps>(),
        one::<H264ScalingMatrix>(),
        one::<H264Slice>(),
    ]
}
