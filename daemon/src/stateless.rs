//! Stateless H.264 decoding on libavcodec: one request's controls and
//! slices in, that request's own picture out, in decode order, as the
//! stateless decoder interface has it
//! (Documentation/userspace-api/media/v4l/dev-stateless-decoder.rst).
//!
//! libavcodec's H.264 decoder returns pictures in display order, after
//! a reorder delay, and drops a picture it finds out of order when told
//! there is none. So the picture of a request is not taken from its
//! output: the decoder runs on one thread, each buffer it allocates for a
//! picture (`get_buffer2`) is also referenced here, with the timestamp of
//! the packet it is for, and once `avcodec_send_packet()` has decoded the
//! request's slices (on one thread it returns with the picture complete,
//! deblocked) that buffer is the request's picture. What the decoder
//! outputs later is dropped. The references the slices name are the
//! decoder's own pictures, which match the client's as long as the client
//! decodes the stream in order.
//!
//! The parameter sets come from the controls ([`crate::h264_params`]),
//! written ahead of the slices whenever they differ from the last ones.
//!
//! Field pictures (a request per field) are not supported: libavcodec
//! decodes a second field into its first field's buffer without
//! allocating one, so its request gets [`StatelessError::NoPicture`].

use std::collections::VecDeque;
use std::mem::ManuallyDrop;
use std::os::raw::c_int;
use std::ptr::NonNull;

use ff::ffi;
use ffmpeg_next as ff;

use daedalus_proto::{
    FRAME_ERROR, FRAME_HAS_PIXELS, FRAME_SRC_CONSUMED, H264_F_SCALING_MATRIX, H264Slice, Pixfmt,
    SessionErrorCode,
};

use crate::backend::{FrameData, Job, Picture, Session, SessionEvent, SessionParams, lay_out};
use crate::ffmpeg::FramePicture;
use crate::h264_params::{
    ParamError, Pps, PpsControl, ScalingMatrix, Sps, SpsControl, Visible, decode_flags, dpb_flags,
    nal_units,
};

/// One decode request: the controls in effect and the OUTPUT buffer.
pub struct Request<'a> {
    pub sps: &'a Sps,
    pub pps: &'a Pps,
    /// `V4L2_CID_STATELESS_H264_SCALING_MATRIX`, when the client set it.
    pub matrix: Option<&'a ScalingMatrix>,
    /// The CAPTURE format's visible size.
    pub visible: Visible,
    /// The slices of one picture, Annex B (DECODE_MODE frame-based,
    /// START_CODE Annex B).
    pub slices: &'a [u8],
    /// The OUTPUT buffer's timestamp, which names the picture as a
    /// reference for later requests.
    pub timestamp: u64,
}

