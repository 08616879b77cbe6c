//! The one C type model every krash layer uses, whichever producer (BTF
//! here, DWARF in krash-dwarf) describes the kernel.
//!
//! A producer implements [`TypeProvider`]: it hands out [`Type`] values by
//! [`TypeId`] and finds named types and variables. Everything computed from
//! types (sizes, member paths, gdb-style names) lives in [`TypeOps`], which
//! every provider gets for free, so the two producers cannot disagree.

use krash_core::{Error, Result};

/// A type's identity inside one provider. Id 0 is `void` for every
/// provider; other values are the producer's own (BTF type ids, DWARF DIE
/// offsets), so ids from different providers must not be mixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeId(pub u64);

impl TypeId {
    /// The `void` type, in every provider.
    pub const VOID: TypeId = TypeId(0);
}

/// What flavour of integer an [`Type::Int`] is (changes how values print).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntKind {
    Plain,
    Char,
    Bool,
}

/// A struct or union member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// `None` for anonymous struct/union members (C11 anonymous members).
    pub name: Option<String>,
    pub ty: TypeId,
    /// Offset of the member's first bit from the start of the aggregate.
    pub bit_offset: u64,
    /// Width in bits for bitfields, `None` for ordinary members.
    pub bitfield_size: Option<u32>,
}

/// A struct or union body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composite {
    /// `None` for anonymous aggregates.
    pub name: Option<String>,
    pub size: u64,
    pub members: Vec<Member>,
}

/// One named constant of an enum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enumerator {
    pub name: String,
    /// Wide enough for both signed 64-bit and unsigned 64-bit values.
    pub value: i128,
}

/// A type qualifier or a producer-specific annotation (BTF type tags such
/// as `rcu`, `percpu`, `user`), which gdb does not print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Qualifier {
    Const,
    Volatile,
    Restrict,
    Atomic,
    /// An annotation tag; not part of the C spelling of the type.
    Tag(String),
}

/// Which tag a forward declaration or named-type lookup refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeKind {
    Struct,
    Union,
    Enum,
    Typedef,
    /// Base types: integers and floats (`unsigned long`, `double`).
    Base,
}

/// A function parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: Option<String>,
    pub ty: TypeId,
}

/// Linkage of a function or variable declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linkage {
    Static,
    Global,
    Extern,
}

/// One variable placed in a data section (BTF DATASEC entries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectionVar {
    /// The id of the [`Type::Var`] record.
    pub var: TypeId,
    /// Offset from the section start (per-cpu offset for `.data..percpu`).
    pub offset: u64,
    pub size: u64,
}

/// A C type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    Void,
    Int {
        name: String,
        size: u64,
        signed: bool,
        kind: IntKind,
    },
    Float {
        name: String,
        size: u64,
    },
    Pointer {
        to: TypeId,
    },
    /// `len: None` is a flexible (or zero-length) array.
    Array {
        elem: TypeId,
        len: Option<u64>,
    },
    Struct(Composite),
    Union(Composite),
    Enum {
        name: Option<String>,
        size: u64,
        signed: bool,
        variants: Vec<Enumerator>,
    },
    /// A declared-but-not-defined struct/union/enum.
    Forward {
        kind: TypeKind,
        name: String,
    },
    Typedef {
        name: String,
        to: TypeId,
    },
    Qualified {
        qualifier: Qualifier,
        to: TypeId,
    },
    /// A function signature; `ret` is [`TypeId::VOID`] for `void`.
    Function {
        ret: TypeId,
        params: Vec<Param>,
        variadic: bool,
    },
    /// A named function: `proto` is its [`Type::Function`].
    FunctionDecl {
        name: String,
        proto: TypeId,
        linkage: Linkage,
    },
    /// A global variable declaration.
    Var {
        name: String,
        ty: TypeId,
        linkage: Linkage,
    },
    /// A data section and the variables in it (`.data..percpu`, `.bss`...).
    Datasec {
        name: String,
        size: u64,
        vars: Vec<SectionVar>,
    },
}

