//! The userspace executor: plays a scenario against the real job core and
//! decoder front (or a mutant's) linked with the m2m/vb2 mock. It stands in
//! for what the kernel framework does around them (vb2's queues, the m2m
//! scheduler) and for the glue of kmod/daedalus_vdec.c (&struct
//! daedalus_front_ops) and of the character device (messages go through
//! the module's own dispatcher and codec); every decision of the decoder
//! is kmod/daedalus_front.c's.
//!
//! Deterministic: the m2m workqueue runs after each event, time only moves
//! on `tick`, and nothing depends on addresses.

use std::ffi::c_void;

use daedalus_proto::{
    Codec, HELLO_F_CAPTURE_FMT, HELLO_F_MAPPED, MsgType, Pixfmt, RespFrame, RespHello,
    RespResetDone, RespSessionError, RespStreamInfo,
};

use crate::core::{self, CoreFns, DispatchOps, FrontLimits, FrontOps, MsgHello, MsgStreamInfo};
use crate::mock::{
    self, CtxState, Delivery, ENOTCONN, JobModel, M2mCtx, MockBuf, Own, QueueCtx,
    VB2_BUF_STATE_ACTIVE, VB2_BUF_STATE_ERROR, VB2_BUF_STATE_QUEUED, Vb2Q, World,
};
use crate::model::Scenario;
use crate::oracle::{BufName, Invariant, Move, Record, Verdict};
use crate::scenario::{Event, FRAME_HAS_PIXELS, JobRef, MAX_INLINE_PICTURE, Queue};

/// Bytes of an OUTPUT buffer: the front's default OUTPUT sizeimage, for
/// its default 1920x1080 format (w * h * 3 / 4, above
/// DAEDALUS_MIN_BITSTREAM). Clients that fill whole buffers (v4l2-ctl,
/// v4l2-compliance) queue that much.
pub const OUTPUT_BUF_SIZE: u32 = 1920 * 1080 * 3 / 4;
/// Most buffers one queue may have (VB2_MAX_FRAME).
pub const MAX_BUFFERS: u32 = 64;
/// DAEDALUS_MAX_CAPTURE_BUFS: the CAPTURE queue's max_num_buffers
/// (vb2 clamps REQBUFS to it).
pub fn max_capture_buffers() -> u32 {
    // SAFETY: the glue returns a constant.
    unsafe { core::daedalus_shim_max_capture_bufs() }
}

/// Most contexts one run may open.
pub const MAX_CONTEXTS: usize = 16;

const EINVAL: i32 = 22;
const EBUSY: i32 = 16;
const EBADF: i32 = 9;
const EAGAIN: i32 = 11;
const EPIPE: i32 = 32;
const EIO: i32 = 5;

/// A buffer timestamp after a trip through `struct v4l2_buffer`'s
/// `timeval`: QBUF hands the driver `tv_sec * 10^9 + tv_usec * 1000`
/// (`v4l2_buffer_get_timestamp`) and DQBUF hands the client
/// `ns / 1000` microseconds (`v4l2_buffer_set_timestamp`), so whatever is
/// below a microsecond is gone.
pub const fn timeval_ns(ts: u64) -> u64 {
    ts - ts % 1000
}

/// How to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Which compiled job core: "real" or a mutant's name.
    pub core: String,
    /// Keep the outcome log (off for benchmarks and fuzzing speed).
    pub keep_log: bool,
    /// The job watchdog's budget.
    pub timeout_ns: u64,
    /// The daemon offers mapped jobs (RESP_HELLO F_MAPPED): every job goes
    /// F_MAPPED, its pictures come without inline bytes.
    pub mapped: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            core: "real".into(),
            keep_log: true,
            timeout_ns: 2_000_000_000,
            mapped: false,
        }
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// No compiled core has this name.
    #[error("no job core variant named `{0}` (have: {1})")]
    UnknownCore(String, String),
    /// The shim headers and the Rust mirrors disagree.
    #[error("shim layout mismatch: {0}")]
    Layout(String),
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// What the driver did, tagged with the scenario position of the event
    /// during which it happened.
    pub log: Vec<(usize, Record)>,
    /// Every change of a buffer's ledger state or ready-queue link, in
    /// order (kept with the log).
    pub moves: Vec<Move>,
    /// Clean, or the first violation.
    pub verdict: Verdict,
    /// Events executed (all of them unless a violation stopped the run).
    pub events_run: usize,
    /// The scenario's events with their lines, for [`Outcome::io_log`].
    pub events: Vec<(u32, Event)>,
    /// The job core's counters right after the last event, as
    /// daedalus_job_stats_line() prints them; None when a violation
    /// stopped the run.
    pub final_stats: Option<String>,
}

impl Outcome {
    /// The outcome log as text, one record a line.
    pub fn log_text(&self) -> String {
        self.log.iter().map(|(_, r)| format!("{r}\n")).collect()
    }

    /// The part of the log every executor observes the same way: the job
    /// core's tracepoints (device_run, claim, park, buf_done, job_finish,
    /// reject) and the V4L2 events, in `Record`'s text form. The KUnit
    /// executor's differential check compares this, line for line.
    pub fn trace_log(&self) -> String {
        self.log
            .iter()
            .filter(|(_, r)| {
                matches!(
                    r,
                    Record::DeviceRun { .. }
                        | Record::Claim { .. }
                        | Record::Park { .. }
                        | Record::BufDone { .. }
                        | Record::JobFinish { .. }
                        | Record::Reject { .. }
                        | Record::V4l2Event { .. }
                )
            })
            .map(|(_, r)| format!("{r}\n"))
            .collect()
    }

    /// What the front did that no tracepoint shows, as the KUnit
    /// executor's io log has it: every request queued for the daemon, and
    /// per scenario line its result when it is not plain success (`L:
    /// ret=-ERRNO`, or what DQBUF returned). A tick's and a detach's are
    /// not results.
    pub fn io_log(&self) -> String {
        let mut out = String::new();
        let mut i = 0;
        for (pos, &(line, ev)) in self.events.iter().enumerate() {
            let mut result = None;
            while let Some((p, r)) = self.log.get(i) {
                if *p != pos {
                    break;
                }
                i += 1;
                match r {
                    Record::Request { what, .. } if *what != "EXPIRED" => {
                        out.push_str(&format!("{r}\n"));
                    }
                    Record::Errno { errno, .. } => {
                        result.get_or_insert(format!("ret=-{errno}"));
                    }
                    Record::Dqbuf { result: r, .. } => {
                        result.get_or_insert(match r {
                            Ok((index, last, ts)) => format!(
                                "dqbuf index={index} ts={ts}{}",
                                if *last { " LAST" } else { "" }
                            ),
                            Err(e) => format!("ret=-{e}"),
                        });
                    }
                    _ => {}
                }
            }
            if matches!(ev, Event::Tick { .. } | Event::DaemonDetach) {
                continue;
            }
            if let Some(r) = result {
                out.push_str(&format!("{line}: {r}\n"));
            }
        }
        if let Some(s) = &self.final_stats {
            out.push_str(s);
        }
        out
    }
}

/// Runs `scenario` on the job core named in `opts`.
pub fn run(scenario: &Scenario, opts: &Options) -> Result<Outcome, RunError> {
    let core = core::lookup(&opts.core)
        .ok_or_else(|| RunError::UnknownCore(opts.core.clone(), core::variants().join(", ")))?;
    mock::check_layout().map_err(RunError::Layout)?;
    let mut ex = Executor::new(core, scenario, opts);
    let guard = mock::install(&mut ex.w);
    let n = ex.run_all(scenario);
    drop(guard);
    Ok(ex.outcome(n))
}

/// Runs `prelude`, then each of `writes` as one daemon write() through the
/// module's dispatcher (kmod/daedalus_dispatch.c, with the m2m workqueue
/// and the oracles after each), then the end-of-run checks: what a hostile
/// daemon can do once the prelude set the device up. `events_run` counts
/// the writes after the prelude's events.
pub fn run_writes(
    prelude: &Scenario,
    writes: &[&[u8]],
    opts: &Options,
) -> Result<Outcome, RunError> {
    let core = core::lookup(&opts.core)
        .ok_or_else(|| RunError::UnknownCore(opts.core.clone(), core::variants().join(", ")))?;
    mock::check_layout().map_err(RunError::Layout)?;
    let mut ex = Executor::new(core, prelude, opts);
    let guard = mock::install(&mut ex.w);
    let mut n = ex.run_events(prelude);
    if !ex.failed() {
        for (i, msg) in writes.iter().enumerate() {
            ex.with(|w| {
                w.ev = prelude.lines.len() + i;
                w.steps = 0;
                w.contract_begin_write();
            });
            ex.write(msg, "write");
            n += 1;
            if !ex.step_checks() {
                break;
            }
        }
        if !ex.failed() {
            ex.end_checks();
        }
    }
    drop(guard);
    Ok(ex.outcome(n))
}

