//! ELF notes carried by every vmcore format: per-CPU `CORE`/NT_PRSTATUS,
//! QEMU's per-CPU `QEMU` state, and the `VMCOREINFO` text.

use krash_core::{Result, X86_64Regs};

use crate::le::Fields;
use crate::vmcoreinfo::VmcoreInfo;

const NT_PRSTATUS: u32 = 1;
/// Notes per dump are one per CPU plus a few; more than this is corrupt.
const MAX_NOTES: usize = 1 << 16;

/// Byte offset of `pr_pid` and `pr_reg` in the x86-64 `struct elf_prstatus`.
const PRSTATUS_PID: usize = 32;
const PRSTATUS_REGS: usize = 112;
const USER_REGS_WORDS: usize = 27;

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
    while at + 12 <= bytes.len() && notes.len() < MAX_NOTES {
        let f = Fields::new(bytes, "ELF note");
        let namesz = f.u32(at)? as usize;
        let descsz = f.u32(at + 4)? as usize;
        let kind = f.u32(at + 8)?;
        if namesz == 0 && descsz == 0 && kind == 0 {
            break;
        }
        let name_at = at + 12;
        let desc_at = name_at
            .checked_add(align4(namesz))
            .ok_or_else(|| krash_core::Error::bad_data("ELF note", "name size overflows"))?;
        let name = f.slice(name_at, namesz)?;
        let desc = f.slice(desc_at, descsz)?;
        let name = match name.iter().position(|&b| b == 0) {
            Some(nul) => &name[..nul],
            None => name,
        };
        notes.push(Note { name, kind, desc });
        at = desc_at.saturating_add(align4(descsz));
    }
    Ok(notes)
}

fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// The saved state of one CPU at crash time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuNote {
    /// Position among the dump's CPU notes (the kernel writes online CPUs in order).
    pub index: usize,
    /// `pr_pid` from NT_PRSTATUS: the task running on that CPU (0 = idle).
    pub pid: Option<u32>,
    /// General registers; `cr3` is set when QEMU recorded it.
    pub regs: X86_64Regs,
    /// QEMU's extra CPU state (control registers, segment bases), when present.
    pub qemu: Option<QemuCpuState>,
}

/// A segment register as QEMU records it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QemuSegment {
    pub selector: u32,
    pub limit: u32,
    pub flags: u32,
    pub base: u64,
}

/// QEMU's `QEMUCPUState` note (name "QEMU"): registers the ELF PRSTATUS
/// lacks, notably the control registers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QemuCpuState {
    pub version: u32,
    pub rip: u64,
    pub rsp: u64,
    pub rflags: u64,
    pub cs: QemuSegment,
    pub ds: QemuSegment,
    pub es: QemuSegment,
    pub fs: QemuSegment,
    pub gs: QemuSegment,
    pub ss: QemuSegment,
    pub ldt: QemuSegment,
    pub tr: QemuSegment,
    pub gdt: QemuSegment,
    pub idt: QemuSegment,
    pub cr0: u64,
    pub cr2: u64,
    pub cr3: u64,
    pub cr4: u64,
    /// The swapped-out GS base (version 2 and later).
    pub kernel_gs_base: Option<u64>,
    /// General registers in `X86_64Regs` form.
    pub regs: X86_64Regs,
}

fn parse_qemu_state(desc: &[u8]) -> Result<QemuCpuState> {
    let f = Fields::new(desc, "QEMU CPU state note");
    let gpr = |i: usize| f.u64(8 + 8 * i);
    let segment = |i: usize| -> Result<QemuSegment> {
        let at = 152 + 24 * i;
        Ok(QemuSegment { selector: f.u32(at)?, limit: f.u32(at + 4)?, flags: f.u32(at + 8)?, base: f.u64(at + 16)? })
    };
    let cr = |i: usize| f.u64(392 + 8 * i);
    let (fs, gs) = (segment(3)?, segment(4)?);
    let regs = X86_64Regs {
        rax: gpr(0)?,
        rbx: gpr(1)?,
        rcx: gpr(2)?,
        rdx: gpr(3)?,
        rsi: gpr(4)?,
        rdi: gpr(5)?,
        rsp: gpr(6)?,
        rbp: gpr(7)?,
        r8: gpr(8)?,
        r9: gpr(9)?,
        r10: gpr(10)?,
        r11: gpr(11)?,
        r12: gpr(12)?,
        r13: gpr(13)?,
        r14: gpr(14)?,
        r15: gpr(15)?,
        rip: gpr(16)?,
        rflags: gpr(17)?,
        cs: u64::from(segment(0)?.selector),
        ss: u64::from(segment(5)?.selector),
        fs_base: fs.base,
        gs_base: gs.base,
        orig_rax: 0,
        cr3: Some(cr(3)?),
    };
    Ok(QemuCpuState {
        version: f.u32(0)?,
        rip: regs.rip,
        rsp: regs.rsp,
        rflags: regs.rflags,
        cs: segment(0)?,
        ds: segment(1)?,
        es: segment(2)?,
        fs,
        gs,
        ss: segment(5)?,
        ldt: segment(6)?,
        tr: segment(7)?,
        gdt: segment(8)?,
        idt: segment(9)?,
        cr0: cr(0)?,
        cr2: cr(2)?,
        cr3: cr(3)?,
        cr4: cr(4)?,
        kernel_gs_base: f.u64(432).ok(),
        regs,
    })
}

