//! `krash analyze [VMLINUX] VMCORE [--json]` and `krash analyze --batch DIR...`.

use krash_analyze::AnalyzeExt;
use std::path::{Path, PathBuf};

use krash_commands::schema::{AnalyzeBatch, AnalyzeBatchEntry, SCHEMA_VERSION};
use krash_commands::Output;
use krash_program::Kernel;
use krash_program::KernelFiles;
use krash_render::{json_line, render, Format};

/// Runs the subcommand with the words after `analyze`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let json = args.iter().any(|a| a == "--json");
    let batch = args.iter().any(|a| a == "--batch");
    let files: Vec<PathBuf> = args.iter().filter(|a| !a.starts_with("--")).map(PathBuf::from).collect();
    if batch {
        return run_batch(&files, json);
    }
    let (vmlinux, dump) = crate::args::assign_files(&files)?;
    let report = analyze_one(vmlinux, &dump)?;
    let format = if json { Format::Json } else { Format::Text };
    print!("{}", render(&Output::Analyze(report), format, "analyze", None));
    Ok(())
}

fn analyze_one(vmlinux: Option<PathBuf>, dump: &Path) -> Result<krash_analyze::Report, String> {
    let kernel = Kernel::open(KernelFiles {
        dump: dump.to_path_buf(),
        vmlinux,
        debug_dirs: crate::args::debug_dirs(),
        force: false,
    })
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

fn run_batch(dirs: &[PathBuf], json: bool) -> Result<(), String> {
    let mut dumps = Vec::new();
    for d in dirs {
        find_dumps(d, 0, &mut dumps);
    }
    dumps.sort();
    // Two workers: each dump maps its own files and the machine is small.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(dump) = dumps.get(i) else { break };
                let r = analyze_one(None, dump);
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
