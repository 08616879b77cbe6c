//! A pointer that sits a list member's offset below a list poison: the
//! entry was reached through a link that `list_del()` had poisoned. The
//! kernel's list code writes LIST_POISON1 into a deleted entry's `next`
//! and LIST_POISON2 into its `prev` (hlist: `next` and `pprev`), so a walk
//! that steps on from a deleted entry computes `container_of(LIST_POISON1)`.

use crate::provenance::ProvenanceInternal;
use krash_program::Kernel;

/// `LIST_POISON1` and `LIST_POISON2` with the kernel's default
/// `POISON_POINTER_DELTA` (CONFIG_ILLEGAL_POINTER_VALUE, 0xdead000000000000
/// on x86-64 and arm64). The values are macros: no debuginfo carries them.
pub(crate) const LIST_POISONS: [(&str, u64); 2] =
    [("list_poison1", 0xdead_0000_0000_0100), ("list_poison2", 0xdead_0000_0000_0122)];

/// Bounds the member offset looked for below a poison.
const MAX_LINK_OFFSET: u64 = 4096;

/// An entry pointer computed from a poisoned list link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPoison {
    /// The register holding the entry pointer.
    pub register: String,
    pub value: u64,
    /// `list_poison1` (a `next` link) or `list_poison2` (a `prev`).
    pub poison: String,
    pub poison_value: u64,
    pub entry_struct: String,
    /// The list member the walk went through (`node`).
    pub link_member: String,
    pub link_offset: u64,
}

impl ListPoison {
    /// What it means, in one sentence.
    pub fn describe(&self, who: &str) -> String {
        let poison = self.poison.to_uppercase();
        format!(
            "{who} = {:#x} is {poison} - {:#x}, the offset of {} in struct {}: the entry was reached through the \
             link of an entry that list_del() had already removed (it leaves LIST_POISON1 in next and LIST_POISON2 \
             in prev). Something walked on from a deleted entry: deleting while walking with list_for_each_entry() \
             (list_for_each_entry_safe() keeps the next entry first), or using an entry after another path removed it",
            self.value, self.link_offset, self.link_member, self.entry_struct
        )
    }
}

/// Crate-internal: the poisoned link behind an entry pointer.
pub(crate) trait ListPoisonInternal {
    /// When `value` is a poison minus the offset of a list link of
    /// `struct entry_struct`, that link.
    fn poisoned_link(&self, register: &str, value: u64, entry_struct: &str, module: Option<&str>)
        -> Option<ListPoison>;
}

impl ListPoisonInternal for Kernel {
    fn poisoned_link(
        &self,
        register: &str,
        value: u64,
        entry_struct: &str,
        module: Option<&str>,
    ) -> Option<ListPoison> {
        LIST_POISONS.iter().find_map(|(poison, poison_value)| {
            let offset = poison_value.checked_sub(value).filter(|o| *o < MAX_LINK_OFFSET)?;
            let (path, type_name) = self.member_and_type_at(entry_struct, offset, module)?;
            // The poisoned word is the link's first pointer: next for
            // LIST_POISON1; prev (list_head) or pprev (hlist_node) for LIST_POISON2.
            let link = match *poison {
                "list_poison1" => path.strip_suffix(".next"),
                _ => path.strip_suffix(".prev").or_else(|| path.strip_suffix(".pprev")),
            }?;
            let is_list_link = type_name.contains("list_head") || type_name.contains("hlist_node");
            is_list_link.then(|| ListPoison {
                register: register.to_string(),
                value,
                poison: poison.to_string(),
                poison_value: *poison_value,
                entry_struct: entry_struct.to_string(),
                link_member: link.to_string(),
                link_offset: offset,
            })
        })
    }
}
