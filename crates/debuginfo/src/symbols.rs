//! Address-sorted symbol tables with name and address lookup, built from a
//! vmlinux ELF `.symtab`, from decoded kallsyms, or from a module's symbols.
//!
//! A table is cheap to clone: the records live behind an `Arc`, and a KASLR
//! shift is stored as a delta applied on every answer, so
//! [`SymbolTable::with_offset`] copies nothing.

use std::fmt;
use std::hash::BuildHasher;
use std::path::Path;
use std::sync::Arc;

use hashbrown::{DefaultHashBuilder, HashTable};
use krash_core::{Error, Result};
use object::elf;
use object::read::elf::{FileHeader, SectionHeader, Sym};
use object::LittleEndian;
use rayon::prelude::*;

/// Upper bound on the symbol count accepted from any input; vmlinux has
/// ~200k, so anything far beyond is corrupt data.
const MAX_SYMBOLS: usize = 16 << 20;

/// A symbol as lookups answer it: the address already carries the table's
/// KASLR delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symbol<'a> {
    /// Symbol name without the kallsyms type prefix.
    pub name: &'a str,
    /// Run-time address (link address plus the table's delta).
    pub addr: u64,
    /// Size in bytes; 0 when unknown (kallsyms gives no sizes).
    pub size: u64,
    /// The type letter `nm` and crash print (`T`, `t`, `D`, `b`, `A`, `W`...).
    pub kind: char,
    /// Owning module, or `None` for the kernel image.
    pub module: Option<&'a str>,
}

impl Symbol<'_> {
    /// True for a global (upper-case letter) symbol.
    pub fn is_global(&self) -> bool {
        self.kind.is_ascii_uppercase()
    }
    /// The name as crash prints it (gcc clone suffixes dropped).
    pub fn crash_name(&self) -> &str {
        crash_name(self.name)
    }

    /// True for code symbols (`T`, `t`, and weak code `W`/`w`).
    pub fn is_text(&self) -> bool {
        matches!(self.kind, 'T' | 't' | 'W' | 'w' | 'i')
    }
}

impl fmt::Display for Symbol<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x} ({}) {}", self.addr, self.kind, self.name)?;
        if let Some(m) = self.module {
            write!(f, " [{m}]")?;
        }
        Ok(())
    }
}

/// One stored record; the name lives in the shared string arena.
#[derive(Debug, Clone, Copy)]
struct Entry {
    addr: u64,
    size: u64,
    name_start: u32,
    name_len: u32,
    kind: u8,
}

#[derive(Debug)]
struct Inner {
    module: Option<String>,
    names: String,
    /// Sorted by address; ties keep input order.
    entries: Vec<Entry>,
    /// Name -> index of the preferred entry with that name.
    by_name: HashTable<u32>,
    /// Next entry with the same name (chains duplicates), `u32::MAX` ends.
    next_same_name: Vec<u32>,
    hasher: DefaultHashBuilder,
}

/// A symbol table for the kernel image or one module.
#[derive(Debug, Clone)]
pub struct SymbolTable {
    inner: Arc<Inner>,
    delta: u64,
}

/// Collects symbols (in any order) and builds a [`SymbolTable`].
#[derive(Debug, Default)]
pub struct SymbolTableBuilder {
    module: Option<String>,
    names: String,
    entries: Vec<Entry>,
}

impl SymbolTableBuilder {
    /// A builder for the kernel image (`module = None`) or a named module.
    pub fn new(module: Option<&str>) -> Self {
        SymbolTableBuilder { module: module.map(str::to_owned), ..Default::default() }
    }

    /// Reserves room for `n` symbols (after the caller sanity-checked `n`).
    pub fn reserve(&mut self, n: usize, name_bytes: usize) {
        self.entries.reserve(n.min(MAX_SYMBOLS));
        self.names.reserve(name_bytes.min(256 << 20));
    }

