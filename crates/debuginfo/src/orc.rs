//! ORC unwind tables (x86-64): a sorted table of code addresses and, for
//! each, how to find the caller's stack and frame pointers.
//!
//! Two on-disk layouts exist. Up to 6.3 the 16-bit flags word holds a
//! 2-bit type (CALL/REGS/REGS_PARTIAL) and an `end` bit; from 6.4 on it
//! holds a 3-bit type (UNDEFINED/END_OF_STACK/CALL/REGS/REGS_PARTIAL) and
//! an explicit `signal` bit, and vmlinux gains an `.orc_header` section.
//! Both decode into the same [`OrcEntry`].

use std::sync::Arc;

use krash_core::{Error, Result, VirtualMemory};

use crate::elf::elf_sections;
use crate::read;

/// Size of one `struct orc_entry` on disk.
const ORC_ENTRY_SIZE: usize = 6;
/// More entries than any kernel or module has; bounds reads from a dump.
const MAX_ORC_ENTRIES: u64 = 8 << 20;

/// Which `struct orc_entry` bit layout a table uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrcFormat {
    /// Kernels before 6.4: `type:2, end:1`.
    Legacy,
    /// 6.4 and later: `type:3, signal:1` (vmlinux has `.orc_header`).
    V6_4,
}

impl OrcFormat {
    /// The layout a kernel release (`uname -r`, e.g. `6.1.0-56-cloud-amd64`)
    /// uses, for module tables read from memory; `None` when the string
    /// does not start with `MAJOR.MINOR`.
    pub fn for_kernel_release(release: &str) -> Option<OrcFormat> {
        let mut parts = release.split(|c: char| !c.is_ascii_digit());
        let major: u32 = parts.next()?.parse().ok()?;
        let minor: u32 = parts.next()?.parse().ok()?;
        Some(if (major, minor) >= (6, 4) { OrcFormat::V6_4 } else { OrcFormat::Legacy })
    }
}

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

