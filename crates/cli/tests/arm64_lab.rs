//! krash on the lab's arm64 dumps (Debian cloud-arm64 kernels under
//! qemu-system-aarch64, read on this x86-64 host), against the same
//! oracles as the x86-64 dumps: the kernel's own oops text on the console,
//! vmcore-dmesg, and drgn 0.3.0 on the same file.
//!
//! - every dump opens, names its kernel and machine, and counts the tasks
//!   drgn lists (plus the idle tasks, which drgn leaves out);
//! - the panicking task's backtrace holds the console's `Call trace:` in
//!   order, through the exception frame (QEMU's dumps catch the CPU inside
//!   panic, above the exception: drgn repeats the faulting function there);
//! - every sleeping task's frames are drgn's, function by function;
//! - `log` ends as vmcore-dmesg does;
//! - every command of crash-peer-commands finishes without a panic.

mod common;

use std::collections::BTreeMap;

use common::{arm64_lab_dumps, cache_lines, console_of, drgn_allocated_objects, field, krash_on, sys_fields};
use serde_json::Value;

/// A console frame krash may name differently (see [`console_call_traces`]).
const ANY_FUNCTION: &str = "*";

/// Function names of each `Call trace:` block on the console (arm64
/// prints `  function+0x18/0x30 [module]`, one per line, until a line
/// that is not a frame), in console order.
fn console_call_traces(console: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut lines = console.lines();
    while lines.by_ref().any(|l| l.trim_end().ends_with("Call trace:")) {
        let mut block = Vec::new();
        for line in lines.by_ref() {
            // "[   15.117976]  krash_widget_generation+0x18/0x30 [krash_scenarios]"
            let text = line.split_once("] ").map_or(line, |(_, rest)| rest).trim();
            // A pc in no function (`0x0`, a call through NULL) is a frame
            // line without a name.
            if text.strip_prefix("0x").is_some_and(|hex| !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()))
            {
                continue;
            }
            let Some((name, offset)) = text.split_once("+0x") else { break };
            if name.contains(' ') || name.is_empty() {
                break;
            }
            // `next_function+0x0/...`: the return address just past a call
            // to a noreturn function (panic) at its caller's very end; the
            // kernel names the next function, krash (looking up ret - 1)
            // the caller: either matches.
            if offset.starts_with("0/") {
                block.push(ANY_FUNCTION.to_string());
            } else {
                block.push(name.to_string());
            }
        }
        blocks.push(block);
    }
    blocks
}

/// `PID -> function names` of every task block in `foreach bt` text.
fn frames_by_pid(text: &str) -> BTreeMap<u64, Vec<String>> {
    let mut out: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut current: Option<u64> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("PID: ") {
            current = rest.split_whitespace().next().and_then(|p| p.parse().ok());
            // Idle tasks share PID 0: keep the first CPU's.
            if let Some(pid) = current {
                match out.entry(pid) {
                    std::collections::btree_map::Entry::Occupied(_) => current = None,
                    std::collections::btree_map::Entry::Vacant(slot) => {
                        slot.insert(Vec::new());
                    }
                }
            }
            continue;
        }
        let t = line.trim_start();
        if !t.starts_with('#') {
            continue;
        }
        // "#3 [ffff80000804be40] kthreadd at ffffb1f8304c6f94"
        let Some(name) = t.split("] ").nth(1).and_then(|r| r.split(" at ").next()) else { continue };
        if let Some(frames) = current.and_then(|pid| out.get_mut(&pid)) {
            frames.push(name.to_string());
        }
    }
    out
}

/// drgn's frames of one task: the symbols of its physical frames (drgn
/// also lists the functions inlined into each).
fn drgn_frames(task: &Value) -> Vec<String> {
    task["stack"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["inline"] != Value::Bool(true))
        .filter_map(|f| f["symbol"].as_str().map(str::to_string))
        .collect()
}

