//! Every way a buffer can be malformed yields its own typed error.

mod common;

use daedalus_proto::*;

fn sample(name: &str) -> Message {
    common::samples()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap()
        .1
}

/// Encodes `msg` without validation by patching a valid encoding: the
/// encoder refuses invalid messages, so the bad bytes are made by hand.
fn bytes_of(name: &str) -> Vec<u8> {
    sample(name).encode().unwrap()
}

fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Rewrites hdr.payload_len to match the buffer.
fn fix_len(b: &mut [u8]) {
    let len = (b.len() - HDR_SIZE) as u32;
    put32(b, 8, len);
}

const B: usize = HDR_SIZE; // body offset

#[test]
fn framing_errors() {
    let good = bytes_of("req_flush");
    assert_eq!(
        Message::decode(&good[..10]),
        Err(ProtoError::Truncated { need: 24, have: 10 })
    );
    assert_eq!(
        Message::decode(&[]),
        Err(ProtoError::Truncated { need: 24, have: 0 })
    );
    assert_eq!(
        Message::decode(&good[..good.len() - 1]),
        Err(ProtoError::Truncated {
            need: good.len(),
            have: good.len() - 1
        })
    );
    let mut long = good.clone();
    long.push(0);
    assert_eq!(
        Message::decode(&long),
        Err(ProtoError::TrailingBytes {
            expected: good.len(),
            have: good.len() + 1
        })
    );

    let mut b = good.clone();
    b[0] = b'X';
    assert!(matches!(Message::decode(&b), Err(ProtoError::BadMagic(_))));
    let mut b = good.clone();
    b[4] = 2;
    assert_eq!(Message::decode(&b), Err(ProtoError::BadVersion(2)));
    let mut b = good.clone();
    b[6..8].copy_from_slice(&0x0042u16.to_le_bytes());
    assert_eq!(Message::decode(&b), Err(ProtoError::UnknownType(0x42)));
    let mut b = good.clone();
    b[6..8].copy_from_slice(&0x8000u16.to_le_bytes());
    assert_eq!(Message::decode(&b), Err(ProtoError::UnknownType(0x8000)));
    let mut b = good.clone();
    put32(&mut b, 12, 1);
    assert!(matches!(
        Message::decode(&b),
        Err(ProtoError::ReservedNonZero {
            field: "hdr.reserved",
            ..
        })
    ));
    let mut b = good.clone();
    put32(&mut b, 8, MAX_PAYLOAD + 1);
    assert_eq!(
        Message::decode(&b),
        Err(ProtoError::PayloadTooLarge {
            len: u64::from(MAX_PAYLOAD) + 1,
            max: MAX_PAYLOAD
        })
    );
    // A cookie on a type that has none.
    let mut b = good.clone();
    put64(&mut b, 16, 9);
    assert!(matches!(
        Message::decode(&b),
        Err(ProtoError::InvalidField {
            field: "hdr.cookie",
            ..
        })
    ));
}

#[test]
fn payload_length_errors() {
    let mut b = bytes_of("req_flush");
    b.truncate(B + 4);
    fix_len(&mut b);
    assert_eq!(
        Message::decode(&b),
        Err(ProtoError::PayloadTooShort {
            ty: MsgType::ReqFlush,
            need: 8,
            have: 4
        })
    );
    let mut b = bytes_of("req_flush");
    b.extend_from_slice(&[0; 8]);
    fix_len(&mut b);
    assert_eq!(
        Message::decode(&b),
        Err(ProtoError::UnexpectedData {
            ty: MsgType::ReqFlush,
            extra: 8
        })
    );

    // REQ_DECODE: one data byte too few, and one too many.
    let mut b = bytes_of("req_decode");
    b.pop();
    fix_len(&mut b);
    assert_eq!(
        Message::decode(&b),
        Err(ProtoError::DataLengthMismatch {
            ty: MsgType::ReqDecode,
            field: "bytes",
            declared: 6,
            actual: 5
        })
    );
    let mut b = bytes_of("req_decode");
    b.push(0);
    fix_len(&mut b);
    assert!(matches!(
        Message::decode(&b),
        Err(ProtoError::DataLengthMismatch {
            declared: 6,
            actual: 7,
            ..
        })
    ));
    // Mapped jobs carry no inline data.
    let mut b = bytes_of("req_decode_mapped");
    b.push(0);
    fix_len(&mut b);
    assert!(matches!(
        Message::decode(&b),
        Err(ProtoError::DataLengthMismatch { actual: 1, .. })
    ));

    // RESP_FRAME: data that does not match bytesused.
    let mut b = bytes_of("resp_frame_has_pixels");
    b.push(0);
    fix_len(&mut b);
    assert!(matches!(
        Message::decode(&b),
        Err(ProtoError::DataLengthMismatch {
            ty: MsgType::RespFrame,
            field: "bytesused",
            declared: 6,
            actual: 7
        })
    ));
    // ... but no data at all is a mapped job's picture.
    let mut b = bytes_of("resp_frame_has_pixels");
    b.truncate(B + RespFrame::SIZE);
    fix_len(&mut b);
    assert!(Message::decode(&b).is_ok());
}

