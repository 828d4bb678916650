//! The C structures the module's code and the mock share: vb2's buffers
//! and planes, the m2m buffer with its list link and the shim's mutex, as
//! bindgen generates them from the shim headers (core::ffi), under the
//! names the mock uses; and the mock's own queue and m2m contexts, which
//! the C side only ever holds pointers to.

pub use crate::core::ffi::{
    list_head as ListHead, mutex as MutexShim, v4l2_m2m_buffer as M2mBuffer,
    vb2_buffer as Vb2Buffer, vb2_plane as Vb2Plane, vb2_v4l2_buffer as Vb2V4l2Buffer,
};

/// A vb2 buffer as allocated by the mock: the C-visible part first.
#[repr(C)]
pub struct MockBuf {
    pub m2m: M2mBuffer,
    pub id: usize,
}

/// `struct v4l2_m2m_queue_ctx` (the mock's own layout; opaque to C).
#[repr(C)]
pub struct QueueCtx {
    pub rdy_queue: ListHead,
    pub num_rdy: u8,
    pub buffered: bool,
    pub slot: usize,
    pub output: bool,
}

/// `struct v4l2_m2m_ctx` (opaque to C).
#[repr(C)]
pub struct M2mCtx {
    pub out_q: QueueCtx,
    pub cap_q: QueueCtx,
    pub slot: usize,
}
