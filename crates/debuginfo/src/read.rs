//! Panic-free little-endian reads from untrusted byte slices: every
//! accessor answers `None` where the bytes run out.

/// The `N` bytes at `at`.
pub(crate) fn array_at<const N: usize>(data: &[u8], at: usize) -> Option<[u8; N]> {
    data.get(at..)?.first_chunk::<N>().copied()
}

pub(crate) fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    array_at(data, at).map(u16::from_le_bytes)
}

pub(crate) fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    array_at(data, at).map(u32::from_le_bytes)
}

/// The first `N` little-endian u32 words of `data`.
pub(crate) fn u32_array<const N: usize>(data: &[u8]) -> Option<[u32; N]> {
    let mut out = [0u32; N];
    let mut words = u32s(data);
    for slot in &mut out {
        *slot = words.next()?;
    }
    Some(out)
}

/// Every whole `N`-byte chunk of `data` as an array (a partial tail is
/// dropped, as by `chunks_exact`).
pub(crate) fn arrays<const N: usize>(data: &[u8]) -> impl ExactSizeIterator<Item = [u8; N]> + '_ {
    const { assert!(N > 0, "chunks_exact(0) panics") };
    // `chunks_exact(N)` yields exactly N bytes, so `first_chunk` always
    // succeeds; the default is never used.
    data.chunks_exact(N).map(|c| c.first_chunk::<N>().copied().unwrap_or([0; N]))
}

/// Every whole little-endian u16 of `data`.
pub(crate) fn u16s(data: &[u8]) -> impl ExactSizeIterator<Item = u16> + '_ {
    arrays(data).map(u16::from_le_bytes)
}

/// Every whole little-endian u32 of `data`.
pub(crate) fn u32s(data: &[u8]) -> impl ExactSizeIterator<Item = u32> + '_ {
    arrays(data).map(u32::from_le_bytes)
}

/// The bytes before the first NUL; `None` when there is no NUL.
pub(crate) fn cstr(data: &[u8]) -> Option<&[u8]> {
    let end = data.iter().position(|&b| b == 0)?;
    data.get(..end)
}
