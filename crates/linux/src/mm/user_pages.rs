//! Where each page of a user memory area is: in RAM, in a swap area, only in
//! its file, or nowhere yet. Not-present PTEs are decoded the way the
//! kernel encodes them (swap entries, x86-64's L1TF-inverted PROT_NONE
//! frames), by the architecture's page-table format.

use crate::fs::vfs::VfsExt;
use crate::mm::vma::Vma;
use krash_arch::NotPresent;
use krash_program::Kernel;

/// Most pages listed for one area (64 GiB of 4 KiB pages).
pub const MAX_AREA_PAGES: u64 = 1 << 24;
/// Longest swap device path read.
const MAX_PATH: usize = 4096;

/// A not-present, non-zero, non-PROT_NONE PTE read as a swap entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SwapEntry {
    /// Index into `swap_info[]`; values past the swap areas are migration,
    /// hardware-poison or device entries.
    pub kind: u64,
    /// Page slot within the swap area.
    pub offset: u64,
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
        let paging = self.memory().layout().paging();
        match paging.decode_not_present(pte) {
            NotPresent::ProtNone { frame } => {
                let in_page = vaddr & (paging.base_page_size() - 1);
                return PageLocation::Mapped { phys: frame | in_page, prot_none: true };
            }
            NotPresent::Swap { kind, offset } => {
                let entry = SwapEntry { kind, offset };
                return PageLocation::Swap { device: self.swap_device(entry.kind), entry };
            }
            NotPresent::Empty => {}
        }
        match vma.and_then(|v| self.vma_file_offset(v, vaddr)) {
            Some((path, offset)) => PageLocation::File { path, offset },
            None => PageLocation::NotMapped,
        }
    }

    fn vma_pages(&self, root: u64, vma: &Vma) -> (Vec<UserPage>, bool) {
        let page_shift = self.memory().layout().paging().page_shift();
        let pages = vma.end.saturating_sub(vma.start) >> page_shift;
        let truncated = pages > MAX_AREA_PAGES;
        let out = (0..pages.min(MAX_AREA_PAGES))
            .map(|i| {
                let vaddr = vma.start.wrapping_add(i << page_shift);
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
        let paging = self.memory().layout().paging();
        let page = (vaddr.checked_sub(vma.start)? >> paging.page_shift()).checked_add(vma.pgoff)?;
        Some((path, page.checked_mul(paging.base_page_size())?))
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
