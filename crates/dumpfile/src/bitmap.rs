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
                let mut w = [0u8; 8];
                w[..c.len()].copy_from_slice(c);
                u64::from_le_bytes(w)
            })
            .collect();
        let mut block_ranks = Vec::with_capacity(words.len() / WORDS_PER_BLOCK + 1);
        let mut total = 0u64;
        for block in words.chunks(WORDS_PER_BLOCK) {
            block_ranks.push(total);
            total += block.iter().map(|w| u64::from(w.count_ones())).sum::<u64>();
        }
        // A final entry so rank() at the very end needs no special case.
        block_ranks.push(total);
        PageBitmap { words, block_ranks, bits: bits.min(bytes.len() as u64 * 8) }
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
        let mut count = self.block_ranks.get(block).copied().unwrap_or(0);
        let first = block * WORDS_PER_BLOCK;
        for w in self.words.get(first..word_idx).unwrap_or(&[]) {
            count += u64::from(w.count_ones());
        }
        let bit = pfn % 64;
        if bit != 0 {
            let w = self.words.get(word_idx).copied().unwrap_or(0);
            count += u64::from((w & ((1u64 << bit) - 1)).count_ones());
        }
        count
    }

    /// Maximal runs of set bits as half-open pfn ranges.
    pub fn runs(&self) -> Vec<(u64, u64)> {
        let mut runs = Vec::new();
        let mut start = None;
        for (i, &w) in self.words.iter().enumerate() {
            let base = i as u64 * 64;
            if base >= self.bits {
                break;
            }
            if (w == 0 && start.is_none()) || (w == u64::MAX && start.is_some()) {
                continue;
            }
            for b in 0..64 {
                let pfn = base + b;
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

#[cfg(test)]
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
