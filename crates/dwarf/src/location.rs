//! Evaluating a variable's DWARF location at a pc, asking the caller for
//! register values and memory.

use gimli::{EvaluationResult, Location};
use krash_core::{Error, Result};

use crate::bytes::Reader;
use crate::file::DwarfFile;
use crate::functions::{Function, Variable, VariableLocation};
use crate::sections::dwarf_error;

/// What evaluation needs from the stack frame being examined.
pub trait RegisterAndMemory {
    /// The value of a register (DWARF x86-64 numbering), if known in this
    /// frame.
    fn register(&self, dwarf_regno: u16) -> Option<u64>;
    /// Reads target memory.
    fn read(&self, addr: u64, buf: &mut [u8]) -> krash_core::Result<()>;
    /// The canonical frame address of this frame, when the unwinder knows
    /// it (gcc's frame base is DW_OP_call_frame_cfa).
    fn call_frame_cfa(&self) -> Option<u64> {
        None
    }
}

/// Where a variable's value is at a pc, or why it cannot be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariableValue {
    /// No location covers this pc, or it depends on something unknown
    /// here (a register this frame did not save, an entry value).
    OptimizedOut { reason: String },
    /// The value is in memory at this address.
    Memory(u64),
    /// The value is in a register; `value` is its content if known.
    Register { regno: u16, value: Option<u64> },
    /// The value itself (DW_OP_stack_value or a constant), little-endian.
    Value(Vec<u8>),
    /// A variable split over several places (DW_OP_piece), with sizes in bits.
    Pieces(Vec<(Option<u64>, VariableValue)>),
}

/// Bounds expression evaluation on corrupt input.
const MAX_EVALUATION_STEPS: u32 = 10_000;
/// Bounds frame-base recursion (a frame base cannot need a frame base).
const MAX_NESTING: usize = 2;

impl DwarfFile {
    /// Evaluates `variable` of `function` at `pc` in the frame `frame`.
    pub fn evaluate_variable(
        &self,
        function: &Function,
        variable: &Variable,
        pc: u64,
        frame: &dyn RegisterAndMemory,
    ) -> Result<VariableValue> {
        let expression = match &variable.location {
            VariableLocation::OptimizedOut => return Ok(optimized_out("no location")),
            VariableLocation::Constant(bytes) => return Ok(VariableValue::Value(bytes.clone())),
            VariableLocation::Expression(expr) => expr.clone(),
            VariableLocation::List(offset) => match self.location_at(function, *offset, pc)? {
                Some(expr) => expr,
                None => return Ok(optimized_out("no location at this pc")),
            },
        };
        self.evaluate(function, expression, frame, 0)
    }

    /// The register (DWARF numbering) holding parameter `parameter` of
    /// `function` when the function is entered, if its location says one.
    /// A parameter a compiler clone (`.isra`, `.constprop`) dropped or
    /// replaced has none: its value is only known at the call site.
    pub fn entry_register(&self, function: &Function, parameter: &Variable) -> Option<u16> {
        match self.evaluate_variable(function, parameter, function.entry_pc, &NoFrame).ok()? {
            VariableValue::Register { regno, .. } => Some(regno),
            _ => None,
        }
    }

    /// The value of `variable` at `pc` when it is a constant there (an
    /// address gcc knows at compile time, DW_OP_addr with
    /// DW_OP_stack_value, or DW_AT_const_value), as a little-endian number.
    pub fn constant_value_at(&self, function: &Function, variable: &Variable, pc: u64) -> Option<u64> {
        match self.evaluate_variable(function, variable, pc, &NoFrame).ok()? {
            VariableValue::Value(bytes) if !bytes.is_empty() && bytes.len() <= 8 => {
                let mut buf = [0u8; 8];
                for (dst, src) in buf.iter_mut().zip(bytes) {
                    *dst = src;
                }
                Some(u64::from_le_bytes(buf))
            }
            _ => None,
        }
    }

