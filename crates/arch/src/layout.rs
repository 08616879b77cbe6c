//! Where registers sit in the structures a dump or a kernel stack holds
//! them in: the ELF `NT_PRSTATUS` note, `struct pt_regs`, a hypervisor's
//! CPU-state note. Each is a table of (register, offset, width) slots
//! that one reader interprets, so a new architecture adds tables, not
//! parsing code. Reads never panic: a slot past the end of the bytes is a
//! [`LayoutError`] (or, for an optional slot, an unknown register).

use std::fmt;

use krash_core::VirtualMemory;

use crate::registers::{RegisterFile, RegisterId, RegisterSet};

/// One register's place in a structure: little-endian, `size` bytes
/// (1, 2, 4 or 8) at `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub reg: RegisterId,
    pub offset: usize,
    pub size: u8,
    /// Absent from older or shorter variants of the structure: a short
    /// input leaves the register unknown instead of failing.
    pub optional: bool,
}

impl Slot {
    /// A required 8-byte slot.
    pub const fn word(reg: RegisterId, offset: usize) -> Slot {
        Slot { reg, offset, size: 8, optional: false }
    }
}

/// Why register bytes could not be read. Small and `Copy`, like gimli's
/// errors; converts into [`krash_core::Error::BadData`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LayoutError {
    /// The structure needs `needed` bytes but only `len` are there.
    TooShort { what: &'static str, needed: usize, len: usize },
    /// A slot's width is not 1, 2, 4 or 8 (a bad table, not bad data).
    BadSlotSize { what: &'static str, size: u8 },
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayoutError::TooShort { what, needed, len } => {
                write!(f, "{what}: {len} bytes, but the register layout needs {needed}")
            }
            LayoutError::BadSlotSize { what, size } => write!(f, "{what}: register slot of {size} bytes"),
        }
    }
}

impl std::error::Error for LayoutError {}

impl From<LayoutError> for krash_core::Error {
    fn from(e: LayoutError) -> Self {
        let what = match e {
            LayoutError::TooShort { what, .. } | LayoutError::BadSlotSize { what, .. } => what,
        };
        krash_core::Error::bad_data(what, e.to_string())
    }
}

/// A structure of saved registers described as slots.
#[derive(Debug, Clone, Copy)]
pub struct RegisterLayout {
    /// What the structure is called in messages (`"x86-64 pt_regs"`).
    pub what: &'static str,
    pub set: &'static RegisterSet,
    /// Bytes the whole structure occupies.
    pub size: usize,
    pub slots: &'static [Slot],
}

/// Reads a little-endian unsigned integer of `size` bytes at `offset`.
fn read_le(bytes: &[u8], offset: usize, size: u8) -> Option<u64> {
    let field = bytes.get(offset..offset.checked_add(usize::from(size))?)?;
    let mut word = [0u8; 8];
    word.get_mut(..field.len())?.copy_from_slice(field);
    Some(u64::from_le_bytes(word))
}

impl RegisterLayout {
    /// The registers in `bytes` (which start at the structure).
    pub fn read(&self, bytes: &[u8]) -> Result<RegisterFile, LayoutError> {
        let mut regs = RegisterFile::new(self.set);
        for slot in self.slots {
            if !matches!(slot.size, 1 | 2 | 4 | 8) {
                return Err(LayoutError::BadSlotSize { what: self.what, size: slot.size });
            }
            match read_le(bytes, slot.offset, slot.size) {
                Some(value) => {
                    regs.set_value(slot.reg, value);
                }
                None if slot.optional => {}
                None => {
                    let needed = slot.offset.saturating_add(usize::from(slot.size));
                    return Err(LayoutError::TooShort { what: self.what, needed, len: bytes.len() });
                }
            }
        }
        Ok(regs)
    }

    /// Writes the known registers of `regs` into `out` (tests and
    /// synthetic dumps build notes this way); unknown ones stay as they are.
    pub fn write(&self, regs: &RegisterFile, out: &mut [u8]) -> Result<(), LayoutError> {
        let len = out.len();
        for slot in self.slots {
            let Some(value) = regs.get(slot.reg) else { continue };
            let end = slot.offset.checked_add(usize::from(slot.size));
            let field = end.and_then(|end| out.get_mut(slot.offset..end));
            let bytes = value.to_le_bytes();
            match (field, bytes.get(..usize::from(slot.size))) {
                (Some(field), Some(src)) => field.copy_from_slice(src),
                _ => {
                    let needed = end.unwrap_or(usize::MAX);
                    return Err(LayoutError::TooShort { what: self.what, needed, len });
                }
            }
        }
        Ok(())
    }

    /// Byte offset of `reg` in the structure.
    pub fn offset_of(&self, reg: RegisterId) -> Option<usize> {
        self.slots.iter().find(|s| s.reg == reg).map(|s| s.offset)
    }
}

