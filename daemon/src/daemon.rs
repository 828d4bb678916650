//! The event loop of one attachment: read a request, hand it to the
//! context's session, write every event the session produced as a
//! response, until the kernel side goes away or a shutdown is asked.

use std::collections::HashMap;
use std::io;
use std::os::fd::BorrowedFd;

use daedalus_proto::*;
use thiserror::Error;

use crate::backend::{Backend, Dst, Job, Session, SessionEvent, SessionParams, Src};
use crate::mapping::{MapKind, Mapping};
use crate::transport::{Transport, poll_two};

/// `RESP_HELLO.daemon_version`.
pub const DAEMON_VERSION: u32 = 1 << 8;

/// Why an attachment ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    /// The kernel side closed (module unloaded, peer gone): re-attach.
    Detached,
    /// The wake descriptor fired (SIGTERM).
    Shutdown,
}

#[derive(Debug, Error)]
pub enum DaemonError {
    #[error("transport: {0}")]
    Io(#[from] io::Error),
    #[error("the kernel speaks another protocol: {0}")]
    Version(ProtoError),
}

struct Context {
    session: Box<dyn Session>,
    /// The latest stream generation (REQ_DECODE or REQ_RESET).
    generation: u32,
    /// Stream generation of every job with a buffer still in the session,
    /// so each reply names its own job's generation.
    jobs: HashMap<u64, JobGen>,
}

struct JobGen {
    generation: u32,
    src_pending: bool,
    dst_pending: bool,
}

/// One attachment's state.
pub struct Daemon<'b> {
    backend: &'b mut dyn Backend,
    contexts: HashMap<u32, Context>,
    hello_done: bool,
    /// Offer F_MAPPED when the transport can map (`--no-mapped` clears it).
    offer_mapped: bool,
    /// RESP_HELLO of this attachment offered F_MAPPED.
    mapped: bool,
    /// REQ_HELLO.max_payload: the largest payload the kernel accepts.
    max_payload: u32,
    out: Vec<u8>,
    /// Messages dropped as malformed or out of place, for tests and logs.
    pub dropped: u64,
    /// Responses the kernel refused (-EINVAL / -EPROTO): late or stale
    /// replies it rejects and counts by design; the attachment goes on.
    pub rejected: u64,
}

impl<'b> Daemon<'b> {
    pub fn new(backend: &'b mut dyn Backend) -> Self {
        Self {
            backend,
            contexts: HashMap::new(),
            hello_done: false,
            offer_mapped: true,
            mapped: false,
            max_payload: MAX_PAYLOAD,
            out: Vec::new(),
            dropped: 0,
            rejected: 0,
        }
    }

    /// Whether RESP_HELLO offers mapped jobs when the transport can map
    /// (default: yes).
    pub fn offer_mapped(&mut self, offer: bool) {
        self.offer_mapped = offer;
    }

    /// Serves `transport` until it closes or `wake` becomes readable.
    pub fn run(
        &mut self,
        transport: &mut dyn Transport,
        wake: Option<BorrowedFd<'_>>,
    ) -> Result<Exit, DaemonError> {
        let mut buf = Vec::new();
        loop {
            // Work no request waits for goes on while none is waiting, and
            // a piece after each request, so a busy link cannot starve it.
            let busy = self.busy();
            let (readable, woken) = poll_two(transport.fd(), wake, if busy { 0 } else { -1 })?;
            if woken {
                tracing::info!(sessions = self.contexts.len(), "shutting down");
                self.contexts.clear();
                return Ok(Exit::Shutdown);
            }
            if !readable {
                if busy {
                    self.step(transport)?;
                }
                continue;
            }
            let received = transport.recv(&mut buf).map_err(|e| {
                // A stream transport checks the header to frame it: a
                // version mismatch found there is still a version mismatch.
                match e.get_ref().and_then(|r| r.downcast_ref::<ProtoError>()) {
                    Some(pe @ ProtoError::BadVersion(_)) => DaemonError::Version(pe.clone()),
                    _ => DaemonError::Io(e),
                }
            })?;
            if !received {
                tracing::info!(sessions = self.contexts.len(), "the kernel side closed");
                self.contexts.clear();
                return Ok(Exit::Detached);
            }
            self.handle_bytes(&buf, transport)?;
            if self.busy() {
                self.step(transport)?;
            }
        }
    }

