//! Golden tests: clips made here with libx264 (B-frames, b-pyramid, GOPs
//! of 12, a resolution change from 320x240 to 176x120) decoded by the
//! daemon over the loopback transport, with this test in the kernel's
//! role (and the client's: CAPTURE is reallocated at the resolution change,
//! streamed off as soon as its LAST arrives). Every picture's MD5 and
//! timestamp must equal `ffmpeg -f framemd5`. Every clip runs inline,
//! with mapped jobs (bitstream and pictures through buffers the daemon
//! maps, revoked as the module revokes them), and with both kinds mixed on
//! one context; the mapped runs also count the daemon's live mappings.

mod common;

use common::digest;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::thread::JoinHandle;

use daedalus_proto::*;
use daedalusd::backend::Backend;
use daedalusd::clip::{self, FrameMd5};
use daedalusd::daemon::{Daemon, DaemonError, Exit};
use daedalusd::ffmpeg::FfmpegBackend;
use daedalusd::kernel_role::{KernelRole, MapMode};
use daedalusd::sandbox::{self, Reach};
use daedalusd::transport::{Loopback, Transport};

struct Clips {
    /// Packets of both segments in decode order.
    packets: Vec<(u64, Vec<u8>)>,
    /// Packets of the first segment alone.
    first: usize,
    expected: Vec<FrameMd5>,
    expected_first: usize,
    /// Each segment's (coded width, coded height, visible width, visible
    /// height): the STREAM_INFOs the session must send.
    formats: [(u32, u32, u32, u32); 2],
}

/// 320x240 for two seconds, then 176x120 for one.
const SHRINK: [(u32, u32, u32, u32); 2] = [(320, 240, 320, 240), (176, 128, 176, 120)];
/// 176x120 for one second, then 320x240 for two: a change to a larger
/// size, where a layout that keeps the old size or format shows.
const GROW: [(u32, u32, u32, u32); 2] = [(176, 128, 176, 120), (320, 240, 320, 240)];

fn clips() -> &'static Clips {
    codec_clips(Codec::H264)
}

/// Made once per codec: the inline and mapped tests share them (and the
/// directory they are made in).
fn codec_clips(codec: Codec) -> &'static Clips {
    static H264: OnceLock<Clips> = OnceLock::new();
    static HEVC: OnceLock<Clips> = OnceLock::new();
    static VP9: OnceLock<Clips> = OnceLock::new();
    let cell = match codec {
        Codec::Hevc => &HEVC,
        Codec::Vp9 => &VP9,
        _ => &H264,
    };
    cell.get_or_init(|| make_clips(codec, SHRINK))
}

/// The H.264 clips whose second segment is the larger.
fn growing_clips() -> &'static Clips {
    static GROWING: OnceLock<Clips> = OnceLock::new();
    GROWING.get_or_init(|| make_clips(Codec::H264, GROW))
}

/// Two segments of `formats`' visible sizes, the larger two seconds long,
/// the smaller one, timestamps continuing.
fn make_clips(codec: Codec, formats: [(u32, u32, u32, u32); 2]) -> Clips {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "golden-{codec:?}-{}x{}-{}",
        formats[0].2,
        formats[0].3,
        std::process::id()
    ));
    let secs = |f: (u32, u32, u32, u32)| if f.2 >= 320 { 2 } else { 1 };
    let (s0, s1) = (secs(formats[0]), secs(formats[1]));
    let a = clip::encode_codec(&dir, "a", codec, formats[0].2, formats[0].3, s0, 0).unwrap();
    let b = clip::encode_codec(&dir, "b", codec, formats[1].2, formats[1].3, s1, s0).unwrap();
    let mut packets = clip::packets(&a).unwrap();
    let first = packets.len();
    packets.extend(clip::packets(&b).unwrap());
    let mut expected = clip::framemd5(&a).unwrap();
    let expected_first = expected.len();
    expected.extend(clip::framemd5(&b).unwrap());
    assert_eq!(expected_first, 25 * s0 as usize);
    assert_eq!(expected.len(), 75);
    Clips {
        packets,
        first,
        expected,
        expected_first,
        formats,
    }
}

fn spawn(backend: Box<dyn Backend + Send>) -> (Loopback, JoinHandle<Result<Exit, DaemonError>>) {
    spawn_mode(backend, MapMode::Inline)
}

/// The daemon on a loopback pair, mapped unless `mode` is `Inline`.
fn spawn_mode(
    mut backend: Box<dyn Backend + Send>,
    mode: MapMode,
) -> (Loopback, JoinHandle<Result<Exit, DaemonError>>) {
    let (mut daemon_end, role_end) = if mode == MapMode::Inline {
        Loopback::pair().unwrap()
    } else {
        Loopback::pair_mapped().unwrap()
    };
    // Confined as the binary is once attached (decoder threads included);
    // a mapped pair's emulation of the module runs in the daemon's thread.
    let extra: &[sandbox::Group] = if mode == MapMode::Inline {
        &[]
    } else {
        &[sandbox::EMULATED_MODULE]
    };
    let handle = std::thread::spawn(move || {
        sandbox::confine_with(Reach::Nothing, extra).unwrap();
        Daemon::new(backend.as_mut()).run(&mut daemon_end, None)
    });
    (role_end, handle)
}

