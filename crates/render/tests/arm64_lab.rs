//! The commands above the architecture layer on the lab's arm64 dumps
//! (Debian cloud-arm64: RAM at PHYS_OFFSET 1 GiB, a linear map at
//! 0xffff0000_00000000, KASLR putting the image in vmalloc space), checked
//! against the kernel's own words (its boot `Memory:` line and oops in
//! vmcore-dmesg), drgn 0.3.0's view of the same file, and the kernel's
//! own data structures read another way:
//!
//! - `sys`: MEMORY is the RAM the kernel counted at boot, PANIC the
//!   oops's first line, as crash finds it;
//! - `kmem -i`, `-f`, `-z`, `-n` work (node_data[] is 16 slots there);
//!   `kmem -f` finds NR_FREE_PAGES on the free lists (give or take the
//!   counter's unfolded per-cpu deltas);
//! - `kmem -s` calls no canonical (linear-map) pointer non-canonical and
//!   counts at least drgn's tasks in task_struct;
//! - every memory section's coded mem_map is the page model's vmemmap
//!   (`VMEMMAP_START - (PHYS_OFFSET >> PAGE_SHIFT)` pages);
//! - `search` hits hold what was searched for (direct-map hits are where
//!   `__va` puts them; vmalloc'ed stacks are searched through the kernel's
//!   upper-half tables), `ptov` undoes `vtop`, which walks as crash's
//!   arm64 vtop prints it;
//! - `dis` text carries no x86 padding; no mapping symbol (`$x`, `$d`)
//!   names an address;
//! - `analyze` classifies the oops and does not read arm64 code as x86.
//!
//! The dumps: `krash_labtest::arm64_manifests()`; until the lab has them,
//! the hand-made scratch dumps under /work/arm64-scratch (a note, or a
//! failure with KRASH_REQUIRE_LAB=1, when neither is there).

use std::path::{Path, PathBuf};

use krash_commands::Session;
use krash_core::VirtualMemory;
use krash_linux::mm::page::PageExt;
use krash_linux::mm::sparse::SparseExt;
use krash_linux::sched::task::TaskExt;
use krash_program::{Kernel, KernelFiles};
use serde_json::Value;

/// Where the hand-made arm64 dumps are until the lab builds its own.
const SCRATCH: &str = "/work/arm64-scratch/6.1.0-56-cloud-arm64/null-member";

/// One arm64 dump to check.
struct Arm64Dump {
    label: String,
    vmcore: PathBuf,
    vmlinux: PathBuf,
    scenario: String,
    /// vmcore-dmesg (the kdump boot) or the QEMU boot's console.
    dmesg: String,
    /// drgn's view of this file, when drgn could open it.
    drgn: Option<Value>,
    /// The manifest's `expected` facts (the scenario module's own account
    /// of the crash), `Null` for the scratch dumps.
    expected: Value,
}

fn read_json(path: &Path) -> Option<Value> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    v["opened"].as_bool().unwrap_or(true).then_some(v)
}

