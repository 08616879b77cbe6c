//! `bt`: backtraces of tasks as crash prints them, from krash's ORC
//! unwinder (crates/unwind via the kernel model), plus the stack views
//! crash offers under the same command (-t/-T, -e, -r, -v).

use krash_eval::frame_vars::FrameVarsExt;
use krash_linux::sched::backtrace::BacktraceExt;
use krash_linux::sched::task::TaskExt;
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};

use krash_arch::RegisterFile;
use krash_core::{Error, Result, VirtualMemory};
use krash_eval::frame_vars::FrameVariables;
use krash_linux::sched::backtrace::unwinder::{self, Method, StackClass, StackKind, StackRange, StackSet, TraceItem};
use krash_linux::sched::backtrace::TaskBacktrace;
use krash_linux::sched::task::{Task, TaskState};
use krash_program::Kernel;

use crate::source::SourceLocation;
use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "bt",
    aliases: &[],
    summary: "backtrace of a task (ORC unwinding across IRQ and exception stacks)",
    synopsis: "bt [-a|-c cpu(s)|-g] [-f|-F[F]] [-l] [-s|-x] [-t|-T] [-e|-E] [-r] [-v] [-o|-O] [-R ref] [-S sp] [--args] [--unwinder orc|dwarf|fp|auto] [pid | task] ...",
    details: "  pid | task  the task with this PID (all tasks with it, e.g. the idle tasks for 0)\n\
              \x20             or the task_struct at this hexadecimal address; default: the current context\n\
              \x20 -a       the active task on each CPU\n\
              \x20 -c cpu   the active task on these CPUs (\"1\", \"0,2\", \"1-3\")\n\
              \x20 -g       every thread in the task's thread group\n\
              \x20 -f       the stack words of each frame, two per line: from above its slot up to the\n\
              \x20          next frame's slot, when that frame is on the same stack (after a register\n\
              \x20          block, the saved registers' words); none where the trace leaves a stack\n\
              \x20 -F       as -f, with words that are symbol addresses shown symbolically and words\n\
              \x20          pointing into slab objects as [cache] (-FF: [address:cache])\n\
              \x20 -l       the source file and line of each frame (vmlinux DWARF; modules after mod -s)\n\
              \x20 -s       symbol name plus decimal offset in each frame\n\
              \x20 -x       with -s, or alone: the offset in hexadecimal\n\
              \x20 -t       text addresses found on the stack from the starting stack pointer up\n\
              \x20 -T       text addresses found on the whole stack\n\
              \x20 -e       search the stacks for saved exception frames (pt_regs)\n\
              \x20 -E       search every CPU's IRQ stack, then every CPU's exception stacks (NMI,\n\
              \x20          DEBUG, ...), for saved exception frames; with -c, only those CPUs'\n\
              \x20          stacks; task arguments and other options are ignored\n\
              \x20 -R ref   only the backtraces that reference ref: a symbol (a frame's function\n\
              \x20          or an exception RIP's) or a hexadecimal value (a frame's code address,\n\
              \x20          any saved register, an exception RIP's function start); with -a, the\n\
              \x20          task list or the current context; each shown trace ends in a blank line\n\
              \x20 -S sp    start at this stack address instead of the saved stack pointer: frame #0\n\
              \x20          is the first return address at or above sp on that stack (the task's, or\n\
              \x20          its CPU's IRQ or exception stack when it was running)\n\
              \x20 -r       the raw stack words of the task stack\n\
              \x20 -v       check every task's stack for an overflow (the end-of-stack magic)\n\
              \x20 -o       old backtrace method: every kernel text return address found on the\n\
              \x20          stacks from the starting stack pointer up, stale ones included, with\n\
              \x20          the exception frames found among them\n\
              \x20 -O       make -o the default for later bt commands; again: back to unwinding\n\
              \x20 --unwinder M  which tables to unwind with: auto (default: ORC, and DWARF CFI\n\
              \x20          where ORC has no entry; arm64: frame records), orc, dwarf\n\
              \x20          (.debug_frame CFI; x86-64: ends at assembly code, which has none;\n\
              \x20          arm64: frame records step code without CFI), fp (the RBP chain)\n\
              \x20 --args   each frame's parameters and local variables with their values where\n\
              \x20          the DWARF locations recover them (vmlinux DWARF; modules after mod -s),\n\
              \x20          or <optimized out: reason>: ORC frames know RSP, RIP, RBP and the CFA,\n\
              \x20          frames entered from saved registers know every register; the inline\n\
              \x20          chain at the pc, with the variables of the outermost (real) function;\n\
              \x20          at a call through a NULL pointer, the argument registers it passed\n\
              Frames after a damaged part of a stack are recovered from saved registers\n\
              and marked \"(recovered)\", after a WARNING line saying what was wrong.",
    run,
};