fn ffmpeg(codecs: &[Codec]) -> Box<dyn Backend + Send> {
    Box::new(FfmpegBackend::new(codecs, 1).unwrap())
}

/// A role for `mode`, after HELLO (which offers F_MAPPED exactly on a
/// mapped pair).
fn role_for(
    t: Loopback,
    ctx: u32,
    codec: Codec,
    pixfmt: Pixfmt,
    ndst: u32,
    mode: MapMode,
) -> KernelRole {
    let mut role = KernelRole::new(t, ctx, codec, pixfmt, ndst, 1 << 20);
    role.mapping = mode;
    let hello = role.hello().unwrap();
    let want = if mode == MapMode::Inline {
        HELLO_F_CAPTURE_FMT
    } else {
        HELLO_F_CAPTURE_FMT | HELLO_F_MAPPED
    };
    assert_eq!(hello.flags, want, "RESP_HELLO flags");
    role
}

/// The daemon maps exactly the dsts still parked in it (`when`).
fn assert_mappings(role: &KernelRole, mode: MapMode, when: &str) {
    let want = (mode != MapMode::Inline).then(|| role.parked_mapped());
    assert_eq!(role.live_mappings(), want, "live mappings {when}");
}

fn golden(pixfmt: Pixfmt, split: bool, mode: MapMode) {
    golden_clip(clips(), Codec::H264, pixfmt, split, mode);
}

fn golden_clip(clips: &Clips, codec: Codec, pixfmt: Pixfmt, split: bool, mode: MapMode) {
    golden_run(clips, codec, (pixfmt, pixfmt), split, mode);
}

/// The clip through its resolution change: `pixfmts` are the CAPTURE
/// format's before and after (the client may pick another one when it
/// sets CAPTURE up again, REQ_CAPTURE_FMT).
fn golden_run(clips: &Clips, codec: Codec, pixfmts: (Pixfmt, Pixfmt), split: bool, mode: MapMode) {
    let (t, daemon) = spawn_mode(ffmpeg(&[codec]), mode);
    let mut role = role_for(t, 7, codec, pixfmts.0, 12, mode);
    role.next_pixfmt = Some(pixfmts.1);
    let open = clips.formats[0];
    assert_eq!(role.open(open.2, open.3).unwrap(), None);
    let mut chunks = 0;
    for (ts, data) in &clips.packets {
        if split {
            // Arbitrary cut inside the access unit, both halves stamped
            // with the packet's timestamp (V4L2 continuous bytestream).
            let cut = 1 + (data.len() * 7 / 13).min(data.len() - 1);
            role.job(Some((*ts, &data[..cut]))).unwrap();
            role.job(Some((*ts, &data[cut..]))).unwrap();
            chunks += 2;
        } else {
            role.job(Some((*ts, data))).unwrap();
            chunks += 1;
        }
    }
    let drained = role.drain().unwrap();
    assert!(
        drained > 0,
        "B-frame reordering leaves pictures for the drain"
    );
    // The client takes an ERROR buffer before the LAST for a decode error
    // (ffmpeg then never sets CAPTURE up again): a clean clip has none, the
    // spare dsts at the resolution change stay parked until CAPTURE STREAMOFF.
    assert_eq!(role.dst_errors, 0, "CAPTURE buffers returned with ERROR");
    // Includes every reply naming a job whose buffers the module took back
    // at the CAPTURE STREAMOFF after the resolution change: it would be
    // rejected, and a picture in it lost.
    assert_eq!(role.violations, Vec::<String>::new());
    assert_eq!(role.src_consumed, chunks, "one SRC_CONSUMED per source");
    assert_eq!(role.src_errors, 0);
    assert_eq!(role.capture_setups, 1, "CAPTURE set up again once");
    assert_eq!(
        role.pictures.len(),
        clips.expected.len(),
        "one HAS_PIXELS picture per frame"
    );
    let got = digest(&role);
    for (i, (g, w)) in got.iter().zip(&clips.expected).enumerate() {
        assert_eq!(g, w, "picture {i} of {}", clips.expected.len());
    }
    let sizes: Vec<_> = role
        .infos
        .iter()
        .map(|i| {
            (
                i.coded_width,
                i.coded_height,
                i.visible_width,
                i.visible_height,
            )
        })
        .collect();
    assert_eq!(sizes, clips.formats.to_vec());
    let info_pixfmts: Vec<u32> = role.infos.iter().map(|i| i.pixfmt).collect();
    // Both come before the client sets CAPTURE up again: each names the
    // pixel format CAPTURE had when it was sent.
    assert_eq!(
        info_pixfmts,
        vec![pixfmts.0.raw(); 2],
        "STREAM_INFO names the CAPTURE format's pixel format"
    );
    assert!(role.infos.iter().all(|i| i.dpb_size >= 2));
    assert_eq!(
        role.lasts, 2,
        "one LAST at the resolution change, one at the drain"
    );
    // Spare dsts may stay parked after a drain (the kernel takes them back
    // at STREAMOFF), never more than the DPB size.
    let dpb = role.infos.last().unwrap().dpb_size as usize;
    assert!(
        role.parked() <= dpb,
        "{} dsts parked, DPB {dpb}",
        role.parked()
    );
    // The first segment's pictures all precede the second's, and each went
    // to a CAPTURE buffer of its own resolution's allocation.
    let allocations: Vec<(u32, usize)> = role
        .pictures
        .iter()
        .map(|p| (p.format.unwrap().visible_width, p.allocation))
        .collect();
    let want: Vec<(u32, usize)> = (0..clips.expected.len())
        .map(|i| {
            if i < clips.expected_first {
                (clips.formats[0].2, 0)
            } else {
                (clips.formats[1].2, 1)
            }
        })
        .collect();
    assert_eq!(allocations, want, "(width, CAPTURE allocation) per picture");
    let jobs = role.jobs_sent();
    let mapped = match mode {
        MapMode::Inline => 0,
        MapMode::Mapped => jobs,
        MapMode::Mixed => jobs / 2,
    };
    assert_eq!(role.mapped_jobs, mapped, "jobs sent mapped");
    // The spare dsts left after the drain are the only mappings, until the
    // module takes them back.
    role.barrier().unwrap();
    assert_mappings(&role, mode, "after the drain");
    role.stream_capture_off();
    role.barrier().unwrap();
    assert_eq!(role.parked(), 0);
    assert_mappings(&role, mode, "after REQ_CAPTURE_OFF");
    assert_eq!(role.violations, Vec::<String>::new());
    role.hang_up();
    assert_eq!(daemon.join().unwrap().unwrap(), Exit::Detached);
}

