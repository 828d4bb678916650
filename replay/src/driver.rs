//! The module's glue around its real code, played in userspace: what
//! kmod/daedalus_vdec.c does between vb2, v4l2-mem2mem and the front
//! (the vb2 and m2m ops, the ioctls that reach the front, &struct
//! daedalus_front_ops) and what kmod/daedalus_chardev.c does for the job
//! core and the dispatcher (&struct daedalus_job_ops, &struct
//! daedalus_dispatch_ops). Every decision is the front's, the job core's
//! or the dispatcher's; this file only passes calls through, as the
//! module's glue does, and tells the world what went by.

use std::ffi::c_void;

use daedalus_proto::{Codec, MsgType};

use crate::core::{
    self, CoreFns, DecodeParams, DispatchOps, FrontLimits, FrontOps, JobOps, MsgHello,
    MsgStreamInfo, c_call, ffi,
};
use crate::mock::{
    self, JobModel, M2mCtx, VB2_BUF_STATE_ERROR, VB2_BUF_STATE_QUEUED, m2m, vb2, with,
};
use crate::oracle::Record;
use crate::scenario::Queue;

/// Bytes of an OUTPUT buffer: the default OUTPUT sizeimage of
/// daedalus_fill_out(), for the default DAEDALUS_DEF_WIDTH x
/// DAEDALUS_DEF_HEIGHT format (w * h * 3 / 4, above
/// DAEDALUS_MIN_BITSTREAM). Clients that fill whole buffers (v4l2-ctl,
/// v4l2-compliance) queue that much.
pub const OUTPUT_BUF_SIZE: u32 = ffi::DAEDALUS_DEF_WIDTH * ffi::DAEDALUS_DEF_HEIGHT * 3 / 4;

use crate::core::ffi::{EINVAL, ENOMEM, ENOTCONN};

// daedalus_vdec.c: a context's life.

/// daedalus_open(): v4l2_m2m_ctx_init with the queues daedalus_queue_init()
/// sets up (OUTPUT buffered, CAPTURE at most DAEDALUS_MAX_CAPTURE_BUFS),
/// then daedalus_ctx_create_kind(): the front first (a stateless node's
/// in its stateless mode), then the job core's context. A stateless
/// context's OUTPUT queue supports and requires requests. Returns the
/// context's slot.
pub(crate) fn open(id: u32, stateless: bool) -> usize {
    let (slot, fdev, core_ptr, jctx, m2m_ctx) = mock::with(|w| {
        let slot = w.m2m_ctx_init(id);
        let c = &mut w.ctxs[slot];
        // v4l2_m2m_set_src_buffered(ctx->fh.m2m_ctx, true).
        c.m2m.out_q.buffered = true;
        c.out.max_num_buffers = vb2::MAX_BUFFERS;
        c.cap.max_num_buffers = ffi::DAEDALUS_MAX_CAPTURE_BUFS;
        c.stateless = stateless;
        c.out.supports_requests = stateless;
        c.out.requires_requests = stateless;
        let m2m_ctx = (&mut *c.m2m as *mut M2mCtx).cast();
        (slot, w.fdev, w.core_ptr(), w.jctx_ptr(slot), m2m_ctx)
    });
    let (front, core) = mock::front_fns(slot);
    // SAFETY: jctx is sizeof(struct daedalus_job_ctx) of zeroes, front
    // sizeof(struct daedalus_front); both live as long as the world, as
    // FRONT_OPS does.
    unsafe {
        c_call!(
            core,
            front_init(front, fdev, jctx, &FRONT_OPS, slot as *mut c_void)
        );
        if stateless {
            c_call!(core, front_set_stateless(front));
        }
        c_call!(core, ctx_init(jctx, core_ptr, m2m_ctx, id));
    }
    slot
}

