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
