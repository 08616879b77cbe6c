//! The slab-allocator model (`krash_linux::mm::slab` and its `freelist`
//! and `looks` modules) over a synthetic kernel whose memory is the fuzz
//! input, in every allocator layout krash supports.
//!
//! Each input builds a `SyntheticKernel` whose direct-map heap is the input
//! itself, at `H = PAGE_OFFSET + 0x400_0000` (heap page `i` is input bytes
//! `i*4096..`). Byte 0 picks the layout (`byte % 5`), whose types the
//! kernel gets:
//!
//! * 0, SLUB on `struct slab` (5.17 to 6.x): `kmem_cache.cpu_slab` to a
//!   per-cpu `kmem_cache_cpu` (`freelist`, `slab`, `partial`), `node[]`;
//! * 1, SLUB on `struct page` (5.10): the same with the slab members in
//!   `struct page` and `kmem_cache_cpu.page`;
//! * 2, SLUB with sheaves (7.x): `kmem_cache.cpu_sheaves` to a per-cpu
//!   `slub_percpu_sheaves` (`main`, `spare`), `per_node[]` of `{barn,
//!   node}`, `struct slab` behind an anonymous `freelist_counters`,
//!   `page.compound_info`, `page_type` marks slabs (`enum pagetype`);
//! * 3, SLAB on `struct slab` (6.1 with CONFIG_SLAB): `kmem_cache.cpu_cache`
//!   (an `array_cache`), `num`, `freelist_size`; `slab.s_mem`, `active`;
//!   `kmem_cache_node.slabs_partial/full/free`, `shared`;
//! * 4, SLAB on `struct page` (before 5.17, RHEL 7's allocator).
//!
//! Byte 1 holds options: bits 0-1 the possible-CPU mask (`nr_cpu_ids` is
//! 2), bit 2 two nodes instead of one, bit 3 `pageflag_names` without
//! "slab" (slabs then known by `page_type`, or every page is one), bit 4
//! `kmem_cache.random` (SLUB, hardened freelists) or `obj_offset` (SLAB
//! red zones), bit 5 `kmem_cache.red_left_pad`, bit 6 no per-cpu partial
//! chain (SLUB) or `page.lru` for `slab_list` (SLAB on pages), bit 7 no
//! `kmem_cache_node` object/slab counters. Byte 2: bit 0 no
//! `pageflag_names` at all, bit 1 no `frozen` bitfield, bit 2 (7.x) no
//! `enum pagetype`, bit 3 (SLAB) the slab structs' offsets from VMCOREINFO
//! `OFFSET()`/`SIZE()` lines instead of types (every member read as 8
//! bytes, as krash does without type information).
//!
//! The globals are copied from the input's first 64 bytes: `slab_caches`
//! (`next`, `prev`) from bytes 8 and 16, `__per_cpu_offset[0..2]` from 24
//! and 32; bytes 40, 48 and 56 are addresses looked up as `kmem ADDR`
//! does. `vmemmap_base` is fixed so that the 64-byte `struct page` of heap
//! page `i` is at `H + 0x400 + 64*i`: pages, caches, per-cpu data, nodes,
//! slabs and freelists all live in the input. The member offsets of each
//! layout are in the `Types` methods below (`slub_slab`, `slub_page`,
//! `slub_sheaves`, `slab_slab`, `slab_page`); the committed `seed-*`
//! inputs are one machine per layout with two caches, cpu, partial, full
//! and free slabs, freelists (one hardened, one with a UTF-16 pointer),
//! array caches or sheaves.
//!
//! Every entry point `kmem -s`, `kmem -S`, `kmem ADDR` and the analyzer's
//! freelist check use runs: `slab_variants`, `slab_caches`,
//! `slab_cache_list_problems`, `slab_cache_at`/`_named`, `cache_totals`,
//! `cache_cpu_slabs`, `cache_node_slabs`, `cached_free_objects`,
//! `read_slab`, `slab_freelist_slot`, `partial_head_problems`,
//! `slab_contents` (the freelist walks and their problem reports),
//! `object_index`/`object_start`, and for the header's addresses and those
//! the walk met `slab_of`, `slab_cache_of`, `slab_object`, `slab_at_page`.
//! The target's own caps (8 caches, 64 slabs shown per cache, 16 slabs'
//! contents and 16 lookups per run) keep a run short; the model's walks
//! must end on their own, bounded, never panicking.
#![no_main]

