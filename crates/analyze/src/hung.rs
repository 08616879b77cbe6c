//! Hung tasks: every D-state task, the sleeping lock it waits for, and
//! that lock's owner with its stack. A task sleeping on a mutex, rwsem or
//! semaphore keeps a waiter entry on its own stack (`list`, then `task`)
//! linked into the lock's `wait_list`; finding that entry on the stack
//! names the lock even where DWARF lost the `lock` argument. Kernels that
//! record a sleeping task's mutex (`task_struct.blocked_on`, 6.16+; 7.x's
//! mutex keeps a `first_waiter` ring instead of a `wait_list`) are read
//! directly, and so are locks built on the rt_mutex core (PREEMPT_RT's
//! mutex and rwsem, PI futexes): the sleeper's `task_struct.pi_blocked_on`
//! names its `rt_mutex_waiter`, whose `lock` is the `rt_mutex_base`.

use crate::AnalyzeHelpers;
use krash_linux::sched::backtrace::BacktraceExt;
use krash_linux::sched::task::TaskExt;
use std::collections::BTreeMap;
use std::path::Path;

use krash_core::VirtualMemory;

use crate::{is_plumbing, BlockedTask, Report, MAX_BLOCKED_REPORTED};
use krash_linux::sched::task::{Task, TaskState};
use krash_program::list::{self, WalkOptions};
use krash_program::rbtree::{self, RbLayout};
use krash_program::Kernel;

/// Offset of `task` in `struct mutex_waiter`, `rwsem_waiter` and
/// `semaphore_waiter` (after the `list_head`), used when the types lack them.
const WAITER_TASK_OFFSET: u64 = 16;
/// Offset of `task_list` in `struct swait_queue` (after `task`).
const SWAIT_LIST_OFFSET: u64 = 8;
/// Bounds the waiters counted on one lock.
const MAX_WAITERS: usize = 4096;
/// Low bits of `mutex.owner` / `rw_semaphore.owner` that are flags.
const OWNER_FLAGS: u64 = 0x7;
/// `rt_mutex_base.owner`'s low bit: the lock has waiters (RT_MUTEX_HAS_WAITERS).
const RT_MUTEX_OWNER_FLAGS: u64 = 0x1;

/// Offsets of a waiter entry's `task` and list link, and of the lock's wait list head.
struct WaiterLayout {
    task: u64,
    list: u64,
    head: u64,
}

/// The task holding a lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockOwner {
    pub pid: i32,
    pub comm: String,
    pub task: u64,
    /// Its backtrace, innermost first (function names).
    pub frames: Vec<String>,
}

/// A lock D-state tasks wait for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockWait {
    pub address: u64,
    /// `mutex`, `rw_semaphore`, `semaphore` or `completion`.
    pub kind: String,
    pub symbol: Option<String>,
    pub owner: Option<LockOwner>,
    /// Tasks on its wait list.
    pub waiters: usize,
    /// PIDs of the D-state tasks found waiting for it.
    pub waiter_pids: Vec<i32>,
}

/// Crate-internal helpers of this module's extension of [`Kernel`].
pub(crate) trait HungInternal {
    fn explain_hung(&self, report: &mut Report, extra_dirs: &[&Path]);
}

