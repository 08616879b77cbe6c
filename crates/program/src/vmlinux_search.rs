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
    // `SymbolTable::from_elf` already leaves out mapping symbols.
    let symbols = symbols?;
    if symbols.is_empty() {
        return Err(Error::MissingDebuginfo(format!(
            "{}: no symbol table (a stripped vmlinuz rather than a vmlinux?)",
            path.display()
        )));
    }
    Ok(VmlinuxInfo { symbols, btf: btf.ok().map(Arc::new), build_id: elf_build_id(&map) })
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
