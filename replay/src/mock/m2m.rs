//! v4l2-mem2mem (drivers/media/v4l2-core/v4l2-mem2mem.c) as it behaves:
//! per-queue ready lists of real intrusive `list_head` links with a
//! wrapping `u8 num_rdy`, `job_flags` QUEUED/RUNNING/ABORT, one
//! `curr_ctx`, `job_finish` a silent no-op for a context that is not
//! current, `buf_remove_by_buf` an unconditional `list_del` that poisons
//! the node (a second one is reported as DEBUG_LIST reports it), streamoff
//! re-initialising the ready list without completing its entries,
//! cancel_job waiting for RUNNING to clear, and `schedule_work` for the
//! next device_run after a finish. Above them, the ioctl helpers
//! (v4l2_m2m_qbuf, _streamon, _streamoff, _ctx_release) around vb2.

use std::ffi::c_void;
use std::ptr;

use super::{
    CtxState, ListHead, M2mCtx, QueueCtx, VB2_BUF_STATE_ACTIVE, Vb2Q, Vb2V4l2Buffer, World, vb2,
    with, zeroed_words,
};
use crate::core::{c_call, ffi};
use crate::driver;
use crate::oracle::{Invariant, Own};
use crate::scenario::Queue;

/// The kernel's poison values on x86_64 (POISON_POINTER_DELTA 0xdead...).
pub(crate) const LIST_POISON1: usize = 0xdead_0000_0000_0100;
pub(crate) const LIST_POISON2: usize = 0xdead_0000_0000_0122;

pub(crate) const TRANS_QUEUED: u8 = 1 << 0;
pub(crate) const TRANS_RUNNING: u8 = 1 << 1;
pub(crate) const TRANS_ABORT: u8 = 1 << 2;

impl World {
    /// `v4l2_m2m_ctx_init` for context `id`: its two queue contexts with
    /// empty ready lists, and vb2 queues of no buffers. Returns its slot.
    pub fn m2m_ctx_init(&mut self, id: u32) -> usize {
        let slot = self.ctxs.len();
        let qctx = |output| QueueCtx {
            rdy_queue: ListHead {
                next: ptr::null_mut(),
                prev: ptr::null_mut(),
            },
            num_rdy: 0,
            buffered: false,
            slot,
            output,
        };
        let mut m2m = Box::new(M2mCtx {
            out_q: qctx(true),
            cap_q: qctx(false),
            slot,
        });
        for q in [&mut m2m.out_q, &mut m2m.cap_q] {
            let head: *mut ListHead = &mut q.rdy_queue;
            q.rdy_queue.next = head;
            q.rdy_queue.prev = head;
        }
        self.ctxs.push(CtxState {
            id,
            open: true,
            m2m,
            jctx: zeroed_words(size_of::<ffi::daedalus_job_ctx>()),
            job_flags: 0,
            has_stopped: false,
            out: Vb2Q::default(),
            cap: Vb2Q::default(),
            front: zeroed_words(size_of::<ffi::daedalus_front>()),
            failed_ev: 0,
            jobs: Vec::new(),
            read_jobs: Vec::new(),
            running_jobs: 0,
            stateless: false,
            ctrl_tag: None,
        });
        slot
    }

    fn node_name(&self, p: *const ListHead) -> String {
        if p.is_null() {
            return "NULL".into();
        }
        if p as usize == LIST_POISON1 {
            return "LIST_POISON1".into();
        }
        if p as usize == LIST_POISON2 {
            return "LIST_POISON2".into();
        }
        for (i, b) in self.bufs.iter().enumerate() {
            if ptr::eq(&b.m2m.list, p) {
                return format!("[{}].list", self.info[i].name);
            }
        }
        for c in &self.ctxs {
            if ptr::eq(&c.m2m.out_q.rdy_queue, p) {
                return format!("[ctx {} OUTPUT rdy_queue]", c.id);
            }
            if ptr::eq(&c.m2m.cap_q.rdy_queue, p) {
                return format!("[ctx {} CAPTURE rdy_queue]", c.id);
            }
        }
        format!("{:#x}", p as usize)
    }

