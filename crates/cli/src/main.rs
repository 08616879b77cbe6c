//! The `krash` binary: wires arguments, the kernel model, commands and
//! rendering; reads commands from a file, a pipe or an interactive prompt.

mod analyze_cli;
mod args;
mod delivery;
mod line;
mod manual;
mod mcp;
mod pager;
mod progress;
mod repl;
mod subcommands;

use std::io::{BufRead, IsTerminal};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use clap::Parser;
use krash_commands::schema::{ErrorDocument, ErrorKind};
use krash_commands::{command_name, execute, Output, Session};
use krash_program::Kernel;
use krash_program::KernelFiles;
use krash_render::{json_line, render, Format};

use crate::delivery::Delivery;
use crate::line::{parse_line, Sink};

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if let Some(result) = subcommands::dispatch(&raw) {
        let subcommand = raw.first().map(String::as_str).unwrap_or_default();
        return result.map_or_else(|msg| fail(&raw, subcommand, &msg), |()| ExitCode::SUCCESS);
    }
    let args = args::Args::parse();
    run(args).map_or_else(|msg| fail(&raw, "krash", &msg), |()| ExitCode::SUCCESS)
}

/// Ends krash on an error that stops it: the message on standard error,
/// and with --json an error document on standard output too, so a script
/// reading the JSON sees why there is nothing else.
fn fail(raw: &[String], command: &str, msg: &str) -> ExitCode {
    if raw.iter().any(|a| a == "--json") {
        print!("{}", json_line(&ErrorDocument::new(command, None, ErrorKind::Other, msg)));
    }
    eprintln!("krash: {msg}");
    ExitCode::FAILURE
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
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        // At the prompt Ctrl-C stops the running command, not the session.
        // In a pipe or script it keeps its usual meaning (stop krash).
        signal_hook::flag::register(signal_hook::consts::SIGINT, session.interrupt.flag())
            .map_err(|e| format!("cannot handle Ctrl-C: {e}"))?;
    }
    // crash turns scrolling off with -s; scripts and pipes are never paged.
    let pages = interactive && !args.silent && format == Format::Text && std::io::stdout().is_terminal();
    session.settings.pager = if pages { pager::pager_command() } else { None };
    if !args.silent {
        let banner = Output::Sys(krash_commands::output::sys_info(&session));
        print!("{}", render(&banner, format, "sys", None));
        if format == Format::Text {
            println!();
        }
    }
    let mut plain = Frontend { format, pages: false };
    if let Some(path) = &args.input_file {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        for line in text.lines() {
            if run_line(&mut session, line, &plain) == Flow::Quit {
                return Ok(());
            }
        }
    }
    if interactive {
        plain.pages = pages;
        repl::run(&mut session, &plain);
    } else {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if run_line(&mut session, &line, &plain) == Flow::Quit {
                break;
            }
        }
    }
    Ok(())
}

/// How the front end shows output.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frontend {
    pub format: Format,
    /// Output longer than the screen may go through the pager (typed at the
    /// prompt, text, standard output a terminal; `set scroll` decides).
    pub pages: bool,
}

/// Whether to keep reading commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Quit,
}