    /// Adds one symbol at its link-time address.
    pub fn push(&mut self, name: &str, addr: u64, size: u64, kind: char) -> Result<()> {
        if self.entries.len() >= MAX_SYMBOLS {
            return Err(Error::bad_data("symbol table", format!("more than {MAX_SYMBOLS} symbols")));
        }
        let too_big = || Error::bad_data("symbol table", "symbol names exceed 4 GiB");
        let name_start = u32::try_from(self.names.len()).map_err(|_| too_big())?;
        let name_len = u32::try_from(name.len()).map_err(|_| too_big())?;
        self.names.push_str(name);
        self.entries.push(Entry {
            addr,
            size,
            name_start,
            name_len,
            kind: if kind.is_ascii() { kind as u8 } else { b'?' },
        });
        Ok(())
    }

    /// Moves every symbol of `other` into this builder.
    pub fn append(&mut self, other: SymbolTableBuilder) -> Result<()> {
        if self.entries.len().saturating_add(other.entries.len()) > MAX_SYMBOLS {
            return Err(Error::bad_data("symbol table", format!("more than {MAX_SYMBOLS} symbols")));
        }
        let base = u32::try_from(self.names.len())
            .ok()
            .filter(|base| base.checked_add(u32::try_from(other.names.len()).unwrap_or(u32::MAX)).is_some())
            .ok_or_else(|| Error::bad_data("symbol table", "symbol names exceed 4 GiB"))?;
        self.names.push_str(&other.names);
        // Every name_start of `other` is below its names' length, so the
        // sums cannot overflow (checked above).
        self.entries
            .extend(other.entries.into_iter().map(|e| Entry { name_start: e.name_start.saturating_add(base), ..e }));
        Ok(())
    }

    /// Number of symbols pushed so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no symbol was pushed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sorts by address and indexes names.
    pub fn build(self) -> SymbolTable {
        let SymbolTableBuilder { module, names, mut entries } = self;
        // Ties sort by name, the order System.map and crash list them in,
        // which decides which alias crash prints for an address.
        // By address first (a plain integer sort), then each run of aliases
        // by name: far fewer string comparisons than one sort on both.
        entries.par_sort_unstable_by_key(|e| e.addr);
        for run in entries.chunk_by_mut(|a, b| a.addr == b.addr).filter(|run| run.len() > 1) {
            run.sort_unstable_by(|a, b| entry_name(&names, a).cmp(entry_name(&names, b)));
        }
        let hasher = DefaultHashBuilder::default();
        let mut by_name: HashTable<u32> = HashTable::with_capacity(entries.len());
        let mut next_same_name = vec![u32::MAX; entries.len()];
        // Keyed by the crash spelling, so `foo` finds `foo.isra.0` too.
        let name_of = |e: &Entry| crash_name(entry_name(&names, e));
        // Indices stored in the table and chains always come from
        // `entries`, so the lookups below cannot miss.
        let name_at = |i: u32| entries.get(i as usize).map(name_of).unwrap_or("");
        let set_next = |next: &mut [u32], i: u32, to: u32| {
            if let Some(slot) = next.get_mut(i as usize) {
                *slot = to;
            }
        };
        for (idx, entry) in entries.iter().enumerate() {
            let idx = idx as u32; // entries.len() <= MAX_SYMBOLS < u32::MAX
            let name = name_of(entry);
            let hash = hasher.hash_one(name);
            match by_name.find_mut(hash, |&i| name_at(i) == name) {
                Some(slot) => {
                    // Keep the preferred entry at the head of the chain.
                    let head = *slot;
                    if Some(rank(entry)) > entries.get(head as usize).map(rank) {
                        set_next(&mut next_same_name, idx, head);
                        *slot = idx;
                    } else {
                        let after_head = next_same_name.get(head as usize).copied().unwrap_or(u32::MAX);
                        set_next(&mut next_same_name, idx, after_head);
                        set_next(&mut next_same_name, head, idx);
                    }
                }
                None => {
                    by_name.insert_unique(hash, idx, |&i| hasher.hash_one(name_at(i)));
                }
            }
        }
        SymbolTable { inner: Arc::new(Inner { module, names, entries, by_name, next_same_name, hasher }), delta: 0 }
    }
}

