//! `dis`: disassembly as crash (and so gdb) prints it, with source lines
//! from DWARF, for kernel, module and user code.

use krash_linux::sched::task::TaskExt;
use std::path::PathBuf;

use krash_arch::Instruction;
use krash_core::{Error, Result, VirtualMemory};
use krash_program::Kernel;

use crate::source::SourceLocation;
use crate::{getopt, parse_hex, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "dis",
    aliases: &[],
    summary: "disassemble kernel, module or user code",
    synopsis: "dis [-rfludxs] [address | symbol | symbol+offset] [count]",
    details: "  address | symbol | symbol+offset  where to start; a function's own name (or its\n\
              \x20          start address) disassembles the whole function, any other address\n\
              \x20          one instruction\n\
              \x20 count    number of instructions (may run past the function's end)\n\
              \x20 -l       the source file and line before each instruction where it changes\n\
              \x20 -r       from the function's start up to and including the address\n\
              \x20 -f       from the address to the function's end\n\
              \x20 -u       the address is a user address of the current context's task\n\
              \x20 -x       offsets in <symbol+0xoff> as hexadecimal\n\
              \x20 -d       offsets in <symbol+off> as decimal (the default)\n\
              \x20 -s       the source code around the address instead of instructions; the\n\
              \x20          file is read from its DWARF path, or under each directory of\n\
              \x20          $KRASH_SOURCE_PATH (colon-separated source trees)",
    run,
};

/// One line of `dis` output for kernel or module code.
#[derive(Debug, Clone)]
pub enum DisLine {
    /// `-l`: the source line of the instructions that follow changed (None:
    /// they have none).
    Source { location: Option<SourceLocation> },
    /// One instruction: its address, the symbol it is in with the offset
    /// into it, and gdb's text as crash shows it.
    Instruction {
        addr: u64,
        symbol: Option<String>,
        offset: u64,
        text: String,
        /// The 5-byte NOP ftrace patches at a function's entry (crash marks it).
        ftrace_nop: bool,
        bytes: Vec<u8>,
    },
}

/// One instruction of user code (`dis -u`).
#[derive(Debug, Clone)]
pub struct UserInstruction {
    pub addr: u64,
    pub text: String,
    pub bytes: Vec<u8>,
}

/// One line of source code (`dis -s`).
#[derive(Debug, Clone)]
pub struct SourceText {
    pub number: u32,
    pub text: String,
    /// The line of the address asked about.
    pub current: bool,
}

/// What `dis` produced.
#[derive(Debug, Clone)]
pub enum Dis {
    /// Kernel or module code; `hex_offsets` (`-x`) shows symbol offsets in hex.
    /// `pad_bare_mnemonics`: gdb's x86-64 (AT&T) text pads an instruction
    /// without operands to the operand column (`ret    `); its arm64 text
    /// does not (`ret`, `paciasp`).
    Code { hex_offsets: bool, pad_bare_mnemonics: bool, lines: Vec<DisLine> },
    /// `-u`: user code of the current context's task.
    User { instructions: Vec<UserInstruction> },
    /// `-s`: the source around the address's line.
    Source { location: SourceLocation, lines: Vec<SourceText> },
}

