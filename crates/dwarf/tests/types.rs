//! The DWARF type model against the BTF model of the same vmlinux (pahole
//! derives BTF from this DWARF, so layouts and spellings must agree), gdb's
//! ptype, and the lab module's own types.
// Test code: fixtures and real-kernel checks index known data, and a
// panic is a test failure, so the untrusted-input lints do not apply.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use krash_debuginfo::{Btf, Type, TypeId, TypeKind, TypeOps, TypeProvider};
use krash_dwarf::{DwarfFile, DwarfTypes, SectionBases};

const STRUCTS: [&str; 14] = [
    "task_struct",
    "mm_struct",
    "module",
    "page",
    "kmem_cache",
    "pt_regs",
    "list_head",
    "printk_info",
    "timekeeper",
    "audit_context",
    "sk_buff",
    "inode",
    "dentry",
    "file",
];

fn open(path: &Path) -> DwarfTypes {
    DwarfTypes::new(Arc::new(DwarfFile::open(path).unwrap()))
}

fn btf(path: &Path) -> Btf {
    Btf::from_elf(&krash_core::MappedFile::open(path).unwrap(), None).unwrap()
}

/// Heap memory of this process in MiB (the mapped file is not counted).
fn heap_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("RssAnon:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

/// BTF records a zero-length array `[0]` like a flexible one `[]`.
fn btf_spelling(dwarf_spelling: String) -> String {
    dwarf_spelling.replace("[0]", "[]")
}

/// Compares two aggregates member by member, descending into anonymous
/// members and members of anonymous aggregate type.
fn assert_same_layout(dwarf: &DwarfTypes, d: TypeId, btf: &Btf, b: TypeId, what: &str, depth: usize) {
    assert!(depth < 8, "{what}: nests too deep");
    let (_, dt) = dwarf.resolve(d).unwrap();
    let (_, bt) = btf.resolve(b).unwrap();
    let (Some(dc), Some(bc)) = (dt.composite(), bt.composite()) else {
        assert_eq!(btf_spelling(dwarf.type_name(d)), btf.type_name(b), "{what}");
        return;
    };
    assert_eq!(std::mem::discriminant(&dt), std::mem::discriminant(&bt), "{what}: struct vs union");
    assert_eq!((&dc.name, dc.size), (&bc.name, bc.size), "{what}");
    let names = |c: &krash_debuginfo::Composite| c.members.iter().map(|m| m.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(dc), names(bc), "{what}: member names");
    for (dm, bm) in dc.members.iter().zip(&bc.members) {
        let member = format!("{what}.{}", dm.name.as_deref().unwrap_or("<anon>"));
        assert_eq!((dm.bit_offset, dm.bitfield_size), (bm.bit_offset, bm.bitfield_size), "{member}");
        assert_eq!(btf_spelling(dwarf.type_name(dm.ty)), btf.type_name(bm.ty), "{member}: type");
        let anonymous = dwarf.resolve(dm.ty).unwrap().1.composite().is_some_and(|c| c.name.is_none());
        if dm.name.is_none() || anonymous {
            assert_same_layout(dwarf, dm.ty, btf, bm.ty, &member, depth + 1);
        }
    }
}

#[test]
fn structs_match_btf() {
    for kv in common::KERNELS {
        let Some(path) = common::vmlinux(kv) else { continue };
        let dwarf = open(&path);
        let btf = btf(&path);
        let heap_before = heap_mib();
        let stats = dwarf.index_stats().unwrap();
        eprintln!("{kv}: index {stats:?}, heap +{} MiB", heap_mib().saturating_sub(heap_before));
        assert_eq!(stats.bad_units, 0);
        for name in STRUCTS {
            let t = Instant::now();
            let d = dwarf.find_type(TypeKind::Struct, name).unwrap();
            let b = btf.find_type(TypeKind::Struct, name).unwrap();
            assert_same_layout(&dwarf, d, &btf, b, name, 0);
            assert_eq!(dwarf.size_of(d).unwrap(), btf.size_of(b).unwrap(), "{kv} {name}");
            assert_eq!(btf_spelling(dwarf.ptype(d)), btf.ptype(b), "{kv} ptype struct {name}");
            eprintln!("{kv}: struct {name} agrees ({:?})", t.elapsed());
        }
    }
}

#[test]
fn enums_functions_and_typedefs_match_btf() {
    for kv in common::KERNELS {
        let Some(path) = common::vmlinux(kv) else { continue };
        let dwarf = open(&path);
        let btf = btf(&path);
        for name in ["pid_type", "pageflags", "zone_stat_item", "node_stat_item", "cpuhp_state"] {
            let d = dwarf.find_type(TypeKind::Enum, name).unwrap();
            let b = btf.find_type(TypeKind::Enum, name).unwrap();
            let (dp, bp) = (dwarf.ptype(d), btf.ptype(b));
            // BTF before 6.0 has no signed enums: cpuhp_state's -1 reads
            // as 4294967295 there (and the next value is then spelled out).
            if dp != bp && name == "cpuhp_state" {
                let unsigned = dp.replace("= -1, CPUHP_OFFLINE,", "= 4294967295, CPUHP_OFFLINE = 0,");
                assert_eq!(unsigned, bp, "{kv} enum {name} (BTF without signedness)");
                continue;
            }
            assert_eq!(dp, bp, "{kv} enum {name}");
        }
        for constant in ["PIDTYPE_TGID", "NR_FREE_PAGES", "PG_locked", "CPUHP_ONLINE"] {
            let d = dwarf.find_enumerator(constant).unwrap().map(|(_, v)| v);
            let b = btf.find_enumerator(constant).unwrap().map(|(_, v)| v);
            assert!(d.is_some(), "{kv}: {constant}");
            assert_eq!(d, b, "{kv}: {constant}");
        }
        for function in ["schedule", "panic", "vfs_read", "kmem_cache_alloc", "printk_get_next_message"] {
            let (Some(d), Some(b)) = (dwarf.find_function(function).unwrap(), btf.find_function(function).unwrap())
            else {
                continue;
            };
            assert_eq!(dwarf.type_name(d), btf.type_name(b), "{kv}: {function}");
        }
        for typedef in ["pgd_t", "atomic_t", "spinlock_t", "cpumask_var_t", "u64", "pteval_t"] {
            let d = dwarf.find_type_by_spelling(typedef).unwrap();
            let b = btf.find_type_by_spelling(typedef).unwrap();
            assert_eq!(dwarf.ptype(d), btf.ptype(b), "{kv}: {typedef}");
            assert_eq!(dwarf.size_of(d).unwrap(), btf.size_of(b).unwrap(), "{kv}: {typedef}");
        }
        let ulong = dwarf.find_type_by_spelling("unsigned long").unwrap();
        assert_eq!(dwarf.type_name(ulong), "unsigned long");
    }
}

#[test]
fn global_and_percpu_variables() {
    for kv in common::KERNELS {
        let Some(path) = common::vmlinux(kv) else { continue };
        let dwarf = open(&path);
        let btf = btf(&path);

        // Defined by the linker script: DWARF has only declarations.
        let jiffies = dwarf.find_variable("jiffies").unwrap().unwrap();
        assert_eq!(dwarf.type_name(jiffies.ty), "volatile unsigned long");
        assert_eq!(jiffies.section, None);

        // The core timekeeper: an anonymous struct's tk_core up to 6.x,
        // timekeeper_data[] of struct tk_data in 7.x.
        let (tk_name, tk_type) = match dwarf.find_variable_placement("tk_core").unwrap() {
            Some(_) => ("tk_core", "struct {...}"),
            None => ("timekeeper_data", "struct tk_data [2]"),
        };
        let tk_core = dwarf.find_variable_placement(tk_name).unwrap().unwrap();
        let tk_type_name = dwarf.type_name(tk_core.variable.ty);
        assert!(tk_type_name == tk_type || tk_type_name.starts_with("struct tk_data ["), "{kv}: {tk_type_name}");
        assert_eq!(tk_core.variable.section.as_deref(), Some(".bss"));
        if tk_name == "tk_core" {
            let timekeeper = dwarf.member_path(tk_core.variable.ty, "timekeeper").unwrap();
            assert_eq!(dwarf.type_name(timekeeper.ty), "struct timekeeper");
            assert_eq!(
                dwarf.type_name(dwarf.member_path(tk_core.variable.ty, "seq").unwrap().ty),
                "seqcount_raw_spinlock_t"
            );
        }
        assert!(tk_core.address.unwrap() > 0xffff_ffff_8000_0000);

        let init_task = dwarf.find_variable("init_task").unwrap().unwrap();
        assert_eq!(dwarf.type_name(init_task.ty), "struct task_struct");
        assert_eq!(init_task.section.as_deref(), Some(".data"));
        assert!(!init_task.is_percpu());

        // Per-cpu variables sit at their per-cpu offset in .data..percpu;
        // BTF's DATASEC records the same offsets.
        let mut percpu = vec!["runqueues", "irq_stat", "cpu_info"];
        // 6.2 through 6.x gathered the hot ones in pcpu_hot; before and
        // after (7.x) they are variables of their own.
        if dwarf.find_variable("pcpu_hot").unwrap().is_some() {
            percpu.push("pcpu_hot");
        } else {
            percpu.extend(["hardirq_stack_ptr", "current_task", "cpu_number"]);
        }
        for name in percpu {
            let d = dwarf.find_variable(name).unwrap().unwrap_or_else(|| panic!("{kv}: {name}"));
            assert!(d.is_percpu(), "{kv}: {name} {d:?}");
            // pahole put per-cpu variables in BTF from 1.18 (Debian's 5.10
            // build has none): DWARF alone then.
            let Some(b) = btf.find_variable(name).unwrap() else {
                assert!(btf.find_variable("runqueues").unwrap().is_none(), "{kv}: BTF lacks only {name}");
                assert_eq!(kv, krash_labtest::KERNELS[0], "{kv}: BTF without per-cpu variables");
                continue;
            };
            assert_eq!(d.section_offset, b.section_offset, "{kv}: {name}");
            assert_eq!(dwarf.type_name(d.ty), btf.type_name(b.ty), "{kv}: {name}");
        }
        assert!(dwarf.find_variable("no_such_variable_anywhere").unwrap().is_none());
    }
}

/// `gdb -batch -ex 'ptype ...' vmlinux` output, saved in tests/data by
/// `tests/data/gdb-ptype.sh`.
#[test]
fn ptype_matches_gdb() {
    for kv in krash_labtest::TRANSCRIPT_KERNELS {
        let Some(path) = common::vmlinux(kv) else { continue };
        let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/gdb-ptype-{kv}.txt"));
        let expected = std::fs::read_to_string(&data).unwrap();
        let dwarf = open(&path);
        let mut ours = String::new();
        let ptype =
            |spelling: &str| format!("type = {}\n", dwarf.ptype(dwarf.find_type_by_spelling(spelling).unwrap()));
        for spelling in [
            "struct list_head",
            "struct hlist_node",
            "struct file_operations",
            "struct timekeeper",
            "struct page",
            "struct kmem_cache",
            "struct pt_regs",
            "enum pid_type",
        ] {
            ours.push_str(&ptype(spelling));
        }
        let tk_core = dwarf.find_variable("tk_core").unwrap().unwrap();
        ours.push_str(&format!("type = {}\n", dwarf.type_name(tk_core.ty)));
        ours.push_str(&format!("type = {}\n", dwarf.ptype(tk_core.ty)));
        let jiffies = dwarf.find_variable("jiffies").unwrap().unwrap();
        ours.push_str(&format!("type = {}\n", dwarf.type_name(jiffies.ty)));
        ours.push_str(&ptype("struct sk_buff"));
        if ours != expected {
            let mine = std::env::temp_dir().join(format!("krash-dwarf-ptype-{kv}.txt"));
            std::fs::write(&mine, &ours).unwrap();
            panic!("{kv}: ptype differs from gdb: diff {} {}", data.display(), mine.display());
        }
    }
}

fn lab_module(kv: &str) -> Option<PathBuf> {
    krash_labtest::scenario_module(kv, "null-member")
}

#[test]
fn lab_module_widget_types() {
    for kv in common::KERNELS {
        let Some(path) = lab_module(kv) else { continue };
        let dwarf = DwarfTypes::new(Arc::new(DwarfFile::open_with_bases(&path, &SectionBases::new()).unwrap()));
        let widget = dwarf.find_type(TypeKind::Struct, "widget").unwrap();
        assert_eq!(dwarf.size_of(widget).unwrap(), 48);
        let offsets: Vec<(String, u64)> = ["name", "id", "ops", "inner", "node", "node.prev"]
            .iter()
            .map(|m| (m.to_string(), dwarf.member_path(widget, m).unwrap().byte_offset()))
            .collect();
        let expected: Vec<(String, u64)> =
            [("name", 0), ("id", 8), ("ops", 16), ("inner", 24), ("node", 32), ("node.prev", 40)]
                .iter()
                .map(|(m, o)| (m.to_string(), *o))
                .collect();
        assert_eq!(offsets, expected, "{kv}");
        assert_eq!(
            dwarf.ptype(widget),
            "struct widget {\n    const char *name;\n    unsigned long id;\n    struct widget_ops *ops;\n    \
             struct widget_inner *inner;\n    struct list_head node;\n}"
        );
        let inner = dwarf.find_type_by_spelling("struct widget_inner").unwrap();
        let label = dwarf.member_path(inner, "label").unwrap();
        assert_eq!((label.byte_offset(), dwarf.type_name(label.ty)), (28, "char [20]".to_string()));
        assert_eq!(dwarf.size_of(inner).unwrap(), 48);
        let ops = dwarf.find_type_by_spelling("struct widget_ops").unwrap();
        let flush = dwarf.member_path(ops, "flush").unwrap();
        assert_eq!(dwarf.type_name(flush.ty), "int (*)(struct widget *)");
        assert!(matches!(dwarf.type_by_id(ops).unwrap(), Type::Struct(_)));
    }
}
