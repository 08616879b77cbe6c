use std::fmt::Write;

use krash_commands::output::ListOutput;

use super::value::{write_members, write_object};

/// One address a line, each followed by its `-s` members; `(empty)` for
/// an empty list; the reason when the walk stopped early.
pub(crate) fn render(l: &ListOutput) -> String {
    let mut out = String::with_capacity(l.entries.len() * 17);
    if l.empty_head {
        out.push_str("(empty)\n");
    }
    for e in &l.entries {
        let _ = writeln!(out, "{:x}", e.addr);
        if let Some(o) = &e.object {
            write_object(&mut out, o);
        }
        write_members(&mut out, &e.members);
    }
    if let Some(b) = &l.broken {
        let _ = writeln!(out, "list: {b}");
    }
    out
}
