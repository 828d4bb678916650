//! `bitstream`: bytes as an H.264 stream into the daemon's libavcodec
//! backend, over the loopback transport, driven by the kernel's role
//! (daedalusd::kernel_role): HELLO, SESSION_OPEN, one job per chunk, a
//! drain, a close. The daemon must neither crash nor hang (the role's
//! socket times out after 60 s, run.sh's -timeout fires first), must keep the buffer-ownership rules the role checks
//! on every reply, and must end the attachment cleanly. Memory is bounded
//! by the input size limit and libFuzzer's -rss_limit_mb.

use daedalus_proto::{Codec, Pixfmt};
use daedalusd::backend::Backend;
use daedalusd::daemon::{Daemon, Exit};
use daedalusd::ffmpeg::FfmpegBackend;
use daedalusd::kernel_role::KernelRole;
use daedalusd::transport::Loopback;

/// Largest input decoded (larger inputs are cut): keeps one run short.
pub const MAX_INPUT: usize = 64 * 1024;
/// CAPTURE buffers in the role's pool: more than any H.264 DPB.
const NDST: u32 = 24;
/// CAPTURE buffer size: 1920x1088 NV12. Bigger pictures must come back
/// with an error, not overflow anything.
const DST_SIZE: u32 = 1920 * 1088 * 3 / 2;

/// Splits the stream before each Annex-B start code (at most 64 chunks):
/// one access unit or parameter set per job, as a V4L2 client sends.
pub fn chunks(data: &[u8]) -> Vec<&[u8]> {
    let mut cuts = vec![0];
    let mut i = 1;
    while i + 3 <= data.len() && cuts.len() < 64 {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            let at = if data[i - 1] == 0 { i - 1 } else { i };
            if at > *cuts.last().unwrap() {
                cuts.push(at);
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    cuts.push(data.len());
    cuts.windows(2)
        .map(|w| &data[w[0]..w[1]])
        .filter(|c| !c.is_empty())
        .collect()
}

/// Role errors that are the role's own limits, not the daemon's fault.
fn role_limit(e: &str) -> bool {
    e.starts_with("no free CAPTURE buffer") || e.starts_with("no LAST after")
}

/// The target body.
pub fn fuzz(data: &[u8]) {
    let data = &data[..data.len().min(MAX_INPUT)];
    let (mut daemon_end, role_end) = Loopback::pair().expect("socketpair");
    let daemon = std::thread::spawn(move || {
        let mut backend: Box<dyn Backend> =
            Box::new(FfmpegBackend::new(&[Codec::H264], 1).expect("the H.264 decoder"));
        Daemon::new(backend.as_mut())
            .run(&mut daemon_end, None)
            .map_err(|e| e.to_string())
    });
    let mut role = KernelRole::new(role_end, 1, Codec::H264, Pixfmt::Nv12, NDST, DST_SIZE);
    role.keep_pixels = false;
    let result = (|| {
        role.hello()?;
        if role.open(320, 240)?.is_some() {
            return Ok(());
        }
        for (i, c) in chunks(data).into_iter().enumerate() {
            role.job(Some((i as u64 * 33_333_333, c)))?;
        }
        role.drain()?;
        role.close()
    })();
    if let Err(e) = &result
        && !role_limit(e)
    {
        panic!("bitstream: the daemon failed the kernel's role: {e}");
    }
    assert!(
        role.violations.is_empty(),
        "bitstream: ownership rules broken: {:?}",
        role.violations
    );
    role.hang_up();
    match daemon.join() {
        Ok(Ok(Exit::Detached)) => {}
        Ok(other) => panic!("bitstream: the daemon ended with {other:?}"),
        Err(_) => panic!("bitstream: the daemon thread panicked"),
    }
}
