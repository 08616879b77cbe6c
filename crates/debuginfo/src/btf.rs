//! BTF (the kernel's compact type format, `.BTF` in vmlinux and modules)
//! as a [`TypeProvider`].
//!
//! Parsing indexes once: the byte offset of every type record and a name
//! index. Records are decoded into [`Type`] values only when asked for.
//! Split BTF (modules) resolves type ids and string offsets below its own
//! range against the base (vmlinux) BTF.

use std::hash::BuildHasher;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use hashbrown::{DefaultHashBuilder, HashMap, HashTable};
use krash_core::{Error, Result};

use crate::read;
use crate::types::{
    Composite, Enumerator, IntKind, Linkage, Member, Param, Qualifier, SectionVar, Type, TypeId, TypeKind,
    TypeProvider, Variable,
};

const BTF_MAGIC: u16 = 0xeb9f;
const HEADER_MIN_LEN: usize = 24;
/// Size of the common prefix of every type record.
const RECORD_HEAD_LEN: usize = 12;
/// BTF ids are 20-bit per the format (BTF_MAX_TYPE); more records means corruption.
const MAX_TYPES: usize = 0x000f_ffff;

mod kind {
    pub const INT: u8 = 1;
    pub const PTR: u8 = 2;
    pub const ARRAY: u8 = 3;
    pub const STRUCT: u8 = 4;
    pub const UNION: u8 = 5;
    pub const ENUM: u8 = 6;
    pub const FWD: u8 = 7;
    pub const TYPEDEF: u8 = 8;
    pub const VOLATILE: u8 = 9;
    pub const CONST: u8 = 10;
    pub const RESTRICT: u8 = 11;
    pub const FUNC: u8 = 12;
    pub const FUNC_PROTO: u8 = 13;
    pub const VAR: u8 = 14;
    pub const DATASEC: u8 = 15;
    pub const FLOAT: u8 = 16;
    pub const DECL_TAG: u8 = 17;
    pub const TYPE_TAG: u8 = 18;
    pub const ENUM64: u8 = 19;
}

/// The 12-byte common prefix of every type record.
#[derive(Debug, Clone, Copy)]
struct RecordHead {
    name_off: u32,
    kind: u8,
    kflag: bool,
    vlen: usize,
    /// `size` or `type`, depending on the kind.
    size_or_type: u32,
}

/// Parsed, indexed BTF; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Btf {
    data: Vec<u8>,
    /// The type and string sections, as byte ranges of `data` (checked
    /// against its length at parse time).
    types: Range<usize>,
    strings: Range<usize>,
    /// Id of the first record here: 1 for base BTF, base count for split.
    first_id: u32,
    /// One past the last id here (`first_id` plus the record count,
    /// checked not to overflow at parse time).
    next_id: u32,
    /// String offsets below this refer to the base's string section.
    string_base: u32,
    /// One past the last string offset here (`string_base` plus the
    /// string section's length, checked at parse time).
    string_end: u32,
    base: Option<Arc<Btf>>,
    /// Byte offset (from the start of the type section) of each record.
    offsets: Vec<u32>,
    /// Name -> head of the chain of records (indices into `offsets`).
    names: HashTable<u32>,
    next_same_name: Vec<u32>,
    /// VAR id -> (DATASEC id, offset in section).
    var_sections: HashMap<u32, (u32, u32)>,
    /// Enum constant name -> (enum id, value), built on first use.
    enumerators: OnceLock<HashTable<EnumeratorEntry>>,
    hasher: DefaultHashBuilder,
}

fn bad(detail: impl Into<String>) -> Error {
    Error::bad_data("BTF", detail)
}

/// Bytes following the 12-byte head, by kind: (fixed bytes, bytes per
/// `vlen` entry).
fn trailer_layout(kind: u8) -> Result<(usize, usize)> {
    Ok(match kind {
        kind::INT | kind::VAR | kind::DECL_TAG => (4, 0),
        kind::ARRAY => (12, 0),
        kind::STRUCT | kind::UNION | kind::ENUM64 | kind::DATASEC => (0, 12),
        kind::ENUM | kind::FUNC_PROTO => (0, 8),
        kind::PTR
        | kind::FWD
        | kind::TYPEDEF
        | kind::VOLATILE
        | kind::CONST
        | kind::RESTRICT
        | kind::FUNC
        | kind::FLOAT
        | kind::TYPE_TAG => (0, 0),
        other => return Err(bad(format!("unknown type kind {other}"))),
    })
}

/// One enum constant in the enumerator index: where its name is, the
/// enum's type id and the value.
#[derive(Debug, Clone, Copy)]
struct EnumeratorEntry {
    name_off: u32,
    id: u32,
    value: i128,
}

