//! Synthetic stacks: fake memory, fake ORC, fake symbols.

use std::collections::BTreeMap;

use krash_arch::x86_64::{CS, RBP, RDI, RFLAGS, RIP, RSP, SS, X86_64};
use krash_arch::{Arch, RegisterFile, RegisterId};
use krash_core::memory::not_mapped;
use krash_core::{Result, VirtualMemory};
use krash_debuginfo::orc::{OrcEntry, OrcReg, OrcType};

use crate::*;

#[derive(Default)]
struct FakeMem {
    words: BTreeMap<u64, u64>,
}

impl FakeMem {
    fn put(&mut self, addr: u64, value: u64) {
        self.words.insert(addr, value);
    }
    fn put_bytes(&mut self, addr: u64, bytes: &[u8]) {
        for (i, b) in bytes.iter().enumerate() {
            let a = addr + i as u64;
            let mut word = self.words.get(&(a & !7)).copied().unwrap_or(0).to_le_bytes();
            word[(a & 7) as usize] = *b;
            self.put(a & !7, u64::from_le_bytes(word));
        }
    }
    /// A direct `call target` ending at `ret`.
    fn put_call(&mut self, ret: u64, target: u64) {
        let rel = (target.wrapping_sub(ret) as i64 as i32).to_le_bytes();
        self.put_bytes(ret - 5, &[0xe8, rel[0], rel[1], rel[2], rel[3]]);
    }
    /// A whole `pt_regs` at `addr` (registers `regs` does not know are 0).
    fn put_regs(&mut self, addr: u64, regs: &RegisterFile) {
        let layout = &X86_64.saved_regs.full;
        let mut bytes = vec![0u8; layout.size];
        layout.write(regs, &mut bytes).unwrap();
        self.put_bytes(addr, &bytes);
    }
}

impl VirtualMemory for FakeMem {
    fn read_virt(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        for (i, b) in buf.iter_mut().enumerate() {
            let a = addr + i as u64;
            let word = *self.words.get(&(a & !7)).ok_or_else(|| not_mapped(a))?;
            *b = word.to_le_bytes()[(a & 7) as usize];
        }
        Ok(())
    }
}

/// Functions at 0x1000 * n, each 0x100 long, named f<n>.
struct FakeCode {
    entries: Vec<OrcEntry>,
}

fn call_entry(ip: u64, sp_offset: i16) -> OrcEntry {
    OrcEntry {
        ip,
        sp_reg: OrcReg::Sp,
        sp_offset,
        bp_reg: OrcReg::Undefined,
        bp_offset: 0,
        kind: OrcType::Call,
        signal: false,
    }
}

impl CodeInfo for FakeCode {
    fn arch(&self) -> &'static Arch {
        &X86_64
    }
    fn orc(&self, ip: u64) -> Option<OrcEntry> {
        self.entries.iter().rev().find(|e| e.ip <= ip).copied()
    }
    fn is_text(&self, addr: u64) -> bool {
        (0x1000..0x9000).contains(&addr) && addr & 0xfff < 0x100
    }
    fn symbolize(&self, addr: u64) -> Option<Symbolized> {
        self.is_text(addr).then(|| Symbolized { name: format!("f{}", addr >> 12), offset: addr & 0xfff, module: None })
    }
}

const TASK_BASE: u64 = 0xffff_c900_0001_0000;
const TASK_TOP: u64 = TASK_BASE + 0x4000;
const IRQ_BASE: u64 = 0xffff_c900_0000_0000;
const IRQ_TOP: u64 = IRQ_BASE + 0x4000;

fn kind(class: StackClass) -> &'static StackKind {
    krash_arch::x86_64::X86_64.stacks.of_class(class).unwrap()
}

fn stacks() -> StackSet {
    StackSet {
        stacks: vec![
            StackRange { kind: kind(StackClass::Task), base: TASK_BASE, top: TASK_TOP },
            StackRange { kind: kind(StackClass::Irq), base: IRQ_BASE, top: IRQ_TOP },
        ],
    }
}

fn names(bt: &Backtrace) -> Vec<String> {
    bt.frames().map(|f| f.symbol.as_ref().map(|s| s.name.clone()).unwrap_or_default()).collect()
}

fn regs(values: &[(RegisterId, u64)]) -> RegisterFile {
    let mut r = X86_64.new_registers();
    for &(id, v) in values {
        assert!(r.set_value(id, v));
    }
    r
}

fn kernel_regs(ip: u64, sp: u64) -> RegisterFile {
    regs(&[(RIP, ip), (RSP, sp), (CS, 0x10), (SS, 0x18), (RFLAGS, 0x246)])
}

fn with(mut r: RegisterFile, id: RegisterId, v: u64) -> RegisterFile {
    assert!(r.set_value(id, v));
    r
}

/// f1 (frame 16) <- f2 (frame 8) <- f3 (end of stack).
fn simple_chain(mem: &mut FakeMem, sp: u64) -> FakeCode {
    mem.put(sp + 8, 0x2010);
    mem.put(sp + 16, 0x3010);
    FakeCode {
        entries: vec![
            call_entry(0x1000, 16),
            call_entry(0x2000, 8),
            OrcEntry { kind: OrcType::EndOfStack, sp_reg: OrcReg::Undefined, ..call_entry(0x3000, 0) },
        ],
    }
}

