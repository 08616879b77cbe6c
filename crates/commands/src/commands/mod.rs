//! One file per command (or family); `ALL` is the table, in `help` order.

pub(crate) mod bt;
pub(crate) mod dis;
pub(crate) mod help;
pub(crate) mod log;
pub(crate) mod module;
pub(crate) mod ps;
pub(crate) mod rd;
pub(crate) mod set;
pub(crate) mod sym;
pub(crate) mod sys;

use crate::CommandSpec;

pub(crate) static ALL: &[CommandSpec] = &[bt::SPEC, dis::SPEC, help::SPEC, log::SPEC, module::SPEC, ps::SPEC,
    rd::SPEC,
    set::SPEC, sym::SPEC, sys::SPEC];
