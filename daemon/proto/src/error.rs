//! Every way a protocol v1 buffer can be malformed, as one error type.

use crate::MsgType;

/// Why a buffer is not a valid protocol v1 message (or why a message cannot
/// be encoded). Each variant names the message type and field involved so a
/// log line is enough to find the offending side.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// Fewer bytes than the header, or than the header's payload_len says.
    #[error("truncated message: need {need} bytes, have {have}")]
    Truncated { need: usize, have: usize },
    /// Bytes after the message's declared end.
    #[error("{have} bytes for a message of {expected} bytes (header + payload_len)")]
    TrailingBytes { expected: usize, have: usize },
    #[error("bad magic {0:#010x} (expected 0x534c4444, \"DDLS\")")]
    BadMagic(u32),
    #[error("protocol version {0} (this side speaks 1)")]
    BadVersion(u16),
    #[error("unknown message type {0:#06x}")]
    UnknownType(u16),
    /// A request where a response was expected, or the reverse.
    #[error("{ty} is a {got:?}; expected a {expected:?}")]
    WrongDirection {
        ty: MsgType,
        got: crate::Direction,
        expected: crate::Direction,
    },
    #[error("payload of {len} bytes exceeds DAEDALUS_MAX_PAYLOAD ({max})")]
    PayloadTooLarge { len: u64, max: u32 },
    /// payload_len smaller than the type's fixed body.
    #[error("{ty}: payload of {have} bytes is shorter than its {need}-byte body")]
    PayloadTooShort {
        ty: MsgType,
        need: usize,
        have: usize,
    },
    /// Data after the fixed body of a type that carries none.
    #[error("{ty}: {extra} bytes after the fixed body; this type carries no data")]
    UnexpectedData { ty: MsgType, extra: usize },
    /// The trailing data does not match the length the body declares.
    #[error("{ty}: {field} says {declared} bytes but {actual} bytes of data follow")]
    DataLengthMismatch {
        ty: MsgType,
        field: &'static str,
        declared: u64,
        actual: usize,
    },
    #[error("{ty}: reserved field {field} is {value:#x}, must be zero")]
    ReservedNonZero {
        ty: MsgType,
        field: &'static str,
        value: u64,
    },
    #[error("{ty}: undefined bits {bits:#x} set in {field}")]
    UndefinedFlags {
        ty: MsgType,
        field: &'static str,
        bits: u32,
    },
    #[error("{ty}: invalid codec {value}")]
    InvalidCodec { ty: MsgType, value: u32 },
    #[error("{ty}: invalid pixel format {value}")]
    InvalidPixfmt { ty: MsgType, value: u32 },
    #[error("{ty}: invalid session error code {value}")]
    InvalidSessionError { ty: MsgType, value: u32 },
    /// A flag combination the header forbids.
    #[error("{ty}: flags {flags:#x} forbidden: {why}")]
    ForbiddenFlags {
        ty: MsgType,
        flags: u32,
        why: &'static str,
    },
    /// A field whose value the header rules out (cookie 0 for a job, a
    /// visible rectangle outside the coded size, ...).
    #[error("{ty}: {field} = {value:#x} is invalid: {why}")]
    InvalidField {
        ty: MsgType,
        field: &'static str,
        value: u64,
        why: &'static str,
    },
}
