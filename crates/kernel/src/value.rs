//! Typed values read from dump memory, and their gdb-style display.
//!
//! A [`Value`] is a type plus where its bytes are: kernel memory at an
//! address (an lvalue) or bytes computed by an expression. Member access,
//! indexing and dereference produce new values without reading memory;
//! bytes are read only when a scalar is needed or a value is displayed.
//! Display produces a [`ValueText`] tree (data, so JSON gets it too); the
//! renderer lays it out the way gdb's `print` with `pretty on` does, which
//! is what crash shows.

use std::sync::{Arc, RwLock};

use krash_core::{Error, Result, VirtualMemory};
use krash_debuginfo::types::{dwarf_base_type_name, IntKind, Type, TypeId, TypeKind, TypeOps, TypeProvider, Variable};
use serde::Serialize;

/// Ids at or above this are types made up by krash (pointer-to-T, plain
/// integers) that the debuginfo did not spell out.
const SYNTHETIC_BASE: u64 = 1 << 62;

/// Bound on how many synthetic types one session may create.
const MAX_SYNTHETIC_TYPES: usize = 1 << 20;

/// How many array elements or string characters are shown before `...`
/// (crash's setting of gdb's `print elements`).
pub const PRINT_ELEMENTS: usize = 256;

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
}

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
        }
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

impl TypeProvider for TypeArena {
    fn type_by_id(&self, id: TypeId) -> Result<Type> {
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

/// Where a value's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// In kernel memory at this address (an lvalue: `&` works).
    Memory(u64),
    /// Computed; not in memory.
    Bytes(Arc<[u8]>),
}

/// A value of a known type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    pub ty: TypeId,
    pub place: Place,
    /// For bitfields: the first bit inside the value's first byte and the
    /// width in bits.
    pub bitfield: Option<(u32, u32)>,
}

impl Value {
    /// The object of type `ty` at `addr`.
    pub fn at(ty: TypeId, addr: u64) -> Value {
        Value { ty, place: Place::Memory(addr), bitfield: None }
    }

    /// An rvalue of type `ty` holding `bytes` (little-endian).
    pub fn from_bytes(ty: TypeId, bytes: Vec<u8>) -> Value {
        Value { ty, place: Place::Bytes(bytes.into()), bitfield: None }
    }

    /// An integer rvalue of type `ty` (truncated to its size).
    pub fn from_u64(types: &dyn TypeProvider, ty: TypeId, v: u64) -> Result<Value> {
        let size = types.size_of(ty)?.min(8) as usize;
        Ok(Value::from_bytes(ty, v.to_le_bytes()[..size].to_vec()))
    }

    /// The address of an lvalue.
    pub fn address(&self) -> Option<u64> {
        match self.place {
            Place::Memory(a) if self.bitfield.is_none() => Some(a),
            _ => None,
        }
    }

