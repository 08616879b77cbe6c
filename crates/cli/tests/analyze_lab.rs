//! `krash analyze` and `krash decode` against every lab dump's manifest,
//! and `analyze --json` against docs/json.schema.json.

mod common;

use common::{krash, lab_dumps, one_per_scenario, LabDump};
use serde_json::Value;

fn analyze_json(d: &LabDump) -> Value {
    let (v, c) = (d.vmlinux.to_string_lossy().into_owned(), d.vmcore.to_string_lossy().into_owned());
    let run = krash(&["analyze", &v, &c, "--json"], "");
    assert!(run.success, "{}: {}", d.label(), run.stderr);
    serde_json::from_str(&run.stdout).expect("analyze --json parses")
}

fn analyze_text(d: &LabDump) -> String {
    let (v, c) = (d.vmlinux.to_string_lossy().into_owned(), d.vmcore.to_string_lossy().into_owned());
    let run = krash(&["analyze", &v, &c], "");
    assert!(run.success, "{}: {}", d.label(), run.stderr);
    run.stdout
}

#[test]
fn analyze_matches_manifest() {
    for d in one_per_scenario() {
        let doc = analyze_json(&d);
        let r = &doc["data"];
        let text = analyze_text(&d);
        let label = d.label();
        for field in ["kind", "faulting_function", "context", "signature", "findings", "evidence", "top_frames"] {
            assert!(r.get(field).is_some(), "{label}: no field {field}");
        }
        let e = &d.manifest["expected"];
        assert_eq!(r["kind"], e["panic_kind"], "{label}");
        if let Some(f) = e["faulting_function"].as_str() {
            assert_eq!(r["faulting_function"].as_str(), Some(f), "{label}");
        }
        if let Some(m) = e.get("null_member").filter(|m| m.is_object()) {
            assert_eq!(r["bad_member"]["struct_name"], m["struct"], "{label}");
            assert_eq!(r["bad_member"]["member"], m["member"], "{label}");
            assert_eq!(r["bad_member"]["displacement"], m["offset"], "{label}");
            // Beside a NULL, text in scratch registers (printk's leftovers)
            // is not evidence of corruption, and is not reported as such.
            assert_eq!(r["corrupt_values"].as_array().map(Vec::len), Some(0), "{label}: {}", r["corrupt_values"]);
        }
        if let Some(ctx) = e["context"].as_str() {
            assert_eq!(r["context"].as_str(), Some(ctx), "{label}");
        }
        check_clone(&label, e, r, &text);
        check_known_issue(&label, &d.scenario, r, &text);
        check_null_source(&label, e, r, &text);
        check_fnptr(&label, e, r);
        check_loop_list(&label, e, r, &text);
        check_hung(&label, e, r, &text);
        check_slab(&label, e, r);
        check_divisor(&label, e, r, &text);
        check_list_poison(&label, e, r);
        check_double_free(&label, e, r, &text);
        check_deadlock(&label, e, r, &text);
        check_freed_object(&label, e, r, &text);
        check_stack_smash(&label, e, r, &text);
        check_spin_wait(&label, e, r, &text);
        check_warning(&label, e, r, &d.console_log());
        assert!(text.contains("SIGNATURE: "), "{label}: {text}");
        check_claims(&label, r);
    }
}

/// Every finding is a claim with its evidence: the commands that show it
/// (each in the EVIDENCE list, which runs them) and, for the fault's own
/// sentences, the addresses they rest on.
fn check_claims(label: &str, r: &Value) {
    let claims = r["claims"].as_array().cloned().unwrap_or_default();
    let sentences: Vec<&Value> = claims.iter().map(|c| &c["sentence"]).collect();
    let findings: Vec<&Value> = r["findings"].as_array().map(|f| f.iter().collect()).unwrap_or_default();
    assert_eq!(sentences, findings, "{label}: claims and findings differ");
    let evidence: Vec<&str> =
        r["evidence"].as_array().map(|e| e.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    for c in &claims {
        let shown_by: Vec<&str> =
            c["shown_by"].as_array().map(|s| s.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        assert!(!shown_by.is_empty(), "{label}: {} is shown by no command", c["sentence"]);
        for command in shown_by {
            assert!(
                evidence.contains(&command),
                "{label}: {command} shows a claim but is not in EVIDENCE {evidence:?}"
            );
        }
    }
    // The sentence naming the NULL member rests on the faulting instruction.
    if let (Some(m), Some(rip)) = (r["bad_member"]["member"].as_str(), r["rip"].as_str()) {
        let claim =
            claims.iter().find(|c| c["sentence"].as_str().is_some_and(|s| s.contains(&format!("{m} is at offset"))));
        if let Some(claim) = claim {
            let addresses = claim["addresses"].as_array().cloned().unwrap_or_default();
            assert!(addresses.iter().any(|a| a.as_str() == Some(rip)), "{label}: {claim} does not rest on {rip}");
        }
    }
}

/// A NULL read in a compiler clone (IPA-SRA passes the member its caller
/// loaded, not the argument the source names): the walk goes on in the
/// caller, and the report names the member the caller loaded and the
/// struct the clone read from.
fn check_clone(label: &str, e: &Value, r: &Value, text: &str) {
    let Some(origin) = e["clone_of"].as_str() else { return };
    let p = &r["provenance"];
    let steps = p["steps"].as_array().cloned().unwrap_or_default();
    let first = steps.first().unwrap_or_else(|| panic!("{label}: no provenance: {p}"));
    assert_eq!(first["origin"]["kind"], "argument", "{label}: {p}");
    assert!(first["origin"]["name"].is_null(), "{label}: a clone's argument named by position: {p}");
    assert!(first["sentence"].as_str().is_some_and(|s| s.contains(&format!("clone of {origin}()"))), "{label}");
    assert!(steps.iter().any(|s| s["function"] == e["caller"]), "{label}: the walk stays in the clone: {p}");
    assert_eq!(p["expression"], e["null_expression"], "{label}: {p}");
    assert_eq!(r["bad_member"]["variable"], e["null_expression"], "{label}");
    let caller_struct = e["null_expression_struct"].as_str().unwrap_or_default();
    assert!(
        steps.iter().any(|s| s["origin"]["struct_name"] == caller_struct),
        "{label}: the caller's load is not read as struct {caller_struct}: {p}"
    );
    assert!(text.contains(&format!("dis -l {}", e["caller"].as_str().unwrap_or_default())), "{label}: {text}");
}

/// The built-in known issues are the lab's own deliberate crashes: the
/// two scenarios they describe are named, no other dump is.
fn check_known_issue(label: &str, scenario: &str, r: &Value, text: &str) {
    let known = r["known_issues"].as_array().cloned().unwrap_or_default();
    if matches!(scenario, "null-isra" | "null-const-ops") {
        let note = known.first().and_then(|k| k["note"].as_str()).unwrap_or_default();
        assert!(note.starts_with("krash lab: "), "{label}: {known:?}");
        assert!(text.contains(&format!("KNOWN: {note}")), "{label}: {text}");
    } else {
        assert!(known.is_empty(), "{label}: a known issue where there is none: {known:?}");
    }
}

/// A fleet's own known-issues file is read beside the built-in one, and a
/// file that does not parse is named on stderr and left out.
#[test]
fn known_issues_from_the_users_file() {
    let Some(d) = one_per_scenario().into_iter().find(|d| d.scenario == "hung-task") else {
        return krash_labtest::skip_or_fail("no hung-task dump");
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let good = dir.path().join("known-issues");
    std::fs::write(&good, "# ours\nhung_task:krash_hung_* | our fleet's note | fix-1234\n").expect("write");
    let bad = dir.path().join("bad");
    std::fs::write(&bad, "hung_task without a note\n").expect("write");
    let run = |file: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_krash"))
            .args(["analyze", &d.vmlinux.to_string_lossy(), &d.vmcore.to_string_lossy()])
            .env("KRASH_KNOWN_ISSUES", file)
            .output()
            .expect("krash runs")
    };
    let out = run(&good);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("KNOWN: our fleet's note (fix: fix-1234)"), "{}: {text}", d.label());
    let out = run(&bad);
    let (text, err) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && !text.contains("KNOWN:"), "{}: {text}", d.label());
    assert!(err.contains("known issues") && err.contains("line 1"), "{}: {err}", d.label());
}

