//! The text GNU objdump (and so gdb, and crash's `dis`) prints for one
//! AArch64 instruction, built from yaxpeax-arm's decoded operands and the
//! instruction word's own fields.
//!
//! yaxpeax-arm decides what the word is (and whether it is an instruction
//! at all); its own `Display` is not used, because its conventions are not
//! binutils': it prints every immediate in hex (`[x16, #0xff8]` where
//! objdump prints `[x16, #4088]`), branch targets as `$+0x10`, few
//! system-register names, and picks some aliases differently. Here each
//! instruction class is printed the way libopcodes' `aarch64-dis.c` /
//! `aarch64-opc.c` print it:
//!
//! - add/sub and logical immediates, move-wide and exception immediates,
//!   `ccmp` operands and prefetch operations in hex (`#0x10`); load/store
//!   offsets, shift amounts, bit-field positions, bit numbers and SIMD
//!   shifts in decimal (`#-32`, `lsl #3`, `#3, #4`);
//! - the preferred-disassembly aliases (`mov`, `cmp`, `cmn`, `tst`, `neg`,
//!   `mvn`, `lsl`/`lsr`/`asr`/`ror`, `ubfx`/`sbfiz`/`bfi`/..., `sxtw`,
//!   `cset`/`cinc`/`cneg`, `mul`/`mneg`/`smull`/..., `stadd`/`stclr`/...);
//!   `mov` of an immediate padded to 20 hex digits with the value in
//!   decimal as a comment (`mov\tx0, #0x10                  \t// #16`);
//! - condition codes under their binutils names (`cs`, `cc`) with the
//!   other names as a comment (`// cs = hs, nlast`; `b.ne ...  // b.any`);
//! - system registers, `sys` operations, hints, barriers and PSTATE fields
//!   by the names objdump knows (tables generated from objdump itself);
//! - register 31 as `sp`/`wsp` or `xzr`/`wzr` by operand kind;
//! - PC-relative operands as the absolute address `0x...`, which the caller
//!   follows with gdb's ` <symbol+offset>`;
//! - a word that is no instruction as `.inst\t0x........ ; undefined`.

use std::fmt::Write as _;

use yaxpeax_arm::armv8::a64::{Opcode, Operand, SIMDSizeCode, ShiftStyle, SizeCode};

use super::tables::{SYSREG_NAMES, SYSREG_WRITE_NAMES, SYSTEM_WORDS, SYS_ALIASES};

/// One instruction's text in pieces: the caller inserts the symbolic
/// annotation of `target` between `operands` and `comment`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Text {
    pub mnemonic: String,
    /// Operands as objdump prints them; a PC-relative operand is last and
    /// printed as `0x<address>`.
    pub operands: String,
    /// The address of a PC-relative operand (branch target, `adr`/`adrp`
    /// result, literal address).
    pub target: Option<u64>,
    /// What objdump prints after the operands, with its separator
    /// (`\t// ne = any`, `  // b.any`), or empty.
    pub comment: String,
}

impl Text {
    fn new(mnemonic: impl Into<String>) -> Self {
        Text { mnemonic: mnemonic.into(), operands: String::new(), target: None, comment: String::new() }
    }
    fn with(mnemonic: impl Into<String>, operands: impl Into<String>) -> Self {
        Text { mnemonic: mnemonic.into(), operands: operands.into(), target: None, comment: String::new() }
    }
    /// The text of a word that is no instruction.
    pub(super) fn undefined(word: u32) -> Self {
        Text::with(".inst", format!("{word:#010x} ; undefined"))
    }
    /// The whole line as objdump prints it, with `annotation` (` <sym+off>`)
    /// after the PC-relative operand.
    pub(super) fn render(&self, annotation: Option<&str>) -> String {
        let mut s = self.mnemonic.clone();
        if !self.operands.is_empty() {
            s.push('\t');
            s.push_str(&self.operands);
        }
        if let Some(a) = annotation {
            s.push(' ');
            s.push_str(a);
        }
        s.push_str(&self.comment);
        s
    }
}

/// `bits(word, lo, len)`: the `len`-bit field starting at bit `lo`.
pub(super) fn bits(word: u32, lo: u32, len: u32) -> u32 {
    word.checked_shr(lo).unwrap_or(0) & (1u32.checked_shl(len).map_or(u32::MAX, |v| v.wrapping_sub(1)))
}

fn bit(word: u32, n: u32) -> bool {
    bits(word, n, 1) == 1
}

/// A general-purpose register name: `x5`/`w5`; number 31 is `sp`/`wsp`
/// when `sp` is set, `xzr`/`wzr` otherwise.
pub(super) fn gpr(n: u32, is64: bool, sp: bool) -> String {
    match (n, is64, sp) {
        (31, true, true) => "sp".to_string(),
        (31, false, true) => "wsp".to_string(),
        (31, true, false) => "xzr".to_string(),
        (31, false, false) => "wzr".to_string(),
        (n, true, _) => format!("x{n}"),
        (n, false, _) => format!("w{n}"),
    }
}

fn x(n: u32) -> String {
    gpr(n, true, false)
}

fn xsp(n: u32) -> String {
    gpr(n, true, true)
}

/// Condition names as binutils prints them, and its other names for them.
const CONDITIONS: [(&str, &[&str]); 16] = [
    ("eq", &["none"]),
    ("ne", &["any"]),
    ("cs", &["hs", "nlast"]),
    ("cc", &["lo", "ul", "last"]),
    ("mi", &["first"]),
    ("pl", &["nfrst"]),
    ("vs", &[]),
    ("vc", &[]),
    ("hi", &["pmore"]),
    ("ls", &["plast"]),
    ("ge", &["tcont"]),
    ("lt", &["tstop"]),
    ("gt", &[]),
    ("le", &[]),
    ("al", &[]),
    ("nv", &[]),
];

