//! Shared helpers for tests on the lab kernels' real files.
#![allow(dead_code)]

use std::path::PathBuf;

use object::{Object, ObjectSection, ObjectSymbol};

pub const KERNELS: [&str; 2] = ["6.1.0-56-cloud-amd64", "6.12.117+deb12-cloud-amd64"];

/// The vmlinux of a lab kernel, when this machine has it.
pub fn vmlinux(kv: &str) -> Option<PathBuf> {
    let path = PathBuf::from(format!(
        "/var/cache/krash-lab/kernels/{kv}/root/usr/lib/debug/boot/vmlinux-{kv}"
    ));
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipping: {} not present", path.display());
        None
    }
}

/// Function and object symbols of an ELF file, sorted by address, for
/// symbolizing as gdb's minimal symbols do.
pub struct Symbols {
    pub entries: Vec<(u64, u64, String)>,
    data: memmap2::Mmap,
}

impl Symbols {
    pub fn load(path: &std::path::Path) -> Symbols {
        let file = std::fs::File::open(path).unwrap();
        let data = unsafe { memmap2::Mmap::map(&file) }.unwrap();
        let mut entries = Vec::new();
        {
            let elf = object::File::parse(&*data).unwrap();
            for sym in elf.symbols() {
                let Ok(name) = sym.name() else { continue };
                if name.is_empty() || sym.kind() == object::SymbolKind::Section || sym.kind() == object::SymbolKind::File {
                    continue;
                }
                if sym.section_index().is_none() && !sym.is_undefined() {
                    // absolute symbols (per-cpu offsets are section-based in vmlinux)
                }
                entries.push((sym.address(), sym.size(), name.to_string()));
            }
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Symbols { entries, data }
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

    /// The file bytes backing `len` bytes at virtual address `addr`.
    pub fn bytes_at(&self, addr: u64, len: u64) -> Vec<u8> {
        let elf = object::File::parse(&*self.data).unwrap();
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
