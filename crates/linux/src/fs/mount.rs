//! The init task's mount namespace: every `struct mount` with its
//! superblock, filesystem type, device name and mount-point path.

use crate::fs::vfs::VfsExt;
use krash_core::{Error, Result, VirtualMemory};
use serde::Serialize;

use krash_program::list::{self, WalkOptions};
use krash_program::rbtree::{self, RbLayout};
use krash_program::Kernel;

/// Mounts accepted in one namespace before the walk is cut short.
const MAX_MOUNTS: usize = 1 << 16;
/// Path components followed up a dentry chain or mount chain.
const MAX_PATH_DEPTH: usize = 256;
/// Longest name read from a dentry or device name.
const MAX_NAME: usize = 4096;

/// One mounted filesystem.
#[derive(Debug, Clone, Serialize)]
pub struct Mount {
    /// Address of the `struct mount`.
    pub mount: u64,
    pub superblock: u64,
    pub fs_type: String,
    pub devname: String,
    pub dirname: String,
}

/// The mounts in namespace order and why the walk stopped early, if it did.
#[derive(Debug, Clone, Serialize)]
pub struct MountTable {
    pub mounts: Vec<Mount>,
    pub broken: Option<String>,
}

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait MountExt {
    /// The mounts of the init task's namespace (`init_task.nsproxy->mnt_ns`).
    fn mounts(&self) -> Result<MountTable>;
}

impl MountExt for Kernel {
    fn mounts(&self) -> Result<MountTable> {
        let init = self.symbol_addr("init_task")?;
        let nsproxy = self.read_field_u64(init, "task_struct", "nsproxy")?;
        let ns = self.read_field_u64(nsproxy, "nsproxy", "mnt_ns")?;
        let l = self.layouts();
        let mem: &dyn VirtualMemory = self.memory();
        let (addrs, broken) = if l.has_field("mnt_namespace", "list") {
            // Up to 6.7: a list of `mount.mnt_list`.
            let head = ns.wrapping_add(l.offset("mnt_namespace", "list")?);
            let link = l.offset("mount", "mnt_list")?;
            let walk = list::walk(mem, head, WalkOptions { limit: MAX_MOUNTS, ..Default::default() });
            (walk.nodes.iter().map(|n| n.wrapping_sub(link)).collect::<Vec<_>>(), walk.broken.map(|b| b.to_string()))
        } else {
            // 6.8 on: a red-black tree of `mount.mnt_node`, ordered by mount id.
            let root = ns.wrapping_add(l.offset("mnt_namespace", "mounts")?);
            let link = l.offset("mount", "mnt_node")?;
            let walk = rbtree::walk(mem, rbtree::root_node(mem, root)?, RbLayout::default(), MAX_MOUNTS);
            let mut entries = walk.entries;
            rbtree::in_order(&mut entries);
            (entries.iter().map(|e| e.node.wrapping_sub(link)).collect(), walk.broken)
        };
        let mut mounts = Vec::new();
        for m in addrs {
            mounts.push(self.mount_entry(m)?);
        }
        Ok(MountTable { mounts, broken })
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait MountHelpers {
    fn mount_entry(&self, m: u64) -> Result<Mount>;
    /// The mount point's path: the dentry names up to each parent mount's
    /// root, then that mount's own mount point, until the namespace root.
    fn mount_path(&self, m: u64) -> Result<String>;
}

impl MountHelpers for Kernel {
    fn mount_entry(&self, m: u64) -> Result<Mount> {
        let mem: &dyn VirtualMemory = self.memory();
        let superblock = self.read_field_u64(m, "mount", "mnt.mnt_sb")?;
        let fs_type_ptr = self.read_field_u64(superblock, "super_block", "s_type")?;
        let name_ptr = self.read_field_u64(fs_type_ptr, "file_system_type", "name")?;
        let fs_type = mem.read_cstr(name_ptr, MAX_NAME)?;
        let dev_ptr = self.read_field_u64(m, "mount", "mnt_devname")?;
        let devname = if dev_ptr == 0 { String::new() } else { mem.read_cstr(dev_ptr, MAX_NAME)? };
        let dirname = self.mount_path(m)?;
        Ok(Mount { mount: m, superblock, fs_type, devname, dirname })
    }

    fn mount_path(&self, m: u64) -> Result<String> {
        let mut parts: Vec<String> = Vec::new();
        let mut mount = m;
        for _ in 0..MAX_PATH_DEPTH {
            let parent = self.read_field_u64(mount, "mount", "mnt_parent")?;
            if parent == mount || parent == 0 {
                parts.reverse();
                return Ok(format!("/{}", parts.join("/")));
            }
            let parent_root = self.read_field_u64(parent, "mount", "mnt.mnt_root")?;
            let mut dentry = self.read_field_u64(mount, "mount", "mnt_mountpoint")?;
            let mut steps = 0;
            while dentry != parent_root {
                let up = self.read_field_u64(dentry, "dentry", "d_parent")?;
                if up == dentry {
                    break;
                }
                parts.push(self.dentry_basename(dentry)?);
                dentry = up;
                steps += 1;
                if steps > MAX_PATH_DEPTH {
                    return Err(Error::bad_data("mount path", format!("dentry chain from {dentry:x} does not end")));
                }
            }
            mount = parent;
        }
        Err(Error::bad_data("mount path", format!("mount {m:x}: parent chain deeper than {MAX_PATH_DEPTH}")))
    }
}
