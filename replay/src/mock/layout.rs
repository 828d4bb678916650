//! The C structures the module's code and the mock share, mirrored in
//! Rust: vb2's buffers and planes, the m2m buffer with its list link, the
//! shim's mutex, and the mock's own queue and m2m contexts (opaque to C).
//! `check_layout` holds every mirror to the C compiler's layout.

use std::ffi::c_void;
use std::mem::offset_of;

use crate::core::{DecodeParams, JobOps};

#[repr(C)]
pub struct ListHead {
    pub next: *mut ListHead,
    pub prev: *mut ListHead,
}

#[repr(C)]
pub struct Vb2Plane {
    pub mem_priv: *mut c_void,
    pub bytesused: u32,
    pub length: u32,
    pub min_length: u32,
    pub data_offset: u32,
}

#[repr(C)]
pub struct Vb2Buffer {
    pub vb2_queue: *mut c_void,
    pub index: u32,
    pub type_: u32,
    pub memory: u32,
    pub num_planes: u32,
    pub timestamp: u64,
    pub state: u32,
    pub copied_timestamp: u32,
    pub planes: [Vb2Plane; 8],
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct V4l2Timecode {
    pub type_: u32,
    pub flags: u32,
    pub frames: u8,
    pub seconds: u8,
    pub minutes: u8,
    pub hours: u8,
    pub userbits: [u8; 4],
}

#[repr(C)]
pub struct Vb2V4l2Buffer {
    pub vb2_buf: Vb2Buffer,
    pub flags: u32,
    pub field: u32,
    pub timecode: V4l2Timecode,
    pub sequence: u32,
    pub request_fd: i32,
    pub is_held: bool,
}

#[repr(C)]
pub struct M2mBuffer {
    pub vb: Vb2V4l2Buffer,
    pub list: ListHead,
}

#[repr(C)]
pub struct MutexShim {
    pub(crate) held: i32,
    initialised: i32,
}

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

pub(crate) fn check_layout() -> Result<(), String> {
    let rust = [
        size_of::<Vb2Plane>(),
        size_of::<Vb2Buffer>(),
        offset_of!(Vb2Buffer, timestamp),
        offset_of!(Vb2Buffer, state),
        offset_of!(Vb2Buffer, planes),
        size_of::<Vb2V4l2Buffer>(),
        offset_of!(Vb2V4l2Buffer, flags),
        offset_of!(Vb2V4l2Buffer, timecode),
        offset_of!(Vb2V4l2Buffer, sequence),
        offset_of!(Vb2V4l2Buffer, is_held),
        size_of::<M2mBuffer>(),
        offset_of!(M2mBuffer, list),
        size_of::<MutexShim>(),
        size_of::<crate::core::MsgFrame>(),
        offset_of!(crate::core::MsgFrame, data),
        offset_of!(crate::core::MsgFrame, data_len),
        size_of::<DecodeParams>(),
        offset_of!(DecodeParams, timestamp),
        offset_of!(DecodeParams, dst_map),
        size_of::<JobOps>(),
        size_of::<crate::core::MsgHello>(),
        size_of::<crate::core::MsgStreamInfo>(),
        size_of::<crate::core::DispatchOps>(),
        offset_of!(crate::core::DispatchOps, session_error),
        size_of::<crate::core::FrontOps>(),
        offset_of!(crate::core::FrontOps, try_schedule),
        size_of::<crate::core::FrontLimits>(),
    ];
    for (i, r) in rust.iter().enumerate() {
        // SAFETY: the glue returns a constant for any index.
        let c = unsafe { crate::core::daedalus_shim_layout(i) };
        if c != *r {
            return Err(format!("shim layout entry {i}: C says {c}, Rust says {r}"));
        }
    }
    Ok(())
}
