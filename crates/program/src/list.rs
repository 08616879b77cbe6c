//! Walking the kernel's circular `struct list_head` lists safely: bounded,
//! cycle-detecting (Brent's algorithm, constant memory), and reporting a
//! broken link with the node where it broke instead of looping or aborting.

use krash_core::{Error, Result, VirtualMemory};

/// Why a list walk stopped early.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ListBreak {
    /// `next` pointers loop without returning to the head; `at` is the
    /// first node seen twice.
    Cycle { at: u64 },
    /// A node's `next` could not be read.
    Unreadable { node: u64, error: String },
    /// `next->prev` does not point back (only checked when asked).
    BadBacklink { node: u64, next: u64, next_prev: u64 },
    /// The walk reached the caller's entry limit.
    Limit { limit: usize },
}

impl std::fmt::Display for ListBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListBreak::Cycle { at } => write!(f, "list cycle detected at {at:x}: the list never returns to its head"),
            ListBreak::Unreadable { node, error } => write!(f, "list broken at {node:x}: {error}"),
            ListBreak::BadBacklink { node, next, next_prev } => {
                write!(f, "list corrupted at {node:x}: next {next:x} has prev {next_prev:x}")
            }
            ListBreak::Limit { limit } => write!(f, "list walk stopped after {limit} entries"),
        }
    }
}

/// The nodes of a list (addresses of each `list_head`, head excluded) and
/// why the walk stopped, if not at the head.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListWalk {
    pub nodes: Vec<u64>,
    pub broken: Option<ListBreak>,
}

impl ListWalk {
    /// The nodes, or the break as an error (for callers that need the whole list).
    pub fn complete(self) -> Result<Vec<u64>> {
        match self.broken {
            None => Ok(self.nodes),
            Some(b) => Err(Error::bad_data("list walk", b.to_string())),
        }
    }
}

/// Options for [`walk`].
#[derive(Debug, Clone, Copy)]
pub struct WalkOptions {
    /// Follow `prev` instead of `next` (crash's `list -r`).
    pub reverse: bool,
    /// Verify `next->prev == node` at every step.
    pub check_backlinks: bool,
    pub limit: usize,
    /// Offset of `next` within `list_head` (0) and of `prev` (8).
    pub next_offset: u64,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions { reverse: false, check_backlinks: false, limit: 16 << 20, next_offset: 0 }
    }
}

/// Walks the list whose head is at `head`.
pub fn walk(mem: &dyn VirtualMemory, head: u64, opts: WalkOptions) -> ListWalk {
    walk_from(mem, head, head, opts)
}

/// Walks from `start` until `end` comes back (crash's `list -e`), or the
/// head for a normal walk.
pub fn walk_from(mem: &dyn VirtualMemory, start: u64, end: u64, opts: WalkOptions) -> ListWalk {
    let mut cursor = ListCursor::new(mem, start, end, opts);
    let nodes = cursor.by_ref().collect();
    ListWalk { nodes, broken: cursor.broken }
}

/// A walk one node at a time, in constant memory, for callers that act on
/// each node as it is reached (`list` of a million entries writes each as
/// it goes). After the last node, [`ListCursor::broken`] says why the walk
/// stopped, if not at `end`.
pub struct ListCursor<'m> {
    mem: &'m dyn VirtualMemory,
    end: u64,
    opts: WalkOptions,
    forward_off: u64,
    back_off: u64,
    node: u64,
    // Brent's cycle detection: `tortoise` teleports to the hare at powers of two.
    tortoise: u64,
    power: usize,
    steps: usize,
    yielded: usize,
    done: bool,
    pub broken: Option<ListBreak>,
}

