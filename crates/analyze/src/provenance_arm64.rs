//! Where an arm64 register's value came from: the walk of
//! [`crate::provenance`] over AArch64 code. Instructions come from the
//! architecture layer's decoder with what each reads, writes and loads
//! (`krash_arch::arm64::disasm::details`); the steps, the argument naming
//! (DWARF entry locations, compiler clones, the caller past a clone) and
//! the member lookups are the x86-64 walk's own.
//!
//! The AAPCS64: arguments in x0..x7, the result in x0, x0..x18 (and the
//! link register) changed by a call, x19..x28 kept.

use std::collections::HashMap;

use krash_arch::arm64::disasm::{details, format_word, read_word, Arm64Details, MemAccess, Reg, Writeback};
use krash_arch::decoder::FlowKind;
use krash_core::VirtualMemory;
use krash_program::Kernel;

use crate::provenance::{
    argument_step, constant_step, describe_load, symbol_text, Origin, Parameter, Provenance, ProvenanceInternal,
    ProvenanceStep, Value,
};

/// Bounds the bytes decoded for one function.
const MAX_FUNCTION_BYTES: u64 = 64 * 1024;
/// Bounds how many registers one walk follows.
const MAX_DEPTH: u32 = 4;
/// Bounds how many callers a walk continues into.
const MAX_CALLER_FRAMES: usize = 4;
/// The highest register a call may change (x0..x18, the intra-procedure
/// and platform registers included).
const LAST_CALL_CLOBBERED: u8 = 18;
/// Registers that carry arguments.
const ARGUMENT_REGISTERS: u8 = 8;

/// One arm64 function's instructions, decoded once.
pub(crate) struct Arm64Code {
    pub name: String,
    pub start: u64,
    /// Address, text and effects of each instruction (`None`: not one).
    pub instrs: Vec<(u64, String, Option<Arm64Details>)>,
    /// For each branch target inside the function, the branches to it.
    pub jump_sources: HashMap<u64, Vec<usize>>,
}

impl Arm64Code {
    pub fn index_of(&self, addr: u64) -> Option<usize> {
        self.instrs.binary_search_by_key(&addr, |(a, _, _)| *a).ok()
    }

    fn offset(&self, addr: u64) -> u64 {
        addr.wrapping_sub(self.start)
    }

    fn location(&self, addr: u64) -> String {
        format!("{}+{:#x}", self.name, self.offset(addr))
    }

    /// True when some branch in the function jumps backwards (a loop).
    pub fn has_loop(&self) -> bool {
        self.jump_sources
            .iter()
            .any(|(target, sources)| sources.iter().any(|&s| self.instrs.get(s).is_some_and(|(a, _, _)| a >= target)))
    }
}

/// `x3`, `sp`, `xzr`: the register's name as crash prints it.
pub(crate) fn reg_name(r: Reg) -> String {
    match r {
        Reg::X(n) => format!("x{n}"),
        Reg::Sp => "sp".into(),
        Reg::Zr => "xzr".into(),
        Reg::Pc => "pc".into(),
        Reg::V(n) => format!("v{n}"),
        Reg::Nzcv => "nzcv".into(),
        Reg::Sys(n) => format!("sys{n:#x}"),
    }
}

/// Crate-internal helpers of this module's extension of [`Kernel`].
pub(crate) trait Arm64ProvenanceInternal {
    /// Decodes the arm64 function holding `addr`.
    fn arm64_function_code(&self, addr: u64) -> Option<Arm64Code>;
    /// Walks back from the instruction at `from` to where `reg` got its
    /// value; `callers` are the return addresses of the frames above.
    fn arm64_register_provenance(
        &self,
        code: &Arm64Code,
        from: u64,
        reg: Reg,
        module: Option<&str>,
        callers: &[u64],
    ) -> Option<Provenance>;
}

