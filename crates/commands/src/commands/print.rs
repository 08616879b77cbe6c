//! `p` / `px` / `pd`: evaluate a C expression and print it as gdb does,
//! with crash's per-cpu handling (`p VAR` lists every CPU's copy,
//! `p VAR:N` prints CPU N's value).

use krash_core::{Error, Result};
use krash_debuginfo::types::{IntKind, Type, TypeOps, TypeProvider};
use krash_eval::expr::{evaluate, Expr, KernelContext};
use krash_eval::value::ValueExt;
use krash_eval::value::{Radix, Value, ValueText};
use krash_program::Kernel;

use crate::{CommandSpec, Output, Session};

const DETAILS: &str = "  expression  a C expression: globals, ->, ., [], *, &, casts such as\n\
\x20             (struct task_struct *)ADDR, arithmetic, comparisons, sizeof, $N history\n\
\x20 VAR         a per-cpu variable alone lists its type and every CPU's address\n\
\x20 EXPR:N      evaluate with per-cpu variables taken from CPU N; :N,M or :a for several\n\
\x20 p/x, px     integers in hexadecimal; p/d, pd in decimal";

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "p",
    aliases: &["print"],
    summary: "print the value of an expression",
    synopsis: "p [-x|-d] expression[:cpuspec]",
    details: DETAILS,
    run: run_natural,
};

pub(crate) const PX_SPEC: CommandSpec = CommandSpec {
    name: "px",
    aliases: &["p/x", "print/x"],
    summary: "print an expression in hexadecimal",
    synopsis: "px expression[:cpuspec]",
    details: DETAILS,
    run: run_hex,
};

pub(crate) const PD_SPEC: CommandSpec = CommandSpec {
    name: "pd",
    aliases: &["p/d", "print/d"],
    summary: "print an expression in decimal",
    synopsis: "pd expression[:cpuspec]",
    details: DETAILS,
    run: run_decimal,
};

/// What a printed value is named after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrintLabel {
    /// The variable the expression is.
    Variable { name: String },
    /// The expression evaluated with CPU `cpu`'s per-cpu variables.
    PerCpu { expression: String, cpu: u32 },
}

/// One CPU's copy of a per-cpu variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuAddress {
    pub cpu: u32,
    pub addr: u64,
}

/// One printed value or per-cpu listing.
#[derive(Debug, Clone)]
pub enum PrintEntry {
    /// `[label = ]$N = [(pointer_type) ]value`.
    Value {
        label: Option<PrintLabel>,
        /// The value history number (`$N`).
        history: usize,
        /// A pointer's type, which gdb shows before its value.
        pointer_type: Option<String>,
        value: ValueText,
    },
    /// A per-cpu variable named alone: its C declaration and each CPU's copy.
    PerCpu { declaration: String, addresses: Vec<CpuAddress> },
}

/// What `p` printed.
#[derive(Debug, Clone)]
pub struct Print {
    pub entries: Vec<PrintEntry>,
}

fn run_natural(session: &mut Session, args: &[String]) -> Result<Output> {
    // `set radix 16` (`hex`) makes a plain `p` print hex, as in crash.
    let radix = session.settings.radix.default_value_radix();
    run(session, args, radix)
}
fn run_hex(session: &mut Session, args: &[String]) -> Result<Output> {
    run(session, args, Radix::Hex)
}
fn run_decimal(session: &mut Session, args: &[String]) -> Result<Output> {
    run(session, args, Radix::Decimal)
}

fn run(session: &mut Session, args: &[String], mut radix: Radix) -> Result<Output> {
    let mut words: Vec<&str> = args.iter().map(String::as_str).collect();
    while let Some(first) = words.first() {
        match *first {
            "-x" => radix = Radix::Hex,
            "-d" => radix = Radix::Decimal,
            "/x" => radix = Radix::Hex,
            "/d" => radix = Radix::Decimal,
            _ => break,
        }
        words.remove(0);
    }
    let text = words.join(" ");
    if text.trim().is_empty() {
        return Err(Error::Usage(format!("usage: {}", SPEC.synopsis)));
    }
    let k = &session.kernel;
    let (expr_text, cpus) = split_cpu_suffix(k, &text)?;
    let base = KernelContext { kernel: k, cpu: None };
    let expr = base.parse(expr_text)?;
    let mut entries = Vec::new();
    match cpus {
        None => {
            if let Some(name) = expr.as_ident() {
                if let Some(listing) = percpu_listing(k, name)? {
                    entries.push(listing);
                    return Ok(Output::Print(Print { entries }));
                }
            }
            let value = evaluate(&base, &expr)?;
            let label = expr.as_ident().map(|name| PrintLabel::Variable { name: name.to_string() });
            entries.push(print_value(k, value, label, radix)?);
        }
        Some(cpus) => {
            for cpu in cpus {
                let ctx = KernelContext { kernel: k, cpu: Some(cpu) };
                let value = evaluate(&ctx, &expr)?;
                let label = Some(PrintLabel::PerCpu { expression: expr_text.to_string(), cpu });
                entries.push(print_value(k, value, label, radix)?);
            }
        }
    }
    Ok(Output::Print(Print { entries }))
}

/// `expr:N` -> (`expr`, CPUs); a `:` inside `?:` is left alone.
fn split_cpu_suffix<'t>(k: &Kernel, text: &'t str) -> Result<(&'t str, Option<Vec<u32>>)> {
    if let Some((e, spec)) = text.rsplit_once(':') {
        let spec = spec.trim();
        let looks_like_cpus = spec == "a"
            || spec == "all"
            || (!spec.is_empty() && spec.chars().all(|c| c.is_ascii_digit() || c == ',' || c == '-'));
        if looks_like_cpus && !e.contains('?') {
            return Ok((e.trim(), Some(super::struct_cmd::parse_cpus(k, spec)?)));
        }
    }
    Ok((text, None))
}

/// crash's `PER-CPU DATA TYPE` block for a per-cpu variable named alone.
fn percpu_listing(k: &Kernel, name: &str) -> Result<Option<PrintEntry>> {
    let types = k.type_arena();
    let Some(var) = types.find_variable(name)? else { return Ok(None) };
    if !var.is_percpu() {
        return Ok(None);
    }
    let declaration = types.declaration(var.ty, name);
    let mut addresses = Vec::new();
    for cpu in k.possible_cpus()? {
        addresses.push(CpuAddress { cpu, addr: k.percpu_addr(name, cpu)? });
    }
    Ok(Some(PrintEntry::PerCpu { declaration, addresses }))
}

/// Records `value` in the history and lays it out.
fn print_value(k: &Kernel, value: Value, label: Option<PrintLabel>, radix: Radix) -> Result<PrintEntry> {
    let types = k.type_arena();
    let pointer_type = match types.resolve(value.ty)?.1 {
        Type::Pointer { to } => {
            let char_target = matches!(types.resolve(to)?.1, Type::Int { size: 1, kind: IntKind::Char, .. });
            (!char_target).then(|| types.type_name(value.ty))
        }
        _ => None,
    };
    // Snapshot memory values so `$N` keeps meaning what was printed.
    let text = k.value_text(&value, radix);
    let history = k.record_value(value)?;
    Ok(PrintEntry::Value { label, history, pointer_type, value: text })
}

/// Evaluates `text` (for other commands taking an expression).
pub(crate) fn eval_expression(k: &Kernel, text: &str) -> Result<(Expr, Value)> {
    let ctx = KernelContext { kernel: k, cpu: None };
    let expr = ctx.parse(text)?;
    let v = evaluate(&ctx, &expr)?;
    Ok((expr, v))
}