impl Type {
    /// The tag or typedef name, when the type has one.
    pub fn name(&self) -> Option<&str> {
        match self {
            Type::Int { name, .. } | Type::Float { name, .. } | Type::Typedef { name, .. } => Some(name),
            Type::Struct(c) | Type::Union(c) => c.name.as_deref(),
            Type::Enum { name, .. } => name.as_deref(),
            Type::Forward { name, .. }
            | Type::FunctionDecl { name, .. }
            | Type::Var { name, .. }
            | Type::Datasec { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The struct or union body, if this is one.
    pub fn composite(&self) -> Option<&Composite> {
        match self {
            Type::Struct(c) | Type::Union(c) => Some(c),
            _ => None,
        }
    }
}

/// A global variable: its name, type and (for section-placed variables)
/// the section and offset a producer knows it at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub name: String,
    pub ty: TypeId,
    /// Data section holding it (`.data..percpu` marks per-cpu variables).
    pub section: Option<String>,
    /// Offset inside `section` (the per-cpu offset for per-cpu variables).
    pub section_offset: Option<u64>,
}

impl Variable {
    /// True for per-cpu variables (placed in `.data..percpu`).
    pub fn is_percpu(&self) -> bool {
        self.section.as_deref() == Some(".data..percpu")
    }
}

/// A source of types: BTF, DWARF, or a test fixture.
pub trait TypeProvider: Send + Sync {
    /// The type with this id; `TypeId::VOID` gives [`Type::Void`].
    fn type_by_id(&self, id: TypeId) -> Result<Type>;

    /// The same type, shared: a provider that keeps what it decoded hands
    /// out the kept type without copying its members (printing a million
    /// list entries looks at each type several times per entry). By
    /// default, a copy.
    fn shared_type(&self, id: TypeId) -> Result<std::sync::Arc<Type>> {
        self.type_by_id(id).map(std::sync::Arc::new)
    }

    /// Ids of every type of `kind` named `name` (definitions before
    /// forward declarations). Base types are asked for by their compiler
    /// spelling (`long unsigned int`; see [`dwarf_base_type_name`]).
    fn find_types(&self, kind: TypeKind, name: &str) -> Result<Vec<TypeId>>;

    /// A global variable by name.
    fn find_variable(&self, name: &str) -> Result<Option<Variable>>;

    /// A function's signature ([`Type::Function`]) by function name.
    fn find_function(&self, name: &str) -> Result<Option<TypeId>>;

    /// An enum constant by name (`PIDTYPE_PID`, `NR_FREE_PAGES`): the enum
    /// type defining it and its value. Providers should override this; the
    /// default knows no constants.
    fn find_enumerator(&self, name: &str) -> Result<Option<(TypeId, i128)>> {
        let _ = name;
        Ok(None)
    }

    /// Size of a pointer in bytes.
    fn pointer_size(&self) -> u64 {
        8
    }

    /// Every name a type of `kind` has here, unsorted and possibly
    /// repeated (for completion and listings). Providers that cannot list
    /// their names give none.
    fn type_names(&self, kind: TypeKind) -> Result<Vec<String>> {
        let _ = kind;
        Ok(Vec::new())
    }

    /// Where [`TypeOps::type_name`] keeps the names it rendered, for a
    /// provider asked the same names over and over (printing a million
    /// list entries names each member's type each time); none by default.
    fn name_memo(&self) -> Option<&NameMemo> {
        None
    }
}

/// Type names already rendered, by id, bounded (cleared when full).
#[derive(Debug, Default)]
pub struct NameMemo {
    names: std::sync::RwLock<std::collections::HashMap<TypeId, String>>,
}

/// Bound on a [`NameMemo`].
const MAX_MEMO_NAMES: usize = 4096;

impl NameMemo {
    fn get(&self, id: TypeId) -> Option<String> {
        self.names.read().ok()?.get(&id).cloned()
    }

    fn put(&self, id: TypeId, name: &str) {
        if let Ok(mut names) = self.names.write() {
            if names.len() >= MAX_MEMO_NAMES {
                names.clear();
            }
            names.insert(id, name.to_string());
        }
    }

    /// Forgets every name (the ids now mean other types).
    pub fn clear(&self) {
        if let Ok(mut names) = self.names.write() {
            names.clear();
        }
    }
}

/// Where a (possibly nested) member lies inside an aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberLocation {
    /// Offset of the first bit from the start of the outer aggregate.
    pub bit_offset: u64,
    /// Width for bitfields; `None` for whole members.
    pub bitfield_size: Option<u32>,
    pub ty: TypeId,
}

impl MemberLocation {
    /// Byte offset of the member (of the byte holding its first bit).
    pub fn byte_offset(&self) -> u64 {
        self.bit_offset / 8
    }
}

/// Bound on typedef/qualifier chains and declarator nesting, so a cyclic
/// or hostile type graph cannot loop forever.
const MAX_TYPE_DEPTH: usize = 64;

fn too_deep(id: TypeId) -> Error {
    Error::bad_data("type graph", format!("type {} nests deeper than {MAX_TYPE_DEPTH} levels", id.0))
}

/// Computations on any [`TypeProvider`]: sizes, typedef resolution, member
/// paths and gdb-compatible type names.
pub trait TypeOps: TypeProvider {
    /// The single preferred definition of a named type (a complete struct
    /// over a forward declaration).
    fn find_type(&self, kind: TypeKind, name: &str) -> Result<TypeId> {
        let ids = self.find_types(kind, name)?;
        for id in &ids {
            if !matches!(self.type_by_id(*id)?, Type::Forward { .. }) {
                return Ok(*id);
            }
        }
        ids.first().copied().ok_or_else(|| {
            let tag = match kind {
                TypeKind::Struct => "struct ",
                TypeKind::Union => "union ",
                TypeKind::Enum => "enum ",
                TypeKind::Typedef | TypeKind::Base => "",
            };
            Error::MissingDebuginfo(format!("no type {tag}{name}"))
        })
    }

