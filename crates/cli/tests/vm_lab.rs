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

/// The physical address on the `VIRTUAL PHYSICAL` row of `va`, among the
/// output of several `vtop`s.
fn vtop_phys_of(text: &str, va: u64) -> Option<u64> {
    let row = text.lines().find(|l| l.split_whitespace().next() == Some(&format!("{va:x}")))?;
    u64::from_str_radix(row.split_whitespace().nth(1)?, 16).ok()
}

/// The data words `rd ADDR 4` printed (its two lines, at ADDR and
/// ADDR+0x10), among the output of several `rd`s.
fn rd_words_at(text: &str, addr: u64) -> Vec<String> {
    let lines: Vec<&str> = [addr, addr.wrapping_add(0x10)]
        .iter()
        .filter_map(|a| text.lines().find(|l| l.trim_start().starts_with(&format!("{a:x}:  "))))
        .collect();
    rd_words(&lines.join("\n"))
}

#[test]
fn vtop_agrees_with_physical_reads() {
    let dumps = one_per_scenario();
    if dumps.is_empty() {
        eprintln!("no lab dumps; skipping");
        return;
    }
    common::on_each_dump(&dumps, |d| {
        let probe = krash_on(d, "sym init_task\nset\n");
        let init_task = probe.stdout.split_whitespace().next().and_then(|w| u64::from_str_radix(w, 16).ok());
        let task = hex_after(&probe.stdout, "TASK:");
        let stack = task.and_then(|t| {
            let run = krash_on(d, &format!("struct task_struct.stack {t:x}\n"));
            hex_after(&run.stdout, "stack = 0x")
        });
        let mut addrs: Vec<u64> = [init_task, task, stack].into_iter().flatten().collect();
        addrs.dedup();
        assert!(addrs.len() >= 2, "{}: probe addresses from {:?}", d.label(), probe.stdout);
        // One session translates them all, one more reads them both ways.
        let vtops = krash_on(d, &addrs.iter().map(|va| format!("vtop {va:x}\n")).collect::<String>());
        assert_eq!(vtops.stdout.matches("PGD DIRECTORY: ").count(), addrs.len(), "{}: {}", d.label(), vtops.stdout);
        let translated: Vec<(u64, u64)> = addrs
            .iter()
            .map(|&va| {
                let pa = vtop_phys_of(&vtops.stdout, va)
                    .unwrap_or_else(|| panic!("{}: vtop {va:x}: {}", d.label(), vtops.stdout));
                (va, pa)
            })
            .collect();
        let reads = krash_on(
            d,
            &translated
                .iter()
                .map(|(va, pa)| format!("rd -p {pa:x} 4\nrd {va:x} 4\nptov {pa:x}\nbtop {pa:x}\n"))
                .collect::<String>(),
        );
        for (va, pa) in translated {
            let (p, v) = (rd_words_at(&reads.stdout, pa), rd_words_at(&reads.stdout, va));
            assert!(p.len() == 4 && p == v, "{}: vtop {va:x} -> {pa:x}: {p:?} vs {v:?}", d.label());
            assert!(reads.stdout.contains(&format!("{pa:x}: {:x}", pa >> 12)), "{}: {}", d.label(), reads.stdout);
        }
    });
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
        let mm =
            hex_after(&run.stdout, "TOTAL_VM\n").unwrap_or_else(|| panic!("{}: no MM in {}", d.label(), run.stdout));
        let vmas = vma_lines(&run.stdout);
        let count = krash_on(d, &format!("struct mm_struct.map_count {mm:x}\n"));
        let map_count: usize =
            count.stdout.split('=').nth(1).and_then(|v| v.trim().trim_end_matches(',').parse().ok()).unwrap_or(0);
        assert_eq!(vmas.len(), map_count, "{}: VMAs vs mm->map_count: {}", d.label(), run.stdout);
        let mut prev_end = 0;
        for (vma, start, end, _) in &vmas {
            assert!(
                start < end && *start >= prev_end,
                "{}: VMA {vma:x} {start:x}-{end:x} after {prev_end:x}",
                d.label()
            );
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
        let fd0: Vec<&str> = run
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some("0"))
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        let by_dentry = krash_on(d, &format!("files -d {}\n", fd0[2]));
        let row = by_dentry.stdout.lines().nth(1).unwrap_or_default();
        assert!(
            row.starts_with(fd0[2]) && row.contains(fd0[3]) && row.ends_with(" CHR  /dev/console"),
            "{}: {}",
            d.label(),
            by_dentry.stdout
        );
        // Every path is absolute and every file has a dentry and an inode.
        for l in run.stdout.lines().skip_while(|l| !l.starts_with(" FD ")).skip(1) {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert!(f.len() >= 6 && f[5].starts_with('/'), "{}: {l}", d.label());
        }
    }
}

