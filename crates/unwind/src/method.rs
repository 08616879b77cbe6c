//! The unwind methods besides ORC: DWARF CFI steps and frame-pointer
//! steps, and the choice between them (ORC with a CFI fallback by default).

use krash_core::VirtualMemory;
use krash_debuginfo::orc::OrcType;
use serde::Serialize;

use krash_arch::{FlowKind, RegisterRole};

use crate::cfi::{eval_cfa_expression, CfaRule, SavedRule};
use crate::code::CodeInfo;
use crate::scan::looks_like_return_address;
use crate::stacks::StackSet;
use crate::step::{step, StepResult, UnwindState};

/// Which tables an unwind follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// ORC, falling back to DWARF CFI where ORC has no entry for a RIP.
    #[default]
    Auto,
    /// ORC only.
    Orc,
    /// DWARF CFI (`.debug_frame`) only.
    Dwarf,
    /// The frame-pointer chain only (kernels built with frame pointers).
    FramePointer,
}

impl Method {
    /// Parses `auto`, `orc`, `dwarf` (or `cfi`), `fp`.
    pub fn from_name(name: &str) -> Option<Method> {
        Some(match name {
            "auto" => Method::Auto,
            "orc" => Method::Orc,
            "dwarf" | "cfi" => Method::Dwarf,
            "fp" | "frame-pointer" => Method::FramePointer,
            _ => return None,
        })
    }
}

fn read(mem: &dyn VirtualMemory, addr: u64, what: &str) -> Result<u64, String> {
    mem.read_u64(addr).map_err(|e| format!("cannot read {what} at {addr:016x}: {e}"))
}

/// The lookup address for a state: the call instruction for return
/// addresses, the instruction itself for interrupted code.
pub(crate) fn lookup_ip(state: &UnwindState) -> u64 {
    if state.signal {
        state.ip
    } else {
        state.ip.wrapping_sub(1)
    }
}

fn name_of(code: &dyn CodeInfo, addr: u64) -> String {
    code.symbolize(addr).map(|s| s.name).unwrap_or_else(|| format!("{addr:016x}"))
}

/// Checks a computed return-address slot and caller SP the way ORC steps do.
fn check_call(stacks: &StackSet, state: &UnwindState, slot: u64, caller_sp: u64) -> Result<(), String> {
    let Some(slot_stack) = stacks.find(slot) else {
        return Err(format!("return address slot {slot:016x} is on no known stack"));
    };
    let same_stack = Some(slot_stack.kind) == stacks.find(state.sp).map(|s| s.kind);
    if same_stack && caller_sp <= state.sp {
        return Err(format!("stack pointer {caller_sp:016x} goes the wrong way (was {:016x})", state.sp));
    }
    Ok(())
}

