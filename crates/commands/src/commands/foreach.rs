//! `foreach`: run a task command (task, bt, ...) for every task chosen by
//! PID, task address, name, state or kind.

use krash_core::{Error, Result};
use krash_linux::sched::task::Task;
use krash_linux::sched::task::TaskExt;
use rayon::prelude::*;

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

/// From this many tasks on, `foreach` reports its progress (the CLI draws a
/// bar on a terminal): a big machine's `foreach bt` takes seconds.
const PROGRESS_TASKS: usize = 1000;

/// Ends the progress report however the loop ends (done, an error, Ctrl-C).
struct ProgressGuard(std::sync::Arc<dyn krash_program::progress::Progress>);

impl ProgressGuard {
    fn begin(session: &Session, tasks: usize) -> ProgressGuard {
        let total = u64::try_from(tasks).unwrap_or(u64::MAX);
        session.progress.begin("foreach", total, krash_program::progress::ProgressUnit::Items);
        ProgressGuard(session.progress.clone())
    }
}

impl Drop for ProgressGuard {
    fn drop(&mut self) {
        self.0.end();
    }
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

/// What `foreach` will do: the command and the tasks it runs on, in `ps` order.
#[derive(Debug, Clone)]
pub struct ForeachPlan {
    /// The command's words, the task address not yet appended.
    pub command: Vec<String>,
    pub tasks: Vec<u64>,
}

/// One task's result as `foreach` makes it: the command's output, or why
/// the command could not run on that task.
#[derive(Debug, Clone)]
pub enum ForeachItem {
    Output(Box<Output>),
    Failure(ForeachFailure),
}

/// Parses `foreach`'s arguments and chooses the tasks.
pub(crate) fn plan(session: &Session, args: &[String]) -> Result<ForeachPlan> {
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
    if command.first().is_some_and(|name| name == "foreach") {
        return Err(Error::Usage("foreach: cannot nest foreach".into()));
    }
    let tasks: Vec<u64> = session
        .kernel
        .tasks()?
        .iter()
        .filter(|t| selectors.is_empty() || selectors.iter().any(|s| s.matches(t)))
        .map(|t| t.addr)
        .collect();
    Ok(ForeachPlan { command: command.to_vec(), tasks })
}

/// Runs the plan's command on each task in turn and hands each result to
/// `each` as soon as it is made (the CLI writes it out then: a big
/// machine's `foreach bt` is never held whole); `each` returning false
/// stops the run. One task's unreadable memory is that task's answer; a
/// usage error, or Ctrl-C, ends the run with that error.
pub(crate) fn run_each(
    session: &mut Session,
    plan: &ForeachPlan,
    mut each: impl FnMut(ForeachItem) -> bool,
) -> Result<()> {
    let _bar = (plan.tasks.len() >= PROGRESS_TASKS).then(|| ProgressGuard::begin(session, plan.tasks.len()));
    // The bt implementation (commands/bt.rs) takes a task address like any
    // other task command.
    let words_for = |addr: u64| {
        let mut words = plan.command.clone();
        words.push(format!("{addr:x}"));
        words
    };
    let item = |addr: u64, result: Result<Output>| match result {
        Ok(output) => Ok(ForeachItem::Output(Box::new(output))),
        Err(e) if e.is_fault() => {
            Ok(ForeachItem::Failure(ForeachFailure { before: 0, task: addr, error: e.to_string() }))
        }
        Err(e) => Err(e),
    };
    if let Some((spec, shared)) = plan.command.first().and_then(|name| shared_runner(name)) {
        // A command that only reads the session runs on a chunk of tasks
        // at once; the results still go out in task order.
        for chunk in plan.tasks.chunks(PARALLEL_CHUNK) {
            session.interrupt.check()?;
            let reader: &Session = session;
            let run = |addr: u64| {
                // As execute() runs it: a wrong option shows the command's usage.
                shared(reader, words_for(addr).get(1..).unwrap_or_default()).map_err(|e| crate::with_usage(spec, e))
            };
            let results: Vec<Result<Output>> = chunk.par_iter().map(|&addr| run(addr)).collect();
            for (&addr, result) in chunk.iter().zip(results) {
                session.progress.advance(1);
                if !each(item(addr, result)?) {
                    return Ok(());
                }
            }
        }
        return Ok(());
    }
    for &addr in &plan.tasks {
        session.interrupt.check()?;
        session.progress.advance(1);
        let words = words_for(addr);
        if !each(item(addr, crate::execute(session, &words))?) {
            break;
        }
    }
    Ok(())
}

/// A command's run that only reads the session.
type SharedRun = fn(&Session, &[String]) -> Result<Output>;

/// Tasks whose results are made at once by a command that only reads.
const PARALLEL_CHUNK: usize = 256;

/// The commands `foreach` may run on several tasks at once: they read the
/// session and change nothing (no `set`, no module loading, no cache of
/// their own that is not thread-safe).
fn shared_runner(name: &str) -> Option<(&'static CommandSpec, SharedRun)> {
    let spec = crate::lookup(name)?;
    match spec.name {
        "bt" => Some((spec, super::bt::run_shared)),
        "task" => Some((spec, super::task::run_shared)),
        "files" => Some((spec, super::vm::files_shared)),
        _ => None,
    }
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let plan = plan(session, args)?;
    let mut outputs = Vec::with_capacity(plan.tasks.len());
    let mut failures = Vec::new();
    run_each(session, &plan, |item| {
        match item {
            ForeachItem::Output(output) => outputs.push(*output),
            ForeachItem::Failure(failure) => failures.push(ForeachFailure { before: outputs.len(), ..failure }),
        }
        true
    })?;
    let command = plan.command.first().cloned().unwrap_or_default();
    Ok(Output::Foreach(Foreach { command, outputs, failures }))
}
