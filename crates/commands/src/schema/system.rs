//! Documents of `sys`, `log`, `help`, `mod`, `set`, `sym`, `dis` and `analyze`.

use schemars::JsonSchema;
use serde::Serialize;

use super::common::{InlineLocation, SourceLocation, SymbolRef, TaskState};
use super::numbers::{hex, opt_hex, Hex, HexBytes, U64Decimal};
use crate::output as out;

/// `sys` (and the start-up banner), `sys -i`, `sys config`.
// One value per document, serialized at once: boxing would only add indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "view", rename_all = "snake_case")]
pub enum SysData {
    /// Everything `sys` shows; what the dump cannot tell is null.
    Summary {
        /// The vmlinux path ("" without one).
        kernel: String,
        kernel_tainted: bool,
        dumpfile: String,
        dump_format: String,
        /// makedumpfile left pages out.
        partial_dump: bool,
        cpus: Option<u32>,
        cpus_offline: u32,
        /// The crash time, seconds since the epoch (UTC).
        crash_time: Option<i64>,
        uptime_secs: Option<u64>,
        /// The 1, 5 and 15 minute load averages.
        load_average: Option<Vec<f64>>,
        tasks: Option<usize>,
        nodename: Option<String>,
        release: Option<String>,
        version: Option<String>,
        machine: Option<String>,
        cpu_mhz: Option<u64>,
        memory_bytes: Option<u64>,
        panic: Option<PanicMessage>,
        panic_task: Option<PanicTask>,
        /// Where symbols and types came from.
        symbols_from: String,
        types_from: String,
        /// No vmlinux: symbols and types were read from the dump itself.
        debuginfo_from_dump: bool,
    },
    /// `-i`: the DMI identification strings.
    Dmi { fields: Vec<DmiField> },
    /// `config`: the kernel configuration (CONFIG_IKCONFIG).
    Config { text: String },
}

/// The panic message.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PanicMessage {
    pub text: String,
    /// The message is a summary: the log has the details.
    pub see_log: bool,
}

/// The task that panicked.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PanicTask {
    pub pid: i32,
    pub command: String,
    pub task: Hex,
    pub cpu: u32,
    pub state: TaskState,
}

/// One DMI field.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DmiField {
    pub name: String,
    pub value: String,
}

impl From<&out::SysInfo> for SysData {
    fn from(s: &out::SysInfo) -> Self {
        SysData::Summary {
            kernel: s.kernel.clone(),
            kernel_tainted: s.kernel_tainted,
            dumpfile: s.dumpfile.clone(),
            dump_format: s.dump_format.clone(),
            partial_dump: s.partial_dump,
            cpus: s.cpus,
            cpus_offline: s.cpus_offline,
            crash_time: s.crash_time,
            uptime_secs: s.uptime_secs,
            load_average: s
                .load_average
                .map(|l| l.iter().map(|(int, frac)| *int as f64 + *frac as f64 / 100.0).collect()),
            tasks: s.tasks,
            nodename: s.nodename.clone(),
            release: s.release.clone(),
            version: s.version.clone(),
            machine: s.machine.clone(),
            cpu_mhz: s.cpu_mhz,
            memory_bytes: s.memory_bytes,
            panic: s.panic.as_ref().map(|p| PanicMessage { text: p.text.clone(), see_log: p.see_log }),
            panic_task: s.panic_task.as_ref().map(|t| PanicTask {
                pid: t.pid,
                command: t.command.clone(),
                task: hex(t.task),
                cpu: t.cpu,
                state: t.state.into(),
            }),
            symbols_from: s.symbols_from.clone(),
            types_from: s.types_from.clone(),
            debuginfo_from_dump: s.debuginfo_from_dump,
        }
    }
}

impl From<&out::SysDetail> for SysData {
    fn from(d: &out::SysDetail) -> Self {
        match d {
            out::SysDetail::Dmi { fields } => SysData::Dmi {
                fields: fields.iter().map(|f| DmiField { name: f.name.clone(), value: f.value.clone() }).collect(),
            },
            out::SysDetail::Config { text } => SysData::Config { text: text.clone() },
        }
    }
}

/// `log`: the kernel message buffer.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LogData {
    pub records: Vec<LogRecord>,
    /// Wall-clock seconds since the epoch at boot (crash time minus uptime), for `-T`.
    pub boot_time: Option<i64>,
    /// What could not be read (null when the whole log was read).
    pub unread: Option<LogUnread>,
}

/// The part of the log that could not be read; the records around it are
/// in `records`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LogUnread {
    /// Records left out because their memory could not be read; null when
    /// a corrupt part ended the walk and how many follow it is unknown.
    pub lost_records: Option<u64>,
    /// Why (the first lost record's error, or what ended the walk).
    pub reason: String,
}

/// One printk record.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LogRecord {
    pub seq: u64,
    /// Nanoseconds since boot.
    pub timestamp_ns: U64Decimal,
    pub level: u8,
    pub facility: u8,
    /// The printk caller id (thread or CPU).
    pub caller_id: u32,
    pub text: String,
}

impl From<&out::Log> for LogData {
    fn from(l: &out::Log) -> Self {
        LogData {
            records: l
                .records
                .iter()
                .map(|r| LogRecord {
                    seq: r.seq,
                    timestamp_ns: U64Decimal(r.ts_nsec),
                    level: r.level,
                    facility: r.facility,
                    caller_id: r.caller_id,
                    text: r.text.clone(),
                })
                .collect(),
            boot_time: l.boot_time,
            unread: l.unread.as_ref().map(|u| LogUnread { lost_records: u.lost_records, reason: u.reason.clone() }),
        }
    }
}

/// `help`: the command table, or one command's page.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HelpData {
    Index { commands: Vec<HelpEntry> },
    Command { name: String, aliases: Vec<String>, summary: String, synopsis: String, details: String },
}

/// One command of the table.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct HelpEntry {
    pub name: String,
    pub summary: String,
}

