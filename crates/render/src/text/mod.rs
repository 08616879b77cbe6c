mod alias;
mod analyze;
mod bt;
pub(crate) mod decode;
mod dev;
mod dis;
mod eval;
mod foreach;
mod fuser;
mod help;
mod hrtimer;
mod ipcs;
mod irq;
mod kmem;
mod list;
mod log;
mod module;
mod mount;
mod net;
mod print;
mod ps;
mod rd;
mod repeat;
mod runq;
mod search;
mod set;
mod sig;
mod struct_cmd;
mod swap;
mod sym;
mod sys;
mod task;
mod timer;
mod tree;
mod value;
mod variables;
mod vm;
mod vtop;
mod waitq;
mod whatis;

use krash_commands::Output;

pub use foreach::render_foreach_item;
pub use list::{render_list_entry, render_list_head, render_list_tail};
pub use sys::{format_crash_date, format_sortable_date, format_uptime};

pub(crate) fn render(output: &Output) -> String {
    match output {
        Output::Bt(b) => bt::render(b),
        Output::Dis(d) => dis::render(d),
        Output::Help(h) => help::render(h),
        Output::Log(l) => log::render(l),
        Output::Kmem(m) => kmem::render(m),
        Output::Mod(m) => module::render(m),
        Output::Ps(p) => ps::render(p),
        Output::Rd(r) => rd::render(r),
        Output::Set(c) => set::render(c),
        Output::Sym(s) => sym::render(s),
        Output::Sys(s) => sys::render(s),
        Output::SysDetail(d) => sys::render_detail(d),
        Output::Foreach(f) => foreach::render(f),
        Output::List(l) => list::render(l),
        Output::Print(p) => print::render(p),
        Output::Struct(s) => struct_cmd::render(s),
        Output::Task(t) => task::render(t),
        Output::Search(s) => search::render(s),
        Output::Tree(t) => tree::render(t),
        Output::Whatis(w) => whatis::render(w),
        Output::Analyze(a) => analyze::render(a),
        Output::Decode(d) => decode::render(d),
        Output::Runq(r) => runq::render(r),
        Output::Mount(m) => mount::render(m),
        Output::Irq(i) => irq::render(i),
        Output::Timer(t) => timer::render(t),
        Output::Hrtimers(h) => hrtimer::render(h),
        Output::Vtop(v) => vtop::render(v),
        Output::Vm(v) => vm::render_vm(v),
        Output::Files(f) => vm::render_files(f),
        Output::Fuser(f) => fuser::render(f),
        Output::Net(n) => net::render(n),
        Output::Dev(d) => dev::render(d),
        Output::Swap(s) => swap::render(s),
        Output::Sig(s) => sig::render(s),
        Output::Waitq(w) => waitq::render(w),
        Output::Ipcs(i) => ipcs::render(i),
        Output::Eval(e) => eval::render(e),
        Output::Alias(a) => alias::render(a),
        Output::Repeat(r) => repeat::render(r),
        Output::SetVariables(v) => variables::render(v),
    }
}