fn cond_name(c: u32) -> &'static str {
    CONDITIONS.get(c as usize).map_or("??", |(n, _)| n)
}

/// The comment objdump adds to a condition operand: `\t// cs = hs, nlast`.
fn cond_comment(c: u32) -> String {
    match CONDITIONS.get(c as usize) {
        Some((name, others)) if !others.is_empty() => format!("\t// {name} = {}", others.join(", ")),
        _ => String::new(),
    }
}

/// The comment after `b.cond` / `bc.cond`: `  // b.hs, b.nlast`.
fn branch_cond_comment(prefix: &str, c: u32) -> String {
    match CONDITIONS.get(c as usize) {
        Some((_, others)) if !others.is_empty() => {
            let names: Vec<String> = others.iter().map(|o| format!("{prefix}.{o}")).collect();
            format!("  // {}", names.join(", "))
        }
        _ => String::new(),
    }
}

fn shift_name(shift: u32) -> &'static str {
    match shift {
        0 => "lsl",
        1 => "lsr",
        2 => "asr",
        _ => "ror",
    }
}

fn extend_name(option: u32) -> &'static str {
    match option {
        0 => "uxtb",
        1 => "uxth",
        2 => "uxtw",
        3 => "uxtx",
        4 => "sxtb",
        5 => "sxth",
        6 => "sxtw",
        _ => "sxtx",
    }
}

/// `mov` of an immediate: libopcodes prints `#0x%-20x` and the value in
/// decimal as a comment.
fn mov_imm(mut t: Text, dst: String, value: u64, is64: bool) -> Text {
    if is64 {
        t.operands = format!("{dst}, #0x{value:<20x}");
        t.comment = format!("\t// #{}", value as i64);
    } else {
        let v = value as u32;
        t.operands = format!("{dst}, #0x{v:<20x}");
        t.comment = format!("\t// #{}", v as i32);
    }
    t.mnemonic = "mov".to_string();
    t
}

/// The address a PC-relative offset points at.
fn pc_rel(addr: u64, offset: i64) -> u64 {
    addr.wrapping_add(offset as u64)
}

fn with_target(mut t: Text, prefix: String, target: u64) -> Text {
    t.operands = if prefix.is_empty() { format!("{target:#x}") } else { format!("{prefix}, {target:#x}") };
    t.target = Some(target);
    t
}

/// A system register's name (`sp_el0`) or its generic `s3_0_c15_c2_0`.
pub(super) fn sysreg_name(enc: u32, write: bool) -> String {
    let enc16 = (enc & 0x7fff) as u16;
    if write {
        if let Ok(i) = SYSREG_WRITE_NAMES.binary_search_by_key(&enc16, |(e, _)| *e) {
            if let Some((_, n)) = SYSREG_WRITE_NAMES.get(i) {
                return (*n).to_string();
            }
        }
    }
    if let Ok(i) = SYSREG_NAMES.binary_search_by_key(&enc16, |(e, _)| *e) {
        if let Some((_, n)) = SYSREG_NAMES.get(i) {
            return (*n).to_string();
        }
    }
    let op2 = bits(enc, 0, 3);
    let crm = bits(enc, 3, 4);
    let crn = bits(enc, 7, 4);
    let op1 = bits(enc, 11, 3);
    let op0 = bits(enc, 14, 1).wrapping_add(2);
    format!("s{op0}_{op1}_c{crn}_c{crm}_{op2}")
}

fn prefetch_name(op: u32) -> String {
    let ty = bits(op, 3, 2);
    let target = bits(op, 1, 2);
    let policy = bits(op, 0, 1);
    match (["pld", "pli", "pst"].get(ty as usize), ["l1", "l2", "l3"].get(target as usize)) {
        (Some(t), Some(l)) => format!("{t}{l}{}", if policy == 1 { "strm" } else { "keep" }),
        _ => format!("#0x{op:02x}"),
    }
}

/// `[base, #imm]`, `[base, #imm]!`, `[base]`: a base register (or sp)
/// with a decimal offset.
fn mem_offset(base: u32, offset: i64, writeback: bool) -> String {
    if offset == 0 && !writeback {
        format!("[{}]", xsp(base))
    } else {
        format!("[{}, #{offset}]{}", xsp(base), if writeback { "!" } else { "" })
    }
}

/// The register-offset address of a load/store (register) word:
/// `[x1, x2, lsl #3]`, `[x1, w2, sxtw]`.
fn mem_register(word: u32, amount: u32) -> String {
    let base = bits(word, 5, 5);
    let rm = bits(word, 16, 5);
    let option = bits(word, 13, 3);
    let s = bit(word, 12);
    let index = gpr(rm, option & 1 == 1, false);
    let amount = if s { amount } else { 0 };
    if option == 3 {
        if s {
            format!("[{}, {index}, lsl #{amount}]", xsp(base))
        } else {
            format!("[{}, {index}]", xsp(base))
        }
    } else if s {
        format!("[{}, {index}, {} #{amount}]", xsp(base), extend_name(option))
    } else {
        format!("[{}, {index}, {}]", xsp(base), extend_name(option))
    }
}

/// `{v0.16b, v1.16b}` or, for three or four registers in ascending order,
/// `{v0.2d-v3.2d}`.
fn vector_list(first: u32, count: u32, suffix: &str, lane: Option<u8>) -> String {
    let last = first.wrapping_add(count).wrapping_sub(1);
    let mut s = String::from("{");
    if count > 2 && last < 32 {
        let _ = write!(s, "v{first}.{suffix}-v{last}.{suffix}");
    } else {
        for i in 0..count {
            if i > 0 {
                s.push_str(", ");
            }
            let _ = write!(s, "v{}.{suffix}", first.wrapping_add(i) % 32);
        }
    }
    s.push('}');
    if let Some(l) = lane {
        let _ = write!(s, "[{l}]");
    }
    s
}

