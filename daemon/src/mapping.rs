//! Buffers mapped from the kernel side (F_MAPPED jobs): a `Mapping` is one
//! mmap() of a job's OUTPUT or CAPTURE buffer, unmapped when dropped; the
//! transport that made it decides what the offset names. `MapSpace` plays
//! the kernel's side of those mappings for the loopback transport: one
//! memfd per buffer, offsets handed out per job, and revocation as the
//! module does it (a touch after the completing reply raises SIGBUS).
//!
//! The module also revokes a buffer on its own, while the daemon may be
//! writing a picture into it: CAPTURE or OUTPUT STREAMOFF, the watchdog. A
//! SIGBUS inside a live mapping is therefore not fatal: the handler puts
//! private zero pages in the mapping's place, the write lands there and
//! goes nowhere, and the mapping reports the revoked touch when it is
//! dropped (the job's reply, if any, names a dead cookie and is rejected).

use std::collections::{HashMap, HashSet};
use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd};
use std::os::unix::fs::FileExt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once};

/// The system page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf only reads a system constant.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).unwrap_or(4096)
}

/// `len` rounded up to whole pages: the length every mmap() asks for.
pub fn page_round(len: usize) -> usize {
    len.div_ceil(page_size()) * page_size()
}

/// A live mapping's range, for the SIGBUS handler.
struct Slot {
    start: AtomicUsize,
    len: AtomicUsize,
    /// A touch after revocation was absorbed.
    hit: AtomicBool,
}

const SLOTS: usize = 4096;

#[allow(clippy::declare_interior_mutable_const)]
const FREE: Slot = Slot {
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    hit: AtomicBool::new(false),
};

static GUARDED: [Slot; SLOTS] = [FREE; SLOTS];
static INSTALL: Once = Once::new();
/// The SIGBUS action before ours (Rust's stack-overflow handler, or the
/// default): a fault outside every mapping goes to it.
static mut PREVIOUS: Option<libc::sigaction> = None;

extern "C" fn on_sigbus(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    for slot in &GUARDED {
        let start = slot.start.load(Ordering::Acquire);
        let len = slot.len.load(Ordering::Acquire);
        // 0: free; usize::MAX: being claimed.
        if start == 0 || start == usize::MAX || addr < start || addr - start >= len {
            continue;
        }
        // SAFETY: the range is a live Mapping's (registered until its
        // munmap); mmap is async-signal-safe. The revoked pages give way to
        // private zero pages; the faulting access is retried on them.
        let p = unsafe {
            libc::mmap(
                start as *mut libc::c_void,
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p != libc::MAP_FAILED {
            slot.hit.store(true, Ordering::Release);
            return;
        }
    }
    // Not a mapping's: the previous action sees the retried access.
    // SAFETY: PREVIOUS is written once, before the handler is installed;
    // sigaction is async-signal-safe.
    unsafe {
        let prev = (*std::ptr::addr_of!(PREVIOUS)).as_ref();
        match prev {
            Some(prev) => libc::sigaction(libc::SIGBUS, prev, std::ptr::null_mut()),
            None => {
                libc::signal(libc::SIGBUS, libc::SIG_DFL);
                0
            }
        };
    }
}

fn install_handler() {
    INSTALL.call_once(|| {
        // SAFETY: sigaction with a zeroed, then filled, struct; PREVIOUS is
        // written before our handler can run.
        unsafe {
            let mut prev: libc::sigaction = std::mem::zeroed();
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_sigbus as *const () as usize;
            act.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut prev);
            *std::ptr::addr_of_mut!(PREVIOUS) = Some(prev);
            libc::sigaction(libc::SIGBUS, &act, std::ptr::null_mut());
        }
    });
}

/// Registers a range with the handler; `None` if every slot is taken (the
/// mapping then works unguarded).
fn guard(start: usize, len: usize) -> Option<usize> {
    install_handler();
    for (i, slot) in GUARDED.iter().enumerate() {
        if slot.start.load(Ordering::Relaxed) != 0 {
            continue;
        }
        // Claim with a placeholder, then publish len before the start.
        if slot
            .start
            .compare_exchange(0, usize::MAX, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            slot.hit.store(false, Ordering::Relaxed);
            slot.len.store(len, Ordering::Release);
            slot.start.store(start, Ordering::Release);
            return Some(i);
        }
    }
    tracing::warn!("{SLOTS} mappings live: this one is not guarded against revocation");
    None
}

/// Unregisters a range; returns whether a revoked touch was absorbed in it.
fn unguard(i: usize) -> bool {
    let slot = &GUARDED[i];
    slot.start.store(0, Ordering::Release);
    slot.hit.load(Ordering::Acquire)
}

/// Which buffer of a job a mapping is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MapKind {
    /// The OUTPUT buffer: the bitstream, read only.
    Src,
    /// The CAPTURE buffer: the picture, read and write.
    Dst,
}

