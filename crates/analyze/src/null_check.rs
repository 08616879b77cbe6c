//! How code tests a call's return value before using it: an `IS_ERR()`
//! test (`cmp $-4096,%rax` then `ja`/`jbe`) lets NULL through, a zero
//! test (`test %rax,%rax`) does not. A NULL dereference of a value only
//! ever checked with IS_ERR() is the ERR_PTR/NULL confusion of a helper
//! that returns NULL where its callers expect an error pointer.

use iced_x86::{Mnemonic, OpKind, Register};

use crate::provenance::FunctionCode;

/// `-MAX_ERRNO` as the kernel compares it: IS_ERR_VALUE(x) is
/// `x >= (unsigned long)-4095`, compiled as a compare with -4096 or -4095.
const IS_ERR_LOWEST: u64 = 0xffff_ffff_ffff_f000;

/// The tests a return value meets between the call and its use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReturnChecks {
    pub is_err: bool,
    pub null: bool,
}

impl ReturnChecks {
    /// `IS_ERR`, `NULL`, `IS_ERR and NULL`, or `nothing`, for the report.
    pub fn describe(self) -> &'static str {
        match (self.is_err, self.null) {
            (true, false) => "IS_ERR",
            (false, true) => "NULL",
            (true, true) => "IS_ERR and NULL",
            (false, false) => "nothing",
        }
    }
}

/// The checks applied to `%rax` as returned by the call at instruction
/// `call_index`, up to (not including) instruction `use_index`. Copies of
/// the value into other registers are followed.
pub(crate) fn return_value_checks(code: &FunctionCode, call_index: usize, use_index: usize) -> ReturnChecks {
    let mut holders: Vec<Register> = vec![Register::RAX];
    let mut checks = ReturnChecks::default();
    for i in call_index.saturating_add(1)..use_index {
        let Some(instr) = code.instrs.get(i).and_then(|x| x.as_ref()) else { continue };
        let op_reg = |n: u32| match n {
            0 => instr.op0_register().full_register(),
            _ => instr.op1_register().full_register(),
        };
        match instr.mnemonic() {
            Mnemonic::Cmp if instr.op0_kind() == OpKind::Register && holders.contains(&op_reg(0)) => {
                if let Ok(imm) = instr.try_immediate(1) {
                    let imm = sign_extend(imm, instr.op0_register().size());
                    if imm >= IS_ERR_LOWEST {
                        checks.is_err = true;
                    } else if imm == 0 {
                        checks.null = true;
                    }
                }
            }
            Mnemonic::Test
                if instr.op0_kind() == OpKind::Register
                    && instr.op1_kind() == OpKind::Register
                    && holders.contains(&op_reg(0))
                    && op_reg(0) == op_reg(1) =>
            {
                checks.null = true;
            }
            Mnemonic::Mov if instr.op0_kind() == OpKind::Register && instr.op1_kind() == OpKind::Register => {
                let (to, from) = (op_reg(0), op_reg(1));
                holders.retain(|r| *r != to);
                if holders.contains(&from) {
                    holders.push(to);
                }
            }
            _ => holders.retain(|r| !code.writes(i, *r)),
        }
        if holders.is_empty() {
            break;
        }
    }
    checks
}

/// An immediate compared with a register of `size` bytes, as 64 bits.
fn sign_extend(imm: u64, size: usize) -> u64 {
    match size {
        4 => imm as u32 as i32 as i64 as u64,
        _ => imm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use krash_arch::disasm::decode_one;
    use std::collections::HashMap;

    fn code(bytes: &[&[u8]]) -> FunctionCode {
        let mut addr = 0x1000u64;
        let mut texts = Vec::new();
        let mut instrs = Vec::new();
        for b in bytes {
            texts.push((addr, String::new()));
            instrs.push(decode_one(b, addr));
            addr += b.len() as u64;
        }
        FunctionCode::new("f".into(), 0x1000, texts, instrs, HashMap::new())
    }

    const CALL: &[u8] = &[0xe8, 0, 0, 0, 0];
    const CMP_RAX_MINUS_4096: &[u8] = &[0x48, 0x3d, 0x00, 0xf0, 0xff, 0xff];
    const JA: &[u8] = &[0x77, 0x10];
    const TEST_RAX: &[u8] = &[0x48, 0x85, 0xc0];
    const MOV_RBX_RAX: &[u8] = &[0x48, 0x89, 0xc3];
    const CMP_RBX_MINUS_4096: &[u8] = &[0x48, 0x81, 0xfb, 0x00, 0xf0, 0xff, 0xff];
    const LOAD: &[u8] = &[0x48, 0x8b, 0x40, 0x10];

    #[test]
    fn is_err_only() {
        let c = code(&[CALL, CMP_RAX_MINUS_4096, JA, LOAD]);
        assert_eq!(return_value_checks(&c, 0, 3), ReturnChecks { is_err: true, null: false });
        assert_eq!(return_value_checks(&c, 0, 3).describe(), "IS_ERR");
    }

    #[test]
    fn null_test_and_copies() {
        let c = code(&[CALL, MOV_RBX_RAX, CMP_RBX_MINUS_4096, JA, TEST_RAX, LOAD]);
        assert_eq!(return_value_checks(&c, 0, 5), ReturnChecks { is_err: true, null: true });
        let c = code(&[CALL, LOAD]);
        assert_eq!(return_value_checks(&c, 0, 1).describe(), "nothing");
    }
}