fn simd_size_name(s: SIMDSizeCode) -> &'static str {
    match s {
        SIMDSizeCode::B => "b",
        SIMDSizeCode::H => "h",
        SIMDSizeCode::S => "s",
        SIMDSizeCode::D => "d",
        SIMDSizeCode::Q => "q",
    }
}

fn simd_size_bytes(s: SIMDSizeCode) -> u32 {
    match s {
        SIMDSizeCode::B => 1,
        SIMDSizeCode::H => 2,
        SIMDSizeCode::S => 4,
        SIMDSizeCode::D => 8,
        SIMDSizeCode::Q => 16,
    }
}

fn arrangement(vector: SIMDSizeCode, element: SIMDSizeCode) -> String {
    let n = simd_size_bytes(vector).checked_div(simd_size_bytes(element)).unwrap_or(1);
    format!("{n}{}", simd_size_name(element))
}

/// A C `%.18e` rendering, as libopcodes prints floating-point immediates.
fn float_e18(v: f64) -> String {
    let s = format!("{v:.18e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

/// How immediates of the generic operand printer are shown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ImmStyle {
    Hex,
    Decimal,
}

/// One yaxpeax operand in objdump's spelling (the generic printer used by
/// the classes without special handling, mostly SIMD and FP).
fn operand(op: &Operand, addr: u64, style: ImmStyle, target: &mut Option<u64>) -> Option<String> {
    let imm = |v: u64| match style {
        ImmStyle::Hex => format!("#{v:#x}"),
        ImmStyle::Decimal => format!("#{v}"),
    };
    Some(match *op {
        Operand::Nothing => return None,
        Operand::Register(size, n) => gpr(u32::from(n), size == SizeCode::X, false),
        Operand::RegisterOrSP(size, n) => gpr(u32::from(n), size == SizeCode::X, true),
        Operand::RegisterPair(size, n) => {
            let is64 = size == SizeCode::X;
            format!("{}, {}", gpr(u32::from(n), is64, false), gpr(u32::from(n).wrapping_add(1) % 32, is64, false))
        }
        Operand::SIMDRegister(size, n) => format!("{}{n}", simd_size_name(size)),
        Operand::SIMDRegisterElements(vector, n, element) => format!("v{n}.{}", arrangement(vector, element)),
        Operand::SIMDRegisterElementsLane(_, n, element, lane) => format!("v{n}.{}[{lane}]", simd_size_name(element)),
        Operand::SIMDRegisterElementsMultipleLane(_, n, element, lane, lanes) => {
            format!("v{n}.{lanes}{}[{lane}]", simd_size_name(element))
        }
        Operand::SIMDRegisterGroup(vector, n, element, count) => {
            vector_list(u32::from(n), u32::from(count), &arrangement(vector, element), None)
        }
        Operand::SIMDRegisterGroupLane(n, element, count, lane) => {
            vector_list(u32::from(n), u32::from(count), simd_size_name(element), Some(lane))
        }
        Operand::ConditionCode(c) => cond_name(u32::from(c)).to_string(),
        Operand::PCOffset(off) => {
            let t = pc_rel(addr, off);
            *target = Some(t);
            format!("{t:#x}")
        }
        Operand::Immediate(v) => imm(u64::from(v)),
        Operand::Imm64(v) => imm(v),
        Operand::Imm16(v) => imm(u64::from(v)),
        Operand::ImmediateDouble(d) => {
            if d == 0.0 {
                "#0.0".to_string()
            } else {
                format!("#{}", float_e18(d))
            }
        }
        Operand::ImmShift(v, 0) => format!("#{v:#x}"),
        Operand::ImmShift(v, s) => format!("#{v:#x}, lsl #{s}"),
        Operand::ImmShiftMSL(v, s) => format!("#{v:#x}, msl #{s}"),
        Operand::RegShift(style, amount, size, n) => {
            let r = gpr(u32::from(n), size == SizeCode::X, false);
            if style == ShiftStyle::LSL && amount == 0 {
                r
            } else {
                format!("{r}, {} #{amount}", shift_style_name(style))
            }
        }
        Operand::RegRegOffset(base, index, size, style, amount) => {
            let idx = gpr(u32::from(index), size == SizeCode::X, false);
            if style == ShiftStyle::LSL && amount == 0 {
                format!("[{}, {idx}]", xsp(u32::from(base)))
            } else {
                format!("[{}, {idx}, {} #{amount}]", xsp(u32::from(base)), shift_style_name(style))
            }
        }
        Operand::RegPreIndex(base, offset, wb) => mem_offset(u32::from(base), i64::from(offset), wb),
        Operand::RegPostIndex(base, offset) => format!("[{}], #{offset}", xsp(u32::from(base))),
        Operand::RegPostIndexReg(base, index) => format!("[{}], {}", xsp(u32::from(base)), x(u32::from(index))),
        Operand::PrefetchOp(op) => prefetch_name(u32::from(op)),
        Operand::SystemReg(r) => sysreg_name(u32::from(r), false),
        Operand::ControlReg(r) => format!("C{r}"),
        Operand::PstateField(f) => format!("{f:#x}"),
    })
}

fn shift_style_name(s: ShiftStyle) -> &'static str {
    match s {
        ShiftStyle::LSL => "lsl",
        ShiftStyle::LSR => "lsr",
        ShiftStyle::ASR => "asr",
        ShiftStyle::ROR => "ror",
        ShiftStyle::UXTB => "uxtb",
        ShiftStyle::UXTH => "uxth",
        ShiftStyle::UXTW => "uxtw",
        ShiftStyle::UXTX => "uxtx",
        ShiftStyle::SXTB => "sxtb",
        ShiftStyle::SXTH => "sxth",
        ShiftStyle::SXTW => "sxtw",
        ShiftStyle::SXTX => "sxtx",
    }
}

