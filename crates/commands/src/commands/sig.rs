//! `sig`: a task's signal dispositions, blocked and pending signals.

use krash_core::{Error, Result};
use krash_linux::sched::signal::SignalExt;
use krash_linux::sched::signal::{signal_name, GroupSignals, TaskSignals, NSIG};
use krash_linux::sched::task::TaskExt;

use super::task::tasks_or_current;
use crate::header::TaskHeader;
use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "sig",
    aliases: &[],
    summary: "task signal handling",
    synopsis: "sig [[-l] | [-s sigset]] | [-g] [pid | taskp] ...",
    details: "  pid | taskp  the task (default: the current context): SIGNAL_STRUCT, NR_THREADS,\n\
              \x20            each signal's SIGACTION HANDLER MASK FLAGS, then SIGPENDING,\n\
              \x20            BLOCKED, PRIVATE_PENDING and SHARED_PENDING with their queues\n\
              \x20 -g         the whole thread group: the group's data, then each thread's\n\
              \x20 -l         the signal numbers and names\n\
              \x20 -s sigset  the names of the signals set in a hexadecimal sigset",
    run,
};

/// One thread's part of `sig -g`.
#[derive(Debug, Clone)]
pub struct ThreadSignals {
    pub header: TaskHeader,
    pub signals: TaskSignals,
}

/// One task (or thread group) shown by `sig`.
#[derive(Debug, Clone)]
pub struct SigTask {
    pub header: TaskHeader,
    /// None when the task has no signal_struct.
    pub group: Option<GroupSignals>,
    /// Plain `sig`: the task's own state; `sig -g`: empty (see threads).
    pub task: Option<TaskSignals>,
    /// `sig -g`: every thread of the group, leader first.
    pub threads: Vec<ThreadSignals>,
}

/// What `sig` printed.
#[derive(Debug, Clone)]
pub enum SigOutput {
    List { signals: Vec<(u64, String)> },
    Set { sigset: u64, signals: Vec<(u64, String)> },
    Tasks { tasks: Vec<SigTask> },
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("sig", args, "lgs:")?;
    let k = &session.kernel;
    if p.has('l') {
        return Ok(Output::Sig(SigOutput::List { signals: (1..=NSIG).map(|s| (s, signal_name(s))).collect() }));
    }
    if let Some(word) = p.value('s') {
        let sigset = crate::parse_hex(word).ok_or_else(|| Error::Usage(format!("sig: invalid sigset: {word}")))?;
        let signals = (1..=NSIG).filter(|s| sigset & (1 << (s - 1)) != 0).map(|s| (s, signal_name(s))).collect();
        return Ok(Output::Sig(SigOutput::Set { sigset, signals }));
    }
    let tasks = tasks_or_current(session, &p.args)?;
    let mut out = Vec::new();
    for t in tasks {
        if p.has('g') {
            let leader = k.tasks()?.iter().find(|l| l.pid == t.tgid).unwrap_or(&t);
            let mut threads =
                vec![ThreadSignals { header: TaskHeader::of(leader), signals: k.task_signals(leader.addr)? }];
            for member in k.tasks()?.iter().filter(|m| m.tgid == leader.tgid && m.addr != leader.addr) {
                threads.push(ThreadSignals { header: TaskHeader::of(member), signals: k.task_signals(member.addr)? });
            }
            out.push(SigTask {
                header: TaskHeader::of(leader),
                group: k.group_signals(leader.addr)?,
                task: None,
                threads,
            });
        } else {
            out.push(SigTask {
                header: TaskHeader::of(&t),
                group: k.group_signals(t.addr)?,
                task: Some(k.task_signals(t.addr)?),
                threads: Vec::new(),
            });
        }
    }
    Ok(Output::Sig(SigOutput::Tasks { tasks: out }))
}
