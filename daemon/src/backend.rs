//! The decoder backend interface: a `Backend` opens one `Session` per kernel
//! context; a session takes jobs and reports every result as a
//! `SessionEvent` on its queue, drained by the event loop after each call.
//!
//! Modelled on crosvm's virtio-video `DecoderBackend`/`DecoderSession`: the
//! methods never answer directly, and each one says who owns which buffer
//! afterwards and which events follow.

use daedalus_proto::{Codec, H264Slice, Pixfmt, SessionErrorCode};

use crate::mapping::Mapping;

/// The largest coded size a backend announces by default: H.264 level
/// 6.2's 8192x4320 rounded to macroblocks, whose picture fits one
/// RESP_FRAME (as RESP_HELLO must).
pub const MAX_SIZE: (u32, u32) = (8192, 4352);

/// What the backend can do, announced in RESP_HELLO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Mask of `Codec::bit()`.
    pub codecs: u32,
    /// Mask of `Pixfmt::bit()`.
    pub pixfmts: u32,
    pub max_width: u32,
    pub max_height: u32,
}

impl Capabilities {
    pub fn has_codec(&self, codec: Codec) -> bool {
        self.codecs & codec.bit() != 0
    }

    pub fn has_pixfmt(&self, pixfmt: Pixfmt) -> bool {
        self.pixfmts & pixfmt.bit() != 0
    }
}

/// REQ_SESSION_OPEN, typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionParams {
    pub ctx_id: u32,
    pub codec: Codec,
    pub pixfmt: Pixfmt,
    /// The visible size the kernel's CAPTURE format is set up for
    /// (S_FMT(OUTPUT)'s until the stream says otherwise); 0 if unknown. A
    /// first header of another size is a format change.
    pub width: u32,
    pub height: u32,
}

/// The OUTPUT side of a job: bitstream bytes and their timestamp.
#[derive(Debug, Clone, Copy)]
pub struct Src<'a> {
    pub index: u32,
    /// Timestamp in ns, carried to the pictures this source produces.
    pub timestamp: u64,
    pub data: &'a [u8],
    /// A stateless H.264 request's controls (`Codec::H264Slice`).
    pub h264: Option<&'a H264Slice>,
}

/// The CAPTURE side of a job: a buffer to fill with one picture.
#[derive(Debug, PartialEq, Eq)]
pub struct Dst {
    /// The job's cookie: HAS_PIXELS for this buffer names it.
    pub cookie: u64,
    pub index: u32,
    /// Capacity in bytes.
    pub size: u32,
    /// The buffer itself, for a mapped job: the picture is written here,
    /// before the `Frame` that returns the dst is queued; dropping the dst
    /// unmaps it.
    pub map: Option<Mapping>,
}

/// Picture bytes of a `Frame`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameData {
    /// Sent after the RESP_FRAME body: `bytesused` is their length.
    Inline(Vec<u8>),
    /// Already written into the job's mapped dst (now unmapped): only
    /// `bytesused` goes.
    Mapped(u32),
}

impl FrameData {
    pub fn bytesused(&self) -> u32 {
        match self {
            Self::Inline(v) => v.len() as u32,
            Self::Mapped(n) => *n,
        }
    }

    /// The bytes that follow the RESP_FRAME body.
    pub fn into_inline(self) -> Vec<u8> {
        match self {
            Self::Inline(v) => v,
            Self::Mapped(_) => Vec::new(),
        }
    }
}

impl From<Vec<u8>> for FrameData {
    fn from(v: Vec<u8>) -> Self {
        Self::Inline(v)
    }
}

/// A decoded picture not laid out yet: the layout (docs/protocol.md,
/// "Pictures") is written once its dst is known, straight into the dst's
/// mapping for a mapped job, into a new `Vec` for an inline one.
pub trait Picture: std::fmt::Debug {
    /// Bytes of the picture in the layout (NV12 and YUV420 alike).
    fn size(&self) -> usize;

    /// Writes the layout of `pixfmt` (the CAPTURE format's when the
    /// picture goes out), padding included, into `out` (`size()` bytes).
    fn write_to(&self, out: &mut [u8], pixfmt: Pixfmt);

    /// The layout as bytes of its own.
    fn into_vec(self: Box<Self>, pixfmt: Pixfmt) -> Vec<u8> {
        let mut v = crate::layout::picture_buf(self.size());
        self.write_to(&mut v, pixfmt);
        v
    }
}

