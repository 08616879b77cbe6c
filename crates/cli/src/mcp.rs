//! `krash mcp`: a Model Context Protocol server on standard input and
//! output, so that an agent can examine a dump with krash's commands.
//!
//! It speaks MCP through rmcp, the protocol project's official Rust SDK
//! (Apache-2.0, compatible with krash's MIT OR Apache-2.0). Four tools:
//! `open` (a dump, replacing the open one), `command` (one crash command
//! line, answered with the same JSON document `krash --json` prints),
//! `analyze` (the report of `krash analyze --json`) and `commands` (the
//! command table). A failed command is a tool error (`isError`) whose text
//! is krash's JSON error document.
//!
//! A model reads every byte it is given, so no result is longer than
//! `max_bytes` (64 KiB unless asked otherwise): a longer one comes in pages,
//! the first with a note saying how many there are and how to ask for the
//! next. The pages of one result joined are its whole document. Results are
//! text content only: repeating a document as `structuredContent` would
//! double what a client may hand the model.
//!
//! One thread owns the session (the dump, `set`, `mod -s`, aliases), as the
//! REPL does, and runs the requests in turn; the protocol runs on a
//! one-thread tokio runtime beside it, so that a long command does not stop
//! the server from reading the client's messages. A request the client
//! cancels stops its command as Ctrl-C does at the prompt.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use krash_commands::interrupt::Interrupt;
use krash_commands::schema::{ErrorDocument, ErrorKind};
use krash_commands::{command_name, execute, registry, Output, Session};
use krash_program::{Kernel, KernelFiles};
use krash_render::{json_line, render, Format};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, ServiceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::line::{parse_line, Sink};

pub(crate) const USAGE: &str = "usage: krash mcp [VMCORE] [-k VMLINUX] [--debug-dir DIR]... [--force] [--no-search]
       krash mcp [VMLINUX VMCORE]

Serves the Model Context Protocol on standard input and output for an
agent: tools `open` (a dump), `command` (one crash command line, answered
with its --json document), `analyze` (the analyze report) and `commands`
(the command table). A dump given here is opened at start; `open` opens
another. Results longer than max_bytes (64 KiB unless the call says
otherwise) come in pages. --debug-dir (repeatable) is searched for the
dump's vmlinux before KRASH_DEBUG_PATH and /usr/lib/debug; --no-search
searches nowhere; --force accepts a vmlinux whose build id differs.

A client starts it as a command, e.g. {\"command\": \"krash\", \"args\":
[\"mcp\", \"/path/vmcore\", \"-k\", \"/path/vmlinux\"]}.";

/// A page's size when the call does not say.
const DEFAULT_MAX_BYTES: usize = 64 * 1024;
/// The least `max_bytes` honoured: a few lines of any document; smaller
/// pages would make a model ask for thousands.
const MIN_MAX_BYTES: usize = 1024;
/// The most: bigger pages are the flood the paging is there to prevent.
const MAX_MAX_BYTES: usize = 1024 * 1024;
/// Warnings from opening a dump that a result carries (each cut short).
const MAX_WARNINGS: usize = 20;
const MAX_WARNING_CHARS: usize = 400;

/// What the command line gave: the dump to open at start, and how to open
/// dumps (this one and those of `open`).
struct McpArgs {
    dump: Option<PathBuf>,
    vmlinux: Option<PathBuf>,
    config: OpenConfig,
}

/// How dumps are opened, from the command line.
#[derive(Debug, Clone)]
struct OpenConfig {
    /// Searched for a dump's vmlinux by build id when none is given.
    debug_dirs: Vec<PathBuf>,
    force: bool,
}

fn parse_args(args: &[String]) -> Result<McpArgs, String> {
    let mut files = Vec::new();
    let mut vmlinux = None;
    let mut debug_dirs = Vec::new();
    let mut force = false;
    let mut no_search = false;
    let mut words = args.iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "-k" | "--vmlinux" => {
                let path = words.next().ok_or("mcp: -k needs the vmlinux")?;
                if vmlinux.replace(PathBuf::from(path)).is_some() {
                    return Err("mcp: -k given twice".into());
                }
            }
            "--debug-dir" => debug_dirs.push(PathBuf::from(words.next().ok_or("mcp: --debug-dir needs a directory")?)),
            "--force" => force = true,
            "--no-search" => no_search = true,
            other if other.starts_with('-') => return Err(format!("mcp: unknown option {other} (krash mcp --help)")),
            file => files.push(PathBuf::from(file)),
        }
    }
    // Files in either order, told apart by content, as for a session.
    let (positional_vmlinux, dump) = if files.is_empty() {
        (None, None)
    } else {
        let (v, d) = crate::args::assign_files(&files)?;
        (v, Some(d))
    };
    let vmlinux = match (vmlinux, positional_vmlinux) {
        (Some(_), Some(v)) => return Err(format!("{}: a second vmlinux was given (besides -k)", v.display())),
        (k, positional) => k.or(positional),
    };
    if vmlinux.is_some() && dump.is_none() {
        return Err("mcp: a vmlinux was given without a dump (krash mcp VMCORE -k VMLINUX)".into());
    }
    if no_search {
        debug_dirs.clear();
    } else {
        debug_dirs.extend(crate::args::debug_dirs());
    }
    Ok(McpArgs { dump, vmlinux, config: OpenConfig { debug_dirs, force } })
}

