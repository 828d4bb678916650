//! Inputs for the `orderings` fuzz target made rather than found: an
//! operation sequence written as the bytes [`generate::ops`] reads back
//! ([`encode`]), the operations a scenario (a trace of traces/) stands
//! for ([`ops_of`]), and the dictionary of single operations libFuzzer
//! splices into inputs ([`dictionary`]).
//!
//! The byte layout is `arbitrary`'s, as derived for [`Op`]: a variant is a
//! little-endian u32 `x` choosing variant `(x * count) >> 32`, then its
//! fields in order (integers little-endian, a bool one byte, an `Option`
//! a bool then its value). `ops(&encode(ops)) == ops` is this module's
//! test, over every variant.

use crate::generate::{ABS_GENERATION, Flags, GENERATIONS, MAX_BUFS, MAX_OPS, Op, Q, ReqMisuse};
use crate::model::Scenario;
use crate::scenario::{Event, JobRef, Queue};

/// Variants of [`Op`], [`Flags`] and [`ReqMisuse`]: what `arbitrary`
/// divides the u32 of a variant by.
const OP_VARIANTS: u64 = 30;
const FLAGS_VARIANTS: u64 = 6;
const MISUSE_VARIANTS: u64 = 6;

/// The bytes of one operation sequence.
#[derive(Default)]
struct Enc(Vec<u8>);

