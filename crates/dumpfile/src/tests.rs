//! Behaviour of `Dump` on synthetic images: reads, page states, malformed
//! and truncated input.
// Tests index the synthetic images they build; a panic here is a failed test.
#![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use krash_core::{Error, FaultReason, PhysicalMemory};

use crate::synth::*;
use crate::{looks_like_dump, Compression, Dump, DumpFormat, ElfProducer, Machine, PageState};

fn fault_reason(e: Error) -> FaultReason {
    match e {
        Error::Fault { reason, .. } => reason,
        other => panic!("expected a fault, got {other:?}"),
    }
}

fn check_kdump_reads(dump: &Dump) {
    for pfn in 0..64u64 {
        let mut buf = vec![0u8; PAGE];
        let r = dump.read_phys(pfn * PAGE as u64, &mut buf);
        if (40..48).contains(&pfn) {
            assert_eq!(fault_reason(r.unwrap_err()), FaultReason::NotInDump, "pfn {pfn}");
            assert_eq!(dump.page_state(pfn), PageState::NotInDump);
        } else if pfn % 5 == 3 {
            assert_eq!(fault_reason(r.unwrap_err()), FaultReason::ExcludedFromDump, "pfn {pfn}");
            assert_eq!(dump.page_state(pfn), PageState::Excluded);
        } else {
            r.unwrap_or_else(|e| panic!("pfn {pfn}: {e}"));
            assert_eq!(buf, page_bytes(pfn), "pfn {pfn}");
            assert_eq!(dump.page_state(pfn), PageState::Present);
        }
    }
    // A read spanning two present pages, and one running into an excluded page.
    let mut two = vec![0u8; 100];
    dump.read_phys(PAGE as u64 - 50, &mut two).unwrap();
    assert_eq!(&two[..50], &page_bytes(0)[PAGE - 50..]);
    assert_eq!(&two[50..], &page_bytes(1)[..50]);
    let err = dump.read_phys(3 * PAGE as u64 - 8, &mut two).unwrap_err();
    assert!(matches!(err, Error::Fault { addr, .. } if addr == 3 * PAGE as u64));
}

#[test]
fn kdump_every_compression() {
    for kind in [Compression::None, Compression::Zlib, Compression::Lzo, Compression::Snappy, Compression::Zstd] {
        let (img, _) = build_kdump(&KdumpSpec::simple(kind));
        let dump = Dump::from_bytes(img).unwrap();
        assert!(
            matches!(dump.format(), DumpFormat::KdumpCompressed { compression, flattened: false, header_version: 6, qemu: false } if *compression == kind)
        );
        check_kdump_reads(&dump);
        // Twice, to exercise the page cache.
        check_kdump_reads(&dump);
        assert!(dump.is_partial());
        assert!(dump.format_description().contains("[PARTIAL DUMP]"));
        assert_eq!(dump.truncation(), None);
        assert_eq!(dump.cpus().len(), 2);
        assert_eq!(dump.cpus()[1].pid, Some(101));
        assert_eq!(dump.vmcoreinfo().unwrap().osrelease(), Some("6.1.0-test"));
        assert_eq!(dump.header_utsname().unwrap().nodename, "testhost");
        assert_eq!(dump.timestamp(), Some((1_700_000_000, 123)));
        assert_eq!(dump.nr_cpus(), Some(2));
        assert_eq!(dump.max_pfn(), 64);
        let ranges = dump.phys_ranges();
        assert_eq!(ranges.len(), 2);
        assert_eq!(ranges[0].end, 40 * PAGE as u64);
    }
}

#[test]
fn older_header_versions() {
    for version in 1..=5 {
        let mut spec = KdumpSpec::simple(Compression::Zlib);
        spec.header_version = version;
        let (img, _) = build_kdump(&spec);
        let dump = Dump::from_bytes(img).unwrap();
        check_kdump_reads(&dump);
        assert_eq!(dump.vmcoreinfo().is_some(), version >= 3, "v{version}");
        assert_eq!(dump.cpus().len(), if version >= 4 { 2 } else { 0 });
    }
}

#[test]
fn flattened_reads_like_the_image() {
    let (img, _) = build_kdump(&KdumpSpec::simple(Compression::Snappy));
    for chunk in [1000, 4096, 7777] {
        let flat = flatten(&img, chunk);
        let dump = Dump::from_bytes(flat).unwrap();
        assert!(matches!(dump.format(), DumpFormat::KdumpCompressed { flattened: true, .. }));
        check_kdump_reads(&dump);
        assert_eq!(dump.truncation(), None);
    }
}

