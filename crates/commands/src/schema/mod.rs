//! The public JSON schema of `--json`: one document per command run (or
//! error), built from these types only. Commands' internal data (the
//! [`Output`] values the text renderer reads, and the kernel model's types
//! inside them) is converted here, so a change to an internal type cannot
//! change the JSON without a change to this module, which docs/json.md,
//! docs/json.schema.json (generated from these types; a test keeps it up
//! to date) and [`SCHEMA_VERSION`] describe.
//!
//! Rules (docs/json.md): every document is one line, an object with
//! `command` (the command's name as `help` lists it, also for an alias),
//! `schema` (this version), `input` (the line as typed; null for the
//! start-up banner) and either `data` (the command's document, whose shape
//! `command` decides) or `error` (`kind` and `message`). Addresses and raw
//! 64-bit words are `"0x..."` strings, nanosecond clocks decimal strings
//! ([`numbers`]).

pub mod bt;
pub mod common;
pub mod devices;
pub mod habits;
pub mod kmem;
pub mod markdown;
pub mod numbers;
pub mod system;
pub mod tasks;
pub mod types;

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;
use serde_json::Value;

use crate::output::Output;

/// The version of the JSON schema, in every document's `schema` field. It
/// changes when a field is removed, renamed or changes its type or meaning,
/// or when the encoding of numbers changes; adding fields, commands, views
/// or enum values does not change it.
pub const SCHEMA_VERSION: u32 = 3;

/// One command's document: `{"command":...,"schema":3,"input":...,"data":...}`.
/// `command` comes first so a line says at once what it answers.
#[derive(Debug, Clone, Serialize)]
pub struct Document {
    pub command: String,
    pub schema: u32,
    pub input: Option<String>,
    pub data: CommandData,
}

impl Document {
    /// The document of `output`, produced by `command` (its registry name)
    /// for the line `input`.
    pub fn new(command: &str, input: Option<&str>, output: &Output) -> Document {
        Document {
            schema: SCHEMA_VERSION,
            command: command.to_string(),
            input: input.map(str::to_string),
            data: CommandData::from(output),
        }
    }
}

/// A command that failed: `{"command":...,"schema":3,"input":...,"error":{...}}`.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorDocument {
    pub command: String,
    pub schema: u32,
    pub input: Option<String>,
    pub error: ErrorInfo,
}

impl ErrorDocument {
    pub fn new(command: &str, input: Option<&str>, kind: ErrorKind, message: &str) -> ErrorDocument {
        ErrorDocument {
            schema: SCHEMA_VERSION,
            command: command.to_string(),
            input: input.map(str::to_string),
            error: ErrorInfo { kind, message: message.to_string() },
        }
    }

    /// The document of a command's error.
    pub fn of(command: &str, input: Option<&str>, e: &krash_core::Error) -> ErrorDocument {
        ErrorDocument::new(command, input, ErrorKind::of(e), &e.to_string())
    }
}

/// Why a command failed, and the message krash prints for it in text mode.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ErrorInfo {
    pub kind: ErrorKind,
    pub message: String,
}

/// The kind of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Bad arguments or options, or a line krash cannot split.
    Usage,
    /// No such command, symbol, task, module, type or member.
    NotFound,
    /// Debuginfo needed for the answer is not loaded.
    MissingDebuginfo,
    /// Memory the answer needs is not in the dump (or not mapped).
    Fault,
    /// Kernel data or a file is malformed.
    BadData,
    /// Something krash does not do.
    Unsupported,
    /// A file could not be read or written.
    Io,
    /// Any other error.
    Other,
}

impl ErrorKind {
    pub fn of(e: &krash_core::Error) -> ErrorKind {
        use krash_core::Error as E;
        match e {
            E::Fault { .. } => ErrorKind::Fault,
            E::MissingDebuginfo(_) => ErrorKind::MissingDebuginfo,
            E::NotFound(_) => ErrorKind::NotFound,
            E::BadData { .. } => ErrorKind::BadData,
            E::Unsupported(_) => ErrorKind::Unsupported,
            E::Io { .. } => ErrorKind::Io,
            E::Usage(_) => ErrorKind::Usage,
            _ => ErrorKind::Other,
        }
    }
}

/// `krash analyze --batch --json`: every dump found and its report, or why
/// it could not be analysed, then the dumps grouped by signature.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AnalyzeBatch {
    pub schema: u32,
    pub dumps: Vec<AnalyzeBatchEntry>,
    /// The analysed dumps grouped by signature, most dumps first.
    pub buckets: Vec<Bucket>,
}

