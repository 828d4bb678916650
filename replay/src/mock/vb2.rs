//! vb2 (drivers/media/common/videobuf2/videobuf2-core.c) as the driver
//! sees it: a queue's buffers, REQBUFS through the driver's queue_setup,
//! QBUF through buf_prepare and buf_queue, DQBUF from the done list with
//! its LAST and -EPIPE, STREAMON handing queued buffers to the driver
//! before start_streaming, and __vb2_queue_cancel with its "leaving
//! buffer in active state" warning; vb2_buffer_done and the plane
//! accessors the module's code calls.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::ffi::c_void;
use std::ptr;

use super::{BufInfo, MockBuf, Note, Own, Vb2Buffer, Vb2Plane, World, failed, with};
use crate::core::ffi::{
    V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE, V4L2_FIELD_NONE,
};
use crate::driver;
use crate::oracle::{BufName, Invariant};
use crate::scenario::Queue;

pub(crate) use crate::core::ffi::{
    V4L2_BUF_FLAG_LAST, VB2_BUF_STATE_ACTIVE, VB2_BUF_STATE_DONE, VB2_BUF_STATE_ERROR,
    VB2_BUF_STATE_QUEUED,
};
/// Most buffers one queue may have (VB2_MAX_FRAME).
pub const MAX_BUFFERS: u32 = crate::core::ffi::VB2_MAX_FRAME;

pub(crate) use crate::core::ffi::EAGAIN;
use crate::core::ffi::{EBADR, EBUSY, EINVAL, EIO, EPIPE};

/// A buffer timestamp after a trip through `struct v4l2_buffer`'s
/// `timeval`: QBUF hands the driver `tv_sec * 10^9 + tv_usec * 1000`
/// (`v4l2_buffer_get_timestamp`) and DQBUF hands the client
/// `ns / 1000` microseconds (`v4l2_buffer_set_timestamp`), so whatever is
/// below a microsecond is gone.
pub const fn timeval_ns(ts: u64) -> u64 {
    ts - ts % 1000
}

/// Most bytes of plane memory kept for the next runs of a thread.
const PLANE_POOL_BYTES: usize = 256 << 20;

/// Recycled planes by size, and their bytes in all.
type PlanePool = (HashMap<usize, Vec<Vec<u8>>>, usize);

thread_local! {
    /// Plane memory of buffers that went, by size, for the next REQBUFS:
    /// a fuzzer runs thousands of scenarios a second, and a plane of a
    /// megabyte or more (OUTPUT's is 1.5 MB) allocated, faulted in,
    /// poisoned by ASan and unmapped for every buffer of every run is where
    /// its time went. What a plane held before does not matter: the core
    /// reads only what a run wrote.
    static PLANES: RefCell<PlanePool> = RefCell::new((HashMap::new(), 0));
}

/// `size` bytes of plane memory: a recycled plane of that size, else a
/// new zeroed one.
pub fn plane_mem(size: usize) -> Vec<u8> {
    PLANES
        .with(|p| {
            let (pool, bytes) = &mut *p.borrow_mut();
            let v = pool.get_mut(&size)?.pop()?;
            *bytes -= size;
            Some(v)
        })
        .unwrap_or_else(|| vec![0u8; size])
}

/// Keeps `mem` for [`plane_mem`], up to [`PLANE_POOL_BYTES`] a thread.
pub(crate) fn recycle(mem: Vec<u8>) {
    let size = mem.len();
    if size == 0 {
        return;
    }
    // During thread teardown the pool may be gone: the memory is freed.
    let _ = PLANES.try_with(|p| {
        let (pool, bytes) = &mut *p.borrow_mut();
        if *bytes + size <= PLANE_POOL_BYTES {
            *bytes += size;
            pool.entry(size).or_default().push(mem);
        }
    });
}

/// `struct vb2_queue`, what of it the driver and the oracles see.
#[derive(Default)]
pub struct Vb2Q {
    pub bufs: Vec<usize>,
    /// The driver's max_num_buffers: REQBUFS is clamped to it.
    pub max_num_buffers: u32,
    pub streaming: bool,
    pub start_streaming_called: bool,
    pub error: bool,
    pub last_buffer_dequeued: bool,
    pub done_list: VecDeque<usize>,
    pub owned_by_drv: u32,
    /// The driver's `supports_requests` and `requires_requests` (a
    /// stateless decoder's OUTPUT queue: both).
    pub supports_requests: bool,
    pub requires_requests: bool,
    /// `uses_requests` / `uses_qbuf`: the first QBUF since the queue was
    /// last cancelled went into a request, or not; mixing is -EBUSY.
    pub uses_requests: bool,
    pub uses_qbuf: bool,
}

