//! Which variant every version probe picks on each lab kernel (5.10, 6.1,
//! 6.12, 7.2), with and without the vmlinux, and the facts behind the
//! probes read straight from the 5.10 and 7.2 vmlinux files' types and
//! tables.
//!
//! The dumps: KRASH_LAB_DIR (default /var/cache/krash-lab), `dumps/KERNEL/
//! null-member/vmcore.kdump-zlib`; a missing lab skips with a note, a
//! failure with KRASH_REQUIRE_LAB=1.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use krash_core::VirtualMemory;

use krash_debuginfo::orc::{OrcFlags, OrcFormat, OrcTable};
use krash_debuginfo::types::TypeProvider;
use krash_debuginfo::{Btf, SymbolTable};
use krash_linux::mm::page::{CompoundHead, PageExt};
use krash_linux::mm::slab::{Allocator, CpuCacheVariant, NodeVariant, SlabExt, SlabVariant, SlabVariants};
use krash_linux::printk::{LogVariant, PrintkExt};
use krash_linux::sched::backtrace::BacktraceExt;
use krash_linux::sched::task::{TaskExt, TaskStateSource};
use krash_linux::system::{boot_time_ns, SystemExt, UptimeSource};
use krash_program::layout::{Layouts, TypeSource};
use krash_program::modules::{RegionKind, SectionAttrs};
use krash_program::probes::{ModuleLayout, PercpuAddressing};
use krash_program::{Kernel, KernelFiles};

fn lab_dir() -> PathBuf {
    std::env::var_os("KRASH_LAB_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/var/cache/krash-lab"))
}

fn require_lab() -> bool {
    std::env::var("KRASH_REQUIRE_LAB").as_deref() == Ok("1")
}

/// The `"vmlinux": "..."` value of a manifest.
fn manifest_string(manifest: &str, key: &str) -> Option<String> {
    let quoted = format!("\"{key}\"");
    let rest = &manifest[manifest.find(&quoted)? + quoted.len()..];
    let start = rest.find('"')? + 1;
    let len = rest[start..].find('"')?;
    Some(rest[start..start + len].to_string())
}

fn manifest_vmlinux(manifest: &str) -> Option<PathBuf> {
    manifest_string(manifest, "vmlinux").map(PathBuf::from)
}

/// (kernel release, dump, vmlinux) of each lab kernel's null-member kdump.
fn lab_kernels() -> Vec<(String, PathBuf, PathBuf)> {
    let mut out = Vec::new();
    let dumps = lab_dir().join("dumps");
    if let Ok(entries) = std::fs::read_dir(&dumps) {
        let mut kernels: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
        kernels.sort();
        // The frame-pointer SLAB flavor has no types in its dump (no BTF):
        // its SLAB variant is checked by the cli's flavor_lab (kmem -s).
        for k in kernels.into_iter().filter(|k| !k.ends_with(krash_labtest::FP_SLAB_KERNEL)) {
            let scenario = k.join("null-member");
            let Ok(manifest) = std::fs::read_to_string(scenario.join("manifest.json")) else { continue };
            // The main format: kdump-zlib, or ELF where makedumpfile cannot
            // (arm64 6.12's 52-bit VAs).
            let format = manifest_string(&manifest, "main_format").unwrap_or_else(|| "kdump-zlib".into());
            let (Some(vmlinux), dump) = (manifest_vmlinux(&manifest), scenario.join(format!("vmcore.{format}"))) else {
                continue;
            };
            if dump.is_file() {
                let name = k.file_name().unwrap_or_default().to_string_lossy().into_owned();
                out.push((name, dump, vmlinux));
            }
        }
    }
    if out.is_empty() {
        assert!(!require_lab(), "no lab dumps under {}", dumps.display());
        eprintln!("note: no lab dumps under {}; skipped", dumps.display());
    }
    out
}

fn open(dump: &Path, vmlinux: Option<&Path>) -> Kernel {
    Kernel::open(KernelFiles {
        dump: dump.to_path_buf(),
        vmlinux: vmlinux.map(Path::to_path_buf),
        debug_dirs: Vec::new(),
        force: false,
    })
    .unwrap_or_else(|e| panic!("{}: {e}", dump.display()))
}

/// The 6.4+ `enum mod_mem_type` order, as the lab's 6.12 has it.
fn mem_slots_of_6_12() -> Vec<Option<RegionKind>> {
    [
        RegionKind::Text,
        RegionKind::Data,
        RegionKind::Rodata,
        RegionKind::RoAfterInit,
        RegionKind::InitText,
        RegionKind::InitData,
        RegionKind::InitRodata,
    ]
    .into_iter()
    .map(Some)
    .collect()
}

