use krash_commands::output::Foreach;

/// Each task's output in turn; `bt` outputs are separated by blank lines.
pub(crate) fn render(f: &Foreach) -> String {
    let mut out = String::new();
    for (i, o) in f.outputs.iter().enumerate() {
        if i > 0 && f.command != "task" {
            out.push('\n');
        }
        out.push_str(&super::render(o));
    }
    out
}
