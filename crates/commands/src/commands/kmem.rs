//! `kmem`: what an address is (slab object, page, symbol, vmalloc area,
//! task stack) and the SLUB caches (`-s`, `-S`), as crash lays them out.
//! Corrupt freelists found on the way are reported as notes, with the bad
//! pointer and what its bytes look like. Whole-memory views (`-i`, `-f`,
//! `-V`, `-z`, `-n`, `-o`, `-h`, `-g`, `-p`, `-m`) are in `memory`.

use krash_linux::mm::meminfo::MeminfoExt;
use krash_linux::mm::page::PageExt;
use krash_linux::mm::slab::freelist::FreelistExt;
use krash_linux::mm::slab::SlabExt;
use krash_linux::mm::vmstat::VmstatExt;
use krash_linux::sched::task::{TaskExt, TaskState};
pub mod memory;

use krash_core::{Error, Result, VirtualMemory};
pub use krash_linux::mm::page::PageInfo;
use krash_linux::mm::slab::freelist::FreelistProblem;
use krash_linux::mm::slab::{self, SlabCache};
use krash_program::Kernel;

use crate::commands::sym::SymLine;
use crate::source::SourceLocation;
use crate::{getopt, parse_hex, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "kmem",
    aliases: &[],
    summary: "kernel memory: slab caches, pages and what an address belongs to",
    synopsis: "kmem [-s|-S] [cache] | -i | -f|-F [address] | -V | -z | -n | -o | -h | -g flags | -p [address] | -m member[,member] | -v | address ...",
    details: "  address   what the address is: the slab object holding it (cache, slab,\n\
              \x20          object start, FREE or [ALLOCATED]), a kernel symbol, a vmalloc area,\n\
              \x20          a task's task_struct or stack, and its struct page\n\
              \x20 -s [cache]  per-cache totals: CACHE OBJSIZE ALLOCATED TOTAL SLABS SSIZE NAME\n\
              \x20 -S cache    as -s, then every cpu slab, per-cpu partial slab and node\n\
              \x20          partial slab with each object FREE or [ALLOCATED]\n\
              \x20 -v       the vmalloc areas (VMAP_AREA VM_STRUCT ADDRESS RANGE SIZE)\n\
              \x20 -p [page]  struct page of the page given, or of every page of every\n\
              \x20          present memory section (PAGE PHYSICAL MAPPING INDEX CNT FLAGS)\n\
              \x20 -m member[,member]  those struct page members of every page\n\
              \x20 -i       memory summary: total, free, used, buffers, cached, slab,\n\
              \x20          huge pages, swap, commit limit and committed pages\n\
              \x20 -f [addr]  free areas of each zone by order and migrate type;\n\
              \x20          with an address, the free block holding its page\n\
              \x20 -F       as -f, listing the first page of every free block\n\
              \x20 -V       the vm_zone_stat, vm_node_stat and vm_event_states counters\n\
              \x20 -z       each zone's size, watermarks and vm_stat counters\n\
              \x20 -n       memory nodes, their zones and the mem_section table\n\
              \x20 -o       each CPU's __per_cpu_offset\n\
              \x20 -h       the huge page pools (hstates)\n\
              \x20 -g flags  the enum pageflags bits set in a page->flags value\n\
              Freelist pointers that do not lead to an object of their slab are\n\
              reported in \"kmem:\" notes with the raw and decoded values and what\n\
              the raw bytes look like (UTF-16 or ASCII text, slab or list poison).",
    run,
};

/// One `kmem -s` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheRow {
    pub cache: u64,
    pub objsize: u32,
    pub allocated: u64,
    pub total: u64,
    pub slabs: u64,
    pub ssize_kb: u64,
    pub name: String,
}

/// A slab line: `SLAB MEMORY NODE TOTAL ALLOCATED FREE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlabRow {
    pub slab: u64,
    pub memory: u64,
    pub node: u32,
    pub total: u32,
    pub allocated: u32,
    pub free: u32,
}

/// One object line under `FREE / [ALLOCATED]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRow {
    pub addr: u64,
    pub free: bool,
    /// Free on this CPU's lockless freelist (SLUB) or in its array cache
    /// (SLAB).
    pub cpu_cache: Option<u32>,
    /// SLAB: free in its node's shared array cache.
    pub shared_cache: bool,
}

