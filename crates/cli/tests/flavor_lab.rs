//! The lab's no-BTF, frame-pointer, SLAB-allocator kernel (`FP_SLAB_KERNEL`,
//! built by `lab/build` from Debian's linux-source-6.1): the shape of RHEL 7,
//! RHEL 8.0-8.1, Ubuntu 20.04 and Debian 10 kernels. The whole lab suite
//! runs on its dumps too (`common::lab_images`); these check what is its
//! own:
//!
//! - `kmem -s` on SLAB caches against crash 9.0.2 (run from the lab's sid
//!   root): crash 8.0.2 cannot walk 6.1's SLAB (`struct slab` has no
//!   `slab_list` for it), crash 9 can;
//! - `kmem -S` on SLAB caches, which neither crash lists there: every
//!   allocated object against drgn's, and the array caches' entries shown
//!   as the free objects they are;
//! - frame-pointer backtraces through the IRQ stack against the kernel's own
//!   Call Trace, where crash 8.0.2 reports a bogus exception frame;
//! - with the dump alone (no BTF in such a kernel), what still works and the
//!   refusal of what cannot.

mod common;

use std::path::Path;

use common::{cache_lines, drgn_allocated_objects, krash, krash_on, listed_objects, LabDump};
use krash_labtest::FP_SLAB_KERNEL;

fn flavor_dumps() -> Vec<LabDump> {
    common::fp_slab_dumps()
}

#[test]
fn kmem_s_on_slab_equals_crash_9() {
    let mut compared = 0;
    for d in flavor_dumps() {
        let ours = krash_on(&d, "kmem -s\n");
        let ours = cache_lines(&ours.stdout);
        let Some(theirs) = common::crash9_outputs(&d, &["kmem -s".to_string()]) else {
            krash_labtest::skip_or_fail(format!("{}: crash 9 (the lab's sid root) did not run", d.label()));
            continue;
        };
        let theirs = cache_lines(theirs.output("kmem -s").unwrap_or_default());
        assert!(theirs.len() > 50, "{}: crash 9 listed {} caches", d.label(), theirs.len());
        assert_eq!(ours, theirs, "{}: kmem -s differs from crash 9.0.2", d.label());
        // SLAB's numbers are not SLUB's: a kmalloc cache's stride (crash's
        // OBJSIZE there) exceeds its name's size only on SLAB.
        assert!(ours.values().any(|v| v[2] != "0"), "{}: no objects at all", d.label());
        compared += 1;
    }
    krash_labtest::assert_compared(compared, "kmem -s on the SLAB flavor against crash 9");
}

/// Caches whose objects `kmem -S` is checked against drgn on SLAB: small
/// and large objects, one-byte and two-byte free indexes, a busy cache.
const OBJECT_CACHES: [&str; 4] = ["kmalloc-64", "kmalloc-1k", "task_struct", "dentry"];

