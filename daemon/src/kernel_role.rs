//! The kernel's side of the protocol in userspace, for tests, benchmarks
//! and tools: sends jobs the way daedalus_v4l2.ko does (one job at a time, a
//! pool of CAPTURE buffers, capture-only jobs to drain) over a loopback
//! transport, and checks every reply against the buffer-ownership rules
//! (every src consumed once, every dst filled once, no unknown cookie).
//!
//! It also plays the V4L2 client the module serves, at its most hurried:
//! a LAST that is not the end of a drain (a resolution change) is followed
//! at once by CAPTURE STREAMOFF, before any later reply is read. As the
//! module does then, every job of the context ends (its buffers go back,
//! its cookie dies) and REQ_CAPTURE_OFF goes out; the next job runs on a
//! new CAPTURE allocation (STREAMON). A reply naming one of those cookies
//! afterwards is one the module would reject.
//!
//! On a mapped loopback pair (`Loopback::pair_mapped`) it lends jobs their
//! buffers as the module's mmap handler does, once RESP_HELLO offered
//! F_MAPPED: the bitstream in a src the daemon maps read only, the picture
//! read back from the dst when HAS_PIXELS arrives. Every buffer is revoked
//! when its job's buffer completes (a late touch raises SIGBUS in the
//! daemon, which its handler absorbs and counts), and every barrier checks
//! that the daemon touched no revoked mapping, keeps no mapping of a
//! revoked buffer and had no mmap() refused.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use daedalus_proto::*;

use crate::mapping::{MapKind, MapSpace};
use crate::transport::{Loopback, Transport};

/// Which jobs go mapped (when the daemon offered F_MAPPED).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapMode {
    /// Every job inline.
    Inline,
    /// Every job mapped (every vb2 buffer is an MMAP buffer).
    Mapped,
    /// Every other job mapped, starting with the second (a client mixing
    /// MMAP and DMABUF/USERPTR buffers).
    Mixed,
}

/// A picture as the kernel would complete it.
#[derive(Debug, Clone)]
pub struct Picture {
    pub cookie: u64,
    pub timestamp: u64,
    pub data: Vec<u8>,
    /// The last STREAM_INFO before it.
    pub format: Option<RespStreamInfo>,
    /// The CAPTURE allocation its buffer came from: 0 at the start, one
    /// more at every setup after a resolution change.
    pub allocation: usize,
    /// The pixel format of that allocation: the layout of `data`.
    pub pixfmt: Pixfmt,
    /// Completed with ERROR: a picture the decoder concealed.
    pub error: bool,
}

#[derive(Debug, Default)]
struct InFlight {
    src_pending: bool,
    dst_pending: bool,
    dst_index: u32,
    allocation: usize,
    mapped: bool,
}

/// Why no job runs (the module's `stopped`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stopped {
    /// Decoding.
    No,
    /// A drain's LAST: until REQ_RESET.
    Drained,
    /// A resolution change's LAST: CAPTURE is off until the next job
    /// sets it up again.
    CaptureOff,
}

/// The kernel's role on one context.
pub struct KernelRole {
    t: Loopback,
    ctx_id: u32,
    codec: Codec,
    /// The CAPTURE format's pixel format now.
    pub pixfmt: Pixfmt,
    /// The client's pick at the next CAPTURE setup (after a resolution
    /// change), as GStreamer may renegotiate NV12 to I420 there.
    pub next_pixfmt: Option<Pixfmt>,
    /// Each CAPTURE allocation's pixel format.
    alloc_pixfmts: Vec<Pixfmt>,
    generation: u32,
    slot_gen: u32,
    next_slot: u32,
    in_flight: HashMap<u64, InFlight>,
    free_dsts: Vec<u32>,
    ndst: u32,
    dst_size: u32,
    token: u64,
    buf: Vec<u8>,
    format: Option<RespStreamInfo>,
    draining: bool,
    /// The CAPTURE format set up (visible size, DPB), as the module's
    /// front holds it: a STREAM_INFO that does not fit it is a source
    /// change, and the next LAST ends the old format's pictures, not the
    /// drain (daedalus_front_last()).
    cap: Option<(u32, u32, u32)>,
    change_pending: bool,
    stopped: Stopped,
    allocation: usize,
    /// Cookies whose buffers the module took back at CAPTURE STREAMOFF.
    dead: HashSet<u64>,
    /// Every picture with pixels, in completion order.
    pub pictures: Vec<Picture>,
    /// Every STREAM_INFO.
    pub infos: Vec<RespStreamInfo>,
    pub src_consumed: usize,
    pub src_errors: usize,
    /// HAS_PIXELS buffers returned with ERROR.
    pub dst_errors: usize,
    pub lasts: usize,
    /// CAPTURE set up again after a resolution change's LAST.
    pub capture_setups: usize,
    pub session_errors: Vec<u32>,
    /// Broken rules, one line each.
    pub violations: Vec<String>,
    /// Keep picture bytes (tests) or only count them (benchmarks).
    pub keep_pixels: bool,
    /// Which jobs go mapped; set before `hello`.
    pub mapping: MapMode,
    space: Option<Arc<MapSpace>>,
    /// RESP_HELLO offered F_MAPPED.
    hello_mapped: bool,
    /// RESP_HELLO offered F_CAPTURE_FMT: each CAPTURE STREAMON sends
    /// REQ_CAPTURE_FMT, as the module does.
    hello_capture_fmt: bool,
    jobs_sent: u64,
    /// Jobs sent with F_MAPPED.
    pub mapped_jobs: usize,
}

