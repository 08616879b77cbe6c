//! The x86-64 register set and where Linux saves it: `user_regs_struct`
//! (the ELF PRSTATUS `pr_reg`), `struct pt_regs` (its first 21 words) with
//! the hardware iret frame inside it, and how a saved frame's selectors
//! and flags tell kernel from user mode.

use crate::layout::{PrstatusLayout, RegisterCheck, RegisterLayout, SavedRegsLayout, Slot};
use crate::registers::{RegisterDesc, RegisterRole as Role, RegisterSet};

// Ids index REGISTERS below; the general registers follow DWARF order.
crate::register_ids! {
    RAX = 0, RDX = 1, RCX = 2, RBX = 3, RSI = 4, RDI = 5, RBP = 6, RSP = 7,
    R8 = 8, R9 = 9, R10 = 10, R11 = 11, R12 = 12, R13 = 13, R14 = 14, R15 = 15,
    RIP = 16, RFLAGS = 17, CS = 18, SS = 19, DS = 20, ES = 21, FS = 22, GS = 23,
    FS_BASE = 24, GS_BASE = 25, ORIG_RAX = 26, CR0 = 27, CR2 = 28, CR3 = 29, CR4 = 30,
    KERNEL_GS_BASE = 31,
}

const fn reg(name: &'static str, dwarf: Option<u16>, size: u8, roles: &'static [Role]) -> RegisterDesc {
    RegisterDesc { name, dwarf, size, roles }
}

/// The x86-64 registers krash reads, with System V psABI DWARF numbers
/// (figure 3.36: 16 is the return-address column, which is RIP) and the
/// SysV calling convention's roles.
pub static REGISTERS: RegisterSet = RegisterSet {
    arch: "x86_64",
    registers: &[
        reg("rax", Some(0), 8, &[Role::ReturnValue]),
        reg("rdx", Some(1), 8, &[Role::Argument(2)]),
        reg("rcx", Some(2), 8, &[Role::Argument(3)]),
        reg("rbx", Some(3), 8, &[Role::CalleeSaved]),
        reg("rsi", Some(4), 8, &[Role::Argument(1)]),
        reg("rdi", Some(5), 8, &[Role::Argument(0)]),
        reg("rbp", Some(6), 8, &[Role::FramePointer, Role::CalleeSaved]),
        reg("rsp", Some(7), 8, &[Role::StackPointer]),
        reg("r8", Some(8), 8, &[Role::Argument(4)]),
        reg("r9", Some(9), 8, &[Role::Argument(5)]),
        reg("r10", Some(10), 8, &[]),
        reg("r11", Some(11), 8, &[]),
        reg("r12", Some(12), 8, &[Role::CalleeSaved]),
        reg("r13", Some(13), 8, &[Role::CalleeSaved]),
        reg("r14", Some(14), 8, &[Role::CalleeSaved]),
        reg("r15", Some(15), 8, &[Role::CalleeSaved]),
        reg("rip", Some(16), 8, &[Role::ProgramCounter]),
        reg("rflags", Some(49), 8, &[Role::Status]),
        reg("cs", Some(51), 2, &[]),
        reg("ss", Some(52), 2, &[]),
        reg("ds", Some(53), 2, &[]),
        reg("es", Some(50), 2, &[]),
        reg("fs", Some(54), 2, &[]),
        reg("gs", Some(55), 2, &[]),
        reg("fs_base", Some(58), 8, &[]),
        reg("gs_base", Some(59), 8, &[Role::PerCpuBase]),
        reg("orig_rax", None, 8, &[Role::SyscallNumber]),
        reg("cr0", None, 8, &[]),
        reg("cr2", None, 8, &[]),
        reg("cr3", None, 8, &[Role::PageTableRoot]),
        reg("cr4", None, 8, &[]),
        reg("kernel_gs_base", None, 8, &[]),
    ],
};