/// One dump of a batch.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AnalyzeBatchEntry {
    pub dump: String,
    /// The crash time (seconds since the epoch, UTC), as `sys` shows it in
    /// DATE: from the dump header, VMCOREINFO or the kernel's clock.
    pub crash_time: Option<i64>,
    /// The dumped kernel's release (`uname -r`).
    pub release: Option<String>,
    pub report: Option<system::AnalyzeData>,
    pub error: Option<String>,
}

impl AnalyzeBatchEntry {
    pub fn new(
        dump: &str,
        facts: &crate::output::DumpFacts,
        result: Result<&krash_analyze::Report, &str>,
    ) -> AnalyzeBatchEntry {
        let (report, error) = match result {
            Ok(r) => (Some(r.into()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        AnalyzeBatchEntry {
            dump: dump.to_string(),
            crash_time: facts.crash_time,
            release: facts.release.clone(),
            report,
            error,
        }
    }
}

/// Dumps that crashed the same way: one signature, how many dumps, when
/// the first and the last crashed, and on which kernels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Bucket {
    pub signature: String,
    pub count: usize,
    /// The earliest crash time (seconds since the epoch, UTC) among the
    /// dumps that have one.
    pub first_crash: Option<i64>,
    /// The latest.
    pub last_crash: Option<i64>,
    /// The kernel releases the dumps ran, sorted, each once.
    pub releases: Vec<String>,
    /// The dumps, sorted.
    pub dumps: Vec<String>,
}

/// One analysed dump, as [`buckets`] groups it.
#[derive(Debug, Clone, Copy)]
pub struct BucketInput<'a> {
    pub dump: &'a str,
    pub signature: &'a str,
    pub crash_time: Option<i64>,
    pub release: Option<&'a str>,
}

/// Groups dumps by signature: most dumps first, then by signature.
pub fn buckets(dumps: &[BucketInput<'_>]) -> Vec<Bucket> {
    let mut by_signature: std::collections::BTreeMap<&str, Bucket> = Default::default();
    for d in dumps {
        let b = by_signature.entry(d.signature).or_insert_with(|| Bucket {
            signature: d.signature.to_string(),
            count: 0,
            first_crash: None,
            last_crash: None,
            releases: Vec::new(),
            dumps: Vec::new(),
        });
        b.count += 1;
        if let Some(t) = d.crash_time {
            b.first_crash = Some(b.first_crash.map_or(t, |f| f.min(t)));
            b.last_crash = Some(b.last_crash.map_or(t, |l| l.max(t)));
        }
        if let Some(r) = d.release {
            if !b.releases.iter().any(|x| x == r) {
                b.releases.push(r.to_string());
            }
        }
        b.dumps.push(d.dump.to_string());
    }
    let mut out: Vec<Bucket> = by_signature.into_values().collect();
    for b in &mut out {
        b.releases.sort();
        b.dumps.sort();
    }
    // Stable sort: equal counts stay in signature order.
    out.sort_by_key(|b| std::cmp::Reverse(b.count));
    out
}

/// `krash analyze --batch --json-lines`: one line per dump as soon as it
/// is analysed, then one summary line.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AnalyzeBatchLine {
    /// One dump: its report, or the error that stopped its analysis.
    Dump {
        schema: u32,
        dump: String,
        /// The crash time (seconds since the epoch, UTC), as in `sys`'s DATE.
        crash_time: Option<i64>,
        /// The dumped kernel's release (`uname -r`).
        release: Option<String>,
        // Boxed: a report is large beside the summary variant.
        report: Option<Box<system::AnalyzeData>>,
        error: Option<ErrorInfo>,
    },
    /// The last line: how many dumps, which failed, and the buckets.
    Summary {
        schema: u32,
        /// Dumps found.
        total: usize,
        /// The dumps that could not be analysed, sorted.
        failed: Vec<String>,
        buckets: Vec<Bucket>,
    },
}

/// `foreach`: the command run for each task and each run's document.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ForeachData {
    /// The command run (its registry name).
    pub command: String,
    /// One per task, in `ps` order.
    pub outputs: Vec<NestedOutput>,
    /// The tasks the command failed on (their memory unreadable), with why.
    pub failures: Vec<ForeachFailureData>,
}

/// A task `foreach` could not run its command on.
#[derive(Debug, Clone, Serialize, JsonSchema)]

