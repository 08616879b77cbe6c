//! Lab tests for the data commands (struct, p, list, task, whatis) on every
//! lab dump: values agree with what ps/set report, the soft-lockup list has
//! exactly the manifest's length, and a walk that cannot return is reported.

mod common;

use common::{krash, krash_on, lab_dumps, LabDump};

/// `set`'s `TASK:`/`PID:`/`COMMAND:` lines: the panic task.
fn panic_task(d: &LabDump) -> (String, String, String) {
    let run = krash_on(d, "set\n");
    let field = |key: &str| {
        run.stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(key).map(|v| v.trim().to_string()))
            .unwrap_or_else(|| panic!("{}: no {key} in set output:\n{}", d.label(), run.stdout))
    };
    (field("TASK:"), field("PID:"), field("COMMAND:"))
}

/// One dump per (kernel, scenario, producer): the formats hold the same memory.
fn representative_dumps() -> Vec<LabDump> {
    let mut seen = std::collections::HashSet::new();
    lab_dumps()
        .into_iter()
        .filter(|d| seen.insert((d.kernel.clone(), d.scenario.clone(), d.producer.clone())))
        .collect()
}

#[test]
fn struct_members_match_the_task_list() {
    for d in representative_dumps() {
        let (task, pid, comm) = panic_task(&d);
        let cmds = format!(
            "struct task_struct.pid,comm {task}\ntask_struct.pid {task}\np (*(struct task_struct *)0x{task}).pid\ntask -R pid {task}\n"
        );
        let run = krash_on(&d, &cmds);
        let out = &run.stdout;
        assert!(out.contains(&format!("  pid = {pid},\n")), "{}: pid line missing:\n{out}\n{}", d.label(), run.stderr);
        let comm_text = comm.trim_matches('"');
        // As gdb prints a char[16]: the NUL padding after a shorter name as
        // \000s; a 15-character name fills it but for its one NUL, not shown.
        let comm_line = if comm_text.len() >= 15 {
            format!("  comm = \"{comm_text}\",")
        } else {
            format!("  comm = \"{comm_text}\\000")
        };
        assert!(out.contains(&comm_line), "{}: comm line missing:\n{out}", d.label());
        assert!(out.contains(&format!(" = {pid}\n")), "{}: p value missing:\n{out}", d.label());
        assert!(out.contains(&format!("TASK: {task}")), "{}: task header missing:\n{out}", d.label());
        assert_eq!(out.matches(&format!("  pid = {pid},")).count(), 3, "{}:\n{out}", d.label());
    }
}

#[test]
fn list_head_struct_agrees_with_raw_memory() {
    for d in representative_dumps() {
        let (task, _, _) = panic_task(&d);
        let run = krash_on(&d, &format!("p &(*(struct task_struct *)0x{task}).tasks\n"));
        let addr = run
            .stdout
            .split_whitespace()
            .find(|w| w.starts_with("0x"))
            .unwrap_or_else(|| panic!("{}: no address in {}", d.label(), run.stdout))
            .trim_start_matches("0x")
            .to_string();
        let run = krash_on(&d, &format!("struct list_head {addr}\nrd {addr} 2\nstruct list_head {addr} -o\n"));
        let out = &run.stdout;
        let next = out
            .lines()
            .find_map(|l| l.trim().strip_prefix("next = 0x"))
            .unwrap_or_else(|| panic!("{}: no next in {out}", d.label()))
            .trim_end_matches(',');
        let next = next.split_whitespace().next().unwrap_or_default();
        let rd_line = out.lines().find(|l| l.starts_with(&addr)).unwrap_or_default();
        assert!(rd_line.contains(&format!("{next:0>16}")), "{}: struct next {next} vs rd {rd_line}", d.label());
        assert!(out.contains(&format!("  [{addr}] struct list_head *next;")), "{}: -o output:\n{out}", d.label());
    }
}