/// The ELF `NT_PRSTATUS` note (`struct elf_prstatus`): the task's pid and
/// `pr_reg`, the architecture's `elf_gregset_t`.
#[derive(Debug, Clone, Copy)]
pub struct PrstatusLayout {
    /// Offset of `pr_pid`.
    pub pid_offset: usize,
    /// Offset of `pr_reg`; its size is `regs.size`.
    pub regs_offset: usize,
    pub regs: RegisterLayout,
}

/// One parsed `NT_PRSTATUS` note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prstatus {
    /// `pr_pid`: the task running on the CPU (0 for the idle task).
    pub pid: u32,
    pub regs: RegisterFile,
}

impl PrstatusLayout {
    /// Parses a note's descriptor bytes.
    pub fn parse(&self, desc: &[u8]) -> Result<Prstatus, LayoutError> {
        let short = |needed: usize| LayoutError::TooShort { what: "NT_PRSTATUS note", needed, len: desc.len() };
        let pid_end = self.pid_offset.checked_add(4).ok_or(short(usize::MAX))?;
        let pid = read_le(desc, self.pid_offset, 4).ok_or(short(pid_end))?;
        let regs_end = self.regs_offset.checked_add(self.regs.size).ok_or(short(usize::MAX))?;
        let pr_reg = desc.get(self.regs_offset..regs_end).ok_or(short(regs_end))?;
        let regs = self.regs.read(pr_reg)?;
        Ok(Prstatus { pid: u32::try_from(pid).unwrap_or(u32::MAX), regs })
    }

    /// Bytes of `struct elf_prstatus` up to the end of `pr_reg`.
    pub fn min_len(&self) -> usize {
        self.regs_offset.saturating_add(self.regs.size)
    }
}

/// A hypervisor's per-CPU note carrying registers PRSTATUS lacks (QEMU's
/// `QEMUCPUState`, note name "QEMU", on x86-64).
#[derive(Debug, Clone, Copy)]
pub struct CpuStateNote {
    /// The ELF note name.
    pub name: &'static str,
    pub regs: RegisterLayout,
}

/// A test on saved register values, e.g. "cs & 3 == 3": frames found by
/// scanning a stack are told apart from random words this way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterCheck {
    /// `value & mask` is one of `one_of`.
    Masked { reg: RegisterId, mask: u64, one_of: &'static [u64] },
    /// The value is below `limit` (a user-space address).
    Below { reg: RegisterId, limit: u64 },
}

impl RegisterCheck {
    /// True when the register is known and passes.
    pub fn holds(&self, regs: &RegisterFile) -> bool {
        match *self {
            RegisterCheck::Masked { reg, mask, one_of } => regs.get(reg).is_some_and(|v| one_of.contains(&(v & mask))),
            RegisterCheck::Below { reg, limit } => regs.get(reg).is_some_and(|v| v < limit),
        }
    }

    /// True when every check holds.
    pub fn all(checks: &[RegisterCheck], regs: &RegisterFile) -> bool {
        checks.iter().all(|c| c.holds(regs))
    }
}

/// The registers the kernel saves on an exception or interrupt
/// (`struct pt_regs`), and how to judge a candidate found on a stack.
#[derive(Debug, Clone, Copy)]
pub struct SavedRegsLayout {
    /// The whole `struct pt_regs`.
    pub full: RegisterLayout,
    /// The part the hardware saves by itself (x86-64's iret frame), at
    /// `hw_frame_offset` in `full`: all an ORC "partial regs" frame holds.
    pub hw_frame: Option<(usize, RegisterLayout)>,
    /// The saved state was in user mode.
    pub user_mode: &'static [RegisterCheck],
    /// Plausible kernel-mode frame (selectors, flags); callers still
    /// check the pc and sp against text and stacks.
    pub kernel_frame: &'static [RegisterCheck],
    /// Plausible user-mode entry frame.
    pub user_frame: &'static [RegisterCheck],
    /// The bit a frame-pointer kernel's entry code sets in the frame
    /// pointer when it points at saved registers instead of a frame record
    /// (x86-64's `ENCODE_FRAME_POINTER`), so a frame-pointer walk can cross
    /// interrupts and exceptions; `None` where the convention is not used.
    pub frame_pointer_regs_tag: Option<u64>,
}

impl SavedRegsLayout {
    /// Reads a whole saved frame (`struct pt_regs`) at `addr`.
    pub fn read_from(&self, mem: &dyn VirtualMemory, addr: u64) -> krash_core::Result<RegisterFile> {
        let bytes = mem.read_vec(addr, self.full.size)?;
        Ok(self.full.read(&bytes)?)
    }

    /// Reads only the hardware-saved part at `addr` (its own start, e.g.
    /// `&pt_regs->ip`) over `current`: the other registers keep their
    /// values, as in an ORC "partial regs" frame. Without a hardware frame
    /// in the layout, `current` is returned unchanged.
    pub fn read_hw_frame_from(
        &self,
        mem: &dyn VirtualMemory,
        addr: u64,
        current: &RegisterFile,
    ) -> krash_core::Result<RegisterFile> {
        let mut regs = *current;
        let Some((_, frame)) = self.hw_frame else { return Ok(regs) };
        let bytes = mem.read_vec(addr, frame.size)?;
        for (_, id, value) in frame.read(&bytes)?.iter() {
            regs.set_value(id, value);
        }
        Ok(regs)
    }

