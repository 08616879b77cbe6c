//! Decoding words into instructions: the arm64 [`Decoder`].

use yaxpeax_arch::{Decoder as _, U8Reader};
use yaxpeax_arm::armv8::a64::{InstDecoder, Opcode};

use super::extra;
use super::format::{format, Text};
use super::valid::reserved;
use crate::decoder::{Decoded, Decoder, FlowKind, Instruction, Symbolizer};
use crate::disasm::symbolic_address;

/// Every AArch64 instruction is one 32-bit little-endian word.
pub const INSTRUCTION_LEN: usize = 4;

/// The arm64 [`Decoder`]: yaxpeax-arm decodes (with the few kernel
/// instructions it lacks decoded by `extra`), the text is GNU objdump's
/// (which gdb, and so crash's `dis`, prints).
#[derive(Debug, Clone, Copy, Default)]
pub struct Arm64Decoder;

/// One word decoded: yaxpeax's instruction, or `None` for a word that is no
/// instruction.
pub(super) fn decode_word(word: u32) -> Option<yaxpeax_arm::armv8::a64::Instruction> {
    let bytes = word.to_le_bytes();
    let mut reader = U8Reader::new(&bytes);
    let inst = InstDecoder::default().decode(&mut reader).ok()?;
    (!reserved(word, inst.opcode)).then_some(inst)
}

/// The little-endian word at the start of `bytes`.
pub fn read_word(bytes: &[u8]) -> Option<u32> {
    let b: [u8; 4] = bytes.get(..INSTRUCTION_LEN)?.try_into().ok()?;
    Some(u32::from_le_bytes(b))
}

/// How `inst` changes the flow of control.
pub(super) fn flow_of(inst: &yaxpeax_arm::armv8::a64::Instruction) -> FlowKind {
    match inst.opcode {
        Opcode::BL => FlowKind::Call,
        Opcode::BLR | Opcode::BLRAA | Opcode::BLRAAZ | Opcode::BLRAB | Opcode::BLRABZ => FlowKind::IndirectCall,
        Opcode::B => FlowKind::Jump,
        Opcode::BR | Opcode::BRAA | Opcode::BRAAZ | Opcode::BRAB | Opcode::BRABZ => FlowKind::IndirectJump,
        Opcode::Bcc(_) | Opcode::BCcc(_) | Opcode::CBZ | Opcode::CBNZ | Opcode::TBZ | Opcode::TBNZ => {
            FlowKind::ConditionalJump
        }
        Opcode::RET
        | Opcode::RETAA
        | Opcode::RETAB
        | Opcode::ERET
        | Opcode::ERETAA
        | Opcode::ERETAB
        | Opcode::DRPS
        | Opcode::RETAASPPC
        | Opcode::RETABSPPC
        | Opcode::RETAASPPCR
        | Opcode::RETABSPPCR => FlowKind::Return,
        Opcode::SVC | Opcode::HVC | Opcode::SMC => FlowKind::Interrupt,
        Opcode::BRK | Opcode::UDF | Opcode::HLT => FlowKind::Trap,
        Opcode::Invalid => FlowKind::Invalid,
        _ => FlowKind::Sequential,
    }
}

/// `inst` in the architecture-neutral terms; the mnemonic is the one printed
/// (`b.ne`, `mov`, `stp`).
fn decoded(word: u32, inst: &yaxpeax_arm::armv8::a64::Instruction, addr: u64) -> Decoded {
    let text = format(word, inst, addr);
    let flow = flow_of(inst);
    let branch_target = match flow {
        FlowKind::Call | FlowKind::Jump | FlowKind::ConditionalJump => text.target,
        _ => None,
    };
    Decoded { addr, len: INSTRUCTION_LEN, flow, branch_target, mnemonic: text.mnemonic }
}

