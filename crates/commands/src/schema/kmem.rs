//! `kmem`'s document.

use schemars::JsonSchema;
use serde::Serialize;

use super::common::{Page, TaskState};
use super::numbers::{hex, hexes, opt_hex, Hex};
use crate::output as out;
use crate::output::kmem_memory as mem;
use krash_linux::mm::slab::{ArrayCache as ArrayCacheData, ArrayCacheHolder};

/// `kmem`: one view (by `mode`) and the problems met on the way.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct KmemData {
    pub result: KmemResult,
    /// Problems met while reading slabs or free lists (crash's `kmem:` lines).
    pub notes: Vec<KmemNote>,
}

/// What `kmem` shows.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum KmemResult {
    /// `-s`: per-cache totals.
    Caches { rows: Vec<CacheRow> },
    /// `-S`: caches with their per-cpu and per-node slabs.
    CacheDetail { caches: Vec<CacheDetail> },
    /// `kmem ADDR ...`: what each address is.
    Address { addresses: Vec<AddressInfo> },
    /// `-v`: vmalloc areas.
    Vmalloc { areas: Vec<VmapArea> },
    /// `-p`: struct pages.
    Pages { pages: Vec<Page> },
    /// `-i`: the memory summary.
    MemInfo { info: MemInfo },
    /// `-f` / `-F`: the buddy free areas.
    FreeAreas { areas: FreeAreas },
    /// `-f ADDR`: the free block holding a page.
    FreeSearch { search: FreeSearch },
    /// `-V`: VM counters.
    VmStats { stats: VmStats },
    /// `-z`: zones and their counters.
    Zones { zones: Vec<ZoneStat> },
    /// `-n`: nodes, zones, memory sections and memory blocks.
    MemoryMap { map: MemoryMap },
    /// `-o`: each CPU's per-cpu offset.
    CpuOffsets { cpus: Vec<CpuOffset> },
    /// `-h`: huge page pools.
    HugePages { pools: Vec<HugePool> },
    /// `-g FLAGS`: the page flag bits set.
    PageFlags { flags: Hex, bits: Vec<PageFlagBit> },
    /// `-m member,...`: those struct page members of every page.
    PageMembers { members: Vec<String>, pages: Vec<PageMembers> },
}

/// One slab cache's totals (a `kmem -s` line).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CacheRow {
    /// The kmem_cache.
    pub cache: Hex,
    pub objsize: u32,
    pub allocated: u64,
    pub total: u64,
    pub slabs: u64,
    /// Size of one slab, KiB.
    pub ssize_kb: u64,
    pub name: String,
}

impl From<&out::CacheRow> for CacheRow {
    fn from(r: &out::CacheRow) -> Self {
        CacheRow {
            cache: hex(r.cache),
            objsize: r.objsize,
            allocated: r.allocated,
            total: r.total,
            slabs: r.slabs,
            ssize_kb: r.ssize_kb,
            name: r.name.clone(),
        }
    }
}

/// One slab.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SlabRow {
    /// The struct slab (struct page).
    pub slab: Hex,
    /// The slab's memory.
    pub memory: Hex,
    pub node: u32,
    pub total: u32,
    pub allocated: u32,
    pub free: u32,
}

impl From<&out::SlabRow> for SlabRow {
    fn from(r: &out::SlabRow) -> Self {
        SlabRow {
            slab: hex(r.slab),
            memory: hex(r.memory),
            node: r.node,
            total: r.total,
            allocated: r.allocated,
            free: r.free,
        }
    }
}

/// One object of a slab.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SlabObject {
    pub addr: Hex,
    pub free: bool,
    /// Free on this CPU's lockless freelist (SLUB) or in its array cache
    /// (SLAB).
    pub cpu_cache: Option<u32>,
    /// SLAB: free in its node's shared array cache.
    pub shared_cache: bool,
}

