//! DwarfTypes on small hand-built DWARF: every C construct the converter
//! handles, in both the DWARF 5 and the older encodings, and no panic on
//! corrupted bytes.
// Test code: fixtures and real-kernel checks index known data, and a
// panic is a test failure, so the untrusted-input lints do not apply.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gimli::write::{
    Address, AttributeValue as Value, Dwarf, EndianVec, Expression, LineProgram, Sections, Unit, UnitEntryId,
};
use gimli::{constants as dw, Encoding, Format, LittleEndian};
use krash_debuginfo::{IntKind, Type, TypeKind, TypeOps, TypeProvider};
use krash_dwarf::{DwarfFile, DwarfTypes, SectionBases};
use object::write::Object;
use object::{Architecture, BinaryFormat, Endianness, SectionKind};

const ENCODING: Encoding = Encoding { format: Format::Dwarf32, version: 5, address_size: 8 };

struct Builder<'a> {
    unit: &'a mut Unit,
}

impl Builder<'_> {
    fn add(&mut self, parent: Option<UnitEntryId>, tag: dw::DwTag, attrs: Vec<(dw::DwAt, Value)>) -> UnitEntryId {
        let parent = parent.unwrap_or_else(|| self.unit.root());
        let id = self.unit.add(parent, tag);
        let entry = self.unit.get_mut(id);
        for (name, value) in attrs {
            entry.set(name, value);
        }
        id
    }
}

fn name(s: &str) -> (dw::DwAt, Value) {
    (dw::DW_AT_name, Value::String(s.as_bytes().to_vec()))
}

fn size(n: u64) -> (dw::DwAt, Value) {
    (dw::DW_AT_byte_size, Value::Udata(n))
}

fn ty(id: UnitEntryId) -> (dw::DwAt, Value) {
    (dw::DW_AT_type, Value::UnitRef(id))
}

