//! Backtraces of tasks: the inputs krash-unwind needs, gathered from the
//! kernel model. ORC tables come from the vmlinux and from each loaded
//! module's `struct module` in the dump; stacks from the task and its
//! CPU's per-cpu IRQ and exception stack pointers; starting registers from
//! the dump's CPU notes for running tasks and from `thread.sp` for
//! sleeping ones.

use crate::sched::task::TaskExt;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use krash_arch::{Arch, RegisterFile, RegisterId, RegisterRole, StackLocator};
use krash_core::{Error, Result, VirtualMemory};
use krash_debuginfo::orc::{OrcEntry, OrcFlags, OrcFormat, OrcTable};
use krash_program::CpuState;
use krash_unwind::{
    find_parked_frame, unwind_with, Backtrace, CfiRow, CfiTable, CodeInfo, Method, SavedRegsGeometry, StackKind,
    StackRange, StackSet, StartState, StepResult, Symbolized, TraceItem, UnwindState,
};
use serde::Serialize;

use crate::sched::task::Task;
use krash_program::Kernel;

/// How far below the saved stack pointer the parked frame of a kdump
/// CPU (machine_kexec, crash_nmi_callback) may lie.
const PARKED_SEARCH_SPAN: u64 = 0x1000;
/// The key of x86-64's NMI exception stack (`krash_arch::x86_64::STACKS`),
/// where `crash_nmi_callback` parks the CPUs kdump stops.
const NMI_STACK: &str = "nmi";

/// ORC tables for the kernel image and every loaded module.
pub struct OrcTables {
    vmlinux: Option<OrcTable>,
    /// How the entry format was settled (the same for every table).
    pub format: OrcFormatProbe,
    /// `[start, end)` of a module's text and its table.
    modules: Vec<(u64, u64, OrcTable)>,
    /// Why the vmlinux table is missing, for messages.
    pub vmlinux_error: Option<String>,
    /// The vmlinux's DWARF CFI, read when an unwind first needs it.
    vmlinux_cfi: std::sync::OnceLock<std::result::Result<CfiTable, String>>,
}

/// How the ORC entry format of a kernel was found: the flag bits from
/// `struct orc_entry` in the types (when loaded), the register numbering
/// (and the flag bits, without types) from the vmlinux table's entries at
/// function entry points. See [`krash_debuginfo::orc`] for the formats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrcFormatProbe {
    /// The format every table is decoded with.
    pub format: OrcFormat,
    /// The flag layout the types gave, if they describe `struct orc_entry`.
    pub flags_from_types: Option<OrcFlags>,
    /// Function entry points checked, and how many agree with `format`;
    /// `None` when the table probe failed (see `problem`).
    pub samples: Option<(usize, usize)>,
    /// Why the format is a fallback, when it is one.
    pub problem: Option<String>,
}

/// How a backtrace found its starting registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StartSource {
    /// The CPU's crash-time registers as the dump notes record them.
    CpuNote,
    /// kdump's panicking CPU: the `machine_kexec` frame below the saved registers.
    KexecFrame,
    /// A CPU kdump stopped by NMI: the `crash_nmi_callback` frame on its NMI stack.
    NmiCallbackFrame,
    /// A sleeping task: `thread.sp` and its `inactive_task_frame`.
    SwitchFrame,
    /// A stack address the user gave (`bt -S`): the first return address
    /// at or above it.
    GivenStackAddress,
}

/// One task's backtrace with the context it was computed in.
#[derive(Debug, Clone, Serialize)]
pub struct TaskBacktrace {
    pub task: u64,
    pub pid: i32,
    pub cpu: u32,
    pub comm: String,
    /// Running on its CPU when the dump was taken.
    pub active: bool,
    pub stacks: StackSet,
    pub start_source: StartSource,
    /// The stack pointer the trace starts from.
    pub start_sp: u64,
    pub trace: Backtrace,
}

/// The kernel's code as krash-unwind sees it.
pub struct KernelCode<'k> {
    kernel: &'k Kernel,
    orc: &'k OrcTables,
}

