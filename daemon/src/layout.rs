//! The picture layout of RESP_FRAME data (docs/protocol.md, "Pictures"):
//! tightly packed planes of the coded size (the decoded size rounded up to
//! 16), NV12 or I420, samples outside the visible rectangle zero.

use daedalus_proto::Pixfmt;

/// Coded size for a decoded size.
pub fn coded_size(width: u32, height: u32) -> (u32, u32) {
    (width.div_ceil(16) * 16, height.div_ceil(16) * 16)
}

/// Bytes of one picture of coded size `w` x `h`.
pub fn picture_size(w: u32, h: u32) -> usize {
    w as usize * h as usize * 3 / 2
}

/// Inline pictures' buffers, kept for the next pictures of this thread (the
/// daemon's): a new buffer of a picture's size (1.4 MB at 1280x720) is a
/// new mapping, faulted in page by page and unmapped once sent.
const POOL_BUFFERS: usize = 4;

thread_local! {
    static POOL: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A buffer of `size` bytes for a picture, recycled when one is free (its
/// bytes are zero: the layout writes every one anyway).
pub fn picture_buf(size: usize) -> Vec<u8> {
    let mut v = POOL
        .with(|p| {
            let mut p = p.borrow_mut();
            let Some(i) = p.iter().position(|b| b.capacity() >= size) else {
                // Pictures grew: a buffer too small for them goes, making
                // room for one that is not.
                p.pop();
                return None;
            };
            Some(p.swap_remove(i))
        })
        .unwrap_or_default();
    v.clear();
    v.resize(size, 0);
    v
}

/// Gives a sent picture's buffer back for [`picture_buf`].
pub fn recycle(v: Vec<u8>) {
    if v.capacity() == 0 {
        return;
    }
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < POOL_BUFFERS {
            p.push(v);
        }
    });
}

