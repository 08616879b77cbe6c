//! How numbers that JSON parsers cannot all hold exactly are written.
//!
//! jq 1.6 and JavaScript read every JSON number as an IEEE double, which
//! holds integers exactly only up to 2^53: kernel addresses
//! (0xffffffffc04902a6) would be silently rounded. So addresses, pointers,
//! raw memory words, register values and bit masks are strings of
//! lowercase hexadecimal with a `0x` prefix ([`Hex`]), nanosecond clocks
//! are strings of decimal digits ([`U64Decimal`], [`I64Decimal`]), and raw
//! bytes are strings of two hex digits per byte ([`HexBytes`]).

use std::borrow::Cow;
use std::fmt::Write as _;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Serialize, Serializer};

/// An address, pointer, raw memory word, register value or bit mask:
/// `"0x"` and lowercase hex digits, no leading zeros (`"0x0"` for zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hex(pub u64);

impl Serialize for Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = String::with_capacity(18);
        let _ = write!(buf, "{:#x}", self.0);
        s.serialize_str(&buf)
    }
}

impl JsonSchema for Hex {
    fn schema_name() -> Cow<'static, str> {
        "Hex".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^0x[0-9a-f]{1,16}$",
            "description": "A 64-bit address, pointer, memory word, register value or bit mask: 0x and lowercase hexadecimal digits, no leading zeros."
        })
    }
}

/// An unsigned 64-bit quantity that can pass 2^53 (nanosecond clocks):
/// decimal digits in a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct U64Decimal(pub u64);

impl Serialize for U64Decimal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl JsonSchema for U64Decimal {
    fn schema_name() -> Cow<'static, str> {
        "U64Decimal".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[0-9]{1,20}$",
            "description": "An unsigned 64-bit quantity that may exceed 2^53 (nanoseconds): decimal digits."
        })
    }
}

/// A signed 64-bit quantity that can pass ±2^53 (ktime values): decimal
/// digits with an optional `-`, in a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct I64Decimal(pub i64);

impl Serialize for I64Decimal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl JsonSchema for I64Decimal {
    fn schema_name() -> Cow<'static, str> {
        "I64Decimal".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^-?[0-9]{1,19}$",
            "description": "A signed 64-bit quantity that may exceed 2^53 in size (nanoseconds): decimal digits, - for negative values."
        })
    }
}

/// A C integer's value (any width up to 64 bits, signed or unsigned):
/// decimal digits with an optional `-`, in a string, since 64-bit values
/// pass 2^53.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IntDecimal(pub i128);

impl Serialize for IntDecimal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl JsonSchema for IntDecimal {
    fn schema_name() -> Cow<'static, str> {
        "IntDecimal".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^-?[0-9]{1,20}$",
            "description": "A C integer's value (signed or unsigned, up to 64 bits, so it may exceed 2^53): decimal digits, - for negative values."
        })
    }
}

/// Raw bytes in memory order, two lowercase hex digits each, no prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HexBytes(pub Vec<u8>);

impl Serialize for HexBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = String::with_capacity(self.0.len() * 2);
        for b in &self.0 {
            let _ = write!(buf, "{b:02x}");
        }
        s.serialize_str(&buf)
    }
}

impl JsonSchema for HexBytes {
    fn schema_name() -> Cow<'static, str> {
        "HexBytes".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^([0-9a-f]{2})*$",
            "description": "Bytes in memory order, two lowercase hexadecimal digits each, no prefix or separator."
        })
    }
}

pub(crate) fn hex(v: u64) -> Hex {
    Hex(v)
}

pub(crate) fn opt_hex(v: Option<u64>) -> Option<Hex> {
    v.map(Hex)
}

pub(crate) fn hexes(v: &[u64]) -> Vec<Hex> {
    v.iter().copied().map(Hex).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        let json = serde_json::to_string(&(
            Hex(0xffffffffc04902a6),
            Hex(0),
            U64Decimal(u64::MAX),
            I64Decimal(-5),
            HexBytes(vec![0, 0xab, 7]),
            IntDecimal(u64::MAX as i128),
            IntDecimal(i64::MIN as i128),
        ))
        .unwrap();
        assert_eq!(
            json,
            r#"["0xffffffffc04902a6","0x0","18446744073709551615","-5","00ab07","18446744073709551615","-9223372036854775808"]"#
        );
    }
}
