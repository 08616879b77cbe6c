//! The kernel's virtual address-space layout as data: which region
//! (direct map, kernel image, vmalloc, vmemmap, modules, fixmap, ...)
//! starts where, for each paging mode. Defaults are the kernel's
//! compile-time values; KASLR and boot-time choices move some of them,
//! and the kernel records the moved values in variables
//! (`page_offset_base`) or VMCOREINFO (`NUMBER(KERNEL_IMAGE_SIZE)`). A
//! [`RegionSpec`] names where its override lives ([`LayoutValue`]); the
//! caller, which has the symbols and the dump, answers those questions and
//! [`AddressSpaceSpec::resolve`] produces the [`VirtualLayout`].

use crate::paging::PageTableFormat;

/// A kind of kernel virtual-memory region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RegionKind {
    /// User space (the lower canonical half).
    User,
    /// The linear map of all physical memory (`PAGE_OFFSET`, `__va`).
    DirectMap,
    /// vmalloc and ioremap space.
    Vmalloc,
    /// The virtual memory map: the `struct page` array.
    Vmemmap,
    /// The kernel image (`__START_KERNEL_map` on x86-64).
    KernelImage,
    /// Module code and data.
    Modules,
    /// Compile-time fixed mappings (and the vsyscall page on x86-64).
    Fixmap,
    /// x86-64's per-CPU entry area (entry stacks, IST stacks, GDT).
    CpuEntryArea,
}

impl RegionKind {
    /// A short human name.
    pub fn name(self) -> &'static str {
        match self {
            RegionKind::User => "user",
            RegionKind::DirectMap => "direct map",
            RegionKind::Vmalloc => "vmalloc",
            RegionKind::Vmemmap => "vmemmap",
            RegionKind::KernelImage => "kernel image",
            RegionKind::Modules => "modules",
            RegionKind::Fixmap => "fixmap",
            RegionKind::CpuEntryArea => "cpu entry area",
        }
    }
}

/// A value the layout depends on that only the running kernel knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LayoutValue {
    /// The `unsigned long` value of a kernel variable (`page_offset_base`).
    Variable(&'static str),
    /// VMCOREINFO's `NUMBER(name)` (or a bare key such as `KERNELOFFSET`).
    /// The kernel writes these signed (`phys_base` may be negative): answer
    /// with the two's-complement `u64`.
    VmcoreinfoNumber(&'static str),
    /// One past the highest physical address of RAM.
    PhysicalEnd,
    /// The address of a kernel symbol (`_text`), from VMCOREINFO's
    /// `SYMBOL()` or the symbol table, KASLR applied.
    Symbol(&'static str),
    /// The kernel's base page size (VMCOREINFO's `PAGESIZE`).
    PageSize,
}

/// Where a region starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    At(u64),
    /// Where another (earlier resolved) region ends.
    EndOf(RegionKind),
    /// A link-time address (what `base_from` answers, else `base`) moved
    /// by what `slide` answers (KASLR's `KERNELOFFSET`): where a
    /// randomized image starts when no symbol says so (no vmlinux).
    Slid {
        base: u64,
        base_from: Option<LayoutValue>,
        slide: LayoutValue,
    },
}

/// How far a region extends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    Size(u64),
    /// Up to (not including) a fixed address.
    EndAt(u64),
    /// Up to (not including) the address `value` answers (`_end`), or
    /// `default_size` bytes when nobody can.
    UpTo {
        value: LayoutValue,
        default_size: u64,
    },
}

/// The physical address a linearly mapped region's start maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinearPhys {
    /// `value` when the caller knows it (x86-64's `phys_base`, arm64's
    /// `PHYS_OFFSET`), else `default`.
    At { default: u64, value: Option<LayoutValue> },
    /// The region's start minus `offset` (arm64's kernel image:
    /// `__kimg_to_phys(addr) = addr - kimage_voffset`).
    StartMinus(LayoutValue),
}

/// One region's defaults and overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionSpec {
    pub kind: RegionKind,
    pub start: Start,
    pub extent: Extent,
    /// Replaces the start when the caller knows it.
    pub start_from: Option<LayoutValue>,
    /// Replaces the size when the caller knows it.
    pub size_from: Option<LayoutValue>,
    /// For a linearly mapped region, the physical address its start maps
    /// (`phys_base` for the x86-64 image, 0 for its direct map).
    pub phys: Option<LinearPhys>,
}

