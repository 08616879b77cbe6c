//! What one arm64 instruction reads, writes and accesses in memory, for the
//! unwinder (prologue and epilogue shapes) and the analyzers.
//!
//! Registers are named by their DWARF numbers for AArch64 (the numbering
//! the arm64 `RegisterSet` uses): `x0`..`x30` are 0..30 and `sp` is 31;
//! the zero register (`xzr`/`wzr`, the same encoding as `sp` in other
//! operand positions) has no number and is its own variant, [`Reg::Zr`].
//! A 32-bit `wN` operand is reported as `X(N)`: writing it writes (zero-
//! extends into) `xN`.

use yaxpeax_arm::armv8::a64::{Opcode, Operand, SIMDSizeCode, ShiftStyle, SizeCode};

use super::decode::{decode_word, flow_of};
use super::extra;
use super::format::{bits, format};
use crate::decoder::FlowKind;

/// A register an instruction reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reg {
    /// `x0`..`x30` (or their `w` halves): DWARF 0..30.
    X(u8),
    /// The stack pointer (`sp`/`wsp`): DWARF 31.
    Sp,
    /// The zero register (`xzr`/`wzr`): reads as zero, writes vanish.
    Zr,
    /// The program counter, as the base of PC-relative operands (`adr`,
    /// `adrp`, literal loads): DWARF 32.
    Pc,
    /// SIMD&FP register `vN` (any of its `b`/`h`/`s`/`d`/`q` views): DWARF 64+N.
    V(u8),
    /// The condition flags (`NZCV`).
    Nzcv,
    /// A system register (`mrs`/`msr`), as `op0:op1:CRn:CRm:op2` in 16 bits
    /// (Linux's `sys_reg()` >> 5): `sp_el0` is `0xc208`.
    Sys(u16),
}

impl Reg {
    /// The DWARF register number, where there is one.
    pub fn dwarf(self) -> Option<u16> {
        match self {
            Reg::X(n) => Some(u16::from(n)),
            Reg::Sp => Some(31),
            Reg::Pc => Some(32),
            Reg::V(n) => Some(64u16.saturating_add(u16::from(n))),
            Reg::Zr | Reg::Nzcv | Reg::Sys(_) => None,
        }
    }

    /// Register field `n` (0..=31) of an operand where 31 is the stack
    /// pointer (`sp == true`) or the zero register.
    pub fn gpr(n: u32, sp: bool) -> Reg {
        match (n, sp) {
            (31, true) => Reg::Sp,
            (31, false) => Reg::Zr,
            (n, _) => Reg::X((n & 31) as u8),
        }
    }
}

/// How a memory operand updates its base register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Writeback {
    /// `[base, #off]`: the base is not changed.
    None,
    /// `[base, #off]!`: the base becomes `base + off` before the access.
    Pre,
    /// `[base], #off` (or `[base], xM`): the access is at `base`, which then
    /// becomes `base + off`.
    Post,
}

/// Whether the instruction reads or writes the memory it addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemAccess {
    Load,
    Store,
    /// Atomic read-modify-write (`ldadd`, `swp`, `cas`, `stadd`...).
    LoadStore,
    /// Neither: `prfm`, cache maintenance by address.
    None,
}

/// The index register of a register-offset address: `[x1, w2, sxtw #3]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IndexReg {
    pub reg: Reg,
    /// The extension or shift applied (`lsl` for a plain 64-bit index).
    pub extend: Extend,
    /// The left shift after extension.
    pub shift: u8,
}

/// The extension applied to an index register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Extend {
    Lsl,
    Uxtw,
    Sxtw,
    Sxtx,
}

/// One memory operand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemOperand {
    /// The base register: `X(n)`, `Sp`, or `Pc` for a literal (then
    /// `offset` is relative to the instruction's address).
    pub base: Reg,
    pub index: Option<IndexReg>,
    /// The immediate offset in bytes (for post-index: the amount added
    /// after the access; the access itself is at `base`).
    pub offset: i64,
    pub writeback: Writeback,
    /// Bytes moved per transfer register (`8` for `ldp x29, x30`, `16` for
    /// a `q` register); 0 when nothing is moved (`prfm`).
    pub size: u32,
    pub access: MemAccess,
    /// The registers moved to or from memory, in operand order (`[X(29),
    /// X(30)]` for `stp x29, x30, [sp, #-32]!`). For exclusive stores the
    /// status register is not one of them; for atomic operations they are
    /// the data register(s) then the register loaded.
    pub transfer: Vec<Reg>,
}

