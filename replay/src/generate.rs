//! The scenario generator of the `orderings` fuzz target and of the KUnit
//! differential fuzzing: a sequence of client and daemon operations,
//! derived with `Arbitrary` so libFuzzer mutates whole event sequences,
//! turned into a scenario whose references name contexts, buffers, source
//! timestamps and jobs that exist at that point. [`seeded`] draws the
//! bytes from a seed instead of a fuzzer, so `daedalus-replay generate`
//! and `make kunit` produce the same scenarios every time.

use arbitrary::{Arbitrary, Unstructured};

use crate::model::Scenario;
use crate::scenario::{
    Event, FRAME_ERROR, FRAME_HAS_PIXELS, FRAME_LAST, FRAME_SRC_CONSUMED, JobRef, Queue,
};

/// Most operations one input turns into (a run stays well under 1 ms).
pub const MAX_OPS: usize = 64;
/// Most contexts open at once (the executor allows 16).
const MAX_OPEN: usize = 8;
/// Most buffers one REQBUFS asks for here.
pub(crate) const MAX_BUFS: u8 = 8;
/// Frame generations below this mean "the job's own": most replies
/// should reach the job core. From here to [`ABS_GENERATION`] they name
/// the generation before the context's current one (a daemon that missed
/// a seek's REQ_RESET), from there generation 0 to [`GENERATIONS`] - 1:
/// the stale-generation check's inputs.
pub const OWN_GENERATION: u8 = 192;
/// Frame generations from here name an absolute generation.
pub const ABS_GENERATION: u8 = 240;
/// How many absolute generations a frame may name.
pub(crate) const GENERATIONS: u8 = 4;
/// Most jobs one [`Op::Decode`] runs: past the job core's 256 slots, so a
/// slot's reuse (its cookie's generation) is reached within one input.
pub const MAX_DECODE_JOBS: u32 = 1 + 2 * 255;
/// Most jobs [`Op::Decode`] runs on one context in a scenario: the KUnit
/// executor remembers 4096 cookies a context (DR_MAX_JOBS).
const MAX_DECODED: u32 = 2048;
/// Most rounds one [`Op::StreamLoop`] runs: past the request queue's
/// bound of a context (4 x DAEDALUS_OUTQ_CTX_REQS + 9 = 137 requests), were
/// nothing coalesced.
pub const MAX_LOOPS: u8 = 128;
/// Frame period of the generated timestamps: 30 fps in ns.
pub(crate) const PERIOD_NS: u64 = 33_333_333;

/// Which vb2 queue.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum Q {
    Out,
    Cap,
}

impl From<Q> for Queue {
    fn from(q: Q) -> Self {
        match q {
            Q::Out => Queue::Output,
            Q::Cap => Queue::Capture,
        }
    }
}

/// RESP_FRAME flags: the combinations a daemon sends, then any bits.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum Flags {
    /// The source is consumed, the picture comes later (parks the dst).
    SrcConsumed,
    /// The parked picture is ready.
    HasPixels,
    /// Both in one message.
    Both,
    /// The source failed.
    SrcError,
    /// The last picture of a drain.
    PixelsLast,
    /// Any combination of the four bits, valid or not.
    Raw(u8),
}

impl Flags {
    /// The named combinations (every variant but `Raw`).
    pub(crate) const NAMED: [Flags; 5] = [
        Flags::SrcConsumed,
        Flags::HasPixels,
        Flags::Both,
        Flags::SrcError,
        Flags::PixelsLast,
    ];

    pub(crate) fn bits(self) -> u32 {
        match self {
            Flags::SrcConsumed => FRAME_SRC_CONSUMED,
            Flags::HasPixels => FRAME_HAS_PIXELS,
            Flags::Both => FRAME_SRC_CONSUMED | FRAME_HAS_PIXELS,
            Flags::SrcError => FRAME_SRC_CONSUMED | FRAME_ERROR,
            Flags::PixelsLast => FRAME_HAS_PIXELS | FRAME_LAST,
            Flags::Raw(b) => u32::from(b) & 0xf,
        }
    }

    fn has_pixels(self) -> bool {
        self.bits() & FRAME_HAS_PIXELS != 0
    }
}

