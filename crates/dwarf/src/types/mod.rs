//! DWARF as a [`TypeProvider`] of the shared type model.
//!
//! Nothing is read when a [`DwarfTypes`] is made. The first name lookup
//! builds the name index (see [`index`]); a type is converted from its DIE
//! the first time its id is asked for and cached from then on.

mod convert;
mod index;
pub mod stored;

use std::sync::{Arc, Mutex, OnceLock};

use gimli::{AttributeValue, DebugInfoOffset, Reader as _, UnitOffset};
use hashbrown::HashMap;
use krash_core::{Error, Result};
use krash_debuginfo::{Type, TypeId, TypeKind, TypeProvider, Variable};

use crate::file::DwarfFile;
use crate::sections::AllocSection;
use convert::Die;
pub use index::IndexStats;
use index::NameIndex;

/// The types, global variables and functions a file's DWARF describes.
/// Type ids are DIE offsets in `.debug_info`.
pub struct DwarfTypes {
    file: Arc<DwarfFile>,
    /// Start offsets of every unit, sorted.
    units: OnceLock<Result<Vec<u64>>>,
    index: OnceLock<Result<NameIndex>>,
    cache: Mutex<HashMap<u64, Type>>,
    pointer_size: OnceLock<u64>,
}

/// A global variable's definition as DWARF places it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariablePlacement {
    /// The model's view: name, type and section.
    pub variable: Variable,
    /// The address of its DW_OP_addr location (section-relative for
    /// per-cpu variables, as in the ELF file); `None` for declarations.
    pub address: Option<u64>,
}

impl DwarfTypes {
    /// Wraps an opened file; reads nothing yet.
    pub fn new(file: Arc<DwarfFile>) -> Self {
        DwarfTypes {
            file,
            units: OnceLock::new(),
            index: OnceLock::new(),
            cache: Mutex::new(HashMap::new()),
            pointer_size: OnceLock::new(),
        }
    }

    /// Opens a vmlinux or `.debug` file for its types (see
    /// [`DwarfFile::open_with_bases`] for modules).
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Self> {
        Ok(Self::new(Arc::new(DwarfFile::open(path)?)))
    }

    /// The file the types come from.
    pub fn file(&self) -> &Arc<DwarfFile> {
        &self.file
    }

    /// Builds the name index now (it is otherwise built on the first name
    /// lookup) and reports what it took.
    pub fn index_stats(&self) -> Result<IndexStats> {
        Ok(self.index()?.stats)
    }

    fn index(&self) -> Result<&NameIndex> {
        self.index.get_or_init(|| self.stored_or_built_index()).as_ref().map_err(Clone::clone)
    }

    /// The index from the disk cache when this file's entry is there (see
    /// [`stored`]), else built and stored for the next session.
    fn stored_or_built_index(&self) -> Result<NameIndex> {
        let info_len = gimli::Section::reader(&self.file.dwarf.debug_info).len();
        let identity = if info_len >= stored::MIN_DEBUG_INFO { self.file.disk_identity() } else { None };
        let Some(identity) = identity else {
            return NameIndex::build(&self.file.dwarf);
        };
        let entry = stored::entry_name(&identity);
        let started = std::time::Instant::now();
        if let Some(bytes) = krash_core::disk_cache::read(&entry) {
            match stored::decode(&bytes, info_len as u64) {
                Some((of, mut index)) if of == identity => {
                    index.stats.elapsed = started.elapsed();
                    return Ok(index);
                }
                // Another file's entry under the same name, or damaged: rebuilt and replaced.
                _ => {}
            }
        }
        let index = NameIndex::build(&self.file.dwarf)?;
        krash_core::disk_cache::write(stored::ENTRY_KIND, &entry, &stored::encode(&index, &identity));
        Ok(index)
    }

    fn units(&self) -> Result<&[u64]> {
        self.units
            .get_or_init(|| {
                Ok(index::unit_headers(&self.file.dwarf)?
                    .iter()
                    .filter_map(|h| h.offset().as_debug_info_offset())
                    .map(|o| o.0 as u64)
                    .collect())
            })
            .as_ref()
            .map(Vec::as_slice)
            .map_err(Clone::clone)
    }

