use krash_core::{Error, Result};
use krash_kernel::Task;
use serde::Serialize;

use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "ps",
    aliases: &[],
    summary: "process status: every task and thread",
    synopsis: "ps [-k|-u] [-G] [-S] [pid | task | command] ...",
    details: "  pid      only the task with this PID\n\
              \x20 task     only the task_struct at this hexadecimal address\n\
              \x20 command  only tasks whose COMM is this name ('name' or a regex in single quotes)\n\
              \x20 -k       kernel threads only\n\
              \x20 -u       user tasks only\n\
              \x20 -G       thread-group leaders only\n\
              \x20 -S       a count of tasks in each state\n\
              The '>' mark flags the task active on each CPU.",
    run,
};

/// One `ps` line.
#[derive(Debug, Clone, Serialize)]
pub struct PsRow {
    pub active: bool,
    pub pid: i32,
    pub ppid: i32,
    pub cpu: u32,
    pub task: u64,
    pub state: String,
    pub mem_percent: f64,
    pub vsz_kb: u64,
    pub rss_kb: u64,
    pub comm: String,
    pub kernel_thread: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "view", rename_all = "snake_case")]
pub enum Ps {
    Table { rows: Vec<PsRow> },
    StateSummary { counts: Vec<(String, usize)> },
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("ps", args, "kuGS")?;
    let k = &session.kernel;
    let tasks = k.tasks()?;
    let selected: Vec<&Task> = tasks
        .iter()
        .filter(|t| !p.has('k') || t.is_kernel_thread())
        .filter(|t| !p.has('u') || !t.is_kernel_thread())
        .filter(|t| !p.has('G') || t.is_thread_group_leader())
        .filter(|t| p.args.is_empty() || p.args.iter().any(|a| matches_filter(t, a)))
        .collect();
    if !p.args.is_empty() && selected.is_empty() {
        return Err(Error::NotFound(format!("ps: no task matches {}", p.args.join(" "))));
    }
    if p.has('S') {
        let mut counts: Vec<(String, usize)> = Vec::new();
        for t in &selected {
            let s = t.state.abbrev().to_string();
            match counts.iter_mut().find(|(name, _)| *name == s) {
                Some((_, n)) => *n += 1,
                None => counts.push((s, 1)),
            }
        }
        return Ok(Output::Ps(Ps::StateSummary { counts }));
    }
    let total_pages = k.read_symbol_u64("_totalram_pages").unwrap_or(0);
    let rows = selected
        .into_iter()
        .map(|t| {
            let usage = k.mm_usage(t.mm).unwrap_or_default();
            PsRow {
                active: t.active,
                pid: t.pid,
                ppid: t.ppid,
                cpu: t.cpu,
                task: t.addr,
                state: t.state.abbrev().to_string(),
                mem_percent: if total_pages > 0 {
                    usage.rss_pages as f64 * 100.0 / total_pages as f64
                } else {
                    0.0
                },
                vsz_kb: usage.total_vm_pages * 4,
                rss_kb: usage.rss_pages * 4,
                comm: t.comm.clone(),
                kernel_thread: t.is_kernel_thread(),
            }
        })
        .collect();
    Ok(Output::Ps(Ps::Table { rows }))
}

/// crash's filter rules: a decimal PID, a hex task address, or a command
/// name (`'regex'` in single quotes for a pattern).
fn matches_filter(t: &Task, arg: &str) -> bool {
    if let Ok(pid) = arg.parse::<i32>() {
        return t.pid == pid;
    }
    if let Some(addr) = crate::parse_hex(arg) {
        if addr == t.addr {
            return true;
        }
    }
    t.comm == arg
}