/// Total size of the record `head` starts.
fn record_len(head: &RecordHead) -> Result<usize> {
    let (fixed, per_entry) = trailer_layout(head.kind)?;
    per_entry
        .checked_mul(head.vlen)
        .and_then(|n| n.checked_add(fixed))
        .and_then(|n| n.checked_add(RECORD_HEAD_LEN))
        .ok_or_else(|| bad(format!("record of kind {} with {} entries overflows", head.kind, head.vlen)))
}

/// Chains `idx` into the same-name list right after `head_idx`.
fn chain_after(next_same_name: &mut [u32], head_idx: usize, idx: u32) -> Result<()> {
    let missing = || bad("name index out of range");
    let after_head = *next_same_name.get(head_idx).ok_or_else(missing)?;
    *next_same_name.get_mut(idx as usize).ok_or_else(missing)? = after_head;
    *next_same_name.get_mut(head_idx).ok_or_else(missing)? = idx;
    Ok(())
}

impl Btf {
    /// Parses a base BTF blob (the `.BTF` section of vmlinux).
    pub fn parse(bytes: &[u8]) -> Result<Btf> {
        Self::parse_with_base(bytes, None)
    }

    /// Parses a module's split BTF, resolving against `base` (vmlinux BTF).
    pub fn parse_split(bytes: &[u8], base: Arc<Btf>) -> Result<Btf> {
        Self::parse_with_base(bytes, Some(base))
    }

    /// Finds and parses the `.BTF` section of an ELF file (vmlinux or a
    /// module, with `base` given for the latter).
    pub fn from_elf(elf_bytes: &[u8], base: Option<Arc<Btf>>) -> Result<Btf> {
        let section = crate::elf_section(elf_bytes, ".BTF")?
            .ok_or_else(|| Error::MissingDebuginfo("ELF file has no .BTF section".into()))?;
        Self::parse_with_base(section, base)
    }

    fn parse_with_base(bytes: &[u8], base: Option<Arc<Btf>>) -> Result<Btf> {
        if bytes.len() < HEADER_MIN_LEN {
            return Err(bad(format!("{} bytes is too short for a header", bytes.len())));
        }
        let field = |at| read::u32_at(bytes, at).ok_or_else(|| bad("truncated header"));
        let magic = read::u16_at(bytes, 0).ok_or_else(|| bad("truncated header"))?;
        if magic != BTF_MAGIC {
            return Err(bad(format!("bad magic {magic:#06x} (big-endian BTF is not supported)")));
        }
        let version = bytes.get(2).copied().ok_or_else(|| bad("truncated header"))?;
        if version != 1 {
            return Err(bad(format!("unsupported version {version}")));
        }
        let hdr_len = field(4)? as usize;
        let (type_off, type_len, str_off, str_len) = (field(8)?, field(12)?, field(16)?, field(20)?);
        let section = |off: u32, len: u32, what: &str| -> Result<Range<usize>> {
            let start = hdr_len.checked_add(off as usize);
            let end = start.and_then(|s| s.checked_add(len as usize));
            match (start, end) {
                (Some(s), Some(e)) if e <= bytes.len() => Ok(s..e),
                _ => Err(bad(format!("{what} section ({off:#x}+{len:#x}) lies outside the {} bytes", bytes.len()))),
            }
        };
        if hdr_len < HEADER_MIN_LEN || hdr_len > bytes.len() {
            return Err(bad(format!("bad header length {hdr_len}")));
        }
        let types = section(type_off, type_len, "type")?;
        let strings = section(str_off, str_len, "string")?;
        let (first_id, string_base) = match &base {
            Some(b) => (b.next_id, b.string_end),
            None => (1, 0),
        };
        let string_end = string_base.checked_add(str_len).ok_or_else(|| bad("string sections exceed 4 GiB"))?;
        let mut btf = Btf {
            data: bytes.to_vec(),
            types,
            strings,
            first_id,
            next_id: first_id,
            string_base,
            string_end,
            base,
            offsets: Vec::new(),
            names: HashTable::new(),
            next_same_name: Vec::new(),
            var_sections: HashMap::new(),
            enumerators: OnceLock::new(),
            hasher: DefaultHashBuilder::default(),
        };
        btf.index()?;
        Ok(btf)
    }

    fn types(&self) -> &[u8] {
        // The range was checked against `data` at parse time.
        self.data.get(self.types.clone()).unwrap_or_default()
    }

    fn strings(&self) -> &[u8] {
        // The range was checked against `data` at parse time.
        self.data.get(self.strings.clone()).unwrap_or_default()
    }

    /// One past the highest type id defined here (the first id of a split
    /// BTF built on top of this one).
    pub fn next_id(&self) -> u32 {
        self.next_id
    }

