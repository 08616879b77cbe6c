//! Decoding a byte run into gdb-formatted instructions.

use iced_x86::{DecoderOptions, FlowControl, OpKind};

use super::gdb_style::{format_instruction, GdbFormatters};
use crate::decoder::{Decoded, Decoder, FlowKind, Instruction, Symbolizer};

/// Longest x86-64 instruction.
const MAX_INSTRUCTION_LEN: usize = 15;

/// The x86-64 [`Decoder`]: iced-x86, printed in gdb's AT&T syntax.
#[derive(Debug, Clone, Copy, Default)]
pub struct X86_64Decoder;

impl Decoder for X86_64Decoder {
    fn max_instruction_len(&self) -> usize {
        MAX_INSTRUCTION_LEN
    }
    fn alignment(&self) -> usize {
        1
    }
    fn syntax(&self) -> &'static str {
        "AT&T, as gdb prints it"
    }
    fn decode(&self, bytes: &[u8], addr: u64) -> Option<Decoded> {
        Some(decoded(&decode_one(bytes, addr)?, addr))
    }
    /// As the trait's, without naming the instructions of the windows that
    /// are no call: the unwinder asks this of many stack words.
    fn call_ending_at(&self, before: &[u8], ret: u64) -> Option<Decoded> {
        let longest = MAX_INSTRUCTION_LEN.min(before.len());
        (1..=longest).rev().find_map(|len| {
            let start = before.len().checked_sub(len)?;
            let addr = ret.checked_sub(u64::try_from(len).ok()?)?;
            let instr = decode_one(before.get(start..)?, addr)?;
            (instr.len() == len && flow_kind(&instr).is_call()).then(|| decoded(&instr, addr))
        })
    }
    fn disassemble(&self, bytes: &[u8], addr: u64, symbolizer: &Symbolizer<'_>) -> Vec<Instruction> {
        disassemble(bytes, addr, symbolizer)
    }
}

fn decoded(instr: &iced_x86::Instruction, addr: u64) -> Decoded {
    Decoded {
        addr,
        len: instr.len(),
        flow: flow_kind(instr),
        branch_target: direct_branch_target(instr),
        mnemonic: mnemonic_of(instr),
    }
}

/// iced's flow control in the architecture-neutral terms.
pub fn flow_kind(instr: &iced_x86::Instruction) -> FlowKind {
    if instr.is_invalid() {
        return FlowKind::Invalid;
    }
    match instr.flow_control() {
        FlowControl::Next => FlowKind::Sequential,
        FlowControl::UnconditionalBranch => FlowKind::Jump,
        FlowControl::IndirectBranch => FlowKind::IndirectJump,
        FlowControl::ConditionalBranch | FlowControl::XbeginXabortXend => FlowKind::ConditionalJump,
        FlowControl::Return => FlowKind::Return,
        FlowControl::Call => FlowKind::Call,
        FlowControl::IndirectCall => FlowKind::IndirectCall,
        FlowControl::Interrupt => FlowKind::Interrupt,
        FlowControl::Exception => FlowKind::Trap,
    }
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
    while let Some(rest) = bytes.get(offset..).filter(|r| !r.is_empty()) {
        let addr = start_addr.wrapping_add(offset as u64);
        let mut decoder = iced_x86::Decoder::with_ip(64, rest, addr, DecoderOptions::NONE);
        let instr = decoder.decode();
        let len = if instr.is_invalid() { 1 } else { instr.len().max(1) };
        let len = len.min(rest.len());
        let own = rest.get(..len).unwrap_or(rest);
        out.push(Instruction {
            addr,
            len,
            bytes: own.to_vec(),
            text: format_instruction(&mut formatters, &instr, own, symbolizer),
            branch_target: if instr.is_invalid() { None } else { direct_branch_target(&instr) },
            mnemonic: mnemonic_of(&instr),
            flow: flow_kind(&instr),
        });
        offset = offset.saturating_add(len);
    }
    out
}

/// Decodes the single instruction at the start of `bytes`; `None` when the
/// bytes are not a complete valid instruction.
pub fn decode_one(bytes: &[u8], addr: u64) -> Option<iced_x86::Instruction> {
    let mut decoder = iced_x86::Decoder::with_ip(64, bytes, addr, DecoderOptions::NONE);
    let instr = decoder.decode();
    (!instr.is_invalid()).then_some(instr)
}

fn mnemonic_of(instr: &iced_x86::Instruction) -> String {
    if instr.is_invalid() {
        return "(bad)".to_string();
    }
    format!("{:?}", instr.mnemonic()).to_lowercase()
}
