//! What a suspicious 64-bit value looks like. A corrupted freelist pointer
//! is usually someone else's data written over a freed object: text (often
//! UTF-16 from Windows-facing drivers), slab poison or list poison. Naming
//! that pattern points at the culprit faster than the raw number does.

use krash_arch::PageTableFormat;
use serde::Serialize;

/// `POISON_INUSE`, `POISON_FREE` and `POISON_END` bytes (include/linux/poison.h).
const SLAB_POISON_BYTES: [(u8, &str); 3] = [(0x5a, "POISON_INUSE"), (0x6b, "POISON_FREE"), (0xa5, "POISON_END")];
/// `POISON_POINTER_DELTA` (`CONFIG_ILLEGAL_POINTER_VALUE`, the same
/// 0xdead000000000000 on x86-64 and arm64) plus the list poison offsets.
const LIST_POISONS: [(u64, &str); 2] =
    [(0xdead_0000_0000_0100, "LIST_POISON1"), (0xdead_0000_0000_0122, "LIST_POISON2")];

/// A classification of one 64-bit value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum ValueLooks {
    Null,
    /// Little-endian UTF-16 code units, all printable ASCII (`43 00 3a 00`).
    Utf16Text(String),
    /// Printable ASCII bytes (trailing NULs allowed).
    AsciiText(String),
    /// Every byte one slab poison value.
    SlabPoison(String),
    ListPoison(String),
    NonCanonical,
    /// A canonical kernel-half address.
    KernelAddress,
    Other,
}

fn printable(b: u8) -> bool {
    (0x20..0x7f).contains(&b)
}

/// True for an address the kernel's paging format can map: on x86-64 the
/// bits above the implemented ones copy the top one (0xffff8880_00000000
/// is, 0xffff0000_00000000 is not); on arm64 they are all ones or all
/// zeros (0xffff0000_00000000, the start of the 48-bit linear map, is).
pub fn is_canonical(v: u64, paging: &PageTableFormat) -> bool {
    paging.is_canonical(v)
}

/// Classifies `value` as its little-endian bytes would read in memory,
/// addresses judged by the kernel's paging format.
pub fn classify(value: u64, paging: &PageTableFormat) -> ValueLooks {
    if value == 0 {
        return ValueLooks::Null;
    }
    let bytes = value.to_le_bytes();
    if let Some(&(_, name)) = SLAB_POISON_BYTES.iter().find(|(p, _)| bytes.iter().all(|b| b == p)) {
        return ValueLooks::SlabPoison(name.to_string());
    }
    if let Some(&(_, name)) = LIST_POISONS.iter().find(|(p, _)| *p == value) {
        return ValueLooks::ListPoison(name.to_string());
    }
    if let Some(text) = utf16_text(&bytes) {
        return ValueLooks::Utf16Text(text);
    }
    if let Some(text) = ascii_text(&bytes) {
        return ValueLooks::AsciiText(text);
    }
    if !is_canonical(value, paging) {
        return ValueLooks::NonCanonical;
    }
    if value >> 63 == 1 {
        return ValueLooks::KernelAddress;
    }
    ValueLooks::Other
}

/// Decodes bytes as UTF-16LE text when at least three of every four code
/// units are printable ASCII (the odd one may be any character) and NUL
/// units appear only at the end.
pub fn utf16_text(bytes: &[u8]) -> Option<String> {
    let units: Vec<u16> = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    let text_len = units.iter().rposition(|&u| u != 0).map_or(0, |i| i + 1);
    let ascii = units[..text_len].iter().filter(|&&u| u < 0x80 && printable(u as u8)).count();
    if units.is_empty() || ascii * 4 < units.len() * 3 {
        return None;
    }
    Some(
        units[..text_len]
            .iter()
            .map(|&u| if u == 0 { '.' } else { char::from_u32(u32::from(u)).unwrap_or('.') })
            .collect(),
    )
}

