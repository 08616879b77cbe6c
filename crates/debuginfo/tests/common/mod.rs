//! The lab kernels' files (krash-labtest finds them); a missing one is a
//! skip with a note, or a failure under KRASH_REQUIRE_LAB=1.
#![allow(dead_code, unused_imports)]

use std::path::PathBuf;

pub use krash_labtest::KERNELS;

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
