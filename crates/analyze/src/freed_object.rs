//! A use after free: the fault's bad pointer was read from a slab object
//! that the slab model says is free. Slab poisoning (`SLAB_POISON`,
//! `slub_debug=P`) makes it plain: a freed object is filled with 0x6b (its
//! last byte 0xa5), so a pointer read from it is 0x6b6b6b6b6b6b6b6b. The
//! provenance walk names the load that read the pointer (its base register
//! and the member); the slab model names the cache and says the object is
//! free.

use krash_arch::RegisterFile;
use krash_core::VirtualMemory;
use krash_linux::mm::slab::{SlabExt, SlabObject};
use krash_program::Kernel;

use crate::provenance::Origin;
use crate::{named_registers, register_value, Report};

/// The byte SLUB and SLAB fill a freed object with (`POISON_FREE`).
const POISON_FREE: u8 = 0x6b;
/// The last byte of a poisoned object (`POISON_END`).
const POISON_END: u8 = 0xa5;
/// Bounds the bytes of an object read to tell whether it is poisoned.
const MAX_POISON_CHECK: u32 = 4096;

/// A free slab object the crashing code read a pointer from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreedObject {
    /// The object's start.
    pub object: u64,
    pub cache: String,
    pub cache_addr: u64,
    /// The register holding a pointer into it at the fault.
    pub register: String,
    pub pointer: u64,
    /// The C expression the pointer is, when the walk knows it (`c`).
    pub expression: Option<String>,
    pub struct_name: Option<String>,
    /// The member read from it (the bad pointer's origin).
    pub member: Option<String>,
    /// Where in the object the read was.
    pub offset: u64,
    /// Every byte of the object read is the freed-object poison.
    pub poisoned: bool,
}

/// Crate-internal: the freed object behind a bad pointer.
pub(crate) trait FreedObjectInternal {
    /// Runs after the faulting instruction's bad member and provenance are known.
    fn explain_freed_object(&self, report: &mut Report, regs: &RegisterFile);
}

/// One place a pointer into the freed object may be: a register, with the
/// load through it that read the bad value when the walk saw one.
struct Candidate {
    register: String,
    value: u64,
    load: Option<(i64, Option<String>, Option<String>)>,
}

