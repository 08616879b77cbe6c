//! `Dump`: format detection and the format-independent API.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use krash_core::{AddrSpace, Error, FaultReason, Machine, PhysRange, PhysicalMemory, Result};

use crate::cache::PageCache;
use crate::elf::{self, ElfDump};
use crate::flattened::{self, FlatIndex};
use crate::format::ElfProducer;
use crate::format::{DumpFormat, PageState, Truncation, Utsname};
use crate::image::{Bytes, Image, PositionedFile};
use crate::kdump::{KdumpDump, KDUMP_SIGNATURE};
use crate::le::Fields;
use crate::lime::{self, LimeDump};
use crate::notes::{CpuNote, NoteSummary};
use crate::vmcoreinfo::VmcoreInfo;

enum Layout {
    Kdump(Box<KdumpDump>),
    Elf(ElfDump),
    Lime(LimeDump),
}

/// An open vmcore. Cheap to share across threads; reads are lock-free
/// except for the decompressed-page cache.
pub struct Dump {
    image: Image,
    layout: Layout,
    format: DumpFormat,
    cache: PageCache,
    name: String,
    truncation: OnceLock<Option<Truncation>>,
}

impl Dump {
    /// Maps the file and detects its format from its content. A running
    /// kernel's /proc/kcore (which cannot be mapped) opens as [`Dump::open_live`].
    pub fn open(path: &Path) -> Result<Dump> {
        if is_kcore(path) {
            return Dump::open_live(path);
        }
        let map = krash_core::MappedFile::open(path)?;
        let name = path.display().to_string();
        Dump::from_storage(Bytes::Mapped(map), name).map_err(|e| with_path(path, e))
    }

    /// Opens a running kernel's /proc/kcore (or any ELF core, for tests)
    /// with positioned reads: every read goes to the file, so memory is
    /// seen as it is at the moment of the read. Read-only; needs root.
    pub fn open_live(path: &Path) -> Result<Dump> {
        let file = std::fs::File::open(path).map_err(|e| live_open_error(path, &e))?;
        let len = file.metadata().map_err(|e| Error::io(path, &e))?.len();
        let image = Image::positioned(PositionedFile::new(file, len));
        let start = image.read(0, 64).map_err(|_| live_read_error(path))?;
        if !elf::is_elf(&start) {
            return Err(Error::bad_data(path.display().to_string(), "not an ELF core file, so not a /proc/kcore"));
        }
        let mut e = ElfDump::parse(&image).map_err(|e| with_path(path, e))?;
        // kcore's one NT_PRSTATUS is a zeroed placeholder, not a CPU's state.
        e.notes.cpus.clear();
        e.producer = ElfProducer::Kcore;
        let format = DumpFormat::Elf { producer: ElfProducer::Kcore, flattened: false };
        Ok(Dump::assemble(image, Layout::Elf(e), format, path.display().to_string()))
    }

    /// True for a running kernel's memory (/proc/kcore): the content
    /// changes between reads, nothing crashed, no CPU states were saved.
    pub fn is_live(&self) -> bool {
        matches!(self.format, DumpFormat::Elf { producer: ElfProducer::Kcore, .. })
    }

    /// Parses a dump held in memory (tests, fuzzing, dumps fetched elsewhere).
    pub fn from_bytes(bytes: impl Into<Arc<[u8]>>) -> Result<Dump> {
        Dump::from_storage(Bytes::Shared(bytes.into()), "vmcore".to_string())
    }

