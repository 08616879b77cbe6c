//! Files as the VFS sees them: dentry names joined into paths across mount
//! points, and a task's open file table (`files`).

use crate::fs::mount::MountExt;
use crate::mm::page::PageExt;
use krash_core::{Error, Result, VirtualMemory};

use crate::mm::page::PageInfo;
use krash_program::xarray::{self, XaLayout};
use krash_program::Kernel;

/// Longest dentry chain followed before giving up (a corrupt or cyclic chain).
const MAX_PATH_DEPTH: usize = 256;
/// Longest single name component read.
const MAX_NAME_LEN: usize = 256;
/// Highest file-descriptor count believed from an `fdtable`.
const MAX_FDS: u64 = 1 << 20;
/// Most page-cache pages listed for one inode (16 GiB of 4 KiB pages).
const MAX_CACHED_PAGES: usize = 1 << 22;

/// One open file descriptor.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OpenFile {
    pub fd: u64,
    pub file: u64,
    pub dentry: u64,
    pub inode: u64,
    /// crash's inode type column: REG, DIR, CHR, BLK, FIFO, SOCK, LNK (or "").
    pub kind: String,
    pub path: String,
}

/// A task's root and working directories and its open files.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OpenFiles {
    pub root: Option<String>,
    pub cwd: Option<String>,
    pub files: Vec<OpenFile>,
}

/// What `files -d` shows of one dentry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DentryInfo {
    pub dentry: u64,
    pub inode: u64,
    pub superblock: u64,
    /// Inode type (REG, DIR, ...); None for a negative dentry.
    pub kind: Option<String>,
    /// Full path through a mount of its superblock; empty when none is mounted.
    pub path: String,
}

/// An inode's page cache (`inode->i_mapping`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PageCache {
    pub inode: u64,
    /// The `address_space` (`i_mapping`).
    pub mapping: u64,
    /// `address_space.nrpages`.
    pub nrpages: u64,
    /// The cached pages in index order (filled by `inode_pages` only).
    pub pages: Vec<PageInfo>,
    /// Why the page walk stopped early or disagrees with `nrpages`.
    pub problem: Option<String>,
}

/// crash's name for the file type in an inode's `i_mode`.
pub fn inode_kind(mode: u64) -> &'static str {
    match mode & 0o170000 {
        0o140000 => "SOCK",
        0o120000 => "LNK",
        0o100000 => "REG",
        0o060000 => "BLK",
        0o040000 => "DIR",
        0o020000 => "CHR",
        0o010000 => "FIFO",
        _ => "",
    }
}

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait VfsExt {
    /// The name of one dentry (`d_name`).
    fn dentry_basename(&self, dentry: u64) -> Result<String>;
    /// The full path of `dentry` seen through the mount `vfsmount` (0 when
    /// unknown: the path then stops at the dentry's filesystem root).
    fn dentry_path(&self, dentry: u64, vfsmount: u64) -> Result<String>;
    /// The path a `struct path` at `path_addr` names.
    fn struct_path(&self, path_addr: u64) -> Result<String>;
    /// The path of an open `struct file`.
    fn file_path(&self, file: u64) -> Result<String>;
    /// The open files of the task at `task`, with its root and cwd.
    fn open_files(&self, task: u64) -> Result<OpenFiles>;
    /// A dentry's inode, superblock, type and path (through the last mount
    /// of the init namespace that shows its superblock, as crash picks it).
    fn dentry_info(&self, dentry: u64) -> Result<DentryInfo>;
    /// An inode's `address_space` and its page count, without the pages.
    fn inode_page_count(&self, inode: u64) -> Result<PageCache>;
    /// An inode's cached pages from its `i_pages` xarray, as `files -p` shows them.
    /// A large folio counts as its number of pages, as `nrpages` does.
    fn inode_pages(&self, inode: u64) -> Result<PageCache>;
}

impl VfsExt for Kernel {
    fn dentry_basename(&self, dentry: u64) -> Result<String> {
        let name = self.read_field_u64(dentry, "dentry", "d_name.name")?;
        self.memory().read_cstr(name, MAX_NAME_LEN)
    }