/// Runs one line: `!` shell escapes, alias expansion, parse, execute (or
/// `repeat`), render, send to its sink. Errors are printed in crash's style
/// (`cmd: message`), or as an error document with `--json`, and never end
/// the session; nor does Ctrl-C, which drops what the command had not yet
/// printed.
pub(crate) fn run_line(session: &mut Session, text: &str, front: &Frontend) -> Flow {
    session.interrupt.clear();
    let typed = text.trim();
    if let Some(command) = typed.strip_prefix('!') {
        shell_escape(command);
        return Flow::Continue;
    }
    let expanded = session.aliases.expand(typed);
    let input = expanded.as_deref().unwrap_or(typed);
    if let Some(command) = input.strip_prefix('!') {
        shell_escape(command);
        return Flow::Continue;
    }
    let parsed = match parse_line(input) {
        Ok(Some(p)) => p,
        Ok(None) => return Flow::Continue,
        Err(e) => {
            if front.format == Format::Json {
                let word = input.split_whitespace().next().unwrap_or_default();
                let doc = ErrorDocument::new(word, Some(typed), ErrorKind::Usage, &e);
                deliver(session, &Sink::Stdout, &json_line(&doc), false);
            } else {
                eprintln!("krash: {e}");
            }
            return Flow::Continue;
        }
    };
    if matches!(parsed.words[0].as_str(), "q" | "quit" | "exit") {
        return Flow::Quit;
    }
    if parsed.words[0] == "repeat" {
        match krash_commands::repeat_plan(&parsed.words[1..]) {
            Ok(plan) => run_repeat(session, &plan, &parsed.sink, typed, front),
            Err(e) => report_error(session, &parsed.words, &parsed.sink, typed, front.format, &e),
        }
        return Flow::Continue;
    }
    // A running kernel changes between commands: each one reads it afresh.
    session.kernel.refresh_live();
    if front.format == Format::Text && command_name(session, &parsed.words) == "foreach" {
        match krash_commands::foreach_plan(session, &parsed.words[1..]) {
            Ok(plan) => run_foreach(session, &plan, &parsed.words, &parsed.sink, typed, front),
            Err(e) => report_error(session, &parsed.words, &parsed.sink, typed, front.format, &e),
        }
        return Flow::Continue;
    }
    if front.format == Format::Text && command_name(session, &parsed.words) == "list" {
        match krash_commands::list_plan(session, &parsed.words[1..]) {
            Ok(plan) => run_list(session, &plan, &parsed.words, &parsed.sink, typed, front),
            Err(e) => report_error(session, &parsed.words, &parsed.sink, typed, front.format, &e),
        }
        return Flow::Continue;
    }
    let result = execute(session, &parsed.words);
    if session.interrupted() {
        // Ctrl-C: whatever the command got to is dropped.
        return Flow::Continue;
    }
    match result {
        Ok(out) => {
            let rendered = render(&out, front.format, &command_name(session, &parsed.words), Some(typed));
            let page = front.pages && session.settings.scroll && parsed.sink == Sink::Stdout;
            deliver(session, &parsed.sink, &rendered, page);
        }
        Err(e) => report_error(session, &parsed.words, &parsed.sink, typed, front.format, &e),
    }
    Flow::Continue
}

fn report_error(session: &Session, words: &[String], sink: &Sink, input: &str, format: Format, e: &krash_core::Error) {
    if krash_commands::interrupt::is_interrupted(e) || session.interrupted() {
        return;
    }
    let msg = e.to_string();
    let name = words.first().map(String::as_str).unwrap_or_default();
    if format == Format::Json {
        let doc = ErrorDocument::of(&command_name(session, words), Some(input), e);
        deliver(session, sink, &json_line(&doc), false);
    } else if msg.starts_with(&format!("{name}:")) {
        eprintln!("{msg}");
    } else {
        eprintln!("{name}: {msg}");
    }
}

/// Sends one command's output to its sink; through the pager when `page`
/// and it is longer than the screen.
fn deliver(session: &Session, sink: &Sink, text: &str, page: bool) {
    let pager = if page {
        session.settings.pager.as_deref().filter(|_| {
            pager::terminal_size().is_some_and(|(rows, columns)| pager::exceeds_screen(text, rows, columns))
        })
    } else {
        None
    };
    let mut out = Delivery::open(sink, pager);
    out.write(text, &session.interrupt);
    out.finish();
}

/// `foreach` in text: each task's output goes out as it is made, so that a
/// big machine's `foreach bt` starts at once and is never held whole. The
/// pager, where paging is on, starts when there are more tasks than rows:
/// each task prints at least a line.
fn run_foreach(
    session: &mut Session,
    plan: &krash_commands::output::ForeachPlan,
    words: &[String],
    sink: &Sink,
    input: &str,
    front: &Frontend,
) {
    let mut out = streamed_delivery(session, sink, front, plan.tasks.len());
    let command = plan.command.first().cloned().unwrap_or_default();
    let interrupt = session.interrupt.clone();
    let mut outputs = 0usize;
    let result = krash_commands::foreach_each(session, plan, |item| {
        let text = krash_render::render_foreach_item(&command, outputs, &item);
        if matches!(item, krash_commands::output::ForeachItem::Output(_)) {
            outputs = outputs.saturating_add(1);
        }
        out.write(&text, &interrupt)
    });
    out.finish();
    if let Err(e) = result {
        report_error(session, words, sink, input, front.format, &e);
    }
}

