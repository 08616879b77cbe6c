//! Shared by the lab tests: finding the lab's dumps and running krash on them.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

pub mod json_schema;

/// One dump file of one lab scenario.
#[derive(Debug, Clone)]
pub struct LabDump {
    pub kernel: String,
    pub scenario: String,
    pub format: String,
    /// "makedumpfile" (the in-guest kdump) or "qemu" (a separate boot).
    pub producer: String,
    pub dir: PathBuf,
    pub vmcore: PathBuf,
    pub vmlinux: PathBuf,
    pub manifest: Value,
}

impl LabDump {
    pub fn label(&self) -> String {
        format!("{}/{}/{}", self.kernel, self.scenario, self.format)
    }

    /// The crash transcript for this dump file, if crash opened it.
    pub fn crash_transcript(&self) -> Option<String> {
        let rel = self.manifest["oracles"]["crash"][&self.format].as_str()?;
        let text = std::fs::read_to_string(self.dir.join(rel)).ok()?;
        text.contains("# opened: true").then_some(text)
    }

    /// drgn's view of this dump file.
    pub fn drgn(&self) -> Option<Value> {
        let rel = self.manifest["oracles"]["drgn"][&self.format].as_str()?;
        let v: Value = serde_json::from_str(&std::fs::read_to_string(self.dir.join(rel)).ok()?).ok()?;
        (v["opened"] == Value::Bool(true)).then_some(v)
    }

    /// True for dumps of the kdump boot, which console.log and
    /// vmcore-dmesg.txt describe (QEMU's dumps come from a boot of their own).
    pub fn is_kdump_boot(&self) -> bool {
        // makedumpfile's files, or /proc/vmcore copied as it is (arm64
        // 6.12, whose 52-bit VAs makedumpfile refuses).
        self.producer == "makedumpfile" || self.producer == "/proc/vmcore"
    }

    pub fn console_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("console.log")).unwrap_or_default()
    }
}

/// The lab directory ($KRASH_LAB_DIR or the default; see krash-labtest).
pub fn lab_dir() -> PathBuf {
    krash_labtest::lab_dir()
}

/// Every crash dump file the lab made (a panic in each). With
/// KRASH_REQUIRE_LAB=1 an empty lab fails the test; otherwise tests skip
/// with a note.
pub fn lab_dumps() -> Vec<LabDump> {
    lab_images().into_iter().filter(|d| d.producer != "lime").collect()
}

/// Every memory image the lab made: its crash dumps and the LiME images of
/// running guests (no panic, no CPU registers), the frame-pointer SLAB
/// flavor's (`krash_labtest::FP_SLAB_KERNEL`) included.
pub fn lab_images() -> Vec<LabDump> {
    all_lab_images()
}

/// The in-guest kdump of each scenario of the frame-pointer SLAB flavor.
pub fn fp_slab_dumps() -> Vec<LabDump> {
    let mut seen = std::collections::HashSet::new();
    all_lab_images()
        .into_iter()
        .filter(|d| d.kernel == krash_labtest::FP_SLAB_KERNEL && d.is_kdump_boot() && seen.insert(d.scenario.clone()))
        .collect()
}

/// Every memory image of every x86-64 lab kernel, the flavor's included.
pub fn all_lab_images() -> Vec<LabDump> {
    images_listed_in("manifests")
}

/// Every dump of the lab's arm64 kernels (`krash_labtest::ARM64_KERNELS`).
pub fn arm64_lab_dumps() -> Vec<LabDump> {
    images_listed_in("arm64_manifests")
}