/// IS_ERR/NULL confusion is reported where the manifest says so, and a
/// NULL return value nobody tested (null-member) is not called that.
fn check_null_source(label: &str, e: &Value, r: &Value, text: &str) {
    match e.get("null_source").filter(|s| s.is_object()) {
        Some(expected) => {
            assert_eq!(&r["null_source"], expected, "{label}");
            let f = expected["function"].as_str().unwrap_or_default();
            assert!(
                text.contains(&format!(
                    "{f}() returned NULL; its caller checks only IS_ERR(), so NULL passes as a valid pointer"
                )),
                "{label}: {text}"
            );
            assert_eq!(r["provenance"]["steps"][0]["origin"]["kind"], "return_value", "{label}");
        }
        None => {
            assert_ne!(
                r["null_source"]["caller_checks"], "IS_ERR",
                "{label}: IS_ERR confusion reported where there is none"
            );
            assert!(!text.contains("checks only IS_ERR()"), "{label}: {text}");
            if let Some(helper) = e["helper_returning_null"].as_str() {
                assert_eq!(r["null_source"]["function"], helper, "{label}");
                assert_eq!(r["null_source"]["caller_checks"], "nothing", "{label}");
            }
        }
    }
}

/// A call through a NULL function pointer names the ops table member:
/// through the provenance walk to the function's argument, or, where gcc
/// folded a const table into a call to address 0, through DWARF's constant
/// location of the table; either way the table is read from the dump.
fn check_fnptr(label: &str, e: &Value, r: &Value) {
    let Some(ops) = e["ops_struct"].as_str() else { return };
    assert_eq!(r["bad_member"]["struct_name"], ops, "{label}");
    assert_eq!(r["bad_member"]["member"], e["ops_member"], "{label}");
    assert_eq!(r["bad_member"]["displacement"], e["ops_offset"], "{label}");
    let table = &r["ops_table"];
    assert_eq!(table["struct_name"], ops, "{label}: {table}");
    assert_eq!(table["member"], e["ops_member"], "{label}: {table}");
    let slots = table["slots"].as_array().cloned().unwrap_or_default();
    let slot = slots.iter().find(|s| s["member"] == e["ops_member"]).unwrap_or_else(|| panic!("{label}: {table}"));
    assert!(slot["function"].is_null(), "{label}: the slot is NULL in the dump: {slot}");
    if let Some(symbol) = e["ops_table"].as_str() {
        // Folded: no load is left, only `xor %eax,%eax` before the call.
        assert_eq!(table["source"], "folded", "{label}: {table}");
        assert_eq!(table["symbol"], symbol, "{label}: {table}");
        let set: Vec<&str> =
            slots.iter().filter(|s| !s["function"].is_null()).filter_map(|s| s["member"].as_str()).collect();
        let expected: Vec<&str> =
            e["ops_members_set"].as_array().into_iter().flatten().filter_map(|m| m.as_str()).collect();
        assert_eq!(set, expected, "{label}: {table}");
        assert_eq!(r["provenance"]["steps"][0]["origin"]["kind"], "constant", "{label}");
        assert_eq!(r["bad_member"]["variable"], format!("{symbol}.{}", e["ops_member"].as_str().unwrap_or("")));
        let findings = r["findings"].to_string();
        assert!(findings.contains(&format!("is the constant &{symbol}")), "{label}: {findings}");
        assert!(r["evidence"].to_string().contains(&format!("struct {ops} 0x")), "{label}");
        return;
    }
    assert_eq!(table["source"], "loaded", "{label}: {table}");
    let steps = r["provenance"]["steps"].as_array().cloned().unwrap_or_default();
    assert_eq!(steps.first().map(|s| s["origin"]["kind"].clone()), Some(Value::from("load")), "{label}");
    assert_eq!(steps.last().map(|s| s["origin"]["kind"].clone()), Some(Value::from("argument")), "{label}");
    let member = e["ops_member"].as_str().unwrap_or_default();
    assert!(
        r["provenance"]["expression"].as_str().is_some_and(|x| x.ends_with(&format!("->{member}"))),
        "{label}: {}",
        r["provenance"]
    );
    // The chain read forward from the argument confirms the slot is NULL.
    let findings = r["findings"].to_string();
    assert!(findings.contains(&format!("->{member} = NULL")), "{label}: {findings}");
    let evidence = r["evidence"].to_string();
    assert!(evidence.contains(&format!("struct {ops} 0x")), "{label}: {evidence}");
}

fn check_loop_list(label: &str, e: &Value, r: &Value, text: &str) {
    let Some(head) = e["list_head"].as_str() else { return };
    let length = e["list_length"].as_u64().unwrap_or_default();
    assert_eq!(r["loop_list"]["head_symbol"], head, "{label}");
    assert_eq!(r["loop_list"]["length"].as_u64(), Some(length), "{label}");
    assert!(r["loop_list"]["broken"].is_null(), "{label}");
    let function = e["faulting_function"].as_str().unwrap_or_default();
    assert!(text.contains(&format!("{function} walks {head} ({length} entries)")), "{label}: {text}");
}

fn check_hung(label: &str, e: &Value, r: &Value, text: &str) {
    let Some(owner_comm) = e["lock_owner_comm"].as_str() else { return };
    let lock_name = e["lock"].as_str().unwrap_or_default();
    let locks = r["locks"].as_array().cloned().unwrap_or_default();
    let lock = locks
        .iter()
        .find(|l| l["symbol"] == lock_name)
        .unwrap_or_else(|| panic!("{label}: no lock {lock_name}: {locks:?}"));
    assert_eq!(lock["kind"], "mutex", "{label}");
    assert_eq!(lock["owner"]["comm"], owner_comm, "{label}");
    assert!(lock["owner"]["frames"].as_array().is_some_and(|f| !f.is_empty()), "{label}: owner without a stack");
    assert_eq!(lock["waiters"], e["waiters"], "{label}");
    assert_eq!(r["blocked_tasks"].as_array().map(|b| b.len() as u64), e["d_state_tasks"].as_u64(), "{label}");
    let prefix = e["waiter_comm_prefix"].as_str().unwrap_or("\u{0}");
    for b in r["blocked_tasks"].as_array().cloned().unwrap_or_default() {
        if b["comm"].as_str().is_some_and(|c| c.starts_with(prefix)) {
            assert_eq!(b["waits_on_symbol"], lock_name, "{label}: {b}");
        }
    }
    assert!(
        text.contains(&format!("wait for mutex {lock_name}")) && text.contains(&format!("held by {owner_comm}")),
        "{label}: {text}"
    );
}