/// How frame lines show the symbol offset (`-s`, `-x`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetStyle {
    None,
    Decimal,
    Hex,
}

/// What one task's backtrace should include.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BtOptions {
    /// `-f` (1) or `-F` (2, symbolic words).
    pub frame_data: u8,
    pub lines: bool,
    /// `--args`: parameters and locals of each frame.
    pub args: bool,
    /// `--unwinder`: the unwind tables to follow.
    pub method: Method,
}

/// One stack word (`-f`, `-r`), with what it points at when `-F` asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackWord {
    pub addr: u64,
    pub value: u64,
    pub annotation: Option<WordAnnotation>,
}

/// What a stack word's value points at (`bt -F`, `-FF`, `-r`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WordAnnotation {
    /// A kernel or module symbol's address plus `offset`.
    Symbol { name: String, offset: u64 },
    /// Memory of a slab cache's object; `show_value` is `-FF` (crash then
    /// shows the value beside the cache name).
    Slab { cache: String, show_value: bool },
}

/// The name of a code address: function, offset, module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeName {
    pub name: Option<String>,
    pub offset: u64,
    pub module: Option<String>,
}

/// A register block (exception frame or user-mode entry frame).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegsBlock {
    pub addr: u64,
    /// The architecture's registers; a `partial` block knows only those
    /// the hardware saved.
    pub regs: RegisterFile,
    pub user_mode: bool,
    pub partial: bool,
    pub rip: Option<CodeName>,
}

/// One element of a backtrace in output order.
// A few dozen per task, made once and rendered: boxing the register block
// would add an allocation per exception frame and save little.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BtLine {
    Frame {
        level: usize,
        slot: u64,
        pc: u64,
        func: CodeName,
        recovered: bool,
        /// The source line for `-l`.
        source: Option<SourceLocation>,
        /// `--args`: the frame's parameters and locals.
        variables: Option<FrameVariables>,
        data: Vec<StackWord>,
    },
    /// `--args` at a call through a NULL function pointer: the argument
    /// registers (in the ABI's order, named as crash prints them) exactly
    /// as the call passed them.
    NullCall {
        registers: Vec<(String, u64)>,
    },
    Exception {
        block: RegsBlock,
        recovered: bool,
        data: Vec<StackWord>,
    },
    /// The trace leaves `stack` for the next one.
    StackSwitch {
        stack: &'static StackKind,
    },
    Warning {
        message: String,
    },
}

/// A text address found on a stack (`-t`, `-T`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextLine {
    Word { addr: u64, value: u64, func: CodeName },
    StackSwitch { stack: &'static StackKind },
}

/// What `bt` shows for one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BtBody {
    Trace { lines: Vec<BtLine> },
    Text { start: Option<(u64, CodeName)>, lines: Vec<TextLine> },
    Exceptions { frames: Vec<RegsBlock> },
    Raw { words: Vec<StackWord> },
}

/// One task's `bt` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BtTask {
    pub pid: i32,
    pub task: u64,
    pub cpu: u32,
    pub comm: String,
    pub body: BtBody,
}

/// A task whose stack end magic is overwritten (`bt -v`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackOverflow {
    pub pid: i32,
    pub task: u64,
    pub cpu: u32,
    pub comm: String,
    pub addr: u64,
    pub value: u64,
}

