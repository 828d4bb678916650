//! The lifecycle oracles: the buffer-ownership invariants of
//! docs/design.md, each a named rule run at the moment it must hold — at a
//! completion, when a job is sent, after a daemon reply, at the end of an
//! event that had to end a scope, and at the end of the run. Each rule's
//! comment says what of the kernel it mirrors: what vb2, v4l2-mem2mem or
//! the client would see when it breaks.
//!
//! The mock itself reports only what the kernel reports (DEBUG_LIST's
//! list_del, vb2's WARNs, v4l2_m2m_job_finish's no-op, a cancel that
//! waits forever); the decoder's contract with its client and its daemon
//! is in contract.rs.

use super::{Invariant, Own, Record};
use crate::core::ffi;
use crate::mock::{JobModel, LIVELOCK_RUNS, V4L2_BUF_FLAG_LAST, World};
use crate::scenario::{FRAME_HAS_PIXELS, FRAME_LAST, FRAME_SRC_CONSUMED, Queue};

/// What a daemon reply named, and what its job was before it came: the
/// moment [`World::rule_reply_applied_right`] judges it from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReplyBefore {
    /// The outcome log's length and the world's change count.
    pub at: usize,
    pub changes: u64,
    /// The cookie was dead already.
    pub dead: bool,
    /// The live job's generation and the event that sent it, and the
    /// context's current generation.
    pub job: Option<(u32, usize, u32)>,
}

impl World {
    /// At vb2_buffer_done: no buffer is done while still linked on its
    /// ready queue (the next list walk would reach a completed buffer);
    /// a picture carries its source's timestamp and the LAST flag exactly
    /// when the daemon said LAST; and it completes as the daemon
    /// delivered it (contract.rs).
    pub(crate) fn rule_completed_as_delivered(&mut self, id: usize, state: u32) {
        let name = self.info[id].name;
        if self.info[id].linked {
            let msg = format!("{name} completed while still linked on its ready queue");
            self.violate(Invariant::DoneWhileLinked, Some(id), msg);
        }
        let flags = self.bufs[id].m2m.vb.flags;
        let ts = self.bufs[id].m2m.vb.vb2_buf.timestamp;
        if let (Queue::Capture, Some(d), Own::Claimed(c) | Own::Parked(c)) =
            (name.queue, self.delivering, self.info[id].own)
            && !d.dead
            && c == d.cookie
            && d.flags & FRAME_HAS_PIXELS != 0
        {
            if ts != d.ts {
                let msg = format!(
                    "{name} stamped ts={ts}, but the daemon said its picture came from the source with ts={}",
                    d.ts
                );
                self.violate(Invariant::WrongTimestamp, Some(id), msg);
            }
            let want_last = d.flags & FRAME_LAST != 0;
            if (flags & V4L2_BUF_FLAG_LAST != 0) != want_last {
                let msg = format!(
                    "{name} returned with LAST={} for a picture with LAST={want_last}",
                    flags & V4L2_BUF_FLAG_LAST != 0
                );
                self.violate(Invariant::DrainRules, Some(id), msg);
            }
            self.contract_picture(id, state, d);
        }
        if let (Queue::Output, Some(d), Own::Claimed(c)) =
            (name.queue, self.delivering, self.info[id].own)
            && !d.dead
            && c == d.cookie
            && d.flags & FRAME_SRC_CONSUMED != 0
        {
            self.contract_source(id, state, d);
        }
    }

