//! Lab tests of the scheduler and system-object commands (`runq`, `irq`,
//! `timer`, `mount`) against `ps` and what the lab's guest set up.

mod common;

use std::collections::BTreeSet;

use common::{krash_on, one_per_scenario};

/// `(pid, task address)` from a `PID: n TASK: addr` fragment.
fn pid_task(line: &str) -> Option<(i64, String)> {
    let rest = line.split("PID: ").nth(1)?;
    let mut words = rest.split_whitespace();
    let pid = words.next()?.parse().ok()?;
    let (_, after) = rest.split_once("TASK: ")?;
    Some((pid, after.split_whitespace().next()?.to_string()))
}

/// The `ps` rows: task address -> (state, running mark).
fn ps_rows(text: &str) -> Vec<(String, String, bool)> {
    text.lines()
        .filter_map(|l| {
            let active = l.starts_with('>');
            let w: Vec<&str> = l.trim_start_matches('>').split_whitespace().collect();
            let task = w.get(3)?;
            let state = w.get(4)?;
            (task.len() == 16 && task.chars().all(|c| c.is_ascii_hexdigit()))
                .then(|| (task.to_string(), state.to_string(), active))
        })
        .collect()
}

#[test]
fn runq_current_and_queued_tasks_agree_with_ps() {
    for d in one_per_scenario() {
        let run = krash_on(&d, "runq\n");
        let ps = krash_on(&d, "ps\n");
        assert!(run.stdout.contains("RUNQUEUE: "), "{}: runq output:\n{}\n{}", d.label(), run.stdout, run.stderr);
        let rows = ps_rows(&ps.stdout);
        let running: BTreeSet<String> = rows.iter().filter(|r| r.2).map(|r| r.0.clone()).collect();
        let current: BTreeSet<String> = run
            .stdout
            .lines()
            .filter(|l| l.starts_with("  CURRENT: "))
            .filter_map(|l| pid_task(l).map(|p| p.1))
            .collect();
        assert_eq!(current, running, "{}: runq CURRENT tasks vs ps '>' tasks", d.label());
        for line in run.stdout.lines().filter(|l| l.trim_start().starts_with('[') && l.contains("PID: ")) {
            let (_, task) = pid_task(line).expect("queued task line has PID and TASK");
            let row = rows.iter().find(|r| r.0 == task);
            // A task caught mid-wakeup (queued, state not yet RUNNING: the
            // live scenario's 6.12 dump has a kworker so) or preempted before
            // schedule() is queued with a sleep state; its own on_rq field
            // must still agree with the run queue krash walked. One caught
            // inside activate_task() (enqueued, on_rq and state not yet
            // stored: 5.10's softlockup dump has rcu_sched so) is still
            // TASK_WAKING.
            let preempted = || krash_on(&d, &format!("task -R on_rq {task}\n")).stdout.contains("on_rq = 1");
            // A task the run queue holds but no task list does yet (caught
            // in fork: 7.2's sysrq-busy dump has a child of init so) or any
            // more (caught in exit after it was unhashed): drgn's task list
            // must lack it too.
            if row.is_none() {
                let listed_by_drgn = d.drgn().map(|v| {
                    v["tasks"].as_array().into_iter().flatten().any(|t| {
                        t["task"].as_str().and_then(|a| u64::from_str_radix(a.trim_start_matches("0x"), 16).ok())
                            == u64::from_str_radix(&task, 16).ok()
                    })
                });
                assert_eq!(listed_by_drgn, Some(false), "{}: queued task {task} is in no krash task list", d.label());
                eprintln!("{}: queued task {task} is in no task list (krash and drgn agree)", d.label());
                continue;
            }
            assert!(
                row.is_some_and(|r| r.1 == "RU" || r.1 == "WA" || preempted()),
                "{}: queued task {task} is neither RU in ps nor on_rq: {row:?}",
                d.label()
            );
        }
        let timed = krash_on(&d, "runq -t\n");
        assert_eq!(
            timed.stdout.lines().filter(|l| l.starts_with(" CPU ")).count(),
            current.len(),
            "{}: runq -t has a line per CPU:\n{}",
            d.label(),
            timed.stdout
        );
        let running = krash_on(&d, "runq -m\n");
        let marked: BTreeSet<String> = running
            .stdout
            .lines()
            .filter(|l| l.starts_with(" CPU ") && l.contains("]  PID: "))
            .filter_map(|l| pid_task(l).map(|p| p.1))
            .collect();
        assert_eq!(marked, current, "{}: runq -m tasks:\n{}", d.label(), running.stdout);
    }
}

