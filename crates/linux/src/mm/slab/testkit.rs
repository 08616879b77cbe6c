//! A synthetic kernel with a slab allocator, for the slab model's unit tests:
//! one CPU, one node, `struct page`s in the direct map, and an empty
//! `slab_caches` list that [`SlabMachine::cache`] links caches into. The
//! layouts are those of the `slab_walk` fuzz target (64-byte `struct
//! page`; heap page `i` has its `struct page` at `heap + 0x400 + 64*i`), so
//! a fuzz finding reads the same here.

use krash_debuginfo::types::{Composite, Member, Type, TypeId};
use krash_program::synthetic::{SyntheticKernel, PAGE_OFFSET};
use krash_program::Kernel;

/// `PG_slab` in the machine's `pageflag_names`.
pub(crate) const PG_SLAB: u64 = 1 << 9;
/// Heap offset of heap page 0's `struct page`.
const PAGES_AT: u64 = 0x400;

/// Which allocator the machine has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// SLUB with `struct slab` and `kmem_cache_cpu` (6.x).
    Slub,
    /// SLUB with per-cpu sheaves and per-node barns (7.x).
    Sheaves,
    /// SLAB on `struct slab` (6.1 with CONFIG_SLAB).
    Classic,
}

/// Offsets in `struct kmem_cache` (both allocators put these here).
pub(crate) mod cache {
    pub const CPU: u64 = 0;
    pub const NAME: u64 = 80;
    pub const LIST: u64 = 88;
    pub const NODE: u64 = 128;
    /// SLUB.
    pub const FLAGS: u64 = 8;
    pub const SIZE: u64 = 24;
    pub const OBJECT_SIZE: u64 = 28;
    pub const OFFSET: u64 = 40;
    pub const OO: u64 = 48;
    /// SLAB.
    pub const CLASSIC_SIZE: u64 = 20;
    pub const NUM: u64 = 32;
    pub const FREELIST_SIZE: u64 = 64;
    pub const CLASSIC_OBJECT_SIZE: u64 = 108;
}

/// A machine being built: the heap is `heap_bytes` of zeros at `heap`.
pub(crate) struct SlabMachine {
    pub s: SyntheticKernel,
    pub heap: u64,
    pub flavor: Flavor,
    head: u64,
    nr_cpu_ids: u64,
    possible: u64,
    nr_node_ids: u64,
    caches: Vec<u64>,
}

fn member(name: &str, ty: TypeId, offset: u64) -> Member {
    Member { name: Some(name.into()), ty, bit_offset: offset * 8, bitfield_size: None }
}

