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

use common::{arm64_lab_dumps, field, krash_on, sys_fields, LabDump};
use serde_json::Value;

/// The console log of the boot `d` was made in (QEMU's dumps come from a
/// boot of their own, with its own console).
fn console_of(d: &LabDump) -> String {
    let entry = d.manifest["dumps"].as_array().into_iter().flatten().find(|e| e["format"] == d.format.as_str());
    let name = entry.and_then(|e| e["console_log"].as_str()).unwrap_or("console.log");
    std::fs::read_to_string(d.dir.join(name)).unwrap_or_default()
}

/// Function names of the first oops's `Call trace:` block (arm64 prints
/// `  function+0x18/0x30 [module]`, one per line, until a non-frame line).
fn console_call_trace(console: &str) -> Vec<String> {
    let mut lines = console.lines().skip_while(|l| !l.trim_end().ends_with("Call trace:")).skip(1);
    let mut out = Vec::new();
    for line in lines.by_ref() {
        // "[   15.117976]  krash_widget_generation+0x18/0x30 [krash_scenarios]"
        let text = line.split_once("] ").map_or(line, |(_, rest)| rest).trim();
        let Some((name, _)) = text.split_once("+0x") else { break };
        if name.contains(' ') || name.is_empty() {
            break;
        }
        out.push(name.to_string());
    }
    out
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
                if out.contains_key(&pid) {
                    current = None;
                } else {
                    out.insert(pid, Vec::new());
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

fn is_subsequence_run(needle: &[String], hay: &[String]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
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
        let console = console_of(&d);
        let trace = console_call_trace(&console);
        if trace.is_empty() {
            // A scenario that panics without an oops (sysrq, hung task)
            // prints its trace differently; the task check below covers it.
            continue;
        }
        let run = krash_on(&d, "bt\n");
        let frames: Vec<String> = frames_by_pid(&run.stdout).into_values().next().unwrap_or_default();
        assert!(
            is_subsequence_run(&trace, &frames),
            "{}: bt frames {frames:?} do not hold the console's Call trace {trace:?}\n{}",
            d.label(),
            run.stdout
        );
        // The oops is an exception: bt shows the interrupted registers
        // with the faulting function, unless bt started at them (kdump
        // saves the oops's registers as the CPU's).
        if d.producer == "qemu" {
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
            if task["state"] == "R" {
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