pub type RoleResult<T> = Result<T, String>;

impl KernelRole {
    /// `ndst` CAPTURE buffers of `dst_size` bytes each.
    pub fn new(
        t: Loopback,
        ctx_id: u32,
        codec: Codec,
        pixfmt: Pixfmt,
        ndst: u32,
        dst_size: u32,
    ) -> Self {
        // A daemon that never answers fails the caller instead of hanging it.
        let _ = t.set_read_timeout(Some(std::time::Duration::from_secs(60)));
        let space = t.map_space().cloned();
        Self {
            t,
            ctx_id,
            codec,
            pixfmt,
            next_pixfmt: None,
            alloc_pixfmts: vec![pixfmt],
            generation: 1,
            slot_gen: 1,
            next_slot: 0,
            in_flight: HashMap::new(),
            free_dsts: (0..ndst).rev().collect(),
            ndst,
            dst_size,
            token: 0,
            buf: Vec::new(),
            format: None,
            draining: false,
            cap: None,
            change_pending: false,
            stopped: Stopped::No,
            allocation: 0,
            dead: HashSet::new(),
            pictures: Vec::new(),
            infos: Vec::new(),
            src_consumed: 0,
            src_errors: 0,
            dst_errors: 0,
            lasts: 0,
            capture_setups: 0,
            session_errors: Vec::new(),
            violations: Vec::new(),
            keep_pixels: true,
            mapping: MapMode::Inline,
            space,
            hello_mapped: false,
            hello_capture_fmt: false,
            jobs_sent: 0,
            mapped_jobs: 0,
        }
    }

    /// The daemon's live mappings of this pair's buffers (`None`: not a
    /// mapped pair).
    pub fn live_mappings(&self) -> Option<usize> {
        self.space.as_ref().map(|s| s.live())
    }

    /// Jobs sent, capture-only ones included.
    pub fn jobs_sent(&self) -> usize {
        self.jobs_sent as usize
    }

    /// Jobs in flight whose dst is mapped and still in the daemon.
    pub fn parked_mapped(&self) -> usize {
        self.in_flight
            .values()
            .filter(|j| j.mapped && j.dst_pending)
            .count()
    }

    /// The module ends job `cookie`: its buffers are revoked.
    fn end_job(&self, cookie: u64) {
        if let Some(space) = &self.space {
            space.revoke_job(cookie);
        }
    }

    fn end_all_jobs(&mut self) {
        for cookie in self.in_flight.keys() {
            self.end_job(*cookie);
        }
        self.in_flight.clear();
    }

    fn send(&mut self, msg: &Message) -> RoleResult<()> {
        let bytes = msg
            .encode()
            .map_err(|e| format!("encode {}: {e}", msg.ty()))?;
        self.t.send(&bytes).map_err(|e| format!("send: {e}"))
    }

    fn recv(&mut self) -> RoleResult<Message> {
        match self.t.recv(&mut self.buf) {
            Ok(true) => Message::decode_dir(&self.buf, Direction::Response)
                .map_err(|e| format!("bad response: {e}")),
            Ok(false) => Err("the daemon closed the transport".into()),
            Err(e) => Err(format!("recv: {e}")),
        }
    }

    /// HELLO handshake.
    pub fn hello(&mut self) -> RoleResult<RespHello> {
        self.send(&Message::ReqHello(ReqHello {
            proto_version: PROTO_VERSION.into(),
            max_contexts: 32,
            max_payload: MAX_PAYLOAD,
            reserved: 0,
        }))?;
        match self.recv()? {
            Message::RespHello(h) => {
                self.hello_mapped = h.flags & HELLO_F_MAPPED != 0;
                self.hello_capture_fmt = h.flags & HELLO_F_CAPTURE_FMT != 0;
                Ok(h)
            }
            other => Err(format!("expected RESP_HELLO, got {}", other.ty())),
        }
    }

