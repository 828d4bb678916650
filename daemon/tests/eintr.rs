//! A signal that interrupts a blocking read interrupts the read, not the
//! link: `Loopback::recv` retries on EINTR and still returns the message.
//! (A `bitstream` fuzz find: libFuzzer's SIGALRM during a header read ended
//! the attachment.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use daedalus_proto::*;
use daedalusd::transport::{Loopback, Transport};

static SIGNALS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn count(_: libc::c_int) {
    SIGNALS.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn recv_survives_a_signal_during_the_header_read() {
    // A handler without SA_RESTART, so the blocked read() fails with EINTR.
    // SAFETY: `count` is async-signal-safe (one atomic add); the sigaction
    // struct is zeroed and then filled in before use.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = count as *const () as usize;
        sa.sa_flags = 0;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()), 0);
    }
    let (mut kernel, mut daemon) = Loopback::pair().unwrap();
    // SAFETY: pthread_self has no preconditions.
    let reader = unsafe { libc::pthread_self() } as usize;
    let msg = Message::ReqPing {
        token: 7,
        body: Ping {
            seq: 1,
            reserved: 0,
        },
    }
    .encode()
    .unwrap();
    let sender = thread::spawn(move || {
        thread::sleep(Duration::from_millis(200));
        // SAFETY: the reading thread outlives this one (joined below).
        unsafe { libc::pthread_kill(reader as libc::pthread_t, libc::SIGUSR1) };
        thread::sleep(Duration::from_millis(200));
        kernel.send(&msg).unwrap();
        kernel
    });
    let mut buf = Vec::new();
    assert!(daemon.recv(&mut buf).unwrap(), "the link ended");
    let _kernel = sender.join().unwrap();
    assert_eq!(
        SIGNALS.load(Ordering::SeqCst),
        1,
        "the signal was not delivered"
    );
    assert!(matches!(
        Message::decode(&buf).unwrap(),
        Message::ReqPing { token: 7, .. }
    ));
}
