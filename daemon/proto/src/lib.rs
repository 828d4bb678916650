//! daedalus protocol v1: the messages between `daedalus_v4l2.ko` and
//! `daedalusd` over `/dev/daedalus`, as defined by the uapi header
//! `kmod/include/uapi/linux/daedalus.h`.
//!
//! [`Message::decode`] turns one read() or write() worth of bytes into a
//! typed, validated message or a [`ProtoError`] naming what is malformed;
//! [`Message::encode`] is its exact inverse. The struct layouts live in
//! [`wire`], each checked against the C header by `tests/c_layout.rs`.

pub mod consts;
mod error;
mod message;
pub mod wire;

pub use consts::*;
pub use error::ProtoError;
pub use message::{
    Codec, Direction, HDR_SIZE, Message, MsgType, Pixfmt, SessionErrorCode, peek_header,
};
pub use wire::{
    H264DecodeParams, H264DpbEntry, H264Pps, H264ScalingMatrix, H264Slice, H264Sps, Hdr, Ping,
    ReqCaptureFmt, ReqCaptureOff, ReqDecode, ReqFlush, ReqHello, ReqReset, ReqSessionClose,
    ReqSessionOpen, RespFrame, RespHello, RespResetDone, RespSessionError, RespStreamInfo,
    WireStruct,
};
