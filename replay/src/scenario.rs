// SPDX-License-Identifier: GPL-2.0
//! The daedalus scenario text format (v1): one event per line.
//!
//! This one file is the whole parser. It uses `core` only, allocates
//! nothing, and is compiled unchanged by two crates: `daedalus-replay`
//! (userspace executor, std) and the kernel's Rust KUnit suite, which
//! pulls it in with `#[path = "…/replay/src/scenario.rs"] mod scenario;`.
//! Inside the kernel crate nothing re-exports these items, so the
//! kernel's `unreachable_pub` lint is silenced for this module only; in
//! `daedalus-replay` they are the public scenario model.
//!
//! The grammar is in docs/scenario-format.md.
#![allow(unreachable_pub)]
#![allow(dead_code)]

use core::fmt;

/// The format version this parser reads and `Display` writes.
pub const SCENARIO_VERSION: u32 = 1;

/// The first non-comment line of every scenario.
pub const SCENARIO_MAGIC: &str = "daedalus-scenario";

/// RESP_FRAME flag bits, as in `<uapi/linux/daedalus.h>`.
pub const FRAME_SRC_CONSUMED: u32 = 1 << 0;
/// The job's CAPTURE buffer is filled and done.
pub const FRAME_HAS_PIXELS: u32 = 1 << 1;
/// The buffers this message releases failed.
pub const FRAME_ERROR: u32 = 1 << 2;
/// The last picture of a drain.
pub const FRAME_LAST: u32 = 1 << 3;
/// Largest picture a `frame` event sends inline; a larger `bytes` is
/// announced in `bytesused` with no bytes behind it (which the module
/// refuses). Both executors, userspace and KUnit, send the same message.
pub const MAX_INLINE_PICTURE: u32 = 16 << 20;

const FLAG_NAMES: [(&str, u32); 4] = [
    ("src_consumed", FRAME_SRC_CONSUMED),
    ("has_pixels", FRAME_HAS_PIXELS),
    ("error", FRAME_ERROR),
    ("last", FRAME_LAST),
];

/// One of the two vb2 queues of a mem2mem context.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Queue {
    /// OUTPUT: bitstream from the client (the m2m "src" side).
    Output,
    /// CAPTURE: pictures to the client (the m2m "dst" side).
    Capture,
}

impl Queue {
    /// The name used in scenario text.
    pub const fn name(self) -> &'static str {
        match self {
            Queue::Output => "out",
            Queue::Capture => "cap",
        }
    }

    /// The name V4L2 and the kernel's messages use: OUTPUT or CAPTURE.
    pub const fn v4l2_name(self) -> &'static str {
        match self {
            Queue::Output => "OUTPUT",
            Queue::Capture => "CAPTURE",
        }
    }
}

/// Which job a daemon reply is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobRef {
    /// The n-th job (from 1) the context sent to the daemon. Once that
    /// job is over, the reply carries its now-dead cookie.
    Nth(u32),
    /// A cookie written verbatim, as a hostile or confused daemon would.
    Cookie(u64),
    /// The last job the context sent to the daemon so far (`job=newest`):
    /// the one a drain's capture-only job or a reply to what just ran
    /// names, whatever its number; a dead cookie if the context sent none.
    Newest,
}

