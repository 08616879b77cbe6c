//! Interrupt descriptors: each IRQ's `struct irq_desc`, its handlers
//! (`irqaction` chain), chip and per-CPU counts.

use std::collections::BTreeMap;

use krash_core::{Error, Result, VirtualMemory};
use serde::Serialize;

use krash_program::xarray::{self, XaLayout};
use krash_program::Kernel;

/// IRQ numbers accepted (`nr_irqs` is sanity-checked against it).
const MAX_IRQS: u64 = 1 << 20;
/// Handlers followed on one shared IRQ.
const MAX_ACTIONS: usize = 256;
/// Longest handler or chip name read.
const MAX_NAME: usize = 256;

/// One handler on an IRQ.
#[derive(Debug, Clone, Serialize)]
pub struct IrqAction {
    pub action: u64,
    pub name: String,
}

/// One IRQ number.
#[derive(Debug, Clone, Serialize)]
pub struct IrqDesc {
    pub irq: u64,
    /// Address of the `irq_desc`, `None` when the IRQ has none.
    pub desc: Option<u64>,
    pub actions: Vec<IrqAction>,
    /// `irq_data.chip->name`.
    pub chip: String,
    /// `desc->name`: the flow handler's name ("edge", "fasteoi").
    pub flow: String,
    /// Count per online CPU, in CPU order.
    pub counts: Vec<u32>,
    /// CPUs the IRQ may be delivered to (`irq_common_data.affinity`), ascending.
    pub affinity: Vec<u32>,
}

/// One softirq vector's handler (`softirq_vec[n].action`).
#[derive(Debug, Clone, Serialize)]
pub struct SoftirqVector {
    pub vector: u64,
    pub action: u64,
    pub action_name: Option<String>,
}

/// Every IRQ number up to `nr_irqs`.
#[derive(Debug, Clone, Serialize)]
pub struct IrqTable {
    pub cpus: Vec<u32>,
    pub irqs: Vec<IrqDesc>,
    pub problems: Vec<String>,
}

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait IrqExt {
    /// The IRQ descriptors `0..nr_irqs` with handlers and per-CPU counts.
    fn irqs(&self) -> Result<IrqTable>;
    /// The softirq handlers, by vector (unset vectors left out).
    fn softirq_vectors(&self) -> Result<Vec<SoftirqVector>>;
}

impl IrqExt for Kernel {
    fn irqs(&self) -> Result<IrqTable> {
        let mem: &dyn VirtualMemory = self.memory();
        // 7.x renamed the count (`total_nr_irqs`, read by irq_get_nr_irqs()).
        let count = self.symbol_addr("nr_irqs").or_else(|_| self.symbol_addr("total_nr_irqs"))?;
        let nr = u64::from(mem.read_u32(count)?);
        if nr > MAX_IRQS {
            return Err(Error::bad_data("nr_irqs", format!("{nr} IRQs is not plausible")));
        }
        let descs = self.irq_desc_map(nr)?;
        let cpus = self.online_cpus()?;
        let mut problems = Vec::new();
        let mut irqs = Vec::new();
        for irq in 0..nr {
            let Some(&desc) = descs.get(&irq) else {
                irqs.push(IrqDesc {
                    irq,
                    desc: None,
                    actions: Vec::new(),
                    chip: String::new(),
                    flow: String::new(),
                    counts: Vec::new(),
                    affinity: Vec::new(),
                });
                continue;
            };
            match self.irq_desc(irq, desc, &cpus) {
                Ok(d) => irqs.push(d),
                Err(e) => problems.push(format!("IRQ {irq}: irq_desc {desc:x}: {e}")),
            }
        }
        Ok(IrqTable { cpus, irqs, problems })
    }

