//! An RCU CPU stall made fatal by `kernel.panic_on_rcu_stall`. RCU's stall
//! detector names the CPUs that have not passed a quiescent state for the
//! grace period ("rcu: INFO: rcu_preempt self-detected stall on CPU", or
//! "... detected stalls on CPUs/tasks:" followed by one line per CPU). The
//! report takes those CPUs from the log and, as an engineer would with
//! `bt -c CPU`, reads what each was running when the dump was taken: the
//! task, and the first function under the interrupt that is not interrupt,
//! watchdog or lock plumbing. The tasks waiting for the grace period that
//! never ends (`synchronize_rcu` and its kin) come with it.

use krash_linux::sched::backtrace::BacktraceExt;
use krash_linux::sched::task::{Task, TaskExt, TaskState};
use krash_program::Kernel;
use krash_unwind::{is_plt_veneer, TraceItem};

use crate::{frame_names, is_plumbing, BlockedTask, Report, BLOCKED_FRAMES_KEPT, MAX_BLOCKED_REPORTED};

/// Frames of a stalled CPU's trace that are kept.
const FRAMES_KEPT: usize = 4;
/// Whether a frame is one a task waiting for a grace period sleeps under
/// (`synchronize_rcu` and its variants, `synchronize_srcu`, `rcu_barrier`).
fn waits_for_grace_period(name: &str) -> bool {
    name.starts_with("synchronize_rcu")
        || name.starts_with("synchronize_srcu")
        || name.starts_with("__wait_rcu_gp")
        || name.starts_with("wait_rcu_gp")
        || name.starts_with("rcu_barrier")
}
/// What the stall detector printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StallReport {
    /// The RCU flavor (`rcu_preempt`, `rcu_sched`).
    pub flavor: Option<String>,
    /// The CPU found stalled its own stall (in its timer interrupt).
    pub self_detected: bool,
    /// The CPU that reported another's stall.
    pub detected_by: Option<u32>,
    pub cpus: Vec<u32>,
    /// How long the grace period had waited, in jiffies (`t=`).
    pub jiffies: Option<u64>,
}

/// A CPU that held up the grace period, and what it was running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StalledCpu {
    pub cpu: u32,
    pub pid: Option<i32>,
    pub comm: Option<String>,
    pub task: Option<u64>,
    /// The first function under the interrupt that is not plumbing.
    pub function: Option<String>,
    /// That function and its callers, innermost first.
    pub frames: Vec<String>,
}

/// An RCU stall: who reported it, and the CPUs that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcuStall {
    pub flavor: Option<String>,
    pub self_detected: bool,
    pub detected_by: Option<u32>,
    pub jiffies: Option<u64>,
    pub cpus: Vec<StalledCpu>,
}

/// Reads the last stall report in the log (bodies without their prefixes).
pub fn parse_stall(bodies: &[&str]) -> Option<StallReport> {
    let start = bodies.iter().rposition(|b| b.starts_with("rcu: INFO: ") && b.contains("detected stall"))?;
    let head = bodies[start].strip_prefix("rcu: INFO: ")?;
    let mut stall = StallReport {
        flavor: head.split_whitespace().next().map(str::to_string),
        self_detected: head.contains("self-detected stall"),
        ..StallReport::default()
    };
    for body in bodies.iter().skip(start + 1).take(64) {
        let line = body.strip_prefix("rcu:").unwrap_or(body).trim();
        if let Some((cpu, _)) = line.split_once('-') {
            if let Ok(cpu) = cpu.parse::<u32>() {
                if line.get(cpu.to_string().len()..).is_some_and(|r| r.starts_with('-') && r.contains(": (")) {
                    stall.cpus.push(cpu);
                    continue;
                }
            }
        }
        if let Some(inner) = line.strip_prefix('(') {
            for part in inner.trim_end_matches(')').split([',', ' ']) {
                if let Some(t) = part.strip_prefix("t=") {
                    stall.jiffies = t.parse().ok();
                }
            }
            if let Some(by) = inner.strip_prefix("detected by ") {
                stall.detected_by = by.split(|c: char| !c.is_ascii_digit()).next().and_then(|n| n.parse().ok());
            }
            continue;
        }
        // The per-CPU lines and the timing line are contiguous.
        if !stall.cpus.is_empty() || stall.jiffies.is_some() {
            break;
        }
    }
    Some(stall)
}

