//! `krash analyze` and `krash decode` against every lab dump's manifest.

mod common;

use common::{krash, lab_dumps};
use serde_json::Value;

#[test]
fn analyze_matches_manifest() {
    let mut seen = std::collections::HashSet::new();
    for d in lab_dumps() {
        // One dump per scenario and kernel keeps the test short.
        if !seen.insert((d.kernel.clone(), d.scenario.clone())) || !d.is_kdump_boot() {
            continue;
        }
        let (v, c) = (d.vmlinux.to_string_lossy().into_owned(), d.vmcore.to_string_lossy().into_owned());
        let run = krash(&["analyze", &v, &c, "--json"], "");
        assert!(run.success, "{}: {}", d.label(), run.stderr);
        let doc: Value = serde_json::from_str(&run.stdout).expect("analyze --json parses");
        let r = &doc["data"];
        for field in ["kind", "faulting_function", "context", "signature", "findings", "evidence", "top_frames"] {
            assert!(r.get(field).is_some(), "{}: no field {field}", d.label());
        }
        let e = &d.manifest["expected"];
        assert_eq!(r["kind"], e["panic_kind"], "{}", d.label());
        if let Some(f) = e["faulting_function"].as_str() {
            assert_eq!(r["faulting_function"].as_str(), Some(f), "{}", d.label());
        }
        if let Some(m) = e.get("null_member").filter(|m| m.is_object()) {
            assert_eq!(r["bad_member"]["struct_name"], m["struct"], "{}", d.label());
            assert_eq!(r["bad_member"]["member"], m["member"], "{}", d.label());
            assert_eq!(r["bad_member"]["displacement"], m["offset"], "{}", d.label());
        }
        if let Some(ctx) = e["context"].as_str() {
            assert_eq!(r["context"].as_str(), Some(ctx), "{}", d.label());
        }
    }
}

#[test]
fn decode_resolves_console_logs() {
    let mut seen = std::collections::HashSet::new();
    for d in lab_dumps() {
        if !seen.insert((d.kernel.clone(), d.scenario.clone())) {
            continue;
        }
        let ko = d.dir.join("krash_scenarios.ko");
        let module = format!("krash_scenarios={}", ko.display());
        let v = d.vmlinux.to_string_lossy().into_owned();
        let run = krash(&["decode", &v, "--module", &module], &d.console_log());
        assert!(run.success, "{}: {}", d.label(), run.stderr);
        assert!(!run.stdout.contains("(??"), "{}: unresolved frame", d.label());
        let e = &d.manifest["expected"];
        if let Some(f) = e["rip_function_seen"].as_str().filter(|f| f.starts_with("krash_")) {
            let line = run.stdout.lines().find(|l| l.contains(&format!("RIP: 0010:{f}+"))).expect("RIP line");
            assert!(line.contains("krash_scenarios.c:"), "{}: {line}", d.label());
        }
        if d.console_log().contains("Code: ") && d.console_log().contains('<') {
            assert!(run.stdout.contains("<-- trapping instruction"), "{}", d.label());
        }
    }
}
