use std::fmt::Write;

use krash_commands::output::Irq;

pub(crate) fn render(i: &Irq) -> String {
    if i.stats {
        return stats(i);
    }
    let mut out = String::from(" IRQ   IRQ_DESC/_DATA      IRQACTION      NAME\n");
    for d in &i.table.irqs {
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
    for p in &i.table.problems {
        let _ = writeln!(out, "irq: {p}");
    }
    out
}

fn stats(i: &Irq) -> String {
    let mut out = String::from("    ");
    for cpu in &i.table.cpus {
        let _ = write!(out, "{:>11}", format!("CPU{cpu}"));
    }
    out.push_str(" \n");
    for d in i.table.irqs.iter().filter(|d| !d.actions.is_empty()) {
        let _ = write!(out, "{:3}:", d.irq);
        for c in &d.counts {
            let _ = write!(out, " {c:10}");
        }
        let names: Vec<&str> = d.actions.iter().map(|a| a.name.as_str()).collect();
        let _ = writeln!(out, " {:>8}-{:<8} {}", d.chip, d.flow, names.join(", "));
    }
    for p in &i.table.problems {
        let _ = writeln!(out, "irq: {p}");
    }
    out
}
