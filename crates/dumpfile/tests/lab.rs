//! Checks every lab dump under $KRASH_LAB_DIR (default /var/cache/krash-lab;
//! krash-labtest finds it): each format opens, carries the right VMCOREINFO
//! and CPU notes, finds init_uts_ns, and formats of one scenario agree byte
//! for byte where they hold the same pages. Skips with a note when there are
//! no dumps, unless KRASH_REQUIRE_LAB=1.
// Tests index the dumps' known-good data; a panic here is a failed test.
#![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use krash_arch::{Arch, LayoutValue, RegionKind, RegisterFile, RegisterRole};
use krash_core::{Error, FaultReason, PhysicalMemory};
use krash_dumpfile::{Dump, DumpFormat, ElfProducer, Machine, PageState};

const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;

/// Scenario directory → its vmcore.* files.
fn scenarios() -> BTreeMap<PathBuf, Vec<PathBuf>> {
    let mut out: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    let dumps = krash_labtest::lab_dir().join("dumps");
    let Ok(kernels) = std::fs::read_dir(&dumps) else { return out };
    for kernel in kernels.flatten() {
        let Ok(scens) = std::fs::read_dir(kernel.path()) else { continue };
        for scen in scens.flatten() {
            let dir = scen.path();
            let hidden = dir.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if hidden || !dir.join("manifest.json").is_file() {
                continue;
            }
            let Ok(files) = std::fs::read_dir(&dir) else { continue };
            let mut cores: Vec<PathBuf> = files
                .flatten()
                .map(|f| f.path())
                .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("vmcore.")))
                .filter(|p| !p.to_string_lossy().ends_with(".txt"))
                .collect();
            cores.sort();
            if !cores.is_empty() {
                out.insert(dir, cores);
            }
        }
    }
    out
}

fn manifest(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("manifest.json")).expect("manifest readable");
    serde_json::from_str(&text).expect("manifest is JSON")
}

fn manifest_kernel(dir: &Path) -> String {
    manifest(dir)["kernel"].as_str().expect("manifest names its kernel").to_string()
}

/// The machine the lab booted (manifests before arm64 have no "arch").
fn manifest_machine(dir: &Path) -> Machine {
    match manifest(dir)["arch"].as_str() {
        None | Some("x86_64") => Machine::X86_64,
        Some("arm64") => Machine::Aarch64,
        Some(other) => panic!("{}: unknown lab arch {other}", dir.display()),
    }
}

fn is_qemu(format: &DumpFormat) -> bool {
    matches!(
        format,
        DumpFormat::KdumpCompressed { qemu: true, .. } | DumpFormat::Elf { producer: ElfProducer::Qemu { .. }, .. }
    )
}

fn lab_or_skip() -> Option<BTreeMap<PathBuf, Vec<PathBuf>>> {
    let found = scenarios();
    if found.is_empty() {
        krash_labtest::skip_or_fail("no lab dumps");
        return None;
    }
    Some(found)
}

