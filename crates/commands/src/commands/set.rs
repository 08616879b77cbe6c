use krash_core::{Error, Result};
use krash_linux::sched::task::{TaskExt, TaskState};

use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "set",
    aliases: &[],
    summary: "show or change the current context (task)",
    synopsis: "set [pid | task | -p | -c cpu]",
    details: "  (none)  show the current context\n\
              \x20 pid     make the task with this PID current\n\
              \x20 task    make the task_struct at this hexadecimal address current\n\
              \x20 -p      back to the panic task\n\
              \x20 -c cpu  the task running on this CPU",
    run,
};

/// The current context, as `set` shows it.
#[derive(Debug, Clone)]
pub struct Context {
    pub pid: i32,
    pub command: String,
    pub task: u64,
    pub cpu: u32,
    /// crash shows the long name (TASK_RUNNING, ...).
    pub state: TaskState,
    pub panic: bool,
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("set", args, "pc:")?;
    let k = &session.kernel;
    let target = if p.has('p') {
        Some(k.panic_task().ok_or_else(|| Error::NotFound("set: no panic task in this dump".into()))?)
    } else if let Some(cpu) = p.value('c') {
        let cpu: u32 = cpu.parse().map_err(|_| Error::Usage(format!("set: invalid cpu: {cpu}")))?;
        let active = k.active_tasks()?;
        Some(
            active
                .iter()
                .find(|(c, _)| *c == cpu)
                .map(|&(_, t)| t)
                .ok_or_else(|| Error::NotFound(format!("set: no task for cpu {cpu}")))?,
        )
    } else if let Some(arg) = p.args.first() {
        Some(task_from_arg(session, arg)?)
    } else {
        None
    };
    if let Some(t) = target {
        session.current_task = Some(t);
    }
    let task_addr = session.current_task.ok_or_else(|| Error::NotFound("set: no current context".into()))?;
    let k = &session.kernel;
    let t = k.task_by_addr(task_addr)?;
    let panic = k.panic_task() == Some(t.addr);
    Ok(Output::Set(Context { pid: t.pid, command: t.comm.clone(), task: t.addr, cpu: t.cpu, state: t.state, panic }))
}

/// A PID (decimal) or task address (hex), as crash accepts.
pub(crate) fn task_from_arg(session: &Session, arg: &str) -> Result<u64> {
    let k = &session.kernel;
    if let Ok(pid) = arg.parse::<i32>() {
        return Ok(k.task_by_pid(pid)?.addr);
    }
    let addr = crate::parse_hex(arg).ok_or_else(|| Error::Usage(format!("invalid task or pid value: {arg}")))?;
    Ok(k.task_by_addr(addr)?.addr)
}
