//! The command table: one entry per command, driving dispatch, `help`,
//! and REPL completion from the same data.

use krash_core::Result;

use crate::{Output, Session};

/// A command as users see it: its name, aliases, documentation, and the
/// function that runs it.
pub struct CommandSpec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    /// One line for the `help` table.
    pub summary: &'static str,
    /// `name [-opts] args`, as crash's help SYNOPSIS shows.
    pub synopsis: &'static str,
    /// Each option and argument, one per line, `-x  what it does`.
    pub details: &'static str,
    pub run: fn(&mut Session, &[String]) -> Result<Output>,
}

/// Every command krash has, in `help` order.
pub fn registry() -> &'static [CommandSpec] {
    crate::commands::ALL
}

/// Finds a command by name or alias.
pub fn lookup(name: &str) -> Option<&'static CommandSpec> {
    registry().iter().find(|c| c.name == name || c.aliases.contains(&name))
}
