//! `vm` and `files`: a task's memory areas and its open files.

use std::borrow::Cow;

use krash_core::{Error, Result};
pub use krash_linux::fs::vfs::PageCache;
use krash_linux::fs::vfs::VfsExt;
use krash_linux::fs::vfs::{DentryInfo, OpenFiles};
use krash_linux::mm::rss::RssExt;
use krash_linux::mm::user_pages::UserPage;
use krash_linux::mm::user_pages::UserPagesExt;
use krash_linux::mm::vma::Vma;
use krash_linux::mm::vma::VmaExt;
use krash_linux::sched::task::Task;
use krash_linux::sched::task::TaskExt;
use krash_program::Kernel;

use super::struct_cmd::StructOutput;
use crate::header::TaskHeader;
use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "vm",
    aliases: &[],
    summary: "virtual memory",
    synopsis: "vm [-p | -m | -v | -f flags] [pid | taskp] ...",
    details: "  pid | taskp  the task(s) to show (default: the current context)\n\
              \x20 Shows the task header, its mm_struct, pgd, RSS and total size, then\n\
              \x20 every VMA (from the maple tree mm->mm_mt on 6.1+, the mmap list before)\n\
              \x20 with start, end, flags and the mapped file's path.\n\
              \x20 -p        after each VMA, every page of it: its physical address, its swap\n\
              \x20           area and slot (SWAP: dev  OFFSET: n), the file offset it maps\n\
              \x20           (FILE: path  OFFSET: hex), or (not mapped)\n\
              \x20 -m        the task's whole mm_struct, as `struct mm_struct` shows it\n\
              \x20 -v        each VMA's whole vm_area_struct\n\
              \x20 -f flags  decode a vm_flags value (hex) into its VM_* names",
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
#[derive(Debug, Clone)]
pub struct VmEntry {
    pub header: TaskHeader,
    pub mm: u64,
    pub pgd: u64,
    pub rss_kb: u64,
    pub total_vm_kb: u64,
    pub vmas: Vec<Vma>,
    /// Why the VMA walk stopped early, if it did.
    pub broken: Option<String>,
    /// `-p`: the pages of each VMA, in `vmas` order.
    pub pages: Option<Vec<VmaPages>>,
    /// `-m` / `-v`: the mm_struct or each vm_area_struct, printed whole.
    pub structs: Option<Vec<StructOutput>>,
}

/// `vm -p`: one VMA's pages.
#[derive(Debug, Clone)]
pub struct VmaPages {
    pub pages: Vec<UserPage>,
    /// More pages than `MAX_AREA_PAGES`: the list stops there.
    pub truncated: bool,
}

/// `vm -f`: a flags value and its names.
#[derive(Debug, Clone)]
pub struct VmFlags {
    pub flags: u64,
    pub names: Vec<&'static str>,
}

/// What `vm` printed.
#[derive(Debug, Clone)]
pub struct VmOutput {
    pub entries: Vec<VmEntry>,
    /// `-f`: the decoded flags instead of any task.
    pub flags: Option<VmFlags>,
}

/// `VM_*` bits of `vm_area_struct.vm_flags` (include/linux/mm.h, 6.x; x86's VM_ARCH_1 is VM_PAT).
const VM_FLAG_NAMES: &[(u64, &str)] = &[
    (0x1, "READ"),
    (0x2, "WRITE"),
    (0x4, "EXEC"),
    (0x8, "SHARED"),
    (0x10, "MAYREAD"),
    (0x20, "MAYWRITE"),
    (0x40, "MAYEXEC"),
    (0x80, "MAYSHARE"),
    (0x100, "GROWSDOWN"),
    (0x200, "UFFD_MISSING"),
    (0x400, "PFNMAP"),
    (0x1000, "UFFD_WP"),
    (0x2000, "LOCKED"),
    (0x4000, "IO"),
    (0x8000, "SEQ_READ"),
    (0x10000, "RAND_READ"),
    (0x20000, "DONTCOPY"),
    (0x40000, "DONTEXPAND"),
    (0x80000, "LOCKONFAULT"),
    (0x100000, "ACCOUNT"),
    (0x200000, "NORESERVE"),
    (0x400000, "HUGETLB"),
    (0x800000, "SYNC"),
    (0x1000000, "PAT"),
    (0x2000000, "WIPEONFORK"),
    (0x4000000, "DONTDUMP"),
    (0x8000000, "SOFTDIRTY"),
    (0x10000000, "MIXEDMAP"),
    (0x20000000, "HUGEPAGE"),
    (0x40000000, "NOHUGEPAGE"),
    (0x80000000, "MERGEABLE"),
];

