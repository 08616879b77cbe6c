//! Maps an ELF file and hands its debug sections to gimli: borrowed when
//! stored plainly, decompressed when SHF_COMPRESSED, and relocated when the
//! file is relocatable (a module `.ko`), where debug sections still hold
//! relocations against code sections.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use krash_core::MappedFile;
use krash_core::{Error, Result};
use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget};

use crate::bytes::{Reader, SectionBytes};

/// Load addresses to give named sections of a relocatable file (for a module:
/// the addresses from its `sect_attrs`). Unnamed sections keep their ELF
/// address, which is 0 in a `.ko`.
pub type SectionBases = HashMap<String, u64>;

/// What the rest of the crate needs from the ELF container.
pub struct LoadedDwarf {
    pub dwarf: gimli::Dwarf<Reader>,
    pub relocatable: bool,
    pub alloc_sections: Vec<AllocSection>,
}

/// An allocated section at the address DWARF addresses refer to (its ELF
/// address, or for a relocatable file the address it was laid out at).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocSection {
    pub name: String,
    pub address: u64,
    pub size: u64,
}

impl AllocSection {
    /// The section holding `addr`, preferring the smallest should
    /// sections overlap.
    pub fn containing(sections: &[AllocSection], addr: u64) -> Option<&AllocSection> {
        sections.iter().filter(|s| addr.checked_sub(s.address).is_some_and(|off| off < s.size)).min_by_key(|s| s.size)
    }
}

pub fn map_file(path: &Path) -> Result<Arc<MappedFile>> {
    MappedFile::open(path)
}

pub fn load(path: &Path, map: &Arc<MappedFile>, bases: &SectionBases) -> Result<LoadedDwarf> {
    let context = || path.display().to_string();
    let file = object::File::parse(&***map)
        .map_err(|e| Error::bad_data(context(), format!("not a readable ELF file: {e}")))?;
    if file.section_by_name(".debug_info").is_none() {
        return Err(Error::MissingDebuginfo(format!("{}: no .debug_info section (stripped?)", context())));
    }
    let endian = if file.is_little_endian() { gimli::RunTimeEndian::Little } else { gimli::RunTimeEndian::Big };
    let relocatable = file.kind() == object::ObjectKind::Relocatable;
    let laid_out;
    let bases = if relocatable {
        laid_out = lay_out_sections(&file, bases);
        &laid_out
    } else {
        bases
    };
    let dwarf = gimli::Dwarf::load(|id| -> Result<Reader> {
        let bytes = section_bytes(&file, map, id.name(), relocatable, bases).map_err(|e| match e {
            Error::BadData { detail, .. } => Error::bad_data(format!("{} {}", context(), id.name()), detail),
            other => other,
        })?;
        Ok(Reader::new(bytes, endian))
    })?;
    let alloc_sections = file
        .sections()
        .filter(|s| is_allocated(s) && s.size() != 0)
        .filter_map(|s| {
            let name = s.name().ok()?.to_string();
            let address = if relocatable { *bases.get(&name)? } else { s.address() };
            Some(AllocSection { name, address, size: s.size() })
        })
        .collect();
    Ok(LoadedDwarf { dwarf, relocatable, alloc_sections })
}

fn is_allocated(section: &object::Section<'_, '_>) -> bool {
    matches!(section.flags(), object::SectionFlags::Elf { sh_flags } if sh_flags & u64::from(object::elf::SHF_ALLOC) != 0)
}

/// Gives every allocated section of a relocatable file a distinct address:
/// the caller's, else `.text` at 0 and the others after it in file order.
/// All sections of a `.ko` are at 0 in the file, so without this the code
/// of `.text`, `.init.text` and `.exit.text` would overlap.
fn lay_out_sections(file: &object::File<'_>, given: &SectionBases) -> SectionBases {
    let mut bases = given.clone();
    let allocated: Vec<(String, u64, u64)> = file
        .sections()
        .filter(is_allocated)
        .filter(|s| s.size() != 0)
        .filter_map(|s| Some((s.name().ok()?.to_string(), s.size(), s.align().max(1))))
        .collect();
    let mut next = 0u64;
    if let Some((_, size, _)) = allocated.iter().find(|(name, _, _)| name == ".text") {
        bases.entry(".text".to_string()).or_insert(0);
        next = *size;
    }
    for (name, size, align) in allocated {
        if bases.contains_key(&name) {
            continue;
        }
        // `align` is at least 1 (see above).
        let Some(start) = next.checked_next_multiple_of(align) else {
            break;
        };
        bases.insert(name, start);
        next = start.saturating_add(size);
    }
    bases
}

