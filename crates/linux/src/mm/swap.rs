//! Swap areas: the used entries of `swap_info[]` with their size, usage,
//! priority and backing file or partition.

use crate::fs::vfs::VfsExt;
use krash_core::{Error, Result, VirtualMemory};
use serde::Serialize;

use krash_program::Kernel;

/// `SWP_USED` in `swap_info_struct.flags`.
const SWP_USED: u64 = 1;
/// Highest `nr_swapfiles` believed (`MAX_SWAPFILES` is 32 or less).
const MAX_SWAPFILES: u64 = 64;

/// One active swap area.
#[derive(Debug, Clone, Serialize)]
pub struct SwapArea {
    pub swap_info: u64,
    /// True for a block device, false for a regular file.
    pub partition: bool,
    /// Usable pages (`pages`) and pages in use (`inuse_pages`).
    pub pages: u64,
    pub used_pages: u64,
    pub priority: i64,
    pub filename: String,
}

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait SwapExt {
    /// The swap areas in `swap_info[]` order.
    fn swap_areas(&self) -> Result<Vec<SwapArea>>;
}

impl SwapExt for Kernel {
    fn swap_areas(&self) -> Result<Vec<SwapArea>> {
        let mem: &dyn VirtualMemory = self.memory();
        let count = u64::from(mem.read_u32(self.symbol_addr("nr_swapfiles")?)?);
        if count > MAX_SWAPFILES {
            return Err(Error::bad_data("nr_swapfiles", format!("{count} swap files is implausible")));
        }
        let table = self.symbol_addr("swap_info")?;
        let mut out = Vec::new();
        for i in 0..count {
            let si = mem.read_u64(table.wrapping_add(i * 8))?;
            if si == 0 || self.read_field(si, "swap_info_struct", "flags")? & SWP_USED == 0 {
                continue;
            }
            let prio = self.read_field(si, "swap_info_struct", "prio")?;
            let prio_size = self.layouts().field("swap_info_struct", "prio")?.size.unwrap_or(2);
            let priority = if prio_size == 2 { prio as u16 as i16 as i64 } else { prio as u32 as i32 as i64 };
            let file = self.read_field_u64(si, "swap_info_struct", "swap_file")?;
            let (partition, filename) = if file == 0 {
                (false, "(unknown)".to_string())
            } else {
                let inode = self.read_field_u64(file, "file", "f_inode")?;
                let mode = self.read_field(inode, "inode", "i_mode")?;
                (mode & 0o170000 == 0o060000, self.file_path(file).unwrap_or_else(|_| "(unknown)".into()))
            };
            out.push(SwapArea {
                swap_info: si,
                partition,
                pages: self.read_field(si, "swap_info_struct", "pages")?,
                used_pages: self.read_field(si, "swap_info_struct", "inuse_pages")?,
                priority,
                filename,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use krash_program::synthetic::SyntheticKernel;

    /// `swap_info[]` with `n` slots and a `swap_info_struct` type.
    fn kernel_with_swap(nr_swapfiles: u32, areas: &[(u64, i16, u64, u64)]) -> Kernel {
        let mut s = SyntheticKernel::new();
        let ulong = s.types().int("long unsigned int", 8, false);
        let short = s.types().int("short int", 2, true);
        let uint = s.types().int("unsigned int", 4, false);
        s.types().structure(
            "swap_info_struct",
            48,
            &[
                ("flags", ulong, 0),
                ("prio", short, 8),
                ("swap_file", ulong, 16),
                ("pages", uint, 24),
                ("inuse_pages", uint, 28),
            ],
        );
        let count = s.global("nr_swapfiles", 4);
        s.write_u32(count, nr_swapfiles);
        let table = s.global("swap_info", 8 * 32);
        for (i, &(flags, prio, pages, used)) in areas.iter().enumerate() {
            let si = s.alloc(48);
            s.write_u64(si, flags);
            s.write(si + 8, &prio.to_le_bytes());
            s.write_u32(si + 24, pages as u32);
            s.write_u32(si + 28, used as u32);
            s.write_u64(table + 8 * i as u64, si);
        }
        s.build().unwrap()
    }

    #[test]
    fn used_areas_are_listed_with_signed_priorities() {
        let k = kernel_with_swap(2, &[(SWP_USED, -2, 262_144, 1_000), (0, 5, 10, 0)]);
        let areas = k.swap_areas().unwrap();
        assert_eq!(areas.len(), 1, "the unused slot is skipped");
        assert_eq!((areas[0].priority, areas[0].pages, areas[0].used_pages), (-2, 262_144, 1_000));
        assert_eq!(areas[0].filename, "(unknown)");
    }

    #[test]
    fn an_implausible_count_is_bad_data_not_a_long_loop() {
        let k = kernel_with_swap(1_000_000, &[]);
        let err = k.swap_areas().unwrap_err().to_string();
        assert!(err.contains("implausible"), "{err}");
    }
}
