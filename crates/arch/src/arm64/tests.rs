//! The arm64 tables against the kernel's own definitions: the PRSTATUS and
//! `pt_regs` layouts, the level geometry of every granule and VA size
//! (`ARM64_HW_PGTABLE_LEVELS`, `PGDIR_SHIFT`, `PTRS_PER_PGD`), walks of
//! synthetic tables (pages, blocks, LPA2 addresses), the layout chosen
//! from VMCOREINFO, and pointer-authentication stripping.

use std::collections::HashMap;

use krash_core::{AddrSpace, Error, FaultReason, PhysRange, PhysicalMemory, Result};

use super::*;
use crate::paging::{Level, PageTableFormat};
use crate::{for_machine, LayoutValue, RegionKind, RegisterId};

#[test]
fn prstatus_is_user_pt_regs_at_112() {
    // 392 bytes: the header, 34 words of pr_reg, pr_fpvalid and padding.
    let mut note = vec![0u8; 392];
    note[32..36].copy_from_slice(&1234u32.to_le_bytes());
    for i in 0..34u64 {
        let at = 112 + 8 * i as usize;
        note[at..at + 8].copy_from_slice(&(0xffff_8000_0000_0000 + i).to_le_bytes());
    }
    let arch = for_machine(Machine::Aarch64).unwrap();
    let regs = arch.cpu_registers(Some(&note), None).unwrap().unwrap();
    let p = arch.prstatus.parse(&note).unwrap();
    assert_eq!(p.pid, 1234);
    assert_eq!(regs.by_name("x0"), Some(0xffff_8000_0000_0000));
    assert_eq!(regs.by_name("x29"), Some(0xffff_8000_0000_001d));
    assert_eq!(regs.by_name("x30"), Some(0xffff_8000_0000_001e));
    assert_eq!(regs.by_name("sp"), Some(0xffff_8000_0000_001f));
    assert_eq!(regs.by_name("pc"), Some(0xffff_8000_0000_0020));
    assert_eq!(regs.by_name("pstate"), Some(0xffff_8000_0000_0021));
    // orig_x0 is pt_regs's, not pr_reg's.
    assert_eq!(regs.by_name("orig_x0"), None);
    assert!(arch.prstatus.parse(&note[..300]).is_err());
}

#[test]
fn registers_have_aapcs64_roles_and_dwarf_numbers() {
    use crate::registers::RegisterRole as Role;
    let set = &REGISTERS;
    assert_eq!(set.with_role(Role::ProgramCounter), Some(PC));
    assert_eq!(set.with_role(Role::StackPointer), Some(SP));
    assert_eq!(set.with_role(Role::FramePointer), Some(X29));
    assert_eq!(set.with_role(Role::ReturnAddress), Some(X30));
    assert_eq!(set.arguments(), (0..8).map(RegisterId).collect::<Vec<_>>());
    assert_eq!(set.by_dwarf(31), Some(SP));
    assert_eq!(set.by_dwarf(30), Some(LR));
    assert_eq!(set.id("X19"), Some(X19));
}

#[test]
fn pt_regs_pstate_tells_el1_from_el0() {
    let mut regs = ARM64.new_registers();
    regs.set_value(PSTATE, 0x6040_0005); // EL1h, flags set
    regs.set_value(PC, 0xffff_8000_0810_0000);
    regs.set_value(SP, 0xffff_8000_0a00_3d00);
    assert!(PT_REGS.is_plausible_kernel_frame(&regs));
    assert!(!PT_REGS.is_user_mode(&regs));
    regs.set_value(PSTATE, 0x8000_0000); // EL0t, N set
    regs.set_value(PC, 0xaaaa_0000_1234);
    regs.set_value(SP, 0xffff_ffff_e000);
    assert!(PT_REGS.is_user_mode(&regs));
    assert!(PT_REGS.is_plausible_user_frame(&regs));
    assert!(!PT_REGS.is_plausible_kernel_frame(&regs));
    regs.set_value(PSTATE, 0xdead_beef_0000_0005); // RES0 bits set: not a pstate
    assert!(!PT_REGS.is_plausible_kernel_frame(&regs));
}

