//! `struct` / `union` (and crash's `TYPE.member ADDR` shorthand): a type's
//! layout, or the objects at an address, printed as gdb would.

use krash_core::{Error, Result, VirtualMemory};
use krash_debuginfo::types::{MemberLocation, Type, TypeId, TypeKind, TypeOps, TypeProvider};
use krash_eval::value::ValueExt;
use krash_eval::value::{Radix, Value, ValueText};
use krash_program::type_arena::TypeArena;
use krash_program::Kernel;

use crate::{getopt, CommandSpec, Output, Session};

const DETAILS: &str = "  name     a struct/union name; name.m1,m2 shows only those members, and a\n\
\x20          member may be a path (se.load, thread.sp) or follow a pointer (mm.pgd)\n\
\x20 address  hexadecimal address or symbol of the object; ADDR:N or SYMBOL:N is CPU N's\n\
\x20          copy of a per-cpu object, :a every CPU's\n\
\x20 count    how many consecutive objects to show\n\
\x20 -o       member offsets (absolute addresses when an address is given)\n\
\x20 -x       integers in hexadecimal\n\
\x20 -d       integers in decimal\n\
\x20 -r       raw memory of the object, as hexadecimal words\n\
\x20 -l offset|struct.member  the address is of that embedded member, not of the object\n\
A first word that is a struct or union name runs this command (task_struct.pid ADDR).";

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "struct",
    aliases: &["*"],
    summary: "structure contents",
    synopsis: "struct struct_name[.member[,member]] [-o] [-l offset] [-rxd] [address | symbol][:cpuspec] [count]",
    details: DETAILS,
    run: run_struct,
};

pub(crate) const UNION_SPEC: CommandSpec = CommandSpec {
    name: "union",
    aliases: &[],
    summary: "union contents",
    synopsis: "union union_name[.member[,member]] [-o] [-l offset] [-rxd] [address | symbol][:cpuspec] [count]",
    details: DETAILS,
    run: run_union,
};

/// `struct` or `union`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    Struct,
    Union,
}

impl Aggregate {
    pub fn keyword(self) -> &'static str {
        match self {
            Aggregate::Struct => "struct",
            Aggregate::Union => "union",
        }
    }
}

/// The type an object is shown as: `struct NAME` / `union NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeHeader {
    pub keyword: Aggregate,
    pub name: String,
}

/// One whole object: its type and its value.
#[derive(Debug, Clone)]
pub struct ObjectValue {
    pub header: TypeHeader,
    pub value: ValueText,
}

/// One line of crash's `-o` layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OffsetLine {
    /// A member at `offset` (bytes from the start of the type); `depth` is
    /// how many anonymous structs/unions enclose it; `labelled` is false
    /// inside a named anonymous struct, whose members crash shows without
    /// their offsets.
    Member { offset: u64, labelled: bool, depth: usize, declaration: String, bit_width: Option<u32> },
    /// An anonymous struct or union opens.
    Open { depth: usize, keyword: Aggregate },
    /// It closes; with the member name when it has one (`} b;`), labelled
    /// with its offset.
    Close { depth: usize, offset: u64, labelled: bool, name: Option<String> },
}

/// crash's `-o` layout of a type, or of an object at an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetLayout {
    pub keyword: Aggregate,
    /// The struct or union tag, None for an anonymous one.
    pub name: Option<String>,
    /// The typedef naming it, when the type was named by a typedef.
    pub typedef: Option<String>,
    /// With an address: members are labelled with their addresses.
    pub base: Option<u64>,
    /// Offsets in hexadecimal (`-x`).
    pub hex: bool,
    /// The type's size (the label column is as wide as its label).
    pub type_size: u64,
    pub lines: Vec<OffsetLine>,
    /// `SIZE:` after the layout (no address given).
    pub size: Option<u64>,
}

/// One block of `struct` output.
#[derive(Debug, Clone)]
pub enum StructBlock {
    /// The type's declaration (`struct x {...}`, as gdb's ptype shows it)
    /// and its size (`hex`: shown in hexadecimal).
    Definition { text: String, size: u64, hex: bool },
    /// The layout with offsets (`-o`).
    Offsets(OffsetLayout),
    /// One whole object: `struct x {...}` with values.
    Object(ObjectValue),
    /// Chosen members of one object: `  name = value,` lines.
    Members { members: Vec<MemberValue> },
    /// Raw memory of one object (`-r`).
    Raw { addr: u64, bytes: Vec<u8> },
    /// `[N]: ADDR` label of a per-cpu copy.
    CpuLabel { cpu: u32, addr: u64 },
    /// The object at `addr` cannot be read.
    Unreadable { keyword: Aggregate, addr: u64, error: String },
}

