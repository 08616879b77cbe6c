use std::fmt::Write;

use krash_commands::output::{InlineLocation, ModuleEdge, SourceLocation, Sym, SymEntry, SymLine, SymbolRef};

/// crash's `sym` lines: `addr (T) name+off [module] file: line`.
pub(crate) fn render(sym: &Sym) -> String {
    let mut s = String::new();
    for entry in &sym.entries {
        match entry {
            SymEntry::Symbol(line) => {
                let _ = writeln!(s, "{}", sym_line(line));
            }
            SymEntry::ModuleMark { addr, edge, module } => {
                let label = match edge {
                    ModuleEdge::Start => "MODULE START",
                    ModuleEdge::End => "MODULE END",
                };
                let _ = writeln!(s, "{addr:x} {label}: {module}");
            }
            SymEntry::Faddr2line { spec, chain, .. } => {
                let _ = writeln!(s, "{spec}:");
                s.push_str(&inline_chain(chain));
            }
            SymEntry::Faddr2lineError { message, .. } => {
                let _ = writeln!(s, "{message}");
            }
            SymEntry::NotFound { name } => {
                let _ = writeln!(s, "symbol not found: {name}");
            }
            SymEntry::Alternatives { symbols } => {
                s.push_str("possible alternatives:\n");
                if symbols.is_empty() {
                    s.push_str("  (none found)\n");
                }
                for line in symbols {
                    let _ = writeln!(s, "  {}", sym_line(line));
                }
            }
        }
    }
    s
}

/// One symbol line (shared with `kmem ADDR`).
pub(crate) fn sym_line(line: &SymLine) -> String {
    let mut s = format!("{:x} ({}) {}", line.addr, line.kind, line.name);
    if line.offset != 0 {
        let _ = write!(s, "+{}", line.offset);
    }
    if let Some(m) = &line.module {
        let _ = write!(s, " [{m}]");
    }
    if let Some(src) = &line.source {
        s.push(' ');
        s.push_str(&crash_source(src));
    }
    s
}

/// `name`, or `name+offset` (decimal), as crash shows a symbolic value.
pub(crate) fn symbol_ref(s: &SymbolRef) -> String {
    if s.offset == 0 {
        s.name.clone()
    } else {
        format!("{}+{}", s.name, s.offset)
    }
}

/// `file: line`, as crash (gdb) shows a source line.
pub(crate) fn crash_source(l: &SourceLocation) -> String {
    format!("{}: {}", l.file, l.line)
}

/// `path:line` as the kernel's faddr2line shows it, `??:?` when unknown.
pub(crate) fn faddr2line_source(l: Option<&SourceLocation>) -> String {
    l.map(|l| format!("{}:{}", l.relative, l.line)).unwrap_or_else(|| "??:?".to_string())
}

/// An inline chain as faddr2line prints it: one frame a line, outer
/// frames prefixed by `(inlined by) `.
pub(crate) fn inline_chain(chain: &[InlineLocation]) -> String {
    let mut out = String::new();
    for (i, frame) in chain.iter().enumerate() {
        if i > 0 {
            out.push_str("(inlined by) ");
        }
        let _ = writeln!(out, "{} at {}", frame.function, faddr2line_source(frame.location.as_ref()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(line: u32) -> SourceLocation {
        SourceLocation { file: "/build/linux/mm/slub.c".into(), relative: "mm/slub.c".into(), line, column: Some(3) }
    }

    #[test]
    fn symbol_lines() {
        let line = SymLine {
            addr: 0xffffffffc04902a6,
            kind: 't',
            name: "krash_widget_flush".into(),
            offset: 22,
            module: Some("krash_scenarios".into()),
            source: Some(loc(12)),
        };
        assert_eq!(
            sym_line(&line),
            "ffffffffc04902a6 (t) krash_widget_flush+22 [krash_scenarios] /build/linux/mm/slub.c: 12"
        );
        let plain = SymLine { offset: 0, module: None, source: None, ..line };
        assert_eq!(sym_line(&plain), "ffffffffc04902a6 (t) krash_widget_flush");
    }

    #[test]
    fn not_found_and_alternatives() {
        let sym = Sym {
            entries: vec![SymEntry::NotFound { name: "xyz".into() }, SymEntry::Alternatives { symbols: vec![] }],
        };
        assert_eq!(render(&sym), "symbol not found: xyz\npossible alternatives:\n  (none found)\n");
    }

    #[test]
    fn faddr2line_chains() {
        let chain = vec![
            InlineLocation { function: "inner".into(), location: Some(loc(7)) },
            InlineLocation { function: "outer".into(), location: None },
        ];
        assert_eq!(inline_chain(&chain), "inner at mm/slub.c:7\n(inlined by) outer at ??:?\n");
        let sym = Sym { entries: vec![SymEntry::Faddr2line { spec: "outer+0x10".into(), addr: 1, chain }] };
        assert!(render(&sym).starts_with("outer+0x10:\ninner at mm/slub.c:7\n"));
    }
}