impl From<&out::Help> for HelpData {
    fn from(h: &out::Help) -> Self {
        match h {
            out::Help::Index { commands } => HelpData::Index {
                commands: commands
                    .iter()
                    .map(|c| HelpEntry { name: c.name.clone(), summary: c.summary.clone() })
                    .collect(),
            },
            out::Help::Command(p) => HelpData::Command {
                name: p.name.clone(),
                aliases: p.aliases.clone(),
                summary: p.summary.clone(),
                synopsis: p.synopsis.clone(),
                details: p.details.clone(),
            },
        }
    }
}

/// `mod`: the module table (also after `-s`/`-S`), taints (`-t`), or the
/// modules whose debuginfo was dropped (`-d`/`-D`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModData {
    Table {
        rows: Vec<ModuleRow>,
        problems: Vec<ModuleLoadProblem>,
        /// Object files loaded without a decisive identity check (no build
        /// id or srcversion to compare), or despite a mismatch (`--force`).
        warnings: Vec<String>,
    },
    Taints {
        rows: Vec<ModuleTaints>,
    },
    Unloaded {
        names: Vec<String>,
    },
}

/// One loaded module.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ModuleRow {
    /// The struct module.
    pub module: Hex,
    pub name: String,
    /// The base of its code.
    pub base: Hex,
    pub size: u64,
    /// The object file loaded with `mod -s`.
    pub object_file: Option<String>,
    /// The dump holds the module's kallsyms symbols.
    pub kallsyms: bool,
}

/// A module `mod -S` could not load.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ModuleLoadProblem {
    pub module: String,
    /// Why; null when no object file was found.
    pub error: Option<String>,
}

/// A tainted module and its taint letters.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ModuleTaints {
    pub name: String,
    pub taints: String,
}

impl From<&out::ModuleOutput> for ModData {
    fn from(m: &out::ModuleOutput) -> Self {
        match m {
            out::ModuleOutput::Table(t) => ModData::Table {
                rows: t
                    .rows
                    .iter()
                    .map(|r| ModuleRow {
                        module: hex(r.module),
                        name: r.name.clone(),
                        base: hex(r.base),
                        size: r.size,
                        object_file: r.object_file.clone(),
                        kallsyms: r.kallsyms,
                    })
                    .collect(),
                problems: t
                    .problems
                    .iter()
                    .map(|p| ModuleLoadProblem { module: p.module.clone(), error: p.error.clone() })
                    .collect(),
                warnings: t.warnings.clone(),
            },
            out::ModuleOutput::Taints { rows } => ModData::Taints {
                rows: rows.iter().map(|r| ModuleTaints { name: r.name.clone(), taints: r.taints.clone() }).collect(),
            },
            out::ModuleOutput::Unloaded { names } => ModData::Unloaded { names: names.clone() },
        }
    }
}

/// `set`: the current context, or krash's internal variables (`set -v`,
/// `set scroll`, `set radix`, and the `hex`/`dec`/`sn`/`sf` aliases): an
/// object with `variables` only.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum SetData {
    Context {
        pid: i32,
        command: String,
        task: Hex,
        cpu: u32,
        state: TaskState,
        /// The context is the panic task.
        panic: bool,
    },
    Variables {
        variables: Vec<super::habits::SetVariable>,
    },
}

impl From<&out::Context> for SetData {
    fn from(c: &out::Context) -> Self {
        SetData::Context {
            pid: c.pid,
            command: c.command.clone(),
            task: hex(c.task),
            cpu: c.cpu,
            state: c.state.into(),
            panic: c.panic,
        }
    }
}

impl From<&out::Variables> for SetData {
    fn from(v: &out::Variables) -> Self {
        SetData::Variables { variables: v.variables.iter().map(Into::into).collect() }
    }
}

/// `sym`: symbol lines, module markers, faddr2line answers.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SymData {
    pub entries: Vec<SymEntry>,
}

/// A symbol (with the source line of an address, when DWARF covers it).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SymbolLine {
    /// The symbol's address plus `offset`.
    pub addr: Hex,
    /// The symbol type letter (`T`, `t`, `D`, `b`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub offset: u64,
    pub module: Option<String>,
    pub source: Option<SourceLocation>,
}

impl From<&out::SymLine> for SymbolLine {
    fn from(l: &out::SymLine) -> Self {
        SymbolLine {
            addr: hex(l.addr),
            kind: l.kind.to_string(),
            name: l.name.clone(),
            offset: l.offset,
            module: l.module.clone(),
            source: super::common::source(&l.source),
        }
    }
}

/// One entry of `sym` output.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SymEntry {
    Symbol {
        symbol: SymbolLine,
    },
    /// The start or end of a module in a listing.
    ModuleMark {
        addr: Hex,
        edge: ModuleEdge,
        module: String,
    },
    /// A `func+0xoff/0xsize` resolved: its address and inline chain, innermost first.
    Faddr2line {
        spec: String,
        addr: Hex,
        chain: Vec<InlineLocation>,
    },
    Faddr2lineError {
        spec: String,
        message: String,
    },
    /// No symbol has this name or address.
    NotFound {
        name: String,
    },
    /// Symbols whose names contain the name not found.
    Alternatives {
        symbols: Vec<SymbolLine>,
    },
}

/// Which end of a module.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModuleEdge {
    Start,
    End,
}

impl From<&out::Sym> for SymData {
    fn from(s: &out::Sym) -> Self {
        let entries = s
            .entries
            .iter()
            .map(|e| match e {
                out::SymEntry::Symbol(l) => SymEntry::Symbol { symbol: l.into() },
                out::SymEntry::ModuleMark { addr, edge, module } => SymEntry::ModuleMark {
                    addr: hex(*addr),
                    edge: match edge {
                        out::ModuleEdge::Start => ModuleEdge::Start,
                        out::ModuleEdge::End => ModuleEdge::End,
                    },
                    module: module.clone(),
                },
                out::SymEntry::Faddr2line { spec, addr, chain } => SymEntry::Faddr2line {
                    spec: spec.clone(),
                    addr: hex(*addr),
                    chain: chain.iter().map(InlineLocation::from).collect(),
                },
                out::SymEntry::Faddr2lineError { spec, message } => {
                    SymEntry::Faddr2lineError { spec: spec.clone(), message: message.clone() }
                }
                out::SymEntry::NotFound { name } => SymEntry::NotFound { name: name.clone() },
                out::SymEntry::Alternatives { symbols } => {
                    SymEntry::Alternatives { symbols: symbols.iter().map(SymbolLine::from).collect() }
                }
            })
            .collect();
        SymData { entries }
    }
}