impl World {
    /// `vb2_buffer_done`: the buffer goes to its queue's done list in
    /// `state`. vb2 warns, and does nothing else, for a buffer the driver
    /// does not own.
    pub fn buffer_done(&mut self, id: usize, state: u32) {
        let name = self.info[id].name;
        let vbstate = self.bufs[id].m2m.vb.vb2_buf.state;
        if vbstate != VB2_BUF_STATE_ACTIVE {
            let (inv, what) = match self.info[id].own {
                Own::Done(_) => (Invariant::DoubleBufDone, "second buf_done"),
                _ => (
                    Invariant::BufDoneNotActive,
                    "buf_done on a buffer the driver does not own",
                ),
            };
            let msg = format!(
                "WARNING at vb2_buffer_done: {what} on {name} (vb2 state {})",
                crate::oracle::state_name(vbstate)
            );
            self.violate(inv, Some(id), msg);
            return;
        }
        self.rule_completed_as_delivered(id, state);
        let flags = self.bufs[id].m2m.vb.flags;
        let slot = self.info[id].slot;
        self.moved += 1;
        self.changes += 1;
        self.bufs[id].m2m.vb.vb2_buf.state = state;
        self.info[id].done_flags = flags;
        let q = self.ctxs[slot].q(name.queue);
        q.owned_by_drv = q.owned_by_drv.saturating_sub(1);
        q.done_list.push_back(id);
        self.set_own(id, Own::Done(state), Note::BufDone(state));
        self.request_buffer_done(id, state);
        self.contract_buffer_done(id, flags);
    }
}

// The vb2 ioctls, as v4l2-mem2mem's helpers call them. Each returns the
// ioctl's errno; a call into the driver never holds the world.

/// `vb2_core_reqbufs`: frees what the queue had (cancelling it, which
/// also clears a queue error), clamps the count to max_num_buffers and
/// allocates what the driver's queue_setup makes of it, with its plane
/// size.
pub(crate) fn reqbufs(slot: usize, queue: Queue, count: u32) -> Result<(), i32> {
    let busy = with(|w| w.ctxs[slot].q(queue).streaming);
    if busy {
        return Err(EBUSY);
    }
    if count == 0 || with(|w| !w.ctxs[slot].q(queue).bufs.is_empty()) {
        cancel_requests(slot, queue);
    }
    let max = with(|w| {
        let q = w.ctxs[slot].q(queue);
        // A count of 0, or a queue that has buffers, goes through
        // __vb2_queue_cancel first, which also clears the queue's error
        // (vb2_queue_error from a failed session).
        if count == 0 || !q.bufs.is_empty() {
            q.error = false;
            q.uses_requests = false;
            q.uses_qbuf = false;
        }
        let ids = std::mem::take(&mut q.bufs);
        for id in ids {
            w.set_own(id, Own::Freed, "freed (REQBUFS)");
        }
        let q = w.ctxs[slot].q(queue);
        q.done_list.clear();
        q.max_num_buffers
    });
    if count == 0 {
        return Ok(());
    }
    let (n, size) = driver::queue_setup(slot, queue, count.min(max));
    alloc(slot, queue, n.min(max), size);
    Ok(())
}

/// `count` buffers of one `size`-byte plane each, in the client's hands.
pub(crate) fn alloc(slot: usize, queue: Queue, count: u32, size: u32) {
    with(|w| {
        let ctx = w.ctxs[slot].id;
        let ty = match queue {
            Queue::Output => V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE,
            Queue::Capture => V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE,
        };
        for index in 0..count {
            let id = w.bufs.len();
            let mut mem = plane_mem(size as usize);
            // SAFETY: an all-zero MockBuf is valid (null pointers, zero
            // integers, false).
            let mut b: Box<MockBuf> = Box::new(unsafe { std::mem::zeroed() });
            b.id = id;
            let vb = &mut b.m2m.vb.vb2_buf;
            vb.index = index;
            vb.type_ = ty;
            vb.memory = 1;
            vb.num_planes = 1;
            vb.planes[0].mem_priv = mem.as_mut_ptr() as *mut c_void;
            vb.planes[0].length = size;
            w.bufs.push(b);
            w.info.push(BufInfo {
                name: BufName { ctx, queue, index },
                slot,
                own: Own::Dequeued,
                linked: false,
                last_change: w.ev,
                suspect: None,
                history: Default::default(),
                _mem: mem,
                done_flags: 0,
                req: None,
                req_name: None,
                prepared: false,
            });
            w.note(id, "allocated (REQBUFS)");
            w.moved_to(id);
            w.ctxs[slot].q(queue).bufs.push(id);
        }
    });
}

