//! A WARN that `panic_on_warn` made fatal: the warning's source line and
//! the values its condition tested. gcc compiles `WARN_ON(cond)` into a
//! conditional branch to the trap instruction (x86-64's `ud2`, arm64's
//! `brk`) that the bug table names: the branch's flags come from the
//! compare just before it, and nothing runs between that branch and the
//! trap, so the trap's registers still hold the compare's operands.

use iced_x86::{OpKind, Register};
use krash_arch::arm64::disasm::Reg;
use krash_arch::{Machine, RegisterFile};
use krash_core::VirtualMemory;
use krash_program::Kernel;

use crate::provenance::ProvenanceInternal;
use crate::provenance_arm64::{reg_name, Arm64ProvenanceInternal};
use crate::{register_value, Report};

/// One operand of the compare and its value at the trap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestedValue {
    /// The operand as the disassembly spells it (`%eax`, `0x8(%rdi)`, `$0x100`, `w1`).
    pub operand: String,
    pub value: u64,
}

/// The check a WARN's condition made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarningCheck {
    /// The compare that set the flags, in the disassembly's syntax.
    pub compare: String,
    /// The conditional branch to the trap (`ja`, `b.hi`).
    pub branch: String,
    /// Where the branch is.
    pub branch_address: u64,
    /// The compare's operands, in its order (the first is compared with the
    /// second: `cmp a, b` sets the flags of a - b).
    pub tested: Vec<TestedValue>,
}

/// Crate-internal: what a WARN or a BUG_ON tested.
pub(crate) trait WarningInternal {
    /// `trap`: the trap instruction's address (the exception's pc).
    fn explain_warning(&self, report: &mut Report, regs: &RegisterFile, trap: u64);
    /// A BUG_ON(cond): the same compare-and-branch to the trap as a WARN's.
    /// Nothing is said of a BUG() that no condition branches to.
    fn explain_bug_check(&self, report: &mut Report, regs: &RegisterFile, trap: u64);
}

impl WarningInternal for Kernel {
    fn explain_warning(&self, report: &mut Report, regs: &RegisterFile, trap: u64) {
        let check = match self.arch().machine {
            Machine::X86_64 => self.x86_warning_check(regs, trap),
            Machine::Aarch64 => self.arm64_warning_check(regs, trap),
            _ => None,
        };
        let function = report.faulting_function.clone().unwrap_or_else(|| format!("{trap:#x}"));
        let at = report.source.as_ref().map(|l| format!(" at {}:{}", l.file, l.line)).unwrap_or_default();
        let Some(check) = check else {
            report
                .lead_finding(format!(
                    "a WARN in {function}{at} fired and panic_on_warn made it a panic; no compare-and-branch to \
                     the trap was found to say what it tested"
                ))
                .shown_by(format!("dis -l {function}"))
                .at(trap);
            return;
        };
        let values: Vec<String> =
            check.tested.iter().map(|t| format!("{} = {}", t.operand, value_text(t.value))).collect();
        report
            .lead_finding(format!(
                "the WARN in {function}{at} fired and panic_on_warn made it a panic: `{}` compared {} and `{}` \
                 branched to the warning",
                check.compare,
                values.join(" with "),
                check.branch
            ))
            .shown_by(format!("dis -l {function}"))
            .shown_by("bt")
            .at(check.branch_address)
            .at(trap);
        report.warning = Some(check);
    }

