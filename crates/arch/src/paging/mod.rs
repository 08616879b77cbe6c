//! Page-table formats described as data, and one walker for all of them.
//!
//! A [`PageTableFormat`] says what an architecture's tables look like:
//! the levels (index shift and width, whether an entry there may map a
//! large page), which entry bits mean present, large, writable, user,
//! no-execute, which bits hold the next table's or the page's address,
//! the flag names crash prints, and how Linux encodes pages that are not
//! present (swap entries, PROT_NONE). The walker in `walk.rs` interprets
//! any such table over any [`PhysicalMemory`]: one address at a time with
//! every level recorded (`vtop`), or whole ranges skipping absent
//! subtrees (`search`, user-memory scans) in `extents.rs`. memflow's
//! `ArchMMUDef` is the model; x86-64 4- and 5-level paging are two
//! instances (`crate::x86_64`).
//!
//! Entries are 64-bit little-endian words on every architecture krash
//! targets.

mod extents;
mod walk;

#[cfg(test)]
// Tests index the synthetic buffers they build; a panic there is a failed test.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests;

use krash_core::{AddrSpace, PhysicalMemory, Result};

pub use extents::{ExtentLimits, MappedExtent, MappedExtents};

/// Bytes per page-table entry.
pub(crate) const ENTRY_SIZE: u64 = 8;

/// A page-table level, named as the Linux kernel (and crash's `vtop`)
/// names it on every architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Level {
    Pgd,
    P4d,
    Pud,
    Pmd,
    Pte,
}

impl Level {
    /// The name crash prints for the level in `vtop`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Pgd => "PGD",
            Level::P4d => "P4D",
            Level::Pud => "PUD",
            Level::Pmd => "PMD",
            Level::Pte => "PTE",
        }
    }
}

/// One level of a format: which virtual-address bits index its tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelFormat {
    pub level: Level,
    /// The lowest virtual-address bit of the index.
    pub shift: u32,
    /// Index width: a table has `1 << bits` entries.
    pub bits: u32,
    /// An entry here with the format's large-page bits maps a page of
    /// `1 << shift` bytes instead of pointing at a table.
    pub large_pages: bool,
}

impl LevelFormat {
    /// Bytes one entry of this level maps.
    pub fn span(&self) -> u64 {
        1u64.checked_shl(self.shift).unwrap_or(0)
    }

    /// Entries in one table of this level.
    pub fn entries(&self) -> u64 {
        1u64.checked_shl(self.bits).unwrap_or(0)
    }

    /// The index of `vaddr`'s entry in a table of this level.
    pub fn index(&self, vaddr: u64) -> u64 {
        vaddr.checked_shr(self.shift).unwrap_or(0) & self.entries().wrapping_sub(1)
    }
}

/// "These bits of an entry have this value": a flag that is set
/// (`mask == value`), clear (`value == 0`), or a multi-bit field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitTest {
    pub mask: u64,
    pub value: u64,
}

impl BitTest {
    /// The single bit `bit` is set.
    pub const fn set(bit: u32) -> BitTest {
        BitTest { mask: 1 << bit, value: 1 << bit }
    }
    /// The single bit `bit` is clear.
    pub const fn clear(bit: u32) -> BitTest {
        BitTest { mask: 1 << bit, value: 0 }
    }
    /// Never true (the format has no such bit).
    pub const NEVER: BitTest = BitTest { mask: 0, value: 1 };

    pub fn matches(&self, entry: u64) -> bool {
        entry & self.mask == self.value
    }
}

/// A field of an entry: `bits` wide from bit `shift`, stored inverted or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitField {
    pub shift: u32,
    pub bits: u32,
    pub inverted: bool,
}

impl BitField {
    pub fn get(&self, entry: u64) -> u64 {
        let raw = if self.inverted { !entry } else { entry };
        let mask = 1u64.checked_shl(self.bits).map_or(u64::MAX, |m| m.wrapping_sub(1));
        raw.checked_shr(self.shift).unwrap_or(0) & mask
    }
}

/// How Linux encodes last-level entries the MMU sees as not present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotPresentFormat {
    /// A PROT_NONE page: in memory, inaccessible.
    pub prot_none: BitTest,
    /// PROT_NONE entries hold their frame inverted (x86's L1TF mitigation).
    pub prot_none_inverted: bool,
    /// The swap area index of a swap entry.
    pub swap_type: BitField,
    /// The page slot of a swap entry in its area.
    pub swap_offset: BitField,
}

