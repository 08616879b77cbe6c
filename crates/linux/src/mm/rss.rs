//! Address-space accounting for `ps`: virtual size and resident pages.

use krash_core::{Result, VirtualMemory};

use krash_program::Kernel;

/// Counters of one `mm_struct`, in pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MmUsage {
    pub total_vm_pages: u64,
    pub rss_pages: u64,
}

/// `enum { MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES }`:
/// resident memory is file + anon + shmem.
const RSS_COUNTERS: [u64; 3] = [0, 1, 3];

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait RssExt {
    /// Usage of the `mm_struct` at `mm` (zero for kernel threads).
    fn mm_usage(&self, mm: u64) -> Result<MmUsage>;
    /// A process's argv and environment strings, read from its user
    /// memory through its own page tables.
    fn process_strings(&self, mm: u64) -> Result<(Vec<String>, Vec<String>)>;
}

impl RssExt for Kernel {
    fn mm_usage(&self, mm: u64) -> Result<MmUsage> {
        if mm == 0 {
            return Ok(MmUsage::default());
        }
        let total_vm_pages = self.read_field_u64(mm, "mm_struct", "total_vm")?;
        let rss_pages = RSS_COUNTERS
            .iter()
            .map(|&i| self.rss_counter(mm, i))
            .collect::<Result<Vec<i64>>>()?
            .into_iter()
            .sum::<i64>()
            .max(0) as u64;
        Ok(MmUsage { total_vm_pages, rss_pages })
    }

    fn process_strings(&self, mm: u64) -> Result<(Vec<String>, Vec<String>)> {
        let read = |m: &str| self.read_field_u64(mm, "mm_struct", m);
        let pgd = self.virt_to_phys(read("pgd")?)?;
        let area = |start: u64, end: u64| -> Result<Vec<String>> {
            let len = end.saturating_sub(start).min(MAX_ARG_BYTES) as usize;
            let mut buf = vec![0u8; len];
            self.memory().read_user(pgd, start, &mut buf)?;
            Ok(buf
                .split(|&b| b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect())
        };
        Ok((area(read("arg_start")?, read("arg_end")?)?, area(read("env_start")?, read("env_end")?)?))
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait RssHelpers {
    /// One RSS counter: an `atomic_long_t` array before 6.2, a
    /// `percpu_counter` array (global count plus per-CPU deltas) after.
    fn rss_counter(&self, mm: u64, index: u64) -> Result<i64>;
}

impl RssHelpers for Kernel {
    fn rss_counter(&self, mm: u64, index: u64) -> Result<i64> {
        let l = self.layouts();
        if let Ok(count) = l.offset("mm_struct", "rss_stat.count") {
            return Ok(self.memory().read_u64(mm + count + index * 8)? as i64);
        }
        let rss = l.offset("mm_struct", "rss_stat")?;
        let counter_size = l.size_of("percpu_counter")?;
        let counter = mm + rss + index * counter_size;
        let mut value = self.read_field_u64(counter, "percpu_counter", "count")? as i64;
        let percpu = self.read_field_u64(counter, "percpu_counter", "counters")?;
        if percpu != 0 {
            for cpu in self.possible_cpus()? {
                let addr = percpu.wrapping_add(self.percpu_offset(cpu)?);
                value += i64::from(self.memory().read_u32(addr)? as i32);
            }
        }
        Ok(value)
    }
}

/// Longest argv/environment area krash reads (the kernel caps them far
/// higher, but a listing beyond this is not useful).
const MAX_ARG_BYTES: u64 = 64 << 10;
