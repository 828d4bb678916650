//! What the daemon's integration tests share: the digest they compare a
//! decode with ffmpeg's software framemd5 by.

use daedalusd::clip::FrameMd5;
use daedalusd::kernel_role::KernelRole;
use daedalusd::layout::visible_i420;
use md5::{Digest, Md5};

/// MD5 of a picture's visible I420 and its timestamp, for every picture
/// the kernel's role received, in order.
pub fn digest(role: &KernelRole) -> Vec<FrameMd5> {
    role.pictures
        .iter()
        .map(|p| {
            let f = p.format.expect("a picture after STREAM_INFO");
            let i420 = visible_i420(
                &p.data,
                p.pixfmt,
                f.coded_width,
                f.coded_height,
                f.visible_width,
                f.visible_height,
            )
            .expect("picture has the announced layout");
            FrameMd5 {
                timestamp: p.timestamp,
                md5: Md5::digest(&i420)
                    .iter()
                    .map(|x| format!("{x:02x}"))
                    .collect(),
            }
        })
        .collect()
}
