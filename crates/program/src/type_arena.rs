//! The session's type arena: the debuginfo's types plus the types krash
//! derives (pointer-to-T, integer types for literals), the DWARF fallback
//! for globals BTF does not type, and the types of modules `mod -s` loaded.
//! One arena per session keeps derived type ids valid across commands.

use std::sync::{Arc, RwLock};

use krash_core::{Error, Result};
use krash_debuginfo::types::{
    dwarf_base_type_name, IntKind, NameMemo, Type, TypeId, TypeKind, TypeOps, TypeProvider, Variable,
};

/// Ids at or above this are types made up by krash (pointer-to-T, plain
/// integers) that the debuginfo did not spell out.
const SYNTHETIC_BASE: u64 = 1 << 62;

/// Bound on how many synthetic types one session may create.
const MAX_SYNTHETIC_TYPES: usize = 1 << 20;

/// The debuginfo's types plus the few derived types expressions need
/// (pointers to any type, integer types for literals). Implements
/// [`TypeProvider`], so every [`TypeOps`] helper works on it.
pub struct TypeArena {
    base: Option<Arc<dyn TypeProvider>>,
    extra: RwLock<Vec<Type>>,
    /// Types of globals the base lacks (BTF has no types for non-per-cpu
    /// variables; DWARF has): their ids carry [`FALLBACK_TAG`].
    fallback: std::sync::OnceLock<Arc<dyn TypeProvider>>,
    /// Types of modules whose debuginfo `mod -s` loaded, by module name;
    /// ids carry [`MODULE_TAG`] and the module's index.
    modules: RwLock<Vec<(String, Arc<dyn TypeProvider>)>>,
    /// Types already decoded, by id. A provider decodes a struct's every
    /// member (names and all) on each look, and DWARF a base type's DIE,
    /// and printing a member of each of 20 000 tasks, or a million list
    /// entries, looks at each type several times for each.
    decoded: RwLock<hashbrown::HashMap<u64, Arc<Type>>>,
    /// Names of types already rendered (see [`TypeProvider::name_memo`]).
    names: NameMemo,
}

/// Bound on [`TypeArena::decoded`]: past it the cache starts again.
const MAX_DECODED: usize = 4096;

/// Marks ids that belong to the fallback provider.
const FALLBACK_TAG: u64 = 1 << 61;
/// Marks ids of a module's types; bits 48..60 hold the module's index.
const MODULE_TAG: u64 = 1 << 60;
const MODULE_INDEX_SHIFT: u32 = 48;
const MODULE_INDEX_MASK: u64 = 0xfff;
/// Ids a provider may use under a tag (DWARF offsets, BTF ids).
const UNTAGGED_ID_MASK: u64 = (1 << MODULE_INDEX_SHIFT) - 1;

impl TypeArena {
    pub fn new(base: Option<Arc<dyn TypeProvider>>) -> Self {
        TypeArena {
            base,
            extra: RwLock::new(Vec::new()),
            fallback: std::sync::OnceLock::new(),
            modules: RwLock::new(Vec::new()),
            decoded: RwLock::new(hashbrown::HashMap::new()),
            names: NameMemo::default(),
        }
    }

    /// Forgets the decoded aggregates: the providers behind their ids changed.
    fn forget_decoded(&self) {
        if let Ok(mut decoded) = self.decoded.write() {
            decoded.clear();
        }
        self.names.clear();
    }

    /// Makes `module`'s types (its DWARF, once `mod -s` loaded it) answer
    /// for names the kernel's types lack; a reload replaces the earlier one.
    pub fn add_module_types(&self, module: &str, provider: Arc<dyn TypeProvider>) -> Result<()> {
        let mut modules = self.modules.write().map_err(|_| Error::bad_data("type arena", "lock poisoned"))?;
        if let Some(slot) = modules.iter_mut().find(|(name, _)| name == module) {
            slot.1 = provider;
        } else if (modules.len() as u64) < MODULE_INDEX_MASK {
            modules.push((module.to_string(), provider));
        } else {
            return Err(Error::Unsupported("too many modules with loaded types".into()));
        }
        drop(modules);
        self.forget_decoded();
        Ok(())
    }

