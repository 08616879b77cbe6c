//! ORC unwind tables (x86-64): a sorted table of code addresses and, for
//! each, how to find the caller's stack and frame pointers.
//!
//! Every kernel stores a 6-byte `struct orc_entry` (`s16 sp_offset; s16
//! bp_offset;` then 16 bits of fields), but the meaning of those 16 bits
//! changed twice (arch/x86/include/asm/orc_types.h):
//!
//! | kernels      | flag bits                       | ORC_REG_* numbering                    |
//! |--------------|---------------------------------|----------------------------------------|
//! | before 6.4   | `type:2` (CALL=0), `end:1`      | PREV_SP=1 DX=2 DI=3 BP=4 SP=5 ...      |
//! | 6.4 to 6.x   | `type:3` (CALL=2), `signal:1`   | the same                               |
//! | 7.x          | `type:3`, `signal:1`            | AX=1 DX=2 SP=3 BP=4 DI=5 ... PREV_SP=8 |
//!
//! [`OrcFormat`] names the combination. It is never taken from a release
//! string: [`OrcFlags::from_types`] reads the bitfields of `struct
//! orc_entry` from the kernel's types, and [`OrcTable::probe_format`]
//! checks a table against known code addresses (a function's first
//! instruction is a CALL frame with the return address at SP+8), which
//! also tells the register numbering (the `#define`s are in no type).
//! Every format decodes into the same [`OrcEntry`].

use std::sync::Arc;

use krash_core::{Error, Result, VirtualMemory};

use crate::elf::elf_sections;
use crate::read;
use crate::types::{Type, TypeKind, TypeOps, TypeProvider};

/// Size of one `struct orc_entry` on disk.
const ORC_ENTRY_SIZE: usize = 6;
/// More entries than any kernel or module has; bounds reads from a dump.
const MAX_ORC_ENTRIES: u64 = 8 << 20;

/// How the type and the end/signal flag sit in an entry's 16 flag bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrcFlags {
    /// Before 6.4: `type:2` (CALL=0, REGS=1, REGS_PARTIAL=2) then `end:1`.
    TypeEnd,
    /// 6.4 and later: `type:3` (UNDEFINED=0, END_OF_STACK=1, CALL=2,
    /// REGS=3, REGS_PARTIAL=4) then `signal:1`.
    TypeSignal,
}

/// Which `ORC_REG_*` numbering a kernel uses (`#define`s, so no type
/// information records it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrcRegs {
    /// 4.14 through 6.x.
    Classic,
    /// 7.x: AX gained a number and SP, DI, PREV_SP and the indirect
    /// registers were renumbered.
    Renumbered,
}

/// `ORC_REG_*` of [`OrcRegs::Classic`], indexed by raw value.
const CLASSIC_REGS: [OrcReg; 10] = [
    OrcReg::Undefined,
    OrcReg::PrevSp,
    OrcReg::Dx,
    OrcReg::Di,
    OrcReg::Bp,
    OrcReg::Sp,
    OrcReg::R10,
    OrcReg::R13,
    OrcReg::BpIndirect,
    OrcReg::SpIndirect,
];

/// `ORC_REG_*` of [`OrcRegs::Renumbered`], indexed by raw value.
const RENUMBERED_REGS: [OrcReg; 11] = [
    OrcReg::Undefined,
    OrcReg::Ax,
    OrcReg::Dx,
    OrcReg::Sp,
    OrcReg::Bp,
    OrcReg::Di,
    OrcReg::R10,
    OrcReg::R13,
    OrcReg::PrevSp,
    OrcReg::SpIndirect,
    OrcReg::BpIndirect,
];

/// `ORC_TYPE_*` of [`OrcFlags::TypeSignal`], indexed by raw value.
const SIGNAL_TYPES: [OrcType; 5] =
    [OrcType::Undefined, OrcType::EndOfStack, OrcType::Call, OrcType::Regs, OrcType::RegsPartial];