/// Two units: the first uses `struct later` only through a declaration,
/// the second defines it.
fn build_dwarf() -> Sections<EndianVec<LittleEndian>> {
    let mut dwarf = Dwarf::default();
    let first = dwarf.units.add(Unit::new(ENCODING, LineProgram::none()));
    let strp_name = dwarf.strings.add("unsigned char");
    {
        let mut b = Builder { unit: dwarf.units.get_mut(first) };
        let int = b.add(
            None,
            dw::DW_TAG_base_type,
            vec![name("int"), size(4), (dw::DW_AT_encoding, Value::Encoding(dw::DW_ATE_signed))],
        );
        let uchar = b.add(
            None,
            dw::DW_TAG_base_type,
            vec![
                (dw::DW_AT_name, Value::StringRef(strp_name)),
                size(1),
                (dw::DW_AT_encoding, Value::Encoding(dw::DW_ATE_unsigned_char)),
            ],
        );
        let ulong = b.add(
            None,
            dw::DW_TAG_base_type,
            vec![name("long unsigned int"), size(8), (dw::DW_AT_encoding, Value::Encoding(dw::DW_ATE_unsigned))],
        );

        // struct flags { int a:3; int b:5; unsigned char c; int grid[2][3]; int tail[]; }
        let flags = b.add(None, dw::DW_TAG_structure_type, vec![name("flags"), size(32)]);
        b.add(
            Some(flags),
            dw::DW_TAG_member,
            vec![
                name("a"),
                ty(int),
                (dw::DW_AT_bit_size, Value::Udata(3)),
                (dw::DW_AT_data_bit_offset, Value::Udata(0)),
            ],
        );
        // DWARF 2 style: bit offset counted from the storage unit's top bit.
        b.add(
            Some(flags),
            dw::DW_TAG_member,
            vec![
                name("b"),
                ty(int),
                size(4),
                (dw::DW_AT_bit_size, Value::Udata(5)),
                (dw::DW_AT_bit_offset, Value::Udata(32 - 3 - 5)),
                (dw::DW_AT_data_member_location, Value::Udata(0)),
            ],
        );
        let mut plus4 = Expression::new();
        plus4.op_plus_uconst(4);
        b.add(
            Some(flags),
            dw::DW_TAG_member,
            vec![name("c"), ty(uchar), (dw::DW_AT_data_member_location, Value::Exprloc(plus4))],
        );
        let grid = b.add(None, dw::DW_TAG_array_type, vec![ty(int)]);
        b.add(Some(grid), dw::DW_TAG_subrange_type, vec![(dw::DW_AT_upper_bound, Value::Udata(1))]);
        b.add(Some(grid), dw::DW_TAG_subrange_type, vec![(dw::DW_AT_count, Value::Udata(3))]);
        b.add(
            Some(flags),
            dw::DW_TAG_member,
            vec![name("grid"), ty(grid), (dw::DW_AT_data_member_location, Value::Data1(8))],
        );
        let tail = b.add(None, dw::DW_TAG_array_type, vec![ty(int)]);
        b.add(Some(tail), dw::DW_TAG_subrange_type, vec![]);
        b.add(
            Some(flags),
            dw::DW_TAG_member,
            vec![name("tail"), ty(tail), (dw::DW_AT_data_member_location, Value::Udata(32))],
        );

        // struct later is only declared here.
        let later_decl =
            b.add(None, dw::DW_TAG_structure_type, vec![name("later"), (dw::DW_AT_declaration, Value::Flag(true))]);
        let later_ptr = b.add(None, dw::DW_TAG_pointer_type, vec![size(8), ty(later_decl)]);
        let flags_ptr = b.add(None, dw::DW_TAG_pointer_type, vec![size(8), ty(flags)]);

        // int (*)(int, struct flags *, ...)
        let proto = b.add(None, dw::DW_TAG_subroutine_type, vec![ty(int), (dw::DW_AT_prototyped, Value::Flag(true))]);
        b.add(Some(proto), dw::DW_TAG_formal_parameter, vec![ty(int)]);
        b.add(Some(proto), dw::DW_TAG_formal_parameter, vec![ty(flags_ptr)]);
        b.add(Some(proto), dw::DW_TAG_unspecified_parameters, vec![]);
        let fnptr = b.add(None, dw::DW_TAG_pointer_type, vec![size(8), ty(proto)]);

        // struct outer { struct later *l; union { int x; unsigned char y; }; int (*cb)(...); }
        let outer = b.add(None, dw::DW_TAG_structure_type, vec![name("outer"), size(24)]);
        b.add(
            Some(outer),
            dw::DW_TAG_member,
            vec![name("l"), ty(later_ptr), (dw::DW_AT_data_member_location, Value::Udata(0))],
        );
        let anon = b.add(None, dw::DW_TAG_union_type, vec![size(4)]);
        b.add(Some(anon), dw::DW_TAG_member, vec![name("x"), ty(int)]);
        b.add(Some(anon), dw::DW_TAG_member, vec![name("y"), ty(uchar)]);
        b.add(Some(outer), dw::DW_TAG_member, vec![ty(anon), (dw::DW_AT_data_member_location, Value::Udata(8))]);
        b.add(
            Some(outer),
            dw::DW_TAG_member,
            vec![name("cb"), ty(fnptr), (dw::DW_AT_data_member_location, Value::Udata(16))],
        );

        // Enums: unsigned with a value in a narrow fixed form, signed with a
        // negative one, and 64-bit.
        let color = b.add(None, dw::DW_TAG_enumeration_type, vec![name("color"), size(4), ty(int)]);
        b.add(Some(color), dw::DW_TAG_enumerator, vec![name("RED"), (dw::DW_AT_const_value, Value::Sdata(-1))]);
        b.add(Some(color), dw::DW_TAG_enumerator, vec![name("GREEN"), (dw::DW_AT_const_value, Value::Data1(0x80))]);
        let wide = b.add(None, dw::DW_TAG_enumeration_type, vec![name("wide"), size(8), ty(ulong)]);
        b.add(
            Some(wide),
            dw::DW_TAG_enumerator,
            vec![name("WIDE_MAX"), (dw::DW_AT_const_value, Value::Data8(u64::MAX))],
        );

        // typedef const volatile struct flags flags_t;
        let volatile = b.add(None, dw::DW_TAG_volatile_type, vec![ty(flags)]);
        let cv = b.add(None, dw::DW_TAG_const_type, vec![ty(volatile)]);
        b.add(None, dw::DW_TAG_typedef, vec![name("flags_t"), ty(cv)]);

        // A function whose body holds a local struct the index skips.
        let func = b.add(
            None,
            dw::DW_TAG_subprogram,
            vec![name("do_thing"), ty(int), (dw::DW_AT_external, Value::Flag(true))],
        );
        b.add(Some(func), dw::DW_TAG_formal_parameter, vec![name("arg"), ty(flags_ptr)]);
        b.add(Some(func), dw::DW_TAG_structure_type, vec![name("local_only"), size(1)]);

        // int gvar at .data+0x10; counter declared, then defined by
        // specification at .data..percpu+0x8.
        let mut at = Expression::new();
        at.op_addr(Address::Constant(0x10));
        b.add(
            None,
            dw::DW_TAG_variable,
            vec![
                name("gvar"),
                ty(int),
                (dw::DW_AT_external, Value::Flag(true)),
                (dw::DW_AT_location, Value::Exprloc(at)),
            ],
        );
        let decl = b.add(
            None,
            dw::DW_TAG_variable,
            vec![
                name("counter"),
                ty(ulong),
                (dw::DW_AT_external, Value::Flag(true)),
                (dw::DW_AT_declaration, Value::Flag(true)),
            ],
        );
        let mut percpu = Expression::new();
        percpu.op_addr(Address::Constant(0x1000 + 8));
        b.add(
            None,
            dw::DW_TAG_variable,
            vec![(dw::DW_AT_specification, Value::UnitRef(decl)), (dw::DW_AT_location, Value::Exprloc(percpu))],
        );
        b.add(
            None,
            dw::DW_TAG_variable,
            vec![name("only_declared"), ty(int), (dw::DW_AT_declaration, Value::Flag(true))],
        );
    }
    let second = dwarf.units.add(Unit::new(ENCODING, LineProgram::none()));
    {
        let mut b = Builder { unit: dwarf.units.get_mut(second) };
        let int = b.add(
            None,
            dw::DW_TAG_base_type,
            vec![name("int"), size(4), (dw::DW_AT_encoding, Value::Encoding(dw::DW_ATE_signed))],
        );
        let later = b.add(None, dw::DW_TAG_structure_type, vec![name("later"), size(16)]);
        b.add(
            Some(later),
            dw::DW_TAG_member,
            vec![name("value"), ty(int), (dw::DW_AT_data_member_location, Value::Udata(12))],
        );
    }
    let mut sections = Sections::new(EndianVec::new(LittleEndian));
    dwarf.write(&mut sections).unwrap();
    sections
}