/// One scenario event. Every field is plain data: events are `Copy` and
/// borrow nothing from the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// The device's limits shrunk before anything else happens
    /// (`daedalus_job_core_set_limits`): `contexts` sessions of at most
    /// `capture` CAPTURE buffers each, an in-flight table of their
    /// product. Only as the first event.
    Limits { contexts: u32, capture: u32 },
    /// A client opens a decoder node: context `ctx` is created, of the
    /// stateless (Request API) node with `stateless`, else of the
    /// stateful one.
    Open { ctx: u32, stateless: bool },
    /// The client closes the file: the context is released.
    Close { ctx: u32 },
    /// VIDIOC_REQBUFS on one queue (count 0 frees the buffers).
    Reqbufs { ctx: u32, queue: Queue, count: u32 },
    /// VIDIOC_QBUF; `ts` in ns and `size` (bytesused) matter on OUTPUT.
    /// With `req`, the buffer goes into that request
    /// (`V4L2_BUF_FLAG_REQUEST_FD`) and reaches the driver when the
    /// request is queued.
    Qbuf {
        ctx: u32,
        queue: Queue,
        index: u32,
        ts: u64,
        size: u32,
        req: Option<u32>,
    },
    /// VIDIOC_DQBUF (non-blocking); the result goes to the outcome log.
    Dqbuf { ctx: u32, queue: Queue },
    /// VIDIOC_STREAMON.
    Streamon { ctx: u32, queue: Queue },
    /// VIDIOC_STREAMOFF.
    Streamoff { ctx: u32, queue: Queue },
    /// VIDIOC_DECODER_CMD(V4L2_DEC_CMD_STOP): drain.
    DecoderStop { ctx: u32 },
    /// VIDIOC_DECODER_CMD(V4L2_DEC_CMD_START): resume after a drain.
    DecoderStart { ctx: u32 },
    /// A daemon opens /dev/daedalus and answers HELLO with `version`.
    DaemonAttach { version: u32 },
    /// The daemon closes /dev/daedalus or dies.
    DaemonDetach,
    /// The daemon stops reading /dev/daedalus (SIGSTOP, or busy): the
    /// module's requests stay queued.
    DaemonStop,
    /// The daemon reads again (SIGCONT): everything queued, at the end of
    /// this event and of every later one.
    DaemonCont,
    /// RESP_FRAME for a job of `ctx`. `gen` overrides the stream
    /// generation the reply names (default: the job's own).
    Frame {
        ctx: u32,
        job: JobRef,
        flags: u32,
        ts: u64,
        bytes: u32,
        generation: Option<u32>,
    },
    /// RESP_STREAM_INFO: the stream's coded size and DPB depth.
    StreamInfo {
        ctx: u32,
        width: u32,
        height: u32,
        dpb: u32,
    },
    /// RESP_SESSION_ERROR.
    SessionError { ctx: u32, code: u32 },
    /// RESP_RESET_DONE for the context's latest REQ_RESET (or `gen`).
    ResetDone { ctx: u32, generation: Option<u32> },
    /// Time passes: `ms` milliseconds (watchdogs may expire).
    Tick { ms: u32 },
    /// MEDIA_IOC_REQUEST_ALLOC on the media device: request `req` (the
    /// scenario's name for its file descriptor).
    ReqAlloc { req: u32 },
    /// VIDIOC_S_EXT_CTRLS of context `ctx` into request `req`
    /// (`V4L2_CTRL_WHICH_REQUEST_VAL`): the stream's SPS, PPS, scaling
    /// matrix and decode parameters, the picture's own.
    Ctrls { ctx: u32, req: u32 },
    /// MEDIA_REQUEST_IOC_QUEUE.
    ReqQueue { req: u32 },
    /// MEDIA_REQUEST_IOC_REINIT: a completed (or never queued) request
    /// emptied for reuse.
    ReqReinit { req: u32 },
    /// close() of the request's file descriptor.
    ReqClose { req: u32 },
}

impl Event {
    /// The context the event is about, if any.
    pub const fn ctx(&self) -> Option<u32> {
        match *self {
            Event::Open { ctx, .. }
            | Event::Close { ctx }
            | Event::Ctrls { ctx, .. }
            | Event::Reqbufs { ctx, .. }
            | Event::Qbuf { ctx, .. }
            | Event::Dqbuf { ctx, .. }
            | Event::Streamon { ctx, .. }
            | Event::Streamoff { ctx, .. }
            | Event::DecoderStop { ctx }
            | Event::DecoderStart { ctx }
            | Event::Frame { ctx, .. }
            | Event::StreamInfo { ctx, .. }
            | Event::SessionError { ctx, .. }
            | Event::ResetDone { ctx, .. } => Some(ctx),
            Event::Limits { .. }
            | Event::DaemonAttach { .. }
            | Event::DaemonDetach
            | Event::DaemonStop
            | Event::DaemonCont
            | Event::Tick { .. }
            | Event::ReqAlloc { .. }
            | Event::ReqQueue { .. }
            | Event::ReqReinit { .. }
            | Event::ReqClose { .. } => None,
        }
    }

