//! kdump-compressed dumps: a diskdump header block, the kdump sub-header
//! (with VMCOREINFO and ELF notes), two page bitmaps (RAM that exists, pages
//! that were dumped), one descriptor per dumped page, then page data.

use krash_core::{Error, FaultReason, Machine, Result};

use crate::bitmap::PageBitmap;
use crate::cache::PageCache;
use crate::compression::{self, Compression};
use crate::format::{PageState, Truncation, Utsname};
use crate::image::Image;
use crate::le::{c_string, to_usize, Fields};
use crate::notes::{self, NoteSummary};
use crate::vmcoreinfo::VmcoreInfo;

/// Signature of a kdump-compressed header.
pub(crate) const KDUMP_SIGNATURE: &[u8; 8] = b"KDUMP   ";
const MAIN_HEADER_SIZE: usize = 464;
const SUB_HEADER_SIZE: usize = 104;
const DESC_SIZE: u64 = 24;
const UTSNAME_FIELD: usize = 65;
/// `struct new_utsname`: six fields, right after the signature and version.
const UTSNAME_AT: usize = 12;
const UTSNAME_SIZE: usize = 6 * UTSNAME_FIELD;
/// Header status bit: the dump tool stopped before writing every page.
const STATUS_INCOMPLETE: u32 = 0x8;
/// How many of the last page descriptors opening checks for data past the
/// end of the file (a dump cut short loses its last pages first).
const TRUNCATION_TAIL_DESCRIPTORS: u64 = 4096;
/// Notes and VMCOREINFO are a few KiB; anything past this is corrupt.
const MAX_NOTE_BYTES: u64 = 64 << 20;

/// The fixed-size fields of `struct page_desc`.
#[derive(Debug, Clone, Copy)]
struct PageDesc {
    offset: i64,
    size: u32,
    flags: u32,
}

/// A parsed kdump-compressed dump; page data is read lazily.
pub(crate) struct KdumpDump {
    pub header_version: i32,
    pub utsname: Utsname,
    pub timestamp: (i64, i64),
    pub status: u32,
    pub page_size: u64,
    pub nr_cpus: i32,
    pub dump_level: i32,
    pub phys_base: u64,
    pub max_mapnr: u64,
    /// Pages this file holds descriptors for (a split dump holds a slice).
    first_pfn: u64,
    end_pfn: u64,
    valid: PageBitmap,
    dumped: PageBitmap,
    /// Descriptors before `first_pfn` that a split file does not store.
    rank_base: u64,
    desc_offset: u64,
    desc_count: u64,
    pub notes: NoteSummary,
    pub compression: Compression,
}

fn oob(what: &str, detail: String) -> Error {
    Error::bad_data(format!("kdump header: {what}"), detail)
}

