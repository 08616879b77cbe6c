//! The IRQ stack of kernels before 5.2 (`irq_stack_ptr`) and after
//! (`hardirq_stack_ptr`) is found from the architecture's list of places,
//! on synthetic kernels that have only one of them.

use krash_arch::StackClass;
use krash_linux::sched::backtrace::BacktraceExt;
use krash_program::synthetic::SyntheticKernel;

const STACK_SIZE: u64 = 16384;

/// A one-CPU kernel whose per-cpu variable `name` holds `value`
/// (`__per_cpu_offset[0]` is 0: CPU 0's copy is the variable itself).
fn kernel_with(name: &str, value: u64) -> krash_program::Kernel {
    let mut s = SyntheticKernel::new();
    s.global("__per_cpu_start", 8);
    s.global("__per_cpu_offset", 8);
    let var = s.global(name, 8);
    s.write_u64(var, value);
    s.build().unwrap()
}

fn irq_stack(k: &krash_program::Kernel) -> Option<(u64, u64)> {
    k.cpu_stacks(0).iter().find(|r| r.kind.class == StackClass::Irq).map(|r| (r.base, r.top))
}

#[test]
fn irq_stack_ptr_of_kernels_before_5_2_is_the_top() {
    // 4.9-5.1: irq_stack_union.irq_stack + IRQ_STACK_SIZE; the entry code
    // pushes the interrupted %rsp just below it.
    let top = 0xffff_8880_3fc0_4000;
    let k = kernel_with("irq_stack_ptr", top);
    assert_eq!(irq_stack(&k), Some((top - STACK_SIZE, top)));
}

#[test]
fn hardirq_stack_ptr_points_at_the_last_word() {
    let last_word = 0xffff_c900_0000_3ff8;
    let k = kernel_with("hardirq_stack_ptr", last_word);
    assert_eq!(irq_stack(&k), Some((last_word + 8 - STACK_SIZE, last_word + 8)));
}

#[test]
fn no_pointer_no_irq_stack() {
    assert_eq!(irq_stack(&kernel_with("irq_stack_ptr", 0)), None);
    assert_eq!(irq_stack(&kernel_with("unrelated", 0x1000)), None);
}
