use krash_core::{Error, Result};
use krash_linux::time::hrtimer::HrtimerExt;
use krash_linux::time::timer::TimerExt;

use krash_linux::time::timer::TimerWheel;

use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "timer",
    aliases: &[],
    summary: "pending timers of each CPU's timer wheel",
    synopsis: "timer [-r]",
    details: "  (none)  jiffies, then for each CPU and timer base (TIMER_BASES[cpu][BASE_...]) the\n\
              \x20         pending timer_list entries by expiry: EXPIRES (jiffies), TTE (jiffies\n\
              \x20         left), the TIMER_LIST address and its FUNCTION\n\
              \x20 -r      the hrtimers of each CPU's clock bases (CPU, CLOCK, the current\n\
              \x20         monotonic time from jiffies, then SOFTEXPIRES EXPIRES TTE HRTIMER FUNCTION\n\
              \x20         in expiry order, times in ns)",
    run,
};

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("timer", args, "r")?;
    if let Some(extra) = p.args.first() {
        return Err(Error::Usage(format!("timer: unexpected argument: {extra}")));
    }
    if p.has('r') {
        return Ok(Output::Hrtimers(session.kernel.hrtimers()?));
    }
    let wheel: TimerWheel = session.kernel.timer_wheel()?;
    Ok(Output::Timer(wheel))
}
