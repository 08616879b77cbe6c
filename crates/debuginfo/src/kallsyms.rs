//! Symbol tables recovered from kernel memory: the kernel image's
//! compressed kallsyms tables, and each module's `mod_kallsyms` ELF
//! symbol array.
//!
//! Image kallsyms store names as runs of token indices (a 256-entry token
//! table shared by all names); the first decoded character is the `nm`
//! type letter. Addresses are 32-bit offsets from `kallsyms_relative_base`;
//! with `CONFIG_KALLSYMS_ABSOLUTE_PERCPU` a non-negative offset is an
//! absolute (per-cpu) value and a negative one is `base - 1 - offset`.
//! Kernels after 6.12 (7.2 checked; `scripts/kallsyms --pc-relative`) have
//! no `kallsyms_relative_base`: each offset is relative to its own place in
//! `kallsyms_offsets` (the kernel's `offset_to_ptr`).
//!
//! The whole table is decoded in one pass, so `kallsyms_markers` and
//! `kallsyms_seqs_of_names` (6.2+, also in Debian's 6.1), which only speed
//! up the kernel's own single lookups, are not needed. Checked on 6.1 and
//! 6.12: the type letter is still the first decoded character, and names
//! longer than 127 tokens use the two-byte length prefix.

use krash_core::{Error, Result, VirtualMemory};

use crate::read;
use crate::symbols::{SymbolTable, SymbolTableBuilder};

/// Largest symbol count believed (vmlinux has ~200k).
pub(crate) const MAX_KALLSYMS: u32 = 4 << 20;
/// Bytes of compressed names read per chunk while decoding.
const NAMES_CHUNK: usize = 64 << 10;
/// Longest encoded name (KSYM_NAME_LEN is 512 since 6.1).
const MAX_ENCODED_NAME: usize = 0x4000;

/// How kallsyms offsets become addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KallsymsAddressing {
    /// Decide from the data: any negative offset means absolute-percpu.
    Auto,
    /// `CONFIG_KALLSYMS_ABSOLUTE_PERCPU=y` (x86-64 SMP before 6.15).
    AbsolutePercpu,
    /// Every offset is an unsigned distance from the relative base.
    Relative,
}

/// Where the kallsyms tables are (from vmcoreinfo `SYMBOL(kallsyms_*)`
/// entries, a symbol table, or [`crate::kallsyms_scan`]), as run-time addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KallsymsLocation {
    pub num_syms: u64,
    pub names: u64,
    pub token_table: u64,
    pub token_index: u64,
    pub offsets: u64,
    /// `kallsyms_relative_base`; `None` where offsets are relative to
    /// their own address (no such table: kernels after 6.12).
    pub relative_base: Option<u64>,
    /// How offsets from `relative_base` become addresses (unused without one).
    pub addressing: KallsymsAddressing,
}

impl KallsymsLocation {
    /// Takes each table's address from a symbol table (e.g. a vmlinux
    /// `.symtab` view already shifted by the KASLR delta).
    pub fn from_symbols(symbols: &SymbolTable) -> Result<Self> {
        Self::from_lookup(|name| symbols.by_name(name).map(|s| s.addr), "the symbol table")
    }

    /// Locates the tables through any name-to-address lookup (a symbol
    /// table, a dump's VMCOREINFO `SYMBOL()` entries); `source` names the
    /// lookup in the error for a missing table. No `kallsyms_relative_base`
    /// means offsets relative to their own address (kernels after 6.12
    /// have none, and their VMCOREINFO exports the other five).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<u64>, source: &str) -> Result<Self> {
        let addr = |name: &str| lookup(name).ok_or_else(|| Error::MissingDebuginfo(format!("{source} has no {name}")));
        Ok(KallsymsLocation {
            num_syms: addr("kallsyms_num_syms")?,
            names: addr("kallsyms_names")?,
            token_table: addr("kallsyms_token_table")?,
            token_index: addr("kallsyms_token_index")?,
            offsets: addr("kallsyms_offsets")?,
            relative_base: lookup("kallsyms_relative_base"),
            addressing: KallsymsAddressing::Auto,
        })
    }
}

