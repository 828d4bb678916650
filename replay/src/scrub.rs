//! Kernel pointers out of a trace-cmd trace.dat before it is kept.
//!
//! Where tracefs text holds no kernel address (or a hashed `%p`), a
//! trace.dat holds them raw: /proc/kallsyms (every symbol's address), the
//! trace_printk formats (each format's address) and every pointer field of
//! a recorded event as the kernel stored it (vb2's `owner`, the queue's
//! file handle). [`scrub`] writes the same recording without them: the
//! kallsyms and printk sections emptied, each distinct non-zero value of a
//! pointer field replaced by its rank of first appearance in the file (1,
//! 2, ...), so identity — all the importer uses an owner for — is kept and
//! the scenarios imported are the same. [`check`] lists what a file still
//! holds.
//!
//! The format read and written is trace-cmd's version 6, uncompressed
//! (trace-cmd.dat.v6(5)): a version-7 file (trace-cmd's default, sections
//! compressed) is converted to it first with `trace-cmd convert`.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The first bytes of a trace.dat, before its version string.
const MAGIC: &[u8] = b"\x17\x08\x44tracing";
/// kbuffer's mask of a sub-buffer's commit word (the rest are flags).
const COMMIT_MASK: u64 = (1 << 27) - 1;
/// A pointer field value kept as is: NULL, and the ranks scrubbing writes.
pub const SCRUBBED_MAX: u64 = u32::MAX as u64;

/// Why a trace.dat could not be scrubbed or checked.
#[derive(Debug, thiserror::Error)]
#[error("{}: {why}", file.display())]
pub struct ScrubError {
    /// The file.
    pub file: PathBuf,
    /// What is wrong, with the byte offset where there is one.
    pub why: String,
}

/// What [`check`] found: one line each, with its byte offset.
pub type Findings = Vec<String>;

/// A recorded event's format: its name and pointer fields (offset, size,
/// name) within its payload.
struct Format {
    name: String,
    pointers: Vec<(usize, usize, String)>,
}

/// Where each part of a version-6 file is.
struct Layout {
    big: bool,
    page_size: usize,
    /// The sub-buffer header: offsets of the commit word and of the data.
    commit: (usize, usize),
    data_start: usize,
    formats: HashMap<u16, Format>,
    /// Byte ranges of the kallsyms and printk sections, each with its size
    /// word (u32) in front.
    kallsyms: Range<usize>,
    printk: Range<usize>,
    /// From the cmdlines section to the end of the "flyrecord\0" string.
    rest: Range<usize>,
    /// Each CPU's data: file offset, size.
    cpus: Vec<(u64, u64)>,
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    big: bool,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| format!("cut short at byte {} (wanted {n} more)", self.pos))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn uint(&mut self, n: usize) -> Result<u64, String> {
        let s = self.take(n)?;
        Ok(uint(s, self.big))
    }
    fn cstr(&mut self) -> Result<&'a str, String> {
        let at = self.pos;
        let len = self.b[at..]
            .iter()
            .position(|&c| c == 0)
            .ok_or_else(|| format!("unterminated string at byte {at}"))?;
        let s = self.take(len + 1)?;
        std::str::from_utf8(&s[..len]).map_err(|_| format!("not text at byte {at}"))
    }
    fn expect(&mut self, what: &[u8]) -> Result<(), String> {
        let at = self.pos;
        if self.take(what.len())? != what {
            return Err(format!(
                "expected {:?} at byte {at}",
                String::from_utf8_lossy(what.strip_suffix(b"\0").unwrap_or(what))
            ));
        }
        Ok(())
    }
    /// A block with a size word of `n` bytes in front: its contents.
    fn sized(&mut self, n: usize) -> Result<&'a [u8], String> {
        let size = self.uint(n)?;
        let size = usize::try_from(size).map_err(|_| format!("size {size} out of range"))?;
        self.take(size)
    }
}

fn uint(s: &[u8], big: bool) -> u64 {
    let mut v = 0u64;
    if big {
        for &c in s {
            v = (v << 8) | u64::from(c);
        }
    } else {
        for &c in s.iter().rev() {
            v = (v << 8) | u64::from(c);
        }
    }
    v
}