/// What each probe must pick on a lab kernel: facts of these Debian builds,
/// read off their sources and types once.
struct Expected {
    percpu: PercpuAddressing,
    modules: ModuleLayout,
    slab: SlabVariants,
    head: CompoundHead,
    /// None where the kernel has no ORC (arm64).
    orc: Option<(OrcFormat, OrcFlags)>,
    attrs: SectionAttrs,
    uptime: UptimeSource,
}

fn expected(release: &str) -> Expected {
    let mem_array = ModuleLayout::MemArray { slots: mem_slots_of_6_12(), kinds_from_enum: true };
    let slub = |slab, cpu, node| SlabVariants { allocator: Allocator::Slub, slab, cpu, node };
    let (v5_10, v6_1, v6_12, v7_2) = (
        &krash_labtest::KERNELS[0],
        &krash_labtest::KERNELS[1],
        &krash_labtest::KERNELS[2],
        &krash_labtest::KERNELS[3],
    );
    match release {
        r if r == *v5_10 => Expected {
            percpu: PercpuAddressing::ZeroBased,
            modules: ModuleLayout::CoreAndInit,
            slab: slub(SlabVariant::PageStruct, CpuCacheVariant::CpuSlab, NodeVariant::NodeArray),
            head: CompoundHead::Pointer,
            orc: Some((OrcFormat::BEFORE_6_4, OrcFlags::TypeEnd)),
            attrs: SectionAttrs::Counted,
            uptime: UptimeSource::Jiffies,
        },
        r if r == *v6_1 => Expected {
            percpu: PercpuAddressing::ZeroBased,
            modules: ModuleLayout::CoreAndInit,
            slab: slub(SlabVariant::SlabStruct, CpuCacheVariant::CpuSlab, NodeVariant::NodeArray),
            head: CompoundHead::Pointer,
            orc: Some((OrcFormat::BEFORE_6_4, OrcFlags::TypeEnd)),
            attrs: SectionAttrs::Counted,
            uptime: UptimeSource::Jiffies,
        },
        r if r == *v6_12 => Expected {
            percpu: PercpuAddressing::ZeroBased,
            modules: mem_array,
            slab: slub(SlabVariant::SlabStruct, CpuCacheVariant::CpuSlab, NodeVariant::NodeArray),
            head: CompoundHead::Pointer,
            orc: Some((OrcFormat::SINCE_6_4, OrcFlags::TypeSignal)),
            attrs: SectionAttrs::Counted,
            uptime: UptimeSource::Jiffies,
        },
        r if r == *v7_2 => Expected {
            percpu: PercpuAddressing::ImageRelative,
            modules: mem_array,
            slab: slub(SlabVariant::SlabStruct, CpuCacheVariant::Sheaves, NodeVariant::PerNode),
            head: CompoundHead::Info,
            orc: Some((OrcFormat::SINCE_7, OrcFlags::TypeSignal)),
            attrs: SectionAttrs::BinAttributes,
            uptime: UptimeSource::Timekeeper,
        },
        // Debian builds arm64 from the same sources and configuration
        // choices: the same variants as its x86-64 sibling, without ORC,
        // and per-cpu symbols at their image addresses (the zero-based
        // per-cpu section is x86-64's before 7.x).
        r if r == krash_labtest::ARM64_KERNELS[0] => {
            Expected { orc: None, percpu: PercpuAddressing::ImageRelative, ..expected(v6_1) }
        }
        // The generic 16K-page and PREEMPT_RT builds of that 6.12 have its
        // variants too: page size and preemption model change no layout
        // a probe chooses between.
        r if r == krash_labtest::ARM64_KERNELS[1]
            || r == krash_labtest::ARM64_16K_KERNEL
            || r == krash_labtest::ARM64_RT_KERNEL =>
        {
            Expected { orc: None, percpu: PercpuAddressing::ImageRelative, ..expected(v6_12) }
        }
        other => panic!("{other}: not a lab kernel (krash_labtest::KERNELS, ARM64_KERNELS)"),
    }
}

