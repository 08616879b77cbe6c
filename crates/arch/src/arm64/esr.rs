//! The exception syndrome (ESR_ELx) of an arm64 fault, decoded: the
//! exception class, and for aborts whether it was a read or a write and
//! what the translation said (no mapping, no permission, access flag), at
//! which table level; for `BRK`, what the kernel uses that immediate for
//! (`BUG()`, KASAN, UBSAN, CFI). The kernel prints the raw value in its
//! `Internal error: Oops: <ESR> [#1]` line; the field positions are the
//! architecture's (Arm ARM D17.2.37), the BRK immediates the kernel's
//! `arch/arm64/include/asm/brk-imm.h`.

use serde::Serialize;

/// One decoded syndrome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Syndrome {
    pub raw: u64,
    /// ESR_ELx.EC, bits 31:26.
    pub class: u8,
    /// What the class means, in words.
    pub class_name: &'static str,
    /// ESR_ELx.IL: the trapped instruction was 32 bits (always, in A64).
    pub il32: bool,
    pub detail: SyndromeDetail,
}

/// The class-specific part of a syndrome (ESR_ELx.ISS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SyndromeDetail {
    /// A data or instruction abort.
    Abort {
        /// An instruction fetch (an instruction abort, or a jump to a bad address).
        fetch: bool,
        /// For data aborts: a write (WnR); `None` for instruction aborts.
        write: Option<bool>,
        /// A cache-maintenance instruction faulted (CM).
        cache_maintenance: bool,
        fault: FaultStatus,
    },
    /// A `BRK #imm` the kernel planted.
    Brk { immediate: u16, meaning: BrkMeaning },
    /// Any other class: the raw ISS.
    Other { iss: u32 },
}

/// The fault status code of an abort (DFSC/IFSC, bits 5:0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultStatus {
    /// The output address was too wide for the configuration.
    AddressSize { level: i8 },
    /// No valid descriptor: nothing is mapped there.
    Translation { level: i8 },
    /// The descriptor's access flag was clear.
    AccessFlag { level: i8 },
    /// Mapped, but the access was not allowed.
    Permission { level: i8 },
    /// An external abort (a bus error), outside or during a table walk.
    External { table_walk_level: Option<i8> },
    /// A tag check fault (MTE).
    TagCheck,
    /// An unaligned access where alignment is required.
    Alignment,
    /// Any other code.
    Other { code: u8 },
}

/// What the kernel means by a `BRK` immediate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BrkMeaning {
    /// `BUG()` and `WARN()` (BUG_BRK_IMM): a bug table entry names the site.
    Bug,
    /// A KASAN report (KASAN_BRK_IMM plus access flags).
    Kasan,
    /// A UBSAN check (UBSAN_BRK_IMM plus the check kind).
    Ubsan,
    /// A kCFI type check failure (CFI_BRK_IMM_BASE plus registers).
    Cfi,
    /// kprobes, uprobes and kgdb breakpoints.
    Debugger,
    /// The exception-table fixup of a faulting access (FAULT_BRK_IMM).
    Fault,
    Unknown,
}

const EC_SHIFT: u32 = 26;
const IL_BIT: u64 = 1 << 25;
const ISS_MASK: u64 = (1 << 25) - 1;
const EC_IABT_LOW: u8 = 0x20;
const EC_IABT_CUR: u8 = 0x21;
const EC_DABT_LOW: u8 = 0x24;
const EC_DABT_CUR: u8 = 0x25;
const EC_BRK64: u8 = 0x3c;
const WNR_BIT: u64 = 1 << 6;
const CM_BIT: u64 = 1 << 8;

