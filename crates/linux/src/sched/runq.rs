//! Per-CPU run queues (`struct rq`): the running task, the RT priority
//! array's queued tasks and the CFS red-black tree's tasks, nested through
//! task-group entities when group scheduling is built in.

use krash_core::{Result, VirtualMemory};
use serde::Serialize;

use krash_program::list::{self, WalkOptions};
use krash_program::rbtree::{self, RbLayout};
use krash_program::Kernel;

/// Tasks accepted on one queue before the walk is cut short (corrupt links).
const MAX_QUEUED: usize = 1 << 16;
/// Task-group nesting accepted (real hierarchies are a few levels deep).
const MAX_GROUP_DEPTH: usize = 16;
/// RT priority levels (`MAX_RT_PRIO`).
const RT_LEVELS: u64 = 100;

/// One task waiting on a queue.
#[derive(Debug, Clone, Serialize)]
pub struct QueuedTask {
    /// `task->prio`.
    pub prio: i32,
    pub task: u64,
    pub pid: i32,
    pub comm: String,
}

/// A CFS queue: its `rb_root`, tasks in tree order, nested group queues.
#[derive(Debug, Clone, Serialize)]
pub struct CfsQueue {
    pub rb_root: u64,
    pub entries: Vec<CfsEntry>,
    /// Why the walk stopped early, if it did.
    pub broken: Option<String>,
}

/// An entity on a CFS tree: a task, or a task group with its own queue.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CfsEntry {
    Task(QueuedTask),
    Group { cfs_rq: u64, queue: CfsQueue },
}

/// One CPU's run queue.
#[derive(Debug, Clone, Serialize)]
pub struct RunQueue {
    pub cpu: u32,
    pub rq: u64,
    pub current: u64,
    /// `rq->clock` (ns).
    pub clock: u64,
    pub rt_array: u64,
    pub rt_tasks: Vec<QueuedTask>,
    pub cfs: CfsQueue,
    pub problems: Vec<String>,
}

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait RunqExt {
    /// The run queue of every present CPU.
    fn run_queues(&self) -> Result<Vec<RunQueue>>;
    /// The run queue of `cpu`.
    fn run_queue(&self, cpu: u32) -> Result<RunQueue>;
}

impl RunqExt for Kernel {
    fn run_queues(&self) -> Result<Vec<RunQueue>> {
        let mut out = Vec::new();
        for cpu in self.present_cpus()? {
            out.push(self.run_queue(cpu)?);
        }
        Ok(out)
    }

    fn run_queue(&self, cpu: u32) -> Result<RunQueue> {
        let rq = self.percpu_addr("runqueues", cpu)?;
        let l = self.layouts();
        let current = self.read_field_u64(rq, "rq", "curr")?;
        let clock = self.read_field_u64(rq, "rq", "clock").unwrap_or(0);
        let rt_array = rq.wrapping_add(l.offset("rq", "rt.active")?);
        let mut problems = Vec::new();
        let rt_tasks = self.rt_queued(rt_array, &mut problems)?;
        let cfs_rq = rq.wrapping_add(l.offset("rq", "cfs")?);
        let cfs = self.cfs_queue(cfs_rq, 0)?;
        Ok(RunQueue { cpu, rq, current, clock, rt_array, rt_tasks, cfs, problems })
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait RunqHelpers {
    fn queued_task(&self, task: u64) -> Result<QueuedTask>;
    fn rt_queued(&self, array: u64, problems: &mut Vec<String>) -> Result<Vec<QueuedTask>>;
    fn cfs_queue(&self, cfs_rq: u64, depth: usize) -> Result<CfsQueue>;
}

impl RunqHelpers for Kernel {
    fn queued_task(&self, task: u64) -> Result<QueuedTask> {
        let prio = self.read_field(task, "task_struct", "prio")? as u32 as i32;
        let pid = self.read_field(task, "task_struct", "pid")? as u32 as i32;
        let comm = self.read_field_string(task, "task_struct", "comm")?;
        Ok(QueuedTask { prio, task, pid, comm })
    }

    fn rt_queued(&self, array: u64, problems: &mut Vec<String>) -> Result<Vec<QueuedTask>> {
        let l = self.layouts();
        let queue_off = l.offset("rt_prio_array", "queue")?;
        let run_list_off = l.offset("task_struct", "rt.run_list")?;
        let mem: &dyn VirtualMemory = self.memory();
        let mut out = Vec::new();
        for level in 0..RT_LEVELS {
            let head = array.wrapping_add(queue_off).wrapping_add(level * 16);
            let walk = list::walk(mem, head, WalkOptions { limit: MAX_QUEUED, ..Default::default() });
            if let Some(b) = &walk.broken {
                problems.push(format!("RT queue [{level}]: {b}"));
            }
            for node in walk.nodes {
                // Group entities (CONFIG_RT_GROUP_SCHED) are not tasks; Debian
                // kernels do not build it, so every entity is a task here.
                out.push(self.queued_task(node.wrapping_sub(run_list_off))?);
            }
        }
        Ok(out)
    }

    fn cfs_queue(&self, cfs_rq: u64, depth: usize) -> Result<CfsQueue> {
        let l = self.layouts();
        let rb_root = cfs_rq.wrapping_add(l.offset("cfs_rq", "tasks_timeline")?);
        let run_node_off = l.offset("sched_entity", "run_node")?;
        let se_off = l.offset("task_struct", "se")?;
        let my_q_off = l.offset("sched_entity", "my_q").ok();
        let mem: &dyn VirtualMemory = self.memory();
        let top = rbtree::root_node(mem, rb_root)?;
        let walk = rbtree::walk(mem, top, RbLayout::default(), MAX_QUEUED);
        let mut nodes = walk.entries;
        // The walk is pre-order; the scheduler's order (leftmost first) is in-order.
        rbtree::in_order(&mut nodes);
        let mut entries = Vec::new();
        let mut broken = walk.broken;
        for e in nodes {
            let se = e.node.wrapping_sub(run_node_off);
            let my_q = match my_q_off {
                Some(off) => mem.read_u64(se.wrapping_add(off))?,
                None => 0,
            };
            if my_q != 0 {
                if depth >= MAX_GROUP_DEPTH {
                    broken = Some(format!("task groups nested deeper than {MAX_GROUP_DEPTH} at {se:x}"));
                    break;
                }
                entries.push(CfsEntry::Group { cfs_rq: my_q, queue: self.cfs_queue(my_q, depth + 1)? });
            } else {
                entries.push(CfsEntry::Task(self.queued_task(se.wrapping_sub(se_off))?));
            }
        }
        Ok(CfsQueue { rb_root, entries, broken })
    }
}
