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

use crate::{frame_names, is_plumbing, BlockedTask, Report, BLOCKED_FRAMES_KEPT, MAX_BLOCKED_REPORTED};
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

/// One task of a deadlock cycle: it holds the lock the previous task
/// waits for, and waits for the lock the next one holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlockLink {
    pub pid: i32,
    pub comm: String,
    pub task: u64,
    /// Its first frame that is not locking or scheduling.
    pub function: Option<String>,
    pub holds: u64,
    pub holds_symbol: Option<String>,
    pub waits_for: u64,
    pub waits_for_symbol: Option<String>,
}

impl DeadlockLink {
    /// The lock it holds: its symbol, else its address.
    pub fn holds_name(&self) -> String {
        self.holds_symbol.clone().unwrap_or_else(|| format!("{:#x}", self.holds))
    }

    /// The lock it waits for: its symbol, else its address.
    pub fn waits_for_name(&self) -> String {
        self.waits_for_symbol.clone().unwrap_or_else(|| format!("{:#x}", self.waits_for))
    }
}

/// Bounds the tasks one wait-for chain is followed through.
const MAX_CYCLE: usize = 64;

/// The PID in the hung-task detector's `INFO: task COMM:PID blocked for
/// more than N seconds.` (the first task it reported).
fn reported_pid(headline: &str) -> Option<i32> {
    let rest = headline.strip_prefix("INFO: task ")?;
    let (task, _) = rest.split_once(" blocked for more than")?;
    task.rsplit_once(':')?.1.parse().ok()
}

/// The first cycle in the wait-for graph of `blocked` (task → the lock it
/// waits for → that lock's owner → ...), starting from the earliest task
/// in `blocked` that is on one.
fn wait_for_cycle(blocked: &[BlockedTask], locks: &[LockWait]) -> Vec<DeadlockLink> {
    let lock_named = |addr: u64| locks.iter().find(|l| l.address == addr);
    let next = |task: u64| -> Option<(u64, u64)> {
        let lock = blocked.iter().find(|b| b.task == task)?.waits_on?;
        let owner = lock_named(lock)?.owner.as_ref()?.task;
        Some((lock, owner))
    };
    for start in blocked {
        let mut path: Vec<(u64, u64)> = Vec::new();
        let mut task = start.task;
        while path.len() < MAX_CYCLE {
            let Some((lock, owner)) = next(task) else { break };
            path.push((task, lock));
            if owner == start.task {
                // path[i]: task i waits for lock i, held by task i+1 (the last one's by the first).
                return path
                    .iter()
                    .enumerate()
                    .filter_map(|(i, &(task, waits_for))| {
                        let b = blocked.iter().find(|b| b.task == task)?;
                        let held = path.get(if i == 0 { path.len() - 1 } else { i - 1 })?.1;
                        Some(DeadlockLink {
                            pid: b.pid,
                            comm: b.comm.clone(),
                            task,
                            function: b.frames.first().cloned(),
                            holds: held,
                            holds_symbol: lock_named(held).and_then(|l| l.symbol.clone()),
                            waits_for,
                            waits_for_symbol: lock_named(waits_for).and_then(|l| l.symbol.clone()),
                        })
                    })
                    .collect();
            }
            if path.iter().any(|(t, _)| *t == owner) {
                break; // a cycle that does not pass through start
            }
            task = owner;
        }
    }
    Vec::new()
}

/// The cycle in words.
fn describe_cycle(cycle: &[DeadlockLink], kind_of: impl Fn(u64) -> String) -> String {
    let links: Vec<String> = cycle
        .iter()
        .map(|l| {
            format!(
                "{} (pid {}, in {}) holds {} {} and waits for {}",
                l.comm,
                l.pid,
                l.function.as_deref().unwrap_or("?"),
                kind_of(l.holds),
                l.holds_name(),
                l.waits_for_name()
            )
        })
        .collect();
    let what = if cycle.len() == 2 {
        "an AB-BA deadlock: the two take the same two locks in opposite orders".to_string()
    } else {
        format!("a deadlock: {} tasks wait on each other in a cycle (a lock-order inversion)", cycle.len())
    };
    format!("deadlock: {}: {what}", links.join("; "))
}

