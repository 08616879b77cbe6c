// Test code: fixtures and real-kernel checks index known data, and a
// panic is a test failure, so the untrusted-input lints do not apply.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod common;

use krash_debuginfo::{OrcFormat, OrcReg, OrcTable, OrcType, SymbolTable};
use std::time::Instant;

/// The ORC layout of each lab kernel: the flags moved in 6.4, the
/// register numbers in 7.x.
fn expected_format(kv: &str) -> OrcFormat {
    match krash_labtest::KERNELS.iter().position(|k| *k == kv) {
        Some(0 | 1) => OrcFormat::BEFORE_6_4,
        Some(2) => OrcFormat::SINCE_6_4,
        Some(3) => OrcFormat::SINCE_7,
        _ => panic!("{kv}: not a lab kernel"),
    }
}

#[test]
fn vmlinux_orc_entries_are_sensible() {
    for kv in common::KERNELS {
        let Some(path) = common::vmlinux(kv) else {
            continue;
        };
        let map = common::mmap(&path);
        let t0 = Instant::now();
        let orc = OrcTable::from_vmlinux(&map).unwrap();
        println!("{kv}: {} ORC entries ({:?}) in {:?}", orc.len(), orc.format(), t0.elapsed());
        let expected_format = expected_format(kv);
        // The file tells the flag layout (.orc_header); the register
        // numbering only the table itself (the probe below).
        assert_eq!(orc.format().flags, expected_format.flags, "{kv}");
        let symbols = SymbolTable::from_elf(&map).unwrap();
        // The table alone, checked at every function's first instruction,
        // tells the same format.
        let starts: Vec<u64> = symbols.iter().filter(|s| s.is_text()).map(|s| s.addr).collect();
        let probe = orc.probe_format(&starts, None).unwrap();
        println!("{kv}: format probe: {probe:?}");
        assert_eq!(probe.format, expected_format);
        let orc = orc.with_format(probe.format);

        for func in ["schedule", "panic", "do_syscall_64", "__schedule", "vfs_read"] {
            let addr = symbols.by_name(func).unwrap().addr;
            let entry = orc.find(addr).unwrap();
            println!("{kv}: {func}: {entry:?}");
            // At a function's first instruction only the return address is on the stack.
            assert_eq!((entry.kind, entry.sp_reg, entry.sp_offset), (OrcType::Call, OrcReg::Sp, 8), "{func}");
            assert!(!entry.signal);
            // Somewhere inside the body the frame has grown.
            let size = symbols.by_name(func).unwrap().size;
            let grown =
                (1..size).filter_map(|off| orc.find(addr + off)).any(|e| e.sp_offset > 8 || e.sp_reg == OrcReg::Bp);
            assert!(grown, "{func}: no entry with a grown frame");
        }

        let hwframe = symbols.by_name("entry_SYSCALL_64_after_hwframe").unwrap().addr;
        let entry = orc.find(hwframe).unwrap();
        println!("{kv}: entry_SYSCALL_64_after_hwframe: {entry:?}");
        assert!(matches!(entry.kind, OrcType::Regs | OrcType::RegsPartial | OrcType::EndOfStack | OrcType::Undefined));

        // A new task's stack starts where fork returns: unwinding ends
        // there. 6.1's ret_from_fork is that assembly; 6.4+ moved it to
        // ret_from_fork_asm, which calls the C function ret_from_fork.
        let entry_of = |name: &str| orc.find(symbols.by_name(name).unwrap().addr).unwrap();
        let ret_from_fork = entry_of("ret_from_fork");
        println!("{kv}: ret_from_fork: {ret_from_fork:?}");
        if expected_format == OrcFormat::BEFORE_6_4 {
            assert_eq!(ret_from_fork.kind, OrcType::EndOfStack, "{kv}: ret_from_fork");
        } else {
            assert_eq!(
                (ret_from_fork.kind, ret_from_fork.sp_reg, ret_from_fork.sp_offset),
                (OrcType::Call, OrcReg::Sp, 8)
            );
            assert_eq!(entry_of("ret_from_fork_asm").kind, OrcType::EndOfStack, "{kv}: ret_from_fork_asm");
        }

        // KASLR view finds the same entry at the shifted address.
        let shifted = orc.with_offset(0x1e00_0000);
        let addr = symbols.by_name("schedule").unwrap().addr;
        let plain = orc.find(addr).unwrap();
        let moved = shifted.find(addr + 0x1e00_0000).unwrap();
        assert_eq!(moved, krash_debuginfo::OrcEntry { ip: plain.ip + 0x1e00_0000, ..plain });
    }
}

/// A module's ORC table as the kernel sees it after loading: the `.ko`'s
/// `.orc_unwind_ip` relocated against a made-up section layout.
#[test]
fn module_orc_after_relocation() {
    use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget};
    for kv in common::KERNELS {
        let Some(ko) = krash_labtest::kernel_module(kv, "net/key/af_key.ko") else {
            continue;
        };
        let bytes = std::fs::read(&ko).unwrap_or_else(|e| panic!("{}: {e}", ko.display()));
        let file = object::File::parse(&*bytes).unwrap();
        // Lay the sections out one page apart.
        let base = 0xffff_ffff_c000_0000u64;
        let section_addr = |index: object::SectionIndex| base + 0x10_0000 * index.0 as u64;
        let ip_section = file.section_by_name(".orc_unwind_ip").unwrap();
        let ip_addr = section_addr(ip_section.index());
        let mut ips = ip_section.data().unwrap().to_vec();
        for (offset, reloc) in ip_section.relocations() {
            let RelocationTarget::Symbol(sym) = reloc.target() else { panic!("unexpected target") };
            let sym = file.symbol_by_index(sym).unwrap();
            let target = section_addr(sym.section_index().unwrap()) + sym.address();
            let place = ip_addr + offset;
            let value = target.wrapping_add(reloc.addend() as u64).wrapping_sub(place) as i32;
            ips[offset as usize..offset as usize + 4].copy_from_slice(&value.to_le_bytes());
        }
        let unwind = file.section_by_name(".orc_unwind").unwrap().data().unwrap().to_vec();
        let format =
            if file.section_by_name(".orc_header").is_some() { OrcFormat::SINCE_6_4 } else { OrcFormat::BEFORE_6_4 };
        let orc = OrcTable::from_tables(ip_addr, &ips, &unwind, format).unwrap();
        let starts: Vec<u64> = file
            .symbols()
            .filter(|s| s.kind() == object::SymbolKind::Text && s.size() > 0)
            .filter_map(|s| Some(section_addr(s.section_index()?) + s.address()))
            .collect();
        assert_eq!(format.flags, expected_format(kv).flags, "{kv}");
        let format = orc.probe_format(&starts, None).unwrap().format;
        assert_eq!(format, expected_format(kv), "{kv}");
        let orc = orc.with_format(format);

        let (mut at_entry, mut functions) = (0, 0);
        for sym in file.symbols().filter(|s| s.kind() == object::SymbolKind::Text && s.size() > 0) {
            let Some(section) = sym.section_index() else {
                continue;
            };
            let addr = section_addr(section) + sym.address();
            functions += 1;
            if let Some(e) = orc.find(addr) {
                if (e.kind, e.sp_reg, e.sp_offset) == (OrcType::Call, OrcReg::Sp, 8) {
                    at_entry += 1;
                }
            }
        }
        println!(
            "{kv}: af_key.ko: {} ORC entries, {at_entry}/{functions} functions start with a plain call frame",
            orc.len()
        );
        assert!(at_entry * 10 >= functions * 9, "{at_entry}/{functions}");
    }
}
