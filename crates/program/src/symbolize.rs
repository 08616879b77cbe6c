//! Addresses to names and back across the kernel image and every loaded
//! module, and source lines from DWARF: the vmlinux's (opened on first
//! need) and each module `.ko` the user loads with `mod -s`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock};

use krash_core::{Error, MappedFile, Result};
use krash_dwarf::DwarfFile;
use serde::Serialize;

use crate::modules::Module;
use crate::Kernel;

pub use krash_debuginfo::{Symbol, SymbolTable};
pub use krash_dwarf::{Faddr2line, FuncOffset, InlineFrame, SectionBases, SourceLine};

/// A resolved symbol, owned, for callers that keep it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SymbolRef {
    pub name: String,
    /// Address of the symbol itself (the address asked for minus `offset`).
    pub addr: u64,
    /// Offset of the address asked for into the symbol.
    pub offset: u64,
    /// Size in bytes, 0 when unknown.
    pub size: u64,
    /// nm's type letter (`T`, `t`, `D`...).
    pub kind: char,
    /// The module holding it, `None` for the kernel image.
    pub module: Option<String>,
}

impl SymbolRef {
    fn from_symbol(sym: &Symbol<'_>, offset: u64) -> SymbolRef {
        SymbolRef {
            name: sym.name.to_string(),
            addr: sym.addr,
            offset,
            size: sym.size,
            kind: sym.kind,
            module: sym.module.map(str::to_string),
        }
    }
}

/// Debuginfo loaded for one module with `mod -s`.
pub struct ModuleDebuginfo {
    /// The file the user gave or krash found (`.ko`, `.ko.debug`, `.ko.xz`).
    pub path: PathBuf,
    /// Its DWARF placed at the module's run-time addresses; `None` for a
    /// stripped `.ko`.
    pub dwarf: Option<Arc<DwarfFile>>,
    /// Its ELF symbols placed at the module's run-time addresses: the
    /// objects a kernel without `CONFIG_KALLSYMS_ALL` does not keep in
    /// memory (6.1 arm64's). Empty when the file has no `.symtab`.
    pub symbols: SymbolTable,
}

/// Lazily opened DWARF, kept for the session.
#[derive(Default)]
pub(crate) struct DebugCache {
    vmlinux: OnceLock<Result<Arc<DwarfFile>>>,
    modules: RwLock<HashMap<String, Arc<ModuleDebuginfo>>>,
}

/// Bounds the directory walk when searching for module objects.
const MAX_SEARCH_DEPTH: usize = 12;
/// Bounds the entries visited when searching for module objects.
const MAX_SEARCH_ENTRIES: usize = 200_000;
/// Largest decompressed `.ko.xz` accepted.
const MAX_DECOMPRESSED_MODULE: u64 = 1 << 30;

impl Kernel {
    /// The symbol holding `addr` and the offset into it, borrowed: the
    /// image's symbols for image addresses, the owning module's otherwise.
    /// Allocates nothing.
    pub fn symbol_at(&self, addr: u64) -> Option<(Symbol<'_>, u64)> {
        if self.in_kernel_image(addr) {
            return self.symbols().by_addr(addr);
        }
        let module = self.module_containing(addr)?;
        module.symbols.by_addr(addr)
    }

    /// A return address as saved (in a register or a frame record) made a
    /// plain code address: arm64's pointer-authentication code removed
    /// with VMCOREINFO's `KERNELPACMASK`; other machines' are plain already.
    pub fn strip_return_address(&self, raw: u64) -> u64 {
        if self.arch().machine != krash_arch::Machine::Aarch64 {
            return raw;
        }
        let mask = self.vmcoreinfo().number("KERNELPACMASK").map(|m| m as u64);
        krash_arch::arm64::strip_pac(raw, mask)
    }

    /// [`symbol_at`](Self::symbol_at) as an owned value. In a module whose
    /// object `mod -s` loaded, the object's own symbols count too: the
    /// closer symbol wins (a variable the kernel's kallsyms left out, on a
    /// kernel without `CONFIG_KALLSYMS_ALL`, over the function before it).
    pub fn symbolize(&self, addr: u64) -> Option<SymbolRef> {
        let in_memory = self.symbol_at(addr).map(|(sym, off)| SymbolRef::from_symbol(&sym, off));
        if in_memory.as_ref().is_some_and(|s| s.offset == 0) || self.in_kernel_image(addr) {
            return in_memory;
        }
        let Some(module) = self.module_containing(addr) else { return in_memory };
        let Some(loaded) = self.module_debuginfo(&module.name) else { return in_memory };
        let from_object = loaded.symbols.by_addr(addr).map(|(sym, off)| SymbolRef::from_symbol(&sym, off));
        match (in_memory, from_object) {
            (Some(m), Some(o)) => Some(if o.offset < m.offset { o } else { m }),
            (m, o) => m.or(o),
        }
    }

