//! A lockup spinning on a spinlock: the lock (the slow path's `lock`
//! argument, from DWARF, else a register pointing at a held lock word),
//! the function that tried to take it, and the likely holder. A spinlock
//! records no owner, so the holder is found the way an engineer finds it
//! with `bt -a` and `dis`: the function on another CPU's stack whose code
//! names the lock's address, and which is not itself waiting for it.

use krash_arch::{Machine, RegisterFile};
use krash_core::VirtualMemory;
use krash_eval::frame_vars::{FrameVarsExt, VariableState};
use krash_linux::sched::backtrace::{BacktraceExt, TaskBacktrace};
use krash_linux::sched::task::TaskExt;
use krash_program::Kernel;

use crate::provenance::ProvenanceInternal;
use crate::provenance_arm64::Arm64ProvenanceInternal;
use crate::{is_plumbing, named_registers, AnalyzeHelpers, Report};

/// Bounds the frames of another CPU's trace searched for the holder.
const MAX_HOLDER_FRAMES: usize = 16;

/// The lock a spinning CPU waits for, and who holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpinWait {
    pub lock: u64,
    /// The lock's symbol (`krash_fw_lock`, `dev+0x40`), when it has one.
    pub symbol: Option<String>,
    /// The lock word as read from the dump.
    pub value: Option<u32>,
    /// Where the lock's address came from: `argument lock` or a register.
    pub found_in: String,
    /// The function that asked for the lock.
    pub waiter_function: Option<String>,
    /// The likely holder: a task on another CPU inside code that takes it.
    pub holder: Option<SpinHolder>,
}

/// A task on another CPU inside a function whose code names the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpinHolder {
    pub cpu: u32,
    pub pid: i32,
    pub comm: String,
    pub task: u64,
    pub function: String,
}

/// True for the spinlock slow and fast paths (x86's native and
/// paravirt queued slow paths, arm64's, and the `_raw_spin_lock*` entries).
pub(crate) fn is_spin_lock_function(name: &str) -> bool {
    name.contains("queued_spin_lock_slowpath")
        || (name.contains("spin_lock") && !name.contains("unlock"))
        || name.contains("pv_wait_head")
}

/// Crate-internal: the lock a lockup spins on.
pub(crate) trait SpinWaitInternal {
    /// `frames_after`: the interrupted context's frames, innermost first.
    fn explain_spin_wait(
        &self,
        report: &mut Report,
        regs: &RegisterFile,
        trace: Option<&TaskBacktrace>,
        frames_after: &[String],
    );
}

