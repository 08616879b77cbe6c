//! The name index of a vmlinux kept on disk between sessions
//! ([`krash_core::disk_cache`]): building it reads all of `.debug_info`
//! (half a second of two cores for a Debian vmlinux, on every session
//! that looks up a global, a type DWARF alone describes, or an enum
//! constant); reading it back takes a few milliseconds.
//!
//! The entry is keyed by the file's identity and the krash build's
//! ([`DwarfFile::disk_identity`](crate::DwarfFile)), which it also holds in
//! full and must match, and every offset in it must lie inside the file's
//! `.debug_info`: anything else reads as no entry, and the index is built
//! again. Hand-written format (no serde crate gives a bounded, checked
//! decoder of untrusted bytes without pulling in a schema layer):
//!
//! ```text
//! magic "KRASHDNI" | version u32 | identity: len u32, UTF-8
//! units u64 | bad units u64
//! types: count u64, then per name: kind u8, name, count u8, offsets u64...
//! variables, functions, enumerators: count u64, then per name: name, offset u64
//! ```
//!
//! Integers are little-endian; a name is a u32 length and UTF-8 bytes.

use std::time::Duration;

use hashbrown::HashMap;
use krash_debuginfo::TypeKind;

use super::index::{IndexStats, NameIndex};

const MAGIC: &[u8; 8] = b"KRASHDNI";
/// Bumped whenever what is stored changes meaning.
const VERSION: u32 = 1;
/// The cache entries' kind ([`krash_core::disk_cache::write`]).
pub(crate) const ENTRY_KIND: &str = "dwarf-names-";
/// A file smaller than this is indexed faster than its entry is read.
pub(crate) const MIN_DEBUG_INFO: usize = 8 << 20;

/// The entry's file name for a file of this identity.
pub(crate) fn entry_name(identity: &str) -> String {
    // FNV-1a: a stable spread of the key (the identity itself is checked
    // inside the entry, so a collision only costs a rebuild).
    let hash = identity.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!("{ENTRY_KIND}{hash:016x}")
}

fn kind_code(kind: TypeKind) -> u8 {
    match kind {
        TypeKind::Struct => 0,
        TypeKind::Union => 1,
        TypeKind::Enum => 2,
        TypeKind::Typedef => 3,
        TypeKind::Base => 4,
    }
}

fn kind_of(code: u8) -> Option<TypeKind> {
    Some(match code {
        0 => TypeKind::Struct,
        1 => TypeKind::Union,
        2 => TypeKind::Enum,
        3 => TypeKind::Typedef,
        4 => TypeKind::Base,
        _ => return None,
    })
}

/// The bytes of `index`'s entry, for a file of `identity`.
pub fn encode(index: &NameIndex, identity: &str) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    put_name(&mut out, identity);
    put_u64(&mut out, index.stats.units as u64);
    put_u64(&mut out, index.stats.bad_units as u64);
    put_u64(&mut out, index.types.len() as u64);
    for ((kind, name), offsets) in &index.types {
        out.push(kind_code(*kind));
        put_name(&mut out, name);
        // At most MAX_DEFINITIONS_PER_NAME (8) offsets per name.
        let kept = offsets.len().min(usize::from(u8::MAX));
        out.push(kept as u8);
        for &offset in offsets.iter().take(kept) {
            put_u64(&mut out, offset);
        }
    }
    for map in [&index.variables, &index.functions, &index.enumerators] {
        put_u64(&mut out, map.len() as u64);
        for (name, &offset) in map {
            put_name(&mut out, name);
            put_u64(&mut out, offset);
        }
    }
    out
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_name(out: &mut Vec<u8>, name: &str) {
    // Names longer than 4 GiB do not occur; one would be stored cut short
    // and fail to decode as UTF-8 or be looked up, costing a rebuild.
    let len = u32::try_from(name.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(name.as_bytes().get(..len as usize).unwrap_or(name.as_bytes()));
}

/// What an entry holds: the identity it was written for, and the index.
/// `None` for anything malformed, or any offset at or past `info_len`.
pub fn decode(bytes: &[u8], info_len: u64) -> Option<(String, NameIndex)> {
    let mut r = Cursor { rest: bytes };
    if r.take(MAGIC.len())? != MAGIC || r.u32()? != VERSION {
        return None;
    }
    let identity = r.name()?.to_string();
    let units = usize::try_from(r.u64()?).ok()?;
    let bad_units = usize::try_from(r.u64()?).ok()?;
    let offset = |r: &mut Cursor| r.u64().filter(|&o| o < info_len);

    // Each entry takes at least a few bytes: a count larger than the bytes
    // left is malformed, and never reserves memory it claims.
    let count = r.count(6)?;
    let mut types = HashMap::with_capacity(count);
    for _ in 0..count {
        let kind = kind_of(r.u8()?)?;
        let name: Box<str> = r.name()?.into();
        let n = r.u8()?;
        let mut offsets = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            offsets.push(offset(&mut r)?);
        }
        types.insert((kind, name), offsets);
    }
    let mut maps: [HashMap<Box<str>, u64>; 3] = Default::default();
    for map in &mut maps {
        let count = r.count(12)?;
        map.reserve(count);
        for _ in 0..count {
            let name: Box<str> = r.name()?.into();
            map.insert(name, offset(&mut r)?);
        }
    }
    if !r.rest.is_empty() {
        return None;
    }
    let [variables, functions, enumerators] = maps;
    let stats = IndexStats {
        units,
        bad_units,
        type_names: types.len(),
        variables: variables.len(),
        functions: functions.len(),
        enumerators: enumerators.len(),
        elapsed: Duration::ZERO,
        from_disk: true,
    };
    Some((identity, NameIndex { types, variables, functions, enumerators, stats }))
}