/// `ORC_TYPE_*` of [`OrcFlags::TypeEnd`], indexed by raw value (no
/// UNDEFINED or END_OF_STACK types: `sp_reg` UNDEFINED and `end` said so).
const END_TYPES: [OrcType; 3] = [OrcType::Call, OrcType::Regs, OrcType::RegsPartial];

impl OrcRegs {
    /// The numbering as a table indexed by raw value.
    pub fn table(self) -> &'static [OrcReg] {
        match self {
            OrcRegs::Classic => &CLASSIC_REGS,
            OrcRegs::Renumbered => &RENUMBERED_REGS,
        }
    }

    fn decode(self, raw: u8) -> OrcReg {
        self.table().get(usize::from(raw)).copied().unwrap_or(OrcReg::Unknown(raw))
    }

    /// The raw number of `reg` in this numbering.
    pub fn raw(self, reg: OrcReg) -> Option<u8> {
        self.table().iter().position(|r| *r == reg).and_then(|i| u8::try_from(i).ok())
    }
}

/// The layout of a table's entries: flag bits and register numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrcFormat {
    pub flags: OrcFlags,
    pub regs: OrcRegs,
}

impl OrcFormat {
    /// Kernels before 6.4.
    pub const BEFORE_6_4: OrcFormat = OrcFormat { flags: OrcFlags::TypeEnd, regs: OrcRegs::Classic };
    /// 6.4 through 6.x.
    pub const SINCE_6_4: OrcFormat = OrcFormat { flags: OrcFlags::TypeSignal, regs: OrcRegs::Classic };
    /// 7.x.
    pub const SINCE_7: OrcFormat = OrcFormat { flags: OrcFlags::TypeSignal, regs: OrcRegs::Renumbered };
}

/// Bit positions (from the entry's start) and widths of the register
/// fields of `struct orc_entry`, the same in every known layout on
/// little-endian machines; then where the type field starts.
const SP_REG_BITS: (u64, u32) = (32, 4);
const BP_REG_BITS: (u64, u32) = (36, 4);
const TYPE_BIT: u64 = 40;

impl OrcFlags {
    /// The flag layout `struct orc_entry` has in the kernel's types: a
    /// `signal` bit after a 3-bit `type`, or an `end` bit after a 2-bit
    /// one, with the register fields where both layouts have them. `None`
    /// when the types lack the struct; an error for a layout neither
    /// known format has (decoding it would be guesswork).
    pub fn from_types(types: &dyn TypeProvider) -> Result<Option<OrcFlags>> {
        let Ok(id) = types.find_type(TypeKind::Struct, "orc_entry") else {
            return Ok(None);
        };
        let (_, ty) = types.resolve(id)?;
        let Type::Struct(body) = ty else {
            return Ok(None);
        };
        let field = |name: &str| -> Option<(u64, u32)> {
            let m = body.members.iter().find(|m| m.name.as_deref() == Some(name))?;
            Some((m.bit_offset, m.bitfield_size?))
        };
        let unknown = |what: &str| {
            Err(Error::Unsupported(format!(
                "struct orc_entry has an unknown layout: {what}; ORC entries cannot be decoded"
            )))
        };
        if field("sp_reg") != Some(SP_REG_BITS) || field("bp_reg") != Some(BP_REG_BITS) {
            return unknown("sp_reg/bp_reg are not 4-bit fields at bits 32 and 36");
        }
        match (field("type"), field("signal"), field("end")) {
            (Some((TYPE_BIT, 3)), Some((43, 1)), None) => Ok(Some(OrcFlags::TypeSignal)),
            (Some((TYPE_BIT, 2)), None, Some((42, 1))) => Ok(Some(OrcFlags::TypeEnd)),
            (t, s, e) => unknown(&format!("type {t:?}, signal {s:?}, end {e:?}")),
        }
    }
}

