//! What a run can conclude: the outcome log records, the invariants of
//! docs/design.md ("Buffer ownership") and a violation naming the invariant, the
//! buffer, the event that broke it and the event that set it up.

use std::fmt;

pub(crate) mod contract;
pub(crate) mod rules;

use crate::scenario::Queue;

/// The buffer-ownership invariants the oracles check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Invariant {
    /// DEBUG_LIST: list_del/list_add on a node that is not where it claims.
    ListCorruption,
    /// A buffer got a second `buf_done`.
    DoubleBufDone,
    /// `buf_done` on a buffer the driver does not own (not ACTIVE).
    BufDoneNotActive,
    /// A buffer was completed while still linked on a ready queue.
    DoneWhileLinked,
    /// A buffer held by two owners at once (two jobs, or a job and the
    /// ready queue) that nothing else caught before the run ended.
    DoubleOwner,
    /// `job_finish` without a running m2m job, or twice for one device_run.
    JobFinishImbalance,
    /// vb2 warned "leaving buffer in active state" at STREAMOFF.
    LeftActiveAtStreamoff,
    /// A closed context left buffers or jobs behind.
    LeakAtClose,
    /// A reply naming a dead cookie changed state instead of being refused.
    DeadCookieChangedState,
    /// A job nobody can finish, a cancel that would wait forever, a lock
    /// taken twice, or ready buffers and an idle device but no device_run.
    Hang,
    /// A picture carries a timestamp other than its producing source's.
    WrongTimestamp,
    /// LAST flag, EOS event or -EPIPE out of step with the drain.
    DrainRules,
    /// Right after a STREAMOFF, close, session error, daemon detach or
    /// watchdog expiry, a job of its scope is still alive: a buffer still
    /// claimed or parked, or the job still running. The kernel notices
    /// nothing at that moment; the client waits, and a later reply to the
    /// job is applied.
    ScopeNotEnded,
    /// A reply was applied to a job of another stream generation than the
    /// one it names, or than its context's current one.
    StaleGenerationApplied,
    /// A cookie was issued again while a reply to its previous holder
    /// could still arrive: an old reply would name the new job.
    CookieReissued,
    /// SRC_CONSUMED was accepted but the job was not finished at once: the
    /// m2m device stays held until the watchdog.
    ConsumedNotFinished,
    /// The device is held by a job whose context cannot progress (failed
    /// session, closed file, no daemon), or the watchdog had to end a job
    /// the daemon had answered.
    Stall,
    /// device_run/job_finish cycles with no buffer changing hands: the m2m
    /// workqueue would spin forever.
    Livelock,
    /// A ready queue's `num_rdy` differs from the length of its list.
    NumRdy,
    /// The CAPTURE format's contract broken: a new coded size or a larger
    /// DPB not announced with SOURCE_CHANGE, a provisional format announced
    /// once the stream's is known, a job's CAPTURE buffer too small for a
    /// picture, REQBUFS below V4L2_CID_MIN_BUFFERS_FOR_CAPTURE.
    FormatRules,
    /// A failure (session error, daemon gone) that left the context's
    /// queues working: the client waits instead of seeing -EIO.
    ErrorRules,
    /// A picture or a source completed otherwise than the daemon said: its
    /// state (ERROR), its payload, its bytes, its field, its sequence.
    PictureRules,
    /// A request the daemon must get was not sent, or one it must not get
    /// was: REQ_RESET at a seek, REQ_FLUSH after the last source, a
    /// capture-only job only after REQ_FLUSH, REQ_SESSION_CLOSE alone at
    /// close, at most DAEDALUS_MAX_CONTEXTS sessions.
    ProtocolRules,
    /// The requests queued for the daemon and not read grew past their
    /// bound (kmod/daedalus_outq.h), or the queue's counters disagree with
    /// what it holds.
    QueueBound,
    /// A request's life broken: its buffer done and the request not
    /// complete (its controls never completed), a request of a context
    /// left QUEUED past its STREAMOFF or close, a job decoding a request's
    /// buffer with another request's controls, or the media core's
    /// warnings (an object completed or bound out of its request's state).
    RequestRules,
}

