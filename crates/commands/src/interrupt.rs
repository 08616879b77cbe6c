//! Ctrl-C as data: the front end sets a flag when the user interrupts,
//! and long walks and the output writer poll it with
//! [`Interrupt::is_set`] (one relaxed atomic load) to stop early. The
//! commands layer owns the flag so every layer above the kernel model can
//! see it without depending on the CLI.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use krash_core::{Error, Result};

/// A shared "the user pressed Ctrl-C" flag. Clones share one flag.
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    flag: Arc<AtomicBool>,
}

impl Interrupt {
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// The flag itself, for a signal handler to set (it must be an
    /// `Arc<AtomicBool>` to be async-signal-safe).
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.flag)
    }

    /// True once the user interrupted the running command.
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// Marks the running command interrupted (what the signal handler does).
    pub fn set(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }

    /// Back to "not interrupted", before the next command runs.
    pub fn clear(&self) {
        self.flag.store(false, Ordering::Relaxed);
    }

    /// `Err(interrupted)` once the user interrupted: for `?` in loops.
    pub fn check(&self) -> Result<()> {
        if self.is_set() {
            Err(interrupted())
        } else {
            Ok(())
        }
    }
}

/// The error a command returns when it stops because of Ctrl-C; the front
/// end prints nothing for it.
pub fn interrupted() -> Error {
    Error::Interrupted
}

/// True for the error [`interrupted`] makes.
pub fn is_interrupted(e: &Error) -> bool {
    matches!(e, Error::Interrupted)
}

/// Progress that forwards to another reporter and asks the long operation
/// to stop once the user interrupted.
pub struct Interruptible<'a> {
    pub inner: &'a dyn krash_program::progress::Progress,
    pub interrupt: &'a Interrupt,
}

impl krash_program::progress::Progress for Interruptible<'_> {
    fn begin(&self, what: &str, total: u64, unit: krash_program::progress::ProgressUnit) {
        self.inner.begin(what, total, unit);
    }
    fn advance(&self, done: u64) {
        self.inner.advance(done);
    }
    fn end(&self) {
        self.inner.end();
    }
    fn cancelled(&self) -> bool {
        self.interrupt.is_set()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_flag() {
        let a = Interrupt::new();
        let b = a.clone();
        assert!(!b.is_set());
        assert!(b.check().is_ok());
        a.set();
        assert!(b.is_set());
        assert!(is_interrupted(&b.check().unwrap_err()));
        a.flag().store(false, Ordering::Relaxed);
        assert!(!b.is_set());
    }

    #[test]
    fn only_the_interrupt_error_is_recognised() {
        assert!(is_interrupted(&interrupted()));
        assert!(!is_interrupted(&Error::Usage("something else".into())));
        assert!(!is_interrupted(&Error::Usage("interrupted".into())));
    }
}