    fn is_known_node(&self, p: *const ListHead) -> bool {
        self.bufs.iter().any(|b| ptr::eq(&b.m2m.list, p))
            || self
                .ctxs
                .iter()
                .any(|c| ptr::eq(&c.m2m.out_q.rdy_queue, p) || ptr::eq(&c.m2m.cap_q.rdy_queue, p))
    }

    /// `list_del` with CONFIG_DEBUG_LIST's checks, in the kernel's order
    /// and words. On corruption the node is left alone, as the kernel does.
    pub fn list_del(&mut self, id: usize) -> bool {
        let entry: *mut ListHead = &mut self.bufs[id].m2m.list;
        // SAFETY: entry points into a live boxed buffer of this world.
        let (next, prev) = unsafe { ((*entry).next, (*entry).prev) };
        // The node's name, worded only when the kernel complains.
        let en = || self.node_name(entry);
        let bad = if next.is_null() {
            Some(format!("list_del corruption, {}->next is NULL", en()))
        } else if prev.is_null() {
            Some(format!("list_del corruption, {}->prev is NULL", en()))
        } else if next as usize == LIST_POISON1 {
            Some(format!(
                "list_del corruption, {}->next is LIST_POISON1 ({LIST_POISON1:x})",
                en()
            ))
        } else if prev as usize == LIST_POISON2 {
            Some(format!(
                "list_del corruption, {}->prev is LIST_POISON2 ({LIST_POISON2:x})",
                en()
            ))
        } else if !self.is_known_node(prev) || !self.is_known_node(next) {
            Some(format!(
                "list_del corruption, {} links to unknown memory",
                en()
            ))
        } else {
            // SAFETY: prev and next are nodes of this world (checked above).
            let (pn, np) = unsafe { ((*prev).next, (*next).prev) };
            if pn != entry {
                Some(format!(
                    "list_del corruption. prev->next should be {}, but was {}. (prev={})",
                    en(),
                    self.node_name(pn),
                    self.node_name(prev)
                ))
            } else if np != entry {
                Some(format!(
                    "list_del corruption. next->prev should be {}, but was {}. (next={})",
                    en(),
                    self.node_name(np),
                    self.node_name(next)
                ))
            } else {
                None
            }
        };
        if let Some(mut msg) = bad {
            self.note(id, format!("list_del refused: {msg}"));
            match self.info[id].own {
                Own::Parked(c) => msg.push_str(&format!(" (the buffer is parked by job {c:#x})")),
                Own::Claimed(c) => msg.push_str(&format!(" (the buffer is claimed by job {c:#x})")),
                Own::Done(_) => msg.push_str(" (the buffer is already done)"),
                _ => {}
            }
            self.violate(Invariant::ListCorruption, Some(id), msg);
            return false;
        }
        // SAFETY: the checks above proved prev and next are live nodes.
        unsafe {
            (*next).prev = prev;
            (*prev).next = next;
            (*entry).next = LIST_POISON1 as *mut ListHead;
            (*entry).prev = LIST_POISON2 as *mut ListHead;
        }
        self.info[id].linked = false;
        self.moved_to(id);
        true
    }

    pub fn qctx(&mut self, slot: usize, queue: Queue) -> *mut QueueCtx {
        let m = &mut self.ctxs[slot].m2m;
        match queue {
            Queue::Output => &mut m.out_q,
            Queue::Capture => &mut m.cap_q,
        }
    }

    /// `v4l2_m2m_buf_queue`: list_add_tail and num_rdy++.
    pub fn buf_queue(&mut self, id: usize) {
        let (slot, queue) = (self.info[id].slot, self.info[id].name.queue);
        let q = self.qctx(slot, queue);
        let entry: *mut ListHead = &mut self.bufs[id].m2m.list;
        // SAFETY: q and entry are live nodes of this world.
        unsafe {
            let head: *mut ListHead = &mut (*q).rdy_queue;
            let prev = (*head).prev;
            if (*prev).next != head || entry == prev || entry == head {
                let msg = format!("list_add corruption adding {}", self.node_name(entry));
                self.violate(Invariant::ListCorruption, Some(id), msg);
                return;
            }
            (*entry).next = head;
            (*entry).prev = prev;
            (*prev).next = entry;
            (*head).prev = entry;
            (*q).num_rdy = (*q).num_rdy.wrapping_add(1);
        }
        self.info[id].linked = true;
        self.bufs[id].m2m.vb.vb2_buf.state = VB2_BUF_STATE_ACTIVE;
        self.ctxs[slot].q(queue).owned_by_drv += 1;
        self.set_own(id, Own::Ready, "buf_queue: on the m2m ready queue");
    }

