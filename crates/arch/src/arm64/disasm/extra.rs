//! The few instructions of the kernel's own code that yaxpeax-arm does not
//! decode, decoded here: the SVE register saves and restores of
//! `sve_save_state`/`sve_load_state` (`ldr`/`str` of `z` and `p`
//! registers, `pfalse`, `rdffr`, `wrffr`, `rdvl`) and FEAT_WFxT's `wfet`
//! and `wfit`. With them every instruction of a Debian 6.1 arm64 kernel's
//! `.text` prints as objdump prints it.

use super::details::Reg;
use super::format::{bits, gpr, Text};

/// An instruction decoded here rather than by yaxpeax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Extra {
    pub text: Text,
    pub reads: Vec<Reg>,
    pub writes: Vec<Reg>,
}

fn sve_offset(word: u32) -> i64 {
    let imm9 = (bits(word, 16, 6) << 3) | bits(word, 10, 3);
    i64::from(((imm9 << 23) as i32) >> 23)
}

fn sve_address(word: u32) -> String {
    let base = gpr(bits(word, 5, 5), true, true);
    match sve_offset(word) {
        0 => format!("[{base}]"),
        off => format!("[{base}, #{off}, mul vl]"),
    }
}

/// `word` when it is one of the instructions decoded here.
pub(super) fn decode(word: u32) -> Option<Extra> {
    let rt = bits(word, 0, 5);
    let rn = bits(word, 5, 5);
    let text =
        |m: &str, ops: String| Text { mnemonic: m.to_string(), operands: ops, target: None, comment: String::new() };
    let base = Reg::gpr(rn, true);
    let (text, reads, writes) = match word {
        // LDR/STR (vector): z registers.
        w if w & 0xffc0_e000 == 0x8580_4000 || w & 0xffc0_e000 == 0xe580_4000 => {
            let store = w & 0x6000_0000 == 0x6000_0000;
            let z = Reg::V(rt as u8);
            let t = text(if store { "str" } else { "ldr" }, format!("z{rt}, {}", sve_address(w)));
            if store {
                (t, vec![z, base], vec![])
            } else {
                (t, vec![base], vec![z])
            }
        }
        // LDR/STR (predicate).
        w if w & 0xffc0_e010 == 0x8580_0000 || w & 0xffc0_e010 == 0xe580_0000 => {
            let store = w & 0x6000_0000 == 0x6000_0000;
            let t = text(if store { "str" } else { "ldr" }, format!("p{}, {}", rt & 15, sve_address(w)));
            (t, vec![base], vec![])
        }
        w if w & 0xffff_fff0 == 0x2518_e400 => (text("pfalse", format!("p{}.b", rt & 15)), vec![], vec![]),
        w if w & 0xffff_fff0 == 0x2519_f000 => (text("rdffr", format!("p{}.b", rt & 15)), vec![], vec![]),
        w if w & 0xffff_fe1f == 0x2528_9000 => (text("wrffr", format!("p{}.b", rn & 15)), vec![], vec![]),
        w if w & 0xffff_f800 == 0x04bf_5000 => {
            let imm = ((bits(w, 5, 6) << 26) as i32) >> 26;
            (text("rdvl", format!("{}, #{imm}", gpr(rt, true, false))), vec![], vec![Reg::gpr(rt, false)])
        }
        w if w & 0xffff_ffc0 == 0xd503_1000 => {
            let m = if w & 0x20 == 0 { "wfet" } else { "wfit" };
            (text(m, gpr(rt, true, false)), vec![Reg::gpr(rt, false)], vec![])
        }
        _ => return None,
    };
    Some(Extra { text, reads, writes })
}