/// A slab with its objects (`-S`; empty objects for partial-list lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlabDetail {
    pub row: SlabRow,
    pub objects: Option<Vec<ObjectRow>>,
}

/// One CPU's part of `kmem -S`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuDetail {
    pub cpu: u32,
    pub kmem_cache_cpu: u64,
    pub slab: Option<SlabDetail>,
    pub partial: Vec<SlabDetail>,
}

/// One node's part of `kmem -S`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeDetail {
    pub node: u32,
    pub addr: u64,
    pub slabs: u64,
    pub partial_count: u64,
    pub per_cpu: u64,
    /// The node's slabs; under SLAB each with its objects, as crash shows
    /// them (its slabs are all on these lists).
    pub partial: Vec<SlabDetail>,
    /// SLAB's full and free lists; None under SLUB, which tracks neither.
    pub full: Option<Vec<SlabDetail>>,
    pub free: Option<Vec<SlabDetail>>,
}

/// `kmem -S` for one cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheDetail {
    pub row: CacheRow,
    pub cpus: Vec<CpuDetail>,
    /// SLAB's per-cpu and shared array caches (none under SLUB).
    pub array_caches: Vec<slab::ArrayCache>,
    pub nodes: Vec<NodeDetail>,
}

/// A task an address belongs to (its task_struct or stack).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskContext {
    pub pid: i32,
    pub comm: String,
    pub task: u64,
    pub cpu: u32,
    /// crash shows the long name (TASK_RUNNING, ...).
    pub state: TaskState,
    pub panic: bool,
}

/// One `kmem -v` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmapRow {
    pub vmap_area: u64,
    pub vm_struct: u64,
    pub start: u64,
    pub end: u64,
    pub size: u64,
}

/// One part of `kmem ADDR`'s answer, in crash's order.
#[derive(Debug, Clone)]
pub enum AddressPart {
    Symbol { line: SymLine },
    Slab { cache: CacheRow, slab: SlabRow, object: Option<ObjectRow> },
    Task { context: TaskContext },
    Vmalloc { area: VmapRow },
    Page { page: PageInfo },
    NotFound { addr: u64 },
}

/// What `kmem ADDR` found for one address, in crash's order.
#[derive(Debug, Clone)]
pub struct AddressInfo {
    pub addr: u64,
    pub parts: Vec<AddressPart>,
}

/// What `kmem` produced.
#[derive(Debug, Clone)]
pub enum Kmem {
    Caches { rows: Vec<CacheRow> },
    CacheDetail { caches: Vec<CacheDetail> },
    Address { addresses: Vec<AddressInfo> },
    Vmalloc { areas: Vec<VmapRow> },
    Pages { pages: Vec<PageInfo> },
    MemInfo { info: memory::MemInfo },
    FreeAreas { areas: memory::FreeAreas },
    FreeSearch { search: memory::FreeSearch },
    VmStats { stats: memory::VmStats },
    Zones { zones: Vec<memory::ZoneStat> },
    MemoryMap { map: memory::MemoryMap },
    CpuOffsets { cpus: Vec<memory::CpuOffset> },
    HugePages { pools: Vec<memory::HugePool> },
    PageFlags { decode: memory::PageFlagDecode },
    PageMembers { members: Vec<String>, pages: Vec<memory::PageMembers> },
}

/// A problem met while reading slabs or free lists (a `kmem: ...` line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KmemNote {
    /// A SLUB freelist pointer that does not lead to a free object.
    Freelist(FreelistProblem),
    /// A buddy free list that could not be walked to its end.
    FreeArea(memory::FreeAreaProblem),
    /// A cache whose slabs could not be read (a page filtered out of the
    /// dump): left out of the listing, the others shown.
    UnreadableCache { cache: String, error: String },
    /// The cache list itself could not be read whole.
    CacheList { problem: String },
    /// A node's slab list (`slabs_partial`, ...) whose walk stopped early:
    /// the slabs before the break are shown.
    SlabListBreak { cache: String, node: u32, why: String },
}