#[test]
fn golden_yuv420() {
    golden(Pixfmt::Yuv420, false, MapMode::Inline);
}

#[test]
fn golden_nv12() {
    golden(Pixfmt::Nv12, false, MapMode::Inline);
}

#[test]
fn golden_nv12_split_chunks() {
    golden(Pixfmt::Nv12, true, MapMode::Inline);
}

#[test]
fn golden_hevc() {
    golden_clip(
        codec_clips(Codec::Hevc),
        Codec::Hevc,
        Pixfmt::Nv12,
        false,
        MapMode::Inline,
    );
}

#[test]
fn golden_vp9() {
    golden_clip(
        codec_clips(Codec::Vp9),
        Codec::Vp9,
        Pixfmt::Yuv420,
        false,
        MapMode::Inline,
    );
}

#[test]
fn golden_yuv420_mapped() {
    golden(Pixfmt::Yuv420, false, MapMode::Mapped);
}

#[test]
fn golden_nv12_mapped() {
    golden(Pixfmt::Nv12, false, MapMode::Mapped);
}

#[test]
fn golden_nv12_split_chunks_mapped() {
    golden(Pixfmt::Nv12, true, MapMode::Mapped);
}

#[test]
fn golden_hevc_mapped() {
    golden_clip(
        codec_clips(Codec::Hevc),
        Codec::Hevc,
        Pixfmt::Nv12,
        false,
        MapMode::Mapped,
    );
}

#[test]
fn golden_vp9_mapped() {
    golden_clip(
        codec_clips(Codec::Vp9),
        Codec::Vp9,
        Pixfmt::Yuv420,
        false,
        MapMode::Mapped,
    );
}

/// Through a change to a larger size, each CAPTURE format, inline and
/// mapped: the pictures after the change are laid out at the new size.
#[test]
fn golden_nv12_to_a_larger_size() {
    golden_run(
        growing_clips(),
        Codec::H264,
        (Pixfmt::Nv12, Pixfmt::Nv12),
        false,
        MapMode::Inline,
    );
}

#[test]
fn golden_yuv420_to_a_larger_size() {
    golden_run(
        growing_clips(),
        Codec::H264,
        (Pixfmt::Yuv420, Pixfmt::Yuv420),
        false,
        MapMode::Inline,
    );
}

#[test]
fn golden_nv12_to_a_larger_size_mapped() {
    golden_run(
        growing_clips(),
        Codec::H264,
        (Pixfmt::Nv12, Pixfmt::Nv12),
        false,
        MapMode::Mapped,
    );
}

#[test]
fn golden_yuv420_to_a_larger_size_mapped() {
    golden_run(
        growing_clips(),
        Codec::H264,
        (Pixfmt::Yuv420, Pixfmt::Yuv420),
        false,
        MapMode::Mapped,
    );
}

/// The client sets CAPTURE up again in another pixel format after the
/// change (GStreamer's decodebin renegotiates NV12 to I420 there): from
/// its REQ_CAPTURE_FMT on, every picture, those the daemon already held
/// included, comes in the new layout.
#[test]
fn golden_nv12_then_yuv420_at_a_larger_size() {
    golden_run(
        growing_clips(),
        Codec::H264,
        (Pixfmt::Nv12, Pixfmt::Yuv420),
        false,
        MapMode::Inline,
    );
}

#[test]
fn golden_yuv420_then_nv12_at_a_larger_size_mapped() {
    golden_run(
        growing_clips(),
        Codec::H264,
        (Pixfmt::Yuv420, Pixfmt::Nv12),
        false,
        MapMode::Mapped,
    );
}