    /// A symbol by name: the kernel image's first, then each module's (its
    /// loaded object's symbols after the ones in memory).
    pub fn lookup_symbol(&self, name: &str) -> Option<SymbolRef> {
        if let Some(sym) = self.symbols().by_name(name) {
            return Some(SymbolRef::from_symbol(&sym, 0));
        }
        let modules = self.modules().ok()?;
        modules.iter().find_map(|m| m.symbols.by_name(name).map(|s| SymbolRef::from_symbol(&s, 0))).or_else(|| {
            modules.iter().find_map(|m| {
                let loaded = self.module_debuginfo(&m.name)?;
                let found = loaded.symbols.by_name(name).map(|s| SymbolRef::from_symbol(&s, 0));
                found
            })
        })
    }

    /// True if `addr` lies between `_text` and `_end`.
    pub fn in_kernel_image(&self, addr: u64) -> bool {
        self.image_bounds().image.is_some_and(|(start, end)| addr >= start && addr < end)
    }

    /// `[_text, _end)` and `[_stext, _etext)`, looked up once: every step of
    /// every backtrace asks whether an address is kernel code.
    pub(crate) fn image_bounds(&self) -> &ImageBounds {
        self.cached(|| {
            let symbols = self.symbols();
            let addr = |name: &str| symbols.by_name(name).map(|s| s.addr);
            let image = addr("_text").or_else(|| addr("_stext")).zip(addr("_end"));
            // Text bounds may come from VMCOREINFO too (symbol_addr's fallback).
            let text =
                self.symbol_addr("_stext").ok().map(|stext| (stext, self.symbol_addr("_etext").unwrap_or(stext)));
            ImageBounds { image, text }
        })
    }

    /// True if `addr` is in the kernel's or a module's code.
    pub fn is_text_address(&self, addr: u64) -> bool {
        if self.in_kernel_image(addr) {
            return self.is_kernel_text(addr) || self.symbols().by_addr(addr).is_some_and(|(s, _)| s.is_text());
        }
        self.module_containing(addr).is_some_and(|m| m.contains_text(addr))
    }

    /// The `[start, end)` of the function holding `addr`: its symbol's size
    /// when known, else up to the next symbol.
    pub fn function_bounds(&self, addr: u64) -> Option<(u64, u64)> {
        let (sym, _) = self.symbol_at(addr)?;
        if sym.size != 0 {
            return Some((sym.addr, sym.addr.checked_add(sym.size)?));
        }
        let table = if sym.module.is_some() { &self.module_containing(addr)?.symbols } else { self.symbols() };
        Some((sym.addr, table.next_addr_after(sym.addr)?))
    }

    /// Makes `file` the session's vmlinux DWARF (opened already for the
    /// types of a vmlinux without BTF).
    pub(crate) fn share_vmlinux_dwarf(&self, file: Arc<DwarfFile>) {
        let _ = self.session_cache::<DebugCache>().vmlinux.set(Ok(file));
    }

    /// The vmlinux's DWARF, opened on first use.
    pub fn vmlinux_dwarf(&self) -> Result<Arc<DwarfFile>> {
        self.session_cache::<DebugCache>()
            .vmlinux
            .get_or_init(|| {
                let path = self
                    .files()
                    .vmlinux
                    .as_ref()
                    .ok_or_else(|| Error::MissingDebuginfo("no vmlinux given: no line numbers".into()))?;
                DwarfFile::open(path).map(Arc::new)
            })
            .clone()
    }

    /// The DWARF describing `addr` and the address to ask it about (the
    /// vmlinux's DWARF holds link-time addresses, so KASLR is undone);
    /// `None` when no debuginfo covers `addr`.
    pub fn dwarf_for(&self, addr: u64) -> Option<(Arc<DwarfFile>, u64)> {
        if self.in_kernel_image(addr) {
            let dwarf = self.vmlinux_dwarf().ok()?;
            return Some((dwarf, addr.wrapping_sub(self.kaslr_offset())));
        }
        let module = self.module_containing(addr)?;
        let loaded = self.module_debuginfo(&module.name)?;
        Some((loaded.dwarf.clone()?, addr))
    }