/// Why a request gave no picture.
#[derive(Debug, thiserror::Error)]
pub enum StatelessError {
    /// The controls cannot be written as parameter sets.
    #[error("controls: {0}")]
    Params(#[from] ParamError),
    /// libavcodec refused the data.
    #[error("decoder: {0}")]
    Decoder(String),
    /// The slices decoded to no picture (no slice of a picture in them).
    #[error("no picture in the request's slices")]
    NoPicture,
}

/// Pictures the decoder allocated during one `avcodec_send_packet()`,
/// each a reference of its own to the decoder's buffers.
#[derive(Default)]
struct Allocated {
    frames: Vec<ff::frame::Video>,
}

/// `AVCodecContext.get_buffer2`: the default allocator, and a reference
/// to what it allocated kept in the context's `opaque` (`Allocated`).
unsafe extern "C" fn get_buffer2(
    ctx: *mut ffi::AVCodecContext,
    frame: *mut ffi::AVFrame,
    flags: c_int,
) -> c_int {
    // SAFETY: libavcodec calls this with its live context and frame.
    let r = unsafe { ffi::avcodec_default_get_buffer2(ctx, frame, flags) };
    if r < 0 {
        return r;
    }
    // SAFETY: opaque is the `Allocated` of the StatelessH264 that owns
    // this context, alive as long as the context; during the decoder's
    // calls nothing else reaches it.
    let allocated = unsafe { &mut *((*ctx).opaque as *mut Allocated) };
    let mut copy = ff::frame::Video::empty();
    // SAFETY: both frames are valid; av_frame_ref takes new references to
    // the buffers just allocated.
    let r = unsafe { ffi::av_frame_ref(copy.as_mut_ptr(), frame) };
    if r < 0 {
        // SAFETY: the buffers the default allocator attached go back.
        unsafe { ffi::av_frame_unref(frame) };
        return r;
    }
    allocated.frames.push(copy);
    0
}

/// Whether Annex B `data` holds a slice NAL unit (nal_unit_type 1 to 5).
fn has_slice(data: &[u8]) -> bool {
    nal_units(data).any(|n| (1..=5).contains(&(n[0] & 0x1f)))
}

/// A stateless H.264 session's decoder.
pub struct StatelessH264 {
    /// Closed in `drop`, before `allocated` is freed.
    decoder: ManuallyDrop<ff::decoder::Video>,
    /// The decoder's `opaque`: owned here (from `Box::into_raw`) and only
    /// ever reached through this pointer, by `get_buffer2` during
    /// `avcodec_send_packet()` and by `decode` around it.
    allocated: NonNull<Allocated>,
    /// The parameter sets written for the last request.
    params: Vec<u8>,
    scratch: Vec<u8>,
    output: ff::frame::Video,
}

impl StatelessH264 {
    pub fn new() -> Result<Self, StatelessError> {
        let codec = ff::decoder::find(ff::codec::Id::H264)
            .ok_or_else(|| StatelessError::Decoder("no H.264 decoder".into()))?;
        let allocated = NonNull::from(Box::leak(Box::<Allocated>::default()));
        let mut ctx = ff::codec::Context::new_with_codec(codec);
        // One thread: avcodec_send_packet() returns with the picture
        // decoded.
        ctx.set_threading(ff::threading::Config {
            kind: ff::threading::Type::None,
            count: 1,
            ..Default::default()
        });
        // SAFETY: the context is not open yet; `allocated` lives until
        // `drop` has closed the decoder (or until the error below).
        unsafe {
            let c = ctx.as_mut_ptr();
            (*c).get_buffer2 = Some(get_buffer2);
            (*c).opaque = allocated.as_ptr().cast();
        }
        let decoder = match ctx.decoder().open_as(codec).and_then(|o| o.video()) {
            Ok(d) => d,
            Err(e) => {
                // SAFETY: the context that pointed at it is gone.
                drop(unsafe { Box::from_raw(allocated.as_ptr()) });
                return Err(StatelessError::Decoder(e.to_string()));
            }
        };
        Ok(Self {
            decoder: ManuallyDrop::new(decoder),
            allocated,
            params: Vec::new(),
            scratch: Vec::new(),
            output: ff::frame::Video::empty(),
        })
    }

    /// Decodes one request and returns its picture (coded size, the
    /// visible part at the top left).
    pub fn decode(&mut self, req: &Request<'_>) -> Result<impl Picture + use<>, StatelessError> {
        if !has_slice(req.slices) {
            return Err(StatelessError::NoPicture);
        }
        let mut params = req.sps.to_nal(req.visible, Some(0))?;
        params.extend(req.pps.to_nal(req.sps, req.matrix)?);
        let (cw, ch) = req.sps.coded_size();
        self.scratch.clear();
        if params != self.params {
            self.scratch.extend_from_slice(&params);
            self.params = params;
        }
        self.scratch.extend_from_slice(req.slices);
        let mut packet = ff::Packet::copy(&self.scratch);
        let pts = i64::try_from(req.timestamp).unwrap_or(i64::MAX);
        packet.set_pts(Some(pts));
        // SAFETY: no call into the decoder is running: nothing else
        // reaches `allocated` now.
        unsafe { self.allocated.as_mut() }.frames.clear();
        let sent = self.decoder.send_packet(&packet);
        // What the decoder outputs, in its own order, is not the
        // requests' pictures: let it go.
        while self.decoder.receive_frame(&mut self.output).is_ok() {}
        sent.map_err(|e| StatelessError::Decoder(e.to_string()))?;
        // The last picture allocated for this packet is its own; any
        // before it stand in for frames a gap in frame_num left out.
        // SAFETY: as above, the decoder returned.
        let frames = &mut unsafe { self.allocated.as_mut() }.frames;
        let frame = frames.drain(..).rev().find(|f| f.pts() == Some(pts));
        Ok(FramePicture::new(
            frame.ok_or(StatelessError::NoPicture)?,
            (cw, ch),
        ))
    }
}

impl Drop for StatelessH264 {
    fn drop(&mut self) {
        // SAFETY: dropped once, here; the decoder (whose context points at
        // `allocated`) is closed before `allocated` is freed.
        unsafe {
            ManuallyDrop::drop(&mut self.decoder);
            drop(Box::from_raw(self.allocated.as_ptr()));
        }
    }
}

/// How many decoded pictures' timestamps a session remembers since the
/// last IDR picture: far more than a DPB holds (16 frames).
const REMEMBERED: usize = 256;

/// A stateless H.264 context (`Codec::H264Slice`): each job is one
/// request, answered at once with SRC_CONSUMED | HAS_PIXELS into the
/// job's own dst, stamped with the job's own timestamp; nothing is ever
/// parked. A request whose controls or slices give no picture gets its
/// dst back empty with ERROR; one whose DPB names a picture this session
/// has not decoded since the last IDR (a client that skipped it) gets
/// its picture with ERROR, as it was decoded against whatever the
/// decoder held instead.
pub struct StatelessSession {
    ctx_id: u32,
    pixfmt: Pixfmt,
    decoder: StatelessH264,
    /// Timestamps of the pictures decoded since the last IDR picture,
    /// newest last: the references a request may name.
    decoded: VecDeque<u64>,
    events: VecDeque<SessionEvent>,
}

impl StatelessSession {
    pub fn new(params: &SessionParams) -> Result<Self, SessionErrorCode> {
        let decoder = StatelessH264::new().map_err(|e| {
            tracing::error!(ctx = params.ctx_id, %e, "cannot open the stateless decoder");
            SessionErrorCode::Internal
        })?;
        Ok(Self {
            ctx_id: params.ctx_id,
            pixfmt: params.pixfmt,
            decoder,
            decoded: VecDeque::new(),
            events: VecDeque::new(),
        })
    }

