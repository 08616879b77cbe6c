// Test code: real-kernel checks index known data, and a panic is a test
// failure, so the untrusted-input lints do not apply.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing, clippy::single_range_in_vec_init)]
//! The kallsyms scanner on the lab kernels' vmlinux images (sections served
//! as memory): it must find the tables where the ELF symbol table says they
//! are, and decode to System.map.
mod common;

use std::time::Instant;

use krash_debuginfo::{read_kallsyms, scan_kallsyms, ElfMemory, KallsymsLayout, SymbolTable};

#[test]
fn scan_finds_the_tables_the_symbol_table_names() {
    let mut compared = 0;
    for kv in common::KERNELS {
        let Some(path) = common::vmlinux(kv) else { continue };
        let map = common::mmap(&path);
        let symtab = SymbolTable::from_elf(&map).unwrap();
        let memory = ElfMemory::new(&map).unwrap();
        let addr = |name: &str| symtab.by_name(name).unwrap_or_else(|| panic!("{kv}: no {name}")).addr;

        // The whole image from _stext: text first, as a caller knowing only
        // VMCOREINFO's _stext would search it.
        let t0 = Instant::now();
        let scan = scan_kallsyms(&memory, &[addr("_stext")..addr("_end")]).unwrap();
        let elapsed = t0.elapsed();
        let loc = scan.location;
        assert_eq!(loc.token_table, addr("kallsyms_token_table"), "{kv}");
        assert_eq!(loc.token_index, addr("kallsyms_token_index"), "{kv}");
        assert_eq!(loc.names, addr("kallsyms_names"), "{kv}");
        assert_eq!(loc.num_syms, addr("kallsyms_num_syms"), "{kv}");
        assert_eq!(loc.offsets, addr("kallsyms_offsets"), "{kv}");
        assert_eq!(loc.relative_base, symtab.by_name("kallsyms_relative_base").map(|s| s.addr), "{kv}");
        assert_eq!(scan.markers, addr("kallsyms_markers"), "{kv}");
        assert_eq!(scan.seqs_of_names, symtab.by_name("kallsyms_seqs_of_names").map(|s| s.addr), "{kv}");
        let expected_layout = if loc.relative_base.is_none() {
            KallsymsLayout::PcRelative
        } else if loc.offsets < loc.names {
            KallsymsLayout::OffsetsFirst { seqs_of_names: scan.seqs_of_names.is_some() }
        } else {
            KallsymsLayout::TokensFirst
        };
        assert_eq!(scan.layout, expected_layout, "{kv}");
        println!("{kv}: {} layout, {} bytes searched in {elapsed:?}", scan.layout, scan.bytes_searched);

        // Decoded through the scan's location: System.map's count and addresses.
        let kallsyms = read_kallsyms(&loc, &memory).unwrap();
        assert_eq!(kallsyms.len(), scan.num_syms as usize, "{kv}");
        let sysmap = common::read_system_map(&common::system_map(kv).unwrap());
        for name in ["_stext", "schedule", "panic", "jiffies", "init_task", "__start_BTF", "__stop_BTF", "runqueues"] {
            let (want, _, _) = sysmap.iter().find(|(_, _, n)| n == name).unwrap();
            assert!(kallsyms.all_by_name(name).any(|s| s.addr == *want), "{kv}: {name} is not at {want:#x}");
        }
        let mut text = 0;
        for (want, kind, name) in sysmap.iter().filter(|(_, k, _)| matches!(k, 'T' | 't')) {
            let hit = kallsyms.all_by_name(name).find(|s| s.addr == *want);
            assert!(hit.is_some_and(|s| s.kind == *kind), "{kv}: text symbol {name} at {want:#x}");
            text += 1;
        }
        assert!(text > 10_000, "{kv}: only {text} text symbols in System.map");
        compared += 1;
    }
    krash_labtest::assert_compared(compared, "kallsyms scan of lab vmlinux images");
}
