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
    /// A per-CPU pointer at or near the stack's top, kept in different
    /// places by different kernels: the places are tried in order and the
    /// first that holds a non-zero pointer gives the top. The stack is
    /// `thread_size` bytes below its top.
    PerCpuTopPointer { places: &'static [TopPointerPlace] },
    /// A member of the struct a per-CPU pointer points at; the member's
    /// size is the stack's.
    PerCpuPointerMember { pointer: &'static str, struct_name: &'static str, member: &'static str },
    /// A per-CPU pointer to the stack's lowest address (arm64's
    /// `irq_stack_ptr`); the stack is `thread_size` bytes from there.
    PerCpuBasePointer { variable: &'static str },
    /// A per-CPU array that is itself the stack (arm64's
    /// `overflow_stack`); its size is the variable's.
    PerCpuArray { variable: &'static str },
    /// A per-CPU struct's field holding the stack's top; the size is
    /// `sizeof(struct size_of)`.
    PerCpuTopField { variable: &'static str, struct_name: &'static str, member: &'static str, size_of: &'static str },
}

/// One place a per-CPU pointer to a stack's top may be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopPointerPlace {
    /// The per-CPU variable.
    pub variable: &'static str,
    /// The member of the variable's struct (a struct named like the
    /// variable) that holds the pointer; `None` when the variable is the
    /// pointer.
    pub member: Option<&'static str>,
    /// Bytes from the address the pointer holds to the stack's top as the
    /// unwinder takes it: the word just below that top holds the stack
    /// pointer the CPU was on before it switched to this stack.
    pub top_past_pointer: u64,
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
