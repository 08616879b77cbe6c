#![no_main]
//! BTF parsing and every type-model operation on arbitrary bytes.
use krash_debuginfo::{Btf, TypeKind, TypeOps, TypeProvider};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(btf) = Btf::parse(data) else { return };
    for id in btf.ids().take(256) {
        let _ = btf.type_by_id(id);
        let _ = btf.size_of(id);
        let _ = btf.type_name(id);
        let _ = btf.member_path(id, "a.b[1]");
    }
    let _ = btf.find_type(TypeKind::Struct, "a");
    let _ = btf.find_variable("a");
    let _ = btf.find_function("a");
});