impl From<&out::ObjectRow> for SlabObject {
    fn from(o: &out::ObjectRow) -> Self {
        SlabObject { addr: hex(o.addr), free: o.free, cpu_cache: o.cpu_cache, shared_cache: o.shared_cache }
    }
}

/// One of SLAB's array caches: objects freed but still counted active by
/// their slabs.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ArrayCache {
    /// The CPU whose own cache this is; null for a node's shared cache.
    pub cpu: Option<u32>,
    /// The node whose shared cache this is; null for a CPU's.
    pub shared_node: Option<u32>,
    /// The `struct array_cache`.
    pub addr: Hex,
    pub avail: u32,
    pub limit: u32,
    /// The objects it holds (`avail` of them, at most `limit`).
    pub entries: Vec<Hex>,
}

impl From<&ArrayCacheData> for ArrayCache {
    fn from(a: &ArrayCacheData) -> Self {
        let (cpu, shared_node) = match a.holder {
            ArrayCacheHolder::Cpu(cpu) => (Some(cpu), None),
            ArrayCacheHolder::Shared { node } => (None, Some(node)),
        };
        ArrayCache { cpu, shared_node, addr: hex(a.addr), avail: a.avail, limit: a.limit, entries: hexes(&a.entries) }
    }
}

/// A slab with its objects (null for node partial-list slabs).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SlabDetail {
    pub slab: SlabRow,
    pub objects: Option<Vec<SlabObject>>,
}

impl From<&out::SlabDetail> for SlabDetail {
    fn from(d: &out::SlabDetail) -> Self {
        SlabDetail {
            slab: (&d.row).into(),
            objects: d.objects.as_ref().map(|o| o.iter().map(SlabObject::from).collect()),
        }
    }
}

/// `kmem -S` for one cache.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CacheDetail {
    pub cache: CacheRow,
    pub cpus: Vec<CpuSlabs>,
    /// SLAB's per-cpu and shared array caches; empty under SLUB.
    pub array_caches: Vec<ArrayCache>,
    pub nodes: Vec<NodeSlabs>,
}

/// One CPU's slabs of a cache.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CpuSlabs {
    pub cpu: u32,
    pub kmem_cache_cpu: Hex,
    /// The cpu slab.
    pub slab: Option<SlabDetail>,
    /// The per-cpu partial slabs.
    pub partial: Vec<SlabDetail>,
}

/// One node's slabs of a cache.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct NodeSlabs {
    pub node: u32,
    /// The kmem_cache_node.
    pub addr: Hex,
    pub slabs: u64,
    pub partial_count: u64,
    /// CPUs with a cpu slab.
    pub per_cpu: u64,
    pub partial: Vec<SlabRow>,
    /// SLAB's full slabs; null under SLUB, which does not track them.
    pub full: Option<Vec<SlabRow>>,
    /// SLAB's free slabs; null under SLUB, which keeps none.
    pub free: Option<Vec<SlabRow>>,
    /// SLAB: every slab of the lists above with its objects (crash shows
    /// them there); empty under SLUB.
    pub slab_objects: Vec<SlabDetail>,
}

impl From<&out::CacheDetail> for CacheDetail {
    fn from(c: &out::CacheDetail) -> Self {
        CacheDetail {
            cache: (&c.row).into(),
            cpus: c
                .cpus
                .iter()
                .map(|cpu| CpuSlabs {
                    cpu: cpu.cpu,
                    kmem_cache_cpu: hex(cpu.kmem_cache_cpu),
                    slab: cpu.slab.as_ref().map(SlabDetail::from),
                    partial: cpu.partial.iter().map(SlabDetail::from).collect(),
                })
                .collect(),
            array_caches: c.array_caches.iter().map(ArrayCache::from).collect(),
            nodes: c
                .nodes
                .iter()
                .map(|n| {
                    let rows = |v: &[out::SlabDetail]| v.iter().map(|d| SlabRow::from(&d.row)).collect::<Vec<_>>();
                    let all = n.partial.iter().chain(n.full.iter().flatten()).chain(n.free.iter().flatten());
                    NodeSlabs {
                        node: n.node,
                        addr: hex(n.addr),
                        slabs: n.slabs,
                        partial_count: n.partial_count,
                        per_cpu: n.per_cpu,
                        partial: rows(&n.partial),
                        full: n.full.as_deref().map(rows),
                        free: n.free.as_deref().map(rows),
                        slab_objects: all.filter(|d| d.objects.is_some()).map(SlabDetail::from).collect(),
                    }
                })
                .collect(),
        }
    }
}

