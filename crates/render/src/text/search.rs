use std::fmt::Write;

use krash_commands::output::SearchOutput;

/// `ADDR: VALUE` a line.
pub(crate) fn render(s: &SearchOutput) -> String {
    let mut out = String::with_capacity(s.hits.len() * 36);
    for h in &s.hits {
        let _ = writeln!(out, "{:x}: {}", h.addr, h.text);
    }
    out
}
