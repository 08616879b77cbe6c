//! Documents of `ps`, `runq`, `sig` and `waitq`.

use schemars::JsonSchema;
use serde::Serialize;

use super::common::{tasks, Task, TaskState};
use super::numbers::{hex, Hex, U64Decimal};
use crate::output as out;

/// `ps`: the process table, or one of its other views.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "view", rename_all = "snake_case")]
pub enum PsData {
    /// The process table; `warnings`: problems met listing tasks.
    Table { rows: Vec<PsRow>, warnings: Vec<String> },
    /// `-S`: how many tasks are in each state.
    StateSummary { counts: Vec<StateCount> },
    /// `-p`: each task's ancestry, from PID 0 down to the task.
    Parents { chains: Vec<Vec<Task>> },
    /// `-c`: each task and its children.
    Children { families: Vec<TaskFamily> },
    /// `-g`: each thread-group leader and its other threads.
    ThreadGroups { groups: Vec<ThreadGroup> },
    /// `-t`: run, start, user and system times.
    Times { tasks: Vec<TaskTimes> },
    /// `-l`: last-run timestamps, most recent first.
    LastRun { tasks: Vec<LastRun> },
    /// `-a`: arguments and environment.
    Args { tasks: Vec<TaskArgs> },
    /// `-m`: how long before the crash each task last ran; one block
    /// (`cpu` null) without `-C`, one per CPU with it.
    SinceLastRun { blocks: Vec<SinceLastRunBlock> },
}

/// A block of `ps -m`: every task, or one CPU's (`-C`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SinceLastRunBlock {
    /// The CPU of a `-C` block; null for the block of every task.
    pub cpu: Option<u32>,
    /// That CPU's run-queue clock (`rq->clock`), nanoseconds.
    pub rq_clock_ns: Option<U64Decimal>,
    /// Most recent arrival first.
    pub tasks: Vec<SinceLastRun>,
}

/// How long before the crash a task last ran.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SinceLastRun {
    /// Its CPU's `rq->clock` minus `last_arrival_ns`, nanoseconds (0 when
    /// the arrival is the later, as crash clamps it).
    pub since_ns: U64Decimal,
    /// `sched_info.last_arrival`, nanoseconds.
    pub last_arrival_ns: U64Decimal,
    pub task: Task,
}

/// One `ps` line.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PsRow {
    /// The task running on its CPU (crash's `>` mark).
    pub active: bool,
    pub pid: i32,
    pub ppid: i32,
    pub cpu: u32,
    pub task: Hex,
    pub state: TaskState,
    pub mem_percent: f64,
    pub vsz_kb: u64,
    pub rss_kb: u64,
    pub comm: String,
    pub kernel_thread: bool,
}

/// A state and how many tasks are in it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StateCount {
    pub state: TaskState,
    pub count: usize,
}

/// A task and its children.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TaskFamily {
    pub task: Task,
    pub children: Vec<Task>,
}

/// A thread-group leader and its other threads.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ThreadGroup {
    pub leader: Task,
    pub threads: Vec<Task>,
}

/// A task's times.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TaskTimes {
    pub task: Task,
    /// Seconds since the task started, up to the crash.
    pub run_time_secs: Option<u64>,
    /// Nanoseconds since boot.
    pub start_time_ns: U64Decimal,
    pub utime_ns: U64Decimal,
    pub stime_ns: U64Decimal,
}

/// When a task last ran.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LastRun {
    /// `sched_info.last_arrival`, nanoseconds.
    pub last_arrival_ns: U64Decimal,
    pub task: Task,
}

/// A process's arguments and environment, or why they are unreadable.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TaskArgs {
    pub task: Task,
    pub args: Option<Vec<String>>,
    pub env: Option<Vec<String>>,
    pub error: Option<String>,
}

