//! Tab completion as data (`krash_commands::complete`) on one dump of every
//! lab kernel, the no-BTF frame-pointer flavor included (its type names
//! come from the DWARF index), with the vmlinux and with the dump alone.
//! `repl_tmux_lab` checks the same in a terminal.

mod common;

use krash_commands::complete::{complete, Completion};
use krash_commands::Session;
use krash_program::{Kernel, KernelFiles};

fn words(session: &Session, line: &str) -> (usize, Vec<String>) {
    match complete(session, line, line.len()) {
        Completion::Words { start, candidates } => (start, candidates),
        Completion::Path { start } => panic!("{line:?}: a path at {start}, not words"),
    }
}

fn open(d: &common::LabDump, with_vmlinux: bool) -> Session {
    let vmlinux = with_vmlinux.then(|| d.vmlinux.clone());
    let files = KernelFiles { dump: d.vmcore.clone(), vmlinux, debug_dirs: Vec::new(), force: false };
    let kernel = Kernel::open(files).unwrap_or_else(|e| panic!("{}: {e}", d.label()));
    Session::new(kernel)
}

/// The in-guest kdump of the null-member scenario on each kernel.
fn one_per_kernel() -> Vec<common::LabDump> {
    let mut seen = std::collections::HashSet::new();
    let dumps: Vec<_> = common::all_lab_images()
        .into_iter()
        .filter(|d| d.scenario == "null-member" && d.is_kdump_boot() && seen.insert(d.kernel.clone()))
        .collect();
    if dumps.is_empty() {
        krash_labtest::skip_or_fail("no null-member dump in the lab");
    }
    dumps
}

#[test]
fn completes_on_every_kernel_with_the_vmlinux() {
    for d in one_per_kernel() {
        let s = open(&d, true);
        let label = d.label();

        let (start, found) = words(&s, "sym schedule_timeo");
        assert_eq!(start, 4, "{label}");
        for name in ["schedule_timeout", "schedule_timeout_idle", "schedule_timeout_killable"] {
            assert!(found.iter().any(|f| f == name), "{label}: sym: no {name} in {found:?}");
        }
        assert!(found.iter().all(|f| f.starts_with("schedule_timeo")), "{label}: {found:?}");

        // The scenario module's own symbols are there too.
        let (_, found) = words(&s, "dis krash_widget_");
        assert!(!found.is_empty(), "{label}: no module symbol for krash_widget_");

        let (_, found) = words(&s, "struct task_stru");
        assert_eq!(found.first().map(String::as_str), Some("task_struct"), "{label}: struct: {found:?}");
        assert!(found.iter().all(|f| f.starts_with("task_stru")), "{label}: {found:?}");
        let (_, found) = words(&s, "union ");
        assert!(found.len() > 10, "{label}: union names: {found:?}");

        // Members, through a member (and anonymous members' members).
        let (start, found) = words(&s, "struct task_struct.se.vrun");
        assert_eq!((start, found.as_slice()), (22, ["vruntime".to_string()].as_slice()), "{label}");
        let (_, found) = words(&s, "struct list_head.");
        assert_eq!(found, ["next", "prev"], "{label}");
        let (_, found) = words(&s, "struct task_struct.pid,comm");
        assert_eq!(found, ["comm"], "{label}: crash's member list");
        let (_, found) = words(&s, "struct page.");
        assert!(found.iter().any(|m| m == "flags") && found.iter().any(|m| m == "lru"), "{label}: page: {found:?}");

        // A global's members, and through a pointer member.
        let (_, found) = words(&s, "p init_task.se.vrun");
        assert_eq!(found, ["vruntime"], "{label}: p");
        let (_, found) = words(&s, "p init_task.mm->pg");
        assert!(found.iter().any(|m| m == "pgd"), "{label}: p through a pointer: {found:?}");

        // PIDs, and commands.
        let (_, found) = words(&s, "bt 1");
        assert!(found.first().is_some_and(|p| p == "1"), "{label}: PIDs: {found:?}");
        let (_, found) = words(&s, "fo");
        assert_eq!(found, ["for", "foreach"], "{label}: the command and its alias");

        // Paths where a file is taken.
        assert_eq!(complete(&s, "mod -S /tm", 10), Completion::Path { start: 7 }, "{label}");
        assert_eq!(complete(&s, "log > out", 9), Completion::Path { start: 6 }, "{label}");
        // Nothing for options or after a pipe.
        assert_eq!(words(&s, "bt -").1, Vec::<String>::new(), "{label}");
        assert_eq!(words(&s, "ps | gre").1, Vec::<String>::new(), "{label}");
    }
}

#[test]
fn completes_symbols_with_the_dump_alone() {
    for d in one_per_kernel() {
        let s = open(&d, false);
        let label = d.label();
        let (_, found) = words(&s, "sym schedule_timeo");
        assert!(found.iter().any(|f| f == "schedule_timeout"), "{label}: sym without vmlinux: {found:?}");
        // Types where the dump has BTF; none, and no error, where it has not.
        let (_, found) = words(&s, "struct task_stru");
        let has_btf = d.kernel != krash_labtest::FP_SLAB_KERNEL;
        assert_eq!(found.iter().any(|f| f == "task_struct"), has_btf, "{label}: struct without vmlinux: {found:?}");
    }
}
