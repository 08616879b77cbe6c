//! Regression tests for what the `slab_walk` fuzz target found in the slab
//! model (and what reviewing those findings turned up next to them), each
//! over a [`SlabMachine`] laid out as the fuzz target lays its kernels out.

use std::time::{Duration, Instant};

use super::freelist::FreelistExt;
use super::testkit::{cache, Flavor, SlabMachine};
use super::*;

/// Generous: these walks take a fraction of a second in a debug build; the
/// quadratic ones took 15 and 25 seconds.
const STUCK: Duration = Duration::from_secs(5);

/// `C:\W` in UTF-16: a freelist pointer overwritten with text.
const TEXT: u64 = 0x0057_005c_003a_0043;

fn named<'k>(k: &'k Kernel, name: &str) -> &'k SlabCache {
    k.slab_cache_named(name).unwrap_or_else(|| panic!("no cache {name}: {:?}", k.slab_cache_list_problems()))
}

#[test]
fn sheaf_objects_are_listed_by_address() {
    // 7.x: CPU 0's main sheaf holds two objects; the barn is empty.
    let mut m = SlabMachine::new(Flavor::Sheaves, 0x2000);
    let c = m.cache(0x800, "kmalloc-64", 64, 64);
    let (pcs, sheaf) = (m.heap + 0xa00, m.heap + 0xb00);
    m.s.write_u64(c + cache::CPU, pcs);
    m.s.write_u64(pcs + 8, sheaf);
    m.s.write_u32(sheaf + 24, 2);
    let objects = [m.page_memory(1) + 64, m.page_memory(1) + 640];
    m.s.write_u64(sheaf + 32, objects[0]);
    m.s.write_u64(sheaf + 40, objects[1]);
    let k = m.build();
    assert_eq!(k.cached_free_objects(named(&k, "kmalloc-64")).unwrap(), objects);
}

#[test]
fn a_sheaf_claiming_four_billion_objects_is_counted_not_allocated() {
    // Fuzz finding (out of memory): a sheaf's `size` of 0xffffffff made
    // cached_free_objects allocate that many zeros (32 GiB) to be counted.
    let mut m = SlabMachine::new(Flavor::Sheaves, 0x2000);
    let c = m.cache(0x800, "kmalloc-64", 64, 64);
    let (pcs, main, spare) = (m.heap + 0xa00, m.heap + 0xb00, m.heap + 0xc00);
    m.s.write_u64(c + cache::CPU, pcs);
    m.s.write_u64(pcs + 8, main);
    m.s.write_u32(main + 24, u32::MAX);
    m.s.write_u64(pcs + 16, spare);
    m.s.write_u32(spare + 24, 2);
    let node = c + 0x140;
    m.s.write_u64(node + 40, 10_000_000_000); // total_objects
    let k = m.build();
    let cache = named(&k, "kmalloc-64");
    let totals = k.cache_totals(cache).unwrap();
    assert_eq!(totals.allocated, 10_000_000_000 - u64::from(u32::MAX) - 2);
    // Listing them reads at most MAX_CACHED_OBJECTS entries: here past the
    // end of memory, an error rather than gigabytes.
    let listed = k.cached_free_objects(cache);
    assert!(listed.as_ref().map_or(true, |l| l.len() <= MAX_CACHED_OBJECTS), "{listed:?}");
}

#[test]
fn an_object_start_wraps_on_a_corrupt_slab_base() {
    // Fuzz finding (overflow): SLAB's `s_mem` near the top of the address
    // space made `base + index * size` overflow.
    let c = SlabCache {
        addr: 0,
        name: "size-128".into(),
        object_size: 128,
        size: 128,
        offset: 0,
        objects_per_slab: 30,
        order: 0,
        random: 0,
        flags: 0,
        red_zone: true,
        red_left_pad: 8,
        cpu_slab: 0,
        nodes: Vec::new(),
        free_index_size: 1,
        page_size: 4096,
    };
    let slab =
        Slab { addr: 0, cache: 0, base: u64::MAX - 200, objects: 30, inuse: 0, frozen: false, freelist: 0, node: 0 };
    assert_eq!(object_start(&c, &slab, 0), u64::MAX - 192);
    assert_eq!(object_start(&c, &slab, 29), (u64::MAX - 192).wrapping_add(29 * 128));
}

