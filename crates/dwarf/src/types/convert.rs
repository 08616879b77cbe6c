//! One DIE (and its children) into one [`Type`] of the shared model.
//!
//! Type ids are `.debug_info` section offsets of DIEs. A multi-dimensional
//! array `int a[2][3]` is one DW_TAG_array_type with two subrange children;
//! the model nests arrays, so the inner `int [3]` gets the id of the second
//! subrange DIE, and its `Type` is produced (and cached) with the outer one.

use std::sync::Arc;

use gimli::{AttributeValue, DebuggingInformationEntry, Reader as _, UnitOffset};
use krash_core::{Error, Result};
use krash_debuginfo::{Composite, Enumerator, IntKind, Linkage, Member, Param, Qualifier, Type, TypeId, TypeKind};

use crate::bytes::Reader;
use crate::sections::dwarf_error;
use crate::units::CompUnit;

use super::DwarfTypes;

type Entry<'a, 'u> = DebuggingInformationEntry<'a, 'u, Reader>;

/// Children read per DIE at most (members, enumerators, parameters,
/// dimensions), so a corrupt tree cannot make us allocate without bound.
const MAX_CHILDREN: usize = 1 << 16;

/// A located DIE: its unit and unit-relative offset.
pub(super) struct Die {
    pub cu: Arc<CompUnit>,
    pub offset: UnitOffset,
}

impl Die {
    pub fn global(&self) -> u64 {
        (self.cu.offset.0 as u64).saturating_add(self.offset.0 as u64)
    }

    fn context(&self) -> String {
        self.cu.context(self.offset)
    }
}

impl DwarfTypes {
    /// Converts the DIE at `die` into the model. `extra` receives types
    /// produced along the way under their own ids (inner array dimensions).
    pub(super) fn convert(&self, die: &Die, extra: &mut Vec<(TypeId, Type)>, depth: usize) -> Result<Type> {
        let cu = &die.cu;
        let entry = cu.unit.entry(die.offset).map_err(|e| dwarf_error(die.context(), e))?;
        let tag = entry.tag();
        let to = || self.type_attr(cu, &entry);
        Ok(match tag {
            gimli::DW_TAG_base_type => self.base_type(cu, &entry)?,
            gimli::DW_TAG_unspecified_type => Type::Void,
            gimli::DW_TAG_pointer_type | gimli::DW_TAG_reference_type | gimli::DW_TAG_rvalue_reference_type => {
                Type::Pointer { to: to()? }
            }
            gimli::DW_TAG_const_type => Type::Qualified { qualifier: Qualifier::Const, to: to()? },
            gimli::DW_TAG_volatile_type => Type::Qualified { qualifier: Qualifier::Volatile, to: to()? },
            gimli::DW_TAG_restrict_type => Type::Qualified { qualifier: Qualifier::Restrict, to: to()? },
            gimli::DW_TAG_atomic_type => Type::Qualified { qualifier: Qualifier::Atomic, to: to()? },
            gimli::DW_TAG_typedef => Type::Typedef { name: self.name(cu, &entry)?.unwrap_or_default(), to: to()? },
            gimli::DW_TAG_structure_type | gimli::DW_TAG_union_type | gimli::DW_TAG_class_type => {
                let kind = if tag == gimli::DW_TAG_union_type { TypeKind::Union } else { TypeKind::Struct };
                if let Some(resolved) = self.declaration_target(die, &entry, kind, extra, depth)? {
                    return Ok(resolved);
                }
                let body = self.composite(die, &entry)?;
                if kind == TypeKind::Union {
                    Type::Union(body)
                } else {
                    Type::Struct(body)
                }
            }
            gimli::DW_TAG_enumeration_type => {
                if let Some(resolved) = self.declaration_target(die, &entry, TypeKind::Enum, extra, depth)? {
                    return Ok(resolved);
                }
                self.enumeration(die, &entry)?
            }
            gimli::DW_TAG_array_type => self.array(die, &entry, extra)?,
            gimli::DW_TAG_subroutine_type | gimli::DW_TAG_subprogram => self.function(die, &entry)?,
            gimli::DW_TAG_variable => Type::Var {
                name: self.name(cu, &entry)?.unwrap_or_default(),
                ty: to()?,
                linkage: if flag(&entry, gimli::DW_AT_external) { Linkage::Global } else { Linkage::Static },
            },
            gimli::DW_TAG_subrange_type => {
                return Err(Error::NotFound(format!(
                    "DWARF type {:#x}: an array dimension is known only through its array",
                    die.global()
                )))
            }
            other => {
                return Err(Error::NotFound(format!("DIE at {:#x} is a {other}, not a type", die.global())));
            }
        })
    }

