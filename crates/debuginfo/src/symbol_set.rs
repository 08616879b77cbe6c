//! The kernel image's symbols together with every loaded module's, for
//! lookups that should not care where a symbol lives.

use crate::symbols::{Symbol, SymbolTable};

/// Kernel plus module symbol tables.
#[derive(Debug, Clone)]
pub struct SymbolSet {
    kernel: SymbolTable,
    modules: Vec<SymbolTable>,
}

impl SymbolSet {
    /// A set holding only the kernel image's table.
    pub fn new(kernel: SymbolTable) -> Self {
        SymbolSet { kernel, modules: Vec::new() }
    }

    /// Adds (or replaces, by module name) one module's table.
    pub fn add_module(&mut self, table: SymbolTable) {
        match self.modules.iter_mut().find(|m| m.module() == table.module()) {
            Some(slot) => *slot = table,
            None => self.modules.push(table),
        }
    }

    /// The kernel image's table.
    pub fn kernel(&self) -> &SymbolTable {
        &self.kernel
    }

    /// Module tables in the order added.
    pub fn modules(&self) -> &[SymbolTable] {
        &self.modules
    }

    /// One module's table by module name.
    pub fn module(&self, name: &str) -> Option<&SymbolTable> {
        self.modules.iter().find(|m| m.module() == Some(name))
    }

    /// A symbol by name: the kernel's first, then the modules' in order.
    pub fn by_name(&self, name: &str) -> Option<Symbol<'_>> {
        self.kernel.by_name(name).or_else(|| self.modules.iter().find_map(|m| m.by_name(name)))
    }

    /// The closest symbol at or below `addr` over all tables (a module
    /// address is far above the kernel's last symbol, so the smallest
    /// offset wins), preferring one whose known size covers `addr`.
    pub fn by_addr(&self, addr: u64) -> Option<(Symbol<'_>, u64)> {
        std::iter::once(&self.kernel)
            .chain(&self.modules)
            .filter_map(|t| t.by_addr(addr))
            .min_by_key(|(sym, off)| (sym.size != 0 && *off >= sym.size, *off))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::symbols::SymbolTableBuilder;

    #[test]
    fn module_addresses_resolve_to_module_symbols() {
        let mut kernel = SymbolTableBuilder::new(None);
        kernel.push("schedule", 0xffff_ffff_8100_0000, 0x100, 'T').unwrap();
        kernel.push("_end", 0xffff_ffff_8300_0000, 0, 'B').unwrap();
        let mut module = SymbolTableBuilder::new(Some("ext4"));
        module.push("ext4_fill_super", 0xffff_ffff_c000_1000, 0x400, 't').unwrap();
        let mut set = SymbolSet::new(kernel.build());
        set.add_module(module.build());
        let (sym, off) = set.by_addr(0xffff_ffff_c000_1010).unwrap();
        assert_eq!((sym.name, sym.module, off), ("ext4_fill_super", Some("ext4"), 0x10));
        assert_eq!(set.by_addr(0xffff_ffff_8100_0004).unwrap().0.name, "schedule");
        assert_eq!(set.by_name("ext4_fill_super").unwrap().module, Some("ext4"));
        assert!(set.module("ext4").is_some());
    }
}
