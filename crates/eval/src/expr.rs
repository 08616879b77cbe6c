//! C expressions as crash's `p` accepts them: globals, `.`/`->`/`[]`,
//! `*`/`&`, casts (also to struct pointers), arithmetic, comparisons,
//! logic, `sizeof`, `&((struct x *)0)->m`, and `$N` value history.
//!
//! [`parse`] builds an [`Expr`]; [`evaluate`] computes a [`Value`] through
//! an [`ExprContext`] (types, memory, symbols), so tests can run it on a
//! fixture type provider and fake memory.

use crate::value::ValueExt;
use krash_core::{Error, Result, VirtualMemory};
use krash_debuginfo::types::{IntKind, Type, TypeId, TypeKind, TypeOps, TypeProvider};

use krash_program::type_arena::TypeArena;

use crate::value::{extend, Place, Value};

/// A parsed C type name (`struct task_struct *`, `unsigned long`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeName {
    /// The base spelling, `struct task_struct`, `unsigned long`, `u64`.
    pub base: String,
    /// How many `*` follow.
    pub pointers: usize,
}

/// Binary operators, in C's meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Mul,
    Div,
    Rem,
    Add,
    Sub,
    Shl,
    Shr,
    Lt,
    Gt,
    Le,
    Ge,
    Eq,
    Ne,
    BitAnd,
    BitXor,
    BitOr,
    And,
    Or,
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Plus,
    Not,
    BitNot,
    Deref,
    AddrOf,
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Int(u64),
    Char(u8),
    Ident(String),
    /// `$N`, or `$` (None) for the last value.
    History(Option<usize>),
    Member(Box<Expr>, String),
    Arrow(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    Cast(TypeName, Box<Expr>),
    SizeofType(TypeName),
    SizeofExpr(Box<Expr>),
}

impl Expr {
    /// The identifier when the whole expression is one (crash prints
    /// `name = $N = ...` for those).
    pub fn as_ident(&self) -> Option<&str> {
        match self {
            Expr::Ident(name) => Some(name),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Num(u64),
    Char(u8),
    Ident(String),
    Dollar(Option<usize>),
    Punct(&'static str),
}

const PUNCTUATION: [&str; 33] = [
    "->", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "(", ")", "[", "]", ".", "*", "&", "+", "-", "!", "~", "/",
    "%", "<", ">", "^", "|", "?", ":", ",", "{", "}", "=", ";",
];

/// Bound on nesting so a hostile expression cannot overflow the stack.
const MAX_NESTING: usize = 200;

fn tokenize(text: &str) -> Result<Vec<Token>> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    let bad = |what: &str| Error::Usage(format!("A syntax error in expression, near `{what}'."));
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric()) {
                i += 1;
            }
            let word = &text[start..i];
            let digits = word.trim_end_matches(['u', 'U', 'l', 'L']);
            let value = if let Some(hex) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
                u64::from_str_radix(hex, 16)
            } else if digits.len() > 1 && digits.starts_with('0') {
                u64::from_str_radix(&digits[1..], 8)
            } else {
                digits.parse()
            }
            .map_err(|_| Error::Usage(format!("Invalid number \"{word}\".")))?;
            out.push(Token::Num(value));
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            out.push(Token::Ident(text[start..i].to_string()));
            continue;
        }
        if c == b'$' {
            i += 1;
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let n = if start == i { None } else { Some(text[start..i].parse().map_err(|_| bad(&text[start..i]))?) };
            out.push(Token::Dollar(n));
            continue;
        }
        if c == b'\'' {
            let (value, used) = char_literal(&bytes[i + 1..]).ok_or_else(|| bad(&text[i..]))?;
            out.push(Token::Char(value));
            i += 1 + used;
            continue;
        }
        let rest = &text[i..];
        let Some(p) = PUNCTUATION.iter().find(|p| rest.starts_with(**p)) else {
            return Err(Error::Usage(format!(
                "Invalid character '{}' in expression.",
                rest.chars().next().unwrap_or('?')
            )));
        };
        out.push(Token::Punct(p));
        i += p.len();
    }
    Ok(out)
}

/// Parses the inside of a char literal after the opening quote: the value
/// and how many bytes (closing quote included) it used.
fn char_literal(b: &[u8]) -> Option<(u8, usize)> {
    match b.first()? {
        b'\\' => {
            let esc = *b.get(1)?;
            let (value, used) = match esc {
                b'n' => (b'\n', 2),
                b't' => (b'\t', 2),
                b'r' => (b'\r', 2),
                b'a' => (7, 2),
                b'b' => (8, 2),
                b'f' => (12, 2),
                b'v' => (11, 2),
                b'0'..=b'7' => {
                    let digits: Vec<u8> =
                        b[1..].iter().take(3).take_while(|d| (b'0'..=b'7').contains(d)).copied().collect();
                    let v = digits.iter().fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                    (u8::try_from(v).ok()?, 1 + digits.len())
                }
                other => (other, 2),
            };
            (*b.get(used)? == b'\'').then_some((value, used + 1))
        }
        &c => (*b.get(1)? == b'\'').then_some((c, 2)),
    }
}

