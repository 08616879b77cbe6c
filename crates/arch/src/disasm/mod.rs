//! x86-64 disassembly printed as gdb (and so crash's `dis`) prints it:
//! AT&T syntax, mnemonic padded to seven columns, branch targets and
//! RIP-relative operands annotated with `<symbol+offset>`.
//!
//! Decoding is iced-x86's; this module only chooses formatter options that
//! reproduce gdb's text and adds gdb's symbolic annotations.

mod decode;
mod details;
mod gdb_style;

pub use decode::{decode_one, disassemble, Instruction};
pub use details::{instruction_details, InstructionDetails, MemoryOperand, RegisterAccess};
pub use gdb_style::{address_prefix, symbolic_address};

/// Maps an address to the symbol containing it and the offset into it, as
/// the caller's symbol table knows it.
pub type Symbolizer<'a> = dyn Fn(u64) -> Option<(String, u64)> + 'a;

#[cfg(test)]
mod tests;