/// One operation. `ctx`, `index`, `job` and `src` are choices among what
/// exists when the operation runs (taken modulo the count), not raw ids.
#[derive(Arbitrary, Clone, Debug)]
pub enum Op {
    /// A client opens the decoder.
    Open,
    /// The usual start of a stream on a new context: open, REQBUFS on
    /// both queues, QBUF of every buffer, STREAMON on both queues.
    Setup {
        nout: u8,
        ncap: u8,
    },
    Close {
        ctx: u8,
    },
    Reqbufs {
        ctx: u8,
        queue: Q,
        count: u8,
    },
    Qbuf {
        ctx: u8,
        queue: Q,
        index: u8,
        pts: u8,
        size: u16,
    },
    /// QBUF of every buffer of one queue.
    QueueAll {
        ctx: u8,
        queue: Q,
    },
    Dqbuf {
        ctx: u8,
        queue: Q,
    },
    Streamon {
        ctx: u8,
        queue: Q,
    },
    Streamoff {
        ctx: u8,
        queue: Q,
    },
    DecoderStop {
        ctx: u8,
    },
    DecoderStart {
        ctx: u8,
    },
    Attach {
        bad_version: bool,
    },
    Detach,
    /// The daemon stops reading its requests (`daemon_stop`), or reads
    /// them again (`daemon_cont`).
    DaemonReading {
        reading: bool,
    },
    /// RESP_FRAME for the `job`-th job of a context; with HAS_PIXELS the
    /// picture carries the timestamp of the `src`-th queued source.
    /// `generation` names the job's own stream generation below
    /// [`OWN_GENERATION`], else the generation `generation - OWN_GENERATION`.
    Frame {
        ctx: u8,
        job: u8,
        flags: Flags,
        src: u8,
        bytes: u16,
        generation: u8,
    },
    /// RESP_FRAME for the newest job the context sent (`job=newest`),
    /// its `generation` as [`Op::Frame`]'s: what a daemon answers, the
    /// job it was just given, whatever its number. A [`Op::Frame`] names it only
    /// when its `job` happens to match; a drain that needs every source
    /// answered in turn is this, repeated.
    Reply {
        ctx: u8,
        flags: Flags,
        src: u8,
        generation: u8,
    },
    /// Two RESP_FRAMEs for one job back to back, the daemon's usual split
    /// (SRC_CONSUMED, then HAS_PIXELS once the picture is out).
    Split {
        ctx: u8,
        job: u8,
        first: Flags,
        then: Flags,
        src: u8,
    },
    /// RESP_FRAME naming a cookie no job has, as a hostile daemon would.
    ForeignCookie {
        ctx: u8,
        cookie: u64,
        flags: Flags,
    },
    StreamInfo {
        ctx: u8,
        width: u16,
        height: u16,
        dpb: u8,
    },
    SessionError {
        ctx: u8,
        code: u8,
    },
    ResetDone {
        ctx: u8,
        generation: Option<u8>,
    },
    Tick {
        ms: u16,
    },
    /// A seek on a streaming context: STREAMOFF and STREAMON on OUTPUT
    /// (a new stream generation), then every OUTPUT buffer queued again
    /// with new timestamps.
    Seek {
        ctx: u8,
    },
    /// Steady decoding of 1 + 2 * `jobs` jobs on a context set up with
    /// [`Op::Setup`]: each job's reply (SRC_CONSUMED|HAS_PIXELS with its
    /// source's timestamp), DQBUF of both buffers and QBUF of them again,
    /// in the order the job core takes them. A long decode in one
    /// operation: slot reuse and generation wrap are reached within an
    /// input.
    Decode {
        ctx: u8,
        jobs: u8,
    },
    /// A drain as the daemon ends it: V4L2_DEC_CMD_STOP; the sources
    /// still queued answered in turn, `answered` % [`MAX_BUFS`] replies
    /// (SRC_CONSUMED|HAS_PIXELS) to the newest job; then the LAST picture
    /// (empty) on the newest job's CAPTURE buffer (`job=newest`), which
    /// after REQ_FLUSH is the drain's capture-only job. One operation for
    /// what random replies reach only by luck: a drain's end, with its
    /// EOS, after the sources it waited for.
    Drain {
        ctx: u8,
        answered: u8,
    },
    /// A client opens the stateless (Request API) node: every OUTPUT
    /// QBUF of its contexts goes into a request of its own (one per
    /// buffer, allocated once and reinitialised for reuse) with its
    /// controls, and the request is queued.
    OpenStateless,
    /// [`Op::Setup`] on the stateless node.
    SetupStateless {
        nout: u8,
        ncap: u8,
    },
    /// What a client may get wrong with a request of an OUTPUT buffer
    /// (its `index`-th): see [`ReqMisuse`].
    Request {
        ctx: u8,
        index: u8,
        what: ReqMisuse,
    },
    /// Before the first context is opened: the device shrunk to 1 +
    /// `contexts` % DAEDALUS_MAX_CONTEXTS sessions of 1 + `capture` % 8
    /// CAPTURE buffers (a `limits` event, the scenario's first), so that
    /// its in-flight table, as small as one slot, wraps within a few
    /// jobs. Once a context was opened, or a `Limits` applied, it does
    /// nothing: a device's limits are set before any client comes.
    Limits {
        contexts: u8,
        capture: u8,
    },
    /// A client looping STREAMOFF and STREAMON of one queue (`queue`), or
    /// of both (`None`), 1 + `times` % [`MAX_LOOPS`] times: what a seek
    /// bar dragged back and forth does. Against a daemon that stopped
    /// reading, each STREAMOFF queues a request the module must coalesce.
    StreamLoop {
        ctx: u8,
        queue: Option<Q>,
        times: u8,
    },
}

