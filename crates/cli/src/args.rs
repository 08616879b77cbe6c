//! Command-line contract: `krash [OPTIONS] [VMLINUX] [VMCORE]`, files in
//! either order, told apart by content as crash does; with no dump (or
//! `--live`) the running kernel through /proc/kcore.

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::Parser;

/// krash: a Linux kernel crash-dump analyzer that speaks crash's language.
#[derive(Debug, Parser)]
#[command(name = "krash", version, about, long_about = None, after_help = crate::subcommands::SUBCOMMANDS)]
pub struct Args {
    /// Do not print the start-up banner (the `sys` block)
    #[arg(short = 's')]
    pub silent: bool,
    /// Run the commands in FILE first, then continue
    #[arg(short = 'i', value_name = "FILE")]
    pub input_file: Option<PathBuf>,
    /// Print every command's output as one JSON document
    #[arg(long)]
    pub json: bool,
    /// Print the JSON Schema of every --json document (docs/json.schema.json) and exit
    #[arg(long)]
    pub json_schema: bool,
    /// Use the given vmlinux even if its build id differs from the dump's
    #[arg(long)]
    pub force: bool,
    /// With no vmlinux given, do not search debuginfo directories for one:
    /// use only the dump (kallsyms, BTF and ORC from its memory)
    #[arg(long)]
    pub no_search: bool,
    /// Analyse the running kernel (read-only, needs root) through
    /// /proc/kcore; the same as giving no dump file
    #[arg(long)]
    pub live: bool,
    /// The vmlinux (with symbols) and the dump (kdump, ELF, LiME), in either
    /// order; with the dump alone, the vmlinux is looked for by the dump's
    /// build id under /usr/lib/debug and the directories in
    /// $KRASH_DEBUG_PATH; with no dump, the running kernel (/proc/kcore)
    #[arg(value_name = "FILES", num_args = 0..=2)]
    pub files: Vec<PathBuf>,
}

/// The running kernel's memory as an ELF core.
pub const LIVE_DUMP: &str = "/proc/kcore";

/// What a file given on the command line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Vmlinux,
    Dump,
}

/// Tells a vmlinux from a dump by its first bytes: what the dump reader
/// recognises is a dump, any other ELF file is a kernel.
pub fn classify(path: &Path) -> Result<FileKind, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.is_dir() {
        return Err(format!("{}: is a directory, not a vmlinux or dump file", path.display()));
    }
    let mut head = [0u8; 64];
    let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let n = read_up_to(&mut f, &mut head).map_err(|e| format!("{}: {e}", path.display()))?;
    let head = &head[..n];
    if krash_dumpfile::looks_like_dump(head) {
        return Ok(FileKind::Dump);
    }
    if head.starts_with(b"\x7fELF") {
        return Ok(FileKind::Vmlinux);
    }
    if n == 0 {
        return Err(format!("{}: empty file", path.display()));
    }
    Err(format!(
        "{}: not a vmlinux (ELF) or a kernel dump (kdump-compressed, flattened, ELF core or LiME)",
        path.display()
    ))
}

fn read_up_to(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut total = 0;
    while total < buf.len() {
        match f.read(&mut buf[total..])? {
            0 => break,
            n => total += n,
        }
    }
    Ok(total)
}

/// Sorts the positional files into (vmlinux, dump).
pub fn assign_files(files: &[PathBuf]) -> Result<(Option<PathBuf>, PathBuf), String> {
    let (vmlinux, dump) = sort_files(files)?;
    let dump = dump.ok_or_else(|| "no dump file given (usage: krash [VMLINUX] VMCORE)".to_string())?;
    Ok((vmlinux, dump))
}

/// Like [`assign_files`], but with no dump, or with `live`, the dump is
/// the running kernel's /proc/kcore.
pub fn assign_files_or_live(files: &[PathBuf], live: bool) -> Result<(Option<PathBuf>, PathBuf), String> {
    let (vmlinux, dump) = sort_files(files)?;
    let dump = match dump {
        Some(d) if live && d != Path::new(LIVE_DUMP) => {
            return Err(format!("{}: --live analyses the running kernel; give no dump file with it", d.display()))
        }
        Some(d) => d,
        None => PathBuf::from(LIVE_DUMP),
    };
    Ok((vmlinux, dump))
}

fn sort_files(files: &[PathBuf]) -> Result<(Option<PathBuf>, Option<PathBuf>), String> {
    let mut vmlinux = None;
    let mut dump = None;
    for f in files {
        // Opening /proc/kcore says precisely why it cannot be read (root,
        // lockdown); classifying it here would only say "permission denied".
        let kind = if f == Path::new(LIVE_DUMP) { FileKind::Dump } else { classify(f)? };
        match kind {
            FileKind::Vmlinux if vmlinux.is_none() => vmlinux = Some(f.clone()),
            FileKind::Dump if dump.is_none() => dump = Some(f.clone()),
            FileKind::Vmlinux => return Err(format!("{}: a second vmlinux was given", f.display())),
            FileKind::Dump => return Err(format!("{}: a second dump file was given", f.display())),
        }
    }
    Ok((vmlinux, dump))
}

/// Where to look for a dump's vmlinux: $KRASH_DEBUG_PATH (colon-separated)
/// first, then the distributions' debuginfo root.
pub fn debug_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("KRASH_DEBUG_PATH").map(|v| std::env::split_paths(&v).collect()).unwrap_or_default();
    dirs.push(PathBuf::from("/usr/lib/debug"));
    dirs
}
