//! `bt --unwinder dwarf` on the lab's arm64 dumps: the vmlinux's
//! `.debug_frame` (pointer-authenticated functions marked with
//! `DW_CFA_AARCH64_negate_ra_state`), with frame records where there is no
//! CFI (entry code, `call_on_irq_stack`, module code), against the
//! frame-record unwinder of plain `bt` and the kernel's own Call trace.
//!
//! - every task's and every CPU's trace names the same functions, frame by
//!   frame, as `bt`'s, a call through a NULL pointer (the null-fnptr
//!   scenario) included: both take the function that made the call (the
//!   scenario's faulting function) from the link register, where the
//!   kernel's Call trace goes from pc 0 straight to that function's caller;
//! - most frames are stepped by CFI (their bracketed slot is x30's save
//!   slot, 8 above the frame record `bt` shows), not by the fallback;
//! - the panicking task's trace holds the console's last Call trace.

mod common;

use common::{arm64_lab_dumps, krash_on, LabDump};

/// One frame line: the function and the bracketed stack slot.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FrameLine {
    name: String,
    slot: u64,
    /// The frame right after an exception block (the interrupted function).
    after_exception: bool,
    /// The exception block before it names no function (pc 0: a NULL call).
    after_null_pc: bool,
}

/// The task blocks of `bt` text in order: the `PID:` line, its frames,
/// and how many frames came before the unwinder had to go on from saved
/// registers past a broken frame record ("frames below are recovered").
type TaskBlock = (String, Vec<FrameLine>, Option<usize>);

fn task_blocks(text: &str) -> Vec<TaskBlock> {
    let mut blocks: Vec<TaskBlock> = Vec::new();
    let (mut after_exception, mut after_null_pc) = (false, false);
    for line in text.lines() {
        if line.starts_with("PID: ") {
            blocks.push((line.to_string(), Vec::new(), None));
            continue;
        }
        if line.contains("(frames below are recovered)") {
            if let Some((_, frames, recovered)) = blocks.last_mut() {
                recovered.get_or_insert(frames.len());
            }
            continue;
        }
        let t = line.trim_start();
        if let Some(rip) = t.strip_prefix("[exception RIP: ") {
            after_exception = true;
            after_null_pc = rip.starts_with("unknown or invalid address");
            continue;
        }
        if !t.starts_with('#') {
            continue;
        }
        // "#3 [ffff80000804be40] kthreadd at ffffb1f8304c6f94 [module]"
        let Some((slot, rest)) = t.split_once('[').and_then(|(_, r)| r.split_once("] ")) else { continue };
        let Some(name) = rest.split(" at ").next() else { continue };
        let Some((_, frames, _)) = blocks.last_mut() else { continue };
        frames.push(FrameLine {
            name: name.to_string(),
            slot: u64::from_str_radix(slot, 16).expect("a hexadecimal slot"),
            after_exception,
            after_null_pc,
        });
        (after_exception, after_null_pc) = (false, false);
    }
    blocks
}

fn names(frames: &[FrameLine]) -> Vec<String> {
    frames.iter().map(|f| f.name.clone()).collect()
}

/// The function the null-fnptr scenario calls through its NULL pointer
/// from (the scenario module's own account in the manifest).
fn null_caller(d: &LabDump) -> Option<String> {
    let expected = &d.manifest["expected"];
    (expected["panic_kind"] == "null_fnptr").then(|| expected["faulting_function"].as_str().map(str::to_string))?
}

/// Whether a trace names the NULL call's caller where the call left it:
/// first (the trace starts at pc 0) or right after the exception block
/// whose pc is 0.
fn names_null_caller(frames: &[FrameLine], caller: &str) -> bool {
    frames.iter().enumerate().any(|(i, f)| f.name == caller && (i == 0 || f.after_null_pc))
}

