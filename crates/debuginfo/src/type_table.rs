//! A type provider built in memory, for tests and fuzzing of the layers
//! above (the kernel model over synthetic types) and anywhere types are
//! made rather than read: ids are indexes into the table, id 0 is `void`.

use krash_core::{Error, Result};

use crate::types::{Composite, IntKind, Member, Type, TypeId, TypeKind, TypeProvider, Variable};

/// Types, global variables and enum constants added one by one.
#[derive(Debug, Clone)]
pub struct TypeTable {
    types: Vec<Type>,
    variables: Vec<Variable>,
}

impl Default for TypeTable {
    fn default() -> Self {
        TypeTable { types: vec![Type::Void], variables: Vec::new() }
    }
}

impl TypeTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a type; its id is its position.
    pub fn add(&mut self, ty: Type) -> TypeId {
        let id = TypeId(self.types.len() as u64);
        self.types.push(ty);
        id
    }

    /// An integer base type spelled as the compiler spells it
    /// (`unsigned int`, `long int`).
    pub fn int(&mut self, name: &str, size: u64, signed: bool) -> TypeId {
        let kind = if name.contains("char") { IntKind::Char } else { IntKind::Plain };
        self.add(Type::Int { name: name.into(), size, signed, kind })
    }

    pub fn pointer(&mut self, to: TypeId) -> TypeId {
        self.add(Type::Pointer { to })
    }

    pub fn array(&mut self, elem: TypeId, len: u64) -> TypeId {
        self.add(Type::Array { elem, len: Some(len) })
    }

    /// `struct name` of `size` bytes with members at byte offsets.
    pub fn structure(&mut self, name: &str, size: u64, members: &[(&str, TypeId, u64)]) -> TypeId {
        let members = members
            .iter()
            .map(|&(name, ty, offset)| Member {
                name: Some(name.into()),
                ty,
                bit_offset: offset.saturating_mul(8),
                bitfield_size: None,
            })
            .collect();
        self.add(Type::Struct(Composite { name: Some(name.into()), size, members }))
    }

    /// A global variable of type `ty` (not per-cpu).
    pub fn variable(&mut self, name: &str, ty: TypeId) {
        self.variables.push(Variable { name: name.into(), ty, section: Some(".data".into()), section_offset: None });
    }
}

impl TypeProvider for TypeTable {
    fn type_by_id(&self, id: TypeId) -> Result<Type> {
        usize::try_from(id.0)
            .ok()
            .and_then(|i| self.types.get(i))
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("type id {} is not in the table", id.0)))
    }

    fn find_types(&self, kind: TypeKind, name: &str) -> Result<Vec<TypeId>> {
        let found = self
            .types
            .iter()
            .enumerate()
            .filter(|(_, t)| t.name() == Some(name) && kind_of(t) == Some(kind))
            .map(|(i, _)| TypeId(i as u64))
            .collect();
        Ok(found)
    }

    fn find_variable(&self, name: &str) -> Result<Option<Variable>> {
        Ok(self.variables.iter().find(|v| v.name == name).cloned())
    }

    fn find_function(&self, _name: &str) -> Result<Option<TypeId>> {
        Ok(None)
    }

    fn find_enumerator(&self, name: &str) -> Result<Option<(TypeId, i128)>> {
        for (i, t) in self.types.iter().enumerate() {
            if let Type::Enum { variants, .. } = t {
                if let Some(v) = variants.iter().find(|v| v.name == name) {
                    return Ok(Some((TypeId(i as u64), v.value)));
                }
            }
        }
        Ok(None)
    }
}

fn kind_of(t: &Type) -> Option<TypeKind> {
    match t {
        Type::Struct(_) => Some(TypeKind::Struct),
        Type::Union(_) => Some(TypeKind::Union),
        Type::Enum { .. } => Some(TypeKind::Enum),
        Type::Typedef { .. } => Some(TypeKind::Typedef),
        Type::Int { .. } | Type::Float { .. } => Some(TypeKind::Base),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::TypeOps;

    #[test]
    fn structs_members_and_variables_resolve() {
        let mut t = TypeTable::new();
        let ulong = t.int("long unsigned int", 8, false);
        let node = t.structure("node", 16, &[("next", ulong, 0), ("value", ulong, 8)]);
        t.variable("head", node);
        assert_eq!(t.find_type(TypeKind::Struct, "node").unwrap(), node);
        assert_eq!(t.member_path(node, "value").unwrap().byte_offset(), 8);
        assert_eq!(t.size_of(node).unwrap(), 16);
        assert_eq!(t.find_variable("head").unwrap().map(|v| v.ty), Some(node));
        assert!(t.type_by_id(TypeId(99)).is_err());
    }
}
