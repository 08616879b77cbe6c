//! The interactive prompt: line editing, history in ~/.krash_history, and
//! Tab completion (candidates from `krash_commands::complete`: command
//! names, symbols, struct/union names and members, PIDs; file paths from
//! the file system). A second Tab lists the candidates, as in bash.

use std::cell::RefCell;

use krash_commands::complete::{complete, Completion};
use krash_commands::Session;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Context, Editor, Helper};

use crate::{run_line, Flow, Frontend};

/// The line editor's helper: it reads the session (never while a command
/// runs: the prompt and the commands take turns).
struct Completions<'a> {
    session: &'a RefCell<&'a mut Session>,
    files: FilenameCompleter,
}

impl Completer for Completions<'_> {
    type Candidate = Pair;
    fn complete(&self, line: &str, pos: usize, ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let Ok(session) = self.session.try_borrow() else {
            return Ok((pos, Vec::new()));
        };
        match complete(&session, line, pos) {
            Completion::Words { start, candidates } => {
                let pairs = candidates.into_iter().map(|c| Pair { display: c.clone(), replacement: c }).collect();
                Ok((start, pairs))
            }
            Completion::Path { .. } => self.files.complete(line, pos, ctx),
        }
    }
}
impl Hinter for Completions<'_> {
    type Hint = String;
}
impl Highlighter for Completions<'_> {}
impl Validator for Completions<'_> {}
impl Helper for Completions<'_> {}

pub(crate) fn run(session: &mut Session, front: &Frontend) {
    let config = Config::builder().completion_type(CompletionType::List).build();
    let mut editor: Editor<Completions<'_>, rustyline::history::DefaultHistory> = match Editor::with_config(config) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("krash: cannot start the line editor: {e}");
            return;
        }
    };
    let session = RefCell::new(session);
    editor.set_helper(Some(Completions { session: &session, files: FilenameCompleter::new() }));
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
                let flow = run_line(&mut session.borrow_mut(), &line, front);
                if flow == Flow::Quit {
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