/// `dis`: kernel or module code, user code (`-u`), or source (`-s`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "view", rename_all = "snake_case")]
pub enum DisData {
    Code {
        lines: Vec<DisLine>,
    },
    User {
        instructions: Vec<UserInstruction>,
    },
    /// The source around the address's line.
    Source {
        location: SourceLocation,
        lines: Vec<SourceText>,
    },
}

/// One line of disassembly.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DisLine {
    /// `-l`: the source line of the instructions that follow (null: none).
    Source { location: Option<SourceLocation> },
    Instruction {
        addr: Hex,
        /// The symbol the instruction is in, and the offset into it.
        symbol: Option<String>,
        offset: u64,
        /// gdb's text, as crash shows it.
        text: String,
        /// The ftrace NOP at a function's entry.
        ftrace_nop: bool,
        bytes: HexBytes,
    },
}

/// One instruction of user code.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct UserInstruction {
    pub addr: Hex,
    pub text: String,
    pub bytes: HexBytes,
}

/// One source line.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SourceText {
    pub number: u32,
    pub text: String,
    /// The line of the address.
    pub current: bool,
}

impl From<&out::Dis> for DisData {
    fn from(d: &out::Dis) -> Self {
        match d {
            out::Dis::Code { lines, .. } => DisData::Code {
                lines: lines
                    .iter()
                    .map(|l| match l {
                        out::DisLine::Source { location } => {
                            DisLine::Source { location: super::common::source(location) }
                        }
                        out::DisLine::Instruction { addr, symbol, offset, text, ftrace_nop, bytes } => {
                            DisLine::Instruction {
                                addr: hex(*addr),
                                symbol: symbol.clone(),
                                offset: *offset,
                                text: text.clone(),
                                ftrace_nop: *ftrace_nop,
                                bytes: HexBytes(bytes.clone()),
                            }
                        }
                    })
                    .collect(),
            },
            out::Dis::User { instructions } => DisData::User {
                instructions: instructions
                    .iter()
                    .map(|i| UserInstruction {
                        addr: hex(i.addr),
                        text: i.text.clone(),
                        bytes: HexBytes(i.bytes.clone()),
                    })
                    .collect(),
            },
            out::Dis::Source { location, lines } => DisData::Source {
                location: location.into(),
                lines: lines
                    .iter()
                    .map(|l| SourceText { number: l.number, text: l.text.clone(), current: l.current })
                    .collect(),
            },
        }
    }
}

/// One finding of `analyze` with its evidence.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Claim {
    pub sentence: String,
    /// krash commands that show it (each also in `evidence`).
    pub shown_by: Vec<String>,
    /// Kernel addresses it rests on: the code it read, the objects and
    /// words whose values it states.
    pub addresses: Vec<Hex>,
}

/// `analyze`: the crash explained: what happened, where, why, and the
/// commands that show the evidence.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AnalyzeData {
    pub kind: PanicKind,
    /// One line: the kind, the function, the module.
    pub description: String,
    /// The log line that announced the crash.
    pub headline: Option<String>,
    /// The text after `Kernel panic - not syncing: `.
    pub panic_string: Option<String>,
    pub pid: Option<i32>,
    pub comm: Option<String>,
    pub task: Option<Hex>,
    pub cpu: Option<u32>,
    /// process, softirq, hardirq, nmi or unknown.
    pub context: String,
    pub faulting_function: Option<String>,
    pub rip: Option<Hex>,
    /// The faulting instruction in gdb syntax.
    pub instruction: Option<String>,
    /// The source line of the faulting instruction (of the call, for a call
    /// through a bad function pointer).
    pub source: Option<SourceLocation>,
    /// The functions inlined at the faulting instruction, innermost first.
    pub inline_chain: Vec<InlineLocation>,
    pub module: Option<String>,
    pub module_taint: Option<String>,
    pub fault_address: Option<Hex>,
    pub bad_member: Option<BadMember>,
    pub caller: Option<String>,
    pub return_address: Option<Hex>,
    pub corrupt_values: Vec<CorruptValue>,
    pub blocked_tasks: Vec<BlockedTask>,
    pub provenance: Option<Provenance>,
    pub null_source: Option<NullSource>,
    /// For a call through a NULL function pointer: the ops table it went through.
    pub ops_table: Option<OpsTable>,
    pub loop_list: Option<LoopList>,
    /// For a divide error: the divisor and where it came from.
    pub divisor: Option<Divisor>,
    /// A bad pointer computed from a list link that list_del() poisoned.
    pub list_poison: Option<ListPoison>,
    /// An object SLUB found freed twice.
    pub double_free: Option<DoubleFree>,
    /// The free slab object the bad pointer was read from (a use after free).
    pub freed_object: Option<FreedObject>,
    /// For a stack-protector panic: the local buffer written past its end.
    pub stack_smash: Option<StackSmash>,
    /// For a lockup spinning on a spinlock: the lock and its likely holder.
    pub spin_wait: Option<SpinWait>,
    /// For a stack overflow: the recursion that used the stack up.
    pub stack_overflow: Option<StackOverflow>,
    /// For an RCU stall: the CPUs that held up the grace period.
    pub rcu_stall: Option<RcuStall>,
    /// For a refcount_t warning: the count and the object it counts.
    pub refcount: Option<RefcountError>,
    /// For an out-of-memory panic: where the memory went.
    pub oom: Option<OomUse>,
    /// For a WARN made fatal by panic_on_warn: what its condition tested.
    pub warning: Option<WarningCheck>,
    /// Hung tasks waiting on each other in a cycle (empty when none).
    pub deadlock: Vec<DeadlockLink>,
    pub locks: Vec<LockWait>,
    pub slab: Option<SlabState>,
    /// Sentences saying why, most certain first.
    pub findings: Vec<String>,
    /// The same sentences, each with the krash commands that show it and
    /// the kernel addresses it rests on.
    pub claims: Vec<Claim>,
    /// krash commands that show the evidence.
    pub evidence: Vec<String>,
    pub top_frames: Vec<String>,
    /// `kind:frame:frame:frame`, no addresses: the same crash gets the same signature.
    pub signature: String,
    /// Who to call: the guilty function's MAINTAINERS section, or its module.
    pub owner: Option<Owner>,
    /// Known issues the signature matches (krash's data/known-issues and
    /// the user's `$KRASH_KNOWN_ISSUES` or `~/.config/krash/known-issues`).
    pub known_issues: Vec<KnownIssue>,
}