/// Runs the subcommand with the words after `mcp`, until the client
/// closes standard input.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let args = parse_args(args)?;
    let (jobs, queue) = mpsc::channel::<Job>();
    let (started_tx, started_rx) = mpsc::channel::<Result<(), String>>();
    let worker = std::thread::Builder::new()
        .name("krash-session".into())
        .spawn(move || {
            let mut worker = Worker { session: None, config: args.config, last: None };
            if let Some(dump) = args.dump {
                match worker.open(&dump, args.vmlinux, false) {
                    Ok(warnings) => {
                        for w in warnings {
                            eprintln!("WARNING: {w}");
                        }
                    }
                    Err(e) => {
                        let _ = started_tx.send(Err(format!("{}: {e}", dump.display())));
                        return;
                    }
                }
            }
            let _ = started_tx.send(Ok(()));
            // Ends when the server drops its sender: the client has gone.
            for job in queue {
                let tool = job.request.tool();
                // A bug that panics in one command must not end the agent's
                // session: the call gets an error document, the next call
                // runs as usual (the message is on standard error too).
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    worker.run(job.request, job.paging, &job.interrupt)
                }));
                let reply = run.unwrap_or_else(|panic| panicked(tool, panic.as_ref()));
                let _ = job.reply.send(reply);
            }
        })
        .map_err(|e| format!("mcp: cannot start the session thread: {e}"))?;
    // A dump that does not open is the user's mistake in the client's
    // configuration: say so and stop, rather than serve an empty session.
    started_rx.recv().map_err(|_| "mcp: the session thread ended while opening the dump".to_string())??;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("mcp: cannot start the async runtime: {e}"))?;
    let served = runtime.block_on(async move {
        let service = KrashServer { jobs }
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| format!("mcp: the client did not start a session: {e}"))?;
        service.waiting().await.map(drop).map_err(|e| format!("mcp: the server stopped: {e}"))
    });
    // The server (and so the sender) is gone; the worker finishes the
    // request it has, if any, and ends.
    drop(runtime);
    let _ = worker.join();
    served
}

/// The reply to a call whose command panicked.
fn panicked(tool: &str, panic: &(dyn std::any::Any + Send)) -> Reply {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_string());
    let msg = format!("krash failed inside (a bug; please report it): {what}");
    let doc = ErrorDocument::new(tool, None, ErrorKind::Other, &msg);
    Reply { text: json_text(&doc), is_error: true, note: None, warnings: Vec::new() }
}

/// The output a `command` call asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum OutputFormat {
    /// The command's JSON document (docs/json.md), as `krash --json` prints it.
    #[default]
    Json,
    /// crash's text, as at the krash> prompt (often shorter than the JSON).
    Text,
}

/// `open`'s arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct OpenArgs {
    /// The dump file (kdump-compressed, ELF core or LiME) to open. It replaces
    /// the dump open now, and with it the session's settings.
    path: String,
    /// The dump's vmlinux, with debug info. Without it one is looked for by the
    /// dump's build id in the debuginfo directories krash mcp was started with.
    #[serde(default)]
    vmlinux: Option<String>,
    /// Accept a vmlinux whose build id differs from the dump's.
    #[serde(default)]
    force: bool,
    /// The page of the result to return, from 1 (see max_bytes).
    #[serde(default)]
    #[schemars(range(min = 1))]
    page: Option<usize>,
    /// The most bytes of result text to return at once (default 65536, at least
    /// 1024, at most 1048576); a longer result comes in pages.
    #[serde(default)]
    #[schemars(range(min = 1024, max = 1048576))]
    max_bytes: Option<usize>,
}

/// `command`'s arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CommandArgs {
    /// One crash command line, e.g. "bt -a", "ps", "log", "kmem -s",
    /// "struct task_struct.comm ffff888003a1c000". Shell escapes (!), pipes (|)
    /// and redirections (>) are not available.
    line: String,
    /// "json" (default): the command's JSON document; "text": crash's text.
    #[serde(default)]
    format: OutputFormat,
    /// The page of the result to return, from 1 (see max_bytes).
    #[serde(default)]
    #[schemars(range(min = 1))]
    page: Option<usize>,
    /// The most bytes of result text to return at once (default 65536, at least
    /// 1024, at most 1048576); a longer result comes in pages.
    #[serde(default)]
    #[schemars(range(min = 1024, max = 1048576))]
    max_bytes: Option<usize>,
}

