//! ELF64 vmcores: /proc/vmcore copies, `makedumpfile -E` and QEMU
//! `dump-guest-memory`. PT_LOAD p_paddr gives the physical address; bytes
//! past p_filesz (up to p_memsz) exist but were left out of the file.

use krash_core::{Error, FaultReason, Machine, Result};

use crate::format::{ElfProducer, PageState, Truncation};
use crate::image::{Image, ImageGap};
use crate::le::{to_usize, Fields};
use crate::notes::{self, NoteSummary};

const ELF_MAGIC: &[u8; 4] = b"\x7fELF";
const ELFCLASS64: u8 = 2;
const ELFDATA2LSB: u8 = 1;
const ET_CORE: u16 = 4;
const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
/// e_phnum value meaning "the real count is in section header 0's sh_info".
const PN_XNUM: u16 = 0xffff;
const PHDR_SIZE: usize = 56;
const MAX_NOTE_BYTES: u64 = 64 << 20;
const MAX_SEGMENTS: u64 = 1 << 22;
/// p_paddr of a /proc/kcore segment that is not a linear view of RAM.
const NO_PHYSICAL_ADDRESS: u64 = u64::MAX;

pub(crate) fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(ELF_MAGIC)
}

/// A run of physical memory with one file mapping; pieces never overlap.
#[derive(Debug, Clone, Copy)]
struct Piece {
    start: u64,
    /// End of the bytes stored in the file.
    file_end: u64,
    /// End of the memory the segment describes.
    mem_end: u64,
    /// File offset of `start`.
    offset: u64,
}

pub(crate) struct ElfDump {
    pieces: Vec<Piece>,
    pub producer: ElfProducer,
    pub notes: NoteSummary,
    pub page_size: u64,
}

struct Segment {
    paddr: u64,
    vaddr: u64,
    offset: u64,
    filesz: u64,
    memsz: u64,
}

impl ElfDump {
    pub fn parse(image: &Image) -> Result<ElfDump> {
        let ehdr = image.read_header(0, 64, "ELF header")?;
        let h = Fields::new(&ehdr, "ELF header");
        if h.slice(0, 4)? != ELF_MAGIC {
            return Err(Error::bad_data("ELF header", "no ELF magic"));
        }
        if h.slice(4, 2)? != [ELFCLASS64, ELFDATA2LSB] {
            return Err(Error::Unsupported("only little-endian ELF64 vmcores are supported".into()));
        }
        let e_type = h.u16(16)?;
        if e_type != ET_CORE {
            return Err(Error::bad_data("ELF header", format!("e_type {e_type} is not ET_CORE")));
        }
        // A machine krash does not know is refused here; EM_NONE leaves it
        // to VMCOREINFO.
        let machine = Machine::from_elf_machine(h.u16(18)?)?;
        let phoff = h.u64(32)?;
        let shoff = h.u64(40)?;
        let phentsize = usize::from(h.u16(54)?);
        let mut phnum = u64::from(h.u16(56)?);
        if phnum == u64::from(PN_XNUM) {
            if shoff == 0 {
                return Err(Error::bad_data("ELF header", "e_phnum is PN_XNUM but there is no section header"));
            }
            let sh0 = image.read_header(shoff, 64, "ELF section header 0")?;
            phnum = u64::from(Fields::new(&sh0, "ELF section header 0").u32(44)?);
        }
        if phentsize < PHDR_SIZE || phnum > MAX_SEGMENTS {
            return Err(Error::bad_data("ELF header", format!("{phnum} program headers of {phentsize} bytes")));
        }
        let table_len = phnum
            .checked_mul(phentsize as u64)
            .ok_or_else(|| Error::bad_data("ELF header", "program header table size overflows"))?;
        let table = image.read_header(phoff, to_usize(table_len, "program header table")?, "ELF program headers")?;
        let table = Fields::new(&table, "ELF program headers");

        let mut loads = Vec::new();
        let mut note_bytes = Vec::new();
        for i in 0..phnum as usize {
            let at = i
                .checked_mul(phentsize)
                .ok_or_else(|| Error::bad_data("ELF program headers", format!("entry {i} lies past the table")))?;
            let p = Fields::new(table.slice(at, PHDR_SIZE)?, "ELF program header");
            let seg = Segment {
                offset: p.u64(8)?,
                vaddr: p.u64(16)?,
                paddr: p.u64(24)?,
                filesz: p.u64(32)?,
                memsz: p.u64(40)?,
            };
            match p.u32(0)? {
                // /proc/kcore gives vmalloc, module and vmemmap segments no
                // physical address; their memory is reached through RAM.
                PT_LOAD if seg.paddr == NO_PHYSICAL_ADDRESS => {}
                PT_LOAD => loads.push(seg),
                PT_NOTE => {
                    if seg.filesz > MAX_NOTE_BYTES {
                        return Err(Error::bad_data("ELF PT_NOTE", format!("{} bytes", seg.filesz)));
                    }
                    let bytes = image.read_header(seg.offset, seg.filesz as usize, "ELF PT_NOTE")?;
                    note_bytes.push(bytes.into_owned());
                }
                _ => {}
            }
        }
        let mut all_notes = Vec::new();
        for bytes in &note_bytes {
            all_notes.extend(notes::parse_notes(bytes)?);
        }
        let summary = notes::summarize(&all_notes, machine, None)?;
        if loads.is_empty() {
            return Err(Error::bad_data("ELF program headers", "no PT_LOAD segment: the dump holds no memory"));
        }
        let is_makedumpfile = loads.iter().any(|s| s.filesz < s.memsz);
        let producer = if summary.from_qemu {
            ElfProducer::Qemu { paging: loads.iter().any(|s| s.vaddr != 0) }
        } else if is_makedumpfile {
            ElfProducer::Makedumpfile
        } else {
            ElfProducer::Kdump
        };
        let page_size = notes::page_size(&summary);
        Ok(ElfDump { pieces: build_pieces(loads)?, producer, notes: summary, page_size })
    }

