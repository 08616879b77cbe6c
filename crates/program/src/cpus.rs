//! The dump's machine as an architecture, and each CPU's saved registers:
//! the dump hands over its machine and raw CPU notes, the architecture
//! layer decodes them, and subsystems read the result here rather than
//! reaching around the core into the dump.

use std::path::Path;

use krash_arch::{Arch, RegisterFile};
use krash_core::{Error, Result};
use krash_dumpfile::Dump;

/// One CPU's state saved in the dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuState {
    /// Position among the dump's CPU notes (the kernel writes online CPUs in order).
    pub index: usize,
    /// `pr_pid` from NT_PRSTATUS: the task running on that CPU (0 = idle).
    pub pid: Option<u32>,
    /// The registers: PRSTATUS's, plus those only a hypervisor's note has
    /// (QEMU's control registers).
    pub registers: RegisterFile,
    /// A hypervisor (QEMU) recorded the state when it stopped the machine,
    /// rather than the crashing kernel: the registers are where each CPU
    /// really was, not where the kernel's crash path saved them.
    pub from_hypervisor: bool,
}

/// The architecture implementation for the dump's machine, or an
/// `Unsupported` error naming the machine (arm64 is refused here).
pub(crate) fn arch_of(dump: &Dump, path: &Path) -> Result<&'static Arch> {
    let machine = dump.machine().ok_or_else(|| {
        Error::Unsupported(format!(
            "{}: the dump does not say which machine it was taken on, and its VMCOREINFO does not tell",
            path.display()
        ))
    })?;
    Ok(krash_arch::for_machine(machine)?)
}

/// Every CPU note's registers, decoded with `arch`'s layouts; a note too
/// short for its layout is an error.
pub(crate) fn cpu_states(dump: &Dump, arch: &Arch) -> Result<Vec<CpuState>> {
    let mut out = Vec::with_capacity(dump.cpus().len());
    for note in dump.cpus() {
        let Some(registers) = arch.cpu_registers(note.prstatus.as_deref(), note.qemu_state.as_deref())? else {
            continue;
        };
        out.push(CpuState {
            index: note.index,
            pid: note.pid,
            registers,
            from_hypervisor: note.qemu_state.is_some() && arch.cpu_state_note.is_some(),
        });
    }
    Ok(out)
}
