//! The userspace mock of the kernel framework around the module's code:
//! vb2's queues (vb2.rs), v4l2-mem2mem's ready lists and scheduler
//! (m2m.rs), and the tracepoints (trace.rs), reproducing
//! drivers/media/v4l2-core/ as it behaves. Here: the world they share —
//! every buffer with its ownership ledger (where it is, who holds it, its
//! history), every context, the device — and the run's violation.
//!
//! The C side reaches the mock through `extern "C"` functions; the current
//! run's state is a thread-local pointer, so runs on different threads are
//! independent. No Rust reference to the state is held across a call into
//! C: every access is a short `with()` borrow.

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::ffi::c_void;
use std::ptr;

use crate::core::{self, CoreFns, FrontLimits, JobOps, c_call, ffi};
pub use crate::oracle::Own;
use crate::oracle::{BufName, EventRef, Invariant, Move, Record, Violation};
use crate::scenario::{Event, Queue};

mod layout;
pub(crate) mod m2m;
pub(crate) mod request;
mod trace;
pub(crate) mod vb2;

pub use layout::*;
pub(crate) use vb2::{
    V4L2_BUF_FLAG_LAST, VB2_BUF_STATE_ACTIVE, VB2_BUF_STATE_DONE, VB2_BUF_STATE_ERROR,
    VB2_BUF_STATE_QUEUED, Vb2Q,
};

/// Hashes a cookie (a generation over a slot id, never chosen by an
/// adversary of this process) with one multiplication: the issued-cookie
/// map is looked up at every job, and SipHash was a tenth of a job's time.
#[derive(Clone, Copy, Default)]
pub struct CookieHasher(u64);

impl std::hash::Hasher for CookieHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing, folded: the product's high half mixes every
        // bit of the slot and the generation, and the fold brings it down
        // to the low bits the table indexes by.
        let x = (n ^ self.0).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = x ^ (x >> 32);
    }
}

/// The issued-cookie map's hasher.
pub type BuildCookieHasher = std::hash::BuildHasherDefault<CookieHasher>;

/// One step of a buffer's history, put into words only when a diagnosis
/// quotes it: the steps every event takes (QBUF, claim, park, buf_done)
/// cost no formatting on the way.
#[derive(Clone, Debug)]
pub enum Note {
    /// A step whose words never change.
    Said(&'static str),
    /// A rare step, worded where it happened.
    Text(String),
    /// The client queued it: its timestamp and payload.
    Qbuf { ts: u64, size: u32 },
    /// A job claimed it.
    Claimed(u64),
    /// Its job finished and left it parked.
    Parked(u64),
    /// vb2_buffer_done in this state.
    BufDone(u32),
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::Said(s) => f.write_str(s),
            Note::Text(s) => f.write_str(s),
            Note::Qbuf { ts, size } => write!(f, "QBUF ts={ts} size={size}"),
            Note::Claimed(c) => write!(f, "claimed by job {c:#x}"),
            Note::Parked(c) => write!(f, "parked by job {c:#x} (job finished)"),
            Note::BufDone(s) => write!(f, "buf_done {}", crate::oracle::state_name(*s)),
        }
    }
}

impl From<&'static str> for Note {
    fn from(s: &'static str) -> Self {
        Note::Said(s)
    }
}

impl From<String> for Note {
    fn from(s: String) -> Self {
        Note::Text(s)
    }
}

/// A doubtful ownership step that the kernel would not catch on the spot:
/// it becomes the "set up" of a later violation on the same buffer, or the
/// violation itself if the run ends without one.
#[derive(Clone, Debug)]
pub struct Suspect {
    pub ev: usize,
    pub what: String,
    pub strong: bool,
}

