//! `mod -S` with no directory on every lab scenario: each distro module's
//! debug object is found under the manifest's module_debug_dir, the
//! scenario module next to the dump, and a module with no object file is
//! named after the table as crash does.

mod common;

use common::{krash, krash_on, one_per_scenario};

#[test]
fn every_module_object_is_found_without_a_directory() {
    for d in one_per_scenario() {
        let debug_dir = d.manifest["module_debug_dir"].as_str().unwrap_or_default().to_string();
        let func = d.manifest["expected"]["faulting_function"].as_str().unwrap_or("krash_hung_waiter").to_string();
        let run = krash_on(&d, &format!("mod -S\nsym {func}\n"));
        // Table rows (sym's line starts with an address too, then `(T)`).
        let rows: Vec<&str> = run
            .stdout
            .lines()
            .filter(|l| l.starts_with("ffff") && !l.split_whitespace().nth(1).is_some_and(|w| w.starts_with('(')))
            .collect();
        assert!(rows.len() > 1, "{}: module rows:\n{}{}", d.label(), run.stdout, run.stderr);
        for row in &rows {
            let object = row.split_whitespace().nth(4).unwrap_or_default();
            let name = row.split_whitespace().nth(1).unwrap_or_default();
            if name == "krash_scenarios" {
                assert_eq!(object, d.dir.join("krash_scenarios.ko").to_string_lossy(), "{}: {row}", d.label());
            } else {
                assert!(object.starts_with(&debug_dir), "{}: {name} not from {debug_dir}: {row}", d.label());
            }
        }
        // Only modules with no object file anywhere (the live scenario's
        // LiME module) may be reported missing.
        for missing in run.stdout.lines().filter_map(|l| l.strip_prefix("mod: cannot find or load object file for ")) {
            let name = missing.trim_end_matches(" module");
            assert!(
                !has_object(std::path::Path::new(&debug_dir), name) && name != "krash_scenarios",
                "{}: {name} exists but was not loaded",
                d.label()
            );
        }
        // The first instruction may belong to an inlined header function
        // (the frame-pointer flavor's sysrq_handle_crash starts in rcupdate.h).
        assert!(
            run.stdout.contains(".c: ") || run.stdout.contains(".h: "),
            "{}: {func} has a source line once loaded:\n{}",
            d.label(),
            run.stdout
        );
    }
}

#[test]
fn a_module_without_an_object_file_is_named() {
    let Some(d) = one_per_scenario().into_iter().next() else { return };
    let dir = std::env::temp_dir().join(format!("krash-mod-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let vmcore = dir.join("vmcore");
    let _ = std::fs::remove_file(&vmcore);
    std::os::unix::fs::symlink(&d.vmcore, &vmcore).expect("symlink the dump");
    let run = krash(&["-s", &d.vmlinux.to_string_lossy(), &vmcore.to_string_lossy()], "mod -S\n");
    let _ = std::fs::remove_dir_all(&dir);
    let table_end = run.stdout.rfind("OBJECT FILE").unwrap_or(0);
    let note = run.stdout.find("mod: cannot find or load object file for krash_scenarios module");
    assert!(
        note.is_some_and(|n| n > table_end),
        "{}: the missing module is named after the table:\n{}{}",
        d.label(),
        run.stdout,
        run.stderr
    );
    assert!(!run.stdout.contains("krash_scenarios.ko"), "{}: nothing to load it from:\n{}", d.label(), run.stdout);
}

/// Whether `dir` holds `name.ko` (or `.ko.debug`) somewhere below it.
fn has_object(dir: &std::path::Path, name: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.flatten().any(|e| {
        let file = e.file_name().to_string_lossy().replace('-', "_");
        file == format!("{name}.ko")
            || file == format!("{name}.ko.debug")
            || (e.path().is_dir() && has_object(&e.path(), name))
    })
}
