//! The `krash` binary: wires arguments, the kernel model, commands and
//! rendering; reads commands from a file, a pipe or an interactive prompt.

mod analyze_cli;
mod args;
mod line;
mod progress;
mod repl;
mod subcommands;

use std::io::{BufRead, IsTerminal, Write};
use std::process::{Command, ExitCode, Stdio};

use clap::Parser;
use krash_commands::schema::{ErrorDocument, ErrorKind};
use krash_commands::{command_name, execute, Output, Session};
use krash_program::Kernel;
use krash_program::KernelFiles;
use krash_render::{json_line, render, Format};

use crate::line::{parse_line, Sink};

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if let Some(result) = subcommands::dispatch(&raw) {
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(msg) => {
                eprintln!("krash: {msg}");
                ExitCode::FAILURE
            }
        };
    }
    let args = args::Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("krash: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: args::Args) -> Result<(), String> {
    if args.json_schema {
        print!("{}", krash_commands::schema::json_schema_text());
        return Ok(());
    }
    let (vmlinux, dump) = args::assign_files_or_live(&args.files, args.live)?;
    let debug_dirs = if args.no_search { Vec::new() } else { args::debug_dirs() };
    let kernel =
        Kernel::open(KernelFiles { dump, vmlinux, debug_dirs, force: args.force }).map_err(|e| e.to_string())?;
    for warning in kernel.warnings() {
        eprintln!("WARNING: {warning}");
    }
    let format = if args.json { Format::Json } else { Format::Text };
    let mut session = Session::new(kernel);
    if let Some(bar) = progress::TerminalProgress::for_stderr() {
        session.progress = std::sync::Arc::new(bar);
    }
    if !args.silent {
        let banner = Output::Sys(krash_commands::output::sys_info(&session));
        print!("{}", render(&banner, format, "sys", None));
        if format == Format::Text {
            println!();
        }
    }
    if let Some(path) = &args.input_file {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        for line in text.lines() {
            if run_line(&mut session, line, format) == Flow::Quit {
                return Ok(());
            }
        }
    }
    if std::io::stdin().is_terminal() {
        repl::run(&mut session, format);
    } else {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if run_line(&mut session, &line, format) == Flow::Quit {
                break;
            }
        }
    }
    Ok(())
}

/// Whether to keep reading commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Quit,
}

/// Runs one line: parse, execute, render, send to its sink. Errors are
/// printed in crash's style (`cmd: message`), or as an error document with
/// `--json`, and never end the session.
pub(crate) fn run_line(session: &mut Session, text: &str, format: Format) -> Flow {
    let input = text.trim();
    let parsed = match parse_line(text) {
        Ok(Some(p)) => p,
        Ok(None) => return Flow::Continue,
        Err(e) => {
            if format == Format::Json {
                let word = input.split_whitespace().next().unwrap_or_default();
                let doc = ErrorDocument::new(word, Some(input), ErrorKind::Usage, &e);
                deliver(&Sink::Stdout, &json_line(&doc));
            } else {
                eprintln!("krash: {e}");
            }
            return Flow::Continue;
        }
    };
    if matches!(parsed.words[0].as_str(), "q" | "quit" | "exit") {
        return Flow::Quit;
    }
    // A running kernel changes between commands: each one reads it afresh.
    session.kernel.refresh_live();
    let rendered = match execute(session, &parsed.words) {
        Ok(out) => render(&out, format, &command_name(session, &parsed.words), Some(input)),
        Err(e) => {
            let msg = e.to_string();
            let name = &parsed.words[0];
            if format == Format::Json {
                let doc = ErrorDocument::of(&command_name(session, &parsed.words), Some(input), &e);
                deliver(&parsed.sink, &json_line(&doc));
            } else if msg.starts_with(&format!("{name}:")) {
                eprintln!("{msg}");
            } else {
                eprintln!("{name}: {msg}");
            }
            return Flow::Continue;
        }
    };
    deliver(&parsed.sink, &rendered);
    Flow::Continue
}

fn deliver(sink: &Sink, text: &str) {
    match sink {
        Sink::Stdout => {
            let mut out = std::io::stdout().lock();
            // A closed pipe (`krash ... | head`) is not an error worth reporting.
            let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
        }
        Sink::Pipe(pipeline) => {
            let _ = std::io::stdout().flush();
            let child = Command::new("sh").arg("-c").arg(pipeline).stdin(Stdio::piped()).spawn();
            match child {
                Ok(mut child) => {
                    if let Some(mut stdin) = child.stdin.take() {
                        let _ = stdin.write_all(text.as_bytes());
                    }
                    let _ = child.wait();
                }
                Err(e) => eprintln!("krash: cannot run pipeline '{pipeline}': {e}"),
            }
        }
        Sink::File { path, append } => {
            let file =
                std::fs::OpenOptions::new().create(true).write(true).append(*append).truncate(!*append).open(path);
            match file.and_then(|mut f| f.write_all(text.as_bytes())) {
                Ok(()) => {}
                Err(e) => eprintln!("krash: {path}: {e}"),
            }
        }
    }
}
