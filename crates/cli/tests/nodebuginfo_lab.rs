//! The same commands on every lab dump, opened with the vmlinux and with
//! the dump alone (kallsyms, BTF and ORC from its memory): outputs must be
//! equal except for what only DWARF knows (documented in docs/COMPAT.md).

mod common;

use common::{arm64_lab_dumps, krash, lab_dumps, LabDump};

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
    // A kernel without BTF has no types in the dump: alone it answers only
    // what needs none (flavor_lab checks which, and the refusals).
    for d in lab_dumps().into_iter().filter(|d| d.format == "kdump-zlib" && d.kernel != krash_labtest::FP_SLAB_KERNEL) {
        // struct ... 0 is replaced by the panic task's address below.
        let (with, _) = run_both(&d, "sys\n");
        let task = with.lines().find_map(|l| l.trim_start().strip_prefix("TASK: ")).unwrap_or("0").to_string();
        let commands = COMMANDS.replace(" 0\n", &format!(" {task}\n"));
        let (with, without) = run_both(&d, &commands);
        let (a, b) = (without_cfi_only_frames(comparable(&with), &without), comparable(&without));
        let b = without_cfi_only_frames(b, &without);
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(x, y, "{}: line {i} differs between the two modes", d.label());
        }
        assert_eq!(a.len(), b.len(), "{}: output lengths differ", d.label());
    }
}

/// arm64: the dump alone finds the KASLR'd image from VMCOREINFO
/// (`MODULES_END` + `KERNELOFFSET`). Debian's 6.12 arm64 has KALLSYMS_ALL and
/// BTF, so every session equals the vmlinux one; 6.1 arm64 lacks
/// KALLSYMS_ALL: its log equals the vmlinux session's, and `ps` says which
/// symbol it lacks.
#[test]
fn arm64_dump_only_sessions() {
    let dumps: Vec<LabDump> =
        arm64_lab_dumps().into_iter().filter(|d| d.manifest["main_format"] == d.format.as_str()).collect();
    let mut compared = 0;
    for d in &dumps {
        if d.kernel == krash_labtest::ARM64_KERNELS[0] {
            let (with, without) = run_both(d, "log\n");
            assert_eq!(comparable(&with), comparable(&without), "{}: log", d.label());
            let vmcore = d.vmcore.to_string_lossy().into_owned();
            let ps = krash(&["-s", "--no-search", &vmcore], "ps\n");
            assert!(ps.stderr.contains("init_task"), "{}: ps without data symbols: {}", d.label(), ps.stderr);
        } else {
            let (with, _) = run_both(d, "sys\n");
            let task = with.lines().find_map(|l| l.trim_start().strip_prefix("TASK: ")).unwrap_or("0").to_string();
            let (with, without) = run_both(d, &COMMANDS.replace(" 0\n", &format!(" {task}\n")));
            let (a, b) = (comparable(&with), comparable(&without));
            for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                assert_eq!(x, y, "{}: line {i} differs between the two modes", d.label());
            }
            assert_eq!(a.len(), b.len(), "{}: output lengths differ", d.label());
        }
        compared += 1;
    }
    krash_labtest::assert_compared(compared, "arm64 dumps opened alone");
}

/// The ORC warning of a dump-only `bt` at a function the kernel's own ORC
/// table leaves undefined (5.10's `__crash_kexec`): with the vmlinux, its
/// DWARF CFI unwinds on; without it krash says so and recovers from saved
/// registers. Both sessions' backtraces of such a task are compared up to
/// that frame only (the rest of the output as a whole).
fn without_cfi_only_frames<'a>(lines: Vec<&'a str>, dump_only: &str) -> Vec<&'a str> {
    const NO_ORC: &str = "bt: WARNING: ORC has no unwind information for ";
    let cut_tasks: Vec<&str> = {
        let mut tasks = Vec::new();
        let mut task = "";
        for l in dump_only.lines() {
            if l.starts_with("PID: ") {
                task = l;
            } else if l.starts_with(NO_ORC) {
                tasks.push(task);
            }
        }
        tasks
    };
    let mut out = Vec::new();
    let mut cut = false;
    let mut frames_kept = 0;
    for l in lines {
        if l.starts_with("PID: ") {
            cut = false;
            frames_kept = 0;
            out.push(l);
            continue;
        }
        if cut {
            let in_trace = ["#", " #", "    ", "bt: ", "--- "].iter().any(|p| l.starts_with(p));
            if !in_trace {
                cut = false;
                out.push(l);
            }
            continue;
        }
        if l.starts_with(NO_ORC) {
            cut = true;
            continue;
        }
        out.push(l);
        if l.starts_with(" #") || l.starts_with("#") {
            frames_kept += 1;
            // The frame the dump-only unwind could not step out of is the
            // last one both show.
            let task = out.iter().rev().find(|x| x.starts_with("PID: ")).copied().unwrap_or("");
            if cut_tasks.contains(&task) && dump_only_frames_before_warning(dump_only, task) == frames_kept {
                cut = true;
            }
        }
    }
    out
}

