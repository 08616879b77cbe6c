//! The SLUB allocator as a dump shows it: caches from `slab_caches`, slabs
//! (a `struct slab` overlaying the head `struct page`), per-cpu
//! `kmem_cache_cpu` freelists and partial lists, per-node partial lists.
//! Free objects are found by walking the freelists; a pointer that does not
//! lead to an object of the same slab is reported (see [`freelist`]), never
//! silently ending the walk.
//!
//! Both lab kernels (6.1 and 6.12) share the layout krash relies on; the
//! differences (PG_slab flag vs. page type, `freelist_tid`) are resolved
//! through the type information and `pageflag_names`.

use crate::mm::page::PageExt;
use crate::mm::slab::freelist::FreelistExt;
pub mod freelist;
pub mod looks;

use std::collections::HashMap;

use krash_core::{Error, Result, VirtualMemory};
use serde::Serialize;

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
/// `SLAB_RED_ZONE` in `kmem_cache.flags`.
const SLAB_RED_ZONE: u64 = 0x400;
/// `PGTY_slab`: the top byte of `page_type` for slab pages (6.10+).
const PAGE_TYPE_SLAB: u32 = 0xf5;

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
    pub red_left_pad: u32,
    /// The per-cpu `kmem_cache_cpu` pointer (an offset into per-cpu areas).
    pub cpu_slab: u64,
    /// `kmem_cache_node` pointers, index = node id (0 where absent).
    pub nodes: Vec<u64>,
}

impl SlabCache {
    /// Bytes in one slab of the cache's default order.
    pub fn slab_bytes(&self) -> u64 {
        4096u64 << self.order.min(20)
    }

    /// Bytes before each object's start (the left red zone under SLAB_RED_ZONE).
    pub fn left_pad(&self) -> u64 {
        if self.flags & SLAB_RED_ZONE != 0 {
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
}

/// A cache's object counts as crash's `kmem -s` computes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheTotals {
    pub allocated: u64,
    pub total: u64,
    pub slabs: u64,
    /// Problems met while counting (bad per-cpu freelists).
    pub problems: Vec<FreelistProblem>,
}

/// Member offsets the slab code needs, resolved once.
#[derive(Debug, Clone)]
pub(crate) struct SlabOffsets {
    slab_cache: u64,
    slab_freelist: u64,
    slab_counters: u64,
    slab_list: u64,
    slab_next: u64,
    kcc_freelist: u64,
    kcc_slab: u64,
    kcc_partial: Option<u64>,
    node_nr_partial: u64,
    node_partial: u64,
    node_nr_slabs: Option<u64>,
    node_total_objects: Option<u64>,
}

/// The cache list and layout, read on first use.
pub(crate) struct SlabState {
    off: SlabOffsets,
    caches: Vec<SlabCache>,
    by_addr: HashMap<u64, usize>,
    cpus: Vec<(u32, u64)>,
    /// `pageflag_names` mask of "slab" (kernels before 6.10).
    pg_slab: Option<u64>,
}

/// The slab model as read from the dump, kept in the kernel's state cache.
struct CachedSlabState(Result<SlabState>);

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait SlabExt {
    /// Every cache on `slab_caches`, in list order (newest first).
    fn slab_caches(&self) -> Result<&[SlabCache]>;
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
}

impl SlabExt for Kernel {
    fn slab_caches(&self) -> Result<&[SlabCache]> {
        Ok(&self.slab_state()?.caches)
    }

    fn slab_cache_at(&self, addr: u64) -> Option<&SlabCache> {
        let st = self.slab_state().ok()?;
        st.by_addr.get(&addr).and_then(|&i| st.caches.get(i))
    }

    fn slab_cache_named(&self, name: &str) -> Option<&SlabCache> {
        self.slab_state().ok()?.caches.iter().find(|c| c.name == name)
    }