fn put_uint(s: &mut [u8], v: u64, big: bool) {
    let n = s.len();
    for (i, c) in s.iter_mut().enumerate() {
        let shift = if big { 8 * (n - 1 - i) } else { 8 * i };
        *c = (v >> shift) as u8;
    }
}

/// `field:TYPE NAME; offset:N; size:N; ...` lines: (type and name, offset,
/// size) each.
fn fields(text: &str) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let Some(decl) = line.strip_prefix("field:") else {
            continue;
        };
        let mut parts = decl.split(';').map(str::trim);
        let Some(decl) = parts.next() else { continue };
        let mut offset = None;
        let mut size = None;
        for p in parts {
            if let Some(v) = p.strip_prefix("offset:") {
                offset = v.parse().ok();
            } else if let Some(v) = p.strip_prefix("size:") {
                size = v.parse().ok();
            }
        }
        if let (Some(o), Some(s)) = (offset, size) {
            out.push((decl.to_owned(), o, s));
        }
    }
    out
}

/// The last word of a declaration: the field's name.
fn field_name(decl: &str) -> &str {
    decl.rsplit([' ', '*']).next().unwrap_or(decl)
}

fn event_format(text: &str, long_size: usize) -> Result<Option<(u16, Format)>, String> {
    let mut name = None;
    let mut id = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("name:") {
            name = Some(v.trim().to_owned());
        } else if let Some(v) = line.strip_prefix("ID:") {
            id = Some(
                v.trim()
                    .parse::<u16>()
                    .map_err(|_| format!("event ID {:?} out of range", v.trim()))?,
            );
        }
    }
    let (Some(name), Some(id)) = (name, id) else {
        return Ok(None);
    };
    let pointers = fields(text)
        .into_iter()
        .filter(|(decl, _, size)| {
            let ty = decl.strip_suffix(field_name(decl)).unwrap_or(decl);
            ty.contains('*') && *size == long_size
        })
        .map(|(decl, o, s)| (o, s, field_name(&decl).to_owned()))
        .collect();
    Ok(Some((id, Format { name, pointers })))
}