    /// REQ_SESSION_OPEN; returns the session error code if refused.
    pub fn open(&mut self, width: u32, height: u32) -> RoleResult<Option<u32>> {
        let before = self.session_errors.len();
        self.cap = (width > 0 && height > 0).then_some((width, height, u32::MAX));
        self.send(&Message::ReqSessionOpen(ReqSessionOpen {
            ctx_id: self.ctx_id,
            codec: self.codec.raw(),
            pixfmt: self.pixfmt.raw(),
            width,
            height,
            reserved: 0,
        }))?;
        // The client streams CAPTURE on right after OUTPUT.
        self.capture_on()?;
        self.barrier()?;
        Ok(self.session_errors.get(before).copied())
    }

    /// CAPTURE STREAMON: REQ_CAPTURE_FMT with the CAPTURE format's pixel
    /// format, to a daemon that takes it.
    fn capture_on(&mut self) -> RoleResult<()> {
        if !self.hello_capture_fmt {
            return Ok(());
        }
        self.send(&Message::ReqCaptureFmt(ReqCaptureFmt {
            ctx_id: self.ctx_id,
            pixfmt: self.pixfmt.raw(),
        }))
    }

    /// Sends raw bytes as a request (malformed-input tests).
    pub fn send_raw(&mut self, bytes: &[u8]) -> RoleResult<()> {
        self.t.send(bytes).map_err(|e| format!("send: {e}"))
    }

    /// A PING, then every reply up to its PONG: afterwards every reply to
    /// the requests sent before has been processed.
    pub fn barrier(&mut self) -> RoleResult<()> {
        self.token += 1;
        let token = self.token;
        self.send(&Message::ReqPing {
            token,
            body: Ping {
                seq: token as u32,
                reserved: 0,
            },
        })?;
        loop {
            match self.recv()? {
                Message::RespPong { token: t, .. } if t == token => break,
                msg => self.process(msg),
            }
        }
        // The daemon has handled everything before the PING: it must hold
        // no mapping of a buffer whose reply, CAPTURE off or reset is past.
        if let Some(space) = &self.space {
            let leaked = space.leaked();
            if leaked > 0 {
                self.violations.push(format!(
                    "{leaked} mapping(s) kept after their buffers were revoked"
                ));
            }
            let touched = space.take_touched();
            if touched > 0 {
                self.violations.push(format!(
                    "{touched} mapping(s) touched after their buffers were revoked"
                ));
            }
            for refused in space.take_refused() {
                self.violations.push(format!("mmap refused: {refused}"));
            }
        }
        Ok(())
    }

    fn process(&mut self, msg: Message) {
        match msg {
            Message::RespFrame { cookie, body, data } => self.frame(cookie, body, data),
            Message::RespStreamInfo { body, .. } => {
                let fits = self.cap.is_some_and(|(w, h, dpb)| {
                    (w, h) == (body.visible_width, body.visible_height) && body.dpb_size <= dpb
                });
                self.change_pending |= !fits;
                self.cap = Some((body.visible_width, body.visible_height, body.dpb_size));
                self.format = Some(body);
                self.infos.push(body);
            }
            Message::RespSessionError(e) => {
                self.session_errors.push(e.error);
                // The kernel returns every buffer of the context.
                self.end_all_jobs();
                self.free_dsts = (0..self.ndst).rev().collect();
            }
            Message::RespResetDone(_) | Message::RespPong { .. } => {}
            other => self.violations.push(format!("unexpected {}", other.ty())),
        }
    }

