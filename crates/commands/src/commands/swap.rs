//! `swap`: the active swap areas.

use krash_core::{Error, Result};
use krash_linux::mm::swap::SwapArea;
use krash_linux::mm::swap::SwapExt;

use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "swap",
    aliases: &[],
    summary: "swap device information",
    synopsis: "swap",
    details: "  (none)  one line per active swap area: SWAP_INFO_STRUCT, TYPE (PARTITION or FILE),\n\
              \x20         SIZE and USED in kilobytes, PCT used, PRI(ority) and FILENAME;\n\
              \x20         only the header when no swap is active",
    run,
};

/// What `swap` printed.
#[derive(Debug, Clone)]
pub struct SwapOutput {
    pub page_size: u64,
    pub areas: Vec<SwapArea>,
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("swap", args, "")?;
    if let Some(extra) = p.args.first() {
        return Err(Error::Usage(format!("swap: unexpected argument: {extra}")));
    }
    Ok(Output::Swap(SwapOutput { page_size: session.kernel.memory().page_size(), areas: session.kernel.swap_areas()? }))
}