    /// The value's bytes (`size` of them).
    pub fn bytes(&self, mem: &dyn VirtualMemory, size: u64) -> Result<Vec<u8>> {
        let len = usize::try_from(size).map_err(|_| Error::bad_data("value", "size overflows"))?;
        match &self.place {
            Place::Memory(addr) => mem.read_vec(*addr, len),
            Place::Bytes(b) => b
                .get(..len)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| Error::bad_data("value", format!("{len} bytes wanted, {} held", b.len()))),
        }
    }

    /// The value displaced by `offset` bytes with type `ty` (members,
    /// array elements).
    pub fn sub(&self, ty: TypeId, offset: u64, bitfield: Option<(u32, u32)>) -> Result<Value> {
        let place = match &self.place {
            Place::Memory(a) => Place::Memory(a.wrapping_add(offset)),
            Place::Bytes(b) => {
                let start = usize::try_from(offset).map_err(|_| out_of_value())?;
                Place::Bytes(b.get(start..).ok_or_else(out_of_value)?.into())
            }
        };
        Ok(Value { ty, place, bitfield })
    }

    /// Member `name` (or a dotted path) of a struct/union value.
    pub fn member(&self, types: &dyn TypeProvider, path: &str) -> Result<Value> {
        let loc = types.member_path(self.ty, path)?;
        let bits = loc.bitfield_size.map(|w| ((loc.bit_offset % 8) as u32, w));
        self.sub(loc.ty, loc.byte_offset(), bits)
    }

    /// Element `index` of an array value.
    pub fn element(&self, types: &dyn TypeProvider, index: i64) -> Result<Value> {
        let (_, ty) = types.resolve(self.ty)?;
        let Type::Array { elem, .. } = ty else {
            return Err(Error::Usage(format!("cannot subscript something of type `{}'", types.type_name(self.ty))));
        };
        let stride = types.size_of(elem)?;
        let offset = (index as u64).wrapping_mul(stride);
        match &self.place {
            Place::Memory(a) => Ok(Value::at(elem, a.wrapping_add(offset))),
            Place::Bytes(_) if index >= 0 => self.sub(elem, offset, None),
            Place::Bytes(_) => Err(out_of_value()),
        }
    }

    /// The unsigned integer held (pointers, integers, enums, bitfields).
    pub fn as_u64(&self, types: &dyn TypeProvider, mem: &dyn VirtualMemory) -> Result<u64> {
        let (_, ty) = types.resolve(self.ty)?;
        let size = match &ty {
            Type::Int { size, .. } | Type::Enum { size, .. } => *size,
            Type::Pointer { .. } => types.pointer_size(),
            Type::Float { .. } => return Err(Error::Unsupported("floating-point values in integer context".into())),
            _ => {
                return Err(Error::Usage(format!("`{}' is not a scalar", types.type_name(self.ty))));
            }
        };
        if let Some((shift, width)) = self.bitfield {
            let nbytes = (shift as u64 + width as u64).div_ceil(8).min(16);
            let bytes = self.bytes(mem, nbytes)?;
            let mut raw: u128 = 0;
            for (i, b) in bytes.iter().enumerate() {
                raw |= (*b as u128) << (8 * i);
            }
            let mask = if width >= 64 { u64::MAX as u128 } else { (1u128 << width) - 1 };
            return Ok(((raw >> shift) & mask) as u64);
        }
        let bytes = self.bytes(mem, size.min(8))?;
        let mut buf = [0u8; 8];
        buf.get_mut(..bytes.len()).ok_or_else(out_of_value)?.copy_from_slice(&bytes);
        Ok(u64::from_le_bytes(buf))
    }

    /// The integer held, sign-extended for signed types.
    pub fn as_i128(&self, types: &dyn TypeProvider, mem: &dyn VirtualMemory) -> Result<i128> {
        let raw = self.as_u64(types, mem)?;
        let (_, ty) = types.resolve(self.ty)?;
        let (bits, signed) = match ty {
            Type::Int { size, signed, .. } | Type::Enum { size, signed, .. } => {
                (self.bitfield.map(|b| b.1 as u64).unwrap_or(size * 8), signed)
            }
            _ => (64, false),
        };
        Ok(extend(raw, bits, signed))
    }
}

/// Sign-extends the low `bits` of `raw` when `signed`.
pub fn extend(raw: u64, bits: u64, signed: bool) -> i128 {
    if bits == 0 || bits >= 64 {
        return if signed { raw as i64 as i128 } else { raw as i128 };
    }
    let masked = raw & ((1u64 << bits) - 1);
    if signed && masked & (1u64 << (bits - 1)) != 0 {
        masked as i128 - (1i128 << bits)
    } else {
        masked as i128
    }
}

fn out_of_value() -> Error {
    Error::bad_data("value", "member or element lies outside the value")
}

/// gdb's output radix for integers (pointers are always hex unless decimal
/// is asked for).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Radix {
    #[default]
    Natural,
    Hex,
    Decimal,
}

