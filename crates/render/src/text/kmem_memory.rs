//! crash's layouts for `kmem -i`, `-f`/`-F`, `-V`, `-z`, `-n`, `-o`, `-h`,
//! `-g`, `-m`.

use std::fmt::Write;

use krash_commands::output::kmem_memory::{
    Counter, CpuOffset, FreeAreas, FreeSearch, HugePool, MemInfo, MemoryMap, PageFlagDecode, PageMembers, VmStats,
    ZoneRow, ZoneStat,
};

const ZONE_HEADER: &str = "ZONE  NAME        SIZE    FREE      MEM_MAP       START_PADDR  START_MAPNR\n";
const AREA_HEADER: &str = "AREA    SIZE  FREE_AREA_STRUCT\n";
const AREA_COUNT_HEADER: &str = "AREA    SIZE  FREE_AREA_STRUCT  BLOCKS  PAGES\n";

/// How crash centres a value in a column: the odd space goes right, or
/// left when the column is right-justified.
fn center(text: &str, width: usize, lean_right: bool) -> String {
    let extra = width.saturating_sub(text.len());
    let (left, right) =
        if extra % 2 == 1 && lean_right { (extra / 2 + 1, extra / 2) } else { (extra / 2, extra - extra / 2) };
    format!("{}{text}{}", " ".repeat(left), " ".repeat(right))
}

/// A page count as crash sizes it: "0", "12 KB", "41.4 MB", "1 GB".
fn pages_to_size(pages: u64, page_size: u64) -> String {
    bytes_to_size(pages as f64 * page_size as f64)
}

/// A byte count as crash sizes it.
fn bytes_to_size(bytes: f64) -> String {
    if bytes == 0.0 {
        return "0".into();
    }
    let (value, unit) = if bytes >= (1u64 << 30) as f64 {
        (bytes / (1u64 << 30) as f64, "GB")
    } else if bytes >= (1u64 << 20) as f64 {
        (bytes / (1u64 << 20) as f64, "MB")
    } else {
        return format!("{} KB", (bytes / 1024.0) as u64);
    };
    let s = format!("{value:.1} {unit}");
    s.replace(".0 ", " ")
}

fn percent(part: u64, whole: u64) -> u64 {
    part.saturating_mul(100).checked_div(whole).unwrap_or(0)
}

pub(crate) fn meminfo(s: &mut String, m: &MemInfo) {
    let pages_to_size = |pages| pages_to_size(pages, m.page_size);
    s.push_str("                 PAGES        TOTAL      PERCENTAGE\n");
    let total_line = |s: &mut String, name: &str, pages: u64| {
        let _ = writeln!(s, "{name:>13}  {pages:>7}  {:>11}         ----", pages_to_size(pages));
    };
    let part_line = |s: &mut String, name: &str, pages: u64, of: u64, of_name: &str| {
        let _ = writeln!(
            s,
            "{name:>13}  {pages:>7}  {:>11}  {:>3}% of {of_name}",
            pages_to_size(pages),
            percent(pages, of)
        );
    };
    total_line(s, "TOTAL MEM", m.total);
    part_line(s, "FREE", m.free, m.total, "TOTAL MEM");
    part_line(s, "USED", m.total.saturating_sub(m.free), m.total, "TOTAL MEM");
    part_line(s, "BUFFERS", m.buffers, m.total, "TOTAL MEM");
    part_line(s, "CACHED", m.cached, m.total, "TOTAL MEM");
    part_line(s, "SLAB", m.slab, m.total, "TOTAL MEM");
    s.push('\n');
    total_line(s, "TOTAL HUGE", m.huge_total);
    part_line(s, "HUGE FREE", m.huge_free, m.huge_total, "TOTAL HUGE");
    s.push('\n');
    total_line(s, "TOTAL SWAP", m.swap_total);
    part_line(s, "SWAP USED", m.swap_used, m.swap_total, "TOTAL SWAP");
    part_line(s, "SWAP FREE", m.swap_total.saturating_sub(m.swap_used), m.swap_total, "TOTAL SWAP");
    s.push('\n');
    total_line(s, "COMMIT LIMIT", m.commit_limit);
    part_line(s, "COMMITTED", m.committed, m.commit_limit, "TOTAL LIMIT");
}

