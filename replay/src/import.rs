//! Importers: field traces become scenarios.
//!
//! Reads the printed form of the `daedalus:*` tracepoints
//! (docs/trace-format.md) from tracefs `trace`/`trace_pipe` text and from
//! `trace-cmd report` output, and `trace.dat` files with libtracecmd
//! (printed as `trace-cmd report` prints them). The standard `vb2:*` queue events (`vb2_v4l2_qbuf`,
//! `vb2_qbuf`) supply client QBUFs with their real timestamps and sizes,
//! and `vb2_v4l2_dqbuf`/`vb2_dqbuf` the client's DQBUFs, at the point they
//! happened, so a re-queued buffer is queued again only after it came back;
//! both carry only their queue's `owner`, and `Attribution` (below) tells
//! which context that was at the time.
//! The `v4l2:*` QBUF/DQBUF events say the same without the owner; they
//! stand in for the vb2 ones in a trace recorded without those, when one
//! context ran jobs.
//! Other events are counted and skipped; a malformed `daedalus:*` line
//! (a field missing, a number out of its type's range, a name or word the
//! module does not print) is an error naming the file, line and field, and
//! so is a last line without its newline that may be cut short. A trace
//! with no decoder context is an error too: nothing passes silently.
//!
//! What the client did is reconstructed from what the driver saw: each
//! `device_run` implies QBUFs of its buffers (when no vb2 event gave them),
//! `msg_in` RESP_FRAME replies become `frame` events (with the picture's
//! timestamp from the following CAPTURE `buf_done`), `stream_info` the
//! daemon's STREAM_INFO (`info`), `stream` and `drain`
//! become STREAMON/STREAMOFF and decoder commands, `daemon` attach/detach,
//! and a `job_finish` of reason `expired` a `tick` long enough for the
//! watchdog to end that job: a daemon that stops answering (or answers
//! only with replies the module rejects) leaves the job to the watchdog,
//! and without the time passing the replay would keep it running, its
//! buffers claimed, and refuse the client's later DQBUFs and QBUFs.
//!
//! Each scenario holds one context, numbered 1 whatever its id in the
//! trace (a guest's ids count every open since boot; the KUnit executor
//! has contexts 1..8 only).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use daedalus_proto::{HDR_SIZE, MsgType};

use crate::model::Scenario;
use crate::scenario::{Event, FRAME_HAS_PIXELS, JobRef, Queue};

/// Why a trace could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error("{}: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A daedalus event line is malformed.
    #[error("{}:{line}: {reason}", file.display())]
    Malformed {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// libtracecmd could not read a trace.dat file.
    #[error("{}: trace.dat: {why}", file.display())]
    TraceDat {
        /// What went wrong.
        why: String,
        /// The file.
        file: PathBuf,
    },
    /// No event of the trace names a decoder context: nothing to replay.
    #[error("no decoder context in {}: no daedalus event names one", file.display())]
    NoContext {
        /// The file.
        file: PathBuf,
    },
    /// Nothing in the file is a trace event.
    #[error("{}: no trace events found (not a tracefs or trace-cmd text trace)", file.display())]
    Empty {
        /// The file.
        file: PathBuf,
    },
}

/// The result of an import.
#[derive(Debug, Default)]
pub struct Imported {
    /// One scenario per context: the context's id in the trace, and its
    /// scenario, where the context is numbered 1.
    pub scenarios: Vec<(u32, Scenario)>,
    /// Trace lines turned into events.
    pub used: usize,
    /// Trace events of unknown or unused kinds, skipped.
    pub skipped: usize,
}

/// The first bytes of a trace-cmd trace.dat.
const TRACE_DAT_MAGIC: &[u8] = b"\x17\x08\x44tracing";

#[cfg(feature = "tracedat")]
unsafe extern "C" {
    fn daedalus_tracedat_read(
        path: *const std::ffi::c_char,
        why: *mut *const std::ffi::c_char,
    ) -> *mut std::ffi::c_char;
    fn free(p: *mut std::ffi::c_void);
}

/// A trace.dat's events as `trace-cmd report` lines, read with libtracecmd
/// (replay/csrc/tracedat.c): each event printed by its own format.
#[cfg(feature = "tracedat")]
fn read_trace_dat(path: &Path) -> Result<String, ImportError> {
    use std::os::unix::ffi::OsStrExt;
    let fail = |why: String| ImportError::TraceDat {
        why,
        file: path.to_owned(),
    };
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| fail("the path holds a NUL byte".into()))?;
    let mut why: *const std::ffi::c_char = std::ptr::null();
    // SAFETY: c_path is a valid C string; why is valid for writes.
    let text = unsafe { daedalus_tracedat_read(c_path.as_ptr(), &mut why) };
    if text.is_null() {
        let why = if why.is_null() {
            "unreadable".to_owned()
        } else {
            // SAFETY: the reader sets a static C string.
            unsafe { std::ffi::CStr::from_ptr(why) }
                .to_string_lossy()
                .into_owned()
        };
        return Err(fail(why));
    }
    // SAFETY: text is the reader's NUL-terminated, malloc()ed result.
    let s = unsafe { std::ffi::CStr::from_ptr(text) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: text came from malloc/realloc and is not used again.
    unsafe { free(text.cast()) };
    Ok(s)
}

/// Built without the `tracedat` feature: no trace.dat reader.
#[cfg(not(feature = "tracedat"))]
fn read_trace_dat(path: &Path) -> Result<String, ImportError> {
    Err(ImportError::TraceDat {
        why: "this build has no trace.dat reader (feature `tracedat`, libtracecmd); \
              import `trace-cmd report` output instead"
            .into(),
        file: path.to_owned(),
    })
}

/// Imports a trace file: text, or trace.dat (read with libtracecmd).
pub fn import_file(path: &Path) -> Result<Imported, ImportError> {
    let bytes = std::fs::read(path).map_err(|source| ImportError::Io {
        file: path.to_owned(),
        source,
    })?;
    let text = if bytes.starts_with(TRACE_DAT_MAGIC) {
        read_trace_dat(path)?
    } else {
        String::from_utf8_lossy(&bytes).into_owned()
    };
    import_text(path, &text)
}

/// One event line of a trace, split by `tokenize`: what its handler
/// reads, and where it is, for errors.
struct TraceLine<'a> {
    /// The trace file.
    file: &'a Path,
    /// The line's 1-based number.
    line: usize,
    /// The pid of the task the event was traced in (`comm-pid`), if it
    /// reads as one.
    pid: Option<u32>,
    /// The event's name (`daedalus_stream`).
    name: &'a str,
    /// Its `key=value` (or `key = value`) fields.
    fields: HashMap<&'a str, &'a str>,
    /// Its words that are not fields (`on`, `attach`).
    words: Vec<&'a str>,
}