impl KdumpDump {
    pub fn parse(image: &Image) -> Result<KdumpDump> {
        let head = image.read_header(0, MAIN_HEADER_SIZE, "kdump main header")?;
        let h = Fields::new(&head, "kdump main header");
        if h.slice(0, 8)? != KDUMP_SIGNATURE {
            return Err(Error::bad_data("kdump main header", "no \"KDUMP   \" signature"));
        }
        let header_version = h.i32(8)?;
        let uts: Vec<String> = h.slice(UTSNAME_AT, UTSNAME_SIZE)?.chunks_exact(UTSNAME_FIELD).map(c_string).collect();
        let Ok([sysname, nodename, release, version, machine, domainname]) = <[String; 6]>::try_from(uts) else {
            return Err(Error::bad_data("kdump main header", "utsname is not six fields"));
        };
        let utsname = Utsname { sysname, nodename, release, version, machine, domainname };
        let timestamp = (h.i64(408)?, h.i64(416)?);
        let status = h.u32(424)?;
        let block_size = h.i32(428)?;
        let sub_hdr_blocks = h.i32(432)?;
        let bitmap_blocks = h.u32(436)?;
        let max_mapnr_32 = h.u32(440)?;
        let nr_cpus = h.i32(460)?;

        if !(512..=(1 << 20)).contains(&block_size) || block_size.count_ones() != 1 {
            return Err(oob("block_size", format!("{block_size} is not a power of two between 512 and 1 MiB")));
        }
        if header_version < 1 {
            return Err(oob("header_version", format!("{header_version} predates the kdump sub-header")));
        }
        if sub_hdr_blocks < 1 {
            return Err(oob("sub_hdr_size", format!("{sub_hdr_blocks} blocks")));
        }
        let page_size = block_size as u64;

        let sub_bytes =
            image.read_header(page_size, SUB_HEADER_SIZE.min(sub_len(header_version)), "kdump sub-header")?;
        let s = Fields::new(&sub_bytes, "kdump sub-header");
        let phys_base = s.u64(0)?;
        let dump_level = s.i32(8)?;
        let at_least = |v: i32| header_version >= v;
        let split = at_least(2) && s.i32(12)? != 0;
        let max_mapnr = if at_least(6) { s.u64(96)? } else { u64::from(max_mapnr_32) };
        let (first_pfn, end_pfn) = match (split, at_least(6)) {
            (false, _) => (0, max_mapnr),
            (true, true) => (s.u64(80)?, s.u64(88)?),
            (true, false) => (s.u64(16)?, s.u64(24)?),
        };
        if first_pfn > end_pfn || end_pfn > max_mapnr {
            return Err(oob(
                "split range",
                format!("pfns {first_pfn:#x}..{end_pfn:#x} outside max_mapnr {max_mapnr:#x}"),
            ));
        }

        // sub_hdr_blocks < 2^31 and bitmap_blocks < 2^32 blocks of at most
        // 1 MiB: neither product can overflow, but say so if it did.
        let bitmap_offset = (sub_hdr_blocks as u64)
            .checked_add(1)
            .and_then(|blocks| blocks.checked_mul(page_size))
            .ok_or_else(|| oob("sub_hdr_size", format!("{sub_hdr_blocks} blocks overflow the file offset")))?;
        let bitmap_len = u64::from(bitmap_blocks)
            .checked_mul(page_size)
            .ok_or_else(|| oob("bitmap_blocks", format!("{bitmap_blocks} blocks overflow the bitmap size")))?;
        let half = bitmap_len / 2;
        if max_mapnr.div_ceil(8) > half {
            return Err(oob(
                "bitmap_blocks",
                format!(
                    "{bitmap_blocks} blocks hold bitmaps for {} pages, but max_mapnr is {max_mapnr}",
                    half.saturating_mul(8)
                ),
            ));
        }
        let bitmaps = image.read(bitmap_offset, to_usize(bitmap_len, "bitmap size")?).map_err(|_| {
            oob("bitmaps", format!("{bitmap_len} bytes at {bitmap_offset:#x} lie past the end of the file"))
        })?;
        let half_usize = to_usize(half, "bitmap size")?;
        let (first, second) = bitmaps
            .split_at_checked(half_usize)
            .ok_or_else(|| oob("bitmaps", format!("{} bytes read of {bitmap_len}", bitmaps.len())))?;
        let valid = PageBitmap::new(first, max_mapnr);
        let dumped = PageBitmap::new(second, max_mapnr);
        let rank_base = dumped.rank(first_pfn);
        // rank() never decreases and first_pfn <= end_pfn.
        let desc_count = dumped.rank(end_pfn).saturating_sub(rank_base);
        let desc_offset = bitmap_offset.checked_add(bitmap_len).ok_or_else(|| {
            oob("bitmaps", format!("{bitmap_len} bytes at {bitmap_offset:#x} overflow the file offset"))
        })?;

        // A machine krash does not know is refused; an empty name is
        // left to VMCOREINFO.
        let machine = Machine::from_uname(&utsname.machine)?;
        let mut vmcoreinfo = None;
        if at_least(3) {
            let (off, size) = (s.i64(32)?, s.u64(40)?);
            if size > 0 {
                let bytes = region(image, off, size, "VMCOREINFO")?;
                vmcoreinfo = Some(VmcoreInfo::parse(&bytes));
            }
        }
        let mut note_bytes = None;
        if at_least(4) {
            let (off, size) = (s.i64(48)?, s.u64(56)?);
            if size > 0 {
                note_bytes = Some(region(image, off, size, "ELF notes")?);
            }
        }
        let all_notes = match &note_bytes {
            Some(bytes) => notes::parse_notes(bytes)?,
            None => Vec::new(),
        };
        let summary = notes::summarize(&all_notes, machine, vmcoreinfo)?;

        Ok(KdumpDump {
            header_version,
            utsname,
            timestamp,
            status,
            page_size,
            nr_cpus,
            dump_level,
            phys_base,
            max_mapnr,
            first_pfn,
            end_pfn,
            valid,
            dumped,
            rank_base,
            desc_offset,
            desc_count,
            notes: summary,
            compression: Compression::from_flags(status),
        })
    }

