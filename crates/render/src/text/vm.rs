//! crash's `vm` and `files` layouts.

use std::fmt::Write;

use krash_commands::output::{FilesOutput, PageCache, PageLocation, VmOutput, Vma, VmaPages};

use super::vtop::{page_row, PAGE_HEADER};

use super::task::header;

const VMA_HEADER: &str = "      VMA           START       END     FLAGS FILE\n";
const FILES_HEADER: &str = " FD       FILE            DENTRY           INODE       TYPE PATH\n";
const FILES_PAGES_HEADER: &str = " FD      INODE          I_MAPPING     NRPAGES TYPE PATH\n";

/// `text` padded to `width`, an odd spare column going right (crash's CENTER|LJUST).
fn centered(text: &str, width: usize) -> String {
    let pad = width.saturating_sub(text.len());
    format!("{}{}{}", " ".repeat(pad / 2), text, " ".repeat(pad - pad / 2))
}

pub(crate) fn render_vm(out: &VmOutput) -> String {
    let mut s = String::new();
    if let Some(f) = &out.flags {
        let _ = writeln!(s, "{:x}: ({})", f.flags, f.names.join("|"));
    }
    for e in &out.entries {
        let _ = writeln!(s, "{}", header(&e.header));
        if let Some(structs) = &e.structs {
            for st in structs {
                s.push_str(&super::struct_cmd::render(st));
            }
            continue;
        }
        let _ = writeln!(
            s,
            "{}  {}  {}  {}",
            centered("MM", 16),
            centered("PGD", 16),
            centered("RSS", 6),
            centered("TOTAL_VM", 8)
        );
        let _ = writeln!(
            s,
            "{}  {}  {}  {}",
            centered(&format!("{:x}", e.mm), 16),
            centered(&format!("{:x}", e.pgd), 16),
            centered(&format!("{}k", e.rss_kb), 6),
            centered(&format!("{}k", e.total_vm_kb), 8)
        );
        if e.mm == 0 {
            continue;
        }
        match &e.pages {
            // crash repeats the VMA header before each area's page list.
            Some(pages) => {
                for (v, area) in e.vmas.iter().zip(pages) {
                    s.push_str(VMA_HEADER);
                    vma_row(&mut s, v);
                    area_pages(&mut s, area);
                }
            }
            None => {
                s.push_str(VMA_HEADER);
                for v in &e.vmas {
                    vma_row(&mut s, v);
                }
            }
        }
        if let Some(why) = &e.broken {
            let _ = writeln!(s, "vm: VMA walk stopped: {why}");
        }
    }
    s
}

/// One line of crash's VMA table.
pub(crate) fn vma_row(s: &mut String, v: &Vma) {
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

/// `vm -p`: each page of one area and where it is.
fn area_pages(s: &mut String, area: &VmaPages) {
    let _ = writeln!(s, "{:<10}  {:<8}", "VIRTUAL", "PHYSICAL");
    for p in &area.pages {
        let vaddr = format!("{:<10x}", p.vaddr);
        let _ = match &p.location {
            PageLocation::Mapped { phys, .. } => writeln!(s, "{vaddr}  {phys:>8x}"),
            PageLocation::Swap { device, entry } => {
                let dev = device.clone().unwrap_or_else(|| format!("(swap type {})", entry.kind));
                writeln!(s, "{vaddr}  SWAP: {dev}  OFFSET: {}", entry.offset)
            }
            PageLocation::File { path, offset } => writeln!(s, "{vaddr}  FILE: {path}  OFFSET: {offset:x}"),
            PageLocation::NotMapped => writeln!(s, "{vaddr}  (not mapped)"),
        };
    }
    if area.truncated {
        let _ = writeln!(s, "vm: page list cut short after {} pages", area.pages.len());
    }
}

pub(crate) fn render_files(out: &FilesOutput) -> String {
    let mut s = String::new();
    if let Some(d) = &out.dentry {
        let _ =
            writeln!(s, "{} {} {} TYPE PATH", centered("DENTRY", 16), centered("INODE", 16), centered("SUPERBLK", 16));
        let _ = writeln!(
            s,
            "{:>16x} {:>16x} {} {:<4} {}",
            d.dentry,
            d.inode,
            centered(&format!("{:x}", d.superblock), 16),
            d.kind.as_deref().unwrap_or("N/A"),
            d.path
        );
    }
    for e in &out.entries {
        let _ = writeln!(s, "{}", header(&e.header));
        let f = &e.files;
        if let (Some(root), Some(cwd)) = (&f.root, &f.cwd) {
            let _ = writeln!(s, "ROOT: {root}    CWD: {cwd}");
        }
        if f.files.is_empty() {
            s.push_str("No open files\n");
            continue;
        }
        if let Some(counts) = &e.page_counts {
            s.push_str(FILES_PAGES_HEADER);
            for (o, c) in f.files.iter().zip(counts) {
                let _ = writeln!(
                    s,
                    "{:>3} {:<16x} {:<16x} {:>7} {:<4} {}",
                    o.fd, o.inode, c.mapping, c.nrpages, o.kind, o.path
                );
            }
            continue;
        }
        s.push_str(FILES_HEADER);
        for o in &f.files {
            let _ =
                writeln!(s, "{:>3} {:<16x} {:<16x} {:<16x} {:<4} {}", o.fd, o.file, o.dentry, o.inode, o.kind, o.path);
        }
    }
    if let Some(c) = &out.page_cache {
        page_cache(&mut s, c);
    }
    s
}

/// `files -p`: the inode's page count, then its cached pages.
fn page_cache(s: &mut String, c: &PageCache) {
    let _ = writeln!(s, "{}  NRPAGES", centered("INODE", 16));
    let _ = writeln!(s, "{:>16x}  {:>7}\n", c.inode, c.nrpages);
    if !c.pages.is_empty() {
        s.push_str(PAGE_HEADER);
        for page in &c.pages {
            page_row(s, page);
        }
    }
    if let Some(why) = &c.problem {
        let _ = writeln!(s, "files: {why}");
    }
}
