#![no_main]
//! The DWARF name index as krash keeps it on disk between sessions
//! (`krash_dwarf::stored`): an entry is read back from a cache directory
//! anyone may have written to. The first 8 bytes are the length of the
//! `.debug_info` it must point into; the rest is the entry. An entry that
//! decodes must encode again into one that decodes to the same index.
use krash_dwarf::stored::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (len, entry) = data.split_at(data.len().min(8));
    let mut info_len = [0u8; 8];
    info_len[..len.len()].copy_from_slice(len);
    let info_len = u64::from_le_bytes(info_len);
    if let Some((identity, index)) = decode(entry, info_len) {
        let again = encode(&index, &identity);
        let (identity2, index2) = decode(&again, info_len).expect("a re-encoded entry decodes");
        assert_eq!(identity, identity2);
        assert_eq!(index.stats.type_names, index2.stats.type_names);
        assert_eq!(index.stats.variables, index2.stats.variables);
        assert_eq!(index.stats.functions, index2.stats.functions);
        assert_eq!(index.stats.enumerators, index2.stats.enumerators);
        assert_eq!(again.len(), encode(&index2, &identity2).len());
    }
});
