//! crash-style command-line handling, from a typed line to a command's
//! options: the REPL's splitter (`crates/cli/src/line.rs`, compiled in
//! here since `krash-cli` is a binary crate: words, quotes, `|` pipes,
//! `>`/`>>` redirections), alias expansion with the built-in aliases,
//! `repeat`'s argument plan, number parsing, and getopt
//! (`krash_commands::getopt::parse`) against the specs of real commands.
//!
//! The fuzz input, as UTF-8 (invalid bytes replaced), is the typed line.
//! Its words go to getopt under every spec below and, from the second
//! word on, to `repeat_plan`; each word also goes to `parse_number`.
//! Nothing may panic.
#![no_main]

#[path = "../../crates/cli/src/line.rs"]
#[allow(dead_code)]
mod line;

use krash_commands::address::parse_number;
use krash_commands::alias::Aliases;
use krash_commands::getopt;
use libfuzzer_sys::fuzz_target;

/// (command, getopt spec) pairs copied from crates/commands/src/commands.
const SPECS: &[(&str, &str)] = &[
    ("bt", "ac:gfFlsxtTervoO"),
    ("kmem", "sSvpifFVznohg:m:"),
    ("list", "H:h:o:O:s:S:e:rlxd"),
    ("tree", "t:r:o:s:S:Npxdl"),
    ("search", "s:e:l:m:x:kKVupTtwhc"),
    ("rd", "sSapuxdNe:"),
    ("struct", "oxdrl:fpuc:"),
    ("dis", "rfludxsUhb:B:"),
    ("files", "d:p:c"),
    ("help", ""),
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let aliases = Aliases::default();
    let expanded = aliases.expand(&text);
    for typed in std::iter::once(&*text).chain(expanded.as_deref()) {
        let Ok(Some(parsed)) = line::parse_line(typed) else { continue };
        let words = &parsed.words;
        for (command, spec) in SPECS {
            if let Ok(p) = getopt::parse(command, &words[1..], spec) {
                let _ = (p.count('x'), p.value('s'));
            }
        }
        let _ = krash_commands::repeat_plan(&words[1..]);
        for w in words {
            let _ = parse_number(w);
        }
        let _ = getopt::is_option_error(&words[0]);
    }
});
