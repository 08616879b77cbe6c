//! kdump page bitmaps (bit n = pfn n, least significant bit first) with a
//! rank table so a page's descriptor index is found in constant time.

/// Words per rank block: rank(pfn) costs at most this many popcounts.
const WORDS_PER_BLOCK: usize = 8;

/// A page bitmap copied out of the dump, with prefix counts of set bits.
pub(crate) struct PageBitmap {
    words: Vec<u64>,
    /// Set bits before each block of `WORDS_PER_BLOCK` words.
    block_ranks: Vec<u64>,
    bits: u64,
}

impl PageBitmap {
    /// Builds from raw bitmap bytes covering `bits` pages.
    pub fn new(bytes: &[u8], bits: u64) -> PageBitmap {
        let words: Vec<u64> = bytes
            .chunks(8)
            .map(|c| {
                // The last chunk may be short; missing bytes read as zero.
                let mut w = [0u8; 8];
                for (dst, &src) in w.iter_mut().zip(c) {
                    *dst = src;
                }
                u64::from_le_bytes(w)
            })
            .collect();
        // A capacity hint only; `words.len()` is far below usize::MAX.
        let mut block_ranks = Vec::with_capacity((words.len() / WORDS_PER_BLOCK).saturating_add(1));
        let mut total = 0u64;
        for block in words.chunks(WORDS_PER_BLOCK) {
            block_ranks.push(total);
            // `total` counts set bits of an in-memory bitmap, so it stays below
            // 8 * bytes.len() and cannot overflow.
            total = total.saturating_add(popcount(block));
        }
        // A final entry so rank() at the very end needs no special case.
        block_ranks.push(total);
        // Saturating is right for a clamp: no in-memory bitmap has u64::MAX bits.
        PageBitmap { words, block_ranks, bits: bits.min((bytes.len() as u64).saturating_mul(8)) }
    }

    pub fn get(&self, pfn: u64) -> bool {
        if pfn >= self.bits {
            return false;
        }
        let word = self.words.get((pfn / 64) as usize).copied().unwrap_or(0);
        word >> (pfn % 64) & 1 == 1
    }

    /// Number of set bits below `pfn`.
    pub fn rank(&self, pfn: u64) -> u64 {
        let pfn = pfn.min(self.bits);
        let word_idx = (pfn / 64) as usize;
        let block = word_idx / WORDS_PER_BLOCK;
        let count = self.block_ranks.get(block).copied().unwrap_or(0);
        // block * WORDS_PER_BLOCK <= word_idx, so this cannot overflow.
        let first = block.saturating_mul(WORDS_PER_BLOCK);
        let whole = popcount(self.words.get(first..word_idx).unwrap_or(&[]));
        let bit = pfn % 64;
        let w = self.words.get(word_idx).copied().unwrap_or(0);
        // Bits below `bit` in the last word (none when bit == 0).
        let below = w & !u64::MAX.checked_shl(bit as u32).unwrap_or(0);
        // At most the bitmap's bit count in total: no overflow.
        count.saturating_add(whole).saturating_add(u64::from(below.count_ones()))
    }

    /// Maximal runs of set bits as half-open pfn ranges.
    pub fn runs(&self) -> Vec<(u64, u64)> {
        let mut runs = Vec::new();
        let mut start = None;
        for (i, &w) in self.words.iter().enumerate() {
            // Saturating: a saturated base is past `bits` and ends the walk.
            let base = (i as u64).saturating_mul(64);
            if base >= self.bits {
                break;
            }
            if (w == 0 && start.is_none()) || (w == u64::MAX && start.is_some()) {
                continue;
            }
            for b in 0..64 {
                // Saturating: base + b > bits only at the end, which stops the walk.
                let pfn = base.saturating_add(b);
                if pfn >= self.bits {
                    break;
                }
                match (w >> b & 1 == 1, start) {
                    (true, None) => start = Some(pfn),
                    (false, Some(s)) => {
                        runs.push((s, pfn));
                        start = None;
                    }
                    _ => {}
                }
            }
        }
        if let Some(s) = start {
            runs.push((s, self.bits));
        }
        runs
    }
}

/// Set bits in `words`; at most 64 * words.len(), which cannot overflow.
fn popcount(words: &[u64]) -> u64 {
    words.iter().map(|w| u64::from(w.count_ones())).fold(0u64, u64::saturating_add)
}

#[cfg(test)]
// Tests index the synthetic buffers they build; a panic there is a failed test.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn rank_matches_naive_count() {
        let bytes: Vec<u8> = (0..300u32).map(|i| (i.wrapping_mul(97) ^ (i >> 3)) as u8).collect();
        let bm = PageBitmap::new(&bytes, 2300);
        let mut naive = 0;
        for pfn in 0..2400 {
            assert_eq!(bm.rank(pfn), naive, "pfn {pfn}");
            if bm.get(pfn) {
                naive += 1;
            }
        }
        // Exactly one rank block long.
        let bm = PageBitmap::new(&bytes[..64], 512);
        let mut naive = 0;
        for pfn in 0..=600 {
            assert_eq!(bm.rank(pfn), naive, "pfn {pfn}");
            if bm.get(pfn) {
                naive += 1;
            }
        }
        let from_runs: u64 = bm.runs().iter().map(|(s, e)| e - s).sum();
        assert_eq!(from_runs, bm.rank(u64::MAX));
    }
}
