//! Diagnosis, above the subsystems. `analyze`: what killed the kernel,
//! where, and why, from the dump alone: the log's headline and panic
//! string, the panic task's backtrace and exception frame, the faulting
//! instruction's base register and the DWARF type it points to, blocked
//! tasks, and corrupted pointer values. `oops` and `oops_resolve`: oops
//! text parsed and resolved against a vmlinux (`krash decode`).

use crate::double_free::DoubleFreeInternal;
use crate::freed_object::FreedObjectInternal;
use crate::hung::HungInternal;
use crate::list_poison::ListPoisonInternal;
use crate::lockup::LockupInternal;
use crate::oom::OomInternal;
use crate::pointer_source::{Arm64PointerSourceInternal, PointerSourceInternal};
use crate::provenance::ProvenanceInternal;
use crate::rcu_stall::RcuStallInternal;
use crate::refcount::RefcountInternal;
use crate::slab_state::SlabStateInternal;
use crate::spin_wait::SpinWaitInternal;
use crate::stack_overflow::StackOverflowInternal;
use crate::stack_smash::StackSmashInternal;
use crate::warning::WarningInternal;
use krash_eval::frame_vars::FrameVarsExt;
use krash_linux::printk::PrintkExt;
use krash_linux::sched::backtrace::BacktraceExt;
use krash_linux::sched::task::TaskExt;
use std::path::Path;

use krash_arch::arm64::esr::{decode_syndrome, Syndrome};
use krash_arch::disasm::{decode_one, disassemble, instruction_details};
use krash_arch::{Machine, RegisterFile, RegisterRole};
use krash_core::{Result, VirtualMemory};
use krash_linux::sched::backtrace::{StartSource, TaskBacktrace};
use krash_unwind::{ExceptionFrame, StackClass, Symbolized, TraceItem};

use krash_eval::frame_vars::VariableState;
use krash_program::symbolize::{InlineFrame, SourceLine};
use krash_program::Kernel;

mod double_free;
mod freed_object;
mod hung;
pub mod known_issues;
mod list_poison;
mod lockup;
mod null_check;
mod oom;
pub mod oops;
pub mod oops_resolve;
mod ops_table;
pub mod owners;
mod pointer_source;
mod provenance;
mod provenance_arm64;
mod rcu_stall;
mod refcount;
pub mod signature;
mod slab_state;
mod spin_wait;
mod stack_overflow;
mod stack_smash;
mod warning;

pub use double_free::DoubleFree;
pub use freed_object::FreedObject;
pub use hung::{DeadlockLink, LockOwner, LockWait};
pub use list_poison::ListPoison;
pub use lockup::LoopList;
pub use null_check::ReturnChecks;
pub use oom::{parse_oom_request, CacheUse, OomRequest, OomUse, TaskUse};
pub use ops_table::{OpsSlot, OpsTable, TableSource};
pub use provenance::{Origin, Provenance, ProvenanceStep};
pub use rcu_stall::{parse_stall, RcuStall, StallReport, StalledCpu};
pub use refcount::{saturation_name, RefcountError};
pub use slab_state::SlabState;
pub use spin_wait::{SpinHolder, SpinWait};
pub use stack_overflow::StackOverflow;
pub use stack_smash::StackSmash;
pub use warning::{TestedValue, WarningCheck};

/// The panic's kind, in stable snake_case for `--json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PanicKind {
    NullDeref,
    NullFnptr,
    PagingFault,
    Gpf,
    StackSegment,
    DivideError,
    Bug,
    SoftLockup,
    HardLockup,
    HungTask,
    RcuStall,
    Oom,
    StackOverflow,
    StackProtector,
    ListCorruption,
    Warning,
    Sysrq,
    ExplicitPanic,
    #[default]
    Unknown,
}

impl PanicKind {
    /// The stable name (`null_deref`, ...).
    pub fn name(self) -> &'static str {
        match self {
            PanicKind::NullDeref => "null_deref",
            PanicKind::NullFnptr => "null_fnptr",
            PanicKind::PagingFault => "paging_fault",
            PanicKind::Gpf => "gpf",
            PanicKind::StackSegment => "stack_segment",
            PanicKind::DivideError => "divide_error",
            PanicKind::Bug => "bug",
            PanicKind::SoftLockup => "soft_lockup",
            PanicKind::HardLockup => "hard_lockup",
            PanicKind::HungTask => "hung_task",
            PanicKind::RcuStall => "rcu_stall",
            PanicKind::Oom => "oom",
            PanicKind::StackOverflow => "stack_overflow",
            PanicKind::StackProtector => "stack_protector",
            PanicKind::ListCorruption => "list_corruption",
            PanicKind::Warning => "warning",
            PanicKind::Sysrq => "sysrq",
            PanicKind::ExplicitPanic => "explicit_panic",
            PanicKind::Unknown => "unknown",
        }
    }

    /// A phrase for the report's first line.
    pub fn describe(self) -> &'static str {
        match self {
            PanicKind::NullDeref => "NULL pointer dereference",
            PanicKind::NullFnptr => "call through a NULL function pointer",
            PanicKind::PagingFault => "paging fault on a bad address",
            PanicKind::Gpf => "general protection fault",
            PanicKind::StackSegment => "stack-segment fault",
            PanicKind::DivideError => "divide error (division by zero)",
            PanicKind::Bug => "BUG() / invalid opcode",
            PanicKind::SoftLockup => "soft lockup",
            PanicKind::HardLockup => "hard lockup",
            PanicKind::HungTask => "hung task",
            PanicKind::RcuStall => "RCU stall",
            PanicKind::Oom => "out of memory",
            PanicKind::StackOverflow => "kernel stack overflow",
            PanicKind::StackProtector => "stack protector",
            PanicKind::ListCorruption => "list corruption",
            PanicKind::Warning => "WARNING with panic_on_warn",
            PanicKind::Sysrq => "sysrq-triggered crash",
            PanicKind::ExplicitPanic => "explicit panic",
            PanicKind::Unknown => "unknown",
        }
    }
}

/// The member a NULL or bad base pointer was dereferenced at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadMember {
    pub register: String,
    pub value: u64,
    pub displacement: i64,
    /// The variable DWARF places in that register, when one is.
    pub variable: Option<String>,
    pub struct_name: Option<String>,
    pub member: Option<String>,
    /// The call whose return value the register holds, when the
    /// instruction before loads it that way.
    pub returned_by: Option<String>,
}

impl BadMember {
    /// An access `displacement` bytes from the pointer in `register`,
    /// before anything is known of what the pointer is.
    pub fn at(register: String, value: u64, displacement: i64) -> BadMember {
        BadMember { register, value, displacement, variable: None, struct_name: None, member: None, returned_by: None }
    }
}

/// A register value that cannot be a pointer, and what it looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorruptValue {
    pub register: String,
    pub value: u64,
    /// `ascii`, `utf16`, `slab_poison`, `list_poison1`, `list_poison2`,
    /// `non_canonical`.
    pub class: String,
    pub text: Option<String>,
}

/// A task in D state and the top of its stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedTask {
    pub pid: i32,
    pub comm: String,
    pub task: u64,
    pub frames: Vec<String>,
    /// The lock it waits for, when its stack holds a waiter entry.
    pub waits_on: Option<u64>,
    /// That lock's symbol, when it is a global.
    pub waits_on_symbol: Option<String>,
}

impl BlockedTask {
    /// `task` asleep under `frame_names` (its trace's symbols, innermost
    /// first): the first `kept` that are not plumbing, no lock known yet.
    pub(crate) fn asleep(task: &krash_linux::sched::task::Task, frame_names: &[String], kept: usize) -> Self {
        BlockedTask {
            pid: task.pid,
            comm: task.comm.clone(),
            task: task.addr,
            frames: frame_names.iter().filter(|n| !is_plumbing(n)).take(kept).cloned().collect(),
            waits_on: None,
            waits_on_symbol: None,
        }
    }
}

/// The symbols of a backtrace's frames, innermost first (frames with no
/// symbol left out).
pub(crate) fn frame_names(bt: &TaskBacktrace) -> Vec<String> {
    bt.trace.frames().filter_map(|f| f.symbol.as_ref().map(|s| s.name.clone())).collect()
}

