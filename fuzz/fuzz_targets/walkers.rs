//! The program core's generic walkers of kernel data structures over a
//! synthetic kernel whose memory is the fuzz input.
//!
//! Each input builds a `SyntheticKernel` whose direct-map heap is the input
//! itself, so the walkers read through the real `KernelMemory` (ELF vmcore,
//! address translation) at `H = PAGE_OFFSET + 0x400_0000`, where the input
//! starts. The kernel's types give `list_head`, `rb_node`/`rb_root`,
//! `xarray`/`xa_node` and `maple_tree` the 6.1 x86-64 layouts, and the
//! walkers take their offsets from `Kernel::layouts()` as krash_linux does.
//! Roots at fixed places of the input:
//!
//! * `H+0`:  a `list_head` (list head), walked forwards, backwards, with
//!   backlink checks, from a node to the head, and bridging a break;
//! * `H+16`: an `rb_root` (`rb_node` pointer), walked and put in order;
//! * `H+24`: a `struct xarray` (its `xa_head` at `H+32`);
//! * `H+40`: a `struct maple_tree` (its `ma_root` at `H+48`);
//! * `H+56`: one byte of options (bit 0: check backlinks, bit 1: use the
//!   first list node as the `-e` end), and with the next seven the index
//!   looked up in the xarray.
//!
//! Nodes live anywhere in the input (maple nodes at 256-aligned offsets,
//! e.g. `H+0x100`). Every walk must stop on its own: bounded, cycles
//! detected, never panicking.
#![no_main]

use krash_core::VirtualMemory;
use krash_debuginfo::types::TypeId;
use krash_program::synthetic::SyntheticKernel;
use krash_program::xarray::XaLayout;
use krash_program::{list, maple, rbtree, xarray, Kernel};
use libfuzzer_sys::fuzz_target;

/// Entries kept per walk: small enough to stay fast, larger than any seed.
const LIMIT: usize = 1 << 12;

/// The kernel with the walkers' types, its heap the input; `None` if the
/// input is too short to hold the roots.
fn kernel_over(data: &[u8]) -> Option<(Kernel, u64)> {
    if data.len() < 64 {
        return None;
    }
    let mut s = SyntheticKernel::new();
    let t = s.types();
    let void_ptr = t.pointer(TypeId::VOID);
    let uchar = t.int("unsigned char", 1, false);
    let uint = t.int("unsigned int", 4, false);
    let ulong = t.int("long unsigned int", 8, false);
    let list_head = t.structure("list_head", 16, &[("next", void_ptr, 0), ("prev", void_ptr, 8)]);
    t.structure(
        "rb_node",
        24,
        &[("__rb_parent_color", ulong, 0), ("rb_right", void_ptr, 8), ("rb_left", void_ptr, 16)],
    );
    t.structure("rb_root", 8, &[("rb_node", void_ptr, 0)]);
    t.structure("xarray", 16, &[("xa_lock", uint, 0), ("xa_flags", uint, 4), ("xa_head", void_ptr, 8)]);
    let slots = t.array(void_ptr, 64);
    let marks = t.array(ulong, 3);
    t.structure(
        "xa_node",
        576,
        &[
            ("shift", uchar, 0),
            ("offset", uchar, 1),
            ("count", uchar, 2),
            ("nr_values", uchar, 3),
            ("parent", void_ptr, 8),
            ("array", void_ptr, 16),
            ("private_list", list_head, 24),
            ("slots", slots, 40),
            ("marks", marks, 552),
        ],
    );
    t.structure("maple_tree", 16, &[("ma_lock", uint, 0), ("ma_flags", uint, 4), ("ma_root", void_ptr, 8)]);
    let heap = s.alloc(data.len() as u64);
    s.write(heap, data);
    s.build().ok().map(|k| (k, heap))
}

fn walk_lists(mem: &dyn VirtualMemory, head: u64, flags: u8) {
    let opts = list::WalkOptions { check_backlinks: flags & 1 != 0, limit: LIMIT, ..Default::default() };
    let forward = list::walk(mem, head, opts);
    let _ = list::walk(mem, head, list::WalkOptions { reverse: true, ..opts });
    let _ = list::walk_bridging(mem, head, opts);
    if flags & 2 != 0 {
        if let Some(&first) = forward.nodes.first() {
            let _ = list::walk_from(mem, first, head, opts);
        }
    }
    let _ = forward.complete();
}

fn walk_rbtree(k: &Kernel, root: u64) {
    let l = k.layouts();
    let (Ok(right), Ok(left), Ok(rb_node)) =
        (l.offset("rb_node", "rb_right"), l.offset("rb_node", "rb_left"), l.offset("rb_root", "rb_node"))
    else {
        return;
    };
    let Ok(top) = rbtree::root_node(k.memory(), root + rb_node) else { return };
    let mut w = rbtree::walk(k.memory(), top, rbtree::RbLayout { right, left }, LIMIT);
    rbtree::in_order(&mut w.entries);
}

fn walk_xarray(k: &Kernel, xa: u64, index: u64) {
    let l = k.layouts();
    let (Ok(head_off), Ok(layout)) = (l.offset("xarray", "xa_head"), XaLayout::of(l)) else {
        return;
    };
    let Ok(head) = k.memory().read_u64(xa + head_off) else { return };
    let walked = xarray::walk(k.memory(), head, layout, LIMIT);
    // Lookups of what the walk listed reach the tree's deepest paths; any
    // index is answered without a panic. (They need not agree on a corrupt
    // tree: a child whose shift is not its parent's less one is indexed
    // differently by a walk and by a lookup.)
    for e in walked.entries.iter().take(16) {
        let _ = xarray::load(k.memory(), head, layout, e.index);
    }
    let _ = xarray::load(k.memory(), head, layout, index);
}

fn walk_maple(k: &Kernel, mt: u64) {
    let Ok(root_off) = k.layouts().offset("maple_tree", "ma_root") else { return };
    let Ok(root) = k.memory().read_u64(mt + root_off) else { return };
    let _ = maple::walk(k.memory(), root, LIMIT);
}

fuzz_target!(|data: &[u8]| {
    let Some((k, h)) = kernel_over(data) else { return };
    walk_lists(k.memory(), h, data[56]);
    walk_rbtree(&k, h + 16);
    walk_xarray(&k, h + 24, u64::from_le_bytes(data[56..64].try_into().unwrap_or_default()));
    walk_maple(&k, h + 40);
});
