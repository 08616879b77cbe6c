//! Typed values in `--json` (schema 3) against the dump itself: on every
//! lab kernel, the numbers `p` and `struct` publish are the bytes `rd`
//! reads at the addresses their offsets give, and those offsets are the
//! ones `struct -o` shows; the text beside them is crash's.

mod common;

use std::collections::BTreeMap;

use common::{krash, one_per_scenario, LabDump};
use serde_json::Value;

/// Runs `commands` (one per line) with --json; one document per command.
fn json_docs(d: &LabDump, commands: &[String]) -> Vec<Value> {
    let vmlinux = d.vmlinux.to_string_lossy().into_owned();
    let vmcore = d.vmcore.to_string_lossy().into_owned();
    let run = krash(&["-s", "--json", &vmlinux, &vmcore], &(commands.join("\n") + "\n"));
    assert!(run.success, "{}: {}", d.label(), run.stderr);
    let docs: Vec<Value> = run.stdout.lines().map(|l| serde_json::from_str(l).expect("one JSON document")).collect();
    assert_eq!(docs.len(), commands.len(), "{}: one document per command", d.label());
    docs
}

fn hex(v: &Value) -> u64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a hex string: {v}"));
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or_else(|_| panic!("not hex: {s}"))
}

/// The first `p` entry's value.
fn printed(doc: &Value) -> &Value {
    assert!(doc.get("error").is_none(), "{doc}");
    &doc["data"]["entries"][0]["value"]
}

/// One scalar a test compares with `rd`: where it is and what it says.
struct Scalar {
    path: String,
    addr: u64,
    bits: u64,
    bitfield: Option<(u64, u64)>,
    raw: u64,
}

/// Every integer, enum and pointer in `v` (at `addr`), through struct
/// fields (offsets added) and array elements (the type's stride).
fn scalars(v: &Value, addr: u64, path: &str, out: &mut Vec<Scalar>) {
    match v["kind"].as_str() {
        // rd reads units of 8, 16, 32 and 64 bits.
        Some("integer" | "enum") if matches!(v["bits"].as_u64(), Some(8 | 16 | 32 | 64)) => out.push(Scalar {
            path: path.to_string(),
            addr,
            bits: v["bits"].as_u64().unwrap_or(0),
            bitfield: None,
            raw: hex(&v["raw"]),
        }),
        Some("pointer") if !v["type"].as_str().unwrap_or_default().ends_with(']') => {
            out.push(Scalar { path: path.to_string(), addr, bits: 64, bitfield: None, raw: hex(&v["address"]) })
        }
        Some("struct") => {
            for f in v["fields"].as_array().into_iter().flatten() {
                let name = f["name"].as_str().unwrap_or("<anon>");
                let at = addr + f["offset"].as_u64().unwrap_or(0);
                let here = format!("{path}.{name}");
                match (f["bit_offset"].as_u64(), f["bit_size"].as_u64()) {
                    (Some(bit), Some(width)) => {
                        let start = bit / 8;
                        assert_eq!(f["offset"].as_u64(), Some(start), "{here}: offset is not bit_offset/8");
                        out.push(Scalar {
                            path: here,
                            addr: addr + start,
                            bits: width,
                            bitfield: Some((bit % 8, width)),
                            raw: hex(&f["value"]["raw"]),
                        });
                    }
                    _ => scalars(&f["value"], at, &here, out),
                }
            }
        }
        _ => {}
    }
}