#[test]
fn node_object_counts_near_the_top_of_u64_saturate() {
    // `total += node.total_objects` overflowed with two nodes whose
    // counters are garbage.
    let mut m = SlabMachine::new(Flavor::Slub, 0x2000);
    m.nodes(2);
    let c = m.cache(0x800, "kmalloc-64", 64, 64);
    let (node0, node1) = (c + 0x140, c + 0x180);
    m.s.write_u64(c + cache::NODE + 8, node1);
    m.s.write_u64(node1 + 16, node1 + 16);
    m.s.write_u64(node1 + 24, node1 + 16);
    for node in [node0, node1] {
        m.s.write_u64(node + 32, u64::MAX); // nr_slabs
        m.s.write_u64(node + 40, u64::MAX); // total_objects
    }
    m.s.write_u64(c + cache::CPU, m.heap + 0xa00);
    let k = m.build();
    let totals = k.cache_totals(named(&k, "kmalloc-64")).unwrap();
    assert_eq!((totals.total, totals.slabs, totals.allocated), (u64::MAX, u64::MAX, u64::MAX));
}

#[test]
fn a_long_per_cpu_partial_chain_is_walked_in_linear_time() {
    // Each chain entry was checked against every earlier one: 300 000
    // distinct slabs took 15 s. Here every word from `first` on holds its
    // own address, so `next` (at +8) leads from each word to the next.
    const N: u64 = 300_000;
    let mut m = SlabMachine::new(Flavor::Slub, 0x1000 + 8 * (N + 1));
    let c = m.cache(0x800, "kmalloc-64", 64, 64);
    let kcc = m.heap + 0xa00;
    m.s.write_u64(c + cache::CPU, kcc);
    let first = m.heap + 0x1000;
    m.s.write_u64(kcc + 24, first);
    for i in 1..N {
        m.s.write_u64(first + 8 * i, first + 8 * i);
    }
    let k = m.build();
    let start = Instant::now();
    let cpus = k.cache_cpu_slabs(named(&k, "kmalloc-64")).unwrap();
    assert!(start.elapsed() < STUCK, "{:?}", start.elapsed());
    let partial = &cpus[0].partial;
    assert_eq!(
        (partial.len() as u64, partial.first(), partial.last()),
        (N, Some(&first), Some(&(first + 8 * (N - 1))))
    );
}

#[test]
fn a_text_freelist_head_finds_its_source_and_witness_in_one_pass() {
    // A cpu freelist head overwritten with UTF-16 text, in a 4 MiB slab of
    // 32 767 objects full of other text: every object is a candidate
    // source, and each searched the whole slab for a witness (10^10
    // comparisons, 25 s). The one witness is the slab's last word.
    const OBJECTS: u32 = 32_767;
    const SIZE: u32 = 128;
    let bytes = u64::from(OBJECTS) * u64::from(SIZE);
    let mut m = SlabMachine::new(Flavor::Slub, 0x1000 + bytes);
    let c = m.cache(0x800, "kmalloc-128", SIZE, OBJECTS);
    let kcc = m.heap + 0xa00;
    m.s.write_u64(c + cache::CPU, kcc);
    let base = m.page_memory(1);
    let slab = m.slab(1, c, 0, OBJECTS, OBJECTS, 0);
    let filler = 0x007a_007a_007a_007a_u64; // "zzzz"
    m.s.write(base, &filler.to_le_bytes().repeat(bytes as usize / 8 - 1));
    let witness = base + bytes - 8;
    m.s.write_u64(witness, TEXT);
    m.s.write_u64(kcc, TEXT);
    m.s.write_u64(kcc + 16, slab);
    let k = m.build();
    let cache = named(&k, "kmalloc-128");
    let slab = k.read_slab(slab, cache.addr).unwrap();
    let start = Instant::now();
    let contents = k.slab_contents(cache, &slab).unwrap();
    assert!(start.elapsed() < STUCK, "{:?}", start.elapsed());
    let [p] = &contents.problems[..] else { panic!("{:?}", contents.problems) };
    assert_eq!((p.reason, p.raw, p.decoded), (ProblemReason::NonCanonical, TEXT, TEXT));
    assert_eq!((p.source_object, p.inferred, p.witness), (Some(base), true, Some(witness)));
}