/// The request calls a client makes out of the usual order.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum ReqMisuse {
    /// MEDIA_REQUEST_IOC_QUEUE again (queued, complete or empty).
    Queue,
    /// MEDIA_REQUEST_IOC_REINIT, maybe while queued.
    Reinit,
    /// close() of its file descriptor, maybe while queued.
    Close,
    /// Another context's controls into it.
    ForeignCtrls { other: u8 },
    /// QBUF of the buffer without a request.
    PlainQbuf,
    /// QBUF of a CAPTURE buffer into it.
    CaptureInRequest,
}

#[derive(Default)]
struct CtxModel {
    id: u32,
    count: [u32; 2],
    src_ts: Vec<u64>,
    /// CAPTURE QBUFs so far: every job claims a CAPTURE buffer, so no
    /// context can have run more jobs than this.
    jobs_bound: u32,
    /// Jobs [`Op::Decode`] answered so far (its next is this + 1).
    decoded: u32,
    /// The stream generation as far as the operations tell: 1, and one
    /// more at each STREAMOFF of a streaming OUTPUT queue
    /// (daedalus_stop_streaming() resets the job core).
    generation: u32,
    /// Whether OUTPUT was streamed on since its last STREAMOFF.
    out_on: bool,
    /// A context of the stateless node.
    stateless: bool,
    /// Per OUTPUT buffer index, whether its request's file descriptor is
    /// open (allocated and not closed).
    req_open: u64,
}

impl CtxModel {
    /// The timestamp of a reply's picture: the `src`-th queued source's,
    /// none without HAS_PIXELS.
    fn picture_ts(&self, flags: Flags, src: u8) -> u64 {
        if flags.has_pixels() && !self.src_ts.is_empty() {
            self.src_ts[src as usize % self.src_ts.len()]
        } else {
            0
        }
    }

    /// The generation a reply names: the job's own (none written) below
    /// [`OWN_GENERATION`], the one before the context's current up to
    /// [`ABS_GENERATION`], else one of [`GENERATIONS`] absolute ones.
    fn reply_generation(&self, g: u8) -> Option<u32> {
        if g >= ABS_GENERATION {
            Some(u32::from((g - ABS_GENERATION) % GENERATIONS))
        } else if g >= OWN_GENERATION {
            Some(self.generation - 1)
        } else {
            None
        }
    }
}

/// Builds the scenario an operation sequence stands for.
#[derive(Default)]
struct Builder {
    events: Vec<Event>,
    open: Vec<CtxModel>,
    next_id: u32,
    /// Most jobs one [`Op::Decode`] runs here, and most rounds of one
    /// [`Op::StreamLoop`].
    max_decode: u32,
    /// CAPTURE buffers a context gets (vb2 gives no more than the queue's
    /// max_num_buffers, the core's max_capture_bufs); 0 until an
    /// [`Op::Limits`] said.
    max_cap: u32,
}

impl Builder {
    fn pick(&mut self, ctx: u8) -> Option<&mut CtxModel> {
        let n = self.open.len();
        if n == 0 {
            return None;
        }
        self.open.get_mut(ctx as usize % n)
    }

    fn open(&mut self, stateless: bool) -> Option<u32> {
        if self.open.len() >= MAX_OPEN {
            return None;
        }
        self.next_id += 1;
        let id = self.next_id;
        self.events.push(Event::Open { ctx: id, stateless });
        self.open.push(CtxModel {
            id,
            generation: 1,
            stateless,
            ..CtxModel::default()
        });
        Some(id)
    }

    /// The request of OUTPUT buffer `index` of context `id`: one name per
    /// buffer, none shared between contexts.
    fn req_name(id: u32, index: u32) -> u32 {
        id * (MAX_BUFS as u32 + 1) + index + 1
    }

    fn qbuf(&mut self, ctx: u8, q: Q, index: u32, pts: u64, size: u32) {
        let Some(c) = self.pick(ctx) else { return };
        let id = c.id;
        let ts = match q {
            Q::Out => {
                c.src_ts.push(pts);
                pts
            }
            Q::Cap => {
                c.jobs_bound += 1;
                0
            }
        };
        if matches!(q, Q::Out) && c.stateless {
            // The client's usual request: allocated once per buffer (or
            // reinitialised), its controls, the buffer, queued.
            let req = Self::req_name(id, index);
            let bit = 1u64 << (index % 64);
            let open = c.req_open & bit != 0;
            c.req_open |= bit;
            self.events.push(if open {
                Event::ReqReinit { req }
            } else {
                Event::ReqAlloc { req }
            });
            self.events.push(Event::Ctrls { ctx: id, req });
            self.events.push(Event::Qbuf {
                ctx: id,
                queue: Queue::Output,
                index,
                ts,
                size: size.max(1),
                req: Some(req),
            });
            self.events.push(Event::ReqQueue { req });
            return;
        }
        self.events.push(Event::Qbuf {
            ctx: id,
            queue: q.into(),
            index,
            ts,
            size: if matches!(q, Q::Out) { size.max(1) } else { 0 },
            req: None,
        });
    }

