use std::collections::BTreeMap;

use krash_core::{Error, Result};
use krash_linux::mm::rss::RssExt;
use krash_linux::sched::task::TaskExt;
use krash_linux::sched::task::{Task, TaskState};
use krash_linux::system::SystemExt;
use krash_program::Kernel;

use crate::header::TaskHeader;
use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "ps",
    aliases: &[],
    summary: "process status: every task and thread",
    synopsis: "ps [-k|-u] [-G] [-S|-p|-c|-t|-l|-m [-C cpus]|-a|-g] [pid | task | command] ...",
    details: "  pid      only the task with this PID\n\
              \x20 task     only the task_struct at this hexadecimal address\n\
              \x20 command  only tasks whose COMM is exactly this name\n\
              \x20 -k       kernel threads only\n\
              \x20 -u       user tasks only\n\
              \x20 -G       thread-group leaders only\n\
              \x20 -S       a count of tasks in each state\n\
              \x20 -p       each task's parents, up to PID 0\n\
              \x20 -c       each task's children\n\
              \x20 -t       run time, start time, user and system time\n\
              \x20 -l       last-run timestamps (sched_info.last_arrival, ns), most recent first\n\
              \x20 -m       as -l, but the time since the task last ran, [days hh:mm:ss.ms]: its\n\
              \x20          CPU's run-queue clock (rq.clock) minus its last_arrival\n\
              \x20 -C cpus  with -m: one block per CPU (\"1,3\", \"0-2\", \"all\" or \"a\"), each\n\
              \x20          CPU's tasks most recent first, the days padded to its clock's\n\
              \x20 -a       command-line arguments and environment (from user memory)\n\
              \x20 -g       the threads of each task's thread group\n\
              The '>' mark flags the task active on each CPU.",
    run,
};

/// One `ps` line.
#[derive(Debug, Clone)]
pub struct PsRow {
    pub active: bool,
    pub pid: i32,
    pub ppid: i32,
    pub cpu: u32,
    pub task: u64,
    pub state: TaskState,
    pub mem_percent: f64,
    pub vsz_kb: u64,
    pub rss_kb: u64,
    pub comm: String,
    pub kernel_thread: bool,
}

/// `ps -t` times, in nanoseconds except where named.
#[derive(Debug, Clone)]
pub struct TaskTimes {
    pub task: TaskHeader,
    pub run_time_secs: Option<u64>,
    pub start_time_ns: u64,
    pub utime_ns: u64,
    pub stime_ns: u64,
}

/// `ps -a`: a process's argv and environment, or why they are unreadable.
#[derive(Debug, Clone)]
pub struct TaskArgs {
    pub task: TaskHeader,
    pub args: Result<Vec<String>, String>,
    pub env: Result<Vec<String>, String>,
}

/// One task of `ps -m`.
#[derive(Debug, Clone)]
pub struct SinceLastRun {
    /// The run-queue clock of the task's CPU minus its last arrival, ns
    /// (0 when the arrival is later than the clock, as crash clamps it).
    pub since_ns: u64,
    /// `sched_info.last_arrival`, ns.
    pub last_arrival_ns: u64,
    pub task: TaskHeader,
}

/// A block of `ps -m`: every task, or (`-C`) one CPU's.
#[derive(Debug, Clone)]
pub struct SinceLastRunBlock {
    /// The CPU of a `-C` block.
    pub cpu: Option<u32>,
    /// That CPU's `rq->clock` (ns), which sets the days column's width.
    pub rq_clock_ns: Option<u64>,
    pub tasks: Vec<SinceLastRun>,
}

