//! The few instructions of the kernel's own code that yaxpeax-arm does not
//! decode, decoded here: the SVE register saves and restores of
//! `sve_save_state`/`sve_load_state` (`ldr`/`str` of `z` and `p`
//! registers, `pfalse`, `rdffr`, `wrffr`, `rdvl`) and FEAT_WFxT's `wfet`
//! and `wfit` (with them every instruction of Debian's 6.1 and 6.12 arm64
//! kernels' `.text` prints as objdump prints it); and MTE's `addg`, `subg`
//! and `stgp`, FEAT_CSSC's `smax`/`umax`/`smin`/`umin`, and `mrs`/`msr` of
//! the op0 = 0 space.

use super::details::Reg;
use super::format::{bits, gpr, system_word, Text};

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
    if let Some(text) = system_word(word) {
        // Hints, barriers, PSTATE writes yaxpeax does not know (`tcommit`,
        // `dsb oshnxs`, `smstart`...).
        return Some(Extra { text, reads: Vec::new(), writes: Vec::new() });
    }
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
        // MTE: addg/subg, stgp.
        w if w & 0xbfc0_c000 == 0x9180_0000 => {
            let m = if w & 0x4000_0000 == 0 { "addg" } else { "subg" };
            let ops = format!(
                "{}, {}, #{:#x}, #{:#x}",
                gpr(rt, true, true),
                gpr(rn, true, true),
                bits(w, 16, 6) << 4,
                bits(w, 10, 4)
            );
            (text(m, ops), vec![Reg::gpr(rn, true)], vec![Reg::gpr(rt, true)])
        }
        w if matches!(w & 0xffc0_0000, 0x6880_0000 | 0x6900_0000 | 0x6980_0000) => {
            let rt2 = bits(w, 10, 5);
            let off = i64::from(((bits(w, 15, 7) << 25) as i32) >> 25).wrapping_mul(16);
            let b = gpr(rn, true, true);
            let addr = match w & 0xffc0_0000 {
                0x6880_0000 => format!("[{b}], #{off}"),
                0x6980_0000 => format!("[{b}, #{off}]!"),
                _ if off == 0 => format!("[{b}]"),
                _ => format!("[{b}, #{off}]"),
            };
            let t = text("stgp", format!("{}, {}, {addr}", gpr(rt, true, false), gpr(rt2, true, false)));
            let mut writes = Vec::new();
            if w & 0xffc0_0000 != 0x6900_0000 {
                writes.push(base);
            }
            (t, vec![Reg::gpr(rt, false), Reg::gpr(rt2, false), base], writes)
        }
        // FEAT_CSSC: smax/umax/smin/umin, immediate and register.
        w if w & 0x7ff0_0000 == 0x11c0_0000 => {
            let opc = bits(w, 18, 2);
            let is64 = w & 0x8000_0000 != 0;
            let imm8 = bits(w, 10, 8);
            let imm = if opc & 1 == 0 { i64::from(((imm8 << 24) as i32) >> 24) } else { i64::from(imm8) };
            let m = ["smax", "umax", "smin", "umin"].get(opc as usize).copied().unwrap_or("smax");
            let ops = format!("{}, {}, #{imm}", gpr(rt, is64, false), gpr(rn, is64, false));
            (text(m, ops), vec![Reg::gpr(rn, false)], vec![Reg::gpr(rt, false)])
        }
        w if w & 0x7fe0_f000 == 0x1ac0_6000 => {
            let opc = bits(w, 10, 2);
            let is64 = w & 0x8000_0000 != 0;
            let rm = bits(w, 16, 5);
            let m = ["smax", "umax", "smin", "umin"].get(opc as usize).copied().unwrap_or("smax");
            let ops = format!("{}, {}, {}", gpr(rt, is64, false), gpr(rn, is64, false), gpr(rm, is64, false));
            (text(m, ops), vec![Reg::gpr(rn, false), Reg::gpr(rm, false)], vec![Reg::gpr(rt, false)])
        }
        // `mrs`/`msr` with op0 = 0 (implementation defined space).
        w if w & 0xffd8_0000 == 0xd500_0000 => {
            let sys = format!("s0_{}_c{}_c{}_{}", bits(w, 16, 3), bits(w, 12, 4), bits(w, 8, 4), bits(w, 5, 3));
            let x = gpr(rt, true, false);
            if w & 0x0020_0000 != 0 {
                (text("mrs", format!("{x}, {sys}")), vec![], vec![Reg::gpr(rt, false)])
            } else {
                (text("msr", format!("{sys}, {x}")), vec![Reg::gpr(rt, false)], vec![])
            }
        }
        _ => return None,
    };
    Some(Extra { text, reads, writes })
}
