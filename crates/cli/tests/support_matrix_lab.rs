//! The support matrix, `docs/support-matrix.md`: for every lab kernel, every
//! command of tests/data/crash-peer-commands, whether krash answers it (with
//! the vmlinux, and with the dump alone) and whether each peer does (crash
//! 8.0.2 on the host, crash 9.0.2 from the lab's sid root, drgn 0.3.0 and
//! its crash mode drgn-crash), all on the same dump file in the same run.
//!
//! The file is generated here, never written by hand: the test builds the
//! matrix from the lab and fails when the committed file differs, so the
//! matrix is always what the tests saw. `KRASH_BLESS=1` rewrites it.
//!
//! A krash cell comes from the command's `--json` envelope (`data` or
//! `error` with its kind), so it does not depend on the text layout. A crash
//! cell comes from crash's own output for that command (`crash_peer`): no
//! output, or a first line that is crash's `COMMAND: ...` complaint, is an
//! error. drgn-crash prints its complaints on its terminal, not into the
//! command's file; anything it printed there for a command is an error. Cells hold no addresses or counts, so they are the same on every
//! rebuild of the lab.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use common::{crash_peer, fill_placeholders, LabDump};
use serde_json::Value;

const MATRIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/support-matrix.md");

/// The scenario whose main dump stands for its kernel: a NULL dereference
/// exists on every kernel and leaves a normal panic task.
const SCENARIO: &str = "null-member";

/// The peer-command templates, in file order.
fn templates() -> Vec<String> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/crash-peer-commands");
    std::fs::read_to_string(file)
        .expect("crash-peer-commands is readable")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// The kdump boot's main dump of SCENARIO on every lab kernel, oldest kernel first.
fn dumps() -> Vec<LabDump> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<LabDump> = common::lab_dumps()
        .into_iter()
        .chain(common::arm64_lab_dumps())
        .filter(|d| d.scenario == SCENARIO && d.is_kdump_boot() && seen.insert(d.kernel.clone()))
        .collect();
    out.sort_by_key(|d| kernel_order(&d.kernel));
    out
}

/// Position of a kernel in the lab's list (unknown kernels last, by name).
fn kernel_order(kernel: &str) -> (usize, String) {
    let mut lab = krash_labtest::KERNELS.iter().chain(&krash_labtest::ARM64_KERNELS);
    let pos = lab.position(|k| *k == kernel).unwrap_or(usize::MAX);
    (pos, kernel.to_string())
}

/// What krash made of one dump: whether it opened it, the machine its `sys`
/// names, and its answer to each command.
struct KrashColumn {
    opened: bool,
    machine: Option<String>,
    cells: Vec<String>,
}

/// krash's answer to each command, from its `--json` envelope: "yes", or
/// "no: KIND" for an error document, or "no output" when the batch ended early.
fn krash_column(args: &[&str], commands: &[String]) -> KrashColumn {
    let script: String = commands.iter().map(|c| format!("{c}\n")).collect();
    let mut full = vec!["-s", "--json"];
    full.extend_from_slice(args);
    let run = common::krash(&full, &script);
    let docs: Vec<Value> = run.stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let opened = run.success && !docs.is_empty();
    let cells = (0..commands.len())
        .map(|i| match docs.get(i) {
            Some(doc) if doc.get("data").is_some() => "yes".to_string(),
            Some(doc) => format!("no: {}", doc["error"]["kind"].as_str().unwrap_or("error")),
            None => "no output".to_string(),
        })
        .collect();
    let machine = docs.iter().find(|d| d["command"] == "sys").and_then(|d| d["data"]["machine"].as_str());
    KrashColumn { opened, machine: machine.map(str::to_string), cells }
}

/// A crash-like peer's answer to one command (a line of
/// crash-peer-commands): its output file, and what it printed on its
/// terminal instead (drgn-crash's complaints).
fn crash_cell(output: Option<&str>, complaint: Option<&str>, command: &str) -> String {
    let verb = command.split_whitespace().next().unwrap_or_default();
    if complaint.is_some() {
        return "error".into();
    }
    match output {
        None => "no output".into(),
        Some(text) => {
            // Empty output is an answer too (no match, nothing of that kind),
            // and crash's can vary between runs on the same file (search -T).
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
            if first.starts_with(&format!("{verb}: ")) {
                "error".into()
            } else {
                "yes".into()
            }
        }
    }
}

