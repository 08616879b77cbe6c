//! The source line of an address as gdb (and so crash's `sym` and
//! `dis -l`) reports it. Where several line-table rows share an address,
//! gdb takes the last one unless it is not a statement boundary, in which
//! case an earlier statement row at the same address wins; plain
//! last-row lookups (addr2line's) differ there, often by a line or two.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use gimli::{DebugInfoOffset, Reader as _};
use krash_core::{Error, Result};
use krash_dwarf::{join_path, DwarfFile, Reader};

/// Bounds the units scanned when a file has no `.debug_aranges`.
const MAX_UNITS: usize = 1 << 20;
/// How many earlier sequences may still cover an address.
const OVERLAP_SCAN: usize = 16;

#[derive(Debug, Clone, Copy)]
struct Row {
    address: u64,
    file: u64,
    line: u32,
    is_stmt: bool,
}

struct Sequence {
    start: u64,
    end: u64,
    rows: Vec<Row>,
}

struct UnitLines {
    sequences: Vec<Sequence>,
    files: Vec<Option<Arc<str>>>,
}

/// Address -> unit index and per-unit line rows with statement flags.
pub(crate) struct GdbLineIndex {
    dwarf: Arc<DwarfFile>,
    /// (start, end, unit offset), sorted by start.
    units: Vec<(u64, u64, usize)>,
    tables: Mutex<HashMap<usize, Arc<UnitLines>>>,
}

fn dwarf_error(context: &str, e: gimli::Error) -> Error {
    Error::bad_data(context.to_string(), e.to_string())
}

impl GdbLineIndex {
    /// Indexes `dwarf`'s units by address; `keep_zero` keeps ranges at
    /// address 0 (a relocatable `.ko` whose sections were not placed).
    pub(crate) fn build(dwarf: Arc<DwarfFile>, keep_zero: bool) -> Result<Self> {
        let g = dwarf.gimli();
        let mut units = Vec::new();
        let mut headers = g.debug_aranges.headers();
        while let Some(header) = headers.next().map_err(|e| dwarf_error(".debug_aranges", e))? {
            let unit = header.debug_info_offset().0;
            let mut entries = header.entries();
            while let Some(entry) = entries.next().map_err(|e| dwarf_error(".debug_aranges", e))? {
                let r = entry.range();
                if (r.begin == 0 && !keep_zero) || r.end <= r.begin {
                    continue;
                }
                units.push((r.begin, r.end, unit));
            }
        }
        if units.is_empty() {
            let mut iter = g.units();
            let mut seen = 0usize;
            while let Some(header) = iter.next().map_err(|e| dwarf_error(".debug_info", e))? {
                seen += 1;
                if seen > MAX_UNITS {
                    break;
                }
                let Some(offset) = header.offset().as_debug_info_offset() else { continue };
                let Ok(unit) = g.unit(header) else { continue };
                let Ok(mut ranges) = g.unit_ranges(&unit) else { continue };
                while let Ok(Some(r)) = ranges.next() {
                    if (r.begin != 0 || keep_zero) && r.end > r.begin {
                        units.push((r.begin, r.end, offset.0));
                    }
                }
            }
        }
        units.sort_unstable();
        Ok(GdbLineIndex {
            dwarf,
            units,
            tables: Mutex::new(HashMap::new()),
        })
    }

    /// The DWARF this index reads.
    pub(crate) fn dwarf(&self) -> &DwarfFile {
        &self.dwarf
    }

    fn unit_for(&self, addr: u64) -> Option<usize> {
        let after = self.units.partition_point(|u| u.0 <= addr);
        let lower = after.saturating_sub(OVERLAP_SCAN);
        self.units
            .get(lower..after)?
            .iter()
            .rev()
            .find(|u| addr < u.1)
            .map(|u| u.2)
    }