    fn from_storage(bytes: Bytes, name: String) -> Result<Dump> {
        let image = if flattened::is_flattened(&bytes) {
            let index = FlatIndex::build(&bytes)?;
            Image::flattened(bytes, index)
        } else {
            Image::raw(bytes)
        };
        let flat = image.is_flattened();
        let start = image.read(0, 8).map_err(|_| Error::bad_data("dump", "file is shorter than any dump header"))?;
        let (layout, format) = if start.as_ref() == KDUMP_SIGNATURE {
            let k = KdumpDump::parse(&image)?;
            let format = DumpFormat::KdumpCompressed {
                compression: k.compression,
                flattened: flat,
                header_version: k.header_version,
                qemu: k.notes.from_qemu,
            };
            (Layout::Kdump(Box::new(k)), format)
        } else if elf::is_elf(&start) {
            let e = ElfDump::parse(&image)?;
            let format = DumpFormat::Elf { producer: e.producer, flattened: flat };
            (Layout::Elf(e), format)
        } else if lime::is_lime(&start) {
            (Layout::Lime(LimeDump::parse(&image)?), DumpFormat::Lime)
        } else if start.starts_with(DISKDUMP_SIGNATURE) {
            return Err(Error::Unsupported("old diskdump (\"DISKDUMP\") dumps are not supported".into()));
        } else {
            return Err(Error::bad_data("dump", "not a kdump-compressed, flattened, ELF or LiME memory image"));
        };
        Ok(Dump::assemble(image, layout, format, name))
    }

    fn assemble(image: Image, layout: Layout, format: DumpFormat, name: String) -> Dump {
        let page_size = match &layout {
            Layout::Kdump(k) => k.page_size,
            Layout::Elf(e) => e.page_size,
            Layout::Lime(l) => l.page_size,
        };
        Dump { cache: PageCache::new(page_size as usize), image, layout, format, name, truncation: OnceLock::new() }
    }

    /// The detected format.
    pub fn format(&self) -> &DumpFormat {
        &self.format
    }

    /// Text for crash's `sys` DUMPFILE line: the file name, with
    /// `[PARTIAL DUMP]` when pages were filtered out and `[INCOMPLETE]`
    /// when the file is cut short.
    pub fn format_description(&self) -> String {
        let mut s = self.name.clone();
        if self.is_partial() {
            s.push_str("  [PARTIAL DUMP]");
        }
        if self.truncation().is_some() {
            s.push_str("  [INCOMPLETE]");
        }
        s
    }

    /// True when the dump tool filtered out pages that exist in RAM.
    pub fn is_partial(&self) -> bool {
        match &self.layout {
            Layout::Kdump(k) => k.is_partial(),
            Layout::Elf(e) => e.is_partial(),
            Layout::Lime(_) => false,
        }
    }

    fn notes(&self) -> &NoteSummary {
        match &self.layout {
            Layout::Kdump(k) => &k.notes,
            Layout::Elf(e) => &e.notes,
            Layout::Lime(l) => &l.notes,
        }
    }

    /// The kernel's VMCOREINFO, when the dump carries it (for a LiME
    /// image: found by scanning its memory).
    pub fn vmcoreinfo(&self) -> Option<&VmcoreInfo> {
        self.notes().vmcoreinfo.as_ref()
    }

    /// The machine the dump was taken on: from the ELF header's
    /// `e_machine` or the kdump header's `uname -m`, else from VMCOREINFO
    /// (LiME images); `None` when nothing says. Opening a dump of a
    /// machine krash does not know fails; one it knows but does not
    /// implement yet (arm64) opens, and the architecture layer refuses it.
    pub fn machine(&self) -> Option<Machine> {
        self.notes().machine
    }

    /// Saved CPU states, one per CPU note, in CPU order, undecoded (the
    /// architecture layer reads their registers).
    pub fn cpus(&self) -> &[CpuNote] {
        &self.notes().cpus
    }

    /// The utsname copied into a kdump-compressed header.
    pub fn header_utsname(&self) -> Option<Utsname> {
        match &self.layout {
            Layout::Kdump(k) => Some(k.utsname.clone()),
            Layout::Elf(_) | Layout::Lime(_) => None,
        }
    }

    /// Crash time as (seconds, microseconds): the kdump header's timestamp,
    /// else VMCOREINFO's CRASHTIME.
    pub fn timestamp(&self) -> Option<(i64, i64)> {
        match &self.layout {
            Layout::Kdump(k) if k.timestamp != (0, 0) => Some(k.timestamp),
            _ => self.vmcoreinfo().and_then(|v| v.crash_time()).map(|t| (t, 0)),
        }
    }

    /// CPU count from the kdump header.
    pub fn nr_cpus(&self) -> Option<u32> {
        match &self.layout {
            Layout::Kdump(k) => u32::try_from(k.nr_cpus).ok(),
            Layout::Elf(_) | Layout::Lime(_) => None,
        }
    }

