//! Stateless H.264 decoding against ffmpeg's software decode: a client's
//! requests are made from x264 streams the way a stateless client makes
//! them (its parser fills the SPS, PPS and scaling matrix controls; the
//! OUTPUT buffer holds the picture's slices alone), and each request must
//! give back its own picture, in decode order, equal to the software
//! decode's picture with the same timestamp.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use daedalus_proto::Pixfmt;
use daedalusd::backend::Picture;
use daedalusd::clip;
use daedalusd::h264_params::{NAL_PPS, NAL_SPS, Pps, ScalingMatrix, Visible, nal_units};
use daedalusd::layout::visible_i420;
use daedalusd::stateless::{Request, StatelessError, StatelessH264};
use md5::{Digest, Md5};

#[path = "common/h264.rs"]
mod h264;
use h264::{ReadSps, matrix_of, read_pps, read_sps, unescape};

/// nal_unit_type of a slice of a non-IDR and of an IDR picture.
const NAL_SLICE: u8 = 1;
const NAL_IDR: u8 = 5;

/// One request as a stateless client makes it from an access unit.
struct ClientRequest {
    timestamp: u64,
    sps: ReadSps,
    pps: Pps,
    matrix: Option<ScalingMatrix>,
    slices: Vec<u8>,
}

/// Cuts a stream's access units (in decode order) into requests: the
/// parameter sets become controls, the slices the OUTPUT buffer; SEI and
/// delimiters go, as a stateless client does not send them.
fn requests(packets: &[(u64, Vec<u8>)]) -> Vec<ClientRequest> {
    let (mut sps, mut pps) = (None::<ReadSps>, None);
    let mut out = Vec::new();
    for (ts, au) in packets {
        let mut slices = Vec::new();
        for unit in nal_units(au) {
            let rbsp = unescape(&unit[1..]);
            match unit[0] & 0x1f {
                NAL_SPS => sps = Some(read_sps(&rbsp)),
                NAL_PPS => {
                    pps = Some(read_pps(&rbsp, sps.as_ref().expect("an SPS first")));
                }
                NAL_SLICE | NAL_IDR => {
                    slices.extend([0, 0, 0, 1]);
                    slices.extend(unit);
                }
                _ => {}
            }
        }
        let s = sps.as_ref().expect("an SPS before the first slice");
        let (p, lists) = pps.clone().expect("a PPS before the first slice");
        out.push(ClientRequest {
            timestamp: *ts,
            sps: ReadSps {
                sps: s.sps.clone(),
                visible: s.visible,
                reorder: s.reorder,
                lists: s.lists.clone(),
            },
            pps: p,
            matrix: lists.as_ref().map(matrix_of),
            slices,
        });
    }
    out
}

fn md5_of(picture: impl Picture, coded: (u32, u32), visible: Visible) -> String {
    let mut buf = vec![0; picture.size()];
    picture.write_to(&mut buf, Pixfmt::Yuv420);
    let i420 = visible_i420(
        &buf,
        Pixfmt::Yuv420,
        coded.0,
        coded.1,
        visible.width,
        visible.height,
    )
    .expect("the picture has its coded size");
    Md5::digest(&i420)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Decodes every request in order; each must give its own picture, equal
/// to `expected`'s picture of the same timestamp. Returns how many.
fn decode_all(
    dec: &mut StatelessH264,
    reqs: &[ClientRequest],
    expected: &HashMap<u64, String>,
) -> usize {
    for (n, r) in reqs.iter().enumerate() {
        let picture = dec
            .decode(&Request {
                sps: &r.sps.sps,
                pps: &r.pps,
                matrix: r.matrix.as_ref(),
                visible: r.sps.visible,
                slices: &r.slices,
                timestamp: r.timestamp,
            })
            .unwrap_or_else(|e| panic!("request {n} (ts {}): {e}", r.timestamp));
        let got = md5_of(picture, r.sps.sps.coded_size(), r.sps.visible);
        let want = expected.get(&r.timestamp).expect("a reference picture");
        assert_eq!(&got, want, "request {n}, ts {}", r.timestamp);
    }
    reqs.len()
}

fn clips_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("stateless-{}", std::process::id()))
}

