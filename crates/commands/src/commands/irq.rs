use krash_core::{Error, Result};
use serde::Serialize;

use krash_kernel::irq::IrqTable;

use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "irq",
    aliases: &[],
    summary: "interrupt descriptors, handlers and per-CPU counts",
    synopsis: "irq [-s] [IRQ]",
    details: "  (none)  every IRQ number below nr_irqs: its irq_desc, first irqaction and handler\n\
              \x20         name (IRQ IRQ_DESC/_DATA IRQACTION NAME), (unused) where there is none\n\
              \x20 -s      per-CPU interrupt counts of the IRQs with handlers, with chip and flow\n\
              \x20         names, as /proc/interrupts shows them\n\
              \x20 IRQ     only this IRQ number\n\
              \x20 -a, -b  (affinity, bottom halves) not supported yet",
    run,
};

/// What `irq` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Irq {
    pub stats: bool,
    pub table: IrqTable,
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("irq", args, "sab")?;
    if p.has('a') || p.has('b') {
        return Err(Error::Unsupported("irq -a and -b are not supported yet".into()));
    }
    let only: Option<u64> = match p.args.first() {
        Some(w) => Some(w.parse().map_err(|_| Error::Usage(format!("irq: invalid IRQ: {w}")))?),
        None => None,
    };
    let mut table = session.kernel.irqs()?;
    if let Some(n) = only {
        table.irqs.retain(|d| d.irq == n);
        if table.irqs.is_empty() {
            return Err(Error::Usage(format!("irq: invalid IRQ value: {n}")));
        }
    }
    Ok(Output::Irq(Irq { stats: p.has('s'), table }))
}
