//! The slab allocators as a dump shows them. SLUB: caches from `slab_caches`, slabs
//! (a `struct slab` overlaying the head `struct page`, or the head page
//! itself before 5.17), per-cpu `kmem_cache_cpu` freelists and partial
//! lists (or 7.x's per-cpu sheaves), per-node partial lists. Free objects
//! are found by walking the freelists; a pointer that does not lead to an
//! object of the same slab is reported (see [`freelist`]), never silently
//! ending the walk.
//!
//! SLAB (the allocator before SLUB became the only one, gone in 6.8; the
//! shape of RHEL 7 and other older or smaller kernels): the same cache list;
//! a slab's objects start at `s_mem`, `active` of them are handed out and the
//! indexes of the others are `freelist[active..num]`; the per-cpu and
//! per-node `array_cache`s hold freed objects that their slab still counts
//! as active; every slab is on its node's full, partial or free list.
//!
//! Kernels differ in where all this lives; [`SlabVariants`] names the
//! differences, probed once from the types, and the model reads through
//! the offsets resolved for them. The slab marker (PG_slab flag or
//! `PGTY_slab` page type), the counters' bitfields and the red-zone flag
//! come from the kernel's `pageflag_names` and types too.

use crate::mm::page::PageExt;
use crate::mm::slab::freelist::FreelistExt;
pub mod freelist;
#[cfg(test)]
mod fuzz_regressions;
pub mod looks;
#[cfg(test)]
pub(crate) mod testkit;

use std::collections::{HashMap, HashSet};

use krash_core::{Error, Result, VirtualMemory};
use serde::Serialize;

use krash_program::layout::Layouts;
use krash_program::list::{self, WalkOptions};
use krash_program::Kernel;

pub use freelist::{FreelistOwner, FreelistProblem, ProblemReason};
pub use looks::ValueLooks;

/// Most caches krash accepts on `slab_caches` (real kernels have a few hundred).
const MAX_CACHES: usize = 1 << 14;
/// Longest per-cpu partial chain or node partial list walked.
const MAX_LIST_SLABS: usize = 1 << 20;
/// Largest slab krash reads whole (order 10 of 4 KiB pages).
const MAX_SLAB_BYTES: u64 = 4 << 20;
/// `PGTY_slab` of 6.10 through 7.2 (`enum pagetype`, the top byte of
/// `page_type` for slab pages), for types that lack the enum.
const PAGE_TYPE_SLAB: u32 = 0xf5;
/// Most objects a SLAB slab can hold (16-bit free indexes).
const MAX_CLASSIC_OBJECTS: u32 = 1 << 16;
/// Most entries read from one SLAB `array_cache` (real limits are in the hundreds).
const MAX_ARRAY_CACHE: u32 = 1 << 16;
/// Most sheaves walked on one node's barn list (7.x).
const MAX_BARN_SHEAVES: usize = 1 << 16;
/// Most freed objects listed from one cache's array caches (SLAB) or
/// sheaves (7.x): real ones hold tens to hundreds of objects, and a cache
/// has a few per CPU and node; 8192 CPUs with full 64 Ki-entry array caches
/// (corrupt per-cpu offsets all leading to one) would list 4 GiB.
const MAX_CACHED_OBJECTS: usize = 1 << 20;

/// Which allocator the kernel was built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Allocator {
    /// CONFIG_SLUB (every kernel since 6.8, and most distribution kernels).
    Slub,
    /// CONFIG_SLAB (up to 6.7): `kmem_cache.cpu_cache` and `num`.
    Slab,
}

/// One `struct kmem_cache`.
#[derive(Debug, Clone, Serialize)]
pub struct SlabCache {
    pub addr: u64,
    pub name: String,
    pub object_size: u32,
    /// Object stride in the slab (`size`), metadata included.
    pub size: u32,
    /// Offset of the free pointer in a free object.
    pub offset: u32,
    /// Objects per slab and page order (`oo`).
    pub objects_per_slab: u32,
    pub order: u32,
    /// `CONFIG_SLAB_FREELIST_HARDENED` key (0 when not hardened).
    pub random: u64,
    pub flags: u64,
    /// `SLAB_RED_ZONE` is set in `flags` (its bit is this kernel's).
    pub red_zone: bool,
    pub red_left_pad: u32,
    /// The per-cpu `kmem_cache_cpu` pointer (an offset into per-cpu
    /// areas); 7.x's `cpu_sheaves` pointer there.
    pub cpu_slab: u64,
    /// `kmem_cache_node` pointers, index = node id (0 where absent).
    pub nodes: Vec<u64>,
    /// SLAB: bytes of one entry of a slab's free-index array
    /// (`freelist_size / num`: 1 or 2); 0 under SLUB.
    pub free_index_size: u32,
    /// The kernel's base page size (4, 16 or 64 KiB on arm64): a slab of
    /// order N is `page_size << N` bytes.
    pub page_size: u64,
}

impl SlabCache {
    /// Bytes in one slab of the cache's default order.
    pub fn slab_bytes(&self) -> u64 {
        self.page_size << self.order.min(20)
    }

    /// Bytes before each object's start (the left red zone under SLAB_RED_ZONE).
    pub fn left_pad(&self) -> u64 {
        if self.red_zone {
            u64::from(self.red_left_pad)
        } else {
            0
        }
    }
}

/// One slab: its `struct slab` (head page) and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Slab {
    pub addr: u64,
    pub cache: u64,
    /// Direct-map address of the slab's memory (the first object).
    pub base: u64,
    pub objects: u32,
    pub inuse: u32,
    pub frozen: bool,
    /// `slab->freelist` (a plain pointer, not encoded).
    pub freelist: u64,
    pub node: u32,
}

/// A slab object an address falls in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlabObject {
    pub cache: u64,
    pub cache_name: String,
    pub slab: u64,
    pub object_start: u64,
    pub index: u32,
    pub allocated: bool,
}

/// One CPU's `kmem_cache_cpu` of a cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CpuSlabs {
    pub cpu: u32,
    pub kmem_cache_cpu: u64,
    pub freelist: u64,
    /// The cpu slab (0 when none).
    pub slab: u64,
    /// The per-cpu partial slabs, in chain order.
    pub partial: Vec<u64>,
}

/// One node's `kmem_cache_node` of a cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeSlabs {
    pub node: u32,
    pub addr: u64,
    pub nr_slabs: u64,
    pub nr_partial: u64,
    pub total_objects: u64,
    pub partial: Vec<u64>,
    /// Why the partial list walk stopped early, if it did.
    pub partial_break: Option<String>,
    /// SLAB's full and free slab lists (SLUB tracks neither).
    pub classic: Option<ClassicNodeLists>,
}

/// The slab lists a SLAB node keeps besides the partial one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClassicNodeLists {
    pub full: Vec<u64>,
    pub free: Vec<u64>,
    /// Why a walk stopped early (`slabs_full: ...`), if one did.
    pub broken: Vec<String>,
}

/// Who owns one of SLAB's `array_cache`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ArrayCacheHolder {
    /// A CPU's own cache (`kmem_cache.cpu_cache`).
    Cpu(u32),
    /// A node's cache shared by its CPUs (`kmem_cache_node.shared`).
    Shared { node: u32 },
}

