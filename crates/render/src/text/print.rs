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