fn parse_prstatus(desc: &[u8]) -> Result<(u32, X86_64Regs)> {
    let f = Fields::new(desc, "NT_PRSTATUS note");
    let pid = f.u32(PRSTATUS_PID)?;
    let mut words = [0u64; USER_REGS_WORDS];
    for (i, w) in words.iter_mut().enumerate() {
        *w = f.u64(PRSTATUS_REGS + 8 * i)?;
    }
    let regs = X86_64Regs::from_user_regs(&words)
        .ok_or_else(|| krash_core::Error::bad_data("NT_PRSTATUS note", "register set too short"))?;
    Ok((pid, regs))
}

/// What a dump's notes say: CPU states, VMCOREINFO, and whether QEMU wrote them.
#[derive(Debug, Default)]
pub(crate) struct NoteSummary {
    pub cpus: Vec<CpuNote>,
    pub vmcoreinfo: Option<VmcoreInfo>,
    pub from_qemu: bool,
}

/// Collects CPU states and VMCOREINFO. QEMU writes all PRSTATUS notes, then
/// all QEMU notes, each in CPU order, so the n-th of each belong together.
pub(crate) fn summarize(notes: &[Note<'_>]) -> Result<NoteSummary> {
    let mut prstatus = Vec::new();
    let mut qemu = Vec::new();
    let mut vmcoreinfo = None;
    for note in notes {
        match (note.name, note.kind) {
            (b"CORE", NT_PRSTATUS) => prstatus.push(parse_prstatus(note.desc)?),
            (b"QEMU", _) => qemu.push(parse_qemu_state(note.desc)?),
            (b"VMCOREINFO", _) => vmcoreinfo = Some(VmcoreInfo::parse(note.desc)),
            _ => {}
        }
    }
    let from_qemu = !qemu.is_empty();
    let count = prstatus.len().max(qemu.len());
    let mut qemu = qemu.into_iter();
    let mut prstatus = prstatus.into_iter();
    let cpus = (0..count)
        .map(|index| {
            let pr = prstatus.next();
            let q = qemu.next();
            let mut regs = match (&pr, &q) {
                (Some((_, r)), _) => *r,
                (None, Some(q)) => q.regs,
                (None, None) => X86_64Regs::default(),
            };
            if let Some(q) = &q {
                regs.cr3 = Some(q.cr3);
            }
            CpuNote { index, pid: pr.map(|(pid, _)| pid), regs, qemu: q }
        })
        .collect();
    Ok(NoteSummary { cpus, vmcoreinfo, from_qemu })
}

#[cfg(test)]
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

    pub fn prstatus(pid: u32, rip: u64) -> Vec<u8> {
        let mut d = vec![0u8; 336];
        d[PRSTATUS_PID..PRSTATUS_PID + 4].copy_from_slice(&pid.to_le_bytes());
        let rip_at = PRSTATUS_REGS + 16 * 8;
        d[rip_at..rip_at + 8].copy_from_slice(&rip.to_le_bytes());
        d
    }

    #[test]
    fn prstatus_and_qemu_pairing() {
        let mut q = vec![0u8; 440];
        q[0..4].copy_from_slice(&1u32.to_le_bytes());
        q[416..424].copy_from_slice(&0x1234000u64.to_le_bytes());
        let mut bytes = note("CORE", 1, &prstatus(42, 0xffffffff81000000));
        bytes.extend(note("QEMU", 0, &q));
        bytes.extend(note("VMCOREINFO", 0, b"OSRELEASE=6.1\n"));
        bytes.extend([0u8; 24]);
        let notes = parse_notes(&bytes).unwrap();
        let s = summarize(&notes).unwrap();
        assert!(s.from_qemu);
        assert_eq!(s.cpus.len(), 1);
        assert_eq!(s.cpus[0].pid, Some(42));
        assert_eq!(s.cpus[0].regs.rip, 0xffffffff81000000);
        assert_eq!(s.cpus[0].regs.cr3, Some(0x1234000));
        assert_eq!(s.vmcoreinfo.unwrap().osrelease(), Some("6.1"));
    }

    #[test]
    fn malformed_notes_are_errors() {
        let mut bytes = note("CORE", 1, &prstatus(1, 2));
        bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse_notes(&bytes).is_err());
        let short = note("CORE", 1, &[0u8; 20]);
        assert!(summarize(&parse_notes(&short).unwrap()).is_err());
    }
}