/// The arguments of `analyze` and `commands`: only paging.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PagingArgs {
    /// The page of the result to return, from 1 (see max_bytes).
    #[serde(default)]
    #[schemars(range(min = 1))]
    page: Option<usize>,
    /// The most bytes of result text to return at once (default 65536, at least
    /// 1024, at most 1048576); a longer result comes in pages.
    #[serde(default)]
    #[schemars(range(min = 1024, max = 1048576))]
    max_bytes: Option<usize>,
}

/// Which page of a result a call wants, and the page size.
#[derive(Debug, Clone, Copy)]
struct Paging {
    page: usize,
    max_bytes: usize,
}

impl Paging {
    fn new(page: Option<usize>, max_bytes: Option<usize>) -> Paging {
        Paging {
            page: page.unwrap_or(1),
            max_bytes: max_bytes.unwrap_or(DEFAULT_MAX_BYTES).clamp(MIN_MAX_BYTES, MAX_MAX_BYTES),
        }
    }
}

/// One tool call for the session thread.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Request {
    Open { dump: PathBuf, vmlinux: Option<PathBuf>, force: bool },
    Command { line: String, format: OutputFormat },
    Analyze,
    Commands,
}

impl Request {
    /// The tool's name, which error documents name as their command.
    fn tool(&self) -> &'static str {
        match self {
            Request::Open { .. } => "open",
            Request::Command { .. } => "command",
            Request::Analyze => "analyze",
            Request::Commands => "commands",
        }
    }
}

/// A tool call whose arguments did not fit the tool's schema.
enum BadCall {
    /// No such tool: a protocol error.
    UnknownTool(String),
    /// Wrong arguments: a tool error the model can read and correct.
    Arguments { tool: &'static str, message: String },
}

fn parse_call(name: &str, arguments: Value) -> Result<(Request, Paging), BadCall> {
    fn args<T: serde::de::DeserializeOwned>(tool: &'static str, v: Value) -> Result<T, BadCall> {
        serde_json::from_value(v).map_err(|e| BadCall::Arguments { tool, message: format!("{tool}: arguments: {e}") })
    }
    match name {
        "open" => {
            let a: OpenArgs = args("open", arguments)?;
            let request = Request::Open { dump: a.path.into(), vmlinux: a.vmlinux.map(PathBuf::from), force: a.force };
            Ok((request, Paging::new(a.page, a.max_bytes)))
        }
        "command" => {
            let a: CommandArgs = args("command", arguments)?;
            Ok((Request::Command { line: a.line, format: a.format }, Paging::new(a.page, a.max_bytes)))
        }
        "analyze" => {
            let a: PagingArgs = args("analyze", arguments)?;
            Ok((Request::Analyze, Paging::new(a.page, a.max_bytes)))
        }
        "commands" => {
            let a: PagingArgs = args("commands", arguments)?;
            Ok((Request::Commands, Paging::new(a.page, a.max_bytes)))
        }
        other => Err(BadCall::UnknownTool(other.to_string())),
    }
}

/// A request on its way to the session thread.
struct Job {
    request: Request,
    paging: Paging,
    /// Set when the client cancels the request.
    interrupt: Interrupt,
    reply: tokio::sync::oneshot::Sender<Reply>,
}

/// One page of a result, as a tool call returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reply {
    text: String,
    is_error: bool,
    /// Present when the result has more than one page.
    note: Option<PageNote>,
    /// Said by `open` about the dump it opened.
    warnings: Vec<String>,
}

/// Where a page is in its result: the second content block of a paged result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PageNote {
    page: usize,
    pages: usize,
    /// The whole result's length.
    total_bytes: usize,
    max_bytes: usize,
    /// The page to ask for next; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page: Option<usize>,
    note: String,
}

/// A whole result, before paging.
#[derive(Debug, Clone)]
struct Full {
    text: String,
    is_error: bool,
    warnings: Vec<String>,
}

impl Full {
    fn error(doc: &ErrorDocument) -> Full {
        Full { text: json_text(doc), is_error: true, warnings: Vec::new() }
    }
}

/// The last result, kept so that its further pages come from the same run:
/// commands are not run again (their output might not be the same, and a
/// slow one would be slow once per page).
struct Cached {
    request: Request,
    full: Full,
}

/// The session thread's state.
struct Worker {
    session: Option<Session>,
    config: OpenConfig,
    last: Option<Cached>,
}