    fn explain_bug_check(&self, report: &mut Report, regs: &RegisterFile, trap: u64) {
        let check = match self.arch().machine {
            Machine::X86_64 => self.x86_warning_check(regs, trap),
            Machine::Aarch64 => self.arm64_warning_check(regs, trap),
            _ => None,
        };
        let Some(check) = check else { return };
        let function = self.symbolize(trap).map_or_else(|| format!("{trap:#x}"), |s| s.name);
        let at = report.source.as_ref().map(|l| format!(" at {}:{}", l.file, l.line)).unwrap_or_default();
        let values: Vec<String> =
            check.tested.iter().map(|t| format!("{} = {}", t.operand, value_text(t.value))).collect();
        let sentence = format!(
            "the BUG_ON in {function}{at} fired: `{}` compared {} and `{}` branched to the BUG()",
            check.compare,
            values.join(" with "),
            check.branch
        );
        // A diagnosis made of the BUG_ON (a double free) leads; this is its evidence.
        let finding = if report.findings.is_empty() { report.lead_finding(sentence) } else { report.finding(sentence) };
        finding.shown_by(format!("dis -l {function}")).shown_by("bt").at(check.branch_address).at(trap);
        report.warning = Some(check);
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait WarningHelpers {
    fn x86_warning_check(&self, regs: &RegisterFile, trap: u64) -> Option<WarningCheck>;
    fn arm64_warning_check(&self, regs: &RegisterFile, trap: u64) -> Option<WarningCheck>;
    /// The value of one x86-64 operand at the trap.
    fn x86_operand(&self, regs: &RegisterFile, i: &iced_x86::Instruction, op: u32) -> Option<u64>;
}

impl WarningHelpers for Kernel {
    fn x86_warning_check(&self, regs: &RegisterFile, trap: u64) -> Option<WarningCheck> {
        let code = self.function_code(trap)?;
        let &branch_index = code.jump_sources.get(&trap)?.first()?;
        let branch = code.instrs.get(branch_index)?.as_ref()?;
        let compare_index = branch_index.checked_sub(1)?;
        let compare = code.instrs.get(compare_index)?.as_ref()?;
        if compare.rflags_modified() == 0 {
            return None;
        }
        let texts = |i: usize| code.texts.get(i).map(|(_, t)| t.clone());
        let compare_text = texts(compare_index)?;
        // In the compare's own order (`cmp a, b` computes a - b: Intel's
        // operand order); the disassembly spells them in AT&T's, reversed.
        let spelled: Vec<String> = operands_of(&compare_text);
        let mut tested = Vec::new();
        for op in 0..compare.op_count() {
            let value = self.x86_operand(regs, compare, op)?;
            let k = compare.op_count().checked_sub(op + 1).map_or(usize::MAX, |k| k as usize);
            let operand = spelled.get(k).cloned().unwrap_or_else(|| format!("operand {op}"));
            tested.push(TestedValue { operand, value });
        }
        Some(WarningCheck {
            compare: compare_text,
            branch: texts(branch_index)?.split_whitespace().next().unwrap_or_default().to_string(),
            branch_address: branch.ip(),
            tested,
        })
    }

    fn arm64_warning_check(&self, regs: &RegisterFile, trap: u64) -> Option<WarningCheck> {
        let code = self.arm64_function_code(trap)?;
        let &branch_index = code.jump_sources.get(&trap)?.first()?;
        let (branch_address, branch_text, _) = code.instrs.get(branch_index)?;
        let (_, compare_text, details) = code.instrs.get(branch_index.checked_sub(1)?)?;
        let details = details.as_ref()?;
        if !matches!(details.mnemonic.as_str(), "cmp" | "cmn" | "tst" | "subs" | "adds" | "ands") {
            return None;
        }
        let mut tested = Vec::new();
        for operand in operands_of(compare_text) {
            let value = if let Some(imm) = operand.strip_prefix('#') {
                parse_immediate(imm)?
            } else {
                let reg = parse_arm64_reg(&operand)?;
                let value = if reg == Reg::Zr { 0 } else { register_value(regs, &reg_name(reg))? };
                if operand.starts_with('w') {
                    value & 0xffff_ffff
                } else {
                    value
                }
            };
            tested.push(TestedValue { operand, value });
        }
        Some(WarningCheck {
            compare: compare_text.clone(),
            branch: branch_text.split_whitespace().next().unwrap_or_default().to_string(),
            branch_address: *branch_address,
            tested,
        })
    }

    fn x86_operand(&self, regs: &RegisterFile, i: &iced_x86::Instruction, op: u32) -> Option<u64> {
        let kind = i.op_kind(op);
        match kind {
            OpKind::Register => {
                let r = i.op_register(op);
                let full = format!("{:?}", r.full_register()).to_lowercase();
                Some(truncate(register_value(regs, &full)?, r.size()))
            }
            OpKind::Memory => {
                let size = i.memory_size().size();
                let address = if i.is_ip_rel_memory_operand() {
                    i.ip_rel_memory_address()
                } else {
                    let base = match i.memory_base() {
                        Register::None => 0,
                        b => register_value(regs, &format!("{:?}", b.full_register()).to_lowercase())?,
                    };
                    let index = match i.memory_index() {
                        Register::None => 0,
                        x => register_value(regs, &format!("{:?}", x.full_register()).to_lowercase())?
                            .wrapping_mul(u64::from(i.memory_index_scale())),
                    };
                    base.wrapping_add(index).wrapping_add(i.memory_displacement64())
                };
                let mut buf = [0u8; 8];
                let width = size.clamp(1, 8);
                self.memory().read_virt(address, buf.get_mut(..width)?).ok()?;
                Some(u64::from_le_bytes(buf))
            }
            _ => i.try_immediate(op).ok(),
        }
    }
}

/// A tested value as a reader wants it: a count in decimal with its hex,
/// an address in hex alone.
fn value_text(value: u64) -> String {
    if value > 0xffff_ffff {
        format!("{value:#x}")
    } else {
        format!("{value} ({value:#x})")
    }
}

/// The low `bytes` bytes of a register's value.
fn truncate(value: u64, bytes: usize) -> u64 {
    match bytes {
        1 => value & 0xff,
        2 => value & 0xffff,
        4 => value & 0xffff_ffff,
        _ => value,
    }
}

/// The operands of one disassembled instruction (`cmp 0x8(%rdi),%eax` →
/// `0x8(%rdi)`, `%eax`), split at the commas outside parentheses and
/// brackets, without a trailing `<symbol>` comment.
fn operands_of(text: &str) -> Vec<String> {
    let Some((_, rest)) = text.trim().split_once(char::is_whitespace) else { return Vec::new() };
    let rest = rest.split(" <").next().unwrap_or(rest).trim();
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut current = String::new();
    for c in rest.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                out.push(current.trim().to_string());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

fn parse_immediate(text: &str) -> Option<u64> {
    let t = text.trim();
    match t.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => t.parse().ok(),
    }
}

/// `w3` / `x3` → register 3 (`wzr`/`xzr` → the zero register).
fn parse_arm64_reg(text: &str) -> Option<Reg> {
    let t = text.trim();
    if t == "wzr" || t == "xzr" {
        return Some(Reg::Zr);
    }
    let n: u8 = t.strip_prefix('w').or_else(|| t.strip_prefix('x'))?.parse().ok()?;
    (n < 31).then_some(Reg::X(n))
}

#[cfg(test)]
mod tests {
    use super::{operands_of, parse_arm64_reg, parse_immediate};
    use krash_arch::arm64::disasm::Reg;

    #[test]
    fn operands_split_outside_parentheses() {
        assert_eq!(operands_of("cmp    0x8(%rdi,%rax,4),%eax"), ["0x8(%rdi,%rax,4)", "%eax"]);
        assert_eq!(operands_of("cmp w1, #0x100"), ["w1", "#0x100"]);
        assert_eq!(operands_of("cmp %eax,0x10(%rip) <krash_x+0x8>"), ["%eax", "0x10(%rip)"]);
        assert!(operands_of("ud2").is_empty());
    }

    #[test]
    fn arm64_operands_parse() {
        assert_eq!(parse_arm64_reg("w12"), Some(Reg::X(12)));
        assert_eq!(parse_arm64_reg("xzr"), Some(Reg::Zr));
        assert_eq!(parse_arm64_reg("sp"), None);
        assert_eq!(parse_immediate("0x100"), Some(256));
        assert_eq!(parse_immediate("12"), Some(12));
    }
}