/// Line `line` of `file` is malformed: `reason`.
fn malformed(file: &Path, line: usize, reason: String) -> ImportError {
    ImportError::Malformed {
        file: file.to_owned(),
        line,
        reason,
    }
}

/// Splits `  task-pid [cpu] flags ts: name: fields` (tracefs) or
/// `task-pid [cpu] ts: name: fields` (trace-cmd report).
/// Also returns the timestamp in ns, when it reads as `secs.fraction`,
/// and the task's pid, when it reads as one.
fn split_line(text: &str) -> Option<(&str, &str, Option<u128>, Option<u32>)> {
    let t = text.trim_start();
    if t.is_empty() || t.starts_with('#') {
        return None;
    }
    let close = t.find("] ")?;
    let pid = task_pid(&t[..close]);
    let rest = &t[close + 2..];
    // Skip optional irq flags, then the timestamp ending in ':'.
    let colon = rest.find(": ")?;
    let ts = rest[..colon]
        .split_whitespace()
        .last()
        .and_then(timestamp_ns);
    let after = &rest[colon + 2..];
    let name_end = after.find(':')?;
    let name = after[..name_end].trim();
    if name.is_empty() || name.contains(' ') {
        return None;
    }
    Some((name, after[name_end + 1..].trim(), ts, pid))
}

/// The pid in `comm-pid [cpu` or, with the tgid column, `comm-pid (tgid)
/// [cpu`. The comm may itself hold `-` (`gst-launch-1.0-212`): the pid is
/// after the last one.
fn task_pid(head: &str) -> Option<u32> {
    let (task, _cpu) = head.rsplit_once('[')?;
    let task = task.trim_end();
    let task = match task.strip_suffix(')') {
        Some(t) => t.rsplit_once('(')?.0.trim_end(),
        None => task,
    };
    task.rsplit_once('-')?.1.parse().ok()
}

fn fmt_secs(ns: u128) -> String {
    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

/// `123.456789` (seconds, up to nanoseconds) in ns.
fn timestamp_ns(s: &str) -> Option<u128> {
    let (secs, digits) = s.split_once('.')?;
    if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u128 = secs.parse().ok()?;
    let frac: u128 = digits.parse().ok()?;
    Some(secs * 1_000_000_000 + frac * 10u128.pow(9 - digits.len() as u32))
}

fn fields(body: &str) -> (HashMap<&str, &str>, Vec<&str>) {
    let mut m = HashMap::new();
    let mut words = Vec::new();
    // vb2 events print `key = value, key = value`; ours `key=value key=value`.
    // The first of a repeated key wins: v4l2_qbuf's `timecode = { type = ..`
    // comes after the buffer's own `type`.
    let norm: Vec<&str> = body.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    let mut i = 0;
    while i < norm.len() {
        let w = norm[i];
        if let Some((k, v)) = w.split_once('=') {
            if v.is_empty() && i + 1 < norm.len() {
                m.entry(k).or_insert(norm[i + 1]);
                i += 2;
                continue;
            }
            m.entry(k).or_insert(v);
        } else if i + 2 < norm.len() && norm[i + 1] == "=" {
            m.entry(w).or_insert(norm[i + 2]);
            i += 3;
            continue;
        } else {
            words.push(w);
        }
        i += 1;
    }
    (m, words)
}

/// The integer type of a field in the kernel's record (`__field(u32,
/// ctx)`): the printed value must fit it.
trait Int: TryFrom<i128> + Copy {
    /// The type's name, for errors.
    const NAME: &'static str;
    /// Whether a `-` is part of its printed form (`%d`).
    const SIGNED: bool;
}

impl Int for u32 {
    const NAME: &'static str = "u32";
    const SIGNED: bool = false;
}

impl Int for u64 {
    const NAME: &'static str = "u64";
    const SIGNED: bool = false;
}

impl Int for i32 {
    const NAME: &'static str = "s32";
    const SIGNED: bool = true;
}

impl TraceLine<'_> {
    /// The line is malformed: `reason`, said of its event.
    fn bad(&self, reason: String) -> ImportError {
        malformed(self.file, self.line, format!("{}: {reason}", self.name))
    }

    /// Field `key`, if the line has it, as a `T`: decimal or `0x`
    /// hexadecimal, a `-` only for a signed type. A value that does not
    /// fit `T` is an error, never wrapped or cut to fit.
    fn opt_int<T: Int>(&self, key: &str) -> Result<Option<T>, ImportError> {
        let Some(v) = self.fields.get(key) else {
            return Ok(None);
        };
        let v = v.trim_end_matches(',');
        let bad = |what: String| self.bad(format!("field `{key}` {what}: `{v}`"));
        let (negative, magnitude) = match v.strip_prefix('-') {
            Some(m) => (true, m),
            None => (false, v),
        };
        let (digits, radix) = match magnitude
            .strip_prefix("0x")
            .or_else(|| magnitude.strip_prefix("0X"))
        {
            Some(h) => (h, 16),
            None => (magnitude, 10),
        };
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return Err(bad("is not a number".into()));
        }
        let out_of_range = || bad(format!("is out of range for {}", T::NAME));
        if negative && !T::SIGNED {
            return Err(out_of_range());
        }
        let n = u128::from_str_radix(digits, radix)
            .ok()
            .and_then(|n| i128::try_from(n).ok())
            .ok_or_else(out_of_range)?;
        let n = if negative { -n } else { n };
        T::try_from(n).map(Some).map_err(|_| out_of_range())
    }

    /// Field `key` as a `T` (see `opt_int`); the line must have it.
    fn int<T: Int>(&self, key: &str) -> Result<T, ImportError> {
        self.opt_int(key)?
            .ok_or_else(|| self.bad(format!("missing field `{key}`")))
    }

    /// Buffer index `key`: one beyond VB2_MAX_FRAME cannot come from a
    /// real trace.
    fn index(&self, key: &str) -> Result<u32, ImportError> {
        let v: u32 = self.int(key)?;
        if v >= crate::exec::MAX_BUFFERS {
            return Err(self.bad(format!("buffer index `{key}={v}` out of range")));
        }
        Ok(v)
    }

    /// The queue of a daedalus (`queue`) or vb2/v4l2 (`type`) event.
    fn queue(&self) -> Result<Queue, ImportError> {
        match self
            .fields
            .get("queue")
            .copied()
            .or_else(|| self.fields.get("type").copied())
        {
            Some("CAPTURE" | "9" | "1" | "VIDEO_CAPTURE_MPLANE" | "VIDEO_CAPTURE") => {
                Ok(Queue::Capture)
            }
            Some("OUTPUT" | "10" | "2" | "VIDEO_OUTPUT_MPLANE" | "VIDEO_OUTPUT") => {
                Ok(Queue::Output)
            }
            other => Err(self.bad(format!("unknown queue `{}`", other.unwrap_or("")))),
        }
    }

    /// The line holds every field its event prints, each a value of its
    /// type, including the fields the import does not replay (the job
    /// core's consequences): a `daedalus_*` line that does not is not one
    /// the module wrote. Fields it does not know (a later module's) are
    /// left alone.
    fn check(&self, printed: &[Printed]) -> Result<(), ImportError> {
        for f in printed {
            match *f {
                Printed::U32(key) => drop(self.int::<u32>(key)?),
                Printed::U64(key) => drop(self.int::<u64>(key)?),
                Printed::S32(key) => drop(self.int::<i32>(key)?),
                Printed::Symbolic(key, names) => {
                    let v = self
                        .fields
                        .get(key)
                        .ok_or_else(|| self.bad(format!("missing field `{key}`")))?;
                    if !names.contains(v) {
                        self.int::<u32>(key).map_err(|_| {
                            self.bad(format!(
                                "field `{key}` is not one of {} (or a number): `{v}`",
                                names.join(", ")
                            ))
                        })?;
                    }
                }
                Printed::Word(words) => {
                    let n = self.words.iter().filter(|w| words.contains(w)).count();
                    if n != 1 {
                        return Err(self.bad(format!("expected one of `{}`", words.join("`, `"))));
                    }
                }
            }
        }
        Ok(())
    }
}