    /// Entries on a ready list, walked from its head; None when the walk
    /// does not come back to the head within the buffers that exist.
    pub fn list_len(&mut self, slot: usize, queue: Queue) -> Option<usize> {
        let q = self.qctx(slot, queue);
        let bound = self.bufs.len() + 1;
        // SAFETY: q is live; the walk follows links only while they point
        // at nodes of this world (checked), at most `bound` of them.
        unsafe {
            let head: *mut ListHead = &mut (*q).rdy_queue;
            let mut p = (*head).next;
            let mut n = 0;
            while p != head {
                if n > bound || !self.is_known_node(p) {
                    return None;
                }
                n += 1;
                p = (*p).next;
            }
            Some(n)
        }
    }

    /// Each ready queue of `slot`: its u8 `num_rdy` is its list's length
    /// (v4l2_m2m_num_*_bufs_ready and job_ready trust the counter, the
    /// buffers come from the list). `buf` is the buffer that moved last.
    pub fn check_num_rdy(&mut self, slot: usize, buf: Option<usize>, cause: &str) {
        for queue in [Queue::Output, Queue::Capture] {
            let n = self.num_rdy(slot, queue);
            let len = self.list_len(slot, queue);
            if len == Some(usize::from(n)) {
                continue;
            }
            let id = self.ctxs[slot].id;
            let list = match len {
                Some(l) => format!("its list holds {l}"),
                None => "its list does not lead back to its head".to_owned(),
            };
            let msg = format!(
                "{cause}ctx {id} {} ready queue: num_rdy={n} but {list}",
                queue.v4l2_name()
            );
            self.violate(Invariant::NumRdy, buf, msg);
            return;
        }
    }

    pub fn first_ready(&mut self, slot: usize, queue: Queue) -> Option<usize> {
        let q = self.qctx(slot, queue);
        // SAFETY: q is live; its list links only nodes of this world.
        let first = unsafe {
            let head: *mut ListHead = &mut (*q).rdy_queue;
            if (*head).next == head {
                return None;
            }
            (*head).next
        };
        self.bufs.iter().position(|b| ptr::eq(&b.m2m.list, first))
    }

    pub fn num_rdy(&mut self, slot: usize, queue: Queue) -> u8 {
        let q = self.qctx(slot, queue);
        // SAFETY: q is live.
        unsafe { (*q).num_rdy }
    }

    /// `v4l2_m2m_next_src_buf`: the first OUTPUT buffer on the ready list.
    pub fn next_src(&mut self, slot: usize) -> Option<usize> {
        self.first_ready(slot, Queue::Output)
    }

    /// daedalus_sdec_src_done(): a stateless context's OUTPUT buffer about
    /// to be done completes its request's controls of the context.
    pub fn src_done(&mut self, slot: usize, id: usize) {
        if !self.ctxs[slot].stateless {
            return;
        }
        if let Some(r) = self.buf_request(id) {
            self.ctrls_complete(r, slot);
        }
    }

    /// `v4l2_m2m_buf_remove`: first entry off the ready list.
    pub fn buf_remove(&mut self, slot: usize, queue: Queue) -> Option<usize> {
        let id = self.first_ready(slot, queue)?;
        self.list_del(id);
        let q = self.qctx(slot, queue);
        // SAFETY: q is live.
        unsafe { (*q).num_rdy = (*q).num_rdy.wrapping_sub(1) };
        Some(id)
    }