/// A known issue: a signature pattern already understood.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct KnownIssue {
    /// The signature pattern it matched (`*`: any run of characters).
    pub pattern: String,
    pub note: String,
    /// The fix: a commit, a release, a link.
    pub fix: Option<String>,
}

/// Who to call about a crash (WinDbg's "followup"), for its guilty
/// function: the first top frame that is not a signature prefix frame.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Owner {
    /// The most specific MAINTAINERS section that covers the function's
    /// source file, as the kernel's scripts/get_maintainer.pl picks it.
    Subsystem {
        function: String,
        /// The kernel-relative source file.
        file: String,
        section: String,
        /// `S:` (Supported, Maintained, Odd Fixes, Orphan, ...).
        status: Option<String>,
        maintainers: Vec<String>,
        reviewers: Vec<String>,
        /// Mailing lists, as MAINTAINERS writes them.
        lists: Vec<String>,
        /// Broader sections that cover the file too, most specific first.
        broader: Vec<String>,
    },
    /// A module without kernel-tree source: its vendor, for an out-of-tree one.
    Module { function: String, module: String, taint: Option<String>, out_of_tree: bool },
    /// Why no owner could be named (no MAINTAINERS file, no line information, ...).
    Unknown { function: Option<String>, why: String },
}

impl From<&krash_analyze::owners::Owner> for Owner {
    fn from(o: &krash_analyze::owners::Owner) -> Self {
        use krash_analyze::owners::Owner as O;
        match o.clone() {
            O::Subsystem { function, file, section, status, maintainers, reviewers, lists, broader } => {
                Owner::Subsystem { function, file, section, status, maintainers, reviewers, lists, broader }
            }
            O::Module { function, module, taint, out_of_tree } => {
                Owner::Module { function, module, taint, out_of_tree }
            }
            O::Unknown { function, why } => Owner::Unknown { function, why },
        }
    }
}

/// The panic's kind.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
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
    Unknown,
}

/// The member a bad base pointer was dereferenced at.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct BadMember {
    pub register: String,
    pub value: Hex,
    pub displacement: i64,
    pub variable: Option<String>,
    pub struct_name: Option<String>,
    /// A dotted path for nested members (f_path.dentry).
    pub member: Option<String>,
    pub returned_by: Option<String>,
}

/// A register value that cannot be a pointer.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CorruptValue {
    pub register: String,
    pub value: Hex,
    /// ascii, utf16, slab_poison, list_poison1, list_poison2, non_canonical.
    pub class: String,
    pub text: Option<String>,
}

/// A task in D state.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct BlockedTask {
    pub pid: i32,
    pub comm: String,
    pub task: Hex,
    pub frames: Vec<String>,
    pub waits_on: Option<Hex>,
    pub waits_on_symbol: Option<String>,
}

/// Where the bad register's value came from.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Provenance {
    pub function: String,
    pub register: String,
    pub from_address: Hex,
    /// Outermost first.
    pub steps: Vec<ProvenanceStep>,
    /// The C expression the register holds (`w->ops->flush`).
    pub expression: Option<String>,
    /// Its C type, when the walk knows it (`struct krash_queue *`).
    pub type_name: Option<String>,
    pub stopped: Option<String>,
}

/// One step of the provenance walk.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ProvenanceStep {
    pub address: Hex,
    /// The function the instruction is in.
    pub function: String,
    /// The instruction's offset into `function` (0 for an argument: the entry).
    pub offset: u64,
    pub instruction: Option<String>,
    pub register: String,
    pub origin: Origin,
    pub sentence: String,
}

/// Where a register got its value.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    Load {
        base: String,
        displacement: i64,
        struct_name: Option<String>,
        member: Option<String>,
    },
    Global {
        symbol: String,
    },
    Copy {
        from: String,
    },
    ReturnValue {
        function: String,
    },
    Argument {
        index: u32,
        name: Option<String>,
        type_name: Option<String>,
    },
    /// An immediate, or a value an instruction leaves implicitly; `symbol`
    /// names the global whose address it is.
    Constant {
        value: Hex,
        symbol: Option<String>,
    },
    Other,
}

/// An ops table (a struct of function pointers) as the dump holds it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OpsTable {
    pub address: Hex,
    /// Its symbol, when it is a global.
    pub symbol: Option<String>,
    pub struct_name: String,
    /// The member the call went through, when known.
    pub member: Option<String>,
    /// Its function-pointer members in order; `function` is null for a NULL one.
    pub slots: Vec<OpsSlot>,
    /// `loaded`: the code read the table's address from memory; `folded`:
    /// gcc read a const table at compile time, and DWARF names it.
    pub source: String,
    /// For a folded table: the variable holding its address...
    pub variable: Option<String>,
    /// ...and the function (often inlined at the call) declaring it.
    pub variable_function: Option<String>,
}

/// One function-pointer member of an ops table.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OpsSlot {
    pub member: String,
    pub offset: u64,
    pub function: Option<String>,
}

/// A NULL that came from a call's return value.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct NullSource {
    pub function: String,
    pub returned: String,
    /// IS_ERR, NULL, IS_ERR and NULL, or nothing.
    pub caller_checks: String,
}