const MAX_INDEX: usize = crate::exec::MAX_BUFFERS as usize;

/// The bytes of an OUTPUT buffer whose size the trace does not show: any
/// non-zero size decodes the same in the replay (the daemon's replies are
/// replayed, not the bitstream).
const IMPLIED_SIZE: u32 = 1024;

/// A field of a `daedalus_*` event as its `TP_printk` prints it
/// (kmod/daedalus_trace.h).
#[derive(Clone, Copy)]
enum Printed {
    /// `key=%u`.
    U32(&'static str),
    /// `key=%llu` or `key=%#llx`.
    U64(&'static str),
    /// `key=%d`.
    S32(&'static str),
    /// `key=%s` of `__print_symbolic`: one of the names, or the number
    /// for a value the list does not name.
    Symbolic(&'static str, &'static [&'static str]),
    /// A word of its own (`on`/`off`), one of these.
    Word(&'static [&'static str]),
}

const QUEUES: &[&str] = &["CAPTURE", "OUTPUT"];
const STATES: &[&str] = &[
    "DEQUEUED",
    "IN_REQUEST",
    "PREPARING",
    "QUEUED",
    "ACTIVE",
    "DONE",
    "ERROR",
];
const FINISHES: &[&str] = &[
    "consumed",
    "invalid",
    "send_failed",
    "abort",
    "cancel",
    "detach",
    "expired",
    "idle",
    "no_src",
];
const REJECTS: &[&str] = &[
    "short",
    "magic",
    "version",
    "type",
    "length",
    "reserved",
    "field",
    "state",
    "unknown_cookie",
    "stale_cookie",
    "wrong_ctx",
    "stale_generation",
    "dup_src_consumed",
    "dup_has_pixels",
    "too_big",
    "no_ctx",
];
/// `enum daedalus_drain_phase` (kmod/daedalus_front.h) by value, as the
/// daedalus_drain tracepoint prints it.
pub(crate) const DRAIN_PHASES: &[&str] = &["start", "flush", "last", "restart", "abandon"];

/// An event the import reads: its name, the fields it prints (each judged
/// before its handler runs), and its handler.
type Kind = (&'static str, &'static [Printed], Handler);

/// Turns one event line into what the import keeps of it.
type Handler = fn(&mut Importer<'_>, &TraceLine<'_>) -> Handled;

/// What a handler made of its line.
type Handled = Result<Counted, ImportError>;

/// Whether a line its handler read is part of a scenario.
enum Counted {
    /// Turned into an event, or checked as a consequence of one.
    Used,
    /// Of a kind or form the replay has no use for.
    Skipped,
}

/// The events the import reads, by name. A `daedalus_*` event prints the
/// fields of its `TP_printk` (kmod/daedalus_trace.h); the vb2 and v4l2
/// events are the kernel's, printed as its version prints them, so
/// nothing of theirs is judged beyond what their handlers read.
fn kind(name: &str) -> Option<&'static Kind> {
    use Printed::{S32, Symbolic, U32, U64, Word};
    const RUN: &[Printed] = &[
        U32("ctx"),
        U64("cookie"),
        S32("src"),
        S32("dst"),
        U64("src_ts"),
    ];
    const CLAIM: &[Printed] = &[
        U32("ctx"),
        U64("cookie"),
        Symbolic("queue", QUEUES),
        U32("index"),
    ];
    const PARK: &[Printed] = &[U32("ctx"), U64("cookie"), U32("dst")];
    const DONE: &[Printed] = &[
        U32("ctx"),
        U64("cookie"),
        Symbolic("queue", QUEUES),
        U32("index"),
        Symbolic("state", STATES),
        U64("ts"),
    ];
    const FINISH: &[Printed] = &[U32("ctx"), U64("cookie"), Symbolic("reason", FINISHES)];
    const MSG: &[Printed] = &[
        U32("type"),
        U64("cookie"),
        U32("ctx"),
        U32("flags"),
        U32("len"),
    ];
    const REJECT: &[Printed] = &[Symbolic("reason", REJECTS), U32("type"), U64("cookie")];
    const STREAM: &[Printed] = &[U32("ctx"), Symbolic("queue", QUEUES), Word(&["on", "off"])];
    const INFO: &[Printed] = &[
        U32("ctx"),
        U32("width"),
        U32("height"),
        U32("dpb"),
        Word(&["change", "confirmed"]),
    ];
    const DRAIN: &[Printed] = &[U32("ctx"), Symbolic("phase", DRAIN_PHASES)];
    const DAEMON: &[Printed] = &[Word(&["attach", "detach"]), S32("pid"), U32("version")];
    static KINDS: &[Kind] = &[
        ("daedalus_device_run", RUN, device_run),
        ("daedalus_claim", CLAIM, consequence),
        ("daedalus_park", PARK, consequence),
        ("daedalus_buf_done", DONE, consequence),
        ("daedalus_job_finish", FINISH, job_finish),
        ("daedalus_msg_in", MSG, msg_in),
        ("daedalus_msg_out", MSG, msg_out),
        ("daedalus_reject", REJECT, consequence),
        ("daedalus_stream", STREAM, stream),
        ("daedalus_stream_info", INFO, stream_info),
        ("daedalus_drain", DRAIN, drain),
        ("daedalus_daemon", DAEMON, daemon),
        ("vb2_v4l2_qbuf", &[], |im, t| vb2_buffer(im, t, true)),
        ("vb2_qbuf", &[], |im, t| vb2_buffer(im, t, true)),
        ("vb2_v4l2_dqbuf", &[], |im, t| vb2_buffer(im, t, false)),
        ("vb2_dqbuf", &[], |im, t| vb2_buffer(im, t, false)),
        ("v4l2_qbuf", &[], |im, t| v4l2_buffer(im, t, true)),
        ("v4l2_dqbuf", &[], |im, t| v4l2_buffer(im, t, false)),
    ];
    KINDS.iter().find(|(n, ..)| *n == name)
}

/// The events the import reads (the others it counts and skips): every
/// `daedalus_*` one, since an unknown one is an error.
fn is_read(name: &str) -> bool {
    name.starts_with("daedalus_") || kind(name).is_some()
}

/// The time a `tick` lets pass where the recording shows the watchdog
/// ending a job (`job_finish reason=expired`): the replay's whole watchdog
/// budget. Replayed time passes only on `tick`, and only the running job
/// can expire; that job started after the previous expiry, so this budget
/// ends exactly it, as the recording's watchdog did.
fn watchdog_tick_ms() -> u32 {
    u32::try_from(
        crate::exec::Options::default()
            .timeout_ns
            .div_ceil(1_000_000),
    )
    .unwrap_or(u32::MAX)
}

/// A client queue operation from a vb2 event (or a v4l2 one standing in),
/// before its owner is known as a context.
enum Vb2Op {
    /// QBUF of (queue, index, timestamp, bytes used).
    Qbuf(Queue, u32, u64, u32),
    /// DQBUF that returned (queue, index).
    Dqbuf(Queue, u32),
}

/// `e` with its context (if it names one) numbered `to`.
fn numbered(mut e: Event, to: u32) -> Event {
    match &mut e {
        Event::Open { ctx, .. }
        | Event::Close { ctx }
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
        | Event::Ctrls { ctx, .. }
        | Event::ResetDone { ctx, .. } => *ctx = to,
        Event::Limits { .. }
        | Event::DaemonAttach { .. }
        | Event::DaemonDetach
        | Event::DaemonStop
        | Event::DaemonCont
        | Event::Tick { .. }
        | Event::ReqAlloc { .. }
        | Event::ReqQueue { .. }
        | Event::ReqReinit { .. }
        | Event::ReqClose { .. } => {}
    }
    e
}

/// What the import gathers of one context, before assembly.
#[derive(Default)]
struct CtxBuild {
    /// Its client calls and daemon replies, by trace line.
    events: Vec<(usize, Event)>,
    /// The cookie of each job it ran, in order (a reply names its job
    /// by this order).
    jobs: Vec<u64>,
    /// Per queue, one past the highest buffer index seen: its REQBUFS.
    max_index: [u32; 2],
    /// (line, queue, index, ts, size) of buffers device_run claimed.
    implied: Vec<(usize, Queue, u32, u64, u32)>,
    /// The buffer index of each DQBUF, by trace line.
    dq_index: HashMap<usize, u32>,
    /// A context of the stateless node (its REQ_SESSION_OPEN named
    /// DAEDALUS_CODEC_H264_SLICE).
    stateless: bool,
}

impl CtxBuild {
    fn qi(q: Queue) -> usize {
        match q {
            Queue::Output => 0,
            Queue::Capture => 1,
        }
    }

    fn see(&mut self, q: Queue, index: u32) {
        let i = Self::qi(q);
        self.max_index[i] = self.max_index[i].max(index + 1);
    }

    /// A device_run claimed this buffer: the client must have queued it.
    fn implied(&mut self, line: usize, q: Queue, index: u32, ts: u64, size: u32) {
        self.see(q, index);
        self.implied.push((line, q, index, ts, size));
    }
}

/// Which context a vb2 QBUF or DQBUF belongs to. The vb2 events name only
/// their queue's `owner`: the file handle that last did REQBUFS on it (a
/// hashed pointer), or 0 once REQBUFS(0) freed its buffers or when they
/// came from CREATE_BUFS alone. One value can stand for several contexts:
/// owner 0 for all of them, and a file handle freed by a close() is memory
/// the next open() may get. v4l2-compliance opens its streaming tests'
/// contexts one after another, and their owner-0 events are each its own.
///
/// The rule, applied to the vb2 events in trace order:
///
/// 1. An owner stays bound to the context it was last given until that
///    context closes (its `REQ_SESSION_CLOSE`, sent from the client's
///    close()); until then its events are that context's, whatever task
///    traced them (GStreamer queues CAPTURE in a thread that may never
///    stream or send a decoder command).
/// 2. An owner not bound, or whose context has closed, is bound anew to
///    the context the event's task is a client of at that point: the one
///    context the task has already shown itself a client of (below) that
///    has not closed; or, when there is none, the first context the task
///    shows itself a client of later (a client queues its OUTPUT buffers
///    before the STREAMON that opens the session).
/// 3. When rule 2 names no context (the task shows itself a client of
///    none, or of two open at once, or the line has no pid), the n-th
///    owner to appear goes to the n-th context that ran a job.
///
/// A task shows itself a client of a context only by what the kernel
/// does in the caller's task: `daedalus_stream` (STREAMON/STREAMOFF, or
/// close()), `daedalus_drain` `start`/`restart` (the decoder commands),
/// `daedalus_msg_out` REQ_SESSION_OPEN (from STREAMON). A `device_run`,
/// its claims and messages, and the `flush`/`last` drain phases run in
/// whichever task scheduled the job: often another client's, queueing a
/// buffer of its own context.
///
/// A context whose session was never open (or the daemon gone) sends no
/// REQ_SESSION_CLOSE: its owner stays bound to it.
#[derive(Default)]
struct Attribution {
    /// Per context: the first line of each task's client events.
    clients: BTreeMap<u32, BTreeMap<u32, usize>>,
    /// Per context: the line of its REQ_SESSION_CLOSE.
    closed: HashMap<u32, usize>,
    /// Each owner's context.
    bound: HashMap<String, u32>,
}

impl Attribution {
    /// `t` (an event of context `ctx`) ran in a client task of `ctx`.
    fn client(&mut self, ctx: u32, t: &TraceLine<'_>) {
        if let Some(pid) = t.pid {
            self.clients
                .entry(ctx)
                .or_default()
                .entry(pid)
                .or_insert(t.line);
        }
    }

    /// `ctx` closed at `line`.
    fn close(&mut self, ctx: u32, line: usize) {
        self.closed.entry(ctx).or_insert(line);
    }

    fn open_at(&self, ctx: u32, line: usize) -> bool {
        self.closed.get(&ctx).is_none_or(|&end| line < end)
    }

    /// Rule 2: the context task `pid` is a client of at `line`, if one
    /// context.
    fn by_task(&self, pid: u32, line: usize) -> Option<u32> {
        let mine = || {
            self.clients
                .iter()
                .filter_map(move |(&ctx, tasks)| tasks.get(&pid).map(|&first| (ctx, first)))
        };
        let mut now = mine().filter(|&(ctx, first)| first <= line && self.open_at(ctx, line));
        match (now.next(), now.next()) {
            (Some((ctx, _)), None) => return Some(ctx),
            (Some(_), Some(_)) => return None,
            _ => {}
        }
        let mut next: Vec<(usize, u32)> = mine()
            .filter(|&(_, first)| first > line)
            .map(|(ctx, first)| (first, ctx))
            .collect();
        next.sort_unstable();
        next.first().map(|&(_, ctx)| ctx)
    }

    /// The context of a vb2 event of `owner` at `line` traced in task
    /// `pid`; `by_order` is rule 3.
    fn context(
        &mut self,
        owner: &str,
        pid: Option<u32>,
        line: usize,
        by_order: impl FnOnce() -> Option<u32>,
    ) -> Option<u32> {
        if let Some(&ctx) = self.bound.get(owner)
            && self.open_at(ctx, line)
        {
            return Some(ctx);
        }
        let ctx = pid
            .and_then(|pid| self.by_task(pid, line))
            .or_else(by_order)?;
        self.bound.insert(owner.to_owned(), ctx);
        Some(ctx)
    }
}

/// A last line taken as cut short.
struct Cut {
    /// Its 1-based number.
    line: usize,
    /// Why.
    reason: String,
    /// Whether it reads as a trace event.
    event: bool,
}

/// The last line, when it is taken as cut short. tracefs and trace-cmd end every line with a newline; a
/// last line without one was cut while it was written or copied, and a
/// number at its end may have lost digits (`src_ts=40000000` cut to
/// `src_ts=4000` reads as a whole line). So such a line is refused when
/// it is an event the import reads, or not a whole trace line at all; a
/// blank line, a comment or an event the import skips anyway is not.
fn cut_last_line(text: &str) -> Option<Cut> {
    let start = text.rfind('\n').map_or(0, |i| i + 1);
    let last = &text[start..];
    let t = last.trim();
    if t.is_empty() || t.starts_with('#') {
        return None;
    }
    let line = text[..start].matches('\n').count() + 1;
    let event = split_line(last).is_some();
    let reason = match split_line(last) {
        Some((name, ..)) if !is_read(name) => return None,
        Some((name, ..)) => format!(
            "{name}: the last line has no newline at its end, so it may be cut short \
             (a trace ends every line with one)"
        ),
        None => "the last line has no newline at its end and is not a whole trace line: \
                 the trace is cut short"
            .to_owned(),
    };
    Some(Cut {
        line,
        reason,
        event,
    })
}

/// Imports trace text; `file` names it in errors.
pub fn import_text(file: &Path, text: &str) -> Result<Imported, ImportError> {
    let lines = tokenize(file, text)?;
    let mut import = Importer {
        lines: &lines,
        ..Importer::default()
    };
    import.read()?;
    import.attribute();
    import.assemble(file)
}

/// The event lines of `text`, split. A step back in time, text with no
/// event, and a last line cut short are errors, found before any line is
/// read as its event: they decide whether the text can be imported at all.
fn tokenize<'t>(file: &'t Path, text: &'t str) -> Result<Vec<TraceLine<'t>>, ImportError> {
    // A UTF-8 byte order mark (an editor's) is not part of the first line.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let cut = cut_last_line(text);
    let mut lines = Vec::new();
    let mut last_ts: Option<(u128, usize)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if cut.as_ref().is_some_and(|c| c.line == line) {
            continue;
        }
        let Some((name, body, ts, pid)) = split_line(raw) else {
            continue;
        };
        // tracefs and trace-cmd report print events in time order: a
        // step back means lines were reordered or traces mixed, and
        // what the client did can no longer be told from it.
        if let Some(ts) = ts {
            if let Some((prev, prev_line)) = last_ts
                && ts < prev
            {
                return Err(malformed(
                    file,
                    line,
                    format!(
                        "time goes backwards ({} s after {} s at line {prev_line}): reordered lines or mixed traces",
                        fmt_secs(ts),
                        fmt_secs(prev)
                    ),
                ));
            }
            last_ts = Some((ts, line));
        }
        let (fields, words) = fields(body);
        lines.push(TraceLine {
            file,
            line,
            pid,
            name,
            fields,
            words,
        });
    }
    // Text with no event at all is not a trace, cut or not.
    if lines.is_empty() && !cut.as_ref().is_some_and(|c| c.event) {
        return Err(ImportError::Empty {
            file: file.to_owned(),
        });
    }
    match cut {
        Some(c) => Err(malformed(file, c.line, c.reason)),
        None => Ok(lines),
    }
}

/// What the handlers gather from a trace's lines, for attribution and
/// assembly.
#[derive(Default)]
struct Importer<'a> {
    /// The trace's event lines.
    lines: &'a [TraceLine<'a>],
    /// Lines turned into events.
    used: usize,
    /// Lines skipped.
    skipped: usize,
    /// Each context, by its id in the trace.
    ctxs: BTreeMap<u32, CtxBuild>,
    /// The daemon's events, part of every context's scenario.
    global: Vec<(usize, Event)>,
    /// The contexts that ran a job, in the order of their first.
    runners: Vec<u32>,
    /// The vb2 queue owners, in the order they first appear.
    owners: Vec<String>,
    /// vb2 QBUFs and DQBUFs as (line, task, owner, operation), for
    /// attribution.
    vb2_ops: Vec<(usize, Option<u32>, String, Vb2Op)>,
    /// v4l2 QBUFs and DQBUFs as (line, operation): the same calls as the
    /// vb2 ones, for a trace without those.
    v4l2_ops: Vec<(usize, Vb2Op)>,
    attribution: Attribution,
}

