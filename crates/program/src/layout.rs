//! Struct layouts as the kernel model needs them: member offsets and sizes
//! resolved once per (struct, member) and cached.
//!
//! The answers come from a chain of providers, asked in order:
//!
//! 1. **BTF** (`.BTF` of the vmlinux, or the dump's own BTF when no
//!    vmlinux is given): fast to load, every struct and union of the build.
//! 2. **DWARF** (`.debug_info` of the vmlinux), when the vmlinux has no BTF
//!    (kernels before 5.2 and distribution kernels built without
//!    CONFIG_DEBUG_INFO_BTF). BTF is pahole's translation of this same
//!    DWARF, so when BTF is loaded a struct it lacks is not looked for in
//!    DWARF again (that would only cost the DWARF name index's seconds);
//!    DWARF still answers for globals through the session's type arena.
//! 3. **VMCOREINFO** `OFFSET()`/`SIZE()` entries, for a struct no loaded
//!    type information describes (and for dumps with no types at all).
//!
//! A member a kernel lacks is an error for the one caller that needs it,
//! naming the member: the first provider that knows the struct is
//! authoritative about its members.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use krash_core::{Error, Result};
use krash_debuginfo::types::{Type, TypeId, TypeKind, TypeOps, TypeProvider};
use krash_dumpfile::VmcoreInfo;

/// Which producer the kernel model's types come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TypeSource {
    /// BTF (the vmlinux's `.BTF`, or BTF read from the dump).
    Btf,
    /// The vmlinux's DWARF, for a vmlinux without BTF.
    Dwarf,
    /// No type information: layouts come from VMCOREINFO alone.
    None,
}

impl TypeSource {
    /// How the banner names it.
    pub fn label(self) -> &'static str {
        match self {
            TypeSource::Btf => "BTF",
            TypeSource::Dwarf => "DWARF",
            TypeSource::None => "none",
        }
    }
}

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
    source: TypeSource,
    vmcoreinfo: Option<VmcoreInfo>,
    /// Resolved members by struct, then by member path: looked up with the
    /// caller's `&str`s, so the hot path (every field of every task `ps`
    /// reads) allocates nothing.
    fields: RwLock<HashMap<String, HashMap<String, Result<Field>>>>,
    /// Resolved struct sizes (every backtrace asks for `pt_regs`'s).
    sizes: RwLock<HashMap<String, Result<u64>>>,
}

impl Layouts {
    /// Layouts over `types` (produced by `source`; `None` for no types)
    /// with VMCOREINFO behind it.
    pub fn new(types: Option<Arc<dyn TypeProvider>>, source: TypeSource, vmcoreinfo: Option<VmcoreInfo>) -> Self {
        let source = if types.is_some() { source } else { TypeSource::None };
        Layouts { types, source, vmcoreinfo, fields: RwLock::new(HashMap::new()), sizes: RwLock::new(HashMap::new()) }
    }

    pub fn types(&self) -> Option<&Arc<dyn TypeProvider>> {
        self.types.as_ref()
    }

    /// Which producer [`types`](Self::types) is.
    pub fn type_source(&self) -> TypeSource {
        self.source
    }

    /// Offset of `path` (`"tasks"`, `"mm.pgd"`, `"se.on_rq"`) in `struct name`.
    pub fn field(&self, name: &str, path: &str) -> Result<Field> {
        if let Ok(cache) = self.fields.read() {
            if let Some(hit) = cache.get(name).and_then(|members| members.get(path)) {
                return hit.clone();
            }
        }
        let resolved = self.resolve_field(name, path);
        if let Ok(mut cache) = self.fields.write() {
            cache.entry(name.to_string()).or_default().insert(path.to_string(), resolved.clone());
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
        if let Ok(cache) = self.sizes.read() {
            if let Some(hit) = cache.get(name) {
                return hit.clone();
            }
        }
        let resolved = self.resolve_size(name);
        if let Ok(mut cache) = self.sizes.write() {
            cache.insert(name.to_string(), resolved.clone());
        }
        resolved
    }

    fn resolve_size(&self, name: &str) -> Result<u64> {
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
            match self.struct_id(types.as_ref(), name) {
                Ok(id) => return Self::member_field(types.as_ref(), id, name, path),
                // The types lack the struct: VMCOREINFO may still know it.
                Err(e) => {
                    if let Some(f) = self.vmcoreinfo_field(name, path) {
                        return Ok(f);
                    }
                    return Err(e);
                }
            }
        }
        self.vmcoreinfo_field(name, path).ok_or_else(|| {
            Error::MissingDebuginfo(format!(
                "offset of {name}.{path} unknown: no type information loaded and VMCOREINFO lacks it"
            ))
        })
    }

    fn vmcoreinfo_field(&self, name: &str, path: &str) -> Option<Field> {
        let offset = self.vmcoreinfo.as_ref()?.offset(&format!("{name}.{path}"))?;
        Some(Field { offset, size: None, bits: None })
    }

    fn member_field(types: &dyn TypeProvider, id: TypeId, name: &str, path: &str) -> Result<Field> {
        let loc = types
            .member_path(id, path)
            .map_err(|_| Error::MissingDebuginfo(format!("struct {name} has no member {path} in this kernel")))?;
        Ok(Field {
            offset: loc.byte_offset(),
            size: types.size_of(loc.ty).ok(),
            bits: loc.bitfield_size.map(|w| ((loc.bit_offset % 8) as u32, w)),
        })
    }

    /// The type of member `path` of `struct name`, through typedefs and
    /// qualifiers (`cpumask_var_t` is a pointer with CPUMASK_OFFSTACK and
    /// an array without); None without types that know it.
    pub fn member_type(&self, name: &str, path: &str) -> Option<Type> {
        let types = self.types.as_ref()?;
        let id = self.struct_id(types.as_ref(), name).ok()?;
        let loc = types.member_path(id, path).ok()?;
        types.resolve(loc.ty).ok().map(|(_, ty)| ty)
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
