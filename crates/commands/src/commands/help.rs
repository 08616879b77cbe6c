use krash_core::{Error, Result};

use crate::{getopt, registry, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "help",
    aliases: &["h", "?"],
    summary: "list commands, or show one command's options",
    synopsis: "help [command]",
    details: "  command  show the synopsis and every option of this command\n\
              With no argument, lists every command with a one-line summary.",
    run,
};

/// `help` output: the command table, or one command's page.
#[derive(Debug, Clone)]
pub enum Help {
    Index { commands: Vec<HelpEntry> },
    Command(HelpPage),
}

#[derive(Debug, Clone)]
pub struct HelpEntry {
    pub name: String,
    pub summary: String,
}

#[derive(Debug, Clone)]
pub struct HelpPage {
    pub name: String,
    pub aliases: Vec<String>,
    pub summary: String,
    pub synopsis: String,
    pub details: String,
}

fn run(_session: &mut Session, args: &[String]) -> Result<Output> {
    let parsed = getopt::parse("help", args, "")?;
    let Some(name) = parsed.args.first() else {
        let mut commands: Vec<HelpEntry> =
            registry().iter().map(|c| HelpEntry { name: c.name.into(), summary: c.summary.into() }).collect();
        commands.sort_by(|a, b| a.name.cmp(&b.name));
        return Ok(Output::Help(Help::Index { commands }));
    };
    let spec = crate::lookup(name).ok_or_else(|| Error::NotFound(format!("help: no such command: {name}")))?;
    Ok(Output::Help(Help::Command(page(spec))))
}

pub(crate) fn page(spec: &CommandSpec) -> HelpPage {
    HelpPage {
        name: spec.name.into(),
        aliases: spec.aliases.iter().map(|a| a.to_string()).collect(),
        summary: spec.summary.into(),
        synopsis: spec.synopsis.into(),
        details: spec.details.into(),
    }
}