#[test]
fn arm64_dwarf_cfi_names_every_frame_bt_names() {
    let (mut compared, mut frames, mut by_cfi, mut null_calls) = (0, 0, 0, 0);
    let (mut stopped_at_break, mut lost_at_recovery) = (0, 0);
    for d in arm64_lab_dumps() {
        let plain = krash_on(&d, "foreach bt\nbt -a\n");
        let dwarf = krash_on(&d, "foreach bt --unwinder dwarf\nbt --unwinder dwarf -a\n");
        assert!(dwarf.success, "{}: {}", d.label(), dwarf.stderr);
        let (ours, theirs) = (task_blocks(&dwarf.stdout), task_blocks(&plain.stdout));
        assert_eq!(ours.len(), theirs.len(), "{}: task blocks", d.label());
        assert!(!ours.is_empty(), "{}: no task blocks\n{}", d.label(), dwarf.stdout);
        for ((header, by_dwarf, recovered), (plain_header, by_records, _)) in ours.iter().zip(&theirs) {
            assert_eq!(header, plain_header, "{}", d.label());
            let expected = names(by_records);
            if let Some(caller) = null_caller(&d) {
                if names_null_caller(by_records, &caller) && names_null_caller(by_dwarf, &caller) {
                    null_calls += 1;
                }
            }
            // Where a CFI row gives a return address that is no code (a
            // task switched out where its stack holds stale records, as
            // 6.12's `sleep` in do_page_fault under an el0 IRQ), the CFI
            // unwinder says so and goes on from saved registers (here the
            // user's: the trace ends) while the frame-record chain goes on:
            // the frames up to the break are the same.
            let got = names(by_dwarf);
            if let Some(n) = recovered.filter(|&n| n == got.len() && n < expected.len()) {
                assert_eq!(got, expected[..got.len()], "{}: {header} (recovered after {n})", d.label());
                stopped_at_break += 1;
                continue;
            }
            // Where a CFI step fails mid-trace and the unwinder goes on from
            // registers it finds saved above (the fault's pt_regs: frames
            // marked recovered), the frames in between are lost, never
            // invented: the recovered frames are the chain's own tail, and
            // the ones before are the chain's frames in its order. Seen on a
            // QEMU dump taken while panic()'s delay loop ran in a leaf
            // (`__delay` interrupted at `vectors`), whose caller the CFI
            // step does not find (issue 14).
            if let Some(n) = recovered.filter(|&n| n < got.len() && got.len() < expected.len()) {
                let (before, after) = got.split_at(n);
                assert_eq!(after, &expected[expected.len() - after.len()..], "{}: {header} (recovered)", d.label());
                let mut rest = expected[..expected.len() - after.len()].iter();
                assert!(
                    before.iter().all(|name| rest.any(|e| e == name)),
                    "{}: {header}: frames before the recovery are not the chain's\n{}",
                    d.label(),
                    dwarf.stdout
                );
                lost_at_recovery += 1;
                continue;
            }
            assert_eq!(got, expected, "{}: {header}\n{}", d.label(), dwarf.stdout);
            // A CFI step reads the return address from x30's save slot, one
            // word above the frame record a frame-record step reads.
            let stepped_by_cfi = by_dwarf
                .iter()
                .filter(|f| by_records.iter().any(|r| r.name == f.name && r.slot.checked_add(8) == Some(f.slot)))
                .count();
            frames += by_dwarf.len();
            by_cfi += stepped_by_cfi;
            compared += 1;
        }
    }
    println!(
        "{compared} task traces, {frames} frames, {by_cfi} stepped by CFI, {null_calls} NULL calls, \
         {stopped_at_break} stopped where a CFI row gave no code address, {lost_at_recovery} lost frames before a \
         recovery"
    );
    // Losing frames is the exception, not the rule.
    assert!(lost_at_recovery * 100 <= compared, "{lost_at_recovery} of {compared} traces lost frames at a recovery");
    assert!(by_cfi * 2 > frames, "only {by_cfi} of {frames} frames were stepped by DWARF CFI");
    // The null-fnptr dumps (kdump's and QEMU's) show their NULL call's
    // caller in both unwinders, in `foreach bt` and `bt -a` alike.
    assert!(null_calls > 0, "no trace names the NULL call's caller after pc 0");
    krash_labtest::assert_compared(compared, "arm64 task traces compared between bt and bt --unwinder dwarf");
}

