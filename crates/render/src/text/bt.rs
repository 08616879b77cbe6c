//! crash's `bt` text: task header, `#N [slot] func at pc` frame lines,
//! exception register blocks, stack-switch markers, `-f` words, `-t`
//! text words, `-e` frames, `-v` summary.

use std::fmt::Write;

use krash_arch::Machine;

use krash_commands::output::{
    Bt, BtBody, BtLine, BtTask, CodeName, OffsetStyle, RegsBlock, StackWord, TextLine, WordAnnotation,
};
use krash_commands::output::{FrameVariable, FrameVariables, VariableState};

pub(crate) fn render(bt: &Bt) -> String {
    let mut s = String::new();
    match bt {
        Bt::StackCheck { overflows } => {
            if overflows.is_empty() {
                s.push_str("No stack overflows detected\n");
            }
            for o in overflows {
                header(&mut s, o.pid, o.task, o.cpu, &o.comm);
                let _ = writeln!(s, "  possible stack overflow: {:x}: {:x} != STACK_END_MAGIC", o.addr, o.value);
            }
        }
        Bt::DefaultMethod { old } => {
            let method = if *old { "old (stack scan, as bt -o)" } else { "unwinding (ORC, DWARF CFI fallback)" };
            let _ = writeln!(s, "default backtrace method: {method}");
        }
        Bt::Tasks { offsets, tasks, reference } => {
            for (i, t) in tasks.iter().enumerate() {
                if i > 0 && reference.is_none() {
                    s.push('\n');
                }
                task(&mut s, t, *offsets);
                // crash ends each trace that -R selected with a blank line.
                if reference.is_some() {
                    s.push('\n');
                }
            }
        }
        Bt::ExceptionSearch { stacks } => {
            for st in stacks {
                let _ = writeln!(s, "CPU {} {}:", st.cpu, st.stack.crash_name.to_uppercase());
                if st.frames.is_empty() {
                    s.push_str("(none found)\n\n");
                    continue;
                }
                for f in &st.frames {
                    s.push('\n');
                    exception_frame(&mut s, f);
                }
                s.push('\n');
            }
        }
    }
    s
}

fn header(s: &mut String, pid: i32, task: u64, cpu: u32, comm: &str) {
    let _ = writeln!(s, "PID: {pid:<8} TASK: {task:x}  CPU: {cpu:<4} COMMAND: \"{comm}\"");
}

fn task(s: &mut String, t: &BtTask, offsets: OffsetStyle) {
    header(s, t.pid, t.task, t.cpu, &t.comm);
    match &t.body {
        BtBody::Trace { lines } => {
            for l in lines {
                line(s, l, offsets);
            }
        }
        BtBody::Text { start, lines } => {
            if let Some((pc, func)) = start {
                let _ = writeln!(s, "              START: {} at {pc:x}", plain_name(func, *pc));
            }
            for l in lines {
                match l {
                    TextLine::Word { addr, value, func } => {
                        let _ = writeln!(
                            s,
                            "  [{addr:x}] {} at {value:x}{}",
                            plain_name(func, *value),
                            module_suffix(func)
                        );
                    }
                    TextLine::StackSwitch { stack } => {
                        let _ = writeln!(s, "--- <{}> ---", stack.crash_name);
                    }
                }
            }
        }
        BtBody::Exceptions { frames } => {
            for f in frames {
                exception_frame(s, f);
            }
        }
        BtBody::Raw { words } => stack_data(s, words, true),
    }
}

/// A register block found by searching a stack (`-e`, `-E`).
fn exception_frame(s: &mut String, f: &RegsBlock) {
    let kind = if f.user_mode { "USER" } else { "KERNEL" };
    let _ = writeln!(s, "  {kind}-MODE EXCEPTION FRAME AT: {:x}", f.addr);
    regs(s, f);
}

fn plain_name(func: &CodeName, addr: u64) -> String {
    func.name.clone().unwrap_or_else(|| format!("{addr:x}"))
}

fn module_suffix(func: &CodeName) -> String {
    func.module.as_ref().map(|m| format!(" [{m}]")).unwrap_or_default()
}