pub struct BufInfo {
    pub name: BufName,
    pub slot: usize,
    pub own: Own,
    pub linked: bool,
    pub last_change: usize,
    pub suspect: Option<Suspect>,
    pub history: VecDeque<(usize, Note)>,
    /// The plane's memory (the C side holds a pointer into it), from
    /// [`plane_mem`]; back to the pool when the buffer goes.
    pub _mem: Vec<u8>,
    pub done_flags: u32,
    /// The request it is bound to (`vb->req_obj.req`), by index in
    /// `World::requests`.
    pub req: Option<usize>,
    /// The name of the last request it was queued in, for diagnoses.
    pub req_name: Option<u32>,
    /// `vb->prepared`: buf_prepare ran (at QBUF, or when its request was
    /// validated) and DQBUF or a cancel has not undone it yet.
    pub prepared: bool,
}

impl Drop for BufInfo {
    fn drop(&mut self) {
        vb2::recycle(std::mem::take(&mut self._mem));
    }
}

/// A job as the oracles follow it from the tracepoints.
#[derive(Clone, Debug)]
pub struct JobModel {
    pub cookie: u64,
    pub src: Option<usize>,
    pub dst: Option<usize>,
    pub generation: u32,
    pub running: bool,
    pub src_done: bool,
    pub dst_done: bool,
    /// The event whose device_run sent it to the daemon.
    pub issued_ev: usize,
    /// The event at which the daemon answered it with a well-formed
    /// session error of its context (accepted or refused), if it did.
    pub answered_ev: Option<usize>,
    /// The request its OUTPUT buffer came in (a stateless context's).
    pub request: Option<u32>,
}

impl JobModel {
    pub fn dead(&self) -> bool {
        !self.running
            && (self.src.is_none() || self.src_done)
            && (self.dst.is_none() || self.dst_done)
    }
}

pub struct CtxState {
    pub id: u32,
    pub open: bool,
    pub m2m: Box<M2mCtx>,
    pub jctx: Box<[u64]>,
    pub job_flags: u8,
    pub has_stopped: bool,
    pub out: Vb2Q,
    pub cap: Vb2Q,
    /// The context's `struct daedalus_front` (kmod/daedalus_front.c): the
    /// decoder's state machine, C memory the executor never writes.
    pub front: Box<[u64]>,
    /// The event that failed the context (session error, daemon gone):
    /// when the front last put its queues in error.
    pub failed_ev: usize,
    /// Jobs in the order the module sent them (REQ_DECODE).
    pub jobs: Vec<JobModel>,
    /// Indices in `jobs` of those whose REQ_DECODE the daemon read, in the
    /// order it read them: a reply names a job by its place here (one the
    /// queue dropped as moot is never read).
    pub read_jobs: Vec<usize>,
    /// Jobs sent to the daemon and not finished yet.
    pub running_jobs: u32,
    /// A context of the stateless (Request API) node.
    pub stateless: bool,
    /// The tag of its controls' current values (v4l2_ctrl_request_setup()
    /// applied them); None: the defaults.
    pub ctrl_tag: Option<u32>,
}

impl CtxState {
    pub fn q(&mut self, queue: Queue) -> &mut Vb2Q {
        match queue {
            Queue::Output => &mut self.out,
            Queue::Capture => &mut self.cap,
        }
    }
}

/// What the delivery of one RESP_FRAME promises, for the oracles.
#[derive(Clone, Copy, Debug)]
pub struct Delivery {
    pub cookie: u64,
    pub flags: u32,
    pub ts: u64,
    pub dead: bool,
    /// The picture's size (RESP_FRAME bytesused).
    pub bytes: u32,
    /// Its bytes when they came inline: they point into the message,
    /// which outlives the delivery.
    pub data: *const u8,
    pub data_len: usize,
}

