//! The report's "why" for a bad pointer: where the faulting register's
//! value came from (a member load, a call's return value, an argument),
//! whether a NULL return value was only tested with IS_ERR(), and for a
//! call through a NULL function pointer, which ops-table member held it.

use crate::provenance::ProvenanceInternal;
use iced_x86::{FlowControl, OpKind, Register};

use crate::null_check::return_value_checks;
use crate::ops_table::{OpsTableInternal, TableSource};
use crate::provenance_arm64::{reg_name as arm64_reg_name, Arm64ProvenanceInternal};
use krash_arch::arm64::disasm::{details as arm64_details, Reg, Writeback};
use krash_arch::RegisterFile;

use crate::provenance::{parse_register, thunk_register, FunctionCode, Origin, Provenance};
use crate::{
    named_registers, register_value as register_value_of, AnalyzeHelpers, BadMember, Divisor, NullSource, OpsSlot,
    OpsTable, Report,
};
use krash_program::Kernel;

/// Crate-internal helpers of this module's extension of [`Kernel`].
pub(crate) trait PointerSourceInternal {
    /// A divide error: the `div`/`idiv` at `rip` and its divisor, where the
    /// divisor came from (a struct member, a global) and what the dump
    /// holds there.
    fn explain_divisor(&self, report: &mut Report, regs: &RegisterFile, instr: &iced_x86::Instruction);
    /// Walks back from the faulting instruction at `rip` for `base` and
    /// adds the origin (and any IS_ERR/NULL confusion) to the report.
    /// `callers`: the return addresses of the frames above the faulting
    /// one, innermost first.
    fn explain_pointer_source(
        &self,
        report: &mut Report,
        regs: &RegisterFile,
        base: Register,
        value: u64,
        callers: &[u64],
    );
    /// For a call through a NULL function pointer: the branch in the
    /// function that made it (the call before `ret`, or for a tail call the
    /// indirect jump in `tail_callee`), and where its target register was
    /// loaded from.
    /// `callers`: the return addresses of the frames above the one of
    /// `ret`, innermost first.
    fn explain_fnptr_source(
        &self,
        report: &mut Report,
        regs: &RegisterFile,
        ret: u64,
        tail_callee: Option<u64>,
        callers: &[u64],
    );
}