/// Crate-internal: explains an RCU stall.
pub(crate) trait RcuStallInternal {
    fn explain_rcu_stall(&self, report: &mut Report, log_bodies: &[&str]);
}

impl RcuStallInternal for Kernel {
    fn explain_rcu_stall(&self, report: &mut Report, log_bodies: &[&str]) {
        let Some(parsed) = parse_stall(log_bodies) else {
            report
                .lead_finding("RCU stall: the log has no stall report naming the CPUs (it may have been overwritten)")
                .shown_by("log | grep -A4 'rcu: INFO'");
            return;
        };
        let mut cpus: Vec<u32> = parsed.cpus.clone();
        if cpus.is_empty() && parsed.self_detected {
            cpus.extend(report.cpu);
        }
        let active = self.active_tasks().unwrap_or_default();
        let stalled: Vec<StalledCpu> = cpus
            .iter()
            .map(|&cpu| {
                let task = active
                    .iter()
                    .find(|(c, _)| *c == cpu)
                    .and_then(|(_, addr)| self.task_at(*addr).ok().map(std::borrow::Cow::into_owned));
                let frames = task.as_ref().map(|t| self.interrupted_frames(t)).unwrap_or_default();
                StalledCpu {
                    cpu,
                    pid: task.as_ref().map(|t| t.pid),
                    comm: task.as_ref().map(|t| t.comm.clone()),
                    task: task.as_ref().map(|t| t.addr),
                    function: frames.first().cloned(),
                    frames,
                }
            })
            .collect();
        let flavor = parsed.flavor.clone().unwrap_or_else(|| "RCU".into());
        let who = match (parsed.self_detected, parsed.detected_by) {
            (true, _) => "found its own stall in its timer interrupt".to_string(),
            (false, Some(by)) => format!("was reported stalled by CPU {by}"),
            (false, None) => "was reported stalled".to_string(),
        };
        let waited = parsed.jiffies.map(|j| format!(" after {j} jiffies")).unwrap_or_default();
        for s in &stalled {
            let running = match (&s.comm, s.pid, &s.function) {
                (Some(comm), Some(pid), Some(f)) if s.frames.len() > 1 => {
                    format!("it was running {comm} (PID {pid}) in {f} ({})", s.frames.join(" <- "))
                }
                (Some(comm), Some(pid), Some(f)) => format!("it was running {comm} (PID {pid}) in {f}"),
                (Some(comm), Some(pid), None) => {
                    format!("it was running {comm} (PID {pid}), whose stack is unreadable")
                }
                _ => "its running task is unknown".to_string(),
            };
            report
                .lead_finding(format!(
                    "RCU stall: CPU {} held up {flavor}'s grace period{waited} and {who}; {running}, never reaching \
                     a quiescent state (no schedule, no cond_resched, preemption or interrupts off)",
                    s.cpu
                ))
                .shown_by(format!("bt -c {}", s.cpu))
                .shown_by("log | grep -A4 'rcu: INFO'")
                .at(s.task.unwrap_or_default());
        }
        if let Some(f) = stalled.iter().find_map(|s| s.function.clone()) {
            if let Some(m) = self.lookup_symbol(&f).and_then(|s| s.module) {
                report.module = Some(m.clone());
                crate::AnalyzeHelpers::note_module(self, report, &m);
            }
            report.faulting_function = Some(f);
        }
        self.explain_grace_period_waiters(report);
        report.rcu_stall = Some(RcuStall {
            flavor: parsed.flavor,
            self_detected: parsed.self_detected,
            detected_by: parsed.detected_by,
            jiffies: parsed.jiffies,
            cpus: stalled,
        });
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait RcuStallHelpers {
    /// The frames a CPU's interrupt (the timer tick, or the crash's NMI)
    /// found running: past the first kernel exception frame, plumbing left out.
    fn interrupted_frames(&self, task: &Task) -> Vec<String>;
    /// Tasks asleep waiting for a grace period, listed as blocked tasks.
    fn explain_grace_period_waiters(&self, report: &mut Report);
}

impl RcuStallHelpers for Kernel {
    fn interrupted_frames(&self, task: &Task) -> Vec<String> {
        let Ok(bt) = self.backtrace(task) else { return Vec::new() };
        let items = &bt.trace.items;
        let past = items.iter().position(|i| matches!(i, TraceItem::Exception(e) if !e.user_mode)).map_or(0, |i| i + 1);
        // An arm64 module's PLT veneer has no symbol: kallsyms names it
        // after the symbol before the PLT section, which did not run.
        let arm64 = self.arch().machine == krash_arch::Machine::Aarch64;
        items[past..]
            .iter()
            .filter_map(|i| match i {
                TraceItem::Frame(f) if arm64 && f.exact && is_plt_veneer(self.memory(), f.pc) => None,
                TraceItem::Frame(f) => f.symbol.as_ref().map(|s| s.name.clone()),
                _ => None,
            })
            .filter(|n| !is_plumbing(n))
            .take(FRAMES_KEPT)
            .collect()
    }

    fn explain_grace_period_waiters(&self, report: &mut Report) {
        let Ok(tasks) = self.tasks() else { return };
        let mut waiters = Vec::new();
        for t in tasks.iter().filter(|t| t.state == TaskState::UN).take(MAX_BLOCKED_REPORTED) {
            let Ok(bt) = self.backtrace(t) else { continue };
            let all = frame_names(&bt);
            // The caller-facing wait (the outermost: synchronize_rcu) rather than its helpers.
            let Some(wait) = all.iter().rfind(|n| waits_for_grace_period(n)) else { continue };
            waiters.push((wait.to_string(), BlockedTask::asleep(t, &all, BLOCKED_FRAMES_KEPT)));
        }
        if waiters.is_empty() {
            return;
        }
        let names: Vec<String> =
            waiters.iter().map(|(wait, b)| format!("{} (PID {}) in {wait}", b.comm, b.pid)).collect();
        report
            .finding(format!(
                "{} task(s) wait for the grace period the stalled CPU holds up: {}",
                waiters.len(),
                names.join(", ")
            ))
            .shown_by("foreach UN bt");
        report.blocked_tasks.extend(waiters.into_iter().map(|(_, b)| b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_detected_stall_names_its_cpu() {
        let log = [
            "rcu: INFO: rcu_preempt self-detected stall on CPU",
            "rcu: \t1-....: (749 ticks this GP) idle=4e2c/1/0x4000000000000000 softirq=272/273 fqs=373",
            "(t=750 jiffies g=-671 q=11 ncpus=2)",
            "CPU: 1 PID: 127 Comm: krash_mbox",
        ];
        let s = parse_stall(&log).expect("parsed");
        assert_eq!(s.flavor.as_deref(), Some("rcu_preempt"));
        assert!(s.self_detected);
        assert_eq!((s.cpus, s.jiffies, s.detected_by), (vec![1], Some(750), None));
    }

    #[test]
    fn another_cpu_reports_the_stalled_ones() {
        let log = [
            "rcu: INFO: rcu_sched detected stalls on CPUs/tasks:",
            "rcu: \t2-...0: (1 GPs behind) idle=2f4/1/0x4000000000000000 softirq=5/5 fqs=2",
            "rcu: \t5-...!: (0 ticks this GP) idle=a0c/1/0x4000000000000000 softirq=9/9 fqs=2",
            "\t(detected by 0, t=5252 jiffies, g=1405, q=12 ncpus=8)",
            "Task dump for CPU 2:",
        ];
        let s = parse_stall(&log).expect("parsed");
        assert!(!s.self_detected);
        assert_eq!((s.cpus, s.jiffies, s.detected_by), (vec![2, 5], Some(5252), Some(0)));
    }

    #[test]
    fn no_stall_report_is_none() {
        assert_eq!(parse_stall(&["Kernel panic - not syncing: RCU Stall"]), None);
    }
}