/// Function names of the console's last `Call trace:` block (the
/// panicking CPU's); `None` for a frame the kernel names by the next
/// function (`+0x0/`: a return address past a noreturn call, which krash
/// names by the caller).
fn last_console_trace(console: &str) -> Vec<Option<String>> {
    let mut last = Vec::new();
    let mut current: Option<Vec<Option<String>>> = None;
    for line in console.lines() {
        let text = line.split_once("] ").map_or(line, |(_, rest)| rest).trim();
        if text.ends_with("Call trace:") {
            if let Some(done) = current.take() {
                last = done;
            }
            current = Some(Vec::new());
            continue;
        }
        let Some(block) = current.as_mut() else { continue };
        if text.strip_prefix("0x").is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit())) {
            continue; // pc 0 (a call through NULL): no function
        }
        match text.split_once("+0x") {
            Some((name, offset)) if !name.is_empty() && !name.contains(' ') => {
                block.push((!offset.starts_with("0/")).then(|| name.to_string()));
            }
            _ => last = current.take().unwrap_or_default(),
        }
    }
    if let Some(done) = current {
        last = done;
    }
    last
}

#[test]
fn arm64_dwarf_cfi_panic_trace_holds_the_console_call_trace() {
    let mut compared = 0;
    for d in arm64_lab_dumps() {
        let console = common::console_of(&d);
        let trace = last_console_trace(&console);
        if trace.is_empty() {
            continue;
        }
        let run = krash_on(&d, "bt --unwinder dwarf\n");
        let blocks = task_blocks(&run.stdout);
        let Some((_, frames, _)) = blocks.first() else { panic!("{}: no trace\n{}", d.label(), run.stdout) };
        // panic()'s own trace starts with printing functions that had
        // returned by the dump: from the first function the trace has on.
        let ours = names(frames);
        let from = trace.iter().position(|f| f.as_ref().is_some_and(|f| ours.contains(f))).unwrap_or(trace.len());
        let expected = &trace[from..];
        assert!(expected.len() >= 3, "{}: too little of {trace:?} in {ours:?}", d.label());
        // In order and adjacent, but for one frame after an interrupted
        // function: its caller, which the kernel's frame-record unwinder
        // cannot see (a leaf's caller is only in the saved x30).
        let mut i = frames.iter().position(|f| Some(&f.name) == expected[0].as_ref()).expect("first frame found");
        let mut extra_allowed = false;
        for want in expected {
            loop {
                let f = frames.get(i).unwrap_or_else(|| panic!("{}: {want:?} missing\n{}", d.label(), run.stdout));
                i += 1;
                if want.as_ref().is_none_or(|w| *w == f.name) {
                    // The first frame is the faulting function itself, whose
                    // registers the fault gave: a leaf there has its caller
                    // in x30 only (a compiler clone reading through NULL).
                    extra_allowed = f.after_exception || i == 1;
                    break;
                }
                assert!(extra_allowed, "{}: {} is not {want:?}\n{}", d.label(), f.name, run.stdout);
                extra_allowed = false;
            }
        }
        if d.producer == "qemu" && console.contains("Internal error: ") {
            // QEMU's dumps are taken in panic, above the oops: the trace
            // crosses the exception frame.
            assert!(run.stdout.contains("[exception RIP: "), "{}: no exception frame\n{}", d.label(), run.stdout);
        }
        compared += 1;
    }
    krash_labtest::assert_compared(compared, "arm64 bt --unwinder dwarf panic traces compared with the console");
}
