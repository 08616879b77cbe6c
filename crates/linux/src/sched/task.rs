//! Tasks: every process and thread (walked from `init_task` through
//! `tasks` and each thread group's `signal->thread_head`), plus every CPU's
//! idle task (`runqueues.idle`), which the task list does not contain.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use krash_core::{Error, Result, VirtualMemory};
use rayon::prelude::*;
use serde::Serialize;

use krash_program::layout::Field;
use krash_program::list::{self, WalkOptions};
use krash_program::xarray::XaLayout;
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
    /// Decodes `__state` (or `state`) and `exit_state` with the bit values
    /// of 4.14 through 7.2 ([`TaskStateTable::fallback`]); a kernel's own
    /// values come from [`TaskStateTable::from_array`].
    pub fn decode(state: u64, exit_state: u64) -> TaskState {
        TaskStateTable::fallback("").decode(state, exit_state)
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

/// Where a [`TaskStateTable`]'s bits came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum TaskStateSource {
    /// The kernel's own `task_state_array` (fs/proc/array.c), as read
    /// from the dump: entry i names the state of bit i-1.
    Array { entries: Vec<String> },
    /// The array could not be read; the bit values of 4.14 through 7.2.
    Fallback { reason: String },
}

/// The state bits of one kernel. `task_state_array` holds the states
/// /proc reports ("R (running)", "S (sleeping)", ...), entry i for bit
/// i-1, plus "I (idle)" beyond them (TASK_REPORT_IDLE, which is
/// TASK_UNINTERRUPTIBLE|TASK_NOLOAD, no bit of its own). Before 4.14 the
/// array had no "I" and named every bit the kernel had, reported or not
/// ("x (dead)", "K (wakekill)", "W (waking)", "N (noload)", "n (new)");
/// since then the unreported bits follow the reported ones in
/// `include/linux/sched.h`, unchanged from 4.14 to 7.2, and are taken
/// from [`UNREPORTED_BITS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskStateTable {
    pub source: TaskStateSource,
    interruptible: u64,
    uninterruptible: u64,
    stopped: u64,
    traced: u64,
    exit_dead: u64,
    exit_zombie: u64,
    parked: u64,
    dead: u64,
    waking: u64,
    noload: u64,
    new: u64,
    /// TASK_RTLOCK_WAIT (5.15+) and TASK_FROZEN (6.1+): the kernel
    /// reports both as "D".
    reported_uninterruptible: u64,
}

/// The state bits `task_state_array` has not named since 4.14, as
/// include/linux/sched.h defines them from 4.14 through 7.2 (checked
/// against 5.10, 6.1, 6.12 and 7.2): TASK_DEAD, TASK_WAKEKILL (a modifier,
/// never a state of its own), TASK_WAKING, TASK_NOLOAD, TASK_NEW,
/// TASK_RTLOCK_WAIT (5.15+), TASK_FROZEN (6.1+).
pub const UNREPORTED_BITS: [(&str, u64); 7] = [
    ("TASK_DEAD", 0x80),
    ("TASK_WAKEKILL", 0x100),
    ("TASK_WAKING", 0x200),
    ("TASK_NOLOAD", 0x400),
    ("TASK_NEW", 0x800),
    ("TASK_RTLOCK_WAIT", 0x1000),
    ("TASK_FROZEN", 0x8000),
];

/// The reported states of 4.14 through 7.2, for the fallback table.
const REPORTED_ARRAY: [&str; 9] = [
    "R (running)",
    "S (sleeping)",
    "D (disk sleep)",
    "T (stopped)",
    "t (tracing stop)",
    "X (dead)",
    "Z (zombie)",
    "P (parked)",
    "I (idle)",
];

/// Longest `task_state_array` accepted (4.x had 13 entries).
const MAX_TASK_STATES: u64 = 24;

fn unreported(name: &str) -> u64 {
    UNREPORTED_BITS.iter().find(|(n, _)| *n == name).map(|(_, b)| *b).unwrap_or(0)
}

impl TaskStateTable {
    /// The table of 4.14 through 7.2, for when the kernel's array cannot
    /// be read (`reason` says why).
    pub fn fallback(reason: &str) -> TaskStateTable {
        let entries: Vec<String> = REPORTED_ARRAY.iter().map(|s| s.to_string()).collect();
        let mut t = Self::from_entries(&entries).unwrap_or_else(|_| Self::empty());
        t.source = TaskStateSource::Fallback { reason: reason.to_string() };
        t
    }

    fn empty() -> TaskStateTable {
        TaskStateTable {
            source: TaskStateSource::Fallback { reason: String::new() },
            interruptible: 0,
            uninterruptible: 0,
            stopped: 0,
            traced: 0,
            exit_dead: 0,
            exit_zombie: 0,
            parked: 0,
            dead: 0,
            waking: 0,
            noload: 0,
            new: 0,
            reported_uninterruptible: 0,
        }
    }

    /// The table of a kernel whose `task_state_array` holds `entries`.
    pub fn from_array(entries: &[String]) -> Result<TaskStateTable> {
        let mut t = Self::from_entries(entries)?;
        t.source = TaskStateSource::Array { entries: entries.to_vec() };
        Ok(t)
    }

