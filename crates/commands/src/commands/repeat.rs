//! `repeat`: run a command again and again. At the prompt each run's
//! output is shown as it comes and Ctrl-C stops the repetition (the CLI
//! drives the loop with [`plan`]); through [`crate::execute`] (a script,
//! `--json`) a counted `repeat` collects its runs' outputs.

use std::time::Duration;

use krash_core::{Error, Result};

use crate::{lookup, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "repeat",
    aliases: &[],
    summary: "repeat a command",
    synopsis: "repeat [-seconds] [count] command [arguments]",
    details: "  -seconds  wait this many seconds between runs (repeat -1 p jiffies: once a second)\n\
              \x20 count     run the command this many times; without it, until Ctrl-C\n\
              \x20 command   the command line to run, with its options and arguments; a pipe or\n\
              \x20           redirection on the line takes every run's output\n\
              The options must come before the command. Ctrl-C stops the repetition and\n\
              returns to the prompt. On a dump every run sees the same memory; on a live\n\
              system (--live) each run reads the kernel afresh.",
    run,
};

/// Most runs one counted `repeat` collects into one output.
pub const MAX_COLLECTED_RUNS: u64 = 10_000;

/// How to repeat: the command's words, how often, how long to wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatPlan {
    /// Wait between runs (crash's `-seconds`).
    pub interval: Option<Duration>,
    /// Runs to do; None: until Ctrl-C.
    pub count: Option<u64>,
    /// The command line to run (its first word is a command).
    pub command: Vec<String>,
}

/// What a counted `repeat` run through [`crate::execute`] produced: each
/// run's output in turn.
#[derive(Debug, Clone)]
pub struct Repeat {
    pub command: String,
    pub outputs: Vec<Output>,
}

/// Parses `repeat`'s arguments (those after the word `repeat`).
pub fn plan(args: &[String]) -> Result<RepeatPlan> {
    let usage = || Error::Usage(format!("repeat: a command to repeat is required\nUsage:\n  {}", SPEC.synopsis));
    let mut rest = args;
    let mut interval = None;
    if let Some(seconds) = rest.first().and_then(|w| w.strip_prefix('-')) {
        let secs: u64 =
            seconds.parse().map_err(|_| Error::Usage(format!("repeat: invalid option or delay: -{seconds}")))?;
        interval = Some(Duration::from_secs(secs));
        rest = &rest[1..];
    }
    let mut count = None;
    if let Some(n) = rest.first().filter(|w| w.bytes().all(|b| b.is_ascii_digit())) {
        count = Some(n.parse::<u64>().map_err(|_| Error::Usage(format!("repeat: invalid count: {n}")))?);
        rest = &rest[1..];
    }
    let first = rest.first().ok_or_else(usage)?;
    if first == "repeat" {
        return Err(Error::Usage("repeat: a repeat cannot repeat itself".into()));
    }
    Ok(RepeatPlan { interval, count, command: rest.to_vec() })
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let plan = plan(args)?;
    let count = match (plan.count, plan.interval) {
        (Some(n), None) if n <= MAX_COLLECTED_RUNS => n,
        (Some(_), None) => {
            return Err(Error::Usage(format!("repeat: at most {MAX_COLLECTED_RUNS} runs outside the prompt")))
        }
        _ => {
            return Err(Error::Unsupported(
                "repeat: a repetition until Ctrl-C, or with a delay, runs at the prompt only; give a count".into(),
            ))
        }
    };
    let name = plan.command.first().cloned().unwrap_or_default();
    let command = lookup(&name).map_or(name, |s| s.name.to_string());
    let mut outputs = Vec::new();
    for _ in 0..count {
        session.interrupt.check()?;
        session.kernel.refresh_live();
        outputs.push(crate::execute(session, &plan.command)?);
    }
    Ok(Output::Repeat(Repeat { command, outputs }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn plans_follow_crash_and_counts() {
        let p = plan(&words("-1 p jiffies")).unwrap();
        assert_eq!(p.interval, Some(Duration::from_secs(1)));
        assert_eq!(p.count, None);
        assert_eq!(p.command, words("p jiffies"));
        let p = plan(&words("3 sys")).unwrap();
        assert_eq!((p.interval, p.count), (None, Some(3)));
        assert_eq!(p.command, words("sys"));
        let p = plan(&words("-2 5 bt -a")).unwrap();
        assert_eq!((p.interval, p.count), (Some(Duration::from_secs(2)), Some(5)));
        assert_eq!(p.command, words("bt -a"));
        let p = plan(&words("ps -k")).unwrap();
        assert_eq!((p.interval, p.count), (None, None));
    }

    #[test]
    fn bad_plans_are_usage_errors() {
        for bad in ["", "-1", "5", "-x ps", "repeat ps", "-1 2"] {
            assert!(plan(&words(bad)).is_err(), "{bad:?}");
        }
    }
}