#[test]
fn follows_call_frames_to_end_of_stack() {
    let mut mem = FakeMem::default();
    let sp = TASK_TOP - 0x100;
    let code = simple_chain(&mut mem, sp);
    let bt = unwind(&mem, &code, &stacks(), StartState::from_regs(&kernel_regs(0x1010, sp)));
    assert_eq!(names(&bt), ["f1", "f2", "f3"]);
    let slots: Vec<u64> = bt.frames().map(|f| f.slot).collect();
    assert_eq!(slots, [sp, sp + 8, sp + 16]);
    assert!(bt.items.iter().all(|i| matches!(i, TraceItem::Frame(_))));
}

#[test]
fn crosses_irq_stack_and_exception_frame() {
    let mut mem = FakeMem::default();
    // Task stack: pt_regs of an interrupt that hit f5 at 0x5020.
    let regs_addr = TASK_TOP - 0x400;
    let interrupted_sp = TASK_TOP - 0x100;
    let code = {
        let mut c = simple_chain(&mut mem, interrupted_sp - 8);
        // f5 has no frame: its return address (into f2) is at its SP.
        c.entries.push(call_entry(0x5000, 8));
        // f6 is the asm entry: its return site is a REGS frame at SP.
        c.entries.push(OrcEntry { kind: OrcType::Regs, ..call_entry(0x6000, 0) });
        // f7 ran on the IRQ stack; SP links back through the top word.
        c.entries.push(OrcEntry { sp_reg: OrcReg::SpIndirect, sp_offset: 16, ..call_entry(0x7000, 0) });
        c.entries.push(call_entry(0x8000, 8));
        c.entries.sort_by_key(|e| e.ip);
        c
    };
    mem.put_regs(regs_addr, &kernel_regs(0x5020, interrupted_sp));
    // f7 is called on the task stack (return into f6 at regs_addr - 8) ...
    mem.put(regs_addr - 8, 0x6010);
    // ... and switches: the IRQ stack's top word holds the old RSP.
    mem.put(IRQ_TOP - 8, regs_addr - 16);
    mem.put(regs_addr - 16, 0); // old RBP push
    mem.put(IRQ_TOP - 16, 0x7010); // f8's return address into f7
    let start = StartState::from_regs(&kernel_regs(0x8020, IRQ_TOP - 16));
    let bt = unwind(&mem, &code, &stacks(), start);
    assert_eq!(names(&bt), ["f8", "f7", "f6", "f5", "f2", "f3"], "{bt:#?}");
    let switch =
        bt.items.iter().position(|i| matches!(i, TraceItem::StackSwitch { from } if from.class == StackClass::Irq));
    let f6 = bt.items.iter().position(|i| matches!(i, TraceItem::Frame(f) if f.pc == 0x6010));
    assert!(switch.is_some() && switch < f6);
    assert!(bt.items.iter().any(|i| matches!(i, TraceItem::Exception(e) if e.addr == regs_addr && !e.user_mode)));
}

#[test]
fn recovers_from_a_damaged_return_address() {
    let mut mem = FakeMem::default();
    let sp = TASK_TOP - 0x800;
    let mut code = simple_chain(&mut mem, sp);
    code.entries.push(call_entry(0x4000, 8));
    code.entries.sort_by_key(|e| e.ip);
    mem.put(sp + 8, 0xdead_beef); // f1's return address is smashed
                                  // Further up, an interrupt frame of code in f4 whose caller is f3.
    let regs_addr = sp + 0x100;
    let f4_sp = TASK_TOP - 0x100;
    mem.put_regs(regs_addr, &kernel_regs(0x4020, f4_sp));
    mem.put(f4_sp, 0x3010);
    let bt = unwind(&mem, &code, &stacks(), StartState::from_regs(&kernel_regs(0x1010, sp)));
    assert_eq!(names(&bt), ["f1", "f4", "f3"], "{bt:#?}");
    assert!(bt.frames().skip(1).all(|f| f.recovered));
    assert!(bt
        .items
        .iter()
        .any(|i| matches!(i, TraceItem::Warning { message } if message.contains("not kernel text"))));
}

#[test]
fn recovers_through_the_irq_back_link() {
    let mut mem = FakeMem::default();
    let code = FakeCode {
        entries: vec![
            call_entry(0x1000, 8),
            OrcEntry { kind: OrcType::EndOfStack, sp_reg: OrcReg::Undefined, ..call_entry(0x3000, 0) },
            call_entry(0x4000, 8),
        ],
    };
    // On the IRQ stack, f1's return address is garbage.
    mem.put(IRQ_TOP - 16, 0x1234);
    let regs_addr = TASK_TOP - 0x300;
    mem.put(IRQ_TOP - 8, regs_addr - 0x20);
    for a in (regs_addr - 0x20..regs_addr).step_by(8) {
        mem.put(a, 0);
    }
    let f4_sp = TASK_TOP - 0x80;
    mem.put_regs(regs_addr, &kernel_regs(0x4010, f4_sp));
    mem.put(f4_sp, 0x3010);
    let bt = unwind(&mem, &code, &stacks(), StartState::from_regs(&kernel_regs(0x1010, IRQ_TOP - 16)));
    assert_eq!(names(&bt), ["f1", "f4", "f3"], "{bt:#?}");
}