/// The name crash shows for a symbol: gcc's `.isra.N` / `.part.N` clone
/// suffixes (and anything after, such as `.cold`) are dropped; `.constprop.N`
/// and a lone `.cold` are kept.
pub fn crash_name(name: &str) -> &str {
    let bytes = name.as_bytes();
    // Called for every symbol at start-up: look only at the dots.
    let find = |suffix: &[u8]| {
        memchr::memchr_iter(b'.', bytes).find(|&dot| bytes.get(dot..).is_some_and(|rest| rest.starts_with(suffix)))
    };
    match find(b".isra.").or_else(|| find(b".part.")) {
        Some(dot) if dot > 0 => name.get(..dot).unwrap_or(name),
        _ => name,
    }
}

fn entry_name<'a>(names: &'a str, e: &Entry) -> &'a str {
    let start = e.name_start as usize;
    start.checked_add(e.name_len as usize).and_then(|end| names.get(start..end)).unwrap_or("")
}

/// Absolute symbols holding plain values (sizes, constants) rather than
/// kernel addresses never name a location; crash leaves them out too.
fn is_absolute(e: &Entry) -> bool {
    matches!(e.kind, b'A' | b'a') && (e.addr as i64) >= 0
}

/// A name the linker script provides to mark a section's bounds, by the
/// test the kernel's `scripts/kallsyms` applies when it orders aliases:
/// `__start_X`, `__stop_X`, `__end_X`, `__X_start` and `__X_end`.
fn is_linker_script_marker(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("__") else {
        return false;
    };
    name.len() >= 8
        && (rest.starts_with("start_")
            || rest.starts_with("stop_")
            || rest.starts_with("end_")
            || rest.ends_with("_start")
            || rest.ends_with("_end"))
}

/// How strongly an entry should answer for its address or name: real code
/// and data beat local aliases, which beat absolute values and size-0
/// markers.
fn rank(e: &Entry) -> u8 {
    let kind = e.kind as char;
    let located = !matches!(kind, 'A' | 'a' | 'U' | 'u' | '?');
    let global = kind.is_ascii_uppercase();
    let code = matches!(kind, 'T' | 't' | 'W' | 'w');
    let sized = e.size != 0;
    // One bit per criterion, most important highest.
    (u8::from(located) << 3) | (u8::from(global) << 2) | (u8::from(code) << 1) | u8::from(sized)
}

/// ELF symbols read by one parallel task of [`SymbolTable::from_elf`].
const ELF_SYMBOLS_PER_TASK: usize = 16 * 1024;

/// The definitions among `symbols` (a slice of one `.symtab`), placed as
/// [`SymbolTable::read_elf`] says.
fn read_elf_symbols(
    symbols: &[elf::Sym64<LittleEndian>],
    sections: &object::read::elf::SectionTable<'_, elf::FileHeader64<LittleEndian>>,
    strings: object::read::StringTable<'_>,
    module: Option<&str>,
    place: Option<&PlaceSymbol<'_>>,
) -> Result<SymbolTableBuilder> {
    let endian = LittleEndian;
    let mut builder = SymbolTableBuilder::new(module);
    // A capacity hint: clamping it loses nothing.
    builder.reserve(symbols.len(), symbols.len().saturating_mul(24));
    for sym in symbols {
        let st_type = sym.st_type();
        if matches!(st_type, elf::STT_SECTION | elf::STT_FILE) {
            continue;
        }
        let Ok(name) = sym.name(endian, strings) else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        if is_mapping_symbol(name) {
            continue;
        }
        let shndx = sym.st_shndx(endian);
        if shndx == elf::SHN_UNDEF {
            continue; // a reference (modules' imports), not a definition
        }
        let section = if shndx >= elf::SHN_LORESERVE {
            None
        } else {
            sections.section(object::SectionIndex(shndx as usize)).ok()
        };
        let kind = nm_letter(sym.st_bind(), st_type, shndx, section.map(|s| (s.sh_type(endian), s.sh_flags(endian))));
        let addr = match place {
            None => sym.st_value(endian),
            Some(place) => {
                let section_name = section.and_then(|s| sections.section_name(endian, s).ok());
                let Some(addr) = place(section_name, sym.st_value(endian)) else { continue };
                addr
            }
        };
        builder.push(name, addr, sym.st_size(endian), kind)?;
    }
    Ok(builder)
}