impl Worker {
    /// Opens `dump` as the session, replacing the one open; returns the
    /// kernel's warnings. A dump that does not open leaves the session as
    /// it was: a mistyped path costs the agent nothing.
    fn open(&mut self, dump: &Path, vmlinux: Option<PathBuf>, force: bool) -> krash_core::Result<Vec<String>> {
        let files = KernelFiles {
            dump: dump.to_path_buf(),
            vmlinux,
            debug_dirs: self.config.debug_dirs.clone(),
            force: force || self.config.force,
        };
        let kernel = Kernel::open(files)?;
        let warnings = kernel.warnings().iter().map(ToString::to_string).collect();
        self.session = Some(Session::new(kernel));
        Ok(warnings)
    }

    /// Runs one request, or takes a later page of the last one.
    fn run(&mut self, request: Request, paging: Paging, interrupt: &Interrupt) -> Reply {
        let cached = self.last.as_ref().filter(|c| paging.page > 1 && c.request == request).map(|c| c.full.clone());
        let full = match cached {
            Some(full) => full,
            None => {
                let full = self.full_result(&request, interrupt);
                // A cancelled run is no result to page through.
                self.last = (!interrupt.is_set()).then(|| Cached { request: request.clone(), full: full.clone() });
                full
            }
        };
        page_of(&request, full, paging)
    }

    fn full_result(&mut self, request: &Request, interrupt: &Interrupt) -> Full {
        match request {
            Request::Open { dump, vmlinux, force } => self.open_tool(dump, vmlinux.clone(), *force),
            Request::Command { line, format } => self.command(line, *format, interrupt),
            Request::Analyze => self.analyze(interrupt),
            Request::Commands => commands_list(),
        }
    }

    fn open_tool(&mut self, dump: &Path, vmlinux: Option<PathBuf>, force: bool) -> Full {
        let input = dump.display().to_string();
        // A vmlinux given as the dump is a mistake worth naming; /proc/kcore
        // is the running kernel and is left to the dump reader.
        if dump != Path::new(crate::args::LIVE_DUMP) {
            match crate::args::classify(dump) {
                Ok(crate::args::FileKind::Dump) => {}
                Ok(crate::args::FileKind::Vmlinux) => {
                    let msg = format!("{input}: a vmlinux, not a dump (give it as \"vmlinux\")");
                    return Full::error(&ErrorDocument::new("open", Some(&input), ErrorKind::Usage, &msg));
                }
                Err(msg) => return Full::error(&ErrorDocument::new("open", Some(&input), ErrorKind::Io, &msg)),
            }
        }
        match self.open(dump, vmlinux, force) {
            Ok(warnings) => {
                let Some(session) = &self.session else {
                    let doc = ErrorDocument::new("open", Some(&input), ErrorKind::Other, "no session after opening");
                    return Full::error(&doc);
                };
                // The banner krash prints at start: what was opened.
                let banner = Output::Sys(krash_commands::output::sys_info(session));
                Full { text: rendered_text(&banner, Format::Json, "sys", None), is_error: false, warnings }
            }
            Err(e) => Full::error(&ErrorDocument::of("open", Some(&input), &e)),
        }
    }

    /// One command line, as `krash --json` runs a line of its input.
    fn command(&mut self, line: &str, format: OutputFormat, interrupt: &Interrupt) -> Full {
        let typed = line.trim();
        let word = typed.split_whitespace().next().unwrap_or_default().to_string();
        let usage = |msg: &str| Full::error(&ErrorDocument::new(&word, Some(typed), ErrorKind::Usage, msg));
        let Some(session) = self.session.as_mut() else {
            return usage("no dump is open: call the open tool first");
        };
        let expanded = session.aliases.expand(typed);
        let input = expanded.as_deref().unwrap_or(typed);
        // The agent has a shell of its own if it may have one; krash does
        // not hand it another.
        if typed.starts_with('!') || input.starts_with('!') {
            return usage("shell escapes (!) are not available over MCP");
        }
        let parsed = match parse_line(input) {
            Ok(Some(p)) => p,
            Ok(None) => return usage("no command given (a blank line or a comment)"),
            Err(e) => return usage(&e),
        };
        if parsed.sink != Sink::Stdout {
            return usage(
                "pipes (|) and redirections (>) are not available over MCP: the output is the tool's result \
                 (long results come in pages)",
            );
        }
        match parsed.words[0].as_str() {
            "q" | "quit" | "exit" => return usage("the MCP session ends when the client closes it"),
            "repeat" => return usage("repeat is not available over MCP: call the tool again instead"),
            _ => {}
        }
        session.interrupt = interrupt.clone();
        // A running kernel changes between commands: each one reads it afresh.
        session.kernel.refresh_live();
        let result = execute(session, &parsed.words);
        let name = command_name(session, &parsed.words);
        if session.interrupted() {
            return Full::error(&ErrorDocument::new(
                &name,
                Some(typed),
                ErrorKind::Other,
                "interrupted: the request was cancelled",
            ));
        }
        match result {
            Ok(out) => {
                let render_format = if format == OutputFormat::Text { Format::Text } else { Format::Json };
                Full {
                    text: rendered_text(&out, render_format, &name, Some(typed)),
                    is_error: false,
                    warnings: Vec::new(),
                }
            }
            Err(e) => Full::error(&ErrorDocument::of(&name, Some(typed), &e)),
        }
    }

