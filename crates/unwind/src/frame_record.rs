//! Unwinding by frame records on architectures whose calls leave the
//! return address in a register (arm64): every non-leaf function saves
//! the caller's frame pointer and link register as a two-word record and
//! points x29 at it, so the records form a chain up the stack.
//!
//! Three things a bare chain walk gets wrong, handled here:
//! - **The interrupted function may have no record yet** (a leaf, which
//!   never makes one, or a function stopped before `mov x29, sp` or after
//!   its epilogue's `ldp x29, x30`): its caller is then in the link
//!   register, and x29 still names the caller's record. The function's
//!   code from its entry to the pc says which case holds.
//! - **Exceptions**: the entry code saves `struct pt_regs` and builds a
//!   frame record inside it (`pt_regs.stackframe`) holding the interrupted
//!   x29 and pc. A record found there is an exception frame: its registers
//!   are read and the walk goes on in the interrupted context, where the
//!   interrupted function may again have no record of its own (the case
//!   where drgn repeats the faulting function, and crash loses a frame).
//!   A user-mode entry's record is zeroed: the chain ends at the user
//!   registers.
//! - **Pointer authentication** signs saved return addresses; they are
//!   stripped ([`CodeInfo::return_address`]) before anything else.

use krash_arch::arm64::disasm::{details, Reg};
use krash_arch::{FlowKind, RegisterRole};
use krash_core::VirtualMemory;

use crate::code::CodeInfo;
use crate::scan::looks_like_return_address;
use crate::stacks::StackSet;
use crate::step::{StepResult, UnwindState};

fn read(mem: &dyn VirtualMemory, addr: u64, what: &str) -> Result<u64, String> {
    mem.read_u64(addr).map_err(|e| format!("cannot read {what} at {addr:016x}: {e}"))
}

/// Most bytes of a function read to judge its frame at a pc.
const FUNCTION_BYTES_READ: u64 = 16 << 10;

/// Whether the function at an interrupted pc has its frame record in x29.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameRecord {
    /// `mov x29, sp` (or `add x29, sp, #n`) ran and no epilogue has
    /// reloaded x29 since: x29 is this function's record.
    Established,
    /// Not yet, never (a leaf), or no longer: x29 is the caller's, and
    /// the caller's return address is in the link register.
    NotEstablished,
}

/// Reads the code from the function's entry to `pc` and says whether its
/// frame record is in place there; `None` when the function's extent or
/// code is unknown.
pub fn frame_record_at(mem: &dyn VirtualMemory, code: &dyn CodeInfo, pc: u64) -> Option<FrameRecord> {
    // A module's PLT veneer to a kernel function makes no record; kallsyms
    // names it after whatever symbol precedes the PLT section.
    if is_plt_veneer(mem, pc) {
        return Some(FrameRecord::NotEstablished);
    }
    let sym = code.symbolize(pc)?;
    if sym.offset > FUNCTION_BYTES_READ {
        return None;
    }
    let start = pc.checked_sub(sym.offset)?;
    let bytes = mem.read_vec(start, usize::try_from(sym.offset).ok()?).ok()?;
    Some(frame_record_in(&bytes, start))
}

/// Whether `pc` is inside an arm64 module PLT entry (`struct plt_entry`:
/// `adrp x16, T; add x16, x16, :lo12:T; br x16`), the veneer through which
/// a module calls a kernel function out of branch range. It has no symbol
/// of its own and makes no frame record: its caller is in the link register.
pub fn is_plt_veneer(mem: &dyn VirtualMemory, pc: u64) -> bool {
    const ADRP_X16_MASK: u32 = 0x9f00_001f;
    const ADRP_X16: u32 = 0x9000_0010;
    const ADD_X16_X16_MASK: u32 = 0xff80_03ff;
    const ADD_X16_X16: u32 = 0x9100_0210;
    const BR_X16: u32 = 0xd61f_0200;
    [0u64, 4, 8].into_iter().any(|back| {
        let Some(start) = pc.checked_sub(back) else { return false };
        let Ok(bytes) = mem.read_vec(start, 12) else { return false };
        let words: Vec<u32> =
            bytes.chunks_exact(4).filter_map(|w| <[u8; 4]>::try_from(w).ok()).map(u32::from_le_bytes).collect();
        matches!(
            words.as_slice(),
            [a, b, c] if a & ADRP_X16_MASK == ADRP_X16 && b & ADD_X16_X16_MASK == ADD_X16_X16 && *c == BR_X16
        )
    })
}