impl From<&out::Ps> for PsData {
    fn from(p: &out::Ps) -> Self {
        match p {
            out::Ps::Table { rows, warnings } => PsData::Table {
                rows: rows
                    .iter()
                    .map(|r| PsRow {
                        active: r.active,
                        pid: r.pid,
                        ppid: r.ppid,
                        cpu: r.cpu,
                        task: hex(r.task),
                        state: r.state.into(),
                        mem_percent: r.mem_percent,
                        vsz_kb: r.vsz_kb,
                        rss_kb: r.rss_kb,
                        comm: r.comm.clone(),
                        kernel_thread: r.kernel_thread,
                    })
                    .collect(),
                warnings: warnings.clone(),
            },
            out::Ps::StateSummary { counts } => PsData::StateSummary {
                counts: counts.iter().map(|(s, n)| StateCount { state: (*s).into(), count: *n }).collect(),
            },
            out::Ps::Parents { chains } => PsData::Parents { chains: chains.iter().map(|c| tasks(c)).collect() },
            out::Ps::Children { families } => PsData::Children {
                families: families
                    .iter()
                    .map(|(t, kids)| TaskFamily { task: t.into(), children: tasks(kids) })
                    .collect(),
            },
            out::Ps::ThreadGroups { groups } => PsData::ThreadGroups {
                groups: groups.iter().map(|(l, th)| ThreadGroup { leader: l.into(), threads: tasks(th) }).collect(),
            },
            out::Ps::Times { tasks: t } => PsData::Times {
                tasks: t
                    .iter()
                    .map(|t| TaskTimes {
                        task: (&t.task).into(),
                        run_time_secs: t.run_time_secs,
                        start_time_ns: U64Decimal(t.start_time_ns),
                        utime_ns: U64Decimal(t.utime_ns),
                        stime_ns: U64Decimal(t.stime_ns),
                    })
                    .collect(),
            },
            out::Ps::LastRun { tasks: t } => PsData::LastRun {
                tasks: t.iter().map(|(ns, h)| LastRun { last_arrival_ns: U64Decimal(*ns), task: h.into() }).collect(),
            },
            out::Ps::SinceLastRun { blocks } => PsData::SinceLastRun {
                blocks: blocks
                    .iter()
                    .map(|b| SinceLastRunBlock {
                        cpu: b.cpu,
                        rq_clock_ns: b.rq_clock_ns.map(U64Decimal),
                        tasks: b
                            .tasks
                            .iter()
                            .map(|t| SinceLastRun {
                                since_ns: U64Decimal(t.since_ns),
                                last_arrival_ns: U64Decimal(t.last_arrival_ns),
                                task: (&t.task).into(),
                            })
                            .collect(),
                    })
                    .collect(),
            },
            out::Ps::Args { tasks: t } => PsData::Args {
                tasks: t
                    .iter()
                    .map(|a| TaskArgs {
                        task: (&a.task).into(),
                        args: a.args.as_ref().ok().cloned(),
                        env: a.env.as_ref().ok().cloned(),
                        error: a.args.as_ref().err().or(a.env.as_ref().err()).cloned(),
                    })
                    .collect(),
            },
        }
    }
}

/// `runq`: each CPU's run queue.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RunqData {
    pub queues: Vec<RunQueue>,
}

/// One CPU's run queue.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RunQueue {
    pub cpu: u32,
    /// The struct rq.
    pub rq: Hex,
    pub current: RunqCurrent,
    /// `rq->clock`, nanoseconds.
    pub clock_ns: U64Decimal,
    /// The RT priority array.
    pub rt_array: Hex,
    pub rt_tasks: Vec<QueuedTask>,
    pub cfs: CfsQueue,
    pub problems: Vec<String>,
    /// `-g`: the task-group view.
    pub group: Option<GroupView>,
}

/// The task running on a CPU.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RunqCurrent {
    pub task: Hex,
    /// -1 when the task could not be read.
    pub pid: i32,
    pub comm: String,
    /// Its `sched_info.last_arrival`, nanoseconds.
    pub last_arrival_ns: U64Decimal,
}

/// A queued task.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct QueuedTask {
    pub prio: i32,
    pub task: Hex,
    pub pid: i32,
    pub comm: String,
}

