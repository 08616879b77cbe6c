//! Searches of raw stack words: saved register frames (`pt_regs`, for
//! `bt -e` and for recovering past a damaged frame), text addresses
//! (`bt -t`), and the frame a CPU was parked in when the dump was taken.

use krash_arch::{Decoded, RegisterFile, RegisterRole};
use krash_core::VirtualMemory;
use serde::Serialize;

use crate::code::CodeInfo;
use crate::stacks::{StackKind, StackRange, StackSet};
use crate::step::{step, StepResult, UnwindState};

/// A `pt_regs` found by searching a stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FoundRegs {
    /// Address of the `struct pt_regs`.
    pub addr: u64,
    pub regs: RegisterFile,
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

/// Bytes read before a candidate return address: at least the longest
/// instruction of any architecture krash implements (x86-64: 15).
const CALL_WINDOW: usize = 16;

/// Every whole little-endian u64 of `bytes` (a partial tail is dropped).
fn le_words(bytes: &[u8]) -> impl Iterator<Item = u64> + '_ {
    // Every chunk `chunks_exact(8)` yields is 8 bytes long, so none is dropped.
    bytes.chunks_exact(8).filter_map(|c| c.first_chunk().copied()).map(u64::from_le_bytes)
}

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

/// The call instruction that ends at `ret`, if one does (direct, or
/// through a register or memory): `ret` is then a plausible return
/// address. The architecture's decoder reads the bytes before `ret`.
pub fn call_before(mem: &dyn VirtualMemory, code: &dyn CodeInfo, ret: u64) -> Option<Decoded> {
    let decoder = code.arch().decoder;
    let mut window = [0u8; CALL_WINDOW];
    let longest = decoder.max_instruction_len().min(CALL_WINDOW);
    // Fewer bytes where the longest window would reach into an unreadable
    // page before `ret` (code at the start of a mapping).
    let len = (1..=longest).rev().find(|&len| {
        let start = u64::try_from(len).ok().and_then(|n| ret.checked_sub(n));
        match (start, window.get_mut(..len)) {
            (Some(start), Some(buf)) => mem.read_virt(start, buf).is_ok(),
            _ => false,
        }
    })?;
    decoder.call_ending_at(window.get(..len)?, ret)
}

/// True if the bytes before `addr` end in a call instruction, so `addr`
/// is a plausible return address.
pub fn looks_like_return_address(mem: &dyn VirtualMemory, code: &dyn CodeInfo, addr: u64) -> bool {
    call_before(mem, code, addr).is_some()
}

/// Text addresses on `range` from `from` up to its top (`bt -t`/`-T`).
pub fn text_words(mem: &dyn VirtualMemory, code: &dyn CodeInfo, range: &StackRange, from: u64) -> Vec<TextWord> {
    let from = from.max(range.base);
    words_in(mem, from, range.top)
        .into_iter()
        .filter(|&(_, v)| code.is_text(v) && looks_like_return_address(mem, code, v))
        .map(|(addr, value)| TextWord { addr, value, stack: range.kind })
        .collect()
}

/// Bytes of the architecture's whole saved-register frame (`pt_regs`).
fn saved_frame_size(code: &dyn CodeInfo) -> u64 {
    u64::try_from(code.arch().saved_regs.full.size).unwrap_or(u64::MAX)
}

/// Where a call through a NULL pointer left its return address: in the
/// return-address register where the architecture has one (arm64's x30),
/// else on the stack at SP (x86-64's `call` pushes it).
fn null_call_return(mem: &dyn VirtualMemory, regs: &RegisterFile) -> Option<u64> {
    match regs.set().with_role(RegisterRole::ReturnAddress) {
        Some(id) => regs.get(id),
        None => mem.read_u64(regs.sp()?).ok(),
    }
}