    fn location_at(
        &self,
        function: &Function,
        offset: gimli::LocationListsOffset,
        pc: u64,
    ) -> Result<Option<gimli::Expression<Reader>>> {
        let unit = &function.unit.unit;
        let context = || format!("location list at {:#x}", offset.0);
        let mut entries = self.dwarf.locations(unit, offset).map_err(|e| dwarf_error(context(), e))?;
        while let Some(entry) = entries.next().map_err(|e| dwarf_error(context(), e))? {
            if entry.range.begin <= pc && pc < entry.range.end {
                return Ok(Some(entry.data));
            }
        }
        Ok(None)
    }

    fn evaluate(
        &self,
        function: &Function,
        expression: gimli::Expression<Reader>,
        frame: &dyn RegisterAndMemory,
        nesting: usize,
    ) -> Result<VariableValue> {
        let unit = &function.unit.unit;
        let context = || format!("location expression of {}", function.name);
        let mut eval = expression.evaluation(unit.encoding());
        eval.set_max_iterations(MAX_EVALUATION_STEPS);
        let mut state = eval.evaluate().map_err(|e| dwarf_error(context(), e))?;
        loop {
            state = match state {
                EvaluationResult::Complete => break,
                EvaluationResult::RequiresRegister { register, .. } => {
                    let Some(value) = frame.register(register.0) else {
                        return Ok(optimized_out(format!("register {} unknown", register.0)));
                    };
                    eval.resume_with_register(gimli::Value::Generic(value))
                }
                EvaluationResult::RequiresMemory { address, size, .. } => {
                    let mut buf = [0u8; 8];
                    // The width is clamped to the buffer's 8 bytes.
                    let (value_bytes, _) = buf.split_at_mut(usize::from(size.clamp(1, 8)));
                    frame.read(address, value_bytes)?;
                    eval.resume_with_memory(gimli::Value::Generic(u64::from_le_bytes(buf)))
                }
                EvaluationResult::RequiresFrameBase => {
                    let Some(base) = self.frame_base(function, frame, nesting)? else {
                        return Ok(optimized_out("frame base unknown"));
                    };
                    eval.resume_with_frame_base(base)
                }
                EvaluationResult::RequiresCallFrameCfa => {
                    let Some(cfa) = frame.call_frame_cfa() else {
                        return Ok(optimized_out("call frame address unknown"));
                    };
                    eval.resume_with_call_frame_cfa(cfa)
                }
                EvaluationResult::RequiresRelocatedAddress(addr) => eval.resume_with_relocated_address(addr),
                EvaluationResult::RequiresIndexedAddress { index, .. } => {
                    // gimli multiplies the index by the address size unchecked.
                    let size = u64::from(unit.encoding().address_size);
                    if u64::try_from(index.0).ok().and_then(|i| i.checked_mul(size)).is_none() {
                        return Err(Error::bad_data(context(), format!("address index {:#x} out of range", index.0)));
                    }
                    let addr = self.dwarf.address(unit, index).map_err(|e| dwarf_error(context(), e))?;
                    eval.resume_with_indexed_address(addr)
                }
                EvaluationResult::RequiresBaseType(_) => eval.resume_with_base_type(gimli::ValueType::Generic),
                EvaluationResult::RequiresEntryValue(_) => {
                    return Ok(optimized_out("value at function entry unknown"));
                }
                other => return Err(Error::Unsupported(format!("{}: location needs {other:?}", context()))),
            }
            .map_err(|e| dwarf_error(context(), e))?;
        }
        let pieces = eval.result();
        let mut values: Vec<(Option<u64>, VariableValue)> =
            pieces.into_iter().map(|piece| (piece.size_in_bits, piece_value(piece.location, frame))).collect();
        Ok(match values.as_slice() {
            [] => optimized_out("empty location"),
            [(None, _)] => values.pop().map_or_else(|| optimized_out("empty location"), |(_, value)| value),
            _ => VariableValue::Pieces(values),
        })
    }

