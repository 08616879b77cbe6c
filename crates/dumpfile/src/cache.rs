//! A small sharded cache of decompressed pages. Readers touching nearby
//! addresses (struct walks, stack unwinding) hit the same pages over and
//! over; a hit copies out under a shard lock without allocating.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;

const SHARDS: usize = 16;
/// Total cache budget; with 4 KiB pages this is 2048 pages.
const BUDGET_BYTES: usize = 8 << 20;

/// Page frame numbers are already well spread; one multiply mixes them
/// enough and is far cheaper than SipHash on the hot path.
#[derive(Default)]
struct PfnHasher(u64);

impl Hasher for PfnHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type PfnMap = HashMap<u64, usize, BuildHasherDefault<PfnHasher>>;

struct Slot {
    pfn: u64,
    page: Box<[u8]>,
    referenced: bool,
}

/// One shard: CLOCK replacement over a fixed number of slots.
#[derive(Default)]
struct Shard {
    index: PfnMap,
    slots: Vec<Slot>,
    hand: usize,
}

/// Thread-safe pfn → page contents cache.
pub(crate) struct PageCache {
    shards: Vec<Mutex<Shard>>,
    slots_per_shard: usize,
}

impl PageCache {
    pub fn new(page_size: usize) -> PageCache {
        let pages = BUDGET_BYTES.checked_div(page_size).unwrap_or(BUDGET_BYTES);
        let slots_per_shard = (pages / SHARDS).max(4);
        PageCache { shards: (0..SHARDS).map(|_| Mutex::default()).collect(), slots_per_shard }
    }

    fn shard(&self, pfn: u64) -> Option<&Mutex<Shard>> {
        // There are always SHARDS shards, so this finds one.
        pfn.checked_rem(SHARDS as u64).and_then(|i| self.shards.get(i as usize))
    }

    /// Copies `out.len()` bytes from `offset` of the cached page; false on a miss.
    pub fn copy_out(&self, pfn: u64, offset: usize, out: &mut [u8]) -> bool {
        let Some(shard) = self.shard(pfn) else { return false };
        let mut shard = match shard.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        let Some(&i) = shard.index.get(&pfn) else { return false };
        let Some(slot) = shard.slots.get_mut(i) else { return false };
        let Some(src) = offset.checked_add(out.len()).and_then(|end| slot.page.get(offset..end)) else {
            return false;
        };
        out.copy_from_slice(src);
        slot.referenced = true;
        true
    }

    pub fn insert(&self, pfn: u64, page: Box<[u8]>) {
        let Some(shard) = self.shard(pfn) else { return };
        let mut guard = match shard.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        let shard = &mut *guard;
        if let Some(&i) = shard.index.get(&pfn) {
            if let Some(slot) = shard.slots.get_mut(i) {
                slot.page = page;
            }
            return;
        }
        if shard.slots.len() < self.slots_per_shard {
            shard.index.insert(pfn, shard.slots.len());
            shard.slots.push(Slot { pfn, page, referenced: false });
            return;
        }
        // CLOCK: give referenced pages a second chance; bounded by two sweeps.
        let n = shard.slots.len();
        for _ in 0..n.saturating_mul(2) {
            // The hand runs over 0..n and wraps to the first slot.
            let i = if shard.hand < n { shard.hand } else { 0 };
            // i < n, so this cannot overflow.
            shard.hand = i.saturating_add(1);
            let Some(slot) = shard.slots.get_mut(i) else { return };
            if slot.referenced {
                slot.referenced = false;
                continue;
            }
            let old = slot.pfn;
            *slot = Slot { pfn, page, referenced: false };
            shard.index.remove(&old);
            shard.index.insert(pfn, i);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_and_serves() {
        let cache = PageCache::new(1 << 20); // 4 slots per shard
        for pfn in 0..200u64 {
            cache.insert(pfn, vec![pfn as u8; 16].into_boxed_slice());
        }
        let mut b = [0u8; 4];
        assert!(cache.copy_out(199, 2, &mut b));
        assert_eq!(b, [199; 4]);
        assert!(!cache.copy_out(0, 0, &mut b));
        assert!(!cache.copy_out(199, 14, &mut b));
    }
}