/// kmem's output plus problems found (`kmem: ...` lines).
#[derive(Debug, Clone)]
pub struct KmemOutput {
    pub result: Kmem,
    pub notes: Vec<KmemNote>,
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("kmem", args, "sSvpifFVznohg:m:")?;
    let k = &session.kernel;
    let mut notes = Vec::new();
    let address = |a: &String| parse_hex(a).ok_or_else(|| Error::Usage(format!("kmem: invalid address: {a}")));
    let result = if p.has('i') {
        Kmem::MemInfo { info: k.meminfo()? }
    } else if p.has('f') || p.has('F') {
        match p.args.first() {
            Some(a) => Kmem::FreeSearch { search: memory::free_search(k, address(a)?)? },
            None => {
                let areas = memory::free_areas(k, p.has('F'))?;
                notes.extend(areas.problems.iter().cloned().map(KmemNote::FreeArea));
                Kmem::FreeAreas { areas }
            }
        }
    } else if p.has('V') {
        Kmem::VmStats { stats: k.vm_stats()? }
    } else if p.has('z') {
        Kmem::Zones { zones: memory::zone_stats(k)? }
    } else if p.has('n') {
        Kmem::MemoryMap { map: memory::memory_map(k)? }
    } else if p.has('o') {
        Kmem::CpuOffsets { cpus: memory::cpu_offsets(k)? }
    } else if p.has('h') {
        Kmem::HugePages { pools: k.huge_pools()? }
    } else if let Some(flags) = p.value('g') {
        let flags = parse_hex(flags).ok_or_else(|| Error::Usage(format!("kmem -g: invalid flags value: {flags}")))?;
        Kmem::PageFlags { decode: memory::page_flag_decode(k, flags)? }
    } else if let Some(spec) = p.value('m') {
        let (members, pages) = memory::page_members(k, spec)?;
        Kmem::PageMembers { members, pages }
    } else if p.has('p') && p.args.is_empty() {
        let model = k.page_model()?;
        let mut pages = Vec::new();
        memory::for_each_page(k, |page, bytes| {
            pages.push(model.decode(page, model.phys_of(page), bytes));
            Ok(())
        })?;
        Kmem::Pages { pages }
    } else if p.has('s') || p.has('S') {
        let caches = selected_caches(k, &p.args)?;
        if p.args.is_empty() {
            notes.extend(
                k.slab_cache_list_problems()?.iter().map(|problem| KmemNote::CacheList { problem: problem.clone() }),
            );
        }
        if p.has('S') {
            let mut out = Vec::new();
            for c in caches {
                match cache_detail(k, c, &mut notes) {
                    Ok(detail) => out.push(detail),
                    Err(e) => notes.push(unreadable(c, e)?),
                }
            }
            Kmem::CacheDetail { caches: out }
        } else {
            let mut rows = Vec::new();
            for c in caches {
                match cache_row(k, c, &mut notes) {
                    Ok(row) => rows.push(row),
                    Err(e) => notes.push(unreadable(c, e)?),
                }
            }
            Kmem::Caches { rows }
        }
    } else if p.has('v') {
        Kmem::Vmalloc { areas: vmap_areas(k)? }
    } else if p.has('p') {
        let mut pages = Vec::new();
        for a in &p.args {
            let addr = parse_hex(a).ok_or_else(|| Error::Usage(format!("kmem: invalid address: {a}")))?;
            let page = if k.page_to_phys(addr).is_some() {
                addr
            } else {
                k.virt_to_page(addr).or_else(|_| k.phys_to_page(addr))?
            };
            pages.push(k.page_info(page)?);
        }
        Kmem::Pages { pages }
    } else {
        if p.args.is_empty() {
            return Err(Error::Usage("kmem: give an address or an option (-s, -S, -v, -p)".into()));
        }
        let mut addresses = Vec::new();
        for a in &p.args {
            let addr = parse_hex(a).ok_or_else(|| Error::Usage(format!("kmem: invalid address: {a}")))?;
            addresses.push(AddressInfo { addr, parts: address_parts(k, addr, &mut notes)? });
        }
        Kmem::Address { addresses }
    };
    Ok(Output::Kmem(KmemOutput { result, notes }))
}

