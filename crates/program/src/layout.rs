//! Struct layouts as the kernel model needs them: member offsets and sizes
//! resolved once per (struct, member) and cached. Types (BTF or DWARF) are
//! asked first; the dump's VMCOREINFO `OFFSET()`/`SIZE()` entries answer
//! when no type information is loaded. A member a kernel lacks is an error
//! for the one caller that needs it, naming the member.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use krash_core::{Error, Result};
use krash_debuginfo::types::{Type, TypeId, TypeKind, TypeOps, TypeProvider};
use krash_dumpfile::VmcoreInfo;

/// Location of a member inside its struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub offset: u64,
    /// Size in bytes of the member's type, when known.
    pub size: Option<u64>,
    /// Bit position and width for bitfields.
    pub bits: Option<(u32, u32)>,
}

/// Resolves and caches member offsets and struct sizes.
pub struct Layouts {
    types: Option<Arc<dyn TypeProvider>>,
    vmcoreinfo: Option<VmcoreInfo>,
    fields: RwLock<HashMap<(String, String), Result<Field>>>,
}

impl Layouts {
    pub fn new(types: Option<Arc<dyn TypeProvider>>, vmcoreinfo: Option<VmcoreInfo>) -> Self {
        Layouts { types, vmcoreinfo, fields: RwLock::new(HashMap::new()) }
    }

    pub fn types(&self) -> Option<&Arc<dyn TypeProvider>> {
        self.types.as_ref()
    }

    /// Offset of `path` (`"tasks"`, `"mm.pgd"`, `"se.on_rq"`) in `struct name`.
    pub fn field(&self, name: &str, path: &str) -> Result<Field> {
        let key = (name.to_string(), path.to_string());
        if let Ok(cache) = self.fields.read() {
            if let Some(hit) = cache.get(&key) {
                return hit.clone();
            }
        }
        let resolved = self.resolve_field(name, path);
        if let Ok(mut cache) = self.fields.write() {
            cache.insert(key, resolved.clone());
        }
        resolved
    }

    /// Byte offset of a member; the common case.
    pub fn offset(&self, name: &str, path: &str) -> Result<u64> {
        self.field(name, path).map(|f| f.offset)
    }

    /// True if the struct has that member (for kernels that renamed one).
    pub fn has_field(&self, name: &str, path: &str) -> bool {
        self.field(name, path).is_ok()
    }

    /// `sizeof(struct name)`.
    pub fn size_of(&self, name: &str) -> Result<u64> {
        if let Some(types) = &self.types {
            if let Ok(id) = self.struct_id(types.as_ref(), name) {
                return types.size_of(id);
            }
        }
        self.vmcoreinfo
            .as_ref()
            .and_then(|v| v.size(name))
            .ok_or_else(|| Error::MissingDebuginfo(format!("no type information for struct {name}")))
    }

    fn struct_id(&self, types: &dyn TypeProvider, name: &str) -> Result<TypeId> {
        types.find_type(TypeKind::Struct, name).or_else(|_| types.find_type(TypeKind::Union, name))
    }

    fn resolve_field(&self, name: &str, path: &str) -> Result<Field> {
        if let Some(types) = &self.types {
            let id = self.struct_id(types.as_ref(), name)?;
            let loc = types
                .member_path(id, path)
                .map_err(|_| Error::MissingDebuginfo(format!("struct {name} has no member {path} in this kernel")))?;
            let size = types.size_of(loc.ty).ok();
            return Ok(Field {
                offset: loc.byte_offset(),
                size,
                bits: loc.bitfield_size.map(|w| ((loc.bit_offset % 8) as u32, w)),
            });
        }
        let vmcoreinfo_key = format!("{name}.{path}");
        match self.vmcoreinfo.as_ref().and_then(|v| v.offset(&vmcoreinfo_key)) {
            Some(offset) => Ok(Field { offset, size: None, bits: None }),
            None => Err(Error::MissingDebuginfo(format!(
                "offset of {name}.{path} unknown: no type information loaded and VMCOREINFO lacks it"
            ))),
        }
    }

    /// Offset of `path` inside global variable `var` (for variables whose
    /// type is anonymous, like `tk_core`).
    pub fn variable_field(&self, var: &str, path: &str) -> Result<Field> {
        let types =
            self.types.as_ref().ok_or_else(|| Error::MissingDebuginfo(format!("no type information for {var}")))?;
        let v = types
            .find_variable(var)?
            .ok_or_else(|| Error::MissingDebuginfo(format!("no type information for variable {var}")))?;
        let (id, _) = types.resolve(v.ty)?;
        let loc = types
            .member_path(id, path)
            .map_err(|_| Error::MissingDebuginfo(format!("{var} has no member {path} in this kernel")))?;
        Ok(Field {
            offset: loc.byte_offset(),
            size: types.size_of(loc.ty).ok(),
            bits: loc.bitfield_size.map(|w| ((loc.bit_offset % 8) as u32, w)),
        })
    }

    /// The type of a global variable, when types are loaded.
    pub fn variable_type(&self, name: &str) -> Option<(TypeId, Type)> {
        let types = self.types.as_ref()?;
        let var = types.find_variable(name).ok()??;
        let ty = types.type_by_id(var.ty).ok()?;
        Some((var.ty, ty))
    }
}
