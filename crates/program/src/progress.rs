//! Progress of long operations, reported to whoever drives the kernel
//! model (the CLI draws a bar); this crate itself never prints.

/// Receives the progress of one long operation. Called from worker
/// threads, so implementations must be cheap and thread-safe.
pub trait Progress: Send + Sync {
    /// The operation starts; `total` is its size in `unit`s.
    fn begin(&self, what: &str, total: u64, unit: ProgressUnit);
    /// `done` more units were processed.
    fn advance(&self, done: u64);
    /// The operation ended (finished, or stopped early).
    fn end(&self);
    /// True when whoever waits has given up (Ctrl-C): the operation should
    /// stop at its next convenient point and return what it has.
    fn cancelled(&self) -> bool {
        false
    }
}

/// What a progress total counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressUnit {
    Bytes,
    Items,
}

/// Progress that goes nowhere, for callers with nothing to show.
pub struct NoProgress;

impl Progress for NoProgress {
    fn begin(&self, _what: &str, _total: u64, _unit: ProgressUnit) {}
    fn advance(&self, _done: u64) {}
    fn end(&self) {}
}
