use krash_core::{Error, Result};
use krash_linux::dev::irq::IrqExt;

use krash_linux::dev::irq::{IrqTable, SoftirqVector};

use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "irq",
    aliases: &[],
    summary: "interrupt descriptors, handlers and per-CPU counts",
    synopsis: "irq [-s | -a | -b] [IRQ]",
    details: "  (none)  every IRQ number below nr_irqs: its irq_desc, first irqaction and handler\n\
              \x20         name (IRQ IRQ_DESC/_DATA IRQACTION NAME), (unused) where there is none\n\
              \x20 -s      per-CPU interrupt counts of the IRQs with handlers, with chip and flow\n\
              \x20         names, as /proc/interrupts shows them\n\
              \x20 IRQ     only this IRQ number\n\
              \x20 -b      the softirq vectors and their handlers (SOFTIRQ_VEC ACTION)\n\
              \x20 -a      each IRQ with a handler, its handler names and the CPUs its\n\
              \x20         affinity mask allows (IRQ NAME AFFINITY, CPU ranges like 0-1)",
    run,
};

/// What `irq` shows.
#[derive(Debug, Clone)]
pub enum Irq {
    Table {
        stats: bool,
        table: IrqTable,
    },
    Softirqs {
        vectors: Vec<SoftirqVector>,
    },
    /// `-a`: the table, shown as each handled IRQ's affinity.
    Affinity {
        table: IrqTable,
    },
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("irq", args, "sab")?;
    if p.has('b') {
        return Ok(Output::Irq(Irq::Softirqs { vectors: session.kernel.softirq_vectors()? }));
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
    if p.has('a') {
        return Ok(Output::Irq(Irq::Affinity { table }));
    }
    Ok(Output::Irq(Irq::Table { stats: p.has('s'), table }))
}