/// The software decode's pictures by timestamp, every one of them.
fn reference(paths: &[&Path]) -> HashMap<u64, String> {
    let all: Vec<_> = paths
        .iter()
        .flat_map(|p| clip::framemd5(p).unwrap())
        .collect();
    let by_ts: HashMap<u64, String> = all.iter().map(|f| (f.timestamp, f.md5.clone())).collect();
    assert_eq!(by_ts.len(), all.len(), "a timestamp in two clips");
    by_ts
}

#[test]
fn each_request_gets_its_own_picture_in_decode_order() {
    // B-frames in a pyramid: decode order is not display order, and a
    // picture comes out of libavcodec only pictures later.
    let dir = clips_dir().join("bframes");
    let path = clip::encode(&dir, "bframes", 320, 180, 2, 0).unwrap();
    let packets = clip::packets(&path).unwrap();
    let reqs = requests(&packets);
    let decode_order: Vec<u64> = reqs.iter().map(|r| r.timestamp).collect();
    let mut display_order = decode_order.clone();
    display_order.sort_unstable();
    assert_ne!(decode_order, display_order, "the clip reorders");
    assert_eq!(
        decode_all(
            &mut StatelessH264::new().unwrap(),
            &reqs,
            &reference(&[&path])
        ),
        50
    );
}

#[test]
fn a_change_of_size_between_requests() {
    // A second stream of another size, its timestamps continuing: the
    // controls change with its first request.
    let dir = clips_dir().join("change");
    let a = clip::encode(&dir, "a", 320, 180, 1, 0).unwrap();
    let b = clip::encode(&dir, "b", 176, 144, 1, 2).unwrap();
    let mut packets = clip::packets(&a).unwrap();
    packets.extend(clip::packets(&b).unwrap());
    let reqs = requests(&packets);
    assert_ne!(reqs[0].sps.visible, reqs[reqs.len() - 1].sps.visible);
    assert_eq!(
        decode_all(
            &mut StatelessH264::new().unwrap(),
            &reqs,
            &reference(&[&a, &b])
        ),
        50
    );
}

#[test]
fn bad_requests_get_errors_and_the_decoder_goes_on() {
    let dir = clips_dir().join("bad");
    let path = clip::encode(&dir, "bad", 176, 144, 1, 0).unwrap();
    let reqs = requests(&clip::packets(&path).unwrap());
    let mut dec = StatelessH264::new().unwrap();
    let r = &reqs[0];
    let request = |sps, slices| Request {
        sps,
        pps: &r.pps,
        matrix: r.matrix.as_ref(),
        visible: r.sps.visible,
        slices,
        timestamp: r.timestamp,
    };
    // Controls out of range: refused before the decoder sees anything.
    let mut bad = r.sps.sps.clone();
    bad.pic_order_cnt_type = 3;
    assert!(matches!(
        dec.decode(&request(&bad, &r.slices)),
        Err(StatelessError::Params(e)) if e.field == "pic_order_cnt_type"
    ));
    // No slice at all: no picture.
    let none = dec.decode(&request(&r.sps.sps, &[]));
    assert!(
        matches!(none, Err(StatelessError::NoPicture)),
        "{:?}",
        none.err()
    );
    // A picture's slices cut short, then garbage: an error or a damaged
    // picture, whichever libavcodec makes of them, and no panic.
    let cut = &r.slices[..r.slices.len() / 2];
    let _ = dec.decode(&request(&r.sps.sps, cut));
    let mut garbage = vec![0, 0, 0, 1, 0x65];
    garbage.extend((0..4000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    let _ = dec.decode(&request(&r.sps.sps, &garbage));
    // Then the stream from its start (an IDR) decodes as ever, on the
    // same decoder.
    assert_eq!(decode_all(&mut dec, &reqs, &reference(&[&path])), 25);
}
