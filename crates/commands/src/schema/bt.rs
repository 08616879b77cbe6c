//! `bt`'s document.

use schemars::JsonSchema;
use serde::Serialize;

use super::common::{Registers, SourceLocation};
use super::numbers::{hex, Hex};
use crate::output as out;

/// `bt`: backtraces (`mode: tasks`), the stack overflow check (`-v`), or
/// the default method after `-O`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum BtData {
    Tasks {
        tasks: Vec<BtTask>,
        /// `-R`: the symbol or value asked for; only the tasks whose
        /// backtrace references it are listed (null without `-R`).
        reference: Option<String>,
    },
    /// `-E`: each CPU's IRQ stack, then each CPU's exception stacks, with
    /// the saved register blocks found on them.
    ExceptionSearch { stacks: Vec<SearchedStack> },
    /// `-v`: tasks whose stack end magic is overwritten.
    StackCheck { overflows: Vec<StackOverflow> },
    /// `-O`: whether plain `bt` now uses the old stack-scan method.
    DefaultMethod { old: bool },
}

/// One task's part of `bt`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct BtTask {
    pub pid: i32,
    pub task: Hex,
    pub cpu: u32,
    pub comm: String,
    pub body: BtBody,
}

/// What `bt` shows of one task.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "view", rename_all = "snake_case")]
pub enum BtBody {
    /// The backtrace (also `-o`, the old method's stack scan).
    Trace { lines: Vec<BtLine> },
    /// `-t` / `-T`: text addresses found on the stacks.
    Text { start: Option<TextStart>, lines: Vec<TextLine> },
    /// `-e`: exception frames found on the stacks.
    Exceptions { frames: Vec<RegsBlock> },
    /// `-r`: the task stack's words.
    Raw { words: Vec<StackWord> },
}

/// The code address a `-t` listing starts from.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TextStart {
    pub pc: Hex,
    pub func: CodeName,
}

/// The name of a code address.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CodeName {
    /// The function, null when no symbol covers the address.
    pub name: Option<String>,
    pub offset: u64,
    pub module: Option<String>,
}

impl From<&out::CodeName> for CodeName {
    fn from(c: &out::CodeName) -> Self {
        CodeName { name: c.name.clone(), offset: c.offset, module: c.module.clone() }
    }
}

/// The stack a trace leaves (`--- <IRQ stack> ---`): the key of one of
/// the architecture's stack kinds. x86-64 has `task`, `irq`,
/// `double_fault`, `nmi`, `debug`, `machine_check`, `vc`, `vc2` (the IST
/// exception stacks) and `entry` (the entry trampoline stack).
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct StackKind(pub &'static str);

impl From<&out::StackKind> for StackKind {
    fn from(k: &out::StackKind) -> Self {
        StackKind(k.key)
    }
}

/// One element of a backtrace, in order.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BtLine {
    Frame {
        level: usize,
        /// The stack slot holding the return address.
        slot: Hex,
        pc: Hex,
        func: CodeName,
        /// Recovered from saved registers after a damaged part of the stack.
        recovered: bool,
        /// `-l`: the source line.
        source: Option<SourceLocation>,
        /// `--args`: parameters and locals.
        variables: Option<FrameVariables>,
        /// `-f`: the frame's stack words.
        data: Vec<StackWord>,
    },
    /// `--args` at a call through a NULL function pointer: the argument
    /// registers as the call passed them.
    NullCall {
        registers: Vec<NamedRegister>,
    },
    /// A register block (exception frame or user-mode entry frame).
    Exception {
        block: RegsBlock,
        recovered: bool,
        data: Vec<StackWord>,
    },
    StackSwitch {
        stack: StackKind,
    },
    Warning {
        message: String,
    },
}

/// A register by name.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct NamedRegister {
    pub name: String,
    pub value: Hex,
}

/// A text address found on a stack (`-t`, `-T`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TextLine {
    Word { addr: Hex, value: Hex, func: CodeName },
    StackSwitch { stack: StackKind },
}

/// A saved register block.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RegsBlock {
    pub addr: Hex,
    pub regs: Registers,
    pub user_mode: bool,
    /// Only RIP, CS, RFLAGS, RSP and SS were saved (an IRET frame).
    pub partial: bool,
    /// The kernel function RIP is in (null for user mode).
    pub rip: Option<CodeName>,
}

