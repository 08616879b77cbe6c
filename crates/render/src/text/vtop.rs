//! crash's `vtop` walk layout and the `ptov`/`btop`/`ptob` one-liners.

use std::fmt::Write;

use krash_arch::paging::Level;
use krash_arch::Machine;
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
                pte_table(&mut s, e.entry, e.frame, &e.flags);
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
    if r.machine == Machine::Aarch64 {
        // crash's arm64 walk: the table walked, then each entry at its
        // kernel virtual address.
        let _ = writeln!(s, "PAGE DIRECTORY: {:x}", r.pgd_virt);
        for (step, virt) in r.steps.iter().zip(&r.entry_virt) {
            let _ = writeln!(s, "   {}: {:x} => {:x}", step.level.name(), virt, step.entry.0);
        }
    } else {
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
    }
    if let (Some(size), Some(last), Some(p)) = (r.page_size, &r.last_entry, r.paddr) {
        let frame = p & !size.wrapping_sub(1);
        // A block mapped above the last level is labelled with its size.
        let block = r.steps.last().is_some_and(|l| l.level != Level::Pte);
        match section_size(size) {
            Some(label) if block => {
                let _ = writeln!(s, "  PAGE: {frame:x}  ({label})");
            }
            _ => {
                let _ = writeln!(s, "  PAGE: {frame:x}");
            }
        }
        s.push('\n');
        pte_table(s, last.entry, frame, &last.flags);
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

/// crash's label of a block mapping's size ("2MB", "1GB", "512MB" with
/// 64 KiB pages, "32MB" with 16 KiB pages).
fn section_size(size: u64) -> Option<String> {
    const MB: u64 = 1 << 20;
    match size {
        s if s >= 1 << 30 && s % (1 << 30) == 0 => Some(format!("{}GB", s >> 30)),
        s if s >= MB && s % MB == 0 => Some(format!("{}MB", s >> 20)),
        _ => None,
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
    use super::{centered, pte_table, Machine, VtopOutput};

    #[test]
    fn an_arm64_walk_shows_each_entry_at_its_virtual_address() {
        use krash_arch::paging::{Level, PageTableEntry, TranslateStep};
        use krash_commands::output::{DecodedEntry, VtopResult};
        let step = |level, entry_paddr, entry| TranslateStep { level, entry_paddr, entry: PageTableEntry(entry) };
        let r = VtopResult {
            vaddr: 0xffff_0000_0100_0000,
            paddr: Some(0x4100_0000),
            pgd_virt: 0xffff_b1f8_3158_f000,
            steps: vec![
                step(Level::Pgd, 0x4158_f000, 0x4158_e003),
                step(Level::Pud, 0x4158_e008, 0x4158_d003),
                step(Level::Pmd, 0x4158_d040, 0x0060_0000_4100_0711),
            ],
            entry_virt: vec![0xffff_b1f8_3158_f000, 0xffff_0000_0158_e008, 0xffff_0000_0158_d040],
            last_entry: Some(DecodedEntry {
                entry: 0x0060_0000_4100_0711,
                present: true,
                frame: 0x4100_0000,
                flags: vec!["VALID", "SHARED", "AF", "PXN", "UXN"],
            }),
            machine: Machine::Aarch64,
            page_size: Some(0x20_0000),
            page: None,
            user: false,
            vma: None,
            elsewhere: None,
        };
        assert_eq!(
            super::render(&VtopOutput::Vtop(vec![r])),
            "VIRTUAL           PHYSICAL        \n\
             ffff000001000000  41000000        \n\
             \n\
             PAGE DIRECTORY: ffffb1f83158f000\n\
             \x20  PGD: ffffb1f83158f000 => 4158e003\n\
             \x20  PUD: ffff00000158e008 => 4158d003\n\
             \x20  PMD: ffff00000158d040 => 60000041000711\n\
             \x20 PAGE: 41000000  (2MB)\n\
             \n\
             \x20    PTE        PHYSICAL  FLAGS\n\
             60000041000711  41000000  (VALID|SHARED|AF|PXN|UXN)\n"
        );
    }

    #[test]
    fn block_sizes_are_labelled_as_crash_does() {
        assert_eq!(super::section_size(0x20_0000).as_deref(), Some("2MB"));
        assert_eq!(super::section_size(0x4000_0000).as_deref(), Some("1GB"));
        assert_eq!(super::section_size(0x2000_0000).as_deref(), Some("512MB"));
        assert_eq!(super::section_size(0x200_0000).as_deref(), Some("32MB"));
        assert_eq!(super::section_size(0x1000), None);
    }

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
