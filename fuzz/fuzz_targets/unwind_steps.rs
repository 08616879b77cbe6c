//! The unwinder's steps over memory that is the fuzz input: frame-pointer
//! steps (frame records, the epilogue and frameless-code rules, encoded
//! frame pointers, user registers at the stack top), the stack scans that
//! recover from a failed step, and the read-back of callee-saved registers
//! from decoded prologues; on arm64, frame-record steps (x29/x30 records,
//! a leaf's or prologue's caller from the link register read off its
//! decoded code, exception records inside `pt_regs`).
//!
//! The input after a 32-byte header is mapped twice: as code at `CODE`
//! (functions every 0x100 bytes, every fourth a `.cold` part of the one
//! before) and as the task stack at `STACK`. The header gives the start:
//! `ip` and `sp` offsets into the input, a raw RBP (arm64: x29), and a
//! flags byte (bit 0: interrupted at `ip`, bit 1: the frame-pointer method
//! alone, else auto; no ORC table exists, so auto falls back to frame
//! pointers; bit 2: arm64; bit 3: a full register file whose link register
//! is the header's last word).
//! Every walk must end on its own, bounded, without a panic.
#![no_main]

use krash_arch::arm64::ARM64;
use krash_arch::x86_64::X86_64;
use krash_arch::RegisterRole;
use krash_arch::{Arch, StackClass};
use krash_core::memory::not_mapped;
use krash_core::VirtualMemory;
use krash_debuginfo::orc::OrcEntry;
use krash_unwind::{
    unwind_with, CodeInfo, Method, SavedRegsGeometry, StackRange, StackSet, StartState, Symbolized, UnwindState,
};
use libfuzzer_sys::fuzz_target;

const CODE: u64 = 0xffff_ffff_c000_0000;
const STACK: u64 = 0xffff_c900_0000_0000;
const HEADER: usize = 32;
const FUNCTION: u64 = 0x100;

struct Input<'a>(&'a [u8], &'static Arch);

impl Input<'_> {
    fn offset(&self, addr: u64) -> Option<usize> {
        [CODE, STACK]
            .into_iter()
            .find_map(|base| addr.checked_sub(base).filter(|&o| o < self.0.len() as u64))
            .map(|o| o as usize)
    }
}

/// arm64's `struct pt_regs` (6.1): 336 bytes, the frame record at 304.
const ARM64_PT_REGS: SavedRegsGeometry = SavedRegsGeometry { size: 336, frame_record_offset: 304 };

impl VirtualMemory for Input<'_> {
    fn read_virt(&self, addr: u64, buf: &mut [u8]) -> krash_core::Result<()> {
        for (i, b) in buf.iter_mut().enumerate() {
            let a = addr.wrapping_add(i as u64);
            *b = *self.offset(a).and_then(|o| self.0.get(o)).ok_or_else(|| not_mapped(a))?;
        }
        Ok(())
    }
}

impl CodeInfo for Input<'_> {
    fn arch(&self) -> &'static Arch {
        self.1
    }
    fn saved_regs_geometry(&self) -> Option<SavedRegsGeometry> {
        (self.1.machine == ARM64.machine).then_some(ARM64_PT_REGS)
    }
    fn orc(&self, _ip: u64) -> Option<OrcEntry> {
        None
    }
    fn is_text(&self, addr: u64) -> bool {
        addr.checked_sub(CODE).is_some_and(|o| o < self.0.len() as u64)
    }
    fn symbolize(&self, addr: u64) -> Option<Symbolized> {
        let offset = addr.checked_sub(CODE).filter(|&o| o < self.0.len() as u64)?;
        let n = offset / FUNCTION;
        let name = if n % 4 == 3 { format!("f{}.cold", n - 1) } else { format!("f{n}") };
        Some(Symbolized { name, offset: offset % FUNCTION, module: None })
    }
    fn function_named(&self, name: &str, _module: Option<&str>) -> Option<u64> {
        let n: u64 = name.strip_prefix('f')?.parse().ok()?;
        CODE.checked_add(n.checked_mul(FUNCTION)?).filter(|&a| self.is_text(a))
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < HEADER + 16 {
        return;
    }
    let word = |i: usize| u64::from_le_bytes(data[i..i + 8].try_into().unwrap_or_default());
    let flags = data[24];
    let arch: &'static Arch = if flags & 4 != 0 { &ARM64 } else { &X86_64 };
    let input = Input(&data[HEADER..], arch);
    let len = input.0.len() as u64;
    let Some(task) = arch.stacks.of_class(StackClass::Task) else { return };
    let stacks = StackSet { stacks: vec![StackRange { kind: task, base: STACK, top: STACK + len }] };
    let (ip, sp, bp) = (CODE + word(0) % len, STACK + (word(8) % len & !7), word(16));
    let regs = (flags & 8 != 0).then(|| {
        let mut file = arch.new_registers();
        file.set_role(RegisterRole::ProgramCounter, ip);
        file.set_role(RegisterRole::StackPointer, sp);
        file.set_role(RegisterRole::FramePointer, bp);
        // The link register where the machine has one; x86-64 ignores it.
        file.set_role(RegisterRole::ReturnAddress, CODE.wrapping_add(u64::from(data[25]) << 4));
        file
    });
    let state = UnwindState { ip, sp, bp, signal: flags & 1 != 0, regs };
    let method = if flags & 2 != 0 { Method::FramePointer } else { Method::Auto };
    let trace = unwind_with(method, &input, &input, &stacks, StartState { state, slot: state.sp });
    assert!(trace.frames().count() <= krash_unwind::MAX_FRAMES);
});