/// The images of the manifests one list of `dumps/index.json` names.
fn images_listed_in(list: &str) -> Vec<LabDump> {
    let index = lab_dir().join("dumps/index.json");
    let mut out = Vec::new();
    if let Ok(text) = std::fs::read_to_string(&index) {
        let v: Value = serde_json::from_str(&text).expect("lab index.json is valid JSON");
        for entry in v[list].as_array().cloned().unwrap_or_default() {
            let Some(mpath) = entry["manifest"].as_str() else { continue };
            let Ok(mtext) = std::fs::read_to_string(mpath) else { continue };
            let manifest: Value = serde_json::from_str(&mtext).expect("manifest is valid JSON");
            let dir = Path::new(mpath).parent().expect("manifest has a directory").to_path_buf();
            for d in manifest["dumps"].as_array().cloned().unwrap_or_default() {
                let (Some(format), Some(file)) = (d["format"].as_str(), d["file"].as_str()) else { continue };
                out.push(LabDump {
                    kernel: manifest["kernel"].as_str().unwrap_or_default().to_string(),
                    scenario: manifest["scenario"].as_str().unwrap_or_default().to_string(),
                    format: format.to_string(),
                    producer: d["producer"].as_str().unwrap_or_default().to_string(),
                    dir: dir.clone(),
                    vmcore: dir.join(file),
                    vmlinux: PathBuf::from(manifest["vmlinux"].as_str().unwrap_or_default()),
                    manifest: manifest.clone(),
                });
            }
        }
    }
    if out.is_empty() {
        krash_labtest::skip_or_fail(format!("no lab dumps ({list}) under {}", lab_dir().display()));
    }
    out
}

/// One dump file per kernel and scenario, from the kdump boot: the other
/// formats hold the same memory, so per-scenario checks need only one.
pub fn one_per_scenario() -> Vec<LabDump> {
    let mut seen = std::collections::HashSet::new();
    lab_dumps()
        .into_iter()
        .filter(|d| d.is_kdump_boot() && seen.insert((d.kernel.clone(), d.scenario.clone())))
        .collect()
}

/// Output of one krash run.
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub success: bool,
}

/// Runs krash with `args`, feeding `commands` on standard input.
pub fn krash(args: &[&str], commands: &str) -> Run {
    krash_with_env(args, commands, &[])
}

/// [`krash`] with environment variables set for this run only.
pub fn krash_with_env(args: &[&str], commands: &str, env: &[(&str, &str)]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_krash"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("krash binary runs");
    // krash may exit before reading its input (a file it refuses): a
    // broken pipe here is expected, not a test failure.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(commands.as_bytes());
    }
    let out = child.wait_with_output().expect("krash finishes");
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        success: out.status.success(),
    }
}

/// Runs commands silently (`-s`) on a lab dump with its vmlinux.
///
/// The start-up warning a vmlinux without BTF gives (the flavor's: types
/// come from DWARF) is taken out of `stderr`, so that the commands' own
/// errors are what the tests see; `nobtf_lab` and `flavor_lab` check it.
pub fn krash_on(d: &LabDump, commands: &str) -> Run {
    let vmlinux = d.vmlinux.to_string_lossy().into_owned();
    let vmcore = d.vmcore.to_string_lossy().into_owned();
    let mut run = krash(&["-s", &vmlinux, &vmcore], commands);
    run.stderr = run
        .stderr
        .lines()
        .filter(|l| {
            !(l.starts_with("WARNING: ")
                && l.ends_with(": no BTF; types come from its DWARF (indexed on first use, a few seconds)"))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    run
}

/// The `LABEL: value` lines of a sys/banner block, keyed by label.
pub fn sys_fields(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(": ")?;
            let k = k.trim();
            (!k.is_empty() && k.chars().all(|c| c.is_ascii_uppercase() || c == ' ' || c == '_'))
                .then(|| (k.to_string(), v.trim().to_string()))
        })
        .collect()
}

pub fn field<'a>(fields: &'a [(String, String)], key: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// How long crash may write nothing before it is taken as hung (its
/// start-up on a 6.1 dump takes 6-20 s; one command rarely a minute).
const CRASH_PEER_STALL: std::time::Duration = std::time::Duration::from_secs(150);

