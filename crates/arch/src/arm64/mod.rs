//! arm64 (AArch64) as data: registers and where Linux saves them, the
//! page-table formats of each granule, the kernel's address-space layout,
//! its stacks, and the instruction decoder. [`ARM64`] gathers them.

pub mod disasm;