#[test]
fn truncated_kdump_opens_and_reports() {
    let (img, layout) = build_kdump(&KdumpSpec::simple(Compression::Zlib));
    let cut = layout.data_offset + (img.len() - layout.data_offset) / 2;
    let dump = Dump::from_bytes(img[..cut].to_vec()).unwrap();
    let t = dump.truncation().expect("truncation reported");
    assert_eq!(t.actual_bytes, cut as u64);
    assert_eq!(t.expected_bytes, img.len() as u64);
    assert!(t.pages_missing > 10 && t.pages_missing < 40, "{t:?}");
    assert!(dump.format_description().contains("INCOMPLETE"));
    let mut buf = [0u8; 8];
    dump.read_phys(0, &mut buf).unwrap();
    let err = dump.read_phys(62 * PAGE as u64, &mut buf).unwrap_err();
    assert_eq!(fault_reason(err), FaultReason::Truncated);
    assert_eq!(dump.page_state(62), PageState::Truncated);

    // Cut inside the descriptor table: still opens.
    let dump = Dump::from_bytes(img[..layout.desc_offset + 100].to_vec()).unwrap();
    assert!(dump.truncation().unwrap().pages_missing > 40);

    // A flattened stream cut short behaves the same.
    let flat = flatten_ordered(&img, 4096, false);
    let dump = Dump::from_bytes(flat[..flat.len() - 3000].to_vec()).unwrap();
    assert!(dump.truncation().is_some());
    assert!(dump.format_description().contains("INCOMPLETE"));
}

#[test]
fn malformed_kdump_headers_are_errors() {
    let (img, layout) = build_kdump(&KdumpSpec::simple(Compression::Zlib));
    let patched = |at: usize, bytes: &[u8]| {
        let mut v = img.clone();
        v[at..at + bytes.len()].copy_from_slice(bytes);
        Dump::from_bytes(v)
    };
    assert!(Dump::from_bytes(img[..100].to_vec()).is_err(), "truncated main header");
    assert!(Dump::from_bytes(img[..PAGE + 20].to_vec()).is_err(), "truncated sub-header");
    assert!(Dump::from_bytes(img[..layout.bitmap_offset + 10].to_vec()).is_err(), "truncated bitmap");
    assert!(patched(428, &3000i32.to_le_bytes()).is_err(), "odd block size");
    assert!(patched(428, &(-4096i32).to_le_bytes()).is_err(), "negative block size");
    assert!(patched(432, &i32::MAX.to_le_bytes()).is_err(), "absurd sub-header size");
    assert!(patched(436, &u32::MAX.to_le_bytes()).is_err(), "absurd bitmap blocks");
    assert!(patched(PAGE + 96, &u64::MAX.to_le_bytes()).is_err(), "max_mapnr beyond bitmap");
    assert!(patched(PAGE + 96, &(1u64 << 20).to_le_bytes()).is_err(), "bitmap shorter than max_mapnr");
    assert!(patched(PAGE + 56, &u64::MAX.to_le_bytes()).is_err(), "absurd note size");
    assert!(patched(PAGE + 48, &(1i64 << 40).to_le_bytes()).is_err(), "notes past EOF");
    assert!(patched(0, b"GARBAGE!").is_err());

    // Descriptor pointing past EOF, and corrupt page data: reads fail, no panic.
    let dump = patched(layout.desc_offset, &(1i64 << 40).to_le_bytes()).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(fault_reason(dump.read_phys(0, &mut buf).unwrap_err()), FaultReason::Truncated);
    let dump = patched(layout.desc_offset + 8, &100_000u32.to_le_bytes()).unwrap();
    assert!(matches!(fault_reason(dump.read_phys(0, &mut buf).unwrap_err()), FaultReason::Corrupt(_)));
    let dump = patched(layout.data_offset, &[0xff; 64]).unwrap();
    assert!(matches!(fault_reason(dump.read_phys(0, &mut buf).unwrap_err()), FaultReason::Corrupt(_)));
}