/// The frame-record state after running `code` (loaded at `start`) from
/// its first instruction to its end. Straight-line reading: after an
/// epilogue's `ret`, the code that follows is reached by a branch from the
/// function's body, so the state before that epilogue holds again.
pub fn frame_record_in(code: &[u8], start: u64) -> FrameRecord {
    let mut established = false;
    let mut before_epilogue = false;
    let mut addr = start;
    for word in code.chunks_exact(4) {
        let Ok(bytes) = <[u8; 4]>::try_from(word) else { break };
        let Some(d) = details(u32::from_le_bytes(bytes), addr) else {
            addr = addr.wrapping_add(4);
            continue;
        };
        if d.writes_reg(Reg::X(29)) {
            let from_sp = d.add_immediate.is_some() && d.reads_reg(Reg::Sp);
            if from_sp {
                established = true;
            } else {
                // `ldp x29, x30, [sp], #n` and the like: the caller's x29 is back.
                before_epilogue = established;
                established = false;
            }
        }
        if d.flow == FlowKind::Return || d.flow == FlowKind::Jump && !established {
            // A return (or a tail call after the epilogue) ends this path.
            established = before_epilogue;
        }
        addr = addr.wrapping_add(4);
    }
    if established {
        FrameRecord::Established
    } else {
        FrameRecord::NotEstablished
    }
}

/// The canonical frame address (the stack pointer at the function's
/// entry) of the function running at `pc` whose frame record is at `fp`,
/// from its prologue: gcc's `stp x29, x30, [sp, #-N]!; mov x29, sp` puts
/// the record N bytes below the CFA; `sub sp, sp, #M; stp x29, x30, [sp,
/// #K]; add x29, sp, #K`, M - K bytes below. `None` when the prologue is
/// another shape, or the record is not set up by `pc`.
pub fn frame_record_cfa(mem: &dyn VirtualMemory, code: &dyn CodeInfo, pc: u64, fp: u64) -> Option<u64> {
    let sym = code.symbolize(pc)?;
    if sym.offset > FUNCTION_BYTES_READ {
        return None;
    }
    let start = pc.checked_sub(sym.offset)?;
    let bytes = mem.read_vec(start, usize::try_from(sym.offset).ok()?).ok()?;
    record_depth_in(&bytes, start).and_then(|depth| fp.checked_add(depth))
}

/// How far below the entry stack pointer the prologue in `code` (loaded at
/// `start`) puts x29, the frame record; `None` if x29 is not set from sp.
fn record_depth_in(code: &[u8], start: u64) -> Option<u64> {
    // Bytes the stack pointer has moved down since the entry.
    let mut depth: i64 = 0;
    let mut addr = start;
    for word in code.chunks_exact(4) {
        let bytes = <[u8; 4]>::try_from(word).ok()?;
        if let Some(d) = details(u32::from_le_bytes(bytes), addr) {
            if d.writes_reg(Reg::X(29)) {
                let k = d.add_immediate.filter(|_| d.reads_reg(Reg::Sp))?;
                return u64::try_from(depth.checked_sub(k)?).ok();
            }
            if let Some(m) = d.memory.as_ref().filter(|m| m.base == Reg::Sp) {
                match m.writeback {
                    krash_arch::arm64::disasm::Writeback::Pre => depth = depth.checked_sub(m.offset)?,
                    krash_arch::arm64::disasm::Writeback::Post => return None,
                    krash_arch::arm64::disasm::Writeback::None => {}
                }
            } else if d.writes_reg(Reg::Sp) {
                let a = d.add_immediate.filter(|_| d.reads_reg(Reg::Sp))?;
                depth = depth.checked_sub(a)?;
            }
            if matches!(d.flow, FlowKind::Return | FlowKind::Jump | FlowKind::ConditionalJump) {
                return None;
            }
        }
        addr = addr.wrapping_add(4);
    }
    None
}

