//! Pieces many commands' documents share: tasks, source lines, symbols,
//! values, pages, VMAs, registers.

use schemars::JsonSchema;
use serde::Serialize;

use super::numbers::{hex, Hex, IntDecimal};
use crate::output as out;

/// A task's scheduler state as crash abbreviates it (`??`: a state value
/// no known bit explains).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub enum TaskState {
    #[serde(rename = "RU")]
    Running,
    #[serde(rename = "IN")]
    Interruptible,
    #[serde(rename = "UN")]
    Uninterruptible,
    #[serde(rename = "ST")]
    Stopped,
    #[serde(rename = "TR")]
    Traced,
    #[serde(rename = "ZO")]
    Zombie,
    #[serde(rename = "DE")]
    Dead,
    #[serde(rename = "PA")]
    Parked,
    #[serde(rename = "WA")]
    Waking,
    #[serde(rename = "ID")]
    Idle,
    #[serde(rename = "NE")]
    New,
    #[serde(rename = "??")]
    Unknown,
}

impl From<out::TaskState> for TaskState {
    fn from(s: out::TaskState) -> Self {
        use out::TaskState as S;
        match s {
            S::RU => TaskState::Running,
            S::IN => TaskState::Interruptible,
            S::UN => TaskState::Uninterruptible,
            S::ST => TaskState::Stopped,
            S::TR => TaskState::Traced,
            S::ZO => TaskState::Zombie,
            S::DE => TaskState::Dead,
            S::PA => TaskState::Parked,
            S::WA => TaskState::Waking,
            S::ID => TaskState::Idle,
            S::NE => TaskState::New,
            S::Unknown(_) => TaskState::Unknown,
        }
    }
}

/// A task, as crash's `PID: ... TASK: ... CPU: ... COMMAND: ...` line names it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Task {
    pub pid: i32,
    /// The task_struct.
    pub task: Hex,
    pub cpu: u32,
    pub comm: String,
    pub state: TaskState,
}

impl From<&out::TaskHeader> for Task {
    fn from(h: &out::TaskHeader) -> Self {
        Task { pid: h.pid, task: hex(h.task), cpu: h.cpu, comm: h.comm.clone(), state: h.state.into() }
    }
}

pub(crate) fn tasks(v: &[out::TaskHeader]) -> Vec<Task> {
    v.iter().map(Task::from).collect()
}

/// A source line of kernel or module code, from DWARF.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SourceLocation {
    /// The full path (compilation directory joined), as gdb and crash show it.
    pub file: String,
    /// The path as the kernel's scripts/faddr2line shows it (relative to the
    /// source tree where DWARF allows; otherwise the same as `file`).
    pub relative: String,
    pub line: u32,
    /// The column, when DWARF records one.
    pub column: Option<u32>,
}

impl From<&out::SourceLocation> for SourceLocation {
    fn from(l: &out::SourceLocation) -> Self {
        SourceLocation { file: l.file.clone(), relative: l.relative.clone(), line: l.line, column: l.column }
    }
}

pub(crate) fn source(l: &Option<out::SourceLocation>) -> Option<SourceLocation> {
    l.as_ref().map(SourceLocation::from)
}

/// One level of an inline chain: `function` runs at `location`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct InlineLocation {
    pub function: String,
    pub location: Option<SourceLocation>,
}

impl From<&out::InlineLocation> for InlineLocation {
    fn from(l: &out::InlineLocation) -> Self {
        InlineLocation { function: l.function.clone(), location: source(&l.location) }
    }
}

/// A symbol and an offset into it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SymbolRef {
    pub name: String,
    pub offset: u64,
}

impl From<&out::SymbolRef> for SymbolRef {
    fn from(s: &out::SymbolRef) -> Self {
        SymbolRef { name: s.name.clone(), offset: s.offset }
    }
}

/// A C value: its type as gdb names it, gdb's text of it (what `p` and
/// `struct` print) and, read from the value's bytes, the number behind the
/// text, a struct's fields with their offsets, or an array's elements.
/// `type` is null only past krash's nesting limit.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Value {
    /// An integer type (`char` and `_Bool` included; a bitfield too).
    Integer {
        r#type: Option<String>,
        text: String,
        /// The value, sign-extended when the type is signed.
        value: IntDecimal,
        /// Its bits (`bits` of them) as stored, zero-extended.
        raw: Hex,
        /// The width in bits (a bitfield's own width).
        bits: u64,
    },
    /// An enum.
    Enum {
        r#type: Option<String>,
        text: String,
        value: IntDecimal,
        raw: Hex,
        bits: u64,
        /// The enumerator the value equals.
        enumerator: Option<String>,
        /// A value made of flag enumerators (gdb's `(A | B)`): those
        /// enumerators; empty otherwise.
        flags: Vec<String>,
    },
    /// A pointer (or a flexible array member: where it starts).
    Pointer {
        r#type: Option<String>,
        text: String,
        address: Hex,
        /// The kernel or module symbol the pointer points into.
        symbol: Option<SymbolRef>,
    },
    /// A function (its code, not a pointer to it).
    Function {
        r#type: Option<String>,
        text: String,
        address: Hex,
        symbol: Option<SymbolRef>,
    },
    /// A `float` or `double` (null: a size krash does not decode).
    Float {
        r#type: Option<String>,
        text: String,
        value: Option<f64>,
    },
    /// gdb's text with no single number behind it: a char array's string,
    /// `{<No data fields>}`, `void`, an incomplete type.
    Text {
        r#type: Option<String>,
        text: String,
    },
    /// The value could not be read: `text` is gdb's `<error: ...>`.
    Unreadable {
        r#type: Option<String>,
        text: String,
        error: String,
    },
    Struct {
        r#type: Option<String>,
        fields: Vec<Field>,
    },
    /// `truncated`: gdb stopped after its element limit.
    Array {
        r#type: Option<String>,
        elements: Vec<Value>,
        truncated: bool,
    },
}