    /// Number of type records in this blob (not counting a base).
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// True when this blob defines no types.
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// The base BTF a split BTF resolves against.
    pub fn base(&self) -> Option<&Arc<Btf>> {
        self.base.as_ref()
    }

    /// Ids of all types this blob defines (excluding the base's).
    pub fn ids(&self) -> impl Iterator<Item = TypeId> {
        (self.first_id..self.next_id).map(|id| TypeId(id as u64))
    }

    /// The type id of the record at `idx` in `offsets`.
    fn id_of_index(&self, idx: usize) -> Result<u32> {
        u32::try_from(idx)
            .ok()
            .and_then(|i| self.first_id.checked_add(i))
            .filter(|&id| id < self.next_id)
            .ok_or_else(|| bad(format!("type index {idx} out of range")))
    }

    fn head_at(&self, offset: usize) -> Result<RecordHead> {
        let [name_off, info, size_or_type] = self
            .types()
            .get(offset..)
            .and_then(read::u32_array)
            .ok_or_else(|| bad(format!("type record at {offset:#x} is truncated")))?;
        Ok(RecordHead {
            name_off,
            kind: ((info >> 24) & 0x1f) as u8,
            kflag: info >> 31 == 1,
            vlen: (info & 0xffff) as usize,
            size_or_type,
        })
    }

    /// The bytes after the 12-byte head of the record at `off`, to the end
    /// of the type section.
    fn trailer(&self, off: usize) -> Option<&[u8]> {
        self.types().get(off..)?.get(RECORD_HEAD_LEN..)
    }

