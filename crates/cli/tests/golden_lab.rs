//! Golden transcripts: the current krash against what the krash of the
//! baseline commit said on every lab dump, command by command, byte for byte.
//!
//! `lab/golden record` (run by `lab/build`, with krash built from commit
//! [`BASELINE`]) stored, for every crash dump of the lab and every mode
//! (`text`, and `dump-only` on kdump-zlib files), the output of each
//! command of `tests/data/crash-peer-commands`, from one krash process per
//! dump and mode. This test runs the krash under test the same way (same
//! arguments, same input lines, same environment) and compares every part:
//! exit status, each command's standard output and standard error, and the
//! run-wide standard error before the first and after the last command. The
//! transcript format and the way a run is split per command are described at
//! the top of `lab/golden`. There is no `--json` mode: every JSON document
//! follows the schema written after the baseline (docs/COMPAT.md, "JSON
//! schema 1"), which `json_lab` checks on every lab dump.
//!
//! A difference fails the test unless `tests/data/golden-fixes` lists it
//! (with the fix it reflects). `$KRASH_GOLDEN_DIR` overrides where the
//! transcripts are (default `$KRASH_LAB_DIR/golden/<BASELINE>`);
//! `$KRASH_GOLDEN_JOBS` sets how many krash processes run at once (default 2).

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use common::{lab_dumps, LabDump};

/// The commit whose krash recorded the transcripts (`GOLDEN_BASELINE` in
/// lab/build, which says why this one).
const BASELINE: &str = "8366234";
const MARK: &str = "krash-golden-mark-";
/// Environment variables that change what krash reads: lab/golden removes them.
const UNSET_ENV: [&str; 2] = ["KRASH_DEBUG_PATH", "KRASH_SOURCE_PATH"];
/// One krash run (every command on one dump) may take this long (lab/golden's RUN_TIMEOUT).
const RUN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(900);
/// Lines of a diff shown per differing pair.
const DIFF_LINES: usize = 12;

fn golden_dir() -> PathBuf {
    std::env::var_os("KRASH_GOLDEN_DIR").map_or_else(|| common::lab_dir().join("golden").join(BASELINE), PathBuf::from)
}

// ------------------------------------------------------------------ transcripts

/// One command of a transcript.
#[derive(Debug, Default)]
struct Recorded {
    index: usize,
    template: String,
    /// What was run; None when the manifest lacked a `{name}` of the template.
    line: Option<String>,
    /// None: krash created no output file (a text-mode error).
    stdout: Option<Vec<u8>>,
    stderr: Vec<u8>,
}

#[derive(Debug, Default)]
struct Transcript {
    dump: String,
    mode: String,
    dump_id: String,
    args: Vec<String>,
    outcome: Outcome,
    commands: Vec<Recorded>,
}

/// What one krash run said, split as lab/golden splits it.
#[derive(Debug, Default, PartialEq)]
struct Outcome {
    exit: i64,
    prologue: Vec<u8>,
    end: Vec<u8>,
    stray: Vec<u8>,
    stdout: BTreeMap<usize, Option<Vec<u8>>>,
    stderr: BTreeMap<usize, Vec<u8>>,
    /// krash was killed after [`RUN_TIMEOUT`] (not part of a transcript).
    timed_out: bool,
}

