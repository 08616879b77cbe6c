//! Subcommands that are not a session: `krash decode` (oops text, no dump),
//! `krash analyze` (a dump explained, or many with `--batch`), `krash mcp`
//! (a session for an agent, over the Model Context Protocol), `krash
//! help`, and `krash completions` / `krash man` ([`crate::manual`]).

use std::io::Read;

use clap::CommandFactory;
use krash_commands::Output;
use krash_render::{render, Format};

/// The subcommands, for `krash --help` (one line each).
pub(crate) const SUBCOMMANDS: &str = "Subcommands:
  krash analyze [VMLINUX] VMCORE [--json]   explain a dump: panic, culprit, evidence
  krash analyze --batch PATH... [--json | --json-lines] [-j N]
                                            explain every dump given or under the directories,
                                            in parallel, grouped by signature
  krash decode [VMLINUX|-] [--module NAME=KO] [--json] < OOPS
                                            resolve an oops or panic text, no dump needed
  krash mcp [VMCORE] [-k VMLINUX]           serve an agent: MCP on stdio (tools: open,
                                            command, analyze, commands)
  krash completions bash|zsh|fish           print a shell completion script
  krash man                                 print the man page (roff)
  krash help [analyze | decode | mcp]       this help, or a subcommand's

At the krash> prompt, \"help\" lists crash's commands and \"help CMD\" shows one.";

const ANALYZE_USAGE: &str = "usage: krash analyze [VMLINUX] VMCORE [--json] [--debug-dir DIR]
       krash analyze --batch PATH... [--json | --json-lines] [-j N] [--debug-dir DIR]

Explains a dump: what panicked, the culprit and the evidence for it.

With --batch, every dump file given or found under the directories (by
content) is analysed, with the vmlinux beside each dump (a vmlinux* file in
its directory) when there is one. The dumps are analysed in parallel, on
every core (-j N, --jobs N: N at a time). The text output is a line per dump
(path, panic kind, signature) in path order, then the bucket table: each
signature with its number of dumps, the first and last crash time (UTC,
from each dump: sys's DATE, not the file's time) and the kernel releases,
most dumps first.

--json prints one document at the end (dumps in path order, then the
buckets). --json-lines (with --batch) prints one line per dump as soon as
that dump is done, so in completion order (each line names its dump), a
dump that could not be analysed included with its error, then a summary
line with the buckets (docs/json.md).

--debug-dir (repeatable) is searched for debuginfo before KRASH_DEBUG_PATH
and /usr/lib/debug. A path that does not exist is an error.";

/// Runs the subcommand named by the first argument, if it is one;
/// `None` means the arguments are a normal session's.
pub(crate) fn dispatch(args: &[String]) -> Option<Result<(), String>> {
    let (first, rest) = args.split_first()?;
    match first.as_str() {
        "decode" => Some(decode(rest)),
        "analyze" if wants_help(rest) => {
            println!("{ANALYZE_USAGE}");
            Some(Ok(()))
        }
        "analyze" => Some(crate::analyze_cli::run(rest)),
        "mcp" if wants_help(rest) => {
            println!("{}", crate::mcp::USAGE);
            Some(Ok(()))
        }
        "mcp" => Some(crate::mcp::run(rest)),
        // `krash help` is a question, not a dump file named "help".
        "help" => Some(help(rest)),
        "completions" => Some(crate::manual::completions(rest)),
        "man" => Some(crate::manual::man(rest)),
        _ => None,
    }
}

fn wants_help(args: &[String]) -> bool {
    args.iter().any(|a| a == "-h" || a == "--help")
}

fn help(topic: &[String]) -> Result<(), String> {
    match topic.first().map(String::as_str) {
        None => crate::args::Args::command().print_help().map_err(|e| e.to_string()),
        Some("analyze") => {
            println!("{ANALYZE_USAGE}");
            Ok(())
        }
        Some("decode") => {
            println!("{}", krash_commands::decode::USAGE);
            Ok(())
        }
        Some("mcp") => {
            println!("{}", crate::mcp::USAGE);
            Ok(())
        }
        Some("completions") => {
            println!("usage: krash completions bash|zsh|fish|elvish|powershell");
            Ok(())
        }
        Some("man") => {
            println!("usage: krash man    (the man page, in roff: krash man | man -l -)");
            Ok(())
        }
        Some(other) => Err(format!(
            "help: no subcommand {other} (analyze, decode, mcp, completions, man; \"help\" at the krash> prompt \
             lists commands)"
        )),
    }
}

fn decode(args: &[String]) -> Result<(), String> {
    let json = args.iter().any(|a| a == "--json");
    let args: Vec<String> = args.iter().filter(|a| *a != "--json").cloned().collect();
    if wants_help(&args) {
        println!("{}", krash_commands::decode::USAGE);
        return Ok(());
    }
    let mut input = String::new();
    let mut bytes = Vec::new();
    std::io::stdin().read_to_end(&mut bytes).map_err(|e| format!("reading standard input: {e}"))?;
    input.push_str(&String::from_utf8_lossy(&bytes));
    let decoded = krash_commands::decode::run(&args, &input).map_err(|e| e.to_string())?;
    let format = if json { Format::Json } else { Format::Text };
    print!("{}", render(&Output::Decode(decoded), format, "decode", None));
    Ok(())
}