    fn misuse(&mut self, ctx: u8, index: u8, what: ReqMisuse) {
        let n = self.open.len();
        let Some(c) = self.pick(ctx) else { return };
        let (id, index) = (c.id, u32::from(index) % c.count[0].max(1));
        let req = Self::req_name(id, index);
        let ev = match what {
            ReqMisuse::Queue => Event::ReqQueue { req },
            ReqMisuse::Reinit => Event::ReqReinit { req },
            ReqMisuse::Close => {
                c.req_open &= !(1u64 << (index % 64));
                Event::ReqClose { req }
            }
            ReqMisuse::ForeignCtrls { other } => {
                let other = self.open[other as usize % n].id;
                Event::Ctrls { ctx: other, req }
            }
            ReqMisuse::PlainQbuf => Event::Qbuf {
                ctx: id,
                queue: Queue::Output,
                index,
                ts: 0,
                size: 4096,
                req: None,
            },
            ReqMisuse::CaptureInRequest => Event::Qbuf {
                ctx: id,
                queue: Queue::Capture,
                index: 0,
                ts: 0,
                size: 0,
                req: Some(req),
            },
        };
        self.events.push(ev);
    }

    fn setup(&mut self, nout: u8, ncap: u8, stateless: bool) {
        let Some(id) = self.open(stateless) else {
            return;
        };
        let slot = (self.open.len() - 1) as u8;
        let (nout, ncap) = (
            u32::from(1 + nout % MAX_BUFS),
            self.cap_limit(u32::from(1 + ncap % MAX_BUFS)),
        );
        for (q, n) in [(Queue::Output, nout), (Queue::Capture, ncap)] {
            self.events.push(Event::Reqbufs {
                ctx: id,
                queue: q,
                count: n,
            });
        }
        if let Some(c) = self.open.last_mut() {
            c.count = [nout, ncap];
            c.out_on = true;
        }
        for i in 0..nout {
            self.qbuf(slot, Q::Out, i, u64::from(i) * PERIOD_NS, 4096);
        }
        for i in 0..ncap {
            self.qbuf(slot, Q::Cap, i, 0, 0);
        }
        for queue in [Queue::Output, Queue::Capture] {
            self.events.push(Event::Streamon { ctx: id, queue });
        }
    }

    /// The CAPTURE buffers REQBUFS of `count` gives at most.
    fn cap_limit(&self, count: u32) -> u32 {
        if self.max_cap == 0 {
            count
        } else {
            count.min(self.max_cap)
        }
    }

    /// [`Op::Limits`] before any context: the scenario's first event.
    fn limits(&mut self, contexts: u8, capture: u8) {
        if self.max_cap != 0 || self.next_id != 0 {
            return;
        }
        let max = crate::core::ffi::DAEDALUS_MAX_CONTEXTS;
        let contexts = 1 + u32::from(contexts) % max;
        let capture = u32::from(1 + capture % MAX_BUFS);
        self.max_cap = capture;
        self.events.insert(0, Event::Limits { contexts, capture });
    }

