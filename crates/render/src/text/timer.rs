use std::fmt::Write;

use krash_commands::output::TimerWheel;

pub(crate) fn render(w: &TimerWheel) -> String {
    let jiffies = w.jiffies.to_string();
    let mut out = format!("{:<width$}\n{jiffies}\n", "JIFFIES", width = jiffies.len());
    let mut last_cpu = None;
    for b in &w.bases {
        if last_cpu != Some(b.cpu) {
            out.push('\n');
            last_cpu = Some(b.cpu);
        }
        let _ = writeln!(out, "TIMER_BASES[{}][{}]: {:x}", b.cpu, b.name, b.base);
        // The TTE column is as wide as its largest value plus a sign, and
        // at least as wide as its title (crash's; 0 where the base is empty).
        let tte_width =
            (b.timers.iter().map(|t| t.tte.unsigned_abs().to_string().len()).max().unwrap_or(1) + 1).max("TTE".len());
        let expires_width = b.timers.iter().map(|t| t.expires.to_string().len()).max().unwrap_or(10).max(10);
        let _ = writeln!(
            out,
            "  {:<ew$}        TTE{:tw$}TIMER_LIST     FUNCTION",
            "EXPIRES",
            "",
            ew = expires_width - 3,
            tw = tte_width + 2
        );
        for t in &b.timers {
            let name = t.function_name.as_deref().map(|n| format!("  <{n}>")).unwrap_or_default();
            let _ = writeln!(
                out,
                "  {:>ew$}  {:>tw$}  {:016x}  {:016x}{name}",
                t.expires,
                t.tte,
                t.timer,
                t.function,
                ew = expires_width,
                tw = tte_width
            );
        }
        if b.timers.is_empty() {
            out.push_str("  (none)\n");
        }
        for p in &b.problems {
            let _ = writeln!(out, "timer: {p}");
        }
    }
    out
}
