//! `vm` and `files`: a task's memory areas and its open files.

use krash_core::{Error, Result};
pub use krash_kernel::fs::PageCache;
use krash_kernel::fs::{DentryInfo, OpenFiles};
use krash_kernel::vma::Vma;
use krash_kernel::{Kernel, Task};
use serde::Serialize;

use crate::header::TaskHeader;
use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "vm",
    aliases: &[],
    summary: "virtual memory",
    synopsis: "vm [pid | taskp] ...",
    details: "  pid | taskp  the task(s) to show (default: the current context)\n\
              \x20 Shows the task header, its mm_struct, pgd, RSS and total size, then\n\
              \x20 every VMA (from the maple tree mm->mm_mt on 6.1+, the mmap list before)\n\
              \x20 with start, end, flags and the mapped file's path.",
    run: run_vm,
};

pub(crate) const FILES_SPEC: CommandSpec = CommandSpec {
    name: "files",
    aliases: &[],
    summary: "open files",
    synopsis: "files [-d dentry] | [-p inode] | [-c] [pid | taskp] ...",
    details: "  -d dentry    the dentry's inode, superblock, type and full path\n\
              \x20 -p inode     the inode's page count and every page in its page cache\n\
              \x20              (PAGE PHYSICAL MAPPING INDEX CNT FLAGS, from the i_pages xarray)\n\
              \x20 -c           per open file: the inode, its i_mapping and page-cache pages\n\
              \x20 pid | taskp  the task(s) to show (default: the current context)\n\
              \x20 Shows the task header, its root and current directories, then every open\n\
              \x20 file descriptor with its file, dentry, inode, type and path.",
    run: run_files,
};

/// One task's address space.
#[derive(Debug, Clone, Serialize)]
pub struct VmEntry {
    pub header: TaskHeader,
    pub mm: u64,
    pub pgd: u64,
    pub rss_kb: u64,
    pub total_vm_kb: u64,
    pub vmas: Vec<Vma>,
    /// Why the VMA walk stopped early, if it did.
    pub broken: Option<String>,
}

/// What `vm` printed.
#[derive(Debug, Clone, Serialize)]
pub struct VmOutput {
    pub entries: Vec<VmEntry>,
}

/// One task's open files.
#[derive(Debug, Clone, Serialize)]
pub struct FilesEntry {
    pub header: TaskHeader,
    pub files: OpenFiles,
    /// `-c`: each open file's page-cache counts, in `files.files` order.
    pub page_counts: Option<Vec<PageCache>>,
}

/// What `files` printed: per-task tables, or one dentry (`-d`).
#[derive(Debug, Clone, Serialize)]
pub struct FilesOutput {
    pub entries: Vec<FilesEntry>,
    pub dentry: Option<DentryInfo>,
    /// `-p`: one inode's page cache.
    pub page_cache: Option<PageCache>,
}

/// The tasks named on the command line, or the current one.
fn tasks<'k>(session: &'k Session, command: &str, args: &[String]) -> Result<Vec<&'k Task>> {
    let p = getopt::parse(command, args, "")?;
    let k = &session.kernel;
    if p.args.is_empty() {
        let current = session.current_task.ok_or_else(|| Error::Usage(format!("{command}: no current task")))?;
        return Ok(vec![k.task_by_addr(current)?]);
    }
    p.args.iter().map(|w| super::task::task_arg(k, w)).collect()
}

fn run_vm(session: &mut Session, args: &[String]) -> Result<Output> {
    let k = &session.kernel;
    let entries = tasks(session, "vm", args)?.into_iter().map(|t| vm_entry(k, t)).collect::<Result<_>>()?;
    Ok(Output::Vm(VmOutput { entries }))
}

fn vm_entry(k: &Kernel, t: &Task) -> Result<VmEntry> {
    let header = TaskHeader::of(t);
    if t.mm == 0 {
        return Ok(VmEntry { header, mm: 0, pgd: 0, rss_kb: 0, total_vm_kb: 0, vmas: Vec::new(), broken: None });
    }
    let usage = k.mm_usage(t.mm)?;
    let pgd = k.read_field_u64(t.mm, "mm_struct", "pgd")?;
    let list = k.vmas(t.mm)?;
    Ok(VmEntry {
        header,
        mm: t.mm,
        pgd,
        rss_kb: usage.rss_pages.saturating_mul(4),
        total_vm_kb: usage.total_vm_pages.saturating_mul(4),
        vmas: list.vmas,
        broken: list.broken,
    })
}

fn run_files(session: &mut Session, args: &[String]) -> Result<Output> {
    let k = &session.kernel;
    let p = getopt::parse("files", args, "d:p:c")?;
    if let Some(word) = p.value('d') {
        let dentry = crate::parse_hex(word).ok_or_else(|| Error::Usage(format!("files: invalid dentry address: {word}")))?;
        return Ok(Output::Files(FilesOutput { entries: Vec::new(), dentry: Some(k.dentry_info(dentry)?), page_cache: None }));
    }
    if let Some(word) = p.value('p') {
        let inode = crate::parse_hex(word).ok_or_else(|| Error::Usage(format!("files: invalid inode address: {word}")))?;
        return Ok(Output::Files(FilesOutput { entries: Vec::new(), dentry: None, page_cache: Some(k.inode_pages(inode)?) }));
    }
    let with_counts = p.has('c');
    let entries = tasks(session, "files", &p.args)?
        .into_iter()
        .map(|t| {
            let files = k.open_files(t.addr)?;
            let page_counts = if with_counts {
                Some(files.files.iter().map(|f| k.inode_page_count(f.inode)).collect::<Result<_>>()?)
            } else {
                None
            };
            Ok(FilesEntry { header: TaskHeader::of(t), files, page_counts })
        })
        .collect::<Result<_>>()?;
    Ok(Output::Files(FilesOutput { entries, dentry: None, page_cache: None }))
}
