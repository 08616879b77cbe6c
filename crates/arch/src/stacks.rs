//! The stacks a CPU or task runs on, as an architecture lists them: each
//! kind with the name crash prints when a backtrace leaves it
//! (`--- <NMI exception stack> ---`) and where the kernel keeps it, so
//! the kernel model can find every kind by reading data rather than by
//! knowing x86-64's IST layout.

/// The broad class of a stack, for logic that treats all exception
/// stacks alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StackClass {
    /// A task's own kernel stack.
    Task,
    /// A CPU's hard-IRQ stack.
    Irq,
    /// A CPU's soft-IRQ stack (kernels with a separate one).
    SoftIrq,
    /// An exception stack (x86-64 IST, arm64 SDEI/overflow).
    Exception,
    /// The per-CPU entry (trampoline) stack.
    Entry,
}

/// Where the kernel keeps a stack, for the kernel model to resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackLocator {
    /// `task_struct.stack`, `thread_size` bytes.
    TaskStack,
    /// A per-CPU pointer to the stack's last word; tried in order:
    /// (variable, member) where a member names a field of the variable's
    /// struct (6.2+ moved `hardirq_stack_ptr` into `pcpu_hot`). The stack
    /// is `thread_size` bytes below the word after it.
    PerCpuTopPointer { places: &'static [(&'static str, Option<&'static str>)] },
    /// A member of the struct a per-CPU pointer points at; the member's
    /// size is the stack's.
    PerCpuPointerMember { pointer: &'static str, struct_name: &'static str, member: &'static str },
    /// A per-CPU struct's field holding the stack's top; the size is
    /// `sizeof(struct size_of)`.
    PerCpuTopField { variable: &'static str, struct_name: &'static str, member: &'static str, size_of: &'static str },
}

/// One kind of stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackKind {
    pub class: StackClass,
    /// A stable short name (`"nmi"`), for JSON and lookups.
    pub key: &'static str,
    /// What crash calls it in `--- <...> ---` lines.
    pub crash_name: &'static str,
    pub locator: StackLocator,
}

impl serde::Serialize for StackKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.key)
    }
}

/// An architecture's stacks.
#[derive(Debug)]
pub struct StackSpec {
    /// `THREAD_SIZE` of the default configuration (task and IRQ stacks).
    pub thread_size: u64,
    /// Largest size believed for a stack read from kernel data.
    pub max_stack_size: u64,
    pub kinds: &'static [StackKind],
}

impl StackSpec {
    /// The kind with `key`.
    pub fn kind(&self, key: &str) -> Option<&'static StackKind> {
        self.kinds.iter().find(|k| k.key == key)
    }

    /// The first kind of `class`.
    pub fn of_class(&self, class: StackClass) -> Option<&'static StackKind> {
        self.kinds.iter().find(|k| k.class == class)
    }
}
