//! The x86-64 MMU described as data: levels, index bits, entry flags, and a
//! walker over any [`PhysicalMemory`]. The walker records every level it
//! visits so `vtop` can show the walk the way crash does.

use krash_core::{AddrSpace, Error, FaultReason, PhysicalMemory, Result};

/// Bits 12..51 of an entry hold the physical frame; bits 52..62 are
/// software/protection-key bits and bit 63 is NX.
const ENTRY_ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
const FLAG_PRESENT: u64 = 1 << 0;
const FLAG_RW: u64 = 1 << 1;
const FLAG_USER: u64 = 1 << 2;
const FLAG_PWT: u64 = 1 << 3;
const FLAG_PCD: u64 = 1 << 4;
const FLAG_ACCESSED: u64 = 1 << 5;
const FLAG_DIRTY: u64 = 1 << 6;
const FLAG_PSE: u64 = 1 << 7;
const FLAG_GLOBAL: u64 = 1 << 8;
const FLAG_NX: u64 = 1 << 63;

/// 4-level (48-bit) or 5-level (57-bit, LA57) paging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum PagingMode {
    FourLevel,
    FiveLevel,
}

impl PagingMode {
    fn levels(self) -> &'static [Level] {
        match self {
            PagingMode::FourLevel => &[Level::Pgd, Level::Pud, Level::Pmd, Level::Pte],
            PagingMode::FiveLevel => &[Level::Pgd, Level::P4d, Level::Pud, Level::Pmd, Level::Pte],
        }
    }

    /// Number of significant virtual-address bits.
    pub fn va_bits(self) -> u32 {
        match self {
            PagingMode::FourLevel => 48,
            PagingMode::FiveLevel => 57,
        }
    }

    /// True when `addr` is sign-extended from the top implemented bit.
    pub fn is_canonical(self, addr: u64) -> bool {
        let shift = 64 - self.va_bits();
        (((addr << shift) as i64) >> shift) as u64 == addr
    }
}

/// A page-table level, named as the Linux kernel (and crash's `vtop`) names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Level {
    Pgd,
    P4d,
    Pud,
    Pmd,
    Pte,
}

impl Level {
    fn index_shift(self, mode: PagingMode) -> u32 {
        match (self, mode) {
            (Level::Pgd, PagingMode::FiveLevel) => 48,
            (Level::Pgd, PagingMode::FourLevel) | (Level::P4d, _) => 39,
            (Level::Pud, _) => 30,
            (Level::Pmd, _) => 21,
            (Level::Pte, _) => 12,
        }
    }

    /// Whether an entry at this level with PSE set maps a large page.
    fn can_map_large_page(self) -> bool {
        matches!(self, Level::Pud | Level::Pmd)
    }

    pub fn name(self) -> &'static str {
        match self {
            Level::Pgd => "PGD",
            Level::P4d => "P4D",
            Level::Pud => "PUD",
            Level::Pmd => "PMD",
            Level::Pte => "PTE",
        }
    }
}

/// A raw page-table entry with its flag decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PageTableEntry(pub u64);

impl PageTableEntry {
    pub fn is_present(self) -> bool {
        self.0 & FLAG_PRESENT != 0
    }
    pub fn is_large(self) -> bool {
        self.0 & FLAG_PSE != 0
    }
    pub fn frame_addr(self) -> u64 {
        self.0 & ENTRY_ADDR_MASK
    }
    /// Flag names in the order crash prints them in `vtop`.
    pub fn flag_names(self) -> Vec<&'static str> {
        let table: [(u64, &str); 10] = [
            (FLAG_PRESENT, "PRESENT"),
            (FLAG_RW, "RW"),
            (FLAG_USER, "USER"),
            (FLAG_PWT, "PWT"),
            (FLAG_PCD, "PCD"),
            (FLAG_ACCESSED, "ACCESSED"),
            (FLAG_DIRTY, "DIRTY"),
            (FLAG_PSE, "PSE"),
            (FLAG_GLOBAL, "GLOBAL"),
            (FLAG_NX, "NX"),
        ];
        table.iter().filter(|(bit, _)| self.0 & bit != 0).map(|&(_, name)| name).collect()
    }
}

/// One level visited during a walk: where the entry lives and what it held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct TranslateStep {
    pub level: Level,
    /// Physical address of the entry itself.
    pub entry_paddr: u64,
    pub entry: PageTableEntry,
}

/// The result of a successful walk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Translation {
    pub vaddr: u64,
    pub paddr: u64,
    /// 4 KiB, 2 MiB or 1 GiB.
    pub page_size: u64,
    pub steps: Vec<TranslateStep>,
}

/// Walks the page tables rooted at physical address `root` (CR3 with the
/// PCID/flag bits masked) for `vaddr`.
///
/// A failed walk reports `NotMapped` for a non-present entry; the steps
/// taken so far are returned by [`walk_partial`] for diagnostics.
pub fn translate(mem: &dyn PhysicalMemory, mode: PagingMode, root: u64, vaddr: u64) -> Result<Translation> {
    let (steps, outcome) = walk_partial(mem, mode, root, vaddr);
    outcome.map(|(paddr, page_size)| Translation { vaddr, paddr, page_size, steps })
}

