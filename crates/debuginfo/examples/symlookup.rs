//! Prints how krash resolves addresses, one `sym`-style line per input
//! address (for comparing with crash): `symlookup VMLINUX KASLR_DELTA < addrs`.
use std::io::BufRead;

use krash_debuginfo::SymbolTable;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, vmlinux, delta] = args.as_slice() else {
        eprintln!("usage: symlookup VMLINUX KASLR_DELTA_HEX < addresses");
        std::process::exit(2);
    };
    let delta = u64::from_str_radix(delta.trim_start_matches("0x"), 16).expect("hex delta");
    let table = match SymbolTable::load_elf_file(std::path::Path::new(vmlinux)) {
        Ok(t) => t.with_offset(delta),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        let Ok(addr) = u64::from_str_radix(line.trim().trim_start_matches("0x"), 16) else {
            continue;
        };
        match table.by_addr(addr) {
            Some((sym, 0)) => println!("{addr:x} ({}) {}", sym.kind, sym.crash_name()),
            Some((sym, off)) => println!("{addr:x} ({}) {}+{off}", sym.kind, sym.crash_name()),
            None => println!("{addr:x} -"),
        }
    }
}