impl Arm64ProvenanceInternal for Kernel {
    fn arm64_function_code(&self, addr: u64) -> Option<Arm64Code> {
        let sym = self.symbolize(addr)?;
        let (start, end) = self.function_bounds(addr)?;
        let len = end.checked_sub(start)?.min(MAX_FUNCTION_BYTES);
        let bytes = self.memory().read_vec(start, usize::try_from(len).ok()?).ok()?;
        let symbolize = |a: u64| self.symbolize(a).map(|s| (s.name, s.offset));
        let mut instrs = Vec::with_capacity(bytes.len() / 4);
        let mut jump_sources: HashMap<u64, Vec<usize>> = HashMap::new();
        for (i, chunk) in bytes.chunks_exact(4).enumerate() {
            let addr = start.checked_add(u64::try_from(i).ok()?.checked_mul(4)?)?;
            let Some(word) = read_word(chunk) else { break };
            let d = details(word, addr);
            if let Some(target) = d.as_ref().filter(|d| matches!(d.flow, FlowKind::ConditionalJump | FlowKind::Jump)) {
                if let Some(t) = target.branch_target.filter(|t| (start..end).contains(t)) {
                    jump_sources.entry(t).or_default().push(i);
                }
            }
            instrs.push((addr, format_word(word, addr, &symbolize), d));
        }
        Some(Arm64Code { name: sym.name, start, instrs, jump_sources })
    }

    fn arm64_register_provenance(
        &self,
        code: &Arm64Code,
        from: u64,
        reg: Reg,
        module: Option<&str>,
        callers: &[u64],
    ) -> Option<Provenance> {
        let index = code.index_of(from)?;
        let callers = callers.get(..callers.len().min(MAX_CALLER_FRAMES)).unwrap_or_default();
        let tracer = Tracer { kernel: self, code, module, params: self.function_parameters(from), callers };
        let mut steps = Vec::new();
        let mut stopped = None;
        let value = tracer.trace(reg, index, 0, &mut steps, &mut stopped);
        Some(Provenance {
            function: code.name.clone(),
            register: reg_name(reg),
            from_address: from,
            steps,
            expression: value.expression,
            type_name: value.type_name,
            stopped,
        })
    }
}

struct Tracer<'a> {
    kernel: &'a Kernel,
    code: &'a Arm64Code,
    module: Option<&'a str>,
    params: Vec<Parameter>,
    callers: &'a [u64],
}

fn call_clobbers(reg: Reg) -> bool {
    matches!(reg, Reg::X(n) if n <= LAST_CALL_CLOBBERED || n == 30)
}

