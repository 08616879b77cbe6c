//! XArrays (and radix trees, which are XArrays since Linux 4.20): every
//! present entry with its index, read through `xa_node` slots.

use krash_core::{Result, VirtualMemory};
use krash_debuginfo::types::Type;

use crate::layout::Layouts;

/// Offsets inside `struct xa_node` (from the kernel's types).
#[derive(Debug, Clone, Copy)]
pub struct XaLayout {
    pub shift: u64,
    pub slots: u64,
    /// Slots per node (`XA_CHUNK_SIZE`, 64 on x86-64).
    pub chunk: u64,
}

impl XaLayout {
    /// This kernel's `xa_node`: its members' offsets, and its slots per node
    /// from the length of `slots` (`XA_CHUNK_SIZE`: 64, or 16 with
    /// CONFIG_BASE_SMALL); 64 where the types do not say.
    pub fn of(layouts: &Layouts) -> Result<XaLayout> {
        let chunk = match layouts.member_type("xa_node", "slots") {
            Some(Type::Array { len: Some(len), .. }) if len > 0 => len,
            _ => 64,
        };
        Ok(XaLayout { shift: layouts.offset("xa_node", "shift")?, slots: layouts.offset("xa_node", "slots")?, chunk })
    }
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

/// The entry at `index` (Linux's `xa_load`), or None: descends one node a
/// level, as deep as the tree says and no deeper than [`MAX_LEVELS`].
pub fn load(mem: &dyn VirtualMemory, head: u64, layout: XaLayout, index: u64) -> Result<Option<u64>> {
    if !is_node(head) {
        return Ok((index == 0 && head != 0 && !is_internal(head)).then_some(head));
    }
    // An index beyond what the root covers (chunk << its shift) is absent.
    let bits = u64::from(layout.chunk.checked_ilog2().unwrap_or(0));
    let root_shift = u64::from(mem.read_u8((head - 2).wrapping_add(layout.shift))?);
    let span_bits = root_shift.saturating_add(bits);
    if span_bits < 64 && index >> span_bits != 0 {
        return Ok(None);
    }
    let mut entry = head;
    for _ in 0..MAX_LEVELS {
        let node = entry - 2;
        let shift = u64::from(mem.read_u8(node.wrapping_add(layout.shift))?);
        let slot =
            index.checked_shr(u32::try_from(shift).unwrap_or(u32::MAX)).unwrap_or(0) & layout.chunk.saturating_sub(1);
        entry = mem.read_u64(node.wrapping_add(layout.slots).wrapping_add(slot.wrapping_mul(8)))?;
        if !is_node(entry) || shift == 0 {
            return Ok((entry != 0 && !is_internal(entry)).then_some(entry));
        }
    }
    Err(krash_core::Error::bad_data("xarray", format!("deeper than {MAX_LEVELS} levels looking up index {index}")))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Bytes at addresses, the rest unmapped.
    struct Bytes(HashMap<u64, u8>);
    impl VirtualMemory for Bytes {
        fn read_virt(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
            for (i, b) in buf.iter_mut().enumerate() {
                let at = addr.wrapping_add(i as u64);
                *b = *self.0.get(&at).ok_or_else(|| krash_core::memory::not_mapped(at))?;
            }
            Ok(())
        }
    }

    const LAYOUT: XaLayout = XaLayout { shift: 0, slots: 8, chunk: 64 };

    impl Bytes {
        fn node(&mut self, at: u64, shift: u8, slots: &[(u64, u64)]) {
            self.0.insert(at, shift);
            for slot in 0..64 {
                let value = slots.iter().find(|(s, _)| *s == slot).map_or(0, |(_, v)| *v);
                for (i, b) in value.to_le_bytes().iter().enumerate() {
                    self.0.insert(at + 8 + slot * 8 + i as u64, *b);
                }
            }
        }
    }

    /// Two levels: the root (shift 6) holds a leaf node at slot 1 (indices
    /// 64-127) with entries at 64 and 100, and an entry at slot 3 (192).
    fn two_levels() -> (Bytes, u64) {
        let mut m = Bytes(HashMap::new());
        let (root, leaf) = (0x10000u64, 0x20000u64);
        m.node(root, 6, &[(1, leaf | 2), (3, 0xffff_0000_0000_1000)]);
        m.node(leaf, 0, &[(0, 0xffff_0000_0000_2000), (36, 0xffff_0000_0000_3000)]);
        (m, root | 2)
    }

    #[test]
    fn load_finds_what_walk_lists_and_nothing_else() {
        let (m, head) = two_levels();
        let walked = walk(&m, head, LAYOUT, 100);
        assert!(walked.broken.is_none());
        let indices: Vec<u64> = walked.entries.iter().map(|e| e.index).collect();
        assert_eq!(indices, [64, 100, 192]);
        for e in &walked.entries {
            assert_eq!(load(&m, head, LAYOUT, e.index).unwrap(), Some(e.value), "index {}", e.index);
        }
        for absent in [0, 63, 65, 101, 191, 256, 4095, 4096, u64::MAX] {
            assert_eq!(load(&m, head, LAYOUT, absent).unwrap(), None, "index {absent}");
        }
        // An entry in a slot of a node above the leaves covers the slot's
        // whole range (a multi-index entry), as xa_load reads it.
        assert_eq!(load(&m, head, LAYOUT, 255).unwrap(), Some(0xffff_0000_0000_1000));
    }

    #[test]
    fn load_of_a_single_entry_and_of_nothing() {
        let m = Bytes(HashMap::new());
        assert_eq!(load(&m, 0, LAYOUT, 0).unwrap(), None);
        assert_eq!(load(&m, 0xffff_0000_0000_1000, LAYOUT, 0).unwrap(), Some(0xffff_0000_0000_1000));
        assert_eq!(load(&m, 0xffff_0000_0000_1000, LAYOUT, 1).unwrap(), None);
    }

    #[test]
    fn load_of_a_self_referencing_node_stops() {
        // A node whose slot points back at itself: corrupt, and bounded.
        let mut m = Bytes(HashMap::new());
        m.node(0x10000, 6, &[(0, 0x10000 | 2)]);
        assert!(load(&m, 0x10000 | 2, LAYOUT, 0).is_err());
        // An unreadable node is the read's error, not a panic.
        assert!(load(&m, 0x90000 | 2, LAYOUT, 5).is_err());
    }
}
