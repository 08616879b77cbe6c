//! The big machine (lab/big/README.md): 32 CPUs, 16 GiB, ~20 800 tasks, a
//! million-entry list and 1.48 million module slab objects. krash's answers
//! at that size against what the module and the user-space zoo made
//! (`expected`, `zoo`) and drgn's account of the same dump (`drgn.json`).
//! Speed and memory are measured by `scripts/bench --scale`, not here.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::{krash, sys_fields};
use serde_json::Value;

/// The big machine's manifest, or `None` after `skip_or_fail`.
fn big() -> Option<Value> {
    let found = krash_labtest::big_manifests().into_iter().next().map(|(_, m)| m);
    if found.is_none() {
        krash_labtest::skip_or_fail("the lab has no big machine (lab/build makes it: lab/big/README.md)");
    }
    found
}

fn dump_file(m: &Value, format: &str) -> String {
    m["dumps"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["format"] == format))
        .and_then(|d| d["file"].as_str())
        .unwrap_or_else(|| panic!("big.json lists no {format} dump"))
        .to_string()
}

fn drgn(m: &Value) -> Value {
    let path = PathBuf::from(m["drgn"].as_str().expect("big.json names drgn.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("drgn.json is readable")).expect("drgn.json is JSON")
}

/// Runs `commands` on the big machine's dump of `format`; fails on any error output.
fn on(m: &Value, format: &str, commands: &str) -> String {
    let vmlinux = m["vmlinux"].as_str().expect("big.json names its vmlinux");
    let run = krash(&["-s", vmlinux, &dump_file(m, format)], commands);
    assert!(run.success && run.stderr.trim().is_empty(), "{format}: {commands:?} failed:\n{}", run.stderr);
    run.stdout
}

fn n(v: &Value) -> usize {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}")) as usize
}

/// `ps` rows: (pid, state, comm), the '>' mark taken off.
fn ps_rows(text: &str) -> Vec<(i64, String, String)> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let w: Vec<&str> = l.trim_start_matches('>').split_whitespace().collect();
            let pid = w.first()?.parse().ok()?;
            (w.len() >= 9).then(|| (pid, w[4].to_string(), w[8..].join(" ")))
        })
        .map(|(pid, st, comm)| (pid, st, comm.trim_matches(['[', ']']).to_string()))
        .collect()
}

/// crash's two-letter states as drgn's (the kernel's) one-letter ones.
fn state_letter(st: &str) -> &str {
    match st {
        "RU" => "R",
        "IN" => "S",
        "UN" => "D",
        "ST" => "T",
        "TR" => "t",
        "ZO" => "Z",
        "DE" => "X",
        "PA" => "P",
        "ID" => "I",
        other => panic!("unexpected ps state {other}"),
    }
}

#[test]
fn ps_lists_every_task_in_its_state_on_both_dumps() {
    let Some(m) = big() else { return };
    let drgn = drgn(&m);
    let cpus = n(&m["expected"]["cpus"]);
    for format in ["elf", "kdump-zlib"] {
        let rows = ps_rows(&on(&m, format, "ps\n"));
        let (idle, tasks): (Vec<_>, Vec<_>) = rows.iter().partition(|r| r.0 == 0);
        assert_eq!(idle.len(), cpus, "{format}: one idle task (PID 0) per CPU");
        assert_eq!(tasks.len(), n(&drgn["tasks"]), "{format}: ps lists every task drgn walks");
        let mut states: BTreeMap<String, usize> = BTreeMap::new();
        for t in &tasks {
            *states.entry(state_letter(&t.1).to_string()).or_default() += 1;
        }
        let drgn_states: BTreeMap<String, usize> =
            drgn["task_states"].as_object().expect("drgn task_states").iter().map(|(k, v)| (k.clone(), n(v))).collect();
        assert_eq!(states, drgn_states, "{format}: tasks by state, krash vs drgn");
        // What the module made, by name and state (they never change after the module loads).
        let made = &m["expected"]["module_kthreads"];
        for (kind, comm, st) in [
            ("sleep", "kbig_sleep/", "IN"),
            ("idle", "kbig_idle/", "ID"),
            ("disk", "kbig_disk/", "UN"),
            ("holder", "kbig_holder/", "UN"),
            ("waiter", "kbig_waiter/", "UN"),
            ("park", "kbig_park/", "PA"),
        ] {
            let seen = tasks.iter().filter(|t| t.2.starts_with(comm) && t.1 == st).count();
            assert_eq!(seen, n(&made[kind]), "{format}: {comm}* tasks in state {st}");
        }
        let zoo = &m["zoo"];
        let zombies = tasks.iter().filter(|t| t.2 == "krash-zoo" && t.1 == "ZO").count();
        assert_eq!(zombies, n(&zoo["zombies"]), "{format}: the zoo's zombies");
        let stopped = tasks.iter().filter(|t| t.2 == "krash-zoo" && t.1 == "ST").count();
        assert_eq!(stopped, n(&zoo["stopped"]), "{format}: the zoo's stopped processes");
    }
}