    /// Invariant 4 at the moment it must hold: right after `what` (a
    /// STREAMOFF, close, session error, detach or watchdog expiry), no job
    /// of its scope (`slot`, or every context) is still running or holds
    /// a buffer. `only` narrows the scope to one job (the expired one).
    pub(crate) fn rule_scope_ended(&mut self, slot: Option<usize>, only: Option<u64>, what: &str) {
        let slots: Vec<usize> = match slot {
            Some(s) => vec![s],
            None => (0..self.ctxs.len()).collect(),
        };
        for s in slots {
            let c = &self.ctxs[s];
            let in_scope = |j: &&JobModel| only.is_none_or(|c| c == j.cookie) && !j.dead();
            let Some(j) = c.jobs.iter().find(in_scope) else {
                continue;
            };
            let (ctx, j) = (c.id, j.clone());
            let held = |id: Option<usize>, done: bool| id.filter(|_| !done);
            let buf = held(j.dst, j.dst_done).or(held(j.src, j.src_done));
            let mut left = Vec::new();
            if j.running {
                left.push("still running on the m2m device".to_owned());
            }
            for id in [held(j.src, j.src_done), held(j.dst, j.dst_done)]
                .into_iter()
                .flatten()
            {
                let how = match self.info[id].own {
                    Own::Parked(_) => "parked",
                    _ => "claimed",
                };
                left.push(format!("{} still {how}", self.info[id].name));
            }
            let msg = format!(
                "{what} left job {:#x} of ctx {ctx} alive: {}",
                j.cookie,
                left.join(", ")
            );
            let setup = (j.issued_ev, format!("device_run sent job {:#x}", j.cookie));
            self.violate_job(
                Invariant::ScopeNotEnded,
                buf,
                Some((ctx, j.cookie)),
                msg,
                Some(setup),
            );
            return;
        }
    }

    /// Progress: a job the core still runs must belong to a context that
    /// can make progress (an open file, a live session, a daemon).
    pub(crate) fn rule_no_stalled_job(&mut self) {
        for (slot, c) in self.ctxs.iter().enumerate() {
            // Only recent jobs run: look from the newest, and not at all
            // when the context runs none.
            if c.running_jobs == 0 {
                continue;
            }
            let Some(j) = c.jobs.iter().rev().find(|j| j.running) else {
                continue;
            };
            let (ctx, cookie, dst) = (c.id, j.cookie, j.dst);
            let (why, setup) = if !c.open {
                ("its file is closed", None)
            } else if !self.daemon_ready() {
                ("no daemon is attached", None)
            } else if self.front_state(slot).0 {
                let setup = (c.failed_ev, format!("ctx {ctx} failed"));
                ("its session failed", Some(setup))
            } else {
                continue;
            };
            let msg = format!(
                "job {cookie:#x} of ctx {ctx} holds the device, but {why}: no reply can finish it, every context waits for the watchdog"
            );
            let setup = setup.unwrap_or((j.issued_ev, format!("device_run sent job {cookie:#x}")));
            self.violate_job(Invariant::Stall, dst, Some((ctx, cookie)), msg, Some(setup));
            return;
        }
    }

    /// A context the device runs must have a job the daemon or the core can
    /// still finish; otherwise v4l2_m2m_cancel_job would wait forever.
    pub(crate) fn rule_running_ctx_has_a_job(&mut self) {
        let Some(slot) = self.curr_ctx else { return };
        let c = &self.ctxs[slot];
        if c.running_jobs > 0 {
            return;
        }
        let msg = format!(
            "ctx {} is RUNNING on the m2m device, but no job of it is left to finish: the next STREAMOFF or close waits forever",
            c.id
        );
        self.violate(Invariant::Hang, None, msg);
    }

