//! Address → compilation unit, from `.debug_aranges` so that a lookup
//! touches only the unit it needs. Files without aranges fall back to
//! reading each unit's root DIE once.

use gimli::DebugInfoOffset;
use krash_core::Result;

use crate::bytes::Reader;
use crate::sections::dwarf_error;

/// Sorted address ranges, each naming the unit that covers it.
pub struct UnitIndex {
    ranges: Vec<UnitRange>,
    /// Start offsets of every unit the index knows, sorted.
    unit_offsets: Vec<DebugInfoOffset>,
}

#[derive(Clone, Copy)]
struct UnitRange {
    start: u64,
    end: u64,
    unit: DebugInfoOffset,
}

/// How far back past the binary-search candidate we look for an enclosing
/// range; ranges of different units overlap only for discarded code.
const OVERLAP_SCAN: usize = 32;

impl UnitIndex {
    /// `keep_zero` keeps ranges starting at address 0, which are real code in
    /// a relocatable file and discarded code in a linked one.
    pub fn build(dwarf: &gimli::Dwarf<Reader>, keep_zero: bool) -> Result<Self> {
        let mut ranges = Vec::new();
        let mut headers = dwarf.debug_aranges.headers();
        while let Some(header) = headers.next().map_err(|e| dwarf_error(".debug_aranges", e))? {
            let unit = header.debug_info_offset();
            let mut entries = header.entries();
            while let Some(entry) = entries.next().map_err(|e| dwarf_error(".debug_aranges", e))? {
                let range = entry.range();
                // Code discarded at link time is left at address 0.
                if (range.begin == 0 && !keep_zero) || range.end <= range.begin {
                    continue;
                }
                ranges.push(UnitRange { start: range.begin, end: range.end, unit });
            }
        }
        if ranges.is_empty() {
            ranges = scan_unit_roots(dwarf, keep_zero)?;
        }
        Ok(Self::from_ranges(ranges))
    }

    fn from_ranges(mut ranges: Vec<UnitRange>) -> Self {
        ranges.sort_by_key(|r| (r.start, r.end));
        let mut unit_offsets: Vec<DebugInfoOffset> = ranges.iter().map(|r| r.unit).collect();
        unit_offsets.sort_by_key(|o| o.0);
        unit_offsets.dedup();
        UnitIndex { ranges, unit_offsets }
    }

    /// The unit whose code covers `addr`.
    pub fn unit_for(&self, addr: u64) -> Option<DebugInfoOffset> {
        let after = self.ranges.partition_point(|r| r.start <= addr);
        self.ranges.get(..after)?.iter().rev().take(OVERLAP_SCAN).find(|r| addr < r.end).map(|r| r.unit)
    }

    /// Every unit covering part of `start..end`, in address order.
    pub fn units_overlapping(&self, start: u64, end: u64) -> Vec<DebugInfoOffset> {
        let mut out: Vec<DebugInfoOffset> = Vec::new();
        let first = self.ranges.partition_point(|r| r.end <= start);
        let lower = first.saturating_sub(OVERLAP_SCAN);
        for r in self.ranges.get(lower..).unwrap_or(&[]) {
            if r.start >= end {
                break;
            }
            if r.end > start && !out.contains(&r.unit) {
                out.push(r.unit);
            }
        }
        out
    }

    /// The known unit whose start is the greatest at or below `offset`
    /// (the unit that should contain a cross-unit DIE reference).
    pub fn unit_starting_before(&self, offset: DebugInfoOffset) -> Option<DebugInfoOffset> {
        let after = self.unit_offsets.partition_point(|o| o.0 <= offset.0);
        after.checked_sub(1).and_then(|i| self.unit_offsets.get(i).copied())
    }
}

/// Reads every unit's root ranges: the slow path for files without
/// `.debug_aranges`.
fn scan_unit_roots(dwarf: &gimli::Dwarf<Reader>, keep_zero: bool) -> Result<Vec<UnitRange>> {
    let mut out = Vec::new();
    let mut headers = dwarf.units();
    while let Some(header) = headers.next().map_err(|e| dwarf_error(".debug_info", e))? {
        let Some(offset) = header.offset().as_debug_info_offset() else {
            continue;
        };
        let Ok(unit) = dwarf.unit(header) else {
            continue;
        };
        let Ok(mut ranges) = dwarf.unit_ranges(&unit) else {
            continue;
        };
        while let Ok(Some(range)) = ranges.next() {
            if (range.begin == 0 && !keep_zero) || range.end <= range.begin {
                continue;
            }
            out.push(UnitRange { start: range.begin, end: range.end, unit: offset });
        }
    }
    Ok(out)
}
