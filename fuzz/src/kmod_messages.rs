//! `kmod_messages`: what a hostile daemon can write(). The input is a
//! sequence of writes, each a little-endian u16 length and that many bytes.
//!
//! Every write, as raw bytes, goes to the module's own dispatch code
//! (kmod/daedalus_dispatch.c and the codec kmod/daedalus_msg.c, compiled in
//! userspace by the replay crate), in order, after a prelude that leaves
//! four jobs in flight: it validates, then applies the message to the real
//! job core and the replay's V4L2 front, and no oracle may fire.
//!
//! Each write also goes through the codec on its own (the replay crate's
//! build, with the C interface bindgen generates from its shim), which must
//! uphold its documented contract, and the protocol crate must agree with
//! it on accept or reject and on every field. The
//! accepted messages also make the input's scenario equivalent
//! ([`scenario`]), which is what a find is stored as.

use daedalus_proto::{
    Direction, HDR_SIZE as HDR, MAX_PAYLOAD, Message, MsgType, PROTO_VERSION, ProtoError,
};
use daedalus_replay::Scenario;
use daedalus_replay::scenario::{Event, JobRef, Queue};

const SRC_CONSUMED: u32 = daedalus_proto::FRAME_SRC_CONSUMED;
const HAS_PIXELS: u32 = daedalus_proto::FRAME_HAS_PIXELS;
const RESP_HELLO: u16 = MsgType::RespHello.raw();
const RESP_FRAME: u16 = MsgType::RespFrame.raw();
const RESP_STREAM_INFO: u16 = MsgType::RespStreamInfo.raw();
const RESP_PONG: u16 = MsgType::RespPong.raw();
const RESP_SESSION_ERROR: u16 = MsgType::RespSessionError.raw();
const RESP_RESET_DONE: u16 = MsgType::RespResetDone.raw();
/// The context the prelude opens.
pub const CTX: u32 = 1;
/// Most writes one input is cut into.
const MAX_WRITES: usize = 32;

use daedalus_replay::core::ffi::{
    DAEDALUS_REJECT_MAX, EINVAL, EPROTO, daedalus_msg as RawMsg, daedalus_msg_header_len,
    daedalus_msg_parse,
};

/// The module's verdict on one write: the validated message or the
/// reason and errno.
enum Parsed {
    Ok(RawMsg),
    Refused { errno: i32, reason: u32 },
}

fn c_parse(bytes: &[u8]) -> Parsed {
    // An exact-size copy: ASan then sees any read past the write.
    let buf = bytes.to_vec().into_boxed_slice();
    // SAFETY: all-zero is a valid RawMsg (integers and a null pointer).
    let mut msg: RawMsg = unsafe { std::mem::zeroed() };
    let mut reason = u32::MAX;
    // SAFETY: buf holds buf.len() bytes; msg and reason are valid for writes.
    let ret = unsafe { daedalus_msg_parse(buf.as_ptr().cast(), buf.len(), &mut msg, &mut reason) };
    if ret != 0 {
        assert!(
            ret == -EINVAL || ret == -EPROTO,
            "daedalus_msg_parse returned {ret}, not -EINVAL or -EPROTO"
        );
        assert!(
            reason < DAEDALUS_REJECT_MAX,
            "refused with no valid reason ({reason})"
        );
        return Parsed::Refused {
            errno: -ret,
            reason,
        };
    }
    if msg.type_ == RESP_FRAME {
        // SAFETY: the codec filled the frame member for RESP_FRAME.
        let f = unsafe { msg.__bindgen_anon_1.frame };
        if !f.data.is_null() {
            let start = buf.as_ptr() as usize;
            let at = f.data as usize;
            assert!(
                at >= start + HDR && at + f.data_len as usize <= start + buf.len(),
                "RESP_FRAME data points outside the write"
            );
        }
        // Reset: buf dies here.
        msg.__bindgen_anon_1.frame.data = std::ptr::null();
    }
    Parsed::Ok(msg)
}