    /// The `vlen` entries of `stride` bytes (a non-zero constant) that
    /// follow the head of the record at `off`.
    fn vlen_entries(&self, off: usize, vlen: usize, stride: usize) -> Result<std::slice::ChunksExact<'_, u8>> {
        let truncated = || bad(format!("record at {off:#x} truncated"));
        let len = stride.checked_mul(vlen).ok_or_else(truncated)?;
        let bytes = self.trailer(off).and_then(|t| t.get(..len)).ok_or_else(truncated)?;
        Ok(bytes.chunks_exact(stride))
    }

    fn index(&mut self) -> Result<()> {
        let types = self.types();
        // Each record is at least 12 bytes, which bounds the count.
        let mut offsets = Vec::with_capacity(types.len() / RECORD_HEAD_LEN);
        let mut at = 0usize;
        while at < types.len() {
            if offsets.len() >= MAX_TYPES {
                return Err(bad(format!("more than {MAX_TYPES} types")));
            }
            let head = self.head_at(at)?;
            let next = at
                .checked_add(record_len(&head)?)
                .filter(|&next| next <= types.len())
                .ok_or_else(|| bad(format!("type record at {at:#x} runs past the type section")))?;
            // `at` < the type section's length, which came from a u32.
            offsets.push(at as u32);
            at = next;
        }
        let count = u32::try_from(offsets.len()).map_err(|_| bad("too many types"))?;
        self.next_id = self.first_id.checked_add(count).ok_or_else(|| bad("type ids exceed 32 bits"))?;
        self.offsets = offsets;

        // The name index is built in locals so its closures can read the
        // records through `self` while the table grows.
        let mut names: HashTable<u32> = HashTable::with_capacity(self.offsets.len());
        let mut next_same_name = vec![u32::MAX; self.offsets.len()];
        let mut datasecs = Vec::new();
        let hasher = self.hasher;
        for (idx, &off) in self.offsets.iter().enumerate() {
            let head = self.head_at(off as usize)?;
            if head.name_off == 0 || !is_named_kind(head.kind) {
                continue;
            }
            if head.kind == kind::DATASEC {
                datasecs.push((idx, off as usize, head));
            }
            let name = self.string(head.name_off)?;
            let hash = hasher.hash_one(name);
            let entry = names.entry(
                hash,
                |&i| self.name_of_index(i) == Some(name),
                |&i| hasher.hash_one(self.name_of_index(i).unwrap_or(b"")),
            );
            match entry {
                hashbrown::hash_table::Entry::Occupied(found) => {
                    // Append after the head so chains keep file order.
                    // (idx < MAX_TYPES, so it fits a u32.)
                    chain_after(&mut next_same_name, *found.get() as usize, idx as u32)?;
                }
                hashbrown::hash_table::Entry::Vacant(slot) => {
                    slot.insert(idx as u32);
                }
            }
        }
        let mut var_sections = HashMap::new();
        for (idx, off, head) in datasecs {
            let datasec_id = self.id_of_index(idx)?;
            for entry in self.vlen_entries(off, head.vlen, 12)? {
                let [var, offset] = read::u32_array(entry).ok_or_else(|| bad("truncated DATASEC"))?;
                var_sections.insert(var, (datasec_id, offset));
            }
        }
        self.names = names;
        self.next_same_name = next_same_name;
        self.var_sections = var_sections;
        Ok(())
    }

    fn name_of_index(&self, idx: u32) -> Option<&[u8]> {
        let off = *self.offsets.get(idx as usize)? as usize;
        let name_off = read::u32_at(self.types(), off)?;
        self.string(name_off).ok()
    }

    /// The NUL-terminated string at `offset` in the (combined) string section.
    fn string(&self, offset: u32) -> Result<&[u8]> {
        let Some(rel) = offset.checked_sub(self.string_base) else {
            let base = self.base.as_ref().ok_or_else(|| bad("string offset below a base BTF that is absent"))?;
            return base.string(offset);
        };
        let tail = self
            .strings()
            .get(rel as usize..)
            .ok_or_else(|| bad(format!("string offset {offset:#x} beyond the string section")))?;
        read::cstr(tail).ok_or_else(|| bad(format!("string at {offset:#x} not terminated")))
    }

    fn name(&self, offset: u32) -> Result<Option<String>> {
        if offset == 0 {
            return Ok(None);
        }
        let s = self.string(offset)?;
        Ok((!s.is_empty()).then(|| String::from_utf8_lossy(s).into_owned()))
    }

    fn name_or_empty(&self, offset: u32) -> Result<String> {
        Ok(self.name(offset)?.unwrap_or_default())
    }

    /// Locates the blob and record offset defining `id`.
    fn locate(&self, id: TypeId) -> Result<(&Btf, usize)> {
        let raw = u32::try_from(id.0).map_err(|_| Error::NotFound(format!("BTF type id {} out of range", id.0)))?;
        let Some(idx) = raw.checked_sub(self.first_id) else {
            return match &self.base {
                Some(base) => base.locate(id),
                None => Err(Error::NotFound(format!("BTF type id {raw} out of range"))),
            };
        };
        let off =
            self.offsets.get(idx as usize).ok_or_else(|| Error::NotFound(format!("BTF type id {raw} out of range")))?;
        Ok((self, *off as usize))
    }

    /// The raw BTF kind number of a type (1 = INT ... 19 = ENUM64).
    pub fn kind_of(&self, id: TypeId) -> Result<u8> {
        if id == TypeId::VOID {
            return Ok(0);
        }
        let (blob, off) = self.locate(id)?;
        Ok(blob.head_at(off)?.kind)
    }

    fn decode(&self, off: usize) -> Result<Type> {
        let head = self.head_at(off)?;
        let truncated = || bad(format!("record at {off:#x} truncated"));
        let trailer = self.trailer(off).ok_or_else(truncated)?;
        let tid = |v: u32| TypeId(v as u64);
        Ok(match head.kind {
            kind::INT => {
                let [encoding] = read::u32_array(trailer).ok_or_else(truncated)?;
                let enc = (encoding >> 24) & 0xf;
                let name = self.name_or_empty(head.name_off)?;
                let int_kind = if enc & 4 != 0 || name == "_Bool" {
                    IntKind::Bool
                } else if enc & 2 != 0 || name.contains("char") {
                    IntKind::Char
                } else {
                    IntKind::Plain
                };
                Type::Int { name, size: head.size_or_type as u64, signed: enc & 1 != 0, kind: int_kind }
            }
            kind::FLOAT => Type::Float { name: self.name_or_empty(head.name_off)?, size: head.size_or_type as u64 },
            kind::PTR => Type::Pointer { to: tid(head.size_or_type) },
            kind::ARRAY => {
                let [elem, _index_type, nelems] = read::u32_array(trailer).ok_or_else(truncated)?;
                Type::Array { elem: tid(elem), len: (nelems != 0).then_some(nelems as u64) }
            }
            kind::STRUCT | kind::UNION => {
                let mut members = Vec::with_capacity(head.vlen);
                for entry in self.vlen_entries(off, head.vlen, 12)? {
                    let [name_off, ty, offset] = read::u32_array(entry).ok_or_else(truncated)?;
                    let (bit_offset, bitfield_size) = if head.kflag {
                        let size = offset >> 24;
                        ((offset & 0x00ff_ffff) as u64, (size != 0).then_some(size))
                    } else {
                        self.legacy_bitfield(offset, ty)?
                    };
                    members.push(Member { name: self.name(name_off)?, ty: tid(ty), bit_offset, bitfield_size });
                }
                let body = Composite { name: self.name(head.name_off)?, size: head.size_or_type as u64, members };
                if head.kind == kind::STRUCT {
                    Type::Struct(body)
                } else {
                    Type::Union(body)
                }
            }
            kind::ENUM | kind::ENUM64 => {
                let signed = head.kflag;
                let stride = if head.kind == kind::ENUM { 8 } else { 12 };
                let mut variants = Vec::with_capacity(head.vlen);
                for entry in self.vlen_entries(off, head.vlen, stride)? {
                    let [name_off, lo] = read::u32_array(entry).ok_or_else(truncated)?;
                    let name = self.name_or_empty(name_off)?;
                    let value = if head.kind == kind::ENUM {
                        if signed {
                            lo as i32 as i128
                        } else {
                            lo as i128
                        }
                    } else {
                        let [_, _, hi] = read::u32_array(entry).ok_or_else(truncated)?;
                        let raw = ((hi as u64) << 32) | lo as u64;
                        if signed {
                            raw as i64 as i128
                        } else {
                            raw as i128
                        }
                    };
                    variants.push(Enumerator { name, value });
                }
                Type::Enum { name: self.name(head.name_off)?, size: head.size_or_type as u64, signed, variants }
            }
            kind::FWD => Type::Forward {
                kind: if head.kflag { TypeKind::Union } else { TypeKind::Struct },
                name: self.name_or_empty(head.name_off)?,
            },
            kind::TYPEDEF => Type::Typedef { name: self.name_or_empty(head.name_off)?, to: tid(head.size_or_type) },
            kind::VOLATILE => Type::Qualified { qualifier: Qualifier::Volatile, to: tid(head.size_or_type) },
            kind::CONST => Type::Qualified { qualifier: Qualifier::Const, to: tid(head.size_or_type) },
            kind::RESTRICT => Type::Qualified { qualifier: Qualifier::Restrict, to: tid(head.size_or_type) },
            kind::TYPE_TAG => Type::Qualified {
                qualifier: Qualifier::Tag(self.name_or_empty(head.name_off)?),
                to: tid(head.size_or_type),
            },
            kind::FUNC => Type::FunctionDecl {
                name: self.name_or_empty(head.name_off)?,
                proto: tid(head.size_or_type),
                linkage: linkage(head.vlen as u32),
            },
            kind::FUNC_PROTO => {
                let mut params = Vec::with_capacity(head.vlen);
                let mut variadic = false;
                let mut entries = self.vlen_entries(off, head.vlen, 8)?;
                while let Some(entry) = entries.next() {
                    let [name_off, ty] = read::u32_array(entry).ok_or_else(truncated)?;
                    // A trailing unnamed void parameter marks `...`.
                    if ty == 0 && name_off == 0 && entries.len() == 0 {
                        variadic = true;
                    } else {
                        params.push(Param { name: self.name(name_off)?, ty: tid(ty) });
                    }
                }
                Type::Function { ret: tid(head.size_or_type), params, variadic }
            }
            kind::VAR => {
                let [raw_linkage] = read::u32_array(trailer).ok_or_else(truncated)?;
                Type::Var {
                    name: self.name_or_empty(head.name_off)?,
                    ty: tid(head.size_or_type),
                    linkage: linkage(raw_linkage),
                }
            }
            kind::DATASEC => {
                let mut vars = Vec::with_capacity(head.vlen);
                for entry in self.vlen_entries(off, head.vlen, 12)? {
                    let [var, offset, size] = read::u32_array(entry).ok_or_else(truncated)?;
                    vars.push(SectionVar { var: tid(var), offset: offset as u64, size: size as u64 });
                }
                Type::Datasec { name: self.name_or_empty(head.name_off)?, size: head.size_or_type as u64, vars }
            }
            kind::DECL_TAG => {
                return Err(Error::Unsupported(format!("BTF record at {off:#x} is a declaration tag, not a type")))
            }
            other => return Err(bad(format!("unknown type kind {other} at {off:#x}"))),
        })
    }

    /// Old-style (kflag 0) bitfields live in the INT member type's own
    /// offset/bits encoding.
    fn legacy_bitfield(&self, offset: u32, ty: u32) -> Result<(u64, Option<u32>)> {
        let plain = (offset as u64, None);
        let Ok((blob, off)) = self.locate(TypeId(ty as u64)) else {
            return Ok(plain);
        };
        let Ok(head) = blob.head_at(off) else {
            return Ok(plain);
        };
        if head.kind != kind::INT {
            return Ok(plain);
        }
        let Some(encoding) = blob.trailer(off).and_then(|t| read::u32_at(t, 0)) else {
            return Ok(plain);
        };
        let bits = encoding & 0xff;
        let extra_offset = (encoding >> 16) & 0xff;
        let full_width = (head.size_or_type as u64).checked_mul(8);
        if Some(bits as u64) == full_width && extra_offset == 0 {
            Ok(plain)
        } else {
            let bit_offset = (offset as u64)
                .checked_add(extra_offset as u64)
                .ok_or_else(|| bad(format!("bitfield offset {offset:#x} overflows")))?;
            Ok((bit_offset, Some(bits)))
        }
    }

    /// Ids (in this blob, then the base) of named records matching `pred`.
    fn named(&self, name: &str, pred: &dyn Fn(u8, bool) -> bool, out: &mut Vec<TypeId>) -> Result<()> {
        let hash = self.hasher.hash_one(name.as_bytes());
        let mut cur = self.names.find(hash, |&i| self.name_of_index(i) == Some(name.as_bytes())).copied();
        // A chain visits each record at most once unless corrupt; the
        // record count bounds a cycle.
        for _ in 0..self.offsets.len() {
            let Some(idx) = cur else {
                break;
            };
            let off = *self.offsets.get(idx as usize).ok_or_else(|| bad("name index out of range"))?;
            let head = self.head_at(off as usize)?;
            if pred(head.kind, head.kflag) {
                out.push(TypeId(self.id_of_index(idx as usize)? as u64));
            }
            cur = self.next_same_name.get(idx as usize).copied().filter(|&n| n != u32::MAX);
        }
        if let Some(base) = &self.base {
            base.named(name, pred, out)?;
        }
        Ok(())
    }
}

