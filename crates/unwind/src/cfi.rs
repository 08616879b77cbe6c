//! DWARF call frame information (`.debug_frame`): on x86-64 a fallback
//! to ORC, on arm64 the tables `bt --unwinder dwarf` follows. An index of
//! FDE ranges built once, and per-address rows reduced to what a kernel
//! unwind needs (the CFA, the return address, the frame pointer).
//!
//! arm64 differs in two ways the reduction hides from the unwinder: the
//! return address lives in the link register (x30) until a prologue saves
//! it, so a return-address column without a rule means "still in x30"
//! (x86-64's CIE always says where the return address is, and no rule
//! there means the outermost frame); and pointer-authenticated kernels
//! mark signed return addresses with `DW_CFA_AARCH64_negate_ra_state`
//! (0x2d), an opcode that exists only in the AArch64 vendor set (gimli
//! refuses it otherwise, which would leave every signing function
//! without a row).

use gimli::{
    BaseAddresses, CieOrFde, DebugFrame, DebugFrameOffset, EndianSlice, LittleEndian, Register, RegisterRule,
    UnwindContext, UnwindSection, Vendor,
};
use krash_arch::{Arch, Machine, RegisterRole};
use krash_core::{Error, Result};

/// Most FDEs accepted from one `.debug_frame` (the lab vmlinux has ~90k).
const MAX_FDES: usize = 4_000_000;

/// How to compute the canonical frame address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CfaRule {
    /// A register (DWARF number) plus an offset.
    RegisterOffset { register: u16, offset: i64 },
    /// A DWARF expression (e.g. a realigned stack's `DW_OP_breg6 -8; DW_OP_deref`).
    Expression(Vec<u8>),
}

/// Where the caller's value of a register is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SavedRule {
    /// Not saved by this function: the callee's value is the caller's.
    /// For the return address of a link-register architecture: still in
    /// the link register (a leaf, or code before the prologue's save or
    /// after the epilogue's reload).
    Unchanged,
    /// Saved in the stack slot at CFA + offset.
    AtCfa(i64),
    /// The value is lost (for the return address: the outermost frame).
    Undefined,
    /// A rule krash does not evaluate (register copies, expressions).
    Unsupported,
}

/// The unwind rules at one code address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CfiRow {
    pub cfa: CfaRule,
    pub return_address: SavedRule,
    /// The frame pointer's rule (x86-64: RBP, arm64: x29).
    pub fp: SavedRule,
    /// The return address is signed here (arm64 pointer authentication,
    /// between `paciasp` and `autiasp`): its upper bits are a signature,
    /// to strip before the address is used.
    pub return_address_signed: bool,
}

/// One FDE's covered range and where it starts in the section.
#[derive(Debug, Clone, Copy)]
struct FdeSpan {
    start: u64,
    end: u64,
    offset: usize,
}

/// A `.debug_frame` section with an address index (one per vmlinux or
/// module; addresses in the section are link-time, `bias` is added).
#[derive(Debug, Clone)]
pub struct CfiTable {
    data: std::sync::Arc<[u8]>,
    spans: Vec<FdeSpan>,
    bias: u64,
    /// The DWARF number of the architecture's frame pointer.
    fp_column: Option<u16>,
    /// The DWARF number of the link register, where calls leave the
    /// return address in one (arm64's x30).
    link_register_column: Option<u16>,
    /// Which vendor opcodes the section may use.
    vendor: Vendor,
}

/// The pseudo-register AArch64 CFI keeps the return-address signing
/// state in (`RA_SIGN_STATE`, toggled by `DW_CFA_AARCH64_negate_ra_state`).
const AARCH64_RA_SIGN_STATE: Register = gimli::AArch64::RA_SIGN_STATE;

fn section(data: &[u8], vendor: Vendor) -> DebugFrame<EndianSlice<'_, LittleEndian>> {
    let mut frame = DebugFrame::new(data, LittleEndian);
    frame.set_address_size(8);
    frame.set_vendor(vendor);
    frame
}

fn bad(detail: impl std::fmt::Display) -> Error {
    Error::bad_data(".debug_frame", detail.to_string())
}

impl CfiTable {
    /// Indexes the bytes of a relocated `.debug_frame` section; `bias` is
    /// the load offset (KASLR slide) added to every address in it; `arch`
    /// gives the frame pointer's and link register's numbers and the
    /// vendor opcodes (AArch64's for arm64).
    pub fn from_debug_frame(data: &[u8], bias: u64, arch: &Arch) -> Result<CfiTable> {
        let vendor = match arch.machine {
            Machine::Aarch64 => Vendor::AArch64,
            _ => Vendor::Default,
        };
        let frame = section(data, vendor);
        let bases = BaseAddresses::default();
        let mut entries = frame.entries(&bases);
        let mut spans = Vec::new();
        loop {
            let entry = match entries.next() {
                Ok(Some(e)) => e,
                Ok(None) => break,
                Err(e) => return Err(bad(format!("entry after {} FDEs: {e}", spans.len()))),
            };
            let CieOrFde::Fde(partial) = entry else { continue };
            let Ok(fde) = partial.parse(DebugFrame::cie_from_offset) else { continue };
            let start = fde.initial_address();
            // An FDE for discarded code keeps address 0: nothing to find there.
            if start == 0 || fde.len() == 0 {
                continue;
            }
            if spans.len() >= MAX_FDES {
                return Err(bad(format!("more than {MAX_FDES} FDEs")));
            }
            spans.push(FdeSpan { start, end: start.saturating_add(fde.len()), offset: fde.offset() });
        }
        spans.sort_by_key(|s| s.start);
        Ok(CfiTable {
            data: data.into(),
            spans,
            bias,
            fp_column: arch.registers.dwarf_number(RegisterRole::FramePointer),
            link_register_column: arch.registers.dwarf_number(RegisterRole::ReturnAddress),
            vendor,
        })
    }

