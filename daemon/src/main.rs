//! daedalusd: attaches to /dev/daedalus (or a loopback socket), answers the
//! kernel's HELLO, and decodes every context's jobs until SIGTERM,
//! re-attaching whenever the module goes away and comes back.

use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use daedalus_proto::Codec;
use daedalusd::backend::Backend;
use daedalusd::daemon::{Daemon, DaemonError, Exit};
use daedalusd::ffmpeg::FfmpegBackend;
use daedalusd::sandbox::{self, Landlock, Probe, Reach};
use daedalusd::scripted::{Script, ScriptedBackend};
use daedalusd::transport::{CharDev, Loopback, Transport, poll_two};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum BackendKind {
    /// Decode with libavcodec.
    Ffmpeg,
    /// Reply in the order a script gives (see --script).
    Scripted,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ProbeArg {
    Seccomp,
    Landlock,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CodecArg {
    H264,
    Hevc,
    Vp8,
    Vp9,
    /// Stateless H.264: the module's Request API node.
    #[value(name = "h264-slice")]
    H264Slice,
}

/// The daedalus decoding daemon.
///
/// Serves the daedalus_v4l2 kernel module: reads decode jobs from
/// /dev/daedalus (protocol v1, docs/protocol.md), decodes them with the
/// chosen backend and writes pictures back. One session per V4L2 decoder
/// context. Waits for the device node to appear, and re-attaches when the
/// module is reloaded. SIGTERM or SIGINT stop it cleanly.
///
/// Runs as an unprivileged user (root is refused without --allow-root) and,
/// once attached, confines itself: Landlock leaves it no file but those
/// beneath the device's directory, a seccomp filter only the system calls
/// decoding needs (docs/daemon.md).
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// The module's character device.
    #[arg(long, default_value = "/dev/daedalus")]
    device: PathBuf,

    /// Talk over a Unix stream socket at this path instead of the device
    /// (the replay engine or a test plays the kernel's role there).
    #[arg(long, conflicts_with = "device")]
    connect: Option<PathBuf>,

    /// How pictures are produced.
    #[arg(long, value_enum, default_value = "ffmpeg")]
    backend: BackendKind,

    /// Script for --backend scripted (format in docs/daemon.md).
    #[arg(long, required_if_eq("backend", "scripted"))]
    script: Option<PathBuf>,

    /// Codecs to offer the kernel (ffmpeg backend); those libavcodec lacks
    /// are left out.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "h264,hevc,vp8,vp9,h264-slice"
    )]
    codecs: Vec<CodecArg>,

    /// Decoder threads per session (0: libavcodec decides).
    #[arg(long, default_value_t = 1)]
    threads: usize,

    /// Exit when the kernel side goes away instead of re-attaching.
    #[arg(long)]
    once: bool,

    /// Never offer mapped (zero-copy) jobs: bitstream and pictures travel
    /// inline through read() and write() even where the device can map
    /// the buffers.
    #[arg(long)]
    no_mapped: bool,

    /// Log filter (tracing EnvFilter syntax), overridden by RUST_LOG.
    #[arg(long, default_value = "info")]
    log: String,

    /// Run even with root's user id. The daemon needs no privilege: it is
    /// meant to run as the daedalus user, who owns /dev/daedalus.
    #[arg(long)]
    allow_root: bool,

    /// Do not confine the daemon (Landlock, seccomp) once it is attached.
    /// For debugging only: it then parses bitstreams with every right of
    /// its user.
    #[arg(long)]
    no_sandbox: bool,

    /// Tests only: once confined, try something the sandbox forbids.
    #[arg(long, value_enum, hide = true)]
    sandbox_probe: Option<ProbeArg>,
}

/// Confines the daemon (unless --no-sandbox) and says how far that went.
/// Called once, at the first attachment: every later one happens inside.
fn confine(cli: &Cli) -> Result<(), ExitCode> {
    if cli.no_sandbox {
        tracing::warn!(
            "sandbox OFF (--no-sandbox): neither Landlock nor seccomp confines this daemon"
        );
    } else {
        // Landlock and seccomp bind the calling thread and its later
        // children only: nothing else may run yet.
        match sandbox::only_thread() {
            Ok(true) => {}
            Ok(false) => {
                tracing::error!("cannot confine the daemon: other threads already run");
                return Err(ExitCode::from(2));
            }
            Err(e) => {
                tracing::error!("cannot confine the daemon: /proc/self/task: {e}");
                return Err(ExitCode::from(2));
            }
        }
        let reach = match &cli.connect {
            Some(path) => Reach::Socket(path),
            None => Reach::Device(&cli.device),
        };
        match sandbox::confine(reach) {
            Ok(c) => match c.landlock {
                Landlock::Full { .. } => tracing::info!("sandbox: {c}"),
                Landlock::Partial { .. } => tracing::warn!("sandbox: {c}"),
                Landlock::Missing(_) => tracing::error!(
                    "sandbox: {c}: the daemon can open every file its user may; \
                     only seccomp confines it"
                ),
            },
            Err(e) => {
                tracing::error!("cannot confine the daemon: {e} (--no-sandbox runs it unconfined)");
                return Err(ExitCode::from(2));
            }
        }
    }
    if let Some(p) = cli.sandbox_probe {
        sandbox::probe(match p {
            ProbeArg::Seccomp => Probe::Seccomp,
            ProbeArg::Landlock => Probe::Landlock,
        });
    }
    Ok(())
}