impl Executor {
    fn outcome(&mut self, events_run: usize) -> Outcome {
        Outcome {
            events: std::mem::take(&mut self.w.events),
            log: std::mem::take(&mut self.w.log),
            moves: std::mem::take(&mut self.w.moves),
            verdict: match self.w.violation.take() {
                None => Verdict::Clean,
                Some(v) => Verdict::Violation(Box::new(v)),
            },
            events_run,
            final_stats: self.w.final_stats.take(),
        }
    }
}

struct Executor {
    w: World,
}

fn zeroed_words(bytes: usize) -> Box<[u64]> {
    vec![0u64; bytes.div_ceil(8)].into_boxed_slice()
}

impl Executor {
    fn new(core: CoreFns, scenario: &Scenario, opts: &Options) -> Self {
        // SAFETY: the glue returns constants.
        let core_size = unsafe { core::daedalus_shim_sizeof_core() };
        // SAFETY: as above.
        let ctx_size = unsafe { core::daedalus_shim_sizeof_ctx() };
        // SAFETY: as above.
        let mut fdev_mem = zeroed_words(unsafe { core::daedalus_shim_sizeof_fdev() });
        // SAFETY: fdev_mem is sizeof(struct daedalus_shim_fdev), 8-aligned;
        // the world keeps it as long as any front points at it.
        let fdev = unsafe { core::daedalus_shim_fdev_init(fdev_mem.as_mut_ptr() as *mut c_void) };
        let events = scenario.lines.iter().map(|l| (l.line, l.event)).collect();
        let mut w = World {
            core,
            ctx_held: 0,
            core_mem: zeroed_words(core_size),
            fdev_mem,
            fdev,
            m2m_dev: Box::new(0),
            ops: Box::new(mock::ops()),
            bufs: Vec::new(),
            info: Vec::new(),
            ctxs: Vec::new(),
            curr_ctx: None,
            job_queue: Default::default(),
            pending_work: false,
            daemon_attached: false,
            daemon_ready: false,
            now_ns: 1_000_000_000,
            ev: 0,
            events,
            log: Vec::new(),
            moves: Vec::new(),
            violation: None,
            delivering: None,
            ctx_sizeof: ctx_size,
            keep_log: opts.keep_log,
            offer_mapped: opts.mapped,
            mapped: false,
            hello_flags: 0,
            hello_limits: (0, 0, 0),
            changes: 0,
            moved: 0,
            issued: Default::default(),
            expired: Vec::new(),
            steps: 0,
            final_stats: None,
            // SAFETY: the glue returns a constant.
            contract: crate::contract::Contract::new(unsafe { core::daedalus_shim_max_sessions() }),
        };
        let m2m_dev = &mut *w.m2m_dev as *mut u64 as *mut c_void;
        // SAFETY: core_mem is sizeof(struct daedalus_job_core) of zeroes,
        // 8-aligned; ops outlives the core (both live in the world).
        unsafe {
            (core.core_init)(
                w.core_mem.as_mut_ptr() as *mut c_void,
                m2m_dev,
                &*w.ops,
                opts.timeout_ns,
            )
        };
        Executor { w }
    }

    fn with<R>(&mut self, f: impl FnOnce(&mut World) -> R) -> R {
        mock::with(f)
    }

    fn core(&mut self) -> CoreFns {
        self.with(|w| w.core)
    }

    fn core_ptr(&mut self) -> *mut c_void {
        self.with(|w| w.core_mem.as_mut_ptr() as *mut c_void)
    }

    fn jctx(&mut self, slot: usize) -> *mut c_void {
        self.with(|w| w.ctxs[slot].jctx.as_mut_ptr() as *mut c_void)
    }

    fn failed(&mut self) -> bool {
        self.with(|w| w.violation.is_some())
    }

    fn run_all(&mut self, scenario: &Scenario) -> usize {
        let n = self.run_events(scenario);
        if !self.failed() {
            let core = self.core_ptr();
            let mut buf = [0u8; 1024];
            // SAFETY: core is the live core; buf is writable for its length.
            let len = unsafe { core::daedalus_shim_stats_line(core, buf.as_mut_ptr(), buf.len()) };
            let line = String::from_utf8_lossy(&buf[..len.min(buf.len())]).into_owned();
            self.with(|w| w.final_stats = Some(line));
            self.with(|w| {
                w.ev = scenario.lines.len();
                w.steps = 0;
            });
            self.end_checks();
        }
        n
    }

    /// The scenario's events, stopping at the first violation.
    fn run_events(&mut self, scenario: &Scenario) -> usize {
        let mut n = 0;
        for (pos, l) in scenario.lines.iter().enumerate() {
            self.with(|w| {
                w.ev = pos;
                w.steps = 0;
            });
            self.event(l.event);
            n += 1;
            if !self.step_checks() {
                break;
            }
        }
        n
    }

    /// After an event: the m2m workqueue, then the running-job, ready
    /// queue and progress checks. False once something broke.
    fn step_checks(&mut self) -> bool {
        self.run_work();
        if self.failed() {
            return false;
        }
        self.with(|w| w.contract_end());
        self.check_running();
        self.with(|w| {
            for slot in 0..w.ctxs.len() {
                if w.ctxs[slot].open {
                    w.check_num_rdy(slot, None, "");
                }
            }
        });
        self.check_stall();
        !self.failed()
    }

