//! Registers as data: each architecture lists its registers once (name,
//! DWARF number, width, roles) in a [`RegisterSet`], and a
//! [`RegisterFile`] holds values for any set. Consumers ask for a role
//! (`pc`, `sp`, the n-th argument) or a DWARF number instead of naming an
//! x86-64 field, so the same unwinder or renderer code serves every
//! architecture. (probe-rs's `CoreRegisters` with roles is the model.)

use std::fmt;

use serde::ser::SerializeMap;

/// Position of a register in its architecture's [`RegisterSet`]; each
/// architecture module exports constants for its registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct RegisterId(pub u8);

impl RegisterId {
    fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// What a register is for, as the unwinder, the ABI and crash's output
/// need to know. A register may have several roles (arm64's x0 is both
/// the first argument and the return value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RegisterRole {
    ProgramCounter,
    StackPointer,
    /// The frame pointer of frame-pointer unwinding.
    FramePointer,
    /// Where a function returns its (first) integer result.
    ReturnValue,
    /// Where a call leaves the return address (arm64's x30). x86-64 has
    /// none: its return address is on the stack.
    ReturnAddress,
    /// The n-th (0-based) integer argument of the C calling convention.
    Argument(u8),
    /// The flags or processor-state register (rflags, pstate).
    Status,
    /// The root of the page tables in use (cr3, ttbr).
    PageTableRoot,
    /// The per-CPU (kernel) or thread (user) base register.
    PerCpuBase,
    /// The system-call number as saved at kernel entry (orig_rax).
    SyscallNumber,
    /// Preserved across calls by the C calling convention: a callee that
    /// uses it saves it first (on x86-64, with a push in its prologue).
    CalleeSaved,
}

/// One register of an architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterDesc {
    /// The name gdb uses, lowercase (`rip`, `x29`); crash prints it uppercased.
    pub name: &'static str,
    /// Number in the architecture's DWARF register mapping, if it has one.
    pub dwarf: Option<u16>,
    /// Width in bytes (values are held as `u64` whatever the width).
    pub size: u8,
    pub roles: &'static [RegisterRole],
}

/// Most registers any [`RegisterSet`] may list; a [`RegisterFile`] keeps a
/// fixed array of this many values so it stays `Copy` and allocation-free
/// (the unwinder copies one per frame).
pub const MAX_REGISTERS: usize = 48;

/// An architecture's registers, in the order its [`RegisterId`]s index.
#[derive(Debug)]
pub struct RegisterSet {
    /// The architecture's name, as `uname -m` prints it.
    pub arch: &'static str,
    pub registers: &'static [RegisterDesc],
}

impl RegisterSet {
    /// The register's description; `None` for an id of another set.
    pub fn desc(&self, id: RegisterId) -> Option<&'static RegisterDesc> {
        self.registers.get(id.index())
    }

    /// The register named `name` (case-insensitive: crash prints `RIP`).
    pub fn id(&self, name: &str) -> Option<RegisterId> {
        self.position(|d| d.name.eq_ignore_ascii_case(name))
    }

    /// The register with DWARF number `regno`.
    pub fn by_dwarf(&self, regno: u16) -> Option<RegisterId> {
        self.position(|d| d.dwarf == Some(regno))
    }

    /// The first register with `role`.
    pub fn with_role(&self, role: RegisterRole) -> Option<RegisterId> {
        self.position(|d| d.roles.contains(&role))
    }

    /// The DWARF number of the first register with `role` (the CFA and
    /// frame-pointer columns of call frame information).
    pub fn dwarf_number(&self, role: RegisterRole) -> Option<u16> {
        self.desc(self.with_role(role)?)?.dwarf
    }

    /// The integer argument registers in ABI order.
    pub fn arguments(&self) -> Vec<RegisterId> {
        (0u8..=u8::MAX).map_while(|n| self.with_role(RegisterRole::Argument(n))).collect()
    }

    /// Every id of the set, in order.
    pub fn ids(&self) -> impl Iterator<Item = RegisterId> + '_ {
        (0..self.registers.len().min(MAX_REGISTERS)).filter_map(|i| u8::try_from(i).ok()).map(RegisterId)
    }

    fn position(&self, pred: impl Fn(&RegisterDesc) -> bool) -> Option<RegisterId> {
        self.registers.iter().take(MAX_REGISTERS).position(pred).and_then(|i| u8::try_from(i).ok()).map(RegisterId)
    }
}

