//! Opening a dump with nothing but the dump: symbols from the kernel's own
//! kallsyms tables (located by VMCOREINFO on 6.0+ kernels, else found by
//! scanning the kernel image and checked against VMCOREINFO's `SYMBOL()`
//! entries), types from the
//! BTF the kernel carries in memory (`__start_BTF`..`__stop_BTF`). Unwind
//! tables come from memory too (see backtrace.rs). What only DWARF knows
//! (source lines, inline chains, locals) is then unavailable, and the
//! banner says so. On a live system (/proc/kcore) the same tables are read
//! from the running kernel's memory, with /proc/kallsyms and
//! /sys/kernel/btf/vmlinux as fallbacks when memory does not say where they are.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use krash_arch::{Arch, RegionKind};
use krash_core::{Error, Result, VirtualMemory};
use krash_debuginfo::types::TypeProvider;
use krash_debuginfo::{
    check_against, read_kallsyms, scan_kallsyms, Btf, KallsymsLocation, KallsymsScan, SymbolTable, SymbolTableBuilder,
};
use krash_dumpfile::{Dump, VmcoreInfo};

use crate::addrspace::KernelMemory;
use crate::kernel::discover_layout;
use crate::layout::TypeSource;
use crate::DebuginfoSources;

/// The kernel's BTF is a few MB; refuse absurd sizes from corrupt symbols.
const MAX_BTF_BYTES: u64 = 64 << 20;

/// Symbols, types and their description, from the dump alone.
pub(crate) fn load_from_dump(
    dump: &Arc<Dump>,
    arch: &'static Arch,
    vmcoreinfo: &VmcoreInfo,
) -> Result<crate::kernel::LoadedDebuginfo> {
    // kallsyms lives in the kernel image, which reads without symbols.
    let layout = discover_layout(dump, arch, vmcoreinfo, &SymbolTable::empty())?;
    let mem = KernelMemory::new(Arc::clone(dump), layout);
    let live = dump.is_live();
    let place = if live { "the live kernel's memory" } else { "the dump" };
    let (symbols, symbols_from) = match image_kallsyms(vmcoreinfo, &mem, place) {
        Ok(found) => found,
        Err(e) if live => match read_proc_kallsyms(Path::new(PROC_KALLSYMS)) {
            Ok(symbols) => {
                let from = format!("{PROC_KALLSYMS} ({} symbols)", symbols.len());
                (symbols, from)
            }
            Err(proc_err) => return Err(Error::MissingDebuginfo(format!("{e}; {proc_err}"))),
        },
        Err(e) => return Err(e),
    };
    let btf = match read_btf(&symbols, &mem) {
        Ok(btf) => Ok((btf, format!("BTF in {place}"))),
        Err(e) if live => {
            read_sys_btf().map(|btf| (btf, SYS_BTF.to_string())).map_err(|sys_err| format!("{e}; {sys_err}"))
        }
        Err(e) => Err(e.to_string()),
    };
    let (types, types_from) = match btf {
        Ok((btf, from)) => {
            let n = btf.len();
            (Some(Arc::new(btf) as Arc<dyn TypeProvider>), format!("{from} ({n} types)"))
        }
        Err(e) => (None, format!("none ({e})")),
    };
    let sources = DebuginfoSources { symbols: symbols_from, types: types_from };
    Ok(crate::kernel::LoadedDebuginfo {
        symbols,
        type_source: if types.is_some() { TypeSource::Btf } else { TypeSource::None },
        types,
        sources,
        dwarf: None,
    })
}

const PROC_KALLSYMS: &str = "/proc/kallsyms";
const SYS_BTF: &str = "/sys/kernel/btf/vmlinux";