fn line(s: &mut String, l: &BtLine, offsets: OffsetStyle) {
    match l {
        BtLine::Frame { level, slot, pc, func, recovered, source, variables, data } => {
            let mut name = plain_name(func, *pc);
            if func.name.is_some() {
                match offsets {
                    OffsetStyle::Decimal => name = format!("{name}+{}", func.offset),
                    OffsetStyle::Hex => name = format!("{name}+{:#x}", func.offset),
                    OffsetStyle::None => {}
                }
            }
            let mark = if *recovered { " (recovered)" } else { "" };
            let _ = writeln!(s, "{:>3} [{slot:x}] {name} at {pc:x}{}{mark}", format!("#{level}"), module_suffix(func));
            if let Some(src) = source {
                let _ = writeln!(s, "    {}", super::sym::crash_source(src));
            }
            if let Some(vars) = variables {
                frame_variables(s, vars);
            }
            stack_data(s, data, false);
        }
        BtLine::NullCall { registers } => {
            let _ = writeln!(s, "    call through a NULL function pointer: the arguments it was passed");
            let regs: Vec<String> = registers.iter().map(|(name, v)| format!("{name}: {v:016x}")).collect();
            for row in regs.chunks(3) {
                let _ = writeln!(s, "      {}", row.join("  "));
            }
        }
        BtLine::Exception { block, data, .. } => {
            regs(s, block);
            stack_data(s, data, false);
        }
        BtLine::StackSwitch { stack } => {
            let _ = writeln!(s, "--- <{}> ---", stack.crash_name);
        }
        BtLine::Warning { message } => {
            let _ = writeln!(s, "bt: WARNING: {message}");
        }
    }
}

fn regs(s: &mut String, b: &RegsBlock) {
    if let Some(func) = &b.rip {
        let what = match &func.name {
            Some(n) if func.offset == 0 => n.clone(),
            Some(n) => format!("{n}+{}", func.offset),
            None => "unknown or invalid address".to_string(),
        };
        let _ = writeln!(s, "    [exception RIP: {what}]");
    }
    let r = &b.regs;
    let Some(rows) = REGISTER_BLOCKS.iter().find(|(m, _)| m.name() == r.set().arch).map(|(_, rows)| *rows) else {
        // An architecture without a table: every known register, three a line.
        let cells: Vec<String> =
            r.iter().map(|(desc, _, v)| format!("{}: {v:016x}", desc.name.to_uppercase())).collect();
        for line in cells.chunks(3) {
            let _ = writeln!(s, "    {}", line.join("  "));
        }
        return;
    };
    // Written in place: `foreach bt` prints a block for each of thousands of
    // tasks.
    for row in rows.iter().filter(|row| row.shown.applies(b.partial)) {
        s.push_str("   ");
        for c in row.cells {
            let _ = match r.by_name(c.reg) {
                Some(v) => write!(s, " {}: {v:0width$x} ", c.label, width = c.digits),
                // Not saved: say so rather than print a zero.
                None => write!(s, " {}: {:-<width$} ", c.label, "", width = c.digits),
            };
        }
        // The cells are joined by two spaces; the last one's is not kept.
        s.truncate(s.trim_end_matches(' ').len());
        s.push('\n');
    }
}

/// One value of crash's register block: the label as crash prints it
/// (alignment spaces included), the register's name, the hex digits shown.
struct RegisterCell {
    label: &'static str,
    reg: &'static str,
    digits: usize,
}

/// Which register blocks a line belongs to.
#[derive(Clone, Copy)]
enum Shown {
    Always,
    /// A whole saved frame (`pt_regs`).
    Whole,
    /// A frame of only what the hardware saved (x86-64's iret frame).
    Partial,
}

impl Shown {
    fn applies(self, partial: bool) -> bool {
        match self {
            Shown::Always => true,
            Shown::Whole => !partial,
            Shown::Partial => partial,
        }
    }
}

struct RegisterLine {
    shown: Shown,
    cells: &'static [RegisterCell],
}

const fn cell(label: &'static str, reg: &'static str, digits: usize) -> RegisterCell {
    RegisterCell { label, reg, digits }
}

const fn line_of(shown: Shown, cells: &'static [RegisterCell]) -> RegisterLine {
    RegisterLine { shown, cells }
}