fn parse_transcript(bytes: &[u8]) -> Result<Transcript, String> {
    let mut t = Transcript::default();
    let mut pos = 0;
    let mut first = true;
    while pos < bytes.len() {
        let end = bytes[pos..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |n| pos + n);
        let line = std::str::from_utf8(&bytes[pos..end]).map_err(|e| format!("byte {pos}: {e}"))?;
        pos = end + 1;
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        if first {
            if line != "krash-golden 1" {
                return Err(format!("not a version 1 golden transcript: {line:?}"));
            }
            first = false;
            continue;
        }
        let current = t.commands.last_mut();
        match (key, current) {
            ("dump", _) => t.dump = value.to_string(),
            ("mode", _) => t.mode = value.to_string(),
            ("dump-id", _) => t.dump_id = value.to_string(),
            ("arg", _) => t.args.push(value.to_string()),
            ("exit", _) => t.outcome.exit = value.parse().map_err(|e| format!("exit {value}: {e}"))?,
            ("command", _) => t.commands.push(Recorded {
                index: value.parse().map_err(|e| format!("command {value}: {e}"))?,
                ..Recorded::default()
            }),
            ("template", Some(c)) => c.template = value.to_string(),
            ("line", Some(c)) => c.line = Some(value.to_string()),
            ("skipped", Some(_)) => {}
            ("stdout", Some(_)) if value == "none" => {}
            ("body", current) => {
                let (name, len) = value.rsplit_once(' ').ok_or_else(|| format!("bad body line {line:?}"))?;
                let len: usize = len.parse().map_err(|e| format!("{line:?}: {e}"))?;
                let data = bytes.get(pos..pos + len).ok_or_else(|| format!("{line:?}: file ends early"))?.to_vec();
                if bytes.get(pos + len) != Some(&b'\n') {
                    return Err(format!("{line:?}: no newline after the body"));
                }
                pos += len + 1;
                match (name, current) {
                    ("prologue-stderr", _) => t.outcome.prologue = data,
                    ("end-stderr", _) => t.outcome.end = data,
                    ("stray-stdout", _) => t.outcome.stray = data,
                    ("stdout", Some(c)) => c.stdout = Some(data),
                    ("stderr", Some(c)) => c.stderr = data,
                    _ => return Err(format!("unexpected body {name:?}")),
                }
            }
            _ => return Err(format!("unexpected line {line:?}")),
        }
    }
    for c in t.commands.iter().filter(|c| c.line.is_some()) {
        t.outcome.stdout.insert(c.index, c.stdout.clone());
        t.outcome.stderr.insert(c.index, c.stderr.clone());
    }
    Ok(t)
}

// ------------------------------------------------------------------ running krash

/// `data` cut after each newline, as lab/golden cuts it.
fn lines_of(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split_inclusive(|&b| b == b'\n')
}

fn marker_name(line: &[u8]) -> Option<String> {
    let rest = line.strip_prefix(MARK.as_bytes())?;
    let name = rest.split(|&b| b == b':').next().unwrap_or_default();
    Some(String::from_utf8_lossy(name).trim().to_string())
}