impl HungInternal for Kernel {
    fn explain_hung(&self, report: &mut Report, extra_dirs: &[&Path]) {
        let Ok(tasks) = self.tasks() else { return };
        let blocked: Vec<_> = tasks.iter().filter(|t| t.state == TaskState::UN).cloned().collect();
        report.evidence.push("ps -S".into());
        report.evidence.push("foreach UN bt".into());
        let mut by_function: BTreeMap<String, usize> = BTreeMap::new();
        let mut locks: Vec<LockWait> = Vec::new();
        for t in blocked.iter().take(MAX_BLOCKED_REPORTED) {
            let Ok(bt) = self.backtrace(t) else { continue };
            for f in bt.trace.frames() {
                if let Some(m) = f.symbol.as_ref().and_then(|s| s.module.clone()) {
                    self.ensure_module_debuginfo(&m, extra_dirs);
                }
            }
            let all: Vec<String> =
                bt.trace.frames().filter_map(|f| f.symbol.as_ref().map(|s| s.name.clone())).collect();
            let frames: Vec<String> = all.iter().filter(|n| !is_plumbing(n)).take(4).cloned().collect();
            if let Some(first) = frames.first() {
                *by_function.entry(first.clone()).or_default() += 1;
            }
            let mut entry = BlockedTask {
                pid: t.pid,
                comm: t.comm.clone(),
                task: t.addr,
                frames,
                waits_on: None,
                waits_on_symbol: None,
            };
            if let Some(lock) = self.lock_waited_for(t, &lock_kind_from_frames(&all)) {
                entry.waits_on = Some(lock.address);
                entry.waits_on_symbol = lock.symbol.clone();
                match locks.iter_mut().find(|l| l.address == lock.address) {
                    Some(known) => known.waiter_pids.push(t.pid),
                    None => locks.push(LockWait { waiter_pids: vec![t.pid], ..lock }),
                }
            }
            report.blocked_tasks.push(entry);
        }
        if let Some((function, count)) = by_function.iter().max_by_key(|(_, c)| **c) {
            report.faulting_function = Some(function.clone());
            report.findings.push(format!("{} tasks in D state; {count} of them blocked in {function}", blocked.len()));
            if let Some(sym) = self.lookup_symbol(function) {
                report.module = sym.module.clone();
                if let Some(m) = &sym.module {
                    if let Ok(module) = self.module_by_name(m) {
                        report.module_taint = Some(module.taint_letters());
                    }
                }
            }
        }
        for lock in &locks {
            let name = lock.symbol.clone().unwrap_or_else(|| format!("{:#x}", lock.address));
            let mut sentence = format!(
                "{} task(s) wait for {} {name} ({} on its wait list)",
                lock.waiter_pids.len(),
                lock.kind,
                lock.waiters
            );
            match &lock.owner {
                Some(o) => {
                    sentence.push_str(&format!(
                        "; it is held by {} (pid {}), which is in {}",
                        o.comm,
                        o.pid,
                        o.frames.iter().find(|f| !is_plumbing(f)).map(String::as_str).unwrap_or("?")
                    ));
                    report.evidence.push(format!("bt {}", o.pid));
                }
                None => sentence.push_str("; its owner is not recorded"),
            }
            report.findings.push(sentence);
            report.evidence.push(format!("struct {} {:#x}", lock.kind, lock.address));
        }
        let owners: Vec<u64> = locks.iter().filter_map(|l| l.owner.as_ref().map(|o| o.task)).collect();
        for b in &report.blocked_tasks {
            if Some(b.frames.first()) != Some(report.faulting_function.as_ref()) && !owners.contains(&b.task) {
                report.findings.push(format!(
                    "{} (pid {}) is blocked elsewhere, in {}: it may hold what the others wait for",
                    b.comm,
                    b.pid,
                    b.frames.first().map(String::as_str).unwrap_or("?")
                ));
                report.evidence.push(format!("bt {}", b.pid));
            }
        }
        report.locks = locks;
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait HungHelpers {
    /// The lock whose wait list holds a waiter entry on `task`'s stack.
    fn lock_waited_for(&self, task: &Task, kind: &str) -> Option<LockWait>;
    /// Where a waiter of `kind` keeps its task and list link, and where
    /// the lock keeps its wait list.
    fn waiter_layout(&self, kind: &str) -> Option<WaiterLayout>;
    fn lock_owner(&self, lock: u64, kind: &str) -> Option<LockOwner>;
    /// A lock owner from its task's address (None where it is no task).
    fn task_as_owner(&self, owner: u64) -> Option<LockOwner>;
    /// The lock a task sleeps on through the rt_mutex core, where the
    /// kernel records it in `task_struct.pi_blocked_on`.
    fn rt_mutex_blocked_on(&self, task: &Task, kind: &str) -> Option<LockWait>;
    /// The mutex a task sleeps on, where the kernel records it in
    /// `task_struct.blocked_on` (6.16+, for proxy execution): read, not searched for.
    fn mutex_blocked_on(&self, task: &Task) -> Option<LockWait>;
}

impl HungHelpers for Kernel {
    fn lock_waited_for(&self, task: &Task, kind: &str) -> Option<LockWait> {
        if kind == "mutex" {
            if let Some(lock) = self.mutex_blocked_on(task) {
                return Some(lock);
            }
        }
        if let Some(lock) = self.rt_mutex_blocked_on(task, kind) {
            return Some(lock);
        }
        let stack = self.read_field_u64(task.addr, "task_struct", "stack").ok()?;
        let thread_size = usize::try_from(self.thread_size()).ok()?;
        let bytes = self.memory().read_vec(stack, thread_size).ok()?;
        let layout = self.waiter_layout(kind)?;
        let known_task = |addr: u64| self.task_by_addr(addr).is_ok();
        let task_slot = |node: u64| node.checked_sub(layout.list).and_then(|w| w.checked_add(layout.task));
        for (i, word) in bytes.chunks_exact(8).enumerate() {
            if word != task.addr.to_le_bytes() {
                continue;
            }
            let slot = stack.checked_add((i as u64).checked_mul(8)?)?;
            let Some(node) = slot.checked_sub(layout.task).and_then(|w| w.checked_add(layout.list)) else { continue };
            let ring = list::walk(
                self.memory(),
                node,
                WalkOptions { limit: MAX_WAITERS, check_backlinks: true, ..Default::default() },
            );
            if ring.broken.is_some() || ring.nodes.is_empty() {
                continue;
            }
            // The lock's own list_head is the one node that is not a waiter
            // (its `task` slot is not a task).
            let head =
                ring.nodes.iter().copied().find(|&n| {
                    task_slot(n).and_then(|a| self.memory().read_u64(a).ok()).is_none_or(|t| !known_task(t))
                });
            let Some(address) = head.and_then(|h| h.checked_sub(layout.head)) else { continue };
            let symbol = self.symbolize(address).filter(|s| s.offset == 0).map(|s| s.name);
            let owner = if kind == "completion" { None } else { self.lock_owner(address, kind) };
            return Some(LockWait {
                address,
                kind: kind.to_string(),
                symbol,
                owner,
                waiters: ring.nodes.len(),
                waiter_pids: Vec::new(),
            });
        }
        None
    }

    fn waiter_layout(&self, kind: &str) -> Option<WaiterLayout> {
        let l = self.layouts();
        if kind == "completion" {
            return Some(WaiterLayout {
                task: l.offset("swait_queue", "task").unwrap_or(0),
                list: l.offset("swait_queue", "task_list").unwrap_or(SWAIT_LIST_OFFSET),
                head: l.offset("completion", "wait.task_list").ok()?,
            });
        }
        let waiter = match kind {
            "rw_semaphore" => "rwsem_waiter",
            "semaphore" => "semaphore_waiter",
            _ => "mutex_waiter",
        };
        Some(WaiterLayout {
            task: l.offset(waiter, "task").unwrap_or(WAITER_TASK_OFFSET),
            list: l.offset(waiter, "list").unwrap_or(0),
            head: l.offset(kind, "wait_list").ok()?,
        })
    }

    fn mutex_blocked_on(&self, task: &Task) -> Option<LockWait> {
        let address = self.read_field_u64(task.addr, "task_struct", "blocked_on").ok().filter(|&a| a != 0)?;
        let l = self.layouts();
        let list_off = l.offset("mutex_waiter", "list").ok()?;
        let opts = WalkOptions { limit: MAX_WAITERS, check_backlinks: true, ..Default::default() };
        let waiters = if l.has_field("mutex", "first_waiter") {
            // 7.x: the waiters form a ring of their own; the lock points at the first.
            match self.read_field_u64(address, "mutex", "first_waiter").ok()? {
                0 => 0,
                first => list::walk(self.memory(), first.checked_add(list_off)?, opts).nodes.len().saturating_add(1),
            }
        } else {
            let head = address.checked_add(l.offset("mutex", "wait_list").ok()?)?;
            list::walk(self.memory(), head, opts).nodes.len()
        };
        Some(LockWait {
            address,
            kind: "mutex".into(),
            symbol: self.symbolize(address).filter(|s| s.offset == 0).map(|s| s.name),
            owner: self.lock_owner(address, "mutex"),
            waiters,
            waiter_pids: Vec::new(),
        })
    }

    fn rt_mutex_blocked_on(&self, task: &Task, kind: &str) -> Option<LockWait> {
        let waiter = self.read_field_u64(task.addr, "task_struct", "pi_blocked_on").ok().filter(|&a| a != 0)?;
        let base = self.read_field_u64(waiter, "rt_mutex_waiter", "lock").ok().filter(|&a| a != 0)?;
        let l = self.layouts();
        // The lock the sleeper took holds the rt_mutex_base: PREEMPT_RT's
        // mutex as `rtmutex`, its rwsem as `rwbase.rtmutex`; anything else
        // (a PI futex's rt_mutex) is named as the rt_mutex itself.
        let (kind, inner) = match kind {
            "mutex" if l.has_field("mutex", "rtmutex") => ("mutex", l.offset("mutex", "rtmutex").ok()?),
            "rw_semaphore" if l.has_field("rw_semaphore", "rwbase") => {
                ("rw_semaphore", l.offset("rw_semaphore", "rwbase.rtmutex").ok()?)
            }
            _ => ("rt_mutex", 0),
        };
        let address = base.checked_sub(inner)?;
        let waiters = match l.offset("rt_mutex_base", "waiters") {
            Ok(off) => {
                let top = self.memory().read_u64(base.checked_add(off)?).ok()?;
                rbtree::walk(self.memory(), top, RbLayout::default(), MAX_WAITERS).entries.len()
            }
            Err(_) => 0,
        };
        let owner = self.read_field_u64(base, "rt_mutex_base", "owner").ok()? & !RT_MUTEX_OWNER_FLAGS;
        Some(LockWait {
            address,
            kind: kind.into(),
            symbol: self.symbolize(address).filter(|s| s.offset == 0).map(|s| s.name),
            owner: self.task_as_owner(owner),
            waiters,
            waiter_pids: Vec::new(),
        })
    }

    fn lock_owner(&self, lock: u64, kind: &str) -> Option<LockOwner> {
        let owner = self.read_field_u64(lock, kind, "owner").ok()? & !OWNER_FLAGS;
        self.task_as_owner(owner)
    }

    fn task_as_owner(&self, owner: u64) -> Option<LockOwner> {
        let t = self.task_by_addr(owner).ok()?.clone();
        let frames = self
            .backtrace(&t)
            .map(|bt| bt.trace.frames().filter_map(|f| f.symbol.as_ref().map(|s| s.name.clone())).collect())
            .unwrap_or_default();
        Some(LockOwner { pid: t.pid, comm: t.comm.clone(), task: t.addr, frames })
    }
}

/// The lock type a blocked task's frames wait in.
fn lock_kind_from_frames(frames: &[String]) -> String {
    for f in frames {
        if f.contains("wait_for_completion") || f.starts_with("__wait_for_common") {
            return "completion".into();
        }
        if f.contains("rwsem") || f.starts_with("down_read") || f.starts_with("down_write") {
            return "rw_semaphore".into();
        }
        if f.contains("mutex") {
            return "mutex".into();
        }
        if f.starts_with("down") || f.starts_with("__down") {
            return "semaphore".into();
        }
    }
    "mutex".into()
}