const TYPE_KEYWORDS: [&str; 13] = [
    "struct", "union", "enum", "unsigned", "signed", "int", "long", "short", "char", "void", "_Bool", "const",
    "volatile",
];

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    is_typedef: &'a dyn Fn(&str) -> bool,
}

/// Parses `text`; `is_typedef` tells type names from variables (C's
/// `(x)(y)` ambiguity).
pub fn parse(text: &str, is_typedef: &dyn Fn(&str) -> bool) -> Result<Expr> {
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Err(Error::Usage("empty expression".into()));
    }
    let mut p = Parser { tokens, pos: 0, depth: 0, is_typedef };
    let e = p.expr()?;
    if let Some(t) = p.peek() {
        return Err(Error::Usage(format!("A syntax error in expression, near `{}'.", token_text(t))));
    }
    Ok(e)
}

fn token_text(t: &Token) -> String {
    match t {
        Token::Num(n) => n.to_string(),
        Token::Char(c) => format!("'{}'", *c as char),
        Token::Ident(s) => s.clone(),
        Token::Dollar(Some(n)) => format!("${n}"),
        Token::Dollar(None) => "$".into(),
        Token::Punct(p) => (*p).to_string(),
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }
    fn peek_at(&self, k: usize) -> Option<&Token> {
        self.tokens.get(self.pos + k)
    }
    fn eat(&mut self, punct: &str) -> bool {
        if matches!(self.peek(), Some(Token::Punct(p)) if *p == punct) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, punct: &str) -> Result<()> {
        if self.eat(punct) {
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }
    fn syntax_error(&self) -> Error {
        match self.peek() {
            Some(t) => Error::Usage(format!("A syntax error in expression, near `{}'.", token_text(t))),
            None => Error::Usage("A syntax error in expression, near `'.".into()),
        }
    }
    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(Error::Usage("expression nests too deeply".into()));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr> {
        self.enter()?;
        let cond = self.binary(0)?;
        let e = if self.eat("?") {
            let a = self.expr()?;
            self.expect(":")?;
            let b = self.expr()?;
            Expr::Cond(Box::new(cond), Box::new(a), Box::new(b))
        } else {
            cond
        };
        self.depth -= 1;
        Ok(e)
    }

    fn binary(&mut self, min_prec: u8) -> Result<Expr> {
        let mut lhs = self.unary()?;
        while let Some(Token::Punct(p)) = self.peek() {
            let Some((op, prec)) = binop(p) else { break };
            if prec < min_prec {
                break;
            }
            self.pos += 1;
            let rhs = self.binary(prec + 1)?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn starts_type(&self, k: usize) -> bool {
        match self.peek_at(k) {
            Some(Token::Ident(w)) => TYPE_KEYWORDS.contains(&w.as_str()) || (self.is_typedef)(w),
            _ => false,
        }
    }

    fn unary(&mut self) -> Result<Expr> {
        self.enter()?;
        let e = self.unary_inner()?;
        self.depth -= 1;
        Ok(e)
    }

    fn unary_inner(&mut self) -> Result<Expr> {
        let op = match self.peek() {
            Some(Token::Punct("-")) => Some(UnOp::Neg),
            Some(Token::Punct("+")) => Some(UnOp::Plus),
            Some(Token::Punct("!")) => Some(UnOp::Not),
            Some(Token::Punct("~")) => Some(UnOp::BitNot),
            Some(Token::Punct("*")) => Some(UnOp::Deref),
            Some(Token::Punct("&")) => Some(UnOp::AddrOf),
            _ => None,
        };
        if let Some(op) = op {
            self.pos += 1;
            return Ok(Expr::Unary(op, Box::new(self.unary()?)));
        }
        if matches!(self.peek(), Some(Token::Ident(w)) if w == "sizeof") {
            self.pos += 1;
            if matches!(self.peek(), Some(Token::Punct("("))) && self.starts_type(1) {
                self.pos += 1;
                let t = self.type_name()?;
                self.expect(")")?;
                return Ok(Expr::SizeofType(t));
            }
            return Ok(Expr::SizeofExpr(Box::new(self.unary()?)));
        }
        if matches!(self.peek(), Some(Token::Punct("("))) && self.starts_type(1) {
            self.pos += 1;
            let t = self.type_name()?;
            self.expect(")")?;
            return Ok(Expr::Cast(t, Box::new(self.unary()?)));
        }
        self.postfix()
    }

    fn type_name(&mut self) -> Result<TypeName> {
        let mut words: Vec<String> = Vec::new();
        loop {
            match self.peek() {
                Some(Token::Ident(w)) if w == "const" || w == "volatile" => self.pos += 1,
                Some(Token::Ident(w)) if matches!(w.as_str(), "struct" | "union" | "enum") => {
                    let tag = w.clone();
                    self.pos += 1;
                    let Some(Token::Ident(name)) = self.peek().cloned() else { return Err(self.syntax_error()) };
                    self.pos += 1;
                    words.push(format!("{tag} {name}"));
                    break;
                }
                Some(Token::Ident(w))
                    if matches!(
                        w.as_str(),
                        "unsigned" | "signed" | "int" | "long" | "short" | "char" | "void" | "_Bool"
                    ) =>
                {
                    words.push(w.clone());
                    self.pos += 1;
                }
                Some(Token::Ident(w)) if words.is_empty() && (self.is_typedef)(w) => {
                    words.push(w.clone());
                    self.pos += 1;
                    break;
                }
                _ => break,
            }
        }
        if words.is_empty() {
            return Err(self.syntax_error());
        }
        let mut pointers = 0;
        loop {
            if self.eat("*") {
                pointers += 1;
            } else if matches!(self.peek(), Some(Token::Ident(w)) if w == "const" || w == "volatile") {
                self.pos += 1;
            } else {
                break;
            }
        }
        Ok(TypeName { base: words.join(" "), pointers })
    }

    fn postfix(&mut self) -> Result<Expr> {
        let mut e = self.primary()?;
        loop {
            if self.eat(".") {
                e = Expr::Member(Box::new(e), self.member_name()?);
            } else if self.eat("->") {
                e = Expr::Arrow(Box::new(e), self.member_name()?);
            } else if self.eat("[") {
                let index = self.expr()?;
                self.expect("]")?;
                e = Expr::Index(Box::new(e), Box::new(index));
            } else {
                return Ok(e);
            }
        }
    }

    fn member_name(&mut self) -> Result<String> {
        match self.peek().cloned() {
            Some(Token::Ident(name)) => {
                self.pos += 1;
                Ok(name)
            }
            _ => Err(self.syntax_error()),
        }
    }

    fn primary(&mut self) -> Result<Expr> {
        match self.peek().cloned() {
            Some(Token::Num(n)) => {
                self.pos += 1;
                Ok(Expr::Int(n))
            }
            Some(Token::Char(c)) => {
                self.pos += 1;
                Ok(Expr::Char(c))
            }
            Some(Token::Dollar(n)) => {
                self.pos += 1;
                Ok(Expr::History(n))
            }
            Some(Token::Ident(name)) => {
                self.pos += 1;
                Ok(Expr::Ident(name))
            }
            Some(Token::Punct("(")) => {
                self.pos += 1;
                let e = self.expr()?;
                self.expect(")")?;
                Ok(e)
            }
            _ => Err(self.syntax_error()),
        }
    }
}

fn binop(p: &str) -> Option<(BinOp, u8)> {
    Some(match p {
        "*" => (BinOp::Mul, 10),
        "/" => (BinOp::Div, 10),
        "%" => (BinOp::Rem, 10),
        "+" => (BinOp::Add, 9),
        "-" => (BinOp::Sub, 9),
        "<<" => (BinOp::Shl, 8),
        ">>" => (BinOp::Shr, 8),
        "<" => (BinOp::Lt, 7),
        ">" => (BinOp::Gt, 7),
        "<=" => (BinOp::Le, 7),
        ">=" => (BinOp::Ge, 7),
        "==" => (BinOp::Eq, 6),
        "!=" => (BinOp::Ne, 6),
        "&" => (BinOp::BitAnd, 5),
        "^" => (BinOp::BitXor, 4),
        "|" => (BinOp::BitOr, 3),
        "&&" => (BinOp::And, 2),
        "||" => (BinOp::Or, 1),
        _ => return None,
    })
}

/// A global the expression names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Global {
    /// A variable (or function) with a known type at an address.
    Typed(Value),
    /// A symbol whose type the loaded debuginfo does not describe.
    Untyped { name: String, addr: u64 },
}

/// What evaluation needs from the kernel (or a test fixture).
pub trait ExprContext {
    fn arena(&self) -> &TypeArena;
    fn memory(&self) -> &dyn VirtualMemory;
    /// A global variable, function or symbol by name; `None` if unknown.
    fn global(&self, name: &str) -> Result<Option<Global>>;
    /// Value history: `$N`, or the last value for `None`.
    fn history(&self, index: Option<usize>) -> Result<Value>;
}

/// Evaluates `e` to a value.
pub fn evaluate(ctx: &dyn ExprContext, e: &Expr) -> Result<Value> {
    match eval(ctx, e, 0)? {
        Operand::Value(v) => Ok(v),
        Operand::Untyped { name, .. } => Err(unknown_type(&name)),
    }
}

/// The type of `e` without reading memory where possible (`whatis`).
pub fn type_of(ctx: &dyn ExprContext, e: &Expr) -> Result<TypeId> {
    evaluate(ctx, e).map(|v| v.ty)
}

fn unknown_type(name: &str) -> Error {
    Error::MissingDebuginfo(format!(
        "'{name}' has unknown type; cast it to its declared type (BTF describes only per-cpu variables; load DWARF for others)"
    ))
}

enum Operand {
    Value(Value),
    Untyped { name: String, addr: u64 },
}

fn eval(ctx: &dyn ExprContext, e: &Expr, depth: usize) -> Result<Operand> {
    if depth > MAX_NESTING {
        return Err(Error::Usage("expression nests too deeply".into()));
    }
    let value = |e: &Expr| -> Result<Value> {
        match eval(ctx, e, depth + 1)? {
            Operand::Value(v) => Ok(v),
            Operand::Untyped { name, .. } => Err(unknown_type(&name)),
        }
    };
    let types = ctx.arena();
    let mem = ctx.memory();
    Ok(Operand::Value(match e {
        Expr::Int(n) => int_literal(types, *n)?,
        Expr::Char(c) => Value::from_bytes(types.int_type("char")?, vec![*c]),
        Expr::History(n) => ctx.history(*n)?,
        Expr::Ident(name) => match ctx.global(name)? {
            Some(Global::Typed(v)) => v,
            Some(Global::Untyped { name, addr }) => return Ok(Operand::Untyped { name, addr }),
            None => match types.find_enumerator(name)? {
                Some((ty, v)) => {
                    Value::from_bytes(ty, (v as u64).to_le_bytes()[..types.size_of(ty)?.min(8) as usize].to_vec())
                }
                None => return Err(Error::NotFound(format!("No symbol \"{name}\" in current context."))),
            },
        },
        Expr::Member(base, name) => {
            let v = value(base)?;
            check_aggregate(types, v.ty, ".")?;
            v.member(types, name)?
        }
        Expr::Arrow(base, name) => {
            let v = value(base)?;
            let target = deref(types, mem, &v)?;
            check_aggregate(types, target.ty, "->")?;
            target.member(types, name)?
        }
        Expr::Index(base, index) => {
            let b = value(base)?;
            let i = value(index)?.as_i128(types, mem)? as i64;
            match types.resolve(b.ty)?.1 {
                Type::Array { .. } => b.element(types, i)?,
                Type::Pointer { to } => {
                    let stride = types.size_of(to)?;
                    let addr = b.as_u64(types, mem)?.wrapping_add((i as u64).wrapping_mul(stride));
                    Value::at(to, addr)
                }
                _ => return Err(Error::Usage("cannot subscript something that is not an array or pointer".into())),
            }
        }
        Expr::Unary(UnOp::AddrOf, inner) => match eval(ctx, inner, depth + 1)? {
            Operand::Value(v) => {
                let addr = v
                    .address()
                    .ok_or_else(|| Error::Usage("Attempt to take address of value not located in memory.".into()))?;
                let ptr = types.pointer_to(v.ty)?;
                Value::from_u64(types, ptr, addr)?
            }
            Operand::Untyped { addr, .. } => {
                let unknown =
                    types.intern(Type::Typedef { name: "<data variable, no debug info>".into(), to: TypeId::VOID })?;
                Value::from_u64(types, types.pointer_to(unknown)?, addr)?
            }
        },
        Expr::Unary(UnOp::Deref, inner) => {
            let v = value(inner)?;
            deref(types, mem, &v)?
        }
        Expr::Unary(op, inner) => {
            let v = value(inner)?;
            let (ty, x, _) = promoted(types, mem, &v)?;
            let r = match op {
                UnOp::Neg => x.wrapping_neg(),
                UnOp::Plus => x,
                UnOp::BitNot => !x,
                UnOp::Not => return Ok(Operand::Value(int_value(types, "int", (x == 0) as i128)?)),
                UnOp::Deref | UnOp::AddrOf => unreachable_op()?,
            };
            Value::from_u64(types, ty, r as u64)?
        }
        Expr::Cast(t, inner) => {
            let target = resolve_type_name(types, t)?;
            match eval(ctx, inner, depth + 1)? {
                Operand::Untyped { addr, .. } => Value::at(target, addr),
                Operand::Value(v) => cast(types, mem, &v, target)?,
            }
        }
        Expr::SizeofType(t) => {
            let ty = resolve_type_name(types, t)?;
            int_value(types, "unsigned long", types.size_of(ty)? as i128)?
        }
        Expr::SizeofExpr(inner) => {
            let v = value(inner)?;
            int_value(types, "unsigned long", types.size_of(v.ty)? as i128)?
        }
        Expr::Cond(c, a, b) => {
            let c = value(c)?;
            if truthy(types, mem, &c)? {
                value(a)?
            } else {
                value(b)?
            }
        }
        Expr::Binary(op, a, b) => {
            let a = value(a)?;
            match op {
                BinOp::And => {
                    let r = truthy(types, mem, &a)? && truthy(types, mem, &value(b)?)?;
                    return Ok(Operand::Value(int_value(types, "int", r as i128)?));
                }
                BinOp::Or => {
                    let r = truthy(types, mem, &a)? || truthy(types, mem, &value(b)?)?;
                    return Ok(Operand::Value(int_value(types, "int", r as i128)?));
                }
                _ => binary(types, mem, *op, &a, &value(b)?)?,
            }
        }
    }))
}

fn unreachable_op() -> Result<i128> {
    Err(Error::Usage("operator handled elsewhere".into()))
}

fn check_aggregate(types: &TypeArena, ty: TypeId, op: &str) -> Result<()> {
    match types.resolve(ty)?.1 {
        Type::Struct(_) | Type::Union(_) => Ok(()),
        Type::Pointer { .. } if op == "." => Err(Error::Usage(format!(
            "Attempt to extract a component of a value that is not a structure: `{}' is a pointer, use ->",
            types.type_name(ty)
        ))),
        _ => Err(Error::Usage(format!("The `{op}' operator needs a struct or union, not `{}'", types.type_name(ty)))),
    }
}

/// `*v` for a pointer (or an array, which decays).
fn deref(types: &TypeArena, mem: &dyn VirtualMemory, v: &Value) -> Result<Value> {
    match types.resolve(v.ty)?.1 {
        Type::Pointer { to } => {
            if matches!(types.resolve(to)?.1, Type::Void) {
                return Err(Error::Usage("Attempt to take contents of a non-pointer value.".into()));
            }
            Ok(Value::at(to, v.as_u64(types, mem)?))
        }
        Type::Array { .. } => v.element(types, 0),
        _ => Err(Error::Usage("Attempt to take contents of a non-pointer value.".into())),
    }
}

fn int_literal(types: &TypeArena, n: u64) -> Result<Value> {
    let spelling = if n <= i32::MAX as u64 {
        "int"
    } else if n <= i64::MAX as u64 {
        "long"
    } else {
        "unsigned long"
    };
    Value::from_u64(types, types.int_type(spelling)?, n)
}

fn int_value(types: &TypeArena, spelling: &str, v: i128) -> Result<Value> {
    Value::from_u64(types, types.int_type(spelling)?, v as u64)
}

/// Looks a parsed type name up, adding `*`s.
pub fn resolve_type_name(types: &TypeArena, t: &TypeName) -> Result<TypeId> {
    let mut id = if t.base == "void" {
        TypeId::VOID
    } else if t
        .base
        .split(' ')
        .all(|w| matches!(w, "unsigned" | "signed" | "int" | "long" | "short" | "char" | "_Bool"))
    {
        types.int_type(&t.base)?
    } else {
        types
            .find_type_by_spelling(&t.base)
            .map_err(|_| Error::MissingDebuginfo(format!("No symbol \"{}\" in current context.", t.base)))?
    };
    for _ in 0..t.pointers {
        id = types.pointer_to(id)?;
    }
    Ok(id)
}

/// Integer (or pointer) value, its type after C's integer promotions,
/// and whether that type is a pointer.
fn promoted(types: &TypeArena, mem: &dyn VirtualMemory, v: &Value) -> Result<(TypeId, i128, bool)> {
    let (_, ty) = types.resolve(v.ty)?;
    match ty {
        Type::Pointer { .. } => Ok((v.ty, v.as_u64(types, mem)? as i128, true)),
        Type::Array { elem, .. } => {
            let addr = v.address().ok_or_else(|| Error::Usage("array not in memory".into()))?;
            Ok((types.pointer_to(elem)?, addr as i128, true))
        }
        Type::Int { size, signed, .. } | Type::Enum { size, signed, .. } => {
            let x = v.as_i128(types, mem)?;
            let ty = if size < 4 || (size == 4 && signed) || v.bitfield.is_some_and(|b| b.1 < 32) {
                types.int_type("int")?
            } else if size == 4 {
                types.int_type("unsigned int")?
            } else if signed {
                types.int_type("long")?
            } else {
                types.int_type("unsigned long")?
            };
            Ok((ty, x, false))
        }
        _ => Err(Error::Usage(format!("`{}' is not a number", types.type_name(v.ty)))),
    }
}

fn truthy(types: &TypeArena, mem: &dyn VirtualMemory, v: &Value) -> Result<bool> {
    Ok(promoted(types, mem, v)?.1 != 0)
}

/// The common type of two promoted integers (C's usual conversions).
fn common_type(types: &TypeArena, a: TypeId, b: TypeId) -> Result<TypeId> {
    let rank = |id: TypeId| -> Result<(u64, bool)> {
        match types.resolve(id)?.1 {
            Type::Int { size, signed, .. } => Ok((size, !signed)),
            _ => Ok((8, true)),
        }
    };
    Ok(if rank(a)? >= rank(b)? { a } else { b })
}

fn binary(types: &TypeArena, mem: &dyn VirtualMemory, op: BinOp, a: &Value, b: &Value) -> Result<Value> {
    let (ta, x, pa) = promoted(types, mem, a)?;
    let (tb, y, pb) = promoted(types, mem, b)?;
    let cmp = |r: bool| int_value(types, "int", r as i128);
    let pointee_size = |t: TypeId| -> Result<i128> {
        match types.resolve(t)?.1 {
            Type::Pointer { to } => Ok(types.size_of(to).unwrap_or(1).max(1) as i128),
            _ => Ok(1),
        }
    };
    match op {
        BinOp::Add if pa && !pb => return Value::from_u64(types, ta, (x + y * pointee_size(ta)?) as u64),
        BinOp::Add if pb && !pa => return Value::from_u64(types, tb, (y + x * pointee_size(tb)?) as u64),
        BinOp::Sub if pa && !pb => return Value::from_u64(types, ta, (x - y * pointee_size(ta)?) as u64),
        BinOp::Sub if pa && pb => return int_value(types, "long", (x - y) / pointee_size(ta)?),
        _ => {}
    }
    let ty = if pa || pb { types.int_type("unsigned long")? } else { common_type(types, ta, tb)? };
    let (bits, signed) = match types.resolve(ty)?.1 {
        Type::Int { size, signed, .. } => (size * 8, signed),
        _ => (64, false),
    };
    // Operate in the common type's width and signedness.
    let x = extend(x as u64, bits, signed);
    let y = extend(y as u64, bits, signed);
    let r = match op {
        BinOp::Mul => x.wrapping_mul(y),
        BinOp::Div | BinOp::Rem if y == 0 => return Err(Error::Usage("Division by zero".into())),
        BinOp::Div => x / y,
        BinOp::Rem => x % y,
        BinOp::Add => x.wrapping_add(y),
        BinOp::Sub => x.wrapping_sub(y),
        BinOp::Shl => x.wrapping_shl((y & 127) as u32),
        BinOp::Shr => x >> ((y & 127) as u32),
        BinOp::BitAnd => x & y,
        BinOp::BitXor => x ^ y,
        BinOp::BitOr => x | y,
        BinOp::Lt => return cmp(x < y),
        BinOp::Gt => return cmp(x > y),
        BinOp::Le => return cmp(x <= y),
        BinOp::Ge => return cmp(x >= y),
        BinOp::Eq => return cmp(x == y),
        BinOp::Ne => return cmp(x != y),
        BinOp::And | BinOp::Or => return cmp(false),
    };
    Value::from_u64(types, ty, r as u64)
}

/// `(target) v`.
fn cast(types: &TypeArena, mem: &dyn VirtualMemory, v: &Value, target: TypeId) -> Result<Value> {
    let (_, to) = types.resolve(target)?;
    match to {
        Type::Struct(_) | Type::Union(_) | Type::Array { .. } => {
            // gdb reinterprets an lvalue in place.
            let addr = v.address().ok_or_else(|| Error::Usage("Invalid cast.".into()))?;
            Ok(Value::at(target, addr))
        }
        Type::Int { size, kind: IntKind::Bool, .. } => {
            let truth = truthy(types, mem, v)? as u64;
            Value::from_u64(types, target, truth).map(|mut r| {
                r.place = Place::Bytes(truth.to_le_bytes()[..size.clamp(1, 8) as usize].to_vec().into());
                r
            })
        }
        Type::Int { .. } | Type::Enum { .. } | Type::Pointer { .. } => {
            let (_, x, _) = promoted(types, mem, v)?;
            Value::from_u64(types, target, x as u64)
        }
        Type::Void => Ok(Value::from_bytes(TypeId::VOID, Vec::new())),
        _ => Err(Error::Usage(format!("Invalid cast to `{}'.", types.type_name(target)))),
    }
}

/// True if `name` is a typedef (for the parser's cast detection).
pub fn is_typedef_name(types: &TypeArena, name: &str) -> bool {
    types.find_type(TypeKind::Typedef, name).is_ok()
}

/// An array declared without a length (`const char linux_banner[]`) gets
/// its length from the symbol's size, as gdb knows it from the definition.
fn sized_by_symbol(types: &TypeArena, ty: TypeId, symbol_size: u64) -> Result<TypeId> {
    match types.resolve(ty)?.1 {
        Type::Array { elem, len: None | Some(0) } if symbol_size > 0 => {
            let stride = types.size_of(elem)?.max(1);
            types.intern(Type::Array { elem, len: Some(symbol_size / stride) })
        }
        _ => Ok(ty),
    }
}

/// Evaluates expressions against a kernel; `cpu` selects which copy of
/// per-cpu variables names refer to (crash's `VAR:N`).
pub struct KernelContext<'k> {
    pub kernel: &'k krash_program::Kernel,
    pub cpu: Option<u32>,
}

impl KernelContext<'_> {
    /// Parses with the kernel's typedefs.
    pub fn parse(&self, text: &str) -> Result<Expr> {
        let arena = self.kernel.type_arena();
        parse(text, &|n| is_typedef_name(arena, n))
    }
}

