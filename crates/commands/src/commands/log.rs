use krash_core::Result;
use krash_linux::printk::LogRecord;
use krash_linux::printk::PrintkExt;
use krash_linux::system::SystemExt;

use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "log",
    aliases: &["dmesg"],
    summary: "the kernel message buffer",
    synopsis: "log [-T | -t] [-m]",
    details: "  -T  human-readable timestamps (derived from the crash time and uptime)\n\
              \x20 -t  no timestamps\n\
              \x20 -m  prefix each message with its log level <N>",
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
    /// Wall-clock seconds at boot, for `-T`.
    pub boot_time: Option<i64>,
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("log", args, "Ttm")?;
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
    Ok(Output::Log(Log { records: k.log_records()?, timestamps, show_level: p.has('m'), boot_time }))
}