pub struct World {
    pub core: &'static CoreFns,
    /// Contexts the dispatcher holds (ctx_get without ctx_put yet).
    pub ctx_held: u32,
    pub core_mem: Box<[u64]>,
    /// The daemon's request queue (`struct daedalus_outq`,
    /// kmod/daedalus_outq.c), C memory the executor never writes.
    pub outq_mem: Box<[u64]>,
    /// The scenario's daemon reads what is queued at the end of every
    /// event; not between `daemon-stop` and `daemon-cont`.
    pub daemon_reading: bool,
    /// The event that stopped the daemon's reading, while it is stopped.
    pub stopped_ev: Option<usize>,
    /// The device's context-list lock and the fronts' shared part
    /// (`struct daedalus_shim_fdev` of the glue) ...
    pub fdev_mem: Box<[u64]>,
    /// ... and in it, `struct daedalus_front_dev` (which counts sessions).
    pub fdev: *mut ffi::daedalus_front_dev,
    pub m2m_dev: Box<u64>,
    pub ops: Box<JobOps>,
    /// Boxed so that the intrusive links the C side and the ready lists
    /// point at never move when the vector grows.
    #[allow(clippy::vec_box)]
    pub bufs: Vec<Box<MockBuf>>,
    pub info: Vec<BufInfo>,
    pub ctxs: Vec<CtxState>,
    pub curr_ctx: Option<usize>,
    pub job_queue: VecDeque<usize>,
    pub pending_work: bool,
    pub daemon_attached: bool,
    pub now_ns: u64,
    pub ev: usize,
    /// The scenario's events (line, event); the end of the run is one past.
    pub events: Vec<(u32, crate::scenario::Event)>,
    pub log: Vec<(usize, Record)>,
    /// Every change of a buffer's ledger state or ready-queue link, when
    /// the log is kept.
    pub moves: Vec<Move>,
    pub violation: Option<Violation>,
    pub delivering: Option<Delivery>,
    pub keep_log: bool,
    /// The run offers mapped jobs in its RESP_HELLO (Options::mapped).
    pub offer_mapped: bool,
    /// What the attached daemon's RESP_HELLO announced (pixel formats,
    /// largest size, flags), once its handshake is done: the daemon is
    /// ready (DAEDALUS_DAEMON_READY) exactly while this is set.
    pub hello: Option<FrontLimits>,
    /// Claims, parks, completions and finishes so far (the dead-cookie
    /// oracle compares it across a delivery).
    pub changes: u64,
    /// Claims and completions so far: buffers changing hands (the
    /// livelock oracle's measure of progress).
    pub moved: u64,
    /// Every cookie sent to the daemon since it attached, with its context
    /// and the event that sent it: a reply to any of them may still come.
    pub issued: HashMap<u64, (u32, usize), BuildCookieHasher>,
    /// Jobs the watchdog expired during the current event (ctx, cookie).
    pub expired: Vec<(u32, u64)>,
    /// Records of the current event, kept or not: the step budget.
    pub steps: usize,
    /// The core's counters after the last event (exec.rs run_all).
    pub final_stats: Option<String>,
    /// The decoder's contract with its client and its daemon
    /// (contract.rs): what they have seen so far.
    pub(crate) contract: crate::oracle::contract::Contract,
    /// Every request allocated (mock/request.rs), live or released.
    pub requests: Vec<request::Request>,
}

/// Most steps (outcome records, kept or not) one scenario event may take:
/// far above any real event (a close of 64+32 buffers is a few hundred),
/// so a core that spins is stopped and named instead of exhausting memory.
pub const STEP_BUDGET: usize = 100_000;

/// device_runs in a row with no buffer changing hands before the
/// workqueue is declared a livelock.
pub const LIVELOCK_RUNS: u32 = 64;

thread_local! {
    static WORLD: Cell<*mut World> = const { Cell::new(ptr::null_mut()) };
}

/// Runs `f` on the current world. Never call into C inside `f`.
#[inline]
pub(crate) fn with<R>(f: impl FnOnce(&mut World) -> R) -> R {
    let w = WORLD.with(|c| c.get());
    assert!(!w.is_null(), "mock used outside a run");
    // SAFETY: the pointer is set by `install` for the duration of a run on
    // this thread, and no other reference to the world is live: callers
    // never hold one across a call into C, which is the only re-entry path.
    f(unsafe { &mut *w })
}

/// Makes `w` the current world of this thread until the guard drops.
pub struct Installed(*mut World);