    /// Looks a type up by its C spelling: `struct foo`, `union bar`,
    /// `enum baz`, or a bare typedef/base-type name.
    fn find_type_by_spelling(&self, spelling: &str) -> Result<TypeId> {
        let s = spelling.trim();
        let (kind, name) = if let Some(n) = s.strip_prefix("struct ") {
            (TypeKind::Struct, n.trim())
        } else if let Some(n) = s.strip_prefix("union ") {
            (TypeKind::Union, n.trim())
        } else if let Some(n) = s.strip_prefix("enum ") {
            (TypeKind::Enum, n.trim())
        } else if let Ok(id) = self.find_type(TypeKind::Typedef, s) {
            return Ok(id);
        } else if let Ok(id) = self.find_type(TypeKind::Base, &dwarf_base_type_name(s)) {
            return Ok(id);
        } else {
            // Like gdb, a bare name may also mean a struct/union/enum tag.
            for kind in [TypeKind::Struct, TypeKind::Union, TypeKind::Enum] {
                if let Ok(id) = self.find_type(kind, s) {
                    return Ok(id);
                }
            }
            return Err(Error::MissingDebuginfo(format!("no type named {s}")));
        };
        self.find_type(kind, name)
    }

    /// Follows typedefs and qualifiers to the underlying type.
    fn resolve(&self, id: TypeId) -> Result<(TypeId, Type)> {
        let (id, ty) = self.resolve_shared(id)?;
        // A provider that keeps no types hands out a fresh Arc: no copy.
        Ok((id, std::sync::Arc::try_unwrap(ty).unwrap_or_else(|kept| (*kept).clone())))
    }

    /// [`resolve`](Self::resolve), sharing the type
    /// ([`TypeProvider::shared_type`]) instead of copying it; `resolve` is
    /// this walk, copied out.
    fn resolve_shared(&self, id: TypeId) -> Result<(TypeId, std::sync::Arc<Type>)> {
        let mut cur = id;
        for _ in 0..MAX_TYPE_DEPTH {
            let ty = self.shared_type(cur)?;
            match &*ty {
                Type::Typedef { to, .. } | Type::Qualified { to, .. } => cur = *to,
                Type::Var { ty, .. } => cur = *ty,
                _ => return Ok((cur, ty)),
            }
        }
        Err(too_deep(id))
    }

    /// The name of the constant with `value` in enum `id` (through
    /// typedefs), if any.
    fn enumerator_name(&self, id: TypeId, value: i128) -> Result<Option<String>> {
        match self.resolve(id)?.1 {
            Type::Enum { variants, .. } => Ok(variants.into_iter().find(|v| v.value == value).map(|v| v.name)),
            _ => Err(Error::Usage(format!("{} is not an enum", self.type_name(id)))),
        }
    }

    /// `sizeof` the type, in bytes.
    fn size_of(&self, id: TypeId) -> Result<u64> {
        let mut cur = id;
        let mut multiplier: u64 = 1;
        for _ in 0..MAX_TYPE_DEPTH {
            let (_, ty) = self.resolve(cur)?;
            let size = match ty {
                Type::Void => 1, // gcc's sizeof(void), used for pointer arithmetic
                Type::Int { size, .. } | Type::Float { size, .. } | Type::Enum { size, .. } => size,
                Type::Pointer { .. } => self.pointer_size(),
                Type::Struct(c) | Type::Union(c) => c.size,
                Type::Datasec { size, .. } => size,
                Type::Array { elem, len } => {
                    multiplier = multiplier
                        .checked_mul(len.unwrap_or(0))
                        .ok_or_else(|| Error::bad_data("array type", format!("size of type {} overflows", id.0)))?;
                    cur = elem;
                    continue;
                }
                Type::Forward { name, .. } => {
                    return Err(Error::MissingDebuginfo(format!("type {name} is only declared, size unknown")))
                }
                Type::Function { .. } | Type::FunctionDecl { .. } => 1,
                Type::Typedef { .. } | Type::Qualified { .. } | Type::Var { .. } => unreachable_resolved(),
            };
            return multiplier
                .checked_mul(size)
                .ok_or_else(|| Error::bad_data("array type", format!("size of type {} overflows", id.0)));
        }
        Err(too_deep(id))
    }

