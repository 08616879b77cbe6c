//! Time: the timer wheels and the hrtimer bases.

pub mod hrtimer;
pub mod timer;