/// How a table's 32-bit offsets become addresses: decided once per table
/// (absolute per-cpu or not), then applied to each entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OffsetDecoding {
    /// `base + (u32)offset`.
    Relative { base: u64 },
    /// Non-negative: the value itself; negative: `base - 1 - offset`.
    AbsolutePercpu { base: u64 },
    /// `&kallsyms_offsets[i] + (i32)offset`, with the table at `table`.
    PcRelative { table: u64 },
}

impl OffsetDecoding {
    /// The decoding for `offsets` read from `loc` (`base` is the value of
    /// `kallsyms_relative_base`, when the kernel has one).
    pub(crate) fn new(loc: &KallsymsLocation, base: Option<u64>, offsets: &[i32]) -> Self {
        match base {
            None => OffsetDecoding::PcRelative { table: loc.offsets },
            Some(base) => {
                let absolute_percpu = match loc.addressing {
                    KallsymsAddressing::AbsolutePercpu => true,
                    KallsymsAddressing::Relative => false,
                    KallsymsAddressing::Auto => offsets.iter().any(|&o| o < 0),
                };
                if absolute_percpu {
                    OffsetDecoding::AbsolutePercpu { base }
                } else {
                    OffsetDecoding::Relative { base }
                }
            }
        }
    }

    /// The address of entry `index`, whose offset is `offset`.
    pub(crate) fn address(self, index: usize, offset: i32) -> u64 {
        match self {
            OffsetDecoding::Relative { base } => base.wrapping_add(offset as u32 as u64),
            OffsetDecoding::AbsolutePercpu { .. } if offset >= 0 => offset as u64,
            OffsetDecoding::AbsolutePercpu { base } => base.wrapping_sub(1).wrapping_sub(offset as i64 as u64),
            OffsetDecoding::PcRelative { table } => {
                table.wrapping_add((index as u64).wrapping_mul(4)).wrapping_add(offset as i64 as u64)
            }
        }
    }
}

fn bad(detail: impl Into<String>) -> Error {
    Error::bad_data("kallsyms", detail)
}

/// The 256 tokens names are built from.
struct TokenTable {
    tokens: Vec<Vec<u8>>,
}

impl TokenTable {
    fn read(loc: &KallsymsLocation, mem: &dyn VirtualMemory) -> Result<Self> {
        let index_bytes = mem.read_vec(loc.token_index, 256 * 2)?;
        let starts: Vec<usize> = read::u16s(&index_bytes).map(usize::from).collect();
        // The last token starts at most 64 KiB in and is far shorter than 256 bytes.
        let last_start = starts.iter().copied().max().unwrap_or(0);
        let table_len = last_start.checked_add(256).ok_or_else(|| bad("token table too large"))?;
        let table = read_prefix(mem, loc.token_table, table_len)?;
        let mut tokens = Vec::with_capacity(256);
        for (i, &start) in starts.iter().enumerate() {
            let tail = table.get(start..).ok_or_else(|| bad(format!("token {i} starts outside the token table")))?;
            let token = read::cstr(tail).ok_or_else(|| bad(format!("token {i} is not terminated")))?;
            tokens.push(token.to_vec());
        }
        Ok(TokenTable { tokens })
    }
}

/// Reads up to `len` bytes, settling for fewer when the tail is unreadable
/// (a table near the end of a mapped region).
fn read_prefix(mem: &dyn VirtualMemory, addr: u64, len: usize) -> Result<Vec<u8>> {
    match mem.read_vec(addr, len) {
        Ok(v) => Ok(v),
        Err(first) => {
            let mut out = Vec::new();
            let mut at = addr;
            while let Some(wanted) = len.checked_sub(out.len()).filter(|&n| n > 0) {
                let n = bytes_to_page_end(at).min(wanted);
                match mem.read_vec(at, n) {
                    Ok(chunk) => out.extend_from_slice(&chunk),
                    Err(_) if !out.is_empty() => break,
                    Err(_) => return Err(first),
                }
                at = at.wrapping_add(n as u64);
            }
            Ok(out)
        }
    }
}

