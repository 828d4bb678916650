//! Where protocol messages come from and go to: the `/dev/daedalus`
//! character device (one message per read()/write()), or a stream socket
//! whose other end is a test or the replay engine (messages framed by
//! their own header). Buffers of F_MAPPED jobs are mmap()ed through the
//! transport (`Transport::map`): from the device, or from the loopback's
//! emulation of it (`MapSpace`).

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;

use daedalus_proto::{HDR_SIZE, MAX_PAYLOAD, MsgType, peek_header};

use crate::mapping::{MapKind, MapSpace, Mapping};

/// A message channel to the kernel side.
pub trait Transport {
    /// Reads one whole message into `buf` (replacing its contents).
    /// `Ok(false)`: the other side is gone.
    fn recv(&mut self, buf: &mut Vec<u8>) -> io::Result<bool>;

    /// Writes one whole message.
    fn send(&mut self, msg: &[u8]) -> io::Result<()>;

    /// Writes one whole message given as head and data, without joining
    /// them first.
    fn send_parts(&mut self, head: &[u8], data: &[u8]) -> io::Result<()> {
        let mut msg = Vec::with_capacity(head.len() + data.len());
        msg.extend_from_slice(head);
        msg.extend_from_slice(data);
        self.send(&msg)
    }

    /// The descriptor to poll for readability.
    fn fd(&self) -> BorrowedFd<'_>;

    /// Whether `map` can work here (RESP_HELLO's F_MAPPED).
    fn can_map(&self) -> bool {
        false
    }

    /// Maps `len` bytes of a job's buffer at `offset` (REQ_DECODE's
    /// `src_map` or `dst_map`): read only for a src, read and write for a
    /// dst. The mapping is valid until the reply that completes the buffer;
    /// dropping it unmaps it.
    fn map(&mut self, offset: u64, len: usize, kind: MapKind) -> io::Result<Mapping> {
        let _ = (offset, len, kind);
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// `/dev/daedalus`.
pub struct CharDev {
    file: File,
    buf: Vec<u8>,
    out: Vec<u8>,
}

impl CharDev {
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = File::options().read(true).write(true).open(path)?;
        Ok(Self::from_file(file))
    }

    /// Any descriptor with the device's semantics: one message per read()
    /// and per write() (a SOCK_SEQPACKET socket in tests).
    pub fn from_file(file: File) -> Self {
        Self {
            file,
            buf: Vec::new(),
            out: Vec::new(),
        }
    }
}

impl Transport for CharDev {
    fn recv(&mut self, buf: &mut Vec<u8>) -> io::Result<bool> {
        if self.buf.is_empty() {
            // Untouched pages of the buffer are never faulted in.
            self.buf = vec![0; HDR_SIZE + MAX_PAYLOAD as usize];
        }
        let n = loop {
            match self.file.read(&mut self.buf) {
                Ok(0) => return Ok(false),
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.raw_os_error() == Some(libc::ENODEV) => return Ok(false),
                Err(e) => return Err(e),
            }
        };
        buf.clear();
        buf.extend_from_slice(&self.buf[..n]);
        Ok(true)
    }

    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        let n = self.file.write(msg)?;
        if n != msg.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("short write: {n} of {}", msg.len()),
            ));
        }
        Ok(())
    }

    fn send_parts(&mut self, head: &[u8], data: &[u8]) -> io::Result<()> {
        // A writev() on a device with only a write() method is split into
        // one write() per piece, i.e. two messages: join them first.
        self.out.clear();
        self.out.extend_from_slice(head);
        self.out.extend_from_slice(data);
        let n = self.file.write(&self.out)?;
        if n != self.out.len() {
            let want = self.out.len();
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("short write: {n} of {want}"),
            ));
        }
        Ok(())
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// Only the device has an mmap handler (a socket standing in for it in
    /// tests has none).
    fn can_map(&self) -> bool {
        use std::os::unix::fs::FileTypeExt;
        self.file
            .metadata()
            .is_ok_and(|m| m.file_type().is_char_device())
    }

    fn map(&mut self, offset: u64, len: usize, kind: MapKind) -> io::Result<Mapping> {
        Mapping::map_fd(self.file.as_fd(), offset, len, kind)
    }
}

