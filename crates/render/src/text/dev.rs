use std::fmt::Write;

use krash_commands::output::{DevMajorRow, DevOutput, DiskIo, ResourceTree};

/// crash's column width for `name` plus the line length it wraps resource names at.
const LINE_WIDTH: usize = 80;

pub(crate) fn render(d: &DevOutput) -> String {
    match d {
        DevOutput::Majors { char_devices, block_devices } => majors(char_devices, block_devices),
        DevOutput::Disks { disks } => disk_io(disks),
        DevOutput::Resources { trees } => {
            let parts: Vec<String> = trees.iter().map(resource_tree).collect();
            parts.join("\n")
        }
    }
}

/// `text` centred in `width` columns as crash's mkstring(CENTER) does: an
/// odd leftover space goes right, or left when `rjust` (CENTER|RJUST).
pub(crate) fn centered(text: &str, width: usize, rjust: bool) -> String {
    let pad = width.saturating_sub(text.len());
    let left = pad / 2 + if rjust { pad % 2 } else { 0 };
    format!("{}{}{}", " ".repeat(left), text, " ".repeat(pad - left))
}

fn majors(chars: &[DevMajorRow], blocks: &[DevMajorRow]) -> String {
    let mut out = String::from("CHRDEV    NAME                 CDEV        OPERATIONS      \n");
    for r in chars {
        major_row(&mut out, r);
    }
    out.push_str("\nBLKDEV    NAME                GENDISK      OPERATIONS      \n");
    for r in blocks {
        major_row(&mut out, r);
    }
    out
}

fn major_row(out: &mut String, r: &DevMajorRow) {
    let name = if r.name.is_empty() { "(unknown)" } else { &r.name };
    let _ = write!(out, " {:>3}      {:<13} ", r.major, name);
    if r.operations == 0 {
        let _ = writeln!(out, " {}", centered("(none)", 16, false));
    } else {
        let ops = match &r.operations_symbol {
            Some(sym) => super::sym::symbol_ref(sym),
            None => format!("{:x}", r.operations),
        };
        let _ = writeln!(out, " {:>16x}  {}", r.object, ops);
    }
}

fn disk_io(disks: &[DiskIo]) -> String {
    let mut out = String::from("MAJOR GENDISK            NAME       REQUEST_QUEUE      TOTAL  READ WRITE \n");
    for d in disks {
        let _ = writeln!(
            out,
            "{:>5} {:<16x}   {:<10} {:<16x}   {:>5} {:>5} {:>5} ",
            d.major,
            d.gendisk,
            d.name,
            d.request_queue,
            d.reads + d.writes,
            d.reads,
            d.writes
        );
    }
    out
}

fn resource_tree(t: &ResourceTree) -> String {
    // Ranges are printed 4 hex digits wide for port space, 8 for memory.
    let digits = match t.resources.first() {
        Some(root) if root.end > 0xffff => 8,
        _ => 4,
    };
    let mut out = format!("{}  {}  NAME\n", centered("RESOURCE", 16, false), centered("RANGE", digits * 2 + 1, false));
    let wrap = 16 + 2 + digits * 2 + 1 + 2;
    for r in &t.resources {
        let _ = write!(out, "{:>8x}  {:0digits$x}-{:0digits$x}", r.addr, r.start, r.end);
        match split_long_name(&r.name, wrap) {
            (first, Some(rest)) => {
                let _ = writeln!(out, "  {first}\n{}{rest}", " ".repeat(wrap));
            }
            (first, None) => {
                let _ = writeln!(out, "  {first}");
            }
        }
    }
    if let Some(b) = &t.broken {
        let _ = writeln!(out, "dev: {}: {b}", t.root);
    }
    out
}

/// A name that would run past column 80 is split at a space, the rest going
/// on its own line under the name column (as crash does).
fn split_long_name(name: &str, wrap: usize) -> (&str, Option<&str>) {
    if wrap + name.len() <= LINE_WIDTH {
        return (name, None);
    }
    let excess = wrap + name.len() - LINE_WIDTH;
    let bytes = name.as_bytes();
    for (from_end, i) in (1..bytes.len()).rev().enumerate() {
        if bytes.get(i) == Some(&b' ') && from_end >= excess {
            return (&name[..i], Some(&name[i + 1..]));
        }
    }
    (name, None)
}

#[cfg(test)]
mod tests {
    use super::centered;

    #[test]
    fn centring() {
        assert_eq!(centered("RANGE", 9, false), "  RANGE  ");
        assert_eq!(centered("SIGACTION", 16, false), "   SIGACTION    ");
        assert_eq!(centered("7k", 5, true), "  7k ");
    }
}