/// One step outward by frame records.
pub fn step(
    mem: &dyn VirtualMemory,
    code: &dyn CodeInfo,
    stacks: &StackSet,
    state: &UnwindState,
) -> Result<StepResult, String> {
    if let Some(next) = from_link_register(mem, code, state) {
        return Ok(next);
    }
    let fp = state.bp;
    if fp == 0 {
        return Ok(StepResult::End);
    }
    let Some(stack) = stacks.find(fp) else {
        return Err(format!("frame pointer {fp:016x} is on no known stack"));
    };
    if fp & 0xf != 0 {
        return Err(format!("frame pointer {fp:016x} is not 16-byte aligned: not a frame record"));
    }
    let next_fp = read(mem, fp, "saved frame pointer")?;
    let raw_lr = read(mem, fp.wrapping_add(8), "saved link register")?;
    let lr = code.return_address(raw_lr);
    if let Some(found) = exception_record(mem, code, stacks, fp, lr, next_fp) {
        return Ok(found);
    }
    if next_fp == 0 && lr == 0 {
        // The final record (a kthread's, or one the entry code zeroed).
        return Ok(StepResult::End);
    }
    // Records grow toward the stack's top within one stack; a switch to
    // another stack (IRQ to task) may go anywhere.
    let same_stack = stacks.find(next_fp).map(|s| s.kind) == Some(stack.kind);
    if next_fp != 0 && same_stack && next_fp <= fp {
        return Err(format!("frame pointer {next_fp:016x} goes the wrong way (was {fp:016x})"));
    }
    // A record's link register is a return address by construction, so
    // text and alignment are what is checked: the call before it may be
    // gone (init text such as start_kernel's is freed after boot).
    if !code.is_text(lr) || lr & 3 != 0 {
        return Err(format!(
            "{raw_lr:016x} at [{:016x}] (x29 {fp:016x} + 8) is no return address into kernel text",
            fp.wrapping_add(8)
        ));
    }
    Ok(StepResult::Call {
        state: UnwindState { ip: lr, sp: fp.wrapping_add(16), bp: next_fp, signal: false, regs: None },
        slot: fp,
    })
}

/// An interrupted function without its own frame record: the caller's
/// return address is the link register's. So is a pc in no kernel text (a
/// call through NULL or a stale function pointer): nothing ran there, and
/// the function that made the call is in the link register, a frame the
/// kernel's own unwinder (which goes straight to x29's record) leaves out.
fn from_link_register(mem: &dyn VirtualMemory, code: &dyn CodeInfo, state: &UnwindState) -> Option<StepResult> {
    if !state.signal {
        return None;
    }
    let regs = state.regs.as_ref()?;
    if code.is_text(state.ip) && frame_record_at(mem, code, state.ip)? != FrameRecord::NotEstablished {
        return None;
    }
    let raw = regs.get(regs.set().with_role(RegisterRole::ReturnAddress)?)?;
    let lr = code.return_address(raw);
    if !code.is_text(lr) || !looks_like_return_address(mem, code, lr) {
        return None;
    }
    Some(StepResult::Call {
        state: UnwindState { ip: lr, sp: state.sp, bp: state.bp, signal: false, regs: None },
        slot: state.sp,
    })
}

/// The record at `fp` when it is the one the entry code built inside a
/// `struct pt_regs`: the saved registers' pc is the record's return
/// address (a kernel-mode exception), or the record is zeroed and the
/// registers are user mode (a system call or user exception).
fn exception_record(
    mem: &dyn VirtualMemory,
    code: &dyn CodeInfo,
    stacks: &StackSet,
    fp: u64,
    lr: u64,
    next_fp: u64,
) -> Option<StepResult> {
    let geometry = code.saved_regs_geometry()?;
    let addr = fp.checked_sub(geometry.frame_record_offset)?;
    let stack = stacks.find(addr)?;
    if addr.checked_add(geometry.size)? > stack.top {
        return None;
    }
    let saved_regs = code.arch().saved_regs;
    let regs = saved_regs.read_from(mem, addr).ok()?;
    let kernel = saved_regs.is_plausible_kernel_frame(&regs)
        && regs.pc().map(|pc| code.return_address(pc)) == Some(lr)
        && regs.fp() == Some(next_fp);
    if lr == 0 && next_fp == 0 {
        // The zeroed final record: a user entry's registers end the trace;
        // a kernel thread's (pc 0, made by copy_thread) is no exception.
        return Some(match saved_regs.is_user_mode(&regs) {
            true => StepResult::Regs { state: UnwindState::from_regs(&regs), addr, regs, partial: false },
            false => StepResult::End,
        });
    }
    kernel.then(|| StepResult::Regs { state: UnwindState::from_regs(&regs), addr, regs, partial: false })
}