use std::collections::HashSet;

use krash_debuginfo::type_table::TypeTable;
use krash_debuginfo::types::{Composite, Enumerator, Member, Type, TypeId};
use krash_linux::mm::slab::freelist::FreelistExt;
use krash_linux::mm::slab::{self, SlabCache, SlabExt};
use krash_program::synthetic::{SyntheticKernel, PAGE_OFFSET};
use krash_program::Kernel;
use libfuzzer_sys::fuzz_target;

/// Bytes of the input read as the header (layout, options, globals).
const HEADER: usize = 64;
/// Input offset of heap page 0's `struct page` (vmemmap), 64 bytes each.
const PAGES_AT: u64 = 0x400;
const PAGE_STRUCT: u64 = 64;
/// `MAX_NUMNODES` of the types (`kmem_cache.node[4]`).
const NODES_LEN: u64 = 4;
/// Caches taken through the `kmem -s`/`-S` passes (the model reads all).
const CACHES_WALKED: usize = 8;
/// Slabs shown per cache by the `-S` pass, slabs whose contents (freelist
/// walks) are taken per run, and addresses looked up.
const SLABS_SHOWN: usize = 64;
const SLABS_EXAMINED: usize = 16;
const LOOKUPS: usize = 16;
/// Objects listed per slab (`kmem -S` lists them all).
const OBJECTS_LISTED: u32 = 1 << 12;

const LAYOUTS: u8 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    SlubSlab,
    SlubPage,
    SlubSheaves,
    SlabSlab,
    SlabPage,
}

impl Layout {
    fn of(byte: u8) -> Layout {
        match byte % LAYOUTS {
            0 => Layout::SlubSlab,
            1 => Layout::SlubPage,
            2 => Layout::SlubSheaves,
            3 => Layout::SlabSlab,
            _ => Layout::SlabPage,
        }
    }

    fn classic(self) -> bool {
        matches!(self, Layout::SlabSlab | Layout::SlabPage)
    }
}

/// The options of bytes 1 and 2.
#[derive(Debug, Clone, Copy)]
struct Options {
    cpu_mask: u8,
    two_nodes: bool,
    no_slab_flag: bool,
    hardened: bool,
    red_left_pad: bool,
    no_cpu_partial: bool,
    no_node_counters: bool,
    no_flag_names: bool,
    no_frozen: bool,
    no_pagetype_enum: bool,
    from_vmcoreinfo: bool,
}

impl Options {
    fn of(a: u8, b: u8) -> Options {
        Options {
            cpu_mask: a & 3,
            two_nodes: a & 4 != 0,
            no_slab_flag: a & 8 != 0,
            hardened: a & 0x10 != 0,
            red_left_pad: a & 0x20 != 0,
            no_cpu_partial: a & 0x40 != 0,
            no_node_counters: a & 0x80 != 0,
            no_flag_names: b & 1 != 0,
            no_frozen: b & 2 != 0,
            no_pagetype_enum: b & 4 != 0,
            from_vmcoreinfo: b & 8 != 0,
        }
    }
}

fn member(name: &str, ty: TypeId, offset: u64) -> Member {
    Member { name: Some(name.into()), ty, bit_offset: offset * 8, bitfield_size: None }
}

fn anonymous(ty: TypeId, offset: u64) -> Member {
    Member { name: None, ty, bit_offset: offset * 8, bitfield_size: None }
}

/// The kernel's types, or (SLAB's VMCOREINFO flavor) its `OFFSET()` lines.
struct Types<'a> {
    t: &'a mut TypeTable,
    uint: TypeId,
    ulong: TypeId,
    ptr: TypeId,
    list_head: TypeId,
    flex: TypeId,
    o: Options,
    lines: Vec<String>,
}

