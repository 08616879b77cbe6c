//! x86-64 disassembly printed as gdb (and so crash's `dis`) prints it:
//! AT&T syntax, mnemonic padded to seven columns, branch targets and
//! RIP-relative operands annotated with `<symbol+offset>`.
//!
//! Decoding is iced-x86's; this module only chooses formatter options that
//! reproduce gdb's text and adds gdb's symbolic annotations.

mod decode;
mod details;
mod gdb_style;

pub use crate::decoder::{Instruction, Symbolizer};
pub use decode::{decode_one, disassemble, flow_kind, X86_64Decoder};
pub use details::{instruction_details, InstructionDetails, MemoryOperand, RegisterAccess};
pub use gdb_style::{address_prefix, symbolic_address};

#[cfg(test)]
// Tests index the synthetic buffers they build; a panic there is a failed test.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests;