/// What one address of `kmem ADDR` is.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AddressInfo {
    pub addr: Hex,
    /// In crash's order: symbol, task, vmalloc area, slab object, page.
    pub parts: Vec<AddressPart>,
}

/// One thing an address belongs to.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AddressPart {
    /// A kernel or module symbol.
    Symbol {
        symbol: super::system::SymbolLine,
    },
    /// A slab object: its cache, slab and object (null past the last object).
    Slab {
        cache: CacheRow,
        slab: SlabRow,
        object: Option<SlabObject>,
    },
    /// The task whose task_struct or stack holds the address.
    Task {
        task: TaskContext,
    },
    Vmalloc {
        area: VmapArea,
    },
    Page {
        page: Page,
    },
    /// No struct page maps the address.
    NotFound {},
}

/// A task an address belongs to.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TaskContext {
    pub pid: i32,
    pub comm: String,
    pub task: Hex,
    pub cpu: u32,
    pub state: TaskState,
    /// The panic task.
    pub panic: bool,
}

/// A vmalloc area.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VmapArea {
    pub vmap_area: Hex,
    pub vm_struct: Hex,
    pub start: Hex,
    pub end: Hex,
    /// Bytes.
    pub size: u64,
}

impl From<&out::VmapRow> for VmapArea {
    fn from(a: &out::VmapRow) -> Self {
        VmapArea {
            vmap_area: hex(a.vmap_area),
            vm_struct: hex(a.vm_struct),
            start: hex(a.start),
            end: hex(a.end),
            size: a.size,
        }
    }
}

fn address_part(p: &out::AddressPart) -> AddressPart {
    match p {
        out::AddressPart::Symbol { line } => AddressPart::Symbol { symbol: line.into() },
        out::AddressPart::Slab { cache, slab, object } => {
            AddressPart::Slab { cache: cache.into(), slab: slab.into(), object: object.as_ref().map(SlabObject::from) }
        }
        out::AddressPart::Task { context: c } => AddressPart::Task {
            task: TaskContext {
                pid: c.pid,
                comm: c.comm.clone(),
                task: hex(c.task),
                cpu: c.cpu,
                state: c.state.into(),
                panic: c.panic,
            },
        },
        out::AddressPart::Vmalloc { area } => AddressPart::Vmalloc { area: area.into() },
        out::AddressPart::Page { page } => AddressPart::Page { page: page.into() },
        out::AddressPart::NotFound { .. } => AddressPart::NotFound {},
    }
}

/// `kmem -i`, in pages.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MemInfo {
    pub total: u64,
    pub free: u64,
    pub buffers: u64,
    pub cached: u64,
    pub slab: u64,
    pub huge_total: u64,
    pub huge_free: u64,
    pub swap_total: u64,
    pub swap_used: u64,
    pub commit_limit: u64,
    pub committed: u64,
}

/// A zone as the `-f` and `-n` tables show it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ZoneRow {
    pub node: u32,
    pub index: u32,
    pub name: String,
    /// Spanned pages.
    pub size: u64,
    /// Free pages (NR_FREE_PAGES).
    pub free: u64,
    /// The struct page of the zone's first frame (0x0 for an empty zone).
    pub mem_map: Hex,
    pub start_pfn: u64,
    /// The zone's first frame counted from its node's first frame.
    pub start_mapnr: u64,
}