/// `rd` of each scalar: the unit of its width (8 bytes for a bitfield,
/// whose bits are taken out), compared with the typed value.
fn check_against_rd(d: &LabDump, what: &str, list: &[Scalar]) -> usize {
    let commands: Vec<String> = list
        .iter()
        .map(|s| match (s.bitfield, s.bits) {
            (Some(_), _) => format!("rd -64 {:#x} 1", s.addr),
            (None, 8 | 16 | 32 | 64) => format!("rd -{} {:#x} 1", s.bits, s.addr),
            (None, other) => panic!("{}: {} bits", s.path, other),
        })
        .collect();
    let docs = json_docs(d, &commands);
    for (s, doc) in list.iter().zip(&docs) {
        let word = hex(&doc["data"]["units"][0]["value"]);
        let want = match s.bitfield {
            Some((shift, width)) if shift + width <= 64 => (word >> shift) & ((1u64 << width) - 1),
            Some(_) => continue,
            None => word,
        };
        assert_eq!(s.raw, want, "{}: {what}{} at {:#x}: typed {:#x}, rd {:#x}", d.label(), s.path, s.addr, s.raw, want);
    }
    list.len()
}

/// The kdump dump of one scenario per kernel: the values are the kernel's,
/// not the scenario's.
fn one_per_kernel() -> Vec<LabDump> {
    let mut seen = std::collections::HashSet::new();
    one_per_scenario().into_iter().filter(|d| seen.insert(d.kernel.clone())).collect()
}

#[test]
fn scalars_are_typed_and_exact() {
    let mut compared = 0;
    for d in one_per_kernel() {
        let docs = json_docs(
            &d,
            &[
                "p jiffies",
                "rd -64 jiffies 1",
                "px jiffies",
                "p init_task.comm",
                "p &init_task",
                "p init_task.sched_class",
            ]
            .map(String::from),
        );
        let jiffies = printed(&docs[0]);
        assert_eq!(jiffies["kind"], "integer", "{}: {jiffies}", d.label());
        assert!(jiffies["type"].as_str().is_some_and(|t| t.ends_with("unsigned long")), "{jiffies}");
        assert_eq!(jiffies["bits"], 64);
        // Exact: the decimal string is the 64-bit word rd reads.
        let word = hex(&docs[1]["data"]["units"][0]["value"]);
        assert_eq!(jiffies["value"], word.to_string(), "{}", d.label());
        assert_eq!(hex(&jiffies["raw"]), word);
        assert_eq!(jiffies["text"], word.to_string(), "natural radix text");
        // px changes gdb's text, not the number.
        let px = printed(&docs[2]);
        assert_eq!(px["text"], format!("{word:#x}"));
        assert_eq!(px["value"], jiffies["value"]);

        let comm = printed(&docs[3]);
        assert_eq!((comm["kind"].as_str(), comm["type"].as_str()), (Some("text"), Some("char [16]")), "{comm}");
        assert!(comm["text"].as_str().is_some_and(|t| t.starts_with("\"swapper")), "{comm}");

        let init_task = printed(&docs[4]);
        assert_eq!(init_task["kind"], "pointer");
        assert_eq!(init_task["type"], "struct task_struct *");
        assert_eq!(init_task["symbol"]["name"], "init_task", "{init_task}");
        assert_eq!(init_task["symbol"]["offset"], 0);

        let class = printed(&docs[5]);
        assert_eq!(class["kind"], "pointer");
        // The symbol the text names in <...> is the data's.
        let name = class["symbol"]["name"].as_str().unwrap_or_default();
        assert!(
            !name.is_empty() && class["text"].as_str().is_some_and(|t| t.contains(&format!("<{name}>"))),
            "{class}"
        );
        compared += 1;
    }
    krash_labtest::assert_compared(compared, "typed p values on the lab kernels");
}