#[test]
fn sys_names_the_machine_as_drgn_and_the_module_do() {
    let Some(m) = big() else { return };
    let drgn = drgn(&m);
    let cpus = n(&m["expected"]["cpus"]);
    for format in ["elf", "kdump-zlib"] {
        let fields = sys_fields(&on(&m, format, "sys\n"));
        let get = |k: &str| common::field(&fields, k).unwrap_or_else(|| panic!("{format}: sys has no {k}")).to_string();
        assert!(get("CPUS").starts_with(&format!("{cpus} ")), "{format}: CPUS {}", get("CPUS"));
        assert_eq!(get("MEMORY"), "16 GB", "{format}");
        assert_eq!(get("TASKS"), (n(&drgn["tasks"]) + cpus).to_string(), "{format}: TASKS = drgn's tasks + idle");
        assert!(get("PANIC").contains("Oops"), "{format}: PANIC {}", get("PANIC"));
    }
}

#[test]
fn the_oops_and_every_cpu_are_where_the_module_put_them() {
    let Some(m) = big() else { return };
    let drgn = drgn(&m);
    let expected = &m["expected"];
    // The panic task: in panic()'s endless delay (panic=0, no kdump) over the
    // oops' exception frame, whose RIP is the faulting function.
    let bt = on(&m, "elf", "bt\n");
    let rip = format!("[exception RIP: {}+", expected["rip_function"].as_str().unwrap());
    let after = bt.split_once(&rip).unwrap_or_else(|| panic!("bt has no {rip}:\n{bt}")).1;
    let callers: Vec<&str> = after.lines().filter(|l| l.trim_start().starts_with('#')).take(3).collect();
    for (frame, want) in callers.iter().zip(["krash_big_shard_objects", "krash_big_census", "krash_big_oops"]) {
        assert!(frame.contains(want), "after the exception frame, {want}: {frame}\n{bt}");
    }
    let all = on(&m, "elf", "bt -a\n");
    let headers: Vec<&str> = all.lines().filter(|l| l.starts_with("PID: ")).collect();
    assert_eq!(headers.len(), n(&expected["cpus"]), "bt -a: one task per CPU");
    // Each CPU's task is drgn's cpu_curr.
    for (cpu, curr) in drgn["cpus"].as_object().expect("drgn cpus") {
        let want = format!("CPU: {cpu} ");
        let header = headers.iter().find(|h| h.contains(&want)).unwrap_or_else(|| panic!("bt -a has no CPU {cpu}"));
        assert!(header.contains(&format!("PID: {} ", curr["pid"])), "CPU {cpu}: {header} vs drgn {curr}");
    }
    let spinning = headers.iter().filter(|h| h.contains("\"kbig_spin/")).count();
    assert_eq!(spinning, n(&expected["spinning_cpus"]), "bt -a: a spinner on every other CPU");
    let report = on(&m, "elf", "analyze\n");
    let member = &expected["null_member"];
    for want in [member["struct"].as_str().unwrap(), member["member"].as_str().unwrap()] {
        assert!(report.contains(want), "analyze names {want}:\n{report}");
    }
}

#[test]
fn list_walks_the_million_entries_in_order() {
    let Some(m) = big() else { return };
    let list = &m["expected"]["list"];
    let entries = n(&list["entries"]);
    for format in ["elf", "kdump-zlib"] {
        let out = on(&m, format, "list -H krash_big_list\n");
        let addrs: Vec<&str> = out.lines().collect();
        assert_eq!(addrs.len(), entries, "{format}: list -H krash_big_list");
        let unique: std::collections::HashSet<&&str> = addrs.iter().collect();
        assert_eq!(unique.len(), entries, "{format}: each entry once");
        // The link is the first member, so entry = node; serials run 0.. in list order.
        let probe = [0, entries / 2, entries - 1];
        // The module's types come from its own object file, as in crash.
        let mut commands = format!("mod -s krash_big {}\n", m["module_ko"].as_str().unwrap());
        commands.extend(probe.iter().map(|&i| format!("struct krash_big_node.serial {}\n", addrs[i])));
        let serials: Vec<usize> = on(&m, format, &commands)
            .lines()
            .filter_map(|l| l.trim().strip_prefix("serial = "))
            .map(|v| v.trim_end_matches(',').parse().expect("a decimal serial"))
            .collect();
        assert_eq!(serials, probe, "{format}: serials of entries {probe:?}");
    }
}

