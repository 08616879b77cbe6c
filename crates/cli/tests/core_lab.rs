//! `sys`, `ps`, `log` on every lab dump, checked against the peers that
//! are right on each field: crash's transcript (banner fields), drgn (task
//! list, uname), and the capture kernel's vmcore-dmesg.txt (log text).

mod common;

use common::{field, krash_on, lab_dumps, sys_fields};

/// The `sys` block at the top of a crash transcript (crash -s runs `sys` first).
fn crash_sys_block(transcript: &str) -> String {
    transcript
        .lines()
        .skip_while(|l| !l.starts_with("# ---- stdout"))
        .skip(1)
        .take_while(|l| !l.starts_with("PID: "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn sys_agrees_with_crash_and_drgn() {
    for d in lab_dumps() {
        // `sys` first: its TASKS is then the kernel's count (nr_threads and
        // the idle tasks), which must be what `ps` walks.
        let run = krash_on(&d, "sys\nps\n");
        assert!(run.success, "{}: krash failed: {}", d.label(), run.stderr);
        let ours = sys_fields(&run.stdout);
        let label = d.label();
        let ps_rows = run
            .stdout
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("PID "))
            .skip(1)
            .filter(|l| {
                l.trim_start_matches('>').split_whitespace().next().is_some_and(|pid| pid.parse::<u32>().is_ok())
            })
            .count();
        if field(&ours, "TASKS") != Some("(unknown)") {
            assert!(ps_rows > 0, "{label}: ps listed no task");
            assert_eq!(field(&ours, "TASKS"), Some(ps_rows.to_string().as_str()), "{label}: sys TASKS vs ps rows");
        }
        assert_eq!(field(&ours, "RELEASE"), Some(d.kernel.as_str()), "{label}");
        if let Some(drgn) = d.drgn() {
            for (key, name) in [("NODENAME", "nodename"), ("VERSION", "version")] {
                assert_eq!(field(&ours, key), drgn["uname"][name].as_str(), "{label}: {key}");
            }
        }
        if let Some(t) = d.crash_transcript() {
            let theirs = sys_fields(&crash_sys_block(&t));
            // TASKS is not compared: crash 8.0.2 finds 3 tasks on these kernels.
            for key in [
                "CPUS",
                "DATE",
                "UPTIME",
                "LOAD AVERAGE",
                "NODENAME",
                "RELEASE",
                "VERSION",
                "MACHINE",
                "MEMORY",
                "PANIC",
            ] {
                // crash 8.0.2 prints an empty PANIC for some oopses (docs/COMPAT.md).
                // It also matches the lab module's own "krash-facts:" log line.
                if key == "PANIC" && field(&theirs, key).is_some_and(|p| p == "\"\"" || p.contains("krash-facts")) {
                    continue;
                }
                // On the frame-pointer flavor (HZ=250, no IKCONFIG) crash 8.0.2
                // counts jiffies_64 at 1000 Hz (docs/COMPAT.md, "kernel versions").
                if key == "UPTIME" && d.kernel == krash_labtest::FP_SLAB_KERNEL {
                    continue;
                }
                assert_eq!(field(&ours, key), field(&theirs, key), "{label}: sys {key} differs from crash");
            }
            // crash 8.0.2 omits the panic task's lines when the task is missing
            // from its (incomplete) PID hash; its `bt` header still names it.
            let bt_header = t.lines().find(|l| l.starts_with("PID: ")).unwrap_or_default();
            let header: Vec<&str> = bt_header.split_whitespace().collect();
            if let [_, pid, _, task, _, cpu, _, comm] = header.as_slice() {
                assert_eq!(field(&ours, "PID"), Some(*pid), "{label}: panic PID");
                assert_eq!(field(&ours, "TASK"), Some(*task), "{label}: panic TASK");
                assert_eq!(field(&ours, "CPU"), Some(*cpu), "{label}: panic CPU");
                assert_eq!(field(&ours, "COMMAND"), Some(*comm), "{label}: panic COMMAND");
            }
            if let Some(state) = field(&theirs, "STATE") {
                assert_eq!(field(&ours, "STATE"), Some(state), "{label}: panic STATE");
            }
        }
        let panic = field(&ours, "PANIC").unwrap_or_default();
        assert!(!panic.is_empty(), "{label}: no PANIC line");
    }
}

/// drgn's state letters for crash's two-letter states.
fn drgn_state(crash_state: &str) -> &'static str {
    match crash_state {
        "RU" => "R",
        "IN" => "S",
        "UN" => "D",
        "ID" => "I",
        "ST" => "T",
        "TR" => "t",
        "ZO" => "Z",
        "DE" => "X",
        "PA" => "P",
        // TASK_WAKING lies outside TASK_REPORT, so /proc and drgn report a
        // task caught mid-wakeup as running; crash shows WA.
        "WA" => "R",
        _ => "?",
    }
}

#[test]
fn ps_lists_every_task_drgn_knows_plus_idle_tasks() {
    for d in lab_dumps() {
        let Some(drgn) = d.drgn() else { continue };
        let run = krash_on(&d, "ps\n");
        assert!(run.success, "{}: {}", d.label(), run.stderr);
        let rows: Vec<Vec<String>> = run
            .stdout
            .lines()
            .skip(1)
            .map(|l| l.trim_start_matches('>').split_whitespace().map(String::from).collect())
            .collect();
        let drgn_tasks = drgn["tasks"].as_array().cloned().unwrap_or_default();
        for t in &drgn_tasks {
            let addr = t["task"].as_str().unwrap_or_default().trim_start_matches("0x").to_string();
            let row = rows.iter().find(|r| r.get(3) == Some(&addr));
            let row = row.unwrap_or_else(|| panic!("{}: task {addr} ({}) missing from ps", d.label(), t["comm"]));
            assert_eq!(row[0], t["pid"].to_string(), "{}: pid of {addr}", d.label());
            let comm = row[8..].join(" ");
            let comm = comm.trim_start_matches('[').trim_end_matches(']');
            assert_eq!(Some(comm), t["comm"].as_str(), "{}: comm of {addr}", d.label());
            assert_eq!(
                drgn_state(&row[4]),
                t["state"].as_str().unwrap_or_default(),
                "{}: state of pid {}",
                d.label(),
                row[0]
            );
        }
        // Everything else krash lists must be a per-CPU idle task.
        let extra = rows.len() - drgn_tasks.len();
        let idle = rows.iter().filter(|r| r[0] == "0").count();
        assert!(extra <= idle, "{}: {extra} tasks beyond drgn's, only {idle} idle", d.label());
        assert!(rows.iter().any(|r| r[0] == "0" && r[2] == "1"), "{}: no idle task for CPU 1", d.label());
    }
}

#[test]
fn log_equals_vmcore_dmesg() {
    for d in lab_dumps() {
        if !d.is_kdump_boot() {
            continue;
        }
        let Ok(dmesg) = std::fs::read_to_string(d.dir.join("vmcore-dmesg.txt")) else { continue };
        // makedumpfile 1.7.8 (the 7.x lab kernel's) prints each record's
        // caller, in a field two columns wider than the kernel's and crash's
        // `[%6s]`: compared with `log -c`, the field's padding aside.
        let with_caller = dmesg.lines().next().and_then(caller_field).is_some();
        let run = krash_on(&d, if with_caller { "log -c\n" } else { "log\n" });
        assert!(run.success, "{}: {}", d.label(), run.stderr);
        // With callers, continuation lines are indented under the wider
        // field too: their text is compared.
        let normal = |l: &str| if with_caller { unpad_caller(l).trim_start().to_string() } else { l.to_string() };
        let ours: Vec<String> = run.stdout.lines().map(normal).collect();
        let theirs: Vec<String> = dmesg.lines().map(normal).collect();
        assert!(theirs.len() > 100, "{}: vmcore-dmesg.txt is short", d.label());
        // The capture kernel's dmesg is the same ring, read by makedumpfile.
        assert_eq!(ours.len(), theirs.len(), "{}: line count", d.label());
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            assert_eq!(a, b, "{}: log line {i}", d.label());
        }
    }
}