/// One SLAB `array_cache`: objects freed but still counted active by their
/// slabs, handed out again before the slabs are looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArrayCache {
    pub holder: ArrayCacheHolder,
    pub addr: u64,
    pub avail: u32,
    pub limit: u32,
    /// The `avail` entries (at most `limit`), most recently freed last;
    /// fewer when the cache's array caches hold more than
    /// `MAX_CACHED_OBJECTS` in all.
    pub entries: Vec<u64>,
}

/// A cache's object counts as crash's `kmem -s` computes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheTotals {
    pub allocated: u64,
    pub total: u64,
    pub slabs: u64,
    /// Problems met while counting (bad per-cpu freelists).
    pub problems: Vec<FreelistProblem>,
    /// Slab lists that could not be walked to their end (SLAB).
    pub list_problems: Vec<String>,
}

/// Which struct holds a slab's SLUB fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SlabVariant {
    /// 5.17 and later: `struct slab` (mm/slab.h), overlaying the head
    /// `struct page`: `slab_cache`, `freelist`, `counters` (with the
    /// `inuse:16, objects:15, frozen:1` bitfields), `slab_list`, `next`.
    SlabStruct,
    /// Before 5.17: the same members inside `struct page`'s slab union
    /// (`page.slab_cache`, `page.freelist`, `page.counters`,
    /// `page.slab_list`, `page.next`).
    PageStruct,
}

impl SlabVariant {
    /// The struct the model reads slab members from.
    pub fn struct_name(self) -> &'static str {
        match self {
            SlabVariant::SlabStruct => "slab",
            SlabVariant::PageStruct => "page",
        }
    }
}

/// Where a cache keeps what each CPU holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CpuCacheVariant {
    /// Up to 6.x: `kmem_cache.cpu_slab`, a per-cpu `struct
    /// kmem_cache_cpu` with a cpu slab (`slab`, `page` before 5.17), its
    /// lockless `freelist` and (CONFIG_SLUB_CPU_PARTIAL) a `partial` chain.
    CpuSlab,
    /// 7.x: `kmem_cache.cpu_sheaves`, a per-cpu `struct
    /// slub_percpu_sheaves` whose `main` and `spare` sheaves
    /// (`struct slab_sheaf`: `size`, `objects[]`) hold free objects; there
    /// is no cpu slab and no per-cpu partial list.
    Sheaves,
    /// SLAB: `kmem_cache.cpu_cache`, a per-cpu `struct array_cache` of
    /// freed object pointers (`avail`, `entry[]`), and one shared per node.
    ArrayCache,
}

/// Where a cache keeps its per-node `struct kmem_cache_node`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeVariant {
    /// Up to 6.x: `struct kmem_cache_node *node[MAX_NUMNODES]`.
    NodeArray,
    /// 7.x: `struct kmem_cache_per_node_ptrs per_node[MAX_NUMNODES]`,
    /// each with `node` and the node's sheaf `barn`.
    PerNode,
}

/// The slab layout variants a kernel has, each probed from its types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SlabVariants {
    pub allocator: Allocator,
    pub slab: SlabVariant,
    pub cpu: CpuCacheVariant,
    pub node: NodeVariant,
}

impl SlabVariants {
    /// The variants a kernel with these layouts has (the probe the slab
    /// model runs once, exposed for tests and reports).
    pub fn probe(l: &Layouts) -> Result<SlabVariants> {
        Ok(SlabLayout::probe(l)?.variants)
    }
}

/// A bitfield of the counters word: `width` bits from bit `shift`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counter {
    shift: u32,
    width: u32,
}

impl Counter {
    fn get(self, word: u64) -> u64 {
        let mask = if self.width >= 64 { u64::MAX } else { (1u64 << self.width) - 1 };
        word.checked_shr(self.shift).unwrap_or(0) & mask
    }
}

/// What a cache's per-CPU state looks like, resolved once.
#[derive(Debug, Clone)]
pub(crate) enum CpuLayout {
    CpuSlab { freelist: u64, slab: u64, partial: Option<u64> },
    Sheaves { main: u64, spare: u64, sheaf_size: u64 },
    ArrayCache { avail: u64, limit: u64, entry: u64 },
}

/// What only SLAB (the allocator) has, resolved once.
#[derive(Debug, Clone)]
pub(crate) struct ClassicLayout {
    /// `slab.s_mem`, the first object.
    slab_s_mem: u64,
    /// `kmem_cache_node.slabs_partial`, `slabs_full`, `slabs_free`.
    node_lists: [u64; 3],
    /// `kmem_cache_node.shared` (an `array_cache` pointer).
    node_shared: u64,
}

/// Every member offset the SLUB model reads, resolved once per kernel for
/// its [`SlabVariants`]; the code paths read through it.
#[derive(Debug, Clone)]
pub(crate) struct SlabLayout {
    variants: SlabVariants,
    slab_cache: u64,
    slab_freelist: u64,
    slab_counters: u64,
    slab_list: u64,
    /// Link of the per-cpu partial chain (`next`), when the kernel has one.
    slab_next: Option<u64>,
    inuse: Counter,
    objects: Counter,
    frozen: Option<Counter>,
    cpu: CpuLayout,
    /// `kmem_cache.node` or `kmem_cache.per_node`, the entry stride, and
    /// where the `kmem_cache_node` pointer sits in an entry.
    node_array: u64,
    node_stride: u64,
    node_ptr: u64,
    /// `kmem_cache_per_node_ptrs.barn` (7.x).
    node_barn: Option<u64>,
    /// `kmem_cache_node.nr_partial` (SLUB only).
    node_nr_partial: Option<u64>,
    node_partial: u64,
    node_nr_slabs: Option<u64>,
    node_total_objects: Option<u64>,
    /// The `SLAB_RED_ZONE` bit of `kmem_cache.flags`.
    red_zone_flag: u64,
    /// SLAB's own members (None under SLUB).
    classic: Option<ClassicLayout>,
}

/// `SLAB_RED_ZONE` while it was a plain `#define` (up to 6.8); 6.9 made it
/// `1 << _SLAB_RED_ZONE` of `enum _slab_flag_bits` (bit 1 on 6.12 and 7.2).
const SLAB_RED_ZONE_DEFINE: u64 = 0x400;

