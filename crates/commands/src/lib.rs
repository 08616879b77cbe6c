//! crash's command language as data: a declarative registry of commands,
//! each parsing its own arguments and returning an [`Output`] value. Nothing
//! here prints; `krash-render` turns outputs into crash-style text or JSON.

pub mod address;
pub mod alias;
mod commands;
pub mod complete;
pub mod decode;
pub mod getopt;
pub mod header;
pub mod interrupt;
pub mod output;
mod registry;
pub mod schema;
mod session;
pub mod source;

pub use commands::analyze::analyze_report;
pub use commands::repeat::plan as repeat_plan;
pub use output::Output;
pub use registry::{lookup, registry, CommandSpec};
pub use session::{OutputRadix, Session, Settings};

use krash_core::{Error, Result};

/// Runs one command line already split into words (`words[0]` is the
/// command name or alias).
pub fn execute(session: &mut Session, words: &[String]) -> Result<Output> {
    let Some(name) = words.first() else {
        return Err(Error::Usage("empty command".into()));
    };
    if lookup(name).is_none() && commands::struct_cmd::names_aggregate(session, name) {
        // crash runs `struct` for a first word naming a struct or union.
        return commands::struct_cmd::run_shorthand(session, words);
    }
    let spec = lookup(name)
        .ok_or_else(|| Error::NotFound(format!("{name}: command not found (\"help\" lists the commands)")))?;
    (spec.run)(session, &words[1..]).map_err(|e| with_usage(spec, e))
}

/// A wrong option also shows the command's usage, as crash does.
/// `foreach`'s tasks for a caller that writes each task's output as it is
/// made (the CLI); errors read as [`execute`] gives them.
pub fn foreach_plan(session: &Session, args: &[String]) -> Result<output::ForeachPlan> {
    commands::foreach::plan(session, args).map_err(|e| with_usage(&commands::foreach::SPEC, e))
}

/// Runs a [`foreach_plan`], handing each task's result to `each` as it is made.
pub fn foreach_each(
    session: &mut Session,
    plan: &output::ForeachPlan,
    each: impl FnMut(output::ForeachItem) -> bool,
) -> Result<()> {
    commands::foreach::run_each(session, plan, each).map_err(|e| with_usage(&commands::foreach::SPEC, e))
}

/// `list`'s plan for a caller that writes each entry as it is read (the
/// CLI): the list is walked once to count it; errors read as [`execute`]
/// gives them.
pub fn list_plan(session: &Session, args: &[String]) -> Result<output::ListPlan> {
    commands::list::plan(session, args).map_err(|e| with_usage(&commands::list::SPEC, e))
}

/// Walks a [`list_plan`]'s list again, handing each entry to `each` as it
/// is read; `each` returns false to stop.
pub fn list_each(
    session: &Session,
    plan: &output::ListPlan,
    each: impl FnMut(Result<output::ListEntry>) -> bool,
) -> Result<()> {
    commands::list::each(session, plan, each).map_err(|e| with_usage(&commands::list::SPEC, e))
}

pub(crate) fn with_usage(spec: &CommandSpec, e: Error) -> Error {
    match e {
        Error::Usage(msg) if getopt::is_option_error(&msg) => {
            Error::Usage(format!("{msg}\nUsage:\n  {}\nEnter \"help {}\" for details.", spec.synopsis, spec.name))
        }
        other => other,
    }
}

/// The name of the command a line runs, as `help` lists it: the registry
/// name for a command or alias (`print` runs `p`), `struct` for crash's
/// `TYPE.member ADDR` shorthand, else the first word as typed. `--json`
/// documents and errors carry it as `command`.
pub fn command_name(session: &Session, words: &[String]) -> String {
    let Some(name) = words.first() else { return String::new() };
    if let Some(spec) = lookup(name) {
        return spec.name.to_string();
    }
    if commands::struct_cmd::names_aggregate(session, name) {
        return "struct".to_string();
    }
    name.clone()
}

/// Parses a hexadecimal address as crash accepts it (`ffff8880...`,
/// `0xffff...`); None for words that are not hex.
pub fn parse_hex(word: &str) -> Option<u64> {
    let digits = word.strip_prefix("0x").unwrap_or(word);
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}