#[test]
fn null_function_pointer_call_continues_at_the_caller() {
    let mut mem = FakeMem::default();
    let sp = TASK_TOP - 0x100;
    let code = simple_chain(&mut mem, sp - 8);
    // The faulting call pushed a return into f1; RIP is 0.
    mem.put(sp - 8, 0); // unused
    mem.put(sp, 0x1010);
    let regs_addr = TASK_TOP - 0x400;
    mem.put_regs(regs_addr, &kernel_regs(0, sp));
    let mut code = code;
    code.entries.push(OrcEntry { kind: OrcType::Regs, ..call_entry(0x6000, 0) });
    code.entries.sort_by_key(|e| e.ip);
    mem.put(regs_addr - 8, 0x6010);
    let start = StartState {
        state: UnwindState { ip: 0x6010, sp: regs_addr, bp: 0, signal: false, regs: None },
        slot: regs_addr - 8,
    };
    let bt = unwind(&mem, &code, &stacks(), start);
    // f1's frame is 16 bytes from the NULL call's return slot.
    mem.put(sp + 8, 0x2010);
    assert_eq!(names(&bt)[..2], ["f6", "f1"], "{bt:#?}");
    assert_eq!(bt.frames().nth(1).map(|f| f.slot), Some(sp));
}

#[test]
fn finds_exception_frames_and_parked_frames() {
    let mut mem = FakeMem::default();
    let stacks = stacks();
    let task = *stacks.task().unwrap();
    for a in (task.base..task.top).step_by(8) {
        mem.put(a, 0);
    }
    let user = regs(&[(RIP, 0x40_0000), (RSP, 0x7fff_0000), (CS, 0x33), (SS, 0x2b), (RFLAGS, 0x202)]);
    let pt_regs_size = X86_64.saved_regs.full.size as u64;
    mem.put_regs(TASK_TOP - pt_regs_size, &user);
    let kregs_addr = TASK_BASE + 0x1000;
    mem.put_regs(kregs_addr, &kernel_regs(0x1010, TASK_TOP - 0x200));
    let code = FakeCode { entries: vec![call_entry(0x1000, 16), call_entry(0x2000, 8)] };
    let found = find_exception_frames(&mem, &code, &stacks, &task);
    assert_eq!(
        found.iter().map(|f| (f.addr, f.user_mode)).collect::<Vec<_>>(),
        [(kregs_addr, false), (TASK_TOP - pt_regs_size, true)]
    );

    // A parked function f1 below a saved SP: its frame leads to SP.
    let saved_sp = TASK_BASE + 0x3000;
    mem.put(saved_sp - 24, 0x1020);
    let hit = find_parked_frame(
        &mem,
        &code,
        &stacks,
        saved_sp - 0x100,
        saved_sp,
        &|w| (0x1000..0x1100).contains(&w),
        &|r| matches!(r, StepResult::Call { state, .. } if state.sp == saved_sp),
    );
    assert_eq!(hit.map(|(s, slot)| (s.ip, slot)), Some((0x1020, saved_sp - 24)));
}

#[test]
fn frames_record_cfa_and_known_registers() {
    let mut mem = FakeMem::default();
    let sp = TASK_TOP - 0x100;
    let code = simple_chain(&mut mem, sp);
    let regs = with(with(kernel_regs(0x1010, sp), RBP, 0xb0b0), RDI, 0xd1);
    let bt = unwind(&mem, &code, &stacks(), StartState::from_regs(&regs));
    let frames: Vec<&Frame> = bt.frames().collect();
    // The CFA is the return-address slot of each frame + 8.
    let cfas: Vec<Option<u64>> = frames.iter().map(|f| f.cfa).collect();
    assert_eq!(cfas, [Some(sp + 16), Some(sp + 24), None]);
    // Only the frame entered from registers knows them all; RBP stays
    // known because no function saved it (ORC carries it unchanged).
    assert_eq!(frames[0].regs.and_then(|r| r.argument(0)), Some(0xd1));
    assert!(frames[1].regs.is_none() && frames[2].regs.is_none());
    assert!(frames.iter().all(|f| f.bp == Some(0xb0b0)));
}

#[test]
fn rbp_is_unknown_without_starting_registers() {
    let mut mem = FakeMem::default();
    let sp = TASK_TOP - 0x100;
    let code = simple_chain(&mut mem, sp);
    let start = StartState { state: UnwindState { ip: 0x1010, sp, bp: 0, signal: false, regs: None }, slot: sp - 8 };
    let bt = unwind(&mem, &code, &stacks(), start);
    assert!(bt.frames().all(|f| f.bp.is_none() && f.regs.is_none()));
}

