//! The libavcodec backend: libavcodec's parser cuts the continuous
//! bytestream into access units, the decoder turns them into pictures in
//! display order, and each picture keeps the timestamp of the source chunk
//! its access unit started in (the parser's pts, carried by the decoder as
//! the packet's pts). Pictures are copied into the protocol's layout once
//! a dst takes them: straight into a mapped dst, with no copy in between.

use ff::ffi;
use ffmpeg_next as ff;

use daedalus_proto::{Codec, Pixfmt, SessionErrorCode};

use crate::backend::{
    Backend, Capabilities, Job, Picture, Session, SessionEvent, SessionParams, StreamFormat,
};
use crate::layout;
use crate::park::Parking;
use crate::stateless::StatelessSession;

fn codec_id(codec: Codec) -> ff::codec::Id {
    match codec {
        Codec::H264 | Codec::H264Slice => ff::codec::Id::H264,
        Codec::Hevc => ff::codec::Id::HEVC,
        Codec::Vp8 => ff::codec::Id::VP8,
        Codec::Vp9 => ff::codec::Id::VP9,
    }
}

/// libavcodec, limited to the codecs the caller allows and the library has.
pub struct FfmpegBackend {
    allowed: u32,
    threads: usize,
    max: (u32, u32),
}

impl FfmpegBackend {
    /// `codecs`: the codecs to offer (those libavcodec lacks are dropped);
    /// `threads`: decoder threads, 0 for libavcodec's choice.
    pub fn new(codecs: &[Codec], threads: usize) -> Result<Self, ff::Error> {
        ff::init()?;
        // SAFETY: av_log_set_level only stores the level.
        unsafe { ffi::av_log_set_level(ffi::AV_LOG_FATAL) };
        let allowed = codecs
            .iter()
            .filter(|c| ff::decoder::find(codec_id(**c)).is_some())
            .fold(0, |m, c| m | c.bit());
        Ok(Self {
            allowed,
            threads,
            max: crate::backend::MAX_SIZE,
        })
    }

    /// Announces and decodes coded sizes up to `width` x `height` only: a
    /// stream beyond them ends its session (UNSUPPORTED_FORMAT) at its
    /// first header, as the kernel would refuse its STREAM_INFO.
    pub fn with_max_size(mut self, width: u32, height: u32) -> Self {
        self.max = (width, height);
        self
    }
}

impl Backend for FfmpegBackend {
    fn name(&self) -> &'static str {
        "ffmpeg"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            codecs: self.allowed,
            pixfmts: Pixfmt::Nv12.bit() | Pixfmt::Yuv420.bit(),
            max_width: self.max.0,
            max_height: self.max.1,
        }
    }

    fn open_session(
        &mut self,
        params: &SessionParams,
    ) -> Result<Box<dyn Session>, SessionErrorCode> {
        if self.allowed & params.codec.bit() == 0 {
            return Err(SessionErrorCode::UnsupportedCodec);
        }
        if params.codec == Codec::H264Slice {
            return StatelessSession::new(params).map(|s| Box::new(s) as Box<dyn Session>);
        }
        FfmpegSession::new(params, self.threads, self.max).map(|s| Box::new(s) as Box<dyn Session>)
    }
}

/// An `AVCodecParserContext`, closed on drop.
struct Parser(*mut ffi::AVCodecParserContext);

impl Parser {
    fn new(id: ff::codec::Id) -> Option<Self> {
        let id: ffi::AVCodecID = id.into();
        // SAFETY: av_parser_init takes any codec id and returns NULL if it
        // has no parser.
        let p = unsafe { ffi::av_parser_init(id as i32) };
        (!p.is_null()).then_some(Self(p))
    }
}

impl Drop for Parser {
    fn drop(&mut self) {
        // SAFETY: self.0 came from av_parser_init and is closed once.
        unsafe { ffi::av_parser_close(self.0) };
    }
}

/// A decoded frame, held by reference (no copy) until a dst takes it.
pub(crate) struct FramePicture {
    frame: ff::frame::Video,
    coded: (u32, u32),
}