#[test]
fn golden_nv12_then_yuv420_at_a_smaller_size_mapped() {
    golden_run(
        clips(),
        Codec::H264,
        (Pixfmt::Nv12, Pixfmt::Yuv420),
        false,
        MapMode::Mapped,
    );
}

#[test]
fn golden_yuv420_then_nv12_at_a_smaller_size() {
    golden_run(
        clips(),
        Codec::H264,
        (Pixfmt::Yuv420, Pixfmt::Nv12),
        false,
        MapMode::Inline,
    );
}

/// Inline and mapped jobs alternate on one context (a client with MMAP
/// and DMABUF buffers): pictures cross from one kind of job to the other
/// (reordering fills an inline job's dst with a mapped job's source and
/// the reverse) and stay exact.
#[test]
fn golden_nv12_mixed_inline_and_mapped() {
    golden(Pixfmt::Nv12, false, MapMode::Mixed);
}

#[test]
fn golden_yuv420_split_chunks_mixed_inline_and_mapped() {
    golden(Pixfmt::Yuv420, true, MapMode::Mixed);
}

/// CAPTURE streamed off and reallocated in the middle of a GOP
/// (REQ_CAPTURE_OFF): the daemon forgets the dsts it held, never names
/// their cookies again, keeps its decoder, and every picture still comes
/// out exactly, the later ones in the new allocation's buffers.
#[test]
fn capture_off_mid_stream_keeps_the_decoder_and_forgets_the_dsts() {
    capture_off_mid_stream(MapMode::Inline);
}

/// The same with mapped jobs: the dsts the daemon forgets at
/// REQ_CAPTURE_OFF are unmapped, untouched.
#[test]
fn capture_off_mid_stream_unmaps_the_forgotten_dsts() {
    capture_off_mid_stream(MapMode::Mapped);
}

fn capture_off_mid_stream(mode: MapMode) {
    let clips = clips();
    let (t, daemon) = spawn_mode(ffmpeg(&[Codec::H264]), mode);
    let mut role = role_for(t, 5, Codec::H264, Pixfmt::Nv12, 12, mode);
    assert_eq!(role.open(320, 240).unwrap(), None);
    let first = &clips.packets[..clips.first];
    for (i, (ts, data)) in first.iter().enumerate() {
        if i == 17 {
            role.barrier().unwrap();
            assert!(role.parked() > 0, "dsts are parked when CAPTURE goes off");
            assert_mappings(&role, mode, "before REQ_CAPTURE_OFF");
            if mode != MapMode::Inline {
                assert!(role.live_mappings() > Some(0));
            }
            role.stream_capture_off();
            role.barrier().unwrap();
            assert_mappings(&role, mode, "after REQ_CAPTURE_OFF");
        }
        role.job(Some((*ts, data))).unwrap();
    }
    role.drain().unwrap();
    assert_eq!(role.violations, Vec::<String>::new());
    assert_eq!(role.dst_errors, 0);
    assert_eq!(role.capture_setups, 1);
    assert_eq!(digest(&role), clips.expected[..clips.expected_first]);
    assert!(role.pictures.iter().any(|p| p.allocation == 1));
    role.hang_up();
    daemon.join().unwrap().unwrap();
}

/// What a session opened for one size made of the clip's first segment
/// (320x240), decoded whole and drained, every picture checked exact.
struct FirstSegment {
    /// (pictures, STREAM_INFOs) when the first LAST came back.
    at_first_last: Option<(usize, usize)>,
    capture_setups: usize,
    lasts: usize,
    /// Every picture went to a CAPTURE allocation made after the start.
    all_reallocated: bool,
}

fn first_segment_opened_for(ctx: u32, width: u32, height: u32) -> FirstSegment {
    let clips = clips();
    let (t, daemon) = spawn_mode(ffmpeg(&[Codec::H264]), MapMode::Inline);
    let mut role = role_for(t, ctx, Codec::H264, Pixfmt::Nv12, 12, MapMode::Inline);
    assert_eq!(role.open(width, height).unwrap(), None);
    let mut at_first_last = None;
    for (ts, data) in &clips.packets[..clips.first] {
        role.job(Some((*ts, data))).unwrap();
        role.barrier().unwrap();
        if role.lasts == 1 && at_first_last.is_none() {
            at_first_last = Some((role.pictures.len(), role.infos.len()));
        }
    }
    role.drain().unwrap();
    assert_eq!(role.violations, Vec::<String>::new());
    assert_eq!(role.dst_errors, 0);
    assert_eq!(digest(&role), clips.expected[..clips.expected_first]);
    let seg = FirstSegment {
        at_first_last,
        capture_setups: role.capture_setups,
        lasts: role.lasts,
        all_reallocated: role.pictures.iter().all(|p| p.allocation > 0),
    };
    role.hang_up();
    daemon.join().unwrap().unwrap();
    seg
}