/// daedalus_release(): daedalus_ctx_destroy(): the front is told it is
/// closing, v4l2_m2m_ctx_release() cancels and releases the queues, then
/// the front cancels what the job core holds and closes the session.
/// False when the run broke on the way.
pub(crate) fn release(slot: usize) -> bool {
    let (front, core) = mock::front_fns(slot);
    // SAFETY: the front is live; no borrow of the world is held.
    unsafe { c_call!(core, front_closing(front)) };
    if !m2m::ctx_release(slot) {
        return false;
    }
    // SAFETY: as above.
    unsafe { c_call!(core, front_release(front)) };
    // Its unread requests (REQ_SESSION_CLOSE among them) outlive it.
    let (q, jctx) = mock::with(|w| (w.outq_ptr(), w.jctx_ptr(slot)));
    // SAFETY: the queue and the context are live.
    unsafe { c_call!(core, outq_forget(q, share_of(jctx))) };
    true
}

/// Jobs of the context still in the job core's in-flight table, and how
/// many of them are parked (daedalus_job_ctx_count()).
pub(crate) fn ctx_jobs_left(slot: usize) -> (u32, u32) {
    let (jctx, core) = mock::jctx_fns(slot);
    let mut parked = 0u32;
    // SAFETY: jctx is live until the world drops.
    let left = unsafe { c_call!(core, ctx_count(jctx, &mut parked)) };
    (left, parked)
}

// daedalus_vdec.c: the vb2 ops.

/// daedalus_queue_setup() of REQBUFS asking for `count`: the count it
/// allocates (REQBUFS(CAPTURE) gets at least
/// V4L2_CID_MIN_BUFFERS_FOR_CAPTURE once the stream is known, and no more
/// than the core's max_capture_bufs) and the plane size of a queue.
pub(crate) fn queue_setup(slot: usize, queue: Queue, count: u32) -> (u32, u32) {
    match queue {
        Queue::Output => (count, OUTPUT_BUF_SIZE),
        Queue::Capture => {
            let (front, core) = mock::front_fns(slot);
            // SAFETY: the front is live; REQBUFS freed the queue's buffers.
            unsafe {
                (
                    c_call!(core, front_cap_count(front, count, 0, false)),
                    c_call!(core, front_cap_sizeimage(front)),
                )
            }
        }
    }
}

/// daedalus_buf_prepare(): a CAPTURE buffer smaller than the current
/// format's sizeimage is refused.
pub(crate) fn buf_prepare(slot: usize, queue: Queue, id: usize) -> Result<(), i32> {
    if queue == Queue::Output {
        return Ok(());
    }
    let (front, core) = mock::front_fns(slot);
    // SAFETY: the front is live.
    let need = unsafe { c_call!(core, front_cap_sizeimage(front)) };
    let len = mock::with(|w| w.bufs[id].m2m.vb.vb2_buf.planes[0].length);
    if len < need { Err(EINVAL) } else { Ok(()) }
}

/// daedalus_buf_queue(): v4l2_m2m_buf_queue().
pub(crate) fn buf_queue(id: usize) {
    mock::with(|w| w.buf_queue(id));
}

/// daedalus_start_streaming(): the front's, with the OUTPUT format's
/// codec (scenarios stream H.264, as slices on the stateless node).
pub(crate) fn start_streaming(slot: usize, queue: Queue) -> Result<(), i32> {
    let (front, core) = mock::front_fns(slot);
    let codec = if mock::with(|w| w.ctxs[slot].stateless) {
        Codec::H264Slice
    } else {
        Codec::H264
    };
    // SAFETY: the front is live and no borrow of the world is held across
    // the call.
    let ret = unsafe {
        c_call!(
            core,
            front_start_streaming(front, queue == Queue::Output, codec.raw())
        )
    };
    errno_result(ret)
}

/// daedalus_stop_streaming(): the front's.
pub(crate) fn stop_streaming(slot: usize, queue: Queue) {
    let (front, core) = mock::front_fns(slot);
    // SAFETY: the front is live.
    unsafe { c_call!(core, front_stop_streaming(front, queue == Queue::Output)) };
}

// daedalus_vdec.c: the m2m ops and the ioctls that reach the front.