    /// Whether a session has work left that no request waits for (the
    /// rest of a source holding many pictures).
    pub fn busy(&self) -> bool {
        self.contexts.values().any(|c| c.session.busy())
    }

    /// One piece of that work in every session that has some, each
    /// followed by its events.
    pub fn step(&mut self, transport: &mut dyn Transport) -> Result<(), DaemonError> {
        let mut busy: Vec<u32> = self
            .contexts
            .iter()
            .filter(|(_, c)| c.session.busy())
            .map(|(id, _)| *id)
            .collect();
        busy.sort_unstable();
        for ctx_id in busy {
            if let Some(ctx) = self.contexts.get_mut(&ctx_id) {
                ctx.session.step();
                self.drain(ctx_id, transport)?;
            }
        }
        Ok(())
    }

    /// Does all of that work.
    pub fn finish(&mut self, transport: &mut dyn Transport) -> Result<(), DaemonError> {
        while self.busy() {
            self.step(transport)?;
        }
        Ok(())
    }

    /// Handles one received message.
    pub fn handle_bytes(
        &mut self,
        bytes: &[u8],
        transport: &mut dyn Transport,
    ) -> Result<(), DaemonError> {
        match Message::decode_dir(bytes, Direction::Request) {
            Ok(msg) => self.handle(msg, transport),
            Err(e @ ProtoError::BadVersion(_)) => Err(DaemonError::Version(e)),
            Err(e) => {
                self.dropped += 1;
                tracing::warn!(error = %e, len = bytes.len(), "dropped a malformed request");
                // A context must not wait forever for a session it cannot
                // have, nor get pictures in a layout it did not ask for:
                // refuse an open naming an unknown codec or format, and end
                // the session a CAPTURE format outside the enum names.
                if let Ok((_, ty @ (MsgType::ReqSessionOpen | MsgType::ReqCaptureFmt), _)) =
                    peek_header(bytes)
                {
                    let code = match e {
                        ProtoError::InvalidCodec { .. } => Some(SessionErrorCode::UnsupportedCodec),
                        ProtoError::InvalidPixfmt { .. } => {
                            Some(SessionErrorCode::UnsupportedFormat)
                        }
                        _ => None,
                    };
                    let ctx_id = bytes
                        .get(HDR_SIZE..HDR_SIZE + 4)
                        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                    if let (Some(code), Some(ctx_id)) = (code, ctx_id.filter(|c| *c != 0)) {
                        if ty == MsgType::ReqCaptureFmt {
                            self.contexts.remove(&ctx_id);
                        }
                        self.send(transport, &session_error(ctx_id, code))?;
                    }
                }
                Ok(())
            }
        }
    }