/// CAPTURE set up for a format the stream contradicts (v4l2-compliance
/// leaves S_FMT(OUTPUT) at 1920x1080; the clip is 320x240): the first
/// header is a format change. STREAM_INFO comes first, then the current
/// job's dst comes back empty with LAST, before any picture (the parser
/// holds an access unit until the next one starts, so that is the second
/// job's); the client reallocates and every picture reaches the new
/// buffers, exact.
#[test]
fn a_first_format_the_capture_setup_does_not_hold_is_a_change() {
    let seg = first_segment_opened_for(9, 1920, 1080);
    assert_eq!(
        seg.at_first_last,
        Some((0, 1)),
        "(pictures, STREAM_INFOs) when the first header's LAST came back"
    );
    assert_eq!(seg.capture_setups, 1, "CAPTURE set up again once");
    assert_eq!(seg.lasts, 2, "the change's LAST and the drain's");
    assert!(seg.all_reallocated);
}

/// CAPTURE set up for the stream's own size: the first STREAM_INFO only
/// confirms it, and no LAST interrupts the decode.
#[test]
fn a_first_format_the_capture_setup_holds_goes_out_silently() {
    let seg = first_segment_opened_for(10, 320, 240);
    assert_eq!(
        (seg.capture_setups, seg.lasts),
        (0, 1),
        "only the drain's LAST"
    );
    assert!(!seg.all_reallocated);
}

#[test]
fn corrupt_and_truncated_bitstream_gives_errors_and_the_session_goes_on() {
    corrupt_then_reset(MapMode::Inline);
}

/// The same with inline and mapped jobs mixed; REQ_RESET unmaps every
/// dst the daemon held.
#[test]
fn corrupt_bitstream_and_reset_with_mixed_jobs() {
    corrupt_then_reset(MapMode::Mixed);
}

fn corrupt_then_reset(mode: MapMode) {
    let clips = clips();
    let (t, daemon) = spawn_mode(ffmpeg(&[Codec::H264]), mode);
    let mut role = role_for(t, 3, Codec::H264, Pixfmt::Nv12, 12, mode);
    assert_eq!(role.open(320, 240).unwrap(), None);
    let first = &clips.packets[..clips.first];
    let mut sent = 0;
    // Damage the second GOP: a truncated P slice, a garbled one, noise.
    for (i, (ts, data)) in first.iter().enumerate() {
        let mut d = data.clone();
        match i {
            14 => d.truncate(d.len() / 3),
            16 => {
                let n = d.len();
                for (k, b) in d[n / 4..].iter_mut().enumerate() {
                    *b = (k as u8).wrapping_mul(151).wrapping_add(7);
                }
            }
            18 => {
                role.job(Some((*ts, &[0, 0, 1, 0x65, 0xff, 0x00, 0x12, 0x34][..])))
                    .unwrap();
                sent += 1;
            }
            _ => {}
        }
        role.job(Some((*ts, &d))).unwrap();
        sent += 1;
    }
    role.drain().unwrap();
    assert_eq!(role.violations, Vec::<String>::new());
    assert_eq!(
        role.src_consumed, sent,
        "every source is consumed, damaged or not"
    );
    assert!(
        role.src_errors + role.dst_errors > 0,
        "damage must show as ERROR buffers"
    );
    // From the third GOP (clean IDR) on, pictures are exact again.
    let expected = &clips.expected[..clips.expected_first];
    let third_gop = expected[24].timestamp;
    let got = digest(&role);
    let mut exact = 0;
    for g in got.iter().filter(|g| g.timestamp >= third_gop) {
        let want = expected
            .iter()
            .find(|w| w.timestamp == g.timestamp)
            .expect("known timestamp");
        assert_eq!(g.md5, want.md5, "picture at {} after recovery", g.timestamp);
        exact += 1;
    }
    assert_eq!(
        exact,
        expected.len() - 24,
        "every picture after recovery is delivered"
    );
    // And the session decodes a fresh stream exactly after a reset.
    role.barrier().unwrap();
    assert_mappings(&role, mode, "before REQ_RESET");
    role.reset().unwrap();
    assert_mappings(&role, mode, "after REQ_RESET");
    assert_eq!(role.live_mappings().unwrap_or(0), 0);
    let base = role.pictures.len();
    for (ts, data) in &first[..12] {
        role.job(Some((*ts, data))).unwrap();
    }
    role.drain().unwrap();
    assert_eq!(role.violations, Vec::<String>::new());
    let again = &digest(&role)[base..];
    assert_eq!(
        again,
        &expected[..12],
        "the first GOP again, exact, after REQ_RESET"
    );
    role.close().unwrap();
    assert_eq!(
        role.live_mappings().unwrap_or(0),
        0,
        "after the session closed"
    );
    assert_eq!(role.violations, Vec::<String>::new());
    role.hang_up();
    daemon.join().unwrap().unwrap();
}