/// A divide error: the divisor is the struct member the module divided
/// by, 0, read from the object the module passed.
fn check_divisor(label: &str, e: &Value, r: &Value, text: &str) {
    let Some(expected) = e.get("divisor").filter(|d| d.is_object()) else { return };
    let d = &r["divisor"];
    assert_eq!(d["struct_name"], expected["struct"], "{label}: {d}");
    assert_eq!(d["member"], expected["member"], "{label}: {d}");
    assert_eq!(d["value"], "0x0", "{label}: {d}");
    assert_eq!(d["object"], e["divisor_object"], "{label}: {d}");
    let member = expected["member"].as_str().unwrap_or("?");
    assert!(text.contains(&format!("->{member} (in %")) && text.contains("is 0"), "{label}: {text}");
}

/// Use after list_del(): the entry pointer is the poison minus the list
/// member's offset, and the fault address is the module's.
fn check_list_poison(label: &str, e: &Value, r: &Value) {
    let Some(list) = e.get("poisoned_list").filter(|l| l.is_object()) else { return };
    let p = &r["list_poison"];
    assert_eq!(p["poison"], e["poison"]["kind"], "{label}: {p}");
    assert_eq!(p["poison_value"].as_str(), Some(format!("{:#x}", e["poison"]["value"].as_u64().unwrap_or(0)).as_str()));
    assert_eq!(p["entry_struct"], list["entry_struct"], "{label}: {p}");
    assert_eq!(p["link_member"], list["entry_member"], "{label}: {p}");
    // The address read is the module's (the kernel's own message may name
    // the base instead: 5.10's #GP decoder prints 0xdead0000000000f0).
    let bad = &r["bad_member"];
    let base = bad["value"].as_str().and_then(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).ok());
    let read = base.and_then(|b| b.checked_add_signed(bad["displacement"].as_i64().unwrap_or(0)));
    assert_eq!(read, e["fault_address"].as_u64(), "{label}: {bad}");
    assert_eq!(bad["member"], list["read_member"], "{label}");
}

/// A double free: the object the module freed twice, its cache, and the
/// function that freed it the second time (the report's faulting function).
fn check_double_free(label: &str, e: &Value, r: &Value, text: &str) {
    let Some(expected) = e.get("double_free").filter(|d| d.is_object()) else { return };
    let d = &r["double_free"];
    assert_eq!(d["cache"], expected["cache"], "{label}: {d}");
    let object = format!("{:#x}", expected["object"].as_u64().unwrap_or(0));
    assert_eq!(d["object"].as_str(), Some(object.as_str()), "{label}: {d}");
    assert_eq!(d["freed_by"], expected["second_free"], "{label}: {d}");
    assert!(d["registers"].as_array().is_some_and(|r| !r.is_empty()), "{label}: {d}");
    assert!(text.contains(&format!("double free: object {object}")), "{label}: {text}");
    // SLUB's check is a BUG_ON(object == fp): its compare tested the object twice.
    let tested: Vec<u64> = tested_values(r);
    let want = expected["object"].as_u64().unwrap_or(0);
    assert_eq!(tested, vec![want, want], "{label}: the BUG_ON's compare {}", r["warning"]);
    assert!(text.contains("the BUG_ON in "), "{label}: {text}");
}

/// A deadlock: the wait-for cycle is the module's, task by task (who
/// holds what, who waits for what).
fn check_deadlock(label: &str, e: &Value, r: &Value, text: &str) {
    let Some(cycle) = e["cycle"].as_array() else { return };
    let link = |comm: &Value, function: &Value, holds: &Value, waits: &Value| {
        format!("{} in {} holds {} waits for {}", comm, function, holds, waits)
    };
    let mut expected: Vec<String> =
        cycle.iter().map(|c| link(&c["comm"], &c["function"], &c["holds"], &c["waits_for"])).collect();
    let mut found: Vec<String> = r["deadlock"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| link(&l["comm"], &l["function"], &l["holds_symbol"], &l["waits_for_symbol"]))
        .collect();
    expected.sort();
    found.sort();
    assert_eq!(found, expected, "{label}");
    assert!(text.contains("an AB-BA deadlock") && text.contains("DEADLOCK"), "{label}: {text}");
}

/// A use after free under slab poisoning: the object the module freed,
/// its cache, and the member the stale pointer read the poison from.
fn check_freed_object(label: &str, e: &Value, r: &Value, text: &str) {
    let Some(expected) = e.get("freed_object").filter(|f| f.is_object()) else { return };
    let f = &r["freed_object"];
    assert_eq!(f["cache"], expected["cache"], "{label}: {f}");
    let object = format!("{:#x}", expected["object"].as_u64().unwrap_or(0));
    assert_eq!(f["object"].as_str(), Some(object.as_str()), "{label}: {f}");
    assert_eq!(f["struct_name"], expected["struct"], "{label}: {f}");
    assert_eq!(f["member"], expected["member"], "{label}: {f}");
    assert_eq!(f["offset"], expected["offset"], "{label}: {f}");
    assert_eq!(f["poisoned"], true, "{label}: {f}");
    assert!(text.contains("use after free") && text.contains(&object), "{label}: {text}");
}

/// A stack-protector panic: the function, the local buffer the module
/// overran (its DWARF name and size), and the text written over it.
fn check_stack_smash(label: &str, e: &Value, r: &Value, text: &str) {
    let Some(expected) = e.get("stack_smash").filter(|s| s.is_object()) else { return };
    let s = &r["stack_smash"];
    assert_eq!(s["function"], expected["function"], "{label}: {s}");
    assert_eq!(s["buffer"], expected["buffer"], "{label}: {s}");
    assert_eq!(s["buffer_size"], expected["size"], "{label}: {s}");
    assert_eq!(s["text"], expected["input"], "{label}: {s}");
    assert_ne!(s["canary_found"], s["canary_expected"], "{label}: {s}");
    assert!(s["canary_expected"].is_string(), "{label}: the task's canary is read: {s}");
    assert!(text.contains("was written past its end"), "{label}: {text}");
}

/// A lockup on a spinlock: the lock, the function spinning for it, and
/// the task on the other CPU inside the code that took it.
fn check_spin_wait(label: &str, e: &Value, r: &Value, text: &str) {
    let Some(expected) = e.get("spinlock").filter(|s| s.is_object()) else { return };
    let w = &r["spin_wait"];
    assert_eq!(w["symbol"], expected["lock"], "{label}: {w}");
    assert_eq!(w["waiter_function"], expected["spinner_function"], "{label}: {w}");
    assert_eq!(w["holder"]["comm"], expected["holder_comm"], "{label}: {w}");
    assert_eq!(w["holder"]["function"], expected["holder_function"], "{label}: {w}");
    assert_eq!(w["holder"]["cpu"], expected["holder_cpu"], "{label}: {w}");
    assert!(
        text.contains(&format!("waiting for spinlock {}", expected["lock"].as_str().unwrap_or("?"))),
        "{label}: {text}"
    );
}

