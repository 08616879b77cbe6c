//! `search`: find values or strings in kernel virtual, user virtual or
//! physical memory, or in task stacks; the kernel model chooses the
//! memory (krash_linux::mm::search) and scans it in parallel.

use krash_arch::MappedExtent;
use krash_core::{Error, PhysicalMemory, Result, VirtualMemory};
use krash_eval::expr::{evaluate, KernelContext};
use krash_linux::mm::search::SearchExt;
use krash_linux::mm::search::{clip, scan, KernelSpace, Needle, Regions};
use krash_linux::sched::task::TaskExt;
use krash_program::Kernel;

use crate::header::TaskHeader;
use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "search",
    aliases: &[],
    summary: "search memory",
    synopsis: "search [-s start] [ -[kKV] | -u | -p | -t | -T ] [-e end | -l length] [-m mask]\n\
              \x20        [-x count] -[cwh] [value | (expression) | symbol | string] ...",
    details: "  value      hexadecimal value to find; a symbol or (expression) stands for its value\n\
              \x20            and is named after each match\n\
              \x20 -k         kernel virtual memory (default): the direct map, vmalloc and the\n\
              \x20            virtual mem_map, the kernel image and modules; memory mapped at two\n\
              \x20            addresses (a vmalloc'ed stack is also in the direct map) is reported at both\n\
              \x20 -K         as -k without vmalloc, mem_map and module memory\n\
              \x20 -V         as -k without the direct map and the kernel image\n\
              \x20 -u         the current context's user memory (its VMAs' mapped pages); with -s,\n\
              \x20            start is a user address\n\
              \x20 -p         physical memory; addresses are physical\n\
              \x20 -t         every task's kernel stack, each task's matches under its header\n\
              \x20 -T         as -t, for the tasks active on a CPU only\n\
              \x20 -s start   start here (address or symbol) instead of at the space's start\n\
              \x20 -e end     stop before this address or symbol; -l length  search length bytes\n\
              \x20 -m mask    ignore the bits set in mask when comparing\n\
              \x20 -w / -h    search 32-bit / 16-bit values instead of 64-bit ones\n\
              \x20 -c         the arguments are strings (quote those with spaces)\n\
              \x20 -x count   show count units of memory before and after each value found\n\
              Pages missing from the dump are skipped; the scan runs on every core and shows\n\
              a progress bar on a terminal.",
    run,
};

/// What was found at a match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A value; `label` is the symbol or expression searched for, when one was.
    Value { value: u64, label: Option<String> },
    /// `-c`: the string and the text around it.
    String { window: String },
}

/// One match.
#[derive(Debug, Clone)]
pub struct SearchHit {
    pub addr: u64,
    pub found: Found,
    /// With -x: the memory around the match, the match included.
    pub context: Vec<ContextLine>,
}

/// One unit of memory shown around a match (-x).
#[derive(Debug, Clone)]
pub struct ContextLine {
    pub addr: u64,
    pub value: u64,
    /// The unit's bytes, unprintable ones as dots.
    pub ascii: String,
    /// True for the unit that matched.
    pub is_match: bool,
}

/// The matches of one task's stack (-t), or of the whole search.
#[derive(Debug, Clone)]
pub struct SearchGroup {
    pub task: Option<TaskHeader>,
    pub hits: Vec<SearchHit>,
}

/// What `search` found.
#[derive(Debug, Clone)]
pub struct SearchOutput {
    pub groups: Vec<SearchGroup>,
    /// Unit width in hex digits for value display.
    pub width: usize,
    /// The start address given, rounded down to the unit size (crash says so).
    pub rounded_start: Option<u64>,
    /// True when the hit limit stopped the search.
    pub truncated: bool,
    /// `[start, end)` ranges searched only in part: their page tables could
    /// not be walked to the end.
    pub incomplete: Vec<(u64, u64)>,
}

/// Most hits reported (a search for 0 would otherwise fill memory).
const MAX_HITS: usize = 1_000_000;
/// Largest -x context.
const MAX_CONTEXT: u64 = 256;

