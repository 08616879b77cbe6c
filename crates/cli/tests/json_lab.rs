//! `--json` on every lab dump: every command of tests/data/crash-peer-commands
//! (and a few more, aliases and bad commands among them) runs in one batch
//! per dump; every line of output is one JSON document that serde_json
//! parses, whose envelope names the schema version, the command and the line
//! typed, which follows docs/json.schema.json (checked strictly: every field
//! documented), and in which no number is too large for a double, so
//! addresses are strings.

mod common;

use std::path::Path;

use common::{lab_dumps, LabDump};
use serde_json::Value;

/// Commands beyond crash-peer-commands, so every document shape and the
/// alias and error paths are covered. `{name}` is filled from the dump's
/// manifest, as in crash-peer-commands; lines whose value is missing are
/// left out.
const MORE_COMMANDS: &[&str] = &[
    "bt",
    "bt -f",
    "bt -FF",
    "bt -l",
    "bt -t",
    "bt -e",
    "bt -v",
    "bt -o",
    "bt --args",
    "ps",
    "ps -S",
    "ps -p 1",
    "ps -c 1",
    "ps -g 1",
    "ps -t 1",
    "ps -l",
    "ps -a 1",
    "ps -m",
    "ps -m -C all",
    "fuser /",
    "fuser /nonexistent",
    "bt -E",
    "bt -a -R schedule",
    "bt -a -f",
    "log -m",
    "dmesg",
    "dis -l {faulting_function}",
    "dis -s {faulting_function}",
    "sym {faulting_function}",
    "sym {faulting_function}+0x10",
    "sym -m krash_scenarios",
    "sym nosuchsymbolxyz",
    "kmem -v",
    "kmem -S kmalloc-64",
    "set",
    "set -p",
    "help",
    "help bt",
    "h p",
    "whatis task_struct",
    "whatis jiffies",
    "ptype struct list_head",
    "struct task_struct.pid,comm -o",
    "task_struct.pid,comm init_task",
    "union",
    "task",
    "analyze",
    "mount",
    "timer -r",
    "btop 1000",
    "ptob 1",
    "pte 8000000001e00063",
    "mod",
    "mod -t",
    "sys -i",
    "sys config",
    "rd -s jiffies 4",
    "rd -a linux_banner",
    "p runqueues",
    "print jiffies",
    "p init_mm",
    "p &init_task",
    "p init_task.sched_class",
    "px jiffies",
    "p cpu_number:a",
    "vm -f 8000875",
    "net -N 16777343",
    "nosuchcommand",
    "bt 999999",
    "p nosuchvariable",
    "kmem xyz",
    "rd",
    "p \"abc",
];

/// The command name each document must carry: the typed word, except for
/// aliases and the struct shorthand.
fn expected_command(line: &str) -> &str {
    let word = line.split_whitespace().next().unwrap_or_default();
    match word {
        "dmesg" => "log",
        "h" => "help",
        "print" => "p",
        w if w.starts_with("task_struct.") => "struct",
        w => w,
    }
}

fn commands_for(d: &LabDump) -> Vec<String> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/crash-peer-commands");
    let peer = std::fs::read_to_string(file).expect("crash-peer-commands is readable");
    peer.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .chain(MORE_COMMANDS.iter().copied())
        .filter_map(|t| common::fill_placeholders(t, d))
        .collect()
}

fn schema() -> Value {
    common::json_schema::committed()
}

/// Runs the batch on one dump and checks every document; returns the
/// problems found.
fn check_dump(d: &LabDump, schema: &Value) -> Vec<String> {
    let commands = commands_for(d);
    let script: String = commands.iter().map(|c| format!("{c}\n")).collect();
    let vmlinux = d.vmlinux.to_string_lossy().into_owned();
    let vmcore = d.vmcore.to_string_lossy().into_owned();
    let run = common::krash(&["-s", "--json", &vmlinux, &vmcore], &script);
    let label = d.label();
    let mut problems = Vec::new();
    if !run.success {
        problems.push(format!("{label}: krash failed: {}", run.stderr));
        return problems;
    }
    let lines: Vec<&str> = run.stdout.lines().collect();
    if lines.len() != commands.len() {
        problems.push(format!("{label}: {} commands but {} output lines", commands.len(), lines.len()));
        return problems;
    }
    for (command, line) in commands.iter().zip(&lines) {
        let at = format!("{label}: `{command}`");
        let doc: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("{at}: not JSON ({e}): {line:.300}"));
                continue;
            }
        };
        problems.extend(check_envelope(&doc, command).into_iter().map(|p| format!("{at}: {p}")));
        let mut errors = Vec::new();
        common::json_schema::validate(schema, schema, &doc, "$", &mut errors);
        problems.extend(errors.into_iter().take(5).map(|e| format!("{at}: schema: {e}")));
        let mut big = Vec::new();
        large_numbers(&doc, "$", &mut big);
        problems.extend(big.into_iter().take(5).map(|e| format!("{at}: number past 2^53 at {e}")));
    }
    problems
}

