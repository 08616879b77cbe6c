//! The entry point: one mapped file with DWARF, answering address queries.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use gimli::Reader as _;
use gimli::{DebugInfoOffset, UnitOffset};
use krash_core::MappedFile;
use krash_core::{Error, Result};

use crate::aranges::UnitIndex;
use crate::bytes::{Reader, SectionBytes};
use crate::lines::Row;
use crate::paths;
use crate::scopes::{scopes_at, ScopeKind};
use crate::sections::{self, dwarf_error, AllocSection, SectionBases};
use crate::units::CompUnit;

/// A source position: `file` is the full path (compilation directory
/// joined), `relative` the same path as the kernel's faddr2line shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLine {
    pub file: Arc<str>,
    pub relative: String,
    pub line: u32,
    pub column: u32,
}

/// One level of an inline chain: `function` runs at `file:line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineFrame {
    pub function: String,
    pub location: Option<SourceLine>,
}

/// An address where the source line changes, for `dis -l`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineBoundary {
    pub addr: u64,
    pub line: SourceLine,
}

/// A file with DWARF, decoded lazily. Cheap to share behind an `Arc`;
/// all caches are internally synchronized.
pub struct DwarfFile {
    path: PathBuf,
    /// The mapped file the sections borrow from (none for in-memory sections).
    map: Option<Arc<MappedFile>>,
    pub(crate) dwarf: gimli::Dwarf<Reader>,
    relocatable: bool,
    alloc_sections: Vec<AllocSection>,
    index: OnceLock<Result<UnitIndex>>,
    units: Mutex<HashMap<usize, Arc<CompUnit>>>,
    source_root: OnceLock<Option<String>>,
}

/// Bounds the following of DW_AT_abstract_origin / DW_AT_specification.
const MAX_ORIGIN_HOPS: usize = 8;

