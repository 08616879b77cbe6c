// Test code: fixtures and real-kernel checks index known data, and a
// panic is a test failure, so the untrusted-input lints do not apply.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod common;

use std::time::Instant;

use krash_debuginfo::{read_kallsyms, ElfMemory, KallsymsLocation, SymbolTable};

/// Decodes kallsyms out of the vmlinux image itself (sections served as
/// memory) and checks it against System.map.
#[test]
fn kallsyms_decoded_from_vmlinux_match_system_map() {
    for kv in common::KERNELS {
        let Some(path) = common::vmlinux(kv) else {
            continue;
        };
        let map = common::mmap(&path);
        let symtab = SymbolTable::from_elf(&map).unwrap();
        let memory = ElfMemory::new(&map).unwrap();
        let loc = KallsymsLocation::from_symbols(&symtab).unwrap();
        let t0 = Instant::now();
        let kallsyms = read_kallsyms(&loc, &memory).unwrap();
        println!("{kv}: {} kallsyms decoded in {:?}", kallsyms.len(), t0.elapsed());

        let sysmap = common::read_system_map(&common::system_map(kv).unwrap());
        let mut text = 0;
        for (addr, kind, name) in sysmap.iter().filter(|(_, k, _)| matches!(k, 'T' | 't')) {
            let hit = kallsyms.all_by_name(name).find(|s| s.addr == *addr);
            let sym = hit.unwrap_or_else(|| panic!("{kv}: text symbol {name} at {addr:#x} missing from kallsyms"));
            assert_eq!(sym.kind, *kind, "{kv}: {name}");
            text += 1;
        }
        println!("{kv}: all {text} System.map text symbols found with the same address and letter");
        assert!(text > 10_000, "{kv}: only {text} text symbols in System.map");
        // Data and per-cpu symbols too (KALLSYMS_ALL, absolute per-cpu values).
        let jiffies = kallsyms.by_name("jiffies").unwrap();
        assert_eq!(Some(jiffies.addr), symtab.by_name("jiffies").map(|s| s.addr));
        let runqueues = kallsyms.by_name("runqueues").unwrap();
        assert_eq!(Some(runqueues.addr), symtab.by_name("runqueues").map(|s| s.addr));
        // Zero-based per-cpu symbols (up to 6.12) are small absolute values;
        // 7.2's are image addresses like any other.
        if symtab.by_name("__per_cpu_start").is_some_and(|s| s.addr == 0) {
            assert!(runqueues.addr < 0x10_0000, "per-cpu offset expected, got {:#x}", runqueues.addr);
        }
        let (sym, off) = kallsyms.by_addr(symtab.by_name("schedule").unwrap().addr + 3).unwrap();
        assert_eq!((sym.name, off), ("schedule", 3));
    }
}
