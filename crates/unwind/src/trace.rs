//! The unwind driver: repeated ORC steps from a starting state, turned
//! into crash's sequence of frames, exception blocks and stack switches,
//! with recovery from saved registers where a step fails.

use krash_arch::{FlowKind, RegisterFile};
use krash_core::VirtualMemory;
use serde::Serialize;

use crate::code::{CodeInfo, Symbolized};
use crate::method::{bp_known_after, step_knows_cfa, step_with, Method};
use crate::scan::{call_before, find_regs_above, FoundRegs};
use crate::stacks::{StackClass, StackKind, StackSet};
use crate::step::{step, StepResult, UnwindState};

/// Most frames one backtrace prints (a runaway unwind stops here).
pub const MAX_FRAMES: usize = 256;

/// Where an unwind begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartState {
    pub state: UnwindState,
    /// The address crash prints in brackets for frame #0: the stack slot
    /// holding its return address, or the stack pointer for exact registers.
    pub slot: u64,
}

impl StartState {
    /// Starts from a full register set (crash-time CPU registers).
    pub fn from_regs(regs: &RegisterFile) -> Self {
        let state = UnwindState::from_regs(regs);
        StartState { state, slot: state.sp }
    }
}

/// One frame: a code address in a function, with the stack slot it was
/// found in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Frame {
    pub level: usize,
    /// crash's bracketed address: where the return address was read, or
    /// the interrupted stack pointer for a frame entered from registers.
    pub slot: u64,
    /// The code address (a return address, or an exact RIP).
    pub pc: u64,
    /// The stack pointer in this frame after unwinding to it.
    pub sp: u64,
    /// The function; for return addresses looked up at `pc - 1` so a call
    /// at a function's very end names the caller, offset relative to `pc`.
    pub symbol: Option<Symbolized>,
    /// `pc` is the interrupted instruction (from saved registers).
    pub exact: bool,
    /// The stack the slot is on (the last known one when it is on none;
    /// `None` only when no stack is known at all).
    pub stack: Option<&'static StackKind>,
    /// Reached only after recovering registers from a damaged stack.
    pub recovered: bool,
    /// The canonical frame address (the stack pointer before the call into
    /// this frame's function: its return-address slot + 8), when an ORC
    /// step out of this frame computed it.
    pub cfa: Option<u64>,
    /// Every register, for a frame entered from saved registers (`exact`).
    pub regs: Option<RegisterFile>,
    /// The frame pointer (RBP) when the unwinder knows it here (ORC tracks
    /// where each function saves it); other callee-saved registers are
    /// unknown in ORC frames.
    pub bp: Option<u64>,
    /// Callee-saved registers this frame's callee pushed in its prologue,
    /// read back from the stack (`None` when none were found). Boxed: most
    /// frames have none, and a register file is large.
    pub saved: Option<Box<RegisterFile>>,
}

/// Registers saved by an exception, interrupt or system call entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExceptionFrame {
    /// Address of the `struct pt_regs`.
    pub addr: u64,
    pub regs: RegisterFile,
    /// Only the hardware iret frame was saved (ORC REGS_PARTIAL): `regs`
    /// holds just its registers.
    pub partial: bool,
    pub user_mode: bool,
    /// The interrupted function (kernel mode only).
    pub rip_symbol: Option<Symbolized>,
    /// Found by searching the stack rather than by ORC.
    pub recovered: bool,
}

/// One line group of a backtrace, in output order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TraceItem {
    Frame(Frame),
    Exception(ExceptionFrame),
    /// The trace leaves this stack (`--- <IRQ stack> ---`).
    StackSwitch {
        /// Serialized as the kind's key (`"irq"`).
        from: &'static StackKind,
    },
    /// A crash-style warning: why unwinding could not continue normally.
    Warning {
        message: String,
    },
}

/// A task's or CPU's backtrace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Backtrace {
    pub items: Vec<TraceItem>,
}

impl Backtrace {
    /// The frames only, in order.
    pub fn frames(&self) -> impl Iterator<Item = &Frame> {
        self.items.iter().filter_map(|i| match i {
            TraceItem::Frame(f) => Some(f),
            _ => None,
        })
    }
}