/// The list a soft-locked loop walks.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LoopList {
    pub function: String,
    pub head: Hex,
    pub head_symbol: Option<String>,
    pub length: usize,
    pub broken: Option<String>,
}

/// A divide error's divisor.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Divisor {
    /// The register operand (`ecx`), when the divisor is one.
    pub register: Option<String>,
    /// Its value at the fault, as wide as the division.
    pub value: Option<Hex>,
    /// The C expression it holds (`st->nr_samples`), when known.
    pub expression: Option<String>,
    pub struct_name: Option<String>,
    pub member: Option<String>,
    /// The object the member was read from: a symbol, else its address.
    pub object: Option<String>,
    /// `idiv` rather than `div`.
    pub signed: bool,
}

/// An entry pointer computed from a list link that list_del() poisoned.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ListPoison {
    pub register: String,
    pub value: Hex,
    /// list_poison1 (a next link) or list_poison2 (a prev link).
    pub poison: String,
    pub poison_value: Hex,
    pub entry_struct: String,
    /// The list member the walk went through.
    pub link_member: String,
    pub link_offset: u64,
}

/// An object freed twice, caught by SLUB's freelist hardening.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DoubleFree {
    pub object: Hex,
    pub cache: String,
    pub cache_addr: Hex,
    /// The registers holding the object at the BUG.
    pub registers: Vec<String>,
    /// The function that freed it the second time.
    pub freed_by: Option<String>,
}

/// A free slab object the crashing code read a pointer from.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FreedObject {
    /// The object's start.
    pub object: Hex,
    pub cache: String,
    pub cache_addr: Hex,
    /// The register holding a pointer into it at the fault.
    pub register: String,
    pub pointer: Hex,
    /// The C expression the pointer is, when the walk knows it.
    pub expression: Option<String>,
    pub struct_name: Option<String>,
    /// The member read from it (where the bad pointer came from).
    pub member: Option<String>,
    /// Where in the object the read was.
    pub offset: u64,
    /// Every byte of the object read is the freed-object poison (0x6b).
    pub poisoned: bool,
}

/// The overrun behind a stack-protector panic.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StackSmash {
    /// The function whose canary check failed.
    pub function: String,
    /// The local array written past its end (from DWARF).
    pub buffer: Option<String>,
    pub buffer_type: Option<String>,
    pub buffer_address: Option<Hex>,
    pub buffer_size: Option<u64>,
    /// The canary's stack slot and what it holds now.
    pub canary_address: Option<Hex>,
    pub canary_found: Option<Hex>,
    /// The task's canary, what the slot should hold.
    pub canary_expected: Option<Hex>,
    /// The text the buffer holds from its start, when it is text.
    pub text: Option<String>,
}

/// The recursion that overflowed a task's stack.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StackOverflow {
    /// The functions that repeat, innermost first (one for direct recursion).
    pub cycle: Vec<String>,
    /// How many times the cycle's first function is on the stack.
    pub repeats: u64,
    /// The stack one repetition takes, in bytes.
    pub bytes_per_repeat: Option<u64>,
    /// The stack the whole recursion takes, in bytes.
    pub recursion_bytes: Option<u64>,
    /// The function that entered the recursion.
    pub entered_from: Option<String>,
    /// The frames past the recursion, innermost first.
    pub innermost: Vec<String>,
}

/// An RCU stall: who reported it, and the CPUs that caused it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RcuStall {
    /// The RCU flavor (`rcu_preempt`, `rcu_sched`).
    pub flavor: Option<String>,
    /// The stalled CPU found its own stall.
    pub self_detected: bool,
    /// The CPU that reported another's stall.
    pub detected_by: Option<u32>,
    /// How long the grace period had waited (`t=`), in jiffies.
    pub jiffies: Option<u64>,
    pub cpus: Vec<StalledCpu>,
}

/// A CPU that held up a grace period, and what it was running.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StalledCpu {
    pub cpu: u32,
    pub pid: Option<i32>,
    pub comm: Option<String>,
    pub task: Option<Hex>,
    /// The first function under the interrupt that is not plumbing.
    pub function: Option<String>,
    /// That function and its callers, innermost first.
    pub frames: Vec<String>,
}

/// A saturated reference count and the object it counts.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RefcountError {
    /// `underflow`, `addition_on_0`, `saturated` or `decrement_hit_0`.
    pub saturation: String,
    /// The kernel's message after `refcount_t: `.
    pub message: String,
    /// The function that took or dropped the reference.
    pub caller: Option<String>,
    /// The `refcount_t`'s address.
    pub address: Option<Hex>,
    /// Where its address was found.
    pub found_through: Option<String>,
    pub object: Option<Hex>,
    pub cache: Option<String>,
    /// The object is free in its slab.
    pub object_free: Option<bool>,
    pub struct_name: Option<String>,
    pub member: Option<String>,
    /// The count's offset in its object.
    pub offset: Option<u64>,
}

/// Where the memory went, for an out-of-memory panic.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OomUse {
    /// The allocating task (the OOM killer's header).
    pub comm: Option<String>,
    pub gfp_mask: Option<String>,
    pub order: Option<u32>,
    pub total_bytes: Option<u64>,
    pub free_bytes: Option<u64>,
    /// Memory in all slab caches.
    pub slab_bytes: u64,
    /// The largest caches, largest first.
    pub top_caches: Vec<OomCache>,
    /// The processes with the largest resident sets, largest first.
    pub top_tasks: Vec<OomTask>,
    /// The consumer named as the cause, when one holds over a third of memory.
    pub culprit: Option<String>,
}

/// A slab cache and what it holds.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OomCache {
    pub name: String,
    pub allocated: u64,
    pub total: u64,
    /// The object's size in its slab.
    pub object_size: u64,
    pub bytes: u64,
}

/// A process and its resident set.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OomTask {
    pub pid: i32,
    pub comm: String,
    pub rss_bytes: u64,
}

