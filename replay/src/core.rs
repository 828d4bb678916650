//! The module's C ABI: the functions of kmod/daedalus_job.h and
//! kmod/daedalus_front.h (one table per compiled variant: the real ones and
//! each mutant), the structs the executor exchanges with them, and the glue
//! that reports C-side layouts.

use std::ffi::c_void;

#[cfg(test)]
use daedalus_proto::{FRAME_SRC_CONSUMED, RespFrame};
use daedalus_proto::{HDR_SIZE, Hdr, MsgType, PROTO_MAGIC, PROTO_VERSION, WireStruct};

/// `struct daedalus_job_ops`.
#[repr(C)]
pub(crate) struct JobOps {
    pub send_decode: Option<
        unsafe extern "C" fn(*mut c_void, *mut DecodeParams, *mut c_void, *mut c_void) -> i32,
    >,
    pub send_flush: Option<unsafe extern "C" fn(*mut c_void, u32) -> i32>,
    pub last: Option<unsafe extern "C" fn(*mut c_void)>,
    pub expired: Option<unsafe extern "C" fn(*mut c_void, u64)>,
    /// Never set: the mock sends no mapped job.
    pub released: Option<unsafe extern "C" fn(*mut c_void, u64, bool)>,
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

/// `struct daedalus_msg_hello`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct MsgHello {
    pub proto_version: u32,
    pub daemon_version: u32,
    pub codecs: u32,
    pub pixfmts: u32,
    pub max_width: u32,
    pub max_height: u32,
    pub flags: u32,
}

/// `struct daedalus_msg_stream_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct MsgStreamInfo {
    pub ctx_id: u32,
    pub generation: u32,
    pub coded_width: u32,
    pub coded_height: u32,
    pub visible_left: u32,
    pub visible_top: u32,
    pub visible_width: u32,
    pub visible_height: u32,
    pub pixfmt: u32,
    pub dpb_size: u32,
}

/// `struct daedalus_dispatch_ops` (kmod/daedalus_dispatch.h): the V4L2
/// front's side of a daemon write.
#[repr(C)]
pub(crate) struct DispatchOps {
    pub hello: unsafe extern "C" fn(*mut c_void, *const MsgHello) -> i32,
    pub ready: unsafe extern "C" fn(*mut c_void) -> bool,
    pub ctx_get: unsafe extern "C" fn(*mut c_void, u32) -> *mut c_void,
    pub ctx_put: unsafe extern "C" fn(*mut c_void, *mut c_void),
    pub stream_info: unsafe extern "C" fn(*mut c_void, *const MsgStreamInfo) -> i32,
    pub session_error: unsafe extern "C" fn(*mut c_void, u32),
}

/// `struct daedalus_front_limits`: what the attached daemon announced.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FrontLimits {
    pub pixfmts: u32,
    pub max_width: u32,
    pub max_height: u32,
    pub flags: u32,
}

/// `struct daedalus_front_ops` (kmod/daedalus_front.h): the V4L2 side of
/// the decoder front, which the executor plays. `priv` is the context's
/// slot.
#[repr(C)]
pub(crate) struct FrontOps {
    pub send: unsafe extern "C" fn(*mut c_void, u16, *const c_void, u32) -> i32,
    pub limits: unsafe extern "C" fn(*mut c_void, *mut FrontLimits),
    pub event: unsafe extern "C" fn(*mut c_void, u32),
    pub return_ready: unsafe extern "C" fn(*mut c_void, bool, bool),
    pub queue_error: unsafe extern "C" fn(*mut c_void),
    pub clear_last: unsafe extern "C" fn(*mut c_void),
    pub streaming: unsafe extern "C" fn(*mut c_void, bool) -> bool,
    pub try_schedule: unsafe extern "C" fn(*mut c_void),
}