/// One step by DWARF CFI. Assembly code (the entry code, stack-switching
/// trampolines) has no CFI in the kernel, so on x86-64 a CFI-only trace
/// ends there. On arm64 such code, module code (whose CFI krash does not
/// read) and frames whose return address CFI cannot place are stepped by
/// their frame records instead: that is how the trace crosses exception
/// frames (the record the entry code builds inside `pt_regs`) and the IRQ
/// stack (`call_on_irq_stack`'s record), down to the user registers.
pub fn cfi_step(
    mem: &dyn VirtualMemory,
    code: &dyn CodeInfo,
    stacks: &StackSet,
    state: &UnwindState,
) -> Result<StepResult, String> {
    let set = code.arch().registers;
    let link_register = set.with_role(RegisterRole::ReturnAddress);
    if link_register.is_some() && state.signal && state.ip == 0 {
        // A call through a NULL pointer: nothing ran at 0, so the caller's
        // return address is still in the link register and the stack
        // pointer is the caller's.
        return Ok(from_link_register(code, state, state.sp)
            .ok_or("a call through a NULL pointer, with no link register at hand")?);
    }
    let lookup = lookup_ip(state);
    if !code.is_text(lookup) {
        return Err(format!("{:016x} is not a kernel text address", state.ip));
    }
    let Some(row) = code.cfi(lookup) else {
        if link_register.is_some() {
            return frame_record_step(mem, code, stacks, state);
        }
        return Err(match code.symbolize(lookup) {
            Some(s) if s.module.is_some() => {
                format!("no DWARF CFI for {} [{}] (modules' CFI is not read)", s.name, s.module.unwrap_or_default())
            }
            _ => format!("no DWARF CFI for {} (assembly code has none)", name_of(code, lookup)),
        });
    };
    // Only x86-64 switches to the IRQ stack in inline assembly the CFI
    // does not describe; arm64's `call_on_irq_stack` keeps a frame record.
    let sp = match link_register {
        None => switched_from(mem, stacks, state).unwrap_or(state.sp),
        Some(_) => state.sp,
    };
    let (sp_column, fp_column) =
        (set.dwarf_number(RegisterRole::StackPointer), set.dwarf_number(RegisterRole::FramePointer));
    let register = |n: u16| {
        if Some(n) == sp_column {
            Some(sp)
        } else if Some(n) == fp_column {
            Some(state.bp)
        } else {
            state.regs.as_ref().and_then(|r| r.by_dwarf(n))
        }
    };
    let cfa = match &row.cfa {
        CfaRule::RegisterOffset { register: n, offset } => register(*n)
            .ok_or_else(|| format!("DWARF CFI bases the CFA on register {n}, which is unknown here"))?
            .wrapping_add(*offset as u64),
        CfaRule::Expression(expr) => eval_cfa_expression(expr, &register, &|a| mem.read_u64(a).ok())?,
    };
    let (ip, slot) = match row.return_address {
        SavedRule::AtCfa(off) => {
            let slot = cfa.wrapping_add(off as u64);
            check_call(stacks, state, slot, cfa)
                .map_err(|e| explain_stack_switch(stacks, state, slot, code, lookup, e))?;
            // Signed or not, the stripped address is the code address
            // (stripping leaves an unsigned kernel address as it is).
            (code.return_address(read(mem, slot, "return address")?), slot)
        }
        SavedRule::Unchanged if link_register.is_some() => {
            // Still in the link register: known only in a frame entered
            // from saved registers (an interrupted leaf or prologue). In a
            // frame reached by a return, the function has called out, so
            // it must have saved the link register: the row is wrong
            // there, and the frame record knows better.
            if stacks.find(cfa).is_some() && cfa < state.sp {
                return Err(format!("CFA {cfa:016x} lies below the stack pointer {:016x}", state.sp));
            }
            return match from_link_register(code, state, cfa) {
                Some(StepResult::Call { state: next, slot }) => {
                    let bp = caller_frame_pointer(mem, &row.fp, cfa, state.bp)?;
                    Ok(StepResult::Call { state: UnwindState { bp, ..next }, slot })
                }
                _ => frame_record_step(mem, code, stacks, state),
            };
        }
        SavedRule::Undefined if link_register.is_some() => return frame_record_step(mem, code, stacks, state),
        SavedRule::Undefined => return Ok(StepResult::End),
        other => return Err(format!("DWARF CFI rule {other:?} for the return address of {}", name_of(code, lookup))),
    };
    let bp = caller_frame_pointer(mem, &row.fp, cfa, state.bp)?;
    Ok(StepResult::Call { state: UnwindState { ip, sp: cfa, bp, signal: false, regs: None }, slot })
}

/// The caller's frame pointer by its CFI rule: saved at a CFA-relative
/// slot, or (any other rule) the register as it is.
fn caller_frame_pointer(mem: &dyn VirtualMemory, rule: &SavedRule, cfa: u64, bp: u64) -> Result<u64, String> {
    match rule {
        SavedRule::AtCfa(off) => read(mem, cfa.wrapping_add(*off as u64), "saved frame pointer"),
        _ => Ok(bp),
    }
}

/// The caller of a frame entered from saved registers whose return
/// address is still in the link register; `caller_sp` is the stack
/// pointer after the return. The slot shown is the stack pointer, as for
/// any frame without a saved return address.
fn from_link_register(code: &dyn CodeInfo, state: &UnwindState, caller_sp: u64) -> Option<StepResult> {
    let link_register = code.arch().registers.with_role(RegisterRole::ReturnAddress)?;
    let raw = state.regs.as_ref().filter(|_| state.signal)?.get(link_register)?;
    let ip = code.return_address(raw);
    Some(StepResult::Call {
        state: UnwindState { ip, sp: caller_sp, bp: state.bp, signal: false, regs: None },
        slot: state.sp,
    })
}

