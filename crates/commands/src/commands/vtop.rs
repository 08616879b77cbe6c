//! `vtop`, `ptov`, `btop`, `ptob`: address translation shown the way crash
//! shows it, with the page-table walk level by level.

use krash_arch::paging::TranslateStep;
use krash_core::{Error, Result};
use krash_linux::mm::page::PageExt;
use krash_linux::mm::page::PageInfo;
use krash_linux::mm::user_pages::PageLocation;
use krash_linux::mm::user_pages::UserPagesExt;
use krash_linux::mm::vma::Vma;
use krash_linux::mm::vma::VmaExt;
use krash_linux::sched::task::TaskExt;
use krash_program::Kernel;

use crate::{getopt, parse_hex, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "vtop",
    aliases: &[],
    summary: "virtual to physical",
    synopsis: "vtop [-c [pid | taskp]] [-u|-k] address ...",
    details: "  address  a virtual address (hex); kernel addresses walk the kernel page table\n\
              \x20         (init_top_pgt on x86-64, swapper_pg_dir on arm64), user addresses\n\
              \x20         the task's mm->pgd\n\
              \x20 -c pid | taskp  the task whose user page tables are walked (default: current)\n\
              \x20 -u       treat the address as a user virtual address\n\
              \x20 -k       treat the address as a kernel virtual address",
    run: run_vtop,
};

pub(crate) const PTOV_SPEC: CommandSpec = CommandSpec {
    name: "ptov",
    aliases: &[],
    summary: "physical to virtual",
    synopsis: "ptov address ...",
    details: "  address  a physical address (hex), shown with its direct-map virtual address",
    run: run_ptov,
};

pub(crate) const BTOP_SPEC: CommandSpec = CommandSpec {
    name: "btop",
    aliases: &[],
    summary: "bytes to page",
    synopsis: "btop address ...",
    details: "  address  a byte address (hex), shown with its page frame number",
    run: run_btop,
};

pub(crate) const PTOB_SPEC: CommandSpec = CommandSpec {
    name: "ptob",
    aliases: &[],
    summary: "page to bytes",
    synopsis: "ptob page_number ...",
    details: "  page_number  a page frame number (hex), shown with its byte address",
    run: run_ptob,
};

pub(crate) const PTE_SPEC: CommandSpec = CommandSpec {
    name: "pte",
    aliases: &[],
    summary: "translate a page table entry",
    synopsis: "pte contents ...",
    details: "  contents  a page-table entry value (hex), shown with the physical page it\n\
              \x20          maps and its flag names",
    run: run_pte,
};

/// One `vtop` translation: the answer, then how the walk got there.
#[derive(Debug, Clone)]
pub struct VtopResult {
    pub vaddr: u64,
    /// None when the address is not mapped.
    pub paddr: Option<u64>,
    /// Virtual address of the top-level table walked (crash's `PGD
    /// DIRECTORY` on x86-64, `PAGE DIRECTORY` on arm64).
    pub pgd_virt: u64,
    pub steps: Vec<TranslateStep>,
    /// The kernel virtual address of each step's entry (crash's arm64
    /// walk shows these: the top table's through the address it was
    /// walked from, the others through the direct map).
    pub entry_virt: Vec<u64>,
    /// The last entry's frame and flag names, decoded by the kernel's own
    /// page-table format, in crash's order.
    pub last_entry: Option<DecodedEntry>,
    /// Whose layout crash uses for the walk.
    pub machine: krash_arch::Machine,
    /// Size of the mapped page when the walk reached one (4 KiB, 2 MiB, 1 GiB).
    pub page_size: Option<u64>,
    /// The `struct page` of the physical page, when there is one.
    pub page: Option<PageInfo>,
    /// True for a walk of a task's user page tables.
    pub user: bool,
    /// For a user address, the task's VMA containing it.
    pub vma: Option<Vma>,
    /// For an unmapped user address: its swap slot or file offset, if any.
    pub elsewhere: Option<PageLocation>,
}

/// A page-table entry as the kernel's paging format reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedEntry {
    pub entry: u64,
    pub present: bool,
    /// The physical address it points at (table or page).
    pub frame: u64,
    pub flags: Vec<&'static str>,
}

impl DecodedEntry {
    pub fn new(paging: &krash_arch::PageTableFormat, entry: u64) -> DecodedEntry {
        DecodedEntry {
            entry,
            present: paging.is_present(entry),
            frame: paging.entry_address(entry),
            flags: paging.flag_names(entry),
        }
    }
}

/// A pair of numbers a conversion command printed (input, result).
#[derive(Debug, Clone, Copy)]
pub struct Conversion {
    pub from: u64,
    pub to: u64,
}

/// What `vtop` and the conversion commands produced.
#[derive(Debug, Clone)]
pub enum VtopOutput {
    Vtop(Vec<VtopResult>),
    Ptov(Vec<Conversion>),
    Btop(Vec<Conversion>),
    Ptob(Vec<Conversion>),
    /// Raw page-table entries decoded by `pte` (the kernel's format).
    Pte(Vec<DecodedEntry>),
}

fn run_vtop(session: &mut Session, args: &[String]) -> Result<Output> {
    let parsed = getopt::parse("vtop", args, "c:uk")?;
    if parsed.args.is_empty() {
        return Err(Error::Usage(format!("usage: {}", SPEC.synopsis)));
    }
    let task = match parsed.value('c') {
        Some(arg) => Some(super::set::task_from_arg(session, arg)?),
        None => session.current_task,
    };
    let k = &session.kernel;
    let mut rows = Vec::new();
    for word in &parsed.args {
        let vaddr = parse_hex(word).ok_or_else(|| Error::Usage(format!("vtop: invalid address: {word}")))?;
        let user = if parsed.has('u') {
            true
        } else if parsed.has('k') {
            false
        } else {
            k.memory().layout().paging().space_of(vaddr) == krash_core::AddrSpace::UserVirtual
        };
        rows.push(translate(k, vaddr, user, task)?);
    }
    Ok(Output::Vtop(VtopOutput::Vtop(rows)))
}

