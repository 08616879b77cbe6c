//! More of crash's everyday language (issue 18) against crash 8.0.2 on the
//! same dumps, the 5.10 and 6.1 lab kernels crash opens: `bt -f` shows
//! each frame's own words (at exception frames and stack switches too),
//! `bt -R` selects crash's tasks, `bt -S` starts where crash starts, `bt -E`
//! finds exception frames crash finds, `ps -m` lists crash's lines in
//! crash's order, `fuser` finds crash's users. A wrong option prints the
//! usage.

mod common;

use std::collections::BTreeMap;

use common::{crash_outputs, krash_on, one_per_scenario, LabDump};

/// One dump per scenario of the distribution kernels crash 8.0.2 opens
/// (5.10 and 6.1). Not the lab's frame-pointer 6.1 build: crash unwinds it
/// by frame pointers into other traces (its panic task starts at
/// `__schedule`), and it has no `sched_info` for `ps -m`.
fn peer_dumps() -> Vec<LabDump> {
    let dumps: Vec<LabDump> = one_per_scenario()
        .into_iter()
        .filter(|d| d.kernel.ends_with("-cloud-amd64"))
        .filter(|d| d.kernel.starts_with("5.10.") || d.kernel.starts_with("6.1."))
        .collect();
    // crash runs once per dump for every test here: on all cores, once.
    static WARM: std::sync::Once = std::sync::Once::new();
    WARM.call_once(|| {
        common::on_each_dump(&dumps, |d| {
            let _ = crash(d, &[]);
        })
    });
    dumps
}

/// crash's outputs for `commands` on `d`, None where crash cannot open it.
/// crash runs once per dump for every test here: on [`all_commands`], a
/// list each test computes alike (from krash's view of the dump), which the
/// cache is keyed by.
fn crash(d: &LabDump, commands: &[String]) -> Option<BTreeMap<String, String>> {
    let all = all_commands(d);
    let peer = crash_outputs(d, &all)?;
    Some(commands.iter().filter_map(|c| Some((c.clone(), peer.output(c)?.to_string()))).collect())
}

/// Every crash command of these tests on `d`.
fn all_commands(d: &LabDump) -> Vec<String> {
    let mut out: Vec<String> = ["ps", "bt -a -f", "bt -a -F", "bt -E", "ps -m", "ps -l", "ps -m -C all"]
        .iter()
        .map(|c| c.to_string())
        .collect();
    out.extend(bt_r_commands(d));
    out.extend(bt_s_command(d).map(|(c, _)| c));
    out.extend(fuser_commands(d));
    out
}

/// `bt -a -R` of references crash sees: each active task's first two
/// frames (crash 8.0.2 stops early on some traces, so nothing deeper), by
/// name and by code address, and functions no active task runs.
fn bt_r_commands(d: &LabDump) -> Vec<String> {
    let ours = krash_on(d, "bt -a\n");
    let mut refs: Vec<String> = vec!["schedule".into(), "nosuchfunction_xyz".into()];
    for block in ours.stdout.split("\n\n") {
        for f in block.lines().filter(|l| frame_line(l).is_some()).take(2) {
            let words: Vec<&str> = f.split_whitespace().collect();
            if let (Some(func), Some(pc)) = (words.get(2), words.get(4)) {
                refs.push(func.to_string());
                refs.push(pc.to_string());
            }
        }
    }
    refs.sort();
    refs.dedup();
    refs.iter().map(|r| format!("bt -a -R {r}")).collect()
}

/// `bt -S` at the slot of the current task's frame #2, and that frame.
fn bt_s_command(d: &LabDump) -> Option<(String, (u64, String))> {
    let ours = krash_on(d, "bt\n");
    let frame = ours.stdout.lines().filter_map(frame_line).nth(2)?;
    Some((format!("bt -S {:x}", frame.0), frame))
}

/// `fuser` of `/`, `/dev/console`, a file nobody uses and, where crash
/// 8.0.2 reads memory areas (before the 6.1 maple tree), PID 1's first
/// mapped file.
fn fuser_commands(d: &LabDump) -> Vec<String> {
    let mut paths = vec!["/".to_string(), "/dev/console".to_string(), "/nonexistent/file".to_string()];
    if d.kernel.starts_with("5.10.") {
        let vm = krash_on(d, "vm 1\n").stdout;
        if let Some(path) = vm.lines().filter_map(|l| l.split_whitespace().nth(4)).find(|w| w.starts_with('/')) {
            paths.push(path.to_string());
        }
    }
    paths.iter().map(|p| format!("fuser {p}")).collect()
}

