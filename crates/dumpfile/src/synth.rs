//! Synthetic dumps for unit tests: small kdump-compressed, flattened and
//! ELF images built from a page-content function.
// Test-only builders over their own known-good layouts; a panic here is a failed test.
#![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use std::io::Write;

use crate::compression::{Compression, FLAG_LZO, FLAG_SNAPPY, FLAG_ZLIB, FLAG_ZSTD};
use crate::notes::tests::{note, prstatus};

pub const PAGE: usize = 4096;

/// Deterministic, moderately compressible contents of page `pfn`.
pub fn page_bytes(pfn: u64) -> Vec<u8> {
    (0..PAGE).map(|i| ((i as u64 / 16) ^ pfn.wrapping_mul(31)) as u8).collect()
}

pub fn vmcoreinfo_text() -> &'static [u8] {
    b"OSRELEASE=6.1.0-test\nPAGESIZE=4096\nSYMBOL(init_uts_ns)=ffffffff82a12340\nCRASHTIME=1700000000\n"
}

pub fn notes_blob(cpus: u32) -> Vec<u8> {
    let mut v = Vec::new();
    for c in 0..cpus {
        v.extend(note("CORE", 1, &prstatus(100 + c, 0xffffffff81000000 + u64::from(c))));
    }
    v.extend(note("VMCOREINFO", 0, vmcoreinfo_text()));
    v
}

/// What to put into a synthetic kdump-compressed dump.
pub struct KdumpSpec {
    pub max_mapnr: u64,
    pub valid: Box<dyn Fn(u64) -> bool>,
    pub dumped: Box<dyn Fn(u64) -> bool>,
    pub compression: Compression,
    pub header_version: i32,
}

impl KdumpSpec {
    pub fn simple(compression: Compression) -> KdumpSpec {
        KdumpSpec {
            max_mapnr: 64,
            valid: Box::new(|pfn| !(40..48).contains(&pfn)),
            dumped: Box::new(|pfn| pfn % 5 != 3 && !(40..48).contains(&pfn)),
            compression,
            header_version: 6,
        }
    }
}

fn compress(kind: Compression, page: &[u8]) -> (Vec<u8>, u32) {
    match kind {
        Compression::None => (page.to_vec(), 0),
        Compression::Zlib => {
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            z.write_all(page).unwrap();
            (z.finish().unwrap(), FLAG_ZLIB)
        }
        Compression::Lzo => (lzo_stored(page), FLAG_LZO),
        Compression::Snappy => (snap::raw::Encoder::new().compress_vec(page).unwrap(), FLAG_SNAPPY),
        Compression::Zstd => (zstd::bulk::compress(page, 1).unwrap(), FLAG_ZSTD),
    }
}

/// `page` as a stored LZO1X stream: one literal run and the end marker,
/// which any LZO1X decoder accepts. Streams with matches, from liblzo2's
/// encoders, are the vectors of tests/data/lzo and the lab's kdump-lzo dumps.
fn lzo_stored(page: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(page.len() + 24);
    match page.len() {
        0 => {}
        // A first byte above 17 is a run of (byte - 17) literals.
        n @ 1..=238 => out.push(17 + n as u8),
        // A run of 18 + extension: each zero byte adds 255, the first non-zero ends it.
        n => {
            out.push(0);
            let mut extension = n - 18;
            while extension > 255 {
                out.push(0);
                extension -= 255;
            }
            out.push(extension as u8);
        }
    }
    out.extend_from_slice(page);
    out.extend_from_slice(&[0x11, 0, 0]);
    out
}

fn put(buf: &mut Vec<u8>, at: usize, bytes: &[u8]) {
    if buf.len() < at + bytes.len() {
        buf.resize(at + bytes.len(), 0);
    }
    buf[at..at + bytes.len()].copy_from_slice(bytes);
}

/// Layout facts of a built kdump image, for tests that corrupt it.
pub struct KdumpLayout {
    pub bitmap_offset: usize,
    pub desc_offset: usize,
    pub data_offset: usize,
}

