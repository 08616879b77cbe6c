//! The kernel's virtual address space over a dump's physical memory: the
//! kernel-image mapping and the direct map are linear (no page-table walk
//! needed, which keeps `ps`/`log` fast), everything else (modules, vmalloc,
//! vmemmap, per-cpu areas, user space) goes through the page tables, with a
//! small cache of recent page translations.

use std::sync::Mutex;

use krash_arch::{PageTableFormat, RegionKind, TranslateStep, VirtualLayout};
use krash_core::{AddrSpace, Error, FaultReason, PhysicalMemory, Result, VirtualMemory};

const TLB_ENTRIES: usize = 256;

/// Where the kernel put things at boot (KASLR makes the bases vary): the
/// architecture's address-space layout resolved for this kernel, and the
/// kernel's page-table root.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KernelLayout {
    /// The regions (direct map at `page_offset_base`, the kernel image
    /// at `phys_base`, ...) and the paging format in use. The direct map
    /// spans the dump's physical memory: bytes to trust without a walk.
    pub virt: VirtualLayout,
    /// Physical address of the kernel's top-level page table (`init_top_pgt`).
    pub kernel_pgt_phys: u64,
}

impl KernelLayout {
    /// The page-table format in use.
    pub fn paging(&self) -> &'static PageTableFormat {
        self.virt.paging
    }

    /// Start of the direct map of all physical memory (`page_offset_base`).
    /// It maps the physical address [`Self::linear_phys_base`], which is 0
    /// on x86-64 but `PHYS_OFFSET` (where RAM starts) on arm64: convert
    /// with [`KernelMemory::phys_to_virt`], not by adding this.
    pub fn page_offset(&self) -> u64 {
        self.virt.region(RegionKind::DirectMap).map_or(0, |r| r.start)
    }

    /// The physical address the direct map's start maps (x86-64: 0;
    /// arm64: `PHYS_OFFSET`).
    pub fn linear_phys_base(&self) -> u64 {
        self.virt.region(RegionKind::DirectMap).and_then(|r| r.phys).unwrap_or(0)
    }
}

/// Kernel virtual memory, implementing [`VirtualMemory`].
pub struct KernelMemory<M> {
    phys: M,
    layout: KernelLayout,
    /// The base page size (TLB tags, page-at-a-time reads).
    page_size: u64,
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
    fn slot(vpage: u64, page_shift: u32) -> usize {
        ((vpage >> page_shift) as usize) % TLB_ENTRIES
    }
}

impl<M: PhysicalMemory> KernelMemory<M> {
    pub fn new(phys: M, layout: KernelLayout) -> Self {
        let page_size = layout.paging().base_page_size();
        KernelMemory { phys, layout, page_size, tlb: Mutex::new(Tlb::new()) }
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
        self.in_kernel_half(vaddr)?;
        let page_mask = self.page_size - 1;
        let vpage = vaddr & !page_mask;
        let slot = Tlb::slot(vpage, self.page_size.trailing_zeros());
        if let Ok(tlb) = self.tlb.lock() {
            if tlb.tags[slot] == vpage {
                return Ok(tlb.frames[slot] | (vaddr & page_mask));
            }
        }
        let t = self.layout.paging().translate(&self.phys, self.layout.kernel_pgt_phys, vaddr)?;
        if let Ok(mut tlb) = self.tlb.lock() {
            tlb.tags[slot] = vpage;
            tlb.frames[slot] = t.paddr & !page_mask;
        }
        Ok(t.paddr)
    }

    /// The page-table walk for `vaddr` with every level, for `vtop`.
    pub fn walk(&self, root_phys: u64, vaddr: u64) -> (Vec<TranslateStep>, Result<(u64, u64)>) {
        if root_phys == self.layout.kernel_pgt_phys {
            if let Err(e) = self.in_kernel_half(vaddr) {
                return (Vec::new(), Err(e));
            }
        }
        self.layout.paging().walk(&self.phys, root_phys, vaddr)
    }

    /// The kernel's page tables translate only kernel-half addresses. On
    /// arm64 the kernel's root (TTBR1) is indexed by the low bits alone, so
    /// walking it for a user address such as 0 would answer from whatever
    /// kernel page shares those bits; x86-64's root holds no user half
    /// once booted. Either way a low address is not a kernel mapping.
    fn in_kernel_half(&self, vaddr: u64) -> Result<()> {
        match self.layout.paging().space_of(vaddr) {
            AddrSpace::KernelVirtual => Ok(()),
            space => Err(Error::fault(vaddr, space, FaultReason::NotMapped)),
        }
    }

    /// Translation that needs no page-table walk: the image and direct maps.
    fn linear_phys(&self, vaddr: u64) -> Option<u64> {
        self.layout.virt.linear_phys(vaddr)
    }

    /// Direct-map virtual address of a physical address (`__va`:
    /// `paddr - PHYS_OFFSET + PAGE_OFFSET`), computed as the kernel and
    /// crash's `ptov` do, whether or not RAM is there.
    pub fn phys_to_virt(&self, paddr: u64) -> u64 {
        paddr.wrapping_sub(self.layout.linear_phys_base()).wrapping_add(self.layout.page_offset())
    }

    /// The base page size.
    pub fn page_size(&self) -> u64 {
        self.page_size
    }

    /// Reads user memory of a process whose page-table root is `pgd_phys`.
    pub fn read_user(&self, pgd_phys: u64, vaddr: u64, buf: &mut [u8]) -> Result<()> {
        self.read_paged(buf, vaddr, AddrSpace::UserVirtual, |va| {
            self.layout.paging().translate(&self.phys, pgd_phys, va).map(|t| t.paddr)
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
            let in_page = (self.page_size - (va & (self.page_size - 1))) as usize;
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

#[cfg(test)]
mod tests {
    use super::*;
    use krash_arch::LayoutValue;
    use krash_core::PhysRange;

    struct NoMemory;
    impl PhysicalMemory for NoMemory {
        fn read_phys(&self, paddr: u64, _: &mut [u8]) -> Result<()> {
            Err(Error::fault(paddr, AddrSpace::Physical, FaultReason::NotInDump))
        }
        fn phys_ranges(&self) -> Vec<PhysRange> {
            Vec::new()
        }
    }

    #[test]
    fn the_arm64_direct_map_starts_at_phys_offset() {
        let lookup = |v: LayoutValue| match v {
            LayoutValue::VmcoreinfoNumber("PHYS_OFFSET") => Some(0x4000_0000),
            LayoutValue::VmcoreinfoNumber("kimage_voffset") => Some(0xffff_b1f7_f020_0000 - 0x4020_0000),
            LayoutValue::Symbol("_text") => Some(0xffff_b1f8_3040_0000),
            _ => None,
        };
        let virt = krash_arch::arm64::SPACE_4K_48.resolve(&lookup);
        let mem = KernelMemory::new(NoMemory, KernelLayout { virt, kernel_pgt_phys: 0 });
        assert_eq!(mem.layout().page_offset(), 0xffff_0000_0000_0000);
        assert_eq!(mem.layout().linear_phys_base(), 0x4000_0000);
        assert_eq!(mem.phys_to_virt(0x41a1_3b38), 0xffff_0000_01a1_3b38);
        assert_eq!(mem.virt_to_phys(0xffff_0000_01a1_3b38).unwrap(), 0x41a1_3b38);
        // Below RAM, as crash's ptov computes it.
        assert_eq!(mem.phys_to_virt(0x100_0000), 0xfffe_ffff_c100_0000);
    }
}