fn layout(b: &[u8]) -> Result<Layout, String> {
    let mut r = Reader {
        b,
        pos: 0,
        big: false,
    };
    r.expect(MAGIC)
        .map_err(|_| "not a trace.dat (no trace-cmd magic)".to_owned())?;
    let version = r.cstr()?;
    if version != "6" {
        return Err(format!(
            "trace.dat version {version}: only version 6 is read here (convert it first)"
        ));
    }
    r.big = r.uint(1)? != 0;
    let long_size = r.uint(1)? as usize;
    if long_size != 4 && long_size != 8 {
        return Err(format!("long size {long_size} out of range (4 or 8)"));
    }
    let page_size = r.uint(4)? as usize;
    if !(64..=1 << 20).contains(&page_size) {
        return Err(format!("page size {page_size} out of range"));
    }
    r.expect(b"header_page\0")?;
    let header_page = std::str::from_utf8(r.sized(8)?).map_err(|_| "header_page is not text")?;
    let hp = fields(header_page);
    let find = |n: &str| {
        hp.iter()
            .find(|(d, _, _)| field_name(d) == n)
            .map(|&(_, o, s)| (o, s))
            .ok_or_else(|| format!("header_page has no `{n}` field"))
    };
    let commit = find("commit")?;
    let data_start = find("data")?.0;
    if commit.0 + commit.1 > data_start || commit.1 > 8 || data_start >= page_size {
        return Err(format!(
            "header_page: commit at {}+{}, data at {data_start}: out of a {page_size}-byte page",
            commit.0, commit.1
        ));
    }
    r.expect(b"header_event\0")?;
    r.sized(8)?;
    let mut formats = HashMap::new();
    for _ in 0..r.uint(4)? {
        r.sized(8)?; // ftrace's own events: never pointer fields the importer reads
    }
    for _ in 0..r.uint(4)? {
        r.cstr()?;
        for _ in 0..r.uint(4)? {
            let text = String::from_utf8_lossy(r.sized(8)?).into_owned();
            if let Some((id, f)) = event_format(&text, long_size)? {
                formats.insert(id, f);
            }
        }
    }
    let k0 = r.pos;
    r.sized(4)?;
    let kallsyms = k0..r.pos;
    r.sized(4)?;
    let printk = kallsyms.end..r.pos;
    let rest0 = r.pos;
    r.sized(8)?; // cmdlines
    let ncpus = r.uint(4)?;
    if ncpus > 4096 {
        return Err(format!("{ncpus} CPUs out of range"));
    }
    r.expect(b"options  \0")?;
    loop {
        let at = r.pos;
        let id = r.uint(2)?;
        if id == 0 {
            break;
        }
        // TRACECMD_OPTION_BUFFER holds a file offset that moving the data
        // would break: instance buffers are not recorded by daedalus.
        if id == 3 {
            return Err(format!(
                "byte {at}: an instance buffer (option 3) is not supported"
            ));
        }
        r.sized(4)?;
    }
    r.expect(b"flyrecord\0")
        .map_err(|e| format!("{e}: only flyrecord data is supported"))?;
    let rest = rest0..r.pos;
    let mut cpus = Vec::new();
    for _ in 0..ncpus {
        let off = r.uint(8)?;
        let size = r.uint(8)?;
        let end = off.checked_add(size).filter(|&e| e <= b.len() as u64);
        if end.is_none() || size % page_size as u64 != 0 {
            return Err(format!(
                "CPU data at {off}, {size} bytes: beyond the file or not whole pages"
            ));
        }
        cpus.push((off, size));
    }
    Ok(Layout {
        big: r.big,

        page_size,
        commit,
        data_start,
        formats,
        kallsyms,
        printk,
        rest,
        cpus,
    })
}

/// Every pointer field of every recorded event in `data` (one CPU's pages,
/// at file offset `base`): (byte range in `data`, event name, field name).
fn pointer_fields(
    l: &Layout,
    data: &[u8],
    base: u64,
) -> Result<Vec<(Range<usize>, String, String)>, String> {
    let mut out = Vec::new();
    for (p, page) in data.chunks(l.page_size).enumerate() {
        let at = base + (p * l.page_size) as u64;
        let commit = uint(&page[l.commit.0..l.commit.0 + l.commit.1], l.big) & COMMIT_MASK;
        let commit = commit as usize;
        if l.data_start + commit > page.len() {
            return Err(format!(
                "page at byte {at}: commit {commit} beyond the page"
            ));
        }
        let d = &page[l.data_start..l.data_start + commit];
        let mut i = 0;
        while i + 4 <= d.len() {
            let h = uint(&d[i..i + 4], l.big) as u32;
            let (type_len, delta) = if l.big {
                (h >> 27, h & ((1 << 27) - 1))
            } else {
                (h & 0x1f, h >> 5)
            };
            let word = |j: usize| -> Result<usize, String> {
                d.get(j..j + 4)
                    .map(|s| uint(s, l.big) as usize)
                    .ok_or_else(|| format!("page at byte {at}: event at {i} cut short"))
            };
            let (payload, next) = match type_len {
                29 if delta == 0 => break, // the rest of the page is padding
                29 => (None, i + 4 + word(i + 4)?),
                30 | 31 => (None, i + 8),
                0 => {
                    let len = word(i + 4)?;
                    if len < 4 {
                        return Err(format!("page at byte {at}: event at {i} of length {len}"));
                    }
                    let dl = len - 4;
                    (Some(i + 8..i + 8 + dl), i + 8 + ((dl + 3) & !3))
                }
                n => {
                    let n = n as usize * 4;
                    (Some(i + 4..i + 4 + n), i + 4 + n)
                }
            };
            if next > d.len() {
                return Err(format!("page at byte {at}: event at {i} beyond the commit"));
            }
            if let Some(pl) = payload {
                if pl.len() < 2 {
                    return Err(format!("page at byte {at}: event at {i} without a type"));
                }
                let id = uint(&d[pl.start..pl.start + 2], l.big) as u16;
                if let Some(f) = l.formats.get(&id) {
                    for (o, s, name) in &f.pointers {
                        if o + s > pl.len() {
                            return Err(format!(
                                "page at byte {at}: {} event at {i} shorter than its field {name}",
                                f.name
                            ));
                        }
                        let start = p * l.page_size + l.data_start + pl.start + o;
                        out.push((start..start + s, f.name.clone(), name.clone()));
                    }
                }
            }
            i = next;
        }
    }
    Ok(out)
}