/// A CFS red-black tree, in scheduling order.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CfsQueue {
    pub rb_root: Hex,
    pub entries: Vec<CfsEntry>,
    pub broken: Option<String>,
}

/// A CFS entity: a task, or a task group's queue.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CfsEntry {
    Task { prio: i32, task: Hex, pid: i32, comm: String },
    Group { cfs_rq: Hex, queue: CfsQueue },
}

/// What `runq -g` adds.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct GroupView {
    pub root_task_group: Hex,
    /// The root cfs_rq (`&rq->cfs`).
    pub cfs_rq: Hex,
    /// The current task's prio when it is the root cfs_rq's running entity.
    pub current_prio: Option<i32>,
    /// Each nested group queue and its task_group.
    pub groups: Vec<GroupQueue>,
}

/// A group cfs_rq and its task_group.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct GroupQueue {
    pub cfs_rq: Hex,
    pub task_group: Hex,
}

fn queued(t: &out::QueuedTask) -> QueuedTask {
    QueuedTask { prio: t.prio, task: hex(t.task), pid: t.pid, comm: t.comm.clone() }
}

fn cfs(q: &out::CfsQueue) -> CfsQueue {
    CfsQueue {
        rb_root: hex(q.rb_root),
        entries: q
            .entries
            .iter()
            .map(|e| match e {
                out::CfsEntry::Task(t) => {
                    CfsEntry::Task { prio: t.prio, task: hex(t.task), pid: t.pid, comm: t.comm.clone() }
                }
                out::CfsEntry::Group { cfs_rq, queue } => CfsEntry::Group { cfs_rq: hex(*cfs_rq), queue: cfs(queue) },
            })
            .collect(),
        broken: q.broken.clone(),
    }
}

impl From<&out::Runq> for RunqData {
    fn from(r: &out::Runq) -> Self {
        RunqData {
            queues: r
                .queues
                .iter()
                .map(|c| RunQueue {
                    cpu: c.queue.cpu,
                    rq: hex(c.queue.rq),
                    current: RunqCurrent {
                        task: hex(c.current.task),
                        pid: c.current.pid,
                        comm: c.current.comm.clone(),
                        last_arrival_ns: U64Decimal(c.current_last_arrival),
                    },
                    clock_ns: U64Decimal(c.queue.clock),
                    rt_array: hex(c.queue.rt_array),
                    rt_tasks: c.queue.rt_tasks.iter().map(queued).collect(),
                    cfs: cfs(&c.queue.cfs),
                    problems: c.queue.problems.clone(),
                    group: c.group.as_ref().map(|g| GroupView {
                        root_task_group: hex(g.root_task_group),
                        cfs_rq: hex(g.cfs_rq),
                        current_prio: g.current_prio,
                        groups: g
                            .group_of
                            .iter()
                            .map(|(q, tg)| GroupQueue { cfs_rq: hex(*q), task_group: hex(*tg) })
                            .collect(),
                    }),
                })
                .collect(),
        }
    }
}

/// `sig`: signal numbers and names (`-l`, `-s`), or tasks' signal state.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "view", rename_all = "snake_case")]
pub enum SigData {
    List {
        signals: Vec<Signal>,
    },
    /// `-s SIGSET`: the signals set in it.
    Set {
        sigset: Hex,
        signals: Vec<Signal>,
    },
    Tasks {
        tasks: Vec<SigTask>,
    },
}

/// A signal number and name.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Signal {
    pub number: u64,
    pub name: String,
}

/// One task (or thread group, `-g`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SigTask {
    pub task: Task,
    /// The signal_struct's data; null when the task has none.
    pub group: Option<GroupSignals>,
    /// The task's own state (plain `sig`).
    pub signals: Option<TaskSignals>,
    /// `-g`: every thread of the group, leader first.
    pub threads: Vec<ThreadSignals>,
}

/// A thread and its signal state.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ThreadSignals {
    pub task: Task,
    pub signals: TaskSignals,
}

