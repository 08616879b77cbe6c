//! arm64 translation tables and the kernel's virtual address-space layout.
//!
//! A kernel is built for one granule (4, 16 or 64 KiB pages) and one
//! `VA_BITS`; a 52-bit kernel falls back to 48 bits at boot when the CPU
//! lacks LPA2 (4/16 KiB) or LVA (64 KiB), and VMCOREINFO's `TCR_EL1_T1SZ`
//! (64 - the bits in use) says which happened. The number of table levels
//! follows from the granule and the bits in use
//! (`ARM64_HW_PGTABLE_LEVELS`), so each (granule, VA_BITS, bits in use) is
//! one [`PageTableFormat`] and one [`AddressSpaceSpec`], chosen by
//! VMCOREINFO's `PAGESIZE`, `NUMBER(VA_BITS)` and `NUMBER(TCR_EL1_T1SZ)`.
//!
//! Region defaults are the 6.1 kernel's `asm/memory.h` formulas; every
//! region the kernel moves or resizes between versions (modules, vmalloc,
//! vmemmap) is overridden by the `NUMBER()` VMCOREINFO carries since 5.x,
//! the kernel image by `_text`/`_end` and `kimage_voffset`, the linear
//! map's physical base by `PHYS_OFFSET`.

// The tables below are computed at compile time from small constants.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use crate::addrspace::{AddressSpaceSpec, Extent, LayoutValue, LinearPhys, RegionKind, RegionSpec, Start};
use crate::paging::{
    AddressExtension, AddressHalves, BitField, BitTest, Level, LevelFormat, NotPresentFormat, PageTableFormat,
};

/// Entry flags in the order crash's arm64 `vtop` prints them.
const FLAG_NAMES: &[(u64, &str)] = &[
    (1 << 0, "VALID"),
    (1 << 6, "USER"),
    (1 << 7, "RDONLY"),
    (3 << 8, "SHARED"),
    (1 << 10, "AF"),
    (1 << 11, "NG"),
    (1 << 51, "WRITE"),
    (1 << 52, "CONT"),
    (1 << 53, "PXN"),
    (1 << 54, "UXN"),
    (1 << 55, "DIRTY"),
    (1 << 56, "SPECIAL"),
    (1 << 58, "PROT_NONE"),
];

/// Linux's not-present PTEs (6.1 `asm/pgtable.h`): a PROT_NONE page keeps
/// its frame with `PTE_PROT_NONE` (bit 58) instead of `PTE_VALID`; a swap
/// entry has its type in bits 3..7 and its offset in bits 8..57 (bit 2 is
/// the exclusive marker).
const NOT_PRESENT: NotPresentFormat = NotPresentFormat {
    prot_none: BitTest { mask: (1 << 58) | 1, value: 1 << 58 },
    prot_none_inverted: false,
    swap_type: BitField { shift: 3, bits: 5, inverted: false },
    swap_offset: BitField { shift: 8, bits: 50, inverted: false },
};

/// The Linux names of the levels a walk of `count` levels visits: the
/// top is always the PGD and the folded levels are the ones missing.
const fn level_names(count: usize) -> &'static [Level] {
    match count {
        2 => &[Level::Pgd, Level::Pte],
        3 => &[Level::Pgd, Level::Pmd, Level::Pte],
        4 => &[Level::Pgd, Level::Pud, Level::Pmd, Level::Pte],
        _ => &[Level::Pgd, Level::P4d, Level::Pud, Level::Pmd, Level::Pte],
    }
}

/// `ARM64_HW_PGTABLE_LEVELS(va_bits)`.
const fn level_count(page_shift: u32, va_bits: u32) -> usize {
    ((va_bits - 4) / (page_shift - 3)) as usize
}

/// The levels of a walk, top first: every table holds `page_shift - 3`
/// index bits except the top one, which holds what is left of `va_bits`.
/// Every level but the last may hold a block (`bits[1:0] == 0b01`).
const fn levels<const N: usize>(page_shift: u32, va_bits: u32) -> [LevelFormat; N] {
    let per_level = page_shift - 3;
    let names = level_names(N);
    let mut out = [LevelFormat { level: Level::Pte, shift: 0, bits: 0, large_pages: false }; N];
    let mut i = 0;
    while i < N {
        let from_bottom = (N - 1 - i) as u32;
        let shift = page_shift + from_bottom * per_level;
        let bits = if i == 0 { va_bits - shift } else { per_level };
        out[i] = LevelFormat { level: names[i], shift, bits, large_pages: i + 1 < N };
        i += 1;
    }
    out
}

