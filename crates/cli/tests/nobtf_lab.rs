//! A vmlinux without `.BTF` (every kernel before 5.2, and distribution
//! kernels built without CONFIG_DEBUG_INFO_BTF) must give krash the same
//! types through its DWARF. The lab's vmlinux files all have BTF, so this
//! test makes a copy without it (`objcopy --remove-section .BTF`, into a
//! private temporary directory) and runs every command of
//! `tests/data/crash-peer-commands`, plus a few more, on one 6.1 and one
//! 6.12 dump with each file: the outputs must be equal.
//!
//! Differences that are expected, and checked as such:
//! - `sys`'s KERNEL line names the file given (the copy's path);
//! - the copy's session warns once that its types come from DWARF, and
//!   `sys` says so in its TYPES source (`types_from` in JSON).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{krash, one_per_scenario, LabDump};

/// Commands beyond crash-peer-commands that lean on types the most.
const EXTRA_COMMANDS: &[&str] = &[
    "ps",
    "bt -a",
    "log",
    "mod",
    "task",
    "struct task_struct",
    "struct page",
    "whatis struct kmem_cache",
    "p init_task.se",
    "kmem -S kmalloc-64",
];

/// The scenario whose manifest fills every placeholder of crash-peer-commands.
const SCENARIO: &str = "hung-task";

/// The commands of crash-peer-commands with their `{name}` placeholders
/// filled from the dump's manifest; a line whose placeholder the manifest
/// lacks is left out.
fn peer_commands(d: &LabDump) -> Vec<String> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/crash-peer-commands");
    let text = std::fs::read_to_string(&file).expect("tests/data/crash-peer-commands is readable");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| common::fill_placeholders(l, d))
        .chain(EXTRA_COMMANDS.iter().map(|c| c.to_string()))
        .collect()
}

/// A copy of `vmlinux` without `.BTF` in `dir`. Relocation sections go
/// too: 6.1's vmlinux keeps its `--emit-relocs` relocations, some of which
/// name `__start_BTF`, and objcopy refuses to drop a section relocations
/// still refer to. krash reads no relocations of an executable vmlinux.
fn strip_btf(vmlinux: &Path, dir: &Path) -> Option<PathBuf> {
    let out = dir.join(vmlinux.file_name()?);
    let status = Command::new("objcopy")
        .args(["--remove-section", ".BTF", "--remove-relocations", "*"])
        .arg(vmlinux)
        .arg(&out)
        .status();
    match status {
        Ok(s) if s.success() => Some(out),
        Ok(s) => panic!("objcopy failed ({s}) on {}", vmlinux.display()),
        Err(e) => {
            if std::env::var("KRASH_REQUIRE_LAB").as_deref() == Ok("1") {
                panic!("objcopy is needed for this test: {e}");
            }
            eprintln!("note: objcopy not runnable ({e}); no-BTF test skipped");
            None
        }
    }
}

/// One session's outputs: each command's stdout (redirected to a file of
/// its own), the session's stderr, and its wall time.
struct Session {
    outputs: Vec<String>,
    stderr: String,
    elapsed: Duration,
}

fn run_session(vmlinux: &Path, d: &LabDump, commands: &[String], out_dir: &Path) -> Session {
    std::fs::create_dir_all(out_dir).expect("output directory");
    let script: String = commands
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} > {}\n", out_dir.join(format!("{i}.txt")).display()))
        .collect();
    let vmlinux = vmlinux.to_string_lossy().into_owned();
    let vmcore = d.vmcore.to_string_lossy().into_owned();
    let started = Instant::now();
    let run = krash(&["-s", &vmlinux, &vmcore], &script);
    let elapsed = started.elapsed();
    assert!(run.success, "{}: krash failed with {vmlinux}: {}", d.label(), run.stderr);
    let outputs = (0..commands.len())
        .map(|i| std::fs::read_to_string(out_dir.join(format!("{i}.txt"))).unwrap_or_default())
        .collect();
    Session { outputs, stderr: run.stderr, elapsed }
}