/// Crate-internal helpers of this module's extension of [`Kernel`].
pub(crate) trait HungInternal {
    fn explain_hung(&self, report: &mut Report, extra_dirs: &[&Path]);
}

impl HungInternal for Kernel {
    fn explain_hung(&self, report: &mut Report, extra_dirs: &[&Path]) {
        let Ok(tasks) = self.tasks() else { return };
        let blocked: Vec<_> = tasks.iter().filter(|t| t.state == TaskState::UN).cloned().collect();
        report.show("ps -S");
        report.show("foreach UN bt");
        let mut by_function: BTreeMap<String, usize> = BTreeMap::new();
        let mut locks: Vec<LockWait> = Vec::new();
        for t in blocked.iter().take(MAX_BLOCKED_REPORTED) {
            let Ok(bt) = self.backtrace(t) else { continue };
            for f in bt.trace.frames() {
                if let Some(m) = f.symbol.as_ref().and_then(|s| s.module.clone()) {
                    self.ensure_module_debuginfo(&m, extra_dirs);
                }
            }
            let all = frame_names(&bt);
            let mut entry = BlockedTask::asleep(t, &all, BLOCKED_FRAMES_KEPT);
            if let Some(first) = entry.frames.first() {
                *by_function.entry(first.clone()).or_default() += 1;
            }
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
        // The most common place to be stuck; on a tie, where the first task
        // the hung-task detector reported is.
        let reported = report.headline.as_deref().and_then(reported_pid);
        let reported_function =
            report.blocked_tasks.iter().find(|b| Some(b.pid) == reported).and_then(|b| b.frames.first().cloned());
        let most = by_function.values().copied().max().unwrap_or_default();
        let chosen = by_function
            .iter()
            .filter(|(_, c)| **c == most)
            .find(|(f, _)| Some(*f) == reported_function.as_ref())
            .or_else(|| by_function.iter().rfind(|(_, c)| **c == most));
        if let Some((function, count)) = chosen {
            report.faulting_function = Some(function.clone());
            report
                .finding(format!("{} tasks in D state; {count} of them blocked in {function}", blocked.len()))
                .shown_by("ps -S")
                .shown_by("foreach UN bt");
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
            let mut owner_shown = None;
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
                    owner_shown = Some((format!("bt {}", o.pid), o.task));
                }
                None => sentence.push_str("; its owner is not recorded"),
            }
            let mut finding =
                report.finding(sentence).shown_by(format!("struct {} {:#x}", lock.kind, lock.address)).at(lock.address);
            if let Some((command, task)) = owner_shown {
                finding = finding.shown_by(command).at(task);
            }
            for &pid in lock.waiter_pids.iter().take(1) {
                finding = finding.shown_by(format!("bt {pid}"));
            }
        }
        let owners: Vec<u64> = locks.iter().filter_map(|l| l.owner.as_ref().map(|o| o.task)).collect();
        let mut pending = Vec::new();
        for b in &report.blocked_tasks {
            if Some(b.frames.first()) != Some(report.faulting_function.as_ref()) && !owners.contains(&b.task) {
                let sentence = format!(
                    "{} (pid {}) is blocked elsewhere, in {}: it may hold what the others wait for",
                    b.comm,
                    b.pid,
                    b.frames.first().map(String::as_str).unwrap_or("?")
                );
                let (pid, task) = (b.pid, b.task);
                pending.push((sentence, pid, task));
            }
        }
        for (sentence, pid, task) in pending {
            report.finding(sentence).shown_by(format!("bt {pid}")).at(task);
        }
        let cycle = wait_for_cycle(&report.blocked_tasks, &locks);
        if !cycle.is_empty() {
            let kind_of =
                |addr: u64| locks.iter().find(|l| l.address == addr).map_or(String::new(), |l| l.kind.clone());
            let mut finding = report.lead_finding(describe_cycle(&cycle, kind_of));
            for link in &cycle {
                finding = finding.shown_by(format!("bt {}", link.pid)).at(link.holds).at(link.waits_for);
            }
        }
        report.deadlock = cycle;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked(pid: i32, task: u64, function: &str, waits_on: Option<u64>) -> BlockedTask {
        BlockedTask {
            pid,
            comm: format!("t{pid}"),
            task,
            frames: vec![function.to_string()],
            waits_on,
            waits_on_symbol: None,
        }
    }