/// Output-address bits 47..`page_shift` (48-bit physical addresses).
const fn address_bits(page_shift: u32, top_bit: u32) -> u64 {
    ((1u64 << (top_bit + 1)) - 1) & !((1u64 << page_shift) - 1)
}

/// How an entry holds physical address bits above 47.
#[derive(Clone, Copy)]
enum HighAddress {
    /// 48-bit physical addresses only.
    None,
    /// 64 KiB pages with 52-bit PAs (FEAT_LPA): PA[51:48] in bits 15:12,
    /// which are RES0 otherwise, so reading them is always right.
    Lpa,
    /// LPA2 (4/16 KiB pages, 52-bit VA): PA[49:48] in place, PA[51:50] in
    /// bits 9:8, where other formats keep shareability.
    Lpa2,
}

const fn format(
    name: &'static str,
    page_shift: u32,
    levels: &'static [LevelFormat],
    va_bits: u32,
    high: HighAddress,
) -> PageTableFormat {
    let (address_mask, address_extension) = match high {
        HighAddress::None => (address_bits(page_shift, 47), None),
        HighAddress::Lpa => {
            (address_bits(page_shift, 47), Some(AddressExtension { entry_shift: 12, bits: 4, pa_shift: 48 }))
        }
        HighAddress::Lpa2 => {
            (address_bits(page_shift, 49), Some(AddressExtension { entry_shift: 8, bits: 2, pa_shift: 50 }))
        }
    };
    PageTableFormat {
        name,
        levels,
        va_bits,
        halves: AddressHalves::SelectedByTopBit,
        // The kernel's root comes from `swapper_pg_dir`'s address; a
        // small top-level table is only 64-byte aligned.
        root_mask: address_bits(6, 51),
        address_mask,
        present: BitTest::set(0),
        // A block descriptor: bits[1:0] = 0b01 (0b11 is a table, or a
        // page at the last level).
        large: BitTest { mask: 0b11, value: 0b01 },
        writable: BitTest::clear(7),
        user: BitTest::set(6),
        no_execute: BitTest::set(53),
        accessed: BitTest::set(10),
        dirty: BitTest::set(55),
        global: BitTest::clear(11),
        flag_names: FLAG_NAMES,
        not_present: Some(NOT_PRESENT),
        address_extension,
    }
}