#[test]
fn lab_kernels_get_their_variants() {
    let mut seen = Vec::new();
    for (release, dump, vmlinux) in lab_kernels() {
        let want = expected(&release);
        for with_vmlinux in [true, false] {
            let k = open(&dump, with_vmlinux.then_some(vmlinux.as_path()));
            let label = format!("{release} ({})", if with_vmlinux { "vmlinux" } else { "dump only" });
            if !with_vmlinux && k.symbols().by_name("__start_BTF").is_none() {
                // Debian's 6.1 arm64 is built without KALLSYMS_ALL: its
                // kallsyms names functions only, so the dump alone has no
                // data symbols and no BTF to probe.
                assert_eq!(release, krash_labtest::ARM64_KERNELS[0], "{label}: kallsyms without data symbols");
                assert!(k.symbols().by_name("schedule").is_some(), "{label}: kallsyms has the functions");
                continue;
            }

            // THREAD_SIZE from the boot stack's linker symbols (16 KiB on
            // every lab kernel: no KASAN, and arm64's 16 KiB pages keep the
            // minimum THREAD_SHIFT of 14), not the arch default.
            let end = ["__end_init_stack", "__end_init_task"].iter().find_map(|n| k.symbols().by_name(n));
            assert!(k.symbols().by_name("init_stack").is_some() && end.is_some(), "{label}: boot stack symbols");
            assert_eq!(k.thread_size(), 16 << 10, "{label}: THREAD_SIZE");
            assert_eq!(k.percpu_addressing().unwrap(), want.percpu, "{label}");
            // The per-cpu probe agrees with the kernel: CPU N's this_cpu_off
            // is __per_cpu_offset[N] (x86-64; arm64 keeps it in TPIDR_EL1).
            let has_this_cpu_off = k.symbols().by_name("this_cpu_off").is_some();
            for cpu in k.possible_cpus().unwrap().into_iter().filter(|_| has_this_cpu_off) {
                let own = k.memory().read_u64(k.percpu_addr("this_cpu_off", cpu).unwrap()).unwrap();
                assert_eq!(own, k.percpu_offset(cpu).unwrap(), "{label}: this_cpu_off of CPU {cpu}");
            }
            assert_eq!(k.module_layout().unwrap(), &want.modules, "{label}");
            assert_eq!(k.slab_variants().unwrap(), want.slab, "{label}");
            assert_eq!(k.page_model().unwrap().head_encoding, want.head, "{label}");
            assert_eq!(k.log_variant().unwrap(), LogVariant::LocklessRing, "{label}");
            assert_eq!(SectionAttrs::probe(k.layouts()).unwrap(), want.attrs, "{label}");
            assert_eq!(UptimeSource::probe(&k), want.uptime, "{label}");

            match &k.task_states().source {
                TaskStateSource::Array { entries } => {
                    assert_eq!(entries.len(), 9, "{label}: {entries:?}");
                    assert_eq!(entries.last().map(String::as_str), Some("I (idle)"), "{label}");
                }
                other => panic!("{label}: task states not from the kernel: {other:?}"),
            }
            assert!(k.task_list_problems().iter().all(|p| !p.contains("task_state_array")), "{label}");

            let orc = &k.orc_tables().format;
            if let Some((format, flags)) = want.orc {
                assert_eq!(orc.format, format, "{label}: {orc:?}");
                assert_eq!(orc.flags_from_types, Some(flags), "{label}: struct orc_entry in the types");
                let (samples, agreeing) = orc.samples.unwrap_or_else(|| panic!("{label}: {orc:?}"));
                assert!(samples > 10_000 && agreeing * 100 >= samples * 99, "{label}: {orc:?}");
                assert!(orc.problem.is_none(), "{label}: {orc:?}");
                eprintln!("{label}: ORC {:?}, {agreeing}/{samples} function entries agree", orc.format);
            } else {
                assert!(orc.samples.is_none(), "{label}: an ORC table where the kernel has none: {orc:?}");
            }

            // Both uptime sources where both exist: the timekeeper's boot
            // time and the jiffies agree within a few seconds, and the
            // kernel's last log line was stamped before the dump was taken,
            // by the same few seconds. Not to the second: on a guest under
            // TCG on a loaded host the jiffies lagged the timekeeper and the
            // log's clock by 2.2 s (21 s against 23.2 s, 6.1 arm64, a lab
            // built beside other work); a misread HZ or field is off by far
            // more.
            let uptime = k.uptime_secs().unwrap_or_else(|e| panic!("{label}: uptime: {e}"));
            let boot_ns = boot_time_ns(&k).unwrap_or_else(|e| panic!("{label}: timekeeper: {e}"));
            assert!(uptime.abs_diff(boot_ns / 1_000_000_000) <= 4, "{label}: {uptime} s vs {boot_ns} ns");
            let last = k.log_records().unwrap().last().map(|r| r.ts_nsec).unwrap_or_default();
            assert!(
                last / 1_000_000_000 <= uptime + 4 && uptime <= last / 1_000_000_000 + 60,
                "{label}: {last} ns vs {uptime} s"
            );
        }
        seen.push(release);
    }
    if krash_labtest::required() {
        let mut every: Vec<&str> =
            krash_labtest::KERNELS.iter().chain(&krash_labtest::ARM64_KERNELS).copied().collect();
        every.sort_unstable();
        assert_eq!(seen, every, "every lab kernel has a null-member dump");
    }
}

