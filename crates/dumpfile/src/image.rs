//! The byte image a dump format is parsed from: the file itself (mapped,
//! or read with positioned reads when it cannot be mapped, as /proc/kcore),
//! or the kdump/ELF image that a makedumpfile flattened stream would rebuild.

use std::borrow::Cow;
use std::ops::Deref;
use std::sync::Arc;

use crate::flattened::FlatIndex;

/// Owned dump bytes: a read-only mapping of the file or a shared buffer.
pub(crate) enum Bytes {
    Mapped(std::sync::Arc<krash_core::MappedFile>),
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

/// A file read with `pread` on every access: nothing is cached, so a file
/// whose content changes under us (a live kernel's /proc/kcore) is always
/// read as it is now.
pub(crate) struct PositionedFile {
    file: std::fs::File,
    /// The size the file reports; /proc/kcore reports the end of its highest segment.
    len: u64,
    /// One read at a time on the file: since Linux 6.5 /proc/kcore copies
    /// through one bounce buffer per open file (`private_data`), so two
    /// threads reading at once can each get the other's bytes (seen in the
    /// lab: a 6.12 task read with a garbled `comm` while `ps` read the task
    /// table on both cores).
    reading: std::sync::Mutex<()>,
}

impl PositionedFile {
    pub fn new(file: std::fs::File, len: u64) -> Self {
        PositionedFile { file, len, reading: std::sync::Mutex::new(()) }
    }

    fn read(&self, at: u64, len: usize) -> Result<Vec<u8>, ImageGap> {
        use std::os::unix::fs::FileExt;
        let end = at.checked_add(len as u64).ok_or(ImageGap::PastEnd)?;
        if end > self.len {
            return Err(ImageGap::PastEnd);
        }
        let mut buf = vec![0u8; len];
        let _one_at_a_time = self.reading.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.file.read_exact_at(&mut buf, at).map_err(|_| ImageGap::ReadFailed)?;
        Ok(buf)
    }
}

/// Why a range of the image could not be produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ImageGap {
    /// The range runs past the last byte the file holds.
    PastEnd,
    /// The operating system refused the read (a live kernel's unreadable page).
    ReadFailed,
}

/// Where the image bytes come from.
enum Source {
    Bytes(Bytes),
    File(PositionedFile),
}

/// Random access to the logical dump image.
pub(crate) struct Image {
    source: Source,
    flat: Option<FlatIndex>,
}

impl Image {
    pub fn raw(bytes: Bytes) -> Self {
        Image { source: Source::Bytes(bytes), flat: None }
    }

    pub fn positioned(file: PositionedFile) -> Self {
        Image { source: Source::File(file), flat: None }
    }

    pub fn flattened(bytes: Bytes, index: FlatIndex) -> Self {
        Image { source: Source::Bytes(bytes), flat: Some(index) }
    }

    pub fn is_flattened(&self) -> bool {
        self.flat.is_some()
    }

    /// Size of the logical image: the file length, or for a flattened stream
    /// the end of the furthest record.
    pub fn len(&self) -> u64 {
        match (&self.flat, &self.source) {
            (Some(index), _) => index.image_len(),
            (None, Source::Bytes(bytes)) => bytes.len() as u64,
            (None, Source::File(file)) => file.len,
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
        if let Source::Bytes(Bytes::Mapped(file)) = &self.source {
            file.note_read(at, len);
        }
        match (&self.flat, &self.source) {
            (None, Source::Bytes(bytes)) => {
                let start = usize::try_from(at).map_err(|_| ImageGap::PastEnd)?;
                let stop = usize::try_from(end).map_err(|_| ImageGap::PastEnd)?;
                bytes.get(start..stop).map(Cow::Borrowed).ok_or(ImageGap::PastEnd)
            }
            (Some(index), Source::Bytes(bytes)) => index.read(bytes, at, len),
            (_, Source::File(file)) => file.read(at, len).map(Cow::Owned),
        }
    }

    /// Like `read`, for header structures: a short image becomes a
    /// descriptive error.
    pub fn read_header(&self, at: u64, len: usize, what: &str) -> krash_core::Result<Cow<'_, [u8]>> {
        self.read(at, len).map_err(|gap| {
            let detail = match gap {
                ImageGap::PastEnd => {
                    format!("{len} bytes at offset {at:#x} lie past the end of the dump ({} bytes)", self.len())
                }
                ImageGap::ReadFailed => format!("{len} bytes at offset {at:#x} could not be read"),
            };
            krash_core::Error::bad_data(what, detail)
        })
    }
}