impl FramePicture {
    /// `frame` (its planes at least `coded` in size) as a picture of
    /// coded size `coded`.
    pub(crate) fn new(frame: ff::frame::Video, coded: (u32, u32)) -> Self {
        Self { frame, coded }
    }
}

impl std::fmt::Debug for FramePicture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FramePicture")
            .field("size", &(self.frame.width(), self.frame.height()))
            .field("coded", &self.coded)
            .finish()
    }
}

impl Picture for FramePicture {
    fn size(&self) -> usize {
        layout::picture_size(self.coded.0, self.coded.1)
    }

    fn write_to(&self, out: &mut [u8], pixfmt: Pixfmt) {
        let f = &self.frame;
        let planes = layout::Planes {
            y: (f.data(0), f.stride(0)),
            u: (f.data(1), f.stride(1)),
            v: (f.data(2), f.stride(2)),
            width: f.width() as usize,
            height: f.height() as usize,
        };
        layout::pack_into(&planes, pixfmt, self.coded.0, self.coded.1, out);
    }
}

/// Bytes given to the parser need this much zeroed slack after them.
const PADDING: usize = ffi::AV_INPUT_BUFFER_PADDING_SIZE as usize;

struct FfmpegSession {
    ctx_id: u32,
    codec: Codec,
    threads: usize,
    decoder: ff::decoder::Video,
    parser: Option<Parser>,
    frame: ff::frame::Video,
    /// The format last announced; `None` until the first header.
    format: Option<StreamFormat>,
    /// What the kernel's CAPTURE format is set up for: the visible size
    /// (REQ_SESSION_OPEN's, then each STREAM_INFO's) and the DPB it last
    /// heard of. A format that does not fit it is a change the client must
    /// act on (SOURCE_CHANGE, then a LAST buffer), even the first.
    kernel_size: Option<(u32, u32)>,
    kernel_dpb: Option<u32>,
    parking: Parking,
    /// The job whose source is being decoded, for STREAM_INFO's cookie.
    current: u64,
    /// Padded copy of the chunk being parsed.
    scratch: Vec<u8>,
    /// Whether the current source hit a decode error.
    src_error: bool,
    /// (stream offset, pts) of every chunk fed to the parser and not yet
    /// wholly behind its output.
    chunk_pts: std::collections::VecDeque<(u64, i64)>,
    /// Stream bytes fed to the parser, and bytes it has output.
    fed: u64,
    parsed: u64,
    /// Largest coded size the daemon announced.
    max: (u32, u32),
    /// The stream outgrew `max`: the session has ended.
    failed: bool,
    /// Access units of consumed sources not decoded yet: the rest of a
    /// source that held several, decoded between requests.
    backlog: std::collections::VecDeque<Unit>,
    /// Units in `backlog` whose parameter set is not `settled_sps`.
    backlog_new_sps: usize,
    /// REQ_FLUSH came while `backlog` was not empty: the drain follows it.
    flush_pending: bool,
    /// The last sequence parameter set sent to the decoder, and the one
    /// the announced format came from.
    last_sps: Option<Vec<u8>>,
    settled_sps: Option<Vec<u8>>,
    /// Decoding in `step`, between requests.
    stepping: bool,
}

/// One access unit, cut by the parser, with its timestamp and the
/// sequence parameter set it carries, if any.
struct Unit {
    packet: ff::Packet,
    sps: Option<Vec<u8>>,
}

/// The sequence parameter set NAL unit in an Annex B access unit of a
/// codec whose size changes only there (H.264, HEVC); `None` for others.
fn sps_of(codec: Codec, unit: &[u8]) -> Option<&[u8]> {
    let is_sps = |header: u8| match codec {
        Codec::H264 | Codec::H264Slice => header & 0x1f == 7,
        Codec::Hevc => (header >> 1) & 0x3f == 33,
        Codec::Vp8 | Codec::Vp9 => false,
    };
    crate::h264_params::nal_units(unit).find(|n| is_sps(n[0]))
}