fn selected_caches<'k>(k: &'k Kernel, args: &[String]) -> Result<Vec<&'k SlabCache>> {
    let all = k.slab_caches()?;
    if args.is_empty() {
        return Ok(all.iter().collect());
    }
    let mut out = Vec::new();
    for a in args {
        let found = match parse_hex(a).and_then(|addr| k.slab_cache_at(addr)) {
            Some(c) => Some(c),
            None => all.iter().find(|c| c.name == *a),
        };
        out.push(found.ok_or_else(|| Error::NotFound(format!("kmem: invalid kmem_cache: {a}")))?);
    }
    Ok(out)
}

/// The note for a cache whose slabs cannot be read; an interrupt is not one.
fn unreadable(c: &SlabCache, e: Error) -> Result<KmemNote> {
    match e {
        Error::Interrupted => Err(e),
        e => Ok(KmemNote::UnreadableCache { cache: c.name.clone(), error: e.to_string() }),
    }
}

fn cache_row(k: &Kernel, c: &SlabCache, notes: &mut Vec<KmemNote>) -> Result<CacheRow> {
    let t = k.cache_totals(c)?;
    notes.extend(t.problems.iter().cloned().map(KmemNote::Freelist));
    notes.extend(t.list_problems.iter().map(|problem| KmemNote::CacheList { problem: problem.clone() }));
    Ok(CacheRow {
        cache: c.addr,
        // crash's OBJSIZE under SLAB is the buffer size (the stride), under SLUB the object's.
        objsize: match k.slab_variants().map(|v| v.allocator) {
            Ok(slab::Allocator::Slab) => c.size,
            _ => c.object_size,
        },
        allocated: t.allocated,
        total: t.total,
        slabs: t.slabs,
        ssize_kb: c.slab_bytes() / 1024,
        name: c.name.clone(),
    })
}

fn slab_detail(
    k: &Kernel,
    c: &SlabCache,
    slab_addr: u64,
    with_objects: bool,
    notes: &mut Vec<KmemNote>,
) -> Result<SlabDetail> {
    let slab = k.read_slab(slab_addr, c.addr)?;
    let contents = k.slab_contents(c, &slab)?;
    notes.extend(contents.problems.iter().cloned().map(KmemNote::Freelist));
    let objects = with_objects.then(|| (0..slab.objects).map(|i| object_row(c, &contents, i)).collect());
    Ok(SlabDetail { row: slab_row(&slab, contents.allocated), objects })
}

/// Object `index` of a slab whose contents were read, and where it is free.
fn object_row(c: &SlabCache, contents: &slab::freelist::SlabContents, index: u32) -> ObjectRow {
    let free = contents.free.get(index as usize).copied().unwrap_or(false);
    let holder = contents.array_cached.iter().find(|(i, _)| *i == index).map(|(_, h)| *h);
    let cpu_cache = match holder {
        Some(slab::ArrayCacheHolder::Cpu(cpu)) => Some(cpu),
        Some(slab::ArrayCacheHolder::Shared { .. }) => None,
        None => contents.cpu.filter(|_| free),
    };
    ObjectRow {
        addr: slab::object_start(c, &contents.slab, index),
        free,
        cpu_cache,
        shared_cache: matches!(holder, Some(slab::ArrayCacheHolder::Shared { .. })),
    }
}

fn slab_row(slab: &slab::Slab, allocated: u32) -> SlabRow {
    SlabRow {
        slab: slab.addr,
        memory: slab.base,
        node: slab.node,
        total: slab.objects,
        allocated,
        free: slab.objects.saturating_sub(allocated),
    }
}