/// Runs crash on `commands` (index, command), each redirected to
/// `dir/INDEX.txt`; false when crash had to be killed for writing nothing
/// for [`CRASH_PEER_STALL`].
fn run_crash_peer(d: &LabDump, commands: &[(usize, String)], dir: &Path, peer: PeerCrash) -> Option<bool> {
    let mut script: String = commands.iter().map(|(i, cmd)| format!("{cmd} > {}/{i}.txt\n", dir.display())).collect();
    script.push_str("q\n");
    let mut command = peer.command(d, dir);
    command.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null());
    // drgn-crash writes a command's complaint to the terminal, never to its
    // `> file`: its terminal is kept, one transcript per run, and cut at its
    // prompts afterwards (PYTHONUNBUFFERED keeps both streams in order).
    let transcript = dir.join(format!("transcript-{}", commands.first().map_or(0, |(i, _)| *i)));
    if peer == PeerCrash::DrgnCrash {
        let file = std::fs::File::create(&transcript).ok()?;
        command.stdout(file.try_clone().ok()?).stderr(file);
    }
    let mut child = command.spawn().ok()?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(script.as_bytes());
    }
    let mut progress = (0, 0);
    let mut last_change = std::time::Instant::now();
    loop {
        if child.try_wait().ok()?.is_some() {
            if peer == PeerCrash::DrgnCrash {
                keep_drgn_crash_complaints(&transcript, commands, dir);
            }
            return Some(true);
        }
        let now = output_progress(dir);
        if now != progress {
            progress = now;
            last_change = std::time::Instant::now();
        } else if last_change.elapsed() > CRASH_PEER_STALL {
            let _ = child.kill();
            let _ = child.wait();
            return Some(false);
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// drgn-crash's prompt; what it prints between two prompts answers the
/// command typed at the first.
const DRGN_CRASH_PROMPT: &str = "%crash> ";

/// Saves what drgn-crash printed on its terminal for each command (its
/// complaints; the answers went to the files) as `dir/INDEX.err`.
fn keep_drgn_crash_complaints(transcript: &Path, commands: &[(usize, String)], dir: &Path) {
    let text = std::fs::read_to_string(transcript).unwrap_or_default();
    // The first piece is start-up (warnings and its own `sys`).
    for ((i, _), said) in commands.iter().zip(text.split(DRGN_CRASH_PROMPT).skip(1)) {
        // `debug:` and `info:` lines narrate its search for module debuginfo
        // (`mod -s`); they are not complaints.
        let complaint: Vec<&str> = said
            .lines()
            .filter(|l| !l.starts_with("debug: ") && !l.starts_with("info: ") && !l.trim().is_empty())
            .collect();
        if !complaint.is_empty() {
            let _ = std::fs::write(dir.join(format!("{i}.err")), complaint.join("\n"));
        }
    }
}

/// (files, bytes) written so far in `dir`: crash is alive while this moves.
fn output_progress(dir: &Path) -> (usize, u64) {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries.filter_map(|e| e.ok()?.metadata().ok()).fold((0, 0), |(n, bytes), m| (n + 1, bytes + m.len()))
        })
        .unwrap_or_default()
}

/// crash's output for every command of `tests/data/crash-peer-commands`
/// on one dump, keyed by the command line as written in that file.
pub struct CrashPeer {
    outputs: std::collections::BTreeMap<String, String>,
    complaints: std::collections::BTreeMap<String, String>,
}

impl CrashPeer {
    /// crash's output for `command` (a line of crash-peer-commands).
    pub fn output(&self, command: &str) -> Option<&str> {
        self.outputs.get(command).map(String::as_str)
    }

    /// What the peer printed on its terminal instead of into the command's
    /// file (drgn-crash's complaints; crash puts its own into the file).
    #[allow(dead_code)]
    pub fn complaint(&self, command: &str) -> Option<&str> {
        self.complaints.get(command).map(String::as_str)
    }
}

fn peer_commands() -> Vec<String> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/crash-peer-commands");
    std::fs::read_to_string(&file)
        .expect("tests/data/crash-peer-commands is readable")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// A command template with its `{name}` placeholders filled from the dump's
/// manifest ("expected" values, or `{module_ko}`); `None` when the manifest
/// lacks a value.
pub fn fill_placeholders(template: &str, d: &LabDump) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let end = start + rest[start..].find('}')?;
        out.push_str(&rest[..start]);
        let name = &rest[start + 1..end];
        let value = if name == "module_ko" { &d.manifest["module_ko"] } else { &d.manifest["expected"][name] };
        match value {
            Value::String(s) => out.push_str(s),
            Value::Number(n) => out.push_str(&n.to_string()),
            _ => return None,
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Runs crash (the peer) once per dump file on every command of
/// crash-peer-commands, each redirected to a file of its own, and caches the
/// outputs under the lab directory keyed by the dump file and the command
/// list, so each test run compares with crash on the same file without
/// starting crash once per test. None where crash cannot open the dump
/// (crash 8.0.2 cannot read 6.12 and later kernels; that is found by trying,
/// and the failed attempt is cached too) or is not installed.
fn crash_installed() -> bool {
    on_path("crash")
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(tool).is_file()))
}

