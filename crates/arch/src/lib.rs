//! The architecture layer: what krash must know about a machine that does
//! not depend on a particular kernel build or dump.
//!
//! Each architecture is one static [`Arch`] value (x86-64:
//! [`x86_64::X86_64`]) made of tables: its registers with their roles
//! ([`RegisterSet`]), where the dump's `NT_PRSTATUS` note, a hypervisor's
//! CPU-state note and `struct pt_regs` keep them ([`layout`]), its
//! page-table formats ([`PageTableFormat`]) and kernel address-space
//! layouts ([`AddressSpaceSpec`]), and its stacks ([`StackSpec`]); plus
//! one piece of behaviour, its instruction [`Decoder`].
//!
//! Why tables and not a trait with a method per question: what differs
//! between architectures here is numbers (offsets, shifts, bit masks,
//! names), so each question is answered by one generic interpreter — one
//! page-table walker, one register-layout reader — written and tested
//! once, and a new architecture is a new set of tables checked by the same
//! tests (memflow describes MMUs this way). Tables are also inspectable:
//! a consumer can list every stack kind or region without knowing the
//! architecture. Only decoding instructions is code by nature, so it is a
//! trait object the table points at.
//!
//! [`for_machine`] picks the implementation for a dump's [`Machine`], or
//! says clearly that krash does not support it yet.
//!
//! This crate depends on `krash-core` alone and sits above the dump
//! readers without importing them: a dump names its [`Machine`] and hands
//! over each CPU's raw notes, which [`Arch::cpu_registers`] decodes with
//! the layouts here; the kernel model resolves the address-space layouts
//! with the symbols and VMCOREINFO it has (see [`LayoutValue`]).

#![warn(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

/// Declares an architecture's register ids: `NAME = index` into its
/// [`RegisterSet`], one `pub const` each.
macro_rules! register_ids {
    ($($name:ident = $n:expr),* $(,)?) => { $(pub const $name: $crate::RegisterId = $crate::RegisterId($n);)* };
}
pub(crate) use register_ids;

pub mod addrspace;
pub mod arm64;
pub mod decoder;
pub mod disasm;
pub mod layout;
pub mod machine;
pub mod paging;
pub mod registers;
pub mod stacks;
pub mod x86_64;

use std::fmt;

pub use addrspace::{AddressSpaceSpec, LayoutValue, LinearPhys, Region, RegionKind, VirtualLayout};
pub use decoder::{Decoded, Decoder, FlowKind, Instruction, Symbolizer};
pub use layout::{CpuStateNote, LayoutError, Prstatus, PrstatusLayout, RegisterLayout, SavedRegsLayout};
pub use machine::{Machine, UnknownMachine, UnsupportedMachine};
pub use paging::{
    AddressExtension, AddressHalves, ExtentLimits, MappedExtent, MappedExtents, NotPresent, PageTableEntry,
    PageTableFormat, TranslateStep, Translation,
};
pub use registers::{RegisterDesc, RegisterFile, RegisterId, RegisterRole, RegisterSet};
pub use stacks::{StackClass, StackKind, StackLocator, StackSpec};

/// One architecture, described as data.
pub struct Arch {
    pub machine: Machine,
    pub registers: &'static RegisterSet,
    /// The ELF `NT_PRSTATUS` note's layout.
    pub prstatus: &'static PrstatusLayout,
    /// A hypervisor's extra per-CPU note (QEMU's on x86-64), if any.
    pub cpu_state_note: Option<&'static CpuStateNote>,
    /// `struct pt_regs` and how to judge saved frames.
    pub saved_regs: &'static SavedRegsLayout,
    /// The paging modes' address-space layouts; the first whose
    /// conditions hold is in use (so the unconditional default is last).
    pub address_spaces: &'static [&'static AddressSpaceSpec],
    pub stacks: &'static StackSpec,
    pub decoder: &'static dyn Decoder,
}

impl Arch {
    /// The name `uname -m` prints.
    pub fn name(&self) -> &'static str {
        self.machine.name()
    }

    /// An empty register file of this architecture.
    pub fn new_registers(&self) -> RegisterFile {
        RegisterFile::new(self.registers)
    }

    /// The address-space layout (and so paging format) in use, given what
    /// `lookup` knows of the kernel (VMCOREINFO numbers, variables).
    pub fn address_space(&self, lookup: &dyn Fn(LayoutValue) -> Option<u64>) -> Option<&'static AddressSpaceSpec> {
        self.address_spaces.iter().copied().find(|spec| spec.applies(lookup))
    }

    /// One CPU's registers from the dump's raw notes for it: `prstatus`,
    /// the `NT_PRSTATUS` descriptor, and `cpu_state`, a hypervisor's CPU
    /// state descriptor (QEMU's), whose registers PRSTATUS lacks (the
    /// control registers) are added to PRSTATUS's. `None` when neither
    /// note is there (or the hypervisor note is one this architecture
    /// does not describe); an error when a note is too short for its layout.
    pub fn cpu_registers(
        &self,
        prstatus: Option<&[u8]>,
        cpu_state: Option<&[u8]>,
    ) -> Result<Option<RegisterFile>, LayoutError> {
        let from_prstatus = prstatus.map(|desc| self.prstatus.parse(desc)).transpose()?.map(|p| p.regs);
        let from_state = match (cpu_state, self.cpu_state_note) {
            (Some(desc), Some(note)) => Some(note.regs.read(desc)?),
            _ => None,
        };
        Ok(match (from_prstatus, from_state) {
            (Some(mut regs), Some(state)) => {
                regs.fill_missing_from(&state);
                Some(regs)
            }
            (Some(regs), None) => Some(regs),
            (None, state) => state,
        })
    }

    /// The base page size, when every paging mode agrees on one (x86-64:
    /// always 4 KiB; arm64 kernels choose 4, 16 or 64 KiB).
    pub fn base_page_size(&self) -> Option<u64> {
        let mut sizes = self.address_spaces.iter().map(|s| s.paging.base_page_size());
        let first = sizes.next()?;
        sizes.all(|s| s == first).then_some(first)
    }
}

impl fmt::Debug for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Arch").field("machine", &self.machine).finish_non_exhaustive()
    }
}

/// Every architecture krash implements.
pub static ARCHES: &[&Arch] = &[&x86_64::X86_64, &arm64::ARM64];

/// The implementation for `machine`, or an error saying krash does not
/// support it yet.
pub fn for_machine(machine: Machine) -> Result<&'static Arch, UnsupportedMachine> {
    ARCHES.iter().copied().find(|a| a.machine == machine).ok_or(UnsupportedMachine(machine))
}
