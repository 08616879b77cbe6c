//! Public descriptions of a dump: its format, header identity, truncation.

use std::fmt;

pub use crate::compression::Compression;

/// Which vmcore format a dump is, detected from its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpFormat {
    /// diskdump/kdump-compressed ("KDUMP   "), as makedumpfile or QEMU write it.
    KdumpCompressed {
        compression: Compression,
        /// Read through a makedumpfile flattened stream (`-F`).
        flattened: bool,
        header_version: i32,
        /// Written by QEMU's `dump-guest-memory -z/-l/-s` rather than makedumpfile.
        qemu: bool,
    },
    /// An ELF64 core file.
    Elf {
        producer: ElfProducer,
        /// Read through a makedumpfile flattened stream (`-F -E`).
        flattened: bool,
    },
    /// A LiME (Linux Memory Extractor) image: raw physical ranges, no notes.
    Lime,
}

/// Who wrote an ELF vmcore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElfProducer {
    /// A copy of the capture kernel's /proc/vmcore.
    Kdump,
    /// `makedumpfile -E`: some pages filtered out.
    Makedumpfile,
    /// QEMU `dump-guest-memory`; `paging` when segments carry guest virtual addresses.
    Qemu { paging: bool },
    /// A running kernel's /proc/kcore.
    Kcore,
}

impl fmt::Display for DumpFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DumpFormat::KdumpCompressed { compression, flattened, header_version, qemu } => {
                write!(f, "kdump-compressed ({compression}, header v{header_version}")?;
                if *qemu {
                    f.write_str(", QEMU")?;
                }
                if *flattened {
                    f.write_str(", flattened")?;
                }
                f.write_str(")")
            }
            DumpFormat::Elf { producer, flattened } => {
                let who = match producer {
                    ElfProducer::Kdump => "kdump",
                    ElfProducer::Makedumpfile => "makedumpfile",
                    ElfProducer::Qemu { paging: true } => "QEMU, paging",
                    ElfProducer::Qemu { paging: false } => "QEMU",
                    ElfProducer::Kcore => "live kernel, /proc/kcore",
                };
                write!(f, "ELF ({who}{})", if *flattened { ", flattened" } else { "" })
            }
            DumpFormat::Lime => f.write_str("LiME"),
        }
    }
}

/// The `struct new_utsname` copied into a kdump header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Utsname {
    pub sysname: String,
    pub nodename: String,
    pub release: String,
    pub version: String,
    pub machine: String,
    pub domainname: String,
}

/// How much of a dump file is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncation {
    /// Bytes the dump's metadata says the file should hold (a lower bound
    /// when the metadata itself is cut off).
    pub expected_bytes: u64,
    /// Bytes actually present.
    pub actual_bytes: u64,
    /// Pages the dump meant to store whose data is (partly) missing.
    pub pages_missing: u64,
}

/// What a dump holds for one page frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageState {
    /// Readable.
    Present,
    /// Existing RAM that the dump tool filtered out.
    Excluded,
    /// No RAM described at this frame.
    NotInDump,
    /// Meant to be stored, but the file ends before its data.
    Truncated,
}
