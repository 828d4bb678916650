//! The Request API as a stateless decoder meets it: request objects
//! (drivers/media/mc/mc-request.c), a buffer queued into a request and
//! vb2's request completion (videobuf2-core.c, videobuf2-v4l2.c),
//! v4l2_m2m_request_queue() (v4l2-mem2mem.c) and a control handler's
//! object in a request (v4l2-ctrls-request.c).
//!
//! A request holds objects: a control handler's (one a context, bound by
//! S_EXT_CTRLS into the request, or by the driver's completion when the
//! client set none) and buffers (bound by QBUF into the request). It is
//! IDLE until MEDIA_REQUEST_IOC_QUEUE validates and queues it, then
//! QUEUED until its last incomplete object completes: a buffer's when
//! vb2_buffer_done() unbinds it (any state but QUEUED), a handler's when
//! the driver calls v4l2_ctrl_request_complete(). Then it is COMPLETE, and
//! a client polling its file descriptor wakes (EPOLLPRI).

use super::{Own, World, with};
use crate::core::ffi::{EBADF, EBADR, EBUSY, EINVAL, EIO, VB2_BUF_STATE_QUEUED};
use crate::driver;
use crate::oracle::{Invariant, Record};
use crate::scenario::Queue;

/// `enum media_request_state`, the states a scenario can observe between
/// two calls (VALIDATING, UPDATING and CLEANING last one call).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReqState {
    Idle,
    Queued,
    Complete,
}

/// A control handler's object in a request: the values S_EXT_CTRLS put
/// there, known by their tag (the request's name in the decode
/// parameters, see [`ctrl_tag`]).
#[derive(Clone, Copy, Debug)]
pub struct CtrlObj {
    /// The context whose handler it belongs to.
    pub slot: usize,
    /// The values' tag; None for an object the driver's completion bound
    /// to a request the client set no control in.
    pub tag: Option<u32>,
    /// `hdl->request_is_queued`: the request was queued with it, and the
    /// driver has not completed it yet.
    pub queued: bool,
    pub completed: bool,
}

/// `struct media_request`, as much of it as a client or a driver sees.
#[derive(Debug)]
pub struct Request {
    /// The scenario's name for it (its file descriptor).
    pub name: u32,
    pub state: ReqState,
    /// The file descriptor is open (a closed one leaves the request alive
    /// while a buffer or the queue holds it).
    pub open: bool,
    /// Buffers bound (`vb->req_obj.req` is this request), by id.
    pub bufs: Vec<usize>,
    /// Control handler objects, in binding order.
    pub ctrls: Vec<CtrlObj>,
    /// The event that queued it.
    pub queued_ev: usize,
    /// The event during which its buffer was done (its object unbound),
    /// and the buffer.
    pub buf_done: Option<(usize, usize)>,
    /// `req->num_incomplete_objects`, counted as the media core counts
    /// it: one up per object bound, one down per object completed and
    /// per object unbound (completed or not) while not COMPLETE.
    pub incomplete: u32,
}

/// The tag of the controls `ctrls ctx=N req=R` sets: the request's name,
/// which the KUnit executor writes into the decode parameters'
/// `top_field_order_cnt`.
pub const fn ctrl_tag(req: u32) -> u32 {
    req
}

impl World {
    /// The live request a scenario name stands for (its fd is open).
    pub fn req_by_name(&self, name: u32) -> Option<usize> {
        self.requests.iter().rposition(|r| r.open && r.name == name)
    }

    /// A buffer's request, as `vb->req_obj.req`.
    pub fn buf_request(&self, id: usize) -> Option<usize> {
        self.info[id].req
    }

    /// `media_request_object_unbind()` of a buffer (vb2_buffer_done(), or
    /// __vb2_queue_cancel() after the driver's buf_request_complete for a
    /// QUEUED request): the request loses an incomplete object and
    /// completes when it was the last.
    pub(crate) fn unbind_buf(&mut self, id: usize) {
        let Some(r) = self.info[id].req.take() else {
            return;
        };
        self.requests[r].bufs.retain(|&b| b != id);
        if self.requests[r].state == ReqState::Queued {
            self.requests[r].buf_done.get_or_insert((self.ev, id));
        }
        self.unbound(r, "a buffer");
    }