/// (format, levels' shifts top first, top table's index bits).
fn geometry() -> Vec<(&'static PageTableFormat, Vec<u32>, u32)> {
    vec![
        (&PAGING_4K_39, vec![30, 21, 12], 9),
        (&PAGING_4K_48, vec![39, 30, 21, 12], 9),
        (&PAGING_4K_52, vec![48, 39, 30, 21, 12], 4),
        (&PAGING_16K_36, vec![25, 14], 11),
        (&PAGING_16K_47, vec![36, 25, 14], 11),
        (&PAGING_16K_48, vec![47, 36, 25, 14], 1),
        (&PAGING_16K_52, vec![47, 36, 25, 14], 5),
        (&PAGING_64K_42, vec![29, 16], 13),
        (&PAGING_64K_48, vec![42, 29, 16], 6),
        (&PAGING_64K_52, vec![42, 29, 16], 10),
    ]
}

#[test]
fn level_geometry_is_the_kernels() {
    for (format, shifts, top_bits) in geometry() {
        let got: Vec<u32> = format.levels.iter().map(|l| l.shift).collect();
        assert_eq!(got, shifts, "{}", format.name);
        assert_eq!(format.levels[0].bits, top_bits, "{}", format.name);
        assert_eq!(format.levels[0].level, Level::Pgd, "{}", format.name);
        assert_eq!(format.levels.last().unwrap().level, Level::Pte, "{}", format.name);
        let inner = format.page_shift() - 3;
        assert!(format.levels[1..].iter().all(|l| l.bits == inner), "{}", format.name);
        // The top table's index ends at the VA size.
        assert_eq!(format.levels[0].shift + top_bits, format.va_bits, "{}", format.name);
    }
    assert_eq!(PAGING_4K_48.page_sizes(), vec![1 << 12, 1 << 21, 1 << 30, 1 << 39]);
    assert_eq!(PAGING_64K_48.base_page_size(), 1 << 16);
}

/// Sparse physical memory of 4 KiB pages.
#[derive(Default)]
struct Pages(HashMap<u64, Vec<u8>>);

impl Pages {
    fn set(&mut self, table: u64, index: u64, entry: u64) {
        let at = table + index * 8;
        let page = self.0.entry(at & !0xfff).or_insert_with(|| vec![0; 4096]);
        let off = (at & 0xfff) as usize;
        page[off..off + 8].copy_from_slice(&entry.to_le_bytes());
    }
}

impl PhysicalMemory for Pages {
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<()> {
        let fault = || Error::fault(paddr, AddrSpace::Physical, FaultReason::NotInDump);
        let page = self.0.get(&(paddr & !0xfff)).ok_or_else(fault)?;
        let at = (paddr & 0xfff) as usize;
        buf.copy_from_slice(page.get(at..at + buf.len()).ok_or_else(fault)?);
        Ok(())
    }
    fn phys_ranges(&self) -> Vec<PhysRange> {
        Vec::new()
    }
}

const TABLE: u64 = 0b11;
/// A kernel page: VALID | PAGE | AF | SHARED | PXN/UXN clear.
const PAGE_DESC: u64 = 0b11 | (1 << 10) | (3 << 8);
const BLOCK_DESC: u64 = 0b01 | (1 << 10);