fn open_decoder(codec: Codec, threads: usize) -> Result<ff::decoder::Video, SessionErrorCode> {
    let c = ff::decoder::find(codec_id(codec)).ok_or(SessionErrorCode::UnsupportedCodec)?;
    let mut ctx = ff::codec::Context::new_with_codec(c);
    ctx.set_threading(ff::threading::Config {
        kind: ff::threading::Type::Frame,
        count: threads,
        ..Default::default()
    });
    ctx.decoder()
        .open_as(c)
        .and_then(|o| o.video())
        .map_err(|e| {
            tracing::error!(?codec, %e, "cannot open the libavcodec decoder");
            SessionErrorCode::Internal
        })
}

impl FfmpegSession {
    fn new(
        params: &SessionParams,
        threads: usize,
        max: (u32, u32),
    ) -> Result<Self, SessionErrorCode> {
        Ok(Self {
            ctx_id: params.ctx_id,
            codec: params.codec,
            threads,
            decoder: open_decoder(params.codec, threads)?,
            parser: Parser::new(codec_id(params.codec)),
            frame: ff::frame::Video::empty(),
            format: None,
            kernel_size: (params.width > 0 && params.height > 0)
                .then_some((params.width, params.height)),
            kernel_dpb: None,
            parking: Parking::new(params.pixfmt),
            current: 0,
            scratch: Vec::new(),
            src_error: false,
            chunk_pts: Default::default(),
            fed: 0,
            parsed: 0,
            max,
            failed: false,
            backlog: Default::default(),
            backlog_new_sps: 0,
            flush_pending: false,
            last_sps: None,
            settled_sps: None,
            stepping: false,
        })
    }

