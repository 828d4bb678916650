//! The daemon's confinement: libavcodec parses untrusted bitstreams, so once
//! the first attachment is made and the backend is set up, the daemon gives
//! up what it no longer needs. Landlock takes the file system away (all of
//! it but the directory the daemon re-attaches from), and a seccomp filter
//! allows only the system calls of `ALLOWED`; any other one raises SIGSYS,
//! whose handler says which and exits with `SECCOMP_EXIT`.
//!
//! Both restrict the calling thread and every thread it creates afterwards
//! (libavcodec's decoder threads): `confine` is called once, while the
//! daemon has a single thread (`only_thread`), before the first event loop.
//! Everything a later attachment does must pass through both: re-opening
//! the device (a new inode after the module is reloaded, hence a rule on
//! its directory), mapping buffers, decoder threads, the signal pipe.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Once;

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, LandlockStatus, PathBeneath, PathFd,
    Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
};
use seccompiler::{
    SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
};

/// Exit status after a system call outside `ALLOWED` (docs/daemon.md).
pub const SECCOMP_EXIT: i32 = 4;

/// The newest Landlock ABI this daemon knows: every restriction it defines
/// is asked for; an older kernel enforces what it has ("partially").
const LANDLOCK_ABI: ABI = ABI::V10;

/// What a confined daemon may still open: the place its next attachment
/// comes from. Nothing else in the file system, ever.
#[derive(Debug, Clone, Copy)]
pub enum Reach<'a> {
    /// Nothing (an in-process daemon whose transport is already made).
    Nothing,
    /// The character device: read and write existing files beneath its
    /// directory (`/dev`), no listing, no creation. A rule on the node
    /// itself would name its inode, which a module reload replaces.
    Device(&'a Path),
    /// The loopback socket: connect to sockets beneath its directory
    /// (Landlock ABI 9; older ABIs do not restrict connect()).
    Socket(&'a Path),
}

impl Reach<'_> {
    fn rule(&self) -> Option<(&Path, landlock::BitFlags<AccessFs>)> {
        match *self {
            Reach::Nothing => None,
            Reach::Device(p) => Some((parent(p), AccessFs::ReadFile | AccessFs::WriteFile)),
            Reach::Socket(p) => Some((parent(p), AccessFs::ResolveUnix.into())),
        }
    }
}