/// Runs krash as lab/golden did: every line redirected to a file of its
/// own, after a marker line whose error message marks its stderr.
fn run_krash(args: &[String], lines: &[(usize, String)]) -> Outcome {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let tmp = std::env::temp_dir().join(format!(
        "krash-golden-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir(&tmp).unwrap_or_else(|e| panic!("{}: {e}", tmp.display()));
    let mut script = String::new();
    for (i, line) in lines {
        script.push_str(&format!("{MARK}{i:04}\n{line} > {}/{i:04}.out\n", tmp.display()));
    }
    script.push_str(&format!("{MARK}end\n"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_krash"));
    for var in UNSET_ENV {
        command.env_remove(var);
    }
    let mut child = command
        .args(args)
        .current_dir(&tmp)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("krash binary runs");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let writer = std::thread::spawn(move || {
        // krash may exit before reading everything: a broken pipe is its answer.
        let _ = stdin.write_all(script.as_bytes());
    });
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut data = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut data);
            }
            data
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let started = std::time::Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("krash can be waited for") {
            break status;
        }
        if started.elapsed() > RUN_TIMEOUT {
            timed_out = true;
            let _ = child.kill();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let _ = writer.join();
    let out = std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    let exit = match out.status.code() {
        Some(code) => i64::from(code),
        None => -i64::from(std::os::unix::process::ExitStatusExt::signal(&out.status).unwrap_or(0)),
    };
    let mut outcome = Outcome { exit, timed_out, ..Outcome::default() };
    let mut current: Option<usize> = None;
    let mut after_end = false;
    for line in lines_of(&out.stderr) {
        if let Some(name) = marker_name(line) {
            if name == "end" {
                after_end = true;
            } else if let Ok(i) = name.parse() {
                current = Some(i);
            }
            continue;
        }
        let target = match (after_end, current) {
            (true, _) => &mut outcome.end,
            (false, Some(i)) => outcome.stderr.entry(i).or_default(),
            (false, None) => &mut outcome.prologue,
        };
        target.extend_from_slice(line);
    }
    outcome.stray = out.stdout;
    for (i, _) in lines {
        outcome.stderr.entry(*i).or_default();
        outcome.stdout.insert(*i, std::fs::read(tmp.join(format!("{i:04}.out"))).ok());
    }
    let _ = std::fs::remove_dir_all(&tmp);
    outcome
}

/// The arguments lab/golden gives krash for `mode` on `d`.
fn args_for(d: &LabDump, mode: &str) -> Vec<String> {
    let (vmlinux, vmcore) = (d.vmlinux.to_string_lossy().into_owned(), d.vmcore.to_string_lossy().into_owned());
    match mode {
        "text" => vec!["-s".into(), vmlinux, vmcore],
        _ => vec!["-s".into(), "--no-search".into(), vmcore],
    }
}

/// The modes lab/golden records on `d`.
fn modes_of(d: &LabDump) -> Vec<&'static str> {
    if d.format == "kdump-zlib" {
        vec!["text", "dump-only"]
    } else {
        vec!["text"]
    }
}

fn dump_id(path: &Path) -> String {
    let Ok(meta) = std::fs::metadata(path) else { return "missing".into() };
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
    format!("{}:{}", meta.len(), mtime.map_or(0, |d| d.as_nanos()))
}

// ------------------------------------------------------------------ the list of fixes

/// One entry of tests/data/golden-fixes.
#[derive(Debug)]
struct Fix {
    command: String,
    dumps: String,
    reason: String,
    used: AtomicUsize,
}

fn read_fixes() -> Vec<Fix> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden-fixes");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut fixes = Vec::new();
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    let mut flush = |fields: &mut BTreeMap<String, String>, at: usize| {
        if fields.is_empty() {
            return;
        }
        let mut take = |k: &str| {
            fields
                .remove(k)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| panic!("{}: the entry ending at line {at} has no {k}:", path.display()))
        };
        let fix = Fix { command: take("command"), dumps: take("dumps"), reason: take("reason"), used: 0.into() };
        assert!(fields.is_empty(), "{}: unknown fields {:?} before line {at}", path.display(), fields.keys());
        fixes.push(fix);
    };
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            flush(&mut fields, n + 1);
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (key, value) =
            line.split_once(':').unwrap_or_else(|| panic!("{}:{}: expected `field: value`", path.display(), n + 1));
        let previous = fields.insert(key.trim().to_string(), value.trim().to_string());
        assert!(previous.is_none(), "{}:{}: {} given twice in one entry", path.display(), n + 1, key.trim());
    }
    flush(&mut fields, text.lines().count());
    fixes
}