/// The spinlock a spinning CPU waits for, and its likely holder.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SpinWait {
    pub lock: Hex,
    /// The lock's symbol, when it has one.
    pub symbol: Option<String>,
    /// The lock word as read from the dump.
    pub value: Option<u32>,
    /// Where the lock's address came from (the slow path's argument, or a register).
    pub found_in: String,
    /// The function that asked for the lock.
    pub waiter_function: Option<String>,
    /// A task on another CPU inside code that takes the lock.
    pub holder: Option<SpinHolder>,
}

/// A task on another CPU inside a function whose code names the lock.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SpinHolder {
    pub cpu: u32,
    pub pid: i32,
    pub comm: String,
    pub task: Hex,
    pub function: String,
}

/// What a WARN's condition tested: the compare before the branch to the trap.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct WarningCheck {
    /// The compare, in the disassembly's syntax.
    pub compare: String,
    /// The conditional branch to the trap (`ja`, `b.hi`).
    pub branch: String,
    pub branch_address: Hex,
    /// The compare's operands with their values at the trap, in its order.
    pub tested: Vec<TestedValue>,
}

/// One operand of a compare and its value.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TestedValue {
    pub operand: String,
    /// The operand's value at the trap (a count or an address: hex either way).
    pub value: Hex,
}

/// One task of a deadlock cycle: it holds the lock the previous task waits
/// for and waits for the lock the next one holds.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DeadlockLink {
    pub pid: i32,
    pub comm: String,
    pub task: Hex,
    pub function: Option<String>,
    pub holds: Hex,
    pub holds_symbol: Option<String>,
    pub waits_for: Hex,
    pub waits_for_symbol: Option<String>,
}

/// A lock D-state tasks wait for.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LockWait {
    pub address: Hex,
    /// mutex, rw_semaphore, semaphore or completion.
    pub kind: String,
    pub symbol: Option<String>,
    pub owner: Option<LockOwner>,
    pub waiters: usize,
    pub waiter_pids: Vec<i32>,
}

/// A lock's owner.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LockOwner {
    pub pid: i32,
    pub comm: String,
    pub task: Hex,
    pub frames: Vec<String>,
}

/// The freelist state of the slab cache the fault happened in.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SlabState {
    pub cache: String,
    pub cache_addr: Hex,
    pub cpu: u32,
    pub kmem_cache_cpu: Hex,
    pub freelist: Hex,
    pub slab: Hex,
    /// The first bad freelist pointer.
    pub problem: Option<super::kmem::FreelistProblem>,
    pub source_object: Option<Hex>,
    pub raw_value: Option<Hex>,
    pub corrupt_value_kind: Option<String>,
    pub corrupt_text: Option<String>,
}