#[test]
fn mount_lists_the_initramfs_root_and_what_the_lab_init_mounted() {
    let init =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../lab/guest/init")).unwrap_or_default();
    for d in one_per_scenario() {
        let run = krash_on(&d, "mount\n");
        let rows: Vec<Vec<&str>> = run.stdout.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
        let has = |fs: &str, dir: &str| rows.iter().any(|w| w.get(2) == Some(&fs) && w.get(4) == Some(&dir));
        assert!(has("rootfs", "/"), "{}: no rootfs on /:\n{}\n{}", d.label(), run.stdout, run.stderr);
        for (fs, dir) in [("proc", "/proc"), ("sysfs", "/sys"), ("devtmpfs", "/dev")] {
            if init.contains(&format!("mount -t {fs} {fs} {dir}")) {
                assert!(has(fs, dir), "{}: {fs} on {dir} missing:\n{}", d.label(), run.stdout);
            }
        }
        // Every mount's superblock and struct mount are kernel addresses.
        for w in &rows {
            assert!(w.first().is_some_and(|a| a.starts_with("ffff")), "{}: bad MOUNT row {w:?}", d.label());
        }
    }
}

#[test]
fn irq_s_counts_the_timer_and_serial_port_on_6_1() {
    for d in one_per_scenario().into_iter().filter(|d| d.kernel.starts_with("6.1.")) {
        let table = krash_on(&d, "irq\n");
        assert!(
            table.stdout.starts_with(" IRQ   IRQ_DESC/_DATA      IRQACTION      NAME\n"),
            "{}: {}",
            d.label(),
            table.stderr
        );
        assert!(
            table.stdout.contains("\"timer\"") && table.stdout.contains("\"ttyS0\""),
            "{}:\n{}",
            d.label(),
            table.stdout
        );
        let run = krash_on(&d, "irq -s\n");
        let count_of = |name: &str| -> u64 {
            run.stdout
                .lines()
                .filter(|l| l.split_whitespace().last() == Some(name))
                .flat_map(|l| l.split_whitespace().skip(1).map_while(|w| w.parse::<u64>().ok()).collect::<Vec<_>>())
                .sum()
        };
        assert!(count_of("timer") > 0, "{}: timer IRQ never counted:\n{}", d.label(), run.stdout);
        assert!(count_of("ttyS0") > 0, "{}: serial IRQ never counted:\n{}", d.label(), run.stdout);
    }
}

#[test]
fn irq_b_names_the_softirq_handlers() {
    for d in one_per_scenario() {
        let run = krash_on(&d, "irq -b\n");
        assert!(run.stdout.starts_with("SOFTIRQ_VEC      ACTION"), "{}: {}", d.label(), run.stderr);
        for handler in ["<run_timer_softirq>", "<net_rx_action>", "<tasklet_action>"] {
            assert!(run.stdout.contains(handler), "{}: {handler} missing:\n{}", d.label(), run.stdout);
        }
    }
}

#[test]
fn timer_lists_each_cpus_bases_with_consistent_expiry() {
    for d in one_per_scenario() {
        let run = krash_on(&d, "timer\n");
        let mut lines = run.stdout.lines();
        assert_eq!(lines.next().map(str::trim_end), Some("JIFFIES"), "{}: {}", d.label(), run.stderr);
        let jiffies: i128 = lines.next().and_then(|l| l.trim().parse().ok()).expect("jiffies value");
        let bases = run.stdout.lines().filter(|l| l.starts_with("TIMER_BASES[")).count();
        assert!(bases >= 2, "{}: timer bases missing:\n{}", d.label(), run.stdout);
        let mut timers = 0;
        for l in run.stdout.lines().filter(|l| l.ends_with('>')) {
            let w: Vec<&str> = l.split_whitespace().collect();
            let expires: i128 = w[0].parse().expect("EXPIRES");
            let tte: i128 = w[1].parse().expect("TTE");
            assert_eq!(expires - jiffies, tte, "{}: {l}", d.label());
            timers += 1;
        }
        assert!(timers > 0, "{}: no pending timers:\n{}", d.label(), run.stdout);
    }
}

#[test]
fn timer_r_lists_hrtimers_with_tte_from_the_current_time() {
    for d in one_per_scenario() {
        let run = krash_on(&d, "timer -r\n");
        assert!(run.stdout.starts_with("CPU: 0  HRTIMER_CPU_BASE: "), "{}: {}", d.label(), run.stderr);
        let mut current: Option<i128> = None;
        let mut rows = 0;
        let mut after_current = false;
        for l in run.stdout.lines() {
            if l.trim() == "CURRENT" {
                after_current = true;
                continue;
            }
            if after_current {
                current = l.trim().parse().ok();
                after_current = false;
                continue;
            }
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.len() == 6 && w[5].starts_with('<') {
                let (expires, tte): (i128, i128) = (w[1].parse().expect("EXPIRES"), w[2].parse().expect("TTE"));
                assert_eq!(Some(expires - tte), current, "{}: {l}", d.label());
                rows += 1;
            }
        }
        assert!(rows > 0, "{}: no hrtimers (every CPU has a tick timer):\n{}", d.label(), run.stdout);
        assert!(run.stdout.contains("<tick_"), "{}: no tick hrtimer:\n{}", d.label(), run.stdout);
    }
}

/// Lines without trailing blanks, leading and trailing empty lines dropped.
fn normalized(text: &str) -> Vec<String> {
    let lines: Vec<String> = text.lines().map(|l| l.trim_end().to_string()).collect();
    let start = lines.iter().position(|l| !l.is_empty()).unwrap_or(lines.len());
    let end = lines.iter().rposition(|l| !l.is_empty()).map_or(start, |e| e + 1);
    lines[start..end].to_vec()
}