impl Importer<'_> {
    /// Hands each line, in trace order, to its event's handler, once the
    /// line holds every field the event prints.
    fn read(&mut self) -> Result<(), ImportError> {
        for t in self.lines {
            let Some(&(_, printed, handle)) = kind(t.name) else {
                if t.name.starts_with("daedalus_") {
                    let reason = format!("unknown daedalus event `{}`", t.name);
                    return Err(malformed(t.file, t.line, reason));
                }
                self.skipped += 1;
                continue;
            };
            t.check(printed)?;
            match handle(self, t)? {
                Counted::Used => self.used += 1,
                Counted::Skipped => self.skipped += 1,
            }
        }
        Ok(())
    }

    /// `e`, traced at `line`, is a client call or daemon reply of `ctx`.
    fn push(&mut self, ctx: u32, line: usize, e: Event) {
        self.ctxs.entry(ctx).or_default().events.push((line, e));
    }

    /// The timestamp of the picture of job `cookie`, whose reply is `t`:
    /// in the job's CAPTURE `buf_done` after it, if any.
    fn picture_ts(&self, t: &TraceLine<'_>, cookie: u64) -> Result<u64, ImportError> {
        let later = &self.lines[self.lines.partition_point(|n| n.line <= t.line)..];
        for n in later {
            if n.name == "daedalus_buf_done"
                && n.int::<u64>("cookie")? == cookie
                && n.queue()? == Queue::Capture
            {
                return n.int("ts");
            }
        }
        Ok(0)
    }

    /// Gives each client QBUF and DQBUF to its context: see `Attribution`.
    fn attribute(&mut self) {
        // A recording without vb2 events (`-e daedalus -e v4l2`): the v4l2
        // ones, when a single context ran jobs, so that they can only be its
        // (given no task, Attribution's rule 3 gives them to it). Beside
        // vb2 events they stay counted as used, not replayed twice.
        if self.vb2_ops.is_empty() && !self.v4l2_ops.is_empty() {
            if self.runners.len() == 1 {
                self.owners.push("v4l2".to_owned());
                let ops = self.v4l2_ops.drain(..);
                self.vb2_ops
                    .extend(ops.map(|(line, op)| (line, None, "v4l2".to_owned(), op)));
            } else {
                self.used -= self.v4l2_ops.len();
                self.skipped += self.v4l2_ops.len();
            }
        }
        for (line, pid, owner, op) in std::mem::take(&mut self.vb2_ops) {
            let by_order = || {
                let n = self.owners.iter().position(|o| *o == owner).unwrap_or(0);
                self.runners.get(n).copied()
            };
            let Some(ctx) = self.attribution.context(&owner, pid, line, by_order) else {
                continue;
            };
            let c = self.ctxs.entry(ctx).or_default();
            let ev = match op {
                Vb2Op::Qbuf(queue, index, ts, size) => {
                    c.see(queue, index);
                    Event::Qbuf {
                        ctx,
                        queue,
                        index,
                        ts,
                        size,
                        req: None,
                    }
                }
                Vb2Op::Dqbuf(queue, index) => {
                    c.see(queue, index);
                    c.dq_index.insert(line, index);
                    Event::Dqbuf { ctx, queue }
                }
            };
            c.events.push((line, ev));
        }
    }

    /// One scenario per context; `file` names the trace if there is none.
    fn assemble(self, file: &Path) -> Result<Imported, ImportError> {
        let scenarios: Vec<(u32, Scenario)> = self
            .ctxs
            .into_iter()
            .map(|(ctx, c)| (ctx, c.scenario(ctx, &self.global)))
            .collect();
        if scenarios.is_empty() {
            return Err(ImportError::NoContext {
                file: file.to_owned(),
            });
        }
        Ok(Imported {
            scenarios,
            used: self.used,
            skipped: self.skipped,
        })
    }
}