    /// The request the event is about, if any.
    pub const fn req(&self) -> Option<u32> {
        match *self {
            Event::Qbuf { req, .. } => req,
            Event::Ctrls { req, .. }
            | Event::ReqAlloc { req }
            | Event::ReqQueue { req }
            | Event::ReqReinit { req }
            | Event::ReqClose { req } => Some(req),
            _ => None,
        }
    }

    /// The verb that starts the event's line.
    pub const fn verb(&self) -> &'static str {
        match self {
            Event::Limits { .. } => "limits",
            Event::Open { .. } => "open",
            Event::Close { .. } => "close",
            Event::Reqbufs { .. } => "reqbufs",
            Event::Qbuf { .. } => "qbuf",
            Event::Dqbuf { .. } => "dqbuf",
            Event::Streamon { .. } => "streamon",
            Event::Streamoff { .. } => "streamoff",
            Event::DecoderStop { .. } => "stop",
            Event::DecoderStart { .. } => "start",
            Event::DaemonAttach { .. } => "attach",
            Event::DaemonDetach => "detach",
            Event::DaemonStop => "daemon_stop",
            Event::DaemonCont => "daemon_cont",
            Event::Frame { .. } => "frame",
            Event::StreamInfo { .. } => "info",
            Event::SessionError { .. } => "error",
            Event::ResetDone { .. } => "reset_done",
            Event::Tick { .. } => "tick",
            Event::ReqAlloc { .. } => "req_alloc",
            Event::Ctrls { .. } => "ctrls",
            Event::ReqQueue { .. } => "req_queue",
            Event::ReqReinit { .. } => "req_reinit",
            Event::ReqClose { .. } => "req_close",
        }
    }
}

/// Why a line was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text has no `daedalus-scenario v1` line before its events.
    MissingHeader,
    /// The header names a version this parser does not read.
    UnsupportedVersion,
    /// The header line is malformed.
    BadHeader,
    /// The first word of the line is not an event.
    UnknownVerb,
    /// A `key=value` pair names a key this event does not take.
    UnknownKey,
    /// A key the event needs is absent (its name is attached).
    MissingKey(&'static str),
    /// A key appears twice on one line.
    DuplicateKey,
    /// A word is not of the form `key=value`.
    NotKeyValue,
    /// A number is malformed or does not fit its field.
    BadNumber,
    /// `q=` is neither `out` nor `cap`.
    BadQueue,
    /// `flags=` names an unknown flag.
    BadFlag,
    /// `job=` is neither a job number (from 1) nor `cookie:<number>`.
    BadJob,
    /// `node=` is neither `stateful` nor `stateless`.
    BadNode,
    /// A second header line.
    DuplicateHeader,
    /// The line has more words than any event takes.
    TooManyFields,
    /// A line is not valid UTF-8 or holds control characters.
    BadText,
    /// `limits` after another event.
    LimitsNotFirst,
}

impl ErrorKind {
    /// A one-line reason, without the line number.
    pub const fn reason(self) -> &'static str {
        match self {
            ErrorKind::MissingHeader => {
                "missing `daedalus-scenario v1` header before the first event"
            }
            ErrorKind::UnsupportedVersion => "unsupported scenario version (this parser reads v1)",
            ErrorKind::BadHeader => "malformed header: expected `daedalus-scenario v1`",
            ErrorKind::UnknownVerb => "unknown event",
            ErrorKind::UnknownKey => "unknown key for this event",
            ErrorKind::MissingKey(_) => "missing required key",
            ErrorKind::DuplicateKey => "key given twice",
            ErrorKind::NotKeyValue => "expected key=value",
            ErrorKind::BadNumber => "malformed or out-of-range number",
            ErrorKind::BadQueue => "queue must be `out` or `cap`",
            ErrorKind::BadFlag => "unknown frame flag",
            ErrorKind::BadJob => "job must be a number from 1, newest or cookie:<number>",
            ErrorKind::BadNode => "node must be `stateful` or `stateless`",
            ErrorKind::DuplicateHeader => "second header line",
            ErrorKind::TooManyFields => "too many fields on one line",
            ErrorKind::BadText => "control character in line",
            ErrorKind::LimitsNotFirst => "`limits` must be the first event",
        }
    }
}