fn dumps() -> Vec<Arm64Dump> {
    let mut out = Vec::new();
    for (path, m) in krash_labtest::arm64_manifests() {
        let dir = krash_labtest::manifest_dir(&path);
        let scenario = m["scenario"].as_str().unwrap_or_default().to_string();
        for d in m["dumps"].as_array().into_iter().flatten() {
            let (Some(format), Some(file)) = (d["format"].as_str(), d["file"].as_str()) else { continue };
            let log = d["console_log"].as_str().filter(|c| *c != "console.log");
            let dmesg = match log {
                Some(console) => std::fs::read_to_string(dir.join(console)),
                None => std::fs::read_to_string(dir.join(m["dmesg"].as_str().unwrap_or("vmcore-dmesg.txt"))),
            };
            let drgn = m["oracles"]["drgn"][format].as_str().and_then(|p| read_json(&dir.join(p)));
            out.push(Arm64Dump {
                label: format!("{} {scenario} {format}", m["kernel"].as_str().unwrap_or_default()),
                vmcore: dir.join(file),
                vmlinux: PathBuf::from(m["vmlinux"].as_str().unwrap_or_default()),
                scenario: scenario.clone(),
                dmesg: dmesg.unwrap_or_default(),
                drgn,
                expected: m["expected"].clone(),
            });
        }
    }
    if out.is_empty() {
        let dir = Path::new(SCRATCH);
        for (format, console) in [("kdump-zlib", None), ("elf", None), ("qemu-elf", Some("console.qemu.log"))] {
            let vmcore = dir.join(format!("vmcore.{format}"));
            if !vmcore.exists() {
                continue;
            }
            let dmesg = std::fs::read_to_string(dir.join(console.unwrap_or("vmcore-dmesg.txt"))).unwrap_or_default();
            out.push(Arm64Dump {
                label: format!("scratch 6.1 null-member {format}"),
                vmcore,
                vmlinux: dir.join("vmlinux"),
                scenario: "null-member".into(),
                dmesg,
                drgn: read_json(&dir.join(format!("drgn.{format}.json"))),
                expected: Value::Null,
            });
        }
    }
    if out.is_empty() {
        krash_labtest::skip_or_fail(format!("no arm64 dumps: none in the lab's index, none under {SCRATCH}"));
    }
    out
}

fn open(d: &Arm64Dump) -> Session {
    let files = KernelFiles { dump: d.vmcore.clone(), vmlinux: Some(d.vmlinux.clone()), ..KernelFiles::default() };
    let kernel = Kernel::open(files).unwrap_or_else(|e| panic!("{}: open: {e}", d.label));
    assert_eq!(kernel.arch().machine, krash_arch::Machine::Aarch64, "{}", d.label);
    Session::new(kernel)
}

/// One command's text as the CLI prints it.
fn run(s: &mut Session, line: &str) -> String {
    let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    match krash_commands::execute(s, &words) {
        Ok(out) => krash_render::render_text(&out),
        Err(e) => panic!("`{line}` failed: {e}"),
    }
}

/// The value after `KEY:` in `sys` output.
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| l.trim_start().strip_prefix(key)?.strip_prefix(':')).map(str::trim)
}

/// The log text of a dmesg or console line (without its timestamp).
fn log_text(line: &str) -> &str {
    line.split_once("] ").map_or(line, |(_, rest)| rest).trim_end()
}

/// Bytes of RAM the kernel counted at boot: "Memory: 815228K/1048576K available".
fn boot_memory(dmesg: &str) -> Option<u64> {
    let line = dmesg.lines().map(log_text).find(|l| l.starts_with("Memory: "))?;
    let total = line.split_once('/')?.1.split_once('K')?.0;
    total.parse::<u64>().ok().map(|k| k * 1024)
}

/// crash's `get_memory_size`: within 64 MB of a whole GB counts as it.
fn crash_memory_text(bytes: u64) -> String {
    const GB: u64 = 1 << 30;
    let next = bytes.div_ceil(GB) * GB;
    let total = if next - bytes <= 64 << 20 { next } else { bytes };
    let text = if total >= GB {
        format!("{:.1} GB", total as f64 / GB as f64)
    } else {
        format!("{:.1} MB", total as f64 / (1u64 << 20) as f64)
    };
    text.replacen(".0 ", " ", 1)
}

#[test]
fn sys_memory_and_panic_are_the_kernels_own() {
    for d in dumps() {
        let mut s = open(&d);
        let sys = run(&mut s, "sys");
        let ram = boot_memory(&d.dmesg).unwrap_or_else(|| panic!("{}: no boot Memory: line", d.label));
        assert_eq!(field(&sys, "MEMORY"), Some(crash_memory_text(ram).as_str()), "{}: {sys}", d.label);
        // crash's first line holding an oops message: on arm64 the fault's own.
        let panic = field(&sys, "PANIC").unwrap_or_default().trim_matches('"');
        assert!(!panic.is_empty(), "{}: empty PANIC:\n{sys}", d.label);
        assert!(d.dmesg.lines().any(|l| log_text(l) == panic), "{}: PANIC {panic:?} is no log line", d.label);
        if d.scenario == "null-member" {
            assert!(panic.starts_with("Unable to handle kernel NULL pointer dereference"), "{}: {panic}", d.label);
        }
    }
}

