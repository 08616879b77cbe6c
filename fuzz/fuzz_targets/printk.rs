//! The printk readers over arbitrary memory: the fuzz input is the memory
//! (mapped at address 0). The lockless ring reader finds its header at
//! offset 0, with the 6.1 layout; the legacy `log_buf` reader (3.5-5.9)
//! takes its indices from the input's first 16 bytes and its buffer at
//! address 16, with the 3.10 or the 5.1 (caller id) layout. Both must
//! return records or an error, never panic or hang.
#![no_main]

use krash_core::{memory::not_mapped, Result, VirtualMemory};
use krash_linux::printk::legacy::{read_log_buf, LogBufLayout, LogBufState};
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

fn u32_at(data: &[u8], at: usize) -> u32 {
    data.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes).unwrap_or(0)
}

fuzz_target!(|data: &[u8]| {
    let _ = read_ring(&Flat(data), &RingLayout::LINUX_6_1, 0);

    let control = u32_at(data, 12);
    let state = LogBufState {
        buf: 16,
        buf_len: u32_at(data, 0),
        first_idx: u32_at(data, 4),
        next_idx: u32_at(data, 8),
        first_seq: 0,
        stored: (control & 1 != 0).then_some(u64::from(control >> 8)),
    };
    let layout = if control & 2 != 0 { LogBufLayout::LINUX_5_1_CALLER } else { LogBufLayout::LINUX_3_10 };
    let _ = read_log_buf(&Flat(data), &layout, &state);
});