#[test]
fn every_lab_dump_opens_with_notes_and_kernel_data() {
    let Some(lab) = lab_or_skip() else { return };
    for (dir, cores) in lab {
        let kernel = manifest_kernel(&dir);
        let machine = manifest_machine(&dir);
        let mut phys_base = None;
        let dumps: Vec<(PathBuf, Dump)> = cores
            .iter()
            .map(|p| (p.clone(), Dump::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))))
            .collect();
        for (_, d) in &dumps {
            if !is_qemu(d.format()) {
                phys_base = phys_base.or(d.header_phys_base());
            }
        }
        for (path, dump) in &dumps {
            let name = path.display();
            let info = dump.vmcoreinfo().unwrap_or_else(|| panic!("{name}: no VMCOREINFO"));
            assert_eq!(info.osrelease(), Some(kernel.as_str()), "{name}: OSRELEASE");
            // A LiME image of a running guest saves no CPU state.
            assert!(dump.format() == &DumpFormat::Lime || !dump.cpus().is_empty(), "{name}: no CPU notes");
            if let Some(n) = dump.nr_cpus() {
                assert_eq!(dump.cpus().len(), n as usize, "{name}: CPU notes vs header nr_cpus");
            }
            assert_eq!(dump.machine(), Some(machine), "{name}: machine");
            let kernel_page = info.page_size().unwrap_or_else(|| panic!("{name}: no PAGESIZE"));
            if is_qemu(dump.format()) {
                // QEMU writes arm64 guests' kdump files in 64 KiB pages,
                // whatever granule the guest uses.
                assert!(
                    dump.page_size().is_power_of_two() && dump.page_size() >= kernel_page,
                    "{name}: page size {}",
                    dump.page_size()
                );
            } else {
                assert_eq!(dump.page_size(), kernel_page, "{name}: page size");
            }
            for (index, regs) in registers(dump).into_iter().enumerate() {
                // The architecture decodes every CPU's raw notes.
                let regs = regs.unwrap_or_else(|| panic!("{name}: CPU {index} has no registers"));
                assert!(regs.pc().is_some() && regs.sp().is_some(), "{name}: CPU {index}");
                if is_qemu(dump.format()) && machine == Machine::X86_64 {
                    assert!(regs.by_name("cr3").is_some(), "{name}: QEMU notes carry cr3");
                }
            }
            assert_eq!(dump.truncation(), None, "{name}: complete dump reported truncated");
            let uts = info.symbol("init_uts_ns").unwrap_or_else(|| panic!("{name}: no init_uts_ns in VMCOREINFO"));
            // QEMU knows no phys_base; walk the saved page tables instead.
            let paddr = match (is_qemu(dump.format()), phys_base) {
                // arm64's image is linear by kimage_voffset, which every
                // arm64 dump's VMCOREINFO gives (QEMU's notes hold no TTBR).
                _ if machine == Machine::Aarch64 => {
                    let voffset = info.number("kimage_voffset").unwrap_or_else(|| panic!("{name}: no kimage_voffset"));
                    uts.wrapping_sub(voffset as u64)
                }
                (true, _) => translate(dump, uts).unwrap_or_else(|| panic!("{name}: cannot translate init_uts_ns")),
                (false, Some(base)) => uts.wrapping_sub(START_KERNEL_MAP).wrapping_add(base),
                (false, None) => panic!("{name}: no dump of this scenario gives phys_base"),
            };
            check_arch_layout(dump, uts, paddr);
            let mut buf = vec![0u8; 8192];
            dump.read_phys(paddr & !0xfff, &mut buf).unwrap_or_else(|e| panic!("{name}: init_uts_ns page: {e}"));
            let needle = kernel.as_bytes();
            assert!(buf.windows(needle.len()).any(|w| w == needle), "{name}: release string not near init_uts_ns");
            eprintln!("{name}: {} — {} CPUs, init_uts_ns at phys {paddr:#x}", dump.format(), dump.cpus().len());
        }
    }
}

fn arch(dump: &Dump) -> &'static Arch {
    krash_arch::for_machine(dump.machine().expect("the dump names its machine")).expect("implemented")
}

/// Each CPU's registers as the architecture layer decodes the dump's notes.
fn registers(dump: &Dump) -> Vec<Option<RegisterFile>> {
    let arch = arch(dump);
    dump.cpus()
        .iter()
        .map(|c| arch.cpu_registers(c.prstatus.as_deref(), c.qemu_state.as_deref()).expect("CPU notes decode"))
        .collect()
}

/// VMCOREINFO's numbers for the arch layer's layout rules; NUMBER values
/// are written signed (`phys_base` may be negative): two's complement.
fn vmcoreinfo_lookup(dump: &Dump) -> impl Fn(LayoutValue) -> Option<u64> + '_ {
    move |v| match v {
        LayoutValue::VmcoreinfoNumber(name) => dump.vmcoreinfo()?.number(name).map(|n| n as u64),
        LayoutValue::PageSize => dump.vmcoreinfo()?.page_size(),
        // arm64's VMCOREINFO has `_stext` only; the image starts at the 2 MiB
        // boundary below it (MIN_KIMG_ALIGN).
        LayoutValue::Symbol("_text") => dump.vmcoreinfo()?.symbol("_stext").map(|s| s & !0x1f_ffff),
        LayoutValue::Symbol(name) => dump.vmcoreinfo()?.symbol(name),
        _ => None,
    }
}

