//! A kernel stack overflow from recursion. With `VMAP_STACK` a task's stack
//! has a guard page below it: running into it double-faults on x86-64
//! ("BUG: TASK stack guard page was hit") and switches to the overflow
//! stack on arm64 ("Insufficient stack space to handle exception!"). The
//! backtrace from the fault is then hundreds of frames of the same function
//! (or the same few, for mutual recursion); the report names the cycle once,
//! with how often it repeats, the stack each repetition takes, and where
//! the recursion was entered, as an engineer reads it off `bt`.

use krash_linux::sched::backtrace::TaskBacktrace;
use krash_program::Kernel;
use krash_unwind::TraceItem;

use crate::{is_plumbing, AnalyzeHelpers, Report};

/// The longest cycle of functions looked for (mutual recursion through up
/// to this many functions).
const MAX_CYCLE: usize = 4;
/// Fewer repetitions than this are ordinary recursion, not the overflow.
const MIN_REPEATS: usize = 8;
/// Frames past the recursion that are reported.
const INNERMOST_SHOWN: usize = 4;

/// The recursion that overflowed the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackOverflow {
    /// The functions that repeat, innermost first (one for direct recursion).
    pub cycle: Vec<String>,
    /// How many times the cycle's first function is on the stack.
    pub repeats: usize,
    /// The stack one repetition of the cycle takes, in bytes.
    pub bytes_per_repeat: Option<u64>,
    /// The stack the whole recursion takes, in bytes.
    pub recursion_bytes: Option<u64>,
    /// The function that entered the recursion (the outermost repetition's caller).
    pub entered_from: Option<String>,
    /// The frames past the recursion, innermost first: what ran when the
    /// guard page was hit.
    pub innermost: Vec<String>,
}

/// Crate-internal: explains a stack overflow from the panic task's trace.
pub(crate) trait StackOverflowInternal {
    fn explain_stack_overflow(&self, report: &mut Report, trace: Option<&TaskBacktrace>);
}

impl StackOverflowInternal for Kernel {
    fn explain_stack_overflow(&self, report: &mut Report, trace: Option<&TaskBacktrace>) {
        // Each frame's name and stack pointer, and whether an exception
        // frame came just before it: the fault's own
        // context starts at the last such boundary before the recursion.
        let mut frames: Vec<(String, u64, bool)> = Vec::new();
        let mut boundary = false;
        for item in trace.map(|t| t.trace.items.as_slice()).unwrap_or_default() {
            match item {
                TraceItem::Frame(f) => {
                    if let Some(s) = &f.symbol {
                        frames.push((s.name.clone(), f.sp, boundary));
                        boundary = false;
                    }
                }
                // (A stack switch is listed after the first frame past it.)
                TraceItem::Exception(_) => boundary = true,
                TraceItem::StackSwitch { .. } | TraceItem::Warning { .. } => {}
            }
        }
        let names: Vec<&str> = frames.iter().map(|f| f.0.as_str()).collect();
        let Some(run) = longest_cycle(&names) else {
            report
                .lead_finding(
                    "the task's stack overflowed into its guard page, but its backtrace shows no recursion: one \
                     deep call chain or a large local used the stack up",
                )
                .shown_by("bt");
            return;
        };
        let cycle: Vec<String> = names[run.start..run.start + run.period].iter().map(|s| s.to_string()).collect();
        let repeats = names[run.start..run.end].iter().filter(|n| **n == cycle[0]).count();
        let sp_of = |i: usize| frames.get(i).map(|f| f.1);
        let bytes_per_repeat =
            sp_of(run.start + run.period).zip(sp_of(run.start)).and_then(|(outer, inner)| outer.checked_sub(inner));
        let recursion_bytes =
            sp_of(run.end.saturating_sub(1)).zip(sp_of(run.start)).and_then(|(outer, inner)| outer.checked_sub(inner));
        let entered_from = names.get(run.end).map(|s| s.to_string());
        let context_start = frames[..=run.start].iter().rposition(|f| f.2).unwrap_or(0);
        let innermost: Vec<String> = names[context_start..run.start]
            .iter()
            .filter(|n| !is_plumbing(n))
            .take(INNERMOST_SHOWN)
            .map(|s| s.to_string())
            .collect();
        let calls = if cycle.len() == 1 {
            format!("{} called itself", cycle[0])
        } else {
            format!("{} called each other in a cycle", cycle.join(" -> "))
        };
        let each = bytes_per_repeat.map(|b| format!(" ({b} bytes of stack each)")).unwrap_or_default();
        let whole = recursion_bytes.map(|b| format!(", {b} bytes in all")).unwrap_or_default();
        let from = entered_from.as_ref().map(|f| format!(", entered from {f}")).unwrap_or_default();
        let inner = if innermost.is_empty() {
            String::new()
        } else {
            format!("; the guard page was hit in {}", innermost.join(" <- "))
        };
        report.faulting_function = Some(cycle[0].clone());
        report
            .lead_finding(format!(
                "kernel stack overflow from recursion: {calls} {repeats} times{each}{whole}{from}, until the task's \
                 stack ran into its guard page{inner}"
            ))
            .shown_by("bt")
            .shown_by(format!("dis -l {}", cycle[0]));
        if let Some(m) = self.lookup_symbol(&cycle[0]).and_then(|s| s.module) {
            report.module = Some(m.clone());
            self.note_module(report, &m);
        }
        report.stack_overflow =
            Some(StackOverflow { cycle, repeats, bytes_per_repeat, recursion_bytes, entered_from, innermost });
    }
}

/// A run of frames that repeats with a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    start: usize,
    /// One past the run's last frame.
    end: usize,
    period: usize,
}

/// The run of `names` that repeats the most times, with its shortest
/// period: `names[i] == names[i + period]` all through it.
fn longest_cycle(names: &[&str]) -> Option<Run> {
    let mut best: Option<(usize, Run)> = None;
    for period in 1..=MAX_CYCLE {
        let mut i = 0;
        while i + period < names.len() {
            if names[i] != names[i + period] {
                i += 1;
                continue;
            }
            let start = i;
            while i + period < names.len() && names[i] == names[i + period] {
                i += 1;
            }
            // Frames start..i+period repeat with this period.
            let end = i + period;
            let repeats = (end - start) / period;
            // A shorter period that repeats as often is the same cycle.
            let distinct = names[start..start + period].iter().collect::<std::collections::HashSet<_>>().len();
            if repeats >= MIN_REPEATS && distinct == period && best.is_none_or(|(r, _)| repeats > r) {
                best = Some((repeats, Run { start, end, period }));
            }
        }
    }
    best.map(|(_, run)| run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_recursion_is_one_function() {
        let mut names = vec!["vsnprintf", "snprintf"];
        names.extend(std::iter::repeat_n("walk", 20));
        names.extend(["krash_run_scenario", "vfs_write"]);
        let run = longest_cycle(&names).expect("found");
        assert_eq!((run.start, run.end, run.period), (2, 22, 1));
    }

    #[test]
    fn mutual_recursion_is_the_cycle() {
        let mut names = vec!["memcpy"];
        for _ in 0..10 {
            names.extend(["parse_list", "parse_value"]);
        }
        names.push("parse_config");
        let run = longest_cycle(&names).expect("found");
        assert_eq!((run.start, run.end, run.period), (1, 21, 2));
    }

    #[test]
    fn short_recursion_is_no_overflow() {
        let names = ["a", "a", "a", "b"];
        assert_eq!(longest_cycle(&names), None);
    }
}
