//! x86-64 as data: registers and where Linux saves them, the 4- and
//! 5-level page-table formats, the kernel's address-space layout for each,
//! its stacks, and the iced-x86 decoder. [`X86_64`] gathers them.

mod qemu;
mod registers;

pub use qemu::QEMU_CPU_STATE;
pub use registers::*;

use crate::addrspace::{AddressSpaceSpec, Extent, LayoutValue, LinearPhys, RegionKind, RegionSpec, Start};
use crate::disasm::X86_64Decoder;
use crate::machine::Machine;
use crate::paging::{AddressHalves, BitField, BitTest, Level, LevelFormat, NotPresentFormat, PageTableFormat};
use crate::stacks::{StackClass, StackKind, StackLocator, StackSpec, TopPointerPlace};
use crate::Arch;

/// Bits 12..51 of an entry (and of CR3) hold a physical address; bits
/// 52..62 are software/protection-key bits, bit 63 is NX, and CR3's low
/// bits are the PCID.
const ADDRESS_MASK: u64 = 0x000f_ffff_ffff_f000;

const fn level(level: Level, shift: u32, large_pages: bool) -> LevelFormat {
    LevelFormat { level, shift, bits: 9, large_pages }
}

/// The entry flags in the order crash's `vtop` prints them.
const FLAG_NAMES: &[(u64, &str)] = &[
    (1 << 0, "PRESENT"),
    (1 << 1, "RW"),
    (1 << 2, "USER"),
    (1 << 3, "PWT"),
    (1 << 4, "PCD"),
    (1 << 5, "ACCESSED"),
    (1 << 6, "DIRTY"),
    (1 << 7, "PSE"),
    (1 << 8, "GLOBAL"),
    (1 << 63, "NX"),
];

/// Linux's encoding of not-present x86-64 PTEs: `_PAGE_PROTNONE` shares
/// the GLOBAL bit and keeps an inverted frame (L1TF mitigation); a swap
/// entry has its type in the top five bits and its inverted offset from
/// bit 9 (`SWP_TYPE_BITS`, `SWP_OFFSET_FIRST_BIT`).
const NOT_PRESENT: NotPresentFormat = NotPresentFormat {
    prot_none: BitTest { mask: 0x101, value: 0x100 },
    prot_none_inverted: true,
    swap_type: BitField { shift: 59, bits: 5, inverted: false },
    swap_offset: BitField { shift: 9, bits: 50, inverted: true },
};

const fn format(name: &'static str, levels: &'static [LevelFormat], va_bits: u32) -> PageTableFormat {
    PageTableFormat {
        name,
        levels,
        va_bits,
        halves: AddressHalves::SignExtended,
        root_mask: ADDRESS_MASK,
        address_mask: ADDRESS_MASK,
        present: BitTest::set(0),
        large: BitTest::set(7),
        writable: BitTest::set(1),
        user: BitTest::set(2),
        no_execute: BitTest::set(63),
        accessed: BitTest::set(5),
        dirty: BitTest::set(6),
        global: BitTest::set(8),
        flag_names: FLAG_NAMES,
        not_present: Some(NOT_PRESENT),
        address_extension: None,
    }
}

/// 4-level paging: 48-bit virtual addresses; PUD and PMD entries may map
/// 1 GiB and 2 MiB pages.
pub static PAGING_4_LEVEL: PageTableFormat = format(
    "x86-64 4-level",
    &[
        level(Level::Pgd, 39, false),
        level(Level::Pud, 30, true),
        level(Level::Pmd, 21, true),
        level(Level::Pte, 12, false),
    ],
    48,
);

/// 5-level paging (LA57): 57-bit virtual addresses, a P4D level below the PGD.
pub static PAGING_5_LEVEL: PageTableFormat = format(
    "x86-64 5-level",
    &[
        level(Level::Pgd, 48, false),
        level(Level::P4d, 39, false),
        level(Level::Pud, 30, true),
        level(Level::Pmd, 21, true),
        level(Level::Pte, 12, false),
    ],
    57,
);