    /// media_request_object_unbind()'s count: nothing once COMPLETE, else
    /// one object less (with a WARN when none was counted), and COMPLETE
    /// when a QUEUED request reaches none.
    fn unbound(&mut self, r: usize, what: &str) {
        let req = &mut self.requests[r];
        if req.state == ReqState::Complete {
            return;
        }
        if req.incomplete == 0 {
            let name = req.name;
            self.request_warn(
                r,
                format!(
                    "WARNING at media_request_object_unbind: {what} left request {name}, which counted no incomplete object"
                ),
            );
            return;
        }
        req.incomplete -= 1;
        self.maybe_complete(r);
    }

    /// The request's last object completed: COMPLETE, its poll wakes.
    fn maybe_complete(&mut self, r: usize) {
        let req = &mut self.requests[r];
        if req.state == ReqState::Queued && req.incomplete == 0 {
            req.state = ReqState::Complete;
            let name = req.name;
            self.record(Record::ReqDone { req: name });
            self.rule_request_after_its_picture(r);
        }
    }

    /// `vb2_buffer_done()`'s part for a buffer of a request: in any state
    /// but QUEUED its object is unbound.
    pub(crate) fn request_buffer_done(&mut self, id: usize, state: u32) {
        if state != VB2_BUF_STATE_QUEUED {
            self.unbind_buf(id);
        }
    }

    /// `v4l2_ctrl_request_complete(req, hdl)` of context `slot`: its
    /// handler's object completes (bound first when the client set no
    /// control in the request; media_request_object_bind() refuses that,
    /// with a WARN, once the request is not QUEUED).
    pub(crate) fn ctrls_complete(&mut self, r: usize, slot: usize) {
        let state = self.requests[r].state;
        let name = self.requests[r].name;
        let found = self.requests[r].ctrls.iter().position(|c| c.slot == slot);
        let i = match found {
            Some(i) if !self.requests[r].ctrls[i].queued => {
                self.request_warn(
                    r,
                    format!(
                        "WARNING at v4l2_ctrl_request_complete: the controls of request {name} completed a second time (request_is_queued is false)"
                    ),
                );
                return;
            }
            Some(i) => i,
            None => {
                if state != ReqState::Queued {
                    self.request_warn(
                        r,
                        format!(
                            "WARNING at media_request_object_bind: the controls of request {name} completed once it was {state:?}: the request completed without them"
                        ),
                    );
                    return;
                }
                self.bind_ctrls(r, slot, true)
            }
        };
        self.requests[r].ctrls[i].queued = false;
        if self.requests[r].ctrls[i].completed {
            return;
        }
        self.requests[r].ctrls[i].completed = true;
        if state != ReqState::Queued || self.requests[r].incomplete == 0 {
            self.request_warn(
                r,
                format!(
                    "WARNING at media_request_object_complete: request {name} is {state:?} with {} incomplete object(s)",
                    self.requests[r].incomplete
                ),
            );
            return;
        }
        self.requests[r].incomplete -= 1;
        self.maybe_complete(r);
    }

    /// v4l2_ctrls_find_req_obj() or v4l2_ctrl_request_bind(): context
    /// `slot`'s control object bound to the request, no value set in it;
    /// its index.
    fn bind_ctrls(&mut self, r: usize, slot: usize, queued: bool) -> usize {
        let req = &mut self.requests[r];
        req.ctrls.push(CtrlObj {
            slot,
            tag: None,
            queued,
            completed: false,
        });
        req.incomplete += 1;
        req.ctrls.len() - 1
    }

    fn request_warn(&mut self, r: usize, msg: String) {
        let buf = self.requests[r].bufs.first().copied();
        self.violate(Invariant::RequestRules, buf, msg);
    }
}

/// The control values `v4l2_ctrl_request_setup()` applies for a device_run
/// whose next OUTPUT buffer is `src`: the tag of its request's object of
/// that context, once per request (None when there is nothing to apply).
pub(crate) fn ctrls_setup(slot: usize, src: usize) -> Option<u32> {
    with(|w| {
        let r = w.info[src].req?;
        let req = &w.requests[r];
        if req.state != ReqState::Queued {
            return None;
        }
        let obj = req.ctrls.iter().find(|c| c.slot == slot)?;
        if obj.completed {
            return None;
        }
        obj.tag
    })
}

