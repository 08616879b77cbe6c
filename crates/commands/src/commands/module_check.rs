//! Does an object file belong to the module loaded in the dump? `mod -s`
//! asks before loading symbols and DWARF from it: a wrong `.ko` would
//! give wrong symbols, source lines and types without any sign of it.
//!
//! The object's identity (its `.note.gnu.build-id`, and `.modinfo`'s
//! `name=`, `srcversion=` and `vermagic=`) is compared with the module in
//! memory: the build-id note at the address `sect_attrs` gives for that
//! section, `struct module`'s `srcversion`, and the kernel's release.

use krash_core::{Result, VirtualMemory};
use krash_program::modules::Module;
use krash_program::Kernel;

/// The name the kernel's ELF notes section has in modules.
const BUILD_ID_SECTION: &str = ".note.gnu.build-id";
const NT_GNU_BUILD_ID: u32 = 3;
/// A build id longer than this is not one (sha1 gives 20 bytes).
const MAX_BUILD_ID: usize = 64;
const MAX_SRCVERSION: usize = 64;

/// What an object file says it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ObjectIdentity {
    pub build_id: Option<String>,
    /// `.modinfo` `name=`.
    pub name: Option<String>,
    pub srcversion: Option<String>,
    /// The kernel release at the start of `.modinfo`'s `vermagic=`.
    pub release: Option<String>,
}

/// What the dump says the loaded module is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LoadedIdentity {
    pub build_id: Option<String>,
    pub srcversion: Option<String>,
    pub release: Option<String>,
}

/// The outcome of comparing the two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Same build id (or, without build ids, same srcversion).
    Matches,
    /// They differ: what differs and both values.
    Differs { what: &'static str, object: String, loaded: String },
    /// Nothing decisive could be compared; why.
    Unverified(String),
}

/// Reads `bytes` (an ELF module object) for its identity.
pub(crate) fn object_identity(bytes: &[u8]) -> Result<ObjectIdentity> {
    let build_id = krash_debuginfo::elf_section(bytes, BUILD_ID_SECTION)?.and_then(build_id_of_note);
    let modinfo = krash_debuginfo::elf_section(bytes, ".modinfo")?.unwrap_or_default();
    let field = |key: &str| {
        modinfo.split(|&b| b == 0).find_map(|entry| {
            let text = std::str::from_utf8(entry).ok()?;
            text.strip_prefix(key)?.strip_prefix('=').map(str::to_string)
        })
    };
    Ok(ObjectIdentity {
        build_id,
        name: field("name"),
        srcversion: field("srcversion"),
        release: field("vermagic").and_then(|v| v.split_whitespace().next().map(str::to_string)),
    })
}

/// The build id in an ELF note (`namesz`, `descsz`, `type`, "GNU\0", the id), as hex.
fn build_id_of_note(note: &[u8]) -> Option<String> {
    let word = |at: usize| note.get(at..at.checked_add(4)?)?.try_into().ok().map(u32::from_le_bytes);
    let (namesz, descsz, kind) = (word(0)? as usize, word(4)? as usize, word(8)?);
    if kind != NT_GNU_BUILD_ID || namesz != 4 || descsz == 0 || descsz > MAX_BUILD_ID {
        return None;
    }
    if note.get(12..16)? != b"GNU\0" {
        return None;
    }
    let desc = note.get(16..16usize.checked_add(descsz)?)?;
    Some(desc.iter().map(|b| format!("{b:02x}")).collect())
}

/// Reads the loaded module's identity from the dump; what cannot be read
/// is None.
pub(crate) fn loaded_identity(k: &Kernel, module: &Module) -> LoadedIdentity {
    let build_id = k.module_sections(module).ok().and_then(|sections| {
        let (_, addr) = sections.iter().find(|(name, _)| name == BUILD_ID_SECTION)?;
        // Header (12), "GNU\0" (4), then the id.
        let note = k.memory().read_vec(*addr, 16 + MAX_BUILD_ID).ok()?;
        build_id_of_note(&note)
    });
    let srcversion = k
        .read_field_u64(module.addr, "module", "srcversion")
        .ok()
        .filter(|&p| p != 0)
        .and_then(|p| k.memory().read_cstr(p, MAX_SRCVERSION).ok())
        .filter(|s| !s.is_empty());
    let release = k.utsname().ok().map(|u| u.release).filter(|r| !r.is_empty());
    LoadedIdentity { build_id, srcversion, release }
}