#[test]
fn mutated_inputs_never_panic() {
    let (img, _) = build_kdump(&KdumpSpec::simple(Compression::Lzo));
    let elf = build_elf(&[ElfLoad { paddr: 0, vaddr: 0, file_pages: 4, mem_pages: 8 }], &notes_blob(1));
    let flat = flatten(&img, 3000);
    let mut seed = 0x9e3779b97f4a7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for base in [&img, &elf, &flat] {
        for _ in 0..300 {
            let mut v = base.clone();
            for _ in 0..1 + next() % 8 {
                let at = (next() % v.len() as u64) as usize;
                // Bias mutations toward headers, where they matter most.
                let at = if next() % 2 == 0 { at % 12_000 % v.len() } else { at };
                v[at] = next() as u8;
            }
            if next() % 4 == 0 {
                v.truncate((next() % v.len() as u64) as usize);
            }
            if let Ok(d) = Dump::from_bytes(v) {
                let mut buf = vec![0u8; 5000];
                for pfn in 0..70 {
                    let _ = d.read_phys(pfn * PAGE as u64 + 7, &mut buf);
                    let _ = d.page_state(pfn);
                }
                let _ = d.truncation();
                let _ = d.phys_ranges();
                let _ = d.format_description();
            }
        }
    }
}

#[test]
fn elf_kdump_and_makedumpfile() {
    let notes = notes_blob(3);
    let plain = build_elf(
        &[
            ElfLoad { paddr: 0, vaddr: 0xffff888000000000, file_pages: 8, mem_pages: 8 },
            // Kernel text: also inside the RAM segment.
            ElfLoad { paddr: 2 * PAGE as u64, vaddr: 0xffffffff81000000, file_pages: 2, mem_pages: 2 },
            ElfLoad { paddr: 16 * PAGE as u64, vaddr: 0xffff888000010000, file_pages: 4, mem_pages: 4 },
        ],
        &notes,
    );
    let dump = Dump::from_bytes(plain.clone()).unwrap();
    assert_eq!(dump.format(), &DumpFormat::Elf { producer: ElfProducer::Kdump, flattened: false });
    assert!(!dump.is_partial());
    assert_eq!(dump.cpus().len(), 3);
    assert_eq!(dump.vmcoreinfo().unwrap().symbol("init_uts_ns"), Some(0xffffffff82a12340));
    assert_eq!(dump.timestamp(), Some((1_700_000_000, 0)));
    let mut buf = vec![0u8; PAGE * 2];
    dump.read_phys(3 * PAGE as u64, &mut buf).unwrap();
    assert_eq!(&buf[..PAGE], &page_bytes(3)[..]);
    assert_eq!(&buf[PAGE..], &page_bytes(4)[..]);
    assert_eq!(fault_reason(dump.read_phys(10 * PAGE as u64, &mut buf).unwrap_err()), FaultReason::NotInDump);
    assert_eq!(dump.page_state(17), PageState::Present);
    assert_eq!(dump.max_pfn(), 20);
    assert_eq!(dump.phys_ranges().len(), 2);

    let filtered = build_elf(&[ElfLoad { paddr: 0, vaddr: 0xffff888000000000, file_pages: 4, mem_pages: 300 }], &notes);
    let dump = Dump::from_bytes(filtered.clone()).unwrap();
    assert_eq!(dump.format(), &DumpFormat::Elf { producer: ElfProducer::Makedumpfile, flattened: false });
    assert!(dump.is_partial());
    assert_eq!(fault_reason(dump.read_phys(5 * PAGE as u64, &mut buf).unwrap_err()), FaultReason::ExcludedFromDump);
    assert_eq!(dump.page_state(5), PageState::Excluded);

    let dump = Dump::from_bytes(flatten(&filtered, 5000)).unwrap();
    assert_eq!(dump.format(), &DumpFormat::Elf { producer: ElfProducer::Makedumpfile, flattened: true });
    dump.read_phys(PAGE as u64, &mut buf[..PAGE]).unwrap();
    assert_eq!(&buf[..PAGE], &page_bytes(1)[..]);

    let cut = Dump::from_bytes(plain[..plain.len() - 2 * PAGE - 10].to_vec()).unwrap();
    let t = cut.truncation().unwrap();
    assert_eq!(t.pages_missing, 3);
    assert_eq!(fault_reason(cut.read_phys(19 * PAGE as u64, &mut buf[..8]).unwrap_err()), FaultReason::Truncated);
    assert_eq!(cut.page_state(19), PageState::Truncated);
}

