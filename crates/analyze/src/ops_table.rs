//! The ops table behind a call through a NULL function pointer: which
//! table, which of its members are NULL and which are set, read from the
//! dump. The table is found either where the code loaded it (`w->ops`),
//! or, when gcc read a const table at compile time and left a call to
//! address 0 with no load at all, from DWARF: a pointer variable in scope
//! at the call (often a parameter of an inlined helper) whose location is
//! the constant address of the table.

use krash_core::VirtualMemory;
use krash_debuginfo::types::{Type, TypeKind, TypeOps, TypeProvider};
use krash_program::Kernel;

use crate::provenance::symbol_text;

/// How the table was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableSource {
    /// The code loaded the table's address from memory before the call.
    Loaded,
    /// gcc folded the table: DWARF says a variable in scope at the call
    /// is the constant address of the table.
    Folded,
}

impl TableSource {
    pub fn name(self) -> &'static str {
        match self {
            TableSource::Loaded => "loaded",
            TableSource::Folded => "folded",
        }
    }
}

/// An ops table (a struct of function pointers) as the dump holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpsTable {
    pub address: u64,
    /// Its symbol (`krash_serial_ops`), when it is a global.
    pub symbol: Option<String>,
    pub struct_name: String,
    /// The member the call went through, when known.
    pub member: Option<String>,
    /// Its function-pointer members, in order, as the dump holds them.
    pub slots: Vec<OpsSlot>,
    pub source: TableSource,
    /// For a folded table: the variable DWARF gives its address to, and
    /// the function (often inlined) declaring it.
    pub variable: Option<(String, String)>,
}

/// One function-pointer member of an ops table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpsSlot {
    pub member: String,
    pub offset: u64,
    /// The function it holds (`None`: NULL).
    pub function: Option<String>,
}

impl OpsTable {
    /// The members that are NULL.
    pub fn null_members(&self) -> impl Iterator<Item = &OpsSlot> {
        self.slots.iter().filter(|s| s.function.is_none())
    }

    /// `startup = krash_serial_startup, shutdown = ...`: the members that are set.
    pub fn describe_set_members(&self) -> String {
        let set: Vec<String> =
            self.slots.iter().filter_map(|s| s.function.as_ref().map(|f| format!("{} = {f}", s.member))).collect();
        if set.is_empty() {
            "none".into()
        } else {
            set.join(", ")
        }
    }

    /// `krash_serial_ops.flush_buffer`, or the struct cast when the table
    /// has no symbol.
    pub fn describe_member(&self, member: &str) -> String {
        match &self.symbol {
            Some(s) => format!("{s}.{member}"),
            None => format!("((struct {} *){:#x})->{member}", self.struct_name, self.address),
        }
    }
}

/// Bounds the members read from one table.
const MAX_MEMBERS: usize = 256;

/// Crate-internal helpers of this module's extension of [`Kernel`].
pub(crate) trait OpsTableInternal {
    /// The table of `struct struct_name` at `address`, read from the dump.
    fn read_ops_table(
        &self,
        address: u64,
        struct_name: &str,
        member: Option<&str>,
        module: Option<&str>,
        source: TableSource,
    ) -> Option<OpsTable>;
    /// The const tables gcc folded into the call at `call_pc`: pointer
    /// variables in scope there whose DWARF location is a constant address.
    fn folded_ops_tables(&self, call_pc: u64, module: Option<&str>) -> Vec<OpsTable>;
}

impl OpsTableInternal for Kernel {
    fn read_ops_table(
        &self,
        address: u64,
        struct_name: &str,
        member: Option<&str>,
        module: Option<&str>,
        source: TableSource,
    ) -> Option<OpsTable> {
        let members = self.function_pointer_members(struct_name, module)?;
        let mut table = OpsTable {
            address,
            symbol: self.symbolize(address).filter(|s| s.offset == 0).map(|s| s.name),
            struct_name: struct_name.to_string(),
            member: member.map(str::to_string),
            slots: Vec::new(),
            source,
            variable: None,
        };
        for (name, offset) in members.into_iter().take(MAX_MEMBERS) {
            let Ok(value) = self.memory().read_u64(address.checked_add(offset)?) else { continue };
            let function = (value != 0).then(|| symbol_text(self, value));
            table.slots.push(OpsSlot { member: name, offset, function });
        }
        // Nothing of it could be read: not a table this dump holds.
        (!table.slots.is_empty()).then_some(table)
    }