    /// The m2m workqueue: device_run for the next queued context, until
    /// nothing is queued. A run of device_runs in which no buffer changes
    /// hands is a livelock: the kernel's workqueue would spin forever.
    fn run_work(&mut self) {
        let mut idle_runs = 0u32;
        while self.with(|w| std::mem::take(&mut w.pending_work)) {
            let (moved, at, next) = self.with(|w| {
                (
                    w.moved,
                    w.log.len(),
                    w.job_queue.front().map(|&s| w.ctxs[s].id),
                )
            });
            try_run();
            if self.failed() {
                return;
            }
            let progress = self.with(|w| w.moved != moved);
            idle_runs = if progress { 0 } else { idle_runs + 1 };
            if idle_runs < mock::LIVELOCK_RUNS {
                continue;
            }
            self.with(|w| {
                let cycle: Vec<String> = w.log[at.min(w.log.len())..]
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
                let held = w
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
                    mock::LIVELOCK_RUNS
                );
                w.violate_job(Invariant::Livelock, None, job, msg, setup);
            });
            return;
        }
    }

    /// Invariant 4 at the moment it must hold: right after `what` (a
    /// STREAMOFF, close, session error, detach or watchdog expiry), no job
    /// of its scope (`slot`, or every context) is still running or holds
    /// a buffer. `only` narrows the scope to one job (the expired one).
    fn check_scope(&mut self, slot: Option<usize>, only: Option<u64>, what: &str) {
        self.with(|w| {
            let slots: Vec<usize> = match slot {
                Some(s) => vec![s],
                None => (0..w.ctxs.len()).collect(),
            };
            for s in slots {
                let c = &w.ctxs[s];
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
                    let how = match w.info[id].own {
                        Own::Parked(_) => "parked",
                        _ => "claimed",
                    };
                    left.push(format!("{} still {how}", w.info[id].name));
                }
                let msg = format!(
                    "{what} left job {:#x} of ctx {ctx} alive: {}",
                    j.cookie,
                    left.join(", ")
                );
                let setup = (j.issued_ev, format!("device_run sent job {:#x}", j.cookie));
                w.violate_job(
                    Invariant::ScopeNotEnded,
                    buf,
                    Some((ctx, j.cookie)),
                    msg,
                    Some(setup),
                );
                return;
            }
        });
    }

    /// Progress: a job the core still runs must belong to a context that
    /// can make progress (an open file, a live session, a daemon).
    fn check_stall(&mut self) {
        self.with(|w| {
            for (slot, c) in w.ctxs.iter().enumerate() {
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
                } else if !w.daemon_ready {
                    ("no daemon is attached", None)
                } else if w.front_state(slot).0 {
                    let setup = (c.failed_ev, format!("ctx {ctx} failed"));
                    ("its session failed", Some(setup))
                } else {
                    continue;
                };
                let msg = format!(
                    "job {cookie:#x} of ctx {ctx} holds the device, but {why}: no reply can finish it, every context waits for the watchdog"
                );
                let setup = setup.unwrap_or((j.issued_ev, format!("device_run sent job {cookie:#x}")));
                w.violate_job(Invariant::Stall, dst, Some((ctx, cookie)), msg, Some(setup));
                return;
            }
        });
    }

    /// A context the device runs must have a job the daemon or the core can
    /// still finish; otherwise v4l2_m2m_cancel_job would wait forever.
    fn check_running(&mut self) {
        self.with(|w| {
            let Some(slot) = w.curr_ctx else { return };
            let c = &w.ctxs[slot];
            if c.running_jobs > 0 {
                return;
            }
            let msg = format!(
                "ctx {} is RUNNING on the m2m device, but no job of it is left to finish: the next STREAMOFF or close waits forever",
                c.id
            );
            w.violate(Invariant::Hang, None, msg);
        });
    }

    fn end_checks(&mut self) {
        self.with(|w| w.contract_end_of_run());
        // Suspicions nothing caught: a buffer with two owners.
        self.with(|w| {
            if let Some(id) = w.info.iter().position(|b| b.suspect.is_some()) {
                let s = w.info[id].suspect.clone().unwrap_or_else(|| unreachable!());
                w.violate(Invariant::DoubleOwner, Some(id), s.what);
            }
        });
        // Ready buffers, an idle daemon and an idle device, but no device_run.
        let n = self.with(|w| w.ctxs.len());
        for slot in 0..n {
            let stall = self
                .with(|w| w.curr_ctx.is_none() && w.job_queue.is_empty() && w.would_queue(slot));
            if stall {
                self.with(|w| {
                    let id = w.ctxs[slot].id;
                    let msg = format!("ctx {id} has OUTPUT and CAPTURE buffers ready and the device is idle, but nothing scheduled a device_run");
                    w.violate(Invariant::Hang, None, msg);
                });
            }
        }
    }

    fn errno(&mut self, ctx: u32, what: &'static str, errno: i32) {
        self.with(|w| w.record(Record::Errno { ctx, what, errno }));
    }

    fn slot(&mut self, ctx: u32, what: &'static str) -> Option<usize> {
        let s = self.with(|w| w.slot_of_id(ctx));
        if s.is_none() {
            self.errno(ctx, what, EBADF);
        }
        s
    }

    fn event(&mut self, ev: Event) {
        self.with(|w| w.contract_begin(ev));
        match ev {
            Event::Open { ctx } => self.open(ctx),
            Event::Close { ctx } => {
                let slot = self.with(|w| w.slot_of_id(ctx));
                self.close(ctx);
                if let Some(slot) = slot {
                    self.check_scope(Some(slot), None, "close");
                }
            }
            Event::Reqbufs { ctx, queue, count } => self.reqbufs(ctx, queue, count),
            Event::Qbuf {
                ctx,
                queue,
                index,
                ts,
                size,
            } => self.qbuf(ctx, queue, index, ts, size),
            Event::Dqbuf { ctx, queue } => self.dqbuf(ctx, queue),
            Event::Streamon { ctx, queue } => self.streamon(ctx, queue),
            Event::Streamoff { ctx, queue } => {
                self.streamoff(ctx, queue);
                if let Some(slot) = self.with(|w| w.slot_of_id(ctx)) {
                    self.check_scope(Some(slot), None, &format!("STREAMOFF({})", queue.name()));
                }
            }
            Event::DecoderStop { ctx } => self.decoder_cmd(ctx, true),
            Event::DecoderStart { ctx } => self.decoder_cmd(ctx, false),
            Event::DaemonAttach { version } => self.attach(version),
            Event::DaemonDetach => {
                self.detach();
                self.check_scope(None, None, "the daemon's detach");
            }
            Event::Frame {
                ctx,
                job,
                flags,
                ts,
                bytes,
                generation,
            } => self.frame(ctx, job, flags, ts, bytes, generation),
            Event::StreamInfo {
                ctx,
                width,
                height,
                dpb,
            } => self.stream_info(ctx, width, height, dpb),
            Event::SessionError { ctx, code } => self.session_error(ctx, code),
            Event::ResetDone { ctx, generation } => self.reset_done(ctx, generation),
            Event::Tick { ms } => self.tick(ms),
        }
    }

    fn open(&mut self, ctx: u32) {
        let ok = self.with(|w| {
            ctx != 0
                && w.slot_of_id(ctx).is_none()
                && w.ctxs.iter().filter(|c| c.open).count() < MAX_CONTEXTS
        });
        if !ok {
            self.errno(ctx, "open", if ctx == 0 { EINVAL } else { EBUSY });
            return;
        }
        let slot = self.with(|w| {
            let slot = w.ctxs.len();
            let qctx = |output| QueueCtx {
                rdy_queue: mock::ListHead {
                    next: std::ptr::null_mut(),
                    prev: std::ptr::null_mut(),
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
                let head: *mut mock::ListHead = &mut q.rdy_queue;
                q.rdy_queue.next = head;
                q.rdy_queue.prev = head;
            }
            // v4l2_m2m_set_src_buffered(ctx->fh.m2m_ctx, true) in the front.
            m2m.out_q.buffered = true;
            w.ctxs.push(CtxState {
                id: ctx,
                open: true,
                m2m,
                jctx: zeroed_words(w.ctx_sizeof),
                job_flags: 0,
                has_stopped: false,
                out: Vb2Q::default(),
                cap: Vb2Q::default(),
                // SAFETY: the glue returns a constant.
                front: zeroed_words(unsafe { core::daedalus_shim_sizeof_front() }),
                failed_ev: 0,
                jobs: Vec::new(),
                running_jobs: 0,
                m2m_running: false,
                m2m_run_ev: 0,
            });
            slot
        });
        let jctx = self.jctx(slot);
        let m2m = self.with(|w| &mut *w.ctxs[slot].m2m as *mut M2mCtx as *mut c_void);
        let core = self.core_ptr();
        let (front, fdev) = self.with(|w| (w.front_ptr(slot), w.fdev));
        // SAFETY: jctx is sizeof(struct daedalus_job_ctx) of zeroes, front
        // sizeof(struct daedalus_front); both live as long as the world, as
        // FRONT_OPS does. daedalus_ctx_create(): the front first.
        unsafe {
            (self.core().front_init)(front, fdev, jctx, &FRONT_OPS, slot as *mut c_void);
            (self.core().ctx_init)(jctx, core, m2m, ctx);
        }
    }

    /// The context's front.
    fn front(&mut self, slot: usize) -> *mut c_void {
        self.with(|w| w.front_ptr(slot))
    }

    /// The bytes a CAPTURE buffer must hold (daedalus_front_cap_sizeimage()).
    fn cap_sizeimage(&mut self, slot: usize) -> u32 {
        let front = self.front(slot);
        // SAFETY: the front is live.
        unsafe { (self.core().front_cap_sizeimage)(front) }
    }

    fn alloc_bufs(&mut self, slot: usize, queue: Queue, count: u32) {
        let size = match queue {
            Queue::Output => OUTPUT_BUF_SIZE,
            Queue::Capture => self.cap_sizeimage(slot),
        };
        self.with(|w| {
            let ctx = w.ctxs[slot].id;
            let ty = match queue {
                Queue::Output => 10,
                Queue::Capture => 9,
            };
            for index in 0..count {
                let id = w.bufs.len();
                let mut mem = mock::plane_mem(size as usize);
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
                w.info.push(mock::BufInfo {
                    name: BufName { ctx, queue, index },
                    slot,
                    own: Own::Dequeued,
                    linked: false,
                    last_change: w.ev,
                    suspect: None,
                    history: Default::default(),
                    _mem: mem,
                    done_flags: 0,
                });
                w.note(id, "allocated (REQBUFS)".into());
                w.moved_to(id);
                w.ctxs[slot].q(queue).bufs.push(id);
            }
        });
    }

    fn reqbufs(&mut self, ctx: u32, queue: Queue, count: u32) {
        let Some(slot) = self.slot(ctx, "reqbufs") else {
            return;
        };
        let busy = self.with(|w| {
            let q = w.ctxs[slot].q(queue);
            q.streaming
        });
        if busy {
            self.errno(ctx, "reqbufs", EBUSY);
            return;
        }
        self.with(|w| {
            let q = w.ctxs[slot].q(queue);
            // vb2_core_reqbufs: a count of 0, or a queue that has buffers,
            // goes through __vb2_queue_cancel first, which also clears the
            // queue's error (vb2_queue_error from a failed session).
            if count == 0 || !q.bufs.is_empty() {
                q.error = false;
            }
            let ids = std::mem::take(&mut q.bufs);
            for id in ids {
                w.set_own(id, Own::Freed, "freed (REQBUFS)".into());
            }
            w.ctxs[slot].q(queue).done_list.clear();
        });
        // daedalus_queue_setup(), which vb2 calls for a count above 0:
        // REQBUFS(CAPTURE) gets at least V4L2_CID_MIN_BUFFERS_FOR_CAPTURE
        // once the stream is known.
        let min = if queue == Queue::Capture && count > 0 {
            let front = self.front(slot);
            // SAFETY: the front is live.
            unsafe { (self.core().front_reqbufs_min)(front) }
        } else {
            0
        };
        // vb2_core_reqbufs: at most the queue's max_num_buffers.
        let max = match queue {
            Queue::Output => MAX_BUFFERS,
            Queue::Capture => max_capture_buffers(),
        };
        self.alloc_bufs(slot, queue, count.max(min).min(max));
    }

    fn buf(&mut self, slot: usize, queue: Queue, index: u32) -> Option<usize> {
        self.with(|w| w.ctxs[slot].q(queue).bufs.get(index as usize).copied())
    }

    fn qbuf(&mut self, ctx: u32, queue: Queue, index: u32, ts: u64, size: u32) {
        let Some(slot) = self.slot(ctx, "qbuf") else {
            return;
        };
        let Some(id) = self.buf(slot, queue, index) else {
            self.errno(ctx, "qbuf", EINVAL);
            return;
        };
        let cap_size = match queue {
            Queue::Capture => self.cap_sizeimage(slot),
            Queue::Output => 0,
        };
        let ok = self.with(|w| {
            let q = w.ctxs[slot].q(queue);
            if q.error {
                return Err(EIO);
            }
            if w.info[id].own != Own::Dequeued {
                return Err(EINVAL);
            }
            let len = w.bufs[id].m2m.vb.vb2_buf.planes[0].length;
            if queue == Queue::Output && size > len {
                return Err(EINVAL);
            }
            // daedalus_buf_prepare(): a CAPTURE buffer smaller than the
            // current format's sizeimage is refused at QBUF.
            if queue == Queue::Capture && len < cap_size {
                return Err(EINVAL);
            }
            let b = &mut w.bufs[id].m2m.vb;
            b.flags = 0;
            b.vb2_buf.state = VB2_BUF_STATE_QUEUED;
            if queue == Queue::Output {
                // vb2's __copy_timestamp(): the client's timeval, not the
                // scenario's nanoseconds.
                b.vb2_buf.timestamp = timeval_ns(ts);
                b.vb2_buf.planes[0].bytesused = size;
                b.field = 1;
            } else {
                b.vb2_buf.planes[0].bytesused = 0;
            }
            w.set_own(id, Own::Queued, format!("QBUF ts={ts} size={size}"));
            Ok(w.ctxs[slot].q(queue).start_streaming_called)
        });
        match ok {
            Err(e) => self.errno(ctx, "qbuf", e),
            Ok(true) => {
                self.with(|w| w.buf_queue(id));
                try_schedule(slot);
            }
            Ok(false) => {}
        }
    }

    fn dqbuf(&mut self, ctx: u32, queue: Queue) {
        let Some(slot) = self.slot(ctx, "dqbuf") else {
            return;
        };
        let r = self.with(|w| {
            let q = w.ctxs[slot].q(queue);
            if !q.streaming {
                return Err(EINVAL);
            }
            if q.error {
                return Err(EIO);
            }
            if let Some(id) = q.done_list.pop_front() {
                let last = w.info[id].done_flags & mock::V4L2_BUF_FLAG_LAST != 0;
                if last && queue == Queue::Capture {
                    w.ctxs[slot].cap.last_buffer_dequeued = true;
                }
                let index = w.info[id].name.index;
                let ts = timeval_ns(w.bufs[id].m2m.vb.vb2_buf.timestamp);
                w.bufs[id].m2m.vb.vb2_buf.state = 0;
                w.set_own(id, Own::Dequeued, "DQBUF".into());
                return Ok((index, last, ts));
            }
            if queue == Queue::Capture && q.last_buffer_dequeued {
                return Err(EPIPE);
            }
            Err(EAGAIN)
        });
        // After a LAST buffer, CAPTURE DQBUF must say -EPIPE, not wait.
        self.with(|w| {
            if let Err(EAGAIN) = r
                && queue == Queue::Capture
                && w.front_state(slot).1
                && !w.ctxs[slot].cap.last_buffer_dequeued
                && w.ctxs[slot].cap.done_list.is_empty()
                && w.ctxs[slot].cap.owned_by_drv > 0
                && w.log.iter().any(|(_, r)| matches!(r, Record::V4l2Event { ctx: c, what: "EOS" } if *c == ctx))
                && !w.info.iter().any(|b| b.name.ctx == ctx && b.done_flags & mock::V4L2_BUF_FLAG_LAST != 0)
            {
                let msg = format!("ctx {ctx}: EOS was signalled but no CAPTURE buffer carried LAST, so DQBUF never returns -EPIPE");
                w.violate(Invariant::DrainRules, None, msg);
            }
            w.record(Record::Dqbuf { ctx, queue, result: r });
        });
    }

    fn streamon(&mut self, ctx: u32, queue: Queue) {
        let Some(slot) = self.slot(ctx, "streamon") else {
            return;
        };
        let state = self.with(|w| {
            let q = w.ctxs[slot].q(queue);
            if q.bufs.is_empty() {
                return Err(EINVAL);
            }
            Ok(q.streaming)
        });
        match state {
            Err(e) => return self.errno(ctx, "streamon", e),
            Ok(true) => return,
            Ok(false) => {}
        }
        // vb2_start_streaming: queued buffers go to the driver first, in
        // q->queued_list order, which is QBUF order (a queued buffer's last
        // change is its QBUF).
        let queued: Vec<usize> = self.with(|w| {
            let q = w.ctxs[slot].q(queue);
            q.streaming = true;
            q.start_streaming_called = true;
            q.last_buffer_dequeued = false;
            let ids = q.bufs.clone();
            let mut queued: Vec<usize> = ids
                .into_iter()
                .filter(|&id| w.info[id].own == Own::Queued)
                .collect();
            queued.sort_by_key(|&id| w.info[id].last_change);
            queued
        });
        for id in queued {
            self.with(|w| w.buf_queue(id));
        }
        if let Err(e) = self.start_streaming(slot, queue) {
            // The front returned its ready buffers QUEUED; vb2 takes them
            // back (vb2_buffer_done() of QUEUED adds none to the done list)
            // and the queue does not stream.
            self.with(|w| {
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
                    w.set_own(
                        id,
                        Own::Queued,
                        "back to vb2 (start_streaming failed)".into(),
                    );
                }
                let q = w.ctxs[slot].q(queue);
                q.streaming = false;
                q.start_streaming_called = false;
            });
            self.errno(ctx, "streamon", e);
            return;
        }
        try_schedule(slot);
    }

    /// daedalus_start_streaming(): the front's, with the OUTPUT format's
    /// codec (scenarios stream H.264).
    fn start_streaming(&mut self, slot: usize, queue: Queue) -> Result<(), i32> {
        let front = self.front(slot);
        let codec = Codec::H264.raw();
        // SAFETY: the front is live and no borrow of the world is held
        // across the call.
        let ret =
            unsafe { (self.core().front_start_streaming)(front, queue == Queue::Output, codec) };
        if ret < 0 { Err(-ret) } else { Ok(()) }
    }

    /// v4l2_m2m_cancel_job().
    fn cancel_job(&mut self, slot: usize) {
        let (q, r, a) = mock::TRANS_FLAGS;
        let running = self.with(|w| {
            let c = &mut w.ctxs[slot];
            c.job_flags |= a;
            if c.job_flags & r != 0 {
                return true;
            }
            if c.job_flags & q != 0 {
                c.job_flags &= !(q | r);
                w.dequeue_job(slot);
            }
            false
        });
        if !running {
            return;
        }
        let jctx = self.jctx(slot);
        // SAFETY: jctx is live. The front's job_abort.
        unsafe { (self.core().abort)(jctx) };
        self.with(|w| {
            if w.ctxs[slot].job_flags & r != 0 && w.violation.is_none() {
                let id = w.ctxs[slot].id;
                let msg = format!("v4l2_m2m_cancel_job(ctx {id}): job_abort returned with the job still RUNNING; wait_event never returns");
                w.violate(Invariant::Hang, None, msg);
            }
        });
    }

    /// v4l2_m2m_streamoff() around vb2_streamoff() and the front.
    fn streamoff(&mut self, ctx: u32, queue: Queue) {
        let Some(slot) = self.slot(ctx, "streamoff") else {
            return;
        };
        self.cancel_job(slot);
        self.vb2_queue_cancel(slot, queue);
        self.with(|w| {
            let c = &mut w.ctxs[slot];
            c.job_flags = 0;
            w.dequeue_job(slot);
            // INIT_LIST_HEAD(&q_ctx->rdy_queue); num_rdy = 0: whatever is
            // still linked is forgotten, not completed.
            let qc = w.qctx(slot, queue);
            // SAFETY: qc is live.
            unsafe {
                let head: *mut mock::ListHead = &mut (*qc).rdy_queue;
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
                w.ctxs[slot].m2m_running = false;
            }
        });
        let front = self.front(slot);
        // SAFETY: the front is live. daedalus_streamoff(): after
        // v4l2_m2m_streamoff().
        unsafe { (self.core().front_streamoff)(front) };
    }

    /// __vb2_queue_cancel(): stop_streaming, then vb2's own clean-up with
    /// its "leaving buffer in active state" warning.
    fn vb2_queue_cancel(&mut self, slot: usize, queue: Queue) {
        let called = self.with(|w| w.ctxs[slot].q(queue).start_streaming_called);
        if called {
            self.stop_streaming(slot, queue);
        }
        if self.failed() {
            return;
        }
        self.with(|w| {
            let ids = w.ctxs[slot].q(queue).bufs.clone();
            let active: Vec<usize> = ids.iter().copied().filter(|&id| w.bufs[id].m2m.vb.vb2_buf.state == VB2_BUF_STATE_ACTIVE).collect();
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
            for id in ids {
                if w.info[id].own != Own::Freed {
                    w.bufs[id].m2m.vb.vb2_buf.state = 0;
                    w.set_own(id, Own::Dequeued, "back to the client (STREAMOFF)".into());
                }
            }
            let q = w.ctxs[slot].q(queue);
            q.streaming = false;
            q.start_streaming_called = false;
            q.error = false;
            q.last_buffer_dequeued = false;
            q.done_list.clear();
            q.owned_by_drv = 0;
        });
    }

    /// daedalus_stop_streaming(): the front's.
    fn stop_streaming(&mut self, slot: usize, queue: Queue) {
        let front = self.front(slot);
        // SAFETY: the front is live.
        unsafe { (self.core().front_stop_streaming)(front, queue == Queue::Output) };
    }

    /// VIDIOC_DECODER_CMD after v4l2-mem2mem's validation: the front's.
    fn decoder_cmd(&mut self, ctx: u32, stop: bool) {
        let Some(slot) = self.slot(ctx, "decoder_cmd") else {
            return;
        };
        let front = self.front(slot);
        // SAFETY: the glue returns a constant; the front is live.
        let ret = unsafe {
            let cmd = core::daedalus_shim_front_cmd(stop);
            (self.core().front_decoder_cmd)(front, cmd)
        };
        if ret < 0 {
            self.errno(ctx, "decoder_cmd", -ret);
        }
    }

    fn close(&mut self, ctx: u32) {
        let Some(slot) = self.slot(ctx, "close") else {
            return;
        };
        // daedalus_ctx_destroy(): closing first, then v4l2_m2m_ctx_release
        // (cancel_job, then vb2_queue_release of both queues).
        let front = self.front(slot);
        // SAFETY: the front is live.
        unsafe { (self.core().front_closing)(front) };
        self.cancel_job(slot);
        for q in [Queue::Capture, Queue::Output] {
            self.vb2_queue_cancel(slot, q);
            if self.failed() {
                return;
            }
        }
        self.with(|w| {
            if w.curr_ctx == Some(slot) {
                w.curr_ctx = None;
            }
            w.dequeue_job(slot);
        });
        let jctx = self.jctx(slot);
        // SAFETY: the front and jctx are live until the world drops. The
        // front cancels what the core holds and closes the session.
        unsafe { (self.core().front_release)(front) };
        let mut parked = 0u32;
        // SAFETY: as above.
        let left = unsafe { (self.core().ctx_count)(jctx, &mut parked) };
        self.with(|w| {
            if left != 0 {
                let msg = format!("ctx {ctx} closed with {left} job(s) still in the in-flight table ({parked} parked)");
                w.violate(Invariant::LeakAtClose, None, msg);
            }
            let c = &mut w.ctxs[slot];
            c.open = false;
            for id in c.out.bufs.drain(..).chain(c.cap.bufs.drain(..)).collect::<Vec<_>>() {
                w.set_own(id, Own::Freed, "freed (close)".into());
            }
        });
    }

    fn attach(&mut self, version: u32) {
        if self.with(|w| w.daemon_attached) {
            // A second daemon: the device is busy.
            self.errno(0, "attach", EBUSY);
            return;
        }
        self.with(|w| w.daemon_attached = true);
        // Its RESP_HELLO: H.264 into NV12 up to 4096x4096, REQ_CAPTURE_FMT
        // taken (as daedalusd does), mapped jobs when the run offers them.
        let flags = HELLO_F_CAPTURE_FMT
            | if self.with(|w| w.offer_mapped) {
                HELLO_F_MAPPED
            } else {
                0
            };
        let hello = RespHello {
            proto_version: version,
            daemon_version: 0x0001_0000,
            codecs: Codec::H264.bit(),
            pixfmts: Pixfmt::Nv12.bit(),
            max_width: 4096,
            max_height: 4096,
            flags,
            reserved: 0,
        };
        let msg = core::daemon_message(MsgType::RespHello, 0, &hello, &[]);
        self.write(&msg, "hello");
    }

    fn detach(&mut self) {
        if !self.with(|w| w.daemon_attached) {
            return;
        }
        self.with(|w| {
            w.daemon_attached = false;
            w.daemon_ready = false;
            w.mapped = false;
            w.hello_flags = 0;
            // The old daemon's replies can no longer come.
            w.issued.clear();
        });
        // daedalus_daemon_detach(): daedalus_front_daemon_gone() per
        // open context under the context-list lock, the detach traced, then
        // the jobs cancelled.
        let (fdev, fronts) = self.with(|w| {
            let open: Vec<usize> = (0..w.ctxs.len()).filter(|&s| w.ctxs[s].open).collect();
            (
                w.ctx_lock_ptr(),
                open.into_iter().map(|s| w.front_ptr(s)).collect::<Vec<_>>(),
            )
        });
        let gone = self.core().front_daemon_gone;
        // SAFETY: fdev and the fronts are live; no borrow of the world is
        // held across the calls.
        unsafe {
            core::daedalus_shim_fdev_lock(fdev, true);
            for f in fronts {
                gone(f);
            }
            core::daedalus_shim_fdev_lock(fdev, false);
        }
        self.with(|w| w.record(Record::Daemon { attach: false }));
        let core = self.core_ptr();
        // SAFETY: core is live.
        unsafe { (self.core().detach)(core) };
    }

    /// One daemon write(), applied by the module's own dispatcher
    /// (kmod/daedalus_dispatch.c) through [`DISPATCH_OPS`]. A refusal goes
    /// to the outcome log as `what`'s errno.
    fn write(&mut self, msg: &[u8], what: &'static str) -> i32 {
        // What the message names, for the log and the dead-cookie oracle;
        // the codec is the module's, so this is what the dispatcher sees.
        let parsed = core::shim_parse(msg).ok();
        let (ctx, frame) = match parsed {
            Some((ty, f, _)) if ty == MsgType::RespFrame.raw() => (f.ctx_id, Some(f)),
            Some((_, _, words)) => (words[0], None),
            None => (0, None),
        };
        let before = frame.and_then(|f| {
            self.with(|w| {
                if !w.daemon_ready {
                    return None;
                }
                let dead = w.cookie_dead(f.ctx_id, f.cookie);
                w.record(Record::Frame {
                    ctx: f.ctx_id,
                    cookie: f.cookie,
                    flags: f.flags,
                });
                let data_len = (f.data_len as usize).min(msg.len());
                w.delivering = Some(Delivery {
                    cookie: f.cookie,
                    flags: f.flags,
                    ts: f.timestamp,
                    dead,
                    bytes: f.bytesused,
                    data: msg[msg.len() - data_len..].as_ptr(),
                    data_len,
                });
                // What the job was before the reply: its generation,
                // whether it ran, and the context's current generation.
                let job = w
                    .job_mut(f.ctx_id, f.cookie)
                    .filter(|j| !j.dead())
                    .map(|j| (j.generation, j.running, j.issued_ev));
                Some((w.log.len(), w.changes, dead, job))
            })
        });
        let cur_gen = match frame {
            Some(f) if before.is_some_and(|b| b.3.is_some()) => Some(self.cur_gen(f.ctx_id)),
            _ => None,
        };
        let (core, dispatch) = (self.core_ptr(), self.core().dispatch);
        // SAFETY: core is live; msg outlives the call; the ops only touch
        // the world, which the executor does not borrow across the call.
        let ret = unsafe {
            dispatch(
                core,
                &DISPATCH_OPS,
                std::ptr::null_mut(),
                msg.as_ptr(),
                msg.len(),
            )
        };
        self.with(|w| {
            w.delivering = None;
            if let Some((ty, _, words)) = parsed {
                w.contract_reply(ty, &words, ret);
            }
            if ret != 0 {
                w.record(Record::Errno {
                    ctx,
                    what,
                    errno: -ret,
                });
            }
            if w.ctx_held != 0 {
                let msg = format!(
                    "the dispatcher returned still holding ctx {ctx} (ctx_get without ctx_put): the next open, close or daemon write waits forever"
                );
                w.ctx_held = 0;
                w.violate(Invariant::Hang, None, msg);
            }
            let Some((at, changes, dead, job)) = before else {
                return;
            };
            if let (Some(f), Some((job_gen, _, issued_ev)), Some(cur)) =
                (frame, job, cur_gen)
            {
                let key = (f.ctx_id, f.cookie);
                let applied = ret == 0 || w.changes != changes;
                let fits = f.generation == job_gen && job_gen == cur;
                let setup = (issued_ev, format!("device_run sent job {:#x} in generation {job_gen}", f.cookie));
                if applied && !fits {
                    let msg = format!(
                        "a reply of generation {} was applied to job {:#x} of generation {job_gen} (the context's current generation is {cur})",
                        f.generation, f.cookie
                    );
                    w.violate_job(Invariant::StaleGenerationApplied, None, Some(key), msg, Some(setup));
                    return;
                }
                let consumed = f.flags & crate::scenario::FRAME_SRC_CONSUMED != 0;
                let still = w.job_mut(f.ctx_id, f.cookie).map(|j| (j.running, j.dst));
                if consumed && applied && let Some((true, dst)) = still {
                    let msg = format!(
                        "RESP_FRAME SRC_CONSUMED for job {:#x} of ctx {} was accepted, but the job is still running: the m2m device stays held until the watchdog",
                        f.cookie, f.ctx_id
                    );
                    let setup = (issued_ev, format!("device_run sent job {:#x}", f.cookie));
                    w.violate_job(Invariant::ConsumedNotFinished, dst, Some(key), msg, Some(setup));
                    return;
                }
            }
            if dead && w.changes != changes {
                let cookie = frame.map_or(0, |f| f.cookie);
                let what = w.log[at..]
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
                w.violate(Invariant::DeadCookieChangedState, None, msg);
            }
        });
        ret
    }

    fn frame(
        &mut self,
        ctx: u32,
        job: JobRef,
        flags: u32,
        ts: u64,
        bytes: u32,
        generation: Option<u32>,
    ) {
        let found = self.with(|w| {
            let slot = w.ctxs.iter().rposition(|c| c.id == ctx)?;
            let jobs = &w.ctxs[slot].jobs;
            match job {
                JobRef::Nth(n) => jobs
                    .get((n as usize).wrapping_sub(1))
                    .map(|j| (j.cookie, j.generation)),
                JobRef::Cookie(c) => {
                    let j = jobs.iter().rev().find(|j| j.cookie == c).or(jobs.last());
                    Some((c, j.map_or(1, |j| j.generation)))
                }
            }
        });
        let (cookie, job_gen) = match (found, job) {
            (Some(f), _) => f,
            // No such job yet: the daemon names a cookie nobody issued.
            (None, JobRef::Cookie(c)) => (c, 1),
            (None, JobRef::Nth(_)) => (u64::from(u32::MAX) | (1 << 32), 1),
        };
        let gen_ = generation.unwrap_or(job_gen);
        // Pictures larger than any buffer go without their bytes: the
        // module refuses them either way, and the replay stays bounded.
        // A mapped job's picture is in the mapped buffer: none inline.
        let data_len = if flags & FRAME_HAS_PIXELS != 0
            && bytes <= MAX_INLINE_PICTURE
            && !self.with(|w| w.mapped)
        {
            bytes
        } else {
            0
        };
        let body = RespFrame {
            ctx_id: ctx,
            flags,
            timestamp: ts,
            bytesused: if flags & FRAME_HAS_PIXELS != 0 {
                bytes
            } else {
                0
            },
            generation: gen_,
            reserved: [0; 2],
        };
        let data: Vec<u8> = (0..data_len).map(|i| (i * 7) as u8).collect();
        let msg = core::daemon_message(MsgType::RespFrame, cookie, &body, &data);
        self.write(&msg, "write");
    }

    fn cur_gen(&mut self, ctx: u32) -> u32 {
        match self.with(|w| w.slot_of_id(ctx)) {
            Some(slot) => {
                let jctx = self.jctx(slot);
                // SAFETY: jctx is live.
                unsafe { core::daedalus_shim_stream_gen(jctx) }
            }
            None => 1,
        }
    }

    fn stream_info(&mut self, ctx: u32, width: u32, height: u32, dpb: u32) {
        let generation = self.cur_gen(ctx);
        let body = RespStreamInfo {
            ctx_id: ctx,
            generation,
            coded_width: width,
            coded_height: height,
            visible_left: 0,
            visible_top: 0,
            visible_width: width,
            visible_height: height,
            pixfmt: Pixfmt::Nv12.raw(),
            dpb_size: dpb,
            reserved: [0; 2],
        };
        let msg = core::daemon_message(MsgType::RespStreamInfo, 0, &body, &[]);
        self.write(&msg, "write");
    }

    fn session_error(&mut self, ctx: u32, code: u32) {
        let body = RespSessionError {
            ctx_id: ctx,
            error: code,
        };
        let msg = core::daemon_message(MsgType::RespSessionError, 0, &body, &[]);
        // A well-formed session error answers every job the daemon holds
        // of the context, accepted or not (a session the module already
        // dropped is refused, yet the daemon has spoken).
        if core::shim_parse(&msg).is_ok() {
            self.with(|w| {
                let ev = w.ev;
                if let Some(s) = w.slot_of_id(ctx) {
                    for j in w.ctxs[s].jobs.iter_mut().filter(|j| !j.dead()) {
                        j.answered_ev.get_or_insert(ev);
                    }
                }
            });
        }
        let ret = self.write(&msg, "write");
        if ret == 0
            && let Some(slot) = self.with(|w| w.slot_of_id(ctx))
        {
            self.check_scope(Some(slot), None, "RESP_SESSION_ERROR");
        }
    }

    fn reset_done(&mut self, ctx: u32, generation: Option<u32>) {
        let g = match generation {
            Some(g) => g,
            None => self.cur_gen(ctx),
        };
        let body = RespResetDone {
            ctx_id: ctx,
            generation: g,
        };
        let msg = core::daemon_message(MsgType::RespResetDone, 0, &body, &[]);
        self.write(&msg, "write");
    }

    fn tick(&mut self, ms: u32) {
        let core = self.core_ptr();
        let now = self.with(|w| {
            w.now_ns += u64::from(ms) * 1_000_000;
            w.now_ns
        });
        // SAFETY: core is live.
        unsafe { (self.core().watchdog)(core, now) };
        // Each job the watchdog expired is over now; one the daemon had
        // answered should never have needed it.
        for (ctx, cookie) in self.with(|w| std::mem::take(&mut w.expired)) {
            let Some(slot) = self.with(|w| w.ctxs.iter().rposition(|c| c.id == ctx)) else {
                continue;
            };
            self.check_scope(
                Some(slot),
                Some(cookie),
                &format!("the watchdog's expiry of job {cookie:#x}"),
            );
            self.with(|w| {
                let Some(j) = w.job_mut(ctx, cookie) else {
                    return;
                };
                let (Some(ev), dst) = (j.answered_ev, j.dst) else {
                    return;
                };
                let msg = format!(
                    "the watchdog had to end job {cookie:#x} of ctx {ctx}, which the daemon had answered: the device stood still until the timeout"
                );
                let setup = (ev, format!("the daemon answered job {cookie:#x}"));
                w.violate_job(Invariant::Stall, dst, Some((ctx, cookie)), msg, Some(setup));
            });
        }
    }
}

