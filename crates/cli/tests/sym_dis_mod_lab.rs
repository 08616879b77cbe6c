//! `mod`, `mod -s`, `sym` and `dis -l` on every lab dump, compared line for
//! line with crash's transcript of the same commands (lab/oracle/
//! crash-commands) where crash opened the dump.

mod common;

use common::{krash_on, lab_dumps, LabDump};

const TABLE_HEADER: &str = "     MODULE       NAME";

/// crash's output of `mod`, `mod -s`, `sym F` and `dis -l F 20`: the
/// transcript from the first module table to the end of standard output.
struct CrashSections {
    modules: Vec<String>,
    loaded: Vec<String>,
    sym: String,
    dis: Vec<String>,
}

fn crash_sections(transcript: &str) -> Option<CrashSections> {
    let stdout = transcript.split("# ---- stderr").next()?;
    let lines: Vec<&str> = stdout.lines().collect();
    let first = lines.iter().position(|l| l.starts_with(TABLE_HEADER))?;
    let second = first + 1 + lines[first + 1..].iter().position(|l| l.starts_with(TABLE_HEADER))?;
    let sym = lines.get(second + 2)?.to_string();
    let dis = lines.get(second + 3..)?.iter().take_while(|l| !l.is_empty()).map(|l| l.to_string()).collect();
    Some(CrashSections {
        modules: lines[first..second].iter().map(|l| l.to_string()).collect(),
        loaded: lines[second..second + 2].iter().map(|l| l.to_string()).collect(),
        sym,
        dis,
    })
}

/// A line with compiler-clone suffixes taken off symbol names
/// (`krash_queue_pending.isra.0` → `krash_queue_pending`): crash 8.0.2
/// stores a module's clone under its source name (docs/COMPAT.md, sym).
fn without_clone_suffixes(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(dot) = rest.find('.') {
        let (head, tail) = rest.split_at(dot);
        out.push_str(head);
        let after = &tail[1..];
        let kind = ["isra", "constprop", "part", "cold"].into_iter().find(|k| after.starts_with(k));
        match kind {
            Some(k) => {
                let mut skip = &after[k.len()..];
                if let Some(digits) = skip.strip_prefix('.') {
                    let n = digits.bytes().take_while(u8::is_ascii_digit).count();
                    if n > 0 {
                        skip = &digits[n..];
                    }
                }
                rest = skip;
            }
            None => {
                out.push('.');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn compare(label: &str, what: &str, ours: &[String], theirs: &[String], failures: &mut Vec<String>) {
    let ours: Vec<String> = ours.iter().map(|l| without_clone_suffixes(l)).collect();
    let theirs: Vec<String> = theirs.iter().map(|l| without_clone_suffixes(l)).collect();
    if ours == theirs {
        return;
    }
    let at = ours.iter().zip(&theirs).position(|(a, b)| a != b).unwrap_or(ours.len().min(theirs.len()));
    failures.push(format!(
        "{label}: {what} differs at line {} (krash {} lines, crash {}):\n  krash: {:?}\n  crash: {:?}",
        at + 1,
        ours.len(),
        theirs.len(),
        ours.get(at),
        theirs.get(at)
    ));
}

fn check_dump(d: &LabDump, failures: &mut Vec<String>) -> bool {
    let Some(transcript) = d.crash_transcript() else { return false };
    let Some(crash) = crash_sections(&transcript) else { return false };
    let (Some(ko), Some(function)) =
        (d.manifest["module_ko"].as_str(), d.manifest["expected"]["faulting_function"].as_str())
    else {
        return false;
    };
    let label = d.label();
    let lines = |commands: &str| -> Vec<String> {
        let run = krash_on(d, commands);
        assert!(run.success, "{label}: krash failed on {commands:?}: {}", run.stderr);
        run.stdout.lines().map(str::to_string).collect()
    };
    compare(&label, "mod", &lines("mod\n"), &crash.modules, failures);
    let load = format!("mod -s krash_scenarios {ko}\n");
    compare(&label, "mod -s", &lines(&load), &crash.loaded, failures);
    let sym = lines(&format!("{load}sym {function}\n"));
    let dis = lines(&format!("{load}dis -l {function} 20\n"));
    if without_clone_suffixes(function) != function {
        // crash cannot find a module's clone by the name the oops prints
        // ("symbol not found"): krash names it and shows its code.
        let (sym, dis) = (sym.get(2..).unwrap_or_default(), dis.get(2..).unwrap_or_default());
        if !sym.first().is_some_and(|l| l.contains(&format!(" {function} [krash_scenarios]"))) {
            failures.push(format!("{label}: sym {function}: {sym:?}"));
        }
        if !dis.iter().any(|l| l.contains(&format!("<{function}>:")) || l.contains(&format!("<{function}+"))) {
            failures.push(format!("{label}: dis -l {function}: {dis:?}"));
        }
        return true;
    }
    compare(&label, "sym", sym.get(2..).unwrap_or_default(), std::slice::from_ref(&crash.sym), failures);
    compare(&label, "dis -l", dis.get(2..).unwrap_or_default(), &crash.dis, failures);
    true
}

#[test]
fn clone_suffixes_come_off() {
    assert_eq!(without_clone_suffixes("call 0x1 <krash_queue_pending.isra.0>"), "call 0x1 <krash_queue_pending>");
    assert_eq!(without_clone_suffixes("<f.constprop.12+8> x.cold y.part.0 a.b"), "<f+8> x y a.b");
    assert_eq!(without_clone_suffixes("krash_scenarios.c: 493"), "krash_scenarios.c: 493");
}

#[test]
fn mod_sym_dis_agree_with_crash() {
    let mut failures = Vec::new();
    let mut compared = 0;
    for d in lab_dumps() {
        if check_dump(&d, &mut failures) {
            compared += 1;
        }
    }
    krash_labtest::assert_compared(compared, "mod/sym/dis against crash's transcripts");
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn faddr2line_and_module_listing_work() {
    let Some(d) = lab_dumps().into_iter().find(|d| d.manifest["module_ko"].is_string()) else { return };
    let ko = d.manifest["module_ko"].as_str().unwrap_or_default();
    let run =
        krash_on(&d, &format!("mod -s krash_scenarios {ko}\nsym -m krash_scenarios\nmod -t\nsym machine_kexec+0x10\n"));
    assert!(run.success, "{}", run.stderr);
    assert!(run.stdout.contains(" MODULE START: krash_scenarios"), "{}", run.stdout);
    assert!(run.stdout.contains("krash_scenarios  OE"), "{}", run.stdout);
    assert!(run.stdout.contains("machine_kexec+0x10:\n"), "{}", run.stdout);
    // The DWARF's own file name: relative to the build directory, which
    // 5.10's Debian build names (`debian/build/build_amd64_none_cloud-amd64/`).
    assert!(
        run.stdout
            .lines()
            .any(|l| l.contains("machine_kexec at ") && l.contains("arch/x86/kernel/machine_kexec_64.c:")),
        "{}",
        run.stdout
    );
}
