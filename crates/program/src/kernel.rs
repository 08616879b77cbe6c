//! [`Kernel`]: one opened dump with its debuginfo, seen as the kernel's
//! memory, symbols and types. Everything the commands need starts here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use krash_arch::{Arch, LayoutValue, PageTableFormat, RegionKind};
use krash_core::{Error, PhysicalMemory, Result, VirtualMemory};
use krash_debuginfo::types::TypeProvider;
use krash_debuginfo::SymbolTable;
use krash_dumpfile::{Dump, VmcoreInfo};

use crate::addrspace::{KernelLayout, KernelMemory};
use crate::cache::TypedCache;
use crate::cpus::CpuState;
use crate::layout::{Layouts, TypeSource};
use crate::type_arena::TypeArena;

/// Kernel stacks are at least a page (x86-64's 4 KiB of old) and at most
/// 256 KiB (64 KiB pages with KASAN's doubling, twice over): anything else
/// is a misread.
const MIN_THREAD_SIZE: u64 = 4 << 10;
const MAX_THREAD_SIZE: u64 = 256 << 10;

/// What the user gave on the command line.
#[derive(Debug, Clone, Default)]
pub struct KernelFiles {
    pub dump: PathBuf,
    pub vmlinux: Option<PathBuf>,
    /// Debuginfo roots to search for the dump's vmlinux by build id when
    /// none is given (`/usr/lib/debug` and the like); empty: no search.
    pub debug_dirs: Vec<PathBuf>,
    /// Accept a vmlinux whose build id differs from the dump's.
    pub force: bool,
}

/// Where symbols and types came from, for the banner.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DebuginfoSources {
    pub symbols: String,
    pub types: String,
}

/// An opened dump, ready for commands.
pub struct Kernel {
    files: KernelFiles,
    dump: Arc<Dump>,
    arch: &'static Arch,
    cpus: Vec<CpuState>,
    mem: KernelMemory<Arc<Dump>>,
    symbols: SymbolTable,
    layouts: Layouts,
    vmcoreinfo: VmcoreInfo,
    kaslr_offset: u64,
    sources: DebuginfoSources,
    /// What subsystems read from the kernel's state (tasks, modules, slab
    /// model, ...): dropped by [`Kernel::refresh_live`].
    state: TypedCache,
    /// What stays for the session whatever the kernel does: debuginfo
    /// loaded on request, the type arena, value history.
    session: TypedCache,
}

/// What a vmlinux or the dump alone gives the kernel model: symbols, the
/// type provider (if any) and which producer it is, where each came from,
/// and the vmlinux's DWARF when it was opened to provide the types.
pub(crate) struct LoadedDebuginfo {
    pub symbols: SymbolTable,
    pub types: Option<Arc<dyn TypeProvider>>,
    pub type_source: TypeSource,
    pub sources: DebuginfoSources,
    pub dwarf: Option<Arc<krash_dwarf::DwarfFile>>,
}

impl Kernel {
    /// Opens the dump and (optionally) the vmlinux. Only what every command
    /// needs is done here; per-command data (tasks, log, modules) is read
    /// on first use.
    pub fn open(mut files: KernelFiles) -> Result<Kernel> {
        let dump = Arc::new(Dump::open(&files.dump)?);
        let vmcoreinfo = dump.vmcoreinfo().cloned().ok_or_else(|| {
            let hint = match dump.format() {
                krash_dumpfile::DumpFormat::Lime => {
                    "no page of this LiME image holds the kernel's VMCOREINFO text; \
                     was the kernel built without CONFIG_VMCORE_INFO?"
                }
                _ => "for QEMU dumps, load qemu_fw_cfg in the guest and use -device vmcoreinfo",
            };
            Error::Unsupported(format!(
                "{}: the dump has no VMCOREINFO; krash needs it to locate the kernel ({hint})",
                files.dump.display()
            ))
        })?;
        // A machine krash does not implement yet is refused here, before
        // any debuginfo is loaded.
        let arch = crate::cpus::arch_of(&dump, &files.dump)?;
        let kaslr_offset = vmcoreinfo.kernel_offset().unwrap_or(0);
        let mut found_by_search = false;
        if files.vmlinux.is_none() {
            files.vmlinux = crate::vmlinux_search::find_vmlinux(&vmcoreinfo, &files.debug_dirs);
            found_by_search = files.vmlinux.is_some();
        }

        let mut loaded = match &files.vmlinux {
            Some(path) => load_vmlinux(path, kaslr_offset, &vmcoreinfo, files.force)?,
            None => crate::nodebuginfo::load_from_dump(&dump, arch, &vmcoreinfo)?,
        };

        if found_by_search {
            loaded.sources.symbols.push_str(", found by the dump's build id");
        }
        Self::assemble(files, dump, vmcoreinfo, loaded)
    }