#[test]
fn elf_from_qemu() {
    let mut notes = notes_blob(1);
    let mut q = vec![0u8; 440];
    q[0..4].copy_from_slice(&1u32.to_le_bytes());
    q[416..424].copy_from_slice(&0x7777000u64.to_le_bytes());
    notes.extend(crate::notes::tests::note("QEMU", 0, &q));
    for (vaddr, paging) in [(0, false), (0xffff888000000000, true)] {
        let img = build_elf(&[ElfLoad { paddr: 0, vaddr, file_pages: 2, mem_pages: 2 }], &notes);
        let dump = Dump::from_bytes(img).unwrap();
        assert_eq!(dump.format(), &DumpFormat::Elf { producer: ElfProducer::Qemu { paging }, flattened: false });
        assert_eq!(dump.cpus()[0].qemu_state.as_deref(), Some(&q[..]));
    }
}

#[test]
fn malformed_elf_is_an_error() {
    let img = build_elf(&[ElfLoad { paddr: 0, vaddr: 0, file_pages: 2, mem_pages: 2 }], &notes_blob(1));
    let patched = |at: usize, bytes: &[u8]| {
        let mut v = img.clone();
        v[at..at + bytes.len()].copy_from_slice(bytes);
        Dump::from_bytes(v)
    };
    assert!(Dump::from_bytes(img[..40].to_vec()).is_err());
    assert!(patched(4, &[1]).is_err(), "ELF32");
    assert!(patched(56, &0xfffeu16.to_le_bytes()).is_err(), "phnum past EOF");
    assert!(patched(56, &0xffffu16.to_le_bytes()).is_err(), "PN_XNUM without sections");
    assert!(patched(64 + 32, &u64::MAX.to_le_bytes()).is_err(), "huge note");
    assert!(patched(64 + 56 + 24, &u64::MAX.to_le_bytes()).is_err(), "wrapping load");
}

#[test]
fn sparse_flattened_offsets_do_not_allocate() {
    // A record claiming image offset 2^50 makes the image look huge; a
    // header asking for a giant bitmap must fail, not allocate.
    let (img, _) = build_kdump(&KdumpSpec::simple(Compression::Zlib));
    let mut patched = img.clone();
    patched[436..440].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut flat = flatten_ordered(&patched, 4096, false);
    let end = flat.len() - 16;
    let mut tail = Vec::new();
    tail.extend_from_slice(&(1i64 << 50).to_be_bytes());
    tail.extend_from_slice(&1i64.to_be_bytes());
    tail.push(0);
    flat.splice(end..end, tail);
    assert!(Dump::from_bytes(flat).is_err());
}

/// Physical memory of `pages` pages with the VMCOREINFO text at page 5, as
/// the kernel keeps it (`vmcoreinfo_data` is a page of its own).
fn memory_with_vmcoreinfo(first_pfn: u64, pages: u64) -> Vec<u8> {
    let mut mem: Vec<u8> = (first_pfn..first_pfn + pages).flat_map(page_bytes).collect();
    // A format string in the image must not be taken for the real text.
    let format_strings = b"OSRELEASE=%s\n\0PAGESIZE=%ld\n\0";
    mem[PAGE + 100..PAGE + 100 + format_strings.len()].copy_from_slice(format_strings);
    let text = b"OSRELEASE=6.1.0-test\nPAGESIZE=4096\nSYMBOL(init_uts_ns)=ffffffff82a12340\nKERNELOFFSET=2c000000\n\0";
    let at = 5 * PAGE;
    mem[at..at + text.len()].copy_from_slice(text);
    mem
}

#[test]
fn lime_ranges_gaps_and_scanned_vmcoreinfo() {
    let low = memory_with_vmcoreinfo(1, 8);
    let high = (32..36u64).flat_map(page_bytes).collect::<Vec<u8>>();
    let image = crate::lime::build(&[(PAGE as u64, &low), (32 * PAGE as u64, &high)]);
    assert!(looks_like_dump(&image[..64]));
    let dump = Dump::from_bytes(image).unwrap();
    assert_eq!(dump.format(), &DumpFormat::Lime);
    assert_eq!(dump.format().to_string(), "LiME");
    assert!(dump.cpus().is_empty());
    let info = dump.vmcoreinfo().expect("VMCOREINFO found by the scan");
    assert_eq!(info.osrelease(), Some("6.1.0-test"));
    assert_eq!(info.kernel_offset(), Some(0x2c000000));
    let mut buf = vec![0u8; PAGE * 2];
    dump.read_phys(3 * PAGE as u64, &mut buf).unwrap();
    assert!(buf[..PAGE] == page_bytes(3)[..]);
    dump.read_phys(33 * PAGE as u64, &mut buf).unwrap();
    assert!(buf[PAGE..] == page_bytes(34)[..]);
    for pfn in [0u64, 9, 20, 36] {
        let err = dump.read_phys(pfn * PAGE as u64, &mut buf[..8]).unwrap_err();
        assert_eq!(fault_reason(err), FaultReason::NotInDump, "pfn {pfn}");
        assert_eq!(dump.page_state(pfn), PageState::NotInDump);
    }
    // A read running off the end of a range stops there.
    assert!(dump.read_phys(9 * PAGE as u64 - 4, &mut buf[..8]).is_err());
    assert_eq!(dump.page_state(3), PageState::Present);
    assert_eq!(dump.max_pfn(), 36);
    assert_eq!(dump.phys_ranges().len(), 2);
    assert!(!dump.is_partial() && dump.truncation().is_none());
    // No header names the machine and this VMCOREINFO has no x86-64 keys.
    assert_eq!(dump.machine(), None);
}