/// `*` any text (slashes too), `?` one character, everything else itself.
fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some(('?', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    go(&pattern.chars().collect::<Vec<_>>(), &text.chars().collect::<Vec<_>>())
}

impl Fix {
    /// Whether this entry covers `command` (a crash-peer-commands line, or
    /// `<exit>`, `<prologue>`, `<end>`, `<stray>`) on `label` (KERNEL/SCENARIO/FORMAT:MODE).
    fn covers(&self, command: &str, label: &str) -> bool {
        let dumps_ok = if self.dumps.contains(':') {
            glob(&self.dumps, label)
        } else {
            glob(&self.dumps, label.rsplit_once(':').map_or(label, |(dump, _)| dump))
        };
        dumps_ok && glob(&self.command, command)
    }
}

// ------------------------------------------------------------------ comparing

/// A short unified-style diff of the first differing lines.
fn short_diff(expected: &[u8], actual: &[u8]) -> String {
    let a = String::from_utf8_lossy(expected);
    let b = String::from_utf8_lossy(actual);
    let a: Vec<&str> = a.split_inclusive('\n').collect();
    let b: Vec<&str> = b.split_inclusive('\n').collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..].iter().rev().zip(b[prefix..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (a_changed, b_changed) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let context = prefix.saturating_sub(2);
    let mut out = format!(
        "    @@ -{},{} +{},{} @@ (golden {} lines, now {})\n",
        prefix + 1,
        a_changed.len(),
        prefix + 1,
        b_changed.len(),
        a.len(),
        b.len()
    );
    let show = |sign: char, line: &str| {
        let line = line.strip_suffix('\n').map_or_else(|| format!("{line}\\ (no newline)"), str::to_string);
        let cut: String = line.chars().take(200).collect();
        format!("    {sign}{cut}{}\n", if cut.len() < line.len() { "…" } else { "" })
    };
    for line in &a[context..prefix] {
        out.push_str(&show(' ', line));
    }
    for line in a_changed.iter().take(DIFF_LINES / 2) {
        out.push_str(&show('-', line));
    }
    if a_changed.len() > DIFF_LINES / 2 {
        out.push_str(&format!("    ({} more golden lines)\n", a_changed.len() - DIFF_LINES / 2));
    }
    for line in b_changed.iter().take(DIFF_LINES / 2) {
        out.push_str(&show('+', line));
    }
    if b_changed.len() > DIFF_LINES / 2 {
        out.push_str(&format!("    ({} more new lines)\n", b_changed.len() - DIFF_LINES / 2));
    }
    out
}

/// What the comparison of one transcript found.
struct Report<'a> {
    fixes: &'a [Fix],
    /// KERNEL/SCENARIO/FORMAT:MODE
    label: String,
    compared: usize,
    known: usize,
    failures: Vec<String>,
}

impl Report<'_> {
    /// Compares one part; a difference not covered by a fix is a failure.
    fn part(&mut self, command: &str, part: &str, golden: &[u8], now: &[u8]) {
        let label = &self.label;
        self.compared += 1;
        if golden == now {
            return;
        }
        if let Some(fix) = self.fixes.iter().find(|f| f.covers(command, label)) {
            fix.used.fetch_add(1, Ordering::Relaxed);
            self.known += 1;
            return;
        }
        self.failures.push(format!("`{command}` on {label}: {part} differs\n{}", short_diff(golden, now)));
    }
}

fn compare<'a>(d: &LabDump, t: &Transcript, fixes: &'a [Fix]) -> Report<'a> {
    let label = format!("{}:{}", d.label(), t.mode);
    let args = args_for(d, &t.mode);
    let lines: Vec<(usize, String)> = t.commands.iter().filter_map(|c| Some((c.index, c.line.clone()?))).collect();
    let now = run_krash(&args, &lines);
    let mut report = Report { fixes, label, compared: 0, known: 0, failures: Vec::new() };
    if now.timed_out {
        report.failures.push(format!("{}: krash killed after running for {RUN_TIMEOUT:?}", report.label));
    }
    if args != t.args {
        report.failures.push(format!("{}: recorded with arguments {:?}, now {args:?}", report.label, t.args));
    }
    let golden = &t.outcome;
    let (golden_exit, now_exit) = (golden.exit.to_string(), now.exit.to_string());
    report.part("<exit>", "exit status", golden_exit.as_bytes(), now_exit.as_bytes());
    report.part("<prologue>", "stderr before the first command", &golden.prologue, &now.prologue);
    for c in t.commands.iter().filter(|c| c.line.is_some()) {
        match (&golden.stdout[&c.index], &now.stdout[&c.index]) {
            (Some(g), Some(n)) => report.part(&c.template, "stdout", g, n),
            (None, None) => report.compared += 1,
            (g, n) => {
                let wrote = |o: &Option<Vec<u8>>| if o.is_some() { &b"output"[..] } else { &b"no output"[..] };
                report.part(&c.template, "stdout (whether krash wrote any)", wrote(g), wrote(n))
            }
        }
        report.part(&c.template, "stderr", &golden.stderr[&c.index], &now.stderr[&c.index]);
    }
    report.part("<end>", "stderr after the last command", &golden.end, &now.end);
    report.part("<stray>", "stdout outside the commands", &golden.stray, &now.stray);
    report
}

