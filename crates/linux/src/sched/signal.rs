//! Signal state: a thread group's dispositions (`sighand->action[]`) and
//! shared pending set, and each thread's blocked and private pending sets.

use krash_core::{Result, VirtualMemory};
use serde::Serialize;

use krash_program::list::{self, WalkOptions};
use krash_program::Kernel;

/// Signals on x86-64 (`_NSIG`).
pub const NSIG: u64 = 64;
/// `TIF_SIGPENDING` in x86 `thread_info.flags`.
const TIF_SIGPENDING: u64 = 2;
/// Queued signals followed on one pending list.
const MAX_QUEUED: usize = 1 << 16;

/// One signal's disposition.
#[derive(Debug, Clone, Serialize)]
pub struct SigAction {
    pub signal: u64,
    /// Address of the `k_sigaction` in the kernel.
    pub sigaction: u64,
    /// The handler: 0 is SIG_DFL, 1 SIG_IGN, all ones SIG_ERR, else a user address.
    pub handler: u64,
    pub mask: u64,
    pub flags: u64,
}

/// One queued `struct sigqueue`.
#[derive(Debug, Clone, Serialize)]
pub struct QueuedSignal {
    pub signal: i64,
    /// Address of its `siginfo`.
    pub siginfo: u64,
}

/// A pending set and its queue.
#[derive(Debug, Clone, Serialize)]
pub struct Pending {
    pub signal: u64,
    pub queue: Vec<QueuedSignal>,
}

/// The thread-group level: dispositions and shared pending signals.
#[derive(Debug, Clone, Serialize)]
pub struct GroupSignals {
    pub signal_struct: u64,
    pub nr_threads: i64,
    pub actions: Vec<SigAction>,
    pub shared_pending: Pending,
}

/// The task level: pending flag, blocked mask and private pending signals.
#[derive(Debug, Clone, Serialize)]
pub struct TaskSignals {
    pub sigpending: bool,
    pub blocked: u64,
    pub pending: Pending,
}

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait SignalExt {
    /// The dispositions and shared pending set of the task's thread group;
    /// None when the task has no signal_struct (an exited task).
    fn group_signals(&self, task: u64) -> Result<Option<GroupSignals>>;
    /// The task's own signal state.
    fn task_signals(&self, task: u64) -> Result<TaskSignals>;
}

impl SignalExt for Kernel {
    fn group_signals(&self, task: u64) -> Result<Option<GroupSignals>> {
        let signal_struct = self.read_field_u64(task, "task_struct", "signal")?;
        if signal_struct == 0 {
            return Ok(None);
        }
        let nr_threads = self.read_field(signal_struct, "signal_struct", "nr_threads")? as u32 as i32 as i64;
        let sighand = self.read_field_u64(task, "task_struct", "sighand")?;
        let mut actions = Vec::new();
        if sighand != 0 {
            let base = self.field_addr(sighand, "sighand_struct", "action")?;
            let size = self.layouts().size_of("k_sigaction")?;
            for i in 0..NSIG {
                let ka = base.wrapping_add(i * size);
                actions.push(SigAction {
                    signal: i + 1,
                    sigaction: ka,
                    handler: self.read_field_u64(ka, "k_sigaction", "sa.sa_handler")?,
                    mask: self.read_field_u64(ka, "k_sigaction", "sa.sa_mask")?,
                    flags: self.read_field_u64(ka, "k_sigaction", "sa.sa_flags")?,
                });
            }
        }
        let shared = self.field_addr(signal_struct, "signal_struct", "shared_pending")?;
        Ok(Some(GroupSignals { signal_struct, nr_threads, actions, shared_pending: self.pending(shared)? }))
    }

    fn task_signals(&self, task: u64) -> Result<TaskSignals> {
        let flags = self.read_field(task, "task_struct", "thread_info.flags")?;
        let blocked = self.read_field_u64(task, "task_struct", "blocked")?;
        let pending = self.pending(self.field_addr(task, "task_struct", "pending")?)?;
        Ok(TaskSignals { sigpending: flags & (1 << TIF_SIGPENDING) != 0, blocked, pending })
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait SignalHelpers {
    fn pending(&self, sigpending: u64) -> Result<Pending>;
}

impl SignalHelpers for Kernel {
    fn pending(&self, sigpending: u64) -> Result<Pending> {
        let mem: &dyn VirtualMemory = self.memory();
        let signal = self.read_field_u64(sigpending, "sigpending", "signal")?;
        let head = self.field_addr(sigpending, "sigpending", "list")?;
        let link = self.layouts().offset("sigqueue", "list")?;
        let info = self.layouts().offset("sigqueue", "info")?;
        let walk = list::walk(mem, head, WalkOptions { limit: MAX_QUEUED, ..Default::default() });
        let mut queue = Vec::new();
        for node in walk.nodes {
            let q = node.wrapping_sub(link);
            let signo = mem.read_u32(q.wrapping_add(info))? as i32 as i64;
            queue.push(QueuedSignal { signal: signo, siginfo: q.wrapping_add(info) });
        }
        Ok(Pending { signal, queue })
    }
}

/// Signal names by number (x86-64), with crash's aliases.
pub fn signal_name(sig: u64) -> String {
    const NAMES: [&str; 32] = [
        "",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT/SIGIOT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD/SIGCLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO/SIGPOLL",
        "SIGPWR",
        "SIGSYS/SIGUNUSED",
    ];
    const SIGRTMIN: u64 = 32;
    match sig {
        1..=31 => NAMES.get(sig as usize).copied().unwrap_or("").to_string(),
        SIGRTMIN => "SIGRTMIN".to_string(),
        33..=48 => format!("SIGRTMIN+{}", sig - SIGRTMIN),
        49..=63 => format!("SIGRTMAX-{}", NSIG - sig),
        NSIG => "SIGRTMAX".to_string(),
        _ => format!("{sig}"),
    }
}

#[cfg(test)]
mod tests {
    use super::signal_name;

    #[test]
    fn names() {
        assert_eq!(signal_name(6), "SIGABRT/SIGIOT");
        assert_eq!(signal_name(48), "SIGRTMIN+16");
        assert_eq!(signal_name(49), "SIGRTMAX-15");
        assert_eq!(signal_name(64), "SIGRTMAX");
    }
}