struct Builder<'a> {
    code: &'a dyn CodeInfo,
    method: Method,
    stacks: &'a StackSet,
    items: Vec<TraceItem>,
    level: usize,
    current_stack: Option<&'static StackKind>,
    recovered: bool,
    /// The unwind state's RBP is the real register value.
    bp_known: bool,
    /// Index in `items` of the frame the unwind state describes.
    current_frame: Option<usize>,
}

impl Builder<'_> {
    fn enter_stack(&mut self, addr: u64) {
        let kind = self.stacks.find(addr).map(|s| s.kind);
        if let (Some(prev), Some(now)) = (self.current_stack, kind) {
            if prev != now {
                self.items.push(TraceItem::StackSwitch { from: prev });
            }
        }
        if kind.is_some() {
            self.current_stack = kind;
        }
    }

    fn frame(&mut self, state: &UnwindState, slot: u64) {
        self.enter_stack(slot);
        let symbol = if state.signal {
            self.code.symbolize(state.ip)
        } else {
            // The offset of ip itself: (ip - 1 - symbol) + 1, modulo 2^64 like ip - 1.
            self.code.symbolize(state.ip.wrapping_sub(1)).map(|s| Symbolized { offset: s.offset.wrapping_add(1), ..s })
        };
        self.current_frame = Some(self.items.len());
        self.items.push(TraceItem::Frame(Frame {
            level: self.level,
            slot,
            pc: state.ip,
            sp: state.sp,
            symbol,
            exact: state.signal,
            stack: self.current_stack.or_else(|| self.stacks.task().map(|t| t.kind)),
            recovered: self.recovered,
            cfa: None,
            regs: if state.signal { state.regs } else { None },
            bp: self.bp_known.then_some(state.bp),
            saved: None,
        }));
        // Frames are capped at MAX_FRAMES, far below the type's limit.
        self.level = self.level.saturating_add(1);
    }

    /// Records the CFA an ORC step computed for the current frame.
    fn set_cfa(&mut self, cfa: u64) {
        if let Some(TraceItem::Frame(f)) = self.current_frame.and_then(|i| self.items.get_mut(i)) {
            f.cfa = Some(cfa);
        }
    }

    /// Tracks whether RBP stays known across a step from `state`: read
    /// from the stack at the caller's SP it is; carried over it stays as
    /// known as it was; read relative to an unknown RBP it is not.
    fn track_bp(&mut self, code: &dyn CodeInfo, state: &UnwindState) {
        if let Some(known) = bp_known_after(self.method, code, state) {
            self.bp_known = known;
        }
    }

    fn exception(&mut self, addr: u64, regs: &RegisterFile, partial: bool, recovered: bool) {
        let user_mode = self.code.arch().saved_regs.is_user_mode(regs);
        let rip_symbol = if user_mode { None } else { regs.pc().and_then(|pc| self.code.symbolize(pc)) };
        self.items.push(TraceItem::Exception(ExceptionFrame {
            addr,
            regs: *regs,
            partial,
            user_mode,
            rip_symbol,
            recovered,
        }));
    }

    fn warn(&mut self, message: String) {
        self.items.push(TraceItem::Warning { message });
    }
}

/// Where to look for saved registers after a failed step at `sp`: the
/// stack itself from `sp` up, then (from an IRQ stack) the interrupted
/// stack the IRQ stack's top word links back to.
fn recover(mem: &dyn VirtualMemory, code: &dyn CodeInfo, stacks: &StackSet, sp: u64) -> Option<FoundRegs> {
    if let Some(found) = find_regs_above(mem, code, stacks, sp) {
        return Some(found);
    }
    let range = stacks.find(sp)?;
    if range.is(StackClass::Irq) {
        let back_link = mem.read_u64(range.top.checked_sub(8)?).ok()?;
        if stacks.find(back_link).is_some_and(|s| !s.is(StackClass::Irq)) {
            return find_regs_above(mem, code, stacks, back_link);
        }
    }
    None
}