#[test]
fn kmem_big_s_on_slab_lists_the_objects_drgn_finds_allocated() {
    let (mut compared, mut array_cached) = (0, 0);
    for d in flavor_dumps() {
        let Some(drgn) = drgn_allocated_objects(&d, &OBJECT_CACHES) else {
            krash_labtest::skip_or_fail(format!("{}: drgn did not list the slab objects", d.label()));
            continue;
        };
        let script: String = OBJECT_CACHES.iter().map(|c| format!("kmem -S {c}\nkmem -s {c}\n")).collect();
        let run = krash_on(&d, &script);
        assert!(run.stderr.is_empty(), "{}: {}", d.label(), run.stderr);
        // Each `kmem -S` starts with the cache header; `kmem -s` repeats it.
        let parts: Vec<&str> = run.stdout.split("CACHE             OBJSIZE").skip(1).collect();
        assert_eq!(parts.len(), 2 * OBJECT_CACHES.len(), "{}: {}", d.label(), run.stdout);
        for (i, cache) in OBJECT_CACHES.iter().enumerate() {
            let listed = listed_objects(parts[2 * i]);
            let mut ours = listed.allocated.clone();
            ours.sort();
            let mut theirs = drgn[*cache].clone();
            theirs.sort();
            assert!(!theirs.is_empty(), "{}: drgn found no {cache} object", d.label());
            assert_eq!(ours, theirs, "{}: {cache}: allocated objects differ from drgn's", d.label());
            // Every array-cache entry is shown as a free object of its slab, once.
            let (mut cached, mut entries) = (listed.array_cached.clone(), listed.array_entries.clone());
            cached.sort();
            entries.sort();
            assert_eq!(cached, entries, "{}: {cache}: array-cache entries vs objects marked cached", d.label());
            array_cached += cached.len();
            // kmem -s counts what kmem -S lists.
            let line = cache_lines(parts[2 * i + 1]);
            assert_eq!(line[*cache][1], ours.len().to_string(), "{}: {cache}: kmem -s ALLOCATED", d.label());
            compared += 1;
        }
    }
    krash_labtest::assert_compared(compared, "kmem -S objects on the SLAB flavor against drgn");
    // A busy kernel always has freed objects waiting in its array caches.
    assert!(array_cached > 0 || compared == 0, "no object in any array cache");
}

/// The lines of the console's Call Trace block that starts at `from`, up
/// to the end of that stack (`</IRQ>`, `</TASK>` or a register line).
fn console_block<'a>(console: &'a str, from: &str) -> Vec<&'a str> {
    let Some(start) = console.find(from) else { return Vec::new() };
    console[start..]
        .lines()
        .skip(1)
        .take_while(|l| !l.contains("</IRQ>") && !l.contains("</TASK>") && !l.starts_with("RIP:"))
        .collect()
}

/// Function names of the reliable frames of a Call Trace block.
fn console_trace(console: &str, from: &str) -> Vec<String> {
    console_block(console, from)
        .into_iter()
        .filter_map(|l| {
            let l = l.trim();
            // "? " marks what the kernel's unwinder found by scanning, not by
            // following the chain: a stale return address, not a frame.
            if l.starts_with("? ") {
                return None;
            }
            let name = l.split('+').next()?;
            (!name.is_empty() && !name.contains(' ') && l.contains("/0x")).then(|| name.to_string())
        })
        .collect()
}

/// The frames the kernel's unwinder marked "? " in the same block.
fn console_guessed_frames(console: &str, from: &str) -> Vec<String> {
    console_block(console, from)
        .into_iter()
        .filter_map(|l| Some(l.trim().strip_prefix("? ")?.split('+').next()?.to_string()))
        .collect()
}

#[test]
fn frame_pointer_backtrace_crosses_the_irq_stack_where_crash_8_is_bogus() {
    let mut checked = 0;
    for d in flavor_dumps().into_iter().filter(|d| d.scenario == "softlockup") {
        let bt = krash_on(&d, "bt\n").stdout;
        assert!(!bt.contains("bt: WARNING"), "{}: the frame-pointer walk needed recovery:\n{bt}", d.label());
        // The watchdog interrupted krash_list_walk: the exception frame names it.
        let facts = &d.manifest["expected"];
        let rip = facts["rip_function"].as_str().unwrap_or("krash_list_walk");
        assert!(bt.contains(&format!("[exception RIP: {rip}+")), "{}: no exception frame at {rip}:\n{bt}", d.label());
        // Below it, the task's frames are the console's Call Trace after the IRQ.
        let console = d.console_log();
        let task_frames = console_trace(&console, "<TASK>");
        let ours: Vec<&str> = bt
            .lines()
            .skip_while(|l| !l.contains("[exception RIP:"))
            .filter_map(|l| l.split_once("] ").map(|(_, rest)| rest))
            .filter_map(|rest| rest.split(" at ").next())
            .collect();
        assert!(task_frames.len() >= 5, "{}: short console trace {task_frames:?}", d.label());
        for name in &task_frames {
            assert!(ours.contains(&name.as_str()), "{}: console frame {name} missing from bt:\n{bt}", d.label());
        }
        // krash_list_walk is a leaf without a frame record: its caller,
        // which the kernel's unwinder could only guess ("? "), is read from
        // the word at RSP and comes right after it.
        let guessed = console_guessed_frames(&console, "<TASK>");
        assert!(guessed.iter().any(|g| g.starts_with("scenario_softlockup")), "{}: {guessed:?}", d.label());
        let walk = ours.iter().position(|f| *f == rip);
        for name in &guessed {
            let at = ours.iter().position(|f| f == name);
            assert!(
                at.is_some() && at == walk.map(|w| w + 1),
                "{}: {name}, guessed by the kernel, is not the caller of {rip}:\n{bt}",
                d.label()
            );
        }
        // The user registers the system call saved end the trace.
        assert!(bt.contains("CS: 0033  SS: 002b"), "{}: no user-mode frame at the end:\n{bt}", d.label());
        // crash 8.0.2 reads a bogus exception frame on the IRQ stack of this dump.
        if let Some(transcript) = d.crash_transcript() {
            assert!(
                transcript.contains("WARNING: possibly bogus exception frame"),
                "{}: crash 8.0.2 now gets this right: update docs/COMPAT.md",
                d.label()
            );
        }
        checked += 1;
    }
    krash_labtest::assert_compared(checked, "softlockup backtraces on the frame-pointer flavor");
}

