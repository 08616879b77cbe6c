//! The kernel's VM counters (`vm_zone_stat`, `vm_node_stat`, per-zone
//! `vm_stat`, per-CPU `vm_event_states`), named by their enums
//! (`zone_stat_item`, `node_stat_item`, `vm_event_item`) so each kernel's
//! own numbering is used.

use krash_core::{Error, Result, VirtualMemory};
use krash_debuginfo::types::{Type, TypeKind, TypeOps};
use serde::Serialize;

use crate::mm::zone::Zone;
use krash_program::Kernel;

/// Most counters accepted in one enum.
const MAX_ITEMS: u64 = 4096;

/// One named counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Counter {
    pub name: String,
    pub value: i64,
}

/// The global counters `kmem -V` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VmStats {
    pub zone: Vec<Counter>,
    pub node: Vec<Counter>,
    /// The global NUMA counters `vm_numa_stat` (up to 5.13; later kernels
    /// count NUMA events per CPU and crash shows none): empty where absent.
    pub numa: Vec<Counter>,
    /// Per-CPU event counts summed over the online CPUs.
    pub events: Vec<Counter>,
}

impl VmStats {
    /// A counter by name, searched in zone, node then event counters.
    pub fn get(&self, name: &str) -> Option<i64> {
        self.zone
            .iter()
            .chain(&self.node)
            .chain(&self.numa)
            .chain(&self.events)
            .find(|c| c.name == name)
            .map(|c| c.value)
    }
}

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait VmstatExt {
    /// The names of `enum name` indexed by value, up to the enumerator
    /// `count` (e.g. `NR_VM_ZONE_STAT_ITEMS`). An alias defined after the
    /// name it repeats wins (`NR_ZONE_INACTIVE_ANON = NR_ZONE_LRU_BASE`):
    /// the later name is the counter's own.
    fn enum_names(&self, name: &str, count: &str) -> Result<Vec<String>>;
    /// The global zone and node counters and the summed VM events.
    fn vm_stats(&self) -> Result<VmStats>;
    /// `vm_event_states.event[]` summed over the online CPUs.
    fn vm_events(&self) -> Result<Vec<Counter>>;
    /// A zone's own `vm_stat[]` counters.
    fn zone_vm_stat(&self, zone: &Zone) -> Result<Vec<Counter>>;
}

impl VmstatExt for Kernel {
    fn enum_names(&self, name: &str, count: &str) -> Result<Vec<String>> {
        let types =
            self.types().ok_or_else(|| Error::MissingDebuginfo(format!("enum {name} needs type information")))?;
        let id = types.find_type(TypeKind::Enum, name)?;
        let Type::Enum { variants, .. } = types.type_by_id(id)? else {
            return Err(Error::bad_data(format!("enum {name}"), "not an enum"));
        };
        let n = variants
            .iter()
            .find(|v| v.name == count)
            .and_then(|v| u64::try_from(v.value).ok())
            .filter(|&n| n <= MAX_ITEMS)
            .ok_or_else(|| Error::bad_data(format!("enum {name}"), format!("no plausible {count}")))?;
        let mut names = vec![String::new(); n as usize];
        for v in &variants {
            if let Some(slot) = usize::try_from(v.value).ok().and_then(|i| names.get_mut(i)) {
                slot.clone_from(&v.name);
            }
        }
        Ok(names)
    }

    fn vm_stats(&self) -> Result<VmStats> {
        let zone = self.read_counters(
            self.symbol_addr("vm_zone_stat")?,
            self.enum_names("zone_stat_item", "NR_VM_ZONE_STAT_ITEMS")?,
        )?;
        let node = self.read_counters(
            self.symbol_addr("vm_node_stat")?,
            self.enum_names("node_stat_item", "NR_VM_NODE_STAT_ITEMS")?,
        )?;
        let numa = match self.symbol_addr("vm_numa_stat") {
            Ok(addr) => self.read_counters(addr, self.enum_names("numa_stat_item", "NR_VM_NUMA_STAT_ITEMS")?)?,
            Err(_) => Vec::new(),
        };
        Ok(VmStats { zone, node, numa, events: self.vm_events().unwrap_or_default() })
    }

    fn vm_events(&self) -> Result<Vec<Counter>> {
        let names = self.enum_names("vm_event_item", "NR_VM_EVENT_ITEMS")?;
        let mut sums = vec![0u64; names.len()];
        let mut buf = vec![0u8; names.len() * 8];
        for cpu in self.online_cpus()? {
            self.memory().read_virt(self.percpu_addr("vm_event_states", cpu)?, &mut buf)?;
            for (sum, b) in sums.iter_mut().zip(buf.chunks_exact(8)) {
                *sum = sum.wrapping_add(u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
            }
        }
        Ok(names.into_iter().zip(sums).map(|(name, v)| Counter { name, value: v as i64 }).collect())
    }

    fn zone_vm_stat(&self, zone: &Zone) -> Result<Vec<Counter>> {
        self.read_counters(
            self.field_addr(zone.addr, "zone", "vm_stat")?,
            self.enum_names("zone_stat_item", "NR_VM_ZONE_STAT_ITEMS")?,
        )
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait VmstatHelpers {
    /// `atomic_long_t` counters at `addr`, one per name.
    fn read_counters(&self, addr: u64, names: Vec<String>) -> Result<Vec<Counter>>;
}

impl VmstatHelpers for Kernel {
    fn read_counters(&self, addr: u64, names: Vec<String>) -> Result<Vec<Counter>> {
        let mut buf = vec![0u8; names.len() * 8];
        self.memory().read_virt(addr, &mut buf)?;
        Ok(names
            .into_iter()
            .zip(buf.chunks_exact(8))
            .map(|(name, b)| Counter { name, value: i64::from_le_bytes(b.try_into().unwrap_or([0; 8])) })
            .collect())
    }
}
