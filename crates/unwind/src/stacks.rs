//! The stacks a CPU or task owns, so the unwinder can tell a legitimate
//! stack switch from a wild pointer and name the switch as crash does.

use serde::Serialize;

/// Which kind of stack an address is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StackKind {
    /// The task's own kernel stack.
    Task,
    /// The CPU's hard-IRQ stack (`hardirq_stack_ptr`).
    Irq,
    /// The CPU's soft-IRQ stack on kernels that have a separate one.
    SoftIrq,
    /// An IST exception stack (`cpu_entry_area` exception stacks).
    Exception(ExceptionStack),
    /// The per-CPU entry (trampoline) stack.
    Entry,
}

/// The IST exception stacks of x86-64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionStack {
    DoubleFault,
    Nmi,
    Debug,
    MachineCheck,
    Vc,
    Vc2,
}

impl StackKind {
    /// The name crash prints in `--- <name> ---` when the trace leaves it.
    pub fn crash_name(self) -> &'static str {
        match self {
            StackKind::Task => "process stack",
            StackKind::Irq => "IRQ stack",
            StackKind::SoftIrq => "soft IRQ stack",
            StackKind::Exception(ExceptionStack::DoubleFault) => "DOUBLEFAULT exception stack",
            StackKind::Exception(ExceptionStack::Nmi) => "NMI exception stack",
            StackKind::Exception(ExceptionStack::Debug) => "DEBUG exception stack",
            StackKind::Exception(ExceptionStack::MachineCheck) => "MCE exception stack",
            StackKind::Exception(ExceptionStack::Vc) => "VC exception stack",
            StackKind::Exception(ExceptionStack::Vc2) => "VC2 exception stack",
            StackKind::Entry => "ENTRY TRAMPOLINE stack",
        }
    }
}

/// One stack: addresses `[base, top)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StackRange {
    pub kind: StackKind,
    pub base: u64,
    pub top: u64,
}

impl StackRange {
    /// True if `addr` lies in the stack (the top itself excluded).
    pub fn contains(&self, addr: u64) -> bool {
        (self.base..self.top).contains(&addr)
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
        self.stacks.iter().find(|s| s.kind == StackKind::Task)
    }

    /// The first stack of this kind.
    pub fn of_kind(&self, kind: StackKind) -> Option<&StackRange> {
        self.stacks.iter().find(|s| s.kind == kind)
    }
}