    /// Feeds `data` (empty: end of stream) through the parser and decodes
    /// every access unit it completes.
    fn parse(&mut self, data: &[u8], pts: i64) {
        let Some(parser) = &self.parser else {
            // No parser (frame-based codecs): the chunk is one frame.
            if !data.is_empty() {
                self.queue_unit(data, pts);
            }
            return;
        };
        let parser = parser.0;
        if !data.is_empty() {
            self.chunk_pts.push_back((self.fed, pts));
            self.fed += data.len() as u64;
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(data);
        self.scratch.resize(data.len() + PADDING, 0);
        let mut at = 0;
        loop {
            let mut out: *mut u8 = std::ptr::null_mut();
            let mut out_len: i32 = 0;
            let left = data.len() - at;
            // SAFETY: parser and the decoder context are live; the input
            // holds `left` bytes plus PADDING zeroed bytes; out/out_len are
            // valid for writes. The output points into the parser's own
            // buffer or the input and is copied before the next call.
            let used = unsafe {
                ffi::av_parser_parse2(
                    parser,
                    self.decoder.as_mut_ptr(),
                    &mut out,
                    &mut out_len,
                    self.scratch.as_ptr().add(at),
                    left as i32,
                    pts,
                    ffi::AV_NOPTS_VALUE,
                    -1,
                )
            };
            if used < 0 {
                self.src_error = true;
                return;
            }
            at += used as usize;
            if out_len > 0 && !out.is_null() {
                // SAFETY: av_parser_parse2 returned out_len valid bytes at
                // out, in the parser's buffer or in `scratch`; neither
                // changes before the next parse call, and `send` copies
                // them into the packet.
                let unit = unsafe { std::slice::from_raw_parts(out, out_len as usize) };
                let unit_pts = self.unit_pts(unit.len(), parser);
                self.queue_unit(unit, unit_pts);
            }
            if data.is_empty() {
                if out_len == 0 {
                    return;
                }
            } else if at >= data.len() {
                return;
            }
        }
    }

    /// The timestamp of an access unit the parser just output: that of the
    /// chunk its first byte came in (the parser outputs every byte once, in
    /// order), which is what V4L2 asks of a continuous bytestream. The
    /// parser's own pts is used only if the offsets ever disagree: it
    /// misses the first unit of a stream.
    fn unit_pts(&mut self, len: usize, parser: *mut ffi::AVCodecParserContext) -> i64 {
        let start = self.parsed;
        self.parsed += len as u64;
        while self.chunk_pts.len() > 1 && self.chunk_pts[1].0 <= start {
            self.chunk_pts.pop_front();
        }
        match self.chunk_pts.front() {
            Some(&(offset, pts)) if offset <= start && start < self.fed => pts,
            // SAFETY: parser is live; pts is a plain field it maintains.
            _ => unsafe { (*parser).pts },
        }
    }

    /// Copies an access unit the parser output to the backlog.
    fn queue_unit(&mut self, unit: &[u8], pts: i64) {
        let mut packet = ff::Packet::copy(unit);
        packet.set_pts((pts != ffi::AV_NOPTS_VALUE).then_some(pts));
        let sps = sps_of(self.codec, unit).map(<[u8]>::to_vec);
        if sps.is_some() && sps != self.settled_sps {
            self.backlog_new_sps += 1;
        }
        self.backlog.push_back(Unit { packet, sps });
    }

    /// Decodes the oldest unit of the backlog.
    fn decode_unit(&mut self) {
        let Some(unit) = self.backlog.pop_front() else {
            return;
        };
        if unit.sps.is_some() {
            if unit.sps != self.settled_sps {
                self.backlog_new_sps -= 1;
            }
            self.last_sps = unit.sps;
        }
        self.send(&unit.packet);
    }

    /// Decodes the whole backlog.
    fn decode_backlog(&mut self) {
        while !self.backlog.is_empty() && !self.failed {
            self.decode_unit();
        }
    }

    /// Whether the rest of the backlog may wait for later: the kernel may
    /// take the current source as consumed and run more jobs meanwhile.
    /// Only while the stream's format is settled and nothing left can
    /// change it: a format change must reach the newest dst of the job
    /// whose source holds it, before the kernel runs another job of the
    /// old CAPTURE allocation.
    fn may_defer(&self) -> bool {
        matches!(self.codec, Codec::H264 | Codec::Hevc)
            && self.format.is_some()
            && self.last_sps == self.settled_sps
            && self.backlog_new_sps == 0
    }

    /// The drain of REQ_FLUSH, once the backlog is decoded.
    fn finish_flush(&mut self) {
        self.flush_pending = false;
        self.parse(&[], ffi::AV_NOPTS_VALUE);
        self.decode_backlog();
        if self.failed {
            return;
        }
        if let Err(e) = self.decoder.send_eof() {
            tracing::debug!(ctx = self.ctx_id, %e, "send_eof");
        }
        self.receive();
        self.parking.last();
        self.restart();
    }

    fn send(&mut self, pkt: &ff::Packet) {
        if let Err(e) = self.decoder.send_packet(pkt) {
            tracing::debug!(ctx = self.ctx_id, %e, "decoder rejected an access unit");
            self.src_error = true;
        }
        self.announce_header();
        if !self.failed {
            self.receive();
        }
    }

    /// STREAM_INFO at the first header, as soon as the decoder knows the size.
    fn announce_header(&mut self) {
        if self.format.is_none() && self.decoder.width() > 0 && self.decoder.height() > 0 {
            let format = self.stream_format(self.decoder.width(), self.decoder.height());
            self.announce(format);
        }
    }

    /// Whether the kernel's CAPTURE format already holds `format`: its
    /// size, and no more DPB than the kernel last heard of (the kernel's
    /// rule in daedalus_vdec_stream_info()).
    fn fits_kernel(&self, format: &StreamFormat) -> bool {
        self.kernel_size == Some((format.visible_width, format.visible_height))
            && self.kernel_dpb.is_none_or(|d| format.dpb_size <= d)
    }

    /// STREAM_INFO for `format`: silent when the kernel's CAPTURE format
    /// holds it, otherwise a format change (the pictures before it, then
    /// STREAM_INFO and a LAST buffer).
    fn announce(&mut self, format: StreamFormat) {
        if format.coded_width > self.max.0 || format.coded_height > self.max.1 {
            tracing::warn!(ctx = self.ctx_id, ?format, max = ?self.max, "stream larger than announced");
            self.failed = true;
            self.parking.fail(SessionErrorCode::UnsupportedFormat);
            return;
        }
        let fits = self.fits_kernel(&format);
        self.format = Some(format);
        if self.settled_sps != self.last_sps {
            self.settled_sps = self.last_sps.clone();
            self.backlog_new_sps = self
                .backlog
                .iter()
                .filter(|u| u.sps.is_some() && u.sps != self.settled_sps)
                .count();
        }
        self.kernel_size = Some((format.visible_width, format.visible_height));
        self.kernel_dpb = Some(format.dpb_size);
        self.parking.set_limit(format.dpb_size as usize);
        // Found between requests with no drain asked, a change may meet a
        // job the kernel ran meanwhile on the old CAPTURE allocation.
        let fresh = self.stepping && !self.flush_pending;
        self.parking.format(self.current, format, fits, fresh);
    }

    fn stream_format(&self, width: u32, height: u32) -> StreamFormat {
        let (cw, ch) = layout::coded_size(width, height);
        // SAFETY: the decoder context is live; refs and has_b_frames are
        // plain ints set by the decoder from the stream headers.
        let (refs, reorder) = unsafe {
            let c = self.decoder.as_ptr();
            ((*c).refs.max(1) as u32, (*c).has_b_frames.max(0) as u32)
        };
        StreamFormat {
            coded_width: cw,
            coded_height: ch,
            visible_width: width,
            visible_height: height,
            pixfmt: self.parking.pixfmt(),
            dpb_size: refs + reorder + 1,
        }
    }

    fn receive(&mut self) {
        while self.decoder.receive_frame(&mut self.frame).is_ok() {
            self.emit_frame();
        }
    }

    fn emit_frame(&mut self) {
        let (w, h) = (self.frame.width(), self.frame.height());
        let format = self.stream_format(w, h);
        // A new size, or a DPB that needs more buffers than announced, is a
        // new format; a smaller DPB is not worth a buffer reallocation.
        // Once a format is announced the kernel's is that one, so the
        // kernel's rule is the one to apply.
        if self.format.is_none() || !self.fits_kernel(&format) {
            self.announce(format);
        }
        if self.failed {
            return;
        }
        let timestamp = self.frame.pts().unwrap_or(0).max(0) as u64;
        // SAFETY: the frame was just filled by receive_frame.
        let (decode_errors, flags) = unsafe {
            let f = self.frame.as_ptr();
            ((*f).decode_error_flags, (*f).flags)
        };
        let corrupt = decode_errors != 0 || flags & ffi::AV_FRAME_FLAG_CORRUPT != 0;
        let supported = matches!(
            self.frame.format(),
            ff::format::Pixel::YUV420P | ff::format::Pixel::YUVJ420P
        );
        if !supported {
            tracing::warn!(ctx = self.ctx_id, format = ?self.frame.format(), "unsupported decoded pixel format");
        }
        if !supported {
            self.parking.picture(timestamp, Vec::new(), true);
            return;
        }
        // The frame's reference moves to the picture; the decoder gets an
        // empty frame to fill next.
        let picture = FramePicture {
            frame: std::mem::replace(&mut self.frame, ff::frame::Video::empty()),
            coded: (format.coded_width, format.coded_height),
        };
        // A concealed picture (a damaged or cut-short access unit) is
        // the software decode's too: it goes out, flagged ERROR.
        self.parking.picture(timestamp, picture, corrupt);
    }

    fn restart(&mut self) {
        // A decoder that saw end of stream needs a flush before new input;
        // a fresh parser forgets any partial access unit.
        self.decoder.flush();
        self.new_parser();
    }

    fn new_parser(&mut self) {
        self.parser = Parser::new(codec_id(self.codec));
        self.chunk_pts.clear();
        self.fed = 0;
        self.parsed = 0;
    }
}

impl Session for FfmpegSession {
    fn decode(&mut self, job: Job<'_>) {
        if self.failed {
            return;
        }
        self.current = job.cookie;
        let Some(src) = job.src else {
            // A capture-only job brings a dst for what is decoded already
            // or still in the backlog.
            self.parking.park_capture_only(job.dst);
            return;
        };
        // What earlier sources left comes first: a drain asked after them
        // ends before this source's pictures. Otherwise this source's units
        // join them; a format change among them takes this job's dst (the
        // newest) for its LAST, as the kernel ran this job before it could
        // see that LAST.
        if self.flush_pending {
            self.decode_backlog();
            self.finish_flush();
        }
        self.parking.park(job.dst);
        if self.failed {
            return;
        }
        let mark = self.parking.mark();
        self.src_error = false;
        let pts = i64::try_from(src.timestamp).unwrap_or(i64::MAX);
        if !src.data.is_empty() {
            self.parse(src.data, pts);
        }
        // The source is copied: decode until the rest may wait, then
        // report it consumed ahead of the pictures it gave so far, so the
        // kernel hands over more dsts while the rest is decoded.
        // A format change's LAST on this job's dst stops the kernel until
        // the client sets CAPTURE up again: the rest may wait too.
        while !self.backlog.is_empty()
            && !self.failed
            && !self.may_defer()
            && !self.parking.last_of(job.cookie)
        {
            self.decode_unit();
        }
        if self.failed {
            return;
        }
        let error = self.src_error;
        self.parking.src_consumed_at(mark, job.cookie, error);
        self.parking.hold(!self.backlog.is_empty());
    }

