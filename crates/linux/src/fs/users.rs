//! Which tasks use a file (`fuser`): as their root or working directory,
//! through an open file descriptor, or by mapping it. Built on the same
//! walks as `files` (the fd table) and `vm` (the VMAs).

use std::collections::HashMap;

use krash_core::Result;
use krash_program::Kernel;

use crate::fs::vfs::VfsExt;
use crate::mm::vma::VmaExt;

/// The file asked about: a full path, or an inode's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileTarget {
    Path(String),
    Inode(u64),
}

impl FileTarget {
    /// Paths compare without a trailing slash ("/tmp/" is "/tmp"), as the
    /// kernel names a directory.
    pub fn path(spec: &str) -> FileTarget {
        let trimmed = spec.trim_end_matches('/');
        FileTarget::Path(if trimmed.is_empty() { "/".to_string() } else { trimmed.to_string() })
    }

    fn matches(&self, path: Option<&str>, inode: u64) -> bool {
        match self {
            FileTarget::Path(p) => path == Some(p.as_str()),
            FileTarget::Inode(i) => inode != 0 && inode == *i,
        }
    }
}

/// How a task uses a file, in the order crash lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileUse {
    Root,
    Cwd,
    Fd,
    Mmap,
}

impl FileUse {
    /// crash's word for it in the USAGE column.
    pub fn name(self) -> &'static str {
        match self {
            FileUse::Root => "root",
            FileUse::Cwd => "cwd",
            FileUse::Fd => "fd",
            FileUse::Mmap => "mmap",
        }
    }
}

/// A mapped file: its path and inode.
#[derive(Debug, Clone)]
struct MappedFile {
    path: Option<String>,
    inode: u64,
}

/// The files mapped by each address space seen so far: the threads of a
/// process share one, so its VMAs are walked once.
#[derive(Debug, Default)]
pub struct MappedFilesCache {
    by_mm: HashMap<u64, Vec<MappedFile>>,
}

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait FileUsersExt {
    /// How the task at `task`, whose `mm_struct` is `mm` (0 for a kernel
    /// thread), uses `target`: each use at most once, root, cwd, fd, mmap.
    fn file_uses(&self, task: u64, mm: u64, target: &FileTarget, cache: &mut MappedFilesCache) -> Result<Vec<FileUse>>;
}

impl FileUsersExt for Kernel {
    fn file_uses(&self, task: u64, mm: u64, target: &FileTarget, cache: &mut MappedFilesCache) -> Result<Vec<FileUse>> {
        let mut uses = Vec::new();
        let fs = self.read_field_u64(task, "task_struct", "fs")?;
        if fs != 0 {
            for (member, what) in [("root", FileUse::Root), ("pwd", FileUse::Cwd)] {
                let at = self.field_addr(fs, "fs_struct", member)?;
                let path = self.struct_path(at).ok();
                let dentry = self.read_field_u64(at, "path", "dentry")?;
                let inode = if dentry != 0 { self.read_field_u64(dentry, "dentry", "d_inode")? } else { 0 };
                if target.matches(path.as_deref(), inode) {
                    uses.push(what);
                }
            }
        }
        let open = self.open_files(task)?;
        if open.files.iter().any(|f| target.matches(Some(&f.path), f.inode)) {
            uses.push(FileUse::Fd);
        }
        if mm != 0 {
            let mapped = match cache.by_mm.entry(mm) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(
                    self.vmas(mm)?
                        .vmas
                        .into_iter()
                        .filter(|v| v.file != 0)
                        .map(|v| MappedFile {
                            inode: self.read_field_u64(v.file, "file", "f_inode").unwrap_or(0),
                            path: v.path,
                        })
                        .collect(),
                ),
            };
            if mapped.iter().any(|f| target.matches(f.path.as_deref(), f.inode)) {
                uses.push(FileUse::Mmap);
            }
        }
        Ok(uses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_match_paths_and_inodes() {
        assert_eq!(FileTarget::path("/tmp/"), FileTarget::Path("/tmp".into()));
        assert_eq!(FileTarget::path("/"), FileTarget::Path("/".into()));
        let p = FileTarget::path("/dev/null");
        assert!(p.matches(Some("/dev/null"), 1));
        assert!(!p.matches(Some("/usr/dev/null"), 1), "a path is the whole path, not a suffix");
        assert!(!p.matches(None, 1));
        let i = FileTarget::Inode(0xffff888001234560);
        assert!(i.matches(None, 0xffff888001234560));
        assert!(!i.matches(Some("/dev/null"), 0));
        assert!(!FileTarget::Inode(0).matches(None, 0), "no inode is no match");
    }
}
