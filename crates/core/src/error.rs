use std::fmt;

/// Which address space an address belongs to, so a fault can say
/// "kernel virtual address ffff... " rather than a bare number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AddrSpace {
    Physical,
    KernelVirtual,
    UserVirtual,
    /// An offset inside the dump file itself (headers, page descriptors).
    DumpFile,
}

impl fmt::Display for AddrSpace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddrSpace::Physical => "physical address",
            AddrSpace::KernelVirtual => "kernel virtual address",
            AddrSpace::UserVirtual => "user virtual address",
            AddrSpace::DumpFile => "dump file offset",
        })
    }
}

/// Why a read of dump memory failed. Users act differently on each: an
/// excluded page means "re-take the dump with a lower -d level", a missing
/// translation means the pointer is bad.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultReason {
    /// makedumpfile filtered the page out (zero, cache, user or free page).
    ExcludedFromDump,
    /// The dump describes no memory at this address at all.
    NotInDump,
    /// The dump file ends before the data for this page.
    Truncated,
    /// The page tables hold no mapping for this virtual address.
    NotMapped,
    /// The address is not canonical on x86-64.
    NonCanonical,
    /// The stored page could not be decompressed or is malformed.
    Corrupt(String),
}

impl fmt::Display for FaultReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultReason::ExcludedFromDump => f.write_str("page excluded from the dump"),
            FaultReason::NotInDump => f.write_str("not present in the dump"),
            FaultReason::Truncated => f.write_str("dump file is truncated before this page"),
            FaultReason::NotMapped => f.write_str("no page-table mapping"),
            FaultReason::NonCanonical => f.write_str("non-canonical address"),
            FaultReason::Corrupt(why) => write!(f, "corrupt page data ({why})"),
        }
    }
}

/// The handful of error kinds callers catch selectively (after drgn's):
/// a memory fault, missing debuginfo, a failed lookup, malformed input,
/// or an unsupported feature.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot read {space} {addr:#x}: {reason}")]
    Fault { addr: u64, space: AddrSpace, reason: FaultReason },
    /// Debuginfo (a type, a member, line tables, a module's symbols) is absent.
    #[error("{0}")]
    MissingDebuginfo(String),
    /// A symbol, task, module, command or similar name does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Input bytes (dump headers, BTF, ORC, kallsyms, records) are malformed.
    #[error("{context}: {detail}")]
    BadData { context: String, detail: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{0}")]
    Usage(String),
    /// The user interrupted the command (Ctrl-C); front ends print nothing for it.
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    pub fn fault(addr: u64, space: AddrSpace, reason: FaultReason) -> Self {
        Error::Fault { addr, space, reason }
    }

    pub fn bad_data(context: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::BadData { context: context.into(), detail: detail.into() }
    }

    pub fn io(path: impl AsRef<std::path::Path>, err: &std::io::Error) -> Self {
        Error::Io { path: path.as_ref().display().to_string(), message: err.to_string() }
    }

    /// True when the error is a memory fault (callers often skip such
    /// objects and continue rather than abort a whole listing).
    pub fn is_fault(&self) -> bool {
        matches!(self, Error::Fault { .. })
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