/// Bytes from `addr` to the end of its 4 KiB page (1 to 0x1000).
pub(crate) fn bytes_to_page_end(addr: u64) -> usize {
    // `addr & 0xfff` is at most 0xfff, so this is 1..=0x1000 and cannot underflow.
    #[allow(clippy::arithmetic_side_effects)]
    let n = 0x1000 - (addr & 0xfff);
    n as usize
}

/// A sequential reader over the compressed names stream.
struct NameStream<'m> {
    mem: &'m dyn VirtualMemory,
    next_addr: u64,
    /// The unread rest of the current chunk.
    buf: std::vec::IntoIter<u8>,
}

impl NameStream<'_> {
    fn byte(&mut self) -> Result<u8> {
        if let Some(b) = self.buf.next() {
            return Ok(b);
        }
        let chunk = read_prefix(self.mem, self.next_addr, NAMES_CHUNK)?;
        self.next_addr = self.next_addr.wrapping_add(chunk.len() as u64);
        self.buf = chunk.into_iter();
        self.buf.next().ok_or_else(|| bad("names stream ends early"))
    }

    /// One name's token indices; lengths >= 0x80 take a second byte (6.1+
    /// "big symbol" encoding).
    fn next_name(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let first = self.byte()? as usize;
        let len = if first & 0x80 != 0 { (first & 0x7f) | ((self.byte()? as usize) << 7) } else { first };
        if len > MAX_ENCODED_NAME {
            return Err(bad(format!("encoded name of {len} tokens")));
        }
        out.clear();
        for _ in 0..len {
            out.push(self.byte()?);
        }
        Ok(())
    }
}

/// Decodes the kernel image's kallsyms into a symbol table (run-time
/// addresses, no sizes, `nm` type letters).
pub fn read_kallsyms(loc: &KallsymsLocation, mem: &dyn VirtualMemory) -> Result<SymbolTable> {
    let count = mem.read_u32(loc.num_syms)?;
    if count == 0 || count > MAX_KALLSYMS {
        return Err(bad(format!("implausible kallsyms_num_syms {count}")));
    }
    let count = count as usize;
    let tokens = TokenTable::read(loc, mem)?;
    let offsets_len = count.checked_mul(4).ok_or_else(|| bad(format!("{count} offsets overflow")))?;
    let offsets = mem.read_vec(loc.offsets, offsets_len)?;
    let offsets: Vec<i32> = read::u32s(&offsets).map(|o| o as i32).collect();
    let base = match loc.relative_base {
        Some(at) => Some(mem.read_u64(at)?),
        None => None,
    };
    let decoding = OffsetDecoding::new(loc, base, &offsets);

    let mut stream = NameStream { mem, next_addr: loc.names, buf: Vec::new().into_iter() };
    let mut builder = SymbolTableBuilder::new(None);
    // A capacity hint: clamping it loses nothing.
    builder.reserve(count, count.saturating_mul(24));
    let mut encoded = Vec::new();
    let mut name = Vec::new();
    for (i, &offset) in offsets.iter().enumerate() {
        stream.next_name(&mut encoded).map_err(|e| bad(format!("symbol {i}: {e}")))?;
        name.clear();
        for &t in &encoded {
            let token = tokens.tokens.get(t as usize).ok_or_else(|| bad(format!("symbol {i}: token {t} missing")))?;
            name.extend_from_slice(token);
        }
        let Some((&kind, rest)) = name.split_first() else {
            continue;
        };
        let addr = decoding.address(i, offset);
        let text = String::from_utf8_lossy(rest);
        builder.push(&text, addr, 0, kind as char)?;
    }
    Ok(builder.build())
}

/// Where a loaded module's `mod_kallsyms` lives (`module->kallsyms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleKallsymsLocation {
    /// `kallsyms->symtab`: an array of `Elf64_Sym`.
    pub symtab: u64,
    /// `kallsyms->num_symtab`.
    pub num_symtab: u64,
    /// `kallsyms->strtab`.
    pub strtab: u64,
    /// `kallsyms->typetab` (5.x+); older kernels keep the letter in `st_info`.
    pub typetab: Option<u64>,
}