    fn send(&mut self, transport: &mut dyn Transport, msg: &Message) -> Result<(), DaemonError> {
        let payload = msg.encoded_len() - HDR_SIZE;
        let failed;
        let msg = match msg {
            // The kernel would refuse a picture bigger than its max_payload:
            // fail the buffer instead. Only the picture data is dropped; the
            // fixed body always goes, whatever REQ_HELLO claimed.
            Message::RespFrame { cookie, body, data }
                if !data.is_empty() && payload > self.max_payload as usize =>
            {
                tracing::warn!(
                    cookie,
                    payload,
                    max = self.max_payload,
                    "picture exceeds max_payload"
                );
                failed = Message::RespFrame {
                    cookie: *cookie,
                    body: RespFrame {
                        flags: body.flags | FRAME_ERROR,
                        bytesused: 0,
                        ..*body
                    },
                    data: Vec::new(),
                };
                &failed
            }
            _ => msg,
        };
        self.out.clear();
        match msg.encode_head_into(&mut self.out) {
            Ok(()) => match transport.send_parts(&self.out, msg.data()) {
                Ok(()) => {}
                // The kernel refused this one message (a reply for a job or
                // generation that is already over): the link is fine.
                Err(e) if is_rejection(&e) => {
                    self.rejected += 1;
                    tracing::warn!(
                        ty = %msg.ty(),
                        cookie = msg.cookie(),
                        error = %e,
                        rejected = self.rejected,
                        "the kernel rejected a response"
                    );
                }
                Err(e) => return Err(e.into()),
            },
            // A response this daemon built wrong is a bug; never send it.
            Err(e) => {
                tracing::error!(error = %e, ty = %msg.ty(), "refusing to send an invalid response")
            }
        }
        Ok(())
    }

    /// Routes a request to its handler. The kernel sends nothing but
    /// REQ_HELLO until the handshake is done: anything else before it is
    /// out of place and dropped.
    fn handle(&mut self, msg: Message, transport: &mut dyn Transport) -> Result<(), DaemonError> {
        if !self.hello_done && !matches!(msg, Message::ReqHello(_)) {
            self.dropped += 1;
            tracing::warn!(ty = %msg.ty(), "request before REQ_HELLO dropped");
            return Ok(());
        }
        match msg {
            Message::ReqHello(hello) => self.on_hello(hello, transport),
            Message::ReqSessionOpen(open) => self.on_session_open(open, transport),
            Message::ReqSessionClose(close) => {
                self.on_session_close(close);
                Ok(())
            }
            Message::ReqDecode { cookie, body, data } => {
                self.on_decode(cookie, body, &data, transport)
            }
            Message::ReqFlush(flush) => self.on_flush(flush, transport),
            Message::ReqReset(reset) => self.on_reset(reset, transport),
            Message::ReqCaptureOff(off) => self.on_capture_off(off, transport),
            Message::ReqCaptureFmt(fmt) => self.on_capture_fmt(fmt, transport),
            Message::ReqPing { token, body } => self.on_ping(token, body, transport),
            other => {
                self.dropped += 1;
                tracing::warn!(ty = %other.ty(), "unexpected message");
                Ok(())
            }
        }
    }

    /// REQ_HELLO: the kernel starts an attachment and says how large a
    /// payload it takes. The reply is RESP_HELLO with the backend's
    /// capabilities; it offers F_MAPPED only when the transport can map
    /// (and `--no-mapped` was not given), as a mapped job would otherwise
    /// be bound to fail. No buffer is in flight: the kernel starts from
    /// nothing, so every session left from an earlier handshake is dropped
    /// with whatever it held.
    fn on_hello(
        &mut self,
        hello: ReqHello,
        transport: &mut dyn Transport,
    ) -> Result<(), DaemonError> {
        let caps = self.backend.capabilities();
        tracing::info!(
            max_contexts = hello.max_contexts,
            backend = self.backend.name(),
            "attached"
        );
        self.contexts.clear();
        self.hello_done = true;
        self.max_payload = hello.max_payload.min(MAX_PAYLOAD);
        self.mapped = self.offer_mapped && transport.can_map();
        let mut hello = RespHello {
            proto_version: PROTO_VERSION.into(),
            daemon_version: DAEMON_VERSION,
            codecs: caps.codecs,
            pixfmts: caps.pixfmts,
            max_width: caps.max_width,
            max_height: caps.max_height,
            flags: HELLO_F_CAPTURE_FMT | if self.mapped { HELLO_F_MAPPED } else { 0 },
            reserved: 0,
        };
        let rejected = self.rejected;
        self.send(transport, &Message::RespHello(hello))?;
        // A module of the protocol's first release refuses codecs it does
        // not know (the stateless ones) and waits for another RESP_HELLO:
        // answer again with those it knows.
        let known = hello.codecs & CODECS_BASE;
        if self.rejected != rejected && known != hello.codecs && known != 0 {
            tracing::info!(
                codecs = format_args!("{:#x}", known),
                "the module refused RESP_HELLO; answering with the codecs of the protocol's first release"
            );
            hello.codecs = known;
            self.send(transport, &Message::RespHello(hello))?;
        }
        Ok(())
    }

