use krash_commands::output::{Bt, Foreach, Output};

/// Each task's output in turn; `bt` outputs are separated by blank lines.
pub(crate) fn render(f: &Foreach) -> String {
    let mut out = String::new();
    let mut failures = f.failures.iter().peekable();
    for (i, o) in f.outputs.iter().enumerate() {
        while let Some(x) = failures.next_if(|x| x.before <= i) {
            out.push_str(&format!("foreach: {} {:x}: {}\n", f.command, x.task, x.error));
        }
        // `bt -R` shows only the traces that reference its argument, each
        // ending in a blank line of its own (crash's layout): no separator.
        if matches!(o, Output::Bt(Bt::Tasks { reference: Some(_), .. })) {
            out.push_str(&super::render(o));
            continue;
        }
        if i > 0 && f.command != "task" {
            out.push('\n');
        }
        out.push_str(&super::render(o));
    }
    for x in failures {
        out.push_str(&format!("foreach: {} {:x}: {}\n", f.command, x.task, x.error));
    }
    out
}