/// Size of an `Elf64_Sym`.
const ELF64_SYM_SIZE: usize = 24;
/// More symbols than any module has.
const MAX_MODULE_SYMBOLS: u64 = 1 << 20;
/// Longest symbol name read from a module's string table.
const MAX_MODULE_NAME: usize = 512;
/// Most of a module's string table read in one piece (real ones are well
/// under 1 MiB); names past it are read one by one.
const MAX_MODULE_STRTAB: usize = 16 << 20;

/// Reads one loaded module's symbols from memory into a table named
/// after the module.
pub fn read_module_kallsyms(
    module_name: &str,
    loc: &ModuleKallsymsLocation,
    mem: &dyn VirtualMemory,
) -> Result<SymbolTable> {
    if loc.num_symtab > MAX_MODULE_SYMBOLS {
        return Err(bad(format!("module {module_name}: implausible num_symtab {}", loc.num_symtab)));
    }
    let count = loc.num_symtab as usize;
    let syms_len =
        count.checked_mul(ELF64_SYM_SIZE).ok_or_else(|| bad(format!("module {module_name}: symtab size")))?;
    let syms = mem.read_vec(loc.symtab, syms_len)?;
    let types = match loc.typetab {
        Some(addr) => Some(mem.read_vec(addr, count)?),
        None => None,
    };
    let syms: Vec<ElfSym> = read::arrays::<ELF64_SYM_SIZE>(&syms).map(ElfSym::decode).collect();
    // One read covers every name unless an offset is corrupt (a huge
    // st_name must not turn into a multi-GiB read).
    let max_name = syms.iter().map(|s| s.name_off as usize).max().unwrap_or(0);
    let strings = read_prefix(mem, loc.strtab, max_name.saturating_add(MAX_MODULE_NAME).min(MAX_MODULE_STRTAB))?;

    let mut builder = SymbolTableBuilder::new(Some(module_name));
    // A capacity hint: clamping it loses nothing.
    builder.reserve(count, count.saturating_mul(24));
    for (i, sym) in syms.iter().enumerate() {
        let ElfSym { name_off, st_info, value, size } = *sym;
        if name_off == 0 {
            continue;
        }
        let name = match strings.get(name_off as usize..) {
            Some(tail) => {
                let tail = tail.get(..MAX_MODULE_NAME).unwrap_or(tail);
                let name = read::cstr(tail).unwrap_or(tail);
                String::from_utf8_lossy(name).into_owned()
            }
            None => mem.read_cstr(loc.strtab.wrapping_add(name_off as u64), MAX_MODULE_NAME)?,
        };
        if name.is_empty() {
            continue;
        }
        let kind = match &types {
            Some(t) => t.get(i).copied().unwrap_or(b'?'),
            None => st_info,
        };
        let kind = if kind.is_ascii_graphic() { kind as char } else { '?' };
        builder.push(&name, value, size, kind)?;
    }
    Ok(builder.build())
}

/// The fields of an `Elf64_Sym` a module symbol table needs.
#[derive(Debug, Clone, Copy)]
struct ElfSym {
    name_off: u32,
    st_info: u8,
    value: u64,
    size: u64,
}

impl ElfSym {
    fn decode(raw: [u8; ELF64_SYM_SIZE]) -> Self {
        let [n0, n1, n2, n3, st_info, _other, _shndx @ .., v0, v1, v2, v3, v4, v5, v6, v7, s0, s1, s2, s3, s4, s5, s6, s7] =
            raw;
        ElfSym {
            name_off: u32::from_le_bytes([n0, n1, n2, n3]),
            st_info,
            value: u64::from_le_bytes([v0, v1, v2, v3, v4, v5, v6, v7]),
            size: u64::from_le_bytes([s0, s1, s2, s3, s4, s5, s6, s7]),
        }
    }
}