    /// REQ_SESSION_OPEN: a context starts streaming. The session opens
    /// without a reply. A codec or pixel format RESP_HELLO did not announce,
    /// or a backend that refuses, is answered RESP_SESSION_ERROR and leaves
    /// the context without a session, so the kernel returns its buffers
    /// with ERROR instead of waiting. No buffer changes hands; a session
    /// still open under the same id is dropped with every dst it held.
    fn on_session_open(
        &mut self,
        open: ReqSessionOpen,
        transport: &mut dyn Transport,
    ) -> Result<(), DaemonError> {
        if self.contexts.remove(&open.ctx_id).is_some() {
            tracing::warn!(
                ctx = open.ctx_id,
                "session reopened; the old one is dropped"
            );
        }
        let params = SessionParams {
            ctx_id: open.ctx_id,
            codec: Codec::from_raw(open.codec).unwrap_or(Codec::H264),
            pixfmt: Pixfmt::from_raw(open.pixfmt).unwrap_or(Pixfmt::Nv12),
            width: open.width,
            height: open.height,
        };
        let caps = self.backend.capabilities();
        let opened = if !caps.has_pixfmt(params.pixfmt) {
            Err(SessionErrorCode::UnsupportedFormat)
        } else if !caps.has_codec(params.codec) {
            Err(SessionErrorCode::UnsupportedCodec)
        } else {
            self.backend.open_session(&params)
        };
        match opened {
            Ok(session) => {
                tracing::info!(ctx = open.ctx_id, codec = ?params.codec, pixfmt = ?params.pixfmt, "session open");
                self.contexts.insert(
                    open.ctx_id,
                    Context {
                        session,
                        generation: 0,
                        jobs: HashMap::new(),
                    },
                );
                Ok(())
            }
            Err(code) => {
                tracing::warn!(ctx = open.ctx_id, ?code, codec = ?params.codec, "session refused");
                self.send(transport, &session_error(open.ctx_id, code))
            }
        }
    }

    /// REQ_SESSION_CLOSE: the context is gone. There is no reply. The
    /// kernel took back every buffer of the context before sending it, so
    /// the session goes with every dst parked in it, a mapped one unmapped
    /// untouched.
    fn on_session_close(&mut self, close: ReqSessionClose) {
        if self.contexts.remove(&close.ctx_id).is_some() {
            tracing::info!(ctx = close.ctx_id, "session closed");
        }
    }