/// Lines without trailing blanks, leading and trailing empty lines dropped.
fn normalized(text: &str) -> Vec<String> {
    let lines: Vec<String> = text.lines().map(|l| l.trim_end().to_string()).collect();
    let start = lines.iter().position(|l| !l.is_empty()).unwrap_or(lines.len());
    let end = lines.iter().rposition(|l| !l.is_empty()).map_or(start, |e| e + 1);
    lines[start..end].to_vec()
}

/// crash 8.0.2 builds its task table from the PID hash and misses most tasks
/// of these 6.1 dumps (docs/COMPAT.md): where it cannot find the task there is
/// nothing to compare.
fn crash_missed_task(crash_text: &str) -> bool {
    crash_text.contains("invalid task or pid value")
}

/// crash's PAGE table header, which crash 8.0.2 prints only once per session.
const PAGE_TABLE_HEADER: &str = "      PAGE       PHYSICAL      MAPPING       INDEX CNT FLAGS";

#[test]
fn files_vtop_and_ptov_equal_crash_on_6_1() {
    let mut compared = 0;
    for d in one_per_scenario() {
        let Some(peer) = common::crash_peer(&d) else { continue };
        for command in ["files 1", "files -c 1", "vtop fffffe0000000000", "ptov 1000000"] {
            let Some(crash_text) = peer.output(command).filter(|t| !crash_missed_task(t)) else { continue };
            let run = krash_on(&d, &format!("{command}\n"));
            let mut ours = normalized(&run.stdout);
            let theirs = normalized(crash_text);
            if !theirs.iter().any(|l| l == PAGE_TABLE_HEADER) {
                ours.retain(|l| l != PAGE_TABLE_HEADER);
            }
            assert_eq!(ours, theirs, "{}: `{command}` differs from crash\n{}", d.label(), run.stderr);
            compared += 1;
        }
    }
    let on_6_1 = one_per_scenario().iter().any(|d| d.kernel.starts_with("6.1."))
        && std::process::Command::new("crash").arg("--version").output().is_ok();
    assert!(!on_6_1 || compared > 0, "no output compared with crash");
}

