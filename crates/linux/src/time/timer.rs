//! The timer wheel: each CPU's `timer_bases`, every pending `timer_list`
//! with its expiry in jiffies and callback.

use krash_core::{Error, Result, VirtualMemory};
use serde::Serialize;

use krash_debuginfo::types::TypeOps;

use krash_program::Kernel;

/// Buckets accepted in one base (the kernel has 9 levels of 64).
const MAX_BUCKETS: u64 = 4096;
/// Timers followed in one bucket before the walk is cut short.
const MAX_PER_BUCKET: usize = 1 << 16;
/// Bases accepted per CPU (2 up to 6.7, 3 from 6.8).
const MAX_BASES: u64 = 8;

/// One pending timer.
#[derive(Debug, Clone, Serialize)]
pub struct PendingTimer {
    pub expires: u64,
    /// Jiffies left (`expires - jiffies`; negative when overdue).
    pub tte: i64,
    pub timer: u64,
    pub function: u64,
    pub function_name: Option<String>,
}

/// One `struct timer_base` with its timers, by expiry.
#[derive(Debug, Clone, Serialize)]
pub struct TimerBase {
    pub cpu: u32,
    /// "BASE_STD", "BASE_DEF", "BASE_LOCAL", "BASE_GLOBAL".
    pub name: String,
    pub base: u64,
    pub timers: Vec<PendingTimer>,
    pub problems: Vec<String>,
}

/// The wheel of every online CPU.
#[derive(Debug, Clone, Serialize)]
pub struct TimerWheel {
    pub jiffies: u64,
    pub bases: Vec<TimerBase>,
}

/// The kernel's names for the bases, by how many there are.
fn base_names(count: u64) -> &'static [&'static str] {
    match count {
        1 => &["BASE_STD"],
        2 => &["BASE_STD", "BASE_DEF"],
        _ => &["BASE_LOCAL", "BASE_GLOBAL", "BASE_DEF"],
    }
}

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait TimerExt {
    /// Every CPU's timer bases with their pending timers.
    fn timer_wheel(&self) -> Result<TimerWheel>;
}

impl TimerExt for Kernel {
    fn timer_wheel(&self) -> Result<TimerWheel> {
        let mem: &dyn VirtualMemory = self.memory();
        let jiffies = mem.read_u64(self.symbol_addr("jiffies")?)?;
        let l = self.layouts();
        let base_size = l.size_of("timer_base")?;
        let array_size = self.types().and_then(|t| t.size_of(l.variable_type("timer_bases")?.0).ok());
        let count = match array_size {
            Some(total) if base_size > 0 => total / base_size,
            _ => 2,
        };
        if count == 0 || count > MAX_BASES {
            return Err(Error::bad_data("timer_bases", format!("{count} bases per CPU is not plausible")));
        }
        let names = base_names(count);
        let mut bases = Vec::new();
        for cpu in self.online_cpus()? {
            let first = self.percpu_addr("timer_bases", cpu)?;
            for i in 0..count {
                let base = first.wrapping_add(i.wrapping_mul(base_size));
                let name = names.get(i as usize).map_or_else(|| format!("BASE_{i}"), |n| n.to_string());
                bases.push(self.timer_base(cpu, name, base, jiffies)?);
            }
        }
        Ok(TimerWheel { jiffies, bases })
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait TimerHelpers {
    fn timer_base(&self, cpu: u32, name: String, base: u64, jiffies: u64) -> Result<TimerBase>;
}

impl TimerHelpers for Kernel {
    fn timer_base(&self, cpu: u32, name: String, base: u64, jiffies: u64) -> Result<TimerBase> {
        let mem: &dyn VirtualMemory = self.memory();
        let l = self.layouts();
        let vectors = l.field("timer_base", "vectors")?;
        let buckets = vectors.size.map_or(576, |s| s / 8).min(MAX_BUCKETS);
        let entry_off = l.offset("timer_list", "entry")?;
        let mut timers = Vec::new();
        let mut problems = Vec::new();
        for b in 0..buckets {
            let head = base.wrapping_add(vectors.offset).wrapping_add(b * 8);
            let mut node = mem.read_u64(head)?;
            let mut seen = 0usize;
            while node != 0 {
                if seen >= MAX_PER_BUCKET {
                    problems.push(format!("bucket {b}: more than {MAX_PER_BUCKET} timers (corrupt list?)"));
                    break;
                }
                seen += 1;
                let timer = node.wrapping_sub(entry_off);
                let expires = self.read_field_u64(timer, "timer_list", "expires")?;
                let function = self.read_field_u64(timer, "timer_list", "function")?;
                let function_name = self.symbolize(function).map(|s| {
                    if s.offset == 0 {
                        s.name
                    } else {
                        format!("{}+{}", s.name, s.offset)
                    }
                });
                let tte = expires.wrapping_sub(jiffies) as i64;
                timers.push(PendingTimer { expires, tte, timer, function, function_name });
                node = match mem.read_u64(node) {
                    Ok(n) => n,
                    Err(e) => {
                        problems.push(format!("bucket {b}: timer {timer:x}: {e}"));
                        break;
                    }
                };
            }
        }
        timers.sort_by_key(|t| t.expires);
        Ok(TimerBase { cpu, name, base, timers, problems })
    }
}
