//! Per-cpu variables: CPU N's copy of a per-cpu variable lives at a base
//! taken from the variable's symbol plus `__per_cpu_offset[N]`. What the
//! base is (a KASLR-independent offset, or the symbol's run-time address)
//! depends on the kernel: see [`PercpuAddressing`](crate::probes::PercpuAddressing).

use krash_core::{Error, Result, VirtualMemory};

use crate::Kernel;

/// Highest CPU count krash accepts from a dump before treating the value as
/// corrupt (the kernel's own NR_CPUS limit is 8192).
pub const MAX_CPUS: u32 = 8192;

impl Kernel {
    /// What `__per_cpu_offset[N]` is added to for a per-cpu variable: its
    /// link address on zero-based per-cpu sections, its run-time address
    /// where the section is part of the image
    /// ([`PercpuAddressing`](crate::probes::PercpuAddressing)).
    pub fn percpu_symbol_offset(&self, name: &str) -> Result<u64> {
        let sym =
            self.symbols().by_name(name).ok_or_else(|| Error::NotFound(format!("per-cpu symbol not found: {name}")))?;
        Ok(self.percpu_addressing()?.symbol_base(sym.addr, self.symbols()))
    }

    /// `__per_cpu_offset[cpu]`.
    pub fn percpu_offset(&self, cpu: u32) -> Result<u64> {
        if cpu >= MAX_CPUS {
            return Err(Error::NotFound(format!("CPU {cpu} is beyond any kernel's CPU count")));
        }
        let base = self.symbol_addr("__per_cpu_offset")?;
        self.memory().read_u64(base.wrapping_add(u64::from(cpu) * 8))
    }

    /// The addressing variant, for callers that hold a per-cpu symbol's
    /// address rather than its name.
    pub fn percpu_base_of(&self, addr: u64) -> Result<u64> {
        Ok(self.percpu_addressing()?.symbol_base(addr, self.symbols()))
    }

    /// Address of CPU `cpu`'s copy of the per-cpu variable `name`.
    pub fn percpu_addr(&self, name: &str, cpu: u32) -> Result<u64> {
        Ok(self.percpu_symbol_offset(name)?.wrapping_add(self.percpu_offset(cpu)?))
    }

    /// Number of possible CPU slots (`nr_cpu_ids`), sanity-checked.
    pub fn nr_cpu_ids(&self) -> Result<u32> {
        let n = self.memory().read_u32(self.symbol_addr("nr_cpu_ids")?)?;
        if n == 0 || n > MAX_CPUS {
            return Err(Error::bad_data("nr_cpu_ids", format!("implausible CPU count {n}")));
        }
        Ok(n)
    }

    /// CPUs set in a `struct cpumask` variable such as `__cpu_online_mask`.
    pub fn cpumask(&self, symbol: &str) -> Result<Vec<u32>> {
        let n = self.nr_cpu_ids()?;
        let addr = self.symbol_addr(symbol)?;
        let words = n.div_ceil(64);
        let mut cpus = Vec::new();
        for w in 0..words {
            let bits = self.memory().read_u64(addr + u64::from(w) * 8)?;
            for b in 0..64 {
                let cpu = w * 64 + b;
                if cpu < n && bits & (1u64 << b) != 0 {
                    cpus.push(cpu);
                }
            }
        }
        Ok(cpus)
    }

    /// CPUs online at the time of the crash.
    pub fn online_cpus(&self) -> Result<Vec<u32>> {
        self.cpumask("__cpu_online_mask")
    }

    /// CPUs the kernel may ever bring up; per-cpu areas exist for each.
    pub fn possible_cpus(&self) -> Result<Vec<u32>> {
        self.cpumask("__cpu_possible_mask")
    }

    /// CPUs present (possible and plugged in). Unlike the online mask, a
    /// panic does not clear these when it stops the other CPUs.
    pub fn present_cpus(&self) -> Result<Vec<u32>> {
        self.cpumask("__cpu_present_mask")
    }
}
