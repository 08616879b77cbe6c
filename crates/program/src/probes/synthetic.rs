//! Hand-built types for testing probes without a kernel: a
//! [`TypeProvider`] whose structs, unions, enums and variables are spelled
//! out in code, so a test can describe "a kernel whose `struct slab` has
//! these members" in a few lines.

use krash_core::{Error, Result};
use krash_debuginfo::types::{Composite, Enumerator, IntKind, Member, Type, TypeId, TypeKind, TypeProvider, Variable};

/// A type provider built in code.
pub struct SyntheticTypes {
    types: Vec<Type>,
    variables: Vec<Variable>,
}

impl Default for SyntheticTypes {
    fn default() -> Self {
        Self::new()
    }
}

/// A member at a byte offset.
pub fn member(name: &str, ty: TypeId, byte_offset: u64) -> Member {
    Member { name: Some(name.to_string()), ty, bit_offset: byte_offset * 8, bitfield_size: None }
}

/// A bitfield member: `width` bits from bit `bit_offset` of the aggregate.
pub fn bitfield(name: &str, ty: TypeId, bit_offset: u64, width: u32) -> Member {
    Member { name: Some(name.to_string()), ty, bit_offset, bitfield_size: Some(width) }
}

/// An anonymous struct or union member at a byte offset.
pub fn anonymous(ty: TypeId, byte_offset: u64) -> Member {
    Member { name: None, ty, bit_offset: byte_offset * 8, bitfield_size: None }
}

impl SyntheticTypes {
    /// `unsigned int` (4 bytes).
    pub const UINT: TypeId = TypeId(1);
    /// `long unsigned int` (8 bytes).
    pub const ULONG: TypeId = TypeId(2);
    /// `void *`.
    pub const PTR: TypeId = TypeId(3);
    /// `char`.
    pub const CHAR: TypeId = TypeId(4);
    /// `short int` (2 bytes).
    pub const SHORT: TypeId = TypeId(5);

    pub fn new() -> Self {
        let int = |name: &str, size, signed, kind| Type::Int { name: name.into(), size, signed, kind };
        SyntheticTypes {
            types: vec![
                Type::Void,
                int("unsigned int", 4, false, IntKind::Plain),
                int("long unsigned int", 8, false, IntKind::Plain),
                Type::Pointer { to: TypeId::VOID },
                int("char", 1, true, IntKind::Char),
                int("short int", 2, true, IntKind::Plain),
            ],
            variables: Vec::new(),
        }
    }

    /// Adds any type; returns its id.
    pub fn add(&mut self, ty: Type) -> TypeId {
        self.types.push(ty);
        TypeId(self.types.len() as u64 - 1)
    }

    /// `struct name { members }` of `size` bytes (`name` empty: anonymous).
    pub fn structure(&mut self, name: &str, size: u64, members: Vec<Member>) -> TypeId {
        let name = (!name.is_empty()).then(|| name.to_string());
        self.add(Type::Struct(Composite { name, size, members }))
    }

    /// `union name { members }` of `size` bytes (`name` empty: anonymous).
    pub fn union(&mut self, name: &str, size: u64, members: Vec<Member>) -> TypeId {
        let name = (!name.is_empty()).then(|| name.to_string());
        self.add(Type::Union(Composite { name, size, members }))
    }

    /// `enum name { constants }` (4 bytes).
    pub fn enumeration(&mut self, name: &str, constants: &[(&str, i128)]) -> TypeId {
        let variants = constants.iter().map(|(n, v)| Enumerator { name: n.to_string(), value: *v }).collect();
        self.add(Type::Enum { name: Some(name.to_string()), size: 4, signed: false, variants })
    }

    /// `elem[len]`.
    pub fn array(&mut self, elem: TypeId, len: u64) -> TypeId {
        self.add(Type::Array { elem, len: Some(len) })
    }

    /// `T *`.
    pub fn pointer(&mut self, to: TypeId) -> TypeId {
        self.add(Type::Pointer { to })
    }

    /// A global variable of type `ty`.
    pub fn variable(&mut self, name: &str, ty: TypeId) {
        self.variables.push(Variable { name: name.to_string(), ty, section: None, section_offset: None });
    }
}

impl TypeProvider for SyntheticTypes {
    fn type_by_id(&self, id: TypeId) -> Result<Type> {
        usize::try_from(id.0)
            .ok()
            .and_then(|i| self.types.get(i))
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("type {}", id.0)))
    }

    fn find_types(&self, kind: TypeKind, name: &str) -> Result<Vec<TypeId>> {
        Ok(self
            .types
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                t.name() == Some(name)
                    && matches!(
                        (kind, t),
                        (TypeKind::Struct, Type::Struct(_))
                            | (TypeKind::Union, Type::Union(_))
                            | (TypeKind::Enum, Type::Enum { .. })
                            | (TypeKind::Typedef, Type::Typedef { .. })
                            | (TypeKind::Base, Type::Int { .. })
                    )
            })
            .map(|(i, _)| TypeId(i as u64))
            .collect())
    }

    fn find_variable(&self, name: &str) -> Result<Option<Variable>> {
        Ok(self.variables.iter().find(|v| v.name == name).cloned())
    }

    fn find_function(&self, _: &str) -> Result<Option<TypeId>> {
        Ok(None)
    }

    fn find_enumerator(&self, name: &str) -> Result<Option<(TypeId, i128)>> {
        for (i, t) in self.types.iter().enumerate() {
            if let Type::Enum { variants, .. } = t {
                if let Some(e) = variants.iter().find(|e| e.name == name) {
                    return Ok(Some((TypeId(i as u64), e.value)));
                }
            }
        }
        Ok(None)
    }
}