/// A stream cut short: its last access unit (decode order) ends in the
/// middle of a NAL unit, as a recording stopped mid-write or a truncated
/// download does. The software decoder conceals what is missing and
/// outputs every picture; so does the daemon, the concealed one with
/// ERROR and its pixels. An empty ERROR buffer would not do: during a
/// drain ffmpeg's v4l2_m2m reads an empty CAPTURE buffer as the drain's
/// end and loses every picture after it.
fn cut_short(pixfmt: Pixfmt, mode: MapMode) {
    let clips = clips();
    let mut packets = clips.packets[..clips.first].to_vec();
    let last = &mut packets.last_mut().expect("a clip has packets").1;
    last.truncate(last.len() / 2);
    // The reference: the same bytes as an Annex B file, which ffmpeg's
    // software decoder reads through the same parser, with the daemon's
    // one decoder thread (concealment depends on the thread count).
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("golden-cut-short-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("cut-{pixfmt:?}-{mode:?}.h264"));
    std::fs::write(
        &path,
        packets
            .iter()
            .flat_map(|(_, d)| d.iter().copied())
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    let want = clip::framemd5_threads(&path, Some(1)).unwrap();
    assert_eq!(
        want.len(),
        clips.expected_first,
        "the software decoder outputs every picture of the cut stream"
    );

    let (t, daemon) = spawn_mode(ffmpeg(&[Codec::H264]), mode);
    let mut role = role_for(t, 5, Codec::H264, pixfmt, 12, mode);
    assert_eq!(role.open(320, 240).unwrap(), None);
    for (ts, data) in &packets {
        role.job(Some((*ts, data))).unwrap();
    }
    role.drain().unwrap();
    assert_eq!(role.violations, Vec::<String>::new());
    let got = digest(&role);
    let md5s = |v: &[FrameMd5]| v.iter().map(|f| f.md5.clone()).collect::<Vec<_>>();
    assert_eq!(
        md5s(&got),
        md5s(&want),
        "every picture of the cut stream, in display order, as the software decode"
    );
    let mut stamps: Vec<u64> = packets.iter().map(|(ts, _)| *ts).collect();
    stamps.sort_unstable();
    assert_eq!(
        got.iter().map(|f| f.timestamp).collect::<Vec<_>>(),
        stamps,
        "each picture with its access unit's timestamp"
    );
    let concealed = role.pictures.iter().filter(|p| p.error).count();
    assert!(
        concealed >= 1 && role.dst_errors == concealed,
        "the concealed picture comes with ERROR and its pixels ({concealed} of {} ERROR buffers)",
        role.dst_errors
    );
    role.hang_up();
    daemon.join().unwrap().unwrap();
}

#[test]
fn a_stream_cut_short_gives_every_picture_nv12() {
    cut_short(Pixfmt::Nv12, MapMode::Inline);
}

#[test]
fn a_stream_cut_short_gives_every_picture_yuv420_mapped() {
    cut_short(Pixfmt::Yuv420, MapMode::Mapped);
}

/// A whole stream in one source (v4l2-ctl's `--stream-from` fills its
/// OUTPUT buffers to the brim): every picture comes out, in display order,
/// as the software decode. `segments`: the clip's first segment alone, or
/// both, with the resolution change between them inside the source (its
/// LAST ends the first size's pictures during the drain, which goes on in
/// the new CAPTURE allocation). `open` is the size the CAPTURE format is
/// set up for: 0x0 makes the first header a format change too.
fn one_source(segments: usize, pixfmt: Pixfmt, mode: MapMode, open: (u32, u32)) {
    let clips = clips();
    let (packets, expected) = if segments == 1 {
        (
            &clips.packets[..clips.first],
            &clips.expected[..clips.expected_first],
        )
    } else {
        (&clips.packets[..], &clips.expected[..])
    };
    let stream: Vec<u8> = packets
        .iter()
        .flat_map(|(_, d)| d.iter().copied())
        .collect();
    let (t, daemon) = spawn_mode(ffmpeg(&[Codec::H264]), mode);
    let mut role = role_for(t, 4, Codec::H264, pixfmt, 12, mode);
    assert_eq!(role.open(open.0, open.1).unwrap(), None);
    role.job(Some((40_000, &stream))).unwrap();
    role.drain().unwrap();
    assert_eq!(role.violations, Vec::<String>::new());
    assert_eq!(role.src_consumed, 1);
    assert_eq!((role.src_errors, role.dst_errors), (0, 0));
    let first = usize::from(open == (0, 0));
    let changes = first + segments - 1;
    assert_eq!(role.capture_setups, changes, "CAPTURE set up again");
    assert_eq!(
        role.lasts,
        changes + 1,
        "a LAST per change, one for the drain"
    );
    let got = digest(&role);
    let md5s = |v: &[FrameMd5]| v.iter().map(|f| f.md5.clone()).collect::<Vec<_>>();
    assert_eq!(
        md5s(&got),
        md5s(expected),
        "every picture of the stream, in display order"
    );
    // Every access unit starts in the one source: its timestamp is theirs.
    assert!(got.iter().all(|f| f.timestamp == 40_000));
    let allocations: Vec<(u32, usize)> = role
        .pictures
        .iter()
        .map(|p| (p.format.unwrap().visible_width, p.allocation))
        .collect();
    let want: Vec<(u32, usize)> = (0..expected.len())
        .map(|i| {
            let segment = usize::from(i >= clips.expected_first);
            (clips.formats[segment].2, first + segment)
        })
        .collect();
    assert_eq!(allocations, want, "(width, CAPTURE allocation) per picture");
    role.hang_up();
    daemon.join().unwrap().unwrap();
}

#[test]
fn a_whole_stream_in_one_source_nv12() {
    one_source(1, Pixfmt::Nv12, MapMode::Inline, (320, 240));
}

#[test]
fn a_whole_stream_in_one_source_after_a_format_change_yuv420_mapped() {
    one_source(1, Pixfmt::Yuv420, MapMode::Mapped, (0, 0));
}

#[test]
fn a_whole_stream_with_a_change_in_one_source_nv12() {
    one_source(2, Pixfmt::Nv12, MapMode::Inline, (320, 240));
}

#[test]
fn a_whole_stream_with_a_change_in_one_source_after_a_first_change_yuv420_mapped() {
    one_source(2, Pixfmt::Yuv420, MapMode::Mapped, (0, 0));
}

/// The kernel side of `pictures_go_out_as_they_are_decoded`: records what
/// the daemon sends, receives nothing (requests go in by `handle_bytes`).
struct Recorder {
    sent: Vec<Message>,
    poll: std::fs::File,
}

impl Transport for Recorder {
    fn recv(&mut self, _buf: &mut Vec<u8>) -> std::io::Result<bool> {
        Ok(false)
    }

    fn send(&mut self, msg: &[u8]) -> std::io::Result<()> {
        self.sent.push(Message::decode(msg).unwrap());
        Ok(())
    }

    fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.poll.as_fd()
    }
}

impl Recorder {
    /// Flags of every RESP_FRAME for `cookie` so far.
    fn flags_of(&self, cookie: u64) -> Vec<u32> {
        self.sent
            .iter()
            .filter_map(|m| match m {
                Message::RespFrame {
                    cookie: c, body, ..
                } if *c == cookie => Some(body.flags),
                _ => None,
            })
            .collect()
    }
}

/// A source holding a whole stream is reported consumed once its first
/// pictures are out, and the rest is decoded between requests: each dst
/// the kernel hands over meanwhile (the capture-only jobs of a drain) gets
/// its picture as soon as it is decoded, not after the whole source. The
/// drain asked for meanwhile ends after the last of them.
#[test]
fn pictures_go_out_as_they_are_decoded() {
    let clips = clips();
    // The stream in two sources, each of many access units.
    let half = clips.first / 2;
    let concat =
        |p: &[(u64, Vec<u8>)]| -> Vec<u8> { p.iter().flat_map(|(_, d)| d.clone()).collect() };
    let (stream, rest) = (
        concat(&clips.packets[..half]),
        concat(&clips.packets[half..clips.first]),
    );
    let mut backend = FfmpegBackend::new(&[Codec::H264], 1).unwrap();
    let mut daemon = Daemon::new(&mut backend);
    let mut t = Recorder {
        sent: Vec::new(),
        poll: std::fs::File::open("/dev/null").unwrap(),
    };
    let job = |cookie: u64, dst_index: u32, src: Option<&[u8]>| Message::ReqDecode {
        cookie,
        body: ReqDecode {
            ctx_id: 1,
            codec: Codec::H264.raw(),
            flags: if src.is_some() { 0 } else { DECODE_F_NO_SRC },
            generation: 0,
            timestamp: if src.is_some() { 40_000 } else { 0 },
            src_index: if src.is_some() { 0 } else { NO_BUF },
            dst_index,
            bytes: src.map_or(0, |s| s.len() as u32),
            dst_size: 1 << 20,
            src_map: 0,
            dst_map: 0,
        },
        data: src.map_or_else(Vec::new, <[u8]>::to_vec),
    };
    let send = |daemon: &mut Daemon<'_>, t: &mut Recorder, msg: Message| {
        daemon.handle_bytes(&msg.encode().unwrap(), t).unwrap();
    };
    send(
        &mut daemon,
        &mut t,
        Message::ReqHello(ReqHello {
            proto_version: PROTO_VERSION.into(),
            max_contexts: 1,
            max_payload: MAX_PAYLOAD,
            reserved: 0,
        }),
    );
    send(
        &mut daemon,
        &mut t,
        Message::ReqSessionOpen(ReqSessionOpen {
            ctx_id: 1,
            codec: Codec::H264.raw(),
            pixfmt: Pixfmt::Nv12.raw(),
            width: 320,
            height: 240,
            reserved: 0,
        }),
    );
    let first = cookie(1, 1);
    send(&mut daemon, &mut t, job(first, 0, Some(&stream)));
    assert!(
        t.flags_of(first)[0] & FRAME_SRC_CONSUMED != 0,
        "SRC_CONSUMED first: {:?}",
        t.flags_of(first)
    );
    assert!(daemon.busy(), "the rest of the source is left for later");
    // The next source does not wait for the rest of the first either.
    let second = cookie(2, 1);
    send(&mut daemon, &mut t, job(second, 1, Some(&rest)));
    assert!(
        t.flags_of(second).first() == Some(&FRAME_SRC_CONSUMED),
        "the second source consumed before its pictures: {:?}",
        t.flags_of(second)
    );
    assert!(daemon.busy());
    send(
        &mut daemon,
        &mut t,
        Message::ReqFlush(ReqFlush {
            ctx_id: 1,
            generation: 0,
        }),
    );
    assert!(daemon.busy(), "the drain waits for the rest of the source");
    let mut pictures = 0;
    let mut while_busy = 0;
    for slot in 3u32..200 {
        let c = cookie(slot, 1);
        send(&mut daemon, &mut t, job(c, slot % 12, None));
        while daemon.busy() && t.flags_of(c).is_empty() {
            daemon.step(&mut t).unwrap();
        }
        let flags = t.flags_of(c);
        if flags.iter().any(|f| f & FRAME_LAST != 0) {
            break;
        }
        assert_eq!(flags, vec![FRAME_HAS_PIXELS], "capture-only job {slot}");
        pictures += 1;
        while_busy += usize::from(daemon.busy());
    }
    assert!(!daemon.busy());
    // The source jobs' dsts took the first pictures, whenever they came.
    for c in [first, second] {
        assert_eq!(t.flags_of(c), vec![FRAME_SRC_CONSUMED, FRAME_HAS_PIXELS]);
    }
    assert_eq!(
        pictures + 2,
        clips.expected_first,
        "every picture, then LAST"
    );
    assert!(
        while_busy >= clips.expected_first / 2,
        "only {while_busy} pictures went out before the source was decoded"
    );
}

