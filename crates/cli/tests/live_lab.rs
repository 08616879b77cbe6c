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