/// Stack words searched for a caller when ORC has a gap.
const CALLER_SCAN_WORDS: u64 = 512;
/// Steps a scanned candidate must survive to be believed.
const CALLER_CHAIN_STEPS: usize = 1;

/// True if unwinding from `state` works for a few steps (or ends cleanly).
fn chain_holds(mem: &dyn VirtualMemory, code: &dyn CodeInfo, stacks: &StackSet, state: UnwindState) -> bool {
    let mut s = state;
    for _ in 0..CALLER_CHAIN_STEPS {
        match step(mem, code, stacks, &s) {
            Ok(StepResult::End) | Ok(StepResult::Regs { .. }) => return true,
            Ok(StepResult::Call { state: next, .. }) if code.is_text(next.ip) => s = next,
            _ => return false,
        }
    }
    true
}

/// Finds the caller of a function ORC does not describe (objtool skips
/// functions marked as having non-standard frames, such as
/// `__crash_kexec`): the first return address above `sp` whose own
/// unwind holds. When that function (`callee`) is known, a direct call
/// must target it: its frame may hold copies of older return addresses
/// (`__crash_kexec` keeps a copy of the oops's `pt_regs`) that would
/// otherwise pass for its caller.
fn scan_for_caller(
    mem: &dyn VirtualMemory,
    code: &dyn CodeInfo,
    stacks: &StackSet,
    sp: u64,
    bp: u64,
    callee: Option<u64>,
) -> Option<(UnwindState, u64)> {
    let range = stacks.find(sp)?;
    let end = range.top.min(sp.saturating_add(CALLER_SCAN_WORDS * 8));
    for slot in ((sp & !7)..end).step_by(8) {
        if let Ok(w) = mem.read_u64(slot) {
            let calls_callee = callee.is_none_or(|f| may_call(mem, code, w, f));
            if code.is_text(w) && call_before(mem, code, w).is_some() && calls_callee {
                // The return address pops off: sp moves past the slot, modulo 2^64.
                let candidate = UnwindState { ip: w, sp: slot.wrapping_add(8), bp, signal: false, regs: None };
                if chain_holds(mem, code, stacks, candidate) {
                    return Some((candidate, slot));
                }
            }
        }
    }
    None
}

/// Bytes before a function that a patched direct call may target instead
/// of the function itself (call-depth-tracking thunks in its padding).
const CALL_PADDING: u64 = 64;

/// True unless the call before return address `ret` is a direct call to
/// somewhere other than `callee`, the entry address of a function (an
/// indirect call could reach anything).
fn may_call(mem: &dyn VirtualMemory, code: &dyn CodeInfo, ret: u64, callee: u64) -> bool {
    let direct = call_before(mem, code, ret).filter(|c| c.flow == FlowKind::Call).and_then(|c| c.branch_target);
    let Some(target) = direct else { return true };
    if (callee.saturating_sub(CALL_PADDING)..=callee).contains(&target) {
        return true;
    }
    let name = |addr: u64| code.symbolize(addr).map(|s| (s.name, s.module));
    name(target).is_some_and(|t| Some(t) == name(callee))
}

/// The entry address of the function holding `state`'s code address.
fn function_entry(code: &dyn CodeInfo, state: &UnwindState) -> Option<u64> {
    let lookup = if state.signal { state.ip } else { state.ip.wrapping_sub(1) };
    code.symbolize(lookup).and_then(|s| lookup.checked_sub(s.offset))
}

/// True if ORC covers `state.ip` with an explicit "no information" entry:
/// a function objtool deliberately left out, not damage.
fn in_orc_gap(code: &dyn CodeInfo, state: &UnwindState) -> bool {
    let lookup = if state.signal { state.ip } else { state.ip.wrapping_sub(1) };
    code.is_text(lookup) && code.orc(lookup).is_some_and(|e| e.kind == krash_debuginfo::orc::OrcType::Undefined)
}

/// Unwinds from `start` over `stacks` (ORC, with the DWARF CFI fallback),
/// producing crash's frame sequence.
pub fn unwind(mem: &dyn VirtualMemory, code: &dyn CodeInfo, stacks: &StackSet, start: StartState) -> Backtrace {
    unwind_with(Method::Auto, mem, code, stacks, start)
}

