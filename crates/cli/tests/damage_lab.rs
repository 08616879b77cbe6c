//! Damaged dumps: every lab kernel's kdump file (and the 6.1 ELF vmcore),
//! truncated at many points, with headers claiming absurd counts and sizes,
//! page descriptors and page data overwritten, and pages taken out of the
//! dump's bitmap. On each of 200+ variants krash must end on its own
//! (no hang), without a panic or a signal, within a bounded peak memory,
//! and either answer or refuse with one clear line. The lab's files are
//! never written: they are hashed before and after.
//!
//! A variant is made in one working copy per dump, and undone after its run
//! (truncations run longest first and the copy is restored after them), so
//! the test copies each dump once.

mod common;

use std::fs::{File, OpenOptions};
use std::hash::Hasher;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::LabDump;
use krash_labtest::XorShift as Rng;

/// Commands that read headers, registers, the task list, the log and slab.
const COMMANDS: &str = "sys\nbt\nps\nlog\nkmem -s\nq\n";
/// A run that takes longer has hung (undamaged runs take about a second).
const RUN_LIMIT: Duration = Duration::from_secs(120);
/// Issue 16: at most 300 MiB peak resident memory per run.
const PEAK_LIMIT_KIB: i64 = 300 * 1024;

/// The kdump header's fields (makedumpfile's disk_dump_header and
/// kdump_sub_header, as crates/dumpfile reads them).
const BLOCK_SIZE_AT: u64 = 428;
const SUB_HDR_SIZE_AT: u64 = 432;
const BITMAP_BLOCKS_AT: u64 = 436;
const MAX_MAPNR_AT: u64 = 440;
const NR_CPUS_AT: u64 = 460;
const HEADER_VERSION_AT: u64 = 8;

/// One damaged run's outcome.
struct Outcome {
    label: String,
    status: Option<i32>,
    signal: Option<i32>,
    peak_kib: i64,
    elapsed: Duration,
    stdout_len: u64,
    stderr: String,
}

/// The krash under test: this build's, or `KRASH_DAMAGE_BIN` (a debug
/// build, whose overflow checks turn any unchecked arithmetic on damaged
/// data into a panic: `cargo build -p krash` then
/// `KRASH_DAMAGE_BIN=target/debug/krash cargo test --release --test damage_lab`).
fn krash_binary() -> PathBuf {
    std::env::var_os("KRASH_DAMAGE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_krash")))
}

/// Runs krash on `dump` (with `vmlinux` when given) until it exits or
/// RUN_LIMIT passes, and measures its peak memory with wait4.
fn run_krash(label: &str, vmlinux: Option<&Path>, dump: &Path, scratch: &Path) -> Outcome {
    let out_path = scratch.join("stdout");
    let err_path = scratch.join("stderr");
    let mut args: Vec<&std::ffi::OsStr> = vec!["-s".as_ref()];
    if let Some(v) = vmlinux {
        args.push(v.as_os_str());
    }
    args.push(dump.as_os_str());
    // Reaped by wait4 below (std's wait gives no peak memory).
    #[allow(clippy::zombie_processes)]
    let mut child = Command::new(krash_binary())
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(File::create(&out_path).expect("stdout file"))
        .stderr(File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("krash runs");
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(COMMANDS.as_bytes());
    }
    let pid = child.id() as libc::pid_t;
    let start = Instant::now();
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data, filled by wait4.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: waits for our own child; status and usage are valid out-pointers.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        assert!(r == 0, "{label}: wait4 failed");
        if start.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            // SAFETY: as above; reaps the killed child.
            unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            panic!("{label}: krash did not finish within {RUN_LIMIT:?} (hang)");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let exited = libc::WIFEXITED(status);
    Outcome {
        label: label.to_string(),
        status: exited.then(|| libc::WEXITSTATUS(status)),
        signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
        peak_kib: usage.ru_maxrss,
        elapsed: start.elapsed(),
        stdout_len: std::fs::metadata(&out_path).map(|m| m.len()).unwrap_or(0),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    }
}

/// What every damaged run must be: no panic, no signal, bounded memory,
/// and a refusal is one `krash: ` line.
fn check(o: &Outcome) {
    assert!(!o.stderr.contains("panicked"), "{}: panic: {}", o.label, o.stderr);
    assert_eq!(o.signal, None, "{}: killed by signal {:?}: {}", o.label, o.signal, o.stderr);
    assert!(o.peak_kib <= PEAK_LIMIT_KIB, "{}: peak memory {} KiB over the limit", o.label, o.peak_kib);
    match o.status {
        Some(0) => {}
        Some(_) => {
            // krash refused to open the file: one line saying why.
            let lines: Vec<&str> = o.stderr.lines().filter(|l| !l.starts_with("WARNING: ")).collect();
            assert!(
                lines.len() == 1 && lines[0].starts_with("krash: "),
                "{}: a refusal must be one krash: line, got {:?}",
                o.label,
                o.stderr
            );
        }
        None => panic!("{}: no exit status", o.label),
    }
}

