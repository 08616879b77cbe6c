//! DWARF as krash evaluates it while unwinding and showing a frame's
//! variables: (a) a variable's location (an expression or a location list,
//! with the function's frame base) evaluated in a frame, and (b) DWARF CFI:
//! a fuzzed `.debug_frame` indexed as a vmlinux's, its row for a pc, and
//! CFI unwind steps over a fuzzed stack.
//!
//! Header (85 bytes), then two byte strings of the lengths it gives, then
//! the rest of the input, which is memory at `MEM` (the stack, what
//! expressions read):
//!
//! * `[0]` bit 0: 0 picks (a), 1 picks (b);
//! * `[1]` flags (below); `[2..5]` which of DWARF registers 0-16 are known
//!   (a bit each; for (b) bit 17 hands the unwinder the whole register file);
//! * `[5..9]` the pc as an offset from `TEXT`; `[9..11]`, `[11..13]` the two
//!   lengths; `[13..17]` the CFA (a) or the stack pointer (b), and
//!   `[17..85]` DWARF registers 0-16, each an `i32` offset from `MEM`.
//!
//! (a) builds one unit by hand (DWARF 4 or 5): a function at `TEXT`
//! (`0x1000` bytes) whose DW_AT_frame_base is the first string, with one
//! parameter (typed `long *`) located by the second string: an exprloc, a
//! location list (the string is `.debug_loc` or `.debug_loclists` after a
//! header), a DW_AT_const_value block, or no location. Memory is also
//! `.debug_addr`. Flags: bits 0-1 the location's form, bit 2 DWARF 5, bit 3
//! a frame base, bit 4 the CFA known. The function comes from
//! `DwarfFile::function_at` and every variable goes through
//! `evaluate_variable`, as `bt -f`'s frame variables do.
//!
//! (b) indexes the first string with `CfiTable::from_debug_frame` (its FDEs
//! give link-time addresses near `TEXT`), then unwinds from the pc with the
//! DWARF method alone: one `cfi_step`, or a whole trace when flags bit 1 is
//! set (bit 0: the pc was interrupted, not a return address). Flags bit 3
//! makes it arm64's (the AArch64 CFA opcodes such as `negate_ra_state`; the
//! 17 registers are x0-x13, x29, x30 and sp). Every walk must end on its
//! own without a panic.
#![no_main]

use krash_arch::arm64::ARM64;
use krash_arch::x86_64::X86_64;
use krash_arch::{Arch, RegisterFile, StackClass};
use krash_core::memory::BytesAt;
use krash_core::VirtualMemory;
use krash_debuginfo::orc::OrcEntry;
use krash_dwarf::{DwarfFile, RegisterAndMemory};
use krash_unwind::{
    cfi_step, unwind_with, CfiRow, CfiTable, CodeInfo, Method, StackRange, StackSet, StartState, Symbolized,
    UnwindState,
};
use libfuzzer_sys::fuzz_target;

/// Where the function (a) and the code the FDEs describe (b) are.
const TEXT: u64 = 0xffff_ffff_8100_0000;
const FUNCTION_LEN: u64 = 0x1000;
/// Where the memory part of the input is mapped (a task stack).
const MEM: u64 = 0xffff_c900_0000_0000;
const HEADER: usize = 85;
const DWARF_REGISTERS: usize = 17;

struct Input<'a> {
    flags: u8,
    known: u32,
    pc: u32,
    cfa: i32,
    regs: [i32; DWARF_REGISTERS],
    first: &'a [u8],
    second: &'a [u8],
    mem: BytesAt<&'a [u8]>,
}

fn u16_at(data: &[u8], at: usize) -> usize {
    data.get(at..at + 2).map_or(0, |b| usize::from(u16::from_le_bytes([b[0], b[1]])))
}

fn u32_at(data: &[u8], at: usize) -> u32 {
    data.get(at..at + 4).and_then(|b| b.try_into().ok()).map_or(0, u32::from_le_bytes)
}

