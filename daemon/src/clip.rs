//! Test clips: H.264 made by the ffmpeg CLI with libx264 (B-frames,
//! b-pyramid, fixed GOPs), their packets with timestamps, and the reference
//! `ffmpeg -f framemd5` of each. Used by the golden tests and the benchmark.

use std::path::{Path, PathBuf};
use std::process::Command;

use daedalus_proto::Codec;
use ffmpeg_next as ff;

/// One reference picture: timestamp in ns and MD5 of its visible I420.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameMd5 {
    pub timestamp: u64,
    pub md5: String,
}

fn run(cmd: &mut Command) -> Result<Vec<u8>, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(out.stdout)
}

/// Encodes `seconds` of the testsrc2 pattern at `w`x`h`, 25 fps, H.264,
/// into an MPEG-TS (Annex B packets with timestamps) starting `offset_s`
/// seconds later than usual.
pub fn encode(
    dir: &Path,
    name: &str,
    w: u32,
    h: u32,
    seconds: u32,
    offset_s: u32,
) -> Result<PathBuf, String> {
    encode_codec(dir, name, Codec::H264, w, h, seconds, offset_s)
}

/// As `encode`, for any codec: H.264 (libx264) and HEVC (libx265) in
/// MPEG-TS with B-frames, pyramid and GOPs of 12; VP8/VP9 (libvpx) in
/// WebM with GOPs of 12 (VP9 with alt-ref frames).
pub fn encode_codec(
    dir: &Path,
    name: &str,
    codec: Codec,
    w: u32,
    h: u32,
    seconds: u32,
    offset_s: u32,
) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let (ext, args): (&str, &[&str]) = match codec {
        Codec::H264 | Codec::H264Slice => (
            "ts",
            &[
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-bf",
                "3",
                "-g",
                "12",
                "-x264-params",
                "keyint=12:min-keyint=12:scenecut=0:b-pyramid=normal:b-adapt=0",
            ],
        ),
        Codec::Hevc => (
            "ts",
            &[
                "-c:v",
                "libx265",
                "-preset",
                "veryfast",
                "-x265-params",
                "keyint=12:min-keyint=12:scenecut=0:bframes=3:b-pyramid=1:b-adapt=0:log-level=error",
            ],
        ),
        Codec::Vp8 => (
            "webm",
            &[
                "-c:v",
                "libvpx",
                "-g",
                "12",
                "-deadline",
                "realtime",
                "-cpu-used",
                "8",
            ],
        ),
        Codec::Vp9 => (
            "webm",
            &[
                "-c:v",
                "libvpx-vp9",
                "-g",
                "12",
                "-deadline",
                "good",
                "-cpu-used",
                "8",
                "-lag-in-frames",
                "16",
                "-auto-alt-ref",
                "1",
                "-row-mt",
                "0",
            ],
        ),
    };
    let path = dir.join(format!("{name}.{ext}"));
    run(Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size={w}x{h}:rate=25"))
        .args(["-t", &seconds.to_string()])
        .args(args)
        .args([
            "-pix_fmt",
            "yuv420p",
            "-output_ts_offset",
            &offset_s.to_string(),
        ])
        .arg(&path))?;
    Ok(path)
}

/// The clip's video packets in decode order: (pts in ns, Annex B bytes).
pub fn packets(path: &Path) -> Result<Vec<(u64, Vec<u8>)>, String> {
    ff::init().map_err(|e| e.to_string())?;
    let mut input = ff::format::input(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let stream = input
        .streams()
        .best(ff::media::Type::Video)
        .ok_or("no video stream")?;
    let (index, tb) = (stream.index(), stream.time_base());
    let mut out = Vec::new();
    for (s, p) in input.packets() {
        if s.index() != index {
            continue;
        }
        let pts = p.pts().ok_or("packet without pts")?;
        let ns = pts as i128 * 1_000_000_000 * tb.numerator() as i128 / tb.denominator() as i128;
        out.push((ns as u64, p.data().ok_or("empty packet")?.to_vec()));
    }
    Ok(out)
}

/// `ffmpeg -copyts -f framemd5` of the clip, in display order.
pub fn framemd5(path: &Path) -> Result<Vec<FrameMd5>, String> {
    framemd5_threads(path, None)
}

/// `framemd5` with the decoder's thread count: where the decoder conceals
/// damage, the concealed pictures depend on it (frame threads see other
/// neighbours), so a reference for a damaged stream must use the count the
/// decode it is compared with used.
pub fn framemd5_threads(path: &Path, threads: Option<usize>) -> Result<Vec<FrameMd5>, String> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-v", "error"]);
    if let Some(n) = threads {
        cmd.args(["-threads", &n.to_string()]);
    }
    let text = run(cmd.args(["-copyts", "-i"]).arg(path).args([
        "-fps_mode",
        "passthrough",
        "-pix_fmt",
        "yuv420p",
        "-f",
        "framemd5",
        "-",
    ]))?;
    let text = String::from_utf8_lossy(&text);
    let mut tb = (0u64, 0u64);
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("#tb 0: ") {
            let (n, d) = rest.split_once('/').ok_or("bad #tb")?;
            tb = (
                n.trim().parse().map_err(|_| "bad #tb")?,
                d.trim().parse().map_err(|_| "bad #tb")?,
            );
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() != 6 || tb.1 == 0 {
            return Err(format!("bad framemd5 line {line:?}"));
        }
        let pts: u64 = f[2].parse().map_err(|_| format!("bad pts in {line:?}"))?;
        out.push(FrameMd5 {
            timestamp: pts * 1_000_000_000 * tb.0 / tb.1,
            md5: f[5].to_string(),
        });
    }
    Ok(out)
}
