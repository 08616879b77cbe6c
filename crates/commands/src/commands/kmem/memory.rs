//! `kmem`'s whole-memory views: the meminfo summary (`-i`), buddy free
//! areas (`-f`, `-F`, `-f ADDR`), VM counters (`-V`), zones (`-z`), nodes
//! and sections (`-n`), per-cpu offsets (`-o`), huge page pools (`-h`),
//! page flag bits (`-g`) and every struct page (`-p`, `-m`).

use krash_core::{Error, Result, VirtualMemory};
use krash_debuginfo::types::{Type, TypeKind, TypeOps};
use krash_linux::mm::page::PageExt;
use krash_linux::mm::sparse::SparseExt;
use krash_linux::mm::vmstat::VmstatExt;
use krash_linux::mm::zone::ZoneExt;
use krash_program::Kernel;

pub use krash_linux::mm::meminfo::{HugePool, MemInfo};
pub use krash_linux::mm::sparse::{MemSection, MemoryBlock};
pub use krash_linux::mm::vmstat::{Counter, VmStats};
pub use krash_linux::mm::zone::{FreeList, MemoryNode, Zone};

/// A zone as the `-f` and `-n` tables show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneRow {
    pub node: u32,
    pub index: u32,
    pub name: String,
    /// Spanned pages.
    pub size: u64,
    pub free: u64,
    /// The struct page of the zone's first frame (0 for an empty zone).
    pub mem_map: u64,
    pub start_pfn: u64,
    /// The physical address of the zone's first frame (0 for an empty zone).
    pub start_paddr: u64,
    /// The zone's first frame counted from its node's first frame.
    pub start_mapnr: u64,
}

/// One zone of `kmem -f`: its row and, when it has free pages, its lists.
#[derive(Debug, Clone)]
pub struct ZoneFreeAreas {
    pub row: ZoneRow,
    pub lists: Vec<FreeList>,
}

/// Where `kmem -f ADDR` found the address: a free block of a zone.
#[derive(Debug, Clone)]
pub struct FreeBlockHit {
    pub row: ZoneRow,
    pub order: u32,
    pub list: u64,
    /// The block's first struct page.
    pub block: u64,
    /// Index of the address's page in the block (0 for the first).
    pub page_index: u64,
}

/// `kmem -f` / `-F` / `-f ADDR`.
#[derive(Debug, Clone)]
pub struct FreeAreas {
    /// More than one node: each node gets a `NODE` header.
    pub multi_node: bool,
    pub verbose: bool,
    pub zones: Vec<ZoneFreeAreas>,
    /// Sum of the zones' NR_FREE_PAGES.
    pub nr_free_pages: u64,
    /// Pages found on the free lists.
    pub found: u64,
    /// Problems met on the free lists.
    pub problems: Vec<FreeAreaProblem>,
    /// The kernel's base page size (a block of order N is `page_size << N` bytes).
    pub page_size: u64,
}

/// A free list whose walk stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeAreaProblem {
    pub zone: String,
    pub order: u32,
    /// The list head.
    pub list: u64,
    /// Why the walk stopped.
    pub problem: String,
}

/// `kmem -f ADDR`.
#[derive(Debug, Clone)]
pub struct FreeSearch {
    pub addr: u64,
    pub hit: Option<FreeBlockHit>,
    /// The kernel's base page size.
    pub page_size: u64,
}

/// One zone of `kmem -z`.
#[derive(Debug, Clone)]
pub struct ZoneStat {
    pub zone: Zone,
    pub vm_stat: Vec<Counter>,
}

/// `kmem -n`.
#[derive(Debug, Clone)]
pub struct MemoryMap {
    pub nodes: Vec<MemoryNode>,
    /// The struct page of each node's first frame.
    pub node_mem_maps: Vec<u64>,
    pub zones: Vec<ZoneRow>,
    pub sections: Vec<MemSection>,
    pub blocks: Vec<MemoryBlock>,
    /// The kernel's base page size (a frame number times it is its address).
    pub page_size: u64,
}

/// One CPU's `__per_cpu_offset`.
#[derive(Debug, Clone)]
pub struct CpuOffset {
    pub cpu: u32,
    pub offset: u64,
    pub online: bool,
}

/// One `enum pageflags` bit.
#[derive(Debug, Clone)]
pub struct PageFlagBit {
    pub name: String,
    pub bit: u32,
}