fn hash_file(path: &Path) -> (u64, u64) {
    let mut f = File::open(path).expect("open for hashing");
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = f.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        h.write(&buf[..n]);
        len += n as u64;
    }
    (len, h.finish())
}

/// A working copy of one dump: change bytes, run, put them back.
struct Work {
    original: PathBuf,
    copy: PathBuf,
    file: File,
    len: u64,
}

impl Work {
    fn new(original: &Path, dir: &Path) -> Work {
        let copy = dir.join(original.file_name().expect("dump file name"));
        std::fs::copy(original, &copy).expect("copy the dump");
        let file = OpenOptions::new().read(true).write(true).open(&copy).expect("open the copy");
        let len = file.metadata().expect("metadata").len();
        Work { original: original.to_path_buf(), copy, file, len }
    }

    fn read(&mut self, at: u64, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n];
        self.file.seek(SeekFrom::Start(at)).expect("seek");
        self.file.read_exact(&mut buf).expect("read the copy");
        buf
    }

    fn write(&mut self, at: u64, bytes: &[u8]) {
        self.file.seek(SeekFrom::Start(at)).expect("seek");
        self.file.write_all(bytes).expect("write the copy");
    }

    fn u32_at(&mut self, at: u64) -> u32 {
        u32::from_le_bytes(self.read(at, 4).try_into().expect("4 bytes"))
    }

    /// Applies `edits` (offset, bytes), runs `f`, then restores the bytes.
    fn with_edits<T>(&mut self, edits: &[(u64, Vec<u8>)], f: impl FnOnce(&Path) -> T) -> T {
        let saved: Vec<(u64, Vec<u8>)> = edits.iter().map(|(at, b)| (*at, self.read(*at, b.len()))).collect();
        for (at, b) in edits {
            self.write(*at, b);
        }
        self.file.flush().expect("flush");
        let r = f(&self.copy);
        for (at, b) in saved.iter().rev() {
            self.write(*at, b);
        }
        r
    }

    /// Truncates the copy to each length (longest first), running `f` on
    /// each; then restores the whole file.
    fn with_truncations(&mut self, mut lengths: Vec<u64>, mut f: impl FnMut(u64, &Path)) {
        lengths.sort_unstable_by(|a, b| b.cmp(a));
        lengths.dedup();
        for len in lengths.into_iter().filter(|l| *l < self.len) {
            self.file.set_len(len).expect("truncate the copy");
            f(len, &self.copy);
        }
        self.file.set_len(0).expect("empty the copy");
        self.file.seek(SeekFrom::Start(0)).expect("seek");
        let mut original = File::open(&self.original).expect("open the original");
        std::io::copy(&mut original, &mut self.file).expect("restore the copy");
        assert_eq!(self.file.metadata().expect("metadata").len(), self.len, "restored copy");
    }
}

