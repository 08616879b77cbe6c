//! The name index over a whole file's DWARF: type, variable, function and
//! enum-constant names to the DIE offsets defining them.
//!
//! Built once, on the first name lookup, with one rayon task per unit. A
//! unit is read with a raw cursor over its top-level DIEs only: function
//! bodies and struct members are skipped through `DW_AT_sibling` without
//! decoding, since C types, globals and functions all live at unit scope.
//! The kernel repeats every header type in every unit, so each worker keeps
//! one candidate per distinct (name, size, line) and the lowest offset.

use std::time::{Duration, Instant};

use gimli::{AttributeValue, Section as _, UnitHeader, UnitOffset};
use hashbrown::{HashMap, HashSet};
use krash_core::Result;
use krash_debuginfo::TypeKind;
use rayon::prelude::*;

use crate::bytes::Reader;
use crate::sections::dwarf_error;

/// How many distinct same-named definitions of one type are kept (the
/// kernel has a few tags defined differently in different files).
const MAX_DEFINITIONS_PER_NAME: usize = 8;

/// A borrowed `(kind, name)` key; hashes as the owned tuple does.
#[derive(Hash)]
struct TypeKey<'a>(TypeKind, &'a str);

impl hashbrown::Equivalent<(TypeKind, Box<str>)> for TypeKey<'_> {
    fn equivalent(&self, key: &(TypeKind, Box<str>)) -> bool {
        self.0 == key.0 && self.1 == &*key.1
    }
}

/// Timing and size figures of one index build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexStats {
    pub units: usize,
    /// Units skipped because their DWARF could not be read.
    pub bad_units: usize,
    pub type_names: usize,
    pub variables: usize,
    pub functions: usize,
    pub enumerators: usize,
    /// How long the index took to build, or to read back from the disk
    /// cache (`from_disk`).
    pub elapsed: Duration,
    pub from_disk: bool,
}

/// Names to DIE offsets (section offsets in `.debug_info`).
pub struct NameIndex {
    /// Definitions (lowest offset first) then at most one declaration.
    pub(super) types: HashMap<(TypeKind, Box<str>), Vec<u64>>,
    pub(super) variables: HashMap<Box<str>, u64>,
    pub(super) functions: HashMap<Box<str>, u64>,
    pub(super) enumerators: HashMap<Box<str>, u64>,
    pub stats: IndexStats,
}

impl NameIndex {
    pub fn types(&self, kind: TypeKind, name: &str) -> &[u64] {
        self.types.get(&TypeKey(kind, name)).map_or(&[], Vec::as_slice)
    }

    /// Every type name of `kind` in the file.
    pub fn type_names(&self, kind: TypeKind) -> impl Iterator<Item = &str> {
        self.types.keys().filter(move |(k, _)| *k == kind).map(|(_, name)| &**name)
    }

    /// The best DIE for a global variable: an external definition with a
    /// location, else a static one, else a declaration.
    pub fn variable(&self, name: &str) -> Option<u64> {
        self.variables.get(name).copied()
    }

    pub fn function(&self, name: &str) -> Option<u64> {
        self.functions.get(name).copied()
    }

    /// The enumeration DIE defining the constant `name`.
    pub fn enumerator(&self, name: &str) -> Option<u64> {
        self.enumerators.get(name).copied()
    }

    /// Scans every unit of `dwarf` in parallel.
    pub fn build(dwarf: &gimli::Dwarf<Reader>) -> Result<NameIndex> {
        let start = Instant::now();
        let headers = unit_headers(dwarf)?;
        let sections = Sections {
            dwarf,
            info: dwarf.debug_info.reader().bytes(),
            str: dwarf.debug_str.reader().bytes(),
            line_str: dwarf.debug_line_str.reader().bytes(),
        };
        let partial = headers
            .par_iter()
            .fold(Partial::default, |mut partial, header| {
                if scan_unit(&sections, header, &mut partial).is_err() {
                    // A count of units: it cannot reach usize::MAX.
                    partial.bad_units = partial.bad_units.saturating_add(1);
                }
                partial
            })
            .reduce(Partial::default, Partial::merge);
        let mut index = partial.into_index();
        index.stats.units = headers.len();
        index.stats.elapsed = start.elapsed();
        Ok(index)
    }
}

/// The headers of every unit in `.debug_info`, in file order.
pub fn unit_headers(dwarf: &gimli::Dwarf<Reader>) -> Result<Vec<UnitHeader<Reader>>> {
    let mut headers = Vec::new();
    let mut iter = dwarf.debug_info.units();
    while let Some(header) = iter.next().map_err(|e| dwarf_error(".debug_info unit headers", e))? {
        headers.push(header);
    }
    Ok(headers)
}

