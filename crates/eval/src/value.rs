//! Typed values read from dump memory, and their gdb-style display.
//!
//! A [`Value`] is a type plus where its bytes are: kernel memory at an
//! address (an lvalue) or bytes computed by an expression. Member access,
//! indexing and dereference produce new values without reading memory;
//! bytes are read only when a scalar is needed or a value is displayed.
//! Display produces a [`ValueText`] tree (data, so JSON gets it too); the
//! renderer lays it out the way gdb's `print` with `pretty on` does, which
//! is what crash shows.

use std::sync::Arc;

use krash_core::{Error, Result, VirtualMemory};
use krash_debuginfo::types::{IntKind, Type, TypeId, TypeOps, TypeProvider};
use krash_program::Kernel;
use serde::Serialize;

/// How many array elements or string characters are shown before `...`
/// (crash's setting of gdb's `print elements`).
pub const PRINT_ELEMENTS: usize = 256;

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
        let (_, ty) = types.resolve_shared(self.ty)?;
        let size = match &*ty {
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
        let (_, ty) = types.resolve_shared(self.ty)?;
        let (bits, signed) = match *ty {
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

/// A value laid out for display: what gdb's `print` shows, as data, with
/// the typed facts behind the text (`--json` publishes both; the text
/// renderer reads only the text).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ValueText {
    /// A number, pointer, string, enum name, or an `<error: ...>`.
    Scalar {
        text: String,
        /// The C type as gdb names it (`unsigned long`, `struct mm_struct *`);
        /// None where the formatter has no type (nesting limit).
        ty: Option<String>,
        /// What the text shows, as numbers: None for text that is not one
        /// number (strings, char arrays, `{<No data fields>}`, `void`).
        data: Option<ScalarData>,
    },
    /// A struct or union's members in order (`name: None` for anonymous
    /// members).
    Struct { ty: Option<String>, fields: Vec<FieldText> },
    /// Array elements; `truncated` when gdb's element limit cut it short.
    Array { ty: Option<String>, elements: Vec<ValueText>, truncated: bool },
}

/// The number behind a scalar's text, read from the value's bytes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScalarData {
    /// An integer (also `char`, `_Bool`): `value` sign-extended when the
    /// type is signed; `bits` its width (a bitfield's own width).
    Integer { value: i128, bits: u64 },
    /// An enum: its value, the enumerator it equals, or the flag
    /// enumerators it is made of (gdb's `(A | B)`).
    Enum { value: i128, bits: u64, name: Option<String>, flags: Vec<String> },
    /// A pointer and the kernel symbol (`name`, offset) it points into.
    Pointer { address: u64, symbol: Option<(String, u64)> },
    /// A function (`{int (void)} 0x... <name>`): its address and symbol.
    Function { address: u64, symbol: Option<(String, u64)> },
    /// A float or double (None for a size other than 4 or 8 bytes).
    Float { value: Option<f64> },
    /// The value could not be read (`text` is gdb's `<error: ...>`).
    Error { message: String },
}

impl ValueText {
    /// A scalar known only by its text (no type, no number).
    pub fn scalar(text: impl Into<String>) -> ValueText {
        ValueText::Scalar { text: text.into(), ty: None, data: None }
    }

    /// A scalar's text (None for structs and arrays).
    pub fn text(&self) -> Option<&str> {
        match self {
            ValueText::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The C type name of the value, when known.
    pub fn type_name(&self) -> Option<&str> {
        match self {
            ValueText::Scalar { ty, .. } | ValueText::Struct { ty, .. } | ValueText::Array { ty, .. } => ty.as_deref(),
        }
    }
}

/// One member of a displayed struct: where it is in the struct and its value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldText {
    pub name: Option<String>,
    /// Byte offset in the struct (for a bitfield, of the byte holding its
    /// first bit).
    pub offset: u64,
    /// A bitfield's bit offset from the struct's start and width in bits.
    pub bitfield: Option<(u64, u32)>,
    pub value: ValueText,
}

/// Turns values into [`ValueText`] the way gdb prints them.
pub struct ValueFormatter<'a> {
    pub types: &'a dyn TypeProvider,
    pub mem: &'a dyn VirtualMemory,
    pub radix: Radix,
    /// The symbol and offset gdb would annotate an address with (kernel
    /// image and module symbols), or None.
    pub symbolize: &'a dyn Fn(u64) -> Option<(String, u64)>,
}

