//! `list`: walk a linked list (kernel `list_head` lists or plain `next`
//! chains), bounded and cycle-safe, optionally showing members of each entry.

use krash_core::{Error, Result};
use krash_debuginfo::types::{TypeKind, TypeOps};
use krash_eval::value::Value;
use krash_eval::value::ValueExt;
use krash_program::list::{ListBreak, ListCursor, WalkOptions};
use krash_program::Kernel;

use super::struct_cmd::{member_line, radix_of, request, Aggregate, MemberValue, ObjectValue, Request, TypeHeader};
use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "list",
    aliases: &[],
    summary: "linked list",
    synopsis: "list [[-o] offset] [-e end] [-O head_offset] [-r] [-s struct[.member[,member]]] [-S ...] [-l] [-x|-d] [-H] start",
    details: "  start      the first entry (a structure, or a list_head with -o); with -H a list\n\
              \x20            head whose entries are listed; with -h a structure holding the list\n\
              \x20 -H head    start is a list_head head; it is not itself an entry\n\
              \x20 -h start   start is a structure holding the list_head at -o offset; it is an entry\n\
              \x20 -o offset|struct.member  offset of the link (next pointer or list_head) in each entry\n\
              \x20 -O offset|struct.member  offset of the list_head inside the head's structure (-H)\n\
              \x20 -e end     stop at this entry instead of when the list returns to its start\n\
              \x20 -r         follow prev pointers (list_head lists)\n\
              \x20 -s struct[.member,...]  show each entry as that struct, or only those members\n\
              \x20 -S struct.member,...    same as -s\n\
              \x20 -l         with -s, member offsets are relative to the list_head, not the entry\n\
              \x20 -x / -d    hexadecimal / decimal integers in -s output\n\
              A cycle or an unreadable link stops the walk with a message saying where.",
    run,
};

/// One entry and the members asked for.
#[derive(Debug, Clone)]
pub struct ListEntry {
    pub addr: u64,
    /// `-s struct.member` lines.
    pub members: Vec<MemberValue>,
    /// `-s struct` (no members): the whole object. Boxed: a list of a
    /// million bare addresses then takes 40 bytes an entry, not 150.
    pub object: Option<Box<ObjectValue>>,
}

/// What `list` printed.
#[derive(Debug, Clone)]
pub struct ListOutput {
    pub entries: Vec<ListEntry>,
    /// An empty `-H` list prints `(empty)`.
    pub empty_head: bool,
    /// Why the walk stopped early, with where.
    pub broken: Option<ListBreak>,
}

/// What `list` will print, found by a first walk that keeps nothing: how
/// many entries, and why the walk stops. A caller that writes as it goes
/// (the CLI) then hands each entry on as [`each`] reads it, so a list of a
/// million entries is never held whole.
pub struct ListPlan {
    /// The first node (a `list_head`, or the link of the first entry), and
    /// the node that ends the walk.
    start_node: u64,
    end_node: u64,
    /// The start node is an entry itself (not with `-H`).
    head_is_entry: bool,
    /// The link's offset in an entry.
    offset: u64,
    opts: WalkOptions,
    shown: Option<Request>,
    /// `-l`: members are at offsets from the link, not the entry.
    from_link: bool,
    /// `-S`: members printed as crash reads them itself (no commas).
    plain: bool,
    /// How many entries the list has (each once: a cycle is cut where it
    /// comes back).
    pub entries: usize,
    /// An empty `-H` list prints `(empty)`.
    pub empty_head: bool,
    pub broken: Option<ListBreak>,
}

