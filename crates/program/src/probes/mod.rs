//! Version probes: the facts about the kernel's own layout that differ
//! between kernel versions, each found by asking the kernel (its symbols,
//! its types, its memory), never by parsing its release string. Each
//! probe names the variants it tells apart and which kernels have which.
//!
//! The core facts live here; subsystem models keep theirs beside the model
//! (`krash_linux::mm::slab::SlabVariant`, `krash_linux::printk::LogVariant`,
//! `krash_linux::sched::task::TaskStateTable`, the ORC format probe in
//! `krash_linux::sched::backtrace`).

pub mod synthetic;

use krash_core::{Error, Result};
use krash_debuginfo::types::{Type, TypeKind, TypeOps};
use krash_debuginfo::SymbolTable;
use serde::Serialize;

use crate::layout::Layouts;
use crate::modules::RegionKind;
use crate::Kernel;

/// How the address of CPU N's copy of a per-cpu variable is formed on
/// SMP kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PercpuAddressing {
    /// The per-cpu section is linked at address 0 (`__per_cpu_start` is
    /// 0): a per-cpu symbol's value is an offset into every CPU's area,
    /// which KASLR does not move; CPU N's copy is at that offset plus
    /// `__per_cpu_offset[N]`. Every x86-64 kernel up to 6.12 at least.
    ZeroBased,
    /// The per-cpu section is an ordinary part of the kernel image
    /// (`__per_cpu_start` lies between `_text` and `_end`): a per-cpu
    /// symbol is a kernel address that KASLR moves like any other, and CPU
    /// N's copy is at the symbol's run-time address plus
    /// `__per_cpu_offset[N]`. The 7.2 sources link it so on x86-64 (its
    /// vmlinux.lds.S no longer has `PERCPU_VADDR(..., 0, ...)`; the
    /// change came between 6.12 and 7.2), and every arm64 kernel does.
    ImageRelative,
}

impl PercpuAddressing {
    /// Tells the two apart from where the symbol table puts the start of
    /// the per-cpu section (or, without `__per_cpu_start`, a per-cpu
    /// variable every SMP kernel has).
    pub fn probe(symbols: &SymbolTable) -> Result<PercpuAddressing> {
        let marker = ["__per_cpu_start", "this_cpu_off", "runqueues"]
            .iter()
            .find_map(|name| symbols.by_name(name))
            .ok_or_else(|| {
                Error::MissingDebuginfo(
                    "per-cpu addressing: the symbol table has none of __per_cpu_start, this_cpu_off, runqueues".into(),
                )
            })?;
        let text = symbols.by_name("_text").or_else(|| symbols.by_name("_stext"));
        let end = symbols.by_name("_end");
        let image_relative = match (text, end) {
            (Some(t), Some(e)) => (t.addr..=e.addr).contains(&marker.addr),
            // No image bounds: a zero-based symbol keeps its small link value
            // (kernel addresses have bit 63 set on x86-64 and arm64 alike).
            _ => marker.addr.wrapping_sub(symbols.offset()) >> 63 == 1,
        };
        Ok(if image_relative { PercpuAddressing::ImageRelative } else { PercpuAddressing::ZeroBased })
    }

    /// The base to which `__per_cpu_offset[N]` is added for the per-cpu
    /// symbol at `addr` of `symbols`.
    pub fn symbol_base(self, addr: u64, symbols: &SymbolTable) -> u64 {
        match self {
            // ELF symbols carry the KASLR delta; the offset does not.
            PercpuAddressing::ZeroBased => addr.wrapping_sub(symbols.offset()),
            PercpuAddressing::ImageRelative => addr,
        }
    }
}

/// Where `struct module` keeps the addresses of a module's memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ModuleLayout {
    /// 6.4 and later: `struct module_memory mem[MOD_MEM_NUM_TYPES]`,
    /// indexed by `enum mod_mem_type`. `slots[i]` is the kind of `mem[i]`
    /// (`None` for an enumerator krash does not know).
    MemArray {
        slots: Vec<Option<RegionKind>>,
        /// True when the slot kinds came from the kernel's own
        /// `enum mod_mem_type`; false when the types lack it and the
        /// order of 6.4 through 7.2 was assumed.
        kinds_from_enum: bool,
    },
    /// 4.5 to 6.3: `struct module_layout core_layout, init_layout`.
    CoreAndInit,
    /// Before 4.5: the same two regions as members of `struct module`
    /// itself: `void *module_core` with `unsigned int core_size` (and
    /// `core_text_size`, `core_ro_size` within it), `void *module_init`
    /// with `init_size`.
    ModuleCore,
}

/// The enumerators of `enum mod_mem_type` krash knows, with their kinds.
/// The same seven, in this order, from 6.4 through 7.2.
const MOD_MEM_TYPES: [(&str, RegionKind); 7] = [
    ("MOD_TEXT", RegionKind::Text),
    ("MOD_DATA", RegionKind::Data),
    ("MOD_RODATA", RegionKind::Rodata),
    ("MOD_RO_AFTER_INIT", RegionKind::RoAfterInit),
    ("MOD_INIT_TEXT", RegionKind::InitText),
    ("MOD_INIT_DATA", RegionKind::InitData),
    ("MOD_INIT_RODATA", RegionKind::InitRodata),
];