fn cache_detail(k: &Kernel, c: &SlabCache, notes: &mut Vec<KmemNote>) -> Result<CacheDetail> {
    let row = cache_row(k, c, notes)?;
    // The counting pass already reported the per-cpu freelists.
    let counted = notes.len();
    let mut cpus = Vec::new();
    let mut per_cpu = 0u64;
    for cpu in k.cache_cpu_slabs(c)? {
        let slab = if cpu.slab != 0 {
            per_cpu += 1;
            Some(slab_detail(k, c, cpu.slab, true, notes)?)
        } else {
            None
        };
        let mut partial = Vec::new();
        for &p in &cpu.partial {
            partial.push(slab_detail(k, c, p, true, notes)?);
        }
        cpus.push(CpuDetail { cpu: cpu.cpu, kmem_cache_cpu: cpu.kmem_cache_cpu, slab, partial });
    }
    let mut nodes = Vec::new();
    let array_caches = k.cache_array_caches(c)?;
    for n in k.cache_node_slabs(c)? {
        // SLAB's slabs are all on the node lists, so their objects are shown
        // there; SLUB's node slabs are rows only, as in crash.
        let with_objects = n.classic.is_some();
        let rows = |slabs: &[u64], notes: &mut Vec<KmemNote>| -> Result<Vec<SlabDetail>> {
            slabs
                .iter()
                .map(|&p| {
                    if with_objects {
                        slab_detail(k, c, p, true, notes)
                    } else {
                        k.read_slab(p, c.addr)
                            .map(|slab| SlabDetail { row: slab_row(&slab, slab.inuse), objects: None })
                    }
                })
                .collect()
        };
        let partial = rows(&n.partial, notes)?;
        if let Some(why) = &n.partial_break {
            notes.push(KmemNote::SlabListBreak {
                cache: c.name.clone(),
                node: n.node,
                why: format!("slabs_partial: {why}"),
            });
        }
        let (full, free) = match &n.classic {
            Some(lists) => {
                for broken in &lists.broken {
                    notes.push(KmemNote::SlabListBreak { cache: c.name.clone(), node: n.node, why: broken.clone() });
                }
                (Some(rows(&lists.full, notes)?), Some(rows(&lists.free, notes)?))
            }
            None => (None, None),
        };
        nodes.push(NodeDetail {
            full,
            free,
            node: n.node,
            addr: n.addr,
            slabs: n.nr_slabs,
            partial_count: n.nr_partial,
            per_cpu,
            partial,
        });
    }
    dedup_tail(notes, counted);
    Ok(CacheDetail { row, cpus, array_caches, nodes })
}

/// Drops notes after `from` that repeat one already present.
fn dedup_tail(notes: &mut Vec<KmemNote>, from: usize) {
    let mut i = from.min(notes.len());
    while i < notes.len() {
        if notes[..i].contains(&notes[i]) {
            notes.remove(i);
        } else {
            i += 1;
        }
    }
}

/// The name of the slab cache whose memory `value` points into, for
/// `bt -F`'s annotation of stack words.
pub(crate) fn slab_cache_name(k: &Kernel, value: u64) -> Option<String> {
    Some(k.slab_cache_of(value)?.name.clone())
}

/// crash's `kmem ADDR` order: symbol, vmalloc (with the owning task's
/// stack), slab object, the task whose task_struct or stack holds it, page.
fn address_parts(k: &Kernel, addr: u64, notes: &mut Vec<KmemNote>) -> Result<Vec<AddressPart>> {
    let mut parts = Vec::new();
    if k.in_kernel_image(addr) || k.module_containing(addr).is_some() {
        if let Some((sym, offset)) = k.symbol_at(addr) {
            let source =
                if k.is_text_address(addr) { k.source_line(addr).map(|l| SourceLocation::of(&l)) } else { None };
            parts.push(AddressPart::Symbol {
                line: SymLine {
                    addr,
                    kind: sym.kind,
                    name: sym.name.to_string(),
                    offset,
                    module: sym.module.map(str::to_string),
                    source,
                },
            });
        }
    }
    let mut task_shown = false;
    if let Some(area) = vmap_areas(k).ok().and_then(|v| v.into_iter().find(|a| (a.start..a.end).contains(&addr))) {
        if let Some(ctx) = stack_owner(k, addr) {
            parts.push(AddressPart::Task { context: ctx });
            task_shown = true;
        }
        if k.virt_to_phys(addr).is_ok() {
            parts.push(AddressPart::Vmalloc { area });
        }
    }
    if let Some(slab) = k.slab_of(addr) {
        if let Some(cache) = k.slab_cache_at(slab.cache) {
            let row = cache_row(k, cache, notes)?;
            let contents = k.slab_contents(cache, &slab)?;
            notes.extend(contents.problems.iter().cloned().map(KmemNote::Freelist));
            dedup_tail(notes, 0);
            let object = slab::object_index(cache, &slab, addr).map(|i| object_row(cache, &contents, i));
            parts.push(AddressPart::Slab { cache: row, slab: slab_row(&slab, contents.allocated), object });
        }
    }
    if !task_shown {
        if let Some(ctx) = task_struct_owner(k, addr).or_else(|| stack_owner(k, addr)) {
            parts.push(AddressPart::Task { context: ctx });
        }
    }
    let page = if k.page_to_phys(addr).is_some() { Ok(addr) } else { k.virt_to_page(addr) };
    match page.and_then(|p| k.page_info(p)) {
        Ok(info) => parts.push(AddressPart::Page { page: info }),
        Err(_) => parts.push(AddressPart::NotFound { addr }),
    }
    Ok(parts)
}

