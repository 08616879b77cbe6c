//! Red-black trees (`struct rb_root` / `struct rb_node`) walked in order,
//! bounded in depth and size so a corrupt tree cannot loop.

use krash_core::{Error, Result, VirtualMemory};

/// Deepest path accepted: a valid red-black tree of 2^64 nodes is < 128 deep.
const MAX_DEPTH: usize = 128;

/// One node reached, with its path from the root (`l`/`r` steps).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RbEntry {
    /// Address of the `rb_node`.
    pub node: u64,
    /// `root/l/r` as crash's `tree -p` shows it.
    pub position: String,
}

/// The nodes in order, and why the walk stopped early if it did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RbWalk {
    pub entries: Vec<RbEntry>,
    pub broken: Option<String>,
}

/// Offsets inside `struct rb_node`.
#[derive(Debug, Clone, Copy)]
pub struct RbLayout {
    pub right: u64,
    pub left: u64,
}

impl Default for RbLayout {
    fn default() -> Self {
        RbLayout { right: 8, left: 16 }
    }
}

/// Walks the tree whose first node is `top` (the `rb_node` an `rb_root`
/// points to) in crash's order (node, left subtree, right subtree),
/// stopping at `limit` nodes or at a node seen twice.
pub fn walk(mem: &dyn VirtualMemory, top: u64, layout: RbLayout, limit: usize) -> RbWalk {
    let mut out = RbWalk::default();
    let mut seen = std::collections::HashSet::new();
    let mut stack: Vec<(u64, String, usize)> = Vec::new();
    if top != 0 {
        stack.push((top, "root".to_string(), 0));
    }
    while let Some((node, path, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            out.broken = Some(format!("tree deeper than {MAX_DEPTH} levels at {node:x}: corrupt links"));
            return out;
        }
        if !seen.insert(node) {
            out.broken = Some(format!("tree cycle: node {node:x} reached twice (at {path})"));
            return out;
        }
        if out.entries.len() >= limit {
            out.broken = Some(format!("tree walk stopped after {limit} entries"));
            return out;
        }
        let read = |off: u64| mem.read_u64(node.wrapping_add(off));
        let (left, right) = match (read(layout.left), read(layout.right)) {
            (Ok(l), Ok(r)) => (l, r),
            (Err(e), _) | (_, Err(e)) => {
                out.broken = Some(format!("tree broken at {node:x}: {e}"));
                return out;
            }
        };
        out.entries.push(RbEntry { node, position: path.clone() });
        if right != 0 {
            stack.push((right, format!("{path}/r"), depth + 1));
        }
        if left != 0 {
            stack.push((left, format!("{path}/l"), depth + 1));
        }
    }
    out
}

/// Puts pre-order entries into in-order (sorted, leftmost first): a
/// node comes after its left subtree and before its right one.
pub fn in_order(entries: &mut [RbEntry]) {
    entries.sort_by_cached_key(|e| in_order_key(&e.position));
}

/// Sort key giving in-order position from a `root/l/r` path: left subtree,
/// then the node, then the right subtree.
fn in_order_key(path: &str) -> Vec<u8> {
    let mut key: Vec<u8> = path.split('/').skip(1).map(|step| if step == "l" { 0 } else { 2 }).collect();
    key.push(1);
    key
}

/// The first node of the tree rooted at the `rb_root` at `root`.
pub fn root_node(mem: &dyn VirtualMemory, root: u64) -> Result<u64> {
    mem.read_u64(root).map_err(|e| Error::bad_data("rb_root", format!("cannot read root {root:x}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Words(HashMap<u64, u64>);
    impl VirtualMemory for Words {
        fn read_virt(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
            let v = self.0.get(&addr).copied().unwrap_or(0);
            buf.copy_from_slice(&v.to_le_bytes()[..buf.len()]);
            Ok(())
        }
    }

    #[test]
    fn preorder_with_positions_and_cycle_guard() {
        // 0x200 is the root with left 0x100 and right 0x300.
        let mut m = HashMap::new();
        m.insert(0x200 + 16, 0x100);
        m.insert(0x200 + 8, 0x300);
        let w = walk(&Words(m.clone()), 0x200, RbLayout::default(), 100);
        let nodes: Vec<u64> = w.entries.iter().map(|e| e.node).collect();
        assert_eq!(nodes, vec![0x200, 0x100, 0x300]);
        assert_eq!(w.entries[1].position, "root/l");
        assert_eq!(w.entries[2].position, "root/r");
        m.insert(0x100 + 16, 0x200); // left child points back up
        let w = walk(&Words(m), 0x200, RbLayout::default(), 100);
        assert!(w.broken.is_some());
    }

    #[test]
    fn in_order_puts_left_subtrees_first() {
        let mk = |p: &str| RbEntry { node: 0, position: p.to_string() };
        let mut e = vec![mk("root"), mk("root/l"), mk("root/l/r"), mk("root/r"), mk("root/l/l")];
        in_order(&mut e);
        let order: Vec<&str> = e.iter().map(|e| e.position.as_str()).collect();
        assert_eq!(order, ["root/l/l", "root/l", "root/l/r", "root", "root/r"]);
    }
}