/// One `name = value` member line.
#[derive(Debug, Clone)]
pub struct MemberValue {
    pub name: String,
    pub value: ValueText,
    /// Where the member is in the object: None for a path through a
    /// pointer (`mm.pgd`), which leaves the object.
    pub location: Option<MemberLocation>,
    /// The member's address (None for a bitfield).
    pub address: Option<u64>,
    /// Anonymous structs/unions around the member (crash indents it as it
    /// sits in the whole object's display).
    pub depth: usize,
    /// The last member of its struct: no trailing comma, as in gdb's display.
    pub last: bool,
}

/// What `struct` printed.
#[derive(Debug, Clone)]
pub struct StructOutput {
    pub blocks: Vec<StructBlock>,
    /// Blank line between consecutive objects (count > 1).
    pub separate: bool,
}

fn run_struct(session: &mut Session, args: &[String]) -> Result<Output> {
    run_kind(session, args, TypeKind::Struct)
}

fn run_union(session: &mut Session, args: &[String]) -> Result<Output> {
    run_kind(session, args, TypeKind::Union)
}

/// True when `word` names a struct or union (with optional `.members`),
/// for the command-table fallback.
pub(crate) fn names_aggregate(session: &Session, word: &str) -> bool {
    let name = word.split('.').next().unwrap_or(word);
    let types = session.kernel.type_arena();
    !name.is_empty()
        && (types.find_type(TypeKind::Struct, name).is_ok() || types.find_type(TypeKind::Union, name).is_ok())
}

/// Runs `struct` for a line whose first word is a type name.
pub(crate) fn run_shorthand(session: &mut Session, words: &[String]) -> Result<Output> {
    run_kind(session, words, TypeKind::Struct)
}

/// The parsed `struct` request.
pub(crate) struct Request {
    pub type_id: TypeId,
    pub keyword: Aggregate,
    pub name: String,
    /// Member paths, empty for the whole object.
    pub members: Vec<String>,
    pub radix: Radix,
}

fn run_kind(session: &mut Session, args: &[String], kind: TypeKind) -> Result<Output> {
    let command = if kind == TypeKind::Union { "union" } else { "struct" };
    let p = getopt::parse(command, args, "oxdrl:fpuc:")?;
    let mut positional = p.args.iter();
    let spec = positional.next().ok_or_else(|| Error::Usage(format!("usage: {}", SPEC.synopsis)))?;
    let k = &session.kernel;
    let req = request(k, spec, kind, radix_of(session, p.has('x'), p.has('d')))?;
    let address = positional.next();
    let count_word = p.value('c').map(str::to_string).or_else(|| positional.next().cloned());
    let count = match count_word {
        Some(w) => {
            crate::address::parse_number(&w).ok_or_else(|| Error::Usage(format!("{command}: invalid count: {w}")))?
        }
        None => 1,
    };
    let mut blocks = Vec::new();
    let Some(address) = address else {
        if !req.members.is_empty() && !p.has('o') {
            return Err(Error::Usage(format!("{command}: member display needs an address")));
        }
        blocks.push(definition(k, &req, p.has('o'), p.has('x'))?);
        return Ok(Output::Struct(StructOutput { blocks, separate: false }));
    };
    let embedded = match p.value('l') {
        Some(l) => member_offset(k, l)?,
        None => 0,
    };
    let types = k.type_arena();
    let size = types.size_of(req.type_id)?;
    for (cpu, base) in addresses(k, address)? {
        if let Some(cpu) = cpu {
            blocks.push(StructBlock::CpuLabel { cpu, addr: base });
        }
        let start = base.wrapping_sub(embedded);
        for i in 0..count.min(MAX_COUNT) {
            let addr = start.wrapping_add(i.wrapping_mul(size));
            blocks.push(object_block(k, &req, addr, p.has('o'), p.has('r'))?);
        }
    }
    Ok(Output::Struct(StructOutput { blocks, separate: count > 1 }))
}

