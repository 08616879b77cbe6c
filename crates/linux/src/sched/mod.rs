//! Scheduling: tasks and their states, run queues, signals, wait queues,
//! and each task's stack unwound into a backtrace.

pub mod backtrace;
pub mod runq;
pub mod signal;
pub mod task;
pub mod waitq;