    fn descriptor(&self, image: &Image, index: u64) -> Result<PageDesc, FaultReason> {
        let at =
            index.checked_mul(DESC_SIZE).and_then(|o| o.checked_add(self.desc_offset)).ok_or(FaultReason::Truncated)?;
        let bytes = image.read(at, DESC_SIZE as usize).map_err(|_| FaultReason::Truncated)?;
        let f = Fields::new(&bytes, "page descriptor");
        let bad = |e: Error| FaultReason::Corrupt(e.to_string());
        Ok(PageDesc { offset: f.i64(0).map_err(bad)?, size: f.u32(8).map_err(bad)?, flags: f.u32(12).map_err(bad)? })
    }

    /// The descriptor for `pfn`, or why there is none.
    fn locate(&self, image: &Image, pfn: u64) -> Result<PageDesc, FaultReason> {
        if pfn >= self.max_mapnr || !self.valid.get(pfn) {
            return Err(FaultReason::NotInDump);
        }
        if !self.dumped.get(pfn) {
            return Err(FaultReason::ExcludedFromDump);
        }
        if pfn < self.first_pfn || pfn >= self.end_pfn {
            return Err(FaultReason::NotInDump);
        }
        // pfn >= first_pfn, so its rank is at least rank_base.
        let desc = self.descriptor(image, self.dumped.rank(pfn).saturating_sub(self.rank_base))?;
        // A zeroed descriptor was reserved but never filled in.
        if desc.offset == 0 && desc.size == 0 {
            return Err(FaultReason::Truncated);
        }
        if desc.offset <= 0 || u64::from(desc.size) > self.page_size || desc.size == 0 {
            return Err(FaultReason::Corrupt(format!(
                "page descriptor for pfn {pfn:#x} has offset {:#x}, size {}",
                desc.offset, desc.size
            )));
        }
        if (desc.offset as u64).saturating_add(u64::from(desc.size)) > image.len() {
            return Err(FaultReason::Truncated);
        }
        Ok(desc)
    }

    pub fn page_state(&self, image: &Image, pfn: u64) -> PageState {
        match self.locate(image, pfn) {
            Ok(_) | Err(FaultReason::Corrupt(_)) => PageState::Present,
            Err(FaultReason::ExcludedFromDump) => PageState::Excluded,
            Err(FaultReason::Truncated) => PageState::Truncated,
            Err(_) => PageState::NotInDump,
        }
    }