/// daedalus_device_run(): on a stateless context daedalus_sdec_prepare()
/// first (the request of the next OUTPUT buffer applied to the context's
/// controls), then the front's, at the device's time.
pub(crate) fn device_run(slot: usize) {
    if let Some(src) = mock::with(|w| w.ctxs[slot].stateless.then(|| w.next_src(slot)).flatten())
        && let Some(tag) = mock::request::ctrls_setup(slot, src)
    {
        mock::with(|w| w.ctxs[slot].ctrl_tag = Some(tag));
    }
    let (front, core) = mock::front_fns(slot);
    let now = mock::with(|w| w.now_ns);
    // SAFETY: the front is live; no borrow of the world is held.
    unsafe { c_call!(core, front_device_run(front, now)) };
}

/// daedalus_job_abort(): the job core's.
pub(crate) fn job_abort(slot: usize) {
    let (jctx, core) = mock::jctx_fns(slot);
    // SAFETY: jctx is live.
    unsafe { c_call!(core, abort(jctx)) };
}

/// VIDIOC_STREAMOFF: v4l2_m2m_streamoff(), then the front's
/// daedalus_front_streamoff().
pub(crate) fn streamoff(slot: usize, queue: Queue) {
    m2m::streamoff(slot, queue);
    let (front, core) = mock::front_fns(slot);
    // SAFETY: the front is live.
    unsafe { c_call!(core, front_streamoff(front)) };
}

/// VIDIOC_DECODER_CMD after v4l2-mem2mem's validation: the front's.
pub(crate) fn decoder_cmd(slot: usize, stop: bool) -> Result<(), i32> {
    let (front, core) = mock::front_fns(slot);
    let cmd = if stop {
        ffi::DAEDALUS_FRONT_CMD_STOP
    } else {
        ffi::DAEDALUS_FRONT_CMD_START
    };
    // SAFETY: the front is live.
    let ret = unsafe { c_call!(core, front_decoder_cmd(front, cmd)) };
    errno_result(ret)
}

// The front's V4L2 side (&struct daedalus_front_ops, kmod/daedalus_vdec.c
// in the module): `priv` is the context's slot.

/// What the front calls back.
static FRONT_OPS: FrontOps = FrontOps {
    send: Some(fop_send),
    limits: Some(fop_limits),
    event: Some(fop_event),
    return_ready: Some(fop_return_ready),
    queue_error: Some(fop_queue_error),
    clear_last: Some(fop_clear_last),
    streaming: Some(fop_streaming),
    try_schedule: Some(fop_try_schedule),
};

fn slot_of(priv_: *mut c_void) -> usize {
    priv_ as usize
}

/// A request's name in the outcome log: its protocol name without `REQ_`.
fn request_name(ty: MsgType) -> &'static str {
    let n = ty.name();
    n.strip_prefix("REQ_").unwrap_or(n)
}

/// The name the io log gives a request the daemon read, as the KUnit
/// executor's dr_request_name(); None for the handshake's and pings.
pub(crate) fn logged_request(ty: MsgType) -> Option<&'static str> {
    match ty {
        MsgType::ReqHello | MsgType::ReqPing => None,
        t if t.raw() < 0x8000 => Some(request_name(t)),
        _ => None,
    }
}

/// A C return of 0 or -errno as the ioctl's result.
fn errno_result(ret: i32) -> Result<(), i32> {
    if ret < 0 { Err(-ret) } else { Ok(()) }
}