/// A frame-record step (arm64) for code CFI does not describe, with the
/// caller's stack pointer re-derived from the caller's CFI: a record says
/// where the caller's record is (its x29), not how far the caller's frame
/// reaches below it, and the caller's CFA rule is relative to its SP.
fn frame_record_step(
    mem: &dyn VirtualMemory,
    code: &dyn CodeInfo,
    stacks: &StackSet,
    state: &UnwindState,
) -> Result<StepResult, String> {
    match crate::frame_record::step(mem, code, stacks, state)? {
        StepResult::Call { state: mut next, slot } => {
            if let Some(sp) = sp_from_frame_record(code, stacks, &next) {
                next.sp = sp;
            }
            Ok(StepResult::Call { state: next, slot })
        }
        other => Ok(other),
    }
}

/// The stack pointer of a frame reached by a frame-record step: x29 points
/// at the frame's own record (the AAPCS64 rule), whose first word is the
/// saved x29, so where the CFI saves x29 at CFA + k the CFA is x29 - k,
/// and an SP-relative CFA rule (SP + n) gives SP = CFA - n. `None` where
/// the CFI does not have that shape, or the result is on no known stack.
fn sp_from_frame_record(code: &dyn CodeInfo, stacks: &StackSet, next: &UnwindState) -> Option<u64> {
    let row = code.cfi(lookup_ip(next))?;
    let SavedRule::AtCfa(fp_offset) = row.fp else { return None };
    let CfaRule::RegisterOffset { register, offset } = row.cfa else { return None };
    if Some(register) != code.arch().registers.dwarf_number(RegisterRole::StackPointer) {
        return None;
    }
    let cfa = next.bp.checked_add_signed(fp_offset.checked_neg()?)?;
    let sp = cfa.checked_add_signed(offset.checked_neg()?)?;
    let same_stack = stacks.find(sp).map(|s| s.kind) == stacks.find(next.bp).map(|s| s.kind);
    (same_stack && stacks.find(sp).is_some()).then_some(sp)
}

/// The stack pointer a function had before it moved to the IRQ stack in
/// inline assembly (`call_on_irqstack` saves it in the IRQ stack's top
/// word and restores it after the call): when `state` sits right at that
/// word and it points into another known stack, the caller's CFI applies
/// to the saved value, as ORC's indirect SP entries say.
fn switched_from(mem: &dyn VirtualMemory, stacks: &StackSet, state: &UnwindState) -> Option<u64> {
    let irq = stacks.find(state.sp).filter(|s| s.is(crate::stacks::StackClass::Irq))?;
    if state.sp.checked_add(8) != Some(irq.top) {
        return None;
    }
    let saved = mem.read_u64(state.sp).ok()?;
    stacks.find(saved).filter(|s| s.kind != irq.kind).map(|_| saved)
}

/// Bytes above a stack's top where a CFA computed as if no stack switch
/// happened lands (the callee's frame size on the other stack).
const SWITCH_SLACK: u64 = 0x1000;

/// Adds why a CFI step may leave every known stack: the kernel switches
/// to the IRQ stack in inline assembly (`call_on_irqstack`), which the
/// compiler's CFI for the calling function does not describe.
fn explain_stack_switch(
    stacks: &StackSet,
    state: &UnwindState,
    slot: u64,
    code: &dyn CodeInfo,
    lookup: u64,
    error: String,
) -> String {
    let just_above = stacks.find(state.sp).is_some_and(|s| (s.top..s.top.saturating_add(SWITCH_SLACK)).contains(&slot));
    if stacks.find(slot).is_none() && just_above {
        return format!(
            "{error}: {} switched stacks in inline assembly, which DWARF CFI does not describe",
            name_of(code, lookup)
        );
    }
    error
}