    /// Locates `path` (`"mm.pgd"`, `"se.run_node"`, `"pids[1].node"`)
    /// inside the aggregate `id`, descending into anonymous struct/union
    /// members the way C name lookup does.
    fn member_path(&self, id: TypeId, path: &str) -> Result<MemberLocation> {
        let mut loc = MemberLocation { bit_offset: 0, bitfield_size: None, ty: id };
        if path.is_empty() {
            return Err(Error::Usage("empty member path".into()));
        }
        for component in path.split('.') {
            let (name, indices) = split_indices(component)?;
            if !name.is_empty() {
                let (_, ty) = self.resolve(loc.ty)?;
                let composite = ty.composite().ok_or_else(|| {
                    Error::Usage(format!(
                        "cannot take member {name}: {} is not a struct or union",
                        self.type_name(loc.ty)
                    ))
                })?;
                let found = self.find_member(composite, name)?.ok_or_else(|| {
                    Error::MissingDebuginfo(format!("{} has no member named {name}", self.type_name(loc.ty)))
                })?;
                loc = MemberLocation {
                    bit_offset: loc.bit_offset.checked_add(found.bit_offset).ok_or_else(offset_overflow)?,
                    ..found
                };
            }
            for index in indices {
                let (_, ty) = self.resolve(loc.ty)?;
                let Type::Array { elem, .. } = ty else {
                    return Err(Error::Usage(format!("{component}: {} is not an array", self.type_name(loc.ty))));
                };
                let stride = self.size_of(elem)?;
                let bits = index.checked_mul(stride).and_then(|b| b.checked_mul(8)).ok_or_else(offset_overflow)?;
                loc = MemberLocation {
                    bit_offset: loc.bit_offset.checked_add(bits).ok_or_else(offset_overflow)?,
                    bitfield_size: None,
                    ty: elem,
                };
            }
        }
        Ok(loc)
    }

    /// Searches one aggregate's members, then its anonymous members;
    /// offsets are relative to `composite`.
    fn find_member(&self, composite: &Composite, name: &str) -> Result<Option<MemberLocation>> {
        let mut work = MAX_RENDER_WORK;
        find_member_in(self, composite, name, 0, &mut work)
    }

    /// Byte offset of `path` inside the struct/union spelled `aggregate`
    /// (`offset_of("struct task_struct", "mm")`).
    fn offset_of(&self, aggregate: &str, path: &str) -> Result<u64> {
        let id = self.find_type_by_spelling(aggregate)?;
        Ok(self.member_path(id, path)?.byte_offset())
    }

    /// The type as gdb's `whatis`/`ptype` prints it: `struct list_head *`,
    /// `char [16]`, `void (*)(struct work_struct *)`.
    fn type_name(&self, id: TypeId) -> String {
        let memo = self.name_memo();
        if let Some(name) = memo.and_then(|m| m.get(id)) {
            return name;
        }
        let name = self.declaration(id, "");
        if let Some(memo) = memo {
            memo.put(id, &name);
        }
        name
    }

    /// A C declaration of `name` with this type, as gdb prints members:
    /// `char comm[16]`, `void (*func)(struct work_struct *)`.
    fn declaration(&self, id: TypeId, name: &str) -> String {
        let mut work = MAX_RENDER_WORK;
        render_declaration(self, id, name, -1, 0, 0, &mut work)
    }

    /// The type of a pointer to `id`, spelled like gdb: `char (*)[16]`,
    /// `struct list_head *` (for `whatis &expr`).
    fn pointer_type_name(&self, id: TypeId) -> String {
        self.declaration(id, "*")
    }

