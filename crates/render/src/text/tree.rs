use std::fmt::Write;

use krash_commands::output::TreeOutput;

use super::value::write_members;

/// One entry a line, its position and `-s` members under it; the reason
/// when the walk stopped early.
pub(crate) fn render(t: &TreeOutput) -> String {
    let mut out = String::new();
    for e in &t.entries {
        let _ = writeln!(out, "{:x}", e.addr);
        if let Some(p) = &e.position {
            let _ = writeln!(out, "  {p}");
        }
        write_members(&mut out, &e.members);
    }
    if let Some(b) = &t.broken {
        let _ = writeln!(out, "tree: {b}");
    }
    out
}
