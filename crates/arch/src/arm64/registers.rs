//! The arm64 register set and where Linux saves it: `struct user_pt_regs`
//! (the ELF PRSTATUS `pr_reg`: x0..x30, sp, pc, pstate), `struct pt_regs`
//! (the same 34 words, then `orig_x0`), and how a saved frame's `pstate`
//! tells kernel from user mode.

use crate::layout::{PrstatusLayout, RegisterCheck, RegisterLayout, SavedRegsLayout, Slot};
use crate::registers::{RegisterDesc, RegisterId, RegisterRole as Role, RegisterSet};

// Ids index REGISTERS below; x0..x30 and sp follow the DWARF numbering.
crate::register_ids! {
    X0 = 0, X1 = 1, X2 = 2, X3 = 3, X4 = 4, X5 = 5, X6 = 6, X7 = 7,
    X8 = 8, X9 = 9, X10 = 10, X11 = 11, X12 = 12, X13 = 13, X14 = 14, X15 = 15,
    X16 = 16, X17 = 17, X18 = 18, X19 = 19, X20 = 20, X21 = 21, X22 = 22, X23 = 23,
    X24 = 24, X25 = 25, X26 = 26, X27 = 27, X28 = 28, X29 = 29, X30 = 30,
    SP = 31, PC = 32, PSTATE = 33, ORIG_X0 = 34,
}

/// The frame pointer (x29) and link register (x30) under their ABI names.
pub const FP: RegisterId = X29;
pub const LR: RegisterId = X30;

const fn reg(name: &'static str, dwarf: Option<u16>, roles: &'static [Role]) -> RegisterDesc {
    RegisterDesc { name, dwarf, size: 8, roles }
}

/// The arm64 registers krash reads, with the AArch64 DWARF numbers
/// (x0..x30 = 0..30, sp = 31, pc = 32) and the AAPCS64 roles: x0..x7
/// carry arguments, x0 the result, x19..x28 are callee-saved, x29 is the
/// frame pointer and x30 the link register.
pub static REGISTERS: RegisterSet = RegisterSet {
    arch: "aarch64",
    registers: &[
        reg("x0", Some(0), &[Role::Argument(0), Role::ReturnValue]),
        reg("x1", Some(1), &[Role::Argument(1)]),
        reg("x2", Some(2), &[Role::Argument(2)]),
        reg("x3", Some(3), &[Role::Argument(3)]),
        reg("x4", Some(4), &[Role::Argument(4)]),
        reg("x5", Some(5), &[Role::Argument(5)]),
        reg("x6", Some(6), &[Role::Argument(6)]),
        reg("x7", Some(7), &[Role::Argument(7)]),
        reg("x8", Some(8), &[]),
        reg("x9", Some(9), &[]),
        reg("x10", Some(10), &[]),
        reg("x11", Some(11), &[]),
        reg("x12", Some(12), &[]),
        reg("x13", Some(13), &[]),
        reg("x14", Some(14), &[]),
        reg("x15", Some(15), &[]),
        reg("x16", Some(16), &[]),
        reg("x17", Some(17), &[]),
        reg("x18", Some(18), &[]),
        reg("x19", Some(19), &[Role::CalleeSaved]),
        reg("x20", Some(20), &[Role::CalleeSaved]),
        reg("x21", Some(21), &[Role::CalleeSaved]),
        reg("x22", Some(22), &[Role::CalleeSaved]),
        reg("x23", Some(23), &[Role::CalleeSaved]),
        reg("x24", Some(24), &[Role::CalleeSaved]),
        reg("x25", Some(25), &[Role::CalleeSaved]),
        reg("x26", Some(26), &[Role::CalleeSaved]),
        reg("x27", Some(27), &[Role::CalleeSaved]),
        reg("x28", Some(28), &[Role::CalleeSaved]),
        reg("x29", Some(29), &[Role::FramePointer, Role::CalleeSaved]),
        reg("x30", Some(30), &[Role::ReturnAddress]),
        reg("sp", Some(31), &[Role::StackPointer]),
        reg("pc", Some(32), &[Role::ProgramCounter]),
        reg("pstate", None, &[Role::Status]),
        reg("orig_x0", None, &[Role::SyscallNumber]),
    ],
};

