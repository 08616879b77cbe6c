//! Loaded kernel modules, read from the `modules` list in the dump: each
//! module's name, memory regions, kallsyms symbols, taints, section
//! addresses and BTF location. Works on the three module layouts:
//! `module_core`/`module_init` (before 4.5), `core_layout`/`init_layout`
//! (4.5 to 6.3) and `mem[MOD_*]` (6.4 and later), told apart by
//! [`ModuleLayout`](crate::probes::ModuleLayout).

use krash_core::{Error, Result, VirtualMemory};
use krash_debuginfo::kallsyms::{read_module_kallsyms, ModuleKallsymsLocation};
use krash_debuginfo::{SymbolTable, SymbolTableBuilder};
use serde::Serialize;

use crate::list::{walk, WalkOptions};
use crate::probes::ModuleLayout;
use crate::Kernel;

/// `MODULE_NAME_LEN` on 64-bit kernels.
const MODULE_NAME_LEN: usize = 56;
/// More modules than any system loads; bounds the list walk.
const MAX_MODULES: usize = 65_536;
/// More sections than any `.ko` has; bounds `sect_attrs`.
const MAX_SECTIONS: u64 = 4096;
/// Longest section name read from `sect_attrs`.
const MAX_SECTION_NAME: usize = 256;

/// The kind of a module memory region, in the kernel's `enum mod_mem_type`
/// order (6.4+); older kernels have the core region (text, data and
/// read-only data together) and the init region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionKind {
    Text,
    Data,
    Rodata,
    RoAfterInit,
    InitText,
    InitData,
    InitRodata,
    /// `core_layout` of 4.5 to 6.3 (`module_core` before 4.5): text
    /// first, then data.
    Core,
    /// `init_layout` of 4.5 to 6.3 (`module_init` before 4.5).
    Init,
}

impl RegionKind {
    /// True for regions freed once the module finished loading.
    pub fn is_init(self) -> bool {
        matches!(self, RegionKind::InitText | RegionKind::InitData | RegionKind::InitRodata | RegionKind::Init)
    }

    /// True for regions that hold code.
    pub fn holds_text(self) -> bool {
        matches!(self, RegionKind::Text | RegionKind::InitText | RegionKind::Core | RegionKind::Init)
    }
}

/// One memory region of a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Region {
    pub kind: RegionKind,
    pub base: u64,
    pub size: u64,
}

impl Region {
    /// True if `addr` lies inside the region.
    pub fn contains(&self, addr: u64) -> bool {
        addr >= self.base && addr - self.base < self.size
    }
}

/// A loaded module as the dump records it.
#[derive(Debug, Clone)]
pub struct Module {
    /// Address of its `struct module`.
    pub addr: u64,
    pub name: String,
    /// Start of its code (`mem[MOD_TEXT].base` or `core_layout.base`):
    /// crash's BASE column.
    pub base: u64,
    /// Size of its core memory without init regions: crash's SIZE column.
    pub size: u64,
    /// Every non-empty region.
    pub regions: Vec<Region>,
    /// True when the kernel lays modules out in `mem[]` (6.4+), where crash
    /// titles the BASE column TEXT_BASE.
    pub has_mem_regions: bool,
    /// `module->taints` bits (`TAINT_*`).
    pub taints: u64,
    /// Symbols from the module's own kallsyms tables, empty when unreadable.
    pub symbols: SymbolTable,
    /// Why the symbols could not be read, if they could not.
    pub symbols_error: Option<String>,
    /// Address and size of the module's BTF (`btf_data`), when it has one.
    pub btf: Option<(u64, u64)>,
}

impl Module {
    /// True if `addr` lies in any of the module's regions.
    pub fn contains(&self, addr: u64) -> bool {
        self.regions.iter().any(|r| r.contains(addr))
    }

    /// True if `addr` lies in one of the module's code regions.
    pub fn contains_text(&self, addr: u64) -> bool {
        self.regions.iter().any(|r| r.kind.holds_text() && r.contains(addr))
    }

    /// The taint letters the kernel prints for this module (`OE`).
    pub fn taint_letters(&self) -> String {
        taint_letters(self.taints)
    }
}

/// The kernel's taint letters by bit number (`taint_flags[]`, stable since
/// 4.x): bit 0 is `P`, bit 12 `O`, bit 13 `E`...
const TAINT_LETTERS: &[u8] = b"PFSRMBUDAWCIOELKXTN";