/// crash's x86-64 exception-frame block.
const X86_64_BLOCK: &[RegisterLine] = &[
    line_of(Shown::Always, &[cell("RIP", "rip", 16), cell("RSP", "rsp", 16), cell("RFLAGS", "rflags", 8)]),
    line_of(Shown::Whole, &[cell("RAX", "rax", 16), cell("RBX", "rbx", 16), cell("RCX", "rcx", 16)]),
    line_of(Shown::Whole, &[cell("RDX", "rdx", 16), cell("RSI", "rsi", 16), cell("RDI", "rdi", 16)]),
    line_of(Shown::Whole, &[cell("RBP", "rbp", 16), cell(" R8", "r8", 16), cell(" R9", "r9", 16)]),
    line_of(Shown::Whole, &[cell("R10", "r10", 16), cell("R11", "r11", 16), cell("R12", "r12", 16)]),
    line_of(Shown::Whole, &[cell("R13", "r13", 16), cell("R14", "r14", 16), cell("R15", "r15", 16)]),
    line_of(Shown::Whole, &[cell("ORIG_RAX", "orig_rax", 16), cell("CS", "cs", 4), cell("SS", "ss", 4)]),
    line_of(Shown::Partial, &[cell("CS", "cs", 4), cell("SS", "ss", 4)]),
];

/// The register block's layout for each machine crash prints one for.
const REGISTER_BLOCKS: &[(Machine, &[RegisterLine])] = &[(Machine::X86_64, X86_64_BLOCK)];

/// Two words per line, each followed by a space; symbolic words padded to 16.
fn stack_data(s: &mut String, words: &[StackWord], raw: bool) {
    for pair in words.chunks(2) {
        let Some(first) = pair.first() else { continue };
        let _ = write!(s, "    {:x}: ", first.addr);
        if raw {
            s.truncate(s.len() - 6);
            let _ = write!(s, "{:x}:  ", first.addr);
        }
        for w in pair {
            match &w.annotation {
                Some(a) => {
                    let _ = write!(s, "{:<16} ", annotation(w.value, a));
                }
                None => {
                    let _ = write!(s, "{:016x} ", w.value);
                }
            }
        }
        s.push('\n');
    }
}

/// A word's annotation as crash shows it: `name+off` (decimal offset),
/// `[cache]`, or `[value:cache]` for `-FF`.
fn annotation(value: u64, a: &WordAnnotation) -> String {
    match a {
        WordAnnotation::Symbol { name, offset: 0 } => name.clone(),
        WordAnnotation::Symbol { name, offset } => format!("{name}+{offset}"),
        WordAnnotation::Slab { cache, show_value: true } => format!("[{value:x}:{cache}]"),
        WordAnnotation::Slab { cache, show_value: false } => format!("[{cache}]"),
    }
}

/// `bt --args`: the inline chain, then `type name = value` per variable.
fn frame_variables(s: &mut String, v: &FrameVariables) {
    if let Some((innermost, callers)) = v.inline_chain.split_first() {
        let at = |l: &Option<String>| l.as_ref().map(|l| format!(" at {l}")).unwrap_or_default();
        let _ = writeln!(s, "    inlined: {}{}", innermost.function, at(&innermost.location));
        for c in callers {
            let _ = writeln!(s, "      (inlined by) {}{}", c.function, at(&c.location));
        }
    }
    if let Some(note) = &v.note {
        let _ = writeln!(s, "    ({note})");
    }
    if v.note.is_some() && v.parameters.is_empty() && v.locals.is_empty() {
        return;
    }
    let of = match (&v.function, v.inline_chain.len() > 1) {
        (Some(f), true) => format!(" of {f}"),
        _ => String::new(),
    };
    if v.parameters.is_empty() {
        let _ = writeln!(s, "    parameters{of}: none");
    } else {
        let _ = writeln!(s, "    parameters{of}:");
        for p in &v.parameters {
            variable(s, p);
        }
    }
    if !v.locals.is_empty() {
        let _ = writeln!(s, "    locals{of}:");
        for l in &v.locals {
            variable(s, l);
        }
    }
}