impl Decoder for Arm64Decoder {
    fn max_instruction_len(&self) -> usize {
        INSTRUCTION_LEN
    }
    fn alignment(&self) -> usize {
        INSTRUCTION_LEN
    }
    fn syntax(&self) -> &'static str {
        "as gdb prints it (GNU objdump syntax)"
    }
    fn decode(&self, bytes: &[u8], addr: u64) -> Option<Decoded> {
        let word = read_word(bytes)?;
        match decode_word(word) {
            Some(inst) => Some(decoded(word, &inst, addr)),
            None => extra::decode(word).map(|e| Decoded {
                addr,
                len: INSTRUCTION_LEN,
                flow: FlowKind::Sequential,
                branch_target: None,
                mnemonic: e.text.mnemonic,
            }),
        }
    }
    /// Only the word just before `ret` can be the call: every instruction
    /// is 4 bytes.
    fn call_ending_at(&self, before: &[u8], ret: u64) -> Option<Decoded> {
        let start = before.len().checked_sub(INSTRUCTION_LEN)?;
        let word = read_word(before.get(start..)?)?;
        let inst = decode_word(word)?;
        if !flow_of(&inst).is_call() {
            return None;
        }
        Some(decoded(word, &inst, ret.checked_sub(INSTRUCTION_LEN as u64)?))
    }
    fn disassemble(&self, bytes: &[u8], addr: u64, symbolizer: &Symbolizer<'_>) -> Vec<Instruction> {
        disassemble(bytes, addr, symbolizer)
    }
}

/// The text of one word at `addr`, as gdb prints it: the instruction, the
/// ` <symbol+offset>` of a PC-relative operand when `symbolizer` knows it,
/// and objdump's comment.
pub fn format_word(word: u32, addr: u64, symbolizer: &Symbolizer<'_>) -> String {
    instruction_at(&word.to_le_bytes(), addr, symbolizer).text
}

/// Decodes all of `bytes` as arm64 code loaded at `start_addr`, one entry
/// per 4-byte word; a word that is no instruction is printed as objdump
/// prints it (`.inst\t0x........ ; undefined`) with [`FlowKind::Invalid`].
/// A trailing part-word (fewer than 4 bytes) becomes one such entry too,
/// with the bytes it has.
pub fn disassemble(bytes: &[u8], start_addr: u64, symbolizer: &Symbolizer<'_>) -> Vec<Instruction> {
    let mut out = Vec::with_capacity(bytes.len().div_ceil(INSTRUCTION_LEN));
    for (i, chunk) in bytes.chunks(INSTRUCTION_LEN).enumerate() {
        let addr = start_addr.wrapping_add((i as u64).wrapping_mul(INSTRUCTION_LEN as u64));
        out.push(instruction_at(chunk, addr, symbolizer));
    }
    out
}

fn instruction_at(chunk: &[u8], addr: u64, symbolizer: &Symbolizer<'_>) -> Instruction {
    let Some(word) = read_word(chunk) else {
        // A part-word: objdump shows the bytes it has.
        let mut value = 0u32;
        for (i, b) in chunk.iter().enumerate() {
            value |= u32::from(*b).checked_shl((i as u32).wrapping_mul(8)).unwrap_or(0);
        }
        return Instruction {
            addr,
            len: chunk.len(),
            bytes: chunk.to_vec(),
            text: Text::undefined(value).render(None),
            branch_target: None,
            mnemonic: ".inst".to_string(),
            flow: FlowKind::Invalid,
        };
    };
    let Some(inst) = decode_word(word) else {
        if let Some(e) = extra::decode(word) {
            return Instruction {
                addr,
                len: INSTRUCTION_LEN,
                bytes: chunk.to_vec(),
                text: e.text.render(None),
                branch_target: None,
                mnemonic: e.text.mnemonic,
                flow: FlowKind::Sequential,
            };
        }
        return Instruction {
            addr,
            len: INSTRUCTION_LEN,
            bytes: chunk.to_vec(),
            text: Text::undefined(word).render(None),
            branch_target: None,
            mnemonic: ".inst".to_string(),
            flow: FlowKind::Invalid,
        };
    };
    let text = format(word, &inst, addr);
    let flow = flow_of(&inst);
    let branch_target = match flow {
        FlowKind::Call | FlowKind::Jump | FlowKind::ConditionalJump => text.target,
        _ => None,
    };
    let annotation = text.target.and_then(|t| symbolic_address(t, symbolizer));
    Instruction {
        addr,
        len: INSTRUCTION_LEN,
        bytes: chunk.to_vec(),
        text: text.render(annotation.as_deref()),
        branch_target,
        mnemonic: text.mnemonic,
        flow,
    }
}
