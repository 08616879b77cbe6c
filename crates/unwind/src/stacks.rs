//! The stacks a CPU or task owns, so the unwinder can tell a legitimate
//! stack switch from a wild pointer and name the switch as crash does.
//! Which kinds of stack there are is the architecture's to say
//! ([`krash_arch::StackSpec::kinds`]); a range points at its kind there.

use serde::Serialize;

pub use krash_arch::{StackClass, StackKind};

/// One stack: addresses `[base, top)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StackRange {
    /// Serialized as the kind's key (`"irq"`, `"nmi"`).
    pub kind: &'static StackKind,
    pub base: u64,
    pub top: u64,
}

impl StackRange {
    /// True if `addr` lies in the stack (the top itself excluded).
    pub fn contains(&self, addr: u64) -> bool {
        (self.base..self.top).contains(&addr)
    }

    /// True if the stack is of `class`.
    pub fn is(&self, class: StackClass) -> bool {
        self.kind.class == class
    }
}

/// Every stack one unwind may visit: the task stack plus the CPU's
/// interrupt and exception stacks when the task was running.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StackSet {
    pub stacks: Vec<StackRange>,
}

impl StackSet {
    /// The stack holding `addr`.
    pub fn find(&self, addr: u64) -> Option<&StackRange> {
        self.stacks.iter().find(|s| s.contains(addr))
    }

    /// The task stack, if described.
    pub fn task(&self) -> Option<&StackRange> {
        self.of_class(StackClass::Task)
    }

    /// The first stack of this kind.
    pub fn of_kind(&self, kind: &StackKind) -> Option<&StackRange> {
        self.stacks.iter().find(|s| s.kind == kind)
    }

    /// The first stack of this class.
    pub fn of_class(&self, class: StackClass) -> Option<&StackRange> {
        self.stacks.iter().find(|s| s.is(class))
    }

    /// The first stack whose kind has `key` (`"nmi"`).
    pub fn of_key(&self, key: &str) -> Option<&StackRange> {
        self.stacks.iter().find(|s| s.kind.key == key)
    }
}