fn is_named_kind(k: u8) -> bool {
    matches!(
        k,
        kind::INT
            | kind::FLOAT
            | kind::STRUCT
            | kind::UNION
            | kind::ENUM
            | kind::ENUM64
            | kind::FWD
            | kind::TYPEDEF
            | kind::FUNC
            | kind::VAR
            | kind::DATASEC
    )
}

fn linkage(raw: u32) -> Linkage {
    match raw {
        0 => Linkage::Static,
        1 => Linkage::Global,
        _ => Linkage::Extern,
    }
}

impl TypeProvider for Btf {
    fn find_enumerator(&self, name: &str) -> Result<Option<(TypeId, i128)>> {
        let own = self.enumerators.get_or_init(|| self.build_enumerators());
        let hash = self.hasher.hash_one(name.as_bytes());
        match own.find(hash, |e| self.string(e.name_off).is_ok_and(|n| n == name.as_bytes())) {
            Some(e) => Ok(Some((TypeId(u64::from(e.id)), e.value))),
            None => match &self.base {
                Some(base) => base.find_enumerator(name),
                None => Ok(None),
            },
        }
    }

    fn type_by_id(&self, id: TypeId) -> Result<Type> {
        if id == TypeId::VOID {
            return Ok(Type::Void);
        }
        let (blob, off) = self.locate(id)?;
        blob.decode(off)
    }

