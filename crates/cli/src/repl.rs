//! The interactive prompt: line editing, history in ~/.krash_history, and
//! completion of command names from the command table.

use krash_commands::{registry, Session};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};

use crate::{run_line, Flow, Frontend};

struct CommandNames;

impl Completer for CommandNames {
    type Candidate = Pair;
    fn complete(&self, line: &str, pos: usize, _: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        // Only the first word is a command name.
        if before.contains(char::is_whitespace) {
            return Ok((pos, Vec::new()));
        }
        let names = registry()
            .iter()
            .flat_map(|c| std::iter::once(c.name).chain(c.aliases.iter().copied()))
            .filter(|n| n.starts_with(before))
            .map(|n| Pair { display: n.to_string(), replacement: format!("{n} ") })
            .collect();
        Ok((0, names))
    }
}
impl Hinter for CommandNames {
    type Hint = String;
}
impl Highlighter for CommandNames {}
impl Validator for CommandNames {}
impl Helper for CommandNames {}

pub(crate) fn run(session: &mut Session, front: &Frontend) {
    let mut editor: Editor<CommandNames, rustyline::history::DefaultHistory> = match Editor::new() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("krash: cannot start the line editor: {e}");
            return;
        }
    };
    editor.set_helper(Some(CommandNames));
    let history = std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".krash_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    loop {
        match editor.readline("krash> ") {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                if run_line(session, &line, front) == Flow::Quit {
                    break;
                }
            }
            // Ctrl-C at the prompt: a fresh prompt, as in crash (leaving is
            // q, exit or Ctrl-D).
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("krash: {e}");
                break;
            }
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
}
