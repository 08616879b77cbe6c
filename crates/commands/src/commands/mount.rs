use krash_core::{Error, Result};
use krash_linux::fs::mount::MountExt;

use krash_linux::fs::mount::MountTable;

use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "mount",
    aliases: &[],
    summary: "mounted filesystems of the init task's mount namespace",
    synopsis: "mount",
    details: "  (none)  one line per mount: the struct mount (MOUNT), its super_block (SUPERBLK),\n\
              \x20         the filesystem TYPE, the DEVNAME it was mounted from and the DIRNAME\n\
              \x20         it is mounted on, in the namespace's order",
    run,
};

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("mount", args, "")?;
    if let Some(extra) = p.args.first() {
        return Err(Error::Usage(format!("mount: unexpected argument: {extra}")));
    }
    let table: MountTable = session.kernel.mounts()?;
    Ok(Output::Mount(table))
}
