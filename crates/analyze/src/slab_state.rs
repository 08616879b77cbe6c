//! The slab freelist state of the cache a fault in the allocator involved:
//! which cache, the faulting CPU's lockless freelist head, and the first
//! bad freelist pointer with what its bytes look like (the slab model's
//! classification: UTF-16 or ASCII text, poison, non-canonical).

use krash_arch::RegisterFile;
use krash_linux::mm::slab::freelist::FreelistExt;
use krash_linux::mm::slab::SlabExt;

use crate::{named_registers, Report};
use krash_linux::mm::slab::looks::ValueLooks;
use krash_linux::mm::slab::{FreelistOwner, FreelistProblem, SlabCache};
use krash_program::Kernel;

/// Function and inline names that mean the fault is in the slab allocator.
const ALLOCATOR_MARKERS: &[&str] =
    &["kmem_cache_alloc", "kmalloc", "slab_alloc", "get_freepointer", "freelist", "kmem_cache_free", "slab_free"];

/// A slab cache's freelist state on the faulting CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlabState {
    pub cache: String,
    pub cache_addr: u64,
    pub cpu: u32,
    pub kmem_cache_cpu: u64,
    /// `kmem_cache_cpu.freelist`, the next object the CPU hands out.
    pub freelist: u64,
    /// The cpu slab (`struct slab`), 0 when none.
    pub slab: u64,
    /// The first bad freelist pointer, as the slab model found it.
    pub problem: Option<FreelistProblem>,
    /// The free object whose stored free pointer decoded into the bad one.
    pub source_object: Option<u64>,
    /// The bytes stored where the bad pointer came from.
    pub raw_value: Option<u64>,
    /// `utf16`, `ascii`, `slab_poison`, `list_poison`, `non_canonical`,
    /// `kernel_address`, `null` or `other`.
    pub corrupt_value_kind: Option<String>,
    /// The text the bad value (or its object) holds, when it is text.
    pub corrupt_text: Option<String>,
}

impl SlabState {
    /// The state of one freelist head, before any problem is described.
    fn new(cache: &SlabCache, cpu: u32, kmem_cache_cpu: u64, freelist: u64, slab: u64) -> SlabState {
        SlabState {
            cache: cache.name.clone(),
            cache_addr: cache.addr,
            cpu,
            kmem_cache_cpu,
            freelist,
            slab,
            problem: None,
            source_object: None,
            raw_value: None,
            corrupt_value_kind: None,
            corrupt_text: None,
        }
    }
}

/// The short name of a classification, as `--json` gives it.
fn looks_kind(l: &ValueLooks) -> &'static str {
    match l {
        ValueLooks::Null => "null",
        ValueLooks::Utf16Text(_) => "utf16",
        ValueLooks::AsciiText(_) => "ascii",
        ValueLooks::SlabPoison(_) => "slab_poison",
        ValueLooks::ListPoison(_) => "list_poison",
        ValueLooks::NonCanonical => "non_canonical",
        ValueLooks::KernelAddress => "kernel_address",
        ValueLooks::Other => "other",
    }
}

/// Crate-internal helpers of this module's extension of [`Kernel`].
pub(crate) trait SlabStateInternal {
    fn explain_slab(&self, report: &mut Report, regs: &RegisterFile);
}