    /// REQ_DECODE: job `cookie` hands the context's session a src (none
    /// with F_NO_SRC) and a dst. The replies are the session's: RESP_FRAME
    /// SRC_CONSUMED for the src and HAS_PIXELS for the dst, each now or
    /// after later requests, and RESP_STREAM_INFO or RESP_SESSION_ERROR as
    /// decoding reveals them. The src is the daemon's only for the session's
    /// call (a mapped one is unmapped before its SRC_CONSUMED can go out);
    /// the dst stays parked in the session until a HAS_PIXELS names the
    /// cookie. A job for a context without a session is answered
    /// RESP_SESSION_ERROR (INTERNAL), after which the kernel fails every
    /// buffer of the context; a mapped job that cannot be mapped, or was
    /// never offered, fails alone, both its buffers back at once with ERROR.
    fn on_decode(
        &mut self,
        cookie: u64,
        body: ReqDecode,
        data: &[u8],
        transport: &mut dyn Transport,
    ) -> Result<(), DaemonError> {
        let Some(ctx) = self.contexts.get_mut(&body.ctx_id) else {
            tracing::warn!(
                ctx = body.ctx_id,
                cookie,
                "job for a context without a session"
            );
            return self.send(
                transport,
                &session_error(body.ctx_id, SessionErrorCode::Internal),
            );
        };
        let no_src = capture_only(&body);
        let (src_map, dst_map) = if body.flags & DECODE_F_MAPPED == 0 {
            (None, None)
        } else {
            let mapped = if self.mapped {
                map_job(&body, transport)
            } else {
                Err(io::Error::other("mapped jobs were not offered"))
            };
            match mapped {
                Ok(maps) => maps,
                // The job fails, not the session.
                Err(e) => {
                    tracing::warn!(ctx = body.ctx_id, cookie, error = %e, "mapped job refused");
                    return self.fail_job(cookie, &body, transport);
                }
            }
        };
        ctx.generation = body.generation;
        ctx.jobs.insert(
            cookie,
            JobGen {
                generation: body.generation,
                src_pending: !no_src,
                dst_pending: true,
            },
        );
        // A stateless request's controls come first, mapped job or not.
        let (controls, data) = data.split_at(body.controls_len());
        let h264 = (!controls.is_empty()).then(|| H264Slice::get(controls));
        let bitstream = src_map.as_ref().map_or(data, Mapping::bytes);
        let job = Job {
            cookie,
            src: (!no_src).then_some(Src {
                index: body.src_index,
                timestamp: body.timestamp,
                data: bitstream,
                h264: h264.as_ref(),
            }),
            dst: Dst {
                cookie,
                index: body.dst_index,
                size: body.dst_size,
                map: dst_map,
            },
        };
        tracing::trace!(
            ctx = body.ctx_id,
            cookie,
            bytes = bitstream.len(),
            no_src,
            mapped = src_map.is_some(),
            "decode"
        );
        ctx.session.decode(job);
        // The session has read the bitstream: unmap it before its
        // SRC_CONSUMED can go out.
        drop(src_map);
        self.drain(body.ctx_id, transport)
    }

    /// REQ_FLUSH: drain the context. The session sends every picture it
    /// still holds into parked dsts, then one more dst, empty, with
    /// HAS_PIXELS | LAST, waiting for later jobs' dsts if it runs out; those
    /// dsts go back to the kernel, the other parked ones stay with the
    /// session. A context without a session has nothing to drain.
    fn on_flush(
        &mut self,
        flush: ReqFlush,
        transport: &mut dyn Transport,
    ) -> Result<(), DaemonError> {
        if let Some(ctx) = self.contexts.get_mut(&flush.ctx_id) {
            tracing::debug!(ctx = flush.ctx_id, "drain");
            ctx.session.flush();
            self.drain(flush.ctx_id, transport)?;
        }
        Ok(())
    }

    /// REQ_RESET: seek or stop; the stream goes on under the new
    /// generation. The reply is RESP_RESET_DONE with that generation,
    /// whether the context has a session or not. The kernel took back every
    /// buffer of the context before sending it: the session drops its
    /// decoder state, parked dsts and pending events, and the jobs'
    /// generations are forgotten, so no later reply names the old one.
    fn on_reset(
        &mut self,
        reset: ReqReset,
        transport: &mut dyn Transport,
    ) -> Result<(), DaemonError> {
        if let Some(ctx) = self.contexts.get_mut(&reset.ctx_id) {
            tracing::debug!(ctx = reset.ctx_id, generation = reset.generation, "reset");
            ctx.session.reset();
            ctx.jobs.clear();
            ctx.generation = reset.generation;
        }
        let done = RespResetDone {
            ctx_id: reset.ctx_id,
            generation: reset.generation,
        };
        self.send(transport, &Message::RespResetDone(done))
    }