    /// __v4l2_m2m_try_queue, with the front's job_ready.
    pub fn try_queue(&mut self, slot: usize) {
        let c = &self.ctxs[slot];
        if !c.out.streaming || !c.cap.streaming {
            return;
        }
        if c.job_flags & (TRANS_ABORT | TRANS_QUEUED) != 0 {
            return;
        }
        let src = self.first_ready(slot, Queue::Output);
        let dst = self.first_ready(slot, Queue::Capture);
        let (out_buffered, cap_buffered) = {
            let m = &self.ctxs[slot].m2m;
            (m.out_q.buffered, m.cap_q.buffered)
        };
        if src.is_none() && !out_buffered {
            return;
        }
        if dst.is_none() && !cap_buffered {
            return;
        }
        if self.ctxs[slot].has_stopped {
            return;
        }
        if !self.job_ready(slot) {
            return;
        }
        self.job_queue.push_back(slot);
        self.ctxs[slot].job_flags |= TRANS_QUEUED;
    }

    /// The front's job_ready (daedalus_front_job_ready(), with the ready
    /// counts daedalus_vdec.c passes); runs under the job spinlock.
    fn job_ready(&mut self, slot: usize) -> bool {
        let src = u32::from(self.num_rdy(slot, Queue::Output));
        let dst = u32::from(self.num_rdy(slot, Queue::Capture));
        let front = self.front_ptr(slot);
        // SAFETY: the front is live; job_ready reads its flags and the job
        // core's free-slot count and calls nothing back in the mock (its
        // lock is a flag while nothing holds it).
        unsafe { c_call!(self.core, front_job_ready(front, src, dst)) }
    }

    /// Removes `slot` from the job queue (list_del of ctx->queue).
    pub fn dequeue_job(&mut self, slot: usize) {
        self.job_queue.retain(|&s| s != slot);
    }

    /// Whether the context would be queued now, if someone tried.
    pub fn would_queue(&mut self, slot: usize) -> bool {
        let c = &self.ctxs[slot];
        if !c.open || !c.out.streaming || !c.cap.streaming || c.job_flags != 0 || c.has_stopped {
            return false;
        }
        let src = self.first_ready(slot, Queue::Output).is_some();
        let dst = self.first_ready(slot, Queue::Capture).is_some();
        (src || self.ctxs[slot].m2m.out_q.buffered) && dst && self.job_ready(slot)
    }
}

// The scheduler.

/// `v4l2_m2m_try_schedule`: queue the context if job_ready says so, then
/// run the device if it is idle.
pub(crate) fn try_schedule(slot: usize) {
    with(|w| w.try_queue(slot));
    try_run();
}

/// `v4l2_m2m_try_run`, then the driver's device_run.
pub(crate) fn try_run() {
    let Some(slot) = with(|w| {
        if w.curr_ctx.is_some() {
            return None;
        }
        let slot = *w.job_queue.front()?;
        w.curr_ctx = Some(slot);
        w.ctxs[slot].job_flags |= TRANS_RUNNING;
        Some(slot)
    }) else {
        return;
    };
    driver::device_run(slot);
}

/// `v4l2_m2m_cancel_job`: a queued context leaves the job queue; a
/// running one gets the driver's job_abort, and the kernel then waits for
/// RUNNING to clear. If job_abort returns with it still set, nothing will
/// ever clear it: a hang.
pub(crate) fn cancel_job(slot: usize) {
    let running = with(|w| {
        let c = &mut w.ctxs[slot];
        c.job_flags |= TRANS_ABORT;
        if c.job_flags & TRANS_RUNNING != 0 {
            return true;
        }
        if c.job_flags & TRANS_QUEUED != 0 {
            c.job_flags &= !(TRANS_QUEUED | TRANS_RUNNING);
            w.dequeue_job(slot);
        }
        false
    });
    if !running {
        return;
    }
    driver::job_abort(slot);
    with(|w| {
        if w.ctxs[slot].job_flags & TRANS_RUNNING != 0 && w.violation.is_none() {
            let id = w.ctxs[slot].id;
            let msg = format!(
                "v4l2_m2m_cancel_job(ctx {id}): job_abort returned with the job still RUNNING; wait_event never returns"
            );
            w.violate(Invariant::Hang, None, msg);
        }
    });
}

// The ioctl helpers.

/// `v4l2_m2m_qbuf`: vb2's, then a schedule when the buffer reached the
/// driver.
pub(crate) fn qbuf(slot: usize, queue: Queue, index: u32, ts: u64, size: u32) -> Result<(), i32> {
    if vb2::qbuf(slot, queue, index, ts, size)? {
        try_schedule(slot);
    }
    Ok(())
}

