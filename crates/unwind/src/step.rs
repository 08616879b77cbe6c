//! One ORC unwind step: from a frame's (ip, sp, bp) to its caller's, or to
//! the registers an exception saved.

use krash_core::{VirtualMemory, X86_64Regs};
use krash_debuginfo::orc::{OrcEntry, OrcReg, OrcType};

use crate::code::CodeInfo;
use crate::ptregs::{read_iret_frame, read_pt_regs, IRET_FRAME_OFFSET};
use crate::stacks::StackSet;

/// Where the unwinder stands in one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnwindState {
    pub ip: u64,
    pub sp: u64,
    pub bp: u64,
    /// `ip` is the interrupted instruction itself, not a return address
    /// (so its ORC entry is looked up at `ip`, not `ip - 1`).
    pub signal: bool,
    /// The full register set valid in this frame (the starting registers
    /// or a just-read `pt_regs`), needed when ORC bases SP on R10, R13,
    /// DI or DX.
    pub regs: Option<X86_64Regs>,
}

/// The outcome of one step.
// Short-lived (one per frame, never stored in bulk): boxing the registers
// would cost an allocation per frame for no memory saved.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepResult {
    /// An ordinary return: the caller's state and the stack slot that
    /// held the return address.
    Call { state: UnwindState, slot: u64 },
    /// An exception or interrupt frame: registers saved at `addr`
    /// (`partial` when only the hardware iret frame is valid).
    Regs { state: UnwindState, addr: u64, regs: X86_64Regs, partial: bool },
    /// ORC marks the outermost frame.
    End,
}

/// What ORC says for a call to address 0 (a NULL function pointer): the
/// return address is at SP, as on entry to any function.
const NULL_CALL_ENTRY: OrcEntry = OrcEntry {
    ip: 0,
    sp_reg: OrcReg::Sp,
    sp_offset: 8,
    bp_reg: OrcReg::Undefined,
    bp_offset: 0,
    kind: OrcType::Call,
    signal: false,
};

fn read(mem: &dyn VirtualMemory, addr: u64, what: &str) -> Result<u64, String> {
    mem.read_u64(addr).map_err(|e| format!("cannot read {what} at {addr:016x}: {e}"))
}

/// The ORC entry for a state's ip: the call instruction's for return
/// addresses, the exact instruction's for interrupted code.
pub(crate) fn entry_for(code: &dyn CodeInfo, state: &UnwindState) -> Result<OrcEntry, String> {
    if state.ip == 0 && state.signal {
        return Ok(NULL_CALL_ENTRY);
    }
    let lookup = if state.signal { state.ip } else { state.ip.wrapping_sub(1) };
    if !code.is_text(lookup) {
        return Err(format!("{:016x} is not a kernel text address", state.ip));
    }
    code.orc(lookup).ok_or_else(|| format!("no ORC unwind entry for {:016x}", state.ip))
}

fn offset(base: u64, off: i16) -> u64 {
    base.wrapping_add(off as i64 as u64)
}

fn reg_from(regs: Option<&X86_64Regs>, pick: fn(&X86_64Regs) -> u64, name: &str) -> Result<u64, String> {
    regs.map(pick).ok_or_else(|| format!("ORC bases the stack pointer on {name}, but no saved registers are at hand"))
}

/// Computes the caller's stack pointer (or the `pt_regs` address for
/// register frames) from an ORC entry.
fn previous_sp(mem: &dyn VirtualMemory, e: &OrcEntry, s: &UnwindState) -> Result<u64, String> {
    let regs = s.regs.as_ref();
    Ok(match e.sp_reg {
        OrcReg::Sp => offset(s.sp, e.sp_offset),
        OrcReg::Bp => offset(s.bp, e.sp_offset),
        OrcReg::SpIndirect => offset(read(mem, s.sp, "indirect stack pointer")?, e.sp_offset),
        OrcReg::BpIndirect => read(mem, offset(s.bp, e.sp_offset), "indirect stack pointer")?,
        OrcReg::R10 => offset(reg_from(regs, |r| r.r10, "R10")?, e.sp_offset),
        OrcReg::R13 => offset(reg_from(regs, |r| r.r13, "R13")?, e.sp_offset),
        OrcReg::Di => offset(reg_from(regs, |r| r.rdi, "DI")?, e.sp_offset),
        OrcReg::Dx => offset(reg_from(regs, |r| r.rdx, "DX")?, e.sp_offset),
        other => return Err(format!("ORC entry at {:016x} has an unusable SP base {other:?}", e.ip)),
    })
}

