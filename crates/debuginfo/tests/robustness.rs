//! Corrupted real inputs must produce errors, never panics.
// Test code: fixtures and real-kernel checks index known data, and a
// panic is a test failure, so the untrusted-input lints do not apply.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod common;

use krash_debuginfo::{elf_section, Btf, OrcFormat, OrcTable, TypeKind, TypeOps, TypeProvider};

use krash_labtest::XorShift as Rng;

#[test]
fn corrupted_btf_never_panics() {
    let Some(path) = common::vmlinux(krash_labtest::VARIANT_KERNEL) else {
        return;
    };
    let map = common::mmap(&path);
    let original = elf_section(&map, ".BTF").unwrap().unwrap();
    // Keep the header, the first 64 KiB of types and the whole string
    // section, with the header patched to match, so each mutation is cheap.
    let hdr_len = u32::from_le_bytes(original[4..8].try_into().unwrap()) as usize;
    let str_off = u32::from_le_bytes(original[16..20].try_into().unwrap()) as usize;
    let str_len = u32::from_le_bytes(original[20..24].try_into().unwrap()) as usize;
    // Walk record sizes (kind-dependent trailers) to a boundary past 64 KiB.
    let types = &original[hdr_len..];
    let word = |at: usize| u32::from_le_bytes(types[at..at + 4].try_into().unwrap());
    let mut types_len = 0usize;
    while types_len < 0x10000 {
        let info = word(types_len + 4);
        let (kind, vlen) = ((info >> 24) & 0x1f, (info & 0xffff) as usize);
        let trailer = match kind {
            1 | 14 | 17 => 4,
            3 => 12,
            4 | 5 | 15 | 19 => 12 * vlen,
            6 | 13 => 8 * vlen,
            _ => 0,
        };
        types_len += 12 + trailer;
    }
    let mut small = original[..hdr_len].to_vec();
    small[12..16].copy_from_slice(&(types_len as u32).to_le_bytes());
    small[16..20].copy_from_slice(&(types_len as u32).to_le_bytes());
    small.extend_from_slice(&types[..types_len]);
    small.extend_from_slice(&types[str_off..str_off + str_len]);
    Btf::parse(&small).unwrap();
    assert!(types_len < 0x11000);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..300 {
        let mut bytes = small.clone();
        for _ in 0..1 + rng.next() % 4 {
            let at = (rng.next() as usize) % (hdr_len + types_len);
            bytes[at] ^= 1 << (rng.next() % 8);
        }
        let Ok(btf) = Btf::parse(&bytes) else {
            continue;
        };
        let offset = (rng.next() % 16) as usize;
        for id in btf.ids().skip(offset).step_by(16) {
            let _ = btf.type_by_id(id);
            let _ = btf.size_of(id);
            let _ = btf.type_name(id);
            let _ = btf.ptype(id);
            let _ = btf.member_path(id, "list.next");
        }
        let _ = btf.find_type(TypeKind::Struct, "list_head");
    }
}

#[test]
fn corrupted_orc_never_panics() {
    let mut rng = Rng(12345);
    for _ in 0..2000 {
        let n = (rng.next() % 64) as usize;
        let ips: Vec<u8> = (0..n * 4).map(|_| rng.next() as u8).collect();
        let unwind: Vec<u8> = (0..n * 6 + (rng.next() % 2) as usize).map(|_| rng.next() as u8).collect();
        for format in [OrcFormat::BEFORE_6_4, OrcFormat::SINCE_6_4, OrcFormat::SINCE_7] {
            if let Ok(t) = OrcTable::from_tables(rng.next(), &ips, &unwind, format) {
                let _ = t.find(rng.next());
                let _ = t.iter().count();
            }
        }
    }
}
