//! ELF notes carried by every vmcore format: per-CPU `CORE`/NT_PRSTATUS,
//! QEMU's per-CPU `QEMU` state, and the `VMCOREINFO` text. The CPU notes
//! are kept as the raw descriptors: where the registers sit inside them is
//! the architecture's knowledge (`krash-arch` decodes them), and this layer
//! sits below the architectures.

use krash_core::{Machine, Result};

use crate::le::Fields;
use crate::vmcoreinfo::VmcoreInfo;

const NT_PRSTATUS: u32 = 1;
/// `struct user_fpsimd_state` (arm64) or `user_i387_struct` (x86-64) in a core file.
const NT_PRFPREG: u32 = 2;
/// Notes per dump are one per CPU plus a few; more than this is corrupt.
const MAX_NOTES: usize = 1 << 16;

/// One ELF note: its name (without NUL), type and payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Note<'a> {
    pub name: &'a [u8],
    pub kind: u32,
    pub desc: &'a [u8],
}

/// Splits a note segment into notes. Stops at a zeroed header (kernels pad
/// the note segment) and fails on a note that runs past the segment.
pub(crate) fn parse_notes(bytes: &[u8]) -> Result<Vec<Note<'_>>> {
    let mut notes = Vec::new();
    let mut at = 0usize;
    while at.checked_add(12).is_some_and(|end| end <= bytes.len()) && notes.len() < MAX_NOTES {
        let f = Fields::new(bytes, "ELF note");
        let namesz = f.u32(at)? as usize;
        let descsz = f.u32(at.saturating_add(4))? as usize;
        let kind = f.u32(at.saturating_add(8))?;
        if namesz == 0 && descsz == 0 && kind == 0 {
            break;
        }
        let name_at = at.saturating_add(12);
        let desc_at = name_at
            .checked_add(align4(namesz))
            .ok_or_else(|| krash_core::Error::bad_data("ELF note", "name size overflows"))?;
        let name = f.slice(name_at, namesz)?;
        let desc = f.slice(desc_at, descsz)?;
        let name = name.split(|&b| b == 0).next().unwrap_or(name);
        notes.push(Note { name, kind, desc });
        at = desc_at.saturating_add(align4(descsz));
    }
    Ok(notes)
}

fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// The saved state of one CPU at crash time, as the dump holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuNote {
    /// Position among the dump's CPU notes (the kernel writes online CPUs in order).
    pub index: usize,
    /// `pr_pid` from NT_PRSTATUS: the task running on that CPU (0 = idle).
    pub pid: Option<u32>,
    /// The NT_PRSTATUS descriptor (`struct elf_prstatus`), undecoded.
    pub prstatus: Option<Vec<u8>>,
    /// QEMU's CPU-state descriptor (`QEMUCPUState`, note name "QEMU"),
    /// undecoded: the registers PRSTATUS lacks (control registers).
    pub qemu_state: Option<Vec<u8>>,
}

/// What a dump's notes say: CPU states, VMCOREINFO, the machine, and
/// whether QEMU wrote them.
#[derive(Debug, Default)]
pub(crate) struct NoteSummary {
    pub cpus: Vec<CpuNote>,
    pub vmcoreinfo: Option<VmcoreInfo>,
    pub from_qemu: bool,
    /// The header's machine, or the one VMCOREINFO names.
    pub machine: Option<Machine>,
}

/// Page size when the dump does not state one: 4 KiB, the smallest page
/// of every machine krash knows (and x86-64's only one).
const FALLBACK_PAGE_SIZE: u64 = 4096;

/// Offset of `pr_pid` in a 64-bit `struct elf_prstatus`: it follows the
/// common `elf_siginfo`, `pr_cursig` and the two signal masks on every
/// 64-bit Linux machine, ahead of the machine's registers.
const PRSTATUS_PID_OFFSET: usize = 32;

