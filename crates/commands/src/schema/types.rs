//! Documents of the commands that show memory as C values: `p`/`px`/`pd`,
//! `struct`/`union`, `task`, `whatis`/`ptype`, `list`, `tree`, `rd`, `search`.

use schemars::JsonSchema;
use serde::Serialize;

use super::common::{members, Aggregate, Member, Object, SymbolRef, Task, Value};
use super::numbers::{hex, Hex, HexBytes};
use crate::output as out;

/// `p`, `px`, `pd`: values, or per-cpu listings.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PrintData {
    pub entries: Vec<PrintEntry>,
}

/// One printed value or per-cpu listing.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PrintEntry {
    Value {
        label: Option<PrintLabel>,
        /// The value history number (`$N`).
        history: usize,
        /// A pointer's C type (gdb shows it before the value).
        pointer_type: Option<String>,
        value: Value,
    },
    /// A per-cpu variable named alone: its C declaration and each CPU's copy.
    PerCpu { declaration: String, addresses: Vec<CpuAddress> },
}

/// What a value is named after.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PrintLabel {
    Variable {
        name: String,
    },
    /// `EXPR:N`: the expression with CPU `cpu`'s per-cpu variables.
    PerCpu {
        expression: String,
        cpu: u32,
    },
}

/// One CPU's copy of a per-cpu object.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CpuAddress {
    pub cpu: u32,
    pub addr: Hex,
}

impl From<&out::Print> for PrintData {
    fn from(p: &out::Print) -> Self {
        let entries = p
            .entries
            .iter()
            .map(|e| match e {
                out::PrintEntry::Value { label, history, pointer_type, value } => PrintEntry::Value {
                    label: label.as_ref().map(|l| match l {
                        out::PrintLabel::Variable { name } => PrintLabel::Variable { name: name.clone() },
                        out::PrintLabel::PerCpu { expression, cpu } => {
                            PrintLabel::PerCpu { expression: expression.clone(), cpu: *cpu }
                        }
                    }),
                    history: *history,
                    pointer_type: pointer_type.clone(),
                    value: value.into(),
                },
                out::PrintEntry::PerCpu { declaration, addresses } => PrintEntry::PerCpu {
                    declaration: declaration.clone(),
                    addresses: addresses.iter().map(|a| CpuAddress { cpu: a.cpu, addr: hex(a.addr) }).collect(),
                },
            })
            .collect();
        PrintData { entries }
    }
}

/// `struct` / `union`: a type's definition or layout, or objects.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StructData {
    pub blocks: Vec<StructBlock>,
}

/// One block of `struct` output.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StructBlock {
    /// The type's C definition (as gdb's ptype shows it) and its size in bytes.
    Definition { text: String, size: u64 },
    /// `-o`: each member's offset (and address, when one was given).
    Offsets {
        keyword: Aggregate,
        name: Option<String>,
        /// The typedef the type was named by.
        typedef: Option<String>,
        /// The object's address, when one was given.
        base: Option<Hex>,
        lines: Vec<OffsetLine>,
        /// The type's size (no address given).
        size: Option<u64>,
    },
    /// A whole object.
    Object { object: Object },
    /// Chosen members of one object.
    Members { members: Vec<Member> },
    /// `-r`: the object's bytes.
    Raw { addr: Hex, bytes: HexBytes },
    /// The blocks that follow are CPU `cpu`'s copy of a per-cpu object, at `addr`.
    PerCpu { cpu: u32, addr: Hex },
    /// The object cannot be read.
    Unreadable { addr: Hex, error: String },
}

/// One line of a `-o` layout.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OffsetLine {
    /// A member: its byte offset in the type (and address with one given),
    /// nesting depth in anonymous structs/unions, and C declaration.
    Member {
        offset: u64,
        address: Option<Hex>,
        depth: usize,
        declaration: String,
        /// A bitfield's width in bits.
        bit_width: Option<u32>,
    },
    /// An anonymous struct or union opens.
    Open { depth: usize, keyword: Aggregate },
    /// It closes; `name` is the member it is, when it has one.
    Close { depth: usize, offset: u64, name: Option<String> },
}