/// One step along the RBP chain: the saved RBP at `[rbp]`, the return
/// address above it. Meaningful only where every function sets up RBP.
pub fn fp_step(
    mem: &dyn VirtualMemory,
    code: &dyn CodeInfo,
    stacks: &StackSet,
    state: &UnwindState,
) -> Result<StepResult, String> {
    let bp = state.bp;
    let saved_regs = code.arch().saved_regs;
    if let Some(regs) = user_entry_regs(mem, stacks, state, saved_regs) {
        // The system-call entry saved the user registers at the top of the
        // task stack and called in without a frame record of its own: its
        // pt_regs are the last frame, as in the kernel's own unwinder.
        return Ok(StepResult::Regs { state: UnwindState::from_regs(&regs), addr: state.sp, regs, partial: false });
    }
    if state.signal && at_frame_epilogue(mem, code, state.ip) {
        // Interrupted between `pop %rbp` and `ret`: RBP is already the
        // caller's, and the return address is the word at SP (the kernel's
        // own unwinder prints this caller with a "?").
        let slot = state.sp;
        let ip = read(mem, slot, "return address")?;
        if looks_like_return_address(mem, code, ip) {
            let next = UnwindState { ip, sp: slot.wrapping_add(8), bp, signal: false, regs: None };
            return Ok(StepResult::Call { state: next, slot });
        }
    }
    if state.signal {
        if let Some(slot) = frameless_return_slot(mem, code, state) {
            // Interrupted where the function has not (or never) set up its
            // frame: a leaf compiled without one, or a prologue cut short.
            // RBP is still the caller's; the return address is above the
            // words pushed so far. The kernel's unwinder shows this caller
            // with a "?".
            let ip = read(mem, slot, "return address")?;
            if looks_like_return_address(mem, code, ip) {
                let next = UnwindState { ip, sp: slot.wrapping_add(8), bp, signal: false, regs: None };
                return Ok(StepResult::Call { state: next, slot });
            }
        }
    }
    if bp == 0 {
        // The outermost frame of a frame-pointer kernel, or an RBP nobody
        // knows (a parked kdump frame): either way the chain ends here.
        return Err("RBP is 0: the frame-pointer chain ends here".to_string());
    }
    if let Some(tag) = saved_regs.frame_pointer_regs_tag.filter(|&tag| bp & tag != 0) {
        // Entry code pointed RBP at the registers it saved: the walk goes on
        // in the interrupted context, as the kernel's own unwinder does.
        let addr = bp & !tag;
        if stacks.find(addr).is_none() {
            return Err(format!("encoded frame pointer {bp:016x}: saved registers on no known stack"));
        }
        let regs =
            saved_regs.read_from(mem, addr).map_err(|err| format!("cannot read pt_regs at {addr:016x}: {err}"))?;
        return Ok(StepResult::Regs { state: UnwindState::from_regs(&regs), addr, regs, partial: false });
    }
    if stacks.find(bp).is_none() {
        return Err(format!("frame pointer {bp:016x} is on no known stack"));
    }
    let slot = bp.wrapping_add(8);
    let caller_sp = bp.wrapping_add(16);
    check_call(stacks, state, slot, caller_sp)?;
    let ip = read(mem, slot, "return address")?;
    // Without frame pointers RBP is an ordinary register: a word that
    // does not follow a call is no return address, and saying so beats
    // inventing a frame.
    if !looks_like_return_address(mem, code, ip) {
        return Err(format!(
            "{ip:016x} at [{slot:016x}] (RBP {bp:016x} + 8) does not follow a call: no frame-pointer chain"
        ));
    }
    let caller_bp = read(mem, bp, "saved frame pointer")?;
    Ok(StepResult::Call { state: UnwindState { ip, sp: caller_sp, bp: caller_bp, signal: false, regs: None }, slot })
}

/// Most instructions looked at between an interrupted pc and its `ret`.
const EPILOGUE_INSTRUCTIONS: usize = 8;