/// A value laid out for display: what gdb's `print` shows, as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ValueText {
    /// A number, pointer, string, enum name, or an `<error: ...>`.
    Scalar { text: String },
    /// A struct or union's members in order (`name: None` for anonymous
    /// members).
    Struct { fields: Vec<FieldText> },
    /// Array elements; `truncated` when gdb's element limit cut it short.
    Array { elements: Vec<ValueText>, truncated: bool },
}

impl ValueText {
    pub fn scalar(text: impl Into<String>) -> ValueText {
        ValueText::Scalar { text: text.into() }
    }
}

/// One member of a displayed struct.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldText {
    pub name: Option<String>,
    pub value: ValueText,
}

/// Turns values into [`ValueText`] the way gdb prints them.
pub struct ValueFormatter<'a> {
    pub types: &'a dyn TypeProvider,
    pub mem: &'a dyn VirtualMemory,
    pub radix: Radix,
    /// `<symbol+off>` for an address gdb would annotate (kernel image
    /// symbols), or None.
    pub symbolize: &'a dyn Fn(u64) -> Option<String>,
}

/// Deepest struct nesting displayed before giving up (hostile types).
const MAX_DISPLAY_DEPTH: usize = 48;

impl ValueFormatter<'_> {
    /// The display of `value`.
    pub fn format(&self, value: &Value) -> ValueText {
        self.format_depth(value, 0)
    }

    fn format_depth(&self, value: &Value, depth: usize) -> ValueText {
        match self.try_format(value, depth) {
            Ok(t) => t,
            Err(e) => ValueText::scalar(error_text(&e)),
        }
    }

    fn try_format(&self, value: &Value, depth: usize) -> Result<ValueText> {
        if depth > MAX_DISPLAY_DEPTH {
            return Ok(ValueText::scalar("<nested too deeply>"));
        }
        let (_, ty) = self.types.resolve(value.ty)?;
        match ty {
            Type::Struct(c) | Type::Union(c) if c.members.is_empty() => Ok(ValueText::scalar("{<No data fields>}")),
            Type::Struct(c) | Type::Union(c) => {
                let mut fields = Vec::with_capacity(c.members.len());
                for m in &c.members {
                    let bits = m.bitfield_size.map(|w| ((m.bit_offset % 8) as u32, w));
                    let member = value.sub(m.ty, m.bit_offset / 8, bits)?;
                    fields.push(FieldText { name: m.name.clone(), value: self.format_depth(&member, depth + 1) });
                }
                Ok(ValueText::Struct { fields })
            }
            Type::Array { elem, len } => self.format_array(value, elem, len.unwrap_or(0), depth),
            Type::Forward { name, .. } => Ok(ValueText::scalar(format!("<incomplete type {name}>"))),
            Type::Void => Ok(ValueText::scalar("void")),
            Type::Function { .. } | Type::FunctionDecl { .. } => {
                let addr = value.address().unwrap_or(0);
                let sym = (self.symbolize)(addr).map(|s| format!(" <{s}>")).unwrap_or_default();
                Ok(ValueText::scalar(format!("{{{}}} {addr:#x}{sym}", self.types.type_name(value.ty))))
            }
            _ => Ok(ValueText::scalar(self.scalar_text(value, &ty)?)),
        }
    }

    /// The text of a scalar (integer, enum, pointer, float).
    pub fn scalar_text(&self, value: &Value, ty: &Type) -> Result<String> {
        match ty {
            Type::Pointer { to } => {
                let v = value.as_u64(self.types, self.mem)?;
                let mut text = match self.radix {
                    Radix::Decimal => v.to_string(),
                    _ => format!("{v:#x}"),
                };
                if v == 0 || self.radix == Radix::Decimal {
                    return Ok(text);
                }
                if let Some(sym) = (self.symbolize)(v) {
                    text.push_str(&format!(" <{sym}>"));
                }
                if self.is_char(*to)? {
                    text.push(' ');
                    text.push_str(&self.c_string_at(v));
                }
                Ok(text)
            }
            Type::Int { size, signed, kind, .. } => {
                let width = value.bitfield.map(|b| b.1 as u64).unwrap_or(size * 8);
                let raw = value.as_u64(self.types, self.mem)?;
                let v = extend(raw, width, *signed);
                Ok(match (self.radix, kind) {
                    (Radix::Hex, _) => hex_of(v, width),
                    (Radix::Decimal, _) => v.to_string(),
                    (Radix::Natural, IntKind::Bool) => match v {
                        0 => "false".into(),
                        1 => "true".into(),
                        other => other.to_string(),
                    },
                    (Radix::Natural, IntKind::Char) => format!("{v} {}", char_literal(raw as u8)),
                    (Radix::Natural, IntKind::Plain) => v.to_string(),
                })
            }
            Type::Enum { size, signed, variants, .. } => {
                let width = value.bitfield.map(|b| b.1 as u64).unwrap_or(size * 8);
                let v = extend(value.as_u64(self.types, self.mem)?, width, *signed);
                // crash's -x/-d change gdb's output radix, which leaves enum
                // names alone; only unnamed values follow the radix.
                Ok(match variants.iter().find(|e| e.value == v) {
                    Some(e) => e.name.clone(),
                    None => flag_enum_text(variants, v).unwrap_or_else(|| match self.radix {
                        Radix::Hex => hex_of(v, width),
                        _ => v.to_string(),
                    }),
                })
            }
            Type::Float { size, .. } => {
                let bytes = value.bytes(self.mem, *size)?;
                Ok(match bytes.len() {
                    4 => f32::from_le_bytes(bytes.try_into().unwrap_or([0; 4])).to_string(),
                    8 => f64::from_le_bytes(bytes.try_into().unwrap_or([0; 8])).to_string(),
                    _ => "<unsupported float>".into(),
                })
            }
            _ => Ok(format!("<{}>", self.types.type_name(value.ty))),
        }
    }

    fn is_char(&self, id: TypeId) -> Result<bool> {
        Ok(matches!(self.types.resolve(id)?.1, Type::Int { size: 1, kind: IntKind::Char, .. }))
    }

    fn format_array(&self, value: &Value, elem: TypeId, len: u64, depth: usize) -> Result<ValueText> {
        if len == 0 {
            // A flexible array: gdb shows where it starts (and the string
            // there, for chars).
            let addr = value.address().unwrap_or(0);
            if self.is_char(elem)? {
                return Ok(ValueText::scalar(format!("{addr:#x} {}", self.c_string_at(addr))));
            }
            return Ok(ValueText::scalar(format!("{addr:#x}")));
        }
        if self.is_char(elem)? {
            let shown = len.min(PRINT_ELEMENTS as u64 + 1);
            let bytes = value.bytes(self.mem, shown)?;
            return Ok(ValueText::scalar(char_array_text(&bytes, len)));
        }
        let stride = self.types.size_of(elem)?;
        let shown = len.min(PRINT_ELEMENTS as u64);
        let mut elements = Vec::with_capacity(shown as usize);
        for i in 0..shown {
            let offset = i.checked_mul(stride).ok_or_else(out_of_value)?;
            let e = value.sub(elem, offset, None)?;
            elements.push(self.format_depth(&e, depth + 1));
        }
        Ok(ValueText::Array { elements, truncated: len > shown })
    }

    /// A NUL-terminated string in memory as gdb shows `char *` targets.
    pub fn c_string_at(&self, addr: u64) -> String {
        let mut bytes = Vec::new();
        for i in 0..=PRINT_ELEMENTS as u64 {
            match self.mem.read_u8(addr.wrapping_add(i)) {
                Ok(0) => return quote_bytes(&bytes, false),
                Ok(b) => bytes.push(b),
                Err(_) if bytes.is_empty() => {
                    return format!("<error: Cannot access memory at address {:#x}>", addr.wrapping_add(i))
                }
                Err(_) => return quote_bytes(&bytes, false),
            }
        }
        bytes.truncate(PRINT_ELEMENTS);
        quote_bytes(&bytes, true)
    }
}

