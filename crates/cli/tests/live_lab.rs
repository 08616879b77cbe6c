//! Live systems: krash on the running kernel's /proc/kcore. On the test
//! machine itself when it allows it (root, CONFIG_PROC_KCORE, no lockdown),
//! checked against /proc and uname; otherwise the refusal must be clear.
//! In the lab, the live scenario runs krash inside a guest and saves its
//! output (krash-live.txt), checked against the kdump taken afterwards.

mod common;

use std::path::Path;

use common::{field, krash, lab_dumps, sys_fields};

const COMMANDS: &str = "sys\nps\nmod\nlog\n";

#[test]
fn live_host_kernel_or_a_clear_refusal() {
    let kcore = Path::new("/proc/kcore");
    let run = krash(&["-s", "--live", "--no-search"], COMMANDS);
    if !kcore.exists() {
        assert!(!run.success);
        assert!(run.stderr.contains("no /proc/kcore"), "unclear refusal: {}", run.stderr);
        eprintln!("note: this kernel has no /proc/kcore; live test limited to the refusal");
        return;
    }
    if std::fs::File::open(kcore).is_err() {
        assert!(!run.success);
        assert!(
            run.stderr.contains("needs root") || run.stderr.contains("lockdown"),
            "unclear refusal: {}",
            run.stderr
        );
        eprintln!("note: /proc/kcore not readable here; live test limited to the refusal");
        return;
    }
    assert!(run.success, "krash --live failed: {}", run.stderr);
    let fields = sys_fields(&run.stdout);
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    assert_eq!(field(&fields, "RELEASE"), Some(release.trim()), "sys RELEASE");
    assert_eq!(field(&fields, "DUMPFILE"), Some("/proc/kcore"), "sys DUMPFILE");
    // pid 1 exists on every system.
    assert!(
        run.stdout.lines().any(|l| l.split_whitespace().next().map(|w| w.trim_start_matches('>')) == Some("1")
            || l.split_whitespace().nth(1) == Some("1")),
        "ps has no pid 1"
    );
    // Every module loaded before and after the run appears in `mod`.
    let modules = std::fs::read_to_string("/proc/modules").unwrap_or_default();
    for name in modules.lines().filter_map(|l| l.split_whitespace().next()) {
        let still_loaded = std::fs::read_to_string("/proc/modules").unwrap_or_default().contains(name);
        if still_loaded {
            assert!(run.stdout.contains(name), "mod lacks {name}");
        }
    }
    // The log's first line is the kernel's first message, as dmesg shows it.
    assert!(run.stdout.contains("Linux version"), "log lacks the boot banner");
}

/// A `ps` row (PID PPID CPU TASK ST %MEM VSZ RSS COMM) whose name is empty
/// or not text, or a kernel thread (bracketed name) other than the idle
/// tasks and kthreadd whose parent is not kthreadd; false for other lines.
fn ps_row_is_unsound(line: &str) -> bool {
    let t: Vec<&str> = line.trim_start_matches([' ', '>']).split_whitespace().collect();
    let is_row = t.len() >= 8
        && t.get(3).is_some_and(|a| a.len() == 16 && a.chars().all(|c| c.is_ascii_hexdigit()))
        && t[..3].iter().all(|n| n.parse::<u32>().is_ok());
    if !is_row {
        return false;
    }
    let comm = t.get(8..).map(|c| c.join(" ")).unwrap_or_default();
    let named = !comm.is_empty() && comm != "[]" && !comm.chars().any(char::is_control);
    let kthread_of_kthreadd = !comm.starts_with('[') || t[0] == "0" || t[0] == "2" || t[1] == "2";
    !(named && kthread_of_kthreadd)
}

/// The lab's live scenario: krash's own output inside the guest.
#[test]
fn lab_live_transcript_matches_the_kdump() {
    for d in lab_dumps().into_iter().filter(|d| d.scenario == "live" && d.format.starts_with("kdump")) {
        let transcript = d.dir.join("krash-live.txt");
        let Ok(text) = std::fs::read_to_string(&transcript) else {
            eprintln!("note: {} has no krash-live.txt", d.label());
            continue;
        };
        let live = sys_fields(&text);
        assert_eq!(field(&live, "RELEASE"), Some(d.kernel.as_str()), "{}: live RELEASE", transcript.display());
        assert_eq!(field(&live, "DUMPFILE"), Some("/proc/kcore"), "{}: live DUMPFILE", transcript.display());
        assert!(text.contains("# exit: 0"), "{}: krash failed in the guest", transcript.display());
        let expected = &d.manifest["expected"];
        // The scenario's sleeping kthread is listed and its stack unwinds in the live kernel.
        if let Some(comm) = expected["live_kthread_comm"].as_str() {
            assert!(text.contains(&format!("[{comm}]")), "{}: ps lacks {comm}", transcript.display());
        }
        // The task table read in the guest is sound: every task is named in
        // printable text, and every kernel thread but kthreadd and the idle
        // tasks is kthreadd's child. (Two reads at once through one
        // /proc/kcore shared its bounce buffer: a name came back as \x19 and
        // a parent's PID as 0.)
        let unsound: Vec<&str> = text.lines().filter(|l| ps_row_is_unsound(l)).collect();
        assert!(unsound.is_empty(), "{}: ps rows read wrong: {unsound:?}", transcript.display());
        if let Some(function) = expected["live_kthread_function"].as_str() {
            assert!(text.contains(&format!("] {function} at ")), "{}: bt lacks {function}", transcript.display());
        }
        let on_dump = krash(&["-s", "--no-search", &d.vmcore.to_string_lossy()], COMMANDS);
        let dump = sys_fields(&on_dump.stdout);
        for key in ["VERSION", "NODENAME", "CPUS"] {
            assert_eq!(field(&live, key), field(&dump, key), "{}: sys {key}", d.label());
        }
    }
}