/// The running kernel's own symbols (modules' excluded: they are read
/// from each module's kallsyms like in a dump). Addresses are real only
/// for root with kptr_restrict below 2; otherwise every one reads 0.
pub(crate) fn read_proc_kallsyms(path: &Path) -> Result<SymbolTable> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, &e))?;
    let mut builder = SymbolTableBuilder::new(None);
    let mut any_address = false;
    for line in text.lines() {
        let mut words = line.split_ascii_whitespace();
        let (Some(addr), Some(kind), Some(name), None) = (words.next(), words.next(), words.next(), words.next())
        else {
            continue;
        };
        let Ok(addr) = u64::from_str_radix(addr, 16) else { continue };
        any_address |= addr != 0;
        builder.push(name, addr, 0, kind.chars().next().unwrap_or('?'))?;
    }
    if builder.is_empty() {
        return Err(Error::MissingDebuginfo(format!("{}: no kernel symbols", path.display())));
    }
    if !any_address {
        return Err(Error::MissingDebuginfo(format!(
            "{}: every address reads 0: run as root with kernel.kptr_restrict < 2, or give the vmlinux",
            path.display()
        )));
    }
    Ok(builder.build())
}

fn read_sys_btf() -> Result<Btf> {
    let bytes = std::fs::read(SYS_BTF).map_err(|e| Error::io(SYS_BTF, &e))?;
    Btf::parse(&bytes)
}

/// Makes dump-only mode find the kallsyms tables by scanning the kernel
/// image even where VMCOREINFO names them (`KRASH_KALLSYMS=scan`; tests use
/// it to check the scan on kernels that export the tables).
pub const KALLSYMS_ENV: &str = "KRASH_KALLSYMS";

/// Where the image's kallsyms tables are looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KallsymsFinder {
    /// VMCOREINFO's `SYMBOL(kallsyms_*)` entries (6.0+), else a scan.
    VmcoreinfoFirst,
    /// A scan of the kernel image, whatever VMCOREINFO says.
    Scan,
}

fn kallsyms_finder() -> Result<KallsymsFinder> {
    match std::env::var(KALLSYMS_ENV).as_deref() {
        Err(_) | Ok("") | Ok("auto") => Ok(KallsymsFinder::VmcoreinfoFirst),
        Ok("scan") => Ok(KallsymsFinder::Scan),
        Ok(other) => Err(Error::Unsupported(format!("{KALLSYMS_ENV}={other}: expected `scan` or `auto`"))),
    }
}

/// The kernel image's symbols from its kallsyms tables, and a sentence
/// saying how they were found (and how sure that is).
fn image_kallsyms<M: krash_core::PhysicalMemory>(
    v: &VmcoreInfo,
    mem: &KernelMemory<M>,
    place: &str,
) -> Result<(SymbolTable, String)> {
    let from_vmcoreinfo = KallsymsLocation::from_lookup(|name| v.symbol(name), "the dump's VMCOREINFO");
    let vmcoreinfo_error = match (kallsyms_finder()?, from_vmcoreinfo) {
        // Tables VMCOREINFO names but that do not decode (a page missing
        // from the dump, say) leave the scan to try.
        (KallsymsFinder::VmcoreinfoFirst, Ok(loc)) => match read_kallsyms(&loc, mem) {
            Ok(symbols) => {
                let from = format!("kallsyms in {place} ({} symbols)", symbols.len());
                return Ok((symbols, from));
            }
            Err(e) => format!("the kallsyms tables VMCOREINFO names do not decode ({e})"),
        },
        (KallsymsFinder::VmcoreinfoFirst, Err(e)) => format!("{e} (kernels before 6.0 export no kallsyms there)"),
        (KallsymsFinder::Scan, _) => format!("{KALLSYMS_ENV}=scan"),
    };
    let scanned = scan_image_kallsyms(v, mem).map_err(|e| match e {
        Error::MissingDebuginfo(e) => {
            Error::MissingDebuginfo(format!("no vmlinux given, {vmcoreinfo_error}, and {e}: give the vmlinux"))
        }
        other => other,
    })?;
    let from = format!(
        "kallsyms found by scanning the kernel image in {place} ({} symbols; {})",
        scanned.symbols.len(),
        scanned.confidence
    );
    Ok((scanned.symbols, from))
}