fn check_envelope(doc: &Value, command: &str) -> Vec<String> {
    let mut p = Vec::new();
    if doc["schema"] != 3 {
        p.push(format!("schema is {}", doc["schema"]));
    }
    if doc["command"] != expected_command(command) {
        p.push(format!("command is {}, want {}", doc["command"], expected_command(command)));
    }
    if doc["input"] != command {
        p.push(format!("input is {}", doc["input"]));
    }
    let (data, error) = (doc.get("data").is_some(), doc.get("error").is_some());
    if data == error {
        p.push("want exactly one of data and error".into());
    }
    if let Some(e) = doc.get("error") {
        let kinds = ["usage", "not_found", "missing_debuginfo", "fault", "bad_data", "unsupported", "io", "other"];
        if !e["kind"].as_str().is_some_and(|k| kinds.contains(&k)) || !e["message"].is_string() {
            p.push(format!("bad error object {e}"));
        }
    }
    p
}

/// JSON numbers a double cannot hold exactly (jq 1.6, JavaScript).
fn large_numbers(v: &Value, at: &str, out: &mut Vec<String>) {
    const LIMIT: u64 = 1 << 53;
    match v {
        Value::Number(n) => {
            let too_big = match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => u > LIMIT,
                (None, Some(i)) => i.unsigned_abs() > LIMIT,
                _ => false,
            };
            if too_big {
                out.push(format!("{at} = {n}"));
            }
        }
        Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| large_numbers(x, &format!("{at}[{i}]"), out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| large_numbers(x, &format!("{at}.{k}"), out)),
        _ => {}
    }
}

#[test]
fn every_peer_command_gives_a_valid_json_document() {
    // KRASH_JSON_LAB_ONLY=6.12 (a part of the label) runs only those dumps.
    let only = std::env::var("KRASH_JSON_LAB_ONLY").unwrap_or_default();
    let dumps: Vec<LabDump> = lab_dumps().into_iter().filter(|d| d.label().contains(&only)).collect();
    if dumps.is_empty() {
        return;
    }
    let schema = schema();
    // Two workers: each krash maps its dump and the machine is small.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let problems = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(d) = dumps.get(i) else { break };
                let found = check_dump(d, &schema);
                problems.lock().unwrap_or_else(|e| e.into_inner()).extend(found);
            });
        }
    });
    let problems = problems.into_inner().unwrap_or_else(|e| e.into_inner());
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