#[test]
fn reserved_fields() {
    for (name, off, field) in [
        ("req_hello", 12, "reserved"),
        ("resp_hello", 28, "reserved"),
        ("req_session_open", 20, "reserved"),
        ("req_session_close", 4, "reserved"),
        ("req_ping", 4, "reserved"),
        ("resp_pong", 4, "reserved"),
        ("resp_frame_src_consumed", 24, "reserved[0]"),
        ("resp_frame_src_consumed", 28, "reserved[1]"),
        ("resp_stream_info", 40, "reserved[0]"),
        ("resp_stream_info", 44, "reserved[1]"),
    ] {
        let mut b = bytes_of(name);
        put32(&mut b, B + off, 0x10);
        match Message::decode(&b) {
            Err(ProtoError::ReservedNonZero {
                field: f,
                value: 0x10,
                ..
            }) => assert_eq!(f, field, "{name}"),
            other => panic!("{name}+{off}: {other:?}"),
        }
    }
}

#[test]
fn undefined_flags_and_enum_values() {
    let mut b = bytes_of("req_decode");
    put32(&mut b, B + 8, 1 << 5);
    assert!(matches!(
        Message::decode(&b),
        Err(ProtoError::UndefinedFlags {
            field: "flags",
            bits: 0x20,
            ..
        })
    ));
    let mut b = bytes_of("resp_frame_src_consumed");
    put32(&mut b, B + 4, FRAME_SRC_CONSUMED | 1 << 31);
    assert!(matches!(
        Message::decode(&b),
        Err(ProtoError::UndefinedFlags {
            bits: 0x8000_0000,
            ..
        })
    ));
    let mut b = bytes_of("resp_hello");
    put32(&mut b, B + 24, HELLO_FLAGS + 1);
    assert!(matches!(
        Message::decode(&b),
        Err(ProtoError::UndefinedFlags { field: "flags", .. })
    ));
    let mut b = bytes_of("resp_hello");
    put32(&mut b, B + 8, 1); // bit 0 is no codec
    assert!(matches!(
        Message::decode(&b),
        Err(ProtoError::UndefinedFlags {
            field: "codecs",
            bits: 1,
            ..
        })
    ));
    let mut b = bytes_of("resp_hello");
    put32(&mut b, B + 12, 1 << 3);
    assert!(matches!(
        Message::decode(&b),
        Err(ProtoError::UndefinedFlags {
            field: "pixfmts",
            ..
        })
    ));

    for codec in [0, 6, u32::MAX] {
        let mut b = bytes_of("req_session_open");
        put32(&mut b, B + 4, codec);
        assert!(
            matches!(Message::decode(&b), Err(ProtoError::InvalidCodec { value, .. }) if value == codec)
        );
        let mut b = bytes_of("req_decode");
        put32(&mut b, B + 4, codec);
        assert!(matches!(
            Message::decode(&b),
            Err(ProtoError::InvalidCodec { .. })
        ));
    }
    for pixfmt in [0, 3] {
        let mut b = bytes_of("req_session_open");
        put32(&mut b, B + 8, pixfmt);
        assert!(matches!(
            Message::decode(&b),
            Err(ProtoError::InvalidPixfmt { .. })
        ));
        let mut b = bytes_of("resp_stream_info");
        put32(&mut b, B + 32, pixfmt);
        assert!(matches!(
            Message::decode(&b),
            Err(ProtoError::InvalidPixfmt { .. })
        ));
    }
    for err in [0, 5] {
        let mut b = bytes_of("resp_session_error");
        put32(&mut b, B + 4, err);
        assert_eq!(
            Message::decode(&b),
            Err(ProtoError::InvalidSessionError {
                ty: MsgType::RespSessionError,
                value: err
            })
        );
    }
    // Version inside HELLO bodies.
    let mut b = bytes_of("req_hello");
    put32(&mut b, B, 2);
    assert_eq!(Message::decode(&b), Err(ProtoError::BadVersion(2)));
    let mut b = bytes_of("resp_hello");
    put32(&mut b, B, 0);
    assert_eq!(Message::decode(&b), Err(ProtoError::BadVersion(0)));
}

