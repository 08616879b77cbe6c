//! System-wide facts for `sys` and the banner: utsname, CPUs, time,
//! uptime, load average, memory size, and the panic message.

use crate::mm::zone::ZoneExt;
use crate::printk::PrintkExt;
use krash_core::{Error, Result, VirtualMemory};
use serde::Serialize;

use krash_program::Kernel;

/// The kernel's `uname` strings, read by the program core.
pub use krash_dumpfile::Utsname;

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait SystemExt {
    /// Crash time as seconds since the epoch: the dump header, else
    /// VMCOREINFO's CRASHTIME, else the kernel's wall clock.
    fn crash_time(&self) -> Option<i64>;
    /// The tick rate, derived from `tick_nsec` (the kernel does not export HZ).
    fn hz(&self) -> Result<u64>;
    /// Seconds since boot: from `jiffies_64` as crash computes it where
    /// the kernel tells its tick rate, else the timekeeper's boot time.
    fn uptime_secs(&self) -> Result<u64>;
    /// The three load averages as (integer, hundredths), as /proc/loadavg.
    fn load_average(&self) -> Result<[(u64, u64); 3]>;
    /// CPU clock in MHz (`cpu_khz`).
    fn cpu_mhz(&self) -> Option<u64>;
    /// Bytes of RAM as crash counts them: every memory node's present
    /// pages (its spanned pages where none are counted present), else
    /// the highest page frame when the nodes cannot be read. Not the
    /// highest frame first: RAM need not start at 0 (arm64's QEMU `virt`
    /// machine has it at 1 GiB, so a 1 GiB guest's highest frame is at 2 GiB).
    fn memory_size(&self) -> Result<u64>;
    /// The panic message as crash's `sys` shows it: the first line of the
    /// log that says why the kernel died, and whether to "check log".
    fn panic_message(&self) -> Option<PanicMessage>;
    /// The firmware's DMI strings (`dmi_ident[]`, named by `enum dmi_field`).
    fn dmi_strings(&self) -> Result<Vec<DmiField>>;
    /// The kernel's own configuration (`CONFIG_IKCONFIG`), as text.
    fn kernel_config(&self) -> Result<String>;
}

impl SystemExt for Kernel {
    fn crash_time(&self) -> Option<i64> {
        if let Some((secs, _)) = self.dump().timestamp() {
            if secs > 0 {
                return Some(secs);
            }
        }
        if let Some(t) = self.vmcoreinfo().crash_time() {
            return Some(t);
        }
        let tk = core_timekeeper(self).ok()?;
        let off = self.layouts().offset("timekeeper", "xtime_sec").ok()?;
        self.memory().read_u64(tk.checked_add(off)?).ok().map(|v| v as i64)
    }

    fn hz(&self) -> Result<u64> {
        let tick_nsec = self.read_symbol_u64("tick_nsec")?;
        if tick_nsec == 0 || tick_nsec > 1_000_000_000 {
            return Err(Error::bad_data("tick_nsec", format!("implausible value {tick_nsec}")));
        }
        Ok((1_000_000_000 + tick_nsec / 2) / tick_nsec)
    }

    fn uptime_secs(&self) -> Result<u64> {
        match UptimeSource::probe(self) {
            UptimeSource::Jiffies => {
                let hz = self.hz()?;
                let jiffies = self.read_symbol_u64("jiffies_64")?;
                // INITIAL_JIFFIES: jiffies start 5 minutes before wrapping 32 bits.
                let initial = u64::from((-300i64 * hz as i64) as u32);
                Ok(jiffies.wrapping_sub(initial) / hz)
            }
            UptimeSource::Timekeeper => Ok(boot_time_ns(self)? / 1_000_000_000),
        }
    }

    fn load_average(&self) -> Result<[(u64, u64); 3]> {
        const FSHIFT: u32 = 11;
        const FIXED_1: u64 = 1 << FSHIFT;
        let base = self.symbol_addr("avenrun")?;
        let mut out = [(0, 0); 3];
        for (i, slot) in out.iter_mut().enumerate() {
            let raw = self.memory().read_u64(base + i as u64 * 8)? + FIXED_1 / 200;
            *slot = (raw >> FSHIFT, ((raw & (FIXED_1 - 1)) * 100) >> FSHIFT);
        }
        Ok(out)
    }

    fn cpu_mhz(&self) -> Option<u64> {
        let khz = self.memory().read_u32(self.symbol_addr("cpu_khz").ok()?).ok()?;
        Some(u64::from(khz) / 1000)
    }