/// daedalus_daemon_send(): the request encoded by the module's codec and
/// queued on the module's own queue (kmod/daedalus_outq.c), which takes it
/// from a ready daemon only and may coalesce it with what is unread;
/// `data_len` bytes of data after the body are counted, not allocated.
/// The queue's bound is checked the moment it grew.
fn daemon_send(
    share: *mut ffi::daedalus_outq_share,
    ty: u16,
    cookie: u64,
    body: *const c_void,
    body_len: u32,
    data_len: u32,
) -> i32 {
    let (q, core) = mock::outq_fns();
    // SAFETY: the body is `body_len` bytes of the caller's.
    let out = unsafe { core::daedalus_shim_out_new(ty, cookie, body, body_len, data_len) };
    if out.is_null() {
        return -ENOMEM;
    }
    let (mut ty, mut cookie, mut ctx, mut arg) = (ty, cookie, 0u32, 0u64);
    // SAFETY: `out` is the request just made.
    unsafe { core::daedalus_shim_out_fields(out, &mut ty, &mut cookie, &mut ctx, &mut arg) };
    // SAFETY: the queue is live; it owns `out` from here.
    let ret = unsafe { c_call!(core, outq_push(q, share, out)) };
    if ret == 0 {
        mock::with(|w| {
            if let Some(what) = MsgType::from_raw(ty).and_then(logged_request) {
                w.record(Record::Request {
                    ctx,
                    what,
                    cookie,
                    arg,
                });
            }
            w.rule_queue_bounded(share, ctx, ty, cookie);
        });
    }
    ret
}

/// The share of the request queue a job-core context counts against.
fn share_of(jctx: *mut ffi::daedalus_job_ctx) -> *mut ffi::daedalus_outq_share {
    // SAFETY: jctx is a live job-core context; the glue takes a field's
    // address.
    unsafe { core::daedalus_shim_share(jctx) }
}

/// daedalus_front_send() of the glue: daedalus_daemon_send() for the
/// context.
unsafe extern "C" fn fop_send(priv_: *mut c_void, ty: u16, body: *const c_void, len: u32) -> i32 {
    let jctx = mock::with(|w| w.jctx_ptr(slot_of(priv_)));
    daemon_send(share_of(jctx), ty, 0, body, len, 0)
}

/// daedalus_front_limits() of the glue: what the attached daemon's
/// RESP_HELLO announced, or the front's own limits while no daemon is.
unsafe extern "C" fn fop_limits(_priv: *mut c_void, l: *mut FrontLimits) {
    let hello = mock::with(|w| w.hello);
    match hello {
        // SAFETY: the front passes its own, writable.
        Some(h) => unsafe { *l = h },
        None => {
            let core = mock::core();
            // SAFETY: as above; the front's function only fills `l`.
            unsafe { c_call!(core, front_no_daemon(l)) };
        }
    }
}

unsafe extern "C" fn fop_event(priv_: *mut c_void, ev: ffi::daedalus_front_event) {
    let what = if ev == ffi::DAEDALUS_FRONT_EV_EOS {
        "EOS"
    } else {
        "SOURCE_CHANGE"
    };
    mock::with(|w| {
        let ctx = w.ctxs[slot_of(priv_)].id;
        w.record(Record::V4l2Event { ctx, what });
    });
}

unsafe extern "C" fn fop_return_ready(priv_: *mut c_void, output: bool, error: bool) {
    let queue = if output {
        Queue::Output
    } else {
        Queue::Capture
    };
    let state = if error {
        VB2_BUF_STATE_ERROR
    } else {
        VB2_BUF_STATE_QUEUED
    };
    return_ready(slot_of(priv_), queue, state);
}

/// vb2_queue_error() on both queues: the front failed the context.
unsafe extern "C" fn fop_queue_error(priv_: *mut c_void) {
    let slot = slot_of(priv_);
    vb2::queue_error(slot);
    mock::with(|w| w.ctxs[slot].failed_ev = w.ev);
}

unsafe extern "C" fn fop_clear_last(priv_: *mut c_void) {
    mock::with(|w| w.ctxs[slot_of(priv_)].cap.last_buffer_dequeued = false);
}

unsafe extern "C" fn fop_streaming(priv_: *mut c_void, output: bool) -> bool {
    mock::with(|w| {
        let c = &w.ctxs[slot_of(priv_)];
        if output {
            c.out.streaming
        } else {
            c.cap.streaming
        }
    })
}

unsafe extern "C" fn fop_try_schedule(priv_: *mut c_void) {
    m2m::try_schedule(slot_of(priv_));
}