/// `v4l2_m2m_qbuf` with V4L2_BUF_FLAG_REQUEST_FD: -EPERM on CAPTURE,
/// else vb2's; a buffer that went into a request schedules nothing.
pub(crate) fn qbuf_request(
    slot: usize,
    queue: Queue,
    index: u32,
    ts: u64,
    size: u32,
    req: u32,
) -> Result<(), i32> {
    if queue == Queue::Capture {
        return Err(crate::core::ffi::EPERM);
    }
    // vb2_queue_or_prepare_buf()'s index check, then the request's part.
    let id = with(|w| w.ctxs[slot].q(queue).bufs.get(index as usize).copied())
        .ok_or(crate::core::ffi::EINVAL)?;
    super::request::qbuf(slot, queue, id, req, ts, size)
}

/// `v4l2_m2m_streamon`: vb2's, then a schedule.
pub(crate) fn streamon(slot: usize, queue: Queue) -> Result<(), i32> {
    if vb2::streamon(slot, queue)? {
        try_schedule(slot);
    }
    Ok(())
}

/// `v4l2_m2m_streamoff`: cancel the job, vb2's streamoff, then forget the
/// ready list (INIT_LIST_HEAD and num_rdy = 0: whatever is still linked
/// is forgotten, not completed) and the device's current context.
pub(crate) fn streamoff(slot: usize, queue: Queue) {
    cancel_job(slot);
    vb2::queue_cancel(slot, queue);
    with(|w| {
        w.ctxs[slot].job_flags = 0;
        w.dequeue_job(slot);
        let qc = w.qctx(slot, queue);
        // SAFETY: qc is live.
        unsafe {
            let head: *mut ListHead = &mut (*qc).rdy_queue;
            (*head).next = head;
            (*head).prev = head;
            (*qc).num_rdy = 0;
        }
        for id in w.ctxs[slot].q(queue).bufs.clone() {
            w.info[id].linked = false;
            w.moved_to(id);
        }
        if w.curr_ctx == Some(slot) {
            w.curr_ctx = None;
        }
    });
}

/// `v4l2_m2m_ctx_release`: cancel the job, then vb2_queue_release of
/// CAPTURE and OUTPUT. False when the run broke on the way.
pub(crate) fn ctx_release(slot: usize) -> bool {
    cancel_job(slot);
    for q in [Queue::Capture, Queue::Output] {
        vb2::queue_cancel(slot, q);
        if super::failed() {
            return false;
        }
    }
    with(|w| {
        if w.curr_ctx == Some(slot) {
            w.curr_ctx = None;
        }
        w.dequeue_job(slot);
    });
    true
}

// The m2m API the job core calls.

/// # Safety
/// `m2m_ctx` must be a context handed to the core by this mock.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn daedalus_mock_q_ctx(m2m_ctx: *mut M2mCtx, output: bool) -> *mut QueueCtx {
    // SAFETY: per the contract, m2m_ctx is a live boxed M2mCtx.
    unsafe {
        if output {
            &mut (*m2m_ctx).out_q
        } else {
            &mut (*m2m_ctx).cap_q
        }
    }
}

fn queue_of(q: *const QueueCtx) -> (usize, Queue) {
    // SAFETY: q comes from daedalus_mock_q_ctx.
    let (slot, out) = unsafe { ((*q).slot, (*q).output) };
    (slot, if out { Queue::Output } else { Queue::Capture })
}

/// # Safety
/// `q` must come from `daedalus_mock_q_ctx`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn v4l2_m2m_next_buf(q: *mut QueueCtx) -> *mut Vb2V4l2Buffer {
    let (slot, queue) = queue_of(q);
    with(|w| match w.first_ready(slot, queue) {
        Some(id) => &mut w.bufs[id].m2m.vb as *mut Vb2V4l2Buffer,
        None => ptr::null_mut(),
    })
}

