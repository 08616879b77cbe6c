//! Per-page decompression for kdump-compressed dumps. Every decoder writes
//! into a caller-provided page buffer and must fill it exactly: a page that
//! decodes to any other length is corrupt.

use std::cell::RefCell;
use std::fmt;

use crate::lzo;

/// Page descriptor / header status bits naming the compressor.
pub(crate) const FLAG_ZLIB: u32 = 0x1;
pub(crate) const FLAG_LZO: u32 = 0x2;
pub(crate) const FLAG_SNAPPY: u32 = 0x4;
pub(crate) const FLAG_ZSTD: u32 = 0x20;

/// How the pages of a kdump-compressed dump are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Zlib,
    Lzo,
    Snappy,
    Zstd,
}

impl Compression {
    /// The compressor named by flag bits (header status or page descriptor).
    pub(crate) fn from_flags(flags: u32) -> Compression {
        if flags & FLAG_ZLIB != 0 {
            Compression::Zlib
        } else if flags & FLAG_LZO != 0 {
            Compression::Lzo
        } else if flags & FLAG_SNAPPY != 0 {
            Compression::Snappy
        } else if flags & FLAG_ZSTD != 0 {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "uncompressed",
            Compression::Zlib => "zlib",
            Compression::Lzo => "lzo",
            Compression::Snappy => "snappy",
            Compression::Zstd => "zstd",
        })
    }
}

thread_local! {
    // A zstd context is costly to create; keep one per reading thread.
    static ZSTD: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
    // So is an inflate state (tens of KiB to allocate and clear): one per
    // reading thread, reset for each page (each page is its own stream).
    static ZLIB: RefCell<Option<flate2::Decompress>> = const { RefCell::new(None) };
}

/// Decodes `input` into `page`, which it must fill exactly.
pub(crate) fn decompress(kind: Compression, input: &[u8], page: &mut [u8]) -> Result<(), String> {
    let produced = match kind {
        Compression::None => {
            if input.len() != page.len() {
                return Err(format!("stored page is {} bytes, expected {}", input.len(), page.len()));
            }
            page.copy_from_slice(input);
            input.len()
        }
        Compression::Zlib => ZLIB.with(|cell| -> Result<usize, String> {
            let mut slot = cell.borrow_mut();
            let z = slot.get_or_insert_with(|| flate2::Decompress::new(true));
            z.reset(true);
            let status =
                z.decompress(input, page, flate2::FlushDecompress::Finish).map_err(|e| format!("zlib: {e}"))?;
            if status != flate2::Status::StreamEnd {
                return Err("zlib: stream does not end within one page".into());
            }
            usize::try_from(z.total_out()).map_err(|_| "zlib: output size".to_string())
        })?,
        Compression::Lzo => lzo::decompress(input, page).map_err(|e| format!("lzo: {e}"))?,
        Compression::Snappy => {
            let len = snap::raw::decompress_len(input).map_err(|e| format!("snappy: {e}"))?;
            if len != page.len() {
                return Err(format!("snappy: page decodes to {len} bytes, expected {}", page.len()));
            }
            snap::raw::Decoder::new().decompress(input, page).map_err(|e| format!("snappy: {e}"))?
        }
        Compression::Zstd => ZSTD.with(|cell| -> Result<usize, String> {
            let mut slot = cell.borrow_mut();
            if slot.is_none() {
                *slot = Some(zstd::bulk::Decompressor::new().map_err(|e| format!("zstd: {e}"))?);
            }
            match slot.as_mut() {
                Some(d) => d.decompress_to_buffer(input, page).map_err(|e| format!("zstd: {e}")),
                None => Err("zstd: no decoder".into()),
            }
        })?,
    };
    if produced != page.len() {
        return Err(format!("{kind} page decodes to {produced} bytes, expected {}", page.len()));
    }
    Ok(())
}

#[cfg(test)]
// Tests index the synthetic buffers they build; a panic there is a failed test.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use std::io::Write;

    fn sample_page() -> Vec<u8> {
        (0..4096u32).map(|i| ((i * 7) % 251) as u8 ^ if i % 300 < 40 { 0 } else { 0x5a }).collect()
    }

    #[test]
    fn every_codec_round_trips() {
        let page = sample_page();
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&page).unwrap();
        let zlib = z.finish().unwrap();
        let snappy = snap::raw::Encoder::new().compress_vec(&page).unwrap();
        let zstd = zstd::bulk::compress(&page, 3).unwrap();
        // liblzo2's own encoder (tests/data/lzo: same page).
        let lzo = crate::lzo::tests::vector("sample-page", "1");
        for (kind, data) in [
            (Compression::Zlib, zlib),
            (Compression::Snappy, snappy),
            (Compression::Zstd, zstd),
            (Compression::Lzo, lzo),
            (Compression::None, page.clone()),
        ] {
            let mut out = vec![0u8; 4096];
            decompress(kind, &data, &mut out).unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert_eq!(out, page, "{kind}");
            // Corrupt and truncated inputs fail cleanly.
            let mut bad = data.clone();
            bad.truncate(data.len() / 2);
            assert!(decompress(kind, &bad, &mut out).is_err(), "{kind} truncated");
            let garbage: Vec<u8> = (0..200u32).map(|i| (i * 37 + 11) as u8).collect();
            let _ = decompress(kind, &garbage, &mut out);
        }
    }

    #[test]
    fn oversized_output_is_rejected() {
        let big = vec![7u8; 8192];
        let snappy = snap::raw::Encoder::new().compress_vec(&big).unwrap();
        let lzo = crate::lzo::tests::vector("sevens-8192", "999");
        let mut out = vec![0u8; 4096];
        assert!(decompress(Compression::Snappy, &snappy, &mut out).is_err());
        assert!(decompress(Compression::Lzo, &lzo, &mut out).is_err());
    }
}
