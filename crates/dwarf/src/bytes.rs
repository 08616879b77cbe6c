//! Section bytes that gimli can read without copying a mapped file.

use std::ops::Deref;
use std::sync::Arc;

use krash_core::MappedFile;

/// The bytes of one debug section: either a window into the mapped file
/// (the common, uncompressed case) or an owned buffer (after decompression
/// or relocation). Cloning is cheap.
#[derive(Clone)]
pub enum SectionBytes {
    /// `start..start + len` of the mapping, bounds checked at construction.
    Mapped {
        map: Arc<MappedFile>,
        start: usize,
        len: usize,
    },
    Owned(Arc<[u8]>),
}

impl SectionBytes {
    /// A window into `map`, or `None` when the window does not fit.
    pub fn mapped(map: &Arc<MappedFile>, start: u64, len: u64) -> Option<Self> {
        let start = usize::try_from(start).ok()?;
        let len = usize::try_from(len).ok()?;
        let end = start.checked_add(len)?;
        if end > map.len() {
            return None;
        }
        Some(SectionBytes::Mapped { map: Arc::clone(map), start, len })
    }

    pub fn empty() -> Self {
        SectionBytes::Owned(Arc::from(Vec::new()))
    }
}

impl Deref for SectionBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            // The window was checked against the mapping length in `mapped`
            // and neither field changes afterwards.
            SectionBytes::Mapped { map, start, len } => {
                map.get(*start..).and_then(|tail| tail.get(..*len)).unwrap_or_default()
            }
            SectionBytes::Owned(bytes) => bytes,
        }
    }
}

impl std::fmt::Debug for SectionBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SectionBytes({} bytes)", self.len())
    }
}

// SAFETY: both variants point into heap or mapped memory owned through an
// Arc; moving or cloning the handle never moves the bytes themselves.
unsafe impl stable_deref_trait::StableDeref for SectionBytes {}
// SAFETY: a clone shares the same Arc, so it derefs to the same address.
unsafe impl stable_deref_trait::CloneStableDeref for SectionBytes {}

/// The gimli reader used throughout this crate.
pub type Reader = gimli::EndianReader<gimli::RunTimeEndian, SectionBytes>;
