use krash_commands::output::Repeat;

/// Each run's output in turn, as the prompt would have shown them.
pub(crate) fn render(r: &Repeat) -> String {
    r.outputs.iter().map(super::render).collect()
}
