//! The job core's C ABI: the functions of kmod/daedalus_job.h (one table
//! per compiled variant: the real core and each mutant), the structs the
//! executor exchanges with it, and the glue that reports C-side layouts.

use std::ffi::c_void;

/// `struct daedalus_job_ops`.
#[repr(C)]
pub(crate) struct JobOps {
    pub send_decode: Option<
        unsafe extern "C" fn(*mut c_void, *mut DecodeParams, *mut c_void, *mut c_void) -> i32,
    >,
    pub send_flush: Option<unsafe extern "C" fn(*mut c_void, u32) -> i32>,
    pub last: Option<unsafe extern "C" fn(*mut c_void)>,
    pub expired: Option<unsafe extern "C" fn(*mut c_void, u64)>,
}

/// `struct daedalus_decode_params`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DecodeParams {
    pub cookie: u64,
    pub ctx_id: u32,
    pub codec: u32,
    pub flags: u32,
    pub generation: u32,
    pub timestamp: u64,
    pub src_index: u32,
    pub dst_index: u32,
    pub bytes: u32,
    pub dst_size: u32,
    pub src_map: u64,
    pub dst_map: u64,
}

/// `struct daedalus_msg_frame`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct MsgFrame {
    pub cookie: u64,
    pub ctx_id: u32,
    pub flags: u32,
    pub timestamp: u64,
    pub bytesused: u32,
    pub generation: u32,
    pub data: *const c_void,
    pub data_len: u32,
}

impl Default for MsgFrame {
    fn default() -> Self {
        MsgFrame {
            cookie: 0,
            ctx_id: 0,
            flags: 0,
            timestamp: 0,
            bytesused: 0,
            generation: 0,
            data: std::ptr::null(),
            data_len: 0,
        }
    }
}

/// One compiled job core: the real one or a mutant.
#[derive(Clone, Copy)]
pub(crate) struct CoreFns {
    pub core_init: unsafe extern "C" fn(*mut c_void, *mut c_void, *const JobOps, u64),
    pub core_destroy: unsafe extern "C" fn(*mut c_void),
    pub ctx_init: unsafe extern "C" fn(*mut c_void, *mut c_void, *mut c_void, u32),
    pub can_run: unsafe extern "C" fn(*const c_void) -> bool,
    pub run: unsafe extern "C" fn(*mut c_void, bool, u64) -> i32,
    pub frame: unsafe extern "C" fn(*mut c_void, *const MsgFrame) -> i32,
    pub flush: unsafe extern "C" fn(*mut c_void) -> i32,
    pub abort: unsafe extern "C" fn(*mut c_void),
    pub resume: unsafe extern "C" fn(*mut c_void),
    pub cancel: unsafe extern "C" fn(*mut c_void) -> u32,
    pub reset: unsafe extern "C" fn(*mut c_void) -> u32,
    pub detach: unsafe extern "C" fn(*mut c_void) -> u32,
    pub watchdog: unsafe extern "C" fn(*mut c_void, u64) -> u32,
    pub reject: unsafe extern "C" fn(*mut c_void, u32, u16, u64),
    pub ctx_count: unsafe extern "C" fn(*mut c_void, *mut u32) -> u32,
}

include!(concat!(env!("OUT_DIR"), "/cores.rs"));

unsafe extern "C" {
    pub(crate) fn daedalus_shim_layout(i: usize) -> usize;
    pub(crate) fn daedalus_shim_sizeof_core() -> usize;
    pub(crate) fn daedalus_shim_sizeof_ctx() -> usize;
    pub(crate) fn daedalus_shim_stream_gen(jctx: *const c_void) -> u32;
    pub(crate) fn daedalus_shim_ctx_set(
        jctx: *mut c_void,
        codec: u32,
        dst_min: u32,
        src_seq: u32,
        dst_seq: u32,
        which: i32,
    );
    pub(crate) fn daedalus_shim_parse(
        buf: *const u8,
        len: usize,
        ty: *mut u16,
        frame: *mut MsgFrame,
        words: *mut u32,
        reason: *mut u32,
    ) -> i32;
    pub(crate) fn daedalus_msg_reject_name(reason: u32) -> *const std::ffi::c_char;
}

/// The names of the compiled job-core variants: "real" first, then one per
/// patch under replay/mutants/.
pub fn variants() -> Vec<&'static str> {
    CORES.iter().map(|(n, _)| *n).collect()
}

pub(crate) fn lookup(name: &str) -> Option<CoreFns> {
    CORES.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// Short name of an `enum daedalus_reject` value, from the module's codec.
pub fn reject_name(reason: u32) -> &'static str {
    // SAFETY: the codec returns a pointer to a static NUL-terminated string.
    let s = unsafe { std::ffi::CStr::from_ptr(daedalus_msg_reject_name(reason)) };
    s.to_str().unwrap_or("invalid")
}
