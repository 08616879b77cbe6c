//! What an instruction reads and writes, for the unwinder and analyzers.

use iced_x86::{InstructionInfoFactory, OpAccess, Register};

/// A register the instruction uses and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterAccess {
    pub register: Register,
    pub read: bool,
    pub written: bool,
}

/// A memory operand: `segment:displacement(base,index,scale)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryOperand {
    pub segment: Register,
    pub base: Register,
    pub index: Register,
    pub scale: u32,
    /// Sign-extended displacement; for RIP-relative operands this is the
    /// absolute target address, as iced resolves it.
    pub displacement: u64,
    pub read: bool,
    pub written: bool,
}

/// The register and memory effects of one instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstructionDetails {
    pub registers: Vec<RegisterAccess>,
    pub memory: Vec<MemoryOperand>,
}

impl InstructionDetails {
    /// Registers read (including through memory addressing).
    pub fn reads(&self) -> impl Iterator<Item = Register> + '_ {
        self.registers.iter().filter(|r| r.read).map(|r| r.register)
    }
    /// Registers written.
    pub fn writes(&self) -> impl Iterator<Item = Register> + '_ {
        self.registers.iter().filter(|r| r.written).map(|r| r.register)
    }
}

fn reads(access: OpAccess) -> bool {
    matches!(access, OpAccess::Read | OpAccess::CondRead | OpAccess::ReadWrite | OpAccess::ReadCondWrite)
}

fn writes(access: OpAccess) -> bool {
    matches!(access, OpAccess::Write | OpAccess::CondWrite | OpAccess::ReadWrite | OpAccess::ReadCondWrite)
}

/// Registers read/written and memory operands of `instr`.
pub fn instruction_details(instr: &iced_x86::Instruction) -> InstructionDetails {
    let mut factory = InstructionInfoFactory::new();
    let info = factory.info(instr);
    let registers = info
        .used_registers()
        .iter()
        .map(|r| RegisterAccess { register: r.register(), read: reads(r.access()), written: writes(r.access()) })
        .collect();
    let memory = info
        .used_memory()
        .iter()
        .map(|m| MemoryOperand {
            segment: m.segment(),
            base: m.base(),
            index: m.index(),
            scale: m.scale(),
            displacement: m.displacement(),
            read: reads(m.access()),
            written: writes(m.access()),
        })
        .collect();
    InstructionDetails { registers, memory }
}
