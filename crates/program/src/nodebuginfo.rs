//! Opening a dump with nothing but the dump: symbols from the kernel's own
//! kallsyms tables (located by VMCOREINFO on 6.0+ kernels), types from the
//! BTF the kernel carries in memory (`__start_BTF`..`__stop_BTF`). Unwind
//! tables come from memory too (see backtrace.rs). What only DWARF knows
//! (source lines, inline chains, locals) is then unavailable, and the
//! banner says so. On a live system (/proc/kcore) the same tables are read
//! from the running kernel's memory, with /proc/kallsyms and
//! /sys/kernel/btf/vmlinux as fallbacks when memory does not say where they are.

use std::path::Path;
use std::sync::Arc;

use krash_arch::Arch;
use krash_core::{Error, Result, VirtualMemory};
use krash_debuginfo::types::TypeProvider;
use krash_debuginfo::{read_kallsyms, Btf, KallsymsLocation, SymbolTable, SymbolTableBuilder};
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
    let (symbols, symbols_from) = match kallsyms_location(vmcoreinfo).and_then(|loc| read_kallsyms(&loc, &mem)) {
        Ok(symbols) => (symbols, format!("kallsyms in {place}")),
        Err(e) if live => match read_proc_kallsyms(Path::new(PROC_KALLSYMS)) {
            Ok(symbols) => (symbols, PROC_KALLSYMS.to_string()),
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
    let sources =
        DebuginfoSources { symbols: format!("{symbols_from} ({} symbols)", symbols.len()), types: types_from };
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

fn kallsyms_location(v: &VmcoreInfo) -> Result<KallsymsLocation> {
    KallsymsLocation::from_lookup(|name| v.symbol(name), "the dump's VMCOREINFO").map_err(|e| {
        Error::MissingDebuginfo(format!(
            "no vmlinux given and {e} (kernels before 6.0 do not export kallsyms there): give the vmlinux"
        ))
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
