//! The hasher of hot-path maps keyed by what clients send.
//!
//! The standard library's SipHash is keyed at random per process, which
//! keeps anyone from choosing keys that collide, but it costs several times
//! more than aHash on short keys such as session ids and label values.
//! [`FastHashState`] is aHash keyed from the standard library's random
//! keys: as hard to attack from outside, at aHash's speed.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;

/// A `HashMap` with [`FastHashState`].
pub type FastHashMap<K, V> = HashMap<K, V, FastHashState>;

/// Builds aHash hashers whose four keys come from a standard-library
/// `RandomState` (itself seeded by the operating system).
#[derive(Clone, Debug)]
pub struct FastHashState(ahash::RandomState);

impl FastHashState {
    /// A state with fresh random keys.
    pub fn new() -> FastHashState {
        let random = RandomState::new();
        let key = |part: u64| random.hash_one(part);
        FastHashState(ahash::RandomState::with_seeds(
            key(0),
            key(1),
            key(2),
            key(3),
        ))
    }
}

impl Default for FastHashState {
    fn default() -> FastHashState {
        FastHashState::new()
    }
}

impl BuildHasher for FastHashState {
    type Hasher = ahash::AHasher;

    fn build_hasher(&self) -> ahash::AHasher {
        self.0.build_hasher()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_states_hash_the_same_key_differently() {
        let (a, b) = (FastHashState::new(), FastHashState::new());
        let key = "session-0001";
        assert_eq!(a.hash_one(key), a.hash_one(key));
        // 2^-64 odds of a false failure.
        assert_ne!(a.hash_one(key), b.hash_one(key));
    }

    #[test]
    fn a_map_with_it_finds_what_it_holds() {
        let mut map: FastHashMap<String, u32> = FastHashMap::default();
        for i in 0..1000 {
            map.insert(format!("id-{i}"), i);
        }
        assert_eq!(map.get("id-417"), Some(&417));
        assert_eq!(map.get("id-1000"), None);
        assert_eq!(map.len(), 1000);
    }
}
