//! Tasks: every process and thread (walked from `init_task` through
//! `tasks` and each thread group's `signal->thread_head`), plus every CPU's
//! idle task (`runqueues.idle`), which the task list does not contain.

use std::collections::HashSet;

use krash_core::{Error, Result, VirtualMemory};
use serde::Serialize;

use krash_program::list::{self, WalkOptions};
use krash_program::Kernel;

/// Upper bound on tasks accepted from a dump (`PID_MAX_LIMIT` is 4M).
const MAX_TASKS: usize = 4 << 20;

/// A task's scheduler state as crash abbreviates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TaskState {
    RU,
    IN,
    UN,
    ST,
    TR,
    ZO,
    DE,
    PA,
    WA,
    ID,
    NE,
    /// A value no known state bit explains.
    Unknown(u64),
}

impl TaskState {
    /// Decodes `__state` (or `state`) and `exit_state` with the kernel's bit values.
    pub fn decode(state: u64, exit_state: u64) -> TaskState {
        const INTERRUPTIBLE: u64 = 0x1;
        const UNINTERRUPTIBLE: u64 = 0x2;
        const STOPPED: u64 = 0x4;
        const TRACED: u64 = 0x8;
        const EXIT_DEAD: u64 = 0x10;
        const EXIT_ZOMBIE: u64 = 0x20;
        const PARKED: u64 = 0x40;
        const DEAD: u64 = 0x80;
        const WAKING: u64 = 0x200;
        const NOLOAD: u64 = 0x400;
        const NEW: u64 = 0x800;
        if exit_state & EXIT_ZOMBIE != 0 {
            return TaskState::ZO;
        }
        if exit_state & EXIT_DEAD != 0 {
            return TaskState::DE;
        }
        match state {
            0 => TaskState::RU,
            s if s & UNINTERRUPTIBLE != 0 && s & NOLOAD != 0 => TaskState::ID,
            s if s & INTERRUPTIBLE != 0 => TaskState::IN,
            s if s & UNINTERRUPTIBLE != 0 => TaskState::UN,
            s if s & STOPPED != 0 => TaskState::ST,
            s if s & TRACED != 0 => TaskState::TR,
            s if s & PARKED != 0 => TaskState::PA,
            s if s & DEAD != 0 => TaskState::DE,
            s if s & WAKING != 0 => TaskState::WA,
            s if s & NEW != 0 => TaskState::NE,
            s => TaskState::Unknown(s),
        }
    }

    /// The two-letter form crash prints.
    pub fn abbrev(self) -> &'static str {
        match self {
            TaskState::RU => "RU",
            TaskState::IN => "IN",
            TaskState::UN => "UN",
            TaskState::ST => "ST",
            TaskState::TR => "TR",
            TaskState::ZO => "ZO",
            TaskState::DE => "DE",
            TaskState::PA => "PA",
            TaskState::WA => "WA",
            TaskState::ID => "ID",
            TaskState::NE => "NE",
            TaskState::Unknown(_) => "??",
        }
    }

    /// The long name crash's `sys` STATE line uses.
    pub fn long_name(self) -> &'static str {
        match self {
            TaskState::RU => "TASK_RUNNING",
            TaskState::IN => "TASK_INTERRUPTIBLE",
            TaskState::UN => "TASK_UNINTERRUPTIBLE",
            TaskState::ST => "TASK_STOPPED",
            TaskState::TR => "TASK_TRACED",
            TaskState::ZO => "EXIT_ZOMBIE",
            TaskState::DE => "TASK_DEAD",
            TaskState::PA => "TASK_PARKED",
            TaskState::WA => "TASK_WAKING",
            TaskState::ID => "TASK_IDLE",
            TaskState::NE => "TASK_NEW",
            TaskState::Unknown(_) => "(unknown)",
        }
    }
}

/// What `ps` and friends need to know about one task.
#[derive(Debug, Clone, Serialize)]
pub struct Task {
    /// Address of the `task_struct`.
    pub addr: u64,
    pub pid: i32,
    /// Thread-group id (the process id of a thread).
    pub tgid: i32,
    pub ppid: i32,
    pub parent: u64,
    pub comm: String,
    pub state: TaskState,
    pub cpu: u32,
    /// `mm` (0 for kernel threads).
    pub mm: u64,
    /// Running on a CPU when the dump was taken (crash's `>` mark).
    pub active: bool,
    /// One of the per-CPU idle tasks (swapper/N).
    pub idle: bool,
    /// `sched_info.last_arrival` (ns), for `ps -l`.
    pub last_arrival: u64,
}