/// A rejected line: its number (from 1), the reason and the word at fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: u32,
    /// 1-based column of the offending word (0: the whole line).
    pub column: u32,
    /// What is wrong.
    pub kind: ErrorKind,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        if self.column != 0 {
            write!(f, ":{}", self.column)?;
        }
        write!(f, ": {}", self.kind.reason())?;
        if let ErrorKind::MissingKey(key) = self.kind {
            write!(f, " `{key}=`")?;
        }
        Ok(())
    }
}

/// An event and the line it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line {
    /// 1-based line number in the text.
    pub line: u32,
    /// The event.
    pub event: Event,
}

/// Iterates over the events of a scenario text, checking the header.
///
/// Yields `Ok(Line)` per event and stops after the first `Err`. The
/// header may be preceded by comments and blank lines only; a UTF-8 byte
/// order mark at the very start of the text is skipped.
pub struct Parser<'a> {
    rest: &'a str,
    line: u32,
    seen_header: bool,
    seen_event: bool,
    failed: bool,
}

impl<'a> Parser<'a> {
    /// Starts parsing `text`.
    pub const fn new(text: &'a str) -> Self {
        Parser {
            rest: text,
            line: 0,
            seen_header: false,
            seen_event: false,
            failed: false,
        }
    }

    /// Whether a header line was seen so far.
    pub const fn seen_header(&self) -> bool {
        self.seen_header
    }

    /// Parses the whole text, calling `f` per event; returns the number of
    /// events. An empty scenario (header only) is valid.
    pub fn for_each<F: FnMut(Line)>(text: &'a str, mut f: F) -> Result<u32, ParseError> {
        let mut n = 0;
        let mut p = Parser::new(text);
        for item in &mut p {
            f(item?);
            n += 1;
        }
        if !p.seen_header {
            return Err(ParseError {
                line: p.line.max(1),
                column: 0,
                kind: ErrorKind::MissingHeader,
            });
        }
        Ok(n)
    }
}

impl Iterator for Parser<'_> {
    type Item = Result<Line, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.line == 0 {
            // A UTF-8 byte order mark some editors write first: not text.
            self.rest = self.rest.strip_prefix('\u{feff}').unwrap_or(self.rest);
        }
        while !self.rest.is_empty() {
            let (raw, rest) = match self.rest.find('\n') {
                Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
                None => (self.rest, ""),
            };
            self.rest = rest;
            self.line = self.line.saturating_add(1);
            let text = match raw.find('#') {
                Some(i) => &raw[..i],
                None => raw,
            };
            let text = text.strip_suffix('\r').unwrap_or(text);
            let r = self.parse_line(raw, text);
            match r {
                Ok(None) => continue,
                Ok(Some(event)) => {
                    self.seen_event = true;
                    return Some(Ok(Line {
                        line: self.line,
                        event,
                    }));
                }
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
        None
    }
}

/// At most this many words on one line (verb included).
const MAX_WORDS: usize = 8;

