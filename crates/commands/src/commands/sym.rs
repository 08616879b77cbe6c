//! `sym`: symbols by address or name, symbol listings, and faddr2line.

use krash_core::Result;
use krash_program::symbolize::Symbol;
use krash_program::Kernel;

use crate::source::{InlineLocation, SourceLocation};
use crate::{getopt, parse_hex, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "sym",
    aliases: &[],
    summary: "translate a symbol to its virtual address, or vice-versa",
    synopsis: "sym [-l] | [-M] | [-m module] | [-q string] | [symbol | vaddr | func+0xoff/0xsize]",
    details: "  symbol   the symbol's address, type and source line\n\
              \x20 vaddr    the symbol holding the address, with the offset into it and the\n\
              \x20          source line (module lines once mod -s loaded the module's debuginfo)\n\
              \x20 func+0xoff[/0xsize]  the address and its inline chain, as the kernel's\n\
              \x20          scripts/faddr2line prints it\n\
              \x20 -l       every kernel symbol, then every module's\n\
              \x20 -M       every module symbol\n\
              \x20 -m module  that module's symbols\n\
              \x20 -q string  every symbol whose name contains string",
    run,
};

/// One symbol line: `addr (T) name+off [module] file: line`.
#[derive(Debug, Clone)]
pub struct SymLine {
    /// The address shown (symbol address plus offset).
    pub addr: u64,
    /// The symbol type letter (`T`, `t`, `D`, ...).
    pub kind: char,
    pub name: String,
    pub offset: u64,
    /// The module holding the symbol, if any.
    pub module: Option<String>,
    /// The source line, when debuginfo covers the address.
    pub source: Option<SourceLocation>,
}

/// Which end of a module a listing marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleEdge {
    Start,
    End,
}

/// One line (or group of lines) of `sym` output.
#[derive(Debug, Clone)]
pub enum SymEntry {
    Symbol(SymLine),
    /// `addr MODULE START: name` and `MODULE END` markers of listings.
    ModuleMark {
        addr: u64,
        edge: ModuleEdge,
        module: String,
    },
    /// faddr2line's answer for one specification: the inline chain,
    /// innermost first.
    Faddr2line {
        spec: String,
        addr: u64,
        chain: Vec<InlineLocation>,
    },
    /// A `func+off` specification faddr2line could not resolve.
    Faddr2lineError {
        spec: String,
        message: String,
    },
    /// No symbol has this name or address.
    NotFound {
        name: String,
    },
    /// Symbols whose names contain a name that was not found.
    Alternatives {
        symbols: Vec<SymLine>,
    },
}

/// What `sym` produced.
#[derive(Debug, Clone)]
pub struct Sym {
    pub entries: Vec<SymEntry>,
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("sym", args, "lMm:q:")?;
    let k = &session.kernel;
    let mut entries = Vec::new();
    if let Some(text) = p.value('q') {
        query(k, text, &mut entries);
    }
    if p.has('l') {
        entries.extend(k.symbols().iter().map(|s| listing_line(&s)));
        list_modules(k, None, &mut entries)?;
    }
    if p.has('M') {
        list_modules(k, None, &mut entries)?;
    }
    if let Some(name) = p.value('m') {
        k.module_by_name(name)?;
        list_modules(k, Some(name), &mut entries)?;
    }
    for arg in &p.args {
        one_argument(k, arg, &mut entries);
    }
    if entries.is_empty() && p.opts.is_empty() && p.args.is_empty() {
        return Err(krash_core::Error::Usage(format!("usage: {}", SPEC.synopsis)));
    }
    Ok(Output::Sym(Sym { entries }))
}

fn one_argument(k: &Kernel, arg: &str, out: &mut Vec<SymEntry>) {
    if let Some(sym) = k.lookup_symbol(arg) {
        out.push(SymEntry::Symbol(described(k, sym.addr, &sym.name, sym.kind, 0, sym.module)));
        return;
    }
    if arg.contains('+') {
        match k.faddr2line(arg) {
            Ok(found) => {
                let chain = found.frames.iter().map(InlineLocation::of).collect();
                out.push(SymEntry::Faddr2line { spec: arg.to_string(), addr: found.addr, chain });
            }
            Err(e) => out.push(SymEntry::Faddr2lineError { spec: arg.to_string(), message: e.to_string() }),
        }
        return;
    }
    if let Some(addr) = parse_hex(arg) {
        match k.symbol_at(addr) {
            Some((sym, offset)) => {
                let line = described(k, sym.addr, sym.name, sym.kind, offset, sym.module.map(str::to_string));
                out.push(SymEntry::Symbol(line));
            }
            None => out.push(SymEntry::NotFound { name: arg.to_string() }),
        }
        return;
    }
    out.push(SymEntry::NotFound { name: arg.to_string() });
    let mut found = Vec::new();
    query(k, arg, &mut found);
    let symbols = found
        .into_iter()
        .filter_map(|e| match e {
            SymEntry::Symbol(line) => Some(line),
            _ => None,
        })
        .collect();
    out.push(SymEntry::Alternatives { symbols });
}

/// `sym`'s full line for one symbol: with the module and the source line.
fn described(k: &Kernel, sym_addr: u64, name: &str, kind: char, offset: u64, module: Option<String>) -> SymLine {
    let addr = sym_addr.wrapping_add(offset);
    let source = if k.is_text_address(addr) { k.source_line(addr).map(|l| SourceLocation::of(&l)) } else { None };
    SymLine { addr, kind, name: name.to_string(), offset, module, source }
}

fn listing_line(sym: &Symbol<'_>) -> SymEntry {
    SymEntry::Symbol(SymLine {
        addr: sym.addr,
        kind: sym.kind,
        name: sym.name.to_string(),
        offset: 0,
        module: None,
        source: None,
    })
}

fn list_modules(k: &Kernel, only: Option<&str>, out: &mut Vec<SymEntry>) -> Result<()> {
    for m in k.modules()? {
        if only.is_some_and(|name| name != m.name) {
            continue;
        }
        out.push(SymEntry::ModuleMark { addr: m.base, edge: ModuleEdge::Start, module: m.name.clone() });
        out.extend(m.symbols.iter().map(|s| listing_line(&s)));
        out.push(SymEntry::ModuleMark {
            addr: m.base.wrapping_add(m.size),
            edge: ModuleEdge::End,
            module: m.name.clone(),
        });
    }
    Ok(())
}

fn query(k: &Kernel, text: &str, out: &mut Vec<SymEntry>) {
    let matching = |s: &Symbol<'_>| s.name.contains(text);
    out.extend(k.symbols().iter().filter(|s| matching(s)).map(|s| listing_line(&s)));
    if let Ok(modules) = k.modules() {
        for m in modules {
            for s in m.symbols.iter().filter(|s| matching(s)) {
                out.push(SymEntry::Symbol(SymLine {
                    addr: s.addr,
                    kind: s.kind,
                    name: s.name.to_string(),
                    offset: 0,
                    module: Some(m.name.clone()),
                    source: None,
                }));
            }
        }
    }
}
