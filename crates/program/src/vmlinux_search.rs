//! Loading a vmlinux: its ELF symbols and its `.BTF` types, read from one
//! memory map in parallel so start-up stays short even for a 590 MB file.

use std::path::Path;
use std::sync::Arc;

use krash_core::{Error, Result};
use krash_debuginfo::types::TypeProvider;
use krash_debuginfo::{Btf, SymbolTable, SymbolTableBuilder};

/// What a vmlinux provides.
pub struct VmlinuxInfo {
    pub symbols: SymbolTable,
    pub btf: Option<Arc<Btf>>,
    /// GNU build id (hex), to match against the dump's VMCOREINFO BUILD-ID.
    pub build_id: Option<String>,
}

/// Reads symbols and BTF from a vmlinux. A vmlinux without BTF still
/// gives symbols; one without a symbol table is refused.
pub fn load_vmlinux(path: &Path) -> Result<VmlinuxInfo> {
    let map = krash_core::MappedFile::open(path)?;
    if !map.starts_with(b"\x7fELF") {
        return Err(Error::bad_data(path.display().to_string(), "not an ELF file"));
    }
    let (symbols, btf) = rayon::join(|| SymbolTable::from_elf(&map), || Btf::from_elf(&map, None));
    let symbols = without_mapping_symbols(symbols?)?;
    if symbols.is_empty() {
        return Err(Error::MissingDebuginfo(format!(
            "{}: no symbol table (a stripped vmlinuz rather than a vmlinux?)",
            path.display()
        )));
    }
    Ok(VmlinuxInfo { symbols, btf: btf.ok().map(Arc::new), build_id: elf_build_id(&map) })
}

/// The kernel's `is_mapping_symbol()` (include/linux/module_symbol.h): an
/// ELF mapping symbol (`$x`, `$d`, `$x.12` on arm64) marks where code or
/// data starts, and assembler locals (`.L...`, `L0...`) mark nothing: no
/// function or object is called that. kallsyms leaves them out, and gdb
/// and crash never name an address by one (a jump table in `.rodata`
/// shown as `$d` instead of `ptmx_fops`).
pub fn is_mapping_symbol(name: &str) -> bool {
    name.starts_with('$') || name.starts_with(".L") || name.starts_with("L0")
}

/// `table` without its mapping symbols (the same table when it has none,
/// as on x86-64).
pub fn without_mapping_symbols(table: SymbolTable) -> Result<SymbolTable> {
    if !table.iter().any(|s| is_mapping_symbol(s.name)) {
        return Ok(table);
    }
    let mut builder = SymbolTableBuilder::new(table.module());
    builder.reserve(table.len(), table.len().saturating_mul(24));
    for sym in table.iter().filter(|s| !is_mapping_symbol(s.name)) {
        builder.push(sym.name, sym.addr.wrapping_sub(table.offset()), sym.size, sym.kind)?;
    }
    Ok(builder.build().with_offset(table.offset()))
}

/// The BTF as the shared type-provider interface.
pub fn as_provider(btf: &Arc<Btf>) -> Arc<dyn TypeProvider> {
    Arc::clone(btf) as Arc<dyn TypeProvider>
}

/// The `.note.gnu.build-id` of an ELF file, as lowercase hex.
fn elf_build_id(elf: &[u8]) -> Option<String> {
    use object::Object;
    let file = object::File::parse(elf).ok()?;
    let id = file.build_id().ok()??;
    Some(id.iter().map(|b| format!("{b:02x}")).collect())
}

/// Refuses a vmlinux that is not the one that crashed: the build ids
/// differ, or (without build ids) the release strings do.
pub fn check_match(path: &Path, info: &VmlinuxInfo, dump_build_id: Option<&str>) -> Result<()> {
    if let (Some(ours), Some(dumps)) = (info.build_id.as_deref(), dump_build_id) {
        // VMCOREINFO may carry the id zero-padded to 40 hex digits.
        let dumps = dumps.trim();
        if !dumps.starts_with(ours) {
            return Err(Error::Usage(format!(
                "{} does not match the dump: its build id is {ours}, the crashed kernel's is {dumps} \
                 (--force to use it anyway)",
                path.display()
            )));
        }
    }
    Ok(())
}

/// Looks for the crashed kernel's vmlinux under debuginfo roots, in the
/// layouts distributions use, and returns the first whose build id
/// matches the dump's (or, for dumps without one, whose name has the
/// release).
pub fn find_vmlinux(
    vmcoreinfo: &krash_dumpfile::VmcoreInfo,
    roots: &[std::path::PathBuf],
) -> Option<std::path::PathBuf> {
    let release = vmcoreinfo.osrelease()?;
    let build_id = vmcoreinfo.build_id().map(str::trim).filter(|b| b.len() > 2);
    for root in roots {
        let mut candidates = Vec::new();
        if let Some(id) = build_id {
            // .build-id/xx/yyyy.debug; VMCOREINFO may zero-pad the id.
            let id = id.trim_end_matches('0');
            if id.len() > 2 {
                candidates.push(root.join(".build-id").join(&id[..2]).join(format!("{}.debug", &id[2..])));
            }
        }
        candidates.push(root.join("boot").join(format!("vmlinux-{release}")));
        candidates.push(root.join("lib/modules").join(release).join("vmlinux"));
        candidates.push(root.join(format!("vmlinux-{release}")));
        candidates.push(root.join("vmlinux"));
        for c in candidates {
            if c.is_file() && file_matches(&c, build_id) {
                return Some(c);
            }
        }
    }
    None
}

fn file_matches(path: &Path, dump_build_id: Option<&str>) -> bool {
    let Ok(map) = krash_core::MappedFile::open(path) else { return false };
    match (dump_build_id, elf_build_id(&map)) {
        (Some(dumps), Some(ours)) => dumps.starts_with(&ours),
        (None, _) => map.starts_with(b"\x7fELF"),
        (Some(_), None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_symbols_name_no_address() {
        let mut b = SymbolTableBuilder::new(None);
        b.push("ptmx_fops", 0x1000, 0x100, 'd').unwrap();
        b.push("$d", 0x1000, 0, 'd').unwrap();
        b.push("$x.7", 0x2000, 0, 't').unwrap();
        b.push("tty_open", 0x2000, 0x40, 't').unwrap();
        b.push(".Ltmp3", 0x2010, 0, 't').unwrap();
        let table = without_mapping_symbols(b.build().with_offset(0x10_0000)).unwrap();
        let names: Vec<&str> = table.iter().map(|s| s.name).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert_eq!(table.by_addr(0x10_1008).map(|(s, off)| (s.name, off)), Some(("ptmx_fops", 8)));
        assert_eq!(table.by_addr(0x10_2010).map(|(s, off)| (s.name, off)), Some(("tty_open", 0x10)));
        assert_eq!(table.offset(), 0x10_0000);
        assert!(!is_mapping_symbol("dollar$sign"));
    }
}