/// drgn-crash as the lab runs it (lab/tools/analysis.py): beside the
/// python3 that has drgn (pip puts its scripts there; a pyenv python may
/// have no shim for it on PATH), else on PATH.
fn drgn_crash_program() -> Option<PathBuf> {
    static FOUND: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    FOUND
        .get_or_init(|| {
            let out = Command::new("python3").args(["-c", "import sys; print(sys.executable)"]).output().ok()?;
            let python = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            let beside = python.parent().map(|dir| dir.join("drgn-crash")).filter(|p| p.is_file());
            beside.or_else(|| on_path("drgn-crash").then(|| PathBuf::from("drgn-crash")))
        })
        .clone()
}

/// Which crash runs as a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerCrash {
    /// crash 8.0.2, the host's Debian package.
    Host,
    /// crash 9.0.2, Debian sid's package in the lab's sid root (never
    /// installed on the host), run under chroot in a private mount
    /// namespace as the lab's oracles run it (lab/tools/aptroot.py).
    Sid,
    /// drgn 0.3.0's `drgn-crash` (crash's command language on drgn), from
    /// the host's pip install.
    DrgnCrash,
}

impl PeerCrash {
    fn sid_root() -> PathBuf {
        lab_dir().join("roots/sid")
    }

    fn installed(self) -> bool {
        match self {
            PeerCrash::Host => crash_installed(),
            PeerCrash::Sid => Self::sid_root().join("usr/bin/crash").is_file(),
            PeerCrash::DrgnCrash => drgn_crash_program().is_some(),
        }
    }

    /// crash on `d`, able to write into `out`.
    fn command(self, d: &LabDump, out: &Path) -> Command {
        let (vmlinux, vmcore) = (d.vmlinux.to_string_lossy(), d.vmcore.to_string_lossy());
        match self {
            PeerCrash::Host => {
                let mut c = Command::new("crash");
                c.args(["-s", &vmlinux, &vmcore]);
                c
            }
            PeerCrash::Sid => {
                let root = Self::sid_root();
                let vmlinux_dir = d.vmlinux.parent().unwrap_or(Path::new("/")).to_path_buf();
                let mut steps = vec!["set -e".to_string()];
                for bind in [d.dir.as_path(), vmlinux_dir.as_path(), out] {
                    let inside = format!("{}{}", root.display(), bind.display());
                    steps.push(format!("mkdir -p '{inside}'"));
                    steps.push(format!("mount --bind '{}' '{inside}'", bind.display()));
                }
                steps.push(format!("mount -t proc proc '{}/proc'", root.display()));
                steps.push(format!(
                    "exec chroot '{}' env -i PATH=/usr/bin:/bin crash -s '{vmlinux}' '{vmcore}'",
                    root.display()
                ));
                let mut c = Command::new("unshare");
                c.args(["--mount", "--propagation", "private", "sh", "-c", &steps.join("; ")]);
                c
            }
            PeerCrash::DrgnCrash => {
                let mut c = Command::new(drgn_crash_program().unwrap_or_else(|| PathBuf::from("drgn-crash")));
                c.args([&*vmlinux, &*vmcore]).env("PYTHONUNBUFFERED", "1");
                c
            }
        }
    }
}

