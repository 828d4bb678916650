//! Whole messages: type, direction, validation, encode and decode.

use crate::consts::*;
use crate::error::ProtoError;
use crate::wire::*;

/// Which way a message travels, given by the high bit of its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Kernel to daemon: returned by read() on /dev/daedalus.
    Request,
    /// Daemon to kernel: passed to write() on /dev/daedalus.
    Response,
}

impl Direction {
    /// The direction of a raw type value, known or not.
    pub const fn of_raw(ty: u16) -> Self {
        if ty & MSG_RESPONSE != 0 {
            Self::Response
        } else {
            Self::Request
        }
    }
}

/// `enum daedalus_msg_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum MsgType {
    ReqHello = 0x0001,
    ReqSessionOpen = 0x0002,
    ReqSessionClose = 0x0003,
    ReqDecode = 0x0004,
    ReqFlush = 0x0005,
    ReqReset = 0x0006,
    ReqPing = 0x0007,
    ReqCaptureOff = 0x0008,
    ReqCaptureFmt = 0x0009,
    RespHello = 0x8001,
    RespFrame = 0x8002,
    RespStreamInfo = 0x8003,
    RespPong = 0x8004,
    RespSessionError = 0x8005,
    RespResetDone = 0x8006,
}

impl MsgType {
    pub const ALL: [MsgType; 15] = [
        Self::ReqHello,
        Self::ReqSessionOpen,
        Self::ReqSessionClose,
        Self::ReqDecode,
        Self::ReqFlush,
        Self::ReqReset,
        Self::ReqPing,
        Self::ReqCaptureOff,
        Self::ReqCaptureFmt,
        Self::RespHello,
        Self::RespFrame,
        Self::RespStreamInfo,
        Self::RespPong,
        Self::RespSessionError,
        Self::RespResetDone,
    ];

    pub fn from_raw(raw: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.raw() == raw)
    }

    pub const fn raw(self) -> u16 {
        self as u16
    }

    pub const fn direction(self) -> Direction {
        Direction::of_raw(self as u16)
    }

    /// The C enumerator without its `DAEDALUS_` prefix.
    pub const fn name(self) -> &'static str {
        match self {
            Self::ReqHello => "REQ_HELLO",
            Self::ReqSessionOpen => "REQ_SESSION_OPEN",
            Self::ReqSessionClose => "REQ_SESSION_CLOSE",
            Self::ReqDecode => "REQ_DECODE",
            Self::ReqFlush => "REQ_FLUSH",
            Self::ReqReset => "REQ_RESET",
            Self::ReqPing => "REQ_PING",
            Self::ReqCaptureOff => "REQ_CAPTURE_OFF",
            Self::ReqCaptureFmt => "REQ_CAPTURE_FMT",
            Self::RespHello => "RESP_HELLO",
            Self::RespFrame => "RESP_FRAME",
            Self::RespStreamInfo => "RESP_STREAM_INFO",
            Self::RespPong => "RESP_PONG",
            Self::RespSessionError => "RESP_SESSION_ERROR",
            Self::RespResetDone => "RESP_RESET_DONE",
        }
    }

    /// Size of the fixed body that follows the header.
    pub const fn body_size(self) -> usize {
        match self {
            Self::ReqHello => ReqHello::SIZE,
            Self::ReqSessionOpen => ReqSessionOpen::SIZE,
            Self::ReqSessionClose => ReqSessionClose::SIZE,
            Self::ReqDecode => ReqDecode::SIZE,
            Self::ReqFlush => ReqFlush::SIZE,
            Self::ReqReset => ReqReset::SIZE,
            Self::ReqCaptureOff => ReqCaptureOff::SIZE,
            Self::ReqCaptureFmt => ReqCaptureFmt::SIZE,
            Self::ReqPing | Self::RespPong => Ping::SIZE,
            Self::RespHello => RespHello::SIZE,
            Self::RespFrame => RespFrame::SIZE,
            Self::RespStreamInfo => RespStreamInfo::SIZE,
            Self::RespSessionError => RespSessionError::SIZE,
            Self::RespResetDone => RespResetDone::SIZE,
        }
    }

    /// Whether data may follow the fixed body.
    pub const fn carries_data(self) -> bool {
        matches!(self, Self::ReqDecode | Self::RespFrame)
    }
}