/// Checks the documented contract of one accepted message and its
/// agreement with the protocol crate; returns the job-core event it
/// dispatches to, if any.
fn check_accepted(bytes: &[u8], m: &RawMsg, rust: &Result<Message, ProtoError>) -> Option<Event> {
    let mut total = 0u32;
    let mut reason = 0u32;
    // SAFETY: bytes is valid for its length; the out-pointers are valid.
    let hl = unsafe {
        daedalus_msg_header_len(bytes.as_ptr().cast(), bytes.len(), &mut total, &mut reason)
    };
    assert_eq!(hl, 0, "header_len refuses a message parse accepts");
    assert_eq!(
        total as usize,
        bytes.len(),
        "header_len and parse disagree on length"
    );
    let r = match rust {
        Ok(r) => r,
        // The module parses a RESP_HELLO of any protocol version and refuses
        // a foreign one at the handshake (-EPROTO, daedalus_chardev.c), where
        // daedalus-proto refuses it while decoding: the same verdict.
        Err(ProtoError::BadVersion(_))
            if m.type_ == MsgType::RespHello.raw()
                && u32::from_le_bytes(bytes[HDR..HDR + 4].try_into().unwrap())
                    != u32::from(PROTO_VERSION) =>
        {
            return None;
        }
        Err(e) => panic!(
            "the module accepts {:#06x} that daedalus-proto refuses: {e}",
            m.type_
        ),
    };
    assert_eq!(
        r.ty() as u16,
        m.type_,
        "type differs between the module and daedalus-proto"
    );
    // SAFETY (all union reads below): the member read is the one the codec
    // fills for m.type_.
    match m.type_ {
        RESP_FRAME => {
            let f = unsafe { m.__bindgen_anon_1.frame };
            assert!(
                f.flags & (SRC_CONSUMED | HAS_PIXELS) != 0,
                "accepted RESP_FRAME without SRC_CONSUMED or HAS_PIXELS"
            );
            assert!(
                f.data_len == 0 || f.data_len == f.bytesused,
                "data_len is neither 0 nor bytesused"
            );
            let Message::RespFrame { cookie, body, .. } = r else {
                unreachable!()
            };
            assert_eq!(
                (
                    *cookie,
                    body.ctx_id,
                    body.flags,
                    body.timestamp,
                    body.bytesused,
                    body.generation
                ),
                (
                    m.cookie,
                    f.ctx_id,
                    f.flags,
                    f.timestamp,
                    f.bytesused,
                    f.generation
                ),
                "RESP_FRAME fields differ between the module and daedalus-proto"
            );
            Some(Event::Frame {
                ctx: f.ctx_id,
                job: JobRef::Cookie(m.cookie),
                flags: f.flags,
                ts: f.timestamp,
                bytes: f.bytesused,
                generation: Some(f.generation),
            })
        }
        RESP_STREAM_INFO => {
            let s = unsafe { m.__bindgen_anon_1.stream_info };
            assert!(
                s.coded_width > 0 && s.coded_height > 0,
                "zero coded size accepted"
            );
            assert!(
                (1..=32).contains(&s.dpb_size),
                "dpb_size {} accepted",
                s.dpb_size
            );
            assert!(
                s.visible_width > 0
                    && s.visible_height > 0
                    && u64::from(s.visible_left) + u64::from(s.visible_width)
                        <= u64::from(s.coded_width)
                    && u64::from(s.visible_top) + u64::from(s.visible_height)
                        <= u64::from(s.coded_height),
                "visible rectangle outside the coded size accepted"
            );
            Some(Event::StreamInfo {
                ctx: s.ctx_id,
                width: s.coded_width,
                height: s.coded_height,
                dpb: s.dpb_size,
            })
        }
        RESP_SESSION_ERROR => {
            let e = unsafe { m.__bindgen_anon_1.session_error };
            Some(Event::SessionError {
                ctx: e.ctx_id,
                code: e.error,
            })
        }
        RESP_RESET_DONE => {
            let r = unsafe { m.__bindgen_anon_1.reset_done };
            Some(Event::ResetDone {
                ctx: r.ctx_id,
                generation: Some(r.generation),
            })
        }
        RESP_HELLO => {
            let h = unsafe { m.__bindgen_anon_1.hello };
            assert!(
                h.max_width > 0 && h.max_height > 0,
                "zero maximum size accepted"
            );
            None
        }
        RESP_PONG => None,
        t => panic!("daedalus_msg_parse accepted non-response type {t:#06x}"),
    }
}

