//! QEMU's x86-64 `QEMUCPUState` note (name "QEMU", written by
//! `dump-guest-memory` after the PRSTATUS notes): the general registers
//! again, the segment registers with their descriptors, and the control
//! registers PRSTATUS lacks (CR3 above all: the page-table root).

use krash_core::X86_64Regs;

use super::registers::*;
use crate::layout::{CpuStateNote, LayoutError, RegisterLayout, Slot};
use crate::registers::RegisterFile;

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

/// A segment register as QEMU records it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QemuSegment {
    pub selector: u32,
    pub limit: u32,
    pub flags: u32,
    pub base: u64,
}

/// QEMU's `QEMUCPUState` note (name "QEMU"): registers the ELF PRSTATUS
/// lacks, notably the control registers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QemuCpuState {
    pub version: u32,
    pub rip: u64,
    pub rsp: u64,
    pub rflags: u64,
    pub cs: QemuSegment,
    pub ds: QemuSegment,
    pub es: QemuSegment,
    pub fs: QemuSegment,
    pub gs: QemuSegment,
    pub ss: QemuSegment,
    pub ldt: QemuSegment,
    pub tr: QemuSegment,
    pub gdt: QemuSegment,
    pub idt: QemuSegment,
    pub cr0: u64,
    pub cr2: u64,
    pub cr3: u64,
    pub cr4: u64,
    /// The swapped-out GS base (version 2 and later).
    pub kernel_gs_base: Option<u64>,
    /// General registers in `X86_64Regs` form.
    pub regs: X86_64Regs,
}

fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

fn le_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let b = bytes.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

fn read_segment(desc: &[u8], i: usize) -> Option<QemuSegment> {
    let at = segment(i);
    Some(QemuSegment {
        selector: le_u32(desc, at)?,
        limit: le_u32(desc, at.checked_add(4)?)?,
        flags: le_u32(desc, at.checked_add(8)?)?,
        base: le_u64(desc, at.checked_add(SEGMENT_BASE)?)?,
    })
}

/// Parses a QEMU note: the registers (for merging with PRSTATUS's) and
/// the whole state.
pub fn parse_qemu_cpu_state(desc: &[u8]) -> Result<(RegisterFile, QemuCpuState), LayoutError> {
    let regs = QEMU_CPU_STATE.regs.read(desc)?;
    let too_short = LayoutError::TooShort { what: "QEMU CPU state note", needed: CRS + 40, len: desc.len() };
    let mut segments = [QemuSegment::default(); 10];
    for (i, s) in segments.iter_mut().enumerate() {
        *s = read_segment(desc, i).ok_or(too_short)?;
    }
    let [cs, ds, es, fs, gs, ss, ldt, tr, gdt, idt] = segments;
    let value = |id| regs.get(id).unwrap_or(0);
    let mut x86 = to_x86_64_regs(&regs).unwrap_or_default();
    // The general-register view carries no QEMU-only state but CR3.
    x86.orig_rax = 0;
    Ok((
        regs,
        QemuCpuState {
            version: le_u32(desc, 0).ok_or(too_short)?,
            rip: value(RIP),
            rsp: value(RSP),
            rflags: value(RFLAGS),
            cs,
            ds,
            es,
            fs,
            gs,
            ss,
            ldt,
            tr,
            gdt,
            idt,
            cr0: value(CR0),
            cr2: value(CR2),
            cr3: value(CR3),
            cr4: value(CR4),
            kernel_gs_base: regs.get(KERNEL_GS_BASE),
            regs: x86,
        },
    ))
}