impl std::fmt::Display for MsgType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $n:expr),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum $name { $($(#[$vm])* $v = $n),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),*];

            pub fn from_raw(raw: u32) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| *v as u32 == raw)
            }

            pub const fn raw(self) -> u32 {
                self as u32
            }

            /// `DAEDALUS_*_BIT()`: this value's bit in a capability mask.
            pub const fn bit(self) -> u32 {
                1 << (self as u32)
            }

            /// Every defined value's bit.
            pub fn mask() -> u32 {
                Self::ALL.iter().fold(0, |m, v| m | v.bit())
            }
        }
    };
}

wire_enum! {
    /// `enum daedalus_codec`.
    Codec {
        H264 = 1,
        Hevc = 2,
        Vp8 = 3,
        Vp9 = 4,
        /// Stateless H.264: each job one picture, its controls
        /// (`H264Slice`) first in the REQ_DECODE's data.
        H264Slice = 5,
    }
}

wire_enum! {
    /// `enum daedalus_pixfmt`.
    Pixfmt {
        /// Y plane, then interleaved CbCr at half height.
        Nv12 = 1,
        /// Y plane, then Cb, then Cr, each chroma plane quarter size.
        Yuv420 = 2,
    }
}

wire_enum! {
    /// `enum daedalus_session_error`.
    SessionErrorCode { UnsupportedCodec = 1, UnsupportedFormat = 2, Nomem = 3, Internal = 4 }
}

/// One protocol v1 message: header fields that matter to the type, its body
/// and, for REQ_DECODE and RESP_FRAME, its inline data. A message that
/// `validate()`s encodes to exactly the bytes it was decoded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    ReqHello(ReqHello),
    ReqSessionOpen(ReqSessionOpen),
    ReqSessionClose(ReqSessionClose),
    /// `data` is the bitstream (empty with `DECODE_F_MAPPED` or
    /// `DECODE_F_NO_SRC`), after the request's controls with
    /// `Codec::H264Slice` ([`ReqDecode::controls_len`]).
    ReqDecode {
        cookie: u64,
        body: ReqDecode,
        data: Vec<u8>,
    },
    ReqFlush(ReqFlush),
    ReqReset(ReqReset),
    ReqCaptureOff(ReqCaptureOff),
    ReqCaptureFmt(ReqCaptureFmt),
    ReqPing {
        token: u64,
        body: Ping,
    },
    RespHello(RespHello),
    /// `data` is the picture (empty without HAS_PIXELS, or for a mapped job).
    RespFrame {
        cookie: u64,
        body: RespFrame,
        data: Vec<u8>,
    },
    /// `cookie` is the job whose source revealed the format, or zero.
    RespStreamInfo {
        cookie: u64,
        body: RespStreamInfo,
    },
    RespPong {
        token: u64,
        body: Ping,
    },
    RespSessionError(RespSessionError),
    RespResetDone(RespResetDone),
}

impl ReqDecode {
    /// Bytes of controls at the start of the data, before the bitstream:
    /// `struct daedalus_h264_slice` with `Codec::H264Slice`, else none.
    pub fn controls_len(&self) -> usize {
        if self.codec == Codec::H264Slice.raw() {
            H264Slice::SIZE
        } else {
            0
        }
    }
}

/// The rules of `struct daedalus_h264_slice` the protocol itself sets:
/// its flags, the visible size, zero reserved fields and no matrix
/// without its flag. What the V4L2 controls say is the decoder's to
/// judge.
fn validate_h264_slice(ty: MsgType, c: &H264Slice) -> Result<(), ProtoError> {
    let reserved = |field: &'static str, nonzero: bool, value: u64| {
        if nonzero {
            Err(ProtoError::ReservedNonZero { ty, field, value })
        } else {
            Ok(())
        }
    };
    if c.flags & !H264_FLAGS != 0 {
        return Err(ProtoError::UndefinedFlags {
            ty,
            field: "daedalus_h264_slice.flags",
            bits: c.flags & !H264_FLAGS,
        });
    }
    for (field, value) in [
        ("daedalus_h264_slice.width", c.width),
        ("daedalus_h264_slice.height", c.height),
    ] {
        if value == 0 || value > MAX_DIM {
            return Err(ProtoError::InvalidField {
                ty,
                field,
                value: value.into(),
                why: "must be 1..=DAEDALUS_MAX_DIM",
            });
        }
    }
    reserved(
        "daedalus_h264_slice.reserved",
        c.reserved != 0,
        c.reserved.into(),
    )?;
    reserved(
        "daedalus_h264_slice.reserved2",
        c.reserved2 != [0; 4],
        u32::from_le_bytes(c.reserved2).into(),
    )?;
    reserved(
        "decode_params.reserved",
        c.decode_params.reserved != 0,
        c.decode_params.reserved.into(),
    )?;
    for e in &c.decode_params.dpb {
        let mut v = [0u8; 8];
        v[..5].copy_from_slice(&e.reserved);
        reserved(
            "dpb[].reserved",
            e.reserved != [0; 5],
            u64::from_le_bytes(v),
        )?;
    }
    if c.flags & H264_F_SCALING_MATRIX == 0 && c.scaling_matrix != H264ScalingMatrix::default() {
        return Err(ProtoError::InvalidField {
            ty,
            field: "daedalus_h264_slice.scaling_matrix",
            value: 0,
            why: "must be zero without DAEDALUS_H264_F_SCALING_MATRIX",
        });
    }
    Ok(())
}