impl MemOperand {
    /// The address accessed, given the base register's value (and the
    /// index register's value, extended and shifted, if there is one).
    pub fn address(&self, base: u64, index: u64) -> u64 {
        let pre = match self.writeback {
            Writeback::Post => 0,
            _ => self.offset,
        };
        base.wrapping_add(pre as u64).wrapping_add(index)
    }
}

/// The effects of one instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arm64Details {
    /// The mnemonic as printed (`stp`, `mov`, `paciasp`, `b.ne`).
    pub mnemonic: String,
    pub flow: FlowKind,
    /// The destination of a direct branch.
    pub branch_target: Option<u64>,
    /// The address a PC-relative operand computes: `adr`/`adrp`'s result,
    /// a literal load's address, a branch's target.
    pub pc_relative: Option<u64>,
    /// Registers read (including base and index registers of memory
    /// operands), without duplicates, in operand order.
    pub reads: Vec<Reg>,
    /// Registers written (including a written-back base), without
    /// duplicates, in operand order.
    pub writes: Vec<Reg>,
    pub memory: Option<MemOperand>,
    /// For `add`/`sub` (immediate), and so `mov` to or from `sp`: the
    /// signed amount added to the source register (`sub sp, sp, #0x40` is
    /// -64, `mov x29, sp` is 0).
    pub add_immediate: Option<i64>,
}

impl Arm64Details {
    /// True when `reg` is written.
    pub fn writes_reg(&self, reg: Reg) -> bool {
        self.writes.contains(&reg)
    }
    /// True when `reg` is read.
    pub fn reads_reg(&self, reg: Reg) -> bool {
        self.reads.contains(&reg)
    }
}

fn push(list: &mut Vec<Reg>, r: Reg) {
    if !list.contains(&r) {
        list.push(r);
    }
}

/// The registers named by one non-memory operand.
fn operand_regs(op: &Operand) -> Vec<Reg> {
    match *op {
        Operand::Register(_, n) => vec![Reg::gpr(u32::from(n), false)],
        Operand::RegisterOrSP(_, n) => vec![Reg::gpr(u32::from(n), true)],
        Operand::RegisterPair(_, n) => {
            vec![Reg::gpr(u32::from(n), false), Reg::gpr(u32::from(n).wrapping_add(1) % 32, false)]
        }
        Operand::RegShift(_, _, _, n) => vec![Reg::gpr(u32::from(n), false)],
        Operand::SIMDRegister(_, n)
        | Operand::SIMDRegisterElements(_, n, _)
        | Operand::SIMDRegisterElementsLane(_, n, _, _)
        | Operand::SIMDRegisterElementsMultipleLane(_, n, _, _, _) => vec![Reg::V((n & 31) as u8)],
        Operand::SIMDRegisterGroup(_, n, _, count) | Operand::SIMDRegisterGroupLane(n, _, count, _) => {
            (0..u16::from(count)).map(|i| Reg::V((n.wrapping_add(i) % 32) as u8)).collect()
        }
        Operand::SystemReg(r) => vec![Reg::Sys(((r >> 14) & 1).wrapping_add(2) << 14 | (r & 0x3fff))],
        _ => Vec::new(),
    }
}

fn is_memory(op: &Operand) -> bool {
    matches!(
        op,
        Operand::RegPreIndex(..) | Operand::RegPostIndex(..) | Operand::RegRegOffset(..) | Operand::RegPostIndexReg(..)
    )
}

/// Bytes per transfer register of a load/store named `mnemonic`.
fn access_size(mnemonic: &str, transfer: Option<&Operand>) -> u32 {
    match transfer {
        Some(Operand::SIMDRegister(size, _)) => simd_bytes(*size),
        Some(Operand::SIMDRegisterElements(v, ..)) | Some(Operand::SIMDRegisterGroup(v, ..)) => simd_bytes(*v),
        Some(Operand::SIMDRegisterGroupLane(_, e, ..)) | Some(Operand::SIMDRegisterElementsLane(_, _, e, _)) => {
            simd_bytes(*e)
        }
        Some(Operand::Register(size, _)) | Some(Operand::RegisterPair(size, _)) => {
            let base = mnemonic.trim_end_matches("al").trim_end_matches(['a', 'l']);
            let stem = mnemonic.strip_suffix('b').or_else(|| mnemonic.strip_suffix('h'));
            if mnemonic.starts_with("ldra") {
                8
            } else if stem.is_some() && !base.is_empty() {
                if mnemonic.ends_with('b') {
                    1
                } else {
                    2
                }
            } else if mnemonic.contains("sw") {
                4
            } else if *size == SizeCode::X {
                8
            } else {
                4
            }
        }
        _ => 0,
    }
}