impl ExprContext for KernelContext<'_> {
    fn arena(&self) -> &TypeArena {
        self.kernel.type_arena()
    }
    fn memory(&self) -> &dyn VirtualMemory {
        self.kernel.memory()
    }
    fn global(&self, name: &str) -> Result<Option<Global>> {
        let k = self.kernel;
        let types = k.type_arena();
        let mut var = types.find_variable(name)?;
        if var.is_none() && k.lookup_symbol(name).is_some() && !types.has_fallback() && k.load_dwarf_fallback() {
            var = types.find_variable(name)?;
        }
        if let Some(var) = var {
            let addr = if var.is_percpu() {
                let cpu = self.cpu.ok_or_else(|| {
                    Error::Usage(format!("{name} is a per-cpu variable: say which CPU with {name}:N"))
                })?;
                k.percpu_addr(name, cpu)?
            } else {
                k.lookup_symbol(name)
                    .map(|s| s.addr)
                    .ok_or_else(|| Error::NotFound(format!("symbol not found: {name}")))?
            };
            let ty = sized_by_symbol(types, var.ty, k.lookup_symbol(name).map(|s| s.size).unwrap_or(0))?;
            return Ok(Some(Global::Typed(Value::at(ty, addr))));
        }
        if let Some(sym) = k.lookup_symbol(name) {
            if let Some(proto) = types.find_function(name)? {
                return Ok(Some(Global::Typed(Value::at(proto, sym.addr))));
            }
            return Ok(Some(Global::Untyped { name: name.to_string(), addr: sym.addr }));
        }
        Ok(None)
    }
    fn history(&self, index: Option<usize>) -> Result<Value> {
        self.kernel.history_value(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use krash_debuginfo::types::{Composite, Member, Variable};
    use std::collections::HashMap;
    use std::sync::Arc;

    struct Fixture(Vec<Type>);

    impl TypeProvider for Fixture {
        fn type_by_id(&self, id: TypeId) -> Result<Type> {
            self.0.get(id.0 as usize).cloned().ok_or_else(|| Error::NotFound(format!("type {}", id.0)))
        }
        fn find_types(&self, kind: TypeKind, name: &str) -> Result<Vec<TypeId>> {
            Ok(self
                .0
                .iter()
                .enumerate()
                .filter(|(_, t)| {
                    t.name() == Some(name)
                        && matches!(
                            (kind, t),
                            (TypeKind::Struct, Type::Struct(_))
                                | (TypeKind::Typedef, Type::Typedef { .. })
                                | (TypeKind::Base, Type::Int { .. })
                        )
                })
                .map(|(i, _)| TypeId(i as u64))
                .collect())
        }
        fn find_variable(&self, name: &str) -> Result<Option<Variable>> {
            Ok((name == "init_thing").then(|| Variable {
                name: name.into(),
                ty: TypeId(4),
                section: None,
                section_offset: None,
            }))
        }
        fn find_function(&self, _: &str) -> Result<Option<TypeId>> {
            Ok(None)
        }
    }

    fn member(name: &str, ty: u64, bit_offset: u64) -> Member {
        Member { name: Some(name.into()), ty: TypeId(ty), bit_offset, bitfield_size: None }
    }

    /// struct thing { int pid; char comm[8]; struct list_head node; struct thing *next; }
    fn fixture() -> Fixture {
        Fixture(vec![
            Type::Void,                                                                    // 0
            Type::Int { name: "int".into(), size: 4, signed: true, kind: IntKind::Plain }, // 1
            Type::Int { name: "char".into(), size: 1, signed: true, kind: IntKind::Char }, // 2
            Type::Array { elem: TypeId(2), len: Some(8) },                                 // 3
            Type::Struct(Composite {
                name: Some("thing".into()),
                size: 40,
                members: vec![
                    member("pid", 1, 0),
                    member("comm", 3, 32),
                    member("node", 6, 128),
                    member("next", 5, 256),
                ],
            }), // 4
            Type::Pointer { to: TypeId(4) },                                               // 5
            Type::Struct(Composite {
                name: Some("list_head".into()),
                size: 16,
                members: vec![member("next", 7, 0), member("prev", 7, 64)],
            }), // 6
            Type::Pointer { to: TypeId(6) },                                               // 7
            Type::Int { name: "long unsigned int".into(), size: 8, signed: false, kind: IntKind::Plain }, // 8
            Type::Typedef { name: "u64".into(), to: TypeId(8) },                           // 9
        ])
    }

    struct Mem(HashMap<u64, u8>);
    impl VirtualMemory for Mem {
        fn read_virt(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = *self.0.get(&(addr + i as u64)).ok_or_else(|| krash_core::memory::not_mapped(addr + i as u64))?;
            }
            Ok(())
        }
    }

    struct Ctx {
        arena: TypeArena,
        mem: Mem,
        history: Vec<Value>,
    }

    const THING: u64 = 0x1000;
    const OTHER: u64 = 0x2000;

    impl ExprContext for Ctx {
        fn arena(&self) -> &TypeArena {
            &self.arena
        }
        fn memory(&self) -> &dyn VirtualMemory {
            &self.mem
        }
        fn global(&self, name: &str) -> Result<Option<Global>> {
            Ok(match name {
                "init_thing" => Some(Global::Typed(Value::at(TypeId(4), THING))),
                "jiffies" => Some(Global::Untyped { name: name.into(), addr: 0x3000 }),
                _ => None,
            })
        }
        fn history(&self, index: Option<usize>) -> Result<Value> {
            let i = index.unwrap_or(self.history.len());
            self.history.get(i.wrapping_sub(1)).cloned().ok_or_else(|| Error::NotFound("History is empty.".into()))
        }
    }

    fn ctx() -> Ctx {
        let mut bytes = HashMap::new();
        let mut put = |addr: u64, data: &[u8]| {
            for (i, b) in data.iter().enumerate() {
                bytes.insert(addr + i as u64, *b);
            }
        };
        put(THING, &42i32.to_le_bytes());
        put(THING + 4, b"init\0\0\0\0");
        put(THING + 16, &(OTHER + 16).to_le_bytes());
        put(THING + 24, &(OTHER + 16).to_le_bytes());
        put(THING + 32, &OTHER.to_le_bytes());
        put(OTHER, &7i32.to_le_bytes());
        put(OTHER + 4, b"other\0\0\0");
        put(OTHER + 16, &(THING + 16).to_le_bytes());
        put(OTHER + 24, &(THING + 16).to_le_bytes());
        put(OTHER + 32, &0u64.to_le_bytes());
        put(0x3000, &0x1234_5678u64.to_le_bytes());
        Ctx { arena: TypeArena::new(Some(Arc::new(fixture()))), mem: Mem(bytes), history: Vec::new() }
    }

    fn eval_i(c: &Ctx, text: &str) -> i128 {
        let e = parse(text, &|n| is_typedef_name(&c.arena, n)).unwrap_or_else(|e| panic!("{text}: {e}"));
        let v = evaluate(c, &e).unwrap_or_else(|e| panic!("{text}: {e}"));
        v.as_i128(&c.arena, &c.mem).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn eval_err(c: &Ctx, text: &str) -> String {
        match parse(text, &|n| is_typedef_name(&c.arena, n)).and_then(|e| evaluate(c, &e)) {
            Ok(v) => panic!("{text} evaluated to {v:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn arithmetic_precedence_and_comparisons() {
        let c = ctx();
        assert_eq!(eval_i(&c, "10+3*2"), 16);
        assert_eq!(eval_i(&c, "(10+3)*2"), 26);
        assert_eq!(eval_i(&c, "10/3"), 3);
        assert_eq!(eval_i(&c, "-1"), -1);
        assert_eq!(eval_i(&c, "1 << 4 | 1"), 17);
        assert_eq!(eval_i(&c, "5 > 3 && 2 != 2"), 0);
        assert_eq!(eval_i(&c, "5 > 3 || 0"), 1);
        assert_eq!(eval_i(&c, "0x10 == 16 ? 7 : 9"), 7);
        assert_eq!(eval_i(&c, "'A'"), 65);
        assert_eq!(eval_i(&c, "~0 & 0xff"), 255);
        assert_eq!(eval_i(&c, "010"), 8);
        assert!(eval_err(&c, "1/0").contains("Division by zero"));
        assert!(eval_err(&c, "1 +").contains("syntax error"));
    }

    #[test]
    fn members_pointers_and_casts() {
        let c = ctx();
        assert_eq!(eval_i(&c, "init_thing.pid"), 42);
        assert_eq!(eval_i(&c, "init_thing.next->pid"), 7);
        assert_eq!(eval_i(&c, "(*init_thing.next).pid"), 7);
        assert_eq!(eval_i(&c, "init_thing.comm[1]"), b'n' as i128);
        assert_eq!(eval_i(&c, "&init_thing.node"), (THING + 16) as i128);
        assert_eq!(eval_i(&c, "&((struct thing *)0)->next"), 32);
        assert_eq!(eval_i(&c, "((struct thing *)0x2000)->pid"), 7);
        // node.next points at OTHER+16; read as a thing, its pid is the low half of THING+16.
        assert_eq!(eval_i(&c, "((struct thing *)init_thing.node.next)->pid"), 0x1010);
        assert_eq!(eval_i(&c, "sizeof(struct thing)"), 40);
        assert_eq!(eval_i(&c, "sizeof init_thing.comm"), 8);
        assert_eq!(eval_i(&c, "sizeof(u64)"), 8);
        assert_eq!(eval_i(&c, "(u64)-1 > 0"), 1);
        assert_eq!(eval_i(&c, "(struct thing *)0x1000 + 1"), 0x1000 + 40);
        assert_eq!(eval_i(&c, "init_thing.next - (struct thing *)0x1000"), (0x1000 / 40) as i128);
        assert_eq!(eval_i(&c, "(unsigned long)jiffies"), 0x1234_5678);
        assert_eq!(eval_i(&c, "*(unsigned long *)&jiffies"), 0x1234_5678);
        assert!(eval_err(&c, "jiffies").contains("unknown type"));
        assert!(eval_err(&c, "nosuch").contains("No symbol \"nosuch\""));
        assert!(eval_err(&c, "init_thing.nope").contains("no member named nope"));
        assert!(eval_err(&c, "init_thing.next.pid").contains("->"));
    }

    #[test]
    fn history_values() {
        let mut c = ctx();
        let e = parse("init_thing.pid", &|_| false).unwrap();
        let v = evaluate(&c, &e).unwrap();
        c.history.push(v);
        assert_eq!(eval_i(&c, "$1 + 1"), 43);
        assert_eq!(eval_i(&c, "$"), 42);
        assert!(eval_err(&c, "$5").contains("History"));
    }

    #[test]
    fn formatting_structs_and_strings() {
        use crate::value::{Radix, ScalarData, ValueFormatter, ValueText};
        let c = ctx();
        let f = ValueFormatter { types: &c.arena, mem: &c.mem, radix: Radix::Natural, symbolize: &|_| None };
        let v = Value::at(TypeId(4), THING);
        let ValueText::Struct { fields, .. } = f.format(&v) else { panic!("not a struct") };
        assert_eq!(fields[0].value.text(), Some("42"));
        assert_eq!(fields[1].value.text(), Some(r#""init\000\000\000""#));
        assert_eq!(fields[3].value.text(), Some("0x2000"));
        // The typed facts behind the text: the number, the type, the offset.
        let ValueText::Scalar { data: Some(ScalarData::Integer { value: 42, .. }), .. } = &fields[0].value else {
            panic!("pid is not a typed integer: {:?}", fields[0].value)
        };
        assert!(fields[0].value.type_name().is_some());
        assert!(matches!(
            fields[3].value,
            ValueText::Scalar { data: Some(ScalarData::Pointer { address: 0x2000, .. }), .. }
        ));
        assert!(fields[1].offset > fields[0].offset);
        let hex = ValueFormatter { radix: Radix::Hex, ..f };
        let ValueText::Struct { fields, .. } = hex.format(&v) else { panic!("not a struct") };
        assert_eq!(fields[0].value.text(), Some("0x2a"));
    }
}