/// The arch layer's layout maps `vaddr` (in the kernel image) to `paddr`
/// linearly, and its walker agrees through the kernel's own page tables.
fn check_arch_layout(dump: &Dump, vaddr: u64, paddr: u64) {
    let name = dump.format_description();
    let lookup = vmcoreinfo_lookup(dump);
    let spec = arch(dump).address_space(&lookup).unwrap();
    let layout = spec.resolve(&lookup);
    assert_eq!(layout.region_of(vaddr).map(|r| r.kind), Some(RegionKind::KernelImage), "{name}");
    assert_eq!(layout.linear_phys(vaddr), Some(paddr), "{name}: image mapping");
    let info = dump.vmcoreinfo().unwrap();
    let root = spec.kernel_root_symbols.iter().find_map(|s| info.symbol(s)).expect("kernel root symbol");
    let root = layout.linear_phys(root).expect("the kernel root is in the image");
    let walked = spec.paging.translate(dump, root, vaddr).unwrap_or_else(|e| panic!("{name}: walk: {e}"));
    assert_eq!(walked.paddr, paddr, "{name}: walk vs image mapping");
    let extents = spec.paging.mapped_extents(dump, root, vaddr & !0xfff, (vaddr & !0xfff) + 0x2000, Default::default());
    assert!(extents.complete && extents.extents.first().is_some_and(|e| e.paddr == paddr & !0xfff), "{name}: extents");
}

/// The arch layer's walk from CPU 0's saved page-table root, in the paging
/// mode VMCOREINFO names.
fn translate(dump: &Dump, vaddr: u64) -> Option<u64> {
    let arch = arch(dump);
    let lookup = vmcoreinfo_lookup(dump);
    let root = registers(dump).first().copied()??.by_role(RegisterRole::PageTableRoot)?;
    arch.address_space(&lookup)?.paging.translate(dump, root, vaddr).ok().map(|t| t.paddr)
}

fn fault(e: Error) -> FaultReason {
    match e {
        Error::Fault { reason, .. } => reason,
        other => panic!("expected a fault, got {other}"),
    }
}

#[test]
fn formats_of_one_scenario_agree() {
    let Some(lab) = lab_or_skip() else { return };
    let mut groups = 0;
    for (_, cores) in lab {
        let dumps: Vec<(String, Dump)> =
            cores.iter().map(|p| (p.display().to_string(), Dump::open(p).expect("opens"))).collect();
        // QEMU and LiME capture the guest at other moments; compare each only with itself.
        let moment = |f: &DumpFormat| if f == &DumpFormat::Lime { 2 } else { u8::from(is_qemu(f)) };
        for when in 0..3u8 {
            let group: Vec<&(String, Dump)> = dumps.iter().filter(|(_, d)| moment(d.format()) == when).collect();
            let Some((ref_name, reference)) = group.first().copied() else { continue };
            // Formats of one capture may use other page sizes (QEMU's arm64
            // kdump files: 64 KiB): sample at the largest, read the smallest.
            let sample = group.iter().map(|(_, d)| d.page_size()).max().unwrap_or(4096);
            let read = group.iter().map(|(_, d)| d.page_size()).min().unwrap_or(4096);
            let end = group.iter().map(|(_, d)| d.max_pfn() * d.page_size()).max().unwrap_or(0);
            let step = (end / sample / 4000).max(1) * sample;
            let mut a = vec![0u8; read as usize];
            let mut b = vec![0u8; read as usize];
            let mut compared = 0u64;
            for paddr in (0..end).step_by(step as usize) {
                for (name, d) in &group {
                    let state = d.page_state(paddr / d.page_size());
                    let read = d.read_phys(paddr, &mut b);
                    match state {
                        PageState::Present => read.unwrap_or_else(|e| panic!("{name}: {paddr:#x}: {e}")),
                        PageState::Excluded => assert_eq!(fault(read.unwrap_err()), FaultReason::ExcludedFromDump),
                        PageState::NotInDump => assert_eq!(fault(read.unwrap_err()), FaultReason::NotInDump),
                        PageState::Truncated => panic!("{name}: {paddr:#x} truncated"),
                    }
                }
                if reference.read_phys(paddr, &mut a).is_err() {
                    continue;
                }
                for (name, d) in &group[1..] {
                    if d.read_phys(paddr, &mut b).is_ok() {
                        assert!(a == b, "{ref_name} and {name} differ at {paddr:#x}");
                        compared += 1;
                    }
                }
            }
            eprintln!("{} formats agree on {compared} sampled pages", group.len());
            if group.len() > 1 {
                assert!(compared > 0, "{ref_name}: no page compared with the {} other formats", group.len() - 1);
                groups += 1;
            }
        }
    }
    krash_labtest::assert_compared(groups, "groups of formats holding the same memory");
}