impl From<&mem::ZoneRow> for ZoneRow {
    fn from(z: &mem::ZoneRow) -> Self {
        ZoneRow {
            node: z.node,
            index: z.index,
            name: z.name.clone(),
            size: z.size,
            free: z.free,
            mem_map: hex(z.mem_map),
            start_pfn: z.start_pfn,
            start_mapnr: z.start_mapnr,
        }
    }
}

/// `kmem -f`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FreeAreas {
    pub zones: Vec<ZoneFreeAreas>,
    /// The zones' NR_FREE_PAGES summed.
    pub nr_free_pages: u64,
    /// Pages found on the free lists.
    pub found: u64,
}

/// One zone's free lists.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ZoneFreeAreas {
    pub zone: ZoneRow,
    pub lists: Vec<FreeList>,
}

/// One free list: an order and migrate type.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FreeList {
    pub order: u32,
    pub migrate_type: u32,
    /// The list head.
    pub addr: Hex,
    /// The first struct page of each free block.
    pub blocks: Vec<Hex>,
    /// Why the walk stopped early.
    pub broken: Option<String>,
}

/// `kmem -f ADDR`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FreeSearch {
    pub addr: Hex,
    /// The free block holding the address's page, if it is free.
    pub hit: Option<FreeBlock>,
}

/// A free block holding a page.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FreeBlock {
    pub zone: ZoneRow,
    pub order: u32,
    pub list: Hex,
    /// The block's first struct page.
    pub block: Hex,
    /// Index of the page in the block.
    pub page_index: u64,
}

/// A named counter.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Counter {
    pub name: String,
    pub value: i64,
}

fn counters(v: &[mem::Counter]) -> Vec<Counter> {
    v.iter().map(|c| Counter { name: c.name.clone(), value: c.value }).collect()
}

/// `kmem -V`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VmStats {
    pub zone: Vec<Counter>,
    pub node: Vec<Counter>,
    /// `vm_numa_stat` (kernels up to 5.13); empty on later kernels.
    pub numa: Vec<Counter>,
    pub events: Vec<Counter>,
}

/// A memory zone.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Zone {
    pub node: u32,
    pub index: u32,
    /// The struct zone.
    pub addr: Hex,
    pub name: String,
    pub start_pfn: u64,
    pub spanned_pages: u64,
    pub present_pages: u64,
    pub managed_pages: u64,
    pub watermarks: Watermarks,
    pub free_pages: u64,
}

/// A zone's watermarks, in pages.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Watermarks {
    pub min: u64,
    pub low: u64,
    pub high: u64,
}

impl From<&mem::Zone> for Zone {
    fn from(z: &mem::Zone) -> Self {
        Zone {
            node: z.node,
            index: z.index,
            addr: hex(z.addr),
            name: z.name.clone(),
            start_pfn: z.start_pfn,
            spanned_pages: z.spanned_pages,
            present_pages: z.present_pages,
            managed_pages: z.managed_pages,
            watermarks: Watermarks { min: z.watermarks[0], low: z.watermarks[1], high: z.watermarks[2] },
            free_pages: z.free_pages,
        }
    }
}

/// One zone of `kmem -z`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ZoneStat {
    pub zone: Zone,
    pub vm_stat: Vec<Counter>,
}

/// `kmem -n`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MemoryMap {
    pub nodes: Vec<MemoryNode>,
    /// The struct page of each node's first frame.
    pub node_mem_maps: Vec<Hex>,
    pub zones: Vec<ZoneRow>,
    pub sections: Vec<MemSection>,
    pub blocks: Vec<MemoryBlock>,
}

/// A memory node.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MemoryNode {
    pub id: u32,
    pub pgdat: Hex,
    pub start_pfn: u64,
    pub spanned_pages: u64,
    pub present_pages: u64,
    pub zones: Vec<Zone>,
}