fn parent(p: &Path) -> &Path {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// How far Landlock went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landlock {
    /// Every restriction asked for is enforced.
    Full { abi: i32 },
    /// Some are: the kernel's ABI predates the others.
    Partial { abi: i32 },
    /// None: the kernel lacks Landlock or did not enable it at boot.
    Missing(&'static str),
}

/// What `confine` put in force.
#[derive(Debug, Clone)]
pub struct Confinement {
    pub landlock: Landlock,
    /// Where files may still be opened (read/write or connect), if anywhere.
    pub reach: Option<String>,
    /// System calls the seccomp filter allows.
    pub syscalls: usize,
}

impl std::fmt::Display for Confinement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "seccomp on ({} system calls allowed, any other ends the daemon); ",
            self.syscalls
        )?;
        let reach = self.reach.as_deref().unwrap_or("nothing");
        match self.landlock {
            Landlock::Full { abi } => {
                write!(
                    f,
                    "Landlock ABI {abi} fully enforced: no file access but {reach}"
                )
            }
            Landlock::Partial { abi } => write!(
                f,
                "Landlock ABI {abi} partially enforced (the kernel predates ABI {}): no file access but {reach}",
                LANDLOCK_ABI as i32
            ),
            Landlock::Missing(why) => write!(f, "Landlock NOT enforced ({why})"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("Landlock: {0}")]
    Landlock(#[from] landlock::RulesetError),
    #[error("Landlock rule for {path}: {err}")]
    Path {
        path: String,
        err: landlock::PathFdError,
    },
    #[error("seccomp: {0}")]
    Seccomp(#[from] seccompiler::Error),
    #[error("seccomp filter: {0}")]
    Filter(#[from] seccompiler::BackendError),
    #[error("seccomp: SIGSYS handler: {0}")]
    Handler(io::Error),
}

/// A condition on one argument of an allowed call.
#[derive(Debug, Clone, Copy)]
enum Arg {
    /// Argument `n` equals the value.
    Eq(u8, u64),
    /// Argument `n` has none of the mask's bits.
    Without(u8, u64),
    /// Argument `n` is this process's id.
    OwnPid(u8),
}

/// One allowed system call, on any arguments or on those of its rules
/// (any of them).
#[derive(Debug, Clone, Copy)]
pub struct Call {
    pub nr: i64,
    pub name: &'static str,
    only: &'static [Arg],
}

/// One group of `ALLOWED`: why the daemon needs these calls.
#[derive(Debug, Clone, Copy)]
pub struct Group {
    pub why: &'static str,
    pub calls: &'static [Call],
}

macro_rules! call {
    ($name:ident) => {
        Call {
            nr: libc::$name as i64,
            name: strip(stringify!($name)),
            only: &[],
        }
    };
    ($name:ident, $($arg:expr),+) => {
        Call {
            nr: libc::$name as i64,
            name: strip(stringify!($name)),
            only: &[$($arg),+],
        }
    };
}

/// "SYS_read" -> "read", in a constant.
const fn strip(s: &'static str) -> &'static str {
    match s.as_bytes() {
        [b'S', b'Y', b'S', b'_', rest @ ..] => match std::str::from_utf8(rest) {
            Ok(r) => r,
            Err(_) => s,
        },
        _ => s,
    }
}

const NO_EXEC: u64 = libc::PROT_EXEC as u64;

/// Every system call the confined daemon may make. Measured with `strace -f`
/// (docs/daemon.md, "The sandbox"): the daemon binary over the loopback
/// socket (H.264, HEVC, VP9; 1, 2 and libavcodec's own count of decoder
/// threads; re-attaching; re-opening a device; SIGTERM) and the tests'
/// in-process daemon threads, inline and mapped (revoked buffers included).
/// The few calls those runs cannot reach say where they come from. A call
/// missing here ends the daemon: "seccomp: system call N not allowed".
pub const ALLOWED: &[Group] = &[
    Group {
        why: "protocol messages: read()/write() on the device, recv/send on \
              the loopback socket (Rust's streams use recvfrom/sendto); the \
              SIGTERM/SIGINT handler's send on the signal pipe; log lines \
              written to stderr",
        calls: &[
            call!(SYS_read),
            call!(SYS_write),
            call!(SYS_recvfrom),
            call!(SYS_sendto),
        ],
    },
    Group {
        why: "the event loop waits on the transport and the signal pipe \
              (glibc's poll() is ppoll on arm64)",
        calls: &[
            #[cfg(target_arch = "x86_64")]
            call!(SYS_poll),
            #[cfg(not(target_arch = "x86_64"))]
            call!(SYS_ppoll),
        ],
    },
    Group {
        why: "re-attaching: open the device again (Landlock decides where), \
              or a new Unix socket to the loopback peer (no other family); \
              close the old one (Rust's debug builds first check that it is \
              open). At every REQ_HELLO the device's metadata says whether \
              it maps (statx, or fstat where statx is refused: not reached \
              without a real device)",
        calls: &[
            call!(SYS_openat),
            call!(SYS_socket, Arg::Eq(0, libc::AF_UNIX as u64)),
            call!(SYS_connect),
            call!(SYS_close),
            call!(SYS_fcntl, Arg::Eq(1, libc::F_GETFD as u64)),
            call!(SYS_statx),
            call!(SYS_fstat),
            call!(SYS_newfstatat),
        ],
    },
    Group {
        why: "memory: the allocator (mremap: glibc's realloc of large \
              blocks, not reached by the tests' sizes), libavcodec's frame \
              pools, decoder thread stacks, and mapped jobs (mmap of the \
              device's buffers, munmap at the reply, private zero pages over \
              a revoked buffer in the SIGBUS handler); never executable",
        calls: &[
            call!(SYS_brk),
            call!(SYS_mmap, Arg::Without(2, NO_EXEC)),
            call!(SYS_mprotect, Arg::Without(2, NO_EXEC)),
            call!(SYS_munmap),
            call!(SYS_mremap),
            call!(SYS_madvise),
        ],
    },
    Group {
        why: "libavcodec's decoder threads (--threads), created per session \
              and joined at its end: glibc's clone3 (clone where clone3 is \
              refused, as systemd's RestrictNamespaces= does), thread start \
              and exit, locks; the CPU count for --threads 0",
        calls: &[
            call!(SYS_clone3),
            call!(SYS_clone),
            call!(SYS_set_robust_list),
            call!(SYS_rseq),
            call!(SYS_futex),
            call!(SYS_exit),
            call!(SYS_sched_getaffinity),
        ],
    },
    Group {
        why: "signals: the SIGBUS handler of mapped jobs (installed at the \
              first mapping) and glibc's own at the first thread, handler \
              returns, masks around thread creation, the alternate signal \
              stack dropped at exit, abort() on a fatal error (raise: getpid, \
              then tgkill to this process only); a wait with a timeout \
              that a stop (SIGSTOP, a debugger) or a signal interrupted is \
              resumed by the kernel through restart_syscall",
        calls: &[
            call!(SYS_rt_sigaction),
            call!(SYS_rt_sigreturn),
            call!(SYS_restart_syscall),
            call!(SYS_rt_sigprocmask),
            call!(SYS_sigaltstack),
            call!(SYS_getpid),
            call!(SYS_tgkill, Arg::OwnPid(0)),
        ],
    },
    Group {
        why: "random keys for hash maps; the clock for log lines where the \
              vDSO cannot answer (some virtual machines' clock sources)",
        calls: &[call!(SYS_getrandom), call!(SYS_clock_gettime)],
    },
    Group {
        why: "exiting: the end of main, and the SIGSYS handler's _exit",
        calls: &[call!(SYS_exit_group)],
    },
];

/// The calls `confine` makes before its filter is in force (beyond those
/// of `ALLOWED`): the thread check, Landlock, no_new_privs, seccomp. A
/// service manager's own system call filter must admit them too.
pub const SETUP_CALLS: &[&str] = &[
    "getdents64",
    "landlock_create_ruleset",
    "landlock_add_rule",
    "landlock_restrict_self",
    "prctl",
    "seccomp",
];

/// What the in-process loopback pair (`Loopback::pair_mapped`) does in the
/// daemon's thread in the module's stead: revoking a buffer at its reply
/// truncates its memfd, and the picture is read out of it. Only tests
/// confine a daemon thread that uses it (`confine_with`); the real module
/// does this in the kernel.
pub const EMULATED_MODULE: Group = Group {
    why: "the loopback's emulation of the module's revocation (tests only)",
    calls: &[call!(SYS_ftruncate), call!(SYS_pread64)],
};

/// The allowed calls' names, for comparing with a unit's SystemCallFilter.
pub fn allowed_names() -> impl Iterator<Item = &'static str> {
    ALLOWED.iter().flat_map(|g| g.calls.iter().map(|c| c.name))
}

/// Whether the calling thread is the process's only one: `confine` then
/// covers every thread the process will have.
pub fn only_thread() -> io::Result<bool> {
    Ok(std::fs::read_dir("/proc/self/task")?.count() == 1)
}

/// Confines the calling thread and the threads it creates from now on:
/// Landlock first (no file access but `reach`, no TCP, no abstract sockets
/// or signals outside the sandbox), then the seccomp filter. Also sets
/// no_new_privs. A kernel without Landlock is not an error: the result
/// says so (`Landlock::Missing`), and the caller says it loudly.
pub fn confine(reach: Reach<'_>) -> Result<Confinement, SandboxError> {
    confine_with(reach, &[])
}

/// `confine`, also allowing the calls of `extra` (`EMULATED_MODULE`).
pub fn confine_with(reach: Reach<'_>, extra: &[Group]) -> Result<Confinement, SandboxError> {
    let landlock = restrict_files(reach)?;
    install_sigsys_handler()?;
    let filter = seccomp_filter(extra)?;
    seccompiler::apply_filter(&filter)?;
    Ok(Confinement {
        landlock,
        reach: reach.rule().map(|(dir, access)| {
            let what = if access.contains(AccessFs::ResolveUnix) {
                "connecting to sockets"
            } else {
                "reading and writing existing files"
            };
            format!("{what} beneath {}", dir.display())
        }),
        syscalls: ALLOWED.iter().chain(extra).map(|g| g.calls.len()).sum(),
    })
}

fn restrict_files(reach: Reach<'_>) -> Result<Landlock, SandboxError> {
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(LANDLOCK_ABI))?
        .handle_access(AccessNet::from_all(LANDLOCK_ABI))?
        .scope(Scope::from_all(LANDLOCK_ABI))?
        .create()?;
    if let Some((dir, access)) = reach.rule() {
        let fd = PathFd::new(dir).map_err(|err| SandboxError::Path {
            path: dir.display().to_string(),
            err,
        })?;
        ruleset = ruleset.add_rule(PathBeneath::new(fd, access))?;
    }
    let status = ruleset.restrict_self()?;
    let abi = match status.landlock {
        LandlockStatus::Available {
            kernel_abi: Some(v),
            ..
        } => v,
        LandlockStatus::Available { effective_abi, .. } => effective_abi as i32,
        LandlockStatus::NotEnabled => {
            return Ok(Landlock::Missing(
                "built into this kernel but not enabled: add landlock to the lsm= boot parameter or CONFIG_LSM",
            ));
        }
        LandlockStatus::NotImplemented => {
            return Ok(Landlock::Missing(
                "not built into this kernel: CONFIG_SECURITY_LANDLOCK",
            ));
        }
    };
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => Landlock::Full { abi },
        RulesetStatus::PartiallyEnforced => Landlock::Partial { abi },
        RulesetStatus::NotEnforced => Landlock::Missing("the kernel refused every restriction"),
    })
}

