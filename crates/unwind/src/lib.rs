//! krash-unwind: kernel stack unwinding with ORC (x86-64), DWARF CFI
//! (`.debug_frame`, where ORC has no entry, or on request) and frame pointers.
//!
//! The unwinder knows nothing of the kernel model: it reads memory through
//! [`krash_core::VirtualMemory`], asks a [`CodeInfo`] for ORC entries,
//! text ranges, symbol names and the architecture ([`krash_arch::Arch`]:
//! registers as a [`krash_arch::RegisterFile`], the saved-register frame
//! layout, the instruction decoder), and is told which stacks a CPU or
//! task owns ([`StackSet`]). It produces a [`Backtrace`]: frames, exception
//! register blocks, stack-switch markers and warnings, in crash's order.
//! Where ORC fails (a damaged stack), it searches the stack for saved
//! `pt_regs` and continues from them, marking the recovered frames.

mod callee_saved;
mod cfi;
mod code;
mod frame_record;
mod method;
mod scan;
mod stacks;
mod step;
mod trace;

pub use cfi::{eval_cfa_expression, CfaRule, CfiRow, CfiTable, SavedRule};
pub use code::{CodeInfo, SavedRegsGeometry, Symbolized};
pub use frame_record::{frame_record_at, frame_record_in, is_plt_veneer, FrameRecord};
pub use method::{cfi_step, fp_step, step_with, Method};
pub use scan::{
    call_before, find_exception_frames, find_parked_frame, looks_like_return_address, text_words, FoundRegs, TextWord,
};
pub use stacks::{StackClass, StackKind, StackRange, StackSet};
pub use step::{step, StepResult, UnwindState};
pub use trace::{unwind, unwind_with, Backtrace, ExceptionFrame, Frame, StartState, TraceItem, MAX_FRAMES};

#[cfg(test)]
// Fixtures build known-good stacks by hand; overflow and bounds panics are
// test failures here, not input handling.
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod tests;