fn zone_line(s: &mut String, z: &ZoneRow) {
    let _ = writeln!(
        s,
        "{:>3}   {:<9} {:>6}  {:>6}  {}  {}  {}",
        z.index,
        z.name,
        z.size,
        z.free,
        center(&format!("{:x}", z.mem_map), 16, false),
        center(&format!("{:x}", z.start_paddr), 11, true),
        center(&z.start_mapnr.to_string(), 11, true),
    );
}

fn block_size(order: u32, page_size: u64) -> String {
    format!("{}k", page_size.checked_shl(order).unwrap_or(0) / 1024)
}

pub(crate) fn free_areas(s: &mut String, f: &FreeAreas) {
    let mut last_node = None;
    for (i, z) in f.zones.iter().enumerate() {
        if f.multi_node && last_node != Some(z.row.node) {
            if last_node.is_some() {
                let _ = write!(s, "\n{}\n", "-".repeat(74));
            }
            let _ = write!(s, "{}NODE\n {:>2}\n", if last_node.is_some() { "\n" } else { "" }, z.row.node);
            last_node = Some(z.row.node);
        }
        if z.row.index > 0 || i > 0 && !f.multi_node {
            s.push('\n');
        }
        s.push_str(ZONE_HEADER);
        zone_line(s, &z.row);
        if z.lists.is_empty() {
            continue;
        }
        if !f.verbose {
            s.push_str(AREA_COUNT_HEADER);
        }
        for l in &z.lists {
            if f.verbose {
                s.push_str(AREA_HEADER);
            }
            let _ = write!(s, "{:>3}  {:>7}  {:x}  ", l.order, block_size(l.order, f.page_size), l.addr);
            if f.verbose {
                s.push('\n');
                for b in &l.blocks {
                    let _ = writeln!(s, "{b:x}");
                }
            } else {
                let _ = writeln!(s, "{:>6} {:>6}", l.blocks.len(), l.pages());
            }
        }
    }
    let _ = write!(s, "\nnr_free_pages: {}  ", f.nr_free_pages);
    if f.nr_free_pages == f.found {
        s.push_str("(verified)\n");
    } else {
        let _ = writeln!(s, "(found {})", f.found);
    }
}

pub(crate) fn free_search(s: &mut String, f: &FreeSearch) {
    let Some(hit) = &f.hit else {
        let _ = writeln!(s, "{:x}: not found in the free lists", f.addr);
        return;
    };
    s.push_str(ZONE_HEADER);
    zone_line(s, &hit.row);
    s.push_str(AREA_HEADER);
    let _ = writeln!(s, "{:>3}  {:>7}  {:x}  ", hit.order, block_size(hit.order, f.page_size), hit.list);
    if hit.page_index == 0 {
        let _ = writeln!(s, "{:x}  ", hit.block);
    } else {
        let nth = hit.page_index + 1;
        let _ = writeln!(
            s,
            "{:x}  ({:x} is {nth}{} of {} pages)",
            hit.block,
            f.addr,
            ordinal_suffix(nth),
            1u64 << hit.order
        );
    }
}

fn ordinal_suffix(n: u64) -> &'static str {
    match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

fn counters(s: &mut String, list: &[Counter], width: usize) {
    for c in list {
        let _ = writeln!(s, "{:>width$}: {}", c.name, c.value);
    }
}

