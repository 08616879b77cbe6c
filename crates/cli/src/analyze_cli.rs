//! `krash analyze [VMLINUX] VMCORE [--json]` and `krash analyze --batch DIR...`.

use krash_analyze::AnalyzeExt;
use std::path::{Path, PathBuf};

use krash_commands::schema::{AnalyzeBatch, AnalyzeBatchEntry, SCHEMA_VERSION};
use krash_commands::Output;
use krash_program::Kernel;
use krash_program::KernelFiles;
use krash_render::{json_line, render, Format};

/// The words after `analyze`, sorted out.
struct AnalyzeArgs {
    json: bool,
    batch: bool,
    /// `--debug-dir DIR` (repeatable): searched before the usual places.
    debug_dirs: Vec<PathBuf>,
    files: Vec<PathBuf>,
}

fn parse_args(args: &[String]) -> Result<AnalyzeArgs, String> {
    let mut parsed = AnalyzeArgs { json: false, batch: false, debug_dirs: Vec::new(), files: Vec::new() };
    let mut words = args.iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "--json" => parsed.json = true,
            "--batch" => parsed.batch = true,
            "--debug-dir" => {
                let dir = words.next().ok_or("--debug-dir needs a directory")?;
                parsed.debug_dirs.push(PathBuf::from(dir));
            }
            other if other.starts_with("--") => return Err(format!("analyze: unknown option {other}")),
            file => parsed.files.push(PathBuf::from(file)),
        }
    }
    let mut dirs = std::mem::take(&mut parsed.debug_dirs);
    dirs.extend(crate::args::debug_dirs());
    parsed.debug_dirs = dirs;
    Ok(parsed)
}

/// Runs the subcommand with the words after `analyze`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let args = parse_args(args)?;
    let json = args.json;
    if args.batch {
        return run_batch(&args.files, json, &args.debug_dirs);
    }
    let (vmlinux, dump) = crate::args::assign_files(&args.files)?;
    let report = analyze_one(vmlinux, &dump, &args.debug_dirs)?;
    let format = if json { Format::Json } else { Format::Text };
    print!("{}", render(&Output::Analyze(report), format, "analyze", None));
    Ok(())
}

fn analyze_one(vmlinux: Option<PathBuf>, dump: &Path, debug_dirs: &[PathBuf]) -> Result<krash_analyze::Report, String> {
    let kernel =
        Kernel::open(KernelFiles { dump: dump.to_path_buf(), vmlinux, debug_dirs: debug_dirs.to_vec(), force: false })
            .map_err(|e| format!("{}: {e}", dump.display()))?;
    let dir = dump.parent().map(Path::to_path_buf);
    let dirs: Vec<&Path> = dir.iter().map(PathBuf::as_path).collect();
    kernel.analyze(&dirs).map_err(|e| format!("{}: {e}", dump.display()))
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

fn run_batch(paths: &[PathBuf], json: bool, debug_dirs: &[PathBuf]) -> Result<(), String> {
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
    // Two workers: each dump maps its own files and the machine is small.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(dump) = dumps.get(i) else { break };
                let r = analyze_one(vmlinux_beside(dump), dump, debug_dirs);
                results.lock().unwrap_or_else(|p| p.into_inner()).push((dump.clone(), r));
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results.sort_by(|a, b| a.0.cmp(&b.0));
    if json {
        let dumps = results
            .iter()
            .map(|(path, r)| AnalyzeBatchEntry::new(&path.display().to_string(), r.as_ref().map_err(String::as_str)))
            .collect();
        print!("{}", json_line(&AnalyzeBatch { schema: SCHEMA_VERSION, dumps }));
        return Ok(());
    }
    let mut groups: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (path, r) in &results {
        match r {
            Ok(rep) => {
                println!("{}  {}  {}", path.display(), rep.kind.name(), rep.signature);
                groups.entry(rep.signature.clone()).or_default().push(path.display().to_string());
            }
            Err(e) => println!("{}  error  {e}", path.display()),
        }
    }
    println!("\n{} dumps, {} signatures:", results.len(), groups.len());
    for (sig, members) in &groups {
        println!("{:>5}  {sig}", members.len());
    }
    Ok(())
}