/// The `bt` command's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bt {
    /// `reference`: `-R`'s argument; only the tasks that reference it are listed.
    Tasks {
        offsets: OffsetStyle,
        tasks: Vec<BtTask>,
        reference: Option<String>,
    },
    /// `-E`: the exception frames found on each CPU's IRQ and exception stacks.
    ExceptionSearch {
        stacks: Vec<SearchedStack>,
    },
    StackCheck {
        overflows: Vec<StackOverflow>,
    },
    /// `-O`: the default method after the toggle.
    DefaultMethod {
        old: bool,
    },
}

/// `-O`'s toggle: plain `bt` uses the old (stack scan) method. One
/// session runs per process, so the setting lives for the process.
static OLD_METHOD_BY_DEFAULT: AtomicBool = AtomicBool::new(false);

/// Splits krash's long options (`--args`, `--unwinder M`) from crash's letters.
fn long_options(args: &[String]) -> Result<(bool, Method, Vec<String>)> {
    let mut show_args = false;
    let mut method = Method::Auto;
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let name = if a == "--unwinder" {
            Some(it.next().ok_or_else(|| Error::Usage("bt: --unwinder needs orc, dwarf, fp or auto".into()))?.as_str())
        } else {
            a.strip_prefix("--unwinder=")
        };
        if let Some(name) = name {
            method = Method::from_name(name)
                .ok_or_else(|| Error::Usage(format!("bt: unknown unwinder {name}: use orc, dwarf, fp or auto")))?;
        } else if a == "--args" {
            show_args = true;
        } else {
            rest.push(a.clone());
        }
    }
    Ok((show_args, method, rest))
}

/// `STACK_END_MAGIC`, written at the lowest word of every task stack.
const STACK_END_MAGIC: u64 = 0x57ac_6e9d;
/// Most words `-f` shows for one frame.
const MAX_FRAME_WORDS: u64 = 2048;

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    run_shared(session, args)
}

/// `bt` reads the session and never changes it: `foreach bt` runs it on
/// many tasks at once.
pub(crate) fn run_shared(session: &Session, args: &[String]) -> Result<Output> {
    let (show_args, method, args) = long_options(args)?;
    let p = getopt::parse("bt", &args, "ac:gfFlsxtTervoOR:ES:")?;
    let k = &session.kernel;
    if p.has('E') {
        let cpus: Option<Vec<u32>> = p.value('c').map(parse_cpus).transpose()?;
        return Ok(Output::Bt(Bt::ExceptionSearch { stacks: exception_search(k, cpus.as_deref())? }));
    }
    if p.has('v') {
        return Ok(Output::Bt(Bt::StackCheck { overflows: stack_overflows(k)? }));
    }
    if p.has('O') {
        let old = !OLD_METHOD_BY_DEFAULT.fetch_xor(true, Ordering::Relaxed);
        return Ok(Output::Bt(Bt::DefaultMethod { old }));
    }
    let explicit_method = args.iter().any(|a| a.starts_with("--unwinder"));
    let old_method = p.has('o') || (OLD_METHOD_BY_DEFAULT.load(Ordering::Relaxed) && !explicit_method);
    let tasks = select_tasks(k, session.current_task, &p)?;
    let reference = p.value('R').map(Reference::parse);
    let start_sp = match p.value('S') {
        Some(word) => match crate::parse_hex(word) {
            Some(0) | None => return Err(Error::Usage(format!("bt: invalid stack address for this task: {word}"))),
            Some(sp) => Some(sp),
        },
        None => None,
    };
    let opts = BtOptions {
        frame_data: if p.has('F') { 1 + p.count('F').min(2) as u8 } else { u8::from(p.has('f')) },
        lines: p.has('l'),
        args: show_args,
        method,
    };
    let offsets = match (p.has('s'), p.has('x')) {
        (_, true) => OffsetStyle::Hex,
        (true, false) => OffsetStyle::Decimal,
        _ => OffsetStyle::None,
    };
    let mut out = Vec::new();
    for t in &tasks {
        let t: &Task = t;
        let body = if p.has('t') || p.has('T') {
            text_view(k, t, p.has('T'))?
        } else if p.has('e') {
            exceptions_view(k, t)?
        } else if p.has('r') {
            raw_view(k, t)?
        } else if let Some(sp) = start_sp {
            let bt = k.backtrace_from_stack(t, sp, opts.method).map_err(|e| Error::NotFound(format!("bt: {e}")))?;
            BtBody::Trace { lines: trace_lines(k, &bt, &opts) }
        } else if old_method {
            old_method_view(k, t)?
        } else {
            return_lines(k, t, &opts)?
        };
        if reference.as_ref().is_some_and(|r| !r.found_in(&body)) {
            continue;
        }
        out.push(BtTask { pid: t.pid, task: t.addr, cpu: t.cpu, comm: t.comm.clone(), body });
    }
    let reference = p.value('R').map(str::to_string);
    Ok(Output::Bt(Bt::Tasks { offsets, tasks: out, reference }))
}

