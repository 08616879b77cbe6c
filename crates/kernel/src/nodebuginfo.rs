//! Opening a dump with nothing but the dump: symbols from the kernel's own
//! kallsyms tables (located by VMCOREINFO on 6.0+ kernels), types from the
//! BTF the kernel carries in memory (`__start_BTF`..`__stop_BTF`). Unwind
//! tables come from memory too (see backtrace.rs). What only DWARF knows
//! (source lines, inline chains, locals) is then unavailable, and the
//! banner says so.

use std::sync::Arc;

use krash_core::{Error, Result, VirtualMemory};
use krash_debuginfo::types::TypeProvider;
use krash_debuginfo::{read_kallsyms, Btf, KallsymsLocation, SymbolTable};
use krash_dumpfile::{Dump, VmcoreInfo};

use crate::addrspace::KernelMemory;
use crate::program::{discover_layout, DebuginfoSources};

/// The kernel's BTF is a few MB; refuse absurd sizes from corrupt symbols.
const MAX_BTF_BYTES: u64 = 64 << 20;

/// Symbols, types and their description, from the dump alone.
pub(crate) fn load_from_dump(
    dump: &Arc<Dump>,
    vmcoreinfo: &VmcoreInfo,
) -> Result<(SymbolTable, Option<Arc<dyn TypeProvider>>, DebuginfoSources)> {
    // kallsyms lives in the kernel image, which reads without symbols.
    let layout = discover_layout(dump, vmcoreinfo, &SymbolTable::empty())?;
    let mem = KernelMemory::new(Arc::clone(dump), layout);
    let loc = kallsyms_location(vmcoreinfo)?;
    let symbols = read_kallsyms(&loc, &mem)?;
    let (types, types_from) = match read_btf(&symbols, &mem) {
        Ok(btf) => {
            let n = btf.len();
            (Some(Arc::new(btf) as Arc<dyn TypeProvider>), format!("BTF in the dump ({n} types)"))
        }
        Err(e) => (None, format!("none ({e})")),
    };
    let sources = DebuginfoSources {
        symbols: format!("kallsyms in the dump ({} symbols)", symbols.len()),
        types: types_from,
    };
    Ok((symbols, types, sources))
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
        symbols
            .by_name(name)
            .map(|s| s.addr)
            .ok_or_else(|| Error::MissingDebuginfo(format!("kallsyms has no {name}")))
    };
    let start = addr("__start_BTF")?;
    let stop = addr("__stop_BTF")?;
    let len = stop
        .checked_sub(start)
        .filter(|&l| l > 0 && l <= MAX_BTF_BYTES)
        .ok_or_else(|| Error::bad_data("__start_BTF..__stop_BTF", "implausible size"))?;
    Btf::parse(&mem.read_vec(start, len as usize)?)
}