/// A WARN with panic_on_warn: the source line is the one the kernel's own
/// WARNING line names, and the values the compare tested are the module's.
fn check_warning(label: &str, e: &Value, r: &Value, console: &str) {
    let Some(expected) = e.get("warning").filter(|w| w.is_object()) else { return };
    let file = expected["file"].as_str().unwrap_or("?");
    // "WARNING: CPU: 0 PID: 1 at /path/krash_scenarios.c:1041 krash_ring_push+0x1c/0x40 [krash_scenarios]"
    let line = console
        .lines()
        .find_map(|l| l.split_once(&format!("{file}:"))?.1.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("{label}: no WARNING line for {file} in the console"));
    assert_eq!(r["source"]["line"].as_u64(), Some(line), "{label}: {}", r["source"]);
    let tested: Vec<u64> = tested_values(r);
    for v in expected["tested_values"].as_array().into_iter().flatten() {
        let v = v.as_u64().unwrap_or(u64::MAX);
        assert!(tested.contains(&v), "{label}: {v} not among the tested values {}", r["warning"]);
    }
}

fn check_slab(label: &str, e: &Value, r: &Value) {
    let Some(cache) = e["cache"].as_str() else { return };
    let slab = &r["slab"];
    assert_eq!(slab["cache"], cache, "{label}: {slab}");
    assert_eq!(slab["corrupt_value_kind"], e["corrupt_value_kind"], "{label}: {slab}");
    // The object holds as much of the text as fits in it.
    let expected = e["corrupt_text"].as_str().unwrap_or_default();
    let found = slab["corrupt_text"].as_str().unwrap_or_default();
    assert!(found.len() >= 16 && expected.starts_with(found), "{label}: {found:?} vs {expected:?}");
    // The bad pointer as data: the cache, why it cannot be followed, and the
    // same classification of its bytes as the summary's.
    let problem = &slab["problem"];
    assert_eq!(problem["cache"], cache, "{label}: {problem}");
    assert!(problem["reason"].is_string() && problem["stored_at"].is_string(), "{label}: {problem}");
    let looks = problem["looks_like"]["kind"].as_str().unwrap_or_default();
    let kind = e["corrupt_value_kind"].as_str().unwrap_or("?");
    assert!(looks.starts_with(kind), "{label}: {looks} is not {kind}");
}

/// The same crash gets the same signature on both kernels (no addresses,
/// compiler clones and `_noprof` allocator names folded, idle loops skipped).
#[test]
fn signatures_agree_across_kernels() {
    // The lab's own dispatch (proc write -> krash_run_scenario ->
    // scenario_X) is inlined or tail-called differently by each gcc: it is
    // the harness, not the crash, and a user's rules file (the extension
    // the signature rules allow) says so, as a fleet would for its test rig.
    let rules = tempfile::NamedTempFile::new().expect("a temporary rules file");
    std::fs::write(rules.path(), "[irrelevant]\nscenario_*\nkrash_run_scenario*\nkrash_proc_write*\n")
        .expect("rules written");
    let rules_path = rules.path().to_string_lossy().into_owned();
    let mut by_scenario: std::collections::BTreeMap<String, Vec<(String, String)>> = Default::default();
    for d in one_per_scenario() {
        let (v, c) = (d.vmlinux.to_string_lossy().into_owned(), d.vmcore.to_string_lossy().into_owned());
        let run = common::krash_with_env(
            &["analyze", &v, &c, "--json"],
            "",
            &[("KRASH_SIGNATURE_RULES", rules_path.as_str())],
        );
        assert!(run.success, "{}: {}", d.label(), run.stderr);
        let doc: Value = serde_json::from_str(&run.stdout).expect("analyze --json parses");
        let sig = doc["data"]["signature"].as_str().unwrap_or_default().to_string();
        assert!(!sig.contains("0x") && !sig.contains("ffff"), "{}: {sig}", d.label());
        // A scenario whose fault lands in another function on some kernel
        // (7.x's slab-corrupt faults refilling a sheaf, not in
        // kmem_cache_alloc) is another crash: grouped by where it faults.
        let faulting = d.manifest["expected"]["faulting_function"].as_str().unwrap_or_default().to_string();
        by_scenario.entry(format!("{} in {faulting}", d.scenario)).or_default().push((d.kernel.clone(), sig));
    }
    for (scenario, sigs) in by_scenario {
        let Some((k1, s1)) = sigs.first() else { continue };
        for (k2, s2) in &sigs[1..] {
            assert_eq!(s1, s2, "{scenario}: {k1} vs {k2}");
        }
    }
}

#[test]
fn analyze_json_matches_schema() {
    // The same schema, and the same strict check, as every other document.
    let schema = common::json_schema::committed();
    for d in lab_dumps() {
        let doc = analyze_json(&d);
        assert_eq!(doc["command"], "analyze", "{}", d.label());
        let errors = common::json_schema::problems(&schema, &doc);
        assert!(errors.is_empty(), "{}: {errors:#?}", d.label());
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
        let run = krash(&["decode", &v, "--module", &module], &oops_text(&d));
        assert!(run.success, "{}: {}", d.label(), run.stderr);
        assert!(!run.stdout.contains("(??"), "{}: unresolved frame", d.label());
        let e = &d.manifest["expected"];
        if let Some(f) = e["rip_function_seen"].as_str().filter(|f| f.starts_with("krash_")) {
            // The RIP's line, or (code inlined there: touch_nmi_watchdog in
            // rcu-stall) the "(inlined by)" lines under it, is in the module's source.
            let mut lines = run.stdout.lines().skip_while(|l| !l.contains(&format!("RIP: 0010:{f}+")));
            let line = lines.next().expect("RIP line");
            let inlined: Vec<&str> =
                lines.take_while(|l| l.starts_with("  ") && !l.trim_start().starts_with('[')).collect();
            assert!(
                line.contains("krash_scenarios.c:") || inlined.iter().any(|l| l.contains("krash_scenarios.c:")),
                "{}: {line} {inlined:?}",
                d.label()
            );
        }
        if oops_text(&d).contains("Code: ") && oops_text(&d).contains('<') {
            assert!(run.stdout.contains("<-- trapping instruction"), "{}", d.label());
        }
        decode_json_agrees(&d, &[&v, "--module", &module], &run.stdout);
    }
    // A failure is an error document too.
    let run = krash(&["decode", "/nonexistent/vmlinux", "--json"], "");
    assert!(!run.success);
    let doc: Value = serde_json::from_str(&run.stdout).expect("error document");
    assert_eq!((doc["command"].as_str(), doc["error"]["kind"].as_str()), (Some("decode"), Some("other")));
    assert!(common::json_schema::problems(&common::json_schema::committed(), &doc).is_empty());
}

/// `decode --json` follows the schema and holds what the text shows: one
/// entry per input line, the same frames resolved, the same trapping
/// instruction.
/// The oops text a user would paste into `krash decode`: the console's, or
/// the kernel's own log where the console lost it (x86-64's double fault
/// prints from NMI context, which the crash's kexec overtakes).
fn oops_text(d: &LabDump) -> String {
    let console = d.console_log();
    let traced = |t: &str| t.contains("Call Trace:") || t.contains("Call trace:");
    if traced(&console) {
        return console;
    }
    let log = kernel_log(d);
    if traced(&log) {
        log
    } else {
        console
    }
}

