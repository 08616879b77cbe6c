//! `whatis` and `ptype`: the type of a name, type or expression.

use krash_core::{Error, Result};
use krash_debuginfo::types::{Type, TypeId, TypeOps, TypeProvider};
use krash_program::Kernel;

use crate::{CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "whatis",
    aliases: &[],
    summary: "search symbol table for data or type information",
    synopsis: "whatis [struct | union | typedef | symbol | expression]",
    details: "  struct/union/typedef  its definition and size (as `struct NAME`)\n\
              \x20 symbol   its declaration (`struct task_struct init_task;`)\n\
              \x20 expression  `type = ...` of a C expression",
    run: run_whatis,
};

pub(crate) const PTYPE_SPEC: CommandSpec = CommandSpec {
    name: "ptype",
    aliases: &[],
    summary: "print a type's definition (gdb's ptype)",
    synopsis: "ptype [struct | union | typedef | expression]",
    details: "  type or expression  `type = ` and the type with struct, union and enum\n\
              \x20                    bodies expanded one level, typedefs resolved",
    run: run_ptype,
};

/// What `whatis`/`ptype` found; the C text is gdb's.
#[derive(Debug, Clone)]
pub enum Whatis {
    /// A named type: its C definition and size (None when unknown).
    Type { definition: String, size: Option<u64> },
    /// A variable or function: its C declaration.
    Declaration { declaration: String },
    /// The type of an expression.
    Expression { type_name: String },
    /// `ptype`: the type with struct, union and enum bodies expanded.
    Ptype { definition: String },
}

fn run_whatis(session: &mut Session, args: &[String]) -> Result<Output> {
    let text = args.join(" ");
    let k = &session.kernel;
    if text.is_empty() {
        return Err(Error::Usage(format!("usage: {}", SPEC.synopsis)));
    }
    let types = k.type_arena();
    if let Some(id) = named_type(k, &text) {
        let size = types.size_of(id).ok();
        let definition = match types.type_by_id(id)? {
            Type::Typedef { name, to } if matches!(types.resolve(to)?.1, Type::Struct(_) | Type::Union(_)) => {
                format!("typedef {} {name};", types.ptype(id))
            }
            Type::Typedef { name, to } => format!("typedef {};", types.declaration(to, &name)),
            _ => types.ptype(id),
        };
        return Ok(Output::Whatis(Whatis::Type { definition, size }));
    }
    if is_identifier(&text) {
        if k.lookup_symbol(&text).is_some() && types.find_variable(&text)?.is_none() {
            k.load_dwarf_fallback();
        }
        if let Some(var) = types.find_variable(&text)? {
            return Ok(Output::Whatis(Whatis::Declaration { declaration: types.declaration(var.ty, &text) }));
        }
        if let Some(proto) = types.find_function(&text)? {
            return Ok(Output::Whatis(Whatis::Declaration { declaration: types.declaration(proto, &text) }));
        }
        if k.lookup_symbol(&text).is_some() {
            return Err(Error::MissingDebuginfo(format!(
                "{text}: symbol has no type information (BTF describes only per-cpu variables and functions)"
            )));
        }
    }
    let (_, v) = super::print::eval_expression(k, &text)?;
    Ok(Output::Whatis(Whatis::Expression { type_name: types.type_name(v.ty) }))
}

fn run_ptype(session: &mut Session, args: &[String]) -> Result<Output> {
    let text = args.join(" ");
    let k = &session.kernel;
    if text.is_empty() {
        return Err(Error::Usage(format!("usage: {}", PTYPE_SPEC.synopsis)));
    }
    let types = k.type_arena();
    let id = match named_type(k, &text) {
        Some(id) => id,
        None => super::print::eval_expression(k, &text)?.1.ty,
    };
    Ok(Output::Whatis(Whatis::Ptype { definition: types.ptype(id) }))
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// `struct x`, `union x`, `enum x`, a typedef, a base type, or a bare
/// struct/union tag (crash accepts `whatis task_struct`), with `*`s.
fn named_type(k: &Kernel, text: &str) -> Option<TypeId> {
    let types = k.type_arena();
    let stars = text.chars().rev().take_while(|c| *c == '*' || c.is_whitespace()).filter(|c| *c == '*').count();
    let base = text.trim_end_matches(|c: char| c == '*' || c.is_whitespace());
    let is_variable = is_identifier(base) && types.find_variable(base).ok().flatten().is_some();
    if is_variable {
        return None;
    }
    let parsed = krash_eval::expr::TypeName { base: base.to_string(), pointers: stars };
    krash_eval::expr::resolve_type_name(types, &parsed).ok()
}