/// A frame line of `bt`: (slot, function).
fn frame_line(line: &str) -> Option<(u64, String)> {
    let rest = line.trim_start().strip_prefix('#')?;
    let (level, rest) = rest.split_once(" [")?;
    level.parse::<u32>().ok()?;
    let (slot, rest) = rest.split_once("] ")?;
    let func = rest.split_whitespace().next()?;
    Some((u64::from_str_radix(slot, 16).ok()?, func.to_string()))
}

/// The words of a `-f` data line (`    ffffc90000013a38: 0000... 0000... `).
fn data_words(line: &str) -> Option<usize> {
    let (addr, words) = line.strip_prefix("    ")?.split_once(": ")?;
    (!addr.is_empty() && addr.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()))
        .then(|| words.split_whitespace().count())
}

/// A frame of a `bt -f` trace: slot, function, the words shown under it
/// (after its register block, if any), and whether a register block follows it.
#[derive(Debug, Clone, PartialEq)]
struct FrameData {
    slot: u64,
    func: String,
    words: usize,
    exception: bool,
}

/// Each task's (`PID: ...` line) frames with their words.
fn frames_by_task(text: &str) -> BTreeMap<String, Vec<FrameData>> {
    let mut out: BTreeMap<String, Vec<FrameData>> = BTreeMap::new();
    let mut task = String::new();
    for line in text.lines() {
        if line.starts_with("PID: ") {
            task = line.to_string();
            out.entry(task.clone()).or_default();
        } else if let Some((slot, func)) = frame_line(line) {
            out.entry(task.clone()).or_default().push(FrameData { slot, func, words: 0, exception: false });
        } else if let Some(frame) = out.get_mut(&task).and_then(|f| f.last_mut()) {
            if let Some(n) = data_words(line) {
                frame.words += n;
            } else if line.trim_start().starts_with("RIP: ") {
                frame.exception = true;
            }
        }
    }
    out
}

/// The frames of crash's trace followed by the same next frame (same slot
/// and function) in krash's, where the words shown are comparable. krash
/// may show, between the two, frames entered from saved registers at the
/// next frame's slot (the interrupted function after an exception block),
/// which crash leaves out: they own no words.
fn common_pairs<'a>(ours: &'a [FrameData], theirs: &'a [FrameData]) -> Vec<(&'a FrameData, &'a FrameData)> {
    let mut out = Vec::new();
    for w in theirs.windows(2) {
        let Some(i) = ours.iter().position(|f| f.slot == w[0].slot && f.func == w[0].func) else { continue };
        let next = ours[i + 1..].iter().find(|n| n.slot != w[1].slot || n.func == w[1].func);
        if next.is_some_and(|n| n.slot == w[1].slot && n.func == w[1].func) {
            out.push((&ours[i], &w[0]));
        }
    }
    out
}

#[test]
fn bt_f_shows_each_frames_words_as_crash_does() {
    let (mut compared, mut at_exceptions) = (0, 0);
    for d in peer_dumps() {
        let commands = vec!["bt -a -f".to_string(), "bt -a -F".to_string()];
        let Some(theirs) = crash(&d, &commands) else { continue };
        for cmd in &commands {
            let Some(crash_text) = theirs.get(cmd) else { continue };
            let run = krash_on(&d, &format!("{cmd}\n"));
            let ours = frames_by_task(&run.stdout);
            for (task, crash_frames) in frames_by_task(crash_text) {
                let Some(our_frames) = ours.get(&task) else { continue };
                for (o, c) in common_pairs(our_frames, &crash_frames) {
                    assert_eq!(
                        o.words,
                        c.words,
                        "{}: `{cmd}`, {task}: words under #{} {:x} {}\nkrash:\n{}\ncrash:\n{crash_text}",
                        d.label(),
                        our_frames.iter().position(|f| f == o).unwrap_or(0),
                        o.slot,
                        o.func,
                        run.stdout
                    );
                    compared += 1;
                    if o.exception {
                        at_exceptions += 1;
                    }
                }
                // No frame of ours shows more words than its stack holds
                // between it and the next frame (the old fault: the rest of
                // the stack under an exception frame, repeated below).
                for w in our_frames.windows(2) {
                    if w[1].slot > w[0].slot {
                        let room = usize::try_from((w[1].slot - w[0].slot) / 8).unwrap_or(usize::MAX);
                        assert!(w[0].words <= room, "{}: `{cmd}`, {task}: {:?}\n{}", d.label(), w[0], run.stdout);
                    }
                }
            }
        }
    }
    krash_labtest::assert_compared(compared, "bt -f frames with crash's word counts");
    krash_labtest::assert_compared(at_exceptions, "bt -f exception frames with crash's word counts");
}