    fn op(&mut self, op: &Op) {
        match *op {
            Op::Limits { contexts, capture } => self.limits(contexts, capture),
            Op::Open => {
                self.open(false);
            }
            Op::OpenStateless => {
                self.open(true);
            }
            Op::Setup { nout, ncap } => self.setup(nout, ncap, false),
            Op::SetupStateless { nout, ncap } => self.setup(nout, ncap, true),
            Op::Request { ctx, index, what } => self.misuse(ctx, index, what),
            Op::Close { ctx } => {
                if self.open.is_empty() {
                    return;
                }
                let i = ctx as usize % self.open.len();
                let c = self.open.remove(i);
                self.events.push(Event::Close { ctx: c.id });
            }
            Op::Reqbufs { ctx, queue, count } => {
                let count = u32::from(count % (MAX_BUFS + 1));
                let got = match queue {
                    Q::Out => count,
                    Q::Cap => self.cap_limit(count),
                };
                let Some(c) = self.pick(ctx) else { return };
                c.count[queue as usize] = got;
                let id = c.id;
                self.events.push(Event::Reqbufs {
                    ctx: id,
                    queue: queue.into(),
                    count,
                });
            }
            Op::Qbuf {
                ctx,
                queue,
                index,
                pts,
                size,
            } => {
                let Some(c) = self.pick(ctx) else { return };
                // An index past the count is a client error worth keeping.
                let n = c.count[queue as usize] + 1;
                self.qbuf(
                    ctx,
                    queue,
                    u32::from(index) % n,
                    u64::from(pts) * PERIOD_NS,
                    u32::from(size),
                );
            }
            Op::QueueAll { ctx, queue } => {
                let Some(c) = self.pick(ctx) else { return };
                let (n, next) = (c.count[queue as usize], c.src_ts.len() as u64);
                for i in 0..n {
                    self.qbuf(ctx, queue, i, (next + u64::from(i)) * PERIOD_NS, 4096);
                }
            }
            Op::Dqbuf { ctx, queue } => self.simple(ctx, |id| Event::Dqbuf {
                ctx: id,
                queue: queue.into(),
            }),
            Op::Streamon { ctx, queue } => {
                self.stream(ctx, queue, true);
                self.simple(ctx, |id| Event::Streamon {
                    ctx: id,
                    queue: queue.into(),
                })
            }
            Op::Streamoff { ctx, queue } => {
                self.stream(ctx, queue, false);
                self.simple(ctx, |id| Event::Streamoff {
                    ctx: id,
                    queue: queue.into(),
                })
            }
            Op::DecoderStop { ctx } => self.simple(ctx, |id| Event::DecoderStop { ctx: id }),
            Op::Drain { ctx, answered } => {
                let Some(c) = self.pick(ctx) else { return };
                let id = c.id;
                self.events.push(Event::DecoderStop { ctx: id });
                for k in 0..answered % MAX_BUFS {
                    self.op(&Op::Reply {
                        ctx,
                        flags: Flags::Both,
                        src: k,
                        generation: 0,
                    });
                }
                self.events.push(Event::Frame {
                    ctx: id,
                    job: JobRef::Newest,
                    flags: FRAME_HAS_PIXELS | FRAME_LAST,
                    ts: 0,
                    bytes: 0,
                    generation: None,
                });
            }
            Op::DecoderStart { ctx } => self.simple(ctx, |id| Event::DecoderStart { ctx: id }),
            Op::Attach { bad_version } => self.events.push(Event::DaemonAttach {
                version: if bad_version { 2 } else { 1 },
            }),
            Op::Detach => self.events.push(Event::DaemonDetach),
            Op::DaemonReading { reading } => self.events.push(if reading {
                Event::DaemonCont
            } else {
                Event::DaemonStop
            }),
            Op::Frame {
                ctx,
                job,
                flags,
                src,
                bytes,
                generation,
            } => self.frame(ctx, Some(job), flags, src, bytes, generation),
            Op::Reply {
                ctx,
                flags,
                src,
                generation,
            } => self.frame(ctx, None, flags, src, 64, generation),
            Op::Split {
                ctx,
                job,
                first,
                then,
                src,
            } => {
                for flags in [first, then] {
                    self.op(&Op::Frame {
                        ctx,
                        job,
                        flags,
                        src,
                        bytes: 64,
                        generation: 0,
                    });
                }
            }
            Op::ForeignCookie { ctx, cookie, flags } => self.simple(ctx, |id| Event::Frame {
                ctx: id,
                job: JobRef::Cookie(cookie),
                flags: flags.bits(),
                ts: 0,
                bytes: 0,
                generation: None,
            }),
            Op::StreamInfo {
                ctx,
                width,
                height,
                dpb,
            } => self.simple(ctx, |id| Event::StreamInfo {
                ctx: id,
                width: u32::from(width),
                height: u32::from(height),
                dpb: u32::from(dpb % 40),
            }),
            Op::SessionError { ctx, code } => self.simple(ctx, |id| Event::SessionError {
                ctx: id,
                code: u32::from(code % 8),
            }),
            Op::ResetDone { ctx, generation } => self.simple(ctx, |id| Event::ResetDone {
                ctx: id,
                generation: generation.map(u32::from),
            }),
            Op::Tick { ms } => self.events.push(Event::Tick {
                ms: u32::from(ms % 3000),
            }),
            Op::Seek { ctx } => {
                for op in [
                    Op::Streamoff { ctx, queue: Q::Out },
                    Op::Streamon { ctx, queue: Q::Out },
                    Op::QueueAll { ctx, queue: Q::Out },
                ] {
                    self.op(&op);
                }
            }
            Op::Decode { ctx, jobs } => self.decode(ctx, 1 + 2 * u32::from(jobs)),
            Op::StreamLoop { ctx, queue, times } => {
                let queues: &[Q] = match queue {
                    Some(Q::Out) => &[Q::Out],
                    Some(Q::Cap) => &[Q::Cap],
                    None => &[Q::Out, Q::Cap],
                };
                let rounds = (1 + u32::from(times % MAX_LOOPS)).min(self.max_decode);
                for _ in 0..rounds {
                    for &queue in queues {
                        self.op(&Op::Streamoff { ctx, queue });
                    }
                    for &queue in queues {
                        self.op(&Op::Streamon { ctx, queue });
                    }
                }
            }
        }
    }