fn context(k: &Kernel, t: &krash_linux::sched::task::Task) -> TaskContext {
    TaskContext {
        pid: t.pid,
        comm: t.comm.clone(),
        task: t.addr,
        cpu: t.cpu,
        state: t.state,
        panic: k.panic_task() == Some(t.addr),
    }
}

fn task_struct_owner(k: &Kernel, addr: u64) -> Option<TaskContext> {
    let size = k.layouts().size_of("task_struct").ok()?;
    let t = k.tasks().ok()?.iter().find(|t| (t.addr..t.addr.saturating_add(size)).contains(&addr))?;
    Some(context(k, t))
}

fn stack_owner(k: &Kernel, addr: u64) -> Option<TaskContext> {
    let off = k.layouts().offset("task_struct", "stack").ok()?;
    let thread_size = k.thread_size();
    let t = k.tasks().ok()?.iter().find(|t| {
        k.memory()
            .read_u64(t.addr.wrapping_add(off))
            .is_ok_and(|s| s != 0 && (s..s.saturating_add(thread_size)).contains(&addr))
    })?;
    Some(context(k, t))
}

/// Most vmap areas listed.
const MAX_VMAP_AREAS: usize = 1 << 20;

/// The busy vmap areas that have a `vm_struct`, by address: from
/// `vmap_area_list` (before 6.9) or each `vmap_nodes[i].busy.head`.
fn vmap_areas(k: &Kernel) -> Result<Vec<VmapRow>> {
    let l = k.layouts();
    let list_off = l.offset("vmap_area", "list")?;
    let mut heads = Vec::new();
    if let Ok(head) = k.symbol_addr("vmap_area_list") {
        heads.push(head);
    } else {
        let nodes = k.read_symbol_u64("vmap_nodes")?;
        let count = k.memory().read_u32(k.symbol_addr("nr_vmap_nodes")?)?.min(4096);
        let node_size = l.size_of("vmap_node")?;
        let busy = l.offset("vmap_node", "busy.head")?;
        for i in 0..u64::from(count) {
            heads.push(nodes.wrapping_add(i.wrapping_mul(node_size)).wrapping_add(busy));
        }
    }
    let va_start = l.offset("vmap_area", "va_start")?;
    let vm_off = l.offset("vmap_area", "vm")?;
    let vm_addr = l.offset("vm_struct", "addr")?;
    let vm_size = l.offset("vm_struct", "size")?;
    let mem = k.memory();
    let mut out = Vec::new();
    for head in heads {
        let walk = krash_program::list::walk(
            mem,
            head,
            krash_program::list::WalkOptions { limit: MAX_VMAP_AREAS, ..Default::default() },
        );
        for node in walk.nodes {
            let va = node.wrapping_sub(list_off);
            let Ok(vm) = mem.read_u64(va.wrapping_add(vm_off)) else { continue };
            if vm == 0 || mem.read_u64(va.wrapping_add(va_start)).is_err() {
                continue;
            }
            let (Ok(start), Ok(size)) =
                (mem.read_u64(vm.wrapping_add(vm_addr)), mem.read_u64(vm.wrapping_add(vm_size)))
            else {
                continue;
            };
            out.push(VmapRow { vmap_area: va, vm_struct: vm, start, end: start.wrapping_add(size), size });
        }
    }
    out.sort_by_key(|r| r.start);
    Ok(out)
}