    /// The report of `krash analyze --json`: the same document, naming no
    /// input line.
    fn analyze(&mut self, interrupt: &Interrupt) -> Full {
        let Some(session) = self.session.as_mut() else {
            return Full::error(&ErrorDocument::new(
                "analyze",
                None,
                ErrorKind::Usage,
                "no dump is open: call the open tool first",
            ));
        };
        session.interrupt = interrupt.clone();
        session.kernel.refresh_live();
        let result = execute(session, &["analyze".to_string()]);
        if session.interrupted() {
            return Full::error(&ErrorDocument::new(
                "analyze",
                None,
                ErrorKind::Other,
                "interrupted: the request was cancelled",
            ));
        }
        match result {
            Ok(out) => {
                Full { text: rendered_text(&out, Format::Json, "analyze", None), is_error: false, warnings: Vec::new() }
            }
            Err(e) => Full::error(&ErrorDocument::of("analyze", None, &e)),
        }
    }
}

/// One command as the `commands` tool lists it.
#[derive(Debug, Serialize)]
struct CommandEntry {
    name: &'static str,
    aliases: &'static [&'static str],
    summary: &'static str,
    synopsis: &'static str,
}

/// The command table: `{"commands":[{name, aliases, summary, synopsis}]}`.
fn commands_list() -> Full {
    let commands: Vec<CommandEntry> = registry()
        .iter()
        .map(|c| CommandEntry { name: c.name, aliases: c.aliases, summary: c.summary, synopsis: c.synopsis })
        .collect();
    Full { text: json_text(&json!({ "commands": commands })), is_error: false, warnings: Vec::new() }
}

/// A rendered output; a JSON document without the newline that ends it on
/// a terminal.
fn rendered_text(output: &Output, format: Format, command: &str, input: Option<&str>) -> String {
    let mut text = render(output, format, command, input);
    if format == Format::Json && text.ends_with('\n') {
        text.pop();
    }
    text
}

fn json_text<T: Serialize>(doc: &T) -> String {
    let mut text = json_line(doc);
    if text.ends_with('\n') {
        text.pop();
    }
    text
}

/// Cuts `text` into pages of at most `max_bytes` bytes (at least 4, so each
/// page holds a character). A page ends at a line's end when one falls in
/// its second half, so that text output is cut between lines; otherwise at
/// a character boundary. The pages joined are `text`.
fn split_pages(text: &str, max_bytes: usize) -> Vec<&str> {
    let max_bytes = max_bytes.max(4);
    let mut pages = Vec::new();
    let mut rest = text;
    while rest.len() > max_bytes {
        let mut end = max_bytes;
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        if let Some(newline) = rest[..end].rfind('\n') {
            if newline + 1 > end / 2 {
                end = newline + 1;
            }
        }
        let (page, tail) = rest.split_at(end);
        pages.push(page);
        rest = tail;
    }
    if !rest.is_empty() || pages.is_empty() {
        pages.push(rest);
    }
    pages
}

/// The page of `full` that `paging` asks for, with a note when there are more.
fn page_of(request: &Request, full: Full, paging: Paging) -> Reply {
    let pages = split_pages(&full.text, paging.max_bytes);
    let Some(page) = paging.page.checked_sub(1).and_then(|i| pages.get(i)) else {
        let msg = format!("page {} asked for: the result has {} page(s), from 1", paging.page, pages.len());
        let doc = ErrorDocument::new(request.tool(), None, ErrorKind::Usage, &msg);
        return Reply { text: json_text(&doc), is_error: true, note: None, warnings: Vec::new() };
    };
    let note = (pages.len() > 1).then(|| {
        let next_page = (paging.page < pages.len()).then_some(paging.page + 1);
        let note = match next_page {
            Some(next) => format!(
                "The result is {} bytes, longer than max_bytes ({}): this is page {} of {}. Call {} again with the \
                 same arguments and \"page\": {next} for the next page; the pages joined are the whole result.",
                full.text.len(),
                paging.max_bytes,
                paging.page,
                pages.len(),
                request.tool()
            ),
            None => format!("This is the last page ({} of {}).", paging.page, pages.len()),
        };
        PageNote {
            page: paging.page,
            pages: pages.len(),
            total_bytes: full.text.len(),
            max_bytes: paging.max_bytes,
            next_page,
            note,
        }
    });
    Reply { text: page.to_string(), is_error: full.is_error, note, warnings: full.warnings }
}

