//! Checks against GNU objdump 2.40's text (which gdb, and so crash's `dis`,
//! prints): committed tables made by `testdata/gen.sh`, and the live
//! cross binutils when they are installed.

use std::path::Path;
use std::process::Command;

use super::*;
use crate::decoder::{Decoder, FlowKind};

const FORMS: &str = include_str!("testdata/forms.objdump");
const KERNEL_LIKE: &str = include_str!("testdata/kernel_like.objdump");
const LIBC_SAMPLE: &str = include_str!("testdata/libc_sample.objdump");

fn no_symbols(_: u64) -> Option<(String, u64)> {
    None
}

fn symbolizer(addr: u64) -> Option<(String, u64)> {
    match addr {
        0xffff_8000_0812_3450 => Some(("kmalloc_trace".to_string(), 0)),
        0xffff_8000_0800_1000..=0xffff_8000_0800_1fff => Some(("foo".to_string(), addr - 0xffff_8000_0800_1000)),
        0xffff_8000_09a3_c000..=0xffff_8000_09a3_cfff => Some(("sym".to_string(), addr - 0xffff_8000_09a3_c000)),
        _ => None,
    }
}

/// `(addr, word, text)` rows of an objdump table.
fn rows(table: &str) -> Vec<(u64, u32, String)> {
    table
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut it = l.splitn(3, '\t');
            let addr = u64::from_str_radix(it.next().unwrap(), 16).unwrap();
            let word = u32::from_str_radix(it.next().unwrap(), 16).unwrap();
            (addr, word, it.next().unwrap_or("").to_string())
        })
        .collect()
}

/// Every row whose text differs from ours, as `word: objdump | ours`.
fn mismatches(rows: &[(u64, u32, String)]) -> Vec<String> {
    rows.iter()
        .filter_map(|(addr, word, expected)| {
            let ours = format_word(*word, *addr, &no_symbols);
            (ours != *expected).then(|| format!("{word:08x}: {expected:?} | ours {ours:?}"))
        })
        .collect()
}

fn assert_table(name: &str, table: &str, min_rows: usize) {
    let rows = rows(table);
    assert!(rows.len() >= min_rows, "{name}: only {} rows", rows.len());
    let bad = mismatches(&rows);
    assert!(bad.is_empty(), "{name}: {} of {} differ from objdump:\n{}", bad.len(), rows.len(), bad.join("\n"));
}

#[test]
fn hand_picked_forms_print_as_objdump() {
    assert_table("forms", FORMS, 550);
}

#[test]
fn kernel_like_code_prints_as_objdump() {
    assert_table("kernel_like", KERNEL_LIKE, 500);
}

/// Every 100th instruction of Debian's arm64 libc .text (real compiler
/// output, with NEON): all must match except SVE, which yaxpeax-arm does
/// not decode (we print `.inst ... ; undefined`).
#[test]
fn libc_sample_prints_as_objdump_except_sve() {
    let rows = rows(LIBC_SAMPLE);
    assert!(rows.len() > 2700);
    let mut sve = 0;
    let mut bad = Vec::new();
    for (addr, word, expected) in &rows {
        let ours = format_word(*word, *addr, &no_symbols);
        if ours == *expected {
            continue;
        }
        let is_sve = ours.starts_with(".inst")
            && expected.split(['\t', ' ', '{', ',', '[']).any(|t| {
                (t.starts_with('z') || t.starts_with('p'))
                    && t.get(1..2).is_some_and(|d| d.chars().all(|c| c.is_ascii_digit()))
            });
        if is_sve {
            sve += 1;
        } else {
            bad.push(format!("{word:08x}: {expected:?} | ours {ours:?}"));
        }
    }
    assert!(bad.is_empty(), "{} differ:\n{}", bad.len(), bad.join("\n"));
    assert!(sve <= 5, "{sve} SVE instructions");
}

