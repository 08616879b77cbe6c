//! arm64 disassembly printed as gdb (and so crash's `dis` on arm64) prints it.
//!
//! gdb disassembles with binutils' libopcodes, so the text is GNU
//! objdump's: `stp\tx29, x30, [sp, #-32]!`, `bl\t0xffff800008123456
//! <kmalloc_trace>`, `b.ne\t0xffff80000812345c <foo+40>  // b.any`,
//! `mov\tx0, #0x10                  \t// #16`, `.inst\t0x00c0ffee ;
//! undefined`. gdb's only difference from `objdump -d` is how it prints an
//! address operand: `0x` and the full address, then ` <symbol+offset>`
//! with a decimal offset (objdump: bare hex, `<symbol+0x28>`).
//!
//! Decoding is yaxpeax-arm's (pure Rust, 0BSD: ARMv8.x with PAC, LSE, BTI,
//! MTE, RCpc, no SVE); [`format`] prints each instruction class the way
//! libopcodes does, because yaxpeax's own text differs (hex everywhere,
//! `$+0x10` targets, few register names, other alias choices): see its
//! header. [`details`] gives the registers an instruction reads and writes
//! and its memory operand, for the unwinder's prologue/epilogue matching.
//!
//! The tables of system-register names, `sys` operations and hint/barrier
//! words are generated from objdump itself (`testdata/gen_tables.sh`), and
//! the tests compare against committed objdump output (and against a live
//! `aarch64-linux-gnu-objdump` when one is installed).

mod decode;
mod details;
mod extra;
mod format;
mod tables;
mod valid;

pub use crate::decoder::{Instruction, Symbolizer};
pub use decode::{disassemble, format_word, read_word, Arm64Decoder, INSTRUCTION_LEN};
pub use details::{details, Arm64Details, Extend, IndexReg, MemAccess, MemOperand, Reg, Writeback};

#[cfg(test)]
// Tests index the tables they read; a panic there is a failed test.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests;