fn seccomp_filter(extra: &[Group]) -> Result<seccompiler::BpfProgram, SandboxError> {
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() } as u64;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for call in ALLOWED.iter().chain(extra).flat_map(|g| g.calls) {
        let entry = rules.entry(call.nr).or_default();
        if call.only.is_empty() {
            continue;
        }
        let conditions = call
            .only
            .iter()
            .map(|a| match *a {
                Arg::Eq(n, v) => {
                    SeccompCondition::new(n, SeccompCmpArgLen::Qword, SeccompCmpOp::Eq, v)
                }
                Arg::Without(n, mask) => SeccompCondition::new(
                    n,
                    SeccompCmpArgLen::Qword,
                    SeccompCmpOp::MaskedEq(mask),
                    0,
                ),
                Arg::OwnPid(n) => {
                    SeccompCondition::new(n, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, pid)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        entry.push(SeccompRule::new(conditions)?);
    }
    let arch = std::env::consts::ARCH.try_into()?;
    let filter = SeccompFilter::new(rules, SeccompAction::Trap, SeccompAction::Allow, arch)?;
    Ok(filter.try_into()?)
}

/// The `_sigsys` member of a 64-bit `siginfo_t`, which the libc crate does
/// not name.
#[repr(C)]
struct SigSys {
    signo: libc::c_int,
    errno: libc::c_int,
    code: libc::c_int,
    call_addr: *mut libc::c_void,
    syscall: libc::c_int,
    arch: libc::c_uint,
}

/// Says which call the filter refused and exits: only async-signal-safe
/// calls (write, _exit), no allocation. A call refused while SIGSYS is
/// blocked (glibc blocks every signal while a thread exits) never gets
/// here: the kernel kills the process with SIGSYS itself.
extern "C" fn on_sigsys(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers;
    // for SIGSYS its union holds _sigsys.
    let nr = unsafe { (*info.cast::<SigSys>()).syscall };
    let mut buf = [0u8; 64];
    let mut len = 0;
    let mut put = |b: &[u8]| {
        buf[len..len + b.len()].copy_from_slice(b);
        len += b.len();
    };
    put(b"daedalusd: seccomp: system call ");
    let mut digits = [0u8; 12];
    let mut n = i64::from(nr).unsigned_abs();
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if nr < 0 {
        i -= 1;
        digits[i] = b'-';
    }
    put(&digits[i..]);
    put(b" not allowed\n");
    // SAFETY: write and _exit are async-signal-safe; buf holds len bytes.
    unsafe {
        libc::write(2, buf.as_ptr().cast(), len);
        libc::_exit(SECCOMP_EXIT);
    }
}

fn install_sigsys_handler() -> Result<(), SandboxError> {
    static INSTALL: Once = Once::new();
    let mut result = Ok(());
    INSTALL.call_once(|| {
        // SAFETY: sigaction with a zeroed, then filled, struct.
        let r = unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_sigsys as *const () as usize;
            act.sa_flags = libc::SA_SIGINFO;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(libc::SIGSYS, &act, std::ptr::null_mut())
        };
        if r != 0 {
            result = Err(SandboxError::Handler(io::Error::last_os_error()));
        }
    });
    result
}

/// A test's proof that the sandbox bites (the hidden `--sandbox-probe`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// A system call outside `ALLOWED` (personality(0xffffffff), a query
    /// with no effect): SIGSYS, "system call N not allowed", SECCOMP_EXIT.
    Seccomp,
    /// Opening /etc/passwd: EACCES from Landlock.
    Landlock,
}