    /// makedumpfile's dump level (`-d`), for kdump-compressed dumps.
    pub fn dump_level(&self) -> Option<i32> {
        match &self.layout {
            Layout::Kdump(k) => Some(k.dump_level),
            Layout::Elf(_) | Layout::Lime(_) => None,
        }
    }

    /// `phys_base` recorded in the kdump sub-header.
    pub fn header_phys_base(&self) -> Option<u64> {
        match &self.layout {
            Layout::Kdump(k) => Some(k.phys_base),
            Layout::Elf(_) | Layout::Lime(_) => None,
        }
    }

    /// How much of the file is missing, if it was cut short. The first call
    /// walks the page descriptors; later calls are free.
    pub fn truncation(&self) -> Option<Truncation> {
        *self.truncation.get_or_init(|| {
            let found = match &self.layout {
                Layout::Kdump(k) => k.truncation(&self.image),
                Layout::Elf(e) => e.truncation(&self.image),
                // A cut-short LiME image is refused when it is opened.
                Layout::Lime(_) => None,
            };
            // A flattened stream without its end marker lost something even
            // when every page we know of is intact.
            found.or_else(|| {
                self.image.stream_cut_short().then(|| Truncation {
                    expected_bytes: self.image.len(),
                    actual_bytes: self.image.len(),
                    pages_missing: 0,
                })
            })
        })
    }

    /// The kernel's page size as the dump gives it: the kdump header's
    /// block size, else VMCOREINFO's `PAGESIZE`, else 4 KiB.
    pub fn page_size(&self) -> u64 {
        match &self.layout {
            Layout::Kdump(k) => k.page_size,
            Layout::Elf(e) => e.page_size,
            Layout::Lime(l) => l.page_size,
        }
    }

    /// What the dump holds for page frame `pfn`.
    pub fn page_state(&self, pfn: u64) -> PageState {
        match &self.layout {
            Layout::Kdump(k) => k.page_state(&self.image, pfn),
            Layout::Elf(e) => e.page_state(&self.image, pfn),
            Layout::Lime(l) => l.page_state(pfn),
        }
    }

    /// One past the highest page frame the dump describes.
    pub fn max_pfn(&self) -> u64 {
        match &self.layout {
            Layout::Kdump(k) => k.max_mapnr,
            Layout::Elf(e) => e.max_pfn(),
            Layout::Lime(l) => l.max_pfn(),
        }
    }

    /// Reads from at most one page (kdump) or one segment (ELF).
    fn read_chunk(&self, paddr: u64, out: &mut [u8]) -> Result<usize, FaultReason> {
        match &self.layout {
            Layout::Kdump(k) => {
                // The header check keeps page_size a power of two of at least 512.
                let (Some(pfn), Some(offset)) = (paddr.checked_div(k.page_size), paddr.checked_rem(k.page_size)) else {
                    return Err(FaultReason::Corrupt("page size 0".into()));
                };
                let offset = offset as usize;
                // offset < page_size: at least one byte of the page is left.
                let n = out.len().min((k.page_size as usize).saturating_sub(offset));
                let dst = out.get_mut(..n).ok_or(FaultReason::NotInDump)?;
                k.read_in_page(&self.image, &self.cache, pfn, offset, dst)?;
                Ok(n)
            }
            Layout::Elf(e) => e.read_some(&self.image, paddr, out),
            Layout::Lime(l) => l.read_some(&self.image, paddr, out),
        }
    }
}

impl PhysicalMemory for Dump {
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<()> {
        let mut done = 0usize;
        while let Some(rest) = buf.get_mut(done..).filter(|rest| !rest.is_empty()) {
            let at = paddr.checked_add(done as u64).ok_or(Error::fault(
                paddr,
                AddrSpace::Physical,
                FaultReason::NotInDump,
            ))?;
            match self.read_chunk(at, rest) {
                // A chunk is at most `rest`, so `done` stays within buf.len().
                Ok(n) => done = done.saturating_add(n),
                Err(reason) => return Err(Error::fault(at, AddrSpace::Physical, reason)),
            }
        }
        Ok(())
    }

