//! A [`Kernel`] over made-up memory, types and symbols, so the core and the
//! subsystem helpers get unit tests (and fuzz targets) without the dump
//! lab. Always compiled, for the reason krash_dumpfile::synthetic gives.
//!
//! Memory has the x86-64 kernel's two linear mappings and nothing else:
//! globals live in the kernel image (`START_KERNEL_MAP`, `phys_base` 0),
//! objects in the direct map at the default `page_offset_base`. Anything
//! else (vmalloc, modules, user space) faults as unmapped, since the top
//! page table is empty.
//!
//! ```
//! use krash_program::synthetic::SyntheticKernel;
//! let mut s = SyntheticKernel::new();
//! let ulong = s.types().int("long unsigned int", 8, false);
//! let jiffies = s.global("jiffies", 8);
//! s.types().variable("jiffies", ulong);
//! s.write_u64(jiffies, 4_294_937_296);
//! let kernel = s.build().unwrap();
//! assert_eq!(kernel.read_symbol_u64("jiffies").unwrap(), 4_294_937_296);
//! ```

use std::sync::Arc;

use krash_core::Result;
use krash_debuginfo::symbols::SymbolTableBuilder;
use krash_debuginfo::type_table::TypeTable;
use krash_dumpfile::synthetic::{ElfVmcoreBuilder, SyntheticCpu};
use krash_dumpfile::Dump;

use crate::Kernel;
use krash_arch::x86_64::START_KERNEL_MAP;

/// Physical address of the kernel image (its link address is
/// `START_KERNEL_MAP + IMAGE_PHYS`, as on a kernel loaded at 16 MiB).
const IMAGE_PHYS: u64 = 0x100_0000;
/// Physical address where direct-map objects start.
const HEAP_PHYS: u64 = 0x400_0000;
/// `__PAGE_OFFSET_BASE_L4`: the direct map without KASLR.
pub const PAGE_OFFSET: u64 = 0xffff_8880_0000_0000;
const PAGE: u64 = 4096;

/// Builds a synthetic kernel step by step.
pub struct SyntheticKernel {
    image: Vec<u8>,
    heap: Vec<u8>,
    types: TypeTable,
    symbols: Vec<(String, u64, u64, char)>,
    vmcoreinfo: Vec<String>,
    cpus: Vec<SyntheticCpu>,
}

impl Default for SyntheticKernel {
    fn default() -> Self {
        Self::new()
    }
}

impl SyntheticKernel {
    /// An empty kernel: an empty top-level page table (`init_top_pgt`) and
    /// `page_offset_base` in the image, no types, one CPU.
    pub fn new() -> Self {
        let mut s = SyntheticKernel {
            image: Vec::new(),
            heap: Vec::new(),
            types: TypeTable::new(),
            symbols: Vec::new(),
            vmcoreinfo: vec!["OSRELEASE=6.1.0-synthetic".into(), format!("PAGESIZE={PAGE}")],
            cpus: vec![SyntheticCpu::default()],
        };
        let pgt = s.global_aligned("init_top_pgt", PAGE, PAGE);
        s.vmcoreinfo.push(format!("SYMBOL(init_top_pgt)={pgt:x}"));
        let base = s.global("page_offset_base", 8);
        s.write_u64(base, PAGE_OFFSET);
        s
    }

    /// The types the kernel will have.
    pub fn types(&mut self) -> &mut TypeTable {
        &mut self.types
    }

    /// A global of `size` bytes in the kernel image, named `name` in the
    /// symbol table; returns its address.
    pub fn global(&mut self, name: &str, size: u64) -> u64 {
        self.global_aligned(name, size, 8)
    }

    fn global_aligned(&mut self, name: &str, size: u64, align: u64) -> u64 {
        let offset = (self.image.len() as u64).next_multiple_of(align);
        self.image.resize((offset + size.max(1)) as usize, 0);
        let addr = START_KERNEL_MAP + IMAGE_PHYS + offset;
        self.symbols.push((name.into(), addr, size, 'D'));
        addr
    }

    /// A function symbol (no code bytes) at a fresh image address.
    pub fn function(&mut self, name: &str, size: u64) -> u64 {
        let addr = self.global_aligned(name, size, 16);
        if let Some(last) = self.symbols.last_mut() {
            last.3 = 'T';
        }
        addr
    }

    /// `size` zeroed bytes in the direct map (an object the kernel
    /// allocated); returns their kernel virtual address.
    pub fn alloc(&mut self, size: u64) -> u64 {
        let offset = (self.heap.len() as u64).next_multiple_of(64);
        self.heap.resize((offset + size.max(1)) as usize, 0);
        PAGE_OFFSET + HEAP_PHYS + offset
    }

    /// Writes bytes at a kernel virtual address this builder handed out.
    /// Panics on any other address: a test that writes elsewhere is wrong.
    pub fn write(&mut self, addr: u64, bytes: &[u8]) {
        let (region, offset) = if addr >= START_KERNEL_MAP {
            (&mut self.image, addr - START_KERNEL_MAP - IMAGE_PHYS)
        } else {
            (&mut self.heap, addr - PAGE_OFFSET - HEAP_PHYS)
        };
        let start = offset as usize;
        region[start..start + bytes.len()].copy_from_slice(bytes);
    }

