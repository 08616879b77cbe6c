//! Resolving an oops's `func+0xoff/0xsize` references to source lines
//! without a dump: the vmlinux's symbols and DWARF, and each module's
//! `.ko` with its sections laid out as its DWARF reader places them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use krash_core::{Error, Result};
use krash_debuginfo::symbols::SymbolTableBuilder;
use krash_debuginfo::SymbolTable;
use krash_dwarf::{DwarfFile, InlineFrame};
use object::{Object, ObjectSection, ObjectSymbol};

use crate::oops::FrameRef;

/// Debuginfo of one object (the vmlinux or a module): symbols at the
/// addresses its DWARF uses.
pub struct ObjectDebuginfo {
    pub path: PathBuf,
    pub symbols: SymbolTable,
    pub dwarf: Option<DwarfFile>,
}

/// A reference resolved: the code address in the object's DWARF space and
/// the inline chain there, innermost first.
#[derive(Debug, Clone)]
pub struct ResolvedFrame {
    pub addr: u64,
    pub symbol_addr: u64,
    pub symbol_size: u64,
    pub frames: Vec<InlineFrame>,
}

/// The objects an oops is resolved against.
#[derive(Default)]
pub struct OopsResolver {
    pub vmlinux: Option<ObjectDebuginfo>,
    pub modules: HashMap<String, ObjectDebuginfo>,
}

impl OopsResolver {
    /// Opens the vmlinux (if any) and each `(module name, .ko path)`.
    pub fn open(vmlinux: Option<&Path>, modules: &[(String, PathBuf)]) -> Result<Self> {
        let vmlinux = match vmlinux {
            Some(path) => Some(ObjectDebuginfo {
                path: path.to_path_buf(),
                symbols: SymbolTable::load_elf_file(path)?,
                dwarf: match DwarfFile::open(path) {
                    Ok(d) => Some(d),
                    Err(Error::MissingDebuginfo(_)) => None,
                    Err(e) => return Err(e),
                },
            }),
            None => None,
        };
        let mut loaded = HashMap::new();
        for (name, path) in modules {
            loaded.insert(name.replace('-', "_"), open_module(name, path)?);
        }
        Ok(OopsResolver { vmlinux, modules: loaded })
    }

    /// The object a reference belongs to: its module's, else the vmlinux.
    pub fn object_for(&self, module: Option<&str>) -> Option<&ObjectDebuginfo> {
        match module {
            Some(m) => self.modules.get(&m.replace('-', "_")),
            None => self.vmlinux.as_ref(),
        }
    }

    /// Resolves one reference. Return addresses (call-trace entries, not
    /// the RIP) are looked up one byte back, inside the call instruction,
    /// so the line is the call's and not the next statement's.
    pub fn resolve(&self, frame: &FrameRef) -> Result<ResolvedFrame> {
        let object = self.object_for(frame.module.as_deref()).ok_or_else(|| match &frame.module {
            Some(m) => Error::MissingDebuginfo(format!("module {m}: no .ko given (--module {m}=PATH)")),
            None => Error::MissingDebuginfo("no vmlinux given".into()),
        })?;
        // The kernel prints kallsyms sizes (up to the next symbol), the ELF
        // symbol table exact ones: either matching means the same function.
        let kallsyms_size = |addr: u64, size: u64| -> u64 {
            object.symbols.next_addr_after(addr).map_or(size, |next| next.saturating_sub(addr))
        };
        // The last function of a section ends where the loader put the next
        // section, which this layout need not match: the kernel's size is
        // then the exact one plus the padding to that section's alignment.
        const MAX_SECTION_PADDING: u64 = 64;
        let size_matches = |addr: u64, size: u64| -> bool {
            frame.size.is_none_or(|want| {
                let spans = kallsyms_size(addr, size);
                want == size || want == spans || (want > size && want < spans && want - size < MAX_SECTION_PADDING)
            })
        };
        let candidates: Vec<_> = object.symbols.all_by_name(&frame.function).collect();
        let symbol = candidates.iter().find(|s| size_matches(s.addr, s.size));
        let symbol = match (symbol, candidates.first(), frame.size) {
            (Some(s), _, _) => s,
            (None, Some(s), Some(want)) => {
                return Err(Error::NotFound(format!(
                    "{}: size {want:#x} differs from {:#x} in {} (another build?)",
                    frame.function,
                    kallsyms_size(s.addr, s.size),
                    object.path.display()
                )))
            }
            (None, _, _) => {
                return Err(Error::NotFound(format!("{}: no such symbol in {}", frame.function, object.path.display())))
            }
        };
        let addr = symbol
            .addr
            .checked_add(frame.offset)
            .ok_or_else(|| Error::Usage(format!("{}+{:#x}: address overflows", frame.function, frame.offset)))?;
        let lookup = if frame.is_rip || frame.offset == 0 { addr } else { addr - 1 };
        let dwarf = object
            .dwarf
            .as_ref()
            .ok_or_else(|| Error::MissingDebuginfo(format!("{}: no DWARF", object.path.display())))?;
        Ok(ResolvedFrame { addr, symbol_addr: symbol.addr, symbol_size: symbol.size, frames: dwarf.frames(lookup)? })
    }
}

/// A module's symbols placed where [`DwarfFile::open`] lays out its
/// sections (each symbol's value is relative to its section in a `.ko`).
fn open_module(name: &str, path: &Path) -> Result<ObjectDebuginfo> {
    let dwarf = DwarfFile::open(path)?;
    let data = std::fs::read(path).map_err(|e| Error::io(path, &e))?;
    let file = object::File::parse(&*data)
        .map_err(|e| Error::bad_data(path.display().to_string(), format!("not an object file: {e}")))?;
    let section_base: HashMap<&str, u64> =
        dwarf.alloc_sections().iter().map(|s| (s.name.as_str(), s.address)).collect();
    let module = name.replace('-', "_");
    let mut builder = SymbolTableBuilder::new(Some(&module));
    for sym in file.symbols() {
        if !matches!(sym.kind(), object::SymbolKind::Text | object::SymbolKind::Data) {
            continue;
        }
        let (Ok(sym_name), Some(index)) = (sym.name(), sym.section_index()) else { continue };
        if sym_name.is_empty() {
            continue;
        }
        let Ok(section) = file.section_by_index(index) else { continue };
        let Ok(section_name) = section.name() else { continue };
        let Some(base) = section_base.get(section_name) else { continue };
        let Some(addr) = base.checked_add(sym.address()) else { continue };
        let kind = match (sym.kind(), sym.is_global()) {
            (object::SymbolKind::Text, true) => 'T',
            (object::SymbolKind::Text, false) => 't',
            (_, true) => 'D',
            (_, false) => 'd',
        };
        builder.push(sym_name, addr, sym.size(), kind)?;
    }
    Ok(ObjectDebuginfo { path: path.to_path_buf(), symbols: builder.build(), dwarf: Some(dwarf) })
}
