//! Where each page of a user memory area is: in RAM, in a swap area, only in
//! its file, or nowhere yet. Not-present x86-64 PTEs are decoded the way the
//! kernel encodes them (swap entries, L1TF-inverted PROT_NONE frames).

use crate::fs::vfs::VfsExt;
use crate::mm::vma::Vma;
use krash_program::Kernel;

const PAGE_SIZE: u64 = 4096;
const PAGE_SHIFT: u32 = 12;
const PTE_PRESENT: u64 = 1;
/// `_PAGE_PROTNONE`: a present-but-inaccessible page (shares the GLOBAL bit).
const PTE_PROTNONE: u64 = 1 << 8;
/// Physical frame bits of a PTE (bits 12..51).
const PTE_FRAME_MASK: u64 = 0x000f_ffff_ffff_f000;
/// Swap entry layout: type in the top `SWP_TYPE_BITS`, inverted offset from bit 9.
const SWP_TYPE_BITS: u32 = 5;
const SWP_OFFSET_SHIFT: u32 = 9 + SWP_TYPE_BITS;
/// Most pages listed for one area (64 GiB of 4 KiB pages).
pub const MAX_AREA_PAGES: u64 = 1 << 24;
/// Longest swap device path read.
const MAX_PATH: usize = 4096;

/// A not-present, non-zero PTE read as a swap entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SwapEntry {
    /// Index into `swap_info[]`; values past the swap areas are migration,
    /// hardware-poison or device entries.
    pub kind: u64,
    /// Page slot within the swap area.
    pub offset: u64,
}

impl SwapEntry {
    /// Decodes a PTE that is neither present nor PROT_NONE.
    pub fn from_pte(pte: u64) -> Self {
        SwapEntry { kind: pte >> (64 - SWP_TYPE_BITS), offset: (!pte << SWP_TYPE_BITS) >> SWP_OFFSET_SHIFT }
    }
}

/// Where one user page is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PageLocation {
    /// In RAM at this physical address (PROT_NONE pages included).
    Mapped {
        phys: u64,
        prot_none: bool,
    },
    /// Swapped out: the swap area's path (None when the type names no swap
    /// area, e.g. a migration entry) and the slot.
    Swap {
        device: Option<String>,
        entry: SwapEntry,
    },
    /// Not in memory; the area maps this offset of a file.
    File {
        path: String,
        offset: u64,
    },
    NotMapped,
}

/// One page of an area.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserPage {
    pub vaddr: u64,
    pub location: PageLocation,
}

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait UserPagesExt {
    /// The last-level entry for user address `vaddr` under the page table at
    /// physical `root`, decoded. Large pages and missing tables are handled.
    fn user_page_location(&self, root: u64, vaddr: u64, vma: Option<&Vma>) -> PageLocation;
    /// Every page of `vma` under the page table at physical `root`, at most
    /// [`MAX_AREA_PAGES`]; the flag says the list was cut short.
    fn vma_pages(&self, root: u64, vma: &Vma) -> (Vec<UserPage>, bool);
    /// Path of swap area `kind` (`swap_info[kind]->swap_file`), if there is one.
    fn swap_device(&self, kind: u64) -> Option<String>;
}

impl UserPagesExt for Kernel {
    fn user_page_location(&self, root: u64, vaddr: u64, vma: Option<&Vma>) -> PageLocation {
        let (steps, outcome) = self.memory().walk(root, vaddr);
        if let Ok((phys, _)) = outcome {
            return PageLocation::Mapped { phys, prot_none: false };
        }
        let pte = steps.last().map(|s| s.entry.0).unwrap_or(0);
        if pte & PTE_PRESENT == 0 && pte & PTE_PROTNONE != 0 {
            // L1TF mitigation stores PROT_NONE frames inverted.
            let frame = !pte & PTE_FRAME_MASK;
            return PageLocation::Mapped { phys: frame | (vaddr & (PAGE_SIZE - 1)), prot_none: true };
        }
        if pte != 0 && pte & PTE_PRESENT == 0 {
            let entry = SwapEntry::from_pte(pte);
            return PageLocation::Swap { device: self.swap_device(entry.kind), entry };
        }
        match vma.and_then(|v| self.vma_file_offset(v, vaddr)) {
            Some((path, offset)) => PageLocation::File { path, offset },
            None => PageLocation::NotMapped,
        }
    }

    fn vma_pages(&self, root: u64, vma: &Vma) -> (Vec<UserPage>, bool) {
        let pages = vma.end.saturating_sub(vma.start) >> PAGE_SHIFT;
        let truncated = pages > MAX_AREA_PAGES;
        let out = (0..pages.min(MAX_AREA_PAGES))
            .map(|i| {
                let vaddr = vma.start.wrapping_add(i << PAGE_SHIFT);
                UserPage { vaddr, location: self.user_page_location(root, vaddr, Some(vma)) }
            })
            .collect();
        (out, truncated)
    }

    fn swap_device(&self, kind: u64) -> Option<String> {
        let nr = u64::from(self.memory_u32("nr_swapfiles")?);
        if kind >= nr {
            return None;
        }
        let table = self.symbol_addr("swap_info").ok()?;
        let info = krash_core::VirtualMemory::read_u64(self.memory(), table.wrapping_add(kind.wrapping_mul(8))).ok()?;
        if info == 0 {
            return None;
        }
        let file = self.read_field_u64(info, "swap_info_struct", "swap_file").ok()?;
        if file == 0 {
            return None;
        }
        self.file_path(file).ok().filter(|p| p.len() < MAX_PATH)
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait UserPagesHelpers {
    /// The file and byte offset a file-backed area maps at `vaddr`.
    fn vma_file_offset(&self, vma: &Vma, vaddr: u64) -> Option<(String, u64)>;
    fn memory_u32(&self, symbol: &str) -> Option<u32>;
}

impl UserPagesHelpers for Kernel {
    fn vma_file_offset(&self, vma: &Vma, vaddr: u64) -> Option<(String, u64)> {
        let path = vma.path.clone().filter(|p| !p.is_empty())?;
        let page = (vaddr.checked_sub(vma.start)? >> PAGE_SHIFT).checked_add(vma.pgoff)?;
        Some((path, page.checked_mul(PAGE_SIZE)?))
    }

    fn memory_u32(&self, symbol: &str) -> Option<u32> {
        krash_core::VirtualMemory::read_u32(self.memory(), self.symbol_addr(symbol).ok()?).ok()
    }
}

/// The physical address of a page in RAM, None for any other location.
pub fn mapped_phys(location: &PageLocation) -> Option<u64> {
    match location {
        PageLocation::Mapped { phys, .. } => Some(*phys),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::SwapEntry;

    #[test]
    fn swap_entry_round_trips_the_kernel_encoding() {
        // __swp_entry(type, offset): ~offset << 14 >> 5 | type << 59.
        let (kind, offset) = (1u64, 0x1234u64);
        let pte = ((!offset) << 14 >> 5) | (kind << 59);
        assert_eq!(SwapEntry::from_pte(pte), SwapEntry { kind, offset });
    }
}
