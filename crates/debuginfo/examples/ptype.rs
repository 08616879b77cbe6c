//! Prints gdb-style `ptype` output from a vmlinux's BTF, for comparing with
//! gdb: `ptype VMLINUX 'struct task_struct' 'union thread_union' ...`, or
//! `ptype VMLINUX --list` to list every named struct and union.
use krash_debuginfo::{elf_section, Btf, Type, TypeOps, TypeProvider};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: ptype VMLINUX (--list | TYPE...)");
        std::process::exit(2);
    };
    let map = krash_core::MappedFile::open(path.as_ref()).unwrap_or_else(|e| panic!("{path}: {e}"));
    let section = elf_section(&map, ".BTF").ok().flatten().expect("no .BTF section");
    let btf = Btf::parse(section).unwrap_or_else(|e| panic!("{e}"));
    if args.get(2).map(String::as_str) == Some("--list") {
        for id in btf.ids() {
            match btf.type_by_id(id) {
                Ok(Type::Struct(c)) => c.name.iter().for_each(|n| println!("struct {n}")),
                Ok(Type::Union(c)) => c.name.iter().for_each(|n| println!("union {n}")),
                _ => {}
            }
        }
        return;
    }
    for spelling in args.iter().skip(2) {
        match btf.find_type_by_spelling(spelling) {
            Ok(id) => println!("type = {}", btf.ptype(id)),
            Err(e) => println!("{e}"),
        }
    }
}