/// Decoded prologues by (function start, decoding limit), for the life of
/// the kernel model (a live refresh drops it with the rest of its state).
#[derive(Default)]
struct PrologueCache(Mutex<HashMap<PrologueKey, Option<Vec<RegisterId>>>>);

/// A function's start and where its decoding stopped (an interrupted pc).
type PrologueKey = (u64, Option<u64>);

/// More distinct prologues than a kernel has functions worth unwinding
/// through: past this the cache starts over rather than grow.
const PROLOGUE_CACHE_ENTRIES: usize = 1 << 16;

impl CodeInfo for KernelCode<'_> {
    fn arch(&self) -> &'static Arch {
        self.kernel.arch()
    }

    fn prologue_pushes(
        &self,
        start: u64,
        limit: Option<u64>,
        decode: &dyn Fn() -> Option<Vec<RegisterId>>,
    ) -> Option<Vec<RegisterId>> {
        let cache = &self.kernel.cached(PrologueCache::default).0;
        if let Some(hit) = cache.lock().ok().and_then(|c| c.get(&(start, limit)).cloned()) {
            return hit;
        }
        let pushes = decode();
        if let Ok(mut c) = cache.lock() {
            if c.len() >= PROLOGUE_CACHE_ENTRIES {
                c.clear();
            }
            c.insert((start, limit), pushes.clone());
        }
        pushes
    }

    fn orc(&self, ip: u64) -> Option<OrcEntry> {
        if self.kernel.in_kernel_image(ip) {
            return self.orc.vmlinux.as_ref()?.find(ip);
        }
        self.orc.modules.iter().find(|(lo, hi, _)| (*lo..*hi).contains(&ip)).and_then(|(_, _, t)| t.find(ip))
    }

    fn is_text(&self, addr: u64) -> bool {
        self.kernel.is_text_address(addr)
    }

    fn symbolize(&self, addr: u64) -> Option<Symbolized> {
        self.kernel.symbolize(addr).map(|s| Symbolized { name: s.name, offset: s.offset, module: s.module })
    }

    fn cfi(&self, ip: u64) -> Option<CfiRow> {
        if !self.kernel.in_kernel_image(ip) {
            return None;
        }
        self.kernel.cfi_table().ok()?.row(ip)
    }

    fn return_address(&self, raw: u64) -> u64 {
        if self.kernel.arch().machine != krash_arch::Machine::Aarch64 {
            return raw;
        }
        let mask = self.kernel.vmcoreinfo().number("KERNELPACMASK").map(|m| m as u64);
        krash_arch::arm64::strip_pac(raw, mask)
    }

    fn saved_regs_geometry(&self) -> Option<SavedRegsGeometry> {
        let layouts = self.kernel.layouts();
        Some(SavedRegsGeometry {
            size: layouts.size_of("pt_regs").ok()?,
            frame_record_offset: layouts.offset("pt_regs", "stackframe").ok()?,
        })
    }

    fn function_named(&self, name: &str, module: Option<&str>) -> Option<u64> {
        match module {
            None => self.kernel.symbols().by_name(name).map(|s| s.addr),
            Some(m) => self.kernel.modules().ok()?.iter().find(|x| x.name == m)?.symbols.by_name(name).map(|s| s.addr),
        }
    }
}

/// The vmlinux's `.debug_frame`, already relocated in the linked image
/// (read with the architecture's vendor opcodes: arm64's pointer
/// authentication marks).
fn read_vmlinux_cfi(path: &Path, kaslr: u64, arch: &Arch) -> Result<CfiTable> {
    use object::{Object, ObjectSection};
    let map = krash_core::MappedFile::open(path)?;
    let elf = object::File::parse(&**map).map_err(|e| Error::bad_data("vmlinux", e.to_string()))?;
    let section = elf
        .section_by_name(".debug_frame")
        .ok_or_else(|| Error::MissingDebuginfo(format!("{} has no .debug_frame", path.display())))?;
    let data = section.uncompressed_data().map_err(|e| Error::bad_data("vmlinux .debug_frame", e.to_string()))?;
    CfiTable::from_debug_frame(&data, kaslr, arch)
}