    /// The generation model of a STREAMON or STREAMOFF.
    fn stream(&mut self, ctx: u8, queue: Q, on: bool) {
        let Some(c) = self.pick(ctx) else { return };
        if matches!(queue, Q::Out) {
            if !on && c.out_on {
                c.generation += 1;
            }
            c.out_on = on;
        }
    }

    /// [`Op::Decode`]: `jobs` jobs, each source and picture taken in the
    /// order they were queued (job n the n-th of both, round the queues).
    fn decode(&mut self, ctx: u8, jobs: u32) {
        let Some(c) = self.pick(ctx) else { return };
        let [nout, ncap] = c.count;
        if nout == 0 || ncap == 0 {
            return;
        }
        for _ in 0..jobs.min(self.max_decode) {
            let Some(c) = self.pick(ctx) else { return };
            if c.decoded >= MAX_DECODED {
                return;
            }
            let n = c.decoded;
            c.decoded += 1;
            let id = c.id;
            let ts = c.src_ts.get(n as usize).copied().unwrap_or(0);
            let next_ts = (c.src_ts.len() as u64) * PERIOD_NS;
            self.events.push(Event::Frame {
                ctx: id,
                job: JobRef::Nth(n + 1),
                flags: FRAME_SRC_CONSUMED | FRAME_HAS_PIXELS,
                ts,
                bytes: 64,
                generation: None,
            });
            for queue in [Queue::Output, Queue::Capture] {
                self.events.push(Event::Dqbuf { ctx: id, queue });
            }
            self.qbuf(ctx, Q::Out, n % nout, next_ts, 4096);
            self.qbuf(ctx, Q::Cap, n % ncap, 0, 0);
        }
    }

    /// RESP_FRAME for the `job`-th job of a context (taken modulo the
    /// CAPTURE buffers queued so far), or for its newest (`None`): the
    /// picture carries the `src`-th queued source's timestamp and `bytes`
    /// bytes when the flags say HAS_PIXELS; `generation` as
    /// [`CtxModel::reply_generation`] reads it.
    fn frame(
        &mut self,
        ctx: u8,
        job: Option<u8>,
        flags: Flags,
        src: u8,
        bytes: u16,
        generation: u8,
    ) {
        let Some(c) = self.pick(ctx) else { return };
        let job = match job {
            Some(n) => JobRef::Nth(1 + u32::from(n) % c.jobs_bound.max(1)),
            None => JobRef::Newest,
        };
        let ev = Event::Frame {
            ctx: c.id,
            job,
            flags: flags.bits(),
            ts: c.picture_ts(flags, src),
            bytes: if flags.has_pixels() {
                u32::from(bytes)
            } else {
                0
            },
            generation: c.reply_generation(generation),
        };
        self.events.push(ev);
    }

    fn simple(&mut self, ctx: u8, make: impl FnOnce(u32) -> Event) {
        if let Some(c) = self.pick(ctx) {
            let id = c.id;
            self.events.push(make(id));
        }
    }
}

/// The scenario `ops` stand for: the device's limits if an [`Op::Limits`]
/// comes before any context, a daemon attaches, then each operation in
/// order (at most [`MAX_OPS`]).
pub fn scenario(ops: &[Op]) -> Scenario {
    scenario_limited(ops, MAX_DECODE_JOBS)
}

/// [`scenario`] with each [`Op::Decode`] cut to `max_decode` jobs and each
/// [`Op::StreamLoop`] to as many rounds: the KUnit differential fuzzing's,
/// where a job costs a thousand times what it costs here (slot reuse and
/// the request queue's bound are replayed there by traces/regress, and by
/// the scenarios that shrink the device).
pub fn scenario_limited(ops: &[Op], max_decode: u32) -> Scenario {
    let mut b = Builder {
        max_decode,
        ..Builder::default()
    };
    b.events.push(Event::DaemonAttach { version: 1 });
    for op in ops.iter().take(MAX_OPS) {
        b.op(op);
    }
    Scenario::from_events(b.events)
}

/// Decodes a fuzzer input into operations (never fails: a short input is
/// a short sequence).
pub fn ops(data: &[u8]) -> Vec<Op> {
    let mut u = Unstructured::new(data);
    let mut ops = Vec::new();
    while ops.len() < MAX_OPS && !u.is_empty() {
        match Op::arbitrary(&mut u) {
            Ok(op) => ops.push(op),
            Err(_) => break,
        }
    }
    ops
}

/// Bytes a seeded generation draws: room for [`MAX_OPS`] operations.
const SEEDED_BYTES: usize = 16 * MAX_OPS;