#[cfg(test)]
// Tests build code words by hand; a panic there is a failed test.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    #[test]
    fn a_module_plt_entry_is_a_veneer() {
        use krash_core::memory::BytesAt;
        // adrp x16, ...; add x16, x16, #0x6c0; br x16; then a plain nop.
        let words: [u32; 4] = [0x9000_0010 | (1 << 29), 0x911b_0210, 0xd61f_0200, 0xd503_201f];
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let base = 0xffff_8000_0800_0000;
        let mem = BytesAt { base, bytes: &bytes };
        for pc in [base, base + 4, base + 8] {
            assert!(super::is_plt_veneer(&mem, pc), "{pc:#x}");
        }
        assert!(!super::is_plt_veneer(&mem, base + 12), "past the entry");
    }

    use super::*;

    fn code(words: &[u32]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    const PACIASP: u32 = 0xd503233f;
    const STP_FP_LR_PRE: u32 = 0xa9bf7bfd; // stp x29, x30, [sp, #-16]!
    const MOV_FP_SP: u32 = 0x910003fd; // mov x29, sp
    const BL: u32 = 0x97fffff3;
    const LDR: u32 = 0xf9400800; // ldr x0, [x0, #16]
    const LDP_FP_LR_POST: u32 = 0xa8c17bfd; // ldp x29, x30, [sp], #16
    const AUTIASP: u32 = 0xd50323bf;
    const RET: u32 = 0xd65f03c0;
    const NOP: u32 = 0xd503201f;

    #[test]
    fn the_prologue_establishes_the_record_and_the_epilogue_removes_it() {
        let f = [NOP, PACIASP, STP_FP_LR_PRE, MOV_FP_SP, BL, LDR, LDP_FP_LR_POST, AUTIASP, RET];
        let at = |n: usize| frame_record_in(&code(&f[..n]), 0x1000);
        // Before `mov x29, sp` ran: the caller's record, the caller in x30.
        assert_eq!(at(0), FrameRecord::NotEstablished);
        assert_eq!(at(3), FrameRecord::NotEstablished);
        // After it (at the faulting ldr, the scratch dump's pc): ours.
        assert_eq!(at(4), FrameRecord::Established);
        assert_eq!(at(5), FrameRecord::Established);
        // After the epilogue's ldp: the caller's again.
        assert_eq!(at(7), FrameRecord::NotEstablished);
        assert_eq!(at(8), FrameRecord::NotEstablished);
    }

    #[test]
    fn code_after_an_early_return_is_inside_the_frame() {
        // body; early epilogue + ret; more body (reached by a branch).
        let f = [PACIASP, STP_FP_LR_PRE, MOV_FP_SP, LDR, LDP_FP_LR_POST, AUTIASP, RET, LDR, BL];
        assert_eq!(frame_record_in(&code(&f), 0x1000), FrameRecord::Established);
    }

    #[test]
    fn a_leaf_never_has_a_record() {
        let f = [LDR, LDR, NOP];
        assert_eq!(frame_record_in(&code(&f), 0x1000), FrameRecord::NotEstablished);
        // Garbage bytes do not panic and establish nothing.
        assert_eq!(frame_record_in(&[0xff; 37], 0x1000), FrameRecord::NotEstablished);
    }
}

#[cfg(test)]
mod prologue_tests {
    use super::record_depth_in;

    fn code(words: &[u32]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    #[test]
    fn the_record_sits_below_the_cfa_by_the_prologue() {
        // paciasp; stp x29, x30, [sp, #-48]!; mov x29, sp
        assert_eq!(record_depth_in(&code(&[0xd503233f, 0xa9bd7bfd, 0x910003fd]), 0x1000), Some(48));
        // sub sp, sp, #0x40; stp x29, x30, [sp, #16]; add x29, sp, #0x10
        assert_eq!(record_depth_in(&code(&[0xd10103ff, 0xa9017bfd, 0x910043fd]), 0x1000), Some(48));
        // mov x9, x30; nop; stp x29, x30, [sp, #-16]!; mov x29, sp (ftrace's entry first)
        assert_eq!(record_depth_in(&code(&[0xaa1e03e9, 0xd503201f, 0xa9bf7bfd, 0x910003fd]), 0x1000), Some(16));
        // A leaf: no record.
        assert_eq!(record_depth_in(&code(&[0x8b010000, 0xd65f03c0]), 0x1000), None);
    }
}
