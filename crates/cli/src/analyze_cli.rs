//! `krash analyze`: placeholder until the analysis lands.

pub(crate) fn run(_args: &[String]) -> Result<(), String> {
    Err("analyze: not yet implemented".into())
}
