//! The x86-64 tables against the kernel's own layouts and the previous
//! hand-written decoders.

use super::*;
use crate::layout::Slot;
use crate::registers::{RegisterFile, RegisterRole};
use crate::{for_machine, LayoutValue, RegionKind};

/// A PRSTATUS descriptor as the kernel writes it: pid at 32, pr_reg
/// (27 words from r15) at 112, 336 bytes in all.
fn prstatus_bytes(pid: u32, words: &[u64; 27]) -> Vec<u8> {
    let mut d = vec![0u8; 336];
    d[32..36].copy_from_slice(&pid.to_le_bytes());
    for (i, w) in words.iter().enumerate() {
        d[112 + 8 * i..120 + 8 * i].copy_from_slice(&w.to_le_bytes());
    }
    d
}

/// `struct user_regs_struct` (arch/x86/include/asm/user_64.h), member by member.
const USER_REGS_STRUCT: [&str; 27] = [
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax",
    "rip", "cs", "rflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs",
];

/// Every register of `regs` is word `i` of `words`, where `USER_REGS_STRUCT`
/// names it; and none else is known.
fn assert_user_regs(regs: &RegisterFile, words: &[u64]) {
    for (name, &w) in USER_REGS_STRUCT.iter().zip(words) {
        assert_eq!(regs.by_name(name), Some(w), "{name}");
    }
    assert_eq!(regs.iter().count(), words.len());
}

#[test]
fn prstatus_matches_user_regs_struct() {
    let words: [u64; 27] = std::array::from_fn(|i| 0x1000 + i as u64);
    let p = X86_64.prstatus.parse(&prstatus_bytes(42, &words)).unwrap();
    assert_eq!(p.pid, 42);
    assert_user_regs(&p.regs, &words);
    assert_eq!(p.regs.pc(), Some(0x1000 + 16));
    assert_eq!(p.regs.sp(), Some(0x1000 + 19));
    assert_eq!(p.regs.by_name("gs"), Some(0x1000 + 26));
    assert!(X86_64.prstatus.parse(&prstatus_bytes(1, &words)[..300]).is_err());
    assert_eq!(X86_64.prstatus.min_len(), 328);
}

#[test]
fn pt_regs_is_the_prefix_and_holds_the_iret_frame() {
    let layout = &X86_64.saved_regs.full;
    assert_eq!(layout.size, 168);
    assert_eq!(layout.offset_of(RIP), Some(128));
    let (at, frame) = X86_64.saved_regs.hw_frame.unwrap();
    assert_eq!(at, IRET_FRAME_OFFSET);
    for slot in frame.slots {
        assert_eq!(layout.offset_of(slot.reg), Some(at + slot.offset), "{:?}", slot.reg);
    }
    let mut bytes = vec![0u8; 168];
    let mut regs = X86_64.new_registers();
    regs.set_value(RIP, 0xffff_ffff_8100_0000);
    regs.set_value(CS, 0x10);
    regs.set_value(SS, 0x18);
    regs.set_value(RFLAGS, 0x246);
    regs.set_value(RSP, 0xffff_c900_0000_3f00);
    layout.write(&regs, &mut bytes).unwrap();
    let read = layout.read(&bytes).unwrap();
    assert_eq!(read.pc(), regs.pc());
    assert!(X86_64.saved_regs.is_plausible_kernel_frame(&read));
    assert!(!X86_64.saved_regs.is_user_mode(&read));
    let mut user = read;
    user.set_value(CS, 0x33);
    user.set_value(SS, 0x2b);
    assert!(X86_64.saved_regs.is_user_mode(&user));
    assert!(!X86_64.saved_regs.is_plausible_user_frame(&user), "a kernel RIP is no user frame");
    user.set_value(RIP, 0x4000_1000);
    assert!(X86_64.saved_regs.is_plausible_user_frame(&user));
    let mut bad_flags = read;
    bad_flags.set_value(RFLAGS, 0x246 | (1 << 40));
    assert!(!X86_64.saved_regs.is_plausible_kernel_frame(&bad_flags));
}