/// Deepest struct nesting displayed before giving up (hostile types).
const MAX_DISPLAY_DEPTH: usize = 48;

/// `sym` or `sym+off`, as gdb writes inside `<...>`.
fn symbol_text((name, off): &(String, u64)) -> String {
    if *off == 0 {
        name.clone()
    } else {
        format!("{name}+{off}")
    }
}

impl ValueFormatter<'_> {
    /// The display of `value`.
    pub fn format(&self, value: &Value) -> ValueText {
        self.format_depth(value, 0)
    }

    fn format_depth(&self, value: &Value, depth: usize) -> ValueText {
        match self.try_format(value, depth) {
            Ok(t) => t,
            // The type is still known when the bytes are not: a reader of
            // the JSON sees what failed to be read, not just a message.
            Err(e) => ValueText::Scalar {
                text: error_text(&e),
                ty: Some(self.types.type_name(value.ty)),
                data: Some(ScalarData::Error { message: e.to_string() }),
            },
        }
    }

    fn try_format(&self, value: &Value, depth: usize) -> Result<ValueText> {
        if depth > MAX_DISPLAY_DEPTH {
            return Ok(ValueText::scalar("<nested too deeply>"));
        }
        let (_, ty) = self.types.resolve_shared(value.ty)?;
        let type_name = || Some(self.types.type_name(value.ty));
        let text_only = |text: String| ValueText::Scalar { text, ty: type_name(), data: None };
        match &*ty {
            Type::Struct(c) | Type::Union(c) if c.members.is_empty() => Ok(text_only("{<No data fields>}".into())),
            Type::Struct(c) | Type::Union(c) => {
                let mut fields = Vec::with_capacity(c.members.len());
                for m in &c.members {
                    let bits = m.bitfield_size.map(|w| ((m.bit_offset % 8) as u32, w));
                    let member = value.sub(m.ty, m.bit_offset / 8, bits)?;
                    fields.push(FieldText {
                        name: m.name.clone(),
                        offset: m.bit_offset / 8,
                        bitfield: m.bitfield_size.map(|w| (m.bit_offset, w)),
                        value: self.format_depth(&member, depth + 1),
                    });
                }
                Ok(ValueText::Struct { ty: type_name(), fields })
            }
            Type::Array { elem, len } => self.format_array(value, *elem, len.unwrap_or(0), depth),
            Type::Forward { name, .. } => Ok(text_only(format!("<incomplete type {name}>"))),
            Type::Void => Ok(text_only("void".into())),
            Type::Function { .. } | Type::FunctionDecl { .. } => {
                let addr = value.address().unwrap_or(0);
                let symbol = (self.symbolize)(addr);
                let sym = symbol.as_ref().map(|s| format!(" <{}>", symbol_text(s))).unwrap_or_default();
                Ok(ValueText::Scalar {
                    text: format!("{{{}}} {addr:#x}{sym}", self.types.type_name(value.ty)),
                    ty: type_name(),
                    data: Some(ScalarData::Function { address: addr, symbol }),
                })
            }
            _ => {
                let (text, data) = self.scalar(value, &ty)?;
                Ok(ValueText::Scalar { text, ty: type_name(), data })
            }
        }
    }

    /// The text of a scalar (integer, enum, pointer, float).
    pub fn scalar_text(&self, value: &Value, ty: &Type) -> Result<String> {
        Ok(self.scalar(value, ty)?.0)
    }

    /// The text of a scalar and the number it shows.
    fn scalar(&self, value: &Value, ty: &Type) -> Result<(String, Option<ScalarData>)> {
        match ty {
            Type::Pointer { to } => {
                let v = value.as_u64(self.types, self.mem)?;
                let mut text = match self.radix {
                    Radix::Decimal => v.to_string(),
                    _ => format!("{v:#x}"),
                };
                // The symbol is looked up for the data even where gdb's
                // text leaves it out (decimal radix).
                let symbol = if v == 0 { None } else { (self.symbolize)(v) };
                if v != 0 && self.radix != Radix::Decimal {
                    if let Some(sym) = &symbol {
                        text.push_str(&format!(" <{}>", symbol_text(sym)));
                    }
                    if self.is_char(*to)? {
                        text.push(' ');
                        text.push_str(&self.c_string_at(v));
                    }
                }
                Ok((text, Some(ScalarData::Pointer { address: v, symbol })))
            }
            Type::Int { size, signed, kind, .. } => {
                let width = value.bitfield.map(|b| b.1 as u64).unwrap_or(size * 8);
                let raw = value.as_u64(self.types, self.mem)?;
                let v = extend(raw, width, *signed);
                let text = match (self.radix, kind) {
                    (Radix::Hex, _) => hex_of(v, width),
                    (Radix::Decimal, _) => v.to_string(),
                    (Radix::Natural, IntKind::Bool) => match v {
                        0 => "false".into(),
                        1 => "true".into(),
                        other => other.to_string(),
                    },
                    (Radix::Natural, IntKind::Char) => format!("{v} {}", char_literal(raw as u8)),
                    (Radix::Natural, IntKind::Plain) => v.to_string(),
                };
                Ok((text, Some(ScalarData::Integer { value: v, bits: width })))
            }
            Type::Enum { size, signed, variants, .. } => {
                let width = value.bitfield.map(|b| b.1 as u64).unwrap_or(size * 8);
                let v = extend(value.as_u64(self.types, self.mem)?, width, *signed);
                let name = variants.iter().find(|e| e.value == v).map(|e| e.name.clone());
                let flags = if name.is_none() { flag_enum_names(variants, v) } else { None };
                // crash's -x/-d change gdb's output radix, which leaves enum
                // names alone; only unnamed values follow the radix.
                let text = match (&name, &flags) {
                    (Some(n), _) => n.clone(),
                    (None, Some(f)) => flag_enum_text(f),
                    (None, None) => match self.radix {
                        Radix::Hex => hex_of(v, width),
                        _ => v.to_string(),
                    },
                };
                let flags = flags.map(|f| f.names).unwrap_or_default();
                Ok((text, Some(ScalarData::Enum { value: v, bits: width, name, flags })))
            }
            Type::Float { size, .. } => {
                let bytes = value.bytes(self.mem, *size)?;
                let number = match bytes.len() {
                    4 => bytes.try_into().ok().map(|b| f64::from(f32::from_le_bytes(b))),
                    8 => bytes.try_into().ok().map(f64::from_le_bytes),
                    _ => None,
                };
                // f32 text as f32 prints it (widening would add digits).
                let text = match (*size, number) {
                    (4, Some(n)) => (n as f32).to_string(),
                    (_, Some(n)) => n.to_string(),
                    (_, None) => "<unsupported float>".into(),
                };
                Ok((text, Some(ScalarData::Float { value: number })))
            }
            _ => Ok((format!("<{}>", self.types.type_name(value.ty)), None)),
        }
    }

    fn is_char(&self, id: TypeId) -> Result<bool> {
        Ok(matches!(*self.types.resolve_shared(id)?.1, Type::Int { size: 1, kind: IntKind::Char, .. }))
    }

    fn format_array(&self, value: &Value, elem: TypeId, len: u64, depth: usize) -> Result<ValueText> {
        if len == 0 {
            // A flexible array: gdb shows where it starts (and the string
            // there, for chars).
            let addr = value.address().unwrap_or(0);
            let text = if self.is_char(elem)? {
                format!("{addr:#x} {}", self.c_string_at(addr))
            } else {
                format!("{addr:#x}")
            };
            let data = Some(ScalarData::Pointer { address: addr, symbol: (self.symbolize)(addr) });
            return Ok(ValueText::Scalar { text, ty: Some(self.types.type_name(value.ty)), data });
        }
        if self.is_char(elem)? {
            let shown = len.min(PRINT_ELEMENTS as u64 + 1);
            let bytes = value.bytes(self.mem, shown)?;
            let text = char_array_text(&bytes, len);
            return Ok(ValueText::Scalar { text, ty: Some(self.types.type_name(value.ty)), data: None });
        }
        let stride = self.types.size_of(elem)?;
        let shown = len.min(PRINT_ELEMENTS as u64);
        let mut elements = Vec::with_capacity(shown as usize);
        for i in 0..shown {
            let offset = i.checked_mul(stride).ok_or_else(out_of_value)?;
            let e = value.sub(elem, offset, None)?;
            elements.push(self.format_depth(&e, depth + 1));
        }
        Ok(ValueText::Array { ty: Some(self.types.type_name(value.ty)), elements, truncated: len > shown })
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

/// The flag enumerators a value is made of, and the bits none explains.
struct FlagNames {
    names: Vec<String>,
    rest: i128,
}

/// The flag-enum constants `v` is made of, for gdb's `(A | B)`.
fn flag_enum_names(variants: &[krash_debuginfo::types::Enumerator], v: i128) -> Option<FlagNames> {
    if v <= 0 {
        return None;
    }
    let all_flags = variants.iter().all(|e| e.value > 0 && (e.value & (e.value - 1)) == 0);
    if !all_flags {
        return None;
    }
    let mut rest = v;
    let mut names = Vec::new();
    for e in variants {
        if rest & e.value != 0 {
            names.push(e.name.clone());
            rest &= !e.value;
        }
    }
    if names.is_empty() {
        return None;
    }
    Some(FlagNames { names, rest })
}

/// `(A | B)` (`| unknown: 0x..` for bits no constant explains), like gdb.
fn flag_enum_text(f: &FlagNames) -> String {
    let mut parts = f.names.clone();
    if f.rest != 0 {
        parts.push(format!("unknown: {:#x}", f.rest));
    }
    format!("({})", parts.join(" | "))
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

/// gdb's value history (`$N`), kept for the session (a live refresh keeps it).
#[derive(Default)]
struct ValueHistory(std::sync::Mutex<Vec<Value>>);

/// Most values the history keeps before refusing more.
const MAX_HISTORY: usize = 1 << 20;

/// Typed values over a [`Kernel`]: the value history and gdb-style display.
pub trait ValueExt {
    /// Appends to the value history; returns the value's number (`$N`).
    fn record_value(&self, v: Value) -> Result<usize>;
    /// `$N` (1-based), or the last value for `None`.
    fn history_value(&self, index: Option<usize>) -> Result<Value>;
    /// A formatter over this kernel's memory: pointers into the kernel
    /// image are annotated `<symbol+off>` as gdb does.
    fn value_text(&self, v: &Value, radix: Radix) -> ValueText;
    /// `sym+off` for an address inside the kernel image or a module, as gdb
    /// annotates pointers.
    fn data_symbol(&self, addr: u64) -> Option<String>;
    /// The same symbol as (name, offset).
    fn data_symbol_ref(&self, addr: u64) -> Option<(String, u64)>;
}

impl ValueExt for Kernel {
    /// Appends to the value history; returns the value's number (`$N`).
    fn record_value(&self, v: Value) -> Result<usize> {
        let mut h = self
            .session_cache::<ValueHistory>()
            .0
            .lock()
            .map_err(|_| Error::bad_data("value history", "lock poisoned"))?;
        if h.len() >= MAX_HISTORY {
            return Err(Error::Unsupported("value history is full".into()));
        }
        h.push(v);
        Ok(h.len())
    }

    /// `$N` (1-based), or the last value for `None`.
    fn history_value(&self, index: Option<usize>) -> Result<Value> {
        let h = self
            .session_cache::<ValueHistory>()
            .0
            .lock()
            .map_err(|_| Error::bad_data("value history", "lock poisoned"))?;
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
    fn value_text(&self, v: &Value, radix: Radix) -> ValueText {
        let symbolize = |addr: u64| self.data_symbol_ref(addr);
        let f = ValueFormatter { types: self.type_arena(), mem: self.memory(), radix, symbolize: &symbolize };
        f.format(v)
    }

    /// `sym+off` for an address inside the kernel image or a module, as gdb
    /// annotates pointers.
    fn data_symbol(&self, addr: u64) -> Option<String> {
        self.data_symbol_ref(addr).map(|s| symbol_text(&s))
    }

    fn data_symbol_ref(&self, addr: u64) -> Option<(String, u64)> {
        let (sym, off) = self.symbol_at(addr)?;
        if !self.in_kernel_image(addr) && self.module_containing(addr).is_none() {
            return None;
        }
        // gdb annotates only addresses inside a sized data object (or code).
        if !sym.is_text() && (sym.size == 0 || off >= sym.size) {
            // A linker marker (5.10's `__begin_sched_classes`, size 0) may
            // share its address with the object itself (`idle_sched_class`).
            let table =
                if self.in_kernel_image(addr) { self.symbols() } else { &self.module_containing(addr)?.symbols };
            let sized = table.range(addr, addr.saturating_add(1)).find(|s| s.addr == addr && s.size > 0)?;
            return Some((sized.name.to_string(), 0));
        }
        Some((sym.name.to_string(), off))
    }
}