/// The `PID: ...` lines of a `bt` output.
fn task_headers(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("PID: ")).collect()
}

#[test]
fn bt_r_selects_crashs_tasks() {
    let mut compared = 0;
    for d in peer_dumps() {
        let commands = bt_r_commands(&d);
        let Some(theirs) = crash(&d, &commands) else { continue };
        let ours_by_command = per_command(&d, &commands);
        for cmd in &commands {
            let Some(crash_text) = theirs.get(cmd) else { continue };
            let our_text = ours_by_command.get(cmd).map(String::as_str).unwrap_or_default();
            assert_eq!(task_headers(our_text), task_headers(crash_text), "{}: `{cmd}`\n{our_text}", d.label());
            compared += 1;
        }
    }
    krash_labtest::assert_compared(compared, "bt -R task selections");
}

/// krash's output of each command, one run per command (outputs of
/// consecutive commands cannot be told apart when some print nothing).
fn per_command(d: &LabDump, commands: &[String]) -> BTreeMap<String, String> {
    commands.iter().map(|c| (c.clone(), krash_on(d, &format!("{c}\n")).stdout)).collect()
}

#[test]
fn bt_s_starts_at_the_stack_address_as_crash_does() {
    let mut compared = 0;
    for d in peer_dumps() {
        let Some((cmd, frame)) = bt_s_command(&d) else { continue };
        let Some(theirs) = crash(&d, std::slice::from_ref(&cmd)) else { continue };
        let Some(crash_text) = theirs.get(&cmd) else { continue };
        // On a task stack crash puts a saved pc at the address as an extra
        // frame #0, at the same slot as the return address found there.
        let mut crash_frames: Vec<(u64, String)> = crash_text.lines().filter_map(frame_line).collect();
        if crash_frames.len() > 1 && crash_frames[0].0 == crash_frames[1].0 {
            crash_frames.remove(0);
        }
        let run = krash_on(&d, &format!("{cmd}\n"));
        let mut our_frames: Vec<(u64, String)> = run.stdout.lines().filter_map(frame_line).collect();
        assert_eq!(our_frames.first(), Some(&frame), "{}: {cmd}: starts at that frame\n{}", d.label(), run.stdout);
        // crash leaves out the frame of a function that ends in a call to a
        // noreturn function (`__stack_chk_fail` calling panic: its return
        // address is its own end); the kernel's Call Trace lists it, as krash
        // does (docs/COMPAT.md). Only such frames, which the console names,
        // are set aside.
        let console = d.console_log();
        our_frames.retain(|(slot, name)| {
            crash_frames.iter().any(|(s, _)| s == slot) || !console.contains(&format!(" {name}+0x"))
        });
        let n = crash_frames.len().min(our_frames.len()).min(4);
        assert!(n > 0, "{}: {cmd}\nkrash:\n{}\ncrash:\n{crash_text}", d.label(), run.stdout);
        assert_eq!(
            our_frames[..n],
            crash_frames[..n],
            "{}: {cmd}\nkrash:\n{}\ncrash:\n{crash_text}",
            d.label(),
            run.stdout
        );
        compared += 1;
    }
    krash_labtest::assert_compared(compared, "bt -S traces");
}

/// `CPU n ... STACK:` sections and the exception frame addresses under each.
fn searched_stacks(text: &str) -> Vec<(String, Vec<u64>)> {
    let mut out: Vec<(String, Vec<u64>)> = Vec::new();
    for line in text.lines() {
        if line.starts_with("CPU ") && line.ends_with("STACK:") {
            out.push((line.to_string(), Vec::new()));
        } else if let Some(addr) = line.trim_start().strip_prefix("KERNEL-MODE EXCEPTION FRAME AT: ") {
            if let (Some(last), Ok(a)) = (out.last_mut(), u64::from_str_radix(addr.trim(), 16)) {
                last.1.push(a);
            }
        }
    }
    out
}

