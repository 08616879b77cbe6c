//! `dev`: character and block device majors, disk I/O in flight, and the
//! I/O port and memory resource trees.

use krash_core::{Error, Result};
use krash_linux::dev::devices::DevicesExt;
use krash_linux::dev::devices::{DiskIo, ResourceTree};
use krash_program::Kernel;

use crate::source::SymbolRef;
use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "dev",
    aliases: &[],
    summary: "device data",
    synopsis: "dev [-i | -d | -D]",
    details: "  (none)  character devices (CHRDEV NAME CDEV OPERATIONS) from chrdevs[], then\n\
              \x20         block devices (BLKDEV NAME GENDISK OPERATIONS) from major_names[]\n\
              \x20 -i      the I/O port (ioport_resource) and I/O memory (iomem_resource) trees\n\
              \x20 -d      in-flight requests of each disk: MAJOR GENDISK NAME REQUEST_QUEUE\n\
              \x20         TOTAL READ WRITE (ram and loop disks are skipped)\n\
              \x20 -D      as -d, only disks with requests in flight",
    run,
};

/// One device major with its operations symbol.
#[derive(Debug, Clone)]
pub struct DevMajorRow {
    pub major: u32,
    pub name: String,
    /// The cdev (character) or gendisk (block), 0 if none was found.
    pub object: u64,
    pub operations: u64,
    /// The symbol `operations` points into.
    pub operations_symbol: Option<SymbolRef>,
}

/// What `dev` printed.
#[derive(Debug, Clone)]
pub enum DevOutput {
    Majors { char_devices: Vec<DevMajorRow>, block_devices: Vec<DevMajorRow> },
    Disks { disks: Vec<DiskIo> },
    Resources { trees: Vec<ResourceTree> },
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("dev", args, "idDp")?;
    if let Some(extra) = p.args.first() {
        return Err(Error::Usage(format!("dev: unexpected argument: {extra}")));
    }
    if p.has('p') {
        return Err(Error::Unsupported("dev -p (PCI devices) is not implemented".into()));
    }
    let k = &session.kernel;
    let out = if p.has('i') {
        DevOutput::Resources { trees: vec![k.resource_tree("ioport_resource")?, k.resource_tree("iomem_resource")?] }
    } else if p.has('d') || p.has('D') {
        let mut disks = k.disk_io()?;
        if p.has('D') {
            disks.retain(|d| d.reads + d.writes > 0);
        }
        DevOutput::Disks { disks }
    } else {
        let table = k.device_majors()?;
        let rows = |v: Vec<krash_linux::dev::devices::DeviceMajor>| -> Vec<DevMajorRow> {
            v.into_iter()
                .map(|d| DevMajorRow {
                    operations_symbol: symbol_ref(k, d.operations),
                    major: d.major,
                    name: d.name,
                    object: d.object,
                    operations: d.operations,
                })
                .collect()
        };
        DevOutput::Majors { char_devices: rows(table.char_devices), block_devices: rows(table.block_devices) }
    };
    Ok(Output::Dev(out))
}

/// The symbol `addr` points into, by the name crash shows.
pub(crate) fn symbol_ref(k: &Kernel, addr: u64) -> Option<SymbolRef> {
    if addr == 0 {
        return None;
    }
    let (sym, offset) = k.symbol_at(addr)?;
    Some(SymbolRef { name: sym.crash_name().to_string(), offset })
}
