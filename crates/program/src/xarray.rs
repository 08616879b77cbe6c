//! XArrays (and radix trees, which are XArrays since Linux 4.20): every
//! present entry with its index, read through `xa_node` slots.

use krash_core::{Result, VirtualMemory};

/// Offsets inside `struct xa_node` (from the kernel's types).
#[derive(Debug, Clone, Copy)]
pub struct XaLayout {
    pub shift: u64,
    pub slots: u64,
    /// Slots per node (`XA_CHUNK_SIZE`, 64 on x86-64).
    pub chunk: u64,
}

/// One present entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct XaEntry {
    pub index: u64,
    pub value: u64,
}

/// The entries found and why the walk stopped early, if it did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XaWalk {
    pub entries: Vec<XaEntry>,
    pub broken: Option<String>,
}

/// Deepest node chain accepted (64-bit indices need at most 11 levels).
const MAX_LEVELS: usize = 16;

fn is_internal(entry: u64) -> bool {
    entry & 3 == 2
}

fn is_node(entry: u64) -> bool {
    is_internal(entry) && entry > 4096
}

/// Walks from `head` (the `xa_head` value), in index order.
pub fn walk(mem: &dyn VirtualMemory, head: u64, layout: XaLayout, limit: usize) -> XaWalk {
    let mut out = XaWalk::default();
    if head == 0 {
        return out;
    }
    if !is_node(head) {
        out.entries.push(XaEntry { index: 0, value: head });
        return out;
    }
    if let Err(e) = visit(mem, head - 2, 0, layout, limit, 0, &mut out) {
        out.broken = Some(e.to_string());
    }
    out
}

fn visit(
    mem: &dyn VirtualMemory,
    node: u64,
    base: u64,
    layout: XaLayout,
    limit: usize,
    depth: usize,
    out: &mut XaWalk,
) -> Result<()> {
    if depth > MAX_LEVELS {
        out.broken = Some(format!("xarray deeper than {MAX_LEVELS} levels at node {node:x}: corrupt"));
        return Ok(());
    }
    let shift = u64::from(mem.read_u8(node.wrapping_add(layout.shift))?);
    if shift > 63 {
        out.broken = Some(format!("xa_node {node:x} has shift {shift}: corrupt"));
        return Ok(());
    }
    for slot in 0..layout.chunk {
        if out.broken.is_some() {
            return Ok(());
        }
        let entry = mem.read_u64(node.wrapping_add(layout.slots).wrapping_add(slot * 8))?;
        if entry == 0 {
            continue;
        }
        let index = base.wrapping_add(slot << shift);
        if is_node(entry) && shift > 0 {
            visit(mem, entry - 2, index, layout, limit, depth + 1, out)?;
        } else if !is_internal(entry) {
            if out.entries.len() >= limit {
                out.broken = Some(format!("xarray walk stopped after {limit} entries"));
                return Ok(());
            }
            out.entries.push(XaEntry { index, value: entry });
        }
    }
    Ok(())
}