/// The panicking task's frames in `bt` text: (function, true when it is
/// the function an exception interrupted, the frame after an exception
/// block).
fn panic_frames(text: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut after_exception = false;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("[exception RIP:") {
            after_exception = true;
        } else if t.starts_with('#') {
            if let Some(name) = t.split("] ").nth(1).and_then(|r| r.split(" at ").next()) {
                out.push((name.to_string(), after_exception));
            }
            after_exception = false;
        }
    }
    out
}

/// True when `expected` (the kernel's own trace) is `frames` in order,
/// where krash may show one frame more right after an interrupted
/// function: the caller of a leaf, which the kernel's frame-record
/// unwinder cannot see (the leaf saved no record; its caller is only in
/// the link register the exception saved).
fn holds_kernel_trace(frames: &[(String, bool)], expected: &[String]) -> bool {
    let Some(mut i) = frames.iter().position(|(name, _)| Some(name) == expected.first()) else { return false };
    let mut j = 0;
    let mut extra_taken = false;
    while j < expected.len() {
        match frames.get(i) {
            Some((name, _)) if *name == expected[j] || expected[j] == ANY_FUNCTION => {
                i += 1;
                j += 1;
                extra_taken = false;
            }
            // One frame the kernel's unwinder cannot see may follow an
            // interrupted function, or the trace's first frame (the fault's
            // own registers): a leaf's caller, only in x30.
            Some(_) if i > 0 && (frames[i - 1].1 || i == 1) && !extra_taken => {
                i += 1;
                extra_taken = true;
            }
            _ => return false,
        }
    }
    true
}

#[test]
fn arm64_dumps_open_name_their_kernel_and_count_drgns_tasks() {
    let mut compared = 0;
    for d in arm64_lab_dumps() {
        let run = krash_on(&d, "sys\nps\n");
        assert!(run.success, "{}: krash failed: {}", d.label(), run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}: {}", d.label(), run.stderr);
        let fields = sys_fields(&run.stdout);
        assert_eq!(field(&fields, "RELEASE"), Some(d.kernel.as_str()), "{}", d.label());
        assert_eq!(field(&fields, "MACHINE"), Some("aarch64"), "{}", d.label());
        let Some(drgn) = d.drgn() else {
            // QEMU's kdump-zlib names no machine: drgn cannot open it (the
            // lab records its error); krash's own open above is the check.
            continue;
        };
        // Task lines start with a PID (after the `>` of active tasks).
        let ps_tasks: Vec<&str> = run
            .stdout
            .lines()
            .filter(|l| {
                l.trim_start_matches(['>', ' ']).split_whitespace().next().is_some_and(|t| t.parse::<u64>().is_ok())
            })
            .collect();
        let idle = ps_tasks.iter().filter(|l| l.contains("[swapper/")).count();
        let drgn_tasks = drgn["tasks"].as_array().map_or(0, Vec::len);
        assert!(idle >= 1, "{}: no idle task in ps", d.label());
        assert_eq!(ps_tasks.len(), drgn_tasks + idle, "{}: ps tasks vs drgn's {drgn_tasks} + {idle} idle", d.label());
        compared += 1;
    }
    krash_labtest::assert_compared(compared, "arm64 dumps compared with drgn");
}

#[test]
fn arm64_panic_backtrace_holds_the_oops_call_trace() {
    let mut compared = 0;
    for d in arm64_lab_dumps() {
        // The last trace is the panicking CPU's (an oops's, or panic's own
        // dump_stack); earlier ones are warnings and hung tasks.
        let console = console_of(&d);
        let Some(trace) = console_call_traces(&console).pop() else { continue };
        let run = krash_on(&d, "bt\n");
        let frames = panic_frames(&run.stdout);
        let names: Vec<String> = frames.iter().map(|(name, _)| name.clone()).collect();
        // panic()'s own trace starts with the printing functions
        // (dump_backtrace, show_stack, dump_stack_lvl), which had returned
        // when the dump was taken: the trace from the first function the
        // backtrace has must be in it, in order, to its end.
        let from = trace.iter().position(|f| names.contains(f)).unwrap_or(trace.len());
        let expected = &trace[from..];
        assert!(
            expected.len() >= 3 && holds_kernel_trace(&frames, expected),
            "{}: bt frames {names:?} do not hold the console's Call trace {trace:?}\n{}",
            d.label(),
            run.stdout
        );
        // An oops is an exception: in QEMU's dumps (taken in panic, above
        // it) bt crosses the exception frame into the faulting function.
        // (kdump saves the oops's own registers as the CPU's: bt starts there.)
        if d.producer == "qemu" && console.contains("Internal error: ") {
            assert!(run.stdout.contains("[exception RIP: "), "{}: no exception frame\n{}", d.label(), run.stdout);
        }
        compared += 1;
    }
    krash_labtest::assert_compared(compared, "arm64 panic backtraces compared with the console");
}