fn read_vmlinux_orc(path: &Path, kaslr: u64) -> Result<OrcTable> {
    let map = krash_core::MappedFile::open(path)?;
    Ok(OrcTable::from_vmlinux(&map)?.with_offset(kaslr))
}

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait BacktraceExt {
    /// ORC tables (vmlinux and modules), read on first use.
    fn orc_tables(&self) -> &OrcTables;
    /// The vmlinux's DWARF CFI (`.debug_frame`), read on first use; the
    /// error says why it is unavailable (no vmlinux, no section).
    fn cfi_table(&self) -> std::result::Result<&CfiTable, &str>;
    /// The unwinder's view of this kernel's code.
    fn code_info(&self) -> KernelCode<'_>;
    /// The stacks a task may be unwound over: its own, plus its CPU's IRQ
    /// and exception stacks when it was running.
    fn task_stacks(&self, task: &Task) -> Result<StackSet>;
    /// A CPU's own stacks (IRQ, exception, entry: every kind the
    /// architecture lists but the task stack), those that can be found.
    fn cpu_stacks(&self, cpu: u32) -> Vec<StackRange>;
    /// The dump's crash-time register note for a CPU (notes are written
    /// for online CPUs in order).
    fn cpu_note(&self, cpu: u32) -> Option<&CpuState>;
    /// The backtrace of one task (what `bt`, `bt -a` and `foreach bt` show).
    fn backtrace(&self, task: &Task) -> Result<TaskBacktrace>;
    /// [`backtrace`](Self::backtrace) following only the tables `method`
    /// names (`bt --unwinder`).
    fn backtrace_by(&self, task: &Task, method: Method) -> Result<TaskBacktrace>;
    /// [`backtrace`](Self::backtrace) reading the stacks through `mem`
    /// (tests use an overlay that damages a stack).
    fn backtrace_with_memory(&self, task: &Task, mem: &dyn VirtualMemory) -> Result<TaskBacktrace>;
    /// The backtrace of `task` starting at stack address `sp` instead of
    /// its saved stack pointer (`bt -S`): the first word at or above `sp`
    /// on that stack that is a return address (text just after a call) is
    /// frame #0, and the unwind goes on from there. `sp` must be on one of
    /// the task's stacks (its own, or its CPU's when it was running).
    fn backtrace_from_stack(&self, task: &Task, sp: u64, method: Method) -> Result<TaskBacktrace>;
}

impl BacktraceExt for Kernel {
    fn orc_tables(&self) -> &OrcTables {
        self.session_cached(|| self.read_orc_tables())
    }

    fn cfi_table(&self) -> std::result::Result<&CfiTable, &str> {
        self.orc_tables()
            .vmlinux_cfi
            .get_or_init(|| match self.files().vmlinux.as_deref() {
                Some(path) => read_vmlinux_cfi(path, self.kaslr_offset(), self.arch()).map_err(|e| e.to_string()),
                None => Err("no vmlinux given: DWARF CFI needs its .debug_frame".to_string()),
            })
            .as_ref()
            .map_err(|e| e.as_str())
    }

