use krash_core::{Error, Result};
use krash_linux::printk::{LogRecord, LogVariant, PrintkExt};
use krash_linux::system::SystemExt;

use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "log",
    aliases: &["dmesg"],
    summary: "the kernel message buffer",
    synopsis: "log [-T | -t] [-m] [-c]",
    details: "  -T  human-readable timestamps (derived from the crash time and uptime)\n\
              \x20 -t  no timestamps\n\
              \x20 -m  prefix each message with its log level <N>\n\
              \x20 -c  show who logged each message: [Tpid] a task, [Ccpu] a CPU outside task context",
    run,
};

/// How to show each record's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTimestamps {
    Seconds,
    Human,
    None,
}

#[derive(Debug, Clone)]
pub struct Log {
    pub records: Vec<LogRecord>,
    pub timestamps: LogTimestamps,
    pub show_level: bool,
    /// `-c`: each record's caller (`T<pid>` or `C<cpu>`).
    pub show_caller: bool,
    /// Wall-clock seconds at boot, for `-T`.
    pub boot_time: Option<i64>,
    /// What could not be read: records lost to missing pages, or the
    /// corrupt part that ended the walk (the records before it are shown).
    pub unread: Option<LogUnread>,
}

/// The part of the log krash could not read.
#[derive(Debug, Clone)]
pub struct LogUnread {
    /// Records left out (None: the walk stopped, how many follow is unknown).
    pub lost_records: Option<u64>,
    /// Why (the first record's error, or what ended the walk).
    pub reason: String,
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("log", args, "Ttmc")?;
    let k = &session.kernel;
    let timestamps = if p.has('t') {
        LogTimestamps::None
    } else if p.has('T') {
        LogTimestamps::Human
    } else {
        LogTimestamps::Seconds
    };
    let boot_time = match (k.crash_time(), k.uptime_secs()) {
        (Some(t), Ok(up)) => Some(t - up as i64),
        _ => None,
    };
    let read = k.log_read()?;
    let (lost_records, first_error) = match (read.lost, read.stopped) {
        (Some(l), _) => (Some(l.count), Some(l.first_error)),
        (None, stopped) => (None, stopped),
    };
    let records = read.records;
    let unread = match first_error {
        // Nothing readable at all: the error itself, as for any command.
        Some(e) if records.is_empty() => return Err(e),
        Some(e) => Some(LogUnread { lost_records, reason: e.to_string() }),
        None => None,
    };
    let show_caller = p.has('c');
    // The ring (5.10+) always records the caller; log_buf records only on
    // CONFIG_PRINTK_CALLER kernels (5.1-5.9), where some id is never 0.
    if show_caller && k.log_variant()? == LogVariant::LegacyLogBuf && records.iter().all(|r| r.caller_id == 0) {
        return Err(Error::Unsupported(
            "log -c: this kernel's log_buf records carry no caller id (CONFIG_PRINTK_CALLER, 5.1 to 5.9)".into(),
        ));
    }
    Ok(Output::Log(Log { records, timestamps, show_level: p.has('m'), show_caller, boot_time, unread }))
}