    fn memory_size(&self) -> Result<u64> {
        let page_size = self.memory().page_size();
        if let Ok(nodes) = self.memory_nodes() {
            let pages = nodes
                .iter()
                .map(|n| if n.present_pages != 0 { n.present_pages } else { n.spanned_pages })
                .fold(0u64, u64::saturating_add);
            if pages != 0 {
                return Ok(pages.saturating_mul(page_size));
            }
        }
        let max_pfn = self.read_symbol_u64("max_pfn")?;
        Ok(max_pfn.saturating_mul(page_size))
    }

    fn panic_message(&self) -> Option<PanicMessage> {
        let records = self.log_records().ok()?;
        find_panic_message(records.iter().map(|r| r.text.as_str()))
    }

    fn dmi_strings(&self) -> Result<Vec<DmiField>> {
        use krash_debuginfo::types::{Type, TypeKind, TypeOps};
        let types = self
            .types()
            .ok_or_else(|| Error::MissingDebuginfo("sys -i needs type information for enum dmi_field".into()))?;
        let id = types.find_type(TypeKind::Enum, "dmi_field")?;
        let Type::Enum { variants, .. } = types.type_by_id(id)? else {
            return Err(Error::bad_data("enum dmi_field", "not an enum"));
        };
        let table = self.symbol_addr("dmi_ident")?;
        // dmi_ident[] has DMI_STRING_MAX slots; later enumerators
        // (DMI_OEM_STRING) are not in it.
        let slots = variants
            .iter()
            .find(|v| v.name == "DMI_STRING_MAX")
            .and_then(|v| u64::try_from(v.value).ok())
            .filter(|&n| n <= 64)
            .ok_or_else(|| Error::bad_data("enum dmi_field", "no plausible DMI_STRING_MAX"))?;
        let mut out = Vec::new();
        for v in variants.iter().filter(|v| v.name != "DMI_NONE") {
            let Ok(index) = u64::try_from(v.value) else { continue };
            if index >= slots {
                continue;
            }
            let ptr = self.memory().read_u64(table + index * 8)?;
            let value = if ptr == 0 { String::new() } else { self.memory().read_cstr(ptr, 256)? };
            out.push(DmiField { name: v.name.clone(), value });
        }
        Ok(out)
    }

    fn kernel_config(&self) -> Result<String> {
        let start = self.symbol_addr("kernel_config_data").map_err(|_| {
            Error::NotFound("the kernel was built without CONFIG_IKCONFIG: the dump holds no configuration".into())
        })?;
        let end = self.symbol_addr("kernel_config_data_end")?;
        let len = end
            .checked_sub(start)
            .filter(|&l| l <= MAX_IKCONFIG_BYTES)
            .ok_or_else(|| Error::bad_data("kernel_config_data", "implausible size"))?;
        let blob = self.memory().read_vec(start, len as usize)?;
        // The gzip stream sits between the "IKCFG_ST" and "IKCFG_ED" markers.
        let gz = blob.windows(8).position(|w| w == b"IKCFG_ST").map(|p| &blob[p + 8..]).unwrap_or(&blob);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(gz), &mut text)
            .map_err(|e| Error::bad_data("kernel_config_data", e.to_string()))?;
        Ok(text)
    }
}

/// Where `uptime_secs` comes from: a named probe, because 7.x removed
/// `tick_nsec` (and with it the only in-memory statement of HZ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UptimeSource {
    /// `jiffies_64` over HZ from `tick_nsec`, as crash computes it (up to 6.x).
    Jiffies,
    /// The core timekeeper's monotonic base plus its boot offset: what
    /// `ktime_get_boottime()` (and /proc/uptime) said at the last tick.
    Timekeeper,
}

impl UptimeSource {
    pub fn probe(k: &Kernel) -> UptimeSource {
        if k.symbol_addr("tick_nsec").is_ok() {
            UptimeSource::Jiffies
        } else {
            UptimeSource::Timekeeper
        }
    }
}