#[test]
fn arm64_sleeping_tasks_unwind_as_drgn_does() {
    let mut compared = 0;
    for d in arm64_lab_dumps() {
        let Some(drgn) = d.drgn() else { continue };
        let run = krash_on(&d, "foreach bt\n");
        let ours = frames_by_pid(&run.stdout);
        for task in drgn["tasks"].as_array().into_iter().flatten() {
            // Running tasks start from the CPU's saved registers, which
            // drgn reads differently in QEMU's dumps; sleeping ones start
            // from the same switch frame in both.
            // Zombies' stacks are freed at exit (task_struct.stack is NULL):
            // drgn unwinds the freed memory, krash does not.
            // A task whose state says sleeping may still be a CPU's current
            // one (caught between setting its state and schedule(), here by
            // the timer BUG()'s interrupt): drgn then starts from the CPU's
            // registers (its first frame "interrupted") and, past the
            // interrupt, repeats one frame up to its limit; skipped like R.
            let on_cpu = task["stack"][0]["interrupted"] == true;
            if task["state"] == "R" || task["state"] == "Z" || on_cpu {
                continue;
            }
            let Some(pid) = task["pid"].as_u64() else { continue };
            let theirs = drgn_frames(task);
            if theirs.is_empty() {
                continue;
            }
            assert_eq!(ours.get(&pid), Some(&theirs), "{}: PID {pid}", d.label());
            compared += 1;
        }
    }
    krash_labtest::assert_compared(compared, "arm64 sleeping tasks compared with drgn");
}

#[test]
fn arm64_log_ends_as_vmcore_dmesg() {
    let mut compared = 0;
    for d in arm64_lab_dumps().into_iter().filter(|d| d.is_kdump_boot()) {
        let Ok(dmesg) = std::fs::read_to_string(d.dir.join("vmcore-dmesg.txt")) else { continue };
        let want: Vec<&str> = dmesg.lines().filter(|l| l.starts_with('[')).collect();
        let run = krash_on(&d, "log\n");
        let got: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with('[')).collect();
        let tail = want.len().min(40);
        assert!(tail > 0, "{}: empty vmcore-dmesg", d.label());
        assert_eq!(
            got[got.len().saturating_sub(tail)..],
            want[want.len() - tail..],
            "{}: log's last {tail} lines",
            d.label()
        );
        compared += 1;
    }
    krash_labtest::assert_compared(compared, "arm64 logs compared with vmcore-dmesg");
}

#[test]
fn arm64_every_peer_command_finishes_without_a_panic() {
    let commands = include_str!("data/crash-peer-commands");
    let mut seen = std::collections::HashSet::new();
    let mut compared = 0;
    for d in arm64_lab_dumps().into_iter().filter(|d| seen.insert(d.kernel.clone())) {
        let script: String = commands
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .filter_map(|l| common::fill_placeholders(l, &d))
            .map(|l| format!("{l}\n"))
            .collect();
        let run = krash_on(&d, &script);
        assert!(run.success, "{}: krash exited with failure: {}", d.label(), run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}: {}", d.label(), run.stderr);
        compared += 1;
    }
    krash_labtest::assert_compared(compared, "arm64 kernels run through crash-peer-commands");
}

/// SLUB caches whose objects are checked against drgn: small and large
/// objects, and two busy caches (arm64 6.1's smallest kmalloc cache is
/// kmalloc-128: ARCH_DMA_MINALIGN).
const SLUB_CACHES: [&str; 4] = ["kmalloc-128", "kmalloc-1k", "task_struct", "dentry"];

