use std::fmt::Write;

use krash_commands::output::{Print, PrintEntry, PrintLabel};

use super::value::write_value;

/// `name = $N = value` lines and per-cpu listings, as crash prints them.
pub(crate) fn render(p: &Print) -> String {
    let mut out = String::new();
    for e in &p.entries {
        match e {
            PrintEntry::Value { label, history, pointer_type, value } => {
                match label {
                    Some(PrintLabel::Variable { name }) => {
                        let _ = write!(out, "{name} = ");
                    }
                    Some(PrintLabel::PerCpu { expression, cpu }) => {
                        let _ = write!(out, "per_cpu({expression}, {cpu}) = ");
                    }
                    None => {}
                }
                let _ = write!(out, "${history} = ");
                if let Some(ty) = pointer_type {
                    let _ = write!(out, "({ty}) ");
                }
                write_value(&mut out, value, 0);
                out.push('\n');
            }
            PrintEntry::PerCpu { declaration, addresses } => {
                let _ = writeln!(out, "PER-CPU DATA TYPE:\n  {declaration};\nPER-CPU ADDRESSES:");
                for a in addresses {
                    let _ = writeln!(out, "  [{}]: {:x}", a.cpu, a.addr);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use krash_commands::output::{CpuAddress, ValueText};

    #[test]
    fn labels_pointer_types_and_per_cpu() {
        let value = |label, pointer_type: Option<&str>| PrintEntry::Value {
            label,
            history: 3,
            pointer_type: pointer_type.map(str::to_string),
            value: ValueText::scalar("0xffff888000001000"),
        };
        let p = Print {
            entries: vec![
                value(Some(PrintLabel::Variable { name: "x".into() }), None),
                value(Some(PrintLabel::PerCpu { expression: "rq.nr".into(), cpu: 1 }), Some("struct rq *")),
                PrintEntry::PerCpu {
                    declaration: "struct rq runqueues".into(),
                    addresses: vec![CpuAddress { cpu: 0, addr: 0xffff88803fc2c300 }],
                },
            ],
        };
        assert_eq!(
            render(&p),
            "x = $3 = 0xffff888000001000\n\
             per_cpu(rq.nr, 1) = $3 = (struct rq *) 0xffff888000001000\n\
             PER-CPU DATA TYPE:\n  struct rq runqueues;\nPER-CPU ADDRESSES:\n  [0]: ffff88803fc2c300\n"
        );
    }
}
