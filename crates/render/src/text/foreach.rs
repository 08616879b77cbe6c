use krash_commands::output::{Bt, Foreach, ForeachFailure, ForeachItem, Output};

/// Each task's output in turn; `bt` outputs are separated by blank lines.
pub(crate) fn render(f: &Foreach) -> String {
    let mut out = String::new();
    let mut failures = f.failures.iter().peekable();
    for (i, o) in f.outputs.iter().enumerate() {
        while let Some(x) = failures.next_if(|x| x.before <= i) {
            out.push_str(&failure(&f.command, x));
        }
        out.push_str(&output(&f.command, i, o));
    }
    for x in failures {
        out.push_str(&failure(&f.command, x));
    }
    out
}

/// The text of one of `foreach`'s results as it is made (the CLI streams
/// them); `position` counts the outputs before it.
pub fn render_foreach_item(command: &str, position: usize, item: &ForeachItem) -> String {
    match item {
        ForeachItem::Output(o) => output(command, position, o),
        ForeachItem::Failure(x) => failure(command, x),
    }
}

fn output(command: &str, position: usize, o: &Output) -> String {
    // `bt -R` shows only the traces that reference its argument, each
    // ending in a blank line of its own (crash's layout): no separator.
    let separate = position > 0 && command != "task" && !matches!(o, Output::Bt(Bt::Tasks { reference: Some(_), .. }));
    let text = super::render(o);
    if separate {
        format!("\n{text}")
    } else {
        text
    }
}

fn failure(command: &str, x: &ForeachFailure) -> String {
    format!("foreach: {command} {:x}: {}\n", x.task, x.error)
}
