//! `bt` on every lab dump: the panic task's frames must be the kernel's
//! own Call Trace from console.log (the lines without `?`), every online
//! CPU's active task must unwind without warnings, and a deliberately
//! damaged stack must be recovered from saved registers.
//!
//! The lab is found through krash-labtest (KRASH_LAB_DIR); without dumps
//! the tests skip with a note, or fail under KRASH_REQUIRE_LAB=1.

use krash_linux::sched::backtrace::BacktraceExt;
use krash_linux::sched::task::TaskExt;
use std::collections::HashMap;
use std::path::PathBuf;

use krash_core::{Result, VirtualMemory};
use krash_linux::sched::backtrace::TaskBacktrace;
use krash_program::Kernel;
use krash_program::KernelFiles;
use krash_unwind::TraceItem;

struct LabDump {
    label: String,
    dump: PathBuf,
    vmlinux: PathBuf,
    console: PathBuf,
}

/// The `"vmlinux": "..."` value of a manifest (no JSON crate needed for one string).
fn manifest_vmlinux(manifest: &str) -> Option<PathBuf> {
    let rest = &manifest[manifest.find("\"vmlinux\"")? + 9..];
    let start = rest.find('"')? + 1;
    let len = rest[start..].find('"')?;
    Some(PathBuf::from(&rest[start..start + len]))
}

fn lab_dumps() -> Vec<LabDump> {
    let mut out = Vec::new();
    let lab = krash_labtest::lab_dir().join("dumps");
    let Ok(kernels) = std::fs::read_dir(&lab) else {
        krash_labtest::skip_or_fail(format!("no lab dumps under {}", lab.display()));
        return out;
    };
    // The frame-pointer SLAB flavor is checked by the cli crate's flavor_lab;
    // the rest of the suite does not run on it yet.
    let mut kernels: Vec<PathBuf> = kernels
        .flatten()
        .map(|e| e.path())
        // x86-64 dumps only: the arm64 ones are crates/cli/tests/arm64_lab.rs's.
        .filter(|p| {
            p.is_dir()
                && !p.ends_with(krash_labtest::FP_SLAB_KERNEL)
                && !krash_labtest::ARM64_KERNELS.iter().any(|k| p.ends_with(k))
        })
        .collect();
    kernels.sort();
    for kdir in kernels {
        let Ok(scenarios) = std::fs::read_dir(&kdir) else { continue };
        let mut scenarios: Vec<PathBuf> = scenarios.flatten().map(|e| e.path()).collect();
        scenarios.sort();
        for sdir in scenarios {
            let Ok(manifest) = std::fs::read_to_string(sdir.join("manifest.json")) else { continue };
            let Some(vmlinux) = manifest_vmlinux(&manifest) else { continue };
            let console = sdir.join("console.log");
            let Ok(files) = std::fs::read_dir(&sdir) else { continue };
            let mut dumps: Vec<PathBuf> = files
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("vmcore.")))
                .collect();
            dumps.sort();
            for dump in dumps {
                let label = format!(
                    "{}/{}/{}",
                    kdir.file_name().unwrap_or_default().to_string_lossy(),
                    sdir.file_name().unwrap_or_default().to_string_lossy(),
                    dump.file_name().unwrap_or_default().to_string_lossy()
                );
                out.push(LabDump { label, dump, vmlinux: vmlinux.clone(), console: console.clone() });
            }
        }
    }
    if out.is_empty() {
        krash_labtest::skip_or_fail(format!("no lab dumps under {}", lab.display()));
    }
    out
}

