//! Documents of the commands crash users type from habit: `eval`,
//! `alias`, `repeat`, and `set`'s internal variables.

use schemars::JsonSchema;
use serde::Serialize;

use super::numbers::{hex, Hex, I64Decimal, U64Decimal};
use super::NestedOutput;
use crate::output as out;

/// `eval`: one value in every base.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct EvalData {
    pub hexadecimal: Hex,
    pub decimal: U64Decimal,
    /// The value as a signed 64-bit number.
    pub signed: I64Decimal,
    /// Octal digits.
    pub octal: String,
    /// The set bit positions, highest first.
    pub bits_set: Vec<u32>,
}

impl From<&out::Eval> for EvalData {
    fn from(e: &out::Eval) -> Self {
        EvalData {
            hexadecimal: hex(e.value),
            decimal: U64Decimal(e.value),
            signed: I64Decimal(e.value as i64),
            octal: format!("{:o}", e.value),
            bits_set: e.bits_set(),
        }
    }
}

/// `alias`: the aliases listed (every one, or the one asked for), or the
/// one deleted.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "view", rename_all = "snake_case")]
pub enum AliasData {
    List {
        aliases: Vec<AliasEntry>,
        /// The name asked for when no alias has it.
        missing: Option<String>,
    },
    Deleted {
        name: String,
    },
}

/// One alias.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AliasEntry {
    /// `builtin` (crash's built-in aliases) or `runtime` (defined in this session).
    pub origin: AliasOrigin,
    pub name: String,
    /// The command string it stands for.
    pub command: String,
}

/// Where an alias comes from.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AliasOrigin {
    Builtin,
    Runtime,
}

impl From<&out::AliasOutput> for AliasData {
    fn from(a: &out::AliasOutput) -> Self {
        match a {
            out::AliasOutput::List { aliases, missing } => AliasData::List {
                aliases: aliases
                    .iter()
                    .map(|a| AliasEntry {
                        origin: match a.origin {
                            out::AliasOrigin::Builtin => AliasOrigin::Builtin,
                            out::AliasOrigin::Runtime => AliasOrigin::Runtime,
                        },
                        name: a.name.clone(),
                        command: a.command.clone(),
                    })
                    .collect(),
                missing: missing.clone(),
            },
            out::AliasOutput::Deleted { name } => AliasData::Deleted { name: name.clone() },
        }
    }
}

/// `repeat COUNT command` run outside the prompt: each run's document.
/// (At the prompt every run prints its own document, named after the
/// command repeated.)
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RepeatData {
    /// The command repeated (its registry name).
    pub command: String,
    pub outputs: Vec<NestedOutput>,
}

impl From<&out::Repeat> for RepeatData {
    fn from(r: &out::Repeat) -> Self {
        let command = crate::lookup(&r.command).map_or(r.command.as_str(), |s| s.name).to_string();
        RepeatData {
            outputs: r.outputs.iter().map(|o| NestedOutput { command: command.clone(), data: o.into() }).collect(),
            command,
        }
    }
}

/// One internal variable of `set -v` / `set NAME [VALUE]`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SetVariable {
    /// `scroll` or `radix`.
    pub name: String,
    /// `on`/`off` for scroll, `10`/`16` for radix.
    pub value: String,
    /// What the value means: the pager's command for scroll, `decimal`
    /// or `hex` for radix.
    pub note: Option<String>,
}

impl From<&out::Variable> for SetVariable {
    fn from(v: &out::Variable) -> Self {
        SetVariable { name: v.name.clone(), value: v.value.clone(), note: v.note.clone() }
    }
}