    fn softirq_vectors(&self) -> Result<Vec<SoftirqVector>> {
        let mem: &dyn VirtualMemory = self.memory();
        let base = self.symbol_addr("softirq_vec")?;
        let size = self.layouts().size_of("softirq_action").unwrap_or(8).max(8);
        let count =
            self.symbols().by_name("softirq_vec").map(|s| s.size / size).filter(|&n| n > 0).unwrap_or(10).min(64);
        let mut out = Vec::new();
        for vector in 0..count {
            let action = mem.read_u64(base.wrapping_add(vector.wrapping_mul(size)))?;
            if action != 0 {
                let action_name = self.symbolize(action).map(|s| s.name);
                out.push(SoftirqVector { vector, action, action_name });
            }
        }
        Ok(out)
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait IrqHelpers {
    /// IRQ number -> `irq_desc` address, from the sparse-IRQ radix tree.
    fn irq_desc_map(&self, nr: u64) -> Result<BTreeMap<u64, u64>>;
    fn irq_desc(&self, irq: u64, desc: u64, cpus: &[u32]) -> Result<IrqDesc>;
    /// The CPUs in an IRQ's affinity mask. With `CONFIG_CPUMASK_OFFSTACK` the
    /// member is a pointer to the mask (8 bytes); otherwise the mask itself.
    fn irq_affinity(&self, desc: u64) -> Result<Vec<u32>>;
}

impl IrqHelpers for Kernel {
    fn irq_desc_map(&self, nr: u64) -> Result<BTreeMap<u64, u64>> {
        let mem: &dyn VirtualMemory = self.memory();
        let l = self.layouts();
        if let Ok(tree) = self.symbol_addr("irq_desc_tree") {
            let head = mem.read_u64(tree.wrapping_add(l.offset("xarray", "xa_head").unwrap_or(8)))?;
            let layout = XaLayout::of(l)?;
            let walk = xarray::walk(mem, head, layout, nr as usize);
            if let Some(b) = walk.broken {
                return Err(Error::bad_data("irq_desc_tree", b));
            }
            return Ok(walk
                .entries
                .into_iter()
                .filter(|e| e.index < nr && e.value != 0)
                .map(|e| (e.index, e.value))
                .collect());
        }
        if let Ok(tree) = self.symbol_addr("sparse_irqs") {
            // 6.5 on: a maple tree indexed by IRQ number.
            let root = mem.read_u64(tree.wrapping_add(l.offset("maple_tree", "ma_root").unwrap_or(8)))?;
            let walk = krash_program::maple::walk(mem, root, nr as usize);
            if let Some(b) = walk.broken {
                return Err(Error::bad_data("sparse_irqs (IRQ descriptor maple tree)", b));
            }
            let mut map = BTreeMap::new();
            for e in walk.entries.into_iter().filter(|e| e.value != 0) {
                // Each slot covers one IRQ; a range entry would repeat its descriptor.
                for irq in e.first..=e.last.min(nr.saturating_sub(1)) {
                    map.insert(irq, e.value);
                }
            }
            return Ok(map);
        }
        // Without CONFIG_SPARSE_IRQ: a static array `irq_desc[NR_IRQS]`.
        let base = self.symbol_addr("irq_desc")?;
        let size = l.size_of("irq_desc")?;
        Ok((0..nr).map(|i| (i, base.wrapping_add(i.wrapping_mul(size)))).collect())
    }

    fn irq_desc(&self, irq: u64, desc: u64, cpus: &[u32]) -> Result<IrqDesc> {
        let mem: &dyn VirtualMemory = self.memory();
        let mut actions = Vec::new();
        let mut action = self.read_field_u64(desc, "irq_desc", "action")?;
        while action != 0 && actions.len() < MAX_ACTIONS {
            let name_ptr = self.read_field_u64(action, "irqaction", "name")?;
            let name = if name_ptr == 0 { String::new() } else { mem.read_cstr(name_ptr, MAX_NAME)? };
            actions.push(IrqAction { action, name });
            action = self.read_field_u64(action, "irqaction", "next")?;
        }
        let chip_ptr = self.read_field_u64(desc, "irq_desc", "irq_data.chip")?;
        let chip = match chip_ptr {
            0 => String::new(),
            p => {
                let name = self.read_field_u64(p, "irq_chip", "name")?;
                if name == 0 {
                    String::new()
                } else {
                    mem.read_cstr(name, MAX_NAME)?
                }
            }
        };
        let flow_ptr = self.read_field_u64(desc, "irq_desc", "name")?;
        let flow = if flow_ptr == 0 { String::new() } else { mem.read_cstr(flow_ptr, MAX_NAME)? };
        let per_cpu = self.read_field_u64(desc, "irq_desc", "kstat_irqs")?;
        let mut counts = Vec::new();
        for &cpu in cpus {
            counts.push(match per_cpu {
                0 => 0,
                p => mem.read_u32(p.wrapping_add(self.percpu_offset(cpu)?))?,
            });
        }
        let affinity = if actions.is_empty() { Vec::new() } else { self.irq_affinity(desc)? };
        Ok(IrqDesc { irq, desc: Some(desc), actions, chip, flow, counts, affinity })
    }

    fn irq_affinity(&self, desc: u64) -> Result<Vec<u32>> {
        let l = self.layouts();
        let (struct_name, path) = if l.has_field("irq_desc", "irq_common_data.affinity") {
            ("irq_desc", "irq_common_data.affinity")
        } else {
            ("irq_desc", "irq_data.affinity")
        };
        let field = l.field(struct_name, path)?;
        let member = desc.wrapping_add(field.offset);
        // `cpumask_var_t` points to the mask with CPUMASK_OFFSTACK and is
        // the mask itself without; the type says which (a mask of at most
        // 64 CPUs is 8 bytes too). Without types, a pointer-sized member
        // is taken for the pointer.
        let is_pointer = match l.member_type(struct_name, path) {
            Some(ty) => matches!(ty, krash_debuginfo::types::Type::Pointer { .. }),
            None => field.size == Some(8),
        };
        let mask = if is_pointer { self.memory().read_u64(member)? } else { member };
        if mask == 0 {
            return Ok(Vec::new());
        }
        let cpus = self.nr_cpu_ids()?;
        let words = self.memory().read_vec(mask, (cpus as usize).div_ceil(64).saturating_mul(8))?;
        Ok((0..cpus).filter(|&cpu| words.get((cpu / 8) as usize).is_some_and(|b| b >> (cpu % 8) & 1 == 1)).collect())
    }
}
