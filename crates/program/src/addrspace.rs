//! The kernel's virtual address space over a dump's physical memory: the
//! kernel-image mapping and the direct map are linear (no page-table walk
//! needed, which keeps `ps`/`log` fast), everything else (modules, vmalloc,
//! vmemmap, per-cpu areas, user space) goes through the page tables, with a
//! small cache of recent page translations.

use std::sync::Mutex;

use krash_arch::paging::{self, PagingMode, TranslateStep};
use krash_core::{AddrSpace, Error, FaultReason, PhysicalMemory, Result, VirtualMemory};

/// Base of the kernel image mapping on x86-64 (`__START_KERNEL_map`).
pub const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
/// `KERNEL_IMAGE_SIZE`: the image mapping ends where module space begins.
const KERNEL_IMAGE_SIZE: u64 = 1 << 30;
const PAGE_SIZE: u64 = 4096;
const TLB_ENTRIES: usize = 256;

/// Where the kernel put things at boot (KASLR makes all of these vary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct KernelLayout {
    /// `page_offset_base`: start of the direct map of all physical memory.
    pub page_offset: u64,
    /// `phys_base`: physical address the image was loaded at, minus its link address.
    pub phys_base: u64,
    /// Physical address of the kernel's top-level page table (`init_top_pgt`).
    pub kernel_pgt_phys: u64,
    pub paging: PagingMode,
    /// Bytes of direct map to trust without a walk (max physical address).
    pub direct_map_size: u64,
}

/// Kernel virtual memory, implementing [`VirtualMemory`].
pub struct KernelMemory<M> {
    phys: M,
    layout: KernelLayout,
    tlb: Mutex<Tlb>,
}

/// Direct-mapped cache of virtual page -> physical page for walked pages.
struct Tlb {
    tags: Vec<u64>,
    frames: Vec<u64>,
}

impl Tlb {
    fn new() -> Self {
        Tlb { tags: vec![u64::MAX; TLB_ENTRIES], frames: vec![0; TLB_ENTRIES] }
    }
    fn slot(vpage: u64) -> usize {
        ((vpage >> 12) as usize) % TLB_ENTRIES
    }
}

impl<M: PhysicalMemory> KernelMemory<M> {
    pub fn new(phys: M, layout: KernelLayout) -> Self {
        KernelMemory { phys, layout, tlb: Mutex::new(Tlb::new()) }
    }

    pub fn layout(&self) -> &KernelLayout {
        &self.layout
    }

    pub fn phys(&self) -> &M {
        &self.phys
    }

    /// Physical address of a kernel virtual address.
    pub fn virt_to_phys(&self, vaddr: u64) -> Result<u64> {
        if let Some(p) = self.linear_phys(vaddr) {
            return Ok(p);
        }
        let vpage = vaddr & !(PAGE_SIZE - 1);
        let slot = Tlb::slot(vpage);
        if let Ok(tlb) = self.tlb.lock() {
            if tlb.tags[slot] == vpage {
                return Ok(tlb.frames[slot] | (vaddr & (PAGE_SIZE - 1)));
            }
        }
        let t = paging::translate(&self.phys, self.layout.paging, self.layout.kernel_pgt_phys, vaddr)?;
        if let Ok(mut tlb) = self.tlb.lock() {
            tlb.tags[slot] = vpage;
            tlb.frames[slot] = t.paddr & !(PAGE_SIZE - 1);
        }
        Ok(t.paddr)
    }

    /// The page-table walk for `vaddr` with every level, for `vtop`.
    pub fn walk(&self, root_phys: u64, vaddr: u64) -> (Vec<TranslateStep>, Result<(u64, u64)>) {
        paging::walk_partial(&self.phys, self.layout.paging, root_phys, vaddr)
    }

    /// Translation that needs no page-table walk: the image and direct maps.
    fn linear_phys(&self, vaddr: u64) -> Option<u64> {
        if (START_KERNEL_MAP..START_KERNEL_MAP + KERNEL_IMAGE_SIZE).contains(&vaddr) {
            return Some((vaddr - START_KERNEL_MAP).wrapping_add(self.layout.phys_base));
        }
        let l = &self.layout;
        if vaddr >= l.page_offset && vaddr - l.page_offset < l.direct_map_size {
            return Some(vaddr - l.page_offset);
        }
        None
    }

    /// Direct-map virtual address of a physical address (`__va`).
    pub fn phys_to_virt(&self, paddr: u64) -> u64 {
        paddr.wrapping_add(self.layout.page_offset)
    }

    /// Reads user memory of a process whose page-table root is `pgd_phys`.
    pub fn read_user(&self, pgd_phys: u64, vaddr: u64, buf: &mut [u8]) -> Result<()> {
        self.read_paged(buf, vaddr, AddrSpace::UserVirtual, |va| {
            paging::translate(&self.phys, self.layout.paging, pgd_phys, va).map(|t| t.paddr)
        })
    }

    fn read_paged(
        &self,
        buf: &mut [u8],
        vaddr: u64,
        space: AddrSpace,
        translate: impl Fn(u64) -> Result<u64>,
    ) -> Result<()> {
        let mut done = 0usize;
        while done < buf.len() {
            let va = vaddr.wrapping_add(done as u64);
            let in_page = (PAGE_SIZE - (va & (PAGE_SIZE - 1))) as usize;
            let n = in_page.min(buf.len() - done);
            let pa = translate(va)?;
            self.phys.read_phys(pa, &mut buf[done..done + n]).map_err(|e| relabel_fault(e, va, space))?;
            done += n;
        }
        Ok(())
    }
}

/// A physical fault met while reading a virtual address is reported with
/// the virtual address the user asked for (and the physical one in the
/// reason), since that is the address they typed.
fn relabel_fault(err: Error, vaddr: u64, space: AddrSpace) -> Error {
    match err {
        Error::Fault { addr, space: AddrSpace::Physical, reason } => Error::Fault {
            addr: vaddr,
            space,
            reason: match reason {
                FaultReason::ExcludedFromDump | FaultReason::NotInDump | FaultReason::Truncated => reason,
                other => FaultReason::Corrupt(format!("physical {addr:#x}: {other}")),
            },
        },
        other => other,
    }
}

impl<M: PhysicalMemory> VirtualMemory for KernelMemory<M> {
    fn read_virt(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        self.read_paged(buf, addr, AddrSpace::KernelVirtual, |va| self.virt_to_phys(va))
    }
}
