//! A validator for the JSON Schema 2020-12 keywords docs/json.schema.json
//! uses ($ref, type, const, enum, properties, required, items, oneOf,
//! anyOf, minimum, maximum, format, pattern), stricter than the standard in
//! one way: an object may hold only the properties its schema lists, so no
//! field goes undocumented. Any other keyword is an error, so the schema
//! cannot silently use something unchecked.

use serde_json::Value;

/// docs/json.schema.json, the schema of every document krash prints.
pub fn committed() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/json.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("docs/json.schema.json")).expect("schema is JSON")
}

/// The problems of `doc` against the whole of `schema`, none when it follows it.
pub fn problems(schema: &Value, doc: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    validate(schema, schema, doc, "$", &mut errors);
    errors
}

const ANNOTATIONS: &[&str] = &["$schema", "$id", "$defs", "title", "description"];

pub fn validate(root: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(obj) = schema.as_object() else {
        errors.push(format!("{at}: schema is not an object"));
        return;
    };
    for (key, rule) in obj {
        match key.as_str() {
            k if ANNOTATIONS.contains(&k) => {}
            "$ref" => match rule.as_str().and_then(|r| r.strip_prefix('#')).and_then(|p| root.pointer(p)) {
                Some(target) => validate(root, target, v, at, errors),
                None => errors.push(format!("{at}: unresolvable $ref {rule}")),
            },
            "type" => {
                let types: Vec<&str> = match rule {
                    Value::String(s) => vec![s.as_str()],
                    Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                    _ => vec![],
                };
                if !types.iter().any(|t| has_type(v, t)) {
                    errors.push(format!("{at}: {:.80} is not of type {types:?}", v.to_string()));
                }
            }
            "const" => {
                if v != rule {
                    errors.push(format!("{at}: {v} is not {rule}"));
                }
            }
            "enum" => {
                if !rule.as_array().is_some_and(|a| a.contains(v)) {
                    errors.push(format!("{at}: {v} not in {rule}"));
                }
            }
            "minimum" | "maximum" => {
                if let (Some(x), Some(bound)) = (v.as_f64(), rule.as_f64()) {
                    if (key == "minimum" && x < bound) || (key == "maximum" && x > bound) {
                        errors.push(format!("{at}: {v} breaks {key} {rule}"));
                    }
                }
            }
            "format" => {
                if let Some(problem) = format_problem(rule.as_str().unwrap_or_default(), v) {
                    errors.push(format!("{at}: {problem}"));
                }
            }
            "pattern" => {
                if let Some(s) = v.as_str() {
                    match matches_pattern(rule.as_str().unwrap_or_default(), s) {
                        Some(true) => {}
                        Some(false) => errors.push(format!("{at}: {s:?} does not match {rule}")),
                        None => errors.push(format!("{at}: unknown pattern {rule}")),
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
                    for (name, x) in o {
                        match props.get(name) {
                            Some(sub) => validate(root, sub, x, &format!("{at}.{name}"), errors),
                            None => errors.push(format!("{at}: undocumented field {name}")),
                        }
                    }
                }
            }
            "additionalProperties" => {
                // A map (registers by name): every field `properties`
                // does not name is a value of this schema.
                let named = obj.get("properties").and_then(Value::as_object);
                for (name, x) in v.as_object().into_iter().flatten() {
                    if !named.is_some_and(|p| p.contains_key(name)) {
                        validate(root, rule, x, &format!("{at}.{name}"), errors);
                    }
                }
            }
            "items" => {
                for (i, x) in v.as_array().into_iter().flatten().enumerate() {
                    validate(root, rule, x, &format!("{at}[{i}]"), errors);
                }
            }
            "oneOf" | "anyOf" => {
                let branches: Vec<&Value> = rule.as_array().into_iter().flatten().collect();
                let mut failures = Vec::new();
                let matching = branches
                    .iter()
                    .filter(|s| {
                        let mut sub = Vec::new();
                        validate(root, s, v, at, &mut sub);
                        let ok = sub.is_empty();
                        failures.push(sub);
                        ok
                    })
                    .count();
                let ok = if key == "oneOf" { matching == 1 } else { matching >= 1 };
                if !ok {
                    // The branch that came closest says most.
                    let closest = failures.into_iter().min_by_key(Vec::len).unwrap_or_default();
                    errors.push(format!(
                        "{at}: {matching} {key} branches match {:.120}; closest: {closest:?}",
                        v.to_string()
                    ));
                }
            }
            other => errors.push(format!("{at}: unsupported keyword {other}")),
        }
    }
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

fn format_problem(format: &str, v: &Value) -> Option<String> {
    if !v.is_number() {
        return None;
    }
    let in_range = |lo: i128, hi: i128| {
        let x = v.as_i64().map(i128::from).or(v.as_u64().map(i128::from));
        x.is_some_and(|x| (lo..=hi).contains(&x))
    };
    let ok = match format {
        "uint8" => in_range(0, u8::MAX.into()),
        "uint16" => in_range(0, u16::MAX.into()),
        "uint32" => in_range(0, u32::MAX.into()),
        "uint64" | "uint" => in_range(0, u64::MAX.into()),
        "int32" => in_range(i32::MIN.into(), i32::MAX.into()),
        "int64" => in_range(i64::MIN.into(), i64::MAX.into()),
        "double" => true,
        other => return Some(format!("unknown format {other}")),
    };
    (!ok).then(|| format!("{v} is not a {format}"))
}

/// The patterns the schema uses, checked by hand (no regex crate here).
fn matches_pattern(pattern: &str, s: &str) -> Option<bool> {
    let hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
    Some(match pattern {
        "^0x[0-9a-f]{1,16}$" => s
            .strip_prefix("0x")
            .is_some_and(|h| (1..=16).contains(&h.len()) && h.chars().all(hex) && (h == "0" || !h.starts_with('0'))),
        "^[0-9]{1,20}$" => (1..=20).contains(&s.len()) && s.chars().all(|c| c.is_ascii_digit()),
        "^-?[0-9]{1,19}$" => {
            let d = s.strip_prefix('-').unwrap_or(s);
            (1..=19).contains(&d.len()) && d.chars().all(|c| c.is_ascii_digit())
        }
        // A C integer (IntDecimal): also the 20 digits of a large unsigned
        // 64-bit value.
        "^-?[0-9]{1,20}$" => {
            let d = s.strip_prefix('-').unwrap_or(s);
            (1..=20).contains(&d.len()) && d.chars().all(|c| c.is_ascii_digit())
        }
        "^([0-9a-f]{2})*$" => s.len().is_multiple_of(2) && s.chars().all(hex),
        _ => return None,
    })
}