/// What a not-present last-level entry means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum NotPresent {
    /// Zero: nothing was ever mapped (or the format has no encoding).
    Empty,
    /// A PROT_NONE page at this physical frame.
    ProtNone { frame: u64 },
    /// A swap entry: `kind` indexes `swap_info[]` (larger values are
    /// migration, poison or device entries), `offset` is the slot.
    Swap { kind: u64, offset: u64 },
}

/// How an address's bits above the implemented ones must look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressHalves {
    /// Copies of the top implemented bit (x86-64: one table tree; the
    /// upper half's addresses have bit 47, or 56, set).
    SignExtended,
    /// All zero (user, TTBR0) or all one (kernel, TTBR1): each half has
    /// its own tables and uses every implemented bit (arm64, where the
    /// linear map starts at 0xffff_0000_0000_0000 with 48-bit VAs).
    SelectedByTopBit,
}

/// An architecture's page-table format.
#[derive(Debug, PartialEq, Eq)]
pub struct PageTableFormat {
    /// For messages (`"x86-64 4-level"`).
    pub name: &'static str,
    /// Top level first; the last level always maps pages.
    pub levels: &'static [LevelFormat],
    /// Significant virtual-address bits.
    pub va_bits: u32,
    /// How the bits above `va_bits` must look.
    pub halves: AddressHalves,
    /// The bits of the root register (CR3, TTBR) holding the top table's
    /// physical address.
    pub root_mask: u64,
    /// The bits of an entry holding the next table's or the page's
    /// physical address.
    pub address_mask: u64,
    pub present: BitTest,
    /// At a level with `large_pages`, the entry maps a page.
    pub large: BitTest,
    pub writable: BitTest,
    pub user: BitTest,
    pub no_execute: BitTest,
    pub accessed: BitTest,
    pub dirty: BitTest,
    pub global: BitTest,
    /// (bit, name) in the order crash prints an entry's flags.
    pub flag_names: &'static [(u64, &'static str)],
    pub not_present: Option<NotPresentFormat>,
    /// Output-address bits kept outside `address_mask` (arm64's 52-bit
    /// physical addresses: PA[51:48] in bits 15:12 with 64 KiB pages,
    /// PA[51:50] in bits 9:8 under LPA2).
    pub address_extension: Option<AddressExtension>,
}

/// Physical-address bits an entry keeps in a field of their own: `bits`
/// bits at entry bit `entry_shift` are the address's bits from `pa_shift`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressExtension {
    pub entry_shift: u32,
    pub bits: u32,
    pub pa_shift: u32,
}

impl AddressExtension {
    fn high_bits(&self, entry: u64) -> u64 {
        let field = BitField { shift: self.entry_shift, bits: self.bits, inverted: false }.get(entry);
        field.checked_shl(self.pa_shift).unwrap_or(0)
    }
}

impl PageTableFormat {
    /// The smallest page: what the last level maps.
    pub fn base_page_size(&self) -> u64 {
        self.levels.last().map_or(0, LevelFormat::span)
    }

    /// log2 of [`Self::base_page_size`].
    pub fn page_shift(&self) -> u32 {
        self.levels.last().map_or(0, |l| l.shift)
    }

    /// The page sizes an entry can map, smallest first.
    pub fn page_sizes(&self) -> Vec<u64> {
        let mut sizes: Vec<u64> = self
            .levels
            .iter()
            .enumerate()
            .filter(|&(i, l)| l.large_pages || i.checked_add(1) == Some(self.levels.len()))
            .map(|(_, l)| l.span())
            .collect();
        sizes.sort_unstable();
        sizes
    }

    /// `addr` with the bits above the implemented ones set as the format
    /// wants them: copies of the top implemented bit, or of bit 63.
    pub fn canonicalize(&self, addr: u64) -> u64 {
        let unused = 64u32.saturating_sub(self.va_bits);
        match self.halves {
            AddressHalves::SignExtended => {
                let shifted = addr.checked_shl(unused).unwrap_or(0) as i64;
                shifted.checked_shr(unused).unwrap_or(0) as u64
            }
            AddressHalves::SelectedByTopBit => {
                let high = u64::MAX.checked_shl(self.va_bits).unwrap_or(0);
                if addr >> 63 == 1 {
                    addr | high
                } else {
                    addr & !high
                }
            }
        }
    }

