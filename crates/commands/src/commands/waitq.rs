//! `waitq`: the tasks queued on a wait queue.

use krash_core::{Error, Result};
use krash_linux::sched::task::TaskExt;
use krash_linux::sched::waitq::WaitQueue;
use krash_linux::sched::waitq::WaitqExt;

use crate::header::TaskHeader;
use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "waitq",
    aliases: &[],
    summary: "list tasks queued on a wait queue",
    synopsis: "waitq [ symbol ] | [ struct.member struct_addr ] | [ address ]",
    details: "  symbol                     a global wait_queue_head\n\
              \x20 struct.member struct_addr  the wait_queue_head member of the struct at struct_addr\n\
              \x20 address                    a wait_queue_head address (hexadecimal)\n\
              \x20 Each waiting task's header line is shown, in queue order.",
    run,
};

/// What `waitq` printed.
#[derive(Debug, Clone)]
pub struct WaitqOutput {
    /// The symbol named on the command line, if one was.
    pub name: Option<String>,
    pub queue: WaitQueue,
    /// The tasks of the entries whose `private` is a known task, up to the first that is not.
    pub tasks: Vec<TaskHeader>,
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("waitq", args, "")?;
    let k = &session.kernel;
    let usage = || Error::Usage("waitq: usage: waitq [ symbol ] | [ struct.member struct_addr ] | [ address ]".into());
    let first = p.args.first().ok_or_else(usage)?;
    let (head, name) = if let Some(addr) = crate::parse_hex(first).filter(|_| p.args.len() == 1) {
        (addr, None)
    } else if let Some((st, member)) = first.split_once('.') {
        let base = p
            .args
            .get(1)
            .and_then(|a| crate::parse_hex(a))
            .ok_or_else(|| Error::Usage(format!("waitq: must supply an address for {st}")))?;
        (k.field_addr(base, st, member)?, None)
    } else {
        (k.symbol_addr(first)?, Some(first.clone()))
    };
    if p.args.len() > 2 {
        return Err(usage());
    }
    let queue = k.wait_queue(head)?;
    let mut tasks = Vec::new();
    for e in &queue.entries {
        // crash stops at the first entry that is not a task's.
        match k.task_by_addr(e.private) {
            Ok(t) => tasks.push(TaskHeader::of(&t)),
            Err(_) => break,
        }
    }
    Ok(Output::Waitq(WaitqOutput { name, queue, tasks }))
}
