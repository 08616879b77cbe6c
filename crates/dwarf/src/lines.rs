//! One unit's line-number program, decoded once into sorted sequences.
//!
//! Written over gimli rather than taken from `addr2line`: crash's `dis -l`
//! and `sym` print the line gdb picks, which follows gdb's rule for
//! statement rows (`is_stmt`) and for rows at the same address, a choice
//! addr2line's lookup does not let the caller make. Inline chains and
//! function ranges come from our own DIE index (`functions.rs`), which the
//! type model and frame variables share, so addr2line would index every
//! unit a second time.

use std::sync::Arc;

use gimli::Reader as _;
use krash_core::Result;

use crate::bytes::Reader;
use crate::paths::join_path;
use crate::sections::dwarf_error;

/// One row of the line matrix, kept small: files are indices into
/// [`LineTable::file`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    pub address: u64,
    pub file: u64,
    /// 0 when the compiler could not attribute the code to a line.
    pub line: u32,
    /// 0 for "no column".
    pub column: u32,
    /// The row starts a statement (a place a debugger would stop).
    pub is_stmt: bool,
}

struct Sequence {
    start: u64,
    end: u64,
    rows: Vec<Row>,
}

/// The decoded line table of one unit.
pub struct LineTable {
    sequences: Vec<Sequence>,
    files: Vec<Option<Arc<str>>>,
}

/// How many sequences before the binary-search candidate may still cover
/// an address (sequences overlap only for discarded code).
const OVERLAP_SCAN: usize = 16;

impl LineTable {
    /// Decodes the unit's line program; `None` when the unit has none.
    pub fn parse(dwarf: &gimli::Dwarf<Reader>, unit: &gimli::Unit<Reader>, comp_dir: &str) -> Result<Option<Self>> {
        let Some(program) = unit.line_program.clone() else {
            return Ok(None);
        };
        let context = || format!(".debug_line of unit at {:#x}", unit_offset(unit));
        let mut rows = program.rows();
        let mut sequences = Vec::new();
        let mut current: Vec<Row> = Vec::new();
        while let Some((_, row)) = rows.next_row().map_err(|e| dwarf_error(context(), e))? {
            if row.end_sequence() {
                if let Some(first) = current.first() {
                    let start = first.address;
                    let end = row.address();
                    if end > start {
                        sequences.push(Sequence { start, end, rows: std::mem::take(&mut current) });
                    }
                }
                current.clear();
                continue;
            }
            current.push(Row {
                address: row.address(),
                file: row.file_index(),
                line: row.line().map_or(0, |l| u32::try_from(l.get()).unwrap_or(u32::MAX)),
                column: match row.column() {
                    gimli::ColumnType::LeftEdge => 0,
                    gimli::ColumnType::Column(c) => u32::try_from(c.get()).unwrap_or(u32::MAX),
                },
                is_stmt: row.is_stmt(),
            });
        }
        for seq in &mut sequences {
            // Rows are emitted in address order inside a sequence; a stable
            // sort keeps the last-emitted row last among equal addresses.
            seq.rows.sort_by_key(|r| r.address);
        }
        sequences.sort_by_key(|s| s.start);

        let header = rows.header();
        let count = header.file_names().len();
        // A capacity hint: clamping it loses nothing.
        let mut files = Vec::with_capacity(count.saturating_add(1));
        for index in 0..=count as u64 {
            let path = header.file(index).and_then(|entry| {
                let name = dwarf.attr_string(unit, entry.path_name()).ok()?;
                // Before DWARF 5, directory 0 is the unit's comp_dir, which
                // join_path adds itself (twice would double a relative one).
                let dir = if header.version() < 5 && entry.directory_index() == 0 {
                    None
                } else {
                    entry.directory(header).and_then(|d| dwarf.attr_string(unit, d).ok())
                };
                let dir = dir.as_ref().map(|d| d.to_string_lossy());
                let dir = match &dir {
                    Some(Ok(d)) => Some(d.as_ref()),
                    _ => None,
                };
                let name = name.to_string_lossy().ok()?;
                Some(Arc::from(join_path(comp_dir, dir, &name)))
            });
            files.push(path);
        }
        Ok(Some(LineTable { sequences, files }))
    }

    /// The row in effect at `addr`.
    pub fn find(&self, addr: u64) -> Option<Row> {
        let seq = self.sequence_for(addr)?;
        let after = seq.rows.partition_point(|r| r.address <= addr);
        after.checked_sub(1).and_then(|i| seq.rows.get(i)).copied()
    }

    /// The row in effect at `addr` as gdb picks it (and so crash's `sym`
    /// and `dis -l`): where several rows share an address gdb takes the
    /// last, unless that one is not a statement and an earlier row at the
    /// same address is; a plain last-row lookup differs there by a line or two.
    pub fn find_statement(&self, addr: u64) -> Option<Row> {
        let rows = &self.sequence_for(addr)?.rows;
        let last = rows.partition_point(|r| r.address <= addr).checked_sub(1)?;
        let chosen = rows.get(last).filter(|r| !r.is_stmt).and_then(|row| {
            rows.get(..last)?.iter().rev().take_while(|r| r.address == row.address && r.line != 0).find(|r| r.is_stmt)
        });
        chosen.or_else(|| rows.get(last)).copied().filter(|r| r.line != 0)
    }

    /// The row in effect at `start` followed by every row beginning inside
    /// `start..end`, in address order.
    pub fn rows_in(&self, start: u64, end: u64) -> Vec<Row> {
        let mut out = Vec::new();
        let first = self.sequences.partition_point(|s| s.end <= start);
        let lower = first.saturating_sub(OVERLAP_SCAN);
        for seq in self.sequences.get(lower..).unwrap_or(&[]) {
            if seq.start >= end {
                break;
            }
            if seq.end <= start {
                continue;
            }
            let from = seq.rows.partition_point(|r| r.address <= start).saturating_sub(1);
            for row in seq.rows.get(from..).unwrap_or(&[]) {
                if row.address >= end {
                    break;
                }
                out.push(*row);
            }
        }
        out.sort_by_key(|r| r.address);
        out
    }

    /// The full path of file `index` as this unit numbers files.
    pub fn file(&self, index: u64) -> Option<&Arc<str>> {
        usize::try_from(index).ok().and_then(|i| self.files.get(i)).and_then(|f| f.as_ref())
    }

    fn sequence_for(&self, addr: u64) -> Option<&Sequence> {
        let after = self.sequences.partition_point(|s| s.start <= addr);
        self.sequences.get(..after)?.iter().rev().take(OVERLAP_SCAN).find(|s| addr < s.end)
    }
}

fn unit_offset(unit: &gimli::Unit<Reader>) -> usize {
    unit.header.offset().as_debug_info_offset().map_or(0, |o| o.0)
}