/// A lab kernel's vmlinux read on its own: its BTF, symbols and ORC table.
struct OtherVersion {
    release: &'static str,
    layouts: Layouts,
    symbols: SymbolTable,
    orc: OrcTable,
}

fn other_version(release: &'static str) -> Option<OtherVersion> {
    let path = krash_labtest::vmlinux(release)?;
    let map = krash_core::MappedFile::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let btf = Btf::from_elf(&map, None).expect("the vmlinux has BTF");
    let types: Arc<dyn TypeProvider> = Arc::new(btf);
    Some(OtherVersion {
        release,
        layouts: Layouts::new(Some(types), TypeSource::Btf, None),
        symbols: SymbolTable::from_elf(&map).expect("symbols"),
        orc: OrcTable::from_vmlinux(&map).expect("ORC tables"),
    })
}

impl OtherVersion {
    fn function_starts(&self) -> Vec<u64> {
        self.symbols.iter().filter(|s| s.is_text()).map(|s| s.addr).collect()
    }

    fn orc_probe(&self) -> (Option<OrcFlags>, OrcFormat) {
        let flags = OrcFlags::from_types(self.layouts.types().expect("types").as_ref()).expect("orc_entry layout");
        let probe = self.orc.probe_format(&self.function_starts(), flags).expect("ORC probe");
        eprintln!("{}: ORC {probe:?}", self.release);
        (flags, probe.format)
    }

    fn has_symbol(&self, name: &str) -> bool {
        self.symbols.by_name(name).is_some()
    }
}

#[test]
fn linux_5_10_types_and_tables() {
    let Some(v) = other_version("5.10.0-43-cloud-amd64") else { return };
    assert_eq!(PercpuAddressing::probe(&v.symbols).unwrap(), PercpuAddressing::ZeroBased);
    assert_eq!(ModuleLayout::probe(&v.layouts).unwrap(), ModuleLayout::CoreAndInit);
    assert_eq!(
        SlabVariants::probe(&v.layouts).unwrap(),
        SlabVariants {
            allocator: Allocator::Slub,
            slab: SlabVariant::PageStruct,
            cpu: CpuCacheVariant::CpuSlab,
            node: NodeVariant::NodeArray,
        }
    );
    assert_eq!(CompoundHead::probe(&v.layouts).unwrap(), CompoundHead::Pointer);
    assert_eq!(LogVariant::probe(|n| v.has_symbol(n)).unwrap(), LogVariant::LocklessRing);
    assert_eq!(v.orc_probe(), (Some(OrcFlags::TypeEnd), OrcFormat::BEFORE_6_4));
    assert_eq!(SectionAttrs::probe(&v.layouts).unwrap(), SectionAttrs::Counted);
    // The slab counters sit in struct page's counters word.
    let counters = v.layouts.offset("page", "counters").unwrap();
    let objects = v.layouts.field("page", "objects").unwrap();
    assert_eq!((objects.offset - counters) * 8 + u64::from(objects.bits.unwrap().0), 16);
}

#[test]
fn linux_7_2_types_and_tables() {
    let Some(v) = other_version("7.2.13+deb14-cloud-amd64") else { return };
    assert_eq!(PercpuAddressing::probe(&v.symbols).unwrap(), PercpuAddressing::ImageRelative);
    match ModuleLayout::probe(&v.layouts).unwrap() {
        ModuleLayout::MemArray { slots, kinds_from_enum } => {
            assert!(kinds_from_enum);
            assert_eq!(slots, mem_slots_of_6_12());
        }
        other => panic!("7.2 modules: {other:?}"),
    }
    assert_eq!(
        SlabVariants::probe(&v.layouts).unwrap(),
        SlabVariants {
            allocator: Allocator::Slub,
            slab: SlabVariant::SlabStruct,
            cpu: CpuCacheVariant::Sheaves,
            node: NodeVariant::PerNode,
        }
    );
    assert_eq!(CompoundHead::probe(&v.layouts).unwrap(), CompoundHead::Info);
    assert_eq!(LogVariant::probe(|n| v.has_symbol(n)).unwrap(), LogVariant::LocklessRing);
    assert_eq!(v.orc_probe(), (Some(OrcFlags::TypeSignal), OrcFormat::SINCE_7));
    assert_eq!(SectionAttrs::probe(&v.layouts).unwrap(), SectionAttrs::BinAttributes);
    // Without the types' help the table alone tells the same.
    assert_eq!(v.orc.probe_format(&v.function_starts(), None).unwrap().format, OrcFormat::SINCE_7);
}
