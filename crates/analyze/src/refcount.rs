//! A `refcount_t` that saturated: the kernel's refcount checks warn
//! ("refcount_t: underflow; use-after-free.") from `refcount_warn_saturate`,
//! which first sets the count to `REFCOUNT_SATURATED` so that the object
//! leaks instead of being freed twice. With `panic_on_warn` that warning is
//! the crash. The report finds the count the way an engineer would: the
//! saturated value marks it in memory, and a register or the caller's
//! argument points at it or at the object around it; the slab model then
//! says which object (and whether it is already free), and the caller's
//! DWARF types name the struct and member.

use krash_arch::RegisterFile;
use krash_core::VirtualMemory;
use krash_eval::frame_vars::{FrameVarsExt, VariableState};
use krash_linux::mm::slab::SlabExt;
use krash_linux::sched::backtrace::TaskBacktrace;
use krash_program::Kernel;

use crate::{is_plumbing, named_registers, ops_table, AnalyzeHelpers, Report};

/// The value `refcount_warn_saturate` leaves in the count (`INT_MIN / 2`).
const REFCOUNT_SATURATED: u32 = 0xc000_0000;
/// How far into an object a pointer's window for the count reaches.
const MAX_OBJECT_SCAN: u64 = 4096;
/// The newest entries of a per-CPU array or sheaf looked into.
const MAX_CACHED_HEADS: usize = 4;
/// The partial slabs at each end of a node's list whose freelist heads are looked into.
const MAX_PARTIAL_HEADS: usize = 4;

/// A saturated reference count and the object it counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefcountError {
    /// What went wrong, in the kernel's words made a name: `underflow`,
    /// `addition_on_0`, `saturated`, `decrement_hit_0`.
    pub saturation: String,
    /// The kernel's message after `refcount_t: `.
    pub message: String,
    /// The function that took or dropped the reference.
    pub caller: Option<String>,
    /// The `refcount_t`'s address.
    pub address: Option<u64>,
    /// Where its address was found (`%rbx + 0x8`, `c (krash_client_put's argument) + 0x8`).
    pub found_through: Option<String>,
    pub object: Option<u64>,
    pub cache: Option<String>,
    /// The object is free in its slab: the reference was dropped after the last put freed it.
    pub object_free: Option<bool>,
    pub struct_name: Option<String>,
    pub member: Option<String>,
    /// The count's offset in its object.
    pub offset: Option<u64>,
}

/// The saturation's name from the kernel's message ("underflow; use-after-free.").
pub fn saturation_name(message: &str) -> String {
    message.split(';').next().unwrap_or(message).trim().trim_end_matches('.').replace(' ', "_")
}

/// Crate-internal: explains a refcount warning.
pub(crate) trait RefcountInternal {
    /// `frames_after`: the function names from the warning's frame on.
    fn explain_refcount(
        &self,
        report: &mut Report,
        regs: &RegisterFile,
        log_bodies: &[&str],
        trace: Option<&TaskBacktrace>,
        frames_after: &[String],
    );
}