/// Where the searched addresses live.
enum Space {
    Kernel(KernelSpace),
    User { pgd: u64, mm: u64 },
    Physical,
    Stacks { active_only: bool },
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("search", args, "s:e:l:m:x:kKVupTtwhc")?;
    let k = &session.kernel;
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
    let context = match p.value('x') {
        Some(x) if p.has('c') => return Err(Error::Usage(format!("search: -x {x} is not applicable with -c"))),
        Some(x) => crate::address::parse_number(x)
            .filter(|&n| n <= MAX_CONTEXT)
            .ok_or_else(|| Error::Usage(format!("search: invalid -x count: {x} (at most {MAX_CONTEXT})")))?,
        None => 0,
    };
    if p.args.is_empty() {
        return Err(Error::Usage(format!("usage: {}", SPEC.synopsis)));
    }
    let (needles, labels) = needles(k, &p.args, p.has('c'), size, mask)?;
    let space = space_of(session, &p)?;
    let mut rounded_start = None;
    let start = match p.value('s') {
        Some(s) => {
            let addr = match space {
                Space::Kernel(_) | Space::Stacks { .. } => crate::address::resolve_address(k, s)?,
                _ => crate::parse_hex(s).ok_or_else(|| Error::Usage(format!("search: invalid start: {s}")))?,
            };
            let aligned = if p.has('c') { addr } else { addr & !(size as u64 - 1) };
            if aligned != addr {
                rounded_start = Some(aligned);
            }
            Some(aligned)
        }
        None => None,
    };
    let end = match (p.value('e'), p.value('l')) {
        (Some(e), _) => Some(match space {
            Space::Kernel(_) | Space::Stacks { .. } => crate::address::resolve_address(k, e)?,
            _ => crate::parse_hex(e).ok_or_else(|| Error::Usage(format!("search: invalid end: {e}")))?,
        }),
        (None, Some(l)) => {
            let len =
                crate::address::parse_number(l).ok_or_else(|| Error::Usage(format!("search: invalid length: {l}")))?;
            let from = start.ok_or_else(|| Error::Usage("search: -l needs -s start".into()))?;
            Some(from.saturating_add(len))
        }
        (None, None) => None,
    };
    let bounds = |regions: Vec<MappedExtent>| clip(&regions, start.unwrap_or(0), end.unwrap_or(u64::MAX));
    let progress = &crate::interrupt::Interruptible { inner: session.progress.as_ref(), interrupt: &session.interrupt };
    let mut groups = Vec::new();
    let mut truncated = false;
    let mut incomplete = Vec::new();
    match &space {
        Space::Stacks { active_only } => {
            let tasks: Vec<u64> = if *active_only {
                k.active_tasks()?.into_iter().map(|(_, t)| t).collect()
            } else {
                k.tasks()?.iter().map(|t| t.addr).collect()
            };
            for task in tasks {
                session.interrupt.check()?;
                let regions = bounds(k.stack_regions(task)?);
                let found = scan(
                    k.dump(),
                    k.memory().page_size(),
                    &regions,
                    &needles,
                    MAX_HITS,
                    &krash_program::progress::NoProgress,
                );
                if found.hits.is_empty() {
                    continue;
                }
                truncated |= found.truncated;
                let hits = found.hits.iter().map(|h| hit(k, &space, h, &labels, &needles, context)).collect();
                groups.push(SearchGroup { task: Some(TaskHeader::of(k.task_by_addr(task)?.as_ref())), hits });
            }
        }
        _ => {
            let regions = match &space {
                Space::Kernel(which) => k.kernel_regions(*which)?,
                Space::User { mm, .. } => k.user_regions(*mm)?,
                _ => Regions { extents: k.physical_regions(), incomplete: Vec::new() },
            };
            incomplete = regions.incomplete;
            let found = scan(k.dump(), k.memory().page_size(), &bounds(regions.extents), &needles, MAX_HITS, progress);
            session.interrupt.check()?;
            truncated = found.truncated;
            let hits = found.hits.iter().map(|h| hit(k, &space, h, &labels, &needles, context)).collect();
            groups.push(SearchGroup { task: None, hits });
        }
    }
    Ok(Output::Search(SearchOutput { groups, width: size * 2, rounded_start, truncated, incomplete }))
}