impl Invariant {
    /// Short machine name (file names, tables).
    pub const fn name(self) -> &'static str {
        match self {
            Invariant::ListCorruption => "list-corruption",
            Invariant::DoubleBufDone => "double-buf-done",
            Invariant::BufDoneNotActive => "buf-done-not-active",
            Invariant::DoneWhileLinked => "done-while-linked",
            Invariant::DoubleOwner => "double-owner",
            Invariant::JobFinishImbalance => "job-finish-imbalance",
            Invariant::LeftActiveAtStreamoff => "left-active-at-streamoff",
            Invariant::LeakAtClose => "leak-at-close",
            Invariant::DeadCookieChangedState => "dead-cookie-changed-state",
            Invariant::Hang => "hang",
            Invariant::WrongTimestamp => "wrong-timestamp",
            Invariant::DrainRules => "drain-rules",
            Invariant::ScopeNotEnded => "scope-not-ended",
            Invariant::StaleGenerationApplied => "stale-generation-applied",
            Invariant::CookieReissued => "cookie-reissued",
            Invariant::ConsumedNotFinished => "consumed-not-finished",
            Invariant::Stall => "stall",
            Invariant::Livelock => "livelock",
            Invariant::NumRdy => "num-rdy",
            Invariant::FormatRules => "format-rules",
            Invariant::ErrorRules => "error-rules",
            Invariant::PictureRules => "picture-rules",
            Invariant::ProtocolRules => "protocol-rules",
            Invariant::QueueBound => "queue-bound",
            Invariant::RequestRules => "request-rules",
        }
    }

    /// The rule, in the words of docs/design.md.
    pub const fn rule(self) -> &'static str {
        match self {
            Invariant::ListCorruption => "no buffer is removed from a list it is not on",
            Invariant::DoubleBufDone | Invariant::BufDoneNotActive => {
                "every claimed buffer gets exactly one buf_done"
            }
            Invariant::DoneWhileLinked => "no buffer is done while still linked",
            Invariant::DoubleOwner => {
                "a buffer is on its ready queue, or claimed by one job, or done"
            }
            Invariant::JobFinishImbalance => "every device_run gets exactly one job_finish",
            Invariant::LeftActiveAtStreamoff => "STREAMOFF returns every claimed or parked buffer",
            Invariant::LeakAtClose => "close returns every claimed or parked buffer",
            Invariant::DeadCookieChangedState => {
                "late replies for dead cookies are rejected, never applied"
            }
            Invariant::Hang => "never a hang",
            Invariant::WrongTimestamp => {
                "a picture is stamped with the timestamp of the source that produced it"
            }
            Invariant::DrainRules => "a drain ends with EOS, one LAST picture, then -EPIPE",
            Invariant::ScopeNotEnded => {
                "STREAMOFF, close, daemon death and watchdog expiry return every claimed or parked buffer and finish a running job"
            }
            Invariant::StaleGenerationApplied => {
                "a reply is applied only to a live job of its context's current stream generation"
            }
            Invariant::CookieReissued => {
                "a cookie is never issued again while a reply to its previous holder could arrive"
            }
            Invariant::ConsumedNotFinished => {
                "SRC_CONSUMED accepted means the job is finished at once"
            }
            Invariant::Stall => "the device is never held by a job whose context cannot progress",
            Invariant::Livelock => {
                "a run of device_run/job_finish cycles with no buffer changing hands is a livelock"
            }
            Invariant::NumRdy => "each ready queue's num_rdy equals its list's length",
            Invariant::FormatRules => {
                "the client is told every new CAPTURE format, and buffers hold its pictures"
            }
            Invariant::ErrorRules => "a failed context's queues report the failure",
            Invariant::PictureRules => {
                "a buffer completes as the daemon delivered it: state, size, bytes, field, sequence"
            }
            Invariant::ProtocolRules => {
                "the daemon gets exactly the requests the protocol promises"
            }
            Invariant::QueueBound => {
                "a daemon that stops reading never makes the module hold more than its bound"
            }
            Invariant::RequestRules => {
                "a request completes once, with its buffer, and its job decodes with its controls"
            }
        }
    }
}