#[test]
fn memory_views_read_every_node_and_zone() {
    for d in dumps() {
        let mut s = open(&d);
        let info = run(&mut s, "kmem -i");
        assert!(info.contains("TOTAL MEM"), "{}: {info}", d.label);
        let free = run(&mut s, "kmem -f");
        // The free lists hold NR_FREE_PAGES pages, but for the per-cpu
        // counter deltas the kernel had not folded in yet (a few pages).
        let summary = free.lines().find_map(|l| l.strip_prefix("nr_free_pages: ")).unwrap_or_default();
        let (counted, found) = match summary.split_once("  ") {
            Some((n, "(verified)")) => (n.parse::<u64>().ok(), n.parse::<u64>().ok()),
            Some((n, f)) => (n.parse().ok(), f.trim_start_matches("(found ").trim_end_matches(')').parse().ok()),
            None => (None, None),
        };
        let (Some(counted), Some(found)) = (counted, found) else {
            panic!("{}: no nr_free_pages line:\n{free}", d.label)
        };
        // Each CPU holds at most the zone's stat threshold (the kernel caps
        // it at 125 pages) unfolded: an OOM's churn gets near that.
        let cpus: u64 = run(&mut s, "sys")
            .lines()
            .find_map(|l| l.trim().strip_prefix("CPUS: ")?.split_whitespace().next()?.parse().ok())
            .unwrap_or(1);
        assert!(
            counted.abs_diff(found) <= 125 * cpus,
            "{}: free lists hold {found}, NR_FREE_PAGES {counted} ({cpus} CPUs)",
            d.label
        );
        // The zones' START_PADDR: RAM starts at PHYS_OFFSET, not 0.
        let phys_offset = s.kernel.vmcoreinfo().number("PHYS_OFFSET").unwrap_or(0) as u64;
        assert!(free.contains(&format!("  {phys_offset:x}  ")), "{}: no zone at {phys_offset:x}:\n{free}", d.label);
        let zones = run(&mut s, "kmem -z");
        assert!(zones.contains("NAME: \"DMA\""), "{}: {zones}", d.label);
        let map = run(&mut s, "kmem -n");
        assert!(map.contains("NR      SECTION"), "{}: {map}", d.label);
    }
}

/// The panicking task where it is in the linear map, else the first task
/// that is (a crash in CPU 0's idle task, init_task, is in the image).
fn linear_map_task(k: &Kernel, label: &str) -> u64 {
    let direct = k.memory().layout().virt.region(krash_arch::RegionKind::DirectMap).copied().unwrap();
    k.panic_task()
        .filter(|t| direct.contains(*t))
        .or_else(|| k.tasks().ok()?.iter().map(|t| t.addr).find(|t| direct.contains(*t)))
        .unwrap_or_else(|| panic!("{label}: no task in the linear map"))
}

#[test]
fn vmemmap_is_the_kernels_own_section_encoding() {
    for d in dumps() {
        let s = open(&d);
        let k = &s.kernel;
        let model = k.page_model().unwrap_or_else(|e| panic!("{}: page model: {e}", d.label));
        let sections = k.mem_sections().unwrap_or_else(|e| panic!("{}: mem_section: {e}", d.label));
        assert!(!sections.is_empty(), "{}", d.label);
        // sparse_encode_mem_map(): section_mem_map = mem_map - section's first pfn = vmemmap.
        for sec in &sections {
            assert_eq!(sec.coded_mem_map, model.vmemmap, "{}: section {}", d.label, sec.nr);
        }
        // A page of the linear map converts both ways.
        let task = linear_map_task(k, &d.label);
        let page = k.virt_to_page(task).unwrap();
        assert_eq!(k.page_to_virt(page), Some(task & !(k.memory().page_size() - 1)), "{}", d.label);
    }
}