impl SlabLayout {
    /// Probes the variants from the types and resolves their members.
    pub(crate) fn probe(l: &Layouts) -> Result<SlabLayout> {
        if l.has_field("kmem_cache", "cpu_cache") && l.has_field("kmem_cache", "num") {
            return Self::probe_classic(l);
        }
        let cpu_variant = if l.has_field("kmem_cache", "cpu_slab") {
            CpuCacheVariant::CpuSlab
        } else if l.has_field("kmem_cache", "cpu_sheaves") {
            CpuCacheVariant::Sheaves
        } else {
            return Err(Error::Unsupported(
                "struct kmem_cache has neither cpu_slab, cpu_sheaves (SLUB) nor cpu_cache (SLAB): \
                 the SLOB allocator is not supported"
                    .into(),
            ));
        };
        let slab = if l.has_field("slab", "slab_cache") {
            SlabVariant::SlabStruct
        } else if l.has_field("page", "slab_cache") {
            SlabVariant::PageStruct
        } else {
            return Err(Error::MissingDebuginfo(
                "neither struct slab (5.17+) nor struct page (before 5.17) has slab_cache".into(),
            ));
        };
        let node = if l.has_field("kmem_cache", "node") {
            NodeVariant::NodeArray
        } else if l.has_field("kmem_cache", "per_node") {
            NodeVariant::PerNode
        } else {
            return Err(Error::MissingDebuginfo("struct kmem_cache has neither node[] nor per_node[]".into()));
        };
        let s = slab.struct_name();
        let slab_counters = l.offset(s, "counters")?;
        let counter = |name: &str| -> Result<Counter> {
            let f = l.field(s, name)?;
            let (bit, width) =
                f.bits.ok_or_else(|| Error::bad_data(format!("struct {s}"), format!("{name} is not a bitfield")))?;
            let shift = f
                .offset
                .checked_sub(slab_counters)
                .and_then(|bytes| bytes.checked_mul(8))
                .and_then(|bits| bits.checked_add(u64::from(bit)))
                .and_then(|shift| u32::try_from(shift).ok())
                .filter(|&shift| width > 0 && shift.checked_add(width).is_some_and(|end| end <= 64))
                .ok_or_else(|| {
                    Error::bad_data(format!("struct {s}"), format!("{name} does not lie in the counters word"))
                })?;
            Ok(Counter { shift, width })
        };
        let cpu = match cpu_variant {
            CpuCacheVariant::CpuSlab => {
                let slab_member = if l.has_field("kmem_cache_cpu", "slab") { "slab" } else { "page" };
                CpuLayout::CpuSlab {
                    freelist: l.offset("kmem_cache_cpu", "freelist")?,
                    slab: l.offset("kmem_cache_cpu", slab_member)?,
                    partial: l.offset("kmem_cache_cpu", "partial").ok(),
                }
            }
            CpuCacheVariant::Sheaves => CpuLayout::Sheaves {
                main: l.offset("slub_percpu_sheaves", "main")?,
                spare: l.offset("slub_percpu_sheaves", "spare")?,
                sheaf_size: l.offset("slab_sheaf", "size")?,
            },
            // Probed above as SLAB, which probe_classic resolves.
            CpuCacheVariant::ArrayCache => {
                return Err(Error::bad_data("struct kmem_cache", "SLAB's cpu_cache in a SLUB layout"))
            }
        };
        let (node_array, node_stride, node_ptr, node_barn) = match node {
            NodeVariant::NodeArray => (l.offset("kmem_cache", "node")?, 8, 0, None),
            NodeVariant::PerNode => (
                l.offset("kmem_cache", "per_node")?,
                l.size_of("kmem_cache_per_node_ptrs")?,
                l.offset("kmem_cache_per_node_ptrs", "node")?,
                l.offset("kmem_cache_per_node_ptrs", "barn").ok(),
            ),
        };
        let red_zone_flag = match l.types().map(|t| t.find_enumerator("_SLAB_RED_ZONE")) {
            Some(Ok(Some((_, bit)))) => u32::try_from(bit)
                .ok()
                .and_then(|b| 1u64.checked_shl(b))
                .ok_or_else(|| Error::bad_data("enum _slab_flag_bits", format!("_SLAB_RED_ZONE is {bit}")))?,
            _ => SLAB_RED_ZONE_DEFINE,
        };
        Ok(SlabLayout {
            variants: SlabVariants { allocator: Allocator::Slub, slab, cpu: cpu_variant, node },
            slab_cache: l.offset(s, "slab_cache")?,
            slab_freelist: l.offset(s, "freelist")?,
            slab_counters,
            slab_list: l.offset(s, "slab_list")?,
            slab_next: l.offset(s, "next").ok(),
            inuse: counter("inuse")?,
            objects: counter("objects")?,
            frozen: counter("frozen").ok(),
            cpu,
            node_array,
            node_stride,
            node_ptr,
            node_barn,
            node_nr_partial: Some(l.offset("kmem_cache_node", "nr_partial")?),
            node_partial: l.offset("kmem_cache_node", "partial")?,
            node_nr_slabs: l.offset("kmem_cache_node", "nr_slabs").ok(),
            node_total_objects: l.offset("kmem_cache_node", "total_objects").ok(),
            red_zone_flag,
            classic: None,
        })
    }

    /// SLAB (the allocator): `struct slab` (5.17+, or `struct page` before)
    /// with `s_mem`, `active` and the free-index array in `freelist`.
    fn probe_classic(l: &Layouts) -> Result<SlabLayout> {
        let slab = if l.has_field("slab", "s_mem") {
            SlabVariant::SlabStruct
        } else if l.has_field("page", "s_mem") {
            SlabVariant::PageStruct
        } else {
            return Err(Error::MissingDebuginfo("SLAB kernel: neither struct slab nor struct page has s_mem".into()));
        };
        let s = slab.struct_name();
        let active = l.offset(s, "active")?;
        let partial = l.offset("kmem_cache_node", "slabs_partial")?;
        Ok(SlabLayout {
            variants: SlabVariants {
                allocator: Allocator::Slab,
                slab,
                cpu: CpuCacheVariant::ArrayCache,
                node: NodeVariant::NodeArray,
            },
            slab_cache: l.offset(s, "slab_cache")?,
            slab_freelist: l.offset(s, "freelist")?,
            // `active` is an unsigned int: read as the low half of the word.
            slab_counters: active,
            slab_list: l.offset(s, "slab_list").or_else(|_| l.offset(s, "lru"))?,
            slab_next: None,
            inuse: Counter { shift: 0, width: 32 },
            objects: Counter { shift: 0, width: 0 },
            frozen: None,
            cpu: CpuLayout::ArrayCache {
                avail: l.offset("array_cache", "avail")?,
                limit: l.offset("array_cache", "limit")?,
                entry: l.offset("array_cache", "entry")?,
            },
            node_array: l.offset("kmem_cache", "node")?,
            node_stride: 8,
            node_ptr: 0,
            node_barn: None,
            node_nr_partial: None,
            node_partial: partial,
            node_nr_slabs: l.offset("kmem_cache_node", "total_slabs").ok(),
            node_total_objects: None,
            red_zone_flag: SLAB_RED_ZONE_DEFINE,
            classic: Some(ClassicLayout {
                slab_s_mem: l.offset(s, "s_mem")?,
                node_lists: [
                    partial,
                    l.offset("kmem_cache_node", "slabs_full")?,
                    l.offset("kmem_cache_node", "slabs_free")?,
                ],
                node_shared: l.offset("kmem_cache_node", "shared")?,
            }),
        })
    }
}

/// The cache list and layout, read on first use.
pub(crate) struct SlabState {
    off: SlabLayout,
    caches: Vec<SlabCache>,
    by_addr: HashMap<u64, usize>,
    cpus: Vec<(u32, u64)>,
    /// `pageflag_names` mask of "slab" (kernels before 6.10).
    pg_slab: Option<u64>,
    /// `PGTY_slab` (6.10+), from `enum pagetype` when the types have it.
    page_type_slab: u32,
    /// What the walk of `slab_caches` could not read: a broken link, a
    /// `kmem_cache` left out (a page filtered out of the dump).
    list_problems: Vec<String>,
}

