use std::fmt::Write;

use krash_commands::output::{SysDetail, SysInfo};

/// `sys -i` (labels right-aligned as crash prints DMI fields) and `sys config`.
pub(crate) fn render_detail(d: &SysDetail) -> String {
    match d {
        SysDetail::Dmi { fields } => {
            let width = fields.iter().map(|f| f.name.len()).max().unwrap_or(0);
            fields.iter().map(|f| format!("{:>width$}: {}\n", f.name, f.value)).collect()
        }
        SysDetail::Config { text } => text.clone(),
    }
}

/// The `sys` block, labels right-aligned to crash's column.
pub(crate) fn render(sys: &SysInfo) -> String {
    let mut s = String::new();
    let mut line = |label: &str, value: String| {
        let _ = writeln!(s, "{label:>12}: {value}");
    };
    let unknown = || "(unknown)".to_string();
    let kernel = if sys.debuginfo_from_dump { "(no vmlinux)" } else { sys.kernel.as_str() };
    line("KERNEL", format!("{kernel}{}", if sys.kernel_tainted { "  [TAINTED]" } else { "" }));
    // Only without a vmlinux, where it matters and crash has no equivalent.
    if sys.debuginfo_from_dump {
        line("SYMBOLS", sys.symbols_from.clone());
        line("TYPES", sys.types_from.clone());
    }
    line("DUMPFILE", format!("{}{}", sys.dumpfile, if sys.partial_dump { "  [PARTIAL DUMP]" } else { "" }));
    line(
        "CPUS",
        match sys.cpus {
            Some(n) if sys.cpus_offline > 0 => format!("{n} [OFFLINE: {}]", sys.cpus_offline),
            Some(n) => n.to_string(),
            None => unknown(),
        },
    );
    line("DATE", sys.crash_time.map(format_crash_date).unwrap_or_else(unknown));
    line("UPTIME", sys.uptime_secs.map(format_uptime).unwrap_or_else(unknown));
    line(
        "LOAD AVERAGE",
        sys.load_average
            .map(|l| format!("{}.{:02}, {}.{:02}, {}.{:02}", l[0].0, l[0].1, l[1].0, l[1].1, l[2].0, l[2].1))
            .unwrap_or_else(unknown),
    );
    line("TASKS", sys.tasks.map(|n| n.to_string()).unwrap_or_else(unknown));
    line("NODENAME", sys.nodename.clone().unwrap_or_else(unknown));
    line("RELEASE", sys.release.clone().unwrap_or_else(unknown));
    line("VERSION", sys.version.clone().unwrap_or_else(unknown));
    line(
        "MACHINE",
        match (&sys.machine, sys.cpu_mhz) {
            (Some(m), Some(mhz)) => format!("{m}  ({mhz} Mhz)"),
            (Some(m), None) => m.clone(),
            _ => unknown(),
        },
    );
    line("MEMORY", sys.memory_bytes.map(format_memory).unwrap_or_else(unknown));
    line(
        "PANIC",
        match &sys.panic {
            Some(p) if p.see_log => format!("\"{}\" (check log for details)", p.text),
            Some(p) => format!("\"{}\"", p.text),
            None => String::new(),
        },
    );
    if let Some(t) = &sys.panic_task {
        line("PID", t.pid.to_string());
        line("COMMAND", format!("\"{}\"", t.command));
        line("TASK", format!("{:x}", t.task));
        line("CPU", t.cpu.to_string());
        line("STATE", format!("{} (PANIC)", t.state.long_name()));
    }
    s
}

/// `Sun Nov 22 02:41:43 UTC 2026`, as crash prints DATE (krash always
/// prints UTC, so the same dump reads the same on every machine).
pub fn format_crash_date(epoch: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} UTC {}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        y
    )
}

/// `2026-12-03 14:06:07` (UTC): sortable, for tables of many dumps.
pub fn format_sortable_date(epoch: i64) -> String {
    let secs = epoch.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(epoch.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `00:00:04`, or `3 days, 04:05:06`.
pub fn format_uptime(secs: u64) -> String {
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let hms = format!("{:02}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60);
    if days > 0 {
        format!("{days} days, {hms}")
    } else {
        hms
    }
}

/// crash's memory size (`get_memory_size`): up to the next whole GB when
/// at most 64 MB short of it (firmware holes), then one decimal, ".0"
/// dropped (`pages_to_size`).
fn format_memory(bytes: u64) -> String {
    const GB: u64 = 1 << 30;
    const MB: u64 = 1 << 20;
    let next_gig = bytes.div_ceil(GB).saturating_mul(GB);
    let total = if next_gig.saturating_sub(bytes) <= 64 * MB { next_gig } else { bytes };
    if total == 0 {
        return "0".into();
    }
    let b = total as f64;
    let text = if total >= GB {
        format!("{:.1} GB", b / GB as f64)
    } else if total >= MB {
        format!("{:.1} MB", b / MB as f64)
    } else {
        format!("{} KB", total / 1024)
    };
    text.replacen(".0 ", " ", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sortable_dates_are_utc() {
        assert_eq!(format_sortable_date(0), "1970-01-01 00:00:00");
        assert_eq!(format_sortable_date(1_709_251_199), "2024-02-29 23:59:59");
        assert_eq!(format_sortable_date(1_796_220_367), "2026-12-02 14:06:07");
    }

    #[test]
    fn dates_and_uptimes() {
        assert_eq!(format_crash_date(0), "Thu Jan  1 00:00:00 UTC 1970");
        assert_eq!(format_crash_date(1_795_315_303), "Sun Nov 22 02:41:43 UTC 2026");
        assert_eq!(format_uptime(4), "00:00:04");
        assert_eq!(format_uptime(90_061), "1 days, 01:01:01");
        assert_eq!(format_memory(0x3ffda000), "1 GB");
        // 262 144 present pages of 4 KiB: 1 GiB (the arm64 guest).
        assert_eq!(format_memory(262_144 * 4096), "1 GB");
        assert_eq!(format_memory(3584 << 20), "3.5 GB");
        assert_eq!(format_memory((2048 - 65) << 20), "1.9 GB");
        assert_eq!(format_memory(512 << 20), "512 MB");
        assert_eq!(format_memory(0), "0");
    }
}
