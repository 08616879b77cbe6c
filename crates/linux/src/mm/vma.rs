//! A process's memory areas (`vm_area_struct`s), from the maple tree
//! `mm->mm_mt` on 6.1+ or the `mm->mmap` list before.

use crate::fs::vfs::VfsExt;
use krash_core::{Error, Result, VirtualMemory};

use krash_program::maple;
use krash_program::Kernel;

/// Most VMAs believed in one address space (the kernel's default
/// `vm.max_map_count` is 65530).
const MAX_VMAS: usize = 1 << 20;

/// One memory area.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Vma {
    pub addr: u64,
    pub start: u64,
    pub end: u64,
    pub flags: u64,
    pub file: u64,
    /// `vm_pgoff`: the file page mapped at `start`.
    pub pgoff: u64,
    /// Path of the mapped file, when there is one.
    pub path: Option<String>,
}

/// The areas found and why the walk stopped early, if it did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct VmaList {
    pub vmas: Vec<Vma>,
    pub broken: Option<String>,
}

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait VmaExt {
    /// Every VMA of the `mm_struct` at `mm`, in address order.
    fn vmas(&self, mm: u64) -> Result<VmaList>;
    /// One `vm_area_struct`.
    fn vma(&self, addr: u64) -> Result<Vma>;
}

impl VmaExt for Kernel {
    fn vmas(&self, mm: u64) -> Result<VmaList> {
        let mut out = VmaList::default();
        let addrs: Vec<u64> = if self.layouts().has_field("mm_struct", "mm_mt") {
            let tree = self.field_addr(mm, "mm_struct", "mm_mt")?;
            let root = self.read_field_u64(tree, "maple_tree", "ma_root")?;
            let walk = maple::walk(self.memory(), root, MAX_VMAS);
            out.broken = walk.broken;
            walk.entries.into_iter().map(|e| e.value).collect()
        } else {
            self.vma_list(mm, &mut out.broken)?
        };
        for addr in addrs {
            match self.vma(addr) {
                Ok(v) => out.vmas.push(v),
                Err(e) => {
                    out.broken = Some(e.to_string());
                    break;
                }
            }
        }
        Ok(out)
    }

    fn vma(&self, addr: u64) -> Result<Vma> {
        let start = self.read_field_u64(addr, "vm_area_struct", "vm_start")?;
        let end = self.read_field_u64(addr, "vm_area_struct", "vm_end")?;
        if end < start {
            return Err(Error::bad_data(
                "vm_area_struct",
                format!("{addr:x}: vm_end {end:x} below vm_start {start:x}"),
            ));
        }
        let flags = self.read_field_u64(addr, "vm_area_struct", "vm_flags")?;
        let file = self.read_field_u64(addr, "vm_area_struct", "vm_file")?;
        let pgoff = self.read_field_u64(addr, "vm_area_struct", "vm_pgoff")?;
        let path = if file != 0 { self.file_path(file).ok() } else { None };
        let _ = self.memory().read_u64(addr)?;
        Ok(Vma { addr, start, end, flags, file, pgoff, path })
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait VmaHelpers {
    /// The `vm_next` chain of kernels before the maple tree.
    fn vma_list(&self, mm: u64, broken: &mut Option<String>) -> Result<Vec<u64>>;
}

impl VmaHelpers for Kernel {
    fn vma_list(&self, mm: u64, broken: &mut Option<String>) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        let mut next = self.read_field_u64(mm, "mm_struct", "mmap")?;
        while next != 0 {
            if out.len() >= MAX_VMAS {
                *broken = Some(format!("more than {MAX_VMAS} VMAs: list looks corrupt"));
                break;
            }
            out.push(next);
            next = self.read_field_u64(next, "vm_area_struct", "vm_next")?;
        }
        Ok(out)
    }
}