pub(crate) fn install(w: &mut World) -> Installed {
    WORLD.with(|c| c.set(w as *mut World));
    Installed(w as *mut World)
}

impl Drop for Installed {
    fn drop(&mut self) {
        WORLD.with(|c| {
            if c.get() == self.0 {
                c.set(ptr::null_mut());
            }
        });
    }
}

impl World {
    /// A device with the job core `core` initialised on it, no context
    /// and no daemon; `events` are the scenario's (line, event), for
    /// diagnostics. Nothing runs until [`install`].
    pub fn new(
        core: &'static CoreFns,
        opts: &crate::exec::Options,
        events: Vec<(u32, Event)>,
    ) -> Self {
        let mut fdev_mem = zeroed_words(size_of::<ffi::daedalus_shim_fdev>());
        // SAFETY: fdev_mem is sizeof(struct daedalus_shim_fdev), 8-aligned;
        // the world keeps it as long as any front points at it.
        let fdev = unsafe { core::daedalus_shim_fdev_init(fdev_mem.as_mut_ptr().cast()) };
        let mut w = World {
            core,
            ctx_held: 0,
            core_mem: zeroed_words(size_of::<ffi::daedalus_job_core>()),
            outq_mem: zeroed_words(size_of::<ffi::daedalus_outq>()),
            daemon_reading: true,
            stopped_ev: None,
            fdev_mem,
            fdev,
            m2m_dev: Box::new(0),
            ops: Box::new(crate::driver::job_ops()),
            bufs: Vec::new(),
            info: Vec::new(),
            ctxs: Vec::new(),
            curr_ctx: None,
            job_queue: Default::default(),
            pending_work: false,
            daemon_attached: false,
            now_ns: 1_000_000_000,
            ev: 0,
            events,
            log: Vec::new(),
            moves: Vec::new(),
            violation: None,
            delivering: None,
            keep_log: opts.keep_log,
            offer_mapped: opts.mapped,
            hello: None,
            changes: 0,
            moved: 0,
            issued: Default::default(),
            expired: Vec::new(),
            steps: 0,
            final_stats: None,
            contract: crate::oracle::contract::Contract::new(ffi::DAEDALUS_MAX_CONTEXTS),
            requests: Vec::new(),
        };
        let m2m_dev = (&mut *w.m2m_dev as *mut u64).cast();
        let outq = w.outq_ptr();
        // SAFETY: core_mem and outq_mem are sizeof(struct daedalus_job_core)
        // and sizeof(struct daedalus_outq) of zeroes, 8-aligned; ops and the
        // queue outlive the core (all live in the world, boxed).
        unsafe {
            c_call!(core, outq_init(outq));
            c_call!(
                core,
                core_init(
                    w.core_mem.as_mut_ptr().cast(),
                    m2m_dev,
                    &*w.ops,
                    outq,
                    opts.timeout_ns,
                )
            )
        };
        w
    }

    /// The device's context-list lock (dev->ctx_lock), for
    /// `daedalus_shim_fdev_lock`.
    pub fn ctx_lock_ptr(&mut self) -> *mut ffi::daedalus_shim_fdev {
        self.fdev_mem.as_mut_ptr().cast()
    }

    pub fn record(&mut self, r: Record) {
        self.steps += 1;
        if self.steps > STEP_BUDGET {
            if self.violation.is_none() {
                let msg = format!(
                    "one scenario event took more than {STEP_BUDGET} driver steps (last: {r}): the driver spins without end"
                );
                self.violate(Invariant::Livelock, None, msg);
            }
            return;
        }
        self.contract_observe(&r);
        if self.keep_log {
            self.log.push((self.ev, r));
        }
    }

    pub fn buf_id(&self, vb: *const c_void) -> Option<usize> {
        self.bufs
            .iter()
            .position(|b| ptr::eq(&**b as *const MockBuf as *const c_void, vb))
    }

