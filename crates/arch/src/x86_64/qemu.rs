//! QEMU's x86-64 `QEMUCPUState` note (name "QEMU", written by
//! `dump-guest-memory` after the PRSTATUS notes): the general registers
//! again, the segment registers with their descriptors, and the control
//! registers PRSTATUS lacks (CR3 above all: the page-table root).

use super::registers::*;
use crate::layout::{CpuStateNote, RegisterLayout, Slot};

/// Offset of the general registers (after `version` and `size`), in the
/// order rax rbx rcx rdx rsi rdi rsp rbp r8..r15 rip rflags.
const GPRS: usize = 8;
/// Offset of the ten segments (cs ds es fs gs ss ldt tr gdt idt), each a
/// `QEMUCPUSegment { u32 selector, limit, flags, pad; u64 base }`.
const SEGMENTS: usize = 152;
const SEGMENT_SIZE: usize = 24;
const SEGMENT_BASE: usize = 16;
/// Offset of `cr[5]` and of `kernel_gs_base` (version 2 and later).
const CRS: usize = 392;
const KERNEL_GS_BASE_AT: usize = 432;

const fn gpr(reg: crate::registers::RegisterId, i: usize) -> Slot {
    Slot::word(reg, GPRS.wrapping_add(i.wrapping_mul(8)))
}
const fn segment(i: usize) -> usize {
    SEGMENTS.wrapping_add(SEGMENT_SIZE.wrapping_mul(i))
}
const fn selector(reg: crate::registers::RegisterId, i: usize) -> Slot {
    Slot { reg, offset: segment(i), size: 4, optional: false }
}

const SLOTS: [Slot; 31] = [
    gpr(RAX, 0),
    gpr(RBX, 1),
    gpr(RCX, 2),
    gpr(RDX, 3),
    gpr(RSI, 4),
    gpr(RDI, 5),
    gpr(RSP, 6),
    gpr(RBP, 7),
    gpr(R8, 8),
    gpr(R9, 9),
    gpr(R10, 10),
    gpr(R11, 11),
    gpr(R12, 12),
    gpr(R13, 13),
    gpr(R14, 14),
    gpr(R15, 15),
    gpr(RIP, 16),
    gpr(RFLAGS, 17),
    selector(CS, 0),
    selector(DS, 1),
    selector(ES, 2),
    selector(FS, 3),
    selector(GS, 4),
    selector(SS, 5),
    Slot::word(FS_BASE, segment(3) + SEGMENT_BASE),
    Slot::word(GS_BASE, segment(4) + SEGMENT_BASE),
    Slot::word(CR0, CRS),
    Slot::word(CR2, CRS + 16),
    Slot::word(CR3, CRS + 24),
    Slot::word(CR4, CRS + 32),
    Slot { reg: KERNEL_GS_BASE, offset: KERNEL_GS_BASE_AT, size: 8, optional: true },
];

/// The note's register layout.
pub static QEMU_CPU_STATE: CpuStateNote = CpuStateNote {
    name: "QEMU",
    regs: RegisterLayout { what: "QEMU CPU state note", set: &REGISTERS, size: KERNEL_GS_BASE_AT + 8, slots: &SLOTS },
};