/// One slab `kmem -S` lists under SLUB (the per-CPU and partial ones:
/// SLUB keeps no list of full slabs): its ALLOCATED column, and where its
/// objects are listed (per-CPU slabs; a node's partial slabs are rows only,
/// as in crash), its allocated objects and the free ones it marks as on a
/// CPU's freelist.
#[derive(Default)]
struct ListedSlab {
    allocated_count: usize,
    objects_listed: bool,
    allocated: Vec<u64>,
    cpu_cached: Vec<u64>,
}

/// The slabs of a `kmem -S` listing by their memory address.
fn listed_slabs(text: &str) -> BTreeMap<u64, ListedSlab> {
    let mut out: BTreeMap<u64, ListedSlab> = BTreeMap::new();
    let mut current = None;
    let hex = |a: &str| u64::from_str_radix(a, 16).expect("hex object address");
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() == 6 && line.starts_with("  ") && !line.starts_with("  SLAB") {
            current = u64::from_str_radix(f[1], 16).ok();
            if let Some(m) = current {
                out.entry(m).or_default().allocated_count = f[4].parse().expect("ALLOCATED column");
            }
        } else if let (Some(m), true) = (current, line.starts_with("  FREE / [ALLOCATED]")) {
            out.entry(m).or_default().objects_listed = true;
        } else if let (Some(m), Some(addr)) = (current, line.strip_prefix("  [").and_then(|l| l.strip_suffix(']'))) {
            out.entry(m).or_default().allocated.push(hex(addr));
        } else if let (Some(m), true) = (current, line.starts_with("   ") && line.contains(" cache)")) {
            out.entry(m).or_default().cpu_cached.push(hex(f[0]));
        } else if !line.starts_with("   ") && !line.starts_with("  FREE") {
            current = None;
        }
    }
    out
}

#[test]
fn arm64_slab_objects_equal_drgns() {
    let mut seen = std::collections::HashSet::new();
    let (mut compared, mut slabs, mut stopped_cpu_objects) = (0, 0, 0);
    for d in arm64_lab_dumps().into_iter().filter(|d| d.is_kdump_boot() && seen.insert(d.kernel.clone())) {
        let Some(drgn) = drgn_allocated_objects(&d, &SLUB_CACHES) else {
            krash_labtest::skip_or_fail(format!("{}: drgn did not list the slab objects", d.label()));
            continue;
        };
        let script: String = SLUB_CACHES.iter().map(|c| format!("kmem -S {c}\nkmem -s {c}\n")).collect();
        let run = krash_on(&d, &script);
        assert!(run.stderr.is_empty(), "{}: {}", d.label(), run.stderr);
        let parts: Vec<&str> = run.stdout.split("CACHE             OBJSIZE").skip(1).collect();
        assert_eq!(parts.len(), 2 * SLUB_CACHES.len(), "{}: {}", d.label(), run.stdout);
        for (i, cache) in SLUB_CACHES.iter().enumerate() {
            let theirs: Vec<u64> =
                drgn[*cache].iter().map(|a| u64::from_str_radix(a, 16).expect("drgn's hex address")).collect();
            assert!(!theirs.is_empty(), "{}: drgn found no {cache} object", d.label());
            let line = cache_lines(parts[2 * i + 1]);
            let [_, allocated, _, _, ssize] = &line[*cache];
            let slab_bytes: u64 = ssize.trim_end_matches('k').parse::<u64>().expect("SSIZE in KiB") << 10;
            // In each slab kmem -S lists, the same objects as drgn's, but
            // for one known drgn 0.3.0 miss: it reads the freelists of
            // online CPUs only, and the crash took the other CPUs offline,
            // so a stopped CPU's free objects are allocated to drgn (those
            // freed into the slab's own freelist drgn sees). The difference
            // must be objects kmem -S marks as on a CPU's freelist.
            let mut missed = 0;
            for (memory, slab) in listed_slabs(parts[2 * i]) {
                let inside: std::collections::BTreeSet<u64> =
                    theirs.iter().copied().filter(|&a| a >= memory && a < memory + slab_bytes).collect();
                if !slab.objects_listed {
                    // A node's partial slab: no CPU holds its free objects,
                    // so drgn's count is the whole answer.
                    assert_eq!(
                        slab.allocated_count,
                        inside.len(),
                        "{}: {cache}: node partial slab {memory:x}: allocated objects",
                        d.label()
                    );
                    slabs += 1;
                    continue;
                }
                let ours: std::collections::BTreeSet<u64> = slab.allocated.iter().copied().collect();
                let only_ours: Vec<&u64> = ours.difference(&inside).collect();
                assert!(
                    only_ours.is_empty(),
                    "{}: {cache}: slab {memory:x}: allocated, not to drgn: {only_ours:x?}",
                    d.label()
                );
                let only_drgns: Vec<&u64> = inside.difference(&ours).collect();
                let unexplained: Vec<&&u64> = only_drgns.iter().filter(|a| !slab.cpu_cached.contains(a)).collect();
                assert!(
                    unexplained.is_empty(),
                    "{}: {cache}: slab {memory:x}: free, not to drgn: {unexplained:x?}",
                    d.label()
                );
                missed += only_drgns.len();
                slabs += 1;
            }
            // kmem -s counts every allocated object, full slabs included.
            assert_eq!(
                allocated,
                &(theirs.len() - missed).to_string(),
                "{}: {cache}: kmem -s ALLOCATED vs drgn ({missed} on stopped CPUs' freelists)",
                d.label()
            );
            eprintln!("{}: {cache}: {} objects as drgn, {missed} free on a stopped CPU", d.label(), theirs.len());
            stopped_cpu_objects += missed;
            compared += 1;
        }
    }
    krash_labtest::assert_compared(compared, "arm64 slab caches' objects against drgn");
    krash_labtest::assert_compared(slabs, "arm64 slabs listed by kmem -S against drgn");
    eprintln!("{stopped_cpu_objects} objects drgn counts as allocated on stopped CPUs' freelists");
}

