use std::fmt::Write;

use krash_commands::output::{TaskHeader, TaskOutput};

use super::struct_cmd::render_block;

/// crash's task header line.
pub(crate) fn header(h: &TaskHeader) -> String {
    format!("PID: {:<8} TASK: {:x}  CPU: {:<4} COMMAND: \"{}\"", h.pid, h.task, h.cpu, h.comm)
}

/// The header, then each block followed by a blank line.
pub(crate) fn render(t: &TaskOutput) -> String {
    let mut out = String::new();
    for e in &t.entries {
        let _ = writeln!(out, "{}", header(&e.header));
        for b in &e.blocks {
            render_block(&mut out, b);
            out.push('\n');
        }
    }
    out
}
