//! Searches of raw stack words: saved `pt_regs` (for `bt -e` and for
//! recovering past a damaged frame), text addresses (`bt -t`), and the
//! frame a CPU was parked in when the dump was taken.

use krash_core::{VirtualMemory, X86_64Regs};
use serde::Serialize;

use crate::code::CodeInfo;
use crate::ptregs::{is_plausible_kernel_regs, is_plausible_user_regs, le_words, read_pt_regs, PT_REGS_SIZE};
use crate::stacks::{StackKind, StackRange, StackSet};
use crate::step::{step, StepResult, UnwindState};

/// A `pt_regs` found by searching a stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FoundRegs {
    /// Address of the `struct pt_regs`.
    pub addr: u64,
    pub regs: X86_64Regs,
    /// Interrupted in user mode (the syscall/interrupt entry frame).
    pub user_mode: bool,
}

/// A stack word holding a text address (`bt -t`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextWord {
    pub addr: u64,
    pub value: u64,
    pub stack: &'static StackKind,
}

/// Most stack words one search reads (a 16 KiB stack has 2048).
const MAX_SCAN_WORDS: u64 = 1 << 16;

/// The whole aligned words in `[lo, hi)` (at most MAX_SCAN_WORDS of
/// them), as (address, value).
fn words_in(mem: &dyn VirtualMemory, lo: u64, hi: u64) -> Vec<(u64, u64)> {
    let lo = lo & !7;
    let len = (hi.saturating_sub(lo) & !7).min(MAX_SCAN_WORDS * 8);
    let slots = (lo..hi).step_by(8).take((len / 8) as usize);
    let Ok(bytes) = mem.read_vec(lo, len as usize) else {
        // Part of the range is unreadable: fall back to word-by-word reads.
        return slots.filter_map(|a| mem.read_u64(a).ok().map(|v| (a, v))).collect();
    };
    slots.zip(le_words(&bytes)).collect()
}

/// True if the bytes before `addr` end in a call instruction, so `addr`
/// is a plausible return address (direct `call rel32`, or an indirect
/// `call` through a register or memory operand).
pub fn looks_like_return_address(mem: &dyn VirtualMemory, addr: u64) -> bool {
    direct_call_target(mem, addr).is_some() || is_indirect_call_before(mem, addr)
}

/// Where the direct `call rel32` ending at `ret` goes, if one does.
pub(crate) fn direct_call_target(mem: &dyn VirtualMemory, ret: u64) -> Option<u64> {
    let mut call = [0u8; 5];
    mem.read_virt(ret.wrapping_sub(5), &mut call).ok()?;
    let [0xe8, a, b, c, d] = call else { return None };
    Some(ret.wrapping_add(i32::from_le_bytes([a, b, c, d]) as i64 as u64))
}

/// True if the bytes before `ret` end in an indirect `call` (ff /2 through
/// a register or memory operand: lengths 2, 3, 6 and 7, with a REX prefix
/// or SIB).
pub(crate) fn is_indirect_call_before(mem: &dyn VirtualMemory, ret: u64) -> bool {
    let mut before = [0u8; 7];
    if mem.read_virt(ret.wrapping_sub(7), &mut before).is_err() {
        return false;
    }
    let [b0, b1, b2, _, b4, b5, b6] = before;
    // (opcode, ModRM) of a call 7, 6, 3 or 2 bytes long.
    [(b0, b1), (b1, b2), (b4, b5), (b5, b6)].iter().any(|&(op, modrm)| op == 0xff && (modrm >> 3) & 7 == 2)
}

/// Text addresses on `range` from `from` up to its top (`bt -t`/`-T`).
pub fn text_words(mem: &dyn VirtualMemory, code: &dyn CodeInfo, range: &StackRange, from: u64) -> Vec<TextWord> {
    let from = from.max(range.base);
    words_in(mem, from, range.top)
        .into_iter()
        .filter(|&(_, v)| code.is_text(v) && looks_like_return_address(mem, v))
        .map(|(addr, value)| TextWord { addr, value, stack: range.kind })
        .collect()
}