/// Size of `struct daedalus_hdr`.
pub const HDR_SIZE: usize = Hdr::SIZE;

/// Checks the header at the start of `buf` alone (magic, version, type,
/// reserved, payload limit) and returns it with the whole message's length.
/// `buf` may be shorter or longer than the message; use this to frame a
/// byte stream.
pub fn peek_header(buf: &[u8]) -> Result<(Hdr, MsgType, usize), ProtoError> {
    if buf.len() < HDR_SIZE {
        return Err(ProtoError::Truncated {
            need: HDR_SIZE,
            have: buf.len(),
        });
    }
    let hdr = Hdr::get(buf);
    if hdr.magic != PROTO_MAGIC {
        return Err(ProtoError::BadMagic(hdr.magic));
    }
    if hdr.version != PROTO_VERSION {
        return Err(ProtoError::BadVersion(hdr.version));
    }
    let ty = MsgType::from_raw(hdr.ty).ok_or(ProtoError::UnknownType(hdr.ty))?;
    if hdr.reserved != 0 {
        return Err(ProtoError::ReservedNonZero {
            ty,
            field: "hdr.reserved",
            value: hdr.reserved.into(),
        });
    }
    if hdr.payload_len > MAX_PAYLOAD {
        return Err(ProtoError::PayloadTooLarge {
            len: hdr.payload_len.into(),
            max: MAX_PAYLOAD,
        });
    }
    Ok((hdr, ty, HDR_SIZE + hdr.payload_len as usize))
}

impl Message {
    /// Decodes exactly one message occupying all of `buf` (one read() or
    /// write() of /dev/daedalus).
    pub fn decode(buf: &[u8]) -> Result<Self, ProtoError> {
        let (hdr, ty, total) = peek_header(buf)?;
        if buf.len() < total {
            return Err(ProtoError::Truncated {
                need: total,
                have: buf.len(),
            });
        }
        if buf.len() > total {
            return Err(ProtoError::TrailingBytes {
                expected: total,
                have: buf.len(),
            });
        }
        let payload = &buf[HDR_SIZE..];
        let need = ty.body_size();
        if payload.len() < need {
            return Err(ProtoError::PayloadTooShort {
                ty,
                need,
                have: payload.len(),
            });
        }
        if !ty.carries_data() && payload.len() > need {
            return Err(ProtoError::UnexpectedData {
                ty,
                extra: payload.len() - need,
            });
        }
        let data = &payload[need..];
        let cookie = hdr.cookie;
        let msg = match ty {
            MsgType::ReqHello => Self::ReqHello(ReqHello::get(payload)),
            MsgType::ReqSessionOpen => Self::ReqSessionOpen(ReqSessionOpen::get(payload)),
            MsgType::ReqSessionClose => Self::ReqSessionClose(ReqSessionClose::get(payload)),
            MsgType::ReqDecode => Self::ReqDecode {
                cookie,
                body: ReqDecode::get(payload),
                data: data.to_vec(),
            },
            MsgType::ReqFlush => Self::ReqFlush(ReqFlush::get(payload)),
            MsgType::ReqReset => Self::ReqReset(ReqReset::get(payload)),
            MsgType::ReqCaptureOff => Self::ReqCaptureOff(ReqCaptureOff::get(payload)),
            MsgType::ReqCaptureFmt => Self::ReqCaptureFmt(ReqCaptureFmt::get(payload)),
            MsgType::ReqPing => Self::ReqPing {
                token: cookie,
                body: Ping::get(payload),
            },
            MsgType::RespHello => Self::RespHello(RespHello::get(payload)),
            MsgType::RespFrame => Self::RespFrame {
                cookie,
                body: RespFrame::get(payload),
                data: data.to_vec(),
            },
            MsgType::RespStreamInfo => Self::RespStreamInfo {
                cookie,
                body: RespStreamInfo::get(payload),
            },
            MsgType::RespPong => Self::RespPong {
                token: cookie,
                body: Ping::get(payload),
            },
            MsgType::RespSessionError => Self::RespSessionError(RespSessionError::get(payload)),
            MsgType::RespResetDone => Self::RespResetDone(RespResetDone::get(payload)),
        };
        if !msg.has_cookie() && cookie != 0 {
            return Err(ProtoError::InvalidField {
                ty,
                field: "hdr.cookie",
                value: cookie,
                why: "this type carries no cookie",
            });
        }
        msg.validate()?;
        Ok(msg)
    }