#[test]
fn roles_and_dwarf_numbers_follow_the_psabi() {
    let set = X86_64.registers;
    let args: Vec<_> = set.arguments().iter().map(|&id| set.desc(id).unwrap().name).collect();
    assert_eq!(args, ["rdi", "rsi", "rdx", "rcx", "r8", "r9"]);
    assert_eq!(set.with_role(RegisterRole::ReturnValue), Some(RAX));
    assert_eq!(set.with_role(RegisterRole::FramePointer), Some(RBP));
    assert_eq!(set.with_role(RegisterRole::ReturnAddress), None);
    assert_eq!(set.with_role(RegisterRole::PageTableRoot), Some(CR3));
    // The psABI's DWARF numbers 0-16 (figure 3.36; 16 is the return
    // address column, RIP).
    let psabi = [
        "rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
        "rip",
    ];
    for (n, name) in psabi.iter().enumerate() {
        assert_eq!(set.by_dwarf(n as u16), set.id(name), "DWARF {n}");
    }
    assert_eq!(set.dwarf_number(RegisterRole::StackPointer), Some(7));
    assert_eq!(set.dwarf_number(RegisterRole::FramePointer), Some(6));
    assert!(set.registers.len() <= crate::registers::MAX_REGISTERS);
    // Ids are the table positions their names say.
    for id in set.ids() {
        assert_eq!(set.id(set.desc(id).unwrap().name), Some(id));
    }
}

#[test]
fn register_files_serialize_by_name() {
    let mut file = X86_64.new_registers();
    file.set_value(RIP, 0xffff_ffff_8100_0000);
    file.set_value(CR3, 0x1234_5000);
    assert_eq!(file.by_role(RegisterRole::PageTableRoot), Some(0x1234_5000));
    let json = serde_json::to_value(file).unwrap();
    assert_eq!(json, serde_json::json!({"rip": 0xffff_ffff_8100_0000u64, "cr3": 0x1234_5000}));
}

#[test]
fn qemu_note_gives_control_registers_and_segments() {
    let mut q = vec![0u8; 440];
    q[0..4].copy_from_slice(&1u32.to_le_bytes());
    q[8 + 16 * 8..8 + 17 * 8].copy_from_slice(&0xffff_ffff_8100_0010u64.to_le_bytes());
    q[152..156].copy_from_slice(&0x10u32.to_le_bytes());
    q[248 + 16..248 + 24].copy_from_slice(&0xffff_8880_7fc0_0000u64.to_le_bytes());
    q[416..424].copy_from_slice(&0x1234000u64.to_le_bytes());
    q[432..440].copy_from_slice(&0x55u64.to_le_bytes());
    let regs = X86_64.cpu_registers(None, Some(&q)).unwrap().unwrap();
    assert_eq!(regs.by_role(RegisterRole::PageTableRoot), Some(0x1234000));
    assert_eq!(regs.pc(), Some(0xffff_ffff_8100_0010));
    assert_eq!(regs.get(CS), Some(0x10));
    assert_eq!(regs.by_role(RegisterRole::PerCpuBase), Some(0xffff_8880_7fc0_0000));
    assert_eq!(regs.by_name("kernel_gs_base"), Some(0x55));
    // Version 1 notes may end before kernel_gs_base.
    let v1 = QEMU_CPU_STATE.regs.read(&q[..432]).unwrap();
    assert_eq!((v1.by_name("kernel_gs_base"), v1.by_name("cr3")), (None, Some(0x1234000)));
    assert!(QEMU_CPU_STATE.regs.read(&q[..400]).is_err());
    assert!(X86_64.cpu_registers(None, Some(&[])).is_err());
}