impl PointerSourceInternal for Kernel {
    fn explain_divisor(&self, report: &mut Report, regs: &RegisterFile, instr: &iced_x86::Instruction) {
        let Some(rip) = regs.pc() else { return };
        let signed = instr.mnemonic() == iced_x86::Mnemonic::Idiv;
        let bits = instr.memory_size().size() * 8;
        let mut divisor = Divisor {
            register: None,
            value: None,
            expression: None,
            struct_name: None,
            member: None,
            object: None,
            signed,
        };
        // What shows the divisor, and the words it rests on.
        let mut shown_by: Vec<String> = vec![format!("dis -l {rip:#x}")];
        let mut addresses: Vec<u64> = vec![rip];
        match instr.op0_kind() {
            OpKind::Register => {
                let reg = instr.op0_register();
                let full = reg.full_register();
                let name = format!("{full:?}").to_lowercase();
                let width = reg.size() * 8;
                divisor.value =
                    register_value_of(regs, &name).map(|v| if width >= 64 { v } else { v & ((1 << width) - 1) });
                divisor.register = Some(format!("{reg:?}").to_lowercase());
                let callers = self.return_addresses_above(rip);
                if let Some(code) = self.function_code(rip) {
                    if let Some(p) = self.register_provenance(&code, rip, full, report.module.as_deref(), &callers) {
                        self.add_walk(report, &p);
                        // The load that set the divisor: the member it read, and
                        // the object it read it from when the base register still
                        // holds its address.
                        if let Some(step) = p.steps.first() {
                            if let Origin::Load { base, struct_name, member, .. } = &step.origin {
                                divisor.struct_name = struct_name.clone();
                                divisor.member = member.clone();
                                let base_value = named_registers(regs).iter().find(|(n, _)| n == base).map(|(_, v)| *v);
                                if let Some(b) = base_value.filter(|_| unchanged_since(&code, step.address, rip)) {
                                    divisor.object = self
                                        .symbolize(b)
                                        .filter(|sym| sym.offset == 0)
                                        .map(|sym| sym.name)
                                        .or_else(|| Some(format!("{b:#x}")));
                                    if let Some(s) = struct_name {
                                        shown_by.push(format!("struct {s} {b:#x}"));
                                    }
                                    addresses.push(b);
                                }
                            }
                        }
                        divisor.expression = p.expression.clone();
                        report.provenance = Some(p);
                    }
                }
            }
            OpKind::Memory => {
                // `div disp(%base)`: the divisor is read from memory right here.
                let base = instr.memory_base().full_register();
                let displacement = instr.memory_displacement64() as i64;
                let base_name = format!("{base:?}").to_lowercase();
                let base_value = register_value_of(regs, &base_name);
                if let Some(addr) = base_value.and_then(|b| b.checked_add_signed(displacement)) {
                    let mut bytes = [0u8; 8];
                    let size = (bits / 8).min(8);
                    if let Some(buf) = bytes.get_mut(..size) {
                        if krash_core::VirtualMemory::read_virt(self.memory(), addr, buf).is_ok() {
                            divisor.value = Some(u64::from_le_bytes(bytes));
                        }
                    }
                    shown_by.push(format!("rd {addr:#x}"));
                    addresses.push(addr);
                    divisor.object = self.symbolize(addr).map(|sym| {
                        if sym.offset == 0 {
                            sym.name
                        } else {
                            format!("{}+{:#x}", sym.name, sym.offset)
                        }
                    });
                }
                divisor.expression = Some(format!("*(%{base_name} + {displacement:#x})"));
            }
            _ => {}
        }
        let what = match (&divisor.expression, &divisor.register) {
            (Some(e), Some(r)) => format!("the divisor {e} (in %{r})"),
            (Some(e), None) => format!("the divisor {e}"),
            (None, Some(r)) => format!("the divisor %{r}"),
            (None, None) => "the divisor".to_string(),
        };
        let value = match divisor.value {
            Some(0) => "is 0".to_string(),
            Some(v) => format!(
                "is {v:#x} (the quotient overflows {bits} bits{})",
                if signed { ", or INT_MIN / -1" } else { "" }
            ),
            None => "could not be read".to_string(),
        };
        let mut sentence = format!("{what} {value}");
        if let (Some(s), Some(m)) = (&divisor.struct_name, &divisor.member) {
            sentence.push_str(&format!("; it is {m} of struct {s}"));
            shown_by.push(format!("struct {s} -o"));
        }
        if let Some(o) = &divisor.object {
            sentence.push_str(&format!(", read from {o}"));
        }
        if divisor.value == Some(0) {
            sentence.push_str("; nothing tested it for zero before the division");
        }
        let mut finding = report.lead_finding(sentence);
        for command in shown_by {
            finding = finding.shown_by(command);
        }
        for address in addresses {
            finding = finding.at(address);
        }
        report.divisor = Some(divisor);
    }

    fn explain_pointer_source(
        &self,
        report: &mut Report,
        regs: &RegisterFile,
        base: Register,
        value: u64,
        callers: &[u64],
    ) {
        let Some(rip) = regs.pc() else { return };
        let Some(code) = self.function_code(rip) else { return };
        let Some(p) = self.register_provenance(&code, rip, base, report.module.as_deref(), callers) else { return };
        self.add_provenance(report, &code, &p, regs);
        if value == 0 {
            if let Some(source) = null_return_source(&code, &p, rip) {
                let sentence = match source.caller_checks.as_str() {
                    "IS_ERR" => Some(format!(
                        "{}() returned NULL; its caller checks only IS_ERR(), so NULL passes as a valid pointer",
                        source.function
                    )),
                    "nothing" => Some(format!("{}() returned NULL and its caller does not test it", source.function)),
                    _ => None,
                };
                match sentence {
                    Some(sentence) => {
                        report
                            .finding(sentence)
                            .shown_by(format!("dis -l {}", source.function))
                            .shown_by(format!("dis -l {}", p.function))
                            .at(rip);
                    }
                    None => report.show(format!("dis -l {}", source.function)),
                }
                report.null_source = Some(source);
            }
        }
        report.provenance = Some(p);
    }