    /// What gdb's `ptype` prints after `type = `: typedefs at the top are
    /// resolved and struct/union/enum bodies expanded one level, with
    /// anonymous members expanded in place (crash's `struct` output).
    fn ptype(&self, id: TypeId) -> String {
        let mut work = MAX_RENDER_WORK;
        render_declaration(self, id, "", 1, 0, 0, &mut work)
    }
}

/// Anonymous members are searched depth-first like C name lookup does;
/// `work` bounds the visits so a hostile type graph cannot blow up.
fn find_member_in<P: TypeProvider + ?Sized>(
    provider: &P,
    composite: &Composite,
    name: &str,
    depth: usize,
    work: &mut usize,
) -> Result<Option<MemberLocation>> {
    if depth > MAX_TYPE_DEPTH {
        return Err(Error::bad_data("type graph", "anonymous members nest too deeply"));
    }
    for m in &composite.members {
        if m.name.as_deref() == Some(name) {
            return Ok(Some(MemberLocation { bit_offset: m.bit_offset, bitfield_size: m.bitfield_size, ty: m.ty }));
        }
    }
    for m in composite.members.iter().filter(|m| m.name.is_none()) {
        if *work == 0 {
            return Err(Error::bad_data("type graph", "too many anonymous members to search"));
        }
        let (_, ty) = provider.resolve(m.ty)?;
        charge(work, &ty);
        if let Some(inner) = ty.composite() {
            // `depth` is checked against MAX_TYPE_DEPTH on entry, so it
            // stays tiny; saturating keeps that check meaningful regardless.
            if let Some(found) = find_member_in(provider, inner, name, depth.saturating_add(1), work)? {
                let bit_offset = found.bit_offset.checked_add(m.bit_offset).ok_or_else(offset_overflow)?;
                return Ok(Some(MemberLocation { bit_offset, ..found }));
            }
        }
    }
    Ok(None)
}

/// Spends the work a decoded type cost (its record size), so graphs of
/// huge records exhaust the budget as fast as deep ones.
fn charge(work: &mut usize, ty: &Type) {
    let size = match ty {
        Type::Struct(c) | Type::Union(c) => c.members.len(),
        Type::Enum { variants, .. } => variants.len(),
        Type::Function { params, .. } => params.len(),
        Type::Datasec { vars, .. } => vars.len(),
        _ => 0,
    };
    // The budget bottoms out at zero, which stops the walk.
    *work = work.saturating_sub(size).saturating_sub(1);
}

/// Most type records one rendering or member search may visit (gdb's
/// largest kernel structs need a few thousand).
const MAX_RENDER_WORK: usize = 1 << 16;

/// gdb's C type printer. `show` follows gdb: > 0 expands bodies and
/// looks through typedefs, 0 prints named types by name but expands
/// anonymous ones, < 0 prints anonymous bodies as `{...}`.
fn render_declaration<P: TypeProvider + ?Sized>(
    provider: &P,
    id: TypeId,
    name: &str,
    show: i32,
    level: usize,
    depth: usize,
    work: &mut usize,
) -> String {
    let mut declarator = name.to_string();
    let mut cur = id;
    let mut pending_qualifiers: Vec<&'static str> = Vec::new();
    if depth > MAX_TYPE_DEPTH {
        return join_decl("<type nested too deeply>", &declarator);
    }
    for _ in 0..MAX_TYPE_DEPTH {
        if *work == 0 {
            return join_decl("<type too large to print>", &declarator);
        }
        let ty = match provider.type_by_id(cur) {
            Ok(ty) => ty,
            Err(_) => return join_decl(&format!("<unknown type {}>", cur.0), &declarator),
        };
        charge(work, &ty);
        // Text grows with each step; charging for it keeps a pathological
        // graph (pointers and arrays of function types, nested) from
        // copying ever longer strings for the whole budget.
        *work = work.saturating_sub(declarator.len() / 32);
        match ty {
            Type::Pointer { to } => {
                let quals: String = pending_qualifiers.drain(..).map(|q| format!(" {q}")).collect();
                declarator = if declarator.is_empty() {
                    format!("*{quals}")
                } else if quals.is_empty() {
                    format!("*{declarator}")
                } else {
                    format!("*{quals} {declarator}")
                };
                cur = to;
            }
            Type::Array { elem, len } => {
                let dims = match len {
                    Some(n) => format!("[{n}]"),
                    None => "[]".to_string(),
                };
                declarator = format!("{}{dims}", parenthesize(&declarator));
                cur = elem;
            }
            Type::Function { ret, params, variadic } => {
                let mut list = Vec::with_capacity(params.len());
                for p in &params {
                    if *work == 0 {
                        list.push("<...>".to_string());
                        break;
                    }
                    list.push(render_declaration(provider, p.ty, "", 0, 0, depth.saturating_add(1), work));
                }
                if variadic {
                    list.push("...".into());
                }
                let list = if list.is_empty() { "void".to_string() } else { list.join(", ") };
                declarator = format!("{}({list})", parenthesize(&declarator));
                cur = ret;
            }
            Type::FunctionDecl { proto, .. } => cur = proto,
            Type::Var { ty, .. } => cur = ty,
            Type::Typedef { to, .. } if show > 0 => cur = to,
            Type::Qualified { qualifier, to } => {
                match qualifier {
                    Qualifier::Const => pending_qualifiers.push("const"),
                    Qualifier::Volatile => pending_qualifiers.push("volatile"),
                    Qualifier::Restrict => pending_qualifiers.push("restrict"),
                    Qualifier::Atomic => pending_qualifiers.push("_Atomic"),
                    Qualifier::Tag(_) => {}
                }
                cur = to;
            }
            leaf => {
                let base = match &leaf {
                    Type::Struct(c) | Type::Union(c) if show > 0 || (show == 0 && c.name.is_none()) => {
                        render_body(provider, &leaf, c, show, level, depth, work)
                    }
                    Type::Enum { name: enum_name, variants, .. } if show > 0 || (show == 0 && enum_name.is_none()) => {
                        render_enum(enum_name.as_deref(), variants)
                    }
                    _ => leaf_name(&leaf),
                };
                let quals: String = pending_qualifiers.iter().map(|q| format!("{q} ")).collect();
                return join_decl(&format!("{quals}{base}"), &declarator);
            }
        }
    }
    join_decl("<type nested too deeply>", &declarator)
}

fn render_body<P: TypeProvider + ?Sized>(
    provider: &P,
    ty: &Type,
    body: &Composite,
    show: i32,
    level: usize,
    depth: usize,
    work: &mut usize,
) -> String {
    let keyword = if matches!(ty, Type::Union(_)) { "union" } else { "struct" };
    let mut out = match &body.name {
        Some(name) => format!("{keyword} {name} {{\n"),
        None => format!("{keyword} {{\n"),
    };
    // `level` grows by 4 per nesting step, which MAX_TYPE_DEPTH bounds.
    let inner_level = level.saturating_add(4);
    let indent = " ".repeat(inner_level);
    if body.members.is_empty() {
        out.push_str(&format!("{indent}<no data fields>\n"));
    }
    for m in &body.members {
        if *work == 0 {
            out.push_str(&format!("{indent}<type too large to print>\n"));
            break;
        }
        let name = m.name.as_deref().unwrap_or("");
        let decl = render_declaration(
            provider,
            m.ty,
            name,
            show.saturating_sub(1),
            inner_level,
            depth.saturating_add(1),
            work,
        );
        match m.bitfield_size {
            Some(bits) => out.push_str(&format!("{indent}{decl} : {bits};\n")),
            None => out.push_str(&format!("{indent}{decl};\n")),
        }
    }
    out.push_str(&" ".repeat(level));
    out.push('}');
    out
}

/// `enum name {A, B = 5, C}`: values are shown only where they break the
/// previous-plus-one sequence, as gdb does.
fn render_enum(name: Option<&str>, variants: &[Enumerator]) -> String {
    let mut out = match name {
        Some(n) => format!("enum {n} {{"),
        None => "enum {".to_string(),
    };
    let mut expected: i128 = 0;
    for (i, v) in variants.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&v.name);
        if v.value != expected {
            out.push_str(&format!(" = {}", v.value));
        }
        expected = v.value.saturating_add(1);
    }
    out.push('}');
    out
}