pub fn build_kdump(spec: &KdumpSpec) -> (Vec<u8>, KdumpLayout) {
    let mut img = Vec::new();
    let notes = notes_blob(2);
    let note_blocks = notes.len().div_ceil(PAGE) + 1;
    let sub_hdr_blocks = 1 + note_blocks;
    let bitmap_bytes_half = (spec.max_mapnr as usize).div_ceil(8).div_ceil(PAGE) * PAGE;
    let bitmap_blocks = 2 * bitmap_bytes_half / PAGE;
    let status = compress(spec.compression, &[0u8; 16]).1;

    put(&mut img, 0, b"KDUMP   ");
    put(&mut img, 8, &spec.header_version.to_le_bytes());
    for (i, s) in ["Linux", "testhost", "6.1.0-test", "#1 SMP", "x86_64", "(none)"].iter().enumerate() {
        put(&mut img, 12 + 65 * i, s.as_bytes());
    }
    put(&mut img, 408, &1_700_000_000i64.to_le_bytes());
    put(&mut img, 416, &123i64.to_le_bytes());
    put(&mut img, 424, &status.to_le_bytes());
    put(&mut img, 428, &(PAGE as i32).to_le_bytes());
    put(&mut img, 432, &(sub_hdr_blocks as i32).to_le_bytes());
    put(&mut img, 436, &(bitmap_blocks as u32).to_le_bytes());
    put(&mut img, 440, &(spec.max_mapnr as u32).to_le_bytes());
    put(&mut img, 460, &2i32.to_le_bytes());

    let sub = PAGE;
    let notes_at = 2 * PAGE;
    put(&mut img, sub + 8, &31i32.to_le_bytes());
    let vmci_text = vmcoreinfo_text();
    // VMCOREINFO's text sits inside its note; find it there.
    let vmci_at = notes_at + notes.windows(vmci_text.len()).position(|w| w == vmci_text).unwrap();
    put(&mut img, sub + 32, &(vmci_at as i64).to_le_bytes());
    put(&mut img, sub + 40, &(vmci_text.len() as u64).to_le_bytes());
    put(&mut img, sub + 48, &(notes_at as i64).to_le_bytes());
    put(&mut img, sub + 56, &(notes.len() as u64).to_le_bytes());
    put(&mut img, sub + 88, &spec.max_mapnr.to_le_bytes());
    put(&mut img, sub + 96, &spec.max_mapnr.to_le_bytes());
    put(&mut img, notes_at, &notes);

    let bitmap_offset = (1 + sub_hdr_blocks) * PAGE;
    let mut bm1 = vec![0u8; bitmap_bytes_half];
    let mut bm2 = vec![0u8; bitmap_bytes_half];
    let mut dumped = Vec::new();
    for pfn in 0..spec.max_mapnr {
        let (valid, dump) = ((spec.valid)(pfn), (spec.dumped)(pfn) && (spec.valid)(pfn));
        if valid {
            bm1[pfn as usize / 8] |= 1 << (pfn % 8);
        }
        if dump {
            bm2[pfn as usize / 8] |= 1 << (pfn % 8);
            dumped.push(pfn);
        }
    }
    put(&mut img, bitmap_offset, &bm1);
    put(&mut img, bitmap_offset + bitmap_bytes_half, &bm2);
    let desc_offset = bitmap_offset + 2 * bitmap_bytes_half;
    let data_offset = desc_offset + dumped.len() * 24;
    let mut data_at = data_offset;
    for (i, &pfn) in dumped.iter().enumerate() {
        let page = page_bytes(pfn);
        let (mut stored, mut flags) = compress(spec.compression, &page);
        if stored.len() >= PAGE {
            stored = page;
            flags = 0;
        }
        let d = desc_offset + i * 24;
        put(&mut img, d, &(data_at as i64).to_le_bytes());
        put(&mut img, d + 8, &(stored.len() as u32).to_le_bytes());
        put(&mut img, d + 12, &flags.to_le_bytes());
        put(&mut img, data_at, &stored);
        data_at += stored.len();
    }
    (img, KdumpLayout { bitmap_offset, desc_offset, data_offset })
}