/// One live mmap() of a job's buffer. Dropping it unmaps it without
/// touching it, which is always allowed, even after the kernel revoked it.
pub struct Mapping {
    ptr: NonNull<u8>,
    /// Bytes of the buffer the job uses (`bytes` or `dst_size`).
    len: usize,
    /// Bytes mapped: `len` rounded up to pages.
    map_len: usize,
    kind: MapKind,
    /// Its slot with the SIGBUS handler.
    slot: Option<usize>,
    /// Told when the mapping goes (loopback bookkeeping).
    space: Option<(Arc<MapSpace>, u64)>,
}

// SAFETY: a Mapping is the only handle to its address range in this
// process; the pages are shared with the kernel side, which does not touch
// a buffer while a job holds it.
unsafe impl Send for Mapping {}

impl Mapping {
    /// mmap()s `len` bytes at `offset` of `fd`, shared, read only for a
    /// src, read and write for a dst.
    pub fn map_fd(fd: BorrowedFd<'_>, offset: u64, len: usize, kind: MapKind) -> io::Result<Self> {
        if len == 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let map_len = page_round(len);
        let prot = match kind {
            MapKind::Src => libc::PROT_READ,
            MapKind::Dst => libc::PROT_READ | libc::PROT_WRITE,
        };
        let off = libc::off_t::try_from(offset)
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: a fresh mapping chosen by the kernel (NULL hint); nothing
        // else in this process refers to its range.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                prot,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                off,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::other("mmap gave NULL"))?;
        Ok(Self {
            ptr,
            len,
            map_len,
            kind,
            slot: guard(p as usize, map_len),
            space: None,
        })
    }

    pub fn kind(&self) -> MapKind {
        self.kind
    }

    /// Bytes of the buffer.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The buffer's bytes. Valid only until the reply that completes the
    /// buffer: read them before that reply is written.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `len <= map_len` bytes are mapped readable at ptr for the
        // life of self; the kernel side leaves them alone while the job
        // holds the buffer.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The buffer's bytes to write, for a dst; `None` for a (read-only) src.
    pub fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        if self.kind != MapKind::Dst {
            return None;
        }
        // SAFETY: as for `bytes`, and a dst is mapped writable; &mut self
        // makes this the only reference.
        Some(unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // Unguarded first: once unmapped, the range may become anyone's.
        let touched = self.slot.is_some_and(unguard);
        if touched {
            tracing::warn!(
                kind = ?self.kind,
                len = self.len,
                "a mapped buffer was touched after the kernel revoked it (its job ended)"
            );
        }
        // SAFETY: ptr/map_len are exactly what mmap returned (or the zero
        // pages the handler put in their place); no reference into the
        // range outlives self (the slices borrow self).
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.map_len) };
        if let Some((space, id)) = self.space.take() {
            space.unmapped(id, touched);
        }
    }
}

impl std::fmt::Debug for Mapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mapping")
            .field("kind", &self.kind)
            .field("len", &self.len)
            .field("at", &self.ptr)
            .finish()
    }
}