fn variable(s: &mut String, v: &FrameVariable) {
    // An array: `char [16]` declares `char name[16]`.
    let array = v.type_name.ends_with(']').then(|| v.type_name.split_once(" [")).flatten();
    let declaration = match array {
        Some((element, dims)) => format!("{element} {}[{dims}", v.name),
        None if v.type_name.ends_with('*') => format!("{}{}", v.type_name, v.name),
        None => format!("{} {}", v.type_name, v.name),
    };
    let value = match &v.state {
        VariableState::Known { text, .. } => text.clone(),
        VariableState::OptimizedOut { reason } => format!("<optimized out: {reason}>"),
    };
    let _ = writeln!(s, "      {declaration} = {value}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(addr: u64, value: u64, annotation: Option<WordAnnotation>) -> StackWord {
        StackWord { addr, value, annotation }
    }

    #[test]
    fn stack_words_with_annotations() {
        let words = [
            word(0x1000, 0xffffffff81000010, Some(WordAnnotation::Symbol { name: "f".into(), offset: 16 })),
            word(
                0x1008,
                0xffff888000001000,
                Some(WordAnnotation::Slab { cache: "kmalloc-64".into(), show_value: true }),
            ),
            word(0x1010, 0xffff888000002000, Some(WordAnnotation::Slab { cache: "dentry".into(), show_value: false })),
            word(0x1018, 0x2a, None),
        ];
        let mut s = String::new();
        stack_data(&mut s, &words, false);
        assert_eq!(
            s,
            "    1000: f+16             [ffff888000001000:kmalloc-64] \n\
             \x20   1010: [dentry]         000000000000002a \n"
        );
    }

    #[test]
    fn x86_64_register_blocks_as_crash_prints_them() {
        use krash_arch::x86_64::*;
        let mut r = X86_64.new_registers();
        let ids = [RIP, RSP, RFLAGS, RAX, RBX, RCX, RDX, RSI, RDI, RBP, R8, R9, R10, R11, R12, R13, R14, R15];
        for (i, id) in ids.into_iter().enumerate() {
            r.set_value(id, 0x1000 + i as u64);
        }
        r.set_value(ORIG_RAX, u64::MAX);
        r.set_value(CS, 0x10);
        r.set_value(SS, 0x18);
        let rip = Some(CodeName { name: Some("f".into()), offset: 3, module: None });
        let block = RegsBlock { addr: 0x2000, regs: r, user_mode: false, partial: false, rip };
        let mut s = String::new();
        regs(&mut s, &block);
        assert_eq!(
            s,
            "    [exception RIP: f+3]\n\
             \x20   RIP: 0000000000001000  RSP: 0000000000001001  RFLAGS: 00001002\n\
             \x20   RAX: 0000000000001003  RBX: 0000000000001004  RCX: 0000000000001005\n\
             \x20   RDX: 0000000000001006  RSI: 0000000000001007  RDI: 0000000000001008\n\
             \x20   RBP: 0000000000001009   R8: 000000000000100a   R9: 000000000000100b\n\
             \x20   R10: 000000000000100c  R11: 000000000000100d  R12: 000000000000100e\n\
             \x20   R13: 000000000000100f  R14: 0000000000001010  R15: 0000000000001011\n\
             \x20   ORIG_RAX: ffffffffffffffff  CS: 0010  SS: 0018\n"
        );
        // An iret frame: what the hardware saved; an unsaved one is dashes.
        let mut iret = X86_64.new_registers();
        for (id, v) in [(RIP, 0xffffffff81000000), (RFLAGS, 0x246), (CS, 0x10)] {
            iret.set_value(id, v);
        }
        let block = RegsBlock { addr: 0x2000, regs: iret, user_mode: false, partial: true, rip: None };
        let mut s = String::new();
        regs(&mut s, &block);
        assert_eq!(s, "    RIP: ffffffff81000000  RSP: ----------------  RFLAGS: 00000246\n    CS: 0010  SS: ----\n");
    }

    #[test]
    fn source_lines_and_stack_switches() {
        use krash_commands::output::{SourceLocation, StackClass};
        let frame = BtLine::Frame {
            level: 0,
            slot: 0xffffc90000013a38,
            pc: 0xffffffff81000010,
            func: CodeName { name: Some("f".into()), offset: 16, module: Some("m".into()) },
            recovered: true,
            source: Some(SourceLocation { file: "/b/x.c".into(), relative: "x.c".into(), line: 7, column: None }),
            variables: None,
            data: Vec::new(),
        };
        let mut s = String::new();
        line(&mut s, &frame, OffsetStyle::Hex);
        let irq = krash_arch::x86_64::X86_64.stacks.of_class(StackClass::Irq).unwrap();
        line(&mut s, &BtLine::StackSwitch { stack: irq }, OffsetStyle::Hex);
        assert_eq!(
            s,
            " #0 [ffffc90000013a38] f+0x10 at ffffffff81000010 [m] (recovered)\n    /b/x.c: 7\n--- <IRQ stack> ---\n"
        );
    }
}