/// `daedalus_device_run`: the client queued the job's buffers (its QBUFs,
/// when no recorded one shows them), and the context ran a job.
fn device_run(im: &mut Importer<'_>, t: &TraceLine<'_>) -> Handled {
    let ctx: u32 = t.int("ctx")?;
    let cookie: u64 = t.int("cookie")?;
    // `src=-1`: a capture-only job.
    let src = match t.int::<i32>("src")? {
        -1 => None,
        n if n < 0 => return Err(t.bad(format!("buffer index `src={n}` out of range"))),
        _ => Some(t.index("src")?),
    };
    let dst = t.index("dst")?;
    let ts: u64 = t.int("src_ts")?;
    if !im.runners.contains(&ctx) {
        im.runners.push(ctx);
    }
    let c = im.ctxs.entry(ctx).or_default();
    if let Some(src) = src {
        c.implied(t.line, Queue::Output, src, ts, IMPLIED_SIZE);
    }
    c.implied(t.line, Queue::Capture, dst, 0, 0);
    if cookie != 0 {
        c.jobs.push(cookie);
    }
    Ok(Counted::Used)
}

/// `daedalus_msg_in`: a RESP_FRAME is the daemon's `frame`; the module's
/// other inputs are replayed from their own events or follow from
/// replayed causes.
fn msg_in(im: &mut Importer<'_>, t: &TraceLine<'_>) -> Handled {
    if t.int::<u32>("type")? != u32::from(MsgType::RespFrame.raw()) {
        return Ok(Counted::Skipped);
    }
    let ctx: u32 = t.int("ctx")?;
    let cookie: u64 = t.int("cookie")?;
    let flags: u32 = t.int("flags")?;
    let (ts, bytes) = if flags & FRAME_HAS_PIXELS != 0 {
        let ts = im.picture_ts(t, cookie)?;
        // Inline picture bytes: the message less header and body.
        let len = t.opt_int::<u32>("len")?.unwrap_or(0);
        let head = HDR_SIZE + MsgType::RespFrame.body_size();
        (ts, len.saturating_sub(head as u32))
    } else {
        (0, 0)
    };
    let c = im.ctxs.entry(ctx).or_default();
    let job = match c.jobs.iter().position(|&j| j == cookie) {
        Some(i) => JobRef::Nth(i as u32 + 1),
        None => JobRef::Cookie(cookie),
    };
    let frame = Event::Frame {
        ctx,
        job,
        flags,
        ts,
        bytes,
        generation: None,
    };
    c.events.push((t.line, frame));
    Ok(Counted::Used)
}

