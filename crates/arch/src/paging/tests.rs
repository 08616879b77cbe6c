//! The walker over synthetic page tables: 4 KiB pages, 2 MiB and 1 GiB
//! large pages, not-present entries, 5-level paging, and corrupt tables
//! (loops, garbage) that must stay bounded.

use std::collections::HashMap;

use krash_core::{AddrSpace, Error, FaultReason, PhysRange, PhysicalMemory, Result};

use super::*;

const PAGE: u64 = 4096;

/// Sparse physical memory: whole 4 KiB pages by address.
#[derive(Default)]
struct Pages(HashMap<u64, Vec<u8>>);

impl Pages {
    fn set(&mut self, table: u64, index: u64, entry: u64) {
        let page = self.0.entry(table).or_insert_with(|| vec![0; PAGE as usize]);
        let at = (index * 8) as usize;
        page[at..at + 8].copy_from_slice(&entry.to_le_bytes());
    }
    /// Sets the entry for `vaddr` at the level with `shift`.
    fn map(&mut self, table: u64, vaddr: u64, shift: u32, entry: u64) {
        self.set(table, (vaddr >> shift) & 0x1ff, entry);
    }
}

impl PhysicalMemory for Pages {
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<()> {
        let base = paddr & !(PAGE - 1);
        let page = self.0.get(&base).ok_or_else(|| Error::fault(paddr, AddrSpace::Physical, FaultReason::NotInDump))?;
        let at = (paddr - base) as usize;
        let src = page
            .get(at..at + buf.len())
            .ok_or_else(|| Error::fault(paddr, AddrSpace::Physical, FaultReason::NotInDump))?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn phys_ranges(&self) -> Vec<PhysRange> {
        Vec::new()
    }
}

const TABLE: u64 = 0x63; // PRESENT | RW | ACCESSED | DIRTY
const LARGE: u64 = 0xe3; // ... | PSE

fn four() -> &'static PageTableFormat {
    &crate::x86_64::PAGING_4_LEVEL
}

fn five() -> &'static PageTableFormat {
    &crate::x86_64::PAGING_5_LEVEL
}

#[test]
fn four_level_4k_page_records_every_level() {
    let va = 0xffff_8880_1234_5678u64;
    let mut m = Pages::default();
    m.map(0x1000, va, 39, 0x2000 | TABLE);
    m.map(0x2000, va, 30, 0x3000 | TABLE);
    m.map(0x3000, va, 21, 0x4000 | TABLE);
    m.map(0x4000, va, 12, 0x8000_0000_0abc_d000 | TABLE);
    // CR3 with PCID bits set: they are masked off.
    let t = four().translate(&m, 0x1000 | 0x5, va).unwrap();
    assert_eq!(t.paddr, 0xabc_d678);
    assert_eq!(t.page_size, 4096);
    let levels: Vec<_> = t.steps.iter().map(|s| s.level.name()).collect();
    assert_eq!(levels, ["PGD", "PUD", "PMD", "PTE"]);
    assert_eq!(t.steps[0].entry_paddr, 0x1000 + ((va >> 39) & 0x1ff) * 8);
    assert_eq!(t.steps[3].entry.flag_names(), ["PRESENT", "RW", "ACCESSED", "DIRTY", "NX"]);
    assert_eq!(four().flag_names(t.steps[3].entry.0), t.steps[3].entry.flag_names());
    assert_eq!(four().walk(&m, 0x1000, va).1.unwrap(), (0xabc_d678, 4096));
}

#[test]
fn two_meg_and_one_gig_pages() {
    let va = 0xffff_ffff_8123_4567u64;
    let mut m = Pages::default();
    m.map(0x1000, va, 39, 0x2000 | TABLE);
    m.map(0x2000, va, 30, 0x3000 | TABLE);
    // A 2 MiB page whose PAT bit (12) is set: not part of the frame.
    m.map(0x3000, va, 21, 0x0100_0000 | 0x1000 | LARGE);
    let t = four().translate(&m, 0x1000, va).unwrap();
    assert_eq!(t.paddr, 0x0100_0000 | (va & 0x1f_ffff));
    assert_eq!(t.page_size, 2 << 20);
    assert_eq!(t.steps.len(), 3);

    let mut m = Pages::default();
    m.map(0x1000, va, 39, 0x2000 | TABLE);
    m.map(0x2000, va, 30, 0x4000_0000 | LARGE);
    let t = four().translate(&m, 0x1000, va).unwrap();
    assert_eq!(t.paddr, 0x4000_0000 | (va & 0x3fff_ffff));
    assert_eq!(t.page_size, 1 << 30);
    assert_eq!(four().page_sizes(), [4096, 2 << 20, 1 << 30]);
    assert_eq!(four().base_page_size(), 4096);
    assert_eq!(four().page_shift(), 12);
}

