use krash_linux::sched::task::{Task, TaskState};

/// The data of crash's per-task header line
/// (`PID: 1        TASK: ffff...  CPU: 0    COMMAND: "init"`), shared by
/// every command that prints one (ps views, task, foreach, bt).
#[derive(Debug, Clone)]
pub struct TaskHeader {
    pub pid: i32,
    pub task: u64,
    pub cpu: u32,
    pub comm: String,
    /// The scheduler state (crash shows its two letters: RU, IN, UN, ...).
    pub state: TaskState,
}

impl TaskHeader {
    pub fn of(t: &Task) -> TaskHeader {
        TaskHeader { pid: t.pid, task: t.addr, cpu: t.cpu, comm: t.comm.clone(), state: t.state }
    }
}
