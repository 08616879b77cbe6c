//! Devices: registered character and block majors (`chrdevs[]`,
//! `major_names[]`), disks with their in-flight requests, and the I/O port
//! and memory resource trees.

use krash_core::{Result, VirtualMemory};
use serde::Serialize;

use krash_program::list::{self, WalkOptions};
use krash_program::Kernel;

/// Slots in `chrdevs[]`, `major_names[]` and `kobj_map.probes[]` (the kernel's hash size).
const MAJOR_HASH_SIZE: u64 = 255;
/// Entries followed along one hash chain before it is called corrupt.
const MAX_CHAIN: usize = 4096;
/// Block-device inodes examined on the bdev superblock.
const MAX_BDEV_INODES: usize = 1 << 16;
/// Resources visited in one resource tree.
const MAX_RESOURCES: usize = 1 << 16;
/// Deepest resource nesting followed.
const MAX_RESOURCE_DEPTH: usize = 32;
/// Hardware queues and tags examined per disk.
const MAX_HW_QUEUES: u64 = 1024;
const MAX_TAG_WORDS: u64 = 1 << 16;
/// `MQ_RQ_IN_FLIGHT` of `enum mq_rq_state`.
const MQ_RQ_IN_FLIGHT: u64 = 1;

/// A registered character or block device major.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceMajor {
    pub major: u32,
    pub name: String,
    /// The `struct cdev` (character) or `struct gendisk` (block), 0 if none was found.
    pub object: u64,
    /// The `file_operations` / `block_device_operations` pointer, 0 if none.
    pub operations: u64,
}

/// Character then block majors, in hash-table order as the kernel keeps them.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceTable {
    pub char_devices: Vec<DeviceMajor>,
    pub block_devices: Vec<DeviceMajor>,
}

/// One disk and the requests it has in flight.
#[derive(Debug, Clone, Serialize)]
pub struct DiskIo {
    pub major: u32,
    pub gendisk: u64,
    pub name: String,
    pub request_queue: u64,
    pub reads: u64,
    pub writes: u64,
}

/// One node of a resource tree (`struct resource`).
#[derive(Debug, Clone, Serialize)]
pub struct Resource {
    pub addr: u64,
    pub start: u64,
    pub end: u64,
    pub name: String,
    /// Nesting level below the root (the root is 0).
    pub depth: usize,
}

/// One resource tree in pre-order and why it was cut short, if it was.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceTree {
    pub root: String,
    pub resources: Vec<Resource>,
    pub broken: Option<String>,
}

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait DevicesExt {
    /// The character and block device majors.
    fn device_majors(&self) -> Result<DeviceTable>;
    /// In-flight reads and writes of every disk, skipping ram and loop
    /// devices as crash does.
    fn disk_io(&self) -> Result<Vec<DiskIo>>;
    /// The tree under the resource symbol `root` (`ioport_resource` or `iomem_resource`).
    fn resource_tree(&self, root: &str) -> Result<ResourceTree>;
}

impl DevicesExt for Kernel {
    fn device_majors(&self) -> Result<DeviceTable> {
        Ok(DeviceTable { char_devices: self.char_devices()?, block_devices: self.block_devices()? })
    }

    fn disk_io(&self) -> Result<Vec<DiskIo>> {
        let mut out = Vec::new();
        for d in self.whole_disks()? {
            let name = self.read_field_string(d.gendisk, "gendisk", "disk_name")?;
            if name.starts_with("ram") || name.starts_with("loop") {
                continue;
            }
            let queue = self.read_field_u64(d.gendisk, "gendisk", "queue")?;
            let (reads, writes) = self.queue_in_flight(queue)?;
            out.push(DiskIo { major: d.major, gendisk: d.gendisk, name, request_queue: queue, reads, writes });
        }
        Ok(out)
    }

    fn resource_tree(&self, root: &str) -> Result<ResourceTree> {
        let mut out = ResourceTree { root: root.to_string(), resources: Vec::new(), broken: None };
        // Explicit stack of (resource, depth): siblings are pushed after children are visited.
        let mut next = Some((self.symbol_addr(root)?, 0usize));
        let mut parents: Vec<u64> = Vec::new();
        while let Some((entry, depth)) = next {
            if out.resources.len() >= MAX_RESOURCES {
                out.broken = Some(format!("stopped after {MAX_RESOURCES} resources"));
                break;
            }
            if out.resources.iter().any(|r| r.addr == entry) {
                out.broken = Some(format!("resource {entry:x} seen twice: the tree loops"));
                break;
            }
            let start = self.read_field_u64(entry, "resource", "start")?;
            let end = self.read_field_u64(entry, "resource", "end")?;
            let name_ptr = self.read_field_u64(entry, "resource", "name")?;
            let name = self.memory().read_cstr(name_ptr, 256).unwrap_or_else(|_| "(unknown)".into());
            out.resources.push(Resource { addr: entry, start, end, name, depth });
            let child = self.read_field_u64(entry, "resource", "child")?;
            next = if child != 0 && child != entry && depth < MAX_RESOURCE_DEPTH {
                parents.push(entry);
                Some((child, depth + 1))
            } else {
                self.next_resource(entry, depth, &mut parents)?
            };
        }
        Ok(out)
    }
}