/// The bytes of `path`, as version 6: converted by `trace-cmd convert`
/// when it is another version.
fn read_v6(path: &Path) -> Result<Vec<u8>, ScrubError> {
    let fail = |why: String| ScrubError {
        file: path.to_owned(),
        why,
    };
    let b = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let version = b
        .strip_prefix(MAGIC)
        .and_then(|r| r.split(|&c| c == 0).next())
        .ok_or_else(|| fail("not a trace.dat (no trace-cmd magic)".into()))?;
    if version == b"6" {
        return Ok(b);
    }
    let tmp = std::env::temp_dir().join(format!(
        "daedalus-scrub-{}-{}.dat",
        std::process::id(),
        path.file_name().and_then(|n| n.to_str()).unwrap_or("trace")
    ));
    let run = std::process::Command::new("trace-cmd")
        .args([
            "convert",
            "--file-version",
            "6",
            "--compression",
            "none",
            "-i",
        ])
        .arg(path)
        .arg("-o")
        .arg(&tmp)
        .output();
    let out = match run {
        Ok(o) if o.status.success() => std::fs::read(&tmp).map_err(|e| fail(e.to_string())),
        Ok(o) => Err(fail(format!(
            "trace-cmd convert to version 6 failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ))),
        Err(e) => Err(fail(format!(
            "version {} needs trace-cmd to convert it to version 6: {e}",
            String::from_utf8_lossy(version)
        ))),
    };
    let _ = std::fs::remove_file(&tmp);
    out
}

/// `input` without kernel pointers, as an uncompressed version-6
/// trace.dat: kallsyms and printk formats emptied, pointer fields ranked
/// (see the module). Returns the bytes and how many distinct pointers
/// were replaced.
pub fn scrub(input: &Path) -> Result<(Vec<u8>, usize), ScrubError> {
    let b = read_v6(input)?;
    scrub_bytes(&b).map_err(|why| ScrubError {
        file: input.to_owned(),
        why,
    })
}

/// [`scrub`] of a version-6 trace.dat in memory.
pub fn scrub_bytes(b: &[u8]) -> Result<(Vec<u8>, usize), String> {
    let l = layout(b)?;
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(&b[..l.kallsyms.start]);
    let mut zero = [0u8; 4];
    put_uint(&mut zero, 0, l.big);
    out.extend_from_slice(&zero); // kallsyms
    out.extend_from_slice(&zero); // printk formats
    out.extend_from_slice(&b[l.rest.clone()]);
    let table = out.len();
    out.resize(table + 16 * l.cpus.len(), 0);
    let mut ranks: HashMap<u64, u64> = HashMap::new();
    for (c, &(off, size)) in l.cpus.iter().enumerate() {
        // Each CPU's pages start on a page boundary, as trace-cmd writes them.
        let start = out.len().next_multiple_of(l.page_size);
        out.resize(start, 0);
        let data = &b[off as usize..(off + size) as usize];
        let fields = pointer_fields(&l, data, off)?;
        out.extend_from_slice(data);
        for (r, _, _) in fields {
            let s = &mut out[start + r.start..start + r.end];
            let v = uint(s, l.big);
            if v != 0 {
                let n = ranks.len() as u64 + 1;
                let rank = *ranks.entry(v).or_insert(n);
                put_uint(s, rank, l.big);
            }
        }
        let e = table + 16 * c;
        put_uint(&mut out[e..e + 8], start as u64, l.big);
        put_uint(&mut out[e + 8..e + 16], size, l.big);
    }
    Ok((out, ranks.len()))
}

/// A pointer field of a recorded event in a trace.dat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    /// Its byte offset in the (version-6) file.
    pub offset: usize,
    /// The event's name.
    pub event: String,
    /// The field's name.
    pub field: String,
    /// Its value.
    pub value: u64,
}

/// Every pointer field of every event recorded in `path` (a version-6
/// trace.dat), in file order.
pub fn pointers(path: &Path) -> Result<Vec<Pointer>, ScrubError> {
    let b = read_v6(path)?;
    let l = layout(&b).map_err(|why| ScrubError {
        file: path.to_owned(),
        why,
    })?;
    pointers_in(&b, &l).map_err(|why| ScrubError {
        file: path.to_owned(),
        why,
    })
}

fn pointers_in(b: &[u8], l: &Layout) -> Result<Vec<Pointer>, String> {
    let mut out = Vec::new();
    for &(off, size) in &l.cpus {
        let data = &b[off as usize..(off + size) as usize];
        for (r, event, field) in pointer_fields(l, data, off)? {
            out.push(Pointer {
                offset: off as usize + r.start,
                value: uint(&data[r], l.big),
                event,
                field,
            });
        }
    }
    Ok(out)
}

/// What in `path` is still a kernel pointer: a kallsyms or printk section
/// with content, a pointer field above [`SCRUBBED_MAX`] (its event, field,
/// byte offset). Empty when the file is scrubbed.
pub fn check(path: &Path) -> Result<Findings, ScrubError> {
    let b = read_v6(path)?;
    check_bytes(&b).map_err(|why| ScrubError {
        file: path.to_owned(),
        why,
    })
}

/// [`check`] of a version-6 trace.dat in memory.
pub fn check_bytes(b: &[u8]) -> Result<Findings, String> {
    let l = layout(b)?;
    let mut found = Vec::new();
    for (what, r) in [("kallsyms", &l.kallsyms), ("printk formats", &l.printk)] {
        if r.len() > 4 {
            found.push(format!(
                "byte {}: {what}: {} bytes of kernel addresses",
                r.start,
                r.len() - 4
            ));
        }
    }
    for p in pointers_in(b, &l)? {
        if p.value > SCRUBBED_MAX {
            found.push(format!(
                "byte {}: {}.{} = {:#x}",
                p.offset, p.event, p.field, p.value
            ));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_lines_parse() {
        let f = fields(
            "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
             \tfield:void * owner;\toffset:8;\tsize:8;\tsigned:0;\n\
             \tfield:char comm[16];\toffset:16;\tsize:16;\tsigned:1;\n",
        );
        assert_eq!(f.len(), 3);
        assert_eq!(field_name(&f[1].0), "owner");
        assert_eq!((f[1].1, f[1].2), (8, 8));
        let (id, fmt) = event_format(
            "name: vb2_qbuf\nID: 1234\nformat:\n\tfield:void * owner;\toffset:8;\tsize:8;\tsigned:0;\n\
             \tfield:u32 index;\toffset:16;\tsize:4;\tsigned:0;\n",
            8,
        )
        .unwrap()
        .unwrap();
        assert_eq!(id, 1234);
        assert_eq!(fmt.pointers, vec![(8, 8, "owner".to_owned())]);
    }

    #[test]
    fn uint_round_trips_both_ways() {
        for big in [false, true] {
            let mut s = [0u8; 8];
            put_uint(&mut s, 0xff11_0000_0385_4000, big);
            assert_eq!(uint(&s, big), 0xff11_0000_0385_4000);
        }
    }

    #[test]
    fn not_a_trace_dat_is_named() {
        let e = layout(b"hello").err().unwrap();
        assert!(e.contains("not a trace.dat"), "{e}");
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(b"6\0\0\x08\0\x10\0\0header_page\0\xff\xff");
        let e = layout(&b).err().unwrap();
        assert!(e.contains("cut short"), "{e}");
    }
}