// What the kernel framework does when the front asks (the m2m scheduler).

/// v4l2_m2m_try_schedule: queue the context if job_ready says so, then
/// run the device if it is idle.
fn try_schedule(slot: usize) {
    mock::with(|w| w.try_queue(slot));
    try_run();
}

/// v4l2_m2m_try_run, then the front's device_run.
fn try_run() {
    let Some((run, front, now)) = mock::with(|w| {
        if w.curr_ctx.is_some() {
            return None;
        }
        let slot = *w.job_queue.front()?;
        w.curr_ctx = Some(slot);
        w.ctxs[slot].job_flags |= mock::TRANS_FLAGS.1;
        w.ctxs[slot].m2m_running = true;
        w.ctxs[slot].m2m_run_ev = w.ev;
        Some((w.core.front_device_run, w.front_ptr(slot), w.now_ns))
    }) else {
        return;
    };
    // SAFETY: the front is live; no borrow of the world is held.
    unsafe { run(front, now) };
}

/// daedalus_return_ready(): every buffer on a ready list back to vb2.
fn return_ready(slot: usize, queue: Queue, state: u32) {
    mock::with(|w| {
        while let Some(id) = w.buf_remove(slot, queue) {
            if w.violation.is_some() {
                return;
            }
            let buf = w.info[id].name;
            w.record(Record::Vb2Done { buf, state });
            w.buffer_done(id, state);
        }
    });
}