/// The damaged variants of one kdump-compressed file, each run on `run`.
fn kdump_variants(w: &mut Work, rng: &mut Rng, run: &mut dyn FnMut(&str, &Path)) {
    let block = u64::from(w.u32_at(BLOCK_SIZE_AT));
    let sub_blocks = u64::from(w.u32_at(SUB_HDR_SIZE_AT));
    let bitmap_blocks = u64::from(w.u32_at(BITMAP_BLOCKS_AT));
    let bitmap_at = (1 + sub_blocks) * block;
    let bitmap_len = bitmap_blocks * block;
    let descs_at = bitmap_at + bitmap_len;
    let len = w.len;
    // Truncated: in the headers, the bitmaps, the descriptors and the pages.
    let cuts = vec![
        0,
        100,
        464,
        block + 50,
        bitmap_at + 100,
        bitmap_at + bitmap_len / 2,
        bitmap_at + bitmap_len + 1,
        descs_at + 4096,
        len / 8,
        len / 4,
        len / 2,
        len * 3 / 4,
        len - 4096,
        len - 1,
    ];
    w.with_truncations(cuts, |cut, p| run(&format!("truncated at {cut}"), p));
    // Headers that claim absurd counts and sizes.
    let le32 = |v: u32| v.to_le_bytes().to_vec();
    let le64 = |v: u64| v.to_le_bytes().to_vec();
    let sub = block;
    let absurd: Vec<(&str, u64, Vec<u8>)> = vec![
        ("header_version 2^31-1", HEADER_VERSION_AT, le32(0x7fff_ffff)),
        ("block_size 2^31-1", BLOCK_SIZE_AT, le32(0x7fff_ffff)),
        ("block_size 0", BLOCK_SIZE_AT, le32(0)),
        ("sub_hdr_size 2^31-1", SUB_HDR_SIZE_AT, le32(0x7fff_ffff)),
        ("bitmap_blocks 2^32-1", BITMAP_BLOCKS_AT, le32(u32::MAX)),
        ("bitmap_blocks 1", BITMAP_BLOCKS_AT, le32(1)),
        ("max_mapnr 2^32-1", MAX_MAPNR_AT, le32(u32::MAX)),
        ("nr_cpus 2^31-1", NR_CPUS_AT, le32(0x7fff_ffff)),
        ("nr_cpus -1", NR_CPUS_AT, le32(u32::MAX)),
        ("offset_vmcoreinfo 2^63", sub + 32, le64(1 << 63)),
        ("size_vmcoreinfo 2^40", sub + 40, le64(1 << 40)),
        ("offset_note past the end", sub + 48, le64(len + 4096)),
        ("size_note 2^40", sub + 56, le64(1 << 40)),
        ("size_note 2^64-1", sub + 56, le64(u64::MAX)),
        ("start_pfn_64 past end_pfn_64", sub + 80, le64(u64::MAX / 2)),
        ("max_mapnr_64 2^64-1", sub + 96, le64(u64::MAX)),
        ("max_mapnr_64 0", sub + 96, le64(0)),
    ];
    for (what, at, bytes) in absurd {
        w.with_edits(&[(at, bytes)], |p| run(what, p));
    }
    // Page descriptors ({offset i64, size u32, flags u32, page_flags u64})
    // pointing past the file, claiming huge sizes, or unknown compression.
    // One descriptor per page the dumpable (second) bitmap marks.
    let half = (bitmap_len / 2) as usize;
    let descs: u64 = w.read(bitmap_at + bitmap_len / 2, half).iter().map(|b| u64::from(b.count_ones())).sum();
    assert!(descs > 0 && descs_at + descs * 24 < len, "{}: {descs} page descriptors", w.original.display());
    for (i, what) in ["offset past the end", "size 2^32-1", "unknown flags", "random"].iter().enumerate() {
        for round in 0..3 {
            let edits: Vec<(u64, Vec<u8>)> = (0..64)
                .map(|_| {
                    let d = descs_at + rng.below(descs) * 24;
                    match i {
                        0 => (d, le64(len + rng.below(1 << 30))),
                        1 => (d + 8, le32(u32::MAX)),
                        2 => (d + 12, le32(0xffff_0000)),
                        _ => (d, le64(rng.next())),
                    }
                })
                .collect();
            w.with_edits(&edits, |p| run(&format!("descriptors: {what} ({round})"), p));
        }
    }
    // Page data overwritten with random words (compressed pages fail to
    // decompress; raw ones hold garbage).
    let data_at = descs_at + descs * 24;
    for round in 0..12 {
        let edits: Vec<(u64, Vec<u8>)> =
            (0..512).map(|_| (data_at + rng.below(len.saturating_sub(data_at + 8)), le64(rng.next()))).collect();
        w.with_edits(&edits, |p| run(&format!("page data overwritten ({round})"), p));
    }
    // Pages taken out of the dump: runs of the dumpable bitmap cleared.
    let dumped_at = bitmap_at + bitmap_len / 2;
    for round in 0..6 {
        let edits: Vec<(u64, Vec<u8>)> =
            (0..16).map(|_| (dumped_at + rng.below((bitmap_len / 2).saturating_sub(512)), vec![0u8; 256])).collect();
        w.with_edits(&edits, |p| run(&format!("pages excluded ({round})"), p));
    }
}

