//! Turning what users type where crash expects an address into one:
//! `ffff8880...`, `0xffff...`, `symbol`, `symbol+0x10`, `symbol+16`.

use krash_core::{Error, Result};
use krash_program::Kernel;

/// Resolves an address argument; symbols come from the kernel's tables.
pub fn resolve_address(kernel: &Kernel, word: &str) -> Result<u64> {
    if let Some(v) = crate::parse_hex(word) {
        // A word such as "add" is both hex and a possible symbol: crash
        // prefers the symbol when one exists.
        if word.starts_with("0x") || kernel.symbol_addr(word).is_err() {
            return Ok(v);
        }
    }
    let (name, offset) = match word.split_once('+') {
        Some((n, off)) => (n, parse_offset(off).ok_or_else(|| bad_offset(word))?),
        None => match word.split_once('-') {
            Some((n, off)) => (n, parse_offset(off).ok_or_else(|| bad_offset(word))?.wrapping_neg()),
            None => (word, 0),
        },
    };
    let base = kernel.symbol_addr(name).map_err(|_| Error::NotFound(format!("invalid address or symbol: {word}")))?;
    Ok(base.wrapping_add(offset))
}

fn bad_offset(word: &str) -> Error {
    Error::Usage(format!("invalid offset in {word}"))
}

/// `0x10` is hex, `16` decimal, as crash reads symbol offsets.
pub fn parse_offset(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// A count or number argument: decimal, or hex with 0x.
pub fn parse_number(s: &str) -> Option<u64> {
    parse_offset(s)
}