// The front's V4L2 side (&struct daedalus_front_ops, kmod/daedalus_vdec.c
// in the module): `priv` is the context's slot.

/// What the front calls back.
static FRONT_OPS: FrontOps = FrontOps {
    send: fop_send,
    limits: fop_limits,
    event: fop_event,
    return_ready: fop_return_ready,
    queue_error: fop_queue_error,
    clear_last: fop_clear_last,
    streaming: fop_streaming,
    try_schedule: fop_try_schedule,
};

fn slot_of(priv_: *mut c_void) -> usize {
    priv_ as usize
}

/// daedalus_daemon_send(): queued for an attached daemon, -ENOTCONN
/// without one. The body starts with the context id; a two-word body's
/// second word is the request's argument.
unsafe extern "C" fn fop_send(_priv: *mut c_void, ty: u16, body: *const c_void, len: u32) -> i32 {
    // SAFETY: the front passes a body of `len` bytes.
    let body = unsafe { std::slice::from_raw_parts(body as *const u8, len as usize) };
    let word = |i: usize| {
        body.get(i * 4..i * 4 + 4)
            .map_or(0, |b| u32::from_le_bytes(b.try_into().unwrap_or_default()))
    };
    let what = daedalus_proto::MsgType::from_raw(ty).map_or("?", |t| {
        let n = t.name();
        n.strip_prefix("REQ_").unwrap_or(n)
    });
    let arg = if len == 8 { u64::from(word(1)) } else { 0 };
    mock::with(|w| {
        if !w.daemon_ready {
            return -ENOTCONN;
        }
        w.record(Record::Request {
            ctx: word(0),
            what,
            cookie: 0,
            arg,
        });
        0
    })
}