/// `VM_ARCH_1` and the high architecture bits as arm64 names them
/// (`VM_ARM64_BTI`, `VM_MTE`, `VM_MTE_ALLOWED`).
const ARM64_VM_FLAG_NAMES: &[(u64, &str)] = &[(0x1000000, "ARM64_BTI"), (1 << 32, "MTE"), (1 << 33, "MTE_ALLOWED")];

/// The names of the `VM_*` bits set in `flags`, low bit first, with the
/// architecture-specific bits as `machine`'s kernel names them.
pub fn vm_flag_names(flags: u64, machine: krash_arch::Machine) -> Vec<&'static str> {
    let arch: &[(u64, &str)] = match machine {
        krash_arch::Machine::Aarch64 => ARM64_VM_FLAG_NAMES,
        _ => &[],
    };
    let mut names: Vec<(u64, &str)> = VM_FLAG_NAMES
        .iter()
        .filter(|(bit, _)| !arch.iter().any(|(b, _)| b == bit))
        .chain(arch)
        .filter(|(bit, _)| flags & bit != 0)
        .copied()
        .collect();
    names.sort_by_key(|&(bit, _)| bit);
    names.into_iter().map(|(_, name)| name).collect()
}

/// What `vm` shows besides the VMA table.
#[derive(Clone, Copy, PartialEq, Eq)]
enum VmView {
    Areas,
    Pages,
    MmStruct,
    VmaStructs,
}

/// One task's open files.
#[derive(Debug, Clone)]
pub struct FilesEntry {
    pub header: TaskHeader,
    pub files: OpenFiles,
    /// `-c`: each open file's page-cache counts, in `files.files` order.
    pub page_counts: Option<Vec<PageCache>>,
}

/// What `files` printed: per-task tables, or one dentry (`-d`).
#[derive(Debug, Clone)]
pub struct FilesOutput {
    pub entries: Vec<FilesEntry>,
    pub dentry: Option<DentryInfo>,
    /// `-p`: one inode's page cache.
    pub page_cache: Option<PageCache>,
}

/// The tasks named on the command line, or the current one.
fn tasks<'k>(session: &'k Session, command: &str, args: &[String]) -> Result<Vec<Cow<'k, Task>>> {
    let p = getopt::parse(command, args, "")?;
    let k = &session.kernel;
    if p.args.is_empty() {
        let current = session.current_task.ok_or_else(|| Error::Usage(format!("{command}: no current task")))?;
        return Ok(vec![k.task_by_addr(current)?]);
    }
    p.args.iter().map(|w| super::task::task_arg(k, w)).collect()
}

fn run_vm(session: &mut Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("vm", args, "pmvf:")?;
    if let Some(word) = p.value('f') {
        let flags = crate::parse_hex(word).ok_or_else(|| Error::Usage(format!("vm: invalid flags: {word}")))?;
        return Ok(Output::Vm(VmOutput {
            entries: Vec::new(),
            flags: Some(VmFlags { flags, names: vm_flag_names(flags, session.kernel.arch().machine) }),
        }));
    }
    let views = [(p.has('p'), VmView::Pages), (p.has('m'), VmView::MmStruct), (p.has('v'), VmView::VmaStructs)];
    let chosen: Vec<VmView> = views.iter().filter(|(on, _)| *on).map(|(_, v)| *v).collect();
    if chosen.len() > 1 {
        return Err(Error::Usage(format!("usage: {}", SPEC.synopsis)));
    }
    let view = chosen.first().copied().unwrap_or(VmView::Areas);
    let targets: Vec<(TaskHeader, u64)> =
        tasks(session, "vm", &p.args)?.into_iter().map(|t| (TaskHeader::of(&t), t.mm)).collect();
    let mut entries = Vec::new();
    for (header, mm) in targets {
        let mut entry = vm_entry(&session.kernel, header, mm)?;
        match view {
            VmView::Areas => {}
            VmView::Pages if mm != 0 => entry.pages = Some(area_pages(&session.kernel, &entry)?),
            VmView::MmStruct if mm != 0 => entry.structs = Some(vec![whole_struct(session, "mm_struct", mm)?]),
            VmView::VmaStructs if mm != 0 => {
                let addrs: Vec<u64> = entry.vmas.iter().map(|v| v.addr).collect();
                entry.structs =
                    Some(addrs.into_iter().map(|a| whole_struct(session, "vm_area_struct", a)).collect::<Result<_>>()?);
            }
            _ => {}
        }
        entries.push(entry);
    }
    Ok(Output::Vm(VmOutput { entries, flags: None }))
}

