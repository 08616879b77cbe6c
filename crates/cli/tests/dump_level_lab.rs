//! What `makedumpfile -d 31` loses on kernels whose `struct page` it
//! misreads (6.12's page_type encoding and later): the lab dumps those
//! kernels at `-d 1` (recorded as `dump_level` in each manifest); here the
//! null-member dump is filtered again at `-d 31` with the host's
//! makedumpfile, and `kmem -s` on the two files is compared. Slab pages of
//! live caches are dropped as if free: krash must say which caches it
//! cannot show and why, and show every other one as on the whole dump.
mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::{krash, one_per_scenario, LabDump};

/// `kmem -s` on `vmcore`: (cache names shown, `(unknown)` where the name
/// string itself was filtered out; the "not shown" and cache-list notes).
fn kmem_s(d: &LabDump, vmcore: &std::path::Path) -> (Vec<String>, Vec<String>) {
    let vmlinux = d.vmlinux.to_string_lossy().into_owned();
    let vmcore = vmcore.to_string_lossy().into_owned();
    let run = krash(&["-s", &vmlinux, &vmcore], "kmem -s\n");
    assert!(run.success, "{}: {}", d.label(), run.stderr);
    let shown = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("ffff"))
        .filter_map(|l| l.split_whitespace().last().map(str::to_string))
        .collect();
    let missing = run.stdout.lines().filter(|l| l.starts_with("kmem: ")).map(str::to_string).collect();
    (shown, missing)
}

#[test]
fn dump_level_31_loses_slab_pages_and_krash_says_which() {
    let mut compared = 0;
    for d in one_per_scenario().into_iter().filter(|d| d.scenario == "null-member") {
        if d.manifest["dump_level"].as_u64() != Some(1) {
            continue;
        }
        let dir = tempfile::tempdir().expect("temporary directory");
        let filtered = dir.path().join("vmcore.d31");
        let made = Command::new("makedumpfile")
            .args(["-d", "31", "-c"])
            .arg(&d.vmcore)
            .arg(&filtered)
            .output()
            .expect("makedumpfile runs (the lab installs it)");
        assert!(made.status.success(), "{}: makedumpfile -d 31: {}", d.label(), String::from_utf8_lossy(&made.stderr));

        let (whole, whole_missing) = kmem_s(&d, &d.vmcore);
        assert!(whole_missing.is_empty(), "{}: the -d 1 dump lacks caches: {whole_missing:?}", d.label());
        let (shown, missing) = kmem_s(&d, &filtered);
        assert!(!missing.is_empty(), "{}: -d 31 lost no slab page this time", d.label());
        assert!(missing.iter().all(|l| l.ends_with("page excluded from the dump")), "{}: {missing:#?}", d.label());
        let named: BTreeSet<String> = missing
            .iter()
            .filter_map(|l| l.strip_prefix("kmem: ")?.split(": not shown: ").next().map(str::to_string))
            .collect();
        // Nothing silently lost: every cache is shown (its name may be
        // unreadable) or named as not shown, and no name is made up.
        let whole: BTreeSet<String> = whole.into_iter().collect();
        assert_eq!(shown.len() + named.len(), whole.len(), "{}: {missing:#?}", d.label());
        for name in shown.iter().chain(&named).filter(|n| *n != "(unknown)") {
            assert!(whole.contains(name), "{}: {name} is not a cache of the whole dump", d.label());
        }
        eprintln!("{}: -d 31 drops the slabs of {} of {} caches", d.label(), named.len(), whole.len());
        compared += 1;
    }
    krash_labtest::assert_compared(compared, "kmem -s on -d 31 copies of the -d 1 lab dumps");
}
