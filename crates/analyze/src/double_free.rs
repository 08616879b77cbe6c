//! A double free SLUB caught: its freelist hardening (`set_freepointer`'s
//! `BUG_ON(object == fp)`, CONFIG_SLAB_FREELIST_HARDENED) BUGs when an
//! object about to be pushed on a freelist is already its head: the same
//! object freed twice in a row. The object is in a register at the BUG;
//! the slab model says which cache it is in and that it is free; the
//! first frame past the allocator's free path freed it the second time.

use crate::{named_registers, AnalyzeHelpers, Report};
use krash_arch::RegisterFile;
use krash_linux::mm::slab::SlabExt;
use krash_program::Kernel;

/// Names in the allocator's free path (SLUB's `kmem_cache_free`, `kfree`,
/// `__slab_free`, `do_slab_free`, `set_freepointer`; `kvfree`; 7.x's
/// `free_to_pcs`): the frames before the code that called free.
const FREE_PATH_MARKERS: &[&str] = &["kfree", "kmem_cache_free", "slab_free", "set_freepointer", "kvfree", "free_to_"];

/// The function SLUB's double-free check is in.
const HARDENED_CHECK: &str = "set_freepointer";

/// An object freed twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoubleFree {
    pub object: u64,
    pub cache: String,
    pub cache_addr: u64,
    /// The registers holding it at the BUG.
    pub registers: Vec<String>,
    /// The function that freed it the second time.
    pub freed_by: Option<String>,
}

fn in_free_path(name: &str) -> bool {
    FREE_PATH_MARKERS.iter().any(|m| name.contains(m))
}

/// Crate-internal: the double free behind a BUG in the slab free path.
pub(crate) trait DoubleFreeInternal {
    /// `frames`: the panic task's frames from the fault on, innermost first.
    fn explain_double_free(&self, report: &mut Report, regs: &RegisterFile, frames: &[String]);
}

impl DoubleFreeInternal for Kernel {
    fn explain_double_free(&self, report: &mut Report, regs: &RegisterFile, frames: &[String]) {
        // The check itself, by DWARF's inline chain or the symbol (arm64's
        // gcc keeps set_freepointer out of line); without debuginfo, a BUG
        // in mm/slub.c inside the free path.
        let at_check = report.inline_chain.iter().any(|f| f.function == HARDENED_CHECK)
            || report.faulting_function.as_deref() == Some(HARDENED_CHECK);
        let slub_bug_in_free = report.headline.as_deref().is_some_and(|h| h.contains("mm/slub.c"))
            && report.faulting_function.as_deref().is_some_and(in_free_path);
        if !at_check && !slub_bug_in_free {
            return;
        }
        // Objects at their start that the slab model says are free: the
        // one being freed again (BUG_ON(object == fp): two registers hold it).
        let mut candidates: Vec<(u64, Vec<String>)> = Vec::new();
        for (name, value) in named_registers(regs) {
            match candidates.iter_mut().find(|(v, _)| *v == value) {
                Some((_, names)) => names.push(name.to_string()),
                None => candidates.push((value, vec![name.to_string()])),
            }
        }
        candidates.sort_by_key(|(_, names)| std::cmp::Reverse(names.len()));
        let found = candidates.into_iter().find_map(|(value, names)| {
            let object = self.slab_object(value).filter(|o| o.object_start == value && !o.allocated)?;
            Some((object, names))
        });
        let Some((object, registers)) = found else {
            report
                .finding(
                    "SLUB's freelist hardening found an object about to point to itself: a double free, but no \
                     register holds a free slab object to name",
                )
                .shown_by("bt");
            return;
        };
        let freed_by = frames.iter().find(|f| !in_free_path(f) && !crate::is_plumbing(f)).cloned();
        let regs_text: Vec<String> = registers.iter().map(|r| format!("%{r}")).collect();
        let finding = report
            .lead_finding(format!(
                "double free: object {:#x} of cache {} ({}) is already free, at the head of the freelist it was \
                 being pushed onto again (SLUB's check BUG_ON(object == fp)){}",
                object.object_start,
                object.cache_name,
                regs_text.join(", "),
                freed_by.as_ref().map(|f| format!("; {f} freed it the second time")).unwrap_or_default()
            ))
            .shown_by(format!("kmem {:#x}", object.object_start))
            .shown_by("bt")
            .at(object.object_start);
        if let Some(f) = &freed_by {
            finding.shown_by(format!("dis -l {f}"));
            report.module = self.lookup_symbol(f).and_then(|sym| sym.module);
            if let Some(m) = report.module.clone() {
                self.note_module(report, &m);
            }
            report.faulting_function = Some(f.clone());
        }
        report.double_free = Some(DoubleFree {
            object: object.object_start,
            cache: object.cache_name,
            cache_addr: object.cache,
            registers,
            freed_by,
        });
    }
}