/// The slab model as read from the dump, kept in the kernel's state cache.
struct CachedSlabState(Result<SlabState>);

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait SlabExt {
    /// Every cache on `slab_caches`, in list order (newest first).
    fn slab_caches(&self) -> Result<&[SlabCache]>;
    /// What the walk of the cache list could not read (empty when whole).
    fn slab_cache_list_problems(&self) -> Result<&[String]>;
    /// The cache whose `struct kmem_cache` is at `addr`.
    fn slab_cache_at(&self, addr: u64) -> Option<&SlabCache>;
    /// The cache named `name`.
    fn slab_cache_named(&self, name: &str) -> Option<&SlabCache>;
    /// The slab (head page) holding the memory at `vaddr`, if it is slab memory.
    fn slab_of(&self, vaddr: u64) -> Option<Slab>;
    /// The slab whose `struct slab` is at `addr`, if it is a slab of a known cache.
    fn slab_at_page(&self, addr: u64) -> Result<Option<Slab>>;
    /// The cache of the slab memory at `vaddr` (crash's `vaddr_to_kmem_cache`).
    fn slab_cache_of(&self, vaddr: u64) -> Option<&SlabCache>;
    /// The slab object holding `addr`: its cache, start and allocation state.
    fn slab_object(&self, addr: u64) -> Option<SlabObject>;
    /// `kmem_cache_cpu` of every possible CPU for a cache.
    fn cache_cpu_slabs(&self, cache: &SlabCache) -> Result<Vec<CpuSlabs>>;
    /// Each node's `kmem_cache_node` of a cache, with its partial slabs.
    fn cache_node_slabs(&self, cache: &SlabCache) -> Result<Vec<NodeSlabs>>;
    /// crash's `kmem -s` numbers for one cache: TOTAL and SLABS from the
    /// node counters, ALLOCATED = TOTAL minus the free objects of cpu
    /// slabs, per-cpu partial slabs and node partial slabs.
    fn cache_totals(&self, cache: &SlabCache) -> Result<CacheTotals>;
    /// Reads the `struct slab` at `addr` (of cache `cache`).
    fn read_slab(&self, addr: u64, cache: u64) -> Result<Slab>;
    /// Which SLUB layout this kernel has.
    fn slab_variants(&self) -> Result<SlabVariants>;
    /// Address of the `freelist` member of the slab at `addr`.
    fn slab_freelist_slot(&self, addr: u64) -> Result<u64>;
    /// The problem with a partial slab's freelist head, if it does not
    /// point into the slab.
    fn partial_head_problems(&self, cache: &SlabCache, slab: &Slab) -> Result<Vec<FreelistProblem>>;
    /// Freed objects a cache holds outside its slabs' own free lists: SLAB's
    /// per-cpu and shared `array_cache` entries, or the objects of 7.x's
    /// sheaves (at most `MAX_CACHED_OBJECTS` of them), by address; empty
    /// otherwise.
    fn cached_free_objects(&self, cache: &SlabCache) -> Result<Vec<u64>>;
    /// SLAB: the cache's per-cpu `array_cache`s, then each node's shared
    /// one; empty under SLUB.
    fn cache_array_caches(&self, cache: &SlabCache) -> Result<Vec<ArrayCache>>;
}

impl SlabExt for Kernel {
    fn slab_caches(&self) -> Result<&[SlabCache]> {
        Ok(&self.slab_state()?.caches)
    }

    fn slab_cache_list_problems(&self) -> Result<&[String]> {
        Ok(&self.slab_state()?.list_problems)
    }

    fn slab_cache_at(&self, addr: u64) -> Option<&SlabCache> {
        let st = self.slab_state().ok()?;
        st.by_addr.get(&addr).and_then(|&i| st.caches.get(i))
    }

    fn slab_cache_named(&self, name: &str) -> Option<&SlabCache> {
        self.slab_state().ok()?.caches.iter().find(|c| c.name == name)
    }

    fn slab_of(&self, vaddr: u64) -> Option<Slab> {
        if !looks::is_canonical(vaddr, self.memory().layout().paging()) || vaddr >> 63 == 0 {
            return None;
        }
        let page = self.virt_to_page(vaddr).ok()?;
        let head = self.compound_head(page).ok()?;
        self.slab_at_page(head).ok().flatten()
    }

    fn slab_at_page(&self, addr: u64) -> Result<Option<Slab>> {
        let st = self.slab_state()?;
        let cache = self.memory().read_u64(addr.wrapping_add(st.off.slab_cache))?;
        if !st.by_addr.contains_key(&cache) || !self.is_slab_head(addr, st)? {
            return Ok(None);
        }
        self.read_slab(addr, cache).map(Some)
    }

    fn slab_cache_of(&self, vaddr: u64) -> Option<&SlabCache> {
        let slab = self.slab_of(vaddr)?;
        self.slab_cache_at(slab.cache)
    }

    fn slab_object(&self, addr: u64) -> Option<SlabObject> {
        let slab = self.slab_of(addr)?;
        let cache = self.slab_cache_at(slab.cache)?;
        let contents = self.slab_contents(cache, &slab).ok()?;
        let index = object_index(cache, &slab, addr)?;
        Some(SlabObject {
            cache: cache.addr,
            cache_name: cache.name.clone(),
            slab: slab.addr,
            object_start: object_start(cache, &slab, index),
            index,
            allocated: !contents.free.get(index as usize).copied().unwrap_or(false),
        })
    }

    fn cache_cpu_slabs(&self, cache: &SlabCache) -> Result<Vec<CpuSlabs>> {
        let st = self.slab_state()?;
        let CpuLayout::CpuSlab { freelist: freelist_off, slab: slab_off, partial: partial_off } = st.off.cpu else {
            // 7.x's sheaves and SLAB's array caches hold objects, not slabs.
            return Ok(Vec::new());
        };
        let mem = self.memory();
        let mut out = Vec::with_capacity(st.cpus.len());
        for &(cpu, offset) in &st.cpus {
            let kcc = cache.cpu_slab.wrapping_add(offset);
            let freelist = mem.read_u64(kcc.wrapping_add(freelist_off))?;
            let slab = mem.read_u64(kcc.wrapping_add(slab_off))?;
            let mut partial = Vec::new();
            if let (Some(p_off), Some(next_off)) = (partial_off, st.off.slab_next) {
                let mut p = mem.read_u64(kcc.wrapping_add(p_off))?;
                // A set, not `partial.contains`: a long chain was quadratic.
                let mut seen = HashSet::new();
                while p != 0 && partial.len() < MAX_LIST_SLABS && seen.insert(p) {
                    partial.push(p);
                    p = mem.read_u64(p.wrapping_add(next_off)).unwrap_or(0);
                }
            }
            out.push(CpuSlabs { cpu, kmem_cache_cpu: kcc, freelist, slab, partial });
        }
        Ok(out)
    }