impl From<&out::RegsBlock> for RegsBlock {
    fn from(b: &out::RegsBlock) -> Self {
        RegsBlock {
            addr: hex(b.addr),
            regs: (&b.regs).into(),
            user_mode: b.user_mode,
            partial: b.partial,
            rip: b.rip.as_ref().map(CodeName::from),
        }
    }
}

/// One stack word.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StackWord {
    pub addr: Hex,
    pub value: Hex,
    /// What the value points at (`-F`, `-r`).
    pub annotation: Option<WordAnnotation>,
}

/// What a stack word points at.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WordAnnotation {
    Symbol {
        name: String,
        offset: u64,
    },
    /// An object of this slab cache.
    Slab {
        cache: String,
    },
}

fn words(v: &[out::StackWord]) -> Vec<StackWord> {
    v.iter()
        .map(|w| StackWord {
            addr: hex(w.addr),
            value: hex(w.value),
            annotation: w.annotation.as_ref().map(|a| match a {
                out::WordAnnotation::Symbol { name, offset } => {
                    WordAnnotation::Symbol { name: name.clone(), offset: *offset }
                }
                out::WordAnnotation::Slab { cache, .. } => WordAnnotation::Slab { cache: cache.clone() },
            }),
        })
        .collect()
}

/// A frame's parameters and locals (`bt --args`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FrameVariables {
    /// The (outermost, real) function the variables belong to.
    pub function: Option<String>,
    /// The inline chain at the pc, innermost first (empty when nothing is inlined).
    pub inline_chain: Vec<InlinedCall>,
    pub parameters: Vec<Variable>,
    pub locals: Vec<Variable>,
    /// Why no variables are shown (assembly code, no DWARF).
    pub note: Option<String>,
}

/// One level of the inline chain: the function and where it runs.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct InlinedCall {
    pub function: String,
    /// The source file (as faddr2line shows it).
    pub file: Option<String>,
    pub line: Option<u32>,
}

/// A parameter or local variable.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Variable {
    pub name: String,
    /// Its C type.
    pub type_name: String,
    pub state: VariableState,
}

/// A variable's value, or why it is unknown.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VariableState {
    /// gdb's text of the value, and its bits when it fits a register.
    Known {
        text: String,
        bits: Option<Hex>,
    },
    OptimizedOut {
        reason: String,
    },
}

impl From<&out::FrameVariables> for FrameVariables {
    fn from(v: &out::FrameVariables) -> Self {
        let vars = |list: &[out::FrameVariable]| -> Vec<Variable> {
            list.iter()
                .map(|x| Variable {
                    name: x.name.clone(),
                    type_name: x.type_name.clone(),
                    state: match &x.state {
                        out::VariableState::Known { text, bits } => {
                            VariableState::Known { text: text.clone(), bits: bits.map(Hex) }
                        }
                        out::VariableState::OptimizedOut { reason } => {
                            VariableState::OptimizedOut { reason: reason.clone() }
                        }
                    },
                })
                .collect()
        };
        FrameVariables {
            function: v.function.clone(),
            inline_chain: v.inline_chain.iter().map(inlined_call).collect(),
            parameters: vars(&v.parameters),
            locals: vars(&v.locals),
            note: v.note.clone(),
        }
    }
}

/// krash-eval gives each inline level's location as `file:line` text; the
/// line number is after the last colon.
fn inlined_call(c: &out::InlinedCall) -> InlinedCall {
    let (file, line) = match c.location.as_deref().map(|l| (l, l.rsplit_once(':'))) {
        Some((_, Some((file, line)))) if line.parse::<u32>().is_ok() => {
            (Some(file.to_string()), line.parse::<u32>().ok())
        }
        Some((whole, _)) => (Some(whole.to_string()), None),
        None => (None, None),
    };
    InlinedCall { function: c.function.clone(), file, line }
}

/// One CPU stack `bt -E` searched.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SearchedStack {
    pub cpu: u32,
    pub stack: StackKind,
    /// The register blocks found, lowest address first.
    pub frames: Vec<RegsBlock>,
}