/// One field of a struct or union value (`name` is null for an anonymous
/// member). Its C type is `value.type`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Field {
    pub name: Option<String>,
    /// Byte offset in the struct (`struct -o`'s offset); for a bitfield, of
    /// the byte holding its first bit.
    pub offset: u64,
    /// A bitfield's offset in bits from the struct's start.
    pub bit_offset: Option<u64>,
    /// A bitfield's width in bits.
    pub bit_size: Option<u32>,
    pub value: Value,
}

/// The low `bits` bits of `v` (two's complement for negative values).
fn raw_bits(v: i128, bits: u64) -> Hex {
    let mask = if bits == 0 || bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 };
    hex((v as u64) & mask)
}

fn symbol_ref(s: &Option<(String, u64)>) -> Option<SymbolRef> {
    s.as_ref().map(|(name, offset)| SymbolRef { name: name.clone(), offset: *offset })
}

impl From<&out::ValueText> for Value {
    fn from(v: &out::ValueText) -> Self {
        use krash_eval::value::ScalarData as D;
        match v {
            out::ValueText::Scalar { text, ty, data } => {
                let (r#type, text) = (ty.clone(), text.clone());
                match data {
                    None => Value::Text { r#type, text },
                    Some(D::Integer { value, bits }) => Value::Integer {
                        r#type,
                        text,
                        value: IntDecimal(*value),
                        raw: raw_bits(*value, *bits),
                        bits: *bits,
                    },
                    Some(D::Enum { value, bits, name, flags }) => Value::Enum {
                        r#type,
                        text,
                        value: IntDecimal(*value),
                        raw: raw_bits(*value, *bits),
                        bits: *bits,
                        enumerator: name.clone(),
                        flags: flags.clone(),
                    },
                    Some(D::Pointer { address, symbol }) => {
                        Value::Pointer { r#type, text, address: hex(*address), symbol: symbol_ref(symbol) }
                    }
                    Some(D::Function { address, symbol }) => {
                        Value::Function { r#type, text, address: hex(*address), symbol: symbol_ref(symbol) }
                    }
                    // JSON has no NaN or infinity: those are null.
                    Some(D::Float { value }) => Value::Float { r#type, text, value: value.filter(|f| f.is_finite()) },
                    Some(D::Error { message }) => Value::Unreadable { r#type, text, error: message.clone() },
                }
            }
            out::ValueText::Struct { ty, fields } => Value::Struct {
                r#type: ty.clone(),
                fields: fields
                    .iter()
                    .map(|f| Field {
                        name: f.name.clone(),
                        offset: f.offset,
                        bit_offset: f.bitfield.map(|b| b.0),
                        bit_size: f.bitfield.map(|b| b.1),
                        value: (&f.value).into(),
                    })
                    .collect(),
            },
            out::ValueText::Array { ty, elements, truncated } => Value::Array {
                r#type: ty.clone(),
                elements: elements.iter().map(Value::from).collect(),
                truncated: *truncated,
            },
        }
    }
}

/// `struct` or `union`.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    Struct,
    Union,
}

impl From<out::Aggregate> for Aggregate {
    fn from(a: out::Aggregate) -> Self {
        match a {
            out::Aggregate::Struct => Aggregate::Struct,
            out::Aggregate::Union => Aggregate::Union,
        }
    }
}

/// One member of an object (`struct x.a,b ADDR`, `-s struct.member`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Member {
    /// The member path as given (`se.load`).
    pub name: String,
    /// Byte offset in the object (null for a path through a pointer,
    /// `mm.pgd`, which leaves the object); for a bitfield, of the byte
    /// holding its first bit.
    pub offset: Option<u64>,
    /// A bitfield's offset in bits from the object's start.
    pub bit_offset: Option<u64>,
    /// A bitfield's width in bits.
    pub bit_size: Option<u32>,
    /// The member's address (null for a bitfield).
    pub address: Option<Hex>,
    pub value: Value,
}

pub(crate) fn members(v: &[out::MemberValue]) -> Vec<Member> {
    v.iter()
        .map(|m| {
            let bitfield = m.location.and_then(|l| l.bitfield_size.map(|w| (l.bit_offset, w)));
            Member {
                name: m.name.clone(),
                offset: m.location.map(|l| l.byte_offset()),
                bit_offset: bitfield.map(|b| b.0),
                bit_size: bitfield.map(|b| b.1),
                address: m.address.map(hex),
                value: (&m.value).into(),
            }
        })
        .collect()
}

/// A whole object: its type and value.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Object {
    pub keyword: Aggregate,
    /// The struct or union name.
    pub name: String,
    pub value: Value,
}

impl From<&out::ObjectValue> for Object {
    fn from(o: &out::ObjectValue) -> Self {
        Object { keyword: o.header.keyword.into(), name: o.header.name.clone(), value: (&o.value).into() }
    }
}

/// A `struct page`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Page {
    /// The struct page.
    pub page: Hex,
    /// The physical address of the page frame.
    pub phys: Hex,
    /// `page->flags`.
    pub flags: Hex,
    pub mapping: Hex,
    /// `page->index` (a raw word: its meaning depends on the page's use).
    pub index: Hex,
    /// `page->_refcount`.
    pub count: u32,
    /// The `PG_` flags set, without the prefix.
    pub flag_names: Vec<String>,
}

impl From<&out::PageInfo> for Page {
    fn from(p: &out::PageInfo) -> Self {
        Page {
            page: hex(p.page),
            phys: hex(p.phys),
            flags: hex(p.flags),
            mapping: hex(p.mapping),
            index: hex(p.index),
            count: p.count,
            flag_names: p.flag_names.clone(),
        }
    }
}

pub(crate) fn pages(v: &[out::PageInfo]) -> Vec<Page> {
    v.iter().map(Page::from).collect()
}

/// A virtual memory area (`vm_area_struct`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Vma {
    /// The vm_area_struct.
    pub addr: Hex,
    pub start: Hex,
    pub end: Hex,
    /// `vm_flags`.
    pub flags: Hex,
    /// The mapped `struct file` (0x0 for anonymous memory).
    pub file: Hex,
    /// `vm_pgoff`, in pages.
    pub pgoff: u64,
    /// The mapped file's path.
    pub path: Option<String>,
}

impl From<&out::Vma> for Vma {
    fn from(v: &out::Vma) -> Self {
        Vma {
            addr: hex(v.addr),
            start: hex(v.start),
            end: hex(v.end),
            flags: hex(v.flags),
            file: hex(v.file),
            pgoff: v.pgoff,
            path: v.path.clone(),
        }
    }
}

/// Where a user page is.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PageLocation {
    /// In memory at `phys` (`prot_none`: mapped PROT_NONE).
    Mapped {
        phys: Hex,
        prot_none: bool,
    },
    /// Swapped out to slot `offset` of swap area `swap_type` (its device, when known).
    Swap {
        device: Option<String>,
        swap_type: u64,
        offset: u64,
    },
    /// A file page not faulted in: the file and the byte offset in it.
    File {
        path: String,
        offset: u64,
    },
    NotMapped,
}