impl SymbolTable {
    /// An empty table (no symbols known).
    pub fn empty() -> Self {
        SymbolTableBuilder::new(None).build()
    }

    /// Reads `.symtab`/`.strtab` of a 64-bit little-endian ELF (vmlinux or
    /// a module `.ko`), touching only those sections and the headers.
    pub fn from_elf(data: &[u8]) -> Result<Self> {
        Self::from_elf_for_module(data, None)
    }

    /// Like [`from_elf`](Self::from_elf), naming the module the symbols belong to.
    pub fn from_elf_for_module(data: &[u8], module: Option<&str>) -> Result<Self> {
        Self::read_elf(data, module, None)
    }

    /// The symbols of a relocatable object (a module's `.ko`) placed where
    /// the module was loaded: each at its section's load address
    /// (`section_base`, by section name) plus its value. Symbols of sections
    /// without a load address (not allocated, or unknown) are left out.
    /// A kernel without `CONFIG_KALLSYMS_ALL` keeps only a module's function
    /// symbols in memory; its objects are named from here.
    pub fn from_relocatable_elf(
        data: &[u8],
        module: Option<&str>,
        section_base: &dyn Fn(&str) -> Option<u64>,
    ) -> Result<Self> {
        Self::read_elf(
            data,
            module,
            Some(&|section, value| section_base(std::str::from_utf8(section?).ok()?)?.checked_add(value)),
        )
    }

    /// Reads `.symtab`, placing each symbol with `place(its section's name,
    /// st_value)`, or at `st_value` without `place` (a linked image, whose
    /// section names are then never looked up).
    fn read_elf(data: &[u8], module: Option<&str>, place: Option<&PlaceSymbol<'_>>) -> Result<Self> {
        let ctx = "ELF symbol table";
        let endian = LittleEndian;
        let header = elf::FileHeader64::<LittleEndian>::parse(data)
            .map_err(|e| Error::bad_data(ctx, format!("not a 64-bit little-endian ELF: {e}")))?;
        let sections =
            header.sections(endian, data).map_err(|e| Error::bad_data(ctx, format!("section headers: {e}")))?;
        let symtab = sections
            .symbols(endian, data, elf::SHT_SYMTAB)
            .map_err(|e| Error::bad_data(ctx, format!(".symtab: {e}")))?;
        if symtab.is_empty() {
            return Err(Error::MissingDebuginfo("ELF file has no .symtab (stripped?)".into()));
        }
        let strings = symtab.strings();
        let symbols = symtab.symbols();
        let builder = match place {
            // A linked image's table (vmlinux: ~150 000 symbols) is read in
            // parallel chunks; its start-up cost is mostly this and the sort.
            None => {
                let parts: Vec<SymbolTableBuilder> = symbols
                    .par_chunks(ELF_SYMBOLS_PER_TASK)
                    .map(|chunk| read_elf_symbols(chunk, &sections, strings, module, None))
                    .collect::<Result<_>>()?;
                // Joined once, into room made for all of them.
                let mut all = SymbolTableBuilder::new(module);
                all.reserve(parts.iter().map(SymbolTableBuilder::len).sum(), parts.iter().map(|p| p.names.len()).sum());
                for part in parts {
                    all.append(part)?;
                }
                all
            }
            Some(place) => read_elf_symbols(symbols, &sections, strings, module, Some(place))?,
        };
        Ok(builder.build())
    }