    fn cache_node_slabs(&self, cache: &SlabCache) -> Result<Vec<NodeSlabs>> {
        let st = self.slab_state()?;
        let mem = self.memory();
        let mut out = Vec::new();
        for (node, &addr) in cache.nodes.iter().enumerate() {
            if addr == 0 {
                continue;
            }
            let read_opt = |off: Option<u64>| off.map(|o| mem.read_u64(addr.wrapping_add(o))).transpose();
            let head = addr.wrapping_add(st.off.node_partial);
            let walk = list::walk(mem, head, WalkOptions { limit: MAX_LIST_SLABS, ..WalkOptions::default() });
            let nr_slabs = read_opt(st.off.node_nr_slabs)?.unwrap_or(0);
            let total_objects = match st.off.node_total_objects {
                Some(o) => mem.read_u64(addr.wrapping_add(o))?,
                // SLAB keeps no object count: every slab holds `num`.
                None => nr_slabs.saturating_mul(u64::from(cache.objects_per_slab)),
            };
            let classic = st.off.classic.as_ref().map(|c| {
                let [_, full_list, free_list] = c.node_lists;
                let mut broken = Vec::new();
                let mut slabs_on = |offset: u64, name: &str| {
                    let walk = list::walk(
                        mem,
                        addr.wrapping_add(offset),
                        WalkOptions { limit: MAX_LIST_SLABS, ..WalkOptions::default() },
                    );
                    if let Some(b) = walk.broken {
                        broken.push(format!("{name}: {b}"));
                    }
                    walk.nodes.iter().map(|n| n.wrapping_sub(st.off.slab_list)).collect::<Vec<u64>>()
                };
                let full = slabs_on(full_list, "slabs_full");
                let free = slabs_on(free_list, "slabs_free");
                ClassicNodeLists { full, free, broken }
            });
            out.push(NodeSlabs {
                classic,
                node: node as u32,
                addr,
                nr_slabs,
                nr_partial: match st.off.node_nr_partial {
                    Some(o) => mem.read_u64(addr.wrapping_add(o))?,
                    None => walk.nodes.len() as u64,
                },
                total_objects,
                partial: walk.nodes.iter().map(|n| n.wrapping_sub(st.off.slab_list)).collect(),
                partial_break: walk.broken.map(|b| b.to_string()),
            });
        }
        Ok(out)
    }

    fn cache_totals(&self, cache: &SlabCache) -> Result<CacheTotals> {
        if let Some(classic) = &self.slab_state()?.off.classic {
            return self.classic_totals(cache, classic);
        }
        let mut free = 0u64;
        let mut problems = Vec::new();
        for cpu in self.cache_cpu_slabs(cache)? {
            if cpu.slab != 0 {
                let slab = self.read_slab(cpu.slab, cache.addr)?;
                free = free.saturating_add(u64::from(slab.objects.saturating_sub(slab.inuse)));
                let owner = FreelistOwner::Cpu { cpu: cpu.cpu, kmem_cache_cpu: cpu.kmem_cache_cpu };
                let walk = freelist::walk_one(self, cache, &slab, cpu.freelist, owner)?;
                free = free.saturating_add(walk.count);
                problems.extend(walk.problems);
            }
            for &p in &cpu.partial {
                let slab = self.read_slab(p, cache.addr)?;
                free = free.saturating_add(u64::from(slab.objects.saturating_sub(slab.inuse)));
                problems.extend(self.partial_head_problems(cache, &slab)?);
            }
        }
        // Sheaves are counted, not listed: their sizes are all that is needed.
        free = free.saturating_add(self.sheaf_objects(cache)?);
        let (mut total, mut slabs) = (0u64, 0u64);
        for node in self.cache_node_slabs(cache)? {
            total = total.saturating_add(node.total_objects);
            slabs = slabs.saturating_add(node.nr_slabs);
            for &p in &node.partial {
                let slab = self.read_slab(p, cache.addr)?;
                free = free.saturating_add(u64::from(slab.objects.saturating_sub(slab.inuse)));
                problems.extend(self.partial_head_problems(cache, &slab)?);
            }
        }
        Ok(CacheTotals { allocated: total.saturating_sub(free), total, slabs, problems, list_problems: Vec::new() })
    }

    fn partial_head_problems(&self, cache: &SlabCache, slab: &Slab) -> Result<Vec<FreelistProblem>> {
        // A partial slab's counters say how many objects are free, so its
        // chain is not walked to count them; but a head outside the slab is
        // corruption the next allocation will trip on: the walk names it.
        let inside = slab.freelist >= slab.base && slab.freelist - slab.base < cache.slab_bytes();
        if slab.freelist == 0 || inside {
            return Ok(Vec::new());
        }
        Ok(freelist::walk_one(self, cache, slab, slab.freelist, FreelistOwner::Slab)?.problems)
    }

    fn read_slab(&self, addr: u64, cache: u64) -> Result<Slab> {
        let st = self.slab_state()?;
        let mem = self.memory();
        if let Some(classic) = &st.off.classic {
            let objects = st.by_addr.get(&cache).and_then(|&i| st.caches.get(i)).map_or(0, |c| c.objects_per_slab);
            return Ok(Slab {
                addr,
                cache,
                base: mem.read_u64(addr.wrapping_add(classic.slab_s_mem))?,
                objects,
                inuse: mem.read_u32(addr.wrapping_add(st.off.slab_counters))?,
                frozen: false,
                freelist: mem.read_u64(addr.wrapping_add(st.off.slab_freelist))?,
                node: 0,
            });
        }
        let counters = mem.read_u64(addr.wrapping_add(st.off.slab_counters))?;
        let base = self
            .page_to_virt(addr)
            .ok_or_else(|| Error::bad_data("slab", format!("{addr:x} is not a struct page address")))?;
        let narrow = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        Ok(Slab {
            addr,
            cache,
            base,
            inuse: narrow(st.off.inuse.get(counters)),
            objects: narrow(st.off.objects.get(counters)),
            frozen: st.off.frozen.is_some_and(|f| f.get(counters) == 1),
            freelist: mem.read_u64(addr.wrapping_add(st.off.slab_freelist))?,
            node: 0,
        })
    }

    fn slab_variants(&self) -> Result<SlabVariants> {
        Ok(self.slab_state()?.off.variants)
    }

    fn slab_freelist_slot(&self, addr: u64) -> Result<u64> {
        Ok(addr.wrapping_add(self.slab_state()?.off.slab_freelist))
    }

    fn cached_free_objects(&self, cache: &SlabCache) -> Result<Vec<u64>> {
        match self.slab_state()?.off.cpu {
            CpuLayout::ArrayCache { .. } => {
                Ok(self.cache_array_caches(cache)?.into_iter().flat_map(|ac| ac.entries).collect())
            }
            _ => self.sheaf_entries(cache),
        }
    }

