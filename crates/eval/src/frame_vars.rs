//! A backtrace frame's parameters and local variables (`bt --args`): the
//! DWARF locations of the frame's function evaluated with the registers
//! and canonical frame address the unwinder recovered for that frame.
//! A value depending on anything the unwinder does not know (a
//! callee-saved register in an ORC frame, a register's value at function
//! entry) is reported as optimized out with the reason, never guessed.

use std::cell::Cell;

use gimli::Reader as _;
use krash_core::VirtualMemory;
use krash_debuginfo::types::{IntKind, Type, TypeOps};
use krash_dwarf::{DwarfFile, Function, RegisterAndMemory, Variable, VariableLocation, VariableValue};
use krash_unwind::Frame;
use serde::Serialize;

use krash_program::Kernel;

/// One level of the inline chain at a frame's pc.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InlinedCall {
    pub function: String,
    /// `file:line` where it runs (the innermost) or calls the level
    /// inside it (the others).
    pub location: Option<String>,
}

/// What is known of one variable's value in a frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VariableState {
    /// The value, as gdb would print it; `bits` holds a scalar's value.
    Known { text: String, bits: Option<u64> },
    /// DWARF gives no location here, or the location needs something this
    /// frame does not know.
    OptimizedOut { reason: String },
}

/// A parameter or local and its value in a frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FrameVariable {
    pub name: String,
    /// C spelling of its type, e.g. `struct widget *`.
    pub type_name: String,
    pub state: VariableState,
    /// Where it lives, when DWARF places it in memory (a stack slot or a
    /// static): what an array or struct's bytes are read from.
    #[serde(skip)]
    pub address: Option<u64>,
}

/// The variables of one frame's function.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FrameVariables {
    /// The DWARF function (the outermost one when code was inlined).
    pub function: Option<String>,
    /// Innermost first; empty or one entry when nothing is inlined here.
    pub inline_chain: Vec<InlinedCall>,
    pub parameters: Vec<FrameVariable>,
    pub locals: Vec<FrameVariable>,
    /// Why no variables could be shown (no debuginfo, assembly code).
    pub note: Option<String>,
}

/// DWARF x86-64 register numbers.
const DWARF_RSP: u16 = 7;
const DWARF_RBP: u16 = 6;
const DWARF_RIP: u16 = 16;
/// DW_OP_addr: an expression starting with it names a static object at a
/// link-time address.
const DW_OP_ADDR: u8 = 0x03;

/// The register name for a DWARF x86-64 register number.
pub fn dwarf_register_name(regno: u16) -> String {
    const NAMES: [&str; 17] = [
        "RAX", "RDX", "RCX", "RBX", "RSI", "RDI", "RBP", "RSP", "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15",
        "RIP",
    ];
    NAMES.get(usize::from(regno)).map_or_else(|| format!("DWARF register {regno}"), |n| n.to_string())
}

/// The frame as DWARF evaluation sees it: only what the unwinder knows.
struct FrameState<'a> {
    mem: &'a dyn VirtualMemory,
    frame: &'a Frame,
    /// The last register asked for that this frame does not know.
    missing: Cell<Option<u16>>,
}

impl RegisterAndMemory for FrameState<'_> {
    fn register(&self, regno: u16) -> Option<u64> {
        let f = self.frame;
        let value = match &f.regs {
            Some(regs) => regs.by_dwarf(regno),
            None => match regno {
                DWARF_RSP => Some(f.sp),
                DWARF_RBP => f.bp,
                DWARF_RIP => Some(f.pc),
                // What the callee's prologue pushed (RBX, R12-R15).
                _ => f.saved.as_ref().and_then(|s| s.by_dwarf(regno)),
            },
        };
        if value.is_none() {
            self.missing.set(Some(regno));
        }
        value
    }

    fn read(&self, addr: u64, buf: &mut [u8]) -> krash_core::Result<()> {
        self.mem.read_virt(addr, buf)
    }

    fn call_frame_cfa(&self) -> Option<u64> {
        self.frame.cfa
    }
}

