//! The kernel model: a dump plus debuginfo seen as a running kernel's
//! memory, with one module per subsystem (tasks, modules, printk, per-cpu,
//! lists). Commands are built on this crate; it never prints.

pub mod addrspace;

pub use addrspace::{KernelLayout, KernelMemory, START_KERNEL_MAP};
