use std::fmt::Write;

use krash_commands::output::{ListBreak, ListEntry, ListOutput};

use super::value::{write_members, write_object};

/// One address a line, each followed by its `-s` members; `(empty)` for
/// an empty list; the reason when the walk stopped early.
pub(crate) fn render(l: &ListOutput) -> String {
    let mut out = String::with_capacity(l.entries.len() * 17);
    out.push_str(render_list_head(l.empty_head));
    for e in &l.entries {
        write_entry(&mut out, e);
    }
    out.push_str(&render_list_tail(l.broken.as_ref()));
    out
}

/// What `list` prints before its entries: `(empty)` for an empty `-H` list.
/// With [`render_list_entry`] and [`render_list_tail`], `list`'s text a
/// part at a time, for output written as the list is walked.
pub fn render_list_head(empty_head: bool) -> &'static str {
    if empty_head {
        "(empty)\n"
    } else {
        ""
    }
}

/// Appends one entry of `list` to `out`: its address, then its `-s` members.
pub fn render_list_entry(out: &mut String, e: &ListEntry) {
    write_entry(out, e);
}

/// What `list` prints after its entries: why the walk stopped early.
pub fn render_list_tail(broken: Option<&ListBreak>) -> String {
    broken.map(|b| format!("list: {b}\n")).unwrap_or_default()
}

fn write_entry(out: &mut String, e: &ListEntry) {
    let _ = writeln!(out, "{:x}", e.addr);
    if let Some(o) = &e.object {
        write_object(out, o);
    }
    write_members(out, &e.members);
}