#[test]
fn slab_caches_see_linear_map_pointers_as_pointers() {
    for d in dumps() {
        let mut s = open(&d);
        let text = run(&mut s, "kmem -s");
        // A freelist problem may name a non-canonical value (slab-corrupt
        // writes text over a free pointer), never a canonical one.
        let paging = s.kernel.memory().layout().paging();
        for line in text.lines().filter(|l| l.contains(" (non-canonical address)")) {
            let before = line.split(" (non-canonical address)").next().unwrap_or_default();
            let value = before.rsplit(' ').next().and_then(|w| u64::from_str_radix(w, 16).ok()).unwrap();
            assert!(!paging.is_canonical(value), "{}: a canonical address called non-canonical: {line}", d.label);
        }
        let Some(drgn) = &d.drgn else { continue };
        let tasks = drgn["tasks"].as_array().map_or(0, Vec::len) as u64;
        let line = text.lines().find(|l| l.ends_with(" task_struct")).expect("a task_struct cache");
        let allocated: u64 = line.split_whitespace().nth(2).and_then(|n| n.parse().ok()).unwrap();
        // The static init_task is not in the cache; every other task is.
        assert!(allocated + 1 >= tasks, "{}: {allocated} task_structs allocated, drgn lists {tasks} tasks", d.label);
    }
}

#[test]
fn search_and_translations_use_the_linear_maps_physical_base() {
    for d in dumps() {
        let mut s = open(&d);
        let init_task = s.kernel.symbol_addr("init_task").unwrap();
        let hits = run(&mut s, "search -k init_task");
        let mut direct = 0;
        for line in hits.lines().filter(|l| l.contains(": ")) {
            let addr = u64::from_str_radix(line.split(':').next().unwrap().trim(), 16).unwrap();
            assert_eq!(s.kernel.memory().read_u64(addr).ok(), Some(init_task), "{}: hit {line}", d.label);
            direct += usize::from(
                s.kernel
                    .memory()
                    .layout()
                    .virt
                    .region(krash_arch::RegionKind::DirectMap)
                    .is_some_and(|r| r.contains(addr)),
            );
        }
        assert!(direct > 0, "{}: no direct-map hit:\n{hits}", d.label);
        // vmalloc space: the panicking task's stack holds its task pointer
        // (where it is an ordinary task: CPU 0's idle task is init_task,
        // whose stack is in the image).
        let task = linear_map_task(&s.kernel, &d.label);
        if s.kernel.panic_task() == Some(task) {
            let mapped = run(&mut s, &format!("search -V {task:x}"));
            let vmalloc = s.kernel.memory().layout().virt.region(krash_arch::RegionKind::Vmalloc).copied().unwrap();
            let in_vmalloc = mapped.lines().filter_map(|l| u64::from_str_radix(l.split(':').next()?.trim(), 16).ok());
            assert!(in_vmalloc.filter(|a| vmalloc.contains(*a)).count() > 0, "{}: search -V found:\n{mapped}", d.label);
        }
        // vtop, then ptov back.
        let vtop = run(&mut s, &format!("vtop {task:x}"));
        assert!(vtop.contains("PAGE DIRECTORY: ") && vtop.contains("   PGD: "), "{}: {vtop}", d.label);
        assert!(!vtop.contains("PGD DIRECTORY"), "{}: x86's layout:\n{vtop}", d.label);
        let phys = vtop.lines().nth(1).and_then(|l| l.split_whitespace().nth(1)).unwrap();
        let ptov = run(&mut s, &format!("ptov {phys}"));
        assert_eq!(
            ptov.lines().nth(1).and_then(|l| l.split_whitespace().next()),
            Some(format!("{task:x}").as_str()),
            "{}: {ptov}",
            d.label
        );
    }
}