/// A present memory section.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MemSection {
    pub nr: u64,
    /// The struct mem_section.
    pub addr: Hex,
    /// `section_mem_map` as stored (encoded, with flag bits).
    pub coded_mem_map: Hex,
    /// The section's first struct page.
    pub mem_map: Hex,
    pub start_pfn: u64,
    /// crash's state letters (P, M, O, E).
    pub state: String,
}

/// A memory block (sysfs `memoryN`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MemoryBlock {
    pub addr: Hex,
    pub name: String,
    pub start_section: u64,
    /// Physical start and end.
    pub start: Hex,
    pub end: Hex,
    pub node: i32,
    pub state: String,
}

/// One CPU's `__per_cpu_offset`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CpuOffset {
    pub cpu: u32,
    pub offset: Hex,
    pub online: bool,
}

/// A huge page pool (hstate).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct HugePool {
    pub hstate: Hex,
    pub order: u32,
    pub free: u64,
    pub total: u64,
    pub name: String,
}

/// One `enum pageflags` bit.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PageFlagBit {
    pub name: String,
    pub bit: u32,
}

/// One page's members (`kmem -m`): each member's 64-bit words.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PageMembers {
    pub page: Hex,
    pub values: Vec<Vec<Hex>>,
}

/// A problem met while reading slabs or free lists.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KmemNote {
    /// A SLUB freelist pointer that does not lead to a free object of its slab.
    Freelist {
        // Flattened (not a newtype variant) so the schema lists the fields
        // beside `kind` in one object.
        #[serde(flatten)]
        problem: FreelistProblem,
    },
    /// A buddy free list whose walk stopped early.
    FreeArea { zone: String, order: u32, list: Hex, problem: String },
    /// A cache left out because its slabs could not be read (`error` says where and why).
    UnreadableCache { cache: String, error: String },
    /// The cache list could not be read whole: a broken link or a cache left out.
    CacheList { problem: String },
    /// A node's slab list whose walk stopped early (`why` names the list
    /// and the break); the slabs before it are shown.
    SlabListBreak { cache: String, node: u32, why: String },
}

/// A SLUB freelist pointer that does not lead to a free object of its slab.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FreelistProblem {
    pub cache: String,
    pub slab: Hex,
    pub owner: FreelistOwner,
    /// The word holding the bad pointer.
    pub stored_at: Hex,
    /// Its bytes (encoded when the freelist is hardened).
    pub raw: Hex,
    /// The pointer after decoding.
    pub decoded: Hex,
    pub reason: FreelistReason,
    /// What the raw bytes look like.
    pub looks_like: ValueLooks,
    /// For a bad chain head: the free object whose free pointer decoded into it.
    pub source_object: Option<Hex>,
    /// The raw value was inferred (the source object was reused since).
    pub inferred: bool,
    /// Another place in the slab holding the same bytes.
    pub witness: Option<Hex>,
    /// Text found in the object holding the bad word.
    pub object_text: Option<String>,
}

/// Which freelist.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FreelistOwner {
    /// A CPU's lockless freelist.
    Cpu { cpu: u32, kmem_cache_cpu: Hex },
    /// `slab->freelist`.
    Slab,
}

/// Why a freelist pointer cannot be followed.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FreelistReason {
    NonCanonical,
    OutsideSlab,
    Misaligned,
    Duplicate,
}

/// What 8 bytes look like.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ValueLooks {
    Null,
    Utf16Text {
        text: String,
    },
    AsciiText {
        text: String,
    },
    /// Every byte one slab poison value (its name).
    SlabPoison {
        text: String,
    },
    ListPoison {
        text: String,
    },
    NonCanonical,
    KernelAddress,
    Other,
}