/// Largest range `dis` decodes at once.
const MAX_RANGE: u64 = 1 << 20;
/// Most instructions a count may ask for.
const MAX_COUNT: u64 = 1 << 16;
/// Most source lines `dis -s` prints.
const MAX_SOURCE_LINES: u32 = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Span {
    /// `count` instructions from the address.
    Count(u64),
    /// The whole function holding the address.
    Function,
    /// Function start through the instruction at the address (`-r`).
    UpTo,
    /// The address through the function's end (`-f`).
    From,
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("dis", args, "rfludxsUhb:B:")?;
    if p.has('r') && p.has('f') {
        return Err(Error::Usage("dis: -r and -f are mutually exclusive".into()));
    }
    if p.has('d') && (p.has('x') || p.has('h')) {
        return Err(Error::Usage("dis: -d and -x are mutually exclusive".into()));
    }
    if p.has('s') && (p.has('r') || p.has('f')) {
        return Err(Error::Usage("dis: -s cannot be used with -r or -f".into()));
    }
    if p.has('s') && p.has('u') {
        return Err(Error::Usage("dis: -s can only be used with kernel addresses".into()));
    }
    let target = p.args.first().ok_or_else(|| Error::Usage(format!("usage: {}", SPEC.synopsis)))?;
    let count = match p.args.get(1) {
        Some(c) => Some(parse_count(c)?),
        None => None,
    };
    let k = &session.kernel;
    if p.has('u') {
        let addr = parse_hex(target).ok_or_else(|| Error::Usage(format!("dis -u: invalid address: {target}")))?;
        let instructions = user_code(k, session.current_task, addr, count.unwrap_or(1))?;
        return Ok(Output::Dis(Dis::User { instructions }));
    }
    let (addr, whole_function) = resolve(k, target)?;
    if p.has('s') {
        return Ok(Output::Dis(source_listing(k, target, addr, count)?));
    }
    let span = match (count, p.has('r'), p.has('f')) {
        (_, true, _) => Span::UpTo,
        (Some(n), _, _) => Span::Count(n),
        (None, _, true) => Span::From,
        (None, _, _) if whole_function => Span::Function,
        (None, _, _) => Span::Count(1),
    };
    let options = Style { hex_offsets: p.has('x') || p.has('h'), lines: p.has('l') };
    let lines = kernel_code(k, addr, span, count, options)?;
    let pad_bare_mnemonics = k.arch().machine == krash_arch::Machine::X86_64;
    Ok(Output::Dis(Dis::Code { hex_offsets: options.hex_offsets, pad_bare_mnemonics, lines }))
}

fn parse_count(text: &str) -> Result<u64> {
    let n = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
    .ok_or_else(|| Error::Usage(format!("dis: invalid count: {text}")))?;
    if n == 0 {
        return Err(Error::Usage("dis: invalid count argument: 0".into()));
    }
    Ok(n.min(MAX_COUNT))
}

/// The address `target` names, and whether it names a whole function
/// (a text symbol, or the exact start address of one).
fn resolve(k: &Kernel, target: &str) -> Result<(u64, bool)> {
    if let Some(sym) = k.lookup_symbol(target) {
        return Ok((sym.addr, is_code(sym.kind)));
    }
    if let Some((name, offset)) = target.split_once('+') {
        let sym = k.lookup_symbol(name).ok_or_else(|| Error::NotFound(format!("symbol not found: {name}")))?;
        let offset = match offset.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => offset.parse().ok(),
        }
        .ok_or_else(|| Error::Usage(format!("dis: invalid offset in {target}")))?;
        return Ok((sym.addr.wrapping_add(offset), false));
    }
    let addr = parse_hex(target).ok_or_else(|| Error::NotFound(format!("symbol not found: {target}")))?;
    let whole = k.symbol_at(addr).is_some_and(|(s, off)| off == 0 && is_code(s.kind));
    Ok((addr, whole))
}

fn is_code(kind: char) -> bool {
    matches!(kind, 'T' | 't' | 'W' | 'w')
}

#[derive(Debug, Clone, Copy)]
struct Style {
    hex_offsets: bool,
    lines: bool,
}