struct Words<'a> {
    words: [(&'a str, u32); MAX_WORDS],
    n: usize,
}

impl<'a> Parser<'a> {
    fn err(&self, column: u32, kind: ErrorKind) -> ParseError {
        ParseError {
            line: self.line,
            column,
            kind,
        }
    }

    fn split(&self, raw: &'a str, text: &'a str) -> Result<Words<'a>, ParseError> {
        let mut w = Words {
            words: [("", 0); MAX_WORDS],
            n: 0,
        };
        let base = raw.as_ptr() as usize;
        for word in text.split([' ', '\t']) {
            if word.is_empty() {
                continue;
            }
            let column = (word.as_ptr() as usize - base + 1) as u32;
            if word.bytes().any(|b| b < 0x20 || b == 0x7f) {
                return Err(self.err(column, ErrorKind::BadText));
            }
            if w.n == MAX_WORDS {
                return Err(self.err(column, ErrorKind::TooManyFields));
            }
            w.words[w.n] = (word, column);
            w.n += 1;
        }
        Ok(w)
    }

    fn parse_line(&mut self, raw: &'a str, text: &'a str) -> Result<Option<Event>, ParseError> {
        let w = self.split(raw, text)?;
        if w.n == 0 {
            return Ok(None);
        }
        let (verb, vcol) = w.words[0];
        if verb == SCENARIO_MAGIC {
            if self.seen_header {
                return Err(self.err(vcol, ErrorKind::DuplicateHeader));
            }
            if w.n != 2 {
                return Err(self.err(vcol, ErrorKind::BadHeader));
            }
            let (v, vcol2) = w.words[1];
            let num = v
                .strip_prefix('v')
                .ok_or(self.err(vcol2, ErrorKind::BadHeader))?;
            let version = parse_u64(num).ok_or(self.err(vcol2, ErrorKind::BadHeader))?;
            if version != SCENARIO_VERSION as u64 {
                return Err(self.err(vcol2, ErrorKind::UnsupportedVersion));
            }
            self.seen_header = true;
            return Ok(None);
        }
        if !self.seen_header {
            return Err(self.err(vcol, ErrorKind::MissingHeader));
        }
        let spec = spec_of(verb).ok_or(self.err(vcol, ErrorKind::UnknownVerb))?;
        let mut vals: [Option<(&'a str, u32)>; MAX_WORDS] = [None; MAX_WORDS];
        for &(word, col) in &w.words[1..w.n] {
            let (k, v) = match word.find('=') {
                Some(i) => (&word[..i], &word[i + 1..]),
                None => return Err(self.err(col, ErrorKind::NotKeyValue)),
            };
            let slot = spec
                .keys
                .iter()
                .position(|&s| s == k)
                .ok_or(self.err(col, ErrorKind::UnknownKey))?;
            if vals[slot].is_some() {
                return Err(self.err(col, ErrorKind::DuplicateKey));
            }
            vals[slot] = Some((v, col + k.len() as u32 + 1));
        }
        let f = Fields {
            p: self,
            spec,
            vals,
            vcol,
        };
        let ev = match spec.verb {
            "limits" if self.seen_event => {
                return Err(self.err(vcol, ErrorKind::LimitsNotFirst));
            }
            "limits" => Event::Limits {
                contexts: f.u32("contexts")?,
                capture: f.u32("capture")?,
            },
            "open" => Event::Open {
                ctx: f.u32("ctx")?,
                stateless: f.node()?,
            },
            "close" => Event::Close { ctx: f.u32("ctx")? },
            "reqbufs" => Event::Reqbufs {
                ctx: f.u32("ctx")?,
                queue: f.queue()?,
                count: f.u32("count")?,
            },
            "qbuf" => Event::Qbuf {
                ctx: f.u32("ctx")?,
                queue: f.queue()?,
                index: f.u32("index")?,
                ts: f.opt_u64("ts")?.unwrap_or(0),
                size: f.opt_u64("size")?.map_or(Ok(0), |v| f.fit32("size", v))?,
                req: match f.opt_u64("req")? {
                    Some(v) => Some(f.fit32("req", v)?),
                    None => None,
                },
            },
            "dqbuf" => Event::Dqbuf {
                ctx: f.u32("ctx")?,
                queue: f.queue()?,
            },
            "streamon" => Event::Streamon {
                ctx: f.u32("ctx")?,
                queue: f.queue()?,
            },
            "streamoff" => Event::Streamoff {
                ctx: f.u32("ctx")?,
                queue: f.queue()?,
            },
            "stop" => Event::DecoderStop { ctx: f.u32("ctx")? },
            "start" => Event::DecoderStart { ctx: f.u32("ctx")? },
            "attach" => Event::DaemonAttach {
                version: f
                    .opt_u64("version")?
                    .map_or(Ok(1), |v| f.fit32("version", v))?,
            },
            "detach" => Event::DaemonDetach,
            "daemon_stop" => Event::DaemonStop,
            "daemon_cont" => Event::DaemonCont,
            "frame" => Event::Frame {
                ctx: f.u32("ctx")?,
                job: f.job()?,
                flags: f.flags()?,
                ts: f.opt_u64("ts")?.unwrap_or(0),
                bytes: f.opt_u64("bytes")?.map_or(Ok(0), |v| f.fit32("bytes", v))?,
                generation: match f.opt_u64("gen")? {
                    Some(v) => Some(f.fit32("gen", v)?),
                    None => None,
                },
            },
            "info" => Event::StreamInfo {
                ctx: f.u32("ctx")?,
                width: f.u32("width")?,
                height: f.u32("height")?,
                dpb: f.u32("dpb")?,
            },
            "error" => Event::SessionError {
                ctx: f.u32("ctx")?,
                code: f.u32("code")?,
            },
            "reset_done" => Event::ResetDone {
                ctx: f.u32("ctx")?,
                generation: match f.opt_u64("gen")? {
                    Some(v) => Some(f.fit32("gen", v)?),
                    None => None,
                },
            },
            "tick" => Event::Tick { ms: f.u32("ms")? },
            "req_alloc" => Event::ReqAlloc { req: f.u32("req")? },
            "ctrls" => Event::Ctrls {
                ctx: f.u32("ctx")?,
                req: f.u32("req")?,
            },
            "req_queue" => Event::ReqQueue { req: f.u32("req")? },
            "req_reinit" => Event::ReqReinit { req: f.u32("req")? },
            "req_close" => Event::ReqClose { req: f.u32("req")? },
            _ => return Err(self.err(vcol, ErrorKind::UnknownVerb)),
        };
        Ok(Some(ev))
    }
}

struct Spec {
    verb: &'static str,
    keys: &'static [&'static str],
}

const SPECS: [Spec; 24] = [
    Spec {
        verb: "limits",
        keys: &["contexts", "capture"],
    },
    Spec {
        verb: "open",
        keys: &["ctx", "node"],
    },
    Spec {
        verb: "close",
        keys: &["ctx"],
    },
    Spec {
        verb: "reqbufs",
        keys: &["ctx", "q", "count"],
    },
    Spec {
        verb: "qbuf",
        keys: &["ctx", "q", "index", "ts", "size", "req"],
    },
    Spec {
        verb: "dqbuf",
        keys: &["ctx", "q"],
    },
    Spec {
        verb: "streamon",
        keys: &["ctx", "q"],
    },
    Spec {
        verb: "streamoff",
        keys: &["ctx", "q"],
    },
    Spec {
        verb: "stop",
        keys: &["ctx"],
    },
    Spec {
        verb: "start",
        keys: &["ctx"],
    },
    Spec {
        verb: "attach",
        keys: &["version"],
    },
    Spec {
        verb: "detach",
        keys: &[],
    },
    Spec {
        verb: "daemon_stop",
        keys: &[],
    },
    Spec {
        verb: "daemon_cont",
        keys: &[],
    },
    Spec {
        verb: "frame",
        keys: &["ctx", "job", "flags", "ts", "bytes", "gen"],
    },
    Spec {
        verb: "info",
        keys: &["ctx", "width", "height", "dpb"],
    },
    Spec {
        verb: "error",
        keys: &["ctx", "code"],
    },
    Spec {
        verb: "reset_done",
        keys: &["ctx", "gen"],
    },
    Spec {
        verb: "tick",
        keys: &["ms"],
    },
    Spec {
        verb: "req_alloc",
        keys: &["req"],
    },
    Spec {
        verb: "ctrls",
        keys: &["ctx", "req"],
    },
    Spec {
        verb: "req_queue",
        keys: &["req"],
    },
    Spec {
        verb: "req_reinit",
        keys: &["req"],
    },
    Spec {
        verb: "req_close",
        keys: &["req"],
    },
];

fn spec_of(verb: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.verb == verb)
}