#[test]
fn disassembly_and_symbols_are_arm64s() {
    for d in dumps() {
        let mut s = open(&d);
        let dis = run(&mut s, "dis panic 24");
        assert!(dis.lines().count() >= 24, "{}: {dis}", d.label);
        for line in dis.lines() {
            assert_eq!(line, line.trim_end(), "{}: trailing blanks", d.label);
        }
        assert!(dis.contains(":\tpaciasp") || dis.contains(":\tbti"), "{}: {dis}", d.label);
        let mapping = s.kernel.symbols().iter().find(|sym| sym.name.starts_with('$')).map(|sym| sym.name.to_string());
        assert_eq!(mapping, None, "{}: a mapping symbol in the table", d.label);
        let dev = run(&mut s, "dev");
        assert!(dev.contains("ptmx_fops"), "{}: {dev}", d.label);
    }
}

#[test]
fn analyze_names_the_oops_without_reading_arm64_code_as_x86() {
    for d in dumps() {
        let mut s = open(&d);
        let text = run(&mut s, "analyze");
        if d.scenario == "null-member" {
            assert!(text.starts_with("WHAT:  NULL pointer dereference"), "{}: {text}", d.label);
        }
        assert!(!text.contains("%r"), "{}: x86 registers in an arm64 analysis:\n{text}", d.label);
    }
}

#[test]
fn analyze_agrees_with_the_scenarios_and_across_formats_and_kernels() {
    let mut by_scenario: std::collections::BTreeMap<String, Vec<(String, String)>> = Default::default();
    let mut compared = 0;
    for d in dumps() {
        let s = open(&d);
        let report = krash_commands::analyze_report(&s.kernel, None).unwrap_or_else(|e| panic!("{}: {e}", d.label));
        if let Some(kind) = d.expected["panic_kind"].as_str() {
            // The module says "paging_request" for arm64's "Unable to handle
            // kernel paging request".
            let kind = if kind == "paging_request" { "paging_fault" } else { kind };
            assert_eq!(report.kind.name(), kind, "{}", d.label);
        }
        // A call through NULL names the caller: x86-64's return address on
        // the stack, arm64's link register.
        if let Some(f) = d.expected["faulting_function"].as_str() {
            assert_eq!(report.faulting_function.as_deref(), Some(f), "{}", d.label);
        }
        // The syndrome the kernel logged, decoded, is the kind of fault the
        // scenario makes; and the faulting instruction is read where the
        // fault's registers are known.
        use krash_arch::arm64::esr::{BrkMeaning, SyndromeDetail};
        let detail = report.syndrome.as_ref().map(|s| s.detail.clone());
        let is_abort = |fetch: bool| matches!(detail, Some(SyndromeDetail::Abort { fetch: f, .. }) if f == fetch);
        match d.scenario.as_str() {
            "null-member" | "err-ptr" | "slab-corrupt" | "null-isra" => {
                assert!(is_abort(false), "{}: {detail:?}", d.label);
                let load = report.instruction.as_deref().unwrap_or_default();
                assert!(load.starts_with("ldr"), "{}: faulting instruction {load:?}", d.label);
            }
            "null-fnptr" | "null-const-ops" => assert!(is_abort(true), "{}: {detail:?}", d.label),
            "timer-bug" => {
                assert_eq!(
                    detail,
                    Some(SyndromeDetail::Brk { immediate: 0x800, meaning: BrkMeaning::Bug }),
                    "{}",
                    d.label
                );
                assert_eq!(report.instruction.as_deref(), Some("brk\t#0x800"), "{}", d.label);
            }
            _ => {}
        }
        if let Some(syndrome) = &report.syndrome {
            let first = report.findings.first().map(|f| f.sentence.clone());
            assert_eq!(first, Some(syndrome.describe()), "{}: the syndrome comes first", d.label);
            // Each claim names what shows it.
            for f in &report.findings {
                assert!(!f.shown_by.is_empty(), "{}: {:?} is shown by no command", d.label, f.sentence);
            }
        }
        by_scenario.entry(d.scenario.clone()).or_default().push((d.label.clone(), report.signature));
        compared += 1;
    }
    krash_labtest::assert_compared(compared, "arm64 analyze");
    for (scenario, sigs) in by_scenario {
        let Some((first, sig)) = sigs.first() else { continue };
        for (label, other) in &sigs[1..] {
            assert_eq!(sig, other, "{scenario}: {first} vs {label}");
        }
    }
}