/// Register values of one CPU or frame for some [`RegisterSet`]. A value
/// is either known or absent: an interrupt's hardware frame saves five
/// registers, an ELF PRSTATUS note no control registers.
#[derive(Clone, Copy)]
pub struct RegisterFile {
    set: &'static RegisterSet,
    values: [u64; MAX_REGISTERS],
    /// Bit n set: register n is known.
    known: u64,
}

impl RegisterFile {
    /// A file for `set` with no register known.
    pub fn new(set: &'static RegisterSet) -> Self {
        RegisterFile { set, values: [0; MAX_REGISTERS], known: 0 }
    }

    /// The set the values belong to.
    pub fn set(&self) -> &'static RegisterSet {
        self.set
    }

    /// The value of `id`, when known.
    pub fn get(&self, id: RegisterId) -> Option<u64> {
        let bit = 1u64.checked_shl(u32::from(id.0))?;
        if self.known & bit == 0 {
            return None;
        }
        self.values.get(id.index()).copied()
    }

    /// Sets `id` to `value`; false (and no change) when `id` is not in the set.
    pub fn set_value(&mut self, id: RegisterId, value: u64) -> bool {
        if id.index() >= self.set.registers.len() {
            return false;
        }
        let (Some(slot), Some(bit)) = (self.values.get_mut(id.index()), 1u64.checked_shl(u32::from(id.0))) else {
            return false;
        };
        *slot = value;
        self.known |= bit;
        true
    }

    /// Forgets the value of `id`.
    pub fn clear(&mut self, id: RegisterId) {
        if let Some(bit) = 1u64.checked_shl(u32::from(id.0)) {
            self.known &= !bit;
        }
    }

    /// True when no register is known.
    pub fn is_empty(&self) -> bool {
        self.known == 0
    }

    /// The value of the register named `name` (case-insensitive).
    pub fn by_name(&self, name: &str) -> Option<u64> {
        self.get(self.set.id(name)?)
    }

    /// The value of DWARF register `regno` (for CFI and location expressions).
    pub fn by_dwarf(&self, regno: u16) -> Option<u64> {
        self.get(self.set.by_dwarf(regno)?)
    }

    /// The value of the first register with `role`.
    pub fn by_role(&self, role: RegisterRole) -> Option<u64> {
        self.get(self.set.with_role(role)?)
    }

    /// Sets the first register with `role`; false when the set has none.
    pub fn set_role(&mut self, role: RegisterRole, value: u64) -> bool {
        self.set.with_role(role).is_some_and(|id| self.set_value(id, value))
    }

    pub fn pc(&self) -> Option<u64> {
        self.by_role(RegisterRole::ProgramCounter)
    }
    pub fn sp(&self) -> Option<u64> {
        self.by_role(RegisterRole::StackPointer)
    }
    pub fn fp(&self) -> Option<u64> {
        self.by_role(RegisterRole::FramePointer)
    }

    /// The n-th (0-based) integer argument register's value.
    pub fn argument(&self, n: u8) -> Option<u64> {
        self.by_role(RegisterRole::Argument(n))
    }

    /// Known registers in set order: description, id, value.
    pub fn iter(&self) -> impl Iterator<Item = (&'static RegisterDesc, RegisterId, u64)> + '_ {
        self.set.ids().filter_map(|id| Some((self.set.desc(id)?, id, self.get(id)?)))
    }

    /// Fills every register unknown here from `other` (same set only):
    /// e.g. QEMU's control registers into a PRSTATUS register set.
    pub fn fill_missing_from(&mut self, other: &RegisterFile) {
        if !std::ptr::eq(self.set, other.set) {
            return;
        }
        for (_, id, value) in other.iter() {
            if self.get(id).is_none() {
                self.set_value(id, value);
            }
        }
    }
}