impl DwarfFile {
    /// Maps `path` and reads its section headers; no DWARF is decoded yet.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with_bases(path, &SectionBases::new())
    }

    /// As [`DwarfFile::open`], placing the named sections of a relocatable
    /// file (a module) at the given addresses before relocating.
    pub fn open_with_bases(path: impl AsRef<Path>, bases: &SectionBases) -> Result<Self> {
        let path = path.as_ref();
        let map = sections::map_file(path)?;
        let loaded = sections::load(path, &map, bases)?;
        Ok(DwarfFile {
            path: path.to_path_buf(),
            map: Some(map),
            dwarf: loaded.dwarf,
            relocatable: loaded.relocatable,
            alloc_sections: loaded.alloc_sections,
            index: OnceLock::new(),
            units: Mutex::new(HashMap::new()),
            source_root: OnceLock::new(),
        })
    }

    /// DWARF whose sections are already in memory, with no ELF container:
    /// `sections` pairs names (`.debug_info`, `.debug_abbrev`,
    /// `.debug_loclists`...) with little-endian bytes; a section not named
    /// is empty. Addresses are link-time ones, as in a linked file. `name`
    /// stands for the file in messages. Tests and fuzz targets build DWARF
    /// by hand with it; every query then runs as on a mapped file.
    pub fn from_sections(name: impl Into<PathBuf>, sections: &[(&str, &[u8])]) -> Result<Self> {
        let dwarf = gimli::Dwarf::load(|id| -> Result<Reader> {
            let bytes = sections
                .iter()
                .find(|(n, _)| *n == id.name())
                .map_or_else(SectionBytes::empty, |(_, b)| SectionBytes::Owned(Arc::from(*b)));
            Ok(Reader::new(bytes, gimli::RunTimeEndian::Little))
        })?;
        Ok(DwarfFile {
            path: name.into(),
            map: None,
            dwarf,
            relocatable: false,
            alloc_sections: Vec::new(),
            index: OnceLock::new(),
            units: Mutex::new(HashMap::new()),
            source_root: OnceLock::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What names this exact file, and the krash build reading it, for
    /// keeping what is computed from its DWARF on disk; `None` for sections
    /// not read from a file, and for relocatable files (a module's DWARF is
    /// relocated to where it was loaded, and is small).
    pub(crate) fn disk_identity(&self) -> Option<String> {
        let map = self.map.as_ref().filter(|_| !self.relocatable)?;
        let path = std::fs::canonicalize(&self.path).unwrap_or_else(|_| self.path.clone());
        let program = krash_core::disk_cache::program_identity()?;
        let info_len = gimli::Section::reader(&self.dwarf.debug_info).len();
        Some(format!("{} ({}; .debug_info {info_len} bytes), read by krash {program}", path.display(), map.identity()))
    }

    /// Allocated sections at the addresses this file's DWARF uses.
    pub fn alloc_sections(&self) -> &[AllocSection] {
        &self.alloc_sections
    }

    /// The gimli view of the sections, for callers decoding more.
    pub fn gimli(&self) -> &gimli::Dwarf<Reader> {
        &self.dwarf
    }

    fn index(&self) -> Result<&UnitIndex> {
        self.index.get_or_init(|| UnitIndex::build(&self.dwarf, self.relocatable)).as_ref().map_err(Clone::clone)
    }

    /// The unit starting at `offset`, parsed once.
    pub(crate) fn unit_at(&self, offset: DebugInfoOffset) -> Result<Arc<CompUnit>> {
        if let Some(cu) = self.lock_units().get(&offset.0) {
            return Ok(Arc::clone(cu));
        }
        let cu = Arc::new(CompUnit::parse(&self.dwarf, offset)?);
        self.lock_units().insert(offset.0, Arc::clone(&cu));
        Ok(cu)
    }

    fn lock_units(&self) -> std::sync::MutexGuard<'_, HashMap<usize, Arc<CompUnit>>> {
        // A panic elsewhere while holding the lock leaves the map intact.
        self.units.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The unit whose code covers `addr`.
    pub(crate) fn unit_for(&self, addr: u64) -> Result<Option<Arc<CompUnit>>> {
        match self.index()?.unit_for(addr) {
            Some(offset) => self.unit_at(offset).map(Some),
            None => Ok(None),
        }
    }

    /// The unit holding a section-relative DIE offset (for references
    /// that cross units).
    pub(crate) fn unit_holding(&self, offset: DebugInfoOffset) -> Result<Arc<CompUnit>> {
        let start = self.index()?.unit_starting_before(offset).ok_or_else(|| {
            Error::bad_data(
                self.path.display().to_string(),
                format!("DIE reference {:#x} is in no known unit", offset.0),
            )
        })?;
        self.unit_at(start)
    }

    /// The source line of the code at `addr`.
    pub fn lines(&self, addr: u64) -> Result<Option<SourceLine>> {
        let Some(cu) = self.unit_for(addr)? else {
            return Ok(None);
        };
        let Some(table) = cu.lines(&self.dwarf)? else {
            return Ok(None);
        };
        Ok(table.find(addr).and_then(|row| self.source_line(&table, row.file, row.line, row.column)))
    }

    /// The source line of the code at `addr` as gdb reports it (see
    /// [`LineTable::find_statement`](crate::lines::LineTable::find_statement));
    /// gdb shows no column, so none is given.
    pub fn statement_line(&self, addr: u64) -> Result<Option<SourceLine>> {
        let Some(cu) = self.unit_for(addr)? else {
            return Ok(None);
        };
        let Some(table) = cu.lines(&self.dwarf)? else {
            return Ok(None);
        };
        Ok(table.find_statement(addr).and_then(|row| self.source_line(&table, row.file, row.line, 0)))
    }

    /// Every address in `start..end` where the source line changes, with
    /// the line in effect at `start` first.
    pub fn line_table_for_range(&self, start: u64, end: u64) -> Result<Vec<LineBoundary>> {
        let mut out: Vec<LineBoundary> = Vec::new();
        for offset in self.index()?.units_overlapping(start, end) {
            let cu = self.unit_at(offset)?;
            let Some(table) = cu.lines(&self.dwarf)? else {
                continue;
            };
            let rows: Vec<Row> = table.rows_in(start, end);
            for row in rows {
                let Some(line) = self.source_line(&table, row.file, row.line, row.column) else {
                    continue;
                };
                let addr = row.address.max(start);
                if let Some(last) = out.last_mut() {
                    if last.addr == addr {
                        // The last row at one address is the one in effect.
                        last.line = line;
                        continue;
                    }
                    if last.line.file == line.file && last.line.line == line.line {
                        continue;
                    }
                }
                out.push(LineBoundary { addr, line });
            }
        }
        Ok(out)
    }

    fn source_line(&self, table: &crate::lines::LineTable, file: u64, line: u32, column: u32) -> Option<SourceLine> {
        let path = table.file(file)?;
        Some(SourceLine { file: Arc::clone(path), relative: self.relative_path(path), line, column })
    }

    /// `path` as the kernel's faddr2line prints it: relative to the source
    /// tree when under it.
    pub fn relative_path(&self, path: &str) -> String {
        let root = self.source_root.get_or_init(|| self.find_source_root());
        paths::relative_to(path, root.as_deref())
    }

    /// The source tree root, from a unit whose name is tree-relative (the
    /// kernel builds name units `kernel/panic.c`): its primary file's full
    /// path minus that name.
    fn find_source_root(&self) -> Option<String> {
        let units: Vec<Arc<CompUnit>> = self.lock_units().values().cloned().collect();
        for cu in units {
            if cu.name.is_empty() || cu.name.starts_with('/') {
                continue;
            }
            let Ok(Some(table)) = cu.lines(&self.dwarf) else {
                continue;
            };
            for index in 0..4 {
                let Some(full) = table.file(index) else {
                    continue;
                };
                let full = paths::normalize(full);
                let name = paths::normalize(&cu.name);
                // A file entry that is the bare name (DWARF 4's directory 0
                // is the unit's comp_dir, which a relative comp_dir such as
                // 5.10 Debian's `debian/build/build_amd64_none_cloud-amd64`
                // does not reveal) says nothing: look further.
                if let Some(root) = full.strip_suffix(name.as_str()) {
                    if root.ends_with('/') {
                        return Some(root.to_string());
                    }
                }
            }
        }
        None
    }

    /// The inline chain at `addr`, innermost first, as faddr2line prints
    /// it: each frame names the function and where it runs (the innermost
    /// from the line table, the others from their call sites).
    pub fn frames(&self, addr: u64) -> Result<Vec<InlineFrame>> {
        let Some(cu) = self.unit_for(addr)? else {
            return Ok(Vec::new());
        };
        let table = cu.lines(&self.dwarf)?;
        let innermost_line = table.as_ref().and_then(|t| {
            let row = t.find(addr)?;
            self.source_line(t, row.file, row.line, row.column)
        });
        let Some((subprogram, _, _)) = cu.functions(&self.dwarf)?.find(addr) else {
            return Ok(vec![InlineFrame { function: "??".to_string(), location: innermost_line }]);
        };
        let scopes = scopes_at(&self.dwarf, &cu, subprogram, addr)?;
        let functions: Vec<UnitOffset> =
            scopes.iter().filter(|s| s.kind != ScopeKind::Block).map(|s| s.offset).collect();
        let mut frames = Vec::with_capacity(functions.len());
        let mut location = innermost_line;
        for offset in functions.iter().rev() {
            let function = self.die_name(&cu, *offset)?.unwrap_or_else(|| "??".to_string());
            frames.push(InlineFrame { function, location: location.take() });
            location = self.call_site(&cu, table.as_deref(), *offset)?;
        }
        Ok(frames)
    }

    /// Where an inlined subroutine DIE was called from.
    fn call_site(
        &self,
        cu: &CompUnit,
        table: Option<&crate::lines::LineTable>,
        offset: UnitOffset,
    ) -> Result<Option<SourceLine>> {
        let entry = cu.unit.entry(offset).map_err(|e| dwarf_error(cu.context(offset), e))?;
        let number = |name| -> Option<u64> {
            match entry.attr_value(name).ok()?? {
                gimli::AttributeValue::FileIndex(index) => Some(index),
                other => other.udata_value(),
            }
        };
        let (Some(file), Some(line), Some(table)) =
            (number(gimli::DW_AT_call_file), number(gimli::DW_AT_call_line), table)
        else {
            return Ok(None);
        };
        let column = number(gimli::DW_AT_call_column).unwrap_or(0);
        Ok(self.source_line(
            table,
            file,
            u32::try_from(line).unwrap_or(u32::MAX),
            u32::try_from(column).unwrap_or(u32::MAX),
        ))
    }

    /// The name of a DIE, following abstract origins and specifications.
    pub(crate) fn die_name(&self, cu: &CompUnit, offset: UnitOffset) -> Result<Option<String>> {
        let Some((owner, value)) = self.attr_via_origin(cu, offset, gimli::DW_AT_name)? else {
            return Ok(None);
        };
        Ok(self
            .dwarf
            .attr_string(&owner.unit, value)
            .ok()
            .and_then(|s| s.to_string_lossy().ok().map(|c| c.into_owned())))
    }

    /// An attribute of a DIE, or of the DIE its DW_AT_abstract_origin or
    /// DW_AT_specification points to, with the unit that holds it.
    pub(crate) fn attr_via_origin(
        &self,
        cu: &CompUnit,
        offset: UnitOffset,
        name: gimli::DwAt,
    ) -> Result<Option<(Arc<CompUnit>, gimli::AttributeValue<Reader>)>> {
        let mut owner: Option<Arc<CompUnit>> = None;
        let mut at = offset;
        for _ in 0..MAX_ORIGIN_HOPS {
            let unit_ref: &CompUnit = owner.as_deref().unwrap_or(cu);
            let entry = unit_ref.unit.entry(at).map_err(|e| dwarf_error(unit_ref.context(at), e))?;
            if let Some(value) = entry.attr_value(name).map_err(|e| dwarf_error(unit_ref.context(at), e))? {
                let holder = match &owner {
                    Some(o) => Arc::clone(o),
                    None => self.unit_at(cu.offset)?,
                };
                return Ok(Some((holder, value)));
            }
            let origin = [gimli::DW_AT_abstract_origin, gimli::DW_AT_specification]
                .into_iter()
                .find_map(|a| entry.attr_value(a).ok().flatten());
            match origin {
                Some(gimli::AttributeValue::UnitRef(next)) => at = next,
                Some(gimli::AttributeValue::DebugInfoRef(global)) => {
                    let other = self.unit_holding(global)?;
                    let Some(local) = global.to_unit_offset(&other.unit.header) else {
                        return Ok(None);
                    };
                    at = local;
                    owner = Some(other);
                }
                _ => return Ok(None),
            }
        }
        Ok(None)
    }
}