/// The kernel's page size: VMCOREINFO's `PAGESIZE`, else [`FALLBACK_PAGE_SIZE`].
pub(crate) fn page_size(summary: &NoteSummary) -> u64 {
    summary
        .vmcoreinfo
        .as_ref()
        .and_then(|v| v.page_size())
        .filter(|p| p.is_power_of_two() && (512..=1 << 20).contains(p))
        .unwrap_or(FALLBACK_PAGE_SIZE)
}

/// The machine VMCOREINFO's architecture-specific keys name.
pub(crate) fn machine_from_vmcoreinfo(info: &VmcoreInfo) -> Option<Machine> {
    Machine::from_vmcoreinfo(|key| info.get(key).is_some())
}

/// Collects CPU states and VMCOREINFO (`vmcoreinfo` when the format keeps
/// it outside the notes). `machine` is the header's; without one, the
/// machine VMCOREINFO names is used. QEMU writes all PRSTATUS notes, then
/// all QEMU notes, each in CPU order, so the n-th of each belong together.
pub(crate) fn summarize(
    notes: &[Note<'_>],
    machine: Option<Machine>,
    vmcoreinfo: Option<VmcoreInfo>,
) -> Result<NoteSummary> {
    // The last VMCOREINFO note wins, and one kept outside the notes over it.
    let from_notes = notes.iter().rfind(|n| n.name == b"VMCOREINFO");
    let vmcoreinfo = vmcoreinfo.or_else(|| from_notes.map(|n| VmcoreInfo::parse(n.desc)));
    let machine = machine.or_else(|| vmcoreinfo.as_ref().and_then(machine_from_vmcoreinfo));
    let mut prstatus = Vec::new();
    let mut qemu = Vec::new();
    // The kernel's crash notes hold NT_PRSTATUS only; QEMU adds each CPU's
    // floating-point state on arm64, where it writes no "QEMU" note.
    let mut fp_state = false;
    for note in notes {
        if note.name == b"CORE" && note.kind == NT_PRSTATUS {
            let pid = Fields::new(note.desc, "NT_PRSTATUS note").u32(PRSTATUS_PID_OFFSET)?;
            prstatus.push((pid, note.desc.to_vec()));
        } else if note.name == b"QEMU" {
            qemu.push(note.desc.to_vec());
        } else if note.name == b"CORE" && note.kind == NT_PRFPREG {
            fp_state = true;
        }
    }
    let from_qemu = !qemu.is_empty() || fp_state;
    let count = prstatus.len().max(qemu.len());
    let mut qemu = qemu.into_iter();
    let mut prstatus = prstatus.into_iter();
    let cpus = (0..count)
        .map(|index| {
            let (pid, prstatus) = prstatus.next().map_or((None, None), |(pid, desc)| (Some(pid), Some(desc)));
            CpuNote { index, pid, prstatus, qemu_state: qemu.next() }
        })
        .collect();
    Ok(NoteSummary { cpus, vmcoreinfo, from_qemu, machine })
}

#[cfg(test)]
// Tests index the synthetic buffers they build; a panic there is a failed test.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
pub(crate) mod tests {
    use super::*;

    /// Builds one ELF note as the kernel lays it out.
    pub fn note(name: &str, kind: u32, desc: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&(name.len() as u32 + 1).to_le_bytes());
        v.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        v.extend_from_slice(&kind.to_le_bytes());
        v.extend_from_slice(name.as_bytes());
        v.push(0);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v.extend_from_slice(desc);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    /// An x86-64 PRSTATUS descriptor (336 bytes, as the kernel writes it):
    /// `pr_pid` at 32, `pr_reg` at 112 with `rip` its 17th word.
    pub fn prstatus(pid: u32, rip: u64) -> Vec<u8> {
        let mut d = vec![0u8; 336];
        d[32..36].copy_from_slice(&pid.to_le_bytes());
        d[112 + 16 * 8..112 + 17 * 8].copy_from_slice(&rip.to_le_bytes());
        d
    }

    #[test]
    fn prstatus_and_qemu_pairing() {
        let mut q = vec![0u8; 440];
        q[0..4].copy_from_slice(&1u32.to_le_bytes());
        q[416..424].copy_from_slice(&0x1234000u64.to_le_bytes());
        let pr = prstatus(42, 0xffffffff81000000);
        let mut bytes = note("CORE", 1, &pr);
        bytes.extend(note("QEMU", 0, &q));
        bytes.extend(note("VMCOREINFO", 0, b"OSRELEASE=6.1\n"));
        bytes.extend([0u8; 24]);
        let notes = parse_notes(&bytes).unwrap();
        let s = summarize(&notes, Some(Machine::X86_64), None).unwrap();
        assert!(s.from_qemu);
        assert_eq!(s.cpus.len(), 1);
        assert_eq!(s.cpus[0].pid, Some(42));
        // The descriptors are kept whole, for the architecture to decode.
        assert_eq!(s.cpus[0].prstatus.as_deref(), Some(&pr[..]));
        assert_eq!(s.cpus[0].qemu_state.as_deref(), Some(&q[..]));
        assert_eq!(s.vmcoreinfo.unwrap().osrelease(), Some("6.1"));
    }

    #[test]
    fn qemu_arm64_notes_are_known_by_their_fp_state() {
        let pr = vec![0u8; 392];
        let kernel = note("CORE", NT_PRSTATUS, &pr);
        let s = summarize(&parse_notes(&kernel).unwrap(), Some(Machine::Aarch64), None).unwrap();
        assert!(!s.from_qemu, "the kernel writes NT_PRSTATUS only");
        let mut qemu = kernel.clone();
        qemu.extend(note("CORE", NT_PRFPREG, &[0u8; 528]));
        let s = summarize(&parse_notes(&qemu).unwrap(), Some(Machine::Aarch64), None).unwrap();
        assert!(s.from_qemu);
        assert_eq!(s.cpus.len(), 1);
    }

    #[test]
    fn machine_comes_from_vmcoreinfo_without_a_header() {
        let mut bytes = note("CORE", 1, &prstatus(7, 0xffffffff81000010));
        bytes.extend(note("VMCOREINFO", 0, b"SYMBOL(init_top_pgt)=ffffffff82a0a000\n"));
        let s = summarize(&parse_notes(&bytes).unwrap(), None, None).unwrap();
        assert_eq!(s.machine, Some(Machine::X86_64));
        assert_eq!(s.cpus[0].pid, Some(7));
        // Without any clue the CPU notes are still there, undecoded.
        let bytes = note("CORE", 1, &prstatus(7, 1));
        let s = summarize(&parse_notes(&bytes).unwrap(), None, None).unwrap();
        assert_eq!((s.machine, s.cpus.len(), s.cpus[0].pid), (None, 1, Some(7)));
    }

    #[test]
    fn arm64_notes_are_kept_for_the_architecture() {
        let bytes = note("CORE", 1, &[0u8; 392]);
        let s = summarize(&parse_notes(&bytes).unwrap(), Some(Machine::Aarch64), None).unwrap();
        assert_eq!(s.cpus.len(), 1);
        assert_eq!(s.cpus[0].prstatus.as_ref().map(Vec::len), Some(392));
    }

    #[test]
    fn vmcoreinfo_outside_the_notes_wins() {
        let mut bytes = note("VMCOREINFO", 0, b"OSRELEASE=old\n");
        bytes.extend(note("VMCOREINFO", 0, b"OSRELEASE=newer\n"));
        let notes = parse_notes(&bytes).unwrap();
        let s = summarize(&notes, None, None).unwrap();
        assert_eq!(s.vmcoreinfo.unwrap().osrelease(), Some("newer"));
        let s = summarize(&notes, None, Some(VmcoreInfo::parse(b"OSRELEASE=region\n"))).unwrap();
        assert_eq!(s.vmcoreinfo.unwrap().osrelease(), Some("region"));
    }

    #[test]
    fn malformed_notes_are_errors() {
        let mut bytes = note("CORE", 1, &prstatus(1, 2));
        bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse_notes(&bytes).is_err());
        // Too short to hold pr_pid.
        let short = note("CORE", 1, &[0u8; 20]);
        assert!(summarize(&parse_notes(&short).unwrap(), Some(Machine::X86_64), None).is_err());
    }
}
