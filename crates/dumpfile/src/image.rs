//! The byte image a dump format is parsed from: either the file itself, or
//! the kdump/ELF image that a makedumpfile flattened stream would rebuild.

use std::borrow::Cow;
use std::ops::Deref;
use std::sync::Arc;

use crate::flattened::FlatIndex;

/// Owned dump bytes: a read-only mapping of the file or a shared buffer.
pub(crate) enum Bytes {
    Mapped(memmap2::Mmap),
    Shared(Arc<[u8]>),
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Shared(s) => s,
        }
    }
}

/// Why a range of the image could not be produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ImageGap {
    /// The range runs past the last byte the file holds.
    PastEnd,
}

/// Random access to the logical dump image.
pub(crate) struct Image {
    bytes: Bytes,
    flat: Option<FlatIndex>,
}

impl Image {
    pub fn raw(bytes: Bytes) -> Self {
        Image { bytes, flat: None }
    }

    pub fn flattened(bytes: Bytes, index: FlatIndex) -> Self {
        Image { bytes, flat: Some(index) }
    }

    pub fn is_flattened(&self) -> bool {
        self.flat.is_some()
    }

    /// Size of the logical image: the file length, or for a flattened stream
    /// the end of the furthest record.
    pub fn len(&self) -> u64 {
        match &self.flat {
            None => self.bytes.len() as u64,
            Some(index) => index.image_len(),
        }
    }

    /// A flattened stream that stops without its end marker was cut short.
    pub fn stream_cut_short(&self) -> bool {
        self.flat.as_ref().is_some_and(|f| f.missing_end_marker)
    }

    /// `len` bytes at image offset `at`: borrowed when contiguous in the
    /// file, assembled otherwise. Holes a flattened stream never wrote read
    /// as zeros, as they would in the rebuilt file.
    pub fn read(&self, at: u64, len: usize) -> Result<Cow<'_, [u8]>, ImageGap> {
        let end = at.checked_add(len as u64).ok_or(ImageGap::PastEnd)?;
        match &self.flat {
            None => {
                let start = usize::try_from(at).map_err(|_| ImageGap::PastEnd)?;
                let stop = usize::try_from(end).map_err(|_| ImageGap::PastEnd)?;
                self.bytes.get(start..stop).map(Cow::Borrowed).ok_or(ImageGap::PastEnd)
            }
            Some(index) => index.read(&self.bytes, at, len),
        }
    }

    /// Like `read`, for header structures: a short image becomes a
    /// descriptive error.
    pub fn read_header(&self, at: u64, len: usize, what: &str) -> krash_core::Result<Cow<'_, [u8]>> {
        self.read(at, len).map_err(|_| {
            krash_core::Error::bad_data(
                what,
                format!(
                    "{len} bytes at offset {at:#x} lie past the end of the dump ({} bytes)",
                    self.len()
                ),
            )
        })
    }
}