/// gdb's `<error: ...>` text for a value that cannot be read.
pub fn error_text(e: &Error) -> String {
    match e {
        Error::Fault { addr, .. } => format!("<error: Cannot access memory at address {addr:#x}>"),
        other => format!("<error: {other}>"),
    }
}

/// Hex of a (possibly negative) integer of `bits` width, as gdb's `/x`.
pub fn hex_of(v: i128, bits: u64) -> String {
    let bits = bits.clamp(1, 64);
    let mask: u128 = if bits >= 64 { u64::MAX as u128 } else { (1u128 << bits) - 1 };
    format!("{:#x}", (v as u128) & mask)
}

/// `(A | B)` for a value made of flag-enum constants, like gdb.
fn flag_enum_text(variants: &[krash_debuginfo::types::Enumerator], v: i128) -> Option<String> {
    if v <= 0 {
        return None;
    }
    let all_flags = variants.iter().all(|e| e.value > 0 && (e.value & (e.value - 1)) == 0);
    if !all_flags {
        return None;
    }
    let mut rest = v;
    let mut parts = Vec::new();
    for e in variants {
        if rest & e.value != 0 {
            parts.push(e.name.clone());
            rest &= !e.value;
        }
    }
    if parts.is_empty() {
        return None;
    }
    if rest != 0 {
        parts.push(format!("unknown: {rest:#x}"));
    }
    Some(format!("({})", parts.join(" | ")))
}

