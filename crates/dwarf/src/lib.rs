//! krash-dwarf: DWARF feeding the debuginfo type model; lines and inline chains.
//!
//! [`DwarfFile`] maps a vmlinux, separate `.debug` file or module `.ko`
//! and decodes only what a question needs: `.debug_aranges` names the unit
//! covering an address, and that unit's line table and function ranges are
//! decoded on first use and cached.
//!
//! [`DwarfTypes`] is the DWARF producer of the shared type model
//! ([`krash_debuginfo::TypeProvider`]): a name index built in parallel on
//! the first lookup, and types converted from their DIEs on demand.

mod aranges;
mod bytes;
mod faddr2line;
mod file;
mod functions;
mod lines;
mod location;
mod paths;
mod scopes;
mod sections;
mod types;
mod units;

pub use bytes::{Reader, SectionBytes};
pub use faddr2line::{Faddr2line, FuncOffset};
pub use file::{DwarfFile, InlineFrame, LineBoundary, SourceLine};
pub use functions::{Function, ScopeVariable, Variable, VariableLocation};
pub use location::{RegisterAndMemory, VariableValue};
pub use paths::{join_path, normalize};
pub use sections::{AllocSection, SectionBases};
pub use types::{stored, DwarfTypes, IndexStats, VariablePlacement};
