//! Instruction decoding behind the architecture description: decode one
//! instruction (length, control-flow kind, direct target) and render code
//! in the syntax crash's `dis` (that is, gdb) prints for the architecture.
//! The x86-64 implementation is `crate::disasm` (iced-x86, AT&T syntax).

use serde::Serialize;

/// Maps an address to the symbol containing it and the offset into it, as
/// the caller's symbol table knows it.
pub type Symbolizer<'a> = dyn Fn(u64) -> Option<(String, u64)> + 'a;

/// How an instruction changes the flow of control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowKind {
    /// Falls through to the next instruction.
    Sequential,
    /// A direct call (`call rel32`, `bl`).
    Call,
    /// A call through a register or memory.
    IndirectCall,
    /// A direct unconditional jump.
    Jump,
    /// A jump through a register or memory.
    IndirectJump,
    /// A conditional branch.
    ConditionalJump,
    Return,
    /// A software interrupt or system call (`int3`, `syscall`, `svc`).
    Interrupt,
    /// An instruction that always traps (`ud2`, `brk`).
    Trap,
    /// Not a valid instruction.
    Invalid,
}

impl FlowKind {
    /// True for direct and indirect calls.
    pub fn is_call(self) -> bool {
        matches!(self, FlowKind::Call | FlowKind::IndirectCall)
    }
}

/// One decoded instruction, without text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub addr: u64,
    pub len: usize,
    pub flow: FlowKind,
    /// The destination of a direct call or branch.
    pub branch_target: Option<u64>,
    /// The bare mnemonic, lowercase (`call`, `mov`, `bl`).
    pub mnemonic: String,
}

/// One decoded instruction as `dis` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub addr: u64,
    pub len: usize,
    pub bytes: Vec<u8>,
    /// The architecture's usual text: mnemonic and operands, with
    /// symbolic annotations (gdb's).
    pub text: String,
    /// The destination of a direct call, jump or conditional jump.
    pub branch_target: Option<u64>,
    /// The bare mnemonic (`call`, `mov`), lowercase.
    pub mnemonic: String,
    pub flow: FlowKind,
}

/// An architecture's instruction decoder.
pub trait Decoder: Send + Sync {
    /// Longest instruction in bytes.
    fn max_instruction_len(&self) -> usize;

    /// Instruction alignment in bytes (1 where instructions have any length).
    fn alignment(&self) -> usize;

    /// What the text looks like, for help output (`"AT&T, as gdb prints it"`).
    fn syntax(&self) -> &'static str;

    /// The instruction at the start of `bytes`, loaded at `addr`; `None`
    /// when the bytes are not a complete valid instruction.
    fn decode(&self, bytes: &[u8], addr: u64) -> Option<Decoded>;

    /// All of `bytes` as code loaded at `addr`, one entry per instruction;
    /// bytes that decode to nothing become one-unit `(bad)` entries, as gdb
    /// shows them, and decoding resumes after them.
    fn disassemble(&self, bytes: &[u8], addr: u64, symbolizer: &Symbolizer<'_>) -> Vec<Instruction>;

    /// The instruction at the start of `bytes` with its text; `None` when
    /// the bytes are not a complete valid instruction.
    fn instruction(&self, bytes: &[u8], addr: u64, symbolizer: &Symbolizer<'_>) -> Option<Instruction> {
        let decoded = self.decode(bytes, addr)?;
        self.disassemble(bytes.get(..decoded.len)?, addr, symbolizer).into_iter().next()
    }

    /// The call instruction that ends exactly at `ret`, if the bytes just
    /// before it (`before`, ending at `ret`) hold one: `ret` is then a
    /// plausible return address. Longer encodings are tried first.
    fn call_ending_at(&self, before: &[u8], ret: u64) -> Option<Decoded> {
        let step = self.alignment().max(1);
        let longest = self.max_instruction_len().min(before.len());
        (1..=longest).rev().filter(|len| len.checked_rem(step) == Some(0)).find_map(|len| {
            let start = before.len().checked_sub(len)?;
            let addr = ret.checked_sub(u64::try_from(len).ok()?)?;
            let d = self.decode(before.get(start..)?, addr)?;
            (d.len == len && d.flow.is_call()).then_some(d)
        })
    }
}
