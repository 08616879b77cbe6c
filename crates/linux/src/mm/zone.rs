//! Memory nodes (`pglist_data`), their zones and the buddy allocator's free
//! areas, as `kmem -f`, `-z` and `-n` show them. Nodes come from
//! `node_data[]` (NUMA kernels) or `contig_page_data`.

use krash_core::{Error, Result, VirtualMemory};
use serde::Serialize;

use krash_program::list::{self, WalkOptions};
use krash_program::Kernel;

/// Most NUMA nodes krash looks at (the kernel's MAX_NUMNODES is 1 << 10 at most here).
const MAX_NODES: u64 = 1 << 10;
/// Most zones per node and orders per zone accepted from the types.
const MAX_ZONES: u64 = 16;
const MAX_ORDERS: u64 = 64;
const MAX_MIGRATE_TYPES: u64 = 16;
/// Most pages followed on one free list (a 64 TiB machine's worth of 4 KiB blocks).
const MAX_FREE_LIST_ENTRIES: usize = 1 << 34;

/// One memory node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemoryNode {
    pub id: u32,
    pub pgdat: u64,
    pub start_pfn: u64,
    pub spanned_pages: u64,
    pub present_pages: u64,
    pub zones: Vec<Zone>,
}

/// One zone of a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Zone {
    pub node: u32,
    pub index: u32,
    pub addr: u64,
    pub name: String,
    pub start_pfn: u64,
    pub spanned_pages: u64,
    pub present_pages: u64,
    pub managed_pages: u64,
    /// `_watermark[WMARK_MIN/LOW/HIGH]`.
    pub watermarks: [u64; 3],
    /// `vm_stat[NR_FREE_PAGES]`.
    pub free_pages: u64,
}

/// One free list: the blocks of one order and migrate type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FreeList {
    pub order: u32,
    pub migrate_type: u32,
    /// Address of `free_area[order].free_list[migrate_type]`.
    pub addr: u64,
    /// The first `struct page` of each free block.
    pub blocks: Vec<u64>,
    /// Why the walk stopped early, if it did.
    pub broken: Option<String>,
}

impl FreeList {
    /// Pages in this list's blocks.
    pub fn pages(&self) -> u64 {
        (self.blocks.len() as u64) << self.order
    }
}

/// Shapes of the zone structures, from the types.
struct ZoneShape {
    zone_size: u64,
    zones_per_node: u64,
    free_area_size: u64,
    orders: u64,
    migrate_types: u64,
}

fn zone_shape(k: &Kernel) -> Result<ZoneShape> {
    let l = k.layouts();
    let zone_size = l.size_of("zone")?;
    let free_area_size = l.size_of("free_area")?;
    let list_head = l.size_of("list_head").unwrap_or(16);
    let per = |total: Option<u64>, each: u64, what: &str, max: u64| -> Result<u64> {
        let n = total.and_then(|t| t.checked_div(each)).unwrap_or(0);
        if n == 0 || n > max {
            return Err(Error::bad_data(what, format!("implausible count {n}")));
        }
        Ok(n)
    };
    Ok(ZoneShape {
        zone_size,
        zones_per_node: per(
            l.field("pglist_data", "node_zones")?.size,
            zone_size,
            "pglist_data.node_zones",
            MAX_ZONES,
        )?,
        free_area_size,
        orders: per(l.field("zone", "free_area")?.size, free_area_size, "zone.free_area", MAX_ORDERS)?,
        migrate_types: per(
            l.field("free_area", "free_list")?.size,
            list_head,
            "free_area.free_list",
            MAX_MIGRATE_TYPES,
        )?,
    })
}

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait ZoneExt {
    /// Every online memory node with its zones.
    fn memory_nodes(&self) -> Result<Vec<MemoryNode>>;
    /// A zone's free lists, order by order, migrate type by migrate type.
    fn zone_free_lists(&self, zone: &Zone) -> Result<Vec<FreeList>>;
    /// A zone's `free_area[order].nr_free` for every order.
    fn zone_nr_free(&self, zone: &Zone) -> Result<Vec<u64>>;
    /// The value of an enum constant, from the types.
    fn enumerator_value(&self, name: &str) -> Option<u64>;
}

impl ZoneExt for Kernel {
    fn memory_nodes(&self) -> Result<Vec<MemoryNode>> {
        let shape = zone_shape(self)?;
        let mut out = Vec::new();
        for (id, pgdat) in self.pgdat_addresses()? {
            out.push(self.read_node(id, pgdat, &shape)?);
        }
        Ok(out)
    }

    fn zone_free_lists(&self, zone: &Zone) -> Result<Vec<FreeList>> {
        let shape = zone_shape(self)?;
        let l = self.layouts();
        let area0 = self.field_addr(zone.addr, "zone", "free_area")?;
        let list_off = l.offset("free_area", "free_list")?;
        let lru = l.offset("page", "lru")?;
        let list_head = l.size_of("list_head").unwrap_or(16);
        let mut out = Vec::new();
        for order in 0..shape.orders {
            let area = area0.wrapping_add(order * shape.free_area_size);
            for mt in 0..shape.migrate_types {
                let head = area.wrapping_add(list_off).wrapping_add(mt * list_head);
                let walk =
                    list::walk(self.memory(), head, WalkOptions { limit: MAX_FREE_LIST_ENTRIES, ..Default::default() });
                out.push(FreeList {
                    order: order as u32,
                    migrate_type: mt as u32,
                    addr: head,
                    blocks: walk.nodes.iter().map(|n| n.wrapping_sub(lru)).collect(),
                    broken: walk.broken.map(|b| b.to_string()),
                });
            }
        }
        Ok(out)
    }