impl Types<'_> {
    /// A struct without bitfields or anonymous members: a type, or
    /// VMCOREINFO lines when the options say so.
    fn plain(&mut self, name: &str, size: u64, members: &[(&str, TypeId, u64)]) -> TypeId {
        if self.o.from_vmcoreinfo {
            self.lines.push(format!("SIZE({name})={size}"));
            for (m, _, off) in members {
                self.lines.push(format!("OFFSET({name}.{m})={off}"));
            }
            return TypeId::VOID;
        }
        self.t.structure(name, size, members)
    }

    fn composite(&mut self, union: bool, name: Option<&str>, size: u64, members: Vec<Member>) -> TypeId {
        let c = Composite { name: name.map(Into::into), size, members };
        self.t.add(if union { Type::Union(c) } else { Type::Struct(c) })
    }

    fn enumeration(&mut self, name: &str, values: &[(&str, i128)]) {
        let variants = values.iter().map(|&(n, value)| Enumerator { name: n.into(), value }).collect();
        self.t.add(Type::Enum { name: Some(name.into()), size: 4, signed: false, variants });
    }

    /// `union { unsigned long counters; struct { unsigned inuse:16,
    /// objects:15, frozen:1; }; }`.
    fn counters(&mut self) -> TypeId {
        let bit = |name: &str, ty, at, width| Member {
            name: Some(name.into()),
            ty,
            bit_offset: at,
            bitfield_size: Some(width),
        };
        let mut bits = vec![bit("inuse", self.uint, 0, 16), bit("objects", self.uint, 16, 15)];
        if !self.o.no_frozen {
            bits.push(bit("frozen", self.uint, 31, 1));
        }
        let s = self.composite(false, None, 4, bits);
        self.composite(true, None, 8, vec![member("counters", self.ulong, 0), anonymous(s, 0)])
    }

    /// `struct page` of 6.x (5.17+) kernels, where slabs have `struct slab`.
    fn page_6x(&mut self) {
        let (ulong, ptr, uint) = (self.ulong, self.ptr, self.uint);
        self.plain(
            "page",
            PAGE_STRUCT,
            &[
                ("flags", ulong, 0),
                ("compound_head", ulong, 8),
                ("mapping", ptr, 24),
                ("index", ulong, 32),
                ("page_type", uint, 48),
                ("_refcount", uint, 52),
            ],
        );
    }

    /// `struct kmem_cache` of SLUB; `cpu` names the per-cpu member,
    /// `per_node` the node array's element (None: `node[]` pointers).
    fn slub_cache(&mut self, cpu: &str, per_node: Option<TypeId>) {
        let (ulong, ptr, uint) = (self.ulong, self.ptr, self.uint);
        let oo = self.t.structure("kmem_cache_order_objects", 4, &[("x", uint, 0)]);
        let nodes = match per_node {
            Some(pn) => self.t.array(pn, NODES_LEN),
            None => self.t.array(ptr, NODES_LEN),
        };
        let mut m = vec![
            member(cpu, ptr, 0),
            member("flags", uint, 8),
            member("min_partial", ulong, 16),
            member("size", uint, 24),
            member("object_size", uint, 28),
            member("offset", uint, 40),
            member("cpu_partial", uint, 44),
            member("oo", oo, 48),
            member("min", oo, 52),
            member("name", ptr, 80),
            member("list", self.list_head, 88),
            member("inuse", uint, 104),
            member("align", uint, 108),
            member(if per_node.is_some() { "per_node" } else { "node" }, nodes, 128),
        ];
        if self.o.hardened {
            m.push(member("random", ulong, 64));
        }
        if self.o.red_left_pad {
            m.push(member("red_left_pad", uint, 72));
        }
        let size = 128 + NODES_LEN * if per_node.is_some() { 16 } else { 8 };
        self.composite(false, Some("kmem_cache"), size, m);
        let mut node =
            vec![member("list_lock", uint, 0), member("nr_partial", ulong, 8), member("partial", self.list_head, 16)];
        if !self.o.no_node_counters {
            node.push(member("nr_slabs", ulong, 32));
            node.push(member("total_objects", ulong, 40));
        }
        self.composite(false, Some("kmem_cache_node"), 48, node);
    }

    /// `struct kmem_cache_cpu` with `slab` (6.x) or `page` (5.10).
    fn kmem_cache_cpu(&mut self, slab: &str) {
        let ptr = self.ptr;
        let mut m = vec![member("freelist", ptr, 0), member("tid", self.ulong, 8), member(slab, ptr, 16)];
        if !self.o.no_cpu_partial {
            m.push(member("partial", ptr, 24));
        }
        self.composite(false, Some("kmem_cache_cpu"), 32, m);
    }

    /// Layout 0: SLUB with `struct slab`.
    fn slub_slab(&mut self) {
        self.page_6x();
        let c = self.counters();
        let (ulong, ptr, uint) = (self.ulong, self.ptr, self.uint);
        let mut m = vec![
            member("__page_flags", ulong, 0),
            member("slab_list", self.list_head, 8),
            member("slabs", uint, 16),
            member("slab_cache", ptr, 24),
            member("freelist", ptr, 32),
            anonymous(c, 40),
            member("__page_refcount", uint, 52),
        ];
        if !self.o.no_cpu_partial {
            m.push(member("next", ptr, 8));
        }
        self.composite(false, Some("slab"), 64, m);
        self.kmem_cache_cpu("slab");
        self.slub_cache("cpu_slab", None);
    }

    /// Layout 1: SLUB on `struct page` (5.10).
    fn slub_page(&mut self) {
        let c = self.counters();
        let (ulong, ptr, uint) = (self.ulong, self.ptr, self.uint);
        let mut m = vec![
            member("flags", ulong, 0),
            member("slab_list", self.list_head, 8),
            member("compound_head", ulong, 8),
            member("pages", uint, 16),
            member("pobjects", uint, 20),
            member("slab_cache", ptr, 24),
            member("mapping", ptr, 24),
            member("freelist", ptr, 32),
            member("index", ulong, 32),
            anonymous(c, 40),
            member("page_type", uint, 48),
            member("_refcount", uint, 52),
        ];
        if !self.o.no_cpu_partial {
            m.push(member("next", ptr, 8));
        }
        self.composite(false, Some("page"), PAGE_STRUCT, m);
        self.kmem_cache_cpu("page");
        self.slub_cache("cpu_slab", None);
    }

    /// Layout 2: SLUB with sheaves (7.x).
    fn slub_sheaves(&mut self) {
        let (ulong, ptr, uint) = (self.ulong, self.ptr, self.uint);
        self.t.structure(
            "page",
            PAGE_STRUCT,
            &[
                ("flags", ulong, 0),
                ("compound_info", ulong, 8),
                ("mapping", ptr, 24),
                ("__folio_index", ulong, 32),
                ("page_type", uint, 48),
                ("_refcount", uint, 52),
            ],
        );
        let c = self.counters();
        let fc =
            self.composite(false, Some("freelist_counters"), 16, vec![member("freelist", ptr, 0), anonymous(c, 8)]);
        self.composite(
            false,
            Some("slab"),
            64,
            vec![
                member("flags", ulong, 0),
                member("slab_cache", ptr, 8),
                member("slab_list", self.list_head, 16),
                anonymous(fc, 32),
            ],
        );
        self.t.structure(
            "slub_percpu_sheaves",
            32,
            &[("lock", ulong, 0), ("main", ptr, 8), ("spare", ptr, 16), ("rcu_free", ptr, 24)],
        );
        let lh = self.list_head;
        self.t.structure(
            "slab_sheaf",
            32,
            &[
                ("barn_list", lh, 0),
                ("cache", ptr, 16),
                ("size", uint, 24),
                ("node", uint, 28),
                ("objects", self.flex, 32),
            ],
        );
        self.t.structure(
            "node_barn",
            48,
            &[
                ("lock", uint, 0),
                ("sheaves_full", lh, 8),
                ("sheaves_empty", lh, 24),
                ("nr_full", uint, 40),
                ("nr_empty", uint, 44),
            ],
        );
        let pn = self.t.structure("kmem_cache_per_node_ptrs", 16, &[("barn", ptr, 0), ("node", ptr, 8)]);
        self.slub_cache("cpu_sheaves", Some(pn));
        self.enumeration(
            "_slab_flag_bits",
            &[("_SLAB_CONSISTENCY_CHECKS", 0), ("_SLAB_RED_ZONE", 1), ("_SLAB_POISON", 2)],
        );
        if !self.o.no_pagetype_enum {
            self.enumeration(
                "pagetype",
                &[
                    ("PGTY_buddy", 0xf0),
                    ("PGTY_offline", 0xf1),
                    ("PGTY_table", 0xf2),
                    ("PGTY_guard", 0xf3),
                    ("PGTY_slab", 0xf5),
                ],
            );
        }
    }

    /// SLAB's `kmem_cache`, `array_cache` and `kmem_cache_node`.
    fn classic_common(&mut self) {
        let (ulong, ptr, uint, lh) = (self.ulong, self.ptr, self.uint, self.list_head);
        let nodes = self.t.array(ptr, NODES_LEN);
        let mut m = vec![
            ("cpu_cache", ptr, 0),
            ("batchcount", uint, 8),
            ("limit", uint, 12),
            ("shared", uint, 16),
            ("size", uint, 20),
            ("reciprocal_buffer_size", uint, 24),
            ("flags", uint, 28),
            ("num", uint, 32),
            ("gfporder", uint, 36),
            ("colour", uint, 44),
            ("freelist_cache", ptr, 56),
            ("freelist_size", uint, 64),
            ("name", ptr, 80),
            ("list", lh, 88),
            ("object_size", uint, 108),
            ("align", uint, 112),
            ("node", nodes, 128),
        ];
        if self.o.hardened {
            m.push(("obj_offset", uint, 116));
        }
        self.plain("kmem_cache", 128 + NODES_LEN * 8, &m);
        self.plain(
            "array_cache",
            16,
            &[
                ("avail", uint, 0),
                ("limit", uint, 4),
                ("batchcount", uint, 8),
                ("touched", uint, 12),
                ("entry", self.flex, 16),
            ],
        );
        let mut n = vec![
            ("list_lock", uint, 0),
            ("slabs_partial", lh, 8),
            ("slabs_full", lh, 24),
            ("slabs_free", lh, 40),
            ("free_objects", ulong, 72),
            ("shared", ptr, 88),
            ("alien", ptr, 96),
        ];
        if !self.o.no_node_counters {
            n.push(("total_slabs", ulong, 56));
            n.push(("free_slabs", ulong, 64));
        }
        self.plain("kmem_cache_node", 128, &n);
    }

    /// Layout 3: SLAB on `struct slab` (6.1).
    fn slab_slab(&mut self) {
        self.page_6x();
        let (ulong, ptr, uint, lh) = (self.ulong, self.ptr, self.uint, self.list_head);
        self.plain(
            "slab",
            64,
            &[
                ("__page_flags", ulong, 0),
                ("slab_list", lh, 8),
                ("slab_cache", ptr, 24),
                ("freelist", ptr, 32),
                ("s_mem", ptr, 40),
                ("active", uint, 48),
                ("__page_refcount", uint, 52),
            ],
        );
        self.classic_common();
    }

    /// Layout 4: SLAB on `struct page` (before 5.17).
    fn slab_page(&mut self) {
        let (ulong, ptr, uint, lh) = (self.ulong, self.ptr, self.uint, self.list_head);
        let list = if self.o.no_cpu_partial { "lru" } else { "slab_list" };
        self.plain(
            "page",
            PAGE_STRUCT,
            &[
                ("flags", ulong, 0),
                (list, lh, 8),
                ("compound_head", ulong, 8),
                ("slab_cache", ptr, 24),
                ("mapping", ptr, 24),
                ("freelist", ptr, 32),
                ("index", ulong, 32),
                ("s_mem", ptr, 40),
                ("active", uint, 48),
                ("_refcount", uint, 52),
            ],
        );
        self.classic_common();
    }
}

