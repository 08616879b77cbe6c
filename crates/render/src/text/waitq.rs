use std::fmt::Write;

use krash_commands::output::WaitqOutput;

use super::task::header;

pub(crate) fn render(w: &WaitqOutput) -> String {
    let mut out = String::new();
    if w.queue.entries.is_empty() {
        match &w.name {
            Some(n) => {
                let _ = writeln!(out, "wait queue \"{n}\" ({:x}) is empty", w.queue.head);
            }
            None => {
                let _ = writeln!(out, "wait queue {:x} is empty", w.queue.head);
            }
        }
    }
    for t in &w.tasks {
        let _ = writeln!(out, "{}", header(t));
    }
    if let Some(b) = &w.queue.broken {
        let _ = writeln!(out, "waitq: {b}");
    }
    out
}
