//! LiME (Linux Memory Extractor) images: a sequence of physical ranges,
//! each a 32-byte header followed by the range's bytes. No notes: the
//! kernel's VMCOREINFO is found by scanning the memory (see
//! vmcoreinfo_scan.rs).

use krash_core::{Error, FaultReason, Result};

use crate::format::PageState;
use crate::image::{Image, ImageGap};
use crate::le::Fields;
use crate::notes::{self, NoteSummary};

/// "LiME" read as a little-endian u32.
const LIME_MAGIC: u32 = 0x4C69_4D45;
const LIME_VERSION: u32 = 1;
const HEADER_SIZE: u64 = 32;
/// Far more ranges than any machine's memory map has.
const MAX_RANGES: usize = 1 << 16;
/// x86-64 physical addresses have at most 52 bits.
const MAX_PHYS_ADDR: u64 = 1 << 52;

/// True when `prefix` starts with a LiME range header.
pub(crate) fn is_lime(prefix: &[u8]) -> bool {
    let f = Fields::new(prefix, "LiME header");
    matches!((f.u32(0), f.u32(4)), (Ok(LIME_MAGIC), Ok(LIME_VERSION)))
}

/// One physical range and where its bytes start in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LimeRange {
    pub start: u64,
    /// One past the last byte (the header stores the last byte itself).
    pub end: u64,
    pub offset: u64,
}

pub(crate) struct LimeDump {
    pub ranges: Vec<LimeRange>,
    pub notes: NoteSummary,
    pub page_size: u64,
}

impl LimeDump {
    /// Reads every range header. Any malformed header, overlap, or range
    /// whose bytes run past the end of the file is an error naming the
    /// range and its file offset.
    pub fn parse(image: &Image) -> Result<LimeDump> {
        let ranges = read_ranges(image)?;
        let vmcoreinfo = crate::vmcoreinfo_scan::find_vmcoreinfo(image, &ranges);
        // LiME records no machine: VMCOREINFO's architecture keys may name it.
        let machine = vmcoreinfo.as_ref().and_then(notes::machine_from_vmcoreinfo);
        let notes = NoteSummary { cpus: Vec::new(), vmcoreinfo, from_qemu: false, machine };
        let page_size = notes::page_size(&notes);
        Ok(LimeDump { ranges, notes, page_size })
    }

    fn range(&self, paddr: u64) -> Option<&LimeRange> {
        let i = self.ranges.partition_point(|r| r.start <= paddr);
        let r = self.ranges.get(i.checked_sub(1)?)?;
        (paddr < r.end).then_some(r)
    }

    /// Copies as much as one range holds, returning the bytes copied.
    pub fn read_some(&self, image: &Image, paddr: u64, out: &mut [u8]) -> Result<usize, FaultReason> {
        let r = self.range(paddr).ok_or(FaultReason::NotInDump)?;
        // `range` found paddr in [start, end).
        let n = (out.len() as u64).min(r.end.saturating_sub(paddr)) as usize;
        let offset = r.offset.checked_add(paddr.saturating_sub(r.start)).ok_or(FaultReason::NotInDump)?;
        let data = image.read(offset, n).map_err(|gap| match gap {
            ImageGap::PastEnd => FaultReason::Truncated,
            ImageGap::ReadFailed => FaultReason::NotInDump,
        })?;
        let dst = out.get_mut(..n).ok_or(FaultReason::NotInDump)?;
        let src = data.get(..n).ok_or(FaultReason::Truncated)?;
        dst.copy_from_slice(src);
        Ok(n)
    }

    pub fn page_state(&self, pfn: u64) -> PageState {
        match pfn.checked_mul(self.page_size).and_then(|paddr| self.range(paddr)) {
            Some(_) => PageState::Present,
            None => PageState::NotInDump,
        }
    }

