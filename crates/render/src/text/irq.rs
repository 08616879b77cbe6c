use std::fmt::Write;

use krash_commands::output::{Irq, IrqTable, SoftirqVector};

pub(crate) fn render(i: &Irq) -> String {
    match i {
        Irq::Table { stats: true, table } => stats(table),
        Irq::Table { stats: false, table } => descriptors(table),
        Irq::Softirqs { vectors } => softirqs(vectors),
        Irq::Affinity { table } => affinity(table),
    }
}

fn affinity(t: &IrqTable) -> String {
    let mut out = String::from("IRQ NAME                 AFFINITY\n");
    for d in t.irqs.iter().filter(|d| !d.actions.is_empty()) {
        let names: Vec<&str> = d.actions.iter().map(|a| a.name.as_str()).collect();
        let _ = writeln!(out, "{:3} {:<20} {}", d.irq, names.join(","), cpu_ranges(&d.affinity));
    }
    for p in &t.problems {
        let _ = writeln!(out, "irq: {p}");
    }
    out
}

/// Ascending CPU numbers as a list of ranges: `0-3,6,8-9`.
fn cpu_ranges(cpus: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while let Some(&start) = cpus.get(i) {
        let mut end = start;
        while cpus.get(i + 1).is_some_and(|&next| Some(next) == end.checked_add(1)) {
            end += 1;
            i += 1;
        }
        parts.push(if start == end { start.to_string() } else { format!("{start}-{end}") });
        i += 1;
    }
    parts.join(",")
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
        // crash prints the chip's name and "-" with the flow handler's
        // only when each has one: arm64's GIC chips print their name
        // through a callback (no `name`), and its flow handlers are unnamed.
        let mut chip = String::new();
        if !d.chip.is_empty() {
            let _ = write!(chip, "{:>8}", d.chip);
        }
        if !d.flow.is_empty() {
            let _ = write!(chip, "-{:<8}", d.flow);
        }
        let _ = writeln!(out, " {chip} {}", names.join(", "));
    }
    for p in &t.problems {
        let _ = writeln!(out, "irq: {p}");
    }
    out
}

#[cfg(test)]
mod tests {
    use krash_commands::output::{IrqAction, IrqDesc, IrqTable};

    #[test]
    fn stats_name_chip_and_flow_only_where_the_kernel_does() {
        let desc = |irq, chip: &str, flow: &str, name: &str| IrqDesc {
            irq,
            desc: Some(0xffff_0000_0210_8600),
            actions: vec![IrqAction { action: 0xffff_0000_0215_9180, name: name.into() }],
            chip: chip.into(),
            flow: flow.into(),
            counts: vec![38, 37],
            affinity: vec![0, 1],
        };
        let t = IrqTable {
            cpus: vec![0, 1],
            irqs: vec![
                desc(1, "IO-APIC", "edge", "i8042"),
                desc(2, "", "", "IPI"),
                desc(20, "MSI", "", "virtio0-config"),
            ],
            problems: Vec::new(),
        };
        assert_eq!(
            super::stats(&t),
            "           CPU0       CPU1 \n\
             \x20 1:         38         37  IO-APIC-edge     i8042\n\
             \x20 2:         38         37  IPI\n\
             \x2020:         38         37      MSI virtio0-config\n"
        );
    }

    #[test]
    fn cpu_ranges_merge_runs() {
        assert_eq!(super::cpu_ranges(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
        assert_eq!(super::cpu_ranges(&[3]), "3");
        assert_eq!(super::cpu_ranges(&[]), "");
    }
}
