use krash_eval::value::Radix;
use krash_linux::sched::task::TaskExt;
use krash_program::Kernel;

use crate::alias::Aliases;
use crate::interrupt::Interrupt;

/// What a command may read and change: the kernel being examined, the
/// user's current context (crash's `set`), the session's settings and
/// aliases, and the Ctrl-C flag.
pub struct Session {
    pub kernel: Kernel,
    /// Task address of the current context (`set PID|TASK`); starts at the
    /// panic task.
    pub current_task: Option<u64>,
    /// Where long scans (`search`) report progress; the CLI draws a bar.
    pub progress: std::sync::Arc<dyn krash_program::progress::Progress>,
    /// Set when the user presses Ctrl-C; long walks poll it.
    pub interrupt: Interrupt,
    /// crash's internal variables that `set NAME VALUE` changes.
    pub settings: Settings,
    /// `alias` definitions (built-in and the user's), for the session.
    pub aliases: Aliases,
}

/// crash's internal variables that krash has (`set -v` shows them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `set scroll on|off`: long output on a terminal goes through a pager.
    pub scroll: bool,
    /// `set radix 10|16` (`dec`, `hex`): how `p`, `struct`, `task`, `list`
    /// and `tree` print integers when no `-x`/`-d` is given.
    pub radix: OutputRadix,
    /// The pager's command line, as `set scroll` shows it (the CLI fills it
    /// in; None where output is never paged).
    pub pager: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { scroll: true, radix: OutputRadix::Decimal, pager: None }
    }
}

/// The output radix: gdb's natural format (decimal integers, hex
/// pointers; crash's radix 10) or hexadecimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputRadix {
    Decimal,
    Hex,
}

impl OutputRadix {
    /// The value formatting for this radix when a command has no `-x`/`-d`.
    pub fn default_value_radix(self) -> Radix {
        match self {
            OutputRadix::Decimal => Radix::Natural,
            OutputRadix::Hex => Radix::Hex,
        }
    }

    /// 10 or 16.
    pub fn base(self) -> u32 {
        match self {
            OutputRadix::Decimal => 10,
            OutputRadix::Hex => 16,
        }
    }
}

impl Session {
    pub fn new(kernel: Kernel) -> Self {
        let current_task = kernel.panic_task();
        Session {
            kernel,
            current_task,
            progress: std::sync::Arc::new(krash_program::progress::NoProgress),
            interrupt: Interrupt::new(),
            settings: Settings::default(),
            aliases: Aliases::default(),
        }
    }

    /// True once the user pressed Ctrl-C during the running command: long
    /// loops call this (one atomic load) and stop.
    pub fn interrupted(&self) -> bool {
        self.interrupt.is_set()
    }

    /// The value radix for a command's `-x` (hex) and `-d` (dec) options,
    /// falling back to the session's output radix.
    pub fn value_radix(&self, hex: bool, dec: bool) -> Radix {
        if hex {
            Radix::Hex
        } else if dec {
            Radix::Decimal
        } else {
            self.settings.radix.default_value_radix()
        }
    }
}