    /// Memory-maps an ELF file and reads its symbol table.
    pub fn load_elf_file(path: &Path) -> Result<Self> {
        Self::from_elf(&krash_core::MappedFile::open(path)?)
    }

    /// A view of the same symbols shifted by `kaslr_delta` (added, wrapping,
    /// to every address). Replaces, not accumulates, any previous delta.
    pub fn with_offset(&self, kaslr_delta: u64) -> Self {
        SymbolTable { inner: Arc::clone(&self.inner), delta: kaslr_delta }
    }

    /// The KASLR delta this view applies.
    pub fn offset(&self) -> u64 {
        self.delta
    }

    /// The module these symbols belong to (`None` for the kernel image).
    pub fn module(&self) -> Option<&str> {
        self.inner.module.as_deref()
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.inner.entries.len()
    }

    /// True when the table holds no symbol.
    pub fn is_empty(&self) -> bool {
        self.inner.entries.is_empty()
    }

    fn view(&self, e: &Entry) -> Symbol<'_> {
        Symbol {
            name: entry_name(&self.inner.names, e),
            addr: e.addr.wrapping_add(self.delta),
            size: e.size,
            kind: e.kind as char,
            module: self.inner.module.as_deref(),
        }
    }

    /// Head of the chain of entries sharing `name`'s crash spelling.
    fn find_chain(&self, name: &str) -> Option<u32> {
        let key = crash_name(name);
        let hash = self.inner.hasher.hash_one(key);
        let names = &self.inner.names;
        let entries = &self.inner.entries;
        self.inner
            .by_name
            .find(hash, |&i| entries.get(i as usize).is_some_and(|e| crash_name(entry_name(names, e)) == key))
            .copied()
    }

    fn chain(&self, name: &str) -> impl Iterator<Item = &Entry> + '_ {
        let mut next = self.find_chain(name).unwrap_or(u32::MAX);
        let mut budget = self.inner.entries.len();
        std::iter::from_fn(move || {
            // The entry count bounds a chain a corrupt index made cyclic.
            budget = budget.checked_sub(1)?;
            let entry = self.inner.entries.get(next as usize)?;
            next = self.inner.next_same_name.get(next as usize).copied().unwrap_or(u32::MAX);
            Some(entry)
        })
    }

    /// The preferred symbol with this name (a global over static
    /// namesakes). A name without a gcc clone suffix also finds the clone
    /// (`__ghes_peek_estatus` finds `__ghes_peek_estatus.isra.0`), as in crash.
    pub fn by_name(&self, name: &str) -> Option<Symbol<'_>> {
        let names = &self.inner.names;
        self.chain(name)
            .find(|e| entry_name(names, e) == name)
            .or_else(|| self.chain(name).next())
            .map(|e| self.view(e))
    }

    /// Every symbol with this name (exact spelling first, then gcc clones
    /// whose crash spelling matches), the preferred one first.
    pub fn all_by_name<'a>(&'a self, name: &'a str) -> impl Iterator<Item = Symbol<'a>> + 'a {
        let names = &self.inner.names;
        let exact = self.chain(name).filter(move |e| entry_name(names, e) == name);
        let clones = self.chain(name).filter(move |e| entry_name(names, e) != name && crash_name(name) == name);
        exact.chain(clones).map(|e| self.view(e))
    }

    /// The symbol containing `addr` as crash reports it: the last symbol
    /// (in address, then name order) at or below `addr`, or, when `addr`
    /// is exactly a symbol's address, the first one there. Absolute
    /// symbols with small values are skipped: they are not locations.
    pub fn by_addr(&self, addr: u64) -> Option<(Symbol<'_>, u64)> {
        let link_addr = addr.wrapping_sub(self.delta);
        let entries = &self.inner.entries;
        let (at_or_below, _) = entries.split_at_checked(entries.partition_point(|e| e.addr <= link_addr))?;
        let last = at_or_below.iter().rposition(|e| !is_absolute(e))?;
        let (before_last, from_last) = at_or_below.split_at_checked(last)?;
        let mut entry = from_last.first()?;
        let names = &self.inner.names;
        let object = |e: &&Entry| !is_absolute(e) && !is_linker_script_marker(entry_name(names, e));
        if entry.addr == link_addr {
            // At the address itself, too, an object beats a section marker
            // there (an empty section's `__start_alloc_tags` and the
            // module's mutex after it).
            let group_start = before_last.partition_point(|e| e.addr < link_addr);
            let (_, group) = before_last.split_at_checked(group_start)?;
            entry = group
                .iter()
                .find(object)
                .or_else(|| object(&entry).then_some(entry))
                .or_else(|| group.iter().find(|e| !is_absolute(e)))
                .unwrap_or(entry);
        } else if is_linker_script_marker(entry_name(&self.inner.names, entry)) {
            // Past the address of a section marker that shares it with an
            // object (`__softirqentry_text_start` and `__do_softirq`,
            // `__stop__bpf_raw_tp` and the string after that section): the
            // object names the address, as in the kernel's own traces.
            // The rule is by name, so kallsyms and the ELF symtab agree.
            let group_start = before_last.partition_point(|e| e.addr < entry.addr);
            let (_, group) = before_last.split_at_checked(group_start)?;
            entry = group.iter().find(object).unwrap_or(entry);
        }
        // Every entry considered lies at or below `link_addr`.
        Some((self.view(entry), link_addr.checked_sub(entry.addr)?))
    }

    /// Like [`by_addr`](Self::by_addr) but only when `addr` lies inside the
    /// symbol's known size (size-0 symbols match only their exact address).
    pub fn containing(&self, addr: u64) -> Option<(Symbol<'_>, u64)> {
        let (sym, off) = self.by_addr(addr)?;
        (off < sym.size.max(1)).then_some((sym, off))
    }

    /// All symbols in address order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Symbol<'_>> + '_ {
        self.inner.entries.iter().map(|e| self.view(e))
    }

    /// Symbols whose address lies in `[start, end)` (run-time addresses).
    pub fn range(&self, start: u64, end: u64) -> impl Iterator<Item = Symbol<'_>> + '_ {
        let (lo, hi) = (start.wrapping_sub(self.delta), end.wrapping_sub(self.delta));
        let entries = &self.inner.entries;
        let first = entries.partition_point(|e| e.addr < lo);
        let last = entries.partition_point(|e| e.addr < hi).max(first);
        entries.get(first..last).unwrap_or_default().iter().map(|e| self.view(e))
    }

    /// The address following `sym`'s among distinct symbol addresses, used
    /// to bound a function when its size is unknown (kallsyms tables).
    pub fn next_addr_after(&self, addr: u64) -> Option<u64> {
        let link_addr = addr.wrapping_sub(self.delta);
        let entries = &self.inner.entries;
        let idx = entries.partition_point(|e| e.addr <= link_addr);
        entries.get(idx).map(|e| e.addr.wrapping_add(self.delta))
    }
}

