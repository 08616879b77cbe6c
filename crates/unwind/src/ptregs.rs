//! `struct pt_regs` as the x86-64 entry code saves it: 15 general
//! registers, `orig_ax`, then the hardware interrupt frame (ip, cs, flags,
//! sp, ss). The order matches the ELF `user_regs_struct` prefix, and has
//! not changed across the kernels krash supports.

use krash_core::{Result, VirtualMemory, X86_64Regs};

/// Words in a `struct pt_regs`.
pub const PT_REGS_WORDS: usize = 21;
/// Bytes in a `struct pt_regs`.
pub const PT_REGS_SIZE: u64 = PT_REGS_WORDS as u64 * 8;
/// Offset of `ip` (the start of the hardware iret frame) in `pt_regs`.
pub const IRET_FRAME_OFFSET: u64 = 16 * 8;

/// Kernel code and stack segment selectors (`__KERNEL_CS`, `__KERNEL_DS`).
const KERNEL_CS: u64 = 0x10;
const KERNEL_SS: u64 = 0x18;
/// User segment selectors (`__USER_CS`, `__USER_DS`).
pub(crate) const USER_CS: u64 = 0x33;
const USER_SS: u64 = 0x2b;
/// RFLAGS bit 1 always reads as one; bits above 21 are reserved zero.
const RFLAGS_FIXED: u64 = 0x2;
const RFLAGS_RESERVED: u64 = !0x3f_ffff;

/// Reads a full `pt_regs` at `addr`.
pub fn read_pt_regs(mem: &dyn VirtualMemory, addr: u64) -> Result<X86_64Regs> {
    let mut bytes = [0u8; PT_REGS_SIZE as usize];
    mem.read_virt(addr, &mut bytes)?;
    let words: Vec<u64> = le_words(&bytes).collect();
    // 21 words always decode; the Option only guards shorter inputs.
    Ok(X86_64Regs::from_user_regs(&words).unwrap_or_default())
}

/// Every whole little-endian u64 of `bytes` (a partial tail is dropped).
pub(crate) fn le_words(bytes: &[u8]) -> impl Iterator<Item = u64> + '_ {
    // Every chunk `chunks_exact(8)` yields is 8 bytes long, so none is dropped.
    bytes.chunks_exact(8).filter_map(|c| c.first_chunk().copied()).map(u64::from_le_bytes)
}

/// Reads only the hardware iret frame at `addr` (`&pt_regs->ip`); the
/// general registers are taken from `current`.
pub fn read_iret_frame(mem: &dyn VirtualMemory, addr: u64, current: &X86_64Regs) -> Result<X86_64Regs> {
    let mut regs = *current;
    regs.rip = mem.read_u64(addr)?;
    regs.cs = mem.read_u64(addr.wrapping_add(8))?;
    regs.rflags = mem.read_u64(addr.wrapping_add(16))?;
    regs.rsp = mem.read_u64(addr.wrapping_add(24))?;
    regs.ss = mem.read_u64(addr.wrapping_add(32))?;
    Ok(regs)
}

/// True if the saved registers were interrupted in user mode.
pub fn is_user_mode(regs: &X86_64Regs) -> bool {
    regs.cs & 3 == 3
}

fn flags_plausible(flags: u64) -> bool {
    flags & RFLAGS_FIXED != 0 && flags & RFLAGS_RESERVED == 0
}

/// True if `regs` look like a kernel-mode interrupt frame: kernel
/// selectors and a well-formed RFLAGS. (Callers check ip and sp.)
pub fn is_plausible_kernel_regs(regs: &X86_64Regs) -> bool {
    regs.cs & 0xffff == KERNEL_CS && matches!(regs.ss & 0xffff, KERNEL_SS | 0) && flags_plausible(regs.rflags)
}

/// True if `regs` look like a user-mode entry frame.
pub(crate) fn is_plausible_user_regs(regs: &X86_64Regs) -> bool {
    regs.cs & 0xffff == USER_CS
        && regs.ss & 0xffff == USER_SS
        && flags_plausible(regs.rflags)
        && regs.rip < 0x0000_8000_0000_0000
}