impl Task {
    pub fn is_kernel_thread(&self) -> bool {
        self.mm == 0
    }
    pub fn is_thread_group_leader(&self) -> bool {
        self.pid == self.tgid
    }
}

/// The task list as read from the dump, with what went wrong reading it.
struct TaskList {
    tasks: Result<Vec<Task>>,
    problems: Vec<String>,
}

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait TaskExt {
    /// Every task, in crash's `ps` order (by PID, idle tasks first by CPU).
    fn tasks(&self) -> Result<&[Task]>;
    /// What went wrong while listing tasks (broken links, unreadable
    /// tasks), worded for the user; empty for a sound task list.
    fn task_list_problems(&self) -> &[String];
    /// The task with this PID (the thread-group leader wins over none;
    /// idle tasks share PID 0, so 0 gives CPU 0's).
    fn task_by_pid(&self, pid: i32) -> Result<&Task>;
    /// The task whose `task_struct` is at `addr`.
    fn task_by_addr(&self, addr: u64) -> Result<&Task>;
    /// Task running on each CPU (`runqueues.curr`), indexed by CPU.
    fn active_tasks(&self) -> Result<Vec<(u32, u64)>>;
    /// The task that panicked: the current task of the CPU in `panic_cpu`,
    /// else the CPU whose crash-time registers are in a panic path.
    fn panic_task(&self) -> Option<u64>;
    /// The CPU that called panic() (`panic_cpu`), if any did.
    fn panic_cpu(&self) -> Option<u32>;
}

impl TaskExt for Kernel {
    fn tasks(&self) -> Result<&[Task]> {
        self.cached(|| {
            let mut problems = Vec::new();
            let tasks = self.read_tasks(&mut problems);
            TaskList { tasks, problems }
        })
        .tasks
        .as_deref()
        .map_err(Clone::clone)
    }

    fn task_list_problems(&self) -> &[String] {
        let _ = self.tasks();
        self.cached_if_read::<TaskList>().map(|l| l.problems.as_slice()).unwrap_or_default()
    }

    fn task_by_pid(&self, pid: i32) -> Result<&Task> {
        self.tasks()?.iter().find(|t| t.pid == pid).ok_or_else(|| Error::NotFound(format!("no task with PID {pid}")))
    }

    fn task_by_addr(&self, addr: u64) -> Result<&Task> {
        self.tasks()?
            .iter()
            .find(|t| t.addr == addr)
            .ok_or_else(|| Error::NotFound(format!("{addr:x}: not a task_struct address")))
    }

    fn active_tasks(&self) -> Result<Vec<(u32, u64)>> {
        let curr_off = self.layouts().offset("rq", "curr")?;
        let mut out = Vec::new();
        for cpu in self.present_cpus()? {
            let rq = self.percpu_addr("runqueues", cpu)?;
            out.push((cpu, self.memory().read_u64(rq + curr_off)?));
        }
        Ok(out)
    }

    fn panic_task(&self) -> Option<u64> {
        let cpu = self.panic_cpu()?;
        self.active_tasks().ok()?.into_iter().find(|&(c, _)| c == cpu).map(|(_, t)| t)
    }