/// # Safety
/// `q` must come from `daedalus_mock_q_ctx`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn v4l2_m2m_buf_remove(q: *mut QueueCtx) -> *mut Vb2V4l2Buffer {
    let (slot, queue) = queue_of(q);
    with(|w| match w.buf_remove(slot, queue) {
        Some(id) => {
            w.note(id, "v4l2_m2m_buf_remove: off the ready queue");
            &mut w.bufs[id].m2m.vb as *mut Vb2V4l2Buffer
        }
        None => ptr::null_mut(),
    })
}

/// # Safety
/// `q` must come from `daedalus_mock_q_ctx`; `vbuf` from this mock.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn v4l2_m2m_buf_remove_by_buf(q: *mut QueueCtx, vbuf: *mut Vb2V4l2Buffer) {
    let (slot, queue) = queue_of(q);
    with(|w| {
        let Some(id) = w.buf_id(vbuf as *const c_void) else {
            w.violate(
                Invariant::ListCorruption,
                None,
                format!("list_del of unknown buffer {vbuf:p}"),
            );
            return;
        };
        let on = w.info[id].linked;
        if w.list_del(id) {
            let what = if on {
                "v4l2_m2m_buf_remove_by_buf: off the ready queue"
            } else {
                "v4l2_m2m_buf_remove_by_buf"
            };
            w.note(id, what);
        }
        let qc = w.qctx(slot, queue);
        // SAFETY: qc is live. num_rdy drops even when DEBUG_LIST refused.
        unsafe { (*qc).num_rdy = (*qc).num_rdy.wrapping_sub(1) };
        let cause = (w.info[id].name.queue != queue).then(|| {
            format!(
                "{} taken off its list with the {} queue's v4l2_m2m_buf_remove_by_buf, which counted it off that queue: ",
                w.info[id].name,
                queue.v4l2_name()
            )
        });
        if let Some(c) = &cause {
            w.note(id, c.trim_end_matches(": ").to_owned());
        }
        w.check_num_rdy(slot, Some(id), cause.as_deref().unwrap_or(""));
    })
}

/// # Safety
/// `q` must come from `daedalus_mock_q_ctx`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn daedalus_mock_num_rdy(q: *mut QueueCtx) -> u32 {
    // SAFETY: q is live.
    unsafe { (*q).num_rdy as u32 }
}

/// # Safety
/// `m2m_ctx` must be a context of this mock.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn v4l2_m2m_job_finish(_m2m_dev: *mut c_void, m2m_ctx: *mut M2mCtx) {
    // SAFETY: m2m_ctx is live.
    let slot = unsafe { (*m2m_ctx).slot };
    with(|w| {
        if w.curr_ctx != Some(slot) {
            // The kernel's dprintk("Called by an instance not currently
            // running") and nothing else: the caller thinks it finished.
            let id = w.ctxs[slot].id;
            let msg = match w.curr_ctx {
                None => {
                    format!("v4l2_m2m_job_finish for ctx {id} with no job running on the device")
                }
                Some(s) => format!(
                    "v4l2_m2m_job_finish for ctx {id} while ctx {} is the running one",
                    w.ctxs[s].id
                ),
            };
            w.violate(Invariant::JobFinishImbalance, None, msg);
            return;
        }
        w.dequeue_job(slot);
        w.ctxs[slot].job_flags &= !(TRANS_QUEUED | TRANS_RUNNING);
        w.curr_ctx = None;
        // v4l2_m2m_schedule_next_job: queue again, run from the workqueue.
        w.try_queue(slot);
        w.pending_work = true;
    })
}

#[cfg(test)]
mod tests {
    //! The mock's sharp edges, on a world of its own: no executor, no
    //! scenario.

    use super::*;
    use crate::exec::Options;
    use crate::mock::{expect_violation, install};
    use crate::scenario::Event;

    /// A device with the real job core and nothing else.
    fn world() -> World {
        let core = crate::core::lookup("real").expect("the real core");
        World::new(core, &Options::default(), vec![(1, Event::Tick { ms: 0 })])
    }

    /// An m2m context 1 with two CAPTURE buffers in the client's hands.
    fn two_capture_bufs() -> (usize, usize) {
        let slot = with(|w| w.m2m_ctx_init(1));
        vb2::alloc(slot, Queue::Capture, 2, 4096);
        with(|w| (w.ctxs[slot].cap.bufs[0], w.ctxs[slot].cap.bufs[1]))
    }