    fn slab_of(&self, vaddr: u64) -> Option<Slab> {
        if !looks::is_canonical(vaddr) || vaddr >> 63 == 0 {
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
        let mem = self.memory();
        let mut out = Vec::with_capacity(st.cpus.len());
        for &(cpu, offset) in &st.cpus {
            let kcc = cache.cpu_slab.wrapping_add(offset);
            let freelist = mem.read_u64(kcc.wrapping_add(st.off.kcc_freelist))?;
            let slab = mem.read_u64(kcc.wrapping_add(st.off.kcc_slab))?;
            let mut partial = Vec::new();
            if let Some(p_off) = st.off.kcc_partial {
                let mut p = mem.read_u64(kcc.wrapping_add(p_off))?;
                while p != 0 && partial.len() < MAX_LIST_SLABS && !partial.contains(&p) {
                    partial.push(p);
                    p = mem.read_u64(p.wrapping_add(st.off.slab_next)).unwrap_or(0);
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
            out.push(NodeSlabs {
                node: node as u32,
                addr,
                nr_slabs: read_opt(st.off.node_nr_slabs)?.unwrap_or(0),
                nr_partial: mem.read_u64(addr.wrapping_add(st.off.node_nr_partial))?,
                total_objects: read_opt(st.off.node_total_objects)?.unwrap_or(0),
                partial: walk.nodes.iter().map(|n| n.wrapping_sub(st.off.slab_list)).collect(),
                partial_break: walk.broken.map(|b| b.to_string()),
            });
        }
        Ok(out)
    }

    fn cache_totals(&self, cache: &SlabCache) -> Result<CacheTotals> {
        let mut free = 0u64;
        let mut problems = Vec::new();
        for cpu in self.cache_cpu_slabs(cache)? {
            if cpu.slab != 0 {
                let slab = self.read_slab(cpu.slab, cache.addr)?;
                free += u64::from(slab.objects.saturating_sub(slab.inuse));
                let owner = FreelistOwner::Cpu { cpu: cpu.cpu, kmem_cache_cpu: cpu.kmem_cache_cpu };
                let walk = freelist::walk_one(self, cache, &slab, cpu.freelist, owner)?;
                free += walk.count;
                problems.extend(walk.problems);
            }
            for &p in &cpu.partial {
                let slab = self.read_slab(p, cache.addr)?;
                free += u64::from(slab.objects.saturating_sub(slab.inuse));
            }
        }
        let (mut total, mut slabs) = (0u64, 0u64);
        for node in self.cache_node_slabs(cache)? {
            total += node.total_objects;
            slabs += node.nr_slabs;
            for &p in &node.partial {
                let slab = self.read_slab(p, cache.addr)?;
                free += u64::from(slab.objects.saturating_sub(slab.inuse));
            }
        }
        Ok(CacheTotals { allocated: total.saturating_sub(free), total, slabs, problems })
    }

    fn read_slab(&self, addr: u64, cache: u64) -> Result<Slab> {
        let st = self.slab_state()?;
        let mem = self.memory();
        let counters = mem.read_u64(addr.wrapping_add(st.off.slab_counters))?;
        let base = self
            .page_to_virt(addr)
            .ok_or_else(|| Error::bad_data("slab", format!("{addr:x} is not a struct page address")))?;
        Ok(Slab {
            addr,
            cache,
            base,
            inuse: (counters & 0xffff) as u32,
            objects: ((counters >> 16) & 0x7fff) as u32,
            frozen: (counters >> 31) & 1 == 1,
            freelist: mem.read_u64(addr.wrapping_add(st.off.slab_freelist))?,
            node: 0,
        })
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait SlabHelpers {
    fn slab_state(&self) -> Result<&SlabState>;
    fn is_slab_head(&self, head: u64, st: &SlabState) -> Result<bool>;
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
            Some(t) => t >> 24 == PAGE_TYPE_SLAB,
            None => true,
        })
    }
}

/// Index of the object `addr` falls in, or None in the slab's tail padding.
pub fn object_index(cache: &SlabCache, slab: &Slab, addr: u64) -> Option<u32> {
    let rel = addr.checked_sub(slab.base)?;
    let index = rel / u64::from(cache.size.max(1));
    (index < u64::from(slab.objects)).then_some(index as u32)
}

/// Start of object `index` as crash prints it (after any left red zone).
pub fn object_start(cache: &SlabCache, slab: &Slab, index: u32) -> u64 {
    slab.base + u64::from(index) * u64::from(cache.size) + cache.left_pad()
}

fn build_state(k: &Kernel) -> Result<SlabState> {
    let l = k.layouts();
    let off = SlabOffsets {
        slab_cache: l.offset("slab", "slab_cache")?,
        slab_freelist: l.offset("slab", "freelist")?,
        slab_counters: l.offset("slab", "counters")?,
        slab_list: l.offset("slab", "slab_list")?,
        slab_next: l.offset("slab", "next")?,
        kcc_freelist: l.offset("kmem_cache_cpu", "freelist")?,
        kcc_slab: l.offset("kmem_cache_cpu", "slab")?,
        kcc_partial: l.offset("kmem_cache_cpu", "partial").ok(),
        node_nr_partial: l.offset("kmem_cache_node", "nr_partial")?,
        node_partial: l.offset("kmem_cache_node", "partial")?,
        node_nr_slabs: l.offset("kmem_cache_node", "nr_slabs").ok(),
        node_total_objects: l.offset("kmem_cache_node", "total_objects").ok(),
    };
    let nr_nodes = k.memory().read_u32(k.symbol_addr("nr_node_ids")?).unwrap_or(1).clamp(1, 1024);
    let head = k.symbol_addr("slab_caches")?;
    let list_off = l.offset("kmem_cache", "list")?;
    let walk = list::walk(k.memory(), head, WalkOptions { limit: MAX_CACHES, ..WalkOptions::default() });
    let mut caches = Vec::with_capacity(walk.nodes.len());
    for node in walk.nodes {
        if let Ok(c) = read_cache(k, node.wrapping_sub(list_off), nr_nodes) {
            caches.push(c);
        }
    }
    let by_addr = caches.iter().enumerate().map(|(i, c)| (c.addr, i)).collect();
    let mut cpus = Vec::new();
    for cpu in k.possible_cpus()? {
        cpus.push((cpu, k.percpu_offset(cpu)?));
    }
    Ok(SlabState { off, caches, by_addr, cpus, pg_slab: k.page_flag_mask("slab") })
}

fn read_cache(k: &Kernel, addr: u64, nr_nodes: u32) -> Result<SlabCache> {
    let f = |m: &str| k.read_field(addr, "kmem_cache", m);
    let oo = f("oo.x")?;
    let name_ptr = f("name")?;
    let node_base = k.field_addr(addr, "kmem_cache", "node")?;
    let mut nodes = Vec::with_capacity(nr_nodes as usize);
    for n in 0..u64::from(nr_nodes) {
        nodes.push(k.memory().read_u64(node_base.wrapping_add(n * 8))?);
    }
    Ok(SlabCache {
        addr,
        name: k.memory().read_cstr(name_ptr, 64).unwrap_or_else(|_| "(unknown)".into()),
        object_size: f("object_size")? as u32,
        size: f("size")? as u32,
        offset: f("offset")? as u32,
        objects_per_slab: (oo & 0xffff) as u32,
        order: (oo >> 16) as u32,
        random: f("random").unwrap_or(0),
        flags: f("flags")?,
        red_left_pad: f("red_left_pad").unwrap_or(0) as u32,
        cpu_slab: f("cpu_slab")?,
        nodes,
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
