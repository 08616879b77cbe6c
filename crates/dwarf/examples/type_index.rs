//! Builds the DWARF name index of a file and prints its cost, then a few
//! lookups: `type_index <vmlinux|module.ko> [struct-name ...]`.

use std::sync::Arc;
use std::time::Instant;

use krash_debuginfo::{TypeKind, TypeOps};
use krash_dwarf::{DwarfFile, DwarfTypes};

/// Heap (anonymous) and file-mapped resident memory of this process, in MiB.
fn memory_mib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    };
    (field("RssAnon:"), field("RssFile:"))
}

fn main() -> krash_core::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: type_index <file> [struct ...]");
    let t = Instant::now();
    let types = DwarfTypes::new(Arc::new(DwarfFile::open(&path)?));
    println!("open: {:?}, memory {:?} MiB (heap, mapped file)", t.elapsed(), memory_mib());
    let stats = types.index_stats()?;
    println!("index: {stats:?}");
    println!("memory after index: {:?} MiB (heap, mapped file)", memory_mib());
    for name in args {
        let t = Instant::now();
        let id = types.find_type(TypeKind::Struct, &name)?;
        println!("struct {name} ({:?}): size {}\n{}", t.elapsed(), types.size_of(id)?, types.ptype(id));
    }
    for var in ["jiffies", "tk_core", "hardirq_stack_ptr", "init_task"] {
        if let Some(v) = types.find_variable_placement(var)? {
            println!(
                "{var}: {} in {:?}+{:?} at {:?}",
                types.type_name(v.variable.ty),
                v.variable.section,
                v.variable.section_offset,
                v.address.map(|a| format!("{a:#x}"))
            );
        }
    }
    Ok(())
}
