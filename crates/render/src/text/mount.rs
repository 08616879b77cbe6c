use std::fmt::Write;

use krash_commands::output::MountTable;

pub(crate) fn render(t: &MountTable) -> String {
    let mut out = String::from("     MOUNT           SUPERBLK     TYPE   DEVNAME   DIRNAME\n");
    for m in &t.mounts {
        // crash pads type and device name as one column.
        let type_dev = format!("{:<6} {}", m.fs_type, m.devname);
        let _ = writeln!(out, "{:016x} {:016x} {:<16} {:<10}", m.mount, m.superblock, type_dev, m.dirname);
    }
    if let Some(b) = &t.broken {
        let _ = writeln!(out, "mount: {b}");
    }
    out
}
