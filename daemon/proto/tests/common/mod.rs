//! One valid message of every type (and of every data/flag shape), shared by
//! the snapshot, error and robustness tests.

use daedalus_proto::*;

pub fn samples() -> Vec<(&'static str, Message)> {
    let job = cookie(3, 7);
    vec![
        (
            "req_hello",
            Message::ReqHello(ReqHello {
                proto_version: 1,
                max_contexts: 16,
                max_payload: MAX_PAYLOAD,
                reserved: 0,
            }),
        ),
        (
            "resp_hello",
            Message::RespHello(RespHello {
                proto_version: 1,
                daemon_version: 0x0001_0203,
                codecs: Codec::H264.bit() | Codec::Hevc.bit(),
                pixfmts: Pixfmt::Nv12.bit() | Pixfmt::Yuv420.bit(),
                max_width: 4096,
                max_height: 2304,
                flags: 0,
                reserved: 0,
            }),
        ),
        (
            "req_session_open",
            Message::ReqSessionOpen(ReqSessionOpen {
                ctx_id: 5,
                codec: Codec::H264.raw(),
                pixfmt: Pixfmt::Nv12.raw(),
                width: 1920,
                height: 1080,
                reserved: 0,
            }),
        ),
        (
            "req_session_close",
            Message::ReqSessionClose(ReqSessionClose {
                ctx_id: 5,
                reserved: 0,
            }),
        ),
        (
            "req_decode",
            Message::ReqDecode {
                cookie: job,
                body: ReqDecode {
                    ctx_id: 5,
                    codec: Codec::H264.raw(),
                    flags: 0,
                    generation: 2,
                    timestamp: 33_366_666,
                    src_index: 1,
                    dst_index: 4,
                    bytes: 6,
                    dst_size: 3_110_400,
                    src_map: 0,
                    dst_map: 0,
                },
                data: vec![0, 0, 0, 1, 0x65, 0x88],
            },
        ),
        (
            "req_decode_no_src",
            Message::ReqDecode {
                cookie: cookie(4, 1),
                body: ReqDecode {
                    ctx_id: 5,
                    codec: Codec::H264.raw(),
                    flags: DECODE_F_NO_SRC,
                    generation: 2,
                    timestamp: 0,
                    src_index: NO_BUF,
                    dst_index: 0,
                    bytes: 0,
                    dst_size: 3_110_400,
                    src_map: 0,
                    dst_map: 0,
                },
                data: vec![],
            },
        ),
        (
            "req_decode_mapped",
            Message::ReqDecode {
                cookie: job,
                body: ReqDecode {
                    ctx_id: 5,
                    codec: Codec::Vp9.raw(),
                    flags: DECODE_F_MAPPED,
                    generation: 2,
                    timestamp: 1,
                    src_index: 0,
                    dst_index: 0,
                    bytes: 4096,
                    dst_size: 8192,
                    src_map: 0x10000,
                    dst_map: 0x20000,
                },
                data: vec![],
            },
        ),
        (
            "req_decode_h264_slice",
            Message::ReqDecode {
                cookie: job,
                body: ReqDecode {
                    ctx_id: 6,
                    codec: Codec::H264Slice.raw(),
                    flags: 0,
                    generation: 1,
                    timestamp: 2000,
                    src_index: 2,
                    dst_index: 3,
                    bytes: 6,
                    dst_size: 3_133_440,
                    src_map: 0,
                    dst_map: 0,
                },
                data: [h264_slice().as_slice(), &[0, 0, 1, 0x41, 0x9a, 0x02]].concat(),
            },
        ),
        (
            "req_flush",
            Message::ReqFlush(ReqFlush {
                ctx_id: 5,
                generation: 2,
            }),
        ),
        (
            "req_reset",
            Message::ReqReset(ReqReset {
                ctx_id: 5,
                generation: 3,
            }),
        ),
        (
            "req_capture_off",
            Message::ReqCaptureOff(ReqCaptureOff {
                ctx_id: 5,
                generation: 3,
            }),
        ),
        (
            "req_capture_fmt",
            Message::ReqCaptureFmt(ReqCaptureFmt {
                ctx_id: 5,
                pixfmt: Pixfmt::Yuv420.raw(),
            }),
        ),
        (
            "req_ping",
            Message::ReqPing {
                token: 0xdead_beef,
                body: Ping {
                    seq: 9,
                    reserved: 0,
                },
            },
        ),
        (
            "resp_frame_src_consumed",
            Message::RespFrame {
                cookie: job,
                body: RespFrame {
                    ctx_id: 5,
                    flags: FRAME_SRC_CONSUMED,
                    generation: 2,
                    ..Default::default()
                },
                data: vec![],
            },
        ),
        (
            "resp_frame_has_pixels",
            Message::RespFrame {
                cookie: job,
                body: RespFrame {
                    ctx_id: 5,
                    flags: FRAME_HAS_PIXELS,
                    timestamp: 66_733_333,
                    bytesused: 6,
                    generation: 2,
                    reserved: [0; 2],
                },
                data: vec![16, 16, 16, 16, 128, 128],
            },
        ),
        (
            "resp_frame_both_last",
            Message::RespFrame {
                cookie: job,
                body: RespFrame {
                    ctx_id: 5,
                    flags: FRAME_SRC_CONSUMED | FRAME_HAS_PIXELS | FRAME_LAST,
                    timestamp: 5,
                    bytesused: 2,
                    generation: 2,
                    reserved: [0; 2],
                },
                data: vec![1, 2],
            },
        ),
        (
            "resp_frame_error",
            Message::RespFrame {
                cookie: job,
                body: RespFrame {
                    ctx_id: 5,
                    flags: FRAME_SRC_CONSUMED | FRAME_ERROR,
                    generation: 2,
                    ..Default::default()
                },
                data: vec![],
            },
        ),
        (
            "resp_stream_info",
            Message::RespStreamInfo {
                cookie: job,
                body: RespStreamInfo {
                    ctx_id: 5,
                    generation: 2,
                    coded_width: 1920,
                    coded_height: 1088,
                    visible_left: 0,
                    visible_top: 0,
                    visible_width: 1920,
                    visible_height: 1080,
                    pixfmt: Pixfmt::Nv12.raw(),
                    dpb_size: 5,
                    reserved: [0; 2],
                },
            },
        ),
        (
            "resp_pong",
            Message::RespPong {
                token: 0xdead_beef,
                body: Ping {
                    seq: 9,
                    reserved: 0,
                },
            },
        ),
        (
            "resp_session_error",
            Message::RespSessionError(RespSessionError {
                ctx_id: 5,
                error: SessionErrorCode::UnsupportedCodec.raw(),
            }),
        ),
        (
            "resp_reset_done",
            Message::RespResetDone(RespResetDone {
                ctx_id: 5,
                generation: 3,
            }),
        ),
    ]
}

