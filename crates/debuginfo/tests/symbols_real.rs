mod common;

use krash_debuginfo::SymbolTable;
use std::time::Instant;

#[test]
fn vmlinux_symtab_matches_system_map() {
    for kv in common::KERNELS {
        let Some(path) = common::vmlinux(kv) else { continue };
        let map = common::mmap(&path);
        let _ = SymbolTable::from_elf(&map).unwrap(); // warm the page cache
        let t0 = Instant::now();
        let table = SymbolTable::from_elf(&map).unwrap();
        let elapsed = t0.elapsed();
        println!("{kv}: {} symbols loaded in {:?}", table.len(), elapsed);

        let sysmap = common::read_system_map(&common::system_map(kv).unwrap());
        let mut mismatched_letters = 0;
        for (addr, kind, name) in &sysmap {
            let found = table.all_by_name(name).find(|s| s.addr == *addr);
            let sym = found.unwrap_or_else(|| panic!("{kv}: {name} at {addr:#x} not in .symtab"));
            if sym.kind != *kind {
                mismatched_letters += 1;
                if mismatched_letters < 10 {
                    println!("{kv}: {name}: letter {} vs System.map {}", sym.kind, kind);
                }
            }
        }
        println!("{kv}: {} System.map entries, {mismatched_letters} letter mismatches", sysmap.len());
        assert!(mismatched_letters * 1000 < sysmap.len(), "too many letter mismatches");

        let schedule = table.by_name("schedule").unwrap();
        assert_eq!(schedule.kind, 'T');
        let (s, off) = table.by_addr(schedule.addr + 5).unwrap();
        assert_eq!((s.name, off), ("schedule", 5));
        let shifted = table.with_offset(0x2200_0000);
        let (s, off) = shifted.by_addr(schedule.addr + 0x2200_0000 + 7).unwrap();
        assert_eq!((s.name, off), ("schedule", 7));
        // Text addresses resolve to a text symbol, as crash would print them.
        let (s, _) = table.by_addr(table.by_name("_stext").unwrap().addr).unwrap();
        assert!(s.is_text(), "{s}");
    }
}
