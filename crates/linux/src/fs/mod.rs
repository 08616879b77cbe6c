//! Filesystems: dentry paths, a task's open files, and the mount table.

pub mod mount;
pub mod users;
pub mod vfs;