    pub fn note(&mut self, id: usize, what: impl Into<Note>) {
        let what = what.into();
        let ev = self.ev;
        let h = &mut self.info[id].history;
        if h.len() == 24 {
            h.pop_front();
        }
        h.push_back((ev, what));
    }

    pub fn set_own(&mut self, id: usize, own: Own, what: impl Into<Note>) {
        self.info[id].own = own;
        self.info[id].last_change = self.ev;
        self.note(id, what);
        self.moved_to(id);
    }

    /// Logs where buffer `id` is now (its ledger state and whether it is
    /// linked on its ready queue), for the timelines.
    pub fn moved_to(&mut self, id: usize) {
        if self.keep_log {
            let i = &self.info[id];
            self.moves.push(Move {
                pos: self.ev,
                seq: self.log.len(),
                buf: i.name,
                own: i.own,
                linked: i.linked,
            });
        }
    }

    /// Notes a doubtful step; a second owner outranks an unremoved link.
    pub fn suspect(&mut self, id: usize, what: String, strong: bool) {
        let replace = match &self.info[id].suspect {
            None => true,
            Some(s) => strong && !s.strong,
        };
        if replace {
            self.info[id].suspect = Some(Suspect {
                ev: self.ev,
                what: what.clone(),
                strong,
            });
        }
        self.note(id, format!("suspect: {what}"));
    }

    /// The scenario event at `pos`, for diagnostics.
    pub fn event_ref(&self, pos: usize) -> EventRef {
        match self.events.get(pos) {
            Some(&(line, ev)) => EventRef {
                pos,
                line,
                text: ev.to_string(),
            },
            None => EventRef {
                pos,
                line: 0,
                text: "<end of scenario>".into(),
            },
        }
    }

    /// Records the first violation; later ones in the same run are dropped.
    pub fn violate(&mut self, invariant: Invariant, buf: Option<usize>, detail: String) {
        self.violate_job(invariant, buf, None, detail, None);
    }

    /// [`World::violate`] naming a job (context, cookie) and, when given,
    /// the event that set it up instead of the buffer's last change.
    pub fn violate_job(
        &mut self,
        invariant: Invariant,
        buf: Option<usize>,
        job: Option<(u32, u64)>,
        detail: String,
        setup: Option<(usize, String)>,
    ) {
        if self.violation.is_some() {
            return;
        }
        let broke = self.event_ref(self.ev);
        let (buffer, buf_setup, history) = match buf {
            Some(id) => {
                let info = &self.info[id];
                let setup = match &info.suspect {
                    Some(s) => Some((self.event_ref(s.ev), s.what.clone())),
                    None => info
                        .history
                        .iter()
                        .rev()
                        .find(|(e, _)| *e != self.ev)
                        .map(|(e, w)| (self.event_ref(*e), w.to_string())),
                };
                let history = info
                    .history
                    .iter()
                    .map(|(e, w)| format!("line {}: {w}", self.event_ref(*e).line))
                    .collect();
                (Some(info.name), setup, history)
            }
            None => (None, None, Vec::new()),
        };
        let setup = match setup {
            Some((ev, what)) => Some((self.event_ref(ev), what)),
            None => buf_setup,
        };
        let request = self.request_of(buf, job);
        self.violation = Some(Violation {
            invariant,
            buffer,
            job,
            request,
            detail,
            broke,
            setup,
            history,
        });
    }

    /// The request a diagnosis names: the job's, else the buffer's (an
    /// OUTPUT buffer's own, a CAPTURE buffer's last job's).
    fn request_of(&self, buf: Option<usize>, job: Option<(u32, u64)>) -> Option<u32> {
        if let Some((ctx, cookie)) = job {
            let slot = self.ctxs.iter().rposition(|c| c.id == ctx)?;
            return self.ctxs[slot]
                .jobs
                .iter()
                .rev()
                .find(|j| j.cookie == cookie)
                .and_then(|j| j.request);
        }
        let id = buf?;
        if let Some(r) = self.info[id].req_name {
            return Some(r);
        }
        let c = &self.ctxs[self.info[id].slot];
        if !c.stateless {
            return None;
        }
        c.jobs
            .iter()
            .rev()
            .find(|j| j.dst == Some(id))
            .and_then(|j| j.request)
    }