/// Most consecutive objects one command shows.
const MAX_COUNT: u64 = 1 << 20;

pub(crate) fn radix_of(session: &Session, hex: bool, dec: bool) -> Radix {
    session.value_radix(hex, dec)
}

/// Parses `name[.m1,m2]` into a request.
pub(crate) fn request(k: &Kernel, spec: &str, kind: TypeKind, radix: Radix) -> Result<Request> {
    let (name, members) = match spec.split_once('.') {
        Some((n, m)) => (n, m.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect()),
        None => (spec, Vec::new()),
    };
    let types = k.type_arena();
    if !types.has_debuginfo() {
        return Err(Error::MissingDebuginfo("no type information loaded: the vmlinux has no BTF or DWARF".into()));
    }
    let keyword = if kind == TypeKind::Union { Aggregate::Union } else { Aggregate::Struct };
    let type_id = types
        .find_type(kind, name)
        .or_else(|_| types.find_type(TypeKind::Typedef, name))
        .or_else(|_| types.find_type(if kind == TypeKind::Union { TypeKind::Struct } else { TypeKind::Union }, name))
        .map_err(|_| Error::NotFound(format!("{}: invalid data structure reference: {name}", keyword.keyword())))?;
    Ok(Request { type_id, keyword, name: name.to_string(), members, radix })
}

/// `-l struct.member` or a number.
fn member_offset(k: &Kernel, spec: &str) -> Result<u64> {
    if let Some(n) = crate::address::parse_number(spec) {
        return Ok(n);
    }
    let (name, path) =
        spec.split_once('.').ok_or_else(|| Error::Usage(format!("invalid offset or struct.member: {spec}")))?;
    k.type_arena().offset_of(&format!("struct {name}"), path).or_else(|_| k.type_arena().offset_of(name, path))
}

/// The address argument: `ADDR`, `SYMBOL`, `ADDR:N`, `SYMBOL:a`...; each
/// with the CPU it is the copy for, if per-cpu.
pub(crate) fn addresses(k: &Kernel, word: &str) -> Result<Vec<(Option<u32>, u64)>> {
    let (base_word, cpus) = match word.rsplit_once(':') {
        Some((b, spec)) => (b, Some(parse_cpus(k, spec)?)),
        None => (word, None),
    };
    let Some(cpus) = cpus else {
        return Ok(vec![(
            None,
            crate::address::resolve_address(k, base_word).or_else(|_| {
                k.lookup_symbol(base_word)
                    .map(|s| s.addr)
                    .ok_or_else(|| Error::NotFound(format!("invalid address or symbol: {base_word}")))
            })?,
        )]);
    };
    let offset = match k.percpu_symbol_offset(base_word) {
        Ok(off) if crate::parse_hex(base_word).is_none() || k.symbol_addr(base_word).is_ok() => off,
        _ => crate::parse_hex(base_word)
            .ok_or_else(|| Error::NotFound(format!("invalid per-cpu symbol or offset: {base_word}")))?,
    };
    cpus.into_iter().map(|cpu| Ok((Some(cpu), offset.wrapping_add(k.percpu_offset(cpu)?)))).collect()
}

/// `N`, `N,M`, `N-M`, or `a` (all possible CPUs).
pub(crate) fn parse_cpus(k: &Kernel, spec: &str) -> Result<Vec<u32>> {
    if spec == "a" || spec == "all" {
        return k.possible_cpus();
    }
    let n = k.nr_cpu_ids()?;
    let mut out = Vec::new();
    for part in spec.split(',') {
        let bad = || Error::Usage(format!("invalid cpu specification: {spec}"));
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<u32>().map_err(|_| bad())?, b.parse::<u32>().map_err(|_| bad())?),
            None => {
                let c = part.parse::<u32>().map_err(|_| bad())?;
                (c, c)
            }
        };
        if hi >= n || lo > hi {
            return Err(Error::Usage(format!("invalid cpu number: {part} (nr_cpu_ids is {n})")));
        }
        out.extend(lo..=hi);
    }
    Ok(out)
}