    /// Copies `out.len()` bytes at `offset` within page `pfn`.
    pub fn read_in_page(
        &self,
        image: &Image,
        cache: &PageCache,
        pfn: u64,
        offset: usize,
        out: &mut [u8],
    ) -> Result<(), FaultReason> {
        if cache.copy_out(pfn, offset, out) {
            return Ok(());
        }
        let desc = self.locate(image, pfn)?;
        let data = image.read(desc.offset as u64, desc.size as usize).map_err(|_| FaultReason::Truncated)?;
        let kind = Compression::from_flags(desc.flags);
        let page_size = self.page_size as usize;
        let end = offset
            .checked_add(out.len())
            .filter(|&e| e <= page_size)
            .ok_or_else(|| FaultReason::Corrupt(format!("read of {} bytes at page offset {offset}", out.len())))?;
        if kind == Compression::None {
            let stored = data.get(offset..end).filter(|_| data.len() == page_size).ok_or_else(|| {
                FaultReason::Corrupt(format!("uncompressed page {pfn:#x} stored in {} bytes", data.len()))
            })?;
            out.copy_from_slice(stored);
            return Ok(());
        }
        let mut page = vec![0u8; page_size].into_boxed_slice();
        compression::decompress(kind, &data, &mut page)
            .map_err(|why| FaultReason::Corrupt(format!("pfn {pfn:#x}: {why}")))?;
        // end <= page_size was checked above.
        let wanted = page
            .get(offset..end)
            .ok_or_else(|| FaultReason::Corrupt(format!("read of {} bytes at page offset {offset}", out.len())))?;
        out.copy_from_slice(wanted);
        cache.insert(pfn, page);
        Ok(())
    }

    /// Some existing page was filtered out of the dump.
    pub fn is_partial(&self) -> bool {
        self.valid.rank(u64::MAX) != self.dumped.rank(u64::MAX)
    }

    /// Walks the descriptors present in the file to size what is missing.
    pub fn truncation(&self, image: &Image) -> Option<Truncation> {
        let table_end = self.desc_offset.saturating_add(self.desc_count.saturating_mul(DESC_SIZE));
        let in_file = image.len().saturating_sub(self.desc_offset) / DESC_SIZE;
        let readable = self.desc_count.min(in_file);
        let incomplete = self.status & STATUS_INCOMPLETE != 0;
        // A whole dump's last pages have their data in the file. Reading
        // only the tail keeps opening a 16 GiB dump (millions of
        // descriptors) as cheap as a small one; the count of what is lost is
        // made only when the tail shows something is.
        let tail = readable.saturating_sub(TRUNCATION_TAIL_DESCRIPTORS);
        if readable == self.desc_count && !incomplete && self.data_lies_in_file(image, tail..readable) {
            return None;
        }
        let mut expected = table_end;
        // `missing` counts descriptors, at most desc_count: it cannot overflow.
        let mut missing = self.desc_count.saturating_sub(readable);
        for i in 0..readable {
            let lost = match self.data_end(image, i) {
                Some(end) => {
                    expected = expected.max(end);
                    end > image.len()
                }
                None => true,
            };
            missing = missing.saturating_add(u64::from(lost));
        }
        if missing == 0 && expected <= image.len() && !incomplete {
            return None;
        }
        Some(Truncation { expected_bytes: expected, actual_bytes: image.len(), pages_missing: missing })
    }

    /// True when every descriptor in `range` is readable and has its data in the file.
    fn data_lies_in_file(&self, image: &Image, range: std::ops::Range<u64>) -> bool {
        range.into_iter().all(|i| self.data_end(image, i).is_some_and(|end| end <= image.len()))
    }

    /// Where page `i`'s data ends in the file; None for a descriptor that
    /// cannot be read or was never written (all zeros: the tool stopped).
    fn data_end(&self, image: &Image, i: u64) -> Option<u64> {
        let d = self.descriptor(image, i).ok()?;
        (d.offset != 0 || d.size != 0).then(|| (d.offset.max(0) as u64).saturating_add(u64::from(d.size)))
    }

    /// Existing RAM as page-frame runs.
    pub fn valid_runs(&self) -> Vec<(u64, u64)> {
        self.valid.runs()
    }
}

/// Bytes of the sub-header that exist in a given header version.
fn sub_len(version: i32) -> usize {
    match version {
        ..=1 => 12,
        2 => 32,
        3 => 48,
        4 => 64,
        5 => 80,
        _ => SUB_HEADER_SIZE,
    }
}

fn region<'i>(image: &'i Image, off: i64, size: u64, what: &str) -> Result<std::borrow::Cow<'i, [u8]>> {
    if off <= 0 || size > MAX_NOTE_BYTES {
        return Err(oob(what, format!("offset {off:#x}, size {size} is not plausible")));
    }
    image.read_header(off as u64, size as usize, &format!("kdump {what}"))
}