fn backend(cli: &Cli) -> Result<Box<dyn Backend>, String> {
    match cli.backend {
        BackendKind::Ffmpeg => {
            let codecs: Vec<Codec> = cli
                .codecs
                .iter()
                .map(|c| match c {
                    CodecArg::H264 => Codec::H264,
                    CodecArg::Hevc => Codec::Hevc,
                    CodecArg::Vp8 => Codec::Vp8,
                    CodecArg::Vp9 => Codec::Vp9,
                    CodecArg::H264Slice => Codec::H264Slice,
                })
                .collect();
            let b =
                FfmpegBackend::new(&codecs, cli.threads).map_err(|e| format!("libavcodec: {e}"))?;
            Ok(Box::new(b))
        }
        BackendKind::Scripted => {
            let path = cli
                .script
                .as_ref()
                .ok_or("--backend scripted needs --script")?;
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let script = Script::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(Box::new(ScriptedBackend::new(script)))
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&cli.log))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 && !cli.allow_root {
        tracing::error!(
            "refusing to run as root: daedalusd needs no privilege to decode; run it as \
             the daedalus user (docs/install.md), or pass --allow-root"
        );
        return ExitCode::from(2);
    }

    let mut backend = match backend(&cli) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(2);
        }
    };
    if backend.capabilities().codecs == 0 {
        tracing::error!(
            "the {} backend can decode none of the requested codecs",
            backend.name()
        );
        return ExitCode::from(2);
    }
    let (wake, wake_tx) = match UnixStream::pair() {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("socketpair: {e}");
            return ExitCode::FAILURE;
        }
    };
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        let tx = match wake_tx.try_clone() {
            Ok(tx) => tx,
            Err(e) => {
                tracing::error!("signal pipe: {e}");
                return ExitCode::FAILURE;
            }
        };
        if let Err(e) = signal_hook::low_level::pipe::register(sig, tx) {
            tracing::error!("cannot handle signal {sig}: {e}");
            return ExitCode::FAILURE;
        }
    }

    let target = cli.connect.as_deref().unwrap_or(&cli.device);
    let mut confined = false;
    let mut last_refusal = None;
    loop {
        let attached: std::io::Result<Box<dyn Transport>> = match &cli.connect {
            Some(path) => Loopback::connect(path).map(|t| Box::new(t) as Box<dyn Transport>),
            None => CharDev::open(&cli.device).map(|t| Box::new(t) as Box<dyn Transport>),
        };
        let mut transport = match attached {
            Ok(t) => {
                last_refusal = None;
                t
            }
            Err(e) => {
                let why = sandbox::explain_denied(target, &e)
                    .unwrap_or_else(|| format!("{}: {e}", target.display()));
                if cli.once {
                    tracing::error!("cannot attach: {why}");
                    return ExitCode::FAILURE;
                }
                // A missing node is the normal wait for the module; any
                // other reason (EACCES from the node's mode or the sandbox,
                // EBUSY while another daemon holds it) is said once, loudly.
                let reason = Some(e.kind());
                if e.kind() != std::io::ErrorKind::NotFound && last_refusal != reason {
                    tracing::warn!("cannot attach to {why}; retrying");
                } else {
                    tracing::debug!("waiting for the kernel side: {e}");
                }
                last_refusal = reason;
                // Sleep, but wake at once for SIGTERM.
                match poll_two(wake.as_fd(), None, 500) {
                    Ok((true, _)) => return ExitCode::SUCCESS,
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::error!("poll: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
        };
        tracing::info!(backend = backend.name(), "attached to the kernel side");
        if !confined {
            confined = true;
            if let Err(code) = confine(&cli) {
                return code;
            }
        }
        let mut daemon = Daemon::new(backend.as_mut());
        daemon.offer_mapped(!cli.no_mapped);
        match daemon.run(transport.as_mut(), Some(wake.as_fd())) {
            Ok(Exit::Shutdown) => return ExitCode::SUCCESS,
            Ok(Exit::Detached) if cli.once => return ExitCode::SUCCESS,
            Ok(Exit::Detached) => tracing::info!("detached; waiting to re-attach"),
            Err(e @ DaemonError::Version(_)) => {
                tracing::error!("{e}");
                return ExitCode::from(3);
            }
            Err(e) => {
                tracing::error!("{e}; re-attaching");
                if cli.once {
                    return ExitCode::FAILURE;
                }
            }
        }
    }
}
