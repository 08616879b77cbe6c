use std::fmt::Write;

use krash_commands::output::{StructBlock, StructOutput};

use super::value::{write_members, write_value};

/// crash's `struct`/`union` output.
pub(crate) fn render(s: &StructOutput) -> String {
    let mut out = String::new();
    let mut first_object = true;
    for b in &s.blocks {
        let is_object = matches!(b, StructBlock::Object { .. } | StructBlock::Members { .. } | StructBlock::Raw { .. });
        if s.separate && is_object && !first_object && matches!(b, StructBlock::Object { .. }) {
            out.push('\n');
        }
        render_block(&mut out, b);
        if s.separate && matches!(b, StructBlock::Members { .. }) {
            out.push('\n');
        }
        if is_object {
            first_object = false;
        }
    }
    out
}

pub(crate) fn render_block(out: &mut String, b: &StructBlock) {
    match b {
        StructBlock::Definition { text, size } => {
            let _ = writeln!(out, "{text}\nSIZE: {size}");
        }
        StructBlock::Offsets { lines, size } => {
            for l in lines {
                let _ = writeln!(out, "{l}");
            }
            if let Some(size) = size {
                let _ = writeln!(out, "SIZE: {size}");
            }
        }
        StructBlock::Object { header, value } => {
            out.push_str(header);
            out.push(' ');
            write_value(out, value, 0);
            out.push('\n');
        }
        StructBlock::Members { members } => write_members(out, members),
        StructBlock::Raw { lines } => {
            for l in lines {
                let _ = writeln!(out, "{l}");
            }
        }
        StructBlock::CpuLabel { cpu, addr } => {
            let _ = writeln!(out, "[{cpu}]: {addr:x}");
        }
        StructBlock::Message { text } => {
            let _ = writeln!(out, "{text}");
        }
    }
}