/// The generic printing: yaxpeax's mnemonic and operands in objdump's
/// spelling.
fn generic(inst: &yaxpeax_arm::armv8::a64::Instruction, addr: u64, style: ImmStyle) -> Text {
    let mut t = Text::new(inst.opcode.to_string());
    let mut target = None;
    let o = &inst.operands;
    let mut shown: &[Operand] = o;
    match (inst.opcode, o) {
        // `orr vd, vn, vn` is `mov vd, vn`.
        (Opcode::ORR, [a @ Operand::SIMDRegisterElements(..), b, c, _]) if b == c => {
            t.mnemonic = "mov".to_string();
            let ops: Vec<String> = [a, b].iter().filter_map(|op| operand(op, addr, style, &mut target)).collect();
            t.operands = ops.join(", ");
            return t;
        }
        (Opcode::NOT, _) => t.mnemonic = "mvn".to_string(),
        (Opcode::INS, _) => t.mnemonic = "mov".to_string(),
        // `dup` of an element into a scalar is `mov`.
        (Opcode::DUP, [Operand::SIMDRegister(..), Operand::SIMDRegisterElementsLane(..), ..]) => {
            t.mnemonic = "mov".to_string();
        }
        (
            Opcode::UMOV,
            [Operand::Register(SizeCode::W, _), Operand::SIMDRegisterElementsLane(_, _, SIMDSizeCode::S, _), ..]
            | [Operand::Register(SizeCode::X, _), Operand::SIMDRegisterElementsLane(_, _, SIMDSizeCode::D, _), ..],
        ) => t.mnemonic = "mov".to_string(),
        // `sshll`/`ushll` by 0 are `sxtl`/`uxtl`.
        (
            Opcode::SSHLL | Opcode::USHLL | Opcode::SSHLL2 | Opcode::USHLL2,
            [_, _, Operand::Immediate(0) | Operand::Imm16(0), _],
        ) => {
            t.mnemonic = match inst.opcode {
                Opcode::SSHLL => "sxtl",
                Opcode::USHLL => "uxtl",
                Opcode::SSHLL2 => "sxtl2",
                _ => "uxtl2",
            }
            .to_string();
            shown = o.get(..2).unwrap_or(o);
        }
        _ => {}
    }
    let mut ops = Vec::new();
    for (i, op) in shown.iter().enumerate() {
        let text = match (inst.opcode, i, op) {
            // Immediates that libopcodes prints in hex among SIMD/FP operands:
            // `movi`'s, `fccmp`'s flags.
            (Opcode::MOVI | Opcode::MVNI | Opcode::ORR | Opcode::BIC, _, Operand::Imm64(v)) => Some(format!("#{v:#x}")),
            (Opcode::FCCMP | Opcode::FCCMPE, 2, Operand::Immediate(v)) => Some(format!("#{v:#x}")),
            _ => operand(op, addr, style, &mut target),
        };
        if let Some(text) = text {
            ops.push(text);
        }
        if let Operand::ConditionCode(c) = op {
            t.comment = cond_comment(u32::from(*c));
        }
    }
    t.operands = ops.join(", ");
    t.target = target;
    t
}

/// Hints (`CRn` = 2), barriers (3) and PSTATE writes (4) with `Rt` = 31:
/// objdump's exact text by word, else its generic `hint #imm` or
/// `msr s0_op1_cn_cm_op2, xzr`.
pub(super) fn system_word(word: u32) -> Option<Text> {
    let hint = word & 0xffff_f01f == 0xd503_201f;
    if !(hint || word & 0xfff8_f01f == 0xd500_401f || word & 0xffff_f01f == 0xd503_301f) {
        return None;
    }
    if let Ok(i) = SYSTEM_WORDS.binary_search_by_key(&word, |(w, _)| *w) {
        if let Some((_, text)) = SYSTEM_WORDS.get(i) {
            return Some(match text.split_once('\t') {
                Some((m, o)) => Text::with(m, o),
                None => Text::new(*text),
            });
        }
    }
    Some(if hint {
        Text::with("hint", format!("#{:#x}", bits(word, 5, 7)))
    } else {
        Text::with(
            "msr",
            format!("s0_{}_c{}_c{}_{}, xzr", bits(word, 16, 3), bits(word, 12, 4), bits(word, 8, 4), bits(word, 5, 3)),
        )
    })
}