/// The panic's Call Trace from the crashed kernel's console output: the
/// first trace after "Kernel panic - not syncing", else the last trace.
/// Returns frame names without `?` entries, markers, or the dumping
/// functions themselves (dump_stack*), which are gone from the stack.
fn console_panic_trace(console: &str) -> Vec<String> {
    // The capture kernel's boot starts a second "Linux version" banner.
    let mut first_boot: Vec<&str> = Vec::new();
    let mut banners = 0;
    for line in console.lines() {
        if line.contains("] Linux version ") {
            banners += 1;
            if banners > 1 {
                break;
            }
        }
        first_boot.push(line);
    }
    // The timestamp, and the caller id makedumpfile's log has on 7.x ("[      C1] ").
    let strip = |l: &str| krash_labtest::log_line_body(l).map(str::to_string);
    let trace_starts: Vec<usize> =
        first_boot.iter().enumerate().filter(|(_, l)| l.ends_with("Call Trace:")).map(|(i, _)| i).collect();
    let panic_line = first_boot.iter().position(|l| l.contains("Kernel panic - not syncing"));
    let start = match panic_line {
        Some(p) => trace_starts.iter().copied().find(|&i| i > p),
        None => trace_starts.last().copied(),
    };
    let Some(start) = start else { return Vec::new() };
    let mut names = Vec::new();
    for line in &first_boot[start + 1..] {
        // The lab's init script writes to the same serial port, and its
        // lines can land inside the kernel's trace.
        if line.starts_with("krash-init:") {
            continue;
        }
        let Some(body) = strip(line) else { break };
        if let Some(entry) = body.strip_prefix(' ') {
            let entry = entry.trim();
            if entry.starts_with('?') || entry.starts_with('<') {
                continue;
            }
            let name = entry.split('+').next().unwrap_or_default().to_string();
            names.push(name);
        } else if [
            "RIP:", "Code:", "RSP:", "RAX:", "RDX:", "RBP:", "R10:", "R13:", "FS:", "CS:", "CR2:", "DR0:", "DR3:",
            "PKRU:",
        ]
        .iter()
        .any(|p| body.starts_with(p))
        {
            continue;
        } else {
            break;
        }
    }
    while names.first().is_some_and(|n| n.starts_with("dump_stack") || n == "show_stack") {
        names.remove(0);
    }
    names
}

fn frame_names(bt: &TaskBacktrace, skip_exact: bool) -> Vec<String> {
    bt.trace
        .frames()
        .filter(|f| !(skip_exact && f.exact))
        .map(|f| f.symbol.as_ref().map(|s| s.name.clone()).unwrap_or_else(|| format!("{:x}", f.pc)))
        .collect()
}