/// What `-R` looks for, as crash reads the argument: a hexadecimal value
/// (a text address, or any saved register's value), else a symbol name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reference {
    Value(u64),
    Symbol(String),
}

impl Reference {
    fn parse(word: &str) -> Reference {
        match crate::parse_hex(word) {
            Some(v) => Reference::Value(v),
            None => Reference::Symbol(word.to_string()),
        }
    }

    /// A frame's function by name or its code address by value; an
    /// exception frame's RIP function by name, or by value any register
    /// it saved or the start of the function RIP is in (crash's checks).
    fn found_in(&self, body: &BtBody) -> bool {
        let named = |c: &CodeName| matches!(self, Reference::Symbol(s) if c.name.as_deref() == Some(s.as_str()));
        let valued = |v: u64| matches!(self, Reference::Value(x) if *x == v);
        let regs = |b: &RegsBlock| {
            b.rip.as_ref().is_some_and(|f| {
                named(f) || (f.name.is_some() && b.regs.pc().is_some_and(|pc| valued(pc.wrapping_sub(f.offset))))
            }) || b.regs.iter().any(|(_, _, v)| valued(v))
        };
        match body {
            BtBody::Trace { lines } => lines.iter().any(|l| match l {
                BtLine::Frame { pc, func, .. } => named(func) || valued(*pc),
                BtLine::Exception { block, .. } => regs(block),
                _ => false,
            }),
            BtBody::Text { start, lines } => {
                start.as_ref().is_some_and(|(pc, func)| named(func) || valued(*pc))
                    || lines
                        .iter()
                        .any(|l| matches!(l, TextLine::Word { value, func, .. } if named(func) || valued(*value)))
            }
            BtBody::Exceptions { frames } => frames.iter().any(regs),
            BtBody::Raw { .. } => false,
        }
    }
}

/// One CPU stack searched by `-E` and the exception frames found on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchedStack {
    pub cpu: u32,
    pub stack: &'static StackKind,
    pub frames: Vec<RegsBlock>,
}

/// `-E`: every CPU's IRQ stack, then each CPU's exception stacks, searched
/// for saved registers (crash's order). The register blocks found must
/// point into a stack: the CPU's own, or the stack of the task active on it.
fn exception_search(k: &Kernel, cpus: Option<&[u32]>) -> Result<Vec<SearchedStack>> {
    let code = k.code_info();
    let active = k.active_tasks()?;
    let mut per_cpu = Vec::new();
    for cpu in k.present_cpus()? {
        if cpus.is_some_and(|c| !c.contains(&cpu)) {
            continue;
        }
        let mut set = StackSet { stacks: k.cpu_stacks(cpu) };
        let task = active.iter().find(|(c, _)| *c == cpu).and_then(|(_, addr)| k.task_at(*addr).ok());
        if let Some(task_stack) = task.and_then(|t| k.task_stacks(&t).ok()).and_then(|s| s.task().copied()) {
            set.stacks.push(task_stack);
        }
        per_cpu.push((cpu, set));
    }
    let mut out = Vec::new();
    for class in [StackClass::Irq, StackClass::Exception] {
        for (cpu, set) in &per_cpu {
            for range in set.stacks.iter().filter(|s| s.is(class)) {
                // An unmapped stack (VC without SEV) has nothing to search. Its
                // lowest word tells: the top found is 8 bytes high on 5.2-5.11.
                if k.memory().read_u64(range.base).is_err() {
                    continue;
                }
                let frames = unwinder::find_exception_frames(k.memory(), &code, set, range)
                    .iter()
                    .map(|f| found_regs_block(k, f))
                    .collect();
                out.push(SearchedStack { cpu: *cpu, stack: range.kind, frames });
            }
        }
    }
    Ok(out)
}