    fn folded_ops_tables(&self, call_pc: u64, module: Option<&str>) -> Vec<OpsTable> {
        let Some((dwarf, at)) = self.dwarf_for(call_pc) else { return Vec::new() };
        // DWARF addresses are link-time ones; the dump's are shifted by the
        // same amount as the call's (KASLR; 0 for a module laid out at its load address).
        let shift = call_pc.wrapping_sub(at);
        let Ok(Some((function, variables))) = dwarf.variables_in_scope_at(at) else { return Vec::new() };
        let mut tables = Vec::new();
        for v in variables.iter().rev() {
            let Some(struct_name) = pointee_struct(&v.variable.type_name) else { continue };
            let Some(address) = dwarf.constant_value_at(&function, &v.variable, at) else { continue };
            if address == 0 {
                continue;
            }
            let address = address.wrapping_add(shift);
            if tables.iter().any(|t: &OpsTable| t.address == address) {
                continue;
            }
            let Some(mut table) = self.read_ops_table(address, struct_name, None, module, TableSource::Folded) else {
                continue;
            };
            table.variable = Some((v.variable.name.clone(), v.function.clone()));
            tables.push(table);
        }
        tables
    }
}

/// `const struct krash_port_ops *` → `krash_port_ops`: the struct a pointer type points to.
pub(crate) fn pointee_struct(type_name: &str) -> Option<&str> {
    let pointee = type_name.trim().strip_suffix('*')?.trim();
    let pointee = pointee.strip_prefix("const ").unwrap_or(pointee).trim();
    let name = pointee.strip_prefix("struct ")?.trim();
    let name = name.strip_suffix(" const").unwrap_or(name);
    (!name.is_empty() && !name.contains(['*', ' '])).then_some(name)
}

/// Private helpers of this module's extension of [`Kernel`].
trait OpsTableHelpers {
    /// The members of `struct name` that are function pointers, with their
    /// byte offsets (none: not an ops table).
    fn function_pointer_members(&self, name: &str, module: Option<&str>) -> Option<Vec<(String, u64)>>;
}

impl OpsTableHelpers for Kernel {
    fn function_pointer_members(&self, name: &str, module: Option<&str>) -> Option<Vec<(String, u64)>> {
        let find = |types: &dyn TypeProvider| -> Option<Vec<(String, u64)>> {
            let id = types.find_type(TypeKind::Struct, name).ok()?;
            let (_, Type::Struct(c)) = types.resolve(id).ok()? else { return None };
            let members: Vec<(String, u64)> = c
                .members
                .iter()
                .filter(|m| m.bit_offset % 8 == 0)
                .filter(|m| match types.resolve(m.ty) {
                    Ok((_, Type::Pointer { to })) => matches!(types.resolve(to), Ok((_, Type::Function { .. }))),
                    _ => false,
                })
                .filter_map(|m| Some((m.name.clone()?, m.bit_offset / 8)))
                .collect();
            (!members.is_empty()).then_some(members)
        };
        if let Some(m) = module {
            if let Some(dwarf) = self.module_debuginfo(m).and_then(|d| d.dwarf.clone()) {
                if let Some(found) = find(&krash_dwarf::DwarfTypes::new(dwarf)) {
                    return Some(found);
                }
            }
        }
        self.types().and_then(|t| find(t.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointee_structs() {
        assert_eq!(pointee_struct("const struct krash_port_ops *"), Some("krash_port_ops"));
        assert_eq!(pointee_struct("struct file_operations *"), Some("file_operations"));
        assert_eq!(pointee_struct("struct a **"), None);
        assert_eq!(pointee_struct("int *"), None);
        assert_eq!(pointee_struct("struct widget"), None);
    }
}