/// A relocatable ELF with the DWARF, `.data` (laid out at 0) and
/// `.data..percpu` (laid out at 0x1000 by the caller's bases).
fn elf_bytes() -> Vec<u8> {
    let sections = build_dwarf();
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
    let data = obj.add_section(Vec::new(), b".data".to_vec(), SectionKind::Data);
    obj.set_section_data(data, vec![0u8; 0x40], 8);
    let percpu = obj.add_section(Vec::new(), b".data..percpu".to_vec(), SectionKind::Data);
    obj.set_section_data(percpu, vec![0u8; 0x40], 8);
    sections
        .for_each(|id, bytes| -> Result<(), ()> {
            if !bytes.slice().is_empty() {
                let section = obj.add_section(Vec::new(), id.name().as_bytes().to_vec(), SectionKind::Debug);
                obj.set_section_data(section, bytes.slice().to_vec(), 1);
            }
            Ok(())
        })
        .unwrap();
    obj.write().unwrap()
}

fn write_temp(tag: &str, bytes: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("krash-dwarf-synthetic-{}-{tag}.o", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    path
}

fn open(path: &Path) -> krash_core::Result<DwarfTypes> {
    let bases: SectionBases = [(".data".to_string(), 0), (".data..percpu".to_string(), 0x1000)].into_iter().collect();
    Ok(DwarfTypes::new(Arc::new(DwarfFile::open_with_bases(path, &bases)?)))
}

#[test]
fn every_construct_converts() {
    let path = write_temp("ok", &elf_bytes());
    let t = open(&path).unwrap();
    std::fs::remove_file(&path).ok();

    let flags = t.find_type(TypeKind::Struct, "flags").unwrap();
    let bits = |m: &str| {
        let loc = t.member_path(flags, m).unwrap();
        (loc.bit_offset, loc.bitfield_size)
    };
    assert_eq!(bits("a"), (0, Some(3)));
    assert_eq!(bits("b"), (3, Some(5)));
    assert_eq!(bits("c"), (32, None));
    assert_eq!(t.offset_of("struct flags", "grid[1][2]").unwrap(), 8 + 4 * 5);
    assert_eq!(t.type_name(t.member_path(flags, "grid").unwrap().ty), "int [2][3]");
    assert_eq!(t.type_name(t.member_path(flags, "grid[1]").unwrap().ty), "int [3]");
    assert_eq!(t.type_name(t.member_path(flags, "tail").unwrap().ty), "int []");
    assert_eq!(t.type_name(t.member_path(flags, "c").unwrap().ty), "unsigned char");
    assert!(matches!(
        t.resolve(t.member_path(flags, "c").unwrap().ty).unwrap().1,
        Type::Int { kind: IntKind::Char, signed: false, .. }
    ));
    assert_eq!(
        t.ptype(flags),
        "struct flags {\n    int a : 3;\n    int b : 5;\n    unsigned char c;\n    int grid[2][3];\n    int tail[];\n}"
    );

    let outer = t.find_type_by_spelling("struct outer").unwrap();
    assert_eq!(t.offset_of("struct outer", "y").unwrap(), 8);
    assert_eq!(t.type_name(t.member_path(outer, "cb").unwrap().ty), "int (*)(int, struct flags *, ...)");
    // The declaration resolves to the other unit's definition.
    let later = t.member_path(outer, "l.value");
    assert!(later.is_err(), "l is a pointer");
    let l = t.member_path(outer, "l").unwrap().ty;
    let Type::Pointer { to } = t.type_by_id(l).unwrap() else { panic!("l is not a pointer") };
    assert_eq!(t.size_of(to).unwrap(), 16);
    assert_eq!(t.member_path(to, "value").unwrap().byte_offset(), 12);
    assert_eq!(t.find_types(TypeKind::Struct, "later").unwrap().len(), 2, "definition, then declaration");

    assert_eq!(t.find_enumerator("RED").unwrap().map(|e| e.1), Some(-1));
    assert_eq!(t.find_enumerator("GREEN").unwrap().map(|e| e.1), Some(0x80));
    assert_eq!(t.find_enumerator("WIDE_MAX").unwrap().map(|e| e.1), Some(i128::from(u64::MAX)));
    assert_eq!(t.ptype(t.find_type(TypeKind::Enum, "color").unwrap()), "enum color {RED = -1, GREEN = 128}");

    let flags_t = t.find_type_by_spelling("flags_t").unwrap();
    assert_eq!(t.type_name(flags_t), "flags_t");
    assert_eq!(t.size_of(flags_t).unwrap(), 32);
    let Type::Typedef { to, .. } = t.type_by_id(flags_t).unwrap() else { panic!("not a typedef") };
    assert_eq!(t.type_name(to), "const volatile struct flags");
    assert_eq!(t.find_type_by_spelling("unsigned long").map(|id| t.type_name(id)).unwrap(), "unsigned long");

    let func = t.find_function("do_thing").unwrap().unwrap();
    assert_eq!(t.type_name(func), "int (struct flags *)");
    assert!(t.find_types(TypeKind::Struct, "local_only").unwrap().is_empty(), "function bodies are not indexed");

    let gvar = t.find_variable("gvar").unwrap().unwrap();
    assert_eq!((gvar.section.as_deref(), gvar.section_offset), (Some(".data"), Some(0x10)));
    let counter = t.find_variable("counter").unwrap().unwrap();
    assert!(counter.is_percpu());
    assert_eq!((t.type_name(counter.ty), counter.section_offset), ("unsigned long".to_string(), Some(8)));
    let declared = t.find_variable("only_declared").unwrap().unwrap();
    assert_eq!((t.type_name(declared.ty), declared.section), ("int".to_string(), None));
    assert!(t.find_variable("missing").unwrap().is_none());
    assert_eq!(t.pointer_size(), 8);
    assert_eq!(t.index_stats().unwrap().units, 2);
}

/// A small deterministic generator, so failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn corrupted_debug_info_never_panics() {
    let good = elf_bytes();
    let file = object::File::parse(&*good).unwrap();
    let (start, len) = {
        use object::{Object as _, ObjectSection as _};
        let info = file.section_by_name(".debug_info").unwrap();
        let (offset, size) = info.file_range().unwrap();
        (offset as usize, size as usize)
    };
    let mut rng = Lcg(0x5eed);
    for round in 0..2000 {
        let mut bytes = good.clone();
        for _ in 0..1 + rng.next() % 4 {
            let at = start + (rng.next() as usize) % len;
            bytes[at] = rng.next() as u8;
        }
        let path = write_temp(&format!("bad{round}"), &bytes);
        if let Ok(t) = open(&path) {
            let _ = t.index_stats();
            for name in ["flags", "outer", "later"] {
                if let Ok(id) = t.find_type(TypeKind::Struct, name) {
                    let _ = t.ptype(id);
                    let _ = t.size_of(id);
                }
            }
            let _ = t.find_variable("counter");
            let _ = t.find_enumerator("GREEN");
            let _ = t.find_function("do_thing").map(|f| f.map(|id| t.type_name(id)));
            for id in (0..len as u64).step_by(3) {
                let _ = t.type_by_id(krash_debuginfo::TypeId(id));
            }
        }
        std::fs::remove_file(&path).ok();
    }
}
