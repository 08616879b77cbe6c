//! Source positions as data: commands say where code comes from, the
//! renderer decides how to print it (`file: line` for crash's `bt -l`,
//! `dis -l`, `sym`; `path:line` for faddr2line and `krash decode`).

use krash_program::symbolize::{InlineFrame, SourceLine};

/// A source line of kernel or module code, from DWARF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLocation {
    /// The full path (the compilation directory joined), as gdb and crash show it.
    pub file: String,
    /// The path as the kernel's scripts/faddr2line shows it (relative to the
    /// source tree when DWARF says so; may equal `file`).
    pub relative: String,
    pub line: u32,
    /// The column, when DWARF records one.
    pub column: Option<u32>,
}

impl SourceLocation {
    pub fn of(l: &SourceLine) -> SourceLocation {
        SourceLocation {
            file: l.file.to_string(),
            relative: l.relative.clone(),
            line: l.line,
            column: (l.column != 0).then_some(l.column),
        }
    }

    /// True when both name the same file and line (columns aside): crash
    /// shows a new source line only when one of these changes.
    pub fn same_line(&self, other: &SourceLocation) -> bool {
        self.file == other.file && self.line == other.line
    }
}

/// One level of an inline chain: `function` runs at `location`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineLocation {
    pub function: String,
    pub location: Option<SourceLocation>,
}

impl InlineLocation {
    pub fn of(f: &InlineFrame) -> InlineLocation {
        InlineLocation { function: f.function.clone(), location: f.location.as_ref().map(SourceLocation::of) }
    }
}

/// A symbol plus an offset into it: crash shows `name` or `name+offset`
/// (offset in decimal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolRef {
    pub name: String,
    pub offset: u64,
}