    /// After every request the module queued for the daemon: what the
    /// queue holds, found by walking it, stays within the bound
    /// kmod/daedalus_outq.h proves (a context's requests and bytes, the
    /// device's bytes), and the counters back-pressure reads agree with
    /// it. `share` is the context's (null for REQ_HELLO), `ctx` its id (0
    /// for none), `ty` and `cookie` name the request just queued.
    pub(crate) fn rule_queue_bounded(
        &mut self,
        share: *const ffi::daedalus_outq_share,
        ctx: u32,
        ty: u16,
        cookie: u64,
    ) {
        let mut held = ffi::daedalus_shim_held::default();
        let q = self.outq_ptr();
        // SAFETY: the queue and the share are live; the glue only reads.
        unsafe { crate::core::daedalus_shim_outq_held(q, share, ctx, &mut held) };
        let max_msg = u64::from(ffi::DAEDALUS_MAX_PAYLOAD) + daedalus_proto::HDR_SIZE as u64;
        let ctx_bytes = u64::from(ffi::DAEDALUS_OUTQ_CTX_BYTES) + max_msg;
        let dev_bytes = u64::from(ffi::DAEDALUS_OUTQ_DEV_BYTES)
            + u64::from(ffi::DAEDALUS_MAX_CONTEXTS) * max_msg;
        let what = daedalus_proto::MsgType::from_raw(ty).map_or("a request", |t| t.name());
        let broke = if held.reqs > ffi::DAEDALUS_OUTQ_CTX_MAX_REQS {
            Some(format!(
                "ctx {ctx} holds {} unread requests, over the bound of {} (4 x DAEDALUS_OUTQ_CTX_REQS + 9): what the client repeats is not coalesced",
                held.reqs,
                ffi::DAEDALUS_OUTQ_CTX_MAX_REQS
            ))
        } else if held.bytes > ctx_bytes {
            Some(format!(
                "ctx {ctx} holds {} unread bytes, over DAEDALUS_OUTQ_CTX_BYTES and one largest message ({ctx_bytes})",
                held.bytes
            ))
        } else if held.all_bytes > dev_bytes {
            Some(format!(
                "the device holds {} unread bytes, over DAEDALUS_OUTQ_DEV_BYTES and one largest message per context ({dev_bytes})",
                held.all_bytes
            ))
        } else if u64::from(held.all_reqs) != u64::from(held.q_reqs)
            || held.all_bytes != held.q_bytes
            || (!share.is_null() && (held.reqs != held.s_reqs || held.bytes != held.s_bytes))
        {
            Some(format!(
                "the queue holds {} requests ({} bytes), ctx {ctx} {} ({} bytes), but its counters say {} ({}) and {} ({}): back-pressure reads the counters",
                held.all_reqs,
                held.all_bytes,
                held.reqs,
                held.bytes,
                held.q_reqs,
                held.q_bytes,
                held.s_reqs,
                held.s_bytes
            ))
        } else {
            None
        };
        if let Some(detail) = broke {
            let msg = format!("{detail}, after {what} (cookie {cookie:#x}) was queued");
            let setup = self
                .stopped_ev
                .map(|ev| (ev, "the daemon stopped reading".to_string()));
            self.violate_job(
                Invariant::QueueBound,
                None,
                (ctx != 0 && cookie != 0).then_some((ctx, cookie)),
                msg,
                setup,
            );
        }
    }

    /// When a job is sent: its cookie is not one a reply may still come
    /// for (every cookie sent since the daemon attached), or that reply
    /// would be applied to the new job.
    pub(crate) fn rule_cookie_fresh(&mut self, ctx: u32, cookie: u64, dst: Option<usize>) {
        if let Some(&(pctx, pev)) = self.issued.get(&cookie) {
            let msg = format!(
                "cookie {:#x} sent again for a new job of ctx {}, while a reply to its first holder (ctx {pctx}) may still come and would be applied to the new one",
                cookie, ctx
            );
            let setup = (
                pev,
                format!("cookie {:#x} first sent to the daemon", cookie),
            );
            self.violate_job(
                Invariant::CookieReissued,
                dst,
                Some((ctx, cookie)),
                msg,
                Some(setup),
            );
        }
    }

    /// After each device_run of the m2m workqueue (v4l2_m2m_try_run from
    /// the job_finish work): `idle_runs` device_runs in a row in which no
    /// buffer changed hands are a livelock, the kernel's workqueue would
    /// spin forever. `at` is where the runs began in the log, `next` the
    /// context the device runs. False once it is one.
    pub(crate) fn rule_workqueue_progresses(
        &mut self,
        idle_runs: u32,
        at: usize,
        next: Option<u32>,
    ) -> bool {
        if idle_runs < LIVELOCK_RUNS {
            return true;
        }
        let cycle: Vec<String> = self.log[at.min(self.log.len())..]
            .iter()
            .map(|(_, r)| format!("`{r}`"))
            .collect();
        let ctx = next.map_or_else(|| "?".to_owned(), |c| c.to_string());
        let each = if cycle.is_empty() {
            String::new()
        } else {
            format!(", each ending in {}", cycle.join(", "))
        };
        // The job the core still runs is what the runs trip over.
        let held = self
            .ctxs
            .iter()
            .find_map(|c| c.jobs.iter().find(|j| j.running).map(|j| (c.id, j.clone())));
        let (job, setup, still) = match held {
            Some((c, j)) => (
                Some((c, j.cookie)),
                Some((j.issued_ev, format!("device_run sent job {:#x}", j.cookie))),
                format!("; the job core still runs job {:#x} of ctx {c}", j.cookie),
            ),
            None => (None, None, String::new()),
        };
        let msg = format!(
            "{} device_runs of ctx {ctx} in a row{each}, and no buffer changed hands: the m2m workqueue would spin forever{still}",
            LIVELOCK_RUNS
        );
        self.violate_job(Invariant::Livelock, None, job, msg, setup);
        false
    }

