//! arm64 (AArch64) as data: registers and where Linux saves them, the
//! translation-table formats of each granule and VA size, the kernel's
//! address-space layouts, its stacks, and the instruction decoder.
//! [`ARM64`] gathers them.
//!
//! Pointer authentication: with `CONFIG_ARM64_PTR_AUTH_KERNEL` the kernel
//! signs return addresses (`paciasp`), so x30 and the `lr` of saved frame
//! records carry a PAC in their upper bits. VMCOREINFO's `KERNELPACMASK`
//! names those bits; [`strip_pac`] removes them before anything
//! symbolizes an address.

pub mod disasm;
pub mod esr;
mod memory;
mod registers;

pub use memory::*;
pub use registers::*;

use crate::machine::Machine;
use crate::stacks::{StackClass, StackKind, StackLocator, StackSpec};
use crate::Arch;

/// A kernel text address with its pointer-authentication code removed:
/// the bits of `pac_mask` (VMCOREINFO's `KERNELPACMASK`) are set again,
/// as in every kernel address. Without a mask the top byte is what the
/// PAC can occupy at most (bits 54..63 hold it with 48-bit VAs; bit 55
/// selects the half), so an address with bit 55 set gets bits 48..63
/// set, as `xpaclri` would.
pub fn strip_pac(addr: u64, pac_mask: Option<u64>) -> u64 {
    match pac_mask {
        Some(mask) if mask != 0 => {
            if addr & (1 << 55) != 0 {
                addr | mask
            } else {
                addr & !mask
            }
        }
        _ if addr & (1 << 55) != 0 => addr | 0xffff_0000_0000_0000,
        _ => addr,
    }
}

/// `THREAD_SIZE` where the kernel's own symbols do not say
/// (`Kernel::thread_size` reads the boot stack's bounds): 16 KiB task and
/// IRQ stacks (`THREAD_SHIFT` 14 without KASAN, with 4 and 16 KiB pages;
/// one 64 KiB page with 64 KiB pages).
const THREAD_SIZE: u64 = 16 << 10;

/// The task stack; the per-CPU IRQ stack (`irq_stack_ptr` holds its
/// base); the per-CPU overflow stack the entry code switches to when a
/// stack overflows (`overflow_stack`, a 4 KiB array); and the SDEI
/// (firmware event) stacks.
pub static STACKS: StackSpec = StackSpec {
    thread_size: THREAD_SIZE,
    max_stack_size: 0x10000,
    kinds: &[
        StackKind {
            class: StackClass::Task,
            key: "task",
            crash_name: "process stack",
            locator: StackLocator::TaskStack,
        },
        StackKind {
            class: StackClass::Irq,
            key: "irq",
            crash_name: "IRQ stack",
            locator: StackLocator::PerCpuBasePointer { variable: "irq_stack_ptr" },
        },
        StackKind {
            class: StackClass::Exception,
            key: "overflow",
            crash_name: "OVERFLOW stack",
            locator: StackLocator::PerCpuArray { variable: "overflow_stack" },
        },
        StackKind {
            class: StackClass::Exception,
            key: "sdei_normal",
            crash_name: "SDEI normal stack",
            locator: StackLocator::PerCpuBasePointer { variable: "sdei_stack_normal_ptr" },
        },
        StackKind {
            class: StackClass::Exception,
            key: "sdei_critical",
            crash_name: "SDEI critical stack",
            locator: StackLocator::PerCpuBasePointer { variable: "sdei_stack_critical_ptr" },
        },
    ],
};

/// arm64.
pub static ARM64: Arch = Arch {
    machine: Machine::Aarch64,
    registers: &REGISTERS,
    prstatus: &PRSTATUS,
    // QEMU writes no CPU-state note of its own for arm64 guests.
    cpu_state_note: None,
    saved_regs: &PT_REGS,
    address_spaces: ADDRESS_SPACES,
    stacks: &STACKS,
    decoder: &disasm::Arm64Decoder,
};

#[cfg(test)]
// Tests index the synthetic buffers they build; a panic there is a failed test.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests;