/// What the attached daemon's RESP_HELLO announced (daedalus_daemon_codecs(),
/// daedalus_max_size(), daedalus_daemon_flags()).
unsafe extern "C" fn fop_limits(_priv: *mut c_void, l: *mut FrontLimits) {
    let (pixfmts, max_width, max_height, flags) = mock::with(|w| {
        if w.daemon_ready {
            let (p, mw, mh) = w.hello_limits;
            (p, mw, mh, w.hello_flags)
        } else {
            // Before the handshake: NV12 up to 4096x4096, no flags.
            (1 << 1, 4096, 4096, 0)
        }
    });
    // SAFETY: the front passes its own, writable.
    unsafe {
        *l = FrontLimits {
            pixfmts,
            max_width,
            max_height,
            flags,
        }
    };
}

unsafe extern "C" fn fop_event(priv_: *mut c_void, ev: u32) {
    // SAFETY: the glue returns a constant.
    let what = if ev == unsafe { core::daedalus_shim_front_ev_eos() } {
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
    mock::with(|w| {
        let ev = w.ev;
        let c = &mut w.ctxs[slot_of(priv_)];
        c.out.error = true;
        c.cap.error = true;
        c.failed_ev = ev;
    });
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
    try_schedule(slot_of(priv_));
}

// The character device's side of a daemon write (&struct
// daedalus_dispatch_ops, kmod/daedalus_chardev.c in the module).

/// What the dispatcher calls back.
static DISPATCH_OPS: DispatchOps = DispatchOps {
    hello: op_hello,
    ready: op_ready,
    ctx_get: op_ctx_get,
    ctx_put: op_ctx_put,
    stream_info: op_stream_info,
    session_error: op_session_error,
};

/// daedalus_daemon_hello(): the first RESP_HELLO of an attached daemon.
unsafe extern "C" fn op_hello(_priv: *mut c_void, h: *const MsgHello) -> i32 {
    // SAFETY: the dispatcher passes the decoded message.
    let h = unsafe { *h };
    let flags = h.flags;
    mock::with(|w| {
        if !w.daemon_attached || w.daemon_ready {
            return -EINVAL;
        }
        w.daemon_ready = true;
        w.hello_limits = (h.pixfmts, h.max_width, h.max_height);
        w.hello_flags = flags;
        w.mapped = flags & HELLO_F_MAPPED != 0;
        w.record(Record::Daemon { attach: true });
        0
    })
}

unsafe extern "C" fn op_ready(_priv: *mut c_void) -> bool {
    mock::with(|w| w.daemon_ready)
}

/// daedalus_daemon_ctx_get(): an open context with a session, held under
/// the context-list lock until op_ctx_put.
unsafe extern "C" fn op_ctx_get(_priv: *mut c_void, ctx_id: u32) -> *mut c_void {
    let (fdev, found) = mock::with(|w| {
        let found = w.slot_of_id(ctx_id).map(|s| {
            (
                w.front_ptr(s),
                w.ctxs[s].jctx.as_mut_ptr() as *mut c_void,
                w.core,
            )
        });
        (w.ctx_lock_ptr(), found)
    });
    // SAFETY: fdev and the front are live; no borrow of the world is held.
    unsafe { core::daedalus_shim_fdev_lock(fdev, true) };
    let held = found.filter(|&(front, _, core)| {
        // SAFETY: as above.
        unsafe { (core.front_session_open)(front) }
    });
    let Some((_, jctx, _)) = held else {
        // SAFETY: as above.
        unsafe { core::daedalus_shim_fdev_lock(fdev, false) };
        return std::ptr::null_mut();
    };
    mock::with(|w| w.ctx_held += 1);
    jctx
}

unsafe extern "C" fn op_ctx_put(_priv: *mut c_void, _jctx: *mut c_void) {
    let fdev = mock::with(|w| {
        w.ctx_held = w.ctx_held.saturating_sub(1);
        w.ctx_lock_ptr()
    });
    // SAFETY: fdev is live.
    unsafe { core::daedalus_shim_fdev_lock(fdev, false) };
}

/// The held context's front, and the core variant's functions.
fn front_of_jctx(jctx: *mut c_void) -> Option<(*mut c_void, CoreFns)> {
    mock::with(|w| {
        let slot = w.slot_of_jctx(jctx)?;
        Some((w.front_ptr(slot), w.core))
    })
}

/// daedalus_daemon_stream_info(): the front's.
unsafe extern "C" fn op_stream_info(jctx: *mut c_void, si: *const MsgStreamInfo) -> i32 {
    let Some((front, core)) = front_of_jctx(jctx) else {
        return -EINVAL;
    };
    // SAFETY: the front is live; si is the dispatcher's validated message.
    unsafe { (core.front_stream_info)(front, si) }
}

/// daedalus_daemon_session_error(): the front's.
unsafe extern "C" fn op_session_error(jctx: *mut c_void, _error: u32) {
    if let Some((front, core)) = front_of_jctx(jctx) {
        // SAFETY: the front is live.
        unsafe { (core.front_session_error)(front) };
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        // SAFETY: the core has no context left that it could touch.
        unsafe { (self.w.core.core_destroy)(self.w.core_mem.as_mut_ptr() as *mut c_void) };
    }
}

#[cfg(test)]
mod tests {
    //! The mock's sharp edges, driven directly (the scenario-level
    //! behaviour is covered by tests/regress.rs).

    use super::*;
    use crate::scenario::Event;

    fn executor(events: &[Event]) -> Executor {
        let s = Scenario::from_events(events.iter().copied());
        let mut ex = Executor::new(core::lookup("real").unwrap(), &s, &Options::default());
        ex.w.events.push((1, Event::Tick { ms: 0 }));
        ex
    }

    fn open_two_bufs(ex: &mut Executor) -> (usize, usize) {
        ex.open(1);
        ex.reqbufs(1, Queue::Capture, 2);
        let a = ex.buf(0, Queue::Capture, 0).unwrap();
        let b = ex.buf(0, Queue::Capture, 1).unwrap();
        (a, b)
    }

    /// The world recorded a violation of `invariant` whose detail
    /// mentions `needle`.
    fn expect_violation(w: &World, invariant: Invariant, needle: &str) {
        let v = w.violation.as_ref().expect("a violation was recorded");
        assert_eq!(v.invariant, invariant);
        assert!(v.detail.contains(needle), "{}", v.detail);
    }

    #[test]
    fn second_list_del_hits_the_poison_like_debug_list() {
        let mut ex = executor(&[]);
        let g = mock::install(&mut ex.w);
        let (a, b) = open_two_bufs(&mut ex);
        mock::with(|w| {
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
        let mut ex = executor(&[]);
        let g = mock::install(&mut ex.w);
        let (a, b) = open_two_bufs(&mut ex);
        mock::with(|w| {
            w.buf_queue(a);
            w.buf_queue(b);
            // v4l2_m2m_streamoff's INIT_LIST_HEAD: the head forgets its
            // entries, which keep their stale links.
            let q = w.qctx(0, Queue::Capture);
            // SAFETY: q is live for the test.
            unsafe {
                let head: *mut mock::ListHead = &mut (*q).rdy_queue;
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
        let mut ex = executor(&[]);
        let g = mock::install(&mut ex.w);
        ex.open(1);
        ex.open(2);
        mock::with(|w| w.curr_ctx = Some(0));
        let other = mock::with(|w| &mut *w.ctxs[1].m2m as *mut M2mCtx);
        // SAFETY: a context of this world.
        unsafe { mock::v4l2_m2m_job_finish(std::ptr::null_mut(), other) };
        mock::with(|w| {
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
        let mut ex = executor(&[]);
        let g = mock::install(&mut ex.w);
        ex.open(1);
        mock::with(|w| {
            w.curr_ctx = Some(0);
            w.ctxs[0].job_flags |= mock::TRANS_FLAGS.1;
        });
        // The core has no job to abort, so RUNNING never clears.
        ex.cancel_job(0);
        mock::with(|w| expect_violation(w, Invariant::Hang, "wait_event never returns"));
        drop(g);
    }

    #[test]
    fn num_rdy_is_a_wrapping_u8() {
        let mut ex = executor(&[]);
        let g = mock::install(&mut ex.w);
        let (a, _) = open_two_bufs(&mut ex);
        let q = mock::with(|w| w.qctx(0, Queue::Capture));
        let vb = mock::with(|w| &mut w.bufs[a].m2m.vb as *mut mock::Vb2V4l2Buffer);
        // SAFETY: q and vb belong to this world. remove_by_buf of a buffer
        // never queued: DEBUG_LIST refuses (NULL links) yet num_rdy drops.
        unsafe { mock::v4l2_m2m_buf_remove_by_buf(q, vb) };
        mock::with(|w| {
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

    /// What each call below did: the errnos it logged, in order.
    fn errnos(w: &World) -> Vec<(u32, &'static str, i32)> {
        w.log
            .iter()
            .filter_map(|(_, r)| match r {
                Record::Errno { ctx, what, errno } => Some((*ctx, *what, *errno)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_ninth_session_is_refused_at_streamon_as_the_module_does() {
        let mut ex = executor(&[]);
        let g = mock::install(&mut ex.w);
        ex.attach(1);
        for ctx in 1..=9 {
            ex.open(ctx);
            ex.reqbufs(ctx, Queue::Output, 1);
            ex.qbuf(ctx, Queue::Output, 0, 0, 100);
            ex.streamon(ctx, Queue::Output);
        }
        let fronts: Vec<*mut c_void> = (0..9).map(|s| ex.front(s)).collect();
        let session_open = ex.core().front_session_open;
        // SAFETY: the fronts are live.
        let open = fronts
            .iter()
            .filter(|&&f| unsafe { session_open(f) })
            .count();
        assert_eq!(open, 8);
        mock::with(|w| {
            assert_eq!(errnos(w), vec![(9, "streamon", EBUSY)]);
            // vb2 took the refused queue's buffer back: not the driver's.
            assert!(!w.ctxs[8].out.streaming);
            assert_eq!(w.info[w.ctxs[8].out.bufs[0]].own, Own::Queued);
        });
        drop(g);
    }

    #[test]
    fn reqbufs_capture_is_clamped_to_the_queues_max_num_buffers() {
        let mut ex = executor(&[]);
        let g = mock::install(&mut ex.w);
        ex.open(1);
        ex.reqbufs(1, Queue::Capture, 64);
        ex.reqbufs(1, Queue::Output, 64);
        mock::with(|w| {
            assert_eq!(w.ctxs[0].cap.bufs.len(), 32);
            assert_eq!(w.ctxs[0].out.bufs.len(), 64);
        });
        drop(g);
    }

    #[test]
    fn a_capture_buffer_smaller_than_the_format_is_refused_at_qbuf() {
        let mut ex = executor(&[]);
        let g = mock::install(&mut ex.w);
        ex.attach(1);
        ex.open(1);
        ex.reqbufs(1, Queue::Capture, 1);
        ex.reqbufs(1, Queue::Output, 1);
        ex.qbuf(1, Queue::Output, 0, 0, 100);
        ex.streamon(1, Queue::Output);
        // The format grows after the buffers were allocated: 1920x1104.
        ex.stream_info(1, 1920, 1090, 4);
        ex.qbuf(1, Queue::Capture, 0, 0, 0);
        mock::with(|w| {
            assert_eq!(errnos(w), vec![(1, "qbuf", EINVAL)]);
            assert_eq!(w.info[w.ctxs[0].cap.bufs[0]].own, Own::Dequeued);
        });
        drop(g);
    }

    #[test]
    fn a_job_running_for_a_failed_context_is_a_stall() {
        let mut ex = executor(&[]);
        let g = mock::install(&mut ex.w);
        ex.attach(1);
        ex.open(1);
        ex.reqbufs(1, Queue::Output, 1);
        ex.reqbufs(1, Queue::Capture, 1);
        ex.qbuf(1, Queue::Output, 0, 0, 100);
        ex.qbuf(1, Queue::Capture, 0, 0, 0);
        ex.streamon(1, Queue::Output);
        ex.streamon(1, Queue::Capture);
        ex.check_stall();
        assert!(mock::with(|w| w.violation.is_none()));
        // The running job's context fails without the core hearing of it.
        let front = ex.front(0);
        // SAFETY: the front is live.
        unsafe { core::daedalus_shim_front_set_failed(front) };
        ex.check_stall();
        mock::with(|w| {
            expect_violation(w, Invariant::Stall, "its session failed");
            assert_eq!(w.violation.as_ref().unwrap().job, Some((1, 0x1_0000_0000)));
        });
        drop(g);
    }

    #[test]
    fn a_picture_completed_otherwise_than_delivered_breaks_picture_rules() {
        let mut ex = executor(&[]);
        let g = mock::install(&mut ex.w);
        let (a, _) = open_two_bufs(&mut ex);
        let sent = [1u8, 2, 3, 4];
        let d = Delivery {
            cookie: 1,
            flags: FRAME_HAS_PIXELS,
            ts: 0,
            dead: false,
            bytes: 4,
            data: sent.as_ptr(),
            data_len: sent.len(),
        };
        mock::with(|w| {
            let vb = &mut w.bufs[a].m2m.vb;
            vb.field = 1;
            vb.vb2_buf.planes[0].bytesused = 4;
            w.info[a]._mem[..4].copy_from_slice(&[1, 2, 9, 4]);
            w.contract_picture(a, mock::VB2_BUF_STATE_DONE, d);
            expect_violation(
                w,
                Invariant::PictureRules,
                "differs from the picture the daemon sent at byte 2",
            );
        });
        drop(g);
    }

    #[test]
    fn a_runaway_driver_is_stopped_by_the_step_budget() {
        let mut ex = executor(&[]);
        let g = mock::install(&mut ex.w);
        mock::with(|w| {
            for _ in 0..=mock::STEP_BUDGET {
                w.record(Record::Daemon { attach: true });
            }
            expect_violation(w, Invariant::Livelock, "spins without end");
            assert_eq!(w.log.len(), mock::STEP_BUDGET);
        });
        drop(g);
    }
}
