use std::fmt::Write;

use krash_commands::output::{Log, LogTimestamps};

/// crash's `log`: `[seconds.micros] text`, one line per record line.
pub(crate) fn render(log: &Log) -> String {
    let mut s = String::new();
    for r in &log.records {
        let prefix = match log.timestamps {
            LogTimestamps::None => String::new(),
            LogTimestamps::Seconds => {
                format!("[{:>5}.{:06}] ", r.ts_nsec / 1_000_000_000, (r.ts_nsec % 1_000_000_000) / 1000)
            }
            LogTimestamps::Human => match log.boot_time {
                Some(boot) => {
                    let t = boot + (r.ts_nsec / 1_000_000_000) as i64;
                    format!("[{}] ", super::sys::format_crash_date(t))
                }
                None => format!("[{:>5}.{:06}] ", r.ts_nsec / 1_000_000_000, (r.ts_nsec % 1_000_000_000) / 1000),
            },
        };
        let prefix = if log.show_caller { format!("{prefix}[{:>6}] ", caller(r.caller_id)) } else { prefix };
        let level = if log.show_level { format!("<{}>", r.level) } else { String::new() };
        // Continuation lines of a multi-line record are indented under
        // the text, as dmesg and makedumpfile print them.
        let mut lines = r.text.split('\n');
        let first = lines.next().unwrap_or_default();
        let _ = writeln!(s, "{prefix}{level}{first}");
        let indent = " ".repeat(prefix.chars().count());
        for line in lines {
            let _ = writeln!(s, "{indent}{level}{line}");
        }
    }
    if let Some(u) = &log.unread {
        match u.lost_records {
            Some(n) => writeln!(s, "log: {n} record(s) could not be read: {}", u.reason),
            None => writeln!(s, "log: the log ends early: {}", u.reason),
        }
        .ok();
    }
    s
}

/// The kernel's caller field: `T<pid>`, or `C<cpu>` with the top bit set.
fn caller(id: u32) -> String {
    const CPU_CONTEXT: u32 = 0x8000_0000;
    if id & CPU_CONTEXT != 0 {
        format!("C{}", id & !CPU_CONTEXT)
    } else {
        format!("T{id}")
    }
}