    /// A kernel over a dump already in memory, with symbols and types the
    /// caller made (tests and fuzzing build these synthetically; see the
    /// `synthetic` module). The dump must carry VMCOREINFO.
    pub fn from_parts(dump: Dump, symbols: SymbolTable, types: Option<Arc<dyn TypeProvider>>) -> Result<Kernel> {
        let dump = Arc::new(dump);
        let vmcoreinfo =
            dump.vmcoreinfo().cloned().ok_or_else(|| Error::Unsupported("the dump has no VMCOREINFO".into()))?;
        let sources = DebuginfoSources {
            symbols: "given by the caller".into(),
            types: if types.is_some() { "given by the caller" } else { "none" }.into(),
        };
        let files = KernelFiles { dump: PathBuf::from("<memory>"), ..KernelFiles::default() };
        // Types a caller builds are BTF-like: complete, and asked first.
        let type_source = if types.is_some() { TypeSource::Btf } else { TypeSource::None };
        Self::assemble(files, dump, vmcoreinfo, LoadedDebuginfo { symbols, types, type_source, sources, dwarf: None })
    }

    fn assemble(
        files: KernelFiles,
        dump: Arc<Dump>,
        vmcoreinfo: VmcoreInfo,
        LoadedDebuginfo { symbols, types, type_source, sources, dwarf }: LoadedDebuginfo,
    ) -> Result<Kernel> {
        let kaslr_offset = vmcoreinfo.kernel_offset().unwrap_or(0);
        let arch = crate::cpus::arch_of(&dump, &files.dump)?;
        let cpus = crate::cpus::cpu_states(&dump, arch)?;
        let layout = discover_layout(&dump, arch, &vmcoreinfo, &symbols)?;
        let mem = KernelMemory::new(Arc::clone(&dump), layout);
        let layouts = Layouts::new(types, type_source, Some(vmcoreinfo.clone()));
        let kernel = Kernel {
            files,
            dump,
            arch,
            cpus,
            mem,
            symbols,
            layouts,
            vmcoreinfo,
            kaslr_offset,
            sources,
            state: TypedCache::default(),
            session: TypedCache::default(),
        };
        if let Some(dwarf) = dwarf {
            // The DWARF opened for the types also answers line and frame
            // questions: open the file once.
            kernel.share_vmlinux_dwarf(dwarf);
        }
        Ok(kernel)
    }

