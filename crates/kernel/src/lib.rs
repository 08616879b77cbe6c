//! The kernel model: a dump plus debuginfo seen as a running kernel's
//! memory, with one module per subsystem (tasks, modules, printk, per-cpu,
//! lists). Commands are built on this crate; it never prints.

pub mod addrspace;
pub mod analyze;
pub mod backtrace;
pub mod dev;
mod debuginfo;
pub mod expr;
pub mod frame_vars;
pub mod hrtimer;
pub mod ipc;
pub mod irq;
pub mod fs;
pub mod layout;
pub mod maple;
pub mod mapped;
pub mod list;
pub mod meminfo;
pub mod mm;
mod nodebuginfo;
pub mod modules;
pub mod mount;
pub mod net;
pub mod oops;
pub mod oops_resolve;
pub mod percpu;
pub mod page;
pub mod printk;
pub mod progress;
pub mod rbtree;
pub mod sched;
pub mod search;
pub mod signal;
pub mod slab;
pub mod sparse;
pub mod symbolize;
pub mod swap;
pub mod system;
mod program;
pub mod task;
pub mod timer;
pub mod value;
pub mod user_pages;
pub mod vma;
pub mod vmstat;
pub mod waitq;
pub mod xarray;
pub mod zone;

pub use addrspace::{KernelLayout, KernelMemory, START_KERNEL_MAP};
pub use program::{DebuginfoSources, Kernel, KernelFiles};
pub use task::{Task, TaskState};
pub use modules::Module;
pub use symbolize::SymbolRef;
