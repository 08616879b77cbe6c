//! The function covering an address and its parameters and locals, with
//! their DWARF locations and type names.

use std::sync::Arc;

use gimli::{Reader as _, UnitOffset};
use krash_core::Result;

use crate::bytes::Reader;
use crate::file::DwarfFile;
use crate::scopes::{scopes_at, ScopeKind};
use crate::sections::dwarf_error;
use crate::units::CompUnit;

/// A concrete function (DW_TAG_subprogram with code).
#[derive(Clone)]
pub struct Function {
    pub name: String,
    /// Where execution enters: DW_AT_low_pc, or the first listed range of
    /// a function split into hot and cold parts (as gdb counts offsets).
    pub entry_pc: u64,
    /// Every code range, sorted.
    pub ranges: Vec<(u64, u64)>,
    pub parameters: Vec<Variable>,
    /// Locals of the function and of the lexical blocks covering the
    /// address (not those of functions inlined into it).
    pub locals: Vec<Variable>,
    pub(crate) unit: Arc<CompUnit>,
    pub(crate) die: UnitOffset,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function")
            .field("name", &self.name)
            .field("entry_pc", &format_args!("{:#x}", self.entry_pc))
            .field("ranges", &self.ranges)
            .field("parameters", &self.parameters)
            .field("locals", &self.locals)
            .finish()
    }
}

impl Function {
    /// Lowest address of the function's code.
    pub fn low_pc(&self) -> u64 {
        self.ranges.first().map_or(self.entry_pc, |r| r.0)
    }
    /// True when the function comes from an assembler source (gas emits
    /// DWARF for `.S` files); gdb does not treat those as full symbols.
    pub fn is_assembly(&self) -> bool {
        let root = self.unit.unit.entries().next_dfs().ok().flatten().map(|(_, e)| e.attr_value(gimli::DW_AT_language));
        matches!(root, Some(Ok(Some(gimli::AttributeValue::Language(gimli::DW_LANG_Mips_Assembler)))))
    }

    /// One past the highest address of the function's code.
    pub fn high_pc(&self) -> u64 {
        self.ranges.iter().map(|r| r.1).max().unwrap_or(self.entry_pc)
    }
}

/// A parameter or local variable.
#[derive(Debug, Clone)]
pub struct Variable {
    pub name: String,
    /// The C spelling of its type (`struct task_struct *`), `?` if unknown.
    pub type_name: String,
    pub location: VariableLocation,
}

/// A variable of one scope covering an address ([`DwarfFile::variables_in_scope_at`]).
#[derive(Debug, Clone)]
pub struct ScopeVariable {
    /// The function whose scope declares it (an inlined one's own name).
    pub function: String,
    pub is_parameter: bool,
    pub variable: Variable,
}

/// Where a variable lives, before evaluation at a particular pc.
#[derive(Debug, Clone)]
pub enum VariableLocation {
    /// The compiler kept no location for it.
    OptimizedOut,
    /// One DWARF expression valid throughout the scope.
    Expression(gimli::Expression<Reader>),
    /// A location list: different expressions at different pcs.
    List(gimli::LocationListsOffset),
    /// DW_AT_const_value: the value itself.
    Constant(Vec<u8>),
}

/// Bounds the walk down pointer/typedef chains when spelling a type.
const MAX_TYPE_DEPTH: usize = 16;