    fn find_types(&self, wanted: TypeKind, name: &str) -> Result<Vec<TypeId>> {
        let mut defs = Vec::new();
        let mut forwards = Vec::new();
        let lookup_name = crate::types::dwarf_base_type_name(name);
        let lookup_name = if wanted == TypeKind::Base { lookup_name.as_ref() } else { name };
        self.named(
            lookup_name,
            &|k, _| match wanted {
                TypeKind::Struct => k == kind::STRUCT,
                TypeKind::Union => k == kind::UNION,
                TypeKind::Enum => k == kind::ENUM || k == kind::ENUM64,
                TypeKind::Typedef => k == kind::TYPEDEF,
                TypeKind::Base => k == kind::INT || k == kind::FLOAT,
            },
            &mut defs,
        )?;
        if matches!(wanted, TypeKind::Struct | TypeKind::Union) {
            let want_union = wanted == TypeKind::Union;
            self.named(name, &|k, kflag| k == kind::FWD && kflag == want_union, &mut forwards)?;
        }
        defs.extend(forwards);
        Ok(defs)
    }

    fn type_names(&self, wanted: TypeKind) -> Result<Vec<String>> {
        let mut names = match &self.base {
            Some(base) => base.type_names(wanted)?,
            None => Vec::new(),
        };
        for &off in &self.offsets {
            let head = self.head_at(off as usize)?;
            let matches = match wanted {
                TypeKind::Struct => head.kind == kind::STRUCT,
                TypeKind::Union => head.kind == kind::UNION,
                TypeKind::Enum => head.kind == kind::ENUM || head.kind == kind::ENUM64,
                TypeKind::Typedef => head.kind == kind::TYPEDEF,
                TypeKind::Base => head.kind == kind::INT || head.kind == kind::FLOAT,
            };
            if matches && head.name_off != 0 {
                if let Ok(name) = self.string(head.name_off) {
                    names.push(String::from_utf8_lossy(name).into_owned());
                }
            }
        }
        Ok(names)
    }