    fn explain_fnptr_source(
        &self,
        report: &mut Report,
        regs: &RegisterFile,
        ret: u64,
        tail_callee: Option<u64>,
        callers: &[u64],
    ) {
        let Some(rip) = regs.pc() else { return };
        let module_of = |code: &FunctionCode| self.symbolize(code.start).and_then(|s| s.module);
        let (code, branch_addr, reg) = match tail_callee {
            Some(callee) => {
                let Some(code) = self.function_code(callee) else { return };
                // A function may tail-call through several jumps (gcc 16
                // duplicates the tail for a devirtualised fast path): the
                // one whose pointer is traced back to an argument explains
                // the crash; else the last one.
                let jumps = indirect_jumps(self, &code);
                let module = module_of(&code);
                let traced = jumps.iter().find(|(addr, reg)| {
                    self.register_provenance(&code, *addr, *reg, module.as_deref(), &[])
                        .is_some_and(|p| p.steps.last().is_some_and(|s| matches!(s.origin, Origin::Argument { .. })))
                });
                let Some(&(addr, reg)) = traced.or(jumps.first()) else { return };
                (code, addr, reg)
            }
            None => {
                let Some(code) = self.function_code(ret.wrapping_sub(1)) else { return };
                let Some(i) = code.index_of(ret).and_then(|r| r.checked_sub(1)) else { return };
                let Some(reg) =
                    code.instrs.get(i).and_then(|x| x.as_ref()).and_then(|ins| indirect_register(self, ins))
                else {
                    return;
                };
                let Some((addr, _)) = code.texts.get(i).cloned() else { return };
                (code, addr, reg)
            }
        };
        let module = module_of(&code);
        // A tail call's frame is gone: the frame above `ret` is its caller's caller.
        let callers = if tail_callee.is_some() { &[] } else { callers };
        let Some(p) = self.register_provenance(&code, branch_addr, reg, module.as_deref(), callers) else { return };
        let chain = self.add_provenance(report, &code, &p, regs);
        if let Some(first) = p.steps.first() {
            if let Origin::Constant { value, .. } = &first.origin {
                if *value == rip {
                    self.explain_folded_table(report, &p, branch_addr, module.as_deref());
                }
            }
            if let Origin::Load { displacement, struct_name, member, .. } = &first.origin {
                if let (Some(s), Some(m)) = (struct_name, member) {
                    report
                        .finding(format!(
                            "the function pointer is {}{m} (offset {displacement:#x} of struct {s}), which {}",
                            p.expression
                                .as_ref()
                                .and_then(|e| e.strip_suffix(m.as_str()))
                                .unwrap_or(&format!("((struct {s} *)%{})->", first.register)),
                            if rip == 0 { "is NULL".to_string() } else { format!("holds {rip:#x}, not code") }
                        ))
                        .shown_by(format!("dis -l {branch_addr:#x}"))
                        .shown_by(format!("struct {s} -o"))
                        .at(branch_addr);
                }
                // The table as the dump holds it: the value the last load read from.
                let loads = p.steps.iter().filter(|s| matches!(s.origin, Origin::Load { .. })).count();
                if let (Some(s), Some(m), Some(&table)) =
                    (struct_name, member, chain.len().checked_sub(2).and_then(|i| chain.get(i)))
                {
                    if chain.len() == loads + 1 {
                        self.note_loaded_table(report, table, s, m, module.as_deref());
                    }
                }
                report.bad_member = Some(BadMember {
                    register: p.register.clone(),
                    value: rip,
                    displacement: *displacement,
                    variable: p.expression.clone(),
                    struct_name: struct_name.clone(),
                    member: member.clone(),
                    returned_by: None,
                });
            }
        }
        report.provenance = Some(p);
    }
}

/// The same, for arm64 code (`crate::provenance_arm64`).
pub(crate) trait Arm64PointerSourceInternal {
    /// A load or store that faulted at `pc`: the bad base register, where
    /// its value came from, and the member accessed. False when the
    /// instruction is no memory access through a register.
    fn explain_arm64_access(&self, report: &mut Report, regs: &RegisterFile, pc: u64) -> Option<BadMember>;
    /// A branch to NULL (`blr xN` before the return address `ret` in the
    /// link register): where xN was loaded from, and the ops table.
    fn explain_arm64_branch(&self, report: &mut Report, regs: &RegisterFile, ret: u64);
}