    fn cache_array_caches(&self, cache: &SlabCache) -> Result<Vec<ArrayCache>> {
        let st = self.slab_state()?;
        let (&CpuLayout::ArrayCache { avail, limit, entry }, Some(classic)) = (&st.off.cpu, st.off.classic.as_ref())
        else {
            return Ok(Vec::new());
        };
        let mut holders: Vec<(ArrayCacheHolder, u64)> = st
            .cpus
            .iter()
            .map(|&(cpu, offset)| (ArrayCacheHolder::Cpu(cpu), cache.cpu_slab.wrapping_add(offset)))
            .collect();
        for (node, &addr) in cache.nodes.iter().enumerate().filter(|(_, &n)| n != 0) {
            let shared = self.memory().read_u64(addr.wrapping_add(classic.node_shared))?;
            if shared != 0 {
                holders.push((ArrayCacheHolder::Shared { node: u32::try_from(node).unwrap_or(u32::MAX) }, shared));
            }
        }
        // All of them list at most MAX_CACHED_OBJECTS entries.
        let mut out = Vec::with_capacity(holders.len());
        let mut listed = 0usize;
        for (holder, ac) in holders {
            let ac = self.array_cache(holder, ac, (avail, limit, entry), MAX_CACHED_OBJECTS.saturating_sub(listed))?;
            listed = listed.saturating_add(ac.entries.len());
            out.push(ac);
        }
        Ok(out)
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait SlabHelpers {
    fn slab_state(&self) -> Result<&SlabState>;
    fn is_slab_head(&self, head: u64, st: &SlabState) -> Result<bool>;
    /// 7.x: free objects a cache holds in sheaves (every CPU's `main` and
    /// `spare`, every node's barn of full sheaves); 0 on other kernels.
    fn sheaf_objects(&self, cache: &SlabCache) -> Result<u64>;
    /// 7.x: the objects the cache's sheaves hold (`objects[0..size]` of
    /// each), at most `MAX_CACHED_OBJECTS`; empty on other kernels.
    fn sheaf_entries(&self, cache: &SlabCache) -> Result<Vec<u64>>;
    /// 7.x: calls `visit` with every sheaf of the cache (each CPU's `main`
    /// and `spare`, each node's barn of full sheaves) until it returns false.
    fn visit_sheaves(&self, cache: &SlabCache, visit: &mut dyn FnMut(u64) -> Result<bool>) -> Result<()>;
    /// SLAB: the `array_cache` at `ac` (offsets of `avail`, `limit`,
    /// `entry`), its entries `avail` capped by `limit` and by `room`.
    fn array_cache(&self, holder: ArrayCacheHolder, ac: u64, off: (u64, u64, u64), room: usize) -> Result<ArrayCache>;
    /// SLAB: crash's `kmem -s` numbers, from every slab on the node lists:
    /// ALLOCATED is the sum of `active` less the freed objects the array
    /// caches hold (their slabs still count them as active).
    fn classic_totals(&self, cache: &SlabCache, classic: &ClassicLayout) -> Result<CacheTotals>;
}

impl SlabHelpers for Kernel {
    fn slab_state(&self) -> Result<&SlabState> {
        self.cached(|| CachedSlabState(build_state(self))).0.as_ref().map_err(Clone::clone)
    }

    fn is_slab_head(&self, head: u64, st: &SlabState) -> Result<bool> {
        if let Some(mask) = st.pg_slab {
            return Ok(self.page_flags(head)? & mask != 0);
        }
        Ok(match self.page_type(head)? {
            Some(t) => t >> 24 == st.page_type_slab,
            None => true,
        })
    }

    fn array_cache(
        &self,
        holder: ArrayCacheHolder,
        ac: u64,
        (avail, limit, entry): (u64, u64, u64),
        room: usize,
    ) -> Result<ArrayCache> {
        let mem = self.memory();
        let (avail, limit) = (mem.read_u32(ac.wrapping_add(avail))?, mem.read_u32(ac.wrapping_add(limit))?);
        let n = usize::try_from(avail.min(limit).min(MAX_ARRAY_CACHE)).unwrap_or(0).min(room);
        let bytes = mem.read_vec(ac.wrapping_add(entry), n.saturating_mul(8))?;
        let entries = bytes.chunks_exact(8).filter_map(|c| c.try_into().ok()).map(u64::from_le_bytes).collect();
        Ok(ArrayCache { holder, addr: ac, avail, limit, entries })
    }

    fn classic_totals(&self, cache: &SlabCache, classic: &ClassicLayout) -> Result<CacheTotals> {
        let st = self.slab_state()?;
        let mem = self.memory();
        let (mut active, mut slabs) = (0u64, 0u64);
        let mut problems = Vec::new();
        for &node in cache.nodes.iter().filter(|&&n| n != 0) {
            for list_off in classic.node_lists {
                let walk = list::walk(
                    mem,
                    node.wrapping_add(list_off),
                    WalkOptions { limit: MAX_LIST_SLABS, ..WalkOptions::default() },
                );
                if let Some(b) = walk.broken {
                    problems.push(format!("{}: node {node:x} slab list: {b}", cache.name));
                }
                for link in walk.nodes {
                    let slab = link.wrapping_sub(st.off.slab_list);
                    active = active.saturating_add(u64::from(mem.read_u32(slab.wrapping_add(st.off.slab_counters))?));
                    slabs = slabs.saturating_add(1);
                }
            }
        }
        let cached = self.cached_free_objects(cache)?.len() as u64;
        let total = slabs.saturating_mul(u64::from(cache.objects_per_slab));
        Ok(CacheTotals {
            allocated: active.saturating_sub(cached),
            total,
            slabs,
            problems: Vec::new(),
            list_problems: problems,
        })
    }

    fn sheaf_objects(&self, cache: &SlabCache) -> Result<u64> {
        let CpuLayout::Sheaves { sheaf_size, .. } = self.slab_state()?.off.cpu else {
            return Ok(0);
        };
        let mem = self.memory();
        let mut free = 0u64;
        self.visit_sheaves(cache, &mut |sheaf| {
            free = free.saturating_add(u64::from(mem.read_u32(sheaf.wrapping_add(sheaf_size))?));
            Ok(true)
        })?;
        Ok(free)
    }

    fn sheaf_entries(&self, cache: &SlabCache) -> Result<Vec<u64>> {
        let CpuLayout::Sheaves { sheaf_size, .. } = self.slab_state()?.off.cpu else {
            return Ok(Vec::new());
        };
        let objects = self.layouts().offset("slab_sheaf", "objects")?;
        let mem = self.memory();
        let mut out = Vec::new();
        self.visit_sheaves(cache, &mut |sheaf| {
            let size = usize::try_from(mem.read_u32(sheaf.wrapping_add(sheaf_size))?).unwrap_or(usize::MAX);
            let n = size.min(MAX_CACHED_OBJECTS.saturating_sub(out.len()));
            let bytes = mem.read_vec(sheaf.wrapping_add(objects), n.saturating_mul(8))?;
            out.extend(bytes.chunks_exact(8).filter_map(|c| c.try_into().ok()).map(u64::from_le_bytes));
            Ok(out.len() < MAX_CACHED_OBJECTS)
        })?;
        Ok(out)
    }

    fn visit_sheaves(&self, cache: &SlabCache, visit: &mut dyn FnMut(u64) -> Result<bool>) -> Result<()> {
        let st = self.slab_state()?;
        let CpuLayout::Sheaves { main, spare, .. } = st.off.cpu else {
            return Ok(());
        };
        let mem = self.memory();
        for &(_, offset) in &st.cpus {
            let pcs = cache.cpu_slab.wrapping_add(offset);
            for member in [main, spare] {
                let sheaf = mem.read_u64(pcs.wrapping_add(member))?;
                if sheaf != 0 && !visit(sheaf)? {
                    return Ok(());
                }
            }
        }
        let Some(barn_off) = st.off.node_barn else { return Ok(()) };
        let full = self.layouts().offset("node_barn", "sheaves_full")?;
        let link = self.layouts().offset("slab_sheaf", "barn_list")?;
        for n in 0..cache.nodes.len() as u64 {
            let entry = cache.addr.wrapping_add(st.off.node_array).wrapping_add(n.wrapping_mul(st.off.node_stride));
            let barn = mem.read_u64(entry.wrapping_add(barn_off))?;
            if barn == 0 {
                continue;
            }
            let walk = list::walk(
                mem,
                barn.wrapping_add(full),
                WalkOptions { limit: MAX_BARN_SHEAVES, ..WalkOptions::default() },
            );
            for node in walk.nodes {
                if !visit(node.wrapping_sub(link))? {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// Index of the object `addr` falls in, or None in the slab's tail padding.
pub fn object_index(cache: &SlabCache, slab: &Slab, addr: u64) -> Option<u32> {
    let rel = addr.checked_sub(slab.base)?;
    let index = rel / u64::from(cache.size.max(1));
    (index < u64::from(slab.objects)).then_some(index as u32)
}

/// Start of object `index` as crash prints it (after any left red zone);
/// wraps like the kernel's pointer arithmetic on a corrupt slab base.
pub fn object_start(cache: &SlabCache, slab: &Slab, index: u32) -> u64 {
    slab.base.wrapping_add(u64::from(index) * u64::from(cache.size)).wrapping_add(cache.left_pad())
}

fn build_state(k: &Kernel) -> Result<SlabState> {
    let l = k.layouts();
    let off = SlabLayout::probe(l)?;
    // Without CONFIG_NUMA nr_node_ids is a constant 1, not a variable.
    let nr_nodes = match k.symbol_addr("nr_node_ids") {
        Ok(addr) => k.memory().read_u32(addr).unwrap_or(1).clamp(1, 1024),
        Err(_) => 1,
    };
    let head = k.symbol_addr("slab_caches")?;
    let list_off = l.offset("kmem_cache", "list")?;
    // A kmem_cache in a page the dump lacks breaks the list: the rest is
    // reached backwards from the head, and what was lost is said.
    let walk = list::walk_bridging(k.memory(), head, WalkOptions { limit: MAX_CACHES, ..WalkOptions::default() });
    let mut list_problems: Vec<String> = walk.broken.iter().map(|b| format!("slab_caches list: {b}")).collect();
    let mut caches = Vec::with_capacity(walk.nodes.len());
    for node in walk.nodes {
        let addr = node.wrapping_sub(list_off);
        match read_cache(k, &off, addr, nr_nodes) {
            Ok(c) => caches.push(c),
            Err(e) => list_problems.push(format!("kmem_cache {addr:x} left out: {e}")),
        }
    }
    let by_addr = caches.iter().enumerate().map(|(i, c)| (c.addr, i)).collect();
    let mut cpus = Vec::new();
    for cpu in k.possible_cpus()? {
        cpus.push((cpu, k.percpu_offset(cpu)?));
    }
    let page_type_slab = match l.types().map(|t| t.find_enumerator("PGTY_slab")) {
        Some(Ok(Some((_, v)))) => u32::try_from(v).unwrap_or(PAGE_TYPE_SLAB),
        _ => PAGE_TYPE_SLAB,
    };
    Ok(SlabState { off, caches, by_addr, cpus, pg_slab: k.page_flag_mask("slab"), page_type_slab, list_problems })
}

fn read_cache(k: &Kernel, off: &SlabLayout, addr: u64, nr_nodes: u32) -> Result<SlabCache> {
    let f = |m: &str| k.read_field(addr, "kmem_cache", m);
    let name_ptr = f("name")?;
    let name = k.memory().read_cstr(name_ptr, 64).unwrap_or_else(|_| "(unknown)".into());
    let mut nodes = Vec::with_capacity(nr_nodes as usize);
    for n in 0..u64::from(nr_nodes) {
        let entry = addr.wrapping_add(off.node_array).wrapping_add(n.wrapping_mul(off.node_stride));
        nodes.push(k.memory().read_u64(entry.wrapping_add(off.node_ptr))?);
    }
    let flags = f("flags")?;
    if off.classic.is_some() {
        let num = u32::try_from(f("num")?).unwrap_or(u32::MAX);
        // SLAB_OBJ_MAX_NUM: a free-index entry is at most 16 bits wide.
        if num > MAX_CLASSIC_OBJECTS {
            return Err(Error::bad_data(format!("kmem_cache {addr:x} ({name})"), format!("{num} objects per slab")));
        }
        // CONFIG_DEBUG_SLAB puts a red zone (and the caller's address) before
        // each object: the object proper starts `obj_offset` bytes in.
        let obj_offset = f("obj_offset").unwrap_or(0) as u32;
        let free_index_size = u32::try_from(f("freelist_size")?).unwrap_or(0).checked_div(num).unwrap_or(0);
        return Ok(SlabCache {
            addr,
            name,
            object_size: f("object_size")? as u32,
            size: f("size")? as u32,
            offset: 0,
            objects_per_slab: num,
            order: f("gfporder")? as u32,
            random: 0,
            flags,
            red_zone: obj_offset != 0,
            red_left_pad: obj_offset,
            cpu_slab: f("cpu_cache")?,
            nodes,
            free_index_size,
            page_size: k.memory().page_size(),
        });
    }
    let oo = f("oo.x")?;
    let cpu_member = match off.variants.cpu {
        CpuCacheVariant::Sheaves => "cpu_sheaves",
        CpuCacheVariant::CpuSlab | CpuCacheVariant::ArrayCache => "cpu_slab",
    };
    Ok(SlabCache {
        addr,
        name,
        object_size: f("object_size")? as u32,
        size: f("size")? as u32,
        offset: f("offset")? as u32,
        // OO_SHIFT is 16 from 2.6.x through 7.2 (a #define in mm/slub.c).
        objects_per_slab: (oo & 0xffff) as u32,
        order: (oo >> 16) as u32,
        random: f("random").unwrap_or(0),
        flags,
        red_zone: flags & off.red_zone_flag != 0,
        red_left_pad: f("red_left_pad").unwrap_or(0) as u32,
        cpu_slab: f(cpu_member)?,
        nodes,
        free_index_size: 0,
        page_size: k.memory().page_size(),
    })
}

/// Bounds-checked little-endian u64 from a byte buffer.
pub(crate) fn u64_at(buf: &[u8], at: u64) -> Option<u64> {
    let at = usize::try_from(at).ok()?;
    let bytes = buf.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

/// Reads a slab's memory whole, refusing absurd sizes.
pub(crate) fn read_slab_bytes(k: &Kernel, cache: &SlabCache, slab: &Slab) -> Result<Vec<u8>> {
    let len = u64::from(slab.objects) * u64::from(cache.size);
    if len > MAX_SLAB_BYTES {
        return Err(Error::bad_data(
            format!("slab {:x} of {}", slab.addr, cache.name),
            format!("{} objects of {} bytes is larger than any slab", slab.objects, cache.size),
        ));
    }
    k.memory().read_vec(slab.base, len as usize)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use krash_program::layout::{Layouts, TypeSource};
    use krash_program::probes::synthetic::{anonymous, bitfield, member, SyntheticTypes as T};

    use super::*;

    /// `inuse:16, objects:15, frozen:1` in a union with `counters`.
    fn counters_union(t: &mut T) -> krash_debuginfo::types::TypeId {
        let bits = t.structure(
            "",
            4,
            vec![
                bitfield("inuse", T::UINT, 0, 16),
                bitfield("objects", T::UINT, 16, 15),
                bitfield("frozen", T::UINT, 31, 1),
            ],
        );
        t.union("", 8, vec![member("counters", T::ULONG, 0), anonymous(bits, 0)])
    }

    fn node_struct(t: &mut T) {
        t.structure(
            "kmem_cache_node",
            64,
            vec![member("nr_partial", T::ULONG, 8), member("partial", T::ULONG, 16), member("nr_slabs", T::ULONG, 32)],
        );
    }

    fn probe(t: T) -> Result<SlabLayout> {
        SlabLayout::probe(&Layouts::new(Some(Arc::new(t)), TypeSource::Btf, None))
    }

    /// 6.1/6.12: `struct slab`, `kmem_cache_cpu.slab`, `node[]`.
    fn six_x() -> T {
        let mut t = T::new();
        let c = counters_union(&mut t);
        t.structure(
            "slab",
            64,
            vec![
                member("__page_flags", T::ULONG, 0),
                member("slab_cache", T::PTR, 8),
                member("slab_list", T::ULONG, 16),
                member("next", T::PTR, 16),
                member("freelist", T::PTR, 32),
                anonymous(c, 40),
            ],
        );
        t.structure(
            "kmem_cache_cpu",
            32,
            vec![member("freelist", T::PTR, 0), member("slab", T::PTR, 16), member("partial", T::PTR, 24)],
        );
        let nodes = t.array(T::PTR, 64);
        t.structure("kmem_cache", 600, vec![member("cpu_slab", T::PTR, 0), member("node", nodes, 88)]);
        node_struct(&mut t);
        t
    }

    #[test]
    fn slab_struct_kernels() {
        let l = probe(six_x()).unwrap();
        let v = l.variants;
        assert_eq!(
            (v.slab, v.cpu, v.node),
            (SlabVariant::SlabStruct, CpuCacheVariant::CpuSlab, NodeVariant::NodeArray)
        );
        assert_eq!((l.slab_cache, l.slab_freelist, l.slab_counters, l.slab_next), (8, 32, 40, Some(16)));
        // counters = inuse 5, objects 32, frozen.
        let word = 5 | (32 << 16) | (1 << 31);
        assert_eq!((l.inuse.get(word), l.objects.get(word), l.frozen.map(|f| f.get(word))), (5, 32, Some(1)));
        assert_eq!((l.node_array, l.node_stride, l.node_ptr), (88, 8, 0));
        assert_eq!(l.red_zone_flag, SLAB_RED_ZONE_DEFINE);
    }

    #[test]
    fn page_struct_kernels() {
        // 5.10: the slab members live in struct page; kmem_cache_cpu.page.
        let mut t = T::new();
        let c = counters_union(&mut t);
        t.structure(
            "page",
            64,
            vec![
                member("flags", T::ULONG, 0),
                member("slab_list", T::ULONG, 8),
                member("next", T::PTR, 8),
                member("slab_cache", T::PTR, 24),
                member("freelist", T::PTR, 32),
                anonymous(c, 40),
            ],
        );
        t.structure(
            "kmem_cache_cpu",
            32,
            vec![member("freelist", T::PTR, 0), member("page", T::PTR, 16), member("partial", T::PTR, 24)],
        );
        let nodes = t.array(T::PTR, 64);
        t.structure("kmem_cache", 600, vec![member("cpu_slab", T::PTR, 0), member("node", nodes, 88)]);
        node_struct(&mut t);
        let l = probe(t).unwrap();
        assert_eq!(l.variants.slab, SlabVariant::PageStruct);
        assert_eq!(l.variants.slab.struct_name(), "page");
        assert_eq!((l.slab_cache, l.slab_freelist, l.slab_counters), (24, 32, 40));
        assert!(matches!(l.cpu, CpuLayout::CpuSlab { slab: 16, .. }));
    }

    #[test]
    fn sheaves_kernels() {
        // 7.x: no kmem_cache_cpu; per_node[] of {barn, node}; the red-zone
        // flag from enum _slab_flag_bits; counters behind an anonymous
        // struct freelist_counters.
        let mut t = T::new();
        let c = counters_union(&mut t);
        let fc = t.structure("freelist_counters", 16, vec![member("freelist", T::PTR, 0), anonymous(c, 8)]);
        t.structure(
            "slab",
            64,
            vec![
                member("flags", T::ULONG, 0),
                member("slab_cache", T::PTR, 8),
                member("slab_list", T::ULONG, 16),
                anonymous(fc, 32),
            ],
        );
        t.structure("slub_percpu_sheaves", 32, vec![member("main", T::PTR, 8), member("spare", T::PTR, 16)]);
        t.structure("slab_sheaf", 40, vec![member("size", T::UINT, 24)]);
        let pn =
            t.structure("kmem_cache_per_node_ptrs", 16, vec![member("barn", T::PTR, 0), member("node", T::PTR, 8)]);
        let per_node = t.array(pn, 64);
        t.structure("kmem_cache", 2000, vec![member("cpu_sheaves", T::PTR, 0), member("per_node", per_node, 200)]);
        node_struct(&mut t);
        t.enumeration("_slab_flag_bits", &[("_SLAB_CONSISTENCY_CHECKS", 0), ("_SLAB_RED_ZONE", 1)]);
        let l = probe(t).unwrap();
        let v = l.variants;
        assert_eq!((v.slab, v.cpu, v.node), (SlabVariant::SlabStruct, CpuCacheVariant::Sheaves, NodeVariant::PerNode));
        assert_eq!(v.allocator, Allocator::Slub);
        assert_eq!((l.slab_freelist, l.slab_counters, l.slab_next), (32, 40, None));
        assert_eq!((l.node_array, l.node_stride, l.node_ptr, l.node_barn), (200, 16, 8, Some(0)));
        assert!(matches!(l.cpu, CpuLayout::Sheaves { main: 8, spare: 16, sheaf_size: 24 }));
        assert_eq!(l.red_zone_flag, 0x2);
    }

    #[test]
    fn slob_is_named() {
        let mut t = T::new();
        t.structure("kmem_cache", 200, vec![member("array", T::PTR, 0)]);
        let e = probe(t).unwrap_err().to_string();
        assert!(e.contains("SLOB allocator is not supported"), "{e}");
    }

    #[test]
    fn slab_allocator_kernels() {
        // 6.1 with CONFIG_SLAB: struct slab with s_mem and active; array caches;
        // kmem_cache_node's three slab lists.
        let mut t = T::new();
        t.structure(
            "slab",
            64,
            vec![
                member("__page_flags", T::ULONG, 0),
                member("slab_list", T::ULONG, 8),
                member("slab_cache", T::PTR, 24),
                member("freelist", T::PTR, 32),
                member("s_mem", T::PTR, 40),
                member("active", T::UINT, 48),
            ],
        );
        t.structure(
            "array_cache",
            16,
            vec![member("avail", T::UINT, 0), member("limit", T::UINT, 4), member("entry", T::PTR, 16)],
        );
        let nodes = t.array(T::PTR, 64);
        t.structure(
            "kmem_cache",
            400,
            vec![member("cpu_cache", T::PTR, 0), member("num", T::UINT, 24), member("node", nodes, 128)],
        );
        t.structure(
            "kmem_cache_node",
            128,
            vec![
                member("slabs_partial", T::ULONG, 8),
                member("slabs_full", T::ULONG, 24),
                member("slabs_free", T::ULONG, 40),
                member("total_slabs", T::ULONG, 56),
                member("shared", T::PTR, 96),
            ],
        );
        let l = probe(t).unwrap();
        let v = l.variants;
        assert_eq!(
            (v.allocator, v.slab, v.cpu, v.node),
            (Allocator::Slab, SlabVariant::SlabStruct, CpuCacheVariant::ArrayCache, NodeVariant::NodeArray)
        );
        assert_eq!((l.slab_cache, l.slab_freelist, l.slab_counters, l.slab_list), (24, 32, 48, 8));
        assert!(matches!(l.cpu, CpuLayout::ArrayCache { avail: 0, limit: 4, entry: 16 }));
        let c = l.classic.unwrap();
        assert_eq!((c.slab_s_mem, c.node_lists, c.node_shared), (40, [8, 24, 40], 96));
        assert_eq!((l.node_partial, l.node_nr_slabs, l.node_nr_partial), (8, Some(56), None));
        // `active` is the low 32 bits of the word read at its offset.
        assert_eq!(l.inuse.get(0xdead_beef_0000_0007), 7);
    }
}