/// `vb2_core_qbuf`: the buffer is the client's to queue, a source fits
/// its plane, the driver's buf_prepare takes it; once the queue streams,
/// straight on to the driver's buf_queue. Ok(true) when it went there.
pub(crate) fn qbuf(slot: usize, queue: Queue, index: u32, ts: u64, size: u32) -> Result<bool, i32> {
    let id = with(|w| {
        let id = *w.ctxs[slot]
            .q(queue)
            .bufs
            .get(index as usize)
            .ok_or(EINVAL)?;
        // vb2_queue_or_prepare_buf(): a buffer not prepared yet (the
        // client's, or one in a request not validated yet) takes the
        // client's fields again, checked: a buffer in a request keeps the
        // new payload even when the QBUF itself fails below.
        let dequeued = w.info[id].own == Own::Dequeued;
        if !w.info[id].prepared && queue == Queue::Output {
            let length = w.bufs[id].m2m.vb.vb2_buf.planes[0].length;
            if size > length {
                return Err(EINVAL);
            }
            w.bufs[id].m2m.vb.vb2_buf.planes[0].bytesused = output_bytesused(size, length);
        }
        let q = w.ctxs[slot].q(queue);
        if q.requires_requests {
            return Err(EBADR);
        }
        if q.uses_requests {
            return Err(EBUSY);
        }
        // vb2_core_qbuf().
        if q.error {
            return Err(EIO);
        }
        q.uses_qbuf = true;
        if !dequeued {
            return Err(EINVAL);
        }
        Ok(id)
    })?;
    driver::buf_prepare(slot, queue, id)?;
    let streaming = with(|w| {
        w.info[id].prepared = true;
        let b = &mut w.bufs[id].m2m.vb;
        b.flags = 0;
        b.vb2_buf.state = VB2_BUF_STATE_QUEUED;
        if queue == Queue::Output {
            // __copy_timestamp(): the client's timeval, not the scenario's
            // nanoseconds.
            b.vb2_buf.timestamp = timeval_ns(ts);
            b.vb2_buf.planes[0].bytesused = output_bytesused(size, b.vb2_buf.planes[0].length);
            b.field = V4L2_FIELD_NONE;
        } else {
            b.vb2_buf.planes[0].bytesused = 0;
        }
        w.set_own(id, Own::Queued, Note::Qbuf { ts, size });
        w.ctxs[slot].q(queue).start_streaming_called
    });
    if streaming {
        driver::buf_queue(id);
    }
    Ok(streaming)
}

/// `vb2_core_qbuf(q, vb, NULL, NULL)` of a buffer IN_REQUEST, as its
/// request is queued (vb2_req_queue()): -EIO on a queue in error (the
/// buffer stays IN_REQUEST); else QUEUED, and to the driver's buf_queue
/// once the queue streams.
pub(crate) fn qbuf_in_request(slot: usize, queue: Queue, id: usize) -> Result<(), i32> {
    let streaming = with(|w| {
        if w.ctxs[slot].q(queue).error {
            return Err(EIO);
        }
        w.bufs[id].m2m.vb.vb2_buf.state = VB2_BUF_STATE_QUEUED;
        w.set_own(id, Own::Queued, "queued with its request");
        Ok(w.ctxs[slot].q(queue).start_streaming_called)
    })?;
    if streaming {
        driver::buf_queue(id);
    }
    Ok(())
}