impl From<&out::Report> for AnalyzeData {
    fn from(r: &out::Report) -> Self {
        use krash_analyze::Origin as O;
        use krash_analyze::PanicKind as K;
        AnalyzeData {
            kind: match r.kind {
                K::NullDeref => PanicKind::NullDeref,
                K::NullFnptr => PanicKind::NullFnptr,
                K::PagingFault => PanicKind::PagingFault,
                K::Gpf => PanicKind::Gpf,
                K::StackSegment => PanicKind::StackSegment,
                K::DivideError => PanicKind::DivideError,
                K::Bug => PanicKind::Bug,
                K::SoftLockup => PanicKind::SoftLockup,
                K::HardLockup => PanicKind::HardLockup,
                K::HungTask => PanicKind::HungTask,
                K::RcuStall => PanicKind::RcuStall,
                K::Oom => PanicKind::Oom,
                K::StackOverflow => PanicKind::StackOverflow,
                K::StackProtector => PanicKind::StackProtector,
                K::ListCorruption => PanicKind::ListCorruption,
                K::Warning => PanicKind::Warning,
                K::Sysrq => PanicKind::Sysrq,
                K::ExplicitPanic => PanicKind::ExplicitPanic,
                K::Unknown => PanicKind::Unknown,
            },
            description: r.description.clone(),
            headline: r.headline.clone(),
            panic_string: r.panic_string.clone(),
            pid: r.pid,
            comm: r.comm.clone(),
            task: opt_hex(r.task),
            cpu: r.cpu,
            context: r.context.clone(),
            faulting_function: r.faulting_function.clone(),
            rip: opt_hex(r.rip),
            instruction: r.instruction.clone(),
            source: r.source.as_ref().map(|l| (&out::SourceLocation::of(l)).into()),
            inline_chain: r.inline_chain.iter().map(|f| (&out::InlineLocation::of(f)).into()).collect(),
            module: r.module.clone(),
            module_taint: r.module_taint.clone(),
            fault_address: opt_hex(r.fault_address),
            bad_member: r.bad_member.as_ref().map(|b| BadMember {
                register: b.register.clone(),
                value: hex(b.value),
                displacement: b.displacement,
                variable: b.variable.clone(),
                struct_name: b.struct_name.clone(),
                member: b.member.clone(),
                returned_by: b.returned_by.clone(),
            }),
            caller: r.caller.clone(),
            return_address: opt_hex(r.return_address),
            corrupt_values: r
                .corrupt_values
                .iter()
                .map(|c| CorruptValue {
                    register: c.register.clone(),
                    value: hex(c.value),
                    class: c.class.clone(),
                    text: c.text.clone(),
                })
                .collect(),
            blocked_tasks: r
                .blocked_tasks
                .iter()
                .map(|b| BlockedTask {
                    pid: b.pid,
                    comm: b.comm.clone(),
                    task: hex(b.task),
                    frames: b.frames.clone(),
                    waits_on: opt_hex(b.waits_on),
                    waits_on_symbol: b.waits_on_symbol.clone(),
                })
                .collect(),
            provenance: r.provenance.as_ref().map(|p| Provenance {
                function: p.function.clone(),
                register: p.register.clone(),
                from_address: hex(p.from_address),
                steps: p
                    .steps
                    .iter()
                    .map(|s| ProvenanceStep {
                        address: hex(s.address),
                        function: s.function.clone(),
                        offset: s.offset,
                        instruction: s.instruction.clone(),
                        register: s.register.clone(),
                        origin: match &s.origin {
                            O::Load { base, displacement, struct_name, member } => Origin::Load {
                                base: base.clone(),
                                displacement: *displacement,
                                struct_name: struct_name.clone(),
                                member: member.clone(),
                            },
                            O::Global { symbol } => Origin::Global { symbol: symbol.clone() },
                            O::Copy { from } => Origin::Copy { from: from.clone() },
                            O::ReturnValue { function } => Origin::ReturnValue { function: function.clone() },
                            O::Argument { index, name, type_name } => {
                                Origin::Argument { index: *index, name: name.clone(), type_name: type_name.clone() }
                            }
                            O::Constant { value, symbol } => {
                                Origin::Constant { value: hex(*value), symbol: symbol.clone() }
                            }
                            O::Other => Origin::Other,
                        },
                        sentence: s.sentence.clone(),
                    })
                    .collect(),
                expression: p.expression.clone(),
                type_name: p.type_name.clone(),
                stopped: p.stopped.clone(),
            }),
            ops_table: r.ops_table.as_ref().map(|t| OpsTable {
                address: hex(t.address),
                symbol: t.symbol.clone(),
                struct_name: t.struct_name.clone(),
                member: t.member.clone(),
                slots: t
                    .slots
                    .iter()
                    .map(|s| OpsSlot { member: s.member.clone(), offset: s.offset, function: s.function.clone() })
                    .collect(),
                source: t.source.name().to_string(),
                variable: t.variable.as_ref().map(|v| v.0.clone()),
                variable_function: t.variable.as_ref().map(|v| v.1.clone()),
            }),
            divisor: r.divisor.as_ref().map(|d| Divisor {
                register: d.register.clone(),
                value: opt_hex(d.value),
                expression: d.expression.clone(),
                struct_name: d.struct_name.clone(),
                member: d.member.clone(),
                object: d.object.clone(),
                signed: d.signed,
            }),
            list_poison: r.list_poison.as_ref().map(|p| ListPoison {
                register: p.register.clone(),
                value: hex(p.value),
                poison: p.poison.clone(),
                poison_value: hex(p.poison_value),
                entry_struct: p.entry_struct.clone(),
                link_member: p.link_member.clone(),
                link_offset: p.link_offset,
            }),
            double_free: r.double_free.as_ref().map(|d| DoubleFree {
                object: hex(d.object),
                cache: d.cache.clone(),
                cache_addr: hex(d.cache_addr),
                registers: d.registers.clone(),
                freed_by: d.freed_by.clone(),
            }),
            freed_object: r.freed_object.as_ref().map(|f| FreedObject {
                object: hex(f.object),
                cache: f.cache.clone(),
                cache_addr: hex(f.cache_addr),
                register: f.register.clone(),
                pointer: hex(f.pointer),
                expression: f.expression.clone(),
                struct_name: f.struct_name.clone(),
                member: f.member.clone(),
                offset: f.offset,
                poisoned: f.poisoned,
            }),
            stack_smash: r.stack_smash.as_ref().map(|s| StackSmash {
                function: s.function.clone(),
                buffer: s.buffer.clone(),
                buffer_type: s.buffer_type.clone(),
                buffer_address: s.buffer_address.map(hex),
                buffer_size: s.buffer_size,
                canary_address: s.canary_address.map(hex),
                canary_found: s.canary_found.map(hex),
                canary_expected: s.canary_expected.map(hex),
                text: s.text.clone(),
            }),
            spin_wait: r.spin_wait.as_ref().map(|w| SpinWait {
                lock: hex(w.lock),
                symbol: w.symbol.clone(),
                value: w.value,
                found_in: w.found_in.clone(),
                waiter_function: w.waiter_function.clone(),
                holder: w.holder.as_ref().map(|h| SpinHolder {
                    cpu: h.cpu,
                    pid: h.pid,
                    comm: h.comm.clone(),
                    task: hex(h.task),
                    function: h.function.clone(),
                }),
            }),
            stack_overflow: r.stack_overflow.as_ref().map(|o| StackOverflow {
                cycle: o.cycle.clone(),
                repeats: o.repeats as u64,
                bytes_per_repeat: o.bytes_per_repeat,
                recursion_bytes: o.recursion_bytes,
                entered_from: o.entered_from.clone(),
                innermost: o.innermost.clone(),
            }),
            rcu_stall: r.rcu_stall.as_ref().map(|st| RcuStall {
                flavor: st.flavor.clone(),
                self_detected: st.self_detected,
                detected_by: st.detected_by,
                jiffies: st.jiffies,
                cpus: st
                    .cpus
                    .iter()
                    .map(|c| StalledCpu {
                        cpu: c.cpu,
                        pid: c.pid,
                        comm: c.comm.clone(),
                        task: opt_hex(c.task),
                        function: c.function.clone(),
                        frames: c.frames.clone(),
                    })
                    .collect(),
            }),
            refcount: r.refcount.as_ref().map(|e| RefcountError {
                saturation: e.saturation.clone(),
                message: e.message.clone(),
                caller: e.caller.clone(),
                address: opt_hex(e.address),
                found_through: e.found_through.clone(),
                object: opt_hex(e.object),
                cache: e.cache.clone(),
                object_free: e.object_free,
                struct_name: e.struct_name.clone(),
                member: e.member.clone(),
                offset: e.offset,
            }),
            oom: r.oom.as_ref().map(|o| OomUse {
                comm: o.request.comm.clone(),
                gfp_mask: o.request.gfp_mask.clone(),
                order: o.request.order,
                total_bytes: o.total_bytes,
                free_bytes: o.free_bytes,
                slab_bytes: o.slab_bytes,
                top_caches: o
                    .top_caches
                    .iter()
                    .map(|c| OomCache {
                        name: c.name.clone(),
                        allocated: c.allocated,
                        total: c.total,
                        object_size: c.object_size,
                        bytes: c.bytes,
                    })
                    .collect(),
                top_tasks: o
                    .top_tasks
                    .iter()
                    .map(|t| OomTask { pid: t.pid, comm: t.comm.clone(), rss_bytes: t.rss_bytes })
                    .collect(),
                culprit: o.culprit.clone(),
            }),
            warning: r.warning.as_ref().map(|w| WarningCheck {
                compare: w.compare.clone(),
                branch: w.branch.clone(),
                branch_address: hex(w.branch_address),
                tested: w
                    .tested
                    .iter()
                    .map(|t| TestedValue { operand: t.operand.clone(), value: hex(t.value) })
                    .collect(),
            }),
            deadlock: r
                .deadlock
                .iter()
                .map(|l| DeadlockLink {
                    pid: l.pid,
                    comm: l.comm.clone(),
                    task: hex(l.task),
                    function: l.function.clone(),
                    holds: hex(l.holds),
                    holds_symbol: l.holds_symbol.clone(),
                    waits_for: hex(l.waits_for),
                    waits_for_symbol: l.waits_for_symbol.clone(),
                })
                .collect(),
            null_source: r.null_source.as_ref().map(|n| NullSource {
                function: n.function.clone(),
                returned: n.returned.clone(),
                caller_checks: n.caller_checks.clone(),
            }),
            loop_list: r.loop_list.as_ref().map(|l| LoopList {
                function: l.function.clone(),
                head: hex(l.head),
                head_symbol: l.head_symbol.clone(),
                length: l.length,
                broken: l.broken.clone(),
            }),
            locks: r
                .locks
                .iter()
                .map(|l| LockWait {
                    address: hex(l.address),
                    kind: l.kind.clone(),
                    symbol: l.symbol.clone(),
                    owner: l.owner.as_ref().map(|o| LockOwner {
                        pid: o.pid,
                        comm: o.comm.clone(),
                        task: hex(o.task),
                        frames: o.frames.clone(),
                    }),
                    waiters: l.waiters,
                    waiter_pids: l.waiter_pids.clone(),
                })
                .collect(),
            slab: r.slab.as_ref().map(|s| SlabState {
                cache: s.cache.clone(),
                cache_addr: hex(s.cache_addr),
                cpu: s.cpu,
                kmem_cache_cpu: hex(s.kmem_cache_cpu),
                freelist: hex(s.freelist),
                slab: hex(s.slab),
                problem: s.problem.as_ref().map(Into::into),
                source_object: opt_hex(s.source_object),
                raw_value: opt_hex(s.raw_value),
                corrupt_value_kind: s.corrupt_value_kind.clone(),
                corrupt_text: s.corrupt_text.clone(),
            }),
            findings: r.findings.iter().map(|f| f.sentence.clone()).collect(),
            claims: r
                .findings
                .iter()
                .map(|f| Claim {
                    sentence: f.sentence.clone(),
                    shown_by: f.shown_by.clone(),
                    addresses: f.addresses.iter().map(|&a| hex(a)).collect(),
                })
                .collect(),
            evidence: r.evidence.clone(),
            top_frames: r.top_frames.clone(),
            signature: r.signature.clone(),
            owner: r.owner.as_ref().map(Owner::from),
            known_issues: r
                .known_issues
                .iter()
                .map(|k| KnownIssue { pattern: k.pattern.clone(), note: k.note.clone(), fix: k.fix.clone() })
                .collect(),
        }
    }
}