/// The controls of a 1080p High-profile P picture that references the
/// picture of timestamp 1000, as `daedalus_h264_slice` bytes.
pub fn h264_slice() -> Vec<u8> {
    let mut c = H264Slice {
        width: 1920,
        height: 1080,
        ..Default::default()
    };
    c.sps.profile_idc = 100;
    c.sps.level_idc = 40;
    c.sps.chroma_format_idc = 1;
    c.sps.max_num_ref_frames = 4;
    c.sps.pic_width_in_mbs_minus1 = 119;
    c.sps.pic_height_in_map_units_minus1 = 67;
    c.sps.flags = 0x50; // FRAME_MBS_ONLY | DIRECT_8X8_INFERENCE
    c.pps.pic_init_qp_minus26 = -3;
    c.pps.flags = 0x49; // ENTROPY_CODING_MODE | DEBLOCKING_FILTER_CONTROL_PRESENT | TRANSFORM_8X8_MODE
    c.decode_params.dpb[0].reference_ts = 1000;
    c.decode_params.dpb[0].fields = 3;
    c.decode_params.dpb[0].flags = 0x03; // VALID | ACTIVE
    c.decode_params.nal_ref_idc = 2;
    c.decode_params.frame_num = 1;
    c.decode_params.flags = 0x08; // PFRAME
    let mut out = Vec::new();
    c.put(&mut out);
    out
}
