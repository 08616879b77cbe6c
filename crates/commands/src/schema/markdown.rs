//! The reference part of docs/json.md, written from [`super::json_schema`]
//! so the documentation says what the types say (a test keeps the file up
//! to date).

use std::fmt::Write as _;

use serde_json::Value;

/// Where the generated part of docs/json.md starts; everything after it is
/// [`reference`]'s.
pub const MARKER: &str = "<!-- Everything below is generated from the types (krash --json-schema): do not edit. -->";

/// The reference: each command's document, then every type.
pub fn reference() -> String {
    let schema = super::json_schema();
    let defs = schema["$defs"].as_object().cloned().unwrap_or_default();
    let mut out = String::new();
    out.push_str("## Documents by command\n\n");
    out.push_str("| `command` | `data` |\n| --- | --- |\n");
    for doc in schema["oneOf"].as_array().into_iter().flatten() {
        let props = &doc["properties"];
        if props.get("data").is_none() {
            continue;
        }
        let names: Vec<String> = match (&props["command"]["const"], props["command"]["enum"].as_array()) {
            (Value::String(c), _) => vec![format!("`{c}`")],
            (_, Some(e)) => e.iter().filter_map(Value::as_str).map(|c| format!("`{c}`")).collect(),
            _ => Vec::new(),
        };
        let _ = writeln!(out, "| {} | {} |", names.join(", "), type_expr(&props["data"]));
    }
    out.push_str(
        "\nAn error document has `error` ([ErrorInfo](#ErrorInfo)) instead of `data`; \
         `krash analyze --batch --json` prints one [AnalyzeBatch](#AnalyzeBatch), \
         `krash analyze --batch --json-lines` an [AnalyzeBatchLine](#AnalyzeBatchLine) per line.\n\n",
    );
    out.push_str("## Types\n\nIn alphabetical order. A field marked *optional* may be absent; every other field is always present (null where the type says so).\n");
    for (name, def) in &defs {
        let _ = write!(out, "\n### <a id=\"{name}\"></a>{name}\n\n");
        if let Some(d) = def["description"].as_str() {
            let _ = writeln!(out, "{}\n", one_line(d));
        }
        if def.get("properties").is_some() {
            fields(&mut out, def, None);
        } else if let Some(branches) = def["oneOf"].as_array().or(def["anyOf"].as_array()) {
            variants(&mut out, branches);
        } else {
            let _ = writeln!(out, "Type: {}.", type_expr(def));
            if let Some(p) = def["pattern"].as_str() {
                let _ = writeln!(out, "Pattern: `{p}`.");
            }
        }
    }
    out
}

/// A tagged union's variants, each with its fields; or a string enum's values.
fn variants(out: &mut String, branches: &[Value]) {
    for b in branches {
        let Some(props) = b["properties"].as_object() else {
            // A unit variant of a plain string enum.
            let values: Vec<String> = match (&b["const"], b["enum"].as_array()) {
                (Value::String(c), _) => vec![format!("`\"{c}\"`")],
                (_, Some(e)) => e.iter().map(|v| format!("`{v}`")).collect(),
                _ => vec![type_expr(b)],
            };
            let _ = write!(out, "- {}", values.join(", "));
            if let Some(d) = b["description"].as_str() {
                let _ = write!(out, ": {}", one_line(d));
            }
            out.push('\n');
            continue;
        };
        let tag = props.iter().find(|(_, p)| p.get("const").is_some());
        let _ = match tag {
            Some((key, p)) => write!(out, "- `{key}`: `{}`", p["const"].as_str().unwrap_or_default()),
            None => write!(out, "- variant"),
        };
        if let Some(d) = b["description"].as_str() {
            let _ = write!(out, ": {}", one_line(d));
        }
        out.push('\n');
        let others = props.len() - usize::from(tag.is_some());
        if others > 0 {
            out.push('\n');
            fields(out, b, tag.map(|(k, _)| k.as_str()));
            out.push('\n');
        }
    }
}

/// A table of an object's fields.
fn fields(out: &mut String, def: &Value, skip: Option<&str>) {
    let required: Vec<&str> = def["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    out.push_str("  | field | type | meaning |\n  | --- | --- | --- |\n");
    for (name, p) in def["properties"].as_object().into_iter().flatten() {
        if Some(name.as_str()) == skip {
            continue;
        }
        let optional = if required.contains(&name.as_str()) { "" } else { " *optional*" };
        let meaning = p["description"].as_str().map(one_line).unwrap_or_default();
        let _ = writeln!(out, "  | `{name}`{optional} | {} | {} |", type_expr(p), meaning.replace('|', "\\|"));
    }
}

/// A type in a few words: `[Name](#Name)`, `array of ...`, `... or null`.
fn type_expr(s: &Value) -> String {
    if let Some(r) = s["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("[{name}](#{name})");
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(branches) = s[key].as_array() {
            let parts: Vec<String> = branches.iter().map(type_expr).collect();
            return parts.join(" or ");
        }
    }
    if let Some(c) = s.get("const") {
        return format!("`{c}`");
    }
    if let Some(e) = s["enum"].as_array() {
        return e.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ");
    }
    let types: Vec<&str> = match &s["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let words: Vec<String> = types
        .iter()
        .map(|t| match *t {
            "array" => format!("array of {}", type_expr(&s["items"])),
            "integer" => match s["format"].as_str() {
                Some(f) => format!("integer ({f})"),
                None => "integer".to_string(),
            },
            "number" => "number".to_string(),
            "object" if s.get("additionalProperties").is_some_and(Value::is_object) => {
                format!("object: name to {}", type_expr(&s["additionalProperties"]))
            }
            other => other.to_string(),
        })
        .collect();
    if words.is_empty() {
        "any".to_string()
    } else {
        words.join(" or ")
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