#[test]
fn cpu_registers_pair_prstatus_with_qemu_control_registers() {
    let words: [u64; 27] = std::array::from_fn(|i| 0x1000 + i as u64);
    let pr = prstatus_bytes(42, &words);
    let mut q = vec![0u8; 440];
    q[0..4].copy_from_slice(&1u32.to_le_bytes());
    q[8 + 16 * 8..8 + 17 * 8].copy_from_slice(&0xdead_u64.to_le_bytes());
    q[416..424].copy_from_slice(&0x1234000u64.to_le_bytes());
    // PRSTATUS's registers win; QEMU adds what PRSTATUS lacks.
    let regs = X86_64.cpu_registers(Some(&pr), Some(&q)).unwrap().unwrap();
    assert_eq!(regs.pc(), Some(0x1000 + 16));
    assert_eq!(regs.by_name("cr3"), Some(0x1234000));
    let only_qemu = X86_64.cpu_registers(None, Some(&q)).unwrap().unwrap();
    assert_eq!(only_qemu.pc(), Some(0xdead));
    assert_eq!(X86_64.cpu_registers(Some(&pr), None).unwrap().unwrap().by_name("cr3"), None);
    assert_eq!(X86_64.cpu_registers(None, None).unwrap(), None);
    assert!(X86_64.cpu_registers(Some(&pr[..200]), None).is_err());
    assert!(X86_64.cpu_registers(Some(&pr), Some(&q[..100])).is_err());
}

#[test]
fn address_space_defaults_and_overrides() {
    let none = |_: LayoutValue| None;
    let spec = X86_64.address_space(&none).unwrap();
    assert_eq!(spec.paging, &PAGING_4_LEVEL);
    let layout = spec.resolve(&none);
    let region = |kind| *layout.region(kind).unwrap();
    assert_eq!(region(RegionKind::DirectMap).start, 0xffff_8880_0000_0000);
    assert_eq!(region(RegionKind::KernelImage).start, START_KERNEL_MAP);
    assert_eq!(region(RegionKind::Modules).start, START_KERNEL_MAP + (1 << 30));
    assert_eq!(region(RegionKind::Modules).end, 0xffff_ffff_ff00_0000);
    assert_eq!(region(RegionKind::Vmalloc).start, 0xffff_c900_0000_0000);
    assert_eq!(region(RegionKind::Vmemmap).start, 0xffff_ea00_0000_0000);
    assert_eq!(layout.region_of(0xffff_ffff_ff5f_f000).unwrap().kind, RegionKind::Fixmap);
    assert_eq!(layout.region_of(0xffff_fe00_0000_1000).unwrap().kind, RegionKind::CpuEntryArea);
    assert_eq!(layout.region_of(0x7fff_ffff_f000).unwrap().kind, RegionKind::User);
    assert!(layout.region_of(0xffff_8000_0000_0000).is_none(), "the guard hole is no region");
    assert_eq!(layout.linear_phys(START_KERNEL_MAP + 0x1000), Some(0x1000));
    assert_eq!(layout.direct_map_virt(0x1000), Some(0xffff_8880_0000_1000));
    assert!(layout.is_canonical(0xffff_8880_0000_0000) && !layout.is_canonical(1 << 50));

    // KASLR and VMCOREINFO move things.
    let kaslr = |v: LayoutValue| match v {
        LayoutValue::Variable("page_offset_base") => Some(0xffff_9b00_0000_0000),
        LayoutValue::Variable("vmalloc_base") => Some(0xffff_b000_0000_0000),
        LayoutValue::VmcoreinfoNumber("phys_base") => Some(0x3a00_0000),
        LayoutValue::VmcoreinfoNumber("KERNEL_IMAGE_SIZE") => Some(512 << 20),
        LayoutValue::PhysicalEnd => Some(0x2_4000_0000),
        _ => None,
    };
    let layout = X86_64.address_space(&kaslr).unwrap().resolve(&kaslr);
    let map = *layout.region(RegionKind::DirectMap).unwrap();
    assert_eq!((map.start, map.end), (0xffff_9b00_0000_0000, 0xffff_9b02_4000_0000));
    assert_eq!(layout.linear_phys(0xffff_9b00_0000_2000), Some(0x2000));
    assert_eq!(layout.linear_phys(0xffff_9b02_4000_0000), None, "past the end of RAM");
    assert_eq!(layout.linear_phys(START_KERNEL_MAP + 0x1000), Some(0x3a00_1000));
    assert_eq!(layout.region(RegionKind::Modules).unwrap().start, START_KERNEL_MAP + (512 << 20));

    let l5 = |v: LayoutValue| (v == LayoutValue::VmcoreinfoNumber("pgtable_l5_enabled")).then_some(1);
    let spec = X86_64.address_space(&l5).unwrap();
    assert_eq!(spec.paging, &PAGING_5_LEVEL);
    let layout = spec.resolve(&l5);
    assert_eq!(layout.region(RegionKind::DirectMap).unwrap().start, 0xff11_0000_0000_0000);
    assert_eq!(layout.region(RegionKind::Vmalloc).unwrap().end, 0xffa0_0000_0000_0000 + 12800 * TB);
    assert_eq!(spec.kernel_root_symbols[0], "init_top_pgt");
}