impl<'m> ListCursor<'m> {
    pub fn new(mem: &'m dyn VirtualMemory, start: u64, end: u64, opts: WalkOptions) -> ListCursor<'m> {
        let (forward_off, back_off) = if opts.reverse { (8, 0) } else { (0, 8) };
        ListCursor {
            mem,
            end,
            opts,
            forward_off,
            back_off,
            node: start,
            tortoise: start,
            power: 1,
            steps: 0,
            yielded: 0,
            done: false,
            broken: None,
        }
    }

    fn stop(&mut self, why: Option<ListBreak>) -> Option<u64> {
        self.done = true;
        self.broken = why;
        None
    }
}

impl Iterator for ListCursor<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        if self.done {
            return None;
        }
        let node = self.node;
        let next = match self.mem.read_u64(node.wrapping_add(self.forward_off)) {
            Ok(n) => n,
            Err(e) => return self.stop(Some(ListBreak::Unreadable { node, error: e.to_string() })),
        };
        if self.opts.check_backlinks {
            match self.mem.read_u64(next.wrapping_add(self.back_off)) {
                Ok(back) if back == node => {}
                Ok(back) => return self.stop(Some(ListBreak::BadBacklink { node, next, next_prev: back })),
                Err(e) => return self.stop(Some(ListBreak::Unreadable { node: next, error: e.to_string() })),
            }
        }
        if next == self.end {
            return self.stop(None);
        }
        if next == self.tortoise {
            return self.stop(Some(ListBreak::Cycle { at: next }));
        }
        if self.yielded >= self.opts.limit {
            return self.stop(Some(ListBreak::Limit { limit: self.opts.limit }));
        }
        self.yielded += 1;
        self.node = next;
        self.steps += 1;
        if self.steps == self.power {
            self.tortoise = next;
            self.power = self.power.saturating_mul(2);
            self.steps = 0;
        }
        Some(next)
    }
}

/// Walks a list forwards and, if a link is broken, walks the rest
/// backwards from the head (`prev` pointers) to recover the nodes beyond
/// the break. `broken` still reports the first break; nodes are in forward
/// order with the unreachable part missing.
pub fn walk_bridging(mem: &dyn VirtualMemory, head: u64, opts: WalkOptions) -> ListWalk {
    let mut nodes = Vec::new();
    let broken = walk_bridging_each(mem, head, opts, |node| {
        nodes.push(node);
        Ok::<(), std::convert::Infallible>(())
    });
    match broken {
        Ok(broken) => ListWalk { nodes, broken },
        Err(never) => match never {},
    }
}