/// Where crash is right on 6.1 (it reads these from global tables, not its
/// task list), krash prints exactly what crash prints.
#[test]
fn irq_mount_and_timer_equal_crash_on_6_1() {
    for d in one_per_scenario() {
        let Some(peer) = common::crash_peer(&d) else { continue };
        for command in ["irq", "irq -b", "irq -s", "timer"] {
            let Some(crash_text) = peer.output(command) else { continue };
            let run = krash_on(&d, &format!("{command}\n"));
            assert_eq!(
                normalized(&run.stdout),
                normalized(crash_text),
                "{}: `{command}` differs from crash\n{}",
                d.label(),
                run.stderr
            );
        }
    }
}

/// crash 8.0.2 reads `irq_common_data.affinity` as an inline mask unless the
/// symbol `alloc_cpumask_var_node` exists; these kernels have
/// CONFIG_CPUMASK_OFFSTACK (a pointer) but no such symbol, so crash prints
/// the pointer's low bits: empty. krash's IRQ and NAME columns equal crash's
/// and every handled IRQ may go to some online CPU.
#[test]
fn irq_a_names_equal_crash_and_masks_name_online_cpus() {
    for d in one_per_scenario() {
        let run = krash_on(&d, "irq -a\n");
        assert!(run.stdout.starts_with("IRQ NAME                 AFFINITY\n"), "{}: {}", d.label(), run.stderr);
        let cpus = krash_on(&d, "runq -t\n").stdout.lines().filter(|l| l.starts_with(" CPU ")).count();
        let rows: Vec<(String, String)> = run
            .stdout
            .lines()
            .skip(1)
            .map(|l| (l.get(..25).unwrap_or(l).trim_end().to_string(), l.get(25..).unwrap_or("").to_string()))
            .collect();
        assert!(!rows.is_empty(), "{}: no IRQ with a handler", d.label());
        for (_, affinity) in &rows {
            let ok = !affinity.is_empty()
                && affinity
                    .split(',')
                    .all(|part| part.split('-').all(|n| n.parse::<usize>().is_ok_and(|n| n < cpus.max(1))));
            assert!(ok, "{}: affinity {affinity:?} outside {cpus} CPUs:\n{}", d.label(), run.stdout);
        }
        if let Some(crash_text) = common::crash_peer(&d).and_then(|p| p.output("irq -a").map(str::to_string)) {
            let lines = normalized(&crash_text);
            // crash gives up at the first page it cannot read (on the live
            // scenario's dump: "irq: page excluded: ..."); the rows before
            // that must still equal krash's first rows.
            let complete: Vec<&String> = lines.iter().skip(1).take_while(|l| !l.starts_with("irq: ")).collect();
            let crash_stopped = complete.len() + 1 < lines.len();
            let theirs: Vec<String> =
                complete.iter().map(|l| l.get(..25).unwrap_or(l).trim_end().to_string()).collect();
            let ours: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
            if crash_stopped {
                assert!(
                    ours.starts_with(&theirs),
                    "{}: IRQ/NAME columns before crash's error: {ours:?} vs {theirs:?}",
                    d.label()
                );
            } else {
                assert_eq!(ours, theirs, "{}: IRQ/NAME columns", d.label());
            }
        }
    }
}

/// crash 8.0.2 finds only the tasks in the PID hash it can follow on 6.1 and
/// skips queued tasks it does not know (docs/COMPAT.md), so only the lines
/// that do not depend on its task list are compared: CPU, RUNQUEUE,
/// PRIO_ARRAY, RB_ROOT, ROOT_TASK_GROUP and the current tasks crash knows.
#[test]
fn runq_and_runq_g_queue_addresses_equal_crash_on_6_1() {
    for d in one_per_scenario() {
        let Some(peer) = common::crash_peer(&d) else { continue };
        for command in ["runq", "runq -g"] {
            let Some(crash_text) = peer.output(command) else { continue };
            // `runq -g` on a kernel without CGROUP_SCHED (the flavor).
            if common::refused_as_crash_does(&d, command, crash_text) {
                continue;
            }
            let run = krash_on(&d, &format!("{command}\n"));
            let structural = |text: &str| -> Vec<String> {
                normalized(text)
                    .into_iter()
                    .filter(|l| !l.trim_start().starts_with('[') && !l.contains("CURRENT: ") && !l.trim().is_empty())
                    .collect()
            };
            assert_eq!(structural(&run.stdout), structural(crash_text), "{}: `{command}`\n{}", d.label(), run.stderr);
            let crash_current: Vec<String> =
                normalized(crash_text).into_iter().filter(|l| l.contains("CURRENT: PID:")).collect();
            let ours = normalized(&run.stdout);
            for line in crash_current {
                assert!(ours.contains(&line), "{}: `{command}` lacks crash's {line:?}:\n{}", d.label(), run.stdout);
            }
        }
    }
}
