//! `krash analyze` and `krash decode` against every lab dump's manifest,
//! and `analyze --json` against docs/analyze.schema.json.

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
        }
        if let Some(ctx) = e["context"].as_str() {
            assert_eq!(r["context"].as_str(), Some(ctx), "{label}");
        }
        check_null_source(&label, e, r, &text);
        check_fnptr(&label, e, r);
        check_loop_list(&label, e, r, &text);
        check_hung(&label, e, r, &text);
        check_slab(&label, e, r);
        assert!(text.contains("SIGNATURE: "), "{label}: {text}");
    }
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

/// A call through a NULL function pointer names the ops table member,
/// through the provenance walk to the function's argument.
fn check_fnptr(label: &str, e: &Value, r: &Value) {
    let Some(ops) = e["ops_struct"].as_str() else { return };
    assert_eq!(r["bad_member"]["struct_name"], ops, "{label}");
    assert_eq!(r["bad_member"]["member"], e["ops_member"], "{label}");
    assert_eq!(r["bad_member"]["displacement"], e["ops_offset"], "{label}");
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

fn check_slab(label: &str, e: &Value, r: &Value) {
    let Some(cache) = e["cache"].as_str() else { return };
    let slab = &r["slab"];
    assert_eq!(slab["cache"], cache, "{label}: {slab}");
    assert_eq!(slab["corrupt_value_kind"], e["corrupt_value_kind"], "{label}: {slab}");
    // The object holds as much of the text as fits in it.
    let expected = e["corrupt_text"].as_str().unwrap_or_default();
    let found = slab["corrupt_text"].as_str().unwrap_or_default();
    assert!(found.len() >= 16 && expected.starts_with(found), "{label}: {found:?} vs {expected:?}");
    assert!(slab["problem"].is_string(), "{label}");
}

/// The same crash gets the same signature on both kernels (no addresses,
/// compiler clones and `_noprof` allocator names folded, idle loops skipped).
#[test]
fn signatures_agree_across_kernels() {
    let mut by_scenario: std::collections::BTreeMap<String, Vec<(String, String)>> = Default::default();
    for d in one_per_scenario() {
        let doc = analyze_json(&d);
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
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/analyze.schema.json"))
            .expect("schema file"),
    )
    .expect("schema is JSON");
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    for d in lab_dumps() {
        let doc = analyze_json(&d);
        let mut errors = Vec::new();
        schema::validate(&schema, &schema, &doc, "$", &mut errors);
        assert!(errors.is_empty(), "{}: {errors:#?}", d.label());
    }
}

/// A validator for the subset of JSON Schema 2020-12 the schema uses:
/// type, const, enum, properties, required, additionalProperties: false,
/// items, oneOf, minimum, maximum and local $ref. Any other keyword is an
/// error, so the schema cannot silently use something unchecked.
mod schema {
    use serde_json::Value;

    const ANNOTATIONS: &[&str] = &["$schema", "$id", "$defs", "title", "description"];

    pub fn validate(root: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
        let Some(obj) = schema.as_object() else {
            errors.push(format!("{at}: schema is not an object"));
            return;
        };
        for (key, rule) in obj {
            match key.as_str() {
                k if ANNOTATIONS.contains(&k) => {}
                "$ref" => match rule.as_str().and_then(|r| r.strip_prefix("#/")).map(|p| pointer(root, p)) {
                    Some(Some(target)) => validate(root, target, v, at, errors),
                    _ => errors.push(format!("{at}: unresolvable $ref {rule}")),
                },
                "type" => {
                    let types: Vec<&str> = match rule {
                        Value::String(s) => vec![s.as_str()],
                        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                        _ => vec![],
                    };
                    if !types.iter().any(|t| has_type(v, t)) {
                        errors.push(format!("{at}: {v} is not of type {types:?}"));
                    }
                }
                "const" if v != rule => errors.push(format!("{at}: {v} is not {rule}")),
                "const" => {}
                "enum" if !rule.as_array().is_some_and(|a| a.contains(v)) => {
                    errors.push(format!("{at}: {v} not in {rule}"))
                }
                "enum" => {}
                "minimum" => {
                    if let (Some(x), Some(min)) = (v.as_f64(), rule.as_f64()) {
                        if x < min {
                            errors.push(format!("{at}: {v} < {rule}"));
                        }
                    }
                }
                "maximum" => {
                    if let (Some(x), Some(max)) = (v.as_u64().map(|x| x as f64).or(v.as_f64()), rule.as_f64()) {
                        if x > max {
                            errors.push(format!("{at}: {v} > {rule}"));
                        }
                    }
                }
                "required" => {
                    if let Some(o) = v.as_object() {
                        for name in rule.as_array().into_iter().flatten().filter_map(Value::as_str) {
                            if !o.contains_key(name) {
                                errors.push(format!("{at}: missing required {name}"));
                            }
                        }
                    }
                }
                "properties" => {
                    if let (Some(o), Some(props)) = (v.as_object(), rule.as_object()) {
                        for (name, sub) in props {
                            if let Some(x) = o.get(name) {
                                validate(root, sub, x, &format!("{at}.{name}"), errors);
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    if rule != &Value::Bool(false) {
                        errors.push(format!("{at}: only additionalProperties: false is supported"));
                    } else if let Some(o) = v.as_object() {
                        let props = obj.get("properties").and_then(Value::as_object);
                        for name in o.keys() {
                            if !props.is_some_and(|p| p.contains_key(name)) {
                                errors.push(format!("{at}: unexpected field {name}"));
                            }
                        }
                    }
                }
                "items" => {
                    for (i, x) in v.as_array().into_iter().flatten().enumerate() {
                        validate(root, rule, x, &format!("{at}[{i}]"), errors);
                    }
                }
                "oneOf" => {
                    let matching = rule
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|s| {
                            let mut sub = Vec::new();
                            validate(root, s, v, at, &mut sub);
                            sub.is_empty()
                        })
                        .count();
                    if matching != 1 {
                        errors.push(format!("{at}: {matching} oneOf branches match {v}"));
                    }
                }
                other => errors.push(format!("{at}: unsupported keyword {other}")),
            }
        }
    }

    fn pointer<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
        root.pointer(&format!("/{path}"))
    }

    fn has_type(v: &Value, t: &str) -> bool {
        match t {
            "null" => v.is_null(),
            "boolean" => v.is_boolean(),
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            _ => false,
        }
    }

    #[test]
    fn validator_rejects_what_it_should() {
        let schema: Value = serde_json::json!({
            "type": "object", "additionalProperties": false, "required": ["a"],
            "properties": { "a": { "$ref": "#/$defs/n" }, "b": { "oneOf": [{ "type": "null" }, { "enum": ["x"] }] } },
            "$defs": { "n": { "type": "integer", "minimum": 0 } }
        });
        let check = |v: Value| {
            let mut e = Vec::new();
            validate(&schema, &schema, &v, "$", &mut e);
            e.len()
        };
        assert_eq!(check(serde_json::json!({"a": 1, "b": null})), 0);
        assert_eq!(check(serde_json::json!({"a": 1, "b": "x"})), 0);
        assert_eq!(check(serde_json::json!({"a": -1})), 1);
        assert_eq!(check(serde_json::json!({"b": "y"})), 2);
        assert_eq!(check(serde_json::json!({"a": 1, "c": 0})), 1);
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
