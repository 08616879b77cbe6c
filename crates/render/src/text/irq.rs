use std::fmt::Write;

use krash_commands::output::{Irq, IrqTable, SoftirqVector};

pub(crate) fn render(i: &Irq) -> String {
    match i {
        Irq::Table { stats: true, table } => stats(table),
        Irq::Table { stats: false, table } => descriptors(table),
        Irq::Softirqs { vectors } => softirqs(vectors),
    }
}

fn softirqs(vectors: &[SoftirqVector]) -> String {
    let mut out = String::from("SOFTIRQ_VEC      ACTION     \n");
    for v in vectors {
        let name = v.action_name.as_deref().map(|n| format!("  <{n}>")).unwrap_or_default();
        let _ = writeln!(out, "    [{}]     {:016x}{name}", v.vector, v.action);
    }
    out
}

fn descriptors(t: &IrqTable) -> String {
    let mut out = String::from(" IRQ   IRQ_DESC/_DATA      IRQACTION      NAME\n");
    for d in &t.irqs {
        let number = format!(" {:2}", d.irq);
        let Some(desc) = d.desc else {
            let _ = writeln!(out, "{number:<10}(unused)          (unused)      ");
            continue;
        };
        let Some((first, rest)) = d.actions.split_first() else {
            let _ = writeln!(out, "{number:<6}{desc:016x}      (unused)      ");
            continue;
        };
        let _ = writeln!(out, "{number:<6}{desc:016x}  {:016x}  \"{}\"", first.action, first.name);
        for a in rest {
            let _ = writeln!(out, "{:24}{:016x}  \"{}\"", "", a.action, a.name);
        }
    }
    for p in &t.problems {
        let _ = writeln!(out, "irq: {p}");
    }
    out
}

fn stats(t: &IrqTable) -> String {
    let mut out = String::from("    ");
    for cpu in &t.cpus {
        let _ = write!(out, "{:>11}", format!("CPU{cpu}"));
    }
    out.push_str(" \n");
    for d in t.irqs.iter().filter(|d| !d.actions.is_empty()) {
        let _ = write!(out, "{:3}:", d.irq);
        for c in &d.counts {
            let _ = write!(out, " {c:10}");
        }
        let names: Vec<&str> = d.actions.iter().map(|a| a.name.as_str()).collect();
        let _ = writeln!(out, " {:>8}-{:<8} {}", d.chip, d.flow, names.join(", "));
    }
    for p in &t.problems {
        let _ = writeln!(out, "irq: {p}");
    }
    out
}
