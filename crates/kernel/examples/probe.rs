//! Development probe: opens a dump and prints what the kernel model sees.
//! Usage: cargo run -p krash-kernel --example probe -- VMLINUX VMCORE
fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: probe VMLINUX VMCORE");
        std::process::exit(2);
    }
    let t = std::time::Instant::now();
    let k = match krash_kernel::Kernel::open(krash_kernel::KernelFiles {
        vmlinux: Some(args[1].clone().into()),
        dump: args[2].clone().into(),
        ..Default::default()
    }) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("open: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("opened in {:?}; layout {:x?}", t.elapsed(), k.memory().layout());
    let t = std::time::Instant::now();
    match k.tasks() {
        Ok(tasks) => {
            eprintln!("{} tasks in {:?}", tasks.len(), t.elapsed());
            for task in tasks.iter().take(400) {
                println!(
                    "{:>6} {:>6} {:>3} {:x} {} {}{}",
                    task.pid,
                    task.ppid,
                    task.cpu,
                    task.addr,
                    task.state.abbrev(),
                    task.comm,
                    if task.active { " (active)" } else { "" }
                );
            }
        }
        Err(e) => eprintln!("tasks: {e}"),
    }
    eprintln!("panic task {:x?}", k.panic_task());
}