impl<'a> Input<'a> {
    fn parse(data: &'a [u8]) -> Option<Self> {
        let (head, rest) = data.split_at_checked(HEADER)?;
        let (first, rest) = rest.split_at(u16_at(head, 9).min(rest.len()));
        let (second, memory) = rest.split_at(u16_at(head, 11).min(rest.len()));
        let mut regs = [0i32; DWARF_REGISTERS];
        for (i, r) in regs.iter_mut().enumerate() {
            *r = u32_at(head, 17 + 4 * i) as i32;
        }
        Some(Input {
            flags: head[1],
            known: u32_at(head, 2) & 0xff_ffff,
            pc: u32_at(head, 5),
            cfa: u32_at(head, 13) as i32,
            regs,
            first,
            second,
            mem: BytesAt { base: MEM, bytes: memory },
        })
    }

    fn register(&self, n: u16) -> Option<u64> {
        let value = *self.regs.get(usize::from(n))?;
        (self.known & (1 << n) != 0).then(|| MEM.wrapping_add(value as i64 as u64))
    }
}

impl RegisterAndMemory for Input<'_> {
    fn register(&self, n: u16) -> Option<u64> {
        Input::register(self, n)
    }
    fn read(&self, addr: u64, buf: &mut [u8]) -> krash_core::Result<()> {
        self.mem.read_virt(addr, buf)
    }
    fn call_frame_cfa(&self) -> Option<u64> {
        (self.flags & 0x10 != 0).then(|| MEM.wrapping_add(self.cfa as i64 as u64))
    }
}

// ---- (a): a unit with one function and one variable ----

const DW_TAG_COMPILE_UNIT: u8 = 0x11;
const DW_TAG_BASE_TYPE: u8 = 0x24;
const DW_TAG_POINTER_TYPE: u8 = 0x0f;
const DW_TAG_SUBPROGRAM: u8 = 0x2e;
const DW_TAG_FORMAL_PARAMETER: u8 = 0x05;
const DW_AT_LOCATION: u8 = 0x02;
const DW_AT_NAME: u8 = 0x03;
const DW_AT_BYTE_SIZE: u8 = 0x0b;
const DW_AT_LOW_PC: u8 = 0x11;
const DW_AT_HIGH_PC: u8 = 0x12;
const DW_AT_CONST_VALUE: u8 = 0x1c;
const DW_AT_ENCODING: u8 = 0x3e;
const DW_AT_FRAME_BASE: u8 = 0x40;
const DW_AT_TYPE: u8 = 0x49;
const DW_FORM_ADDR: u8 = 0x01;
const DW_FORM_DATA8: u8 = 0x07;
const DW_FORM_STRING: u8 = 0x08;
const DW_FORM_BLOCK: u8 = 0x09;
const DW_FORM_DATA1: u8 = 0x0b;
const DW_FORM_REF4: u8 = 0x13;
const DW_FORM_SEC_OFFSET: u8 = 0x17;
const DW_FORM_EXPRLOC: u8 = 0x18;

/// Abbreviation codes of the DIEs below.
const AB_UNIT: u8 = 1;
const AB_BASE: u8 = 2;
const AB_POINTER: u8 = 3;
const AB_FUNCTION_WITH_BASE: u8 = 4;
const AB_FUNCTION: u8 = 5;
/// Parameters located by an exprloc, a location list, a constant, nothing.
const AB_PARAMETERS: [u8; 4] = [6, 7, 8, 9];