/// Decodes an ESR_EL1 value.
pub fn decode_syndrome(raw: u64) -> Syndrome {
    let class = ((raw >> EC_SHIFT) & 0x3f) as u8;
    let iss = raw & ISS_MASK;
    let detail = match class {
        EC_IABT_LOW | EC_IABT_CUR | EC_DABT_LOW | EC_DABT_CUR => {
            let data = matches!(class, EC_DABT_LOW | EC_DABT_CUR);
            SyndromeDetail::Abort {
                fetch: !data,
                write: data.then_some(iss & WNR_BIT != 0),
                cache_maintenance: data && iss & CM_BIT != 0,
                fault: fault_status((iss & 0x3f) as u8),
            }
        }
        EC_BRK64 => {
            let immediate = (iss & 0xffff) as u16;
            SyndromeDetail::Brk { immediate, meaning: brk_meaning(immediate) }
        }
        _ => SyndromeDetail::Other { iss: iss as u32 },
    };
    Syndrome { raw, class, class_name: class_name(class), il32: raw & IL_BIT != 0, detail }
}

fn class_name(class: u8) -> &'static str {
    match class {
        0x00 => "unknown reason (often an undefined instruction)",
        0x01 => "WFI/WFE trapped",
        0x07 => "FP/SIMD access trapped",
        0x0d => "branch target exception (BTI)",
        0x0e => "illegal execution state",
        0x15 => "SVC from AArch64",
        0x18 => "system register access trapped",
        0x19 => "SVE access trapped",
        0x1c => "pointer authentication failure (FPAC)",
        EC_IABT_LOW => "instruction abort from a lower level (user space)",
        EC_IABT_CUR => "instruction abort in the kernel",
        0x22 => "misaligned PC",
        EC_DABT_LOW => "data abort from a lower level (user space)",
        EC_DABT_CUR => "data abort in the kernel",
        0x26 => "misaligned SP",
        0x2c => "floating-point exception",
        0x2f => "SError (asynchronous external abort)",
        0x30 | 0x31 => "hardware breakpoint",
        0x32 | 0x33 => "software step",
        0x34 | 0x35 => "watchpoint",
        EC_BRK64 => "BRK instruction",
        _ => "other exception class",
    }
}

fn fault_status(code: u8) -> FaultStatus {
    let level = (code & 0x3) as i8;
    match code {
        0x00..=0x03 => FaultStatus::AddressSize { level },
        0x04..=0x07 => FaultStatus::Translation { level },
        0x08..=0x0b => FaultStatus::AccessFlag { level },
        0x0c..=0x0f => FaultStatus::Permission { level },
        0x10 => FaultStatus::External { table_walk_level: None },
        0x11 => FaultStatus::TagCheck,
        0x14..=0x17 => FaultStatus::External { table_walk_level: Some(level) },
        0x21 => FaultStatus::Alignment,
        // FEAT_LPA2's level -1 codes.
        0x29 => FaultStatus::AddressSize { level: -1 },
        0x2b => FaultStatus::Translation { level: -1 },
        0x13 => FaultStatus::External { table_walk_level: Some(-1) },
        other => FaultStatus::Other { code: other },
    }
}

fn brk_meaning(immediate: u16) -> BrkMeaning {
    match immediate {
        0x800 => BrkMeaning::Bug,
        0x900..=0x9ff => BrkMeaning::Kasan,
        0x5500..=0x55ff => BrkMeaning::Ubsan,
        0x8000..=0x83ff => BrkMeaning::Cfi,
        0x004..=0x007 | 0x400 | 0x401 => BrkMeaning::Debugger,
        0x100 => BrkMeaning::Fault,
        _ => BrkMeaning::Unknown,
    }
}

impl FaultStatus {
    /// In words: "translation fault at level 2".
    pub fn describe(&self) -> String {
        match *self {
            FaultStatus::AddressSize { level } => format!("address size fault at level {level}"),
            FaultStatus::Translation { level } => format!("translation fault at level {level} (nothing mapped)"),
            FaultStatus::AccessFlag { level } => format!("access flag fault at level {level}"),
            FaultStatus::Permission { level } => {
                format!("permission fault at level {level} (mapped, but this access is not allowed)")
            }
            FaultStatus::External { table_walk_level: None } => "synchronous external abort".into(),
            FaultStatus::External { table_walk_level: Some(level) } => {
                format!("synchronous external abort on the table walk at level {level}")
            }
            FaultStatus::TagCheck => "tag check fault (MTE)".into(),
            FaultStatus::Alignment => "alignment fault".into(),
            FaultStatus::Other { code } => format!("fault status {code:#04x}"),
        }
    }
}