/// Markdown for the whole matrix.
fn generate() -> String {
    let templates = templates();
    let mut md = String::new();
    md.push_str(
        "# Support matrix\n\n\
         Generated by `crates/cli/tests/support_matrix_lab.rs` from the lab's dumps (the in-guest kdump of the \
         `null-member` scenario on each kernel); do not edit by hand. `KRASH_BLESS=1 cargo test --release -p krash \
         --test support_matrix_lab` rewrites it, and the test fails when this file and the lab disagree.\n\n\
         Cells: `yes` - the command gave its answer; `no: KIND` - krash's error document of that kind \
         (docs/json.md); `error` - crash or drgn-crash printed its own complaint for the command; `varies` - drgn-crash \
         answers on some dumps and complains on others, by the bytes of the dump rather than the kernel (its `search -T` \
         follows stale stack words); `no output` - the tool wrote \
         nothing for it (it stopped early or hung); `cannot open` - the tool cannot open this kernel's dumps (the lab's crash \
         binaries are x86-64 builds, and crash reads only dumps of the machine it was built for); `-` - the command needs a value this \
         dump's scenario lacks.\n\n",
    );
    let mut summary = String::from(
        "| kernel | machine | krash with vmlinux | krash, dump alone | crash 8.0.2 | crash 9.0.2 | drgn 0.3.0 |\n|---|---|---|---|---|---|---|\n",
    );
    let mut tables = String::new();
    let dumps = dumps();
    common::on_each_dump(&dumps, |d| {
        let _ = (crash_peer(d), common::crash9_peer(d), common::drgn_crash_peer(d));
    });
    for d in dumps {
        let commands: Vec<Option<String>> = templates.iter().map(|t| fill_placeholders(t, &d)).collect();
        let runnable: Vec<String> = commands.iter().flatten().cloned().collect();
        let vmlinux = d.vmlinux.to_string_lossy().into_owned();
        let vmcore = d.vmcore.to_string_lossy().into_owned();
        let with = krash_column(&[&vmlinux, &vmcore], &runnable);
        let alone = krash_column(&["--no-search", &vmcore], &runnable);
        let peer = crash_peer(&d);
        let peer9 = common::crash9_peer(&d);
        let drgn_crash = common::drgn_crash_peer(&d);
        let drgn_opened = d.drgn().is_some();
        let machine = with.machine.as_deref().unwrap_or("unknown machine");
        let _ = writeln!(
            summary,
            "| {} | {machine} | {} | {} | {} | {} | {} |",
            d.kernel,
            opens(with.opened),
            opens(alone.opened),
            opens(peer.is_some()),
            opens(peer9.is_some()),
            opens(drgn_opened)
        );
        let _ = writeln!(tables, "\n## {} ({machine})\n", d.kernel);
        tables.push_str(
            "| command | krash | krash, dump alone | crash 8.0.2 | crash 9.0.2 | drgn-crash 0.3.0 |\n|---|---|---|---|---|---|\n",
        );
        let mut at = 0;
        for (template, command) in templates.iter().zip(&commands) {
            let row = match command {
                None => ["-", "-", "-", "-", "-"].map(String::from),
                Some(command) => {
                    let crash = |p: &Option<common::CrashPeer>| {
                        p.as_ref().map_or_else(
                            || "cannot open".into(),
                            |p| crash_cell(p.output(template), p.complaint(template), command),
                        )
                    };
                    let cells = [
                        with.cells[at].clone(),
                        alone.cells[at].clone(),
                        crash(&peer),
                        crash(&peer9),
                        varies_between_dumps(template, crash(&drgn_crash)),
                    ];
                    at += 1;
                    cells
                }
            };
            let _ = writeln!(tables, "| `{template}` | {} |", row.join(" | "));
        }
    }
    md.push_str(&summary);
    md.push_str(&tables);
    md
}

/// drgn-crash's `search -T` reads every word of every task's stack as an
/// address and stops with "could not read memory from kdump: Out-of-bounds
/// PFN" when a stale word points past the end of memory: whether it does
/// depends on the bytes of the dump, not on the kernel (the frame-pointer
/// flavor's cell flipped between two lab builds). Its cell says `varies`
/// whenever drgn-crash answered at all, so the matrix stays what the lab
/// shows on every build.
const DRGN_CRASH_VARIES_BETWEEN_DUMPS: &[&str] = &["search -T "];

fn varies_between_dumps(template: &str, cell: String) -> String {
    let varies = DRGN_CRASH_VARIES_BETWEEN_DUMPS.iter().any(|prefix| template.starts_with(prefix));
    if varies && (cell == "yes" || cell == "error") {
        "varies".into()
    } else {
        cell
    }
}

fn opens(yes: bool) -> &'static str {
    if yes {
        "opens"
    } else {
        "cannot open"
    }
}

/// Cells that differ between the committed matrix and the generated one, by (section, row).
fn differences(old: &str, new: &str) -> Vec<String> {
    let rows = |text: &str| -> BTreeMap<(String, String), String> {
        let mut section = String::new();
        let mut out = BTreeMap::new();
        for line in text.lines() {
            if let Some(s) = line.strip_prefix("## ") {
                section = s.to_string();
            } else if let Some(cells) = line.strip_prefix("| ") {
                let key = cells.split(" | ").next().unwrap_or_default().to_string();
                out.insert((section.clone(), key), line.to_string());
            }
        }
        out
    };
    let (old, new) = (rows(old), rows(new));
    let mut diffs = Vec::new();
    for (key, line) in &new {
        match old.get(key) {
            Some(o) if o == line => {}
            Some(o) => diffs.push(format!("{} / {}:\n  committed: {o}\n  generated: {line}", key.0, key.1)),
            None => diffs.push(format!("{} / {}: not in the committed file: {line}", key.0, key.1)),
        }
    }
    for (key, line) in &old {
        if !new.contains_key(key) {
            diffs.push(format!("{} / {}: no longer generated: {line}", key.0, key.1));
        }
    }
    diffs
}

#[test]
fn support_matrix_is_what_the_lab_shows() {
    let dumps = dumps();
    krash_labtest::assert_compared(dumps.len(), "support matrix kernels");
    let generated = generate();
    if std::env::var("KRASH_BLESS").as_deref() == Ok("1") {
        std::fs::write(MATRIX, &generated).expect("docs/support-matrix.md is writable");
        return;
    }
    let committed = std::fs::read_to_string(MATRIX).unwrap_or_default();
    let diffs = differences(&committed, &generated);
    assert!(
        diffs.is_empty(),
        "docs/support-matrix.md is not what the lab shows ({} rows differ; KRASH_BLESS=1 regenerates it):\n{}",
        diffs.len(),
        diffs.join("\n")
    );
    // Every lab kernel is in the matrix, so a kernel the lab gained is never missing from it.
    for kernel in krash_labtest::KERNELS.into_iter().chain([krash_labtest::FP_SLAB_KERNEL]) {
        if dumps.iter().any(|d| d.kernel == kernel) {
            assert!(committed.contains(&format!("## {kernel} (")), "{kernel} missing from docs/support-matrix.md");
        }
    }
}