fn return_lines(k: &Kernel, t: &Task, opts: &BtOptions) -> Result<BtBody> {
    Ok(task_backtrace(k, t, opts)?.body)
}

/// One task's backtrace lines, for `bt` and `foreach bt`.
pub fn task_backtrace(k: &Kernel, t: &Task, opts: &BtOptions) -> Result<BtTask> {
    let lines = if has_no_kernel_stack(k, t) {
        vec![BtLine::Warning { message: "the task has exited: its kernel stack is freed, no frames remain".into() }]
    } else {
        match k.backtrace_by(t, opts.method) {
            Ok(bt) => trace_lines(k, &bt, opts),
            // One task's unreadable stack (excluded from the dump, or freed
            // under it) is that task's answer, not the end of `bt -a` or
            // `foreach bt`.
            Err(e) if e.is_fault() => vec![BtLine::Warning { message: format!("no backtrace: {e}") }],
            Err(e) => return Err(e),
        }
    };
    Ok(BtTask { pid: t.pid, task: t.addr, cpu: t.cpu, comm: t.comm.clone(), body: BtBody::Trace { lines } })
}

/// An exited task (a zombie, or one being reaped) whose `task_struct.stack`
/// is NULL: the kernel freed its stack when it last switched away, and
/// what its saved stack pointer points at is gone or reused.
fn has_no_kernel_stack(k: &Kernel, t: &Task) -> bool {
    matches!(t.state, TaskState::ZO | TaskState::DE)
        && k.read_field_u64(t.addr, "task_struct", "stack").is_ok_and(|stack| stack == 0)
}

/// The tasks `bt` is asked for. A CPU's task (`-a`, `-c`), the current
/// context, a PID and a task address are read alone: the whole task list
/// is read only for PID 0 (every idle task) and `-g`.
fn select_tasks<'k>(k: &'k Kernel, current: Option<u64>, p: &getopt::Parsed) -> Result<Vec<Cow<'k, Task>>> {
    let mut out: Vec<Cow<'k, Task>> = Vec::new();
    if p.has('a') || p.has('c') {
        let cpus: Option<Vec<u32>> = p.value('c').map(parse_cpus).transpose()?;
        for (cpu, addr) in k.active_tasks()? {
            if cpus.as_ref().is_some_and(|c| !c.contains(&cpu)) {
                continue;
            }
            if let Ok(t) = k.task_at(addr) {
                out.push(t);
            }
        }
        if out.is_empty() {
            return Err(Error::NotFound("bt: no active task on the CPUs given".into()));
        }
        return Ok(out);
    }
    for arg in &p.args {
        let matched: Vec<Cow<'k, Task>> = match arg.parse::<i32>() {
            // PID 0 is every CPU's idle task; any other is one task.
            Ok(0) => k.tasks()?.iter().filter(|t| t.pid == 0).map(Cow::Borrowed).collect(),
            Ok(pid) => k.task_by_pid(pid).ok().into_iter().collect(),
            Err(_) => match crate::parse_hex(arg) {
                Some(addr) => k.task_by_addr(addr).ok().into_iter().collect(),
                None => return Err(Error::Usage(format!("bt: invalid task or pid value: {arg}"))),
            },
        };
        if matched.is_empty() {
            return Err(Error::NotFound(format!("bt: invalid task or pid value: {arg}")));
        }
        out.extend(matched);
    }
    if p.args.is_empty() {
        let addr =
            current.ok_or_else(|| Error::NotFound("bt: no current context (no panic task): give a PID".into()))?;
        out.push(k.task_at(addr).map_err(|_| Error::NotFound(format!("bt: {addr:x}: not a task")))?);
    }
    if p.has('g') {
        let groups: Vec<i32> = out.iter().map(|t| t.tgid).collect();
        out = k.tasks()?.iter().filter(|t| groups.contains(&t.tgid) && !t.idle).map(Cow::Borrowed).collect();
    }
    Ok(out)
}