/// `picture` laid out in `pixfmt` for `dst`, which holds at least
/// `picture.size()` bytes: written straight into a mapped dst, whose reply
/// then carries only the length, else into bytes of its own.
pub fn lay_out(picture: Box<dyn Picture>, dst: &mut Dst, pixfmt: Pixfmt) -> FrameData {
    let size = picture.size();
    match dst.map.as_mut().and_then(|m| m.bytes_mut()) {
        Some(out) => {
            picture.write_to(&mut out[..size], pixfmt);
            FrameData::Mapped(size as u32)
        }
        None => FrameData::Inline(picture.into_vec(pixfmt)),
    }
}

/// Bytes already in the layout (scripted pictures, tests).
impl Picture for Vec<u8> {
    fn size(&self) -> usize {
        self.len()
    }

    fn write_to(&self, out: &mut [u8], _pixfmt: Pixfmt) {
        out.copy_from_slice(self);
    }

    fn into_vec(self: Box<Self>, _pixfmt: Pixfmt) -> Vec<u8> {
        *self
    }
}

/// One REQ_DECODE.
#[derive(Debug)]
pub struct Job<'a> {
    pub cookie: u64,
    /// `None` for a capture-only (F_NO_SRC) job.
    pub src: Option<Src<'a>>,
    pub dst: Dst,
}

/// The stream's format, as RESP_STREAM_INFO reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamFormat {
    pub coded_width: u32,
    pub coded_height: u32,
    pub visible_width: u32,
    pub visible_height: u32,
    pub pixfmt: Pixfmt,
    pub dpb_size: u32,
}

/// A result of a session, in the order it must reach the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// RESP_FRAME for job `cookie`: `flags` are `FRAME_*`; `data` is the
    /// picture with HAS_PIXELS (possibly empty), empty otherwise;
    /// `timestamp` the producing source's, with HAS_PIXELS.
    Frame {
        cookie: u64,
        flags: u32,
        timestamp: u64,
        data: FrameData,
    },
    /// RESP_STREAM_INFO; `cookie` is the job that revealed it, or 0.
    StreamInfo { cookie: u64, format: StreamFormat },
    /// RESP_SESSION_ERROR: the session is unusable.
    Failed(SessionErrorCode),
}

/// A decoder implementation.
pub trait Backend {
    /// Short name for logs.
    fn name(&self) -> &'static str;

    fn capabilities(&self) -> Capabilities;

    /// Creates the session of a context. On error the daemon answers
    /// RESP_SESSION_ERROR with the code and keeps no state for the context.
    fn open_session(
        &mut self,
        params: &SessionParams,
    ) -> Result<Box<dyn Session>, SessionErrorCode>;
}

/// One context's decoder.
pub trait Session {
    /// Takes a job. The session reads `job.src` during the call (the daemon
    /// keeps no reference afterwards: a mapped src is unmapped when the
    /// call returns) and owes exactly one `Frame` with SRC_CONSUMED for it,
    /// now or later. `job.dst` is parked in the session until a `Frame`
    /// with HAS_PIXELS names `job.cookie`: that event, and nothing else,
    /// gives the buffer back to the kernel. A mapped dst is written and
    /// dropped (unmapped) before that event is queued, or dropped untouched
    /// when the session forgets it.
    fn decode(&mut self, job: Job<'_>);

    /// Drain: every picture still inside the decoder goes out into parked
    /// dsts, then one more dst goes out with HAS_PIXELS | LAST, empty. The
    /// session waits for more jobs' dsts if it runs out.
    fn flush(&mut self);

    /// REQ_CAPTURE_OFF: the kernel has taken back the dst of every job
    /// received so far (and ended the running one); no event follows for
    /// any of them. The decoder keeps its state, and the pictures it still
    /// holds go to the dsts of later jobs.
    fn capture_off(&mut self);

    /// REQ_CAPTURE_FMT: CAPTURE streams on with `pixfmt` (one the backend
    /// announced): every picture that goes out from now on, those already
    /// decoded included, is laid out in it, and STREAM_INFO names it.
    fn capture_format(&mut self, pixfmt: Pixfmt);

    /// Drops all decoder state, every parked dst and every pending event:
    /// the kernel has already taken those buffers back. No event follows
    /// for any job received before the reset.
    fn reset(&mut self);

    /// The next result, if any.
    fn next_event(&mut self) -> Option<SessionEvent>;

    /// Whether work is left that no request waits for: the rest of a
    /// consumed source (a source may hold many pictures), or a drain
    /// behind it. The daemon calls `step` while no request is waiting.
    fn busy(&self) -> bool {
        false
    }

    /// Does one piece of that work (one access unit), queueing its
    /// events; returns whether more is left. Every other method first
    /// finishes whatever its request must follow.
    fn step(&mut self) -> bool {
        false
    }
}