impl Tracer<'_> {
    /// The value `reg` holds just before instruction `before` runs.
    fn trace(
        &self,
        reg: Reg,
        before: usize,
        depth: u32,
        steps: &mut Vec<ProvenanceStep>,
        stopped: &mut Option<String>,
    ) -> Value {
        let name = reg_name(reg);
        let mut at = before;
        while at > 0 {
            if let Some(why) = self.merge_point(reg, at) {
                stopped.get_or_insert(why);
                return Value::default();
            }
            at -= 1;
            let Some((addr, text, Some(d))) = self.code.instrs.get(at) else { continue };
            let step = |origin: Origin, sentence: String| ProvenanceStep {
                address: *addr,
                function: self.code.name.clone(),
                offset: self.code.offset(*addr),
                instruction: Some(text.clone()),
                register: name.clone(),
                origin,
                sentence,
            };
            if d.flow.is_call() {
                if reg == Reg::X(0) {
                    let callee = match d.branch_target.and_then(|t| self.kernel.symbolize(t)) {
                        Some(s) => s.name,
                        None => "an indirect call".into(),
                    };
                    steps.push(step(
                        Origin::ReturnValue { function: callee.clone() },
                        format!("%{name} = return value of {callee}()"),
                    ));
                    return Value { expression: Some(format!("{callee}()")), type_name: None };
                }
                if call_clobbers(reg) {
                    stopped.get_or_insert(format!("%{name} is changed by the call at {}", self.code.location(*addr)));
                    return Value::default();
                }
                continue;
            }
            if !d.writes_reg(reg) {
                continue;
            }
            return self.explain_write(d, reg, at, depth, step, steps, stopped);
        }
        match reg {
            Reg::X(n) if n < ARGUMENT_REGISTERS => {
                let (step, param) =
                    argument_step(&self.params, &self.code.name, self.code.start, reg.dwarf(), &name, usize::from(n));
                steps.push(step);
                if let Some(p) = param {
                    return Value { expression: Some(p.name), type_name: Some(p.type_name) };
                }
                self.in_caller(reg, depth, steps, stopped)
            }
            _ => {
                stopped.get_or_insert(format!("%{name} is not set in {} before this point", self.code.name));
                Value::default()
            }
        }
    }

    /// The value `reg` had at the call into this function, from the
    /// caller's code before its `bl`/`blr` (the frame above's return address).
    fn in_caller(&self, reg: Reg, depth: u32, steps: &mut Vec<ProvenanceStep>, stopped: &mut Option<String>) -> Value {
        let name = reg_name(reg);
        let Some((&ret, outer)) = self.callers.split_first() else {
            stopped.get_or_insert(format!("%{name}: no caller frame to read the argument from"));
            return Value::default();
        };
        let Some(call_addr) = ret.checked_sub(4) else { return Value::default() };
        let Some(code) = self.kernel.arm64_function_code(call_addr) else {
            stopped.get_or_insert(format!("%{name}: the caller's code at {ret:#x} is unreadable"));
            return Value::default();
        };
        let Some(call) = code.index_of(call_addr) else { return Value::default() };
        let module = self.kernel.symbolize(code.start).and_then(|s| s.module);
        let params = self.kernel.function_parameters(call_addr);
        let caller = Tracer { kernel: self.kernel, code: &code, module: module.as_deref(), params, callers: outer };
        caller.trace(reg, call, depth, steps, stopped)
    }

    /// Why the walk cannot step back over the label at instruction `at`.
    fn merge_point(&self, reg: Reg, at: usize) -> Option<String> {
        let (addr, _, _) = self.code.instrs.get(at)?;
        let sources = self.code.jump_sources.get(addr)?;
        let keeps = |i: usize| match self.code.instrs.get(i).and_then(|x| x.2.as_ref()) {
            Some(d) => !(d.writes_reg(reg) || (d.flow.is_call() && call_clobbers(reg))),
            None => true,
        };
        for &src in sources {
            let same_value = if src < at { (src + 1..at).all(keeps) } else { (at..=src).all(keeps) };
            if !same_value {
                let from = self.code.instrs.get(src).map(|(a, _, _)| self.code.location(*a)).unwrap_or_default();
                return Some(format!(
                    "{} is a jump target (from {from}): %{} may come from that path, the walk stops there",
                    self.code.location(*addr),
                    reg_name(reg)
                ));
            }
        }
        None
    }

    #[allow(clippy::too_many_arguments)]
    fn explain_write(
        &self,
        d: &Arm64Details,
        reg: Reg,
        at: usize,
        depth: u32,
        step: impl Fn(Origin, String) -> ProvenanceStep,
        steps: &mut Vec<ProvenanceStep>,
        stopped: &mut Option<String>,
    ) -> Value {
        let name = reg_name(reg);
        let text = self.code.instrs.get(at).map(|i| i.1.clone()).unwrap_or_default();
        // A load into the register: ldr, ldp (each register of the pair at its own offset).
        if let Some(m) = d.memory.as_ref().filter(|m| m.access == MemAccess::Load && m.transfer.contains(&reg)) {
            let position = m.transfer.iter().position(|r| *r == reg).unwrap_or(0);
            let slot = i64::try_from(position).unwrap_or(0).saturating_mul(i64::from(m.size));
            if m.base == Reg::Pc {
                let target = d.pc_relative.unwrap_or_default();
                let symbol = self.global_name(target);
                steps.push(step(Origin::Global { symbol: symbol.clone() }, format!("%{name} = the value of {symbol}")));
                return Value { expression: Some(symbol), type_name: None };
            }
            if m.index.is_some() || m.writeback == Writeback::Post {
                steps.push(step(Origin::Other, format!("%{name} is loaded from an indexed address (`{text}`)")));
                return Value::default();
            }
            let displacement = m.offset.saturating_add(slot);
            let base_name = reg_name(m.base);
            let index_in_steps = steps.len();
            steps.push(step(
                Origin::Load { base: base_name.clone(), displacement, struct_name: None, member: None },
                String::new(),
            ));
            let base_value =
                if depth < MAX_DEPTH { self.trace(m.base, at, depth + 1, steps, stopped) } else { Value::default() };
            // adrp + ldr: the value of a global.
            if let Some(Origin::Constant { value, .. }) = steps.get(index_in_steps + 1).map(|s| s.origin.clone()) {
                let symbol = self.global_name(value.wrapping_add(displacement as u64));
                steps.truncate(index_in_steps);
                steps.push(step(Origin::Global { symbol: symbol.clone() }, format!("%{name} = the value of {symbol}")));
                return Value { expression: Some(symbol), type_name: None };
            }
            let (sentence, origin, value) =
                describe_load(self.kernel, self.module, &name, &base_name, displacement, &base_value);
            if let Some(s) = steps.get_mut(index_in_steps) {
                s.sentence = sentence;
                s.origin = origin;
            }
            return value;
        }
        let sources: Vec<Reg> = d.reads.iter().copied().filter(|r| *r != Reg::Zr).collect();
        // `adrp`: the page of a global, finished by an `add` below.
        if d.mnemonic == "adrp" || d.mnemonic == "adr" {
            // A page, not yet an object: named once an add or load finishes it.
            let page = d.pc_relative.unwrap_or_default();
            steps.push(step(Origin::Constant { value: page, symbol: None }, format!("%{name} = {page:#x} (adrp)")));
            return Value { expression: Some(format!("{page:#x}")), type_name: None };
        }
        if d.mnemonic == "mov" {
            match sources.as_slice() {
                // mov xN, xM (orr with xzr) or mov xN, sp (add #0).
                [from] => {
                    steps.push(step(Origin::Copy { from: reg_name(*from) }, format!("%{name} = %{}", reg_name(*from))));
                    return if depth < MAX_DEPTH {
                        self.trace(*from, at, depth + 1, steps, stopped)
                    } else {
                        Value::default()
                    };
                }
                // mov xN, #imm (movz, movn, orr of an immediate).
                [] => {
                    if let Some(value) = immediate(&text) {
                        return self.constant(value, &name, step, steps);
                    }
                }
                _ => {}
            }
        }
        // add xN, xM, #imm: an offset from a traced value (the low bits of
        // an adrp'd global, or a member's address).
        if let (Some(imm), [from]) = (d.add_immediate, sources.as_slice()) {
            let index_in_steps = steps.len();
            steps.push(step(Origin::Other, format!("%{name} = %{} + {imm:#x}", reg_name(*from))));
            let base =
                if depth < MAX_DEPTH { self.trace(*from, at, depth + 1, steps, stopped) } else { Value::default() };
            // adrp + add: the global's address.
            if let Some(Origin::Constant { value, .. }) = steps.get(index_in_steps + 1).map(|s| s.origin.clone()) {
                let address = value.wrapping_add(imm as u64);
                steps.truncate(index_in_steps);
                return self.constant(address, &name, step, steps);
            }
            let expression = base.expression.map(|e| format!("{e} + {imm:#x}"));
            if let (Some(e), Some(s)) = (&expression, steps.get_mut(index_in_steps)) {
                s.sentence.push_str(&format!(" = {e}"));
            }
            return Value { expression, type_name: None };
        }
        if d.mnemonic.starts_with("cs") {
            steps.push(step(
                Origin::Other,
                format!("%{name} is set by a conditional select (`{text}`): one of two values"),
            ));
            return Value::default();
        }
        steps.push(step(Origin::Other, format!("%{name} is computed by `{text}`")));
        Value::default()
    }

    fn constant(
        &self,
        value: u64,
        name: &str,
        step: impl Fn(Origin, String) -> ProvenanceStep,
        steps: &mut Vec<ProvenanceStep>,
    ) -> Value {
        let (origin, sentence, value) = constant_step(self.kernel, value, name, "");
        steps.push(step(origin, sentence));
        value
    }

    fn global_name(&self, addr: u64) -> String {
        symbol_text(self.kernel, addr)
    }
}

/// The immediate of `mov x2, #0x0` (gdb's text), if the text has one.
fn immediate(text: &str) -> Option<u64> {
    let imm = text.rsplit('#').next().filter(|_| text.contains('#'))?.trim();
    let imm = imm.split([' ', ',']).next()?;
    let (negative, digits) = match imm.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, imm),
    };
    let value = match digits.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => digits.parse().ok()?,
    };
    Some(if negative { value.wrapping_neg() } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn immediates() {
        assert_eq!(immediate("mov\tx2, #0x0"), Some(0));
        assert_eq!(immediate("mov\tw1, #0x10"), Some(16));
        assert_eq!(immediate("mov\tx0, #-0x16"), Some(0u64.wrapping_sub(0x16)));
        assert_eq!(immediate("mov\tx0, x1"), None);
    }

    #[test]
    fn calls_change_the_argument_and_scratch_registers() {
        assert!(call_clobbers(Reg::X(0)) && call_clobbers(Reg::X(18)) && call_clobbers(Reg::X(30)));
        assert!(!call_clobbers(Reg::X(19)) && !call_clobbers(Reg::X(29)) && !call_clobbers(Reg::Sp));
    }
}
