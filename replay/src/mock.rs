//! The userspace mock of v4l2_m2m and vb2 that the job core's C code links
//! against, reproducing drivers/media/v4l2-core/v4l2-mem2mem.c as it
//! behaves: per-queue ready lists of real intrusive `list_head` links with
//! a wrapping `u8 num_rdy`, `job_flags` QUEUED/RUNNING/ABORT, one
//! `curr_ctx`, `job_finish` a silent no-op for a context that is not
//! current, `buf_remove_by_buf` an unconditional `list_del` that poisons
//! the node (a second one is reported as DEBUG_LIST reports it), streamoff
//! re-initialising the ready list without completing its entries, and
//! `schedule_work` for the next device_run after a finish.
//!
//! Every buffer also has an ownership ledger (where it is, who holds it,
//! its history), which the oracles read.
//!
//! The C side reaches the mock through `extern "C"` functions; the current
//! run's state is a thread-local pointer, so runs on different threads are
//! independent. No Rust reference to the state is held across a call into
//! C: every access is a short `with()` borrow.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::ffi::c_void;
use std::mem::offset_of;
use std::ptr;

use crate::core::{CoreFns, DecodeParams, JobOps};
pub use crate::oracle::Own;
use crate::oracle::{BufName, EventRef, Invariant, Move, Record, Violation};
use crate::scenario::Queue;

/// The kernel's poison values on x86_64 (POISON_POINTER_DELTA 0xdead...).
pub(crate) const LIST_POISON1: usize = 0xdead_0000_0000_0100;
pub(crate) const LIST_POISON2: usize = 0xdead_0000_0000_0122;

pub(crate) const VB2_BUF_STATE_QUEUED: u32 = 3;
pub(crate) const VB2_BUF_STATE_DONE: u32 = 5;
pub(crate) const VB2_BUF_STATE_ACTIVE: u32 = 4;
pub(crate) const VB2_BUF_STATE_ERROR: u32 = 6;
pub(crate) const V4L2_BUF_FLAG_LAST: u32 = 0x0010_0000;

const TRANS_QUEUED: u8 = 1 << 0;
const TRANS_RUNNING: u8 = 1 << 1;
const TRANS_ABORT: u8 = 1 << 2;

// C mirrors. Checked against the C compiler's layout by `check_layout`.

#[repr(C)]
pub struct ListHead {
    pub next: *mut ListHead,
    pub prev: *mut ListHead,
}

#[repr(C)]
pub struct Vb2Plane {
    pub mem_priv: *mut c_void,
    pub bytesused: u32,
    pub length: u32,
    pub min_length: u32,
    pub data_offset: u32,
}

