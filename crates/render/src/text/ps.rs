use std::fmt::Write;

use krash_commands::output::Ps;

use super::task::header as task_header;

/// crash's `ps` table: the `>` mark, right-aligned numbers, kernel threads
/// in brackets.
pub(crate) fn render(ps: &Ps) -> String {
    let mut s = String::new();
    match ps {
        Ps::Table { rows, warnings } => {
            for w in warnings {
                let _ = writeln!(s, "WARNING: {w}");
            }
            s.push_str("      PID    PPID  CPU       TASK        ST  %MEM      VSZ      RSS  COMM\n");
            for r in rows {
                let comm = if r.kernel_thread { format!("[{}]", r.comm) } else { r.comm.clone() };
                let _ = writeln!(
                    s,
                    "{} {:>7} {:>7} {:>3}  {:016x}  {:<2} {:>5.1} {:>8} {:>8}  {}",
                    if r.active { ">" } else { " " },
                    r.pid,
                    r.ppid,
                    r.cpu,
                    r.task,
                    r.state.abbrev(),
                    r.mem_percent,
                    r.vsz_kb,
                    r.rss_kb,
                    comm
                );
            }
        }
        Ps::StateSummary { counts } => {
            for (state, n) in counts {
                let _ = writeln!(s, "  {}: {n}", state.abbrev());
            }
        }
        Ps::Parents { chains } => {
            for chain in chains {
                for (depth, t) in chain.iter().enumerate() {
                    let _ = writeln!(s, "{}{}", " ".repeat(depth), task_header(t));
                }
                s.push('\n');
            }
        }
        Ps::Children { families } | Ps::ThreadGroups { groups: families } => {
            for (parent, kids) in families {
                let _ = writeln!(s, "{}", task_header(parent));
                if kids.is_empty() && matches!(ps, Ps::Children { .. }) {
                    let _ = writeln!(s, "  (no children)");
                }
                for k in kids {
                    let _ = writeln!(s, "  {}", task_header(k));
                }
                s.push('\n');
            }
        }
        Ps::Times { tasks } => {
            for t in tasks {
                let _ = writeln!(s, "{}", task_header(&t.task));
                let run = t.run_time_secs.map(crate::format_uptime).unwrap_or_else(|| "(unknown)".into());
                let _ = writeln!(s, "    RUN TIME: {run}");
                let _ = writeln!(s, "  START TIME: {}", t.start_time_ns);
                let _ = writeln!(s, "       UTIME: {}", t.utime_ns);
                let _ = writeln!(s, "       STIME: {}", t.stime_ns);
                s.push('\n');
            }
        }
        Ps::LastRun { tasks } => {
            for (ts, t) in tasks {
                let _ = writeln!(s, "[{ts}] [{}]  {}", t.state.abbrev(), task_header(t));
            }
        }
        Ps::SinceLastRun { blocks } => {
            for (i, b) in blocks.iter().enumerate() {
                if let Some(cpu) = b.cpu {
                    let _ = writeln!(s, "{}CPU: {cpu}", if i > 0 { "\n" } else { "" });
                }
                // Per CPU, crash pads the days to the width of the clock's.
                let width = b.rq_clock_ns.map_or(0, |c| days_width(&since(c)));
                for t in &b.tasks {
                    let text = since(t.since_ns);
                    let pad = width.saturating_sub(days_width(&text));
                    let _ = writeln!(
                        s,
                        "[{}{text}] [{}]  {}",
                        " ".repeat(pad),
                        t.task.state.abbrev(),
                        task_header(&t.task)
                    );
                }
            }
        }
        Ps::Args { tasks } => {
            for t in tasks {
                let _ = writeln!(s, "{}", task_header(&t.task));
                match &t.args {
                    Ok(a) => {
                        let _ = writeln!(s, "ARG: {}", a.join(" "));
                    }
                    Err(e) => {
                        let _ = writeln!(s, "ARG: (unavailable: {e})");
                    }
                }
                match &t.env {
                    Ok(env) => {
                        let _ = writeln!(s, "ENV: {}", env.join("\n     "));
                    }
                    Err(e) => {
                        let _ = writeln!(s, "ENV: (unavailable: {e})");
                    }
                }
                s.push('\n');
            }
        }
    }
    s
}

/// Nanoseconds as crash's `ps -m` shows them: `days hh:mm:ss.ms`.
fn since(ns: u64) -> String {
    let ms = ns / 1_000_000;
    let secs = ms / 1000;
    let (mins, hours) = (secs / 60, secs / 3600);
    format!("{} {:02}:{:02}:{:02}.{:03}", hours / 24, hours % 24, mins % 60, secs % 60, ms % 1000)
}

/// The width of the days field of [`since`]'s text.
fn days_width(text: &str) -> usize {
    text.find(' ').unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use krash_commands::output::{SinceLastRun, SinceLastRunBlock, TaskHeader, TaskState};

    #[test]
    fn since_last_run_as_crash_prints_it() {
        assert_eq!(since(0), "0 00:00:00.000");
        assert_eq!(since(3_000_000), "0 00:00:00.003");
        // 1 day, 2 h, 3 min, 4.567 s.
        let ns = ((((24 + 2) * 60 + 3) * 60 + 4) * 1000 + 567) * 1_000_000u64;
        assert_eq!(since(ns), "1 02:03:04.567");
        let header = |pid| TaskHeader { pid, task: 0xffff888000001000, cpu: 0, comm: "t".into(), state: TaskState::IN };
        let task = |since_ns, pid| SinceLastRun { since_ns, last_arrival_ns: 0, task: header(pid) };
        let ps = Ps::SinceLastRun {
            blocks: vec![SinceLastRunBlock {
                cpu: Some(0),
                rq_clock_ns: Some(12 * 86_400_000_000_000),
                tasks: vec![task(5_000_000, 7), task(ns, 8)],
            }],
        };
        assert_eq!(
            render(&ps),
            "CPU: 0\n\
             [ 0 00:00:00.005] [IN]  PID: 7        TASK: ffff888000001000  CPU: 0    COMMAND: \"t\"\n\
             [ 1 02:03:04.567] [IN]  PID: 8        TASK: ffff888000001000  CPU: 0    COMMAND: \"t\"\n"
        );
    }
}
