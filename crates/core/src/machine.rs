//! Which machine a dump comes from, as its headers name it: the ELF
//! `e_machine` number, the kdump header's `uname -m` string, or (for
//! images without headers) VMCOREINFO keys only one architecture writes.
//! Shared vocabulary: dump readers name the machine, the architecture
//! layer (`krash-arch`) implements it. A machine krash knows need not be
//! implemented yet: `krash_arch::for_machine` says which are.

use std::fmt;

/// A machine krash knows by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Machine {
    X86_64,
    /// 64-bit Arm (arm64).
    Aarch64,
}

/// ELF `e_machine` numbers (from the ELF gABI registry).
const EM_NONE: u16 = 0;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;

/// Names of machines krash does not know, for error messages only.
const OTHER_ELF_MACHINES: &[(u16, &str)] = &[
    (3, "i386"),
    (8, "mips"),
    (20, "ppc"),
    (21, "ppc64"),
    (22, "s390x"),
    (40, "arm"),
    (43, "sparc64"),
    (50, "ia64"),
    (243, "riscv64"),
    (258, "loongarch64"),
];

impl Machine {
    /// Every machine krash knows.
    pub const ALL: &'static [Machine] = &[Machine::X86_64, Machine::Aarch64];

    /// The name `uname -m` prints.
    pub fn name(self) -> &'static str {
        match self {
            Machine::X86_64 => "x86_64",
            Machine::Aarch64 => "aarch64",
        }
    }

    /// The ELF `e_machine` value.
    pub fn elf_machine(self) -> u16 {
        match self {
            Machine::X86_64 => EM_X86_64,
            Machine::Aarch64 => EM_AARCH64,
        }
    }

    /// VMCOREINFO keys only this architecture's kernels write
    /// (`arch_crash_save_vmcoreinfo`), to recognise a headerless image.
    pub fn vmcoreinfo_markers(self) -> &'static [&'static str] {
        match self {
            Machine::X86_64 => &["SYMBOL(init_top_pgt)", "NUMBER(pgtable_l5_enabled)"],
            Machine::Aarch64 => &["NUMBER(kimage_voffset)", "NUMBER(TCR_EL1_T1SZ)"],
        }
    }

    /// The machine of an ELF `e_machine`; `Ok(None)` for `EM_NONE` (the
    /// file does not say), an error for a machine krash does not know.
    pub fn from_elf_machine(e_machine: u16) -> Result<Option<Machine>, UnknownMachine> {
        if e_machine == EM_NONE {
            return Ok(None);
        }
        Machine::ALL
            .iter()
            .copied()
            .find(|m| m.elf_machine() == e_machine)
            .map(Some)
            .ok_or(UnknownMachine::Elf(e_machine))
    }

    /// The machine of a `uname -m` string (`"x86_64"`, `"aarch64"` or
    /// `"arm64"`); `Ok(None)` for an empty one, or QEMU's `"Unknown"`
    /// (its kdump-compressed dumps of arm64 guests name no machine: the
    /// VMCOREINFO then says).
    pub fn from_uname(name: &str) -> Result<Option<Machine>, UnknownMachine> {
        let name = name.trim();
        match name {
            "" | "Unknown" => Ok(None),
            "x86_64" | "amd64" => Ok(Some(Machine::X86_64)),
            "aarch64" | "arm64" => Ok(Some(Machine::Aarch64)),
            other => Err(UnknownMachine::Uname(other.chars().take(64).collect())),
        }
    }

    /// The machine whose VMCOREINFO markers `has_key` finds, if exactly one.
    pub fn from_vmcoreinfo(has_key: impl Fn(&str) -> bool) -> Option<Machine> {
        let mut found = Machine::ALL.iter().copied().filter(|m| m.vmcoreinfo_markers().iter().any(|k| has_key(k)));
        let first = found.next()?;
        found.next().is_none().then_some(first)
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A machine named by a dump that krash does not know at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnknownMachine {
    /// An ELF `e_machine` number.
    Elf(u16),
    /// A `uname -m` string from a kdump header.
    Uname(String),
}

impl fmt::Display for UnknownMachine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnknownMachine::Elf(n) => match OTHER_ELF_MACHINES.iter().find(|(m, _)| m == n) {
                Some((_, name)) => {
                    write!(f, "the dump is for machine {name} (ELF e_machine {n}), which krash does not know")
                }
                None => write!(f, "the dump is for ELF e_machine {n}, a machine krash does not know"),
            },
            UnknownMachine::Uname(name) => write!(f, "the dump is for machine {name:?}, which krash does not know"),
        }
    }
}

impl std::error::Error for UnknownMachine {}

impl From<UnknownMachine> for crate::Error {
    fn from(e: UnknownMachine) -> Self {
        crate::Error::Unsupported(e.to_string())
    }
}

#[cfg(test)]
// Tests index the synthetic buffers they build; a panic there is a failed test.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn elf_and_uname_names() {
        assert_eq!(Machine::from_elf_machine(62), Ok(Some(Machine::X86_64)));
        assert_eq!(Machine::from_elf_machine(183), Ok(Some(Machine::Aarch64)));
        assert_eq!(Machine::from_elf_machine(0), Ok(None));
        let err = Machine::from_elf_machine(21).unwrap_err();
        assert_eq!(err.to_string(), "the dump is for machine ppc64 (ELF e_machine 21), which krash does not know");
        assert!(Machine::from_elf_machine(9999).unwrap_err().to_string().contains("e_machine 9999"));
        assert_eq!(Machine::from_uname("x86_64"), Ok(Some(Machine::X86_64)));
        assert_eq!(Machine::from_uname("arm64"), Ok(Some(Machine::Aarch64)));
        assert_eq!(Machine::from_uname(""), Ok(None));
        assert_eq!(Machine::from_uname("Unknown"), Ok(None));
        assert!(Machine::from_uname("s390x").unwrap_err().to_string().contains("\"s390x\""));
    }

    #[test]
    fn vmcoreinfo_markers_name_one_machine() {
        let x86 = |k: &str| k == "SYMBOL(init_top_pgt)";
        assert_eq!(Machine::from_vmcoreinfo(x86), Some(Machine::X86_64));
        assert_eq!(Machine::from_vmcoreinfo(|k| k == "NUMBER(kimage_voffset)"), Some(Machine::Aarch64));
        assert_eq!(Machine::from_vmcoreinfo(|_| false), None);
        assert_eq!(Machine::from_vmcoreinfo(|_| true), None, "contradictory markers name no machine");
    }
}