/// Frames the dump-only `bt` of `task` printed before its ORC warning.
fn dump_only_frames_before_warning(dump_only: &str, task: &str) -> usize {
    let mut lines = dump_only.lines().skip_while(|l| *l != task).skip(1);
    lines
        .by_ref()
        .take_while(|l| !l.starts_with("bt: WARNING: ORC has no unwind information for ") && !l.starts_with("PID: "))
        .filter(|l| l.starts_with(" #") || l.starts_with("#"))
        .count()
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

/// Runs krash with `env` added to its environment.
fn krash_with_env(env: &[(&str, &str)], args: &[&str], commands: &str) -> common::Run {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_krash"));
    child.envs(env.iter().copied()).args(args);
    child.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = child.spawn().expect("krash runs");
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(commands.as_bytes());
    }
    let out = child.wait_with_output().expect("krash finishes");
    common::Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        success: out.status.success(),
    }
}

/// The kallsyms scan (what dump-only mode does where VMCOREINFO names no
/// tables, e.g. before 6.0) on every lab kernel, VMCOREINFO's kallsyms
/// entries ignored: it must find the tables VMCOREINFO and the vmlinux
/// name, and decode to the vmlinux's System.map.
#[test]
fn kallsyms_scan_finds_the_tables_vmcoreinfo_and_the_vmlinux_name() {
    let mut compared = 0;
    for d in lab_dumps().into_iter().filter(|d| d.format == "kdump-zlib") {
        let label = d.label();
        let files = krash_program::KernelFiles {
            dump: d.vmcore.clone(),
            vmlinux: Some(d.vmlinux.clone()),
            ..Default::default()
        };
        let kernel = krash_program::Kernel::open(files).unwrap_or_else(|e| panic!("{label}: {e}"));
        let t0 = std::time::Instant::now();
        let (scan, table, confidence) = kernel.scan_image_kallsyms().unwrap_or_else(|e| panic!("{label}: {e}"));
        let elapsed = t0.elapsed();
        let v = kernel.vmcoreinfo();
        let vmlinux = |name: &str| kernel.symbols().by_name(name).map(|s| s.addr);
        let tables = scan.tables();
        let mut named_by_vmcoreinfo = 0;
        for (name, found) in tables {
            assert_eq!(found, vmlinux(name), "{label}: {name}: the scan and the vmlinux differ");
            if let Some(want) = v.symbol(name) {
                assert_eq!(found, Some(want), "{label}: {name}: the scan and VMCOREINFO differ");
                named_by_vmcoreinfo += 1;
            }
        }
        // 6.0+ VMCOREINFO names five or six of them; on older kernels the
        // comparison with the vmlinux above is what remains.
        assert!(named_by_vmcoreinfo == 0 || named_by_vmcoreinfo >= 5, "{label}: {named_by_vmcoreinfo}");
        let agreed: Vec<usize> =
            confidence.split(" of ").flat_map(|part| part.split_whitespace().filter_map(|w| w.parse().ok())).collect();
        assert!(matches!(agreed[..], [a, b] if a == b && a >= 2 + named_by_vmcoreinfo), "{label}: {confidence}");

        // The decoded symbols: the count kallsyms_num_syms says, and
        // System.map's text symbols and a sample of others where the
        // vmlinux (KASLR applied) has them.
        assert_eq!(table.len(), scan.num_syms as usize, "{label}");
        let sysmap = std::fs::read_to_string(
            krash_labtest::system_map(&d.kernel).unwrap_or_else(|| panic!("{label}: no System.map")),
        )
        .unwrap();
        let mut text = 0;
        for line in sysmap.lines() {
            let mut words = line.split_whitespace();
            let (Some(_), Some(kind), Some(name)) = (words.next(), words.next(), words.next()) else { continue };
            if !matches!(kind, "T" | "t") {
                continue;
            }
            let want = vmlinux(name).unwrap_or_else(|| panic!("{label}: vmlinux has no {name}"));
            assert!(table.all_by_name(name).any(|s| s.addr == want), "{label}: text symbol {name} not at {want:#x}");
            text += 1;
        }
        assert!(text > 10_000, "{label}: {text} text symbols");
        // System.map's link-time addresses move by the KASLR offset, but for
        // per-cpu offsets (zero-based up to 6.12), which stay small.
        for name in ["_stext", "panic", "jiffies", "init_task", "init_uts_ns", "__start_BTF", "runqueues"] {
            // A kernel built without BTF (the lab's frame-pointer flavor) has no __start_BTF.
            if name == "__start_BTF" && vmlinux(name).is_none() {
                continue;
            }
            let linked = sysmap
                .lines()
                .find_map(|l| l.strip_suffix(name)?.strip_suffix(' ')?.split_whitespace().next())
                .and_then(|a| u64::from_str_radix(a, 16).ok())
                .unwrap_or_else(|| panic!("{label}: System.map has no {name}"));
            let want = if linked >> 63 == 1 { linked.wrapping_add(kernel.kaslr_offset()) } else { linked };
            assert!(table.all_by_name(name).any(|s| s.addr == want), "{label}: {name} not at {want:#x}");
        }
        // What the scan costs over decoding the tables VMCOREINFO names (timings only).
        if let Ok(listed) = krash_debuginfo::KallsymsLocation::from_lookup(|n| v.symbol(n), "VMCOREINFO") {
            let time = |f: &dyn Fn()| {
                let t0 = std::time::Instant::now();
                f();
                t0.elapsed()
            };
            let decode = (0..3)
                .map(|_| time(&|| drop(krash_debuginfo::read_kallsyms(&listed, kernel.memory()))))
                .min()
                .unwrap_or_default();
            let scan_and_decode =
                (0..3).map(|_| time(&|| drop(kernel.scan_image_kallsyms()))).min().unwrap_or_default();
            eprintln!("{label}: decoding VMCOREINFO's tables {decode:?}, scanning and decoding {scan_and_decode:?}");
        }
        eprintln!(
            "{label}: first scan {elapsed:?} ({} layout, {} bytes searched); {confidence}",
            scan.layout, scan.bytes_searched
        );
        compared += 1;
    }
    krash_labtest::assert_compared(compared, "kallsyms scans of lab dumps");
}

