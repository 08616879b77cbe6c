//! The kernel's VMCOREINFO text: `KEY=VALUE` lines such as
//! `OSRELEASE=6.1.0-56-cloud-amd64`, `SYMBOL(init_uts_ns)=ffffffff82a12340`,
//! `SIZE(page)=64`, `OFFSET(list_head.next)=0`, `NUMBER(phys_base)=...`,
//! `KERNELOFFSET=2c000000`.

use std::collections::HashMap;

/// Parsed VMCOREINFO with typed getters; the raw text stays available.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmcoreInfo {
    raw: String,
    entries: HashMap<String, String>,
}

impl VmcoreInfo {
    /// Parses the note text; lines without `=` are ignored. Later
    /// duplicates win, as the kernel appends overrides.
    pub fn parse(bytes: &[u8]) -> VmcoreInfo {
        let text = bytes.split(|&b| b == 0).next().unwrap_or(bytes);
        let raw = String::from_utf8_lossy(text).into_owned();
        let entries = raw
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        VmcoreInfo { raw, entries }
    }

    /// The whole text as the kernel wrote it.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The value of any key exactly as written (e.g. `"PAGESIZE"`, `"SYMBOL(_stext)"`).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// All keys and values, unordered.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// `SYMBOL(name)`: a kernel virtual address, written in hex.
    pub fn symbol(&self, name: &str) -> Option<u64> {
        self.get(&format!("SYMBOL({name})")).and_then(parse_hex)
    }

    /// `SIZE(name)`: a type size in bytes (decimal).
    pub fn size(&self, name: &str) -> Option<u64> {
        self.get(&format!("SIZE({name})")).and_then(|v| v.parse().ok())
    }

    /// `OFFSET(type.member)`: a member offset in bytes (decimal).
    pub fn offset(&self, name: &str) -> Option<u64> {
        self.get(&format!("OFFSET({name})")).and_then(|v| v.parse().ok())
    }

    /// `LENGTH(name)`: an array length (decimal).
    pub fn length(&self, name: &str) -> Option<u64> {
        self.get(&format!("LENGTH({name})")).and_then(|v| v.parse().ok())
    }

    /// `NUMBER(name)` (decimal, may be negative; arm64 writes its
    /// addresses as `0x...` hex, read as the same 64 bits); for a bare key
    /// such as `KERNELOFFSET`, which the kernel writes in hex, the hex value.
    pub fn number(&self, name: &str) -> Option<i64> {
        if let Some(v) = self.get(&format!("NUMBER({name})")) {
            return match v.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).ok().map(|n| n as i64),
                None => v.parse().ok(),
            };
        }
        self.get(name).and_then(parse_hex).map(|v| v as i64)
    }

    /// `KERNELOFFSET`: the KASLR slide of the kernel text.
    pub fn kernel_offset(&self) -> Option<u64> {
        self.get("KERNELOFFSET").and_then(parse_hex)
    }

    /// `OSRELEASE`: the `uname -r` of the crashed kernel.
    pub fn osrelease(&self) -> Option<&str> {
        self.get("OSRELEASE")
    }

    /// `PAGESIZE` in bytes.
    pub fn page_size(&self) -> Option<u64> {
        self.get("PAGESIZE").and_then(|v| v.parse().ok())
    }

    /// `BUILD-ID`: hex build id of the vmlinux that crashed.
    pub fn build_id(&self) -> Option<&str> {
        self.get("BUILD-ID")
    }

    /// `CRASHTIME`: seconds since the epoch when the kernel crashed.
    pub fn crash_time(&self) -> Option<i64> {
        self.get("CRASHTIME").and_then(|v| v.parse().ok())
    }
}

fn parse_hex(v: &str) -> Option<u64> {
    let v = v.trim();
    let v = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")).unwrap_or(v);
    u64::from_str_radix(v, 16).ok()
}

#[cfg(test)]
// Tests index the synthetic buffers they build; a panic there is a failed test.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn typed_getters() {
        let info = VmcoreInfo::parse(
            b"OSRELEASE=6.1.0-56-cloud-amd64\nPAGESIZE=4096\nSYMBOL(init_uts_ns)=ffffffff82a12340\n\
SIZE(page)=64\nOFFSET(list_head.next)=0\nNUMBER(phys_base)=-16777216\nKERNELOFFSET=2c000000\nLENGTH(zone.free_area)=11\ngarbage\n\0junk",
        );
        assert_eq!(info.osrelease(), Some("6.1.0-56-cloud-amd64"));
        assert_eq!(info.page_size(), Some(4096));
        assert_eq!(info.symbol("init_uts_ns"), Some(0xffffffff82a12340));
        assert_eq!(info.size("page"), Some(64));
        assert_eq!(info.offset("list_head.next"), Some(0));
        assert_eq!(info.number("phys_base"), Some(-16777216));
        assert_eq!(info.number("KERNELOFFSET"), Some(0x2c000000));
        assert_eq!(info.kernel_offset(), Some(0x2c000000));
        assert_eq!(info.length("zone.free_area"), Some(11));
        assert!(!info.raw().contains("junk"));
    }
}
