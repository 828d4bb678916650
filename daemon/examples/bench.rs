//! Benchmark: pictures per second through daedalusd over the loopback
//! transport against libavcodec alone on the same clip, and the peak RSS of
//! each (each runs in its own process). Prints a markdown table.
//!
//! bench [--daemon PATH] [--size WxH] [--seconds N] [--runs N]

use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use daedalus_proto::{Codec, Pixfmt};
use daedalusd::clip;
use daedalusd::kernel_role::KernelRole;
use daedalusd::transport::Loopback;
use ffmpeg_next as ff;

struct Args {
    daemon: PathBuf,
    size: (u32, u32),
    seconds: u32,
    runs: u32,
    alone: Option<PathBuf>,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        daemon: PathBuf::from("target/release/daedalusd"),
        size: (1280, 720),
        seconds: 8,
        runs: 3,
        alone: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().ok_or(format!("{k} needs a value"));
        match k.as_str() {
            "--daemon" => a.daemon = v()?.into(),
            "--size" => {
                let s = v()?;
                let (w, h) = s.split_once('x').ok_or("--size WxH")?;
                a.size = (
                    w.parse().map_err(|_| "bad width")?,
                    h.parse().map_err(|_| "bad height")?,
                );
            }
            "--seconds" => a.seconds = v()?.parse().map_err(|_| "bad --seconds")?,
            "--runs" => a.runs = v()?.parse().map_err(|_| "bad --runs")?,
            "--alone" => a.alone = Some(v()?.into()),
            _ => return Err(format!("unknown argument {k}")),
        }
    }
    Ok(a)
}

/// libavcodec alone: demuxed packets straight into the decoder, one thread,
/// as daedalusd's sessions run. Prints "pictures seconds".
fn alone(clip: &Path) -> Result<(), String> {
    let packets = clip::packets(clip)?;
    let codec = ff::decoder::find(ff::codec::Id::H264).ok_or("no H.264 decoder")?;
    let mut best = f64::MAX;
    let mut pictures = 0;
    for _ in 0..3 {
        let mut ctx = ff::codec::Context::new_with_codec(codec);
        ctx.set_threading(ff::threading::Config {
            kind: ff::threading::Type::Frame,
            count: 1,
            ..Default::default()
        });
        let mut dec = ctx
            .decoder()
            .open_as(codec)
            .and_then(|o| o.video())
            .map_err(|e| e.to_string())?;
        let mut frame = ff::frame::Video::empty();
        let start = Instant::now();
        pictures = 0;
        for (ts, data) in &packets {
            let mut p = ff::Packet::copy(data);
            p.set_pts(Some(*ts as i64));
            dec.send_packet(&p).map_err(|e| e.to_string())?;
            while dec.receive_frame(&mut frame).is_ok() {
                pictures += 1;
            }
        }
        dec.send_eof().map_err(|e| e.to_string())?;
        while dec.receive_frame(&mut frame).is_ok() {
            pictures += 1;
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!("{pictures} {best}");
    Ok(())
}

struct Row {
    pictures: usize,
    seconds: f64,
    rss_kib: i64,
}

/// Waits for a child and returns its exit status and peak RSS.
fn wait_rss(pid: u32) -> Result<(i32, i64), String> {
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is a child of this process; pointers are valid.
    let r = unsafe { libc::wait4(pid as i32, &mut status, 0, &mut ru) };
    if r < 0 {
        return Err(format!("wait4: {}", std::io::Error::last_os_error()));
    }
    Ok((status, ru.ru_maxrss))
}

fn run_alone(clip: &Path) -> Result<Row, String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let child = Command::new(me)
        .arg("--alone")
        .arg(clip)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let pid = child.id();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.ok_or("no stdout")?, &mut out)
        .map_err(|e| e.to_string())?;
    let (status, rss) = wait_rss(pid)?;
    if status != 0 {
        return Err(format!("libavcodec-alone run failed ({status})"));
    }
    let (p, s) = out.trim().split_once(' ').ok_or("bad output")?;
    Ok(Row {
        pictures: p.parse().map_err(|_| "bad count")?,
        seconds: s.parse().map_err(|_| "bad time")?,
        rss_kib: rss,
    })
}

