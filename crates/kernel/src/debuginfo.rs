//! Loading a vmlinux: its ELF symbols and its `.BTF` types, read from one
//! memory map in parallel so start-up stays short even for a 590 MB file.

use std::path::Path;
use std::sync::Arc;

use krash_core::{Error, Result};
use krash_debuginfo::types::TypeProvider;
use krash_debuginfo::{Btf, SymbolTable};

/// What a vmlinux provides.
pub struct VmlinuxInfo {
    pub symbols: SymbolTable,
    pub btf: Option<Arc<Btf>>,
}

/// Reads symbols and BTF from a vmlinux. A vmlinux without BTF still
/// gives symbols; one without a symbol table is refused.
pub fn load_vmlinux(path: &Path) -> Result<VmlinuxInfo> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, &e))?;
    // SAFETY: read-only map of a file krash never writes; dropped on return.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, &e))?;
    if !map.starts_with(b"\x7fELF") {
        return Err(Error::bad_data(path.display().to_string(), "not an ELF file"));
    }
    let (symbols, btf) = rayon::join(|| SymbolTable::from_elf(&map), || Btf::from_elf(&map, None));
    let symbols = symbols?;
    if symbols.is_empty() {
        return Err(Error::MissingDebuginfo(format!(
            "{}: no symbol table (a stripped vmlinuz rather than a vmlinux?)",
            path.display()
        )));
    }
    Ok(VmlinuxInfo {
        symbols,
        btf: btf.ok().map(Arc::new),
    })
}

/// The BTF as the shared type-provider interface.
pub fn as_provider(btf: &Arc<Btf>) -> Arc<dyn TypeProvider> {
    Arc::clone(btf) as Arc<dyn TypeProvider>
}
