//! `analyze`: the crash explained (kind, where, why, signature).

use std::path::{Path, PathBuf};

use krash_analyze::owners::attach_owner;
use krash_analyze::{AnalyzeExt, Report};
use krash_core::{Error, Result};
use krash_program::Kernel;

use crate::{CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "analyze",
    aliases: &[],
    summary: "explain the crash: kind, faulting code, why, signature",
    synopsis: "analyze [--maintainers FILE]",
    details: "  --maintainers FILE  the kernel's MAINTAINERS, for who to call (default: the\n\
              \x20              first of $KRASH_MAINTAINERS, /usr/src/linux-source-M.m/,\n\
              \x20              /usr/src/linux-RELEASE/, /lib/modules/RELEASE/{source,build}/)\n\
              \x20 (no options)  panic kind, panic string, task, CPU, context; the faulting\n\
              \x20              instruction, source line, module and taint; the bad register,\n\
              \x20              its value and the struct member it was used for; where that\n\
              \x20              register got its value (a walk back through the function's\n\
              \x20              code to a member load, a call's return value or an argument),\n\
              \x20              a NULL return value tested only with IS_ERR(), the ops-table\n\
              \x20              member of a call through a NULL function pointer; for soft\n\
              \x20              lockups the list the loop walks and its length; for hung\n\
              \x20              tasks every D-state task, the lock it waits for, the lock's\n\
              \x20              owner and its stack; for faults in the slab allocator the\n\
              \x20              cache's freelist state; corrupted values; evidence commands\n\
              \x20              and a stable signature; the owner of the guilty function:\n\
              \x20              its MAINTAINERS section, or its module and taint. --json\n\
              \x20              gives the same fields (docs/json.md).",
    run: run_analyze,
};

fn run_analyze(session: &mut Session, args: &[String]) -> Result<Output> {
    let mut maintainers = None;
    let mut words = args.iter();
    while let Some(a) = words.next() {
        match a.as_str() {
            "--maintainers" => {
                let file = words.next().ok_or_else(|| Error::Usage("analyze: --maintainers needs a file".into()))?;
                maintainers = Some(PathBuf::from(file));
            }
            _ => return Err(Error::Usage(format!("analyze: unexpected argument {a}"))),
        }
    }
    Ok(Output::Analyze(analyze_report(&session.kernel, maintainers.as_deref())?))
}

/// `analyze` as every front end runs it: the report, module objects looked
/// for beside the dump too, and who to call from `maintainers` (or the
/// MAINTAINERS found where the kernel's sources usually are).
pub fn analyze_report(kernel: &Kernel, maintainers: Option<&Path>) -> Result<Report> {
    let dump_dir = kernel.files().dump.parent().map(Path::to_path_buf);
    let dirs: Vec<&Path> = dump_dir.iter().map(PathBuf::as_path).collect();
    let mut report = kernel.analyze(&dirs)?;
    let release = kernel.utsname().map(|u| u.release).unwrap_or_default();
    attach_owner(kernel, &mut report, maintainers, &release);
    Ok(report)
}

/// What a fleet report (`krash analyze --batch`) groups a dump by beside
/// its signature: when it crashed and which kernel it ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DumpFacts {
    /// The crash time, seconds since the epoch (UTC), as `sys` shows it in
    /// DATE: the dump header's, else VMCOREINFO's, else the kernel's clock.
    pub crash_time: Option<i64>,
    /// `uname -r` of the dumped kernel.
    pub release: Option<String>,
}

/// The [`DumpFacts`] of an open dump.
pub fn dump_facts(k: &krash_program::Kernel) -> DumpFacts {
    use krash_linux::system::SystemExt;
    DumpFacts { crash_time: k.crash_time(), release: k.utsname().ok().map(|u| u.release) }
}
