//! `task`: a task's `task_struct` (and `thread_info`), or chosen members.

use std::borrow::Cow;

use krash_core::{Error, Result};
use krash_debuginfo::types::{TypeKind, TypeOps};
use krash_eval::value::Value;
use krash_eval::value::ValueExt;
use krash_linux::sched::task::Task;
use krash_linux::sched::task::TaskExt;
use krash_program::Kernel;

use super::struct_cmd::{member_line, radix_of, request, Aggregate, ObjectValue, StructBlock, TypeHeader};
use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "task",
    aliases: &[],
    summary: "task_struct contents",
    synopsis: "task [-R member[,member]] [-x|-d] [pid | taskp] ...",
    details: "  pid | taskp  the task (default: the current context)\n\
              \x20 -R member,...  only these task_struct members (paths such as se.load allowed)\n\
              \x20 -x / -d    hexadecimal / decimal integers",
    run,
};

pub use crate::header::TaskHeader;

/// One task's part of the output.
#[derive(Debug, Clone)]
pub struct TaskEntry {
    pub header: TaskHeader,
    pub blocks: Vec<StructBlock>,
}

/// What `task` printed.
#[derive(Debug, Clone)]
pub struct TaskOutput {
    pub entries: Vec<TaskEntry>,
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    run_shared(session, args)
}

/// `task` reads the session only: `foreach task` runs it on many tasks at once.
pub(crate) fn run_shared(session: &Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("task", args, "R:xd")?;
    let k = &session.kernel;
    let tasks = tasks_or_current(session, &p.args)?;
    let radix = radix_of(session, p.has('x'), p.has('d'));
    let members: Vec<String> = p
        .opts
        .iter()
        .filter(|o| o.letter == 'R')
        .filter_map(|o| o.arg.as_deref())
        .flat_map(|a| a.split(','))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let mut entries = Vec::new();
    let req = request(k, "task_struct", TypeKind::Struct, radix)?;
    for t in tasks {
        let value = Value::at(req.type_id, t.addr);
        let mut blocks = Vec::new();
        if members.is_empty() {
            let header = TypeHeader { keyword: Aggregate::Struct, name: "task_struct".into() };
            blocks.push(StructBlock::Object(ObjectValue { header, value: k.value_text(&value, radix) }));
            if let Ok(ti) = request(k, "thread_info", TypeKind::Struct, radix) {
                let off = k.type_arena().offset_of("struct task_struct", "thread_info").unwrap_or(0);
                let v = Value::at(ti.type_id, t.addr.wrapping_add(off));
                let header = TypeHeader { keyword: Aggregate::Struct, name: "thread_info".into() };
                blocks.push(StructBlock::Object(ObjectValue { header, value: k.value_text(&v, radix) }));
            }
        } else {
            let mut lines = Vec::new();
            for m in &members {
                lines.push(member_line(k, &value, m, radix)?);
            }
            blocks.push(StructBlock::Members { members: lines });
        }
        entries.push(TaskEntry { header: TaskHeader::of(&t), blocks });
    }
    Ok(Output::Task(TaskOutput { entries }))
}

/// The tasks the arguments name (PIDs or task addresses), else the
/// current context's task.
pub(crate) fn tasks_or_current<'s>(session: &'s Session, args: &[String]) -> Result<Vec<Cow<'s, Task>>> {
    let k = &session.kernel;
    let mut tasks = args.iter().map(|a| task_arg(k, a)).collect::<Result<Vec<_>>>()?;
    if tasks.is_empty() {
        let cur = session.current_task.ok_or_else(|| Error::NotFound("no current task context".into()))?;
        tasks.push(k.task_by_addr(cur)?);
    }
    Ok(tasks)
}

/// A PID (decimal) or task address (hex).
pub(crate) fn task_arg<'k>(k: &'k Kernel, word: &str) -> Result<Cow<'k, Task>> {
    if let Ok(pid) = word.parse::<i32>() {
        return k.task_by_pid(pid);
    }
    match crate::parse_hex(word) {
        Some(addr) => k.task_by_addr(addr),
        None => Err(Error::Usage(format!("task: invalid task or pid value: {word}"))),
    }
}