/// splitmix64: a fixed, dependency-free stream of bytes for a seed.
fn seeded_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(n);
    out
}

/// The scenario of seed `seed`, at most `max_ops` operations: the same
/// generator as the fuzz target, fed from [`seeded_bytes`].
pub fn seeded(seed: u64, max_ops: usize, max_decode: u32) -> Scenario {
    let mut ops = ops(&seeded_bytes(seed, SEEDED_BYTES));
    ops.truncate(max_ops);
    scenario_limited(&ops, max_decode)
}

/// Highest context id the in-kernel executor numbers
/// (DAEDALUS_MAX_CONTEXTS): scenarios naming more cannot run there.
pub const KUNIT_MAX_CTX: u32 = 8;

/// Whether the KUnit executor can run `s` as the userspace one does.
pub fn fits_kunit(s: &Scenario) -> bool {
    s.lines.iter().all(|l| {
        l.event
            .ctx()
            .is_none_or(|c| (1..=KUNIT_MAX_CTX).contains(&c))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_always_gives_the_same_scenario() {
        let m = MAX_DECODE_JOBS;
        let a = seeded(7, MAX_OPS, m);
        assert_eq!(a.to_text(), seeded(7, MAX_OPS, m).to_text());
        assert_ne!(a.to_text(), seeded(8, MAX_OPS, m).to_text());
        assert!(a.lines.len() > 1, "{}", a.to_text());
        assert!(seeded(7, 3, m).lines.len() <= seeded(7, MAX_OPS, m).lines.len());
    }

    fn run_on(s: &Scenario, core: &str) -> crate::Outcome {
        let opts = crate::Options {
            core: core.into(),
            ..crate::Options::default()
        };
        crate::run(s, &opts).unwrap()
    }

    /// `s` runs clean on the real core and breaks `invariant` on `mutant`.
    fn caught_only_by(s: &Scenario, mutant: &str, invariant: &str) {
        let o = run_on(s, "real");
        assert!(o.verdict.is_clean(), "{}\n{}", o.log_text(), s.to_text());
        let o = run_on(s, mutant);
        let v = o.verdict.violation();
        let v = v.unwrap_or_else(|| panic!("{mutant} runs clean:\n{}", s.to_text()));
        assert_eq!(v.invariant.name(), invariant, "{v}");
    }

    /// A long decode in one operation runs every job it answers, clean,
    /// past the 256 job slots: where a slot reissued under its old cookie
    /// shows.
    #[test]
    fn a_decode_runs_past_the_job_slots() {
        let s = scenario(&[
            Op::Setup { nout: 2, ncap: 3 },
            Op::Decode { ctx: 0, jobs: 150 },
        ]);
        let o = run_on(&s, "real");
        assert!(o.verdict.is_clean(), "{}", o.verdict.violation().unwrap());
        let done = o
            .trace_log()
            .lines()
            .filter(|l| l.starts_with("job_finish "))
            .count();
        assert_eq!(done, 301, "{}", o.trace_log());
        let short = scenario_limited(
            &[
                Op::Setup { nout: 2, ncap: 3 },
                Op::Decode { ctx: 0, jobs: 150 },
            ],
            5,
        );
        assert_eq!(short.to_text().matches("\nframe ").count(), 5);
        let v = run_on(&s, "cookie-reuse");
        let v = v.verdict.violation().expect("cookie-reuse runs clean");
        assert_eq!(v.invariant.name(), "cookie-reissued", "{v}");
    }

    /// A `Limits` op shrinks the device: three jobs wrap a table of two
    /// slots, which the cookie-reuse mutant gets wrong; after a context
    /// was opened the op does nothing.
    #[test]
    fn limits_first_wrap_a_small_table_within_three_jobs() {
        let ops = [
            Op::Limits {
                contexts: 0,
                capture: 1,
            },
            Op::Setup { nout: 1, ncap: 1 },
            Op::Decode { ctx: 0, jobs: 1 },
        ];
        let s = scenario(&ops);
        assert_eq!(
            s.lines[0].event,
            Event::Limits {
                contexts: 1,
                capture: 2
            }
        );
        let o = run_on(&s, "real");
        assert!(o.verdict.is_clean(), "{}", o.verdict.violation().unwrap());
        assert!(
            o.trace_log().contains("cookie=0x200000000"),
            "{}",
            o.trace_log()
        );
        let v = run_on(&s, "cookie-reuse");
        let v = v.verdict.violation().expect("cookie-reuse runs clean");
        assert_eq!(v.invariant.name(), "cookie-reissued", "{v}");
        let later = scenario(&[ops[1].clone(), ops[0].clone()]);
        assert!(!later.to_text().contains("limits"), "{}", later.to_text());
        // Before the first context it still applies, as the first event,
        // and only the first one does.
        let early = scenario(&[
            Op::Tick { ms: 5 },
            ops[0].clone(),
            Op::Limits {
                contexts: 3,
                capture: 3,
            },
            ops[1].clone(),
        ]);
        assert_eq!(early.lines[0].event, s.lines[0].event);
        assert_eq!(early.to_text().matches("limits").count(), 1);
    }

    /// A loop of STREAMOFF/STREAMON against a daemon that stopped reading:
    /// clean on the real queue, past its bound on one that coalesces
    /// nothing.
    #[test]
    fn a_stream_loop_against_a_stopped_daemon_tests_the_queue_bound() {
        let s = scenario(&[
            Op::Setup { nout: 1, ncap: 1 },
            Op::DaemonReading { reading: false },
            Op::StreamLoop {
                ctx: 0,
                queue: None,
                times: 100,
            },
        ]);
        assert_eq!(s.to_text().matches("\nstreamoff ").count(), 2 * 101);
        caught_only_by(&s, "queue-no-coalesce", "queue-bound");
    }

    /// A seek starts a new stream generation; a reply naming the one
    /// before is refused by the real core, applied by a core that only
    /// refuses newer generations.
    #[test]
    fn a_reply_of_the_generation_before_a_seek_is_refused() {
        let s = scenario(&[
            Op::Setup { nout: 2, ncap: 2 },
            Op::Seek { ctx: 0 },
            // Job 2: the first after the seek (job 1 ran before it).
            Op::Frame {
                ctx: 0,
                job: 1,
                flags: Flags::Both,
                src: 0,
                bytes: 64,
                generation: OWN_GENERATION,
            },
        ]);
        let text = s.to_text();
        assert!(
            text.contains("job=2 flags=src_consumed|has_pixels ts=0 bytes=64 gen=1"),
            "{text}"
        );
        caught_only_by(&s, "stale-generation", "stale-generation-applied");
    }

    /// A drain whose sources are answered in turn by the newest job's
    /// replies: the real core sends REQ_FLUSH after the last source went
    /// out, a front that took the drain for flushed at the STOP (a source
    /// still queued) sends the capture-only job without it.
    #[test]
    fn replies_to_the_newest_job_run_a_drain_to_its_capture_only_job() {
        let s = scenario(&[
            Op::Setup { nout: 1, ncap: 2 },
            Op::DecoderStop { ctx: 0 },
            Op::Reply {
                ctx: 0,
                flags: Flags::Both,
                src: 0,
                generation: 0,
            },
            Op::Reply {
                ctx: 0,
                flags: Flags::Both,
                src: 1,
                generation: 0,
            },
        ]);
        let text = s.to_text();
        assert!(
            text.contains(
                "frame ctx=1 job=newest flags=src_consumed|has_pixels ts=33333333 bytes=64"
            ),
            "{text}"
        );
        caught_only_by(&s, "drain-flushed-unsent", "protocol-rules");
    }

    /// A drain that answers the sources it waits for before the LAST:
    /// the capture-only job that takes the LAST goes out after REQ_FLUSH.
    #[test]
    fn a_drain_answers_its_sources_then_ends_on_the_capture_only_job() {
        let s = scenario(&[
            Op::Setup { nout: 2, ncap: 3 },
            Op::Drain {
                ctx: 0,
                answered: 3 + MAX_BUFS,
            },
        ]);
        let text = s.to_text();
        let replies = text
            .matches("job=newest flags=src_consumed|has_pixels")
            .count();
        assert_eq!(replies, 3, "{text}");
        assert!(
            text.ends_with("frame ctx=1 job=newest flags=has_pixels|last ts=0\n"),
            "{text}"
        );
        caught_only_by(&s, "drain-flushed-unsent", "protocol-rules");
    }

    /// The same through a reply to the newest job: the job after the
    /// seek, answered under the generation before it.
    #[test]
    fn a_reply_to_the_newest_job_may_name_the_generation_before_a_seek() {
        let s = scenario(&[
            Op::Setup { nout: 2, ncap: 2 },
            Op::Seek { ctx: 0 },
            Op::Reply {
                ctx: 0,
                flags: Flags::Both,
                src: 0,
                generation: OWN_GENERATION,
            },
        ]);
        let text = s.to_text();
        assert!(
            text.contains("job=newest flags=src_consumed|has_pixels ts=0 bytes=64 gen=1"),
            "{text}"
        );
        caught_only_by(&s, "stale-generation", "stale-generation-applied");
    }

    #[test]
    fn a_context_past_the_kunit_executors_is_refused() {
        let ok = Scenario::from_events([Event::Open {
            ctx: 8,
            stateless: false,
        }]);
        let far = Scenario::from_events([
            Event::Open {
                ctx: 8,
                stateless: false,
            },
            Event::Close { ctx: 9 },
        ]);
        assert!(fits_kunit(&ok));
        assert!(!fits_kunit(&far));
    }
}