/// Error documents: one per failing command, on stdout, naming the command
/// (the registry name for an alias) and the error kind.
#[test]
fn bad_commands_give_error_documents() {
    let Some(d) = lab_dumps().into_iter().find(|d| d.is_kdump_boot()) else { return };
    let vmlinux = d.vmlinux.to_string_lossy().into_owned();
    let vmcore = d.vmcore.to_string_lossy().into_owned();
    let script = "nosuchcommand -x\nprint nosuchvariable\nbt 999999\nkmem xyz\np \"abc\nps\n";
    let run = common::krash(&["-s", "--json", &vmlinux, &vmcore], script);
    assert!(run.success, "{}", run.stderr);
    assert!(run.stderr.is_empty(), "errors go to stdout as documents: {}", run.stderr);
    let docs: Vec<Value> = run.stdout.lines().map(|l| serde_json::from_str(l).expect("a JSON document")).collect();
    let summary: Vec<(String, String, String)> = docs
        .iter()
        .map(|d| {
            let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
            (s(&d["command"]), s(&d["input"]), s(&d["error"]["kind"]))
        })
        .collect();
    let want = [
        ("nosuchcommand", "nosuchcommand -x", "not_found"),
        ("p", "print nosuchvariable", "not_found"),
        ("bt", "bt 999999", "not_found"),
        ("kmem", "kmem xyz", "usage"),
        ("p", "p \"abc", "usage"),
        ("ps", "ps", ""),
    ];
    let want: Vec<(String, String, String)> =
        want.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
    assert_eq!(summary, want);
    for doc in &docs[..5] {
        assert_eq!(doc["schema"], 3);
        let message = doc["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty() && !message.contains('\u{1b}'), "{doc}");
    }
    assert!(docs[5]["data"]["rows"].as_array().is_some_and(|r| !r.is_empty()));
}

/// The analyze batch is one document from serde_json, failures included.
#[test]
fn analyze_batch_json_is_one_document() {
    let Some(d) = lab_dumps().into_iter().find(|d| d.scenario == "null-member" && d.is_kdump_boot()) else { return };
    let run = common::krash(&["analyze", "--batch", "--json", &d.dir.to_string_lossy()], "");
    assert!(run.success, "{}", run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(doc["schema"], 3);
    let dumps = doc["dumps"].as_array().expect("dumps");
    assert!(!dumps.is_empty());
    for entry in dumps {
        assert!(entry["dump"].is_string(), "{entry}");
        assert!(entry["report"].is_object() != entry["error"].is_string(), "{entry}");
    }
    let mut errors = Vec::new();
    let schema = schema();
    common::json_schema::validate(&schema, &schema, &doc, "$", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}");
}

/// The committed schema rejects what the rules forbid: a number for an
/// address, an undocumented field, a wrong schema version, an unknown state.
#[test]
fn schema_rejects_rule_breaking_documents() {
    let schema = schema();
    let good = serde_json::json!({
        "schema": 3, "command": "set", "input": "set",
        "data": { "pid": 1, "command": "init", "task": "0xffff8df4411f9800", "cpu": 0, "state": "RU", "panic": true }
    });
    let errors = |doc: &Value| {
        let mut e = Vec::new();
        common::json_schema::validate(&schema, &schema, doc, "$", &mut e);
        e
    };
    assert_eq!(errors(&good), Vec::<String>::new());
    for (path, bad) in [
        ("/data/task", serde_json::json!(18446614824203812864u64)),
        ("/data/task", serde_json::json!("ffff8df4411f9800")),
        ("/data/state", serde_json::json!("TASK_RUNNING")),
        ("/schema", serde_json::json!(2)),
        ("/command", serde_json::json!("ps")),
    ] {
        let mut doc = good.clone();
        if let Some(slot) = doc.pointer_mut(path) {
            *slot = bad.clone();
        }
        assert!(!errors(&doc).is_empty(), "{path} = {bad} passed");
    }
    let mut extra = good.clone();
    extra["data"]["extra"] = serde_json::json!(1);
    assert!(!errors(&extra).is_empty(), "an undocumented field passed");
}

/// The shared validator (common::json_schema) is as strict as it says.
#[test]
fn validator_is_strict() {
    let schema = serde_json::json!({
        "$defs": { "Hex": { "type": "string", "pattern": "^0x[0-9a-f]{1,16}$" } },
        "type": "object",
        "required": ["a"],
        "properties": {
            "a": { "$ref": "#/$defs/Hex" },
            "b": { "anyOf": [{ "type": "null" }, { "type": "integer", "format": "uint8" }] },
            "c": { "oneOf": [{ "const": 1 }, { "enum": [1, 2] }] }
        }
    });
    let errors = |v: Value| {
        let mut e = Vec::new();
        common::json_schema::validate(&schema, &schema, &v, "$", &mut e);
        e.len()
    };
    assert_eq!(errors(serde_json::json!({"a": "0xff", "b": null, "c": 2})), 0);
    assert_eq!(errors(serde_json::json!({"a": "0x0", "b": 255})), 0);
    assert_eq!(errors(serde_json::json!({"a": "0x0ff"})), 1, "leading zero");
    assert_eq!(errors(serde_json::json!({"a": 255})), 1, "a number is not a Hex");
    assert_eq!(errors(serde_json::json!({"a": "0x1", "b": 256})), 1, "uint8");
    assert_eq!(errors(serde_json::json!({"a": "0x1", "c": 1})), 1, "oneOf: two branches");
    assert_eq!(errors(serde_json::json!({"a": "0x1", "d": 1})), 1, "undocumented field");
    assert_eq!(errors(serde_json::json!({})), 1, "required");
    // A map: every value follows additionalProperties.
    let map = serde_json::json!({
        "$defs": { "Hex": { "type": "string", "pattern": "^0x[0-9a-f]{1,16}$" } },
        "type": "object",
        "additionalProperties": { "$ref": "#/$defs/Hex" }
    });
    let map_errors = |v: Value| {
        let mut e = Vec::new();
        common::json_schema::validate(&map, &map, &v, "$", &mut e);
        e.len()
    };
    assert_eq!(map_errors(serde_json::json!({"rip": "0x1", "cs": "0x10"})), 0);
    assert_eq!(map_errors(serde_json::json!({"rip": 1, "cs": "0x010"})), 2, "a number and a leading zero");
}