/// The text of `word`, decoded by yaxpeax as `inst`, at `addr`.
pub(super) fn format(word: u32, inst: &yaxpeax_arm::armv8::a64::Instruction, addr: u64) -> Text {
    if let Some(text) = system_word(word) {
        return text;
    }
    let is64 = bit(word, 31);
    let rd = bits(word, 0, 5);
    let rn = bits(word, 5, 5);
    let rm = bits(word, 16, 5);
    let ra = bits(word, 10, 5);
    let op = inst.opcode;
    let name = op.to_string();
    let mut t = Text::new(name.clone());
    match op {
        // Add/subtract: immediate, shifted register, extended register.
        Opcode::ADD | Opcode::ADDS | Opcode::SUB | Opcode::SUBS if bits(word, 24, 5) == 0b10001 => {
            let setflags = bit(word, 29);
            let imm = bits(word, 10, 12);
            let shifted = bit(word, 22);
            let imm_text = if shifted { format!("#{imm:#x}, lsl #12") } else { format!("#{imm:#x}") };
            let dst = gpr(rd, is64, !setflags);
            let src = gpr(rn, is64, true);
            if op == Opcode::ADD && imm == 0 && !shifted && (rd == 31 || rn == 31) {
                t = Text::with("mov", format!("{dst}, {src}"));
            } else if setflags && rd == 31 {
                let m = if op == Opcode::ADDS { "cmn" } else { "cmp" };
                t = Text::with(m, format!("{src}, {imm_text}"));
            } else {
                t.operands = format!("{dst}, {src}, {imm_text}");
            }
        }
        Opcode::ADD | Opcode::ADDS | Opcode::SUB | Opcode::SUBS if bits(word, 24, 5) == 0b01011 && !bit(word, 21) => {
            let setflags = bit(word, 29);
            let shift = bits(word, 22, 2);
            let amount = bits(word, 10, 6);
            let m = gpr(rm, is64, false);
            let m_text = if shift == 0 && amount == 0 { m } else { format!("{m}, {} #{amount}", shift_name(shift)) };
            let is_sub = matches!(op, Opcode::SUB | Opcode::SUBS);
            if setflags && rd == 31 {
                let mn = if is_sub { "cmp" } else { "cmn" };
                t = Text::with(mn, format!("{}, {m_text}", gpr(rn, is64, false)));
            } else if is_sub && rn == 31 {
                let mn = if setflags { "negs" } else { "neg" };
                t = Text::with(mn, format!("{}, {m_text}", gpr(rd, is64, false)));
            } else {
                t.operands = format!("{}, {}, {m_text}", gpr(rd, is64, false), gpr(rn, is64, false));
            }
        }
        Opcode::ADD | Opcode::ADDS | Opcode::SUB | Opcode::SUBS if bits(word, 24, 5) == 0b01011 => {
            let setflags = bit(word, 29);
            let option = bits(word, 13, 3);
            let amount = bits(word, 10, 3);
            let m = gpr(rm, is64 && option & 3 == 3, false);
            let default_lsl = option == if is64 { 3 } else { 2 };
            let uses_sp = if setflags { rn == 31 } else { rd == 31 || rn == 31 };
            let ext = if default_lsl && uses_sp {
                if amount == 0 {
                    String::new()
                } else {
                    format!(", lsl #{amount}")
                }
            } else if amount == 0 {
                format!(", {}", extend_name(option))
            } else {
                format!(", {} #{amount}", extend_name(option))
            };
            if setflags && rd == 31 {
                let mn = if op == Opcode::SUBS { "cmp" } else { "cmn" };
                t = Text::with(mn, format!("{}, {m}{ext}", gpr(rn, is64, true)));
            } else {
                t.operands = format!("{}, {}, {m}{ext}", gpr(rd, is64, !setflags), gpr(rn, is64, true));
            }
        }
        Opcode::ADC | Opcode::ADCS | Opcode::SBC | Opcode::SBCS => {
            if matches!(op, Opcode::SBC | Opcode::SBCS) && rn == 31 {
                let mn = if op == Opcode::SBC { "ngc" } else { "ngcs" };
                t = Text::with(mn, format!("{}, {}", gpr(rd, is64, false), gpr(rm, is64, false)));
            } else {
                t.operands = format!("{}, {}, {}", gpr(rd, is64, false), gpr(rn, is64, false), gpr(rm, is64, false));
            }
        }
        // Logical immediate.
        Opcode::AND | Opcode::ORR | Opcode::EOR | Opcode::ANDS if bits(word, 23, 6) == 0b100100 => {
            let value = match inst.operands.get(2) {
                Some(Operand::Immediate(v)) => u64::from(*v),
                Some(Operand::Imm64(v)) => *v,
                _ => return generic(inst, addr, ImmStyle::Hex),
            };
            let value = if is64 { value } else { value & 0xffff_ffff };
            if op == Opcode::ANDS && rd == 31 {
                t = Text::with("tst", format!("{}, #{value:#x}", gpr(rn, is64, false)));
            } else if op == Opcode::ORR && rn == 31 && !move_wide_preferred(value, is64) {
                t = mov_imm(t, gpr(rd, is64, true), value, is64);
            } else {
                t.operands = format!("{}, {}, #{value:#x}", gpr(rd, is64, op != Opcode::ANDS), gpr(rn, is64, false));
            }
        }
        // Logical shifted register.
        Opcode::AND
        | Opcode::ORR
        | Opcode::EOR
        | Opcode::ANDS
        | Opcode::BIC
        | Opcode::BICS
        | Opcode::ORN
        | Opcode::EON
            if bits(word, 24, 5) == 0b01010 =>
        {
            let shift = bits(word, 22, 2);
            let amount = bits(word, 10, 6);
            let m = gpr(rm, is64, false);
            let plain = shift == 0 && amount == 0;
            let m_text = if plain { m.clone() } else { format!("{m}, {} #{amount}", shift_name(shift)) };
            if op == Opcode::ORR && rn == 31 && plain {
                t = Text::with("mov", format!("{}, {m}", gpr(rd, is64, false)));
            } else if op == Opcode::ORN && rn == 31 {
                t = Text::with("mvn", format!("{}, {m_text}", gpr(rd, is64, false)));
            } else if op == Opcode::ANDS && rd == 31 {
                t = Text::with("tst", format!("{}, {m_text}", gpr(rn, is64, false)));
            } else {
                t.operands = format!("{}, {}, {m_text}", gpr(rd, is64, false), gpr(rn, is64, false));
            }
        }
        Opcode::MOVZ | Opcode::MOVN | Opcode::MOVK => {
            let hw = bits(word, 21, 2);
            let imm16 = bits(word, 5, 16);
            let shift = hw.wrapping_mul(16);
            let dst = gpr(rd, is64, false);
            let raw = u64::from(imm16).checked_shl(shift).unwrap_or(0);
            let alias = match op {
                Opcode::MOVZ => !(imm16 == 0 && hw != 0),
                Opcode::MOVN => !(imm16 == 0 && hw != 0 || !is64 && imm16 == 0xffff),
                _ => false,
            };
            if alias {
                let value = if op == Opcode::MOVN { !raw } else { raw };
                let value = if is64 { value } else { value & 0xffff_ffff };
                t = mov_imm(t, dst, value, is64);
            } else if hw == 0 {
                t.operands = format!("{dst}, #{imm16:#x}");
            } else {
                t.operands = format!("{dst}, #{imm16:#x}, lsl #{shift}");
            }
        }
        Opcode::SBFM | Opcode::UBFM | Opcode::BFM if bits(word, 23, 6) == 0b100110 => {
            t = bitfield(word, op);
        }
        Opcode::EXTR => {
            let lsb = bits(word, 10, 6);
            if rn == rm {
                t = Text::with("ror", format!("{}, {}, #{lsb}", gpr(rd, is64, false), gpr(rn, is64, false)));
            } else {
                t.operands =
                    format!("{}, {}, {}, #{lsb}", gpr(rd, is64, false), gpr(rn, is64, false), gpr(rm, is64, false));
            }
        }
        Opcode::CSEL | Opcode::CSINC | Opcode::CSINV | Opcode::CSNEG => {
            let cond = bits(word, 12, 4);
            let (d, n, m) = (gpr(rd, is64, false), gpr(rn, is64, false), gpr(rm, is64, false));
            let invertible = cond < 14 && rn == rm;
            if invertible && op != Opcode::CSEL {
                let inv = cond ^ 1;
                let alias = match (op, rn == 31) {
                    (Opcode::CSINC, true) => Some(("cset", format!("{d}, {}", cond_name(inv)))),
                    (Opcode::CSINC, false) => Some(("cinc", format!("{d}, {n}, {}", cond_name(inv)))),
                    (Opcode::CSINV, true) => Some(("csetm", format!("{d}, {}", cond_name(inv)))),
                    (Opcode::CSINV, false) => Some(("cinv", format!("{d}, {n}, {}", cond_name(inv)))),
                    _ => Some(("cneg", format!("{d}, {n}, {}", cond_name(inv)))),
                };
                if let Some((mn, ops)) = alias {
                    t = Text::with(mn, ops);
                    t.comment = cond_comment(inv);
                }
            } else {
                t.operands = format!("{d}, {n}, {m}, {}", cond_name(cond));
                t.comment = cond_comment(cond);
            }
        }
        Opcode::CCMP | Opcode::CCMN => {
            let cond = bits(word, 12, 4);
            let nzcv = bits(word, 0, 4);
            let second = if bit(word, 11) { format!("#{rm:#x}") } else { gpr(rm, is64, false) };
            t.operands = format!("{}, {second}, #{nzcv:#x}, {}", gpr(rn, is64, false), cond_name(cond));
            t.comment = cond_comment(cond);
        }
        Opcode::MADD | Opcode::MSUB if ra == 31 => {
            let mn = if op == Opcode::MADD { "mul" } else { "mneg" };
            t = Text::with(mn, format!("{}, {}, {}", gpr(rd, is64, false), gpr(rn, is64, false), gpr(rm, is64, false)));
        }
        Opcode::SMADDL | Opcode::SMSUBL | Opcode::UMADDL | Opcode::UMSUBL if ra == 31 => {
            let mn = match op {
                Opcode::SMADDL => "smull",
                Opcode::SMSUBL => "smnegl",
                Opcode::UMADDL => "umull",
                _ => "umnegl",
            };
            t = Text::with(mn, format!("{}, {}, {}", x(rd), gpr(rn, false, false), gpr(rm, false, false)));
        }
        Opcode::LSLV | Opcode::LSRV | Opcode::ASRV | Opcode::RORV => {
            let mn = match op {
                Opcode::LSLV => "lsl",
                Opcode::LSRV => "lsr",
                Opcode::ASRV => "asr",
                _ => "ror",
            };
            t = Text::with(mn, format!("{}, {}, {}", gpr(rd, is64, false), gpr(rn, is64, false), gpr(rm, is64, false)));
        }
        Opcode::REV if is64 && bits(word, 10, 2) == 3 => {
            t.operands = format!("{}, {}", x(rd), x(rn));
        }
        Opcode::ADR => {
            let imm = (bits(word, 5, 19) << 2 | bits(word, 29, 2)) as i32;
            let off = i64::from(imm.wrapping_shl(11) >> 11);
            t = with_target(t, x(rd), pc_rel(addr, off));
        }
        Opcode::ADRP => {
            let imm = (bits(word, 5, 19) << 2 | bits(word, 29, 2)) as i32;
            let off = i64::from(imm.wrapping_shl(11) >> 11).wrapping_mul(4096);
            t = with_target(t, x(rd), pc_rel(addr & !0xfff, off));
        }
        Opcode::B | Opcode::BL => {
            let off = i64::from((bits(word, 0, 26) as i32).wrapping_shl(6) >> 4);
            t = with_target(t, String::new(), pc_rel(addr, off));
        }
        Opcode::Bcc(_) | Opcode::BCcc(_) => {
            let cond = bits(word, 0, 4);
            let prefix = if bit(word, 4) { "bc" } else { "b" };
            let off = i64::from((bits(word, 5, 19) as i32).wrapping_shl(13) >> 11);
            t = with_target(Text::new(format!("{prefix}.{}", cond_name(cond))), String::new(), pc_rel(addr, off));
            t.comment = branch_cond_comment(prefix, cond);
        }
        Opcode::CBZ | Opcode::CBNZ => {
            let off = i64::from((bits(word, 5, 19) as i32).wrapping_shl(13) >> 11);
            t = with_target(t, gpr(rd, is64, false), pc_rel(addr, off));
        }
        Opcode::TBZ | Opcode::TBNZ => {
            let bitno = bits(word, 19, 5) | (u32::from(is64) << 5);
            let off = i64::from((bits(word, 5, 14) as i32).wrapping_shl(18) >> 16);
            t = with_target(t, format!("{}, #{bitno}", gpr(rd, is64, false)), pc_rel(addr, off));
        }
        Opcode::RET if rn == 30 => {}
        Opcode::RET | Opcode::BR | Opcode::BLR => t.operands = x(rn),
        Opcode::BRAA | Opcode::BRAB | Opcode::BLRAA | Opcode::BLRAB => {
            t.operands = format!("{}, {}", x(rn), xsp(rd));
        }
        Opcode::BRAAZ | Opcode::BRABZ | Opcode::BLRAAZ | Opcode::BLRABZ => t.operands = x(rn),
        Opcode::SVC | Opcode::HVC | Opcode::SMC | Opcode::BRK | Opcode::HLT => {
            t.operands = format!("#{:#x}", bits(word, 5, 16));
        }
        Opcode::DCPS1 | Opcode::DCPS2 | Opcode::DCPS3 => {
            let imm = bits(word, 5, 16);
            if imm != 0 {
                t.operands = format!("#{imm:#x}");
            }
        }
        Opcode::UDF => t.operands = format!("#{}", bits(word, 0, 16)),
        Opcode::IRG => {
            t.operands = if rm == 31 {
                format!("{}, {}", xsp(rd), xsp(rn))
            } else {
                format!("{}, {}, {}", xsp(rd), xsp(rn), x(rm))
            };
        }
        Opcode::RMIF => {
            t.operands = format!("{}, #{}, #{}", x(rn), bits(word, 15, 6), bits(word, 0, 4));
        }
        Opcode::MRS => {
            t.operands = format!("{}, {}", x(rd), sysreg_name(bits(word, 5, 15), false));
        }
        Opcode::MSR if bit(word, 20) => {
            t.operands = format!("{}, {}", sysreg_name(bits(word, 5, 15), true), x(rd));
        }
        Opcode::SYS(_) => {
            let enc = bits(word, 5, 14);
            if let Ok(i) = SYS_ALIASES.binary_search_by_key(&(enc as u16), |(e, ..)| *e) {
                if let Some((_, mn, opname, takes)) = SYS_ALIASES.get(i) {
                    t = Text::with(*mn, if *takes { format!("{opname}, {}", x(rd)) } else { (*opname).to_string() });
                    return t;
                }
            }
            let sys =
                format!("#{}, C{}, C{}, #{}", bits(word, 16, 3), bits(word, 12, 4), bits(word, 8, 4), bits(word, 5, 3));
            t.operands = if rd == 31 { sys } else { format!("{sys}, {}", x(rd)) };
        }
        Opcode::SYSL(_) => {
            t.operands = format!(
                "{}, #{}, C{}, C{}, #{}",
                x(rd),
                bits(word, 16, 3),
                bits(word, 12, 4),
                bits(word, 8, 4),
                bits(word, 5, 3)
            );
        }
        _ => {
            if let Some(text) = load_store(word, inst, addr) {
                return text;
            }
            return generic(inst, addr, if is_simd(inst) { ImmStyle::Decimal } else { ImmStyle::Hex });
        }
    }
    t
}

