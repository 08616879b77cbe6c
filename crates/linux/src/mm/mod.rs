//! Memory management: slab caches and objects, `struct page`, nodes and
//! zones, the SPARSEMEM section table, VM counters and the memory summary,
//! a task's VMAs, resident pages and user pages, swap, and memory search.

pub mod meminfo;
pub mod page;
pub mod rss;
pub mod search;
pub mod slab;
pub mod sparse;
pub mod swap;
pub mod user_pages;
pub mod vma;
pub mod vmstat;
pub mod zone;
