//! Types that only a module's debuginfo knows (seed 003's
//! `akfs_operation_t`): after `mod -s`, `struct`, `ptype` and `p` resolve
//! them; before, they are unknown.

mod common;

use common::{crash_peer, krash_on, one_per_scenario};

/// The `[offset] declaration` lines of `struct NAME -o`.
fn offset_lines(text: &str) -> Vec<String> {
    text.lines().filter(|l| l.trim_start().starts_with('[')).map(|l| l.trim().to_string()).collect()
}

#[test]
fn module_types_resolve_after_mod_s() {
    for d in one_per_scenario() {
        let ko = d.manifest["module_ko"].as_str().unwrap_or_default().to_string();
        let before = krash_on(&d, "struct widget_inner -o\n");
        assert!(
            before.stderr.contains("invalid data structure reference"),
            "{}: widget_inner known before mod -s:\n{}{}",
            d.label(),
            before.stdout,
            before.stderr
        );
        let run = krash_on(
            &d,
            &format!(
                "mod -s krash_scenarios {ko}\nstruct widget_inner -o\nstruct widget -o\nptype struct widget_ops\n"
            ),
        );
        assert!(run.success, "{}: {}", d.label(), run.stderr);
        let inner = offset_lines(run.stdout.split("struct widget {").next().unwrap_or_default());
        assert!(
            inner.iter().any(|l| l == "[16] unsigned long generation;"),
            "{}: widget_inner.generation is at 16 (the null-member fact):\n{}",
            d.label(),
            run.stdout
        );
        assert!(
            run.stdout.contains("int (*flush)(struct widget *);"),
            "{}: ptype widget_ops:\n{}",
            d.label(),
            run.stdout
        );
        if let Some(peer) = crash_peer(&d) {
            for (cmd, ours) in
                [("struct widget_inner -o", "struct widget_inner {"), ("struct widget -o", "struct widget {")]
            {
                let Some(theirs) = peer.output(cmd) else { continue };
                let start = run.stdout.find(ours).unwrap_or(0);
                let block: String = run.stdout[start..]
                    .lines()
                    .take_while(|l| !l.starts_with("SIZE:"))
                    .map(|l| format!("{l}\n"))
                    .collect();
                let crash_block: String =
                    theirs.lines().take_while(|l| !l.starts_with("SIZE:")).map(|l| format!("{l}\n")).collect();
                assert_eq!(block, crash_block, "{}: `{cmd}` differs from crash", d.label());
            }
        }
    }
}

#[test]
fn module_globals_print_with_their_module_type() {
    for d in one_per_scenario().into_iter().filter(|d| d.scenario == "null-fnptr") {
        let ko = d.manifest["module_ko"].as_str().unwrap_or_default().to_string();
        let run = krash_on(&d, &format!("mod -s krash_scenarios {ko}\np krash_widget_ops\n"));
        assert!(run.success, "{}: {}", d.label(), run.stderr);
        assert!(run.stdout.contains("flush = 0x0,"), "{}: the NULL flush member:\n{}", d.label(), run.stdout);
    }
}
