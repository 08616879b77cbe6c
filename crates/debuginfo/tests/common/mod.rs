//! Locations of the lab kernels; tests skip (with a note) when absent.
#![allow(dead_code)]

use std::path::PathBuf;

pub const KERNELS: [&str; 2] = ["6.1.0-56-cloud-amd64", "6.12.117+deb12-cloud-amd64"];

fn root(kv: &str) -> PathBuf {
    PathBuf::from(format!("/var/cache/krash-lab/kernels/{kv}/root"))
}

pub fn vmlinux(kv: &str) -> Option<PathBuf> {
    let p = root(kv).join(format!("usr/lib/debug/boot/vmlinux-{kv}"));
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipping: {} not present", p.display());
        None
    }
}

pub fn system_map(kv: &str) -> Option<PathBuf> {
    let p = root(kv).join(format!("usr/lib/debug/boot/System.map-{kv}"));
    p.exists().then_some(p)
}

pub fn mmap(path: &std::path::Path) -> memmap2::Mmap {
    let f = std::fs::File::open(path).unwrap();
    unsafe { memmap2::Mmap::map(&f).unwrap() }
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