    fn code_info(&self) -> KernelCode<'_> {
        KernelCode { kernel: self, orc: self.orc_tables() }
    }

    fn task_stacks(&self, task: &Task) -> Result<StackSet> {
        let spec = self.arch().stacks;
        let mut stacks = Vec::with_capacity(spec.kinds.len());
        for kind in spec.kinds {
            if kind.locator == StackLocator::TaskStack {
                let base = self.read_field_u64(task.addr, "task_struct", "stack")?;
                stacks.push(StackRange { kind, base, top: base.wrapping_add(self.thread_size()) });
            } else if task.active {
                stacks.extend(self.cpu_stack(kind, task.cpu));
            }
        }
        Ok(StackSet { stacks })
    }

    fn cpu_stacks(&self, cpu: u32) -> Vec<StackRange> {
        let kinds = self.arch().stacks.kinds.iter();
        kinds.filter(|k| k.locator != StackLocator::TaskStack).filter_map(|k| self.cpu_stack(k, cpu)).collect()
    }

    fn cpu_note(&self, cpu: u32) -> Option<&CpuState> {
        // In kernel mode GS holds the CPU's per-cpu base; QEMU records it
        // (and swaps it into kernel_gs_base in user mode), which names the
        // CPU even when QEMU's note order differs from the kernel's.
        if let Ok(base) = self.percpu_offset(cpu) {
            let by_gs = self.cpu_states().iter().find(|n| {
                let regs = &n.registers;
                base != 0
                    && (regs.by_role(RegisterRole::PerCpuBase).unwrap_or(0) == base
                        || regs.by_name("kernel_gs_base") == Some(base))
            });
            if by_gs.is_some() {
                return by_gs;
            }
        }
        // Without such a register (arm64), the stack a note's SP is on
        // names its CPU: one of the CPU's own stacks (an IPI stopped it),
        // or the stack of the task current on it. Note order cannot: the
        // CPUs a stop IPI parked have left the online mask by then, and
        // QEMU writes its notes in vCPU order.
        let mut own_stacks = self.cpu_stacks(cpu);
        if let Ok(tasks) = self.tasks() {
            for t in tasks.iter().filter(|t| t.active && t.cpu == cpu) {
                if let Ok(base) = self.read_field_u64(t.addr, "task_struct", "stack") {
                    let kind = self.arch().stacks.of_class(krash_arch::StackClass::Task);
                    own_stacks.extend(kind.map(|kind| StackRange {
                        kind,
                        base,
                        top: base.wrapping_add(self.thread_size()),
                    }));
                }
            }
        }
        let by_stack = self
            .cpu_states()
            .iter()
            .find(|n| n.registers.sp().is_some_and(|sp| own_stacks.iter().any(|s| (s.base..s.top).contains(&sp))));
        if by_stack.is_some() {
            return by_stack;
        }
        let online = self.online_cpus().ok()?;
        let index = online.iter().position(|&c| c == cpu)?;
        self.cpu_states().iter().find(|n| n.index == index)
    }

    fn backtrace(&self, task: &Task) -> Result<TaskBacktrace> {
        self.backtrace_with_memory(task, self.memory())
    }

    fn backtrace_by(&self, task: &Task, method: Method) -> Result<TaskBacktrace> {
        self.backtrace_unwound(task, self.memory(), method)
    }

    fn backtrace_with_memory(&self, task: &Task, mem: &dyn VirtualMemory) -> Result<TaskBacktrace> {
        self.backtrace_unwound(task, mem, Method::Auto)
    }

    fn backtrace_from_stack(&self, task: &Task, sp: u64, method: Method) -> Result<TaskBacktrace> {
        let stacks = self.task_stacks(task)?;
        let range = *stacks.find(sp).ok_or_else(|| {
            Error::NotFound(format!("unrecognized stack address for this task: {sp:x} (pid {})", task.pid))
        })?;
        let code = self.code_info();
        let first = krash_unwind::text_words(self.memory(), &code, &range, sp).into_iter().next().ok_or_else(|| {
            Error::NotFound(format!("no return address on the {} from {sp:x} up", range.kind.crash_name))
        })?;
        // Where the task's own trace passes that slot, it is that trace from
        // there: it knows the registers ORC may need (RBP in functions that
        // keep a frame pointer), which a start from a bare stack word does not.
        let from_own_trace = self.backtrace_by(task, method).ok().and_then(|own| {
            let items = own.trace.items;
            let at = items
                .iter()
                .position(|i| matches!(i, TraceItem::Frame(f) if f.slot == first.addr && f.pc == first.value))?;
            let base = match items.get(at) {
                Some(TraceItem::Frame(f)) => f.level,
                _ => 0,
            };
            let mut tail: Vec<TraceItem> = items.into_iter().skip(at).collect();
            for item in &mut tail {
                if let TraceItem::Frame(f) = item {
                    f.level = f.level.saturating_sub(base);
                }
            }
            Some(Backtrace { items: tail })
        });
        let trace = from_own_trace.unwrap_or_else(|| {
            let state =
                UnwindState { ip: first.value, sp: first.addr.wrapping_add(8), bp: 0, signal: false, regs: None };
            unwind_with(method, self.memory(), &code, &stacks, StartState { state, slot: first.addr })
        });
        Ok(TaskBacktrace {
            task: task.addr,
            pid: task.pid,
            cpu: task.cpu,
            comm: task.comm.clone(),
            active: task.active,
            stacks,
            start_source: StartSource::GivenStackAddress,
            start_sp: sp,
            trace,
        })
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait BacktraceHelpers {
    fn read_orc_tables(&self) -> OrcTables;
    /// Settles the ORC entry format: flag bits from the types' `struct
    /// orc_entry`, register numbering (and flag bits without types) from
    /// the vmlinux table checked at every function entry point.
    fn probe_orc_format(&self, table: Option<&OrcTable>) -> OrcFormatProbe;
    /// The kernel image's ORC tables as the running kernel has them
    /// (`__start_orc_unwind_ip`..), for dumps opened without a vmlinux.
    fn read_memory_orc(&self) -> Result<OrcTable>;
    /// One of a CPU's stacks, found as the architecture's locator for
    /// `kind` says (x86-64: the hard-IRQ stack through the per-cpu
    /// `hardirq_stack_ptr`, up to 6.1 and again in 7.x,
    /// `pcpu_hot.hardirq_stack_ptr`, 6.2 to 6.x, or `irq_stack_ptr` before
    /// 5.2; the IST stacks of
    /// `struct cea_exception_stacks`; the entry trampoline stack, whose top
    /// the TSS's `sp0` holds whatever task runs, so that an interrupt from
    /// user mode lands there before the entry code moves to the task
    /// stack). `None` when the kernel does not have it or it cannot be read.
    fn cpu_stack(&self, kind: &'static StackKind, cpu: u32) -> Option<StackRange>;
    /// The address of `member` of per-cpu variable `variable` on `cpu`
    /// (the variable itself without a member).
    fn percpu_member_addr(&self, variable: &str, member: Option<&str>, cpu: u32) -> Option<u64>;
    fn backtrace_unwound(&self, task: &Task, mem: &dyn VirtualMemory, method: Method) -> Result<TaskBacktrace>;
    /// A sleeping task resumes at `inactive_task_frame.ret_addr`, with its
    /// stack just above that frame.
    fn sleeping_start(&self, task: &Task, mem: &dyn VirtualMemory) -> Result<StartState>;
    /// Where a running task's trace starts. QEMU notes are the live CPU
    /// state; kdump's notes are the registers saved when the crash began,
    /// below which the CPU parked (in machine_kexec on the panicking CPU,
    /// in crash_nmi_callback on the others), and crash shows those frames.
    fn running_start(
        &self,
        task: &Task,
        note: &CpuState,
        stacks: &StackSet,
        code: &KernelCode<'_>,
        mem: &dyn VirtualMemory,
    ) -> (StartState, StartSource);
    fn function_range(&self, name: &str) -> Option<(u64, u64)>;
    fn kexec_frame(
        &self,
        stacks: &StackSet,
        code: &KernelCode<'_>,
        mem: &dyn VirtualMemory,
        regs: &RegisterFile,
    ) -> Option<StartState>;
    fn nmi_callback_frame(
        &self,
        stacks: &StackSet,
        code: &KernelCode<'_>,
        mem: &dyn VirtualMemory,
        regs: &RegisterFile,
    ) -> Option<StartState>;
}

impl BacktraceHelpers for Kernel {
    fn read_orc_tables(&self) -> OrcTables {
        let (vmlinux, vmlinux_error) = match self.files().vmlinux.as_deref() {
            Some(path) => match read_vmlinux_orc(path, self.kaslr_offset()) {
                Ok(t) => (Some(t), None),
                Err(e) => (None, Some(e.to_string())),
            },
            None => match self.read_memory_orc() {
                Ok(t) => (Some(t), None),
                Err(e) => (None, Some(format!("no vmlinux given, and the ORC tables in the dump are unreadable: {e}"))),
            },
        };
        let format = self.probe_orc_format(vmlinux.as_ref());
        let vmlinux = vmlinux.map(|t| t.with_format(format.format));
        let mut modules = Vec::new();
        for m in self.modules().unwrap_or_default() {
            let table = (|| -> Result<OrcTable> {
                let count = self.read_field(m.addr, "module", "arch.num_orcs")?;
                let ips = self.read_field_u64(m.addr, "module", "arch.orc_unwind_ip")?;
                let entries = self.read_field_u64(m.addr, "module", "arch.orc_unwind")?;
                OrcTable::from_memory(ips, entries, count, self.memory(), format.format)
            })();
            let Ok(table) = table else { continue };
            for r in m.regions.iter().filter(|r| r.kind.holds_text()) {
                modules.push((r.base, r.base.saturating_add(r.size), table.clone()));
            }
        }
        OrcTables { vmlinux, format, modules, vmlinux_error, vmlinux_cfi: std::sync::OnceLock::new() }
    }

    fn probe_orc_format(&self, table: Option<&OrcTable>) -> OrcFormatProbe {
        let (flags_from_types, types_problem) = match self.types().map(|t| OrcFlags::from_types(t.as_ref())) {
            Some(Ok(flags)) => (flags, None),
            Some(Err(e)) => (None, Some(e.to_string())),
            None => (None, None),
        };
        // Without a table or a verdict, the flag layout the types (or the
        // vmlinux's sections) suggest, with the classic registers.
        let guess = |flags: Option<OrcFlags>| {
            let flags = flags.or(table.map(|t| t.format().flags)).unwrap_or(OrcFlags::TypeSignal);
            OrcFormat { flags, ..OrcFormat::SINCE_6_4 }
        };
        let Some(table) = table else {
            return OrcFormatProbe {
                format: guess(flags_from_types),
                flags_from_types,
                samples: None,
                problem: Some("no vmlinux ORC table to check".into()),
            };
        };
        let starts: Vec<u64> = self
            .symbols()
            .iter()
            .filter(|s| s.is_text() && s.module.is_none() && self.in_kernel_image(s.addr))
            .map(|s| s.addr)
            .collect();
        match table.probe_format(&starts, flags_from_types) {
            Ok(p) => OrcFormatProbe {
                format: p.format,
                flags_from_types,
                samples: Some((p.samples, p.agreeing)),
                problem: types_problem,
            },
            Err(e) => OrcFormatProbe {
                format: guess(flags_from_types),
                flags_from_types,
                samples: None,
                problem: Some(match types_problem {
                    Some(t) => format!("{t}; {e}"),
                    None => e.to_string(),
                }),
            },
        }
    }

    fn read_memory_orc(&self) -> Result<OrcTable> {
        let ip_start = self.symbol_addr("__start_orc_unwind_ip")?;
        let ip_stop = self.symbol_addr("__stop_orc_unwind_ip")?;
        let unwind = self.symbol_addr("__start_orc_unwind")?;
        let count = ip_stop
            .checked_sub(ip_start)
            .ok_or_else(|| krash_core::Error::bad_data("ORC tables", "__stop_orc_unwind_ip below its start"))?
            / 4;
        // The format is settled by probe_orc_format once the table is read.
        OrcTable::from_memory(ip_start, unwind, count, self.memory(), OrcFormat::SINCE_6_4)
    }

    fn cpu_stack(&self, kind: &'static StackKind, cpu: u32) -> Option<StackRange> {
        let spec = self.arch().stacks;
        // A size read from kernel data is believed only within the arch's cap.
        let believable = |size: u64| size > 0 && size <= spec.max_stack_size;
        match kind.locator {
            StackLocator::TaskStack => None,
            StackLocator::PerCpuTopPointer { places } => {
                // The first place this kernel has, holding a non-zero pointer
                // (`top_past_pointer` says how far the top lies past it).
                let top = places.iter().find_map(|place| {
                    let slot = self.percpu_member_addr(place.variable, place.member, cpu)?;
                    let pointer = self.memory().read_u64(slot).ok().filter(|&p| p != 0)?;
                    Some(pointer.wrapping_add(place.top_past_pointer))
                })?;
                Some(StackRange { kind, base: top.wrapping_sub(self.thread_size()), top })
            }
            StackLocator::PerCpuBasePointer { variable } => {
                let slot = self.percpu_addr(variable, cpu).ok()?;
                let base = self.memory().read_u64(slot).ok().filter(|&p| p != 0)?;
                Some(StackRange { kind, base, top: base.wrapping_add(self.thread_size()) })
            }
            StackLocator::PerCpuArray { variable } => {
                let base = self.percpu_addr(variable, cpu).ok()?;
                let (ty, _) = self.layouts().variable_type(variable)?;
                let size = krash_debuginfo::types::TypeOps::size_of(&**self.layouts().types()?, ty)
                    .ok()
                    .filter(|&s| believable(s))?;
                Some(StackRange { kind, base, top: base.wrapping_add(size) })
            }
            StackLocator::PerCpuPointerMember { pointer, struct_name, member } => {
                let slot = self.percpu_addr(pointer, cpu).ok()?;
                let area = self.memory().read_u64(slot).ok().filter(|&a| a != 0)?;
                let field = self.layouts().field(struct_name, member).ok()?;
                let size = field.size.filter(|&s| believable(s))?;
                let base = area.wrapping_add(field.offset);
                Some(StackRange { kind, base, top: base.wrapping_add(size) })
            }
            StackLocator::PerCpuTopField { variable, struct_name, member, size_of } => {
                let at = self.percpu_addr(variable, cpu).ok()?;
                let top = self.read_field_u64(at, struct_name, member).ok().filter(|&t| t != 0)?;
                let size = self.layouts().size_of(size_of).ok().filter(|&s| believable(s))?;
                Some(StackRange { kind, base: top.wrapping_sub(size), top })
            }
        }
    }

    fn percpu_member_addr(&self, variable: &str, member: Option<&str>, cpu: u32) -> Option<u64> {
        let at = self.percpu_addr(variable, cpu).ok()?;
        let Some(member) = member else { return Some(at) };
        // The variable's struct is named like it (`struct pcpu_hot pcpu_hot`)
        // where the kernel has one; otherwise its type says.
        let offset = match self.layouts().offset(variable, member) {
            Ok(offset) => offset,
            Err(_) => self.layouts().variable_field(variable, member).ok()?.offset,
        };
        Some(at.wrapping_add(offset))
    }

    fn backtrace_unwound(&self, task: &Task, mem: &dyn VirtualMemory, method: Method) -> Result<TaskBacktrace> {
        let stacks = self.task_stacks(task)?;
        let code = self.code_info();
        let (start, start_source) = match task.active.then(|| self.cpu_note(task.cpu)).flatten() {
            Some(note) => self.running_start(task, note, &stacks, &code, mem),
            None => (self.sleeping_start(task, mem)?, StartSource::SwitchFrame),
        };
        let trace = unwind_with(method, mem, &code, &stacks, start);
        Ok(TaskBacktrace {
            task: task.addr,
            pid: task.pid,
            cpu: task.cpu,
            comm: task.comm.clone(),
            active: task.active,
            stacks,
            start_source,
            start_sp: start.state.sp,
            trace,
        })
    }

    fn sleeping_start(&self, task: &Task, mem: &dyn VirtualMemory) -> Result<StartState> {
        if self.layouts().has_field("task_struct", "thread.cpu_context.pc") {
            // arm64: cpu_switch_to saved the callee-saved registers, its
            // caller's frame pointer and its return address (into
            // __switch_to) in thread.cpu_context.
            let field =
                |name: &str| self.read_field_u64(task.addr, "task_struct", &format!("thread.cpu_context.{name}"));
            let (pc, sp, fp) = (field("pc")?, field("sp")?, field("fp")?);
            let ip = self.code_info().return_address(pc);
            return Ok(StartState { state: UnwindState { ip, sp, bp: fp, signal: false, regs: None }, slot: sp });
        }
        let sp = self.read_field_u64(task.addr, "task_struct", "thread.sp")?;
        let l = self.layouts();
        let ret_off = l.offset("inactive_task_frame", "ret_addr")?;
        let bp = mem.read_u64(sp.wrapping_add(l.offset("inactive_task_frame", "bp")?))?;
        let ip = mem.read_u64(sp.wrapping_add(ret_off))?;
        let frame_size = l.size_of("inactive_task_frame")?;
        Ok(StartState {
            state: UnwindState { ip, sp: sp.wrapping_add(frame_size), bp, signal: false, regs: None },
            slot: sp.wrapping_add(ret_off),
        })
    }

    fn running_start(
        &self,
        task: &Task,
        note: &CpuState,
        stacks: &StackSet,
        code: &KernelCode<'_>,
        mem: &dyn VirtualMemory,
    ) -> (StartState, StartSource) {
        let regs = &note.registers;
        let from_note = (StartState::from_regs(regs), StartSource::CpuNote);
        if note.from_hypervisor {
            return from_note;
        }
        if Some(task.cpu) == self.panic_cpu() {
            if let Some(start) = self.kexec_frame(stacks, code, mem, regs) {
                return (start, StartSource::KexecFrame);
            }
        } else if let Some(start) = self.nmi_callback_frame(stacks, code, mem, regs) {
            return (start, StartSource::NmiCallbackFrame);
        }
        from_note
    }

    fn function_range(&self, name: &str) -> Option<(u64, u64)> {
        let addr = self.symbol_addr(name).ok()?;
        self.function_bounds(addr)
    }

    fn kexec_frame(
        &self,
        stacks: &StackSet,
        code: &KernelCode<'_>,
        mem: &dyn VirtualMemory,
        regs: &RegisterFile,
    ) -> Option<StartState> {
        let (lo, hi) = self.function_range("machine_kexec")?;
        let caller = self.function_range("__crash_kexec");
        let accept = |w: u64| (lo..hi).contains(&w);
        let goal = |r: &StepResult| match r {
            StepResult::Call { state, .. } => caller.is_none_or(|(clo, chi)| (clo..chi).contains(&state.ip)),
            _ => false,
        };
        // The saved registers are __crash_kexec's own (panic) or the
        // oops's (crash_kexec(regs)); search below them first, then every
        // stack of the CPU from its top.
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        if let Some((sp, s)) = regs.sp().and_then(|sp| Some((sp, stacks.find(sp)?))) {
            ranges.push((sp.saturating_sub(PARKED_SEARCH_SPAN).max(s.base), sp));
        }
        ranges.extend(stacks.stacks.iter().map(|s| (s.base, s.top)));
        ranges.into_iter().find_map(|(from, to)| {
            find_parked_frame(mem, code, stacks, from, to, &accept, &goal)
                .map(|(state, slot)| StartState { state, slot })
        })
    }

    fn nmi_callback_frame(
        &self,
        stacks: &StackSet,
        code: &KernelCode<'_>,
        mem: &dyn VirtualMemory,
        regs: &RegisterFile,
    ) -> Option<StartState> {
        let (lo, hi) = self.function_range("crash_nmi_callback")?;
        let accept = |w: u64| (lo..hi).contains(&w);
        let (pc, sp) = (regs.pc()?, regs.sp()?);
        let goal = |r: &StepResult| matches!(r, StepResult::Regs { regs: saved, .. } if saved.pc() == Some(pc) && saved.sp() == Some(sp));
        // An NMI from kernel mode runs on the NMI stack; one from user mode
        // switches to the task stack first.
        [stacks.of_key(NMI_STACK), stacks.task()].into_iter().flatten().find_map(|range| {
            find_parked_frame(mem, code, stacks, range.base, range.top, &accept, &goal)
                .map(|(state, slot)| StartState { state, slot })
        })
    }
}

/// The unwinder's types and searches, for commands built on backtraces.
pub use krash_unwind as unwinder;