    /// A struct/union/enum declaration stands for the definition of the
    /// same name elsewhere in the file, when there is one.
    fn declaration_target(
        &self,
        die: &Die,
        entry: &Entry<'_, '_>,
        kind: TypeKind,
        extra: &mut Vec<(TypeId, Type)>,
        depth: usize,
    ) -> Result<Option<Type>> {
        if !flag(entry, gimli::DW_AT_declaration) {
            return Ok(None);
        }
        let name = self.name(&die.cu, entry)?.unwrap_or_default();
        let index = self.index()?;
        let definition = index.types(kind, &name).iter().copied().find(|&o| o != die.global());
        if let Some(offset) = definition {
            if depth < MAX_DECLARATION_HOPS {
                let target = self.locate(offset)?;
                // depth < MAX_DECLARATION_HOPS, checked just above.
                let resolved = self.convert(&target, extra, depth.saturating_add(1))?;
                if !matches!(resolved, Type::Forward { .. }) {
                    return Ok(Some(resolved));
                }
            }
        }
        Ok(Some(Type::Forward { kind, name }))
    }

    fn base_type(&self, cu: &CompUnit, entry: &Entry<'_, '_>) -> Result<Type> {
        let name = self.name(cu, entry)?.unwrap_or_default();
        let size = udata(entry, gimli::DW_AT_byte_size).unwrap_or(0);
        let encoding = match entry.attr_value(gimli::DW_AT_encoding) {
            Ok(Some(AttributeValue::Encoding(e))) => e,
            _ => gimli::DW_ATE_signed,
        };
        Ok(match encoding {
            gimli::DW_ATE_float | gimli::DW_ATE_complex_float | gimli::DW_ATE_decimal_float => {
                Type::Float { name, size }
            }
            gimli::DW_ATE_boolean => Type::Int { name, size, signed: false, kind: IntKind::Bool },
            _ => {
                let signed = matches!(encoding, gimli::DW_ATE_signed | gimli::DW_ATE_signed_char);
                let kind = if matches!(encoding, gimli::DW_ATE_signed_char | gimli::DW_ATE_unsigned_char)
                    || name.contains("char")
                {
                    IntKind::Char
                } else {
                    IntKind::Plain
                };
                Type::Int { name, size, signed, kind }
            }
        })
    }

    fn composite(&self, die: &Die, entry: &Entry<'_, '_>) -> Result<Composite> {
        let cu = &die.cu;
        let name = self.name(cu, entry)?;
        let size = udata(entry, gimli::DW_AT_byte_size).unwrap_or(0);
        let mut members = Vec::new();
        self.for_children(die, |child| {
            if child.tag() != gimli::DW_TAG_member {
                return Ok(());
            }
            let ty = self.type_attr(cu, child)?;
            let (bit_offset, bitfield_size) = self.member_bits(die, child, ty)?;
            members.push(Member { name: self.name(cu, child)?, ty, bit_offset, bitfield_size });
            Ok(())
        })?;
        Ok(Composite { name, size, members })
    }

