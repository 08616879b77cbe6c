//! Bounds-checked little/big-endian field reads from untrusted header bytes.

use krash_core::{Error, Result};

/// A named view over header bytes so every failed read says which structure
/// was too short.
#[derive(Clone, Copy)]
pub(crate) struct Fields<'a> {
    pub bytes: &'a [u8],
    pub what: &'static str,
}

impl<'a> Fields<'a> {
    pub fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Fields { bytes, what }
    }

    pub fn slice(&self, at: usize, len: usize) -> Result<&'a [u8]> {
        at.checked_add(len).and_then(|end| self.bytes.get(at..end)).ok_or_else(|| {
            Error::bad_data(
                self.what,
                format!("field at byte {at} (+{len}) lies past the end ({} bytes)", self.bytes.len()),
            )
        })
    }

    fn array<const N: usize>(&self, at: usize) -> Result<[u8; N]> {
        let s = self.slice(at, N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub fn u16(&self, at: usize) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(at)?))
    }
    pub fn u32(&self, at: usize) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(at)?))
    }
    pub fn i32(&self, at: usize) -> Result<i32> {
        Ok(i32::from_le_bytes(self.array(at)?))
    }
    pub fn u64(&self, at: usize) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(at)?))
    }
    pub fn i64(&self, at: usize) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array(at)?))
    }
    pub fn i64_be(&self, at: usize) -> Result<i64> {
        Ok(i64::from_be_bytes(self.array(at)?))
    }
}

/// A NUL-terminated (or full-width) C string field, lossily decoded.
pub(crate) fn c_string(bytes: &[u8]) -> String {
    let text = bytes.split(|&b| b == 0).next().unwrap_or(bytes);
    String::from_utf8_lossy(text).into_owned()
}

/// Converts a file-supplied 64-bit quantity to usize or says what overflowed.
pub(crate) fn to_usize(v: u64, what: &str) -> Result<usize> {
    usize::try_from(v).map_err(|_| Error::bad_data(what, format!("value {v:#x} does not fit in memory")))
}
