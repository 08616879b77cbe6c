//! Shared helpers for tests on the lab kernels' real files.
#![allow(dead_code)]
// Test helpers (also used by the examples): they read known lab files, and a
// panic is a test failure, so the untrusted-input lints do not apply.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use std::path::PathBuf;

use object::{Object, ObjectSection, ObjectSymbol};

// The examples include this file too and use only part of it.
#[allow(unused_imports)]
pub use krash_labtest::KERNELS;

/// The vmlinux of a lab kernel; `None` (after a skip note, or a failure
/// under KRASH_REQUIRE_LAB=1) when this machine has not got it.
pub fn vmlinux(kv: &str) -> Option<PathBuf> {
    krash_labtest::vmlinux(kv)
}

/// Function and object symbols of an ELF file, sorted by address, for
/// symbolizing as gdb's minimal symbols do.
pub struct Symbols {
    pub entries: Vec<(u64, u64, String)>,
    /// Section index of each entry, parallel to `entries` after sorting.
    entry_sections: std::collections::HashMap<(u64, String), usize>,
    /// Allocated sections' (start, end), to keep a symbol from naming an
    /// address in another section.
    sections: Vec<(u64, u64, usize)>,
    data: std::sync::Arc<krash_core::MappedFile>,
}

impl Symbols {
    pub fn load(path: &std::path::Path) -> Symbols {
        let data = krash_core::MappedFile::open(path).unwrap();
        let mut entries = Vec::new();
        let mut sections = Vec::new();
        let mut entry_sections = std::collections::HashMap::new();
        let mut rank = std::collections::HashMap::new();
        {
            let elf = object::File::parse(&data[..]).unwrap();
            for section in elf.sections() {
                let alloc = matches!(section.flags(), object::SectionFlags::Elf { sh_flags } if sh_flags & 2 != 0);
                if alloc && section.size() != 0 {
                    sections.push((section.address(), section.address() + section.size(), section.index().0));
                }
            }
            for sym in elf.symbols() {
                let Ok(name) = sym.name() else { continue };
                if name.is_empty()
                    || sym.kind() == object::SymbolKind::Section
                    || sym.kind() == object::SymbolKind::File
                {
                    continue;
                }
                if sym.section_index().is_none() && !sym.is_undefined() {
                    // absolute symbols (per-cpu offsets are section-based in vmlinux)
                }
                entries.push((sym.address(), sym.size(), name.to_string()));
                let binding = if sym.is_weak() {
                    1
                } else if sym.is_global() {
                    2
                } else {
                    0
                };
                rank.insert((sym.address(), name.to_string()), binding);
                if let Some(index) = sym.section_index() {
                    entry_sections.insert((sym.address(), name.to_string()), index.0);
                }
            }
        }
        // Among minimal symbols at one address gdb ends up naming a global one
        // before a weak one before a local one, then the greatest name.
        entries.sort_by(|a, b| (a.0, rank[&(a.0, a.2.clone())], &a.2).cmp(&(b.0, rank[&(b.0, b.2.clone())], &b.2)));
        Symbols { entries, entry_sections, sections, data }
    }

    pub fn by_name(&self, name: &str) -> Option<(u64, u64)> {
        self.entries.iter().find(|e| e.2 == name).map(|e| (e.0, e.1))
    }

    /// Nearest symbol at or below `addr`.
    pub fn lookup(&self, addr: u64) -> Option<(String, u64)> {
        let after = self.entries.partition_point(|e| e.0 <= addr);
        let e = self.entries.get(after.checked_sub(1)?)?;
        Some((e.2.clone(), addr - e.0))
    }

    fn section_of(&self, addr: u64) -> Option<(u64, u64, usize)> {
        self.sections.iter().copied().find(|s| s.0 <= addr && addr < s.1)
    }

    /// gdb's minimal-symbol choice: the nearest sized symbol covering the
    /// address, else the nearest zero-sized one, both within the address's
    /// section; among sized symbols at one address, the first sorted.
    pub fn gdb_minimal_symbol(&self, addr: u64) -> Option<(String, u64, u64)> {
        let section = self.section_of(addr)?;
        let after = self.entries.partition_point(|e| e.0 <= addr);
        let mut zero_sized = None;
        for e in self.entries[..after].iter().rev().take(2000) {
            if e.0 < section.0 {
                break;
            }
            if self.entry_sections.get(&(e.0, e.2.clone())) != Some(&section.2) {
                continue;
            }
            if e.1 == 0 {
                if zero_sized.is_none() {
                    zero_sized = Some(e);
                }
                continue;
            }
            if addr < e.0 + e.1 {
                return Some((e.2.clone(), e.0, addr - e.0));
            }
            break;
        }
        zero_sized.map(|e| (e.2.clone(), e.0, addr - e.0))
    }

    /// What gdb prints in `<...>`: the DWARF function covering the address
    /// (offset from its entry), unless a minimal symbol starts exactly at
    /// the address and the function does not.
    pub fn gdb_symbolize(&self, dwarf: &krash_dwarf::DwarfFile, addr: u64) -> Option<(String, u64)> {
        let minimal = self.gdb_minimal_symbol(addr);
        let function = dwarf.function_name_at(addr).ok().flatten();
        match (function, minimal) {
            (Some((name, entry)), Some((msym, start, _))) => {
                if start == addr && entry != addr {
                    Some((msym, 0))
                } else {
                    Some((name, addr.wrapping_sub(entry)))
                }
            }
            (Some((name, entry)), None) => Some((name, addr.wrapping_sub(entry))),
            (None, Some((msym, _, off))) => Some((msym, off)),
            (None, None) => None,
        }
    }

    /// The file bytes backing `len` bytes at virtual address `addr`.
    pub fn bytes_at(&self, addr: u64, len: u64) -> Vec<u8> {
        let elf = object::File::parse(&self.data[..]).unwrap();
        for section in elf.sections() {
            if section.address() <= addr && addr + len <= section.address() + section.size() {
                let data = section.data().unwrap();
                let start = (addr - section.address()) as usize;
                return data[start..start + len as usize].to_vec();
            }
        }
        panic!("no section holds {addr:#x}");
    }
}