impl OrcReg {
    fn from_raw(raw: u8) -> Self {
        match raw {
            0 => OrcReg::Undefined,
            1 => OrcReg::PrevSp,
            2 => OrcReg::Dx,
            3 => OrcReg::Di,
            4 => OrcReg::Bp,
            5 => OrcReg::Sp,
            6 => OrcReg::R10,
            7 => OrcReg::R13,
            8 => OrcReg::BpIndirect,
            9 => OrcReg::SpIndirect,
            other => OrcReg::Unknown(other),
        }
    }
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
        let sp_reg = OrcReg::from_raw((flags & 0xf) as u8);
        let bp_reg = OrcReg::from_raw(((flags >> 4) & 0xf) as u8);
        let (kind, signal) = match format {
            OrcFormat::Legacy => {
                let end = (flags >> 10) & 1 == 1;
                let kind = if end {
                    OrcType::EndOfStack
                } else if sp_reg == OrcReg::Undefined {
                    OrcType::Undefined
                } else {
                    match (flags >> 8) & 3 {
                        0 => OrcType::Call,
                        1 => OrcType::Regs,
                        2 => OrcType::RegsPartial,
                        other => OrcType::Unknown(other as u8),
                    }
                };
                // Before 6.4, register frames were exactly the signal frames.
                (kind, matches!(kind, OrcType::Regs | OrcType::RegsPartial))
            }
            OrcFormat::V6_4 => {
                let kind = match (flags >> 8) & 7 {
                    0 => OrcType::Undefined,
                    1 => OrcType::EndOfStack,
                    2 => OrcType::Call,
                    3 => OrcType::Regs,
                    4 => OrcType::RegsPartial,
                    other => OrcType::Unknown(other as u8),
                };
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
    /// Reads `.orc_unwind_ip`/`.orc_unwind` from a vmlinux (or module) ELF;
    /// the layout is 6.4+ when `.orc_header` is present.
    pub fn from_vmlinux(elf_bytes: &[u8]) -> Result<Self> {
        let sections = elf_sections(elf_bytes)?;
        let find = |name: &str| sections.iter().find(|(n, _)| *n == name).map(|(_, s)| *s);
        let ip_section =
            find(".orc_unwind_ip").ok_or_else(|| Error::MissingDebuginfo("no .orc_unwind_ip section".into()))?;
        let unwind = find(".orc_unwind").ok_or_else(|| Error::MissingDebuginfo("no .orc_unwind section".into()))?;
        let format = if find(".orc_header").is_some() { OrcFormat::V6_4 } else { OrcFormat::Legacy };
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
    fn decodes_both_layouts() {
        // sp_offset 8, bp_offset 0, sp_reg SP(5), bp_reg UNDEFINED, type CALL
        let legacy_call = [8, 0, 0, 0, 0x05, 0x00];
        let e = OrcEntry::decode(0x1000, legacy_call, OrcFormat::Legacy);
        assert_eq!((e.sp_reg, e.sp_offset, e.kind, e.signal), (OrcReg::Sp, 8, OrcType::Call, false));
        let legacy_end = [0, 0, 0, 0, 0x00, 0x04];
        assert_eq!(OrcEntry::decode(0, legacy_end, OrcFormat::Legacy).kind, OrcType::EndOfStack);
        let new_call = [8, 0, 0, 0, 0x05, 0x02];
        assert_eq!(OrcEntry::decode(0, new_call, OrcFormat::V6_4).kind, OrcType::Call);
        let new_regs_signal = [0, 0, 0, 0, 0x05, 0x0b];
        let e = OrcEntry::decode(0, new_regs_signal, OrcFormat::V6_4);
        assert_eq!((e.kind, e.signal), (OrcType::Regs, true));
    }

    #[test]
    fn format_from_release() {
        assert_eq!(OrcFormat::for_kernel_release("6.1.0-56-cloud-amd64"), Some(OrcFormat::Legacy));
        assert_eq!(OrcFormat::for_kernel_release("6.12.117+deb12-cloud-amd64"), Some(OrcFormat::V6_4));
        assert_eq!(OrcFormat::for_kernel_release("5.15.0"), Some(OrcFormat::Legacy));
        assert_eq!(OrcFormat::for_kernel_release("banana"), None);
    }

    #[test]
    fn mismatched_counts_and_absurd_sizes_are_errors() {
        let ips = [0u8; 8]; // two IPs
        for unwind_len in [0, 6, 11, 13, 18] {
            let unwind = vec![0u8; unwind_len];
            assert!(OrcTable::from_tables(0, &ips, &unwind, OrcFormat::Legacy).is_err(), "{unwind_len}");
        }
        assert!(OrcTable::from_tables(0, &ips[..7], &[0; 6], OrcFormat::Legacy).is_err());

        struct Unmapped;
        impl VirtualMemory for Unmapped {
            fn read_virt(&self, addr: u64, _buf: &mut [u8]) -> Result<()> {
                Err(krash_core::memory::not_mapped(addr))
            }
        }
        for count in [u64::MAX, MAX_ORC_ENTRIES + 1, 1] {
            assert!(OrcTable::from_memory(0, 0, count, &Unmapped, OrcFormat::V6_4).is_err(), "{count}");
        }
    }

    #[test]
    fn ips_wrap_around_the_address_space() {
        // At the very top of the address space, relative IPs wrap modulo
        // 2^64 as the kernel computes them, and the table is re-sorted.
        let mut ips = Vec::new();
        ips.extend_from_slice(&i32::MAX.to_le_bytes());
        ips.extend_from_slice(&i32::MIN.to_le_bytes());
        let t = OrcTable::from_tables(u64::MAX - 3, &ips, &[0; 12], OrcFormat::Legacy).unwrap();
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
        let t = OrcTable::from_tables(0x100, &ips, &unwind, OrcFormat::Legacy).unwrap();
        assert_eq!(t.find(0x190).unwrap().sp_offset, 8);
        assert_eq!(t.find(0x250).unwrap().sp_offset, 16);
        assert!(t.find(0x10).is_none());
        assert_eq!(t.with_offset(0x1000).find(0x1190).unwrap().ip, 0x1180);
        assert!(OrcTable::from_tables(0, &ips, &unwind[..6], OrcFormat::Legacy).is_err());
    }
}