#[test]
fn stacks_named_as_crash_names_them() {
    let names: Vec<_> = X86_64.stacks.kinds.iter().map(|k| k.crash_name).collect();
    assert!(names.contains(&"NMI exception stack") && names.contains(&"ENTRY TRAMPOLINE stack"));
    assert_eq!(X86_64.stacks.kind("nmi").unwrap().class, crate::StackClass::Exception);
    assert_eq!(X86_64.stacks.of_class(crate::StackClass::Irq).unwrap().crash_name, "IRQ stack");
    assert_eq!(X86_64.stacks.thread_size, 16384);
    // The IRQ stack's top: hardirq_stack_ptr (5.2+) points at the last
    // word, pcpu_hot's copy (6.2-6.x) likewise, irq_stack_ptr (before
    // 5.2) at the top itself; tried newest first.
    let crate::StackLocator::PerCpuTopPointer { places } =
        X86_64.stacks.of_class(crate::StackClass::Irq).unwrap().locator
    else {
        panic!("the IRQ stack is found through a per-cpu top pointer");
    };
    let places: Vec<_> = places.iter().map(|p| (p.variable, p.member, p.top_past_pointer)).collect();
    assert_eq!(
        places,
        [("hardirq_stack_ptr", None, 8), ("pcpu_hot", Some("hardirq_stack_ptr"), 8), ("irq_stack_ptr", None, 0)]
    );
    assert_eq!(serde_json::to_string(X86_64.stacks.kind("double_fault").unwrap()).unwrap(), "\"double_fault\"");
}

#[test]
fn selector_returns_each_implemented_machine() {
    let arch = for_machine(Machine::X86_64).unwrap();
    assert_eq!(arch.name(), "x86_64");
    assert_eq!(arch.base_page_size(), Some(4096));
    assert_eq!(for_machine(Machine::Aarch64).unwrap().name(), "aarch64");
    // arm64 kernels choose their granule: no single page size.
    assert_eq!(for_machine(Machine::Aarch64).unwrap().base_page_size(), None);
    assert_eq!(arch.decoder.decode(&[0xe8, 0, 0, 0, 0], 0x1000).unwrap().branch_target, Some(0x1005));
    let _: Slot = X86_64.prstatus.regs.slots[0];
}

/// Kernel memory over a byte vector at a base address.
struct Bytes(u64, Vec<u8>);

