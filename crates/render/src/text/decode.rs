//! `krash decode`: the oops text back, each frame line followed by its
//! source line (and inline chain, as faddr2line prints it), each `Code:`
//! line by its disassembly (as the kernel's decodecode shows it).

use std::fmt::Write;

use krash_commands::decode::{CodeDisassembly, Decoded, DecodedLine};

use super::sym::faddr2line_source;

pub(crate) fn render(d: &Decoded) -> String {
    let mut out = String::new();
    for line in &d.lines {
        match line {
            DecodedLine::Text { raw } => {
                let _ = writeln!(out, "{raw}");
            }
            DecodedLine::Frame { raw, prefix_len, resolution } => {
                out.push_str(raw);
                match resolution {
                    Err(e) => {
                        let _ = writeln!(out, " (?? {e})");
                    }
                    Ok(frames) => {
                        let innermost = frames.first().map(|f| f.location.as_ref());
                        let _ = writeln!(out, " {}", faddr2line_source(innermost.flatten()));
                        if frames.len() > 1 {
                            let indent = " ".repeat(prefix_len + 4);
                            for (i, frame) in frames.iter().enumerate() {
                                let by = if i == 0 { "" } else { "(inlined by) " };
                                let at = faddr2line_source(frame.location.as_ref());
                                let _ = writeln!(out, "{indent}{by}{} at {at}", frame.function);
                            }
                        }
                    }
                }
            }
            DecodedLine::Code { raw, disassembly } => {
                let _ = writeln!(out, "{raw}");
                if let Some(d) = disassembly {
                    code(&mut out, d);
                }
            }
        }
    }
    out
}

fn code(out: &mut String, d: &CodeDisassembly) {
    let trapping = match &d.trapping_at {
        Some(at) => format!(", trapping at {}+{:#x}", at.name, at.offset),
        None => String::new(),
    };
    let _ = writeln!(out, "Code disassembly ({} bytes{trapping}):", d.length);
    for i in &d.instructions {
        let hex: Vec<String> = i.bytes.iter().map(|b| format!("{b:02x}")).collect();
        let place = match &i.symbol {
            Some(s) => format!(" <{}+{:#x}>", s.name, s.offset),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "  {:4x}:{}{place}  {:<24} {}{}",
            i.offset,
            if i.trapping { "*" } else { " " },
            hex.join(" "),
            i.text,
            if i.trapping { "\t\t<-- trapping instruction" } else { "" }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use krash_commands::decode::CodeInstruction;
    use krash_commands::output::{InlineLocation, SourceLocation, SymbolRef};

    fn loc(line: u32) -> Option<SourceLocation> {
        Some(SourceLocation { file: "/b/fs/x.c".into(), relative: "fs/x.c".into(), line, column: None })
    }

    #[test]
    fn frames_and_code() {
        let d = Decoded {
            lines: vec![
                DecodedLine::Text { raw: "[   1.0] Oops".into() },
                DecodedLine::Frame {
                    raw: "[   1.0]  f+0x10/0x20".into(),
                    prefix_len: 10,
                    resolution: Ok(vec![
                        InlineLocation { function: "g".into(), location: loc(3) },
                        InlineLocation { function: "f".into(), location: loc(9) },
                    ]),
                },
                DecodedLine::Frame { raw: " h+0x1/0x2".into(), prefix_len: 0, resolution: Err("no symbol".into()) },
                DecodedLine::Code {
                    raw: "Code: <c3>".into(),
                    disassembly: Some(CodeDisassembly {
                        length: 1,
                        trapping_at: Some(SymbolRef { name: "f".into(), offset: 16 }),
                        instructions: vec![CodeInstruction {
                            offset: 0,
                            trapping: true,
                            symbol: Some(SymbolRef { name: "f".into(), offset: 16 }),
                            bytes: vec![0xc3],
                            text: "ret".into(),
                        }],
                    }),
                },
            ],
        };
        assert_eq!(
            render(&d),
            "[   1.0] Oops\n\
             [   1.0]  f+0x10/0x20 fs/x.c:3\n\
             \x20             g at fs/x.c:3\n\
             \x20             (inlined by) f at fs/x.c:9\n\
             \x20h+0x1/0x2 (?? no symbol)\n\
             Code: <c3>\n\
             Code disassembly (1 bytes, trapping at f+0x10):\n\
             \x20    0:* <f+0x10>  c3                       ret\t\t<-- trapping instruction\n"
        );
    }
}
