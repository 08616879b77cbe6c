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
        let Ok(name) = sections.section_name(endian, section) else {
            continue;
        };
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        let bytes = section.data(endian, data).map_err(|e| Error::bad_data(ctx, format!("section {name}: {e}")))?;
        out.push((name, ElfSection { data: bytes, addr: section.sh_addr(endian) }));
    }
    Ok(out)
}

/// Kernel "memory" served from an ELF image's allocated sections at their
/// link addresses: lets kallsyms/ORC/data readers run on a vmlinux
/// without a dump (tests, `--no-dump` inspection of static data).
#[derive(Debug, Clone)]
pub struct ElfMemory<'a> {
    /// (start address, bytes), sorted by address.
    regions: Vec<(u64, &'a [u8])>,
}

impl<'a> ElfMemory<'a> {
    /// Maps every allocated section with file contents of `data`.
    pub fn new(data: &'a [u8]) -> Result<Self> {
        let endian = LittleEndian;
        let ctx = "ELF section headers";
        let header = elf::FileHeader64::<LittleEndian>::parse(data)
            .map_err(|e| Error::bad_data(ctx, format!("not a 64-bit little-endian ELF: {e}")))?;
        let sections = header.sections(endian, data).map_err(|e| Error::bad_data(ctx, e.to_string()))?;
        let mut regions = Vec::new();
        for section in sections.iter() {
            let allocated = section.sh_flags(endian) & u64::from(elf::SHF_ALLOC) != 0;
            if !allocated || section.sh_type(endian) == elf::SHT_NOBITS || section.sh_addr(endian) == 0 {
                continue;
            }
            if let Ok(bytes) = section.data(endian, data) {
                regions.push((section.sh_addr(endian), bytes));
            }
        }
        regions.sort_by_key(|r| r.0);
        Ok(ElfMemory { regions })
    }
}

impl krash_core::VirtualMemory for ElfMemory<'_> {
    fn read_virt(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        let mut rest = buf;
        let mut at = addr;
        while !rest.is_empty() {
            let idx = self.regions.partition_point(|r| r.0 <= at);
            let region = idx.checked_sub(1).and_then(|i| self.regions.get(i));
            // The region found starts at or below `at`.
            let avail = region
                .and_then(|&(start, bytes)| bytes.get(usize::try_from(at.checked_sub(start)?).ok()?..))
                .filter(|b| !b.is_empty())
                .ok_or_else(|| krash_core::memory::not_mapped(at))?;
            let n = avail.len().min(rest.len());
            let not_mapped = || krash_core::memory::not_mapped(at);
            let (dst, tail) = std::mem::take(&mut rest).split_at_mut_checked(n).ok_or_else(not_mapped)?;
            let (src, _) = avail.split_at_checked(n).ok_or_else(not_mapped)?;
            dst.copy_from_slice(src);
            rest = tail;
            at = at.wrapping_add(n as u64);
        }
        Ok(())
    }
}