impl krash_core::VirtualMemory for Bytes {
    fn read_virt(&self, addr: u64, buf: &mut [u8]) -> krash_core::Result<()> {
        let at = addr.checked_sub(self.0).map(|a| a as usize);
        let src = at.and_then(|a| self.1.get(a..a + buf.len())).ok_or_else(|| krash_core::memory::not_mapped(addr))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

#[test]
fn pt_regs_and_iret_frames_read_from_memory() {
    let words: [u64; 21] = std::array::from_fn(|i| 0x100 + i as u64);
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    let mem = Bytes(0xffff_c900_0000_0000, bytes);
    let regs = X86_64.saved_regs.read_from(&mem, 0xffff_c900_0000_0000).unwrap();
    assert_user_regs(&regs, &words);
    assert!(X86_64.saved_regs.read_from(&mem, 0xffff_c900_0000_0008).is_err(), "runs off the end");

    let mut current = X86_64.new_registers();
    current.set_value(RBX, 7);
    current.set_value(RIP, 1);
    let at = 0xffff_c900_0000_0000 + X86_64.saved_regs.hw_frame_offset().unwrap() as u64;
    let partial = X86_64.saved_regs.read_hw_frame_from(&mem, at, &current).unwrap();
    assert_eq!(partial.get(RBX), Some(7), "general registers are kept");
    assert_eq!(partial.pc(), Some(0x100 + 16));
    assert_eq!(partial.sp(), Some(0x100 + 19));
    assert_eq!(partial.get(SS), Some(0x100 + 20));
}

#[test]
fn short_and_random_note_bytes_never_panic() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for len in 0..520 {
        let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let pr = X86_64.prstatus.parse(&bytes);
        assert_eq!(pr.is_ok(), len >= 328, "PRSTATUS of {len} bytes");
        assert_eq!(QEMU_CPU_STATE.regs.read(&bytes).is_ok(), len >= 432, "QEMU note of {len} bytes");
        assert_eq!(X86_64.saved_regs.full.read(&bytes).is_ok(), len >= 168, "pt_regs of {len} bytes");
    }
}

#[test]
fn decoder_trait_reports_flow_and_calls_before_returns() {
    use crate::decoder::FlowKind;
    let d = X86_64.decoder;
    assert_eq!(d.max_instruction_len(), 15);
    let call = d.decode(&[0xe8, 0x10, 0, 0, 0], 0x1000).unwrap();
    assert_eq!((call.len, call.flow, call.branch_target), (5, FlowKind::Call, Some(0x1015)));
    assert_eq!(d.decode(&[0xff, 0xd0], 0).unwrap().flow, FlowKind::IndirectCall);
    assert_eq!(d.decode(&[0xc3], 0).unwrap().flow, FlowKind::Return);
    assert_eq!(d.decode(&[0x0f, 0x0b], 0).unwrap().flow, FlowKind::Trap);
    assert_eq!(d.decode(&[0x74, 0x02], 0).unwrap().flow, FlowKind::ConditionalJump);
    assert_eq!(d.decode(&[0xeb, 0x02], 0).unwrap().flow, FlowKind::Jump);
    assert_eq!(d.decode(&[0x90], 0).unwrap().flow, FlowKind::Sequential);
    assert!(d.decode(&[0x48], 0).is_none());
    // A return address after `call rel32`, and after `call *%rax`.
    let mut before = vec![0x90u8; 10];
    before.extend([0xe8, 0xfb, 0xff, 0xff, 0xff]);
    let found = d.call_ending_at(&before, 0x2000).unwrap();
    assert_eq!((found.addr, found.branch_target), (0x2000 - 5, Some(0x2000 - 5)));
    let found = d.call_ending_at(&[0x90, 0x90, 0xff, 0xd0], 0x2000).unwrap();
    assert_eq!((found.addr, found.flow), (0x1ffe, FlowKind::IndirectCall));
    assert!(d.call_ending_at(&[0x90, 0x90, 0x90], 0x2000).is_none());
    assert!(d.call_ending_at(&[], 0).is_none());
    let one = d.instruction(&[0xe8, 0x10, 0, 0, 0, 0x90], 0x1000, &|a| Some(("f".to_string(), a - 0x1000))).unwrap();
    assert_eq!((one.text.as_str(), one.len, one.flow), ("call   0x1015 <f+21>", 5, FlowKind::Call));
    assert!(d.instruction(&[0x48], 0x1000, &|_| None).is_none());
    let insns = d.disassemble(&[0x55, 0xc3], 0x1000, &|_| None);
    assert_eq!(
        insns.iter().map(|i| (i.text.as_str(), i.flow)).collect::<Vec<_>>(),
        [("push   %rbp", FlowKind::Sequential), ("ret", FlowKind::Return)]
    );
}