/// Where a symbol goes: given its section's name (none for an absolute
/// symbol) and its value, its address, or `None` to leave it out.
type PlaceSymbol<'a> = dyn Fn(Option<&[u8]>, u64) -> Option<u64> + 'a;

/// The kernel's `is_mapping_symbol()` (include/linux/module_symbol.h): an
/// ELF mapping symbol (`$x`, `$d`, `$x.12`, which AArch64 and RISC-V
/// objects use to mark where code and data start) and the assembler's
/// locals (`.L...`, `L0...`) name nothing. kallsyms leaves them out, and gdb
/// and crash never name an address by one (a jump table in `.rodata` shown
/// as `$d` instead of `ptmx_fops`).
pub fn is_mapping_symbol(name: &str) -> bool {
    name.starts_with('$') || name.starts_with(".L") || name.starts_with("L0")
}

/// The type letter `nm` prints for an ELF symbol, from its binding, type and
/// the flags of the section it is defined in.
pub fn nm_letter(bind: u8, st_type: u8, shndx: u16, section: Option<(u32, u64)>) -> char {
    if shndx == elf::SHN_UNDEF {
        return if bind == elf::STB_WEAK { 'w' } else { 'U' };
    }
    if st_type == elf::STT_GNU_IFUNC {
        return 'i';
    }
    if bind == elf::STB_WEAK {
        return if st_type == elf::STT_OBJECT { 'V' } else { 'W' };
    }
    let letter = if shndx == elf::SHN_ABS {
        'a'
    } else if shndx == elf::SHN_COMMON {
        'c'
    } else {
        match section {
            Some((sh_type, flags)) => {
                let flags = flags as u32;
                if flags & elf::SHF_EXECINSTR != 0 {
                    't'
                } else if sh_type == elf::SHT_NOBITS {
                    'b'
                } else if flags & elf::SHF_ALLOC == 0 {
                    'n'
                } else if flags & elf::SHF_WRITE != 0 {
                    'd'
                } else {
                    'r'
                }
            }
            None => '?',
        }
    };
    if bind == elf::STB_LOCAL {
        letter
    } else {
        letter.to_ascii_uppercase()
    }
}