pub struct ForeachFailureData {
    /// The task's `task_struct` address.
    pub task: numbers::Hex,
    pub error: String,
}

/// A command's document inside another's (`foreach`): `command` and `data`.
#[derive(Debug, Clone, Serialize)]
pub struct NestedOutput {
    pub command: String,
    pub data: CommandData,
}

impl JsonSchema for NestedOutput {
    fn schema_name() -> Cow<'static, str> {
        "NestedOutput".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let branches: Vec<Value> = command_schemas(generator)
            .into_iter()
            .map(|(names, data)| {
                serde_json::json!({
                    "type": "object",
                    "required": ["command", "data"],
                    "properties": { "command": names_schema(&names), "data": data.to_value() }
                })
            })
            .collect();
        json_schema!({
            "description": "One command's output inside another's document: the command's name and its data.",
            "oneOf": branches
        })
    }
}

/// Documents of `krash` subcommands that are no command at the prompt
/// (`krash decode` reads an oops, not a dump).
pub const SUBCOMMAND_DOCUMENTS: &[&str] = &["decode"];

/// Defines [`CommandData`] (one variant per document shape), the
/// conversion from [`Output`] and the command names of each shape.
macro_rules! command_data {
    ($($variant:ident($ty:ty) = [$($name:literal),+]),+ $(,)?) => {
        /// A command's data: serialized as the data alone (the document's
        /// `command` says which shape it is).
        #[allow(clippy::large_enum_variant)]
        #[derive(Debug, Clone, Serialize)]
        #[serde(untagged)]
        pub enum CommandData {
            $($variant($ty)),+
        }

        /// Every document shape with the commands that produce it.
        fn command_schemas(generator: &mut SchemaGenerator) -> Vec<(Vec<&'static str>, Schema)> {
            vec![$((vec![$($name),+], generator.subschema_for::<$ty>())),+]
        }

        /// The registry names of every command with a document.
        pub fn documented_commands() -> Vec<&'static str> {
            vec![$($($name),+),+]
        }
    };
}

command_data! {
    Bt(bt::BtData) = ["bt"],
    Dis(system::DisData) = ["dis"],
    Help(system::HelpData) = ["help"],
    Log(system::LogData) = ["log"],
    Kmem(kmem::KmemData) = ["kmem"],
    Mod(system::ModData) = ["mod"],
    Ps(tasks::PsData) = ["ps"],
    Rd(types::RdData) = ["rd"],
    Set(system::SetData) = ["set"],
    Sym(system::SymData) = ["sym"],
    Sys(system::SysData) = ["sys"],
    Foreach(ForeachData) = ["foreach"],
    List(types::ListData) = ["list"],
    Print(types::PrintData) = ["p", "px", "pd"],
    Struct(types::StructData) = ["struct", "union"],
    Task(types::TaskData) = ["task"],
    Search(types::SearchData) = ["search"],
    Tree(types::TreeData) = ["tree"],
    Whatis(types::WhatisData) = ["whatis", "ptype"],
    Analyze(system::AnalyzeData) = ["analyze"],
    Decode(system::DecodeData) = ["decode"],
    Vtop(devices::VtopData) = ["vtop"],
    Conversion(devices::ConversionData) = ["ptov", "btop", "ptob"],
    Pte(devices::PteData) = ["pte"],
    Vm(devices::VmData) = ["vm"],
    Files(devices::FilesData) = ["files"],
    Fuser(devices::FuserData) = ["fuser"],
    Runq(tasks::RunqData) = ["runq"],
    Mount(devices::MountData) = ["mount"],
    Irq(devices::IrqData) = ["irq"],
    Timer(devices::TimerData) = ["timer"],
    Net(devices::NetData) = ["net"],
    Dev(devices::DevData) = ["dev"],
    Swap(devices::SwapData) = ["swap"],
    Sig(tasks::SigData) = ["sig"],
    Waitq(tasks::WaitqData) = ["waitq"],
    Ipcs(devices::IpcsData) = ["ipcs"],
    Eval(habits::EvalData) = ["eval"],
    Alias(habits::AliasData) = ["alias"],
    Repeat(habits::RepeatData) = ["repeat"],
}

