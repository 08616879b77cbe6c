//! crash's `bt` text: task header, `#N [slot] func at pc` frame lines,
//! exception register blocks, stack-switch markers, `-f` words, `-t`
//! text words, `-e` frames, `-v` summary.

use std::fmt::Write;

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
        Bt::Tasks { offsets, tasks } => {
            for (i, t) in tasks.iter().enumerate() {
                if i > 0 {
                    s.push('\n');
                }
                task(&mut s, t, *offsets);
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
                let kind = if f.user_mode { "USER" } else { "KERNEL" };
                let _ = writeln!(s, "  {kind}-MODE EXCEPTION FRAME AT: {:x}", f.addr);
                regs(s, f);
            }
        }
        BtBody::Raw { words } => stack_data(s, words, true),
    }
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
    let r = &b.regs;
    if let Some(func) = &b.rip {
        let what = match &func.name {
            Some(n) if func.offset == 0 => n.clone(),
            Some(n) => format!("{n}+{}", func.offset),
            None => "unknown or invalid address".to_string(),
        };
        let _ = writeln!(s, "    [exception RIP: {what}]");
    }
    let _ = writeln!(s, "    RIP: {:016x}  RSP: {:016x}  RFLAGS: {:08x}", r.rip, r.rsp, r.rflags);
    if !b.partial {
        let _ = writeln!(s, "    RAX: {:016x}  RBX: {:016x}  RCX: {:016x}", r.rax, r.rbx, r.rcx);
        let _ = writeln!(s, "    RDX: {:016x}  RSI: {:016x}  RDI: {:016x}", r.rdx, r.rsi, r.rdi);
        let _ = writeln!(s, "    RBP: {:016x}   R8: {:016x}   R9: {:016x}", r.rbp, r.r8, r.r9);
        let _ = writeln!(s, "    R10: {:016x}  R11: {:016x}  R12: {:016x}", r.r10, r.r11, r.r12);
        let _ = writeln!(s, "    R13: {:016x}  R14: {:016x}  R15: {:016x}", r.r13, r.r14, r.r15);
        let _ = writeln!(s, "    ORIG_RAX: {:016x}  CS: {:04x}  SS: {:04x}", r.orig_rax, r.cs, r.ss);
    } else {
        let _ = writeln!(s, "    CS: {:04x}  SS: {:04x}", r.cs, r.ss);
    }
}

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
    let declaration = match v.type_name.strip_suffix(" []") {
        Some(element) => format!("{element} {}[]", v.name),
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