#[test]
fn bt_e_searches_the_stacks_crash_searches() {
    let mut compared = 0;
    for d in peer_dumps() {
        let commands = vec!["bt -E".to_string()];
        let Some(theirs) = crash(&d, &commands) else { continue };
        let Some(crash_text) = theirs.get("bt -E") else { continue };
        let run = krash_on(&d, "bt -E\n");
        let ours = searched_stacks(&run.stdout);
        // crash stops at the first exception stack it cannot name (a VC
        // stack on these kernels); up to there krash lists the same stacks
        // in the same order, and the frames it finds are frames crash finds
        // (crash also takes stale register blocks krash's checks reject).
        for (i, (header, crash_frames)) in searched_stacks(crash_text).iter().enumerate() {
            if header.contains("(unknown)") {
                break;
            }
            let Some((our_header, our_frames)) = ours.get(i) else {
                panic!("{}: krash lists no {header}\n{}", d.label(), run.stdout)
            };
            assert_eq!(our_header, header, "{}\nkrash:\n{}\ncrash:\n{crash_text}", d.label(), run.stdout);
            for f in our_frames {
                assert!(crash_frames.contains(f), "{}: {header} {f:x} is not crash's\n{crash_text}", d.label());
            }
            compared += 1;
        }
        // Somewhere the search found what the trace goes through: the NMI
        // that stopped each other CPU, or the interrupt of a soft lockup.
        let bta = krash_on(&d, "bt -a\n").stdout;
        if bta.contains("--- <NMI exception stack> ---") {
            assert!(
                ours.iter().any(|(h, f)| h.contains("NMI EXCEPTION STACK") && !f.is_empty()),
                "{}: no NMI frame found\n{}",
                d.label(),
                run.stdout
            );
        }
    }
    krash_labtest::assert_compared(compared, "bt -E stacks");
}

/// `[time] [ST]  PID: ...` lines of `ps -m`, and the task address of each.
fn ps_m_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with('[')).collect()
}

fn task_of(line: &str) -> Option<String> {
    line.split("TASK: ").nth(1)?.split_whitespace().next().map(str::to_string)
}

#[test]
fn ps_m_lists_crashs_lines_in_crashs_order() {
    let mut compared = 0;
    for d in peer_dumps() {
        let commands: Vec<String> = ["ps -m", "ps -l", "ps -m -C all"].iter().map(|c| c.to_string()).collect();
        let Some(theirs) = crash(&d, &commands) else { continue };
        let (Some(crash_m), Some(crash_l), Some(crash_c)) =
            (theirs.get("ps -m"), theirs.get("ps -l"), theirs.get("ps -m -C all"))
        else {
            continue;
        };
        let ours_m = krash_on(&d, "ps -m\n").stdout;
        // Every line of crash's is krash's: the time since each task last
        // ran, its state, its header. crash 8.0.2 lists only the tasks of
        // its PID hash on the 6.1 dumps (3 of them); krash lists them all,
        // so there the comparison is over crash's tasks.
        let b = ps_m_lines(crash_m);
        let crash_tasks: Vec<Option<String>> = b.iter().map(|l| task_of(l)).collect();
        let mut a: Vec<&str> = ps_m_lines(&ours_m).into_iter().filter(|l| crash_tasks.contains(&task_of(l))).collect();
        let mut b = b;
        assert!(!b.is_empty(), "{}: crash printed no ps -m lines", d.label());
        if d.kernel.starts_with("5.10.") {
            assert_eq!(ps_m_lines(&ours_m).len(), b.len(), "{}: ps -m task count\n{ours_m}\n{crash_m}", d.label());
        }
        // The order: by last arrival (crash's `ps -l` stamps), most recent
        // first; tasks of equal arrival may come in any order.
        let stamp: BTreeMap<String, u64> = crash_l
            .lines()
            .filter_map(|l| {
                let ts = l.strip_prefix('[')?.split(']').next()?.trim().parse().ok()?;
                Some((task_of(l)?, ts))
            })
            .collect();
        let order = |lines: &[&str]| -> Vec<Option<u64>> {
            lines.iter().map(|l| task_of(l).and_then(|t| stamp.get(&t).copied())).collect()
        };
        assert_eq!(order(&a), order(&b), "{}: ps -m order\nkrash:\n{ours_m}\ncrash:\n{crash_m}", d.label());
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b, "{}: ps -m lines\nkrash:\n{ours_m}\ncrash:\n{crash_m}", d.label());
        // Per CPU: the same blocks, crash's lines in them (days padded to
        // the width of the CPU's clock).
        let ours_c = krash_on(&d, "ps -m -C all\n").stdout;
        let blocks = |t: &str| -> Vec<(String, Vec<String>)> {
            let mut out: Vec<(String, Vec<String>)> = Vec::new();
            for l in t.lines() {
                if l.starts_with("CPU: ") {
                    out.push((l.to_string(), Vec::new()));
                } else if let Some(last) = out.last_mut().filter(|_| l.starts_with('[')) {
                    last.1.push(l.to_string());
                }
            }
            out
        };
        let (ours_blocks, crash_blocks) = (blocks(&ours_c), blocks(crash_c));
        assert_eq!(
            ours_blocks.iter().map(|b| &b.0).collect::<Vec<_>>(),
            crash_blocks.iter().map(|b| &b.0).collect::<Vec<_>>(),
            "{}: ps -m -C all\nkrash:\n{ours_c}\ncrash:\n{crash_c}",
            d.label()
        );
        for ((cpu, ours), (_, theirs)) in ours_blocks.iter().zip(&crash_blocks) {
            for l in theirs {
                assert!(ours.contains(l), "{}: ps -m -C all, {cpu}: {l}\nkrash:\n{ours_c}", d.label());
            }
        }
        compared += 1;
    }
    krash_labtest::assert_compared(compared, "ps -m outputs");
}