    pub fn files(&self) -> &KernelFiles {
        &self.files
    }
    pub fn dump(&self) -> &Dump {
        &self.dump
    }
    /// The dump's machine.
    pub fn arch(&self) -> &'static Arch {
        self.arch
    }
    /// Each CPU's saved registers, in the dump's CPU-note order (none for
    /// a live kernel).
    pub fn cpu_states(&self) -> &[CpuState] {
        &self.cpus
    }
    pub fn memory(&self) -> &KernelMemory<Arc<Dump>> {
        &self.mem
    }
    pub fn symbols(&self) -> &SymbolTable {
        &self.symbols
    }
    pub fn layouts(&self) -> &Layouts {
        &self.layouts
    }
    pub fn types(&self) -> Option<&Arc<dyn TypeProvider>> {
        self.layouts.types()
    }
    pub fn vmcoreinfo(&self) -> &VmcoreInfo {
        &self.vmcoreinfo
    }
    pub fn kaslr_offset(&self) -> u64 {
        self.kaslr_offset
    }
    pub fn sources(&self) -> &DebuginfoSources {
        &self.sources
    }
    /// Problems with the inputs that do not stop the session, worded for
    /// the user (a truncated dump, say); printed once at start-up.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.files.vmlinux.is_none() {
            let place = if self.is_live() { "the running kernel's memory" } else { "the dump" };
            out.push(format!(
                "no vmlinux: symbols from kallsyms and types from BTF in {place}; \
                 no DWARF: no line numbers, inline chains or local variables"
            ));
        }
        match (&self.files.vmlinux, self.layouts.type_source()) {
            (Some(path), TypeSource::Dwarf) => out.push(format!(
                "{}: no BTF; types come from its DWARF (indexed on first use, a few seconds)",
                path.display()
            )),
            (Some(_), TypeSource::None) => out.push(format!("types: {}", self.sources.types)),
            _ => {}
        }
        if let Some(t) = self.dump.truncation() {
            out.push(format!(
                "{}: the dump file is truncated: {} of {} bytes present, {} pages missing; \
                 reads of those pages fail with \"dump file is truncated\"",
                self.files.dump.display(),
                t.actual_bytes,
                t.expected_bytes,
                t.pages_missing
            ));
        }
        out
    }

    /// True on a running kernel (/proc/kcore): nothing crashed, memory
    /// changes between reads, no CPU registers were saved.
    pub fn is_live(&self) -> bool {
        self.dump.is_live()
    }

    /// Forgets what was read from a live kernel's changing state (tasks,
    /// modules, slab and page models, cached translations), so the next
    /// command sees the kernel as it is now; debuginfo caches and value
    /// history stay. Call between commands; a no-op on a dump.
    pub fn refresh_live(&mut self) {
        if self.is_live() {
            self.state = TypedCache::default();
            self.mem = KernelMemory::new(Arc::clone(&self.dump), self.mem.layout().clone());
        }
    }

    /// A subsystem's view of the kernel's state, read by `init` on first
    /// use and kept until a live refresh. Key it by a type of your own.
    pub fn cached<T: std::any::Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> &T {
        self.state.get_or_init(init)
    }

    /// [`cached`](Self::cached)'s value if it was read already.
    pub fn cached_if_read<T: std::any::Any + Send + Sync>(&self) -> Option<&T> {
        self.state.get()
    }

    /// Session state that outlives live refreshes (debuginfo loaded on
    /// request, value history), made by `init` on first use.
    pub fn session_cached<T: std::any::Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> &T {
        self.session.get_or_init(init)
    }

    /// [`session_cached`](Self::session_cached) for types with a default.
    pub fn session_cache<T: std::any::Any + Send + Sync + Default>(&self) -> &T {
        self.session.get_or_init(T::default)
    }

    /// The session's types with derived types added.
    pub fn type_arena(&self) -> &TypeArena {
        self.session_cached(|| TypeArena::new(self.types().cloned()))
    }

    /// Makes the vmlinux's DWARF answer for globals BTF does not type
    /// (its name index is built on first use: a few seconds, once). True
    /// at once when the types already are that DWARF.
    pub fn load_dwarf_fallback(&self) -> bool {
        let arena = self.type_arena();
        if arena.has_fallback() || self.layouts.type_source() == TypeSource::Dwarf {
            return true;
        }
        match self.vmlinux_dwarf() {
            Ok(file) => {
                arena.set_fallback(Arc::new(krash_dwarf::DwarfTypes::new(file)));
                true
            }
            Err(_) => false,
        }
    }

    /// Finds the kernel image's kallsyms tables by scanning the image, as
    /// dump-only mode does where VMCOREINFO does not name them, whatever
    /// this session's symbols came from: the tables, their symbols, and how
    /// many VMCOREINFO symbols agree (in words). Tests compare it with the
    /// vmlinux and VMCOREINFO.
    pub fn scan_image_kallsyms(&self) -> Result<(krash_debuginfo::KallsymsScan, SymbolTable, String)> {
        let found = crate::nodebuginfo::scan_image_kallsyms(&self.vmcoreinfo, &self.mem)?;
        Ok((found.scan, found.symbols, found.confidence))
    }

    /// Address of a kernel symbol (KASLR applied), or a NotFound error
    /// naming it.
    pub fn symbol_addr(&self, name: &str) -> Result<u64> {
        if let Some(sym) = self.symbols.by_name(name) {
            return Ok(sym.addr);
        }
        self.vmcoreinfo.symbol(name).ok_or_else(|| Error::NotFound(format!("symbol not found: {name}")))
    }

    /// `THREAD_SIZE`, the size of a task's kernel stack, as the kernel
    /// laid out its boot task's: from `init_stack` to `__end_init_stack`
    /// (`__end_init_task` before 6.x), both placed by the linker script.
    /// It is larger with KASAN and with arm64's 64 KiB pages. Where the
    /// symbols are missing (6.1 arm64's kallsyms has functions only), the
    /// architecture's usual size.
    pub fn thread_size(&self) -> u64 {
        let symbols = self.symbols();
        let start = symbols.by_name("init_stack").map(|s| s.addr);
        let end = ["__end_init_stack", "__end_init_task"].iter().find_map(|n| symbols.by_name(n).map(|s| s.addr));
        match (start, end) {
            (Some(start), Some(end)) => end
                .checked_sub(start)
                .filter(|size| size.is_power_of_two() && (MIN_THREAD_SIZE..=MAX_THREAD_SIZE).contains(size))
                .unwrap_or(self.arch.stacks.thread_size),
            _ => self.arch.stacks.thread_size,
        }
    }

    /// Reads a u64 at a symbol's address.
    pub fn read_symbol_u64(&self, name: &str) -> Result<u64> {
        self.mem.read_u64(self.symbol_addr(name)?)
    }

    /// Reads the `u64` member `path` of the `struct name` at `addr`.
    pub fn read_field_u64(&self, addr: u64, name: &str, path: &str) -> Result<u64> {
        let f = self.layouts.field(name, path)?;
        self.read_sized(addr.wrapping_add(f.offset), f.size.unwrap_or(8))
    }

    /// Reads an unsigned integer of `size` bytes (1, 2, 4, 8).
    pub fn read_sized(&self, addr: u64, size: u64) -> Result<u64> {
        Ok(match size {
            1 => self.mem.read_u8(addr)? as u64,
            2 => self.mem.read_u16(addr)? as u64,
            4 => self.mem.read_u32(addr)? as u64,
            _ => self.mem.read_u64(addr)?,
        })
    }

    /// Reads an integer member, honouring its size and bitfield position.
    pub fn read_field(&self, addr: u64, name: &str, path: &str) -> Result<u64> {
        self.read_resolved(addr, &self.layouts.field(name, path)?)
    }

    /// Reads a member already resolved with [`Layouts::field`]: walkers of
    /// thousands of objects resolve their members once, not per object.
    pub fn read_resolved(&self, addr: u64, f: &crate::layout::Field) -> Result<u64> {
        let raw = self.read_sized(addr.wrapping_add(f.offset), f.size.unwrap_or(8))?;
        Ok(match f.bits {
            Some((shift, width)) if width < 64 => (raw >> shift) & ((1u64 << width) - 1),
            _ => raw,
        })
    }

    /// Address of member `path` of the struct at `addr` (`&p->path`).
    pub fn field_addr(&self, addr: u64, name: &str, path: &str) -> Result<u64> {
        Ok(addr.wrapping_add(self.layouts.offset(name, path)?))
    }

    /// Reads a fixed-size char array member as a string (e.g. `comm`).
    pub fn read_field_string(&self, addr: u64, name: &str, path: &str) -> Result<String> {
        self.read_resolved_string(addr, &self.layouts.field(name, path)?)
    }

    /// [`read_field_string`](Self::read_field_string) of a member already resolved.
    pub fn read_resolved_string(&self, addr: u64, f: &crate::layout::Field) -> Result<String> {
        let len = f.size.unwrap_or(16) as usize;
        self.mem.read_cstr(addr.wrapping_add(f.offset), len)
    }

    /// Physical address of a kernel virtual address.
    pub fn virt_to_phys(&self, vaddr: u64) -> Result<u64> {
        self.mem.virt_to_phys(vaddr)
    }

    /// True if `addr` lies in the kernel image or module text.
    pub fn is_kernel_text(&self, addr: u64) -> bool {
        self.image_bounds().text.is_some_and(|(stext, etext)| (stext..etext).contains(&addr))
    }
}