/// Largest list walked (crash's own limit is similar: memory, not time).
const MAX_ENTRIES: usize = 50_000_000;

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let plan = plan(session, args)?;
    let mut entries = Vec::with_capacity(plan.entries);
    let mut failed = None;
    each(session, &plan, |entry| match entry {
        Ok(e) => {
            entries.push(e);
            true
        }
        Err(e) => {
            failed = Some(e);
            false
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    Ok(Output::List(ListOutput { entries, empty_head: plan.empty_head, broken: plan.broken }))
}

/// Parses `list`'s arguments and walks the list once to count it.
pub(crate) fn plan(session: &Session, args: &[String]) -> Result<ListPlan> {
    let p = getopt::parse("list", args, "H:h:o:O:s:S:e:rlxd")?;
    let k = &session.kernel;
    let has_head = p.has('H') || p.has('h');
    // Positionals are `[offset] start`, or just `[offset]` with -H/-h.
    let (offset_word, start_word) = match (has_head, p.args.as_slice()) {
        (true, [o, ..]) => (Some(o), None),
        (false, [o, s, ..]) => (Some(o), Some(s)),
        (false, [s]) => (None, Some(s)),
        _ => (None, None),
    };
    let offset = match p.value('o').or(offset_word.map(String::as_str)) {
        Some(o) => offset_arg(k, o)?,
        None => 0,
    };
    let resolve = |w: &str| -> Result<u64> {
        crate::address::resolve_address(k, w).or_else(|_| {
            k.lookup_symbol(w).map(|s| s.addr).ok_or_else(|| Error::Usage(format!("list: invalid argument: {w}")))
        })
    };
    let opts = WalkOptions { reverse: p.has('r'), limit: MAX_ENTRIES, ..WalkOptions::default() };
    let (head_is_entry, start_node) = if let Some(h) = p.value('H') {
        let head_offset = match p.value('O') {
            Some(o) => offset_arg(k, o)?,
            None => 0,
        };
        (false, resolve(h)?.wrapping_add(head_offset))
    } else if let Some(h) = p.value('h') {
        (true, resolve(h)?.wrapping_add(offset))
    } else {
        let w = start_word.ok_or_else(|| Error::Usage(format!("usage: {}", SPEC.synopsis)))?;
        (true, resolve(w)?.wrapping_add(offset))
    };
    let end_node = match p.value('e') {
        Some(e) => resolve(e)?.wrapping_add(offset),
        None => start_node,
    };
    let show = p.value('s').or(p.value('S'));
    let radix = radix_of(session, p.has('x'), p.has('d'));
    let shown = match show {
        Some(spec) => Some(request(k, spec, TypeKind::Struct, radix)?),
        None => None,
    };
    let mut plan = ListPlan {
        start_node,
        end_node,
        head_is_entry,
        offset,
        opts,
        shown,
        from_link: p.has('l'),
        plain: p.value('s').is_none(),
        entries: 0,
        empty_head: false,
        broken: None,
    };
    let mut walk = ListCursor::new(k.memory(), start_node, end_node, opts);
    let mut entries = usize::from(head_is_entry);
    let mut last = head_is_entry.then_some(start_node);
    for node in walk.by_ref() {
        session.interrupt.check()?;
        entries += 1;
        last = Some(node);
    }
    let mut broken = walk.broken;
    // A NULL `next` ends a plain (non-circular) list cleanly.
    if last == Some(0) && matches!(broken, Some(ListBreak::Unreadable { node: 0, .. })) {
        entries -= 1;
        broken = None;
    }
    if let Some(ListBreak::Cycle { .. }) = broken {
        // Show each entry once: cut at the first node met again.
        let mut seen = std::collections::HashSet::new();
        if let Some((pos, again)) = plan.nodes(k).enumerate().find(|&(_, n)| !seen.insert(n)) {
            entries = pos;
            broken = Some(ListBreak::Cycle { at: again });
        }
    }
    plan.entries = entries;
    plan.empty_head = !head_is_entry && entries == 0 && broken.is_none();
    plan.broken = broken;
    Ok(plan)
}

impl ListPlan {
    /// The entries' nodes in walk order (the start first when it is an
    /// entry), not yet cut to the planned count.
    fn nodes<'k>(&self, k: &'k Kernel) -> impl Iterator<Item = u64> + 'k {
        let first = self.head_is_entry.then_some(self.start_node);
        first.into_iter().chain(ListCursor::new(k.memory(), self.start_node, self.end_node, self.opts))
    }
}

/// Walks a [`plan`]'s list again, handing each entry (with its members) to
/// `each` as it is read; `each` returns false to stop. An entry whose
/// members cannot be shown is handed on as its error.
pub(crate) fn each(session: &Session, plan: &ListPlan, mut each: impl FnMut(Result<ListEntry>) -> bool) -> Result<()> {
    let k = &session.kernel;
    for node in plan.nodes(k).take(plan.entries) {
        session.interrupt.check()?;
        let addr = node.wrapping_sub(plan.offset);
        let mut entry = ListEntry { addr, members: Vec::new(), object: None };
        let shown = match &plan.shown {
            Some(req) => {
                let base = if plan.from_link { node } else { addr };
                entry_members(k, req, base, plan.plain, &mut entry)
            }
            None => Ok(()),
        };
        if !each(shown.map(|()| entry)) {
            break;
        }
    }
    Ok(())
}

fn entry_members(k: &Kernel, req: &Request, base: u64, plain: bool, entry: &mut ListEntry) -> Result<()> {
    let value = Value::at(req.type_id, base);
    if req.members.is_empty() {
        let header = TypeHeader { keyword: Aggregate::Struct, name: req.name.clone() };
        entry.object = Some(Box::new(ObjectValue { header, value: k.value_text(&value, req.radix) }));
        return Ok(());
    }
    for path in &req.members {
        let mut line = member_line(k, &value, path, req.radix)?;
        // crash's -S reads members itself and prints them without commas.
        line.last |= plain;
        entry.members.push(line);
    }
    Ok(())
}

/// An offset: a number, or `struct.member`.
pub(crate) fn offset_arg(k: &Kernel, spec: &str) -> Result<u64> {
    if let Some(n) = crate::address::parse_number(spec) {
        return Ok(n);
    }
    let (name, path) =
        spec.split_once('.').ok_or_else(|| Error::Usage(format!("invalid offset or struct.member: {spec}")))?;
    let types = k.type_arena();
    types
        .offset_of(&format!("struct {name}"), path)
        .or_else(|_| types.offset_of(&format!("union {name}"), path))
        .or_else(|_| types.offset_of(name, path))
}