#[test]
fn lime_machine_comes_from_vmcoreinfo() {
    let mut low = memory_with_vmcoreinfo(1, 8);
    let text = b"OSRELEASE=6.1.0-test\nPAGESIZE=4096\nSYMBOL(init_top_pgt)=ffffffff82a0a000\nKERNELOFFSET=0\n\0";
    low[5 * PAGE..5 * PAGE + text.len()].copy_from_slice(text);
    let dump = Dump::from_bytes(crate::lime::build(&[(PAGE as u64, &low)])).unwrap();
    assert_eq!(dump.machine(), Some(Machine::X86_64));
}

/// `img` (a kdump image) with its header's `uname -m` replaced.
fn with_uname_machine(img: &[u8], name: &[u8]) -> Vec<u8> {
    let mut v = img.to_vec();
    let at = 12 + 65 * 4;
    v[at..at + 65].fill(0);
    v[at..at + name.len()].copy_from_slice(name);
    v
}

#[test]
fn kdump_machine_from_the_header() {
    let (img, _) = build_kdump(&KdumpSpec::simple(Compression::None));
    let dump = Dump::from_bytes(img.clone()).unwrap();
    assert_eq!(dump.machine(), Some(Machine::X86_64));
    assert_eq!(dump.page_size(), 4096);
    assert_eq!(dump.cpus()[1].prstatus.as_ref().map(Vec::len), Some(336));

    let err = Dump::from_bytes(with_uname_machine(&img, b"ppc64le")).unwrap_err();
    assert_eq!(err.to_string(), "the dump is for machine \"ppc64le\", which krash does not know");

    // arm64 is known: it opens and its CPU notes are kept (the
    // architecture layer says krash does not support it yet).
    let arm = Dump::from_bytes(with_uname_machine(&img, b"aarch64")).unwrap();
    assert_eq!(arm.machine(), Some(Machine::Aarch64));
    assert_eq!(arm.cpus().len(), 2);

    let unnamed = Dump::from_bytes(with_uname_machine(&img, b"")).unwrap();
    assert_eq!(unnamed.machine(), None);
}

#[test]
fn elf_machine_from_e_machine_or_vmcoreinfo() {
    let loads = [ElfLoad { paddr: 0, vaddr: 0, file_pages: 2, mem_pages: 2 }];
    let elf = build_elf(&loads, &notes_blob(1));
    let with_machine = |img: &[u8], n: u16| {
        let mut v = img.to_vec();
        v[18..20].copy_from_slice(&n.to_le_bytes());
        v
    };
    assert_eq!(Dump::from_bytes(elf.clone()).unwrap().machine(), Some(Machine::X86_64));
    let err = Dump::from_bytes(with_machine(&elf, 21)).unwrap_err();
    assert_eq!(err.to_string(), "the dump is for machine ppc64 (ELF e_machine 21), which krash does not know");
    let arm = Dump::from_bytes(with_machine(&elf, 183)).unwrap();
    assert_eq!(arm.machine(), Some(Machine::Aarch64));
    // EM_NONE: the machine VMCOREINFO names.
    let mut notes = crate::notes::tests::note("CORE", 1, &crate::notes::tests::prstatus(9, 0xffffffff81000042));
    notes.extend(crate::notes::tests::note("VMCOREINFO", 0, b"SYMBOL(init_top_pgt)=ffffffff82a0a000\n"));
    let dump = Dump::from_bytes(with_machine(&build_elf(&loads, &notes), 0)).unwrap();
    assert_eq!(dump.machine(), Some(Machine::X86_64));
    assert_eq!(dump.cpus()[0].pid, Some(9));
    assert_eq!(dump.page_size(), 4096, "x86-64 has one page size");
}