const TB: u64 = 1 << 40;
/// `__START_KERNEL_map`: the kernel image mapping, which maps `phys_base`.
pub const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
/// `KERNEL_IMAGE_SIZE` with KASLR (every distribution kernel): 1 GiB;
/// VMCOREINFO states the build's value.
const KERNEL_IMAGE_SIZE: u64 = 1 << 30;
/// `MODULES_END`.
const MODULES_END: u64 = 0xffff_ffff_ff00_0000;
/// `FIXADDR_TOP` rounded up past its last page: the fixmap region below it
/// holds the fixmap and the vsyscall page.
const FIXMAP_END: u64 = 0xffff_ffff_ff80_0000;
/// `CPU_ENTRY_AREA_BASE`; one P4D entry (512 GiB) in both modes.
const CPU_ENTRY_AREA: u64 = 0xffff_fe00_0000_0000;

const fn linear(kind: RegionKind, start: u64, size: u64, start_var: &'static str) -> RegionSpec {
    RegionSpec {
        kind,
        start: Start::At(start),
        extent: Extent::Size(size),
        start_from: Some(LayoutValue::Variable(start_var)),
        size_from: None,
        phys: None,
    }
}

/// Regions whose places do not depend on the paging mode, after the
/// direct map, vmalloc and vmemmap (Documentation/arch/x86/x86_64/mm.rst).
const fn regions(user_size: u64, direct: (u64, u64), vmalloc: (u64, u64), vmemmap: (u64, u64)) -> [RegionSpec; 8] {
    [
        RegionSpec {
            kind: RegionKind::User,
            start: Start::At(0),
            extent: Extent::Size(user_size),
            start_from: None,
            size_from: None,
            phys: None,
        },
        // KASLR moves the direct map (`page_offset_base`); only the RAM
        // that exists is mapped, so the dump's physical end bounds it.
        RegionSpec {
            kind: RegionKind::DirectMap,
            start: Start::At(direct.0),
            extent: Extent::Size(direct.1),
            start_from: Some(LayoutValue::Variable("page_offset_base")),
            size_from: Some(LayoutValue::PhysicalEnd),
            phys: Some(LinearPhys::At { default: 0, value: None }),
        },
        linear(RegionKind::Vmalloc, vmalloc.0, vmalloc.1, "vmalloc_base"),
        linear(RegionKind::Vmemmap, vmemmap.0, vmemmap.1, "vmemmap_base"),
        RegionSpec {
            kind: RegionKind::CpuEntryArea,
            start: Start::At(CPU_ENTRY_AREA),
            extent: Extent::Size(TB / 2),
            start_from: None,
            size_from: None,
            phys: None,
        },
        RegionSpec {
            kind: RegionKind::KernelImage,
            start: Start::At(START_KERNEL_MAP),
            extent: Extent::Size(KERNEL_IMAGE_SIZE),
            start_from: None,
            size_from: Some(LayoutValue::VmcoreinfoNumber("KERNEL_IMAGE_SIZE")),
            phys: Some(LinearPhys::At { default: 0, value: Some(LayoutValue::VmcoreinfoNumber("phys_base")) }),
        },
        RegionSpec {
            kind: RegionKind::Modules,
            start: Start::EndOf(RegionKind::KernelImage),
            extent: Extent::EndAt(MODULES_END),
            start_from: None,
            size_from: None,
            phys: None,
        },
        RegionSpec {
            kind: RegionKind::Fixmap,
            start: Start::At(MODULES_END),
            extent: Extent::EndAt(FIXMAP_END),
            start_from: None,
            size_from: None,
            phys: None,
        },
    ]
}

/// Where the kernel's top-level page table is, newest name first.
const KERNEL_ROOT_SYMBOLS: &[&str] = &["init_top_pgt", "init_level4_pgt"];

/// The 4-level layout (the default without `pgtable_l5_enabled`).
pub static ADDRESS_SPACE_4_LEVEL: AddressSpaceSpec = AddressSpaceSpec {
    name: "x86-64 4-level",
    paging: &PAGING_4_LEVEL,
    when: &[],
    kernel_root_symbols: KERNEL_ROOT_SYMBOLS,
    regions: &regions(
        1 << 47,
        (0xffff_8880_0000_0000, 64 * TB),
        (0xffff_c900_0000_0000, 32 * TB),
        (0xffff_ea00_0000_0000, TB),
    ),
};

/// The 5-level layout, in use when VMCOREINFO says `pgtable_l5_enabled=1`.
pub static ADDRESS_SPACE_5_LEVEL: AddressSpaceSpec = AddressSpaceSpec {
    name: "x86-64 5-level",
    paging: &PAGING_5_LEVEL,
    when: &[(LayoutValue::VmcoreinfoNumber("pgtable_l5_enabled"), 1)],
    kernel_root_symbols: KERNEL_ROOT_SYMBOLS,
    regions: &regions(
        1 << 56,
        (0xff11_0000_0000_0000, 32768 * TB),
        (0xffa0_0000_0000_0000, 12800 * TB),
        (0xffd4_0000_0000_0000, 512 * TB),
    ),
};

