//! One file per command (or family); `ALL` is the table, in `help` order.

pub(crate) mod alias_cmd;
pub(crate) mod analyze;
pub(crate) mod bt;
pub(crate) mod dev;
pub(crate) mod dis;
pub(crate) mod eval;
pub(crate) mod foreach;
pub(crate) mod fuser;
pub(crate) mod help;
pub(crate) mod ipcs;
pub(crate) mod irq;
pub(crate) mod kmem;
pub(crate) mod list;
pub(crate) mod log;
pub(crate) mod module;
pub(crate) mod module_check;
pub(crate) mod mount;
pub(crate) mod net;
pub(crate) mod print;
pub(crate) mod ps;
pub(crate) mod rd;
pub(crate) mod repeat;
pub(crate) mod runq;
pub(crate) mod search;
pub(crate) mod set;
pub(crate) mod sig;
pub(crate) mod struct_cmd;
pub(crate) mod swap;
pub(crate) mod sym;
pub(crate) mod sys;
pub(crate) mod task;
pub(crate) mod timer;
pub(crate) mod tree;
pub(crate) mod vm;
pub(crate) mod vtop;
pub(crate) mod waitq;
pub(crate) mod whatis;

use crate::CommandSpec;

pub(crate) static ALL: &[CommandSpec] = &[
    bt::SPEC,
    dis::SPEC,
    help::SPEC,
    log::SPEC,
    module::SPEC,
    ps::SPEC,
    rd::SPEC,
    set::SPEC,
    sym::SPEC,
    sys::SPEC,
    foreach::SPEC,
    list::SPEC,
    print::SPEC,
    print::PX_SPEC,
    print::PD_SPEC,
    struct_cmd::SPEC,
    struct_cmd::UNION_SPEC,
    search::SPEC,
    kmem::SPEC,
    task::SPEC,
    tree::SPEC,
    whatis::SPEC,
    whatis::PTYPE_SPEC,
    analyze::SPEC,
    vtop::SPEC,
    vtop::PTOV_SPEC,
    vtop::BTOP_SPEC,
    vtop::PTOB_SPEC,
    vtop::PTE_SPEC,
    vm::SPEC,
    vm::FILES_SPEC,
    fuser::SPEC,
    runq::SPEC,
    mount::SPEC,
    irq::SPEC,
    timer::SPEC,
    net::SPEC,
    dev::SPEC,
    swap::SPEC,
    sig::SPEC,
    waitq::SPEC,
    ipcs::SPEC,
    eval::SPEC,
    alias_cmd::SPEC,
    repeat::SPEC,
];