/// Walks as far as possible: every step read, plus the final physical
/// address and page size or the reason the walk stopped.
pub fn walk_partial(
    mem: &dyn PhysicalMemory,
    mode: PagingMode,
    root: u64,
    vaddr: u64,
) -> (Vec<TranslateStep>, Result<(u64, u64)>) {
    let space = if vaddr >> 63 == 1 { AddrSpace::KernelVirtual } else { AddrSpace::UserVirtual };
    let mut steps = Vec::with_capacity(5);
    if !mode.is_canonical(vaddr) {
        return (steps, Err(Error::fault(vaddr, space, FaultReason::NonCanonical)));
    }
    let mut table = root & ENTRY_ADDR_MASK;
    for &level in mode.levels() {
        let shift = level.index_shift(mode);
        let index = (vaddr >> shift) & 0x1ff;
        let entry_paddr = table + index * 8;
        let raw = match mem.read_phys_u64(entry_paddr) {
            Ok(v) => v,
            Err(e) => return (steps, Err(e)),
        };
        let entry = PageTableEntry(raw);
        steps.push(TranslateStep { level, entry_paddr, entry });
        if !entry.is_present() {
            return (steps, Err(Error::fault(vaddr, space, FaultReason::NotMapped)));
        }
        if level == Level::Pte || (level.can_map_large_page() && entry.is_large()) {
            let page_size = 1u64 << shift;
            let frame = entry.frame_addr() & !(page_size - 1);
            return (steps, Ok((frame | (vaddr & (page_size - 1)), page_size)));
        }
        table = entry.frame_addr();
    }
    // Unreachable in practice: the PTE level always returns above.
    (steps, Err(Error::fault(vaddr, space, FaultReason::NotMapped)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use krash_core::PhysRange;
    use std::collections::HashMap;

    /// Sparse physical memory made of u64 words, for building page tables.
    #[derive(Default)]
    struct Words(HashMap<u64, u64>);

    impl PhysicalMemory for Words {
        fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<()> {
            for (i, b) in buf.iter_mut().enumerate() {
                let a = paddr + i as u64;
                let word = self
                    .0
                    .get(&(a & !7))
                    .ok_or_else(|| Error::fault(a, AddrSpace::Physical, FaultReason::NotInDump))?;
                *b = word.to_le_bytes()[(a & 7) as usize];
            }
            Ok(())
        }
        fn phys_ranges(&self) -> Vec<PhysRange> {
            Vec::new()
        }
    }

    fn idx(vaddr: u64, shift: u32) -> u64 {
        (vaddr >> shift) & 0x1ff
    }

    #[test]
    fn four_level_4k_page() {
        let va = 0xffff_8880_1234_5678u64;
        let mut m = Words::default();
        m.0.insert(0x1000 + idx(va, 39) * 8, 0x2000 | 0x63);
        m.0.insert(0x2000 + idx(va, 30) * 8, 0x3000 | 0x63);
        m.0.insert(0x3000 + idx(va, 21) * 8, 0x4000 | 0x63);
        m.0.insert(0x4000 + idx(va, 12) * 8, 0x8000_0000_0abc_d000 | 0x63);
        let t = translate(&m, PagingMode::FourLevel, 0x1000, va).unwrap();
        assert_eq!(t.paddr, 0xabc_d678);
        assert_eq!(t.page_size, 4096);
        assert_eq!(t.steps.len(), 4);
        assert!(t.steps[3].entry.flag_names().contains(&"NX"));
    }

    #[test]
    fn two_meg_and_one_gig_pages() {
        let va = 0xffff_ffff_8123_4567u64;
        let mut m = Words::default();
        m.0.insert(0x1000 + idx(va, 39) * 8, 0x2000 | 0x63);
        m.0.insert(0x2000 + idx(va, 30) * 8, 0x3000 | 0x63);
        m.0.insert(0x3000 + idx(va, 21) * 8, 0x0100_0000 | 0xe3);
        let t = translate(&m, PagingMode::FourLevel, 0x1000, va).unwrap();
        assert_eq!(t.paddr, 0x0100_0000 | (va & 0x1f_ffff));
        assert_eq!(t.page_size, 2 << 20);

        let mut m = Words::default();
        m.0.insert(0x1000 + idx(va, 39) * 8, 0x2000 | 0x63);
        m.0.insert(0x2000 + idx(va, 30) * 8, 0x4000_0000 | 0xe3);
        let t = translate(&m, PagingMode::FourLevel, 0x1000, va).unwrap();
        assert_eq!(t.paddr, 0x4000_0000 | (va & 0x3fff_ffff));
        assert_eq!(t.page_size, 1 << 30);
    }

    #[test]
    fn five_level_walk_uses_p4d() {
        let va = 0xff11_0000_0000_1000u64;
        let mut m = Words::default();
        m.0.insert(0x1000 + idx(va, 48) * 8, 0x2000 | 0x63);
        m.0.insert(0x2000 + idx(va, 39) * 8, 0x3000 | 0x63);
        m.0.insert(0x3000 + idx(va, 30) * 8, 0x4000 | 0x63);
        m.0.insert(0x4000 + idx(va, 21) * 8, 0x5000 | 0x63);
        m.0.insert(0x5000 + idx(va, 12) * 8, 0x9000 | 0x63);
        let t = translate(&m, PagingMode::FiveLevel, 0x1000, va).unwrap();
        assert_eq!(t.paddr, 0x9000);
        assert_eq!(t.steps[1].level, Level::P4d);
    }

    #[test]
    fn not_present_and_non_canonical_fail_clearly() {
        let mut m = Words::default();
        m.0.insert(0x1000, 0);
        let err = translate(&m, PagingMode::FourLevel, 0x1000, 0x10).unwrap_err();
        assert!(err.to_string().contains("no page-table mapping"), "{err}");
        let err = translate(&m, PagingMode::FourLevel, 0x1000, 0x0041_0041_0041_0041).unwrap_err();
        assert!(err.to_string().contains("non-canonical"), "{err}");
        // A page table in memory absent from the dump is reported as such.
        let err = translate(&m, PagingMode::FourLevel, 0x7000, 0x10).unwrap_err();
        assert!(err.to_string().contains("not present in the dump"), "{err}");
    }
}