/// The system call `Probe::Seccomp` makes.
pub const PROBE_SYSCALL: i64 = libc::SYS_personality;

/// Runs the probe, logging what happened.
pub fn probe(p: Probe) {
    match p {
        Probe::Seccomp => {
            // SAFETY: personality(0xffffffff) only reads the persona.
            let r = unsafe { libc::syscall(PROBE_SYSCALL, 0xffff_ffffu64) };
            tracing::warn!("sandbox probe: system call {PROBE_SYSCALL} returned {r}");
        }
        Probe::Landlock => match std::fs::File::open("/etc/passwd") {
            Ok(_) => tracing::warn!("sandbox probe: open /etc/passwd: opened"),
            Err(e) => tracing::warn!("sandbox probe: open /etc/passwd: {e}"),
        },
    }
}

/// Names, once, what an EACCES or EPERM at an open or connect can mean
/// for a daemon: the node's permissions, or the sandbox.
pub fn explain_denied(path: &Path, e: &io::Error) -> Option<String> {
    match e.kind() {
        io::ErrorKind::PermissionDenied => Some(format!(
            "{}: {e}: the node's owner and mode (the udev rule gives /dev/daedalus to the \
             daedalus user), or the sandbox (Landlock admits nothing outside {})",
            path.display(),
            parent(path).display()
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_kernel_names() {
        let names: Vec<_> = allowed_names().collect();
        assert!(names.contains(&"read"));
        assert!(names.contains(&"exit_group"));
        assert!(names.iter().all(|n| !n.starts_with("SYS_")));
    }

    #[test]
    fn the_probe_syscall_is_not_allowed() {
        assert!(
            ALLOWED
                .iter()
                .flat_map(|g| g.calls)
                .all(|c| c.nr != PROBE_SYSCALL)
        );
    }

    #[test]
    fn the_filter_compiles() {
        seccomp_filter(&[EMULATED_MODULE]).unwrap();
    }
}
