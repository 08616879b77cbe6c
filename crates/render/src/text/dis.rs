use std::fmt::Write;

use krash_commands::output::{Dis, DisLine};

/// crash's `dis`: `0xaddr <sym+off>:<TAB>text`, source lines alone.
pub(crate) fn render(dis: &Dis) -> String {
    let mut s = String::new();
    for line in &dis.lines {
        match line {
            DisLine::Source { text } | DisLine::Text { text } => {
                let _ = writeln!(s, "{text}");
            }
            DisLine::Instruction { label, text, .. } => {
                let _ = writeln!(s, "{label}\t{text}");
            }
        }
    }
    s
}