#[test]
fn truncated_copy_opens_and_reports() {
    let Some(lab) = lab_or_skip() else { return };
    let tmp = std::env::temp_dir().join(format!("krash-dumpfile-lab-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    // One scenario covers every format; copying multi-GB QEMU dumps for
    // each scenario would only slow the suite down.
    for (_, cores) in lab.into_iter().take(1) {
        for core in cores {
            let cut = tmp.join("vmcore.cut");
            let mut src = std::fs::File::open(&core).expect("open dump");
            let half = src.metadata().expect("dump metadata").len() / 2;
            let mut dst = std::fs::File::create(&cut).expect("create cut copy");
            std::io::copy(&mut std::io::Read::take(&mut src, half), &mut dst).expect("write cut copy");
            drop(dst);
            let dump = Dump::open(&cut).unwrap_or_else(|e| panic!("{} cut in half: {e}", core.display()));
            let t = dump.truncation().unwrap_or_else(|| panic!("{}: cut copy not reported truncated", core.display()));
            assert!(t.actual_bytes < t.expected_bytes || t.pages_missing > 0, "{}: {t:?}", core.display());
            assert!(dump.format_description().contains("INCOMPLETE"));
            let last_present = (0..dump.max_pfn()).rev().find(|&p| dump.page_state(p) == PageState::Truncated);
            if let Some(pfn) = last_present {
                let mut buf = [0u8; 8];
                assert_eq!(
                    fault(dump.read_phys(pfn * dump.page_size(), &mut buf).unwrap_err()),
                    FaultReason::Truncated
                );
            }
            eprintln!("{}: half copy reports {t:?}", core.display());
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn mutated_lab_headers_never_panic() {
    let Some(lab) = lab_or_skip() else { return };
    let Some((_, cores)) = lab.into_iter().next() else { return };
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for core in cores {
        let mut prefix = Vec::new();
        let file = std::fs::File::open(&core).expect("open dump");
        std::io::Read::read_to_end(&mut std::io::Read::take(file, 1 << 20), &mut prefix).expect("read prefix");
        for _ in 0..150 {
            let mut v = prefix.clone();
            for _ in 0..1 + next() % 6 {
                let at = (next() % 65536) as usize % v.len();
                v[at] = next() as u8;
            }
            if let Ok(dump) = Dump::from_bytes(v) {
                let _ = dump.truncation();
                let mut buf = vec![0u8; 6000];
                for range in dump.phys_ranges().iter().take(16) {
                    let _ = dump.read_phys(range.start, &mut buf);
                }
                for pfn in (0..dump.max_pfn()).step_by(997).take(300) {
                    let _ = dump.read_phys(pfn * dump.page_size(), &mut buf);
                }
            }
        }
    }
}