#[test]
fn pse_at_the_top_level_is_not_a_large_page() {
    // PGD entries cannot map pages: PSE there is ignored and the walk goes on.
    let va = 0xffff_8880_0000_0000u64;
    let mut m = Pages::default();
    m.map(0x1000, va, 39, 0x2000 | LARGE);
    m.map(0x2000, va, 30, 0x4000_0000 | LARGE);
    let t = four().translate(&m, 0x1000, va).unwrap();
    assert_eq!((t.paddr, t.page_size), (0x4000_0000, 1 << 30));
}

#[test]
fn five_level_walk_uses_p4d() {
    let va = 0xff11_0000_0000_1000u64;
    let mut m = Pages::default();
    m.map(0x1000, va, 48, 0x2000 | TABLE);
    m.map(0x2000, va, 39, 0x3000 | TABLE);
    m.map(0x3000, va, 30, 0x4000 | TABLE);
    m.map(0x4000, va, 21, 0x5000 | TABLE);
    m.map(0x5000, va, 12, 0x9000 | TABLE);
    let t = five().translate(&m, 0x1000, va).unwrap();
    assert_eq!(t.paddr, 0x9000);
    assert_eq!(t.steps[1].level, Level::P4d);
    assert_eq!(t.steps.len(), 5);
    // A 57-bit address is non-canonical under 4-level paging.
    assert!(!four().is_canonical(va));
    assert!(five().is_canonical(va));
    assert_eq!(five().canonicalize(0x0100_0000_0000_0000), 0xff00_0000_0000_0000);
    assert_eq!(five().canonicalize(0x00ff_0000_0000_0000), 0x00ff_0000_0000_0000);
}

#[test]
fn not_present_non_canonical_and_unreadable_fail_clearly() {
    let mut m = Pages::default();
    m.set(0x1000, 0, 0x2000 | TABLE);
    m.set(0x2000, 0, 0);
    let (steps, outcome) = four().walk(&m, 0x1000, 0x10);
    let err = outcome.unwrap_err();
    assert!(err.to_string().contains("no page-table mapping"), "{err}");
    assert!(err.to_string().contains("user virtual address 0x10"), "{err}");
    assert_eq!(steps.len(), 2, "the not-present entry is still shown");
    let err = four().translate(&m, 0x1000, 0x0041_0041_0041_0041).unwrap_err();
    assert!(err.to_string().contains("non-canonical"), "{err}");
    // A page table in memory absent from the dump is reported as such.
    let err = four().translate(&m, 0x7000, 0x10).unwrap_err();
    assert!(err.to_string().contains("not present in the dump"), "{err}");
    // A root at the very top of physical memory cannot overflow.
    let (steps, outcome) = four().walk(&m, 0x000f_ffff_ffff_f000, u64::MAX);
    assert!(steps.is_empty() && outcome.is_err());
}

#[test]
fn not_present_ptes_decode_as_linux_encodes_them() {
    let f = four();
    assert_eq!(f.decode_not_present(0), NotPresent::Empty);
    assert_eq!(f.decode_not_present(0x1234_5063), NotPresent::Empty, "present entries are not decoded");
    // PROT_NONE: GLOBAL set, PRESENT clear, frame stored inverted.
    let frame = 0x1234_5000u64;
    let prot_none = (!frame & 0x000f_ffff_ffff_f000) | 0x100;
    assert_eq!(f.decode_not_present(prot_none), NotPresent::ProtNone { frame });
    // Swap type 3, offset 0x42: type in bits 59.., offset inverted from bit 9.
    let swap = (3u64 << 59) | ((!0x42u64 << 9) & ((1 << 59) - 1) & !0x1ff);
    assert_eq!(f.decode_not_present(swap), NotPresent::Swap { kind: 3, offset: 0x42 });
}