fn is_simd(inst: &yaxpeax_arm::armv8::a64::Instruction) -> bool {
    inst.operands.iter().any(|op| {
        matches!(
            op,
            Operand::SIMDRegister(..)
                | Operand::SIMDRegisterElements(..)
                | Operand::SIMDRegisterElementsLane(..)
                | Operand::SIMDRegisterElementsMultipleLane(..)
                | Operand::SIMDRegisterGroup(..)
                | Operand::SIMDRegisterGroupLane(..)
        )
    })
}

/// True when `value` (a bitmask immediate of an `orr` from the zero
/// register) is one `movz` or `movn` could make: objdump then prints the
/// `orr`, not the `mov` alias.
fn move_wide_preferred(value: u64, is64: bool) -> bool {
    let (value, mask, shifts): (u64, u64, &[u32]) =
        if is64 { (value, u64::MAX, &[0, 16, 32, 48]) } else { (value & 0xffff_ffff, 0xffff_ffff, &[0, 16]) };
    let fits = |v: u64| shifts.iter().any(|&s| v & !(0xffffu64 << s) & mask == 0);
    fits(value) || fits(!value & mask)
}

/// `sbfm`/`ubfm`/`bfm` under the alias objdump prefers.
fn bitfield(word: u32, op: Opcode) -> Text {
    let is64 = bit(word, 31);
    let width: u32 = if is64 { 64 } else { 32 };
    let rd = bits(word, 0, 5);
    let rn = bits(word, 5, 5);
    let immr = bits(word, 16, 6);
    let imms = bits(word, 10, 6);
    let d = gpr(rd, is64, false);
    let n = gpr(rn, is64, false);
    let wn = gpr(rn, false, false);
    let lsb_insert = width.wrapping_sub(immr) & width.wrapping_sub(1);
    let (mn, ops) = match op {
        Opcode::SBFM => {
            if imms == width.wrapping_sub(1) {
                ("asr", format!("{d}, {n}, #{immr}"))
            } else if imms < immr {
                ("sbfiz", format!("{d}, {n}, #{lsb_insert}, #{}", imms.wrapping_add(1)))
            } else if immr == 0 && imms == 7 {
                ("sxtb", format!("{d}, {wn}"))
            } else if immr == 0 && imms == 15 {
                ("sxth", format!("{d}, {wn}"))
            } else if immr == 0 && imms == 31 {
                ("sxtw", format!("{d}, {wn}"))
            } else {
                ("sbfx", format!("{d}, {n}, #{immr}, #{}", imms.wrapping_sub(immr).wrapping_add(1)))
            }
        }
        Opcode::UBFM => {
            if imms != width.wrapping_sub(1) && imms.wrapping_add(1) == immr {
                ("lsl", format!("{d}, {n}, #{}", width.wrapping_sub(1).wrapping_sub(imms)))
            } else if imms == width.wrapping_sub(1) {
                ("lsr", format!("{d}, {n}, #{immr}"))
            } else if imms < immr {
                ("ubfiz", format!("{d}, {n}, #{lsb_insert}, #{}", imms.wrapping_add(1)))
            } else if !is64 && immr == 0 && imms == 7 {
                ("uxtb", format!("{d}, {wn}"))
            } else if !is64 && immr == 0 && imms == 15 {
                ("uxth", format!("{d}, {wn}"))
            } else {
                ("ubfx", format!("{d}, {n}, #{immr}, #{}", imms.wrapping_sub(immr).wrapping_add(1)))
            }
        }
        _ => {
            if imms < immr {
                if rn == 31 {
                    ("bfc", format!("{d}, #{lsb_insert}, #{}", imms.wrapping_add(1)))
                } else {
                    ("bfi", format!("{d}, {n}, #{lsb_insert}, #{}", imms.wrapping_add(1)))
                }
            } else {
                ("bfxil", format!("{d}, {n}, #{immr}, #{}", imms.wrapping_sub(immr).wrapping_add(1)))
            }
        }
    };
    Text::with(mn, ops)
}