/// `-c` values: "1", "0,2", "1-3".
pub(crate) fn parse_cpus(spec: &str) -> Result<Vec<u32>> {
    let bad = || Error::Usage(format!("bt: invalid CPU list: {spec}"));
    let mut cpus = Vec::new();
    for part in spec.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                if b < a || b - a > 8192 {
                    return Err(bad());
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.parse().map_err(|_| bad())?),
        }
    }
    Ok(cpus)
}

fn code_name(k: &Kernel, addr: u64) -> CodeName {
    match k.symbolize(addr) {
        Some(s) => CodeName { name: Some(s.name), offset: s.offset, module: s.module },
        None => CodeName { name: None, offset: 0, module: None },
    }
}

fn symbolic(k: &Kernel, value: u64) -> Option<WordAnnotation> {
    let s = k.symbolize(value)?;
    Some(WordAnnotation::Symbol { name: s.name, offset: s.offset })
}

/// `stack_words` level for `-r`: symbols only, no slab names (crash's rd -s).
const RAW_SYMBOLS: u8 = u8::MAX;

/// Stack words; `symbolic_words` is the `-f` level: 0-1 raw, 2 (`-F`)
/// symbols and `[cache]`, 3 (`-FF`) symbols and `[value:cache]`.
fn stack_words(k: &Kernel, from: u64, to: u64, symbolic_words: u8) -> Vec<StackWord> {
    let count = (to.saturating_sub(from) / 8).min(MAX_FRAME_WORDS);
    (0..count)
        .map(|i| from.wrapping_add(i * 8))
        .map_while(|addr| k.memory().read_u64(addr).ok().map(|value| (addr, value)))
        .map(|(addr, value)| StackWord {
            addr,
            value,
            annotation: match symbolic_words {
                0 | 1 => None,
                RAW_SYMBOLS => symbolic(k, value),
                level => symbolic(k, value).or_else(|| {
                    super::kmem::slab_cache_name(k, value)
                        .map(|cache| WordAnnotation::Slab { cache, show_value: level > 2 })
                }),
            },
        })
        .collect()
}

/// The argument registers of a call that jumped to address 0: nothing ran
/// there, so they hold exactly what the caller passed.
fn null_call(r: &RegisterFile) -> BtLine {
    let set = r.set();
    let registers =
        set.arguments().into_iter().filter_map(|id| Some((set.desc(id)?.name.to_uppercase(), r.get(id)?))).collect();
    BtLine::NullCall { registers }
}

/// The function a saved pc is in (kernel mode only: a user pc means nothing
/// to the kernel's symbols).
fn pc_name(k: &Kernel, regs: &RegisterFile, user_mode: bool) -> Option<CodeName> {
    regs.pc().filter(|_| !user_mode).map(|pc| code_name(k, pc))
}

fn regs_block(k: &Kernel, e: &unwinder::ExceptionFrame) -> RegsBlock {
    RegsBlock {
        addr: e.addr,
        regs: e.regs,
        user_mode: e.user_mode,
        partial: e.partial,
        rip: pc_name(k, &e.regs, e.user_mode),
    }
}