/// A char array as gdb prints it: the whole array (less one trailing NUL),
/// escaped, cut at the element limit with `...`.
pub fn char_array_text(bytes: &[u8], declared_len: u64) -> String {
    let mut shown: &[u8] = bytes;
    let mut truncated = false;
    if declared_len > PRINT_ELEMENTS as u64 {
        let cut = PRINT_ELEMENTS.min(shown.len());
        let all_fit = declared_len == PRINT_ELEMENTS as u64 + 1 && shown.last() == Some(&0);
        if all_fit {
            shown = &shown[..cut];
        } else {
            shown = &shown[..cut];
            truncated = true;
        }
    } else if shown.last() == Some(&0) {
        shown = &shown[..shown.len() - 1];
    }
    quote_bytes(shown, truncated)
}

/// `"text"` with gdb's escapes, `...` appended when cut short.
pub fn quote_bytes(bytes: &[u8], truncated: bool) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    let mut after_octal = false;
    for &b in bytes {
        after_octal = push_escaped(&mut out, b, b'"', after_octal);
    }
    out.push('"');
    if truncated {
        out.push_str("...");
    }
    out
}

/// `'A'`, `'\000'`, `'\n'` as gdb prints a char.
pub fn char_literal(b: u8) -> String {
    let mut out = String::from("'");
    push_escaped(&mut out, b, b'\'', false);
    out.push('\'');
    out
}

