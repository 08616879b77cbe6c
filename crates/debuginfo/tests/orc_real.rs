mod common;

use krash_debuginfo::{OrcFormat, OrcReg, OrcTable, OrcType, SymbolTable};
use std::time::Instant;

#[test]
fn vmlinux_orc_entries_are_sensible() {
    for kv in common::KERNELS {
        let Some(path) = common::vmlinux(kv) else { continue };
        let map = common::mmap(&path);
        let t0 = Instant::now();
        let orc = OrcTable::from_vmlinux(&map).unwrap();
        println!("{kv}: {} ORC entries ({:?}) in {:?}", orc.len(), orc.format(), t0.elapsed());
        let expected_format = if kv.starts_with("6.1.") { OrcFormat::Legacy } else { OrcFormat::V6_4 };
        assert_eq!(orc.format(), expected_format);
        let symbols = SymbolTable::from_elf(&map).unwrap();

        for func in ["schedule", "panic", "do_syscall_64", "__schedule", "vfs_read"] {
            let addr = symbols.by_name(func).unwrap().addr;
            let entry = orc.find(addr).unwrap();
            println!("{kv}: {func}: {entry:?}");
            // At a function's first instruction only the return address is on the stack.
            assert_eq!((entry.kind, entry.sp_reg, entry.sp_offset), (OrcType::Call, OrcReg::Sp, 8), "{func}");
            assert!(!entry.signal);
            // Somewhere inside the body the frame has grown.
            let size = symbols.by_name(func).unwrap().size;
            let grown = (1..size).filter_map(|off| orc.find(addr + off)).any(|e| e.sp_offset > 8 || e.sp_reg == OrcReg::Bp);
            assert!(grown, "{func}: no entry with a grown frame");
        }

        let hwframe = symbols.by_name("entry_SYSCALL_64_after_hwframe").unwrap().addr;
        let entry = orc.find(hwframe).unwrap();
        println!("{kv}: entry_SYSCALL_64_after_hwframe: {entry:?}");
        assert!(matches!(entry.kind, OrcType::Regs | OrcType::RegsPartial | OrcType::EndOfStack | OrcType::Undefined));

        let ret_from_fork = symbols.by_name("ret_from_fork").unwrap().addr;
        println!("{kv}: ret_from_fork: {:?}", orc.find(ret_from_fork));

        // KASLR view finds the same entry at the shifted address.
        let shifted = orc.with_offset(0x1e00_0000);
        let addr = symbols.by_name("schedule").unwrap().addr;
        let plain = orc.find(addr).unwrap();
        let moved = shifted.find(addr + 0x1e00_0000).unwrap();
        assert_eq!(moved, krash_debuginfo::OrcEntry { ip: plain.ip + 0x1e00_0000, ..plain });
    }
}
