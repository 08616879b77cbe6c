//! Callee-saved registers of the frames above the first, read back from
//! where their callees pushed them.
//!
//! ORC and frame records restore only RSP, RBP and RIP, so a variable the
//! compiler kept in RBX or R12-R15 of a caller is "not recovered". But a
//! callee that uses such a register pushes it first, in its prologue, and
//! the value pushed is the caller's at the call. Decoding the callee's
//! prologue from its entry gives the order of the pushes, and the callee's
//! return-address slot (the caller's frame slot) anchors them: the n-th
//! push lies n words below it. Only pushes proven this way are used; a
//! register the callee did not push stays unknown in the caller (the
//! callee might save it later, after shrink-wrapping, and nothing here
//! guesses).

use krash_arch::{RegisterFile, RegisterRole, Symbolizer};
use krash_core::VirtualMemory;

use crate::code::CodeInfo;
use crate::trace::{Frame, TraceItem};

/// Most prologue bytes decoded (pushes come first in a prologue; anything
/// longer is not one).
const PROLOGUE_BYTES: u64 = 96;

/// Fills `saved` of every frame whose callee's prologue pushes could be
/// read. The callee is the frame just below (inner) with nothing but a
/// stack switch between them: an exception or a warning breaks the chain.
pub(crate) fn recover(mem: &dyn VirtualMemory, code: &dyn CodeInfo, items: &mut [TraceItem]) {
    // The frame below: its pc, whether interrupted there, its function.
    let mut callee: Option<Callee> = None;
    for item in items.iter_mut() {
        match item {
            TraceItem::Frame(frame) => {
                if !frame.exact {
                    if let Some(c) = &callee {
                        frame.saved = pushed_by_callee(mem, code, frame, c).map(Box::new);
                    }
                }
                callee = frame.symbol.as_ref().map(|s| Callee {
                    pc: frame.pc,
                    exact: frame.exact,
                    name: s.name.clone(),
                    module: s.module.clone(),
                });
            }
            TraceItem::StackSwitch { .. } => {}
            TraceItem::Exception(_) | TraceItem::Warning { .. } => callee = None,
        }
    }
}

/// The frame a caller called.
struct Callee {
    pc: u64,
    /// Interrupted at `pc` (not returned to).
    exact: bool,
    name: String,
    module: Option<String>,
}

/// The caller's registers its callee pushed: the callee's function is
/// `callee.name` (a `.cold` part's pushes are its whole function's), run
/// up to its pc when it was interrupted, else past its prologue.
fn pushed_by_callee(
    mem: &dyn VirtualMemory,
    code: &dyn CodeInfo,
    caller: &Frame,
    callee: &Callee,
) -> Option<RegisterFile> {
    let (start, limit) = match callee.name.split_once(".cold") {
        // A cold part runs in its function's frame, after its prologue.
        Some((whole, _)) => (code.function_named(whole, callee.module.as_deref())?, None),
        None => {
            // A return address is looked up at pc - 1 (a call may end its function).
            let lookup = if callee.exact { callee.pc } else { callee.pc.wrapping_sub(1) };
            let here = code.symbolize(lookup)?;
            (lookup.checked_sub(here.offset)?, callee.exact.then_some(callee.pc))
        }
    };
    let pushes = code.prologue_pushes(start, limit, &|| prologue_pushes(mem, code, start, limit))?;
    let set = code.arch().registers;
    let mut file = RegisterFile::new(set);
    for (n, id) in pushes.iter().enumerate() {
        let depth = u64::try_from(n).ok()?.checked_add(1)?.checked_mul(8)?;
        let addr = caller.slot.checked_sub(depth)?;
        let mut word = [0u8; 8];
        if mem.read_virt(addr, &mut word).is_ok() {
            file.set_value(*id, u64::from_le_bytes(word));
        }
    }
    (!file.is_empty()).then_some(file)
}