#[test]
fn current_krash_says_what_the_baseline_said() {
    let dir = golden_dir();
    let all = lab_dumps();
    if all.is_empty() {
        return; // lab_dumps() has failed or noted it already
    }
    // Transcripts are recorded on these kernels only (krash_labtest::GOLDEN_KERNELS says why).
    let dumps: Vec<_> =
        all.into_iter().filter(|d| krash_labtest::GOLDEN_KERNELS.contains(&d.kernel.as_str())).collect();
    if !dir.join("recorded.json").exists() {
        krash_labtest::skip_or_fail(format!("no golden transcripts in {} (lab/build records them)", dir.display()));
        return;
    }
    let fixes = read_fixes();
    let mut problems = Vec::new();
    let mut jobs = Vec::new();
    let mut expected_files = std::collections::BTreeSet::new();
    for d in &dumps {
        for mode in modes_of(d) {
            let path = dir.join(&d.kernel).join(&d.scenario).join(format!("{}.{mode}.txt", d.format));
            expected_files.insert(path.clone());
            let Ok(bytes) = std::fs::read(&path) else {
                problems.push(format!("{}:{mode}: no golden transcript {}", d.label(), path.display()));
                continue;
            };
            let t = parse_transcript(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!((t.dump.as_str(), t.mode.as_str()), (d.label().as_str(), mode), "{}", path.display());
            if t.dump_id != dump_id(&d.vmcore) {
                problems.push(format!(
                    "{}:{mode}: the transcript was recorded on another file (dump-id {}, now {}): lab/build re-records it",
                    d.label(),
                    t.dump_id,
                    dump_id(&d.vmcore)
                ));
                continue;
            }
            jobs.push((d, t));
        }
    }
    // Transcripts of dumps this lab no longer has: coverage lost.
    for kernel in std::fs::read_dir(&dir).into_iter().flatten().flatten().filter(|e| e.path().is_dir()) {
        for scenario in std::fs::read_dir(kernel.path()).into_iter().flatten().flatten() {
            for f in std::fs::read_dir(scenario.path()).into_iter().flatten().flatten() {
                let p = f.path();
                if p.extension().is_some_and(|e| e == "txt") && !expected_files.contains(&p) {
                    problems.push(format!("{}: a transcript of a dump the lab does not have", p.display()));
                }
            }
        }
    }
    if !problems.is_empty() {
        let shown = problems.iter().take(12).cloned().collect::<Vec<_>>().join("\n");
        let more = problems.len().saturating_sub(12);
        let more = if more > 0 { format!("\n... and {more} more") } else { String::new() };
        krash_labtest::skip_or_fail(format!("{} golden transcripts unusable:\n{shown}{more}", problems.len()));
    }

    let started = std::time::Instant::now();
    let workers = std::env::var("KRASH_GOLDEN_JOBS").ok().and_then(|v| v.parse().ok()).unwrap_or(2usize).max(1);
    let queue = Mutex::new(jobs.iter());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let Some((d, t)) = queue.lock().unwrap().next() else { break };
                let report = compare(d, t, &fixes);
                results.lock().unwrap().push(report);
            });
        }
    });
    let results = results.into_inner().unwrap();
    let compared: usize = results.iter().map(|r| r.compared).sum();
    let known: usize = results.iter().map(|r| r.known).sum();
    let mut failures: Vec<&String> = results.iter().flat_map(|r| &r.failures).collect();
    failures.sort();
    eprintln!(
        "golden: {} transcripts, {compared} parts compared in {:.0?}, {known} known differences (golden-fixes), {} failures",
        results.len(),
        started.elapsed(),
        failures.len()
    );
    for fix in fixes.iter().filter(|f| f.used.load(Ordering::Relaxed) == 0) {
        eprintln!(
            "note: golden-fixes entry `{}` on `{}` matched no difference ({})",
            fix.command, fix.dumps, fix.reason
        );
    }
    assert!(
        failures.is_empty(),
        "{} differences from the {BASELINE} transcripts in {}:\n{}",
        failures.len(),
        dir.display(),
        failures.iter().map(|f| f.as_str()).collect::<Vec<_>>().join("\n")
    );
    assert!(compared > 0 && !results.is_empty(), "golden: nothing compared in {}", dir.display());
}

