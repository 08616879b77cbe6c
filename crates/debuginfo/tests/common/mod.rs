//! The lab kernels' files (krash-labtest finds them); a missing one is a
//! skip with a note, or a failure under KRASH_REQUIRE_LAB=1.
#![allow(dead_code)]

use std::path::PathBuf;

pub use krash_labtest::KERNELS;

/// The lab's kernels, and any other kernel unpacked beside them in the
/// same layout (5.10 and 7.2 were checked that way).
pub fn kernels_with_extra() -> Vec<String> {
    let mut out: Vec<String> = KERNELS.iter().map(|k| k.to_string()).collect();
    let extra = std::fs::read_dir(krash_labtest::lab_dir().join("kernels")).into_iter().flatten().flatten();
    for entry in extra {
        let kv = entry.file_name().to_string_lossy().into_owned();
        if !out.contains(&kv) && krash_labtest::vmlinux_path(&kv).exists() {
            out.push(kv);
        }
    }
    out
}

pub fn vmlinux(kv: &str) -> Option<PathBuf> {
    krash_labtest::vmlinux(kv)
}

pub fn system_map(kv: &str) -> Option<PathBuf> {
    krash_labtest::system_map(kv)
}

pub fn mmap(path: &std::path::Path) -> std::sync::Arc<krash_core::MappedFile> {
    krash_core::MappedFile::open(path).unwrap()
}

/// (address, type letter, name) lines of a System.map.
pub fn read_system_map(path: &std::path::Path) -> Vec<(u64, char, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let addr = u64::from_str_radix(it.next()?, 16).ok()?;
            let kind = it.next()?.chars().next()?;
            let name = it.next()?.to_string();
            Some((addr, kind, name))
        })
        .collect()
}
