//! Prints a function the way gdb's `x/Ni FUNC` does, for comparing:
//! `dis_compare VMLINUX FUNC`.

#[path = "../tests/common/mod.rs"]
mod common;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = std::path::PathBuf::from(args.next().expect("vmlinux"));
    let symbols = common::Symbols::load(&path);
    let dwarf = krash_dwarf::DwarfFile::open(&path).expect("dwarf");
    for func in args {
        let (start, size) = symbols.by_name(&func).expect("symbol");
        let bytes = symbols.bytes_at(start, size);
        let lookup = |a: u64| symbols.gdb_symbolize(&dwarf, a);
        for insn in krash_arch::disasm::disassemble(&bytes, start, &lookup) {
            let prefix = krash_arch::disasm::address_prefix(insn.addr, &lookup);
            println!("   {prefix}\t{}", insn.text);
        }
    }
}