    fn zone_nr_free(&self, zone: &Zone) -> Result<Vec<u64>> {
        let shape = zone_shape(self)?;
        let area0 = self.field_addr(zone.addr, "zone", "free_area")?;
        let nr_free = self.layouts().offset("free_area", "nr_free")?;
        (0..shape.orders)
            .map(|o| self.memory().read_u64(area0.wrapping_add(o * shape.free_area_size).wrapping_add(nr_free)))
            .collect()
    }

    fn enumerator_value(&self, name: &str) -> Option<u64> {
        let types = self.types()?;
        let (_, v) = types.find_enumerator(name).ok()??;
        u64::try_from(v).ok()
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait ZoneHelpers {
    /// (node id, pglist_data address) of each node.
    fn pgdat_addresses(&self) -> Result<Vec<(u32, u64)>>;
    fn read_node(&self, id: u32, pgdat: u64, shape: &ZoneShape) -> Result<MemoryNode>;
    fn read_zone(&self, node: u32, index: u32, addr: u64) -> Result<Zone>;
}

impl ZoneHelpers for Kernel {
    fn pgdat_addresses(&self) -> Result<Vec<(u32, u64)>> {
        let Ok(table) = self.symbol_addr("node_data") else {
            return Ok(vec![(0, self.symbol_addr("contig_page_data")?)]);
        };
        // `node_data[MAX_NUMNODES]`: its length from its type, else from
        // its symbol's size (BTF types only per-cpu variables, and
        // MAX_NUMNODES is 1 << CONFIG_NODES_SHIFT: 16 on Debian's arm64,
        // 1024 on its x86-64). Reading past the array would take the
        // next variable's words for nodes.
        let from_symbol = self.symbols().by_name("node_data").map(|s| s.size / 8).filter(|&n| n > 0);
        let slots = self
            .layouts()
            .variable_type("node_data")
            .and_then(|(_, t)| match t {
                krash_debuginfo::types::Type::Array { len, .. } => len,
                _ => None,
            })
            .or(from_symbol)
            .unwrap_or(MAX_NODES)
            .min(MAX_NODES);
        // Types without `node_id` (synthetic kernels) leave slots unchecked.
        let ids_known = self.layouts().offset("pglist_data", "node_id").is_ok();
        let mut out = Vec::new();
        for i in 0..slots {
            let pgdat = self.memory().read_u64(table.wrapping_add(i * 8))?;
            if pgdat == 0 {
                continue;
            }
            // Without the array's type, its length is a guess from the
            // distance to the next symbol (kallsyms has no sizes): a node
            // knows its own id, and the first word that is no node of
            // this slot is past the array.
            if ids_known && self.read_field(pgdat, "pglist_data", "node_id").ok() != Some(i) {
                break;
            }
            out.push((i as u32, pgdat));
        }
        if out.is_empty() {
            return Err(Error::NotFound("node_data[] holds no memory node".into()));
        }
        Ok(out)
    }

    fn read_node(&self, id: u32, pgdat: u64, shape: &ZoneShape) -> Result<MemoryNode> {
        let zones_at = self.field_addr(pgdat, "pglist_data", "node_zones")?;
        let mut zones = Vec::new();
        for i in 0..shape.zones_per_node {
            let addr = zones_at.wrapping_add(i * shape.zone_size);
            zones.push(self.read_zone(id, i as u32, addr)?);
        }
        Ok(MemoryNode {
            id,
            pgdat,
            start_pfn: self.read_field_u64(pgdat, "pglist_data", "node_start_pfn")?,
            spanned_pages: self.read_field_u64(pgdat, "pglist_data", "node_spanned_pages")?,
            present_pages: self.read_field_u64(pgdat, "pglist_data", "node_present_pages")?,
            zones,
        })
    }

    fn read_zone(&self, node: u32, index: u32, addr: u64) -> Result<Zone> {
        let mem = self.memory();
        let name_ptr = self.read_field_u64(addr, "zone", "name")?;
        let name = if name_ptr == 0 { String::new() } else { mem.read_cstr(name_ptr, 32)? };
        let wm = self.field_addr(addr, "zone", "_watermark")?;
        let free_index = self.enumerator_value("NR_FREE_PAGES").unwrap_or(0);
        let vm_stat = self.field_addr(addr, "zone", "vm_stat")?;
        Ok(Zone {
            node,
            index,
            addr,
            name,
            start_pfn: self.read_field_u64(addr, "zone", "zone_start_pfn")?,
            spanned_pages: self.read_field_u64(addr, "zone", "spanned_pages")?,
            present_pages: self.read_field_u64(addr, "zone", "present_pages")?,
            managed_pages: self.read_field_u64(addr, "zone", "managed_pages")?,
            watermarks: [mem.read_u64(wm)?, mem.read_u64(wm.wrapping_add(8))?, mem.read_u64(wm.wrapping_add(16))?],
            free_pages: (mem.read_u64(vm_stat.wrapping_add(free_index.wrapping_mul(8)))? as i64).max(0) as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use krash_program::synthetic::SyntheticKernel;

    #[test]
    fn node_data_is_as_long_as_its_symbol_when_no_type_says() {
        // BTF has no type for node_data: its symbol's 16 bytes are two
        // slots, and the variable after it (0xa7) is no node.
        let mut s = SyntheticKernel::new();
        let table = s.global("node_data", 16);
        let after = s.global("next_variable", 8);
        let pgdat = s.alloc(64);
        s.write_u64(table, pgdat);
        s.write_u64(after, 0xa7);
        let k = s.build().unwrap();
        assert_eq!(k.pgdat_addresses().unwrap(), vec![(0, pgdat)]);
    }
}