#[test]
fn orc_gap_caller_must_call_the_gap_function() {
    // f1 returns into f2, which ORC leaves undescribed (like __crash_kexec).
    // f2's frame holds a stale return address into f4 (a call to f6) below
    // its real caller f3 (a call to f2); f4's own unwind would hold.
    let mut mem = FakeMem::default();
    let sp = TASK_TOP - 0x100;
    mem.put(sp, 0x2010);
    mem.put(sp + 8, 0x4010);
    mem.put(sp + 16, 0x3010);
    mem.put(sp + 24, 0x3010);
    mem.put_call(0x4010, 0x6000);
    mem.put_call(0x3010, 0x2000);
    let code = FakeCode {
        entries: vec![
            call_entry(0x1000, 8),
            OrcEntry { kind: OrcType::Undefined, sp_reg: OrcReg::Undefined, ..call_entry(0x2000, 0) },
            OrcEntry { kind: OrcType::EndOfStack, sp_reg: OrcReg::Undefined, ..call_entry(0x3000, 0) },
            call_entry(0x4000, 16),
        ],
    };
    let bt = unwind(&mem, &code, &stacks(), StartState::from_regs(&kernel_regs(0x1010, sp)));
    assert_eq!(names(&bt), ["f1", "f2", "f3"]);
    assert_eq!(bt.frames().last().map(|f| f.slot), Some(sp + 16));
}

/// Fake CFI: every function's CFA is RSP + 16 with the return address at
/// CFA-8 and RBP saved at CFA-16, except f3, which ends the stack.
struct CfiCode(FakeCode);

impl CodeInfo for CfiCode {
    fn arch(&self) -> &'static Arch {
        &X86_64
    }
    fn orc(&self, _ip: u64) -> Option<OrcEntry> {
        None
    }
    fn is_text(&self, addr: u64) -> bool {
        self.0.is_text(addr)
    }
    fn symbolize(&self, addr: u64) -> Option<Symbolized> {
        self.0.symbolize(addr)
    }
    fn cfi(&self, ip: u64) -> Option<CfiRow> {
        let outermost = ip >> 12 == 3;
        self.is_text(ip).then_some(CfiRow {
            cfa: CfaRule::RegisterOffset { register: 7, offset: 16 },
            return_address: if outermost { SavedRule::Undefined } else { SavedRule::AtCfa(-8) },
            fp: SavedRule::AtCfa(-16),
            return_address_signed: false,
        })
    }
}

#[test]
fn dwarf_cfi_follows_cfa_and_saved_rbp() {
    let mut mem = FakeMem::default();
    let sp = TASK_TOP - 0x100;
    // f1's frame: saved RBP at sp, return into f2 at sp+8; f2's likewise.
    mem.put(sp, 0x1111);
    mem.put(sp + 8, 0x2010);
    mem.put(sp + 16, 0x2222);
    mem.put(sp + 24, 0x3010);
    let code = CfiCode(FakeCode { entries: Vec::new() });
    let bt = unwind_with(Method::Dwarf, &mem, &code, &stacks(), StartState::from_regs(&kernel_regs(0x1010, sp)));
    assert_eq!(names(&bt), ["f1", "f2", "f3"]);
    let slots: Vec<u64> = bt.frames().map(|f| f.slot).collect();
    assert_eq!(slots, [sp, sp + 8, sp + 24]);
    let bps: Vec<Option<u64>> = bt.frames().map(|f| f.bp).collect();
    assert_eq!(bps, [Some(0), Some(0x1111), Some(0x2222)]);
    // ORC has no entries here: the default method falls back to CFI.
    let auto = unwind(&mem, &code, &stacks(), StartState::from_regs(&kernel_regs(0x1010, sp)));
    assert_eq!(names(&auto), ["f1", "f2", "f3"]);
}

#[test]
fn cfa_expression_of_a_realigned_stack() {
    // DW_OP_breg6 -8; DW_OP_deref: the CFA saved below RBP (DRAP).
    let expr = [0x76, 0x78, 0x06];
    let reg = |n: u16| (n == 6).then_some(0x5008u64);
    let read = |a: u64| (a == 0x5000).then_some(0x7000u64);
    assert_eq!(eval_cfa_expression(&expr, &reg, &read), Ok(0x7000));
    assert!(eval_cfa_expression(&[0x96], &reg, &read).is_err(), "unknown ops are refused");
    assert!(eval_cfa_expression(&[0x06], &reg, &read).is_err(), "deref of an empty stack is refused");
}