    fn dentry_path(&self, dentry: u64, vfsmount: u64) -> Result<String> {
        let mnt_in_mount = if vfsmount != 0 { self.layouts().offset("mount", "mnt").ok() } else { None };
        let mut mount = mnt_in_mount.map(|off| vfsmount.wrapping_sub(off));
        let mut current = dentry;
        let mut parts = Vec::new();
        for _ in 0..MAX_PATH_DEPTH {
            if current == 0 {
                break;
            }
            let parent = self.read_field_u64(current, "dentry", "d_parent")?;
            let mount_root = match mount {
                Some(m) => Some(self.read_field_u64(m, "mount", "mnt.mnt_root")?),
                None => None,
            };
            if Some(current) == mount_root || parent == current {
                // At the root of this mount: continue from where it is mounted.
                let Some(m) = mount else { break };
                let up = self.read_field_u64(m, "mount", "mnt_parent")?;
                if up == m || up == 0 {
                    break;
                }
                current = self.read_field_u64(m, "mount", "mnt_mountpoint")?;
                mount = Some(up);
                continue;
            }
            parts.push(self.dentry_basename(current)?);
            current = parent;
        }
        if parts.len() >= MAX_PATH_DEPTH {
            return Err(Error::bad_data(
                "dentry path",
                format!("dentry {dentry:x}: chain longer than {MAX_PATH_DEPTH}"),
            ));
        }
        parts.reverse();
        Ok(format!("/{}", parts.join("/")))
    }

    fn struct_path(&self, path_addr: u64) -> Result<String> {
        let dentry = self.read_field_u64(path_addr, "path", "dentry")?;
        let mnt = self.read_field_u64(path_addr, "path", "mnt")?;
        self.dentry_path(dentry, mnt)
    }

    fn file_path(&self, file: u64) -> Result<String> {
        self.struct_path(self.field_addr(file, "file", "f_path")?)
    }

    fn open_files(&self, task: u64) -> Result<OpenFiles> {
        let fs = self.read_field_u64(task, "task_struct", "fs")?;
        let (root, cwd) = if fs == 0 {
            (None, None)
        } else {
            (
                self.struct_path(self.field_addr(fs, "fs_struct", "root")?).ok(),
                self.struct_path(self.field_addr(fs, "fs_struct", "pwd")?).ok(),
            )
        };
        let mut files = Vec::new();
        let table = self.read_field_u64(task, "task_struct", "files")?;
        if table != 0 {
            let fdt = self.read_field_u64(table, "files_struct", "fdt")?;
            let max_fds = self.read_field(fdt, "fdtable", "max_fds")?;
            if max_fds > MAX_FDS {
                return Err(Error::bad_data("fdtable", format!("{fdt:x}: max_fds {max_fds} is implausible")));
            }
            let array = self.read_field_u64(fdt, "fdtable", "fd")?;
            let bytes = self.memory().read_vec(array, (max_fds * 8) as usize)?;
            for (fd, chunk) in (0u64..).zip(bytes.chunks_exact(8)) {
                let file = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
                if file != 0 {
                    files.push(self.open_file(fd, file)?);
                }
            }
        }
        Ok(OpenFiles { root, cwd, files })
    }

    fn dentry_info(&self, dentry: u64) -> Result<DentryInfo> {
        let inode = self.read_field_u64(dentry, "dentry", "d_inode")?;
        let superblock = if inode != 0 {
            self.read_field_u64(inode, "inode", "i_sb")?
        } else {
            self.read_field_u64(dentry, "dentry", "d_sb")?
        };
        let kind =
            if inode != 0 { Some(inode_kind(self.read_field(inode, "inode", "i_mode")?).to_string()) } else { None };
        let mnt_offset = self.layouts().offset("mount", "mnt")?;
        let mount = self.mounts()?.mounts.iter().rev().find(|m| m.superblock == superblock).map(|m| m.mount);
        let path = match mount {
            Some(m) if superblock != 0 => self.dentry_path(dentry, m.wrapping_add(mnt_offset))?,
            _ => String::new(),
        };
        Ok(DentryInfo { dentry, inode, superblock, kind, path })
    }

