#![no_main]
//! The kallsyms scanner over arbitrary "kernel image" bytes: whatever it
//! accepts must decode, and be checkable against VMCOREINFO-style names.
use krash_core::memory::BytesAt;
use krash_debuginfo::{check_against, read_kallsyms, scan_kallsyms};
use libfuzzer_sys::fuzz_target;

const BASE: u64 = 0xffff_ffff_8200_0000;
/// Largest table this target decodes after finding it.
const MAX_DECODED_SYMS: u32 = 1024;

fuzz_target!(|data: &[u8]| {
    let mem = BytesAt { base: BASE, bytes: data };
    let end = BASE + data.len() as u64;
    // Start the search part-way in too, as a misleading .rodata probe would.
    let split = BASE + (data.first().copied().unwrap_or(0) as u64 * 64).min(data.len() as u64);
    let Ok(found) = scan_kallsyms(&mem, &[split..end, BASE..split]) else { return };
    assert!(found.num_syms > 0);
    // The decoder has its own target (`kallsyms`); here it confirms small
    // finds. Past a few hundred symbols the fuzzer's tables put them all at
    // one address, and sorting those aliases by name took half of this
    // target's time without reaching any new scanner code.
    if found.num_syms > MAX_DECODED_SYMS {
        return;
    }
    if let Ok(table) = read_kallsyms(&found.location, &mem) {
        let first = table.iter().next().map(|s| (s.name.to_string(), s.addr));
        let _ = check_against(&table, first.iter().map(|(n, a)| (n.as_str(), *a)));
    }
});