/// The needles for the arguments, and for each the name shown after its
/// matches (symbols and expressions).
fn needles(
    k: &Kernel,
    args: &[String],
    strings: bool,
    size: usize,
    mask: u64,
) -> Result<(Vec<Needle>, Vec<Option<String>>)> {
    let mut needles = Vec::new();
    let mut labels = Vec::new();
    for a in args {
        if strings {
            let s = a.trim_matches('"');
            if s.is_empty() {
                return Err(Error::Usage("search: empty string".into()));
            }
            needles.push(Needle::Bytes(s.as_bytes().to_vec()));
            labels.push(None);
            continue;
        }
        let (value, label) = if a.starts_with('(') {
            let ctx = KernelContext { kernel: k, cpu: None };
            let v = evaluate(&ctx, &ctx.parse(a)?)?.as_u64(k.type_arena(), k.memory())?;
            (v, Some(a.clone()))
        } else if let (Some(v), Err(_)) = (crate::parse_hex(a), k.symbol_addr(a)) {
            (v, None)
        } else {
            (crate::address::resolve_address(k, a)?, Some(a.clone()))
        };
        if size < 8 && value >> (size * 8) != 0 {
            return Err(Error::Usage(format!("search: value {value:x} does not fit in {size} bytes")));
        }
        needles.push(Needle::Value { value, mask, size });
        labels.push(label);
    }
    Ok((needles, labels))
}

/// The memory the options select.
fn space_of(session: &Session, p: &getopt::Parsed) -> Result<Space> {
    let k = &session.kernel;
    let chosen = ['k', 'K', 'V', 'u', 'p', 't', 'T'].iter().filter(|c| p.has(**c)).count();
    if chosen > 1 {
        return Err(Error::Usage("search: only one of -k, -K, -V, -u, -p, -t, -T may be given".into()));
    }
    Ok(if p.has('u') {
        let task = session.current_task.ok_or_else(|| Error::NotFound("search: no current task context".into()))?;
        let t = k.task_by_addr(task)?;
        if t.mm == 0 {
            return Err(Error::Usage(format!("search: current context (PID {}) has no user address space", t.pid)));
        }
        let pgd = k.virt_to_phys(k.read_field_u64(t.mm, "mm_struct", "pgd")?)?;
        Space::User { pgd, mm: t.mm }
    } else if p.has('p') {
        Space::Physical
    } else if p.has('t') || p.has('T') {
        Space::Stacks { active_only: p.has('T') }
    } else if p.has('K') {
        Space::Kernel(KernelSpace::Unity)
    } else if p.has('V') {
        Space::Kernel(KernelSpace::Mapped)
    } else {
        Space::Kernel(KernelSpace::All)
    })
}

fn hit(
    k: &Kernel,
    space: &Space,
    h: &krash_linux::mm::search::Hit,
    labels: &[Option<String>],
    needles: &[Needle],
    context: u64,
) -> SearchHit {
    let label = labels.get(h.needle).cloned().flatten();
    let found = match needles.get(h.needle) {
        Some(Needle::Bytes(_)) => Found::String { window: h.window.clone() },
        _ => Found::Value { value: h.value, label },
    };
    let size = match needles.get(h.needle) {
        Some(Needle::Value { size, .. }) => *size as u64,
        _ => 8,
    };
    let context = if context == 0 { Vec::new() } else { context_lines(k, space, h.addr, size, context) };
    SearchHit { addr: h.addr, found, context }
}

/// `count` units before and after `addr`, read from the searched space.
fn context_lines(k: &Kernel, space: &Space, addr: u64, size: u64, count: u64) -> Vec<ContextLine> {
    let first = addr.saturating_sub(count * size);
    let mut out = Vec::new();
    let mut at = first;
    while at <= addr.saturating_add(count * size) {
        let mut buf = vec![0u8; size as usize];
        let ok = match space {
            Space::Physical => k.dump().read_phys(at, &mut buf).is_ok(),
            Space::User { pgd, .. } => k.memory().read_user(*pgd, at, &mut buf).is_ok(),
            _ => k.memory().read_virt(at, &mut buf).is_ok(),
        };
        if ok {
            let mut b = [0u8; 8];
            b[..buf.len()].copy_from_slice(&buf);
            let ascii = buf.iter().map(|&c| if (0x20..0x7f).contains(&c) { c as char } else { '.' }).collect();
            out.push(ContextLine { addr: at, value: u64::from_le_bytes(b), ascii, is_match: at == addr });
        }
        at = match at.checked_add(size) {
            Some(a) => a,
            None => break,
        };
    }
    out
}
