//! The userspace executor: plays a scenario against the real job core,
//! decoder front and dispatcher (or a mutant's), linked with the mock of
//! the kernel framework (mock/: vb2, v4l2-mem2mem) and the module's glue
//! played in userspace (driver.rs). A scenario's client calls go in as the
//! ioctls would, its daemon's replies as write()s through the module's
//! own dispatcher and codec; after each event the m2m workqueue runs and
//! the oracles (oracle/) judge what happened.
//!
//! Deterministic: the m2m workqueue runs after each event, time only moves
//! on `tick`, and nothing depends on addresses.

use daedalus_proto::{
    Codec, HELLO_F_CAPTURE_FMT, HELLO_F_MAPPED, MsgType, Pixfmt, RespFrame, RespHello,
    RespResetDone, RespSessionError, RespStreamInfo,
};

use crate::core::{self, ffi};
use crate::driver;
use crate::mock::{self, Delivery, World, m2m, request, vb2};
use crate::model::Scenario;
use crate::oracle::rules::ReplyBefore;
use crate::oracle::{Move, Record, Verdict};
use crate::scenario::{Event, FRAME_HAS_PIXELS, JobRef, MAX_INLINE_PICTURE, Queue};

pub use crate::driver::OUTPUT_BUF_SIZE;
pub use crate::mock::vb2::{MAX_BUFFERS, timeval_ns};

/// Most contexts one run may open.
pub const MAX_CONTEXTS: usize = 16;