    fn from_entries(entries: &[String]) -> Result<TaskStateTable> {
        let bad = |detail: String| Error::bad_data("task_state_array", detail);
        let mut t = Self::empty();
        let first = entries.first().ok_or_else(|| bad("empty".into()))?;
        if !first.starts_with("R ") {
            return Err(bad(format!("entry 0 is {first:?}, not the running state")));
        }
        let mut highest = 0u64;
        for (i, entry) in entries.iter().enumerate().skip(1) {
            let (letter, name) = parse_state(entry).ok_or_else(|| bad(format!("entry {i} is {entry:?}")))?;
            let bit = 1u64.checked_shl(u32::try_from(i - 1).unwrap_or(u32::MAX)).unwrap_or(0);
            let slot = match (letter, name) {
                // Beyond the reported bits: TASK_UNINTERRUPTIBLE|TASK_NOLOAD.
                ('I', _) => continue,
                ('S', _) => &mut t.interruptible,
                ('D', _) => &mut t.uninterruptible,
                // 2.6 kernels had "T (tracing stop)" beside "T (stopped)".
                ('T' | 't', n) if n.contains("trac") => &mut t.traced,
                ('T', _) => &mut t.stopped,
                ('X', _) => &mut t.exit_dead,
                ('Z', _) => &mut t.exit_zombie,
                ('x', _) => &mut t.dead,
                ('W', _) => &mut t.waking,
                ('P', _) => &mut t.parked,
                ('N', _) => &mut t.noload,
                ('n', _) => &mut t.new,
                // TASK_WAKEKILL ("K (wakekill)") modifies other states.
                _ => {
                    highest = highest.max(bit);
                    continue;
                }
            };
            *slot = bit;
            highest = highest.max(bit);
        }
        if t.interruptible == 0 || t.uninterruptible == 0 {
            return Err(bad("no sleeping or disk-sleep state".into()));
        }
        // An array ending in "I (idle)" (4.14+) names only the reported
        // bits; the others sit above them, as UNREPORTED_BITS has them.
        // Older arrays name every bit the kernel has.
        let names_only_reported = entries.last().is_some_and(|e| e.starts_with("I "));
        let fill = |slot: &mut u64, name: &str| {
            if names_only_reported && *slot == 0 && unreported(name) > highest {
                *slot = unreported(name);
            }
        };
        fill(&mut t.dead, "TASK_DEAD");
        fill(&mut t.waking, "TASK_WAKING");
        fill(&mut t.noload, "TASK_NOLOAD");
        fill(&mut t.new, "TASK_NEW");
        let mut extra = 0;
        fill(&mut extra, "TASK_RTLOCK_WAIT");
        let mut frozen = 0;
        fill(&mut frozen, "TASK_FROZEN");
        t.reported_uninterruptible = extra | frozen;
        Ok(t)
    }

    /// The state of a task with these `__state` (or `state`) and
    /// `exit_state` values, as crash names it.
    pub fn decode(&self, state: u64, exit_state: u64) -> TaskState {
        let has = |bits: u64| bits != 0 && state & bits != 0;
        if self.exit_zombie != 0 && exit_state & self.exit_zombie != 0 {
            return TaskState::ZO;
        }
        if self.exit_dead != 0 && exit_state & self.exit_dead != 0 {
            return TaskState::DE;
        }
        match state {
            0 => TaskState::RU,
            _ if has(self.uninterruptible) && has(self.noload) => TaskState::ID,
            _ if has(self.interruptible) => TaskState::IN,
            _ if has(self.uninterruptible) => TaskState::UN,
            _ if has(self.stopped) => TaskState::ST,
            _ if has(self.traced) => TaskState::TR,
            _ if has(self.parked) => TaskState::PA,
            _ if has(self.dead) => TaskState::DE,
            _ if has(self.waking) => TaskState::WA,
            _ if has(self.new) => TaskState::NE,
            _ if has(self.reported_uninterruptible) => TaskState::UN,
            s => TaskState::Unknown(s),
        }
    }
}

/// "X (name)" as the letter and the name.
fn parse_state(entry: &str) -> Option<(char, &str)> {
    let mut chars = entry.chars();
    let letter = chars.next().filter(char::is_ascii_alphabetic)?;
    let rest = chars.as_str().strip_prefix(" (")?.strip_suffix(')')?;
    (!rest.is_empty() && rest.chars().all(|c| c.is_ascii_lowercase() || c == ' ')).then_some((letter, rest))
}

