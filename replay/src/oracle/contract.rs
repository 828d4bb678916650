//! The decoder's contract, checked from what the driver does rather than
//! from the front's own state: with its client, the stateful decoder
//! interface of Documentation/userspace-api/media/v4l/dev-decoder.rst
//! (drain, EOS, LAST and -EPIPE, SOURCE_CHANGE, the CAPTURE format and its
//! buffer count, failures reported as queue errors, a decoder that is
//! neither stopped nor failed runs), and with the daemon, docs/protocol.md
//! (REQ_RESET at a seek, REQ_FLUSH after the last source, capture-only jobs
//! after it, REQ_SESSION_CLOSE at close, at most DAEDALUS_MAX_CONTEXTS
//! sessions).
//!
//! Each rule is one function below, run at the moment the rule must hold:
//! when the driver does something (an outcome record, a job sent, a buffer
//! completed) or at the end of the scenario event that had to bring it
//! about. The model here holds only what a client or a daemon could see:
//! the scenario's calls, the driver's requests, events and completions.

use crate::core::c_call;
use crate::core::ffi::V4L2_FIELD_NONE;
use crate::mock::{Delivery, V4L2_BUF_FLAG_LAST, VB2_BUF_STATE_DONE, VB2_BUF_STATE_ERROR, World};
use crate::oracle::{Invariant, Own, Record, state_name};
use crate::scenario::{Event, FRAME_ERROR, Queue};
use daedalus_proto::MsgType;

/// What a client and a daemon know of one context.
#[derive(Clone, Debug, Default)]
struct Ctx {
    /// A V4L2_DEC_CMD_STOP taken while OUTPUT streamed, not yet ended by
    /// EOS, DEC_CMD_START or STREAMOFF(OUTPUT): its event.
    stop: Option<usize>,
    /// A LAST picture went out and neither DEC_CMD_START nor a STREAMON
    /// came since: the decoder is stopped (its event).
    stopped: Option<usize>,
    /// DQBUF(CAPTURE) returned a LAST buffer and nothing cleared vb2's
    /// last_buffer_dequeued since (its event).
    last_dequeued: Option<usize>,
    /// REQ_FLUSH went out since the drain started (its event).
    flushed: Option<usize>,
    /// The last STREAM_INFO applied: coded size rounded to macroblocks,
    /// DPB size, and its event.
    info: Option<(u32, u32, u32, usize)>,
    /// REQ_SESSION_OPEN went out and the session did not end since.
    session: Option<usize>,
    /// A session error or the daemon's detach ended the last session.
    session_ended: Option<usize>,
    /// A session error or the daemon's detach failed the context and no
    /// STREAMON followed (its event).
    failed: Option<usize>,
    /// The sequence numbers of the last picture and the last source
    /// completed as delivered since their queue started streaming.
    cap_seq: Option<u32>,
    out_seq: Option<u32>,
    /// A STREAM_INFO raised SOURCE_CHANGE and neither the LAST that ends
    /// the old format nor a STREAMON(CAPTURE) (the reallocation) came yet.
    change: Option<usize>,
}

/// What one scenario event was, seen before it ran.
#[derive(Clone, Debug, Default)]
struct Before {
    ev: Option<Event>,
    out_streaming: bool,
    cap_streaming: bool,
    out_started: bool,
    daemon_ready: bool,
    daemon_attached: bool,
    ctx: Ctx,
    /// Every open context's slot, id and whether either queue streamed.
    streaming: Vec<(usize, u32, bool)>,
}