    /// Decodes a message that must travel in `expected` direction.
    pub fn decode_dir(buf: &[u8], expected: Direction) -> Result<Self, ProtoError> {
        let (_, ty, _) = peek_header(buf)?;
        if ty.direction() != expected {
            return Err(ProtoError::WrongDirection {
                ty,
                got: ty.direction(),
                expected,
            });
        }
        Self::decode(buf)
    }

    pub fn ty(&self) -> MsgType {
        match self {
            Self::ReqHello(_) => MsgType::ReqHello,
            Self::ReqSessionOpen(_) => MsgType::ReqSessionOpen,
            Self::ReqSessionClose(_) => MsgType::ReqSessionClose,
            Self::ReqDecode { .. } => MsgType::ReqDecode,
            Self::ReqFlush(_) => MsgType::ReqFlush,
            Self::ReqReset(_) => MsgType::ReqReset,
            Self::ReqCaptureOff(_) => MsgType::ReqCaptureOff,
            Self::ReqCaptureFmt(_) => MsgType::ReqCaptureFmt,
            Self::ReqPing { .. } => MsgType::ReqPing,
            Self::RespHello(_) => MsgType::RespHello,
            Self::RespFrame { .. } => MsgType::RespFrame,
            Self::RespStreamInfo { .. } => MsgType::RespStreamInfo,
            Self::RespPong { .. } => MsgType::RespPong,
            Self::RespSessionError(_) => MsgType::RespSessionError,
            Self::RespResetDone(_) => MsgType::RespResetDone,
        }
    }

    pub fn direction(&self) -> Direction {
        self.ty().direction()
    }

    /// The header's cookie field: a job cookie, a ping token, or zero.
    pub fn cookie(&self) -> u64 {
        match self {
            Self::ReqDecode { cookie, .. }
            | Self::RespFrame { cookie, .. }
            | Self::RespStreamInfo { cookie, .. } => *cookie,
            Self::ReqPing { token, .. } | Self::RespPong { token, .. } => *token,
            _ => 0,
        }
    }

    fn has_cookie(&self) -> bool {
        matches!(
            self,
            Self::ReqDecode { .. }
                | Self::RespFrame { .. }
                | Self::RespStreamInfo { .. }
                | Self::ReqPing { .. }
                | Self::RespPong { .. }
        )
    }

    /// The inline data after the fixed body.
    pub fn data(&self) -> &[u8] {
        match self {
            Self::ReqDecode { data, .. } | Self::RespFrame { data, .. } => data,
            _ => &[],
        }
    }

    /// The context the message is about; `None` for HELLO and PING/PONG.
    pub fn ctx_id(&self) -> Option<u32> {
        Some(match self {
            Self::ReqSessionOpen(b) => b.ctx_id,
            Self::ReqSessionClose(b) => b.ctx_id,
            Self::ReqDecode { body, .. } => body.ctx_id,
            Self::ReqFlush(b) => b.ctx_id,
            Self::ReqReset(b) => b.ctx_id,
            Self::ReqCaptureOff(b) => b.ctx_id,
            Self::ReqCaptureFmt(b) => b.ctx_id,
            Self::RespFrame { body, .. } => body.ctx_id,
            Self::RespStreamInfo { body, .. } => body.ctx_id,
            Self::RespSessionError(b) => b.ctx_id,
            Self::RespResetDone(b) => b.ctx_id,
            Self::ReqHello(_)
            | Self::RespHello(_)
            | Self::ReqPing { .. }
            | Self::RespPong { .. } => return None,
        })
    }