impl<T: TypeProvider + ?Sized> TypeOps for T {}

fn unreachable_resolved() -> u64 {
    // resolve() never returns typedefs, qualifiers or vars; answer 0
    // rather than panic should that invariant ever break.
    0
}

fn offset_overflow() -> Error {
    Error::bad_data("member path", "offset overflows 64 bits")
}

/// Splits `"pids[1][2]"` into `("pids", [1, 2])`.
fn split_indices(component: &str) -> Result<(&str, Vec<u64>)> {
    let bad = || Error::Usage(format!("bad member path component '{component}'"));
    let (name, mut rest) = match component.find('[') {
        Some(pos) => (&component[..pos], &component[pos..]),
        None => (component, ""),
    };
    let mut indices = Vec::new();
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[').ok_or_else(bad)?;
        let (text, after) = inner.split_once(']').ok_or_else(bad)?;
        let text = text.trim();
        let value = match text.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => text.parse(),
        }
        .map_err(|_| bad())?;
        indices.push(value);
        rest = after;
    }
    if name.is_empty() && indices.is_empty() {
        return Err(bad());
    }
    Ok((name, indices))
}

/// gcc's DWARF base-type names and the spelling gdb prints for them.
const BASE_TYPE_SPELLINGS: [(&str, &str); 6] = [
    ("long unsigned int", "unsigned long"),
    ("long int", "long"),
    ("short unsigned int", "unsigned short"),
    ("short int", "short"),
    ("long long unsigned int", "unsigned long long"),
    ("long long int", "long long"),
];

