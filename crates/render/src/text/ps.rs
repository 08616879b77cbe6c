use std::fmt::Write;

use krash_commands::output::Ps;

/// crash's `ps` table: the `>` mark, right-aligned numbers, kernel threads
/// in brackets.
pub(crate) fn render(ps: &Ps) -> String {
    let mut s = String::new();
    match ps {
        Ps::Table { rows } => {
            s.push_str("      PID    PPID  CPU       TASK        ST  %MEM      VSZ      RSS  COMM\n");
            for r in rows {
                let comm = if r.kernel_thread {
                    format!("[{}]", r.comm)
                } else {
                    r.comm.clone()
                };
                let _ = writeln!(
                    s,
                    "{} {:>7} {:>7} {:>3}  {:016x}  {:<2} {:>5.1} {:>8} {:>8}  {}",
                    if r.active { ">" } else { " " },
                    r.pid,
                    r.ppid,
                    r.cpu,
                    r.task,
                    r.state,
                    r.mem_percent,
                    r.vsz_kb,
                    r.rss_kb,
                    comm
                );
            }
        }
        Ps::StateSummary { counts } => {
            for (state, n) in counts {
                let _ = writeln!(s, "  {state}: {n}");
            }
        }
    }
    s
}
