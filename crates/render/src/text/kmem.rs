use std::fmt::Write;

#[path = "kmem_memory.rs"]
mod memory;

use krash_commands::output::{
    AddressPart, ArrayCacheHolder, CacheDetail, CacheRow, FreelistOwner, FreelistProblem, Kmem, KmemNote, KmemOutput,
    ObjectRow, PageInfo, SlabDetail, SlabRow, TaskContext, ValueLooks, VmapRow,
};

const CACHE_HEADER: &str = "CACHE             OBJSIZE  ALLOCATED     TOTAL  SLABS  SSIZE  NAME\n";
const SLAB_HEADER: &str = "  SLAB              MEMORY            NODE  TOTAL  ALLOCATED  FREE\n";
const OBJECT_HEADER: &str = "  FREE / [ALLOCATED]\n";
const PAGE_HEADER: &str = "      PAGE       PHYSICAL      MAPPING       INDEX CNT FLAGS\n";
const VMAP_HEADER: &str = "   VMAP_AREA         VM_STRUCT                 ADDRESS RANGE                SIZE\n";

/// crash's `kmem` layouts; problems follow as `kmem:` lines.
pub(crate) fn render(out: &KmemOutput) -> String {
    let mut s = String::new();
    match &out.result {
        Kmem::Caches { rows } => {
            s.push_str(CACHE_HEADER);
            for r in rows {
                cache_line(&mut s, r);
            }
        }
        Kmem::CacheDetail { caches } => {
            for c in caches {
                cache_detail(&mut s, c);
            }
        }
        Kmem::Address { addresses } => {
            for (i, info) in addresses.iter().enumerate() {
                if i > 0 {
                    s.push('\n');
                }
                address(&mut s, &info.parts);
            }
        }
        Kmem::Vmalloc { areas } => {
            s.push_str(VMAP_HEADER);
            for a in areas {
                vmap_line(&mut s, a);
            }
        }
        Kmem::Pages { pages } => {
            s.push_str(PAGE_HEADER);
            for p in pages {
                page_line(&mut s, p);
            }
        }
        Kmem::MemInfo { info } => memory::meminfo(&mut s, info),
        Kmem::FreeAreas { areas } => memory::free_areas(&mut s, areas),
        Kmem::FreeSearch { search } => memory::free_search(&mut s, search),
        Kmem::VmStats { stats } => memory::vm_stats(&mut s, stats),
        Kmem::Zones { zones } => memory::zones(&mut s, zones),
        Kmem::MemoryMap { map } => memory::memory_map(&mut s, map),
        Kmem::CpuOffsets { cpus } => memory::cpu_offsets(&mut s, cpus),
        Kmem::HugePages { pools } => memory::huge_pools(&mut s, pools),
        Kmem::PageFlags { decode } => memory::page_flags(&mut s, decode),
        Kmem::PageMembers { members, pages } => memory::page_members(&mut s, members, pages),
    }
    for n in &out.notes {
        match n {
            KmemNote::Freelist(p) => {
                let _ = writeln!(s, "kmem: {}", freelist_problem(p));
            }
            KmemNote::FreeArea(p) => {
                let _ = writeln!(s, "kmem: {} order {} list {:x}: {}", p.zone, p.order, p.list, p.problem);
            }
            KmemNote::UnreadableCache { cache, error } => {
                let _ = writeln!(s, "kmem: {cache}: not shown: {error}");
            }
            KmemNote::CacheList { problem } => {
                let _ = writeln!(s, "kmem: {problem}");
            }
            KmemNote::SlabListBreak { cache, node, why } => {
                let _ = writeln!(s, "kmem: {cache}: node {node}: {why}");
            }
        }
    }
    s
}

fn cache_line(s: &mut String, r: &CacheRow) {
    let _ = writeln!(
        s,
        "{:<16x} {:>8}  {:>9}  {:>8}  {:>5}  {:>4}k  {}",
        r.cache, r.objsize, r.allocated, r.total, r.slabs, r.ssize_kb, r.name
    );
}

fn slab_line(s: &mut String, r: &SlabRow) {
    let _ = writeln!(
        s,
        "  {:<16x}  {:<16x}  {:>4}  {:>5}  {:>9}  {:>4}",
        r.slab, r.memory, r.node, r.total, r.allocated, r.free
    );
}

