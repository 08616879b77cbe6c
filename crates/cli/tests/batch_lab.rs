//! `krash analyze --batch` over the lab's dumps: every dump once, each
//! `--json-lines` line valid against the schema, the buckets counting the
//! dumps of each crash (the dumps of one scenario on one kernel share a
//! bucket), their crash times those of the dumps (`sys`'s DATE),
//! and the text table and `--json` document agreeing with the lines.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{krash, lab_dumps, LabDump};
use serde_json::Value;

/// The lab's dumps laid out as a fleet: a directory per dump with the dump
/// and its vmlinux beside it (as crash-dump collections keep them).
/// Returns the directory and, for each dump path in it, the lab dump.
fn fleet(dumps: &[LabDump]) -> (tempfile::TempDir, BTreeMap<String, LabDump>) {
    let root = tempfile::tempdir().expect("temp dir");
    let mut by_path = BTreeMap::new();
    for (i, d) in dumps.iter().enumerate() {
        let dir = root.path().join(format!("{i:03}-{}-{}-{}", d.kernel, d.scenario, d.format));
        std::fs::create_dir_all(&dir).expect("dump dir");
        let vmcore = dir.join("vmcore");
        std::os::unix::fs::symlink(&d.vmcore, &vmcore).expect("link the dump");
        std::os::unix::fs::symlink(&d.vmlinux, dir.join("vmlinux")).expect("link the vmlinux");
        by_path.insert(vmcore.display().to_string(), d.clone());
    }
    (root, by_path)
}

/// What the lab says a dump's crash is: one scenario on one kernel (its
/// dump files, in every format, hold the same memory). Whether a scenario
/// gets the same signature on every kernel is analyze_lab's question
/// (signatures_agree_across_kernels); here several crashes may share a
/// bucket, and the bucket counts all their dumps.
fn crash_of(d: &LabDump) -> String {
    format!("{} on {}", d.scenario, d.kernel)
}