/// The context of a consequence event; `daedalus_reject` has none, only
/// the cookie.
fn ctx_or_cookie(t: &TraceLine<'_>) -> Result<Option<u32>, ImportError> {
    match t.opt_int::<u32>("ctx")? {
        Some(ctx) => Ok(Some(ctx)),
        None => t.int::<u64>("cookie").map(|_| None),
    }
}

/// The job core's consequences (`claim`, `park`, `buf_done`, `reject`,
/// and most `job_finish` and `msg_out`): checked by replaying, not
/// replayed.
fn consequence(_: &mut Importer<'_>, t: &TraceLine<'_>) -> Handled {
    ctx_or_cookie(t)?;
    Ok(Counted::Used)
}

/// `daedalus_msg_out`: a consequence, but REQ_SESSION_OPEN comes from the
/// client's STREAMON and REQ_SESSION_CLOSE from its close().
fn msg_out(im: &mut Importer<'_>, t: &TraceLine<'_>) -> Handled {
    let ctx = ctx_or_cookie(t)?;
    let ty = u16::try_from(t.int::<u32>("type")?)
        .ok()
        .and_then(MsgType::from_raw);
    match (ty, ctx) {
        (Some(MsgType::ReqSessionOpen), Some(ctx)) => {
            im.attribution.client(ctx, t);
            if t.int::<u32>("flags")? == daedalus_proto::Codec::H264Slice.raw() {
                im.ctxs.entry(ctx).or_default().stateless = true;
            }
        }
        (Some(MsgType::ReqSessionClose), Some(ctx)) => im.attribution.close(ctx, t.line),
        _ => {}
    }
    Ok(Counted::Used)
}