impl Enc {
    /// Variant `i` of `n`: the least u32 `x` with `(x * n) >> 32 == i`.
    fn tag(&mut self, i: u64, n: u64) {
        let x = (i << 32).div_ceil(n);
        self.0.extend_from_slice(&(x as u32).to_le_bytes());
    }

    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }

    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn bool(&mut self, v: bool) {
        self.0.push(u8::from(v));
    }

    fn q(&mut self, q: Q) {
        self.tag(q as u64, 2);
    }

    fn opt_q(&mut self, q: Option<Q>) {
        self.bool(q.is_some());
        if let Some(q) = q {
            self.q(q);
        }
    }

    fn flags(&mut self, f: Flags) {
        let (i, raw) = match f {
            Flags::SrcConsumed => (0, None),
            Flags::HasPixels => (1, None),
            Flags::Both => (2, None),
            Flags::SrcError => (3, None),
            Flags::PixelsLast => (4, None),
            Flags::Raw(b) => (5, Some(b)),
        };
        self.tag(i, FLAGS_VARIANTS);
        if let Some(b) = raw {
            self.u8(b);
        }
    }

    fn misuse(&mut self, m: ReqMisuse) {
        let (i, other) = match m {
            ReqMisuse::Queue => (0, None),
            ReqMisuse::Reinit => (1, None),
            ReqMisuse::Close => (2, None),
            ReqMisuse::ForeignCtrls { other } => (3, Some(other)),
            ReqMisuse::PlainQbuf => (4, None),
            ReqMisuse::CaptureInRequest => (5, None),
        };
        self.tag(i, MISUSE_VARIANTS);
        if let Some(o) = other {
            self.u8(o);
        }
    }

    fn op(&mut self, op: &Op) {
        let tag = |e: &mut Self, i| e.tag(i, OP_VARIANTS);
        match *op {
            Op::Open => tag(self, 0),
            Op::Setup { nout, ncap } => {
                tag(self, 1);
                self.u8(nout);
                self.u8(ncap);
            }
            Op::Close { ctx } => {
                tag(self, 2);
                self.u8(ctx);
            }
            Op::Reqbufs { ctx, queue, count } => {
                tag(self, 3);
                self.u8(ctx);
                self.q(queue);
                self.u8(count);
            }
            Op::Qbuf {
                ctx,
                queue,
                index,
                pts,
                size,
            } => {
                tag(self, 4);
                self.u8(ctx);
                self.q(queue);
                self.u8(index);
                self.u8(pts);
                self.u16(size);
            }
            Op::QueueAll { ctx, queue } => self.ctx_queue(5, ctx, queue),
            Op::Dqbuf { ctx, queue } => self.ctx_queue(6, ctx, queue),
            Op::Streamon { ctx, queue } => self.ctx_queue(7, ctx, queue),
            Op::Streamoff { ctx, queue } => self.ctx_queue(8, ctx, queue),
            Op::DecoderStop { ctx } => {
                tag(self, 9);
                self.u8(ctx);
            }
            Op::DecoderStart { ctx } => {
                tag(self, 10);
                self.u8(ctx);
            }
            Op::Attach { bad_version } => {
                tag(self, 11);
                self.bool(bad_version);
            }
            Op::Detach => tag(self, 12),
            Op::DaemonReading { reading } => {
                tag(self, 13);
                self.bool(reading);
            }
            Op::Frame {
                ctx,
                job,
                flags,
                src,
                bytes,
                generation,
            } => {
                tag(self, 14);
                self.u8(ctx);
                self.u8(job);
                self.flags(flags);
                self.u8(src);
                self.u16(bytes);
                self.u8(generation);
            }
            Op::Reply {
                ctx,
                flags,
                src,
                generation,
            } => {
                tag(self, 15);
                self.u8(ctx);
                self.flags(flags);
                self.u8(src);
                self.u8(generation);
            }
            Op::Split {
                ctx,
                job,
                first,
                then,
                src,
            } => {
                tag(self, 16);
                self.u8(ctx);
                self.u8(job);
                self.flags(first);
                self.flags(then);
                self.u8(src);
            }
            Op::ForeignCookie { ctx, cookie, flags } => {
                tag(self, 17);
                self.u8(ctx);
                self.u64(cookie);
                self.flags(flags);
            }
            Op::StreamInfo {
                ctx,
                width,
                height,
                dpb,
            } => {
                tag(self, 18);
                self.u8(ctx);
                self.u16(width);
                self.u16(height);
                self.u8(dpb);
            }
            Op::SessionError { ctx, code } => {
                tag(self, 19);
                self.u8(ctx);
                self.u8(code);
            }
            Op::ResetDone { ctx, generation } => {
                tag(self, 20);
                self.u8(ctx);
                self.bool(generation.is_some());
                if let Some(g) = generation {
                    self.u8(g);
                }
            }
            Op::Tick { ms } => {
                tag(self, 21);
                self.u16(ms);
            }
            Op::Seek { ctx } => {
                tag(self, 22);
                self.u8(ctx);
            }
            Op::Decode { ctx, jobs } => {
                tag(self, 23);
                self.u8(ctx);
                self.u8(jobs);
            }
            Op::Drain { ctx, answered } => {
                tag(self, 24);
                self.u8(ctx);
                self.u8(answered);
            }
            Op::OpenStateless => tag(self, 25),
            Op::SetupStateless { nout, ncap } => {
                tag(self, 26);
                self.u8(nout);
                self.u8(ncap);
            }
            Op::Request { ctx, index, what } => {
                tag(self, 27);
                self.u8(ctx);
                self.u8(index);
                self.misuse(what);
            }
            Op::Limits { contexts, capture } => {
                tag(self, 28);
                self.u8(contexts);
                self.u8(capture);
            }
            Op::StreamLoop { ctx, queue, times } => {
                tag(self, 29);
                self.u8(ctx);
                self.opt_q(queue);
                self.u8(times);
            }
        }
    }

    fn ctx_queue(&mut self, i: u64, ctx: u8, queue: Q) {
        self.tag(i, OP_VARIANTS);
        self.u8(ctx);
        self.q(queue);
    }
}

/// The bytes [`generate::ops`](crate::generate::ops) reads back as `ops`.
pub fn encode(ops: &[Op]) -> Vec<u8> {
    let mut e = Enc::default();
    for op in ops {
        e.op(op);
    }
    e.0
}

/// The RESP_FRAME flags `bits` as the generator names them: a named
/// combination whose bits they are, else `Raw`.
fn flags_of(bits: u32) -> Flags {
    Flags::NAMED
        .into_iter()
        .find(|f| f.bits() == bits)
        .unwrap_or(Flags::Raw(bits as u8))
}