impl Arm64PointerSourceInternal for Kernel {
    fn explain_arm64_access(&self, report: &mut Report, regs: &RegisterFile, pc: u64) -> Option<BadMember> {
        let mut word = [0u8; 4];
        krash_core::VirtualMemory::read_virt(self.memory(), pc, &mut word).ok()?;
        let d = arm64_details(u32::from_le_bytes(word), pc)?;
        // With an index register too, the base is the pointer (x86-64's walk does the same).
        let m = d.memory.as_ref().filter(|m| matches!(m.base, Reg::X(_) | Reg::Sp))?;
        let value = regs.by_dwarf(m.base.dwarf()?)?;
        let displacement = if m.writeback == Writeback::Post { 0 } else { m.offset };
        let callers = self.return_addresses_above(pc);
        if let Some(code) = self.arm64_function_code(pc) {
            if let Some(p) = self.arm64_register_provenance(&code, pc, m.base, report.module.as_deref(), &callers) {
                self.add_walk(report, &p);
                report.provenance = Some(p);
            }
        }
        Some(BadMember::at(arm64_reg_name(m.base), value, displacement))
    }

    fn explain_arm64_branch(&self, report: &mut Report, regs: &RegisterFile, ret: u64) {
        let Some(call) = ret.checked_sub(4) else { return };
        let Some(code) = self.arm64_function_code(call) else { return };
        let Some(index) = code.index_of(call) else { return };
        let Some(Some(d)) = code.instrs.get(index).map(|i| i.2.as_ref()) else { return };
        let [target] = d.reads.as_slice() else { return };
        if d.flow != krash_arch::decoder::FlowKind::IndirectCall {
            return;
        }
        let module = self.symbolize(code.start).and_then(|s| s.module);
        let callers = self.return_addresses_above(ret);
        let Some(p) = self.arm64_register_provenance(&code, call, *target, module.as_deref(), &callers) else {
            return;
        };
        self.add_walk(report, &p);
        match p.steps.first().map(|s| (s.origin.clone(), s.address)) {
            Some((Origin::Constant { value: 0, .. }, _)) => {
                self.explain_folded_table(report, &p, call, module.as_deref())
            }
            Some((Origin::Load { base, displacement, struct_name: Some(s), member: Some(m) }, load_at)) => {
                report
                    .finding(format!(
                        "the function pointer is {} (offset {displacement:#x} of struct {s}), which is NULL",
                        p.expression.clone().unwrap_or_else(|| format!("((struct {s} *)%{base})->{m}"))
                    ))
                    .shown_by(format!("dis -l {load_at:#x}"))
                    .shown_by(format!("struct {s} -o"))
                    .at(load_at);
                // The table is still in the load's base register when
                // nothing wrote it between the load and the branch.
                let kept = code.index_of(load_at).is_some_and(|from| {
                    let reg = arm64_reg_by_name(&base);
                    (from + 1..index).all(|i| {
                        code.instrs
                            .get(i)
                            .and_then(|x| x.2.as_ref())
                            .is_none_or(|d| !reg.is_some_and(|r| d.writes_reg(r)))
                    })
                });
                let table = arm64_reg_by_name(&base).and_then(|r| r.dwarf()).and_then(|n| regs.by_dwarf(n));
                if let (true, Some(table)) = (kept, table) {
                    self.note_loaded_table(report, table, &s, &m, module.as_deref());
                }
                report.bad_member = Some(BadMember {
                    register: p.register.clone(),
                    value: 0,
                    displacement,
                    variable: p.expression.clone(),
                    struct_name: Some(s),
                    member: Some(m),
                    returned_by: None,
                });
            }
            _ => {}
        }
        report.provenance = Some(p);
    }
}