#[test]
fn forbidden_flag_combinations() {
    let frame = |flags: u32, bytesused: u32, ts: u64| Message::RespFrame {
        cookie: cookie(1, 1),
        body: RespFrame {
            ctx_id: 1,
            flags,
            timestamp: ts,
            bytesused,
            generation: 0,
            reserved: [0; 2],
        },
        data: vec![0; bytesused as usize],
    };
    assert!(matches!(
        frame(0, 0, 0).encode(),
        Err(ProtoError::ForbiddenFlags { .. })
    ));
    assert!(matches!(
        frame(FRAME_ERROR, 0, 0).encode(),
        Err(ProtoError::ForbiddenFlags { .. })
    ));
    assert!(matches!(
        frame(FRAME_SRC_CONSUMED | FRAME_LAST, 0, 0).encode(),
        Err(ProtoError::ForbiddenFlags {
            why: "LAST only with HAS_PIXELS",
            ..
        })
    ));
    assert!(matches!(
        frame(FRAME_SRC_CONSUMED, 4, 0).encode(),
        Err(ProtoError::InvalidField {
            field: "bytesused",
            ..
        })
    ));
    assert!(matches!(
        frame(FRAME_SRC_CONSUMED, 0, 9).encode(),
        Err(ProtoError::InvalidField {
            field: "timestamp",
            ..
        })
    ));
    assert!(
        frame(FRAME_HAS_PIXELS | FRAME_LAST | FRAME_ERROR, 0, 0)
            .encode()
            .is_ok()
    );

    // NO_SRC with a real source index, and a missing source without NO_SRC.
    let mut b = bytes_of("req_decode_no_src");
    put32(&mut b, B + 24, 2);
    assert!(matches!(
        Message::decode(&b),
        Err(ProtoError::ForbiddenFlags {
            flags: DECODE_F_NO_SRC,
            ..
        })
    ));
    let mut b = bytes_of("req_decode");
    put32(&mut b, B + 24, NO_BUF);
    assert!(matches!(
        Message::decode(&b),
        Err(ProtoError::InvalidField {
            field: "src_index",
            ..
        })
    ));
    let mut b = bytes_of("req_decode_no_src");
    put64(&mut b, B + 16, 77);
    assert!(matches!(
        Message::decode(&b),
        Err(ProtoError::InvalidField {
            field: "timestamp",
            ..
        })
    ));
    let mut b = bytes_of("req_decode");
    put32(&mut b, B + 28, NO_BUF);
    assert!(matches!(
        Message::decode(&b),
        Err(ProtoError::InvalidField {
            field: "dst_index",
            ..
        })
    ));
    let mut b = bytes_of("req_decode");
    put64(&mut b, B + 40, 4096);
    assert!(matches!(
        Message::decode(&b),
        Err(ProtoError::InvalidField {
            field: "src_map",
            ..
        })
    ));
}