struct Fields<'p, 'a> {
    p: &'p Parser<'a>,
    spec: &'static Spec,
    vals: [Option<(&'a str, u32)>; MAX_WORDS],
    vcol: u32,
}

impl<'a> Fields<'_, 'a> {
    fn get(&self, key: &'static str) -> Option<(&'a str, u32)> {
        let i = self.spec.keys.iter().position(|&k| k == key)?;
        self.vals[i]
    }

    fn need(&self, key: &'static str) -> Result<(&'a str, u32), ParseError> {
        self.get(key)
            .ok_or(self.p.err(self.vcol, ErrorKind::MissingKey(key)))
    }

    fn u32(&self, key: &'static str) -> Result<u32, ParseError> {
        let (v, col) = self.need(key)?;
        let n = parse_u64(v).ok_or(self.p.err(col, ErrorKind::BadNumber))?;
        u32::try_from(n).map_err(|_| self.p.err(col, ErrorKind::BadNumber))
    }

    fn opt_u64(&self, key: &'static str) -> Result<Option<u64>, ParseError> {
        match self.get(key) {
            None => Ok(None),
            Some((v, col)) => parse_u64(v)
                .map(Some)
                .ok_or(self.p.err(col, ErrorKind::BadNumber)),
        }
    }

    fn fit32(&self, key: &'static str, v: u64) -> Result<u32, ParseError> {
        let col = self.get(key).map_or(self.vcol, |(_, c)| c);
        u32::try_from(v).map_err(|_| self.p.err(col, ErrorKind::BadNumber))
    }

    fn queue(&self) -> Result<Queue, ParseError> {
        let (v, col) = self.need("q")?;
        match v {
            "out" => Ok(Queue::Output),
            "cap" => Ok(Queue::Capture),
            _ => Err(self.p.err(col, ErrorKind::BadQueue)),
        }
    }

    fn node(&self) -> Result<bool, ParseError> {
        match self.get("node") {
            None | Some(("stateful", _)) => Ok(false),
            Some(("stateless", _)) => Ok(true),
            Some((_, col)) => Err(self.p.err(col, ErrorKind::BadNode)),
        }
    }

    fn job(&self) -> Result<JobRef, ParseError> {
        let (v, col) = self.need("job")?;
        if v == "newest" {
            return Ok(JobRef::Newest);
        }
        if let Some(c) = v.strip_prefix("cookie:") {
            return parse_u64(c)
                .map(JobRef::Cookie)
                .ok_or(self.p.err(col, ErrorKind::BadJob));
        }
        match parse_u64(v) {
            Some(n) if n >= 1 && n <= u32::MAX as u64 => Ok(JobRef::Nth(n as u32)),
            _ => Err(self.p.err(col, ErrorKind::BadJob)),
        }
    }

    fn flags(&self) -> Result<u32, ParseError> {
        let (v, col) = self.need("flags")?;
        if v.starts_with(|c: char| c.is_ascii_digit()) {
            let n = parse_u64(v).ok_or(self.p.err(col, ErrorKind::BadNumber))?;
            return u32::try_from(n).map_err(|_| self.p.err(col, ErrorKind::BadNumber));
        }
        let mut flags = 0;
        for name in v.split('|') {
            let bit = FLAG_NAMES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|&(_, b)| b)
                .ok_or(self.p.err(col, ErrorKind::BadFlag))?;
            flags |= bit;
        }
        Ok(flags)
    }
}