pub(crate) fn struct_block(b: &out::StructBlock) -> StructBlock {
    match b {
        out::StructBlock::Definition { text, size, .. } => StructBlock::Definition { text: text.clone(), size: *size },
        out::StructBlock::Offsets(l) => StructBlock::Offsets {
            keyword: l.keyword.into(),
            name: l.name.clone(),
            typedef: l.typedef.clone(),
            base: l.base.map(Hex),
            lines: l
                .lines
                .iter()
                .map(|line| match line {
                    out::OffsetLine::Member { offset, depth, declaration, bit_width, .. } => OffsetLine::Member {
                        offset: *offset,
                        address: l.base.map(|b| hex(b.wrapping_add(*offset))),
                        depth: *depth,
                        declaration: declaration.clone(),
                        bit_width: *bit_width,
                    },
                    out::OffsetLine::Open { depth, keyword } => {
                        OffsetLine::Open { depth: *depth, keyword: (*keyword).into() }
                    }
                    out::OffsetLine::Close { depth, offset, name, .. } => {
                        OffsetLine::Close { depth: *depth, offset: *offset, name: name.clone() }
                    }
                })
                .collect(),
            size: l.size,
        },
        out::StructBlock::Object(o) => StructBlock::Object { object: o.into() },
        out::StructBlock::Members { members: m } => StructBlock::Members { members: members(m) },
        out::StructBlock::Raw { addr, bytes } => StructBlock::Raw { addr: hex(*addr), bytes: HexBytes(bytes.clone()) },
        out::StructBlock::CpuLabel { cpu, addr } => StructBlock::PerCpu { cpu: *cpu, addr: hex(*addr) },
        out::StructBlock::Unreadable { addr, error, .. } => {
            StructBlock::Unreadable { addr: hex(*addr), error: error.clone() }
        }
    }
}

impl From<&out::StructOutput> for StructData {
    fn from(s: &out::StructOutput) -> Self {
        StructData { blocks: s.blocks.iter().map(struct_block).collect() }
    }
}

/// `task`: each task's task_struct (and thread_info), or chosen members.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TaskData {
    pub entries: Vec<TaskEntry>,
}

/// One task's part of `task`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TaskEntry {
    pub task: Task,
    pub blocks: Vec<StructBlock>,
}

impl From<&out::TaskOutput> for TaskData {
    fn from(t: &out::TaskOutput) -> Self {
        TaskData {
            entries: t
                .entries
                .iter()
                .map(|e| TaskEntry { task: (&e.header).into(), blocks: e.blocks.iter().map(struct_block).collect() })
                .collect(),
        }
    }
}

/// `whatis` / `ptype`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WhatisData {
    /// A named type: its C definition and size in bytes (null when unknown).
    Type { definition: String, size: Option<u64> },
    /// A variable or function: its C declaration.
    Declaration { declaration: String },
    /// The C type of an expression.
    Expression { type_name: String },
    /// `ptype`: the type with struct, union and enum bodies expanded.
    Ptype { definition: String },
}

impl From<&out::Whatis> for WhatisData {
    fn from(w: &out::Whatis) -> Self {
        match w {
            out::Whatis::Type { definition, size } => WhatisData::Type { definition: definition.clone(), size: *size },
            out::Whatis::Declaration { declaration } => WhatisData::Declaration { declaration: declaration.clone() },
            out::Whatis::Expression { type_name } => WhatisData::Expression { type_name: type_name.clone() },
            out::Whatis::Ptype { definition } => WhatisData::Ptype { definition: definition.clone() },
        }
    }
}

/// `list`: the entries of a linked list.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ListData {
    pub entries: Vec<ListEntry>,
    /// Why the walk stopped early.
    pub broken: Option<ListBreak>,
}

/// One list entry.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ListEntry {
    pub addr: Hex,
    /// `-s struct.member,...`: those members.
    pub members: Vec<Member>,
    /// `-s struct`: the whole object.
    pub object: Option<Object>,
}

/// Why a list walk stopped before returning to its start.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ListBreak {
    /// The list loops back to `at`, not to its start.
    Cycle {
        at: Hex,
    },
    Unreadable {
        node: Hex,
        error: String,
    },
    /// `node->next->prev` is not `node`.
    BadBacklink {
        node: Hex,
        next: Hex,
        next_prev: Hex,
    },
    /// More entries than krash walks.
    Limit {
        limit: usize,
    },
}

impl From<&out::ListOutput> for ListData {
    fn from(l: &out::ListOutput) -> Self {
        use krash_program::list::ListBreak as B;
        ListData {
            entries: l
                .entries
                .iter()
                .map(|e| ListEntry {
                    addr: hex(e.addr),
                    members: members(&e.members),
                    object: e.object.as_deref().map(Object::from),
                })
                .collect(),
            broken: l.broken.as_ref().map(|b| match b {
                B::Cycle { at } => ListBreak::Cycle { at: hex(*at) },
                B::Unreadable { node, error } => ListBreak::Unreadable { node: hex(*node), error: error.clone() },
                B::BadBacklink { node, next, next_prev } => {
                    ListBreak::BadBacklink { node: hex(*node), next: hex(*next), next_prev: hex(*next_prev) }
                }
                B::Limit { limit } => ListBreak::Limit { limit: *limit },
            }),
        }
    }
}

/// `tree`: the entries of a red-black tree, radix tree, XArray or maple tree.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TreeData {
    pub entries: Vec<TreeEntry>,
    /// Why the walk stopped early.
    pub broken: Option<String>,
}

/// One tree entry.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TreeEntry {
    pub addr: Hex,
    /// `-p`: where the entry is.
    pub position: Option<TreePosition>,
    pub members: Vec<Member>,
    pub object: Option<Object>,
}