    fn flush(&mut self) {
        if self.failed {
            return;
        }
        if self.backlog.is_empty() {
            self.finish_flush();
        } else {
            self.flush_pending = true;
        }
    }

    fn step(&mut self) -> bool {
        if self.failed {
            self.backlog.clear();
            self.flush_pending = false;
        } else if self.flush_pending && self.backlog.is_empty() {
            self.finish_flush();
        } else if self.busy() {
            self.stepping = true;
            self.decode_unit();
            self.stepping = false;
        }
        if self.backlog.is_empty() && !self.flush_pending {
            self.parking.hold(false);
        }
        self.busy()
    }

    /// The backlog's next unit may be decoded now. A format change in it
    /// waits for a request: the next source's job (whose dst, the newest,
    /// then takes the LAST with its SRC_CONSUMED) or a drain (after which
    /// the kernel runs no source before the LAST). Decoded between
    /// requests, its LAST could meet a job the kernel ran on the old
    /// CAPTURE allocation meanwhile.
    fn busy(&self) -> bool {
        if self.failed {
            return false;
        }
        if self.flush_pending {
            return true;
        }
        self.backlog.front().is_some_and(|u| {
            self.last_sps == self.settled_sps && (u.sps.is_none() || u.sps == self.settled_sps)
        })
    }