/// `daedalus_job_finish`: a consequence, unless the watchdog ended the
/// job; then what caused it is time passing, the one input of the
/// replay's watchdog.
fn job_finish(im: &mut Importer<'_>, t: &TraceLine<'_>) -> Handled {
    if !matches!(t.fields.get("reason").copied(), Some("expired" | "6")) {
        return consequence(im, t);
    }
    let ctx: u32 = t.int("ctx")?;
    let ms = watchdog_tick_ms();
    im.push(ctx, t.line, Event::Tick { ms });
    Ok(Counted::Used)
}

/// `daedalus_stream`: STREAMON or STREAMOFF, in a client task of the
/// context.
fn stream(im: &mut Importer<'_>, t: &TraceLine<'_>) -> Handled {
    let ctx: u32 = t.int("ctx")?;
    im.attribution.client(ctx, t);
    let queue = t.queue()?;
    let ev = if t.words.contains(&"on") {
        Event::Streamon { ctx, queue }
    } else {
        Event::Streamoff { ctx, queue }
    };
    im.push(ctx, t.line, ev);
    Ok(Counted::Used)
}

/// `daedalus_stream_info`: the daemon's STREAM_INFO as the module took it
/// (the msg_in line does not carry the format).
fn stream_info(im: &mut Importer<'_>, t: &TraceLine<'_>) -> Handled {
    let ctx: u32 = t.int("ctx")?;
    let ev = Event::StreamInfo {
        ctx,
        width: t.int("width")?,
        height: t.int("height")?,
        dpb: t.int("dpb")?,
    };
    im.push(ctx, t.line, ev);
    Ok(Counted::Used)
}

/// `daedalus_drain`: `start` and `restart` are the client's decoder
/// commands; not `flush`/`last`, which the job that got there traces, in
/// any task.
fn drain(im: &mut Importer<'_>, t: &TraceLine<'_>) -> Handled {
    let ctx: u32 = t.int("ctx")?;
    let ev = match t.fields.get("phase").copied().unwrap_or("") {
        "start" | "0" => Event::DecoderStop { ctx },
        "restart" | "3" => Event::DecoderStart { ctx },
        _ => return Ok(Counted::Skipped),
    };
    im.attribution.client(ctx, t);
    im.push(ctx, t.line, ev);
    Ok(Counted::Used)
}

/// `daedalus_daemon`: attach or detach, in every context's scenario.
fn daemon(im: &mut Importer<'_>, t: &TraceLine<'_>) -> Handled {
    let ev = if t.words.contains(&"attach") {
        Event::DaemonAttach { version: 1 }
    } else {
        Event::DaemonDetach
    };
    im.global.push((t.line, ev));
    Ok(Counted::Used)
}

/// The QBUF (`qbuf`) or DQBUF a vb2 or v4l2 buffer event shows.
fn buffer_op(t: &TraceLine<'_>, qbuf: bool) -> Result<Vb2Op, ImportError> {
    let queue = t.queue()?;
    let index = t.index("index")?;
    if !qbuf {
        return Ok(Vb2Op::Dqbuf(queue, index));
    }
    let ts = t.opt_int::<u64>("timestamp")?.unwrap_or(0);
    let size = t.opt_int::<u32>("bytesused")?.unwrap_or(0);
    Ok(Vb2Op::Qbuf(queue, index, ts, size))
}

/// `vb2_qbuf`/`vb2_dqbuf` and their `vb2_v4l2_` forms: a client QBUF or
/// DQBUF of the queue's `owner`, whose context `attribute` tells.
fn vb2_buffer(im: &mut Importer<'_>, t: &TraceLine<'_>, qbuf: bool) -> Handled {
    let owner = t.fields.get("owner").copied().unwrap_or("0").to_owned();
    let op = buffer_op(t, qbuf)?;
    if !im.owners.contains(&owner) {
        im.owners.push(owner.clone());
    }
    im.vb2_ops.push((t.line, t.pid, owner, op));
    Ok(Counted::Used)
}

/// `v4l2_qbuf`/`v4l2_dqbuf`: the V4L2 layer's view of the same calls, with
/// no owner, only the node's minor, so they stand in for the vb2 events
/// only in a trace that has none (see `attribute`).
fn v4l2_buffer(im: &mut Importer<'_>, t: &TraceLine<'_>, qbuf: bool) -> Handled {
    let mut op = buffer_op(t, qbuf)?;
    // A multi-planar buffer's bytesused is in its planes, which the event
    // does not print: the stand-in size of a buffer a device_run implies.
    let mplane = t.fields.get("type").is_some_and(|v| v.ends_with("_MPLANE"));
    if let Vb2Op::Qbuf(Queue::Output, _, _, size @ 0) = &mut op
        && mplane
    {
        *size = IMPLIED_SIZE;
    }
    im.v4l2_ops.push((t.line, op));
    Ok(Counted::Used)
}

impl CtxBuild {
    /// The context's scenario, numbered 1: the daemon attached (when the
    /// trace does not show it), the context opened with buffers for the
    /// highest index seen, and its events in trace order.
    fn scenario(mut self, ctx: u32, global: &[(usize, Event)]) -> Scenario {
        let calls = self.with_implied_qbufs(ctx);
        let mut all: Vec<(usize, Event)> = global.to_vec();
        all.extend(unseen_streamoffs(ctx, calls, &self.dq_index));
        all.sort_by_key(|(l, _)| *l);
        let mut s = vec![Event::Open {
            ctx,
            stateless: self.stateless,
        }];
        for (q, i) in [(Queue::Output, 0), (Queue::Capture, 1)] {
            s.push(Event::Reqbufs {
                ctx,
                queue: q,
                count: self.max_index[i].max(1),
            });
        }
        let has_attach = all
            .iter()
            .any(|(_, e)| matches!(e, Event::DaemonAttach { .. }));
        if !has_attach {
            s.insert(0, Event::DaemonAttach { version: 1 });
        }
        // Streams that the trace never shows starting were on before it.
        let first_on = |q: Queue| {
            all.iter()
                .any(|(_, e)| matches!(e, Event::Streamon { queue, .. } if *queue == q))
        };
        let mut body: Vec<Event> = all.iter().map(|(_, e)| *e).collect();
        let pos = body
            .iter()
            .position(|e| matches!(e, Event::Frame { .. }))
            .unwrap_or(body.len());
        for q in [Queue::Output, Queue::Capture] {
            if !first_on(q) {
                body.insert(pos.min(body.len()), Event::Streamon { ctx, queue: q });
            }
        }
        if self.stateless {
            body = in_requests(body);
        }
        s.extend(body);
        Scenario::from_events(s.into_iter().map(|e| numbered(e, 1)))
    }