    /// The first DPB entry naming a picture this session did not decode.
    fn missing_reference(&self, c: &H264Slice) -> Option<u64> {
        c.decode_params
            .dpb
            .iter()
            .filter(|e| e.flags & dpb_flags::VALID != 0)
            .map(|e| e.reference_ts)
            .find(|ts| !self.decoded.contains(ts))
    }
}

impl Session for StatelessSession {
    fn decode(&mut self, mut job: Job<'_>) {
        let cookie = job.cookie;
        // Both buffers back, the dst empty (the source's too, if any).
        let consumed = if job.src.is_some() {
            FRAME_SRC_CONSUMED
        } else {
            0
        };
        let failed = |events: &mut VecDeque<SessionEvent>, timestamp| {
            events.push_back(SessionEvent::Frame {
                cookie,
                flags: consumed | FRAME_HAS_PIXELS | FRAME_ERROR,
                timestamp,
                data: FrameData::Inline(Vec::new()),
            })
        };
        // The protocol gives every CODEC_H264_SLICE job its OUTPUT buffer
        // and its controls.
        let Some((src, c)) = job.src.and_then(|s| Some((s, s.h264?))) else {
            tracing::warn!(
                ctx = self.ctx_id,
                cookie,
                "stateless job without its request"
            );
            return failed(&mut self.events, 0);
        };
        if c.decode_params.flags & decode_flags::IDR_PIC != 0 {
            self.decoded.clear();
        }
        let missing = self.missing_reference(c);
        let req = Request {
            sps: &c.sps,
            pps: &c.pps,
            matrix: (c.flags & H264_F_SCALING_MATRIX != 0).then_some(&c.scaling_matrix),
            visible: Visible {
                width: c.width,
                height: c.height,
            },
            slices: src.data,
            timestamp: src.timestamp,
        };
        let picture = match self.decoder.decode(&req) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(ctx = self.ctx_id, cookie, %e, "request gave no picture");
                return failed(&mut self.events, src.timestamp);
            }
        };
        if self.decoded.len() == REMEMBERED {
            self.decoded.pop_front();
        }
        self.decoded.push_back(src.timestamp);
        if picture.size() > job.dst.size as usize {
            tracing::warn!(
                ctx = self.ctx_id,
                cookie,
                need = picture.size(),
                size = job.dst.size,
                "CAPTURE buffer too small for the picture"
            );
            return failed(&mut self.events, src.timestamp);
        }
        let mut flags = FRAME_SRC_CONSUMED | FRAME_HAS_PIXELS;
        if let Some(ts) = missing {
            tracing::warn!(
                ctx = self.ctx_id,
                cookie,
                reference = ts,
                "the request names a reference this session never decoded"
            );
            flags |= FRAME_ERROR;
        }
        let data = lay_out(Box::new(picture), &mut job.dst, self.pixfmt);
        // A mapped dst is unmapped before its HAS_PIXELS goes out.
        drop(job.dst);
        self.events.push_back(SessionEvent::Frame {
            cookie,
            flags,
            timestamp: src.timestamp,
            data,
        });
    }

    /// A stateless decoder holds no picture and no dst: a drain has
    /// nothing to send (the module sends none to a stateless context).
    fn flush(&mut self) {}

    /// No dst is ever parked here.
    fn capture_off(&mut self) {}

    fn capture_format(&mut self, pixfmt: Pixfmt) {
        self.pixfmt = pixfmt;
    }

    /// A new decoder: no reference survives a reset.
    fn reset(&mut self) {
        self.decoded.clear();
        self.events.clear();
        match StatelessH264::new() {
            Ok(d) => self.decoder = d,
            Err(e) => {
                tracing::error!(ctx = self.ctx_id, %e, "cannot reopen the stateless decoder");
                self.events
                    .push_back(SessionEvent::Failed(SessionErrorCode::Internal));
            }
        }
    }

    fn next_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }
}
