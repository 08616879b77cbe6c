use std::fmt::Write;

use krash_commands::output::Help;

pub(crate) fn render(help: &Help) -> String {
    let mut s = String::new();
    match help {
        Help::Index { commands } => {
            let width = commands.iter().map(|c| c.name.len()).max().unwrap_or(0);
            for c in commands {
                let _ = writeln!(s, "{:<width$}  {}", c.name, c.summary);
            }
            s.push_str("\nFor help on a command: help COMMAND\n");
        }
        Help::Command(page) => {
            let _ = writeln!(s, "NAME\n  {} - {}\n", page.name, page.summary);
            let _ = writeln!(s, "SYNOPSIS\n  {}\n", page.synopsis);
            if !page.aliases.is_empty() {
                let _ = writeln!(s, "ALIASES\n  {}\n", page.aliases.join(", "));
            }
            let _ = writeln!(s, "DESCRIPTION\n{}", page.details);
        }
    }
    s
}