/// daedalus_return_ready(): every buffer on a ready list back to vb2; a
/// stateless context's OUTPUT buffer done (not handed back QUEUED)
/// completes its request's controls first.
fn return_ready(slot: usize, queue: Queue, state: u32) {
    mock::with(|w| {
        while let Some(id) = w.buf_remove(slot, queue) {
            if w.violation.is_some() {
                return;
            }
            if queue == Queue::Output && state != VB2_BUF_STATE_QUEUED {
                w.src_done(slot, id);
            }
            let buf = w.info[id].name;
            w.record(Record::Vb2Done { buf, state });
            w.buffer_done(id, state);
        }
    });
}

// daedalus_chardev.c: the job core's callbacks (&struct daedalus_job_ops).

pub(crate) unsafe extern "C" fn op_send_decode(
    jctx: *mut ffi::daedalus_job_ctx,
    p: *mut DecodeParams,
    src: *mut ffi::vb2_v4l2_buffer,
    dst: *mut ffi::vb2_v4l2_buffer,
) -> i32 {
    // As daedalus_send_decode(): zero-copy when the daemon takes it (every
    // mock plane can be mapped), else the bitstream goes inline.
    let mapped = with(|w| w.mapped());
    if mapped {
        // SAFETY: the core passes its own params, writable.
        unsafe { (*p).flags |= daedalus_proto::DECODE_F_MAPPED };
    }
    // SAFETY: as above.
    let p = unsafe { *p };
    let data_len = if mapped || src.is_null() { 0 } else { p.bytes };
    let mut req = ffi::daedalus_req_decode::default();
    // SAFETY: both are live; the codec fills `req` from `p`.
    unsafe { core::daedalus_msg_encode_decode(&mut req, &p) };
    let ret = daemon_send(
        share_of(jctx),
        MsgType::ReqDecode.raw(),
        p.cookie,
        (&req as *const ffi::daedalus_req_decode).cast(),
        size_of::<ffi::daedalus_req_decode>() as u32,
        data_len,
    );
    if ret != 0 {
        return ret;
    }
    with(|w| {
        let Some(slot) = w.slot_of_jctx(jctx) else {
            return 0;
        };
        let src = if src.is_null() {
            None
        } else {
            w.buf_id(src.cast())
        };
        let dst = w.buf_id(dst.cast());
        let request = src.and_then(|s| w.info[s].req_name);
        if w.ctxs[slot].stateless {
            // daedalus_sdec_body(): the controls device_run applied.
            let tag = w.ctxs[slot].ctrl_tag;
            w.record(Record::Controls {
                ctx: p.ctx_id,
                cookie: p.cookie,
                tag,
            });
            w.rule_job_has_its_controls(slot, p.cookie, src, tag);
        }
        w.ctxs[slot].running_jobs += 1;
        let ev = w.ev;
        w.rule_cookie_fresh(p.ctx_id, p.cookie, dst);
        w.issued.insert(p.cookie, (p.ctx_id, ev));
        w.ctxs[slot].jobs.push(JobModel {
            cookie: p.cookie,
            src,
            dst,
            generation: p.generation,
            running: true,
            src_done: false,
            dst_done: false,
            issued_ev: ev,
            answered_ev: None,
            request,
        });
        w.contract_job_sent(p.ctx_id, src, dst);
        0
    })
}

pub(crate) unsafe extern "C" fn op_send_flush(
    jctx: *mut ffi::daedalus_job_ctx,
    generation: u32,
) -> i32 {
    let Some(ctx) = with(|w| w.slot_of_jctx(jctx).map(|s| w.ctxs[s].id)) else {
        return -ENOTCONN;
    };
    let req = ffi::daedalus_req_flush {
        ctx_id: ctx,
        generation,
    };
    daemon_send(
        share_of(jctx),
        MsgType::ReqFlush.raw(),
        0,
        (&req as *const ffi::daedalus_req_flush).cast(),
        size_of::<ffi::daedalus_req_flush>() as u32,
        0,
    )
}