impl From<&Output> for CommandData {
    fn from(o: &Output) -> Self {
        use CommandData as D;
        match o {
            Output::Bt(b) => D::Bt(b.into()),
            Output::Dis(d) => D::Dis(d.into()),
            Output::Help(h) => D::Help(h.into()),
            Output::Log(l) => D::Log(l.into()),
            Output::Kmem(k) => D::Kmem(k.into()),
            Output::Mod(m) => D::Mod(m.into()),
            Output::Ps(p) => D::Ps(p.into()),
            Output::Rd(r) => D::Rd(r.into()),
            Output::Set(c) => D::Set(c.into()),
            Output::Sym(s) => D::Sym(s.into()),
            Output::Sys(s) => D::Sys(s.into()),
            Output::SysDetail(d) => D::Sys(d.into()),
            Output::Foreach(f) => {
                let command = crate::lookup(&f.command).map_or(f.command.as_str(), |s| s.name).to_string();
                D::Foreach(ForeachData {
                    outputs: f
                        .outputs
                        .iter()
                        .map(|o| NestedOutput { command: command.clone(), data: o.into() })
                        .collect(),
                    failures: f
                        .failures
                        .iter()
                        .map(|x| ForeachFailureData { task: numbers::hex(x.task), error: x.error.clone() })
                        .collect(),
                    command,
                })
            }
            Output::List(l) => D::List(l.into()),
            Output::Print(p) => D::Print(p.into()),
            Output::Struct(s) => D::Struct(s.into()),
            Output::Task(t) => D::Task(t.into()),
            Output::Search(s) => D::Search(s.into()),
            Output::Tree(t) => D::Tree(t.into()),
            Output::Whatis(w) => D::Whatis(w.into()),
            Output::Analyze(r) => D::Analyze(r.into()),
            Output::Decode(d) => D::Decode(d.into()),
            Output::Runq(r) => D::Runq(r.into()),
            Output::Mount(m) => D::Mount(m.into()),
            Output::Irq(i) => D::Irq(i.into()),
            Output::Timer(t) => D::Timer(t.into()),
            Output::Hrtimers(h) => D::Timer(h.into()),
            Output::Vtop(v) => devices::vtop(v),
            Output::Vm(v) => D::Vm(v.into()),
            Output::Files(f) => D::Files(f.into()),
            Output::Fuser(f) => D::Fuser(f.into()),
            Output::Net(n) => D::Net(n.into()),
            Output::Dev(d) => D::Dev(d.into()),
            Output::Swap(s) => D::Swap(s.into()),
            Output::Sig(s) => D::Sig(s.into()),
            Output::Waitq(w) => D::Waitq(w.into()),
            Output::Ipcs(i) => D::Ipcs(i.into()),
            Output::Eval(e) => D::Eval(e.into()),
            Output::Alias(a) => D::Alias(a.into()),
            Output::Repeat(r) => D::Repeat(r.into()),
            Output::SetVariables(v) => D::Set(v.into()),
        }
    }
}

fn names_schema(names: &[&str]) -> Value {
    match names {
        [one] => serde_json::json!({ "const": one }),
        many => serde_json::json!({ "enum": many }),
    }
}

/// The JSON Schema (draft 2020-12) of every document krash prints with
/// `--json`: command documents, error documents, and `krash analyze
/// --batch --json`'s document. docs/json.schema.json is this, pretty-printed.
pub fn json_schema() -> Value {
    let mut generator = schemars::generate::SchemaSettings::draft2020_12().for_serialize().into_generator();
    let version = serde_json::json!({ "const": SCHEMA_VERSION });
    let input = serde_json::json!({
        "type": ["string", "null"],
        "description": "The command line as typed (null for the start-up banner and krash analyze)."
    });
    let mut documents: Vec<Value> = command_schemas(&mut generator)
        .into_iter()
        .map(|(names, data)| {
            let title = format!("{} document", names.join(", "));
            serde_json::json!({
                "title": title,
                "type": "object",
                "required": ["schema", "command", "input", "data"],
                "properties": {
                    "schema": version,
                    "command": names_schema(&names),
                    "input": input,
                    "data": data.to_value()
                }
            })
        })
        .collect();
    let error = generator.subschema_for::<ErrorInfo>().to_value();
    documents.push(serde_json::json!({
        "title": "error document",
        "type": "object",
        "required": ["schema", "command", "input", "error"],
        "properties": {
            "schema": version,
            "command": {
                "type": "string",
                "description": "The command's name as help lists it, or the word typed when it names no command."
            },
            "input": input,
            "error": error
        }
    }));
    let batch = generator.subschema_for::<AnalyzeBatch>().to_value();
    documents.push(batch);
    let line = generator.subschema_for::<AnalyzeBatchLine>().to_value();
    documents.push(line);
    let definitions = generator.take_definitions(true);
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://krash.invalid/schemas/json.schema.json",
        "title": "krash --json",
        "description": format!(
            "Every document krash prints with --json, schema version {SCHEMA_VERSION} (docs/json.md). \
             Addresses and raw 64-bit words are \"0x...\" strings, nanosecond clocks decimal strings."
        ),
        "oneOf": documents,
        "$defs": definitions
    })
}