/// One 8-bit 4:2:0 picture as three planes with their strides.
pub struct Planes<'a> {
    pub y: (&'a [u8], usize),
    pub u: (&'a [u8], usize),
    pub v: (&'a [u8], usize),
    pub width: usize,
    pub height: usize,
}

/// Lays `src` out in `pixfmt` at coded size `cw` x `ch`.
pub fn pack(src: &Planes<'_>, pixfmt: Pixfmt, cw: u32, ch: u32) -> Vec<u8> {
    let mut out = picture_buf(picture_size(cw, ch));
    pack_into(src, pixfmt, cw, ch, &mut out);
    out
}

/// Lays `src` out in `pixfmt` at coded size `cw` x `ch` into the first
/// `picture_size(cw, ch)` bytes of `out` (a mapped CAPTURE buffer): every
/// byte is written once, padding included, as the buffer holds whatever
/// its last use left.
pub fn pack_into(src: &Planes<'_>, pixfmt: Pixfmt, cw: u32, ch: u32, out: &mut [u8]) {
    let (cw, ch) = (cw as usize, ch as usize);
    let out = &mut out[..picture_size(cw as u32, ch as u32)];
    let (w, h) = (src.width.min(cw), src.height.min(ch));
    let (cw2, cwh, ch2) = (cw / 2, w.div_ceil(2), h.div_ceil(2));
    let (luma, chroma) = out.split_at_mut(cw * ch);
    for (row, line) in luma.chunks_exact_mut(cw).enumerate() {
        let n = if row < h { w } else { 0 };
        if n > 0 {
            line[..n].copy_from_slice(&src.y.0[row * src.y.1..row * src.y.1 + n]);
        }
        line[n..].fill(0);
    }
    match pixfmt {
        Pixfmt::Nv12 => {
            for (row, line) in chroma.chunks_exact_mut(cw).enumerate() {
                let n = if row < ch2 { cwh } else { 0 };
                if n > 0 {
                    let u = &src.u.0[row * src.u.1..row * src.u.1 + n];
                    let v = &src.v.0[row * src.v.1..row * src.v.1 + n];
                    for ((pair, a), b) in line.chunks_exact_mut(2).zip(u).zip(v) {
                        pair[0] = *a;
                        pair[1] = *b;
                    }
                }
                line[2 * n..].fill(0);
            }
        }
        Pixfmt::Yuv420 => {
            let (cb, cr) = chroma.split_at_mut(cw2 * (ch / 2));
            for (plane, dst) in [(src.u, cb), (src.v, cr)] {
                for (row, line) in dst.chunks_exact_mut(cw2).enumerate() {
                    let n = if row < ch2 { cwh } else { 0 };
                    if n > 0 {
                        line[..n].copy_from_slice(&plane.0[row * plane.1..row * plane.1 + n]);
                    }
                    line[n..].fill(0);
                }
            }
        }
    }
}

/// The visible `w` x `h` picture of a packed buffer as tightly packed I420,
/// the bytes `ffmpeg -f framemd5` hashes.
pub fn visible_i420(
    buf: &[u8],
    pixfmt: Pixfmt,
    cw: u32,
    ch: u32,
    w: u32,
    h: u32,
) -> Option<Vec<u8>> {
    let (cw, ch, w, h) = (cw as usize, ch as usize, w as usize, h as usize);
    if buf.len() != picture_size(cw as u32, ch as u32) || w > cw || h > ch {
        return None;
    }
    let (w2, h2) = (w.div_ceil(2), h.div_ceil(2));
    let mut out = Vec::with_capacity(w * h + 2 * w2 * h2);
    for row in 0..h {
        out.extend_from_slice(&buf[row * cw..row * cw + w]);
    }
    let chroma = &buf[cw * ch..];
    match pixfmt {
        Pixfmt::Nv12 => {
            for plane in 0..2 {
                for row in 0..h2 {
                    out.extend((0..w2).map(|i| chroma[row * cw + 2 * i + plane]));
                }
            }
        }
        Pixfmt::Yuv420 => {
            let q = (cw / 2) * (ch / 2);
            for plane in 0..2 {
                for row in 0..h2 {
                    let at = plane * q + row * (cw / 2);
                    out.extend_from_slice(&chroma[at..at + w2]);
                }
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coded_size_rounds_to_16() {
        assert_eq!(coded_size(1920, 1080), (1920, 1088));
        assert_eq!(coded_size(176, 120), (176, 128));
        assert_eq!(coded_size(16, 16), (16, 16));
    }

    #[test]
    fn pack_then_crop_is_identity_for_both_formats() {
        let (w, h) = (6usize, 4usize);
        let y: Vec<u8> = (0..w * h).map(|i| i as u8).collect();
        let u: Vec<u8> = (0..3 * 2).map(|i| 100 + i as u8).collect();
        let v: Vec<u8> = (0..3 * 2).map(|i| 200 + i as u8).collect();
        let planes = Planes {
            y: (&y, w),
            u: (&u, 3),
            v: (&v, 3),
            width: w,
            height: h,
        };
        let mut want = y.clone();
        want.extend(&u);
        want.extend(&v);
        for pixfmt in [Pixfmt::Nv12, Pixfmt::Yuv420] {
            let buf = pack(&planes, pixfmt, 16, 16);
            assert_eq!(buf.len(), 384);
            assert_eq!(buf[6], 0, "padding is zero");
            assert_eq!(
                visible_i420(&buf, pixfmt, 16, 16, 6, 4).unwrap(),
                want,
                "{pixfmt:?}"
            );
        }
        // A recycled buffer holds the last picture: the next one rewrites
        // every byte.
        recycle(pack(&planes, Pixfmt::Yuv420, 16, 16));
        let nv12 = pack(&planes, Pixfmt::Nv12, 16, 16);
        assert_eq!(&nv12[256..260], &[100, 200, 101, 201]);
        // Into a used buffer: every byte of the picture is rewritten, none
        // after it.
        for pixfmt in [Pixfmt::Nv12, Pixfmt::Yuv420] {
            let mut used = vec![0xa5; 400];
            pack_into(&planes, pixfmt, 16, 16, &mut used);
            assert_eq!(
                &used[..384],
                &pack(&planes, pixfmt, 16, 16)[..],
                "{pixfmt:?}"
            );
            assert_eq!(&used[384..], &[0xa5; 16]);
        }
    }

    #[test]
    fn picture_buffers_are_recycled() {
        let first = picture_buf(1000);
        let at = first.as_ptr();
        recycle(first);
        let again = picture_buf(600);
        assert_eq!(again.as_ptr(), at, "the free buffer is taken again");
        assert_eq!(again.len(), 600);
        assert!(again.iter().all(|&b| b == 0));
        let other = picture_buf(600);
        assert_ne!(other.as_ptr(), at, "a buffer in use is not handed out");
        recycle(again);
        let big = picture_buf(2000);
        assert_ne!(big.as_ptr(), at, "too small a free buffer is not taken");
        assert_eq!(big.len(), 2000);
        // ... and goes, so that the larger pictures' buffers are kept.
        let big_at = big.as_ptr();
        recycle(big);
        recycle(other);
        let again = picture_buf(2000);
        assert_eq!(again.as_ptr(), big_at);
    }
}