/// `text` with the vmlinux's path replaced, for the KERNEL line of `sys`.
fn without_path(text: &str, vmlinux: &Path) -> String {
    text.replace(&*vmlinux.to_string_lossy(), "VMLINUX")
}

/// The first line where two outputs differ, with both versions.
fn first_difference(a: &str, b: &str) -> String {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    for i in 0..la.len().max(lb.len()) {
        let (x, y) = (la.get(i).copied().unwrap_or("<none>"), lb.get(i).copied().unwrap_or("<none>"));
        if x != y {
            return format!("line {i}:\n  BTF:   {x}\n  DWARF: {y}");
        }
    }
    "no line differs".into()
}

#[test]
fn dwarf_types_give_the_output_btf_gives() {
    let mut kernels_done = Vec::new();
    for prefix in ["6.1.", "6.12."] {
        let dumps: Vec<LabDump> = one_per_scenario().into_iter().filter(|d| d.kernel.starts_with(prefix)).collect();
        let Some(d) = dumps.iter().find(|d| d.scenario == SCENARIO).or(dumps.first()).cloned() else {
            continue;
        };
        let tmp = tempfile::Builder::new().prefix("krash-nobtf-").tempdir().expect("temporary directory");
        let Some(stripped) = strip_btf(&d.vmlinux, tmp.path()) else { return };
        let commands = peer_commands(&d);
        let with = run_session(&d.vmlinux, &d, &commands, &tmp.path().join("btf"));
        let without = run_session(&stripped, &d, &commands, &tmp.path().join("dwarf"));

        assert!(
            without.stderr.contains("no BTF; types come from its DWARF"),
            "{}: the no-BTF session must say where its types come from: {}",
            d.label(),
            without.stderr
        );
        assert!(!with.stderr.contains("no BTF"), "{}: {}", d.label(), with.stderr);
        // The session's type source, as `sys` reports it (its TYPES line).
        for (vmlinux, source) in
            [(&d.vmlinux, "(BTF; DWARF on demand)"), (&stripped, "(DWARF; the vmlinux has no BTF)")]
        {
            let run = krash(&["--json", "-s", &vmlinux.to_string_lossy(), &d.vmcore.to_string_lossy()], "sys\n");
            assert!(run.success, "{}: {}", d.label(), run.stderr);
            let types_from = format!("\"types_from\":\"{} {source}\"", vmlinux.display());
            assert!(run.stdout.contains(&types_from), "{}: no {types_from} in {}", d.label(), run.stdout);
        }
        let stderr_btf: Vec<&str> = with.stderr.lines().collect();
        let stderr_dwarf: Vec<&str> =
            without.stderr.lines().filter(|l| !l.contains("no BTF; types come from")).collect();
        assert_eq!(stderr_btf, stderr_dwarf, "{}: error messages differ", d.label());

        let mut failures = Vec::new();
        for (i, command) in commands.iter().enumerate() {
            let a = without_path(&with.outputs[i], &d.vmlinux);
            let b = without_path(&without.outputs[i], &stripped);
            if a != b {
                failures.push(format!("`{command}`: {}", first_difference(&a, &b)));
            }
        }
        assert!(failures.is_empty(), "{}: outputs differ without BTF:\n{}", d.label(), failures.join("\n"));
        let empty = with.outputs.iter().filter(|o| o.trim().is_empty()).count();
        assert!(empty * 4 < commands.len(), "{}: {empty} of {} commands printed nothing", d.label(), commands.len());
        eprintln!(
            "{}: {} commands: open+commands {:.2} s with BTF, {:.2} s with DWARF only",
            d.label(),
            commands.len(),
            with.elapsed.as_secs_f64(),
            without.elapsed.as_secs_f64()
        );
        kernels_done.push(d.kernel.clone());
    }
    if std::env::var("KRASH_REQUIRE_LAB").as_deref() == Ok("1") {
        assert_eq!(kernels_done.len(), 2, "a 6.1 and a 6.12 lab dump are needed, found {kernels_done:?}");
    }
}
