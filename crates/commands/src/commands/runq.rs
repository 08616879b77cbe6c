use krash_core::{Error, Result};
use serde::Serialize;

use krash_kernel::sched::{QueuedTask, RunQueue};

use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "runq",
    aliases: &[],
    summary: "run queue of each CPU: current task, RT and CFS queued tasks",
    synopsis: "runq [-t | -m] [-c CPU]",
    details: "  (none)  for each CPU: its struct rq, the task running (CURRENT), the RT priority\n\
              \x20         array with its queued tasks by priority, and the CFS red-black tree's\n\
              \x20         tasks in scheduling order ([prio] PID TASK COMMAND), task groups nested\n\
              \x20 -t      timestamps: each CPU's rq->clock and its current task's last arrival\n\
              \x20 -m      how long each CPU's current task has been running ([days hh:mm:ss.ms],\n\
              \x20         rq->clock minus the task's last arrival)\n\
              \x20 -c CPU  only this CPU (a number)",
    run,
};

/// What `runq` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Runq {
    pub timestamps: bool,
    /// `-m`: time each current task has been running.
    pub running_times: bool,
    pub queues: Vec<RunqCpu>,
}

/// One CPU's queue with its current task's name and timestamp.
#[derive(Debug, Clone, Serialize)]
pub struct RunqCpu {
    pub queue: RunQueue,
    pub current: QueuedTask,
    /// The current task's `sched_info.last_arrival` (ns).
    pub current_last_arrival: u64,
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("runq", args, "tmc:")?;
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
        let task = k.task_by_addr(queue.current).ok();
        let current = QueuedTask {
            prio: 0,
            task: queue.current,
            pid: task.map(|t| t.pid).unwrap_or(-1),
            comm: task.map(|t| t.comm.clone()).unwrap_or_default(),
        };
        let current_last_arrival = task.map(|t| t.last_arrival).unwrap_or(0);
        queues.push(RunqCpu { queue, current, current_last_arrival });
    }
    if let Some(c) = only_cpu {
        if queues.is_empty() {
            return Err(Error::Usage(format!("runq: invalid CPU: {c}")));
        }
    }
    Ok(Output::Runq(Runq { timestamps: p.has('t'), running_times: p.has('m'), queues }))
}