    /// The function's DW_AT_frame_base evaluated in `frame`.
    fn frame_base(&self, function: &Function, frame: &dyn RegisterAndMemory, nesting: usize) -> Result<Option<u64>> {
        let Some(nesting) = nesting.checked_add(1).filter(|&n| n <= MAX_NESTING) else {
            return Ok(None);
        };
        let cu = &function.unit;
        let entry = cu.unit.entry(function.die).map_err(|e| dwarf_error(cu.context(function.die), e))?;
        let Ok(Some(gimli::AttributeValue::Exprloc(expr))) = entry.attr_value(gimli::DW_AT_frame_base) else {
            return Ok(None);
        };
        Ok(match self.evaluate(function, expr, frame, nesting)? {
            VariableValue::Memory(addr) => Some(addr),
            VariableValue::Register { value, .. } => value,
            VariableValue::Value(bytes) => {
                let mut buf = [0u8; 8];
                for (dst, src) in buf.iter_mut().zip(bytes) {
                    *dst = src;
                }
                Some(u64::from_le_bytes(buf))
            }
            _ => None,
        })
    }
}

/// A frame that knows no register and no memory: what is left of a
/// location is what the compiler knew when it wrote it.
struct NoFrame;

impl RegisterAndMemory for NoFrame {
    fn register(&self, _: u16) -> Option<u64> {
        None
    }
    fn read(&self, addr: u64, _: &mut [u8]) -> krash_core::Result<()> {
        Err(Error::bad_data("location without a frame", format!("no memory to read at {addr:#x}")))
    }
}

fn optimized_out(reason: impl Into<String>) -> VariableValue {
    VariableValue::OptimizedOut { reason: reason.into() }
}

fn piece_value(location: Location<Reader>, frame: &dyn RegisterAndMemory) -> VariableValue {
    match location {
        Location::Empty => optimized_out("optimized out"),
        Location::Register { register } => {
            VariableValue::Register { regno: register.0, value: frame.register(register.0) }
        }
        Location::Address { address } => VariableValue::Memory(address),
        Location::Value { value } => {
            let raw = match value {
                gimli::Value::Generic(v) | gimli::Value::U64(v) => v,
                gimli::Value::I64(v) => v as u64,
                gimli::Value::U32(v) => u64::from(v),
                gimli::Value::I32(v) => v as i64 as u64,
                gimli::Value::U16(v) => u64::from(v),
                gimli::Value::I16(v) => v as i64 as u64,
                gimli::Value::U8(v) => u64::from(v),
                gimli::Value::I8(v) => v as i64 as u64,
                gimli::Value::F32(v) => u64::from(v.to_bits()),
                gimli::Value::F64(v) => v.to_bits(),
            };
            VariableValue::Value(raw.to_le_bytes().to_vec())
        }
        Location::Bytes { value } => {
            VariableValue::Value(gimli::Reader::to_slice(&value).map(|b| b.to_vec()).unwrap_or_default())
        }
        Location::ImplicitPointer { .. } => optimized_out("implicit pointer"),
    }
}

