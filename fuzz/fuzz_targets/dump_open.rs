//! Feeds arbitrary bytes to `Dump::from_bytes` and exercises every reader
//! the parse succeeds with. Seeds: crates/dumpfile/fuzz-seeds.sh.
#![no_main]

use krash_core::PhysicalMemory;
use krash_dumpfile::Dump;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dump) = Dump::from_bytes(data.to_vec()) else { return };
    let _ = dump.format_description();
    let _ = dump.truncation();
    let _ = dump.vmcoreinfo().map(|v| v.osrelease());
    let ranges = dump.phys_ranges();
    let mut buf = [0u8; 8192];
    for range in ranges.iter().take(8) {
        for paddr in [range.start, range.start.saturating_add(4000), range.end.saturating_sub(16)] {
            let _ = dump.read_phys(paddr, &mut buf);
        }
    }
    for pfn in 0..dump.max_pfn().min(64) {
        let _ = dump.page_state(pfn);
        let _ = dump.read_phys(pfn.saturating_mul(dump.page_size()).saturating_add(3), &mut buf[..100]);
    }
});