/// `krash decode`: the oops text, line by line, with what decode found for
/// each frame and `Code:` line.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DecodeData {
    /// One entry per input line, in order.
    pub lines: Vec<DecodedLine>,
}

/// One line of the oops text and what decode adds to it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DecodedLine {
    /// A line decode has nothing to add to.
    Text { raw: String },
    /// A stack frame line (`func+0xoff/0xsize`): its inline chain, innermost
    /// first, or why it did not resolve.
    Frame { raw: String, inline_chain: Option<Vec<InlineLocation>>, unresolved: Option<String> },
    /// A `Code:` line and its disassembly, when its bytes decode.
    Code { raw: String, disassembly: Option<CodeDisassembly> },
}

/// The disassembly of a `Code:` line.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CodeDisassembly {
    /// How many bytes the line holds.
    pub length: u64,
    /// Where the trapping instruction is, when the RIP line resolved.
    pub trapping_at: Option<SymbolRef>,
    pub instructions: Vec<CodeInstruction>,
}

/// One instruction of a `Code:` line.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CodeInstruction {
    /// Offset from the line's first byte.
    pub offset: u64,
    /// The instruction the kernel marked as trapping (`<..>`).
    pub trapping: bool,
    /// The symbol it is in, when the RIP line resolved.
    pub symbol: Option<SymbolRef>,
    pub bytes: HexBytes,
    /// The instruction in the decoder's syntax (gdb's, as `dis` prints it).
    pub text: String,
}

impl From<&crate::decode::Decoded> for DecodeData {
    fn from(d: &crate::decode::Decoded) -> Self {
        use crate::decode::DecodedLine as L;
        let lines = d
            .lines
            .iter()
            .map(|line| match line {
                L::Text { raw } => DecodedLine::Text { raw: raw.clone() },
                L::Frame { raw, resolution, .. } => DecodedLine::Frame {
                    raw: raw.clone(),
                    inline_chain: resolution.as_ref().ok().map(|c| c.iter().map(InlineLocation::from).collect()),
                    unresolved: resolution.as_ref().err().cloned(),
                },
                L::Code { raw, disassembly } => DecodedLine::Code {
                    raw: raw.clone(),
                    disassembly: disassembly.as_ref().map(|d| CodeDisassembly {
                        length: d.length as u64,
                        trapping_at: d.trapping_at.as_ref().map(SymbolRef::from),
                        instructions: d
                            .instructions
                            .iter()
                            .map(|i| CodeInstruction {
                                offset: i.offset,
                                trapping: i.trapping,
                                symbol: i.symbol.as_ref().map(SymbolRef::from),
                                bytes: HexBytes(i.bytes.clone()),
                                text: i.text.clone(),
                            })
                            .collect(),
                    }),
                },
            })
            .collect();
        DecodeData { lines }
    }
}