    /// REQ_CAPTURE_OFF: CAPTURE streamed off. There is no reply of its
    /// own. The kernel took back the dst of every job so far, and ended the
    /// running one, before sending it: those cookies are dead, so the
    /// session forgets their dsts and the daemon their generations. The
    /// decoder state, the stream generation and the pictures not delivered
    /// yet stay, for the dsts of later jobs.
    fn on_capture_off(
        &mut self,
        off: ReqCaptureOff,
        transport: &mut dyn Transport,
    ) -> Result<(), DaemonError> {
        if let Some(ctx) = self.contexts.get_mut(&off.ctx_id) {
            tracing::debug!(
                ctx = off.ctx_id,
                generation = off.generation,
                jobs = ctx.jobs.len(),
                "CAPTURE off"
            );
            ctx.session.capture_off();
            ctx.jobs.clear();
            self.drain(off.ctx_id, transport)?;
        }
        Ok(())
    }

    /// REQ_CAPTURE_FMT: CAPTURE streams on in the format the client chose,
    /// which may differ from the session's since a SOURCE_CHANGE. There is
    /// no reply of its own; every picture that goes out from now on, those
    /// the session already holds included, is laid out in it. No buffer
    /// changes hands. A format RESP_HELLO did not announce ends the session
    /// with RESP_SESSION_ERROR (UNSUPPORTED_FORMAT) rather than send
    /// pictures in a layout the client did not ask for; the kernel then
    /// fails the context's buffers.
    fn on_capture_fmt(
        &mut self,
        fmt: ReqCaptureFmt,
        transport: &mut dyn Transport,
    ) -> Result<(), DaemonError> {
        let Some(ctx) = self.contexts.get_mut(&fmt.ctx_id) else {
            tracing::warn!(
                ctx = fmt.ctx_id,
                "CAPTURE format for a context without a session"
            );
            return Ok(());
        };
        let pixfmt = Pixfmt::from_raw(fmt.pixfmt).unwrap_or(Pixfmt::Nv12);
        if !self.backend.capabilities().has_pixfmt(pixfmt) {
            tracing::warn!(
                ctx = fmt.ctx_id,
                ?pixfmt,
                "CAPTURE format not announced; the session ends"
            );
            return self.end_session(fmt.ctx_id, SessionErrorCode::UnsupportedFormat, transport);
        }
        tracing::debug!(ctx = fmt.ctx_id, ?pixfmt, "CAPTURE format");
        ctx.session.capture_format(pixfmt);
        self.drain(fmt.ctx_id, transport)
    }

    /// REQ_PING: answered RESP_PONG with the same token and body, once the
    /// work of every earlier request is done (a barrier for tests; the
    /// module sends none in v1). No buffer is involved.
    fn on_ping(
        &mut self,
        token: u64,
        body: Ping,
        transport: &mut dyn Transport,
    ) -> Result<(), DaemonError> {
        // A barrier: the answer follows all the work of earlier requests.
        self.finish(transport)?;
        self.send(transport, &Message::RespPong { token, body })
    }

    /// Drops a context's session with every dst parked in it and says so
    /// in RESP_SESSION_ERROR, after which the kernel fails every buffer of
    /// the context.
    fn end_session(
        &mut self,
        ctx_id: u32,
        code: SessionErrorCode,
        transport: &mut dyn Transport,
    ) -> Result<(), DaemonError> {
        self.contexts.remove(&ctx_id);
        self.send(transport, &session_error(ctx_id, code))
    }

    /// Returns both buffers of a job the daemon cannot take, with ERROR.
    fn fail_job(
        &mut self,
        cookie: u64,
        body: &ReqDecode,
        transport: &mut dyn Transport,
    ) -> Result<(), DaemonError> {
        let no_src = capture_only(body);
        let flags = FRAME_HAS_PIXELS | FRAME_ERROR | if no_src { 0 } else { FRAME_SRC_CONSUMED };
        let frame = RespFrame {
            ctx_id: body.ctx_id,
            flags,
            generation: body.generation,
            ..Default::default()
        };
        self.send(
            transport,
            &Message::RespFrame {
                cookie,
                body: frame,
                data: Vec::new(),
            },
        )
    }