const fn ist(key: &'static str, crash_name: &'static str, member: &'static str) -> StackKind {
    StackKind {
        class: StackClass::Exception,
        key,
        crash_name,
        locator: StackLocator::PerCpuPointerMember {
            pointer: "cea_exception_stacks",
            struct_name: "cea_exception_stacks",
            member,
        },
    }
}

/// Where x86-64 kernels keep the pointer to the top of a CPU's hard-IRQ
/// stack, newest first.
const IRQ_STACK_TOP: &[TopPointerPlace] = &[
    // 5.2 and later (and again from 7.x): `hardirq_stack_ptr`. Since 5.12
    // (irq_64.c `map_irq_stack`) it holds the stack's last word,
    // `va + IRQ_STACK_SIZE - 8`, where `call_on_irqstack` saves the
    // interrupted stack pointer; 5.2 to 5.11 stored `va + IRQ_STACK_SIZE`,
    // so there the top found is 8 bytes high.
    TopPointerPlace { variable: "hardirq_stack_ptr", member: None, top_past_pointer: 8 },
    // 6.2 to 6.x: the same pointer in `struct pcpu_hot`.
    TopPointerPlace { variable: "pcpu_hot", member: Some("hardirq_stack_ptr"), top_past_pointer: 8 },
    // Before 5.2: `irq_stack_ptr`, set by setup_percpu.c to the top of
    // `irq_stack_union.irq_stack` (4.9 to 5.1) or 64 bytes below it
    // (earlier kernels: a gap the stack never used). The entry code
    // (ENTER_IRQ_STACK, or `cmovzq irq_stack_ptr, %rsp` in 3.x) loads it
    // into %rsp and pushes the interrupted stack pointer, so the word
    // below the pointer holds it: the pointer is the top the unwinder
    // needs (on the older kernels the range found is 64 bytes low, all of
    // it below the gap where the frames are).
    TopPointerPlace { variable: "irq_stack_ptr", member: None, top_past_pointer: 0 },
];

/// The task stack, the hard-IRQ stack (softirqs run on it too on
/// x86-64), the IST exception stacks of `struct cea_exception_stacks`, and
/// the entry trampoline stack whose top the TSS's `sp0` holds.
pub static STACKS: StackSpec = StackSpec {
    thread_size: 4 << 12,
    max_stack_size: 0x10000,
    kinds: &[
        StackKind {
            class: StackClass::Task,
            key: "task",
            crash_name: "process stack",
            locator: StackLocator::TaskStack,
        },
        StackKind {
            class: StackClass::Irq,
            key: "irq",
            crash_name: "IRQ stack",
            locator: StackLocator::PerCpuTopPointer { places: IRQ_STACK_TOP },
        },
        ist("double_fault", "DOUBLEFAULT exception stack", "DF_stack"),
        ist("nmi", "NMI exception stack", "NMI_stack"),
        ist("debug", "DEBUG exception stack", "DB_stack"),
        ist("machine_check", "MCE exception stack", "MCE_stack"),
        ist("vc", "VC exception stack", "VC_stack"),
        ist("vc2", "VC2 exception stack", "VC2_stack"),
        StackKind {
            class: StackClass::Entry,
            key: "entry",
            crash_name: "ENTRY TRAMPOLINE stack",
            locator: StackLocator::PerCpuTopField {
                variable: "cpu_tss_rw",
                struct_name: "tss_struct",
                member: "x86_tss.sp0",
                size_of: "entry_stack",
            },
        },
    ],
};

/// x86-64.
pub static X86_64: Arch = Arch {
    machine: Machine::X86_64,
    registers: &REGISTERS,
    prstatus: &PRSTATUS,
    cpu_state_note: Some(&QEMU_CPU_STATE),
    saved_regs: &PT_REGS,
    address_spaces: &[&ADDRESS_SPACE_5_LEVEL, &ADDRESS_SPACE_4_LEVEL],
    stacks: &STACKS,
    decoder: &X86_64Decoder,
};

#[cfg(test)]
// Tests index the synthetic buffers they build; a panic there is a failed test.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests;