    fn panic_cpu(&self) -> Option<u32> {
        let v = self.memory().read_u32(self.symbol_addr("panic_cpu").ok()?).ok()?;
        (v != u32::MAX && v < krash_program::percpu::MAX_CPUS).then_some(v)
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait TaskHelpers {
    fn read_tasks(&self, problems: &mut Vec<String>) -> Result<Vec<Task>>;
    fn read_task(&self, addr: u64, active: &[(u32, u64)], idle: &[(u32, u64)]) -> Result<Task>;
}

impl TaskHelpers for Kernel {
    fn read_tasks(&self, problems: &mut Vec<String>) -> Result<Vec<Task>> {
        let l = self.layouts();
        let init_task = self.symbol_addr("init_task")?;
        let tasks_off = l.offset("task_struct", "tasks")?;
        let thread_node_off = l.offset("task_struct", "thread_node")?;
        let signal_off = l.offset("task_struct", "signal")?;
        let thread_head_off = l.offset("signal_struct", "thread_head")?;
        let mem: &dyn VirtualMemory = self.memory();

        let walk = list::walk_bridging(mem, init_task + tasks_off, WalkOptions::default());
        if let Some(b) = &walk.broken {
            problems.push(format!("task list (init_task.tasks): {b}; the tasks beyond it were reached backwards"));
        }
        let leaders = walk.nodes;
        let mut addrs: Vec<u64> = vec![init_task];
        let mut seen: HashSet<u64> = HashSet::from([init_task]);
        for node in leaders {
            let leader = node - tasks_off;
            let threads = match mem.read_u64(leader + signal_off) {
                Ok(signal) if signal != 0 => {
                    let w = list::walk_bridging(mem, signal + thread_head_off, WalkOptions::default());
                    if let Some(b) = &w.broken {
                        problems.push(format!("threads of task {leader:x}: {b}"));
                    }
                    w.nodes
                }
                _ => Vec::new(),
            };
            if seen.insert(leader) {
                addrs.push(leader);
            }
            for t in threads {
                let task = t - thread_node_off;
                if seen.insert(task) {
                    addrs.push(task);
                }
            }
            if addrs.len() > MAX_TASKS {
                return Err(Error::bad_data("task list", format!("more than {MAX_TASKS} tasks")));
            }
        }

        let active = self.active_tasks().unwrap_or_default();
        let mut idle_cpus: Vec<(u32, u64)> = Vec::new();
        if let Ok(idle_off) = l.offset("rq", "idle") {
            for cpu in self.present_cpus().unwrap_or_default() {
                if let Ok(rq) = self.percpu_addr("runqueues", cpu) {
                    if let Ok(idle) = mem.read_u64(rq + idle_off) {
                        idle_cpus.push((cpu, idle));
                        if seen.insert(idle) {
                            addrs.push(idle);
                        }
                    }
                }
            }
        }

        let mut out = Vec::with_capacity(addrs.len());
        for addr in addrs {
            match self.read_task(addr, &active, &idle_cpus) {
                Ok(t) => out.push(t),
                // A task whose struct is unreadable is skipped, not fatal.
                Err(e) if e.is_fault() => problems.push(format!("task {addr:x} skipped: {e}")),
                Err(e) => return Err(e),
            }
        }
        out.sort_by_key(|t| (!t.idle, t.pid, t.cpu));
        Ok(out)
    }

    fn read_task(&self, addr: u64, active: &[(u32, u64)], idle: &[(u32, u64)]) -> Result<Task> {
        let state = if self.layouts().has_field("task_struct", "__state") {
            self.read_field(addr, "task_struct", "__state")?
        } else {
            self.read_field(addr, "task_struct", "state")?
        };
        let exit_state = self.read_field(addr, "task_struct", "exit_state")?;
        let parent = self.read_field_u64(addr, "task_struct", "real_parent")?;
        let idle_cpu = idle.iter().find(|&&(_, t)| t == addr).map(|&(c, _)| c);
        // Secondary CPUs' idle tasks are forked by init; crash shows them (and users expect them) under PID 0.
        let ppid = if idle_cpu.is_none() && parent != 0 && parent != addr {
            self.read_field(parent, "task_struct", "pid").unwrap_or(0) as i32
        } else {
            0
        };
        let cpu = if self.layouts().has_field("task_struct", "cpu") {
            self.read_field(addr, "task_struct", "cpu")?
        } else {
            self.read_field(addr, "task_struct", "thread_info.cpu")?
        } as u32;
        Ok(Task {
            addr,
            pid: self.read_field(addr, "task_struct", "pid")? as i32,
            tgid: self.read_field(addr, "task_struct", "tgid")? as i32,
            ppid,
            parent,
            comm: self.read_field_string(addr, "task_struct", "comm")?,
            state: TaskState::decode(state, exit_state),
            cpu: idle_cpu.unwrap_or(cpu),
            mm: self.read_field_u64(addr, "task_struct", "mm")?,
            active: active.iter().any(|&(_, t)| t == addr),
            idle: idle_cpu.is_some(),
            last_arrival: self.read_field_u64(addr, "task_struct", "sched_info.last_arrival").unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::TaskState;

    #[test]
    fn state_decoding_matches_kernel_bits() {
        assert_eq!(TaskState::decode(0, 0), TaskState::RU);
        assert_eq!(TaskState::decode(1, 0), TaskState::IN);
        assert_eq!(TaskState::decode(2, 0), TaskState::UN);
        assert_eq!(TaskState::decode(0x402, 0), TaskState::ID);
        assert_eq!(TaskState::decode(0x104, 0), TaskState::ST);
        assert_eq!(TaskState::decode(0x80, 0x20), TaskState::ZO);
        assert_eq!(TaskState::decode(0x40, 0), TaskState::PA);
    }
}