fn decode_json_agrees(d: &LabDump, args: &[&str], text: &str) {
    let mut words = vec!["decode", "--json"];
    words.extend_from_slice(args);
    let run = krash(&words, &oops_text(d));
    assert!(run.success, "{}: {}", d.label(), run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).expect("decode --json is one document");
    let errors = common::json_schema::problems(&common::json_schema::committed(), &doc);
    assert!(errors.is_empty(), "{}: {errors:#?}", d.label());
    let lines = doc["data"]["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), oops_text(d).lines().count(), "{}", d.label());
    let frames: Vec<&Value> = lines.iter().filter(|l| l["kind"] == "frame").collect();
    assert!(!frames.is_empty(), "{}: no frame lines", d.label());
    for f in &frames {
        let raw = f["raw"].as_str().unwrap_or_default();
        let innermost = f["inline_chain"][0]["location"]["line"].as_u64();
        let shown = text.lines().find(|l| l.starts_with(raw)).expect("the frame's text line");
        match innermost {
            Some(line) => assert!(shown.ends_with(&format!(":{line}")), "{}: {shown} vs line {line}", d.label()),
            None => assert!(f["unresolved"].is_string() || f["inline_chain"][0]["location"].is_null(), "{raw}"),
        }
    }
    let trapping = lines
        .iter()
        .filter_map(|l| l["disassembly"]["instructions"].as_array())
        .flatten()
        .filter(|i| i["trapping"] == true)
        .count();
    assert_eq!(trapping, text.matches("<-- trapping instruction").count(), "{}", d.label());
}

/// `analyze --batch` takes files and directories, uses the vmlinux that
/// sits beside each dump (another kernel's vmlinux there is refused, so
/// the dump's entry is an error naming it), and fails, non-zero, on a path
/// that does not exist.
#[test]
fn batch_uses_the_vmlinux_beside_each_dump() {
    let dumps: Vec<LabDump> =
        lab_dumps().into_iter().filter(|d| d.scenario == "null-member" && d.format == "kdump-zlib").collect();
    let (Some(d), Some(other)) = (dumps.first(), dumps.iter().find(|o| o.kernel != dumps[0].kernel)) else {
        return;
    };
    let entry = |vmlinux: &std::path::Path| {
        let dir = tempfile::tempdir().expect("temp dir");
        std::os::unix::fs::symlink(&d.vmcore, dir.path().join("vmcore")).expect("link the dump");
        std::os::unix::fs::symlink(vmlinux, dir.path().join("vmlinux-test")).expect("link the vmlinux");
        let run = krash(&["analyze", "--batch", "--json", &dir.path().to_string_lossy()], "");
        assert!(run.success, "{}: {}", d.label(), run.stderr);
        let doc: Value = serde_json::from_str(&run.stdout).expect("one document");
        assert_eq!(doc["dumps"].as_array().map(Vec::len), Some(1), "{doc}");
        doc["dumps"][0].clone()
    };
    let right = entry(&d.vmlinux);
    assert!(right["report"]["signature"].is_string(), "{}: {right}", d.label());
    let wrong = entry(&other.vmlinux);
    assert!(wrong["report"].is_null(), "{}: analyzed with {}'s vmlinux: {wrong}", d.label(), other.kernel);
    assert!(wrong["error"].as_str().is_some_and(|e| !e.is_empty()), "{wrong}");
    let missing = krash(&["analyze", "--batch", "/nonexistent/krash-dumps"], "");
    assert!(!missing.success && missing.stderr.contains("No such file"), "{}", missing.stderr);
}

/// The kernel's own scripts/get_maintainer.pl on `file` in the source tree
/// `src`: the subsystems it names, in its order.
fn get_maintainer_subsystems(src: &std::path::Path, file: &str) -> Vec<String> {
    let out = std::process::Command::new("perl")
        .args(["scripts/get_maintainer.pl", "--no-git", "--no-git-fallback", "--no-email", "--no-l"])
        .args(["--no-status", "--subsystem", "--no-rolestats", "-f", file])
        .current_dir(src)
        .output()
        .expect("perl runs scripts/get_maintainer.pl");
    assert!(out.status.success(), "get_maintainer.pl -f {file}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).filter(|l| !l.is_empty()).collect()
}

/// Who to call. The lab keeps one kernel tree, linux-source-6.1 (the
/// flavor is built from it; 6.1.192, the cloud 6.1 kernel's version too):
/// on the 6.1 dumps, the sections krash names for the guilty function's
/// file are the ones the tree's scripts/get_maintainer.pl names, in its
/// order (it may add sections matched by keywords in the file's text,
/// which krash does not read). On every kernel, a crash in the lab's
/// module names the module, out of tree, with its taint.
#[test]
fn owner_is_who_get_maintainer_names() {
    let src = common::lab_dir().join("kernels").join(krash_labtest::FP_SLAB_KERNEL).join("src");
    let maintainers = src.join("MAINTAINERS");
    if !maintainers.is_file() {
        krash_labtest::skip_or_fail(format!("{} is missing (the flavor's source tree)", maintainers.display()));
        return;
    }
    let m = maintainers.to_string_lossy().into_owned();
    let (mut subsystems, mut modules) = (0, 0);
    for d in one_per_scenario() {
        let (v, c) = (d.vmlinux.to_string_lossy().into_owned(), d.vmcore.to_string_lossy().into_owned());
        let run = krash(&["analyze", &v, &c, "--json", "--maintainers", &m], "");
        assert!(run.success, "{}: {}", d.label(), run.stderr);
        let doc: Value = serde_json::from_str(&run.stdout).expect("analyze --json parses");
        let owner = &doc["data"]["owner"];
        let label = d.label();
        match owner["kind"].as_str() {
            Some("module") => {
                assert_eq!(owner["module"], "krash_scenarios", "{label}: {owner}");
                assert_eq!(owner["out_of_tree"], true, "{label}: {owner}");
                assert!(owner["taint"].as_str().is_some_and(|t| t.contains('O')), "{label}: {owner}");
                modules += 1;
            }
            Some("subsystem") => {
                let file = owner["file"].as_str().expect("a subsystem owner names its file");
                if !d.kernel.starts_with("6.1.") {
                    // Another kernel's file, looked up in 6.1's MAINTAINERS:
                    // named, but not comparable with this tree's script.
                    continue;
                }
                let ours: Vec<String> = std::iter::once(&owner["section"])
                    .chain(owner["broader"].as_array().into_iter().flatten())
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect();
                let theirs = get_maintainer_subsystems(&src, file);
                assert!(
                    theirs.starts_with(&ours),
                    "{label}: {file}: krash names {ours:?}, get_maintainer.pl {theirs:?}"
                );
                assert!(!owner["maintainers"].as_array().is_none_or(Vec::is_empty), "{label}: {owner}");
                subsystems += 1;
            }
            _ => panic!("{label}: no owner with a MAINTAINERS file given: {owner}"),
        }
    }
    krash_labtest::assert_compared(subsystems, "owners against get_maintainer.pl");
    krash_labtest::assert_compared(modules, "owners of crashes in the lab's module");
}

/// The values a WARN's or BUG_ON's compare tested (hex strings in the JSON).
fn tested_values(r: &Value) -> Vec<u64> {
    let parse = |t: &Value| u64::from_str_radix(t["value"].as_str()?.strip_prefix("0x")?, 16).ok();
    r["warning"]["tested"].as_array().into_iter().flatten().filter_map(parse).collect()
}

/// The kernel's own log of a dump (the capture kernel's vmcore-dmesg.txt):
/// the oops text even where the console lost it (x86-64's double fault
/// prints from NMI context, which the crash's kexec overtakes).
fn kernel_log(d: &LabDump) -> String {
    let name = d.manifest["dmesg"].as_str().unwrap_or("vmcore-dmesg.txt");
    std::fs::read_to_string(d.dir.join(name)).unwrap_or_default()
}

/// The log lines' text after the `[ time]` stamp and the caller id
/// makedumpfile's log has on 7.x (`[      C1] `).
fn log_bodies(log: &str) -> Vec<&str> {
    log.lines().map(|l| krash_labtest::log_line_body(l).unwrap_or(l)).collect()
}

/// A recursion that overflowed the stack: the cycle is the scenario's
/// function, repeated as often as the kernel's own Call Trace repeats it.
fn check_stack_overflow(label: &str, e: &Value, r: &Value, log: &str) {
    let Some(expected) = e.get("stack_overflow").filter(|x| x.is_object()) else { return };
    let function = expected["function"].as_str().unwrap_or("?");
    let o = &r["stack_overflow"];
    assert_eq!(o["cycle"], serde_json::json!([function]), "{label}: {o}");
    let repeats = o["repeats"].as_u64().unwrap_or(0);
    // Reliable frames only ("? name" lines are the kernel's guesses). A
    // double fault prints from NMI context, which 5.10 buffers per CPU and
    // overflows ("Lost 149 message(s)!"): its trace is then short, and
    // crash's bt (below) is the oracle.
    let in_trace = log_bodies(log).iter().filter(|b| b.trim_start().starts_with(&format!("{function}+0x"))).count();
    if log.contains(" message(s)!") {
        assert!((in_trace as u64) < repeats, "{label}: {in_trace} of {repeats} frames in a log that lost messages");
    } else {
        assert!(in_trace > 8, "{label}: the kernel's trace names {function} {in_trace} times");
        assert_eq!(repeats, in_trace as u64, "{label}: {o}");
    }
    let per = o["bytes_per_repeat"].as_u64().unwrap_or(0);
    assert!(per > 0 && per * repeats <= 16384, "{label}: {per} bytes per frame");
}

/// crash's `bt` of the panic task (the transcript's first backtrace): how
/// often it names `function`, where crash opened the dump.
fn crash_bt_count(d: &LabDump, function: &str) -> Option<u64> {
    let t = d.crash_transcript()?;
    let mut blocks = t.split("\nPID: ").skip(1);
    let first = blocks.next()?;
    Some(first.lines().filter(|l| l.contains(&format!(" {function} at "))).count() as u64)
}

/// An RCU stall: the stalled CPU is the one the stall detector's per-CPU
/// line names and the module bound its thread to, running that thread in
/// the scenario's loop; the grace period's waiter is listed.
fn check_rcu_stall(label: &str, e: &Value, r: &Value, log: &str) {
    let Some(expected) = e.get("rcu_stall").filter(|x| x.is_object()) else { return };
    let st = &r["rcu_stall"];
    let bodies = log_bodies(log);
    let head = bodies.iter().rposition(|b| b.starts_with("rcu: INFO: ")).unwrap_or_else(|| panic!("{label}: no stall"));
    let logged_cpu: Option<u64> = bodies[head + 1..].iter().find_map(|b| {
        let b = b.strip_prefix("rcu:").unwrap_or(b).trim();
        b.split_once('-').and_then(|(n, _)| n.parse().ok())
    });
    assert_eq!(logged_cpu, expected["cpu"].as_u64(), "{label}: the log's stalled CPU");
    assert_eq!(st["self_detected"].as_bool(), Some(bodies[head].contains("self-detected")), "{label}: {st}");
    let cpu = st["cpus"].as_array().and_then(|c| c.first()).cloned().unwrap_or_default();
    assert_eq!(cpu["cpu"], expected["cpu"], "{label}: {st}");
    assert_eq!(cpu["comm"], expected["comm"], "{label}: {st}");
    assert_eq!(cpu["function"], expected["function"], "{label}: {st}");
    let waits = r["blocked_tasks"].as_array().into_iter().flatten().any(|b| {
        b["frames"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|f| f.as_str().is_some_and(|f| f.starts_with("synchronize_rcu")))
    });
    assert!(waits, "{label}: no task waiting in synchronize_rcu: {}", r["blocked_tasks"]);
}

/// A refcount underflow: the count is the scenario's object's member, in
/// its cache, and that object is already free.
fn check_refcount(label: &str, e: &Value, r: &Value) {
    let Some(expected) = e.get("refcount").filter(|x| x.is_object()) else { return };
    let rc = &r["refcount"];
    assert_eq!(rc["saturation"], expected["saturation"], "{label}: {rc}");
    assert_eq!(rc["struct_name"], expected["struct"], "{label}: {rc}");
    assert_eq!(rc["member"], expected["member"], "{label}: {rc}");
    assert_eq!(rc["offset"], expected["offset"], "{label}: {rc}");
    assert_eq!(rc["cache"], expected["cache"], "{label}: {rc}");
    assert_eq!(rc["object_free"], expected["freed"], "{label}: {rc}");
    let object = expected["object"].as_u64().unwrap_or_default();
    assert_eq!(rc["object"].as_str(), Some(format!("{object:#x}").as_str()), "{label}: {rc}");
}

/// An OOM panic: the largest cache is the scenario's leaking one, with as
/// many bytes in use as the OOM killer's "Unreclaimable slab info" says,
/// and every process the OOM killer listed has the resident set it printed.
fn check_oom(label: &str, e: &Value, r: &Value, log: &str) {
    let Some(expected) = e.get("oom").filter(|x| x.is_object()) else { return };
    let oom = &r["oom"];
    let cache = expected["cache"].as_str().unwrap_or("?");
    let top = &oom["top_caches"][0];
    assert_eq!(top["name"], cache, "{label}: {oom}");
    assert_eq!(top["object_size"], expected["object_size"], "{label}: {oom}");
    assert_eq!(oom["comm"], expected["comm"], "{label}: {oom}");
    assert_eq!(oom["culprit"].as_str(), Some(format!("slab cache {cache}").as_str()), "{label}: {oom}");
    let bodies = log_bodies(log);
    // "krash_req             621508KB     621508KB": in use, and in all.
    let (used_kb, total_kb): (u64, u64) = bodies
        .iter()
        .find_map(|b| {
            let mut cols = b.strip_prefix(cache)?.split_whitespace().map(|c| c.strip_suffix("KB")?.parse().ok());
            Some((cols.next()??, cols.next()??))
        })
        .unwrap_or_else(|| panic!("{label}: no {cache} line in the OOM report's slab info"));
    let kb = |objects: &Value| objects.as_u64().unwrap_or(0) * top["object_size"].as_u64().unwrap_or(0) / 1024;
    assert_eq!(kb(&top["total"]), total_kb, "{label}: {cache}'s objects, KB, against the OOM report");
    // The kernel counts the free objects of CPU slabs as in use; krash
    // (like crash's kmem -s) does not: its count is at most the kernel's.
    let used = kb(&top["allocated"]);
    assert!(used <= used_kb && used_kb <= total_kb, "{label}: {cache} in use {used} KB, the OOM report's {used_kb} KB");
    // "[    128]     0   128      565        1    28672        0             0 sleep"
    let rows: Vec<(i64, u64)> = bodies
        .iter()
        .filter_map(|b| {
            let rest = b.strip_prefix('[')?;
            let (pid, rest) = rest.split_once(']')?;
            let cols: Vec<&str> = rest.split_whitespace().collect();
            Some((pid.trim().parse().ok()?, cols.get(3)?.parse().ok()?))
        })
        .collect();
    assert!(!rows.is_empty(), "{label}: no task table in the OOM report");
    // From 6.2 the counters are per-CPU, and the OOM report prints their
    // folded part only (percpu_counter_read_positive); krash adds each
    // CPU's batch (under 32 pages per counter and CPU, 3 counters).
    let cpus: u64 = bodies
        .iter()
        .find_map(|b| b.split_once("Brought up ")?.1.split(", ").nth(1)?.strip_suffix(" CPUs")?.parse().ok())
        .unwrap_or(1);
    for (pid, rss) in rows {
        let task = oom["top_tasks"].as_array().into_iter().flatten().find(|t| t["pid"].as_i64() == Some(pid));
        if let Some(t) = task {
            let pages = t["rss_bytes"].as_u64().unwrap_or(0) / 4096;
            assert!(
                pages.abs_diff(rss) <= 3 * 32 * cpus,
                "{label}: PID {pid}'s resident set {pages} pages, the kernel's {rss}"
            );
        }
    }
}

/// The fleet diagnoses (stack overflow, RCU stall, refcount underflow,
/// OOM) on every lab kernel of both architectures that has the scenario.
#[test]
fn fleet_diagnoses_match_the_module_and_the_kernel_log() {
    let scenarios = ["stack-overflow", "rcu-stall", "refcount-underflow", "oom-panic"];
    let mut seen = std::collections::HashSet::new();
    let mut compared = 0;
    let mut crash_compared = 0;
    for d in lab_dumps().into_iter().chain(common::arm64_lab_dumps()) {
        if !d.is_kdump_boot() || !scenarios.contains(&d.scenario.as_str()) {
            continue;
        }
        if !seen.insert((d.kernel.clone(), d.scenario.clone())) {
            continue;
        }
        let doc = analyze_json(&d);
        let r = &doc["data"];
        let label = d.label();
        let e = &d.manifest["expected"];
        assert_eq!(r["kind"], e["panic_kind"], "{label}");
        assert_eq!(r["faulting_function"], e["faulting_function"], "{label}");
        let log = kernel_log(&d);
        check_stack_overflow(&label, e, r, &log);
        let function = e["stack_overflow"]["function"].as_str();
        if let Some((f, n)) = function.and_then(|f| crash_bt_count(&d, f).map(|n| (f, n))) {
            assert_eq!(r["stack_overflow"]["repeats"].as_u64(), Some(n), "{label}: {f} frames against crash's bt");
            crash_compared += 1;
        }
        check_rcu_stall(&label, e, r, &log);
        check_refcount(&label, e, r);
        check_oom(&label, e, r, &log);
        compared += 1;
    }
    krash_labtest::assert_compared(compared, "fleet-diagnosis dumps analyzed");
    krash_labtest::assert_compared(crash_compared, "stack overflows counted against crash's bt");
}

const ANALYZE_MATRIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/analyze-matrix.md");

/// What `analyze` answered on one dump, against what the scenario module
/// recorded: the kind, and the detail the scenario is about (the struct
/// member behind a NULL, the ops-table slot, the lock and its owner, the
/// list a lockup walks, the slab cache and what was written over it).
fn matrix_cell(d: &LabDump, r: &Value) -> (bool, String) {
    let e = &d.manifest["expected"];
    let s = |v: &Value| v.as_str().unwrap_or("?").to_string();
    // The module says "paging_request" for arm64's "Unable to handle kernel paging request".
    let kind = match e["panic_kind"].as_str() {
        Some("paging_request") => "paging_fault".to_string(),
        other => other.unwrap_or("?").to_string(),
    };
    let (expected, got) = if let Some(m) = e.get("null_member").filter(|m| m.is_object()) {
        (
            format!("{}.{}", s(&m["struct"]), s(&m["member"])),
            format!("{}.{}", s(&r["bad_member"]["struct_name"]), s(&r["bad_member"]["member"])),
        )
    } else if e["ops_struct"].is_string() {
        (
            format!("{}.{}", s(&e["ops_struct"]), s(&e["ops_member"])),
            format!("{}.{}", s(&r["bad_member"]["struct_name"]), s(&r["bad_member"]["member"])),
        )
    } else if let Some(lock) = e["lock"].as_str().filter(|_| e["lock_owner_comm"].is_string()) {
        let found = r["locks"].as_array().into_iter().flatten().find(|l| l["symbol"] == lock || l["symbol"].is_null());
        (
            format!("mutex {lock} held by {}", s(&e["lock_owner_comm"])),
            found.map_or("no lock".into(), |l| {
                let name = l["symbol"].as_str().unwrap_or("(unnamed)");
                format!("{} {name} held by {}", s(&l["kind"]), s(&l["owner"]["comm"]))
            }),
        )
    } else if let Some(head) = e["list_head"].as_str() {
        (
            format!("{head} ({} entries)", e["list_length"]),
            format!("{} ({} entries)", s(&r["loop_list"]["head_symbol"]), r["loop_list"]["length"]),
        )
    } else if let Some(d) = e.get("divisor").filter(|d| d.is_object()) {
        (
            format!("{}.{} = 0", s(&d["struct"]), s(&d["member"])),
            format!(
                "{}.{} = {}",
                s(&r["divisor"]["struct_name"]),
                s(&r["divisor"]["member"]),
                s(&r["divisor"]["value"])
            )
            .replace("= 0x0", "= 0"),
        )
    } else if let Some(l) = e.get("poisoned_list").filter(|l| l.is_object()) {
        (
            format!("{}.{} {}", s(&l["entry_struct"]), s(&l["entry_member"]), s(&e["poison"]["kind"])),
            format!(
                "{}.{} {}",
                s(&r["list_poison"]["entry_struct"]),
                s(&r["list_poison"]["link_member"]),
                s(&r["list_poison"]["poison"])
            ),
        )
    } else if let Some(d) = e.get("double_free").filter(|d| d.is_object()) {
        (
            format!("{} object freed twice, by {}", s(&d["cache"]), s(&d["second_free"])),
            format!("{} object freed twice, by {}", s(&r["double_free"]["cache"]), s(&r["double_free"]["freed_by"])),
        )
    } else if let Some(cycle) = e["cycle"].as_array() {
        let held = |v: &Value, key: &str| {
            let mut l: Vec<String> = v.as_array().into_iter().flatten().map(|c| s(&c[key])).collect();
            l.sort();
            l.join(" <-> ")
        };
        (
            format!("deadlock {}", held(&Value::Array(cycle.clone()), "holds")),
            format!("deadlock {}", held(&r["deadlock"], "holds_symbol")),
        )
    } else if let Some(f) = e.get("freed_object").filter(|f| f.is_object()) {
        (
            format!("{}.{} read from a freed {} object", s(&f["struct"]), s(&f["member"]), s(&f["cache"])),
            format!(
                "{}.{} read from a freed {} object",
                s(&r["freed_object"]["struct_name"]),
                s(&r["freed_object"]["member"]),
                s(&r["freed_object"]["cache"])
            ),
        )
    } else if let Some(smash) = e.get("stack_smash").filter(|x| x.is_object()) {
        let found = &r["stack_smash"];
        (
            format!("{} overran {}[{}]", s(&smash["function"]), s(&smash["buffer"]), smash["size"]),
            format!("{} overran {}[{}]", s(&found["function"]), s(&found["buffer"]), found["buffer_size"]),
        )
    } else if let Some(spin) = e.get("spinlock").filter(|x| x.is_object()) {
        let w = &r["spin_wait"];
        (
            format!("spinlock {} held by {}", s(&spin["lock"]), s(&spin["holder_comm"])),
            format!("spinlock {} held by {}", s(&w["symbol"]), s(&w["holder"]["comm"])),
        )
    } else if let Some(w) = e.get("warning").filter(|x| x.is_object()) {
        let values = |v: &Value| -> Vec<u64> { v.as_array().into_iter().flatten().filter_map(Value::as_u64).collect() };
        let wanted = values(&w["tested_values"]);
        let tested: Vec<u64> = tested_values(r);
        let found: Vec<u64> = wanted.iter().copied().filter(|v| tested.contains(v)).collect();
        let list = |l: &[u64]| l.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
        (format!("WARN tested {}", list(&wanted)), format!("WARN tested {}", list(&found)))
    } else if let Some(o) = e.get("stack_overflow").filter(|x| x.is_object()) {
        let found = r["stack_overflow"]["cycle"].as_array().map(|c| c.iter().map(s).collect::<Vec<_>>().join(" -> "));
        (format!("{} recursed", s(&o["function"])), format!("{} recursed", found.unwrap_or_else(|| "nothing".into())))
    } else if let Some(st) = e.get("rcu_stall").filter(|x| x.is_object()) {
        let cpu = &r["rcu_stall"]["cpus"][0];
        (
            format!("CPU {} stalled in {}", st["cpu"], s(&st["function"])),
            format!("CPU {} stalled in {}", cpu["cpu"], s(&cpu["function"])),
        )
    } else if let Some(rc) = e.get("refcount").filter(|x| x.is_object()) {
        let found = &r["refcount"];
        (
            format!("{} of {}.{}", s(&rc["saturation"]), s(&rc["struct"]), s(&rc["member"])),
            format!("{} of {}.{}", s(&found["saturation"]), s(&found["struct_name"]), s(&found["member"])),
        )
    } else if let Some(o) = e.get("oom").filter(|x| x.is_object()) {
        (format!("slab cache {} fills memory", s(&o["cache"])), format!("{} fills memory", s(&r["oom"]["culprit"])))
    } else if let Some(cache) = e["cache"].as_str() {
        (
            format!("{cache}: {}", s(&e["corrupt_value_kind"])),
            format!("{}: {}", s(&r["slab"]["cache"]), s(&r["slab"]["corrupt_value_kind"])),
        )
    } else {
        let f = s(&e["faulting_function"]);
        (f, s(&r["faulting_function"]))
    };
    let got_kind = s(&r["kind"]);
    if got_kind == kind && got == expected {
        (true, format!("yes: {got}"))
    } else if got_kind != kind {
        (false, format!("no: {got_kind}, not {kind}"))
    } else {
        (false, format!("no: {got}, not {expected}"))
    }
}

/// `docs/analyze-matrix.md`: every scenario on every lab kernel, analyze's
/// answer against the scenario module's facts. Generated here from the
/// lab; the test fails when the committed file differs (`KRASH_BLESS=1`
/// rewrites it), so the table is always what the tests saw.
#[test]
fn analyze_matrix_is_current() {
    let mut dumps: Vec<LabDump> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for d in common::lab_dumps().into_iter().chain(common::arm64_lab_dumps()) {
        if d.is_kdump_boot() && d.scenario != "live" && seen.insert((d.kernel.clone(), d.scenario.clone())) {
            dumps.push(d);
        }
    }
    let kernels: Vec<String> = krash_labtest::KERNELS
        .iter()
        .chain(std::iter::once(&krash_labtest::FP_SLAB_KERNEL))
        .chain(&krash_labtest::ARM64_KERNELS)
        .map(|k| k.to_string())
        .filter(|k| dumps.iter().any(|d| &d.kernel == k))
        .collect();
    let mut scenarios: Vec<String> = dumps.iter().map(|d| d.scenario.clone()).collect();
    scenarios.sort();
    scenarios.dedup();
    let mut cells = std::collections::BTreeMap::new();
    for d in &dumps {
        let doc = analyze_json(d);
        cells.insert((d.scenario.clone(), d.kernel.clone()), matrix_cell(d, &doc["data"]));
    }
    let mut md = String::from(
        "# analyze on every lab dump\n\nGenerated by `crates/cli/tests/analyze_lab.rs` (`analyze_matrix_is_current`) from the \
         lab's in-guest kdump of each scenario on each kernel; do not edit by hand. `KRASH_BLESS=1 cargo test --release -p \
         krash --test analyze_lab analyze_matrix` rewrites it, and the test fails when this file and the lab disagree.\n\n\
         A cell is `yes: ANSWER` when `krash analyze` gives the scenario module's own answer (the kind of crash, and the \
         struct member behind a NULL, the ops-table slot called, the lock and its owner, the list a lockup walks, the slab \
         cache and what overwrote it, the divisor, the list link list_del() poisoned, the object freed twice, the \
         deadlock's locks, the member read from a freed object, the buffer a stack overflow overran, the spinlock \
         and its holder, the values a WARN tested, the function a stack overflow recursed in, the CPU an RCU stall names and what it ran, the member a refcount underflowed, the slab cache that filled memory), `no: ANSWER, not EXPECTED` when it does not, and `-` where the lab does not run the \
         scenario on that kernel (`skipped_scenarios` in the lab's index says why).\n\n",
    );
    md.push_str(&format!("| scenario | {} |\n|---|{}\n", kernels.join(" | "), "---|".repeat(kernels.len())));
    for scenario in &scenarios {
        let row: Vec<String> = kernels
            .iter()
            .map(|k| cells.get(&(scenario.clone(), k.clone())).map_or("-".to_string(), |c| c.1.clone()))
            .collect();
        md.push_str(&format!("| {scenario} | {} |\n", row.join(" | ")));
    }
    let x86_misses: Vec<String> = cells
        .iter()
        .filter(|((_, k), (ok, _))| !ok && !krash_labtest::ARM64_KERNELS.contains(&k.as_str()))
        .map(|((s, k), (_, c))| format!("{k}/{s}: {c}"))
        .collect();
    assert!(x86_misses.is_empty(), "analyze misses the scenario's answer on x86-64: {x86_misses:#?}");
    if std::env::var_os("KRASH_BLESS").is_some() {
        std::fs::write(ANALYZE_MATRIX, &md).expect("docs/analyze-matrix.md is writable");
        return;
    }
    let committed = std::fs::read_to_string(ANALYZE_MATRIX).unwrap_or_default();
    assert!(
        committed == md,
        "docs/analyze-matrix.md differs from what the lab shows (KRASH_BLESS=1 rewrites it):\n{md}"
    );
}