/// crash 8.0.2 cannot walk 6.1's maple tree: its `vm` stops after the task
/// header and mm line. krash's header equals crash's but for RSS, where crash
/// leaves out MM_SHMEMPAGES (docs/COMPAT.md); RSS is checked against mm->rss_stat.
#[test]
fn vm_header_equals_crash_and_rss_counts_every_rss_counter() {
    for d in one_per_scenario() {
        let run = krash_on(&d, "vm 1\n");
        let ours = normalized(&run.stdout);
        let crash_vm = common::crash_peer(&d).and_then(|peer| peer.output("vm 1").map(str::to_string));
        if let Some(crash_text) = crash_vm.filter(|t| !crash_missed_task(t)) {
            let theirs = normalized(&crash_text);
            assert_eq!(ours.first(), theirs.first(), "{}: task header", d.label());
            assert_eq!(ours.get(1), theirs.get(1), "{}: MM/PGD header", d.label());
            let cols = |l: Option<&String>| {
                l.map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>()).unwrap_or_default()
            };
            let (o, t) = (cols(ours.get(2)), cols(theirs.get(2)));
            assert!(o.len() == 4 && t.len() == 4, "{}: {o:?} {t:?}", d.label());
            assert_eq!((&o[0], &o[1], &o[3]), (&t[0], &t[1], &t[3]), "{}: MM, PGD, TOTAL_VM", d.label());
        }
        let mm = hex_after(&run.stdout, "TOTAL_VM\n").expect("MM address");
        let stat = krash_on(&d, &format!("struct mm_struct.rss_stat {mm:x}\n"));
        // 6.2+ keeps rss_stat in per-CPU counters: only 6.1's atomic counters are summed here.
        if stat.stdout.contains("counters = ") {
            continue;
        }
        let counters: u64 = stat
            .stdout
            .lines()
            .filter_map(|l| l.trim().strip_prefix("counter = "))
            .filter_map(|v| v.trim_end_matches(',').parse::<i64>().ok())
            .map(|v| v.max(0) as u64)
            .enumerate()
            .filter(|(i, _)| *i != 2) // MM_SWAPENTS is not resident
            .map(|(_, v)| v)
            .sum();
        let rss: u64 = ours
            .get(2)
            .and_then(|l| l.split_whitespace().nth(2))
            .and_then(|w| w.trim_end_matches('k').parse().ok())
            .unwrap_or(0);
        assert_eq!(rss, counters * 4, "{}: RSS vs rss_stat {}", d.label(), stat.stdout);
    }
}

#[test]
fn vm_p_lists_every_page_and_agrees_with_vtop() {
    for d in one_per_scenario() {
        let run = krash_on(&d, "vm -p 1\n");
        let areas = vma_lines(&run.stdout);
        assert!(!areas.is_empty(), "{}: {}{}", d.label(), run.stdout, run.stderr);
        let mut mapped = Vec::new();
        let mut pages = 0u64;
        // Page lines start with a user address (at most 12 hex digits); VMA lines with a 16-digit one.
        for l in run.stdout.lines() {
            let w: Vec<&str> = l.split_whitespace().collect();
            let Some(va) = w.first().filter(|a| a.len() <= 12).and_then(|a| u64::from_str_radix(a, 16).ok()) else {
                continue;
            };
            pages += 1;
            if let Some(pa) = w.get(1).filter(|_| w.len() == 2).and_then(|p| u64::from_str_radix(p, 16).ok()) {
                mapped.push((va, pa));
            }
        }
        let expected: u64 = vma_lines(&run.stdout).iter().map(|(_, s, e, _)| (e - s) / 4096).sum();
        assert_eq!(pages, expected, "{}: page lines vs VMA sizes", d.label());
        assert!(!mapped.is_empty(), "{}: no resident page:\n{}", d.label(), run.stdout);
        for (va, pa) in mapped.iter().take(3) {
            let vtop = krash_on(&d, &format!("vtop -c 1 -u {va:x}\n"));
            assert_eq!(vtop_phys(&vtop.stdout), Some(*pa), "{}: vtop {va:x}: {}", d.label(), vtop.stdout);
        }
    }
}

#[test]
fn files_p_lists_the_init_script_pages_of_its_mapping() {
    for d in one_per_scenario() {
        let counts = krash_on(&d, "files -c 1\n");
        let row = counts
            .stdout
            .lines()
            .find(|l| l.ends_with(" REG  /init"))
            .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>());
        let Some(row) = row else { panic!("{}: /init not open:\n{}", d.label(), counts.stdout) };
        let (inode, mapping, nrpages) = (&row[1], &row[2], row[3].parse::<usize>().unwrap_or(0));
        let run = krash_on(&d, &format!("files -p {inode}\n"));
        assert!(run.stdout.starts_with("     INODE        NRPAGES\n"), "{}: {}", d.label(), run.stderr);
        let pages: Vec<&str> = run.stdout.lines().skip_while(|l| !l.starts_with("      PAGE ")).skip(1).collect();
        assert_eq!(pages.len(), nrpages, "{}: {}", d.label(), run.stdout);
        for p in pages {
            assert_eq!(p.split_whitespace().nth(2), Some(mapping.as_str()), "{}: {p}", d.label());
        }
    }
}