/// Kallsyms found by scanning the kernel image, decoded and checked.
pub(crate) struct ScannedKallsyms {
    pub scan: KallsymsScan,
    pub symbols: SymbolTable,
    /// How many VMCOREINFO symbols agree, in words.
    pub confidence: String,
}

/// Scans the kernel image for the kallsyms tables (whatever VMCOREINFO
/// says of them), decodes them and checks them against VMCOREINFO.
pub(crate) fn scan_image_kallsyms<M: krash_core::PhysicalMemory>(
    v: &VmcoreInfo,
    mem: &KernelMemory<M>,
) -> Result<ScannedKallsyms> {
    let image = image_search(v, mem);
    let scan = scan_kallsyms(mem, &image.ranges)?;
    let symbols = read_kallsyms(&scan.location, mem)
        .map_err(|e| Error::MissingDebuginfo(format!("kallsyms found by scanning the kernel image: {e}")))?;
    let confidence = vmcoreinfo_agreement(v, &symbols, &scan, image.region.as_ref())?;
    Ok(ScannedKallsyms { scan, symbols, confidence })
}

/// Where to scan for kallsyms, and the image's address range.
struct ImageSearch {
    ranges: Vec<Range<u64>>,
    region: Option<Range<u64>>,
}

/// Largest kernel image searched (x86-64 allows 1 GiB; real ones are tens of MiB).
const MAX_IMAGE_SEARCH: u64 = 256 << 20;
/// The image's sections are aligned to large pages (2 MiB on x86-64).
const SECTION_ALIGN: u64 = 2 << 20;
/// Large-page boundaries probed for the read-only data after the text.
const MAX_RODATA_PROBES: u64 = 128;

/// The kernel image from `_stext` to its last VMCOREINFO symbol, read-only
/// data first: the tables are in `.rodata`, which starts at the first
/// large-page boundary after the text that the kernel maps no-execute.
/// The text is searched last, in case that probe misleads.
fn image_search<M: krash_core::PhysicalMemory>(v: &VmcoreInfo, mem: &KernelMemory<M>) -> ImageSearch {
    let layout = mem.layout();
    let region = layout.virt.region(RegionKind::KernelImage).map(|r| r.start..r.end);
    let in_image = |addr: &u64| region.as_ref().is_none_or(|r| r.contains(addr));
    let start = v.symbol("_stext").filter(in_image).or(region.as_ref().map(|r| r.start)).unwrap_or(0);
    let last_symbol = v.entries().filter_map(|(key, _)| symbol_name(key).and_then(|name| v.symbol(name)));
    let end = last_symbol
        .filter(in_image)
        .filter(|&a| a > start)
        .max()
        .unwrap_or(start)
        .max(start.saturating_add(SECTION_ALIGN))
        .min(start.saturating_add(MAX_IMAGE_SEARCH));
    let paging = layout.paging();
    let no_execute = |addr: u64| {
        paging
            .translate(mem.phys(), layout.kernel_pgt_phys, addr)
            .is_ok_and(|t| t.steps.iter().any(|s| paging.no_execute.matches(s.entry.0)))
    };
    let first_boundary = start.checked_add(SECTION_ALIGN - 1).map(|a| a & !(SECTION_ALIGN - 1));
    let rodata = first_boundary.and_then(|first| {
        (0..MAX_RODATA_PROBES)
            .filter_map(|i| first.checked_add(i.checked_mul(SECTION_ALIGN)?))
            .take_while(|&a| a < end)
            .find(|&a| no_execute(a))
    });
    let ranges = match rodata {
        Some(rodata) if rodata > start => vec![rodata..end, start..rodata],
        _ => std::iter::once(start..end).collect(),
    };
    ImageSearch { ranges, region }
}