fn warnings(bt: &TaskBacktrace) -> Vec<String> {
    bt.trace
        .items
        .iter()
        .filter_map(|i| match i {
            TraceItem::Warning { message } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

fn open(d: &LabDump) -> Result<Kernel> {
    Kernel::open(KernelFiles { dump: d.dump.clone(), vmlinux: Some(d.vmlinux.clone()), ..Default::default() })
}

#[test]
fn panic_task_matches_console_call_trace_and_every_cpu_unwinds() {
    let mut failures = Vec::new();
    for d in lab_dumps() {
        let k = match open(&d) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("{}: cannot open ({e}); skipped", d.label);
                continue;
            }
        };
        let console = std::fs::read_to_string(&d.console).unwrap_or_default();
        let mut expected = console_panic_trace(&console);
        // x86-64's double fault prints from NMI context, which the crash's
        // kexec overtakes: the console has no trace, the kernel's log does
        // (the capture kernel's vmcore-dmesg.txt). 5.10 buffers NMI printk
        // and may lose the end ("Lost N message(s)!"): then the log's trace
        // is a prefix of the unwound one.
        let mut cut_short = false;
        if expected.is_empty() {
            let log = std::fs::read_to_string(d.console.with_file_name("vmcore-dmesg.txt")).unwrap_or_default();
            expected = console_panic_trace(&log);
            cut_short = log.contains(" message(s)!");
        }
        let panic_task = k.panic_task().and_then(|t| k.task_by_addr(t).ok());
        let Some(panic_task) = panic_task else {
            // The kernel model's panic-task lookup is not this test's subject.
            eprintln!("note: {}: the kernel model finds no panic task; skipped", d.label);
            continue;
        };
        let bt = match k.backtrace(&panic_task) {
            Ok(bt) => bt,
            Err(e) => {
                failures.push(format!("{}: bt failed: {e}", d.label));
                continue;
            }
        };
        let ours = frame_names(&bt, true);
        eprintln!(
            "{}: panic task {} frames {:?} (start {:?})",
            d.label,
            panic_task.pid,
            frame_names(&bt, false),
            bt.start_source
        );
        // Aliases (5.10's asm_call_irq_on_stack and asm_call_sysvec_on_stack
        // share an address) are one function, whichever name is printed.
        let same = |a: &String, b: &String| a == b || k.symbol_addr(a).is_ok_and(|x| k.symbol_addr(b).ok() == Some(x));
        let matches = |at: usize| {
            (ours.len() - at == expected.len() || cut_short && ours.len() - at > expected.len())
                && ours[at..].iter().zip(&expected).all(|(a, b)| same(a, b))
        };
        match expected.first().and_then(|first| ours.iter().position(|n| same(n, first))) {
            Some(at) if matches(at) => {}
            _ => failures.push(format!("{}: panic task frames {ours:?}\n   console trace {expected:?}", d.label)),
        }
        let w = warnings(&bt);
        if !w.is_empty() {
            failures.push(format!("{}: panic task warnings {w:?}", d.label));
        }
        let online = k.online_cpus().unwrap_or_default();
        let active = k.active_tasks().unwrap_or_default();
        for cpu in online {
            let Some(&(_, addr)) = active.iter().find(|(c, _)| *c == cpu) else {
                failures.push(format!("{}: CPU {cpu} has no active task", d.label));
                continue;
            };
            let Ok(task) = k.task_by_addr(addr) else {
                failures.push(format!("{}: CPU {cpu} active task {addr:x} not in the task list", d.label));
                continue;
            };
            match k.backtrace(&task) {
                Ok(bt) if bt.trace.frames().count() > 1 && warnings(&bt).is_empty() => {
                    eprintln!("  CPU {cpu}: {:?} ({:?})", frame_names(&bt, false), bt.start_source);
                }
                Ok(bt) => failures.push(format!(
                    "{}: CPU {cpu}: {:?} warnings {:?}",
                    d.label,
                    frame_names(&bt, false),
                    warnings(&bt)
                )),
                Err(e) => failures.push(format!("{}: CPU {cpu}: {e}", d.label)),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Memory with some words replaced, to damage a stack in a copy of a dump.
struct Overlay<'a> {
    inner: &'a dyn VirtualMemory,
    words: HashMap<u64, u64>,
}

impl VirtualMemory for Overlay<'_> {
    fn read_virt(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        self.inner.read_virt(addr, buf)?;
        for (i, b) in buf.iter_mut().enumerate() {
            let a = addr + i as u64;
            if let Some(w) = self.words.get(&(a & !7)) {
                *b = w.to_le_bytes()[(a & 7) as usize];
            }
        }
        Ok(())
    }
}

#[test]
fn damaged_stack_is_recovered_from_saved_registers() {
    let mut tried = 0;
    for d in lab_dumps().iter().filter(|d| d.label.contains("/softlockup/") && d.label.ends_with("kdump-zlib")) {
        let Ok(k) = open(d) else { continue };
        let Some(task) = k.panic_task().and_then(|t| k.task_by_addr(t).ok()) else { continue };
        let clean = k.backtrace(&task).expect("clean backtrace");
        // Smash the return address of the frame after __hrtimer_run_queues,
        // on the IRQ stack, as in seed 000's bogus frame.
        let victim = clean
            .trace
            .frames()
            .find(|f| f.symbol.as_ref().is_some_and(|s| s.name == "hrtimer_interrupt"))
            .expect("hrtimer_interrupt frame");
        let overlay = Overlay { inner: k.memory(), words: HashMap::from([(victim.slot, 0xdead_0000_beef)]) };
        let bt = k.backtrace_with_memory(&task, &overlay).expect("damaged backtrace");
        let names = frame_names(&bt, false);
        eprintln!("{}: damaged: {names:?}\n warnings {:?}", d.label, warnings(&bt));
        assert!(!warnings(&bt).is_empty(), "no warning for the damaged frame");
        let recovered: Vec<&str> = bt
            .trace
            .frames()
            .filter(|f| f.recovered)
            .filter_map(|f| f.symbol.as_ref().map(|s| s.name.as_str()))
            .collect();
        // gcc splits scenario_softlockup into a .cold part on 6.1 only.
        for needed in ["krash_list_walk", "scenario_softlockup", "ksys_write", "entry_SYSCALL_64_after_hwframe"] {
            assert!(
                recovered.iter().any(|n| n.trim_end_matches(".cold") == needed),
                "{needed} not recovered: {recovered:?}"
            );
        }
        tried += 1;
    }
    if tried == 0 {
        eprintln!("note: no softlockup lab dump; damaged-stack test skipped");
    }
}

#[test]
fn a_cpus_task_read_alone_is_its_entry_in_the_task_list() {
    let mut failures = Vec::new();
    let mut compared = 0;
    for d in lab_dumps() {
        let Ok(k) = open(&d) else { continue };
        let active = k.active_tasks().unwrap_or_default();
        // Read alone first (the list is not read yet), then from the list.
        let alone: Vec<String> =
            active.iter().map(|&(_, addr)| format!("{:?}", k.task_at(addr).map(|t| t.into_owned()))).collect();
        assert!(k.tasks().is_ok_and(|t| !t.is_empty()), "{}: no task list", d.label);
        for (&(cpu, addr), alone) in active.iter().zip(alone) {
            let listed = format!("{:?}", k.task_by_addr(addr).map(|t| t.into_owned()));
            if alone != listed {
                failures.push(format!("{} CPU {cpu}: alone {alone}\n   listed {listed}", d.label));
            }
            compared += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    krash_labtest::assert_compared(compared, "CPUs' tasks read alone and from the list");
}

/// A command on one PID or task address reads that task through the
/// kernel's PID table, not the whole task list: on every lab kernel (all
/// have `init_pid_ns.idr`), every task found that way is the task list's
/// entry, an absent PID is absent, and an address that is no task is
/// refused.
#[test]
fn tasks_found_through_the_pid_table_are_the_task_lists() {
    let mut compared = 0;
    let mut failures = Vec::new();
    for d in lab_dumps() {
        // A LiME image is read from a running machine page by page: a task
        // made while it was written (the kworker writing it) can be on the
        // list and not yet in the table the image holds.
        if d.dump.extension().is_some_and(|e| e == "lime") {
            continue;
        }
        let (Ok(listed), Ok(alone)) = (open(&d), open(&d)) else { continue };
        let Ok(tasks) = listed.tasks() else {
            failures.push(format!("{}: no task list", d.label));
            continue;
        };
        for t in tasks.iter().filter(|t| t.pid > 0) {
            match alone.task_in_pid_table(t.pid) {
                Ok(Some(addr)) if addr == t.addr => {}
                other => failures.push(format!("{}: PID {} ({:x}): table says {other:?}", d.label, t.pid, t.addr)),
            }
            compared += 1;
        }
        // Lookups before `alone` reads its list, spread over the table.
        for t in tasks.iter().filter(|t| t.pid > 0).step_by(7) {
            let by_pid = alone.task_by_pid(t.pid).map(|t| format!("{:?}", t.as_ref()));
            let by_addr = alone.task_by_addr(t.addr).map(|t| format!("{:?}", t.as_ref()));
            let want = format!("{t:?}");
            if by_pid.as_deref().ok() != Some(want.as_str()) || by_addr.as_deref().ok() != Some(want.as_str()) {
                failures.push(format!(
                    "{}: PID {}: by pid {by_pid:?}\n by addr {by_addr:?}\n listed {want}",
                    d.label, t.pid
                ));
            }
        }
        let unused = tasks.iter().map(|t| t.pid).max().unwrap_or(0).saturating_add(1000);
        if !matches!(alone.task_in_pid_table(unused), Ok(None)) || alone.task_by_pid(unused).is_ok() {
            failures.push(format!("{}: PID {unused} is found", d.label));
        }
        // Inside a task_struct, not at its start: not a task.
        if let Some(t) = tasks.iter().find(|t| t.pid > 0) {
            if alone.task_by_addr(t.addr + 64).is_ok() {
                failures.push(format!("{}: {:x} taken for a task", d.label, t.addr + 64));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    krash_labtest::assert_compared(compared, "tasks found through the PID table");
}