#[derive(Debug, Clone)]
pub enum Ps {
    /// `warnings`: problems met while listing tasks (a broken task list).
    Table {
        rows: Vec<PsRow>,
        warnings: Vec<String>,
    },
    /// `-S`: how many tasks are in each state, in order of first appearance.
    StateSummary {
        counts: Vec<(TaskState, usize)>,
    },
    /// `-p`: for each task, its ancestry from PID 0 down to it.
    Parents {
        chains: Vec<Vec<TaskHeader>>,
    },
    /// `-c`: each task and its children.
    Children {
        families: Vec<(TaskHeader, Vec<TaskHeader>)>,
    },
    /// `-g`: each thread-group leader and its other threads.
    ThreadGroups {
        groups: Vec<(TaskHeader, Vec<TaskHeader>)>,
    },
    Times {
        tasks: Vec<TaskTimes>,
    },
    /// `-l`: (last_arrival ns, task), most recent first.
    LastRun {
        tasks: Vec<(u64, TaskHeader)>,
    },
    /// `-m`: how long before the crash each task last ran. Without `-C`
    /// one block (`cpu` None) of every task; with it one block per CPU.
    SinceLastRun {
        blocks: Vec<SinceLastRunBlock>,
    },
    Args {
        tasks: Vec<TaskArgs>,
    },
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("ps", args, "kuGSpctlagmC:")?;
    if p.has('C') && !p.has('m') {
        return Err(Error::Usage("ps: -C is supported with -m only".into()));
    }
    if p.has('m') && p.has('G') {
        return Err(Error::Usage("ps: -G not supported with -m option".into()));
    }
    if p.has('C') && !p.args.is_empty() {
        return Err(Error::Usage("ps: -C option is not applicable with specified tasks".into()));
    }
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
    if let Some(view) = per_task_view(session, &p, &selected)? {
        return Ok(Output::Ps(view));
    }
    let k = &session.kernel;
    if p.has('S') {
        let mut counts: Vec<(TaskState, usize)> = Vec::new();
        for t in &selected {
            // crash counts by the two letters it shows: every unknown state is one `??`.
            let s = t.state;
            match counts.iter_mut().find(|(state, _)| state.abbrev() == s.abbrev()) {
                Some((_, n)) => *n += 1,
                None => counts.push((s, 1)),
            }
        }
        return Ok(Output::Ps(Ps::StateSummary { counts }));
    }
    let total_pages = k.read_symbol_u64("_totalram_pages").unwrap_or(0);
    let page_size = k.memory().page_size();
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
                state: t.state,
                mem_percent: if total_pages > 0 { usage.rss_pages as f64 * 100.0 / total_pages as f64 } else { 0.0 },
                vsz_kb: pages_to_kb(usage.total_vm_pages, page_size),
                rss_kb: pages_to_kb(usage.rss_pages, page_size),
                comm: t.comm.clone(),
                kernel_thread: t.is_kernel_thread(),
            }
        })
        .collect();
    let warnings = k.task_list_problems().to_vec();
    Ok(Output::Ps(Ps::Table { rows, warnings }))
}

/// Kilobytes in `pages` pages of `page_size` bytes (arm64 kernels use 4,
/// 16 or 64 KiB pages).
pub(crate) fn pages_to_kb(pages: u64, page_size: u64) -> u64 {
    pages.saturating_mul(page_size / 1024)
}

/// The `-p -c -g -t -l -a` views, or None for the plain table.
fn per_task_view(session: &Session, p: &getopt::Parsed, selected: &[&Task]) -> Result<Option<Ps>> {
    let k = &session.kernel;
    let all = k.tasks()?;
    let by_addr = |a: u64| all.iter().find(|t| t.addr == a);
    if p.has('p') {
        let chains = selected
            .iter()
            .map(|t| {
                let mut chain = vec![TaskHeader::of(t)];
                let mut cur = *t;
                // Bounded: a corrupt parent loop cannot run forever.
                for _ in 0..all.len() {
                    if cur.pid == 0 {
                        break;
                    }
                    match by_addr(cur.parent) {
                        Some(parent) if parent.addr != cur.addr => {
                            chain.push(TaskHeader::of(parent));
                            cur = parent;
                        }
                        _ => break,
                    }
                }
                chain.reverse();
                chain
            })
            .collect();
        return Ok(Some(Ps::Parents { chains }));
    }
    if p.has('c') {
        let families = selected
            .iter()
            .map(|t| {
                let kids = all
                    .iter()
                    .filter(|c| c.parent == t.addr && c.addr != t.addr && c.is_thread_group_leader() && !c.idle)
                    .map(TaskHeader::of)
                    .collect();
                (TaskHeader::of(t), kids)
            })
            .collect();
        return Ok(Some(Ps::Children { families }));
    }
    if p.has('g') {
        let mut groups: Vec<(TaskHeader, Vec<TaskHeader>)> = Vec::new();
        for t in selected.iter().filter(|t| t.is_thread_group_leader() && !t.idle) {
            let threads =
                all.iter().filter(|c| c.tgid == t.tgid && c.addr != t.addr && !c.idle).map(TaskHeader::of).collect();
            groups.push((TaskHeader::of(t), threads));
        }
        return Ok(Some(Ps::ThreadGroups { groups }));
    }
    if p.has('t') {
        let uptime_ns = k.uptime_secs().ok().map(|s| s.saturating_mul(1_000_000_000));
        let tasks = selected
            .iter()
            .map(|t| {
                let read = |m: &str| k.read_field_u64(t.addr, "task_struct", m).unwrap_or(0);
                let start_time_ns = read("start_time");
                TaskTimes {
                    task: TaskHeader::of(t),
                    run_time_secs: uptime_ns.map(|u| u.saturating_sub(start_time_ns) / 1_000_000_000),
                    start_time_ns,
                    utime_ns: read("utime"),
                    stime_ns: read("stime"),
                }
            })
            .collect();
        return Ok(Some(Ps::Times { tasks }));
    }
    if p.has('m') {
        // Without CONFIG_SCHED_INFO there is no arrival time to measure from.
        if !k.layouts().has_field("sched_info", "last_arrival") {
            return Err(Error::NotFound("ps: last-run timestamps do not exist in this kernel".into()));
        }
        return Ok(Some(Ps::SinceLastRun { blocks: since_last_run(k, p.value('C'), selected)? }));
    }
    if p.has('l') {
        let mut tasks: Vec<(u64, TaskHeader)> = selected.iter().map(|t| (t.last_arrival, TaskHeader::of(t))).collect();
        tasks.sort_by_key(|t| std::cmp::Reverse(t.0));
        return Ok(Some(Ps::LastRun { tasks }));
    }
    if p.has('a') {
        let tasks = selected
            .iter()
            .filter(|t| !t.is_kernel_thread())
            .map(|t| {
                let (args, env) = match k.process_strings(t.mm) {
                    Ok((a, e)) => (Ok(a), Ok(e)),
                    Err(e) => (Err(e.to_string()), Err(e.to_string())),
                };
                TaskArgs { task: TaskHeader::of(t), args, env }
            })
            .collect();
        return Ok(Some(Ps::Args { tasks }));
    }
    Ok(None)
}