fn uleb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn abbrevs() -> Vec<u8> {
    let mut out = Vec::new();
    let mut abbrev = |code: u8, tag: u8, children: bool, attrs: &[(u8, u8)]| {
        out.extend([code, tag, u8::from(children)]);
        for &(at, form) in attrs {
            out.extend([at, form]);
        }
        out.extend([0, 0]);
    };
    let function = [(DW_AT_NAME, DW_FORM_STRING), (DW_AT_LOW_PC, DW_FORM_ADDR), (DW_AT_HIGH_PC, DW_FORM_DATA8)];
    abbrev(AB_UNIT, DW_TAG_COMPILE_UNIT, true, &function);
    abbrev(
        AB_BASE,
        DW_TAG_BASE_TYPE,
        false,
        &[(DW_AT_NAME, DW_FORM_STRING), (DW_AT_BYTE_SIZE, DW_FORM_DATA1), (DW_AT_ENCODING, DW_FORM_DATA1)],
    );
    abbrev(AB_POINTER, DW_TAG_POINTER_TYPE, false, &[(DW_AT_BYTE_SIZE, DW_FORM_DATA1), (DW_AT_TYPE, DW_FORM_REF4)]);
    let mut with_base = function.to_vec();
    with_base.push((DW_AT_FRAME_BASE, DW_FORM_EXPRLOC));
    abbrev(AB_FUNCTION_WITH_BASE, DW_TAG_SUBPROGRAM, true, &with_base);
    abbrev(AB_FUNCTION, DW_TAG_SUBPROGRAM, true, &function);
    let named = [(DW_AT_NAME, DW_FORM_STRING), (DW_AT_TYPE, DW_FORM_REF4)];
    for (code, location) in AB_PARAMETERS.into_iter().zip([
        Some((DW_AT_LOCATION, DW_FORM_EXPRLOC)),
        Some((DW_AT_LOCATION, DW_FORM_SEC_OFFSET)),
        Some((DW_AT_CONST_VALUE, DW_FORM_BLOCK)),
        None,
    ]) {
        let mut attrs = named.to_vec();
        attrs.extend(location);
        abbrev(code, DW_TAG_FORMAL_PARAMETER, false, &attrs);
    }
    out.push(0);
    out
}

/// `.debug_loclists`' header: the list itself starts after it.
const LOCLISTS_HEADER: usize = 12;

/// `.debug_info`, and the location-list section (`.debug_loc` for DWARF 4).
fn unit(input: &Input<'_>) -> (Vec<u8>, Vec<u8>) {
    let version5 = input.flags & 4 != 0;
    let form = usize::from(input.flags & 3);
    let mut dies = Vec::new();
    let unit_header = if version5 { 12 } else { 11 };
    let offset = |dies: &Vec<u8>| (unit_header + dies.len()) as u32;
    dies.push(AB_UNIT);
    dies.extend(b"f.c\0");
    dies.extend(TEXT.to_le_bytes());
    dies.extend(FUNCTION_LEN.to_le_bytes());
    let long = offset(&dies);
    dies.extend([AB_BASE, b'l', b'o', b'n', b'g', 0, 8, 5]);
    let pointer = offset(&dies);
    dies.extend([AB_POINTER, 8]);
    dies.extend(long.to_le_bytes());
    let with_base = input.flags & 8 != 0;
    dies.push(if with_base { AB_FUNCTION_WITH_BASE } else { AB_FUNCTION });
    dies.extend(b"f\0");
    dies.extend(TEXT.to_le_bytes());
    dies.extend(FUNCTION_LEN.to_le_bytes());
    if with_base {
        uleb(&mut dies, input.first.len() as u64);
        dies.extend(input.first);
    }
    dies.push(AB_PARAMETERS[form]);
    dies.extend(b"p\0");
    dies.extend(pointer.to_le_bytes());
    let mut lists = Vec::new();
    match form {
        0 | 2 => {
            uleb(&mut dies, input.second.len() as u64);
            dies.extend(input.second);
        }
        1 if version5 => {
            lists.extend(((LOCLISTS_HEADER - 4 + input.second.len()) as u32).to_le_bytes());
            lists.extend([5, 0, 8, 0, 0, 0, 0, 0]);
            lists.extend(input.second);
            dies.extend((LOCLISTS_HEADER as u32).to_le_bytes());
        }
        1 => {
            lists.extend(input.second);
            dies.extend(0u32.to_le_bytes());
        }
        _ => {}
    }
    dies.extend([0, 0]);
    let mut info = Vec::with_capacity(unit_header + dies.len());
    info.extend(((unit_header - 4 + dies.len()) as u32).to_le_bytes());
    if version5 {
        // DW_UT_compile, 8-byte addresses, abbreviations at 0.
        info.extend([5, 0, 1, 8, 0, 0, 0, 0]);
    } else {
        info.extend([4, 0, 0, 0, 0, 0, 8]);
    }
    info.extend(dies);
    (info, lists)
}