impl VirtualMemory for Kernel {
    fn read_virt(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        self.mem.read_virt(addr, buf)
    }
}

/// Symbols and types from a vmlinux: its BTF when it has `.BTF`, else its
/// DWARF (see [`crate::layout`] for the provider chain).
fn load_vmlinux(path: &Path, kaslr_offset: u64, vmcoreinfo: &VmcoreInfo, force: bool) -> Result<LoadedDebuginfo> {
    let info = crate::vmlinux_search::load_vmlinux(path)?;
    if !force {
        crate::vmlinux_search::check_match(path, &info, vmcoreinfo.build_id())?;
    }
    let symbols = info.symbols.with_offset(kaslr_offset);
    let symbols_from = format!("{} (ELF symbols)", path.display());
    if let Some(btf) = info.btf.as_ref() {
        return Ok(LoadedDebuginfo {
            symbols,
            types: Some(crate::vmlinux_search::as_provider(btf)),
            type_source: TypeSource::Btf,
            sources: DebuginfoSources {
                symbols: symbols_from,
                types: format!("{} (BTF; DWARF on demand)", path.display()),
            },
            dwarf: None,
        });
    }
    // No BTF: the DWARF gives the same types (its name index is built on
    // the first lookup, in parallel).
    match krash_dwarf::DwarfFile::open(path) {
        Ok(file) => {
            let file = Arc::new(file);
            let types: Arc<dyn TypeProvider> = Arc::new(krash_dwarf::DwarfTypes::new(Arc::clone(&file)));
            Ok(LoadedDebuginfo {
                symbols,
                types: Some(types),
                type_source: TypeSource::Dwarf,
                sources: DebuginfoSources {
                    symbols: symbols_from,
                    types: format!("{} (DWARF; the vmlinux has no BTF)", path.display()),
                },
                dwarf: Some(file),
            })
        }
        Err(e) => Ok(LoadedDebuginfo {
            symbols,
            types: None,
            type_source: TypeSource::None,
            sources: DebuginfoSources {
                symbols: symbols_from,
                types: format!("none: {} has no BTF, and its DWARF is unusable ({e}); VMCOREINFO only", path.display()),
            },
            dwarf: None,
        }),
    }
}

