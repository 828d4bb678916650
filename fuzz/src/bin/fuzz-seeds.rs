//! `fuzz-seeds [DIR]`: (re)writes the generated seed corpora under
//! DIR (default fuzz/seeds): valid message sequences for kmod_messages and
//! daemon_protocol, tracefs renderings of the traces/ scenarios for
//! trace_import, the operations of each traces/ scenario for orderings
//! (and its dictionary, fuzz/dict/orderings.dict: one operation an entry),
//! and a short B-frame H.264 clip (made with the ffmpeg binary and
//! libx264) for bitstream. The scenario_text seeds are hand-written and
//! are left alone.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use daedalus_fuzz::corpus::{dict_file, fuzz_dir, orderings_seeds, trace_scenarios};
use daedalus_fuzz::kmod_messages::{CTX, join, prelude};
use daedalus_proto::*;
use daedalus_replay::oracle::Record;
use daedalus_replay::{Options, Scenario, seeds};

fn enc(m: Message) -> Vec<u8> {
    m.encode().expect("seed messages are valid")
}

fn frame(cookie: u64, flags: u32, ts: u64, data: &[u8]) -> Vec<u8> {
    enc(Message::RespFrame {
        cookie,
        body: RespFrame {
            ctx_id: CTX,
            flags,
            timestamp: ts,
            bytesused: data.len() as u32,
            generation: 1,
            reserved: [0; 2],
        },
        data: data.to_vec(),
    })
}

fn kmod_messages(dir: &Path) {
    // The cookies the prelude's jobs really get from the job core.
    let out = daedalus_replay::run(&Scenario::from_events(prelude()), &Options::default())
        .expect("the prelude runs");
    let cookies: Vec<u64> = out
        .log
        .iter()
        .filter_map(|(_, r)| match r {
            Record::DeviceRun { cookie, .. } if *cookie != 0 => Some(*cookie),
            _ => None,
        })
        .collect();
    let c1 = *cookies.first().expect("the prelude starts a job");
    let info = enc(Message::RespStreamInfo {
        cookie: c1,
        body: RespStreamInfo {
            ctx_id: CTX,
            generation: 1,
            coded_width: 320,
            coded_height: 240,
            visible_left: 0,
            visible_top: 0,
            visible_width: 320,
            visible_height: 240,
            pixfmt: Pixfmt::Nv12.raw(),
            dpb_size: 4,
            reserved: [0; 2],
        },
    });
    let pic = [0x80u8; 64];
    let seeds: Vec<(&str, Vec<Vec<u8>>)> = vec![
        (
            "in-order",
            vec![
                info.clone(),
                frame(c1, FRAME_SRC_CONSUMED | FRAME_HAS_PIXELS, 0, &pic),
            ],
        ),
        (
            "parked",
            vec![
                frame(c1, FRAME_SRC_CONSUMED, 0, &[]),
                frame(c1, FRAME_HAS_PIXELS, 0, &pic),
                frame(c1, FRAME_HAS_PIXELS, 0, &pic),
            ],
        ),
        (
            "errors",
            vec![
                enc(Message::RespSessionError(RespSessionError {
                    ctx_id: CTX,
                    error: SessionErrorCode::Internal.raw(),
                })),
                enc(Message::RespResetDone(RespResetDone {
                    ctx_id: CTX,
                    generation: 2,
                })),
                frame(c1, FRAME_SRC_CONSUMED | FRAME_ERROR, 0, &[]),
            ],
        ),
        (
            "hello-pong",
            vec![
                enc(Message::RespHello(RespHello {
                    proto_version: PROTO_VERSION.into(),
                    daemon_version: 1 << 8,
                    codecs: Codec::H264.bit(),
                    pixfmts: Pixfmt::Nv12.bit(),
                    max_width: 4096,
                    max_height: 2304,
                    flags: 0,
                    reserved: 0,
                })),
                enc(Message::RespPong {
                    token: 7,
                    body: Ping {
                        seq: 7,
                        reserved: 0,
                    },
                }),
            ],
        ),
    ];
    for (name, msgs) in seeds {
        write(dir, "kmod_messages", name, &join(&msgs));
    }
    for (i, c) in cookies.iter().enumerate() {
        let msgs = vec![frame(*c, FRAME_SRC_CONSUMED, 0, &[])];
        write(dir, "kmod_messages", &format!("job{}", i + 1), &join(&msgs));
    }
}