#[test]
fn walks_4k_48_pages_and_blocks() {
    let f = &PAGING_4K_48;
    let va = 0xffff_0000_1234_5678u64;
    let mut m = Pages::default();
    let root = 0x4000_0000;
    m.set(root, f.levels[0].index(va), 0x4000_1000 | TABLE);
    m.set(0x4000_1000, f.levels[1].index(va), 0x4000_2000 | TABLE);
    m.set(0x4000_2000, f.levels[2].index(va), 0x4000_3000 | TABLE);
    m.set(0x4000_3000, f.levels[3].index(va), 0x8765_4000 | PAGE_DESC | (1 << 53));
    let t = f.translate(&m, root, va).unwrap();
    assert_eq!(t.paddr, 0x8765_4678);
    assert_eq!(t.page_size, 4096);
    let levels: Vec<Level> = t.steps.iter().map(|s| s.level).collect();
    assert_eq!(levels, vec![Level::Pgd, Level::Pud, Level::Pmd, Level::Pte]);
    assert_eq!(f.flag_names(t.steps[3].entry.0), vec!["VALID", "SHARED", "AF", "PXN"]);

    // A 2 MiB block at the PMD.
    let vb = 0xffff_0000_4020_0000u64 + 0x1234;
    m.set(root, f.levels[0].index(vb), 0x4000_1000 | TABLE);
    m.set(0x4000_1000, f.levels[1].index(vb), 0x4000_2000 | TABLE);
    m.set(0x4000_2000, f.levels[2].index(vb), 0x9000_0000 | BLOCK_DESC);
    let t = f.translate(&m, root, vb).unwrap();
    assert_eq!((t.paddr, t.page_size), (0x9000_1234, 2 << 20));

    // An invalid entry stops the walk as not mapped, with the steps read.
    let vx = 0xffff_0000_8000_0000u64;
    let (steps, r) = f.walk(&m, root, vx);
    assert_eq!(steps.len(), 2);
    assert!(matches!(r, Err(Error::Fault { reason: FaultReason::NotMapped, .. })), "{r:?}");
    // Not sign-extended from bit 47: non-canonical.
    assert!(f.translate(&m, root, 0xff00_0000_0000_0000).is_err());

    // The kernel's (TTBR1) tree lists its extents at upper-half addresses,
    // below bit 47 (the linear map) as above it.
    let all = f.mapped_extents(&m, root, 0xffff_0000_0000_0000, u64::MAX, Default::default());
    assert!(all.complete);
    let found: Vec<(u64, u64, u64)> = all.extents.iter().map(|e| (e.vaddr, e.paddr, e.len)).collect();
    // Both PUD slots point at one PMD table, so each mapping appears twice.
    let expected = [
        (0xffff_0000_0020_0000, 0x9000_0000, 2 << 20),
        (0xffff_0000_1234_5000, 0x8765_4000, 4096),
        (0xffff_0000_4020_0000, 0x9000_0000, 2 << 20),
        (0xffff_0000_5234_5000, 0x8765_4000, 4096),
    ];
    assert_eq!(found, expected);
    // The same tree as a user (TTBR0) root names them in the lower half.
    let low = f.mapped_extents(&m, root, 0, 1 << 48, Default::default());
    assert_eq!(low.extents.get(1).map(|e| e.vaddr), Some(0x1234_5000));
}

#[test]
fn lpa2_entries_carry_physical_bits_51_50_in_bits_9_8() {
    let f = &PAGING_4K_52;
    // PA 0xc_1234_5678_9000: bits 51..50 = 0b11, bits 49..12 in place.
    let pa: u64 = 0x000f_1234_5678_9000;
    let entry = (pa & 0x0003_ffff_ffff_f000) | (((pa >> 50) & 3) << 8) | PAGE_DESC & !(3 << 8);
    assert_eq!(f.entry_address(entry), pa);
    // Without LPA2 the same bits are shareability, not address.
    assert_eq!(PAGING_4K_48.entry_address(entry), pa & 0x0000_ffff_ffff_f000);
    // 64 KiB pages keep PA[51:48] in bits 15:12.
    let pa64: u64 = 0x000a_0000_1234_0000;
    let e64 = (pa64 & 0x0000_ffff_ffff_0000) | (0xa << 12) | PAGE_DESC;
    assert_eq!(PAGING_64K_48.entry_address(e64), pa64);
}

#[test]
fn not_present_ptes_decode_as_linux_6_1_encodes_them() {
    let f = &PAGING_4K_48;
    // Swap type 3, offset 0x1234 (bits 3..7 and 8..57).
    let swap = (3 << 3) | (0x1234 << 8);
    assert_eq!(f.decode_not_present(swap), crate::NotPresent::Swap { kind: 3, offset: 0x1234 });
    let prot_none = 0x4321_0000 | (1 << 58) | (1 << 10);
    assert_eq!(f.decode_not_present(prot_none), crate::NotPresent::ProtNone { frame: 0x4321_0000 });
}

