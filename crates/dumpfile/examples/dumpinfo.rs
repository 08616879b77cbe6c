//! Prints what krash-dumpfile sees in a vmcore: `cargo run -p krash-dumpfile --example dumpinfo -- FILE`.

use std::path::PathBuf;
use std::time::Instant;

use krash_core::PhysicalMemory;
use krash_dumpfile::{Dump, PageState};

fn main() {
    for path in std::env::args_os().skip(1).map(PathBuf::from) {
        let t = Instant::now();
        let dump = match Dump::open(&path) {
            Ok(d) => d,
            Err(e) => {
                println!("{}: {e}", path.display());
                continue;
            }
        };
        println!("{}: opened in {:?}", path.display(), t.elapsed());
        println!("  format: {}", dump.format());
        let machine = dump.machine().map_or_else(|| "unknown".to_string(), |m| m.to_string());
        println!("  machine: {machine}  page size: {}", dump.page_size());
        println!("  description: {}", dump.format_description());
        println!("  utsname: {:?}", dump.header_utsname());
        println!("  header phys_base: {:x?}", dump.header_phys_base());
        println!(
            "  timestamp: {:?}  nr_cpus: {:?}  dump_level: {:?}",
            dump.timestamp(),
            dump.nr_cpus(),
            dump.dump_level()
        );
        println!("  max_pfn: {:#x}  ranges: {}", dump.max_pfn(), dump.phys_ranges().len());
        if let Some(v) = dump.vmcoreinfo() {
            println!(
                "  OSRELEASE={:?} init_uts_ns={:x?} KERNELOFFSET={:x?}",
                v.osrelease(),
                v.symbol("init_uts_ns"),
                v.kernel_offset()
            );
        }
        // Registers are the architecture layer's to decode.
        let arch = dump.machine().and_then(|m| krash_arch::for_machine(m).ok());
        for cpu in dump.cpus() {
            let regs = arch.and_then(|a| a.cpu_registers(cpu.prstatus.as_deref(), cpu.qemu_state.as_deref()).ok());
            let regs = regs.flatten();
            println!(
                "  cpu {}: pid {:?} pc {:x?} sp {:x?} cr3 {:x?}",
                cpu.index,
                cpu.pid,
                regs.and_then(|r| r.pc()),
                regs.and_then(|r| r.sp()),
                regs.and_then(|r| r.by_name("cr3"))
            );
        }
        let t = Instant::now();
        println!("  truncation: {:?} ({:?})", dump.truncation(), t.elapsed());
        let (mut present, mut excluded, mut truncated) = (0u64, 0u64, 0u64);
        let t = Instant::now();
        let mut buf = vec![0u8; dump.page_size() as usize];
        let mut errors = 0u64;
        // Counters of at most max_pfn pages: saturating never triggers.
        for pfn in 0..dump.max_pfn() {
            match dump.page_state(pfn) {
                PageState::Present => {
                    present = present.saturating_add(1);
                    let read = pfn.checked_mul(dump.page_size()).map(|paddr| dump.read_phys(paddr, &mut buf));
                    if !matches!(read, Some(Ok(()))) {
                        errors = errors.saturating_add(1);
                    }
                }
                PageState::Excluded => excluded = excluded.saturating_add(1),
                PageState::Truncated => truncated = truncated.saturating_add(1),
                PageState::NotInDump => {}
            }
        }
        let hot: Vec<u64> =
            (0..dump.max_pfn()).filter(|&p| dump.page_state(p) == PageState::Present).take(256).collect();
        if !hot.is_empty() {
            let t = Instant::now();
            let mut word = [0u8; 8];
            // Walk the hot pages in a scattered order, 8 bytes at varying offsets.
            for (i, &pfn) in (0..1_000_000u64).zip(hot.iter().cycle().step_by(7)) {
                // i < 1M: saturating never triggers.
                let offset = i.saturating_mul(8) % 4000;
                if let Some(paddr) = pfn.checked_mul(dump.page_size()).and_then(|p| p.checked_add(offset)) {
                    let _ = dump.read_phys(paddr, &mut word);
                }
            }
            println!("  1M cached 8-byte reads over {} pages: {:?}", hot.len(), t.elapsed());
        }
        println!(
            "  pages: {present} present ({errors} unreadable), {excluded} excluded, {truncated} truncated; read all in {:?}",
            t.elapsed()
        );
    }
}
