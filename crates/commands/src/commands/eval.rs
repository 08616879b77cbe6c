//! `eval`: a number, symbol or integer expression shown in hexadecimal,
//! decimal, octal and binary, as crash's `eval` shows it.

use krash_core::{Error, Result};

use crate::{CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "eval",
    aliases: &[],
    summary: "evaluate an expression and show it in several bases",
    synopsis: "eval [-b][-l] (expression) | value",
    details: "  value       a number or a symbol: 0x1f and 1f are hexadecimal, 31 is decimal (a number\n\
              \x20            with a letter a-f in it is hexadecimal); k, m or g after a number\n\
              \x20            multiplies it by 1024, 1024*1024 or 1024*1024*1024; a symbol is its address\n\
              \x20 expression  values joined by + - * / % & | ^ << >>, with ( ) and the unary ~ and -,\n\
              \x20            with C's precedence, in 64-bit unsigned arithmetic; put it in parentheses\n\
              \x20            when it holds | or > (which would otherwise be a pipe or a redirection)\n\
              \x20 -b         also list the bit positions that are set\n\
              \x20 -l         64-bit values (always so here: accepted for crash's scripts)\n\
              The result is shown in hexadecimal (with KB, MB or GB when it is a whole number of\n\
              them), decimal (and signed decimal when the top bit is set), octal and binary.",
    run,
};

/// The value `eval` computed; the renderer shows it in every base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Eval {
    pub value: u64,
    /// `-b`: list the set bits.
    pub show_bits: bool,
}

impl Eval {
    /// The positions of the set bits, highest first (crash's order).
    pub fn bits_set(&self) -> Vec<u32> {
        (0..64u32).rev().filter(|b| self.value >> b & 1 == 1).collect()
    }
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let mut show_bits = false;
    let mut rest = args;
    // Options by hand, as crash does, so that `eval -1` is minus one.
    while let Some((first, tail)) = rest.split_first() {
        match first.as_str() {
            "-b" => show_bits = true,
            "-l" => {}
            "-bl" | "-lb" => show_bits = true,
            _ => break,
        }
        rest = tail;
    }
    if rest.is_empty() {
        return Err(Error::Usage(format!("eval: an expression or value is required\nUsage: {}", SPEC.synopsis)));
    }
    let text = rest.join(" ");
    let k = &session.kernel;
    let value = evaluate(&text, &|name| k.symbol_addr(name).ok())?;
    Ok(Output::Eval(Eval { value, show_bits }))
}

/// Evaluates `text`; `symbol` gives a symbol's address (None: no such
/// symbol).
pub fn evaluate(text: &str, symbol: &dyn Fn(&str) -> Option<u64>) -> Result<u64> {
    let tokens = tokenize(text)?;
    let mut parser = Parser { tokens: &tokens, at: 0, symbol, text };
    let value = parser.expression(0)?;
    if parser.at != tokens.len() {
        return Err(invalid(text));
    }
    Ok(value)
}

fn invalid(text: &str) -> Error {
    Error::Usage(format!("eval: invalid expression: {text}"))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Op(&'static str),
    Open,
    Close,
}

const OPERATORS: [&str; 12] = ["<<", ">>", "+", "-", "*", "/", "%", "&", "|", "^", "~", "#"];

fn tokenize(text: &str) -> Result<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c.is_whitespace() {
            rest = &rest[c.len_utf8()..];
        } else if c == '(' || c == ')' {
            tokens.push(if c == '(' { Token::Open } else { Token::Close });
            rest = &rest[1..];
        } else if let Some(op) = OPERATORS.iter().find(|op| rest.starts_with(**op)) {
            tokens.push(Token::Op(op));
            rest = &rest[op.len()..];
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$' {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$'))
                .unwrap_or(rest.len());
            tokens.push(Token::Word(rest[..end].to_string()));
            rest = &rest[end..];
        } else {
            return Err(invalid(text));
        }
    }
    if tokens.is_empty() {
        return Err(invalid(text));
    }
    Ok(tokens)
}

/// Binding strength of each binary operator, C's order (higher binds tighter).
fn precedence(op: &str) -> Option<u8> {
    Some(match op {
        "|" => 1,
        "^" => 2,
        "&" => 3,
        "<<" | ">>" => 4,
        "+" | "-" => 5,
        "*" | "/" | "%" => 6,
        // crash's power operator.
        "#" => 7,
        _ => return None,
    })
}

