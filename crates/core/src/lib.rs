//! Vocabulary shared by every krash layer: error kinds that say which address
//! failed and why, the memory-source traits that dump formats implement and
//! that unwinders, symbol readers and kernel helpers consume, and the
//! machine a dump names (registers are the architecture layer's, krash-arch).
//!
//! This crate imports no other krash crate; everything else may import it.

pub mod disk_cache;
pub mod error;
pub mod machine;
pub mod mapped;
pub mod memory;

pub use error::{AddrSpace, Error, FaultReason, Result};
pub use machine::{Machine, UnknownMachine};
pub use mapped::MappedFile;
pub use memory::{PhysRange, PhysicalMemory, VirtualMemory};
