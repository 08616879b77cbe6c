use std::fmt::Write;

use krash_commands::output::Context;

/// crash's `set` block.
pub(crate) fn render(c: &Context) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "    PID: {}", c.pid);
    let _ = writeln!(s, "COMMAND: \"{}\"", c.command);
    let _ = writeln!(s, "   TASK: {:x}", c.task);
    let _ = writeln!(s, "    CPU: {}", c.cpu);
    let _ = writeln!(s, "  STATE: {}{}", c.state.long_name(), if c.panic { " (PANIC)" } else { "" });
    s
}