    fn capture_off(&mut self) {
        self.parking.capture_off();
    }

    fn capture_format(&mut self, pixfmt: Pixfmt) {
        self.parking.set_pixfmt(pixfmt);
    }

    fn reset(&mut self) {
        self.parking.clear();
        self.backlog.clear();
        self.backlog_new_sps = 0;
        self.flush_pending = false;
        self.last_sps = None;
        self.settled_sps = None;
        match open_decoder(self.codec, self.threads) {
            Ok(d) => self.decoder = d,
            Err(_) => self.restart(),
        }
        self.new_parser();
        self.format = None;
        self.current = 0;
    }

    fn next_event(&mut self) -> Option<SessionEvent> {
        self.parking.next_event()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sps_of_an_access_unit_is_found_by_its_nal_type() {
        let sps = [0x67, 0x42, 0xc0, 0x1e, 0x8c];
        let mut au = vec![0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1];
        au.extend(sps);
        au.extend([0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80, 0, 0, 1, 0x65, 0x88]);
        assert_eq!(sps_of(Codec::H264, &au), Some(&sps[..]));
        // A PPS or a slice alone carries none; a NAL type 7 byte inside a
        // NAL unit is not one.
        assert_eq!(sps_of(Codec::H264, &au[sps.len() + 9..]), None);
        assert_eq!(sps_of(Codec::H264, &[0, 0, 1, 0x65, 0x67, 0x42]), None);
        // HEVC: type 33 in bits 1..7 of the first header byte.
        let hevc = [0, 0, 1, 0x40, 0x01, 0x0c, 0, 0, 1, 0x42, 0x01, 0x01, 0x60];
        assert_eq!(sps_of(Codec::Hevc, &hevc), Some(&hevc[9..]));
        assert_eq!(sps_of(Codec::Vp9, &au), None);
    }
}
