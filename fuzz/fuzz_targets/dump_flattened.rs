//! Wraps arbitrary bytes in a makedumpfile flattened-stream header so the
//! fuzzer spends its time in the record index and the image it rebuilds.
#![no_main]

use krash_core::PhysicalMemory;
use krash_dumpfile::Dump;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Inputs that already are flattened streams (the seeds) go in as they are.
    let bytes = if data.starts_with(b"makedumpfile") {
        data.to_vec()
    } else {
        let mut v = vec![0u8; 4096];
        v[..12].copy_from_slice(b"makedumpfile");
        v[16..24].copy_from_slice(&1i64.to_be_bytes());
        v[24..32].copy_from_slice(&1i64.to_be_bytes());
        v.extend_from_slice(data);
        v
    };
    let Ok(dump) = Dump::from_bytes(bytes) else { return };
    let _ = dump.truncation();
    let mut buf = [0u8; 4096];
    for range in dump.phys_ranges().iter().take(8) {
        let _ = dump.read_phys(range.start, &mut buf);
    }
});
