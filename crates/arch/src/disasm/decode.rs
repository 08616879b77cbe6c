//! Decoding a byte run into gdb-formatted instructions.

use iced_x86::{Decoder, DecoderOptions, FlowControl, OpKind};

use super::gdb_style::{format_instruction, GdbFormatters};
use super::Symbolizer;

/// One decoded instruction as `dis` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub addr: u64,
    pub len: usize,
    pub bytes: Vec<u8>,
    /// gdb's text: mnemonic and operands, with symbolic annotations.
    pub text: String,
    /// The destination of a direct call, jump or conditional jump.
    pub branch_target: Option<u64>,
    /// The bare mnemonic (`call`, `mov`), lowercase.
    pub mnemonic: String,
}

/// The destination of a direct (relative) branch.
pub(super) fn direct_branch_target(instr: &iced_x86::Instruction) -> Option<u64> {
    match instr.flow_control() {
        FlowControl::Call
        | FlowControl::UnconditionalBranch
        | FlowControl::ConditionalBranch
        | FlowControl::XbeginXabortXend => {}
        _ => return None,
    }
    match instr.op0_kind() {
        OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64 => Some(instr.near_branch_target()),
        _ => None,
    }
}

/// Decodes all of `bytes` as x86-64 code loaded at `start_addr`. A byte
/// sequence that is not an instruction becomes a one-byte `(bad)` entry, as
/// gdb shows it, and decoding resumes after it.
pub fn disassemble(bytes: &[u8], start_addr: u64, symbolizer: &Symbolizer<'_>) -> Vec<Instruction> {
    let mut formatters = GdbFormatters::new();
    let mut out = Vec::new();
    let mut offset = 0usize;
    while offset < bytes.len() {
        let rest = &bytes[offset..];
        let addr = start_addr.wrapping_add(offset as u64);
        let mut decoder = Decoder::with_ip(64, rest, addr, DecoderOptions::NONE);
        let instr = decoder.decode();
        let len = if instr.is_invalid() { 1 } else { instr.len().max(1) };
        let len = len.min(rest.len());
        out.push(Instruction {
            addr,
            len,
            bytes: rest[..len].to_vec(),
            text: format_instruction(&mut formatters, &instr, &rest[..len], symbolizer),
            branch_target: if instr.is_invalid() { None } else { direct_branch_target(&instr) },
            mnemonic: mnemonic_of(&instr),
        });
        offset += len;
    }
    out
}

/// Decodes the single instruction at the start of `bytes`; `None` when the
/// bytes are not a complete valid instruction.
pub fn decode_one(bytes: &[u8], addr: u64) -> Option<iced_x86::Instruction> {
    let mut decoder = Decoder::with_ip(64, bytes, addr, DecoderOptions::NONE);
    let instr = decoder.decode();
    (!instr.is_invalid()).then_some(instr)
}

fn mnemonic_of(instr: &iced_x86::Instruction) -> String {
    if instr.is_invalid() {
        return "(bad)".to_string();
    }
    format!("{:?}", instr.mnemonic()).to_lowercase()
}
