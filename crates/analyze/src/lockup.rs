//! Soft lockups: the looping function and, when it walks a list, the
//! list's head and length. The head is found among the addresses the
//! function's code names (RIP-relative operands and immediates, where
//! `list_for_each` keeps its end condition): the one that is a consistent
//! `list_head` (`next->prev` and `prev->next` point back to it).

use crate::provenance::ProvenanceInternal;
use krash_core::VirtualMemory;

use crate::provenance::FunctionCode;
use crate::provenance_arm64::{Arm64Code, Arm64ProvenanceInternal};
use crate::Report;
use krash_arch::arm64::disasm::{MemAccess, Reg, Writeback};
use krash_program::list::{self, WalkOptions};
use krash_program::Kernel;

/// Bounds the entries counted: far beyond any list a lockup walks, and the
/// walker's cycle detection ends a looping list early anyway.
const MAX_LIST_ENTRIES: usize = 16 << 20;
/// Bounds the candidate addresses examined in one function.
const MAX_CANDIDATES: usize = 64;

/// A list a looping function walks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopList {
    pub function: String,
    pub head: u64,
    pub head_symbol: Option<String>,
    /// Entries, the head excluded (counted up to where a walk stopped).
    pub length: usize,
    /// Why counting stopped before returning to the head (a cycle, a bad link).
    pub broken: Option<String>,
}

/// Crate-internal helpers of this module's extension of [`Kernel`].
pub(crate) trait LockupInternal {
    /// `code_addrs`: the interrupted instruction, then its callers, innermost first.
    fn explain_lockup(&self, report: &mut Report, code_addrs: &[u64]);
}