/// A Unix stream socket carrying whole messages back to back.
pub struct Loopback {
    sock: UnixStream,
    /// Mapped buffers, shared by both ends of an in-process pair.
    space: Option<Arc<MapSpace>>,
}

impl Loopback {
    /// Two connected ends: one for the daemon, one for the kernel's role.
    pub fn pair() -> io::Result<(Self, Self)> {
        let (a, b) = UnixStream::pair()?;
        Ok((Self::from_stream(a), Self::from_stream(b)))
    }

    /// Two connected ends sharing a `MapSpace`: the kernel's role may send
    /// F_MAPPED jobs, and the daemon's end maps their buffers from it and
    /// revokes them at each reply, as the module's write() does.
    pub fn pair_mapped() -> io::Result<(Self, Self)> {
        let (mut a, mut b) = Self::pair()?;
        let space = MapSpace::new();
        a.space = Some(Arc::clone(&space));
        b.space = Some(space);
        Ok((a, b))
    }

    pub fn connect(path: &Path) -> io::Result<Self> {
        Ok(Self::from_stream(UnixStream::connect(path)?))
    }

    pub fn from_stream(sock: UnixStream) -> Self {
        Self { sock, space: None }
    }

    /// The buffers mapped across this pair, if it was made mapped.
    pub fn map_space(&self) -> Option<&Arc<MapSpace>> {
        self.space.as_ref()
    }

    /// The module applies a RESP_FRAME inside the daemon's write(): the
    /// buffers it completes are revoked before the write returns.
    fn revoke_at(&self, head: &[u8]) {
        let Some(space) = &self.space else { return };
        let Ok((hdr, MsgType::RespFrame, _)) = peek_header(head) else {
            return;
        };
        let word = |at: usize| {
            head.get(HDR_SIZE + at..HDR_SIZE + at + 4)
                .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        // struct daedalus_resp_frame: flags at 4, bytesused at 16.
        space.replied(hdr.cookie, word(4), word(16));
    }

    pub fn set_read_timeout(&self, t: Option<std::time::Duration>) -> io::Result<()> {
        self.sock.set_read_timeout(t)
    }

    /// Closes the sending side: the peer's `recv` sees the end.
    pub fn shutdown(&self) -> io::Result<()> {
        self.sock.shutdown(std::net::Shutdown::Both)
    }
}

impl Transport for Loopback {
    fn recv(&mut self, buf: &mut Vec<u8>) -> io::Result<bool> {
        buf.clear();
        buf.resize(HDR_SIZE, 0);
        let mut got = 0;
        while got < HDR_SIZE {
            // A signal (SIGTERM, a test's alarm) interrupts the read, not the
            // link: read_exact below retries the same way.
            match self.sock.read(&mut buf[got..]) {
                Ok(0) if got == 0 => return Ok(false),
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        // A stream cannot resynchronise after a bad header: fail the link.
        let (_, _, total) =
            peek_header(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        buf.resize(total, 0);
        self.sock.read_exact(&mut buf[HDR_SIZE..])?;
        Ok(true)
    }

    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        // Before the peer can see the reply, as the module completes the
        // buffers within write().
        self.revoke_at(msg);
        self.sock.write_all(msg)
    }

    fn send_parts(&mut self, head: &[u8], data: &[u8]) -> io::Result<()> {
        self.revoke_at(head);
        self.sock.write_all(head)?;
        self.sock.write_all(data)
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }

    fn can_map(&self) -> bool {
        self.space.is_some()
    }

    fn map(&mut self, offset: u64, len: usize, kind: MapKind) -> io::Result<Mapping> {
        match &self.space {
            Some(space) => space.map(offset, len, kind),
            None => Err(io::ErrorKind::Unsupported.into()),
        }
    }
}

/// Waits until `fd` is readable or `wake` (if any) is; returns which.
pub fn poll_two(
    fd: BorrowedFd<'_>,
    wake: Option<BorrowedFd<'_>>,
    timeout_ms: i32,
) -> io::Result<(bool, bool)> {
    let mut fds = [
        libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: wake.map_or(-1, |w| w.as_raw_fd()),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    loop {
        // SAFETY: fds is a valid array of two pollfd; a negative fd is ignored.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout_ms) };
        if r >= 0 {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    let ready = |p: &libc::pollfd| p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0;
    Ok((ready(&fds[0]), ready(&fds[1])))
}