    /// Where a member starts, in bits, and its width if it is a bitfield.
    /// DWARF 4+ gives DW_AT_data_bit_offset; older producers give a byte
    /// location plus DW_AT_bit_offset counted from the most significant
    /// bit of a storage unit of DW_AT_byte_size bytes.
    fn member_bits(&self, die: &Die, child: &Entry<'_, '_>, ty: TypeId) -> Result<(u64, Option<u32>)> {
        let bad = |what: &str| Error::bad_data(die.cu.context(child.offset()), format!("member {what}"));
        let bit_size = udata(child, gimli::DW_AT_bit_size)
            .map(|b| u32::try_from(b).map_err(|_| bad("bit size too large")))
            .transpose()?;
        if let Some(bits) = udata(child, gimli::DW_AT_data_bit_offset) {
            return Ok((bits, bit_size));
        }
        let bytes = match child.attr_value(gimli::DW_AT_data_member_location) {
            Ok(Some(AttributeValue::Exprloc(expr))) => {
                plus_uconst(&expr).ok_or_else(|| bad("location is not a constant offset"))?
            }
            Ok(Some(value)) => value.udata_value().ok_or_else(|| bad("location has an unexpected form"))?,
            Ok(None) => 0,
            Err(e) => return Err(dwarf_error(die.cu.context(child.offset()), e)),
        };
        let byte_bits = bytes.checked_mul(8).ok_or_else(|| bad("offset overflows"))?;
        let (Some(msb_offset), Some(width)) = (udata(child, gimli::DW_AT_bit_offset), bit_size) else {
            return Ok((byte_bits, bit_size));
        };
        let storage_bytes = match udata(child, gimli::DW_AT_byte_size) {
            Some(b) => b,
            None => self.storage_size(ty)?,
        };
        let lsb_offset = storage_bytes
            .checked_mul(8)
            .and_then(|b| b.checked_sub(msb_offset))
            .and_then(|b| b.checked_sub(u64::from(width)))
            .ok_or_else(|| bad("bit offset lies outside its storage unit"))?;
        Ok((byte_bits.checked_add(lsb_offset).ok_or_else(|| bad("offset overflows"))?, bit_size))
    }

    fn storage_size(&self, ty: TypeId) -> Result<u64> {
        use krash_debuginfo::TypeOps;
        self.size_of(ty)
    }

    fn enumeration(&self, die: &Die, entry: &Entry<'_, '_>) -> Result<Type> {
        let cu = &die.cu;
        let name = self.name(cu, entry)?;
        let size = udata(entry, gimli::DW_AT_byte_size).unwrap_or(4);
        let underlying_signed = match self.type_attr(cu, entry)? {
            TypeId::VOID => None,
            id => self.underlying_int(id)?,
        };
        let mut raw: Vec<(String, AttributeValue<Reader>)> = Vec::new();
        self.for_children(die, |child| {
            if child.tag() == gimli::DW_TAG_enumerator {
                if let Ok(Some(value)) = child.attr_value(gimli::DW_AT_const_value) {
                    raw.push((self.name(cu, child)?.unwrap_or_default(), value));
                }
            }
            Ok(())
        })?;
        let signed = underlying_signed
            .unwrap_or_else(|| raw.iter().any(|(_, v)| matches!(v, AttributeValue::Sdata(n) if *n < 0)));
        let variants =
            raw.into_iter().map(|(name, value)| Enumerator { name, value: constant(&value, signed, size) }).collect();
        Ok(Type::Enum { name, size, signed, variants })
    }

    /// Signedness of an enum's underlying integer type, through typedefs.
    fn underlying_int(&self, id: TypeId) -> Result<Option<bool>> {
        use krash_debuginfo::TypeOps;
        let (_, ty) = self.resolve(id)?;
        Ok(match ty {
            Type::Int { signed, .. } => Some(signed),
            _ => None,
        })
    }

    fn array(&self, die: &Die, entry: &Entry<'_, '_>, extra: &mut Vec<(TypeId, Type)>) -> Result<Type> {
        let cu = &die.cu;
        let elem = self.type_attr(cu, entry)?;
        let mut dims: Vec<(u64, Option<u64>)> = Vec::new();
        self.for_children(die, |child| {
            if matches!(child.tag(), gimli::DW_TAG_subrange_type | gimli::DW_TAG_enumeration_type) {
                let global = (cu.offset.0 as u64).saturating_add(child.offset().0 as u64);
                dims.push((global, dimension_length(child)));
            }
            Ok(())
        })?;
        let Some(&(_, outer_len)) = dims.first() else {
            return Ok(Type::Array { elem, len: None });
        };
        // Innermost first, each dimension an array of the next.
        let mut inner = elem;
        for &(id, len) in dims.iter().skip(1).rev() {
            extra.push((TypeId(id), Type::Array { elem: inner, len }));
            inner = TypeId(id);
        }
        Ok(Type::Array { elem: inner, len: outer_len })
    }