fn q_of(queue: Queue) -> Q {
    match queue {
        Queue::Output => Q::Out,
        Queue::Capture => Q::Cap,
    }
}

fn sat_u8(v: u32) -> u8 {
    u8::try_from(v).unwrap_or(u8::MAX)
}

fn sat_u16(v: u32) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX)
}

/// The operations `s` stands for, as far as the generator can say them,
/// at most [`MAX_OPS`]: contexts by their place among the open ones, a
/// reply's job by its number (past 256: left out), its picture's
/// timestamp by the queued source that had it. What the generator adds
/// by itself is left out: the first attach, and a stateless QBUF's
/// request calls. Timestamps, sizes and counts the generator cannot
/// express are approximated; the seed is a start for the fuzzer, not the
/// trace.
pub fn ops_of(s: &Scenario) -> Vec<Op> {
    let mut ops = Vec::new();
    // Open contexts: id, queued source timestamps.
    let mut open: Vec<(u32, Vec<u64>)> = Vec::new();
    let mut attached = false;
    for l in &s.lines {
        if ops.len() >= MAX_OPS {
            break;
        }
        let at = |open: &[(u32, Vec<u64>)], ctx: u32| {
            open.iter().position(|c| c.0 == ctx).map(|i| i as u8)
        };
        let op = match l.event {
            Event::Limits { contexts, capture } if ops.is_empty() => Some(Op::Limits {
                contexts: sat_u8(contexts.saturating_sub(1)),
                capture: sat_u8(capture.saturating_sub(1)),
            }),
            Event::Limits { .. } => None,
            Event::Open { ctx, stateless } => {
                open.push((ctx, Vec::new()));
                Some(if stateless {
                    Op::OpenStateless
                } else {
                    Op::Open
                })
            }
            Event::Close { ctx } => at(&open, ctx).map(|i| {
                open.remove(i as usize);
                Op::Close { ctx: i }
            }),
            Event::Reqbufs { ctx, queue, count } => at(&open, ctx).map(|i| Op::Reqbufs {
                ctx: i,
                queue: q_of(queue),
                count: sat_u8(count.min(u32::from(MAX_BUFS))),
            }),
            Event::Qbuf {
                ctx,
                queue,
                index,
                ts,
                size,
                ..
            } => at(&open, ctx).map(|i| {
                if queue == Queue::Output {
                    open[i as usize].1.push(ts);
                }
                Op::Qbuf {
                    ctx: i,
                    queue: q_of(queue),
                    index: sat_u8(index),
                    pts: u8::try_from(ts / crate::generate::PERIOD_NS).unwrap_or(u8::MAX),
                    size: sat_u16(size),
                }
            }),
            Event::Dqbuf { ctx, queue } => at(&open, ctx).map(|i| Op::Dqbuf {
                ctx: i,
                queue: q_of(queue),
            }),
            Event::Streamon { ctx, queue } => at(&open, ctx).map(|i| Op::Streamon {
                ctx: i,
                queue: q_of(queue),
            }),
            Event::Streamoff { ctx, queue } => at(&open, ctx).map(|i| Op::Streamoff {
                ctx: i,
                queue: q_of(queue),
            }),
            Event::DecoderStop { ctx } => at(&open, ctx).map(|i| Op::DecoderStop { ctx: i }),
            Event::DecoderStart { ctx } => at(&open, ctx).map(|i| Op::DecoderStart { ctx: i }),
            Event::DaemonAttach { version } => {
                let first = !attached && version == 1;
                attached = true;
                (!first).then_some(Op::Attach {
                    bad_version: version != 1,
                })
            }
            Event::DaemonDetach => Some(Op::Detach),
            Event::DaemonStop => Some(Op::DaemonReading { reading: false }),
            Event::DaemonCont => Some(Op::DaemonReading { reading: true }),
            Event::Frame {
                ctx,
                job,
                flags,
                ts,
                bytes,
                generation,
            } => at(&open, ctx).and_then(|i| {
                let src = open[i as usize]
                    .1
                    .iter()
                    .position(|&t| t == ts)
                    .map_or(0, |p| sat_u8(p as u32));
                let flags = flags_of(flags);
                let generation = match generation {
                    None => 0,
                    Some(g) => ABS_GENERATION + (g % u32::from(GENERATIONS)) as u8,
                };
                match job {
                    JobRef::Newest => Some(Op::Reply {
                        ctx: i,
                        flags,
                        src,
                        generation,
                    }),
                    JobRef::Cookie(cookie) => Some(Op::ForeignCookie {
                        ctx: i,
                        cookie,
                        flags,
                    }),
                    JobRef::Nth(n) => {
                        let job = u8::try_from(n.checked_sub(1)?).ok()?;
                        Some(Op::Frame {
                            ctx: i,
                            job,
                            flags,
                            src,
                            bytes: sat_u16(bytes),
                            generation,
                        })
                    }
                }
            }),
            Event::StreamInfo {
                ctx,
                width,
                height,
                dpb,
            } => at(&open, ctx).map(|i| Op::StreamInfo {
                ctx: i,
                width: sat_u16(width),
                height: sat_u16(height),
                dpb: sat_u8(dpb),
            }),
            Event::SessionError { ctx, code } => at(&open, ctx).map(|i| Op::SessionError {
                ctx: i,
                code: sat_u8(code),
            }),
            Event::ResetDone { ctx, generation } => at(&open, ctx).map(|i| Op::ResetDone {
                ctx: i,
                generation: generation.map(sat_u8),
            }),
            Event::Tick { ms } => Some(Op::Tick {
                ms: sat_u16(ms.min(2999)),
            }),
            // A stateless context's QBUF comes with its request calls.
            Event::ReqAlloc { .. }
            | Event::Ctrls { .. }
            | Event::ReqQueue { .. }
            | Event::ReqReinit { .. }
            | Event::ReqClose { .. } => None,
        };
        ops.extend(op);
    }
    ops
}

