//! krash-dumpfile: every common Linux vmcore format — kdump-compressed
//! (makedumpfile or QEMU, zlib/lzo/snappy/zstd, plain or flattened) and
//! ELF64 (/proc/vmcore, `makedumpfile -E`, QEMU `dump-guest-memory`), LiME
//! images, and a running kernel's /proc/kcore — exposed as physical memory
//! plus the notes the kernel or QEMU saved.

mod bitmap;
mod cache;
mod compression;
mod dump;
mod elf;
mod flattened;
mod format;
mod image;
mod kdump;
mod le;
mod lime;
mod lzo;
mod notes;
mod vmcoreinfo;
mod vmcoreinfo_scan;

pub use dump::{looks_like_dump, Dump};
pub use format::{Compression, DumpFormat, ElfProducer, PageState, Truncation, Utsname};
pub use notes::CpuNote;
pub use vmcoreinfo::VmcoreInfo;

/// The machine type a dump names (shared vocabulary from `krash-core`).
pub use krash_core::Machine;

#[cfg(test)]
mod synth;
// Always compiled (not behind a feature) so that `cargo test --workspace`
// reuses the release build's artifacts; see the module's header.
#[doc(hidden)]
pub mod synthetic;
#[cfg(test)]
mod tests;
