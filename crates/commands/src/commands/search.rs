//! `search`: find values or strings in memory, scanning the dump's pages
//! in parallel (all of RAM through the direct map by default).

use krash_core::{Error, PhysicalMemory, Result, VirtualMemory};
use rayon::prelude::*;
use serde::Serialize;

use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "search",
    aliases: &[],
    summary: "search memory",
    synopsis: "search [-s start] [-e end | -l length] [-m mask] [-k | -p] [-w | -h] [-c] value ...",
    details: "  value      hexadecimal value(s) to find (strings with -c)\n\
              \x20 -k         kernel memory: all RAM through the direct map (default)\n\
              \x20 -p         physical memory; addresses shown are physical\n\
              \x20 -s start   start of a kernel virtual range (address or symbol)\n\
              \x20 -e end     end of that range; -l length  its length in bytes\n\
              \x20 -m mask    ignore the bits set in mask when comparing\n\
              \x20 -w / -h    search 32-bit / 16-bit values instead of 64-bit ones\n\
              \x20 -c         the values are strings\n\
              Pages missing from the dump are skipped; the scan runs on every core.",
    run,
};

/// One match.
#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub addr: u64,
    /// The value found (the string for -c).
    pub text: String,
}

/// What `search` found.
#[derive(Debug, Clone, Serialize)]
pub struct SearchOutput {
    pub hits: Vec<SearchHit>,
    /// Unit width in hex digits for value display.
    pub width: usize,
}

const PAGE: u64 = 4096;
/// Characters shown from each string match.
const STRING_WINDOW: usize = 56;
/// Pages handed to one worker at a time.
const PAGES_PER_TASK: u64 = 256;
/// Most hits reported (a search for 0 would otherwise fill memory).
const MAX_HITS: usize = 1_000_000;

enum Needle {
    Value { value: u64, mask: u64, size: usize },
    Bytes(Vec<u8>),
}

impl Needle {
    /// Offsets in `page` that match.
    fn scan(&self, page: &[u8], out: &mut Vec<(usize, String)>) {
        match self {
            Needle::Value { value, mask, size } => {
                for (i, chunk) in page.chunks_exact(*size).enumerate() {
                    let mut b = [0u8; 8];
                    b[..*size].copy_from_slice(chunk);
                    let v = u64::from_le_bytes(b);
                    if v & !mask == value & !mask {
                        // crash ends value hits with a space.
                        out.push((i * size, format!("{v:x} ")));
                    }
                }
            }
            Needle::Bytes(s) => {
                if s.is_empty() || s.len() > page.len() {
                    return;
                }
                for i in 0..=page.len() - s.len() {
                    if page[i..].starts_with(s) {
                        // crash shows a fixed window from the match, dots for
                        // unprintable bytes.
                        let window: String = page[i..]
                            .iter()
                            .take(STRING_WINDOW)
                            .map(|&c| if (0x20..0x7f).contains(&c) { c as char } else { '.' })
                            .collect();
                        out.push((i, window));
                    }
                }
            }
        }
    }
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("search", args, "s:e:l:m:kpwhcuK")?;
    let k = &session.kernel;
    if p.has('u') {
        return Err(Error::Unsupported("search -u (user memory) is not implemented yet".into()));
    }
    let size = if p.has('w') {
        4
    } else if p.has('h') {
        2
    } else {
        8
    };
    let mask = match p.value('m') {
        Some(m) => crate::parse_hex(m).ok_or_else(|| Error::Usage(format!("search: invalid mask: {m}")))?,
        None => 0,
    };
    if p.args.is_empty() {
        return Err(Error::Usage(format!("usage: {}", SPEC.synopsis)));
    }
    let mut needles = Vec::new();
    for a in &p.args {
        if p.has('c') {
            needles.push(Needle::Bytes(a.trim_matches('"').as_bytes().to_vec()));
        } else {
            let v = crate::parse_hex(a).ok_or_else(|| Error::Usage(format!("search: invalid value: {a}")))?;
            needles.push(Needle::Value { value: v, mask, size });
        }
    }
    let mut hits: Vec<SearchHit> = if let Some(start) = p.value('s') {
        let start = crate::address::resolve_address(k, start)?;
        let end = match (p.value('e'), p.value('l')) {
            (Some(e), _) => crate::address::resolve_address(k, e)?,
            (None, Some(l)) => start.saturating_add(crate::address::parse_number(l).ok_or_else(|| Error::Usage(format!("search: invalid length: {l}")))?),
            (None, None) => return Err(Error::Usage("search -s needs -e end or -l length".into())),
        };
        let mem: &dyn VirtualMemory = k.memory();
        scan_pages(start, end, &needles, |addr, buf| mem.read_virt(addr, buf).is_ok())
    } else {
        let dump = k.dump();
        let physical = p.has('p');
        let mut all = Vec::new();
        for r in dump.phys_ranges() {
            let found = scan_pages(r.start, r.end, &needles, |addr, buf| dump.read_phys(addr, buf).is_ok());
            all.extend(found.into_iter().map(|h| SearchHit {
                addr: if physical { h.addr } else { k.memory().phys_to_virt(h.addr) },
                text: h.text,
            }));
            if all.len() >= MAX_HITS {
                break;
            }
        }
        if !physical {
            // The kernel image and modules are mapped again outside the
            // direct map; crash reports hits at those addresses too.
            let mem: &dyn VirtualMemory = k.memory();
            let mut ranges = Vec::new();
            if let (Ok(text), Ok(end)) = (k.symbol_addr("_text"), k.symbol_addr("_end")) {
                ranges.push((text, end));
            }
            if let Ok(modules) = k.modules() {
                ranges.extend(modules.iter().map(|m| (m.base, m.base.saturating_add(m.size))));
            }
            for (start, end) in ranges {
                all.extend(scan_pages(start, end, &needles, |addr, buf| mem.read_virt(addr, buf).is_ok()));
            }
        }
        all.sort_by_key(|h| h.addr);
        all
    };
    hits.truncate(MAX_HITS);
    Ok(Output::Search(SearchOutput { hits, width: size * 2 }))
}

/// Scans `[start, end)` page by page in parallel; `read` fills a page and
/// says whether it could.
fn scan_pages(start: u64, end: u64, needles: &[Needle], read: impl Fn(u64, &mut [u8]) -> bool + Sync) -> Vec<SearchHit> {
    let first = start / PAGE;
    let last = end.div_ceil(PAGE);
    let tasks: Vec<u64> = (first..last).step_by(PAGES_PER_TASK as usize).collect();
    let mut hits: Vec<SearchHit> = tasks
        .par_iter()
        .flat_map_iter(|&task_first| {
            let mut found = Vec::new();
            let mut page = vec![0u8; PAGE as usize];
            let mut offsets = Vec::new();
            for pfn in task_first..(task_first + PAGES_PER_TASK).min(last) {
                let base = pfn * PAGE;
                if !read(base, &mut page) {
                    continue;
                }
                for n in needles {
                    offsets.clear();
                    n.scan(&page, &mut offsets);
                    for (off, text) in offsets.drain(..) {
                        let addr = base + off as u64;
                        if addr >= start && addr < end {
                            found.push(SearchHit { addr, text });
                        }
                    }
                }
            }
            found
        })
        .collect();
    hits.sort_by_key(|h| h.addr);
    hits
}