    fn phys_ranges(&self) -> Vec<PhysRange> {
        let runs = match &self.layout {
            Layout::Kdump(k) => k
                .valid_runs()
                .into_iter()
                .map(|(s, e)| (s.saturating_mul(k.page_size), e.saturating_mul(k.page_size)))
                .collect(),
            Layout::Elf(e) => e.ranges(),
            Layout::Lime(l) => l.runs(),
        };
        runs.into_iter().map(|(start, end)| PhysRange { start, end }).collect()
    }
}

impl std::fmt::Debug for Dump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dump").field("name", &self.name).field("format", &self.format).finish_non_exhaustive()
    }
}

fn with_path(path: &Path, e: Error) -> Error {
    match e {
        Error::BadData { context, detail } => Error::bad_data(format!("{}: {context}", path.display()), detail),
        other => other,
    }
}

/// The running kernel's memory as procfs shows it.
fn is_kcore(path: &Path) -> bool {
    path == Path::new("/proc/kcore") || std::fs::canonicalize(path).is_ok_and(|p| p == Path::new("/proc/kcore"))
}

fn live_open_error(path: &Path, e: &std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::NotFound => Error::Unsupported(format!(
            "{}: no such file: this kernel has no /proc/kcore (CONFIG_PROC_KCORE is off)",
            path.display()
        )),
        std::io::ErrorKind::PermissionDenied if is_locked_down() => Error::Unsupported(format!(
            "{}: kernel lockdown forbids /proc/kcore (see /sys/kernel/security/lockdown)",
            path.display()
        )),
        std::io::ErrorKind::PermissionDenied => Error::Io {
            path: path.display().to_string(),
            message: "permission denied: live analysis needs root".into(),
        },
        _ => Error::io(path, e),
    }
}

fn live_read_error(path: &Path) -> Error {
    if is_locked_down() {
        return Error::Unsupported(format!("{}: kernel lockdown forbids /proc/kcore", path.display()));
    }
    Error::bad_data(path.display().to_string(), "the ELF header could not be read")
}

/// True when the kernel's lockdown LSM is in integrity or confidentiality mode.
fn is_locked_down() -> bool {
    std::fs::read_to_string("/sys/kernel/security/lockdown").is_ok_and(|s| !s.contains("[none]") && s.contains('['))
}

/// The old diskdump format's signature (recognised, not read).
const DISKDUMP_SIGNATURE: &[u8] = b"DISKDUMP";

/// True when a file starting with `prefix` (its first 64 bytes suffice) is
/// a dump in a format this crate knows: kdump-compressed, flattened, old
/// diskdump, LiME, or an ELF core file. Other ELF files (a vmlinux) are not.
pub fn looks_like_dump(prefix: &[u8]) -> bool {
    const ET_CORE: u16 = 4;
    if prefix.starts_with(crate::kdump::KDUMP_SIGNATURE)
        || flattened::is_flattened(prefix)
        || prefix.starts_with(DISKDUMP_SIGNATURE)
        || lime::is_lime(prefix)
    {
        return true;
    }
    elf::is_elf(prefix) && Fields::new(prefix, "ELF header").u16(16).is_ok_and(|t| t == ET_CORE)
}

#[cfg(test)]
// Tests index the synthetic buffers they build; a panic there is a failed test.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod detection_tests {
    use super::looks_like_dump;

    #[test]
    fn dump_signatures_and_elf_types() {
        let mut flat = b"makedumpfile".to_vec();
        flat.extend_from_slice(&[0; 4]);
        assert!(looks_like_dump(&flat));
        assert!(looks_like_dump(b"KDUMP   rest of header"));
        let mut core = vec![0u8; 64];
        core[..4].copy_from_slice(b"\x7fELF");
        core[16] = 4; // ET_CORE
        assert!(looks_like_dump(&core));
        core[16] = 2; // ET_EXEC: a vmlinux
        assert!(!looks_like_dump(&core));
        assert!(!looks_like_dump(b""));
        assert!(!looks_like_dump(b"\x7fELF"));
        assert!(looks_like_dump(b"EMiL\x01\0\0\0"));
        assert!(!looks_like_dump(b"EMiL\x02\0\0\0"));
    }
}
