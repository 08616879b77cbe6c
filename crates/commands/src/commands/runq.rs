use krash_core::{Error, Result};
use krash_linux::sched::runq::RunqExt;
use krash_linux::sched::task::TaskExt;

use krash_linux::sched::runq::{QueuedTask, RunQueue};

use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "runq",
    aliases: &[],
    summary: "run queue of each CPU: current task, RT and CFS queued tasks",
    synopsis: "runq [-t | -m | -g] [-c CPU]",
    details: "  (none)  for each CPU: its struct rq, the task running (CURRENT), the RT priority\n\
              \x20         array with its queued tasks by priority, and the CFS red-black tree's\n\
              \x20         tasks in scheduling order ([prio] PID TASK COMMAND), task groups nested\n\
              \x20 -t      timestamps: each CPU's rq->clock and its current task's last arrival\n\
              \x20 -m      how long each CPU's current task has been running ([days hh:mm:ss.ms],\n\
              \x20         rq->clock minus the task's last arrival)\n\
              \x20 -g      by task group: each CPU's root task group and its cfs_rq, the\n\
              \x20         current task marked [CURRENT] when it is a CFS task, queued tasks\n\
              \x20         and nested TASK_GROUP/CFS_RQ queues\n\
              \x20 -c CPU  only this CPU (a number)",
    run,
};

/// What `runq` shows.
#[derive(Debug, Clone)]
pub struct Runq {
    pub timestamps: bool,
    /// `-m`: time each current task has been running.
    pub running_times: bool,
    pub queues: Vec<RunqCpu>,
    /// `-g`: show the queues by task group.
    pub groups: bool,
}

/// `runq -g`: what one CPU's task-group view adds to its queue.
#[derive(Debug, Clone)]
pub struct GroupView {
    pub root_task_group: u64,
    /// The root `cfs_rq` (`&rq->cfs`).
    pub cfs_rq: u64,
    /// The current task's prio when it is the root cfs_rq's running entity.
    pub current_prio: Option<i32>,
    /// Each nested group queue's `cfs_rq` and its `task_group` (`cfs_rq->tg`).
    pub group_of: Vec<(u64, u64)>,
}

/// One CPU's queue with its current task's name and timestamp.
#[derive(Debug, Clone)]
pub struct RunqCpu {
    pub queue: RunQueue,
    pub current: QueuedTask,
    /// The current task's `sched_info.last_arrival` (ns).
    pub current_last_arrival: u64,
    /// `-g` only.
    pub group: Option<GroupView>,
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("runq", args, "tmgc:")?;
    if let Some(extra) = p.args.first() {
        return Err(Error::Usage(format!("runq: unexpected argument: {extra}")));
    }
    let only_cpu = match p.value('c') {
        Some(v) => Some(v.parse::<u32>().map_err(|_| Error::Usage(format!("runq: invalid CPU: {v}")))?),
        None => None,
    };
    let k = &session.kernel;
    let mut queues = Vec::new();
    for queue in k.run_queues()? {
        if only_cpu.is_some_and(|c| c != queue.cpu) {
            continue;
        }
        let task = k.task_at(queue.current).ok();
        let current = QueuedTask {
            prio: 0,
            task: queue.current,
            pid: task.as_ref().map(|t| t.pid).unwrap_or(-1),
            comm: task.as_ref().map(|t| t.comm.clone()).unwrap_or_default(),
        };
        let current_last_arrival = task.as_ref().map(|t| t.last_arrival).unwrap_or(0);
        let group = if p.has('g') { Some(group_view(k, &queue)?) } else { None };
        queues.push(RunqCpu { queue, current, current_last_arrival, group });
    }
    if let Some(c) = only_cpu {
        if queues.is_empty() {
            return Err(Error::Usage(format!("runq: invalid CPU: {c}")));
        }
    }
    Ok(Output::Runq(Runq { timestamps: p.has('t'), running_times: p.has('m'), queues, groups: p.has('g') }))
}

fn group_view(k: &krash_program::Kernel, queue: &RunQueue) -> Result<GroupView> {
    // A kernel built without CONFIG_CGROUP_SCHED has no task groups: -g
    // has nothing to show there (crash refuses too).
    let root_task_group = k.symbol_addr("root_task_group").map_err(|_| {
        Error::Unsupported(
            "runq: -g is not applicable: this kernel has no task groups (no root_task_group: built without \
             CONFIG_CGROUP_SCHED)"
                .into(),
        )
    })?;
    let cfs_rq = k.field_addr(queue.rq, "rq", "cfs")?;
    let running = k.read_field_u64(cfs_rq, "cfs_rq", "curr")?;
    let current_se = k.field_addr(queue.current, "task_struct", "se")?;
    let current_prio = if running != 0 && running == current_se {
        Some(k.read_field(queue.current, "task_struct", "prio")? as i32)
    } else {
        None
    };
    let mut group_of = Vec::new();
    collect_groups(k, &queue.cfs, &mut group_of);
    Ok(GroupView { root_task_group, cfs_rq, current_prio, group_of })
}

fn collect_groups(k: &krash_program::Kernel, q: &krash_linux::sched::runq::CfsQueue, out: &mut Vec<(u64, u64)>) {
    for e in &q.entries {
        if let krash_linux::sched::runq::CfsEntry::Group { cfs_rq, queue } = e {
            out.push((*cfs_rq, k.read_field_u64(*cfs_rq, "cfs_rq", "tg").unwrap_or(0)));
            collect_groups(k, queue, out);
        }
    }
}