/// Resolves the architecture's address-space layout for this kernel and
/// finds its page-table root. Variables (the KASLR bases) live in the
/// kernel image, so the layout is resolved twice: first without them (the
/// image's linear mapping then comes from VMCOREINFO's `phys_base`), then
/// with them read through that mapping, which needs no page tables.
pub(crate) fn discover_layout(
    dump: &Dump,
    arch: &'static Arch,
    vmcoreinfo: &VmcoreInfo,
    symbols: &SymbolTable,
) -> Result<KernelLayout> {
    let max_phys = dump.phys_ranges().iter().map(|r| r.end).max().unwrap_or(0);
    // NUMBER values are written signed (`phys_base` may be negative).
    let numbers = |value: LayoutValue| match value {
        LayoutValue::VmcoreinfoNumber(name) => vmcoreinfo.number(name).map(|n| n as u64),
        LayoutValue::PhysicalEnd => Some(max_phys),
        LayoutValue::PageSize => vmcoreinfo.page_size(),
        LayoutValue::Symbol(name) => vmcoreinfo.symbol(name).or_else(|| symbols.by_name(name).map(|s| s.addr)),
        LayoutValue::Variable(_) => None,
    };
    let spec = arch.address_space(&numbers).ok_or_else(|| {
        Error::Unsupported(format!("no {} address-space layout fits this kernel's VMCOREINFO", arch.name()))
    })?;
    let first = spec.resolve(&numbers);

    let root_name = spec.kernel_root_symbols.first().copied().unwrap_or("the kernel page table");
    let pgt = spec
        .kernel_root_symbols
        .iter()
        .find_map(|name| vmcoreinfo.symbol(name).or_else(|| symbols.by_name(name).map(|s| s.addr)))
        .ok_or_else(|| Error::NotFound(format!("neither VMCOREINFO nor the symbol table has {root_name}")))?;
    let kernel_pgt_phys = first
        .linear_phys(pgt)
        .ok_or_else(|| Error::NotFound(format!("{root_name} ({pgt:#x}) is outside the kernel image mapping")))?;

    // A variable's page may be missing (a truncated or filtered dump): the
    // direct map's base is then where the page tables map physical 0.
    let direct_map_base = spec.regions.iter().find(|r| r.kind == RegionKind::DirectMap).and_then(|r| r.start_from);
    let read_variable = |name: &str| {
        let sym = symbols.by_name(name)?;
        dump.read_phys_u64(first.linear_phys(sym.addr)?).ok()
    };
    let lookup = |value: LayoutValue| match value {
        LayoutValue::Variable(name) => read_variable(name).or_else(|| {
            (Some(value) == direct_map_base).then(|| find_direct_map(dump, spec.paging, kernel_pgt_phys)).flatten()
        }),
        other => numbers(other),
    };
    Ok(KernelLayout { virt: spec.resolve(&lookup), kernel_pgt_phys })
}