/// The scenarios whose dumps the peers run tests/data/crash-peer-commands
/// on, on every kernel. Those commands read kernel-wide state (caches,
/// memory, devices, run queues, timers), which the other scenarios' dumps
/// of the same kernel repeat; each of these adds something a command needs:
/// a NULL dereference (the support matrix's dump), a CPU spinning in IRQ
/// context, a corrupt slab freelist (`kmem -s`), a mutex and a spinlock
/// (`{lock}`) with tasks queued behind them (`runq`). One crash run per
/// dump costs 10-60 s of a core: on every scenario it was the largest part
/// of the test command's time from nothing (issue 13's budget). Tests
/// comparing scenario-specific output (`bt`, `log`, `ps`) use their own
/// command lists on every scenario ([`crash_outputs`]).
pub const PEER_SCENARIOS: [&str; 5] = ["null-member", "softlockup", "slab-corrupt", "hung-task", "spinlock-lockup"];

/// crash 8.0.2's output for tests/data/crash-peer-commands on `d`; None
/// where crash cannot open it, and on dumps of scenarios outside
/// [`PEER_SCENARIOS`] (tests then check krash alone there).
pub fn crash_peer(d: &LabDump) -> Option<CrashPeer> {
    peer_commands_on(d, PeerCrash::Host)
}

/// [`crash_peer`] with crash 9.0.2 from the sid root.
#[allow(dead_code)]
pub fn crash9_peer(d: &LabDump) -> Option<CrashPeer> {
    peer_commands_on(d, PeerCrash::Sid)
}

fn peer_commands_on(d: &LabDump, peer: PeerCrash) -> Option<CrashPeer> {
    if !PEER_SCENARIOS.contains(&d.scenario.as_str()) {
        return None;
    }
    crash_peer_on(d, peer_commands(), peer)
}

/// crash's output for `commands` (templates as in crash-peer-commands, with
/// `sys` added first when missing: it tells whether crash opened the dump)
/// on one dump, cached like [`crash_peer`]'s under a key of its own. For
/// tests whose commands are not in crash-peer-commands (their output is not
/// deterministic enough for the golden transcripts, or depends on the dump).
pub fn crash_outputs(d: &LabDump, commands: &[String]) -> Option<CrashPeer> {
    let mut templates = vec!["sys".to_string()];
    templates.extend(commands.iter().filter(|c| c.as_str() != "sys").cloned());
    crash_peer_on(d, templates, PeerCrash::Host)
}

/// [`crash_peer`] with drgn 0.3.0's drgn-crash.
#[allow(dead_code)]
pub fn drgn_crash_peer(d: &LabDump) -> Option<CrashPeer> {
    peer_commands_on(d, PeerCrash::DrgnCrash)
}

/// [`crash_outputs`] with crash 9.0.2 from the sid root.
#[allow(dead_code)]
pub fn crash9_outputs(d: &LabDump, commands: &[String]) -> Option<CrashPeer> {
    let mut templates = vec!["sys".to_string()];
    templates.extend(commands.iter().filter(|c| c.as_str() != "sys").cloned());
    crash_peer_on(d, templates, PeerCrash::Sid)
}

/// Runs `check` on every dump of `dumps`, on as many threads as there are
/// cores (up to 4): a test that runs krash a few times on each of a hundred
/// dumps would otherwise keep one core busy, alone, for minutes at the end
/// of its test binary, and a test that warms a crash peer's cache (the
/// crash-peer functions cache what they run) on a freshly built lab waits
/// for the peer once per core, not once per dump. A failed assertion in
/// `check` fails the test once every thread has ended (its message printed
/// with the test's output).
pub fn on_each_dump(dumps: &[LabDump], check: impl Fn(&LabDump) + Sync) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some(d) = dumps.get(next.fetch_add(1, Ordering::Relaxed)) {
                    check(d);
                }
            });
        }
    });
}

/// One lock per cache directory: two threads never fill the same one, and
/// different dumps are run at the same time.
/// An exclusive lock on `DIR.lock` (made when missing), held until the file
/// is dropped; None where the lab directory is not writable (then the
/// in-process lock alone guards the cache, as before).
fn lock_file_beside(dir: &Path) -> Option<std::fs::File> {
    std::fs::create_dir_all(dir.parent()?).ok()?;
    let file =
        std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.with_extension("lock")).ok()?;
    file.lock().ok()?;
    Some(file)
}