/// Appends one escaped byte; returns true when it was an octal escape (a
/// following digit must then be escaped too, or it would read as part of it).
fn push_escaped(out: &mut String, b: u8, quote: u8, after_octal: bool) -> bool {
    let simple = match b {
        b'\n' => Some("\\n"),
        b'\t' => Some("\\t"),
        b'\r' => Some("\\r"),
        0x07 => Some("\\a"),
        0x08 => Some("\\b"),
        0x0c => Some("\\f"),
        0x0b => Some("\\v"),
        0x1b => Some("\\033"),
        b'\\' => Some("\\\\"),
        _ => None,
    };
    if let Some(s) = simple {
        out.push_str(s);
        return b == 0x1b;
    }
    if b == quote {
        out.push('\\');
        out.push(b as char);
        return false;
    }
    let printable = (0x20..0x7f).contains(&b) && !(after_octal && b.is_ascii_digit());
    if printable {
        out.push(b as char);
        false
    } else {
        out.push_str(&format!("\\{b:03o}"));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_arrays_print_like_gdb() {
        let mut comm = b"init".to_vec();
        comm.resize(16, 0);
        assert_eq!(char_array_text(&comm, 16), r#""init\000\000\000\000\000\000\000\000\000\000\000""#);
        assert_eq!(quote_bytes(b"\x006.1", false), r#""\000\066.1""#);
        assert_eq!(char_literal(65), "'A'");
        assert_eq!(char_literal(0), r"'\000'");
        assert_eq!(hex_of(-1, 32), "0xffffffff");
        assert_eq!(extend(0xff, 8, true), -1);
    }
}

/// Per-session value state: the type arena (so derived type ids stay
/// valid across commands) and gdb's value history (`$N`).
#[derive(Default)]
pub struct ValueState {
    arena: std::sync::OnceLock<TypeArena>,
    history: std::sync::Mutex<Vec<Value>>,
}

/// Most values the history keeps before refusing more.
const MAX_HISTORY: usize = 1 << 20;

impl crate::Kernel {
    /// The session's types with derived types added.
    pub fn type_arena(&self) -> &TypeArena {
        self.cache().values.arena.get_or_init(|| TypeArena::new(self.types().cloned()))
    }

    /// Makes the vmlinux's DWARF answer for globals BTF does not type
    /// (its name index is built on first use: a few seconds, once).
    pub fn load_dwarf_fallback(&self) -> bool {
        let arena = self.type_arena();
        if arena.has_fallback() {
            return true;
        }
        match self.vmlinux_dwarf() {
            Ok(file) => {
                arena.set_fallback(Arc::new(krash_dwarf::DwarfTypes::new(file)));
                true
            }
            Err(_) => false,
        }
    }

    /// Appends to the value history; returns the value's number (`$N`).
    pub fn record_value(&self, v: Value) -> Result<usize> {
        let mut h =
            self.cache().values.history.lock().map_err(|_| Error::bad_data("value history", "lock poisoned"))?;
        if h.len() >= MAX_HISTORY {
            return Err(Error::Unsupported("value history is full".into()));
        }
        h.push(v);
        Ok(h.len())
    }

    /// `$N` (1-based), or the last value for `None`.
    pub fn history_value(&self, index: Option<usize>) -> Result<Value> {
        let h = self.cache().values.history.lock().map_err(|_| Error::bad_data("value history", "lock poisoned"))?;
        let i = match index {
            Some(0) | None => h.len(),
            Some(n) => n,
        };
        if h.is_empty() {
            return Err(Error::NotFound("History is empty.".into()));
        }
        h.get(i.wrapping_sub(1)).cloned().ok_or_else(|| Error::NotFound(format!("History has not yet reached ${i}.")))
    }

    /// A formatter over this kernel's memory: pointers into the kernel
    /// image are annotated `<symbol+off>` as gdb does.
    pub fn value_text(&self, v: &Value, radix: Radix) -> ValueText {
        let symbolize = |addr: u64| self.data_symbol(addr);
        let f = ValueFormatter { types: self.type_arena(), mem: self.memory(), radix, symbolize: &symbolize };
        f.format(v)
    }

    /// `sym+off` for an address inside the kernel image or a module, as gdb
    /// annotates pointers.
    pub fn data_symbol(&self, addr: u64) -> Option<String> {
        let (sym, off) = self.symbol_at(addr)?;
        if !self.in_kernel_image(addr) && self.module_containing(addr).is_none() {
            return None;
        }
        // gdb annotates only addresses inside a sized data object (or code).
        if !sym.is_text() && (sym.size == 0 || off >= sym.size) {
            return None;
        }
        Some(if off == 0 { sym.name.to_string() } else { format!("{}+{off}", sym.name) })
    }
}