    /// At the end of the run: a buffer with two owners that nothing else
    /// caught (a claim of a held or linked buffer), which the kernel
    /// would trip over at the next list walk or completion.
    pub(crate) fn rule_no_suspect_left(&mut self) {
        if let Some(id) = self.info.iter().position(|b| b.suspect.is_some()) {
            let s = self.info[id]
                .suspect
                .clone()
                .unwrap_or_else(|| unreachable!());
            self.violate(Invariant::DoubleOwner, Some(id), s.what);
        }
    }

    /// At the end of the run: ready OUTPUT and CAPTURE buffers, an idle
    /// daemon and an idle device, but no device_run — v4l2_m2m_try_schedule
    /// was never called when the context became ready, and the client
    /// waits forever.
    pub(crate) fn rule_idle_device_runs(&mut self, slot: usize) {
        if self.curr_ctx.is_none() && self.job_queue.is_empty() && self.would_queue(slot) {
            let id = self.ctxs[slot].id;
            let msg = format!(
                "ctx {id} has OUTPUT and CAPTURE buffers ready and the device is idle, but nothing scheduled a device_run"
            );
            self.violate(Invariant::Hang, None, msg);
        }
    }

    /// At a CAPTURE DQBUF that would block: once EOS was signalled and
    /// the decoder stopped, the drain's LAST buffer must exist, or DQBUF
    /// never returns -EPIPE and the client waits.
    pub(crate) fn rule_eos_brings_epipe(&mut self, slot: usize, would_block: bool) {
        let ctx = self.ctxs[slot].id;
        if would_block
            && self.front_state(slot).1
            && !self.ctxs[slot].cap.last_buffer_dequeued
            && self.ctxs[slot].cap.done_list.is_empty()
            && self.ctxs[slot].cap.owned_by_drv > 0
            && self
                .log
                .iter()
                .any(|(_, r)| matches!(r, Record::V4l2Event { ctx: c, what: "EOS" } if *c == ctx))
            && !self
                .info
                .iter()
                .any(|b| b.name.ctx == ctx && b.done_flags & V4L2_BUF_FLAG_LAST != 0)
        {
            let msg = format!(
                "ctx {ctx}: EOS was signalled but no CAPTURE buffer carried LAST, so DQBUF never returns -EPIPE"
            );
            self.violate(Invariant::DrainRules, None, msg);
        }
    }

    /// Right after close: the job core's in-flight table holds no job of
    /// the context (`left` of them, `parked` parked), or a late reply
    /// would reach freed memory.
    pub(crate) fn rule_close_leaves_no_job(&mut self, ctx: u32, left: u32, parked: u32) {
        if left != 0 {
            let msg = format!(
                "ctx {ctx} closed with {left} job(s) still in the in-flight table ({parked} parked)"
            );
            self.violate(Invariant::LeakAtClose, None, msg);
        }
    }

    /// When the dispatcher returns: it released every context it looked
    /// up (ctx_get without ctx_put keeps the context-list lock), or the
    /// next open, close or daemon write waits forever.
    pub(crate) fn rule_dispatcher_puts_ctx(&mut self, ctx: u32) {
        if self.ctx_held != 0 {
            let msg = format!(
                "the dispatcher returned still holding ctx {ctx} (ctx_get without ctx_put): the next open, close or daemon write waits forever"
            );
            self.ctx_held = 0;
            self.violate(Invariant::Hang, None, msg);
        }
    }

    /// When the watchdog expires job `cookie`: the daemon had not
    /// answered it. A job it answered should have ended then; the device
    /// stood still until the timeout.
    pub(crate) fn rule_watchdog_only_for_silence(&mut self, ctx: u32, cookie: u64) {
        let Some(j) = self.job_mut(ctx, cookie) else {
            return;
        };
        let (Some(ev), dst) = (j.answered_ev, j.dst) else {
            return;
        };
        let msg = format!(
            "the watchdog had to end job {cookie:#x} of ctx {ctx}, which the daemon had answered: the device stood still until the timeout"
        );
        let setup = (ev, format!("the daemon answered job {cookie:#x}"));
        self.violate_job(Invariant::Stall, dst, Some((ctx, cookie)), msg, Some(setup));
    }