#[test]
fn invalid_fields() {
    // Cookie generation 0 is never a job.
    let mut b = bytes_of("req_decode");
    put64(&mut b, 16, cookie(3, 0));
    assert!(matches!(
        Message::decode(&b),
        Err(ProtoError::InvalidField {
            field: "hdr.cookie",
            ..
        })
    ));
    let mut b = bytes_of("resp_frame_has_pixels");
    put64(&mut b, 16, 0);
    assert!(matches!(
        Message::decode(&b),
        Err(ProtoError::InvalidField {
            field: "hdr.cookie",
            ..
        })
    ));
    // Context 0.
    for name in [
        "req_session_open",
        "req_session_close",
        "req_decode",
        "req_flush",
        "req_reset",
        "resp_reset_done",
    ] {
        let mut b = bytes_of(name);
        put32(&mut b, B, 0);
        assert!(
            matches!(
                Message::decode(&b),
                Err(ProtoError::InvalidField {
                    field: "ctx_id",
                    ..
                })
            ),
            "{name}"
        );
    }
    // Visible rectangle outside the coded size.
    let mut b = bytes_of("resp_stream_info");
    put32(&mut b, B + 16, 1); // visible_left = 1 with visible_width = coded_width
    assert!(matches!(
        Message::decode(&b),
        Err(ProtoError::InvalidField {
            field: "visible_width",
            ..
        })
    ));
    let mut b = bytes_of("resp_stream_info");
    put32(&mut b, B + 20, u32::MAX);
    assert!(matches!(
        Message::decode(&b),
        Err(ProtoError::InvalidField {
            field: "visible_height",
            ..
        })
    ));
}

/// The module's limits on sizes and DPB (DAEDALUS_MAX_DIM, DAEDALUS_MAX_DPB,
/// non-empty capability masks) are the protocol's: a daemon must not be able
/// to encode a message the module refuses (a `kmod_messages` fuzz find:
/// coded 320x56816 and dpb_size 4194308 passed here and failed there).
#[test]
fn module_limits() {
    let field_err = |name: &str, at: usize, value: u32| {
        let mut b = bytes_of(name);
        put32(&mut b, B + at, value);
        match Message::decode(&b) {
            Err(ProtoError::InvalidField { field, .. }) => field,
            other => panic!("{name} +{at} = {value}: {other:?}"),
        }
    };
    // resp_stream_info: coded_width +8, coded_height +12, visible_width
    // +24, visible_height +28, dpb_size +36.
    assert_eq!(field_err("resp_stream_info", 12, 56816), "coded_height");
    assert_eq!(field_err("resp_stream_info", 8, MAX_DIM + 1), "coded_width");
    assert_eq!(field_err("resp_stream_info", 24, 0), "visible_width");
    assert_eq!(field_err("resp_stream_info", 28, 0), "visible_height");
    assert_eq!(field_err("resp_stream_info", 36, 0), "dpb_size");
    assert_eq!(field_err("resp_stream_info", 36, 4194308), "dpb_size");
    assert_eq!(field_err("resp_stream_info", 36, MAX_DPB + 1), "dpb_size");
    // resp_hello: codecs +8, pixfmts +12, max_width +16, max_height +20.
    assert_eq!(field_err("resp_hello", 8, 0), "codecs");
    assert_eq!(field_err("resp_hello", 12, 0), "pixfmts");
    assert_eq!(field_err("resp_hello", 16, 0), "max_width");
    assert_eq!(field_err("resp_hello", 20, MAX_DIM + 1), "max_height");
    // The limits themselves are accepted.
    let mut b = bytes_of("resp_stream_info");
    put32(&mut b, B + 36, MAX_DPB);
    assert!(Message::decode(&b).is_ok());
}

/// RESP_HELLO promising a picture that no RESP_FRAME can carry is refused,
/// as the module refuses it (daedalus_msg.c): the largest size whose
/// coded picture fits one RESP_FRAME passes, one macroblock row more
/// does not.
#[test]
fn hello_maximum_size_must_fit_one_frame() {
    let hello = |w: u32, h: u32| {
        Message::RespHello(RespHello {
            proto_version: PROTO_VERSION.into(),
            daemon_version: 0x10000,
            codecs: Codec::H264.bit(),
            pixfmts: Pixfmt::Nv12.bit(),
            max_width: w,
            max_height: h,
            flags: 0,
            reserved: 0,
        })
        .encode()
    };
    let room = u64::from(MAX_PAYLOAD) - RespFrame::SIZE as u64;
    // 8192 wide: the tallest coded height in macroblock rows that fits.
    let rows = room * 2 / 3 / 8192 / 16;
    let fits = (rows * 16) as u32;
    assert!(hello(8192, 4352).is_ok(), "daedalusd's own maximum");
    assert!(hello(8192, fits).is_ok());
    assert!(matches!(
        hello(8192, fits + 1),
        Err(ProtoError::InvalidField {
            field: "max_height",
            ..
        })
    ));
    assert!(matches!(
        hello(MAX_DIM, MAX_DIM),
        Err(ProtoError::InvalidField { .. })
    ));
}