/// Cuts an input into writes: u16 LE length, then that many bytes (fewer
/// at the end).
pub fn writes(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while data.len() >= 2 && out.len() < MAX_WRITES {
        let n = usize::from(u16::from_le_bytes([data[0], data[1]])).min(data.len() - 2);
        out.push(&data[2..2 + n]);
        data = &data[2 + n..];
    }
    out
}

/// The inverse of [`writes`], for building seeds.
pub fn join(msgs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in msgs {
        let n = u16::try_from(m.len()).expect("a seed write fits in u16");
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(m);
    }
    out
}

/// A daemon attached, context [`CTX`] streaming with four OUTPUT and
/// four CAPTURE buffers queued: one job running, three waiting.
pub fn prelude() -> Vec<Event> {
    let mut ev = vec![
        Event::DaemonAttach { version: 1 },
        Event::Open {
            ctx: CTX,
            stateless: false,
        },
    ];
    for queue in [Queue::Output, Queue::Capture] {
        ev.push(Event::Reqbufs {
            ctx: CTX,
            queue,
            count: 4,
        });
    }
    for i in 0..4u32 {
        ev.push(Event::Qbuf {
            ctx: CTX,
            queue: Queue::Output,
            index: i,
            ts: u64::from(i) * 33_333_333,
            size: 4096,
            req: None,
        });
        ev.push(Event::Qbuf {
            ctx: CTX,
            queue: Queue::Capture,
            index: i,
            ts: 0,
            size: 0,
            req: None,
        });
    }
    for queue in [Queue::Output, Queue::Capture] {
        ev.push(Event::Streamon { ctx: CTX, queue });
    }
    ev
}

/// The scenario an input dispatches to the job core: the prelude, then
/// one event per accepted message. Panics on any codec check.
pub fn scenario(data: &[u8]) -> Scenario {
    let mut events = prelude();
    for w in writes(data) {
        let (mut total, mut reason) = (0u32, 0u32);
        // SAFETY: w is valid for its length; the out-pointers are valid.
        let hl =
            unsafe { daedalus_msg_header_len(w.as_ptr().cast(), w.len(), &mut total, &mut reason) };
        if hl == 0 {
            assert!(
                (HDR as u32..=HDR as u32 + MAX_PAYLOAD).contains(&total),
                "header_len accepts a total of {total} bytes"
            );
        }
        let rust = Message::decode_dir(w, Direction::Response);
        match c_parse(w) {
            Parsed::Ok(m) => events.extend(check_accepted(w, &m, &rust)),
            Parsed::Refused { errno, reason } => {
                if let Ok(r) = &rust {
                    panic!(
                        "daedalus-proto accepts {} that the module refuses (errno {errno}, reason {reason})",
                        r.ty()
                    );
                }
            }
        }
    }
    Scenario::from_events(events)
}

/// The target body.
pub fn fuzz(data: &[u8]) {
    // The codec contract and the protocol crate's agreement.
    let s = scenario(data);
    let writes = writes(data);
    let prelude = Scenario::from_events(prelude());
    let o = match daedalus_replay::run_writes(&prelude, &writes, crate::options()) {
        Ok(o) => o,
        Err(e) => panic!("the replay executor cannot run: {e}"),
    };
    if let Some(v) = o.verdict.violation() {
        panic!(
            "kmod_messages: invariant {} broken\n{v}\nat write {} of {}\nscenario equivalent:\n{}",
            v.invariant.name(),
            o.events_run.saturating_sub(prelude.lines.len()),
            writes.len(),
            s.to_text()
        );
    }
}
