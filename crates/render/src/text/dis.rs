use std::fmt::Write;

use krash_commands::output::{Dis, DisLine};

/// crash's `dis`: `0xaddr <sym+off>:<TAB>text`, source lines alone.
pub(crate) fn render(dis: &Dis) -> String {
    let mut s = String::new();
    match dis {
        Dis::Code { hex_offsets, pad_bare_mnemonics, lines } => {
            for line in lines {
                match line {
                    DisLine::Source { location } => {
                        let text = location.as_ref().map(super::sym::crash_source).unwrap_or_default();
                        let _ = writeln!(s, "{text}");
                    }
                    DisLine::Instruction { addr, symbol, offset, text, ftrace_nop, .. } => {
                        let _ = match (symbol, offset) {
                            (Some(name), 0) => write!(s, "{addr:#x} <{name}>:"),
                            (Some(name), off) if *hex_offsets => write!(s, "{addr:#x} <{name}+{off:#x}>:"),
                            (Some(name), off) => write!(s, "{addr:#x} <{name}+{off}>:"),
                            (None, _) => write!(s, "{addr:#x}:"),
                        };
                        s.push('\t');
                        if *pad_bare_mnemonics {
                            instruction_text(&mut s, text);
                        } else {
                            s.push_str(text);
                        }
                        if *ftrace_nop {
                            s.push_str(" [FTRACE NOP]");
                        }
                        s.push('\n');
                    }
                }
            }
        }
        Dis::User { instructions } => {
            for i in instructions {
                let _ = writeln!(s, "   {:#x}:\t{}", i.addr, i.text);
            }
        }
        Dis::Source { location, lines } => {
            let _ = writeln!(s, "FILE: {}\nLINE: {}\n", location.file, location.line);
            for l in lines {
                let marker = if l.current { "* " } else { "  " };
                let _ = writeln!(s, "{marker}{}\t{}", l.number, l.text);
            }
        }
    }
    s
}

/// gdb pads a bare mnemonic to the operand column too (`ret    `), except
/// the one-byte `nop`, which binutils prints bare.
fn instruction_text(s: &mut String, text: &str) {
    if !text.contains(' ') && text != "nop" {
        let _ = write!(s, "{text:<6} ");
    } else {
        s.push_str(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use krash_commands::output::SourceLocation;

    fn insn(symbol: Option<&str>, offset: u64, text: &str, ftrace_nop: bool) -> DisLine {
        DisLine::Instruction {
            addr: 0xffffffff81000010,
            symbol: symbol.map(str::to_string),
            offset,
            text: text.into(),
            ftrace_nop,
            bytes: vec![],
        }
    }

    #[test]
    fn labels_padding_and_ftrace() {
        let loc = SourceLocation { file: "/b/kernel/x.c".into(), relative: "kernel/x.c".into(), line: 9, column: None };
        let dis = Dis::Code {
            hex_offsets: false,
            pad_bare_mnemonics: true,
            lines: vec![
                DisLine::Source { location: Some(loc) },
                insn(Some("f"), 0, "nopl   0x0(%rax,%rax,1)", true),
                insn(Some("f"), 42, "ret", false),
                insn(None, 0, "nop", false),
                DisLine::Source { location: None },
            ],
        };
        assert_eq!(
            render(&dis),
            "/b/kernel/x.c: 9\n\
             0xffffffff81000010 <f>:\tnopl   0x0(%rax,%rax,1) [FTRACE NOP]\n\
             0xffffffff81000010 <f+42>:\tret    \n\
             0xffffffff81000010:\tnop\n\n"
        );
        let hex =
            Dis::Code { hex_offsets: true, pad_bare_mnemonics: true, lines: vec![insn(Some("f"), 42, "ret", false)] };
        assert_eq!(render(&hex), "0xffffffff81000010 <f+0x2a>:\tret    \n");
    }

    #[test]
    fn arm64_text_is_not_padded() {
        let lines = vec![insn(Some("f"), 0, "paciasp", false), insn(Some("f"), 4, "br\tx16", false)];
        let dis = Dis::Code { hex_offsets: false, pad_bare_mnemonics: false, lines };
        assert_eq!(render(&dis), "0xffffffff81000010 <f>:\tpaciasp\n0xffffffff81000010 <f+4>:\tbr\tx16\n");
    }
}