/// The caller's frame pointer; `prev_sp` is the computed caller SP.
fn previous_bp(mem: &dyn VirtualMemory, e: &OrcEntry, s: &UnwindState, prev_sp: u64) -> Result<u64, String> {
    Ok(match e.bp_reg {
        OrcReg::PrevSp => read(mem, offset(prev_sp, e.bp_offset), "saved frame pointer")?,
        OrcReg::Bp => read(mem, offset(s.bp, e.bp_offset), "saved frame pointer")?,
        _ => s.bp,
    })
}

/// Takes one step outward from `state`. Errors are sentences for a
/// crash-style warning line.
pub fn step(
    mem: &dyn VirtualMemory,
    code: &dyn CodeInfo,
    stacks: &StackSet,
    state: &UnwindState,
) -> Result<StepResult, String> {
    let e = entry_for(code, state)?;
    match e.kind {
        OrcType::EndOfStack => return Ok(StepResult::End),
        OrcType::Undefined => {
            return Err(format!("ORC has no unwind information for {:016x}", state.ip));
        }
        OrcType::Unknown(t) => return Err(format!("ORC entry at {:016x} has unknown type {t}", e.ip)),
        _ => {}
    }
    let prev_sp = previous_sp(mem, &e, state)?;
    let bp = previous_bp(mem, &e, state, prev_sp)?;
    match e.kind {
        OrcType::Call => {
            let slot = prev_sp.wrapping_sub(8);
            if stacks.find(slot).is_none() {
                return Err(format!("return address slot {slot:016x} is on no known stack"));
            }
            let ip = read(mem, slot, "return address")?;
            let same_stack = stacks.find(slot).map(|s| s.kind) == stacks.find(state.sp).map(|s| s.kind);
            if same_stack && prev_sp <= state.sp {
                return Err(format!("stack pointer {prev_sp:016x} goes the wrong way (was {:016x})", state.sp));
            }
            Ok(StepResult::Call { state: UnwindState { ip, sp: prev_sp, bp, signal: false, regs: None }, slot })
        }
        OrcType::Regs => {
            if stacks.find(prev_sp).is_none() {
                return Err(format!("exception frame {prev_sp:016x} is on no known stack"));
            }
            let regs =
                read_pt_regs(mem, prev_sp).map_err(|err| format!("cannot read pt_regs at {prev_sp:016x}: {err}"))?;
            let bp = if e.bp_reg == OrcReg::Undefined { regs.rbp } else { bp };
            Ok(StepResult::Regs {
                state: UnwindState { ip: regs.rip, sp: regs.rsp, bp, signal: true, regs: Some(regs) },
                addr: prev_sp,
                regs,
                partial: false,
            })
        }
        OrcType::RegsPartial => {
            if stacks.find(prev_sp).is_none() {
                return Err(format!("interrupt frame {prev_sp:016x} is on no known stack"));
            }
            let base = state.regs.unwrap_or_else(|| X86_64Regs { rbp: state.bp, ..Default::default() });
            let regs = read_iret_frame(mem, prev_sp, &base)
                .map_err(|err| format!("cannot read the interrupt frame at {prev_sp:016x}: {err}"))?;
            Ok(StepResult::Regs {
                state: UnwindState { ip: regs.rip, sp: regs.rsp, bp, signal: true, regs: None },
                addr: prev_sp.wrapping_sub(IRET_FRAME_OFFSET),
                regs,
                partial: true,
            })
        }
        _ => Err(format!("unexpected ORC entry type at {:016x}", e.ip)),
    }
}