/// `__vb2_queue_cancel`'s loop for the buffers bound to a request: the
/// driver's buf_request_complete for one whose request is QUEUED, then
/// the buffer's object unbound (which may complete the request).
fn cancel_requests(slot: usize, queue: Queue) {
    let bound: Vec<usize> = with(|w| {
        w.ctxs[slot]
            .q(queue)
            .bufs
            .iter()
            .copied()
            .filter(|&id| w.info[id].req.is_some())
            .collect()
    });
    for id in bound {
        let queued = with(|w| {
            w.info[id]
                .req
                .is_some_and(|r| w.requests[r].state == super::request::ReqState::Queued)
        });
        if queued {
            driver::buf_request_complete(slot, id);
        }
        if failed() {
            return;
        }
        with(|w| w.unbind_buf(id));
    }
}

/// An OUTPUT plane's bytesused as vb2_fill_vb2_v4l2_buffer() takes it from
/// the client: 0 means the whole plane (the queue does not set
/// allow_zero_bytesused).
pub(crate) const fn output_bytesused(size: u32, length: u32) -> u32 {
    if size == 0 { length } else { size }
}

/// `vb2_core_dqbuf`, non-blocking: the oldest done buffer with its index,
/// LAST flag and timestamp; -EPIPE once a LAST was dequeued from CAPTURE,
/// even with buffers done since (__vb2_wait_for_done_vb() says so before
/// it looks at the done list).
pub(crate) fn dqbuf(slot: usize, queue: Queue) -> Result<(u32, bool, u64), i32> {
    with(|w| {
        let q = w.ctxs[slot].q(queue);
        if !q.streaming {
            return Err(EINVAL);
        }
        if q.error {
            return Err(EIO);
        }
        if queue == Queue::Capture && q.last_buffer_dequeued {
            return Err(EPIPE);
        }
        if let Some(id) = q.done_list.pop_front() {
            let last = w.info[id].done_flags & V4L2_BUF_FLAG_LAST != 0;
            if last && queue == Queue::Capture {
                w.ctxs[slot].cap.last_buffer_dequeued = true;
            }
            let index = w.info[id].name.index;
            let ts = timeval_ns(w.bufs[id].m2m.vb.vb2_buf.timestamp);
            w.bufs[id].m2m.vb.vb2_buf.state = 0;
            w.info[id].prepared = false;
            w.set_own(id, Own::Dequeued, "DQBUF");
            return Ok((index, last, ts));
        }
        Err(EAGAIN)
    })
}

/// `vb2_core_streamon`: queued buffers go to the driver's buf_queue
/// first, in q->queued_list order, which is QBUF order (a queued
/// buffer's last change is its QBUF), then start_streaming. When that
/// fails the driver has returned them QUEUED; vb2 takes them back and the
/// queue does not stream. Ok(false) when it streamed already.
pub(crate) fn streamon(slot: usize, queue: Queue) -> Result<bool, i32> {
    let queued = with(|w| {
        let q = w.ctxs[slot].q(queue);
        if q.bufs.is_empty() {
            return Err(EINVAL);
        }
        if q.streaming {
            return Ok(None);
        }
        q.streaming = true;
        q.start_streaming_called = true;
        q.last_buffer_dequeued = false;
        let ids = q.bufs.clone();
        let mut queued: Vec<usize> = ids
            .into_iter()
            .filter(|&id| w.info[id].own == Own::Queued)
            .collect();
        queued.sort_by_key(|&id| w.info[id].last_change);
        Ok(Some(queued))
    })?;
    let Some(queued) = queued else {
        return Ok(false);
    };
    for id in queued {
        driver::buf_queue(id);
    }
    if let Err(e) = driver::start_streaming(slot, queue) {
        with(|w| {
            let back: Vec<usize> = w.ctxs[slot]
                .q(queue)
                .bufs
                .iter()
                .copied()
                .filter(|&id| w.info[id].own == Own::Done(VB2_BUF_STATE_QUEUED))
                .collect();
            for id in back {
                w.ctxs[slot].q(queue).done_list.retain(|&d| d != id);
                w.bufs[id].m2m.vb.vb2_buf.state = VB2_BUF_STATE_QUEUED;
                w.set_own(id, Own::Queued, "back to vb2 (start_streaming failed)");
            }
            let q = w.ctxs[slot].q(queue);
            q.streaming = false;
            q.start_streaming_called = false;
        });
        return Err(e);
    }
    Ok(true)
}

