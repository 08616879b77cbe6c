//! `krash mcp` driven by a real MCP client: the official Python SDK (`mcp`
//! on PyPI, in the venv scripts/test makes; `KRASH_MCP_PYTHON` names its
//! python) runs tests/data/mcp_client.py against the server on a lab dump
//! of each kernel. The script checks the protocol side (handshake, tools
//! and their schemas, error results, pages that join to the whole
//! document); this test then checks that every document the server gave is
//! the one `krash --json` (and `krash analyze --json`) prints for the same
//! lines on the same dump, and that text output is the prompt's.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{krash, one_per_scenario, LabDump};
use serde_json::{json, Value};

/// Run in order in one MCP session and one `krash --json` session: `set 2`
/// (kthreadd; the lab panics in init) then `bt` checks that session state
/// carries from call to call.
const LINES: &[&str] = &["sys", "ps", "bt", "kmem -s", "bt -a", "set 2", "bt"];
/// Lines that may fail on some lab kernel (`kmem -s` on the SLAB kernel),
/// as long as they fail over MCP exactly as in krash --json.
const MAY_FAIL: &[&str] = &["kmem -s"];
/// Run with `format: "text"` before LINES; compared with `krash -s`.
const TEXT_LINES: &[&str] = &["ps"];
const BAD_LINE: &str = "nosuchcommand";
/// Asked for in pages of PAGED_MAX_BYTES: its JSON is several times that.
const PAGED_LINE: &str = "ps";
const PAGED_MAX_BYTES: usize = 4096;
/// Megabytes of JSON (every symbol): must come a bounded page at a time.
const FLOOD_LINE: &str = "sym -l";

/// The Python with the MCP SDK, or None after skip_or_fail.
fn mcp_python() -> Option<PathBuf> {
    let Some(python) = std::env::var_os("KRASH_MCP_PYTHON").filter(|p| !p.is_empty()).map(PathBuf::from) else {
        krash_labtest::skip_or_fail("KRASH_MCP_PYTHON is not set (scripts/test makes a venv with the mcp package)");
        return None;
    };
    let imports = Command::new(&python).args(["-c", "import mcp.client.stdio"]).status();
    if !imports.is_ok_and(|s| s.success()) {
        krash_labtest::skip_or_fail(format!("{}: cannot import the mcp package", python.display()));
        return None;
    }
    Some(python)
}

/// The lines of a `krash --json` run as documents.
fn documents(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("krash --json printed a line that is not JSON: {e}: {l}"))
        })
        .collect()
}