/// The kernel over the input; `None` when too short for the header.
fn kernel_over(data: &[u8]) -> Option<Kernel> {
    if data.len() < HEADER {
        return None;
    }
    let layout = Layout::of(data[0]);
    let mut o = Options::of(data[1], data[2]);
    o.from_vmcoreinfo &= layout.classic();
    let word = |at: usize| data.get(at..at + 8).and_then(|b| b.try_into().ok()).map_or(0, u64::from_le_bytes);

    let mut s = SyntheticKernel::new();
    let heap = s.alloc(data.len() as u64);
    s.write(heap, data);
    let lines = {
        let t = s.types();
        let uint = t.int("unsigned int", 4, false);
        let ulong = t.int("long unsigned int", 8, false);
        let ptr = t.pointer(TypeId::VOID);
        let list_head = t.structure("list_head", 16, &[("next", ptr, 0), ("prev", ptr, 8)]);
        let flex = t.add(Type::Array { elem: ptr, len: None });
        let mut types = Types { t, uint, ulong, ptr, list_head, flex, o, lines: Vec::new() };
        match layout {
            Layout::SlubSlab => types.slub_slab(),
            Layout::SlubPage => types.slub_page(),
            Layout::SlubSheaves => types.slub_sheaves(),
            Layout::SlabSlab => types.slab_slab(),
            Layout::SlabPage => types.slab_page(),
        }
        types.lines
    };
    for line in &lines {
        s.vmcoreinfo_line(line);
    }

    let caches = s.global("slab_caches", 16);
    s.write_u64(caches, word(8));
    s.write_u64(caches + 8, word(16));
    let offsets = s.global("__per_cpu_offset", 16);
    s.write_u64(offsets, word(24));
    s.write_u64(offsets + 8, word(32));
    let nr_cpu_ids = s.global("nr_cpu_ids", 4);
    s.write_u32(nr_cpu_ids, 2);
    let possible = s.global("__cpu_possible_mask", 8);
    s.write_u64(possible, u64::from(o.cpu_mask));
    let nr_node_ids = s.global("nr_node_ids", 4);
    s.write_u32(nr_node_ids, if o.two_nodes { 2 } else { 1 });
    // struct page of heap page i at H + PAGES_AT + 64 * i.
    let heap_pfn = (heap - PAGE_OFFSET) >> 12;
    let vmemmap = s.global("vmemmap_base", 8);
    s.write_u64(vmemmap, (heap + PAGES_AT).wrapping_sub(heap_pfn * PAGE_STRUCT));
    if !o.no_flag_names {
        let mut names = Vec::new();
        if !o.no_slab_flag {
            let name = s.global("pageflag_name_slab", 8);
            s.write_str(name, "slab");
            names.push((1u64 << 9, name));
        }
        let name = s.global("pageflag_name_head", 8);
        s.write_str(name, "head");
        names.push((1 << 16, name));
        let table = s.global("pageflag_names", 16 * (names.len() as u64 + 1));
        for (i, (mask, name)) in names.into_iter().enumerate() {
            s.write_u64(table + 16 * i as u64, mask);
            s.write_u64(table + 16 * i as u64 + 8, name);
        }
    }
    s.build().ok()
}

