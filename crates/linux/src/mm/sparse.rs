//! The SPARSEMEM section table (`mem_section`, two-level with
//! SPARSEMEM_EXTREME): which ranges of page frames have a `struct page`
//! array, and its state bits. `kmem -n` lists it and `kmem -p` walks it.

use crate::mm::page::PageExt;
use crate::mm::zone::ZoneExt;
use krash_core::{Error, Result, VirtualMemory};
use serde::Serialize;

use krash_program::Kernel;

/// x86-64's SECTION_SIZE_BITS when VMCOREINFO does not say.
const DEFAULT_SECTION_SIZE_BITS: u64 = 27;
/// Most sections looked at (2^52 bytes of 128 MiB sections).
const MAX_SECTIONS: u64 = 1 << 25;

/// One present memory section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemSection {
    pub nr: u64,
    /// Address of the `struct mem_section`.
    pub addr: u64,
    /// `section_mem_map` without its state bits (the map biased by the first pfn).
    pub coded_mem_map: u64,
    /// The `struct page` of the section's first page frame.
    pub mem_map: u64,
    pub start_pfn: u64,
    /// State bits: P(resent), M(em map), O(nline), E(arly), D(evice taint).
    pub state: String,
}

/// Bits of `section_mem_map` below SECTION_MAP_LAST_BIT, in order, with crash's letters.
const STATE_LETTERS: [(&str, char); 5] = [
    ("SECTION_MARKED_PRESENT_BIT", 'P'),
    ("SECTION_HAS_MEM_MAP_BIT", 'M'),
    ("SECTION_IS_ONLINE_BIT", 'O'),
    ("SECTION_IS_EARLY_BIT", 'E'),
    ("SECTION_TAINT_ZONE_DEVICE_BIT", 'D'),
];

/// The state bits while they were `#define`s (up to 5.10): present, mem
/// map, online, early; SECTION_MAP_LAST_BIT was bit 4.
const PRE_ENUM_STATE_BITS: [(u64, char); 4] = [(0, 'P'), (1, 'M'), (2, 'O'), (3, 'E')];
const PRE_ENUM_MAP_LAST_BIT: u64 = 4;

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait SparseExt {
    /// Page frames per section.
    fn pages_per_section(&self) -> u64;
    /// Every present section, in order.
    fn mem_sections(&self) -> Result<Vec<MemSection>>;
    /// The memory blocks, from the `memory_blocks` xarray (indexed by block id).
    fn memory_blocks(&self) -> Result<Vec<MemoryBlock>>;
}

impl SparseExt for Kernel {
    fn pages_per_section(&self) -> u64 {
        let page_shift = u64::from(self.memory().layout().paging().page_shift());
        let bits = self
            .vmcoreinfo()
            .number("SECTION_SIZE_BITS")
            .and_then(|b| u64::try_from(b).ok())
            .filter(|b| (page_shift..40).contains(b))
            .unwrap_or(DEFAULT_SECTION_SIZE_BITS);
        1 << (bits - page_shift)
    }

