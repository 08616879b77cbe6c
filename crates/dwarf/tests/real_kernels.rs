//! Tests on the lab kernels' real vmlinux files (skipped when absent).
// Test code: fixtures and real-kernel checks index known data, and a
// panic is a test failure, so the untrusted-input lints do not apply.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

mod common;

use std::process::Command;
use std::time::Instant;

use object::{Object as _, ObjectSection as _, ObjectSymbol as _};

use krash_dwarf::{DwarfFile, FuncOffset};

const DISASSEMBLED: [&str; 9] = [
    "panic",
    "__schedule",
    "schedule",
    "do_exit",
    "entry_SYSCALL_64",
    "vfs_read",
    "__memmove",
    "error_entry",
    "_raw_spin_lock",
];

#[test]
fn known_functions_resolve_to_their_files_and_first_lookup_is_fast() {
    for kv in common::KERNELS {
        let Some(path) = common::vmlinux(kv) else { continue };
        let symbols = common::Symbols::load(&path);
        let t = Instant::now();
        let dwarf = DwarfFile::open(&path).unwrap();
        let open = t.elapsed();
        let (panic, _) = symbols.by_name("panic").unwrap();
        let t = Instant::now();
        let line = dwarf.lines(panic).unwrap().unwrap();
        let first = t.elapsed();
        eprintln!("{kv}: open {open:?}, first line lookup {first:?}");
        assert!(first.as_millis() < 1000, "first lookup took {first:?}");
        assert_eq!(line.relative, "kernel/panic.c");
        assert!(line.file.ends_with("kernel/panic.c"));
        let (schedule, size) = symbols.by_name("__schedule").unwrap();
        let frames = dwarf.frames(schedule + size / 2).unwrap();
        let outermost = frames.last().unwrap();
        assert_eq!(outermost.function, "__schedule");
        assert_eq!(outermost.location.as_ref().unwrap().relative, "kernel/sched/core.c");
        let frames = dwarf.frames(schedule).unwrap();
        assert_eq!(frames[0].function, "__schedule");
    }
}

#[test]
fn inline_chains_match_binutils_addr2line() {
    if Command::new("addr2line").arg("--version").output().is_err() {
        eprintln!("skipping: no addr2line");
        return;
    }
    for kv in common::KERNELS {
        let Some(path) = common::vmlinux(kv) else { continue };
        let symbols = common::Symbols::load(&path);
        let dwarf = DwarfFile::open(&path).unwrap();
        let (start, size) = symbols.by_name("__schedule").unwrap();
        let addrs: Vec<u64> = (0..40).map(|i| start + i * size / 40).collect();
        let out = Command::new("addr2line")
            .arg("-fie")
            .arg(&path)
            .args(addrs.iter().map(|a| format!("{a:x}")))
            .output()
            .unwrap();
        let expected = without_discriminators(&String::from_utf8(out.stdout).unwrap());
        let mut ours = String::new();
        let mut saw_chain = false;
        for &addr in &addrs {
            let frames = dwarf.frames(addr).unwrap();
            saw_chain |= frames.len() > 1;
            for frame in frames {
                let loc = frame.location.unwrap();
                ours.push_str(&format!("{}\n{}:{}\n", frame.function, loc.file, loc.line));
            }
        }
        assert!(saw_chain, "{kv}: no inlined site in __schedule?");
        assert_eq!(ours, expected, "{kv}");
    }
}

#[test]
fn line_boundaries_cover_a_function() {
    for kv in common::KERNELS {
        let Some(path) = common::vmlinux(kv) else { continue };
        let symbols = common::Symbols::load(&path);
        let dwarf = DwarfFile::open(&path).unwrap();
        // A big function on every kernel (7.x's panic is a thin wrapper of vpanic).
        let (start, size) = symbols.by_name("__schedule").unwrap();
        let table = dwarf.line_table_for_range(start, start + size).unwrap();
        assert!(table.len() > 10, "{kv}: {} boundaries", table.len());
        assert_eq!(table[0].addr, start);
        assert!(table.windows(2).all(|w| w[0].addr < w[1].addr));
        for b in table.iter().take(20) {
            assert_eq!(dwarf.lines(b.addr).unwrap().as_ref(), Some(&b.line));
        }
    }
}