fn simd_bytes(s: SIMDSizeCode) -> u32 {
    match s {
        SIMDSizeCode::B => 1,
        SIMDSizeCode::H => 2,
        SIMDSizeCode::S => 4,
        SIMDSizeCode::D => 8,
        SIMDSizeCode::Q => 16,
    }
}

/// Instructions whose first operand is read as well as written.
fn reads_destination(opcode: Opcode, name: &str) -> bool {
    matches!(
        opcode,
        Opcode::MOVK
            | Opcode::BFM
            | Opcode::INS
            | Opcode::MLA
            | Opcode::MLS
            | Opcode::FMLA
            | Opcode::FMLS
            | Opcode::BSL
            | Opcode::BIT
            | Opcode::BIF
            | Opcode::AESE
            | Opcode::AESD
            | Opcode::TBX
            | Opcode::SDOT
            | Opcode::UDOT
            | Opcode::FCMLA
            | Opcode::SRI
            | Opcode::SLI
    ) || name.ends_with('2') && (name.contains("xtn") || name.contains("hn"))
        || name.starts_with("sha")
        || (name.contains("mlal")
            || name.contains("mlsl")
            || name.ends_with("sra")
            || name.starts_with("saba")
            || name.starts_with("uaba"))
}

fn sets_flags(opcode: Opcode) -> bool {
    matches!(
        opcode,
        Opcode::ADDS
            | Opcode::SUBS
            | Opcode::ANDS
            | Opcode::BICS
            | Opcode::ADCS
            | Opcode::SBCS
            | Opcode::CCMP
            | Opcode::CCMN
            | Opcode::FCMP
            | Opcode::FCMPE
            | Opcode::FCCMP
            | Opcode::FCCMPE
            | Opcode::SETF8
            | Opcode::SETF16
            | Opcode::RMIF
            | Opcode::SUBPS
    )
}

fn reads_flags(opcode: Opcode) -> bool {
    matches!(
        opcode,
        Opcode::Bcc(_)
            | Opcode::BCcc(_)
            | Opcode::CSEL
            | Opcode::CSINC
            | Opcode::CSINV
            | Opcode::CSNEG
            | Opcode::CCMP
            | Opcode::CCMN
            | Opcode::ADC
            | Opcode::ADCS
            | Opcode::SBC
            | Opcode::SBCS
            | Opcode::FCSEL
            | Opcode::FCCMP
            | Opcode::FCCMPE
    )
}