    fn piece(&self, paddr: u64) -> Option<&Piece> {
        let i = self.pieces.partition_point(|p| p.start <= paddr);
        let p = self.pieces.get(i.checked_sub(1)?)?;
        (paddr < p.mem_end).then_some(p)
    }

    /// Copies as much as one piece holds, returning the bytes copied.
    pub fn read_some(&self, image: &Image, paddr: u64, out: &mut [u8]) -> Result<usize, FaultReason> {
        let p = self.piece(paddr).ok_or(FaultReason::NotInDump)?;
        if paddr >= p.file_end {
            return Err(FaultReason::ExcludedFromDump);
        }
        // `piece` found paddr in [start, mem_end) and it is below file_end.
        let n = (out.len() as u64).min(p.file_end.saturating_sub(paddr)) as usize;
        let offset = p.offset.checked_add(paddr.saturating_sub(p.start)).ok_or(FaultReason::NotInDump)?;
        let data = image.read(offset, n).map_err(|gap| match gap {
            ImageGap::PastEnd => FaultReason::Truncated,
            ImageGap::ReadFailed => FaultReason::NotInDump,
        })?;
        let dst = out.get_mut(..n).ok_or(FaultReason::NotInDump)?;
        let src = data.get(..n).ok_or(FaultReason::Truncated)?;
        dst.copy_from_slice(src);
        Ok(n)
    }

    pub fn page_state(&self, image: &Image, pfn: u64) -> PageState {
        let Some(paddr) = pfn.checked_mul(self.page_size) else { return PageState::NotInDump };
        match self.piece(paddr) {
            None => PageState::NotInDump,
            Some(p) if paddr >= p.file_end => PageState::Excluded,
            Some(p) => {
                // start <= paddr < file_end, so the stored part of the page starts at `start` or later.
                let stored = p.file_end.min(paddr.saturating_add(self.page_size)).saturating_sub(p.start);
                let stored_end = p.offset.saturating_add(stored);
                if stored_end > image.len() {
                    PageState::Truncated
                } else {
                    PageState::Present
                }
            }
        }
    }

    pub fn is_partial(&self) -> bool {
        self.pieces.iter().any(|p| p.file_end < p.mem_end)
    }

    pub fn ranges(&self) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for p in &self.pieces {
            match out.last_mut() {
                Some(last) if last.1 == p.start => last.1 = p.mem_end,
                _ => out.push((p.start, p.mem_end)),
            }
        }
        out
    }

    pub fn max_pfn(&self) -> u64 {
        self.pieces.last().map_or(0, |p| p.mem_end.div_ceil(self.page_size))
    }

    pub fn truncation(&self, image: &Image) -> Option<Truncation> {
        let len = image.len();
        let mut expected = 0u64;
        let mut missing = 0u64;
        for p in &self.pieces {
            // build_pieces keeps start <= file_end.
            let stored = p.file_end.saturating_sub(p.start);
            let end = p.offset.saturating_add(stored);
            expected = expected.max(end);
            if end > len {
                // end >= offset, and here end > len.
                let lost = end.saturating_sub(len.max(p.offset));
                missing = missing.saturating_add(lost.div_ceil(self.page_size));
            }
        }
        (expected > len).then_some(Truncation { expected_bytes: expected, actual_bytes: len, pages_missing: missing })
    }
}

/// Turns possibly overlapping segments into sorted disjoint pieces. Where
/// segments overlap (kernel text is also in the RAM segment; QEMU with
/// paging maps one page at several virtual addresses) the bytes are the
/// same, so the first segment covering an address wins.
fn build_pieces(mut loads: Vec<Segment>) -> Result<Vec<Piece>> {
    loads.sort_by_key(|s| s.paddr);
    let mut pieces: Vec<Piece> = Vec::with_capacity(loads.len());
    let mut covered_to = 0u64;
    for s in loads {
        let filesz = s.filesz.min(s.memsz);
        let wraps =
            || Error::bad_data("ELF PT_LOAD", format!("segment at {:#x} of {:#x} bytes wraps", s.paddr, s.memsz));
        let mem_end = s.paddr.checked_add(s.memsz).ok_or_else(wraps)?;
        // filesz <= memsz, so this cannot wrap when mem_end did not.
        let file_end = s.paddr.checked_add(filesz).ok_or_else(wraps)?;
        s.offset.checked_add(filesz).ok_or_else(|| Error::bad_data("ELF PT_LOAD", "file range wraps"))?;
        let start = s.paddr.max(covered_to);
        if start >= mem_end {
            continue;
        }
        // start >= paddr; offset + filesz was checked above.
        let skip = start.saturating_sub(s.paddr);
        pieces.push(Piece {
            start,
            file_end: file_end.max(start),
            mem_end,
            offset: s.offset.saturating_add(skip.min(filesz)),
        });
        covered_to = mem_end;
    }
    Ok(pieces)
}