/// The callee-saved registers a function's prologue pushes, in order,
/// from `start` up to `limit` (exclusive) when given. The prologue may
/// begin with `endbr64`, nops (ftrace's patched `__fentry__` call), a call
/// to `__fentry__`, set RBP up with `mov %rsp,%rbp`, and copy registers
/// between the pushes; it ends at the first other instruction.
fn prologue_pushes(
    mem: &dyn VirtualMemory,
    code: &dyn CodeInfo,
    start: u64,
    limit: Option<u64>,
) -> Option<Vec<krash_arch::RegisterId>> {
    let decoder = code.arch().decoder;
    let set = code.arch().registers;
    let end = limit.unwrap_or(u64::MAX).min(start.checked_add(PROLOGUE_BYTES)?);
    let len = usize::try_from(end.checked_sub(start)?).ok()?;
    let bytes = mem.read_vec(start, len.checked_add(decoder.max_instruction_len())?).ok()?;
    let no_symbols: &Symbolizer<'_> = &|_| None;
    let mut pushes = Vec::new();
    // Registers a `mov` between the pushes overwrote: a later push of one
    // saves the new value, not the caller's.
    let mut written = Vec::new();
    let mut at = 0usize;
    while at < len {
        let addr = start.checked_add(u64::try_from(at).ok()?)?;
        let Some(insn) = decoder.instruction(bytes.get(at..)?, addr, no_symbols) else { break };
        let operands = insn.text.split_once(char::is_whitespace).map_or("", |(_, o)| o.trim());
        match insn.mnemonic.as_str() {
            "push" => {
                let Some(id) = operands.strip_prefix('%').and_then(|r| set.id(r)) else { break };
                let callee_saved = set.desc(id).is_some_and(|d| d.roles.contains(&RegisterRole::CalleeSaved));
                if !callee_saved || written.contains(&id) {
                    break;
                }
                pushes.push(id);
            }
            "mov" if operands == "%rsp,%rbp" => {}
            // gcc schedules argument copies and constants between the
            // pushes (`mov %rdi,%r13`, `mov $0x...,%rbp`).
            "mov" => {
                // The destination is the last operand; a constant or a
                // load into a register other than RSP is no stack change.
                let to = operands.rsplit(',').next().unwrap_or_default();
                let Some(to) = to.strip_prefix('%').and_then(|name| set.id(name)) else { break };
                if set.desc(to).is_some_and(|d| d.roles.contains(&RegisterRole::StackPointer)) {
                    break;
                }
                written.push(to);
            }
            // ftrace's 5-byte nop as gdb spells it.
            "xchg" if operands == "%ax,%ax" => {}
            "endbr64" => {}
            m if m.starts_with("nop") => {}
            "call" if insn.branch_target.and_then(|t| code.symbolize(t)).is_some_and(|s| s.name == "__fentry__") => {}
            _ => break,
        }
        at = at.checked_add(insn.len)?;
    }
    Some(pushes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::Symbolized;
    use krash_arch::x86_64::X86_64;
    use krash_arch::Arch;
    use krash_debuginfo::orc::OrcEntry;

    const START: u64 = 0x1000;

    /// Code bytes at START, nothing else.
    struct Code(Vec<u8>);

    impl VirtualMemory for Code {
        fn read_virt(&self, addr: u64, buf: &mut [u8]) -> krash_core::Result<()> {
            for (i, b) in buf.iter_mut().enumerate() {
                let at = addr.wrapping_add(i as u64).wrapping_sub(START) as usize;
                *b = self.0.get(at).copied().unwrap_or(0xcc);
            }
            Ok(())
        }
    }

    impl CodeInfo for Code {
        fn arch(&self) -> &'static Arch {
            &X86_64
        }
        fn orc(&self, _ip: u64) -> Option<OrcEntry> {
            None
        }
        fn is_text(&self, addr: u64) -> bool {
            addr >= START
        }
        fn symbolize(&self, addr: u64) -> Option<Symbolized> {
            Some(Symbolized { name: "f".into(), offset: addr.wrapping_sub(START), module: None })
        }
    }

    fn names(code: &Code, limit: Option<u64>) -> Vec<&'static str> {
        let set = X86_64.registers;
        prologue_pushes(code, code, START, limit).unwrap().into_iter().map(|id| set.desc(id).unwrap().name).collect()
    }

    #[test]
    fn pushes_around_copies_and_the_ftrace_nop() {
        // 5.10's krash_run_scenario: nop5; push r13; push r12; mov rdi,r12;
        // push rbp; mov $imm,rbp; push rbx; xor ebx,ebx.
        let code = Code(vec![
            0x66, 0x66, 0x66, 0x66, 0x90, 0x41, 0x55, 0x41, 0x54, 0x49, 0x89, 0xfc, 0x55, 0x48, 0xc7, 0xc5, 0xfc, 0x6c,
            0x2a, 0xc0, 0x53, 0x31, 0xdb,
        ]);
        assert_eq!(names(&code, None), ["r13", "r12", "rbp", "rbx"]);
        // Interrupted after the second push: only those two were made.
        assert_eq!(names(&code, Some(START + 9)), ["r13", "r12"]);
    }

    #[test]
    fn a_frame_pointer_prologue() {
        // push rbp; mov rsp,rbp; push r13; mov rdi,r13; push r12; push rbx; xor ebx,ebx
        let code = Code(vec![0x55, 0x48, 0x89, 0xe5, 0x41, 0x55, 0x49, 0x89, 0xfd, 0x41, 0x54, 0x53, 0x31, 0xdb]);
        assert_eq!(names(&code, None), ["rbp", "r13", "r12", "rbx"]);
    }

    #[test]
    fn a_push_of_an_overwritten_register_ends_the_prologue() {
        // push r12; mov rdi,rbx; push rbx: the push saves the argument.
        let code = Code(vec![0x41, 0x54, 0x48, 0x89, 0xfb, 0x53]);
        assert_eq!(names(&code, None), ["r12"]);
        // sub rsp first: no pushes are a prologue's after it.
        let code = Code(vec![0x48, 0x83, 0xec, 0x10, 0x53]);
        assert!(names(&code, None).is_empty());
        // A caller-saved register pushed (an argument spill) ends it too.
        let code = Code(vec![0x53, 0x57, 0x41, 0x54]);
        assert_eq!(names(&code, None), ["rbx"]);
    }
}