/// `kmem -g FLAGS`.
#[derive(Debug, Clone)]
pub struct PageFlagDecode {
    pub flags: u64,
    /// The bits set in `flags` (every PG_ bit when `flags` is 0).
    pub bits: Vec<PageFlagBit>,
    /// Longest enumerator name of `enum pageflags` (the table's name column).
    pub name_width: usize,
    /// Hex digits of the VALUE column.
    pub value_digits: usize,
}

/// One page of `kmem -m`: the members' values, hex words joined by ','.
#[derive(Debug, Clone)]
pub struct PageMembers {
    pub page: u64,
    pub values: Vec<Vec<u64>>,
}

/// The zone rows of every node (the `-f` / `-n` tables).
pub(crate) fn zone_rows(k: &Kernel, node: &MemoryNode) -> Vec<ZoneRow> {
    let page_size = k.memory().page_size();
    node.zones
        .iter()
        .map(|z| {
            let mem_map = if z.spanned_pages == 0 { 0 } else { k.pfn_to_page(z.start_pfn).unwrap_or(0) };
            ZoneRow {
                node: z.node,
                index: z.index,
                name: z.name.clone(),
                size: z.spanned_pages,
                free: z.free_pages,
                mem_map,
                start_pfn: if z.spanned_pages == 0 { 0 } else { z.start_pfn },
                start_paddr: if z.spanned_pages == 0 { 0 } else { z.start_pfn.wrapping_mul(page_size) },
                start_mapnr: if z.spanned_pages == 0 { 0 } else { z.start_pfn.saturating_sub(node.start_pfn) },
            }
        })
        .collect()
}

/// `kmem -f` (`verbose`: `-F`, every block listed).
pub(crate) fn free_areas(k: &Kernel, verbose: bool) -> Result<FreeAreas> {
    let nodes = k.memory_nodes()?;
    let mut zones = Vec::new();
    let (mut total, mut found) = (0u64, 0u64);
    let mut problems = Vec::new();
    for node in &nodes {
        for (zone, row) in node.zones.iter().zip(zone_rows(k, node)) {
            total = total.saturating_add(row.free);
            let lists = if row.free == 0 { Vec::new() } else { k.zone_free_lists(zone)? };
            for l in &lists {
                found = found.saturating_add(l.pages());
                if let Some(b) = &l.broken {
                    problems.push(FreeAreaProblem {
                        zone: zone.name.clone(),
                        order: l.order,
                        list: l.addr,
                        problem: b.clone(),
                    });
                }
            }
            zones.push(ZoneFreeAreas { row, lists });
        }
    }
    Ok(FreeAreas {
        multi_node: nodes.len() > 1,
        verbose,
        zones,
        nr_free_pages: total,
        found,
        problems,
        page_size: k.memory().page_size(),
    })
}

/// `kmem -f ADDR`: the free block holding a page, physical or virtual address.
pub(crate) fn free_search(k: &Kernel, addr: u64) -> Result<FreeSearch> {
    let page =
        if k.page_to_phys(addr).is_some() { addr } else { k.virt_to_page(addr).or_else(|_| k.phys_to_page(addr))? };
    let struct_size = k.page_model()?.page_struct_size;
    let page_size = k.memory().page_size();
    for node in k.memory_nodes()? {
        for (zone, row) in node.zones.iter().zip(zone_rows(k, &node)) {
            if row.free == 0 {
                continue;
            }
            for l in k.zone_free_lists(zone)? {
                let span = (1u64 << l.order).saturating_mul(struct_size);
                if let Some(&block) = l.blocks.iter().find(|&&b| (b..b.saturating_add(span)).contains(&page)) {
                    let page_index = (page - block) / struct_size;
                    let hit = FreeBlockHit { row, order: l.order, list: l.addr, block, page_index };
                    return Ok(FreeSearch { addr, hit: Some(hit), page_size });
                }
            }
        }
    }
    Ok(FreeSearch { addr, hit: None, page_size })
}

/// `kmem -z`.
pub(crate) fn zone_stats(k: &Kernel) -> Result<Vec<ZoneStat>> {
    let mut out = Vec::new();
    for node in k.memory_nodes()? {
        for zone in node.zones {
            let vm_stat = k.zone_vm_stat(&zone)?;
            out.push(ZoneStat { zone, vm_stat });
        }
    }
    Ok(out)
}