/// Loads and stores of general-purpose registers (and of SIMD&FP registers
/// through the same addressing modes): objdump's decimal offsets, its
/// register-offset spelling, and the LSE `st<op>` aliases.
fn load_store(word: u32, inst: &yaxpeax_arm::armv8::a64::Instruction, addr: u64) -> Option<Text> {
    let op = inst.opcode;
    let name = op.to_string();
    let rt = bits(word, 0, 5);
    let rs = bits(word, 16, 5);
    let ops = &inst.operands;
    // LSE atomic memory operations with the zero register as destination
    // and no acquire: the `st<op>` aliases.
    let atomic = bits(word, 24, 6) == 0b111000 && bit(word, 21) && bits(word, 10, 2) == 0;
    if atomic {
        let o3 = bit(word, 15);
        let opc = bits(word, 12, 3);
        let acquire = bit(word, 23);
        let is64 = bits(word, 30, 2) == 3;
        if !o3 && rt == 31 && !acquire && name.starts_with("ld") {
            let release = bit(word, 22);
            let size = match bits(word, 30, 2) {
                0 => "b",
                1 => "h",
                _ => "",
            };
            let base = ["add", "clr", "eor", "set", "smax", "smin", "umax", "umin"].get(opc as usize)?;
            return Some(Text::with(
                format!("st{base}{}{size}", if release { "l" } else { "" }),
                format!("{}, [{}]", gpr(rs, is64, false), xsp(bits(word, 5, 5))),
            ));
        }
    }
    // Find the memory operand; the others are transfer registers.
    let mut regs = Vec::new();
    let mut mem = None;
    let mut target = None;
    for o in ops.iter() {
        match o {
            Operand::Nothing => {}
            Operand::RegPreIndex(..)
            | Operand::RegPostIndex(..)
            | Operand::RegRegOffset(..)
            | Operand::RegPostIndexReg(..) => mem = Some(*o),
            Operand::PCOffset(_) if is_load_literal(word) => {
                mem = Some(*o);
            }
            other => regs.push(operand(other, addr, ImmStyle::Decimal, &mut target)?),
        }
    }
    let mem = mem?;
    let mut t = Text::new(name);
    let mem_text = match mem {
        Operand::RegRegOffset(..)
            if bits(word, 24, 6) & 0b111011 == 0b111000 && bit(word, 21) && bits(word, 10, 2) == 2 =>
        {
            // Load/store register (register offset): the shift amount is
            // log2 of the access size.
            let size = bits(word, 30, 2);
            let opc = bits(word, 22, 2);
            let amount = if bit(word, 26) && size == 0 && opc & 2 == 2 { 4 } else { size };
            mem_register(word, amount)
        }
        Operand::PCOffset(off) => {
            let target = pc_rel(addr, off);
            t.target = Some(target);
            format!("{target:#x}")
        }
        other => operand(&other, addr, ImmStyle::Decimal, &mut target)?,
    };
    regs.push(mem_text);
    t.operands = regs.join(", ");
    Some(t)
}

/// Load register (literal) and `prfm (literal)`: `xx011x00`.
fn is_load_literal(word: u32) -> bool {
    bits(word, 27, 3) == 0b011 && bits(word, 24, 2) == 0
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn float_format_is_c_style() {
        assert_eq!(float_e18(1.0), "1.000000000000000000e+00");
        assert_eq!(float_e18(-2.5), "-2.500000000000000000e+00");
        assert_eq!(float_e18(0.125), "1.250000000000000000e-01");
    }

    #[test]
    fn move_wide_preference() {
        assert!(move_wide_preferred(1, false));
        assert!(!move_wide_preferred(0xff00_ff00_ff00_ff00, true));
        assert!(move_wide_preferred(0xffff_ffff_ffff_fff0, true));
    }
}