    fn frame(&mut self, cookie: u64, body: RespFrame, data: Vec<u8>) {
        if body.ctx_id != self.ctx_id || body.generation != self.generation {
            self.violations.push(format!(
                "stale or foreign reply {cookie:#x} gen {}",
                body.generation
            ));
            return;
        }
        let Some(job) = self.in_flight.get_mut(&cookie) else {
            self.violations.push(if self.dead.contains(&cookie) {
                format!(
                    "reply {:#x} for cookie {cookie:#x}, whose buffers the module \
                     took back at CAPTURE STREAMOFF (rejected)",
                    body.flags
                )
            } else {
                format!("reply for unknown cookie {cookie:#x}")
            });
            return;
        };
        if body.flags & FRAME_SRC_CONSUMED != 0 {
            if !job.src_pending {
                self.violations
                    .push(format!("SRC_CONSUMED twice or without src for {cookie:#x}"));
            }
            job.src_pending = false;
            self.src_consumed += 1;
            if body.flags & FRAME_ERROR != 0 {
                self.src_errors += 1;
            }
        }
        if body.flags & FRAME_HAS_PIXELS != 0 {
            if !job.dst_pending {
                self.violations
                    .push(format!("HAS_PIXELS twice for {cookie:#x}"));
                return;
            }
            job.dst_pending = false;
            let (dst_index, allocation, mapped) = (job.dst_index, job.allocation, job.mapped);
            if allocation == self.allocation {
                self.free_dsts.push(dst_index);
            }
            if body.bytesused > self.dst_size {
                self.violations.push(format!(
                    "{cookie:#x}: bytesused {} beyond the {}-byte dst",
                    body.bytesused, self.dst_size
                ));
            }
            let data = match (&self.space, mapped) {
                (Some(space), true) => {
                    if !data.is_empty() {
                        self.violations
                            .push(format!("{cookie:#x}: inline picture for a mapped dst"));
                    }
                    space.take_picture(cookie).unwrap_or_default()
                }
                _ => data,
            };
            if data.len() != body.bytesused as usize {
                self.violations.push(format!(
                    "{cookie:#x}: bytesused {} but {} picture bytes",
                    body.bytesused,
                    data.len()
                ));
            }
            if body.flags & FRAME_ERROR != 0 {
                self.dst_errors += 1;
            }
            if !data.is_empty() {
                let data = if self.keep_pixels { data } else { Vec::new() };
                self.pictures.push(Picture {
                    cookie,
                    timestamp: body.timestamp,
                    data,
                    format: self.format,
                    allocation,
                    pixfmt: self.alloc_pixfmts[allocation],
                    error: body.flags & FRAME_ERROR != 0,
                });
            }
        }
        // A job keeps its slot until both of its buffers are back.
        if self
            .in_flight
            .get(&cookie)
            .is_some_and(|j| !j.src_pending && !j.dst_pending)
        {
            self.in_flight.remove(&cookie);
        }
        // The module applies the whole message, then the LAST stops it.
        if body.flags & FRAME_LAST != 0 {
            self.lasts += 1;
            if std::mem::take(&mut self.change_pending) {
                // A drain interrupted by a change goes on after it.
                self.capture_off();
            } else if self.draining {
                self.draining = false;
                self.stopped = Stopped::Drained;
            } else {
                self.capture_off();
            }
        }
    }

    /// The client's CAPTURE STREAMOFF after a resolution change's LAST, as
    /// the module handles it: every job of the context ends, its buffers go
    /// back (the client never dequeues them), its cookie dies; then
    /// REQ_CAPTURE_OFF in the same generation.
    fn capture_off(&mut self) {
        self.stopped = Stopped::CaptureOff;
        self.dead.extend(self.in_flight.keys().copied());
        self.end_all_jobs();
        self.free_dsts.clear();
        let msg = Message::ReqCaptureOff(ReqCaptureOff {
            ctx_id: self.ctx_id,
            generation: self.generation,
        });
        if let Err(e) = self.send(&msg) {
            self.violations.push(e);
        }
    }

    /// The client streams CAPTURE off now (GStreamer reallocates at the
    /// first SOURCE_CHANGE); the next job sets it up again.
    pub fn stream_capture_off(&mut self) {
        self.capture_off();
    }

    /// CAPTURE STREAMON with a new allocation of the same number of buffers.
    fn capture_setup(&mut self) -> RoleResult<()> {
        self.allocation += 1;
        self.capture_setups += 1;
        if let Some(p) = self.next_pixfmt.take() {
            self.pixfmt = p;
        }
        self.alloc_pixfmts.push(self.pixfmt);
        self.free_dsts = (0..self.ndst).rev().collect();
        self.stopped = Stopped::No;
        self.capture_on()
    }

