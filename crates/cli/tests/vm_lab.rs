//! `vtop`/`ptov`, `vm` and `files` on the lab dumps: translations agree with
//! reading memory both ways, VMAs are ordered and name the init binary, and
//! init's open files are the ones the lab's init holds.

mod common;


use common::{krash_on, one_per_scenario};


fn hex_after(text: &str, key: &str) -> Option<u64> {
    let rest = &text[text.find(key)? + key.len()..];
    let word: String = rest.trim_start().chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    u64::from_str_radix(&word, 16).ok()
}

/// The data words of `rd` output, without the address column or ASCII.
fn rd_words(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split_once(":  "))
        .flat_map(|(_, rest)| rest.split_whitespace().take(2).map(str::to_string).collect::<Vec<_>>())
        .collect()
}

/// The physical address `vtop` printed for its (single) address.
fn vtop_phys(text: &str) -> Option<u64> {
    let mut lines = text.lines().skip_while(|l| !l.starts_with("VIRTUAL "));
    lines.next()?;
    let row = lines.next()?;
    u64::from_str_radix(row.split_whitespace().nth(1)?, 16).ok()
}

#[test]
fn vtop_agrees_with_physical_reads() {
    let dumps = one_per_scenario();
    if dumps.is_empty() {
        eprintln!("no lab dumps; skipping");
        return;
    }
    for d in &dumps {
        let probe = krash_on(d, "sym init_task\nset\n");
        let init_task = probe.stdout.split_whitespace().next().and_then(|w| u64::from_str_radix(w, 16).ok());
        let task = hex_after(&probe.stdout, "TASK:");
        let stack = task.and_then(|t| {
            let run = krash_on(d, &format!("struct task_struct.stack {t:x}\n"));
            hex_after(&run.stdout, "stack = 0x")
        });
        let addrs: Vec<u64> = [init_task, task, stack].into_iter().flatten().collect();
        assert!(addrs.len() >= 2, "{}: probe addresses from {:?}", d.label(), probe.stdout);
        for va in addrs {
            let run = krash_on(d, &format!("vtop {va:x}\n"));
            let pa = vtop_phys(&run.stdout).unwrap_or_else(|| panic!("{}: vtop {va:x}: {}", d.label(), run.stdout));
            assert!(run.stdout.contains("PGD DIRECTORY: "), "{}: {}", d.label(), run.stdout);
            let reads = krash_on(d, &format!("rd -p {pa:x} 4\n"));
            let direct = krash_on(d, &format!("rd {va:x} 4\n"));
            let (p, v) = (rd_words(&reads.stdout), rd_words(&direct.stdout));
            assert!(p.len() == 4 && p == v, "{}: vtop {va:x} -> {pa:x}: {p:?} vs {v:?}", d.label());
            let back = krash_on(d, &format!("ptov {pa:x}\nbtop {pa:x}\n"));
            assert!(back.stdout.contains(&format!("{pa:x}: {:x}", pa >> 12)), "{}: {}", d.label(), back.stdout);
        }
    }
}

/// (vma, start, end, path) of each `vm` VMA line.
fn vma_lines(text: &str) -> Vec<(u64, u64, u64, String)> {
    text.lines()
        .skip_while(|l| !l.trim_start().starts_with("VMA "))
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let hex = |i: usize| f.get(i).and_then(|w| u64::from_str_radix(w, 16).ok());
            Some((hex(0)?, hex(1)?, hex(2)?, f.get(4).unwrap_or(&"").to_string()))
        })
        .collect()
}

#[test]
fn vm_lists_init_areas_in_order() {
    let dumps = one_per_scenario();
    if dumps.is_empty() {
        eprintln!("no lab dumps; skipping");
        return;
    }
    for d in &dumps {
        let run = krash_on(d, "vm 1\n");
        assert!(run.stdout.starts_with("PID: 1 "), "{}: {}{}", d.label(), run.stdout, run.stderr);
        let mm = hex_after(&run.stdout, "TOTAL_VM\n").unwrap_or_else(|| panic!("{}: no MM in {}", d.label(), run.stdout));
        let vmas = vma_lines(&run.stdout);
        let count = krash_on(d, &format!("struct mm_struct.map_count {mm:x}\n"));
        let map_count: usize = count.stdout.split('=').nth(1).and_then(|v| v.trim().trim_end_matches(',').parse().ok()).unwrap_or(0);
        assert_eq!(vmas.len(), map_count, "{}: VMAs vs mm->map_count: {}", d.label(), run.stdout);
        let mut prev_end = 0;
        for (vma, start, end, _) in &vmas {
            assert!(start < end && *start >= prev_end, "{}: VMA {vma:x} {start:x}-{end:x} after {prev_end:x}", d.label());
            prev_end = *end;
        }
        // The lab's init is a busybox shell script: the first mappings are busybox's.
        assert!(vmas.first().is_some_and(|v| v.3 == "/bin/busybox"), "{}: {}", d.label(), run.stdout);
    }
}

#[test]
fn files_shows_init_console_descriptors() {
    let dumps = one_per_scenario();
    if dumps.is_empty() {
        eprintln!("no lab dumps; skipping");
        return;
    }
    for d in &dumps {
        let run = krash_on(d, "files 1\n");
        assert!(run.stdout.contains("ROOT: /    CWD: /"), "{}: {}", d.label(), run.stdout);
        for fd in ["0", "2"] {
            let line = run.stdout.lines().find(|l| l.split_whitespace().next() == Some(fd));
            assert!(
                line.is_some_and(|l| l.ends_with(" CHR  /dev/console")),
                "{}: fd {fd} in {}",
                d.label(),
                run.stdout
            );
        }
        // `files -d` of fd 0's dentry finds the same inode and path through the mount table.
        let fd0: Vec<&str> = run.stdout.lines().find(|l| l.split_whitespace().next() == Some("0")).unwrap_or_default().split_whitespace().collect();
        let by_dentry = krash_on(d, &format!("files -d {}\n", fd0[2]));
        let row = by_dentry.stdout.lines().nth(1).unwrap_or_default();
        assert!(row.starts_with(fd0[2]) && row.contains(fd0[3]) && row.ends_with(" CHR  /dev/console"), "{}: {}", d.label(), by_dentry.stdout);
        // Every path is absolute and every file has a dentry and an inode.
        for l in run.stdout.lines().skip_while(|l| !l.starts_with(" FD ")).skip(1) {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert!(f.len() >= 6 && f[5].starts_with('/'), "{}: {l}", d.label());
        }
    }
}
