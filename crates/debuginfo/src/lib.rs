//! krash-debuginfo: what krash knows about a kernel build without reading
//! its DWARF: ELF and kallsyms symbol tables, BTF types, ORC unwind tables,
//! and the type model ([`types`]) that both BTF and DWARF producers feed.
//!
//! Inputs are byte slices or a caller-supplied
//! [`VirtualMemory`](krash_core::VirtualMemory); this crate knows nothing of
//! dump formats or of the kernel model built above it.

pub mod btf;
pub mod kallsyms;
pub mod orc;
pub mod symbol_set;
pub mod symbols;
pub mod types;

mod elf;

pub use btf::Btf;
pub use elf::{elf_section, elf_section_with_addr, elf_sections, ElfMemory, ElfSection};
pub use kallsyms::{
    read_kallsyms, read_module_kallsyms, KallsymsAddressing, KallsymsLocation, ModuleKallsymsLocation,
};
pub use orc::{OrcEntry, OrcFormat, OrcReg, OrcTable, OrcType};
pub use symbol_set::SymbolSet;
pub use symbols::{crash_name, nm_letter, Symbol, SymbolTable, SymbolTableBuilder};
pub use types::{
    dwarf_base_type_name, gdb_base_type_name, Composite, Enumerator, IntKind, Linkage, Member, MemberLocation, Param,
    Qualifier, SectionVar, Type, TypeId, TypeKind, TypeOps, TypeProvider, Variable,
};