/// libFuzzer dictionary entries: each a single operation as [`encode`]
/// writes it, named, the usual values of its fields. Spliced into an
/// input at an operation's start, an entry is that operation.
pub fn dictionary() -> Vec<(String, Vec<u8>)> {
    let flags = [
        ("consumed", Flags::SrcConsumed),
        ("pixels", Flags::HasPixels),
        ("both", Flags::Both),
        ("error", Flags::SrcError),
        ("last", Flags::PixelsLast),
    ];
    let mut d: Vec<(String, Op)> = [
        ("open", Op::Open),
        ("setup", Op::Setup { nout: 2, ncap: 3 }),
        ("setup_one", Op::Setup { nout: 0, ncap: 0 }),
        ("setup_stateless", Op::SetupStateless { nout: 2, ncap: 3 }),
        ("close", Op::Close { ctx: 0 }),
        ("stop", Op::DecoderStop { ctx: 0 }),
        ("start", Op::DecoderStart { ctx: 0 }),
        ("detach", Op::Detach),
        ("attach", Op::Attach { bad_version: false }),
        ("daemon_stop", Op::DaemonReading { reading: false }),
        ("daemon_cont", Op::DaemonReading { reading: true }),
        ("seek", Op::Seek { ctx: 0 }),
        ("decode", Op::Decode { ctx: 0, jobs: 3 }),
        (
            "drain",
            Op::Drain {
                ctx: 0,
                answered: 2,
            },
        ),
        ("tick", Op::Tick { ms: 2999 }),
        (
            "limits",
            Op::Limits {
                contexts: 0,
                capture: 1,
            },
        ),
        (
            "stream_loop",
            Op::StreamLoop {
                ctx: 0,
                queue: None,
                times: 127,
            },
        ),
        (
            "stream_loop_out",
            Op::StreamLoop {
                ctx: 0,
                queue: Some(Q::Out),
                times: 127,
            },
        ),
        (
            "reply_stale",
            Op::Reply {
                ctx: 0,
                flags: Flags::Both,
                src: 0,
                generation: crate::generate::OWN_GENERATION,
            },
        ),
        (
            "info",
            Op::StreamInfo {
                ctx: 0,
                width: 320,
                height: 240,
                dpb: 4,
            },
        ),
        (
            "split",
            Op::Split {
                ctx: 0,
                job: 0,
                first: Flags::SrcConsumed,
                then: Flags::HasPixels,
                src: 0,
            },
        ),
    ]
    .into_iter()
    .map(|(n, op)| (n.to_string(), op))
    .collect();
    for (name, q) in [("out", Q::Out), ("cap", Q::Cap)] {
        for (verb, op) in [
            ("streamoff", Op::Streamoff { ctx: 0, queue: q }),
            ("streamon", Op::Streamon { ctx: 0, queue: q }),
            ("dqbuf", Op::Dqbuf { ctx: 0, queue: q }),
            ("queue_all", Op::QueueAll { ctx: 0, queue: q }),
        ] {
            d.push((format!("{verb}_{name}"), op));
        }
    }
    for (name, f) in flags {
        d.push((
            format!("reply_{name}"),
            Op::Reply {
                ctx: 0,
                flags: f,
                src: 0,
                generation: 0,
            },
        ));
    }
    d.into_iter().map(|(n, op)| (n, encode(&[op]))).collect()
}

