//! The data commands (p, struct, list, tree, task, foreach) against crash
//! 8.0.2 in the same run, on every 6.1 lab scenario: krash's output must be
//! crash's, apart from the `$N` history numbers (crash's session runs many
//! commands before these).

mod common;

use common::{crash_peer, krash_on, one_per_scenario};

/// Commands of tests/data/crash-peer-commands this test compares. Not
/// `foreach RU`: crash 8.0.2 finds only the tasks of its PID hash on these
/// dumps ("active task ... not found in PID hash") and misses running ones.
const COMMANDS: [&str; 10] = [
    "p jiffies",
    "p init_task.comm",
    "struct task_struct.comm,pid init_task",
    "struct mutex {lock}",
    "list task_struct.tasks -s task_struct.pid -h init_task",
    "list -H modules -o module.list -s module.name",
    "tree -t rbtree -o vmap_area.rb_node -p vmap_area_root",
    "tree -l -o vmap_area.rb_node vmap_area_root",
    "task -R pid,comm,on_cpu",
    "foreach active task -R pid",
];

/// `$12 = ` becomes `$N = `.
fn without_history_numbers(text: &str) -> String {
    text.lines()
        .map(|l| match l.strip_prefix('$').and_then(|r| r.split_once(" = ")) {
            Some((n, rest)) if n.chars().all(|c| c.is_ascii_digit()) => format!("$N = {rest}\n"),
            _ => format!("{l}\n"),
        })
        .collect()
}

#[test]
fn data_commands_equal_crash() {
    let mut compared = 0;
    for d in one_per_scenario() {
        let Some(peer) = crash_peer(&d) else { continue };
        for cmd in COMMANDS {
            let Some(crash) = peer.output(cmd) else { continue };
            let lock = d.manifest["expected"]["lock"].as_str().unwrap_or("");
            let ours = krash_on(&d, &format!("{}\n", cmd.replace("{lock}", lock)));
            assert_eq!(
                without_history_numbers(&ours.stdout),
                without_history_numbers(crash),
                "{}: {cmd}\n{}",
                d.label(),
                ours.stderr
            );
            compared += 1;
        }
    }
    if std::path::Path::new("/usr/bin/crash").exists() && !one_per_scenario().is_empty() {
        assert!(compared > 0, "crash is installed but no output was compared");
    }
}
