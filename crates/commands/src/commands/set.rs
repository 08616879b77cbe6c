use krash_core::{Error, Result};
use krash_linux::sched::task::{TaskExt, TaskState};

use crate::session::OutputRadix;
use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "set",
    aliases: &[],
    summary: "show or change the current context (task)",
    synopsis: "set [pid | task | -p | -c cpu] | [variable [value]] ... | -v",
    details: "  (none)  show the current context\n\
              \x20 pid     make the task with this PID current\n\
              \x20 task    make the task_struct at this hexadecimal address current\n\
              \x20 -p      back to the panic task\n\
              \x20 -c cpu  the task running on this CPU\n\
              \x20 -v      show krash's internal variables\n\
              \x20 variable [value]  show, or change, an internal variable:\n\
              \x20   scroll  on | off  long output on a terminal goes through a pager ($KRASH_PAGER,\n\
              \x20                     else $PAGER, else less); sn and sf are aliases for on and off\n\
              \x20   radix   10 | 16   how p, struct, union, task, list and tree show integers\n\
              \x20                     without -x or -d; hex and dec are aliases for 16 and 10\n\
              Several variable and value pairs may follow one set.",
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

/// crash's internal variables as `set -v` and `set NAME VALUE` show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variables {
    pub variables: Vec<Variable>,
    /// `set -v`: every variable, names aligned.
    pub all: bool,
}

/// One internal variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub name: String,
    pub value: String,
    /// What the value means (`hex`, the pager's command).
    pub note: Option<String>,
}

const VARIABLES: [&str; 2] = ["scroll", "radix"];

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    if args.first().is_some_and(|a| VARIABLES.contains(&a.as_str())) {
        return set_variables(session, args);
    }
    let p = getopt::parse("set", args, "pc:v")?;
    if p.has('v') {
        let variables = VARIABLES.iter().map(|n| variable(session, n)).collect();
        return Ok(Output::SetVariables(Variables { variables, all: true }));
    }
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

/// `set NAME [VALUE] [NAME [VALUE]] ...`: changes each variable given a
/// value, then shows each one named.
fn set_variables(session: &mut Session, args: &[String]) -> Result<Output> {
    let mut shown = Vec::new();
    let mut words = args.iter().peekable();
    while let Some(name) = words.next() {
        let value = words.next_if(|w| !VARIABLES.contains(&w.as_str()));
        match (name.as_str(), value.map(String::as_str)) {
            ("scroll", Some("on")) => session.settings.scroll = true,
            ("scroll", Some("off")) => session.settings.scroll = false,
            ("radix", Some("10")) => session.settings.radix = OutputRadix::Decimal,
            ("radix", Some("16")) => session.settings.radix = OutputRadix::Hex,
            ("scroll" | "radix", None) => {}
            ("scroll", Some(v)) => return Err(Error::Usage(format!("set: invalid scroll setting: {v} (on or off)"))),
            ("radix", Some(v)) => return Err(Error::Usage(format!("set: invalid radix: {v} (10 or 16)"))),
            (other, _) => return Err(Error::Usage(format!("set: unknown variable: {other}"))),
        }
        shown.push(variable(session, name));
    }
    Ok(Output::SetVariables(Variables { variables: shown, all: false }))
}

fn variable(session: &Session, name: &str) -> Variable {
    let s = &session.settings;
    let (value, note) = match name {
        "scroll" => (if s.scroll { "on" } else { "off" }.to_string(), s.pager.clone()),
        _ => (
            s.radix.base().to_string(),
            Some(match s.radix {
                OutputRadix::Decimal => "decimal".to_string(),
                OutputRadix::Hex => "hex".to_string(),
            }),
        ),
    };
    Variable { name: name.to_string(), value, note }
}