/// The saved registers at `addr` if they look like an entry frame: a
/// kernel-mode frame needs the architecture's kernel-mode marks (x86-64:
/// selectors, RFLAGS), a text pc and an sp on a known stack; a user-mode
/// frame must sit at the very top of the task stack, where the entry code
/// puts it.
pub(crate) fn plausible_regs_at(
    mem: &dyn VirtualMemory,
    code: &dyn CodeInfo,
    stacks: &StackSet,
    addr: u64,
) -> Option<FoundRegs> {
    let layout = code.arch().saved_regs;
    let regs = layout.read_from(mem, addr).ok()?;
    let (pc, sp) = (regs.pc()?, regs.sp()?);
    if layout.is_plausible_kernel_frame(&regs) && stacks.find(sp).is_some() {
        // pc 0 is a call through a NULL pointer: its caller must be text.
        let pc_ok = code.is_text(pc) || (pc == 0 && null_call_return(mem, &regs).is_some_and(|ret| code.is_text(ret)));
        if pc_ok {
            return Some(FoundRegs { addr, regs, user_mode: false });
        }
    }
    let at_task_top = stacks.task().is_some_and(|t| addr.checked_add(saved_frame_size(code)) == Some(t.top));
    (at_task_top && layout.is_plausible_user_frame(&regs)).then_some(FoundRegs { addr, regs, user_mode: true })
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
    let size = saved_frame_size(code);
    let last = range.top.saturating_sub(size);
    for addr in (range.base..=last).step_by(8) {
        if addr >= next_free {
            if let Some(f) = plausible_regs_at(mem, code, stacks, addr) {
                // addr <= top - size, so this does not saturate.
                next_free = addr.saturating_add(size);
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
    let last = range.top.checked_sub(saved_frame_size(code))?;
    let first = from.checked_add(7)? & !7;
    (first..=last).step_by(8).find_map(|addr| plausible_regs_at(mem, code, stacks, addr))
}

/// Steps allowed between a parked frame and the state it must reach.
const PARK_CHAIN_STEPS: usize = 8;

/// The frame pointer of the function a return address at `slot` returns
/// into, on a frame-pointer kernel: the first frame record above the slot
/// (a saved RBP pointing higher on the same stack, followed by a return
/// address). The callee may have saved no RBP of its own (assembly code),
/// so the record is searched for instead of read below the slot.
fn frame_record_above(mem: &dyn VirtualMemory, code: &dyn CodeInfo, stacks: &StackSet, slot: u64) -> u64 {
    let Some(stack) = stacks.find(slot) else { return 0 };
    let mut at = slot.wrapping_add(8);
    for _ in 0..FRAME_RECORD_SEARCH_WORDS {
        if !stack.contains(at.wrapping_add(8)) {
            break;
        }
        let saved = mem.read_u64(at).unwrap_or(0);
        let ret = mem.read_u64(at.wrapping_add(8)).unwrap_or(0);
        if saved > at && stack.contains(saved) && looks_like_return_address(mem, code, ret) {
            return at;
        }
        at = at.wrapping_add(8);
    }
    0
}

/// Words above a return address searched for its function's frame record.
const FRAME_RECORD_SEARCH_WORDS: usize = 128;

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
        // Code without ORC (a frame-pointer kernel) is followed by its
        // frame-pointer chain: the callee that returns to `value` saved its
        // caller's RBP just below the return address.
        let bp = if code.orc(value).is_none() { frame_record_above(mem, code, stacks, slot) } else { 0 };
        // The return address pops off: sp moves past the slot, modulo 2^64.
        let start = UnwindState { ip: value, sp: slot.wrapping_add(8), bp, signal: false, regs: None };
        let mut state = start;
        for _ in 0..PARK_CHAIN_STEPS {
            let stepped = match step(mem, code, stacks, &state) {
                Err(_) if code.orc(state.ip).is_none() => crate::method::fp_step(mem, code, stacks, &state),
                other => other,
            };
            match stepped {
                Ok(r) if goal(&r) => return Some((start, slot)),
                Ok(StepResult::Call { state: next, .. }) => state = next,
                _ => break,
            }
        }
    }
    None
}