#[test]
fn extents_merge_pages_clip_and_skip_holes() {
    // PGD 0x1000 -> PUD 0x2000 -> PMD 0x3000 -> PT 0x4000, for the
    // kernel half (PGD index 256 maps 0xffff800000000000).
    let mut t = Pages::default();
    t.set(0x1000, 256, 0x2000 | 1);
    t.set(0x2000, 0, 0x3000 | 1);
    t.set(0x3000, 0, 0x4000 | 1);
    t.set(0x4000, 0, 0x10_0000 | 1);
    t.set(0x4000, 1, 0x10_1000 | 1);
    t.set(0x4000, 3, 0x20_0000 | 1);
    // A 2 MiB page at PMD index 1.
    t.set(0x3000, 1, 0x40_0000 | 0x80 | 1);
    let base = 0xffff_8000_0000_0000;
    let got = four().mapped_extents(&t, 0x1000, base, base + (4 << 20), ExtentLimits::default());
    assert!(got.complete);
    assert_eq!(
        got.extents,
        vec![
            MappedExtent { vaddr: base, paddr: 0x10_0000, len: 0x2000 },
            MappedExtent { vaddr: base + 0x3000, paddr: 0x20_0000, len: 0x1000 },
            MappedExtent { vaddr: base + (2 << 20), paddr: 0x40_0000, len: 2 << 20 },
        ]
    );
    let clipped = four().mapped_extents(&t, 0x1000, base + 0x1000, base + 0x1800, ExtentLimits::default());
    assert_eq!(clipped.extents, vec![MappedExtent { vaddr: base + 0x1000, paddr: 0x10_1000, len: 0x800 }]);
    // The whole address space, including its top end, finds the same.
    let all = four().mapped_extents(&t, 0x1000, 0, u64::MAX, ExtentLimits::default());
    assert_eq!(all.extents, got.extents);
    // An unreadable root yields nothing.
    assert!(four().mapped_extents(&t, 0x9_0000, 0, u64::MAX, ExtentLimits::default()).extents.is_empty());
}

#[test]
fn extents_of_a_one_gig_page_and_five_level_tables() {
    let mut t = Pages::default();
    let va = 0xff11_0000_4000_0000u64;
    t.map(0x1000, va, 48, 0x2000 | 1);
    t.map(0x2000, va, 39, 0x3000 | 1);
    t.map(0x3000, va, 30, 0x8000_0000 | 0x80 | 1);
    let got = five().mapped_extents(&t, 0x1000, va, va + (1 << 30), ExtentLimits::default());
    assert_eq!(got.extents, vec![MappedExtent { vaddr: va, paddr: 0x8000_0000, len: 1 << 30 }]);
}

#[test]
fn looping_and_garbage_tables_stay_bounded() {
    // Every PGD entry points back at the PGD itself, and every entry of a
    // second table at that table: a walk must neither loop nor explode.
    let mut t = Pages::default();
    for i in 0..512 {
        t.set(0x1000, i, 0x1000 | 1);
    }
    let got = four().mapped_extents(&t, 0x1000, 0, u64::MAX, ExtentLimits::default());
    assert!(got.extents.is_empty(), "a table that is its own ancestor is not entered");

    // A DAG: every entry at every level points at the next table, and the
    // last table maps 512 distinct frames, so the tree names 512^4 pages.
    let mut t = Pages::default();
    for i in 0..512 {
        t.set(0x1000, i, 0x2000 | 1);
        t.set(0x2000, i, 0x3000 | 1);
        t.set(0x3000, i, 0x4000 | 1);
        t.set(0x4000, i, (0x100_0000 + i * 2 * PAGE) | 1);
    }
    let limits = ExtentLimits { max_extents: 10_000, max_tables: 100 };
    let got = four().mapped_extents(&t, 0x1000, 0, u64::MAX, limits);
    assert!(!got.complete);
    assert!(got.extents.len() <= 10_000);
    let limits = ExtentLimits { max_extents: 1000, max_tables: 1 << 20 };
    let got = four().mapped_extents(&t, 0x1000, 0, u64::MAX, limits);
    assert!(!got.complete);
    assert_eq!(got.extents.len(), 1000);

    // Garbage entries (all bits set) point past physical memory: skipped.
    let mut t = Pages::default();
    for i in 0..512 {
        t.set(0x1000, i, u64::MAX);
    }
    let got = four().mapped_extents(&t, 0x1000, 0, u64::MAX, ExtentLimits::default());
    assert!(got.extents.is_empty() && got.complete);
    assert!(four().translate(&t, 0x1000, 0xffff_8880_0000_0000).is_err());
}

#[test]
fn page_table_entry_view_matches_the_format() {
    let e = PageTableEntry(0x8000_0000_1234_50e3);
    assert!(e.is_present() && e.is_large());
    assert_eq!(e.frame_addr(), 0x1234_5000);
    assert_eq!(e.flag_names(), ["PRESENT", "RW", "ACCESSED", "DIRTY", "PSE", "NX"]);
    assert!(four().no_execute.matches(e.0) && four().writable.matches(e.0) && !four().user.matches(e.0));
    assert_eq!(five().va_bits, 57);
    assert!(four().is_canonical(0xffff_8000_0000_0000));
}
