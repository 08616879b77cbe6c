//! The debuginfo forms distributions ship, on real files made by the
//! machine's toolchain: DWARF 4 and 5 from gcc, debug sections compressed
//! by objcopy (zlib and zstd, SHF_COMPRESSED), and separate `.debug` /
//! `.ko.debug` files split off with `objcopy --only-keep-debug`, each for
//! relocatable objects (like modules) and linked files (like vmlinux).
//! binutils' `addr2line -fie` is the reference for lines and inline chains.
// Test code: fixtures and real-kernel checks index known data, and a
// panic is a test failure, so the untrusted-input lints do not apply.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use krash_core::Error;
use krash_debuginfo::{TypeKind, TypeOps};
use krash_dwarf::{DwarfFile, DwarfTypes};
use object::{Object, ObjectSection, ObjectSymbol};

/// A struct with bitfields, a static function gcc inlines at -O2 into two
/// callers, and loops around both calls.
const SOURCE: &str = r#"
struct packet {
    unsigned int kind : 3;
    unsigned int urgent : 1;
    unsigned int length : 12;
    short port;
    const char *label;
    struct packet *next;
};

static inline unsigned int weigh(const struct packet *p)
{
    unsigned int w = p->length * 3u;
    if (p->urgent)
        w += p->kind;
    return w;
}

unsigned int total_weight(const struct packet *head, int limit)
{
    unsigned int sum = 0;
    for (int i = 0; head && i < limit; i++) {
        sum += weigh(head);
        head = head->next;
    }
    return sum;
}

int count_urgent(struct packet *p)
{
    int n = 0;
    while (p) {
        n += p->urgent;
        p->port = (short)weigh(p);
        p = p->next;
    }
    return n;
}
"#;

/// Structs of the lab module whose layout must survive every form.
const MODULE_STRUCTS: [&str; 7] =
    ["widget", "widget_inner", "widget_ops", "list_head", "module", "task_struct", "file"];

/// One frame as addr2line prints it: function, file, line.
type Frame = (String, String, u32);

/// What a file says about one address: its line (file, line, column) and
/// its inline chain.
type AddressInfo = (u64, Option<(String, u32, u32)>, Vec<Frame>);

/// A scratch directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("krash-dwarf-forms-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn have_tool(name: &str) -> bool {
    let found = Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipping: {name} is not installed");
    }
    found
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Compiles [`SOURCE`] with `-gdwarf-<version>`, or `None` without gcc and binutils.
fn compile(scratch: &Scratch, version: u8) -> Option<PathBuf> {
    if !["gcc", "addr2line", "objdump", "objcopy", "strip"].iter().all(|t| have_tool(t)) {
        return None;
    }
    let source = scratch.path("packets.c");
    std::fs::write(&source, SOURCE).unwrap();
    let object = scratch.path(&format!("packets-dwarf{version}.o"));
    run("gcc", &["-O2", "-g", &format!("-gdwarf-{version}"), "-c", arg(&source), "-o", arg(&object)]);
    Some(object)
}

/// Links [`SOURCE`] into a shared object with no C library, so that the
/// DWARF holds final addresses as in a vmlinux (not relocations as in an
/// object or module).
fn link(scratch: &Scratch, version: u8) -> Option<PathBuf> {
    compile(scratch, version)?;
    let source = scratch.path("packets.c");
    let linked = scratch.path(&format!("libpackets-dwarf{version}.so"));
    let flags = ["-O2", "-g", &format!("-gdwarf-{version}"), "-shared", "-fPIC", "-nostdlib"];
    let mut args: Vec<&str> = flags.to_vec();
    args.extend([arg(&source), "-o", arg(&linked)]);
    run("gcc", &args);
    Some(linked)
}

/// The DWARF version of the first unit, to be sure gcc did as asked.
fn dwarf_version(path: &Path) -> u16 {
    let file = DwarfFile::open(path).unwrap();
    let header = file.gimli().units().next().unwrap().unwrap();
    header.version()
}

