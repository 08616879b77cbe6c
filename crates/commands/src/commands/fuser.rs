//! `fuser`: the tasks that use a file, as crash lists them (PID, TASK,
//! COMM, USAGE: root, cwd, fd, mmap).

use krash_core::{Error, Result};
use krash_linux::fs::users::{FileTarget, FileUse, FileUsersExt, MappedFilesCache};
use krash_linux::sched::task::TaskExt;

use crate::header::TaskHeader;
use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "fuser",
    aliases: &[],
    summary: "file users: the tasks using a file",
    synopsis: "fuser [pathname | inode] ...",
    details: "  pathname  the file's full path (as `files` shows it)\n\
              \x20 inode     the hexadecimal address of the file's inode\n\
              \x20 Lists every task that has the file as its root (root) or working (cwd)\n\
              \x20 directory, holds it open (fd) or maps it (mmap): PID, TASK, COMM, USAGE.\n\
              \x20 A path must be the whole path (crash also takes a path that ends with it);\n\
              \x20 an inode also finds a root or working directory.",
    run,
};

/// A task using the file and how.
#[derive(Debug, Clone)]
pub struct FileUser {
    pub task: TaskHeader,
    pub uses: Vec<FileUse>,
}

/// The users of one file argument.
#[derive(Debug, Clone)]
pub struct FuserTarget {
    /// The argument as typed, without a `0x` prefix (crash's message names it so).
    pub spec: String,
    pub users: Vec<FileUser>,
    /// Tasks whose files or memory areas could not be read, and why.
    pub problems: Vec<String>,
}

/// What `fuser` found, one entry per argument.
#[derive(Debug, Clone)]
pub struct FuserOutput {
    pub targets: Vec<FuserTarget>,
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("fuser", args, "")?;
    if p.args.is_empty() {
        // crash shows the usage when no file is named.
        return Err(Error::Usage(format!(
            "fuser: a pathname or an inode address is required\nUsage:\n  {}\nEnter \"help fuser\" for details.",
            SPEC.synopsis
        )));
    }
    let k = &session.kernel;
    let targets: Vec<(String, FileTarget)> = p
        .args
        .iter()
        .map(|a| {
            if a.starts_with('/') {
                return Ok((a.clone(), FileTarget::path(a)));
            }
            match crate::parse_hex(a) {
                // An inode lives in the kernel's half of the address space.
                Some(addr) if addr >> 63 == 1 => Ok((a.trim_start_matches("0x").to_string(), FileTarget::Inode(addr))),
                _ => Err(Error::Usage(format!("fuser: invalid argument: {a}"))),
            }
        })
        .collect::<Result<_>>()?;
    let tasks = k.tasks()?;
    let mut cache = MappedFilesCache::default();
    let mut out = Vec::new();
    for (spec, target) in targets {
        let mut users = Vec::new();
        let mut problems = Vec::new();
        for t in tasks.iter() {
            match k.file_uses(t.addr, t.mm, &target, &mut cache) {
                Ok(uses) if !uses.is_empty() => users.push(FileUser { task: TaskHeader::of(t), uses }),
                Ok(_) => {}
                Err(e) => problems.push(format!("PID {} ({:x}): {e}", t.pid, t.addr)),
            }
        }
        out.push(FuserTarget { spec, users, problems });
    }
    Ok(Output::Fuser(FuserOutput { targets: out }))
}