/// A thread group's signal data.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct GroupSignals {
    pub signal_struct: Hex,
    pub nr_threads: i64,
    pub actions: Vec<SigAction>,
    pub shared_pending: Pending,
}

/// One signal's disposition.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SigAction {
    pub signal: u64,
    /// The struct k_sigaction.
    pub sigaction: Hex,
    /// The handler (0x0 SIG_DFL, 0x1 SIG_IGN).
    pub handler: Hex,
    pub mask: Hex,
    pub flags: Hex,
}

/// A task's own signal state.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TaskSignals {
    /// TIF_SIGPENDING.
    pub sigpending: bool,
    pub blocked: Hex,
    pub pending: Pending,
}

/// Pending signals: the set and the queue.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Pending {
    pub signal: Hex,
    pub queue: Vec<QueuedSignal>,
}

/// A queued signal.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct QueuedSignal {
    pub signal: i64,
    pub siginfo: Hex,
}

fn pending(p: &out::Pending) -> Pending {
    Pending {
        signal: hex(p.signal),
        queue: p.queue.iter().map(|q| QueuedSignal { signal: q.signal, siginfo: hex(q.siginfo) }).collect(),
    }
}

fn task_signals(t: &out::TaskSignals) -> TaskSignals {
    TaskSignals { sigpending: t.sigpending, blocked: hex(t.blocked), pending: pending(&t.pending) }
}

fn signals(v: &[(u64, String)]) -> Vec<Signal> {
    v.iter().map(|(number, name)| Signal { number: *number, name: name.clone() }).collect()
}

impl From<&out::SigOutput> for SigData {
    fn from(s: &out::SigOutput) -> Self {
        match s {
            out::SigOutput::List { signals: v } => SigData::List { signals: signals(v) },
            out::SigOutput::Set { sigset, signals: v } => SigData::Set { sigset: hex(*sigset), signals: signals(v) },
            out::SigOutput::Tasks { tasks: t } => SigData::Tasks {
                tasks: t
                    .iter()
                    .map(|t| SigTask {
                        task: (&t.header).into(),
                        group: t.group.as_ref().map(|g| GroupSignals {
                            signal_struct: hex(g.signal_struct),
                            nr_threads: g.nr_threads,
                            actions: g
                                .actions
                                .iter()
                                .map(|a| SigAction {
                                    signal: a.signal,
                                    sigaction: hex(a.sigaction),
                                    handler: hex(a.handler),
                                    mask: hex(a.mask),
                                    flags: hex(a.flags),
                                })
                                .collect(),
                            shared_pending: pending(&g.shared_pending),
                        }),
                        signals: t.task.as_ref().map(task_signals),
                        threads: t
                            .threads
                            .iter()
                            .map(|th| ThreadSignals { task: (&th.header).into(), signals: task_signals(&th.signals) })
                            .collect(),
                    })
                    .collect(),
            },
        }
    }
}

/// `waitq`: a wait queue's entries and the tasks waiting.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct WaitqData {
    /// The symbol named, if one was.
    pub name: Option<String>,
    /// The wait_queue_head.
    pub head: Hex,
    pub entries: Vec<WaitEntry>,
    pub broken: Option<String>,
    /// The tasks of the entries, up to the first entry that is not a task's.
    pub tasks: Vec<Task>,
}

/// One wait queue entry.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct WaitEntry {
    pub entry: Hex,
    /// `private` (usually the waiting task).
    pub private: Hex,
    pub func: Hex,
}

impl From<&out::WaitqOutput> for WaitqData {
    fn from(w: &out::WaitqOutput) -> Self {
        WaitqData {
            name: w.name.clone(),
            head: hex(w.queue.head),
            entries: w
                .queue
                .entries
                .iter()
                .map(|e| WaitEntry { entry: hex(e.entry), private: hex(e.private), func: hex(e.func) })
                .collect(),
            broken: w.queue.broken.clone(),
            tasks: tasks(&w.tasks),
        }
    }
}
