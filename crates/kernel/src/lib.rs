//! The kernel model: a dump plus debuginfo seen as a running kernel's
//! memory, with one module per subsystem (tasks, modules, printk, per-cpu,
//! lists). Commands are built on this crate; it never prints.

pub mod addrspace;
pub mod analyze;
pub mod backtrace;
mod debuginfo;
pub mod dev;
pub mod expr;
pub mod frame_vars;
pub mod fs;
pub mod hrtimer;
pub mod ipc;
pub mod irq;
pub mod layout;
pub mod list;
pub mod maple;
pub mod mapped;
pub mod meminfo;
pub mod mm;
pub mod modules;
pub mod mount;
pub mod net;
mod nodebuginfo;
pub mod oops;
pub mod oops_resolve;
pub mod page;
pub mod percpu;
pub mod printk;
mod program;
pub mod progress;
pub mod rbtree;
pub mod sched;
pub mod search;
pub mod signal;
pub mod slab;
pub mod sparse;
pub mod swap;
pub mod symbolize;
pub mod system;
pub mod task;
pub mod timer;
pub mod user_pages;
pub mod value;
pub mod vma;
pub mod vmstat;
pub mod waitq;
pub mod xarray;
pub mod zone;

pub use addrspace::{KernelLayout, KernelMemory, START_KERNEL_MAP};
pub use modules::Module;
pub use program::{DebuginfoSources, Kernel, KernelFiles};
pub use symbolize::SymbolRef;
pub use task::{Task, TaskState};