/// Dump-only sessions with the tables found by the scan
/// (`KRASH_KALLSYMS=scan`) print what sessions with VMCOREINFO's tables
/// print, but for the line that says where the symbols came from.
#[test]
fn dump_only_sessions_with_the_kallsyms_scan_match() {
    let mut compared = 0;
    for d in lab_dumps().into_iter().filter(|d| d.format == "kdump-zlib") {
        let label = d.label();
        let vmcore = d.vmcore.to_string_lossy().into_owned();
        let commands = "sys\nps\nlog\nbt -a\nmod\n";
        let args = ["--no-search", vmcore.as_str()];
        let listed = krash_with_env(&[("KRASH_KALLSYMS", "auto")], &args, commands);
        let scanned = krash_with_env(&[("KRASH_KALLSYMS", "scan")], &args, commands);
        assert!(listed.success, "{label}: {}", listed.stderr);
        assert!(scanned.success, "{label}: {}", scanned.stderr);
        let symbols_line =
            |text: &str| text.lines().find(|l| l.trim_start().starts_with("SYMBOLS: ")).map(str::to_owned);
        let line = symbols_line(&scanned.stdout).unwrap_or_else(|| panic!("{label}: no SYMBOLS line"));
        assert!(line.contains("kallsyms found by scanning the kernel image in the dump"), "{label}: {line}");
        assert!(line.contains("VMCOREINFO symbols agree"), "{label}: {line}");
        // Where VMCOREINFO names no kallsyms tables (before 6.0) the
        // default scans as well.
        let listed_line = symbols_line(&listed.stdout).unwrap_or_default();
        assert!(listed_line.contains("kallsyms in the dump (") || listed_line == line, "{label}: {listed_line}");
        let (a, b) = (comparable(&listed.stdout), comparable(&scanned.stdout));
        assert!(a.len() > 100, "{label}: only {} lines", a.len());
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(x, y, "{label}: line {i} differs with the scan");
        }
        assert_eq!(a.len(), b.len(), "{label}: output lengths differ");
        compared += 1;
    }
    krash_labtest::assert_compared(compared, "dump-only sessions with the kallsyms scan");
}

#[test]
fn a_bad_kallsyms_setting_is_refused() {
    let Some(d) = lab_dumps().into_iter().find(|d| d.format == "kdump-zlib") else { return };
    let vmcore = d.vmcore.to_string_lossy().into_owned();
    let run = krash_with_env(&[("KRASH_KALLSYMS", "guess")], &["-s", "--no-search", &vmcore], "sys\n");
    assert!(!run.success);
    assert!(run.stderr.contains("KRASH_KALLSYMS=guess: expected `scan` or `auto`"), "{}", run.stderr);
}