/// The `[  T123]` caller field after a line's timestamp: (start, end) of the brackets.
fn caller_field(line: &str) -> Option<(usize, usize)> {
    let start = line.find("] [")? + 2;
    let end = start + line[start..].find(']')?;
    let id = line[start + 1..end].trim_start();
    let ok = id.len() > 1 && id.starts_with(['T', 'C']) && id[1..].bytes().all(|b| b.is_ascii_digit());
    ok.then_some((start, end))
}

fn unpad_caller(line: &str) -> String {
    match caller_field(line) {
        Some((start, end)) => format!("{}[{}{}", &line[..start], line[start + 1..end].trim_start(), &line[end..]),
        None => line.to_string(),
    }
}

#[test]
fn json_output_is_valid_for_core_commands() {
    let Some(d) = lab_dumps().into_iter().next() else { return };
    let vmlinux = d.vmlinux.to_string_lossy().into_owned();
    let vmcore = d.vmcore.to_string_lossy().into_owned();
    let run = common::krash(&["-s", "--json", &vmlinux, &vmcore], "sys\nps\nlog\nhelp\n");
    assert!(run.success, "{}", run.stderr);
    let docs: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:.200}")))
        .collect();
    let names: Vec<&str> = docs.iter().map(|v| v["command"].as_str().unwrap_or_default()).collect();
    assert_eq!(names, vec!["sys", "ps", "log", "help"]);
    assert!(docs[1]["data"]["rows"].as_array().map_or(0, |r| r.len()) > 10);
}

#[test]
fn sys_i_agrees_with_the_boot_dmi_line() {
    for d in lab_dumps().into_iter().filter(|d| d.format == "kdump-zlib") {
        let run = krash_on(&d, "sys -i\nlog\nsys config\n");
        assert!(run.success, "{}: {}", d.label(), run.stderr);
        let fields = sys_fields(&run.stdout);
        // The identity line (7.x also logs "DMI: SMBIOS 2.8 present." and the memory slots).
        let dmi_line = run.stdout.lines().find(|l| l.contains("] DMI: ") && l.contains(", BIOS ")).unwrap_or_default();
        for key in ["DMI_SYS_VENDOR", "DMI_PRODUCT_NAME", "DMI_BIOS_VERSION", "DMI_BIOS_DATE"] {
            let v = field(&fields, key).unwrap_or_else(|| panic!("{}: sys -i lacks {key}", d.label()));
            assert!(!v.is_empty() && dmi_line.contains(v), "{}: {key}={v} not in {dmi_line}", d.label());
        }
        // The lab kernels have no CONFIG_IKCONFIG: the error must say so.
        assert!(run.stderr.contains("CONFIG_IKCONFIG"), "{}: {}", d.label(), run.stderr);
    }
}
