//! A typed cache: each subsystem keeps what it read under a type of its
//! own, so the program core never names a subsystem's types (drgn keeps
//! helper state the same way, beside the program rather than inside it).
//!
//! A slot is keyed by the Rust type stored in it, so callers cache a type
//! private to them (a newtype), never a bare `Vec<String>` another module
//! might also use. Values are computed once, on first use, and borrowed
//! for as long as the cache lives.

use std::any::{Any, TypeId};
use std::hash::BuildHasher;
use std::sync::OnceLock;

use elsa::sync::FrozenMap;

/// Slots of the lock-free table: more than the kinds of value krash caches
/// (about 40), so a lookup probes one or two.
const SLOTS: usize = 128;

/// One filled slot: the type it holds and its `OnceLock<T>`.
struct Slot {
    id: TypeId,
    value: Box<dyn Any + Send + Sync>,
}

/// Slots of any type, each filled at most once.
///
/// Read on every frame of every backtrace from all cores, so a lookup takes
/// no lock: an open-addressed table of write-once cells (a cell, once it
/// names a type, names it for good, so linear probing needs no deletion).
/// A type that finds the table full goes to a locked map instead.
pub struct TypedCache {
    slots: Box<[OnceLock<Slot>]>,
    overflow: FrozenMap<TypeId, Box<dyn Any + Send + Sync>>,
    /// One hasher for the cache's life: a type's cells must not move.
    hasher: hashbrown::DefaultHashBuilder,
}

impl Default for TypedCache {
    fn default() -> Self {
        TypedCache {
            slots: (0..SLOTS).map(|_| OnceLock::new()).collect(),
            overflow: FrozenMap::new(),
            hasher: hashbrown::DefaultHashBuilder::default(),
        }
    }
}

impl TypedCache {
    /// The value of type `T`, computed by `init` on first use. `init` may
    /// use the cache for other types; asking for `T` again inside it
    /// deadlocks, as any lazy cycle would.
    pub fn get_or_init<T: Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> &T {
        self.slot::<T>().get_or_init(init)
    }

    /// The value of type `T` if it was computed already.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<&T> {
        let id = TypeId::of::<T>();
        let found = self
            .probe(id)
            .map_while(OnceLock::get)
            .find(|slot| slot.id == id)
            .map(|slot| slot.value.as_ref())
            .or_else(|| self.overflow.get(&id));
        found.and_then(|value| value.downcast_ref::<OnceLock<T>>()).and_then(OnceLock::get)
    }

    /// The cells a type's lookup visits, in order.
    fn probe(&self, id: TypeId) -> impl Iterator<Item = &OnceLock<Slot>> {
        let start = (self.hasher.hash_one(id) as usize) % SLOTS;
        self.slots.iter().skip(start).chain(self.slots.iter().take(start))
    }

    fn slot<T: Any + Send + Sync>(&self) -> &OnceLock<T> {
        let id = TypeId::of::<T>();
        // The first cell that holds T, or the first empty one, claimed for
        // T. Two threads claiming one cell for two types: one wins and the
        // other probes on.
        let claimed = self
            .probe(id)
            .map(|cell| cell.get_or_init(|| Slot { id, value: Box::new(OnceLock::<T>::new()) }))
            .find(|slot| slot.id == id)
            .map(|slot| slot.value.as_ref());
        let value = match claimed.or_else(|| self.overflow.get(&id)) {
            Some(value) => value,
            // Two threads may race here; the map keeps the first insert.
            None => self.overflow.insert(id, Box::new(OnceLock::<T>::new())),
        };
        match value.downcast_ref::<OnceLock<T>>() {
            Some(slot) => slot,
            None => unreachable!("a typed-cache slot is keyed by the TypeId of what it holds"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Tasks(Vec<u32>);
    #[derive(Debug, PartialEq)]
    struct Problems(Vec<u32>);

    #[test]
    fn one_slot_per_type_computed_once() {
        let cache = TypedCache::default();
        assert_eq!(cache.get::<Tasks>(), None);
        let mut calls = 0;
        assert_eq!(
            cache.get_or_init(|| {
                calls += 1;
                Tasks(vec![1, 2])
            }),
            &Tasks(vec![1, 2])
        );
        assert_eq!(cache.get_or_init(|| Tasks(vec![9])), &Tasks(vec![1, 2]));
        assert_eq!(calls, 1);
        // Same shape, other type: its own slot.
        assert_eq!(cache.get_or_init(|| Problems(vec![7])), &Problems(vec![7]));
        assert_eq!(cache.get::<Tasks>(), Some(&Tasks(vec![1, 2])));
    }

    #[test]
    fn more_types_than_slots_all_keep_their_values() {
        struct Nth<const N: usize>(usize);
        let cache = TypedCache::default();
        macro_rules! fill {
            ($($n:literal)*) => { $( assert_eq!(cache.get_or_init(|| Nth::<$n>($n)).0, $n); )* };
        }
        macro_rules! check {
            ($($n:literal)*) => { $( assert_eq!(cache.get::<Nth<$n>>().map(|v| v.0), Some($n)); )* };
        }
        // 130 types: the table's 128 cells, then the locked map.
        fill!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36
              37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70
              71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89 90 91 92 93 94 95 96 97 98 99 100 101 102 103
              104 105 106 107 108 109 110 111 112 113 114 115 116 117 118 119 120 121 122 123 124 125 126 127 128 129);
        check!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36
               37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70
               71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89 90 91 92 93 94 95 96 97 98 99 100 101 102 103
               104 105 106 107 108 109 110 111 112 113 114 115 116 117 118 119 120 121 122 123 124 125 126 127 128 129);
        assert!(cache.get::<Nth<130>>().is_none());
        assert_eq!(cache.slots.iter().filter(|c| c.get().is_some()).count(), SLOTS);
    }

    #[test]
    fn threads_racing_for_one_type_share_one_value() {
        #[derive(Debug)]
        struct Once(usize);
        let cache = TypedCache::default();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let seen: Vec<usize> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let (cache, calls) = (&cache, &calls);
                    s.spawn(move || {
                        cache
                            .get_or_init(|| {
                                calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                                Once(i)
                            })
                            .0
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(usize::MAX)).collect()
        });
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
    }

    #[test]
    fn init_may_use_other_slots() {
        let cache = TypedCache::default();
        let t = cache.get_or_init(|| Tasks(vec![cache.get_or_init(|| Problems(vec![3])).0[0]]));
        assert_eq!(t, &Tasks(vec![3]));
    }
}