fn section_bytes(
    file: &object::File<'_>,
    map: &Arc<MappedFile>,
    name: &str,
    relocatable: bool,
    bases: &SectionBases,
) -> Result<SectionBytes> {
    let Some(section) = file.section_by_name(name) else {
        return Ok(SectionBytes::empty());
    };
    let range = section.compressed_file_range().map_err(|e| Error::bad_data("", format!("bad section header: {e}")))?;
    let has_relocations = relocatable && section.relocations().next().is_some();
    if range.format == object::CompressionFormat::None && !has_relocations {
        return SectionBytes::mapped(map, range.offset, range.uncompressed_size)
            .ok_or_else(|| Error::bad_data("", "section extends past the end of the file"));
    }
    let data = section
        .compressed_data()
        .and_then(|d| d.decompress())
        .map_err(|e| Error::bad_data("", format!("cannot decompress: {e}")))?;
    let mut owned = data.into_owned();
    if has_relocations {
        apply_relocations(file, &section, &mut owned, bases)?;
    }
    Ok(SectionBytes::Owned(Arc::from(owned)))
}

/// Resolves the absolute relocations that a relocatable object's debug
/// sections carry (32- and 64-bit, against section symbols or functions).
fn apply_relocations(
    file: &object::File<'_>,
    section: &object::Section<'_, '_>,
    data: &mut [u8],
    bases: &SectionBases,
) -> Result<()> {
    let section_base = |index: object::SectionIndex| -> u64 {
        match file.section_by_index(index) {
            Ok(s) => s.name().ok().and_then(|n| bases.get(n).copied()).unwrap_or_else(|| s.address()),
            Err(_) => 0,
        }
    };
    for (offset, reloc) in section.relocations() {
        let target = match reloc.target() {
            RelocationTarget::Symbol(index) => {
                let symbol = file
                    .symbol_by_index(index)
                    .map_err(|e| Error::bad_data("", format!("relocation at {offset:#x}: bad symbol: {e}")))?;
                let base = symbol.section_index().map(section_base).unwrap_or(0);
                base.wrapping_add(symbol.address())
            }
            RelocationTarget::Section(index) => section_base(index),
            RelocationTarget::Absolute => 0,
            _ => continue,
        };
        if reloc.kind() != object::RelocationKind::Absolute {
            // PC-relative and other kinds do not occur in debug sections of
            // kernel modules; leaving them alone beats guessing.
            continue;
        }
        let width = usize::from(reloc.size() / 8);
        if width > 8 {
            // Wider than a u64: no such absolute relocation exists for
            // the architectures krash reads, so this is corrupt input.
            continue;
        }
        let start = usize::try_from(offset).ok();
        let place = start
            .and_then(|s| Some(s..s.checked_add(width)?))
            .and_then(|r| data.get_mut(r))
            .ok_or_else(|| Error::bad_data("", format!("relocation at {offset:#x} is outside the section")))?;
        let mut value = target.wrapping_add(reloc.addend() as u64);
        if reloc.has_implicit_addend() {
            value = value.wrapping_add(read_le(place));
        }
        write_le(place, value);
    }
    Ok(())
}

fn read_le(place: &[u8]) -> u64 {
    place.iter().rev().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

fn write_le(place: &mut [u8], value: u64) {
    for (byte, src) in place.iter_mut().zip(value.to_le_bytes()) {
        *byte = src;
    }
}

/// Converts a gimli failure into a krash error naming where it happened.
pub fn dwarf_error(context: impl Into<String>, e: gimli::Error) -> Error {
    Error::bad_data(context, format!("malformed DWARF: {e}"))
}
