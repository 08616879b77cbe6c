//! x86-64 knowledge that does not depend on a particular kernel build:
//! the page-table format and virtual-address layout, and instruction
//! decoding for `dis`.

pub mod paging;

pub use paging::{PageTableEntry, PagingMode, TranslateStep, Translation};
pub mod disasm;