/// daedalus_job_last() of the chardev: a LAST picture went out; the
/// front decides what it ends.
pub(crate) unsafe extern "C" fn op_last(jctx: *mut ffi::daedalus_job_ctx) {
    if let Some((front, core)) = front_of_jctx(jctx) {
        // SAFETY: the front of a live context; no borrow of the world is
        // held.
        unsafe { c_call!(core, front_last(front)) };
    }
}

pub(crate) unsafe extern "C" fn op_expired(jctx: *mut ffi::daedalus_job_ctx, cookie: u64) {
    with(|w| {
        if let Some(slot) = w.slot_of_jctx(jctx) {
            let ctx = w.ctxs[slot].id;
            w.record(Record::Request {
                ctx,
                what: "EXPIRED",
                cookie,
                arg: 0,
            });
            w.expired.push((ctx, cookie));
        }
    });
}

/// The job core's callbacks (&struct daedalus_job_ops of the chardev).
pub(crate) fn job_ops() -> JobOps {
    JobOps {
        send_decode: Some(op_send_decode),
        send_flush: Some(op_send_flush),
        last: Some(op_last),
        expired: Some(op_expired),
        released: None,
        src_done: Some(op_src_done),
    }
}

/// daedalus_job_src_done() of the chardev: a stateless context's OUTPUT
/// buffer about to be done completes its request's controls
/// (daedalus_sdec_src_done()).
pub(crate) unsafe extern "C" fn op_src_done(
    jctx: *mut ffi::daedalus_job_ctx,
    src: *mut ffi::vb2_v4l2_buffer,
) {
    with(|w| {
        if let (Some(slot), Some(id)) = (w.slot_of_jctx(jctx), w.buf_id(src.cast())) {
            w.src_done(slot, id);
        }
    });
}

/// vb2's buf_request_complete (daedalus_sdec_buf_request_complete()): a
/// buffer of a queued request that vb2 hands back without the driver.
pub(crate) fn buf_request_complete(slot: usize, id: usize) {
    with(|w| w.src_done(slot, id));
}

/// The media device's req_validate (daedalus_sdec_request_validate()):
/// the front's buffer count, then vb2_request_validate(), which prepares
/// each (vb2_req_prepare(): -EIO on a queue in error; an OUTPUT buffer
/// needs nothing more of daedalus_buf_prepare()).
pub(crate) fn req_validate(bufs: &[usize]) -> Result<(), i32> {
    let core = mock::core();
    // SAFETY: a pure function of its argument.
    errno_result(unsafe { c_call!(core, front_request_buffers(bufs.len() as u32)) })?;
    with(|w| {
        for &id in bufs {
            let (slot, queue) = (w.info[id].slot, w.info[id].name.queue);
            if w.ctxs[slot].q(queue).error {
                return Err(ffi::EIO);
            }
        }
        Ok(())
    })
}

// daedalus_chardev.c: the daemon's side.

/// One daemon write() through the module's dispatcher
/// (kmod/daedalus_dispatch.c), with [`DISPATCH_OPS`]: 0 or -errno.
pub(crate) fn dispatch(msg: &[u8]) -> i32 {
    let (core_ptr, core) = (mock::core_ptr(), mock::core());
    // SAFETY: the core is live; msg outlives the call; the ops only touch
    // the world, which nobody borrows across the call.
    unsafe {
        c_call!(
            core,
            dispatch(
                core_ptr,
                &DISPATCH_OPS,
                std::ptr::null_mut(),
                msg.as_ptr().cast(),
                msg.len() as _,
            )
        )
    }
}

