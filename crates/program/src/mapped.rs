//! The extents a page-table tree maps inside a virtual range, found by
//! walking the tables top-down and skipping absent entries, so scanning
//! terabytes of sparse vmalloc or user space costs only the tables read.

use krash_arch::paging::{PageTableEntry, PagingMode};
use krash_core::PhysicalMemory;

/// One run of virtually and physically contiguous mapped memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MappedExtent {
    pub vaddr: u64,
    pub paddr: u64,
    pub len: u64,
}

/// Most extents reported for one walk: beyond this the tables are
/// taken to be corrupt (a terabyte of 4 KiB pages).
const MAX_EXTENTS: usize = 1 << 28;
/// Physical address bits of a table entry (bits 12..51).
const FRAME_MASK: u64 = 0x000f_ffff_ffff_f000;

/// The mapped extents of `[start, end)` under the tables rooted at
/// `root` (physical), in address order; adjacent pages are merged.
/// Unreadable tables are skipped like absent ones.
pub fn mapped_extents(
    mem: &dyn PhysicalMemory,
    mode: PagingMode,
    root: u64,
    start: u64,
    end: u64,
) -> Vec<MappedExtent> {
    let shifts: &[u32] = match mode {
        PagingMode::FourLevel => &[39, 30, 21, 12],
        PagingMode::FiveLevel => &[48, 39, 30, 21, 12],
    };
    let mut walk = Walk { mem, shifts, start, end, out: Vec::new(), va_bits: mode.va_bits() };
    walk.table(root & FRAME_MASK, 0, 0);
    walk.out
}

struct Walk<'a> {
    mem: &'a dyn PhysicalMemory,
    shifts: &'a [u32],
    start: u64,
    end: u64,
    out: Vec<MappedExtent>,
    va_bits: u32,
}

impl Walk<'_> {
    /// Walks the table at `table` (physical) of level `depth`, whose
    /// first entry maps the (not sign-extended) address `base`.
    fn table(&mut self, table: u64, depth: usize, base: u64) {
        let Some(&shift) = self.shifts.get(depth) else { return };
        let mut entries = [0u8; 4096];
        if self.mem.read_phys(table, &mut entries).is_err() {
            return;
        }
        let span = 1u64 << shift;
        for (index, raw) in entries.chunks_exact(8).enumerate() {
            let Ok(bytes) = <[u8; 8]>::try_from(raw) else { continue };
            let entry = PageTableEntry(u64::from_le_bytes(bytes));
            let lo = base | ((index as u64) << shift);
            let vaddr = self.canonical(lo);
            let vend = vaddr.wrapping_add(span);
            // An entry is visited when its span meets [start, end).
            if vaddr >= self.end || (vend != 0 && vend <= self.start) || !entry.is_present() {
                continue;
            }
            let leaf = shift == 12 || ((shift == 21 || shift == 30) && entry.is_large());
            if leaf {
                let frame = entry.0 & FRAME_MASK & !(span - 1);
                self.push(vaddr, frame, span);
            } else {
                self.table(entry.0 & FRAME_MASK, depth + 1, lo);
            }
            if self.out.len() >= MAX_EXTENTS {
                return;
            }
        }
    }

    /// Sign-extends an address from the paging mode's top bit.
    fn canonical(&self, addr: u64) -> u64 {
        let unused = 64 - self.va_bits;
        (((addr << unused) as i64) >> unused) as u64
    }

    /// Adds a page, clipped to the range, merging it with the previous one.
    fn push(&mut self, vaddr: u64, paddr: u64, len: u64) {
        let lo = vaddr.max(self.start);
        let hi = vaddr.saturating_add(len).min(self.end);
        if lo >= hi {
            return;
        }
        let (vaddr, paddr, len) = (lo, paddr + (lo - vaddr), hi - lo);
        if let Some(last) = self.out.last_mut() {
            if last.vaddr.wrapping_add(last.len) == vaddr && last.paddr.wrapping_add(last.len) == paddr {
                last.len += len;
                return;
            }
        }
        self.out.push(MappedExtent { vaddr, paddr, len });
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use krash_core::{AddrSpace, Error, FaultReason, PhysRange, Result};

    use super::*;

    /// Page-table pages by physical address.
    struct Tables(HashMap<u64, Vec<u8>>);

    impl Tables {
        fn set(&mut self, table: u64, index: usize, entry: u64) {
            let page = self.0.entry(table).or_insert_with(|| vec![0; 4096]);
            page[index * 8..index * 8 + 8].copy_from_slice(&entry.to_le_bytes());
        }
    }

    impl PhysicalMemory for Tables {
        fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<()> {
            let page =
                self.0.get(&paddr).ok_or_else(|| Error::fault(paddr, AddrSpace::Physical, FaultReason::NotInDump))?;
            buf.copy_from_slice(&page[..buf.len()]);
            Ok(())
        }
        fn phys_ranges(&self) -> Vec<PhysRange> {
            Vec::new()
        }
    }

    #[test]
    fn extents_merge_pages_and_skip_holes() {
        // PGD 0x1000 -> PUD 0x2000 -> PMD 0x3000 -> PT 0x4000, for the
        // kernel half (PGD index 256 maps 0xffff800000000000).
        let mut t = Tables(HashMap::new());
        t.set(0x1000, 256, 0x2000 | 1);
        t.set(0x2000, 0, 0x3000 | 1);
        t.set(0x3000, 0, 0x4000 | 1);
        t.set(0x4000, 0, 0x10_0000 | 1);
        t.set(0x4000, 1, 0x10_1000 | 1);
        t.set(0x4000, 3, 0x20_0000 | 1);
        // A 2 MiB page at PMD index 1.
        t.set(0x3000, 1, 0x40_0000 | 0x80 | 1);
        let base = 0xffff_8000_0000_0000;
        let got = mapped_extents(&t, PagingMode::FourLevel, 0x1000, base, base + (4 << 20));
        assert_eq!(
            got,
            vec![
                MappedExtent { vaddr: base, paddr: 0x10_0000, len: 0x2000 },
                MappedExtent { vaddr: base + 0x3000, paddr: 0x20_0000, len: 0x1000 },
                MappedExtent { vaddr: base + (2 << 20), paddr: 0x40_0000, len: 2 << 20 },
            ]
        );
        let clipped = mapped_extents(&t, PagingMode::FourLevel, 0x1000, base + 0x1000, base + 0x1800);
        assert_eq!(clipped, vec![MappedExtent { vaddr: base + 0x1000, paddr: 0x10_1000, len: 0x800 }]);
    }
}