#[test]
fn kmem_s_counts_every_module_object() {
    let Some(m) = big() else { return };
    let caches = &m["expected"]["caches"];
    let node = &m["expected"]["node_cache"];
    for format in ["elf", "kdump-zlib"] {
        let lines = common::cache_lines(&on(&m, format, "kmem -s\n"));
        let allocated = |name: &str| -> usize {
            let row = lines.get(name).unwrap_or_else(|| panic!("{format}: kmem -s has no {name}"));
            row[1].parse().unwrap_or_else(|_| panic!("{format}: {name} ALLOCATED {}", row[1]))
        };
        assert_eq!(allocated(node["name"].as_str().unwrap()), n(&node["objects"]), "{format}: the list's cache");
        for i in 0..n(&caches["count"]) {
            let name = format!("{}{i:02}", caches["prefix"].as_str().unwrap());
            assert_eq!(allocated(&name), n(&caches["objects_each"]), "{format}: {name}");
        }
    }
}

#[test]
fn foreach_bt_gives_every_task_a_trace() {
    let Some(m) = big() else { return };
    let drgn = drgn(&m);
    let cpus = n(&m["expected"]["cpus"]);
    let out = on(&m, "kdump-zlib", "foreach bt\n");
    let headers = out.lines().filter(|l| l.starts_with("PID: ")).count();
    assert_eq!(headers, n(&drgn["tasks"]) + cpus, "foreach bt: a trace per task");
    // The zoo's zombies exited: their stacks are freed, and bt says so.
    let freed = out.matches("its kernel stack is freed").count();
    assert_eq!(freed, n(&m["zoo"]["zombies"]), "zombies without a stack");
    // Every sleeping module kthread is in its thread function.
    let in_thread_fn =
        out.split("\n\n").filter(|t| t.contains("\"kbig_sleep/") && t.contains("krash_big_kthread")).count();
    assert_eq!(in_thread_fn, n(&m["expected"]["module_kthreads"]["sleep"]), "kbig_sleep traces");
}

#[test]
fn mounts_and_files_are_what_the_zoo_made() {
    let Some(m) = big() else { return };
    let drgn = drgn(&m);
    let out = on(&m, "elf", "mount\n");
    let rows: Vec<Vec<&str>> = out.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), n(&drgn["mounts"]), "mount lists every mount drgn walks");
    let tmpfs = rows.iter().filter(|r| r.get(2) == Some(&"tmpfs")).count();
    assert_eq!(tmpfs, n(&drgn["mounts_by_type"]["tmpfs"]), "tmpfs mounts");
    let zoo_mounts = rows.iter().filter(|r| r.get(4).is_some_and(|d| d.starts_with("/mnt/m"))).count();
    assert_eq!(zoo_mounts, n(&m["zoo"]["mounts"]), "the zoo's mounts under /mnt");
    let holder = ps_rows(&on(&m, "elf", "ps\n"))
        .into_iter()
        .find(|r| r.2 == "zoo-files")
        .expect("ps has the zoo's file holder")
        .0;
    let files = on(&m, "elf", &format!("files {holder}\n"));
    let held = files.lines().filter(|l| l.contains("/tmp/held-")).count();
    assert_eq!(held, n(&m["zoo"]["held_files"]), "files {holder}: the files it holds");
}

#[test]
fn log_ends_as_drgns_does() {
    let Some(m) = big() else { return };
    let drgn_log = std::fs::read_to_string(m["drgn_dmesg"].as_str().expect("big.json names dmesg.drgn.txt"))
        .expect("dmesg.drgn.txt is readable");
    let log = on(&m, "elf", "log\n");
    let tail = |text: &str| text.lines().rev().take(40).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(tail(&log), tail(&drgn_log), "the last 40 lines of the log, krash vs drgn");
    assert!(log.contains(m["expected"]["panic_string"].as_str().unwrap()), "the log has the oops");
}