fn cache_dir_lock(dir: &Path) -> std::sync::Arc<std::sync::Mutex<()>> {
    static LOCKS: std::sync::Mutex<BTreeMap<PathBuf, std::sync::Arc<std::sync::Mutex<()>>>> =
        std::sync::Mutex::new(BTreeMap::new());
    let mut locks = LOCKS.lock().unwrap_or_else(|e| e.into_inner());
    locks.entry(dir.to_path_buf()).or_default().clone()
}

fn crash_peer_on(d: &LabDump, templates: Vec<String>, peer: PeerCrash) -> Option<CrashPeer> {
    use std::collections::hash_map::DefaultHasher;
    use std::hash::{Hash, Hasher};

    if !peer.installed() {
        return None;
    }
    let meta = std::fs::metadata(&d.vmcore).ok()?;
    let mut hasher = DefaultHasher::new();
    ("hung-command-aware", d.vmcore.to_string_lossy(), meta.len(), meta.modified().ok(), &templates).hash(&mut hasher);
    // The host crash's key stays what it was (its cached outputs stay valid).
    match peer {
        PeerCrash::Host => {}
        PeerCrash::Sid => "crash 9.0.2 in the sid root".hash(&mut hasher),
        PeerCrash::DrgnCrash => "drgn-crash 0.3.0, complaints kept without debug or info lines".hash(&mut hasher),
    }
    let dir = lab_dir().join("crash-peer").join(format!("{:016x}", hasher.finish()));
    let lock = cache_dir_lock(&dir);
    let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
    // And across processes: test binaries may run side by side, and one
    // must not replace the directory another is reading.
    let _file_lock = lock_file_beside(&dir);
    if !dir.join("done").exists() {
        let tmp = dir.with_extension(format!("tmp{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).ok()?;
        let commands: Vec<(usize, String)> =
            templates.iter().enumerate().filter_map(|(i, t)| Some((i, fill_placeholders(t, d)?))).collect();
        let mut next = 0;
        while next < commands.len() {
            let finished = run_crash_peer(d, &commands[next..], &tmp, peer)?;
            if finished {
                break;
            }
            // crash hung on a command (it does on some dumps, e.g. `timer`
            // on the 6.1 timer-bug dump): the last output file it opened is
            // that command's; mark it and go on with the ones after it.
            let Some(hung) =
                commands[next..].iter().rposition(|(i, _)| tmp.join(format!("{i}.txt")).exists()).map(|p| next + p)
            else {
                eprintln!("note: crash hung before its first command on {}", d.label());
                break;
            };
            let (i, cmd) = &commands[hung];
            let _ = std::fs::remove_file(tmp.join(format!("{i}.txt")));
            let _ = std::fs::write(tmp.join(format!("{i}.hung")), cmd);
            eprintln!("note: crash hung on `{cmd}` for {}; that command is not compared", d.label());
            next = hung + 1;
        }
        std::fs::write(tmp.join("commands"), templates.join("\n")).ok()?;
        std::fs::write(tmp.join("done"), "").ok()?;
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&tmp, &dir).ok()?;
    }
    let outputs = templates
        .iter()
        .enumerate()
        .filter_map(|(i, t)| Some((t.clone(), std::fs::read_to_string(dir.join(format!("{i}.txt"))).ok()?)))
        .collect::<std::collections::BTreeMap<_, _>>();
    let complaints = templates
        .iter()
        .enumerate()
        .filter_map(|(i, t)| Some((t.clone(), std::fs::read_to_string(dir.join(format!("{i}.err"))).ok()?)))
        .collect();
    // crash that could not open the dump wrote no output for `sys`.
    outputs.get("sys").filter(|s| s.contains("RELEASE:"))?;
    Some(CrashPeer { outputs, complaints })
}

/// When crash refused `command` as not applicable to the kernel (a
/// feature the kernel was built without), checks that krash refuses it
/// too, printing nothing on stdout and saying what the kernel lacks, and
/// returns true; false when crash answered.
#[allow(dead_code)]
pub fn refused_as_crash_does(d: &LabDump, command: &str, crash_text: &str) -> bool {
    if !crash_text.contains("option not supported or applicable") {
        return false;
    }
    let run = krash_on(d, &format!("{command}\n"));
    assert!(
        run.stdout.trim().is_empty() && run.stderr.contains("is not applicable: this kernel has no"),
        "{}: {command}: crash refuses, krash gave:\n{}{}",
        d.label(),
        run.stdout,
        run.stderr
    );
    true
}

/// `kmem -s` cache lines by name: (OBJSIZE, ALLOCATED, TOTAL, SLABS, SSIZE).
pub fn cache_lines(text: &str) -> BTreeMap<String, [String; 5]> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // A kernel address: ffff... or, with 52-bit VAs, fff0...
            let address = f.first().is_some_and(|a| a.len() == 16 && a.starts_with("fff"));
            if f.len() != 7 || !address {
                return None;
            }
            Some((f[6].to_string(), [f[1], f[2], f[3], f[4], f[5]].map(str::to_string)))
        })
        .collect()
}