impl LockupInternal for Kernel {
    fn explain_lockup(&self, report: &mut Report, code_addrs: &[u64]) {
        let found = if self.arch().machine == krash_arch::Machine::Aarch64 {
            code_addrs
                .iter()
                .filter_map(|&a| self.arm64_function_code(a))
                .filter(|code| code.has_loop())
                .find_map(|code| self.first_list_head(&code.name, arm64_addresses(&code)))
        } else {
            code_addrs
                .iter()
                .filter_map(|&a| self.function_code(a))
                .filter(has_loop)
                .find_map(|code| self.walked_list(&code))
        };
        let Some(found) = found else {
            return;
        };
        let name = found.head_symbol.clone().unwrap_or_else(|| format!("the list at {:#x}", found.head));
        let mut sentence = format!("{} walks {name} ({} entries)", found.function, found.length);
        if let Some(b) = &found.broken {
            sentence.push_str(&format!("; the walk stopped: {b}"));
        }
        report
            .finding(sentence)
            .shown_by(format!("dis -l {}", found.function))
            .shown_by(format!("list -H {:#x}", found.head))
            .at(found.head);
        report.loop_list = Some(found);
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait LockupHelpers {
    /// The list head among the addresses `code` names, walked and counted.
    /// Addresses a `cmp` uses (the loop's end test) are tried first.
    fn walked_list(&self, code: &FunctionCode) -> Option<LoopList>;
    /// The first of `candidates` that is a list head, walked and counted.
    fn first_list_head(&self, function: &str, candidates: Vec<u64>) -> Option<LoopList>;
    /// A non-empty `list_head` at `addr` whose neighbours point back to it.
    fn is_list_head(&self, addr: u64) -> bool;
}

impl LockupHelpers for Kernel {
    fn walked_list(&self, code: &FunctionCode) -> Option<LoopList> {
        let mut candidates: Vec<u64> = Vec::new();
        let compares = code.instrs.iter().flatten().filter(|i| i.mnemonic() == iced_x86::Mnemonic::Cmp);
        let others = code.instrs.iter().flatten().filter(|i| i.mnemonic() != iced_x86::Mnemonic::Cmp);
        for instr in compares.chain(others) {
            let mut push = |a: u64| {
                if !candidates.contains(&a) && candidates.len() < MAX_CANDIDATES {
                    candidates.push(a);
                }
            };
            if instr.is_ip_rel_memory_operand() {
                push(instr.ip_rel_memory_address());
            }
            for op in 0..instr.op_count() {
                if let Ok(imm) = instr.try_immediate(op) {
                    if imm >> 47 == 0x1ffff {
                        push(imm);
                    }
                }
            }
        }
        self.first_list_head(&code.name, candidates)
    }

    fn first_list_head(&self, function: &str, candidates: Vec<u64>) -> Option<LoopList> {
        let head = candidates.into_iter().find(|&a| self.is_list_head(a))?;
        let walk = list::walk(self.memory(), head, WalkOptions { limit: MAX_LIST_ENTRIES, ..Default::default() });
        Some(LoopList {
            function: function.to_string(),
            head,
            head_symbol: self.symbolize(head).filter(|s| s.offset == 0).map(|s| s.name),
            length: walk.nodes.len(),
            broken: walk.broken.map(|b| b.to_string()),
        })
    }

    fn is_list_head(&self, addr: u64) -> bool {
        let mem = self.memory();
        let (Ok(next), Ok(prev)) = (mem.read_u64(addr), mem.read_u64(addr.wrapping_add(8))) else { return false };
        if next == addr || next == 0 || prev == 0 {
            return false;
        }
        mem.read_u64(next.wrapping_add(8)).is_ok_and(|p| p == addr) && mem.read_u64(prev).is_ok_and(|n| n == addr)
    }
}

/// The addresses arm64 code names: `adrp` pages finished by an `add` or a
/// load's offset (`adrp x3, ...; add x3, x3, #0x130; ldr x1, [x3, #80]!`),
/// followed through copies and written-back bases; the ones a `cmp` tests
/// (the loop's end condition) first.
pub(crate) fn arm64_addresses(code: &Arm64Code) -> Vec<u64> {
    let mut known: std::collections::HashMap<Reg, u64> = Default::default();
    let (mut compared, mut others): (Vec<u64>, Vec<u64>) = (Vec::new(), Vec::new());
    for d in code.instrs.iter().filter_map(|i| i.2.as_ref()) {
        if d.mnemonic == "cmp" {
            compared.extend(d.reads.iter().filter_map(|r| known.get(r)));
            continue;
        }
        let mut value = None;
        if let Some(m) = &d.memory {
            if let Some(&base) = known.get(&m.base) {
                let offset = m.offset as u64;
                others.push(if m.writeback == Writeback::Post { base } else { base.wrapping_add(offset) });
                if m.writeback != Writeback::None {
                    known.insert(m.base, base.wrapping_add(offset));
                }
            }
            for t in &m.transfer {
                if m.access != MemAccess::Store {
                    known.remove(t);
                }
            }
            continue;
        }
        if d.mnemonic == "adrp" {
            value = d.pc_relative;
        } else if let ([from], Some(imm)) = (d.reads.as_slice(), d.add_immediate) {
            value = known.get(from).map(|v| v.wrapping_add(imm as u64));
        } else if let ("mov", [from]) = (d.mnemonic.as_str(), d.reads.as_slice()) {
            value = known.get(from).copied();
        }
        for w in &d.writes {
            known.remove(w);
        }
        if let (Some(v), Some(&w)) = (value, d.writes.first()) {
            known.insert(w, v);
            if d.mnemonic != "adrp" {
                others.push(v);
            }
        }
    }
    compared.into_iter().chain(others).fold(Vec::new(), |mut all, a| {
        if !all.contains(&a) && all.len() < MAX_CANDIDATES {
            all.push(a);
        }
        all
    })
}

/// True when some branch in the function jumps backwards (a loop).
fn has_loop(code: &FunctionCode) -> bool {
    code.jump_sources
        .iter()
        .any(|(target, sources)| sources.iter().any(|&s| code.texts.get(s).is_some_and(|(a, _)| a >= target)))
}