#[test]
fn frame_pointer_chain_and_its_honest_end() {
    let mut mem = FakeMem::default();
    let sp = TASK_TOP - 0x100;
    let bp1 = sp + 0x20;
    let bp2 = sp + 0x60;
    mem.put(bp1, bp2);
    mem.put(bp1 + 8, 0x2010);
    mem.put_call(0x2010, 0x1000);
    mem.put(bp2, 0x4242); // not a stack address: the chain ends
    mem.put(bp2 + 8, 0x3010);
    mem.put_call(0x3010, 0x2000);
    let code = FakeCode { entries: Vec::new() };
    let regs = with(kernel_regs(0x1010, sp), RBP, bp1);
    let bt = unwind_with(Method::FramePointer, &mem, &code, &stacks(), StartState::from_regs(&regs));
    let frames: Vec<&Frame> = bt.frames().filter(|f| !f.recovered).collect();
    let unaided: Vec<String> =
        frames.iter().map(|f| f.symbol.as_ref().map(|s| s.name.clone()).unwrap_or_default()).collect();
    assert_eq!(unaided, ["f1", "f2", "f3"]);
    assert_eq!(frames[1].slot, bp1 + 8);
    assert!(bt
        .items
        .iter()
        .any(|i| matches!(i, TraceItem::Warning { message } if message.contains("frame pointer 0000000000004242"))));
    // A word that follows no call is not taken as a return address.
    mem.put(bp1 + 8, 0x2020);
    let bt = unwind_with(Method::FramePointer, &mem, &code, &stacks(), StartState::from_regs(&regs));
    assert!(bt
        .items
        .iter()
        .any(|i| matches!(i, TraceItem::Warning { message } if message.contains("does not follow a call"))));
}

#[test]
fn stacks_at_the_top_of_the_address_space() {
    // A corrupt stack range ending at 2^64 - 1 with SP in its last word:
    // the searches for saved registers and callers must stop at the end
    // (they used to step 8 bytes past u64::MAX), and the SP past a popped
    // return address wraps as the CPU's would.
    let top_stack = StackRange { kind: kind(StackClass::Task), base: u64::MAX - 0xfff, top: u64::MAX };
    let stacks = StackSet { stacks: vec![top_stack] };
    let mut mem = FakeMem::default();
    let last_slot = u64::MAX - 7;
    mem.put(last_slot, 0x2010);
    mem.put_call(0x2010, 0x1000);
    let code = FakeCode { entries: vec![call_entry(0x1000, 16), call_entry(0x2000, 8)] };
    for sp in [u64::MAX - 2, last_slot, last_slot - 8] {
        let bt = unwind(&mem, &code, &stacks, StartState::from_regs(&kernel_regs(0x1010, sp)));
        assert_eq!(names(&bt).first().map(String::as_str), Some("f1"), "{bt:#?}");
    }
    assert_eq!(crate::scan::find_regs_above(&mem, &code, &stacks, u64::MAX - 2), None);
    assert!(find_exception_frames(&mem, &code, &stacks, &top_stack).is_empty());
    mem.put(last_slot - 8, 0x2010);
    let parked = find_parked_frame(&mem, &code, &stacks, u64::MAX - 0x100, u64::MAX, &|w| w == 0x2010, &|_| true);
    // The candidate's caller SP would wrap to 0, which the step refuses.
    assert_eq!(parked, None);
}

#[test]
fn partial_register_frame_holds_the_hardware_frame_only() {
    // f6 is entry code whose ORC entry says only an iret frame is at SP
    // (UNWIND_HINT_IRET_REGS); it interrupted f5, which returns into f2.
    let mut mem = FakeMem::default();
    let interrupted_sp = TASK_TOP - 0x100;
    let mut code = simple_chain(&mut mem, interrupted_sp - 8);
    code.entries.push(call_entry(0x5000, 8));
    code.entries.push(OrcEntry { kind: OrcType::RegsPartial, ..call_entry(0x6000, 0) });
    code.entries.sort_by_key(|e| e.ip);
    mem.put(interrupted_sp, 0x2010);
    let iret_at = TASK_TOP - 0x400;
    for (i, w) in [0x5020, 0x10, 0x246, interrupted_sp, 0x18].into_iter().enumerate() {
        mem.put(iret_at + 8 * i as u64, w);
    }
    let start = StartState::from_regs(&with(kernel_regs(0x6010, iret_at), RBP, 0xb0));
    let bt = unwind(&mem, &code, &stacks(), start);
    assert_eq!(names(&bt), ["f6", "f5", "f2", "f3"], "{bt:#?}");
    let e = bt
        .items
        .iter()
        .find_map(|i| match i {
            TraceItem::Exception(e) => Some(e),
            _ => None,
        })
        .unwrap();
    let offset = X86_64.saved_regs.hw_frame_offset().unwrap() as u64;
    assert_eq!((e.addr, e.partial, e.user_mode), (iret_at - offset, true, false));
    let known: Vec<&str> = e.regs.iter().map(|(d, _, _)| d.name).collect();
    assert_eq!(known, ["rsp", "rip", "rflags", "cs", "ss"]);
    assert_eq!((e.regs.pc(), e.regs.sp()), (Some(0x5020), Some(interrupted_sp)));
    // The frame pointer is not in the iret frame: ORC carries it over.
    assert_eq!(bt.frames().nth(1).and_then(|f| f.bp), Some(0xb0));
}

// arm64: DWARF CFI from a synthetic `.debug_frame` in the shape GCC gives
// a pointer-authenticated kernel function:
//   +0x00 paciasp                     (DW_CFA_AARCH64_negate_ra_state)
//   +0x04 stp x29, x30, [sp, #-32]!   (CFA sp+32, x29 at CFA-32, x30 at CFA-24)
//   +0x08 mov x29, sp
//   ...   bl ... (returns to +0x20)
//   +0x28 ldp x29, x30, [sp], #32     (both restored, CFA sp+0)
//   +0x2c autiasp                     (signing state negated back)
//   +0x30 ret
mod arm64_cfi {
    use super::*;
    use krash_arch::arm64::{ARM64, LR, PC, SP, X29};