    /// The source line of the code at `addr` as gdb (and so crash)
    /// reports it, when debuginfo covers it.
    pub fn source_line(&self, addr: u64) -> Option<SourceLine> {
        let (dwarf, at) = self.dwarf_for(addr)?;
        dwarf.statement_line(at).ok().flatten()
    }

    /// The inline chain at `addr`, innermost first (faddr2line's answer).
    pub fn inline_frames(&self, addr: u64) -> Result<Vec<InlineFrame>> {
        let (dwarf, at) = self.dwarf_for(addr).ok_or_else(|| {
            Error::MissingDebuginfo(format!("{addr:x}: no DWARF covers this address (mod -s loads a module's)"))
        })?;
        dwarf.frames(at)
    }

    /// Source line changes in `[start, end)`, as (run-time address, line).
    pub fn line_boundaries(&self, start: u64, end: u64) -> Result<Vec<(u64, SourceLine)>> {
        let Some((dwarf, at)) = self.dwarf_for(start) else {
            return Ok(Vec::new());
        };
        let delta = start.wrapping_sub(at);
        let rows = dwarf.line_table_for_range(at, at.wrapping_add(end.wrapping_sub(start)))?;
        Ok(rows.into_iter().map(|b| (b.addr.wrapping_add(delta), b.line)).collect())
    }

    /// Resolves `func+0xoff[/0xsize]` to its address and inline chain, as
    /// the kernel's scripts/faddr2line does; a size differing from the
    /// symbol's means the trace came from another build.
    pub fn faddr2line(&self, spec: &str) -> Result<Faddr2line> {
        let spec: FuncOffset = spec.parse()?;
        let sym = self
            .lookup_symbol(&spec.function)
            .ok_or_else(|| Error::NotFound(format!("symbol not found: {}", spec.function)))?;
        let size = match sym.size {
            0 => self.function_bounds(sym.addr).map(|(s, e)| e - s).unwrap_or(0),
            n => n,
        };
        if let Some(given) = spec.size {
            if given != size {
                return Err(Error::NotFound(format!(
                    "{}: size {given:#x} does not match the symbol table's {size:#x} (different build?)",
                    spec.function
                )));
            }
        }
        if size != 0 && spec.offset >= size {
            return Err(Error::NotFound(format!(
                "{}: offset {:#x} is past the end of the function ({size:#x})",
                spec.function, spec.offset
            )));
        }
        let addr = sym
            .addr
            .checked_add(spec.offset)
            .ok_or_else(|| Error::Usage(format!("{}: offset overflows the address", spec.function)))?;
        Ok(Faddr2line { addr, frames: self.inline_frames(addr)? })
    }

    /// Debuginfo loaded for module `name`, if any.
    pub fn module_debuginfo(&self, name: &str) -> Option<Arc<ModuleDebuginfo>> {
        let loaded = self.session_cache::<DebugCache>().modules.read().unwrap_or_else(|p| p.into_inner());
        loaded.get(name).cloned()
    }

    /// Loads `module`'s object file (`path`, or found in `search_dirs`) and
    /// its DWARF placed at the module's section addresses; replaces any
    /// earlier load. Returns what was loaded.
    pub fn load_module_debuginfo(
        &self,
        name: &str,
        path: Option<&Path>,
        search_dirs: &[PathBuf],
    ) -> Result<Arc<ModuleDebuginfo>> {
        let module = self.module_by_name(name)?;
        let path = match path {
            Some(p) => p.to_path_buf(),
            None => find_module_object(name, search_dirs).ok_or_else(|| {
                Error::NotFound(format!(
                    "cannot find {name}.ko (or .ko.debug, .ko.xz) in {}",
                    search_dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
                ))
            })?,
        };
        if !path.is_file() {
            return Err(Error::NotFound(format!("{}: no such file", path.display())));
        }
        let bases = self.module_section_bases(module);
        let dwarf = match open_module_dwarf(&path, &bases) {
            Ok(d) => Some(Arc::new(d)),
            Err(Error::MissingDebuginfo(_)) => None,
            Err(e) => return Err(e),
        };
        if let Some(dwarf) = &dwarf {
            self.type_arena().add_module_types(name, Arc::new(krash_dwarf::DwarfTypes::new(Arc::clone(dwarf))))?;
        }
        let symbols = module_elf_symbols(&path, name, &bases);
        let loaded = Arc::new(ModuleDebuginfo { path, dwarf, symbols });
        let mut map = self.session_cache::<DebugCache>().modules.write().unwrap_or_else(|p| p.into_inner());
        map.insert(name.to_string(), Arc::clone(&loaded));
        Ok(loaded)
    }