/// The kernel's `task_state_array`: `static const char * const []`. Its
/// length comes from the symbol's size, else the types, else from reading
/// until an entry is not a state string.
fn read_task_state_array(k: &Kernel) -> Result<Vec<String>> {
    let addr = k.symbol_addr("task_state_array")?;
    let by_size = k.symbols().by_name("task_state_array").map(|s| s.size).filter(|&s| s != 0 && s % 8 == 0);
    let by_type = || match k.layouts().variable_type("task_state_array") {
        Some((_, krash_debuginfo::types::Type::Array { len, .. })) => len,
        _ => None,
    };
    let count = by_size.map(|s| s / 8).or_else(by_type);
    if count.is_some_and(|n| n == 0 || n > MAX_TASK_STATES) {
        return Err(Error::bad_data("task_state_array", format!("implausible length {count:?}")));
    }
    let mut out = Vec::new();
    for i in 0..count.unwrap_or(MAX_TASK_STATES) {
        let text = k.memory().read_u64(addr.wrapping_add(i * 8)).and_then(|p| k.memory().read_cstr(p, 32));
        match text {
            Ok(s) if parse_state(&s).is_some() => out.push(s),
            // Unknown length: the array ends where the state strings do.
            _ if count.is_none() && !out.is_empty() => break,
            Ok(s) => return Err(Error::bad_data("task_state_array", format!("entry {i} is {s:?}"))),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The task-state table, read once per session.
struct CachedTaskStates(TaskStateTable);

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
    /// Index of each task by `task_struct` address, and of the first task
    /// (in `ps` order) with each PID: `foreach` looks a task up for each of
    /// tens of thousands.
    by_addr: HashMap<u64, usize>,
    by_pid: HashMap<i32, usize>,
}

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait TaskExt {
    /// Every task, in crash's `ps` order (by PID, idle tasks first by CPU).
    fn tasks(&self) -> Result<&[Task]>;
    /// How many tasks there are (`sys`'s TASKS): the task list's length
    /// once it was read; before, the kernel's own count, `nr_threads` (every
    /// task in the PID table, updated with the task list under
    /// `tasklist_lock`), plus each CPU's idle task, which it leaves out. The
    /// banner of a 20 000-task machine then reads one integer, not every task.
    fn task_count(&self) -> Result<usize>;
    /// What went wrong while listing tasks (broken links, unreadable
    /// tasks), worded for the user; empty for a sound task list.
    fn task_list_problems(&self) -> &[String];
    /// The task with this PID (idle tasks share PID 0, so 0 gives CPU 0's).
    /// Before the task list is read, from the kernel's own PID table: a
    /// command on one PID of a machine with 20 000 tasks reads that one.
    fn task_by_pid(&self, pid: i32) -> Result<Cow<'_, Task>>;
    /// The task whose `task_struct` is at `addr`, an address a user gave:
    /// it is a task when the PID table maps its PID back to it (or, where
    /// that cannot tell, when the task list has it).
    fn task_by_addr(&self, addr: u64) -> Result<Cow<'_, Task>>;
    /// The task at `addr`, an address the kernel itself holds for a task
    /// (a CPU's `rq->curr`): the task list's entry once the list was read,
    /// else that one task read alone. `bt -a` on a machine of 20 000 tasks
    /// needs its CPUs' tasks, not all of them.
    fn task_at(&self, addr: u64) -> Result<Cow<'_, Task>>;
    /// The task the kernel's PID table gives for `pid`: Ok(None) when the
    /// table has no task with it, an error when there is no table this
    /// kernel's types describe (`init_pid_ns.idr`, 4.15 on; before, a hash).
    fn task_in_pid_table(&self, pid: i32) -> Result<Option<u64>>;
    /// Task running on each CPU (`runqueues.curr`), indexed by CPU.
    fn active_tasks(&self) -> Result<Vec<(u32, u64)>>;
    /// The task that panicked: the current task of the CPU in `panic_cpu`,
    /// else the CPU whose crash-time registers are in a panic path.
    fn panic_task(&self) -> Option<u64>;
    /// The CPU that called panic() (`panic_cpu`), if any did.
    fn panic_cpu(&self) -> Option<u32>;
    /// This kernel's task-state bits, from its `task_state_array`.
    fn task_states(&self) -> &TaskStateTable;
}

impl TaskExt for Kernel {
    fn tasks(&self) -> Result<&[Task]> {
        self.task_list().tasks.as_deref().map_err(Clone::clone)
    }

    fn task_count(&self) -> Result<usize> {
        if let Some(list) = self.cached_if_read::<TaskList>() {
            return list.tasks.as_ref().map(Vec::len).map_err(Clone::clone);
        }
        // `int nr_threads` (kernel/fork.c) in every kernel; a value no PID
        // space can hold means the page is damaged, and the list decides.
        let threads = self
            .symbol_addr("nr_threads")
            .and_then(|addr| self.memory().read_u32(addr))
            .ok()
            .map(|n| n as i32)
            .filter(|&n| (0..=PID_MAX_LIMIT).contains(&n));
        let mut idle: Vec<u64> = self.idle_tasks().into_iter().map(|(_, task)| task).filter(|&t| t != 0).collect();
        idle.sort_unstable();
        idle.dedup();
        match threads {
            Some(n) if !idle.is_empty() => Ok((n as usize).saturating_add(idle.len())),
            _ => self.tasks().map(<[Task]>::len),
        }
    }

    fn task_list_problems(&self) -> &[String] {
        let _ = self.tasks();
        self.cached_if_read::<TaskList>().map(|l| l.problems.as_slice()).unwrap_or_default()
    }

    fn task_by_pid(&self, pid: i32) -> Result<Cow<'_, Task>> {
        if self.cached_if_read::<TaskList>().is_none() && pid > 0 {
            match self.task_in_pid_table(pid) {
                Ok(Some(addr)) => {
                    if let Ok(task) = self.task_at(addr) {
                        return Ok(task);
                    }
                }
                Ok(None) => return Err(Error::NotFound(format!("no task with PID {pid}"))),
                // No table this krash can read: the task list decides.
                Err(_) => {}
            }
        }
        let list = self.task_list();
        let tasks = list.tasks.as_deref().map_err(Clone::clone)?;
        list.by_pid
            .get(&pid)
            .and_then(|&i| tasks.get(i))
            .map(Cow::Borrowed)
            .ok_or_else(|| Error::NotFound(format!("no task with PID {pid}")))
    }

    fn task_by_addr(&self, addr: u64) -> Result<Cow<'_, Task>> {
        if self.cached_if_read::<TaskList>().is_none() {
            let pid = TaskFields::resolve(self).and_then(|f| self.read_resolved(addr, &f.pid));
            if let Ok(pid) = pid {
                let pid = pid as i32;
                if pid > 0 && self.task_in_pid_table(pid).is_ok_and(|found| found == Some(addr)) {
                    if let Ok(task) = self.task_at(addr) {
                        return Ok(task);
                    }
                }
            }
        }
        let list = self.task_list();
        let tasks = list.tasks.as_deref().map_err(Clone::clone)?;
        list.by_addr
            .get(&addr)
            .and_then(|&i| tasks.get(i))
            .map(Cow::Borrowed)
            .ok_or_else(|| Error::NotFound(format!("{addr:x}: not a task_struct address")))
    }

    fn task_at(&self, addr: u64) -> Result<Cow<'_, Task>> {
        if self.cached_if_read::<TaskList>().is_some() {
            return self.task_by_addr(addr);
        }
        let active = self.active_tasks().unwrap_or_default();
        self.read_task(&TaskFields::resolve(self)?, addr, &active, &self.idle_tasks()).map(Cow::Owned)
    }

    fn task_in_pid_table(&self, pid: i32) -> Result<Option<u64>> {
        let l = self.layouts();
        let ns = self.symbol_addr("init_pid_ns")?;
        let head = self.read_field_u64(ns, "pid_namespace", "idr.idr_rt.xa_head")?;
        let base = if l.has_field("pid_namespace", "idr.idr_base") {
            self.read_field(ns, "pid_namespace", "idr.idr_base")?
        } else {
            0
        };
        let Some(index) = u64::try_from(pid).ok().and_then(|p| p.checked_sub(base)) else {
            return Ok(None);
        };
        let Some(pid_struct) = krash_program::xarray::load(self.memory(), head, XaLayout::of(l)?, index)? else {
            return Ok(None);
        };
        // pid->tasks[PIDTYPE_PID].first is &task->pid_links[PIDTYPE_PID].
        let pid_type = match l.types().map(|t| t.find_enumerator("PIDTYPE_PID")) {
            Some(Ok(Some((_, v)))) => u64::try_from(v).map_err(|_| Error::bad_data("PIDTYPE_PID", v.to_string()))?,
            _ => 0,
        };
        let hlist = l.size_of("hlist_head")?;
        let node = l.size_of("hlist_node")?;
        let tasks = l.offset("pid", "tasks")?.wrapping_add(pid_type.wrapping_mul(hlist));
        let first = self.memory().read_u64(pid_struct.wrapping_add(tasks))?;
        if first == 0 {
            return Ok(None);
        }
        let links = l.offset("task_struct", "pid_links")?.wrapping_add(pid_type.wrapping_mul(node));
        let task = first.wrapping_sub(links);
        // The table is the kernel's; the task it leads to must say the same PID.
        let found = self.read_field(task, "task_struct", "pid")? as i32;
        if found != pid {
            return Err(Error::bad_data(
                "PID table",
                format!("PID {pid} leads to task {task:x}, whose PID is {found}"),
            ));
        }
        Ok(Some(task))
    }

    fn active_tasks(&self) -> Result<Vec<(u32, u64)>> {
        let curr_off = self.layouts().offset("rq", "curr")?;
        let mut out = Vec::new();
        for cpu in self.present_cpus()? {
            let rq = self.percpu_addr("runqueues", cpu)?;
            out.push((cpu, self.memory().read_u64(rq.wrapping_add(curr_off))?));
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

    fn task_states(&self) -> &TaskStateTable {
        &self
            .session_cached(|| {
                CachedTaskStates(match read_task_state_array(self).and_then(|e| TaskStateTable::from_array(&e)) {
                    Ok(t) => t,
                    Err(e) => TaskStateTable::fallback(&e.to_string()),
                })
            })
            .0
    }
}

/// Tasks whose fields are read together, on all cores, during the walk.
const READ_CHUNK: usize = 256;
/// Chunks found by the walk and not yet read, at the most: the walk waits
/// (helping to read them) rather than run further ahead of the reads.
const READ_CHUNKS_IN_FLIGHT: usize = 2;

/// One chunk of the walk's tasks, read: its place in the walk, and each
/// task's address with what reading it gave.
type ChunkRead = (usize, Vec<(u64, Result<Task>)>);

/// The most PIDs any kernel hands out (`PID_MAX_LIMIT`, 4 Mi on 64-bit).
const PID_MAX_LIMIT: i32 = 4 * 1024 * 1024;

/// Private helpers of this module's extension of [`Kernel`].
trait TaskHelpers {
    fn read_tasks(&self, problems: &mut Vec<String>) -> Result<Vec<Task>>;
    fn read_task(&self, f: &TaskFields, addr: u64, active: &[(u32, u64)], idle: &[(u32, u64)]) -> Result<Task>;
    fn task_list(&self) -> &TaskList;
    /// Each CPU's idle task (`rq->idle`), by CPU.
    fn idle_tasks(&self) -> Vec<(u32, u64)>;
}

impl TaskHelpers for Kernel {
    fn task_list(&self) -> &TaskList {
        self.cached(|| {
            let mut problems = Vec::new();
            let tasks = self.read_tasks(&mut problems);
            let (mut by_addr, mut by_pid) = (HashMap::new(), HashMap::new());
            for (i, t) in tasks.iter().flatten().enumerate() {
                by_addr.entry(t.addr).or_insert(i);
                by_pid.entry(t.pid).or_insert(i);
            }
            TaskList { tasks, problems, by_addr, by_pid }
        })
    }

    fn read_tasks(&self, problems: &mut Vec<String>) -> Result<Vec<Task>> {
        let l = self.layouts();
        let init_task = self.symbol_addr("init_task")?;
        let tasks_off = l.offset("task_struct", "tasks")?;
        let thread_node_off = l.offset("task_struct", "thread_node")?;
        let signal_off = l.offset("task_struct", "signal")?;
        let thread_head_off = l.offset("signal_struct", "thread_head")?;
        let mem: &dyn VirtualMemory = self.memory();

        // Addresses come from the dump: list nodes may be anywhere, so the
        // arithmetic on them wraps (a wrapped address fails to read).
        // Each task's fields are on pages of their own: on a compressed dump
        // reading them is mostly decompression, which the cores share. Each
        // leader's thread list is walked as the walk reaches it, and the
        // fields are read a chunk of tasks at a time, while the pages the
        // walk decompressed are still in the dump's page cache (a big
        // machine's tasks fill far more pages than it holds).
        //
        // The walk is a pointer chase, one core's work whatever the machine:
        // the chunks it has found are read on the other cores meanwhile
        // (at most READ_CHUNKS_IN_FLIGHT of them, so that their pages are
        // still cached), instead of the walk stopping for each chunk (`ps`
        // of a 20 000-task dump: 0.104 -> 0.086 s; of its kdump-zlib copy,
        // whose pages are inflated as they are read, 0.39 -> 0.21 s).
        let fields = TaskFields::resolve(self)?;
        let active = self.active_tasks().unwrap_or_default();
        let idle_cpus = self.idle_tasks();
        let chunks_read: Mutex<Vec<ChunkRead>> = Mutex::new(Vec::new());
        let in_flight = AtomicUsize::new(0);
        let (broken, mut walk_problems) = rayon::scope(|scope| {
            let fields = &fields;
            let (active, idle_cpus) = (&active, &idle_cpus);
            let (chunks_read, in_flight) = (&chunks_read, &in_flight);
            let mut dispatched = 0usize;
            let mut read_from = |addrs: &[u64]| {
                if addrs.is_empty() {
                    return;
                }
                while in_flight.load(Ordering::Acquire) >= READ_CHUNKS_IN_FLIGHT {
                    // Help read the chunks in flight rather than wait idle.
                    if rayon::yield_now() != Some(rayon::Yield::Executed) {
                        std::thread::yield_now();
                    }
                }
                in_flight.fetch_add(1, Ordering::AcqRel);
                let (index, chunk) = (dispatched, addrs.to_vec());
                dispatched += 1;
                scope.spawn(move |_| {
                    let tasks: Vec<(u64, Result<Task>)> =
                        chunk.par_iter().map(|&addr| (addr, self.read_task(fields, addr, active, idle_cpus))).collect();
                    chunks_read.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push((index, tasks));
                    in_flight.fetch_sub(1, Ordering::AcqRel);
                });
            };
            let mut sent = 0usize;
            let mut addrs: Vec<u64> = vec![init_task];
            let mut seen: HashSet<u64> = HashSet::from([init_task]);
            // Each thread group's list is walked once, and all of them together
            // yield at most MAX_TASKS threads: a corrupt dump whose leaders share
            // one `signal_struct` (or lists sharing one long chain) would
            // otherwise cost leaders x threads steps.
            let mut walked_signals: HashSet<u64> = HashSet::new();
            let mut thread_budget = MAX_TASKS;
            let mut budget_spent = false;
            // The walk's own break is said before what went wrong past it.
            let mut walk_problems = Vec::new();
            let leaders_head = init_task.wrapping_add(tasks_off);
            let broken = list::walk_bridging_each(mem, leaders_head, WalkOptions::default(), |node| -> Result<()> {
                let problems = &mut walk_problems;
                let leader = node.wrapping_sub(tasks_off);
                let threads = match mem.read_u64(leader.wrapping_add(signal_off)) {
                    Ok(signal) if signal != 0 && walked_signals.insert(signal) => {
                        if thread_budget == 0 {
                            if !budget_spent {
                                budget_spent = true;
                                problems.push(format!(
                                    "thread lists: more than {MAX_TASKS} threads; task {leader:x} and the thread \
                                     groups after it are listed by their leaders only"
                                ));
                            }
                            Vec::new()
                        } else {
                            let opts = WalkOptions { limit: thread_budget, ..WalkOptions::default() };
                            let w = list::walk_bridging(mem, signal.wrapping_add(thread_head_off), opts);
                            thread_budget = thread_budget.saturating_sub(w.nodes.len());
                            if let Some(b) = &w.broken {
                                problems.push(format!("threads of task {leader:x}: {b}"));
                            }
                            w.nodes
                        }
                    }
                    _ => Vec::new(),
                };
                if seen.insert(leader) {
                    addrs.push(leader);
                }
                for t in threads {
                    let task = t.wrapping_sub(thread_node_off);
                    if seen.insert(task) {
                        addrs.push(task);
                    }
                }
                if addrs.len() > MAX_TASKS {
                    return Err(Error::bad_data("task list", format!("more than {MAX_TASKS} tasks")));
                }
                if addrs.len() - sent >= READ_CHUNK {
                    read_from(&addrs[sent..]);
                    sent = addrs.len();
                }
                Ok(())
            })?;
            for &(_, idle) in idle_cpus {
                if seen.insert(idle) {
                    addrs.push(idle);
                }
            }
            read_from(&addrs[sent..]);
            Ok::<_, Error>((broken, walk_problems))
        })?;
        if let Some(b) = &broken {
            problems.push(format!("task list (init_task.tasks): {b}; the tasks beyond it were reached backwards"));
        }
        problems.append(&mut walk_problems);
        if let TaskStateSource::Fallback { reason } = &self.task_states().source {
            problems.push(format!(
                "task states: the kernel's task_state_array is unreadable ({reason}); \
                 decoding states with the bit values of 4.14-7.2"
            ));
        }
        // Chunks finish in any order; the problems they report are said in
        // the walk's order.
        let mut chunks = chunks_read.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
        chunks.sort_unstable_by_key(|&(index, _)| index);
        let mut out = Vec::with_capacity(chunks.iter().map(|(_, c)| c.len()).sum());
        for (addr, task) in chunks.into_iter().flat_map(|(_, c)| c) {
            match task {
                Ok(t) => out.push(t),
                // A task whose struct is unreadable is skipped, not fatal.
                Err(e) if e.is_fault() => problems.push(format!("task {addr:x} skipped: {e}")),
                Err(e) => return Err(e),
            }
        }
        out.sort_by_key(|t| (!t.idle, t.pid, t.cpu));
        Ok(out)
    }

    fn idle_tasks(&self) -> Vec<(u32, u64)> {
        let mut idle_cpus = Vec::new();
        if let Ok(idle_off) = self.layouts().offset("rq", "idle") {
            for cpu in self.present_cpus().unwrap_or_default() {
                if let Ok(rq) = self.percpu_addr("runqueues", cpu) {
                    if let Ok(idle) = self.memory().read_u64(rq.wrapping_add(idle_off)) {
                        idle_cpus.push((cpu, idle));
                    }
                }
            }
        }
        idle_cpus
    }

    fn read_task(&self, f: &TaskFields, addr: u64, active: &[(u32, u64)], idle: &[(u32, u64)]) -> Result<Task> {
        let state = self.read_resolved(addr, &f.state)?;
        let exit_state = self.read_resolved(addr, &f.exit_state)?;
        let parent = self.read_resolved(addr, &f.real_parent)?;
        let idle_cpu = idle.iter().find(|&&(_, t)| t == addr).map(|&(c, _)| c);
        // Secondary CPUs' idle tasks are forked by init; crash shows them (and users expect them) under PID 0.
        let ppid = if idle_cpu.is_none() && parent != 0 && parent != addr {
            self.read_resolved(parent, &f.pid).unwrap_or(0) as i32
        } else {
            0
        };
        let cpu = self.read_resolved(addr, &f.cpu)? as u32;
        Ok(Task {
            addr,
            pid: self.read_resolved(addr, &f.pid)? as i32,
            tgid: self.read_resolved(addr, &f.tgid)? as i32,
            ppid,
            parent,
            comm: self.read_resolved_string(addr, &f.comm)?,
            state: self.task_states().decode(state, exit_state),
            cpu: idle_cpu.unwrap_or(cpu),
            mm: self.read_resolved(addr, &f.mm)?,
            active: active.iter().any(|&(_, t)| t == addr),
            idle: idle_cpu.is_some(),
            last_arrival: f.last_arrival.as_ref().and_then(|la| self.read_resolved(addr, la).ok()).unwrap_or(0),
        })
    }
}

/// The `task_struct` members the task table reads, resolved once for all
/// tasks (a big machine has tens of thousands).
struct TaskFields {
    state: Field,
    exit_state: Field,
    real_parent: Field,
    pid: Field,
    tgid: Field,
    cpu: Field,
    comm: Field,
    mm: Field,
    last_arrival: Option<Field>,
}

impl TaskFields {
    fn resolve(k: &Kernel) -> Result<TaskFields> {
        let l = k.layouts();
        let member = |path: &str| l.field("task_struct", path);
        // Members renamed across versions: the kernel's own layout says which it has.
        let state = member("__state").or_else(|_| member("state"))?;
        let cpu = member("cpu").or_else(|_| member("thread_info.cpu"))?;
        Ok(TaskFields {
            state,
            exit_state: member("exit_state")?,
            real_parent: member("real_parent")?,
            pid: member("pid")?,
            tgid: member("tgid")?,
            cpu,
            comm: member("comm")?,
            mm: member("mm")?,
            last_arrival: member("sched_info.last_arrival").ok(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{TaskExt, TaskState, TaskStateSource, TaskStateTable};
    use krash_program::synthetic::SyntheticKernel;
    use krash_program::Kernel;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    /// The array of 4.14 through 7.2 (read from 5.10, 6.1, 6.12 and 7.2).
    const MODERN: [&str; 9] = [
        "R (running)",
        "S (sleeping)",
        "D (disk sleep)",
        "T (stopped)",
        "t (tracing stop)",
        "X (dead)",
        "Z (zombie)",
        "P (parked)",
        "I (idle)",
    ];

    #[test]
    fn modern_array_gives_todays_bits() {
        let t = TaskStateTable::from_array(&strings(&MODERN)).unwrap();
        assert!(matches!(t.source, TaskStateSource::Array { .. }));
        let f = TaskStateTable::fallback("test");
        for (state, exit) in [(0, 0), (1, 0), (2, 0), (0x402, 0), (0x104, 0), (0x80, 0x20), (0x40, 0), (0x200, 0)] {
            assert_eq!(t.decode(state, exit), f.decode(state, exit), "{state:#x}/{exit:#x}");
        }
        assert_eq!(t.decode(0x2001, 0), TaskState::IN, "TASK_FREEZABLE is a modifier");
        assert_eq!(t.decode(0x1000, 0), TaskState::UN, "TASK_RTLOCK_WAIT is reported as D");
        assert_eq!(t.decode(0x8000, 0), TaskState::UN, "TASK_FROZEN is reported as D");
        assert_eq!(t.decode(0x10000, 0), TaskState::Unknown(0x10000));
        assert_eq!(t.decode(0, 0x10), TaskState::DE);
    }

    #[test]
    fn old_array_names_every_bit() {
        // 3.x: zombie before dead, and the unreported bits named too.
        let old = strings(&[
            "R (running)",
            "S (sleeping)",
            "D (disk sleep)",
            "T (stopped)",
            "t (tracing stop)",
            "Z (zombie)",
            "X (dead)",
            "x (dead)",
            "K (wakekill)",
            "W (waking)",
            "P (parked)",
        ]);
        let t = TaskStateTable::from_array(&old).unwrap();
        assert_eq!(t.decode(0, 0x10), TaskState::ZO);
        assert_eq!(t.decode(0, 0x20), TaskState::DE);
        assert_eq!(t.decode(0x40, 0), TaskState::DE);
        assert_eq!(t.decode(0x100, 0), TaskState::WA);
        assert_eq!(t.decode(0x200, 0), TaskState::PA);
        // No TASK_NOLOAD in this kernel: no idle state.
        assert_eq!(t.decode(0x402, 0), TaskState::UN);
    }

    #[test]
    fn bad_arrays_are_refused() {
        assert!(TaskStateTable::from_array(&[]).is_err());
        assert!(TaskStateTable::from_array(&strings(&["S (sleeping)"])).is_err());
        assert!(TaskStateTable::from_array(&strings(&["R (running)", "garbage"])).is_err());
        assert!(TaskStateTable::from_array(&strings(&["R (running)", "S (sleeping)"])).is_err());
    }

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

    /// A kernel with `init_task` and one more task `T` on the task list,
    /// `T`'s thread group a `signal_struct` of its own (thread list: `T`);
    /// `change` then rewrites links. Returns the kernel and `(init, T)`.
    fn two_tasks(change: impl FnOnce(&mut SyntheticKernel, u64, u64, u64)) -> (Kernel, u64, u64) {
        use krash_debuginfo::types::TypeId;
        let mut s = SyntheticKernel::new();
        let t = s.types();
        let ptr = t.pointer(TypeId::VOID);
        let int = t.int("int", 4, true);
        let uint = t.int("unsigned int", 4, false);
        let ch = t.int("char", 1, true);
        let list_head = t.structure("list_head", 16, &[("next", ptr, 0), ("prev", ptr, 8)]);
        let comm = t.array(ch, 16);
        t.structure(
            "task_struct",
            TASK_SIZE,
            &[
                ("__state", uint, 0),
                ("cpu", uint, 4),
                ("tasks", list_head, TASKS),
                ("mm", ptr, 0x18),
                ("exit_state", int, 0x20),
                ("pid", int, 0x24),
                ("tgid", int, 0x28),
                ("real_parent", ptr, 0x30),
                ("thread_node", list_head, THREAD_NODE),
                ("comm", comm, 0x48),
                ("signal", ptr, SIGNAL),
            ],
        );
        t.structure("signal_struct", 0x18, &[("nr_threads", int, 0), ("thread_head", list_head, THREAD_HEAD)]);
        let init = s.global("init_task", TASK_SIZE);
        let task = s.alloc(TASK_SIZE);
        let signal = s.alloc(0x18);
        s.write_str(init + 0x48, "swapper/0");
        s.write_u32(task + 0x24, 1);
        s.write_u32(task + 0x28, 1);
        s.write_str(task + 0x48, "init");
        for (node, other) in [(init + TASKS, task + TASKS), (task + TASKS, init + TASKS)] {
            s.write_u64(node, other);
            s.write_u64(node + 8, other);
        }
        s.write_u64(task + SIGNAL, signal);
        for (node, other) in [(signal + THREAD_HEAD, task + THREAD_NODE), (task + THREAD_NODE, signal + THREAD_HEAD)] {
            s.write_u64(node, other);
            s.write_u64(node + 8, other);
        }
        change(&mut s, init, task, signal);
        (s.build().unwrap(), init, task)
    }

    const TASK_SIZE: u64 = 0x68;
    const TASKS: u64 = 0x08;
    const THREAD_NODE: u64 = 0x38;
    const SIGNAL: u64 = 0x60;
    const THREAD_HEAD: u64 = 8;

    #[test]
    fn a_sound_two_task_list_reads_back() {
        let (k, init, task) = two_tasks(|_, _, _, _| {});
        let addrs: Vec<u64> = k.tasks().unwrap().iter().map(|t| t.addr).collect();
        assert_eq!(addrs, [init, task]);
        assert_eq!(k.task_by_pid(1).unwrap().comm, "init");
    }

    /// Regression (fuzz target kernel_lists): list links to the very
    /// bottom or top of the address space made the node-to-task
    /// arithmetic overflow. Such tasks are unreadable: skipped and named
    /// in the problems.
    #[test]
    fn task_and_thread_links_at_the_ends_of_the_address_space_are_skipped() {
        // A forward break makes the walk go backwards from the head, where
        // the first `prev` is the odd link.
        let odd_links = [0x10, u64::MAX - 7];
        for odd in odd_links {
            let (k, init, _) = two_tasks(|s, init, _, _| {
                s.write_u64(init + TASKS, 0x20);
                s.write_u64(init + TASKS + 8, odd);
            });
            let tasks = k.tasks().unwrap();
            assert!(tasks.iter().any(|t| t.addr == init), "{odd:#x}: {tasks:x?}");
            assert!(k.task_list_problems().iter().any(|p| p.contains("skipped")), "{odd:#x}");
        }
        for odd in odd_links {
            let (k, _, task) = two_tasks(|s, _, _, signal| {
                s.write_u64(signal + THREAD_HEAD, 0x20);
                s.write_u64(signal + THREAD_HEAD + 8, odd);
            });
            assert!(k.tasks().unwrap().iter().any(|t| t.addr == task), "{odd:#x}");
            assert!(k.task_list_problems().iter().any(|p| p.contains("threads of task")), "{odd:#x}");
        }
        // A signal pointer at the top of the address space.
        let (k, _, task) = two_tasks(|s, _, task, _| s.write_u64(task + SIGNAL, u64::MAX - 3));
        assert!(k.tasks().unwrap().iter().any(|t| t.addr == task));
    }

    /// Regression (a crafted kernel_lists input: 669 leaders sharing one
    /// `signal_struct` of 2 007 threads took 1.3M list steps): a shared
    /// thread list was walked once per leader, with a problem line each.
    #[test]
    fn a_signal_struct_shared_by_leaders_is_walked_once() {
        let (k, _, task) = two_tasks(|s, init, task, signal| {
            let other = s.alloc(TASK_SIZE);
            s.write_u32(other + 0x24, 2);
            s.write_u32(other + 0x28, 2);
            // init -> task -> other -> init, `other` in `task`'s group.
            s.write_u64(task + TASKS, other + TASKS);
            s.write_u64(other + TASKS, init + TASKS);
            s.write_u64(other + TASKS + 8, task + TASKS);
            s.write_u64(init + TASKS + 8, other + TASKS);
            s.write_u64(other + SIGNAL, signal);
            // The group's thread list breaks after its first thread.
            s.write_u64(task + THREAD_NODE, 0x20);
        });
        let pids: Vec<i32> = k.tasks().unwrap().iter().map(|t| t.pid).collect();
        assert_eq!(pids, [0, 1, 2]);
        let broken: Vec<&String> = k.task_list_problems().iter().filter(|p| p.contains("threads of task")).collect();
        assert_eq!(broken.len(), 1, "{broken:?}");
        assert!(broken[0].contains(&format!("{task:x}")), "{broken:?}");
    }
}