    #[test]
    fn second_list_del_hits_the_poison_like_debug_list() {
        let mut w = world();
        let g = install(&mut w);
        let (a, b) = two_capture_bufs();
        with(|w| {
            w.buf_queue(a);
            w.buf_queue(b);
            assert_eq!(w.num_rdy(0, Queue::Capture), 2);
            assert!(w.list_del(a));
            assert!(w.violation.is_none());
            assert!(!w.list_del(a));
            let v = w.violation.clone().unwrap();
            assert_eq!(v.invariant, Invariant::ListCorruption);
            assert_eq!(
                v.detail,
                "list_del corruption, [ctx 1 CAPTURE #0].list->next is LIST_POISON1 (dead000000000100)"
            );
            // The refused list_del left the list intact: b is still first.
            assert_eq!(w.first_ready(0, Queue::Capture), Some(b));
        });
        drop(g);
    }

    #[test]
    fn list_del_of_a_node_whose_neighbour_moved_reports_prev_next() {
        let mut w = world();
        let g = install(&mut w);
        let (a, b) = two_capture_bufs();
        with(|w| {
            w.buf_queue(a);
            w.buf_queue(b);
            // v4l2_m2m_streamoff's INIT_LIST_HEAD: the head forgets its
            // entries, which keep their stale links.
            let q = w.qctx(0, Queue::Capture);
            // SAFETY: q is live for the test.
            unsafe {
                let head: *mut ListHead = &mut (*q).rdy_queue;
                (*head).next = head;
                (*head).prev = head;
            }
            assert!(!w.list_del(a));
            let v = w.violation.clone().unwrap();
            assert!(
                v.detail.starts_with(
                    "list_del corruption. prev->next should be [ctx 1 CAPTURE #0].list"
                ),
                "{}",
                v.detail
            );
        });
        drop(g);
    }

    #[test]
    fn job_finish_for_a_context_not_running_is_a_silent_no_op_and_a_violation() {
        let mut w = world();
        let g = install(&mut w);
        let other = with(|w| {
            w.m2m_ctx_init(1);
            w.m2m_ctx_init(2);
            w.curr_ctx = Some(0);
            &mut *w.ctxs[1].m2m as *mut M2mCtx
        });
        // SAFETY: a context of this world.
        unsafe { v4l2_m2m_job_finish(ptr::null_mut(), other) };
        with(|w| {
            assert_eq!(w.curr_ctx, Some(0), "the running context must stay current");
            expect_violation(
                w,
                Invariant::JobFinishImbalance,
                "while ctx 1 is the running one",
            );
        });
        drop(g);
    }

    #[test]
    fn cancel_job_of_a_running_context_nobody_finishes_is_a_hang() {
        let mut w = world();
        let g = install(&mut w);
        // The driver's context, so that job_abort reaches the job core.
        driver::open(1, false);
        with(|w| {
            w.curr_ctx = Some(0);
            w.ctxs[0].job_flags |= TRANS_RUNNING;
        });
        // The core has no job to abort, so RUNNING never clears.
        cancel_job(0);
        with(|w| expect_violation(w, Invariant::Hang, "wait_event never returns"));
        drop(g);
    }

    #[test]
    fn num_rdy_is_a_wrapping_u8() {
        let mut w = world();
        let g = install(&mut w);
        let (a, _) = two_capture_bufs();
        let q = with(|w| w.qctx(0, Queue::Capture));
        let vb = with(|w| &mut w.bufs[a].m2m.vb as *mut Vb2V4l2Buffer);
        // SAFETY: q and vb belong to this world. remove_by_buf of a buffer
        // never queued: DEBUG_LIST refuses (NULL links) yet num_rdy drops.
        unsafe { v4l2_m2m_buf_remove_by_buf(q, vb) };
        with(|w| {
            assert_eq!(w.num_rdy(0, Queue::Capture), 255);
            assert!(
                w.violation
                    .as_ref()
                    .unwrap()
                    .detail
                    .contains("->next is NULL")
            );
        });
        drop(g);
    }
}
