use krash_linux::sched::task::TaskExt;
use krash_program::Kernel;

/// What a command may read and change: the kernel being examined and the
/// user's current context (crash's `set`).
pub struct Session {
    pub kernel: Kernel,
    /// Task address of the current context (`set PID|TASK`); starts at the
    /// panic task.
    pub current_task: Option<u64>,
    /// Where long scans (`search`) report progress; the CLI draws a bar.
    pub progress: std::sync::Arc<dyn krash_program::progress::Progress>,
}

impl Session {
    pub fn new(kernel: Kernel) -> Self {
        let current_task = kernel.panic_task();
        Session { kernel, current_task, progress: std::sync::Arc::new(krash_program::progress::NoProgress) }
    }
}