    pub fn slot_of_jctx(&self, jctx: *const ffi::daedalus_job_ctx) -> Option<usize> {
        self.ctxs
            .iter()
            .position(|c| ptr::eq(c.jctx.as_ptr().cast(), jctx))
    }

    /// Whether the job `cookie` of context `ctx` is over (or was never
    /// issued): a reply naming it must change nothing.
    pub fn cookie_dead(&self, ctx: u32, cookie: u64) -> bool {
        self.ctxs
            .iter()
            .rposition(|c| c.id == ctx)
            .and_then(|s| self.ctxs[s].jobs.iter().rev().find(|j| j.cookie == cookie))
            .is_none_or(JobModel::dead)
    }

    pub fn slot_of_id(&self, id: u32) -> Option<usize> {
        self.ctxs.iter().position(|c| c.id == id && c.open)
    }

    /// The live buffer `index` of context `ctx`'s `queue`.
    pub fn find_buf(&self, ctx: u32, queue: Queue, index: u32) -> Option<usize> {
        self.info.iter().position(|b| {
            b.name.ctx == ctx
                && b.name.queue == queue
                && b.name.index == index
                && b.own != Own::Freed
        })
    }

    pub fn job_mut(&mut self, ctx: u32, cookie: u64) -> Option<&mut JobModel> {
        let slot = self.ctxs.iter().rposition(|c| c.id == ctx)?;
        self.ctxs[slot]
            .jobs
            .iter_mut()
            .rev()
            .find(|j| j.cookie == cookie)
    }

    /// The context's `struct daedalus_front`.
    pub fn front_ptr(&mut self, slot: usize) -> *mut ffi::daedalus_front {
        self.ctxs[slot].front.as_mut_ptr().cast()
    }

    /// The front's failed and stopped states, for the oracles.
    pub fn front_state(&self, slot: usize) -> (bool, bool) {
        // SAFETY: the front is live C memory; the glue reads two fields.
        let f = unsafe {
            crate::core::daedalus_shim_front_flags(self.ctxs[slot].front.as_ptr().cast())
        };
        (f & 1 != 0, f & 2 != 0)
    }

    /// The context's job-core context (`struct daedalus_job_ctx`).
    pub fn jctx_ptr(&mut self, slot: usize) -> *mut ffi::daedalus_job_ctx {
        self.ctxs[slot].jctx.as_mut_ptr().cast()
    }

    /// The stream generation of open context `ctx` (1 when it is not
    /// open): what a reply must name to be applied.
    pub fn stream_gen(&mut self, ctx: u32) -> u32 {
        match self.slot_of_id(ctx) {
            // SAFETY: the job-core context is live; the glue reads one
            // field and calls nothing back.
            Some(slot) => unsafe { core::daedalus_shim_stream_gen(self.jctx_ptr(slot)) },
            None => 1,
        }
    }

    /// The daemon finished its handshake (DAEDALUS_DAEMON_READY).
    pub fn daemon_ready(&self) -> bool {
        self.hello.is_some()
    }

    /// The attached daemon takes mapped jobs (daedalus_daemon.mapped).
    pub fn mapped(&self) -> bool {
        self.hello
            .is_some_and(|h| h.flags & daedalus_proto::HELLO_F_MAPPED != 0)
    }

    /// The job core (`struct daedalus_job_core`).
    pub fn core_ptr(&mut self) -> *mut ffi::daedalus_job_core {
        self.core_mem.as_mut_ptr().cast()
    }

    /// The daemon's request queue (`struct daedalus_outq`).
    pub fn outq_ptr(&mut self) -> *mut ffi::daedalus_outq {
        self.outq_mem.as_mut_ptr().cast()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        // SAFETY: the core was initialised in `new`; no context is left
        // that it could touch once the world goes.
        unsafe {
            c_call!(self.core, core_destroy(self.core_mem.as_mut_ptr().cast()));
            c_call!(self.core, outq_drop_all(self.outq_mem.as_mut_ptr().cast()));
        }
    }
}

