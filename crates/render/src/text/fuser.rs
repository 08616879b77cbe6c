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
            let _ = writeln!(s, "{:>5}  {:>16x}  {} {uses}", u.task.pid, u.task.task, comm_column(&u.task.comm));
        }
    }
    s
}

/// crash's COMM column: the quoted name in 16 columns. A quoted name of 16
/// or more characters keeps its first 15 and a space (crash copies 16
/// characters and blanks the last, losing the closing quote and, for a
/// 15-character name, its last letter); the JSON document has the whole name.
fn comm_column(comm: &str) -> String {
    let quoted = format!("\"{comm}\"");
    if quoted.chars().count() >= 16 {
        let mut cut: String = quoted.chars().take(15).collect();
        cut.push(' ');
        cut
    } else {
        format!("{quoted:<16}")
    }
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
                        user(9, "rcu_tasks_rude_", vec![FileUse::Root]),
                        user(53, "blkcg_punt_bio", vec![FileUse::Cwd]),
                        user(61, "ipv6_addrconf", vec![FileUse::Cwd]),
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
             \x20   9  ffff888003a1c000  \"rcu_tasks_rude  root \n\
             \x20  53  ffff888003a1c000  \"blkcg_punt_bio  cwd \n\
             \x20  61  ffff888003a1c000  \"ipv6_addrconf\"  cwd \n\
             No users of /nothing found\n"
        );
    }
}