#[cfg(test)]
// A hand-built unit: fixtures index and size their own known-good bytes.
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const LOW_PC: u64 = 0xffff_ffff_8100_0000;
    const CFA: u64 = 0xffff_c900_0000_1000;

    /// A DWARF 5 unit with one function at `LOW_PC` (0x100 bytes) whose
    /// frame base is `frame_base`, and one parameter located by
    /// `location`; `.debug_addr` holds `addresses`.
    fn unit(frame_base: &[u8], location: &[u8], addresses: &[u64]) -> DwarfFile {
        const DW_FORM_ADDR: u8 = 0x01;
        const DW_FORM_DATA8: u8 = 0x07;
        const DW_FORM_STRING: u8 = 0x08;
        const DW_FORM_EXPRLOC: u8 = 0x18;
        let abbrev = [
            &[1, 0x11, 1, 0x03, DW_FORM_STRING, 0x11, DW_FORM_ADDR, 0x12, DW_FORM_DATA8, 0, 0][..],
            &[2, 0x2e, 1, 0x03, DW_FORM_STRING, 0x11, DW_FORM_ADDR, 0x12, DW_FORM_DATA8, 0x40, DW_FORM_EXPRLOC, 0, 0],
            &[3, 0x05, 0, 0x03, DW_FORM_STRING, 0x02, DW_FORM_EXPRLOC, 0, 0],
            &[0],
        ]
        .concat();
        let mut dies = vec![1];
        dies.extend(b"t.c\0");
        dies.extend(LOW_PC.to_le_bytes());
        dies.extend(0x100u64.to_le_bytes());
        dies.push(2);
        dies.extend(b"f\0");
        dies.extend(LOW_PC.to_le_bytes());
        dies.extend(0x100u64.to_le_bytes());
        dies.push(frame_base.len() as u8);
        dies.extend(frame_base);
        dies.push(3);
        dies.extend(b"p\0");
        dies.push(location.len() as u8);
        dies.extend(location);
        dies.extend([0, 0]);
        let mut info = ((8 + dies.len()) as u32).to_le_bytes().to_vec();
        // Version 5, DW_UT_compile, 8-byte addresses, abbreviations at 0.
        info.extend([5, 0, 1, 8, 0, 0, 0, 0]);
        info.extend(dies);
        let addr: Vec<u8> = addresses.iter().flat_map(|a| a.to_le_bytes()).collect();
        let sections: [(&str, &[u8]); 3] = [(".debug_info", &info), (".debug_abbrev", &abbrev), (".debug_addr", &addr)];
        DwarfFile::from_sections("unit", &sections).unwrap()
    }

    struct Frame;
    impl RegisterAndMemory for Frame {
        fn register(&self, _: u16) -> Option<u64> {
            None
        }
        fn read(&self, addr: u64, _: &mut [u8]) -> krash_core::Result<()> {
            Err(krash_core::memory::not_mapped(addr))
        }
        fn call_frame_cfa(&self) -> Option<u64> {
            Some(CFA)
        }
    }

    fn evaluate(dwarf: &DwarfFile) -> Result<VariableValue> {
        let function = dwarf.function_at(LOW_PC + 0x10).unwrap().expect("the function");
        assert_eq!((function.name.as_str(), function.parameters.len()), ("f", 1));
        dwarf.evaluate_variable(&function, &function.parameters[0], LOW_PC + 0x10, &Frame)
    }

    const DW_OP_CALL_FRAME_CFA: u8 = 0x9c;
    const DW_OP_FBREG: u8 = 0x91;
    const DW_OP_ADDRX: u8 = 0xa1;

    #[test]
    fn in_memory_sections_evaluate_as_a_mapped_file_does() {
        // DW_OP_fbreg -16 with the CFA as frame base.
        let dwarf = unit(&[DW_OP_CALL_FRAME_CFA], &[DW_OP_FBREG, 0x70], &[]);
        assert_eq!(evaluate(&dwarf).unwrap(), VariableValue::Memory(CFA - 16));
        // DW_OP_addrx 1: the second `.debug_addr` entry.
        let dwarf = unit(&[DW_OP_CALL_FRAME_CFA], &[DW_OP_ADDRX, 1], &[0x1000, 0x2000]);
        assert_eq!(evaluate(&dwarf).unwrap(), VariableValue::Memory(0x2000));
    }

    /// Regression (fuzz target dwarf_steps): a DW_OP_addrx index whose
    /// byte offset does not fit 64 bits overflowed in gimli's lookup.
    #[test]
    fn an_address_index_beyond_the_address_space_is_an_error() {
        // ULEB128 of 2^61: times 8 is 2^64.
        let index = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20];
        let dwarf = unit(&[DW_OP_CALL_FRAME_CFA], &[&[DW_OP_ADDRX][..], &index].concat(), &[0x1000]);
        let err = evaluate(&dwarf).unwrap_err();
        assert!(err.to_string().contains("out of range"), "{err}");
    }
}