/// [`dictionary`] in libFuzzer's format, one `name="\xNN..."` a line.
pub fn dictionary_text() -> String {
    let mut t = String::from(
        "# orderings: one operation an entry, as daedalus_replay::seeds::encode\n\
         # writes it (written by fuzz-seeds; do not edit).\n",
    );
    for (name, bytes) in dictionary() {
        let hex: String = bytes.iter().map(|b| format!("\\x{b:02x}")).collect();
        t.push_str(&format!("{name}=\"{hex}\"\n"));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{ops, scenario};

    /// Bytes from a fixed xorshift: inputs as a fuzzer would write them.
    fn noise(seed: u64, n: usize) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    /// Whatever the generator reads from any bytes, the encoding reads
    /// back as the same operations: 20,000 inputs reach every variant.
    #[test]
    fn encode_is_what_ops_reads_back() {
        let mut seen = std::collections::HashSet::new();
        for seed in 0..20_000u64 {
            let decoded = ops(&noise(seed, 64));
            for op in &decoded {
                seen.insert(std::mem::discriminant(op));
            }
            let again = ops(&encode(&decoded));
            assert_eq!(format!("{again:?}"), format!("{decoded:?}"), "seed {seed}");
        }
        assert_eq!(
            seen.len() as u64,
            OP_VARIANTS,
            "not every variant was reached"
        );
    }

    /// Every dictionary entry is one whole operation.
    #[test]
    fn each_dictionary_entry_is_one_operation() {
        for (name, bytes) in dictionary() {
            let decoded = ops(&bytes);
            assert_eq!(decoded.len(), 1, "{name}: {decoded:?}");
            assert_eq!(encode(&decoded), bytes, "{name}");
        }
        let text = dictionary_text();
        assert!(text.contains("reply_error=\""), "{text}");
    }

    /// A trace's seed runs the way the trace does as far as the
    /// generator can say it: the drain fixture's own replies reach the job
    /// core, and the scenario is clean on the real core.
    #[test]
    fn a_trace_becomes_operations_that_reach_the_core() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../traces/regress");
        let s = Scenario::load(&dir.join("drain.scn")).unwrap();
        let ops = ops_of(&s);
        assert!(ops.len() > 5, "{ops:?}");
        assert_eq!(
            format!("{:?}", crate::generate::ops(&encode(&ops))),
            format!("{ops:?}")
        );
        let made = scenario(&ops);
        let o = crate::run(&made, &crate::Options::default()).unwrap();
        assert!(o.verdict.is_clean(), "{}", made.to_text());
        let text = made.to_text();
        assert!(text.contains("stop ctx=1"), "{text}");
        assert!(
            text.contains("frame ctx=1 job=3 flags=has_pixels|last"),
            "{text}"
        );
    }
}