/// The saved registers at `addr` if they look like an entry frame: a
/// kernel-mode frame needs kernel selectors, text RIP and an RSP on a
/// known stack; a user-mode frame must sit at the very top of the task
/// stack, where the entry code puts it.
pub(crate) fn plausible_regs_at(
    mem: &dyn VirtualMemory,
    code: &dyn CodeInfo,
    stacks: &StackSet,
    addr: u64,
) -> Option<FoundRegs> {
    let regs = read_pt_regs(mem, addr).ok()?;
    // RIP 0 is a call through a NULL pointer: the return address is at RSP.
    let rip_ok = code.is_text(regs.rip) || (regs.rip == 0 && mem.read_u64(regs.rsp).is_ok_and(|ret| code.is_text(ret)));
    if is_plausible_kernel_regs(&regs) && rip_ok && stacks.find(regs.rsp).is_some() {
        return Some(FoundRegs { addr, regs, user_mode: false });
    }
    let at_task_top = stacks.task().is_some_and(|t| addr.checked_add(PT_REGS_SIZE) == Some(t.top));
    (at_task_top && is_plausible_user_regs(&regs)).then_some(FoundRegs { addr, regs, user_mode: true })
}

/// Every plausible `pt_regs` on `range` (`bt -e`), lowest address first.
pub fn find_exception_frames(
    mem: &dyn VirtualMemory,
    code: &dyn CodeInfo,
    stacks: &StackSet,
    range: &StackRange,
) -> Vec<FoundRegs> {
    let mut found: Vec<FoundRegs> = Vec::new();
    let mut next_free = range.base;
    let last = range.top.saturating_sub(PT_REGS_SIZE);
    for addr in (range.base..=last).step_by(8) {
        if addr >= next_free {
            if let Some(f) = plausible_regs_at(mem, code, stacks, addr) {
                // addr <= top - PT_REGS_SIZE, so this does not saturate.
                next_free = addr.saturating_add(PT_REGS_SIZE);
                found.push(f);
            }
        }
    }
    found
}

/// The first plausible `pt_regs` at or above `from` on its stack.
pub(crate) fn find_regs_above(
    mem: &dyn VirtualMemory,
    code: &dyn CodeInfo,
    stacks: &StackSet,
    from: u64,
) -> Option<FoundRegs> {
    let range = stacks.find(from)?;
    let last = range.top.checked_sub(PT_REGS_SIZE)?;
    let first = from.checked_add(7)? & !7;
    (first..=last).step_by(8).find_map(|addr| plausible_regs_at(mem, code, stacks, addr))
}

/// Steps allowed between a parked frame and the state it must reach.
const PARK_CHAIN_STEPS: usize = 8;

/// Finds the frame a CPU was stopped in after its registers were saved
/// (kdump saves them before calling `machine_kexec`, and in the NMI
/// handler that then parks the other CPUs). Scans `[lo, hi)` downward for
/// a return address `accept` admits whose ORC chain reaches `goal`;
/// returns that starting state and its slot.
pub fn find_parked_frame(
    mem: &dyn VirtualMemory,
    code: &dyn CodeInfo,
    stacks: &StackSet,
    lo: u64,
    hi: u64,
    accept: &dyn Fn(u64) -> bool,
    goal: &dyn Fn(&StepResult) -> bool,
) -> Option<(UnwindState, u64)> {
    let mut words = words_in(mem, lo, hi);
    words.reverse();
    for (slot, value) in words {
        if !accept(value) {
            continue;
        }
        // The return address pops off: sp moves past the slot, modulo 2^64.
        let start = UnwindState { ip: value, sp: slot.wrapping_add(8), bp: 0, signal: false, regs: None };
        let mut state = start;
        for _ in 0..PARK_CHAIN_STEPS {
            match step(mem, code, stacks, &state) {
                Ok(r) if goal(&r) => return Some((start, slot)),
                Ok(StepResult::Call { state: next, .. }) => state = next,
                _ => break,
            }
        }
    }
    None
}