/// Where an entry is in its tree.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TreePosition {
    /// An rbtree node's path from the root (`root/l/r`).
    Path {
        path: String,
    },
    Index {
        index: u64,
    },
    /// A maple tree entry's index range.
    Range {
        first: u64,
        last: u64,
    },
}

impl From<&out::TreeOutput> for TreeData {
    fn from(t: &out::TreeOutput) -> Self {
        TreeData {
            entries: t
                .entries
                .iter()
                .map(|e| TreeEntry {
                    addr: hex(e.addr),
                    position: e.position.as_ref().map(|p| match p {
                        out::TreePosition::Path { path } => TreePosition::Path { path: path.clone() },
                        out::TreePosition::Index { index } => TreePosition::Index { index: *index },
                        out::TreePosition::Range { first, last } => TreePosition::Range { first: *first, last: *last },
                    }),
                    members: members(&e.members),
                    object: e.object.as_ref().map(Object::from),
                })
                .collect(),
            broken: t.broken.clone(),
        }
    }
}

/// `rd`: memory read.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RdData {
    pub space: AddressSpace,
    pub start: Hex,
    /// Bytes per unit: 1, 2, 4 or 8.
    pub unit_size: u8,
    pub units: Vec<RdUnit>,
    /// The bytes read.
    pub bytes: HexBytes,
    /// Why the read stopped short of what was asked.
    pub error: Option<String>,
}

/// Which memory an address is in.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AddressSpace {
    Kernel,
    Physical,
    User,
}

/// One unit read (in the byte order asked for: `-N` swaps).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RdUnit {
    pub addr: Hex,
    pub value: Hex,
    /// `-s`: the symbol the value points into.
    pub symbol: Option<SymbolRef>,
}

impl From<&out::MemoryRead> for RdData {
    fn from(m: &out::MemoryRead) -> Self {
        RdData {
            space: match m.space {
                out::Space::Kernel => AddressSpace::Kernel,
                out::Space::Physical => AddressSpace::Physical,
                out::Space::User => AddressSpace::User,
            },
            start: hex(m.start),
            unit_size: m.unit_size,
            units: m
                .units
                .iter()
                .map(|u| RdUnit {
                    addr: hex(u.addr),
                    value: hex(u.value),
                    symbol: u.symbol.as_ref().map(SymbolRef::from),
                })
                .collect(),
            bytes: HexBytes(m.bytes.clone()),
            error: m.error.clone(),
        }
    }
}

/// `search`: the matches, in groups (one per task for `-t`/`-T`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SearchData {
    pub groups: Vec<SearchGroup>,
    /// Bytes per value searched (8, 4 with -w, 2 with -h).
    pub unit_size: usize,
    /// The start given, rounded down to the unit size.
    pub rounded_start: Option<Hex>,
    /// The hit limit stopped the search.
    pub truncated: bool,
    /// Ranges searched only in part (`[start, end)`): their page tables
    /// could not be walked to the end (corrupt or absurdly large).
    pub incomplete: Vec<AddressRange>,
}

/// One task's matches (`-t`), or all of them.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SearchGroup {
    pub task: Option<Task>,
    pub hits: Vec<SearchHit>,
}

/// One match.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SearchHit {
    pub addr: Hex,
    pub found: Found,
    /// `-x`: the memory around the match, the match included.
    pub context: Vec<SearchContext>,
}

/// What was found.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Found {
    /// A value; `label` is the symbol or expression searched for, when one was.
    Value { value: Hex, label: Option<String> },
    /// `-c`: the string and the text around it.
    String { window: String },
}

/// One unit of memory around a match.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SearchContext {
    pub addr: Hex,
    pub value: Hex,
    /// Its bytes, unprintable ones as dots.
    pub ascii: String,
    pub is_match: bool,
}

impl From<&out::SearchOutput> for SearchData {
    fn from(s: &out::SearchOutput) -> Self {
        SearchData {
            groups: s
                .groups
                .iter()
                .map(|g| SearchGroup {
                    task: g.task.as_ref().map(Task::from),
                    hits: g
                        .hits
                        .iter()
                        .map(|h| SearchHit {
                            addr: hex(h.addr),
                            found: match &h.found {
                                out::Found::Value { value, label } => {
                                    Found::Value { value: hex(*value), label: label.clone() }
                                }
                                out::Found::String { window } => Found::String { window: window.clone() },
                            },
                            context: h
                                .context
                                .iter()
                                .map(|c| SearchContext {
                                    addr: hex(c.addr),
                                    value: hex(c.value),
                                    ascii: c.ascii.clone(),
                                    is_match: c.is_match,
                                })
                                .collect(),
                        })
                        .collect(),
                })
                .collect(),
            unit_size: s.width / 2,
            rounded_start: s.rounded_start.map(Hex),
            truncated: s.truncated,
            incomplete: s
                .incomplete
                .iter()
                .map(|(start, end)| AddressRange { start: hex(*start), end: hex(*end) })
                .collect(),
        }
    }
}

/// A range of addresses, `[start, end)`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AddressRange {
    pub start: Hex,
    pub end: Hex,
}