/// Nesting deeper than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
    symbol: &'a dyn Fn(&str) -> Option<u64>,
    text: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    /// Precedence climbing: operands joined by operators binding at least
    /// as tightly as `min`.
    fn expression(&mut self, depth: usize) -> Result<u64> {
        self.binary(1, depth)
    }

    fn binary(&mut self, min: u8, depth: usize) -> Result<u64> {
        let mut left = self.unary(depth)?;
        while let Some(Token::Op(op)) = self.peek() {
            let op = *op;
            let Some(prec) = precedence(op) else { break };
            if prec < min {
                break;
            }
            self.at += 1;
            let right = self.binary(prec + 1, depth)?;
            left = apply(op, left, right).ok_or_else(|| match op {
                "/" | "%" => Error::Usage(format!("eval: division by zero: {}", self.text)),
                _ => invalid(self.text),
            })?;
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<u64> {
        if depth > MAX_DEPTH {
            return Err(invalid(self.text));
        }
        let token = self.peek().cloned().ok_or_else(|| invalid(self.text))?;
        self.at += 1;
        match token {
            Token::Op("~") => Ok(!self.unary(depth + 1)?),
            Token::Op("-") => Ok(self.unary(depth + 1)?.wrapping_neg()),
            Token::Op("+") => self.unary(depth + 1),
            Token::Open => {
                let v = self.expression(depth + 1)?;
                match self.peek() {
                    Some(Token::Close) => {
                        self.at += 1;
                        Ok(v)
                    }
                    _ => Err(invalid(self.text)),
                }
            }
            Token::Word(w) => self.operand(&w),
            _ => Err(invalid(self.text)),
        }
    }

    /// A number or a symbol. A word that starts with a letter is a symbol
    /// when the kernel has one by that name (`add`, `dead`), else a hex number.
    fn operand(&self, word: &str) -> Result<u64> {
        if word.starts_with(|c: char| !c.is_ascii_digit()) {
            if let Some(addr) = (self.symbol)(word) {
                return Ok(addr);
            }
        }
        parse_number(word).ok_or_else(|| {
            if word.starts_with(|c: char| c.is_ascii_digit()) {
                Error::Usage(format!("eval: invalid number: {word}"))
            } else {
                Error::NotFound(format!("eval: no symbol or number: {word}"))
            }
        })
    }
}

fn apply(op: &str, a: u64, b: u64) -> Option<u64> {
    Some(match op {
        "+" => a.wrapping_add(b),
        "-" => a.wrapping_sub(b),
        "*" => a.wrapping_mul(b),
        "/" => a.checked_div(b)?,
        "%" => a.checked_rem(b)?,
        "&" => a & b,
        "|" => a | b,
        "^" => a ^ b,
        // Shifting by 64 or more gives 0, as the arithmetic would.
        "<<" => u32::try_from(b).ok().and_then(|s| a.checked_shl(s)).unwrap_or(0),
        ">>" => u32::try_from(b).ok().and_then(|s| a.checked_shr(s)).unwrap_or(0),
        "#" => a.wrapping_pow(u32::try_from(b).unwrap_or(u32::MAX)),
        _ => return None,
    })
}

/// crash's numbers: `0x` hexadecimal; digits only decimal; with a letter
/// a-f hexadecimal; a k/m/g suffix multiplies by 1024^1, ^2, ^3.
pub fn parse_number(word: &str) -> Option<u64> {
    let (digits, factor) = match word.char_indices().last() {
        Some((i, 'k' | 'K')) => (&word[..i], 1u64 << 10),
        Some((i, 'm' | 'M')) => (&word[..i], 1 << 20),
        Some((i, 'g' | 'G')) => (&word[..i], 1 << 30),
        _ => (word, 1),
    };
    let value = if let Some(hex) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()?
    } else if !digits.is_empty() && digits.len() <= 16 && digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        u64::from_str_radix(digits, 16).ok()?
    } else {
        return None;
    };
    value.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(text: &str) -> Result<u64> {
        evaluate(text, &|name| match name {
            "jiffies" => Some(0xffffffff82a05940),
            "add" => Some(0x1000),
            _ => None,
        })
    }

    #[test]
    fn numbers_as_crash_reads_them() {
        let table: &[(&str, u64)] = &[
            ("128", 128),
            ("0x80", 128),
            ("41dc065", 0x41dc065),
            ("128m", 128 << 20),
            ("64g", 64 << 30),
            ("4K", 4096),
            ("0x1k", 1024),
            ("ffffffff81000000", 0xffffffff81000000),
        ];
        for (text, want) in table {
            assert_eq!(eval(text).unwrap(), *want, "{text}");
        }
        assert!(eval("80h").is_err());
        assert_eq!(parse_number("12345678901234567890"), Some(12345678901234567890));
        assert_eq!(parse_number("16g"), Some(16 << 30));
        assert_eq!(parse_number("99999999999g"), None, "overflow is no number");
    }

    #[test]
    fn operators_follow_c_precedence() {
        let table: &[(&str, u64)] = &[
            ("128 * 1m", 128 << 20),
            ("(1 << 27)", 1 << 27),
            ("1 << 32", 1 << 32),
            ("1 + 2 * 3", 7),
            ("(1 + 2) * 3", 9),
            ("100 / 7", 14),
            ("100 % 7", 2),
            ("0xf0 | 0x0f", 0xff),
            ("0xff & 0x0f ^ 0x3", 0xc),
            ("0xff ^ 0x0f", 0xf0),
            ("1 | 2 ^ 3 & 4", 3),
            ("6 & 3 | 8", 10),
            ("256 >> 4", 16),
            ("~0", u64::MAX),
            ("-1", u64::MAX),
            ("5 - 7", u64::MAX - 1),
            ("2 # 10", 1024),
            ("1 << 64", 0),
            ("jiffies + 0x10", 0xffffffff82a05950),
            ("jiffies & ~0xfff", 0xffffffff82a05000),
            ("add", 0x1000),
            ("dead", 0xdead),
            ("((1))", 1),
        ];
        for (text, want) in table {
            assert_eq!(eval(text).unwrap(), *want, "{text}");
        }
    }

    #[test]
    fn bad_expressions_are_errors() {
        for text in ["", "1 +", "(1", "1)", "1 / 0", "5 % 0", "nosuch", "12z", "1 ? 2", "1 2"] {
            assert!(eval(text).is_err(), "{text:?} should fail");
        }
        let deep = format!("{}1{}", "(".repeat(500), ")".repeat(500));
        assert!(eval(&deep).is_err());
    }

    #[test]
    fn bits_are_listed_high_to_low() {
        let e = Eval { value: 0x41dc065, show_bits: true };
        assert_eq!(e.bits_set(), vec![26, 20, 19, 18, 16, 15, 14, 6, 5, 2, 0]);
        assert!(Eval { value: 0, show_bits: true }.bits_set().is_empty());
    }
}