/// The type without an address: `struct x {...}` and its size, or the
/// offset layout with `-o`.
fn definition(k: &Kernel, req: &Request, offsets: bool, hex: bool) -> Result<StructBlock> {
    let types = k.type_arena();
    let size = types.size_of(req.type_id)?;
    if offsets {
        let mut layout = offset_layout(types, req, None, hex)?;
        layout.size = Some(size);
        return Ok(StructBlock::Offsets(layout));
    }
    let mut text = types.ptype(req.type_id);
    if let Type::Typedef { name, .. } = types.type_by_id(req.type_id)? {
        text = format!("typedef {text} {name};");
    }
    Ok(StructBlock::Definition { text, size, hex })
}

/// One object at `addr`: whole, chosen members, offsets or raw.
fn object_block(k: &Kernel, req: &Request, addr: u64, offsets: bool, raw: bool) -> Result<StructBlock> {
    let types = k.type_arena();
    if raw {
        let size = types.size_of(req.type_id)?;
        let len = usize::try_from(size).map_err(|_| Error::Usage("object too large".into()))?;
        return Ok(StructBlock::Raw { addr, bytes: k.memory().read_vec(addr, len)? });
    }
    if offsets {
        if req.members.len() > 1 {
            return Err(Error::Usage(format!(
                "{}: -o option not valid with multiple member format",
                req.keyword.keyword()
            )));
        }
        return Ok(StructBlock::Offsets(offset_layout(types, req, Some(addr), false)?));
    }
    let value = Value::at(req.type_id, addr);
    if req.members.is_empty() {
        if let Err(e) = k.memory().read_u8(addr) {
            return Ok(StructBlock::Unreadable { keyword: req.keyword, addr, error: e.to_string() });
        }
        return Ok(StructBlock::Object(ObjectValue {
            header: header(types, req),
            value: k.value_text(&value, req.radix),
        }));
    }
    if let Err(e) = k.memory().read_u8(addr) {
        return Ok(StructBlock::Unreadable { keyword: req.keyword, addr, error: e.to_string() });
    }
    let mut members = Vec::new();
    for path in &req.members {
        members.push(member_line(k, &value, path, req.radix)?);
    }
    Ok(StructBlock::Members { members })
}

/// `struct x` / `union x` as crash heads an object.
fn header(types: &TypeArena, req: &Request) -> TypeHeader {
    match types.resolve(req.type_id) {
        Ok((_, Type::Union(c))) => {
            TypeHeader { keyword: Aggregate::Union, name: c.name.unwrap_or_else(|| req.name.clone()) }
        }
        Ok((_, Type::Struct(c))) => {
            TypeHeader { keyword: Aggregate::Struct, name: c.name.unwrap_or_else(|| req.name.clone()) }
        }
        _ => TypeHeader { keyword: req.keyword, name: req.name.clone() },
    }
}

/// Member `path` of `base`, following pointers (`mm.pgd` reads `mm`).
pub(crate) fn member_value(k: &Kernel, base: &Value, path: &str) -> Result<Value> {
    let types = k.type_arena();
    if let Ok(v) = base.member(types, path) {
        return Ok(v);
    }
    let mut cur = base.clone();
    for part in path.split('.') {
        if let Type::Pointer { to } = types.resolve(cur.ty)?.1 {
            cur = Value::at(to, cur.as_u64(types, k.memory())?);
        }
        cur = cur.member(types, part)?;
    }
    Ok(cur)
}

/// Member `path` of `base` as one `name = value` display line.
pub(crate) fn member_line(k: &Kernel, base: &Value, path: &str, radix: Radix) -> Result<MemberValue> {
    let v = member_value(k, base, path)?;
    // crash names a nested member by the whole path (`se.load = {`).
    let name = path.to_string();
    let (depth, last) = placement(k.type_arena(), base.ty, path).unwrap_or((0, false));
    let location = k.type_arena().member_path(base.ty, path).ok();
    Ok(MemberValue { name, value: k.value_text(&v, radix), location, address: v.address(), depth, last })
}