#[test]
fn struct_members_have_struct_o_offsets_and_rd_values() {
    let mut compared = 0;
    for d in one_per_kernel() {
        let docs = json_docs(&d, &["p &init_task".to_string()]);
        let task = hex(&printed(&docs[0])["address"]);
        let docs = json_docs(
            &d,
            &[
                format!("struct task_struct.pid,comm,se.load,prio {task:#x}"),
                "struct task_struct.pid -o".to_string(),
                "struct task_struct.comm -o".to_string(),
                "struct task_struct.se -o".to_string(),
                "struct task_struct.prio -o".to_string(),
            ],
        );
        let members = docs[0]["data"]["blocks"][0]["members"].as_array().expect("members");
        let names: Vec<&str> = members.iter().filter_map(|m| m["name"].as_str()).collect();
        assert_eq!(names, ["pid", "comm", "se.load", "prio"], "{}", d.label());
        for (i, m) in [(0, &members[0]), (1, &members[1]), (3, &members[3])] {
            let o_offset = docs[1 + i]["data"]["blocks"][0]["lines"][0]["offset"].as_u64();
            assert_eq!(m["offset"].as_u64(), o_offset, "{}: {} offset vs struct -o", d.label(), m["name"]);
            assert_eq!(hex(&m["address"]), task + o_offset.unwrap_or(0));
        }
        assert_eq!(members[0]["value"]["kind"], "integer");
        assert_eq!(members[0]["value"]["type"], "pid_t");
        assert_eq!(members[0]["value"]["value"], "0", "{}: init_task's pid", d.label());
        // se.load is inside se: its offset is se's plus load's in sched_entity.
        let se = docs[3]["data"]["blocks"][0]["lines"][0]["offset"].as_u64().unwrap_or(0);
        assert!(members[2]["offset"].as_u64().is_some_and(|o| o >= se), "{}", members[2]);
        assert_eq!(members[2]["value"]["kind"], "struct");
        let mut list = Vec::new();
        for m in members {
            let addr = hex(&m["address"]);
            scalars(&m["value"], addr, m["name"].as_str().unwrap_or_default(), &mut list);
        }
        compared += check_against_rd(&d, "task_struct.", &list);
    }
    krash_labtest::assert_compared(compared, "struct task_struct members on the lab kernels");
}

/// A whole object: every field's offset is `struct -o`'s for that member,
/// and every integer, enum, pointer and bitfield in it (nested structs
/// included) is what `rd` reads there.
#[test]
fn whole_objects_match_struct_o_and_rd() {
    let mut compared = 0;
    for d in one_per_kernel() {
        // init_task.mm is NULL (a kernel thread), and so is its active_mm
        // in some dumps: init_mm is the mm_struct every kernel has.
        for (expr, ty) in [("init_mm", "mm_struct"), ("init_task", "task_struct")] {
            let docs = json_docs(&d, &[format!("p {expr}"), format!("p &{expr}")]);
            let value = printed(&docs[0]);
            assert_eq!(value["kind"], "struct", "{}: {value}", d.label());
            assert_eq!(value["type"], format!("struct {ty}"));
            let addr = hex(&printed(&docs[1])["address"]);
            // Named members, through anonymous structs and unions, with
            // their offsets from the object's start.
            let mut named: BTreeMap<String, u64> = BTreeMap::new();
            flatten(value, 0, &mut named);
            assert!(named.len() > 20, "{}: {ty}: {} members", d.label(), named.len());
            let names: Vec<&String> = named.keys().collect();
            let o_docs = json_docs(&d, &names.iter().map(|n| format!("struct {ty}.{n} -o")).collect::<Vec<_>>());
            for (name, o_doc) in names.iter().zip(&o_docs) {
                let line = &o_doc["data"]["blocks"][0]["lines"][0];
                assert_eq!(line["offset"].as_u64(), Some(named[*name]), "{}: {ty}.{name}: {o_doc}", d.label());
            }
            let mut list = Vec::new();
            scalars(value, addr, ty, &mut list);
            assert!(list.len() > 20, "{}: {ty}: {} scalars", d.label(), list.len());
            compared += check_against_rd(&d, "", &list);
        }
    }
    krash_labtest::assert_compared(compared, "whole objects on the lab kernels");
}

/// Named members of a struct value by their offset from the object's
/// start, looking through anonymous members as `struct TYPE.member` does.
fn flatten(v: &Value, base: u64, out: &mut BTreeMap<String, u64>) {
    for f in v["fields"].as_array().into_iter().flatten() {
        let at = base + f["offset"].as_u64().unwrap_or(0);
        match f["name"].as_str() {
            Some(name) => {
                out.entry(name.to_string()).or_insert(at);
            }
            None => flatten(&f["value"], at, out),
        }
    }
}