impl PartialEq for RegisterFile {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.set, other.set) && self.iter().eq(other.iter())
    }
}

impl Eq for RegisterFile {}

impl fmt::Debug for RegisterFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (desc, _, value) in self.iter() {
            m.entry(&desc.name, &format_args!("{value:#x}"));
        }
        m.finish()
    }
}

/// Serialized as `{ "rip": 123, ... }` with the known registers only.
impl serde::Serialize for RegisterFile {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (desc, _, value) in self.iter() {
            map.serialize_entry(desc.name, &value)?;
        }
        map.end()
    }
}

#[cfg(test)]
// Tests index the synthetic buffers they build; a panic there is a failed test.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    static SET: RegisterSet = RegisterSet {
        arch: "toy",
        registers: &[
            RegisterDesc {
                name: "a0",
                dwarf: Some(10),
                size: 8,
                roles: &[RegisterRole::Argument(0), RegisterRole::ReturnValue],
            },
            RegisterDesc { name: "a1", dwarf: Some(11), size: 8, roles: &[RegisterRole::Argument(1)] },
            RegisterDesc { name: "sp", dwarf: Some(2), size: 8, roles: &[RegisterRole::StackPointer] },
            RegisterDesc { name: "pc", dwarf: None, size: 8, roles: &[RegisterRole::ProgramCounter] },
        ],
    };

    #[test]
    fn roles_names_and_dwarf_numbers_find_registers() {
        let mut r = RegisterFile::new(&SET);
        assert!(r.is_empty());
        assert!(r.set_role(RegisterRole::ProgramCounter, 0x1000));
        assert!(r.set_value(RegisterId(0), 7));
        assert_eq!(r.pc(), Some(0x1000));
        assert_eq!(r.by_name("PC"), Some(0x1000));
        assert_eq!(r.by_dwarf(10), Some(7));
        assert_eq!(r.by_role(RegisterRole::ReturnValue), Some(7));
        assert_eq!(r.argument(0), Some(7));
        assert_eq!(r.argument(1), None, "known only once set");
        assert_eq!(r.sp(), None);
        assert_eq!(SET.arguments(), vec![RegisterId(0), RegisterId(1)]);
        assert_eq!(SET.dwarf_number(RegisterRole::StackPointer), Some(2));
        assert_eq!(SET.dwarf_number(RegisterRole::ProgramCounter), None, "pc has no DWARF number here");
        assert_eq!(SET.dwarf_number(RegisterRole::FramePointer), None, "no register has the role");
        assert!(r.fp().is_none() && !r.set_role(RegisterRole::FramePointer, 1));
        // Ids beyond the set are refused, never a panic.
        assert!(!r.set_value(RegisterId(4), 1));
        assert!(!r.set_value(RegisterId(200), 1));
        assert_eq!(r.get(RegisterId(200)), None);
        r.clear(RegisterId(0));
        assert_eq!(r.argument(0), None);
    }

    #[test]
    fn fill_missing_and_serialize_known_only() {
        let mut a = RegisterFile::new(&SET);
        a.set_value(RegisterId(2), 0x10);
        let mut b = RegisterFile::new(&SET);
        b.set_value(RegisterId(2), 0x20);
        b.set_value(RegisterId(3), 0x30);
        a.fill_missing_from(&b);
        assert_eq!((a.sp(), a.pc()), (Some(0x10), Some(0x30)));
        assert_eq!(serde_json::to_string(&a).unwrap(), r#"{"sp":16,"pc":48}"#);
        assert_eq!(format!("{a:?}"), r#"{"sp": 0x10, "pc": 0x30}"#);
        assert_ne!(a, b);
    }
}
