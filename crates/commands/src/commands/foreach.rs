//! `foreach`: run a task command (task, bt, ...) for every task chosen by
//! PID, task address, name, state or kind.

use krash_core::{Error, Result};
use krash_linux::sched::task::Task;
use krash_linux::sched::task::TaskExt;

use crate::{CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "foreach",
    aliases: &[],
    summary: "display command data for multiple tasks in the system",
    synopsis: "foreach [[pid | taskp | name | state | [kernel | user | active]] ...] command [flag] [argument]",
    details: "  pid | taskp  tasks by PID or task_struct address\n\
              \x20 name     tasks whose command name is name (\\name if it clashes with a keyword)\n\
              \x20 state    RU, IN, UN, ST, TR, ZO, DE, SW, WA, PA, ID, NE: tasks in that state\n\
              \x20 kernel   kernel threads; user: user tasks; active: the task active on each CPU\n\
              \x20 command  any command taking a task argument (task, bt, ...), run once per task\n\
              \x20          with its flags; the task is passed as its last argument",
    run,
};

/// What `foreach` printed: each task's command output, in `ps` order.
#[derive(Debug, Clone)]
pub struct Foreach {
    pub command: String,
    pub outputs: Vec<Output>,
    /// Tasks the command failed on, each with its error, in task order;
    /// `before` is how many outputs came before it.
    pub failures: Vec<ForeachFailure>,
}

/// One task the command could not run on: the others are still shown.
#[derive(Debug, Clone)]
pub struct ForeachFailure {
    pub before: usize,
    pub task: u64,
    pub error: String,
}

const STATES: [&str; 12] = ["RU", "IN", "UN", "ST", "TR", "ZO", "DE", "SW", "WA", "PA", "ID", "NE"];

enum Selector {
    Pid(i32),
    Task(u64),
    Name(String),
    State(String),
    Kernel,
    User,
    Active,
}

impl Selector {
    fn matches(&self, t: &Task) -> bool {
        match self {
            Selector::Pid(p) => t.pid == *p,
            Selector::Task(a) => t.addr == *a,
            Selector::Name(n) => t.comm == *n,
            Selector::State(s) => t.state.abbrev() == s,
            Selector::Kernel => t.is_kernel_thread(),
            Selector::User => !t.is_kernel_thread(),
            Selector::Active => t.active,
        }
    }
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let cmd_pos = args
        .iter()
        .position(|a| crate::lookup(a).is_some() && !STATES.contains(&a.as_str()))
        .ok_or_else(|| Error::Usage(format!("foreach: no command given\nusage: {}", SPEC.synopsis)))?;
    let (select_words, command) = args.split_at(cmd_pos);
    let mut selectors = Vec::new();
    for w in select_words {
        selectors.push(match w.as_str() {
            "kernel" => Selector::Kernel,
            "user" => Selector::User,
            "active" => Selector::Active,
            s if STATES.contains(&s) => Selector::State(s.to_string()),
            s => match s.parse::<i32>() {
                Ok(pid) => Selector::Pid(pid),
                Err(_) => match crate::parse_hex(s).filter(|_| s.len() >= 8) {
                    Some(a) => Selector::Task(a),
                    None => Selector::Name(s.strip_prefix('\\').unwrap_or(s).to_string()),
                },
            },
        });
    }
    let tasks: Vec<u64> = session
        .kernel
        .tasks()?
        .iter()
        .filter(|t| selectors.is_empty() || selectors.iter().any(|s| s.matches(t)))
        .map(|t| t.addr)
        .collect();
    let name = command.first().cloned().unwrap_or_default();
    if name == "foreach" {
        return Err(Error::Usage("foreach: cannot nest foreach".into()));
    }
    let mut outputs = Vec::with_capacity(tasks.len());
    let mut failures = Vec::new();
    for addr in tasks {
        session.interrupt.check()?;
        let mut words: Vec<String> = command.to_vec();
        words.push(format!("{addr:x}"));
        // The bt implementation (commands/bt.rs) takes a task address like
        // any other task command. One task's unreadable memory is that
        // task's answer; a usage error is everyone's.
        match crate::execute(session, &words) {
            Ok(output) => outputs.push(output),
            Err(e) if e.is_fault() => {
                failures.push(ForeachFailure { before: outputs.len(), task: addr, error: e.to_string() })
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Output::Foreach(Foreach { command: name, outputs, failures }))
}
