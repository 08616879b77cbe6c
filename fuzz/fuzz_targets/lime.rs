//! LiME images: range headers, overlap and truncation checks, the
//! VMCOREINFO scan and reads across range gaps. Seeds: scripts/fuzz-seeds
//! (a lab LiME image cut down to its first page and its VMCOREINFO page).
#![no_main]

use krash_core::PhysicalMemory;
use krash_dumpfile::{Dump, DumpFormat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dump) = Dump::from_bytes(data.to_vec()) else { return };
    if dump.format() != &DumpFormat::Lime {
        return;
    }
    let _ = dump.vmcoreinfo().map(|v| (v.osrelease(), v.kernel_offset()));
    let mut buf = [0u8; 8192];
    for range in dump.phys_ranges().iter().take(8) {
        for paddr in [range.start.saturating_sub(8), range.start, range.end.saturating_sub(16), range.end] {
            let _ = dump.read_phys(paddr, &mut buf);
        }
    }
    for pfn in 0..dump.max_pfn().min(64) {
        let _ = dump.page_state(pfn);
    }
});