#[test]
fn softlockup_list_length_is_exact_and_fast() {
    let mut exact = std::collections::HashSet::new();
    let mut kernels = std::collections::HashSet::new();
    for d in lab_dumps().into_iter().filter(|d| d.scenario == "softlockup") {
        kernels.insert(d.kernel.clone());
        let expected = d.manifest["expected"]["list_length"].as_u64().expect("manifest has list_length");
        let head = d.manifest["expected"]["list_head"].as_str().expect("manifest has list_head");
        let opened = std::time::Instant::now();
        krash_on(&d, "");
        let open_time = opened.elapsed();
        let started = std::time::Instant::now();
        let run = krash_on(&d, &format!("list -H {head}\n"));
        let elapsed = started.elapsed().saturating_sub(open_time);
        let entries = run.stdout.lines().filter(|l| !l.starts_with("list:")).count() as u64;
        eprintln!("{}: {entries} entries listed in {elapsed:?} beyond opening", d.label());
        if run.stdout.contains("list: list broken at") {
            // makedumpfile may have filtered the pages holding the nodes:
            // the walk must then say where and why, not stop silently.
            assert!(
                run.stdout.contains("excluded from the dump"),
                "{}: {}",
                d.label(),
                run.stdout.lines().last().unwrap_or("")
            );
            continue;
        }
        assert_eq!(entries, expected, "{}: list -H {head}: {}", d.label(), run.stderr);
        // A bound that catches a walk gone quadratic or stuck, not a
        // benchmark (the machine may be busy): speed is scripts/bench's.
        assert!(elapsed.as_secs_f64() < 20.0, "{}: listing took {elapsed:?}", d.label());
        exact.insert(d.kernel.clone());
    }
    assert_eq!(exact, kernels, "every kernel has a dump where the whole list is readable");
}

#[test]
fn a_walk_that_never_returns_is_reported() {
    for d in representative_dumps().into_iter().take(3) {
        // The task list is circular; asking it to end at an address it never
        // reaches makes the walk go round forever unless cycles are caught.
        let run = krash_on(&d, "list -e 0 init_task -o task_struct.tasks\n");
        assert!(
            run.stdout.contains("list: list cycle detected at"),
            "{}: no cycle report:\n{}\n{}",
            d.label(),
            run.stdout.lines().rev().take(3).collect::<Vec<_>>().join("\n"),
            run.stderr
        );
        let run = krash_on(&d, "list -H 0xffffffffffff0000\n");
        assert!(run.stdout.contains("list: list broken at") || !run.stderr.is_empty(), "{}: {}", d.label(), run.stdout);
    }
}

/// `list` in text is written as the list is walked (a second walk after one
/// that counts it); in JSON it is one document. Both must give the same
/// entries and the same reason for stopping, for every shape of walk.
#[test]
fn list_text_written_as_walked_equals_its_json_document() {
    let mut compared = 0;
    for d in representative_dumps().into_iter().take(4) {
        for line in [
            "list -o task_struct.tasks -s task_struct.pid,comm init_task",
            "list -r -o task_struct.tasks -S task_struct.pid init_task",
            "list -e 0 init_task -o task_struct.tasks",
            "list -H 0xffffffffffff0000",
            "list -H modules -s module.name -l",
        ] {
            let text = krash_on(&d, &format!("{line}\n")).stdout;
            let json = krash(
                &["-s", "--json", &d.vmlinux.to_string_lossy(), &d.vmcore.to_string_lossy()],
                &format!("{line}\n"),
            );
            let doc: serde_json::Value = match serde_json::from_str(json.stdout.trim()) {
                Ok(v) => v,
                Err(e) => panic!("{}: {line}: JSON unreadable ({e}):\n{}", d.label(), json.stdout),
            };
            let list = &doc["data"];
            let Some(entries) = list["entries"].as_array() else {
                // An error is an error in both.
                assert!(text.trim().is_empty(), "{}: {line}: text {text}\njson {doc}", d.label());
                continue;
            };
            let want: Vec<String> = entries
                .iter()
                .map(|e| e["addr"].as_str().unwrap_or_default().trim_start_matches("0x").to_string())
                .collect();
            let got: Vec<&str> =
                text.lines().filter(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_hexdigit())).collect();
            assert_eq!(got, want, "{}: {line}: entries differ", d.label());
            let broken_text = text.lines().find_map(|l| l.strip_prefix("list: ")).is_some();
            assert_eq!(broken_text, !list["broken"].is_null(), "{}: {line}: {text}\n{doc}", d.label());
            compared += 1;
        }
    }
    krash_labtest::assert_compared(compared, "list text and JSON");
}

