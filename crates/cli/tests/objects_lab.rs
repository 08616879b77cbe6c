//! Lab tests of the system-object commands (`net`, `dev`, `swap`, `sig`,
//! `waitq`, `ipcs`): equal to crash on the 6.1 dumps where crash can read
//! the object, and consistent with what the lab guest set up on every dump.

mod common;

use common::{crash_peer, krash_on, one_per_scenario, CrashPeer, LabDump};

/// krash's standard output for one command, which must succeed.
fn run(d: &LabDump, command: &str) -> String {
    let r = krash_on(d, &format!("{command}\n"));
    // The start-up warning of a vmlinux without BTF (types from DWARF) is the session's, not the command's.
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| !(l.starts_with("WARNING: ") && l.contains("no BTF")))
        .collect();
    assert!(errors.is_empty(), "{}: `{command}` wrote to stderr:\n{}", d.label(), r.stderr);
    r.stdout
}

/// crash's output for `command`, unless crash failed on it (an error line
/// naming the command, or nothing at all for a command that always prints).
fn peer_text<'p>(peer: &'p Option<CrashPeer>, command: &str) -> Option<&'p str> {
    let text = peer.as_ref()?.output(command)?;
    let name = command.split_whitespace().next().unwrap_or(command);
    (!text.starts_with(&format!("{name}: "))).then_some(text)
}

/// Known differences from crash, by command and kernel release prefix,
/// with why (also in docs/COMPAT.md). Each is asserted to still differ,
/// so a fix must remove its entry.
const KNOWN_GAPS: &[(&str, &str, &str)] = &[(
    "dev -d",
    "5.10.",
    "crash 8.0.2 heads the in-flight columns ASYNC/SYNC on 5.10; krash counts reads and writes and heads them so",
)];

/// Asserts krash and crash print the same lines for `command`, where crash could.
fn same_as_crash(d: &LabDump, peer: &Option<CrashPeer>, command: &str, krash: &str) {
    let gap = KNOWN_GAPS.iter().find(|(c, k, _)| *c == command && d.kernel.starts_with(k));
    if let (Some((_, _, why)), Some(crash)) = (gap, peer_text(peer, command)) {
        assert_ne!(
            krash.trim_end(),
            crash.trim_end(),
            "{}: `{command}` now equals crash: remove its known gap",
            d.label()
        );
        eprintln!("{}: `{command}` differs from crash (known gap: {why})", d.label());
        return;
    }
    if let Some(crash) = peer_text(peer, command) {
        assert_eq!(krash.trim_end(), crash.trim_end(), "{}: `{command}` differs from crash", d.label());
    }
}

#[test]
fn dev_lists_the_guests_devices_as_crash_does() {
    for d in one_per_scenario() {
        let peer = crash_peer(&d);
        let majors = run(&d, "dev");
        same_as_crash(&d, &peer, "dev", &majors);
        let chr = |major: &str, name: &str| majors.lines().any(|l| l.starts_with(&format!(" {major:>3}      {name} ")));
        assert!(chr("1", "mem") && majors.contains("memory_fops"), "{}: no mem chrdev:\n{majors}", d.label());
        assert!(chr("5", "/dev/console"), "{}: no console chrdev:\n{majors}", d.label());
        let (_, blk) = majors.split_once("BLKDEV").expect("a block device section");
        assert!(
            blk.lines().any(|l| l.starts_with(" 254      virtblk") && l.ends_with("virtblk_fops")),
            "{}: the guest's virtio disks have no virtblk major:\n{blk}",
            d.label()
        );

        let disks = run(&d, "dev -d");
        same_as_crash(&d, &peer, "dev -d", &disks);
        let names: Vec<&str> = disks.lines().skip(1).filter_map(|l| l.split_whitespace().nth(2)).collect();
        assert!(names.contains(&"vda") && names.contains(&"vdb"), "{}: dev -d disks {names:?}", d.label());
        for l in disks.lines().skip(1) {
            let w: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(w.first(), Some(&"254"), "{}: dev -d line {l:?}", d.label());
            let n: Vec<u64> = w[4..7].iter().map(|x| x.parse().expect("counts")).collect();
            assert_eq!(n[0], n[1] + n[2], "{}: TOTAL is READ + WRITE in {l:?}", d.label());
        }
        // The gendisk of the virtblk major row is one of the disks dev -d lists.
        let virtblk_gendisk = blk.lines().find(|l| l.starts_with(" 254")).and_then(|l| l.split_whitespace().nth(2));
        assert!(
            disks.lines().any(|l| l.split_whitespace().nth(1) == virtblk_gendisk),
            "{}: virtblk gendisk {virtblk_gendisk:?} not among dev -d disks",
            d.label()
        );

        let resources = run(&d, "dev -i");
        same_as_crash(&d, &peer, "dev -i", &resources);
        let (ports, memory) = resources.split_once("\n\n").expect("two resource trees");
        assert!(
            ports.lines().nth(1).is_some_and(|l| l.ends_with("0000-ffff  PCI IO")),
            "{}: ioport root:\n{ports}",
            d.label()
        );
        for needed in ["  System RAM", "  Kernel code", "  Kernel data", "  Crash kernel"] {
            assert!(memory.contains(needed), "{}: iomem lacks {needed:?}", d.label());
        }
    }
}