/// The spelling gdb prints for a compiler's base-type name
/// (`long unsigned int` -> `unsigned long`).
pub fn gdb_base_type_name(name: &str) -> std::borrow::Cow<'_, str> {
    match BASE_TYPE_SPELLINGS.iter().find(|(dwarf, _)| *dwarf == name) {
        Some((_, gdb)) => std::borrow::Cow::Borrowed(gdb),
        None => std::borrow::Cow::Borrowed(name),
    }
}

/// The compiler's (DWARF/BTF) name for a base type however the user spells
/// it (`unsigned long` -> `long unsigned int`), for lookups.
pub fn dwarf_base_type_name(name: &str) -> std::borrow::Cow<'_, str> {
    let normalized = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let canonical = match normalized.as_str() {
        "unsigned long" | "unsigned long int" | "long unsigned" => "long unsigned int",
        "long" | "signed long" | "long signed int" | "signed long int" => "long int",
        "unsigned short" | "unsigned short int" | "short unsigned" => "short unsigned int",
        "short" | "signed short" | "signed short int" => "short int",
        "unsigned long long" | "unsigned long long int" => "long long unsigned int",
        "long long" | "signed long long" | "long long signed int" => "long long int",
        "unsigned" => "unsigned int",
        "signed" | "signed int" => "int",
        "bool" => "_Bool",
        _ => return std::borrow::Cow::Owned(normalized),
    };
    std::borrow::Cow::Borrowed(canonical)
}

fn parenthesize(declarator: &str) -> String {
    if declarator.starts_with('*') {
        format!("({declarator})")
    } else {
        declarator.to_string()
    }
}

fn join_decl(base: &str, declarator: &str) -> String {
    if declarator.is_empty() {
        base.to_string()
    } else {
        format!("{base} {declarator}")
    }
}