    /// Where the hardware frame starts inside the whole frame.
    pub fn hw_frame_offset(&self) -> Option<usize> {
        self.hw_frame.map(|(at, _)| at)
    }

    /// True if `regs` were saved in user mode.
    pub fn is_user_mode(&self, regs: &RegisterFile) -> bool {
        RegisterCheck::all(self.user_mode, regs)
    }
    /// True if `regs` look like a kernel-mode exception frame.
    pub fn is_plausible_kernel_frame(&self, regs: &RegisterFile) -> bool {
        RegisterCheck::all(self.kernel_frame, regs)
    }
    /// True if `regs` look like a user-mode entry frame.
    pub fn is_plausible_user_frame(&self, regs: &RegisterFile) -> bool {
        RegisterCheck::all(self.user_frame, regs)
    }
}

#[cfg(test)]
// Tests index the synthetic buffers they build; a panic there is a failed test.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use crate::registers::{RegisterDesc, RegisterRole};

    static SET: RegisterSet = RegisterSet {
        arch: "toy",
        registers: &[
            RegisterDesc { name: "pc", dwarf: None, size: 8, roles: &[RegisterRole::ProgramCounter] },
            RegisterDesc { name: "sel", dwarf: None, size: 2, roles: &[] },
            RegisterDesc { name: "extra", dwarf: None, size: 8, roles: &[] },
        ],
    };
    static SLOTS: [Slot; 3] = [
        Slot::word(RegisterId(0), 0),
        Slot { reg: RegisterId(1), offset: 8, size: 4, optional: false },
        Slot { reg: RegisterId(2), offset: 16, size: 8, optional: true },
    ];
    const LAYOUT: RegisterLayout = RegisterLayout { what: "toy regs", set: &SET, size: 24, slots: &SLOTS };

    #[test]
    fn slots_read_widths_and_optional_fields() {
        let mut bytes = vec![0u8; 24];
        bytes[..8].copy_from_slice(&0x1122_3344_5566_7788u64.to_le_bytes());
        bytes[8..12].copy_from_slice(&0x33u32.to_le_bytes());
        bytes[16..24].copy_from_slice(&9u64.to_le_bytes());
        let r = LAYOUT.read(&bytes).unwrap();
        assert_eq!(r.pc(), Some(0x1122_3344_5566_7788));
        assert_eq!(r.by_name("sel"), Some(0x33));
        assert_eq!(r.by_name("extra"), Some(9));
        // Without the optional slot the register is unknown, not an error.
        let r = LAYOUT.read(&bytes[..16]).unwrap();
        assert_eq!(r.by_name("extra"), None);
        // A required slot cut off is an error naming the structure.
        let err = LAYOUT.read(&bytes[..10]).unwrap_err();
        assert_eq!(err, LayoutError::TooShort { what: "toy regs", needed: 12, len: 10 });
        assert!(krash_core::Error::from(err).to_string().contains("toy regs"));
        // Round trip through write.
        let mut out = vec![0u8; 24];
        LAYOUT.write(&LAYOUT.read(&bytes).unwrap(), &mut out).unwrap();
        assert_eq!(out, bytes);
        assert!(LAYOUT.write(&LAYOUT.read(&bytes).unwrap(), &mut [0u8; 4]).is_err());
    }

    #[test]
    fn prstatus_with_absurd_offsets_fails_cleanly() {
        let layout = PrstatusLayout { pid_offset: usize::MAX - 1, regs_offset: usize::MAX, regs: LAYOUT };
        assert!(layout.parse(&[0u8; 64]).is_err());
        let layout = PrstatusLayout { pid_offset: 0, regs_offset: 8, regs: LAYOUT };
        let mut desc = vec![0u8; 32];
        desc[..4].copy_from_slice(&42u32.to_le_bytes());
        let p = layout.parse(&desc).unwrap();
        assert_eq!(p.pid, 42);
        assert!(layout.parse(&desc[..31]).is_err());
        assert_eq!(layout.min_len(), 32);
    }

    #[test]
    fn register_checks() {
        let mut r = RegisterFile::new(&SET);
        let user = [RegisterCheck::Masked { reg: RegisterId(1), mask: 3, one_of: &[3] }];
        assert!(!RegisterCheck::all(&user, &r), "an unknown register fails a check");
        r.set_value(RegisterId(1), 0x33);
        assert!(RegisterCheck::all(&user, &r));
        r.set_value(RegisterId(0), 0x7fff);
        assert!(RegisterCheck::Below { reg: RegisterId(0), limit: 0x8000 }.holds(&r));
        assert!(!RegisterCheck::Below { reg: RegisterId(0), limit: 0x7fff }.holds(&r));
    }
}