    /// Number of FDEs indexed.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True if the section had no usable FDE.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The unwind rules at `addr` (a runtime address), if an FDE covers it.
    pub fn row(&self, addr: u64) -> Option<CfiRow> {
        let link = addr.wrapping_sub(self.bias);
        let i = self.spans.partition_point(|s| s.start <= link).checked_sub(1)?;
        let span = self.spans.get(i)?;
        if link >= span.end {
            return None;
        }
        let frame = section(&self.data, self.vendor);
        let bases = BaseAddresses::default();
        let fde = frame.fde_from_offset(&bases, DebugFrameOffset(span.offset), DebugFrame::cie_from_offset).ok()?;
        let mut ctx = Box::new(UnwindContext::new());
        let row = fde.unwind_info_for_address(&frame, &bases, &mut ctx, link).ok()?;
        let cfa = match row.cfa() {
            gimli::CfaRule::RegisterAndOffset { register, offset } => {
                CfaRule::RegisterOffset { register: register.0, offset: *offset }
            }
            gimli::CfaRule::Expression(e) => CfaRule::Expression(e.get(&frame).ok()?.0.slice().to_vec()),
        };
        let saved = |reg: Register, unset: SavedRule| match row.register(reg) {
            RegisterRule::Undefined => unset,
            RegisterRule::SameValue => SavedRule::Unchanged,
            RegisterRule::Offset(off) => SavedRule::AtCfa(off),
            _ => SavedRule::Unsupported,
        };
        // The CIE names the return-address column. x86-64 (16, RIP): every
        // kernel C function has it at CFA-8, and a row leaving it undefined
        // marks the outermost frame. arm64 (30, x30): the CIE gives it no
        // rule, so no rule means the value is still in the link register.
        let ra_column = fde.cie().return_address_register();
        let ra_unset = match self.link_register_column {
            Some(n) if n == ra_column.0 => SavedRule::Unchanged,
            _ => SavedRule::Undefined,
        };
        let signed = self.vendor == Vendor::AArch64
            && matches!(row.register(AARCH64_RA_SIGN_STATE), RegisterRule::Constant(state) if state & 1 == 1);
        Some(CfiRow {
            cfa,
            return_address: saved(ra_column, ra_unset),
            fp: self.fp_column.map_or(SavedRule::Unsupported, |n| saved(Register(n), SavedRule::Unchanged)),
            return_address_signed: signed,
        })
    }
}

/// Evaluates the small DWARF expressions compilers use for a CFA
/// (`DW_OP_bregN off`, `DW_OP_deref`, `DW_OP_plus_uconst`), with `reg`
/// giving register values and `read` reading memory.
pub fn eval_cfa_expression(
    expr: &[u8],
    reg: &dyn Fn(u16) -> Option<u64>,
    read: &dyn Fn(u64) -> Option<u64>,
) -> std::result::Result<u64, String> {
    const DW_OP_DEREF: u8 = 0x06;
    const DW_OP_PLUS_UCONST: u8 = 0x23;
    const DW_OP_BREG0: u8 = 0x70;
    const DW_OP_BREG31: u8 = 0x8f;
    let mut input = EndianSlice::new(expr, LittleEndian);
    let mut stack: Vec<u64> = Vec::new();
    use gimli::Reader;
    while !input.is_empty() {
        let op = input.read_u8().map_err(|e| e.to_string())?;
        match op {
            DW_OP_BREG0..=DW_OP_BREG31 => {
                let offset = input.read_sleb128().map_err(|e| e.to_string())?;
                let n = op.checked_sub(DW_OP_BREG0).map(u16::from).ok_or_else(|| format!("bad DW_OP_breg {op:#x}"))?;
                let base = reg(n).ok_or_else(|| format!("CFA expression needs register {n}, which is unknown here"))?;
                stack.push(base.wrapping_add(offset as u64));
            }
            DW_OP_DEREF => {
                let addr = stack.pop().ok_or("CFA expression dereferences an empty stack")?;
                stack.push(read(addr).ok_or_else(|| format!("CFA expression cannot read {addr:016x}"))?);
            }
            DW_OP_PLUS_UCONST => {
                let add = input.read_uleb128().map_err(|e| e.to_string())?;
                let top = stack.last_mut().ok_or("CFA expression adds to an empty stack")?;
                *top = top.wrapping_add(add);
            }
            other => return Err(format!("CFA expression uses DWARF op {other:#x}, which krash does not evaluate")),
        }
    }
    stack.pop().ok_or_else(|| "empty CFA expression".to_string())
}
