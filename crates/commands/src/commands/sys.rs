use krash_core::Result;
use krash_linux::sched::task::{TaskExt, TaskState};
use krash_linux::system::SystemExt;

use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "sys",
    aliases: &[],
    summary: "system data: kernel, dump file, CPUs, date, uptime, panic",
    synopsis: "sys [config] [-i]",
    details: "  (none)  the banner crash prints at start-up: KERNEL, DUMPFILE, CPUS, DATE,\n\
              \x20         UPTIME, LOAD AVERAGE, TASKS, NODENAME, RELEASE, VERSION, MACHINE,\n\
              \x20         MEMORY, PANIC, and the panic task's PID, COMMAND, TASK, CPU, STATE\n\
              \x20 -i      the firmware's DMI identification strings\n\
              \x20 config  the kernel's configuration, when built with CONFIG_IKCONFIG",
    run,
};

/// Everything `sys` shows; fields the dump cannot answer are `None`.
#[derive(Debug, Clone)]
pub struct SysInfo {
    pub kernel: String,
    pub kernel_tainted: bool,
    pub dumpfile: String,
    pub dump_format: String,
    pub partial_dump: bool,
    pub cpus: Option<u32>,
    pub cpus_offline: u32,
    pub crash_time: Option<i64>,
    pub uptime_secs: Option<u64>,
    pub load_average: Option<[(u64, u64); 3]>,
    pub tasks: Option<usize>,
    pub nodename: Option<String>,
    pub release: Option<String>,
    pub version: Option<String>,
    pub machine: Option<String>,
    pub cpu_mhz: Option<u64>,
    pub memory_bytes: Option<u64>,
    pub panic: Option<krash_linux::system::PanicMessage>,
    pub panic_task: Option<PanicTask>,
    pub symbols_from: String,
    pub types_from: String,
    /// No vmlinux: symbols and types were read from the dump itself.
    pub debuginfo_from_dump: bool,
}

#[derive(Debug, Clone)]
pub struct PanicTask {
    pub pid: i32,
    pub command: String,
    pub task: u64,
    pub cpu: u32,
    /// crash shows the long name followed by `(PANIC)`.
    pub state: TaskState,
}

/// `sys -i` and `sys config` outputs.
#[derive(Debug, Clone)]
pub enum SysDetail {
    Dmi { fields: Vec<krash_linux::system::DmiField> },
    Config { text: String },
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("sys", args, "i")?;
    let k = &session.kernel;
    if p.has('i') {
        return Ok(Output::SysDetail(SysDetail::Dmi { fields: k.dmi_strings()? }));
    }
    match p.args.first().map(String::as_str) {
        Some("config") => Ok(Output::SysDetail(SysDetail::Config { text: k.kernel_config()? })),
        Some(other) => Err(krash_core::Error::Usage(format!("sys: unknown argument: {other}"))),
        None => Ok(Output::Sys(sys_info(session))),
    }
}

/// The `sys` data; also the banner printed when a dump is opened.
pub fn sys_info(session: &Session) -> SysInfo {
    let k = &session.kernel;
    let uts = k.utsname().ok();
    let online = k.online_cpus().ok();
    let present = k.present_cpus().ok();
    let cpus_offline = match (&online, &present) {
        (Some(on), Some(pr)) => pr.iter().filter(|c| !on.contains(c)).count() as u32,
        _ => 0,
    };
    let panic_task = k.panic_task().and_then(|addr| {
        let t = k.task_by_addr(addr).ok()?;
        Some(PanicTask { pid: t.pid, command: t.comm.clone(), task: t.addr, cpu: t.cpu, state: t.state })
    });
    SysInfo {
        kernel: k.files().vmlinux.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        kernel_tainted: k.read_symbol_u64("tainted_mask").map(|m| m != 0).unwrap_or(false),
        dumpfile: k.files().dump.display().to_string(),
        dump_format: k.dump().format().to_string(),
        partial_dump: k.dump().is_partial(),
        cpus: present.as_ref().or(online.as_ref()).map(|c| c.len() as u32),
        cpus_offline,
        crash_time: k.crash_time(),
        uptime_secs: k.uptime_secs().ok(),
        load_average: k.load_average().ok(),
        tasks: k.task_count().ok(),
        nodename: uts.as_ref().map(|u| u.nodename.clone()),
        release: uts.as_ref().map(|u| u.release.clone()),
        version: uts.as_ref().map(|u| u.version.clone()),
        machine: uts.as_ref().map(|u| u.machine.clone()),
        cpu_mhz: k.cpu_mhz(),
        memory_bytes: k.memory_size().ok(),
        panic: k.panic_message(),
        panic_task,
        symbols_from: k.sources().symbols.clone(),
        types_from: k.sources().types.clone(),
        debuginfo_from_dump: k.files().vmlinux.is_none(),
    }
}