/// Raw section bytes, so names can be borrowed for the whole build.
struct Sections<'a> {
    dwarf: &'a gimli::Dwarf<Reader>,
    info: &'a [u8],
    str: &'a [u8],
    line_str: &'a [u8],
}

/// What decoding a unit's string forms needs from its root DIE.
#[derive(Clone, Copy)]
struct StringBase {
    format: gimli::Format,
    /// DW_AT_str_offsets_base, for DW_FORM_strx names (clang's DWARF 5).
    str_offsets: Option<gimli::DebugStrOffsetsBase>,
}

impl<'a> Sections<'a> {
    /// The bytes of a DW_AT_name value, borrowed from the section.
    fn name(&self, value: &AttributeValue<Reader>, base: StringBase) -> Option<&'a [u8]> {
        match value {
            AttributeValue::DebugStrRef(offset) => c_string(self.str, offset.0),
            AttributeValue::DebugStrOffsetsIndex(index) => {
                let offset =
                    self.dwarf.debug_str_offsets.get_str_offset(base.format, base.str_offsets?, *index).ok()?;
                c_string(self.str, offset.0)
            }
            AttributeValue::DebugLineStrRef(offset) => c_string(self.line_str, offset.0),
            AttributeValue::String(inline) => {
                let info = self.dwarf.debug_info.reader();
                let start = gimli::Reader::offset_from(inline, info);
                self.info.get(start..start.checked_add(inline.len())?)
            }
            _ => None,
        }
    }
}

fn c_string(section: &[u8], offset: usize) -> Option<&[u8]> {
    let tail = section.get(offset..)?;
    let end = tail.iter().position(|&b| b == 0)?;
    tail.get(..end).filter(|s| !s.is_empty())
}

#[derive(Clone, Copy)]
struct TypeCandidate {
    offset: u64,
    declaration: bool,
    size: Option<u64>,
    line: Option<u64>,
}

/// Lower ranks win: definitions before declarations, external before static.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Ranked {
    rank: u8,
    offset: u64,
}

/// What one worker found in its share of the units.
#[derive(Default)]
struct Partial<'a> {
    types: HashMap<(TypeKind, &'a [u8]), Vec<TypeCandidate>>,
    variables: HashMap<&'a [u8], Ranked>,
    functions: HashMap<&'a [u8], Ranked>,
    enumerators: HashMap<&'a [u8], u64>,
    /// Enums whose constants this worker already read, by name, line,
    /// size and first constant (equal for copies of one header's enum).
    seen_enums: HashSet<EnumSignature<'a>>,
    bad_units: usize,
}

type EnumSignature<'a> = (Option<&'a [u8]>, Option<u64>, Option<u64>, &'a [u8]);

impl<'a> Partial<'a> {
    fn add_type(&mut self, kind: TypeKind, name: &'a [u8], found: TypeCandidate) {
        let list = self.types.entry((kind, name)).or_default();
        add_candidate(list, found);
    }

    fn add_ranked(map: &mut HashMap<&'a [u8], Ranked>, name: &'a [u8], found: Ranked) {
        map.entry(name).and_modify(|best| *best = (*best).min(found)).or_insert(found);
    }

    fn merge(mut self, mut other: Partial<'a>) -> Partial<'a> {
        if self.types.len() < other.types.len() {
            std::mem::swap(&mut self, &mut other);
        }
        for (key, list) in other.types {
            let mine = self.types.entry(key).or_default();
            for found in list {
                add_candidate(mine, found);
            }
        }
        for (name, found) in other.variables {
            Self::add_ranked(&mut self.variables, name, found);
        }
        for (name, found) in other.functions {
            Self::add_ranked(&mut self.functions, name, found);
        }
        for (name, offset) in other.enumerators {
            self.enumerators.entry(name).and_modify(|o| *o = (*o).min(offset)).or_insert(offset);
        }
        self.bad_units = self.bad_units.saturating_add(other.bad_units);
        self
    }

    fn into_index(self) -> NameIndex {
        let owned = |name: &[u8]| -> Box<str> { String::from_utf8_lossy(name).into() };
        let types: HashMap<(TypeKind, Box<str>), Vec<u64>> = self
            .types
            .into_iter()
            .map(|((kind, name), mut list)| {
                list.sort_by_key(|c| (c.declaration, c.offset));
                ((kind, owned(name)), list.into_iter().map(|c| c.offset).collect())
            })
            .collect();
        let stats = IndexStats {
            units: 0,
            bad_units: self.bad_units,
            type_names: types.len(),
            variables: self.variables.len(),
            functions: self.functions.len(),
            enumerators: self.enumerators.len(),
            elapsed: Duration::ZERO,
            from_disk: false,
        };
        NameIndex {
            types,
            variables: self.variables.into_iter().map(|(n, r)| (owned(n), r.offset)).collect(),
            functions: self.functions.into_iter().map(|(n, r)| (owned(n), r.offset)).collect(),
            enumerators: self.enumerators.into_iter().map(|(n, o)| (owned(n), o)).collect(),
            stats,
        }
    }
}

/// Keeps one declaration and one definition per distinct (size, line),
/// each at its lowest offset.
fn add_candidate(list: &mut Vec<TypeCandidate>, found: TypeCandidate) {
    let same = list.iter().position(|c| {
        c.declaration == found.declaration && (found.declaration || (c.size == found.size && c.line == found.line))
    });
    if let Some(existing) = same.and_then(|i| list.get_mut(i)) {
        existing.offset = existing.offset.min(found.offset);
    } else if list.len() < MAX_DEFINITIONS_PER_NAME {
        list.push(found);
    }
}

/// The attributes of one top-level DIE the index cares about.
#[derive(Default)]
struct TopLevel<'a> {
    name: Option<&'a [u8]>,
    declaration: bool,
    external: bool,
    has_location: bool,
    size: Option<u64>,
    line: Option<u64>,
    sibling: Option<UnitOffset>,
    specification: Option<UnitOffset>,
}

