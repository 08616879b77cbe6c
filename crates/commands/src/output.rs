//! Every command's result type: data only. The text renderer matches on
//! [`Output`]; `--json` documents are converted from it by
//! [`crate::schema`], the public schema (these types are not serialized,
//! so they can change without changing the JSON).

pub use crate::alias::{Alias, AliasOrigin};
pub use crate::commands::alias_cmd::AliasOutput;
pub use crate::commands::analyze::{dump_facts, DumpFacts};
pub use crate::commands::bt::{
    task_backtrace, Bt, BtBody, BtLine, BtOptions, BtTask, CodeName, OffsetStyle, RegsBlock, SearchedStack,
    StackOverflow, StackWord, TextLine, WordAnnotation,
};
pub use crate::commands::dev::{DevMajorRow, DevOutput};
pub use crate::commands::dis::{Dis, DisLine, SourceText, UserInstruction};
pub use crate::commands::eval::Eval;
pub use crate::commands::foreach::{Foreach, ForeachFailure, ForeachItem, ForeachPlan};
pub use crate::commands::fuser::{FileUser, FuserOutput, FuserTarget};
pub use crate::commands::help::{Help, HelpEntry, HelpPage};
pub use crate::commands::ipcs::{IpcSection, IpcsOutput};
pub use crate::commands::irq::Irq;
pub use crate::commands::kmem::memory as kmem_memory;
pub use crate::commands::kmem::{
    AddressInfo, AddressPart, CacheDetail, CacheRow, CpuDetail, Kmem, KmemNote, KmemOutput, NodeDetail, ObjectRow,
    PageInfo, SlabDetail, SlabRow, TaskContext, VmapRow,
};
pub use crate::commands::list::{ListEntry, ListOutput, ListPlan};
pub use crate::commands::log::{Log, LogTimestamps};
pub use crate::commands::module::{LoadProblem, ModuleOutput, ModuleRow, ModuleTable, TaintRow};
pub use crate::commands::net::{NetOutput, SocketDump, TaskSockets};
pub use crate::commands::print::{CpuAddress, Print, PrintEntry, PrintLabel};
pub use crate::commands::ps::{Ps, PsRow, SinceLastRun, SinceLastRunBlock, TaskArgs, TaskTimes};
pub use crate::commands::rd::{Display as RdDisplay, MemoryRead, Space, Unit};
pub use crate::commands::repeat::{Repeat, RepeatPlan};
pub use crate::commands::runq::{GroupView, Runq, RunqCpu};
pub use crate::commands::search::{ContextLine, Found, SearchGroup, SearchHit, SearchOutput};
pub use crate::commands::set::{Context, Variable, Variables};
pub use crate::commands::sig::{SigOutput, SigTask, ThreadSignals};
pub use crate::commands::struct_cmd::{
    Aggregate, MemberValue, ObjectValue, OffsetLayout, OffsetLine, StructBlock, StructOutput, TypeHeader,
};
pub use crate::commands::swap::SwapOutput;
pub use crate::commands::sym::{ModuleEdge, Sym, SymEntry, SymLine};
pub use crate::commands::sys::{sys_info, PanicTask, SysDetail, SysInfo};
pub use crate::commands::task::{TaskEntry, TaskOutput};
pub use crate::commands::tree::{TreeEntry, TreeOutput, TreePosition};
pub use crate::commands::vm::{FilesEntry, FilesOutput, PageCache, VmEntry, VmFlags, VmOutput, VmaPages};
pub use crate::commands::vtop::{Conversion, DecodedEntry, VtopOutput, VtopResult};
pub use crate::commands::waitq::WaitqOutput;
pub use crate::commands::whatis::Whatis;
pub use crate::header::TaskHeader;
pub use crate::source::{InlineLocation, SourceLocation, SymbolRef};
pub use krash_analyze::owners::Owner;
pub use krash_analyze::{BadMember, BlockedTask, CorruptValue, Finding, PanicKind, Report};
pub use krash_eval::frame_vars::{FrameVariable, FrameVariables, InlinedCall, VariableState};
pub use krash_eval::value::{FieldText, ValueText};
pub use krash_linux::dev::devices::{DiskIo, Resource, ResourceTree};
pub use krash_linux::dev::irq::{IrqAction, IrqDesc, IrqTable, SoftirqVector};
pub use krash_linux::fs::mount::{Mount, MountTable};
pub use krash_linux::fs::users::FileUse;
pub use krash_linux::ipc::{IpcKind, IpcObject};
pub use krash_linux::mm::slab::freelist::{FreelistOwner, FreelistProblem, ProblemReason};
pub use krash_linux::mm::slab::looks::ValueLooks;
pub use krash_linux::mm::slab::{ArrayCache, ArrayCacheHolder};
pub use krash_linux::mm::swap::SwapArea;
pub use krash_linux::mm::user_pages::{PageLocation, SwapEntry, UserPage};
pub use krash_linux::mm::vma::Vma;
pub use krash_linux::net::{Neighbour, NetDevice, NetDevices, OpenSocket};
pub use krash_linux::sched::backtrace::unwinder::{StackClass, StackKind};
pub use krash_linux::sched::runq::{CfsEntry, CfsQueue, QueuedTask, RunQueue};
pub use krash_linux::sched::signal::{GroupSignals, Pending, QueuedSignal, SigAction, TaskSignals};
pub use krash_linux::sched::task::TaskState;
pub use krash_linux::sched::waitq::{WaitEntry, WaitQueue};
pub use krash_linux::time::hrtimer::{HrtimerClock, HrtimerCpu, Hrtimers, QueuedHrtimer};
pub use krash_linux::time::timer::{PendingTimer, TimerBase, TimerWheel};
pub use krash_program::list::ListBreak;

/// The data a command produced.
// One value per command run, moved straight to the renderer: boxing the
// large variants would only add indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Output {
    Bt(Bt),
    Dis(Dis),
    Help(Help),
    Log(Log),
    Kmem(KmemOutput),
    Mod(ModuleOutput),
    Ps(Ps),
    Rd(MemoryRead),
    Set(Context),
    Sym(Sym),
    Sys(SysInfo),
    SysDetail(SysDetail),
    Foreach(Foreach),
    List(ListOutput),
    Print(Print),
    Struct(StructOutput),
    Task(TaskOutput),
    Search(SearchOutput),
    Tree(TreeOutput),
    Whatis(Whatis),
    Analyze(Report),
    /// `krash decode`: an oops resolved without a dump.
    Decode(crate::decode::Decoded),
    Runq(Runq),
    Mount(MountTable),
    Irq(Irq),
    Timer(TimerWheel),
    Hrtimers(Hrtimers),
    Vtop(VtopOutput),
    Vm(VmOutput),
    Files(FilesOutput),
    Fuser(FuserOutput),
    Net(NetOutput),
    Dev(DevOutput),
    Swap(SwapOutput),
    Sig(SigOutput),
    Waitq(WaitqOutput),
    Ipcs(IpcsOutput),
    Eval(Eval),
    Alias(AliasOutput),
    Repeat(Repeat),
    /// `set -v`, `set scroll`, `set radix` (`hex`, `dec`).
    SetVariables(Variables),
}