    fn lock(address: u64, symbol: &str, owner_task: Option<u64>) -> LockWait {
        LockWait {
            address,
            kind: "mutex".into(),
            symbol: Some(symbol.into()),
            owner: owner_task.map(|task| LockOwner { pid: 0, comm: String::new(), task, frames: Vec::new() }),
            waiters: 1,
            waiter_pids: Vec::new(),
        }
    }

    #[test]
    fn the_hung_task_report_names_its_first_task() {
        assert_eq!(reported_pid("INFO: task krash_cfg:127 blocked for more than 2 seconds."), Some(127));
        assert_eq!(reported_pid("INFO: task kworker/0:1:42 blocked for more than 120 seconds."), Some(42));
        assert_eq!(reported_pid("watchdog: BUG: soft lockup - CPU#0 stuck for 22s!"), None);
    }

    #[test]
    fn an_ab_ba_cycle_is_found_and_a_chain_is_not() {
        // t1 holds A, waits for B; t2 holds B, waits for A.
        let tasks = [blocked(1, 0x100, "f1", Some(0xb)), blocked(2, 0x200, "f2", Some(0xa))];
        let locks = [lock(0xa, "A", Some(0x100)), lock(0xb, "B", Some(0x200))];
        let cycle = wait_for_cycle(&tasks, &locks);
        let links: Vec<(i32, Option<&str>, Option<&str>)> =
            cycle.iter().map(|l| (l.pid, l.holds_symbol.as_deref(), l.waits_for_symbol.as_deref())).collect();
        assert_eq!(links, vec![(1, Some("A"), Some("B")), (2, Some("B"), Some("A"))]);
        assert!(describe_cycle(&cycle, |_| "mutex".into()).contains("an AB-BA deadlock"));
        // A chain into an owner that waits for nothing is no deadlock.
        let tasks = [blocked(1, 0x100, "f1", Some(0xb)), blocked(2, 0x200, "f2", None)];
        assert!(wait_for_cycle(&tasks, &locks).is_empty());
        // Three tasks in a ring.
        let tasks = [
            blocked(1, 0x100, "f1", Some(0xb)),
            blocked(2, 0x200, "f2", Some(0xc)),
            blocked(3, 0x300, "f3", Some(0xa)),
        ];
        let locks = [lock(0xa, "A", Some(0x100)), lock(0xb, "B", Some(0x200)), lock(0xc, "C", Some(0x300))];
        let cycle = wait_for_cycle(&tasks, &locks);
        assert_eq!(cycle.len(), 3);
        assert!(describe_cycle(&cycle, |_| "mutex".into()).contains("3 tasks wait on each other"));
        // An owner whose own wait leads into a cycle that skips the start: not reported from it.
        let tasks = [
            blocked(1, 0x100, "f1", Some(0xb)),
            blocked(2, 0x200, "f2", Some(0xc)),
            blocked(3, 0x300, "f3", Some(0xb)),
        ];
        let locks = [lock(0xb, "B", Some(0x200)), lock(0xc, "C", Some(0x300))];
        let cycle = wait_for_cycle(&tasks, &locks);
        assert_eq!(cycle.iter().map(|l| l.pid).collect::<Vec<_>>(), vec![2, 3]);
    }
}