/// One compiled job core, front and dispatcher: the real ones or a mutant.
#[derive(Clone, Copy)]
pub(crate) struct CoreFns {
    pub core_init: unsafe extern "C" fn(*mut c_void, *mut c_void, *const JobOps, u64),
    pub core_destroy: unsafe extern "C" fn(*mut c_void),
    pub ctx_init: unsafe extern "C" fn(*mut c_void, *mut c_void, *mut c_void, u32),
    pub abort: unsafe extern "C" fn(*mut c_void),
    pub detach: unsafe extern "C" fn(*mut c_void) -> u32,
    pub watchdog: unsafe extern "C" fn(*mut c_void, u64) -> u32,
    pub ctx_count: unsafe extern "C" fn(*mut c_void, *mut u32) -> u32,
    pub dispatch:
        unsafe extern "C" fn(*mut c_void, *const DispatchOps, *mut c_void, *const u8, usize) -> i32,
    pub front_init:
        unsafe extern "C" fn(*mut c_void, *mut c_void, *mut c_void, *const FrontOps, *mut c_void),
    pub front_job_ready: unsafe extern "C" fn(*mut c_void, u32, u32) -> bool,
    pub front_device_run: unsafe extern "C" fn(*mut c_void, u64),
    pub front_start_streaming: unsafe extern "C" fn(*mut c_void, bool, u32) -> i32,
    pub front_stop_streaming: unsafe extern "C" fn(*mut c_void, bool),
    pub front_streamoff: unsafe extern "C" fn(*mut c_void),
    pub front_decoder_cmd: unsafe extern "C" fn(*mut c_void, u32) -> i32,
    pub front_closing: unsafe extern "C" fn(*mut c_void),
    pub front_release: unsafe extern "C" fn(*mut c_void),
    pub front_stream_info: unsafe extern "C" fn(*mut c_void, *const MsgStreamInfo) -> i32,
    pub front_session_error: unsafe extern "C" fn(*mut c_void),
    pub front_daemon_gone: unsafe extern "C" fn(*mut c_void),
    pub front_last: unsafe extern "C" fn(*mut c_void),
    pub front_cap_sizeimage: unsafe extern "C" fn(*mut c_void) -> u32,
    pub front_reqbufs_min: unsafe extern "C" fn(*mut c_void) -> u32,
    pub front_session_open: unsafe extern "C" fn(*mut c_void) -> bool,
    pub front_min_buffers: unsafe extern "C" fn(*mut c_void) -> u32,
}

include!(concat!(env!("OUT_DIR"), "/cores.rs"));

unsafe extern "C" {
    pub(crate) fn daedalus_shim_layout(i: usize) -> usize;
    pub(crate) fn daedalus_shim_sizeof_core() -> usize;
    pub(crate) fn daedalus_shim_sizeof_ctx() -> usize;
    pub(crate) fn daedalus_shim_max_capture_bufs() -> u32;
    pub(crate) fn daedalus_shim_stream_gen(jctx: *const c_void) -> u32;
    pub(crate) fn daedalus_shim_sizeof_front() -> usize;
    pub(crate) fn daedalus_shim_max_sessions() -> u32;
    pub(crate) fn daedalus_shim_sizeof_fdev() -> usize;
    pub(crate) fn daedalus_shim_fdev_init(fdev: *mut c_void) -> *mut c_void;
    pub(crate) fn daedalus_shim_fdev_lock(fdev: *mut c_void, lock: bool);
    pub(crate) fn daedalus_shim_front_flags(front: *const c_void) -> u32;
    #[cfg(test)]
    pub(crate) fn daedalus_shim_front_set_failed(front: *mut c_void);
    pub(crate) fn daedalus_shim_front_ev_eos() -> u32;
    pub(crate) fn daedalus_shim_front_cmd(stop: bool) -> u32;
    pub(crate) fn daedalus_shim_parse(
        buf: *const u8,
        len: usize,
        ty: *mut u16,
        frame: *mut MsgFrame,
        words: *mut u32,
        reason: *mut u32,
    ) -> i32;
    pub(crate) fn daedalus_msg_reject_name(reason: u32) -> *const std::ffi::c_char;
    /// The core's counters, one line (kmod/daedalus_job.h
    /// daedalus_job_stats_line()): what the KUnit executor logs too.
    pub(crate) fn daedalus_shim_stats_line(core: *const c_void, buf: *mut u8, len: usize) -> usize;
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

/// What the module's codec made of one daemon write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// The response type (`enum daedalus_msg_type`).
    pub ty: u16,
    /// The header's cookie.
    pub cookie: u64,
}

