mod help;
mod log;
mod ps;
mod sys;

use krash_commands::Output;

pub use sys::{format_crash_date, format_uptime};

pub(crate) fn render(output: &Output) -> String {
    match output {
        Output::Help(h) => help::render(h),
        Output::Log(l) => log::render(l),
        Output::Ps(p) => ps::render(p),
        Output::Sys(s) => sys::render(s),
    }
}