/// True if `ip` lies after a function's frame was taken down: the code
/// from `ip` reaches `ret` without touching the stack or the frame pointer
/// (no push, pop, leave, call, branch or stack arithmetic on the way).
fn at_frame_epilogue(mem: &dyn VirtualMemory, code: &dyn CodeInfo, ip: u64) -> bool {
    let decoder = code.arch().decoder;
    let len = EPILOGUE_INSTRUCTIONS.saturating_mul(decoder.max_instruction_len());
    let Ok(bytes) = mem.read_vec(ip, len) else { return false };
    let mut at = 0usize;
    for _ in 0..EPILOGUE_INSTRUCTIONS {
        let Some(d) = bytes.get(at..).and_then(|b| decoder.decode(b, ip.wrapping_add(at as u64))) else { return false };
        match d.flow {
            FlowKind::Return => return true,
            FlowKind::Sequential
                if !matches!(
                    d.mnemonic.as_str(),
                    "push" | "pop" | "leave" | "enter" | "sub" | "add" | "lea" | "xchg"
                ) => {}
            _ => return false,
        }
        at = at.saturating_add(d.len);
    }
    false
}

/// Most bytes of a function looked at before an interrupted pc.
const PROLOGUE_BYTES: u64 = 4096;

/// Where the return address of an interrupted function lies when the code
/// from its entry up to the pc leaves RBP alone and moves the stack pointer
/// by pushes only: above those pushes. None when any instruction there
/// writes RSP or RBP otherwise (the frame record then says where), or when
/// the function cannot be read whole.
fn frameless_return_slot(mem: &dyn VirtualMemory, code: &dyn CodeInfo, state: &UnwindState) -> Option<u64> {
    let sym = code.symbolize(state.ip)?;
    if sym.offset > PROLOGUE_BYTES {
        return None;
    }
    let start = state.ip.checked_sub(sym.offset)?;
    let decoder = code.arch().decoder;
    let len = usize::try_from(sym.offset).ok()?;
    let bytes = mem.read_vec(start, len.checked_add(decoder.max_instruction_len())?).ok()?;
    let no_symbols: &krash_arch::Symbolizer<'_> = &|_| None;
    let mut at = 0usize;
    let mut pushed = 0u64;
    while at < len {
        let insn = decoder.instruction(bytes.get(at..)?, start.wrapping_add(at as u64), no_symbols)?;
        match insn.mnemonic.as_str() {
            "push" => pushed = pushed.checked_add(8)?,
            "pop" | "leave" | "enter" => return None,
            _ if writes_stack_or_frame_register(&insn.text) => return None,
            _ => {}
        }
        at = at.checked_add(insn.len)?;
    }
    state.sp.checked_add(pushed)
}

/// True if an AT&T instruction's destination (its last operand) is the
/// stack or frame pointer register.
fn writes_stack_or_frame_register(text: &str) -> bool {
    let operands = text.split_once(char::is_whitespace).map_or("", |(_, rest)| rest.trim());
    let last = operands.rsplit(',').next().unwrap_or_default().trim();
    matches!(last, "%rsp" | "%esp" | "%sp" | "%rbp" | "%ebp" | "%bp")
}

/// The user-mode registers saved at the very top of the stack `state.sp`
/// is on, when `state.sp` is where they start (entry code's frame).
fn user_entry_regs(
    mem: &dyn VirtualMemory,
    stacks: &StackSet,
    state: &UnwindState,
    saved_regs: &krash_arch::SavedRegsLayout,
) -> Option<krash_arch::RegisterFile> {
    let stack = stacks.find(state.sp)?;
    let size = u64::try_from(saved_regs.full.size).ok()?;
    if state.sp.checked_add(size)? != stack.top {
        return None;
    }
    let regs = saved_regs.read_from(mem, state.sp).ok()?;
    saved_regs.is_user_mode(&regs).then_some(regs)
}

/// True if ORC has nothing usable for `state` (no entry, or objtool's
/// "undefined" for code it could not follow).
pub(crate) fn orc_lacks(code: &dyn CodeInfo, state: &UnwindState) -> bool {
    let lookup = lookup_ip(state);
    code.is_text(lookup) && code.orc(lookup).is_none_or(|e| e.kind == OrcType::Undefined)
}

