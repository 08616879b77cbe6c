use std::fmt::Write;

use krash_commands::output::{AliasOrigin, AliasOutput};

/// crash's alias table (`ORIGIN   ALIAS    COMMAND`), or the deletion note.
pub(crate) fn render(a: &AliasOutput) -> String {
    let mut s = String::new();
    match a {
        AliasOutput::Deleted { name } => {
            let _ = writeln!(s, "alias deleted: {name}");
        }
        AliasOutput::List { aliases, missing } => {
            s.push_str("ORIGIN   ALIAS    COMMAND\n");
            for alias in aliases {
                let origin = match alias.origin {
                    AliasOrigin::Builtin => "builtin",
                    AliasOrigin::Runtime => "runtime",
                };
                // crash prints each word of the command followed by a space.
                let command: String = alias.command.split_whitespace().map(|w| format!("{w} ")).collect();
                let _ = writeln!(s, "{origin:<7}  {:<7}  {command}", alias.name);
            }
            if let Some(name) = missing {
                let _ = writeln!(s, "alias does not exist: {name}");
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use krash_commands::output::Alias;

    #[test]
    fn crash_table() {
        let out = AliasOutput::List {
            aliases: vec![
                Alias { origin: AliasOrigin::Builtin, name: "man".into(), command: "help".into() },
                Alias { origin: AliasOrigin::Runtime, name: "ksd".into(), command: "kmem -s | grep dentry".into() },
            ],
            missing: None,
        };
        assert_eq!(
            render(&out),
            "ORIGIN   ALIAS    COMMAND\nbuiltin  man      help \nruntime  ksd      kmem -s | grep dentry \n"
        );
        let out = AliasOutput::List { aliases: vec![], missing: Some("zz".into()) };
        assert_eq!(render(&out), "ORIGIN   ALIAS    COMMAND\nalias does not exist: zz\n");
        assert_eq!(render(&AliasOutput::Deleted { name: "kp".into() }), "alias deleted: kp\n");
    }
}