/// Finds the direct map by walking the kernel half of the top-level page
/// table for the first slot whose first page maps physical address 0.
fn find_direct_map(dump: &Dump, paging: &PageTableFormat, root: u64) -> Option<u64> {
    let top = paging.levels.first()?;
    let entries = top.entries();
    (entries / 2..entries)
        .map(|slot| paging.canonicalize(slot << top.shift))
        .find(|&vaddr| paging.translate(dump, root, vaddr).is_ok_and(|t| t.paddr == 0))
}

#[cfg(test)]
mod tests {
    use crate::synthetic::SyntheticKernel;

    #[test]
    fn thread_size_is_the_boot_stack_the_linker_laid_out() {
        // A 32 KiB stack (KASAN), `__end_init_stack` right after it.
        let mut s = SyntheticKernel::new();
        s.global("init_stack", 32 << 10);
        s.global("__end_init_stack", 8);
        assert_eq!(s.build().unwrap().thread_size(), 32 << 10);
        // Before 6.x the end is `__end_init_task`.
        let mut s = SyntheticKernel::new();
        s.global("init_stack", 64 << 10);
        s.global("__end_init_task", 8);
        assert_eq!(s.build().unwrap().thread_size(), 64 << 10);
        // No symbols, or a size no stack has: the architecture's.
        let k = SyntheticKernel::new().build().unwrap();
        assert_eq!(k.thread_size(), k.arch().stacks.thread_size);
        let mut s = SyntheticKernel::new();
        s.global("init_stack", 24 << 10);
        s.global("__end_init_stack", 8);
        let k = s.build().unwrap();
        assert_eq!(k.thread_size(), k.arch().stacks.thread_size);
    }
}