#[test]
fn batch_buckets_count_the_lab_dumps_of_each_crash() {
    let dumps = lab_dumps();
    if dumps.is_empty() {
        return;
    }
    let (root, by_path) = fleet(&dumps);
    let dir = root.path().to_string_lossy().into_owned();
    let run = krash(&["analyze", "--batch", "--json-lines", &dir], "");
    assert!(run.success, "{}", run.stderr);
    let schema = common::json_schema::committed();
    let lines: Vec<Value> =
        run.stdout.lines().map(|l| serde_json::from_str(l).expect("each line is one JSON document")).collect();
    for line in &lines {
        let errors = common::json_schema::problems(&schema, line);
        assert!(errors.is_empty(), "{}: {errors:#?}", line["dump"]);
        assert_eq!(line["schema"], 3);
    }
    let (summary, dump_lines) = lines.split_last().expect("at least the summary line");
    assert_eq!(summary["kind"], "summary", "the last line is the summary");
    assert!(dump_lines.iter().all(|l| l["kind"] == "dump"));
    assert_eq!(summary["total"], dumps.len());

    // Every dump exactly once; every lab dump analyses.
    let seen: BTreeSet<&str> = dump_lines.iter().filter_map(|l| l["dump"].as_str()).collect();
    assert_eq!(seen.len(), dump_lines.len(), "a dump reported twice");
    assert_eq!(seen, by_path.keys().map(String::as_str).collect(), "dumps missing or unknown");
    assert_eq!(summary["failed"], serde_json::json!([]), "lab dumps failed to analyse");

    // The oracle: the lab's scenarios. Each crash gets one signature, and a
    // signature's bucket counts the dumps of the crashes that have it.
    let mut signature_of_crash: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut line_of: BTreeMap<&str, &Value> = BTreeMap::new();
    for l in dump_lines {
        let path = l["dump"].as_str().unwrap_or_default();
        let d = &by_path[path];
        let sig = l["report"]["signature"].as_str().expect("a report with a signature").to_string();
        signature_of_crash.entry(crash_of(d)).or_default().insert(sig);
        line_of.insert(path, l);
    }
    let mut want: BTreeMap<String, usize> = BTreeMap::new();
    for (crash, sigs) in &signature_of_crash {
        assert_eq!(sigs.len(), 1, "{crash}: dumps of one crash in several buckets: {sigs:?}");
        let n = by_path.values().filter(|d| &crash_of(d) == crash).count();
        *want.entry(sigs.iter().next().cloned().unwrap_or_default()).or_default() += n;
    }
    let buckets = summary["buckets"].as_array().expect("buckets");
    let got: BTreeMap<String, usize> = buckets
        .iter()
        .map(|b| (b["signature"].as_str().unwrap_or_default().to_string(), b["count"].as_u64().unwrap_or(0) as usize))
        .collect();
    assert_eq!(got, want);
    // Most dumps first.
    let counts: Vec<u64> = buckets.iter().filter_map(|b| b["count"].as_u64()).collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");

    // Each bucket's times and kernels are those of its dumps' lines.
    for b in buckets {
        let members: Vec<&Value> =
            b["dumps"].as_array().into_iter().flatten().filter_map(|p| p.as_str()).map(|p| line_of[p]).collect();
        assert_eq!(members.len() as u64, b["count"].as_u64().unwrap_or(0), "{b}");
        let times: Vec<i64> = members.iter().filter_map(|l| l["crash_time"].as_i64()).collect();
        assert_eq!(b["first_crash"].as_i64(), times.iter().min().copied(), "{b}");
        assert_eq!(b["last_crash"].as_i64(), times.iter().max().copied(), "{b}");
        let releases: BTreeSet<&str> = members.iter().filter_map(|l| l["release"].as_str()).collect();
        let listed: BTreeSet<&str> = b["releases"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        assert_eq!(listed, releases, "{b}");
        let kernels: BTreeSet<&str> = b["dumps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str())
            .map(|p| by_path[p].kernel.as_str())
            .collect();
        assert_eq!(listed, kernels, "{}: releases are not the lab kernels", b["signature"]);
    }

    // A dump's crash time is the one `sys` shows (its DATE), not the file's.
    let (path, d) = by_path.iter().next().expect("a dump");
    let sys_json = krash(&["-s", "--json", &d.vmlinux.to_string_lossy(), &d.vmcore.to_string_lossy()], "sys\n");
    let sys_doc: Value = serde_json::from_str(sys_json.stdout.trim()).expect("sys document");
    assert!(sys_json.success, "{}", sys_json.stderr);
    assert_eq!(line_of[path.as_str()]["crash_time"], sys_doc["data"]["crash_time"], "{}", d.label());
    let mtime = std::fs::metadata(&d.vmcore)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|t| t.as_secs() as i64);
    assert!(line_of[path.as_str()]["crash_time"].as_i64().is_some(), "{}: no crash time", d.label());
    assert!(
        line_of[path.as_str()]["crash_time"].as_i64() <= mtime,
        "{}: crash time after the dump was written",
        d.label()
    );

    // --json: one document, dumps in path order, the same buckets.
    let doc = krash(&["analyze", "--batch", "--json", "-j", "1", &dir], "");
    assert!(doc.success, "{}", doc.stderr);
    let doc: Value = serde_json::from_str(doc.stdout.trim()).expect("one document");
    assert!(common::json_schema::problems(&schema, &doc).is_empty());
    assert_eq!(doc["buckets"], summary["buckets"]);
    let order: Vec<&str> = doc["dumps"].as_array().into_iter().flatten().filter_map(|e| e["dump"].as_str()).collect();
    assert_eq!(order, by_path.keys().map(String::as_str).collect::<Vec<_>>());

    // Text: the bucket table's rows are the buckets, in the same order.
    let text = krash(&["analyze", "--batch", &dir], "");
    assert!(text.success, "{}", text.stderr);
    let table: Vec<&str> = text.stdout.lines().skip_while(|l| !l.trim_start().starts_with("COUNT")).skip(1).collect();
    assert_eq!(table.len(), buckets.len(), "{}", text.stdout);
    for (row, b) in table.iter().zip(buckets) {
        let count = row.split_whitespace().next().unwrap_or_default();
        assert_eq!(count, b["count"].to_string(), "{row}");
        assert!(row.ends_with(b["signature"].as_str().unwrap_or_default()), "{row}");
    }
}