fn scan_unit<'a>(sections: &Sections<'a>, header: &UnitHeader<Reader>, out: &mut Partial<'a>) -> Result<()> {
    let unit_start = header.offset().as_debug_info_offset().map_or(0, |o| o.0) as u64;
    let context = || format!(".debug_info unit at {unit_start:#x}");
    let abbrevs = sections.dwarf.abbreviations(header).map_err(|e| dwarf_error(context(), e))?;
    let mut raw = header.entries_raw(&abbrevs, None).map_err(|e| dwarf_error(context(), e))?;
    let Some(root) = raw.read_abbreviation().map_err(|e| dwarf_error(context(), e))? else {
        return Ok(());
    };
    let mut strings = StringBase { format: header.format(), str_offsets: None };
    for spec in root.attributes() {
        let attr = raw.read_attribute(*spec).map_err(|e| dwarf_error(context(), e))?;
        if let AttributeValue::DebugStrOffsetsBase(base) = attr.value() {
            strings.str_offsets = Some(base);
        }
    }
    if !root.has_children() {
        return Ok(());
    }
    // Variable declarations of this unit, for definitions that name them
    // through DW_AT_specification; they precede their definitions.
    let mut declared: Vec<(UnitOffset, &'a [u8], bool)> = Vec::new();
    while !raw.is_empty() {
        let offset = raw.next_offset();
        let Some(abbrev) = raw.read_abbreviation().map_err(|e| dwarf_error(context(), e))? else {
            break; // the end of the unit's children
        };
        let tag = abbrev.tag();
        let wanted = matches!(
            tag,
            gimli::DW_TAG_structure_type
                | gimli::DW_TAG_union_type
                | gimli::DW_TAG_enumeration_type
                | gimli::DW_TAG_typedef
                | gimli::DW_TAG_base_type
                | gimli::DW_TAG_variable
                | gimli::DW_TAG_subprogram
        );
        let mut die = TopLevel::default();
        if wanted {
            for spec in abbrev.attributes() {
                let attr = raw.read_attribute(*spec).map_err(|e| dwarf_error(context(), e))?;
                let value = attr.value();
                match attr.name() {
                    gimli::DW_AT_name => die.name = sections.name(&value, strings),
                    gimli::DW_AT_declaration => die.declaration = flag(&value),
                    gimli::DW_AT_external => die.external = flag(&value),
                    gimli::DW_AT_location => die.has_location = true,
                    gimli::DW_AT_low_pc | gimli::DW_AT_ranges => die.has_location = true,
                    gimli::DW_AT_byte_size => die.size = value.udata_value(),
                    gimli::DW_AT_decl_line => die.line = value.udata_value(),
                    gimli::DW_AT_sibling => die.sibling = unit_ref(&value),
                    gimli::DW_AT_specification => die.specification = unit_ref(&value),
                    _ => {}
                }
            }
        } else {
            raw.skip_attributes(abbrev.attributes()).map_err(|e| dwarf_error(context(), e))?;
        }
        let global = unit_start.saturating_add(offset.0 as u64);
        record(tag, &mut die, global, offset, &mut declared, out);
        if !abbrev.has_children() {
            continue;
        }
        if tag == gimli::DW_TAG_enumeration_type && !die.declaration {
            let done = scan_enumerators(sections, strings, &mut raw, &die, global, out)
                .map_err(|e| dwarf_error(context(), e))?;
            if done {
                continue;
            }
        }
        match die.sibling.filter(|s| s.0 > offset.0) {
            Some(sibling) => {
                raw = header.entries_raw(&abbrevs, Some(sibling)).map_err(|e| dwarf_error(context(), e))?;
            }
            None => skip_subtree(&mut raw).map_err(|e| dwarf_error(context(), e))?,
        }
    }
    Ok(())
}

