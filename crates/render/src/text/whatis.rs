use krash_commands::output::Whatis;

/// gdb's text, one line or a type body.
pub(crate) fn render(w: &Whatis) -> String {
    format!("{}\n", w.text)
}