/// Most `mem[]` slots accepted (the kernel has 7).
const MAX_MOD_MEM_SLOTS: u64 = 64;

impl ModuleLayout {
    /// Tells the layouts apart by the members `struct module` has; the
    /// `mem[]` slots' kinds come from `enum mod_mem_type`.
    pub fn probe(layouts: &Layouts) -> Result<ModuleLayout> {
        if layouts.has_field("module", "mem") {
            return Self::probe_mem_array(layouts);
        }
        if layouts.has_field("module", "core_layout") {
            return Ok(ModuleLayout::CoreAndInit);
        }
        if layouts.has_field("module", "module_core") {
            return Ok(ModuleLayout::ModuleCore);
        }
        Err(Error::MissingDebuginfo(
            "struct module has none of mem[] (6.4+), core_layout (4.5-6.3), module_core (before 4.5): \
             unknown module layout"
                .into(),
        ))
    }

    fn probe_mem_array(layouts: &Layouts) -> Result<ModuleLayout> {
        let field = layouts.field("module", "mem")?;
        let stride = layouts.size_of("module_memory")?;
        let len = match field.size {
            Some(total) if stride > 0 => total / stride,
            _ => MOD_MEM_TYPES.len() as u64,
        };
        if len == 0 || len > MAX_MOD_MEM_SLOTS {
            return Err(Error::bad_data("struct module", format!("mem[] has an implausible {len} slots")));
        }
        let enumerators = layouts.types().and_then(|t| {
            let id = t.find_type(TypeKind::Enum, "mod_mem_type").ok()?;
            match t.resolve(id).ok()?.1 {
                Type::Enum { variants, .. } => Some(variants),
                _ => None,
            }
        });
        let mut slots = vec![None; len as usize];
        let kinds_from_enum = enumerators.is_some();
        match enumerators {
            Some(variants) => {
                for v in variants {
                    let kind = MOD_MEM_TYPES.iter().find(|(n, _)| *n == v.name).map(|(_, k)| *k);
                    if let (Some(kind), Ok(i)) = (kind, usize::try_from(v.value)) {
                        if let Some(slot) = slots.get_mut(i) {
                            *slot = Some(kind);
                        }
                    }
                }
            }
            None => {
                for (slot, (_, kind)) in slots.iter_mut().zip(MOD_MEM_TYPES) {
                    *slot = Some(kind);
                }
            }
        }
        Ok(ModuleLayout::MemArray { slots, kinds_from_enum })
    }
}

/// Every probe's answer for one kernel, for tests and `sys`-like reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoreProbes {
    pub percpu: Option<PercpuAddressing>,
    pub modules: Option<ModuleLayout>,
}

struct CachedPercpu(Result<PercpuAddressing>);
struct CachedModuleLayout(Result<ModuleLayout>);

impl Kernel {
    /// How this kernel addresses per-cpu variables (probed once).
    pub fn percpu_addressing(&self) -> Result<PercpuAddressing> {
        self.session_cached(|| CachedPercpu(PercpuAddressing::probe(self.symbols()))).0.clone()
    }

    /// Where this kernel's `struct module` keeps module memory (probed once).
    pub fn module_layout(&self) -> Result<&ModuleLayout> {
        self.session_cached(|| CachedModuleLayout(ModuleLayout::probe(self.layouts()))).0.as_ref().map_err(Clone::clone)
    }