    /// After a daemon write the dispatcher took or refused (`ret`), for
    /// a RESP_FRAME `f` and what its job was `before`: a reply is applied
    /// only to a job of its own generation, the context's current one; an
    /// accepted SRC_CONSUMED finishes the job at once (or the m2m device
    /// stays held until the watchdog); and a reply for a dead cookie
    /// changes nothing.
    pub(crate) fn rule_reply_applied_right(
        &mut self,
        f: &crate::core::MsgFrame,
        ret: i32,
        before: ReplyBefore,
    ) {
        let ReplyBefore {
            at,
            changes,
            dead,
            job,
        } = before;
        if let Some((job_gen, issued_ev, cur)) = job {
            let key = (f.ctx_id, f.cookie);
            let applied = ret == 0 || self.changes != changes;
            let fits = f.generation == job_gen && job_gen == cur;
            if applied && !fits {
                let setup = (
                    issued_ev,
                    format!(
                        "device_run sent job {:#x} in generation {job_gen}",
                        f.cookie
                    ),
                );
                let msg = format!(
                    "a reply of generation {} was applied to job {:#x} of generation {job_gen} (the context's current generation is {cur})",
                    f.generation, f.cookie
                );
                self.violate_job(
                    Invariant::StaleGenerationApplied,
                    None,
                    Some(key),
                    msg,
                    Some(setup),
                );
                return;
            }
            let consumed = f.flags & FRAME_SRC_CONSUMED != 0;
            let still = self.job_mut(f.ctx_id, f.cookie).map(|j| (j.running, j.dst));
            if consumed
                && applied
                && let Some((true, dst)) = still
            {
                let msg = format!(
                    "RESP_FRAME SRC_CONSUMED for job {:#x} of ctx {} was accepted, but the job is still running: the m2m device stays held until the watchdog",
                    f.cookie, f.ctx_id
                );
                let setup = (issued_ev, format!("device_run sent job {:#x}", f.cookie));
                self.violate_job(
                    Invariant::ConsumedNotFinished,
                    dst,
                    Some(key),
                    msg,
                    Some(setup),
                );
                return;
            }
        }
        if dead && self.changes != changes {
            let cookie = f.cookie;
            let what = self.log[at..]
                .iter()
                .find(|(_, r)| {
                    matches!(
                        r,
                        Record::BufDone { .. }
                            | Record::JobFinish { .. }
                            | Record::Claim { .. }
                            | Record::Park { .. }
                    )
                })
                .map_or_else(|| "state changed".to_owned(), |(_, r)| r.to_string());
            let msg = format!("a reply for dead cookie {cookie:#x} was applied: {what}");
            self.violate(Invariant::DeadCookieChangedState, None, msg);
        }
    }
}

// The Request API's rules (mock/request.rs models the requests).
impl World {
    /// When a stateless job goes to the daemon: it carries the controls
    /// of its OUTPUT buffer's request, where the client set some in it
    /// for this context (daedalus_sdec_prepare() applied them to the
    /// context's values at this device_run). Other controls decode the
    /// picture with another picture's parameters: wrong references, a
    /// wrong slice type, and no kernel warning.
    pub(crate) fn rule_job_has_its_controls(
        &mut self,
        slot: usize,
        cookie: u64,
        src: Option<usize>,
        tag: Option<u32>,
    ) {
        let Some(id) = src else {
            return;
        };
        let Some(r) = self.info[id].req else {
            return;
        };
        let Some(want) = self.requests[r]
            .ctrls
            .iter()
            .find(|c| c.slot == slot)
            .and_then(|c| c.tag)
        else {
            return;
        };
        if tag == Some(want) {
            return;
        }
        let req = self.requests[r].name;
        let had = match tag {
            Some(t) => format!("the controls of request {t}"),
            None => "the context's default controls".into(),
        };
        let msg = format!(
            "job {cookie:#x} decodes {} of request {req} with {had}, not its request's",
            self.info[id].name
        );
        let ctx = self.ctxs[slot].id;
        let setup = Some((
            self.requests[r].queued_ev,
            format!("request {req} queued with its controls"),
        ));
        self.violate_job(
            Invariant::RequestRules,
            Some(id),
            Some((ctx, cookie)),
            msg,
            setup,
        );
    }