impl From<&krash_linux::mm::slab::freelist::FreelistProblem> for FreelistProblem {
    fn from(p: &krash_linux::mm::slab::freelist::FreelistProblem) -> Self {
        use krash_linux::mm::slab::freelist::{FreelistOwner as O, ProblemReason as R};
        use krash_linux::mm::slab::looks::ValueLooks as L;
        FreelistProblem {
            cache: p.cache.clone(),
            slab: hex(p.slab),
            owner: match p.owner {
                O::Cpu { cpu, kmem_cache_cpu } => FreelistOwner::Cpu { cpu, kmem_cache_cpu: hex(kmem_cache_cpu) },
                O::Slab => FreelistOwner::Slab,
            },
            stored_at: hex(p.stored_at),
            raw: hex(p.raw),
            decoded: hex(p.decoded),
            reason: match p.reason {
                R::NonCanonical => FreelistReason::NonCanonical,
                R::OutsideSlab => FreelistReason::OutsideSlab,
                R::Misaligned => FreelistReason::Misaligned,
                R::Duplicate => FreelistReason::Duplicate,
            },
            looks_like: match &p.looks_like {
                L::Null => ValueLooks::Null,
                L::Utf16Text(t) => ValueLooks::Utf16Text { text: t.clone() },
                L::AsciiText(t) => ValueLooks::AsciiText { text: t.clone() },
                L::SlabPoison(t) => ValueLooks::SlabPoison { text: t.clone() },
                L::ListPoison(t) => ValueLooks::ListPoison { text: t.clone() },
                L::NonCanonical => ValueLooks::NonCanonical,
                L::KernelAddress => ValueLooks::KernelAddress,
                L::Other => ValueLooks::Other,
            },
            source_object: opt_hex(p.source_object),
            inferred: p.inferred,
            witness: opt_hex(p.witness),
            object_text: p.object_text.clone(),
        }
    }
}

fn note(n: &out::KmemNote) -> KmemNote {
    match n {
        out::KmemNote::Freelist(p) => KmemNote::Freelist { problem: p.into() },
        out::KmemNote::FreeArea(p) => {
            KmemNote::FreeArea { zone: p.zone.clone(), order: p.order, list: hex(p.list), problem: p.problem.clone() }
        }
        out::KmemNote::UnreadableCache { cache, error } => {
            KmemNote::UnreadableCache { cache: cache.clone(), error: error.clone() }
        }
        out::KmemNote::CacheList { problem } => KmemNote::CacheList { problem: problem.clone() },
        out::KmemNote::SlabListBreak { cache, node, why } => {
            KmemNote::SlabListBreak { cache: cache.clone(), node: *node, why: why.clone() }
        }
    }
}

fn zone_rows(v: &[mem::ZoneRow]) -> Vec<ZoneRow> {
    v.iter().map(ZoneRow::from).collect()
}