/// Two mappings are equal when they are the same range (tests compare
/// parked dsts).
impl PartialEq for Mapping {
    fn eq(&self, other: &Self) -> bool {
        self.ptr == other.ptr && self.len == other.len
    }
}

impl Eq for Mapping {}

/// One buffer the emulated kernel lends to a job.
struct Buf {
    cookie: u64,
    kind: MapKind,
    file: File,
    len: usize,
}

#[derive(Default)]
struct Space {
    /// The next free offset: never reused, so a stale offset names nothing.
    next: u64,
    /// Buffers of the jobs in flight, by offset.
    bufs: HashMap<u64, Buf>,
    /// (cookie, kind) to offset.
    by_job: HashMap<(u64, MapKind), u64>,
    /// The daemon's live mappings: id to the offset they map.
    live: HashMap<u64, u64>,
    next_id: u64,
    /// Every offset revoked.
    revoked: HashSet<u64>,
    /// Pictures of mapped dsts, as they were when HAS_PIXELS arrived.
    completed: HashMap<u64, Vec<u8>>,
    /// mmap() calls refused, as the module would refuse them.
    refused: Vec<String>,
    /// Mappings the daemon touched after their buffer was revoked.
    touched: usize,
}

/// The kernel's side of mapped buffers on a loopback pair. The test's
/// `KernelRole` lends buffers (`lend`) and takes them back at CAPTURE off,
/// reset or detach (`revoke_job`); the daemon's loopback end maps them
/// (`map`) and, as the module's write() does, revokes a buffer the moment a
/// reply completes it (`replied`). Revoking truncates the buffer's memfd to
/// nothing: a daemon that touches a mapping after that takes SIGBUS, as it
/// would from the module.
#[derive(Default)]
pub struct MapSpace {
    inner: Mutex<Space>,
}

