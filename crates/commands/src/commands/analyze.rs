//! `analyze`: the crash explained (kind, where, why, signature).

use krash_analyze::AnalyzeExt;
use krash_core::{Error, Result};

use crate::{CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "analyze",
    aliases: &[],
    summary: "explain the crash: kind, faulting code, why, signature",
    synopsis: "analyze",
    details: "  (no options)  panic kind, panic string, task, CPU, context; the faulting\n\
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
              \x20              and a stable signature. --json gives the same fields\n\
              \x20              (docs/json.md).",
    run: run_analyze,
};

fn run_analyze(session: &mut Session, args: &[String]) -> Result<Output> {
    if let Some(a) = args.first() {
        return Err(Error::Usage(format!("analyze: unexpected argument {a}")));
    }
    let dump_dir = session.kernel.files().dump.parent().map(|p| p.to_path_buf());
    let dirs: Vec<&std::path::Path> = dump_dir.iter().map(|p| p.as_path()).collect();
    Ok(Output::Analyze(session.kernel.analyze(&dirs)?))
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
