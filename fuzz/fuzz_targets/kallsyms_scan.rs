#![no_main]
//! The kallsyms scanner over arbitrary "kernel image" bytes: whatever it
//! accepts must decode, and be checkable against VMCOREINFO-style names.
use krash_core::{memory::not_mapped, Result, VirtualMemory};
use krash_debuginfo::{check_against, read_kallsyms, scan_kallsyms};
use libfuzzer_sys::fuzz_target;

const BASE: u64 = 0xffff_ffff_8200_0000;

struct Bytes<'a>(&'a [u8]);

impl VirtualMemory for Bytes<'_> {
    fn read_virt(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        let start = addr.checked_sub(BASE).ok_or_else(|| not_mapped(addr))? as usize;
        let end = start.checked_add(buf.len()).ok_or_else(|| not_mapped(addr))?;
        let src = self.0.get(start..end).ok_or_else(|| not_mapped(addr))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let mem = Bytes(data);
    let end = BASE + data.len() as u64;
    // Start the search part-way in too, as a misleading .rodata probe would.
    let split = BASE + (data.first().copied().unwrap_or(0) as u64 * 64).min(data.len() as u64);
    let Ok(found) = scan_kallsyms(&mem, &[split..end, BASE..split]) else { return };
    assert!(found.num_syms > 0);
    if let Ok(table) = read_kallsyms(&found.location, &mem) {
        let first = table.iter().next().map(|s| (s.name.to_string(), s.addr));
        let _ = check_against(&table, first.iter().map(|(n, a)| (n.as_str(), *a)));
    }
});