#[test]
fn net_shows_loopback_and_dummy_devices() {
    common::on_each_dump(&one_per_scenario(), |d| {
        let peer = crash_peer(d);
        let text = run(d, "net");
        same_as_crash(d, &peer, "net", &text);
        let names: Vec<&str> = text.lines().skip(1).filter_map(|l| l.split_whitespace().nth(1)).collect();
        assert_eq!(names.first(), Some(&"lo"), "{}: net:\n{text}", d.label());
        assert!(names.contains(&"dummy0"), "{}: net:\n{text}", d.label());
        // PID 1 lives in init_net.
        assert_eq!(run(d, "net -n 1"), text, "{}: net -n 1 vs net", d.label());

        let arp = run(d, "net -a");
        same_as_crash(d, &peer, "net -a", &arp);
        // The guest configures no addresses, so nothing is resolved.
        assert!(arp.trim().is_empty(), "{}: net -a:\n{arp}", d.label());

        let sockets = run(d, "net -s 1");
        same_as_crash(d, &peer, "net -s 1", &sockets);
        assert!(
            sockets.starts_with("PID: 1 ") && sockets.contains("No open sockets."),
            "{}: net -s 1:\n{sockets}",
            d.label()
        );
        let full = run(d, "net -S 1");
        assert!(full.starts_with("PID: 1 ") && full.contains("No open sockets."), "{}: net -S 1:\n{full}", d.label());
        assert_eq!(run(d, "net -N 0x0100007f").trim(), "127.0.0.1");
    });
}

#[test]
fn swap_has_only_the_header_without_swap() {
    for d in one_per_scenario() {
        let text = run(&d, "swap");
        same_as_crash(&d, &crash_peer(&d), "swap", &text);
        assert_eq!(text, "SWAP_INFO_STRUCT    TYPE       SIZE       USED     PCT  PRI  FILENAME\n", "{}", d.label());
    }
}

#[test]
fn sig_of_init_matches_its_task_struct() {
    common::on_each_dump(&one_per_scenario(), |d| {
        let peer = crash_peer(d);
        let list = run(d, "sig -l");
        same_as_crash(d, &peer, "sig -l", &list);
        assert_eq!(list.lines().count(), 64, "{}", d.label());
        assert_eq!(run(d, "sig -s 4001").trim(), "SIGHUP SIGTERM");

        let sig = run(d, "sig 1");
        same_as_crash(d, &peer, "sig 1", &sig);
        let signal = run(d, "task -R signal 1");
        let addr = signal.split("signal = 0x").nth(1).and_then(|s| s.split(',').next()).expect("task -R signal");
        assert!(sig.contains(&format!("SIGNAL_STRUCT: {addr}  NR_THREADS: 1\n")), "{}: sig 1:\n{sig}", d.label());
        let actions = sig.lines().filter(|l| l.trim_start().starts_with('[')).count();
        assert_eq!(actions, 64, "{}: sig 1 action lines", d.label());
        // busybox sh, as init, catches SIGINT and SIGCHLD and ignores SIGQUIT.
        let action = |n: &str| sig.lines().find(|l| l.trim_start().starts_with(&format!("[{n}] "))).unwrap_or("");
        assert!(action("3").contains("SIG_IGN"), "{}: SIGQUIT: {}", d.label(), action("3"));
        assert!(!action("17").contains("SIG_DFL"), "{}: SIGCHLD: {}", d.label(), action("17"));
        for part in ["SIGPENDING: ", "   BLOCKED: ", "PRIVATE_PENDING\n", "SHARED_PENDING\n"] {
            assert!(sig.contains(part), "{}: sig 1 lacks {part:?}", d.label());
        }

        let group = run(d, "sig -g 1");
        same_as_crash(d, &peer, "sig -g 1", &group);
        assert!(group.contains("\n  PID: 1 "), "{}: sig -g 1:\n{group}", d.label());
    });
}

#[test]
fn waitq_finds_init_waiting_for_its_children() {
    for d in one_per_scenario() {
        let peer = crash_peer(&d);
        let log_wait = run(&d, "waitq log_wait");
        same_as_crash(&d, &peer, "waitq log_wait", &log_wait);

        // Outside sysrq-busy, init (a shell) sits in wait4 on its own signal_struct's wait_chldexit.
        let bt = run(&d, "bt 1");
        if !bt.contains("do_wait") {
            continue;
        }
        let signal = run(&d, "task -R signal 1");
        let addr = signal.split("signal = 0x").nth(1).and_then(|s| s.split(',').next()).expect("task -R signal");
        let text = run(&d, &format!("waitq signal_struct.wait_chldexit {addr}"));
        assert!(text.lines().any(|l| l.starts_with("PID: 1 ")), "{}: waitq:\n{text}", d.label());
        let bad = krash_on(&d, "waitq no_such_wait_queue_symbol\n");
        assert!(bad.stderr.contains("no_such_wait_queue_symbol"), "{}: {}", d.label(), bad.stderr);
    }
}

#[test]
fn ipcs_reports_no_sysv_objects() {
    for d in one_per_scenario() {
        let text = run(&d, "ipcs");
        same_as_crash(&d, &crash_peer(&d), "ipcs", &text);
        assert_eq!(text.matches("(none allocated)").count(), 3, "{}: ipcs:\n{text}", d.label());
        assert!(run(&d, "ipcs -m").starts_with("SHMID_KERNEL "), "{}", d.label());
    }
}