    /// Physical runs, adjacent ranges merged.
    pub fn runs(&self) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for r in &self.ranges {
            match out.last_mut() {
                Some(last) if last.1 == r.start => last.1 = r.end,
                _ => out.push((r.start, r.end)),
            }
        }
        out
    }

    pub fn max_pfn(&self) -> u64 {
        self.ranges.last().map_or(0, |r| r.end.div_ceil(self.page_size))
    }
}

fn read_ranges(image: &Image) -> Result<Vec<LimeRange>> {
    let file_len = image.len();
    let mut ranges = Vec::new();
    let mut at = 0u64;
    while at < file_len {
        if ranges.len() >= MAX_RANGES {
            return Err(Error::bad_data("LiME image", format!("more than {MAX_RANGES} ranges")));
        }
        let what = format!("LiME range {} header at offset {at:#x}", ranges.len());
        let bytes = image.read_header(at, HEADER_SIZE as usize, "LiME range header").map_err(|_| {
            Error::bad_data(
                &what,
                format!("the file ends {} bytes into the 32-byte header", file_len.saturating_sub(at)),
            )
        })?;
        let f = Fields::new(&bytes, "LiME range header");
        let (magic, version, start, last) = (f.u32(0)?, f.u32(4)?, f.u64(8)?, f.u64(16)?);
        if magic != LIME_MAGIC {
            return Err(Error::bad_data(&what, format!("magic {magic:#x} is not LiME's {LIME_MAGIC:#x}")));
        }
        if version != LIME_VERSION {
            return Err(Error::Unsupported(format!("{what}: LiME version {version} (only version 1 is known)")));
        }
        if last < start {
            return Err(Error::bad_data(&what, format!("range ends ({last:#x}) before it starts ({start:#x})")));
        }
        if last >= MAX_PHYS_ADDR {
            return Err(Error::bad_data(&what, format!("range end {last:#x} is beyond any physical address")));
        }
        // last < 2^52, so `end` cannot overflow; `at` is below the file's length.
        let end = last.saturating_add(1);
        let size = end.saturating_sub(start);
        let data = at
            .checked_add(HEADER_SIZE)
            .ok_or_else(|| Error::bad_data(&what, "header offset overflows the file offset"))?;
        let next =
            data.checked_add(size).ok_or_else(|| Error::bad_data(&what, "range size overflows the file offset"))?;
        if next > file_len {
            return Err(Error::bad_data(
                &what,
                format!(
                    "range {start:#x}-{last:#x} needs {} bytes but the file ends after {} (truncated image)",
                    size,
                    file_len.saturating_sub(data)
                ),
            ));
        }
        ranges.push(LimeRange { start, end, offset: data });
        at = next;
    }
    if ranges.is_empty() {
        return Err(Error::bad_data("LiME image", "no ranges: the image holds no memory"));
    }
    ranges.sort_by_key(|r| r.start);
    for pair in ranges.windows(2) {
        if let [a, b] = pair {
            if b.start < a.end {
                return Err(Error::bad_data(
                    "LiME image",
                    format!(
                        "ranges {:#x}-{:#x} and {:#x}-{:#x} overlap",
                        a.start,
                        a.end.saturating_sub(1),
                        b.start,
                        b.end.saturating_sub(1)
                    ),
                ));
            }
        }
    }
    Ok(ranges)
}

/// Builds a LiME image from (physical start, bytes) pairs; for tests.
#[cfg(test)]
// Tests index the synthetic buffers they build; a panic there is a failed test.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
pub(crate) fn build(ranges: &[(u64, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (start, bytes) in ranges {
        out.extend_from_slice(&LIME_MAGIC.to_le_bytes());
        out.extend_from_slice(&LIME_VERSION.to_le_bytes());
        out.extend_from_slice(&start.to_le_bytes());
        out.extend_from_slice(&(start + bytes.len() as u64 - 1).to_le_bytes());
        out.extend_from_slice(&[0u8; 8]);
        out.extend_from_slice(bytes);
    }
    out
}