/// analyze on every arm64 hung-task dump names the mutex, its owner (with a
/// stack) and its waiters as the scenario module recorded them: on the
/// cloud kernels through the mutex's wait list, on PREEMPT_RT through the
/// rt_mutex each sleeper's `pi_blocked_on` names (a mutex there is an
/// rt_mutex_base with a tree of waiters).
#[test]
fn arm64_hung_task_names_the_mutex_its_owner_and_waiters() {
    let mut compared = 0;
    let mut rt = false;
    for d in arm64_lab_dumps().into_iter().filter(|d| d.scenario == "hung-task" && d.is_kdump_boot()) {
        let e = &d.manifest["expected"];
        let (v, c) = (d.vmlinux.to_string_lossy().into_owned(), d.vmcore.to_string_lossy().into_owned());
        let run = common::krash(&["analyze", &v, &c, "--json"], "");
        assert!(run.success, "{}: {}", d.label(), run.stderr);
        let doc: Value = serde_json::from_str(&run.stdout).expect("analyze --json parses");
        let r = &doc["data"];
        assert_eq!(r["faulting_function"], e["faulting_function"], "{}", d.label());
        let lock_name = e["lock"].as_str().expect("the scenario's lock");
        let locks = r["locks"].as_array().cloned().unwrap_or_default();
        // Debian's 6.1 arm64 has no KALLSYMS_ALL: a module's in-memory
        // symbols are its functions; the mutex is named from the .ko's own
        // symbols, which analyze loads with its DWARF.
        let lock = locks
            .iter()
            .find(|l| l["symbol"] == lock_name)
            .unwrap_or_else(|| panic!("{}: no lock {lock_name}: {locks:?}", d.label()));
        assert_eq!(lock["kind"], "mutex", "{}", d.label());
        assert_eq!(lock["owner"]["comm"], e["lock_owner_comm"], "{}", d.label());
        assert!(lock["owner"]["frames"].as_array().is_some_and(|f| !f.is_empty()), "{}: owner stack", d.label());
        assert_eq!(lock["waiters"], e["waiters"], "{}", d.label());
        // The scenario's own D-state tasks (its holder and waiters) are all
        // named; another task may be in D at the dump too: on PREEMPT_RT the
        // printk thread `pr/legacy` sleeps on a lock while the hung-task
        // report prints (seen on a lab built under load).
        let blocked = r["blocked_tasks"].as_array().cloned().unwrap_or_default();
        let waiter_prefix = e["waiter_comm_prefix"].as_str().expect("the scenario's waiter prefix");
        let scenario_blocked = blocked
            .iter()
            .filter_map(|b| b["comm"].as_str())
            .filter(|comm| Some(*comm) == e["lock_owner_comm"].as_str() || comm.starts_with(waiter_prefix))
            .count() as u64;
        assert_eq!(Some(scenario_blocked), e["d_state_tasks"].as_u64(), "{}: {blocked:?}", d.label());
        rt |= d.kernel == krash_labtest::ARM64_RT_KERNEL;
        compared += 1;
    }
    krash_labtest::assert_compared(compared, "arm64 hung-task dumps analyzed");
    assert!(rt || std::env::var_os("KRASH_REQUIRE_LAB").is_none(), "the PREEMPT_RT hung-task dump was not analyzed");
}