#[test]
fn function_parameters_and_faddr2line() {
    for kv in common::KERNELS {
        let Some(path) = common::vmlinux(kv) else { continue };
        let symbols = common::Symbols::load(&path);
        let dwarf = DwarfFile::open(&path).unwrap();
        let (start, size) = symbols.by_name("panic").unwrap();
        let function = dwarf.function_at(start + 0x20).unwrap().unwrap();
        assert_eq!(function.name, "panic");
        assert_eq!(function.entry_pc, start);
        let fmt = function.parameters.iter().find(|p| p.name == "fmt").unwrap();
        assert_eq!(fmt.type_name, "const char *");
        assert!(!function.locals.is_empty());

        let spec: FuncOffset = format!("panic+0x20/{size:#x}").parse().unwrap();
        let resolved = dwarf.faddr2line(start, size, &spec).unwrap();
        assert_eq!(resolved.addr, start + 0x20);
        assert!(resolved.render().starts_with("panic at kernel/panic.c:"));
        let wrong: FuncOffset = format!("panic+0x20/{:#x}", size + 1).parse().unwrap();
        assert!(dwarf.faddr2line(start, size, &wrong).is_err());
    }
}

/// Registers and memory of a fake frame for location evaluation.
struct FakeFrame;

impl krash_dwarf::RegisterAndMemory for FakeFrame {
    fn register(&self, regno: u16) -> Option<u64> {
        Some(0x1000 + u64::from(regno))
    }
    fn read(&self, _addr: u64, buf: &mut [u8]) -> krash_core::Result<()> {
        buf.fill(0xaa);
        Ok(())
    }
    fn call_frame_cfa(&self) -> Option<u64> {
        Some(0xffffc90000001000)
    }
}

#[test]
fn parameters_evaluate_at_function_entry() {
    for kv in common::KERNELS {
        let Some(path) = common::vmlinux(kv) else { continue };
        let symbols = common::Symbols::load(&path);
        let dwarf = DwarfFile::open(&path).unwrap();
        let (start, _) = symbols.by_name("vfs_read").unwrap();
        // Past the fentry call, the arguments are still in their ABI registers.
        let pc = start + 5;
        let function = dwarf.function_at(pc).unwrap().unwrap();
        let file = function.parameters.iter().find(|p| p.name == "file").unwrap();
        let value = dwarf.evaluate_variable(&function, file, pc, &FakeFrame).unwrap();
        assert_eq!(
            value,
            krash_dwarf::VariableValue::Register { regno: 5, value: Some(0x1005) },
            "{kv}: file should be in %rdi"
        );
    }
}

#[test]
fn disassembly_matches_gdb() {
    for kv in krash_labtest::TRANSCRIPT_KERNELS {
        let Some(path) = common::vmlinux(kv) else { continue };
        let expected_path = format!("{}/tests/data/gdb-x-i-{kv}.txt", env!("CARGO_MANIFEST_DIR"));
        let expected = std::fs::read_to_string(expected_path).unwrap();
        let symbols = common::Symbols::load(&path);
        let dwarf = DwarfFile::open(&path).unwrap();
        let lookup = |a: u64| symbols.gdb_symbolize(&dwarf, a);
        let mut ours = String::new();
        for name in DISASSEMBLED {
            let (start, size) = symbols.by_name(name).unwrap();
            let bytes = symbols.bytes_at(start, size);
            for insn in krash_arch::disasm::disassemble(&bytes, start, &lookup) {
                let prefix = krash_arch::disasm::address_prefix(insn.addr, &lookup);
                ours.push_str(&format!("   {prefix}\t{}\n", insn.text));
            }
        }
        for (n, (a, b)) in expected.lines().zip(ours.lines()).enumerate() {
            assert_eq!(a, b, "{kv}: line {}", n + 1);
        }
        assert_eq!(expected.lines().count(), ours.lines().count(), "{kv}");
    }
}