    fn find_variable(&self, name: &str) -> Result<Option<Variable>> {
        let mut ids = Vec::new();
        self.named(name, &|k, _| k == kind::VAR, &mut ids)?;
        let Some(&id) = ids.first() else {
            return Ok(None);
        };
        let Type::Var { name, ty, .. } = self.type_by_id(id)? else {
            return Ok(None);
        };
        let (section, section_offset) = match self.var_section(id) {
            Some((sec, off)) => match self.type_by_id(TypeId(sec as u64))? {
                Type::Datasec { name, .. } => (Some(name), Some(off as u64)),
                _ => (None, None),
            },
            None => (None, None),
        };
        Ok(Some(Variable { name, ty, section, section_offset }))
    }

    fn find_function(&self, name: &str) -> Result<Option<TypeId>> {
        let mut ids = Vec::new();
        self.named(name, &|k, _| k == kind::FUNC, &mut ids)?;
        let Some(&id) = ids.first() else {
            return Ok(None);
        };
        match self.type_by_id(id)? {
            Type::FunctionDecl { proto, .. } => Ok(Some(proto)),
            _ => Ok(None),
        }
    }
}

impl Btf {
    /// Indexes every enum constant of this blob (first definition wins),
    /// by the name's place in the string section: no name is copied.
    fn build_enumerators(&self) -> HashTable<EnumeratorEntry> {
        let mut table: HashTable<EnumeratorEntry> = HashTable::new();
        for (idx, &off) in self.offsets.iter().enumerate() {
            let Ok(head) = self.head_at(off as usize) else {
                continue;
            };
            if head.kind != kind::ENUM && head.kind != kind::ENUM64 {
                continue;
            }
            let Ok(id) = self.id_of_index(idx) else {
                continue;
            };
            let stride = if head.kind == kind::ENUM { 8 } else { 12 };
            let Ok(entries) = self.vlen_entries(off as usize, head.vlen, stride) else {
                continue;
            };
            for entry in entries {
                let Some([name_off, lo]) = read::u32_array(entry) else { continue };
                let value = if head.kind == kind::ENUM {
                    if head.kflag {
                        i128::from(lo as i32)
                    } else {
                        i128::from(lo)
                    }
                } else {
                    let Some([_, _, hi]) = read::u32_array::<3>(entry) else { continue };
                    let raw = (u64::from(hi) << 32) | u64::from(lo);
                    if head.kflag {
                        i128::from(raw as i64)
                    } else {
                        i128::from(raw)
                    }
                };
                let Ok(name) = self.string(name_off) else { continue };
                if name.is_empty() {
                    continue;
                }
                let hash = self.hasher.hash_one(name);
                let same = |e: &EnumeratorEntry| self.string(e.name_off).is_ok_and(|n| n == name);
                if table.find(hash, same).is_none() {
                    table.insert_unique(hash, EnumeratorEntry { name_off, id, value }, |e| {
                        self.hasher.hash_one(self.string(e.name_off).unwrap_or_default())
                    });
                }
            }
        }
        table
    }

    fn var_section(&self, id: TypeId) -> Option<(u32, u32)> {
        let raw = u32::try_from(id.0).ok()?;
        self.var_sections.get(&raw).copied().or_else(|| self.base.as_ref().and_then(|b| b.var_section(id)))
    }
}

