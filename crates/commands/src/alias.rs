//! Command aliases (crash's `alias`): a word that stands for a command
//! string, kept for the session. The line's first word is replaced once,
//! before the line is split at `|` and `>`, so an alias may carry a pipe.

/// Where an alias comes from, as `alias` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AliasOrigin {
    /// One of crash's built-in aliases.
    Builtin,
    /// Defined with `alias NAME COMMAND` in this session.
    Runtime,
}

/// One alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    pub origin: AliasOrigin,
    pub name: String,
    /// The command string the name stands for.
    pub command: String,
}

/// crash's built-in aliases that krash can run (crash's `g gdb` has no
/// counterpart here).
const BUILTIN: &[(&str, &str)] = &[
    ("man", "help"),
    ("?", "help"),
    ("quit", "q"),
    ("sf", "set scroll off"),
    ("sn", "set scroll on"),
    ("hex", "set radix 16"),
    ("dec", "set radix 10"),
    ("for", "foreach"),
    ("size", "*"),
    ("dmesg", "log"),
    ("lsmod", "mod"),
    ("last", "ps -l"),
];

/// The session's aliases, in the order they were defined (built-ins first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aliases {
    list: Vec<Alias>,
}

impl Default for Aliases {
    fn default() -> Self {
        let list = BUILTIN
            .iter()
            .map(|(name, command)| Alias {
                origin: AliasOrigin::Builtin,
                name: name.to_string(),
                command: command.to_string(),
            })
            .collect();
        Aliases { list }
    }
}

impl Aliases {
    /// Every alias, in definition order.
    pub fn all(&self) -> &[Alias] {
        &self.list
    }

    pub fn get(&self, name: &str) -> Option<&Alias> {
        self.list.iter().find(|a| a.name == name)
    }

    /// Defines (or redefines) a runtime alias; it moves to the end of the list.
    pub fn define(&mut self, name: &str, command: &str) {
        self.list.retain(|a| a.name != name);
        self.list.push(Alias { origin: AliasOrigin::Runtime, name: name.to_string(), command: command.to_string() });
    }

    /// Removes an alias; false when there was none.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.list.len();
        self.list.retain(|a| a.name != name);
        self.list.len() != before
    }

    /// The line with its first word replaced by the command string it
    /// stands for, or None when the first word is no alias. Replaced once:
    /// an alias's own first word is not looked up again, so definitions
    /// cannot loop.
    pub fn expand(&self, line: &str) -> Option<String> {
        let trimmed = line.trim_start();
        let end = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
        let (first, rest) = trimmed.split_at(end);
        let alias = self.get(first)?;
        let rest = rest.trim();
        Some(if rest.is_empty() { alias.command.clone() } else { format!("{} {rest}", alias.command) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_expand_with_their_arguments() {
        let a = Aliases::default();
        assert_eq!(a.expand("hex").as_deref(), Some("set radix 16"));
        assert_eq!(a.expand("  dec  ").as_deref(), Some("set radix 10"));
        assert_eq!(a.expand("lsmod | grep ext4").as_deref(), Some("mod | grep ext4"));
        assert_eq!(a.expand("size task_struct").as_deref(), Some("* task_struct"));
        assert_eq!(a.expand("ps -a"), None);
        assert_eq!(a.expand(""), None);
    }

    #[test]
    fn runtime_aliases_carry_pipes_and_expand_once() {
        let mut a = Aliases::default();
        a.define("ksd", "kmem -s | grep dentry");
        assert_eq!(a.expand("ksd").as_deref(), Some("kmem -s | grep dentry"));
        // An alias whose command starts with another alias is not expanded twice.
        a.define("again", "ksd -x");
        assert_eq!(a.expand("again").as_deref(), Some("ksd -x"));
        // Redefinition replaces and moves to the end.
        a.define("ksd", "kmem -i");
        assert_eq!(a.expand("ksd 1").as_deref(), Some("kmem -i 1"));
        assert_eq!(a.all().last().map(|x| x.name.as_str()), Some("ksd"));
        assert_eq!(a.all().iter().filter(|x| x.name == "ksd").count(), 1);
        assert!(a.remove("ksd"));
        assert!(!a.remove("ksd"));
        assert_eq!(a.expand("ksd"), None);
        assert_eq!(a.get("hex").map(|x| x.origin), Some(AliasOrigin::Builtin));
    }
}