/// The details of the instruction `word` at `addr`; `None` when the word is
/// no instruction.
pub fn details(word: u32, addr: u64) -> Option<Arm64Details> {
    let Some(inst) = decode_word(word) else {
        // SVE fills and spills and the like: registers only (an SVE
        // register `zN` is reported as `V(N)`, predicates not at all).
        let e = extra::decode(word)?;
        return Some(Arm64Details {
            mnemonic: e.text.mnemonic,
            flow: FlowKind::Sequential,
            branch_target: None,
            pc_relative: None,
            reads: e.reads,
            writes: e.writes,
            memory: None,
            add_immediate: None,
        });
    };
    let text = format(word, &inst, addr);
    let flow = flow_of(&inst);
    let opcode = inst.opcode;
    let name = opcode.to_string();
    let mut reads = Vec::new();
    let mut writes = Vec::new();
    let mut memory = None;
    let mut add_immediate = None;

    let ops: Vec<&Operand> = inst.operands.iter().filter(|o| !matches!(o, Operand::Nothing)).collect();
    let mem_op = ops.iter().copied().find(|o| is_memory(o)).copied();
    let literal = bits(word, 27, 3) == 0b011 && bits(word, 24, 2) == 0;
    let is_mem = mem_op.is_some() || (literal && !matches!(flow, FlowKind::ConditionalJump));

    if is_mem {
        memory_details(word, addr, &inst, &name, mem_op, &mut reads, &mut writes, &mut memory);
    } else {
        match opcode {
            Opcode::BL => push(&mut writes, Reg::X(30)),
            Opcode::BLR | Opcode::BLRAAZ | Opcode::BLRABZ => {
                push(&mut reads, Reg::gpr(bits(word, 5, 5), false));
                push(&mut writes, Reg::X(30));
            }
            Opcode::BLRAA | Opcode::BLRAB => {
                push(&mut reads, Reg::gpr(bits(word, 5, 5), false));
                push(&mut reads, Reg::gpr(bits(word, 0, 5), true));
                push(&mut writes, Reg::X(30));
            }
            Opcode::BR | Opcode::BRAAZ | Opcode::BRABZ | Opcode::RET => {
                push(&mut reads, Reg::gpr(bits(word, 5, 5), false));
            }
            Opcode::BRAA | Opcode::BRAB => {
                push(&mut reads, Reg::gpr(bits(word, 5, 5), false));
                push(&mut reads, Reg::gpr(bits(word, 0, 5), true));
            }
            Opcode::RETAA | Opcode::RETAB => {
                push(&mut reads, Reg::X(30));
                push(&mut reads, Reg::Sp);
            }
            Opcode::PACIASP | Opcode::PACIBSP | Opcode::AUTIASP | Opcode::AUTIBSP => {
                push(&mut reads, Reg::X(30));
                push(&mut reads, Reg::Sp);
                push(&mut writes, Reg::X(30));
            }
            Opcode::PACIAZ | Opcode::PACIBZ | Opcode::AUTIAZ | Opcode::AUTIBZ | Opcode::XPACLRI => {
                push(&mut reads, Reg::X(30));
                push(&mut writes, Reg::X(30));
            }
            Opcode::PACIA1716 | Opcode::PACIB1716 | Opcode::AUTIA1716 | Opcode::AUTIB1716 => {
                push(&mut reads, Reg::X(17));
                push(&mut reads, Reg::X(16));
                push(&mut writes, Reg::X(17));
            }
            Opcode::CBZ | Opcode::CBNZ | Opcode::TBZ | Opcode::TBNZ => {
                push(&mut reads, Reg::gpr(bits(word, 0, 5), false));
            }
            // `msr sysreg, xT`: the register form (op0 != 0).
            Opcode::MSR if bits(word, 19, 2) != 0 => {
                push(&mut reads, Reg::gpr(bits(word, 0, 5), false));
                push(&mut writes, Reg::Sys(bits(word, 5, 16) as u16));
            }
            Opcode::MRS => {
                push(&mut reads, Reg::Sys(bits(word, 5, 16) as u16));
                push(&mut writes, Reg::gpr(bits(word, 0, 5), false));
            }
            Opcode::SYS(_) => push(&mut reads, Reg::gpr(bits(word, 0, 5), false)),
            Opcode::SYSL(_) => push(&mut writes, Reg::gpr(bits(word, 0, 5), false)),
            Opcode::ADR | Opcode::ADRP => {
                push(&mut reads, Reg::Pc);
                push(&mut writes, Reg::gpr(bits(word, 0, 5), false));
            }
            Opcode::CCMP | Opcode::CCMN | Opcode::FCMP | Opcode::FCMPE | Opcode::FCCMP | Opcode::FCCMPE => {
                for op in &ops {
                    for r in operand_regs(op) {
                        push(&mut reads, r);
                    }
                }
            }
            _ if flow == FlowKind::Sequential => {
                let mut iter = ops.iter();
                if let Some(first) = iter.next() {
                    let dst = operand_regs(first);
                    if reads_destination(opcode, &name) {
                        for r in &dst {
                            push(&mut reads, *r);
                        }
                    }
                    for op in iter {
                        for r in operand_regs(op) {
                            push(&mut reads, r);
                        }
                    }
                    for r in dst {
                        push(&mut writes, r);
                    }
                }
                if matches!(opcode, Opcode::ADD | Opcode::SUB | Opcode::ADDS | Opcode::SUBS)
                    && bits(word, 24, 5) == 0b10001
                {
                    let imm = i64::from(bits(word, 10, 12)) << (if bits(word, 22, 1) == 1 { 12 } else { 0 });
                    add_immediate =
                        Some(if matches!(opcode, Opcode::SUB | Opcode::SUBS) { imm.wrapping_neg() } else { imm });
                }
            }
            _ => {}
        }
    }
    if reads_flags(opcode) {
        push(&mut reads, Reg::Nzcv);
    }
    if sets_flags(opcode) {
        push(&mut writes, Reg::Nzcv);
    }
    let branch_target = match flow {
        FlowKind::Call | FlowKind::Jump | FlowKind::ConditionalJump => text.target,
        _ => None,
    };
    Some(Arm64Details {
        mnemonic: text.mnemonic,
        flow,
        branch_target,
        pc_relative: text.target,
        reads,
        writes,
        memory,
        add_immediate,
    })
}