/// True if no ORC table covers the code of `state` at all (a frame-pointer
/// kernel or module), as opposed to ORC's "undefined" for code objtool
/// could not follow.
pub(crate) fn has_no_orc(code: &dyn CodeInfo, state: &UnwindState) -> bool {
    let lookup = lookup_ip(state);
    code.is_text(lookup) && code.orc(lookup).is_none()
}

/// One step by `method`.
pub fn step_with(
    method: Method,
    mem: &dyn VirtualMemory,
    code: &dyn CodeInfo,
    stacks: &StackSet,
    state: &UnwindState,
) -> Result<StepResult, String> {
    if code.arch().registers.with_role(RegisterRole::ReturnAddress).is_some() && method != Method::Dwarf {
        // A link-register architecture (arm64): no ORC, and its frame
        // pointers are frame records with exception records inside pt_regs.
        return crate::frame_record::step(mem, code, stacks, state);
    }
    match method {
        Method::Orc => step(mem, code, stacks, state),
        Method::Dwarf => cfi_step(mem, code, stacks, state),
        Method::FramePointer => fp_step(mem, code, stacks, state),
        Method::Auto => match step(mem, code, stacks, state) {
            Err(orc_error) if orc_lacks(code, state) && code.cfi(lookup_ip(state)).is_some() => {
                cfi_step(mem, code, stacks, state).map_err(|cfi_error| format!("{orc_error}; {cfi_error}"))
            }
            // Neither ORC nor CFI for this code (a frame-pointer kernel, which
            // has no ORC table, read without its vmlinux): the RBP chain,
            // which such kernels keep everywhere but in entry code. Not where
            // ORC marks code undefined: there RBP is an ordinary register.
            Err(orc_error) if has_no_orc(code, state) => {
                fp_step(mem, code, stacks, state).map_err(|fp_error| format!("{orc_error}; {fp_error}"))
            }
            other => other,
        },
    }
}

/// Whether a step by `method` leaves the caller's stack pointer at the
/// callee's canonical frame address (ORC, CFI, an x86-64 frame pointer).
/// An arm64 frame record does not: gcc keeps it at the bottom of a frame
/// whose size it does not record (the prologue does:
/// [`crate::frame_record::frame_record_cfa`]); a CFA of record + 16 would
/// make DWARF locations relative to it read the wrong slots.
pub(crate) fn step_knows_cfa(method: Method, code: &dyn CodeInfo) -> bool {
    code.arch().registers.with_role(RegisterRole::ReturnAddress).is_none() || method == Method::Dwarf
}

/// Whether RBP is known after stepping out of `state` by `method`:
/// `Some(true)` read from the stack, `Some(false)` lost, `None` unchanged.
pub(crate) fn bp_known_after(method: Method, code: &dyn CodeInfo, state: &UnwindState) -> Option<bool> {
    let cfi_rule = || code.cfi(lookup_ip(state)).map(|r| r.fp);
    let orc_rule = || crate::step::entry_for(code, state).ok().map(|e| e.bp_reg);
    use krash_debuginfo::orc::OrcReg;
    let from_cfi = |rule: Option<SavedRule>| match rule {
        Some(SavedRule::AtCfa(_)) => Some(true),
        Some(SavedRule::Unchanged) => None,
        _ => Some(false),
    };
    let link_register_arch = code.arch().registers.with_role(krash_arch::RegisterRole::ReturnAddress).is_some();
    match method {
        Method::FramePointer => Some(true),
        // Without CFI, arm64 steps by frame records, which read x29.
        Method::Dwarf if link_register_arch => match cfi_rule() {
            None => Some(true),
            rule => from_cfi(rule),
        },
        Method::Dwarf => from_cfi(cfi_rule()),
        Method::Orc | Method::Auto => match orc_rule() {
            Some(OrcReg::PrevSp) => Some(true),
            Some(OrcReg::Bp) | Some(OrcReg::Undefined) if !orc_lacks(code, state) => None,
            _ if method == Method::Auto && orc_lacks(code, state) => match cfi_rule() {
                None if has_no_orc(code, state) => Some(true),
                rule => from_cfi(rule),
            },
            _ => Some(false),
        },
    }
}