/// A vb2 buffer, by context, queue and index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BufName {
    /// Scenario context id.
    pub ctx: u32,
    /// Queue.
    pub queue: Queue,
    /// vb2 index.
    pub index: u32,
}

impl fmt::Display for BufName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ctx {} {} #{}",
            self.ctx,
            self.queue.v4l2_name(),
            self.index
        )
    }
}

/// Where a buffer is, as the replay's ledger sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Own {
    /// Allocated, with the client.
    Dequeued,
    /// Queued by the client, not yet given to the driver (not streaming).
    Queued,
    /// Queued by the client into a request (by its scenario name) that is
    /// not queued yet: vb2's IN_REQUEST.
    InRequest(u32),
    /// On its m2m ready queue: owned by the driver, unclaimed.
    Ready,
    /// Claimed by a running job.
    Claimed(u64),
    /// Parked: the job finished, the CAPTURE buffer waits for pixels.
    Parked(u64),
    /// Completed, on vb2's done list (state DONE or ERROR).
    Done(u32),
    /// Freed by REQBUFS(0) or close.
    Freed,
}

/// A change of one buffer's place: its ledger state and whether it is
/// linked on its m2m ready queue, right after the change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Move {
    /// The scenario event during which it happened.
    pub pos: usize,
    /// How many outcome-log records came before it (its order among them).
    pub seq: usize,
    /// The buffer.
    pub buf: BufName,
    /// Its ledger state.
    pub own: Own,
    /// Linked on its ready queue.
    pub linked: bool,
}

/// A scenario event, as it appears in diagnostics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRef {
    /// Position in the scenario (from 0).
    pub pos: usize,
    /// Line in the scenario text.
    pub line: u32,
    /// The event as scenario text.
    pub text: String,
}

impl fmt::Display for EventRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} `{}`", self.line, self.text)
    }
}

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Which invariant.
    pub invariant: Invariant,
    /// The buffer it concerns, if one.
    pub buffer: Option<BufName>,
    /// The job it concerns, by context and cookie, if one.
    pub job: Option<(u32, u64)>,
    /// The request (its scenario name) whose buffer or job it concerns,
    /// on a stateless context.
    pub request: Option<u32>,
    /// What was seen, in the words the kernel would print.
    pub detail: String,
    /// The event during which it broke.
    pub broke: EventRef,
    /// The earlier event that set it up, and what it did.
    pub setup: Option<(EventRef, String)>,
    /// The buffer's ownership history up to the break.
    pub history: Vec<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "violation: {} ({})",
            self.invariant.name(),
            self.invariant.rule()
        )?;
        if let Some(b) = self.buffer {
            writeln!(f, "  buffer:  {b}")?;
        }
        if let Some((ctx, cookie)) = self.job {
            writeln!(f, "  job:     ctx {ctx} cookie {cookie:#x}")?;
        }
        if let Some(r) = self.request {
            writeln!(f, "  request: {r}")?;
        }
        writeln!(f, "  broke:   {}", self.broke)?;
        writeln!(f, "           {}", self.detail)?;
        if let Some((e, what)) = &self.setup {
            writeln!(f, "  set up:  {e}")?;
            writeln!(f, "           {what}")?;
        }
        if !self.history.is_empty() {
            writeln!(f, "  history:")?;
            for h in &self.history {
                writeln!(f, "    {h}")?;
            }
        }
        Ok(())
    }
}

/// The conclusion of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every invariant held.
    Clean,
    /// The first broken invariant; the run stopped at its event.
    Violation(Box<Violation>),
}

impl Verdict {
    /// Whether the run was clean.
    pub fn is_clean(&self) -> bool {
        matches!(self, Verdict::Clean)
    }

    /// The violation, if any.
    pub fn violation(&self) -> Option<&Violation> {
        match self {
            Verdict::Clean => None,
            Verdict::Violation(v) => Some(v),
        }
    }
}

