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
            // Counters come from the dump: a corrupt one must not overflow.
            .fold(0i64, i64::saturating_add)
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
            return Ok(self.memory().read_u64(mm.wrapping_add(count).wrapping_add(index.wrapping_mul(8)))? as i64);
        }
        let rss = l.offset("mm_struct", "rss_stat")?;
        let counter_size = l.size_of("percpu_counter")?;
        let counter = mm.wrapping_add(rss).wrapping_add(index.wrapping_mul(counter_size));
        let mut value = self.read_field_u64(counter, "percpu_counter", "count")? as i64;
        let percpu = self.read_field_u64(counter, "percpu_counter", "counters")?;
        if percpu != 0 {
            for cpu in self.possible_cpus()? {
                let addr = percpu.wrapping_add(self.percpu_offset(cpu)?);
                value = value.saturating_add(i64::from(self.memory().read_u32(addr)? as i32));
            }
        }
        Ok(value)
    }
}

/// Longest argv/environment area krash reads (the kernel caps them far
/// higher, but a listing beyond this is not useful).
const MAX_ARG_BYTES: u64 = 64 << 10;

#[cfg(test)]
mod tests {
    use super::*;
    use krash_program::synthetic::SyntheticKernel;

    /// An `mm_struct` with RSS counters as `atomic_long_t count[4]`
    /// (before 6.2) holding `counts`; returns the kernel and the mm.
    fn mm_with_counts(counts: [i64; 4]) -> (Kernel, u64) {
        let mut s = SyntheticKernel::new();
        let t = s.types();
        let long = t.int("long int", 8, true);
        let ulong = t.int("long unsigned int", 8, false);
        let array = t.array(long, 4);
        let stat = t.structure("mm_rss_stat", 32, &[("count", array, 0)]);
        t.structure("mm_struct", 48, &[("total_vm", ulong, 8), ("rss_stat", stat, 16)]);
        let mm = s.alloc(48);
        s.write_u64(mm + 8, 100);
        for (i, c) in counts.iter().enumerate() {
            s.write(mm + 16 + 8 * i as u64, &c.to_le_bytes());
        }
        (s.build().unwrap(), mm)
    }

    #[test]
    fn resident_pages_are_file_anon_and_shmem() {
        let (k, mm) = mm_with_counts([3, 4, 1000, 5]);
        assert_eq!(k.mm_usage(mm).unwrap(), MmUsage { total_vm_pages: 100, rss_pages: 12 });
    }

    /// Regression (fuzz target kernel_lists): corrupt counters overflowed
    /// the sum, and an mm pointer at the top of the address space the
    /// counter's address.
    #[test]
    fn corrupt_counters_saturate_and_odd_mm_pointers_fail_to_read() {
        let (k, mm) = mm_with_counts([i64::MAX, i64::MAX, 0, 1]);
        assert_eq!(k.mm_usage(mm).unwrap().rss_pages, i64::MAX as u64);
        let (k, mm) = mm_with_counts([i64::MIN, -1, 0, 0]);
        assert_eq!(k.mm_usage(mm).unwrap().rss_pages, 0);
        assert!(k.mm_usage(u64::MAX - 7).is_err());
    }

    /// 6.2+: `struct percpu_counter rss_stat[4]`, a global count plus
    /// per-CPU deltas (two CPUs: +1 and +2); sums past the range saturate.
    #[test]
    fn percpu_counters_add_each_cpus_delta_saturating() {
        use krash_debuginfo::types::TypeId;
        let usage = |anon: i64| {
            let mut s = SyntheticKernel::new();
            let t = s.types();
            let ptr = t.pointer(TypeId::VOID);
            let long = t.int("long int", 8, true);
            let ulong = t.int("long unsigned int", 8, false);
            let counter = t.structure("percpu_counter", 24, &[("count", long, 8), ("counters", ptr, 16)]);
            let counters = t.array(counter, 4);
            t.structure("mm_struct", 112, &[("total_vm", ulong, 8), ("rss_stat", counters, 16)]);
            let nr = s.global("nr_cpu_ids", 4);
            s.write_u32(nr, 2);
            let possible = s.global("__cpu_possible_mask", 8);
            s.write_u64(possible, 3);
            let offsets = s.global("__per_cpu_offset", 16);
            s.write_u64(offsets + 8, 8);
            let deltas = s.alloc(16);
            s.write_u32(deltas, 1);
            s.write_u32(deltas + 8, 2);
            let mm = s.alloc(112);
            for (counter, count) in [(0, 10), (1, anon)] {
                let at = mm + 16 + 24 * counter;
                s.write(at + 8, &count.to_le_bytes());
                s.write_u64(at + 16, deltas);
            }
            s.build().unwrap().mm_usage(mm).unwrap().rss_pages
        };
        assert_eq!(usage(0), 16);
        assert_eq!(usage(i64::MAX), i64::MAX as u64);
    }
}
