//! Prints lines and inline chains for addresses, with timings:
//! `dwarf_lookup FILE ADDR...` (hex addresses).

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: dwarf_lookup FILE ADDR...")?;
    let t0 = Instant::now();
    let file = krash_dwarf::DwarfFile::open(&path)?;
    println!("open: {:?}", t0.elapsed());
    for arg in args {
        let addr = u64::from_str_radix(arg.trim_start_matches("0x"), 16)?;
        let t = Instant::now();
        let line = file.lines(addr)?;
        let line_time = t.elapsed();
        let t = Instant::now();
        let frames = file.frames(addr)?;
        let frames_time = t.elapsed();
        println!("{addr:#x}: line {line:?} ({line_time:?})");
        for (i, f) in frames.iter().enumerate() {
            let loc =
                f.location.as_ref().map(|l| format!("{}:{}", l.relative, l.line)).unwrap_or_else(|| "??:0".into());
            let prefix = if i == 0 { "" } else { " (inlined by) " };
            println!("  {prefix}{} at {loc}", f.function);
        }
        println!("  frames took {frames_time:?}");
    }
    Ok(())
}