    /// Writes every pending event of a context's session.
    fn drain(&mut self, ctx_id: u32, transport: &mut dyn Transport) -> Result<(), DaemonError> {
        loop {
            let Some(ctx) = self.contexts.get_mut(&ctx_id) else {
                return Ok(());
            };
            let mut generation = ctx.generation;
            let Some(ev) = ctx.session.next_event() else {
                return Ok(());
            };
            if let SessionEvent::Frame { cookie, flags, .. } = &ev
                && let Some(job) = ctx.jobs.get_mut(cookie)
            {
                generation = job.generation;
                job.src_pending &= flags & FRAME_SRC_CONSUMED == 0;
                job.dst_pending &= flags & FRAME_HAS_PIXELS == 0;
                if !job.src_pending && !job.dst_pending {
                    ctx.jobs.remove(cookie);
                }
            }
            let msg = match ev {
                SessionEvent::Frame {
                    cookie,
                    flags,
                    timestamp,
                    data,
                } => Message::RespFrame {
                    cookie,
                    body: RespFrame {
                        ctx_id,
                        flags,
                        timestamp,
                        bytesused: data.bytesused(),
                        generation,
                        reserved: [0; 2],
                    },
                    data: data.into_inline(),
                },
                SessionEvent::StreamInfo { cookie, format } => {
                    tracing::info!(ctx = ctx_id, ?format, "stream format");
                    Message::RespStreamInfo {
                        cookie,
                        body: RespStreamInfo {
                            ctx_id,
                            generation,
                            coded_width: format.coded_width,
                            coded_height: format.coded_height,
                            visible_left: 0,
                            visible_top: 0,
                            visible_width: format.visible_width,
                            visible_height: format.visible_height,
                            pixfmt: format.pixfmt.raw(),
                            dpb_size: format.dpb_size,
                            reserved: [0; 2],
                        },
                    }
                }
                SessionEvent::Failed(code) => {
                    tracing::error!(ctx = ctx_id, ?code, "session failed");
                    return self.end_session(ctx_id, code, transport);
                }
            };
            self.send(transport, &msg)?;
            if let Message::RespFrame { data, .. } = msg {
                crate::layout::recycle(data);
            }
        }
    }
}

/// Maps a F_MAPPED job's buffers: the src (unless F_NO_SRC or empty) read
/// only, the dst (unless of size 0) read and write.
fn map_job(
    body: &ReqDecode,
    transport: &mut dyn Transport,
) -> io::Result<(Option<Mapping>, Option<Mapping>)> {
    let src = if capture_only(body) || body.bytes == 0 {
        None
    } else {
        Some(transport.map(body.src_map, body.bytes as usize, MapKind::Src)?)
    };
    let dst = if body.dst_size == 0 {
        None
    } else {
        Some(transport.map(body.dst_map, body.dst_size as usize, MapKind::Dst)?)
    };
    Ok((src, dst))
}

/// A job with F_NO_SRC: a dst alone, no bitstream and no SRC_CONSUMED owed.
fn capture_only(body: &ReqDecode) -> bool {
    body.flags & DECODE_F_NO_SRC != 0
}

/// A write the kernel refused on its merits (`-EINVAL`, `-EPROTO`), as
/// opposed to a dead link (`ENODEV`, `EBADF`, `EIO`, end of file...).
pub fn is_rejection(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EPROTO))
}

fn session_error(ctx_id: u32, code: SessionErrorCode) -> Message {
    Message::RespSessionError(RespSessionError {
        ctx_id,
        error: code.raw(),
    })
}