#[test]
fn module_debug_sections_are_relocated() {
    for kv in common::KERNELS {
        let Some(path) = krash_labtest::kernel_module(kv, "fs/nfs/nfs.ko") else { continue };
        let symbols = common::Symbols::load(&path);
        let function =
            ["nfs_updatepage", "nfs_update_folio"].into_iter().find(|f| symbols.by_name(f).is_some()).unwrap();
        let (start, size) = symbols.by_name(function).unwrap();
        let addrs: Vec<u64> = (0..12).map(|i| start + i * size / 12).collect();
        // Sections of a .ko sit at 0 unless the caller says where the module
        // was loaded; both must give the same lines.
        let dwarf = DwarfFile::open(&path).unwrap();
        let base = 0xffff_ffff_c0a0_0000u64;
        let bases = krash_dwarf::SectionBases::from([(".text".to_string(), base)]);
        let loaded = DwarfFile::open_with_bases(&path, &bases).unwrap();
        let mut ours = String::new();
        for &addr in &addrs {
            let frames = dwarf.frames(addr).unwrap();
            assert_eq!(loaded.frames(base + addr).unwrap(), frames, "{kv} {addr:#x}");
            assert_eq!(frames.last().unwrap().function, function);
            for frame in frames {
                let loc = frame.location.unwrap();
                ours.push_str(&format!("{}\n{}:{}\n", frame.function, loc.file, loc.line));
            }
        }
        let Ok(out) = Command::new("addr2line")
            .arg("-fie")
            .arg(&path)
            .args(["-j", ".text"])
            .args(addrs.iter().map(|a| format!("{a:x}")))
            .output()
        else {
            continue;
        };
        assert_eq!(ours, without_discriminators(&String::from_utf8(out.stdout).unwrap()), "{kv}");
    }
}

#[test]
fn lab_module_lines_match_addr2line() {
    for kv in common::KERNELS {
        let Some(path) = krash_labtest::scenario_module(kv, "hung-task") else { continue };
        let dwarf = DwarfFile::open(&path).unwrap();
        // .text offsets; .init.text and .exit.text also start at 0 in the
        // file, which is what this guards against.
        // Addresses inside the module's .text functions (padding between
        // functions belongs to none, and tools disagree about it).
        let bytes = std::fs::read(&path).unwrap();
        let elf = object::File::parse(&*bytes).unwrap();
        let text = elf.section_by_name(".text").unwrap().index();
        let addrs: Vec<u64> = elf
            .symbols()
            .filter(|sym| sym.section_index() == Some(text) && sym.kind() == object::SymbolKind::Text && sym.size() > 0)
            .map(|sym| sym.address() + (sym.size() / 2).min(8))
            .collect();
        let mut compared = 0;
        for &addr in &addrs {
            let Ok(out) =
                Command::new("addr2line").arg("-fie").arg(&path).args(["-j", ".text", &format!("{addr:x}")]).output()
            else {
                return;
            };
            let expected = without_discriminators(&String::from_utf8(out.stdout).unwrap());
            // Function padding (6.12's __pfx_ symbols) belongs to no DWARF
            // function; addr2line names it from the symbol table.
            if expected.contains(":?") || expected.starts_with("__pfx_") {
                continue;
            }
            let mut ours = String::new();
            for frame in dwarf.frames(addr).unwrap() {
                let loc = frame.location.unwrap();
                ours.push_str(&format!("{}\n{}:{}\n", frame.function, loc.file, loc.line));
            }
            assert_eq!(ours, expected, "{kv} {addr:#x}");
            compared += 1;
        }
        assert!(compared >= 3, "{kv}: too few module addresses with lines");
    }
}

/// binutils addr2line's output without its ` (discriminator N)` suffixes:
/// krash reports file and line, which discriminators do not change.
fn without_discriminators(text: &str) -> String {
    text.lines().map(|l| l.split(" (discriminator ").next().unwrap_or(l).to_string() + "\n").collect()
}