pub(crate) fn vm_stats(s: &mut String, v: &VmStats) {
    let width = v.zone.iter().chain(&v.node).chain(&v.numa).map(|c| c.name.len()).max().unwrap_or(0);
    s.push_str("  VM_ZONE_STAT:\n");
    counters(s, &v.zone, width);
    s.push_str("\n  VM_NODE_STAT:\n");
    counters(s, &v.node, width);
    if !v.numa.is_empty() {
        s.push_str("\n  VM_NUMA_STAT:\n");
        counters(s, &v.numa, width);
    }
    if !v.events.is_empty() {
        s.push_str("\n  VM_EVENT_STATES:\n");
        let width = v.events.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for c in &v.events {
            let _ = writeln!(s, "{:>width$}: {}", c.name, c.value as u64);
        }
    }
}

pub(crate) fn zones(s: &mut String, zones: &[ZoneStat]) {
    for z in zones {
        let zone = &z.zone;
        let _ =
            writeln!(s, "NODE: {}  ZONE: {}  ADDR: {:x}  NAME: \"{}\"", zone.node, zone.index, zone.addr, zone.name);
        if zone.spanned_pages == 0 {
            s.push_str("  [unpopulated]\n\n");
            continue;
        }
        let _ = write!(s, "  SIZE: {}", zone.spanned_pages);
        if zone.present_pages < zone.spanned_pages {
            let _ = write!(s, "  PRESENT: {}", zone.present_pages);
        }
        let [min, low, high] = zone.watermarks;
        let _ = writeln!(s, "  MIN/LOW/HIGH: {min}/{low}/{high}");
        s.push_str("  VM_STAT:\n");
        let width = z.vm_stat.iter().map(|c| c.name.len()).max().unwrap_or(0);
        counters(s, &z.vm_stat, width);
        s.push_str("\n\n");
    }
}

pub(crate) fn memory_map(s: &mut String, m: &MemoryMap) {
    for (n, mem_map) in m.nodes.iter().zip(&m.node_mem_maps) {
        let _ = writeln!(
            s,
            "NODE  {}  {}  {}  {}",
            center("SIZE", 8, false),
            center("PGLIST_DATA", 16, false),
            center("BOOTMEM_DATA", 16, false),
            center("NODE_ZONES", 16, false)
        );
        for (i, z) in n.zones.iter().enumerate() {
            if i == 0 {
                let _ = writeln!(
                    s,
                    " {:>2}   {}  {}  {}  {:x}",
                    n.id,
                    center(&n.spanned_pages.to_string(), 8, false),
                    center(&format!("{:x}", n.pgdat), 16, false),
                    center("----", 16, false),
                    z.addr
                );
            } else {
                let _ = writeln!(s, "{}{:x}", " ".repeat(52), z.addr);
            }
        }
        let _ = writeln!(s, "{}     START_PADDR    START_MAPNR", center("MEM_MAP", 16, false));
        let _ = writeln!(
            s,
            "{:x}  {}  {}",
            mem_map,
            center(&format!("{:x}", n.start_pfn.wrapping_mul(m.page_size)), 16, true),
            center(&n.start_pfn.to_string(), 11, false)
        );
    }
    let _ = writeln!(s, "\nZONE  NAME         SIZE  {}  START_PADDR  START_MAPNR", center("MEM_MAP", 16, true));
    for z in &m.zones {
        let _ = writeln!(
            s,
            " {:>2}   {:<9} {:>7}  {:>16x}  {:>11x}  {:>11}",
            z.index, z.name, z.size, z.mem_map, z.start_paddr, z.start_pfn
        );
    }
    let _ = writeln!(s, "\n{}\n", "-".repeat(67));
    s.push_str("NR      SECTION        CODED_MEM_MAP        MEM_MAP       STATE PFN\n");
    for sec in &m.sections {
        let _ = writeln!(
            s,
            "{:>2}  {:x}  {:x}  {:x}  {:<4}  {:<16}",
            sec.nr, sec.addr, sec.coded_mem_map, sec.mem_map, sec.state, sec.start_pfn
        );
    }
    if m.blocks.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\n{} {}   {}   NODE  STATE   START_SECTION_NO",
        center("MEM_BLOCK", 16, false),
        center("NAME", 10, false),
        center("PHYSICAL RANGE", 18, false)
    );
    for b in &m.blocks {
        let _ = writeln!(
            s,
            " {:<16x} {} {:>8x} - {:>8x} {}  {:<7} {:<12}",
            b.addr,
            center(&b.name, 12, false),
            b.start,
            b.end,
            center(&b.node.to_string(), 4, false),
            b.state,
            b.start_section
        );
    }
}