// The client's calls.

/// MEDIA_IOC_REQUEST_ALLOC, the new file descriptor named `name`. A name
/// still open is the scenario's mistake: -EINVAL, nothing allocated.
pub(crate) fn alloc(name: u32) -> Result<(), i32> {
    with(|w| {
        if w.req_by_name(name).is_some() {
            return Err(EINVAL);
        }
        w.requests.push(Request {
            name,
            state: ReqState::Idle,
            open: true,
            bufs: Vec::new(),
            ctrls: Vec::new(),
            queued_ev: 0,
            buf_done: None,
            incomplete: 0,
        });
        Ok(())
    })
}

/// VIDIOC_S_EXT_CTRLS(V4L2_CTRL_WHICH_REQUEST_VAL) of context `slot`
/// (try_set_ext_ctrls_request()): -EINVAL for a name not open, -EBUSY
/// unless the request is IDLE (media_request_lock_for_update()), then the
/// handler's object found or bound, its values set. A stateful context
/// has none of the stateless controls: its object is bound all the same
/// (empty), then the control lookup fails with -EINVAL.
pub(crate) fn set_ctrls(slot: usize, name: u32) -> Result<(), i32> {
    with(|w| {
        let r = w.req_by_name(name).ok_or(EINVAL)?;
        if w.requests[r].state != ReqState::Idle {
            return Err(EBUSY);
        }
        let stateless = w.ctxs[slot].stateless;
        let i = match w.requests[r].ctrls.iter().position(|c| c.slot == slot) {
            Some(i) => i,
            None => w.bind_ctrls(r, slot, false),
        };
        if !stateless {
            return Err(EINVAL);
        }
        w.requests[r].ctrls[i].tag = Some(ctrl_tag(name));
        Ok(())
    })
}

/// VIDIOC_QBUF with V4L2_BUF_FLAG_REQUEST_FD, after
/// vb2_queue_or_prepare_buf()'s index check: the buffer is the client's,
/// its queue takes requests and has not been used without, the request
/// is open and IDLE; then vb2_core_qbuf() binds it (IN_REQUEST) with the
/// client's timestamp and payload. It reaches the driver when the request
/// is queued.
pub(crate) fn qbuf(
    slot: usize,
    queue: Queue,
    id: usize,
    name: u32,
    ts: u64,
    size: u32,
) -> Result<(), i32> {
    let r = with(|w| {
        if w.info[id].own != Own::Dequeued {
            return Err(EINVAL);
        }
        if queue == Queue::Output && size > w.bufs[id].m2m.vb.vb2_buf.planes[0].length {
            return Err(EINVAL);
        }
        let q = w.ctxs[slot].q(queue);
        if !q.supports_requests {
            return Err(EBADR);
        }
        if q.uses_qbuf {
            return Err(EBUSY);
        }
        let r = w.req_by_name(name).ok_or(EINVAL)?;
        if w.requests[r].state != ReqState::Idle {
            return Err(EBUSY);
        }
        if w.ctxs[slot].q(queue).error {
            return Err(EIO);
        }
        Ok(r)
    })?;
    with(|w| {
        w.ctxs[slot].q(queue).uses_requests = true;
        let b = &mut w.bufs[id].m2m.vb;
        b.flags = 0;
        b.vb2_buf.state = crate::core::ffi::VB2_BUF_STATE_IN_REQUEST;
        b.vb2_buf.timestamp = super::vb2::timeval_ns(ts);
        b.vb2_buf.planes[0].bytesused =
            super::vb2::output_bytesused(size, b.vb2_buf.planes[0].length);
        b.field = crate::core::ffi::V4L2_FIELD_NONE;
        w.info[id].req = Some(r);
        w.requests[r].bufs.push(id);
        w.requests[r].incomplete += 1;
        let name = w.requests[r].name;
        w.info[id].req_name = Some(name);
        w.set_own(id, Own::InRequest(name), super::Note::Qbuf { ts, size });
    });
    Ok(())
}