/// [`json_schema`] as committed in docs/json.schema.json: pretty-printed,
/// newline-terminated.
pub fn json_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&json_schema()).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_count_time_and_kernels() {
        let d = |dump, signature, crash_time, release| BucketInput { dump, signature, crash_time, release };
        let b = buckets(&[
            d("c", "oops:a", Some(30), Some("6.1")),
            d("a", "oops:b", Some(10), Some("5.10")),
            d("b", "oops:a", Some(20), Some("5.10")),
            d("d", "oops:a", None, Some("6.1")),
        ]);
        assert_eq!(b.len(), 2);
        assert_eq!((b[0].signature.as_str(), b[0].count), ("oops:a", 3));
        assert_eq!((b[0].first_crash, b[0].last_crash), (Some(20), Some(30)));
        assert_eq!(b[0].releases, ["5.10", "6.1"]);
        assert_eq!(b[0].dumps, ["b", "c", "d"]);
        assert_eq!((b[1].signature.as_str(), b[1].count, b[1].first_crash), ("oops:b", 1, Some(10)));
    }

    /// docs/json.schema.json is what the types say. After changing them:
    /// `KRASH_BLESS=1 cargo test -p krash-commands committed_json_schema`
    /// (or `krash --json-schema > docs/json.schema.json`).
    #[test]
    fn committed_json_schema_is_up_to_date() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/json.schema.json");
        let want = json_schema_text();
        if std::env::var_os("KRASH_BLESS").is_some() {
            std::fs::write(&path, &want).expect("docs/json.schema.json is writable");
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/json.schema.json is out of date: KRASH_BLESS=1 cargo test -p krash-commands committed_json_schema"
        );
    }

    /// docs/json.md's reference part is what the types say. After changing
    /// them: `KRASH_BLESS=1 cargo test -p krash-commands committed_json`.
    #[test]
    fn committed_json_md_reference_is_up_to_date() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/json.md");
        let text = std::fs::read_to_string(&path).expect("docs/json.md");
        let (intro, generated) = text.split_once(markdown::MARKER).expect("docs/json.md has the generated marker");
        let want = format!("\n\n{}", markdown::reference());
        if std::env::var_os("KRASH_BLESS").is_some() {
            std::fs::write(&path, format!("{intro}{}{want}", markdown::MARKER)).expect("docs/json.md is writable");
            return;
        }
        assert!(
            generated == want,
            "docs/json.md is out of date: KRASH_BLESS=1 cargo test -p krash-commands committed_json"
        );
    }

    /// Every command of the registry has a document shape.
    #[test]
    fn every_command_has_a_document() {
        let documented = documented_commands();
        for spec in crate::registry() {
            assert!(documented.contains(&spec.name), "{} has no document in the schema", spec.name);
        }
        for name in &documented {
            let subcommand = SUBCOMMAND_DOCUMENTS.contains(name);
            assert!(
                subcommand || crate::lookup(name).is_some_and(|s| s.name == *name),
                "{name} is not a command's name"
            );
        }
    }

    #[test]
    fn error_documents() {
        let e = krash_core::Error::NotFound("p: No symbol \"x\" in current context.".into());
        let doc = ErrorDocument::of("p", Some("p x"), &e);
        let json = serde_json::to_string(&doc).unwrap();
        assert_eq!(
            json,
            r#"{"command":"p","schema":3,"input":"p x","error":{"kind":"not_found","message":"p: No symbol \"x\" in current context."}}"#
        );
    }

    #[test]
    fn the_schema_names_every_command_and_the_number_encodings() {
        let schema = json_schema();
        let text = serde_json::to_string(&schema).unwrap();
        for name in documented_commands() {
            assert!(text.contains(&format!("\"{name}\"")), "{name}");
        }
        for def in ["Hex", "U64Decimal", "I64Decimal", "HexBytes", "NestedOutput", "ErrorInfo"] {
            assert!(schema["$defs"][def].is_object(), "{def}");
        }
    }
}
