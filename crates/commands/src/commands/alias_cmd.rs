//! `alias`: list, show, define and delete command aliases.

use krash_core::{Error, Result};

use crate::alias::Alias;
use crate::{lookup, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "alias",
    aliases: &[],
    summary: "command aliases",
    synopsis: "alias [alias [command string]]",
    details: "  (none)                  list every alias: where it comes from (builtin, or runtime\n\
              \x20                         for one defined in this session), its name and its command\n\
              \x20 alias                   show that alias\n\
              \x20 alias command string    make the word alias stand for the command string, which\n\
              \x20                         must begin with a command; put it in quotes when it holds\n\
              \x20                         | or > (alias ksd \"kmem -s | grep dentry\")\n\
              \x20 alias \"\"                 delete the alias\n\
              An alias is replaced by its command string when it is the first word of a line;\n\
              the rest of the line follows it. Aliases last until the session ends.",
    run,
};

/// What `alias` produced.
#[derive(Debug, Clone)]
pub enum AliasOutput {
    /// The aliases asked for (every one, or one), and the name asked for
    /// when it is no alias.
    List { aliases: Vec<Alias>, missing: Option<String> },
    /// `alias NAME ""`.
    Deleted { name: String },
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    // No option parsing: the command string's own options (`alias kp kmem
    // -p`) belong to it.
    let out = match args {
        [] => AliasOutput::List { aliases: session.aliases.all().to_vec(), missing: None },
        [name] => listing(session, name),
        [name, command @ ..] => {
            let command = command.join(" ");
            let command = command.trim();
            if command.is_empty() {
                if !session.aliases.remove(name) {
                    return Err(Error::NotFound(format!("alias does not exist: {name}")));
                }
                AliasOutput::Deleted { name: name.clone() }
            } else {
                define(session, name, command)?;
                listing(session, name)
            }
        }
    };
    Ok(Output::Alias(out))
}

fn listing(session: &Session, name: &str) -> AliasOutput {
    let aliases: Vec<Alias> = session.aliases.get(name).cloned().into_iter().collect();
    let missing = aliases.is_empty().then(|| name.to_string());
    AliasOutput::List { aliases, missing }
}

/// crash's rules: a command's name cannot be an alias, and the command
/// string must start with a command.
fn define(session: &mut Session, name: &str, command: &str) -> Result<()> {
    if lookup(name).is_some() || matches!(name, "q" | "exit" | "repeat") {
        return Err(Error::Usage(format!("cannot alias existing command name: {name}")));
    }
    if name.is_empty() || name.contains(char::is_whitespace) || name.starts_with('!') {
        return Err(Error::Usage(format!("invalid alias name: \"{name}\"")));
    }
    let first = command.split_whitespace().next().unwrap_or_default();
    let is_command = lookup(first).is_some() || matches!(first, "q" | "exit") || first.starts_with('!');
    if !is_command {
        return Err(Error::Usage(format!("invalid alias command string: {first} is not a command")));
    }
    session.aliases.define(name, command);
    Ok(())
}