/// A stateless H.264 request carries its controls whole, before the
/// bitstream; each broken rule of them is its own error, with its field.
#[test]
fn stateless_requests_carry_their_controls_whole() {
    let d = B + ReqDecode::SIZE; // the controls
    let good = bytes_of("req_decode_h264_slice");
    assert!(Message::decode(&good).is_ok());

    // Controls cut short: fewer bytes than daedalus_h264_slice.
    let mut b = good[..d + 100].to_vec();
    put32(&mut b, B + 32, 0); // bytes
    fix_len(&mut b);
    assert!(matches!(
        Message::decode(&b),
        Err(ProtoError::DataLengthMismatch { declared, actual: 100, .. })
            if declared == H264Slice::SIZE as u64
    ));
    // The bitstream's length still counts after the controls.
    let mut b = good.clone();
    put32(&mut b, B + 32, 7);
    assert!(matches!(
        Message::decode(&b),
        Err(ProtoError::DataLengthMismatch {
            field: "bytes",
            declared: 7,
            actual: 6,
            ..
        })
    ));
    // Mapped: the controls inline, no bitstream.
    let mut b = good[..d + H264Slice::SIZE].to_vec();
    put32(&mut b, B + 8, DECODE_F_MAPPED);
    fix_len(&mut b);
    assert!(Message::decode(&b).is_ok());
    let mut b = good.clone();
    put32(&mut b, B + 8, DECODE_F_MAPPED);
    assert!(matches!(
        Message::decode(&b),
        Err(ProtoError::DataLengthMismatch {
            declared: 0,
            actual: 6,
            ..
        })
    ));
    // A request always has its OUTPUT buffer.
    let mut b = good[..d + H264Slice::SIZE].to_vec();
    put32(&mut b, B + 8, DECODE_F_NO_SRC);
    put64(&mut b, B + 16, 0);
    put32(&mut b, B + 24, NO_BUF);
    put32(&mut b, B + 32, 0);
    fix_len(&mut b);
    assert!(matches!(
        Message::decode(&b),
        Err(ProtoError::ForbiddenFlags { .. })
    ));

    let patched = |at: usize, v: u32| {
        let mut b = good.clone();
        put32(&mut b, d + at, v);
        Message::decode(&b)
    };
    assert!(matches!(
        patched(0, 2),
        Err(ProtoError::UndefinedFlags {
            field: "daedalus_h264_slice.flags",
            bits: 2,
            ..
        })
    ));
    for (at, field) in [
        (4, "daedalus_h264_slice.width"),
        (8, "daedalus_h264_slice.height"),
    ] {
        for v in [0, MAX_DIM + 1] {
            assert!(
                matches!(patched(at, v), Err(ProtoError::InvalidField { field: f, .. }) if f == field),
                "{field} = {v}"
            );
        }
    }
    assert!(matches!(
        patched(12, 1),
        Err(ProtoError::ReservedNonZero {
            field: "daedalus_h264_slice.reserved",
            ..
        })
    ));
    assert!(matches!(
        patched(H264Slice::SIZE - 4, 1),
        Err(ProtoError::ReservedNonZero {
            field: "daedalus_h264_slice.reserved2",
            ..
        })
    ));
    // decode_params.reserved, after the DPB and 12 more fields.
    assert!(matches!(
        patched(16 + 16 * 32 + 40, 1),
        Err(ProtoError::ReservedNonZero {
            field: "decode_params.reserved",
            ..
        })
    ));
    // dpb[5].reserved, after reference_ts, pic_num, frame_num, fields.
    assert!(matches!(
        patched(16 + 5 * 32 + 15, 1),
        Err(ProtoError::ReservedNonZero {
            field: "dpb[].reserved",
            ..
        })
    ));
    // A scaling matrix without its flag; with the flag it is taken.
    let matrix = 16 + 560 + 1048 + 12;
    assert!(matches!(
        patched(matrix, 16),
        Err(ProtoError::InvalidField {
            field: "daedalus_h264_slice.scaling_matrix",
            ..
        })
    ));
    let mut b = good.clone();
    put32(&mut b, d + matrix, 16);
    put32(&mut b, d, H264_F_SCALING_MATRIX);
    assert!(Message::decode(&b).is_ok());
}