/// The contract's state for one run.
#[derive(Clone, Debug, Default)]
pub(crate) struct Contract {
    /// By context id; a run has a handful, so a list beats hashing.
    ctxs: Vec<(u32, Ctx)>,
    before: Before,
    /// Requests (context, name) and V4L2 events (context, name) of the
    /// current event, and its errnos (context, call, errno).
    requests: Vec<(u32, &'static str)>,
    events: Vec<(u32, &'static str)>,
    errnos: Vec<(u32, &'static str, i32)>,
    /// DAEDALUS_MAX_CONTEXTS.
    max_sessions: u32,
}

/// Bytes of a 4:2:0 picture of a coded size (one plane, 12 bits a pixel),
/// the size rounded to macroblocks as the CAPTURE format has it.
fn picture_bytes(w: u32, h: u32) -> u64 {
    u64::from(w.next_multiple_of(16)) * u64::from(h.next_multiple_of(16)) * 3 / 2
}

/// The state a delivery says its buffer completes in.
fn told_state(d: Delivery) -> u32 {
    if d.flags & FRAME_ERROR != 0 {
        VB2_BUF_STATE_ERROR
    } else {
        VB2_BUF_STATE_DONE
    }
}

impl Contract {
    pub(crate) fn new(max_sessions: u32) -> Self {
        Contract {
            max_sessions,
            ..Contract::default()
        }
    }

    fn get(&self, ctx: u32) -> Option<&Ctx> {
        self.ctxs.iter().find(|e| e.0 == ctx).map(|e| &e.1)
    }
}

impl World {
    fn contract_ctx(&mut self, ctx: u32) -> &mut Ctx {
        let c = &mut self.contract;
        let i = match c.ctxs.iter().position(|e| e.0 == ctx) {
            Some(i) => i,
            None => {
                c.ctxs.push((ctx, Ctx::default()));
                c.ctxs.len() - 1
            }
        };
        &mut c.ctxs[i].1
    }

    /// A `limits` event shrank the device: it takes `contexts` sessions.
    pub(crate) fn contract_limits(&mut self, contexts: u32) {
        self.contract.max_sessions = contexts;
    }

    /// Before a scenario event runs: what it starts from.
    pub(crate) fn contract_begin(&mut self, ev: Event) {
        self.contract_begin_write();
        let slot = ev.ctx().and_then(|id| self.slot_of_id(id));
        // Only a detach needs every context's state from before it.
        let streaming = match ev {
            Event::DaemonDetach => (0..self.ctxs.len())
                .filter(|&s| self.ctxs[s].open)
                .map(|s| {
                    let x = &self.ctxs[s];
                    (s, x.id, x.out.streaming || x.cap.streaming)
                })
                .collect(),
            _ => Vec::new(),
        };
        let ctx = ev
            .ctx()
            .and_then(|id| self.contract.get(id).cloned())
            .unwrap_or_default();
        self.contract.before = Before {
            ev: Some(ev),
            out_streaming: slot.is_some_and(|s| self.ctxs[s].out.streaming),
            cap_streaming: slot.is_some_and(|s| self.ctxs[s].cap.streaming),
            out_started: slot.is_some_and(|s| self.ctxs[s].out.start_streaming_called),
            daemon_ready: self.daemon_ready(),
            daemon_attached: self.daemon_attached,
            ctx,
            streaming,
        };
        let pos = self.ev;
        match ev {
            Event::Open { ctx, .. } if slot.is_none() => {
                *self.contract_ctx(ctx) = Ctx::default();
            }
            Event::DecoderStop { ctx } if slot.is_some() => {
                let out = self.contract.before.out_streaming;
                let c = self.contract_ctx(ctx);
                if out && c.stop.is_none() {
                    c.stop = Some(pos);
                    c.flushed = None;
                }
            }
            Event::DecoderStart { ctx } if slot.is_some() => {
                let c = self.contract_ctx(ctx);
                c.stop = None;
                c.stopped = None;
                c.last_dequeued = None;
                c.flushed = None;
            }
            // The front leaves the stopped and failed states as the queue
            // starts; its device_run follows in the same event. A STREAMON
            // the front refuses leaves the queue off, which every rule
            // below that reads these states also asks for.
            Event::Streamon { ctx, queue } if slot.is_some() => {
                let was = match queue {
                    Queue::Output => self.contract.before.out_streaming,
                    Queue::Capture => self.contract.before.cap_streaming,
                };
                if !was {
                    let c = self.contract_ctx(ctx);
                    c.stopped = None;
                    c.failed = None;
                    match queue {
                        Queue::Capture => {
                            c.change = None;
                            c.cap_seq = None;
                        }
                        Queue::Output => c.out_seq = None,
                    }
                    if queue == Queue::Output {
                        c.stop = None;
                        c.flushed = None;
                        c.last_dequeued = None;
                    }
                }
            }
            Event::Streamoff { ctx, queue } if slot.is_some() => {
                let c = self.contract_ctx(ctx);
                match queue {
                    Queue::Output => {
                        c.stop = None;
                        c.flushed = None;
                    }
                    Queue::Capture => c.last_dequeued = None,
                }
            }
            _ => {}
        }
    }

    /// What the driver did, as it does it.
    pub(crate) fn contract_observe(&mut self, r: &Record) {
        let pos = self.ev;
        match *r {
            Record::Request { ctx, what, .. } => {
                self.contract.requests.push((ctx, what));
                match what {
                    "SESSION_OPEN" => self.rule_session_limit(ctx),
                    "SESSION_CLOSE" => self.contract_ctx(ctx).session = None,
                    "FLUSH" => self.rule_flush_after_sources(ctx),
                    _ => {}
                }
            }
            Record::DeviceRun { ctx, .. } => self.rule_runs_only_with_a_daemon(ctx),
            Record::V4l2Event { ctx, what } => {
                self.contract.events.push((ctx, what));
                if what == "SOURCE_CHANGE"
                    && matches!(self.contract.before.ev, Some(Event::StreamInfo { .. }))
                {
                    self.contract_ctx(ctx).change = Some(pos);
                }
                match what {
                    "EOS" => self.rule_eos_ends_a_drain(ctx),
                    _ => self.rule_no_provisional_format_once_known(ctx),
                }
            }
            Record::Dqbuf {
                ctx,
                queue: Queue::Capture,
                result,
            } => match result {
                Ok((_, true, _)) => self.contract_ctx(ctx).last_dequeued = Some(pos),
                Err(32) => self.rule_epipe_after_last(ctx),
                _ => {}
            },
            Record::Errno { ctx, what, errno } => {
                self.contract.errnos.push((ctx, what, errno));
                if what == "streamon" && errno == 16 {
                    self.rule_busy_only_when_full(ctx);
                }
            }
            _ => {}
        }
    }

    /// vb2_buffer_done() of buffer `id` with `flags`.
    pub(crate) fn contract_buffer_done(&mut self, id: usize, flags: u32) {
        let name = self.info[id].name;
        if name.queue == Queue::Capture && flags & V4L2_BUF_FLAG_LAST != 0 {
            let pos = self.ev;
            let c = self.contract_ctx(name.ctx);
            c.stopped = Some(pos);
            // The LAST of a change ends the old format's pictures; any
            // other, while a STOP is pending, ends the drain.
            if c.change.take().is_none() && c.stop.is_some() {
                self.rule_eos_before_drain_last(id, name.ctx);
            }
        }
    }

    /// The job core hands the daemon a job of `ctx`: `src` (none for a
    /// capture-only job) and `dst`.
    pub(crate) fn contract_job_sent(&mut self, ctx: u32, src: Option<usize>, dst: Option<usize>) {
        self.rule_jobs_only_for_a_session(ctx, dst);
        self.rule_no_job_while_stopped(ctx, dst);
        if src.is_none() {
            self.rule_capture_only_after_flush(ctx, dst);
        }
        if let Some(d) = dst {
            self.rule_dst_holds_a_picture(ctx, d);
        }
    }

    /// vb2_buffer_done() of CAPTURE buffer `id` with the picture the daemon
    /// is delivering for its job.
    pub(crate) fn contract_picture(&mut self, id: usize, state: u32, d: Delivery) {
        self.rule_picture_as_delivered(id, state, d);
    }

    /// vb2_buffer_done() of OUTPUT buffer `id` whose job the daemon is
    /// finishing with SRC_CONSUMED.
    pub(crate) fn contract_source(&mut self, id: usize, state: u32, d: Delivery) {
        self.rule_source_as_consumed(id, state, d);
    }

    /// After a scenario event ran (and the m2m work it queued).
    pub(crate) fn contract_end(&mut self) {
        if self.violation.is_some() {
            return;
        }
        // Once per event; the writes of a hostile-daemon run come without
        // scenario events.
        let ev = self.contract.before.ev.take();
        let refused = |c: &Contract, what: &str| c.errnos.iter().any(|e| e.1 == what);
        match ev {
            Some(Event::Streamoff {
                ctx,
                queue: Queue::Output,
            }) => self.rule_reset_at_streamoff(ctx),
            Some(Event::DecoderStop { ctx }) => self.rule_stop_while_stopped_is_eos(ctx),
            Some(Event::DaemonDetach) if self.contract.before.daemon_attached => {
                let pos = self.ev;
                for (_, id, streaming) in self.contract.before.streaming.clone() {
                    let c = self.contract_ctx(id);
                    if c.session.take().is_some() {
                        c.session_ended = Some(pos);
                    }
                    if streaming {
                        self.rule_failure_errors_the_queues(id, "the daemon's detach");
                    }
                }
            }
            Some(Event::Reqbufs {
                ctx,
                queue: Queue::Capture,
                count,
            }) if count > 0 && !refused(&self.contract, "reqbufs") => {
                self.rule_reqbufs_gives_min_buffers(ctx)
            }
            Some(Event::Close { ctx }) => {
                self.rule_close_ends_the_session(ctx);
                self.contract.ctxs.retain(|e| e.0 != ctx);
            }
            _ => {}
        }
        for slot in 0..self.ctxs.len() {
            self.rule_a_live_decoder_runs(slot);
        }
    }

    /// A daemon write of a hostile daemon begins (and, for the rest,
    /// every scenario event): what it brings about is its own.
    pub(crate) fn contract_begin_write(&mut self) {
        let c = &mut self.contract;
        c.requests.clear();
        c.events.clear();
        c.errnos.clear();
        c.before.ev = None;
    }

    /// The dispatcher took a daemon write: its type and the words the
    /// module's codec parsed (context first), `ret` its result.
    pub(crate) fn contract_reply(&mut self, ty: u16, words: &[u32; 10], ret: i32) {
        if ret != 0 || self.violation.is_some() {
            return;
        }
        let ctx = words[0];
        if ty == MsgType::RespStreamInfo.raw() {
            let (width, height, dpb) = (words[2], words[3], words[4]);
            self.rule_info_within_hello(ctx, width, height);
            self.rule_new_format_is_announced(ctx, width, height, dpb);
        } else if ty == MsgType::RespSessionError.raw() {
            let pos = self.ev;
            let c = self.contract_ctx(ctx);
            c.session = None;
            c.session_ended = Some(pos);
            self.rule_failure_errors_the_queues(ctx, "RESP_SESSION_ERROR");
        }
    }

    /// After the last event: a context neither stopped nor failed, with
    /// work on both queues, runs.
    pub(crate) fn contract_end_of_run(&mut self) {
        for slot in 0..self.ctxs.len() {
            if self.violation.is_some() {
                return;
            }
            self.rule_a_live_decoder_runs(slot);
        }
    }

    // The rules, each at the moment it must hold.

    /// dev-decoder.rst, Drain: EOS ends a drain (or answers a STOP when
    /// nothing is left to drain); it is never raised otherwise.
    fn rule_eos_ends_a_drain(&mut self, ctx: u32) {
        let c = self.contract_ctx(ctx);
        let (stop, stopped) = (c.stop.take(), c.stopped);
        c.flushed = None;
        if stop.is_some() {
            return;
        }
        let setup = stopped.map(|e| (e, "a LAST picture went out (not after a drain)".to_owned()));
        let msg = format!(
            "V4L2_EVENT_EOS raised for ctx {ctx} with no V4L2_DEC_CMD_STOP pending: only the end of a drain raises EOS, and the client stops decoding on it"
        );
        self.violate_job(Invariant::DrainRules, None, None, msg, setup);
    }

    /// dev-decoder.rst, Drain: the LAST picture of a drain (not one that
    /// ends the pictures of an old format) comes with EOS, raised before
    /// the buffer is done: from that moment poll() may report the buffer,
    /// and it reports EPOLLPRI only for an event already queued
    /// (v4l2_m2m_poll() looks at the events after the queues). A client
    /// woken for the LAST before its EOS is queued dequeues the LAST with
    /// no EOS seen (v4l2-compliance: `!got_eos && !got_source_change`).
    fn rule_eos_before_drain_last(&mut self, id: usize, ctx: u32) {
        if self.violation.is_some() || self.contract.events.contains(&(ctx, "EOS")) {
            return;
        }
        let stop = self.contract.get(ctx).and_then(|c| c.stop);
        let msg = format!(
            "the LAST picture of ctx {ctx}'s drain was done with no V4L2_EVENT_EOS queued before it: a client polling then sees the buffer without EPOLLPRI and dequeues the drain's end without its EOS"
        );
        let setup = stop.map(|e| (e, "V4L2_DEC_CMD_STOP".to_owned()));
        self.violate_job(Invariant::DrainRules, Some(id), None, msg, setup);
    }

    /// A picture completes as the daemon delivered it: ERROR exactly when
    /// the daemon said so, its size as the payload, its inline bytes in the
    /// plane, progressive, and numbered after the CAPTURE queue's previous
    /// picture.
    fn rule_picture_as_delivered(&mut self, id: usize, state: u32, d: Delivery) {
        let name = self.info[id].name;
        let vb = &self.bufs[id].m2m.vb;
        let (payload, field, seq) = (vb.vb2_buf.planes[0].bytesused, vb.field, vb.sequence);
        let want = told_state(d);
        let prev = self.contract_ctx(name.ctx).cap_seq.replace(seq);
        let msg = if state != want {
            format!(
                "{name} completed {} for a picture the daemon sent {}",
                state_name(state),
                state_name(want)
            )
        } else if payload != d.bytes {
            format!(
                "{name} carries a payload of {payload} bytes for a picture of {} bytes",
                d.bytes
            )
        } else if field != V4L2_FIELD_NONE {
            format!("{name} completed with field {field}, not V4L2_FIELD_NONE")
        } else if prev.is_some_and(|p| seq <= p) {
            format!(
                "{name} has sequence {seq}, not after the previous picture's {}",
                prev.unwrap_or_default()
            )
        } else if let Some(at) = self.first_wrong_byte(id, d) {
            format!("{name} differs from the picture the daemon sent at byte {at}")
        } else {
            return;
        };
        self.violate(Invariant::PictureRules, Some(id), msg);
    }

    /// Where the plane of `id` first differs from the delivery's inline
    /// bytes.
    fn first_wrong_byte(&self, id: usize, d: Delivery) -> Option<usize> {
        let n = d.data_len.min(d.bytes as usize);
        if n == 0 || d.data.is_null() {
            return None;
        }
        let plane = &self.info[id]._mem;
        // SAFETY: the delivery's bytes point into the message being
        // dispatched, alive for the whole delivery.
        let sent = unsafe { std::slice::from_raw_parts(d.data, n) };
        match plane.get(..n) {
            Some(p) => p.iter().zip(sent).position(|(a, b)| a != b),
            None => Some(plane.len()),
        }
    }

    /// A source the daemon consumed completes ERROR exactly when the
    /// daemon said so, numbered after the OUTPUT queue's previous one.
    fn rule_source_as_consumed(&mut self, id: usize, state: u32, d: Delivery) {
        let name = self.info[id].name;
        let seq = self.bufs[id].m2m.vb.sequence;
        let want = told_state(d);
        let prev = self.contract_ctx(name.ctx).out_seq.replace(seq);
        let msg = if state != want {
            format!(
                "{name} completed {} for a source the daemon consumed {}",
                state_name(state),
                state_name(want)
            )
        } else if prev.is_some_and(|p| seq <= p) {
            format!(
                "{name} has sequence {seq}, not after the previous source's {}",
                prev.unwrap_or_default()
            )
        } else {
            return;
        };
        self.violate(Invariant::PictureRules, Some(id), msg);
    }

    /// A device_run claims buffers only for a daemon that can take the
    /// job: with none attached, the job can only fail.
    fn rule_runs_only_with_a_daemon(&mut self, ctx: u32) {
        if self.daemon_ready() {
            return;
        }
        let msg = format!(
            "device_run started a job of ctx {ctx} with no daemon attached: its buffers come back failed although nothing went wrong with them"
        );
        self.violate(Invariant::ProtocolRules, None, msg);
    }

    /// docs/protocol.md: a STREAM_INFO beyond what RESP_HELLO announced is
    /// refused; CAPTURE is never sized for more than the daemon decodes.
    fn rule_info_within_hello(&mut self, ctx: u32, width: u32, height: u32) {
        let (max_w, max_h) = self.hello.map_or((0, 0), |h| (h.max_width, h.max_height));
        if width <= max_w && height <= max_h {
            return;
        }
        let msg = format!(
            "STREAM_INFO {width}x{height} for ctx {ctx} was accepted, beyond the {max_w}x{max_h} the daemon announced in RESP_HELLO"
        );
        self.violate(Invariant::ProtocolRules, None, msg);
    }

    /// dev-decoder.rst, Drain: a STOP while the decoder is already stopped
    /// has nothing to drain and completes at once, with EOS.
    fn rule_stop_while_stopped_is_eos(&mut self, ctx: u32) {
        let b = &self.contract.before;
        let (Some(stopped), None, true) = (b.ctx.stopped, b.ctx.stop, b.out_streaming) else {
            return;
        };
        if self.contract.events.contains(&(ctx, "EOS")) {
            return;
        }
        let msg = format!(
            "V4L2_DEC_CMD_STOP for ctx {ctx}, whose decoder is stopped, raised no EOS: nothing is left to drain, so the client waits for an EOS that never comes"
        );
        let setup = Some((stopped, "a LAST picture stopped the decoder".to_owned()));
        self.violate_job(Invariant::DrainRules, None, None, msg, setup);
    }

    /// dev-decoder.rst: after a LAST buffer the decoder is stopped; it
    /// decodes nothing until V4L2_DEC_CMD_START or a STREAMON.
    fn rule_no_job_while_stopped(&mut self, ctx: u32, dst: Option<usize>) {
        let Some(stopped) = self.contract_ctx(ctx).stopped else {
            return;
        };
        let msg = format!(
            "a job of ctx {ctx} went to the daemon while the decoder is stopped: a LAST picture went out and neither V4L2_DEC_CMD_START nor a STREAMON came since"
        );
        let setup = Some((stopped, "a LAST picture stopped the decoder".to_owned()));
        self.violate_job(Invariant::DrainRules, dst, None, msg, setup);
    }

    /// dev-decoder.rst: DQBUF(CAPTURE) fails with -EPIPE only after the
    /// LAST buffer was dequeued, until DEC_CMD_START or a new stream.
    fn rule_epipe_after_last(&mut self, ctx: u32) {
        if self.contract_ctx(ctx).last_dequeued.is_some() {
            return;
        }
        let setup = self
            .contract
            .get(ctx)
            .and_then(|c| c.stopped)
            .map(|e| (e, "the last LAST picture went out".to_owned()));
        let msg = format!(
            "DQBUF(CAPTURE) of ctx {ctx} failed with -EPIPE, but no LAST buffer was dequeued since the last V4L2_DEC_CMD_START or STREAMON: the client takes the stream for ended"
        );
        self.violate_job(Invariant::DrainRules, None, None, msg, setup);
    }

    /// dev-decoder.rst, Dynamic resolution change: a new coded size or a
    /// larger DPB is announced with V4L2_EVENT_SOURCE_CHANGE.
    fn rule_new_format_is_announced(&mut self, ctx: u32, width: u32, height: u32, dpb: u32) {
        let pos = self.ev;
        let (w, h) = (width.next_multiple_of(16), height.next_multiple_of(16));
        let prev = self.contract_ctx(ctx).info.replace((w, h, dpb, pos));
        let Some((pw, ph, pdpb, pev)) = prev else {
            return;
        };
        if (w, h) == (pw, ph) && dpb <= pdpb {
            return;
        }
        if self.contract.events.contains(&(ctx, "SOURCE_CHANGE")) {
            return;
        }
        let msg = format!(
            "STREAM_INFO for ctx {ctx} changed the stream from {pw}x{ph} (DPB {pdpb}) to {w}x{h} (DPB {dpb}), but raised no V4L2_EVENT_SOURCE_CHANGE: the client keeps CAPTURE buffers of the old format"
        );
        let setup = Some((pev, format!("STREAM_INFO {pw}x{ph}, DPB {pdpb}")));
        self.violate_job(Invariant::FormatRules, None, None, msg, setup);
    }

    /// SOURCE_CHANGE at STREAMON(OUTPUT) announces the format S_FMT(OUTPUT)
    /// implies, for clients that wait for it; once the daemon has told the
    /// stream's format, that format stands until a STREAM_INFO changes it.
    fn rule_no_provisional_format_once_known(&mut self, ctx: u32) {
        let Some(Event::Streamon {
            queue: Queue::Output,
            ..
        }) = self.contract.before.ev
        else {
            return;
        };
        let Some((w, h, dpb, pev)) = self.contract_ctx(ctx).info else {
            return;
        };
        let msg = format!(
            "STREAMON(OUTPUT) of ctx {ctx} raised V4L2_EVENT_SOURCE_CHANGE, but the stream's format ({w}x{h}, DPB {dpb}) is known and did not change: the client reallocates CAPTURE for nothing"
        );
        let setup = Some((pev, format!("STREAM_INFO {w}x{h}, DPB {dpb}")));
        self.violate_job(Invariant::FormatRules, None, None, msg, setup);
    }

    /// A job's CAPTURE buffer holds a picture of the current format.
    fn rule_dst_holds_a_picture(&mut self, ctx: u32, dst: usize) {
        let Some((w, h, _, pev)) = self.contract_ctx(ctx).info else {
            return;
        };
        let len = self.bufs[dst].m2m.vb.vb2_buf.planes[0].length;
        let need = picture_bytes(w, h);
        if u64::from(len) >= need {
            return;
        }
        let msg = format!(
            "a job of ctx {ctx} hands the daemon {} of {len} bytes for pictures of {w}x{h} ({need} bytes)",
            self.info[dst].name
        );
        let setup = Some((pev, format!("STREAM_INFO {w}x{h}")));
        self.violate_job(Invariant::FormatRules, Some(dst), None, msg, setup);
    }

    /// REQBUFS(CAPTURE) once the stream is known gives at least
    /// V4L2_CID_MIN_BUFFERS_FOR_CAPTURE buffers.
    fn rule_reqbufs_gives_min_buffers(&mut self, ctx: u32) {
        let Some(slot) = self.slot_of_id(ctx) else {
            return;
        };
        let Some((w, h, _, pev)) = self.contract_ctx(ctx).info else {
            return;
        };
        let front = self.front_ptr(slot);
        // SAFETY: the front is live; the control's value is read under its
        // lock and calls nothing back in the mock.
        let min = unsafe { c_call!(self.core, front_min_buffers(front)) };
        let got = self.ctxs[slot].cap.bufs.len() as u32;
        if got == 0 || got >= min {
            return;
        }
        let msg = format!(
            "REQBUFS(CAPTURE) of ctx {ctx} gave {got} buffer(s), fewer than V4L2_CID_MIN_BUFFERS_FOR_CAPTURE ({min}) for the {w}x{h} stream"
        );
        let setup = Some((pev, format!("STREAM_INFO {w}x{h}")));
        self.violate_job(Invariant::FormatRules, None, None, msg, setup);
    }

    /// A session error or the daemon's detach puts the context's queues in
    /// error: QBUF and DQBUF fail with -EIO instead of waiting forever.
    fn rule_failure_errors_the_queues(&mut self, ctx: u32, what: &str) {
        let pos = self.ev;
        self.contract_ctx(ctx).failed = Some(pos);
        let Some(slot) = self.slot_of_id(ctx) else {
            return;
        };
        let c = &self.ctxs[slot];
        if c.out.error && c.cap.error {
            return;
        }
        let msg = format!(
            "{what} failed ctx {ctx}, but its queues are not in error: the client's DQBUF waits for buffers that will never come"
        );
        self.violate(Invariant::ErrorRules, None, msg);
    }

    /// docs/protocol.md: REQ_DECODE names a session the daemon has: one
    /// opened and not ended by a session error, the daemon's detach or
    /// REQ_SESSION_CLOSE.
    fn rule_jobs_only_for_a_session(&mut self, ctx: u32, dst: Option<usize>) {
        let c = self.contract_ctx(ctx);
        if c.session.is_some() {
            return;
        }
        let setup = c
            .session_ended
            .map(|e| (e, format!("the session of ctx {ctx} ended")));
        let msg = format!(
            "a job of ctx {ctx} went to the daemon, but the context has no session: the daemon drops it and the device waits for the watchdog"
        );
        self.violate_job(Invariant::ProtocolRules, dst, None, msg, setup);
    }

    /// docs/protocol.md: a seek (STREAMOFF(OUTPUT)) of a context with a
    /// session sends REQ_RESET, so the daemon drops the old stream.
    fn rule_reset_at_streamoff(&mut self, ctx: u32) {
        let b = &self.contract.before;
        let (Some(session), true, true) = (b.ctx.session, b.out_started, b.daemon_ready) else {
            return;
        };
        if self.contract.requests.contains(&(ctx, "RESET")) {
            return;
        }
        let msg = format!(
            "STREAMOFF(OUTPUT) of ctx {ctx}, whose session is open, sent no REQ_RESET: the daemon goes on decoding the old stream into the new one"
        );
        let setup = Some((session, "REQ_SESSION_OPEN".to_owned()));
        self.violate_job(Invariant::ProtocolRules, None, None, msg, setup);
    }

    /// docs/protocol.md: REQ_FLUSH follows every source queued before the
    /// drain, so the daemon ends the stream after them.
    fn rule_flush_after_sources(&mut self, ctx: u32) {
        let pos = self.ev;
        let stop = self.contract_ctx(ctx).stop;
        self.contract_ctx(ctx).flushed = Some(pos);
        let Some(slot) = self.slot_of_id(ctx) else {
            return;
        };
        let Some(src) = self.first_ready(slot, Queue::Output) else {
            return;
        };
        let msg = format!(
            "REQ_FLUSH for ctx {ctx} went out while {} still waits on the ready queue: the daemon ends the stream without it",
            self.info[src].name
        );
        let setup = stop.map(|e| (e, "V4L2_DEC_CMD_STOP".to_owned()));
        self.violate_job(Invariant::ProtocolRules, Some(src), None, msg, setup);
    }

    /// docs/protocol.md: a capture-only job (F_NO_SRC) only after
    /// REQ_FLUSH: before it, the daemon has no end of stream to drain to.
    fn rule_capture_only_after_flush(&mut self, ctx: u32, dst: Option<usize>) {
        let c = self.contract_ctx(ctx);
        if c.flushed.is_some() {
            return;
        }
        let setup = c.stop.map(|e| (e, "V4L2_DEC_CMD_STOP".to_owned()));
        let msg = format!(
            "a capture-only job of ctx {ctx} went to the daemon before REQ_FLUSH: the daemon holds the buffer for a picture no flush will produce"
        );
        self.violate_job(Invariant::ProtocolRules, dst, None, msg, setup);
    }

    /// docs/protocol.md: closing a context with a session sends
    /// REQ_SESSION_CLOSE, and nothing else for it (no REQ_RESET or
    /// REQ_CAPTURE_OFF for queues stopped by the close).
    fn rule_close_ends_the_session(&mut self, ctx: u32) {
        let b = &self.contract.before;
        let (session, ready) = (b.ctx.session, b.daemon_ready);
        let sent: Vec<&str> = self
            .contract
            .requests
            .iter()
            .filter(|r| r.0 == ctx)
            .map(|r| r.1)
            .collect();
        let closes = sent.iter().filter(|w| **w == "SESSION_CLOSE").count();
        let other = sent.iter().find(|w| **w != "SESSION_CLOSE");
        let msg = if let Some(w) = other {
            format!(
                "close of ctx {ctx} sent REQ_{w}: a closing context's session ends with REQ_SESSION_CLOSE alone"
            )
        } else if session.is_some() && ready && closes != 1 {
            format!("close of ctx {ctx}, whose session is open, sent {closes} REQ_SESSION_CLOSE")
        } else {
            return;
        };
        let setup = session.map(|e| (e, "REQ_SESSION_OPEN".to_owned()));
        self.violate_job(Invariant::ProtocolRules, None, None, msg, setup);
    }

    fn open_sessions(&self) -> u32 {
        self.contract
            .ctxs
            .iter()
            .filter(|e| e.1.session.is_some())
            .count() as u32
    }

    /// The in-flight table is sized for DAEDALUS_MAX_CONTEXTS sessions (or
    /// a `limits` event's): a session beyond them is never opened.
    fn rule_session_limit(&mut self, ctx: u32) {
        let open = self.open_sessions();
        let pos = self.ev;
        self.contract_ctx(ctx).session = Some(pos);
        if open < self.contract.max_sessions {
            return;
        }
        let msg = format!(
            "REQ_SESSION_OPEN for ctx {ctx} while {open} sessions are open: the module has room for {}",
            self.contract.max_sessions
        );
        self.violate(Invariant::ProtocolRules, None, msg);
    }

    /// ... and STREAMON(OUTPUT) is refused with -EBUSY only when they are
    /// all taken.
    fn rule_busy_only_when_full(&mut self, ctx: u32) {
        let open = self.open_sessions();
        if open >= self.contract.max_sessions {
            return;
        }
        let msg = format!(
            "STREAMON(OUTPUT) of ctx {ctx} was refused with -EBUSY while only {open} of {} sessions are open",
            self.contract.max_sessions
        );
        self.violate(Invariant::ProtocolRules, None, msg);
    }

    /// A decoder neither stopped nor failed, with a session, a daemon,
    /// both queues streaming, a CAPTURE buffer ready that holds a picture
    /// and a source ready (or a flushed drain), runs a job: idle after an
    /// event and its m2m work is a hang.
    fn rule_a_live_decoder_runs(&mut self, slot: usize) {
        let c = &self.ctxs[slot];
        if !c.open || !c.out.streaming || !c.cap.streaming || !self.daemon_ready() {
            return;
        }
        if self.violation.is_some()
            || self.curr_ctx.is_some()
            || !self.job_queue.is_empty()
            || c.running_jobs > 0
        {
            return;
        }
        let id = c.id;
        let Some(m) = self.contract.get(id) else {
            return;
        };
        if m.session.is_none() || m.stopped.is_some() || m.failed.is_some() {
            return;
        }
        let (stop, flushed, info) = (m.stop, m.flushed, m.info);
        let Some(dst) = self.first_ready(slot, Queue::Capture) else {
            return;
        };
        // A source, or a flushed drain (capture-only jobs).
        let src = self.first_ready(slot, Queue::Output);
        let draining = stop.is_some() && flushed.is_some();
        if src.is_none() && !draining {
            return;
        }
        // A buffer a job also holds is another oracle's (double owner).
        if self.info[dst].own != Own::Ready || src.is_some_and(|s| self.info[s].own != Own::Ready) {
            return;
        }
        let fits = info.is_none_or(|(w, h, _, _)| {
            u64::from(self.bufs[dst].m2m.vb.vb2_buf.planes[0].length) >= picture_bytes(w, h)
        });
        if !fits {
            return;
        }
        let work = match src {
            Some(s) => format!("{} and {} wait", self.info[s].name, self.info[dst].name),
            None => format!("its drain is flushed and {} waits", self.info[dst].name),
        };
        let msg = format!(
            "ctx {id} is neither stopped nor failed, has a session, and {work} on the ready queues, but the decoder runs nothing: the client waits forever"
        );
        self.violate(Invariant::Hang, Some(dst), msg);
    }
}
