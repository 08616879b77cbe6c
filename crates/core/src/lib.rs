//! Vocabulary shared by every krash layer: error kinds that say which address
//! failed and why, the memory-source traits that dump formats implement and
//! that unwinders, symbol readers and kernel helpers consume, the machine a
//! dump names, and the x86-64 register set carried in crash notes.
//!
//! This crate imports no other krash crate; everything else may import it.

pub mod error;
pub mod machine;
pub mod mapped;
pub mod memory;
pub mod regs;

pub use error::{AddrSpace, Error, FaultReason, Result};
pub use machine::{Machine, UnknownMachine};
pub use mapped::MappedFile;
pub use memory::{PhysRange, PhysicalMemory, VirtualMemory};
pub use regs::X86_64Regs;