/// What [`OrcTable::probe_format`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrcProbe {
    pub format: OrcFormat,
    /// Function entry points that had an entry of their own with the
    /// return address at SP+8.
    pub samples: usize,
    /// How many of them agree with `format`.
    pub agreeing: usize,
}

/// Fewest function-entry samples a table probe decides on.
const MIN_PROBE_SAMPLES: usize = 8;

impl OrcData {
    /// The kernel sorts tables at build or load time; a table read from an
    /// unexpected place is sorted here rather than trusted.
    fn ensure_sorted(&mut self) {
        if self.ips.windows(2).all(|w| matches!(w, [a, b] if a <= b)) {
            return;
        }
        let mut pairs: Vec<(u64, [u8; ORC_ENTRY_SIZE])> =
            self.ips.iter().copied().zip(self.entries.iter().copied()).collect();
        pairs.sort_by_key(|p| p.0);
        (self.ips, self.entries) = pairs.into_iter().unzip();
    }
}

/// A register ORC uses as the base for the previous SP or BP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrcReg {
    Undefined,
    PrevSp,
    /// 7.x only.
    Ax,
    Dx,
    Di,
    Bp,
    Sp,
    R10,
    R13,
    BpIndirect,
    SpIndirect,
    /// A value no kernel defines (corrupt table).
    Unknown(u8),
}

/// What kind of frame the code address is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrcType {
    /// No unwind information: the unwinder must stop with an error.
    Undefined,
    /// The outermost frame (entry code, kernel thread start): stop cleanly.
    EndOfStack,
    /// An ordinary call frame: the return address sits at the previous SP - 8.
    Call,
    /// A full `struct pt_regs` lies at the computed SP.
    Regs,
    /// Only the hardware iret frame part of `pt_regs` lies at the computed SP.
    RegsPartial,
    /// A value no kernel defines (corrupt table).
    Unknown(u8),
}

/// One decoded ORC entry, valid from `ip` up to the next entry's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrcEntry {
    /// First (run-time) code address the entry covers.
    pub ip: u64,
    pub sp_reg: OrcReg,
    pub sp_offset: i16,
    pub bp_reg: OrcReg,
    pub bp_offset: i16,
    pub kind: OrcType,
    /// The frame was interrupted rather than called (do not subtract 1
    /// from the return address when looking up its caller).
    pub signal: bool,
}

impl OrcEntry {
    /// Decodes the 6 on-disk bytes of an entry.
    pub fn decode(ip: u64, raw: [u8; ORC_ENTRY_SIZE], format: OrcFormat) -> OrcEntry {
        let sp_offset = i16::from_le_bytes([raw[0], raw[1]]);
        let bp_offset = i16::from_le_bytes([raw[2], raw[3]]);
        let flags = u16::from_le_bytes([raw[4], raw[5]]);
        let sp_reg = format.regs.decode((flags & 0xf) as u8);
        let bp_reg = format.regs.decode(((flags >> 4) & 0xf) as u8);
        let (kind, signal) = match format.flags {
            OrcFlags::TypeEnd => {
                let end = (flags >> 10) & 1 == 1;
                let raw_type = ((flags >> 8) & 3) as u8;
                let kind = if end {
                    OrcType::EndOfStack
                } else if sp_reg == OrcReg::Undefined {
                    OrcType::Undefined
                } else {
                    END_TYPES.get(usize::from(raw_type)).copied().unwrap_or(OrcType::Unknown(raw_type))
                };
                // Before 6.4, register frames were exactly the signal frames.
                (kind, matches!(kind, OrcType::Regs | OrcType::RegsPartial))
            }
            OrcFlags::TypeSignal => {
                let raw_type = ((flags >> 8) & 7) as u8;
                let kind = SIGNAL_TYPES.get(usize::from(raw_type)).copied().unwrap_or(OrcType::Unknown(raw_type));
                (kind, (flags >> 11) & 1 == 1)
            }
        };
        OrcEntry { ip, sp_reg, sp_offset, bp_reg, bp_offset, kind, signal }
    }
}