    /// The core probes' answers.
    pub fn core_probes(&self) -> CoreProbes {
        CoreProbes { percpu: self.percpu_addressing().ok(), modules: self.module_layout().ok().cloned() }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use krash_debuginfo::SymbolTableBuilder;

    use super::synthetic::{member, SyntheticTypes};
    use super::*;
    use crate::layout::TypeSource;

    fn table(entries: &[(&str, u64)], delta: u64) -> SymbolTable {
        let mut b = SymbolTableBuilder::new(None);
        for (name, addr) in entries {
            b.push(name, *addr, 0, 'D').unwrap();
        }
        b.build().with_offset(delta)
    }

    #[test]
    fn percpu_zero_based_section() {
        // 6.12's vmlinux: __per_cpu_start at 0, runqueues a small offset.
        let symbols = table(
            &[
                ("_text", 0xffff_ffff_8100_0000),
                ("_end", 0xffff_ffff_8400_0000),
                ("__per_cpu_start", 0),
                ("runqueues", 0x2f000),
            ],
            0x1c00_0000,
        );
        let p = PercpuAddressing::probe(&symbols).unwrap();
        assert_eq!(p, PercpuAddressing::ZeroBased);
        let rq = symbols.by_name("runqueues").unwrap();
        assert_eq!(p.symbol_base(rq.addr, &symbols), 0x2f000);
    }

    #[test]
    fn percpu_image_relative_section() {
        // 7.2's vmlinux: the section sits inside the image.
        let symbols = table(
            &[
                ("_text", 0xffff_ffff_8100_0000),
                ("_end", 0xffff_ffff_8423_0000),
                ("__per_cpu_start", 0xffff_ffff_83da_5000),
                ("runqueues", 0xffff_ffff_83dd_7100),
            ],
            0x1c00_0000,
        );
        let p = PercpuAddressing::probe(&symbols).unwrap();
        assert_eq!(p, PercpuAddressing::ImageRelative);
        let rq = symbols.by_name("runqueues").unwrap();
        assert_eq!(p.symbol_base(rq.addr, &symbols), 0xffff_ffff_83dd_7100 + 0x1c00_0000);
    }

    #[test]
    fn percpu_needs_a_marker() {
        assert!(PercpuAddressing::probe(&table(&[("_text", 0xffff_ffff_8100_0000)], 0)).is_err());
    }

    fn layouts(t: SyntheticTypes) -> Layouts {
        Layouts::new(Some(Arc::new(t)), TypeSource::Btf, None)
    }

    #[test]
    fn module_mem_array_kinds_come_from_the_enum() {
        let mut t = SyntheticTypes::new();
        let mm = t.structure(
            "module_memory",
            16,
            vec![member("base", SyntheticTypes::PTR, 0), member("size", SyntheticTypes::UINT, 8)],
        );
        let arr = t.array(mm, 3);
        t.structure("module", 64, vec![member("mem", arr, 0)]);
        // A made-up kernel whose enum puts data first.
        t.enumeration(
            "mod_mem_type",
            &[("MOD_DATA", 0), ("MOD_TEXT", 1), ("MOD_NEW_KIND", 2), ("MOD_MEM_NUM_TYPES", 3)],
        );
        let got = ModuleLayout::probe(&layouts(t)).unwrap();
        assert_eq!(
            got,
            ModuleLayout::MemArray {
                slots: vec![Some(RegionKind::Data), Some(RegionKind::Text), None],
                kinds_from_enum: true
            }
        );
    }

    #[test]
    fn module_mem_array_without_the_enum_assumes_the_6_4_order() {
        let mut t = SyntheticTypes::new();
        let mm = t.structure("module_memory", 16, vec![member("base", SyntheticTypes::PTR, 0)]);
        let arr = t.array(mm, 7);
        t.structure("module", 200, vec![member("mem", arr, 0)]);
        match ModuleLayout::probe(&layouts(t)).unwrap() {
            ModuleLayout::MemArray { slots, kinds_from_enum } => {
                assert!(!kinds_from_enum);
                assert_eq!(slots.first(), Some(&Some(RegionKind::Text)));
                assert_eq!(slots.get(6), Some(&Some(RegionKind::InitRodata)));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn module_core_layout_and_unknown() {
        let mut t = SyntheticTypes::new();
        let ml = t.structure("module_layout", 16, vec![member("base", SyntheticTypes::PTR, 0)]);
        t.structure("module", 64, vec![member("core_layout", ml, 0), member("init_layout", ml, 16)]);
        assert_eq!(ModuleLayout::probe(&layouts(t)).unwrap(), ModuleLayout::CoreAndInit);
        let mut t = SyntheticTypes::new();
        t.structure("module", 64, vec![member("name", SyntheticTypes::CHAR, 0)]);
        let e = ModuleLayout::probe(&layouts(t)).unwrap_err().to_string();
        assert!(e.contains("none of mem[]"), "{e}");
    }

    #[test]
    fn module_core_pointers_before_4_5() {
        // 4.4's struct module: the regions' pointers and sizes directly
        // in it (offsets as on x86-64 4.4, where module_init is
        // cacheline-aligned).
        let mut t = SyntheticTypes::new();
        t.structure(
            "module",
            640,
            vec![
                member("module_init", SyntheticTypes::PTR, 320),
                member("module_core", SyntheticTypes::PTR, 328),
                member("init_size", SyntheticTypes::UINT, 336),
                member("core_size", SyntheticTypes::UINT, 340),
                member("init_text_size", SyntheticTypes::UINT, 344),
                member("core_text_size", SyntheticTypes::UINT, 348),
            ],
        );
        assert_eq!(ModuleLayout::probe(&layouts(t)).unwrap(), ModuleLayout::ModuleCore);
        // VMCOREINFO alone does not describe struct module's regions (it
        // exports only list and name): no layout rather than a guess.
        let v = krash_dumpfile::VmcoreInfo::parse(b"OFFSET(module.list)=8\nOFFSET(module.name)=24\n");
        let e = ModuleLayout::probe(&Layouts::new(None, TypeSource::None, Some(v))).unwrap_err().to_string();
        assert!(e.contains("unknown module layout"), "{e}");
    }
}
