//! The memory summary `kmem -i` prints (the numbers behind /proc/meminfo):
//! total and free RAM, buffers, page cache, slab, huge pages, swap and the
//! overcommit limit, plus the huge page pools (`hstates[]`).

use crate::mm::vmstat::VmstatExt;
use crate::mm::zone::ZoneExt;
use krash_core::{Error, Result, VirtualMemory};
use serde::Serialize;

use krash_program::list::{self, WalkOptions};
use krash_program::Kernel;

/// Most `hstates[]` entries read (x86-64 has 2).
const MAX_HSTATES: u64 = 16;
/// Most block-device inodes summed for BUFFERS.
const MAX_BDEV_INODES: usize = 1 << 20;

/// One huge page pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HugePool {
    pub hstate: u64,
    pub order: u32,
    /// Bytes of one huge page: the base page size shifted by `order`.
    pub size: u64,
    pub free: u64,
    pub total: u64,
    pub name: String,
}

/// `kmem -i`'s numbers, in pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// The kernel's base page size, what the counts are in.
    pub page_size: u64,
}

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait MeminfoExt {
    /// The huge page pools with a non-zero order (`kmem -h`).
    fn huge_pools(&self) -> Result<Vec<HugePool>>;
    /// The `kmem -i` summary.
    fn meminfo(&self) -> Result<MemInfo>;
    /// Pages cached for block devices: `nrpages` of every inode of the
    /// block-device pseudo filesystem (the kernel's `nr_blockdev_pages`).
    fn blockdev_pages(&self) -> Result<u64>;
}

impl MeminfoExt for Kernel {
    fn huge_pools(&self) -> Result<Vec<HugePool>> {
        // A kernel built without CONFIG_HUGETLBFS has no huge page pools.
        let base = self.symbol_addr("hstates").map_err(|_| {
            Error::Unsupported(
                "kmem: -h is not applicable: this kernel has no huge page pools (no hstates: built without \
                 CONFIG_HUGETLBFS)"
                    .into(),
            )
        })?;
        let size = self.layouts().size_of("hstate")?;
        let count = self
            .layouts()
            .variable_type("hstates")
            .and_then(|(_, t)| match t {
                krash_debuginfo::types::Type::Array { len, .. } => len,
                _ => None,
            })
            .unwrap_or(2)
            .min(MAX_HSTATES);
        let mut out = Vec::new();
        for i in 0..count {
            let h = base.wrapping_add(i.wrapping_mul(size));
            let order = self.read_field(h, "hstate", "order")? as u32;
            if order == 0 {
                continue;
            }
            out.push(HugePool {
                hstate: h,
                order,
                size: self.memory().page_size().checked_shl(order).unwrap_or(0),
                free: self.read_field_u64(h, "hstate", "free_huge_pages")?,
                total: self.read_field_u64(h, "hstate", "nr_huge_pages")?,
                name: self.read_field_string(h, "hstate", "name")?,
            });
        }
        Ok(out)
    }

    fn meminfo(&self) -> Result<MemInfo> {
        let mem = self.memory();
        let total = self.read_symbol_u64("_totalram_pages").or_else(|_| self.read_symbol_u64("totalram_pages"))?;
        let free = self.memory_nodes()?.iter().flat_map(|n| &n.zones).map(|z| z.free_pages).sum();
        let stats = self.vm_stats()?;
        let node = |name: &str| stats.get(name).unwrap_or(0);
        let buffers = self.blockdev_pages().unwrap_or(0);
        let cached =
            node("NR_FILE_PAGES").saturating_sub(node("NR_SWAPCACHE")).saturating_sub(buffers as i64).max(0) as u64;
        let slab = node("NR_SLAB_RECLAIMABLE_B").saturating_add(node("NR_SLAB_UNRECLAIMABLE_B")).max(0) as u64;
        let pools = self.huge_pools().unwrap_or_default();
        let pages = |n: u64, order: u32| n.checked_shl(order).unwrap_or(u64::MAX);
        let huge_total = pools.iter().map(|p| pages(p.total, p.order)).fold(0u64, u64::saturating_add);
        let huge_free = pools.iter().map(|p| pages(p.free, p.order)).fold(0u64, u64::saturating_add);
        let swap_total = self.read_symbol_u64("total_swap_pages").unwrap_or(0);
        let swap_free = self.read_symbol_u64("nr_swap_pages").unwrap_or(0);
        let swap_used = swap_total.saturating_sub(swap_free);
        let kbytes = self.read_symbol_u64("sysctl_overcommit_kbytes").unwrap_or(0);
        let limit = if kbytes != 0 {
            // vm_commit_limit(): kilobytes >> (PAGE_SHIFT - 10).
            kbytes >> self.memory().layout().paging().page_shift().saturating_sub(10)
        } else {
            let ratio = u64::from(mem.read_u32(self.symbol_addr("sysctl_overcommit_ratio")?)?);
            total.saturating_sub(huge_total).saturating_mul(ratio) / 100
        };
        let committed_at = self.field_addr(self.symbol_addr("vm_committed_as")?, "percpu_counter", "count")?;
        let committed = (mem.read_u64(committed_at)? as i64).max(0) as u64;
        if total == 0 {
            return Err(Error::bad_data("_totalram_pages", "zero pages of RAM"));
        }
        Ok(MemInfo {
            total,
            free,
            buffers,
            cached,
            slab,
            huge_total,
            huge_free,
            swap_total,
            swap_used,
            commit_limit: limit.saturating_add(swap_total),
            committed,
            page_size: self.memory().page_size(),
        })
    }

    fn blockdev_pages(&self) -> Result<u64> {
        let sb = self.read_symbol_u64("blockdev_superblock")?;
        let head = self.field_addr(sb, "super_block", "s_inodes")?;
        let link = self.layouts().offset("inode", "i_sb_list")?;
        let walk = list::walk(self.memory(), head, WalkOptions { limit: MAX_BDEV_INODES, ..Default::default() });
        let mut pages = 0u64;
        for node in walk.complete()? {
            let inode = node.wrapping_sub(link);
            let mapping = self.read_field_u64(inode, "inode", "i_mapping")?;
            if mapping != 0 {
                pages = pages.saturating_add(self.read_field_u64(mapping, "address_space", "nrpages")?);
            }
        }
        Ok(pages)
    }
}