/// A sorted ORC table for vmlinux or one module; clones share the data.
#[derive(Debug, Clone)]
pub struct OrcTable {
    data: Arc<OrcData>,
    format: OrcFormat,
    delta: u64,
}

#[derive(Debug)]
struct OrcData {
    /// Link-time (vmlinux) or run-time (modules) code addresses, ascending.
    ips: Vec<u64>,
    entries: Vec<[u8; ORC_ENTRY_SIZE]>,
}

fn bad(detail: impl Into<String>) -> Error {
    Error::bad_data("ORC table", detail)
}

impl OrcTable {
    /// Reads `.orc_unwind_ip`/`.orc_unwind` from a vmlinux (or module)
    /// ELF. The format is a first guess from the sections (6.4 added
    /// `.orc_header`), to be settled by [`OrcFlags::from_types`] and
    /// [`OrcTable::probe_format`] (7.x has the header and renumbered
    /// registers).
    pub fn from_vmlinux(elf_bytes: &[u8]) -> Result<Self> {
        let sections = elf_sections(elf_bytes)?;
        let find = |name: &str| sections.iter().find(|(n, _)| *n == name).map(|(_, s)| *s);
        let ip_section =
            find(".orc_unwind_ip").ok_or_else(|| Error::MissingDebuginfo("no .orc_unwind_ip section".into()))?;
        let unwind = find(".orc_unwind").ok_or_else(|| Error::MissingDebuginfo("no .orc_unwind section".into()))?;
        let format = if find(".orc_header").is_some() { OrcFormat::SINCE_6_4 } else { OrcFormat::BEFORE_6_4 };
        Self::from_tables(ip_section.addr, ip_section.data, unwind.data, format)
    }

    /// Builds a table from the raw `orc_unwind_ip` bytes (relative s32s,
    /// each relative to its own address, the table starting at
    /// `ip_table_addr`) and the `orc_unwind` bytes.
    pub fn from_tables(ip_table_addr: u64, ip_bytes: &[u8], unwind_bytes: &[u8], format: OrcFormat) -> Result<Self> {
        if ip_bytes.len() & 3 != 0 {
            return Err(bad(format!("IP table length {} is not a multiple of 4", ip_bytes.len())));
        }
        let count = ip_bytes.len() / 4;
        let whole_entries = unwind_bytes.chunks_exact(ORC_ENTRY_SIZE);
        if !whole_entries.remainder().is_empty() || whole_entries.len() != count {
            return Err(bad(format!(
                "{count} IPs but {} bytes of entries ({} entries of {ORC_ENTRY_SIZE} bytes expected)",
                unwind_bytes.len(),
                count,
            )));
        }
        // Each s32 is relative to its own address; the kernel adds them
        // modulo 2^64, and so does this.
        let ips: Vec<u64> = read::u32s(ip_bytes)
            .enumerate()
            .map(|(i, rel)| {
                ip_table_addr.wrapping_add((i as u64).wrapping_mul(4)).wrapping_add(rel as i32 as i64 as u64)
            })
            .collect();
        let entries: Vec<[u8; ORC_ENTRY_SIZE]> = read::arrays(unwind_bytes).collect();
        let mut data = OrcData { ips, entries };
        data.ensure_sorted();
        Ok(OrcTable { data: Arc::new(data), format, delta: 0 })
    }

