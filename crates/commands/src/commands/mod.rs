//! One file per command (or family); `ALL` is the table, in `help` order.

pub(crate) mod help;
pub(crate) mod log;
pub(crate) mod ps;
pub(crate) mod sys;

use crate::CommandSpec;

pub(crate) static ALL: &[CommandSpec] = &[help::SPEC, log::SPEC, ps::SPEC, sys::SPEC];