/// The world recorded a violation of `invariant` whose detail mentions
/// `needle` (for the tests of the mock and the executor).
#[cfg(test)]
pub(crate) fn expect_violation(w: &World, invariant: Invariant, needle: &str) {
    let v = w.violation.as_ref().expect("a violation was recorded");
    assert_eq!(v.invariant, invariant);
    assert!(v.detail.contains(needle), "{}", v.detail);
}

/// C memory of `bytes` zeroes, 8-aligned, for a structure the mock only
/// knows the size of.
pub(crate) fn zeroed_words(bytes: usize) -> Box<[u64]> {
    vec![0u64; bytes.div_ceil(8)].into_boxed_slice()
}

/// The queue a V4L2 buffer type belongs to (OUTPUT or OUTPUT_MPLANE, else
/// CAPTURE).
pub(crate) fn queue_of_type(ty: u32) -> Queue {
    if ty == ffi::V4L2_BUF_TYPE_VIDEO_OUTPUT || ty == ffi::V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE {
        Queue::Output
    } else {
        Queue::Capture
    }
}

// Short accessors for code that must not hold the world across a call
// into C.

/// The run's job-core variant.
#[inline]
pub(crate) fn core() -> &'static CoreFns {
    with(|w| w.core)
}

/// The daemon's request queue and the run's variant, in one look.
#[inline]
pub(crate) fn outq_fns() -> (*mut ffi::daedalus_outq, &'static CoreFns) {
    with(|w| (w.outq_ptr(), w.core))
}

/// The context's front and the run's variant, in one look.
#[inline]
pub(crate) fn front_fns(slot: usize) -> (*mut ffi::daedalus_front, &'static CoreFns) {
    with(|w| (w.front_ptr(slot), w.core))
}

/// The context's job-core context and the run's variant, in one look.
#[inline]
pub(crate) fn jctx_fns(slot: usize) -> (*mut ffi::daedalus_job_ctx, &'static CoreFns) {
    with(|w| (w.jctx_ptr(slot), w.core))
}

/// Whether the run has a violation already.
pub(crate) fn failed() -> bool {
    with(|w| w.violation.is_some())
}

/// The job core.
pub(crate) fn core_ptr() -> *mut ffi::daedalus_job_core {
    with(|w| w.core_ptr())
}

// Locks: single-threaded, so a held lock taken again is a self-deadlock.

/// # Safety
/// `lock` must point to a `struct mutex` of the core.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn daedalus_mock_mutex_lock(lock: *mut MutexShim) {
    // SAFETY: lock is live C memory.
    let held = unsafe { (*lock).held };
    if held != 0 {
        with(|w| {
            w.violate(
                Invariant::Hang,
                None,
                "mutex_lock of a mutex this thread holds: self-deadlock".into(),
            )
        });
        return;
    }
    // SAFETY: as above.
    unsafe { (*lock).held = 1 };
}

/// # Safety
/// `lock` must point to a `struct mutex` of the core.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn daedalus_mock_mutex_unlock(lock: *mut MutexShim) {
    // SAFETY: lock is live C memory.
    unsafe { (*lock).held = 0 };
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::BuildCookieHasher;

    /// Cookies of one slot across generations differ only in their high
    /// half: the low bits a hash table indexes by must still tell them
    /// apart, or every generation of a slot lands in one bucket chain.
    #[test]
    fn cookies_of_one_slot_spread_over_the_table() {
        let b = BuildCookieHasher::default();
        let mut low = std::collections::HashSet::new();
        for generation in 1..=4096u64 {
            low.insert(b.hash_one((generation << 32) | 7) & 0xfff);
        }
        assert!(low.len() > 2048, "{} of 4096 distinct", low.len());
    }
}