fn kernel_code(k: &Kernel, addr: u64, span: Span, count: Option<u64>, style: Style) -> Result<Vec<DisLine>> {
    let bounds = || {
        k.function_bounds(addr)
            .ok_or_else(|| Error::NotFound(format!("{addr:x}: cannot find the function holding this address")))
    };
    let decoder = k.arch().decoder;
    let max_insn_len = decoder.max_instruction_len() as u64;
    let (start, end) = match span {
        Span::Count(n) => (addr, addr.saturating_add(n.saturating_mul(max_insn_len))),
        Span::Function => bounds()?,
        Span::UpTo => (bounds()?.0, addr.saturating_add(max_insn_len)),
        Span::From => bounds()?,
    };
    if end <= start || end - start > MAX_RANGE {
        return Err(Error::bad_data(format!("dis {addr:x}"), format!("implausible code range {start:x}-{end:x}")));
    }
    let bytes = read_code(k, start, end)?;
    let symbolizer = |a: u64| k.symbol_at(a).map(|(s, off)| (s.name.to_string(), off));
    let decoded = decoder.disassemble(&bytes, start, &symbolizer);
    let chosen: Vec<&Instruction> = match span {
        Span::Count(n) => decoded.iter().take(n as usize).collect(),
        Span::Function => decoded.iter().filter(|i| i.addr < end).collect(),
        Span::UpTo => {
            let mut v: Vec<&Instruction> = decoded.iter().take_while(|i| i.addr < addr).collect();
            if let Some(at) = decoded.iter().find(|i| i.addr >= addr) {
                v.push(at);
            }
            match count {
                // `-r ADDR N`: the last N instructions up to ADDR.
                Some(n) => v.split_off(v.len().saturating_sub(n as usize)),
                None => v,
            }
        }
        Span::From => decoded.iter().filter(|i| i.addr >= addr && i.addr < end).collect(),
    };
    let mut out = Vec::with_capacity(chosen.len() * 2);
    let mut last_source: Option<SourceLocation> = None;
    for insn in chosen {
        if style.lines {
            let source = k.source_line(insn.addr).map(|l| SourceLocation::of(&l));
            let changed = match (&source, &last_source) {
                (Some(a), Some(b)) => !a.same_line(b),
                (a, b) => a.is_some() != b.is_some(),
            };
            if changed {
                out.push(DisLine::Source { location: source.clone() });
                last_source = source;
            }
        }
        let (symbol, offset) = match k.symbol_at(insn.addr) {
            Some((sym, off)) => (Some(sym.name.to_string()), off),
            None => (None, 0),
        };
        let text = if style.hex_offsets { hex_offsets(&insn.text) } else { insn.text.clone() };
        let text = crash_gdb_segment_spelling(&text);
        let ftrace_nop = symbol.is_some() && offset == 0 && is_ftrace_nop(&text);
        out.push(DisLine::Instruction { addr: insn.addr, symbol, offset, text, ftrace_nop, bytes: insn.bytes.clone() });
    }
    Ok(out)
}

/// Reads `[start, end)`, or as much of its start as is readable (a count
/// may run past the last mapped page).
fn read_code(k: &Kernel, start: u64, end: u64) -> Result<Vec<u8>> {
    let len = (end - start) as usize;
    match k.memory().read_vec(start, len) {
        Ok(bytes) => Ok(bytes),
        Err(first_error) => {
            let page_end = (start | (k.memory().page_size() - 1)).saturating_add(1);
            let short = (page_end.min(end) - start) as usize;
            k.memory().read_vec(start, short).map_err(|_| first_error)
        }
    }
}

/// crash 8.0.2 embeds gdb 10, whose disassembler spells a CS-prefixed
/// padding NOP as a segment override on the operand
/// (`nopw   %cs:0x0(%rax,%rax,1)`, `data16 nopw %cs:...`) where newer
/// binutils print a `cs` prefix word; crash users see the former.
fn crash_gdb_segment_spelling(text: &str) -> String {
    let Some(at) = text.find("cs nopw ") else { return text.to_string() };
    let prefixes = &text[..at];
    if !prefixes.split_whitespace().all(|w| w == "data16") {
        return text.to_string();
    }
    let operand = &text[at + "cs nopw ".len()..];
    let mnemonic = format!("{prefixes}nopw");
    format!("{mnemonic:<6} %cs:{operand}")
}

/// The 5-byte NOP ftrace patches at function entry, as crash flags it.
fn is_ftrace_nop(text: &str) -> bool {
    text.contains("nopl   0x0(%rax,%rax,1)") || text.contains("data32 data32 data32 xchg %ax,%ax")
}