/// The damaged variants of an ELF vmcore: truncations, absurd program
/// headers and note sizes, overwritten page data.
fn elf_variants(w: &mut Work, rng: &mut Rng, run: &mut dyn FnMut(&str, &Path)) {
    let len = w.len;
    let phoff = u64::from_le_bytes(w.read(32, 8).try_into().expect("8 bytes"));
    let phnum = u64::from(u16::from_le_bytes(w.read(56, 2).try_into().expect("2 bytes")));
    w.with_truncations(vec![0, 40, 64, phoff + 30, 4096, len / 4, len / 2, len - 4096], |cut, p| {
        run(&format!("ELF truncated at {cut}"), p)
    });
    let le16 = |v: u16| v.to_le_bytes().to_vec();
    let le64 = |v: u64| v.to_le_bytes().to_vec();
    let mut absurd: Vec<(String, u64, Vec<u8>)> = vec![
        ("e_phnum 0xffff".into(), 56, le16(0xffff)),
        ("e_phnum 0".into(), 56, le16(0)),
        ("e_phoff past the end".into(), 32, le64(len + 1)),
        ("e_phentsize 1".into(), 54, le16(1)),
    ];
    // Program header i: p_offset at +8, p_filesz at +32, p_memsz at +40.
    for i in [0, 1, phnum.saturating_sub(1)] {
        let ph = phoff + i * 56;
        absurd.push((format!("phdr {i} p_offset 2^63"), ph + 8, le64(1 << 63)));
        absurd.push((format!("phdr {i} p_filesz 2^64-1"), ph + 32, le64(u64::MAX)));
        absurd.push((format!("phdr {i} p_memsz 2^48"), ph + 40, le64(1 << 48)));
    }
    for (what, at, bytes) in absurd {
        w.with_edits(&[(at, bytes)], |p| run(&what, p));
    }
    for round in 0..8 {
        let start = phoff + phnum * 56;
        let edits: Vec<(u64, Vec<u8>)> =
            (0..1024).map(|_| (start + rng.below(len.saturating_sub(start + 8)), le64(rng.next()))).collect();
        w.with_edits(&edits, |p| run(&format!("ELF data overwritten ({round})"), p));
    }
}

#[test]
fn damaged_dumps_never_panic_hang_or_bloat() {
    // One dump per lab kernel (the null-member scenario: a small one whose
    // dump holds every subsystem), plus the 6.1 ELF vmcore.
    let dumps = common::lab_dumps();
    let mut kernels: Vec<&str> = dumps.iter().map(|d| d.kernel.as_str()).collect();
    kernels.sort_unstable();
    kernels.dedup();
    let pick = |kernel: &str, format: &str| {
        dumps.iter().find(|d| d.kernel == kernel && d.scenario == "null-member" && d.format == format).cloned()
    };
    let mut picks: Vec<LabDump> = kernels.iter().filter_map(|k| pick(k, "kdump-zlib")).collect();
    picks.extend(kernels.iter().find_map(|k| pick(k, "elf")));
    assert!(!picks.is_empty(), "no null-member dumps in the lab");
    let scratch = tempfile::tempdir().expect("scratch dir");
    let mut outcomes = Vec::new();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for d in &picks {
        let before = (hash_file(&d.vmcore), hash_file(&d.vmlinux));
        let dir = tempfile::tempdir_in(scratch.path()).expect("dump dir");
        let mut work = Work::new(&d.vmcore, dir.path());
        let mut n = 0usize;
        let mut run = |what: &str, p: &Path| {
            // Alternate with and without the vmlinux: both modes parse the dump.
            let vmlinux = n.is_multiple_of(2).then_some(d.vmlinux.as_path());
            let label =
                format!("{} {}: {what}{}", d.label(), d.format, if vmlinux.is_some() { "" } else { " (dump only)" });
            let o = run_krash(&label, vmlinux, p, scratch.path());
            check(&o);
            outcomes.push(o);
            n += 1;
        };
        // The undamaged copy first: it must answer every command.
        run("undamaged", &work.copy.clone());
        if d.format == "elf" {
            elf_variants(&mut work, &mut rng, &mut run);
        } else {
            kdump_variants(&mut work, &mut rng, &mut run);
        }
        let after = (hash_file(&d.vmcore), hash_file(&d.vmlinux));
        assert_eq!(before, after, "{}: the lab's dump or vmlinux changed", d.label());
    }
    let opened = outcomes.iter().filter(|o| o.status == Some(0)).count();
    let peak = outcomes.iter().map(|o| o.peak_kib).max().unwrap_or(0);
    let slowest = outcomes.iter().max_by_key(|o| o.elapsed).map(|o| (o.elapsed, o.label.clone()));
    eprintln!(
        "damage: {} variants of {} dumps, {opened} opened and answered, {} refused; peak {} MiB; slowest {:?}",
        outcomes.len(),
        picks.len(),
        outcomes.len() - opened,
        peak / 1024,
        slowest
    );
    assert!(outcomes.len() >= 200 || picks.len() < 5, "only {} damaged variants", outcomes.len());
    // Damage inside page data must not stop krash opening the dump with its
    // vmlinux: what it can read, it shows (the headers are intact in those
    // variants). Without the vmlinux, a kernel that needs its kallsyms found
    // in the damaged pages (before 6.0) may refuse, in one line (checked above).
    let needs_open = |o: &&Outcome| {
        (o.label.contains("page data overwritten") && !o.label.ends_with("(dump only)"))
            || o.label.contains("undamaged")
    };
    for o in outcomes.iter().filter(needs_open) {
        assert_eq!(o.status, Some(0), "{}: refused: {}", o.label, o.stderr);
        assert!(o.stdout_len > 0, "{}: no output", o.label);
    }
}