/// Compares an object with the module `name` loaded in the dump.
pub(crate) fn verdict(name: &str, object: &ObjectIdentity, loaded: &LoadedIdentity) -> Verdict {
    // A different module's object is wrong whatever else agrees.
    if let Some(object_name) = &object.name {
        if normalized(object_name) != normalized(name) {
            return Verdict::Differs { what: "module name", object: object_name.clone(), loaded: name.to_string() };
        }
    }
    if let (Some(o), Some(l)) = (&object.build_id, &loaded.build_id) {
        return if o == l {
            Verdict::Matches
        } else {
            Verdict::Differs { what: "build id", object: o.clone(), loaded: l.clone() }
        };
    }
    // Built for another kernel: its code and offsets cannot be this one's.
    if let (Some(o), Some(l)) = (&object.release, &loaded.release) {
        if o != l {
            return Verdict::Differs { what: "kernel release (vermagic)", object: o.clone(), loaded: l.clone() };
        }
    }
    if let (Some(o), Some(l)) = (&object.srcversion, &loaded.srcversion) {
        return if o == l {
            Verdict::Matches
        } else {
            Verdict::Differs { what: "srcversion", object: o.clone(), loaded: l.clone() }
        };
    }
    let missing = match (&object.build_id, &loaded.build_id) {
        (None, _) => "the object file has no build id",
        (_, None) => "the dump does not show the module's build id",
        _ => "no build id",
    };
    Verdict::Unverified(format!(
        "{missing} and no srcversion to compare: cannot tell whether it matches the loaded module"
    ))
}

/// Module names treat `-` and `_` alike.
fn normalized(name: &str) -> String {
    name.replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(id: &[u8]) -> Vec<u8> {
        let mut n = Vec::new();
        n.extend_from_slice(&4u32.to_le_bytes());
        n.extend_from_slice(&(id.len() as u32).to_le_bytes());
        n.extend_from_slice(&NT_GNU_BUILD_ID.to_le_bytes());
        n.extend_from_slice(b"GNU\0");
        n.extend_from_slice(id);
        n
    }

    #[test]
    fn notes_are_parsed_and_checked() {
        assert_eq!(build_id_of_note(&note(&[0xde, 0xad, 0x01])).as_deref(), Some("dead01"));
        let mut wrong_type = note(&[1, 2]);
        wrong_type[8] = 1;
        assert_eq!(build_id_of_note(&wrong_type), None);
        assert_eq!(build_id_of_note(&note(&[1, 2])[..17]), None, "truncated");
        assert_eq!(build_id_of_note(&note(&[0u8; 80])), None, "too long");
        assert_eq!(build_id_of_note(&[]), None);
    }

    fn object(build_id: Option<&str>, name: &str, srcversion: Option<&str>, release: &str) -> ObjectIdentity {
        ObjectIdentity {
            build_id: build_id.map(str::to_string),
            name: Some(name.to_string()),
            srcversion: srcversion.map(str::to_string),
            release: Some(release.to_string()),
        }
    }

    fn loaded(build_id: Option<&str>, srcversion: Option<&str>, release: &str) -> LoadedIdentity {
        LoadedIdentity {
            build_id: build_id.map(str::to_string),
            srcversion: srcversion.map(str::to_string),
            release: Some(release.to_string()),
        }
    }

    #[test]
    fn verdicts() {
        let r = "6.1.0-56-cloud-amd64";
        assert_eq!(verdict("m", &object(Some("aa"), "m", None, r), &loaded(Some("aa"), None, r)), Verdict::Matches);
        assert!(matches!(
            verdict("m", &object(Some("aa"), "m", None, r), &loaded(Some("bb"), None, r)),
            Verdict::Differs { what: "build id", .. }
        ));
        assert!(matches!(
            verdict("krash_scenarios", &object(Some("aa"), "af_key", None, r), &loaded(Some("aa"), None, r)),
            Verdict::Differs { what: "module name", .. }
        ));
        // `-` and `_` are the same in module names.
        assert_eq!(
            verdict("virtio_blk", &object(None, "virtio-blk", Some("S"), r), &loaded(None, Some("S"), r)),
            Verdict::Matches
        );
        assert!(matches!(
            verdict("m", &object(None, "m", None, "6.12.117+deb12-cloud-amd64"), &loaded(None, None, r)),
            Verdict::Differs { what: "kernel release (vermagic)", .. }
        ));
        assert!(matches!(
            verdict("m", &object(None, "m", Some("A"), r), &loaded(None, Some("B"), r)),
            Verdict::Differs { what: "srcversion", .. }
        ));
        assert!(matches!(
            verdict("m", &object(None, "m", None, r), &loaded(Some("aa"), None, r)),
            Verdict::Unverified(_)
        ));
    }
}