/// Runs the client on one dump; returns what the server answered.
fn run_client(python: &PathBuf, d: &LabDump, dir: &std::path::Path) -> Value {
    let out = dir.join("mcp-results.json");
    let config = json!({
        "krash": env!("CARGO_BIN_EXE_krash"),
        "vmcore": d.vmcore,
        "vmlinux": d.vmlinux,
        "lines": LINES,
        "text_lines": TEXT_LINES,
        "bad_line": BAD_LINE,
        "paged_line": PAGED_LINE,
        "paged_max_bytes": PAGED_MAX_BYTES,
        "flood_line": FLOOD_LINE,
        "out": out,
    });
    let config_path = dir.join("mcp-config.json");
    std::fs::write(&config_path, config.to_string()).expect("write the client's configuration");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/mcp_client.py");
    let run = Command::new(python).arg(&script).arg(&config_path).output().expect("the MCP client runs");
    assert!(
        run.status.success(),
        "{}: the MCP client failed ({})\nstdout:\n{}\nstderr:\n{}",
        d.label(),
        run.status,
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let text = std::fs::read_to_string(&out).expect("the client wrote its results");
    serde_json::from_str(&text).expect("the client's results are JSON")
}

fn compare_with_cli(d: &LabDump, mcp: &Value) -> usize {
    let label = d.label();
    let vmlinux = d.vmlinux.to_string_lossy().into_owned();
    let vmcore = d.vmcore.to_string_lossy().into_owned();
    let mut compared = 0;

    // The banner (what `open` answers), every line, then the bad one.
    let mut input = LINES.join("\n");
    input.push('\n');
    input.push_str(BAD_LINE);
    input.push('\n');
    let run = krash(&["--json", &vmlinux, &vmcore], &input);
    let cli = documents(&run.stdout);
    assert_eq!(cli.len(), LINES.len() + 2, "{label}: krash --json printed {} documents\n{}", cli.len(), run.stderr);
    assert_eq!(mcp["open"], cli[0], "{label}: open's document is krash --json's banner");
    let lines = mcp["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), LINES.len(), "{label}: the client ran every line");
    for (i, line) in LINES.iter().enumerate() {
        assert_eq!(lines[i]["line"], *line);
        assert_eq!(lines[i]["doc"], cli[i + 1], "{label}: `{line}` over MCP differs from krash --json");
        assert_eq!(lines[i]["doc"]["input"], *line, "{label}: `{line}`: the document names its line");
        let failed = cli[i + 1].get("error").is_some();
        assert_eq!(lines[i]["is_error"], failed, "{label}: `{line}`: isError is whether krash --json failed");
        assert!(!failed || MAY_FAIL.contains(line), "{label}: `{line}` failed: {}", cli[i + 1]);
        compared += 1;
    }
    // State carried: `bt` after `set 2` is pid 2's, not the panic task's.
    assert_ne!(lines[2]["doc"], lines[6]["doc"], "{label}: bt after set 2 is another task's");
    assert_eq!(lines[6]["doc"]["data"]["tasks"][0]["pid"], 2, "{label}: bt after set 2 is pid 2's");
    let bad = &cli[LINES.len() + 1];
    assert!(bad["error"]["kind"].is_string(), "{label}: krash --json's error document: {bad}");
    assert_eq!(mcp["bad"], *bad, "{label}: the error document over MCP is krash --json's");
    compared += 1;
    assert_eq!(mcp["sys_at_start"], cli[1], "{label}: sys in a server started with the dump");
    compared += 1;

    let run = krash(&["analyze", "--json", &vmlinux, &vmcore], "");
    assert!(run.success, "{label}: krash analyze --json failed: {}", run.stderr);
    let analyze = documents(&run.stdout);
    assert_eq!(analyze.len(), 1, "{label}: one analyze document");
    assert_eq!(mcp["analyze"], analyze[0], "{label}: analyze over MCP is krash analyze --json's report");
    assert!(analyze[0]["data"].is_object(), "{label}: the report has data");
    compared += 1;

    let text_input: String = TEXT_LINES.iter().map(|l| format!("{l}\n")).collect();
    let run = krash(&["-s", &vmlinux, &vmcore], &text_input);
    let mcp_text: String = mcp["text"].as_array().expect("text").iter().filter_map(|t| t["text"].as_str()).collect();
    assert_eq!(mcp_text, run.stdout, "{label}: text over MCP is the prompt's");
    compared += 1;

    let paged = &mcp["paged"];
    let pages = paged["pages"].as_u64().unwrap_or(0);
    assert!(pages > 1, "{label}: {PAGED_LINE} came in {pages} page(s) of {PAGED_MAX_BYTES} bytes");
    let flood = mcp["flood"].as_array().expect("the flood check ran");
    assert_eq!(flood.len(), 2, "{label}: {FLOOD_LINE} at the default and the largest page size");
    for note in flood {
        let page = note["max_bytes"].as_u64().unwrap_or(u64::MAX);
        assert!(page <= 1 << 20, "{label}: {FLOOD_LINE}: pages of {page} bytes");
    }
    compared
}

#[test]
fn an_mcp_client_gets_krash_json_documents() {
    let Some(python) = mcp_python() else { return };
    let dumps: Vec<LabDump> = one_per_scenario().into_iter().filter(|d| d.scenario == "null-member").collect();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut compared = 0;
    for d in &dumps {
        let results = run_client(&python, d, dir.path());
        compared += compare_with_cli(d, &results);
    }
    krash_labtest::assert_compared(compared, "MCP documents compared with krash --json");
}