/// The address of the core `struct timekeeper`: inside `tk_core`, an
/// anonymous `{ seqcount_raw_spinlock_t seq; struct timekeeper timekeeper; }`
/// (up to 6.x), or in `timekeeper_data[TIMEKEEPER_CORE]`, a `struct tk_data`
/// (7.x, where auxiliary clocks have timekeepers of their own).
pub fn core_timekeeper(k: &Kernel) -> Result<u64> {
    let l = k.layouts();
    if let Ok(data) = k.symbol_addr("timekeeper_data") {
        let index = match k.types().map(|t| t.find_enumerator("TIMEKEEPER_CORE")) {
            Some(Ok(Some((_, v)))) => u64::try_from(v).map_err(|_| Error::bad_data("TIMEKEEPER_CORE", "negative"))?,
            _ => 0,
        };
        let at = index
            .checked_mul(l.size_of("tk_data")?)
            .and_then(|o| o.checked_add(l.offset("tk_data", "timekeeper").ok()?))
            .and_then(|o| data.checked_add(o))
            .ok_or_else(|| Error::bad_data("timekeeper_data", "core timekeeper beyond the address space"))?;
        return Ok(at);
    }
    let tk = k.symbol_addr("tk_core")?;
    let off = match l.variable_field("tk_core", "timekeeper") {
        Ok(f) => f.offset,
        // BTF does not describe tk_core's anonymous struct: the timekeeper
        // starts at the seqcount's size rounded up to 8 bytes.
        Err(_) => l.size_of("seqcount_raw_spinlock")?.div_ceil(8) * 8,
    };
    tk.checked_add(off).ok_or_else(|| Error::bad_data("tk_core", "beyond the address space"))
}

/// CLOCK_MONOTONIC at the timekeeper's last update (ns; suspend excluded).
pub fn monotonic_ns(k: &Kernel) -> Result<i64> {
    let tk = core_timekeeper(k)?;
    let l = k.layouts();
    let base_off = l.offset("timekeeper", "tkr_mono")?.checked_add(l.offset("tk_read_base", "base")?);
    let base_off = base_off.ok_or_else(|| Error::bad_data("struct timekeeper", "tkr_mono.base offset overflows"))?;
    Ok(k.memory().read_u64(tk.wrapping_add(base_off))? as i64)
}

/// Nanoseconds since boot at the timekeeper's last update (suspend included).
pub fn boot_time_ns(k: &Kernel) -> Result<u64> {
    let tk = core_timekeeper(k)?;
    let l = k.layouts();
    let mono = monotonic_ns(k)? as u64;
    let boot = k.memory().read_u64(tk.wrapping_add(l.offset("timekeeper", "offs_boot")?))?;
    // ktime_t is signed; a negative or absurd sum is not a time since boot.
    let ns = (mono as i64).checked_add(boot as i64).filter(|&ns| ns >= 0);
    ns.map(|ns| ns as u64)
        .ok_or_else(|| Error::bad_data("timekeeper", format!("boot time {mono:#x} + {boot:#x} is negative")))
}

/// One DMI identification string (`sys -i`).
#[derive(Debug, Clone, Serialize)]
pub struct DmiField {
    /// The `enum dmi_field` name, e.g. `DMI_SYS_VENDOR`.
    pub name: String,
    pub value: String,
}

/// Largest embedded kernel configuration krash inflates.
const MAX_IKCONFIG_BYTES: u64 = 4 << 20;

/// A panic reason found in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PanicMessage {
    pub text: String,
    /// The message is a summary (an oops header): details are in the log.
    pub see_log: bool,
}