#[allow(clippy::too_many_arguments)]
fn memory_details(
    word: u32,
    addr: u64,
    inst: &yaxpeax_arm::armv8::a64::Instruction,
    name: &str,
    mem_op: Option<Operand>,
    reads: &mut Vec<Reg>,
    writes: &mut Vec<Reg>,
    memory: &mut Option<MemOperand>,
) {
    let opcode = inst.opcode;
    let regs: Vec<&Operand> = inst
        .operands
        .iter()
        .filter(|o| !matches!(o, Operand::Nothing | Operand::PCOffset(_) | Operand::PrefetchOp(_)) && !is_memory(o))
        .collect();
    let (base, index, offset, writeback) = match mem_op {
        Some(Operand::RegPreIndex(b, off, wb)) => {
            (Reg::gpr(u32::from(b), true), None, i64::from(off), if wb { Writeback::Pre } else { Writeback::None })
        }
        Some(Operand::RegPostIndex(b, off)) => (Reg::gpr(u32::from(b), true), None, i64::from(off), Writeback::Post),
        Some(Operand::RegPostIndexReg(b, m)) => (
            Reg::gpr(u32::from(b), true),
            Some(IndexReg { reg: Reg::gpr(u32::from(m), false), extend: Extend::Lsl, shift: 0 }),
            0,
            Writeback::Post,
        ),
        Some(Operand::RegRegOffset(b, m, _, style, amount)) => {
            let extend = match style {
                ShiftStyle::UXTW => Extend::Uxtw,
                ShiftStyle::SXTW => Extend::Sxtw,
                ShiftStyle::SXTX => Extend::Sxtx,
                _ => Extend::Lsl,
            };
            // The shift applies only with the S bit.
            let shift = if bits(word, 12, 1) == 1 { amount } else { 0 };
            (
                Reg::gpr(u32::from(b), true),
                Some(IndexReg { reg: Reg::gpr(u32::from(m), false), extend, shift }),
                0,
                Writeback::None,
            )
        }
        _ => {
            // A literal: PC-relative.
            let off = inst
                .operands
                .iter()
                .find_map(|o| if let Operand::PCOffset(off) = o { Some(*off) } else { None })
                .unwrap_or(0);
            let _ = addr;
            (Reg::Pc, None, off, Writeback::None)
        }
    };
    let is_prefetch = matches!(opcode, Opcode::PRFM | Opcode::PRFUM);
    let lse = bits(word, 24, 6) == 0b111000 && bits(word, 21, 1) == 1 && bits(word, 10, 2) == 0;
    let cas = matches!(opcode, Opcode::CAS(_) | Opcode::CASB(_) | Opcode::CASH(_) | Opcode::CASP(_));
    let store_exclusive =
        name.starts_with("st") && name.contains("xr") || name.starts_with("st") && name.contains("xp");
    let is_store = name.starts_with("st");
    let access = if is_prefetch {
        MemAccess::None
    } else if lse || cas {
        MemAccess::LoadStore
    } else if is_store {
        MemAccess::Store
    } else {
        MemAccess::Load
    };
    let mut transfer = Vec::new();
    let mut size_op = None;
    for (i, op) in regs.iter().enumerate() {
        let rs = operand_regs(op);
        if store_exclusive && i == 0 {
            for r in rs {
                push(writes, r);
            }
            continue;
        }
        if size_op.is_none() {
            size_op = Some(**op);
        }
        match access {
            MemAccess::Load => {
                // Loads of one lane keep the rest of the vector.
                if matches!(op, Operand::SIMDRegisterGroupLane(..)) || opcode == Opcode::LDG {
                    for r in &rs {
                        push(reads, *r);
                    }
                }
                for r in &rs {
                    push(writes, *r);
                }
            }
            MemAccess::Store | MemAccess::None => {
                for r in &rs {
                    push(reads, *r);
                }
            }
            MemAccess::LoadStore => {
                // ld<op> rs, rt: rs read, rt written; cas rs, rt: rs read
                // and written, rt read; st<op> rs: read.
                let last = i.checked_add(1) == Some(regs.len());
                for r in &rs {
                    if cas {
                        push(reads, *r);
                        if i == 0 {
                            push(writes, *r);
                        }
                    } else if last && regs.len() > 1 {
                        push(writes, *r);
                    } else {
                        push(reads, *r);
                    }
                }
            }
        }
        transfer.extend(rs);
    }
    push(reads, base);
    if let Some(ix) = index {
        push(reads, ix.reg);
    }
    if writeback != Writeback::None {
        push(writes, base);
    }
    let size = if is_prefetch { 0 } else { access_size(name, size_op.as_ref()) };
    *memory = Some(MemOperand { base, index, offset, writeback, size, access, transfer });
}