/// daedalus_daemon_detach(): daedalus_front_daemon_gone() for every open
/// context under the context-list lock, the detach traced, then the job
/// core's detach cancels every job.
pub(crate) fn daemon_detach() {
    daemon_state(ffi::DAEDALUS_DAEMON_DETACHED);
    let (fdev, fronts) = mock::with(|w| {
        let open: Vec<usize> = (0..w.ctxs.len()).filter(|&s| w.ctxs[s].open).collect();
        (
            w.ctx_lock_ptr(),
            open.into_iter().map(|s| w.front_ptr(s)).collect::<Vec<_>>(),
        )
    });
    let core = mock::core();
    // SAFETY: fdev and the fronts are live; no borrow of the world is held
    // across the calls.
    unsafe {
        core::daedalus_shim_fdev_lock(fdev, true);
        for f in fronts {
            c_call!(core, front_daemon_gone(f));
        }
        core::daedalus_shim_fdev_lock(fdev, false);
    }
    mock::with(|w| w.record(Record::Daemon { attach: false }));
    let (q, _) = mock::outq_fns();
    // SAFETY: the queue and the core are live.
    unsafe {
        c_call!(core, outq_drop_all(q));
        c_call!(core, detach(mock::core_ptr()));
    }
}

/// daedalus_daemon_attach(): the queue takes REQ_HELLO, the first request
/// the daemon reads.
pub(crate) fn daemon_attach() {
    daemon_state(ffi::DAEDALUS_DAEMON_HELLO_WAIT);
    let hello = ffi::daedalus_req_hello {
        proto_version: daedalus_proto::PROTO_VERSION.into(),
        // SAFETY: the world's core, initialised with it; the glue only reads.
        max_contexts: unsafe { crate::core::daedalus_shim_max_contexts(mock::core_ptr()) },
        max_payload: ffi::DAEDALUS_MAX_PAYLOAD,
        ..Default::default()
    };
    daemon_send(
        std::ptr::null_mut(),
        MsgType::ReqHello.raw(),
        0,
        (&hello as *const ffi::daedalus_req_hello).cast(),
        size_of::<ffi::daedalus_req_hello>() as u32,
        0,
    );
}

/// daedalus_outq_set_state(): what the request queue takes from now on
/// (daedalus_daemon_attach(), _hello(), _detach()).
pub(crate) fn daemon_state(state: u32) {
    let (q, core) = mock::outq_fns();
    // SAFETY: the queue is live.
    unsafe { c_call!(core, outq_set_state(q, state as i32)) };
}

/// What the daemon's read() returns, one request a call, until none is
/// queued (daedalus_daemon_pop()): each goes to `read` as (type, cookie,
/// context, argument). When a read brings a context below its share of
/// the queue, every context is scheduled again, as daedalus_vdec_kick()
/// does.
pub(crate) fn daemon_read_all(mut read: impl FnMut(u16, u64, u32, u64)) {
    loop {
        let (q, core) = mock::outq_fns();
        let mut out: *mut ffi::daedalus_out = std::ptr::null_mut();
        // SAFETY: the queue is live; `out` receives the request taken.
        let n = unsafe { c_call!(core, outq_take(q, ffi::DR_MSG_MAX.into(), &mut out)) };
        if n <= 0 || out.is_null() {
            return;
        }
        let (mut ty, mut cookie, mut ctx, mut arg) = (0u16, 0u64, 0u32, 0u64);
        // SAFETY: `out` is the request taken, live until outq_done.
        unsafe { core::daedalus_shim_out_fields(out, &mut ty, &mut cookie, &mut ctx, &mut arg) };
        read(ty, cookie, ctx, arg);
        // SAFETY: as above; the queue frees it.
        let kick = unsafe { c_call!(core, outq_done(q, out, true)) };
        if kick {
            let open: Vec<usize> =
                mock::with(|w| (0..w.ctxs.len()).filter(|&s| w.ctxs[s].open).collect());
            for slot in open {
                m2m::try_schedule(slot);
            }
        }
        if mock::with(|w| w.violation.is_some()) {
            return;
        }
    }
}

/// daedalus_job_core_set_limits() of the device's core: 0 or a negative
/// errno.
pub(crate) fn set_limits(contexts: u32, capture: u32) -> i32 {
    let core = mock::core();
    // SAFETY: the core is live.
    unsafe { c_call!(core, core_set_limits(mock::core_ptr(), contexts, capture)) }
}

/// daedalus_job_watchdog(): the job core's, at `now`.
pub(crate) fn watchdog(now: u64) {
    let core = mock::core();
    // SAFETY: the core is live.
    unsafe { c_call!(core, watchdog(mock::core_ptr(), now)) };
}