impl SlabMachine {
    pub(crate) fn new(flavor: Flavor, heap_bytes: u64) -> SlabMachine {
        let mut s = SyntheticKernel::new();
        let heap = s.alloc(heap_bytes);
        let t = s.types();
        let uint = t.int("unsigned int", 4, false);
        let ulong = t.int("long unsigned int", 8, false);
        let ptr = t.pointer(TypeId::VOID);
        let lh = t.structure("list_head", 16, &[("next", ptr, 0), ("prev", ptr, 8)]);
        let flex = t.add(Type::Array { elem: ptr, len: None });
        let nodes = t.array(ptr, 4);
        let compound = if flavor == Flavor::Sheaves { "compound_info" } else { "compound_head" };
        t.structure(
            "page",
            64,
            &[
                ("flags", ulong, 0),
                (compound, ulong, 8),
                ("mapping", ptr, 24),
                ("index", ulong, 32),
                ("page_type", uint, 48),
                ("_refcount", uint, 52),
            ],
        );
        let bit = |name: &str, at, width| Member {
            name: Some(name.into()),
            ty: uint,
            bit_offset: at,
            bitfield_size: Some(width),
        };
        let counters = || vec![bit("inuse", 0, 16), bit("objects", 16, 15), bit("frozen", 31, 1)];
        match flavor {
            Flavor::Slub | Flavor::Sheaves => {
                let bits = t.add(Type::Struct(Composite { name: None, size: 4, members: counters() }));
                let c = t.add(Type::Union(Composite {
                    name: None,
                    size: 8,
                    members: vec![member("counters", ulong, 0), Member { name: None, ..member("", bits, 0) }],
                }));
                t.add(Type::Struct(Composite {
                    name: Some("slab".into()),
                    size: 64,
                    members: vec![
                        member("__page_flags", ulong, 0),
                        member("slab_list", lh, 8),
                        member("next", ptr, 8),
                        member("slab_cache", ptr, 24),
                        member("freelist", ptr, 32),
                        Member { name: None, ..member("", c, 40) },
                    ],
                }));
                let oo = t.structure("kmem_cache_order_objects", 4, &[("x", uint, 0)]);
                let mut m = vec![
                    ("flags", uint, cache::FLAGS),
                    ("size", uint, cache::SIZE),
                    ("object_size", uint, cache::OBJECT_SIZE),
                    ("offset", uint, cache::OFFSET),
                    ("oo", oo, cache::OO),
                    ("name", ptr, cache::NAME),
                    ("list", lh, cache::LIST),
                ];
                if flavor == Flavor::Slub {
                    m.extend([("cpu_slab", ptr, cache::CPU), ("node", nodes, cache::NODE)]);
                    t.structure(
                        "kmem_cache_cpu",
                        32,
                        &[("freelist", ptr, 0), ("tid", ulong, 8), ("slab", ptr, 16), ("partial", ptr, 24)],
                    );
                } else {
                    let pn = t.structure("kmem_cache_per_node_ptrs", 16, &[("barn", ptr, 0), ("node", ptr, 8)]);
                    let per_node = t.array(pn, 4);
                    m.extend([("cpu_sheaves", ptr, cache::CPU), ("per_node", per_node, cache::NODE)]);
                    t.structure("slub_percpu_sheaves", 32, &[("main", ptr, 8), ("spare", ptr, 16)]);
                    t.structure("slab_sheaf", 32, &[("barn_list", lh, 0), ("size", uint, 24), ("objects", flex, 32)]);
                    t.structure("node_barn", 48, &[("sheaves_full", lh, 8)]);
                }
                t.structure("kmem_cache", 192, &m);
                t.structure(
                    "kmem_cache_node",
                    48,
                    &[
                        ("nr_partial", ulong, 8),
                        ("partial", lh, 16),
                        ("nr_slabs", ulong, 32),
                        ("total_objects", ulong, 40),
                    ],
                );
            }
            Flavor::Classic => {
                t.structure(
                    "slab",
                    64,
                    &[
                        ("slab_list", lh, 8),
                        ("slab_cache", ptr, 24),
                        ("freelist", ptr, 32),
                        ("s_mem", ptr, 40),
                        ("active", uint, 48),
                    ],
                );
                t.structure(
                    "kmem_cache",
                    160,
                    &[
                        ("cpu_cache", ptr, cache::CPU),
                        ("size", uint, cache::CLASSIC_SIZE),
                        ("flags", uint, 28),
                        ("num", uint, cache::NUM),
                        ("gfporder", uint, 36),
                        ("freelist_size", uint, cache::FREELIST_SIZE),
                        ("name", ptr, cache::NAME),
                        ("list", lh, cache::LIST),
                        ("object_size", uint, cache::CLASSIC_OBJECT_SIZE),
                        ("node", nodes, cache::NODE),
                    ],
                );
                t.structure("array_cache", 16, &[("avail", uint, 0), ("limit", uint, 4), ("entry", flex, 16)]);
                t.structure(
                    "kmem_cache_node",
                    128,
                    &[
                        ("slabs_partial", lh, 8),
                        ("slabs_full", lh, 24),
                        ("slabs_free", lh, 40),
                        ("total_slabs", ulong, 56),
                        ("shared", ptr, 88),
                    ],
                );
            }
        }
        let head = s.global("slab_caches", 16);
        s.write_u64(head, head);
        s.write_u64(head + 8, head);
        // Room for every CPU a kernel may have; all their offsets are 0.
        s.global("__per_cpu_offset", 8 * 8192);
        let nr_cpu_ids = s.global("nr_cpu_ids", 4);
        s.write_u32(nr_cpu_ids, 1);
        let possible = s.global("__cpu_possible_mask", 8192 / 8);
        s.write_u64(possible, 1);
        let nr_node_ids = s.global("nr_node_ids", 4);
        s.write_u32(nr_node_ids, 1);
        let heap_pfn = (heap - PAGE_OFFSET) >> 12;
        let vmemmap = s.global("vmemmap_base", 8);
        s.write_u64(vmemmap, (heap + PAGES_AT).wrapping_sub(heap_pfn * 64));
        let name = s.global("pageflag_name_slab", 8);
        s.write_str(name, "slab");
        let table = s.global("pageflag_names", 32);
        s.write_u64(table, PG_SLAB);
        s.write_u64(table + 8, name);
        SlabMachine { s, heap, flavor, head, nr_cpu_ids, possible, nr_node_ids, caches: Vec::new() }
    }