/// [`walk_bridging`] a node at a time: `each` gets the same nodes in the
/// same order, each as soon as the walk has read past it (the node whose
/// own link cannot be read, the first of a gap, is not handed on), so a
/// caller can work on a node while its pages are fresh. `each` may stop
/// the walk with its error. Returns the first break, if any.
pub fn walk_bridging_each<E>(
    mem: &dyn VirtualMemory,
    head: u64,
    opts: WalkOptions,
    mut each: impl FnMut(u64) -> std::result::Result<(), E>,
) -> std::result::Result<Option<ListBreak>, E> {
    let mut cursor = ListCursor::new(mem, head, head, opts);
    let mut forward: std::collections::HashSet<u64> = std::collections::HashSet::new();
    let mut pending: Option<u64> = None;
    for node in cursor.by_ref() {
        forward.insert(node);
        if let Some(previous) = pending.replace(node) {
            each(previous)?;
        }
    }
    let broken = cursor.broken.take();
    match (&broken, pending) {
        (Some(ListBreak::Unreadable { node, .. }), Some(last)) if *node == last => {}
        (_, Some(last)) => each(last)?,
        (_, None) => {}
    }
    if let Some(ListBreak::Unreadable { .. } | ListBreak::BadBacklink { .. }) = &broken {
        let backward = walk(mem, head, WalkOptions { reverse: !opts.reverse, ..opts });
        let mut tail: Vec<u64> = backward.nodes.into_iter().take_while(|n| !forward.contains(n)).collect();
        tail.reverse();
        for node in tail {
            each(node)?;
        }
    }
    Ok(broken)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Words(HashMap<u64, u64>);
    impl VirtualMemory for Words {
        fn read_virt(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
            let v = self.0.get(&addr).ok_or_else(|| krash_core::memory::not_mapped(addr))?;
            buf.copy_from_slice(&v.to_le_bytes()[..buf.len()]);
            Ok(())
        }
    }

    /// Builds a proper circular list head -> 0x100 -> 0x200 ... -> head.
    fn list(n: u64) -> Words {
        let head = 0x10u64;
        let nodes: Vec<u64> = (1..=n).map(|i| i * 0x100).collect();
        let mut m = HashMap::new();
        let all: Vec<u64> = std::iter::once(head).chain(nodes.iter().copied()).collect();
        for (i, &a) in all.iter().enumerate() {
            let next = all[(i + 1) % all.len()];
            let prev = all[(i + all.len() - 1) % all.len()];
            m.insert(a, next);
            m.insert(a + 8, prev);
        }
        Words(m)
    }

    #[test]
    fn walks_forward_and_back() {
        let m = list(5);
        let w = walk(&m, 0x10, WalkOptions { check_backlinks: true, ..Default::default() });
        assert_eq!(w.nodes, vec![0x100, 0x200, 0x300, 0x400, 0x500]);
        assert!(w.broken.is_none());
        let w = walk(&m, 0x10, WalkOptions { reverse: true, ..Default::default() });
        assert_eq!(w.nodes, vec![0x500, 0x400, 0x300, 0x200, 0x100]);
    }

    #[test]
    fn empty_list() {
        let m = list(0);
        assert!(walk(&m, 0x10, WalkOptions::default()).nodes.is_empty());
    }

    #[test]
    fn cycle_not_through_head_is_detected() {
        let mut m = list(6);
        m.0.insert(0x600, 0x300); // 0x600 -> 0x300 instead of head
        let w = walk(&m, 0x10, WalkOptions::default());
        assert!(matches!(w.broken, Some(ListBreak::Cycle { .. })), "{:?}", w.broken);
        assert!(w.nodes.len() < 20);
    }

    #[test]
    fn broken_and_corrupted_links_are_named() {
        let mut m = list(4);
        m.0.insert(0x200, 0xdead_0000);
        let w = walk(&m, 0x10, WalkOptions::default());
        assert_eq!(w.nodes, vec![0x100, 0x200, 0xdead_0000]);
        assert!(matches!(w.broken, Some(ListBreak::Unreadable { node: 0xdead_0000, .. })));

        let mut m = list(4);
        m.0.insert(0x300 + 8, 0x999);
        let w = walk(&m, 0x10, WalkOptions { check_backlinks: true, ..Default::default() });
        assert_eq!(w.broken, Some(ListBreak::BadBacklink { node: 0x200, next: 0x300, next_prev: 0x999 }));
    }

    #[test]
    fn a_broken_link_is_bridged_from_the_other_end() {
        let mut m = list(6);
        m.0.remove(&0x300); // node 0x300 unreadable
        let w = walk_bridging(&m, 0x10, WalkOptions::default());
        assert_eq!(w.nodes, vec![0x100, 0x200, 0x400, 0x500, 0x600]);
        assert!(matches!(w.broken, Some(ListBreak::Unreadable { node: 0x300, .. })));
    }

    #[test]
    fn each_node_is_handed_on_in_order_and_the_caller_may_stop() {
        let mut m = list(6);
        m.0.remove(&0x300);
        let mut seen = Vec::new();
        let broken = walk_bridging_each(&m, 0x10, WalkOptions::default(), |n| {
            seen.push(n);
            Ok::<(), ()>(())
        });
        assert!(matches!(broken, Ok(Some(ListBreak::Unreadable { node: 0x300, .. }))));
        assert_eq!(seen, vec![0x100, 0x200, 0x400, 0x500, 0x600]);
        // The caller's error ends the walk at once.
        let mut count = 0;
        let stopped = walk_bridging_each(&list(50), 0x10, WalkOptions::default(), |_| {
            count += 1;
            if count == 3 {
                Err("enough")
            } else {
                Ok(())
            }
        });
        assert_eq!((stopped, count), (Err("enough"), 3));
        // A bad backlink keeps the node before it, then bridges from the head.
        let mut m = list(5);
        m.0.insert(0x300 + 8, 0x999);
        let w = walk_bridging(&m, 0x10, WalkOptions { check_backlinks: true, ..Default::default() });
        assert_eq!(w.nodes, vec![0x100, 0x200, 0x300, 0x400, 0x500]);
    }

    #[test]
    fn limit_stops_long_lists() {
        let m = list(50);
        let w = walk(&m, 0x10, WalkOptions { limit: 10, ..Default::default() });
        assert_eq!(w.nodes.len(), 10);
        assert_eq!(w.broken, Some(ListBreak::Limit { limit: 10 }));
    }
}