    /// Drops what `mod -s` loaded for `name`.
    pub fn unload_module_debuginfo(&self, name: &str) -> Result<()> {
        self.module_by_name(name)?;
        let mut map = self.session_cache::<DebugCache>().modules.write().unwrap_or_else(|p| p.into_inner());
        map.remove(name)
            .map(|_| ())
            .ok_or_else(|| Error::NotFound(format!("{name}: no symbols or debuginfo loaded for this module")))
    }

    /// Where `mod -s` looks for module objects by default: the module trees
    /// of this release next to the vmlinux (an extracted package tree) and
    /// on this machine, debug trees first.
    pub fn module_search_dirs(&self) -> Vec<PathBuf> {
        let release = self
            .utsname()
            .map(|u| u.release)
            .ok()
            .or_else(|| self.vmcoreinfo().osrelease().map(str::to_string))
            .unwrap_or_default();
        let mut roots: Vec<PathBuf> = Vec::new();
        if let Some(vmlinux) = &self.files().vmlinux {
            // .../root/usr/lib/debug/boot/vmlinux-R -> .../root
            if let Some(dir) = vmlinux.parent() {
                if dir.ends_with("usr/lib/debug/boot") {
                    if let Some(root) = dir.ancestors().nth(4) {
                        roots.push(root.to_path_buf());
                    }
                }
                roots.push(dir.to_path_buf());
            }
        }
        roots.push(PathBuf::from("/"));
        let mut dirs = Vec::new();
        for root in &roots {
            dirs.push(root.join("usr/lib/debug/lib/modules").join(&release));
        }
        // --debug-dir / $KRASH_DEBUG_PATH roots hold lib/modules/RELEASE,
        // or are themselves a directory of module objects.
        for root in &self.files().debug_dirs {
            let tree = root.join("lib/modules").join(&release);
            dirs.push(if tree.is_dir() { tree } else { root.clone() });
        }
        // Out-of-tree modules are often kept next to the dump.
        if let Some(dir) = self.files().dump.parent() {
            dirs.push(if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir.to_path_buf() });
        }
        for root in &roots {
            dirs.push(root.join("lib/modules").join(&release));
        }
        dirs.retain(|d| d.is_dir());
        let mut seen = std::collections::HashSet::new();
        dirs.retain(|d| seen.insert(d.clone()));
        dirs
    }

    fn module_section_bases(&self, module: &Module) -> SectionBases {
        let mut bases = SectionBases::new();
        if let Ok(sections) = self.module_sections(module) {
            bases.extend(sections);
        }
        bases.entry(".text".to_string()).or_insert(module.base);
        bases
    }
}

/// Finds `NAME.ko`, `NAME.ko.debug` or `NAME.ko.xz` under `dirs` (searched
/// in order; `-` and `_` are the same in module names).
pub fn find_module_object(name: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    let wanted = name.replace('-', "_");
    for dir in dirs {
        let mut budget = MAX_SEARCH_ENTRIES;
        if let Some(found) = search_dir(dir, &wanted, 0, &mut budget) {
            return Some(found);
        }
    }
    None
}

/// Every module object under `dirs`, by module name; earlier dirs win.
pub fn index_module_objects(dirs: &[PathBuf]) -> HashMap<String, PathBuf> {
    let mut index = HashMap::new();
    for dir in dirs {
        let mut budget = MAX_SEARCH_ENTRIES;
        collect_dir(dir, 0, &mut budget, &mut index);
    }
    index
}

/// The module name a file would hold (`virtio-blk.ko.xz` -> `virtio_blk`).
fn module_name_of(file_name: &str) -> Option<String> {
    [".ko.debug", ".ko.xz", ".ko"].iter().find_map(|ext| file_name.strip_suffix(ext)).map(|stem| stem.replace('-', "_"))
}

fn search_dir(dir: &Path, wanted: &str, depth: usize, budget: &mut usize) -> Option<PathBuf> {
    if depth > MAX_SEARCH_DEPTH {
        return None;
    }
    let entries = std::fs::read_dir(dir).ok()?;
    let mut subdirs = Vec::new();
    for entry in entries.flatten() {
        *budget = budget.checked_sub(1)?;
        let Ok(kind) = entry.file_type() else { continue };
        let path = entry.path();
        if kind.is_dir() {
            subdirs.push(path);
        } else if entry.file_name().to_str().and_then(module_name_of).as_deref() == Some(wanted) {
            return Some(path);
        }
    }
    subdirs.sort();
    subdirs.into_iter().find_map(|d| search_dir(&d, wanted, depth + 1, budget))
}

