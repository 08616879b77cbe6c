//! The workspace's crates are layers and data flows one way: a crate may
//! depend only on crates below it. Cargo forbids cycles but not an upward
//! edge between crates that do not form one, so the order is checked here
//! from every crate's manifest.

use std::path::Path;

/// Bottom to top. `labtest` is test support, usable by any crate's tests.
const LAYERS: &[&str] = &[
    "krash-labtest",
    "krash-core",
    "krash-dumpfile",
    "krash-arch",
    "krash-debuginfo",
    "krash-dwarf",
    "krash-unwind",
    "krash-program",
    "krash-eval",
    "krash-linux",
    "krash-analyze",
    "krash-commands",
    "krash-render",
    "krash",
];

/// (package name, [(section, dependency)]) for every workspace crate.
fn manifests() -> Vec<(String, Vec<(String, String)>)> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&crates).expect("crates/ is readable") {
        let path = entry.expect("directory entry").path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let mut name = None;
        let mut section = String::new();
        let mut deps = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                section = line.trim_matches(|c| c == '[' || c == ']').to_string();
            } else if let Some(value) = line.strip_prefix("name = ") {
                if section == "package" {
                    name = Some(value.trim_matches('"').to_string());
                }
            } else if section.ends_with("dependencies") {
                if let Some((dep, _)) = line.split_once(['.', ' ', '=']) {
                    if dep.starts_with("krash") {
                        deps.push((section.clone(), dep.to_string()));
                    }
                }
            }
        }
        out.push((name.unwrap_or_else(|| panic!("{}: no package name", path.display())), deps));
    }
    out
}

fn layer(name: &str) -> usize {
    LAYERS.iter().position(|l| *l == name).unwrap_or_else(|| panic!("{name} is not in LAYERS: add it where it belongs"))
}

#[test]
fn every_crate_depends_only_on_lower_layers() {
    let manifests = manifests();
    assert!(manifests.len() >= LAYERS.len() - 1, "found only {} crates", manifests.len());
    let mut wrong = Vec::new();
    for (name, deps) in &manifests {
        for (section, dep) in deps {
            let test_support = dep == "krash-labtest" && section == "dev-dependencies";
            // A crate's tests may use a higher crate to drive it (the
            // binary's tests use the subsystems); its library may not.
            if section == "dependencies" && !test_support && layer(dep) >= layer(name) {
                wrong.push(format!("{name} depends on {dep}, which is not below it"));
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn the_binary_reaches_kernel_data_only_through_commands_and_the_core() {
    // The CLI wires libraries together; it must not grow its own kernel
    // logic beside the subsystem crates.
    let manifests = manifests();
    let (_, deps) = manifests.iter().find(|(n, _)| n == "krash").expect("the krash binary crate");
    let libs: Vec<&str> = deps.iter().filter(|(s, _)| s == "dependencies").map(|(_, d)| d.as_str()).collect();
    for forbidden in ["krash-linux", "krash-eval", "krash-debuginfo", "krash-dwarf", "krash-unwind"] {
        assert!(!libs.contains(&forbidden), "the krash binary depends on {forbidden} directly: {libs:?}");
    }
}
