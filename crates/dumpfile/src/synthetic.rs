//! Synthetic ELF vmcores built in memory, for tests of the layers above
//! (the kernel model over made-up memory, types and symbols) and for
//! fuzzing walkers; never used on a real dump. It is compiled into every
//! build rather than behind a feature: a feature that only the tests turn
//! on changes this crate's build, and so every crate's above it, between
//! `cargo build --release` and `cargo test --release`, which then compiled
//! the whole workspace twice (issue 13, the test command's time). Unused,
//! it adds nothing to the krash executable.
//!
//! The image has the shape kdump's ELF vmcores have: one PT_NOTE
//! (VMCOREINFO and one NT_PRSTATUS per CPU) and one PT_LOAD per run of
//! physical memory.
// A builder of made-up images from the caller's own small inputs; it never parses dump bytes.
#![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

/// x86-64 `struct elf_prstatus` size and where its fields are.
const PRSTATUS_SIZE: usize = 336;
const PRSTATUS_PID_AT: usize = 32;
const PRSTATUS_REGS_AT: usize = 112;
/// `user_regs_struct` order of the registers a synthetic CPU sets.
const USER_REGS_RSP: usize = 19;
const USER_REGS_RIP: usize = 16;

const ELF_HEADER: usize = 64;
const PROGRAM_HEADER: usize = 56;
const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const NT_PRSTATUS: u32 = 1;
const ET_CORE: u16 = 4;
const EM_X86_64: u16 = 62;

/// One CPU's saved state in the synthetic dump.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyntheticCpu {
    pub pid: u32,
    pub rip: u64,
    pub rsp: u64,
}

/// Builds an ELF vmcore from physical memory runs and VMCOREINFO text.
#[derive(Debug, Default)]
pub struct ElfVmcoreBuilder {
    /// (physical start, bytes), in any order; runs must not overlap.
    runs: Vec<(u64, Vec<u8>)>,
    vmcoreinfo: String,
    cpus: Vec<SyntheticCpu>,
}

impl ElfVmcoreBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Physical memory at `paddr` holding `bytes`.
    pub fn memory(&mut self, paddr: u64, bytes: Vec<u8>) -> &mut Self {
        self.runs.push((paddr, bytes));
        self
    }

    /// One `KEY=value` line of VMCOREINFO.
    pub fn vmcoreinfo_line(&mut self, line: &str) -> &mut Self {
        self.vmcoreinfo.push_str(line);
        self.vmcoreinfo.push('\n');
        self
    }

    pub fn cpu(&mut self, cpu: SyntheticCpu) -> &mut Self {
        self.cpus.push(cpu);
        self
    }

    /// The vmcore's bytes.
    pub fn build(&self) -> Vec<u8> {
        let mut notes = Vec::new();
        for cpu in &self.cpus {
            let mut desc = vec![0u8; PRSTATUS_SIZE];
            put(&mut desc, PRSTATUS_PID_AT, &cpu.pid.to_le_bytes());
            put(&mut desc, PRSTATUS_REGS_AT + 8 * USER_REGS_RIP, &cpu.rip.to_le_bytes());
            put(&mut desc, PRSTATUS_REGS_AT + 8 * USER_REGS_RSP, &cpu.rsp.to_le_bytes());
            notes.extend(note("CORE", NT_PRSTATUS, &desc));
        }
        notes.extend(note("VMCOREINFO", 0, self.vmcoreinfo.as_bytes()));

        let phnum = self.runs.len() + 1;
        let mut image = vec![0u8; ELF_HEADER + PROGRAM_HEADER * phnum];
        put(&mut image, 0, b"\x7fELF\x02\x01\x01");
        put(&mut image, 16, &ET_CORE.to_le_bytes());
        put(&mut image, 18, &EM_X86_64.to_le_bytes());
        put(&mut image, 20, &1u32.to_le_bytes());
        put(&mut image, 32, &(ELF_HEADER as u64).to_le_bytes());
        put(&mut image, 52, &(ELF_HEADER as u16).to_le_bytes());
        put(&mut image, 54, &(PROGRAM_HEADER as u16).to_le_bytes());
        put(&mut image, 56, &(phnum as u16).to_le_bytes());

        let notes_at = image.len();
        image.extend_from_slice(&notes);
        program_header(&mut image, 0, PT_NOTE, notes_at, 0, notes.len());
        for (i, (paddr, bytes)) in self.runs.iter().enumerate() {
            let at = image.len().next_multiple_of(4096);
            image.resize(at, 0);
            image.extend_from_slice(bytes);
            program_header(&mut image, i + 1, PT_LOAD, at, *paddr, bytes.len());
        }
        image
    }
}

fn program_header(image: &mut [u8], index: usize, kind: u32, offset: usize, paddr: u64, size: usize) {
    let at = ELF_HEADER + PROGRAM_HEADER * index;
    put(image, at, &kind.to_le_bytes());
    put(image, at + 8, &(offset as u64).to_le_bytes());
    put(image, at + 24, &paddr.to_le_bytes());
    put(image, at + 32, &(size as u64).to_le_bytes());
    put(image, at + 40, &(size as u64).to_le_bytes());
}

/// An ELF note: name and descriptor, each padded to 4 bytes.
fn note(name: &str, kind: u32, desc: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&(name.len() as u32 + 1).to_le_bytes());
    v.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    v.extend_from_slice(&kind.to_le_bytes());
    v.extend_from_slice(name.as_bytes());
    v.push(0);
    v.resize(v.len().next_multiple_of(4), 0);
    v.extend_from_slice(desc);
    v.resize(v.len().next_multiple_of(4), 0);
    v
}

/// Writes `bytes` at `at`; the builder sized `buf` for every field first.
fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = buf.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use krash_core::PhysicalMemory;

    #[test]
    fn a_built_vmcore_opens_with_its_memory_notes_and_vmcoreinfo() {
        let mut page = vec![0u8; 4096];
        page[8..16].copy_from_slice(&0x1122_3344_5566_7788u64.to_le_bytes());
        let bytes = ElfVmcoreBuilder::new()
            .memory(0x10_0000, page)
            .vmcoreinfo_line("OSRELEASE=6.1.0-synthetic")
            .cpu(SyntheticCpu { pid: 7, rip: 0xffff_ffff_8100_0000, rsp: 0xffff_c900_0000_8000 })
            .build();
        let dump = crate::Dump::from_bytes(bytes).unwrap();
        assert_eq!(dump.read_phys_u64(0x10_0008).unwrap(), 0x1122_3344_5566_7788);
        assert!(dump.read_phys_u64(0x20_0000).is_err());
        assert_eq!(dump.vmcoreinfo().and_then(|v| v.osrelease()), Some("6.1.0-synthetic"));
        assert_eq!(dump.cpus().len(), 1);
    }
}