impl RefcountInternal for Kernel {
    fn explain_refcount(
        &self,
        report: &mut Report,
        regs: &RegisterFile,
        log_bodies: &[&str],
        trace: Option<&TaskBacktrace>,
        frames_after: &[String],
    ) {
        let message = log_bodies
            .iter()
            .rev()
            .find_map(|b| b.strip_prefix("refcount_t: "))
            .map(str::to_string)
            .unwrap_or_else(|| "saturated".into());
        let caller = frames_after
            .iter()
            .find(|n| {
                !is_plumbing(n)
                    && !n.starts_with("refcount_")
                    && !n.starts_with("__refcount_")
                    && !n.starts_with("kref_")
                    && !n.starts_with("__warn")
            })
            .cloned();
        let mut error = RefcountError {
            saturation: saturation_name(&message),
            message: message.clone(),
            caller: caller.clone(),
            address: None,
            found_through: None,
            object: None,
            cache: None,
            object_free: None,
            struct_name: None,
            member: None,
            offset: None,
        };
        // Pointers to look through: the warning's registers, then the
        // caller's arguments and locals DWARF can place.
        let mut pointers: Vec<(String, u64, Option<String>)> =
            named_registers(regs).into_iter().map(|(name, value)| (format!("%{name}"), value, None)).collect();
        let caller_frame = caller
            .as_ref()
            .and_then(|c| trace?.trace.frames().find(|f| f.symbol.as_ref().is_some_and(|s| &s.name == c)).cloned());
        if let Some(frame) = &caller_frame {
            let vars = self.frame_variables(frame);
            for v in vars.parameters.iter().chain(vars.locals.iter()) {
                if let VariableState::Known { bits: Some(b), .. } = &v.state {
                    if v.type_name.ends_with('*') {
                        pointers.push((v.name.clone(), *b, Some(v.type_name.clone())));
                    }
                }
            }
        }
        let found = pointers.iter().find_map(|(name, p, ty)| {
            // The pointer is the count itself, or points into an object that holds it.
            if self.memory().read_u32(*p).ok() == Some(REFCOUNT_SATURATED) {
                return Some((name.clone(), *p, 0u64, ty.clone()));
            }
            let object = self.slab_object(*p)?;
            let cache = self.slab_cache_at(object.cache)?;
            let end = object.object_start.checked_add(u64::from(cache.object_size).min(MAX_OBJECT_SCAN))?;
            let mut at = *p;
            while at.checked_add(4).is_some_and(|next| next <= end) {
                if self.memory().read_u32(at).ok() == Some(REFCOUNT_SATURATED) {
                    return Some((name.clone(), at, at.saturating_sub(*p), ty.clone()));
                }
                at += 4;
            }
            None
        });
        // Nothing live points at it (the pointer was only in registers the
        // warning's printk reused): an underflow's object was usually just
        // freed, so it heads this CPU's free list (or its array or sheaf).
        let found = found.or_else(|| {
            self.recently_freed_count(report.cpu)
                .map(|(cache, address)| (format!("the object of {cache} this CPU freed last"), address, 0, None))
        });
        if let Some((name, address, delta, pointer_type)) = found {
            error.address = Some(address);
            error.found_through = Some(if delta == 0 { name.clone() } else { format!("{name} + {delta:#x}") });
            if let Some(object) = self.slab_object(address) {
                let offset = address.saturating_sub(object.object_start);
                error.object = Some(object.object_start);
                error.cache = Some(object.cache_name.clone());
                error.object_free = Some(!object.allocated);
                error.offset = Some(offset);
                // The struct: the caller's pointer's type, else the one the cache is named for.
                let from_type = pointer_type.as_deref().and_then(ops_table::pointee_struct).map(str::to_string);
                let module = caller.as_deref().and_then(|c| self.lookup_symbol(c)).and_then(|s| s.module);
                for candidate in from_type.into_iter().chain(std::iter::once(object.cache_name.clone())) {
                    if let Some(member) = self.member_at(&candidate, offset, module.as_deref()) {
                        // refcount_t is struct { atomic_t refs; }, atomic_t
                        // struct { int counter; }: the member is the refcount_t.
                        let member = member.strip_suffix(".refs.counter").unwrap_or(&member).to_string();
                        error.struct_name = Some(candidate);
                        error.member = Some(member);
                        break;
                    }
                }
            }
        }
        let who = caller.as_deref().unwrap_or("its caller");
        let what = match (&error.struct_name, &error.member) {
            (Some(s), Some(m)) => format!("{s}.{m}"),
            _ => "a refcount_t".to_string(),
        };
        let place = match (error.address, &error.cache, error.object) {
            (Some(a), Some(cache), Some(o)) => {
                let state = if error.object_free == Some(true) {
                    ", which is already free: the last reference was dropped before this one"
                } else {
                    ""
                };
                format!(" at {a:#x} (offset {:#x} of object {o:#x} of slab cache {cache}{state})", a.saturating_sub(o))
            }
            (Some(a), _, _) => format!(" at {a:#x}"),
            _ => String::new(),
        };
        let sentence = match error.saturation.as_str() {
            "underflow" => format!(
                "refcount underflow: {who} dropped a reference to {what}{place} that it did not hold (a put \
                 without a get, or one put too many); the kernel saturated the count instead of freeing again"
            ),
            "addition_on_0" => format!(
                "refcount taken from 0: {who} took a reference to {what}{place} after its last one was dropped \
                 (a use after free)"
            ),
            "decrement_hit_0" => format!(
                "refcount leak: {who} dropped the last reference to {what}{place} with refcount_dec(), which \
                 never frees"
            ),
            _ => format!("refcount_t saturated ({message}): {who}, {what}{place}"),
        };
        let mut f = report.lead_finding(sentence).shown_by("bt").shown_by("log | grep refcount_t");
        if let Some(a) = error.address {
            f = f.shown_by(format!("rd -32 {a:#x} 1")).at(a);
        }
        if let Some(o) = error.object {
            f = f.shown_by(format!("kmem {o:#x}")).at(o);
        }
        if let Some(s) = &error.struct_name {
            f.shown_by(format!("struct {s} -o"));
        }
        if let Some(c) = &caller {
            report.faulting_function = Some(c.clone());
            if let Some(m) = self.lookup_symbol(c).and_then(|s| s.module) {
                report.module = Some(m.clone());
                self.note_module(report, &m);
            }
        }
        report.refcount = Some(error);
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait RefcountHelpers {
    /// The saturated count in an object a CPU freed last: the head of each
    /// cache's per-CPU free list (SLUB), the newest entry of its per-CPU
    /// array or sheaf (SLAB, 7.x), or the freelist head of a partial slab. Returns the cache's name and the count's address.
    fn recently_freed_count(&self, cpu: Option<u32>) -> Option<(String, u64)>;
    /// The address of a `REFCOUNT_SATURATED` word in the object at `object`.
    fn saturated_word_in(&self, object: u64, size: u32) -> Option<u64>;
}

impl RefcountHelpers for Kernel {
    fn recently_freed_count(&self, cpu: Option<u32>) -> Option<(String, u64)> {
        let caches = self.slab_caches().ok()?;
        for cache in caches {
            let mut heads: Vec<u64> = self
                .cache_cpu_slabs(cache)
                .unwrap_or_default()
                .iter()
                .filter(|c| cpu.is_none_or(|cpu| c.cpu == cpu) && c.freelist != 0)
                .map(|c| c.freelist)
                .collect();
            // SLAB's arrays and 7.x's sheaves: the newest entries are last.
            heads.extend(self.cached_free_objects(cache).unwrap_or_default().iter().rev().take(MAX_CACHED_HEADS));
            // A free to a slab that is not the CPU's (7.x has none) pushes the
            // object on that slab's own freelist, and the slab goes on (or
            // stays on) its node's partial list: at its front or its back.
            for node in self.cache_node_slabs(cache).unwrap_or_default() {
                let ends = node
                    .partial
                    .iter()
                    .take(MAX_PARTIAL_HEADS)
                    .chain(node.partial.iter().rev().take(MAX_PARTIAL_HEADS));
                heads.extend(
                    ends.filter_map(|&slab| self.read_slab(slab, cache.addr).ok())
                        .map(|s| s.freelist)
                        .filter(|&f| f != 0),
                );
            }
            for head in heads {
                if let Some(address) = self.saturated_word_in(head, cache.object_size) {
                    return Some((cache.name.clone(), address));
                }
            }
        }
        None
    }

    fn saturated_word_in(&self, object: u64, size: u32) -> Option<u64> {
        let len = u64::from(size).min(MAX_OBJECT_SCAN);
        let bytes = self.memory().read_vec(object, usize::try_from(len).ok()?).ok()?;
        bytes
            .chunks_exact(4)
            .position(|w| w == REFCOUNT_SATURATED.to_le_bytes())
            .and_then(|i| object.checked_add(u64::try_from(i).ok()?.checked_mul(4)?))
    }
}

#[cfg(test)]
mod tests {
    use super::saturation_name;

    #[test]
    fn the_kernel_messages_name_the_saturation() {
        assert_eq!(saturation_name("underflow; use-after-free."), "underflow");
        assert_eq!(saturation_name("addition on 0; use-after-free."), "addition_on_0");
        assert_eq!(saturation_name("saturated; leaking memory."), "saturated");
        assert_eq!(saturation_name("decrement hit 0; leaking memory."), "decrement_hit_0");
    }
}