/// The tool result of a reply: the page, then the paging note, then
/// `open`'s warnings (a bounded few), each a text block.
fn tool_result(reply: Reply) -> CallToolResult {
    let mut content = vec![ContentBlock::text(reply.text)];
    if let Some(note) = &reply.note {
        content.push(ContentBlock::text(json_text(note)));
    }
    if !reply.warnings.is_empty() {
        let shown: Vec<String> = reply
            .warnings
            .iter()
            .take(MAX_WARNINGS)
            .map(|w| {
                if w.chars().count() > MAX_WARNING_CHARS {
                    w.chars().take(MAX_WARNING_CHARS).chain("…".chars()).collect()
                } else {
                    w.clone()
                }
            })
            .collect();
        let doc = json!({ "warnings": shown, "more_warnings": reply.warnings.len().saturating_sub(shown.len()) });
        content.push(ContentBlock::text(json_text(&doc)));
    }
    if reply.is_error {
        CallToolResult::error(content)
    } else {
        CallToolResult::success(content)
    }
}

/// The tools, with their input schemas.
fn tools() -> Result<Vec<Tool>, String> {
    let schema = |tool: &str, s: Result<std::sync::Arc<rmcp::model::JsonObject>, String>| {
        s.map_err(|e| format!("the {tool} tool's input schema: {e}"))
    };
    let read_only = || ToolAnnotations::new().read_only(true).destructive(false).open_world(false);
    Ok(vec![
        Tool::new(
            "open",
            "Open a Linux kernel crash dump (kdump, ELF core or LiME) with its vmlinux, replacing the open one. \
             Returns the dump's sys document (kernel release, panic string, CPUs, memory).",
            schema("open", rmcp::handler::server::tool::schema_for_input::<OpenArgs>())?,
        )
        .annotate(read_only()),
        Tool::new(
            "command",
            "Run one crash command line on the open dump, e.g. \"bt -a\", \"ps\", \"log\", \"kmem -s\", \"sym \
             ADDR\", \"struct task_struct.comm,pid ADDR\", \"rd -s ADDR 8\". Returns the command's JSON document \
             (docs/json.md: command, schema, input, data). Session state (set, mod -s, alias) carries over between \
             calls. A failed command is an error result holding krash's JSON error document. The \"commands\" \
             tool lists the commands; \"help CMD\" explains one.",
            schema("command", rmcp::handler::server::tool::schema_for_input::<CommandArgs>())?,
        )
        .annotate(read_only()),
        Tool::new(
            "analyze",
            "Explain the open dump's crash: panic kind and string, faulting code and source line, culprit, the bad \
             register and where its value came from, evidence commands and a stable signature (the JSON report of \
             krash analyze --json).",
            schema("analyze", rmcp::handler::server::tool::schema_for_input::<PagingArgs>())?,
        )
        .annotate(read_only()),
        Tool::new(
            "commands",
            "List krash's commands (crash's command language): name, aliases, one-line summary and synopsis.",
            schema("commands", rmcp::handler::server::tool::schema_for_input::<PagingArgs>())?,
        )
        .annotate(read_only()),
    ])
}

/// The MCP side: hands each tool call to the session thread.
#[derive(Clone)]
struct KrashServer {
    jobs: mpsc::Sender<Job>,
}

/// Stops a request's command when the client cancels it, or when the
/// request is dropped unanswered (the client went away): its command would
/// otherwise run on, and keep krash from exiting, for no one.
struct CancelWatch {
    watcher: tokio::task::JoinHandle<()>,
    interrupt: Interrupt,
    answered: bool,
}

impl CancelWatch {
    /// `cancelled` ends when the client cancels the request.
    fn new(cancelled: impl std::future::Future<Output = ()> + Send + 'static, interrupt: Interrupt) -> CancelWatch {
        let set = interrupt.clone();
        let watcher = tokio::spawn(async move {
            cancelled.await;
            set.set();
        });
        CancelWatch { watcher, interrupt, answered: false }
    }
}

impl Drop for CancelWatch {
    fn drop(&mut self) {
        self.watcher.abort();
        if !self.answered {
            self.interrupt.set();
        }
    }
}