/// Rewrites every `<name+DEC>` into `<name+0xHEX>`.
fn hex_offsets(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>').map(|c| open + c) else { break };
        let inner = &rest[open + 1..close];
        out.push_str(&rest[..open]);
        match inner.rsplit_once('+').and_then(|(n, d)| d.parse::<u64>().ok().map(|d| (n, d))) {
            Some((name, off)) => out.push_str(&format!("<{name}+{off:#x}>")),
            None => out.push_str(&rest[open..=close]),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// `dis -u`: user code of the current task, read through its page tables.
fn user_code(k: &Kernel, task: Option<u64>, addr: u64, count: u64) -> Result<Vec<UserInstruction>> {
    let task = task.ok_or_else(|| Error::NotFound("dis -u: no current task (use set PID)".into()))?;
    let task = k.task_by_addr(task)?;
    if task.mm == 0 {
        return Err(Error::NotFound(format!(
            "dis -u: task {:x} ({}) is a kernel thread: it has no user address space",
            task.addr, task.comm
        )));
    }
    let pgd = k.read_field_u64(task.mm, "mm_struct", "pgd")?;
    let pgd_phys = k.virt_to_phys(pgd)?;
    let decoder = k.arch().decoder;
    let len = count.saturating_mul(decoder.max_instruction_len() as u64) as usize;
    let mut bytes = vec![0u8; len];
    let mut readable = len;
    if k.memory().read_user(pgd_phys, addr, &mut bytes).is_err() {
        let page_end = (addr | (k.memory().page_size() - 1)).saturating_add(1);
        readable = ((page_end - addr) as usize).min(len);
        bytes.truncate(readable);
        k.memory()
            .read_user(pgd_phys, addr, &mut bytes)
            .map_err(|e| Error::NotFound(format!("invalid user virtual address: {addr:x} ({e})")))?;
    }
    bytes.truncate(readable);
    let none = |_: u64| None;
    let decoded = decoder.disassemble(&bytes, addr, &none);
    Ok(decoded
        .iter()
        .take(count as usize)
        .map(|i| UserInstruction { addr: i.addr, text: i.text.clone(), bytes: i.bytes.clone() })
        .collect())
}

/// `dis -s`: the source around the address's line, from the file DWARF
/// names (or the same relative path under $KRASH_SOURCE_PATH).
fn source_listing(k: &Kernel, target: &str, addr: u64, count: Option<u64>) -> Result<Dis> {
    if !k.is_text_address(addr) {
        return Err(Error::Usage(format!("{addr:x}: not a kernel text address")));
    }
    if let Some(m) = k.module_containing(addr) {
        if k.module_debuginfo(&m.name).and_then(|d| d.dwarf.clone()).is_none() {
            return Err(Error::MissingDebuginfo(format!(
                "{}: module source code is not available (load it with mod -s)",
                m.name
            )));
        }
    }
    let line = k
        .source_line(addr)
        .ok_or_else(|| Error::MissingDebuginfo(format!("{target}: no line information for this address")))?;
    let text = read_source(&line.file, &line.relative).ok_or_else(|| {
        Error::NotFound(format!(
            "{target}: source code is not available ({} not found; set KRASH_SOURCE_PATH to the source tree)",
            line.file
        ))
    })?;
    let mut out = Vec::new();
    let first = line.line.saturating_sub(5).max(1);
    let last_allowed = match count {
        Some(n) => line.line.saturating_add(u32::try_from(n).unwrap_or(u32::MAX)),
        None => line.line.saturating_add(MAX_SOURCE_LINES),
    };
    for (index, source) in text.lines().enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        if number < first {
            continue;
        }
        if number > last_allowed {
            break;
        }
        out.push(SourceText { number, text: source.to_string(), current: number == line.line });
        if count.is_none() && number > line.line && source.trim_end() == "}" {
            break;
        }
    }
    Ok(Dis::Source { location: SourceLocation::of(&line), lines: out })
}

fn read_source(full: &str, relative: &str) -> Option<String> {
    if let Ok(text) = std::fs::read_to_string(full) {
        return Some(text);
    }
    let dirs = std::env::var("KRASH_SOURCE_PATH").ok()?;
    dirs.split(':')
        .filter(|d| !d.is_empty())
        .flat_map(|d| [PathBuf::from(d).join(relative), PathBuf::from(d).join(full.trim_start_matches('/'))])
        .find_map(|p| std::fs::read_to_string(p).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_offsets_rewrites_symbolic_operands() {
        assert_eq!(
            hex_offsets("jne    0xffffffffc05a329a <krash_widget_flush+42>"),
            "jne    0xffffffffc05a329a <krash_widget_flush+0x2a>"
        );
        assert_eq!(hex_offsets("call   0xffffffff8c801740 <thunk>"), "call   0xffffffff8c801740 <thunk>");
    }

    #[test]
    fn cs_nops_are_spelled_as_crash_shows_them() {
        assert_eq!(crash_gdb_segment_spelling("cs nopw 0x0(%rax,%rax,1)"), "nopw   %cs:0x0(%rax,%rax,1)");
        assert_eq!(crash_gdb_segment_spelling("data16 cs nopw 0x0(%rax,%rax,1)"), "data16 nopw %cs:0x0(%rax,%rax,1)");
        assert_eq!(crash_gdb_segment_spelling("nopl   0x0(%rax)"), "nopl   0x0(%rax)");
    }

    #[test]
    fn ftrace_nop_is_recognized() {
        assert!(is_ftrace_nop("nopl   0x0(%rax,%rax,1)"));
        assert!(!is_ftrace_nop("nopw   0x0(%rax,%rax,1)"));
    }
}