/// Parses a decimal or `0x` hexadecimal u64; `_` separators allowed
/// between digits. A value above `u64::MAX` is `None`, never wrapped.
pub fn parse_u64(s: &str) -> Option<u64> {
    let (digits, radix) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => (h, 16),
        None => (s, 10),
    };
    let mut any = false;
    let mut separator = false;
    let mut n: u64 = 0;
    for c in digits.chars() {
        separator = c == '_';
        if separator && any {
            continue;
        }
        let d = c.to_digit(radix)?;
        n = n.checked_mul(radix as u64)?.checked_add(d as u64)?;
        any = true;
    }
    (any && !separator).then_some(n)
}

/// Writes the flags in scenario syntax (`src_consumed|has_pixels`, or a
/// hex number when unknown bits are set or none is).
pub struct Flags(pub u32);

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known = FLAG_NAMES.iter().fold(0, |a, &(_, b)| a | b);
        if self.0 == 0 || self.0 & !known != 0 {
            return write!(f, "{:#x}", self.0);
        }
        let mut first = true;
        for &(name, bit) in &FLAG_NAMES {
            if self.0 & bit != 0 {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Event {
    /// The event as one scenario line, which the parser reads back as the
    /// same event.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.verb())?;
        match *self {
            Event::Limits { contexts, capture } => {
                write!(f, " contexts={contexts} capture={capture}")
            }
            Event::Open { ctx, stateless } => {
                write!(f, " ctx={ctx}")?;
                if stateless {
                    f.write_str(" node=stateless")?;
                }
                Ok(())
            }
            Event::Close { ctx } | Event::DecoderStop { ctx } | Event::DecoderStart { ctx } => {
                write!(f, " ctx={ctx}")
            }
            Event::Reqbufs { ctx, queue, count } => {
                write!(f, " ctx={ctx} q={} count={count}", queue.name())
            }
            Event::Qbuf {
                ctx,
                queue,
                index,
                ts,
                size,
                req,
            } => {
                write!(f, " ctx={ctx} q={} index={index}", queue.name())?;
                if queue == Queue::Output || ts != 0 || size != 0 {
                    write!(f, " ts={ts} size={size}")?;
                }
                if let Some(r) = req {
                    write!(f, " req={r}")?;
                }
                Ok(())
            }
            Event::Dqbuf { ctx, queue }
            | Event::Streamon { ctx, queue }
            | Event::Streamoff { ctx, queue } => {
                write!(f, " ctx={ctx} q={}", queue.name())
            }
            Event::DaemonAttach { version } => {
                if version != 1 {
                    write!(f, " version={version}")?;
                }
                Ok(())
            }
            Event::DaemonDetach | Event::DaemonStop | Event::DaemonCont => Ok(()),
            Event::Frame {
                ctx,
                job,
                flags,
                ts,
                bytes,
                generation,
            } => {
                write!(f, " ctx={ctx}")?;
                match job {
                    JobRef::Nth(n) => write!(f, " job={n}")?,
                    JobRef::Cookie(c) => write!(f, " job=cookie:{c:#x}")?,
                    JobRef::Newest => write!(f, " job=newest")?,
                }
                write!(f, " flags={}", Flags(flags))?;
                if ts != 0 || flags & FRAME_HAS_PIXELS != 0 {
                    write!(f, " ts={ts}")?;
                }
                if bytes != 0 {
                    write!(f, " bytes={bytes}")?;
                }
                if let Some(g) = generation {
                    write!(f, " gen={g}")?;
                }
                Ok(())
            }
            Event::StreamInfo {
                ctx,
                width,
                height,
                dpb,
            } => {
                write!(f, " ctx={ctx} width={width} height={height} dpb={dpb}")
            }
            Event::SessionError { ctx, code } => write!(f, " ctx={ctx} code={code}"),
            Event::ResetDone { ctx, generation } => {
                write!(f, " ctx={ctx}")?;
                if let Some(g) = generation {
                    write!(f, " gen={g}")?;
                }
                Ok(())
            }
            Event::Tick { ms } => write!(f, " ms={ms}"),
            Event::ReqAlloc { req }
            | Event::ReqQueue { req }
            | Event::ReqReinit { req }
            | Event::ReqClose { req } => write!(f, " req={req}"),
            Event::Ctrls { ctx, req } => write!(f, " ctx={ctx} req={req}"),
        }
    }
}