/// `struct user_pt_regs` word by word: `regs[31]`, `sp`, `pc`, `pstate`.
/// It is PRSTATUS's `pr_reg` and the first 34 words of `struct pt_regs`.
// A compile-time loop over constants: no input reaches this arithmetic.
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
const USER_PT_REGS: [Slot; 35] = {
    let mut slots = [Slot::word(X0, 0); 35];
    let mut i = 0;
    while i < 34 {
        slots[i] = Slot::word(RegisterId(i as u8), i * 8);
        i += 1;
    }
    // `pt_regs.orig_x0` follows `user_pt_regs`.
    slots[34] = Slot::word(ORIG_X0, 34 * 8);
    slots
};

/// Words of `user_pt_regs`.
const USER_PT_REGS_WORDS: usize = 34;

/// `struct elf_prstatus` on arm64: the same header as every 64-bit
/// architecture (`pr_pid` at 32, `pr_reg` at 112), 392 bytes in all.
pub static PRSTATUS: PrstatusLayout = PrstatusLayout {
    pid_offset: 32,
    regs_offset: 112,
    regs: RegisterLayout {
        what: "arm64 NT_PRSTATUS pr_reg",
        set: &REGISTERS,
        size: USER_PT_REGS_WORDS * 8,
        slots: USER_PT_REGS.split_at(USER_PT_REGS_WORDS).0,
    },
};

/// `PSR_MODE_MASK` with `PSR_MODE32_BIT`: the exception level and stack
/// selector, and whether the interrupted state was AArch32.
const PSR_MODE_BITS: u64 = 0x1f;
/// EL0 (AArch64) and the AArch32 user mode (`PSR_AA32_MODE_USR`).
const PSR_MODE_EL0T: u64 = 0x0;
const PSR_AA32_MODE_USR: u64 = 0x10;
/// EL1 with SP_EL0 (`EL1t`) or SP_EL1 (`EL1h`, where the kernel runs).
const PSR_MODE_EL1T: u64 = 0x4;
const PSR_MODE_EL1H: u64 = 0x5;
/// Bits of `pstate` that are RES0 in every architecture version so far
/// (the upper half): a saved word with any of them set is not a pstate.
const PSTATE_RES0: u64 = 0xffff_ffff_0000_0000;
/// Lowest address above the largest user space (52-bit VA).
const USER_END: u64 = 1 << 52;

/// `struct pt_regs` as far as registers go (`user_pt_regs` and
/// `orig_x0`): the kernel's later members (`syscallno`, `stackframe`,
/// ...) change between versions, and their offsets come from the
/// kernel's types where the unwinder needs them.
pub static PT_REGS: SavedRegsLayout = SavedRegsLayout {
    full: RegisterLayout { what: "arm64 pt_regs", set: &REGISTERS, size: 35 * 8, slots: &USER_PT_REGS },
    hw_frame: None,
    user_mode: &[RegisterCheck::Masked { reg: PSTATE, mask: 0xf, one_of: &[PSR_MODE_EL0T] }],
    kernel_frame: &[RegisterCheck::Masked {
        reg: PSTATE,
        mask: PSR_MODE_BITS | PSTATE_RES0,
        one_of: &[PSR_MODE_EL1H, PSR_MODE_EL1T],
    }],
    user_frame: &[
        RegisterCheck::Masked {
            reg: PSTATE,
            mask: PSR_MODE_BITS | PSTATE_RES0,
            one_of: &[PSR_MODE_EL0T, PSR_AA32_MODE_USR],
        },
        RegisterCheck::Below { reg: PC, limit: USER_END },
        RegisterCheck::Below { reg: SP, limit: USER_END },
    ],
    frame_pointer_regs_tag: None,
};