    fn function(&self, die: &Die, entry: &Entry<'_, '_>) -> Result<Type> {
        let cu = &die.cu;
        let ret = match entry.attr_value(gimli::DW_AT_type) {
            Ok(Some(_)) => self.type_attr(cu, entry)?,
            _ if entry.tag() == gimli::DW_TAG_subprogram => self.type_via_origin(cu, die.offset)?,
            _ => TypeId::VOID,
        };
        let mut params = Vec::new();
        let mut variadic = false;
        self.for_children(die, |child| {
            match child.tag() {
                gimli::DW_TAG_formal_parameter => {
                    let ty = match child.attr_value(gimli::DW_AT_type) {
                        Ok(Some(_)) => self.type_attr(cu, child)?,
                        _ => self.type_via_origin(cu, child.offset())?,
                    };
                    let name = self.file.die_name(cu, child.offset())?;
                    params.push(Param { name, ty });
                }
                gimli::DW_TAG_unspecified_parameters => variadic = true,
                _ => {}
            }
            Ok(())
        })?;
        Ok(Type::Function { ret, params, variadic })
    }

    /// Calls `visit` on each direct child of `die`.
    fn for_children(&self, die: &Die, mut visit: impl FnMut(&Entry<'_, '_>) -> Result<()>) -> Result<()> {
        let cu = &die.cu;
        let context = || die.context();
        let mut tree = cu.unit.entries_tree(Some(die.offset)).map_err(|e| dwarf_error(context(), e))?;
        let root = tree.root().map_err(|e| dwarf_error(context(), e))?;
        let mut children = root.children();
        let mut seen = 0usize;
        while let Some(child) = children.next().map_err(|e| dwarf_error(context(), e))? {
            seen = seen
                .checked_add(1)
                .filter(|&n| n <= MAX_CHILDREN)
                .ok_or_else(|| Error::bad_data(context(), format!("more than {MAX_CHILDREN} children")))?;
            visit(child.entry())?;
        }
        Ok(())
    }

    /// The DW_AT_type of a DIE as a type id; `void` when absent.
    pub(super) fn type_attr(&self, cu: &CompUnit, entry: &Entry<'_, '_>) -> Result<TypeId> {
        match entry.attr_value(gimli::DW_AT_type) {
            Ok(Some(value)) => reference(cu, &value).ok_or_else(|| {
                Error::bad_data(cu.context(entry.offset()), "DW_AT_type is not a reference into .debug_info")
            }),
            Ok(None) => Ok(TypeId::VOID),
            Err(e) => Err(dwarf_error(cu.context(entry.offset()), e)),
        }
    }

    /// DW_AT_type of a DIE or of its abstract origin / specification.
    pub(super) fn type_via_origin(&self, cu: &CompUnit, offset: UnitOffset) -> Result<TypeId> {
        match self.file.attr_via_origin(cu, offset, gimli::DW_AT_type)? {
            Some((owner, value)) => reference(&owner, &value)
                .ok_or_else(|| Error::bad_data(cu.context(offset), "DW_AT_type is not a reference into .debug_info")),
            None => Ok(TypeId::VOID),
        }
    }

    pub(super) fn name(&self, cu: &CompUnit, entry: &Entry<'_, '_>) -> Result<Option<String>> {
        let Ok(Some(value)) = entry.attr_value(gimli::DW_AT_name) else {
            return Ok(None);
        };
        let text =
            self.file.dwarf.attr_string(&cu.unit, value).map_err(|e| dwarf_error(cu.context(entry.offset()), e))?;
        let text = text.to_string_lossy().map_err(|e| dwarf_error(cu.context(entry.offset()), e))?;
        Ok((!text.is_empty()).then(|| text.into_owned()))
    }
}