/// `kmem -n`.
pub(crate) fn memory_map(k: &Kernel) -> Result<MemoryMap> {
    let nodes = k.memory_nodes()?;
    let zones = nodes.iter().flat_map(|n| zone_rows(k, n)).collect();
    let node_mem_maps = nodes.iter().map(|n| k.pfn_to_page(n.start_pfn).unwrap_or(0)).collect();
    Ok(MemoryMap {
        nodes,
        node_mem_maps,
        zones,
        sections: k.mem_sections()?,
        blocks: k.memory_blocks().unwrap_or_default(),
        page_size: k.memory().page_size(),
    })
}

/// `kmem -o`.
pub(crate) fn cpu_offsets(k: &Kernel) -> Result<Vec<CpuOffset>> {
    let online = k.online_cpus()?;
    let mut out = Vec::new();
    for cpu in k.possible_cpus()? {
        out.push(CpuOffset { cpu, offset: k.percpu_offset(cpu)?, online: online.contains(&cpu) });
    }
    Ok(out)
}

/// `kmem -g FLAGS`: the `enum pageflags` bits set in `flags`.
pub(crate) fn page_flag_decode(k: &Kernel, flags: u64) -> Result<PageFlagDecode> {
    let types = k.types().ok_or_else(|| Error::MissingDebuginfo("kmem -g needs the type of enum pageflags".into()))?;
    let id = types.find_type(TypeKind::Enum, "pageflags")?;
    let Type::Enum { variants, .. } = types.type_by_id(id)? else {
        return Err(Error::bad_data("enum pageflags", "not an enum"));
    };
    let name_width = variants.iter().map(|v| v.name.len()).max().unwrap_or(0);
    let pg: Vec<PageFlagBit> = variants
        .iter()
        .filter(|v| v.name.contains("PG_"))
        .filter_map(|v| {
            Some(PageFlagBit { name: v.name.clone(), bit: u32::try_from(v.value).ok().filter(|&b| b < 64)? })
        })
        .collect();
    let largest = pg.iter().map(|b| b.bit as usize).max().unwrap_or(0);
    let bits = pg.into_iter().filter(|b| flags == 0 || flags & (1u64 << b.bit) != 0).collect();
    Ok(PageFlagDecode { flags, bits, name_width, value_digits: (largest + 1) / 4 + 1 })
}

/// Most pages read from the map in one request.
const PAGES_PER_READ: u64 = 4096;

/// Calls `each` with the address and bytes of every struct page of every
/// present section, reading the map in large chunks.
pub(crate) fn for_each_page(k: &Kernel, mut each: impl FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
    let size = k.page_model()?.page_struct_size;
    let per_section = k.pages_per_section();
    let mut buf = Vec::new();
    for s in k.mem_sections()? {
        let mut done = 0;
        while done < per_section {
            let n = PAGES_PER_READ.min(per_section - done);
            let first = s.mem_map.wrapping_add(done * size);
            buf.resize((n * size) as usize, 0);
            k.memory().read_virt(first, &mut buf)?;
            for (i, bytes) in buf.chunks_exact(size as usize).enumerate() {
                each(first.wrapping_add(i as u64 * size), bytes)?;
            }
            done += n;
        }
    }
    Ok(())
}

/// `kmem -m member[,member]`: members of every struct page.
pub(crate) fn page_members(k: &Kernel, spec: &str) -> Result<(Vec<String>, Vec<PageMembers>)> {
    let names: Vec<String> = spec.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
    if names.is_empty() {
        return Err(Error::Usage("kmem -m: give struct page members, e.g. -m flags,lru".into()));
    }
    let mut fields = Vec::new();
    for n in &names {
        let f = k.layouts().field("page", n)?;
        fields.push((f.offset as usize, f.size.unwrap_or(8).clamp(1, 64) as usize));
    }
    let mut rows = Vec::new();
    for_each_page(k, |page, bytes| {
        let values = fields
            .iter()
            .map(|&(off, size)| {
                let b = bytes.get(off..off.saturating_add(size)).unwrap_or(&[]);
                b.chunks(8)
                    .map(|w| {
                        let mut word = [0u8; 8];
                        if let Some(d) = word.get_mut(..w.len()) {
                            d.copy_from_slice(w)
                        }
                        u64::from_le_bytes(word)
                    })
                    .collect()
            })
            .collect();
        rows.push(PageMembers { page, values });
        Ok(())
    })?;
    Ok((names, rows))
}
