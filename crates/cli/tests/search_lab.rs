//! Lab tests for `search`: identical to crash on the 6.1 dumps (apart from
//! the image-mapping aliases crash invents, docs/COMPAT.md), user memory
//! through the VMAs on the 6.12 dumps (which keep user pages), task
//! stacks consistent with the whole-memory search, on every scenario.

mod common;

use common::{crash_peer, krash_on, one_per_scenario, LabDump};

/// Start of what stays mapped of the kernel image: `_text` rounded down
/// to its 2 MiB page.
fn image_start(d: &LabDump) -> u64 {
    let run = krash_on(d, "sym _text\n");
    let word =
        run.stdout.split_whitespace().next().unwrap_or_else(|| panic!("{}: no _text: {}", d.label(), run.stderr));
    u64::from_str_radix(word, 16).expect("sym prints a hex address") & !((1 << 21) - 1)
}

/// The address of a `ADDR: ...` line.
fn hit_addr(line: &str) -> Option<u64> {
    u64::from_str_radix(line.split_once(':')?.0.trim(), 16).ok()
}

#[test]
fn kernel_searches_equal_crash() {
    for d in one_per_scenario() {
        let Some(peer) = crash_peer(&d) else { continue };
        let text = image_start(&d);
        for cmd in [
            "search init_task",
            "search -K init_task",
            "search -V init_task",
            "search -p init_task",
            "search -T init_task",
            "search -x 1 -V init_task",
            "search -c {lock}",
        ] {
            let Some(crash) = peer.output(cmd) else { continue };
            let lock = d.manifest["expected"]["lock"].as_str().unwrap_or("");
            let ours = krash_on(&d, &format!("{}\n", cmd.replace("{lock}", lock)));
            // crash also reports the image mapping below _text, which the
            // kernel unmaps at boot (cleanup_highmap).
            let expected: String = crash
                .lines()
                .filter(|l| !hit_addr(l).is_some_and(|a| (0xffff_ffff_8000_0000..text).contains(&a)))
                .map(|l| format!("{l}\n"))
                .collect();
            assert_eq!(ours.stdout, expected, "{}: {cmd}\n{}", d.label(), ours.stderr);
            assert!(
                ours.stderr.is_empty(),
                "{}: {cmd}: no progress bar or errors on a pipe: {}",
                d.label(),
                ours.stderr
            );
        }
    }
}

#[test]
fn stack_hits_are_kernel_hits() {
    common::on_each_dump(&one_per_scenario(), |d| {
        // The return address of the panic task's outermost frame was pushed
        // by a call onto that task's own stack (inner frames may be on an
        // IRQ stack): `search -t` must find it there. The task's address
        // need not be on its stack: a user task interrupted by a softirq
        // never stored it.
        let bt = krash_on(d, "bt\n");
        let pid = bt
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("PID: ").and_then(|r| r.split_whitespace().next()).map(str::to_string))
            .unwrap_or_else(|| panic!("{}: no PID line in bt:\n{}{}", d.label(), bt.stdout, bt.stderr));
        let ret = bt
            .stdout
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('#') && !l.trim_start().starts_with("#0 "))
            .and_then(|l| l.split_whitespace().skip_while(|w| *w != "at").nth(1).map(str::to_string))
            .unwrap_or_else(|| panic!("{}: no frame past #0 in bt:\n{}", d.label(), bt.stdout));
        let stacks = krash_on(d, &format!("search -t {ret}\n"));
        let headers: Vec<&str> = stacks.stdout.lines().filter(|l| l.starts_with("PID: ")).collect();
        assert!(
            headers.iter().any(|h| h.split_whitespace().nth(1) == Some(pid.as_str())),
            "{}: the panic task's ({pid}) stack holds its outermost return address {ret}:\n{}{}",
            d.label(),
            stacks.stdout,
            stacks.stderr
        );
        let everywhere = krash_on(d, &format!("search {ret}\n"));
        let all: std::collections::HashSet<u64> = everywhere.stdout.lines().filter_map(hit_addr).collect();
        for a in stacks.stdout.lines().filter_map(hit_addr) {
            assert!(all.contains(&a), "{}: stack hit {a:x} missing from the whole-memory search", d.label());
        }
    });
}

#[test]
fn user_memory_is_searched_through_the_vmas() {
    for d in one_per_scenario().into_iter().filter(|d| d.kernel.starts_with("6.12")) {
        let run = krash_on(&d, "set 1\nvm\nsearch -u -c PATH=\n");
        let vmas: Vec<(u64, u64)> = run
            .stdout
            .lines()
            .filter_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                (w.len() >= 4 && w[0].len() == 16)
                    .then(|| Some((u64::from_str_radix(w[1], 16).ok()?, u64::from_str_radix(w[2], 16).ok()?)))?
            })
            .collect();
        assert!(!vmas.is_empty(), "{}: init's VMAs:\n{}{}", d.label(), run.stdout, run.stderr);
        let hits: Vec<(u64, &str)> = run
            .stdout
            .lines()
            .filter_map(|l| {
                let (a, text) = l.split_once(": ")?;
                Some((u64::from_str_radix(a, 16).ok()?, text))
            })
            .filter(|(_, t)| t.starts_with("PATH="))
            .collect();
        assert!(!hits.is_empty(), "{}: init's environment holds PATH=:\n{}{}", d.label(), run.stdout, run.stderr);
        for (a, _) in hits {
            assert!(vmas.iter().any(|(s, e)| (*s..*e).contains(&a)), "{}: {a:x} outside every VMA", d.label());
        }
    }
}

#[test]
fn user_search_needs_a_user_context() {
    for d in one_per_scenario().into_iter().take(2) {
        let run = krash_on(&d, "set 2\nsearch -u 0\n");
        assert!(run.stderr.contains("has no user address space"), "{}: {}", d.label(), run.stderr);
    }
}