fn result(k: &out::Kmem) -> KmemResult {
    match k {
        out::Kmem::Caches { rows } => KmemResult::Caches { rows: rows.iter().map(CacheRow::from).collect() },
        out::Kmem::CacheDetail { caches } => {
            KmemResult::CacheDetail { caches: caches.iter().map(CacheDetail::from).collect() }
        }
        out::Kmem::Address { addresses } => KmemResult::Address {
            addresses: addresses
                .iter()
                .map(|a| AddressInfo { addr: hex(a.addr), parts: a.parts.iter().map(address_part).collect() })
                .collect(),
        },
        out::Kmem::Vmalloc { areas } => KmemResult::Vmalloc { areas: areas.iter().map(VmapArea::from).collect() },
        out::Kmem::Pages { pages } => KmemResult::Pages { pages: super::common::pages(pages) },
        out::Kmem::MemInfo { info: i } => KmemResult::MemInfo {
            info: MemInfo {
                total: i.total,
                free: i.free,
                buffers: i.buffers,
                cached: i.cached,
                slab: i.slab,
                huge_total: i.huge_total,
                huge_free: i.huge_free,
                swap_total: i.swap_total,
                swap_used: i.swap_used,
                commit_limit: i.commit_limit,
                committed: i.committed,
            },
        },
        out::Kmem::FreeAreas { areas } => KmemResult::FreeAreas {
            areas: FreeAreas {
                zones: areas
                    .zones
                    .iter()
                    .map(|z| ZoneFreeAreas {
                        zone: (&z.row).into(),
                        lists: z
                            .lists
                            .iter()
                            .map(|l| FreeList {
                                order: l.order,
                                migrate_type: l.migrate_type,
                                addr: hex(l.addr),
                                blocks: hexes(&l.blocks),
                                broken: l.broken.clone(),
                            })
                            .collect(),
                    })
                    .collect(),
                nr_free_pages: areas.nr_free_pages,
                found: areas.found,
            },
        },
        out::Kmem::FreeSearch { search } => KmemResult::FreeSearch {
            search: FreeSearch {
                addr: hex(search.addr),
                hit: search.hit.as_ref().map(|h| FreeBlock {
                    zone: (&h.row).into(),
                    order: h.order,
                    list: hex(h.list),
                    block: hex(h.block),
                    page_index: h.page_index,
                }),
            },
        },
        out::Kmem::VmStats { stats } => KmemResult::VmStats {
            stats: VmStats {
                zone: counters(&stats.zone),
                node: counters(&stats.node),
                numa: counters(&stats.numa),
                events: counters(&stats.events),
            },
        },
        out::Kmem::Zones { zones } => KmemResult::Zones {
            zones: zones.iter().map(|z| ZoneStat { zone: (&z.zone).into(), vm_stat: counters(&z.vm_stat) }).collect(),
        },
        out::Kmem::MemoryMap { map } => KmemResult::MemoryMap {
            map: MemoryMap {
                nodes: map
                    .nodes
                    .iter()
                    .map(|n| MemoryNode {
                        id: n.id,
                        pgdat: hex(n.pgdat),
                        start_pfn: n.start_pfn,
                        spanned_pages: n.spanned_pages,
                        present_pages: n.present_pages,
                        zones: n.zones.iter().map(Zone::from).collect(),
                    })
                    .collect(),
                node_mem_maps: hexes(&map.node_mem_maps),
                zones: zone_rows(&map.zones),
                sections: map
                    .sections
                    .iter()
                    .map(|s| MemSection {
                        nr: s.nr,
                        addr: hex(s.addr),
                        coded_mem_map: hex(s.coded_mem_map),
                        mem_map: hex(s.mem_map),
                        start_pfn: s.start_pfn,
                        state: s.state.clone(),
                    })
                    .collect(),
                blocks: map
                    .blocks
                    .iter()
                    .map(|b| MemoryBlock {
                        addr: hex(b.addr),
                        name: b.name.clone(),
                        start_section: b.start_section,
                        start: hex(b.start),
                        end: hex(b.end),
                        node: b.node,
                        state: b.state.clone(),
                    })
                    .collect(),
            },
        },
        out::Kmem::CpuOffsets { cpus } => KmemResult::CpuOffsets {
            cpus: cpus.iter().map(|c| CpuOffset { cpu: c.cpu, offset: hex(c.offset), online: c.online }).collect(),
        },
        out::Kmem::HugePages { pools } => KmemResult::HugePages {
            pools: pools
                .iter()
                .map(|p| HugePool {
                    hstate: hex(p.hstate),
                    order: p.order,
                    free: p.free,
                    total: p.total,
                    name: p.name.clone(),
                })
                .collect(),
        },
        out::Kmem::PageFlags { decode } => KmemResult::PageFlags {
            flags: hex(decode.flags),
            bits: decode.bits.iter().map(|b| PageFlagBit { name: b.name.clone(), bit: b.bit }).collect(),
        },
        out::Kmem::PageMembers { members, pages } => KmemResult::PageMembers {
            members: members.clone(),
            pages: pages
                .iter()
                .map(|p| PageMembers { page: hex(p.page), values: p.values.iter().map(|v| hexes(v)).collect() })
                .collect(),
        },
    }
}

impl From<&out::KmemOutput> for KmemData {
    fn from(k: &out::KmemOutput) -> Self {
        KmemData { result: result(&k.result), notes: k.notes.iter().map(note).collect() }
    }
}