impl SpinWaitInternal for Kernel {
    fn explain_spin_wait(
        &self,
        report: &mut Report,
        regs: &RegisterFile,
        trace: Option<&TaskBacktrace>,
        frames_after: &[String],
    ) {
        let Some(rip) = report.rip else { return };
        let Some(spinning_in) = self.symbolize(rip).map(|s| s.name) else { return };
        if !is_spin_lock_function(&spinning_in) {
            return;
        }
        let Some((lock, found_in)) = self.spun_lock(regs, rip, trace) else {
            report
                .finding(format!("the CPU spins in {spinning_in} for a spinlock, but its address is in no register"))
                .shown_by("bt");
            return;
        };
        let symbol =
            self.symbolize(lock).map(|s| if s.offset == 0 { s.name } else { format!("{}+{:#x}", s.name, s.offset) });
        let value = self.memory().read_u32(lock).ok();
        let waiter_function = frames_after.iter().find(|f| !is_spin_lock_function(f) && !is_plumbing(f)).cloned();
        let holder = self.spin_holder(lock, report.cpu);
        let name = symbol.clone().unwrap_or_else(|| format!("{lock:#x}"));
        let mut sentence = format!(
            "{} spins in {spinning_in} waiting for spinlock {name} ({lock:#x}{})",
            waiter_function.as_deref().unwrap_or("the CPU"),
            value.map(|v| format!(", lock word {v:#x}")).unwrap_or_default()
        );
        match &holder {
            Some(h) => sentence.push_str(&format!(
                "; CPU {} runs {} (pid {}) in {}, whose code takes {name}: the likely holder, which never released it",
                h.cpu, h.comm, h.pid, h.function
            )),
            None => sentence
                .push_str("; no other CPU is inside code that takes it (a lock left held by code that returned?)"),
        }
        let mut finding =
            report.lead_finding(sentence).shown_by("bt -a").shown_by(format!("rd -32 {lock:#x} 1")).at(lock);
        if let Some(h) = &holder {
            finding = finding.shown_by(format!("dis -l {}", h.function));
        }
        let _ = finding;
        if let Some(f) = &waiter_function {
            report.faulting_function = Some(f.clone());
            let module = self.lookup_symbol(f).and_then(|s| s.module);
            if let Some(m) = &module {
                report.module = Some(m.clone());
                self.note_module(report, m);
            }
        }
        report.spin_wait = Some(SpinWait { lock, symbol, value, found_in, waiter_function, holder });
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait SpinWaitHelpers {
    /// The lock being spun on, and where its address was found.
    fn spun_lock(&self, regs: &RegisterFile, rip: u64, trace: Option<&TaskBacktrace>) -> Option<(u64, String)>;
    /// A task on a CPU other than `spinning_cpu` inside code that names `lock`.
    fn spin_holder(&self, lock: u64, spinning_cpu: Option<u32>) -> Option<SpinHolder>;
    /// Whether the code of the function holding `pc` names address `lock`.
    fn code_names(&self, pc: u64, lock: u64) -> bool;
}

impl SpinWaitHelpers for Kernel {
    fn spun_lock(&self, regs: &RegisterFile, rip: u64, trace: Option<&TaskBacktrace>) -> Option<(u64, String)> {
        // DWARF's `lock` argument of the slow path, in the interrupted frame.
        let frame = trace.and_then(|t| t.trace.frames().find(|f| f.exact && f.pc == rip));
        if let Some(vars) = frame.map(|f| self.frame_variables(f)) {
            let lock = vars.parameters.iter().find(|v| v.name == "lock" && v.type_name.ends_with('*'));
            if let Some(VariableState::Known { bits: Some(addr), .. }) = lock.map(|v| &v.state) {
                if *addr != 0 {
                    return Some((*addr, "the slow path's argument lock".to_string()));
                }
            }
        }
        // A register pointing at a global whose lock word is held.
        named_registers(regs).into_iter().find_map(|(name, value)| {
            let sym = self.symbolize(value)?;
            let data = !self.is_text_address(value);
            let held = self.memory().read_u32(value).is_ok_and(|w| w & 0xff != 0);
            (data && held && sym.offset % 4 == 0).then(|| (value, format!("%{name}")))
        })
    }

    fn spin_holder(&self, lock: u64, spinning_cpu: Option<u32>) -> Option<SpinHolder> {
        let active = self.active_tasks().ok()?;
        for (cpu, addr) in active {
            if Some(cpu) == spinning_cpu {
                continue;
            }
            let Ok(task) = self.task_at(addr) else { continue };
            let task = task.into_owned();
            if task.idle {
                continue;
            }
            let Ok(bt) = self.backtrace(&task) else { continue };
            let frames: Vec<(String, u64)> = bt
                .trace
                .frames()
                .filter_map(|f| {
                    let name = f.symbol.as_ref()?.name.clone();
                    Some((name, if f.exact { f.pc } else { f.pc.wrapping_sub(1) }))
                })
                .take(MAX_HOLDER_FRAMES)
                .collect();
            // A CPU spinning for the same lock waits too: not the holder.
            if frames.iter().any(|(n, _)| is_spin_lock_function(n)) {
                continue;
            }
            let found = frames.iter().find(|(name, pc)| !is_plumbing(name) && self.code_names(*pc, lock));
            if let Some((function, _)) = found {
                return Some(SpinHolder {
                    cpu,
                    pid: task.pid,
                    comm: task.comm.clone(),
                    task: task.addr,
                    function: function.clone(),
                });
            }
        }
        None
    }

    fn code_names(&self, pc: u64, lock: u64) -> bool {
        match self.arch().machine {
            Machine::X86_64 => self.function_code(pc).is_some_and(|code| {
                code.instrs.iter().flatten().any(|i| {
                    (i.is_ip_rel_memory_operand() && i.ip_rel_memory_address() == lock)
                        || (0..i.op_count()).any(|op| i.try_immediate(op).is_ok_and(|imm| imm == lock))
                })
            }),
            Machine::Aarch64 => {
                self.arm64_function_code(pc).is_some_and(|code| crate::lockup::arm64_addresses(&code).contains(&lock))
            }
            _ => false,
        }
    }
}