    const TEXT: u64 = 0xffff_8000_8001_0000;
    /// Where the synthetic section's link-time addresses land (a KASLR slide).
    const SLIDE: u64 = 0x0000_0000_0120_0000;
    const PAC_MASK: u64 = 0xff7f_0000_0000_0000;
    const STACK_BASE: u64 = 0xffff_8000_8200_0000;
    const STACK_TOP: u64 = STACK_BASE + 0x4000;

    fn func(n: u64) -> u64 {
        TEXT + n * 0x1000
    }

    /// `addr` with a pointer-authentication signature in its upper bits.
    fn signed(addr: u64) -> u64 {
        addr & !PAC_MASK | 0x5a25_0000_0000_0000 & PAC_MASK
    }

    const PROLOGUE_EPILOGUE: [u8; 15] = [
        0x41, // DW_CFA_advance_loc 1 (x4): +0x04
        0x2d, // DW_CFA_AARCH64_negate_ra_state
        0x41, // +0x08
        0x0e, 0x20, // DW_CFA_def_cfa_offset 32
        0x9d, 0x04, // DW_CFA_offset x29, 4 * -8
        0x9e, 0x03, // DW_CFA_offset x30, 3 * -8
        0x48, // +0x28
        0xde, // DW_CFA_restore x30
        0xdd, // DW_CFA_restore x29
        0x0e, 0x00, // DW_CFA_def_cfa_offset 0
        0x41, // +0x2c, then:
    ];