#[repr(C)]
pub struct Vb2Buffer {
    pub vb2_queue: *mut c_void,
    pub index: u32,
    pub type_: u32,
    pub memory: u32,
    pub num_planes: u32,
    pub timestamp: u64,
    pub state: u32,
    pub copied_timestamp: u32,
    pub planes: [Vb2Plane; 8],
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct V4l2Timecode {
    pub type_: u32,
    pub flags: u32,
    pub frames: u8,
    pub seconds: u8,
    pub minutes: u8,
    pub hours: u8,
    pub userbits: [u8; 4],
}

#[repr(C)]
pub struct Vb2V4l2Buffer {
    pub vb2_buf: Vb2Buffer,
    pub flags: u32,
    pub field: u32,
    pub timecode: V4l2Timecode,
    pub sequence: u32,
    pub request_fd: i32,
    pub is_held: bool,
}

#[repr(C)]
pub struct M2mBuffer {
    pub vb: Vb2V4l2Buffer,
    pub list: ListHead,
}

#[repr(C)]
pub struct MutexShim {
    held: i32,
    initialised: i32,
}

/// A vb2 buffer as allocated by the mock: the C-visible part first.
#[repr(C)]
pub struct MockBuf {
    pub m2m: M2mBuffer,
    pub id: usize,
}

/// `struct v4l2_m2m_queue_ctx` (the mock's own layout; opaque to C).
#[repr(C)]
pub struct QueueCtx {
    pub rdy_queue: ListHead,
    pub num_rdy: u8,
    pub buffered: bool,
    pub slot: usize,
    pub output: bool,
}

/// `struct v4l2_m2m_ctx` (opaque to C).
#[repr(C)]
pub struct M2mCtx {
    pub out_q: QueueCtx,
    pub cap_q: QueueCtx,
    pub slot: usize,
}

pub(crate) fn check_layout() -> Result<(), String> {
    let rust = [
        size_of::<Vb2Plane>(),
        size_of::<Vb2Buffer>(),
        offset_of!(Vb2Buffer, timestamp),
        offset_of!(Vb2Buffer, state),
        offset_of!(Vb2Buffer, planes),
        size_of::<Vb2V4l2Buffer>(),
        offset_of!(Vb2V4l2Buffer, flags),
        offset_of!(Vb2V4l2Buffer, timecode),
        offset_of!(Vb2V4l2Buffer, sequence),
        offset_of!(Vb2V4l2Buffer, is_held),
        size_of::<M2mBuffer>(),
        offset_of!(M2mBuffer, list),
        size_of::<MutexShim>(),
        size_of::<crate::core::MsgFrame>(),
        offset_of!(crate::core::MsgFrame, data),
        offset_of!(crate::core::MsgFrame, data_len),
        size_of::<DecodeParams>(),
        offset_of!(DecodeParams, timestamp),
        offset_of!(DecodeParams, dst_map),
        size_of::<JobOps>(),
        size_of::<crate::core::MsgHello>(),
        size_of::<crate::core::MsgStreamInfo>(),
        size_of::<crate::core::DispatchOps>(),
        offset_of!(crate::core::DispatchOps, session_error),
        size_of::<crate::core::FrontOps>(),
        offset_of!(crate::core::FrontOps, try_schedule),
        size_of::<crate::core::FrontLimits>(),
    ];
    for (i, r) in rust.iter().enumerate() {
        // SAFETY: the glue returns a constant for any index.
        let c = unsafe { crate::core::daedalus_shim_layout(i) };
        if c != *r {
            return Err(format!("shim layout entry {i}: C says {c}, Rust says {r}"));
        }
    }
    Ok(())
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
    pub history: VecDeque<(usize, String)>,
    /// The plane's memory (the C side holds a pointer into it), from
    /// [`plane_mem`]; back to the pool when the buffer goes.
    pub _mem: Vec<u8>,
    pub done_flags: u32,
}

impl Drop for BufInfo {
    fn drop(&mut self) {
        recycle(std::mem::take(&mut self._mem));
    }
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
fn recycle(mem: Vec<u8>) {
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

#[derive(Default)]
pub struct Vb2Q {
    pub bufs: Vec<usize>,
    pub streaming: bool,
    pub start_streaming_called: bool,
    pub error: bool,
    pub last_buffer_dequeued: bool,
    pub done_list: VecDeque<usize>,
    pub owned_by_drv: u32,
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
    /// Jobs in the order the daemon received them (REQ_DECODE).
    pub jobs: Vec<JobModel>,
    /// Jobs sent to the daemon and not finished yet.
    pub running_jobs: u32,
    /// m2m device_run calls not yet matched by a job_finish.
    pub m2m_running: bool,
    pub m2m_run_ev: usize,
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
    pub core: CoreFns,
    /// Contexts the dispatcher holds (ctx_get without ctx_put yet).
    pub ctx_held: u32,
    pub core_mem: Box<[u64]>,
    /// The device's context-list lock and the fronts' shared part
    /// (`struct daedalus_shim_fdev` of the glue) ...
    pub fdev_mem: Box<[u64]>,
    /// ... and in it, `struct daedalus_front_dev` (which counts sessions).
    pub fdev: *mut c_void,
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
    pub daemon_ready: bool,
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
    pub ctx_sizeof: usize,
    pub keep_log: bool,
    /// The run offers mapped jobs in its RESP_HELLO (Options::mapped).
    pub offer_mapped: bool,
    /// The attached daemon takes mapped jobs (daedalus_daemon.mapped).
    pub mapped: bool,
    /// The attached daemon's RESP_HELLO flags (0 before its handshake).
    pub hello_flags: u32,
    /// RESP_HELLO's pixel formats, max width and max height: what a
    /// STREAM_INFO may not exceed.
    pub hello_limits: (u32, u32, u32),
    /// Claims, parks, completions and finishes so far (the dead-cookie
    /// oracle compares it across a delivery).
    pub changes: u64,
    /// Claims and completions so far: buffers changing hands (the
    /// livelock oracle's measure of progress).
    pub moved: u64,
    /// Every cookie sent to the daemon since it attached, with its context
    /// and the event that sent it: a reply to any of them may still come.
    pub issued: HashMap<u64, (u32, usize)>,
    /// Jobs the watchdog expired during the current event (ctx, cookie).
    pub expired: Vec<(u32, u64)>,
    /// Records of the current event, kept or not: the step budget.
    pub steps: usize,
    /// The core's counters after the last event (exec.rs run_all).
    pub final_stats: Option<String>,
    /// The decoder's contract with its client and its daemon
    /// (contract.rs): what they have seen so far.
    pub(crate) contract: crate::contract::Contract,
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
    /// The device's context-list lock (dev->ctx_lock), for
    /// `daedalus_shim_fdev_lock`.
    pub fn ctx_lock_ptr(&mut self) -> *mut c_void {
        self.fdev_mem.as_mut_ptr() as *mut c_void
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

    pub fn note(&mut self, id: usize, what: String) {
        let ev = self.ev;
        let h = &mut self.info[id].history;
        if h.len() == 24 {
            h.pop_front();
        }
        h.push_back((ev, what));
    }

    pub fn set_own(&mut self, id: usize, own: Own, what: String) {
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
                        .map(|(e, w)| (self.event_ref(*e), w.clone())),
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
        self.violation = Some(Violation {
            invariant,
            buffer,
            job,
            detail,
            broke,
            setup,
            history,
        });
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
        let en = self.node_name(entry);
        let bad = if next.is_null() {
            Some(format!("list_del corruption, {en}->next is NULL"))
        } else if prev.is_null() {
            Some(format!("list_del corruption, {en}->prev is NULL"))
        } else if next as usize == LIST_POISON1 {
            Some(format!(
                "list_del corruption, {en}->next is LIST_POISON1 ({LIST_POISON1:x})"
            ))
        } else if prev as usize == LIST_POISON2 {
            Some(format!(
                "list_del corruption, {en}->prev is LIST_POISON2 ({LIST_POISON2:x})"
            ))
        } else if !self.is_known_node(prev) || !self.is_known_node(next) {
            Some(format!("list_del corruption, {en} links to unknown memory"))
        } else {
            // SAFETY: prev and next are nodes of this world (checked above).
            let (pn, np) = unsafe { ((*prev).next, (*next).prev) };
            if pn != entry {
                Some(format!(
                    "list_del corruption. prev->next should be {en}, but was {}. (prev={})",
                    self.node_name(pn),
                    self.node_name(prev)
                ))
            } else if np != entry {
                Some(format!(
                    "list_del corruption. next->prev should be {en}, but was {}. (next={})",
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
        self.set_own(id, Own::Ready, "buf_queue: on the m2m ready queue".into());
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

    /// `v4l2_m2m_buf_remove`: first entry off the ready list.
    pub fn buf_remove(&mut self, slot: usize, queue: Queue) -> Option<usize> {
        let id = self.first_ready(slot, queue)?;
        self.list_del(id);
        let q = self.qctx(slot, queue);
        // SAFETY: q is live.
        unsafe { (*q).num_rdy = (*q).num_rdy.wrapping_sub(1) };
        Some(id)
    }

    /// `vb2_buffer_done`, with the oracles of a completion.
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
            && d.flags & crate::scenario::FRAME_HAS_PIXELS != 0
        {
            if ts != d.ts {
                let msg = format!(
                    "{name} stamped ts={ts}, but the daemon said its picture came from the source with ts={}",
                    d.ts
                );
                self.violate(Invariant::WrongTimestamp, Some(id), msg);
            }
            let want_last = d.flags & crate::scenario::FRAME_LAST != 0;
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
            && d.flags & crate::scenario::FRAME_SRC_CONSUMED != 0
        {
            self.contract_source(id, state, d);
        }
        let slot = self.info[id].slot;
        self.moved += 1;
        self.changes += 1;
        self.bufs[id].m2m.vb.vb2_buf.state = state;
        self.info[id].done_flags = flags;
        let q = self.ctxs[slot].q(name.queue);
        q.owned_by_drv = q.owned_by_drv.saturating_sub(1);
        q.done_list.push_back(id);
        self.set_own(
            id,
            Own::Done(state),
            format!("buf_done {}", crate::oracle::state_name(state)),
        );
        self.contract_buffer_done(id, flags);
    }

    pub fn slot_of_jctx(&self, jctx: *const c_void) -> Option<usize> {
        self.ctxs
            .iter()
            .position(|c| ptr::eq(c.jctx.as_ptr() as *const c_void, jctx))
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

    pub fn find_buf(&self, ctx: u32, ty: u32, index: u32) -> Option<usize> {
        let queue = if ty == 2 || ty == 10 {
            Queue::Output
        } else {
            Queue::Capture
        };
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
        unsafe { (self.core.front_job_ready)(front, src, dst) }
    }

    /// The context's `struct daedalus_front`.
    pub fn front_ptr(&mut self, slot: usize) -> *mut c_void {
        self.ctxs[slot].front.as_mut_ptr() as *mut c_void
    }

    /// The front's failed and stopped states, for the oracles.
    pub fn front_state(&self, slot: usize) -> (bool, bool) {
        // SAFETY: the front is live C memory; the glue reads two fields.
        let f = unsafe {
            crate::core::daedalus_shim_front_flags(self.ctxs[slot].front.as_ptr() as *const c_void)
        };
        (f & 1 != 0, f & 2 != 0)
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
            w.note(id, "v4l2_m2m_buf_remove: off the ready queue".into());
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
            w.note(id, what.into());
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
        w.ctxs[slot].m2m_running = false;
        w.curr_ctx = None;
        // v4l2_m2m_schedule_next_job: queue again, run from the workqueue.
        w.try_queue(slot);
        w.pending_work = true;
    })
}

// vb2.

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

// Tracepoints: the outcome log and the ledger.

fn queue_name(ty: u32) -> Queue {
    if ty == 2 || ty == 10 {
        Queue::Output
    } else {
        Queue::Capture
    }
}

#[unsafe(no_mangle)]
extern "C" fn trace_daedalus_device_run(ctx: u32, cookie: u64, src: u32, dst: u32, ts: u64) {
    with(|w| {
        w.record(Record::DeviceRun {
            ctx,
            cookie,
            src,
            dst,
            ts,
        })
    });
}

#[unsafe(no_mangle)]
extern "C" fn trace_daedalus_claim(ctx: u32, cookie: u64, ty: u32, index: u32) {
    with(|w| {
        let buf = BufName {
            ctx,
            queue: queue_name(ty),
            index,
        };
        w.record(Record::Claim { ctx, cookie, buf });
        w.changes += 1;
        w.moved += 1;
        let Some(id) = w.find_buf(ctx, ty, index) else {
            w.violate(
                Invariant::DoubleOwner,
                None,
                format!("claim of {buf}, which does not exist"),
            );
            return;
        };
        match w.info[id].own {
            Own::Ready => {}
            Own::Claimed(c) | Own::Parked(c) => {
                let what = format!("job {cookie:#x} claimed {buf} while job {c:#x} still holds it");
                w.suspect(id, what, true);
            }
            other => {
                let what = format!("job {cookie:#x} claimed {buf} while it was {other:?}");
                w.suspect(id, what, true);
            }
        }
        if w.info[id].linked {
            let what =
                format!("job {cookie:#x} claimed {buf} without removing it from the ready queue");
            w.suspect(id, what, false);
        }
        w.set_own(
            id,
            Own::Claimed(cookie),
            format!("claimed by job {cookie:#x}"),
        );
    });
}

#[unsafe(no_mangle)]
extern "C" fn trace_daedalus_park(ctx: u32, cookie: u64, index: u32) {
    with(|w| {
        let buf = BufName {
            ctx,
            queue: Queue::Capture,
            index,
        };
        w.record(Record::Park { ctx, cookie, buf });
        w.changes += 1;
        if let Some(id) = w.find_buf(ctx, 1, index) {
            if let Own::Claimed(_) = w.info[id].own {
                w.set_own(
                    id,
                    Own::Parked(cookie),
                    format!("parked by job {cookie:#x} (job finished)"),
                );
            } else {
                w.note(id, format!("park by job {cookie:#x}"));
            }
        }
    });
}

#[unsafe(no_mangle)]
extern "C" fn trace_daedalus_buf_done(
    ctx: u32,
    cookie: u64,
    ty: u32,
    index: u32,
    state: u32,
    ts: u64,
) {
    with(|w| {
        let buf = BufName {
            ctx,
            queue: queue_name(ty),
            index,
        };
        w.record(Record::BufDone {
            ctx,
            cookie,
            buf,
            state,
            ts,
        });
        if let Some(j) = w.job_mut(ctx, cookie) {
            match buf.queue {
                Queue::Output => j.src_done = true,
                Queue::Capture => j.dst_done = true,
            }
        }
    });
}

#[unsafe(no_mangle)]
extern "C" fn trace_daedalus_job_finish(ctx: u32, cookie: u64, reason: u32) {
    with(|w| {
        w.record(Record::JobFinish {
            ctx,
            cookie,
            reason,
        });
        w.changes += 1;
        let mut twice = false;
        let mut was_running = false;
        if let Some(j) = w.job_mut(ctx, cookie) {
            twice = !j.running;
            was_running = j.running;
            j.running = false;
        }
        if was_running && let Some(s) = w.ctxs.iter().rposition(|c| c.id == ctx) {
            w.ctxs[s].running_jobs -= 1;
        }
        if twice {
            let dst = w.ctxs.iter().position(|c| c.id == ctx).and_then(|s| {
                w.ctxs[s]
                    .jobs
                    .iter()
                    .rev()
                    .find(|j| j.cookie == cookie)
                    .and_then(|j| j.dst)
            });
            let msg = format!(
                "second job_finish for job {cookie:#x} of ctx {ctx}: its device_run was already finished"
            );
            w.violate(Invariant::JobFinishImbalance, dst, msg);
        }
    });
}

#[unsafe(no_mangle)]
extern "C" fn trace_daedalus_reject(reason: u32, ty: u32, cookie: u64) {
    with(|w| w.record(Record::Reject { reason, ty, cookie }));
}

/// The dispatcher's: the executor logs the messages it writes itself.
#[unsafe(no_mangle)]
extern "C" fn trace_daedalus_msg_in(_ty: u32, _cookie: u64, _ctx: u32, _flags: u32, _len: u32) {}

/// The front's: a drain phase (daedalus_drain's phase numbers).
#[unsafe(no_mangle)]
extern "C" fn trace_daedalus_drain(ctx: u32, phase: u32) {
    let phase = crate::import::DRAIN_PHASES
        .get(phase as usize)
        .copied()
        .unwrap_or("?");
    with(|w| w.record(Record::Drain { ctx, phase }));
}

/// The front's: a queue started or stopped streaming.
#[unsafe(no_mangle)]
extern "C" fn trace_daedalus_stream(ctx: u32, ty: u32, on: bool) {
    let queue = queue_name(ty);
    with(|w| w.record(Record::Stream { ctx, queue, on }));
}

/// The front's: a STREAM_INFO applied; its SOURCE_CHANGE event, if any,
/// is in the log as the event.
#[unsafe(no_mangle)]
extern "C" fn trace_daedalus_stream_info(_ctx: u32, _w: u32, _h: u32, _dpb: u32, _change: bool) {}

// The job core's callbacks into the driver (&struct daedalus_job_ops).

pub(crate) const ENOTCONN: i32 = 107;

pub(crate) unsafe extern "C" fn op_send_decode(
    jctx: *mut c_void,
    p: *mut DecodeParams,
    src: *mut c_void,
    dst: *mut c_void,
) -> i32 {
    with(|w| {
        if !w.daemon_ready {
            return -ENOTCONN;
        }
        // As daedalus_send_decode(): zero-copy when the daemon takes it
        // (every mock plane can be mapped).
        if w.mapped {
            // SAFETY: the core passes its own params, writable.
            unsafe { (*p).flags |= daedalus_proto::DECODE_F_MAPPED };
        }
        // SAFETY: as above.
        let p = unsafe { *p };
        let Some(slot) = w.slot_of_jctx(jctx) else {
            return -ENOTCONN;
        };
        let src = if src.is_null() { None } else { w.buf_id(src) };
        let dst = w.buf_id(dst);
        w.ctxs[slot].running_jobs += 1;
        let ev = w.ev;
        if let Some(&(pctx, pev)) = w.issued.get(&p.cookie) {
            let msg = format!(
                "cookie {:#x} sent again for a new job of ctx {}, while a reply to its first holder (ctx {pctx}) may still come and would be applied to the new one",
                p.cookie, p.ctx_id
            );
            let setup = (
                pev,
                format!("cookie {:#x} first sent to the daemon", p.cookie),
            );
            w.violate_job(
                Invariant::CookieReissued,
                dst,
                Some((p.ctx_id, p.cookie)),
                msg,
                Some(setup),
            );
        }
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
        });
        w.record(Record::Request {
            ctx: p.ctx_id,
            what: "DECODE",
            cookie: p.cookie,
            arg: p.timestamp,
        });
        w.contract_job_sent(p.ctx_id, src, dst);
        0
    })
}

pub(crate) unsafe extern "C" fn op_send_flush(jctx: *mut c_void, generation: u32) -> i32 {
    with(|w| {
        if !w.daemon_ready {
            return -ENOTCONN;
        }
        let Some(slot) = w.slot_of_jctx(jctx) else {
            return -ENOTCONN;
        };
        let ctx = w.ctxs[slot].id;
        w.record(Record::Request {
            ctx,
            what: "FLUSH",
            cookie: 0,
            arg: generation as u64,
        });
        0
    })
}

/// daedalus_job_last() of the chardev: a LAST picture went out; the
/// front decides what it ends.
pub(crate) unsafe extern "C" fn op_last(jctx: *mut c_void) {
    let Some((last, front)) = with(|w| {
        let slot = w.slot_of_jctx(jctx)?;
        Some((w.core.front_last, w.front_ptr(slot)))
    }) else {
        return;
    };
    // SAFETY: the front of a live context; no borrow of the world is held.
    unsafe { last(front) };
}

pub(crate) unsafe extern "C" fn op_expired(jctx: *mut c_void, cookie: u64) {
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

pub(crate) fn ops() -> JobOps {
    JobOps {
        send_decode: Some(op_send_decode),
        send_flush: Some(op_send_flush),
        last: Some(op_last),
        expired: Some(op_expired),
        released: None,
    }
}

pub(crate) const TRANS_FLAGS: (u8, u8, u8) = (TRANS_QUEUED, TRANS_RUNNING, TRANS_ABORT);