/// A stream whose coded size exceeds what the daemon announced in
/// RESP_HELLO ends its session at its first header (UNSUPPORTED_FORMAT):
/// no STREAM_INFO the kernel would refuse, no picture, no SRC_CONSUMED
/// for the job that revealed it.
#[test]
fn a_stream_larger_than_announced_ends_its_session() {
    let backend = FfmpegBackend::new(&[Codec::H264], 1)
        .unwrap()
        .with_max_size(304, 304);
    let (t, daemon) = spawn(Box::new(backend));
    let mut role = role_for(t, 7, Codec::H264, Pixfmt::Nv12, 4, MapMode::Inline);
    assert_eq!(role.open(320, 240).unwrap(), None);
    // The parser hands the first access unit over when the second begins.
    for (ts, data) in clips().packets.iter().take(4) {
        role.job(Some((*ts, data))).unwrap();
        if !role.session_errors.is_empty() {
            break;
        }
    }
    assert_eq!(
        role.session_errors,
        vec![SessionErrorCode::UnsupportedFormat.raw()]
    );
    assert!(role.infos.is_empty(), "{:?}", role.infos);
    assert!(role.pictures.is_empty());
    // The job that revealed the size got no SRC_CONSUMED: the kernel took
    // its buffers back at the error.
    assert_eq!(role.src_consumed, role.jobs_sent() - 1);
    role.hang_up();
    assert_eq!(daemon.join().unwrap().unwrap(), Exit::Detached);
}