/// A NULL pointer that came from a call's return value, and how the
/// caller tested it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NullSource {
    pub function: String,
    /// `NULL`.
    pub returned: String,
    /// `IS_ERR`, `NULL`, `IS_ERR and NULL` or `nothing`.
    pub caller_checks: String,
}

/// A divide error's divisor and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divisor {
    /// The register operand (`ecx`), when the divisor is one.
    pub register: Option<String>,
    /// Its value at the fault, as wide as the division.
    pub value: Option<u64>,
    /// The C expression it holds (`st->nr_samples`), when the walk knows it.
    pub expression: Option<String>,
    pub struct_name: Option<String>,
    pub member: Option<String>,
    /// The object the member was read from: a symbol, else its address.
    pub object: Option<String>,
    /// `idiv` (signed) rather than `div`.
    pub signed: bool,
}

/// The analysis of one dump.
#[derive(Debug, Clone)]
pub struct Report {
    pub kind: PanicKind,
    pub description: String,
    pub headline: Option<String>,
    pub panic_string: Option<String>,
    pub pid: Option<i32>,
    pub comm: Option<String>,
    pub task: Option<u64>,
    pub cpu: Option<u32>,
    pub context: String,
    pub faulting_function: Option<String>,
    pub rip: Option<u64>,
    /// What the architecture calls the program counter, as crash prints
    /// it in register dumps (`RIP`, `PC`).
    pub pc_label: String,
    pub instruction: Option<String>,
    /// The exception syndrome the kernel logged (arm64's ESR), decoded.
    pub syndrome: Option<Syndrome>,
    /// The faulting instruction's source line (the call's, for a call through NULL).
    pub source: Option<SourceLine>,
    /// The functions inlined at the faulting instruction, innermost first.
    pub inline_chain: Vec<InlineFrame>,
    pub module: Option<String>,
    pub module_taint: Option<String>,
    pub fault_address: Option<u64>,
    pub bad_member: Option<BadMember>,
    pub caller: Option<String>,
    pub return_address: Option<u64>,
    pub corrupt_values: Vec<CorruptValue>,
    pub blocked_tasks: Vec<BlockedTask>,
    /// Where the bad register's value came from.
    pub provenance: Option<Provenance>,
    /// The call that returned the NULL that was dereferenced.
    pub null_source: Option<NullSource>,
    /// For a divide error: the divisor.
    pub divisor: Option<Divisor>,
    /// A bad pointer computed from a list link that list_del() poisoned.
    pub list_poison: Option<ListPoison>,
    /// An object SLUB found freed twice.
    pub double_free: Option<DoubleFree>,
    /// The free slab object the bad pointer was read from (a use after free).
    pub freed_object: Option<FreedObject>,
    /// For a stack-protector panic: the buffer written past its end.
    pub stack_smash: Option<StackSmash>,
    /// For an out-of-memory panic: where the memory went.
    pub oom: Option<OomUse>,
    /// For a refcount_t warning: the count and the object it counts.
    pub refcount: Option<RefcountError>,
    /// For an RCU stall: the CPUs that held up the grace period.
    pub rcu_stall: Option<RcuStall>,
    /// For a stack overflow: the recursion that used the stack up.
    pub stack_overflow: Option<StackOverflow>,
    /// For a lockup spinning on a spinlock: the lock and its likely holder.
    pub spin_wait: Option<SpinWait>,
    /// For a WARN made fatal by panic_on_warn: what its condition tested.
    pub warning: Option<WarningCheck>,
    /// Hung tasks waiting on each other in a cycle: each holds the lock
    /// the previous one waits for.
    pub deadlock: Vec<DeadlockLink>,
    /// For a call through a NULL function pointer: the ops table it went
    /// through, its NULL and set members.
    pub ops_table: Option<OpsTable>,
    /// The list a soft-locked loop walks.
    pub loop_list: Option<LoopList>,
    /// Locks D-state tasks wait for, with their owners.
    pub locks: Vec<LockWait>,
    /// The freelist state of the slab cache the fault happened in.
    pub slab: Option<SlabState>,
    /// Sentences saying why, in order of confidence, each with what shows it.
    pub findings: Vec<Finding>,
    /// krash commands that show the evidence: every finding's, and the
    /// general ones (`log`, `bt`, `mod -t`), each once.
    pub evidence: Vec<String>,
    pub top_frames: Vec<String>,
    pub signature: String,
    /// Who to call (filled by [`owners::attach_owner`], which needs the
    /// kernel's MAINTAINERS file).
    pub owner: Option<owners::Owner>,
    /// The known issues (data/known-issues and the user's) the signature matches.
    pub known_issues: Vec<known_issues::KnownIssue>,
}

/// One sentence of the WHY with its evidence: the krash commands that show
/// it, and the kernel addresses it rests on (the code it reads, the objects
/// and words whose values it states).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub sentence: String,
    pub shown_by: Vec<String>,
    pub addresses: Vec<u64>,
}

impl Report {
    /// Adds a finding after the others; what it returns attaches its
    /// evidence.
    pub(crate) fn finding(&mut self, sentence: impl Into<String>) -> FindingMut<'_> {
        let index = self.findings.len();
        self.insert_finding(index, sentence.into())
    }

    /// Adds the finding that explains the crash ahead of the others, after
    /// only the hardware's own account of the fault (arm64's syndrome).
    pub(crate) fn lead_finding(&mut self, sentence: impl Into<String>) -> FindingMut<'_> {
        let after_syndrome =
            self.syndrome.as_ref().is_some_and(|s| self.findings.first().is_some_and(|f| f.sentence == s.describe()));
        self.insert_finding(usize::from(after_syndrome), sentence.into())
    }

    fn insert_finding(&mut self, index: usize, sentence: String) -> FindingMut<'_> {
        let index = index.min(self.findings.len());
        self.findings.insert(index, Finding { sentence, shown_by: Vec::new(), addresses: Vec::new() });
        FindingMut { report: self, index }
    }

    /// A krash command that shows evidence, listed once.
    pub(crate) fn show(&mut self, command: impl Into<String>) {
        let command = command.into();
        if !self.evidence.contains(&command) {
            self.evidence.push(command);
        }
    }

    /// The sentences alone, in order.
    pub fn sentences(&self) -> impl Iterator<Item = &str> {
        self.findings.iter().map(|f| f.sentence.as_str())
    }
}

/// A finding just added, to attach its evidence to.
pub(crate) struct FindingMut<'r> {
    report: &'r mut Report,
    index: usize,
}

impl FindingMut<'_> {
    /// A krash command that shows the finding (also listed in EVIDENCE).
    pub(crate) fn shown_by(self, command: impl Into<String>) -> Self {
        let command = command.into();
        self.report.show(command.clone());
        if let Some(f) = self.report.findings.get_mut(self.index) {
            if !f.shown_by.contains(&command) {
                f.shown_by.push(command);
            }
        }
        self
    }

    /// A kernel address the finding rests on.
    pub(crate) fn at(self, address: u64) -> Self {
        if let Some(f) = self.report.findings.get_mut(self.index) {
            if !f.addresses.contains(&address) {
                f.addresses.push(address);
            }
        }
        self
    }
}

/// Frames that belong to the crash machinery, exception entry, interrupt
/// plumbing, locking or sleeping, not to the code that went wrong: the
/// signature rules' irrelevant frames (data/signature-rules).
pub(crate) fn is_plumbing(name: &str) -> bool {
    signature::rules().is_irrelevant(name)
}

/// Bounds the D-state tasks reported in full.
pub(crate) const MAX_BLOCKED_REPORTED: usize = 64;
/// Frames of a blocked task's stack kept in its report (plumbing left out).
pub(crate) const BLOCKED_FRAMES_KEPT: usize = 4;

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait AnalyzeExt {
    /// Explains the crash in this dump. `extra_module_dirs` are searched
    /// for module objects (`.ko`) besides the usual places (the dump's own
    /// directory is a good one).
    fn analyze(&self, extra_module_dirs: &[&Path]) -> Result<Report>;
}