/// The letters for set taint bits, in bit order.
pub fn taint_letters(taints: u64) -> String {
    TAINT_LETTERS.iter().enumerate().filter(|(bit, _)| taints & (1u64 << bit) != 0).map(|(_, &c)| c as char).collect()
}

/// Where 4.5 to 6.3 keep the core and init regions: (kind, base, size).
const CORE_AND_INIT_LAYOUTS: [(RegionKind, &str, &str); 2] = [
    (RegionKind::Core, "core_layout.base", "core_layout.size"),
    (RegionKind::Init, "init_layout.base", "init_layout.size"),
];
/// Where kernels before 4.5 keep them.
const MODULE_CORE_AND_INIT: [(RegionKind, &str, &str); 2] =
    [(RegionKind::Core, "module_core", "core_size"), (RegionKind::Init, "module_init", "init_size")];

/// The module list as read from the dump, cached in the kernel's state.
struct ModuleList(Result<Vec<Module>>);

impl Kernel {
    /// Every loaded module, sorted by base address as crash lists them;
    /// read once. A module whose symbols cannot be read is still listed.
    pub fn modules(&self) -> Result<&[Module]> {
        self.cached(|| ModuleList(self.read_modules())).0.as_ref().map(Vec::as_slice).map_err(Clone::clone)
    }

