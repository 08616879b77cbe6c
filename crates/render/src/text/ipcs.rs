use std::fmt::Write;

use krash_commands::output::{IpcKind, IpcObject, IpcsOutput};

/// `kern_ipc_perm.mode` bits crash reports as the segment's STATUS.
const SHM_DEST: u64 = 0o1000;
const SHM_LOCKED: u64 = 0o2000;

pub(crate) fn render(o: &IpcsOutput) -> String {
    let mut out = String::new();
    for s in &o.sections {
        if o.specified {
            for obj in &s.objects {
                let _ = writeln!(out, "{}", heading(s.kind));
                row(&mut out, s.kind, obj);
                out.push('\n');
            }
            continue;
        }
        let _ = writeln!(out, "{}", heading(s.kind));
        if s.objects.is_empty() {
            out.push_str("(none allocated)\n");
        }
        for obj in &s.objects {
            row(&mut out, s.kind, obj);
        }
        out.push('\n');
    }
    out
}

fn heading(kind: IpcKind) -> &'static str {
    match kind {
        IpcKind::SharedMemory => "SHMID_KERNEL     KEY      SHMID      UID   PERMS BYTES      NATTCH STATUS",
        IpcKind::Semaphores => "SEM_ARRAY        KEY      SEMID      UID   PERMS NSEMS     ",
        IpcKind::Messages => "MSG_QUEUE        KEY      MSQID      UID   PERMS USED-BYTES   MESSAGES    ",
    }
}

fn row(out: &mut String, kind: IpcKind, o: &IpcObject) {
    let common = format!("{:<16x} {:08x} {:<10} {:<5} {:<5o}", o.addr, o.key, o.id, o.uid, o.mode & 0o777);
    let _ = match kind {
        IpcKind::SharedMemory => writeln!(
            out,
            "{common} {:<10} {:<6} {} {}",
            o.size,
            o.count,
            if o.mode & SHM_DEST != 0 { "dest" } else { "" },
            if o.mode & SHM_LOCKED != 0 { "locked" } else { "" }
        ),
        IpcKind::Semaphores => writeln!(out, "{common} {:<10}", o.size),
        IpcKind::Messages => writeln!(out, "{common} {:<12} {:<12}", o.size, o.count),
    };
}
