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
            let (readable, woken) = poll_two(transport.fd(), wake, -1)?;
            if woken {
                tracing::info!(sessions = self.contexts.len(), "shutting down");
                self.contexts.clear();
                return Ok(Exit::Shutdown);
            }
            if !readable {
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
        }
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

    fn handle(&mut self, msg: Message, transport: &mut dyn Transport) -> Result<(), DaemonError> {
        if !self.hello_done && !matches!(msg, Message::ReqHello(_)) {
            self.dropped += 1;
            tracing::warn!(ty = %msg.ty(), "request before REQ_HELLO dropped");
            return Ok(());
        }
        match msg {
            Message::ReqHello(h) => {
                let caps = self.backend.capabilities();
                tracing::info!(
                    max_contexts = h.max_contexts,
                    backend = self.backend.name(),
                    "attached"
                );
                self.contexts.clear();
                self.hello_done = true;
                self.max_payload = h.max_payload.min(MAX_PAYLOAD);
                self.mapped = self.offer_mapped && transport.can_map();
                let resp = Message::RespHello(RespHello {
                    proto_version: PROTO_VERSION.into(),
                    daemon_version: DAEMON_VERSION,
                    codecs: caps.codecs,
                    pixfmts: caps.pixfmts,
                    max_width: caps.max_width,
                    max_height: caps.max_height,
                    flags: HELLO_F_CAPTURE_FMT | if self.mapped { HELLO_F_MAPPED } else { 0 },
                    reserved: 0,
                });
                self.send(transport, &resp)?;
            }
            Message::ReqSessionOpen(o) => {
                if self.contexts.remove(&o.ctx_id).is_some() {
                    tracing::warn!(ctx = o.ctx_id, "session reopened; the old one is dropped");
                }
                let params = SessionParams {
                    ctx_id: o.ctx_id,
                    codec: Codec::from_raw(o.codec).unwrap_or(Codec::H264),
                    pixfmt: Pixfmt::from_raw(o.pixfmt).unwrap_or(Pixfmt::Nv12),
                    width: o.width,
                    height: o.height,
                };
                let caps = self.backend.capabilities();
                let opened = if caps.pixfmts & params.pixfmt.bit() == 0 {
                    Err(SessionErrorCode::UnsupportedFormat)
                } else if caps.codecs & params.codec.bit() == 0 {
                    Err(SessionErrorCode::UnsupportedCodec)
                } else {
                    self.backend.open_session(&params)
                };
                match opened {
                    Ok(session) => {
                        tracing::info!(ctx = o.ctx_id, codec = ?params.codec, pixfmt = ?params.pixfmt, "session open");
                        self.contexts.insert(
                            o.ctx_id,
                            Context {
                                session,
                                generation: 0,
                                jobs: HashMap::new(),
                            },
                        );
                    }
                    Err(code) => {
                        tracing::warn!(ctx = o.ctx_id, ?code, codec = ?params.codec, "session refused");
                        self.send(transport, &session_error(o.ctx_id, code))?;
                    }
                }
            }
            Message::ReqSessionClose(c) => {
                if self.contexts.remove(&c.ctx_id).is_some() {
                    tracing::info!(ctx = c.ctx_id, "session closed");
                }
            }
            Message::ReqDecode { cookie, body, data } => {
                if !self.contexts.contains_key(&body.ctx_id) {
                    tracing::warn!(
                        ctx = body.ctx_id,
                        cookie,
                        "job for a context without a session"
                    );
                    return self.send(
                        transport,
                        &session_error(body.ctx_id, SessionErrorCode::Internal),
                    );
                }
                let no_src = body.flags & DECODE_F_NO_SRC != 0;
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
                let Some(ctx) = self.contexts.get_mut(&body.ctx_id) else {
                    return Ok(());
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
                let bitstream = src_map.as_ref().map_or(&data[..], Mapping::bytes);
                let job = Job {
                    cookie,
                    src: (!no_src).then_some(Src {
                        index: body.src_index,
                        timestamp: body.timestamp,
                        data: bitstream,
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
                self.drain(body.ctx_id, transport)?;
            }
            Message::ReqFlush(f) => {
                if let Some(ctx) = self.contexts.get_mut(&f.ctx_id) {
                    tracing::debug!(ctx = f.ctx_id, "drain");
                    ctx.session.flush();
                    self.drain(f.ctx_id, transport)?;
                }
            }
            Message::ReqReset(r) => {
                if let Some(ctx) = self.contexts.get_mut(&r.ctx_id) {
                    tracing::debug!(ctx = r.ctx_id, generation = r.generation, "reset");
                    ctx.session.reset();
                    ctx.jobs.clear();
                    ctx.generation = r.generation;
                }
                let done = RespResetDone {
                    ctx_id: r.ctx_id,
                    generation: r.generation,
                };
                self.send(transport, &Message::RespResetDone(done))?;
            }
            Message::ReqCaptureOff(c) => {
                // The kernel took back every buffer of the context's jobs:
                // their cookies are dead, the stream and its generation go on.
                if let Some(ctx) = self.contexts.get_mut(&c.ctx_id) {
                    tracing::debug!(
                        ctx = c.ctx_id,
                        generation = c.generation,
                        jobs = ctx.jobs.len(),
                        "CAPTURE off"
                    );
                    ctx.session.capture_off();
                    ctx.jobs.clear();
                    self.drain(c.ctx_id, transport)?;
                }
            }
            Message::ReqCaptureFmt(c) => {
                // CAPTURE streams on in the format the client chose, which
                // may differ from the session's since a SOURCE_CHANGE.
                let Some(ctx) = self.contexts.get_mut(&c.ctx_id) else {
                    tracing::warn!(
                        ctx = c.ctx_id,
                        "CAPTURE format for a context without a session"
                    );
                    return Ok(());
                };
                let pixfmt = Pixfmt::from_raw(c.pixfmt).unwrap_or(Pixfmt::Nv12);
                if self.backend.capabilities().pixfmts & pixfmt.bit() == 0 {
                    tracing::warn!(
                        ctx = c.ctx_id,
                        ?pixfmt,
                        "CAPTURE format not announced; the session ends"
                    );
                    self.contexts.remove(&c.ctx_id);
                    return self.send(
                        transport,
                        &session_error(c.ctx_id, SessionErrorCode::UnsupportedFormat),
                    );
                }
                tracing::debug!(ctx = c.ctx_id, ?pixfmt, "CAPTURE format");
                ctx.session.capture_format(pixfmt);
                self.drain(c.ctx_id, transport)?;
            }
            Message::ReqPing { token, body } => {
                self.send(transport, &Message::RespPong { token, body })?;
            }
            other => {
                self.dropped += 1;
                tracing::warn!(ty = %other.ty(), "unexpected message");
            }
        }
        Ok(())
    }

    /// Returns both buffers of a job the daemon cannot take, with ERROR.
    fn fail_job(
        &mut self,
        cookie: u64,
        body: &ReqDecode,
        transport: &mut dyn Transport,
    ) -> Result<(), DaemonError> {
        let no_src = body.flags & DECODE_F_NO_SRC != 0;
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
                    self.contexts.remove(&ctx_id);
                    session_error(ctx_id, code)
                }
            };
            self.send(transport, &msg)?;
        }
    }
}

/// Maps a F_MAPPED job's buffers: the src (unless F_NO_SRC or empty) read
/// only, the dst (unless of size 0) read and write.
fn map_job(
    body: &ReqDecode,
    transport: &mut dyn Transport,
) -> io::Result<(Option<Mapping>, Option<Mapping>)> {
    let src = if body.flags & DECODE_F_NO_SRC != 0 || body.bytes == 0 {
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