    /// The module named `name`.
    pub fn module_by_name(&self, name: &str) -> Result<&Module> {
        self.modules()?
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| Error::NotFound(format!("{name}: module not loaded")))
    }

    /// The module whose memory holds `addr`. Cheap: a range check per
    /// module, no allocation.
    pub fn module_containing(&self, addr: u64) -> Option<&Module> {
        self.modules().ok()?.iter().find(|m| m.contains(addr))
    }

    fn read_modules(&self) -> Result<Vec<Module>> {
        let head = self.symbol_addr("modules")?;
        let list_offset = self.layouts().offset("module", "list")?;
        let opts = WalkOptions { limit: MAX_MODULES, ..WalkOptions::default() };
        let walked = walk(self.memory(), head, opts);
        if let Some(broken) = &walked.broken {
            if walked.nodes.is_empty() {
                return Err(Error::bad_data("modules list", broken.to_string()));
            }
        }
        let mut modules = Vec::with_capacity(walked.nodes.len());
        for node in walked.nodes {
            let addr = node.wrapping_sub(list_offset);
            modules.push(self.read_module(addr)?);
        }
        modules.sort_by_key(|m| m.base);
        Ok(modules)
    }

    fn read_module(&self, addr: u64) -> Result<Module> {
        let name = self.read_field_string(addr, "module", "name").or_else(|_| {
            let off = self.layouts().offset("module", "name")?;
            self.memory().read_cstr(addr.wrapping_add(off), MODULE_NAME_LEN)
        })?;
        let (has_mem_regions, regions) = match self.module_layout()? {
            ModuleLayout::MemArray { slots, .. } => (true, self.read_mem_regions(addr, slots)?),
            ModuleLayout::CoreAndInit => (false, self.read_core_and_init(addr, CORE_AND_INIT_LAYOUTS)?),
            ModuleLayout::ModuleCore => (false, self.read_core_and_init(addr, MODULE_CORE_AND_INIT)?),
        };
        let base =
            regions.iter().find(|r| matches!(r.kind, RegionKind::Text | RegionKind::Core)).map(|r| r.base).unwrap_or(0);
        let size = regions.iter().filter(|r| !r.kind.is_init()).fold(0u64, |sum, r| sum.saturating_add(r.size));
        let taints = self.read_field(addr, "module", "taints").unwrap_or(0);
        let (symbols, symbols_error) = match self.read_module_symbols(addr, &name) {
            Ok(table) => (table, None),
            Err(e) => (SymbolTable::empty(), Some(e.to_string())),
        };
        let btf = self.read_module_btf(addr);
        Ok(Module {
            addr,
            name,
            base,
            size,
            regions: regions.into_iter().filter(|r| r.size != 0).collect(),
            has_mem_regions,
            taints,
            symbols,
            symbols_error,
            btf,
        })
    }

    /// 6.4+: `struct module_memory mem[MOD_MEM_NUM_TYPES]`, slot kinds
    /// from `enum mod_mem_type`.
    fn read_mem_regions(&self, addr: u64, slots: &[Option<RegionKind>]) -> Result<Vec<Region>> {
        let mem = self.layouts().offset("module", "mem")?;
        let stride = self.layouts().size_of("module_memory")?;
        let base_field = self.layouts().field("module_memory", "base")?;
        let size_field = self.layouts().field("module_memory", "size")?;
        let mut regions = Vec::with_capacity(slots.len());
        for (index, kind) in slots.iter().enumerate() {
            let Some(kind) = kind else { continue };
            let entry = addr.wrapping_add(mem).wrapping_add(stride.wrapping_mul(index as u64));
            let base = self.read_sized(entry.wrapping_add(base_field.offset), base_field.size.unwrap_or(8))?;
            let size = self.read_sized(entry.wrapping_add(size_field.offset), size_field.size.unwrap_or(4))?;
            regions.push(Region { kind: *kind, base, size });
        }
        Ok(regions)
    }

    /// Before 6.4: the core and init regions, each a base pointer and a
    /// size at the `struct module` members `places` names.
    fn read_core_and_init(&self, addr: u64, places: [(RegionKind, &str, &str); 2]) -> Result<Vec<Region>> {
        let mut regions = Vec::with_capacity(places.len());
        for (kind, base, size) in places {
            let base = self.read_field(addr, "module", base)?;
            let size = self.read_field(addr, "module", size)?;
            regions.push(Region { kind, base, size });
        }
        Ok(regions)
    }

    fn read_module_symbols(&self, addr: u64, name: &str) -> Result<SymbolTable> {
        // The struct holding symtab, num_symtab and strtab, and its address.
        let (holder, at) = if self.layouts().has_field("module", "kallsyms") {
            // 4.6 and later: module->kallsyms points at a struct mod_kallsyms.
            let kallsyms = self.read_field_u64(addr, "module", "kallsyms")?;
            if kallsyms == 0 {
                return Err(Error::NotFound(format!("module {name} has no kallsyms")));
            }
            ("mod_kallsyms", kallsyms)
        } else {
            // Before 4.6 they are struct module's own members (pointing at
            // the core copies once the module finished loading).
            ("module", addr)
        };
        let typetab = if self.layouts().has_field(holder, "typetab") {
            Some(self.read_field_u64(at, holder, "typetab")?)
        } else {
            None
        };
        let loc = ModuleKallsymsLocation {
            symtab: self.read_field_u64(at, holder, "symtab")?,
            num_symtab: self.read_field(at, holder, "num_symtab")?,
            strtab: self.read_field_u64(at, holder, "strtab")?,
            typetab: typetab.filter(|&t| t != 0),
        };
        let table = read_module_kallsyms(name, &loc, self.memory())?;
        self.case_by_binding(name, &loc, table)
    }

    /// Module typetab letters are all lower case (the kernel upper-cases
    /// exported ones only when printing /proc/kallsyms); crash, like nm on
    /// the `.ko`, upper-cases global symbols, so the binding in each
    /// `Elf64_Sym.st_info` decides the case here.
    fn case_by_binding(&self, name: &str, loc: &ModuleKallsymsLocation, table: SymbolTable) -> Result<SymbolTable> {
        const SYM_SIZE: u64 = 24;
        const STB_GLOBAL: u8 = 1;
        let raw = self.memory().read_vec(loc.symtab, loc.num_symtab.saturating_mul(SYM_SIZE) as usize)?;
        let globals: std::collections::HashSet<u64> = raw
            .chunks_exact(SYM_SIZE as usize)
            .filter(|s| s.get(4).is_some_and(|info| info >> 4 == STB_GLOBAL))
            .filter_map(|s| s.get(8..16).and_then(|v| v.try_into().ok()).map(u64::from_le_bytes))
            .collect();
        let mut builder = SymbolTableBuilder::new(Some(name));
        builder.reserve(table.len(), table.len() * 24);
        for sym in table.iter().filter(|s| !krash_debuginfo::symbols::is_mapping_symbol(s.name)) {
            let kind = if globals.contains(&sym.addr) { sym.kind.to_ascii_uppercase() } else { sym.kind };
            builder.push(sym.name, sym.addr, sym.size, kind)?;
        }
        Ok(builder.build())
    }

    fn read_module_btf(&self, addr: u64) -> Option<(u64, u64)> {
        let data = self.read_field_u64(addr, "module", "btf_data").ok()?;
        let size = self.read_field(addr, "module", "btf_data_size").ok()?;
        (data != 0 && size != 0).then_some((data, size))
    }

    /// The run-time address of each of a module's ELF sections, from
    /// `module->sect_attrs` (what /sys/module/NAME/sections shows); used to
    /// place a `.ko`'s DWARF at the addresses the module ran at.
    pub fn module_sections(&self, module: &Module) -> Result<Vec<(String, u64)>> {
        let attrs = self.read_field_u64(module.addr, "module", "sect_attrs")?;
        if attrs == 0 {
            return Err(Error::NotFound(format!("module {} has no section attributes", module.name)));
        }
        let l = self.layouts();
        // (address of each attribute, offset of its name pointer, offset of its address)
        let (entries, name_offset, address_offset) = match SectionAttrs::probe(l)? {
            SectionAttrs::Counted => {
                let count = self.read_field(attrs, "module_sect_attrs", "nsections")?;
                if count > MAX_SECTIONS {
                    return Err(Error::bad_data(
                        format!("module {} sect_attrs", module.name),
                        format!("implausible section count {count}"),
                    ));
                }
                let first = self.field_addr(attrs, "module_sect_attrs", "attrs")?;
                let stride = l.size_of("module_sect_attr")?;
                let entries = (0..count).map(|i| first.wrapping_add(stride.wrapping_mul(i))).collect::<Vec<_>>();
                (entries, l.offset("module_sect_attr", "battr.attr.name")?, l.offset("module_sect_attr", "address")?)
            }
            SectionAttrs::BinAttributes => {
                let list = self.read_field_u64(attrs, "module_sect_attrs", "grp.bin_attrs")?;
                let mut entries = Vec::new();
                for i in 0..=MAX_SECTIONS {
                    let attr = self.memory().read_u64(list.wrapping_add(i.wrapping_mul(8)))?;
                    if attr == 0 {
                        break;
                    }
                    if i == MAX_SECTIONS {
                        return Err(Error::bad_data(
                            format!("module {} sect_attrs", module.name),
                            format!("more than {MAX_SECTIONS} sections"),
                        ));
                    }
                    entries.push(attr);
                }
                (entries, l.offset("bin_attribute", "attr.name")?, l.offset("bin_attribute", "private")?)
            }
        };
        let mut sections = Vec::with_capacity(entries.len());
        for attr in entries {
            let name_ptr = self.memory().read_u64(attr.wrapping_add(name_offset))?;
            let name = self.memory().read_cstr(name_ptr, MAX_SECTION_NAME)?;
            let address = self.memory().read_u64(attr.wrapping_add(address_offset))?;
            sections.push((name, address))
        }
        Ok(sections)
    }
}

