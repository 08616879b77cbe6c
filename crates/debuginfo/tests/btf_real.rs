//! BTF of the lab kernels checked against gdb's view of their DWARF
//! (tests/data/gdb-<kv>.txt: `ptype /o`, `ptype` and `whatis` output).
// Test code: fixtures and real-kernel checks index known data, and a
// panic is a test failure, so the untrusted-input lints do not apply.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod common;

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use krash_debuginfo::{elf_section, Btf, Type, TypeKind, TypeOps, TypeProvider};

/// One gdb `ptype /o` or `ptype` block: the top-level member lines.
struct GdbStruct {
    /// Member declaration text (without `;`) -> (byte offset, size).
    offsets: HashMap<String, (u64, u64)>,
    /// Plain `ptype` member lines, when that block was captured.
    plain: HashSet<String>,
    size: Option<u64>,
}

fn parse_gdb(kv: &str) -> HashMap<String, GdbStruct> {
    let text = std::fs::read_to_string(format!("{}/tests/data/gdb-{kv}.txt", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut out: HashMap<String, GdbStruct> = HashMap::new();
    let mut current: Option<(String, bool)> = None; // (struct, is /o block)
    for line in text.lines() {
        if let Some(pos) = line.find("type = ") {
            let rest = &line[pos + 7..];
            if let Some(name) = rest.strip_suffix(" {") {
                current = Some((name.to_string(), line.starts_with("/*")));
                out.entry(name.to_string()).or_insert_with(|| GdbStruct {
                    offsets: HashMap::new(),
                    plain: HashSet::new(),
                    size: None,
                });
            }
            continue;
        }
        let Some((name, is_offsets)) = &current else {
            continue;
        };
        let entry = out.get_mut(name).unwrap();
        if *is_offsets {
            // "/* off[: bit] | size */    decl;" at exactly 4 spaces = top level
            if let Some(body) = line.strip_prefix("/*") {
                let Some((nums, decl)) = body.split_once(" */    ") else {
                    continue;
                };
                if decl.starts_with(' ') || !decl.ends_with(';') {
                    continue;
                }
                let Some((off, size)) = nums.split_once('|') else {
                    continue;
                };
                let off: u64 = off.split(':').next().unwrap().trim().parse().unwrap_or(u64::MAX);
                let size: u64 = size.trim().parse().unwrap_or(u64::MAX);
                entry.offsets.insert(decl.trim_end_matches(';').to_string(), (off, size));
            } else if let Some(total) = line.trim().strip_prefix("/* total size (bytes):") {
                if line.starts_with("                               /*") {
                    entry.size = total.trim_end_matches("*/").trim().parse().ok();
                }
            }
        } else if let Some(decl) = line.strip_prefix("    ") {
            if !decl.starts_with(' ') && decl.ends_with(';') {
                entry.plain.insert(decl.trim_end_matches(';').to_string());
            }
        }
    }
    out
}

#[test]
fn vmlinux_btf_matches_gdb() {
    for kv in krash_labtest::TRANSCRIPT_KERNELS {
        let Some(path) = common::vmlinux(kv) else {
            continue;
        };
        let map = common::mmap(&path);
        let section = elf_section(&map, ".BTF").unwrap().unwrap();
        let _ = Btf::parse(section).unwrap();
        let t0 = Instant::now();
        let btf = Btf::parse(section).unwrap();
        println!("{kv}: {} BTF types ({} bytes) parsed and indexed in {:?}", btf.len(), section.len(), t0.elapsed());

        let task = btf.find_type_by_spelling("struct task_struct").unwrap();
        let comm = btf.member_path(task, "comm").unwrap();
        assert_eq!(btf.type_name(comm.ty), "char [16]");
        assert_eq!(btf.type_name(btf.member_path(task, "tasks").unwrap().ty), "struct list_head");
        assert_eq!(btf.type_name(btf.member_path(task, "mm").unwrap().ty), "struct mm_struct *");
        assert_eq!(btf.type_name(btf.member_path(task, "sched_class").unwrap().ty), "const struct sched_class *");
        assert!(btf.member_path(task, "pid").is_ok());
        assert!(btf.offset_of("struct task_struct", "se.run_node").is_ok());

        let gdb = parse_gdb(kv);
        let mut checked = 0;
        for (spelling, expected) in &gdb {
            let id = btf.find_type_by_spelling(spelling).unwrap();
            if let Some(size) = expected.size {
                assert_eq!(btf.size_of(id).unwrap(), size, "{kv}: sizeof {spelling}");
            }
            let (_, ty) = btf.resolve(id).unwrap();
            let composite = ty.composite().unwrap();
            for m in &composite.members {
                let Some(name) = &m.name else { continue };
                let mut decl = btf.declaration(m.ty, name);
                if let Some(bits) = m.bitfield_size {
                    decl = format!("{decl} : {bits}");
                }
                if !expected.plain.is_empty() {
                    assert!(expected.plain.contains(&decl), "{kv}: {spelling}: gdb has no member line '{decl}'");
                }
                let (_, member_ty) = btf.resolve(m.ty).unwrap();
                if matches!(member_ty, Type::Struct(_) | Type::Union(_)) {
                    continue; // gdb expands these over several lines
                }
                let &(off, size) =
                    expected.offsets.get(&decl).unwrap_or_else(|| panic!("{kv}: {spelling}: no /o line for '{decl}'"));
                assert_eq!(m.bit_offset / 8, off, "{kv}: {spelling}.{name} offset");
                if m.bitfield_size.is_none() {
                    assert_eq!(btf.size_of(m.ty).unwrap(), size, "{kv}: {spelling}.{name} size");
                }
                checked += 1;
            }
        }
        println!("{kv}: {checked} members agree with gdb on declaration, offset and size");
        assert!(checked > 300);

        // Functions and per-cpu variables.
        let schedule = btf.find_function("schedule").unwrap().unwrap();
        assert_eq!(btf.type_name(schedule), "void (void)");
        let runqueues = btf.find_variable("runqueues").unwrap().unwrap();
        assert!(runqueues.is_percpu(), "{runqueues:?}");
        assert_eq!(btf.type_name(runqueues.ty), "struct rq");
        assert_eq!(
            btf.find_type(TypeKind::Base, "unsigned long").map(|id| btf.type_name(id)).unwrap(),
            "unsigned long"
        );
        assert!(btf.find_types(TypeKind::Struct, "no_such_struct_xyz").unwrap().is_empty());
        let (pid_type, tgid) = btf.find_enumerator("PIDTYPE_TGID").unwrap().unwrap();
        assert_eq!(tgid, 1);
        assert_eq!(btf.type_name(pid_type), "enum pid_type");
        assert_eq!(btf.enumerator_name(pid_type, 0).unwrap().as_deref(), Some("PIDTYPE_PID"));
        for id in btf.ids() {
            let _ = btf.type_by_id(id); // every record decodes without panicking
        }
    }
}

/// `ptype struct X` as gdb prints it (the plain blocks in the gdb capture).
/// Both captures: the hand-picked structs and 120 randomly chosen
/// structs/unions (gdb-ptype-sample-<kv>.txt).
fn gdb_ptype_blocks(kv: &str) -> Vec<(String, String)> {
    let dir = format!("{}/tests/data", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(format!("{dir}/gdb-{kv}.txt")).unwrap()
        + &std::fs::read_to_string(format!("{dir}/gdb-ptype-sample-{kv}.txt")).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("type = ") {
            if let Some(name) = rest.strip_suffix(" {") {
                current = Some((name.to_string(), format!("{line}\n")));
                continue;
            }
        }
        if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
            if line == "}" {
                blocks.push(current.take().unwrap());
            } else {
                body.push('\n');
            }
        }
    }
    blocks
}

#[test]
fn ptype_output_matches_gdb() {
    for kv in krash_labtest::TRANSCRIPT_KERNELS {
        let Some(path) = common::vmlinux(kv) else {
            continue;
        };
        let map = common::mmap(&path);
        let btf = Btf::parse(elf_section(&map, ".BTF").unwrap().unwrap()).unwrap();
        let blocks = gdb_ptype_blocks(kv);
        assert!(blocks.len() >= 125, "{} blocks", blocks.len());
        for (spelling, expected) in blocks {
            let id = btf.find_type_by_spelling(&spelling).unwrap();
            let ours = format!("type = {}", btf.ptype(id));
            if ours != expected {
                for (n, (a, b)) in ours.lines().zip(expected.lines()).enumerate() {
                    if a != b {
                        panic!("{kv}: ptype {spelling}: line {n} differs:\n  ours: {a}\n  gdb:  {b}");
                    }
                }
                panic!("{kv}: ptype {spelling}: {} lines vs gdb's {}", ours.lines().count(), expected.lines().count());
            }
        }
        let comm = btf.member_path(btf.find_type_by_spelling("struct task_struct").unwrap(), "comm").unwrap();
        assert_eq!(btf.pointer_type_name(comm.ty), "char (*)[16]");
    }
}

#[test]
fn module_split_btf_resolves_against_vmlinux() {
    let mut without_btf = 0;
    for kv in common::KERNELS {
        let Some(path) = common::vmlinux(kv) else {
            continue;
        };
        let map = common::mmap(&path);
        let base = std::sync::Arc::new(Btf::parse(elf_section(&map, ".BTF").unwrap().unwrap()).unwrap());
        let Some(ko) = krash_labtest::kernel_module(kv, "net/key/af_key.ko") else {
            continue;
        };
        let bytes = std::fs::read(&ko).unwrap_or_else(|e| panic!("{}: {e}", ko.display()));
        // Modules carry BTF from 5.11 on (CONFIG_DEBUG_INFO_BTF_MODULES).
        if elf_section(&bytes, ".BTF").unwrap().is_none() {
            println!("{kv}: af_key.ko has no .BTF (modules carry BTF from 5.11 on)");
            without_btf += 1;
            continue;
        }
        let module = Btf::from_elf(&bytes, Some(base.clone())).unwrap();
        assert_eq!(module.ids().next().unwrap().0, base.next_id() as u64);
        let pfkey = module.find_type_by_spelling("struct pfkey_sock").unwrap();
        assert!(pfkey.0 >= base.next_id() as u64, "pfkey_sock should be a module type");
        let sk = module.member_path(pfkey, "sk").unwrap();
        assert_eq!(sk.byte_offset(), 0);
        assert_eq!(module.type_name(sk.ty), "struct sock");
        assert!(sk.ty.0 < base.next_id() as u64, "struct sock comes from vmlinux");
        // Base types stay reachable through the module provider.
        assert!(module.find_type_by_spelling("struct task_struct").is_ok());
        assert!(module.size_of(pfkey).unwrap() > module.size_of(sk.ty).unwrap());
        println!("{kv}: af_key.ko: {} split types; {}", module.len(), module.ptype(pfkey).lines().count());
    }
    // Only the oldest lab kernel (5.10) predates module BTF.
    assert!(without_btf <= 1, "{without_btf} lab kernels' modules lack BTF");
}