    /// Reads a loaded module's table (`struct module`'s `arch.orc_unwind_ip`,
    /// `arch.orc_unwind`, `arch.num_orcs`) from kernel memory.
    pub fn from_memory(
        ip_table_addr: u64,
        unwind_table_addr: u64,
        count: u64,
        reader: &dyn VirtualMemory,
        format: OrcFormat,
    ) -> Result<Self> {
        if count > MAX_ORC_ENTRIES {
            return Err(bad(format!("implausible entry count {count} (limit {MAX_ORC_ENTRIES})")));
        }
        let count = count as usize;
        let too_big = || bad(format!("entry count {count} overflows"));
        let ip_bytes = reader.read_vec(ip_table_addr, count.checked_mul(4).ok_or_else(too_big)?)?;
        let unwind_bytes =
            reader.read_vec(unwind_table_addr, count.checked_mul(ORC_ENTRY_SIZE).ok_or_else(too_big)?)?;
        Self::from_tables(ip_table_addr, &ip_bytes, &unwind_bytes, format)
    }

    /// The same table shifted by a KASLR delta (vmlinux tables only).
    pub fn with_offset(&self, kaslr_delta: u64) -> Self {
        OrcTable { delta: kaslr_delta, ..self.clone() }
    }

    /// The entry layout of this table.
    pub fn format(&self) -> OrcFormat {
        self.format
    }

    /// The same table decoded with `format`.
    pub fn with_format(&self, format: OrcFormat) -> Self {
        OrcTable { format, ..self.clone() }
    }

    /// Finds the format under which this table is consistent with known
    /// code: at the first instruction of a function (run-time addresses
    /// in `function_starts`) the entry must say "CALL frame, previous SP
    /// is SP + 8" (only the return address is on the stack). The raw
    /// number such entries give `sp_reg` is `ORC_REG_SP`, which tells the
    /// register numbering; their raw type bits tell the flag layout,
    /// unless `flags` (from the types) already did. An error when too few
    /// function starts have entries or they disagree.
    pub fn probe_format(&self, function_starts: &[u64], flags: Option<OrcFlags>) -> Result<OrcProbe> {
        let mut samples = Vec::new();
        for &start in function_starts {
            let link = start.wrapping_sub(self.delta);
            let Ok(idx) = self.data.ips.binary_search(&link) else { continue };
            let Some(raw) = self.data.entries.get(idx) else { continue };
            if i16::from_le_bytes([raw[0], raw[1]]) != 8 {
                continue;
            }
            samples.push([raw[4], raw[5]]);
        }
        if samples.len() < MIN_PROBE_SAMPLES {
            return Err(bad(format!(
                "only {} of {} function entry points have an ORC entry of their own; cannot tell the entry format",
                samples.len(),
                function_starts.len()
            )));
        }
        let mut best: Option<OrcProbe> = None;
        for format in [OrcFormat::BEFORE_6_4, OrcFormat::SINCE_6_4, OrcFormat::SINCE_7] {
            if flags.is_some_and(|f| f != format.flags) {
                continue;
            }
            let agreeing = samples
                .iter()
                .filter(|f| {
                    let e = OrcEntry::decode(0, [8, 0, 0, 0, f[0], f[1]], format);
                    e.sp_reg == OrcReg::Sp && e.kind == OrcType::Call && !e.signal
                })
                .count();
            if best.is_none_or(|b| agreeing > b.agreeing) {
                best = Some(OrcProbe { format, samples: samples.len(), agreeing });
            }
        }
        match best {
            // Most entry points must agree: a few functions start with
            // unusual code (entry stubs), none does in the wrong format.
            Some(p) if p.agreeing.saturating_mul(4) >= p.samples.saturating_mul(3) => Ok(p),
            Some(p) => Err(bad(format!(
                "no known entry format fits: at best {} of {} function entry points decode as CALL frames at SP+8",
                p.agreeing, p.samples
            ))),
            None => Err(bad("no known entry format has the flag layout of this kernel's struct orc_entry")),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.data.ips.len()
    }

    /// True when the table is empty.
    pub fn is_empty(&self) -> bool {
        self.data.ips.is_empty()
    }

    /// Lowest and highest covered run-time addresses (first and last entry).
    pub fn ip_range(&self) -> Option<(u64, u64)> {
        Some((self.data.ips.first()?.wrapping_add(self.delta), self.data.ips.last()?.wrapping_add(self.delta)))
    }

    /// The entry covering run-time address `ip`: the last one starting at
    /// or below it.
    pub fn find(&self, ip: u64) -> Option<OrcEntry> {
        let link_ip = ip.wrapping_sub(self.delta);
        let idx = self.data.ips.partition_point(|&start| start <= link_ip).checked_sub(1)?;
        let start = *self.data.ips.get(idx)?;
        let raw = *self.data.entries.get(idx)?;
        Some(OrcEntry::decode(start.wrapping_add(self.delta), raw, self.format))
    }

    /// All entries in address order.
    pub fn iter(&self) -> impl Iterator<Item = OrcEntry> + '_ {
        self.data
            .ips
            .iter()
            .zip(&self.data.entries)
            .map(|(&ip, &raw)| OrcEntry::decode(ip.wrapping_add(self.delta), raw, self.format))
    }
}