impl DwarfFile {
    /// The function whose code covers `addr`, with its variables in scope.
    pub fn function_at(&self, addr: u64) -> Result<Option<Function>> {
        let Some(cu) = self.unit_for(addr)? else {
            return Ok(None);
        };
        let functions = cu.functions(&self.dwarf)?;
        let Some((die, _, _)) = functions.find(addr) else {
            return Ok(None);
        };
        let name = self.die_name(&cu, die)?.unwrap_or_else(|| "??".to_string());
        let entry = cu.unit.entry(die).map_err(|e| dwarf_error(cu.context(die), e))?;
        let entry_pc = match entry.attr_value(gimli::DW_AT_low_pc) {
            Ok(Some(gimli::AttributeValue::Addr(a))) => Some(a),
            _ => None,
        };
        let entry_pc = match entry_pc {
            Some(pc) => pc,
            None => {
                let mut ranges =
                    self.dwarf.die_ranges(&cu.unit, &entry).map_err(|e| dwarf_error(cu.context(die), e))?;
                ranges.next().map_err(|e| dwarf_error(cu.context(die), e))?.map_or(addr, |r| r.begin)
            }
        };
        let ranges = functions.ranges_of(die);
        let scopes = scopes_at(&self.dwarf, &cu, die, addr)?;
        let mut parameters = Vec::new();
        let mut locals = Vec::new();
        for scope in scopes.iter().take_while(|s| s.kind != ScopeKind::Inlined) {
            for &var in &scope.variables {
                let is_parameter =
                    cu.unit.entry(var).map(|e| e.tag() == gimli::DW_TAG_formal_parameter).unwrap_or(false);
                let variable = self.variable(&cu, var)?;
                if is_parameter {
                    parameters.push(variable);
                } else {
                    locals.push(variable);
                }
            }
        }
        Ok(Some(Function { name, entry_pc, ranges, parameters, locals, unit: cu, die }))
    }

    /// Every variable in scope at `addr`: the function's own and those of
    /// the functions inlined there (a parameter gcc folded to a constant
    /// lives in the inlined copy's scope), innermost scope last, each with
    /// the name of the function whose scope declares it.
    pub fn variables_in_scope_at(&self, addr: u64) -> Result<Option<(Function, Vec<ScopeVariable>)>> {
        let Some(function) = self.function_at(addr)? else {
            return Ok(None);
        };
        let cu = Arc::clone(&function.unit);
        let mut found = Vec::new();
        let mut scope_function = function.name.clone();
        for scope in scopes_at(&self.dwarf, &cu, function.die, addr)? {
            if scope.kind == ScopeKind::Inlined {
                scope_function = self.die_name(&cu, scope.offset)?.unwrap_or_else(|| "??".to_string());
            }
            for &var in &scope.variables {
                let is_parameter =
                    cu.unit.entry(var).map(|e| e.tag() == gimli::DW_TAG_formal_parameter).unwrap_or(false);
                found.push(ScopeVariable {
                    function: scope_function.clone(),
                    is_parameter,
                    variable: self.variable(&cu, var)?,
                });
            }
        }
        Ok(Some((function, found)))
    }

    /// The function name and entry pc covering `addr`, for symbolizing as
    /// gdb does (C functions from DWARF win over ELF symbols inside them;
    /// assembler functions are left to the ELF symbols).
    pub fn function_name_at(&self, addr: u64) -> Result<Option<(String, u64)>> {
        Ok(self.function_at(addr)?.filter(|f| !f.is_assembly()).map(|f| (f.name, f.entry_pc)))
    }

    fn variable(&self, cu: &Arc<CompUnit>, offset: UnitOffset) -> Result<Variable> {
        let name = self.die_name(cu, offset)?.unwrap_or_else(|| "?".to_string());
        let type_name = match self.attr_via_origin(cu, offset, gimli::DW_AT_type)? {
            Some((owner, value)) => self.type_name_of(&owner, value, 0),
            None => "void".to_string(),
        };
        let entry = cu.unit.entry(offset).map_err(|e| dwarf_error(cu.context(offset), e))?;
        let location = match entry.attr_value(gimli::DW_AT_location) {
            Ok(Some(gimli::AttributeValue::Exprloc(expr))) => VariableLocation::Expression(expr),
            Ok(Some(gimli::AttributeValue::LocationListsRef(list))) => VariableLocation::List(list),
            Ok(Some(gimli::AttributeValue::SecOffset(off))) => VariableLocation::List(gimli::LocationListsOffset(off)),
            _ => match entry.attr_value(gimli::DW_AT_const_value) {
                Ok(Some(gimli::AttributeValue::Block(block))) => {
                    VariableLocation::Constant(block.to_slice().map(|b| b.to_vec()).unwrap_or_default())
                }
                Ok(Some(value)) => match value.sdata_value().or_else(|| value.udata_value().map(|u| u as i64)) {
                    Some(v) => VariableLocation::Constant(v.to_le_bytes().to_vec()),
                    None => VariableLocation::OptimizedOut,
                },
                _ => VariableLocation::OptimizedOut,
            },
        };
        Ok(Variable { name, type_name, location })
    }