#[test]
fn print_whatis_and_percpu() {
    common::on_each_dump(&representative_dumps(), |d| {
        let run = krash_on(
            d,
            "p sizeof(struct list_head)\nwhatis init_task\nptype struct list_head\np runqueues\np runqueues.cpu:0\np runqueues.cpu:a\np &(*(struct task_struct *)0).tasks\np/x 10+3*2\np $1 * 2\np jiffies == jiffies\n",
        );
        let out = &run.stdout;
        assert!(out.contains("$1 = 16\n"), "{}:\n{out}\n{}", d.label(), run.stderr);
        assert!(out.contains("struct task_struct init_task;\n"), "{}:\n{out}", d.label());
        assert!(out.contains("type = struct list_head {\n    struct list_head *next;\n"), "{}:\n{out}", d.label());
        assert!(
            out.contains("PER-CPU DATA TYPE:\n  struct rq runqueues;\nPER-CPU ADDRESSES:\n  [0]: "),
            "{}:\n{out}",
            d.label()
        );
        assert!(out.contains("per_cpu(runqueues.cpu, 0) = $2 = 0\n"), "{}:\n{out}", d.label());
        assert!(
            out.contains("per_cpu(runqueues.cpu, 0) = $3 = 0\nper_cpu(runqueues.cpu, 1) = $4 = 1\n"),
            "{}:\n{out}",
            d.label()
        );
        assert!(out.contains("$5 = (struct list_head *) 0x"), "{}:\n{out}", d.label());
        assert!(out.contains("$6 = 0x10\n"), "{}:\n{out}", d.label());
        assert!(out.contains("$7 = 32\n"), "{}:\n{out}", d.label());
    });
}

#[test]
fn trees_and_search() {
    for d in representative_dumps().into_iter().take(4) {
        let run = krash_on(&d, "tree -t rbtree -o vmap_area.rb_node -p vmap_area_root\n");
        let entries = run.stdout.lines().filter(|l| !l.starts_with(' ')).count();
        assert!(entries > 10, "{}: {} entries:\n{}{}", d.label(), entries, run.stdout, run.stderr);
        assert!(run.stdout.contains("  position: root\n") && !run.stdout.contains("tree:"), "{}", d.label());
        let (task, _, _) = panic_task(&d);
        let run = krash_on(&d, &format!("search {task}\n"));
        assert!(
            run.stdout.lines().any(|l| l.trim_end().ends_with(&format!(": {task}"))),
            "{}: the task address is stored somewhere (its parent's children list, the runqueue)\n{}",
            d.label(),
            run.stderr
        );
    }
}

/// Output cut into one block per task, each starting at its `PID:` line.
fn task_blocks(text: &str) -> Vec<String> {
    text.split("\nPID: ")
        .enumerate()
        .map(|(i, b)| if i == 0 { b.trim().to_string() } else { format!("PID: {}", b.trim()) })
        .collect()
}

/// `foreach` runs `files` and `task` on many tasks at once: task by task,
/// its output is what the command gives for that task alone, in `ps` order.
#[test]
fn foreach_files_and_task_equal_each_task_alone() {
    let mut compared = 0;
    for d in representative_dumps().into_iter().take(3) {
        let ps = krash_on(&d, "ps\n").stdout;
        // `ps`'s TASK column, in its order.
        let tasks: Vec<String> = ps
            .lines()
            .skip(1)
            .filter_map(|l| l.trim_start_matches('>').split_whitespace().nth(3).map(str::to_string))
            .collect();
        assert!(tasks.len() > 10, "{}: ps gave {} tasks", d.label(), tasks.len());
        for command in ["files", "task -R pid,comm,mm"] {
            let blocks = task_blocks(&krash_on(&d, &format!("foreach {command}\n")).stdout);
            let alone: String = tasks.iter().map(|t| format!("{command} {t}\n")).collect();
            let singles = task_blocks(&krash_on(&d, &alone).stdout);
            assert_eq!(blocks.len(), tasks.len(), "{}: foreach {command}: {} blocks", d.label(), blocks.len());
            assert_eq!(blocks, singles, "{}: foreach {command} differs from each task alone", d.label());
            compared += blocks.len();
        }
    }
    krash_labtest::assert_compared(compared, "foreach files/task blocks");
}