fn daemon_protocol(dir: &Path) {
    let hello = enc(Message::ReqHello(ReqHello {
        proto_version: PROTO_VERSION.into(),
        max_contexts: 32,
        max_payload: MAX_PAYLOAD,
        reserved: 0,
    }));
    let open = enc(Message::ReqSessionOpen(ReqSessionOpen {
        ctx_id: 3,
        codec: Codec::H264.raw(),
        pixfmt: Pixfmt::Nv12.raw(),
        width: 32,
        height: 16,
        reserved: 0,
    }));
    let decode = |slot: u32, src: bool| {
        let data = if src {
            b"\0\0\x01\x65fuzz".to_vec()
        } else {
            Vec::new()
        };
        enc(Message::ReqDecode {
            cookie: cookie(slot, 1),
            body: ReqDecode {
                ctx_id: 3,
                codec: Codec::H264.raw(),
                flags: if src { 0 } else { DECODE_F_NO_SRC },
                generation: 1,
                timestamp: if src { u64::from(slot) * 1000 } else { 0 },
                src_index: if src { slot } else { NO_BUF },
                dst_index: slot,
                bytes: data.len() as u32,
                dst_size: 4096,
                src_map: 0,
                dst_map: 0,
            },
            data,
        })
    };
    let ping = enc(Message::ReqPing {
        token: 1,
        body: Ping {
            seq: 1,
            reserved: 0,
        },
    });
    let flush = enc(Message::ReqFlush(ReqFlush {
        ctx_id: 3,
        generation: 1,
    }));
    let reset = enc(Message::ReqReset(ReqReset {
        ctx_id: 3,
        generation: 2,
    }));
    let close = enc(Message::ReqSessionClose(ReqSessionClose {
        ctx_id: 3,
        reserved: 0,
    }));
    let capture_off = enc(Message::ReqCaptureOff(ReqCaptureOff {
        ctx_id: 3,
        generation: 1,
    }));
    let capture_fmt = enc(Message::ReqCaptureFmt(ReqCaptureFmt {
        ctx_id: 3,
        pixfmt: Pixfmt::Yuv420.raw(),
    }));
    let seeds: Vec<(&str, Vec<Vec<u8>>)> = vec![
        (
            "session",
            vec![
                hello.clone(),
                open.clone(),
                decode(1, true),
                decode(2, true),
                decode(3, true),
                ping.clone(),
                flush,
                decode(4, false),
                close.clone(),
            ],
        ),
        (
            "capture-off",
            vec![
                hello.clone(),
                open.clone(),
                decode(1, true),
                decode(2, true),
                capture_off,
                capture_fmt,
                decode(3, true),
                close.clone(),
            ],
        ),
        (
            "reset",
            vec![
                hello,
                open,
                decode(1, true),
                reset,
                decode(2, true),
                ping,
                close,
            ],
        ),
    ];
    for (name, msgs) in seeds {
        write(dir, "daemon_protocol", name, &join(&msgs));
    }
}

fn trace_import(dir: &Path) {
    for f in trace_scenarios() {
        let s = Scenario::load(&f).expect("traces/ scenarios parse");
        let out = daedalus_replay::run(&s, &Options::default()).expect("run");
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        write(
            dir,
            "trace_import",
            &name,
            daedalus_replay::render::tracefs(&out).as_bytes(),
        );
    }
}

/// One seed a trace: the bytes of the operations it stands for
/// (`daedalus_replay::seeds`), under the trace's name; the dictionary.
fn orderings(dir: &Path) {
    let d = dir.join("orderings");
    if d.is_dir() {
        fs::remove_dir_all(&d).unwrap();
    }
    for (name, bytes) in orderings_seeds() {
        write(dir, "orderings", &name, &bytes);
    }
    fs::write(dict_file("orderings"), seeds::dictionary_text()).unwrap();
}

fn bitstream(dir: &Path) {
    let out = dir.join("bitstream/testsrc-64x48-bframes.h264");
    fs::create_dir_all(out.parent().unwrap()).unwrap();
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc=size=64x48:rate=10")
        .args(["-frames:v", "8", "-c:v", "libx264", "-bf", "2", "-g", "8"])
        .args(["-x264-params", "keyint=8:scenecut=0", "-pix_fmt", "yuv420p"])
        .args(["-f", "h264"])
        .arg(&out)
        .status()
        .expect("run ffmpeg");
    assert!(st.success(), "ffmpeg could not make the bitstream seed");
}

fn write(dir: &Path, target: &str, name: &str, data: &[u8]) {
    let d = dir.join(target);
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join(name), data).unwrap();
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| fuzz_dir().join("seeds"));
    kmod_messages(&dir);
    daemon_protocol(&dir);
    trace_import(&dir);
    orderings(&dir);
    bitstream(&dir);
    println!("fuzz-seeds: wrote {}", dir.display());
}
