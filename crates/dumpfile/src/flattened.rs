//! makedumpfile's flattened stream (`makedumpfile -F`): a 4 KiB header
//! followed by (image offset, length, data) records, ending with a (-1, -1)
//! marker. Instead of rebuilding the image on disk we index the records once
//! and serve image reads through the index.

use std::borrow::Cow;
use std::collections::BTreeMap;

use krash_core::{Error, Result};

use crate::image::ImageGap;
use crate::le::Fields;

/// Magic at the start of a flattened stream (NUL-padded to 16 bytes).
pub(crate) const FLAT_SIGNATURE: &[u8] = b"makedumpfile";
const FLAT_HEADER_SIZE: u64 = 4096;
const RECORD_HEADER_SIZE: u64 = 16;
const FLAT_TYPE: i64 = 1;
const END_MARKER: i64 = -1;

/// True when `bytes` start like a flattened stream.
pub(crate) fn is_flattened(bytes: &[u8]) -> bool {
    bytes.starts_with(FLAT_SIGNATURE) && bytes.get(12..16).is_some_and(|pad| pad.iter().all(|&b| b == 0))
}

/// One run of image bytes stored contiguously in the flattened file.
#[derive(Debug, Clone, Copy)]
struct Piece {
    image_end: u64,
    file_start: u64,
}

/// Map from image offsets to the flattened-file offsets holding them.
pub(crate) struct FlatIndex {
    /// Keyed by image start offset; pieces never overlap.
    pieces: BTreeMap<u64, Piece>,
    image_len: u64,
    /// The stream stopped without its end marker (file cut short).
    pub missing_end_marker: bool,
}

impl FlatIndex {
    /// Indexes every record of the stream. A stream cut short keeps what it
    /// has; malformed records are errors.
    pub fn build(file: &[u8]) -> Result<FlatIndex> {
        let header = Fields::new(file, "flattened dump header");
        if !is_flattened(file) {
            return Err(Error::bad_data("flattened dump header", "no \"makedumpfile\" signature"));
        }
        let kind = header.i64_be(16)?;
        if kind != FLAT_TYPE {
            return Err(Error::bad_data("flattened dump header", format!("unknown stream type {kind}")));
        }
        let file_len = file.len() as u64;
        let mut index = FlatIndex { pieces: BTreeMap::new(), image_len: 0, missing_end_marker: true };
        let mut at = FLAT_HEADER_SIZE;
        // Each record needs at least its header plus one byte, which bounds
        // the loop by the file size.
        while at.saturating_add(RECORD_HEADER_SIZE) <= file_len {
            let rest = usize::try_from(at).ok().and_then(|at| file.get(at..)).unwrap_or_default();
            let rec = Fields::new(rest, "flattened dump record");
            let offset = rec.i64_be(0)?;
            let size = rec.i64_be(8)?;
            if offset == END_MARKER && size == END_MARKER {
                index.missing_end_marker = false;
                break;
            }
            if offset < 0 || size <= 0 {
                return Err(Error::bad_data(
                    "flattened dump record",
                    format!("record at file offset {at:#x} has offset {offset} and size {size}"),
                ));
            }
            // The loop condition keeps the record header inside the file.
            let data_start = at.saturating_add(RECORD_HEADER_SIZE);
            let available = file_len.saturating_sub(data_start);
            let stored = (size as u64).min(available);
            let image_start = offset as u64;
            let image_end = image_start.checked_add(stored).ok_or_else(|| {
                Error::bad_data("flattened dump record", format!("record at {at:#x} overflows the image"))
            })?;
            if stored > 0 {
                index.insert(image_start, image_end, data_start);
            }
            if stored < size as u64 {
                break;
            }
            // stored <= available, so this stays within the file.
            at = data_start.saturating_add(stored);
        }
        Ok(index)
    }

    /// Records a piece; later records overwrite earlier ones, as when the
    /// stream is replayed into a file.
    fn insert(&mut self, start: u64, end: u64, file_start: u64) {
        let overlapping: Vec<(u64, Piece)> =
            self.pieces.range(..end).rev().take_while(|(_, p)| p.image_end > start).map(|(&s, &p)| (s, p)).collect();
        for (old_start, old) in overlapping {
            self.pieces.remove(&old_start);
            if old_start < start {
                self.pieces.insert(old_start, Piece { image_end: start, file_start: old.file_start });
            }
            if old.image_end > end {
                // old_start < end: the piece overlaps [start, end).
                let skip = end.saturating_sub(old_start);
                let file_start = old.file_start.saturating_add(skip);
                self.pieces.insert(end, Piece { image_end: old.image_end, file_start });
            }
        }
        self.pieces.insert(start, Piece { image_end: end, file_start });
        self.image_len = self.image_len.max(end);
    }

    pub fn image_len(&self) -> u64 {
        self.image_len
    }

    pub fn read<'f>(&self, file: &'f [u8], at: u64, len: usize) -> Result<Cow<'f, [u8]>, ImageGap> {
        let end = at.checked_add(len as u64).ok_or(ImageGap::PastEnd)?;
        if end > self.image_len {
            return Err(ImageGap::PastEnd);
        }
        // Fast path: the whole range sits in one piece.
        if let Some((&start, piece)) = self.pieces.range(..=at).next_back() {
            if piece.image_end >= end {
                let from = piece.file_start.checked_add(at.saturating_sub(start)).ok_or(ImageGap::PastEnd)?;
                return slice(file, from, len).map(Cow::Borrowed);
            }
        }
        // Sparse images can claim huge offsets; never allocate more than
        // the file could back.
        if len > file.len() {
            return Err(ImageGap::PastEnd);
        }
        let mut out = vec![0u8; len];
        let first = self.pieces.range(..=at).next_back().map(|(&s, _)| s).unwrap_or(at);
        for (&start, piece) in self.pieces.range(first..end) {
            let lo = start.max(at);
            let hi = piece.image_end.min(end);
            if lo >= hi {
                continue;
            }
            // at <= lo < hi <= end, and start <= lo.
            let from = piece.file_start.checked_add(lo.saturating_sub(start)).ok_or(ImageGap::PastEnd)?;
            let src = slice(file, from, hi.saturating_sub(lo) as usize)?;
            let dst_from = lo.saturating_sub(at) as usize;
            let dst = dst_from.checked_add(src.len()).and_then(|to| out.get_mut(dst_from..to));
            dst.ok_or(ImageGap::PastEnd)?.copy_from_slice(src);
        }
        Ok(Cow::Owned(out))
    }
}

fn slice(file: &[u8], from: u64, len: usize) -> Result<&[u8], ImageGap> {
    let from = usize::try_from(from).map_err(|_| ImageGap::PastEnd)?;
    from.checked_add(len).and_then(|end| file.get(from..end)).ok_or(ImageGap::PastEnd)
}
