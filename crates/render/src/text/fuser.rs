//! crash's `fuser` table: `PID TASK COMM USAGE`, a header per file
//! argument, or `No users of X found`.

use std::fmt::Write;

use krash_commands::output::FuserOutput;

/// crash centers TASK over the 16 hex digits of an address.
const HEADER: &str = " PID         TASK        COMM             USAGE\n";

pub(crate) fn render(f: &FuserOutput) -> String {
    let mut s = String::new();
    for t in &f.targets {
        for p in &t.problems {
            let _ = writeln!(s, "fuser: WARNING: {p}");
        }
        if t.users.is_empty() {
            let _ = writeln!(s, "No users of {} found", t.spec);
            continue;
        }
        s.push_str(HEADER);
        for u in &t.users {
            let uses: String = u.uses.iter().map(|x| format!("{} ", x.name())).collect();
            // crash pads the quoted name to 16 columns; a longer one is
            // shown whole here rather than cut (crash loses its last letters).
            let comm = format!("\"{}\"", u.task.comm);
            let _ = writeln!(s, "{:>5}  {:>16x}  {comm:<16} {uses}", u.task.pid, u.task.task);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use krash_commands::output::{FileUse, FileUser, FuserTarget, TaskHeader, TaskState};

    #[test]
    fn fuser_table_as_crash_prints_it() {
        let user = |pid, comm: &str, uses| FileUser {
            task: TaskHeader { pid, task: 0xffff888003a1c000, cpu: 1, comm: comm.into(), state: TaskState::IN },
            uses,
        };
        let out = FuserOutput {
            targets: vec![
                FuserTarget {
                    spec: "/dev/null".into(),
                    users: vec![
                        user(1, "systemd", vec![FileUse::Fd, FileUse::Mmap]),
                        user(231, "agetty", vec![FileUse::Root, FileUse::Cwd]),
                    ],
                    problems: vec![],
                },
                FuserTarget { spec: "/nothing".into(), users: vec![], problems: vec![] },
            ],
        };
        assert_eq!(
            render(&out),
            " PID         TASK        COMM             USAGE\n\
             \x20   1  ffff888003a1c000  \"systemd\"        fd mmap \n\
             \x20 231  ffff888003a1c000  \"agetty\"         root cwd \n\
             No users of /nothing found\n"
        );
    }
}
