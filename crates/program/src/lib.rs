//! The program core: one opened dump with its debuginfo, seen as the
//! running kernel's memory. It holds the [`Kernel`] handle, the kernel's
//! address space, symbols and their source lines, type layouts, the
//! session's type arena, modules, per-CPU data, the kernel's generic data
//! structures (lists, rbtrees, xarrays, maple trees), and a typed cache in
//! which subsystem helpers keep their own state. It knows no subsystem:
//! tasks, slabs, files and the rest live in `krash-linux` above it.

pub mod addrspace;
pub mod cache;
pub mod cpus;
mod kernel;
pub mod layout;
pub mod list;
pub mod maple;
pub mod modules;
mod nodebuginfo;
pub mod percpu;
pub mod probes;
pub mod progress;
pub mod rbtree;
pub mod symbolize;
// Always compiled (not behind a feature): see krash_dumpfile::synthetic.
#[doc(hidden)]
pub mod synthetic;
pub mod type_arena;
pub mod utsname;
mod vmlinux_search;
pub mod xarray;

pub use cpus::CpuState;
pub use kernel::{DebuginfoSources, Kernel, KernelFiles};
