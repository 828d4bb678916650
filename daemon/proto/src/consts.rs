//! The constants of `include/uapi/linux/daedalus.h`, by their C names'
//! meaning. `tests/c_layout.rs` compares each with the C compiler's value.

/// `DAEDALUS_PROTO_MAGIC`: "DDLS" as little-endian bytes.
pub const PROTO_MAGIC: u32 = 0x534c_4444;
/// `DAEDALUS_PROTO_VERSION`.
pub const PROTO_VERSION: u16 = 1;
/// `DAEDALUS_MAX_DIM`: the largest coded width or height any message names.
pub const MAX_DIM: u32 = 16384;
/// `DAEDALUS_MAX_DPB`: the largest DPB a stream may ask CAPTURE buffers for.
pub const MAX_DPB: u32 = 32;
/// `DAEDALUS_MAX_PAYLOAD`: the largest payload either side sends or accepts.
pub const MAX_PAYLOAD: u32 = 64 << 20;
/// `DAEDALUS_NO_BUF`: no buffer on this side of a job.
pub const NO_BUF: u32 = 0xffff_ffff;
/// `DAEDALUS_MSG_RESPONSE`: the type bit of daemon-to-kernel messages.
pub const MSG_RESPONSE: u16 = 0x8000;

/// `DAEDALUS_HELLO_F_MAPPED`: the daemon can fill mapped buffers.
pub const HELLO_F_MAPPED: u32 = 1 << 0;
/// `DAEDALUS_HELLO_F_CAPTURE_FMT`: the daemon takes REQ_CAPTURE_FMT (lays
/// pictures out in the CAPTURE format the client chose at each CAPTURE
/// STREAMON).
pub const HELLO_F_CAPTURE_FMT: u32 = 1 << 1;
/// `DAEDALUS_HELLO_FLAGS`: every defined RESP_HELLO flag.
pub const HELLO_FLAGS: u32 = HELLO_F_MAPPED | HELLO_F_CAPTURE_FMT;

/// `DAEDALUS_DECODE_F_NO_SRC`: the job carries a CAPTURE buffer only.
pub const DECODE_F_NO_SRC: u32 = 1 << 0;
/// `DAEDALUS_DECODE_F_MAPPED`: the buffers are mapped, not inline.
pub const DECODE_F_MAPPED: u32 = 1 << 1;
/// `DAEDALUS_DECODE_FLAGS`: every defined REQ_DECODE flag.
pub const DECODE_FLAGS: u32 = DECODE_F_NO_SRC | DECODE_F_MAPPED;

/// `DAEDALUS_H264_F_SCALING_MATRIX`: the request carries a scaling matrix.
pub const H264_F_SCALING_MATRIX: u32 = 1 << 0;
/// `DAEDALUS_H264_FLAGS`: every defined `daedalus_h264_slice` flag.
pub const H264_FLAGS: u32 = H264_F_SCALING_MATRIX;

/// `DAEDALUS_CODECS_BASE`: the codecs a module of the protocol's first
/// release knows; a RESP_HELLO it refuses is answered again with these.
pub const CODECS_BASE: u32 = crate::Codec::H264.bit()
    | crate::Codec::Hevc.bit()
    | crate::Codec::Vp8.bit()
    | crate::Codec::Vp9.bit();

/// `DAEDALUS_FRAME_SRC_CONSUMED`: the job's OUTPUT buffer is done.
pub const FRAME_SRC_CONSUMED: u32 = 1 << 0;
/// `DAEDALUS_FRAME_HAS_PIXELS`: the job's CAPTURE buffer is filled and done.
pub const FRAME_HAS_PIXELS: u32 = 1 << 1;
/// `DAEDALUS_FRAME_ERROR`: the buffers released by this message failed.
pub const FRAME_ERROR: u32 = 1 << 2;
/// `DAEDALUS_FRAME_LAST`: the last picture of a drain or of a format.
pub const FRAME_LAST: u32 = 1 << 3;
/// `DAEDALUS_FRAME_FLAGS`: every defined RESP_FRAME flag.
pub const FRAME_FLAGS: u32 = FRAME_SRC_CONSUMED | FRAME_HAS_PIXELS | FRAME_ERROR | FRAME_LAST;

/// `DAEDALUS_COOKIE(id, gen)`: a job cookie from its slot id and generation.
pub const fn cookie(id: u32, generation: u32) -> u64 {
    ((generation as u64) << 32) | id as u64
}

/// `DAEDALUS_COOKIE_ID(cookie)`: the in-flight slot of a cookie.
pub const fn cookie_id(cookie: u64) -> u32 {
    (cookie & 0xffff_ffff) as u32
}

/// `DAEDALUS_COOKIE_GEN(cookie)`: the slot generation of a cookie.
pub const fn cookie_gen(cookie: u64) -> u32 {
    (cookie >> 32) as u32
}