fn tool(name: &str) -> bool {
    Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// With the cross binutils installed, assemble and compile the sources
/// again, disassemble them with objdump, and compare with both our text and
/// the committed tables (so the tables are what objdump prints today).
#[test]
fn live_objdump_agrees_when_installed() {
    if !tool("aarch64-linux-gnu-objdump") || !tool("aarch64-linux-gnu-as") || !tool("aarch64-linux-gnu-ld") {
        eprintln!("aarch64-linux-gnu binutils not installed: the committed tables are checked instead");
        return;
    }
    let dir = std::env::temp_dir().join(format!("krash-arm64-disasm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/arm64/disasm/testdata");
    let run = |cmd: &mut Command| {
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    let objdump = |bin: &Path, base: &str| -> String {
        let out = run(Command::new("aarch64-linux-gnu-objdump")
            .args(["-D", "-b", "binary", "-m", "aarch64", &format!("--adjust-vma={base}")])
            .arg(bin));
        let text = String::from_utf8(out).unwrap();
        let mut table = String::new();
        for line in text.lines() {
            // "ffff800008010000:\td503233f \tpaciasp"
            let Some((addr, rest)) = line.trim_start().split_once(":\t") else { continue };
            let Some((word, insn)) = rest.split_once(" \t") else { continue };
            if addr.chars().all(|c| c.is_ascii_hexdigit()) && word.len() == 8 {
                table.push_str(&format!("{addr}\t{word}\t{insn}\n"));
            }
        }
        table
    };
    let forms_o = dir.join("forms.o");
    run(Command::new("aarch64-linux-gnu-as")
        .arg("-march=armv8.7-a+lse+crc+crypto+memtag+rcpc+pauth+sve")
        .arg(src.join("forms.s"))
        .arg("-o")
        .arg(&forms_o));
    let forms_elf = dir.join("forms.elf");
    run(Command::new("aarch64-linux-gnu-ld")
        .args(["-Ttext=0xffff800008010000", "-e", "forms"])
        .arg(&forms_o)
        .arg("-o")
        .arg(&forms_elf));
    let forms_bin = dir.join("forms.bin");
    run(Command::new("aarch64-linux-gnu-objcopy")
        .args(["-O", "binary", "-j", ".text"])
        .arg(&forms_elf)
        .arg(&forms_bin));
    let live = objdump(&forms_bin, "0xffff800008010000");
    assert_table("live forms", &live, 550);
    assert_eq!(live, FORMS, "testdata/forms.objdump is not what objdump prints: run testdata/gen.sh");

    if tool("aarch64-linux-gnu-gcc") {
        let kl_o = dir.join("kl.o");
        run(Command::new("aarch64-linux-gnu-gcc")
            .args([
                "-O2",
                "-mbranch-protection=standard",
                "-march=armv8.2-a+lse",
                "-mgeneral-regs-only",
                "-fno-stack-protector",
                "-ffreestanding",
                "-fno-builtin",
                "-fno-pic",
                "-fno-asynchronous-unwind-tables",
                "-c",
            ])
            .arg(src.join("kernel_like.c"))
            .arg("-o")
            .arg(&kl_o));
        let kl_elf = dir.join("kl.elf");
        run(Command::new("aarch64-linux-gnu-ld")
            .args(["-Ttext=0xffff800008100000", "-e", "_start"])
            .arg(&kl_o)
            .arg("-o")
            .arg(&kl_elf));
        let kl_bin = dir.join("kl.bin");
        run(Command::new("aarch64-linux-gnu-objcopy").args(["-O", "binary", "-j", ".text"]).arg(&kl_elf).arg(&kl_bin));
        let live = objdump(&kl_bin, "0xffff800008100000");
        // The compiler may differ from the one that made the table: compare
        // with objdump's text of whatever it produced.
        assert_table("live kernel_like", &live, 300);
    }

    // Every system-register, `sys`, hint, barrier and PSTATE encoding, and
    // pseudo-random words of the data-processing classes (immediate and
    // register), where every word must print as objdump prints it.
    let mut words: Vec<u32> = Vec::new();
    for rw in [0xd530_0000u32, 0xd510_0000] {
        words.extend((0..1u32 << 15).map(|enc| rw | (enc << 5)));
    }
    for rt in [0u32, 31] {
        words.extend((0..1u32 << 14).map(|enc| 0xd508_0000 | (enc << 5) | rt));
    }
    words.extend((0..1u32 << 14).map(|enc| 0xd528_0000 | (enc << 5)));
    words.extend((0..1u32 << 10).map(|i| 0xd500_401f | ((i >> 7) << 16) | (((i >> 3) & 15) << 8) | ((i & 7) << 5)));
    words.extend((0..1u32 << 8).map(|i| 0xd503_201f | ((i >> 7) << 8) | ((i & 127) << 5)));
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut classes = [0usize; 2];
    while classes.iter().any(|&n| n < 20_000) {
        let w = xorshift(&mut state);
        let op0 = (w >> 25) & 15;
        let class = if op0 & 14 == 8 {
            0
        } else if op0 & 7 == 5 {
            1
        } else {
            continue;
        };
        if classes[class] < 20_000 {
            classes[class] += 1;
            words.push(w);
        }
    }
    let bin = dir.join("words.bin");
    std::fs::write(&bin, words.iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
    let live = objdump(&bin, "0xffff800010000000");
    assert_table("live system spaces and data processing", &live, words.len() - 100);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A small xorshift generator: the same words on every run.
fn xorshift(state: &mut u64) -> u32 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state >> 16) as u32
}

#[test]
fn any_word_decodes_without_panic() {
    let decoder = Arm64Decoder;
    let mut words: Vec<u32> = Vec::new();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..(1 << 20) {
        words.push(xorshift(&mut state));
    }
    // The edges of every major opcode space (op0 = bits 28:25) and of the
    // classes within: all-zero and all-one fields around each op0.
    for op0 in 0..16u32 {
        for high in 0..8u32 {
            let top = (high << 29) | (op0 << 25);
            for low in [0u32, 0x1ff_ffff, 0x1f, 0x3e0, 0xfc00, 0x1f_0000, 0x1e0_0000, 0x155_5555, 0xaa_aaaa] {
                words.push(top | low);
            }
        }
    }
    words.extend([0, u32::MAX, 0x8000_0000, 0x7fff_ffff, 0xd503_201f, 0xd65f_03c0]);
    for (i, &word) in words.iter().enumerate() {
        let addr = 0xffff_8000_0800_0000u64.wrapping_add((i as u64) * 4);
        let text = format_word(word, addr, &symbolizer);
        assert!(!text.is_empty());
        let decoded = decoder.decode(&word.to_le_bytes(), addr);
        if let Some(d) = &decoded {
            assert_eq!(d.len, 4);
            assert_ne!(d.flow, FlowKind::Invalid);
        } else {
            assert!(text.starts_with(".inst\t"), "{word:08x}: {text}");
        }
        assert_eq!(details(word, addr).is_some(), decoded.is_some(), "{word:08x}");
    }
    // Addresses at the ends of the address space wrap instead of panicking.
    for word in [0x1400_0000u32 | 0x3ff_ffff, 0x17ff_ffff, 0x9000_0000 | 0x60ff_ffe0, 0x5400_0000 | 0x7f_ffe0] {
        for addr in [0, u64::MAX - 3, u64::MAX] {
            let _ = format_word(word, addr, &symbolizer);
            let _ = details(word, addr);
        }
    }
}

#[test]
fn disassemble_handles_partial_and_unaligned_input() {
    let mut bytes = Vec::new();
    let mut state = 0x1234_5678_9abc_def0u64;
    for _ in 0..4096 {
        bytes.extend_from_slice(&xorshift(&mut state).to_le_bytes());
    }
    bytes.extend_from_slice(&[0x1f, 0x20]);
    let insns = disassemble(&bytes, 0x1000, &symbolizer);
    assert_eq!(insns.len(), 4097);
    let last = insns.last().unwrap();
    assert_eq!((last.len, last.flow, last.text.as_str()), (2, FlowKind::Invalid, ".inst\t0x0000201f ; undefined"));
    assert!(disassemble(&[], 0, &symbolizer).is_empty());
    assert!(Arm64Decoder.decode(&[0x1f, 0x20, 0x03], 0).is_none());
}

fn one(word: u32, addr: u64) -> Instruction {
    Arm64Decoder.instruction(&word.to_le_bytes(), addr, &symbolizer).unwrap()
}

#[test]
fn branches_are_symbolized_as_gdb_prints_them() {
    // bl from 0xffff800008000000 to kmalloc_trace (+0x123450)
    let bl = one(0x9400_0000 | (0x123450 / 4), 0xffff_8000_0800_0000);
    assert_eq!(bl.text, "bl\t0xffff800008123450 <kmalloc_trace>");
    assert_eq!((bl.flow, bl.branch_target, bl.mnemonic.as_str()), (FlowKind::Call, Some(0xffff_8000_0812_3450), "bl"));
    // b.ne forward 40 bytes from foo
    let bne = one(0x5400_0001 | (10 << 5), 0xffff_8000_0800_1000);
    assert_eq!(bne.text, "b.ne\t0xffff800008001028 <foo+40>  // b.any");
    assert_eq!(bne.flow, FlowKind::ConditionalJump);
    // adrp to a page with a symbol
    // immhi:immlo = 0x1a3c pages (immlo = 0)
    let adrp = one(0x9000_0000 | ((0x1a3c >> 2) << 5), 0xffff_8000_0800_0ffc);
    assert_eq!(adrp.text, "adrp\tx0, 0xffff800009a3c000 <sym>");
    assert_eq!((adrp.flow, adrp.branch_target), (FlowKind::Sequential, None));
    // cbz x0 to foo+64, tbz, unknown target
    assert_eq!(one(0xb400_0000 | (16 << 5), 0xffff_8000_0800_1000).text, "cbz\tx0, 0xffff800008001040 <foo+64>");
    assert_eq!(one(0x3618_0040, 0x10_0000).text, "tbz\tw0, #3, 0x100008");
    assert_eq!(one(0xd65f_03c0, 0).text, "ret");
    assert_eq!(one(0xd503_233f, 0).text, "paciasp");
}

#[test]
fn flow_kinds() {
    let cases: &[(u32, FlowKind)] = &[
        (0x9400_0010, FlowKind::Call),
        (0xd63f_0100, FlowKind::IndirectCall),    // blr x8
        (0xd73f_0909, FlowKind::IndirectCall),    // blraa x8, x9
        (0xd63f_091f, FlowKind::IndirectCall),    // blraaz x8
        (0x1400_0010, FlowKind::Jump),            // b
        (0xd61f_0200, FlowKind::IndirectJump),    // br x16
        (0xd71f_0a11, FlowKind::IndirectJump),    // braa x16, x17
        (0x5400_0001, FlowKind::ConditionalJump), // b.ne
        (0xb400_0000, FlowKind::ConditionalJump), // cbz
        (0x3500_0001, FlowKind::ConditionalJump), // cbnz
        (0x3600_0000, FlowKind::ConditionalJump), // tbz
        (0x37f8_0001, FlowKind::ConditionalJump), // tbnz
        (0xd65f_03c0, FlowKind::Return),          // ret
        (0xd65f_0bff, FlowKind::Return),          // retaa
        (0xd65f_0fff, FlowKind::Return),          // retab
        (0xd69f_03e0, FlowKind::Return),          // eret
        (0xd69f_0bff, FlowKind::Return),          // eretaa
        (0xd400_0001, FlowKind::Interrupt),       // svc #0
        (0xd400_0002, FlowKind::Interrupt),       // hvc #0
        (0xd400_0003, FlowKind::Interrupt),       // smc #0
        (0xd421_0000, FlowKind::Trap),            // brk #0x800
        (0x0000_0000, FlowKind::Trap),            // udf #0
        (0xd440_0000, FlowKind::Trap),            // hlt #0
        (0xd503_201f, FlowKind::Sequential),      // nop
        (0xa9be_7bfd, FlowKind::Sequential),      // stp
    ];
    for &(word, flow) in cases {
        let d = Arm64Decoder.decode(&word.to_le_bytes(), 0x1000).unwrap_or_else(|| panic!("{word:08x}"));
        assert_eq!(d.flow, flow, "{word:08x} {}", d.mnemonic);
        let direct = matches!(flow, FlowKind::Call | FlowKind::Jump | FlowKind::ConditionalJump);
        assert_eq!(d.branch_target.is_some(), direct, "{word:08x}");
    }
    let undefined = disassemble(&0xffff_ffffu32.to_le_bytes(), 0, &no_symbols);
    assert_eq!((undefined[0].flow, undefined[0].text.as_str()), (FlowKind::Invalid, ".inst\t0xffffffff ; undefined"));
    assert!(Arm64Decoder.decode(&0xffff_ffffu32.to_le_bytes(), 0).is_none());
}

#[test]
fn decoder_properties_and_call_before_return_address() {
    let d = Arm64Decoder;
    assert_eq!((d.max_instruction_len(), d.alignment()), (4, 4));
    assert_eq!(d.syntax(), "as gdb prints it (GNU objdump syntax)");
    // A `bl` then a `blr x8`: their return addresses are the next words.
    let mut code = Vec::new();
    code.extend_from_slice(&0x9400_0010u32.to_le_bytes());
    code.extend_from_slice(&0xd63f_0100u32.to_le_bytes());
    code.extend_from_slice(&0xd503_201fu32.to_le_bytes());
    let call = d.call_ending_at(&code[..4], 0x1004).unwrap();
    assert_eq!((call.addr, call.branch_target), (0x1000, Some(0x1040)));
    let call = d.call_ending_at(&code[..8], 0x1008).unwrap();
    assert_eq!((call.addr, call.flow), (0x1004, FlowKind::IndirectCall));
    assert!(d.call_ending_at(&code[..12], 0x100c).is_none());
    assert!(d.call_ending_at(&code[..3], 0x1003).is_none());
}

#[test]
fn prologue_details() {
    let at = 0xffff_8000_0800_0000;
    // paciasp
    let p = details(0xd503_233f, at).unwrap();
    assert_eq!(p.mnemonic, "paciasp");
    assert_eq!((p.reads.as_slice(), p.writes.as_slice()), (&[Reg::X(30), Reg::Sp][..], &[Reg::X(30)][..]));
    // stp x29, x30, [sp, #-32]!
    let stp = details(0xa9be_7bfd, at).unwrap();
    let m = stp.memory.clone().unwrap();
    assert_eq!(
        (m.base, m.index, m.offset, m.writeback, m.size, m.access, m.transfer.as_slice()),
        (Reg::Sp, None, -32, Writeback::Pre, 8, MemAccess::Store, &[Reg::X(29), Reg::X(30)][..])
    );
    assert!(stp.reads_reg(Reg::X(29)) && stp.reads_reg(Reg::X(30)) && stp.reads_reg(Reg::Sp));
    assert_eq!(stp.writes, vec![Reg::Sp]);
    // mov x29, sp
    let mov = details(0x9100_03fd, at).unwrap();
    assert_eq!((mov.mnemonic.as_str(), mov.add_immediate), ("mov", Some(0)));
    assert_eq!((mov.reads.as_slice(), mov.writes.as_slice()), (&[Reg::Sp][..], &[Reg::X(29)][..]));
    // sub sp, sp, #0x40
    let sub = details(0xd101_03ff, at).unwrap();
    assert_eq!(
        (sub.add_immediate, sub.writes.as_slice(), sub.reads.as_slice()),
        (Some(-64), &[Reg::Sp][..], &[Reg::Sp][..])
    );
    // sub sp, sp, #0x1, lsl #12
    assert_eq!(details(0xd140_07ff, at).unwrap().add_immediate, Some(-4096));
    // stp x19, x20, [sp, #16]
    let m = details(0xa901_53f3, at).unwrap().memory.unwrap();
    assert_eq!((m.offset, m.writeback, m.transfer.as_slice()), (16, Writeback::None, &[Reg::X(19), Reg::X(20)][..]));
    // str x21, [sp, #32]
    let s = details(0xf900_13f5, at).unwrap();
    let m = s.memory.clone().unwrap();
    assert_eq!(
        (m.base, m.offset, m.size, m.access, m.transfer.as_slice()),
        (Reg::Sp, 32, 8, MemAccess::Store, &[Reg::X(21)][..])
    );
    assert!(s.writes.is_empty());
    // str x30, [sp, #-16]!
    let m = details(0xf81f_0ffe, at).unwrap().memory.unwrap();
    assert_eq!((m.offset, m.writeback), (-16, Writeback::Pre));
}

#[test]
fn epilogue_details() {
    let at = 0x1000;
    // ldp x29, x30, [sp], #32
    let ldp = details(0xa8c2_7bfd, at).unwrap();
    let m = ldp.memory.clone().unwrap();
    assert_eq!(
        (m.base, m.offset, m.writeback, m.access, m.transfer.as_slice()),
        (Reg::Sp, 32, Writeback::Post, MemAccess::Load, &[Reg::X(29), Reg::X(30)][..])
    );
    assert_eq!(m.address(0x8000, 0), 0x8000);
    assert_eq!(ldp.writes, vec![Reg::X(29), Reg::X(30), Reg::Sp]);
    assert_eq!(ldp.reads, vec![Reg::Sp]);
    // ldp x19, x20, [sp, #16]
    let m = details(0xa941_53f3, at).unwrap().memory.unwrap();
    assert_eq!((m.offset, m.writeback, m.address(0x8000, 0)), (16, Writeback::None, 0x8010));
    // autiasp, ret, retaa
    assert_eq!(details(0xd503_23bf, at).unwrap().writes, vec![Reg::X(30)]);
    let ret = details(0xd65f_03c0, at).unwrap();
    assert_eq!((ret.flow, ret.reads.as_slice()), (FlowKind::Return, &[Reg::X(30)][..]));
    assert_eq!(details(0xd65f_0bff, at).unwrap().reads, vec![Reg::X(30), Reg::Sp]);
    // ldr x30, [sp], #16
    let m = details(0xf841_07fe, at).unwrap().memory.unwrap();
    assert_eq!((m.offset, m.writeback, m.transfer.as_slice()), (16, Writeback::Post, &[Reg::X(30)][..]));
    // add sp, sp, #0x40
    assert_eq!(details(0x9101_03ff, at).unwrap().add_immediate, Some(64));
}

#[test]
fn other_details() {
    let at = 0x1000;
    // ldr x0, [x1, x2, lsl #3]
    let m = details(0xf862_7820, at).unwrap().memory.unwrap();
    assert_eq!(m.index, Some(IndexReg { reg: Reg::X(2), extend: Extend::Lsl, shift: 3 }));
    // ldrb w0, [x1, w2, uxtw]
    let d = details(0x3862_4820, at).unwrap();
    let m = d.memory.clone().unwrap();
    assert_eq!((m.size, m.index.unwrap().extend, m.index.unwrap().shift), (1, Extend::Uxtw, 0));
    assert_eq!(d.writes, vec![Reg::X(0)]);
    // ldrh w0, [x1, #2]!, ldrsw x0, [x1], #4
    assert_eq!(details(0x7840_2c20, at).unwrap().memory.unwrap().size, 2);
    assert_eq!(details(0xb880_4420, at).unwrap().memory.unwrap().size, 4);
    // ldp q0, q1, [x0, #32]
    let m = details(0xad41_0400, at).unwrap().memory.unwrap();
    assert_eq!((m.size, m.transfer.as_slice()), (16, &[Reg::V(0), Reg::V(1)][..]));
    // ldr x0, <literal> at 0x1000 + 8
    let d = details(0x5800_0040, at).unwrap();
    let m = d.memory.clone().unwrap();
    assert_eq!((m.base, m.offset, d.pc_relative), (Reg::Pc, 8, Some(0x1008)));
    // ldadd x0, x1, [x2]; stadd w0, [x2]; cas x0, x1, [x2]; stxr w2, x0, [x1]
    let d = details(0xf820_0041, at).unwrap();
    assert_eq!(
        (d.memory.as_ref().unwrap().access, d.reads.as_slice(), d.writes.as_slice()),
        (MemAccess::LoadStore, &[Reg::X(0), Reg::X(2)][..], &[Reg::X(1)][..])
    );
    let d = details(0xb820_005f, at).unwrap();
    assert_eq!(
        (d.mnemonic.as_str(), d.memory.as_ref().unwrap().size, d.writes.as_slice()),
        ("stadd", 4, &[Reg::Zr][..])
    );
    let d = details(0xc8a0_7c41, at).unwrap();
    assert_eq!((d.reads.as_slice(), d.writes.as_slice()), (&[Reg::X(0), Reg::X(1), Reg::X(2)][..], &[Reg::X(0)][..]));
    let d = details(0xc802_7c20, at).unwrap();
    assert_eq!((d.writes.as_slice(), d.memory.unwrap().transfer.as_slice()), (&[Reg::X(2)][..], &[Reg::X(0)][..]));
    // mrs x0, sp_el0 / msr sp_el0, x0
    let d = details(0xd538_4100, at).unwrap();
    assert_eq!((d.reads.as_slice(), d.writes.as_slice()), (&[Reg::Sys(0xc208)][..], &[Reg::X(0)][..]));
    assert_eq!(details(0xd518_4100, at).unwrap().writes, vec![Reg::Sys(0xc208)]);
    // cmp x0, x1 writes the flags (and the zero register), b.ne reads them
    let d = details(0xeb01_001f, at).unwrap();
    assert_eq!((d.mnemonic.as_str(), d.writes.as_slice()), ("cmp", &[Reg::Zr, Reg::Nzcv][..]));
    assert_eq!(details(0x5400_0001, at).unwrap().reads, vec![Reg::Nzcv]);
    // bl writes x30; blr x8 reads x8; adrp reads pc
    assert_eq!(details(0x9400_0010, at).unwrap().writes, vec![Reg::X(30)]);
    assert_eq!(details(0xd63f_0100, at).unwrap().reads, vec![Reg::X(8)]);
    let d = details(0x9000_0000, at).unwrap();
    assert_eq!((d.pc_relative, d.writes.as_slice()), (Some(0x1000), &[Reg::X(0)][..]));
    // movk reads its destination
    assert!(details(0xf2a2_4680, at).unwrap().reads_reg(Reg::X(0)));
    // DWARF numbers
    assert_eq!(
        (Reg::X(29).dwarf(), Reg::Sp.dwarf(), Reg::Zr.dwarf(), Reg::V(1).dwarf()),
        (Some(29), Some(31), None, Some(65))
    );
    assert!(details(0xffff_ffff, at).is_none());
}