#[test]
fn a_slab_cache_whose_free_indexes_are_not_one_or_two_bytes_is_refused() {
    // SLAB's free-index width is freelist_size / num. Four bytes read as
    // nothing free; zero sent the slab down the SLUB freelist walk; and
    // num 65536 with freelist_size 2^28 read 256 MiB of indexes.
    for (freelist_size, width) in [(30 * 4, 4), (0, 0)] {
        let mut m = SlabMachine::new(Flavor::Classic, 0x2000);
        let c = m.cache(0x800, "size-128", 128, 30);
        m.s.write_u32(c + cache::FREELIST_SIZE, freelist_size);
        let base = m.page_memory(1);
        let slab = m.slab(1, c, base + 30 * 128, 10, 30, base);
        m.s.write(base + 30 * 128, &[1; 120]);
        let k = m.build();
        let cache = named(&k, "size-128");
        assert_eq!(cache.free_index_size, width);
        let slab = k.read_slab(slab, cache.addr).unwrap();
        let e = k.slab_contents(cache, &slab).unwrap_err().to_string();
        assert!(e.contains(&format!("{width}-byte free indexes")), "{e}");
    }
}

#[test]
fn array_caches_list_at_most_a_million_objects_in_all() {
    // 8192 possible CPUs whose per-cpu offsets all lead to one full array
    // cache of 65 536 entries listed 4 GiB of object addresses.
    let mut m = SlabMachine::new(Flavor::Classic, 0x1000 + 16 + 8 * 65_536);
    m.cpus(8192);
    let c = m.cache(0x800, "size-128", 128, 30);
    let ac = m.heap + 0x1000;
    m.s.write_u64(c + cache::CPU, ac);
    m.s.write_u32(ac, 65_536); // avail
    m.s.write_u32(ac + 4, 65_536); // limit
    let k = m.build();
    let caches = k.cache_array_caches(named(&k, "size-128")).unwrap();
    assert_eq!(caches.len(), 8192);
    assert_eq!(caches.iter().map(|ac| ac.entries.len()).sum::<usize>(), MAX_CACHED_OBJECTS);
    assert_eq!((caches[0].entries.len(), caches[8191].avail, caches[8191].entries.len()), (65_536, 65_536, 0));
}

#[test]
fn a_slab_cache_with_one_byte_free_indexes_lists_its_free_objects() {
    let mut m = SlabMachine::new(Flavor::Classic, 0x2000);
    let c = m.cache(0x800, "size-128", 128, 30);
    let base = m.page_memory(1);
    let slab = m.slab(1, c, base + 30 * 128, 28, 30, base);
    // Indexes 28 and 29 of the array are free: objects 3 and 7.
    m.s.write(base + 30 * 128 + 28, &[3, 7]);
    let k = m.build();
    let cache = named(&k, "size-128");
    let slab = k.read_slab(slab, cache.addr).unwrap();
    let contents = k.slab_contents(cache, &slab).unwrap();
    let free: Vec<usize> = contents.free.iter().enumerate().filter(|(_, &f)| f).map(|(i, _)| i).collect();
    assert_eq!((free, contents.allocated), (vec![3, 7], 28));
}
