//! What the unwinder needs to know about code: ORC entries, DWARF CFI, which
//! addresses are text, and what to call them.

use krash_arch::{Arch, RegisterId};
use krash_debuginfo::orc::OrcEntry;

use crate::cfi::CfiRow;
use serde::Serialize;

/// A symbol name for a code address, as a frame line shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Symbolized {
    pub name: String,
    /// Offset of the address into the symbol.
    pub offset: u64,
    /// Owning module, `None` for the kernel image.
    pub module: Option<String>,
}

/// `struct pt_regs` as this kernel builds it, for the frame-record unwinder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavedRegsGeometry {
    /// `sizeof(struct pt_regs)`.
    pub size: u64,
    /// `offsetof(struct pt_regs, stackframe)`.
    pub frame_record_offset: u64,
}

/// Code knowledge for one kernel: vmlinux plus loaded modules.
pub trait CodeInfo {
    /// The architecture the code is for: its registers, how it saves them
    /// on an exception (`struct pt_regs`), its instruction decoder.
    fn arch(&self) -> &'static Arch;
    /// The ORC entry covering `ip` (vmlinux or a module table).
    fn orc(&self, ip: u64) -> Option<OrcEntry>;
    /// True if `addr` lies in kernel or module text.
    fn is_text(&self, addr: u64) -> bool;
    /// The symbol containing `addr`, if any.
    fn symbolize(&self, addr: u64) -> Option<Symbolized>;
    /// The DWARF CFI row covering `ip`, where `.debug_frame` is loaded.
    fn cfi(&self, _ip: u64) -> Option<CfiRow> {
        None
    }
    /// The code address a saved return address holds: arm64 kernels sign
    /// return addresses (pointer authentication), and the signature bits
    /// must go before the address is looked up.
    fn return_address(&self, raw: u64) -> u64 {
        raw
    }
    /// Where a frame-record architecture's entry code keeps a frame record
    /// inside `struct pt_regs` (arm64's `stackframe`), from the kernel's
    /// types; `None` where there is no such record or the types are unknown.
    fn saved_regs_geometry(&self) -> Option<SavedRegsGeometry> {
        None
    }
    /// The address of the function `name` in `module` (the kernel image
    /// for `None`), to find the whole function a `.cold` part belongs to.
    fn function_named(&self, _name: &str, _module: Option<&str>) -> Option<u64> {
        None
    }
    /// The callee-saved registers the prologue of the function at `start`
    /// pushes (decoded up to `limit`), through a cache the implementation
    /// keeps: the tens of thousands of sleeping tasks of a big machine sit
    /// in a few dozen functions, whose prologues need decoding once.
    /// `decode` finds them; by default nothing is cached.
    fn prologue_pushes(
        &self,
        _start: u64,
        _limit: Option<u64>,
        decode: &dyn Fn() -> Option<Vec<RegisterId>>,
    ) -> Option<Vec<RegisterId>> {
        decode()
    }
}