    /// Makes CPUs `0..n` (at most 8192) possible, every one's per-cpu
    /// offset 0: their per-cpu data is all the same (as when the offsets
    /// are corrupt).
    pub(crate) fn cpus(&mut self, n: u32) {
        self.s.write_u32(self.nr_cpu_ids, n);
        let mut mask = vec![0u8; 8192 / 8];
        for cpu in 0..n.min(8192) as usize {
            mask[cpu / 8] |= 1 << (cpu % 8);
        }
        self.s.write(self.possible, &mask);
    }

    /// Makes `nr_node_ids` `n` (caches made later get a node only on node 0).
    pub(crate) fn nodes(&mut self, n: u32) {
        self.s.write_u32(self.nr_node_ids, n);
    }

    /// The `struct page` (or `struct slab`) of heap page `i`.
    pub(crate) fn page(&self, i: u64) -> u64 {
        self.heap + PAGES_AT + 64 * i
    }

    /// The memory of heap page `i`.
    pub(crate) fn page_memory(&self, i: u64) -> u64 {
        self.heap + 4096 * i
    }

    /// A cache at heap offset `at` named `name` (its string, node and
    /// empty per-cpu data at `at + 0x100`, `+ 0x140` and `+ 0x1c0`; the
    /// per-cpu offset is 0), linked last on `slab_caches`:
    /// `size`-byte objects, `objects` per one-page slab, free pointers at
    /// `size / 2` (SLUB) or one-byte free indexes (SLAB). Returns its address.
    pub(crate) fn cache(&mut self, at: u64, name: &str, size: u32, objects: u32) -> u64 {
        let c = self.heap + at;
        self.s.write_str(c + 0x100, name);
        self.s.write_u64(c + cache::NAME, c + 0x100);
        let node = c + 0x140;
        let node_ptr = if self.flavor == Flavor::Sheaves { c + cache::NODE + 8 } else { c + cache::NODE };
        self.s.write_u64(node_ptr, node);
        self.s.write_u64(c + cache::CPU, c + 0x1c0);
        match self.flavor {
            Flavor::Classic => {
                self.s.write_u32(c + cache::CLASSIC_SIZE, size);
                self.s.write_u32(c + cache::CLASSIC_OBJECT_SIZE, size);
                self.s.write_u32(c + cache::NUM, objects);
                self.s.write_u32(c + cache::FREELIST_SIZE, objects);
                for list in [8, 24, 40] {
                    self.s.write_u64(node + list, node + list);
                    self.s.write_u64(node + list + 8, node + list);
                }
            }
            Flavor::Slub | Flavor::Sheaves => {
                self.s.write_u32(c + cache::SIZE, size);
                self.s.write_u32(c + cache::OBJECT_SIZE, size);
                self.s.write_u32(c + cache::OFFSET, size / 2);
                self.s.write_u32(c + cache::OO, objects);
                self.s.write_u64(node + 16, node + 16);
                self.s.write_u64(node + 24, node + 16);
            }
        }
        self.caches.push(c);
        let links: Vec<u64> = std::iter::once(self.head).chain(self.caches.iter().map(|c| c + cache::LIST)).collect();
        for (i, &l) in links.iter().enumerate() {
            self.s.write_u64(l, links[(i + 1) % links.len()]);
            self.s.write_u64(l + 8, links[(i + links.len() - 1) % links.len()]);
        }
        c
    }

    /// Heap page `i` as a slab of `cache`: PG_slab, `slab_cache`,
    /// `freelist` and (SLUB) `inuse`/`objects`, (SLAB) `active` and
    /// `s_mem` (`base`). Returns its `struct slab`.
    pub(crate) fn slab(&mut self, i: u64, cache: u64, freelist: u64, inuse: u32, objects: u32, base: u64) -> u64 {
        let s = self.page(i);
        self.s.write_u64(s, PG_SLAB);
        self.s.write_u64(s + 24, cache);
        self.s.write_u64(s + 32, freelist);
        match self.flavor {
            Flavor::Classic => {
                self.s.write_u64(s + 40, base);
                self.s.write_u32(s + 48, inuse);
            }
            Flavor::Slub | Flavor::Sheaves => {
                self.s.write_u64(s + 40, u64::from(inuse) | u64::from(objects) << 16);
            }
        }
        s
    }

    pub(crate) fn build(self) -> Kernel {
        self.s.build().expect("synthetic slab kernel")
    }
}