    fn mem_sections(&self) -> Result<Vec<MemSection>> {
        let mem = self.memory();
        let roots = self.read_symbol_u64("mem_section")?;
        let size = self.layouts().size_of("mem_section")?;
        // SECTIONS_PER_ROOT: one page of `struct mem_section`.
        let page_size = self.memory().page_size();
        if !(8..=page_size).contains(&size) {
            return Err(Error::bad_data("struct mem_section", format!("implausible size {size}")));
        }
        let per_root = page_size / size;
        let highest = mem.read_u64(self.symbol_addr("__highest_present_section_nr")?)?;
        if highest >= MAX_SECTIONS {
            return Err(Error::bad_data("__highest_present_section_nr", format!("implausible {highest}")));
        }
        let (last_bit, letters): (u64, Vec<(u64, char)>) = match self.enumerator_value("SECTION_MAP_LAST_BIT") {
            Some(last) if last < 12 => (
                last,
                STATE_LETTERS
                    .iter()
                    .filter_map(|(name, c)| Some((1u64 << self.enumerator_value(name).filter(|&b| b < 12)?, *c)))
                    .collect(),
            ),
            // Before the enum (5.10 and older) the bits were #defines, which
            // no debuginfo carries: include/linux/mmzone.h's values.
            _ => (PRE_ENUM_MAP_LAST_BIT, PRE_ENUM_STATE_BITS.iter().map(|&(bit, c)| (1u64 << bit, c)).collect()),
        };
        let present_bit = letters.first().map(|(b, _)| *b).unwrap_or(1);
        let page_size = self.page_model()?.page_struct_size;
        let per_section = self.pages_per_section();
        let mut out = Vec::new();
        let mut root_ptr = 0;
        for nr in 0..=highest {
            if nr % per_root == 0 {
                root_ptr = mem.read_u64(roots.wrapping_add((nr / per_root) * 8))?;
            }
            if root_ptr == 0 {
                continue;
            }
            let addr = root_ptr.wrapping_add((nr % per_root) * size);
            let raw = mem.read_u64(addr)?;
            if raw & present_bit == 0 {
                continue;
            }
            let coded = raw & !((1u64 << last_bit) - 1);
            let start_pfn = nr * per_section;
            out.push(MemSection {
                nr,
                addr,
                coded_mem_map: coded,
                mem_map: coded.wrapping_add(start_pfn.wrapping_mul(page_size)),
                start_pfn,
                state: letters.iter().filter(|(b, _)| raw & b != 0).map(|(_, c)| *c).collect(),
            });
        }
        Ok(out)
    }

    fn memory_blocks(&self) -> Result<Vec<MemoryBlock>> {
        let l = self.layouts();
        let head =
            self.memory().read_u64(self.symbol_addr("memory_blocks")?.wrapping_add(l.offset("xarray", "xa_head")?))?;
        let layout = krash_program::xarray::XaLayout::of(l)?;
        let walk = krash_program::xarray::walk(self.memory(), head, layout, MAX_MEMORY_BLOCKS);
        if let Some(b) = walk.broken {
            return Err(Error::bad_data("memory_blocks xarray", b));
        }
        let section_bytes = self.pages_per_section() << self.memory().layout().paging().page_shift();
        let block_bytes = self
            .symbol_addr("memory_block_size_probed")
            .and_then(|a| self.memory().read_u64(a))
            .ok()
            .filter(|&b| b != 0)
            .unwrap_or(section_bytes);
        let mut out = Vec::new();
        for e in walk.entries {
            let mb = e.value;
            let start_section = self.read_field_u64(mb, "memory_block", "start_section_nr")?;
            let state = self.read_field_u64(mb, "memory_block", "state")?;
            let name_ptr = self.read_field_u64(mb, "memory_block", "dev.kobj.name")?;
            let start = start_section.wrapping_mul(section_bytes);
            out.push(MemoryBlock {
                addr: mb,
                name: if name_ptr == 0 { String::new() } else { self.memory().read_cstr(name_ptr, 64)? },
                start_section,
                start,
                end: start.wrapping_add(block_bytes).wrapping_sub(1),
                node: self.read_field(mb, "memory_block", "nid")? as u32 as i32,
                state: BLOCK_STATES.iter().find(|(v, _)| *v == state).map_or("UNKNOWN", |(_, n)| n).to_string(),
            });
        }
        Ok(out)
    }
}

/// Most memory blocks listed.
const MAX_MEMORY_BLOCKS: usize = 1 << 20;

/// One hot-pluggable memory block (`/sys/devices/system/memory/memoryN`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemoryBlock {
    pub addr: u64,
    pub name: String,
    pub start_section: u64,
    /// First and last physical byte.
    pub start: u64,
    pub end: u64,
    pub node: i32,
    pub state: String,
}

/// `memory_block.state` values (include/linux/memory.h).
const BLOCK_STATES: [(u64, &str); 6] = [
    (1 << 0, "ONLINE"),
    (1 << 1, "GOING_OFFLINE"),
    (1 << 2, "OFFLINE"),
    (1 << 3, "GOING_ONLINE"),
    (1 << 4, "CANCEL_ONLINE"),
    (1 << 5, "CANCEL_OFFLINE"),
];
