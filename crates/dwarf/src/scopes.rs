//! The nest of scopes covering an address inside one function: the
//! concrete subprogram, the inlined subroutines (innermost last) and the
//! lexical blocks between them, each with the variables it declares.

use gimli::UnitOffset;
use krash_core::Result;

use crate::bytes::Reader;
use crate::sections::dwarf_error;
use crate::units::CompUnit;

/// What kind of scope a DIE opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    Subprogram,
    Inlined,
    Block,
}

/// One scope on the path from the subprogram down to the address.
#[derive(Debug, Clone)]
pub struct Scope {
    pub kind: ScopeKind,
    pub offset: UnitOffset,
    /// DW_TAG_formal_parameter and DW_TAG_variable children, in order.
    pub variables: Vec<UnitOffset>,
}

/// Inline nesting in the kernel is a few levels deep; this bounds the
/// descent on corrupt input.
const MAX_DEPTH: usize = 128;

/// The scopes from `subprogram` down to the innermost one covering `addr`.
pub fn scopes_at(dwarf: &gimli::Dwarf<Reader>, cu: &CompUnit, subprogram: UnitOffset, addr: u64) -> Result<Vec<Scope>> {
    let context = || cu.context(subprogram);
    let mut scopes = Vec::new();
    let mut kind = ScopeKind::Subprogram;
    let mut offset = subprogram;
    loop {
        let mut tree = cu.unit.entries_tree(Some(offset)).map_err(|e| dwarf_error(context(), e))?;
        let node = tree.root().map_err(|e| dwarf_error(context(), e))?;
        let mut variables = Vec::new();
        let mut inner = None;
        let mut children = node.children();
        while let Some(child) = children.next().map_err(|e| dwarf_error(context(), e))? {
            let entry = child.entry();
            match entry.tag() {
                gimli::DW_TAG_formal_parameter | gimli::DW_TAG_variable => {
                    variables.push(entry.offset());
                }
                gimli::DW_TAG_inlined_subroutine | gimli::DW_TAG_lexical_block
                    if inner.is_none() && cu.die_contains(dwarf, entry, addr)? =>
                {
                    let child_kind = if entry.tag() == gimli::DW_TAG_inlined_subroutine {
                        ScopeKind::Inlined
                    } else {
                        ScopeKind::Block
                    };
                    inner = Some((child_kind, entry.offset()));
                }
                _ => {}
            }
        }
        scopes.push(Scope { kind, offset, variables });
        let Some((next_kind, next_offset)) = inner else {
            break;
        };
        if scopes.len() >= MAX_DEPTH {
            break;
        }
        kind = next_kind;
        offset = next_offset;
    }
    Ok(scopes)
}