fn object_line(s: &mut String, o: &ObjectRow) {
    if o.free {
        let _ = write!(s, "   {:x}  ", o.addr);
        if let Some(cpu) = o.cpu_cache {
            let _ = write!(s, "(cpu {cpu} cache)");
        } else if o.shared_cache {
            s.push_str("(shared cache)");
        }
        s.push('\n');
    } else {
        let _ = writeln!(s, "  [{:x}]", o.addr);
    }
}

fn cache_detail(s: &mut String, c: &CacheDetail) {
    s.push_str(CACHE_HEADER);
    cache_line(s, &c.row);
    for cpu in &c.cpus {
        let _ = writeln!(s, "CPU {} KMEM_CACHE_CPU:\n  {:x}", cpu.cpu, cpu.kmem_cache_cpu);
        let _ = writeln!(s, "CPU {} SLAB:", cpu.cpu);
        match &cpu.slab {
            None => s.push_str("  (empty)\n"),
            Some(d) => {
                s.push_str(SLAB_HEADER);
                slab_line(s, &d.row);
                s.push_str(OBJECT_HEADER);
                for o in d.objects.iter().flatten() {
                    object_line(s, o);
                }
            }
        }
        let _ = writeln!(s, "CPU {} PARTIAL:", cpu.cpu);
        if cpu.partial.is_empty() {
            s.push_str("  (empty)\n");
        }
        for d in &cpu.partial {
            s.push_str(SLAB_HEADER);
            slab_line(s, &d.row);
            s.push_str(OBJECT_HEADER);
            for o in d.objects.iter().flatten() {
                object_line(s, o);
            }
        }
    }
    for a in &c.array_caches {
        match a.holder {
            ArrayCacheHolder::Cpu(cpu) => {
                let _ = writeln!(s, "CPU {cpu} ARRAY_CACHE:");
            }
            ArrayCacheHolder::Shared { node } => {
                let _ = writeln!(s, "NODE {node} SHARED ARRAY_CACHE:");
            }
        }
        s.push_str("  ARRAY_CACHE       AVAIL  LIMIT\n");
        let _ = writeln!(s, "  {:<16x}  {:>5}  {:>5}", a.addr, a.avail, a.limit);
        for e in &a.entries {
            let _ = writeln!(s, "   {e:x}");
        }
    }
    for n in &c.nodes {
        s.push_str("KMEM_CACHE_NODE   NODE  SLABS  PARTIAL  PER-CPU\n");
        let _ = writeln!(s, "{:x}  {:>4}  {:>5}  {:>7}  {:>7}", n.addr, n.node, n.slabs, n.partial_count, n.per_cpu);
        node_list(s, n.node, "PARTIAL", Some(&n.partial));
        node_list(s, n.node, "FULL", n.full.as_deref());
        // SLUB has no free list: its empty slabs go back to the page allocator.
        if let Some(free) = &n.free {
            node_list(s, n.node, "FREE", Some(free));
        }
    }
    s.push('\n');
}

/// One of a node's slab lists; `None` for one the allocator does not keep.
/// Slabs listed with their objects (SLAB's) each get their own header.
fn node_list(s: &mut String, node: u32, name: &str, slabs: Option<&[SlabDetail]>) {
    let _ = writeln!(s, "NODE {node} {name}:");
    match slabs {
        None => s.push_str("  (not tracked)\n"),
        Some([]) => s.push_str("  (empty)\n"),
        Some(rows) => {
            for (i, d) in rows.iter().enumerate() {
                if i == 0 || d.objects.is_some() {
                    s.push_str(SLAB_HEADER);
                }
                slab_line(s, &d.row);
                if let Some(objects) = &d.objects {
                    s.push_str(OBJECT_HEADER);
                    for o in objects {
                        object_line(s, o);
                    }
                }
            }
        }
    }
}

