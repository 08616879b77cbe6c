//! Maple trees (Linux 6.1+, e.g. `mm->mm_mt`): every present entry with the
//! index range it covers, read node by node. Node pointers carry the node
//! type in bits 3..6; the walk is bounded in depth and entry count and
//! never visits a node twice.

use std::collections::HashSet;

use krash_core::{Error, Result, VirtualMemory};

/// Every maple node is 256 bytes, 256-aligned; the low byte of an encoded
/// node pointer holds its type and flags.
const NODE_SIZE: usize = 256;
const NODE_ADDR_MASK: u64 = !0xff;
const TYPE_SHIFT: u64 = 3;
const TYPE_MASK: u64 = 0xf;
/// `MAPLE_HEIGHT_MAX`.
const MAX_HEIGHT: usize = 31;
/// Word offset of the first pivot / slot (after the parent pointer).
const HEADER_WORDS: usize = 1;
/// `struct maple_metadata.end` sits in the last slot of 16-slot nodes and
/// after the gaps of `maple_arange_64`.
const RANGE_META_END_BYTE: usize = 8 + 15 * 8 + 15 * 8;
const ARANGE_META_END_BYTE: usize = 8 + 9 * 8 + 10 * 8 + 10 * 8;

/// The node kinds `enum maple_type` defines, with their slot counts on 64-bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum NodeType {
    /// One slot per index, no pivots (31 slots).
    Dense,
    /// Leaf with 15 pivots and 16 slots.
    Leaf64,
    /// Internal node with 15 pivots and 16 slots.
    Range64,
    /// Internal node with 9 pivots, 10 slots and gap tracking.
    Arange64,
}

impl NodeType {
    fn of(encoded: u64) -> Option<NodeType> {
        match (encoded >> TYPE_SHIFT) & TYPE_MASK {
            0 => Some(NodeType::Dense),
            1 => Some(NodeType::Leaf64),
            2 => Some(NodeType::Range64),
            3 => Some(NodeType::Arange64),
            _ => None,
        }
    }
    fn slots(self) -> usize {
        match self {
            NodeType::Dense => 31,
            NodeType::Leaf64 | NodeType::Range64 => 16,
            NodeType::Arange64 => 10,
        }
    }
    fn is_leaf(self) -> bool {
        matches!(self, NodeType::Dense | NodeType::Leaf64)
    }
}

/// One stored entry and the inclusive index range it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MapleEntry {
    pub first: u64,
    pub last: u64,
    pub value: u64,
}

/// The entries found (in index order) and why the walk stopped early, if it did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MapleWalk {
    pub entries: Vec<MapleEntry>,
    pub broken: Option<String>,
}

fn is_internal(entry: u64) -> bool {
    entry & 3 == 2
}

fn is_node(entry: u64) -> bool {
    is_internal(entry) && entry > 4096
}

/// Walks the tree whose `ma_root` value is `root`, keeping at most `limit` entries.
pub fn walk(mem: &dyn VirtualMemory, root: u64, limit: usize) -> MapleWalk {
    let mut walker = Walker { mem, limit, seen: HashSet::new(), out: MapleWalk::default() };
    if root == 0 {
        return walker.out;
    }
    if !is_node(root) {
        walker.out.entries.push(MapleEntry { first: 0, last: 0, value: root });
        return walker.out;
    }
    if let Err(e) = walker.visit(root, 0, u64::MAX, 0) {
        walker.out.broken = Some(e.to_string());
    }
    walker.out
}

struct Walker<'m> {
    mem: &'m dyn VirtualMemory,
    limit: usize,
    seen: HashSet<u64>,
    out: MapleWalk,
}