fn record<'a>(
    tag: gimli::DwTag,
    die: &mut TopLevel<'a>,
    global: u64,
    offset: UnitOffset,
    declared: &mut Vec<(UnitOffset, &'a [u8], bool)>,
    out: &mut Partial<'a>,
) {
    let kind = match tag {
        gimli::DW_TAG_structure_type => Some(TypeKind::Struct),
        gimli::DW_TAG_union_type => Some(TypeKind::Union),
        gimli::DW_TAG_enumeration_type => Some(TypeKind::Enum),
        gimli::DW_TAG_typedef => Some(TypeKind::Typedef),
        gimli::DW_TAG_base_type => Some(TypeKind::Base),
        _ => None,
    };
    if let (Some(kind), Some(name)) = (kind, die.name) {
        let found = TypeCandidate { offset: global, declaration: die.declaration, size: die.size, line: die.line };
        out.add_type(kind, name, found);
        return;
    }
    if tag == gimli::DW_TAG_variable {
        if die.name.is_none() {
            if let Some(spec) = die.specification {
                let found = declared.binary_search_by_key(&spec.0, |d| d.0 .0).ok().and_then(|i| declared.get(i));
                if let Some(&(_, name, external)) = found {
                    die.name = Some(name);
                    die.external |= external;
                }
            }
        }
        let Some(name) = die.name else { return };
        if die.declaration {
            declared.push((offset, name, die.external));
        }
        let rank = match (die.has_location && !die.declaration, die.external, die.declaration) {
            (true, true, _) => 0,
            (true, false, _) => 1,
            (false, _, false) => 2,
            (false, _, true) => 3,
        };
        Partial::add_ranked(&mut out.variables, name, Ranked { rank, offset: global });
    } else if tag == gimli::DW_TAG_subprogram {
        let Some(name) = die.name else { return };
        let rank = match (die.declaration, die.external) {
            (false, true) => 0,
            (false, false) => 1,
            (true, _) => 2,
        };
        Partial::add_ranked(&mut out.functions, name, Ranked { rank, offset: global });
    }
}

/// Reads the enumerators of the enum `die` at `enum_offset`. Returns false
/// when it stopped early because this worker already read a copy of the
/// same enum (the caller then skips the rest of the subtree).
fn scan_enumerators<'a>(
    sections: &Sections<'a>,
    strings: StringBase,
    raw: &mut gimli::EntriesRaw<'_, '_, Reader>,
    die: &TopLevel<'a>,
    enum_offset: u64,
    out: &mut Partial<'a>,
) -> std::result::Result<bool, gimli::Error> {
    let mut first = true;
    while !raw.is_empty() {
        let Some(abbrev) = raw.read_abbreviation()? else {
            return Ok(true);
        };
        let mut name = None;
        for spec in abbrev.attributes() {
            if spec.name() == gimli::DW_AT_name {
                name = sections.name(&raw.read_attribute(*spec)?.value(), strings);
            } else {
                raw.skip_attributes(std::slice::from_ref(spec))?;
            }
        }
        if abbrev.has_children() {
            skip_subtree(raw)?;
        }
        if abbrev.tag() != gimli::DW_TAG_enumerator {
            continue;
        }
        let Some(name) = name else { continue };
        if first && !out.seen_enums.insert((die.name, die.line, die.size, name)) {
            return Ok(false);
        }
        first = false;
        out.enumerators.entry(name).or_insert(enum_offset);
    }
    Ok(true)
}

/// Skips the children of the DIE just read (which has children), ending
/// after their terminating null entry.
fn skip_subtree(raw: &mut gimli::EntriesRaw<'_, '_, Reader>) -> std::result::Result<(), gimli::Error> {
    // Each level opened consumes at least a byte of the section, so the
    // depth cannot approach usize::MAX; the loop ends when it reaches 0.
    let mut depth = 1usize;
    while depth > 0 && !raw.is_empty() {
        match raw.read_abbreviation()? {
            None => depth = depth.saturating_sub(1),
            Some(abbrev) => {
                raw.skip_attributes(abbrev.attributes())?;
                if abbrev.has_children() {
                    depth = depth.saturating_add(1);
                }
            }
        }
    }
    Ok(())
}

fn flag(value: &AttributeValue<Reader>) -> bool {
    matches!(value, AttributeValue::Flag(true))
}

fn unit_ref(value: &AttributeValue<Reader>) -> Option<UnitOffset> {
    match value {
        AttributeValue::UnitRef(offset) => Some(*offset),
        _ => None,
    }
}
