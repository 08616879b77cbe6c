//! crash's `vtop` walk layout and the `ptov`/`btop`/`ptob` one-liners.

use std::fmt::Write;

use krash_commands::output::{VtopOutput, VtopResult};

const PAGE_HEADER: &str = "      PAGE       PHYSICAL      MAPPING       INDEX CNT FLAGS\n";

pub(crate) fn render(out: &VtopOutput) -> String {
    let mut s = String::new();
    match out {
        VtopOutput::Vtop(rows) => {
            for r in rows {
                walk(&mut s, r);
            }
        }
        VtopOutput::Ptov(rows) => {
            let _ = writeln!(s, "{:<16}  {:<16}", "VIRTUAL", "PHYSICAL");
            for c in rows {
                let _ = writeln!(s, "{:<16x}  {:<16x}", c.to, c.from);
            }
        }
        VtopOutput::Btop(rows) | VtopOutput::Ptob(rows) => {
            for c in rows {
                let _ = writeln!(s, "{:x}: {:x}", c.from, c.to);
            }
        }
    }
    s
}

fn walk(s: &mut String, r: &VtopResult) {
    // crash sizes the address column for user (10) or kernel (16) addresses.
    let width = if r.user { 10 } else { 16 };
    let _ = writeln!(s, "{:<width$}  {:<16}", "VIRTUAL", "PHYSICAL");
    match r.paddr {
        Some(p) => {
            let _ = writeln!(s, "{:<width$}  {:<16x}", format!("{:x}", r.vaddr), p);
        }
        None => {
            let _ = writeln!(s, "{:<width$}  (not mapped)", format!("{:x}", r.vaddr));
        }
    }
    s.push('\n');
    if !r.user {
        let _ = writeln!(s, "PGD DIRECTORY: {:x}", r.pgd_virt);
    }
    for (i, step) in r.steps.iter().enumerate() {
        if i == 0 && !r.user {
            let _ = writeln!(s, "PAGE DIRECTORY: {:x}", step.entry.0);
        } else {
            let _ = writeln!(s, "   {}: {:x} => {:x}", step.level.name(), step.entry_paddr, step.entry.0);
        }
    }
    if let (Some(size), Some(last), Some(p)) = (r.page_size, r.steps.last(), r.paddr) {
        let frame = p & !(size - 1);
        match size {
            0x20_0000 => {
                let _ = writeln!(s, "  PAGE: {frame:x}  (2MB)");
            }
            0x4000_0000 => {
                let _ = writeln!(s, "  PAGE: {frame:x}  (1GB)");
            }
            _ => {
                let _ = writeln!(s, "  PAGE: {frame:x}");
            }
        }
        s.push('\n');
        let pte = format!("{:x}", last.entry.0);
        let phys = format!("{frame:x}");
        let pte_width = pte.len().max(3);
        let phys_width = phys.len().max(8);
        let _ = writeln!(s, "{}  {}  FLAGS", centered("PTE", pte_width, false), centered("PHYSICAL", phys_width, false));
        let _ = writeln!(
            s,
            "{}  {}  ({})",
            centered(&pte, pte_width, true),
            centered(&phys, phys_width, true),
            last.entry.flag_names().join("|")
        );
    }
    if let Some(v) = &r.vma {
        s.push('\n');
        s.push_str("      VMA           START       END     FLAGS FILE\n");
        let _ = writeln!(s, "{:<16x} {:>10x} {:>10x} {:>6x} {}", v.addr, v.start, v.end, v.flags, v.path.as_deref().unwrap_or(""));
    }
    if let Some(page) = &r.page {
        s.push('\n');
        s.push_str(PAGE_HEADER);
        let _ = write!(
            s,
            "{:<16x} {:>8x} {:>16x} {:>8x} {:>2} {:x}",
            page.page, page.phys, page.mapping, page.index, page.count, page.flags
        );
        if !page.flag_names.is_empty() {
            let _ = write!(s, " {}", page.flag_names.join(","));
        }
        s.push('\n');
    }
}

/// `text` centred in `width` columns; an odd leftover space goes left when
/// `right_leaning` (crash's CENTER|RJUST), right otherwise.
fn centered(text: &str, width: usize, right_leaning: bool) -> String {
    let pad = width.saturating_sub(text.len());
    let left = pad / 2 + if right_leaning { pad % 2 } else { 0 };
    format!("{}{}{}", " ".repeat(left), text, " ".repeat(pad - left))
}

#[cfg(test)]
mod tests {
    use super::centered;

    #[test]
    fn centring_matches_crash_columns() {
        assert_eq!(centered("PTE", 16, false), "      PTE       ");
        assert_eq!(centered("1000000", 8, true), " 1000000");
    }
}