/// What the dispatcher calls back.
static DISPATCH_OPS: DispatchOps = DispatchOps {
    hello: Some(op_hello),
    ready: Some(op_ready),
    ctx_get: Some(op_ctx_get),
    ctx_put: Some(op_ctx_put),
    stream_info: Some(op_stream_info),
    session_error: Some(op_session_error),
};

/// daedalus_daemon_hello(): the first RESP_HELLO of an attached daemon.
unsafe extern "C" fn op_hello(_priv: *mut c_void, h: *const MsgHello) -> i32 {
    // SAFETY: the dispatcher passes the decoded message.
    let h = unsafe { *h };
    let ret = mock::with(|w| {
        if !w.daemon_attached || w.daemon_ready() {
            return -EINVAL;
        }
        w.hello = Some(FrontLimits {
            pixfmts: h.pixfmts,
            max_width: h.max_width,
            max_height: h.max_height,
            flags: h.flags,
        });
        w.record(Record::Daemon { attach: true });
        0
    });
    if ret == 0 {
        daemon_state(ffi::DAEDALUS_DAEMON_READY);
    }
    ret
}

unsafe extern "C" fn op_ready(_priv: *mut c_void) -> bool {
    mock::with(|w| w.daemon_ready())
}

/// daedalus_daemon_ctx_get(): an open context with a session, held under
/// the context-list lock until op_ctx_put.
unsafe extern "C" fn op_ctx_get(_priv: *mut c_void, ctx_id: u32) -> *mut ffi::daedalus_job_ctx {
    let (fdev, found) = mock::with(|w| {
        let found = w
            .slot_of_id(ctx_id)
            .map(|s| (w.front_ptr(s), w.jctx_ptr(s), w.core));
        (w.ctx_lock_ptr(), found)
    });
    // SAFETY: fdev and the front are live; no borrow of the world is held.
    unsafe { core::daedalus_shim_fdev_lock(fdev, true) };
    let held = found.filter(|&(front, _, core)| {
        // SAFETY: as above.
        unsafe { c_call!(core, front_session_open(front)) }
    });
    let Some((_, jctx, _)) = held else {
        // SAFETY: as above.
        unsafe { core::daedalus_shim_fdev_lock(fdev, false) };
        return std::ptr::null_mut();
    };
    mock::with(|w| w.ctx_held += 1);
    jctx
}

unsafe extern "C" fn op_ctx_put(_priv: *mut c_void, _jctx: *mut ffi::daedalus_job_ctx) {
    let fdev = mock::with(|w| {
        w.ctx_held = w.ctx_held.saturating_sub(1);
        w.ctx_lock_ptr()
    });
    // SAFETY: fdev is live.
    unsafe { core::daedalus_shim_fdev_lock(fdev, false) };
}

/// The held context's front, and the core variant's functions.
fn front_of_jctx(
    jctx: *mut ffi::daedalus_job_ctx,
) -> Option<(*mut ffi::daedalus_front, &'static CoreFns)> {
    mock::with(|w| {
        let slot = w.slot_of_jctx(jctx)?;
        Some((w.front_ptr(slot), w.core))
    })
}

/// daedalus_daemon_stream_info(): the front's.
unsafe extern "C" fn op_stream_info(
    jctx: *mut ffi::daedalus_job_ctx,
    si: *const MsgStreamInfo,
) -> i32 {
    let Some((front, core)) = front_of_jctx(jctx) else {
        return -EINVAL;
    };
    // SAFETY: the front is live; si is the dispatcher's validated message.
    unsafe { c_call!(core, front_stream_info(front, si)) }
}

/// daedalus_daemon_session_error(): the front's.
unsafe extern "C" fn op_session_error(jctx: *mut ffi::daedalus_job_ctx, _error: u32) {
    if let Some((front, core)) = front_of_jctx(jctx) {
        // SAFETY: the front is live.
        unsafe { c_call!(core, front_session_error(front)) };
    }
}
