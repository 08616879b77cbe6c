//! `krash analyze [VMLINUX] VMCORE [--json]` and `krash analyze --batch
//! PATH...`: one dump explained, or a fleet of them analysed in parallel
//! and grouped by signature.

use krash_commands::analyze_report;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use krash_commands::output::{dump_facts, DumpFacts};
use krash_commands::schema::{
    buckets, AnalyzeBatch, AnalyzeBatchEntry, AnalyzeBatchLine, Bucket, BucketInput, ErrorInfo, ErrorKind,
    SCHEMA_VERSION,
};
use krash_commands::Output;
use krash_program::Kernel;
use krash_program::KernelFiles;
use krash_render::{format_sortable_date, json_line, render, Format};
use rayon::prelude::*;

/// The words after `analyze`, sorted out.
struct AnalyzeArgs {
    json: bool,
    /// `--json-lines`: with --batch, a line per dump as each is done.
    json_lines: bool,
    batch: bool,
    /// `-j N` / `--jobs N`: dumps analysed at once (default: every core).
    jobs: Option<usize>,
    /// `--debug-dir DIR` (repeatable): searched before the usual places.
    debug_dirs: Vec<PathBuf>,
    /// `--maintainers FILE`: the kernel's MAINTAINERS, for who to call.
    maintainers: Option<PathBuf>,
    files: Vec<PathBuf>,
}

fn parse_args(args: &[String]) -> Result<AnalyzeArgs, String> {
    let mut parsed = AnalyzeArgs {
        json: false,
        json_lines: false,
        batch: false,
        jobs: None,
        debug_dirs: Vec::new(),
        maintainers: None,
        files: Vec::new(),
    };
    let mut words = args.iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "--json" => parsed.json = true,
            "--json-lines" => parsed.json_lines = true,
            "--batch" => parsed.batch = true,
            "-j" | "--jobs" => {
                let n = words.next().ok_or("--jobs needs a number")?;
                let n: usize =
                    n.parse().ok().filter(|n| *n > 0).ok_or(format!("--jobs: not a positive number: {n}"))?;
                parsed.jobs = Some(n);
            }
            "--debug-dir" => {
                let dir = words.next().ok_or("--debug-dir needs a directory")?;
                parsed.debug_dirs.push(PathBuf::from(dir));
            }
            "--maintainers" => {
                let file = words.next().ok_or("--maintainers needs a file")?;
                parsed.maintainers = Some(PathBuf::from(file));
            }
            other if other.starts_with("--") => return Err(format!("analyze: unknown option {other}")),
            file => parsed.files.push(PathBuf::from(file)),
        }
    }
    if parsed.json_lines && !parsed.batch {
        return Err("analyze: --json-lines is for --batch (one dump's report is one document with --json)".into());
    }
    if parsed.json_lines && parsed.json {
        return Err("analyze: give --json (one document at the end) or --json-lines (a line per dump), not both".into());
    }
    let mut dirs = std::mem::take(&mut parsed.debug_dirs);
    dirs.extend(crate::args::debug_dirs());
    parsed.debug_dirs = dirs;
    Ok(parsed)
}

/// Runs the subcommand with the words after `analyze`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let args = parse_args(args)?;
    if args.batch {
        let output = match (args.json, args.json_lines) {
            (true, _) => BatchOutput::Json,
            (_, true) => BatchOutput::JsonLines,
            _ => BatchOutput::Text,
        };
        return run_batch(&args.files, output, args.jobs, &args.debug_dirs, args.maintainers.as_deref());
    }
    let (vmlinux, dump) = crate::args::assign_files(&args.files)?;
    let report =
        analyze_one(vmlinux, &dump, &args.debug_dirs, args.maintainers.as_deref()).outcome.map_err(|e| e.message)?;
    let format = if args.json { Format::Json } else { Format::Text };
    print!("{}", render(&Output::Analyze(report), format, "analyze", None));
    Ok(())
}