#[test]
fn malformed_lime_is_an_error() {
    let page = page_bytes(0);
    let good = crate::lime::build(&[(0, &page), (PAGE as u64, &page)]);
    let err = |bytes: Vec<u8>| Dump::from_bytes(bytes).unwrap_err().to_string();
    assert!(err(good[..good.len() - 1].to_vec()).contains("truncated image"));
    assert!(err(good[..PAGE + 40].to_vec()).contains("the file ends"));
    let overlap = crate::lime::build(&[(0, &page), (PAGE as u64 / 2, &page)]);
    assert!(err(overlap).contains("overlap"));
    let mut backwards = good.clone();
    backwards[16..24].copy_from_slice(&0u64.to_le_bytes());
    backwards[8..16].copy_from_slice(&100u64.to_le_bytes());
    assert!(err(backwards).contains("before it starts"));
    let mut absurd = good.clone();
    absurd[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(err(absurd).contains("beyond any physical address"));
    let mut bad_magic = good.clone();
    bad_magic[PAGE + 32] ^= 1;
    assert!(err(bad_magic).contains("magic"));
    let mut version = good;
    version[4] = 2;
    assert!(Dump::from_bytes(version).is_err());
    // No VMCOREINFO in these pages: the image opens, the kernel layer says what is missing.
    let plain = Dump::from_bytes(crate::lime::build(&[(0, &page)])).unwrap();
    assert!(plain.vmcoreinfo().is_none());
}

#[test]
fn mutated_lime_never_panics() {
    let mem = memory_with_vmcoreinfo(0, 8);
    let image = crate::lime::build(&[(0, &mem[..3 * PAGE]), (10 * PAGE as u64, &mem[3 * PAGE..])]);
    let mut buf = vec![0u8; 64];
    for i in (0..image.len()).step_by(7).filter(|i| *i < 64 || (3 * PAGE..3 * PAGE + 128).contains(i)) {
        for v in [0u8, 0xff, 0x80] {
            let mut m = image.clone();
            m[i] = v;
            if let Ok(d) = Dump::from_bytes(m) {
                for pfn in 0..20 {
                    let _ = d.read_phys(pfn * PAGE as u64 + 7, &mut buf);
                }
            }
        }
    }
}

/// /proc/kcore as the kernel lays it out: RAM segments with physical
/// addresses, vmalloc/module segments with p_paddr -1, a placeholder
/// NT_PRSTATUS and VMCOREINFO; read with positioned reads.
#[test]
fn kcore_like_file_reads_with_positioned_reads() {
    let notes = notes_blob(1);
    let image = build_elf(
        &[
            ElfLoad { paddr: 0, vaddr: 0xffff888000000000, file_pages: 8, mem_pages: 8 },
            ElfLoad { paddr: u64::MAX, vaddr: 0xffffc90000000000, file_pages: 2, mem_pages: 2 },
        ],
        &notes,
    );
    let dir = std::env::temp_dir().join(format!("krash-kcore-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("kcore");
    std::fs::write(&path, &image).unwrap();
    let dump = Dump::open_live(&path).unwrap();
    assert!(dump.is_live());
    assert_eq!(dump.format(), &DumpFormat::Elf { producer: ElfProducer::Kcore, flattened: false });
    assert!(dump.cpus().is_empty(), "kcore's PRSTATUS is a placeholder");
    assert!(dump.vmcoreinfo().is_some());
    let mut buf = vec![0u8; PAGE];
    dump.read_phys(3 * PAGE as u64, &mut buf).unwrap();
    assert!(buf == page_bytes(3));
    // The file changes under us: the next read sees the new bytes.
    let mut changed = image.clone();
    let at = image.len() - 7 * PAGE; // page 3 of the 8-page RAM segment, before 2 vmalloc pages
    changed[at..at + 4].copy_from_slice(b"LIVE");
    std::fs::write(&path, &changed).unwrap();
    dump.read_phys(3 * PAGE as u64, &mut buf[..4]).unwrap();
    assert_eq!(&buf[..4], b"LIVE");
    assert_eq!(dump.phys_ranges().len(), 1);
    let missing = Dump::open_live(&dir.join("absent")).unwrap_err().to_string();
    assert!(missing.contains("no such file"), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();
}
