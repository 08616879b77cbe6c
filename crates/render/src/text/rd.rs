use std::fmt::Write;

use krash_commands::output::{MemoryRead, RdDisplay};

/// crash's `rd` layout: `addr:  units   ascii`, 16 bytes per line.
pub(crate) fn render(m: &MemoryRead) -> String {
    let mut s = String::new();
    if m.display == RdDisplay::Ascii {
        render_ascii(m, &mut s);
    } else {
        render_units(m, &mut s);
    }
    if let Some(e) = &m.error {
        let _ = writeln!(s, "rd: {e}");
    }
    s
}

fn render_units(m: &MemoryRead, s: &mut String) {
    let size = usize::from(m.unit_size.max(1));
    let per_line = 16 / size;
    // Each unit prints as 2 hex digits per byte, or as a 16-wide symbol field.
    let width = match m.display {
        RdDisplay::Decimal => decimal_width(size),
        _ => size * 2,
    };
    for (line_no, line) in m.units.chunks(per_line).enumerate() {
        let addr = m.start + (line_no * 16) as u64;
        let mut cells: Vec<String> = line
            .iter()
            .map(|u| match (&u.symbol, m.display) {
                (Some(sym), RdDisplay::Symbols) => format!("{:<width$}", super::sym::symbol_ref(sym)),
                (_, RdDisplay::Decimal) => format!("{:>width$}", signed(u.value, size)),
                _ => format!("{:0width$x}", u.value),
            })
            .collect();
        let _ = write!(s, "{addr:x}:  ");
        if m.ascii_column {
            while cells.len() < per_line {
                cells.push(" ".repeat(width));
            }
        }
        s.push_str(&cells.join(" "));
        if m.ascii_column {
            let from = line_no * 16;
            let bytes = m.bytes.get(from..(from + 16).min(m.bytes.len())).unwrap_or_default();
            let ascii: String =
                bytes.iter().map(|&b| if (0x20..0x7f).contains(&b) { b as char } else { '.' }).collect();
            let _ = write!(s, "   {ascii}");
        }
        s.push('\n');
    }
}

fn render_ascii(m: &MemoryRead, s: &mut String) {
    let end = m.bytes.iter().position(|&b| b == 0).unwrap_or(m.bytes.len());
    for (line_no, chunk) in m.bytes[..end].chunks(60).enumerate() {
        let text: String = chunk
            .iter()
            .take_while(|&&b| b != 0)
            .map(|&b| if (0x20..0x7f).contains(&b) { b as char } else { '.' })
            .collect();
        let _ = writeln!(s, "{:x}:  {text}", m.start + (line_no * 60) as u64);
    }
}

fn signed(v: u64, size: usize) -> i64 {
    match size {
        1 => i64::from(v as u8 as i8),
        2 => i64::from(v as u16 as i16),
        4 => i64::from(v as u32 as i32),
        _ => v as i64,
    }
}

fn decimal_width(size: usize) -> usize {
    match size {
        1 => 4,
        2 => 6,
        4 => 11,
        _ => 20,
    }
}
