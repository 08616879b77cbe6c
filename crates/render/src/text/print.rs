use std::fmt::Write;

use krash_commands::output::{Print, PrintEntry};

use super::value::write_value;

/// `name = $N = value` lines and per-cpu listings, as crash prints them.
pub(crate) fn render(p: &Print) -> String {
    let mut out = String::new();
    for e in &p.entries {
        match e {
            PrintEntry::Value { label, history, prefix, value } => {
                if let Some(l) = label {
                    let _ = write!(out, "{l} = ");
                }
                let _ = write!(out, "${history} = ");
                if let Some(pre) = prefix {
                    let _ = write!(out, "{pre} ");
                }
                write_value(&mut out, value, 0);
                out.push('\n');
            }
            PrintEntry::PerCpu { declaration, addresses } => {
                let _ = writeln!(out, "PER-CPU DATA TYPE:\n  {declaration}\nPER-CPU ADDRESSES:");
                for (cpu, addr) in addresses {
                    let _ = writeln!(out, "  [{cpu}]: {addr:x}");
                }
            }
        }
    }
    out
}
