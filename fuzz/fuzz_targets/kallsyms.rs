#![no_main]
//! kallsyms and module-kallsyms decoding over arbitrary "kernel memory".
use krash_core::memory::BytesAt;
use krash_debuginfo::{
    read_kallsyms, read_module_kallsyms, KallsymsAddressing, KallsymsLocation, ModuleKallsymsLocation,
};
use libfuzzer_sys::fuzz_target;

const BASE: u64 = 0xffff_ffff_8200_0000;

fuzz_target!(|data: &[u8]| {
    let mem = BytesAt { base: BASE, bytes: data };
    let at = |i: u64| BASE + (i * 64) % (data.len().max(1) as u64);
    let loc = KallsymsLocation {
        num_syms: at(0),
        names: at(1),
        token_table: at(2),
        token_index: at(3),
        offsets: at(4),
        relative_base: (data.get(1).copied().unwrap_or(0) & 1 == 0).then(|| at(5)),
        addressing: KallsymsAddressing::Auto,
    };
    let _ = read_kallsyms(&loc, &mem);
    let module = ModuleKallsymsLocation {
        symtab: at(0),
        num_symtab: data.first().copied().unwrap_or(0) as u64,
        strtab: at(2),
        typetab: Some(at(3)),
    };
    let _ = read_module_kallsyms("fuzz", &module, &mem);
});