/// Crate-internal helpers of this module's extension of [`Kernel`].
pub(crate) trait DevicesInternal {
    fn xa_layout(&self) -> Result<krash_program::xarray::XaLayout>;
}

impl DevicesInternal for Kernel {
    fn xa_layout(&self) -> Result<krash_program::xarray::XaLayout> {
        krash_program::xarray::XaLayout::of(self.layouts())
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait DevicesHelpers {
    fn char_devices(&self) -> Result<Vec<DeviceMajor>>;
    /// The cdev registered in `cdev_map` for exactly (major, minor), and its ops.
    fn cdev_map_lookup(&self, major: u32, minor: u32) -> Option<(u64, u64)>;
    /// The `data` of the first `kobj_map` probe for `major` (and `minor`,
    /// if given) in the map `map_symbol` points to.
    fn kobj_map_data(&self, map_symbol: &str, major: u32, minor: Option<u32>) -> Option<u64>;
    /// Disks registered as `bdev_map` regions (before 5.11), oldest first per major.
    fn bdev_map_disks(&self) -> Result<Vec<DiskRef>>;
    fn block_devices(&self) -> Result<Vec<DeviceMajor>>;
    /// Whole disks (a gendisk's `part0`), oldest first, found through the
    /// block-device inodes of the bdev pseudo filesystem.
    fn whole_disks(&self) -> Result<Vec<DiskRef>>;
    /// Requests of `queue` in the MQ_RQ_IN_FLIGHT state, split by direction,
    /// found through the busy tags of each hardware context.
    fn queue_in_flight(&self, queue: u64) -> Result<(u64, u64)>;
    /// Allocated bits of a `struct sbitmap` (set in `word`, not in `cleared`).
    fn sbitmap_set_bits(&self, sb: u64) -> Result<Vec<u64>>;
    /// The sibling of `entry`, or of the nearest ancestor that has one.
    fn next_resource(&self, entry: u64, depth: usize, parents: &mut Vec<u64>) -> Result<Option<(u64, usize)>>;
}

impl DevicesHelpers for Kernel {
    fn char_devices(&self) -> Result<Vec<DeviceMajor>> {
        let mem: &dyn VirtualMemory = self.memory();
        let table = self.symbol_addr("chrdevs")?;
        let mut out = Vec::new();
        for slot in 0..MAJOR_HASH_SIZE {
            let mut entry = mem.read_u64(table.wrapping_add(slot * 8))?;
            let mut steps = 0;
            while entry != 0 && steps < MAX_CHAIN {
                let major = self.read_field(entry, "char_device_struct", "major")? as u32;
                let minor = self.read_field(entry, "char_device_struct", "baseminor")? as u32;
                let name = self.read_field_string(entry, "char_device_struct", "name")?;
                let mut object = self.read_field_u64(entry, "char_device_struct", "cdev")?;
                let mut operations = if object != 0 { self.read_field_u64(object, "cdev", "ops")? } else { 0 };
                if operations == 0 {
                    if let Some((cdev, ops)) = self.cdev_map_lookup(major, minor) {
                        object = cdev;
                        operations = ops;
                    }
                }
                out.push(DeviceMajor { major, name, object, operations });
                entry = self.read_field_u64(entry, "char_device_struct", "next")?;
                steps += 1;
            }
        }
        Ok(out)
    }

    fn cdev_map_lookup(&self, major: u32, minor: u32) -> Option<(u64, u64)> {
        let cdev = self.kobj_map_data("cdev_map", major, Some(minor))?;
        let ops = self.read_field_u64(cdev, "cdev", "ops").ok()?;
        Some((cdev, ops))
    }

    fn kobj_map_data(&self, map_symbol: &str, major: u32, minor: Option<u32>) -> Option<u64> {
        let mem: &dyn VirtualMemory = self.memory();
        let map = self.read_symbol_u64(map_symbol).ok()?;
        let probes = self.field_addr(map, "kobj_map", "probes").ok()?;
        let mut probe = mem.read_u64(probes + u64::from(major) % MAJOR_HASH_SIZE * 8).ok()?;
        for _ in 0..MAX_CHAIN {
            if probe == 0 {
                return None;
            }
            let dev = self.read_field(probe, "probe", "dev").ok()?;
            if dev >> 20 == u64::from(major) && minor.is_none_or(|m| dev & 0xfffff == u64::from(m)) {
                return self.read_field_u64(probe, "probe", "data").ok().filter(|&d| d != 0);
            }
            probe = self.read_field_u64(probe, "probe", "next").ok()?;
        }
        None
    }

    fn block_devices(&self) -> Result<Vec<DeviceMajor>> {
        let mem: &dyn VirtualMemory = self.memory();
        let table = self.symbol_addr("major_names")?;
        let disks = self.whole_disks().unwrap_or_default();
        let mut out = Vec::new();
        for slot in 0..MAJOR_HASH_SIZE {
            let mut entry = mem.read_u64(table.wrapping_add(slot * 8))?;
            let mut steps = 0;
            while entry != 0 && steps < MAX_CHAIN {
                let major = self.read_field(entry, "blk_major_name", "major")? as u32;
                let name = self.read_field_string(entry, "blk_major_name", "name")?;
                // crash takes the newest disk of the major (the list head's end).
                // Before 5.11 the disks are not block_device inodes' part0
                // but regions of `bdev_map`, whose probe data is the gendisk.
                let (object, operations) = disks
                    .iter()
                    .rev()
                    .find(|d| d.major == major && d.fops != 0)
                    .map(|d| (d.gendisk, d.fops))
                    .or_else(|| {
                        let disk = self.kobj_map_data("bdev_map", major, None)?;
                        Some((disk, self.read_field_u64(disk, "gendisk", "fops").ok()?))
                    })
                    .unwrap_or((0, 0));
                out.push(DeviceMajor { major, name, object, operations });
                entry = self.read_field_u64(entry, "blk_major_name", "next")?;
                steps += 1;
            }
        }
        Ok(out)
    }

    fn whole_disks(&self) -> Result<Vec<DiskRef>> {
        let mem: &dyn VirtualMemory = self.memory();
        let sb = self.read_symbol_u64("blockdev_superblock")?;
        let head = self.field_addr(sb, "super_block", "s_inodes")?;
        let link = self.layouts().offset("inode", "i_sb_list")?;
        let vfs_inode = self.layouts().offset("bdev_inode", "vfs_inode")?;
        let bdev_in = self.layouts().offset("bdev_inode", "bdev")?;
        let walk = list::walk(mem, head, WalkOptions { limit: MAX_BDEV_INODES, ..Default::default() });
        let part0_is_pointer = self.layouts().field("gendisk", "part0")?.size == Some(8);
        let mut disks = Vec::new();
        // New inodes are added at the head: walk backwards for registration order.
        for node in walk.nodes.iter().rev() {
            let bdev = node.wrapping_sub(link).wrapping_sub(vfs_inode).wrapping_add(bdev_in);
            let Ok(disk) = self.read_field_u64(bdev, "block_device", "bd_disk") else { continue };
            // A whole disk: 5.11+ point the gendisk's part0 at it; before,
            // part0 is an embedded hd_struct and the device is partition 0.
            let whole = if part0_is_pointer {
                self.read_field_u64(disk, "gendisk", "part0").ok() == Some(bdev)
            } else {
                self.read_field(bdev, "block_device", "bd_partno").ok() == Some(0)
            };
            if disk == 0 || !whole {
                continue;
            }
            if disks.iter().any(|d: &DiskRef| d.gendisk == disk) {
                continue;
            }
            let major = self.read_field(disk, "gendisk", "major")? as u32;
            let fops = self.read_field_u64(disk, "gendisk", "fops")?;
            disks.push(DiskRef { gendisk: disk, major, fops });
        }
        if disks.is_empty() && !part0_is_pointer {
            disks = self.bdev_map_disks()?;
        }
        Ok(disks)
    }

    fn bdev_map_disks(&self) -> Result<Vec<DiskRef>> {
        let mem: &dyn VirtualMemory = self.memory();
        let map = self.read_symbol_u64("bdev_map")?;
        let probes = self.field_addr(map, "kobj_map", "probes")?;
        let mut disks: Vec<DiskRef> = Vec::new();
        for slot in 0..MAJOR_HASH_SIZE {
            let mut probe = mem.read_u64(probes.wrapping_add(slot * 8))?;
            let mut chain = Vec::new();
            for _ in 0..MAX_CHAIN {
                if probe == 0 {
                    break;
                }
                let dev = self.read_field(probe, "probe", "dev")?;
                let disk = self.read_field_u64(probe, "probe", "data")?;
                // The data of a disk's region is its gendisk (the catch-all
                // base probe has none); its major must agree.
                if disk != 0 && self.read_field(disk, "gendisk", "major").ok() == Some(dev >> 20) {
                    let fops = self.read_field_u64(disk, "gendisk", "fops")?;
                    chain.push(DiskRef { gendisk: disk, major: (dev >> 20) as u32, fops });
                }
                probe = self.read_field_u64(probe, "probe", "next")?;
            }
            // Equal ranges are inserted newest first: oldest first, as registered.
            for d in chain.into_iter().rev() {
                if !disks.iter().any(|x| x.gendisk == d.gendisk) {
                    disks.push(d);
                }
            }
        }
        Ok(disks)
    }

    fn queue_in_flight(&self, queue: u64) -> Result<(u64, u64)> {
        let mem: &dyn VirtualMemory = self.memory();
        let l = self.layouts();
        let mut hctxs = Vec::new();
        if l.has_field("request_queue", "hctx_table") {
            let xa = self.field_addr(queue, "request_queue", "hctx_table")?;
            let head = self.read_field_u64(xa, "xarray", "xa_head")?;
            let walk = krash_program::xarray::walk(mem, head, self.xa_layout()?, MAX_HW_QUEUES as usize);
            hctxs.extend(walk.entries.iter().map(|e| e.value));
        } else {
            let n = self.read_field(queue, "request_queue", "nr_hw_queues")?.min(MAX_HW_QUEUES);
            let array = self.read_field_u64(queue, "request_queue", "queue_hw_ctx")?;
            for i in 0..n {
                hctxs.push(mem.read_u64(array.wrapping_add(i * 8))?);
            }
        }
        let mut counts = (0, 0);
        // Hardware queues of a shared tag set all point at the same tags: count those once.
        let mut seen_tags = Vec::new();
        for hctx in hctxs {
            let tags = self.read_field_u64(hctx, "blk_mq_hw_ctx", "tags")?;
            if tags == 0 || seen_tags.contains(&tags) {
                continue;
            }
            seen_tags.push(tags);
            let reserved = self.read_field(tags, "blk_mq_tags", "nr_reserved_tags")?;
            let rqs = self.read_field_u64(tags, "blk_mq_tags", "rqs")?;
            for (member, base) in [("breserved_tags", 0), ("bitmap_tags", reserved)] {
                let sbq = self.field_addr(tags, "blk_mq_tags", member)?;
                for bit in self.sbitmap_set_bits(self.field_addr(sbq, "sbitmap_queue", "sb")?)? {
                    let rq = mem.read_u64(rqs.wrapping_add(bit.wrapping_add(base).wrapping_mul(8)))?;
                    if rq == 0 || self.read_field_u64(rq, "request", "q")? != queue {
                        continue;
                    }
                    if self.read_field(rq, "request", "state")? != MQ_RQ_IN_FLIGHT {
                        continue;
                    }
                    // The low byte of cmd_flags is the op; odd ops write.
                    if self.read_field(rq, "request", "cmd_flags")? & 1 == 1 {
                        counts.1 += 1;
                    } else {
                        counts.0 += 1;
                    }
                }
            }
        }
        Ok(counts)
    }

    fn sbitmap_set_bits(&self, sb: u64) -> Result<Vec<u64>> {
        let depth = self.read_field(sb, "sbitmap", "depth")?;
        let shift = self.read_field(sb, "sbitmap", "shift")?;
        let words = self.read_field(sb, "sbitmap", "map_nr")?.min(MAX_TAG_WORDS);
        let map = self.read_field_u64(sb, "sbitmap", "map")?;
        let word_size = self.layouts().size_of("sbitmap_word")?;
        let mut bits = Vec::new();
        if shift > 6 || map == 0 {
            return Ok(bits);
        }
        for i in 0..words {
            let w = map.wrapping_add(i * word_size);
            let set = self.read_field(w, "sbitmap_word", "word")? & !self.read_field(w, "sbitmap_word", "cleared")?;
            for b in 0..64u64 {
                let index = (i << shift) + b;
                if b < (1 << shift) && index < depth && set & (1 << b) != 0 {
                    bits.push(index);
                }
            }
        }
        Ok(bits)
    }

    fn next_resource(&self, mut entry: u64, mut depth: usize, parents: &mut Vec<u64>) -> Result<Option<(u64, usize)>> {
        loop {
            if depth == 0 {
                // The root's siblings are not part of its tree.
                return Ok(None);
            }
            let sibling = self.read_field_u64(entry, "resource", "sibling")?;
            if sibling != 0 {
                return Ok(Some((sibling, depth)));
            }
            match parents.pop() {
                Some(p) => {
                    entry = p;
                    depth -= 1;
                }
                None => return Ok(None),
            }
        }
    }
}

/// A whole disk found on the bdev filesystem.
#[derive(Debug, Clone, Copy)]
struct DiskRef {
    gendisk: u64,
    major: u32,
    fops: u64,
}
