//! crash's `vtop` walk layout and the `ptov`/`btop`/`ptob` one-liners.

use std::fmt::Write;

use krash_commands::output::{PageInfo, PageLocation, VtopOutput, VtopResult};

pub(crate) const PAGE_HEADER: &str = "      PAGE       PHYSICAL      MAPPING       INDEX CNT FLAGS\n";

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
        VtopOutput::Pte(entries) => {
            for e in entries {
                pte_table(&mut s, e.0, e.frame_addr(), &e.flag_names());
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
        let frame = p & !size.wrapping_sub(1);
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
        pte_table(s, last.entry.0, frame, &last.entry.flag_names());
    }
    if let Some(v) = &r.vma {
        s.push('\n');
        s.push_str("      VMA           START       END     FLAGS FILE\n");
        let _ = writeln!(
            s,
            "{:<16x} {:>10x} {:>10x} {:>6x} {}",
            v.addr,
            v.start,
            v.end,
            v.flags,
            v.path.as_deref().unwrap_or("")
        );
    }
    match &r.elsewhere {
        Some(PageLocation::Swap { device, entry }) => {
            let dev = device.clone().unwrap_or_else(|| format!("(swap type {})", entry.kind));
            let _ = writeln!(s, "\nSWAP: {dev}  OFFSET: {}", entry.offset);
        }
        Some(PageLocation::File { path, offset }) => {
            let _ = writeln!(s, "\nFILE: {path}  OFFSET: {offset:x}");
        }
        _ => {}
    }
    if let Some(page) = &r.page {
        s.push('\n');
        s.push_str(PAGE_HEADER);
        page_row(s, page);
    }
}

/// One `struct page` line under [`PAGE_HEADER`], as crash's memory map prints it.
pub(crate) fn page_row(s: &mut String, page: &PageInfo) {
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

/// crash's PTE / PHYSICAL / FLAGS table, columns sized to the values.
fn pte_table(s: &mut String, entry: u64, frame: u64, flags: &[&str]) {
    let pte = format!("{entry:x}");
    let phys = format!("{frame:x}");
    let pte_width = pte.len().max(3);
    let phys_width = phys.len().max(8);
    let _ = writeln!(s, "{}  {}  FLAGS", centered("PTE", pte_width, false), centered("PHYSICAL", phys_width, false));
    let _ = writeln!(
        s,
        "{}  {}  ({})",
        centered(&pte, pte_width, true),
        centered(&phys, phys_width, true),
        flags.join("|")
    );
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
    use super::{centered, pte_table};

    #[test]
    fn centring_matches_crash_columns() {
        assert_eq!(centered("PTE", 16, false), "      PTE       ");
        assert_eq!(centered("1000000", 8, true), " 1000000");
    }

    #[test]
    fn pte_table_sizes_columns_to_values() {
        let mut s = String::new();
        pte_table(&mut s, 0x3ea71025, 0x3ea71000, &["PRESENT", "USER", "ACCESSED"]);
        assert_eq!(s, "  PTE     PHYSICAL  FLAGS\n3ea71025  3ea71000  (PRESENT|USER|ACCESSED)\n");
    }
}