    /// True when the bits above the implemented ones are as the format
    /// wants them.
    pub fn is_canonical(&self, addr: u64) -> bool {
        self.canonicalize(addr) == addr
    }

    /// The half of the address space `vaddr` is in: the upper half is the
    /// kernel's on every architecture krash knows.
    pub fn space_of(&self, vaddr: u64) -> AddrSpace {
        if vaddr >> 63 == 1 {
            AddrSpace::KernelVirtual
        } else {
            AddrSpace::UserVirtual
        }
    }

    pub fn is_present(&self, entry: u64) -> bool {
        self.present.matches(entry)
    }

    /// The physical address an entry points at (table or page).
    pub fn entry_address(&self, entry: u64) -> u64 {
        let high = self.address_extension.map_or(0, |ext| ext.high_bits(entry));
        (entry & self.address_mask) | high
    }

    /// Names of the flags set in `entry`, in crash's order.
    pub fn flag_names(&self, entry: u64) -> Vec<&'static str> {
        self.flag_names.iter().filter(|(bit, _)| entry & bit != 0).map(|&(_, name)| name).collect()
    }

    /// What a not-present last-level entry encodes.
    pub fn decode_not_present(&self, entry: u64) -> NotPresent {
        let Some(np) = self.not_present else { return NotPresent::Empty };
        if entry == 0 || self.is_present(entry) {
            return NotPresent::Empty;
        }
        if np.prot_none.matches(entry) {
            let raw = if np.prot_none_inverted { !entry } else { entry };
            return NotPresent::ProtNone { frame: raw & self.address_mask };
        }
        NotPresent::Swap { kind: np.swap_type.get(entry), offset: np.swap_offset.get(entry) }
    }

    /// Translates `vaddr` under the tables rooted at `root` (the root
    /// register's value), recording every level.
    pub fn translate(&self, mem: &dyn PhysicalMemory, root: u64, vaddr: u64) -> Result<Translation> {
        let (steps, outcome) = self.walk(mem, root, vaddr);
        outcome.map(|(paddr, page_size)| Translation { vaddr, paddr, page_size, steps })
    }

    /// Walks as far as possible: every step read, plus the physical
    /// address and page size, or why the walk stopped (a not-present
    /// entry is `NotMapped`; an unreadable table the read's own fault).
    pub fn walk(&self, mem: &dyn PhysicalMemory, root: u64, vaddr: u64) -> (Vec<TranslateStep>, Result<(u64, u64)>) {
        walk::walk(self, mem, root, vaddr)
    }

    /// The mapped extents of `[start, end)`, in address order, adjacent
    /// pages merged; absent and unreadable tables are skipped.
    pub fn mapped_extents(
        &self,
        mem: &dyn PhysicalMemory,
        root: u64,
        start: u64,
        end: u64,
        limits: ExtentLimits,
    ) -> MappedExtents {
        extents::mapped_extents(self, mem, root, start, end, limits)
    }
}

/// A raw x86-64 page-table entry with its flag decoding, as `vtop` and
/// `pte` show it. Generic code asks its [`PageTableFormat`] instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PageTableEntry(pub u64);

impl PageTableEntry {
    fn x86() -> &'static PageTableFormat {
        &crate::x86_64::PAGING_4_LEVEL
    }
    pub fn is_present(self) -> bool {
        Self::x86().is_present(self.0)
    }
    pub fn is_large(self) -> bool {
        Self::x86().large.matches(self.0)
    }
    pub fn frame_addr(self) -> u64 {
        Self::x86().entry_address(self.0)
    }
    /// Flag names in the order crash prints them in `vtop`.
    pub fn flag_names(self) -> Vec<&'static str> {
        Self::x86().flag_names(self.0)
    }
}

/// One level visited during a walk: where the entry lives and what it held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct TranslateStep {
    pub level: Level,
    /// Physical address of the entry itself.
    pub entry_paddr: u64,
    pub entry: PageTableEntry,
}

/// The result of a successful walk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Translation {
    pub vaddr: u64,
    pub paddr: u64,
    /// The size of the page mapped: a level's span (4 KiB, 2 MiB or 1 GiB
    /// on x86-64).
    pub page_size: u64,
    pub steps: Vec<TranslateStep>,
}