/// One dump analysed: its crash time and kernel (when the dump opened)
/// and its report, or why there is none.
struct Analysed {
    dump: PathBuf,
    facts: DumpFacts,
    outcome: Result<krash_analyze::Report, ErrorInfo>,
}

fn analyze_one(vmlinux: Option<PathBuf>, dump: &Path, debug_dirs: &[PathBuf], maintainers: Option<&Path>) -> Analysed {
    let failed =
        |e: &krash_core::Error| ErrorInfo { kind: ErrorKind::of(e), message: format!("{}: {e}", dump.display()) };
    let files = KernelFiles { dump: dump.to_path_buf(), vmlinux, debug_dirs: debug_dirs.to_vec(), force: false };
    let kernel = match Kernel::open(files) {
        Ok(k) => k,
        Err(e) => return Analysed { dump: dump.to_path_buf(), facts: DumpFacts::default(), outcome: Err(failed(&e)) },
    };
    let facts = dump_facts(&kernel);
    let outcome = analyze_report(&kernel, maintainers).map_err(|e| failed(&e));
    Analysed { dump: dump.to_path_buf(), facts, outcome }
}

/// Every dump file under `dirs` (by its first bytes), bounded depth.
fn find_dumps(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() && depth < 8 {
            find_dumps(&p, depth + 1, out);
        } else if p.is_file() && crate::args::classify(&p) == Ok(crate::args::FileKind::Dump) {
            out.push(p);
        }
    }
}

/// The vmlinux beside a dump, as crash-dump collections keep them: a file
/// named vmlinux* in the dump's directory that is a kernel, not a dump.
fn vmlinux_beside(dump: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dump.parent()?).ok()?;
    let mut candidates: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("vmlinux")))
        .filter(|p| crate::args::classify(p) == Ok(crate::args::FileKind::Vmlinux))
        .collect();
    candidates.sort();
    candidates.into_iter().next()
}

/// How `--batch` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BatchOutput {
    /// A line per dump, then the bucket table; in path order.
    Text,
    /// One [`AnalyzeBatch`] document at the end; in path order.
    Json,
    /// An [`AnalyzeBatchLine`] per dump as soon as it is done (completion
    /// order), then the summary line.
    JsonLines,
}

/// The dumps named by `paths`: dump files as given, directories searched.
fn collect_dumps(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    if paths.is_empty() {
        return Err("analyze --batch: give the dump files or directories to analyze".into());
    }
    let mut dumps = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if meta.is_dir() {
            find_dumps(p, 0, &mut dumps);
        } else {
            match crate::args::classify(p)? {
                crate::args::FileKind::Dump => dumps.push(p.clone()),
                crate::args::FileKind::Vmlinux => {
                    return Err(format!(
                        "{}: a vmlinux, not a dump (--batch finds the vmlinux beside each dump)",
                        p.display()
                    ))
                }
            }
        }
    }
    dumps.sort();
    dumps.dedup();
    Ok(dumps)
}