impl MapSpace {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn lock(&self) -> MutexGuard<'_, Space> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lends job `cookie` a buffer of `len` bytes holding `contents`;
    /// returns its page-aligned offset (never 0: 0 is "no src").
    pub fn lend(&self, cookie: u64, kind: MapKind, len: usize, contents: &[u8]) -> io::Result<u64> {
        const NAME: &CStr = c"daedalus-buffer";
        // SAFETY: NAME is a valid C string; the result is checked.
        let fd = unsafe { libc::memfd_create(NAME.as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor owned by nothing else.
        let file = unsafe { File::from_raw_fd(fd) };
        file.set_len(len as u64)?;
        file.write_all_at(&contents[..contents.len().min(len)], 0)?;
        let mut s = self.lock();
        if s.next == 0 {
            s.next = page_size() as u64;
        }
        let offset = s.next;
        s.next += page_round(len.max(1)) as u64;
        s.bufs.insert(
            offset,
            Buf {
                cookie,
                kind,
                file,
                len,
            },
        );
        s.by_job.insert((cookie, kind), offset);
        Ok(offset)
    }

    /// The daemon's mmap() on the device at `offset`: refused (EINVAL) if
    /// it names no buffer of a job in flight or asks beyond it, (EACCES)
    /// if it asks to write a src.
    pub fn map(self: &Arc<Self>, offset: u64, len: usize, kind: MapKind) -> io::Result<Mapping> {
        let mut s = self.lock();
        let refuse = |s: &mut Space, errno: i32, why: String| {
            s.refused.push(why);
            Err(io::Error::from_raw_os_error(errno))
        };
        let Some(buf) = s.bufs.get(&offset) else {
            let why = format!("mmap at {offset:#x}: no buffer of a job in flight");
            return refuse(&mut s, libc::EINVAL, why);
        };
        if page_round(len) > page_round(buf.len) || len == 0 {
            let why = format!("mmap of {len} bytes of a {}-byte buffer", buf.len);
            return refuse(&mut s, libc::EINVAL, why);
        }
        if kind == MapKind::Dst && buf.kind == MapKind::Src {
            let why = format!("writable mmap of job {:#x}'s src", buf.cookie);
            return refuse(&mut s, libc::EACCES, why);
        }
        let mut m = Mapping::map_fd(std::os::fd::AsFd::as_fd(&buf.file), 0, len, kind)?;
        s.next_id += 1;
        let id = s.next_id;
        s.live.insert(id, offset);
        m.space = Some((Arc::clone(self), id));
        Ok(m)
    }

    fn unmapped(&self, id: u64, touched: bool) {
        let mut s = self.lock();
        s.live.remove(&id);
        s.touched += usize::from(touched);
    }

    /// Mappings the daemon touched after their buffer was revoked and has
    /// unmapped since, counted once: since the last call.
    pub fn take_touched(&self) -> usize {
        std::mem::take(&mut self.lock().touched)
    }

    /// What the module's write() does with a RESP_FRAME before it returns:
    /// a picture in a mapped dst is taken (`bytesused` bytes) and the
    /// buffers the reply completes are revoked. A reply naming no buffer
    /// here (inline job, dead cookie) changes nothing.
    pub fn replied(&self, cookie: u64, flags: u32, bytesused: u32) {
        use daedalus_proto::{FRAME_HAS_PIXELS, FRAME_SRC_CONSUMED};
        let mut s = self.lock();
        if flags & FRAME_HAS_PIXELS != 0
            && let Some(off) = s.by_job.get(&(cookie, MapKind::Dst)).copied()
        {
            let buf = &s.bufs[&off];
            let mut picture = vec![0; (bytesused as usize).min(buf.len)];
            if buf.file.read_exact_at(&mut picture, 0).is_ok() {
                s.completed.insert(cookie, picture);
            }
            revoke(&mut s, cookie, MapKind::Dst);
        }
        if flags & FRAME_SRC_CONSUMED != 0 {
            revoke(&mut s, cookie, MapKind::Src);
        }
    }

    /// The module ends job `cookie` (CAPTURE off, reset, session error,
    /// detach): both of its buffers are revoked.
    pub fn revoke_job(&self, cookie: u64) {
        let mut s = self.lock();
        revoke(&mut s, cookie, MapKind::Src);
        revoke(&mut s, cookie, MapKind::Dst);
    }

    /// Every buffer lent is revoked (the daemon closed the device).
    pub fn revoke_all(&self) {
        let mut s = self.lock();
        let jobs: Vec<_> = s.by_job.keys().copied().collect();
        for (cookie, kind) in jobs {
            revoke(&mut s, cookie, kind);
        }
    }

    /// The picture a mapped dst held when its HAS_PIXELS arrived.
    pub fn take_picture(&self, cookie: u64) -> Option<Vec<u8>> {
        self.lock().completed.remove(&cookie)
    }

    /// Whether job `cookie` has a buffer of `kind` lent and not revoked.
    pub fn lent(&self, cookie: u64, kind: MapKind) -> bool {
        self.lock().by_job.contains_key(&(cookie, kind))
    }

    /// The daemon's mappings not yet unmapped.
    pub fn live(&self) -> usize {
        self.lock().live.len()
    }

    /// The daemon's mappings of buffers already revoked: each one is a
    /// leak (the daemon kept a mapping after the reply, CAPTURE off or
    /// reset that ended its buffer).
    pub fn leaked(&self) -> usize {
        let s = self.lock();
        s.live.values().filter(|o| s.revoked.contains(o)).count()
    }

    /// The mmap() calls refused since the last call, one line each.
    pub fn take_refused(&self) -> Vec<String> {
        std::mem::take(&mut self.lock().refused)
    }
}

fn revoke(s: &mut Space, cookie: u64, kind: MapKind) {
    let Some(off) = s.by_job.remove(&(cookie, kind)) else {
        return;
    };
    if let Some(buf) = s.bufs.remove(&off) {
        // Pages past the end of a shared file mapping raise SIGBUS, as
        // the module's revoked pages do.
        let _ = buf.file.set_len(0);
    }
    s.revoked.insert(off);
}

#[cfg(test)]
mod tests {
    use super::*;
    use daedalus_proto::{FRAME_HAS_PIXELS, FRAME_SRC_CONSUMED};

    #[test]
    fn a_dst_is_written_through_and_taken_at_its_reply() {
        let space = MapSpace::new();
        let off = space.lend(7, MapKind::Dst, 5000, &[]).unwrap();
        assert_eq!(off % page_size() as u64, 0);
        let mut m = space.map(off, 5000, MapKind::Dst).unwrap();
        m.bytes_mut().unwrap()[..3].copy_from_slice(b"abc");
        drop(m);
        assert_eq!(space.live(), 0);
        space.replied(7, FRAME_HAS_PIXELS, 4);
        assert_eq!(space.take_picture(7).unwrap(), b"abc\0");
        assert!(!space.lent(7, MapKind::Dst));
    }

    #[test]
    fn refused_maps_name_their_reason() {
        let space = MapSpace::new();
        let src = space.lend(1, MapKind::Src, 10, b"0123456789").unwrap();
        let e = space.map(src, 10, MapKind::Dst).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EACCES));
        let e = space
            .map(src, 2 * page_size() + 1, MapKind::Src)
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
        let m = space.map(src, 10, MapKind::Src).unwrap();
        assert_eq!(m.bytes(), b"0123456789");
        assert!(m.len() == 10 && m.kind() == MapKind::Src);
        space.replied(1, FRAME_SRC_CONSUMED, 0);
        assert_eq!(
            (space.live(), space.leaked()),
            (1, 1),
            "kept after its reply"
        );
        drop(m);
        assert_eq!((space.live(), space.leaked()), (0, 0));
        let e = space.map(src, 10, MapKind::Src).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "a revoked offset");
        assert_eq!(space.take_refused().len(), 3);
    }

    /// The emulation is only worth something if a late touch really
    /// faults: here the handler absorbs it (as it must when the module
    /// revokes a buffer during a write) and the space counts it.
    #[test]
    fn a_touch_after_revocation_is_absorbed_and_counted() {
        let space = MapSpace::new();
        let off = space.lend(3, MapKind::Dst, 100, &[]).unwrap();
        let mut m = space.map(off, 100, MapKind::Dst).unwrap();
        m.bytes_mut().unwrap()[0] = 9;
        space.revoke_job(3);
        let out = m.bytes_mut().unwrap();
        // SAFETY: a plain write the compiler must not elide or move.
        unsafe { out.as_mut_ptr().add(50).write_volatile(1) };
        assert_eq!(m.bytes()[50], 1, "the write landed on a zero page");
        assert_eq!(m.bytes()[0], 0, "the revoked contents are gone");
        assert_eq!(space.take_touched(), 0, "counted when unmapped");
        drop(m);
        assert_eq!((space.take_touched(), space.live()), (1, 0));
    }

    /// A SIGBUS outside every mapping still kills: a child process reads
    /// past the end of a truncated file it mapped itself.
    #[test]
    fn a_sigbus_elsewhere_still_kills() {
        install_handler();
        let space = MapSpace::new();
        let off = space.lend(4, MapKind::Dst, 100, &[]).unwrap();
        let file = space.lock().bufs[&off].file.try_clone().unwrap();
        // SAFETY: a plain shared mapping of our own memfd.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        file.set_len(0).unwrap();
        // SAFETY: the child only reads memory and _exits; the parent only
        // waits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            // SAFETY: p is mapped; the file behind it is gone: SIGBUS.
            unsafe {
                std::ptr::read_volatile(p.cast::<u8>());
                libc::_exit(0);
            }
        }
        let mut status = 0;
        // SAFETY: waits for the child just forked.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFSIGNALED(status), "status {status:#x}");
        assert_eq!(libc::WTERMSIG(status), libc::SIGBUS);
        // SAFETY: unmaps what this test mapped.
        unsafe { libc::munmap(p, 4096) };
    }
}