    pub fn write_u64(&mut self, addr: u64, value: u64) {
        self.write(addr, &value.to_le_bytes());
    }

    pub fn write_u32(&mut self, addr: u64, value: u32) {
        self.write(addr, &value.to_le_bytes());
    }

    /// A NUL-terminated string at `addr`.
    pub fn write_str(&mut self, addr: u64, text: &str) {
        let mut bytes = text.as_bytes().to_vec();
        bytes.push(0);
        self.write(addr, &bytes);
    }

    /// An extra `KEY=value` line of VMCOREINFO.
    pub fn vmcoreinfo_line(&mut self, line: &str) {
        self.vmcoreinfo.push(line.into());
    }

    /// The CPUs' saved registers (one CPU with zero registers by default).
    pub fn cpus(&mut self, cpus: Vec<SyntheticCpu>) {
        self.cpus = cpus;
    }

    /// The dump as ELF vmcore bytes (what `build` opens).
    pub fn vmcore_bytes(&self) -> Vec<u8> {
        let mut elf = ElfVmcoreBuilder::new();
        let pad = |mut v: Vec<u8>| {
            v.resize((v.len() as u64).next_multiple_of(PAGE).max(PAGE) as usize, 0);
            v
        };
        elf.memory(IMAGE_PHYS, pad(self.image.clone())).memory(HEAP_PHYS, pad(self.heap.clone()));
        for line in &self.vmcoreinfo {
            elf.vmcoreinfo_line(line);
        }
        for cpu in &self.cpus {
            elf.cpu(*cpu);
        }
        elf.build()
    }

    /// The kernel over everything added so far.
    pub fn build(self) -> Result<Kernel> {
        let dump = Dump::from_bytes(self.vmcore_bytes())?;
        let mut symbols = SymbolTableBuilder::new(None);
        for (name, addr, size, kind) in &self.symbols {
            symbols.push(name, *addr, *size, *kind)?;
        }
        Kernel::from_parts(dump, symbols.build(), Some(Arc::new(self.types)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::{walk, ListBreak, WalkOptions};
    use krash_core::VirtualMemory;

    /// A kernel with `struct node { struct list_head list; unsigned long value; }`.
    fn with_nodes() -> (SyntheticKernel, u64) {
        let mut s = SyntheticKernel::new();
        let ulong = s.types().int("long unsigned int", 8, false);
        let list_head = s.types().structure("list_head", 16, &[]);
        let ptr = s.types().pointer(list_head);
        let list_head = s.types().structure("list_head", 16, &[("next", ptr, 0), ("prev", ptr, 8)]);
        s.types().structure("node", 24, &[("list", list_head, 0), ("value", ulong, 16)]);
        let head = s.global("node_list", 16);
        (s, head)
    }

    /// Links `nodes` after `head` in a circular list.
    fn link(s: &mut SyntheticKernel, head: u64, nodes: &[u64]) {
        let all: Vec<u64> = std::iter::once(head).chain(nodes.iter().copied()).collect();
        for (i, &at) in all.iter().enumerate() {
            s.write_u64(at, all[(i + 1) % all.len()]);
            s.write_u64(at + 8, all[(i + all.len() - 1) % all.len()]);
        }
    }

    #[test]
    fn globals_objects_and_layouts_read_back() {
        let (mut s, head) = with_nodes();
        let node = s.alloc(24);
        link(&mut s, head, &[node]);
        s.write_u64(node + 16, 42);
        let k = s.build().unwrap();
        assert_eq!(k.symbol_addr("node_list").unwrap(), head);
        assert_eq!(k.layouts().offset("node", "value").unwrap(), 16);
        assert_eq!(k.read_field_u64(node, "node", "value").unwrap(), 42);
        assert_eq!(k.memory().read_u64(head).unwrap(), node);
        assert_eq!(k.utsname().map(|u| u.release).ok(), None, "no init_uts_ns was made");
    }

    #[test]
    fn a_walk_reports_a_cycle_that_misses_the_head() {
        let (mut s, head) = with_nodes();
        let a = s.alloc(24);
        let b = s.alloc(24);
        let c = s.alloc(24);
        link(&mut s, head, &[a, b, c]);
        // c points back to a: the walk never returns to the head.
        s.write_u64(c, a);
        let k = s.build().unwrap();
        let w = walk(k.memory(), head, WalkOptions::default());
        // Brent's detection needs a few steps past the first repeat: the
        // walk shows the loop once, then stops, naming a node on it.
        assert_eq!(w.nodes.get(..3), Some(&[a, b, c][..]));
        assert!(w.nodes.len() <= 2 * 3, "{:x?}", w.nodes);
        match w.broken {
            Some(ListBreak::Cycle { at }) => assert!([a, b, c].contains(&at), "{at:x}"),
            other => panic!("expected a cycle, got {other:?}"),
        }
    }

    #[test]
    fn addresses_outside_the_two_linear_maps_fault_with_their_address() {
        let k = SyntheticKernel::new().build().unwrap();
        let vmalloc = 0xffff_c900_0000_1000;
        let err = k.memory().read_u64(vmalloc).unwrap_err();
        assert!(err.is_fault(), "{err}");
        assert!(err.to_string().contains("ffffc90000001000"), "{err}");
    }
}
