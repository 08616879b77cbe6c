//! Turning command outputs into what users read: crash-compatible text
//! (one module per command family under `text/`) or JSON documents (the
//! public schema of `krash_commands::schema`, written by serde_json).

mod text;

use krash_commands::schema::{Document, ErrorDocument, ErrorKind};
use krash_commands::Output;
use serde::Serialize;

/// Output formats krash can print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// crash's layout, so habits and scripts carry over.
    Text,
    /// One JSON document per command (docs/json.md).
    Json,
}

/// One command's output: crash's text (ending with a newline unless
/// empty), or its JSON document (one line) naming `command` (the registry
/// name) and `input` (the line as typed).
pub fn render(output: &Output, format: Format, command: &str, input: Option<&str>) -> String {
    match format {
        Format::Text => render_text(output),
        Format::Json => json_line(&Document::new(command, input, output)),
    }
}

/// crash's text of one command's output.
pub fn render_text(output: &Output) -> String {
    text::render(output)
}

/// A JSON document on one line, newline-terminated. Should serialization
/// fail, an error document says so instead.
pub fn json_line<T: Serialize>(doc: &T) -> String {
    let mut line = serde_json::to_string(doc).unwrap_or_else(|e| {
        let error = ErrorDocument::new("", None, ErrorKind::Other, &format!("cannot serialize output: {e}"));
        serde_json::to_string(&error).unwrap_or_default()
    });
    line.push('\n');
    line
}

pub use text::{
    format_crash_date, format_sortable_date, format_uptime, render_foreach_item, render_list_entry, render_list_head,
    render_list_tail,
};