impl SlabStateInternal for Kernel {
    fn explain_slab(&self, report: &mut Report, regs: &RegisterFile) {
        let in_allocator = report
            .faulting_function
            .iter()
            .chain(report.inline_chain.iter().map(|f| &f.function))
            .any(|f| ALLOCATOR_MARKERS.iter().any(|m| f.contains(m)));
        if !in_allocator {
            return;
        }
        let Some(cpu) = report.cpu else { return };
        let from_registers = named_registers(regs).iter().find_map(|(_, v)| self.slab_cache_at(*v).cloned());
        let cache = match from_registers {
            Some(c) => Some(c),
            None => self.slab_caches().ok().and_then(|caches| {
                caches.iter().find(|c| self.cpu_freelist_problem(c, cpu).is_some_and(|s| s.problem.is_some())).cloned()
            }),
        };
        // The faulting CPU's freelist first; else (7.x sheaves have no cpu
        // slab, or the bad head sits on a partial slab) any freelist of the
        // cache that the slab model finds corrupt.
        let Some(state) = cache.and_then(|c| {
            let on_cpu = self.cpu_freelist_problem(&c, cpu);
            match on_cpu {
                Some(s) if s.problem.is_some() => Some(s),
                other => self.cache_freelist_problem(&c, cpu).or(other),
            }
        }) else {
            return;
        };
        let head = if state.kmem_cache_cpu != 0 {
            format!("CPU {cpu}'s freelist head")
        } else {
            format!("the freelist head of slab {:#x}", state.slab)
        };
        let mut sentence = format!("slab cache {}: {head} is {:#018x}", state.cache, state.freelist);
        if let Some(p) = &state.problem {
            sentence.push_str(&format!(", {}", p.reason));
        }
        if let Some(src) = state.source_object {
            sentence.push_str(&format!("; it was decoded from the free pointer of object {src:#x}"));
        }
        if let (Some(raw), Some(kind)) = (state.raw_value, &state.corrupt_value_kind) {
            sentence.push_str(&format!(", which holds {raw:#018x} ({kind})"));
        }
        let mut finding = report
            .finding(sentence)
            .shown_by(format!("kmem -s {}", state.cache))
            .shown_by(format!("kmem -S {}", state.cache))
            .at(state.cache_addr);
        if state.kmem_cache_cpu != 0 {
            finding = finding.at(state.kmem_cache_cpu);
        } else {
            finding = finding.at(state.slab);
        }
        if let Some(src) = state.source_object {
            finding.shown_by(format!("kmem {src:#x}")).at(src);
        }
        if let (Some(kind), Some(text)) = (&state.corrupt_value_kind, &state.corrupt_text) {
            let finding = report
                .finding(format!("freed objects of {} hold {kind} text {text:?}: a use-after-free writer", state.cache))
                .shown_by(format!("kmem -S {}", state.cache));
            if let Some(src) = state.source_object {
                finding.shown_by(format!("kmem {src:#x}")).at(src);
            }
        }
        report.slab = Some(state);
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait SlabStateHelpers {
    /// `cache`'s freelist state on `cpu`, with the first problem of its cpu slab.
    fn cpu_freelist_problem(&self, cache: &SlabCache, cpu: u32) -> Option<SlabState>;
    /// The first freelist problem anywhere in `cache` (CPU or partial slabs).
    fn cache_freelist_problem(&self, cache: &SlabCache, cpu: u32) -> Option<SlabState>;
}

impl SlabStateHelpers for Kernel {
    fn cpu_freelist_problem(&self, cache: &SlabCache, cpu: u32) -> Option<SlabState> {
        let c = self.cache_cpu_slabs(cache).ok()?.into_iter().find(|c| c.cpu == cpu)?;
        let mut state = SlabState::new(cache, cpu, c.kmem_cache_cpu, c.freelist, c.slab);
        if c.slab == 0 {
            return Some(state);
        }
        let slab = self.read_slab(c.slab, cache.addr).ok()?;
        let contents = self.slab_contents(cache, &slab).ok()?;
        let problem = contents
            .problems
            .iter()
            .find(|p| matches!(p.owner, FreelistOwner::Cpu { cpu: on, .. } if on == cpu))
            .or(contents.problems.first())?;
        describe_problem(&mut state, problem);
        Some(state)
    }

    fn cache_freelist_problem(&self, cache: &SlabCache, cpu: u32) -> Option<SlabState> {
        let totals = self.cache_totals(cache).ok()?;
        let problem = totals.problems.first()?;
        let kmem_cache_cpu = match problem.owner {
            FreelistOwner::Cpu { kmem_cache_cpu, .. } => kmem_cache_cpu,
            FreelistOwner::Slab => 0,
        };
        let mut state = SlabState::new(cache, cpu, kmem_cache_cpu, problem.decoded, problem.slab);
        describe_problem(&mut state, problem);
        Some(state)
    }
}

/// Fills `state` with what the slab model says of `problem`.
fn describe_problem(state: &mut SlabState, problem: &FreelistProblem) {
    state.problem = Some(problem.clone());
    state.source_object = problem.source_object;
    state.raw_value = Some(problem.raw);
    state.corrupt_value_kind = Some(looks_kind(&problem.looks_like).to_string());
    state.corrupt_text = match &problem.looks_like {
        ValueLooks::Utf16Text(t) | ValueLooks::AsciiText(t) => {
            Some(problem.object_text.clone().unwrap_or_else(|| t.clone()))
        }
        _ => problem.object_text.clone(),
    };
}