/// What one run has met: addresses to look up (`kmem ADDR`), gathered on
/// the way, and the slabs whose contents were taken (each once: repeating
/// a slab's freelist walk finds nothing new and costs the most).
#[derive(Default)]
struct Seen {
    lookups: Vec<u64>,
    slabs: HashSet<u64>,
    row_shown: bool,
}

impl Seen {
    fn add(&mut self, addr: u64) {
        if self.lookups.len() < LOOKUPS && !self.lookups.contains(&addr) {
            self.lookups.push(addr);
        }
    }

    /// True the first time `slab` comes up, while fewer than
    /// `SLABS_EXAMINED` slabs have been.
    fn examine(&mut self, slab: u64) -> bool {
        self.slabs.len() < SLABS_EXAMINED && self.slabs.insert(slab)
    }
}

/// `kmem -s`'s row of one cache (also `kmem ADDR`'s and the analyzer's).
fn cache_row(k: &Kernel, c: &SlabCache) {
    if let Ok(t) = k.cache_totals(c) {
        let _ = (t.allocated, t.total, t.slabs, t.problems.len(), t.list_problems.len());
    }
    let _ = (c.slab_bytes() / 1024, c.left_pad());
}

/// One slab as `kmem -S` shows it: its row, then (the first time) its
/// contents and every object.
fn slab_detail(k: &Kernel, c: &SlabCache, addr: u64, seen: &mut Seen) {
    let Ok(slab) = k.read_slab(addr, c.addr) else { return };
    let _ = k.slab_freelist_slot(addr);
    seen.add(slab.base);
    seen.add(slab.freelist);
    if !seen.examine(addr) {
        return;
    }
    let _ = k.partial_head_problems(c, &slab);
    let Ok(contents) = k.slab_contents(c, &slab) else { return };
    for p in &contents.problems {
        let _ = (p.reason.to_string(), &p.looks_like, &p.object_text);
        seen.add(p.decoded);
    }
    for i in 0..slab.objects.min(OBJECTS_LISTED) {
        let start = slab::object_start(c, &slab, i);
        let free = contents.free.get(i as usize).copied().unwrap_or(false);
        let _ = (free && contents.cpu.is_some(), slab.objects.saturating_sub(contents.allocated));
        if i == 0 {
            seen.add(start);
        }
    }
}