impl From<&out::PageLocation> for PageLocation {
    fn from(l: &out::PageLocation) -> Self {
        match l {
            out::PageLocation::Mapped { phys, prot_none } => {
                PageLocation::Mapped { phys: hex(*phys), prot_none: *prot_none }
            }
            out::PageLocation::Swap { device, entry } => {
                PageLocation::Swap { device: device.clone(), swap_type: entry.kind, offset: entry.offset }
            }
            out::PageLocation::File { path, offset } => PageLocation::File { path: path.clone(), offset: *offset },
            out::PageLocation::NotMapped => PageLocation::NotMapped,
        }
    }
}

/// Registers by name (a saved register frame or a CPU's saved state):
/// each register the source saved, under its lowercase name as gdb
/// spells it (x86-64: `rip`, `rsp`, `rflags`, `rax` ... `r15`, `orig_rax`,
/// `cs`, `ss`, `fs_base`, `gs_base`, and `cr3` where the source has
/// control registers), in the architecture's order. A register the source
/// did not save is absent: an x86-64 iret frame has only `rip`, `cs`,
/// `rflags`, `rsp` and `ss`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registers(pub Vec<(&'static str, Hex)>);

impl Serialize for Registers {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl JsonSchema for Registers {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Registers".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let value = generator.subschema_for::<Hex>();
        schemars::json_schema!({
            "type": "object",
            "additionalProperties": value,
            "description": "Registers by name (a saved register frame or a CPU's saved state): each register the source saved, under its lowercase name as gdb spells it (x86-64: rip, rsp, rflags, rax ... r15, orig_rax, cs, ss, fs_base, gs_base, and cr3 where the source has control registers), in the architecture's order. A register the source did not save is absent: an x86-64 iret frame has only rip, cs, rflags, rsp and ss."
        })
    }
}

impl From<&krash_arch::RegisterFile> for Registers {
    fn from(r: &krash_arch::RegisterFile) -> Self {
        Registers(r.iter().map(|(desc, _, value)| (desc.name, hex(value))).collect())
    }
}