/// Reads an entry's bytes from the front.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.rest.len() {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn name(&mut self) -> Option<&'a str> {
        let len = usize::try_from(self.u32()?).ok()?;
        std::str::from_utf8(self.take(len)?).ok()
    }

    /// A count of entries of at least `min_size` bytes each.
    fn count(&mut self, min_size: usize) -> Option<usize> {
        let n = usize::try_from(self.u64()?).ok()?;
        (n <= self.rest.len().checked_div(min_size)?).then_some(n)
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    fn sample() -> NameIndex {
        let mut types = HashMap::new();
        types.insert((TypeKind::Struct, "task_struct".into()), vec![0x100, 0x2000]);
        types.insert((TypeKind::Typedef, "u64".into()), vec![0x40]);
        types.insert((TypeKind::Enum, "pid_type".into()), vec![]);
        let mut variables = HashMap::new();
        variables.insert("jiffies".into(), 0x300);
        let mut functions = HashMap::new();
        functions.insert("schedule".into(), 0x400);
        let mut enumerators = HashMap::new();
        enumerators.insert("PIDTYPE_PID".into(), 0x500);
        let stats = IndexStats {
            units: 3,
            bad_units: 1,
            type_names: 3,
            variables: 1,
            functions: 1,
            enumerators: 1,
            elapsed: Duration::ZERO,
            from_disk: false,
        };
        NameIndex { types, variables, functions, enumerators, stats }
    }

    fn same(a: &NameIndex, b: &NameIndex) -> bool {
        a.types == b.types
            && a.variables == b.variables
            && a.functions == b.functions
            && a.enumerators == b.enumerators
            && IndexStats { from_disk: false, ..a.stats } == IndexStats { from_disk: false, ..b.stats }
    }

    #[test]
    fn an_entry_reads_back_as_the_index_it_was_written_from() {
        let index = sample();
        let bytes = encode(&index, "vmlinux (size 1)");
        let (identity, back) = decode(&bytes, 0x10000).expect("decodes");
        assert_eq!(identity, "vmlinux (size 1)");
        assert!(same(&index, &back));
    }

    #[test]
    fn a_damaged_or_foreign_entry_reads_as_none() {
        let bytes = encode(&sample(), "id");
        // Every proper prefix is cut short somewhere.
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut], 0x10000).is_none(), "prefix of {cut} bytes");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer, 0x10000).is_none(), "trailing bytes");
        let mut other_version = bytes.clone();
        other_version[8] = 2;
        assert!(decode(&other_version, 0x10000).is_none());
        // An offset past .debug_info: the entry is for some other file.
        assert!(decode(&bytes, 0x2000).is_none());
        let mut bad_kind = encode(&sample(), "id");
        let types_at = 8 + 4 + 4 + 2 + 8 + 8 + 8;
        bad_kind[types_at] = 9;
        assert!(decode(&bad_kind, 0x10000).is_none());
        // A count claiming more entries than bytes left reserves nothing.
        let mut huge = encode(&sample(), "id");
        huge[types_at - 8..types_at].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode(&huge, 0x10000).is_none());
    }

    #[test]
    fn entry_names_are_stable_and_differ_by_identity() {
        assert_eq!(entry_name("a"), entry_name("a"));
        assert_ne!(entry_name("a"), entry_name("b"));
        assert!(entry_name("a").starts_with(ENTRY_KIND));
    }
}