/// How `module->sect_attrs` lists a module's section addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SectionAttrs {
    /// Up to 6.x: `nsections` entries of `struct module_sect_attr
    /// { struct bin_attribute battr; unsigned long address; }`.
    Counted,
    /// 7.x: `struct bin_attribute attrs[]`, listed NULL-terminated in
    /// `grp.bin_attrs`, each section's address in the attribute's
    /// `private` pointer.
    BinAttributes,
}

impl SectionAttrs {
    /// Tells the two apart by the members `struct module_sect_attrs` has.
    pub fn probe(l: &crate::layout::Layouts) -> Result<SectionAttrs> {
        if l.has_field("module_sect_attrs", "nsections") {
            Ok(SectionAttrs::Counted)
        } else if l.has_field("module_sect_attrs", "grp.bin_attrs") && l.has_field("bin_attribute", "private") {
            Ok(SectionAttrs::BinAttributes)
        } else {
            Err(Error::MissingDebuginfo(
                "struct module_sect_attrs has neither nsections nor grp.bin_attrs: unknown section list".into(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taint_letters_follow_bit_order() {
        assert_eq!(taint_letters((1 << 12) | (1 << 13)), "OE");
        assert_eq!(taint_letters(1), "P");
        assert_eq!(taint_letters(0), "");
    }

    #[test]
    fn section_attrs_are_probed() {
        use crate::layout::{Layouts, TypeSource};
        use crate::probes::synthetic::{member, SyntheticTypes as T};
        let layouts = |t: T| Layouts::new(Some(std::sync::Arc::new(t)), TypeSource::Btf, None);
        let mut t = T::new();
        t.structure("module_sect_attrs", 64, vec![member("nsections", T::UINT, 40), member("attrs", T::ULONG, 48)]);
        assert_eq!(SectionAttrs::probe(&layouts(t)).unwrap(), SectionAttrs::Counted);
        let mut t = T::new();
        let group = t.structure("attribute_group", 40, vec![member("bin_attrs", T::PTR, 24)]);
        t.structure("module_sect_attrs", 40, vec![member("grp", group, 0)]);
        t.structure("bin_attribute", 64, vec![member("private", T::PTR, 32)]);
        assert_eq!(SectionAttrs::probe(&layouts(t)).unwrap(), SectionAttrs::BinAttributes);
        assert!(SectionAttrs::probe(&layouts(T::new())).is_err());
    }

    /// A 4.4 kernel with one module: `struct module` holds the regions'
    /// pointers and sizes itself (`module_core`, `core_size`...) and, as
    /// before 4.6, its own `symtab`, `num_symtab` and `strtab`.
    #[test]
    fn modules_before_4_5_read_regions_and_symbols_from_struct_module() {
        use crate::synthetic::SyntheticKernel;
        const CORE: u64 = 0xffff_ffff_c000_0000;
        const INIT: u64 = 0xffff_ffff_c002_0000;
        let mut s = SyntheticKernel::new();
        let t = s.types();
        let ptr = t.pointer(krash_debuginfo::types::TypeId::VOID);
        let uint = t.int("unsigned int", 4, false);
        let ch = t.int("char", 1, true);
        let list_head = t.structure("list_head", 16, &[("next", ptr, 0), ("prev", ptr, 8)]);
        let name = t.array(ch, MODULE_NAME_LEN as u64);
        t.structure(
            "module",
            640,
            &[
                ("list", list_head, 8),
                ("name", name, 24),
                ("module_init", ptr, 320),
                ("module_core", ptr, 328),
                ("init_size", uint, 336),
                ("core_size", uint, 340),
                ("init_text_size", uint, 344),
                ("core_text_size", uint, 348),
                ("symtab", ptr, 400),
                ("num_symtab", uint, 408),
                ("strtab", ptr, 416),
            ],
        );
        let head = s.global("modules", 16);
        let module = s.alloc(640);
        s.write(head, &[(module + 8).to_le_bytes(), (module + 8).to_le_bytes()].concat());
        s.write(module + 8, &[head.to_le_bytes(), head.to_le_bytes()].concat());
        s.write_str(module + 24, "floppy");
        s.write_u64(module + 320, INIT);
        s.write_u64(module + 328, CORE);
        s.write_u32(module + 336, 0x1000);
        s.write_u32(module + 340, 0x5000);
        // Elf64_Sym: st_name u32, st_info u8, st_other u8, st_shndx u16,
        // st_value u64, st_size u64; entry 0 is the null symbol. Kernels
        // without mod_kallsyms.typetab store the nm letter in st_info.
        let symtab = s.alloc(48);
        let global_func = b'T';
        let sym: Vec<u8> = [
            &1u32.to_le_bytes()[..],
            &[global_func, 0],
            &1u16.to_le_bytes(),
            &(CORE + 0x10).to_le_bytes(),
            &0x40u64.to_le_bytes(),
        ]
        .concat();
        s.write(symtab + 24, &sym);
        let strtab = s.alloc(16);
        s.write(strtab, b"\0floppy_init\0");
        s.write_u64(module + 400, symtab);
        s.write_u32(module + 408, 2);
        s.write_u64(module + 416, strtab);
        let k = s.build().unwrap();

        assert_eq!(k.module_layout().unwrap(), &ModuleLayout::ModuleCore);
        let m = k.module_by_name("floppy").unwrap();
        assert_eq!(
            m.regions,
            [
                Region { kind: RegionKind::Core, base: CORE, size: 0x5000 },
                Region { kind: RegionKind::Init, base: INIT, size: 0x1000 }
            ]
        );
        assert_eq!((m.base, m.size, m.has_mem_regions), (CORE, 0x5000, false));
        assert!(m.contains_text(CORE + 0x4fff) && !m.contains(CORE + 0x5000));
        assert_eq!(m.symbols_error, None);
        let f = m.symbols.by_name("floppy_init").expect("symbol from module->symtab");
        assert_eq!((f.addr, f.kind), (CORE + 0x10, 'T'));
    }

    #[test]
    fn region_contains_is_half_open() {
        let r = Region { kind: RegionKind::Text, base: 0x1000, size: 0x10 };
        assert!(r.contains(0x1000) && r.contains(0x100f));
        assert!(!r.contains(0x1010) && !r.contains(0xfff));
    }
}