#[cfg(test)]
// Fixtures build known-good tables by hand; overflow and bounds panics are
// test failures here, not input handling.
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_layout() {
        // sp_offset 8, bp_offset 0, sp_reg SP(5), bp_reg UNDEFINED, type CALL
        let legacy_call = [8, 0, 0, 0, 0x05, 0x00];
        let e = OrcEntry::decode(0x1000, legacy_call, OrcFormat::BEFORE_6_4);
        assert_eq!((e.sp_reg, e.sp_offset, e.kind, e.signal), (OrcReg::Sp, 8, OrcType::Call, false));
        let legacy_end = [0, 0, 0, 0, 0x00, 0x04];
        assert_eq!(OrcEntry::decode(0, legacy_end, OrcFormat::BEFORE_6_4).kind, OrcType::EndOfStack);
        let new_call = [8, 0, 0, 0, 0x05, 0x02];
        assert_eq!(OrcEntry::decode(0, new_call, OrcFormat::SINCE_6_4).kind, OrcType::Call);
        let new_regs_signal = [0, 0, 0, 0, 0x05, 0x0b];
        let e = OrcEntry::decode(0, new_regs_signal, OrcFormat::SINCE_6_4);
        assert_eq!((e.kind, e.signal), (OrcType::Regs, true));
        // 7.x: SP is 3, PREV_SP 8 (bp_reg in the high nibble).
        let v7_call = [8, 0, 0xf0, 0xff, 0x83, 0x02];
        let e = OrcEntry::decode(0, v7_call, OrcFormat::SINCE_7);
        assert_eq!((e.sp_reg, e.bp_reg, e.kind), (OrcReg::Sp, OrcReg::PrevSp, OrcType::Call));
        // The same bytes under the classic numbering: DI and BP_INDIRECT.
        let e = OrcEntry::decode(0, v7_call, OrcFormat::SINCE_6_4);
        assert_eq!((e.sp_reg, e.bp_reg), (OrcReg::Di, OrcReg::BpIndirect));
        assert_eq!(OrcEntry::decode(0, [0, 0, 0, 0, 0x0f, 0x02], OrcFormat::SINCE_7).sp_reg, OrcReg::Unknown(15));
    }

    #[test]
    fn register_numberings_are_one_table_each() {
        for regs in [OrcRegs::Classic, OrcRegs::Renumbered] {
            for (raw, reg) in regs.table().iter().enumerate() {
                assert_eq!(regs.decode(raw as u8), *reg);
                assert_eq!(regs.raw(*reg), Some(raw as u8));
            }
        }
        assert_eq!(OrcRegs::Classic.raw(OrcReg::Sp), Some(5));
        assert_eq!(OrcRegs::Renumbered.raw(OrcReg::Sp), Some(3));
        assert_eq!(OrcRegs::Classic.raw(OrcReg::Ax), None);
    }

    /// A table of `n` functions 0x100 apart from 0x1000, each with an entry
    /// at its first instruction (SP+8) and one inside (SP+16), both with
    /// `flags`; returns it and the functions' start addresses.
    fn table_of_functions(n: u64, flags: u16) -> (OrcTable, Vec<u64>) {
        let table_addr = 0x100u64;
        let (mut ips, mut unwind, mut starts) = (Vec::new(), Vec::new(), Vec::new());
        for f in 0..n {
            for (k, sp_off) in [8i16, 16].into_iter().enumerate() {
                let at = 0x1000 + f * 0x100 + k as u64 * 0x10;
                let slot = table_addr + ips.len() as u64;
                ips.extend_from_slice(&(at.wrapping_sub(slot) as i32).to_le_bytes());
                unwind.extend_from_slice(&sp_off.to_le_bytes());
                unwind.extend_from_slice(&[0, 0]);
                unwind.extend_from_slice(&flags.to_le_bytes());
            }
            starts.push(0x1000 + f * 0x100);
        }
        (OrcTable::from_tables(table_addr, &ips, &unwind, OrcFormat::BEFORE_6_4).unwrap(), starts)
    }

    #[test]
    fn probe_tells_each_format_from_function_entries() {
        for (format, flags) in
            [(OrcFormat::BEFORE_6_4, 0x0005u16), (OrcFormat::SINCE_6_4, 0x0205), (OrcFormat::SINCE_7, 0x0203)]
        {
            let (t, starts) = table_of_functions(20, flags);
            let p = t.probe_format(&starts, None).unwrap();
            assert_eq!((p.format, p.samples, p.agreeing), (format, 20, 20), "{flags:#x}");
            // The types' flag layout narrows the choice; a contradiction fails.
            assert_eq!(t.probe_format(&starts, Some(format.flags)).unwrap().format, format);
            let other = if format.flags == OrcFlags::TypeEnd { OrcFlags::TypeSignal } else { OrcFlags::TypeEnd };
            assert!(t.probe_format(&starts, Some(other)).is_err(), "{flags:#x}");
        }
        // Too few entry points, and garbage, are errors.
        let (t, starts) = table_of_functions(3, 0x0205);
        assert!(t.probe_format(&starts, None).is_err());
        let (t, starts) = table_of_functions(20, 0x07f7);
        assert!(t.probe_format(&starts, None).is_err());
    }

    /// A provider holding one `struct orc_entry` of the given members.
    struct OneStruct(Vec<Type>);

    impl TypeProvider for OneStruct {
        fn type_by_id(&self, id: crate::types::TypeId) -> Result<Type> {
            self.0.get(id.0 as usize).cloned().ok_or_else(|| Error::NotFound("type".into()))
        }
        fn find_types(&self, kind: TypeKind, name: &str) -> Result<Vec<crate::types::TypeId>> {
            Ok(self
                .0
                .iter()
                .enumerate()
                .filter(|(_, t)| kind == TypeKind::Struct && t.name() == Some(name))
                .map(|(i, _)| crate::types::TypeId(i as u64))
                .collect())
        }
        fn find_variable(&self, _: &str) -> Result<Option<crate::types::Variable>> {
            Ok(None)
        }
        fn find_function(&self, _: &str) -> Result<Option<crate::types::TypeId>> {
            Ok(None)
        }
    }

    fn orc_entry_type(last: &[(&str, u64, u32)]) -> OneStruct {
        use crate::types::{Composite, IntKind, Member, TypeId};
        let bits = |(name, at, w): (&str, u64, u32)| Member {
            name: Some(name.into()),
            ty: TypeId(1),
            bit_offset: at,
            bitfield_size: Some(w),
        };
        let members =
            [("sp_reg", 32, 4), ("bp_reg", 36, 4)].into_iter().chain(last.iter().copied()).map(bits).collect();
        OneStruct(vec![
            Type::Void,
            Type::Int { name: "unsigned int".into(), size: 4, signed: false, kind: IntKind::Plain },
            Type::Struct(Composite { name: Some("orc_entry".into()), size: 6, members }),
        ])
    }

    #[test]
    fn flags_from_the_types_of_struct_orc_entry() {
        let new = orc_entry_type(&[("type", 40, 3), ("signal", 43, 1)]);
        assert_eq!(OrcFlags::from_types(&new).unwrap(), Some(OrcFlags::TypeSignal));
        let old = orc_entry_type(&[("type", 40, 2), ("end", 42, 1)]);
        assert_eq!(OrcFlags::from_types(&old).unwrap(), Some(OrcFlags::TypeEnd));
        let odd = orc_entry_type(&[("type", 40, 4), ("signal", 44, 1)]);
        assert!(OrcFlags::from_types(&odd).is_err());
        assert_eq!(OrcFlags::from_types(&OneStruct(vec![Type::Void])).unwrap(), None);
    }

    #[test]
    fn mismatched_counts_and_absurd_sizes_are_errors() {
        let ips = [0u8; 8]; // two IPs
        for unwind_len in [0, 6, 11, 13, 18] {
            let unwind = vec![0u8; unwind_len];
            assert!(OrcTable::from_tables(0, &ips, &unwind, OrcFormat::BEFORE_6_4).is_err(), "{unwind_len}");
        }
        assert!(OrcTable::from_tables(0, &ips[..7], &[0; 6], OrcFormat::BEFORE_6_4).is_err());

        struct Unmapped;
        impl VirtualMemory for Unmapped {
            fn read_virt(&self, addr: u64, _buf: &mut [u8]) -> Result<()> {
                Err(krash_core::memory::not_mapped(addr))
            }
        }
        for count in [u64::MAX, MAX_ORC_ENTRIES + 1, 1] {
            assert!(OrcTable::from_memory(0, 0, count, &Unmapped, OrcFormat::SINCE_6_4).is_err(), "{count}");
        }
    }

    #[test]
    fn ips_wrap_around_the_address_space() {
        // At the very top of the address space, relative IPs wrap modulo
        // 2^64 as the kernel computes them, and the table is re-sorted.
        let mut ips = Vec::new();
        ips.extend_from_slice(&i32::MAX.to_le_bytes());
        ips.extend_from_slice(&i32::MIN.to_le_bytes());
        let t = OrcTable::from_tables(u64::MAX - 3, &ips, &[0; 12], OrcFormat::BEFORE_6_4).unwrap();
        assert_eq!(t.ip_range(), Some((0x7fff_fffb, 0xffff_ffff_8000_0000)));
        assert_eq!(t.with_offset(u64::MAX).find(0x7fff_fffa).map(|e| e.ip), Some(0x7fff_fffa));
    }

    #[test]
    fn lookup_uses_relative_ips_and_sorts() {
        // Table at 0x100: entries for 0x200 (rel 0x100 at 0x100) and 0x180 (rel 0x7c at 0x104).
        let mut ips = Vec::new();
        ips.extend_from_slice(&0x100i32.to_le_bytes());
        ips.extend_from_slice(&0x7ci32.to_le_bytes());
        let unwind = [[16u8, 0, 0, 0, 0x05, 0x00], [8, 0, 0, 0, 0x05, 0x00]].concat();
        let t = OrcTable::from_tables(0x100, &ips, &unwind, OrcFormat::BEFORE_6_4).unwrap();
        assert_eq!(t.find(0x190).unwrap().sp_offset, 8);
        assert_eq!(t.find(0x250).unwrap().sp_offset, 16);
        assert!(t.find(0x10).is_none());
        assert_eq!(t.with_offset(0x1000).find(0x1190).unwrap().ip, 0x1180);
        assert!(OrcTable::from_tables(0, &ips, &unwind[..6], OrcFormat::BEFORE_6_4).is_err());
    }
}