#[test]
fn fuser_finds_crashs_users() {
    let mut compared = 0;
    for d in peer_dumps() {
        let commands = fuser_commands(&d);
        let Some(theirs) = crash(&d, &commands) else { continue };
        // The tasks crash knows: all of them on 5.10, only those of its PID
        // hash on 6.1 (see ps), where the lines compared are theirs.
        let Some(crash_ps) = crash(&d, &["ps".to_string()]).and_then(|m| m.get("ps").cloned()) else { continue };
        let known: Vec<String> = crash_ps
            .lines()
            .filter_map(|l| l.split_whitespace().find(|w| w.len() == 16 && w.chars().all(|c| c.is_ascii_hexdigit())))
            .map(str::to_string)
            .collect();
        for cmd in &commands {
            let Some(crash_text) = theirs.get(cmd) else { continue };
            let ours = krash_on(&d, &format!("{cmd}\n"));
            if d.kernel.starts_with("5.10.") {
                assert_eq!(ours.stdout, *crash_text, "{}: `{cmd}`\n{}", d.label(), ours.stderr);
            } else {
                let rows = |t: &str| -> Vec<String> {
                    let mut v: Vec<String> = t
                        .lines()
                        .filter(|l| l.split_whitespace().nth(1).is_some_and(|task| known.iter().any(|k| k == task)))
                        .map(str::to_string)
                        .collect();
                    v.sort();
                    v
                };
                let ours_rows = rows(&ours.stdout);
                assert_eq!(
                    ours_rows,
                    rows(crash_text),
                    "{}: `{cmd}`\nkrash:\n{}\ncrash:\n{crash_text}",
                    d.label(),
                    ours.stdout
                );
                if ours_rows.is_empty() {
                    assert!(crash_text.starts_with("No users of "), "{}: `{cmd}`\n{crash_text}", d.label());
                } else {
                    assert_eq!(ours.stdout.lines().next(), crash_text.lines().next(), "{}: `{cmd}`", d.label());
                }
            }
            compared += 1;
        }
    }
    krash_labtest::assert_compared(compared, "fuser outputs");
}

#[test]
fn fuser_by_inode_and_the_usage_of_wrong_options() {
    let Some(d) = peer_dumps().into_iter().next() else {
        krash_labtest::skip_or_fail("no 5.10 or 6.1 dump in the lab");
        return;
    };
    // The inode of PID 1's first open file, as `files` shows it, finds PID 1.
    let files = krash_on(&d, "files 1\n").stdout;
    let inode = files
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() >= 5 && w[0].parse::<u32>().is_ok()).then(|| w[3].to_string())
        })
        .next();
    if let Some(inode) = inode {
        let run = krash_on(&d, &format!("fuser {inode}\n"));
        assert!(
            run.stdout.lines().any(|l| l.split_whitespace().next() == Some("1") && l.ends_with("fd ")),
            "fuser {inode}:\n{}{}",
            run.stdout,
            run.stderr
        );
    }
    let run = krash_on(&d, "fuser -x /\nps -mZ\nbt -Q\nfuser\nfuser nothex\n");
    for (cmd, letter) in [("fuser", 'x'), ("ps", 'Z'), ("bt", 'Q')] {
        assert!(
            run.stderr.contains(&format!("{cmd}: invalid option -- '{letter}'\nUsage:\n  {cmd} ")),
            "{cmd} -{letter}:\n{}",
            run.stderr
        );
    }
    assert!(run.stderr.contains("fuser: invalid argument: nothex"), "{}", run.stderr);
    assert!(run.stderr.matches("Usage:\n  fuser ").count() >= 2, "fuser without an argument:\n{}", run.stderr);
}
