//! `daemon_protocol`: what a broken or hostile kernel side can send the
//! daemon. The input is a sequence of messages (as for `kmod_messages`:
//! u16 LE length, bytes). Each goes through daedalus-proto's decoder, which
//! must be the exact inverse of its encoder, then into the daemon's event
//! loop (`Daemon::handle_bytes`) with the scripted backend, whose sessions
//! then run their state machine on whatever arrives. Every message the
//! daemon sends back must be a valid response, and every RESP_FRAME must
//! name a cookie some REQ_DECODE gave it.

use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use daedalus_proto::{Direction, Message, MsgType};
use daedalusd::daemon::{Daemon, DaemonError};
use daedalusd::scripted::{Script, ScriptedBackend};
use daedalusd::transport::Transport;

use crate::kmod_messages::writes;

/// Replies in an order that parks CAPTURE buffers, reorders pictures and
/// waits for a drain, so the session state machine leaves its easy path.
pub const SCRIPT: &str = "\
info 32x16 dpb=2
frame 1 consumed
frame 2 consumed+pixels ts=src:1
frame 1 pixels ts=src:2
await flush
frame 3 pixels+last bytes=0
fail internal
";

/// Collects what the daemon sends; never has anything to read.
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

/// The target body.
pub fn fuzz(data: &[u8]) {
    let script = Script::parse(SCRIPT).expect("the built-in script parses");
    let mut backend = ScriptedBackend::new(script);
    let mut daemon = Daemon::new(&mut backend);
    let mut t = Capture {
        sent: Vec::new(),
        poll: File::open("/dev/null").expect("open /dev/null"),
    };
    let mut cookies = HashSet::new();
    for w in writes(data) {
        if let Ok(m) = Message::decode(w) {
            let again = m
                .encode()
                .unwrap_or_else(|e| panic!("a decoded {} does not encode again: {e}", m.ty()));
            assert_eq!(again, w, "decode then encode changed a {}", m.ty());
            if let Message::ReqDecode { cookie, .. } = m {
                cookies.insert(cookie);
            }
        }
        match daemon.handle_bytes(w, &mut t) {
            Ok(()) => {}
            // The attachment ends here, as Daemon::run would end it.
            Err(DaemonError::Version(_)) => break,
            Err(e) => panic!("the daemon failed on a message: {e}"),
        }
    }
    for out in &t.sent {
        match Message::decode_dir(out, Direction::Response) {
            Ok(Message::RespFrame { cookie, .. }) => assert!(
                cookies.contains(&cookie),
                "RESP_FRAME for cookie {cookie:#x}, which no REQ_DECODE carried"
            ),
            Ok(m) => assert_ne!(m.ty(), MsgType::RespFrame),
            Err(e) => panic!("the daemon sent an invalid response: {e}"),
        }
    }
}