/// Decodes bytes as ASCII when at least six are printable and any others
/// are trailing NULs.
pub fn ascii_text(bytes: &[u8]) -> Option<String> {
    let text_len = bytes.iter().take_while(|&&b| printable(b)).count();
    let rest_nul = bytes[text_len..].iter().all(|&b| b == 0);
    if text_len * 4 < bytes.len() * 3 || !rest_nul {
        return None;
    }
    Some(bytes[..text_len].iter().map(|&b| b as char).collect())
}

/// The longest UTF-16 or ASCII text in a whole object, for context around
/// a corrupted word (at least 4 characters, or None).
pub fn object_text(bytes: &[u8]) -> Option<String> {
    let utf16: String =
        longest_run(bytes.chunks_exact(2).map(|c| (c[1] == 0 && printable(c[0])).then_some(c[0] as char)));
    let ascii: String = longest_run(bytes.iter().map(|&b| printable(b).then_some(b as char)));
    let best = if utf16.len() * 2 >= ascii.len() { utf16 } else { ascii };
    (best.len() >= 4).then_some(best)
}

fn longest_run(chars: impl Iterator<Item = Option<char>>) -> String {
    let mut best = String::new();
    let mut cur = String::new();
    for c in chars {
        match c {
            Some(c) => cur.push(c),
            None => {
                if cur.len() > best.len() {
                    best = std::mem::take(&mut cur);
                }
                cur.clear();
            }
        }
    }
    if cur.len() > best.len() {
        best = cur;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use krash_arch::arm64::{PAGING_4K_48, PAGING_4K_52};
    use krash_arch::x86_64::PAGING_4_LEVEL;

    fn classify(value: u64) -> ValueLooks {
        super::classify(value, &PAGING_4_LEVEL)
    }

    #[test]
    fn utf16_path_fragment() {
        let v = u64::from_le_bytes([0x43, 0, 0x3a, 0, 0x5c, 0, 0x57, 0]);
        assert_eq!(classify(v), ValueLooks::Utf16Text("C:\\W".into()));
        // the seed's value: 38 03 56 00 69 00 72 00, "\u{338}Vir"
        assert_eq!(classify(0x0072_0069_0056_0338), ValueLooks::Utf16Text("\u{338}Vir".into()));
        assert_eq!(classify(0x41), ValueLooks::Other);
    }

    #[test]
    fn poisons_and_text() {
        assert_eq!(classify(0x6b6b_6b6b_6b6b_6b6b), ValueLooks::SlabPoison("POISON_FREE".into()));
        assert_eq!(classify(0xdead_0000_0000_0122), ValueLooks::ListPoison("LIST_POISON2".into()));
        assert_eq!(classify(u64::from_le_bytes(*b"krash.sy")), ValueLooks::AsciiText("krash.sy".into()));
        assert_eq!(classify(0xffff_8880_0000_1000), ValueLooks::KernelAddress);
        assert_eq!(classify(0), ValueLooks::Null);
    }

    #[test]
    fn text_of_object() {
        let mut obj = Vec::new();
        for c in "C:\\Windows\\System32".bytes() {
            obj.extend_from_slice(&[c, 0]);
        }
        obj.extend_from_slice(&[0xff; 6]);
        assert_eq!(object_text(&obj).as_deref(), Some("C:\\Windows\\System32"));
    }

    #[test]
    fn canonical_follows_the_paging_format() {
        // arm64's 48-bit linear map starts at 0xffff0000_00000000: a
        // kernel address there, not the non-canonical x86-64 hole.
        let linear = 0xffff_0000_0942_7e00;
        assert_eq!(super::classify(linear, &PAGING_4K_48), ValueLooks::KernelAddress);
        assert_eq!(super::classify(linear, &PAGING_4K_52), ValueLooks::KernelAddress);
        assert_eq!(classify(linear), ValueLooks::NonCanonical);
        // Bits above 48 neither all ones nor all zeros.
        assert_eq!(super::classify(0x00ff_0000_0942_7e00, &PAGING_4K_48), ValueLooks::NonCanonical);
        assert!(is_canonical(0xffff_8880_0000_1000, &PAGING_4_LEVEL));
        assert!(is_canonical(0x0000_ffff_903f_a000, &PAGING_4K_48));
        assert!(!is_canonical(0x0000_ffff_903f_a000, &PAGING_4_LEVEL));
    }
}