impl AnalyzeExt for Kernel {
    fn analyze(&self, extra_module_dirs: &[&Path]) -> Result<Report> {
        let log: Vec<String> = self.log_records().map(|r| r.into_iter().map(|r| r.text).collect()).unwrap_or_default();
        let classified = classify_log(&log);
        // The log's text without timestamps and caller ids, for the readers
        // of the kernel's own reports (RCU's, the OOM killer's, refcount's).
        let bodies: Vec<&str> = log.iter().map(|l| crate::oops::strip_prefixes(l).trim()).collect();
        // The code-reading parts (faulting instruction, pointer provenance,
        // lockup loops) know x86-64 code only.
        let x86 = self.arch().machine == Machine::X86_64;
        let mut report = Report {
            kind: classified.kind,
            description: String::new(),
            headline: classified.headline.clone(),
            panic_string: classified.panic_string.clone(),
            pid: None,
            comm: None,
            task: None,
            cpu: self.panic_cpu(),
            context: "unknown".into(),
            faulting_function: None,
            rip: None,
            pc_label: {
                let registers = &self.arch().registers;
                let pc = registers.with_role(RegisterRole::ProgramCounter).and_then(|id| registers.desc(id));
                pc.map_or_else(|| "PC".to_string(), |d| d.name.to_uppercase())
            },
            instruction: None,
            syndrome: classified.syndrome.filter(|_| self.arch().machine == Machine::Aarch64).map(decode_syndrome),
            source: None,
            inline_chain: Vec::new(),
            module: None,
            module_taint: None,
            fault_address: classified.fault_address,
            bad_member: None,
            caller: None,
            return_address: None,
            corrupt_values: Vec::new(),
            blocked_tasks: Vec::new(),
            provenance: None,
            null_source: None,
            divisor: None,
            list_poison: None,
            double_free: None,
            freed_object: None,
            stack_smash: None,
            stack_overflow: None,
            rcu_stall: None,
            refcount: None,
            oom: None,
            spin_wait: None,
            warning: None,
            deadlock: Vec::new(),
            ops_table: None,
            loop_list: None,
            locks: Vec::new(),
            slab: None,
            findings: Vec::new(),
            evidence: vec!["log | tail -80".into(), "bt".into()],
            top_frames: Vec::new(),
            signature: String::new(),
            owner: None,
            known_issues: Vec::new(),
        };
        let panic_task = self.panic_task().and_then(|addr| self.task_at(addr).ok().map(std::borrow::Cow::into_owned));
        let mut trace = None;
        if let Some(task) = &panic_task {
            report.pid = Some(task.pid);
            report.comm = Some(task.comm.clone());
            report.task = Some(task.addr);
            report.cpu = report.cpu.or(Some(task.cpu));
            trace = self.backtrace(task).ok();
        }
        report.context = self.panic_context(report.cpu, report.task, trace.as_ref().map(|t| &t.trace.items));
        let exception = trace.as_ref().and_then(|t| fault_exception(&t.trace.items).cloned());
        // arm64's die() hands the exception's own registers to the crash
        // kernel: the trace starts at the faulting instruction, and the
        // first exception frame is one the fault interrupted (the idle
        // loop under a timer's BUG() in softirq), on another stack.
        let exception = exception.filter(|_| {
            x86 || !synchronous_fault(classified.kind)
                || !trace.as_ref().is_some_and(|t| starts_at_fault_before_switch(&t.trace.items))
        });
        // Modules named in the trace get their debuginfo loaded for lines and types.
        if let Some(t) = &trace {
            for f in t.trace.frames() {
                if let Some(m) = f.symbol.as_ref().and_then(|s| s.module.clone()) {
                    self.ensure_module_debuginfo(&m, extra_module_dirs);
                }
            }
        }
        if let Some(e) = &exception {
            if let Some(m) = e.rip_symbol.as_ref().and_then(|s| s.module.clone()) {
                self.ensure_module_debuginfo(&m, extra_module_dirs);
            }
        }
        // The frames from the exception on: names, and code addresses
        // inside each function (a return address is looked up one back).
        // The fault's context ends at the trace's next boundary: after the
        // fault's exception frame, or from the start where the trace starts
        // at the fault (arm64's die() hands the fault's registers over).
        let bounded = exception.is_some() || (!x86 && synchronous_fault(classified.kind));
        let (frames_after, code_after): (Vec<String>, Vec<u64>) = trace
            .as_ref()
            .map(|t| {
                let mut frames = Vec::new();
                let mut past_exception = exception.is_none();
                for item in &t.trace.items {
                    match item {
                        // A second boundary (another exception frame, or the
                        // trace leaving an interrupt stack) starts the context
                        // the fault interrupted: whatever happened to run there
                        // is not part of this crash.
                        TraceItem::Exception(_) | TraceItem::StackSwitch { .. }
                            if past_exception && bounded && !frames.is_empty() =>
                        {
                            break
                        }
                        // The fault's own frame (not one of panic()'s, before it).
                        TraceItem::Exception(e) if !e.user_mode && exception.as_ref() == Some(e) => {
                            past_exception = true
                        }
                        TraceItem::Frame(f) if past_exception => {
                            if let Some(s) = &f.symbol {
                                frames.push((s.name.clone(), if f.exact { f.pc } else { f.pc.wrapping_sub(1) }));
                            }
                        }
                        _ => {}
                    }
                }
                frames.into_iter().unzip()
            })
            .unwrap_or_default();
        let all_frames: Vec<String> = trace
            .as_ref()
            .map(|t| t.trace.frames().filter_map(|f| f.symbol.as_ref().map(|s| s.name.clone())).collect())
            .unwrap_or_default();

        // arm64's die() path: no exception frame on the stack, but the
        // panicking CPU's note holds the fault's own registers.
        let fault_frame = match &exception {
            Some(e) => Some(e.clone()),
            None if !x86 && synchronous_fault(classified.kind) => {
                trace.as_ref().and_then(|t| self.fault_from_cpu_note(t))
            }
            None => None,
        };
        // The hardware's own account of the fault comes first.
        if let Some(syndrome) = &report.syndrome {
            let sentence = syndrome.describe();
            report.finding(sentence).shown_by("log | tail -80");
        }
        match report.kind {
            PanicKind::HungTask => self.explain_hung(&mut report, extra_module_dirs),
            PanicKind::StackProtector => self.explain_stack_smash(&mut report, trace.as_ref()),
            PanicKind::StackOverflow => self.explain_stack_overflow(&mut report, trace.as_ref()),
            PanicKind::Oom => self.explain_oom(&mut report, &bodies, trace.as_ref()),
            PanicKind::RcuStall => self.explain_rcu_stall(&mut report, &bodies),
            _ => {
                if let Some(e) = fault_frame.as_ref().filter(|_| has_fault_frame(report.kind)) {
                    self.explain_exception(&mut report, e);
                    match report.kind {
                        PanicKind::SoftLockup | PanicKind::HardLockup => {
                            let callers = frames_after
                                .iter()
                                .zip(&code_after)
                                .filter(|(n, _)| !is_plumbing(n))
                                .map(|(_, pc)| *pc);
                            let looping: Vec<u64> = e.regs.pc().into_iter().chain(callers).take(4).collect();
                            self.explain_lockup(&mut report, &looping);
                            self.explain_spin_wait(&mut report, &e.regs, trace.as_ref(), &frames_after);
                        }
                        PanicKind::Warning
                            if frames_after.first().is_some_and(|f| f.starts_with("refcount_warn_saturate")) =>
                        {
                            self.explain_refcount(&mut report, &e.regs, &bodies, trace.as_ref(), &frames_after);
                        }
                        PanicKind::Warning => {
                            if let Some(trap) = e.regs.pc() {
                                self.explain_warning(&mut report, &e.regs, trap);
                            }
                        }
                        PanicKind::Gpf | PanicKind::PagingFault | PanicKind::NullDeref => {
                            self.explain_slab(&mut report, &e.regs);
                            self.explain_freed_object(&mut report, &e.regs);
                        }
                        PanicKind::Bug => {
                            self.explain_double_free(&mut report, &e.regs, &frames_after);
                            if let Some(trap) = e.regs.pc() {
                                self.explain_bug_check(&mut report, &e.regs, trap);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        let mut top: Vec<String> = Vec::new();
        if let Some(f) = &report.faulting_function {
            top.push(f.clone());
        }
        let source = if report.kind == PanicKind::HungTask || !has_fault_frame(report.kind) {
            &all_frames
        } else {
            &frames_after
        };
        if report.kind == PanicKind::HungTask {
            if let Some(b) = report.blocked_tasks.iter().find(|b| b.frames.first() == report.faulting_function.as_ref())
            {
                top.extend(b.frames.iter().skip(1).cloned());
            }
        } else {
            // The frames past the faulting function: where it is not the
            // innermost frame (a double free's culprit, above the allocator's
            // free path), the frames below it are not the crash's.
            let past =
                report.faulting_function.as_ref().and_then(|f| source.iter().position(|n| n == f)).map_or(0, |i| i + 1);
            top.extend(source.iter().skip(past).cloned());
        }
        // The signature rules see every frame (prefix frames add to it);
        // the report's top frames are the first three that matter.
        // A recursion's repeated frames are one frame of the signature.
        let mut signature_frames = top.clone();
        signature_frames.dedup();
        top.retain(|n| !is_plumbing(n));
        top.dedup();
        top.truncate(3);
        if report.faulting_function.is_none() {
            report.faulting_function = top.first().cloned();
        }
        report.top_frames = top;
        report.signature = signature(report.kind, &signature_frames);
        report.known_issues = known_issues::matching(&report.signature);
        let mut seen = std::collections::HashSet::new();
        report.evidence.retain(|e| seen.insert(e.clone()));
        report.description = describe(&report);
        Ok(report)
    }
}

/// Private helpers of this module's extension of [`Kernel`].
pub(crate) trait AnalyzeHelpers {
    fn ensure_module_debuginfo(&self, name: &str, extra_dirs: &[&Path]);
    /// process / softirq / hardirq / NMI from the panic CPU's preempt count
    /// (x86-64's per-cpu `__preempt_count`; elsewhere the panic task's
    /// `thread_info.preempt_count`), else from the stacks the panic trace
    /// ran on.
    fn panic_context(&self, cpu: Option<u32>, task: Option<u64>, items: Option<&Vec<TraceItem>>) -> String;
    /// The module's taint, and evidence commands that show it and load
    /// its debuginfo (the struct commands need its types).
    fn note_module(&self, report: &mut Report, m: &str);
    /// The fault as an exception frame made of the panicking CPU's note,
    /// where the trace starts at the faulting instruction (arm64's die()).
    fn fault_from_cpu_note(&self, t: &TaskBacktrace) -> Option<ExceptionFrame>;
    fn explain_exception(&self, report: &mut Report, e: &ExceptionFrame);
    /// The call instruction ending just before `ret`, disassembled.
    fn call_before(&self, ret: u64) -> Option<String>;
    /// The target of a direct call ending at `ret`, unless it is a
    /// retpoline thunk (an indirect call).
    fn direct_callee_before(&self, ret: u64) -> Option<String>;
    /// When the instruction before `rip` is a direct call and `reg` is
    /// %rax, the callee whose return value faulted.
    fn returned_by(&self, rip: u64, reg: &str) -> Option<String>;
    /// The member of `struct name` at byte `offset`, from BTF or the
    /// module's DWARF.
    fn member_at(&self, name: &str, offset: u64, module: Option<&str>) -> Option<String>;
    /// The return addresses of the panic task's frames above the one at
    /// `pc`, innermost first, up to the end of that stack's context.
    fn return_addresses_above(&self, pc: u64) -> Vec<u64>;
    /// The bad base pointer's sentence and evidence, with what the
    /// provenance walk learnt of it (its expression and struct, where DWARF
    /// had no variable for the register), and what other registers hold.
    fn finish_bad_member(&self, report: &mut Report, bad: BadMember, regs: &RegisterFile);
}

impl AnalyzeHelpers for Kernel {
    fn ensure_module_debuginfo(&self, name: &str, extra_dirs: &[&Path]) {
        if self.module_debuginfo(name).is_some() {
            return;
        }
        let mut dirs: Vec<std::path::PathBuf> = extra_dirs.iter().map(|d| d.to_path_buf()).collect();
        dirs.extend(self.module_search_dirs());
        let _ = self.load_module_debuginfo(name, None, &dirs);
    }

    fn panic_context(&self, cpu: Option<u32>, task: Option<u64>, items: Option<&Vec<TraceItem>>) -> String {
        const NMI_MASK: u32 = 0x00f0_0000;
        const HARDIRQ_MASK: u32 = 0x000f_0000;
        const SOFTIRQ_OFFSET: u32 = 0x0000_0100;
        let count = cpu.and_then(|cpu| {
            let addr = match self.percpu_addr("__preempt_count", cpu) {
                Ok(a) => a,
                Err(_) => {
                    let hot = self.percpu_addr("pcpu_hot", cpu).ok()?;
                    hot.checked_add(self.layouts().offset("pcpu_hot", "preempt_count").ok()?)?
                }
            };
            self.memory().read_u32(addr).ok()
        });
        // arm64 keeps the count in thread_info (a u64 whose low half is
        // the count, its high half need_resched).
        let count = count.or_else(|| {
            let field = self.layouts().field("task_struct", "thread_info.preempt_count").ok()?;
            self.memory().read_u32(task?.checked_add(field.offset)?).ok()
        });
        if let Some(count) = count {
            let count = count & !0x8000_0000; // PREEMPT_NEED_RESCHED, kept inverted
            return if count & NMI_MASK != 0 {
                "nmi"
            } else if count & HARDIRQ_MASK != 0 {
                "hardirq"
            } else if count & SOFTIRQ_OFFSET != 0 {
                "softirq"
            } else {
                "process"
            }
            .into();
        }
        let on_irq = items.is_some_and(|items| {
            items
                .iter()
                .any(|i| matches!(i, TraceItem::Frame(f) if f.stack.is_some_and(|s| matches!(s.class, StackClass::Irq | StackClass::SoftIrq))))
        });
        if on_irq { "hardirq" } else { "process" }.into()
    }

    fn note_module(&self, report: &mut Report, m: &str) {
        if let Ok(module) = self.module_by_name(m) {
            report.module_taint = Some(module.taint_letters());
        }
        report.show("mod -t");
        match self.module_debuginfo(m) {
            Some(d) => report.show(format!("mod -s {m} {}", d.path.display())),
            None => report.show(format!("mod -s {m}")),
        }
    }

    fn fault_from_cpu_note(&self, t: &TaskBacktrace) -> Option<ExceptionFrame> {
        if t.start_source != StartSource::CpuNote {
            return None;
        }
        let regs = self.cpu_note(t.cpu)?.registers;
        let pc = regs.pc()?;
        let first = t.trace.frames().next()?.symbol.as_ref()?;
        if is_plumbing(&first.name) {
            return None;
        }
        let rip_symbol = match self.symbolize(pc) {
            // The note must be the trace's own start: its pc in the first frame's function.
            Some(symbol) if symbol.name == first.name => {
                Some(Symbolized { name: symbol.name, offset: symbol.offset, module: symbol.module })
            }
            // A jump to NULL: the trace starts at the caller, from the link register.
            None if pc < 4096 => None,
            _ => return None,
        };
        Some(ExceptionFrame { addr: 0, regs, partial: false, user_mode: false, rip_symbol, recovered: false })
    }

    fn explain_exception(&self, report: &mut Report, e: &ExceptionFrame) {
        let regs = &e.regs;
        let (Some(rip), Some(rsp)) = (regs.pc(), regs.sp()) else { return };
        report.rip = Some(rip);
        if rip >= 4096 {
            report.show(format!("dis -l {:#x}", rip));
        }
        if let Some(s) = &e.rip_symbol {
            report.faulting_function = Some(s.name.clone());
            report.module = s.module.clone();
        }
        if let Some(m) = report.module.clone() {
            self.note_module(report, &m);
        }
        if let Some(line) = self.source_line(rip) {
            report.source = Some(line);
        }
        if let Ok(chain) = self.inline_frames(rip) {
            report.inline_chain = chain;
        }
        // What follows reads x86-64 code (iced-x86) and x86-64 registers
        // and calling conventions (a call pushes its return address).
        if self.arch().machine != Machine::X86_64 {
            let decoder = self.arch().decoder;
            let mut code = vec![0u8; decoder.max_instruction_len()];
            if self.memory().read_virt(rip, &mut code).is_ok() {
                let symbolizer = |a: u64| self.symbolize(a).map(|s| (s.name, s.offset));
                report.instruction = decoder.instruction(&code, rip, &symbolizer).map(|i| i.text);
            }
            // A branch to NULL on a link-register machine: the caller is
            // where the link register points (the branch-and-link's return).
            let link = regs.by_role(RegisterRole::ReturnAddress).map(|lr| self.strip_return_address(lr));
            if let (true, Some(ret)) = (rip < 4096, link) {
                report.return_address = Some(ret);
                if let Some(sym) = self.symbolize(ret) {
                    report
                        .finding(format!(
                            "{} branched to {rip:#x}: a call through a NULL function pointer, returning to {}+{:#x}",
                            sym.name, sym.name, sym.offset
                        ))
                        .shown_by("bt")
                        .shown_by(format!("dis -l {ret:#x}"))
                        .at(ret);
                    report.caller = Some(sym.name.clone());
                    report.faulting_function = Some(sym.name.clone());
                    report.module = sym.module.clone();
                    if let Some(m) = &sym.module {
                        self.note_module(report, m);
                    }
                    report.source = self.source_line(ret.wrapping_sub(4));
                    self.explain_arm64_branch(report, regs, ret);
                }
                return;
            }
            if let Some(bad) = self.explain_arm64_access(report, regs, rip) {
                self.finish_bad_member(report, bad, regs);
                return;
            }
            // A BUG()'s brk is no access: only a fault's instruction is expected to be one.
            if report.kind != PanicKind::Bug {
                report
                    .finding(format!(
                        "the faulting instruction is no load or store through a register: see `dis -l {rip:#x}` and `bt -f`"
                    ))
                    .shown_by(format!("dis -l {rip:#x}"))
                    .shown_by("bt -f")
                    .at(rip);
            }
            return;
        }
        // A call through NULL (or any non-text address): the caller is the
        // return address the call pushed.
        let jumped_to_data = e.rip_symbol.is_none()
            && !self.is_text_address(rip)
            && self.memory().read_u64(rsp).is_ok_and(|ret| self.is_text_address(ret));
        if report.kind == PanicKind::NullFnptr || rip < 4096 || jumped_to_data {
            let pointer = if rip < 4096 { "a NULL function pointer" } else { "a bad function pointer" };
            if let Ok(ret) = self.memory().read_u64(rsp) {
                report.return_address = Some(ret);
                if let Some(sym) = self.symbolize(ret) {
                    report.caller = Some(sym.name.clone());
                    report.faulting_function = Some(sym.name.clone());
                    report.module = sym.module.clone();
                    if let Some(m) = &sym.module {
                        self.note_module(report, m);
                    }
                    report
                        .finding(format!(
                            "RIP is {:#x}: a call or jump through {pointer}; the return address on the stack is {}+{:#x}",
                            rip, sym.name, sym.offset
                        ))
                        .shown_by("bt")
                        .at(rsp)
                        .at(ret);
                    if let Some(call) = self.call_before(ret) {
                        report.instruction = Some(call.clone());
                        report
                            .finding(format!("the call instruction: {call}"))
                            .shown_by(format!("dis -l {:#x}", ret.wrapping_sub(1)))
                            .at(ret);
                    }
                    // A direct call before the return address means its
                    // callee jumped through the pointer (a tail call).
                    if let Some(callee) = self.direct_callee_before(ret) {
                        report
                            .finding(format!(
                                "{} called {callee}, which jumped through {pointer} (a tail call, so {callee} is not on the stack)",
                                sym.name
                            ))
                            .shown_by(format!("dis -l {:#x}", ret.wrapping_sub(1)))
                            .shown_by(format!("dis -l {callee}"))
                            .at(ret);
                        report.faulting_function = Some(callee.clone());
                    } else
                    // The call may sit in a function inlined into the symbol:
                    // the symbol stays the faulting function (as in `bt`), the
                    // inline chain says where in it.
                    if let Ok(chain) = self.inline_frames(ret.wrapping_sub(1)) {
                        if let Some(inner) = chain.first().filter(|f| f.function != "??" && f.function != sym.name) {
                            report
                                .finding(format!("the call is in {} (inlined into {})", inner.function, sym.name))
                                .shown_by(format!("dis -l {:#x}", ret.wrapping_sub(1)))
                                .at(ret);
                        }
                        report.inline_chain = chain;
                    }
                    if let Some(line) = self.source_line(ret.wrapping_sub(1)) {
                        report.source = Some(line);
                    }
                    report.show(format!("dis -l {:#x}", ret.wrapping_sub(1)));
                    let tail_callee =
                        self.direct_callee_before(ret).and_then(|c| self.lookup_symbol(&c)).map(|s| s.addr);
                    let callers = self.return_addresses_above(ret);
                    self.explain_fnptr_source(report, regs, ret, tail_callee, &callers);
                }
            }
            return;
        }
        let mut code = [0u8; 16];
        if self.memory().read_virt(rip, &mut code).is_err() {
            return;
        }
        let Some(instr) = decode_one(&code, rip) else { return };
        let symbolize = |a: u64| self.symbolize(a).map(|s| (s.name, s.offset));
        if let Some(text) = disassemble(code.get(..instr.len()).unwrap_or(&code), rip, &symbolize).first() {
            report.instruction = Some(text.text.clone());
        }
        if matches!(instr.mnemonic(), iced_x86::Mnemonic::Div | iced_x86::Mnemonic::Idiv) {
            self.explain_divisor(report, regs, &instr);
            return;
        }
        let details = instruction_details(&instr);
        let Some(mem) =
            details.memory.iter().find(|m| m.base != iced_x86::Register::None && m.base != iced_x86::Register::RIP)
        else {
            return;
        };
        let reg_name = format!("{:?}", mem.base).to_lowercase();
        let Some(value) = register_value(regs, &reg_name) else { return };
        let displacement = mem.displacement as i64;
        let mut bad = BadMember::at(reg_name.clone(), value, displacement);
        bad.returned_by = self.returned_by(rip, &reg_name);
        let callers = self.return_addresses_above(rip);
        self.explain_pointer_source(report, regs, mem.base, value, &callers);
        self.finish_bad_member(report, bad, regs);
    }

    fn call_before(&self, ret: u64) -> Option<String> {
        for len in [5u64, 6, 3, 2, 7] {
            let start = ret.checked_sub(len)?;
            let mut buf = vec![0u8; len as usize];
            self.memory().read_virt(start, &mut buf).ok()?;
            if let Some(i) = decode_one(&buf, start) {
                let thunk = i.flow_control() == iced_x86::FlowControl::Call
                    && self
                        .symbolize(i.near_branch_target())
                        .is_some_and(|s| crate::provenance::thunk_name(&s.name).is_some());
                if i.len() as u64 == len && (i.flow_control() == iced_x86::FlowControl::IndirectCall || thunk) {
                    let symbolize = |a: u64| self.symbolize(a).map(|s| (s.name, s.offset));
                    return disassemble(&buf, start, &symbolize).first().map(|d| d.text.clone());
                }
            }
        }
        None
    }

    fn direct_callee_before(&self, ret: u64) -> Option<String> {
        let start = ret.checked_sub(5)?;
        let mut buf = [0u8; 5];
        self.memory().read_virt(start, &mut buf).ok()?;
        let i = decode_one(&buf, start)?;
        if i.len() != 5 || i.flow_control() != iced_x86::FlowControl::Call {
            return None;
        }
        let name = self.symbolize(i.near_branch_target())?.name;
        crate::provenance::thunk_name(&name).is_none().then_some(name)
    }

    fn returned_by(&self, rip: u64, reg: &str) -> Option<String> {
        if reg != "rax" {
            return None;
        }
        let start = rip.checked_sub(5)?;
        let mut buf = [0u8; 5];
        self.memory().read_virt(start, &mut buf).ok()?;
        let i = decode_one(&buf, start)?;
        if i.len() != 5 || i.flow_control() != iced_x86::FlowControl::Call {
            return None;
        }
        self.symbolize(i.near_branch_target()).map(|s| s.name)
    }

    fn member_at(&self, name: &str, offset: u64, module: Option<&str>) -> Option<String> {
        self.member_and_type_at(name, offset, module).map(|m| m.0)
    }

    fn finish_bad_member(&self, report: &mut Report, mut bad: BadMember, regs: &RegisterFile) {
        let (reg_name, value, displacement) = (bad.register.clone(), bad.value, bad.displacement);
        let canonical = |v: u64| self.memory().layout().paging().is_canonical(v);
        // The variable DWARF keeps in that register, from the frame's variables.
        if let Some(t) = self.panic_task().and_then(|a| self.task_at(a).ok().map(std::borrow::Cow::into_owned)) {
            if let Ok(bt) = self.backtrace(&t) {
                if let Some(frame) = bt.trace.frames().find(|f| f.exact && Some(f.pc) == report.rip) {
                    let vars = self.frame_variables(frame);
                    let found = vars.locals.iter().chain(vars.parameters.iter()).find(|v| {
                        matches!(&v.state, VariableState::Known { bits: Some(b), .. } if *b == value)
                            && v.type_name.ends_with('*')
                    });
                    if let Some(v) = found {
                        bad.variable = Some(v.name.clone());
                        if let Some(name) = ops_table::pointee_struct(&v.type_name) {
                            bad.struct_name = Some(name.to_string());
                            bad.member = self.member_at(name, displacement.max(0) as u64, report.module.as_deref());
                        }
                    }
                }
            }
        }
        // Where DWARF has no variable for the register (a compiler clone's
        // rewritten parameter), the walk's expression and type name it.
        if let (None, Some(p)) = (&bad.struct_name, &report.provenance) {
            if let Some(name) = p.type_name.as_deref().and_then(ops_table::pointee_struct) {
                bad.struct_name = Some(name.to_string());
                bad.member = self.member_at(name, displacement.max(0) as u64, report.module.as_deref());
                bad.variable = bad.variable.take().or_else(|| p.expression.clone());
            }
        }
        let value_text = if value == 0 { "NULL".to_string() } else { format!("{value:#x}") };
        let who = bad.variable.clone().unwrap_or_else(|| format!("%{reg_name}"));
        let poisoned =
            bad.struct_name.as_deref().and_then(|s| self.poisoned_link(&reg_name, value, s, report.module.as_deref()));
        let mut sentence = format!("{who} (in %{reg_name}) is {value_text}");
        let mut shown_by = Vec::new();
        if let Some(rip) = report.rip.filter(|&r| r >= 4096) {
            shown_by.push(format!("dis -l {rip:#x}"));
        }
        // An object the pointer plausibly points at is shown as its struct.
        let object = (value >= 4096 && classify_value(value, &canonical).is_none()).then_some(value);
        if let (Some(s), Some(m)) = (&bad.struct_name, &bad.member) {
            sentence.push_str(&format!("; {m} is at offset {displacement:#x} of struct {s}"));
            shown_by.push(format!("struct {s} -o"));
            if let Some(o) = object {
                shown_by.push(format!("struct {s} {o:#x}"));
            }
        } else if displacement != 0 {
            sentence.push_str(&format!("; the access is at offset {displacement:#x} from it"));
        }
        if let Some(f) = &bad.returned_by {
            sentence.push_str(&format!("; %{reg_name} holds the return value of {f}()"));
        }
        let mut finding = report.finding(sentence);
        for command in shown_by {
            finding = finding.shown_by(command);
        }
        if let Some(rip) = finding.report.rip {
            finding = finding.at(rip);
        }
        if let Some(o) = object {
            finding.at(o);
        }
        if let Some(p) = poisoned {
            let sentence = p.describe(&who);
            report.finding(sentence).shown_by("bt").at(value);
            report.list_poison = Some(p);
        }
        if value >= 4096 {
            if let Some(c) = classify_value(value, &canonical) {
                report
                    .finding(format!(
                        "%{reg_name} = {value:#018x} is not a pointer: {}{}",
                        c.0,
                        c.1.as_ref().map(|t| format!(" {t:?}")).unwrap_or_default()
                    ))
                    .shown_by("bt");
                report.corrupt_values.push(CorruptValue {
                    register: reg_name.clone(),
                    value,
                    class: c.0.to_string(),
                    text: c.1,
                });
            }
        }
        // Other registers holding text or poison hint at the corruption's
        // source when the bad pointer is itself corrupt. Beside a NULL (or a
        // small offset from it) they are the scratch registers' leftovers,
        // printk's format text most often, and say nothing.
        let corrupt_pointer = value >= 4096;
        for (name, v) in named_registers(regs).into_iter().filter(|_| corrupt_pointer) {
            if name == reg_name {
                continue;
            }
            if let Some((class, text)) = classify_value(v, &canonical) {
                if class != "non_canonical" {
                    report.corrupt_values.push(CorruptValue {
                        register: name.to_string(),
                        value: v,
                        class: class.to_string(),
                        text,
                    });
                }
            }
        }
        report.bad_member = Some(bad);
    }

    fn return_addresses_above(&self, pc: u64) -> Vec<u64> {
        let Some(task) = self.panic_task().and_then(|a| self.task_at(a).ok().map(std::borrow::Cow::into_owned)) else {
            return Vec::new();
        };
        let Ok(bt) = self.backtrace(&task) else { return Vec::new() };
        let mut above = Vec::new();
        let mut found = false;
        for item in &bt.trace.items {
            match item {
                TraceItem::Frame(f) if found => {
                    if f.exact {
                        break;
                    }
                    above.push(f.pc);
                }
                TraceItem::Frame(f) if f.pc == pc => found = true,
                TraceItem::Exception(_) | TraceItem::StackSwitch { .. } if found => break,
                _ => {}
            }
        }
        above
    }
}

/// The exception frame of the fault: the first kernel-mode one, passing
/// over one that interrupted panic() itself (a CPU caught spinning in
/// panic's delay loop by an interrupt, as QEMU's arm64 dumps catch it).
fn fault_exception(items: &[TraceItem]) -> Option<&ExceptionFrame> {
    let exceptions: Vec<(usize, &ExceptionFrame)> = items
        .iter()
        .enumerate()
        .filter_map(|(n, i)| match i {
            TraceItem::Exception(e) if !e.user_mode => Some((n, e)),
            _ => None,
        })
        .collect();
    let interrupts_panic = |at: usize| {
        items
            .iter()
            .skip(at + 1)
            .take_while(|i| !matches!(i, TraceItem::Exception(_)))
            .filter_map(|i| match i {
                TraceItem::Frame(f) => f.symbol.as_ref().map(|s| s.name.as_str()),
                _ => None,
            })
            .any(|name| name == "panic" || name == "vpanic")
    };
    let later_fault = |n: usize| exceptions.iter().any(|&(m, _)| m > n);
    exceptions.iter().find(|&&(n, _)| !(interrupts_panic(n) && later_fault(n))).or(exceptions.first()).map(|&(_, e)| e)
}

/// A fault the faulting instruction itself raised (not a lockup, whose
/// interrupted context is the one to explain).
fn synchronous_fault(kind: PanicKind) -> bool {
    matches!(
        kind,
        PanicKind::NullDeref
            | PanicKind::NullFnptr
            | PanicKind::PagingFault
            | PanicKind::Gpf
            | PanicKind::StackSegment
            | PanicKind::Bug
            | PanicKind::ListCorruption
    )
}

/// The trace starts in the code that went wrong (not in the crash
/// machinery) and leaves that stack before meeting any exception frame.
fn starts_at_fault_before_switch(items: &[TraceItem]) -> bool {
    let first = items.iter().find_map(|i| match i {
        TraceItem::Frame(f) => Some(f.symbol.as_ref().map(|s| s.name.as_str())),
        _ => None,
    });
    if first.flatten().is_none_or(is_plumbing) {
        return false;
    }
    for item in items {
        match item {
            TraceItem::Exception(_) => return false,
            TraceItem::StackSwitch { .. } => return true,
            _ => {}
        }
    }
    false
}

fn has_fault_frame(kind: PanicKind) -> bool {
    matches!(
        kind,
        PanicKind::NullDeref
            | PanicKind::NullFnptr
            | PanicKind::PagingFault
            | PanicKind::Gpf
            | PanicKind::StackSegment
            | PanicKind::DivideError
            | PanicKind::Bug
            | PanicKind::SoftLockup
            | PanicKind::HardLockup
            | PanicKind::Warning
            | PanicKind::ListCorruption
            | PanicKind::Unknown
    )
}

/// The x86-64 general registers but RSP, as iced names them (lowercased),
/// with their values where the frame saved them: the registers a faulting
/// instruction's operands and the pointer-provenance analysis follow. On
/// another architecture, every saved register a value can sit in (not the
/// pc, stack pointer, flags, page-table root or per-cpu base).
fn named_registers(r: &RegisterFile) -> Vec<(&'static str, u64)> {
    const GENERAL: [&str; 15] =
        ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
    if r.set().arch == krash_arch::x86_64::X86_64.name() {
        return GENERAL.iter().filter_map(|&name| Some((name, r.by_name(name)?))).collect();
    }
    let special = |role: &RegisterRole| {
        matches!(
            role,
            RegisterRole::ProgramCounter
                | RegisterRole::StackPointer
                | RegisterRole::Status
                | RegisterRole::PageTableRoot
                | RegisterRole::PerCpuBase
                | RegisterRole::SyscallNumber
        )
    };
    r.iter().filter(|(d, _, _)| !d.roles.iter().any(special)).map(|(d, _, v)| (d.name, v)).collect()
}

pub(crate) fn register_value(r: &RegisterFile, name: &str) -> Option<u64> {
    if name == "rsp" {
        return r.sp();
    }
    named_registers(r).into_iter().find(|(n, _)| *n == name).map(|(_, v)| v)
}

/// What a value that cannot be a kernel pointer looks like.
/// `canonical` says whether an address can be mapped at all on this
/// machine (x86-64's sign extension from bit 47 or 56, arm64's two halves
/// of VA_BITS each).
pub fn classify_value(value: u64, canonical: &dyn Fn(u64) -> bool) -> Option<(&'static str, Option<String>)> {
    if let Some((name, _)) = list_poison::LIST_POISONS.iter().find(|(_, poison)| *poison == value) {
        return Some((name, None));
    }
    let bytes = value.to_le_bytes();
    if bytes.iter().filter(|&&b| b == 0x6b).count() >= 6 || value == 0x6b6b_6b6b_6b6b_6b6b {
        return Some(("slab_poison", None));
    }
    let printable = |b: u8| (0x20..0x7f).contains(&b);
    // UTF-16LE text: printable bytes alternating with zeros.
    let utf16 = bytes.chunks(2).all(|c| matches!(c, [lo, 0] if printable(*lo)))
        || (bytes.chunks(2).all(|c| matches!(c, [lo, 0] if printable(*lo)) || matches!(c, [_, 0]))
            && bytes.chunks(2).filter(|c| matches!(c, [lo, 0] if printable(*lo))).count() >= 3);
    if utf16 && value != 0 {
        let text: String =
            bytes.chunks(2).filter_map(|c| c.first().copied()).filter(|b| printable(*b)).map(char::from).collect();
        return Some(("utf16", Some(text)));
    }
    if bytes.iter().filter(|b| printable(**b)).count() >= 6 && bytes.iter().all(|b| printable(*b) || *b == 0) {
        let text: String = bytes.iter().filter(|b| printable(**b)).map(|b| char::from(*b)).collect();
        return Some(("ascii", Some(text)));
    }
    if !canonical(value) {
        return Some(("non_canonical", None));
    }
    None
}

/// The stable signature of a crash whose frames are `frames` (faulting
/// function first), by the signature rules in force (data/signature-rules
/// and the user's).
pub fn signature(kind: PanicKind, frames: &[String]) -> String {
    signature::rules().signature(kind, frames)
}

fn describe(r: &Report) -> String {
    let mut s = r.kind.describe().to_string();
    if let Some(f) = &r.faulting_function {
        s.push_str(&format!(" in {f}"));
        if let Some(m) = &r.module {
            s.push_str(&format!(" [{m}]"));
        }
    }
    s
}

/// What the log says happened.
#[derive(Debug, Clone, Default)]
pub struct LogVerdict {
    pub kind: PanicKind,
    pub headline: Option<String>,
    pub panic_string: Option<String>,
    pub fault_address: Option<u64>,
    /// arm64's `Internal error: Oops[ - BUG]: <ESR> [#1]`: the syndrome.
    pub syndrome: Option<u64>,
}

/// Classifies from the log lines (the kernel's own words).
pub fn classify_log(lines: &[String]) -> LogVerdict {
    let mut v = LogVerdict::default();
    let bodies: Vec<&str> = lines.iter().map(|l| crate::oops::strip_prefixes(l).trim()).collect();
    v.panic_string =
        bodies.iter().rev().find_map(|b| b.strip_prefix("Kernel panic - not syncing: ")).map(str::to_string);
    let headline_kind = |b: &str| -> Option<PanicKind> {
        let b = b.strip_prefix("Oops: ").unwrap_or(b);
        // arm64 says "Unable to handle kernel ... at virtual address X".
        if b.starts_with("BUG: kernel NULL pointer dereference")
            || b.starts_with("Unable to handle kernel NULL pointer dereference")
        {
            Some(PanicKind::NullDeref)
        } else if b.starts_with("BUG: unable to handle") || b.starts_with("Unable to handle kernel paging request") {
            Some(PanicKind::PagingFault)
        } else if b.starts_with("general protection fault") {
            Some(PanicKind::Gpf)
        } else if b.starts_with("stack segment") {
            Some(PanicKind::StackSegment)
        } else if b.starts_with("divide error:") {
            Some(PanicKind::DivideError)
        } else if b.starts_with("kernel BUG at")
            || b.starts_with("invalid opcode")
            || b.starts_with("Internal error: Oops - BUG")
        {
            Some(PanicKind::Bug)
        } else if b.starts_with("watchdog: BUG: soft lockup") {
            Some(PanicKind::SoftLockup)
        } else if b.contains("Watchdog detected hard LOCKUP") {
            Some(PanicKind::HardLockup)
        } else if b.starts_with("INFO: task ") && b.contains("blocked for more than") {
            Some(PanicKind::HungTask)
        } else if b.starts_with("sysrq: Trigger a crash") {
            Some(PanicKind::Sysrq)
        } else if b.starts_with("list_add corruption") || b.starts_with("list_del corruption") {
            Some(PanicKind::ListCorruption)
        } else if (b.starts_with("BUG: ") && b.contains("stack guard page was hit"))
            || b.starts_with("Insufficient stack space to handle exception")
        {
            // x86-64's double fault on a guard page (5.10 names no stack
            // type), arm64's overflow stack.
            Some(PanicKind::StackOverflow)
        } else if b.starts_with("rcu: INFO: ") && (b.contains("detected stall") || b.contains("detected stalls")) {
            Some(PanicKind::RcuStall)
        } else {
            None
        }
    };
    v.syndrome = bodies.iter().find_map(|b| {
        let (_, value) = b.strip_prefix("Internal error: ")?.rsplit_once(": ")?;
        u64::from_str_radix(value.split(" [#").next()?.trim(), 16).ok()
    });
    let first = bodies.iter().enumerate().find_map(|(i, b)| headline_kind(b).map(|k| (i, k)));
    if let Some((i, kind)) = first {
        v.kind = kind;
        v.headline = bodies.get(i).map(|s| s.to_string());
        if kind == PanicKind::NullDeref || kind == PanicKind::PagingFault {
            let addr = bodies
                .get(i)
                .and_then(|b| b.rsplit_once("address: ").or_else(|| b.rsplit_once("address ")))
                .and_then(|(_, a)| u64::from_str_radix(a.trim().trim_start_matches("0x"), 16).ok());
            v.fault_address = addr;
            if kind == PanicKind::PagingFault && addr.is_some_and(|a| a < 4096) {
                v.kind = PanicKind::NullDeref;
            }
            // RIP 0 (arm64: pc 0): the CPU jumped to address 0, a call through NULL.
            let rip_zero = bodies.iter().skip(i).take(16).any(|b| {
                ["RIP: 0010:0x0", "pc : 0x0"].iter().any(|zero| b == zero || b.starts_with(&format!("{zero} ")))
            });
            if rip_zero {
                v.kind = PanicKind::NullFnptr;
            }
        }
        if kind == PanicKind::Gpf {
            v.fault_address = bodies
                .get(i)
                .and_then(|b| b.split_once("address 0x"))
                .and_then(|(_, a)| u64::from_str_radix(a.split(|c: char| !c.is_ascii_hexdigit()).next()?, 16).ok());
        }
    }
    if let Some(p) = &v.panic_string {
        let by_panic = if p.starts_with("sysrq triggered crash") {
            Some(PanicKind::Sysrq)
        } else if p.starts_with("softlockup") {
            Some(PanicKind::SoftLockup)
        } else if p.starts_with("hung_task") {
            Some(PanicKind::HungTask)
        } else if p.contains("hard LOCKUP") {
            Some(PanicKind::HardLockup)
        } else if p.contains("stack-protector") {
            Some(PanicKind::StackProtector)
        } else if p.starts_with("RCU Stall") {
            Some(PanicKind::RcuStall)
        } else if p.starts_with("kernel stack overflow") {
            Some(PanicKind::StackOverflow)
        } else if p.contains("Out of memory") || p.contains("out of memory") {
            Some(PanicKind::Oom)
        } else if p.contains("panic_on_warn") {
            Some(PanicKind::Warning)
        } else {
            None
        };
        match by_panic {
            Some(k) => v.kind = k,
            None if v.kind == PanicKind::Unknown => v.kind = PanicKind::ExplicitPanic,
            None => {}
        }
    }
    if v.headline.is_none() {
        v.headline = v.panic_string.as_ref().map(|p| format!("Kernel panic - not syncing: {p}"));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm64_oops_headlines() {
        let log = |lines: &[&str]| classify_log(&lines.iter().map(|l| l.to_string()).collect::<Vec<_>>());
        let v = log(&[
            "Unable to handle kernel NULL pointer dereference at virtual address 0000000000000010",
            "Mem abort info:",
            "Internal error: Oops: 0000000096000006 [#1] SMP",
            "Kernel panic - not syncing: Oops: Fatal exception",
        ]);
        assert_eq!((v.kind, v.fault_address), (PanicKind::NullDeref, Some(0x10)));
        let v = log(&["Unable to handle kernel paging request at virtual address dead000000000108"]);
        assert_eq!((v.kind, v.fault_address), (PanicKind::PagingFault, Some(0xdead_0000_0000_0108)));
        let v = log(&["Unable to handle kernel paging request at virtual address 0000000000000008"]);
        assert_eq!(v.kind, PanicKind::NullDeref);
        let v = log(&[
            "Unable to handle kernel NULL pointer dereference at virtual address 0000000000000000",
            "Mem abort info:",
            "pc : 0x0",
            "lr : krash_widget_flush+0x38/0x50 [krash_scenarios]",
        ]);
        assert_eq!(v.kind, PanicKind::NullFnptr);
        let v = log(&["Internal error: Oops - BUG: 00000000f2000800 [#1] SMP"]);
        assert_eq!(v.kind, PanicKind::Bug);
    }

    #[test]
    fn divide_error_headlines() {
        let log = |lines: &[&str]| classify_log(&lines.iter().map(|l| l.to_string()).collect::<Vec<_>>());
        // 6.1's words, and 6.13+'s with the "Oops: " prefix.
        for line in ["divide error: 0000 [#1] PREEMPT SMP NOPTI", "Oops: divide error: 0000 [#1] SMP NOPTI"] {
            let v = log(&[line, "Kernel panic - not syncing: Fatal exception"]);
            assert_eq!(v.kind, PanicKind::DivideError, "{line}");
            assert_eq!(v.kind.name(), "divide_error");
        }
    }

    #[test]
    fn pointer_types_name_their_struct() {
        assert_eq!(ops_table::pointee_struct("const struct krash_stats *"), Some("krash_stats"));
        assert_eq!(ops_table::pointee_struct("struct krash_request *"), Some("krash_request"));
        assert_eq!(ops_table::pointee_struct("unsigned long"), None);
        assert_eq!(ops_table::pointee_struct("struct a **"), None);
    }

    #[test]
    fn a_trace_that_starts_at_the_fault_leaves_interrupted_frames_alone() {
        use krash_unwind::{Frame, Symbolized};
        let frame = |name: &str| {
            TraceItem::Frame(Frame {
                level: 0,
                slot: 0,
                pc: 0,
                sp: 0,
                symbol: Some(Symbolized { name: name.into(), offset: 0, module: None }),
                exact: false,
                stack: None,
                recovered: false,
                cfa: None,
                regs: None,
                bp: None,
                saved: None,
            })
        };
        let irq = krash_arch::arm64::ARM64.stacks.of_class(StackClass::Irq).unwrap();
        let interrupted = TraceItem::Exception(ExceptionFrame {
            addr: 0,
            regs: krash_arch::arm64::ARM64.new_registers(),
            partial: false,
            user_mode: false,
            rip_symbol: None,
            recovered: false,
        });
        // QEMU's arm64 dump: an interrupt caught panic()'s delay loop; the
        // fault is the next exception frame.
        let mut in_panic = interrupted.clone();
        if let TraceItem::Exception(e) = &mut in_panic {
            e.addr = 1;
        }
        let qemu = [
            frame("el1_interrupt"),
            in_panic,
            frame("__delay_cycles"),
            frame("panic"),
            frame("die"),
            interrupted.clone(),
            frame("kmem_cache_alloc"),
        ];
        assert_eq!(fault_exception(&qemu).map(|e| e.addr), Some(0));
        let alone = [frame("x"), interrupted.clone(), frame("panic")];
        assert_eq!(fault_exception(&alone).map(|e| e.addr), Some(0), "no later frame: the only one");
        // arm64 timer BUG() in softirq: the fault's registers start the trace.
        let timer_bug = [
            frame("krash_timer_fire"),
            frame("call_timer_fn"),
            TraceItem::StackSwitch { from: irq },
            frame("el1h_64_irq"),
            interrupted.clone(),
            frame("arch_cpu_idle"),
        ];
        assert!(starts_at_fault_before_switch(&timer_bug));
        // The exception frame comes first (x86-64, or QEMU's dump in panic()).
        let through_exception = [frame("panic"), frame("die"), interrupted.clone(), frame("krash_timer_fire")];
        assert!(!starts_at_fault_before_switch(&through_exception));
        // The crash machinery first: the interrupted context is the story.
        let from_panic = [frame("panic"), TraceItem::StackSwitch { from: irq }, interrupted, frame("krash_list_walk")];
        assert!(!starts_at_fault_before_switch(&from_panic));
    }

    #[test]
    fn arm64_registers_that_can_hold_values() {
        let mut r = krash_arch::arm64::ARM64.new_registers();
        let x0 = r.set().id("x0").unwrap();
        let sp = r.set().id("sp").unwrap();
        let pc = r.set().id("pc").unwrap();
        r.set_value(x0, 0x10);
        r.set_value(sp, 0xffff_8000_0802_b8d0);
        r.set_value(pc, 0xffff_b1f8_06fd_c4f8);
        assert_eq!(named_registers(&r), vec![("x0", 0x10)]);
    }

    /// x86-64's 4-level rule: bits 47..63 all equal.
    fn x86_canonical(v: u64) -> bool {
        matches!(v >> 47, 0 | 0x1ffff)
    }

    #[test]
    fn classifies_values() {
        assert_eq!(classify_value(0xdead000000000122, &x86_canonical).map(|c| c.0), Some("list_poison2"));
        assert_eq!(classify_value(0x6b6b6b6b6b6b6b6b, &x86_canonical).map(|c| c.0), Some("slab_poison"));
        let (class, text) = classify_value(0x0072_0069_0056_0038, &x86_canonical).unwrap();
        assert_eq!(class, "utf16");
        assert_eq!(text.as_deref(), Some("8Vir"));
        assert_eq!(classify_value(0xbe946df78d5a5bc1, &x86_canonical).map(|c| c.0), Some("non_canonical"));
        assert_eq!(classify_value(0xffff8dc77316a000, &x86_canonical), None);
    }

    #[test]
    fn classifies_logs() {
        let l = |s: &[&str]| classify_log(&s.iter().map(|x| x.to_string()).collect::<Vec<_>>()).kind;
        assert_eq!(
            l(&["BUG: kernel NULL pointer dereference, address: 0000000000000010", "RIP: 0010:f+0x1/0x2"]),
            PanicKind::NullDeref
        );
        assert_eq!(
            l(&["BUG: kernel NULL pointer dereference, address: 0000000000000000", "RIP: 0010:0x0"]),
            PanicKind::NullFnptr
        );
        assert_eq!(
            l(&["sysrq: Trigger a crash", "Kernel panic - not syncing: sysrq triggered crash"]),
            PanicKind::Sysrq
        );
        assert_eq!(l(&["Kernel panic - not syncing: something"]), PanicKind::ExplicitPanic);
        assert_eq!(signature(PanicKind::Bug, &["a.cold".into(), "b".into()]), "bug:a:b");
        assert_eq!(signature(PanicKind::Gpf, &["kmem_cache_alloc_noprof".into()]), "gpf:kmem_cache_alloc");
    }
}
