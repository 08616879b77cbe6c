//! `func+0xoff/0xsize` resolution, as the kernel's scripts/faddr2line does.

use krash_core::{Error, Result};

use crate::file::{DwarfFile, InlineFrame};

/// A parsed `func+0xoff[/0xsize]` specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncOffset {
    pub function: String,
    pub offset: u64,
    pub size: Option<u64>,
}

fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

impl std::str::FromStr for FuncOffset {
    type Err = Error;
    fn from_str(spec: &str) -> Result<Self> {
        let bad = || Error::Usage(format!("{spec}: expected func+0xoff/0xsize"));
        let (function, rest) = spec.rsplit_once('+').ok_or_else(bad)?;
        let (offset, size) = match rest.split_once('/') {
            Some((off, size)) => (off, Some(parse_number(size).ok_or_else(bad)?)),
            None => (rest, None),
        };
        let offset = parse_number(offset).ok_or_else(bad)?;
        if function.is_empty() {
            return Err(bad());
        }
        Ok(FuncOffset { function: function.to_string(), offset, size })
    }
}

/// One resolved specification: the address and its inline chain.
#[derive(Debug, Clone)]
pub struct Faddr2line {
    pub addr: u64,
    pub frames: Vec<InlineFrame>,
}

impl Faddr2line {
    /// The chain as faddr2line prints it, one frame a line, outer frames
    /// prefixed by `(inlined by) `.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (i, frame) in self.frames.iter().enumerate() {
            if i > 0 {
                out.push_str("(inlined by) ");
            }
            let location = frame
                .location
                .as_ref()
                .map(|l| format!("{}:{}", l.relative, l.line))
                .unwrap_or_else(|| "??:?".to_string());
            out.push_str(&format!("{} at {}\n", frame.function, location));
        }
        out
    }
}

impl DwarfFile {
    /// Resolves `spec` given the symbol table's start address and size of
    /// its function; a size that differs from the one in `spec` means the
    /// trace came from another build, as faddr2line warns.
    pub fn faddr2line(&self, symbol_start: u64, symbol_size: u64, spec: &FuncOffset) -> Result<Faddr2line> {
        if let Some(size) = spec.size {
            if size != symbol_size {
                return Err(Error::NotFound(format!(
                    "{}: size {size:#x} does not match the symbol table's {symbol_size:#x} (different build?)",
                    spec.function
                )));
            }
        }
        if spec.offset >= symbol_size {
            return Err(Error::NotFound(format!(
                "{}: offset {:#x} is past the end of the function ({symbol_size:#x})",
                spec.function, spec.offset
            )));
        }
        let addr = symbol_start
            .checked_add(spec.offset)
            .ok_or_else(|| Error::Usage(format!("{}: offset overflows the address", spec.function)))?;
        Ok(Faddr2line { addr, frames: self.frames(addr)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        let s: FuncOffset = "nfs_inode_add_request+0x1cc/0x5b8".parse().unwrap();
        assert_eq!(s.function, "nfs_inode_add_request");
        assert_eq!(s.offset, 0x1cc);
        assert_eq!(s.size, Some(0x5b8));
        let s: FuncOffset = "foo.isra.0+16".parse().unwrap();
        assert_eq!((s.function.as_str(), s.offset, s.size), ("foo.isra.0", 16, None));
        assert!("nofunc".parse::<FuncOffset>().is_err());
        assert!("+0x10".parse::<FuncOffset>().is_err());
    }
}