/// vb2 buffer states, as in `enum vb2_buffer_state`.
pub fn state_name(state: u32) -> &'static str {
    use crate::core::ffi::*;
    match state {
        VB2_BUF_STATE_DEQUEUED => "DEQUEUED",
        VB2_BUF_STATE_IN_REQUEST => "IN_REQUEST",
        VB2_BUF_STATE_PREPARING => "PREPARING",
        VB2_BUF_STATE_QUEUED => "QUEUED",
        VB2_BUF_STATE_ACTIVE => "ACTIVE",
        VB2_BUF_STATE_DONE => "DONE",
        VB2_BUF_STATE_ERROR => "ERROR",
        _ => "?",
    }
}

/// `enum daedalus_finish_reason` names.
pub fn finish_name(reason: u32) -> &'static str {
    use crate::core::ffi::*;
    match reason {
        DAEDALUS_FINISH_CONSUMED => "consumed",
        DAEDALUS_FINISH_INVALID => "invalid",
        DAEDALUS_FINISH_SEND_FAILED => "send_failed",
        DAEDALUS_FINISH_ABORT => "abort",
        DAEDALUS_FINISH_CANCEL => "cancel",
        DAEDALUS_FINISH_DETACH => "detach",
        DAEDALUS_FINISH_EXPIRED => "expired",
        DAEDALUS_FINISH_IDLE => "idle",
        DAEDALUS_FINISH_NO_SRC => "no_src",
        _ => "?",
    }
}

