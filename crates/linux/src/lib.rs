//! Subsystem helpers over the program core, one module per kernel
//! subsystem as drgn's `helpers.linux` has them. Each reads the kernel
//! through [`krash_program::Kernel`] and keeps its state in the kernel's
//! typed cache; each adds its operations to `Kernel` through an extension
//! trait named after it (`TaskExt`, `SlabExt`, ...), so a command's data is
//! one `use` away. Nothing here prints.

pub mod dev;
pub mod fs;
pub mod ipc;
pub mod mm;
pub mod net;
pub mod printk;
pub mod sched;
pub mod system;
pub mod time;