#[test]
fn golden_fixes_file_parses() {
    for fix in read_fixes() {
        assert!(!fix.command.is_empty() && !fix.dumps.is_empty() && !fix.reason.is_empty(), "{fix:?}");
    }
}

#[test]
fn globs_and_fix_matching() {
    assert!(glob("kmem -*", "kmem -s"));
    assert!(!glob("kmem -?", "kmem -sx"));
    assert!(glob("6.12*/*/kdump-*", "6.12.117+deb12-cloud-amd64/null-member/kdump-zlib"));
    let fix = Fix { command: "sys".into(), dumps: "*/live/*".into(), reason: "r".into(), used: 0.into() };
    assert!(fix.covers("sys", "6.1.0-56-cloud-amd64/live/elf:text"));
    assert!(!fix.covers("sys -i", "6.1.0-56-cloud-amd64/live/elf:text"));
    let fix = Fix { command: "*".into(), dumps: "*:dump-only".into(), reason: "r".into(), used: 0.into() };
    assert!(fix.covers("ps", "6.1.0-56-cloud-amd64/live/kdump-zlib:dump-only"));
    assert!(!fix.covers("ps", "6.1.0-56-cloud-amd64/live/kdump-zlib:text"));
}

#[test]
fn transcripts_parse_and_diffs_are_short() {
    let text = b"krash-golden 1\ndump k/s/f\nmode text\ndump-id 1:2\narg -s\nexit 0\nbody prologue-stderr 0\n\n\
                 command 0\ntemplate sys\nline sys\nbody stdout 4\na\nb\n\nbody stderr 0\n\n\
                 command 1\ntemplate p {x}\nskipped no x\n\
                 command 2\ntemplate bad\nline bad\nstdout none\nbody stderr 5\nbad!\n\n\
                 body end-stderr 0\n\nbody stray-stdout 0\n\n";
    let t = parse_transcript(text).unwrap();
    assert_eq!((t.dump.as_str(), t.mode.as_str(), t.args.len(), t.commands.len()), ("k/s/f", "text", 1, 3));
    assert_eq!(t.outcome.stdout[&0].as_deref(), Some(&b"a\nb\n"[..]));
    assert_eq!(t.outcome.stdout[&2], None);
    assert_eq!(t.outcome.stderr[&2], b"bad!\n");
    assert!(!t.outcome.stdout.contains_key(&1));
    assert!(parse_transcript(b"krash-golden 1\nbody stray-stdout 9\nab\n").is_err());
    let diff = short_diff(b"a\nb\nc\nd\n", b"a\nb\nX\nd\n");
    assert!(diff.contains("-c") && diff.contains("+X") && diff.contains(" b") && !diff.contains(" d"), "{diff}");
}