/// The page-table root to walk: (its virtual address, its physical address).
fn walk_root(k: &Kernel, user: bool, task: Option<u64>) -> Result<(u64, u64)> {
    if !user {
        let phys = k.memory().layout().kernel_pgt_phys;
        // The symbol the layout found the root by (`init_top_pgt`,
        // `swapper_pg_dir`).
        let name = k.memory().layout().virt.name;
        let roots = k.arch().address_spaces.iter().find(|s| s.name == name).map_or(&[][..], |s| s.kernel_root_symbols);
        let virt = roots.iter().find_map(|r| k.symbol_addr(r).ok()).unwrap_or_else(|| k.memory().phys_to_virt(phys));
        return Ok((virt, phys));
    }
    let task = task.ok_or_else(|| Error::Usage("vtop: no current task for a user address".into()))?;
    let mm = k.task_by_addr(task)?.mm;
    if mm == 0 {
        return Err(Error::Usage(format!("vtop: task {task:x} has no user address space (mm is NULL)")));
    }
    let pgd = k.read_field_u64(mm, "mm_struct", "pgd")?;
    Ok((pgd, k.memory().virt_to_phys(pgd)?))
}

fn translate(k: &Kernel, vaddr: u64, user: bool, task: Option<u64>) -> Result<VtopResult> {
    let (pgd_virt, root) = walk_root(k, user, task)?;
    let (steps, outcome) = k.memory().walk(root, vaddr);
    let (paddr, page_size) = match outcome {
        Ok((paddr, size)) => (Some(paddr), Some(size)),
        // The kernel image and direct map translate linearly even where the
        // page tables no longer map them (e.g. below a relocated _text).
        Err(_) if !user => (k.memory().virt_to_phys(vaddr).ok(), None),
        Err(_) => (None, None),
    };
    let page_mask = k.memory().page_size() - 1;
    let page = paddr.and_then(|p| k.phys_to_page(p & !page_mask).ok()).and_then(|pg| k.page_info(pg).ok());
    let vma = match (user, task) {
        (true, Some(t)) => containing_vma(k, t, vaddr),
        _ => None,
    };
    let elsewhere = if user && paddr.is_none() {
        Some(k.user_page_location(root, vaddr, vma.as_ref()))
            .filter(|l| !matches!(l, PageLocation::NotMapped | PageLocation::Mapped { .. }))
    } else {
        None
    };
    let paging = k.memory().layout().paging();
    let entry_virt = steps
        .iter()
        .enumerate()
        .map(|(i, step)| match i {
            0 => pgd_virt.wrapping_add(step.entry_paddr.wrapping_sub(root)),
            _ => k.memory().phys_to_virt(step.entry_paddr),
        })
        .collect();
    let last_entry = steps.last().map(|step| DecodedEntry::new(paging, step.entry.0));
    let machine = k.arch().machine;
    Ok(VtopResult {
        vaddr,
        paddr,
        pgd_virt,
        steps,
        entry_virt,
        last_entry,
        machine,
        page_size,
        page,
        user,
        vma,
        elsewhere,
    })
}

/// The VMA of task `task` that holds `vaddr`, if any.
fn containing_vma(k: &Kernel, task: u64, vaddr: u64) -> Option<Vma> {
    let mm = k.task_by_addr(task).ok()?.mm;
    let list = k.vmas(mm).ok()?;
    list.vmas.into_iter().find(|v| (v.start..v.end).contains(&vaddr))
}

fn hex_args(name: &str, args: &[String], synopsis: &str) -> Result<Vec<u64>> {
    if args.is_empty() {
        return Err(Error::Usage(format!("usage: {synopsis}")));
    }
    args.iter().map(|w| parse_hex(w).ok_or_else(|| Error::Usage(format!("{name}: invalid address: {w}")))).collect()
}

fn run_ptov(session: &mut Session, args: &[String]) -> Result<Output> {
    let mem = session.kernel.memory();
    let rows = hex_args("ptov", args, PTOV_SPEC.synopsis)?
        .into_iter()
        .map(|p| Conversion { from: p, to: mem.phys_to_virt(p) })
        .collect();
    Ok(Output::Vtop(VtopOutput::Ptov(rows)))
}

fn run_btop(session: &mut Session, args: &[String]) -> Result<Output> {
    let page_shift = session.kernel.memory().layout().paging().page_shift();
    let rows = hex_args("btop", args, BTOP_SPEC.synopsis)?
        .into_iter()
        .map(|b| Conversion { from: b, to: b >> page_shift })
        .collect();
    Ok(Output::Vtop(VtopOutput::Btop(rows)))
}

fn run_ptob(session: &mut Session, args: &[String]) -> Result<Output> {
    let page_shift = session.kernel.memory().layout().paging().page_shift();
    let rows = hex_args("ptob", args, PTOB_SPEC.synopsis)?
        .into_iter()
        .map(|p| Conversion { from: p, to: p.wrapping_shl(page_shift) })
        .collect();
    Ok(Output::Vtop(VtopOutput::Ptob(rows)))
}

fn run_pte(session: &mut Session, args: &[String]) -> Result<Output> {
    let paging = session.kernel.memory().layout().paging();
    let rows = hex_args("pte", args, PTE_SPEC.synopsis)?.into_iter().map(|e| DecodedEntry::new(paging, e)).collect();
    Ok(Output::Vtop(VtopOutput::Pte(rows)))
}