/// The VMCOREINFO of a Debian 6.1 cloud-arm64 guest (4 KiB, 48-bit, KASLR).
fn vmcoreinfo_6_1(value: LayoutValue) -> Option<u64> {
    match value {
        LayoutValue::PageSize => Some(4096),
        LayoutValue::VmcoreinfoNumber("VA_BITS") => Some(48),
        LayoutValue::VmcoreinfoNumber("TCR_EL1_T1SZ") => Some(16),
        LayoutValue::VmcoreinfoNumber("PHYS_OFFSET") => Some(0x4000_0000),
        LayoutValue::VmcoreinfoNumber("kimage_voffset") => Some(0xffff_7fff_c7a0_0000),
        LayoutValue::VmcoreinfoNumber("MODULES_VADDR") => Some(0xffff_8000_0000_0000),
        LayoutValue::VmcoreinfoNumber("MODULES_END") => Some(0xffff_8000_0800_0000),
        LayoutValue::VmcoreinfoNumber("VMALLOC_START") => Some(0xffff_8000_0800_0000),
        LayoutValue::VmcoreinfoNumber("VMALLOC_END") => Some(0xffff_fbff_efff_0000),
        LayoutValue::VmcoreinfoNumber("VMEMMAP_START") => Some(0xffff_fc00_0000_0000),
        LayoutValue::VmcoreinfoNumber("VMEMMAP_END") => Some(0xffff_fe00_0000_0000),
        LayoutValue::Symbol("_text") => Some(0xffff_8000_0f00_0000),
        LayoutValue::Symbol("_end") => Some(0xffff_8000_1180_0000),
        _ => None,
    }
}

#[test]
fn vmcoreinfo_chooses_and_places_the_layout() {
    let spec = ARM64.address_space(&vmcoreinfo_6_1).unwrap();
    assert_eq!(spec.name, "arm64 4K 48-bit");
    let layout = spec.resolve(&vmcoreinfo_6_1);
    let image = layout.region(RegionKind::KernelImage).unwrap();
    assert_eq!((image.start, image.end), (0xffff_8000_0f00_0000, 0xffff_8000_1180_0000));
    // __kimg_to_phys: addr - kimage_voffset.
    assert_eq!(layout.linear_phys(0xffff_8000_0f01_0000), Some(0xffff_8000_0f01_0000 - 0xffff_7fff_c7a0_0000));
    // The image lies inside vmalloc space and wins there.
    assert_eq!(layout.region_of(0xffff_8000_1000_0000).unwrap().kind, RegionKind::KernelImage);
    assert_eq!(layout.region_of(0xffff_8000_2000_0000).unwrap().kind, RegionKind::Vmalloc);
    assert_eq!(layout.region_of(0xffff_8000_0010_0000).unwrap().kind, RegionKind::Modules);
    // __lm_to_phys / __phys_to_virt around PHYS_OFFSET.
    assert_eq!(layout.linear_phys(0xffff_0000_0012_3000), Some(0x4012_3000));
    assert_eq!(layout.direct_map_virt(0x4012_3000), Some(0xffff_0000_0012_3000));
    let vmemmap = layout.region(RegionKind::Vmemmap).unwrap();
    assert_eq!((vmemmap.start, vmemmap.end), (0xffff_fc00_0000_0000, 0xffff_fe00_0000_0000));
    assert_eq!(layout.region_of(0xffff_fbff_f800_0000).unwrap().kind, RegionKind::Fixmap);
    assert_eq!(layout.region_of(0x0000_aaaa_0000_0000).unwrap().kind, RegionKind::User);
}