    fn inode_page_count(&self, inode: u64) -> Result<PageCache> {
        let mapping = self.read_field_u64(inode, "inode", "i_mapping")?;
        let nrpages = if mapping != 0 { self.read_field_u64(mapping, "address_space", "nrpages")? } else { 0 };
        Ok(PageCache { inode, mapping, nrpages, pages: Vec::new(), problem: None })
    }

    fn inode_pages(&self, inode: u64) -> Result<PageCache> {
        let mut cache = self.inode_page_count(inode)?;
        if cache.mapping == 0 || cache.nrpages == 0 {
            return Ok(cache);
        }
        let l = self.layouts();
        let head = self.read_field_u64(cache.mapping, "address_space", "i_pages.xa_head")?;
        let layout = XaLayout::of(l)?;
        let limit = usize::try_from(cache.nrpages).unwrap_or(usize::MAX).min(MAX_CACHED_PAGES);
        let walk = xarray::walk(self.memory(), head, layout, limit.saturating_add(1));
        let mut counted = 0u64;
        // Value entries (bit 0 set) are shadow/swap entries, not pages.
        for entry in walk.entries.iter().filter(|e| e.value & 1 == 0) {
            match self.page_info(entry.value) {
                Ok(page) => {
                    counted = counted.saturating_add(self.folio_pages(entry.value));
                    cache.pages.push(page);
                }
                Err(e) => {
                    cache.problem = Some(format!("page {:x} at index {}: {e}", entry.value, entry.index));
                    break;
                }
            }
        }
        if let Some(b) = walk.broken {
            cache.problem.get_or_insert(b);
        } else if cache.problem.is_none() && counted != cache.nrpages {
            cache.problem = Some(format!("xarray page count: {counted}  nrpages: {}", cache.nrpages));
        }
        Ok(cache)
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait VfsHelpers {
    /// Pages in the folio headed by `page` (1 when it is not a large folio).
    fn folio_pages(&self, page: u64) -> u64;
    fn open_file(&self, fd: u64, file: u64) -> Result<OpenFile>;
}

impl VfsHelpers for Kernel {
    fn folio_pages(&self, page: u64) -> u64 {
        let head_flag = self.page_flag_mask("head");
        let is_head = head_flag.is_some_and(|m| self.page_flags(page).is_ok_and(|f| f & m != 0));
        if !is_head {
            return 1;
        }
        let Ok(page_size) = self.layouts().size_of("page") else { return 1 };
        // The order lives in the first tail page (`folio->_folio_order` / `compound_order`).
        let tail = page.wrapping_add(page_size);
        let order = ["_folio_order", "compound_order"]
            .iter()
            .find_map(|m| self.read_field(tail, "page", m).ok())
            .or_else(|| self.read_field(page, "folio", "_flags_1").ok().map(|f| f & 0xff))
            .unwrap_or(0);
        if order >= 32 {
            1
        } else {
            1 << order
        }
    }

    fn open_file(&self, fd: u64, file: u64) -> Result<OpenFile> {
        let dentry = self.read_field_u64(file, "file", "f_path.dentry")?;
        let inode = if dentry != 0 { self.read_field_u64(dentry, "dentry", "d_inode")? } else { 0 };
        let kind = if inode != 0 { inode_kind(self.read_field(inode, "inode", "i_mode")?) } else { "" };
        let path = self.file_path(file).unwrap_or_default();
        Ok(OpenFile { fd, file, dentry, inode, kind: kind.to_string(), path })
    }
}

#[cfg(test)]
mod tests {
    use super::inode_kind;

    #[test]
    fn inode_kinds() {
        assert_eq!(inode_kind(0o100644), "REG");
        assert_eq!(inode_kind(0o020620), "CHR");
        assert_eq!(inode_kind(0o040755), "DIR");
    }
}