    /// The recorded events in trace order, with a QBUF for each claimed
    /// buffer that no recorded QBUF put on the queue: it was queued before
    /// the recording started, so it is queued just before its claim.
    fn with_implied_qbufs(&mut self, ctx: u32) -> Vec<(usize, Event)> {
        let mut events = std::mem::take(&mut self.events);
        events.sort_by_key(|(l, _)| *l);
        let mut evs: Vec<(usize, Event)> = Vec::new();
        let mut implied = self.implied.iter().peekable();
        let mut queued = [vec![false; MAX_INDEX], vec![false; MAX_INDEX]];
        // Claimed before any recorded QBUF: the v4l2 events trace a QBUF
        // when the ioctl returns, which can be after the device_run it
        // caused. That late QBUF is the one already implied.
        let mut implied_early = [vec![false; MAX_INDEX], vec![false; MAX_INDEX]];
        let mut recorded = events.into_iter().peekable();
        loop {
            let take_recorded = match (recorded.peek(), implied.peek()) {
                (Some((l, _)), Some((il, ..))) => l <= il,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if take_recorded {
                let (l, e) = recorded.next().unwrap_or_else(|| unreachable!());
                match e {
                    Event::Qbuf { queue, index, .. } => {
                        let (q, i) = (Self::qi(queue), index as usize);
                        if std::mem::take(&mut implied_early[q][i]) {
                            continue;
                        }
                        queued[q][i] = true;
                    }
                    Event::Dqbuf { queue, .. } => {
                        if let Some(&i) = self.dq_index.get(&l) {
                            implied_early[Self::qi(queue)][i as usize] = false;
                        }
                    }
                    Event::Streamoff { queue, .. } => {
                        implied_early[Self::qi(queue)].fill(false);
                    }
                    _ => {}
                }
                evs.push((l, e));
            } else {
                let &(l, q, index, ts, size) = implied.next().unwrap_or_else(|| unreachable!());
                let slot = &mut queued[Self::qi(q)][index as usize];
                if !*slot {
                    implied_early[Self::qi(q)][index as usize] = true;
                    evs.push((
                        l,
                        Event::Qbuf {
                            ctx,
                            queue: q,
                            index,
                            ts,
                            size,
                            req: None,
                        },
                    ));
                }
                *slot = false;
            }
        }
        evs
    }
}

/// A stateless context's OUTPUT QBUFs as its client made them: each
/// buffer in a request of its own (named after the buffer, allocated
/// once and reinitialised for each reuse), the picture's controls set in
/// it, the request queued. vb2 traces such a QBUF when the request is
/// queued (vb2_req_queue()), which is where the four calls go.
fn in_requests(body: Vec<Event>) -> Vec<Event> {
    let mut allocated = [false; MAX_INDEX];
    let mut out = Vec::with_capacity(body.len());
    for e in body {
        let Event::Qbuf {
            ctx,
            queue: Queue::Output,
            index,
            ts,
            size,
            req: None,
        } = e
        else {
            out.push(e);
            continue;
        };
        let req = index + 1;
        let seen = allocated
            .get_mut(index as usize)
            .map(|a| std::mem::replace(a, true))
            .unwrap_or(false);
        out.push(if seen {
            Event::ReqReinit { req }
        } else {
            Event::ReqAlloc { req }
        });
        out.push(Event::Ctrls { ctx, req });
        out.push(Event::Qbuf {
            ctx,
            queue: Queue::Output,
            index,
            ts,
            size,
            req: Some(req),
        });
        out.push(Event::ReqQueue { req });
    }
    out
}

/// A QBUF that succeeded although the buffer was still queued (no DQBUF,
/// no STREAMOFF since its last QBUF) proves that something the trace does
/// not show gave it back: VIDIOC_STREAMOFF on a queue that was not
/// streaming (vb2 returns its queued buffers without calling the driver,
/// so no `daedalus_stream` event), or REQBUFS. Both return every queued
/// buffer of the queue, which a `streamoff` replays: v4l2-compliance's
/// buffer tests do exactly that before they stream.
fn unseen_streamoffs(
    ctx: u32,
    evs: Vec<(usize, Event)>,
    dq_index: &HashMap<usize, u32>,
) -> Vec<(usize, Event)> {
    let mut queued = [vec![false; MAX_INDEX], vec![false; MAX_INDEX]];
    let mut streaming = [false; 2];
    let mut out = Vec::with_capacity(evs.len());
    for (line, e) in evs {
        match e {
            Event::Qbuf { queue, index, .. } => {
                let q = CtxBuild::qi(queue);
                if queued[q][index as usize] && !streaming[q] {
                    out.push((line, Event::Streamoff { ctx, queue }));
                    queued[q].iter_mut().for_each(|b| *b = false);
                }
                queued[q][index as usize] = true;
            }
            Event::Dqbuf { queue, .. } => {
                if let Some(&i) = dq_index.get(&line) {
                    queued[CtxBuild::qi(queue)][i as usize] = false;
                }
            }
            Event::Streamon { queue, .. } => streaming[CtxBuild::qi(queue)] = true,
            Event::Streamoff { queue, .. } => {
                let q = CtxBuild::qi(queue);
                streaming[q] = false;
                queued[q].iter_mut().for_each(|b| *b = false);
            }
            _ => {}
        }
        out.push((line, e));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::split_line;

    #[test]
    fn the_task_pid_is_read_from_every_line_form() {
        let pid = |line: &str| split_line(line).and_then(|(.., pid)| pid);
        // tracefs; trace-cmd report; a comm with `-` or a space; the tgid
        // column (options/record-tgid), known or not; a comm not recorded.
        for (line, want) in [
            (
                " v4l2-compliance-89      [000] .l...   109.921814: daedalus_stream: ctx=110 queue=OUTPUT on",
                Some(89),
            ),
            (
                "ffmpeg-367  [000]   527.342785: daedalus_stream: ctx=143 queue=OUTPUT on",
                Some(367),
            ),
            (
                "   gst-launch-1.0-212     [000] .....   84.1: daedalus_stream: ctx=130 queue=CAPTURE off",
                Some(212),
            ),
            (
                "   V4L2 dec-4242     [001] .....   84.1: daedalus_stream: ctx=130 queue=CAPTURE off",
                Some(4242),
            ),
            (
                "   ffmpeg-367  (    367) [000] .....   84.1: daedalus_stream: ctx=130 queue=CAPTURE off",
                Some(367),
            ),
            (
                "   ffmpeg-367  (-------) [000] .....   84.1: daedalus_stream: ctx=130 queue=CAPTURE off",
                Some(367),
            ),
            (
                "   <...>-4243     [000] .....   84.1: daedalus_stream: ctx=130 queue=CAPTURE off",
                Some(4243),
            ),
        ] {
            assert_eq!(pid(line), want, "{line}");
        }
    }
}