impl Walker<'_> {
    fn visit(&mut self, encoded: u64, min: u64, max: u64, depth: usize) -> Result<()> {
        let node = encoded & NODE_ADDR_MASK;
        if depth >= MAX_HEIGHT {
            return Err(Error::bad_data("maple tree", format!("deeper than {MAX_HEIGHT} levels at node {node:x}")));
        }
        if !self.seen.insert(node) {
            return Err(Error::bad_data("maple tree", format!("node {node:x} reached twice (cycle)")));
        }
        let kind = NodeType::of(encoded).ok_or_else(|| {
            Error::bad_data("maple tree", format!("node pointer {encoded:x} has an unknown node type"))
        })?;
        let mut bytes = [0u8; NODE_SIZE];
        self.mem.read_virt(node, &mut bytes)?;
        let word = |i: usize| -> u64 {
            let at = i * 8;
            bytes.get(at..at + 8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes).unwrap_or(0)
        };
        let slots = kind.slots();
        if kind == NodeType::Dense {
            for i in 0..slots {
                let value = word(HEADER_WORDS + i);
                let index = min.saturating_add(i as u64);
                if value != 0 && !is_internal(value) {
                    self.push(MapleEntry { first: index, last: index, value })?;
                }
                if index >= max {
                    break;
                }
            }
            return Ok(());
        }
        let pivots = slots - 1;
        let slot_base = HEADER_WORDS + pivots;
        let pivot = |i: usize| word(HEADER_WORDS + i);
        let end = self.data_end(kind, &bytes, pivot(pivots - 1), max);
        let mut low = min;
        for i in 0..=end {
            // A zero pivot past the first slot, or none at all, means "up to the node's max".
            let high = match pivot(i) {
                p if i < pivots && (p != 0 || (i == 0 && end > 0)) => p,
                _ => max,
            };
            if high < low || high > max {
                return Err(Error::bad_data(
                    "maple tree",
                    format!("node {node:x} pivot {i} = {high:x} outside {low:x}-{max:x}"),
                ));
            }
            let value = word(slot_base + i);
            if value != 0 {
                if kind.is_leaf() {
                    if !is_internal(value) {
                        self.push(MapleEntry { first: low, last: high, value })?;
                    }
                } else if value > 4096 {
                    // Children are encoded nodes (`mt_mk_node`: type bits and
                    // bit 2), without the root's internal-entry bit 1.
                    self.visit(value, low, high, depth + 1)?;
                } else {
                    return Err(Error::bad_data(
                        "maple tree",
                        format!("node {node:x} slot {i} = {value:x} is not a node"),
                    ));
                }
            }
            if high >= max {
                break;
            }
            low = high + 1;
        }
        Ok(())
    }

    /// Index of the last used slot: from the node's metadata when the last
    /// pivot does not settle it (the kernel's `ma_data_end`).
    fn data_end(&self, kind: NodeType, bytes: &[u8; NODE_SIZE], last_pivot: u64, max: u64) -> usize {
        let last_slot = kind.slots() - 1;
        let meta_end = |at: usize| usize::from(bytes.get(at).copied().unwrap_or(0)).min(last_slot);
        match kind {
            NodeType::Arange64 => meta_end(ARANGE_META_END_BYTE),
            _ if last_pivot == 0 => meta_end(RANGE_META_END_BYTE),
            _ if last_pivot == max => last_slot - 1,
            _ => last_slot,
        }
    }

    fn push(&mut self, entry: MapleEntry) -> Result<()> {
        if self.out.entries.len() >= self.limit {
            return Err(Error::bad_data("maple tree", format!("more than {} entries", self.limit)));
        }
        self.out.entries.push(entry);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use krash_core::{AddrSpace, FaultReason};
    use std::collections::HashMap;

    /// Sparse virtual memory of 256-byte nodes.
    #[derive(Default)]
    struct Nodes(HashMap<u64, [u64; 32]>);

    impl VirtualMemory for Nodes {
        fn read_virt(&self, vaddr: u64, buf: &mut [u8]) -> Result<()> {
            let words = self
                .0
                .get(&vaddr)
                .ok_or_else(|| Error::fault(vaddr, AddrSpace::KernelVirtual, FaultReason::NotMapped))?;
            for (chunk, w) in buf.chunks_mut(8).zip(words.iter()) {
                chunk.copy_from_slice(&w.to_le_bytes()[..chunk.len()]);
            }
            Ok(())
        }
    }

    /// A child pointer as `mt_mk_node` makes it (type bits, bit 2).
    fn enc(node: u64, kind: u64) -> u64 {
        node | (kind << TYPE_SHIFT) | 4
    }

    /// The root pointer as `mt_mk_root` makes it (bit 1 set too).
    fn root(node: u64, kind: u64) -> u64 {
        enc(node, kind) | 2
    }

    #[test]
    fn range_node_over_two_leaves() {
        let mut m = Nodes::default();
        let mut leaf_a = [0u64; 32];
        leaf_a[1] = 0xfff; // pivot 0: [0, fff] empty
        leaf_a[2] = 0x1fff; // [1000, 1fff] -> A
        leaf_a[16 + 1] = 0xa000;
        let mut leaf_b = [0u64; 32];
        leaf_b[1] = 0x3fff; // [4000..? ] starts at 0x2000
        leaf_b[16] = 0xb000;
        let mut top = [0u64; 32];
        top[1] = 0x1fff;
        top[16] = enc(0x1000, 1);
        top[17] = enc(0x2000, 1);
        leaf_a[31] = 1; // metadata end
        top[31] = 1;
        m.0.insert(0x1000, leaf_a);
        m.0.insert(0x2000, leaf_b);
        m.0.insert(0x3000, top);
        let w = walk(&m, root(0x3000, 2), 100);
        assert_eq!(w.broken, None);
        assert_eq!(
            w.entries,
            vec![
                MapleEntry { first: 0x1000, last: 0x1fff, value: 0xa000 },
                MapleEntry { first: 0x2000, last: 0x3fff, value: 0xb000 },
            ]
        );
    }

    #[test]
    fn cycle_is_reported() {
        let mut m = Nodes::default();
        let mut top = [0u64; 32];
        top[16] = enc(0x3000, 2);
        m.0.insert(0x3000, top);
        let w = walk(&m, root(0x3000, 2), 100);
        assert!(w.broken.unwrap_or_default().contains("twice"));
    }
}