/// `__vb2_queue_cancel` (STREAMOFF, REQBUFS, release): the driver's
/// stop_streaming, then vb2's own clean-up, which warns of every buffer
/// the driver left ACTIVE and takes all of them back.
pub(crate) fn queue_cancel(slot: usize, queue: Queue) {
    if with(|w| w.ctxs[slot].q(queue).start_streaming_called) {
        driver::stop_streaming(slot, queue);
    }
    if failed() {
        return;
    }
    with(|w| {
        let ids = w.ctxs[slot].q(queue).bufs.clone();
        let active: Vec<usize> = ids
            .iter()
            .copied()
            .filter(|&id| w.bufs[id].m2m.vb.vb2_buf.state == VB2_BUF_STATE_ACTIVE)
            .collect();
        if let Some(&id) = active.first() {
            let what = match w.info[id].own {
                Own::Parked(c) => format!("parked by job {c:#x}"),
                Own::Claimed(c) => format!("claimed by job {c:#x}"),
                Own::Ready => "on the ready queue".into(),
                o => format!("{o:?}"),
            };
            let msg = format!(
                "WARNING at __vb2_queue_cancel: driver bug: stop_streaming operation is leaving buffer {} in active state ({what}); {} buffer(s) in all",
                w.info[id].name,
                active.len()
            );
            w.violate(Invariant::LeftActiveAtStreamoff, Some(id), msg);
        }
    });
    if failed() {
        return;
    }
    cancel_requests(slot, queue);
    if failed() {
        return;
    }
    with(|w| {
        let ids = w.ctxs[slot].q(queue).bufs.clone();
        for id in ids {
            w.info[id].prepared = false;
            if w.info[id].own != Own::Freed {
                w.bufs[id].m2m.vb.vb2_buf.state = 0;
                w.set_own(id, Own::Dequeued, "back to the client (STREAMOFF)");
            }
        }
        let q = w.ctxs[slot].q(queue);
        q.streaming = false;
        q.start_streaming_called = false;
        q.error = false;
        q.last_buffer_dequeued = false;
        q.done_list.clear();
        q.owned_by_drv = 0;
        q.uses_requests = false;
        q.uses_qbuf = false;
    });
}

/// `vb2_queue_error`: every later QBUF and DQBUF fails with -EIO until
/// the queue is cancelled.
pub(crate) fn queue_error(slot: usize) {
    with(|w| {
        let c = &mut w.ctxs[slot];
        c.out.error = true;
        c.cap.error = true;
    });
}

// The vb2 functions the module's code calls.

fn plane<R>(
    vb: *mut Vb2Buffer,
    plane_no: u32,
    f: impl FnOnce(&mut Vb2Plane) -> R,
    default: R,
) -> R {
    // SAFETY: vb is a buffer of this mock (the core only has those).
    unsafe {
        if plane_no >= (*vb).num_planes {
            return default;
        }
        f(&mut (*vb).planes[plane_no as usize])
    }
}

/// # Safety
/// `vb` must be a buffer of this mock.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vb2_plane_vaddr(vb: *mut Vb2Buffer, plane_no: u32) -> *mut c_void {
    plane(vb, plane_no, |p| p.mem_priv, ptr::null_mut())
}

/// # Safety
/// `vb` must be a buffer of this mock.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vb2_plane_size(vb: *mut Vb2Buffer, plane_no: u32) -> std::ffi::c_ulong {
    plane(vb, plane_no, |p| p.length as std::ffi::c_ulong, 0)
}

/// # Safety
/// `vb` must be a buffer of this mock.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vb2_get_plane_payload(
    vb: *mut Vb2Buffer,
    plane_no: u32,
) -> std::ffi::c_ulong {
    plane(vb, plane_no, |p| p.bytesused as std::ffi::c_ulong, 0)
}

/// # Safety
/// `vb` must be a buffer of this mock.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vb2_set_plane_payload(
    vb: *mut Vb2Buffer,
    plane_no: u32,
    size: std::ffi::c_ulong,
) {
    plane(vb, plane_no, |p| p.bytesused = size as u32, ())
}

/// # Safety
/// `vb` must be a buffer of this mock.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vb2_buffer_done(vb: *mut Vb2Buffer, state: u32) {
    with(|w| match w.buf_id(vb as *const c_void) {
        Some(id) => w.buffer_done(id, state),
        None => w.violate(
            Invariant::BufDoneNotActive,
            None,
            format!("vb2_buffer_done on unknown buffer {vb:p}"),
        ),
    })
}