pub(crate) fn cpu_offsets(s: &mut String, cpus: &[CpuOffset]) {
    s.push_str("PER-CPU OFFSET VALUES:\n");
    for c in cpus {
        let _ =
            writeln!(s, "{:>7}: {:x}{}", format!("CPU {}", c.cpu), c.offset, if c.online { "" } else { " [OFFLINE]" });
    }
}

pub(crate) fn huge_pools(s: &mut String, pools: &[HugePool]) {
    let _ = writeln!(s, "{}   SIZE    FREE   TOTAL  NAME", center("HSTATE", 16, false));
    for p in pools {
        let size = bytes_to_size(p.size as f64).replacen(' ', "", 1);
        let _ = writeln!(s, "{:x}  {:>5}  {:>6}  {:>6}  {}", p.hstate, size, p.free, p.total, p.name);
    }
}

pub(crate) fn page_flags(s: &mut String, d: &PageFlagDecode) {
    let indent = if d.flags != 0 { "  " } else { "" };
    if d.flags != 0 {
        let _ = writeln!(s, "FLAGS: {:x}", d.flags);
    }
    let _ = writeln!(s, "{indent}{:<w$} BIT  VALUE", "PAGE-FLAG", w = d.name_width);
    for b in &d.bits {
        let _ = writeln!(
            s,
            "{indent}{:<w$}  {:>2}  {:0digits$x}",
            b.name,
            b.bit,
            1u64 << b.bit,
            w = d.name_width,
            digits = d.value_digits
        );
    }
    if d.flags != 0 && d.bits.is_empty() {
        s.push_str("  (none found)\n");
    }
}

pub(crate) fn page_members(s: &mut String, members: &[String], pages: &[PageMembers]) {
    let _ = writeln!(s, "{}  {}", center("PAGE", 16, false), members.join("  "));
    for p in pages {
        let _ = write!(s, "{:x}  ", p.page);
        for words in &p.values {
            let text: Vec<String> = words.iter().map(|w| format!("{w:016x}")).collect();
            let _ = write!(s, "{}  ", text.join(","));
        }
        s.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centering_puts_the_odd_space_right_unless_right_justified() {
        assert_eq!(center("1000", 11, true), "    1000   ");
        assert_eq!(center("1000", 11, false), "   1000    ");
        assert_eq!(center("1000000", 11, true), "  1000000  ");
        assert_eq!(center("too long for it", 4, false), "too long for it");
    }

    #[test]
    fn page_counts_are_sized_like_crash() {
        assert_eq!(pages_to_size(0, 4096), "0");
        assert_eq!(pages_to_size(3, 4096), "12 KB");
        assert_eq!(pages_to_size(183553, 4096), "717 MB");
        assert_eq!(pages_to_size(10610, 4096), "41.4 MB");
        assert_eq!(pages_to_size(512, 4096), "2 MB");
        assert_eq!(pages_to_size(1 << 18, 4096), "1 GB");
        // 64 KiB pages (arm64): a page count is 16 times the memory.
        assert_eq!(pages_to_size(3, 65536), "192 KB");
        assert_eq!(pages_to_size(16384, 65536), "1 GB");
        assert_eq!(block_size(0, 65536), "64k");
        assert_eq!(block_size(10, 4096), "4096k");
    }

    #[test]
    fn ordinals() {
        let words: Vec<String> =
            [1u64, 2, 3, 4, 11, 12, 13, 21, 945].iter().map(|n| format!("{n}{}", ordinal_suffix(*n))).collect();
        assert_eq!(words, ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "945th"]);
    }
}
