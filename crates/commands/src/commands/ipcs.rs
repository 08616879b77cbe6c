//! `ipcs`: System V shared memory, semaphores and message queues.

use krash_core::{Error, Result};
use krash_linux::ipc::IpcExt;
use krash_linux::ipc::{IpcKind, IpcObject};

use super::task::task_arg;
use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "ipcs",
    aliases: &[],
    summary: "System V IPC facilities",
    synopsis: "ipcs [-smq] [-n pid|task] [id | addr]",
    details: "  (none)  shared memory segments, semaphore arrays and message queues of init_ipc_ns\n\
              \x20 -m      shared memory: SHMID_KERNEL KEY SHMID UID PERMS BYTES NATTCH STATUS\n\
              \x20 -s      semaphore arrays: SEM_ARRAY KEY SEMID UID PERMS NSEMS\n\
              \x20 -q      message queues: MSG_QUEUE KEY MSQID UID PERMS USED-BYTES MESSAGES\n\
              \x20 -n pid|task  the IPC namespace of that task\n\
              \x20 id | addr  only the object with this id (decimal) or address (hex)",
    run,
};

/// One facility's objects.
#[derive(Debug, Clone)]
pub struct IpcSection {
    pub kind: IpcKind,
    pub objects: Vec<IpcObject>,
}

/// What `ipcs` printed.
#[derive(Debug, Clone)]
pub struct IpcsOutput {
    pub namespace: u64,
    /// True when one object was asked for (crash then prints a header per match).
    pub specified: bool,
    pub sections: Vec<IpcSection>,
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("ipcs", args, "smqn:")?;
    let k = &session.kernel;
    let task = match p.value('n') {
        Some(word) => task_arg(k, word)?.addr,
        None => 0,
    };
    let ns = k.ipc_namespace(task)?;
    let mut kinds = Vec::new();
    if p.has('m') {
        kinds.push(IpcKind::SharedMemory);
    }
    if p.has('s') {
        kinds.push(IpcKind::Semaphores);
    }
    if p.has('q') {
        kinds.push(IpcKind::Messages);
    }
    if kinds.is_empty() {
        kinds = vec![IpcKind::SharedMemory, IpcKind::Semaphores, IpcKind::Messages];
    }
    let wanted = match p.args.first() {
        None => None,
        Some(w) => Some(match w.parse::<i64>() {
            Ok(id) => (Some(id), None),
            Err(_) => (
                None,
                Some(crate::parse_hex(w).ok_or_else(|| Error::Usage(format!("ipcs: invalid id or address: {w}")))?),
            ),
        }),
    };
    let mut sections = Vec::new();
    for kind in kinds {
        let mut objects = k.ipc_objects(ns, kind)?;
        if let Some((id, addr)) = wanted {
            objects.retain(|o| Some(o.id) == id || Some(o.addr) == addr);
        }
        sections.push(IpcSection { kind, objects });
    }
    if wanted.is_some() && sections.iter().all(|s| s.objects.is_empty()) {
        return Err(Error::NotFound(format!("ipcs: invalid id or address: {}", p.args.join(" "))));
    }
    Ok(Output::Ipcs(IpcsOutput { namespace: ns, specified: wanted.is_some(), sections }))
}