/// drgn's allocated objects of each cache (`slab_cache_for_each_allocated_object`,
/// which knows SLUB's per-cpu freelists and SLAB's array caches), as hex addresses.
pub fn drgn_allocated_objects(d: &LabDump, caches: &[&str]) -> Option<BTreeMap<String, Vec<String>>> {
    let script = r#"
import sys, json, drgn
from drgn.helpers.linux.slab import find_slab_cache, slab_cache_for_each_allocated_object
prog = drgn.Program()
prog.set_core_dump(sys.argv[2])
prog.load_debug_info([sys.argv[1]])
out = {}
for name in sys.argv[3:]:
    c = find_slab_cache(prog, name)
    out[name] = [format(o.value_(), "x") for o in slab_cache_for_each_allocated_object(c, "char")]
print(json.dumps(out))
"#;
    let mut args = vec!["-c".to_string(), script.to_string()];
    args.extend([d.vmlinux.to_string_lossy().into_owned(), d.vmcore.to_string_lossy().into_owned()]);
    args.extend(caches.iter().map(|c| c.to_string()));
    let out = std::process::Command::new("python3").args(&args).output().ok()?;
    if !out.status.success() {
        eprintln!("{}: drgn failed: {}", d.label(), String::from_utf8_lossy(&out.stderr));
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// What `kmem -S CACHE` lists: allocated objects, free objects an array
/// cache holds, and the array caches' entries.
#[derive(Default)]
pub struct ListedObjects {
    pub allocated: Vec<String>,
    pub array_cached: Vec<String>,
    pub array_entries: Vec<String>,
}

pub fn listed_objects(text: &str) -> ListedObjects {
    let mut out = ListedObjects::default();
    let mut in_array_cache = false;
    for line in text.lines() {
        if line.ends_with("ARRAY_CACHE:") {
            in_array_cache = true;
            continue;
        }
        if !line.starts_with("   ") {
            // An array cache's header and row keep its entry list going;
            // any other line ends it.
            let array_cache_row = line.starts_with("  ARRAY_CACHE") || line.starts_with("  ffff");
            in_array_cache &= array_cache_row;
            if let Some(addr) = line.strip_prefix("  [").and_then(|l| l.strip_suffix(']')) {
                out.allocated.push(addr.to_string());
            }
            continue;
        }
        let addr = line.split_whitespace().next().unwrap_or_default().to_string();
        if in_array_cache {
            out.array_entries.push(addr);
        } else if line.ends_with(" cache)") {
            out.array_cached.push(addr);
        }
    }
    out
}

/// The console log of the boot `d` was made in (QEMU's dumps come from a
/// boot of their own, with its own console).
#[allow(dead_code)]
pub fn console_of(d: &LabDump) -> String {
    let entry = d.manifest["dumps"].as_array().into_iter().flatten().find(|e| e["format"] == d.format.as_str());
    let name = entry.and_then(|e| e["console_log"].as_str()).unwrap_or("console.log");
    // PREEMPT_RT prints the console from a thread that the crash's kexec
    // overtakes (lab/tools/kernels.py `console: deferred`): the kernel's own
    // text of the crash is its log, which the capture kernel saved.
    let name = if name == "console.log" && d.kernel == krash_labtest::ARM64_RT_KERNEL {
        d.manifest["dmesg"].as_str().unwrap_or("vmcore-dmesg.txt")
    } else {
        name
    };
    std::fs::read_to_string(d.dir.join(name)).unwrap_or_default()
}