/// `struct user_regs_struct`, word by word: the layout of PRSTATUS's
/// `pr_reg`, whose first 21 words are also `struct pt_regs`.
const USER_REGS: [Slot; 27] = [
    Slot::word(R15, 0),
    Slot::word(R14, 8),
    Slot::word(R13, 16),
    Slot::word(R12, 24),
    Slot::word(RBP, 32),
    Slot::word(RBX, 40),
    Slot::word(R11, 48),
    Slot::word(R10, 56),
    Slot::word(R9, 64),
    Slot::word(R8, 72),
    Slot::word(RAX, 80),
    Slot::word(RCX, 88),
    Slot::word(RDX, 96),
    Slot::word(RSI, 104),
    Slot::word(RDI, 112),
    Slot::word(ORIG_RAX, 120),
    Slot::word(RIP, 128),
    Slot::word(CS, 136),
    Slot::word(RFLAGS, 144),
    Slot::word(RSP, 152),
    Slot::word(SS, 160),
    Slot::word(FS_BASE, 168),
    Slot::word(GS_BASE, 176),
    Slot::word(DS, 184),
    Slot::word(ES, 192),
    Slot::word(FS, 200),
    Slot::word(GS, 208),
];

/// Words of `struct pt_regs`: `user_regs_struct` up to `ss`.
const PT_REGS_WORDS: usize = 21;
/// Offset of `ip` in `pt_regs`: where the hardware iret frame starts.
pub const IRET_FRAME_OFFSET: usize = 16 * 8;

/// The iret frame the CPU pushes on an interrupt: ip, cs, flags, sp, ss.
const IRET_FRAME: [Slot; 5] =
    [Slot::word(RIP, 0), Slot::word(CS, 8), Slot::word(RFLAGS, 16), Slot::word(RSP, 24), Slot::word(SS, 32)];

/// `struct elf_prstatus` on x86-64: `pr_pid` after the 32-byte signal
/// info, `pr_reg` after the four `struct timeval`s.
pub static PRSTATUS: PrstatusLayout = PrstatusLayout {
    pid_offset: 32,
    regs_offset: 112,
    regs: RegisterLayout { what: "x86-64 NT_PRSTATUS pr_reg", set: &REGISTERS, size: 27 * 8, slots: &USER_REGS },
};

/// Kernel code and stack selectors (`__KERNEL_CS`, `__KERNEL_DS`), user
/// selectors (`__USER_CS`, `__USER_DS`).
const KERNEL_CS: u64 = 0x10;
const KERNEL_SS: u64 = 0x18;
const USER_CS: u64 = 0x33;
const USER_SS: u64 = 0x2b;
/// RFLAGS: bit 1 always reads as one; bits above 21 are reserved zero.
const RFLAGS_CHECK: RegisterCheck = RegisterCheck::Masked { reg: RFLAGS, mask: 0x2 | !0x3f_ffff, one_of: &[0x2] };
/// Lowest address above user space (the 4-level canonical hole).
const USER_END: u64 = 0x0000_8000_0000_0000;

/// `struct pt_regs` and how to judge a saved frame.
pub static PT_REGS: SavedRegsLayout = SavedRegsLayout {
    full: RegisterLayout {
        what: "x86-64 pt_regs",
        set: &REGISTERS,
        size: PT_REGS_WORDS * 8,
        slots: USER_REGS.split_at(PT_REGS_WORDS).0,
    },
    hw_frame: Some((
        IRET_FRAME_OFFSET,
        RegisterLayout { what: "x86-64 iret frame", set: &REGISTERS, size: 5 * 8, slots: &IRET_FRAME },
    )),
    user_mode: &[RegisterCheck::Masked { reg: CS, mask: 3, one_of: &[3] }],
    kernel_frame: &[
        RegisterCheck::Masked { reg: CS, mask: 0xffff, one_of: &[KERNEL_CS] },
        RegisterCheck::Masked { reg: SS, mask: 0xffff, one_of: &[KERNEL_SS, 0] },
        RFLAGS_CHECK,
    ],
    user_frame: &[
        RegisterCheck::Masked { reg: CS, mask: 0xffff, one_of: &[USER_CS] },
        RegisterCheck::Masked { reg: SS, mask: 0xffff, one_of: &[USER_SS] },
        RFLAGS_CHECK,
        RegisterCheck::Below { reg: RIP, limit: USER_END },
    ],
    // entry_64.S: `leaq 1(%rsp), %rbp` after saving pt_regs (CONFIG_FRAME_POINTER).
    frame_pointer_regs_tag: Some(1),
};