/// Searches log lines for the panic reason in crash's order: the x86
/// exceptions crash names first (a divide error, a double fault, a
/// stack-segment fault, an old kernel's `general protection fault: `), a
/// sysrq crash, an oops, `kernel BUG at`, then the panic() message; krash
/// adds general protection faults and `BUG:` lines, for which crash 8.0.2
/// prints an empty string. Within a group the first line of the log that
/// starts with one of its messages wins, as crash takes the first line
/// holding any of them: on arm64 the fault's own line ("Unable to handle
/// kernel NULL pointer dereference at ...") comes before its
/// "Internal error: Oops: ..." line. An oops's summary line (one with
/// "Oops: ") means "check the log for details".
pub fn find_panic_message<'a>(lines: impl Iterator<Item = &'a str> + Clone) -> Option<PanicMessage> {
    let found = |prefixes: &[&str]| {
        lines
            .clone()
            .flat_map(|l| l.lines())
            .map(|l| l.strip_prefix("watchdog: ").unwrap_or(l))
            .find(|l| {
                prefixes.iter().any(|p| l.starts_with(p) || l.strip_prefix("Oops: ").is_some_and(|r| r.starts_with(p)))
            })
            .map(|l| l.trim_end().to_string())
    };
    // (messages, whether to "check log for details": None where crash
    // decides, by the line holding "Oops: "; always for krash's additions).
    let order: [(&[&str], Option<bool>); 8] = [
        // 6.13+ put "Oops: " before these ("Oops: divide error: 0000"): the
        // line is found all the same, and says to check the log.
        (&["general protection fault: ", "double fault: ", "divide error: ", "stack segment: "], None),
        (&["SysRq : Trigger a crash"], None),
        (
            &[
                "Oops: ",
                "Internal error: Oops: ",
                "Unable to handle kernel paging request",
                "Unable to handle kernel NULL pointer dereference",
                "BUG: unable to handle kernel ",
            ],
            None,
        ),
        (&["kernel BUG at "], None),
        (&["Kernel panic - not syncing: "], None),
        (&["general protection fault"], Some(true)),
        (&["BUG: "], Some(true)),
        (&["sysrq: Trigger a crash"], None),
    ];
    order.iter().find_map(|&(prefixes, check_log)| {
        let text = found(prefixes)?;
        let see_log = check_log.unwrap_or_else(|| text.contains("Oops: "));
        Some(PanicMessage { text, see_log })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panic_of(log: &str) -> Option<(String, bool)> {
        find_panic_message(log.lines()).map(|p| (p.text, p.see_log))
    }

    #[test]
    fn an_arm64_oops_is_its_fault_line_as_crash_finds_it() {
        let log = "krash-facts: scenario=null-member\n\
                   Unable to handle kernel NULL pointer dereference at virtual address 0000000000000010\n\
                   Mem abort info:\n\
                   Internal error: Oops: 0000000096000006 [#1] SMP\n\
                   Kernel panic - not syncing: Oops: Fatal exception\n";
        assert_eq!(
            panic_of(log),
            Some((
                "Unable to handle kernel NULL pointer dereference at virtual address 0000000000000010".into(),
                false
            ))
        );
        // Without the fault line, the oops summary (and "check log").
        let log = "Unable to handle kernel execute from non-executable memory at virtual address ffff0000\n\
                   Internal error: Oops: 000000008600000f [#1] SMP\n";
        assert_eq!(panic_of(log), Some(("Internal error: Oops: 000000008600000f [#1] SMP".into(), true)));
        // An arm64 BUG(): its "Oops - BUG" summary is no "Oops: " line.
        let log = "kernel BUG at mm/slub.c:123!\nInternal error: Oops - BUG: 00000000f2000800 [#1] SMP\n";
        assert_eq!(panic_of(log), Some(("kernel BUG at mm/slub.c:123!".into(), false)));
    }

    #[test]
    fn an_x86_oops_is_its_summary_line() {
        let log = "BUG: kernel NULL pointer dereference, address: 0000000000000010\n\
                   #PF: supervisor read access in kernel mode\n\
                   Oops: 0000 [#1] PREEMPT SMP NOPTI\n";
        assert_eq!(panic_of(log), Some(("Oops: 0000 [#1] PREEMPT SMP NOPTI".into(), true)));
        // Older kernels: crash takes the first of the group, without "check log".
        let log = "BUG: unable to handle kernel NULL pointer dereference at 0000000000000010\nOops: 0000 [#1] SMP\n";
        assert_eq!(
            panic_of(log),
            Some(("BUG: unable to handle kernel NULL pointer dereference at 0000000000000010".into(), false))
        );
        let log = "general protection fault, probably for non-canonical address 0xdead: 0000 [#1]\n";
        assert_eq!(panic_of(log).map(|p| p.1), Some(true));
    }

    #[test]
    fn x86_exceptions_come_first_as_in_crash() {
        // x86's oops_end() kexecs before panic(): no "Kernel panic" line.
        let log = "divide error: 0000 [#1] SMP NOPTI\nCPU: 1 PID: 1 Comm: init\n";
        assert_eq!(panic_of(log), Some(("divide error: 0000 [#1] SMP NOPTI".into(), false)));
        let log = "Oops: divide error: 0000 [#1] SMP NOPTI\nKernel panic - not syncing: Fatal exception\n";
        assert_eq!(panic_of(log), Some(("Oops: divide error: 0000 [#1] SMP NOPTI".into(), true)));
        let log = "general protection fault: 0000 [#1] SMP\nKernel panic - not syncing: Fatal exception\n";
        assert_eq!(panic_of(log), Some(("general protection fault: 0000 [#1] SMP".into(), false)));
    }
}
