//! Formatting checks on hand-made byte sequences; the expected text is
//! what gdb 13 prints for the same bytes.

use super::*;

fn symbolizer(addr: u64) -> Option<(String, u64)> {
    match addr {
        0x1000..=0x1fff => Some(("func".to_string(), addr - 0x1000)),
        0x9000..=0x9fff => Some(("var".to_string(), addr - 0x9000)),
        _ => None,
    }
}

fn text(bytes: &[u8]) -> Vec<String> {
    disassemble(bytes, 0x1000, &symbolizer).into_iter().map(|i| i.text).collect()
}

#[test]
fn common_instructions_print_as_gdb() {
    let cases: &[(&[u8], &str)] = &[
        (&[0x55], "push   %rbp"),
        (&[0x48, 0x89, 0xe5], "mov    %rsp,%rbp"),
        (&[0x0f, 0x1f, 0x44, 0x00, 0x00], "nopl   0x0(%rax,%rax,1)"),
        (&[0x48, 0x83, 0xec, 0x50], "sub    $0x50,%rsp"),
        (&[0x48, 0x89, 0x4c, 0x24, 0x38], "mov    %rcx,0x38(%rsp)"),
        (&[0x80, 0x7c, 0x02, 0xff, 0x0a], "cmpb   $0xa,-0x1(%rdx,%rax,1)"),
        (&[0x83, 0xc8, 0xff], "or     $0xffffffff,%eax"),
        (&[0x48, 0x98], "cltq"),
        (&[0xf3, 0xab], "rep stos %eax,%es:(%rdi)"),
        (&[0x48, 0xd1, 0xe8], "shr    %rax"),
        (&[0xec], "in     (%dx),%al"),
        (&[0x48, 0x69, 0xff, 0x67, 0x66, 0x66, 0x66], "imul   $0x66666667,%rdi,%rdi"),
        (&[0xff, 0x77, 0x28], "push   0x28(%rdi)"),
        (&[0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00], "data16 cs nopw 0x0(%rax,%rax,1)"),
    ];
    for (bytes, expected) in cases {
        assert_eq!(text(bytes), vec![expected.to_string()], "bytes {bytes:02x?}");
    }
}

#[test]
fn branches_and_rip_relative_operands_are_symbolized() {
    // call to 0x1000 + 5 + 0x10 = 0x1015
    let insns = disassemble(&[0xe8, 0x10, 0x00, 0x00, 0x00], 0x1000, &symbolizer);
    assert_eq!(insns[0].text, "call   0x1015 <func+21>");
    assert_eq!(insns[0].branch_target, Some(0x1015));
    assert_eq!(insns[0].mnemonic, "call");
    // mov 0x7ff9(%rip),%rax at 0x1000, length 7: target 0x9000
    let insns = disassemble(&[0x48, 0x8b, 0x05, 0xf9, 0x7f, 0x00, 0x00], 0x1000, &symbolizer);
    assert_eq!(insns[0].text, "mov    0x7ff9(%rip),%rax        # 0x9000 <var>");
    // indirect call through memory: gdb prints no size suffix
    let insns = disassemble(&[0xff, 0x15, 0xfa, 0x7f, 0x00, 0x00], 0x1000, &symbolizer);
    assert_eq!(insns[0].text, "call   *0x7ffa(%rip)        # 0x9000 <var>");
    // retpoline-style call with a cs prefix
    let insns = disassemble(&[0x2e, 0xe8, 0x00, 0x00, 0x00, 0x00], 0x1000, &symbolizer);
    assert_eq!(insns[0].text, "cs call 0x1006 <func+6>");
}

#[test]
fn prefixes_and_invalid_bytes() {
    assert_eq!(address_prefix(0x1017, &symbolizer), "0x1017 <func+23>:");
    assert_eq!(address_prefix(0x1000, &symbolizer), "0x1000 <func>:");
    assert_eq!(address_prefix(0x5000, &symbolizer), "0x5000:");
    let insns = disassemble(&[0x06, 0x90], 0x1000, &symbolizer);
    assert_eq!(insns[0].text, "(bad)");
    assert_eq!(insns[0].len, 1);
    assert_eq!(insns[1].text, "nop");
    // A truncated instruction at the end is one byte of (bad), not a panic.
    let insns = disassemble(&[0x48, 0x8b], 0x1000, &symbolizer);
    assert_eq!(insns.len(), 2);
}

#[test]
fn details_name_registers_and_memory_operands() {
    let instr = decode_one(&[0x48, 0x89, 0x4c, 0x24, 0x38], 0x1000).unwrap();
    let details = instruction_details(&instr);
    assert!(details.reads().any(|r| r == iced_x86::Register::RCX));
    assert!(details.reads().any(|r| r == iced_x86::Register::RSP));
    assert_eq!(details.memory.len(), 1);
    let mem = details.memory[0];
    assert_eq!(mem.base, iced_x86::Register::RSP);
    assert_eq!(mem.displacement, 0x38);
    assert!(mem.written);
    assert!(decode_one(&[0x48], 0).is_none());
}
