//! System V IPC: the shared memory segments, semaphore arrays and message
//! queues of an IPC namespace, read from its `ipc_ids` IDRs.

use crate::dev::devices::DevicesInternal;
use krash_core::{Result, VirtualMemory};
use serde::Serialize;

use krash_program::Kernel;

/// Objects accepted from one IDR.
const MAX_IPC_OBJECTS: usize = 1 << 20;

/// The three facilities, as `ipc_namespace.ids[]` indexes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IpcKind {
    Semaphores,
    Messages,
    SharedMemory,
}

impl IpcKind {
    fn index(self) -> u64 {
        match self {
            IpcKind::Semaphores => 0,
            IpcKind::Messages => 1,
            IpcKind::SharedMemory => 2,
        }
    }

    /// The containing struct and the name of its `kern_ipc_perm` member.
    fn container(self) -> (&'static str, &'static str) {
        match self {
            IpcKind::Semaphores => ("sem_array", "sem_perm"),
            IpcKind::Messages => ("msg_queue", "q_perm"),
            IpcKind::SharedMemory => ("shmid_kernel", "shm_perm"),
        }
    }
}

/// One IPC object.
#[derive(Debug, Clone, Serialize)]
pub struct IpcObject {
    /// The `shmid_kernel`, `sem_array` or `msg_queue`.
    pub addr: u64,
    pub key: u32,
    pub id: i64,
    pub uid: u32,
    /// `kern_ipc_perm.mode` (permission bits plus SHM_DEST/SHM_LOCKED).
    pub mode: u64,
    /// Shared memory: segment bytes; semaphores: nsems; messages: used bytes.
    pub size: u64,
    /// Shared memory: attach count; messages: message count; semaphores: 0.
    pub count: u64,
}

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait IpcExt {
    /// The IPC namespace of a task, or `init_ipc_ns` for 0.
    fn ipc_namespace(&self, task: u64) -> Result<u64>;
    /// The live objects of one facility in namespace `ns`, in id order.
    fn ipc_objects(&self, ns: u64, kind: IpcKind) -> Result<Vec<IpcObject>>;
}

impl IpcExt for Kernel {
    fn ipc_namespace(&self, task: u64) -> Result<u64> {
        if task != 0 {
            let nsproxy = self.read_field_u64(task, "task_struct", "nsproxy")?;
            if nsproxy != 0 {
                return self.read_field_u64(nsproxy, "nsproxy", "ipc_ns");
            }
        }
        self.symbol_addr("init_ipc_ns")
    }

    fn ipc_objects(&self, ns: u64, kind: IpcKind) -> Result<Vec<IpcObject>> {
        let mem: &dyn VirtualMemory = self.memory();
        let ids = self
            .field_addr(ns, "ipc_namespace", "ids")?
            .wrapping_add(kind.index() * self.layouts().size_of("ipc_ids")?);
        let root = self.field_addr(ids, "ipc_ids", "ipcs_idr.idr_rt")?;
        let head = self.read_field_u64(root, "xarray", "xa_head")?;
        let walk = krash_program::xarray::walk(mem, head, self.xa_layout()?, MAX_IPC_OBJECTS);
        if let Some(b) = walk.broken {
            return Err(krash_core::Error::bad_data("ipc idr", b));
        }
        let (container, perm_member) = kind.container();
        let perm_offset = self.layouts().offset(container, perm_member)?;
        let mut out = Vec::new();
        for e in walk.entries {
            let perm = e.value;
            if self.read_field(perm, "kern_ipc_perm", "deleted")? != 0 {
                continue;
            }
            let addr = perm.wrapping_sub(perm_offset);
            let (size, count) = match kind {
                IpcKind::SharedMemory => (
                    self.read_field(addr, "shmid_kernel", "shm_segsz")?,
                    self.read_field(addr, "shmid_kernel", "shm_nattch")?,
                ),
                IpcKind::Semaphores => (self.read_field(addr, "sem_array", "sem_nsems")?, 0),
                IpcKind::Messages => {
                    (self.read_field(addr, "msg_queue", "q_cbytes")?, self.read_field(addr, "msg_queue", "q_qnum")?)
                }
            };
            out.push(IpcObject {
                addr,
                key: self.read_field(perm, "kern_ipc_perm", "key")? as u32,
                id: self.read_field(perm, "kern_ipc_perm", "id")? as u32 as i32 as i64,
                uid: self.read_field(perm, "kern_ipc_perm", "uid.val")? as u32,
                mode: self.read_field(perm, "kern_ipc_perm", "mode")?,
                size,
                count,
            });
        }
        Ok(out)
    }
}