    fn table(&self, unit: usize) -> Result<Arc<UnitLines>> {
        let mut tables = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = tables.get(&unit) {
            return Ok(Arc::clone(t));
        }
        let parsed = Arc::new(parse_unit_lines(self.dwarf.gimli(), unit)?);
        tables.insert(unit, Arc::clone(&parsed));
        Ok(parsed)
    }

    /// The file (full path) and line gdb gives for `addr`.
    pub(crate) fn line(&self, addr: u64) -> Result<Option<(Arc<str>, u32)>> {
        let Some(unit) = self.unit_for(addr) else {
            return Ok(None);
        };
        let table = self.table(unit)?;
        let after = table.sequences.partition_point(|s| s.start <= addr);
        let lower = after.saturating_sub(OVERLAP_SCAN);
        let Some(seq) = table
            .sequences
            .get(lower..after)
            .and_then(|s| s.iter().rev().find(|s| addr < s.end))
        else {
            return Ok(None);
        };
        let Some(mut best) = seq.rows.partition_point(|r| r.address <= addr).checked_sub(1) else {
            return Ok(None);
        };
        let rows = &seq.rows;
        if rows.get(best).is_some_and(|r| !r.is_stmt) {
            let mut at = best;
            while at > 0 && rows[at - 1].address == rows[at].address && rows[at - 1].line != 0 && !rows[at].is_stmt {
                at -= 1;
            }
            if rows[at].is_stmt {
                best = at;
            }
        }
        let Some(row) = rows.get(best) else { return Ok(None) };
        if row.line == 0 {
            return Ok(None);
        }
        let file = table.files.get(row.file as usize).cloned().flatten();
        Ok(file.map(|f| (f, row.line)))
    }
}

fn parse_unit_lines(g: &gimli::Dwarf<Reader>, offset: usize) -> Result<UnitLines> {
    let context = format!(".debug_line of unit at {offset:#x}");
    let header = g
        .debug_info
        .header_from_offset(DebugInfoOffset(offset))
        .map_err(|e| dwarf_error(&context, e))?;
    let unit = g.unit(header).map_err(|e| dwarf_error(&context, e))?;
    let comp_dir = unit
        .comp_dir
        .as_ref()
        .and_then(|r| r.to_string_lossy().ok().map(|c| c.into_owned()))
        .unwrap_or_default();
    let Some(program) = unit.line_program.clone() else {
        return Ok(UnitLines { sequences: Vec::new(), files: Vec::new() });
    };
    let mut rows = program.rows();
    let mut sequences = Vec::new();
    let mut current: Vec<Row> = Vec::new();
    while let Some((_, row)) = rows.next_row().map_err(|e| dwarf_error(&context, e))? {
        if row.end_sequence() {
            if let Some(first) = current.first() {
                if row.address() > first.address {
                    let start = first.address;
                    let mut seq_rows = std::mem::take(&mut current);
                    seq_rows.sort_by_key(|r| r.address);
                    sequences.push(Sequence { start, end: row.address(), rows: seq_rows });
                }
            }
            current.clear();
            continue;
        }
        current.push(Row {
            address: row.address(),
            file: row.file_index(),
            line: row.line().map_or(0, |l| u32::try_from(l.get()).unwrap_or(u32::MAX)),
            is_stmt: row.is_stmt(),
        });
    }
    sequences.sort_by_key(|s| s.start);
    let header = rows.header();
    let count = header.file_names().len();
    let mut files = Vec::with_capacity(count + 1);
    for index in 0..=count as u64 {
        let path = header.file(index).and_then(|entry| {
            let name = g.attr_string(&unit, entry.path_name()).ok()?;
            let name = name.to_string_lossy().ok()?;
            let dir = entry.directory(header).and_then(|d| g.attr_string(&unit, d).ok());
            let dir = dir.as_ref().and_then(|d| d.to_string_lossy().ok());
            Some(Arc::from(join_path(&comp_dir, dir.as_deref(), &name)))
        });
        files.push(path);
    }
    Ok(UnitLines { sequences, files })
}
