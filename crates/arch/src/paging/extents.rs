//! The extents a page-table tree maps inside a virtual range, found by
//! walking the tables top-down and skipping absent entries, so scanning
//! terabytes of sparse vmalloc or user space costs only the tables read.
//! Corrupt tables cannot make the walk run away: a table that is its own
//! ancestor is not entered again, and [`ExtentLimits`] bounds both the
//! tables read and the extents reported.

use krash_core::PhysicalMemory;

use super::{AddressHalves, PageTableFormat, ENTRY_SIZE};

/// One run of virtually and physically contiguous mapped memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MappedExtent {
    pub vaddr: u64,
    pub paddr: u64,
    pub len: u64,
}

/// Bounds on one extent walk; past either the walk stops and says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtentLimits {
    /// Most extents reported.
    pub max_extents: usize,
    /// Most page tables read.
    pub max_tables: usize,
}

impl Default for ExtentLimits {
    /// 4 Mi separate extents (16 GiB of scattered 4 KiB pages, at most
    /// 96 MiB of results; contiguous mappings merge into one extent) and
    /// 256 Ki tables (512 GiB of 4 KiB mappings). Tables shared by many
    /// entries in corrupt (or fuzzed) page tables are not cycles, yet would
    /// otherwise multiply the walk: 2^20 tables of 512 unmergeable extents
    /// each took gigabytes (fuzz/artifacts: page_walk's OOM).
    fn default() -> Self {
        ExtentLimits { max_extents: 1 << 22, max_tables: 1 << 18 }
    }
}

/// The outcome of an extent walk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappedExtents {
    pub extents: Vec<MappedExtent>,
    /// False when a limit stopped the walk early.
    pub complete: bool,
}

/// Deepest format the walker follows (x86-64 LA57 has five levels).
const MAX_DEPTH: usize = 8;

pub(super) fn mapped_extents(
    format: &PageTableFormat,
    mem: &dyn PhysicalMemory,
    root: u64,
    start: u64,
    end: u64,
    limits: ExtentLimits,
) -> MappedExtents {
    // With one tree per half (arm64), the root serves the half `start` is
    // in: its entries are named with that half's high bits. Bit 63 picks
    // the half; a sign-extended format shifts it out in `canonicalize`.
    let half = match format.halves {
        AddressHalves::SelectedByTopBit => start & (1 << 63),
        AddressHalves::SignExtended => 0,
    };
    let mut walk = Walk {
        format,
        mem,
        half,
        start,
        end,
        limits,
        out: Vec::new(),
        tables_read: 0,
        cut: false,
        path: [u64::MAX; MAX_DEPTH],
    };
    if format.levels.len() <= MAX_DEPTH {
        walk.table(root & format.root_mask, 0, 0);
    }
    MappedExtents { extents: walk.out, complete: !walk.cut }
}

struct Walk<'a> {
    format: &'a PageTableFormat,
    mem: &'a dyn PhysicalMemory,
    /// Bit 63 of the half the root maps, for formats with a tree per half.
    half: u64,
    start: u64,
    end: u64,
    limits: ExtentLimits,
    out: Vec<MappedExtent>,
    tables_read: usize,
    cut: bool,
    /// Tables on the way down to the current one, by depth.
    path: [u64; MAX_DEPTH],
}

impl Walk<'_> {
    /// Walks the table at `table` (physical) of level `depth`, whose
    /// first entry maps the (not sign-extended) address `base`.
    fn table(&mut self, table: u64, depth: usize, base: u64) {
        let Some(level) = self.format.levels.get(depth) else { return };
        let ancestors = self.path.get(..depth).unwrap_or_default();
        if ancestors.contains(&table) {
            return;
        }
        if self.tables_read >= self.limits.max_tables {
            self.cut = true;
            return;
        }
        self.tables_read = self.tables_read.saturating_add(1);
        let Some(len) = level.entries().checked_mul(ENTRY_SIZE).and_then(|n| usize::try_from(n).ok()) else { return };
        let mut entries = vec![0u8; len];
        if self.mem.read_phys(table, &mut entries).is_err() {
            return;
        }
        if let Some(slot) = self.path.get_mut(depth) {
            *slot = table;
        }
        let last = depth.checked_add(1) == Some(self.format.levels.len());
        let span = level.span();
        for (index, raw) in (0u64..).zip(entries.chunks_exact(8)) {
            let Ok(bytes) = <[u8; 8]>::try_from(raw) else { continue };
            let entry = u64::from_le_bytes(bytes);
            let lo = base | index.checked_shl(level.shift).unwrap_or(0);
            let vaddr = self.format.canonicalize(lo | self.half);
            // An entry is visited when its span meets [start, end); a span
            // reaching the top of the address space has no end to compare.
            let below_start = vaddr.checked_add(span).is_some_and(|vend| vend <= self.start);
            if vaddr >= self.end || below_start || !self.format.is_present(entry) {
                continue;
            }
            let next = self.format.entry_address(entry);
            if last || (level.large_pages && self.format.large.matches(entry)) {
                let frame = next & !span.wrapping_sub(1);
                self.push(vaddr, frame, span);
            } else {
                self.table(next, depth.saturating_add(1), lo);
            }
            if self.out.len() >= self.limits.max_extents || self.cut {
                self.cut = true;
                return;
            }
        }
    }

    /// Adds a page, clipped to the range, merging it with the previous one.
    fn push(&mut self, vaddr: u64, paddr: u64, len: u64) {
        let lo = vaddr.max(self.start);
        let hi = vaddr.saturating_add(len).min(self.end);
        let (Some(len), Some(paddr)) = (hi.checked_sub(lo), paddr.checked_add(lo.wrapping_sub(vaddr))) else { return };
        if len == 0 {
            return;
        }
        if let Some(last) = self.out.last_mut() {
            if last.vaddr.checked_add(last.len) == Some(lo) && last.paddr.checked_add(last.len) == Some(paddr) {
                last.len = last.len.saturating_add(len);
                return;
            }
        }
        self.out.push(MappedExtent { vaddr: lo, paddr, len });
    }
}
