//! Stateless H.264 decoding against ffmpeg's software decode: a client's
//! requests are made from x264 streams the way a stateless client makes
//! them (its parser fills the SPS, PPS and scaling matrix controls; the
//! OUTPUT buffer holds the picture's slices alone), and each request must
//! give back its own picture, in decode order, equal to the software
//! decode's picture with the same timestamp.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use daedalus_proto::*;
use daedalusd::backend::Picture;
use daedalusd::clip;
use daedalusd::daemon::{Daemon, DaemonError, Exit};
use daedalusd::ffmpeg::FfmpegBackend;
use daedalusd::h264_params::{
    NAL_PPS, NAL_SPS, Pps, ScalingMatrix, SpsControl, Visible, decode_flags, dpb_flags, nal_units,
};
use daedalusd::layout::visible_i420;
use daedalusd::stateless::{Request, StatelessError, StatelessH264};
use daedalusd::transport::{Loopback, Transport};
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
    /// An IDR picture: every earlier reference is gone.
    idr: bool,
    /// nal_ref_idc is not 0: later pictures may reference it.
    reference: bool,
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
        let (mut idr, mut reference) = (false, false);
        for unit in nal_units(au) {
            let rbsp = unescape(&unit[1..]);
            match unit[0] & 0x1f {
                NAL_SPS => sps = Some(read_sps(&rbsp)),
                NAL_PPS => {
                    pps = Some(read_pps(&rbsp, sps.as_ref().expect("an SPS first")));
                }
                NAL_SLICE | NAL_IDR => {
                    idr |= unit[0] & 0x1f == NAL_IDR;
                    reference |= unit[0] >> 5 != 0;
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
            idr,
            reference,
            sps: ReadSps {
                sps: s.sps,
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
    let mut bad = r.sps.sps;
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

const DPB_VALID_ACTIVE: u32 = dpb_flags::VALID | dpb_flags::ACTIVE;

/// A client's side of the protocol: its requests as `CODEC_H264_SLICE`
/// REQ_DECODE messages, its DPB a sliding window of the reference
/// pictures it sent since the last IDR, named by timestamp.
struct Client {
    daemon: std::thread::JoinHandle<Result<Exit, DaemonError>>,
    link: Loopback,
    refs: Vec<u64>,
    slot: u32,
}

impl Client {
    fn attach() -> Self {
        let (mut daemon_end, link) = Loopback::pair().unwrap();
        link.set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        let daemon = std::thread::spawn(move || {
            let mut backend = FfmpegBackend::new(Codec::ALL, 1).unwrap();
            Daemon::new(&mut backend).run(&mut daemon_end, None)
        });
        let mut c = Client {
            daemon,
            link,
            refs: Vec::new(),
            slot: 0,
        };
        c.send(&Message::ReqHello(ReqHello {
            proto_version: 1,
            max_contexts: 4,
            max_payload: MAX_PAYLOAD,
            reserved: 0,
        }));
        match c.recv() {
            Message::RespHello(h) => assert_ne!(h.codecs & Codec::H264Slice.bit(), 0),
            m => panic!("{m:?}"),
        }
        c
    }

    fn send(&mut self, m: &Message) {
        self.link.send(&m.encode().unwrap()).unwrap();
    }

    fn recv(&mut self) -> Message {
        let mut buf = Vec::new();
        assert!(self.link.recv(&mut buf).unwrap(), "the daemon hung up");
        Message::decode_dir(&buf, Direction::Response).unwrap()
    }

    fn open(&mut self, r: &ClientRequest) {
        self.send(&Message::ReqSessionOpen(ReqSessionOpen {
            ctx_id: 1,
            codec: Codec::H264Slice.raw(),
            pixfmt: Pixfmt::Nv12.raw(),
            width: r.sps.visible.width,
            height: r.sps.visible.height,
            reserved: 0,
        }));
    }

    /// The controls of `r` with the client's DPB.
    fn controls(&self, r: &ClientRequest) -> H264Slice {
        let mut c = H264Slice {
            width: r.sps.visible.width,
            height: r.sps.visible.height,
            sps: r.sps.sps,
            pps: r.pps,
            ..Default::default()
        };
        if let Some(m) = r.matrix {
            c.flags |= H264_F_SCALING_MATRIX;
            c.scaling_matrix = m;
        }
        let refs = if r.idr { &[][..] } else { &self.refs[..] };
        for (e, &ts) in c.decode_params.dpb.iter_mut().zip(refs) {
            e.reference_ts = ts;
            e.fields = 3;
            e.flags = DPB_VALID_ACTIVE;
        }
        if r.idr {
            c.decode_params.flags |= decode_flags::IDR_PIC;
        }
        c
    }

    /// Sends `r` with `controls` and returns its one reply: flags,
    /// timestamp and picture.
    fn request(&mut self, r: &ClientRequest, controls: &H264Slice) -> (u32, u64, Vec<u8>) {
        if r.idr {
            self.refs.clear();
        }
        self.slot += 1;
        let job = cookie(self.slot, 1);
        let mut data = Vec::new();
        controls.put(&mut data);
        data.extend_from_slice(&r.slices);
        self.send(&Message::ReqDecode {
            cookie: job,
            body: ReqDecode {
                ctx_id: 1,
                codec: Codec::H264Slice.raw(),
                flags: 0,
                generation: 1,
                timestamp: r.timestamp,
                src_index: 0,
                dst_index: 0,
                bytes: r.slices.len() as u32,
                dst_size: 4 << 20,
                src_map: 0,
                dst_map: 0,
            },
            data,
        });
        if r.reference {
            if self.refs.len() == usize::from(r.sps.sps.max_num_ref_frames.max(1)) {
                self.refs.remove(0);
            }
            self.refs.push(r.timestamp);
        }
        match self.recv() {
            Message::RespFrame { cookie, body, data } => {
                assert_eq!(cookie, job, "the reply names the request's own job");
                (body.flags, body.timestamp, data)
            }
            m => panic!("{m:?}"),
        }
    }

    fn detach(self) {
        drop(self.link);
        assert_eq!(self.daemon.join().unwrap().unwrap(), Exit::Detached);
    }
}

fn md5_nv12(data: &[u8], r: &ClientRequest) -> String {
    let (cw, ch) = r.sps.sps.coded_size();
    let v = r.sps.visible;
    let i420 = visible_i420(data, Pixfmt::Nv12, cw, ch, v.width, v.height).unwrap();
    Md5::digest(&i420)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

const DONE: u32 = FRAME_SRC_CONSUMED | FRAME_HAS_PIXELS;

/// Through the protocol: each CODEC_H264_SLICE REQ_DECODE is answered at
/// once, SRC_CONSUMED | HAS_PIXELS on its own cookie, stamped with its
/// own timestamp, its picture the software decode's of that timestamp;
/// B-frames and a change of size included.
#[test]
fn the_daemon_answers_each_request_with_its_own_picture() {
    let dir = clips_dir().join("daemon");
    let a = clip::encode(&dir, "a", 320, 180, 2, 0).unwrap();
    let b = clip::encode(&dir, "b", 176, 144, 1, 4).unwrap();
    let mut packets = clip::packets(&a).unwrap();
    packets.extend(clip::packets(&b).unwrap());
    let reqs = requests(&packets);
    let want = reference(&[&a, &b]);
    let mut client = Client::attach();
    client.open(&reqs[0]);
    for (n, r) in reqs.iter().enumerate() {
        let (flags, ts, data) = client.request(r, &client.controls(r));
        assert_eq!((flags, ts), (DONE, r.timestamp), "request {n}");
        assert_eq!(
            data.len(),
            r.sps.sps.coded_size().0 as usize * r.sps.sps.coded_size().1 as usize * 3 / 2
        );
        assert_eq!(
            Some(&md5_nv12(&data, r)),
            want.get(&r.timestamp),
            "request {n}"
        );
    }
    assert_eq!(reqs.len(), 75);
    client.detach();
}

/// A request the decoder cannot make a picture of gets its buffers back
/// with ERROR, empty; one whose DPB names a picture the session never
/// decoded (skipped, or from before a reset) gets its picture with
/// ERROR; the session goes on decoding.
#[test]
fn bad_requests_get_error_buffers_and_the_session_goes_on() {
    let dir = clips_dir().join("daemon-bad");
    let path = clip::encode(&dir, "bad", 176, 144, 1, 0).unwrap();
    let reqs = requests(&clip::packets(&path).unwrap());
    let want = reference(&[&path]);
    let mut client = Client::attach();
    client.open(&reqs[0]);

    // Controls out of range, then garbage slices: no picture.
    let mut bad = client.controls(&reqs[0]);
    bad.sps.pic_order_cnt_type = 3;
    let (flags, ts, data) = client.request(&reqs[0], &bad);
    assert_eq!(
        (flags, ts, data.len()),
        (DONE | FRAME_ERROR, reqs[0].timestamp, 0)
    );
    let garbage = ClientRequest {
        slices: vec![0, 0, 0, 1, 0x65, 0xff, 0x00, 0x00, 0x00, 0x13],
        idr: false,
        reference: false,
        ..requests(&clip::packets(&path).unwrap()).remove(0)
    };
    let (flags, _, data) = client.request(&garbage, &client.controls(&garbage));
    assert_eq!((flags & FRAME_ERROR, data.len()), (FRAME_ERROR, 0));

    // The stream from its IDR: every picture, no error.
    client.refs.clear();
    for r in &reqs[..4] {
        let (flags, _, data) = client.request(r, &client.controls(r));
        assert_eq!(flags, DONE);
        assert_eq!(Some(&md5_nv12(&data, r)), want.get(&r.timestamp));
    }
    // A reference the session never decoded: named in the DPB, not sent.
    let r = &reqs[4];
    let mut c = client.controls(r);
    c.decode_params.dpb[15].reference_ts = 999_999;
    c.decode_params.dpb[15].flags = DPB_VALID_ACTIVE;
    let (flags, _, data) = client.request(r, &c);
    assert_eq!(flags, DONE | FRAME_ERROR);
    assert!(!data.is_empty(), "the picture still comes, flagged");

    // After a reset nothing decoded before it is a reference.
    client.send(&Message::ReqReset(ReqReset {
        ctx_id: 1,
        generation: 1,
    }));
    assert!(matches!(client.recv(), Message::RespResetDone(_)));
    let r = &reqs[5];
    let (flags, _, _) = client.request(r, &client.controls(r));
    assert_eq!(
        flags & FRAME_ERROR,
        FRAME_ERROR,
        "its references died with the reset"
    );
    // The stream again from its IDR decodes exactly.
    client.refs.clear();
    for r in &reqs {
        let (flags, _, data) = client.request(r, &client.controls(r));
        assert_eq!(flags, DONE);
        assert_eq!(Some(&md5_nv12(&data, r)), want.get(&r.timestamp));
    }
    client.detach();
}
