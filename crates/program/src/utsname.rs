//! The kernel's `uname` strings (`init_uts_ns.name`): the release names
//! the kernel for module search and the banner.

use krash_core::{Error, Result, VirtualMemory};

use crate::Kernel;

/// `struct new_utsname`: six fields of 65 bytes.
const UTS_FIELD_LEN: u64 = 65;

/// The kernel's `uname` strings (`struct new_utsname`), the same record a
/// kdump header carries.
pub use krash_dumpfile::Utsname;

impl Kernel {
    /// `init_uts_ns.name`.
    pub fn utsname(&self) -> Result<Utsname> {
        let ns = self.symbol_addr("init_uts_ns")?;
        let base = match self.layouts().offset("uts_namespace", "name") {
            Ok(off) => ns + off,
            Err(_) => self.find_utsname_without_types(ns)?,
        };
        let field = |i: u64| self.memory().read_cstr(base + i * UTS_FIELD_LEN, UTS_FIELD_LEN as usize);
        Ok(Utsname {
            sysname: field(0)?,
            nodename: field(1)?,
            release: field(2)?,
            version: field(3)?,
            machine: field(4)?,
            domainname: field(5)?,
        })
    }

    /// Without types, `name` is found by locating the release string the
    /// dump's VMCOREINFO states within the first part of `init_uts_ns`.
    fn find_utsname_without_types(&self, ns: u64) -> Result<u64> {
        let release = self
            .vmcoreinfo()
            .osrelease()
            .ok_or_else(|| Error::MissingDebuginfo("no types and no OSRELEASE to locate utsname".into()))?;
        let bytes = self.memory().read_vec(ns, 1024)?;
        let pos = bytes
            .windows(release.len())
            .position(|w| w == release.as_bytes())
            .ok_or_else(|| Error::bad_data("init_uts_ns", "release string not found"))?;
        (pos as u64)
            .checked_sub(2 * UTS_FIELD_LEN)
            .map(|off| ns + off)
            .ok_or_else(|| Error::bad_data("init_uts_ns", "release string at an impossible offset"))
    }
}
