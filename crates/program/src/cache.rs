//! A typed cache: each subsystem keeps what it read under a type of its
//! own, so the program core never names a subsystem's types (drgn keeps
//! helper state the same way, beside the program rather than inside it).
//!
//! A slot is keyed by the Rust type stored in it, so callers cache a type
//! private to them (a newtype), never a bare `Vec<String>` another module
//! might also use. Values are computed once, on first use, and borrowed
//! for as long as the cache lives.

use std::any::{Any, TypeId};
use std::sync::OnceLock;

use elsa::sync::FrozenMap;

/// Slots of any type, each filled at most once.
#[derive(Default)]
pub struct TypedCache {
    slots: FrozenMap<TypeId, Box<dyn Any + Send + Sync>>,
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
        self.slots.get(&TypeId::of::<T>()).and_then(|slot| slot.downcast_ref::<OnceLock<T>>()).and_then(OnceLock::get)
    }

    fn slot<T: Any + Send + Sync>(&self) -> &OnceLock<T> {
        let id = TypeId::of::<T>();
        let slot = match self.slots.get(&id) {
            Some(slot) => slot,
            // Two threads may race here; the map keeps the first insert.
            None => self.slots.insert(id, Box::new(OnceLock::<T>::new())),
        };
        match slot.downcast_ref::<OnceLock<T>>() {
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
    fn init_may_use_other_slots() {
        let cache = TypedCache::default();
        let t = cache.get_or_init(|| Tasks(vec![cache.get_or_init(|| Problems(vec![3])).0[0]]));
        assert_eq!(t, &Tasks(vec![3]));
    }
}