/// Runs one daemon->kernel message through the module's own validation
/// (`daedalus_msg_parse()` in kmod/daedalus_msg.c, compiled unchanged):
/// `Ok` with its type, or `Err((errno, reject reason))`. For fuzzing what a
/// hostile daemon can write.
pub fn parse_message(bytes: &[u8]) -> Result<Parsed, (i32, &'static str)> {
    let (ty, _, _) = shim_parse(bytes).map_err(|(errno, reason)| (errno, reject_name(reason)))?;
    let cookie = bytes
        .get(16..24)
        .and_then(|c| c.try_into().ok())
        .map_or(0, u64::from_le_bytes);
    Ok(Parsed { ty, cookie })
}

/// `daedalus_msg_parse()` on `bytes`: the message type, its decoded frame
/// (with `data` cleared, as it pointed into `bytes`) and the other bodies'
/// words; or the errno and `enum daedalus_reject` reason of a refusal.
pub(crate) fn shim_parse(bytes: &[u8]) -> Result<(u16, MsgFrame, [u32; 10]), (i32, u32)> {
    let (mut ty, mut frame, mut words, mut reason) = (0u16, MsgFrame::default(), [0u32; 10], 0u32);
    // SAFETY: the codec reads at most `len` bytes of `bytes` and writes only
    // through the out-pointers, all valid for the call.
    let ret = unsafe {
        daedalus_shim_parse(
            bytes.as_ptr(),
            bytes.len(),
            &mut ty,
            &mut frame,
            words.as_mut_ptr(),
            &mut reason,
        )
    };
    if ret != 0 {
        return Err((-ret, reason));
    }
    frame.data = std::ptr::null();
    Ok((ty, frame, words))
}

/// One message as a daemon writes it, laid out by daedalus-proto's wire
/// structs: `struct daedalus_hdr` (this protocol's magic and version, `ty`,
/// the payload's length, `cookie`), `body`, then `data`. Not validated: a
/// scenario's daemon may say what a hostile one would, and the module's
/// own codec judges it.
pub(crate) fn daemon_message<B: WireStruct>(
    ty: MsgType,
    cookie: u64,
    body: &B,
    data: &[u8],
) -> Vec<u8> {
    let mut b = Vec::with_capacity(HDR_SIZE + B::SIZE + data.len());
    Hdr {
        magic: PROTO_MAGIC,
        version: PROTO_VERSION,
        ty: ty.raw(),
        payload_len: (B::SIZE + data.len()) as u32,
        reserved: 0,
        cookie,
    }
    .put(&mut b);
    body.put(&mut b);
    b.extend_from_slice(data);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_modules_codec_judges_raw_writes() {
        let frame = RespFrame {
            ctx_id: 1,
            flags: FRAME_SRC_CONSUMED,
            generation: 1,
            ..RespFrame::default()
        };
        let msg = |ty, cookie| daemon_message(ty, cookie, &frame, &[]);
        let cookie = 1u64 << 32;
        let resp = MsgType::RespFrame;
        assert_eq!(
            parse_message(&msg(resp, cookie)),
            Ok(Parsed {
                ty: resp.raw(),
                cookie
            })
        );
        assert_eq!(parse_message(&msg(resp, 0)), Err((22, "field")));
        assert_eq!(parse_message(&[0u8; 3]), Err((22, "short")));
        let mut bad = msg(resp, cookie);
        bad[0] ^= 1;
        assert_eq!(parse_message(&bad), Err((71, "magic")));
        assert_eq!(
            parse_message(&msg(MsgType::ReqDecode, cookie))
                .unwrap_err()
                .1,
            "type"
        );
    }
}

#[cfg(all(test, daedalus_sanitize))]
mod sanitizer_tests {
    unsafe extern "C" {
        fn __asan_address_is_poisoned(addr: *const std::ffi::c_void) -> i32;
    }

    #[test]
    fn asan_runtime_guards_the_heap_the_c_side_uses() {
        let v: Vec<u8> = Vec::with_capacity(16);
        let p = v.as_ptr();
        // SAFETY: the query only reads ASan's shadow memory.
        let (inside, past) = unsafe {
            (
                __asan_address_is_poisoned(p.cast()),
                __asan_address_is_poisoned(p.wrapping_add(16).cast()),
            )
        };
        assert_eq!((inside, past), (0, 1), "ASan is not intercepting malloc");
    }
}