impl ServerHandler for KrashServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("krash", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "krash examines a Linux kernel crash dump with crash's commands. Call analyze first for what \
                 crashed and why, then command for details (\"bt\", \"log\", \"ps\", \"struct ...\"); commands \
                 lists the commands. Results are krash's JSON documents; one longer than max_bytes comes in \
                 pages: a note after the first page gives the count and the next page to ask for.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        tools().map(ListToolsResult::with_all_items).map_err(|e| McpError::internal_error(e, None))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tools().ok()?.into_iter().find(|t| t.name == name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let arguments = Value::Object(request.arguments.unwrap_or_default());
        let (request, paging) = match parse_call(&request.name, arguments) {
            Ok(call) => call,
            Err(BadCall::UnknownTool(name)) => {
                return Err(McpError::invalid_params(
                    format!("no tool {name} (open, command, analyze, commands)"),
                    None,
                ))
            }
            Err(BadCall::Arguments { tool, message }) => {
                let doc = ErrorDocument::new(tool, None, ErrorKind::Usage, &message);
                let reply = Reply { text: json_text(&doc), is_error: true, note: None, warnings: Vec::new() };
                return Ok(tool_result(reply).into());
            }
        };
        let interrupt = Interrupt::new();
        let (reply_tx, reply_rx) = tokio::sync::oneshot::channel();
        let job = Job { request, paging, interrupt: interrupt.clone(), reply: reply_tx };
        self.jobs.send(job).map_err(|_| McpError::internal_error("the krash session has ended", None))?;
        let mut watch = CancelWatch::new(context.ct.clone().cancelled_owned(), interrupt);
        let reply = reply_rx.await.map_err(|_| McpError::internal_error("the krash session has ended", None))?;
        watch.answered = true;
        Ok(tool_result(reply).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_join_to_the_text_and_respect_the_limit() {
        let text = "héllo wörld ".repeat(500) + "\n" + &"x".repeat(3000) + "\nend\n";
        for max in [4, 5, 7, 64, 1000, 1024, 4096, text.len(), text.len() + 1] {
            let pages = split_pages(&text, max);
            assert_eq!(pages.concat(), text, "max {max}");
            assert!(pages.iter().all(|p| p.len() <= max && !p.is_empty()), "max {max}");
        }
        assert_eq!(split_pages("", 1024), vec![""]);
        assert_eq!(split_pages(&text, text.len()).len(), 1);
    }

    #[test]
    fn pages_end_at_a_line_when_one_is_near() {
        let text = format!("{}\n{}", "a".repeat(900), "b".repeat(900));
        let pages = split_pages(&text, 1024);
        assert_eq!(pages[0], format!("{}\n", "a".repeat(900)));
        // A newline in the page's first half is not worth a short page.
        let text = format!("{}\n{}", "a".repeat(100), "b".repeat(2000));
        assert_eq!(split_pages(&text, 1024)[0].len(), 1024);
    }

    fn full(text: &str, is_error: bool) -> Full {
        Full { text: text.to_string(), is_error, warnings: Vec::new() }
    }

    #[test]
    fn a_paged_reply_says_where_it_is_and_what_comes_next() {
        let request = Request::Command { line: "ps".into(), format: OutputFormat::Json };
        let text = "y".repeat(2500);
        let first = page_of(&request, full(&text, false), Paging { page: 1, max_bytes: 1024 });
        assert_eq!(first.text.len(), 1024);
        let note = first.note.expect("a paged result has a note");
        assert_eq!((note.page, note.pages, note.total_bytes, note.next_page), (1, 3, 2500, Some(2)));
        assert!(note.note.contains("\"page\": 2"), "{}", note.note);
        let last = page_of(&request, full(&text, false), Paging { page: 3, max_bytes: 1024 });
        assert_eq!(last.text.len(), 2500 - 2048);
        assert_eq!(last.note.expect("note").next_page, None);
        let beyond = page_of(&request, full(&text, false), Paging { page: 4, max_bytes: 1024 });
        assert!(beyond.is_error);
        let doc: Value = serde_json::from_str(&beyond.text).expect("an error document");
        assert_eq!(doc["error"]["kind"], "usage");
        assert_eq!(doc["command"], "command");
        let whole = page_of(&request, full("{}", true), Paging { page: 1, max_bytes: 1024 });
        assert_eq!((whole.text.as_str(), whole.is_error, whole.note), ("{}", true, None));
    }

    #[test]
    fn a_panic_is_an_error_document() {
        let panic = std::panic::catch_unwind(|| panic!("boom {}", 7)).expect_err("it panics");
        let reply = panicked("command", panic.as_ref());
        assert!(reply.is_error);
        let doc: Value = serde_json::from_str(&reply.text).expect("an error document");
        assert_eq!((doc["command"].as_str(), doc["error"]["kind"].as_str()), (Some("command"), Some("other")));
        assert!(doc["error"]["message"].as_str().is_some_and(|m| m.contains("boom 7")), "{doc}");
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(Paging::new(None, None).max_bytes, DEFAULT_MAX_BYTES);
        assert_eq!(Paging::new(None, Some(10)).max_bytes, MIN_MAX_BYTES);
        assert_eq!(Paging::new(None, Some(usize::MAX)).max_bytes, MAX_MAX_BYTES);
        assert_eq!(Paging::new(Some(0), None).page, 0, "page 0 is refused by page_of, not made 1");
    }

    #[test]
    fn calls_are_checked_against_their_tools() {
        let (request, paging) =
            parse_call("command", json!({"line": "bt -a", "page": 2, "max_bytes": 2048})).ok().expect("valid call");
        assert_eq!(request, Request::Command { line: "bt -a".into(), format: OutputFormat::Json });
        assert_eq!((paging.page, paging.max_bytes), (2, 2048));
        let (request, _) = parse_call("command", json!({"line": "ps", "format": "text"})).ok().expect("valid call");
        assert_eq!(request, Request::Command { line: "ps".into(), format: OutputFormat::Text });
        assert!(matches!(parse_call("command", json!({})), Err(BadCall::Arguments { tool: "command", .. })));
        assert!(matches!(
            parse_call("command", json!({"line": "ps", "pages": 2})),
            Err(BadCall::Arguments { tool: "command", .. })
        ));
        assert!(matches!(parse_call("bt", json!({})), Err(BadCall::UnknownTool(_))));
        assert!(matches!(parse_call("analyze", json!({})), Ok((Request::Analyze, _))));
    }

    #[test]
    fn every_tool_has_an_object_schema() {
        let tools = tools().expect("schemas");
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(names, ["open", "command", "analyze", "commands"]);
        for tool in &tools {
            assert_eq!(tool.input_schema.get("type"), Some(&json!("object")), "{}", tool.name);
        }
        let command = &tools[1].input_schema;
        assert_eq!(command["required"], json!(["line"]));
        assert!(command["properties"]["max_bytes"].is_object());
    }

    #[test]
    fn without_a_dump_commands_are_refused_and_the_table_is_listed() {
        let mut worker =
            Worker { session: None, config: OpenConfig { debug_dirs: Vec::new(), force: false }, last: None };
        let paging = Paging::new(None, None);
        let reply =
            worker.run(Request::Command { line: "bt".into(), format: OutputFormat::Json }, paging, &Interrupt::new());
        assert!(reply.is_error);
        let doc: Value = serde_json::from_str(&reply.text).expect("an error document");
        assert_eq!((doc["command"].as_str(), doc["input"].as_str()), (Some("bt"), Some("bt")));
        let reply = worker.run(Request::Commands, paging, &Interrupt::new());
        let doc: Value = serde_json::from_str(&reply.text).expect("the table");
        let names: Vec<&str> =
            doc["commands"].as_array().into_iter().flatten().filter_map(|c| c["name"].as_str()).collect();
        assert!(names.contains(&"bt") && names.contains(&"analyze"), "{names:?}");
        let reply = worker.run(
            Request::Open { dump: "/nonexistent/vmcore".into(), vmlinux: None, force: false },
            paging,
            &Interrupt::new(),
        );
        assert!(reply.is_error);
        let doc: Value = serde_json::from_str(&reply.text).expect("an error document");
        assert_eq!(doc["command"], "open");
    }

    #[test]
    fn later_pages_come_from_the_kept_result() {
        let mut worker =
            Worker { session: None, config: OpenConfig { debug_dirs: Vec::new(), force: false }, last: None };
        let request = Request::Commands;
        let first = worker.run(request.clone(), Paging::new(Some(1), Some(1024)), &Interrupt::new());
        let note = first.note.clone().expect("the table is longer than 1 KiB");
        let mut joined = first.text;
        for page in 2..=note.pages {
            let reply = worker.run(request.clone(), Paging::new(Some(page), Some(1024)), &Interrupt::new());
            assert!(reply.text.len() <= 1024);
            joined.push_str(&reply.text);
        }
        assert_eq!(joined, commands_list().text);
    }

    #[test]
    fn a_cancelled_run_is_not_kept_for_paging() {
        let mut worker =
            Worker { session: None, config: OpenConfig { debug_dirs: Vec::new(), force: false }, last: None };
        let cancelled = Interrupt::new();
        cancelled.set();
        worker.run(Request::Commands, Paging::new(None, None), &cancelled);
        assert!(worker.last.is_none());
        worker.run(Request::Commands, Paging::new(None, None), &Interrupt::new());
        assert!(worker.last.as_ref().is_some_and(|c| c.request == Request::Commands));
    }

    #[test]
    fn arguments_are_parsed_like_a_session() {
        let a = parse_args(&[]).expect("no dump is fine");
        assert!(a.dump.is_none() && a.vmlinux.is_none());
        assert!(parse_args(&["--bogus".into()]).is_err());
        assert!(parse_args(&["-k".into()]).is_err());
        assert!(parse_args(&["-k".into(), "/x".into()]).is_err(), "a vmlinux needs a dump");
        let a = parse_args(&["--no-search".into(), "--debug-dir".into(), "/d".into()]).expect("options");
        assert!(a.config.debug_dirs.is_empty());
        let a = parse_args(&["--debug-dir".into(), "/d".into(), "--force".into()]).expect("options");
        assert_eq!(a.config.debug_dirs.first(), Some(&PathBuf::from("/d")));
        assert!(a.config.force);
    }
}
