//! The C expression parser behind `p`, `struct` and `whatis`
//! (`krash_eval::expr::parse`): the fuzz input, as UTF-8 (invalid bytes
//! replaced), is one expression. A few names count as typedefs (`u64`,
//! `pid_t`, `size_t`, `atomic_t`, `spinlock_t`) so the `(type)(x)` cast
//! ambiguity is exercised both ways. It must return an `Expr` or an error,
//! never panic, and stay bounded on deeply nested input.
#![no_main]

use krash_eval::expr::parse;
use libfuzzer_sys::fuzz_target;

const TYPEDEFS: &[&str] = &["u64", "u32", "pid_t", "size_t", "atomic_t", "spinlock_t"];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse(&text, &|name| TYPEDEFS.contains(&name));
});