    /// One job: `src` is (timestamp ns, bitstream), `None` for capture-only.
    pub fn job(&mut self, src: Option<(u64, &[u8])>) -> RoleResult<()> {
        match self.stopped {
            Stopped::No => {}
            Stopped::CaptureOff => self.capture_setup()?,
            Stopped::Drained => {
                return Err("the decoder is stopped after a drain's LAST".into());
            }
        }
        let Some(dst) = self.free_dsts.pop() else {
            return Err(format!(
                "no free CAPTURE buffer ({} parked in the daemon)",
                self.ndst
            ));
        };
        self.next_slot = (self.next_slot + 1) % 4096;
        if self.next_slot == 0 {
            self.slot_gen += 1;
        }
        let cookie = cookie(self.next_slot, self.slot_gen);
        let (mut flags, ts, src_index, mut data) = match src {
            Some((ts, d)) => (0, ts, 0, d.to_vec()),
            None => (DECODE_F_NO_SRC, 0, NO_BUF, Vec::new()),
        };
        let bytes = data.len() as u32;
        let sent = self.jobs_sent;
        self.jobs_sent += 1;
        let mapped = self.hello_mapped
            && match self.mapping {
                MapMode::Inline => false,
                MapMode::Mapped => true,
                MapMode::Mixed => sent % 2 == 1,
            };
        let (mut src_map, mut dst_map) = (0, 0);
        if let Some(space) = self.space.as_ref().filter(|_| mapped) {
            let lend = |kind, len, contents: &[u8]| {
                space
                    .lend(cookie, kind, len, contents)
                    .map_err(|e| format!("lend a buffer: {e}"))
            };
            if src.is_some() {
                src_map = lend(MapKind::Src, data.len(), &data)?;
            }
            // A used CAPTURE buffer: whatever the daemon does not write
            // shows.
            let used = vec![0xa5; self.dst_size as usize];
            dst_map = lend(MapKind::Dst, self.dst_size as usize, &used)?;
            flags |= DECODE_F_MAPPED;
            data.clear();
            self.mapped_jobs += 1;
        }
        self.in_flight.insert(
            cookie,
            InFlight {
                src_pending: src.is_some(),
                dst_pending: true,
                dst_index: dst,
                allocation: self.allocation,
                mapped,
            },
        );
        self.send(&Message::ReqDecode {
            cookie,
            body: ReqDecode {
                ctx_id: self.ctx_id,
                codec: self.codec.raw(),
                flags,
                generation: self.generation,
                timestamp: ts,
                src_index,
                dst_index: dst,
                bytes,
                dst_size: self.dst_size,
                src_map,
                dst_map,
            },
            data,
        })?;
        if src.is_some() {
            // As the module does: the next job runs once this one's source
            // is consumed (job_finish), whatever else arrives meanwhile.
            while self.in_flight.get(&cookie).is_some_and(|j| j.src_pending) {
                let msg = self.recv()?;
                self.process(msg);
            }
        } else {
            self.barrier()?;
        }
        if let Some(j) = self.in_flight.get(&cookie)
            && j.src_pending
        {
            return Err(format!(
                "job {cookie:#x}: no SRC_CONSUMED before the next job could run"
            ));
        }
        Ok(())
    }

    /// REQ_FLUSH, then capture-only jobs until LAST; returns how many
    /// pictures the drain produced.
    pub fn drain(&mut self) -> RoleResult<usize> {
        let before = self.pictures.len();
        self.draining = true;
        self.send(&Message::ReqFlush(ReqFlush {
            ctx_id: self.ctx_id,
            generation: self.generation,
        }))?;
        self.barrier()?;
        for _ in 0..256 {
            // A format change's LAST does not end the drain.
            if !self.draining {
                return Ok(self.pictures.len() - before);
            }
            self.job(None)?;
        }
        Err("no LAST after 256 capture-only jobs".into())
    }

    /// Jobs with a buffer still in the daemon.
    pub fn parked(&self) -> usize {
        self.in_flight.len()
    }

    /// REQ_RESET with a new generation.
    pub fn reset(&mut self) -> RoleResult<()> {
        self.generation += 1;
        self.end_all_jobs();
        self.free_dsts = (0..self.ndst).rev().collect();
        self.draining = false;
        self.stopped = Stopped::No;
        self.send(&Message::ReqReset(ReqReset {
            ctx_id: self.ctx_id,
            generation: self.generation,
        }))?;
        self.barrier()
    }

    /// REQ_SESSION_CLOSE: the module returned every buffer of the context
    /// first; a later `open` streams on fresh buffers.
    pub fn close(&mut self) -> RoleResult<()> {
        self.end_all_jobs();
        self.free_dsts = (0..self.ndst).rev().collect();
        self.send(&Message::ReqSessionClose(ReqSessionClose {
            ctx_id: self.ctx_id,
            reserved: 0,
        }))?;
        self.barrier()
    }

    /// Ends the attachment (the daemon sees the device close).
    pub fn hang_up(self) {
        if let Some(space) = &self.space {
            space.revoke_all();
        }
        let _ = self.t.shutdown();
    }
}