/// MEDIA_REQUEST_IOC_QUEUE: -EBADF for a name not open; -EBUSY unless
/// IDLE; the driver's req_validate (exactly one buffer, each prepared),
/// IDLE again on failure; QUEUED, then v4l2_m2m_request_queue(): every
/// object queued, each buffer through vb2_core_qbuf() (to the driver if
/// its queue streams), then the context scheduled.
pub(crate) fn queue(name: u32) -> Result<(), i32> {
    let (r, bufs) = with(|w| {
        let r = w.req_by_name(name).ok_or(EBADF)?;
        if w.requests[r].state != ReqState::Idle {
            return Err(EBUSY);
        }
        Ok((r, w.requests[r].bufs.clone()))
    })?;
    driver::req_validate(&bufs)?;
    with(|w| {
        for &id in &bufs {
            w.info[id].prepared = true;
        }
        let req = &mut w.requests[r];
        req.state = ReqState::Queued;
        req.queued_ev = w.ev;
        for c in &mut req.ctrls {
            c.queued = true;
        }
    });
    // Buffers come after every other object in the list; the handlers'
    // queue op moves them onto their handler's queued requests, which
    // changes nothing a scenario sees.
    let mut ctx = None;
    for id in bufs {
        let (slot, queue) = with(|w| (w.info[id].slot, w.info[id].name.queue));
        if super::vb2::qbuf_in_request(slot, queue, id).is_ok() {
            ctx = Some(slot);
        } else {
            ctx = ctx.or(Some(slot));
        }
    }
    // A request with only other objects (never here: validation wants one
    // buffer) would complete at once.
    with(|w| w.maybe_complete(r));
    if let Some(slot) = ctx {
        super::m2m::try_schedule(slot);
    }
    Ok(())
}

/// MEDIA_REQUEST_IOC_REINIT: -EBUSY unless IDLE or COMPLETE; every object
/// unbound and released (a buffer still IN_REQUEST back to the client).
pub(crate) fn reinit(name: u32) -> Result<(), i32> {
    with(|w| {
        let r = w.req_by_name(name).ok_or(EBADF)?;
        if !matches!(w.requests[r].state, ReqState::Idle | ReqState::Complete) {
            return Err(EBUSY);
        }
        w.clean(r);
        w.requests[r].state = ReqState::Idle;
        w.requests[r].buf_done = None;
        Ok(())
    })
}

/// close() of the request's file descriptor. A buffer bound to it holds
/// it (`vb->request`), and so does a QUEUED request itself; the last
/// reference's release cleans it as REINIT does.
pub(crate) fn close(name: u32) -> Result<(), i32> {
    with(|w| {
        let r = w.req_by_name(name).ok_or(EBADF)?;
        w.requests[r].open = false;
        let held = !w.requests[r].bufs.is_empty() || w.requests[r].state == ReqState::Queued;
        if !held {
            w.clean(r);
        }
        Ok(())
    })
}

impl World {
    /// media_request_clean(): objects unbound and released; vb2's release
    /// hands a buffer still IN_REQUEST back to the client.
    fn clean(&mut self, r: usize) {
        for id in std::mem::take(&mut self.requests[r].bufs) {
            self.info[id].req = None;
            if self.bufs[id].m2m.vb.vb2_buf.state == crate::core::ffi::VB2_BUF_STATE_IN_REQUEST {
                self.bufs[id].m2m.vb.vb2_buf.state = 0;
                self.set_own(id, Own::Dequeued, "back to the client (request released)");
            }
        }
        self.requests[r].ctrls.clear();
        self.requests[r].incomplete = 0;
    }

    /// v4l2_ctrl_handler_free() of a closing context: its objects in
    /// every request unbound, which may complete a QUEUED one.
    pub(crate) fn free_ctrl_objects(&mut self, slot: usize) {
        for r in 0..self.requests.len() {
            let before = self.requests[r].ctrls.len();
            self.requests[r].ctrls.retain(|c| c.slot != slot);
            for _ in self.requests[r].ctrls.len()..before {
                self.unbound(r, "a control handler's object");
            }
        }
    }
}