    /// Spells the type a DW_AT_type value points to, as C would.
    fn type_name_of(&self, cu: &Arc<CompUnit>, value: gimli::AttributeValue<Reader>, depth: usize) -> String {
        if depth > MAX_TYPE_DEPTH {
            return "?".to_string();
        }
        let (owner, offset) = match value {
            gimli::AttributeValue::UnitRef(o) => (Arc::clone(cu), o),
            gimli::AttributeValue::DebugInfoRef(global) => {
                let Ok(other) = self.unit_holding(global) else {
                    return "?".to_string();
                };
                let Some(local) = global.to_unit_offset(&other.unit.header) else {
                    return "?".to_string();
                };
                (other, local)
            }
            _ => return "?".to_string(),
        };
        let Ok(entry) = owner.unit.entry(offset) else {
            return "?".to_string();
        };
        let name = self.die_name(&owner, offset).ok().flatten();
        let inner = || match entry.attr_value(gimli::DW_AT_type) {
            // `depth` is checked against MAX_TYPE_DEPTH on entry; saturating
            // keeps that check meaningful regardless.
            Ok(Some(v)) => self.type_name_of(&owner, v, depth.saturating_add(1)),
            _ => "void".to_string(),
        };
        let tagged = |keyword: &str| match &name {
            Some(n) => format!("{keyword} {n}"),
            None => format!("{keyword} {{...}}"),
        };
        match entry.tag() {
            gimli::DW_TAG_structure_type => tagged("struct"),
            gimli::DW_TAG_union_type => tagged("union"),
            gimli::DW_TAG_enumeration_type => tagged("enum"),
            gimli::DW_TAG_pointer_type => {
                let target = inner();
                if target.ends_with('*') {
                    format!("{target}*")
                } else {
                    format!("{target} *")
                }
            }
            gimli::DW_TAG_const_type => format!("const {}", inner()),
            gimli::DW_TAG_volatile_type => format!("volatile {}", inner()),
            gimli::DW_TAG_restrict_type | gimli::DW_TAG_atomic_type => inner(),
            gimli::DW_TAG_array_type => format!("{} {}", inner(), array_dimensions(&owner, offset)),
            gimli::DW_TAG_subroutine_type => format!("{} (*)()", inner()),
            _ => name.unwrap_or_else(|| "?".to_string()),
        }
    }
}

/// An array type's dimensions as C spells them (`[16]`, `[4][8]`; `[]`
/// where DWARF gives no bound, a flexible array member's).
fn array_dimensions(cu: &CompUnit, offset: gimli::UnitOffset<<Reader as gimli::Reader>::Offset>) -> String {
    let bound = |entry: &gimli::DebuggingInformationEntry<'_, '_, Reader>| -> Option<u64> {
        if let Ok(Some(count)) = entry.attr_value(gimli::DW_AT_count) {
            return count.udata_value();
        }
        let upper = entry.attr_value(gimli::DW_AT_upper_bound).ok()??.udata_value()?;
        let lower = match entry.attr_value(gimli::DW_AT_lower_bound) {
            Ok(Some(v)) => v.udata_value()?,
            _ => 0,
        };
        upper.checked_sub(lower)?.checked_add(1)
    };
    let mut dims = String::new();
    if let Ok(mut tree) = cu.unit.entries_tree(Some(offset)) {
        if let Ok(root) = tree.root() {
            let mut children = root.children();
            while let Ok(Some(child)) = children.next() {
                let entry = child.entry();
                if entry.tag() == gimli::DW_TAG_subrange_type {
                    match bound(entry) {
                        Some(n) => dims.push_str(&format!("[{n}]")),
                        None => dims.push_str("[]"),
                    }
                }
            }
        }
    }
    if dims.is_empty() {
        dims.push_str("[]");
    }
    dims
}