#[cfg(test)]
// Fixtures lay out known-good tables by hand; overflow and bounds panics
// are test failures here, not input handling.
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use krash_core::memory::BytesAt;

    /// Two symbols in 0x2000 bytes at 0x1000 (see `decodes_synthetic_tables`).
    fn synthetic() -> (Vec<u8>, KallsymsLocation) {
        // Tokens: 0 = "T", 1 = "t", 2 = "foo", 3 = "bar", others empty.
        let base = 0x1000u64;
        let mut bytes = vec![0u8; 0x2000];
        let put = |bytes: &mut Vec<u8>, at: usize, data: &[u8]| bytes[at..at + data.len()].copy_from_slice(data);
        put(&mut bytes, 0x0, &2u32.to_le_bytes()); // num_syms
        put(&mut bytes, 0x10, &[2, 0, 2, 2, 1, 3]); // names: "Tfoo", "tbar"
        put(&mut bytes, 0x100, b"T\0t\0foo\0bar\0\0");
        let mut index = vec![0u8; 512];
        for (i, off) in [0u16, 2, 4, 8].iter().enumerate() {
            index[2 * i..2 * i + 2].copy_from_slice(&off.to_le_bytes());
        }
        for i in 4..256 {
            index[2 * i..2 * i + 2].copy_from_slice(&12u16.to_le_bytes());
        }
        put(&mut bytes, 0x200, &index);
        put(&mut bytes, 0x400, &(-1i32).to_le_bytes()); // base - 1 - (-1) = base
        put(&mut bytes, 0x404, &(-0x11i32).to_le_bytes()); // base + 0x10
        put(&mut bytes, 0x500, &0xffff_ffff_8100_0000u64.to_le_bytes());
        let loc = KallsymsLocation {
            num_syms: base,
            names: base + 0x10,
            token_table: base + 0x100,
            token_index: base + 0x200,
            offsets: base + 0x400,
            relative_base: Some(base + 0x500),
            addressing: KallsymsAddressing::Auto,
        };
        (bytes, loc)
    }

    #[test]
    fn decodes_synthetic_tables() {
        let (bytes, loc) = synthetic();
        let mem = BytesAt { base: 0x1000, bytes };
        let table = read_kallsyms(&loc, &mem).unwrap();
        let foo = table.by_name("foo").unwrap();
        assert_eq!((foo.addr, foo.kind), (0xffff_ffff_8100_0000, 'T'));
        assert_eq!(table.by_name("bar").unwrap().addr, 0xffff_ffff_8100_0010);
    }

    #[test]
    fn no_relative_base_means_self_relative_offsets() {
        // 7.2's VMCOREINFO names five tables: no kallsyms_relative_base.
        let loc = KallsymsLocation::from_lookup(|n| (n != "kallsyms_relative_base").then_some(0x1000), "x").unwrap();
        assert_eq!(loc.relative_base, None);
        let decoding = OffsetDecoding::new(&loc, None, &[]);
        // Entry 2 sits at 0x1008; -8 from there is the table's start.
        assert_eq!(decoding.address(2, -8), 0x1000);
        assert_eq!(decoding.address(0, 0x10), 0x1010);
        let err = KallsymsLocation::from_lookup(|n| (n != "kallsyms_names").then_some(0x1000), "VMCOREINFO");
        assert!(err.unwrap_err().to_string().contains("VMCOREINFO has no kallsyms_names"));
    }

    #[test]
    fn tables_pointing_past_their_ends_are_errors() {
        let corrupt = |patch: &dyn Fn(&mut Vec<u8>, &mut KallsymsLocation)| {
            let (mut bytes, mut loc) = synthetic();
            patch(&mut bytes, &mut loc);
            read_kallsyms(&loc, &BytesAt { base: 0x1000, bytes })
        };
        // A token starting past the end of the token table (and of memory).
        assert!(corrupt(&|b, _| b[0x200..0x202].copy_from_slice(&0xffffu16.to_le_bytes())).is_err());
        // A token with no terminator before memory ends.
        assert!(corrupt(&|b, _| {
            let end = b.len();
            b[0x200..0x202].copy_from_slice(&((end - 0x100 - 4) as u16).to_le_bytes());
            b[end - 4..].fill(b'x');
        })
        .is_err());
        // More symbols than the offsets table (and memory) holds.
        assert!(corrupt(&|b, _| b[0..4].copy_from_slice(&(MAX_KALLSYMS).to_le_bytes())).is_err());
        assert!(corrupt(&|b, _| b[0..4].copy_from_slice(&u32::MAX.to_le_bytes())).is_err());
        // A name running past the end of the names stream.
        assert!(corrupt(&|b, loc| {
            let end = b.len();
            b[end - 1] = 0x7f;
            loc.names = 0x1000 + end as u64 - 1;
        })
        .is_err());
        // A two-byte name length beyond any real name.
        assert!(corrupt(&|b, _| b[0x10..0x12].copy_from_slice(&[0xff, 0xff])).is_err());
        // A token index beyond the 256 tokens cannot occur (u8), but the
        // offsets table may sit at the very end of the address space.
        assert!(corrupt(&|_, loc| loc.offsets = u64::MAX - 3).is_err());
    }

    /// Zeros everywhere except `flat`, counting the bytes read.
    struct ZerosAround {
        flat: BytesAt<Vec<u8>>,
        bytes_read: std::sync::atomic::AtomicUsize,
    }

    impl VirtualMemory for ZerosAround {
        fn read_virt(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
            self.bytes_read.fetch_add(buf.len(), std::sync::atomic::Ordering::Relaxed);
            if self.flat.read_virt(addr, buf).is_err() {
                buf.fill(0);
            }
            Ok(())
        }
    }

    #[test]
    fn corrupt_module_name_offset_reads_a_bounded_string_table() {
        // One symbol whose st_name is 4 GiB into the string table, in
        // memory that reads (as zeros) everywhere: the string table read
        // used to grow to the whole 4 GiB, page by page.
        let mut sym = vec![0u8; ELF64_SYM_SIZE];
        sym[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        let mem = ZerosAround { flat: BytesAt { base: 0x10_0000, bytes: sym }, bytes_read: Default::default() };
        let loc = ModuleKallsymsLocation { symtab: 0x10_0000, num_symtab: 1, strtab: 0x20_0000, typetab: None };
        let table = read_module_kallsyms("mymod", &loc, &mem).unwrap();
        assert!(table.is_empty());
        let read = mem.bytes_read.into_inner();
        assert!(read <= MAX_MODULE_STRTAB + 0x1000, "read {read} bytes");
    }

    #[test]
    fn decodes_module_symbols() {
        let base = 0x10_0000u64;
        let mut bytes = vec![0u8; 0x1000];
        let sym = |name: u32, value: u64, size: u64| {
            let mut s = Vec::new();
            s.extend_from_slice(&name.to_le_bytes());
            s.extend_from_slice(&[0x12, 0, 1, 0]);
            s.extend_from_slice(&value.to_le_bytes());
            s.extend_from_slice(&size.to_le_bytes());
            s
        };
        let symtab = [sym(0, 0, 0), sym(1, 0xffff_ffff_c000_0000, 0x20), sym(7, 0xffff_ffff_c000_1000, 8)].concat();
        bytes[..symtab.len()].copy_from_slice(&symtab);
        bytes[0x100..0x10e].copy_from_slice(b"\0my_fn\0my_var\0");
        bytes[0x200..0x203].copy_from_slice(b"UtD");
        let mem = BytesAt { base, bytes };
        let loc =
            ModuleKallsymsLocation { symtab: base, num_symtab: 3, strtab: base + 0x100, typetab: Some(base + 0x200) };
        let table = read_module_kallsyms("mymod", &loc, &mem).unwrap();
        assert_eq!(table.len(), 2);
        let f = table.by_name("my_fn").unwrap();
        assert_eq!((f.kind, f.size, f.module), ('t', 0x20, Some("mymod")));
        let (v, off) = table.by_addr(0xffff_ffff_c000_1004).unwrap();
        assert_eq!((v.name, v.kind, off), ("my_var", 'D', 4));
        let absurd = ModuleKallsymsLocation { num_symtab: u64::MAX, ..loc };
        assert!(read_module_kallsyms("mymod", &absurd, &mem).is_err());
    }
}