/// [`unwind`] following only the tables `method` names (where they fail,
/// recovery from saved registers still applies, marked as such).
pub fn unwind_with(
    method: Method,
    mem: &dyn VirtualMemory,
    code: &dyn CodeInfo,
    stacks: &StackSet,
    start: StartState,
) -> Backtrace {
    let mut b = Builder {
        code,
        method,
        stacks,
        items: Vec::new(),
        level: 0,
        current_stack: None,
        recovered: false,
        bp_known: start.state.regs.is_some(),
        current_frame: None,
    };
    let mut state = start.state;
    let mut search_floor = 0u64;
    if state.ip != 0 || !state.signal {
        if code.is_text(state.ip) {
            b.frame(&state, start.slot);
        } else {
            b.enter_stack(start.slot);
        }
    }
    let mut seen: Vec<(u64, u64)> = Vec::new();
    while b.level < MAX_FRAMES {
        if seen.contains(&(state.ip, state.sp)) {
            b.warn(format!("frame {:016x} at stack {:016x} repeats: stopping", state.ip, state.sp));
            break;
        }
        seen.push((state.ip, state.sp));
        let failure = match step_with(method, mem, code, stacks, &state) {
            Ok(StepResult::End) => break,
            Ok(StepResult::Call { state: next, slot }) => {
                if code.is_text(next.ip) {
                    if step_knows_cfa(method, code) {
                        b.set_cfa(next.sp);
                    } else if let Some(cfa) =
                        crate::frame_record::frame_record_cfa(mem, code, crate::method::lookup_ip(&state), state.bp)
                    {
                        b.set_cfa(cfa);
                    }
                    b.track_bp(code, &state);
                    state = next;
                    b.frame(&state, slot);
                    continue;
                }
                format!("return address {:016x} at [{slot:016x}] is not kernel text", next.ip)
            }
            Ok(StepResult::Regs { state: next, addr, regs, partial }) => {
                b.exception(addr, &regs, partial, false);
                if code.arch().saved_regs.is_user_mode(&regs) {
                    break;
                }
                if partial {
                    b.track_bp(code, &state);
                } else {
                    b.bp_known = true;
                }
                b.current_frame = None;
                state = next;
                if state.ip == 0 {
                    // A call through a NULL pointer: the next step finds
                    // the caller's return address where the call left it.
                    b.enter_stack(state.sp);
                    continue;
                }
                if code.is_text(state.ip) {
                    b.frame(&state, state.sp);
                    continue;
                }
                "possibly bogus exception frame: RIP is not kernel text".to_string()
            }
            Err(reason) => {
                if matches!(method, Method::Auto | Method::Orc) && in_orc_gap(code, &state) {
                    let callee = function_entry(code, &state);
                    if let Some((next, slot)) = scan_for_caller(mem, code, stacks, state.sp, state.bp, callee) {
                        b.bp_known = false;
                        state = next;
                        b.frame(&state, slot);
                        continue;
                    }
                }
                reason
            }
        };
        b.warn(failure);
        let from = state.sp.max(search_floor);
        let Some(found) = recover(mem, code, stacks, from) else {
            if let Some((next, slot)) = scan_for_caller(mem, code, stacks, from, state.bp, None) {
                b.warn(format!(
                    "continuing from the return address found at [{slot:016x}] (frames below are recovered)"
                ));
                b.recovered = true;
                b.bp_known = false;
                state = next;
                b.frame(&state, slot);
                continue;
            }
            b.warn("no saved registers or return addresses found further up the stack: the backtrace ends here".into());
            break;
        };
        // found.addr <= top - the frame's size, so this does not saturate.
        search_floor = found.addr.saturating_add(8);
        b.warn(format!("continuing from registers saved at {:016x} (frames below are recovered)", found.addr));
        b.recovered = true;
        b.bp_known = true;
        b.exception(found.addr, &found.regs, false, true);
        if found.user_mode {
            break;
        }
        state = UnwindState::from_regs(&found.regs);
        b.frame(&state, state.sp);
    }
    let mut items = b.items;
    crate::callee_saved::recover(mem, code, &mut items);
    Backtrace { items }
}