/// `name` of a VMCOREINFO `SYMBOL(name)` key.
fn symbol_name(key: &str) -> Option<&str> {
    key.strip_prefix("SYMBOL(")?.strip_suffix(')')
}

/// Checks a scanned table against VMCOREINFO: every `SYMBOL()` inside the
/// kernel image that the table knows must be at the same address (those
/// outside, like `mem_section`, give a pointer's value, not an address),
/// and so must the tables VMCOREINFO names itself. Says how many agreed;
/// refuses on any disagreement, naming it.
fn vmcoreinfo_agreement(
    v: &VmcoreInfo,
    symbols: &SymbolTable,
    scan: &KallsymsScan,
    image: Option<&Range<u64>>,
) -> Result<String> {
    let in_image = |addr: u64| image.is_none_or(|r| r.contains(&addr));
    let mut known: Vec<(&str, u64)> = v
        .entries()
        .filter_map(|(key, _)| symbol_name(key))
        .filter_map(|name| Some((name, v.symbol(name)?)))
        .filter(|&(_, addr)| in_image(addr))
        .collect();
    known.sort_unstable();
    let agreement = check_against(symbols, known.iter().copied());
    let loc = &scan.location;
    let tables = scan.tables();
    let mut agree = agreement.agree.len();
    let mut disagree: Vec<String> = agreement
        .disagree
        .iter()
        .map(|(name, want, found)| {
            let found: Vec<String> = found.iter().map(|a| format!("{a:#x}")).collect();
            format!("SYMBOL({name})={want:#x} but kallsyms has {}", found.join(", "))
        })
        .collect();
    for (name, found) in tables {
        match (v.symbol(name), found) {
            (Some(want), Some(found)) if want == found => agree += 1,
            (Some(want), found) => disagree.push(format!(
                "SYMBOL({name})={want:#x} but the scan found {}",
                found.map_or("none".to_string(), |a| format!("{a:#x}"))
            )),
            (None, _) => {}
        }
    }
    if !disagree.is_empty() {
        return Err(Error::bad_data(
            format!("kallsyms found by scanning the kernel image (token table at {:#x})", loc.token_table),
            format!("VMCOREINFO disagrees: {}; give the vmlinux", disagree.join("; ")),
        ));
    }
    let checked = agree.saturating_add(disagree.len());
    Ok(match checked {
        0 => "no VMCOREINFO symbol to check them against".to_string(),
        _ => format!("{agree} of {checked} VMCOREINFO symbols agree"),
    })
}

fn read_btf(symbols: &SymbolTable, mem: &dyn VirtualMemory) -> Result<Btf> {
    let addr = |name: &str| {
        symbols.by_name(name).map(|s| s.addr).ok_or_else(|| Error::MissingDebuginfo(format!("kallsyms has no {name}")))
    };
    let start = addr("__start_BTF")?;
    let stop = addr("__stop_BTF")?;
    let len = stop
        .checked_sub(start)
        .filter(|&l| l > 0 && l <= MAX_BTF_BYTES)
        .ok_or_else(|| Error::bad_data("__start_BTF..__stop_BTF", "implausible size"))?;
    Btf::parse(&mem.read_vec(start, len as usize)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_kallsyms_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kallsyms");
        std::fs::write(
            &path,
            "ffffffff81000000 T _stext\nffffffff81000010 t helper\nffffffffc0000000 t modfn\t[mymod]\n",
        )
        .unwrap();
        let table = read_proc_kallsyms(&path).unwrap();
        assert_eq!(table.by_name("helper").map(|s| s.addr), Some(0xffffffff81000010));
        assert!(table.by_name("modfn").is_none());
        std::fs::write(&path, "0000000000000000 T _stext\n0000000000000000 t helper\n").unwrap();
        let err = read_proc_kallsyms(&path).unwrap_err().to_string();
        assert!(err.contains("every address reads 0"), "{err}");
    }
}