fn variables(input: &Input<'_>) {
    let (info, lists) = unit(input);
    let abbrev = abbrevs();
    let loc_section = if input.flags & 4 != 0 { ".debug_loclists" } else { ".debug_loc" };
    let sections: [(&str, &[u8]); 4] =
        [(".debug_info", &info), (".debug_abbrev", &abbrev), (loc_section, &lists), (".debug_addr", input.mem.bytes)];
    let Ok(dwarf) = DwarfFile::from_sections("fuzz", &sections) else { return };
    let pc = TEXT + u64::from(input.pc) % FUNCTION_LEN;
    let Ok(Some(function)) = dwarf.function_at(pc) else { return };
    for variable in function.parameters.iter().chain(&function.locals) {
        let _ = dwarf.evaluate_variable(&function, variable, pc, input);
    }
}

// ---- (b): DWARF CFI ----

struct Code<'a> {
    table: &'a CfiTable,
    arch: &'static Arch,
}

impl CodeInfo for Code<'_> {
    fn arch(&self) -> &'static Arch {
        self.arch
    }
    fn orc(&self, _ip: u64) -> Option<OrcEntry> {
        None
    }
    fn is_text(&self, addr: u64) -> bool {
        addr >= TEXT
    }
    fn symbolize(&self, addr: u64) -> Option<Symbolized> {
        let offset = addr.checked_sub(TEXT)?;
        Some(Symbolized { name: format!("f{}", offset / FUNCTION_LEN), offset: offset % FUNCTION_LEN, module: None })
    }
    fn cfi(&self, ip: u64) -> Option<CfiRow> {
        self.table.row(ip)
    }
}

fn cfi(input: &Input<'_>) {
    let arch: &'static Arch = if input.flags & 8 != 0 { &ARM64 } else { &X86_64 };
    let Ok(table) = CfiTable::from_debug_frame(input.first, 0, arch) else { return };
    let code = Code { table: &table, arch };
    let Some(task) = arch.stacks.of_class(StackClass::Task) else { return };
    let mem = &input.mem;
    let top = MEM + mem.bytes.len() as u64;
    let stacks = StackSet { stacks: vec![StackRange { kind: task, base: MEM, top }] };
    let regs = (input.known & (1 << 17) != 0).then(|| {
        let mut file = RegisterFile::new(arch.registers);
        for n in 0..DWARF_REGISTERS as u16 {
            // arm64: the last three slots are x29, x30 and sp.
            let number = if arch.machine == ARM64.machine && n >= 14 { n + 15 } else { n };
            if let (Some(value), Some(id)) = (input.register(n), arch.registers.by_dwarf(number)) {
                file.set_value(id, value);
            }
        }
        file
    });
    let state = UnwindState {
        ip: TEXT.wrapping_add(u64::from(input.pc)),
        sp: MEM.wrapping_add(input.cfa as i64 as u64),
        // The frame pointer: RBP (DWARF 6), or arm64's x29 (slot 14).
        bp: input.register(if arch.machine == ARM64.machine { 14 } else { 6 }).unwrap_or(0),
        signal: input.flags & 1 != 0,
        regs,
    };
    let _ = table.row(state.ip);
    if input.flags & 2 == 0 {
        let _ = cfi_step(mem, &code, &stacks, &state);
    } else {
        let trace = unwind_with(Method::Dwarf, mem, &code, &stacks, StartState { state, slot: state.sp });
        assert!(trace.frames().count() <= krash_unwind::MAX_FRAMES);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::parse(data) else { return };
    if data[0] & 1 == 0 {
        variables(&input);
    } else {
        cfi(&input);
    }
});
