//! krash-debuginfo: what krash knows about a kernel build without reading
//! its DWARF: ELF and kallsyms symbol tables, BTF types, ORC unwind tables,
//! and the type model ([`types`]) that both BTF and DWARF producers feed.
//!
//! Inputs are byte slices or a caller-supplied
//! [`VirtualMemory`](krash_core::VirtualMemory); this crate knows nothing of
//! dump formats or of the kernel model built above it.
//!
//! ```no_run
//! use krash_debuginfo::{elf_section, Btf, OrcTable, SymbolTable, TypeOps};
//! # fn main() -> krash_core::Result<()> {
//! let map = krash_core::MappedFile::open("vmlinux".as_ref())?;
//! let symbols = SymbolTable::from_elf(&map)?.with_offset(0x880_0000); // KASLR delta
//! let (sym, offset) = symbols.by_addr(0xffff_ffff_89a1_2345).unwrap();
//! println!("{}+{offset:#x}", sym.crash_name());
//!
//! let btf = Btf::parse(elf_section(&map, ".BTF")?.unwrap())?;
//! let task = btf.find_type_by_spelling("struct task_struct")?;
//! let comm = btf.member_path(task, "comm")?;
//! assert_eq!(btf.type_name(comm.ty), "char [16]");
//! println!("type = {}", btf.ptype(task)); // gdb's `ptype struct task_struct`
//!
//! let orc = OrcTable::from_vmlinux(&map)?.with_offset(0x880_0000);
//! let entry = orc.find(0xffff_ffff_89a1_2345);
//! # let _ = entry; Ok(()) }
//! ```

pub mod btf;
pub mod kallsyms;
pub mod kallsyms_scan;
pub mod orc;
pub mod symbol_set;
pub mod symbols;
pub mod type_table;
pub mod types;

mod elf;
mod read;

pub use btf::Btf;
pub use elf::{elf_section, elf_section_with_addr, elf_sections, ElfMemory, ElfSection};
pub use kallsyms::{read_kallsyms, read_module_kallsyms, KallsymsAddressing, KallsymsLocation, ModuleKallsymsLocation};
pub use kallsyms_scan::{check_against, scan_kallsyms, KallsymsLayout, KallsymsScan, SymbolAgreement};
pub use orc::{OrcEntry, OrcFormat, OrcReg, OrcTable, OrcType};
pub use symbol_set::SymbolSet;
pub use symbols::{crash_name, nm_letter, Symbol, SymbolTable, SymbolTableBuilder};
pub use types::{
    dwarf_base_type_name, gdb_base_type_name, Composite, Enumerator, IntKind, Linkage, Member, MemberLocation, Param,
    Qualifier, SectionVar, Type, TypeId, TypeKind, TypeOps, TypeProvider, Variable,
};