fn context(s: &mut String, c: &TaskContext) {
    let _ = writeln!(s, "    PID: {}", c.pid);
    let _ = writeln!(s, "COMMAND: \"{}\"", c.comm);
    let _ = writeln!(s, "   TASK: {:x}  [THREAD_INFO: {:x}]", c.task, c.task);
    let _ = writeln!(s, "    CPU: {}", c.cpu);
    let _ = writeln!(s, "  STATE: {}{}", c.state.long_name(), if c.panic { " (PANIC)" } else { "" });
}

fn vmap_line(s: &mut String, a: &VmapRow) {
    let _ = writeln!(s, "{:x}  {:x}  {:x} - {:x}  {:>7}", a.vmap_area, a.vm_struct, a.start, a.end, a.size);
}

fn page_line(s: &mut String, p: &PageInfo) {
    let _ = write!(s, "{:<16x} {:>8x} {:>16x} {:>8x} {:>2} {:x}", p.page, p.phys, p.mapping, p.index, p.count, p.flags);
    if !p.flag_names.is_empty() {
        let _ = write!(s, " {}", p.flag_names.join(","));
    }
    s.push('\n');
}

fn address(s: &mut String, parts: &[AddressPart]) {
    for part in parts {
        match part {
            AddressPart::Symbol { line } => {
                let _ = writeln!(s, "{}\n", super::sym::sym_line(line));
            }
            AddressPart::Slab { cache, slab, object } => {
                s.push_str(CACHE_HEADER);
                cache_line(s, cache);
                s.push_str(SLAB_HEADER);
                slab_line(s, slab);
                s.push_str(OBJECT_HEADER);
                if let Some(o) = object {
                    object_line(s, o);
                }
                s.push('\n');
            }
            AddressPart::Task { context: c } => {
                context(s, c);
                s.push('\n');
            }
            AddressPart::Vmalloc { area } => {
                s.push_str(VMAP_HEADER);
                vmap_line(s, area);
                s.push('\n');
            }
            AddressPart::Page { page } => {
                s.push_str(PAGE_HEADER);
                page_line(s, page);
            }
            AddressPart::NotFound { addr } => {
                let _ = writeln!(s, "{addr:x}: kernel virtual address not found in mem map");
            }
        }
    }
}

/// A corrupt freelist pointer in one line: where it was, what it decoded
/// to and why it cannot be followed, where it came from and what its bytes
/// look like (text, poison), so a use-after-free writer is recognisable.
pub(crate) fn freelist_problem(p: &FreelistProblem) -> String {
    let list = match p.owner {
        FreelistOwner::Cpu { cpu, kmem_cache_cpu } => format!("CPU {cpu} freelist (kmem_cache_cpu {kmem_cache_cpu:x})"),
        FreelistOwner::Slab => "slab freelist".to_string(),
    };
    let mut s = format!(
        "{}: slab {:x}: corrupt {list}: {:016x} ({}) stored at {:x}",
        p.cache, p.slab, p.decoded, p.reason, p.stored_at
    );
    if let Some(src) = p.source_object {
        let _ = write!(s, ", decoded from the free pointer of object {src:x}");
        if p.inferred {
            s.push_str(" (reallocated since; raw value inferred)");
        }
    }
    let bytes: Vec<String> = p.raw.to_le_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let _ = write!(s, "; raw value {:016x} [{}] looks like {}", p.raw, bytes.join(" "), value_looks(&p.looks_like));
    if let Some(w) = p.witness {
        let _ = write!(s, "; the same bytes are at {w:x}");
    }
    if let Some(t) = &p.object_text {
        let _ = write!(s, "; object text {t:?}");
    }
    s
}

/// What a suspicious value looks like, in words.
fn value_looks(l: &ValueLooks) -> String {
    match l {
        ValueLooks::Null => "NULL".to_string(),
        ValueLooks::Utf16Text(t) => format!("UTF-16 text {t:?}"),
        ValueLooks::AsciiText(t) => format!("ASCII text {t:?}"),
        ValueLooks::SlabPoison(name) => format!("slab poison ({name})"),
        ValueLooks::ListPoison(name) => format!("list poison ({name})"),
        ValueLooks::NonCanonical => "a non-canonical address".to_string(),
        ValueLooks::KernelAddress => "a kernel address".to_string(),
        ValueLooks::Other => "no known pattern".to_string(),
    }
}