/// `x3` → the register.
fn arm64_reg_by_name(name: &str) -> Option<Reg> {
    match name {
        "sp" => Some(Reg::Sp),
        _ => name.strip_prefix('x')?.parse().ok().filter(|n| *n <= 30).map(Reg::X),
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait PointerSourceHelpers {
    /// The walk's sentences, and `dis -l` of each function it read.
    fn add_walk(&self, report: &mut Report, p: &Provenance);
    /// Adds the walk to the report; returns the chain's values read
    /// forward from the dump (see `evaluate_chain`).
    fn add_provenance(&self, report: &mut Report, code: &FunctionCode, p: &Provenance, regs: &RegisterFile)
        -> Vec<u64>;
    /// When the chain starts at an argument whose value some register
    /// still holds at the crash (copied, never changed), reads the chain's
    /// loads forward from it: each struct's address for the evidence, and
    /// the values the code loaded. Returns the argument's value, then each
    /// value loaded, as far as the dump could be read.
    fn evaluate_chain(&self, report: &mut Report, code: &FunctionCode, p: &Provenance, regs: &RegisterFile)
        -> Vec<u64>;
    /// The value argument `index` had at entry, when a register at
    /// `from` holds it through copies only.
    fn argument_value_at_crash(&self, code: &FunctionCode, from: u64, index: u32, regs: &RegisterFile) -> Option<u64>;
    /// `NULL`, or the address with its symbol when it has one.
    fn describe_address(&self, v: u64) -> String;
    /// A call to a constant address (gcc folded a const ops table's NULL
    /// slot): the table DWARF says was in scope at `call`, and its NULL member.
    fn explain_folded_table(&self, report: &mut Report, p: &Provenance, call: u64, module: Option<&str>);
    /// The ops table at `table` a call loaded its NULL `member` from, as the
    /// dump holds it: which members it sets.
    fn note_loaded_table(&self, report: &mut Report, table: u64, s: &str, member: &str, module: Option<&str>);
}

impl PointerSourceHelpers for Kernel {
    fn add_walk(&self, report: &mut Report, p: &Provenance) {
        // Every function the walk read code in (a caller's, past a clone's
        // argument), and each instruction it rests on.
        let mut functions: Vec<&String> = Vec::new();
        for function in std::iter::once(&p.function).chain(p.steps.iter().map(|s| &s.function)) {
            if !functions.contains(&function) {
                functions.push(function);
            }
        }
        let chain: Vec<&str> = p.steps.iter().map(|s| s.sentence.as_str()).collect();
        if !chain.is_empty() {
            let mut finding = report.finding(format!("provenance of %{}: {}", p.register, chain.join("; ")));
            for function in &functions {
                finding = finding.shown_by(format!("dis -l {function}"));
            }
            finding = finding.at(p.from_address);
            for step in &p.steps {
                finding = finding.at(step.address);
            }
        }
        if let Some(why) = &p.stopped {
            report.finding(format!("provenance walk stopped: {why}")).shown_by(format!("dis -l {}", p.function));
        }
        for function in functions {
            report.show(format!("dis -l {function}"));
        }
    }

    fn add_provenance(
        &self,
        report: &mut Report,
        code: &FunctionCode,
        p: &Provenance,
        regs: &RegisterFile,
    ) -> Vec<u64> {
        self.add_walk(report, p);
        let chain = self.evaluate_chain(report, code, p, regs);
        // A struct a load read from, when its pointer is still in the base
        // register at the crash: a `struct` command shows it whole.
        for step in &p.steps {
            let Origin::Load { base, struct_name: Some(s), .. } = &step.origin else { continue };
            let Some(reg) = named_registers(regs).iter().find(|(n, _)| n == base).map(|(_, v)| *v) else { continue };
            if reg != 0 && unchanged_since(code, step.address, p.from_address) {
                report.show(format!("struct {s} {reg:#x}"));
            }
        }
        chain
    }

    fn evaluate_chain(
        &self,
        report: &mut Report,
        code: &FunctionCode,
        p: &Provenance,
        regs: &RegisterFile,
    ) -> Vec<u64> {
        let Some(last) = p.steps.last() else { return Vec::new() };
        // The registers at the crash are the faulting function's: a chain
        // that ends in a caller's argument is not read forward from them.
        if last.function != code.name {
            return Vec::new();
        }
        let Origin::Argument { index, name, .. } = &last.origin else { return Vec::new() };
        let Some(mut current) = self.argument_value_at_crash(code, p.from_address, *index, regs) else {
            return Vec::new();
        };
        let mut chain = vec![current];
        let mut expression = name.clone().unwrap_or_else(|| format!("argument {index}"));
        let mut values = vec![format!("{expression} = {}", self.describe_address(current))];
        // The structs each load read from, and the words it read.
        let mut shown_by: Vec<String> = Vec::new();
        let mut read_at: Vec<u64> = Vec::new();
        for step in p.steps.iter().rev().skip(1) {
            match &step.origin {
                Origin::Copy { .. } => {}
                Origin::Load { displacement, struct_name, member, .. } => {
                    if let Some(s) = struct_name {
                        shown_by.push(format!("struct {s} {current:#x}"));
                    }
                    let Some(addr) = current.checked_add_signed(*displacement) else { break };
                    read_at.push(addr);
                    let Ok(v) = krash_core::VirtualMemory::read_u64(self.memory(), addr) else { break };
                    current = v;
                    chain.push(v);
                    expression = match member {
                        Some(m) => format!("{expression}->{m}"),
                        None => format!("*({expression} + {displacement:#x})"),
                    };
                    values.push(format!("{expression} = {}", self.describe_address(current)));
                }
                _ => break,
            }
        }
        if values.len() > 1 {
            let mut finding = report.finding(format!("read from the dump: {}", values.join("; ")));
            for command in shown_by {
                finding = finding.shown_by(command);
            }
            for addr in read_at {
                finding = finding.at(addr);
            }
        } else {
            for command in shown_by {
                report.show(command);
            }
        }
        chain
    }

    fn argument_value_at_crash(&self, code: &FunctionCode, from: u64, index: u32, regs: &RegisterFile) -> Option<u64> {
        named_registers(regs).iter().find_map(|(name, value)| {
            let reg = parse_register(name)?;
            let q = self.register_provenance(code, from, reg, None, &[])?;
            let copies_only = q.steps.iter().all(|s| matches!(s.origin, Origin::Copy { .. } | Origin::Argument { .. }));
            let from_arg =
                matches!(q.steps.last().map(|s| &s.origin), Some(Origin::Argument { index: i, .. }) if *i == index);
            (copies_only && from_arg).then_some(*value)
        })
    }

    fn explain_folded_table(&self, report: &mut Report, p: &Provenance, call: u64, module: Option<&str>) {
        let tables = self.folded_ops_tables(call, module);
        let with_null: Vec<&OpsTable> = tables.iter().filter(|t| t.null_members().next().is_some()).collect();
        let [table] = with_null.as_slice() else {
            if !with_null.is_empty() {
                let names: Vec<String> =
                    with_null.iter().map(|t| t.symbol.clone().unwrap_or_else(|| format!("{:#x}", t.address))).collect();
                let mut finding = report
                    .finding(format!(
                        "the call's target is a constant; ops tables in scope with NULL members: {}",
                        names.join(", ")
                    ))
                    .shown_by(format!("dis -l {call:#x}"))
                    .at(call);
                for t in &with_null {
                    finding = finding.shown_by(format!("struct {} {:#x}", t.struct_name, t.address)).at(t.address);
                }
            }
            return;
        };
        let mut table = (*table).clone();
        let name = table.symbol.clone().unwrap_or_else(|| format!("{:#x}", table.address));
        let table_shown = format!("struct {} {:#x}", table.struct_name, table.address);
        if let Some((variable, function)) = &table.variable {
            report
                .finding(format!(
                    "gcc folded the call: {function}()'s {variable} is the constant &{name} (a const struct {}), \
                     so the code loads no pointer and calls address {:#x}",
                    table.struct_name,
                    p.steps.first().map_or(0, |s| match s.origin {
                        Origin::Constant { value, .. } => value,
                        _ => 0,
                    })
                ))
                .shown_by(format!("dis -l {call:#x}"))
                .at(call)
                .at(table.address);
        }
        let nulls: Vec<OpsSlot> = table.null_members().cloned().collect();
        match nulls.as_slice() {
            [slot] => {
                table.member = Some(slot.member.clone());
                report
                    .finding(format!(
                        "{} is NULL in the dump; {name} sets {}",
                        table.describe_member(&slot.member),
                        table.describe_set_members()
                    ))
                    .shown_by(table_shown.clone())
                    .at(table.address.wrapping_add(slot.offset));
                report.bad_member = Some(BadMember {
                    register: p.register.clone(),
                    value: 0,
                    displacement: i64::try_from(slot.offset).unwrap_or(i64::MAX),
                    variable: Some(table.describe_member(&slot.member)),
                    struct_name: Some(table.struct_name.clone()),
                    member: Some(slot.member.clone()),
                    returned_by: None,
                });
            }
            _ => {
                let members: Vec<&str> = nulls.iter().map(|s| s.member.as_str()).collect();
                report
                    .finding(format!(
                        "{name}'s NULL members are {}: the call went through one of them; it sets {}",
                        members.join(", "),
                        table.describe_set_members()
                    ))
                    .shown_by(table_shown.clone())
                    .at(table.address);
            }
        }
        report.show(table_shown);
        report.ops_table = Some(table);
    }

    fn note_loaded_table(&self, report: &mut Report, table: u64, s: &str, member: &str, module: Option<&str>) {
        let Some(t) = self.read_ops_table(table, s, Some(member), module, TableSource::Loaded) else { return };
        report
            .finding(format!(
                "the table {} sets {}",
                t.symbol.clone().unwrap_or_else(|| format!("at {table:#x}")),
                t.describe_set_members()
            ))
            .shown_by(format!("struct {s} {table:#x}"))
            .at(table);
        report.ops_table = Some(t);
    }

    fn describe_address(&self, v: u64) -> String {
        if v == 0 {
            return "NULL".into();
        }
        match self.symbolize(v) {
            Some(s) if s.offset == 0 => format!("{v:#x} ({})", s.name),
            _ => format!("{v:#x}"),
        }
    }
}

/// True when no instruction after `step` and before `until` writes the
/// base register of `step`'s load (calls count as writing the caller-saved ones).
fn unchanged_since(code: &FunctionCode, step: u64, until: u64) -> bool {
    let (Some(from), Some(to)) = (code.index_of(step), code.index_of(until)) else { return false };
    let Some(reg) = code.instrs.get(from).and_then(|i| i.as_ref()).map(|i| i.memory_base().full_register()) else {
        return false;
    };
    (from + 1..to).all(|i| match code.instrs.get(i).and_then(|x| x.as_ref()) {
        Some(ins) => {
            let call = matches!(ins.flow_control(), FlowControl::Call | FlowControl::IndirectCall);
            let clobbers = call
                && !matches!(
                    reg,
                    Register::RBX | Register::RBP | Register::R12 | Register::R13 | Register::R14 | Register::R15
                );
            !clobbers && !code.writes(i, reg)
        }
        None => true,
    })
}

/// The register an indirect call or jump goes through (`call *%rax`, or a
/// call/jump to a retpoline thunk).
fn indirect_register(k: &Kernel, ins: &iced_x86::Instruction) -> Option<Register> {
    match ins.flow_control() {
        FlowControl::IndirectCall | FlowControl::IndirectBranch if ins.op0_kind() == OpKind::Register => {
            Some(ins.op0_register().full_register())
        }
        FlowControl::Call | FlowControl::UnconditionalBranch => {
            let s = k.symbolize(ins.near_branch_target())?;
            thunk_register(&s.name, s.offset)
        }
        _ => None,
    }
}

/// A function's indirect jumps (tail calls through a pointer), last first.
fn indirect_jumps(k: &Kernel, code: &FunctionCode) -> Vec<(u64, Register)> {
    code.instrs
        .iter()
        .enumerate()
        .rev()
        .filter_map(|(i, ins)| {
            let ins = ins.as_ref()?;
            if !matches!(ins.flow_control(), FlowControl::IndirectBranch | FlowControl::UnconditionalBranch) {
                return None;
            }
            let reg = indirect_register(k, ins)?;
            Some((code.texts.get(i)?.0, reg))
        })
        .collect()
}

/// When the faulting register is a call's return value: the callee and
/// how the code between the call and `rip` tests the value.
fn null_return_source(code: &FunctionCode, p: &Provenance, rip: u64) -> Option<NullSource> {
    // Follow copies to the step that produced the value.
    let step = p.steps.iter().find(|s| !matches!(s.origin, Origin::Copy { .. }))?;
    let Origin::ReturnValue { function } = &step.origin else { return None };
    let call_index = code.index_of(step.address)?;
    let use_index = code.index_of(rip)?;
    let checks = return_value_checks(code, call_index, use_index);
    Some(NullSource { function: function.clone(), returned: "NULL".into(), caller_checks: checks.describe().into() })
}
