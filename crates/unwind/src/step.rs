//! One ORC unwind step: from a frame's (ip, sp, bp) to its caller's, or to
//! the registers an exception saved. ORC exists only on x86-64, so the
//! registers it names are x86-64's; the saved-register frames it points at
//! are read with the architecture's `pt_regs` layout.

use krash_arch::x86_64::{R10, R13, RDI, RDX};
use krash_arch::{RegisterFile, RegisterId};
use krash_core::VirtualMemory;
use krash_debuginfo::orc::{OrcEntry, OrcReg, OrcType};

use crate::code::CodeInfo;
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
    /// DI or DX, or DWARF CFI on another register.
    pub regs: Option<RegisterFile>,
}

impl UnwindState {
    /// The state a full register set describes: interrupted exactly at
    /// its pc (registers that are unknown read as 0).
    pub fn from_regs(regs: &RegisterFile) -> Self {
        UnwindState {
            ip: regs.pc().unwrap_or(0),
            sp: regs.sp().unwrap_or(0),
            bp: regs.fp().unwrap_or(0),
            signal: true,
            regs: Some(*regs),
        }
    }
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
    Regs { state: UnwindState, addr: u64, regs: RegisterFile, partial: bool },
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

fn reg_from(regs: Option<&RegisterFile>, id: RegisterId, name: &str) -> Result<u64, String> {
    regs.and_then(|r| r.get(id))
        .ok_or_else(|| format!("ORC bases the stack pointer on {name}, but no saved registers are at hand"))
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
        OrcReg::R10 => offset(reg_from(regs, R10, "R10")?, e.sp_offset),
        OrcReg::R13 => offset(reg_from(regs, R13, "R13")?, e.sp_offset),
        OrcReg::Di => offset(reg_from(regs, RDI, "DI")?, e.sp_offset),
        OrcReg::Dx => offset(reg_from(regs, RDX, "DX")?, e.sp_offset),
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
            let regs = code
                .arch()
                .saved_regs
                .read_from(mem, prev_sp)
                .map_err(|err| format!("cannot read pt_regs at {prev_sp:016x}: {err}"))?;
            let mut state = UnwindState::from_regs(&regs);
            if e.bp_reg != OrcReg::Undefined {
                state.bp = bp;
            }
            Ok(StepResult::Regs { state, addr: prev_sp, regs, partial: false })
        }
        OrcType::RegsPartial => {
            if stacks.find(prev_sp).is_none() {
                return Err(format!("interrupt frame {prev_sp:016x} is on no known stack"));
            }
            // Only what the hardware saved is known of the interrupted
            // state; the frame pointer carries over as ORC says.
            let saved_regs = code.arch().saved_regs;
            let regs = saved_regs
                .read_hw_frame_from(mem, prev_sp, &code.arch().new_registers())
                .map_err(|err| format!("cannot read the interrupt frame at {prev_sp:016x}: {err}"))?;
            // The frame is the tail of a whole saved frame: report where that starts.
            let hw_offset = saved_regs.hw_frame_offset().and_then(|o| u64::try_from(o).ok()).unwrap_or(0);
            Ok(StepResult::Regs {
                state: UnwindState { bp, regs: None, ..UnwindState::from_regs(&regs) },
                addr: prev_sp.wrapping_sub(hw_offset),
                regs,
                partial: true,
            })
        }
        _ => Err(format!("unexpected ORC entry type at {:016x}", e.ip)),
    }
}