#[cfg(test)]
// Fixtures build known-good blobs by hand; overflow and bounds panics are
// test failures here, not input handling.
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::types::TypeOps;

    /// Assembles a BTF blob from type records and a string table.
    pub(crate) fn blob(types: &[u32], strings: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&BTF_MAGIC.to_le_bytes());
        out.extend_from_slice(&[1, 0]);
        let type_len = (types.len() * 4) as u32;
        for v in [24u32, 0, type_len, type_len, strings.len() as u32] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for t in types {
            out.extend_from_slice(&t.to_le_bytes());
        }
        out.extend_from_slice(strings);
        out
    }

    fn info(kind: u8, vlen: u32, kflag: bool) -> u32 {
        ((kind as u32) << 24) | vlen | ((kflag as u32) << 31)
    }

    #[test]
    fn enumerators_by_name_signed_unsigned_and_64_bit() {
        // strings: 0:"" 1:"e" 3:"NEG" 7:"BIG" 11:"e64" 15:"HUGE"
        let strings = b"\0e\0NEG\0BIG\0e64\0HUGE\0";
        let types = [
            1,
            info(kind::ENUM, 2, true),
            4, // 1: enum e (signed)
            3,
            (-5i32) as u32, // NEG = -5
            7,
            7, // BIG = 7
            11,
            info(kind::ENUM64, 2, false),
            8, // 2: enum e64 (unsigned)
            15,
            0,
            0x8000_0000, // HUGE = 1 << 63
            7,
            9,
            0, // BIG again: the first definition wins
        ];
        let btf = Btf::parse(&blob(&types, strings)).unwrap();
        assert_eq!(btf.find_enumerator("NEG").unwrap(), Some((TypeId(1), -5)));
        assert_eq!(btf.find_enumerator("BIG").unwrap(), Some((TypeId(1), 7)));
        assert_eq!(btf.find_enumerator("HUGE").unwrap(), Some((TypeId(2), 1i128 << 63)));
        assert_eq!(btf.find_enumerator("e").unwrap(), None);
        assert_eq!(btf.find_enumerator("").unwrap(), None);
    }

    #[test]
    fn synthetic_struct_with_bitfields() {
        // strings: 0:"" 1:"int" 5:"foo" 9:"a" 11:"b" 13:"p"
        let strings = b"\0int\0foo\0a\0b\0p\0";
        let types = [
            1,
            info(kind::INT, 0, false),
            4,
            (1 << 24) | 32, // 1: int
            5,
            info(kind::STRUCT, 3, true),
            16, // 2: struct foo
            9,
            1,
            0, // a: int at 0
            11,
            1,
            (3 << 24) | 32, // b: int:3 at bit 32
            13,
            3,
            64, // p: int * at 64
            0,
            info(kind::PTR, 0, false),
            1, // 3: int *
        ];
        let btf = Btf::parse(&blob(&types, strings)).unwrap();
        assert_eq!(btf.len(), 3);
        let foo = btf.find_type(TypeKind::Struct, "foo").unwrap();
        let b = btf.member_path(foo, "b").unwrap();
        assert_eq!((b.bit_offset, b.bitfield_size), (32, Some(3)));
        assert_eq!(btf.type_name(btf.member_path(foo, "p").unwrap().ty), "int *");
        assert_eq!(btf.size_of(foo).unwrap(), 16);
    }

    #[test]
    fn absurd_header_sizes_are_errors() {
        let good = blob(&[1, info(kind::INT, 0, false), 4, 32], b"\0int\0");
        Btf::parse(&good).unwrap();
        // Header words: hdr_len at 4, type_off 8, type_len 12, str_off 16, str_len 20.
        for (at, value) in [
            (4, u32::MAX),
            (4, 23),
            (8, u32::MAX),
            (8, 0x8000_0000),
            (12, u32::MAX),
            (12, 0xffff_fff0),
            (16, u32::MAX),
            (20, u32::MAX),
            (20, 0x8000_0000),
        ] {
            let mut bytes = good.clone();
            bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
            assert!(Btf::parse(&bytes).is_err(), "header word at {at} = {value:#x}");
        }
    }

    #[test]
    fn records_claiming_too_much_are_errors() {
        let strings = b"\0int\0s\0";
        // A struct claiming 0xffff members in a 12-byte record.
        assert!(Btf::parse(&blob(&[5, info(kind::STRUCT, 0xffff, false), 8], strings)).is_err());
        // A name offset far past the string section.
        assert!(Btf::parse(&blob(&[0xffff_fff0, info(kind::INT, 0, false), 4, 32], strings)).is_err());
        // An unknown kind.
        assert!(Btf::parse(&blob(&[0, info(31, 0, false), 0], strings)).is_err());
        // A member whose name offset is past the strings: parses (members
        // are decoded lazily) but decoding it is an error, not a panic.
        let types = [1, info(kind::INT, 0, false), 4, 32, 5, info(kind::STRUCT, 1, false), 4, u32::MAX, 1, 0];
        let btf = Btf::parse(&blob(&types, strings)).unwrap();
        assert!(btf.type_by_id(TypeId(2)).is_err());
        // Member types pointing at ids past the table stay unresolvable.
        let types = [1, info(kind::INT, 0, false), 4, 32, 5, info(kind::STRUCT, 1, false), 4, 1, u32::MAX, 0];
        let btf = Btf::parse(&blob(&types, strings)).unwrap();
        let s = btf.find_type(TypeKind::Struct, "s").unwrap();
        assert!(btf.member_path(s, "int.x").is_err());
        assert!(btf.ptype(s).contains(&format!("<unknown type {}> int;", u32::MAX)), "{}", btf.ptype(s));
        assert_eq!(btf.type_name(TypeId(u32::MAX as u64)), format!("<unknown type {}>", u32::MAX));
        assert!(btf.type_by_id(TypeId(u64::MAX)).is_err());
    }

    #[test]
    fn rejects_garbage() {
        assert!(Btf::parse(b"").is_err());
        assert!(Btf::parse(&[0u8; 64]).is_err());
        let mut truncated = blob(&[1, info(kind::STRUCT, 100, false), 4], b"\0x\0");
        truncated.truncate(truncated.len());
        assert!(Btf::parse(&truncated).is_err());
    }
}
