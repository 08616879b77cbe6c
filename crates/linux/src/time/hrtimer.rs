//! High-resolution timers: each CPU's `hrtimer_bases` and the timers queued
//! on every clock base, in expiry order.

use crate::system::{monotonic_ns, UptimeSource};
use krash_core::{Error, Result, VirtualMemory};
use serde::Serialize;

use krash_program::rbtree::{self, RbLayout};
use krash_program::Kernel;

/// Timers accepted on one clock base before the walk is cut short.
const MAX_TIMERS: usize = 1 << 16;
/// Clock bases accepted per CPU (8 since 4.16).
const MAX_CLOCKS: u64 = 16;
/// Jiffies start this many seconds before wrapping the low 32 bits (`INITIAL_JIFFIES`).
const INITIAL_JIFFIES_SECONDS: u64 = 300;

/// One queued hrtimer.
#[derive(Debug, Clone, Serialize)]
pub struct QueuedHrtimer {
    pub softexpires: i64,
    pub expires: i64,
    /// Nanoseconds left (`expires - current`).
    pub tte: i64,
    pub hrtimer: u64,
    pub function: u64,
    pub function_name: Option<String>,
}

/// One `hrtimer_clock_base`.
#[derive(Debug, Clone, Serialize)]
pub struct HrtimerClock {
    pub index: u64,
    pub base: u64,
    pub get_time: Option<String>,
    pub timers: Vec<QueuedHrtimer>,
    pub broken: Option<String>,
}

/// One CPU's `hrtimer_cpu_base`.
#[derive(Debug, Clone, Serialize)]
pub struct HrtimerCpu {
    pub cpu: u32,
    pub cpu_base: u64,
    pub clocks: Vec<HrtimerClock>,
}

/// The hrtimers of every online CPU and the monotonic time they are measured from.
#[derive(Debug, Clone, Serialize)]
pub struct Hrtimers {
    /// Monotonic time at the dump (ns): from jiffies at tick resolution as
    /// crash computes it, or the timekeeper's where HZ is unknown (7.x).
    pub current: i64,
    pub cpus: Vec<HrtimerCpu>,
}

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait HrtimerExt {
    /// Every online CPU's hrtimer clock bases with their queued timers.
    fn hrtimers(&self) -> Result<Hrtimers>;
}

impl HrtimerExt for Kernel {
    fn hrtimers(&self) -> Result<Hrtimers> {
        let mem: &dyn VirtualMemory = self.memory();
        // crash's "current" time: jiffies at tick resolution, where the
        // kernel states HZ; 7.x does not, and its timekeeper says it.
        let current = match UptimeSource::probe(self) {
            UptimeSource::Jiffies => {
                let jiffies = mem.read_u64(self.symbol_addr("jiffies")?)?;
                let tick_ns = self.tick_ns()?;
                let hz = 1_000_000_000 / tick_ns.max(1) as u64;
                let initial_jiffies = (1u64 << 32).wrapping_sub(INITIAL_JIFFIES_SECONDS * hz);
                (jiffies.wrapping_sub(initial_jiffies) as i64).wrapping_mul(tick_ns)
            }
            UptimeSource::Timekeeper => monotonic_ns(self)?,
        };
        let l = self.layouts();
        let clock_off = l.offset("hrtimer_cpu_base", "clock_base")?;
        let clock_size = l.size_of("hrtimer_clock_base")?;
        let clocks =
            l.field("hrtimer_cpu_base", "clock_base")?.size.map_or(8, |s| s / clock_size.max(1)).min(MAX_CLOCKS);
        let mut cpus = Vec::new();
        for cpu in self.online_cpus()? {
            let cpu_base = self.percpu_addr("hrtimer_bases", cpu)?;
            let mut list = Vec::new();
            for index in 0..clocks {
                let base = cpu_base.wrapping_add(clock_off).wrapping_add(index.wrapping_mul(clock_size));
                list.push(self.hrtimer_clock(index, base, current)?);
            }
            cpus.push(HrtimerCpu { cpu, cpu_base, clocks: list });
        }
        Ok(Hrtimers { current, cpus })
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait HrtimerHelpers {
    /// Nanoseconds per jiffy: `tick_nsec` rounded to the nearest HZ's period.
    fn tick_ns(&self) -> Result<i64>;
    fn hrtimer_clock(&self, index: u64, base: u64, current: i64) -> Result<HrtimerClock>;
}

impl HrtimerHelpers for Kernel {
    fn tick_ns(&self) -> Result<i64> {
        let tick = self.memory().read_u64(self.symbol_addr("tick_nsec")?)? as i64;
        [1_000_000i64, 3_333_333, 4_000_000, 10_000_000]
            .into_iter()
            .min_by_key(|p| p.abs_diff(tick))
            .filter(|p| p.abs_diff(tick) < (p / 10) as u64)
            .ok_or_else(|| Error::bad_data("tick_nsec", format!("{tick} ns per tick matches no HZ")))
    }

    fn hrtimer_clock(&self, index: u64, base: u64, current: i64) -> Result<HrtimerClock> {
        let mem: &dyn VirtualMemory = self.memory();
        let l = self.layouts();
        // 7.x dropped the per-base clock function pointer.
        let get_time = match self.read_field_u64(base, "hrtimer_clock_base", "get_time") {
            Ok(f) => self.symbolize(f).map(|s| s.name),
            Err(e) if self.layouts().has_field("hrtimer_clock_base", "get_time") => return Err(e),
            Err(_) => None,
        };
        let root = base.wrapping_add(l.offset("hrtimer_clock_base", "active.rb_root")?);
        let node_off = l.offset("hrtimer", "node")?;
        let walk = rbtree::walk(mem, rbtree::root_node(mem, root)?, RbLayout::default(), MAX_TIMERS);
        let mut entries = walk.entries;
        rbtree::in_order(&mut entries);
        let mut timers = Vec::new();
        for e in entries {
            let hrtimer = e.node.wrapping_sub(node_off);
            let expires = self.read_field_u64(hrtimer, "hrtimer", "node.expires")? as i64;
            let softexpires = self.read_field_u64(hrtimer, "hrtimer", "_softexpires")? as i64;
            let function = self.read_field_u64(hrtimer, "hrtimer", "function")?;
            let function_name = self.symbolize(function).map(|s| s.name);
            timers.push(QueuedHrtimer {
                softexpires,
                expires,
                tte: expires.wrapping_sub(current),
                hrtimer,
                function,
                function_name,
            });
        }
        Ok(HrtimerClock { index, base, get_time, timers, broken: walk.broken })
    }
}