/// Wraps an image in makedumpfile's flattened stream, cutting it into
/// records of `chunk` bytes; the first chunk goes last, as makedumpfile
/// writes headers after pages.
pub fn flatten(image: &[u8], chunk: usize) -> Vec<u8> {
    flatten_ordered(image, chunk, true)
}

pub fn flatten_ordered(image: &[u8], chunk: usize, headers_last: bool) -> Vec<u8> {
    let mut out = vec![0u8; 4096];
    out[..12].copy_from_slice(b"makedumpfile");
    out[16..24].copy_from_slice(&1i64.to_be_bytes());
    out[24..32].copy_from_slice(&1i64.to_be_bytes());
    let mut records: Vec<(usize, &[u8])> = image.chunks(chunk).enumerate().map(|(i, c)| (i * chunk, c)).collect();
    // Headers last, as makedumpfile writes them after the pages.
    let first = if headers_last { 1.min(records.len()) } else { 0 };
    records.rotate_left(first);
    for (offset, data) in records {
        out.extend_from_slice(&(offset as i64).to_be_bytes());
        out.extend_from_slice(&(data.len() as i64).to_be_bytes());
        out.extend_from_slice(data);
    }
    out.extend_from_slice(&(-1i64).to_be_bytes());
    out.extend_from_slice(&(-1i64).to_be_bytes());
    out
}

/// One PT_LOAD for `build_elf`: physical start, pages stored, pages described.
pub struct ElfLoad {
    pub paddr: u64,
    pub vaddr: u64,
    pub file_pages: u64,
    pub mem_pages: u64,
}

pub fn build_elf(loads: &[ElfLoad], notes: &[u8]) -> Vec<u8> {
    let phnum = loads.len() + 1;
    let mut img = vec![0u8; 64 + 56 * phnum];
    img[..4].copy_from_slice(b"\x7fELF");
    img[4] = 2;
    img[5] = 1;
    img[6] = 1;
    img[16..18].copy_from_slice(&4u16.to_le_bytes());
    img[18..20].copy_from_slice(&62u16.to_le_bytes());
    img[32..40].copy_from_slice(&64u64.to_le_bytes());
    img[52..54].copy_from_slice(&64u16.to_le_bytes());
    img[54..56].copy_from_slice(&56u16.to_le_bytes());
    img[56..58].copy_from_slice(&(phnum as u16).to_le_bytes());
    let phdr = |img: &mut Vec<u8>, i: usize, kind: u32, off: u64, vaddr: u64, paddr: u64, filesz: u64, memsz: u64| {
        let at = 64 + 56 * i;
        put(img, at, &kind.to_le_bytes());
        put(img, at + 8, &off.to_le_bytes());
        put(img, at + 16, &vaddr.to_le_bytes());
        put(img, at + 24, &paddr.to_le_bytes());
        put(img, at + 32, &filesz.to_le_bytes());
        put(img, at + 40, &memsz.to_le_bytes());
    };
    let note_off = img.len() as u64;
    img.extend_from_slice(notes);
    phdr(&mut img, 0, 4, note_off, 0, 0, notes.len() as u64, 0);
    let mut data_at = img.len().next_multiple_of(PAGE);
    for (i, l) in loads.iter().enumerate() {
        phdr(
            &mut img,
            i + 1,
            1,
            data_at as u64,
            l.vaddr,
            l.paddr,
            l.file_pages * PAGE as u64,
            l.mem_pages * PAGE as u64,
        );
        for p in 0..l.file_pages {
            put(&mut img, data_at, &page_bytes(l.paddr / PAGE as u64 + p));
            data_at += PAGE;
        }
    }
    img
}

#[test]
fn stored_lzo_streams_decode_at_every_length_class() {
    // Lengths around each encoding boundary: the first-byte run (<= 238) and
    // the extended run, whose extension is a multiple of 255 or not.
    for n in [0usize, 1, 3, 4, 238, 239, 273, 528, 4096] {
        let page: Vec<u8> = (0..n).map(|i| (i * 31 % 256) as u8).collect();
        let mut out = vec![0u8; n];
        assert_eq!(crate::lzo::decompress(&lzo_stored(&page), &mut out), Ok(n), "length {n}");
        assert_eq!(out, page, "length {n}");
    }
}