#[test]
fn a_52_bit_kernel_without_lpa2_walks_48_bits_in_a_52_bit_layout() {
    let lookup = |v: LayoutValue| match v {
        LayoutValue::VmcoreinfoNumber("VA_BITS") => Some(52),
        LayoutValue::VmcoreinfoNumber("TCR_EL1_T1SZ") => Some(16),
        other => vmcoreinfo_6_1(other),
    };
    let spec = ARM64.address_space(&lookup).unwrap();
    assert_eq!(spec.name, "arm64 4K 52-bit kernel, 48 bits in use");
    assert_eq!(spec.paging.levels.len(), 4);
    // PAGE_OFFSET is the 52-bit one.
    let layout = spec.resolve(&lookup);
    assert_eq!(layout.region(RegionKind::DirectMap).unwrap().start, 0xfff0_0000_0000_0000);
    let with_lpa2 = |v: LayoutValue| match v {
        LayoutValue::VmcoreinfoNumber("TCR_EL1_T1SZ") => Some(12),
        other => lookup(other),
    };
    let spec = ARM64.address_space(&with_lpa2).unwrap();
    assert_eq!(spec.paging.levels.len(), 5);
    assert_eq!(spec.paging.name, "arm64 4K 52-bit (LPA2)");
    let sixteen = |v: LayoutValue| match v {
        LayoutValue::PageSize => Some(16384),
        LayoutValue::VmcoreinfoNumber("VA_BITS") => Some(47),
        other => vmcoreinfo_6_1(other),
    };
    assert_eq!(ARM64.address_space(&sixteen).unwrap().name, "arm64 16K 47-bit");
    // Nothing known: the common configuration, said to be assumed.
    assert!(ARM64.address_space(&|_| None).unwrap().name.contains("assumed"));
}

#[test]
fn without_symbols_the_image_starts_at_kimage_vaddr_plus_kerneloffset() {
    // The dump alone: VMCOREINFO has _stext but not _text or _end.
    let no_vmlinux = |v: LayoutValue| match v {
        LayoutValue::Symbol(_) => None,
        LayoutValue::VmcoreinfoNumber("KERNELOFFSET") => Some(0x55ca_1480_0000),
        other => vmcoreinfo_6_1(other),
    };
    let layout = ARM64.address_space(&no_vmlinux).unwrap().resolve(&no_vmlinux);
    let image = layout.region(RegionKind::KernelImage).unwrap();
    assert_eq!(image.start, 0xffff_8000_0800_0000 + 0x55ca_1480_0000);
    // 6.5+ moved KIMAGE_VADDR up with a 2 GiB module area: VMCOREINFO's
    // MODULES_END says where.
    let since_6_5 = |v: LayoutValue| match v {
        LayoutValue::VmcoreinfoNumber("MODULES_END") => Some(0xffff_8000_8000_0000),
        other => no_vmlinux(other),
    };
    let layout = ARM64.address_space(&since_6_5).unwrap().resolve(&since_6_5);
    assert_eq!(layout.region(RegionKind::KernelImage).unwrap().start, 0xffff_8000_8000_0000 + 0x55ca_1480_0000);
}

#[test]
fn the_image_needs_kimage_voffset_to_be_linear() {
    let no_voffset = |v: LayoutValue| match v {
        LayoutValue::VmcoreinfoNumber("kimage_voffset") => None,
        other => vmcoreinfo_6_1(other),
    };
    let layout = ARM64.address_space(&no_voffset).unwrap().resolve(&no_voffset);
    assert!(layout.region(RegionKind::KernelImage).is_none());
    assert_eq!(layout.linear_phys(0xffff_8000_0f01_0000), None);
}

#[test]
fn pac_bits_are_stripped_with_kernelpacmask() {
    let mask = 0xff7f_0000_0000_0000; // 48-bit VA, bit 55 excluded
    let signed = 0x3a9d_8000_0812_3456u64 | (1 << 55);
    assert_eq!(strip_pac(signed, Some(mask)), 0xffff_8000_0812_3456);
    assert_eq!(strip_pac(0xffff_8000_0812_3456, Some(mask)), 0xffff_8000_0812_3456);
    // A user address keeps bit 55 clear and loses the mask bits.
    assert_eq!(strip_pac(0x0012_aaaa_0000_1000, Some(mask)), 0x0000_aaaa_0000_1000);
    // Without a mask (KERNELPACMASK=0 or absent): the kernel half is known.
    assert_eq!(strip_pac(signed, None), 0xffff_8000_0812_3456);
    assert_eq!(strip_pac(signed, Some(0)), 0xffff_8000_0812_3456);
}