    /// The unit and unit offset of the DIE at section offset `offset`.
    fn locate(&self, offset: u64) -> Result<Die> {
        let units = self.units()?;
        let after = units.partition_point(|&start| start <= offset);
        let start = after
            .checked_sub(1)
            .and_then(|i| units.get(i))
            .copied()
            .ok_or_else(|| Error::NotFound(format!("DWARF type {offset:#x} is before the first unit")))?;
        let local = offset
            .checked_sub(start)
            .and_then(|local| usize::try_from(local).ok())
            .ok_or_else(|| Error::NotFound(format!("DWARF type {offset:#x} out of range")))?;
        let start =
            usize::try_from(start).map_err(|_| Error::NotFound(format!("DWARF unit {start:#x} out of range")))?;
        let cu = self.file.unit_at(DebugInfoOffset(start))?;
        Ok(Die { cu, offset: UnitOffset(local) })
    }

    fn cached(&self, id: u64) -> Option<Type> {
        self.lock_cache().get(&id).cloned()
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Type>> {
        // A panic elsewhere while holding the lock leaves the map intact.
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The definition of a global variable, with its address.
    pub fn find_variable_placement(&self, name: &str) -> Result<Option<VariablePlacement>> {
        let Some(offset) = self.index()?.variable(name) else {
            return Ok(None);
        };
        let die = self.locate(offset)?;
        let ty = self.type_via_origin(&die.cu, die.offset)?;
        let entry =
            die.cu.unit.entry(die.offset).map_err(|e| crate::sections::dwarf_error(die.cu.context(die.offset), e))?;
        let address = match entry.attr_value(gimli::DW_AT_location) {
            Ok(Some(AttributeValue::Exprloc(expr))) => static_address(&expr, die.cu.unit.header.address_size()),
            _ => None,
        };
        let section = address.and_then(|a| AllocSection::containing(self.file.alloc_sections(), a));
        let variable = Variable {
            name: name.to_string(),
            ty,
            section: section.map(|s| s.name.clone()),
            section_offset: section.zip(address).and_then(|(s, a)| a.checked_sub(s.address)),
        };
        Ok(Some(VariablePlacement { variable, address }))
    }
}

/// The address of a `DW_OP_addr a` location expression (nothing else).
fn static_address(expr: &gimli::Expression<crate::bytes::Reader>, address_size: u8) -> Option<u64> {
    let mut bytes = expr.0.clone();
    if bytes.read_u8().ok()? != gimli::DW_OP_addr.0 {
        return None;
    }
    let address = bytes.read_address(address_size).ok()?;
    bytes.is_empty().then_some(address)
}

impl TypeProvider for DwarfTypes {
    fn type_by_id(&self, id: TypeId) -> Result<Type> {
        if id == TypeId::VOID {
            return Ok(Type::Void);
        }
        if let Some(ty) = self.cached(id.0) {
            return Ok(ty);
        }
        let die = self.locate(id.0)?;
        let mut extra = Vec::new();
        let ty = self.convert(&die, &mut extra, 0)?;
        let mut cache = self.lock_cache();
        for (inner, inner_ty) in extra {
            cache.insert(inner.0, inner_ty);
        }
        cache.insert(id.0, ty.clone());
        Ok(ty)
    }

    fn find_types(&self, kind: TypeKind, name: &str) -> Result<Vec<TypeId>> {
        let lookup = match kind {
            TypeKind::Base => krash_debuginfo::dwarf_base_type_name(name),
            _ => std::borrow::Cow::Borrowed(name),
        };
        Ok(self.index()?.types(kind, &lookup).iter().map(|&o| TypeId(o)).collect())
    }

    fn find_variable(&self, name: &str) -> Result<Option<Variable>> {
        Ok(self.find_variable_placement(name)?.map(|p| p.variable))
    }

    fn type_names(&self, kind: TypeKind) -> Result<Vec<String>> {
        Ok(self.index()?.type_names(kind).map(str::to_string).collect())
    }

    fn find_function(&self, name: &str) -> Result<Option<TypeId>> {
        Ok(self.index()?.function(name).map(TypeId))
    }

    fn find_enumerator(&self, name: &str) -> Result<Option<(TypeId, i128)>> {
        let Some(offset) = self.index()?.enumerator(name) else {
            return Ok(None);
        };
        let id = TypeId(offset);
        match self.type_by_id(id)? {
            Type::Enum { variants, .. } => Ok(variants.into_iter().find(|v| v.name == name).map(|v| (id, v.value))),
            _ => Ok(None),
        }
    }

    fn pointer_size(&self) -> u64 {
        *self.pointer_size.get_or_init(|| {
            let mut headers = self.file.dwarf.debug_info.units();
            match headers.next() {
                Ok(Some(header)) => u64::from(header.address_size()),
                _ => 8,
            }
        })
    }
}
