//! A progress bar on stderr for the kernel model's long scans, drawn
//! only on a terminal and only for scans big enough to be waited on.

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use krash_program::progress::{Progress, ProgressUnit};

/// Scans smaller than this finish before a bar would be worth drawing.
const MIN_BYTES: u64 = 256 << 20;

/// Draws `indicatif` bars for the operations the kernel model reports.
pub(crate) struct TerminalProgress {
    bar: Mutex<Option<ProgressBar>>,
}

impl TerminalProgress {
    /// A reporter, or None when stderr is not a terminal (pipes, tests).
    pub(crate) fn for_stderr() -> Option<TerminalProgress> {
        std::io::stderr().is_terminal().then(|| TerminalProgress { bar: Mutex::new(None) })
    }
}

impl Progress for TerminalProgress {
    fn begin(&self, what: &str, total: u64, unit: ProgressUnit) {
        if unit == ProgressUnit::Bytes && total < MIN_BYTES {
            return;
        }
        let template = match unit {
            ProgressUnit::Bytes => "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            ProgressUnit::Items => "{msg} [{bar:40}] {pos}/{len} {eta}",
        };
        let bar = ProgressBar::new(total).with_message(what.to_string());
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }

    fn advance(&self, done: u64) {
        if let Ok(slot) = self.bar.lock() {
            if let Some(bar) = slot.as_ref() {
                bar.inc(done);
            }
        }
    }

    fn end(&self) {
        if let Ok(mut slot) = self.bar.lock() {
            if let Some(bar) = slot.take() {
                bar.finish_and_clear();
            }
        }
    }
}
