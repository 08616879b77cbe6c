//! One compilation unit and what is decoded from it on demand: its line
//! table and the address ranges of its functions.

use std::sync::{Arc, OnceLock};

use gimli::Reader as _;
use gimli::{DebugInfoOffset, UnitOffset};
use krash_core::Result;

use crate::bytes::Reader;
use crate::lines::LineTable;
use crate::sections::dwarf_error;

/// A parsed unit header and root DIE, with lazily decoded contents.
pub struct CompUnit {
    pub offset: DebugInfoOffset,
    pub unit: gimli::Unit<Reader>,
    /// DW_AT_comp_dir, possibly relative in reproducible builds.
    pub comp_dir: String,
    /// DW_AT_name of the unit (its primary source file).
    pub name: String,
    lines: OnceLock<Result<Option<Arc<LineTable>>>>,
    functions: OnceLock<Result<Arc<FunctionRanges>>>,
}

impl CompUnit {
    pub fn parse(dwarf: &gimli::Dwarf<Reader>, offset: DebugInfoOffset) -> Result<Self> {
        let context = || format!(".debug_info unit at {:#x}", offset.0);
        let header = dwarf.debug_info.header_from_offset(offset).map_err(|e| dwarf_error(context(), e))?;
        let unit = dwarf.unit(header).map_err(|e| dwarf_error(context(), e))?;
        let text = |s: &Option<Reader>| {
            s.as_ref().and_then(|r| r.to_string_lossy().ok().map(|c| c.into_owned())).unwrap_or_default()
        };
        let comp_dir = text(&unit.comp_dir);
        let name = text(&unit.name);
        Ok(CompUnit { offset, unit, comp_dir, name, lines: OnceLock::new(), functions: OnceLock::new() })
    }

    /// The unit's line table, decoded on first use.
    pub fn lines(&self, dwarf: &gimli::Dwarf<Reader>) -> Result<Option<Arc<LineTable>>> {
        self.lines.get_or_init(|| Ok(LineTable::parse(dwarf, &self.unit, &self.comp_dir)?.map(Arc::new))).clone()
    }

    /// Address ranges of the unit's concrete functions, decoded on first use.
    pub fn functions(&self, dwarf: &gimli::Dwarf<Reader>) -> Result<Arc<FunctionRanges>> {
        self.functions.get_or_init(|| FunctionRanges::build(dwarf, &self.unit).map(Arc::new)).clone()
    }

    /// True when the DIE at `offset` has code covering `addr`.
    pub fn die_contains(
        &self,
        dwarf: &gimli::Dwarf<Reader>,
        entry: &gimli::DebuggingInformationEntry<Reader>,
        addr: u64,
    ) -> Result<bool> {
        let mut ranges =
            dwarf.die_ranges(&self.unit, entry).map_err(|e| dwarf_error(self.context(entry.offset()), e))?;
        while let Some(range) = ranges.next().map_err(|e| dwarf_error(self.context(entry.offset()), e))? {
            if range.begin <= addr && addr < range.end {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// "DIE at 0x…" naming a unit-relative offset by its section offset.
    pub fn context(&self, offset: UnitOffset) -> String {
        format!("DIE at {:#x}", self.offset.0.saturating_add(offset.0))
    }
}

/// Sorted code ranges of DW_TAG_subprogram DIEs with code.
pub struct FunctionRanges {
    ranges: Vec<(u64, u64, UnitOffset)>,
}

/// Functions in one unit do not nest, so an address is covered by the
/// nearest preceding range or one shortly before it.
const OVERLAP_SCAN: usize = 64;

impl FunctionRanges {
    fn build(dwarf: &gimli::Dwarf<Reader>, unit: &gimli::Unit<Reader>) -> Result<Self> {
        let context =
            || format!("functions of unit at {:#x}", unit.header.offset().as_debug_info_offset().map_or(0, |o| o.0));
        let mut ranges = Vec::new();
        let mut cursor = unit.entries();
        while let Some((_, entry)) = cursor.next_dfs().map_err(|e| dwarf_error(context(), e))? {
            if entry.tag() != gimli::DW_TAG_subprogram {
                continue;
            }
            let mut iter = dwarf.die_ranges(unit, entry).map_err(|e| dwarf_error(context(), e))?;
            while let Some(range) = iter.next().map_err(|e| dwarf_error(context(), e))? {
                if range.begin < range.end {
                    ranges.push((range.begin, range.end, entry.offset()));
                }
            }
        }
        ranges.sort_by_key(|r| (r.0, r.1));
        Ok(FunctionRanges { ranges })
    }

    /// The subprogram DIE whose code covers `addr` (the narrowest, should
    /// ranges overlap).
    pub fn find(&self, addr: u64) -> Option<(UnitOffset, u64, u64)> {
        let after = self.ranges.partition_point(|r| r.0 <= addr);
        self.ranges
            .get(..after)?
            .iter()
            .rev()
            .take(OVERLAP_SCAN)
            .filter(|r| addr < r.1)
            // r.0 <= addr < r.1 here, so the length never wraps.
            .min_by_key(|r| r.1.wrapping_sub(r.0))
            .map(|r| (r.2, r.0, r.1))
    }

    /// Every code range of the subprogram at `offset`.
    pub fn ranges_of(&self, offset: UnitOffset) -> Vec<(u64, u64)> {
        self.ranges.iter().filter(|r| r.2 == offset).map(|r| (r.0, r.1)).collect()
    }
}