/// `kmem -S` of one cache: its row, every cpu slab and per-cpu partial
/// slab, every node's slab lists, the cached free objects.
fn cache_detail(k: &Kernel, c: &SlabCache, seen: &mut Seen) {
    cache_row(k, c);
    let mut shown = 0;
    if let Ok(cpus) = k.cache_cpu_slabs(c) {
        for cpu in cpus {
            seen.add(cpu.freelist);
            for p in std::iter::once(cpu.slab).filter(|&s| s != 0).chain(cpu.partial) {
                if shown < SLABS_SHOWN {
                    slab_detail(k, c, p, seen);
                    shown += 1;
                }
            }
        }
    }
    if let Ok(nodes) = k.cache_node_slabs(c) {
        for n in nodes {
            let _ = (n.nr_partial, n.partial_break);
            let lists = n.classic.map(|l| [l.full, l.free]).into_iter().flatten();
            for p in std::iter::once(n.partial).chain(lists).flatten() {
                if shown < SLABS_SHOWN {
                    slab_detail(k, c, p, seen);
                    shown += 1;
                }
            }
        }
    }
    if let Ok(objects) = k.cached_free_objects(c) {
        for a in objects.into_iter().take(4) {
            seen.add(a);
        }
    }
}

/// `kmem ADDR`'s slab part (its cache row only for the first address
/// found in a slab: the rows repeat), and the lookups `bt -F` and `rd -S`
/// make.
fn lookup(k: &Kernel, addr: u64, seen: &mut Seen) {
    if let Some(slab) = k.slab_of(addr) {
        if let Some(cache) = k.slab_cache_at(slab.cache) {
            if !std::mem::replace(&mut seen.row_shown, true) {
                cache_row(k, cache);
                let _ = k.slab_cache_of(addr).map(|c| c.name.len());
            }
            if let Some(i) = slab::object_index(cache, &slab, addr) {
                let _ = slab::object_start(cache, &slab, i);
                if seen.examine(slab.addr) {
                    let _ = k.slab_contents(cache, &slab).map(|c| c.free.get(i as usize).copied());
                }
            }
        }
    }
    let _ = k.slab_at_page(addr);
}

fuzz_target!(|data: &[u8]| {
    let Some(k) = kernel_over(data) else { return };
    let _ = k.slab_variants();
    let _ = k.slab_cache_list_problems();
    let Ok(caches) = k.slab_caches() else { return };
    let word = |at: usize| data.get(at..at + 8).and_then(|b| b.try_into().ok()).map_or(0, u64::from_le_bytes);
    let mut seen = Seen::default();
    for at in [40, 48, 56] {
        seen.add(word(at));
    }
    for c in caches.iter().take(CACHES_WALKED) {
        let _ = k.slab_cache_at(c.addr);
        let _ = k.slab_cache_named(&c.name);
        cache_detail(&k, c, &mut seen);
    }
    for (i, addr) in std::mem::take(&mut seen.lookups).into_iter().enumerate() {
        if i < 3 {
            let _ = k.slab_object(addr);
        }
        lookup(&k, addr, &mut seen);
    }
});