macro_rules! paging {
    ($(#[$doc:meta])* $name:ident, $text:expr, $page_shift:expr, $va_bits:expr, $high:expr) => {
        $(#[$doc])*
        pub static $name: PageTableFormat = format(
            $text,
            $page_shift,
            &levels::<{ level_count($page_shift, $va_bits) }>($page_shift, $va_bits),
            $va_bits,
            $high,
        );
    };
}

paging!(
    /// 4 KiB granule, 39-bit VA: 3 levels.
    PAGING_4K_39, "arm64 4K 39-bit", 12, 39, HighAddress::None
);
paging!(
    /// 4 KiB granule, 48-bit VA: 4 levels (Debian's arm64 6.1 kernels).
    PAGING_4K_48, "arm64 4K 48-bit", 12, 48, HighAddress::None
);
paging!(
    /// 4 KiB granule, 52-bit VA with LPA2: 5 levels (Debian's 6.12 on a CPU with LPA2).
    PAGING_4K_52, "arm64 4K 52-bit (LPA2)", 12, 52, HighAddress::Lpa2
);
paging!(
    /// 16 KiB granule, 36-bit VA: 2 levels.
    PAGING_16K_36, "arm64 16K 36-bit", 14, 36, HighAddress::None
);
paging!(
    /// 16 KiB granule, 47-bit VA: 3 levels.
    PAGING_16K_47, "arm64 16K 47-bit", 14, 47, HighAddress::None
);
paging!(
    /// 16 KiB granule, 48-bit VA: 4 levels, a 2-entry top table.
    PAGING_16K_48, "arm64 16K 48-bit", 14, 48, HighAddress::None
);
paging!(
    /// 16 KiB granule, 52-bit VA with LPA2: 4 levels.
    PAGING_16K_52, "arm64 16K 52-bit (LPA2)", 14, 52, HighAddress::Lpa2
);
paging!(
    /// 64 KiB granule, 42-bit VA: 2 levels.
    PAGING_64K_42, "arm64 64K 42-bit", 16, 42, HighAddress::Lpa
);
paging!(
    /// 64 KiB granule, 48-bit VA: 3 levels.
    PAGING_64K_48, "arm64 64K 48-bit", 16, 48, HighAddress::Lpa
);
paging!(
    /// 64 KiB granule, 52-bit VA (LVA): 3 levels, a 1024-entry top table.
    PAGING_64K_52, "arm64 64K 52-bit", 16, 52, HighAddress::Lpa
);

const MIB: u64 = 1 << 20;
/// `MODULES_VSIZE` of 5.13 to 6.4 (2 GiB since); VMCOREINFO has the real range.
const MODULES_VSIZE: u64 = 128 * MIB;
/// Room for the kernel image when `_end` is unknown: Debian's arm64
/// images with their BSS are about 40 MiB.
const KERNEL_IMAGE_DEFAULT_SIZE: u64 = 64 * MIB;
/// `STRUCT_PAGE_MAX_SHIFT`: `struct page` is at most 64 bytes.
const STRUCT_PAGE_MAX_SHIFT: u32 = 6;

/// One region whose start and end VMCOREINFO states (`NUMBER(name)`),
/// with the compile-time defaults.
const fn stated(kind: RegionKind, start: u64, end: u64, start_key: &'static str, end_key: &'static str) -> RegionSpec {
    RegionSpec {
        kind,
        start: Start::At(start),
        extent: Extent::UpTo { value: LayoutValue::VmcoreinfoNumber(end_key), default_size: end.wrapping_sub(start) },
        start_from: Some(LayoutValue::VmcoreinfoNumber(start_key)),
        size_from: None,
        phys: None,
    }
}

/// The kernel's regions for a `va_bits` kernel (the configured bits, not
/// those in use: the layout is fixed at build time) using `in_use` bits
/// of user space, in resolution order: the image first, since KASLR puts
/// it inside the vmalloc area and [`crate::VirtualLayout::region_of`]
/// takes the first region holding an address.
const fn regions(page_shift: u32, va_bits: u32, in_use: u32) -> [RegionSpec; 7] {
    let page_offset = u64::MAX << va_bits;
    let va_bits_min = if va_bits > 48 { 48 } else { va_bits };
    let page_end = u64::MAX << (va_bits_min - 1);
    let modules_end = page_end + MODULES_VSIZE;
    let vmemmap_shift = page_shift - STRUCT_PAGE_MAX_SHIFT;
    let vmemmap_start = u64::MAX << (va_bits - vmemmap_shift);
    let vmemmap_end = vmemmap_start + ((page_end - page_offset) >> vmemmap_shift);
    let vmalloc_end = vmemmap_start - 256 * MIB;
    [
        RegionSpec {
            kind: RegionKind::KernelImage,
            // _text is linked at KIMAGE_VADDR (MODULES_END) and KASLR
            // moves it by KERNELOFFSET; the symbol, where known, decides.
            start: Start::Slid {
                base: modules_end,
                base_from: Some(LayoutValue::VmcoreinfoNumber("MODULES_END")),
                slide: LayoutValue::VmcoreinfoNumber("KERNELOFFSET"),
            },
            extent: Extent::UpTo { value: LayoutValue::Symbol("_end"), default_size: KERNEL_IMAGE_DEFAULT_SIZE },
            start_from: Some(LayoutValue::Symbol("_text")),
            size_from: None,
            phys: Some(LinearPhys::StartMinus(LayoutValue::VmcoreinfoNumber("kimage_voffset"))),
        },
        stated(RegionKind::Modules, page_end, modules_end, "MODULES_VADDR", "MODULES_END"),
        stated(RegionKind::Vmalloc, modules_end, vmalloc_end, "VMALLOC_START", "VMALLOC_END"),
        stated(RegionKind::Vmemmap, vmemmap_start, vmemmap_end, "VMEMMAP_START", "VMEMMAP_END"),
        // The fixmap and the PCI I/O window, between vmalloc and vmemmap.
        RegionSpec {
            kind: RegionKind::Fixmap,
            start: Start::EndOf(RegionKind::Vmalloc),
            extent: Extent::EndAt(vmemmap_start),
            start_from: None,
            size_from: None,
            phys: None,
        },
        // `__lm_to_phys(addr) = (addr & ~PAGE_OFFSET) + PHYS_OFFSET`.
        RegionSpec {
            kind: RegionKind::DirectMap,
            start: Start::At(page_offset),
            extent: Extent::Size(page_end - page_offset),
            start_from: None,
            size_from: None,
            phys: Some(LinearPhys::At { default: 0, value: Some(LayoutValue::VmcoreinfoNumber("PHYS_OFFSET")) }),
        },
        RegionSpec {
            kind: RegionKind::User,
            start: Start::At(0),
            extent: Extent::Size(1 << in_use),
            start_from: None,
            size_from: None,
            phys: None,
        },
    ]
}

/// Where the kernel's top-level table is.
const KERNEL_ROOT_SYMBOLS: &[&str] = &["swapper_pg_dir"];

macro_rules! address_space {
    ($(#[$doc:meta])* $name:ident, $text:expr, $paging:expr, $page_shift:expr, $va_bits:expr, $in_use:expr, $when:expr) => {
        $(#[$doc])*
        pub static $name: AddressSpaceSpec = AddressSpaceSpec {
            name: $text,
            paging: &$paging,
            when: $when,
            kernel_root_symbols: KERNEL_ROOT_SYMBOLS,
            regions: &regions($page_shift, $va_bits, $in_use),
        };
    };
}

const fn page_size(shift: u32) -> (LayoutValue, u64) {
    (LayoutValue::PageSize, 1 << shift)
}
const fn va_bits(bits: u64) -> (LayoutValue, u64) {
    (LayoutValue::VmcoreinfoNumber("VA_BITS"), bits)
}
const fn bits_in_use(bits: u64) -> (LayoutValue, u64) {
    (LayoutValue::VmcoreinfoNumber("TCR_EL1_T1SZ"), 64 - bits)
}

address_space!(
    SPACE_4K_52,
    "arm64 4K 52-bit",
    PAGING_4K_52,
    12,
    52,
    52,
    &[page_size(12), va_bits(52), bits_in_use(52)]
);
address_space!(
    /// A 52-bit 4 KiB kernel on a CPU without LPA2: 48 bits in use.
    SPACE_4K_52_ON_48, "arm64 4K 52-bit kernel, 48 bits in use", PAGING_4K_48, 12, 52, 48,
    &[page_size(12), va_bits(52), bits_in_use(48)]
);
address_space!(SPACE_4K_48, "arm64 4K 48-bit", PAGING_4K_48, 12, 48, 48, &[page_size(12), va_bits(48)]);
address_space!(SPACE_4K_39, "arm64 4K 39-bit", PAGING_4K_39, 12, 39, 39, &[page_size(12), va_bits(39)]);
address_space!(
    SPACE_16K_52,
    "arm64 16K 52-bit",
    PAGING_16K_52,
    14,
    52,
    52,
    &[page_size(14), va_bits(52), bits_in_use(52)]
);
address_space!(
    /// A 52-bit 16 KiB kernel on a CPU without LPA2.
    SPACE_16K_52_ON_48, "arm64 16K 52-bit kernel, 48 bits in use", PAGING_16K_48, 14, 52, 48,
    &[page_size(14), va_bits(52), bits_in_use(48)]
);
address_space!(SPACE_16K_48, "arm64 16K 48-bit", PAGING_16K_48, 14, 48, 48, &[page_size(14), va_bits(48)]);
address_space!(SPACE_16K_47, "arm64 16K 47-bit", PAGING_16K_47, 14, 47, 47, &[page_size(14), va_bits(47)]);
address_space!(SPACE_16K_36, "arm64 16K 36-bit", PAGING_16K_36, 14, 36, 36, &[page_size(14), va_bits(36)]);
address_space!(
    SPACE_64K_52,
    "arm64 64K 52-bit",
    PAGING_64K_52,
    16,
    52,
    52,
    &[page_size(16), va_bits(52), bits_in_use(52)]
);
address_space!(
    /// A 52-bit 64 KiB kernel on a CPU without LVA.
    SPACE_64K_52_ON_48, "arm64 64K 52-bit kernel, 48 bits in use", PAGING_64K_48, 16, 52, 48,
    &[page_size(16), va_bits(52), bits_in_use(48)]
);
address_space!(SPACE_64K_48, "arm64 64K 48-bit", PAGING_64K_48, 16, 48, 48, &[page_size(16), va_bits(48)]);
address_space!(SPACE_64K_42, "arm64 64K 42-bit", PAGING_64K_42, 16, 42, 42, &[page_size(16), va_bits(42)]);
address_space!(
    /// Without VMCOREINFO: the most common configuration (4 KiB, 48-bit).
    SPACE_DEFAULT, "arm64 4K 48-bit (assumed: no VMCOREINFO)", PAGING_4K_48, 12, 48, 48, &[]
);

/// Every layout, most specific first; the unconditional default last.
pub static ADDRESS_SPACES: &[&AddressSpaceSpec] = &[
    &SPACE_4K_52,
    &SPACE_4K_52_ON_48,
    &SPACE_4K_48,
    &SPACE_4K_39,
    &SPACE_16K_52,
    &SPACE_16K_52_ON_48,
    &SPACE_16K_48,
    &SPACE_16K_47,
    &SPACE_16K_36,
    &SPACE_64K_52,
    &SPACE_64K_52_ON_48,
    &SPACE_64K_48,
    &SPACE_64K_42,
    &SPACE_DEFAULT,
];
