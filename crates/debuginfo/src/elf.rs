//! Minimal ELF section access for the tables this crate reads out of
//! vmlinux and modules (`.BTF`, `.orc_unwind`, ...), reading only the
//! headers and the requested section of a possibly huge mapped file.

use krash_core::{Error, Result};
use object::elf;
use object::read::elf::{FileHeader, SectionHeader};
use object::LittleEndian;

/// A loaded section's bytes and link-time address.
#[derive(Debug, Clone, Copy)]
pub struct ElfSection<'a> {
    pub data: &'a [u8],
    pub addr: u64,
}

/// The contents of section `name` of a 64-bit little-endian ELF, or `None`
/// when absent.
pub fn elf_section<'a>(data: &'a [u8], name: &str) -> Result<Option<&'a [u8]>> {
    Ok(elf_section_with_addr(data, name)?.map(|s| s.data))
}

/// Like [`elf_section`], also giving the section's link-time address.
pub fn elf_section_with_addr<'a>(data: &'a [u8], name: &str) -> Result<Option<ElfSection<'a>>> {
    Ok(elf_sections(data)?.into_iter().find(|(n, _)| *n == name).map(|(_, s)| s))
}

/// Every section with contents in the file, by name (NOBITS sections such
/// as `.bss` are left out: they have no file bytes).
pub fn elf_sections(data: &[u8]) -> Result<Vec<(&str, ElfSection<'_>)>> {
    let ctx = "ELF section headers";
    let endian = LittleEndian;
    let header = elf::FileHeader64::<LittleEndian>::parse(data)
        .map_err(|e| Error::bad_data(ctx, format!("not a 64-bit little-endian ELF: {e}")))?;
    let sections = header.sections(endian, data).map_err(|e| Error::bad_data(ctx, e.to_string()))?;
    let mut out = Vec::new();
    for section in sections.iter() {
        if section.sh_type(endian) == elf::SHT_NOBITS {
            continue;
        }
        let Ok(name) = sections.section_name(endian, section) else { continue };
        let Ok(name) = std::str::from_utf8(name) else { continue };
        let bytes = section
            .data(endian, data)
            .map_err(|e| Error::bad_data(ctx, format!("section {name}: {e}")))?;
        out.push((name, ElfSection { data: bytes, addr: section.sh_addr(endian) }));
    }
    Ok(out)
}