fn trace_lines(k: &Kernel, bt: &TaskBacktrace, opts: &BtOptions) -> Vec<BtLine> {
    let items = &bt.trace.items;
    let mut lines: Vec<BtLine> = Vec::with_capacity(items.len());
    // The slot of the frame before, while the trace has stayed on its stack.
    let mut previous_slot: Option<u64> = None;
    for item in items {
        match item {
            TraceItem::Frame(f) => {
                if opts.frame_data > 0 {
                    if let Some(prev) = previous_slot {
                        let words = frame_words(k, bt, prev, f.slot, opts.frame_data);
                        attach_frame_data(&mut lines, words);
                    }
                    previous_slot = Some(f.slot);
                }
                let source = opts.lines.then(|| {
                    let at = if f.exact { f.pc } else { f.pc.wrapping_sub(1) };
                    k.source_line(at).map(|l| SourceLocation::of(&l))
                });
                lines.push(BtLine::Frame {
                    level: f.level,
                    slot: f.slot,
                    pc: f.pc,
                    func: match &f.symbol {
                        Some(s) => CodeName { name: Some(s.name.clone()), offset: s.offset, module: s.module.clone() },
                        None => CodeName { name: None, offset: 0, module: None },
                    },
                    recovered: f.recovered,
                    source: source.flatten(),
                    variables: opts.args.then(|| k.frame_variables(f)),
                    data: Vec::new(),
                });
            }
            TraceItem::Exception(e) => {
                lines.push(BtLine::Exception { block: regs_block(k, e), recovered: e.recovered, data: Vec::new() });
                if opts.args && !e.user_mode && !e.partial && e.regs.pc() == Some(0) {
                    lines.push(null_call(&e.regs));
                }
            }
            TraceItem::StackSwitch { from } => {
                previous_slot = None;
                lines.push(BtLine::StackSwitch { stack: from });
            }
            TraceItem::Warning { message } => {
                previous_slot = None;
                lines.push(BtLine::Warning { message: message.clone() });
            }
        }
    }
    lines
}

/// crash's `-f` words between two frames: from just above the previous
/// frame's slot up to and including this frame's slot, when both are on
/// the same stack. They are shown under the previous frame's lines (after
/// its register block, at an exception), so each frame shows only its own
/// words: none when the trace leaves the stack after it or ends, none when
/// the next frame shares its slot (a frame entered from saved registers).
fn frame_words(k: &Kernel, bt: &TaskBacktrace, previous: u64, slot: u64, level: u8) -> Vec<StackWord> {
    let (Some(a), Some(b)) = (bt.stacks.find(previous), bt.stacks.find(slot)) else { return Vec::new() };
    let from = previous.wrapping_add(8);
    if a.base != b.base || slot < from {
        return Vec::new();
    }
    stack_words(k, from, slot.wrapping_add(8), level)
}

/// Gives `words` to the last frame or register block (a NULL-call note may follow it).
fn attach_frame_data(lines: &mut [BtLine], words: Vec<StackWord>) {
    if words.is_empty() {
        return;
    }
    let owner = lines.iter_mut().rev().find(|l| matches!(l, BtLine::Frame { .. } | BtLine::Exception { .. }));
    match owner {
        Some(BtLine::Frame { data, .. }) | Some(BtLine::Exception { data, .. }) => *data = words,
        _ => {}
    }
}

/// The stacks a backtrace visits, in order, each with the lowest slot it
/// used (the task stack alone, from the starting SP, if it has no frame).
fn stacks_in_trace_order(bt: &TaskBacktrace) -> Vec<(StackRange, u64)> {
    let mut order: Vec<(StackRange, u64)> = Vec::new();
    for f in bt.trace.frames() {
        if let Some(s) = bt.stacks.find(f.slot) {
            match order.iter_mut().find(|(r, _)| r.kind == s.kind) {
                Some((_, lo)) => *lo = (*lo).min(f.slot),
                None => order.push((*s, f.slot)),
            }
        }
    }
    if order.is_empty() {
        if let Some(task) = bt.stacks.task() {
            order.push((*task, bt.start_sp));
        }
    }
    order
}

fn text_view(k: &Kernel, t: &Task, whole: bool) -> Result<BtBody> {
    let bt = k.backtrace(t)?;
    let code = k.code_info();
    let first = bt.trace.frames().next();
    let start = first.map(|f| (f.pc, code_name(k, f.pc)));
    let order = stacks_in_trace_order(&bt);
    let mut lines = Vec::new();
    for (n, (range, lo)) in order.iter().enumerate() {
        if n > 0 {
            if let Some((prev, _)) = order.get(n - 1) {
                lines.push(TextLine::StackSwitch { stack: prev.kind });
            }
        }
        let from = if whole || (n > 0 && range.is(StackClass::Task)) { range.base } else { *lo };
        for w in unwinder::text_words(k.memory(), &code, range, from) {
            lines.push(TextLine::Word { addr: w.addr, value: w.value, func: code_name(k, w.value) });
        }
    }
    Ok(BtBody::Text { start, lines })
}