    fn module_providers(&self) -> Vec<(u64, Arc<dyn TypeProvider>)> {
        self.modules
            .read()
            .map(|m| {
                m.iter()
                    .enumerate()
                    .map(|(i, (_, p))| (MODULE_TAG | ((i as u64) << MODULE_INDEX_SHIFT), Arc::clone(p)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first answer a module's types give for `ask`, its ids tagged.
    fn ask_modules<T>(
        &self,
        ask: impl Fn(&dyn TypeProvider) -> Result<Option<T>>,
        tag_answer: impl Fn(T, u64) -> Option<T>,
    ) -> Result<Option<T>> {
        for (tag, provider) in self.module_providers() {
            if let Some(found) = ask(provider.as_ref())?.and_then(|t| tag_answer(t, tag)) {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Sets the provider asked for globals the base does not type (once).
    pub fn set_fallback(&self, provider: Arc<dyn TypeProvider>) {
        let _ = self.fallback.set(provider);
        self.forget_decoded();
    }

    /// True once a fallback provider is set.
    pub fn has_fallback(&self) -> bool {
        self.fallback.get().is_some()
    }

    /// True when real debuginfo types are loaded.
    pub fn has_debuginfo(&self) -> bool {
        self.base.is_some()
    }

    /// The id of `ty`, creating a synthetic type when it is new.
    pub fn intern(&self, ty: Type) -> Result<TypeId> {
        if let Ok(extra) = self.extra.read() {
            if let Some(pos) = extra.iter().position(|t| *t == ty) {
                return Ok(TypeId(SYNTHETIC_BASE + pos as u64));
            }
        }
        let mut extra = self.extra.write().map_err(|_| Error::bad_data("type arena", "lock poisoned"))?;
        if extra.len() >= MAX_SYNTHETIC_TYPES {
            return Err(Error::Unsupported("too many derived types in this session".into()));
        }
        extra.push(ty);
        Ok(TypeId(SYNTHETIC_BASE + (extra.len() - 1) as u64))
    }

    /// `T *` for `T` = `to`.
    pub fn pointer_to(&self, to: TypeId) -> Result<TypeId> {
        self.intern(Type::Pointer { to })
    }

    /// An integer type by its C spelling (`int`, `unsigned long`, `char`):
    /// the debuginfo's own when it has one, else a synthetic one.
    pub fn int_type(&self, spelling: &str) -> Result<TypeId> {
        let canonical = dwarf_base_type_name(spelling).into_owned();
        if let Ok(id) = self.find_type(TypeKind::Base, &canonical) {
            return Ok(id);
        }
        let (size, signed, kind) = match canonical.as_str() {
            "char" => (1, true, IntKind::Char),
            "signed char" => (1, true, IntKind::Char),
            "unsigned char" => (1, false, IntKind::Char),
            "_Bool" => (1, false, IntKind::Bool),
            "short int" => (2, true, IntKind::Plain),
            "short unsigned int" => (2, false, IntKind::Plain),
            "int" => (4, true, IntKind::Plain),
            "unsigned int" => (4, false, IntKind::Plain),
            "long int" | "long long int" => (8, true, IntKind::Plain),
            "long unsigned int" | "long long unsigned int" => (8, false, IntKind::Plain),
            other => return Err(Error::MissingDebuginfo(format!("no type named {other}"))),
        };
        self.intern(Type::Int { name: canonical, size, signed, kind })
    }
}

impl TypeArena {
    /// A type from the provider its id belongs to, decoded afresh.
    fn decode(&self, id: TypeId) -> Result<Type> {
        if id.0 >= SYNTHETIC_BASE {
            let index = (id.0 - SYNTHETIC_BASE) as usize;
            let extra = self.extra.read().map_err(|_| Error::bad_data("type arena", "lock poisoned"))?;
            return extra.get(index).cloned().ok_or_else(|| Error::NotFound(format!("type {}", id.0)));
        }
        if id.0 & FALLBACK_TAG != 0 {
            let fallback = self.fallback.get().ok_or_else(|| Error::NotFound(format!("type {}", id.0)))?;
            return Ok(retag(fallback.type_by_id(TypeId(id.0 & !FALLBACK_TAG))?, FALLBACK_TAG));
        }
        if id.0 & MODULE_TAG != 0 {
            let index = (id.0 >> MODULE_INDEX_SHIFT) & MODULE_INDEX_MASK;
            let modules = self.modules.read().map_err(|_| Error::bad_data("type arena", "lock poisoned"))?;
            let (_, provider) = modules.get(index as usize).ok_or_else(|| Error::NotFound(format!("type {}", id.0)))?;
            let tag = id.0 & !UNTAGGED_ID_MASK;
            return Ok(retag(provider.type_by_id(TypeId(id.0 & UNTAGGED_ID_MASK))?, tag));
        }
        match &self.base {
            Some(base) => base.type_by_id(id),
            None if id == TypeId::VOID => Ok(Type::Void),
            None => Err(no_types()),
        }
    }
}

impl TypeProvider for TypeArena {
    fn type_by_id(&self, id: TypeId) -> Result<Type> {
        self.shared_type(id).map(|ty| (*ty).clone())
    }
    fn shared_type(&self, id: TypeId) -> Result<Arc<Type>> {
        if id.0 < SYNTHETIC_BASE {
            if let Some(ty) = self.decoded.read().ok().and_then(|d| d.get(&id.0).cloned()) {
                return Ok(ty);
            }
        }
        let ty = Arc::new(self.decode(id)?);
        if id.0 < SYNTHETIC_BASE {
            if let Ok(mut decoded) = self.decoded.write() {
                if decoded.len() >= MAX_DECODED {
                    decoded.clear();
                }
                decoded.insert(id.0, Arc::clone(&ty));
            }
        }
        Ok(ty)
    }
    fn find_types(&self, kind: TypeKind, name: &str) -> Result<Vec<TypeId>> {
        let found = match &self.base {
            Some(base) => base.find_types(kind, name)?,
            None => Vec::new(),
        };
        if !found.is_empty() {
            return Ok(found);
        }
        let from_modules = self.ask_modules(
            |p| p.find_types(kind, name).map(|ids| (!ids.is_empty()).then_some(ids)),
            |ids, t| ids.into_iter().map(|id| tag_with(id, t)).collect::<Option<Vec<_>>>(),
        )?;
        Ok(from_modules.unwrap_or_default())
    }
    fn find_variable(&self, name: &str) -> Result<Option<Variable>> {
        if let Some(v) = match &self.base {
            Some(base) => base.find_variable(name)?,
            None => None,
        } {
            return Ok(Some(v));
        }
        if let Some(f) = self.fallback.get() {
            if let Some(v) = f.find_variable(name)? {
                return Ok(Some(Variable { ty: tag(v.ty), ..v }));
            }
        }
        self.ask_modules(|p| p.find_variable(name), |v, t| Some(Variable { ty: tag_with(v.ty, t)?, ..v }))
    }
    fn find_function(&self, name: &str) -> Result<Option<TypeId>> {
        if let Some(id) = match &self.base {
            Some(base) => base.find_function(name)?,
            None => None,
        } {
            return Ok(Some(id));
        }
        if let Some(f) = self.fallback.get() {
            if let Some(id) = f.find_function(name)? {
                return Ok(Some(tag(id)));
            }
        }
        self.ask_modules(|p| p.find_function(name), tag_with)
    }
    fn find_enumerator(&self, name: &str) -> Result<Option<(TypeId, i128)>> {
        if let Some(found) = match &self.base {
            Some(base) => base.find_enumerator(name)?,
            None => None,
        } {
            return Ok(Some(found));
        }
        self.ask_modules(|p| p.find_enumerator(name), |(id, v), t| Some((tag_with(id, t)?, v)))
    }
    fn pointer_size(&self) -> u64 {
        8
    }
    fn name_memo(&self) -> Option<&NameMemo> {
        Some(&self.names)
    }
    fn type_names(&self, kind: TypeKind) -> Result<Vec<String>> {
        let mut names = match &self.base {
            Some(base) => base.type_names(kind)?,
            None => Vec::new(),
        };
        for (_, provider) in self.module_providers() {
            names.extend(provider.type_names(kind)?);
        }
        Ok(names)
    }
}

fn tag(id: TypeId) -> TypeId {
    tag_with(id, FALLBACK_TAG).unwrap_or(id)
}

/// `id` of the provider marked `t`; None for ids too large to carry a tag.
fn tag_with(id: TypeId, t: u64) -> Option<TypeId> {
    if id == TypeId::VOID {
        Some(id)
    } else if id.0 & !UNTAGGED_ID_MASK != 0 {
        None
    } else {
        Some(TypeId(id.0 | t))
    }
}

/// A provider's type with every id it mentions tagged as that provider's.
fn retag(ty: Type, t: u64) -> Type {
    use krash_debuginfo::types::{Member, Param, SectionVar};
    let tag = |id: TypeId| tag_with(id, t).unwrap_or(TypeId::VOID);
    match ty {
        Type::Pointer { to } => Type::Pointer { to: tag(to) },
        Type::Array { elem, len } => Type::Array { elem: tag(elem), len },
        Type::Struct(mut c) => {
            c.members = c.members.into_iter().map(|m| Member { ty: tag(m.ty), ..m }).collect();
            Type::Struct(c)
        }
        Type::Union(mut c) => {
            c.members = c.members.into_iter().map(|m| Member { ty: tag(m.ty), ..m }).collect();
            Type::Union(c)
        }
        Type::Typedef { name, to } => Type::Typedef { name, to: tag(to) },
        Type::Qualified { qualifier, to } => Type::Qualified { qualifier, to: tag(to) },
        Type::Function { ret, params, variadic } => Type::Function {
            ret: tag(ret),
            params: params.into_iter().map(|p| Param { ty: tag(p.ty), ..p }).collect(),
            variadic,
        },
        Type::FunctionDecl { name, proto, linkage } => Type::FunctionDecl { name, proto: tag(proto), linkage },
        Type::Var { name, ty, linkage } => Type::Var { name, ty: tag(ty), linkage },
        Type::Datasec { name, size, vars } => {
            Type::Datasec { name, size, vars: vars.into_iter().map(|v| SectionVar { var: tag(v.var), ..v }).collect() }
        }
        other => other,
    }
}

fn no_types() -> Error {
    Error::MissingDebuginfo("no type information loaded (the vmlinux has no BTF or DWARF)".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use krash_debuginfo::type_table::TypeTable;

    fn module_types(member: &str) -> Arc<dyn TypeProvider> {
        let mut t = TypeTable::new();
        let int = t.int("int", 4, true);
        t.structure("krash_widget", 8, &[(member, int, 0)]);
        Arc::new(t)
    }

    fn first_member(arena: &TypeArena, id: TypeId) -> String {
        match arena.type_by_id(id).unwrap() {
            Type::Struct(c) => c.members[0].name.clone().unwrap_or_default(),
            other => panic!("not a struct: {other:?}"),
        }
    }

    #[test]
    fn a_decoded_struct_is_kept_until_its_module_is_loaded_again() {
        let arena = TypeArena::new(None);
        arena.add_module_types("krash_widget", module_types("generation")).unwrap();
        let id = arena.find_type(TypeKind::Struct, "krash_widget").unwrap();
        assert_eq!(first_member(&arena, id), "generation");
        // Twice: the second from the cache, the same.
        assert_eq!(first_member(&arena, id), "generation");
        // `mod -s` again with other debuginfo: the same id now means the new struct.
        arena.add_module_types("krash_widget", module_types("serial")).unwrap();
        assert_eq!(first_member(&arena, id), "serial");
    }
}