#[test]
fn the_dump_alone_says_what_a_kernel_without_btf_cannot_give() {
    let mut checked = 0;
    for d in flavor_dumps().into_iter().filter(|d| d.scenario == "null-member") {
        let vmcore = d.vmcore.to_string_lossy().into_owned();
        let run = krash(&["-s", &vmcore], "sys\nps\nlog\n");
        let text = format!("{}{}", run.stdout, run.stderr);
        // What needs no types: the release and the log (VMCOREINFO's printk offsets).
        assert!(text.contains(&format!("RELEASE: {FP_SLAB_KERNEL}")), "{}:\n{text}", d.label());
        assert!(text.contains("TYPES: none"), "{}: sys does not say there are no types:\n{text}", d.label());
        let dmesg = std::fs::read_to_string(d.dir.join("vmcore-dmesg.txt")).unwrap_or_default();
        let first = dmesg.lines().find(|l| l.contains("Linux version")).map(|l| l.split("] ").last().unwrap_or(l));
        assert!(first.is_some_and(|l| text.contains(l)), "{}: log does not show the boot line", d.label());
        // What does: refused, naming what is missing.
        assert!(
            text.contains("ps: offset of task_struct.tasks unknown: no type information loaded"),
            "{}: ps is not refused with the reason:\n{text}",
            d.label()
        );
        checked += 1;
    }
    krash_labtest::assert_compared(checked, "dump-alone sessions on the no-BTF flavor");
}

#[test]
fn the_flavor_is_what_it_claims() {
    let Some(vmlinux) = krash_labtest::vmlinux(FP_SLAB_KERNEL) else { return };
    let bytes = std::fs::read(&vmlinux).unwrap_or_default();
    let config = std::fs::read_to_string(
        krash_labtest::kernel_root(FP_SLAB_KERNEL).join(format!("boot/config-{FP_SLAB_KERNEL}")),
    )
    .unwrap_or_default();
    use object::{Object, ObjectSection};
    let elf = object::File::parse(&*bytes).expect("the flavor's vmlinux is an ELF file");
    for absent in [".BTF", ".orc_unwind", ".orc_unwind_ip"] {
        assert!(elf.section_by_name(absent).is_none(), "the flavor's vmlinux has {absent}");
    }
    assert!(elf.section_by_name(".debug_info").is_some_and(|s| s.size() > 0), "no DWARF");
    for line in ["CONFIG_SLAB=y", "CONFIG_UNWINDER_FRAME_POINTER=y", "# CONFIG_RANDOMIZE_BASE is not set"] {
        assert!(config.lines().any(|l| l == line), "the flavor's config lacks {line}");
    }
    assert!(Path::new(&vmlinux).exists());
}