/// `ps -m`: each task's CPU's `rq->clock` minus its last arrival, in the
/// order of `-l` (most recent arrival first, as crash sorts them); with
/// `-C`, one block per listed CPU.
fn since_last_run(k: &Kernel, cpus: Option<&str>, selected: &[&Task]) -> Result<Vec<SinceLastRunBlock>> {
    let present = k.present_cpus()?;
    // One read per CPU: `rq->clock`, crash's rq timestamp on current kernels.
    let clocks: BTreeMap<u32, u64> = present
        .iter()
        .filter_map(|&cpu| {
            let rq = k.percpu_addr("runqueues", cpu).ok()?;
            Some((cpu, k.read_field_u64(rq, "rq", "clock").ok()?))
        })
        .collect();
    let mut sorted: Vec<&Task> = selected.to_vec();
    // Stable: tasks with equal arrivals keep the task list's order.
    sorted.sort_by_key(|t| std::cmp::Reverse(t.last_arrival));
    let entry = |t: &Task| -> Result<SinceLastRun> {
        let clock = clocks
            .get(&t.cpu)
            .ok_or_else(|| Error::NotFound(format!("ps: cannot read the run queue clock of CPU {}", t.cpu)))?;
        Ok(SinceLastRun {
            since_ns: clock.saturating_sub(t.last_arrival),
            last_arrival_ns: t.last_arrival,
            task: TaskHeader::of(t),
        })
    };
    let Some(spec) = cpus else {
        let tasks = sorted.iter().map(|t| entry(t)).collect::<Result<_>>()?;
        return Ok(vec![SinceLastRunBlock { cpu: None, rq_clock_ns: None, tasks }]);
    };
    let wanted: Vec<u32> = if spec == "all" || spec == "a" {
        present.clone()
    } else {
        let mut list =
            super::bt::parse_cpus(spec).map_err(|_| Error::Usage(format!("ps: invalid CPU list: {spec}")))?;
        list.sort_unstable();
        list.dedup();
        list
    };
    let mut blocks = Vec::new();
    for cpu in wanted {
        if !present.contains(&cpu) {
            return Err(Error::Usage(format!("ps: invalid cpu: {cpu}")));
        }
        let tasks = sorted.iter().filter(|t| t.cpu == cpu).map(|t| entry(t)).collect::<Result<_>>()?;
        blocks.push(SinceLastRunBlock { cpu: Some(cpu), rq_clock_ns: clocks.get(&cpu).copied(), tasks });
    }
    Ok(blocks)
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

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_follow_the_page_size() {
        assert_eq!(super::pages_to_kb(364, 4096), 1456);
        assert_eq!(super::pages_to_kb(364, 65536), 23296);
        assert_eq!(super::pages_to_kb(3, 16384), 48);
    }
}
