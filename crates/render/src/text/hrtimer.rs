use std::fmt::Write;

use krash_commands::output::{HrtimerClock, Hrtimers};

/// crash centres numbers in their column, rounding the left pad up.
fn center_number(text: &str, width: usize) -> String {
    let left = width.saturating_sub(text.len()).div_ceil(2);
    let right = width.saturating_sub(left + text.len());
    format!("{}{text}{}", " ".repeat(left), " ".repeat(right))
}

/// Headings over the 16-digit address columns round the left pad down.
fn center_address_heading(text: &str) -> String {
    let left = 16usize.saturating_sub(text.len()) / 2;
    let right = 16usize.saturating_sub(left + text.len());
    format!("{}{text}{}", " ".repeat(left), " ".repeat(right))
}

pub(crate) fn render(h: &Hrtimers) -> String {
    let mut out = String::new();
    for cpu in &h.cpus {
        let _ = writeln!(out, "CPU: {}  HRTIMER_CPU_BASE: {:x}", cpu.cpu, cpu.cpu_base);
        for clock in &cpu.clocks {
            let get_time = clock.get_time.as_deref().map(|n| format!("  [{n}]")).unwrap_or_default();
            let _ = writeln!(out, "  CLOCK: {}  HRTIMER_CLOCK_BASE: {:x}{get_time}", clock.index, clock.base);
            if clock.timers.is_empty() {
                out.push_str("  (empty)\n");
            } else {
                timers(&mut out, clock, h.current);
            }
            if let Some(b) = &clock.broken {
                let _ = writeln!(out, "timer: {b}");
            }
            out.push('\n');
        }
    }
    // Clocks are separated by a blank line; crash ends without one.
    if out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn timers(out: &mut String, clock: &HrtimerClock, current: i64) {
    let widest = |f: &dyn Fn(&krash_commands::output::QueuedHrtimer) -> i64, min: usize| {
        clock.timers.iter().map(|t| f(t).to_string().len()).max().unwrap_or(0).max(min)
    };
    let soft_w = widest(&|t| t.softexpires, "SOFTEXPIRES".len());
    let exp_w = widest(&|t| t.expires, "EXPIRES".len());
    let tte_w = widest(&|t| t.tte, "TTE".len());
    let _ = writeln!(out, "  {}", center_number("CURRENT", soft_w));
    let _ = writeln!(out, "  {}", center_number(&current.to_string(), soft_w));
    let _ = writeln!(
        out,
        "  {}  {}  {}  {}  {}",
        center_number("SOFTEXPIRES", soft_w),
        center_number("EXPIRES", exp_w),
        center_number("TTE", tte_w),
        center_address_heading("HRTIMER"),
        center_address_heading("FUNCTION")
    );
    for t in &clock.timers {
        let name = t.function_name.as_deref().map(|n| format!("  <{n}>")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {}  {}  {:>tte_w$}  {:016x}  {:016x}{name}",
            center_number(&t.softexpires.to_string(), soft_w),
            center_number(&t.expires.to_string(), exp_w),
            t.tte,
            t.hrtimer,
            t.function
        );
    }
}