    /// A version-1 CIE at offset 0 (code alignment 4, data alignment -8,
    /// return address x30, CFA = sp) and one FDE per function in `covered`.
    fn debug_frame(covered: &[u64]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&12u32.to_le_bytes());
        out.extend_from_slice(&0xffff_ffffu32.to_le_bytes());
        out.extend_from_slice(&[1, 0, 4, 0x78, 30, 0x0c, 31, 0]);
        for &n in covered {
            let mut body = Vec::new();
            body.extend_from_slice(&0u32.to_le_bytes());
            body.extend_from_slice(&(func(n) - SLIDE).to_le_bytes());
            body.extend_from_slice(&0x34u64.to_le_bytes());
            body.extend_from_slice(&PROLOGUE_EPILOGUE);
            body.push(0x2d); // autiasp
            while (body.len() + 4) % 8 != 0 {
                body.push(0); // DW_CFA_nop
            }
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(&body);
        }
        out
    }

    struct ArmCode {
        cfi: CfiTable,
    }

    /// `struct pt_regs` as the fake kernel lays it out: registers, then
    /// the entry code's frame record (`stackframe`).
    const PT_REGS_SIZE: u64 = 0x150;
    const STACKFRAME_OFFSET: u64 = 0x140;

    impl CodeInfo for ArmCode {
        fn arch(&self) -> &'static Arch {
            &ARM64
        }
        fn orc(&self, _ip: u64) -> Option<OrcEntry> {
            None
        }
        fn is_text(&self, addr: u64) -> bool {
            (func(1)..func(9)).contains(&addr) && addr & 0xfff < 0x100
        }
        fn symbolize(&self, addr: u64) -> Option<Symbolized> {
            self.is_text(addr).then(|| Symbolized {
                name: format!("f{}", (addr - TEXT) >> 12),
                offset: addr & 0xfff,
                module: None,
            })
        }
        fn cfi(&self, ip: u64) -> Option<CfiRow> {
            self.cfi.row(ip)
        }
        fn return_address(&self, raw: u64) -> u64 {
            krash_arch::arm64::strip_pac(raw, Some(PAC_MASK))
        }
        fn saved_regs_geometry(&self) -> Option<SavedRegsGeometry> {
            Some(SavedRegsGeometry { size: PT_REGS_SIZE, frame_record_offset: STACKFRAME_OFFSET })
        }
    }

    fn arm_stacks() -> StackSet {
        let task = ARM64.stacks.of_class(StackClass::Task).unwrap();
        StackSet { stacks: vec![StackRange { kind: task, base: STACK_BASE, top: STACK_TOP }] }
    }

    fn arm_regs(pc: u64, sp: u64, fp: u64, lr: u64) -> RegisterFile {
        let mut r = ARM64.new_registers();
        for (id, v) in [(PC, pc), (SP, sp), (X29, fp), (LR, lr)] {
            assert!(r.set_value(id, v));
        }
        r
    }

    #[test]
    fn aarch64_rows_follow_the_prologue_and_the_signing_state() {
        let table = CfiTable::from_debug_frame(&debug_frame(&[1]), SLIDE, &ARM64).unwrap();
        assert_eq!(table.len(), 1);
        let sp_plus = |offset| CfaRule::RegisterOffset { register: 31, offset };
        let row = |off: u64| table.row(func(1) + off).unwrap();
        // Entry: nothing saved, the return address in x30, unsigned.
        let entry = CfiRow {
            cfa: sp_plus(0),
            return_address: SavedRule::Unchanged,
            fp: SavedRule::Unchanged,
            return_address_signed: false,
        };
        assert_eq!(row(0), entry);
        // After paciasp: still in x30, now signed.
        assert_eq!(row(4), CfiRow { return_address_signed: true, ..entry.clone() });
        // After the stp: the frame record at CFA-32, x30 at CFA-24.
        let body = CfiRow {
            cfa: sp_plus(32),
            return_address: SavedRule::AtCfa(-24),
            fp: SavedRule::AtCfa(-32),
            return_address_signed: true,
        };
        assert_eq!(row(8), body);
        assert_eq!(row(0x1f), body);
        // After the ldp: back in x30 (signed until autiasp), then unsigned.
        assert_eq!(row(0x28), CfiRow { return_address_signed: true, ..entry.clone() });
        assert_eq!(row(0x2c), entry);
        assert_eq!(table.row(func(1) + 0x34), None, "past the FDE");
        assert_eq!(table.row(func(2)), None, "no FDE");
        // Read without the AArch64 vendor set, 0x2d is an unknown opcode:
        // every row after it would be lost.
        let x86 = CfiTable::from_debug_frame(&debug_frame(&[1]), SLIDE, &X86_64).unwrap();
        assert_eq!(x86.row(func(1) + 8), None);
    }

    /// f1 and f2 have CFI, f3 (module code, say) none, f4 CFI again, f5
    /// none, with a zeroed x29: the outermost frame.
    #[test]
    fn dwarf_unwind_strips_signatures_and_steps_frame_records_where_cfi_has_no_row() {
        let s = STACK_TOP - 0x400;
        let mut mem = FakeMem::default();
        // f1's frame [s, s+32): its record (f2's x29, signed return into f2).
        mem.put(s, s + 32);
        mem.put(s + 8, signed(func(2) + 0x20));
        // f2's frame [s+32, s+64): record pointing at f3's.
        mem.put(s + 32, s + 64);
        mem.put(s + 40, signed(func(3) + 0x20));
        // f3 (no CFI): a 64-byte frame with its record at the bottom.
        mem.put(s + 64, s + 128);
        mem.put(s + 72, signed(func(4) + 0x20));
        // f4's frame [s+128, s+160): the last record.
        mem.put(s + 128, 0);
        mem.put(s + 136, signed(func(5) + 0x20));
        let code = ArmCode { cfi: CfiTable::from_debug_frame(&debug_frame(&[1, 2, 4]), SLIDE, &ARM64).unwrap() };
        // Interrupted in f1's body (x30 is stale there).
        let start = StartState::from_regs(&arm_regs(func(1) + 0x10, s, s, 0xdead));
        let bt = unwind_with(Method::Dwarf, &mem, &code, &arm_stacks(), start);
        assert_eq!(names(&bt), ["f1", "f2", "f3", "f4", "f5"]);
        let sps: Vec<u64> = bt.frames().map(|f| f.sp).collect();
        // f4's SP comes from its CFI and its record (x29 - 32 + 32), not
        // from f3's record + 16, which would miss f3's 64-byte frame.
        assert_eq!(sps, [s, s + 32, s + 64, s + 128, s + 160]);
        let pcs: Vec<u64> = bt.frames().skip(1).map(|f| f.pc).collect();
        assert_eq!(pcs, [func(2) + 0x20, func(3) + 0x20, func(4) + 0x20, func(5) + 0x20], "signatures stripped");
        let slots: Vec<u64> = bt.frames().map(|f| f.slot).collect();
        assert_eq!(slots, [s, s + 8, s + 40, s + 64, s + 136]);
        assert!(!bt.items.iter().any(|i| matches!(i, TraceItem::Warning { .. })), "{:?}", bt.items);
    }

    #[test]
    fn a_function_interrupted_before_saving_x30_returns_through_it() {
        let s = STACK_TOP - 0x200;
        let mem = FakeMem::default();
        let code = ArmCode { cfi: CfiTable::from_debug_frame(&debug_frame(&[1, 2]), SLIDE, &ARM64).unwrap() };
        // Before paciasp, and between paciasp and the stp: x30 holds the
        // (signed, in the second case) return into f2; SP and x29 are f2's.
        for (at, lr) in [(0, func(2) + 0x20), (4, signed(func(2) + 0x20))] {
            let state = UnwindState::from_regs(&arm_regs(func(1) + at, s, s + 0x40, lr));
            let expected = UnwindState { ip: func(2) + 0x20, sp: s, bp: s + 0x40, signal: false, regs: None };
            assert_eq!(
                cfi_step(&mem, &code, &arm_stacks(), &state),
                Ok(StepResult::Call { state: expected, slot: s }),
                "interrupted at +{at:#x}"
            );
        }
        // A call through a NULL pointer: the caller is in x30 alike.
        let state = UnwindState::from_regs(&arm_regs(0, s, s + 0x40, signed(func(2) + 0x20)));
        let Ok(StepResult::Call { state: next, .. }) = cfi_step(&mem, &code, &arm_stacks(), &state) else {
            panic!("no step from a NULL call")
        };
        assert_eq!((next.ip, next.sp), (func(2) + 0x20, s));
        // A frame reached by a return cannot have its return address in
        // x30 (it called out): with no record either, the step fails
        // instead of inventing a caller.
        let returned = UnwindState { ip: func(1) + 4, sp: s, bp: 0x10, signal: false, regs: None };
        assert!(cfi_step(&mem, &code, &arm_stacks(), &returned).is_err());
    }

    /// A call through NULL (`blr x1` in f2 with x1 = 0), stepped by frame
    /// records: f2 is in x30 only, and x29 is f2's own record, which leads
    /// to f3. Going straight to the record (the kernel's own unwinder does)
    /// would lose f2, the function that made the call.
    #[test]
    fn frame_records_keep_the_caller_of_a_null_call() {
        let s = STACK_TOP - 0x200;
        let mut mem = FakeMem::default();
        mem.put_bytes(func(2) + 0x1c, &0xd63f_0020u32.to_le_bytes()); // blr x1
        mem.put(s, 0);
        mem.put(s + 8, signed(func(3) + 0x20));
        let code = ArmCode { cfi: CfiTable::from_debug_frame(&debug_frame(&[]), SLIDE, &ARM64).unwrap() };
        let state = UnwindState::from_regs(&arm_regs(0, s, s, signed(func(2) + 0x20)));
        let first = crate::frame_record::step(&mem, &code, &arm_stacks(), &state);
        let expected = UnwindState { ip: func(2) + 0x20, sp: s, bp: s, signal: false, regs: None };
        assert_eq!(first, Ok(StepResult::Call { state: expected, slot: s }));
        // Then f2's record gives f3.
        let Ok(StepResult::Call { state: second, .. }) =
            crate::frame_record::step(&mem, &code, &arm_stacks(), &expected)
        else {
            panic!("no step from f2")
        };
        assert_eq!(second.ip, func(3) + 0x20);
        // A pc in no text whose x30 is no return address (no call before
        // it) is not taken for a caller: the records decide.
        let stale = UnwindState::from_regs(&arm_regs(0, s, s, signed(func(4) + 0x20)));
        let Ok(StepResult::Call { state: by_record, .. }) =
            crate::frame_record::step(&mem, &code, &arm_stacks(), &stale)
        else {
            panic!("no step by the record")
        };
        assert_eq!(by_record.ip, func(3) + 0x20);
    }

    /// An interrupt in f1's body: the entry code (f6, no CFI) saved
    /// `pt_regs` with its frame record, and called the handler f2 (CFI),
    /// where the dump caught the CPU.
    #[test]
    fn dwarf_unwind_crosses_an_exception_by_the_record_in_pt_regs() {
        let handler_sp = STACK_TOP - 0x400;
        let pt_regs = handler_sp + 32;
        let interrupted_sp = pt_regs + PT_REGS_SIZE;
        let mut mem = FakeMem::default();
        // f2's frame: its record links to the one inside pt_regs.
        mem.put(handler_sp, pt_regs + STACKFRAME_OFFSET);
        mem.put(handler_sp + 8, signed(func(6) + 0x20));
        // The interrupted registers: f1 at +0x10 (its record at its SP),
        // EL1h, and the entry code's record of x29 and pc.
        let mut interrupted = arm_regs(func(1) + 0x10, interrupted_sp, interrupted_sp, 0xdead);
        assert!(interrupted.set_value(krash_arch::arm64::PSTATE, 0x6000_0005));
        let mut bytes = vec![0u8; PT_REGS_SIZE as usize];
        ARM64.saved_regs.full.write(&interrupted, &mut bytes).unwrap();
        mem.put_bytes(pt_regs, &bytes);
        mem.put(pt_regs + STACKFRAME_OFFSET, interrupted_sp);
        mem.put(pt_regs + STACKFRAME_OFFSET + 8, func(1) + 0x10);
        // f1's frame: the outermost record, returning into f3 (no CFI).
        mem.put(interrupted_sp, 0);
        mem.put(interrupted_sp + 8, signed(func(3) + 0x20));
        let code = ArmCode { cfi: CfiTable::from_debug_frame(&debug_frame(&[1, 2]), SLIDE, &ARM64).unwrap() };
        let start = StartState::from_regs(&arm_regs(func(2) + 0x10, handler_sp, handler_sp, 0xdead));
        let bt = unwind_with(Method::Dwarf, &mem, &code, &arm_stacks(), start);
        assert_eq!(names(&bt), ["f2", "f6", "f1", "f3"]);
        let exceptions: Vec<u64> = bt
            .items
            .iter()
            .filter_map(|i| match i {
                TraceItem::Exception(e) => Some(e.addr),
                _ => None,
            })
            .collect();
        assert_eq!(exceptions, [pt_regs]);
        let interrupted_frame = bt.frames().nth(2).unwrap();
        assert!(interrupted_frame.exact);
        assert_eq!(bt.frames().last().map(|f| f.sp), Some(interrupted_sp + 32), "f1's CFA");
        assert!(!bt.items.iter().any(|i| matches!(i, TraceItem::Warning { .. })), "{:?}", bt.items);
    }
}
