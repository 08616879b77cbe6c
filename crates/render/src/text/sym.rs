use std::fmt::Write;

use krash_commands::output::{sym_line_text, Sym, SymEntry};

/// crash's `sym` lines: `addr (T) name+off [module] file: line`.
pub(crate) fn render(sym: &Sym) -> String {
    let mut s = String::new();
    for entry in &sym.entries {
        match entry {
            SymEntry::Symbol(line) => {
                let _ = writeln!(s, "{}", sym_line_text(line));
            }
            SymEntry::ModuleMark { addr, label, module } => {
                let _ = writeln!(s, "{addr:x} {label}: {module}");
            }
            SymEntry::Faddr2line { spec, chain, .. } => {
                let _ = writeln!(s, "{spec}:");
                for link in chain {
                    let _ = writeln!(s, "{link}");
                }
            }
            SymEntry::Message { text } => {
                let _ = writeln!(s, "{text}");
            }
        }
    }
    s
}