/// analyze on every arm64 dump of a NULL member read names the struct and
/// member the scenario module recorded, and reports no register as
/// corrupt: arm64's scratch registers (x9-x18) still hold printk's format
/// text at the fault, which is no evidence beside a NULL.
#[test]
fn arm64_null_member_names_the_member_and_no_scratch_text() {
    let mut compared = 0;
    for d in arm64_lab_dumps().into_iter().filter(|d| d.is_kdump_boot()) {
        let e = &d.manifest["expected"];
        let Some(m) = e.get("null_member").filter(|m| m.is_object()) else { continue };
        let (v, c) = (d.vmlinux.to_string_lossy().into_owned(), d.vmcore.to_string_lossy().into_owned());
        let run = common::krash(&["analyze", &v, &c, "--json"], "");
        assert!(run.success, "{}: {}", d.label(), run.stderr);
        let doc: Value = serde_json::from_str(&run.stdout).expect("analyze --json parses");
        let r = &doc["data"];
        assert_eq!(r["bad_member"]["struct_name"], m["struct"], "{}", d.label());
        assert_eq!(r["bad_member"]["member"], m["member"], "{}", d.label());
        assert_eq!(r["corrupt_values"].as_array().map(Vec::len), Some(0), "{}: {}", d.label(), r["corrupt_values"]);
        compared += 1;
    }
    krash_labtest::assert_compared(compared, "arm64 NULL-member dumps analyzed");
}

/// A read through a NULL pointer, or through a member of a NULL struct,
/// is refused as a user address on arm64 as on x86-64: the kernel's page
/// tables (TTBR1) hold only the upper half. Walking them with a low address
/// answered from whatever kernel page shares its low bits (`rd 0` printed
/// the first word of the linear map on 6.12). Kernel reads stay readable.
#[test]
fn arm64_reads_through_null_are_refused_as_user_addresses() {
    let mut compared = 0;
    for d in arm64_lab_dumps().into_iter().filter(|d| d.scenario == "null-member") {
        let offset = d.manifest["expected"]["null_member"]["offset"].as_u64().unwrap_or(0x10);
        let run = krash_on(&d, &format!("rd 0\nrd -8 {offset:#x} 2\nrd linux_banner\n"));
        assert!(!run.stderr.contains("panicked"), "{}: {}", d.label(), run.stderr);
        for addr in [0, offset] {
            let refusal = format!("rd: cannot read user virtual address {addr:#x}: no page-table mapping");
            assert!(run.stderr.contains(&refusal), "{}: no refusal of {addr:#x}: {}", d.label(), run.stderr);
        }
        let lines: Vec<&str> = run.stdout.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{}: only linux_banner reads: {}", d.label(), run.stdout);
        assert!(lines.iter().all(|l| l.contains("Linux ve")), "{}: {}", d.label(), run.stdout);
        compared += 1;
    }
    krash_labtest::assert_compared(compared, "arm64 NULL reads refused");
}