/// The spelling of a type that needs no declarator: `struct foo`,
/// `unsigned int`, `struct {...}`.
fn leaf_name(ty: &Type) -> String {
    match ty {
        Type::Void => "void".into(),
        Type::Int { name, .. } => gdb_base_type_name(name).into_owned(),
        Type::Float { name, .. } | Type::Typedef { name, .. } => name.clone(),
        Type::Struct(c) => format!("struct {}", c.name.as_deref().unwrap_or("{...}")),
        Type::Union(c) => format!("union {}", c.name.as_deref().unwrap_or("{...}")),
        Type::Enum { name, .. } => format!("enum {}", name.as_deref().unwrap_or("{...}")),
        Type::Forward { kind, name } => match kind {
            TypeKind::Union => format!("union {name}"),
            TypeKind::Enum => format!("enum {name}"),
            _ => format!("struct {name}"),
        },
        Type::Datasec { name, .. } => format!("<section {name}>"),
        Type::Pointer { .. }
        | Type::Array { .. }
        | Type::Function { .. }
        | Type::FunctionDecl { .. }
        | Type::Var { .. }
        | Type::Qualified { .. } => "<declarator>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny hand-built provider.
    struct Fixture(Vec<Type>);

    impl TypeProvider for Fixture {
        fn type_by_id(&self, id: TypeId) -> Result<Type> {
            self.0.get(id.0 as usize).cloned().ok_or_else(|| Error::NotFound(format!("type {}", id.0)))
        }
        fn find_types(&self, kind: TypeKind, name: &str) -> Result<Vec<TypeId>> {
            Ok(self
                .0
                .iter()
                .enumerate()
                .filter(|(_, t)| {
                    t.name() == Some(name)
                        && matches!(
                            (kind, t),
                            (TypeKind::Struct, Type::Struct(_)) | (TypeKind::Typedef, Type::Typedef { .. })
                        )
                })
                .map(|(i, _)| TypeId(i as u64))
                .collect())
        }
        fn find_variable(&self, _: &str) -> Result<Option<Variable>> {
            Ok(None)
        }
        fn find_function(&self, _: &str) -> Result<Option<TypeId>> {
            Ok(None)
        }
    }

    fn fixture() -> Fixture {
        let member = |name: Option<&str>, ty: u64, bit_offset: u64| Member {
            name: name.map(str::to_owned),
            ty: TypeId(ty),
            bit_offset,
            bitfield_size: None,
        };
        Fixture(vec![
            Type::Void,                                                                    // 0
            Type::Int { name: "char".into(), size: 1, signed: true, kind: IntKind::Char }, // 1
            Type::Array { elem: TypeId(1), len: Some(16) },                                // 2
            Type::Struct(Composite {
                name: Some("list_head".into()),
                size: 16,
                members: vec![member(Some("next"), 4, 0), member(Some("prev"), 4, 64)],
            }), // 3
            Type::Pointer { to: TypeId(3) },                                               // 4
            Type::Struct(Composite { name: None, size: 16, members: vec![member(Some("inner"), 3, 0)] }), // 5
            Type::Struct(Composite {
                name: Some("outer".into()),
                size: 48,
                members: vec![member(Some("comm"), 2, 0), member(None, 5, 128)],
            }), // 6
            Type::Function { ret: TypeId(0), params: vec![Param { name: None, ty: TypeId(4) }], variadic: false }, // 7
            Type::Pointer { to: TypeId(7) },                                               // 8
            Type::Qualified { qualifier: Qualifier::Const, to: TypeId(1) },                // 9
            Type::Pointer { to: TypeId(9) },                                               // 10
            Type::Qualified { qualifier: Qualifier::Const, to: TypeId(10) },               // 11
            Type::Pointer { to: TypeId(2) },                                               // 12
            Type::Array { elem: TypeId(4), len: Some(3) },                                 // 13
            Type::Typedef { name: "outer_t".into(), to: TypeId(6) },                       // 14
        ])
    }

    #[test]
    fn gdb_style_names() {
        let f = fixture();
        let name = |id| f.type_name(TypeId(id));
        assert_eq!(name(2), "char [16]");
        assert_eq!(name(4), "struct list_head *");
        assert_eq!(name(8), "void (*)(struct list_head *)");
        assert_eq!(name(10), "const char *");
        assert_eq!(name(11), "const char * const");
        assert_eq!(name(12), "char (*)[16]");
        assert_eq!(name(13), "struct list_head *[3]");
        assert_eq!(name(5), "struct {...}");
        assert_eq!(f.declaration(TypeId(8), "func"), "void (*func)(struct list_head *)");
        assert_eq!(f.declaration(TypeId(2), "comm"), "char comm[16]");
        assert_eq!(f.declaration(TypeId(4), "next"), "struct list_head *next");
    }

    #[test]
    fn member_paths_walk_anonymous_members_and_indices() {
        let f = fixture();
        let outer = f.find_type_by_spelling("struct outer").unwrap();
        let loc = f.member_path(outer, "inner.prev").unwrap();
        assert_eq!((loc.byte_offset(), loc.ty), (24, TypeId(4)));
        assert_eq!(f.member_path(outer, "comm[3]").unwrap().byte_offset(), 3);
        assert_eq!(f.offset_of("outer_t", "inner").unwrap(), 16);
        assert!(f.member_path(outer, "nope").is_err());
        assert_eq!(f.size_of(TypeId(13)).unwrap(), 24);
        assert_eq!(f.size_of(TypeId(14)).unwrap(), 48);
    }

    #[test]
    fn hostile_graphs_stay_bounded() {
        // A function whose 1000 parameters point back at itself, and an
        // anonymous struct whose 1000 anonymous members are itself.
        let params = (0..1000).map(|_| Param { name: None, ty: TypeId(2) }).collect();
        let members =
            (0..1000).map(|_| Member { name: None, ty: TypeId(3), bit_offset: 0, bitfield_size: None }).collect();
        let f = Fixture(vec![
            Type::Void,
            Type::Function { ret: TypeId(0), params, variadic: false },
            Type::Pointer { to: TypeId(1) },
            Type::Struct(Composite { name: None, size: 8, members }),
        ]);
        let started = std::time::Instant::now();
        let _ = f.type_name(TypeId(2));
        let _ = f.ptype(TypeId(3));
        assert!(f.member_path(TypeId(3), "missing").is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(10));

        // Two parameters that point back at their function: a binary tree
        // of declarations as deep as the budget allows. The text is charged
        // to the budget too, so the name stays printable (it was 900 KB,
        // built by copying ever longer strings; fuzzing ran at 1 700/s).
        let f = Fixture(vec![
            Type::Void,
            Type::Function { ret: TypeId(2), params: vec![Param { name: None, ty: TypeId(2) }; 2], variadic: false },
            Type::Pointer { to: TypeId(1) },
        ]);
        let name = f.type_name(TypeId(2));
        assert!(name.len() < 1 << 17, "{} bytes", name.len());
    }
}
