#![no_main]
//! ORC table construction and lookup on arbitrary IP/entry bytes.
use krash_debuginfo::{OrcFormat, OrcTable};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let split = (data[0] as usize * 4).min(data.len() - 1);
    let (ips, unwind) = data[1..].split_at(split.min(data.len() - 1));
    let format = match data[0] % 3 {
        0 => OrcFormat::BEFORE_6_4,
        1 => OrcFormat::SINCE_6_4,
        _ => OrcFormat::SINCE_7,
    };
    if let Ok(table) = OrcTable::from_tables(0xffff_ffff_8100_0000, ips, unwind, format) {
        for probe in [0u64, 0xffff_ffff_8100_0000, u64::MAX] {
            let _ = table.find(probe);
        }
        let _ = table.iter().count();
    }
    let _ = OrcTable::from_vmlinux(data);
});