/// Bounds following declarations to definitions (a definition never is a
/// declaration, so one hop suffices for sane input).
const MAX_DECLARATION_HOPS: usize = 4;

/// A reference attribute as a section offset.
pub(super) fn reference(cu: &CompUnit, value: &AttributeValue<Reader>) -> Option<TypeId> {
    match value {
        AttributeValue::UnitRef(local) => (cu.offset.0 as u64).checked_add(local.0 as u64).map(TypeId),
        AttributeValue::DebugInfoRef(global) => Some(TypeId(global.0 as u64)),
        _ => None,
    }
}

fn flag(entry: &Entry<'_, '_>, name: gimli::DwAt) -> bool {
    matches!(entry.attr_value(name), Ok(Some(AttributeValue::Flag(true))))
}

fn udata(entry: &Entry<'_, '_>, name: gimli::DwAt) -> Option<u64> {
    entry.attr_value(name).ok().flatten()?.udata_value()
}

/// The element count of one array dimension: `Some(0)` for a zero-length
/// array (`[0]`, as gdb prints it), `None` for flexible and variable-length
/// arrays (no constant bound).
fn dimension_length(child: &Entry<'_, '_>) -> Option<u64> {
    let signed = |name| -> Option<i128> {
        match entry_value(child, name)? {
            AttributeValue::Sdata(v) => Some(i128::from(v)),
            // gcc writes an upper bound of -1 (zero-length) in a fixed-size form.
            AttributeValue::Data1(v) if v == u8::MAX => Some(-1),
            AttributeValue::Data2(v) if v == u16::MAX => Some(-1),
            AttributeValue::Data4(v) if v == u32::MAX => Some(-1),
            AttributeValue::Data8(v) if v == u64::MAX => Some(-1),
            other => other.udata_value().map(i128::from),
        }
    };
    let count = match signed(gimli::DW_AT_count) {
        Some(count) => count,
        None => {
            let upper = signed(gimli::DW_AT_upper_bound)?;
            let lower = signed(gimli::DW_AT_lower_bound).unwrap_or(0);
            upper.checked_sub(lower)?.checked_add(1)?
        }
    };
    Some(u64::try_from(count).unwrap_or(0))
}

fn entry_value(entry: &Entry<'_, '_>, name: gimli::DwAt) -> Option<AttributeValue<Reader>> {
    entry.attr_value(name).ok().flatten()
}

/// An enumerator's value. Fixed-size forms carry no sign; gcc writes
/// negative values as sdata and small positive ones in the narrowest fixed
/// form, so a fixed form is sign-extended only when it fills the whole
/// enum of a signed type.
fn constant(value: &AttributeValue<Reader>, signed: bool, enum_size: u64) -> i128 {
    let fills = |width: u64| signed && width >= enum_size;
    match *value {
        AttributeValue::Sdata(v) => i128::from(v),
        AttributeValue::Udata(v) => i128::from(v),
        AttributeValue::Data1(v) => {
            if fills(1) {
                i128::from(v as i8)
            } else {
                i128::from(v)
            }
        }
        AttributeValue::Data2(v) => {
            if fills(2) {
                i128::from(v as i16)
            } else {
                i128::from(v)
            }
        }
        AttributeValue::Data4(v) => {
            if fills(4) {
                i128::from(v as i32)
            } else {
                i128::from(v)
            }
        }
        AttributeValue::Data8(v) => {
            if fills(8) {
                i128::from(v as i64)
            } else {
                i128::from(v)
            }
        }
        _ => 0,
    }
}

/// The byte offset in a DWARF 2 style member location expression
/// (`DW_OP_plus_uconst n`, or `DW_OP_constu n`).
fn plus_uconst(expr: &gimli::Expression<Reader>) -> Option<u64> {
    let mut bytes = expr.0.clone();
    let op = bytes.read_u8().ok()?;
    if op != gimli::DW_OP_plus_uconst.0 && op != gimli::DW_OP_constu.0 {
        return None;
    }
    let value = bytes.read_uleb128().ok()?;
    bytes.is_empty().then_some(value)
}