fn vm_entry(k: &Kernel, header: TaskHeader, mm: u64) -> Result<VmEntry> {
    if mm == 0 {
        return Ok(VmEntry {
            header,
            mm: 0,
            pgd: 0,
            rss_kb: 0,
            total_vm_kb: 0,
            vmas: Vec::new(),
            broken: None,
            pages: None,
            structs: None,
        });
    }
    let usage = k.mm_usage(mm)?;
    let pgd = k.read_field_u64(mm, "mm_struct", "pgd")?;
    let list = k.vmas(mm)?;
    Ok(VmEntry {
        header,
        mm,
        pgd,
        rss_kb: super::ps::pages_to_kb(usage.rss_pages, k.memory().page_size()),
        total_vm_kb: super::ps::pages_to_kb(usage.total_vm_pages, k.memory().page_size()),
        vmas: list.vmas,
        broken: list.broken,
        pages: None,
        structs: None,
    })
}

/// Every page of every VMA of `entry`, walked under its pgd.
fn area_pages(k: &Kernel, entry: &VmEntry) -> Result<Vec<VmaPages>> {
    let root = k.memory().virt_to_phys(entry.pgd)?;
    Ok(entry
        .vmas
        .iter()
        .map(|v| {
            let (pages, truncated) = k.vma_pages(root, v);
            VmaPages { pages, truncated }
        })
        .collect())
}

/// `struct NAME ADDR` as the struct command prints it.
fn whole_struct(session: &mut Session, name: &str, addr: u64) -> Result<StructOutput> {
    let words = [name.to_string(), format!("{addr:x}")];
    match super::struct_cmd::run_shorthand(session, &words)? {
        Output::Struct(s) => Ok(s),
        _ => Err(Error::bad_data("vm", format!("struct {name} {addr:x} gave no structure"))),
    }
}

fn run_files(session: &mut Session, args: &[String]) -> Result<Output> {
    files_shared(session, args)
}

/// `files` reads the session only: `foreach files` runs it on many tasks at once.
pub(crate) fn files_shared(session: &Session, args: &[String]) -> Result<Output> {
    let k = &session.kernel;
    let p = getopt::parse("files", args, "d:p:c")?;
    if let Some(word) = p.value('d') {
        let dentry =
            crate::parse_hex(word).ok_or_else(|| Error::Usage(format!("files: invalid dentry address: {word}")))?;
        return Ok(Output::Files(FilesOutput {
            entries: Vec::new(),
            dentry: Some(k.dentry_info(dentry)?),
            page_cache: None,
        }));
    }
    if let Some(word) = p.value('p') {
        let inode =
            crate::parse_hex(word).ok_or_else(|| Error::Usage(format!("files: invalid inode address: {word}")))?;
        return Ok(Output::Files(FilesOutput {
            entries: Vec::new(),
            dentry: None,
            page_cache: Some(k.inode_pages(inode)?),
        }));
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
            Ok(FilesEntry { header: TaskHeader::of(&t), files, page_counts })
        })
        .collect::<Result<_>>()?;
    Ok(Output::Files(FilesOutput { entries, dentry: None, page_cache: None }))
}

#[cfg(test)]
mod tests {
    use krash_arch::Machine;

    #[test]
    fn architecture_bits_are_named_as_the_kernel_does() {
        assert_eq!(
            super::vm_flag_names(0x1000073, Machine::X86_64),
            ["READ", "WRITE", "MAYREAD", "MAYWRITE", "MAYEXEC", "PAT"]
        );
        assert_eq!(
            super::vm_flag_names(0x3_0100_0075, Machine::Aarch64),
            ["READ", "EXEC", "MAYREAD", "MAYWRITE", "MAYEXEC", "ARM64_BTI", "MTE", "MTE_ALLOWED"]
        );
    }
}