fn run_batch(
    paths: &[PathBuf],
    output: BatchOutput,
    jobs: Option<usize>,
    debug_dirs: &[PathBuf],
    maintainers: Option<&Path>,
) -> Result<(), String> {
    let dumps = collect_dumps(paths)?;
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = jobs {
        pool = pool.num_threads(n);
    }
    let pool = pool.build().map_err(|e| format!("analyze --batch: starting the workers: {e}"))?;
    // Workers send each result as it is done; this thread prints (so lines
    // never interleave) and keeps them for the summary.
    let (tx, rx) = mpsc::channel::<Analysed>();
    let mut results = Vec::with_capacity(dumps.len());
    std::thread::scope(|scope| {
        scope.spawn(|| {
            pool.install(|| {
                dumps.par_iter().for_each_with(tx, |tx, dump| {
                    // The receiver lives until every sender is gone.
                    let _ = tx.send(analyze_one(vmlinux_beside(dump), dump, debug_dirs, maintainers));
                })
            })
        });
        for done in rx {
            if output == BatchOutput::JsonLines {
                print!("{}", json_line(&dump_line(&done)));
            }
            results.push(done);
        }
    });
    results.sort_by(|a, b| a.dump.cmp(&b.dump));
    let table = bucket_table(&results);
    match output {
        BatchOutput::JsonLines => {
            let failed = results.iter().filter(|r| r.outcome.is_err()).map(|r| r.dump.display().to_string()).collect();
            let summary =
                AnalyzeBatchLine::Summary { schema: SCHEMA_VERSION, total: results.len(), failed, buckets: table };
            print!("{}", json_line(&summary));
        }
        BatchOutput::Json => {
            let dumps = results
                .iter()
                .map(|r| {
                    let outcome = r.outcome.as_ref().map_err(|e| e.message.as_str());
                    AnalyzeBatchEntry::new(&r.dump.display().to_string(), &r.facts, outcome)
                })
                .collect();
            print!("{}", json_line(&AnalyzeBatch { schema: SCHEMA_VERSION, dumps, buckets: table }));
        }
        BatchOutput::Text => print!("{}", batch_text(&results, &table)),
    }
    Ok(())
}

fn dump_line(r: &Analysed) -> AnalyzeBatchLine {
    let (report, error) = match &r.outcome {
        Ok(rep) => (Some(Box::new(rep.into())), None),
        Err(e) => (None, Some(e.clone())),
    };
    AnalyzeBatchLine::Dump {
        schema: SCHEMA_VERSION,
        dump: r.dump.display().to_string(),
        crash_time: r.facts.crash_time,
        release: r.facts.release.clone(),
        report,
        error,
    }
}

/// The analysed dumps grouped by signature.
fn bucket_table(results: &[Analysed]) -> Vec<Bucket> {
    let names: Vec<String> = results.iter().map(|r| r.dump.display().to_string()).collect();
    let inputs: Vec<BucketInput<'_>> = results
        .iter()
        .zip(&names)
        .filter_map(|(r, name)| {
            let report = r.outcome.as_ref().ok()?;
            Some(BucketInput {
                dump: name,
                signature: &report.signature,
                crash_time: r.facts.crash_time,
                release: r.facts.release.as_deref(),
            })
        })
        .collect();
    buckets(&inputs)
}

/// The text report: a line per dump, then the bucket table.
fn batch_text(results: &[Analysed], table: &[Bucket]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for r in results {
        let _ = match &r.outcome {
            Ok(rep) => writeln!(out, "{}  {}  {}", r.dump.display(), rep.kind.name(), rep.signature),
            Err(e) => writeln!(out, "{}  error  {}", r.dump.display(), e.message),
        };
    }
    let failed = results.iter().filter(|r| r.outcome.is_err()).count();
    let _ = writeln!(out, "\n{} dumps, {} failed, {} signatures:", results.len(), failed, table.len());
    if table.is_empty() {
        return out;
    }
    let time = |t: Option<i64>| t.map(format_sortable_date).unwrap_or_else(|| "-".into());
    let rows: Vec<[String; 5]> = table
        .iter()
        .map(|b| {
            let kernels = if b.releases.is_empty() { "-".to_string() } else { b.releases.join(",") };
            [b.count.to_string(), time(b.first_crash), time(b.last_crash), kernels, b.signature.clone()]
        })
        .collect();
    let header = ["COUNT", "FIRST CRASH", "LAST CRASH", "KERNELS", "SIGNATURE"];
    let width = |i: usize| rows.iter().map(|r| r[i].len()).chain([header[i].len()]).max().unwrap_or(0);
    let widths = [width(0), width(1), width(2), width(3)];
    let mut line = |cells: [&str; 5]| {
        let _ = writeln!(
            out,
            "{:>w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        );
    };
    line(header);
    for r in &rows {
        line([&r[0], &r[1], &r[2], &r[3], &r[4]]);
    }
    out
}