#[cfg(test)]
// Fixtures use known-good data; overflow and bounds panics are test
// failures here, not input handling.
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn appended_builders_make_one_table() {
        let mut a = SymbolTableBuilder::new(None);
        a.push("alpha", 0x3000, 0x10, 'T').unwrap();
        a.push("beta", 0x1000, 0x10, 'T').unwrap();
        let mut b = SymbolTableBuilder::new(None);
        b.push("gamma", 0x2000, 0x10, 't').unwrap();
        b.push("alias_b", 0x1000, 0x10, 't').unwrap();
        a.append(b).unwrap();
        let table = a.build();
        let names: Vec<&str> = table.iter().map(|s| s.name).collect();
        // By address, aliases by name.
        assert_eq!(names, ["alias_b", "beta", "gamma", "alpha"]);
        assert_eq!(table.by_addr(0x2008).map(|(s, off)| (s.name, off)), Some(("gamma", 8)));
        assert_eq!(table.by_name("gamma").map(|s| s.addr), Some(0x2000));
        assert_eq!(table.by_name("alpha").map(|s| s.addr), Some(0x3000));
    }

    #[test]
    fn crash_names_drop_clone_suffixes() {
        assert_eq!(crash_name("tcp_v4_rcv"), "tcp_v4_rcv");
        assert_eq!(crash_name("krash_null_member.isra.0"), "krash_null_member");
        assert_eq!(crash_name("f.part.3.cold"), "f");
        assert_eq!(crash_name("f.constprop.0"), "f.constprop.0");
        assert_eq!(crash_name("f.cold"), "f.cold");
        // .isra wins over an earlier .part, as it always did.
        assert_eq!(crash_name("f.part.1.isra.0"), "f.part.1");
        // A name that is only a suffix keeps it.
        assert_eq!(crash_name(".isra.0"), ".isra.0");
        assert_eq!(crash_name("__func__.12"), "__func__.12");
    }

    #[test]
    fn mapping_symbols_are_not_names() {
        assert!(is_mapping_symbol("$x") && is_mapping_symbol("$d") && is_mapping_symbol("$x.17"));
        assert!(is_mapping_symbol(".Ltmp3") && is_mapping_symbol("L0_label"));
        assert!(!is_mapping_symbol("krash_resource_mutex") && !is_mapping_symbol("dollar$sign"));
        assert!(!is_mapping_symbol("Lzma_decode") && !is_mapping_symbol("_L0"));
    }

    fn sample() -> SymbolTable {
        let mut b = SymbolTableBuilder::new(None);
        b.push("_stext", 0x1000, 0, 'T').unwrap();
        b.push("startup_64", 0x1000, 0x40, 'T').unwrap();
        b.push("local_alias", 0x1000, 0, 't').unwrap();
        b.push("schedule", 0x2000, 0x100, 'T').unwrap();
        b.push("dup", 0x3000, 4, 'd').unwrap();
        b.push("dup", 0x4000, 4, 'D').unwrap();
        b.push("abs", 0x5, 0, 'A').unwrap();
        b.build()
    }

    #[test]
    fn lookups_with_and_without_delta() {
        let t = sample();
        let (s, off) = t.by_addr(0x2010).unwrap();
        assert_eq!((s.name, off), ("schedule", 0x10));
        let (s, off) = t.by_addr(0x1008).unwrap();
        assert_eq!((s.name, off), ("startup_64", 8));
        assert_eq!(t.by_name("dup").unwrap().addr, 0x4000);
        assert_eq!(t.all_by_name("dup").count(), 2);
        assert!(t.by_addr(0x1).is_none());
        let shifted = t.with_offset(0x1000_0000);
        assert_eq!(shifted.by_name("schedule").unwrap().addr, 0x1000_2000);
        let (s, off) = shifted.by_addr(0x1000_2004).unwrap();
        assert_eq!((s.name, off), ("schedule", 4));
        assert!(shifted.containing(0x1000_2100).is_none());
        assert_eq!(shifted.iter().count(), 7);
        assert_eq!(shifted.range(0x1000_1000, 0x1000_2001).count(), 4);
    }

    #[test]
    fn an_object_beats_a_section_marker_at_its_address_inside_it() {
        let mut b = SymbolTableBuilder::new(None);
        b.push("__softirqentry_text_start", 0x6000, 0, 'T').unwrap();
        b.push("__do_softirq", 0x6000, 40, 'T').unwrap();
        b.push("__entry_text_start", 0x6028, 0, 'T').unwrap();
        let t = b.build();
        // Inside the function: the function (the marker sorts last by name).
        assert_eq!(t.by_addr(0x6010).map(|(s, o)| (s.name, o)), Some(("__do_softirq", 0x10)));
        // Two objects at one address: the last by name, as crash has it.
        let mut b = SymbolTableBuilder::new(None);
        b.push("__x86_indirect_thunk_array", 0x7000, 0, 'T').unwrap();
        b.push("__x86_indirect_thunk_rax", 0x7000, 32, 'T').unwrap();
        assert_eq!(b.build().by_addr(0x7003).map(|(s, _)| s.name), Some("__x86_indirect_thunk_rax"));
        assert!(is_linker_script_marker("__stop__bpf_raw_tp") && is_linker_script_marker("__bss_start"));
        assert!(!is_linker_script_marker("__do_softirq") && !is_linker_script_marker("_stext"));
        // Past its size the marker after it answers.
        assert_eq!(t.by_addr(0x6030).map(|(s, o)| (s.name, o)), Some(("__entry_text_start", 8)));
        // At the shared address itself, too, the object answers: a module's
        // empty alloc_tags section and the mutex after it.
        assert_eq!(t.by_addr(0x6000).map(|(s, o)| (s.name, o)), Some(("__do_softirq", 0)));
        let mut b = SymbolTableBuilder::new(Some("krash_scenarios"));
        b.push("__start_alloc_tags", 0x8000, 0, 'D').unwrap();
        b.push("__stop_alloc_tags", 0x8000, 0, 'D').unwrap();
        b.push("krash_resource_mutex", 0x8000, 32, 'd').unwrap();
        assert_eq!(b.build().by_addr(0x8000).map(|(s, o)| (s.name, o)), Some(("krash_resource_mutex", 0)));
        // A marker alone still names its address.
        let mut b = SymbolTableBuilder::new(None);
        b.push("__bss_start", 0x9000, 0, 'B').unwrap();
        assert_eq!(b.build().by_addr(0x9000).map(|(s, _)| s.name), Some("__bss_start"));
    }
}
