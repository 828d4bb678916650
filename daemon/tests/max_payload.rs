//! REQ_HELLO's `max_payload` bounds the pictures the daemon sends, never the
//! fixed bodies: a kernel side that claims to accept fewer bytes than one
//! RESP_FRAME body still gets its buffers back, as ERROR frames. (A
//! `daemon_protocol` fuzz find: `max_payload` 0 made `send` call itself
//! until the stack overflowed.)

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use daedalus_proto::*;
use daedalusd::daemon::Daemon;
use daedalusd::scripted::{Script, ScriptedBackend};
use daedalusd::transport::Transport;

struct Capture {
    sent: Vec<Vec<u8>>,
    poll: File,
}

impl Transport for Capture {
    fn recv(&mut self, _buf: &mut Vec<u8>) -> io::Result<bool> {
        Ok(false)
    }

    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.sent.push(msg.to_vec());
        Ok(())
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.poll.as_fd()
    }
}

fn frames_for(max_payload: u32) -> Vec<RespFrame> {
    let script = Script::parse("frame 1 consumed+pixels bytes=64\n").unwrap();
    let mut backend = ScriptedBackend::new(script);
    let mut daemon = Daemon::new(&mut backend);
    let mut t = Capture {
        sent: Vec::new(),
        poll: File::open("/dev/null").unwrap(),
    };
    let requests = [
        Message::ReqHello(ReqHello {
            proto_version: PROTO_VERSION.into(),
            max_contexts: 1,
            max_payload,
            reserved: 0,
        }),
        Message::ReqSessionOpen(ReqSessionOpen {
            ctx_id: 1,
            codec: Codec::H264.raw(),
            pixfmt: Pixfmt::Nv12.raw(),
            width: 0,
            height: 0,
            reserved: 0,
        }),
        Message::ReqDecode {
            cookie: cookie(0, 1),
            body: ReqDecode {
                ctx_id: 1,
                codec: Codec::H264.raw(),
                flags: 0,
                generation: 0,
                timestamp: 1000,
                src_index: 0,
                dst_index: 0,
                bytes: 4,
                dst_size: 4096,
                src_map: 0,
                dst_map: 0,
            },
            data: vec![0, 0, 0, 1],
        },
    ];
    for r in requests {
        daemon.handle_bytes(&r.encode().unwrap(), &mut t).unwrap();
    }
    t.sent
        .iter()
        .filter_map(|b| match Message::decode(b).unwrap() {
            Message::RespFrame { body, data, .. } => {
                assert_eq!(data.len(), body.bytesused as usize);
                Some(body)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_picture_that_fits_goes_out_whole() {
    let frames = frames_for(MAX_PAYLOAD);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].flags, FRAME_SRC_CONSUMED | FRAME_HAS_PIXELS);
    assert_eq!(frames[0].bytesused, 64);
}

#[test]
fn a_picture_over_max_payload_comes_back_as_an_error_frame() {
    for max_payload in [0, 1, 32, 95] {
        let frames = frames_for(max_payload);
        assert_eq!(frames.len(), 1, "max_payload {max_payload}");
        assert_eq!(
            frames[0].flags,
            FRAME_SRC_CONSUMED | FRAME_HAS_PIXELS | FRAME_ERROR,
            "max_payload {max_payload}"
        );
        assert_eq!(frames[0].bytesused, 0);
    }
}
