//! Encodings yaxpeax-arm accepts but the architecture (and so objdump,
//! which prints `.inst\t0x... ; undefined` for them) does not: yaxpeax
//! ignores some fixed or should-be-one fields. Checked for the
//! general-purpose classes, where it matters for telling data from code.

use yaxpeax_arm::armv8::a64::Opcode;

use super::format::bits;

fn bit(word: u32, n: u32) -> bool {
    bits(word, n, 1) == 1
}

/// True when `word`, which yaxpeax decoded as `opcode`, is an unallocated
/// or reserved encoding.
pub(super) fn reserved(word: u32, opcode: Opcode) -> bool {
    if opcode == Opcode::Invalid {
        return true;
    }
    let sf = bit(word, 31);
    // `udf` is only the all-zero top half.
    if opcode == Opcode::UDF {
        return bits(word, 16, 16) != 0;
    }
    // Data processing, immediate.
    if bits(word, 26, 3) == 0b100 {
        let n = bit(word, 22);
        let immr = bits(word, 16, 6);
        let imms = bits(word, 10, 6);
        return match bits(word, 23, 6) {
            0b100100 => (!sf && n) || logical_immediate(n, immr, imms, sf).is_none(),
            0b100101 => bits(word, 29, 2) == 1 || (!sf && bit(word, 22)),
            0b100110 => bits(word, 29, 2) == 3 || n != sf || (!sf && (immr >= 32 || imms >= 32)),
            0b100111 => bits(word, 29, 2) != 0 || bit(word, 21) || n != sf || (!sf && imms >= 32),
            _ => false,
        };
    }
    // Data processing, register.
    if bits(word, 25, 3) == 0b101 {
        if !bit(word, 28) {
            let imm6 = bits(word, 10, 6);
            return if !bit(word, 24) {
                !sf && imm6 >= 32
            } else if !bit(word, 21) {
                bits(word, 22, 2) == 3 || (!sf && imm6 >= 32)
            } else {
                bits(word, 22, 2) != 0 || bits(word, 10, 3) > 4
            };
        }
        let s = bit(word, 29);
        return match bits(word, 21, 8) {
            0b1101_0000 => {
                matches!(opcode, Opcode::ADC | Opcode::ADCS | Opcode::SBC | Opcode::SBCS) && bits(word, 10, 6) != 0
            }
            0b1101_0010 => !s || bit(word, 10) || bit(word, 4),
            0b1101_0100 => s || bit(word, 11),
            0b1101_0110 if !bit(word, 30) => {
                let opc = bits(word, 10, 6);
                match opc {
                    2 | 3 | 8..=11 => s,
                    16..=23 => s || (opc & 3 == 3) != sf,
                    12 | 4 | 5 => s || !sf,
                    0 => !sf,
                    _ => true,
                }
            }
            0b1101_0110 => s,
            op if op >> 3 == 0b11011 => {
                let op31 = bits(word, 21, 3);
                let o0 = bit(word, 15);
                bits(word, 29, 2) != 0
                    || match op31 {
                        0 => false,
                        1 | 5 => !sf,
                        2 | 6 => !sf || o0,
                        _ => true,
                    }
            }
            // The other op2 values under op1 = 1 are unallocated.
            op if op >> 3 == 0b11010 => true,
            _ => false,
        };
    }
    // Load/store exclusive and ordered.
    if bits(word, 24, 6) == 0b001000 {
        let o2 = bit(word, 23);
        let load = bit(word, 22);
        let o1 = bit(word, 21);
        let rs = bits(word, 16, 5);
        let rt2 = bits(word, 10, 5);
        // objdump checks the should-be-one fields of `ldar`, `cas` and
        // `casp` only.
        return match (o2, o1) {
            (true, false) => load && bit(word, 15) && (rs != 31 || rt2 != 31),
            (false, false) => false,
            (false, true) => !bit(word, 31) && rt2 != 31,
            (true, true) => rt2 != 31,
        };
    }
    // Load/store register (register offset): option<1> must be set.
    if bits(word, 27, 3) == 0b111 && bits(word, 24, 2) == 0 && bit(word, 21) && bits(word, 10, 2) == 2 {
        return !bit(word, 14);
    }
    // SIMD load/store structures.
    match bits(word, 24, 6) {
        0b001100 => {
            return bit(word, 31) || if bit(word, 23) { bit(word, 21) } else { bits(word, 16, 6) != 0 };
        }
        0b001101 => return bit(word, 31) || (!bit(word, 23) && bits(word, 16, 5) != 0),
        _ => {}
    }
    false
}

/// The value of a logical (bitmask) immediate, `None` for the reserved
/// encodings (the architecture's `DecodeBitMasks`).
pub(super) fn logical_immediate(n: bool, immr: u32, imms: u32, sf: bool) -> Option<u64> {
    let combined = (u32::from(n) << 6) | (!imms & 0x3f);
    let len = 31u32.checked_sub(combined.leading_zeros())?;
    if len < 1 {
        return None;
    }
    let size = 1u32.checked_shl(len)?;
    let levels = size.wrapping_sub(1);
    let s = imms & levels;
    let r = immr & levels;
    if s == levels {
        return None;
    }
    let width = if sf { 64 } else { 32 };
    if size > width {
        return None;
    }
    let ones = s.wrapping_add(1);
    let welem: u64 = if ones >= 64 { u64::MAX } else { (1u64 << ones).wrapping_sub(1) };
    let emask: u64 = if size >= 64 { u64::MAX } else { (1u64 << size).wrapping_sub(1) };
    let rotated = if r == 0 { welem } else { ((welem >> r) | (welem << (size.wrapping_sub(r)))) & emask };
    let mut value = 0u64;
    let mut i = 0;
    while i < width {
        value |= rotated << i;
        i = i.wrapping_add(size);
    }
    Some(if sf { value } else { value & 0xffff_ffff })
}
