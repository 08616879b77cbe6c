use std::fmt::Write;

use krash_commands::output::{GroupSignals, Pending, SigOutput, TaskSignals};

use super::dev::centered;
use super::task::header;

/// sa_flags bits crash names, in its order.
const SA_FLAGS: [(u64, &str); 7] = [
    (0x0000_0001, "SA_NOCLDSTOP"),
    (0x0400_0000, "SA_RESTORER"),
    (0x0000_0002, "SA_NOCLDWAIT"),
    (0x0000_0004, "SA_SIGINFO"),
    (0x0800_0000, "SA_ONSTACK"),
    (0x1000_0000, "SA_RESTART"),
    (0x4000_0000, "SA_NODEFER"),
];
const SA_RESETHAND: u64 = 0x8000_0000;

pub(crate) fn render(s: &SigOutput) -> String {
    let mut out = String::new();
    match s {
        SigOutput::List { signals } => {
            for (n, name) in signals {
                let _ = writeln!(out, "{}[{n}] {name}", if *n < 10 { " " } else { "" });
            }
        }
        SigOutput::Set { signals, .. } => sigset_names(&mut out, signals),
        SigOutput::Tasks { tasks } => {
            for t in tasks {
                let _ = writeln!(out, "{}", header(&t.header));
                if let Some(g) = &t.group {
                    actions(&mut out, g);
                }
                if let Some(task) = &t.task {
                    task_level(&mut out, task, "");
                }
                if let Some(g) = &t.group {
                    out.push_str("SHARED_PENDING\n");
                    pending(&mut out, &g.shared_pending, "");
                }
                for th in &t.threads {
                    let _ = writeln!(out, "\n  {}", header(&th.header));
                    task_level(&mut out, &th.signals, "  ");
                }
                out.push('\n');
            }
        }
    }
    out
}

/// The primary names (no aliases) on lines of at most 80 columns.
fn sigset_names(out: &mut String, signals: &[(u64, String)]) {
    if signals.is_empty() {
        out.push_str("(none)\n");
        return;
    }
    let mut len = 0;
    for (i, (_, name)) in signals.iter().enumerate() {
        let primary = name.split('/').next().unwrap_or(name);
        let word = if i == 0 { primary.to_string() } else { format!(" {primary}") };
        if len + word.len() > 80 {
            out.push('\n');
            out.push_str(word.trim_start());
            len = word.len() - 1;
        } else {
            out.push_str(&word);
            len += word.len();
        }
    }
    out.push('\n');
}

fn actions(out: &mut String, g: &GroupSignals) {
    let _ = writeln!(out, "SIGNAL_STRUCT: {:x}  NR_THREADS: {}", g.signal_struct, g.nr_threads);
    let _ = writeln!(
        out,
        " SIG {} {:>10} {} {:<16}",
        centered("SIGACTION", 16, false),
        "HANDLER",
        centered("MASK", 16, false),
        "FLAGS"
    );
    for a in &g.actions {
        let handler = match a.handler {
            u64::MAX => "SIG_ERR".to_string(),
            0 => "SIG_DFL".to_string(),
            1 => "SIG_IGN".to_string(),
            h => format!("{h:x}"),
        };
        let _ = write!(
            out,
            "{}[{}] {:<10x} {:>10} {:016x} {:x} ",
            if a.signal < 10 { " " } else { "" },
            a.signal,
            a.sigaction,
            handler,
            a.mask,
            a.flags
        );
        if a.flags != 0 {
            let mut names: Vec<&str> = SA_FLAGS.iter().filter(|(bit, _)| a.flags & bit != 0).map(|(_, n)| *n).collect();
            if a.flags & SA_RESETHAND != 0 {
                names.push("SA_RESETHAND");
            }
            if !names.is_empty() {
                let _ = write!(out, "({})", names.join("|"));
            }
        }
        out.push('\n');
    }
}

fn task_level(out: &mut String, t: &TaskSignals, indent: &str) {
    let _ = writeln!(out, "{indent}SIGPENDING: {}", if t.sigpending { "yes" } else { "no" });
    let _ = writeln!(out, "{indent}   BLOCKED: {:016x}", t.blocked);
    let _ = writeln!(out, "{indent}PRIVATE_PENDING");
    pending(out, &t.pending, indent);
}

fn pending(out: &mut String, p: &Pending, indent: &str) {
    let _ = writeln!(out, "{indent}    SIGNAL: {:016x}", p.signal);
    if p.queue.is_empty() {
        let _ = writeln!(out, "{indent}  SIGQUEUE: (empty)");
        return;
    }
    let _ = writeln!(out, "{indent}  SIGQUEUE:  SIG  {}", centered("SIGINFO", 16, false));
    for q in &p.queue {
        let _ = writeln!(out, "             {:>3}  {:x}", q.signal, q.siginfo);
    }
}
