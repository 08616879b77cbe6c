//! The same commands on every lab dump, opened with the vmlinux and with
//! the dump alone (kallsyms, BTF and ORC from its memory): outputs must be
//! equal except for what only DWARF knows (documented in docs/COMPAT.md).

mod common;

use common::{krash, lab_dumps, LabDump};

const COMMANDS: &str = "sys\nps\nlog\nbt -a\nmod\nstruct task_struct.pid,comm,tgid 0\n";

fn run_both(d: &LabDump, commands: &str) -> (String, String) {
    let vmlinux = d.vmlinux.to_string_lossy().into_owned();
    let vmcore = d.vmcore.to_string_lossy().into_owned();
    let with = krash(&["-s", &vmlinux, &vmcore], commands);
    let without = krash(&["-s", "--no-search", &vmcore], commands);
    assert!(with.success, "{}: with vmlinux: {}", d.label(), with.stderr);
    assert!(without.success, "{}: without vmlinux: {}", d.label(), without.stderr);
    assert!(without.stderr.contains("no DWARF"), "{}: the dump-only session must say once what is missing", d.label());
    (with.stdout, without.stdout)
}

/// Lines that legitimately differ: where the kernel image came from.
fn comparable(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| {
            let t = l.trim_start();
            !(t.starts_with("KERNEL: ") || t.starts_with("SYMBOLS: ") || t.starts_with("TYPES: "))
        })
        .collect()
}

#[test]
fn dump_only_sessions_match_vmlinux_sessions() {
    for d in lab_dumps().into_iter().filter(|d| d.format == "kdump-zlib") {
        // struct ... 0 is replaced by the panic task's address below.
        let (with, _) = run_both(&d, "sys\n");
        let task = with.lines().find_map(|l| l.trim_start().strip_prefix("TASK: ")).unwrap_or("0").to_string();
        let commands = COMMANDS.replace(" 0\n", &format!(" {task}\n"));
        let (with, without) = run_both(&d, &commands);
        let (a, b) = (comparable(&with), comparable(&without));
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(x, y, "{}: line {i} differs between the two modes", d.label());
        }
        assert_eq!(a.len(), b.len(), "{}: output lengths differ", d.label());
    }
}

#[test]
fn dwarf_only_features_say_so_without_vmlinux() {
    let Some(d) = lab_dumps().into_iter().find(|d| d.format == "kdump-zlib") else { return };
    let vmcore = d.vmcore.to_string_lossy().into_owned();
    let run = krash(&["-s", "--no-search", &vmcore], "sym panic\ndis -l panic 2\n");
    assert!(run.success, "{}", run.stderr);
    assert!(run.stdout.contains("(T) panic"), "{}", run.stdout);
    assert!(run.stdout.contains("<panic>:"), "{}", run.stdout);
}

#[test]
fn vmlinux_is_found_by_build_id() {
    let Some(d) = lab_dumps().into_iter().find(|d| d.format == "kdump-zlib") else { return };
    // The lab's kernel tree has the Debian layout: ROOT/usr/lib/debug/boot/vmlinux-RELEASE.
    let Some(debug_root) = d.vmlinux.parent().and_then(|p| p.parent()) else { return };
    let vmcore = d.vmcore.to_string_lossy().into_owned();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_krash"));
    child.env("KRASH_DEBUG_PATH", debug_root).args(["-s", &vmcore]);
    let out = std::process::Command::output(child.stdin(std::process::Stdio::null())).expect("krash runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("no vmlinux"), "{}: the vmlinux was not found: {stderr}", d.label());
}