fn collect_dir(dir: &Path, depth: usize, budget: &mut usize, index: &mut HashMap<String, PathBuf>) {
    if depth > MAX_SEARCH_DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut subdirs = Vec::new();
    for entry in entries.flatten() {
        let Some(left) = budget.checked_sub(1) else { return };
        *budget = left;
        let Ok(kind) = entry.file_type() else { continue };
        let path = entry.path();
        if kind.is_dir() {
            subdirs.push(path);
        } else if let Some(name) = entry.file_name().to_str().and_then(module_name_of) {
            index.entry(name).or_insert(path);
        }
    }
    subdirs.sort();
    for d in subdirs {
        collect_dir(&d, depth + 1, budget, index);
    }
}

/// A module object file's bytes (`.ko`, `.ko.debug`, or `.ko.xz`
/// decompressed), for callers that read its ELF sections themselves.
pub fn read_module_object(path: &Path) -> Result<Vec<u8>> {
    if path.extension().and_then(|e| e.to_str()) == Some("xz") {
        return decompress_xz(path);
    }
    std::fs::read(path).map_err(|e| Error::io(path, &e))
}

fn decompress_xz(path: &Path) -> Result<Vec<u8>> {
    let compressed = std::fs::File::open(path).map_err(|e| Error::io(path, &e))?;
    let mut input = std::io::BufReader::new(compressed);
    let mut bytes = BoundedSink { bytes: Vec::new(), limit: MAX_DECOMPRESSED_MODULE as usize };
    lzma_rs::xz_decompress(&mut input, &mut bytes)
        .map_err(|e| Error::bad_data(path.display().to_string(), format!("xz decompression failed: {e}")))?;
    Ok(bytes.bytes)
}

/// Opens a module object's DWARF; an `.xz` file is decompressed to a
/// private temporary file first (the mapping outlives the file's name).
/// A module object's ELF symbols at the module's load addresses (empty
/// when the file cannot be read again or has no `.symtab`: its DWARF, if
/// any, was read already, and symbols are a bonus).
fn module_elf_symbols(path: &Path, module: &str, bases: &SectionBases) -> SymbolTable {
    let place = |section: &str| bases.get(section).copied();
    let table = if path.extension().and_then(|e| e.to_str()) == Some("xz") {
        decompress_xz(path).and_then(|bytes| SymbolTable::from_relocatable_elf(&bytes, Some(module), &place))
    } else {
        MappedFile::open(path).and_then(|map| SymbolTable::from_relocatable_elf(&map, Some(module), &place))
    };
    table.unwrap_or_else(|_| SymbolTable::empty())
}

fn open_module_dwarf(path: &Path, bases: &SectionBases) -> Result<DwarfFile> {
    if path.extension().and_then(|e| e.to_str()) != Some("xz") {
        return DwarfFile::open_with_bases(path, bases);
    }
    let bytes = decompress_xz(path)?;
    // A file of our own with a random name, created exclusively and
    // readable by us only: a guessable name in /tmp would let another user
    // plant a symlink there when krash runs as root.
    let mut temp = tempfile::Builder::new()
        .prefix("krash-module-")
        .suffix(".ko")
        .tempfile()
        .map_err(|e| Error::io(Path::new("temporary module file"), &e))?;
    std::io::Write::write_all(&mut temp, &bytes).map_err(|e| Error::io(temp.path(), &e))?;
    // The mapping outlives the file's name, which `temp` removes when dropped.
    let opened = DwarfFile::open_with_bases(temp.path(), bases);
    opened
}

/// A `Vec` writer that refuses to grow past `limit` (a corrupt or hostile
/// `.xz` must not exhaust memory).
struct BoundedSink {
    bytes: Vec<u8>,
    limit: usize,
}

impl std::io::Write for BoundedSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len().saturating_add(buf.len()) > self.limit {
            return Err(std::io::Error::other("decompressed module exceeds 1 GiB"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Where the kernel image and its text lie (see [`Kernel::image_bounds`]).
pub(crate) struct ImageBounds {
    /// `[_text (or _stext), _end)`.
    pub image: Option<(u64, u64)>,
    /// `[_stext, _etext)` (empty without `_etext`).
    pub text: Option<(u64, u64)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_from_file_names() {
        assert_eq!(module_name_of("virtio-blk.ko.xz").as_deref(), Some("virtio_blk"));
        assert_eq!(module_name_of("loop.ko").as_deref(), Some("loop"));
        assert_eq!(module_name_of("dm-mod.ko.debug").as_deref(), Some("dm_mod"));
        assert_eq!(module_name_of("modules.dep"), None);
    }
}