/// The layout rules of one paging mode.
#[derive(Debug)]
pub struct AddressSpaceSpec {
    /// For messages: `"x86-64 4-level"`.
    pub name: &'static str,
    pub paging: &'static PageTableFormat,
    /// This mode applies when every (value, expected) pair holds; the first
    /// spec whose conditions hold is the one in use.
    pub when: &'static [(LayoutValue, u64)],
    /// Symbols (tried in order) whose address, in the kernel image, is the
    /// kernel's top-level page table.
    pub kernel_root_symbols: &'static [&'static str],
    /// In resolution order ([`Start::EndOf`] refers to earlier ones).
    pub regions: &'static [RegionSpec],
}

/// A resolved region `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Region {
    pub kind: RegionKind,
    pub start: u64,
    pub end: u64,
    /// Physical address of `start` for a linear region.
    pub phys: Option<u64>,
}

impl Region {
    pub fn contains(&self, addr: u64) -> bool {
        (self.start..self.end).contains(&addr)
    }

    /// Physical address of `vaddr` in a linear region.
    pub fn linear_phys(&self, vaddr: u64) -> Option<u64> {
        let phys = self.phys?;
        self.contains(vaddr).then(|| vaddr.wrapping_sub(self.start).wrapping_add(phys))
    }
}

/// The kernel's address-space layout as resolved for one dump.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VirtualLayout {
    /// Which spec it came from.
    pub name: &'static str,
    #[serde(skip)]
    pub paging: &'static PageTableFormat,
    pub regions: Vec<Region>,
}

impl AddressSpaceSpec {
    /// True when this mode's conditions hold for `lookup`.
    pub fn applies(&self, lookup: &dyn Fn(LayoutValue) -> Option<u64>) -> bool {
        self.when.iter().all(|&(value, expected)| lookup(value) == Some(expected))
    }

    /// The layout with every override `lookup` can answer applied.
    pub fn resolve(&'static self, lookup: &dyn Fn(LayoutValue) -> Option<u64>) -> VirtualLayout {
        let mut regions: Vec<Region> = Vec::with_capacity(self.regions.len());
        for spec in self.regions {
            let default_start = match spec.start {
                Start::At(a) => Some(a),
                Start::EndOf(kind) => regions.iter().find(|r| r.kind == kind).map(|r| r.end),
                Start::Slid { base, base_from, slide } => {
                    let base = base_from.and_then(lookup).unwrap_or(base);
                    Some(lookup(slide).map_or(base, |by| base.wrapping_add(by)))
                }
            };
            let Some(start) = spec.start_from.and_then(lookup).or(default_start) else { continue };
            let size = match spec.extent {
                Extent::Size(s) => s,
                Extent::EndAt(end) => end.saturating_sub(start),
                Extent::UpTo { value, default_size } => {
                    lookup(value).map_or(default_size, |end| end.saturating_sub(start))
                }
            };
            let size = spec.size_from.and_then(lookup).unwrap_or(size);
            let phys = match spec.phys {
                None => None,
                Some(LinearPhys::At { default, value }) => Some(value.and_then(lookup).unwrap_or(default)),
                Some(LinearPhys::StartMinus(offset)) => {
                    let Some(offset) = lookup(offset) else { continue };
                    Some(start.wrapping_sub(offset))
                }
            };
            regions.push(Region { kind: spec.kind, start, end: start.saturating_add(size), phys });
        }
        VirtualLayout { name: self.name, paging: self.paging, regions }
    }
}

impl VirtualLayout {
    /// The region of `kind`, if the layout has one.
    pub fn region(&self, kind: RegionKind) -> Option<&Region> {
        self.regions.iter().find(|r| r.kind == kind)
    }

    /// The region holding `addr`.
    pub fn region_of(&self, addr: u64) -> Option<&Region> {
        self.regions.iter().find(|r| r.contains(addr))
    }

    /// Physical address of `vaddr` when a linear region (image, direct
    /// map) holds it: no page-table walk needed.
    pub fn linear_phys(&self, vaddr: u64) -> Option<u64> {
        self.regions.iter().find_map(|r| r.linear_phys(vaddr))
    }

    /// The direct-map address of `paddr` (`__va`).
    pub fn direct_map_virt(&self, paddr: u64) -> Option<u64> {
        let map = self.region(RegionKind::DirectMap)?;
        map.start.checked_add(paddr.checked_sub(map.phys?)?)
    }

    /// True when `addr` is canonical for the paging mode.
    pub fn is_canonical(&self, addr: u64) -> bool {
        self.paging.is_canonical(addr)
    }
}
