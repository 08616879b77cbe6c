use std::fmt::Write;

use krash_commands::output::{OffsetLayout, OffsetLine, StructBlock, StructOutput};

use super::value::{write_members, write_object};

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
        StructBlock::Definition { text, size, hex } => {
            let _ = writeln!(out, "{text}\nSIZE: {}", size_text(*size, *hex));
        }
        StructBlock::Offsets(layout) => offsets(out, layout),
        StructBlock::Object(o) => write_object(out, o),
        StructBlock::Members { members } => write_members(out, members),
        StructBlock::Raw { addr, bytes } => raw(out, *addr, bytes),
        StructBlock::CpuLabel { cpu, addr } => {
            let _ = writeln!(out, "[{cpu}]: {addr:x}");
        }
        StructBlock::Unreadable { keyword, addr, error } => {
            let _ = writeln!(out, "{}: invalid kernel virtual address: {addr:x} ({error})", keyword.keyword());
        }
    }
}

fn size_text(size: u64, hex: bool) -> String {
    if hex {
        format!("{size:#x}")
    } else {
        size.to_string()
    }
}

/// crash's `-o` layout: each member with its offset (or absolute address)
/// in brackets, right-aligned in a column as wide as the type size's label.
fn offsets(out: &mut String, l: &OffsetLayout) {
    let label = |off: u64| match l.base {
        Some(b) => format!("[{:x}]", b.wrapping_add(off)),
        None if l.hex => format!("[{off:#x}]"),
        None => format!("[{off}]"),
    };
    let width = label(l.type_size).len() + 2;
    let keyword = l.keyword.keyword();
    if l.typedef.is_some() {
        out.push_str("typedef ");
    }
    match &l.name {
        Some(n) => {
            let _ = writeln!(out, "{keyword} {n} {{");
        }
        None => {
            let _ = writeln!(out, "{keyword} {{");
        }
    }
    for line in &l.lines {
        match line {
            OffsetLine::Member { offset, labelled, depth, declaration, bit_width } => {
                let tag = if *labelled { label(*offset) } else { String::new() };
                let indent = " ".repeat(depth * 4);
                let _ = write!(out, "{tag:>width$} {indent}{declaration}");
                if let Some(w) = bit_width {
                    let _ = write!(out, " : {w}");
                }
                out.push_str(";\n");
            }
            OffsetLine::Open { depth, keyword } => {
                let _ = writeln!(out, "{:width$} {}{} {{", "", " ".repeat(depth * 4), keyword.keyword());
            }
            OffsetLine::Close { depth, offset, labelled, name: Some(name) } => {
                let tag = if *labelled { label(*offset) } else { String::new() };
                let _ = writeln!(out, "{tag:>width$} {}}} {name};", " ".repeat(depth * 4));
            }
            OffsetLine::Close { depth, name: None, .. } => {
                let _ = writeln!(out, "{:width$} {}}};", "", " ".repeat(depth * 4));
            }
        }
    }
    match &l.typedef {
        Some(n) => {
            let _ = writeln!(out, "}} {n};");
        }
        None => out.push_str("}\n"),
    }
    if let Some(size) = l.size {
        let _ = writeln!(out, "SIZE: {}", size_text(size, l.hex));
    }
}

/// Hex words with ASCII, 16 bytes a line (`struct -r`).
fn raw(out: &mut String, addr: u64, bytes: &[u8]) {
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let mut words = String::new();
        for w in chunk.chunks(8) {
            let mut b = [0u8; 8];
            b[..w.len()].copy_from_slice(w);
            let _ = write!(words, "{:016x} ", u64::from_le_bytes(b));
        }
        let ascii: String = chunk.iter().map(|&c| if (0x20..0x7f).contains(&c) { c as char } else { '.' }).collect();
        let _ = writeln!(out, "{:x}:  {:<34}  {ascii}", addr.wrapping_add(i as u64 * 16), words);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use krash_commands::output::Aggregate;

    #[test]
    fn offset_layout_lines() {
        let layout = OffsetLayout {
            keyword: Aggregate::Struct,
            name: Some("widget".into()),
            typedef: None,
            base: None,
            hex: false,
            type_size: 24,
            lines: vec![
                OffsetLine::Member {
                    offset: 0,
                    labelled: true,
                    depth: 0,
                    declaration: "int a".into(),
                    bit_width: None,
                },
                OffsetLine::Open { depth: 0, keyword: Aggregate::Union },
                OffsetLine::Member {
                    offset: 8,
                    labelled: true,
                    depth: 1,
                    declaration: "long b".into(),
                    bit_width: None,
                },
                OffsetLine::Close { depth: 0, offset: 8, labelled: true, name: None },
                OffsetLine::Open { depth: 0, keyword: Aggregate::Struct },
                OffsetLine::Member {
                    offset: 16,
                    labelled: false,
                    depth: 1,
                    declaration: "unsigned int c".into(),
                    bit_width: Some(3),
                },
                OffsetLine::Close { depth: 0, offset: 16, labelled: true, name: Some("s".into()) },
            ],
            size: Some(24),
        };
        let mut out = String::new();
        offsets(&mut out, &layout);
        let expected = [
            "struct widget {",
            "   [0] int a;",
            "       union {",
            "   [8]     long b;",
            "       };",
            "       struct {",
            "           unsigned int c : 3;",
            "  [16] } s;",
            "}",
            "SIZE: 24",
        ];
        assert_eq!(out, expected.map(|l| format!("{l}\n")).concat());
    }

    #[test]
    fn raw_words_and_unreadable() {
        let mut out = String::new();
        raw(&mut out, 0x1000, b"ABCDEFGH\x01\x00\x00\x00\x00\x00\x00\x00xyz");
        assert_eq!(
            out,
            "1000:  4847464544434241 0000000000000001   ABCDEFGH........\n\
             1010:  00000000007a7978                    xyz\n"
        );
        let mut out = String::new();
        render_block(
            &mut out,
            &StructBlock::Unreadable { keyword: Aggregate::Union, addr: 0x10, error: "no page".into() },
        );
        assert_eq!(out, "union: invalid kernel virtual address: 10 (no page)\n");
    }
}