    /// Every rule of the header beyond the framing: reserved fields, flag
    /// bits, enum values, flag combinations, data lengths.
    pub fn validate(&self) -> Result<(), ProtoError> {
        let ty = self.ty();
        let reserved = |field: &'static str, value: u32| {
            if value != 0 {
                Err(ProtoError::ReservedNonZero {
                    ty,
                    field,
                    value: value.into(),
                })
            } else {
                Ok(())
            }
        };
        let invalid = |field: &'static str, value: u64, why: &'static str| {
            Err(ProtoError::InvalidField {
                ty,
                field,
                value,
                why,
            })
        };
        let dim = |field: &'static str, value: u32| {
            if value == 0 || value > MAX_DIM {
                invalid(field, value.into(), "must be 1..=DAEDALUS_MAX_DIM")
            } else {
                Ok(())
            }
        };
        let ctx = |ctx_id: u32| {
            if ctx_id == 0 {
                invalid("ctx_id", 0, "context 0 never exists")
            } else {
                Ok(())
            }
        };
        let codec = |value: u32| match Codec::from_raw(value) {
            Some(_) => Ok(()),
            None => Err(ProtoError::InvalidCodec { ty, value }),
        };
        let pixfmt = |value: u32| match Pixfmt::from_raw(value) {
            Some(_) => Ok(()),
            None => Err(ProtoError::InvalidPixfmt { ty, value }),
        };
        let flags = |field: &'static str, value: u32, defined: u32| {
            if value & !defined != 0 {
                Err(ProtoError::UndefinedFlags {
                    ty,
                    field,
                    bits: value & !defined,
                })
            } else {
                Ok(())
            }
        };
        let job_cookie = |cookie: u64| {
            if cookie_gen(cookie) == 0 {
                invalid(
                    "hdr.cookie",
                    cookie,
                    "slot generations start at 1: no job has generation 0",
                )
            } else {
                Ok(())
            }
        };
        match self {
            Self::ReqHello(b) => {
                if b.proto_version != u32::from(PROTO_VERSION) {
                    return Err(ProtoError::BadVersion(
                        b.proto_version.min(u16::MAX.into()) as u16
                    ));
                }
                reserved("reserved", b.reserved)
            }
            Self::RespHello(b) => {
                if b.proto_version != u32::from(PROTO_VERSION) {
                    return Err(ProtoError::BadVersion(
                        b.proto_version.min(u16::MAX.into()) as u16
                    ));
                }
                flags("codecs", b.codecs, Codec::mask())?;
                flags("pixfmts", b.pixfmts, Pixfmt::mask())?;
                flags("flags", b.flags, HELLO_FLAGS)?;
                if b.codecs == 0 {
                    return invalid("codecs", 0, "a daemon decodes at least one codec");
                }
                if b.pixfmts == 0 {
                    return invalid("pixfmts", 0, "a daemon produces at least one format");
                }
                dim("max_width", b.max_width)?;
                dim("max_height", b.max_height)?;
                // A picture of the largest coded size fits one RESP_FRAME.
                let picture = u64::from(b.max_width.next_multiple_of(16))
                    * u64::from(b.max_height.next_multiple_of(16))
                    * 3
                    / 2;
                if picture > u64::from(MAX_PAYLOAD) - RespFrame::SIZE as u64 {
                    return invalid(
                        "max_height",
                        b.max_height.into(),
                        "a picture of max_width x max_height must fit one RESP_FRAME",
                    );
                }
                reserved("reserved", b.reserved)
            }
            Self::ReqSessionOpen(b) => {
                ctx(b.ctx_id)?;
                codec(b.codec)?;
                pixfmt(b.pixfmt)?;
                reserved("reserved", b.reserved)
            }
            Self::ReqSessionClose(b) => {
                ctx(b.ctx_id)?;
                reserved("reserved", b.reserved)
            }
            Self::ReqDecode {
                cookie,
                body: b,
                data,
            } => {
                job_cookie(*cookie)?;
                ctx(b.ctx_id)?;
                codec(b.codec)?;
                flags("flags", b.flags, DECODE_FLAGS)?;
                let controls = b.controls_len();
                if data.len() < controls {
                    return Err(ProtoError::DataLengthMismatch {
                        ty,
                        field: "daedalus_h264_slice (CODEC_H264_SLICE)",
                        declared: controls as u64,
                        actual: data.len(),
                    });
                }
                let (controls, data) = data.split_at(controls);
                if !controls.is_empty() {
                    if b.flags & DECODE_F_NO_SRC != 0 {
                        return Err(ProtoError::ForbiddenFlags {
                            ty,
                            flags: b.flags,
                            why: "a stateless request always has its OUTPUT buffer",
                        });
                    }
                    validate_h264_slice(ty, &H264Slice::get(controls))?;
                }
                if b.dst_index == NO_BUF {
                    return invalid(
                        "dst_index",
                        b.dst_index.into(),
                        "every job carries a CAPTURE buffer",
                    );
                }
                let mapped = b.flags & DECODE_F_MAPPED != 0;
                if b.flags & DECODE_F_NO_SRC != 0 {
                    if b.src_index != NO_BUF {
                        return Err(ProtoError::ForbiddenFlags {
                            ty,
                            flags: b.flags,
                            why: "NO_SRC with a src_index other than DAEDALUS_NO_BUF",
                        });
                    }
                    if b.timestamp != 0 {
                        return invalid("timestamp", b.timestamp, "must be 0 with NO_SRC");
                    }
                    if b.bytes != 0 {
                        return invalid("bytes", b.bytes.into(), "must be 0 with NO_SRC");
                    }
                    if b.src_map != 0 {
                        return invalid("src_map", b.src_map, "must be 0 with NO_SRC");
                    }
                } else if b.src_index == NO_BUF {
                    return invalid(
                        "src_index",
                        b.src_index.into(),
                        "DAEDALUS_NO_BUF needs the NO_SRC flag",
                    );
                }
                if mapped {
                    if !data.is_empty() {
                        return Err(ProtoError::DataLengthMismatch {
                            ty,
                            field: "bytes (F_MAPPED: no inline bitstream)",
                            declared: 0,
                            actual: data.len(),
                        });
                    }
                } else {
                    if b.src_map != 0 {
                        return invalid("src_map", b.src_map, "must be 0 without F_MAPPED");
                    }
                    if b.dst_map != 0 {
                        return invalid("dst_map", b.dst_map, "must be 0 without F_MAPPED");
                    }
                    if data.len() != b.bytes as usize {
                        return Err(ProtoError::DataLengthMismatch {
                            ty,
                            field: "bytes",
                            declared: b.bytes.into(),
                            actual: data.len(),
                        });
                    }
                }
                Ok(())
            }
            Self::ReqFlush(b) => ctx(b.ctx_id),
            Self::ReqReset(b) => ctx(b.ctx_id),
            Self::ReqCaptureOff(b) => ctx(b.ctx_id),
            Self::ReqCaptureFmt(b) => {
                ctx(b.ctx_id)?;
                pixfmt(b.pixfmt)
            }
            Self::ReqPing { body, .. } | Self::RespPong { body, .. } => {
                reserved("reserved", body.reserved)
            }
            Self::RespFrame {
                cookie,
                body: b,
                data,
            } => {
                job_cookie(*cookie)?;
                ctx(b.ctx_id)?;
                flags("flags", b.flags, FRAME_FLAGS)?;
                if b.flags & (FRAME_SRC_CONSUMED | FRAME_HAS_PIXELS) == 0 {
                    return Err(ProtoError::ForbiddenFlags {
                        ty,
                        flags: b.flags,
                        why: "needs SRC_CONSUMED or HAS_PIXELS",
                    });
                }
                let pixels = b.flags & FRAME_HAS_PIXELS != 0;
                if b.flags & FRAME_LAST != 0 && !pixels {
                    return Err(ProtoError::ForbiddenFlags {
                        ty,
                        flags: b.flags,
                        why: "LAST only with HAS_PIXELS",
                    });
                }
                if !pixels {
                    if b.bytesused != 0 {
                        return invalid(
                            "bytesused",
                            b.bytesused.into(),
                            "must be 0 without HAS_PIXELS",
                        );
                    }
                    if b.timestamp != 0 {
                        return invalid("timestamp", b.timestamp, "must be 0 without HAS_PIXELS");
                    }
                }
                // Empty data with bytesused > 0 is a mapped job's picture;
                // only the kernel knows whether the job was mapped.
                if !data.is_empty() && data.len() != b.bytesused as usize {
                    return Err(ProtoError::DataLengthMismatch {
                        ty,
                        field: "bytesused",
                        declared: b.bytesused.into(),
                        actual: data.len(),
                    });
                }
                reserved("reserved[0]", b.reserved[0])?;
                reserved("reserved[1]", b.reserved[1])
            }
            Self::RespStreamInfo { body: b, .. } => {
                ctx(b.ctx_id)?;
                pixfmt(b.pixfmt)?;
                dim("coded_width", b.coded_width)?;
                dim("coded_height", b.coded_height)?;
                if b.visible_width == 0 {
                    return invalid("visible_width", 0, "a picture has a size");
                }
                if b.visible_height == 0 {
                    return invalid("visible_height", 0, "a picture has a size");
                }
                if b.dpb_size == 0 || b.dpb_size > MAX_DPB {
                    return invalid(
                        "dpb_size",
                        b.dpb_size.into(),
                        "must be 1..=DAEDALUS_MAX_DPB",
                    );
                }
                if u64::from(b.visible_left) + u64::from(b.visible_width) > u64::from(b.coded_width)
                {
                    return invalid(
                        "visible_width",
                        b.visible_width.into(),
                        "visible rectangle exceeds coded_width",
                    );
                }
                if u64::from(b.visible_top) + u64::from(b.visible_height)
                    > u64::from(b.coded_height)
                {
                    return invalid(
                        "visible_height",
                        b.visible_height.into(),
                        "visible rectangle exceeds coded_height",
                    );
                }
                reserved("reserved[0]", b.reserved[0])?;
                reserved("reserved[1]", b.reserved[1])
            }
            Self::RespSessionError(b) => {
                ctx(b.ctx_id)?;
                match SessionErrorCode::from_raw(b.error) {
                    Some(_) => Ok(()),
                    None => Err(ProtoError::InvalidSessionError { ty, value: b.error }),
                }
            }
            Self::RespResetDone(b) => ctx(b.ctx_id),
        }
    }

    /// Length of the encoded message.
    pub fn encoded_len(&self) -> usize {
        HDR_SIZE + self.ty().body_size() + self.data().len()
    }

    /// Appends the message's bytes to `out` after validating it.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), ProtoError> {
        self.encode_head_into(out)?;
        out.extend_from_slice(self.data());
        Ok(())
    }

    /// Appends the header and fixed body (whose `payload_len` counts the
    /// data) after validating the message, but not the data: a sender can
    /// then write `out` and `data()` with one vectored write, without
    /// copying a picture.
    pub fn encode_head_into(&self, out: &mut Vec<u8>) -> Result<(), ProtoError> {
        self.validate()?;
        let payload = self.ty().body_size() + self.data().len();
        if payload > MAX_PAYLOAD as usize {
            return Err(ProtoError::PayloadTooLarge {
                len: payload as u64,
                max: MAX_PAYLOAD,
            });
        }
        out.reserve(HDR_SIZE + payload);
        Hdr {
            magic: PROTO_MAGIC,
            version: PROTO_VERSION,
            ty: self.ty().raw(),
            payload_len: payload as u32,
            reserved: 0,
            cookie: self.cookie(),
        }
        .put(out);
        match self {
            Self::ReqHello(b) => b.put(out),
            Self::ReqSessionOpen(b) => b.put(out),
            Self::ReqSessionClose(b) => b.put(out),
            Self::ReqDecode { body, .. } => body.put(out),
            Self::ReqFlush(b) => b.put(out),
            Self::ReqReset(b) => b.put(out),
            Self::ReqCaptureOff(b) => b.put(out),
            Self::ReqCaptureFmt(b) => b.put(out),
            Self::ReqPing { body, .. } | Self::RespPong { body, .. } => body.put(out),
            Self::RespHello(b) => b.put(out),
            Self::RespFrame { body, .. } => body.put(out),
            Self::RespStreamInfo { body, .. } => body.put(out),
            Self::RespSessionError(b) => b.put(out),
            Self::RespResetDone(b) => b.put(out),
        }
        Ok(())
    }

    /// The message's bytes, after validating it.
    pub fn encode(&self) -> Result<Vec<u8>, ProtoError> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out)?;
        Ok(out)
    }
}