/// The DWARF name index of a vmlinux is kept in krash's cache directory
/// (`KRASH_CACHE_DIR`) between sessions: a second session reads the entry
/// instead of indexing again, and an entry that is damaged or written for
/// another file is rebuilt, with the same answers each time as with no
/// cache at all. On one kdump of every x86-64 lab kernel (the flavor's
/// vmlinux has no BTF: all its types come from the index).
#[test]
fn the_dwarf_name_index_is_kept_between_sessions_and_rebuilt_when_bad() {
    use std::os::unix::fs::MetadataExt;
    let mut kernels = std::collections::HashSet::new();
    let dumps: Vec<LabDump> = common::one_per_scenario()
        .into_iter()
        .filter(|d| d.scenario == "null-member" && kernels.insert(d.vmlinux.clone()))
        .collect();
    common::on_each_dump(&dumps, |d| {
        let cache = tempfile::tempdir().expect("a temporary directory");
        let cache_dir = cache.path().to_string_lossy().into_owned();
        let (vmlinux, vmcore) = (d.vmlinux.to_string_lossy(), d.vmcore.to_string_lossy());
        // A global (DWARF only), a member of one, a type and an enum constant.
        let commands = "p jiffies\nwhatis init_task\np init_task.comm\nwhatis struct list_head\np PIDTYPE_PID\n";
        let run = |dir: &str| common::krash_with_env(&["-s", &vmlinux, &vmcore], commands, &[("KRASH_CACHE_DIR", dir)]);
        let entries = || -> Vec<std::path::PathBuf> {
            std::fs::read_dir(cache.path()).expect("the cache directory").flatten().map(|e| e.path()).collect()
        };
        let label = d.label();

        let reference = run("off");
        assert!(reference.success, "{label}: {}", reference.stderr);
        assert!(reference.stdout.contains("jiffies = "), "{label}: {}", reference.stdout);
        assert!(reference.stdout.contains("struct list_head {"), "{label}: {}", reference.stdout);
        assert!(entries().is_empty(), "{label}: KRASH_CACHE_DIR=off keeps nothing");
        let same_as_reference = |what: &str, r: &common::Run| {
            assert_eq!(r.stdout, reference.stdout, "{label}: {what}");
            assert_eq!(r.stderr, reference.stderr, "{label}: {what}");
        };

        same_as_reference("the session that builds the entry", &run(&cache_dir));
        let stored = entries();
        assert_eq!(stored.len(), 1, "{label}: one entry, no temporary file left: {stored:?}");
        let entry = stored[0].clone();
        assert!(entry.file_name().unwrap().to_string_lossy().starts_with("dwarf-names-"), "{label}: {entry:?}");
        let built = std::fs::read(&entry).unwrap();
        let built_inode = std::fs::metadata(&entry).unwrap().ino();
        let long_ago = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        std::fs::File::options().write(true).open(&entry).unwrap().set_modified(long_ago).unwrap();

        same_as_reference("the session that reads the entry", &run(&cache_dir));
        let meta = std::fs::metadata(&entry).unwrap();
        assert_eq!(meta.ino(), built_inode, "{label}: read, not written again");
        assert!(meta.modified().unwrap() > long_ago, "{label}: the entry read is made the newest");

        // Damaged: cut in half. Rebuilt and replaced (a new file renamed in).
        std::fs::write(&entry, &built[..built.len() / 2]).unwrap();
        same_as_reference("a damaged entry", &run(&cache_dir));
        let rebuilt = std::fs::read(&entry).unwrap();
        assert_eq!(rebuilt.len(), built.len(), "{label}: the damaged entry is rebuilt whole");
        assert_ne!(std::fs::metadata(&entry).unwrap().ino(), built_inode, "{label}: and replaced");

        // Written for another file (its identity differs by one byte after
        // the magic, version and length): rebuilt, with this file's identity.
        let mut foreign = rebuilt.clone();
        foreign[16] ^= 1;
        std::fs::write(&entry, &foreign).unwrap();
        let foreign_inode = std::fs::metadata(&entry).unwrap().ino();
        same_as_reference("another file's entry", &run(&cache_dir));
        assert_ne!(
            std::fs::metadata(&entry).unwrap().ino(),
            foreign_inode,
            "{label}: another file's entry is replaced"
        );
        assert_eq!(std::fs::read(&entry).unwrap()[16], rebuilt[16], "{label}: with this file's identity");
    });
    krash_labtest::assert_compared(dumps.len(), "kernels whose DWARF name index was kept between sessions");
}