/// One entry of the outcome log: what the driver did, in order. The same
/// log is produced by the KUnit executor, so this is the differential
/// check's unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// The job core started a job (tracepoint daedalus_device_run).
    DeviceRun {
        ctx: u32,
        cookie: u64,
        src: u32,
        dst: u32,
        ts: u64,
    },
    /// A buffer left its ready queue for a job.
    Claim { ctx: u32, cookie: u64, buf: BufName },
    /// A job finished with its CAPTURE buffer still waiting for pixels.
    Park { ctx: u32, cookie: u64, buf: BufName },
    /// The job core completed a buffer.
    BufDone {
        ctx: u32,
        cookie: u64,
        buf: BufName,
        state: u32,
        ts: u64,
    },
    /// The job core finished an m2m job.
    JobFinish { ctx: u32, cookie: u64, reason: u32 },
    /// A daemon message was refused.
    Reject { reason: u32, ty: u32, cookie: u64 },
    /// A buffer completed outside the job core (front or vb2).
    Vb2Done { buf: BufName, state: u32 },
    /// A request queued for the daemon.
    Request {
        ctx: u32,
        what: &'static str,
        cookie: u64,
        arg: u64,
    },
    /// The daemon read a request (it may have been queued events before,
    /// and what the queue coalesced is never read).
    Read {
        ctx: u32,
        what: &'static str,
        cookie: u64,
        arg: u64,
    },
    /// A V4L2 event queued to the client.
    V4l2Event { ctx: u32, what: &'static str },
    /// DQBUF's result: the buffer (with LAST) or an errno.
    Dqbuf {
        ctx: u32,
        queue: Queue,
        result: Result<(u32, bool, u64), i32>,
    },
    /// A RESP_FRAME passed the codec and went to the job core.
    Frame { ctx: u32, cookie: u64, flags: u32 },
    /// A queue started or stopped streaming (start/stop_streaming).
    Stream { ctx: u32, queue: Queue, on: bool },
    /// A drain phase (V4L2_DEC_CMD_STOP "start", START "restart").
    Drain { ctx: u32, phase: &'static str },
    /// The daemon completed its handshake or went away.
    Daemon { attach: bool },
    /// A request completed (COMPLETE: a client polling it wakes).
    ReqDone { req: u32 },
    /// A stateless job went to the daemon with the controls of this tag
    /// (None: the context's defaults, no request applied yet).
    Controls {
        ctx: u32,
        cookie: u64,
        tag: Option<u32>,
    },
    /// An ioctl or daemon write failed with an errno.
    Errno {
        ctx: u32,
        what: &'static str,
        errno: i32,
    },
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Record::DeviceRun {
                ctx,
                cookie,
                src,
                dst,
                ts,
            } => {
                write!(
                    f,
                    "device_run ctx={ctx} cookie={cookie:#x} src={} dst={dst} ts={ts}",
                    *src as i32
                )
            }
            Record::Claim { ctx, cookie, buf } => {
                write!(f, "claim ctx={ctx} cookie={cookie:#x} {buf}")
            }
            Record::Park { ctx, cookie, buf } => {
                write!(f, "park ctx={ctx} cookie={cookie:#x} {buf}")
            }
            Record::BufDone {
                ctx,
                cookie,
                buf,
                state,
                ts,
            } => {
                write!(
                    f,
                    "buf_done ctx={ctx} cookie={cookie:#x} {buf} {} ts={ts}",
                    state_name(*state)
                )
            }
            Record::JobFinish {
                ctx,
                cookie,
                reason,
            } => {
                write!(
                    f,
                    "job_finish ctx={ctx} cookie={cookie:#x} {}",
                    finish_name(*reason)
                )
            }
            Record::Reject { reason, ty, cookie } => {
                write!(
                    f,
                    "reject {} type={ty:#x} cookie={cookie:#x}",
                    crate::core::reject_name(*reason)
                )
            }
            Record::Vb2Done { buf, state } => write!(f, "vb2_done {buf} {}", state_name(*state)),
            Record::Request {
                ctx,
                what,
                cookie,
                arg,
            } => {
                write!(f, "request {what} ctx={ctx} cookie={cookie:#x} arg={arg}")
            }
            Record::Read {
                ctx,
                what,
                cookie,
                arg,
            } => {
                write!(f, "read {what} ctx={ctx} cookie={cookie:#x} arg={arg}")
            }
            Record::V4l2Event { ctx, what } => write!(f, "event {what} ctx={ctx}"),
            Record::Dqbuf { ctx, queue, result } => match result {
                Ok((i, last, ts)) => {
                    write!(
                        f,
                        "dqbuf ctx={ctx} q={} index={i} ts={ts}{}",
                        queue.name(),
                        if *last { " LAST" } else { "" }
                    )
                }
                Err(e) => write!(f, "dqbuf ctx={ctx} q={} -{}", queue.name(), errno_name(*e)),
            },
            Record::Frame { ctx, cookie, flags } => {
                write!(
                    f,
                    "frame ctx={ctx} cookie={cookie:#x} flags={}",
                    crate::scenario::Flags(*flags)
                )
            }
            Record::Stream { ctx, queue, on } => {
                write!(
                    f,
                    "stream ctx={ctx} q={} {}",
                    queue.name(),
                    if *on { "on" } else { "off" }
                )
            }
            Record::Drain { ctx, phase } => write!(f, "drain ctx={ctx} {phase}"),
            Record::Daemon { attach } => {
                write!(f, "daemon {}", if *attach { "attach" } else { "detach" })
            }
            Record::Errno { ctx, what, errno } => {
                write!(f, "{what} ctx={ctx} -{}", errno_name(*errno))
            }
            Record::ReqDone { req } => write!(f, "request_done req={req}"),
            Record::Controls { ctx, cookie, tag } => match tag {
                Some(t) => write!(f, "controls ctx={ctx} cookie={cookie:#x} tag={t}"),
                None => write!(f, "controls ctx={ctx} cookie={cookie:#x} defaults"),
            },
        }
    }
}

/// Errno names for the values the driver returns.
pub fn errno_name(e: i32) -> String {
    use crate::core::ffi::*;
    match e {
        EPERM => "EPERM".into(),
        EIO => "EIO".into(),
        EBADF => "EBADF".into(),
        EAGAIN => "EAGAIN".into(),
        EBUSY => "EBUSY".into(),
        ENOENT => "ENOENT".into(),
        EBADR => "EBADR".into(),
        EINVAL => "EINVAL".into(),
        EPIPE => "EPIPE".into(),
        ENODATA => "ENODATA".into(),
        EPROTO => "EPROTO".into(),
        ENOTCONN => "ENOTCONN".into(),
        ECANCELED => "ECANCELED".into(),
        n => format!("E{n}"),
    }
}
