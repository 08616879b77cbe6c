//! Wait queues: the entries queued on a `wait_queue_head` and the task
//! each one wakes (`private`).

use krash_core::{Result, VirtualMemory};
use serde::Serialize;

use krash_program::list::{self, WalkOptions};
use krash_program::Kernel;

/// Entries followed on one wait queue.
const MAX_WAITERS: usize = 1 << 16;

/// One `wait_queue_entry`.
#[derive(Debug, Clone, Serialize)]
pub struct WaitEntry {
    pub entry: u64,
    /// `private`: usually the waiting task.
    pub private: u64,
    pub func: u64,
}

/// The entries of one wait queue and why the walk stopped early, if it did.
#[derive(Debug, Clone, Serialize)]
pub struct WaitQueue {
    pub head: u64,
    pub entries: Vec<WaitEntry>,
    pub broken: Option<String>,
}

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait WaitqExt {
    /// The entries queued on the `wait_queue_head` at `head`.
    fn wait_queue(&self, head: u64) -> Result<WaitQueue>;
}

impl WaitqExt for Kernel {
    fn wait_queue(&self, head: u64) -> Result<WaitQueue> {
        let mem: &dyn VirtualMemory = self.memory();
        let list_head = self.field_addr(head, "wait_queue_head", "head")?;
        let link = self.layouts().offset("wait_queue_entry", "entry")?;
        // An unreadable head is a wrong address, not an empty queue.
        mem.read_u64(list_head)?;
        let walk = list::walk(mem, list_head, WalkOptions { limit: MAX_WAITERS, ..Default::default() });
        let mut entries = Vec::new();
        for node in walk.nodes {
            let entry = node.wrapping_sub(link);
            entries.push(WaitEntry {
                entry,
                private: self.read_field_u64(entry, "wait_queue_entry", "private")?,
                func: self.read_field_u64(entry, "wait_queue_entry", "func")?,
            });
        }
        Ok(WaitQueue { head, entries, broken: walk.broken.map(|b| b.to_string()) })
    }
}
