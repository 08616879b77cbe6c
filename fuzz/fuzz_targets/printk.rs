//! The printk ring reader over arbitrary memory: the fuzz input is the
//! memory (mapped at address 0), the ring header at offset 0, with the
//! 6.1 layout. Must return records or an error, never panic or hang.
#![no_main]

use krash_core::{memory::not_mapped, Result, VirtualMemory};
use krash_linux::printk::{read_ring, RingLayout};
use libfuzzer_sys::fuzz_target;

struct Flat<'a>(&'a [u8]);

impl VirtualMemory for Flat<'_> {
    fn read_virt(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        let start = usize::try_from(addr).map_err(|_| not_mapped(addr))?;
        let end = start.checked_add(buf.len()).ok_or_else(|| not_mapped(addr))?;
        let src = self.0.get(start..end).ok_or_else(|| not_mapped(addr))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = read_ring(&Flat(data), &RingLayout::LINUX_6_1, 0);
});