/// How deep in anonymous members the leaf of `path` sits, and whether it
/// is the last member of its struct.
fn placement(types: &TypeArena, id: TypeId, path: &str) -> Result<(usize, bool)> {
    let mut cur = id;
    let parts: Vec<&str> = path.split('.').collect();
    let (leaf, parents) = parts.split_last().ok_or_else(|| Error::Usage("empty member".into()))?;
    for p in parents {
        let mut t = types.member_path(cur, p)?.ty;
        if let Type::Pointer { to } = types.resolve(t)?.1 {
            t = to;
        }
        cur = t;
    }
    let (_, ty) = types.resolve(cur)?;
    let body = ty.composite().ok_or_else(|| Error::Usage("not a struct".into()))?;
    let name = leaf.split('[').next().unwrap_or(leaf);
    find_placement(types, body, name, 0)?.ok_or_else(|| Error::NotFound(name.to_string()))
}

fn find_placement(
    types: &TypeArena,
    body: &krash_debuginfo::types::Composite,
    name: &str,
    depth: usize,
) -> Result<Option<(usize, bool)>> {
    if depth > 32 {
        return Ok(None);
    }
    let count = body.members.len();
    for (i, m) in body.members.iter().enumerate() {
        if m.name.as_deref() == Some(name) {
            return Ok(Some((depth, i + 1 == count)));
        }
    }
    for m in body.members.iter().filter(|m| m.name.is_none()) {
        if let Some(inner) = types.resolve(m.ty)?.1.composite() {
            if let Some(found) = find_placement(types, inner, name, depth + 1)? {
                return Ok(Some(found));
            }
        }
    }
    Ok(None)
}

/// crash's `-o` layout: each member with its offset (or absolute address),
/// anonymous structs/unions expanded in place.
fn offset_layout(types: &TypeArena, req: &Request, base: Option<u64>, hex: bool) -> Result<OffsetLayout> {
    let (_, ty) = types.resolve(req.type_id)?;
    let body = ty.composite().ok_or_else(|| Error::Usage(format!("{} is not a struct or union", req.name)))?;
    let keyword = if matches!(ty, Type::Union(_)) { Aggregate::Union } else { Aggregate::Struct };
    let typedef = match types.type_by_id(req.type_id)? {
        Type::Typedef { name, .. } => Some(name),
        _ => None,
    };
    let mut lines = Vec::new();
    if req.members.is_empty() {
        layout_members(types, body, 0, 0, true, &mut lines)?;
    } else {
        for path in &req.members {
            let loc = types.member_path(req.type_id, path)?;
            let name = path.rsplit('.').next().unwrap_or(path);
            let declaration = types.declaration(loc.ty, name);
            lines.push(OffsetLine::Member {
                offset: loc.byte_offset(),
                labelled: true,
                depth: 0,
                declaration,
                bit_width: None,
            });
        }
    }
    Ok(OffsetLayout { keyword, name: body.name.clone(), typedef, base, hex, type_size: body.size, lines, size: None })
}

fn layout_members(
    types: &TypeArena,
    body: &krash_debuginfo::types::Composite,
    base_bits: u64,
    depth: usize,
    labelled: bool,
    out: &mut Vec<OffsetLine>,
) -> Result<()> {
    if depth > 32 {
        return Err(Error::bad_data("type graph", "anonymous members nest too deeply"));
    }
    for m in &body.members {
        let bits = base_bits.checked_add(m.bit_offset).ok_or_else(|| Error::bad_data("member", "offset overflows"))?;
        // Anonymous structs/unions are expanded in place, named or not
        // (`struct {...} b;` shows its members), as gdb's ptype does.
        let direct = types.type_by_id(m.ty)?;
        if let Some(c) = direct.composite().filter(|c| c.name.is_none()) {
            let keyword = if matches!(direct, Type::Union(_)) { Aggregate::Union } else { Aggregate::Struct };
            out.push(OffsetLine::Open { depth, keyword });
            // crash labels a named anonymous struct on its closing line and
            // leaves its members unlabelled.
            let inner_labelled = m.name.is_none() && labelled;
            layout_members(types, c, bits, depth + 1, inner_labelled, out)?;
            out.push(OffsetLine::Close { depth, offset: bits / 8, labelled, name: m.name.clone() });
            continue;
        }
        let declaration = match (&direct, &m.name) {
            (Type::Enum { name: None, .. }, Some(name)) => format!("{} {name}", types.ptype(m.ty)),
            _ => types.declaration(m.ty, m.name.as_deref().unwrap_or("")),
        };
        out.push(OffsetLine::Member { offset: bits / 8, labelled, depth, declaration, bit_width: m.bitfield_size });
    }
    Ok(())
}