    /// When a request completes: its job's CAPTURE buffer is done already.
    /// A client waits on the request, then dequeues both buffers
    /// (dev-stateless-decoder.rst); v4l2_m2m_buf_done_and_job_finish()
    /// completes the CAPTURE buffer first for that reason. A request that
    /// completes while its picture is still being decoded (a daemon that
    /// answers SRC_CONSUMED before HAS_PIXELS) wakes a client whose DQBUF
    /// finds nothing, or the next request's picture.
    pub(crate) fn rule_request_after_its_picture(&mut self, r: usize) {
        let Some((_, src)) = self.requests[r].buf_done else {
            return;
        };
        let slot = self.info[src].slot;
        let Some(job) = self.ctxs[slot]
            .jobs
            .iter()
            .rev()
            .find(|j| j.src == Some(src))
        else {
            return;
        };
        let (cookie, dst) = (job.cookie, job.dst);
        let Some(dst) = dst else {
            return;
        };
        if !matches!(self.info[dst].own, Own::Claimed(c) | Own::Parked(c) if c == cookie) {
            return;
        }
        let name = self.requests[r].name;
        let msg = format!(
            "request {name} completed while its picture's buffer {} is still with job {cookie:#x}: a client woken by the request dequeues no picture",
            self.info[dst].name
        );
        let ctx = self.ctxs[slot].id;
        self.violate_job(
            Invariant::RequestRules,
            Some(dst),
            Some((ctx, cookie)),
            msg,
            None,
        );
    }

    /// After every event: a request whose OUTPUT buffer is done has
    /// completed, unless it waits for another context's controls (the
    /// client's doing). A client polls the request, not the buffer
    /// (dev-stateless-decoder.rst): one whose buffer's context never
    /// completed its controls waits forever.
    pub(crate) fn rule_request_completes_with_its_buffer(&mut self) {
        use crate::mock::request::ReqState;
        let info = &self.info;
        let found = self.requests.iter().position(|r| {
            r.state == ReqState::Queued
                && r.buf_done.is_some_and(|(_, b)| {
                    r.ctrls
                        .iter()
                        .any(|c| c.slot == info[b].slot && !c.completed)
                })
        });
        let Some(r) = found else {
            return;
        };
        let req = &self.requests[r];
        let (name, queued) = (req.name, req.queued_ev);
        let (done, id) = req.buf_done.unwrap_or((self.ev, 0));
        let msg = format!(
            "request {name}'s OUTPUT buffer was done at line {}, but its controls never completed: the request stays QUEUED and a client polling it waits forever",
            self.event_ref(done).line
        );
        let setup = Some((queued, format!("request {name} queued")));
        // The buffer names its request in the diagnosis.
        self.violate_job(Invariant::RequestRules, Some(id), None, msg, setup);
    }

    /// Right after a STREAMOFF of a stateless context's OUTPUT queue, or
    /// its close: none of its requests is still QUEUED. vb2's cancel
    /// completes what the driver did not (buf_request_complete); a request
    /// left QUEUED can never be reinitialised or reused.
    pub(crate) fn rule_requests_ended(&mut self, slot: usize, what: &str) {
        use crate::mock::request::ReqState;
        // Its own objects: a buffer of the context still in it, or the
        // context's controls not completed. One waiting only for another
        // context's controls is the client's doing.
        let info = &self.info;
        let found = self.requests.iter().position(|r| {
            r.state == ReqState::Queued
                && (r.bufs.iter().any(|&b| info[b].slot == slot)
                    || r.ctrls.iter().any(|c| c.slot == slot && !c.completed))
        });
        let Some(r) = found else {
            return;
        };
        let (name, queued) = (self.requests[r].name, self.requests[r].queued_ev);
        let msg = format!("request {name} is still QUEUED after the {what}");
        let setup = Some((queued, format!("request {name} queued")));
        self.violate_job(Invariant::RequestRules, None, None, msg, setup);
        if let Some(v) = self.violation.as_mut() {
            v.request.get_or_insert(name);
        }
    }
}