/// A task whose stack end magic is overwritten (`bt -v`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StackOverflow {
    pub pid: i32,
    pub task: Hex,
    pub cpu: u32,
    pub comm: String,
    /// The stack's lowest word, where STACK_END_MAGIC belongs.
    pub addr: Hex,
    /// What it holds instead.
    pub value: Hex,
}

fn line(l: &out::BtLine) -> BtLine {
    match l {
        out::BtLine::Frame { level, slot, pc, func, recovered, source, variables, data } => BtLine::Frame {
            level: *level,
            slot: hex(*slot),
            pc: hex(*pc),
            func: func.into(),
            recovered: *recovered,
            source: super::common::source(source),
            variables: variables.as_ref().map(FrameVariables::from),
            data: words(data),
        },
        out::BtLine::NullCall { registers } => BtLine::NullCall {
            registers: registers.iter().map(|(name, v)| NamedRegister { name: name.clone(), value: hex(*v) }).collect(),
        },
        out::BtLine::Exception { block, recovered, data } => {
            BtLine::Exception { block: block.into(), recovered: *recovered, data: words(data) }
        }
        out::BtLine::StackSwitch { stack } => BtLine::StackSwitch { stack: (*stack).into() },
        out::BtLine::Warning { message } => BtLine::Warning { message: message.clone() },
    }
}

pub(crate) fn task(t: &out::BtTask) -> BtTask {
    let body = match &t.body {
        out::BtBody::Trace { lines } => BtBody::Trace { lines: lines.iter().map(line).collect() },
        out::BtBody::Text { start, lines } => BtBody::Text {
            start: start.as_ref().map(|(pc, func)| TextStart { pc: hex(*pc), func: func.into() }),
            lines: lines
                .iter()
                .map(|l| match l {
                    out::TextLine::Word { addr, value, func } => {
                        TextLine::Word { addr: hex(*addr), value: hex(*value), func: func.into() }
                    }
                    out::TextLine::StackSwitch { stack } => TextLine::StackSwitch { stack: (*stack).into() },
                })
                .collect(),
        },
        out::BtBody::Exceptions { frames } => {
            BtBody::Exceptions { frames: frames.iter().map(RegsBlock::from).collect() }
        }
        out::BtBody::Raw { words: w } => BtBody::Raw { words: words(w) },
    };
    BtTask { pid: t.pid, task: hex(t.task), cpu: t.cpu, comm: t.comm.clone(), body }
}

impl From<&out::Bt> for BtData {
    fn from(b: &out::Bt) -> Self {
        match b {
            out::Bt::Tasks { tasks, reference, .. } => {
                BtData::Tasks { tasks: tasks.iter().map(task).collect(), reference: reference.clone() }
            }
            out::Bt::ExceptionSearch { stacks } => BtData::ExceptionSearch {
                stacks: stacks
                    .iter()
                    .map(|s| SearchedStack {
                        cpu: s.cpu,
                        stack: s.stack.into(),
                        frames: s.frames.iter().map(RegsBlock::from).collect(),
                    })
                    .collect(),
            },
            out::Bt::StackCheck { overflows } => BtData::StackCheck {
                overflows: overflows
                    .iter()
                    .map(|o| StackOverflow {
                        pid: o.pid,
                        task: hex(o.task),
                        cpu: o.cpu,
                        comm: o.comm.clone(),
                        addr: hex(o.addr),
                        value: hex(o.value),
                    })
                    .collect(),
            },
            out::Bt::DefaultMethod { old } => BtData::DefaultMethod { old: *old },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_locations_split_at_the_last_colon() {
        let c = |l: Option<&str>| out::InlinedCall { function: "f".into(), location: l.map(str::to_string) };
        let a = inlined_call(&c(Some("fs/x.c:12")));
        assert_eq!((a.file.as_deref(), a.line), (Some("fs/x.c"), Some(12)));
        let b = inlined_call(&c(Some("weird")));
        assert_eq!((b.file.as_deref(), b.line), (Some("weird"), None));
        let n = inlined_call(&c(None));
        assert_eq!((n.file, n.line), (None, None));
    }
}