/// How a type's value is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Pointer,
    Int {
        size: u64,
        signed: bool,
        boolean: bool,
        character: bool,
    },
    /// Enums are shown by number (and name when the type model has them).
    Enum {
        size: u64,
        signed: bool,
    },
    /// Structs, unions, arrays: shown by address only.
    Aggregate,
    /// A type the vmlinux type model does not know (module-only typedefs).
    Unknown,
}

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait FrameVarsExt {
    /// The parameters and locals of `frame` (a frame of a backtrace of
    /// this kernel), evaluated from what the unwinder recovered.
    fn frame_variables(&self, frame: &Frame) -> FrameVariables;
}

impl FrameVarsExt for Kernel {
    fn frame_variables(&self, frame: &Frame) -> FrameVariables {
        if frame.exact && frame.pc == 0 {
            return FrameVariables { note: Some("no function at address 0".into()), ..Default::default() };
        }
        // A return address may follow a call ending its function: look
        // at the call instruction, as gdb does for caller frames.
        let lookup = if frame.exact { frame.pc } else { frame.pc.wrapping_sub(1) };
        let Some((dwarf, at)) = self.dwarf_for(lookup) else {
            let note = match self.module_containing(lookup) {
                Some(m) => format!("no DWARF for module {}: mod -s {} loads it", m.name, m.name),
                None => "no DWARF covers this address".to_string(),
            };
            return FrameVariables { note: Some(note), ..Default::default() };
        };
        let function = match dwarf.function_at(at) {
            Ok(Some(f)) => f,
            Ok(None) => {
                return FrameVariables {
                    note: Some("no DWARF function covers this address".into()),
                    ..Default::default()
                }
            }
            Err(e) => {
                return FrameVariables { note: Some(format!("cannot read its DWARF: {e}")), ..Default::default() }
            }
        };
        let inline_chain = match self.inline_frames(lookup) {
            Ok(chain) if chain.len() > 1 => chain
                .into_iter()
                .map(|f| InlinedCall {
                    function: f.function,
                    location: f.location.map(|l| {
                        let file = if l.relative.is_empty() { l.file.to_string() } else { l.relative.clone() };
                        format!("{file}:{}", l.line)
                    }),
                })
                .collect(),
            _ => Vec::new(),
        };
        let note = function.is_assembly().then(|| "assembly code: no variables".to_string());
        let state = FrameState { mem: self.memory(), frame, missing: Cell::new(None) };
        // DW_OP_addr names link-time addresses: the vmlinux's move by KASLR.
        let relocation = lookup.wrapping_sub(at);
        let show = |v: &Variable| self.frame_variable(&dwarf, &function, v, at, &state, relocation);
        FrameVariables {
            function: Some(function.name.clone()),
            inline_chain,
            parameters: function.parameters.iter().map(show).collect(),
            locals: function.locals.iter().map(show).collect(),
            note,
        }
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait FrameVarsHelpers {
    fn frame_variable(
        &self,
        dwarf: &DwarfFile,
        function: &Function,
        variable: &Variable,
        at: u64,
        state: &FrameState<'_>,
        relocation: u64,
    ) -> FrameVariable;
    /// Classifies a C type spelling with the kernel's type model.
    fn shape_of(&self, type_name: &str) -> Shape;
    fn value_in_memory(&self, addr: u64, shape: Shape, type_name: &str) -> VariableState;
    /// A scalar `raw` (little-endian, `available` bytes valid) shown as gdb
    /// shows values of its type.
    fn scalar(&self, raw: u64, available: u64, shape: Shape, type_name: &str) -> VariableState;
}

impl FrameVarsHelpers for Kernel {
    fn frame_variable(
        &self,
        dwarf: &DwarfFile,
        function: &Function,
        variable: &Variable,
        at: u64,
        state: &FrameState<'_>,
        relocation: u64,
    ) -> FrameVariable {
        state.missing.set(None);
        let shape = self.shape_of(&variable.type_name);
        let value = dwarf.evaluate_variable(function, variable, at, state);
        let mut address = None;
        let state = match value {
            Ok(VariableValue::OptimizedOut { reason }) => {
                let reason = match state.missing.get() {
                    Some(r) => {
                        format!("needs {}, which the unwinder does not recover in this frame", dwarf_register_name(r))
                    }
                    None => reason,
                };
                VariableState::OptimizedOut { reason }
            }
            Ok(VariableValue::Memory(addr)) => {
                let addr = if is_static(variable) { addr.wrapping_add(relocation) } else { addr };
                address = Some(addr);
                self.value_in_memory(addr, shape, &variable.type_name)
            }
            Ok(VariableValue::Register { regno, value }) => match value {
                Some(v) => self.scalar(v, 8, shape, &variable.type_name),
                None => VariableState::OptimizedOut {
                    reason: format!(
                        "in {}, which the unwinder does not recover in this frame",
                        dwarf_register_name(regno)
                    ),
                },
            },
            Ok(VariableValue::Value(bytes)) => {
                let mut word = [0u8; 8];
                for (dst, src) in word.iter_mut().zip(&bytes) {
                    *dst = *src;
                }
                let width = bytes.len().min(8) as u64;
                self.scalar(u64::from_le_bytes(word), width, shape, &variable.type_name)
            }
            Ok(VariableValue::Pieces(pieces)) => pieces_state(&pieces),
            Err(e) => VariableState::OptimizedOut { reason: format!("cannot evaluate its location: {e}") },
        };
        FrameVariable { name: variable.name.clone(), type_name: variable.type_name.clone(), state, address }
    }

    fn shape_of(&self, type_name: &str) -> Shape {
        let t = type_name.trim();
        if t.ends_with('*') || t.contains("(*)") {
            return Shape::Pointer;
        }
        if t.ends_with(']') || t.starts_with("struct ") || t.starts_with("union ") {
            return Shape::Aggregate;
        }
        let bare = strip_qualifiers(t);
        let Some(types) = self.types() else { return Shape::Unknown };
        let Ok(id) = types.find_type_by_spelling(bare) else { return Shape::Unknown };
        match types.resolve(id).map(|(_, ty)| ty) {
            Ok(Type::Pointer { .. }) => Shape::Pointer,
            Ok(Type::Int { size, signed, kind, .. }) => {
                Shape::Int { size, signed, boolean: kind == IntKind::Bool, character: kind == IntKind::Char }
            }
            Ok(Type::Enum { size, signed, .. }) => Shape::Enum { size, signed },
            Ok(Type::Struct(_) | Type::Union(_) | Type::Array { .. }) => Shape::Aggregate,
            _ => Shape::Unknown,
        }
    }

    fn value_in_memory(&self, addr: u64, shape: Shape, type_name: &str) -> VariableState {
        let size = match shape {
            Shape::Pointer => 8,
            Shape::Int { size, .. } | Shape::Enum { size, .. } => size,
            Shape::Aggregate | Shape::Unknown => {
                return VariableState::Known { text: format!("{{...}} at {addr:#x}"), bits: None }
            }
        };
        let width = usize::try_from(size.clamp(1, 8)).unwrap_or(8);
        let mut buf = [0u8; 8];
        match self.memory().read_virt(addr, &mut buf[..width]) {
            Ok(()) => self.scalar(u64::from_le_bytes(buf), size, shape, type_name),
            Err(e) => VariableState::OptimizedOut { reason: format!("its stack slot {addr:#x} is unreadable: {e}") },
        }
    }

    fn scalar(&self, raw: u64, available: u64, shape: Shape, type_name: &str) -> VariableState {
        let text = match shape {
            Shape::Pointer => {
                return VariableState::Known { text: format!("{raw:#x}"), bits: Some(raw) };
            }
            Shape::Int { size, signed, boolean, character } => {
                let v = truncate(raw, size.min(available), signed);
                if boolean {
                    match v {
                        0 => "false".to_string(),
                        1 => "true".to_string(),
                        n => n.to_string(),
                    }
                } else if character {
                    match u8::try_from(v & 0xff).ok().map(char::from).filter(|c| c.is_ascii_graphic() || *c == ' ') {
                        Some(c) => format!("{} '{c}'", display_int(v, signed, size)),
                        None => display_int(v, signed, size),
                    }
                } else {
                    display_int(v, signed, size)
                }
            }
            Shape::Enum { size, signed } => {
                let v = truncate(raw, size.min(available), signed);
                let named = self.types().and_then(|t| {
                    let id = t.find_type_by_spelling(strip_qualifiers(type_name)).ok()?;
                    let value = if signed { i128::from(v as i64) } else { i128::from(v) };
                    t.enumerator_name(id, value).ok().flatten()
                });
                named.unwrap_or_else(|| display_int(v, signed, size))
            }
            Shape::Aggregate => format!("{{...}} (held in registers: {raw:#x})"),
            Shape::Unknown => format!("{raw:#x}"),
        };
        VariableState::Known { text, bits: Some(raw) }
    }
}

/// True for a variable whose location is a fixed (link-time) address.
fn is_static(variable: &Variable) -> bool {
    match &variable.location {
        VariableLocation::Expression(e) => e.0.clone().read_u8().ok() == Some(DW_OP_ADDR),
        _ => false,
    }
}

fn strip_qualifiers(mut t: &str) -> &str {
    loop {
        t = t.trim();
        match t.strip_prefix("const ").or_else(|| t.strip_prefix("volatile ")) {
            Some(rest) => t = rest,
            None => return t,
        }
    }
}

/// Keeps the low `size` bytes, sign-extending when `signed`.
fn truncate(raw: u64, size: u64, signed: bool) -> u64 {
    if size == 0 || size >= 8 {
        return raw;
    }
    let bits = size * 8;
    let masked = raw & ((1u64 << bits) - 1);
    if signed && masked >> (bits - 1) & 1 == 1 {
        masked | !((1u64 << bits) - 1)
    } else {
        masked
    }
}

fn display_int(v: u64, signed: bool, size: u64) -> String {
    if signed {
        (v as i64).to_string()
    } else if size > 0 && size < 8 {
        (v & ((1u64 << (size * 8)) - 1)).to_string()
    } else {
        v.to_string()
    }
}

/// A variable split over registers and memory: each piece's place, or
/// optimized out if any piece is unknown.
fn pieces_state(pieces: &[(Option<u64>, VariableValue)]) -> VariableState {
    let mut parts = Vec::new();
    for (bits, piece) in pieces {
        let size = bits.map(|b| format!("{b} bits ")).unwrap_or_default();
        let part = match piece {
            VariableValue::Register { regno, value: Some(v) } => {
                format!("{size}{v:#x} (in {})", dwarf_register_name(*regno))
            }
            VariableValue::Memory(a) => format!("{size}at {a:#x}"),
            VariableValue::Value(bytes) => {
                let hex: String = bytes.iter().rev().map(|b| format!("{b:02x}")).collect();
                format!("{size}0x{hex}")
            }
            VariableValue::Register { regno, value: None } => {
                return VariableState::OptimizedOut {
                    reason: format!(
                        "part of it is in {}, which the unwinder does not recover in this frame",
                        dwarf_register_name(*regno)
                    ),
                }
            }
            VariableValue::OptimizedOut { reason } => {
                return VariableState::OptimizedOut { reason: format!("part of it: {reason}") }
            }
            VariableValue::Pieces(_) => "nested pieces".to_string(),
        };
        parts.push(part);
    }
    VariableState::Known { text: format!("{{pieces: {}}}", parts.join(", ")), bits: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_and_sign_extends() {
        assert_eq!(truncate(0xffff_ffff_0000_0005, 4, false), 5);
        assert_eq!(truncate(0x0000_0000_ffff_fffe, 4, true) as i64, -2);
        assert_eq!(display_int(truncate(0xfff0, 2, true), true, 2), "-16");
        assert_eq!(display_int(0xea, false, 1), "234");
    }

    #[test]
    fn register_names_follow_dwarf_numbering() {
        assert_eq!(dwarf_register_name(5), "RDI");
        assert_eq!(dwarf_register_name(3), "RBX");
        assert_eq!(dwarf_register_name(16), "RIP");
        assert_eq!(dwarf_register_name(40), "DWARF register 40");
    }

    #[test]
    fn qualifiers_are_stripped() {
        assert_eq!(strip_qualifiers("const volatile int"), "int");
        assert_eq!(strip_qualifiers("size_t"), "size_t");
    }
}