fn run_daemon(
    daemon: &Path,
    packets: &[(u64, Vec<u8>)],
    dir: &Path,
    runs: u32,
) -> Result<Row, String> {
    let sock = dir.join("bench.sock");
    let _ = std::fs::remove_file(&sock);
    let listener = UnixListener::bind(&sock).map_err(|e| e.to_string())?;
    let child = Command::new(daemon)
        .args([
            // As a benchmark may be run (make bench runs as root).
            "--allow-root",
            "--backend",
            "ffmpeg",
            "--codecs",
            "h264",
            "--threads",
            "1",
            "--log",
            "warn",
            "--connect",
        ])
        .arg(&sock)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", daemon.display()))?;
    let pid = child.id();
    let mut best = f64::MAX;
    let mut pictures = 0;
    for run in 0..runs {
        let (stream, _) = listener.accept().map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        let mut role = KernelRole::new(
            Loopback::from_stream(stream),
            run + 1,
            Codec::H264,
            Pixfmt::Nv12,
            16,
            16 << 20,
        );
        role.keep_pixels = false;
        role.hello()?;
        if role.open(0, 0)?.is_some() {
            return Err("the daemon refused H.264".into());
        }
        let start = Instant::now();
        for (ts, data) in packets {
            role.job(Some((*ts, data)))?;
        }
        role.drain()?;
        best = best.min(start.elapsed().as_secs_f64());
        if !role.violations.is_empty() {
            return Err(format!("protocol violations: {:?}", role.violations));
        }
        pictures = role.pictures.len();
        role.close()?;
        role.hang_up();
    }
    // SAFETY: signals only the daemon this benchmark started.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let (status, rss) = wait_rss(pid)?;
    if status != 0 {
        return Err(format!("daedalusd exited with status {status}"));
    }
    Ok(Row {
        pictures,
        seconds: best,
        rss_kib: rss,
    })
}

fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(2);
        }
    };
    if let Some(clip) = &a.alone {
        if let Err(e) = alone(clip) {
            eprintln!("bench: {e}");
            std::process::exit(1);
        }
        return;
    }
    let result = (|| -> Result<(), String> {
        let dir = std::env::temp_dir().join(format!("daedalus-bench-{}", std::process::id()));
        let clip = clip::encode(&dir, "bench", a.size.0, a.size.1, a.seconds, 0)?;
        let packets = clip::packets(&clip)?;
        let lib = run_alone(&clip)?;
        let dmn = run_daemon(&a.daemon, &packets, &dir, a.runs)?;
        let _ = std::fs::remove_dir_all(&dir);
        if lib.pictures != dmn.pictures {
            return Err(format!(
                "picture counts differ: libavcodec {} daemon {}",
                lib.pictures, dmn.pictures
            ));
        }
        let rate = |r: &Row| r.pictures as f64 / r.seconds;
        println!(
            "H.264 {}x{}, {} pictures (libx264 veryfast, B-frames, b-pyramid, GOP 12), one decoder thread, NV12 out, best of {}\n",
            a.size.0, a.size.1, lib.pictures, a.runs
        );
        println!("| path | pictures/s | time (s) | peak RSS (MiB) |");
        println!("|------|-----------:|---------:|---------------:|");
        for (name, r) in [("libavcodec alone", &lib), ("daedalusd, loopback", &dmn)] {
            println!(
                "| {name} | {:.1} | {:.3} | {:.1} |",
                rate(r),
                r.seconds,
                r.rss_kib as f64 / 1024.0
            );
        }
        println!(
            "\ndaemon / libavcodec throughput ratio: {:.3}",
            rate(&dmn) / rate(&lib)
        );
        Ok(())
    })();
    if let Err(e) = result {
        eprintln!("bench: {e}");
        std::process::exit(1);
    }
}