impl FreedObjectInternal for Kernel {
    fn explain_freed_object(&self, report: &mut Report, regs: &RegisterFile) {
        // The allocator reads free objects by design (their free pointers):
        // a fault there is the freelist's own corruption (slab_state).
        if report.slab.is_some() || report.double_free.is_some() {
            return;
        }
        let Some(bad) = report.bad_member.clone() else { return };
        let mut candidates = Vec::new();
        // The load that set the bad register, through a base register the
        // fault's registers still hold.
        if let Some(p) = &report.provenance {
            for step in &p.steps {
                if let Origin::Load { base, displacement, struct_name, member } = &step.origin {
                    if step.register == bad.register {
                        if let Some(value) = register_value(regs, base) {
                            candidates.push(Candidate {
                                register: base.clone(),
                                value,
                                load: Some((*displacement, struct_name.clone(), member.clone())),
                            });
                        }
                    }
                }
            }
        }
        // The bad value is the poison itself: any register pointing into a
        // free object is where it came from.
        let poison_read = report.corrupt_values.iter().any(|c| c.register == bad.register && c.class == "slab_poison");
        if poison_read {
            for (name, value) in named_registers(regs) {
                if name != bad.register && !candidates.iter().any(|c| c.value == value) {
                    candidates.push(Candidate { register: name.to_string(), value, load: None });
                }
            }
        }
        // The load that read the bad value, where the walk saw one: when
        // its base register is also its destination (arm64's `ldr x0, [x0,
        // #8]`), the base is gone, and the object is the one another
        // register still points into; the load says where in it the read was.
        let the_load = candidates.first().and_then(|c| c.load.clone().map(|l| (c.register.clone(), l)));
        let found = candidates.into_iter().find_map(|c| {
            let read_at = match &c.load {
                Some((displacement, _, _)) => c.value.checked_add_signed(*displacement)?,
                None => c.value,
            };
            let object = self.slab_object(read_at).filter(|o| !o.allocated)?;
            match (&c.load, &the_load) {
                (None, Some((base, (displacement, s, m)))) => {
                    let read_at = object.object_start.checked_add_signed(*displacement)?;
                    let c = Candidate {
                        register: base.clone(),
                        value: object.object_start,
                        load: Some((*displacement, s.clone(), m.clone())),
                    };
                    Some((c, object, read_at))
                }
                _ => Some((c, object, read_at)),
            }
        });
        let Some((candidate, object, read_at)) = found else { return };
        let poisoned = self.is_poisoned(&object);
        let offset = read_at.saturating_sub(object.object_start);
        let (struct_name, member) = match &candidate.load {
            Some((_, s, m)) => (s.clone(), m.clone()),
            None => (None, None),
        };
        let expression = report
            .provenance
            .as_ref()
            .and_then(|p| p.expression.as_deref())
            .and_then(|e| member.as_ref().and_then(|m| e.strip_suffix(&format!("->{m}"))))
            .map(str::to_string);
        let who = expression.clone().unwrap_or_else(|| format!("%{}", candidate.register));
        let read = match &member {
            Some(m) => format!("{who}->{m}"),
            None => format!("the word at offset {offset:#x} of it"),
        };
        let poison_text = if poisoned {
            " and filled with the poison of a freed object (0x6b bytes: SLAB_POISON, slub_debug=P)"
        } else {
            ""
        };
        let value_text = format!("{:#x}", bad.value);
        let held = if register_value(regs, &candidate.register) == Some(candidate.value) {
            format!("%{} = {:#x}", candidate.register, candidate.value)
        } else {
            format!("{:#x}, the object's start: the load overwrote %{}", candidate.value, candidate.register)
        };
        report
            .lead_finding(format!(
                "use after free: {who} ({held}) points into object {:#x} of slab cache {}, which is free{poison_text}; \
                 {read} read {value_text} from it, and the access through that faulted",
                object.object_start, object.cache_name
            ))
            .shown_by(format!("kmem {:#x}", object.object_start))
            .shown_by(format!("rd {:#x} {}", object.object_start, 4.max(offset / 8 + 1)))
            .shown_by("bt")
            .at(object.object_start)
            .at(read_at);
        if let Some(rip) = report.rip {
            if let Some(s) = &struct_name {
                report.show(format!("struct {s} -o"));
            }
            report.show(format!("dis -l {rip:#x}"));
        }
        report.freed_object = Some(FreedObject {
            object: object.object_start,
            cache: object.cache_name,
            cache_addr: object.cache,
            register: candidate.register,
            pointer: candidate.value,
            expression,
            struct_name,
            member,
            offset,
            poisoned,
        });
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait FreedObjectHelpers {
    /// Whether the object's bytes are the freed-object poison.
    fn is_poisoned(&self, object: &SlabObject) -> bool;
}

impl FreedObjectHelpers for Kernel {
    fn is_poisoned(&self, object: &SlabObject) -> bool {
        let Some(cache) = self.slab_cache_at(object.cache) else { return false };
        let len = cache.object_size.min(MAX_POISON_CHECK) as usize;
        if len < 2 {
            return false;
        }
        let mut bytes = vec![0u8; len];
        if self.memory().read_virt(object.object_start, &mut bytes).is_err() {
            return false;
        }
        looks_poisoned(&bytes, len == cache.object_size as usize)
    }
}

/// The bytes of a freed, poisoned object: 0x6b throughout, and 0xa5 last
/// when `whole` (the object's last byte is among them).
fn looks_poisoned(bytes: &[u8], whole: bool) -> bool {
    let Some((last, body)) = bytes.split_last() else { return false };
    body.iter().all(|&b| b == POISON_FREE) && (*last == POISON_END || (!whole && *last == POISON_FREE))
}

#[cfg(test)]
mod tests {
    use super::looks_poisoned;

    #[test]
    fn poison_is_0x6b_then_0xa5() {
        let mut object = vec![0x6b; 48];
        assert!(!looks_poisoned(&object, true), "no end marker");
        assert!(looks_poisoned(&object, false), "a prefix of a poisoned object");
        object[47] = 0xa5;
        assert!(looks_poisoned(&object, true));
        object[8] = 0;
        assert!(!looks_poisoned(&object, true), "a written word is no poison");
        assert!(!looks_poisoned(&[], true));
    }
}
