//! `tree`: the entries of a red-black tree, radix tree or XArray.

use krash_core::{Error, Result, VirtualMemory};
use krash_debuginfo::types::TypeKind;
use krash_eval::value::Value;
use krash_eval::value::ValueExt;
use krash_program::maple;
use krash_program::rbtree;
use krash_program::xarray;

use super::list::offset_arg;
use super::struct_cmd::{member_line, radix_of, request, Aggregate, MemberValue, ObjectValue, TypeHeader};
use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "tree",
    aliases: &[],
    summary: "display the entries of a tree",
    synopsis: "tree [-t [rbtree|radix|xarray|maple]] [-r offset] [-o offset] [-s struct[.member[,member]]] [-l] [-N] [-p] [-x|-d] start",
    details: "  -t type    rbtree (struct rb_root; the default), radix (struct radix_tree_root),\n\
              \x20           xarray or maple (struct maple_tree; -p shows each entry's index range);\n\
              \x20           ra, rb, x and m are accepted too\n\
              \x20 start      address or symbol of the root (of the top rb_node with -N)\n\
              \x20 -r offset|struct.member  the root is embedded at this offset in start\n\
              \x20 -o offset|struct.member  rbtree: offset of the rb_node in each entry\n\
              \x20 -N         start is the top node (rb_node, or radix/xarray xa_node) rather than the root\n\
              \x20 -l         rbtree: entries in sorted order, leftmost first (default: pre-order)\n\
              \x20 -s struct[.member,...]  show each entry as that struct, or those members\n\
              \x20 -p         the position of each entry (rbtree path, or radix/xarray index)\n\
              \x20 -x / -d    hexadecimal / decimal integers in -s output\n\
              Corrupt or cyclic links stop the walk with a message saying where.",
    run,
};

/// One tree entry.
#[derive(Debug, Clone)]
pub struct TreeEntry {
    pub addr: u64,
    /// `-p`: where the entry is in the tree.
    pub position: Option<TreePosition>,
    /// `-s struct.member,...`: those members.
    pub members: Vec<MemberValue>,
    /// `-s struct`: the whole object.
    pub object: Option<ObjectValue>,
}

/// Where an entry is in its tree (`tree -p`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreePosition {
    /// An rbtree node's path from the root (`root/l/r`).
    Path { path: String },
    /// A radix tree or XArray index.
    Index { index: u64 },
    /// A maple tree entry's index range.
    Range { first: u64, last: u64 },
}

/// What `tree` printed.
#[derive(Debug, Clone)]
pub struct TreeOutput {
    pub entries: Vec<TreeEntry>,
    pub broken: Option<String>,
}

const MAX_ENTRIES: usize = 50_000_000;

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("tree", args, "t:r:o:s:S:Npxdl")?;
    let k = &session.kernel;
    let kind = p.value('t').unwrap_or("rbtree");
    let start_word = p.args.first().ok_or_else(|| Error::Usage(format!("usage: {}", SPEC.synopsis)))?;
    let start = crate::address::resolve_address(k, start_word).or_else(|_| {
        k.lookup_symbol(start_word)
            .map(|s| s.addr)
            .ok_or_else(|| Error::Usage(format!("tree: invalid start: {start_word}")))
    })?;
    let root = start.wrapping_add(match p.value('r') {
        Some(r) => offset_arg(k, r)?,
        None => 0,
    });
    let node_offset = match p.value('o') {
        Some(o) => offset_arg(k, o)?,
        None => 0,
    };
    let mem: &dyn VirtualMemory = k.memory();
    let (raw, broken): (Vec<(u64, TreePosition)>, Option<String>) = match kind {
        "rbtree" | "rb" => {
            let top = if p.has('N') { root } else { rbtree::root_node(mem, root)? };
            let layout = rbtree::RbLayout {
                right: k.layouts().offset("rb_node", "rb_right").unwrap_or(8),
                left: k.layouts().offset("rb_node", "rb_left").unwrap_or(16),
            };
            let mut w = rbtree::walk(mem, top, layout, MAX_ENTRIES);
            if p.has('l') {
                rbtree::in_order(&mut w.entries);
            }
            (
                w.entries
                    .into_iter()
                    .map(|e| (e.node.wrapping_sub(node_offset), TreePosition::Path { path: e.position.to_string() }))
                    .collect(),
                w.broken,
            )
        }
        "radix" | "xarray" | "ra" | "x" => {
            let head_off = k.layouts().offset("xarray", "xa_head").unwrap_or(8);
            // An xa_node pointer is tagged as an internal entry (xa_mk_node).
            let head = if p.has('N') { root | 2 } else { mem.read_u64(root.wrapping_add(head_off))? };
            let layout = xarray::XaLayout::of(k.layouts())?;
            let w = xarray::walk(mem, head, layout, MAX_ENTRIES);
            (w.entries.into_iter().map(|e| (e.value, TreePosition::Index { index: e.index })).collect(), w.broken)
        }
        "maple" | "mt" | "m" => {
            let head = mem.read_u64(root.wrapping_add(k.layouts().offset("maple_tree", "ma_root").unwrap_or(8)))?;
            let w = maple::walk(mem, head, MAX_ENTRIES);
            let entries =
                w.entries.into_iter().map(|e| (e.value, TreePosition::Range { first: e.first, last: e.last }));
            (entries.collect(), w.broken)
        }
        other => return Err(Error::Usage(format!("tree: invalid tree type: {other}"))),
    };
    let shown = match p.value('s').or(p.value('S')) {
        Some(spec) => Some(request(k, spec, TypeKind::Struct, radix_of(session, p.has('x'), p.has('d')))?),
        None => None,
    };
    let mut entries = Vec::with_capacity(raw.len());
    for (addr, position) in raw {
        let mut entry = TreeEntry { addr, position: p.has('p').then_some(position), members: Vec::new(), object: None };
        if let Some(req) = &shown {
            let value = Value::at(req.type_id, addr);
            if req.members.is_empty() {
                let header = TypeHeader { keyword: Aggregate::Struct, name: req.name.clone() };
                entry.object = Some(ObjectValue { header, value: k.value_text(&value, req.radix) });
            } else {
                for m in &req.members {
                    entry.members.push(member_line(k, &value, m, req.radix)?);
                }
            }
        }
        entries.push(entry);
    }
    Ok(Output::Tree(TreeOutput { entries, broken }))
}