/// Where output written as it is made goes: through the pager, where paging
/// is on, when it will be at least `lines` lines long and that fills the
/// screen.
fn streamed_delivery(session: &Session, sink: &Sink, front: &Frontend, lines: usize) -> Delivery {
    let page = front.pages && session.settings.scroll && *sink == Sink::Stdout;
    let pager = session
        .settings
        .pager
        .as_deref()
        .filter(|_| page && pager::terminal_size().is_some_and(|(rows, _)| lines >= rows));
    Delivery::open(sink, pager)
}

/// `list` in text: each entry goes out as it is read (after a first walk
/// that counts the list and finds where it stops), so a list of a million
/// entries is never held whole, in the walk's results or in its text.
fn run_list(
    session: &Session,
    plan: &krash_commands::output::ListPlan,
    words: &[String],
    sink: &Sink,
    input: &str,
    front: &Frontend,
) {
    // Entries are a line or a few: they go out in batches, not a write each.
    const BATCH: usize = 64 << 10;
    let mut out = streamed_delivery(session, sink, front, plan.entries);
    let interrupt = session.interrupt.clone();
    let mut pending = String::from(krash_render::render_list_head(plan.empty_head));
    let mut open = true;
    let mut failed = None;
    let walked = krash_commands::list_each(session, plan, |entry| match entry {
        Ok(e) => {
            krash_render::render_list_entry(&mut pending, &e);
            if pending.len() >= BATCH {
                open = out.write(&pending, &interrupt);
                pending.clear();
            }
            open
        }
        Err(e) => {
            failed = Some(e);
            false
        }
    });
    let failed = walked.err().or(failed);
    if open {
        if failed.is_none() {
            pending.push_str(&krash_render::render_list_tail(plan.broken.as_ref()));
        }
        out.write(&pending, &interrupt);
    }
    out.finish();
    if let Some(e) = failed {
        report_error(session, words, sink, input, front.format, &e);
    }
}

/// `repeat`: each run's output goes out as it is made, all into the line's
/// one sink; Ctrl-C (or an error) ends the repetition.
fn run_repeat(
    session: &mut Session,
    plan: &krash_commands::output::RepeatPlan,
    sink: &Sink,
    input: &str,
    front: &Frontend,
) {
    let mut out = Delivery::open(sink, None);
    let name = command_name(session, &plan.command);
    let mut runs: u64 = 0;
    while plan.count.is_none_or(|count| runs < count) && !session.interrupted() {
        if runs > 0 {
            if let Some(interval) = plan.interval {
                sleep_unless_interrupted(session, interval);
                if session.interrupted() {
                    break;
                }
            }
        }
        session.kernel.refresh_live();
        match execute(session, &plan.command) {
            Ok(output) => {
                if !out.write(&render(&output, front.format, &name, Some(input)), &session.interrupt) {
                    break;
                }
            }
            Err(e) => {
                report_error(session, &plan.command, sink, input, front.format, &e);
                break;
            }
        }
        runs = runs.saturating_add(1);
    }
    out.finish();
}

/// Sleeps `total`, waking early when the user presses Ctrl-C.
fn sleep_unless_interrupted(session: &Session, total: Duration) {
    let end = Instant::now() + total;
    while !session.interrupted() {
        let now = Instant::now();
        if now >= end {
            break;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

/// crash's `!`: `!command` runs a shell command line, a bare `!` an
/// interactive shell ($SHELL); krash waits for it to end.
fn shell_escape(command: &str) {
    let command = command.trim();
    let status = if command.is_empty() {
        let shell = std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".to_string());
        Command::new(shell).status()
    } else {
        Command::new("sh").arg("-c").arg(command).status()
    };
    if let Err(e) = status {
        eprintln!("krash: cannot run the shell: {e}");
    }
}
