//! The architecture layer's page-table walker (`PageTableFormat::walk`,
//! `translate`, `mapped_extents`) for x86-64 4- and 5-level paging and
//! every arm64 granule and VA size over fuzzed physical memory.
//!
//! The input is physical memory from address 0 (anything past it is not in
//! the dump). Its first 64 bytes, which are also the first eight entries of
//! any table at address 0, are read as eight little-endian words: four
//! virtual addresses to translate, the root register (CR3; its low 16 bits
//! are kept, so the root lands in the input), the start and end of a range
//! whose mapped extents are listed, and a word whose low byte picks the
//! format (modulo the number of formats: x86-64 4-level and 5-level, then
//! arm64's; the x86-64 ones at even values of the low bit, as before, so
//! the committed corpus keeps its meaning for them). Extents are listed under small limits:
//! with `ExtentLimits::default()` (what `search` uses) 16 KiB of tables
//! that map every page of the address space to one frame make the walk
//! allocate gigabytes of extents, which would stop every fuzz run at that
//! one out-of-memory; the walk logic is the same under any limits.
#![no_main]

use krash_arch::arm64;
use krash_arch::paging::ExtentLimits;
use krash_arch::paging::PageTableFormat;
use krash_arch::x86_64::{PAGING_4_LEVEL, PAGING_5_LEVEL};
use krash_core::memory::not_mapped;
use krash_core::{PhysRange, PhysicalMemory, Result};
use libfuzzer_sys::fuzz_target;

const HEADER: usize = 64;
const FORMATS: usize = 12;
const LIMITS: ExtentLimits = ExtentLimits { max_extents: 1 << 12, max_tables: 1 << 8 };

struct Phys<'a>(&'a [u8]);

impl PhysicalMemory for Phys<'_> {
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<()> {
        let start = usize::try_from(paddr).map_err(|_| not_mapped(paddr))?;
        let end = start.checked_add(buf.len()).ok_or_else(|| not_mapped(paddr))?;
        buf.copy_from_slice(self.0.get(start..end).ok_or_else(|| not_mapped(paddr))?);
        Ok(())
    }
    fn phys_ranges(&self) -> Vec<PhysRange> {
        vec![PhysRange { start: 0, end: self.0.len() as u64 }]
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(header) = data.get(..HEADER) else { return };
    let word = |i: usize| u64::from_le_bytes(header[i * 8..i * 8 + 8].try_into().unwrap());
    let mem = Phys(data);
    let formats: [&PageTableFormat; FORMATS] = [
        &PAGING_4_LEVEL,
        &PAGING_5_LEVEL,
        &arm64::PAGING_4K_39,
        &arm64::PAGING_4K_48,
        &arm64::PAGING_4K_52,
        &arm64::PAGING_16K_36,
        &arm64::PAGING_16K_47,
        &arm64::PAGING_16K_48,
        &arm64::PAGING_16K_52,
        &arm64::PAGING_64K_42,
        &arm64::PAGING_64K_48,
        &arm64::PAGING_64K_52,
    ];
    // Bit 0 alone picks between the two x86-64 formats when bits 1..8 are
    // clear (the committed corpus); other values reach arm64's.
    let pick = (word(7) & 0xff) as usize;
    let format = formats[pick % FORMATS];
    let root = word(4) & 0xffff;
    for i in 0..4 {
        let vaddr = word(i);
        let (steps, outcome) = format.walk(&mem, root, vaddr);
        for step in &steps {
            let _ = format.flag_names(step.entry.0);
            if !format.is_present(step.entry.0) {
                let _ = format.decode_not_present(step.entry.0);
            }
        }
        if let Ok(t) = format.translate(&mem, root, vaddr) {
            assert_eq!(Ok((t.paddr, t.page_size)), outcome.map_err(|_| ()), "walk and translate disagree");
        }
    }
    let (start, end) = (word(5), word(6));
    let extents = format.mapped_extents(&mem, root, start, end, LIMITS);
    for e in &extents.extents {
        assert!(e.len > 0 && e.vaddr >= start && e.vaddr.saturating_add(e.len) <= end.max(start), "{e:?}");
    }
});