/// Start address of every instruction in `.text`, per objdump.
fn instruction_addresses(object: &Path) -> Vec<u64> {
    let listing = run("objdump", &["-d", "--section=.text", arg(object)]);
    let addresses: Vec<u64> = listing
        .lines()
        .filter_map(|line| {
            let (address, rest) = line.split_once(":\t")?;
            if rest.is_empty() {
                return None;
            }
            u64::from_str_radix(address.trim(), 16).ok()
        })
        .collect();
    assert!(addresses.len() > 20, "{}: too few instructions in\n{listing}", object.display());
    addresses
}

/// The address range of every function symbol.
fn function_symbols(path: &Path) -> Vec<std::ops::Range<u64>> {
    let data = std::fs::read(path).unwrap();
    let elf = object::File::parse(&*data).unwrap();
    elf.symbols()
        .filter(|s| s.kind() == object::SymbolKind::Text)
        .map(|s| s.address()..s.address() + s.size())
        .collect()
}

/// `addr2line -afie`: the inline chain of each address, innermost first.
fn addr2line_frames(object: &Path, addresses: &[u64]) -> Vec<Vec<Frame>> {
    let mut args = vec!["-afie".to_string(), arg(object).to_string()];
    args.extend(addresses.iter().map(|a| format!("{a:#x}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run("addr2line", &args);
    let mut chains: Vec<Vec<Frame>> = Vec::new();
    let mut lines = output.lines();
    while let Some(line) = lines.next() {
        if line.starts_with("0x") {
            chains.push(Vec::new());
            continue;
        }
        let function = line.to_string();
        let position = lines.next().unwrap();
        let position = position.split(" (discriminator").next().unwrap();
        let (file, number) = position.rsplit_once(':').unwrap();
        let frame = (function, file.to_string(), number.parse().unwrap_or(0));
        chains.last_mut().unwrap().push(frame);
    }
    assert_eq!(chains.len(), addresses.len(), "addr2line output:\n{output}");
    chains
}

/// Our inline chain at `addr`, in addr2line's terms.
fn our_frames(file: &DwarfFile, addr: u64) -> Vec<Frame> {
    file.frames(addr)
        .unwrap()
        .into_iter()
        .map(|frame| match frame.location {
            Some(at) => (frame.function, at.file.to_string(), at.line),
            None => (frame.function, "??".to_string(), 0),
        })
        .collect()
}

/// Lines and inline chains of every address, for comparing two files.
fn lines_and_frames(file: &DwarfFile, addresses: &[u64]) -> Vec<AddressInfo> {
    addresses
        .iter()
        .map(|&addr| {
            let line = file.lines(addr).unwrap().map(|l| (l.file.to_string(), l.line, l.column));
            (addr, line, our_frames(file, addr))
        })
        .collect()
}

/// A struct's layout: its ptype, size and every member's bit position,
/// width and type spelling.
fn layout(types: &DwarfTypes, name: &str) -> String {
    let id = types.find_type(TypeKind::Struct, name).unwrap();
    let (_, resolved) = types.resolve(id).unwrap();
    let composite = resolved.composite().unwrap();
    let mut out = format!("{}\nsize {}\n", types.ptype(id), composite.size);
    for member in &composite.members {
        out.push_str(&format!(
            "{} @bit {} width {:?}: {}\n",
            member.name.as_deref().unwrap_or("<anon>"),
            member.bit_offset,
            member.bitfield_size,
            types.type_name(member.ty)
        ));
    }
    out
}

fn types_of(path: &Path) -> DwarfTypes {
    DwarfTypes::new(Arc::new(DwarfFile::open(path).unwrap()))
}

/// Whether objcopy left every `.debug_*` section of `path` SHF_COMPRESSED.
fn debug_sections_compressed(path: &Path) -> bool {
    let data = std::fs::read(path).unwrap();
    let elf = object::File::parse(&*data).unwrap();
    let mut debug =
        elf.sections().filter(|s| s.name().is_ok_and(|n| n.starts_with(".debug_") && s.size() > 64)).peekable();
    debug.peek().is_some()
        && debug.all(|s| s.compressed_file_range().unwrap().format != object::CompressionFormat::None)
}

/// The `--compress-debug-sections` formats this objcopy offers, of those
/// that produce SHF_COMPRESSED sections.
fn compression_formats() -> Vec<&'static str> {
    let help = run("objcopy", &["--help"]);
    let mut formats = vec!["zlib-gabi"];
    if help.contains("zstd") {
        formats.push("zstd");
    } else {
        eprintln!("note: this objcopy cannot compress with zstd");
    }
    formats
}

fn compress(input: &Path, output: &Path, format: &str) {
    run("objcopy", &[&format!("--compress-debug-sections={format}"), arg(input), arg(output)]);
    assert!(debug_sections_compressed(output), "{} has uncompressed debug sections", output.display());
}

/// The lab module (6.1's null-member build), or `None` (a failure under
/// KRASH_REQUIRE_LAB=1).
fn lab_module() -> Option<PathBuf> {
    krash_labtest::scenario_module(krash_labtest::VARIANT_KERNEL, "null-member")
}

/// Every byte address of the module's code sections as laid out.
fn module_code_addresses(file: &DwarfFile) -> Vec<u64> {
    let code: Vec<u64> = file
        .alloc_sections()
        .iter()
        .filter(|s| s.name.contains("text"))
        .flat_map(|s| s.address..s.address + s.size)
        .collect();
    assert!(code.len() > 1000, "{}: little code found", file.path().display());
    code
}

fn assert_same_module(reference: &Path, other: &Path) {
    let expected_file = DwarfFile::open(reference).unwrap();
    let actual_file = DwarfFile::open(other).unwrap();
    let addresses = module_code_addresses(&expected_file);
    let expected = lines_and_frames(&expected_file, &addresses);
    assert!(expected.iter().filter(|(_, line, _)| line.is_some()).count() > addresses.len() / 2);
    assert!(expected.iter().any(|(_, _, frames)| frames.len() > 1), "no inlined code seen");
    let actual = lines_and_frames(&actual_file, &addresses);
    for (e, a) in expected.iter().zip(&actual) {
        assert_eq!(e, a, "{} vs {}", reference.display(), other.display());
    }
    let expected_types = DwarfTypes::new(Arc::new(expected_file));
    let actual_types = DwarfTypes::new(Arc::new(actual_file));
    for name in MODULE_STRUCTS {
        assert_eq!(layout(&expected_types, name), layout(&actual_types, name), "struct {name}");
    }
}

#[test]
fn dwarf4_and_dwarf5_agree_with_addr2line() {
    let scratch = Scratch::new("versions");
    let (Some(v4), Some(v5)) = (compile(&scratch, 4), compile(&scratch, 5)) else {
        return;
    };
    let (Some(linked4), Some(linked5)) = (link(&scratch, 4), link(&scratch, 5)) else {
        return;
    };
    assert_eq!((dwarf_version(&v4), dwarf_version(&v5)), (4, 5));
    assert_eq!((dwarf_version(&linked4), dwarf_version(&linked5)), (4, 5));
    for object in [&v4, &v5, &linked4, &linked5] {
        let file = DwarfFile::open(object).unwrap();
        let addresses = instruction_addresses(object);
        let reference = addr2line_frames(object, &addresses);
        assert!(reference.iter().any(|chain| chain.len() > 1), "gcc inlined nothing");
        let functions = function_symbols(object);
        let mut padding = 0;
        for (addr, expected) in addresses.iter().zip(&reference) {
            let what = format!("{} at {addr:#x}", object.display());
            let ours = our_frames(&file, *addr);
            if functions.iter().any(|f| f.contains(addr)) {
                assert_eq!(&ours, expected, "{what}: inline chain");
            } else {
                // Alignment padding after a function: no DWARF function
                // covers it, and addr2line names the preceding symbol even
                // past its size. DWARF alone cannot name it.
                padding += 1;
                assert_eq!(ours.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(), ["??"], "{what}");
            }
            let line = file.lines(*addr).unwrap().map(|l| (l.file.to_string(), l.line));
            let innermost = expected.first().map(|(_, file, line)| (file.clone(), *line));
            assert_eq!(line, innermost, "{what}: line");
        }
        assert!(padding < 4, "{}: {padding} addresses outside every function", object.display());
    }
    let (layout4, layout5) = (layout(&types_of(&v4), "packet"), layout(&types_of(&v5), "packet"));
    assert_eq!(layout4, layout5);
    let bits: Vec<(u64, Option<u32>)> = {
        let types = types_of(&v5);
        let id = types.find_type(TypeKind::Struct, "packet").unwrap();
        let (_, packet) = types.resolve(id).unwrap();
        packet.composite().unwrap().members.iter().map(|m| (m.bit_offset, m.bitfield_size)).collect()
    };
    assert_eq!(bits, [(0, Some(3)), (3, Some(1)), (4, Some(12)), (16, None), (64, None), (128, None)]);
}

#[test]
fn compressed_objects_read_like_uncompressed() {
    let scratch = Scratch::new("compressed");
    let (Some(v4), Some(v5)) = (compile(&scratch, 4), compile(&scratch, 5)) else {
        return;
    };
    let (Some(linked4), Some(linked5)) = (link(&scratch, 4), link(&scratch, 5)) else {
        return;
    };
    for object in [&v4, &v5, &linked4, &linked5] {
        let addresses = instruction_addresses(object);
        let expected = lines_and_frames(&DwarfFile::open(object).unwrap(), &addresses);
        let expected_layout = layout(&types_of(object), "packet");
        for format in compression_formats() {
            let extension = object.extension().unwrap().to_str().unwrap();
            let compressed = object.with_extension(format!("{format}.{extension}"));
            compress(object, &compressed, format);
            let actual = lines_and_frames(&DwarfFile::open(&compressed).unwrap(), &addresses);
            assert_eq!(expected, actual, "{}", compressed.display());
            assert_eq!(expected_layout, layout(&types_of(&compressed), "packet"), "{}", compressed.display());
        }
    }
}

#[test]
fn compressed_lab_module_reads_like_uncompressed() {
    if !have_tool("objcopy") {
        return;
    }
    let Some(module) = lab_module() else { return };
    let scratch = Scratch::new("compressed-module");
    for format in compression_formats() {
        let compressed = scratch.path(&format!("krash_scenarios.{format}.ko"));
        compress(&module, &compressed, format);
        assert_same_module(&module, &compressed);
    }
}

#[test]
fn separate_debug_files_of_objects_and_linked_files() {
    let scratch = Scratch::new("separate");
    let (Some(object), Some(linked)) = (compile(&scratch, 5), link(&scratch, 4)) else {
        return;
    };
    for original in [object, linked] {
        let addresses = instruction_addresses(&original);
        let expected = lines_and_frames(&DwarfFile::open(&original).unwrap(), &addresses);
        let debug = original.with_extension("debug");
        run("objcopy", &["--only-keep-debug", arg(&original), arg(&debug)]);
        run("strip", &["-g", arg(&original)]);
        assert!(matches!(DwarfFile::open(&original), Err(Error::MissingDebuginfo(_))));
        let actual = lines_and_frames(&DwarfFile::open(&debug).unwrap(), &addresses);
        assert_eq!(expected, actual, "{}", debug.display());
        let packet = layout(&types_of(&debug), "packet");
        assert!(packet.contains("urgent @bit 3 width Some(1)"), "{packet}");
    }
}

#[test]
fn separate_ko_debug_of_the_lab_module() {
    if !have_tool("objcopy") || !have_tool("strip") {
        return;
    }
    let Some(module) = lab_module() else { return };
    let scratch = Scratch::new("separate-module");
    let debug = scratch.path("krash_scenarios.ko.debug");
    let stripped = scratch.path("krash_scenarios.ko");
    run("objcopy", &["--only-keep-debug", arg(&module), arg(&debug)]);
    run("strip", &["-g", arg(&module), "-o", arg(&stripped)]);
    assert!(matches!(DwarfFile::open(&stripped), Err(Error::MissingDebuginfo(_))));
    assert_same_module(&module, &debug);
    for format in compression_formats() {
        let compressed = scratch.path(&format!("krash_scenarios.ko.{format}.debug"));
        compress(&debug, &compressed, format);
        assert_same_module(&module, &compressed);
    }
}