use crate::core::ffi::{EBADF, EBUSY, EINVAL};

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
    /// executor's io log has it: every request the daemon read, and
    /// per scenario line its result when it is not plain success (`L:
    /// ret=-ERRNO`, or what DQBUF returned). A tick's and a detach's are
    /// not results.
    pub fn io_log(&self) -> String {
        let mut out = String::new();
        let mut i = 0;
        // The controls each stateless job went out with, by context and
        // cookie, printed on its REQ_DECODE's line as the KUnit glue reads
        // them from the message (0: none applied yet).
        let mut controls = std::collections::HashMap::new();
        for (pos, &(line, ev)) in self.events.iter().enumerate() {
            let mut result = None;
            let mut done = Vec::new();
            while let Some((p, r)) = self.log.get(i) {
                if *p != pos {
                    break;
                }
                i += 1;
                match r {
                    &Record::Read {
                        ctx,
                        what,
                        cookie,
                        arg,
                    } => {
                        // What was read, as the KUnit executor's
                        // dr_log_request() writes it: a request's line.
                        let r = Record::Request {
                            ctx,
                            what,
                            cookie,
                            arg,
                        };
                        out.push_str(&format!("{r}"));
                        if let Some(tag) = controls.get(&(ctx, cookie)) {
                            out.push_str(&format!(" tag={tag}"));
                        }
                        out.push('\n');
                    }
                    &Record::Controls { ctx, cookie, tag } => {
                        controls.insert((ctx, cookie), tag.unwrap_or(0));
                    }
                    Record::Errno { errno, .. } => {
                        result.get_or_insert(format!("ret=-{errno}"));
                    }
                    Record::ReqDone { req } => done.push(*req),
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
            let no_result = matches!(
                ev,
                Event::Tick { .. } | Event::DaemonDetach | Event::DaemonStop | Event::DaemonCont
            );
            if let Some(r) = result.filter(|_| !no_result) {
                out.push_str(&format!("{line}: {r}\n"));
            }
            // The requests that completed, by name, as the KUnit
            // executor's dr_io_requests() finds them after the event.
            done.sort_unstable();
            for req in done {
                out.push_str(&format!("{line}: request_done req={req}\n"));
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

/// One run: the world, installed as the thread's current one while the
/// run plays.
struct Executor {
    w: World,
}

impl Executor {
    fn new(core: &'static core::CoreFns, scenario: &Scenario, opts: &Options) -> Self {
        let events = scenario.lines.iter().map(|l| (l.line, l.event)).collect();
        Executor {
            w: World::new(core, opts, events),
        }
    }

    fn with<R>(&mut self, f: impl FnOnce(&mut World) -> R) -> R {
        mock::with(f)
    }

    fn failed(&mut self) -> bool {
        mock::failed()
    }

    fn run_all(&mut self, scenario: &Scenario) -> usize {
        let n = self.run_events(scenario);
        if !self.failed() {
            let core = mock::core_ptr();
            let mut buf = [0u8; 1024];
            // SAFETY: core is the live core; buf is writable for its length.
            let len =
                unsafe { core::daedalus_shim_stats_line(core, buf.as_mut_ptr().cast(), buf.len()) };
            let line = String::from_utf8_lossy(&buf[..len.min(buf.len())]).into_owned();
            self.with(|w| {
                w.final_stats = Some(line);
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

    /// After an event: the m2m workqueue, then the contract, running-job,
    /// ready queue and progress rules. False once something broke.
    fn step_checks(&mut self) -> bool {
        self.run_work();
        if self.failed() {
            return false;
        }
        self.read_requests();
        if self.failed() {
            return false;
        }
        self.with(|w| {
            w.contract_end();
            w.rule_running_ctx_has_a_job();
            for slot in 0..w.ctxs.len() {
                if w.ctxs[slot].open {
                    w.check_num_rdy(slot, None, "");
                }
            }
            w.rule_no_stalled_job();
            w.rule_request_completes_with_its_buffer();
        });
        !self.failed()
    }

    /// The m2m workqueue: device_run for the next queued context, until
    /// nothing is queued, or the runs stop moving buffers.
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
            m2m::try_run();
            if self.failed() {
                return;
            }
            let progress = self.with(|w| w.moved != moved);
            idle_runs = if progress { 0 } else { idle_runs + 1 };
            if !self.with(|w| w.rule_workqueue_progresses(idle_runs, at, next)) {
                return;
            }
        }
    }

    /// The daemon reads every queued request, as the KUnit executor's does
    /// at the end of each event (unless it stopped reading): what it read
    /// goes to the log, and each REQ_DECODE becomes a job its replies can
    /// name by its place.
    fn read_requests(&mut self) {
        if !self.with(|w| w.daemon_reading) {
            return;
        }
        driver::daemon_read_all(|ty, cookie, ctx, arg| {
            let Some(what) = MsgType::from_raw(ty).and_then(driver::logged_request) else {
                return;
            };
            mock::with(|w| {
                // Reads follow sends: the job is the first of that cookie
                // after the last one read (those between were dropped as
                // moot), so the search starts there.
                if ty == MsgType::ReqDecode.raw()
                    && let Some(slot) = w.slot_of_id(ctx)
                {
                    let c = &mut w.ctxs[slot];
                    let from = c.read_jobs.last().map_or(0, |&i| i + 1);
                    if let Some(j) = c.jobs[from..].iter().position(|j| j.cookie == cookie) {
                        c.read_jobs.push(from + j);
                    }
                }
                w.record(Record::Read {
                    ctx,
                    what,
                    cookie,
                    arg,
                });
            });
        });
    }

    fn end_checks(&mut self) {
        self.with(|w| {
            w.contract_end_of_run();
            w.rule_no_suspect_left();
            for slot in 0..w.ctxs.len() {
                w.rule_idle_device_runs(slot);
            }
        });
    }

    fn errno(&mut self, ctx: u32, what: &'static str, errno: i32) {
        self.with(|w| w.record(Record::Errno { ctx, what, errno }));
    }

    /// The open context `ctx`, or -EBADF for `what`.
    fn slot(&mut self, ctx: u32, what: &'static str) -> Option<usize> {
        let s = self.with(|w| w.slot_of_id(ctx));
        if s.is_none() {
            self.errno(ctx, what, EBADF);
        }
        s
    }

    /// The ioctl `what` of context `ctx`, if open, with its errno logged.
    fn ioctl(&mut self, ctx: u32, what: &'static str, f: impl FnOnce(usize) -> Result<(), i32>) {
        if let Some(slot) = self.slot(ctx, what)
            && let Err(e) = f(slot)
        {
            self.errno(ctx, what, e);
        }
    }

    fn event(&mut self, ev: Event) {
        self.with(|w| w.contract_begin(ev));
        match ev {
            Event::Limits { contexts, capture } => self.limits(contexts, capture),
            Event::Open { ctx, stateless } => self.open(ctx, stateless),
            Event::Close { ctx } => self.close(ctx),
            Event::Reqbufs { ctx, queue, count } => {
                self.ioctl(ctx, "reqbufs", |s| vb2::reqbufs(s, queue, count))
            }
            Event::Qbuf {
                ctx,
                queue,
                index,
                ts,
                size,
                req,
            } => self.ioctl(ctx, "qbuf", |s| match req {
                None => m2m::qbuf(s, queue, index, ts, size),
                Some(req) => m2m::qbuf_request(s, queue, index, ts, size, req),
            }),
            Event::Dqbuf { ctx, queue } => self.dqbuf(ctx, queue),
            Event::Streamon { ctx, queue } => {
                self.ioctl(ctx, "streamon", |s| m2m::streamon(s, queue))
            }
            Event::Streamoff { ctx, queue } => self.ioctl(ctx, "streamoff", |s| {
                driver::streamoff(s, queue);
                let what = format!("STREAMOFF({})", queue.name());
                mock::with(|w| {
                    w.rule_scope_ended(Some(s), None, &what);
                    if queue == Queue::Output {
                        w.rule_requests_ended(s, &what);
                    }
                });
                Ok(())
            }),
            Event::DecoderStop { ctx } => {
                self.ioctl(ctx, "decoder_cmd", |s| driver::decoder_cmd(s, true))
            }
            Event::DecoderStart { ctx } => {
                self.ioctl(ctx, "decoder_cmd", |s| driver::decoder_cmd(s, false))
            }
            Event::DaemonAttach { version } => self.attach(version),
            Event::DaemonDetach => {
                self.detach();
                self.with(|w| w.rule_scope_ended(None, None, "the daemon's detach"));
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
            Event::DaemonStop => self.with(|w| {
                w.daemon_reading = false;
                w.stopped_ev.get_or_insert(w.ev);
            }),
            Event::DaemonCont => self.with(|w| {
                w.daemon_reading = true;
                w.stopped_ev = None;
            }),
            Event::ReqAlloc { req } => self.request(req, "req_alloc", request::alloc),
            Event::Ctrls { ctx, req } => {
                self.ioctl(ctx, "s_ext_ctrls", |s| request::set_ctrls(s, req))
            }
            Event::ReqQueue { req } => self.request(req, "req_queue", request::queue),
            Event::ReqReinit { req } => self.request(req, "req_reinit", request::reinit),
            Event::ReqClose { req } => self.request(req, "req_close", request::close),
        }
    }

    /// A call on request `req`'s file descriptor, its errno logged (under
    /// context 0: a request belongs to the media device).
    fn request(&mut self, req: u32, what: &'static str, f: impl FnOnce(u32) -> Result<(), i32>) {
        if let Err(e) = f(req) {
            self.errno(0, what, e);
        }
    }

    /// daedalus_job_core_set_limits(), as the KUnit executor calls it on
    /// its device before any context: the contract learns the sessions
    /// the device now takes.
    fn limits(&mut self, contexts: u32, capture: u32) {
        let r = driver::set_limits(contexts, capture);
        if r == 0 {
            self.with(|w| w.contract_limits(contexts));
        } else {
            self.errno(0, "limits", -r);
        }
    }

    fn open(&mut self, ctx: u32, stateless: bool) {
        let ok = self.with(|w| {
            ctx != 0
                && w.slot_of_id(ctx).is_none()
                && w.ctxs.iter().filter(|c| c.open).count() < MAX_CONTEXTS
        });
        if !ok {
            self.errno(ctx, "open", if ctx == 0 { EINVAL } else { EBUSY });
            return;
        }
        driver::open(ctx, stateless);
    }

    fn dqbuf(&mut self, ctx: u32, queue: Queue) {
        let Some(slot) = self.slot(ctx, "dqbuf") else {
            return;
        };
        let r = vb2::dqbuf(slot, queue);
        self.with(|w| {
            w.rule_eos_brings_epipe(slot, queue == Queue::Capture && r == Err(vb2::EAGAIN));
            w.record(Record::Dqbuf {
                ctx,
                queue,
                result: r,
            });
        });
    }

    fn close(&mut self, ctx: u32) {
        let Some(slot) = self.slot(ctx, "close") else {
            return;
        };
        if !driver::release(slot) {
            return;
        }
        let (left, parked) = driver::ctx_jobs_left(slot);
        self.with(|w| {
            // v4l2_ctrl_handler_free(): its objects leave every request.
            w.free_ctrl_objects(slot);
            w.rule_close_leaves_no_job(ctx, left, parked);
            let c = &mut w.ctxs[slot];
            c.open = false;
            for id in c
                .out
                .bufs
                .drain(..)
                .chain(c.cap.bufs.drain(..))
                .collect::<Vec<_>>()
            {
                w.set_own(id, mock::Own::Freed, "freed (close)");
            }
            w.rule_scope_ended(Some(slot), None, "close");
            w.rule_requests_ended(slot, "close");
        });
    }

    fn attach(&mut self, version: u32) {
        if self.with(|w| w.daemon_attached) {
            // A second daemon: the device is busy.
            self.errno(0, "attach", EBUSY);
            return;
        }
        self.with(|w| w.daemon_attached = true);
        driver::daemon_attach();
        self.read_requests();
        // Its RESP_HELLO, as the KUnit executor's
        // (kmod/kunit/daedalus_replay_glue.h): H.264 into NV12 up to
        // DR_DAEMON_MAX_DIM square, REQ_CAPTURE_FMT taken (as daedalusd
        // does), mapped jobs when the run offers them.
        let flags = HELLO_F_CAPTURE_FMT
            | if self.with(|w| w.offer_mapped) {
                HELLO_F_MAPPED
            } else {
                0
            };
        let hello = RespHello {
            proto_version: version,
            daemon_version: ffi::DR_DAEMON_VERSION,
            codecs: Codec::H264.bit(),
            pixfmts: Pixfmt::Nv12.bit(),
            max_width: ffi::DR_DAEMON_MAX_DIM,
            max_height: ffi::DR_DAEMON_MAX_DIM,
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
            w.hello = None;
            // The old daemon's replies can no longer come.
            w.issued.clear();
        });
        driver::daemon_detach();
    }

    /// One daemon write(), applied by the module's own dispatcher
    /// (kmod/daedalus_dispatch.c). A refusal goes to the outcome log as
    /// `what`'s errno.
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
                if !w.daemon_ready() {
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
                // What the job was before the reply: its generation, the
                // event that sent it, and the context's current generation.
                let job = w
                    .job_mut(f.ctx_id, f.cookie)
                    .filter(|j| !j.dead())
                    .map(|j| (j.generation, j.issued_ev));
                let job = job.map(|(g, ev)| (g, ev, w.stream_gen(f.ctx_id)));
                Some(ReplyBefore {
                    at: w.log.len(),
                    changes: w.changes,
                    dead,
                    job,
                })
            })
        });
        let ret = driver::dispatch(msg);
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
            w.rule_dispatcher_puts_ctx(ctx);
            if let (Some(f), Some(b)) = (frame, before) {
                w.rule_reply_applied_right(&f, ret, b);
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
                JobRef::Nth(n) => w.ctxs[slot]
                    .read_jobs
                    .get((n as usize).wrapping_sub(1))
                    .map(|&i| (jobs[i].cookie, jobs[i].generation)),
                JobRef::Newest => w.ctxs[slot]
                    .read_jobs
                    .last()
                    .map(|&i| (jobs[i].cookie, jobs[i].generation)),
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
            (None, JobRef::Nth(_) | JobRef::Newest) => (u64::from(u32::MAX) | (1 << 32), 1),
        };
        let gen_ = generation.unwrap_or(job_gen);
        // Pictures larger than any buffer go without their bytes: the
        // module refuses them either way, and the replay stays bounded.
        // A mapped job's picture is in the mapped buffer: none inline.
        let data_len = if flags & FRAME_HAS_PIXELS != 0
            && bytes <= MAX_INLINE_PICTURE
            && !self.with(|w| w.mapped())
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

    fn stream_info(&mut self, ctx: u32, width: u32, height: u32, dpb: u32) {
        let generation = self.with(|w| w.stream_gen(ctx));
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
            self.with(|w| w.rule_scope_ended(Some(slot), None, "RESP_SESSION_ERROR"));
        }
    }

    fn reset_done(&mut self, ctx: u32, generation: Option<u32>) {
        let g = match generation {
            Some(g) => g,
            None => self.with(|w| w.stream_gen(ctx)),
        };
        let body = RespResetDone {
            ctx_id: ctx,
            generation: g,
        };
        let msg = core::daemon_message(MsgType::RespResetDone, 0, &body, &[]);
        self.write(&msg, "write");
    }

    fn tick(&mut self, ms: u32) {
        let now = self.with(|w| {
            w.now_ns += u64::from(ms) * 1_000_000;
            w.now_ns
        });
        driver::watchdog(now);
        // Each job the watchdog expired is over now; one the daemon had
        // answered should never have needed it.
        for (ctx, cookie) in self.with(|w| std::mem::take(&mut w.expired)) {
            self.with(|w| {
                let Some(slot) = w.ctxs.iter().rposition(|c| c.id == ctx) else {
                    return;
                };
                let what = format!("the watchdog's expiry of job {cookie:#x}");
                w.rule_scope_ended(Some(slot), Some(cookie), &what);
                w.rule_watchdog_only_for_silence(ctx, cookie);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    //! The executor's glue and rules, driven call by call (the
    //! scenario-level behaviour is covered by tests/regress.rs, the mock's
    //! own edges by mock/m2m.rs).

    use super::*;
    use crate::mock::{Own, STEP_BUDGET, VB2_BUF_STATE_DONE, expect_violation};
    use crate::oracle::Invariant;

    fn executor(events: &[Event]) -> Executor {
        let s = Scenario::from_events(events.iter().copied());
        let mut ex = Executor::new(core::lookup("real").unwrap(), &s, &Options::default());
        ex.w.events.push((1, Event::Tick { ms: 0 }));
        ex
    }

    /// Context 1 with one CAPTURE buffer: its id.
    fn open_one_buf(ex: &mut Executor) -> usize {
        ex.open(1, false);
        ex.event(reqbufs(1, Queue::Capture, 1));
        mock::with(|w| w.ctxs[0].cap.bufs[0])
    }

    fn reqbufs(ctx: u32, queue: Queue, count: u32) -> Event {
        Event::Reqbufs { ctx, queue, count }
    }

    fn qbuf(ctx: u32, queue: Queue, size: u32) -> Event {
        Event::Qbuf {
            ctx,
            queue,
            index: 0,
            ts: 0,
            size,
            req: None,
        }
    }

    fn streamon(ctx: u32, queue: Queue) -> Event {
        Event::Streamon { ctx, queue }
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
            ex.open(ctx, false);
            ex.event(reqbufs(ctx, Queue::Output, 1));
            ex.event(qbuf(ctx, Queue::Output, 100));
            ex.event(streamon(ctx, Queue::Output));
        }
        let core = mock::core();
        // SAFETY: the fronts are live.
        let open = (0..9)
            .filter(|&s| unsafe {
                crate::core::c_call!(core, front_session_open(mock::front_fns(s).0))
            })
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
        ex.open(1, false);
        ex.event(reqbufs(1, Queue::Capture, 64));
        ex.event(reqbufs(1, Queue::Output, 64));
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
        ex.open(1, false);
        ex.event(reqbufs(1, Queue::Capture, 1));
        ex.event(reqbufs(1, Queue::Output, 1));
        ex.event(qbuf(1, Queue::Output, 100));
        ex.event(streamon(1, Queue::Output));
        // The format grows after the buffers were allocated: 1920x1104.
        ex.stream_info(1, 1920, 1090, 4);
        ex.event(qbuf(1, Queue::Capture, 0));
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
        ex.open(1, false);
        for e in [
            reqbufs(1, Queue::Output, 1),
            reqbufs(1, Queue::Capture, 1),
            qbuf(1, Queue::Output, 100),
            qbuf(1, Queue::Capture, 0),
            streamon(1, Queue::Output),
            streamon(1, Queue::Capture),
        ] {
            ex.event(e);
        }
        mock::with(|w| w.rule_no_stalled_job());
        assert!(mock::with(|w| w.violation.is_none()));
        // The running job's context fails without the core hearing of it.
        let front = mock::front_fns(0).0;
        // SAFETY: the front is live.
        unsafe { core::daedalus_shim_front_set_failed(front) };
        mock::with(|w| w.rule_no_stalled_job());
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
        let a = open_one_buf(&mut ex);
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
            w.contract_picture(a, VB2_BUF_STATE_DONE, d);
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
            for _ in 0..=STEP_BUDGET {
                w.record(Record::Daemon { attach: true });
            }
            expect_violation(w, Invariant::Livelock, "spins without end");
            assert_eq!(w.log.len(), STEP_BUDGET);
        });
        drop(g);
    }
}