#[test]
fn unsupported_codec_is_refused_at_session_start() {
    let (t, daemon) = spawn(ffmpeg(&[Codec::H264]));
    let mut role = KernelRole::new(t, 9, Codec::Hevc, Pixfmt::Nv12, 4, 1 << 20);
    role.hello().unwrap();
    assert_eq!(
        role.open(64, 64).unwrap(),
        Some(SessionErrorCode::UnsupportedCodec.raw())
    );
    role.hang_up();
    daemon.join().unwrap().unwrap();
}

/// Seeded damage all over a clip (bit flips, truncations, cuts at random
/// points, random noise chunks): the daemon never panics or stops
/// answering, every source is consumed once, every dst comes back once.
#[test]
fn randomly_damaged_bitstreams_never_break_the_session() {
    random_damage(MapMode::Inline);
}

#[test]
fn randomly_damaged_mapped_bitstreams_never_break_the_session() {
    random_damage(MapMode::Mapped);
}

fn random_damage(mode: MapMode) {
    let seed: u64 = std::env::var("DAEDALUS_DAEMON_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed);
    eprintln!("damage seed: {seed} (DAEDALUS_DAEMON_SEED)");
    let mut x = seed;
    let mut rng = move || {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let clips = clips();
    let codec = Codec::H264;
    let (t, daemon) = spawn_mode(ffmpeg(&[codec]), mode);
    let mut role = role_for(t, 1, codec, Pixfmt::Nv12, 16, mode);
    assert_eq!(role.open(0, 0).unwrap(), None);
    let mut sent = 0;
    for (ts, data) in &clips.packets {
        let mut d = data.clone();
        match rng() % 8 {
            0 => {
                for _ in 0..1 + rng() % 8 {
                    let i = (rng() as usize) % d.len();
                    d[i] ^= 1 << (rng() % 8);
                }
            }
            1 => d.truncate((rng() as usize) % d.len()),
            2 => d = (0..rng() % 512).map(|_| rng() as u8).collect(),
            _ => {}
        }
        let cut = if d.is_empty() {
            0
        } else {
            (rng() as usize) % d.len()
        };
        for part in [&d[..cut], &d[cut..]] {
            if !part.is_empty() {
                role.job(Some((*ts, part))).unwrap();
                sent += 1;
            }
        }
    }
    role.drain().unwrap();
    assert_eq!(role.violations, Vec::<String>::new());
    assert_eq!(role.src_consumed, sent);
    assert!(!role.pictures.is_empty(), "undamaged GOPs still decode");
    assert_mappings(&role, mode, "after the drain");
    role.hang_up();
    assert_eq!(daemon.join().unwrap().unwrap(), Exit::Detached);
}