/// The name of a return address: the call before it, offset from `pc`.
fn return_address_name(k: &Kernel, pc: u64) -> CodeName {
    let mut name = code_name(k, pc.wrapping_sub(1));
    if name.name.is_some() {
        name.offset += 1;
    }
    name
}

/// `-o`: crash's old x86_64 method, a scan rather than an unwind: the
/// first frame, then every text return address on each stack the trace
/// visits (from where the trace entered it up), stale ones included, with
/// the exception frames found on the way in address order.
fn old_method_view(k: &Kernel, t: &Task) -> Result<BtBody> {
    let bt = k.backtrace(t)?;
    let code = k.code_info();
    let mut lines = Vec::new();
    let mut level = 0;
    let first = bt.trace.frames().next();
    if let Some(f) = first {
        let func = if f.exact { code_name(k, f.pc) } else { return_address_name(k, f.pc) };
        lines.push(BtLine::Frame {
            level,
            slot: f.slot,
            pc: f.pc,
            func,
            recovered: false,
            source: None,
            variables: None,
            data: Vec::new(),
        });
        level += 1;
    }
    let first_slot = first.map(|f| f.slot);
    let order = stacks_in_trace_order(&bt);
    for (n, (range, from)) in order.iter().enumerate() {
        if let Some((prev, _)) = n.checked_sub(1).and_then(|p| order.get(p)) {
            lines.push(BtLine::StackSwitch { stack: prev.kind });
        }
        let from = *from;
        let mut exceptions = unwinder::find_exception_frames(k.memory(), &code, &bt.stacks, range)
            .into_iter()
            .filter(|e| e.addr >= from)
            .peekable();
        for w in unwinder::text_words(k.memory(), &code, range, from) {
            while let Some(e) = exceptions.next_if(|e| e.addr < w.addr) {
                lines.push(BtLine::Exception { block: found_regs_block(k, &e), recovered: false, data: Vec::new() });
            }
            if Some(w.addr) == first_slot {
                continue;
            }
            let func = return_address_name(k, w.value);
            lines.push(BtLine::Frame {
                level,
                slot: w.addr,
                pc: w.value,
                func,
                recovered: false,
                source: None,
                variables: None,
                data: Vec::new(),
            });
            level += 1;
        }
        for e in exceptions {
            lines.push(BtLine::Exception { block: found_regs_block(k, &e), recovered: false, data: Vec::new() });
        }
    }
    Ok(BtBody::Trace { lines })
}

fn found_regs_block(k: &Kernel, f: &unwinder::FoundRegs) -> RegsBlock {
    RegsBlock {
        addr: f.addr,
        regs: f.regs,
        user_mode: f.user_mode,
        partial: false,
        rip: pc_name(k, &f.regs, f.user_mode),
    }
}

fn exceptions_view(k: &Kernel, t: &Task) -> Result<BtBody> {
    let stacks = k.task_stacks(t)?;
    let code = k.code_info();
    let mut frames = Vec::new();
    for range in &stacks.stacks {
        for f in unwinder::find_exception_frames(k.memory(), &code, &stacks, range) {
            frames.push(found_regs_block(k, &f));
        }
    }
    Ok(BtBody::Exceptions { frames })
}

fn raw_view(k: &Kernel, t: &Task) -> Result<BtBody> {
    let stacks = k.task_stacks(t)?;
    let task = stacks.task().ok_or_else(|| Error::NotFound("bt: task has no stack".into()))?;
    Ok(BtBody::Raw { words: stack_words(k, task.base, task.top, RAW_SYMBOLS) })
}

fn stack_overflows(k: &Kernel) -> Result<Vec<StackOverflow>> {
    let mut out = Vec::new();
    for t in k.tasks()? {
        let Ok(base) = k.read_field_u64(t.addr, "task_struct", "stack") else { continue };
        let Ok(value) = k.memory().read_u64(base) else { continue };
        if value != STACK_END_MAGIC {
            out.push(StackOverflow { pid: t.pid, task: t.addr, cpu: t.cpu, comm: t.comm.clone(), addr: base, value });
        }
    }
    Ok(out)
}
