//! Turning command outputs into what users read: crash-compatible text
//! (one module per command family under `text/`) or JSON (the serde form
//! of the same data).

mod text;

use krash_commands::Output;

/// Output formats krash can print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// crash's layout, so habits and scripts carry over.
    Text,
    /// One JSON document per command.
    Json,
}

/// Renders one command's output; text ends with a newline unless empty.
pub fn render(output: &Output, format: Format) -> String {
    match format {
        Format::Text => text::render(output),
        Format::Json => {
            let mut s = serde_json::to_string(output)
                .unwrap_or_else(|e| format!("{{\"error\":\"cannot serialize output: {e}\"}}"));
            s.push('\n');
            s
        }
    }
}

pub use text::{format_crash_date, format_uptime};

/// `krash decode`'s text: the oops back with its resolutions.
pub fn render_decoded(d: &krash_commands::decode::Decoded) -> String {
    text::decode::render(d)
}