impl Syndrome {
    /// One line: "ESR 0x96000006: data abort in the kernel, read,
    /// translation fault at level 2 (nothing mapped)".
    pub fn describe(&self) -> String {
        let what = match &self.detail {
            SyndromeDetail::Abort { fetch, write, cache_maintenance, fault } => {
                let access = match (fetch, write) {
                    (true, _) => "instruction fetch",
                    (false, Some(true)) => "write",
                    (false, _) if *cache_maintenance => "cache maintenance",
                    (false, _) => "read",
                };
                format!(", {access}, {}", fault.describe())
            }
            SyndromeDetail::Brk { immediate, meaning } => {
                let why = match meaning {
                    BrkMeaning::Bug => "BUG() or WARN()",
                    BrkMeaning::Kasan => "a KASAN report",
                    BrkMeaning::Ubsan => "a UBSAN check",
                    BrkMeaning::Cfi => "a kCFI type check failure",
                    BrkMeaning::Debugger => "a kprobe, uprobe or kgdb breakpoint",
                    BrkMeaning::Fault => "an exception-table fault fixup",
                    BrkMeaning::Unknown => "an immediate the kernel does not reserve",
                };
                format!(" #{immediate:#x}: {why}")
            }
            SyndromeDetail::Other { iss } => format!(", ISS {iss:#x}"),
        };
        format!("ESR {:#x}: {}{what}", self.raw, self.class_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_oopses_decode_as_the_kernel_explains_them() {
        // null-member: "EC = 0x25: DABT (current EL)", "FSC = 0x06: level 2
        // translation fault", "WnR = 0".
        let s = decode_syndrome(0x96000006);
        assert_eq!(s.class, 0x25);
        assert!(s.il32);
        assert_eq!(
            s.detail,
            SyndromeDetail::Abort {
                fetch: false,
                write: Some(false),
                cache_maintenance: false,
                fault: FaultStatus::Translation { level: 2 }
            }
        );
        assert_eq!(
            s.describe(),
            "ESR 0x96000006: data abort in the kernel, read, translation fault at level 2 (nothing mapped)"
        );
        // null-fnptr: an instruction abort at address 0.
        let s = decode_syndrome(0x86000006);
        assert!(matches!(s.detail, SyndromeDetail::Abort { fetch: true, write: None, .. }));
        // A write to a read-only page.
        let s = decode_syndrome(0x9600004f);
        assert!(s.describe().contains("write, permission fault at level 3"), "{}", s.describe());
        // timer-bug: BUG() is `brk #0x800`.
        let s = decode_syndrome(0xf2000800);
        assert_eq!(s.detail, SyndromeDetail::Brk { immediate: 0x800, meaning: BrkMeaning::Bug });
        assert_eq!(s.describe(), "ESR 0xf2000800: BRK instruction #0x800: BUG() or WARN()");
        assert_eq!(brk_meaning(0x5503), BrkMeaning::Ubsan);
        assert_eq!(brk_meaning(0x8021), BrkMeaning::Cfi);
        assert_eq!(fault_status(0x2b), FaultStatus::Translation { level: -1 });
    }

    #[test]
    fn every_value_decodes() {
        for raw in (0..=u64::from(u32::MAX)).step_by(0x10_0001) {
            let s = decode_syndrome(raw);
            assert!(!s.describe().is_empty());
        }
        assert_eq!(decode_syndrome(u64::MAX).class, 0x3f);
    }
}
