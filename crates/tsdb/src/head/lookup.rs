//! Label-set hash → series ref, as an open-addressing table of 16-byte slots
//! with linear probing. Written for the write path: a batch of a few
//! thousand series can prefetch each series' slot a few series ahead, so the
//! cache miss of a lookup overlaps with the work on earlier series.

/// One slot; key 0 means empty (real keys are never 0, see [`RefTable::key`]).
#[derive(Clone, Copy, Default)]
#[repr(C, align(16))]
struct Slot {
    key: u64,
    value: u32,
}

#[derive(Default)]
pub(crate) struct RefTable {
    slots: Vec<Slot>,
    len: usize,
}

impl RefTable {
    /// Keys are hashes; 0 is reserved for empty slots.
    fn key(hash: u64) -> u64 {
        if hash == 0 {
            1
        } else {
            hash
        }
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// Hints the CPU to load the slot where `hash` would be.
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        if self.slots.is_empty() {
            return;
        }
        let slot = &self.slots[Self::key(hash) as usize & self.mask()];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: prefetching is only a hint; the pointer is valid.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                (slot as *const Slot).cast::<i8>(),
            );
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = slot;
    }

    pub fn get(&self, hash: u64) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let key = Self::key(hash);
        let mask = self.mask();
        let mut i = key as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot.key == key {
                return Some(slot.value);
            }
            if slot.key == 0 {
                return None;
            }
            i = (i + 1) & mask;
        }
    }

    /// Inserts or replaces.
    pub fn insert(&mut self, hash: u64, value: u32) {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let key = Self::key(hash);
        let mask = self.mask();
        let mut i = key as usize & mask;
        loop {
            let slot = &mut self.slots[i];
            if slot.key == key {
                slot.value = value;
                return;
            }
            if slot.key == 0 {
                *slot = Slot { key, value };
                self.len += 1;
                return;
            }
            i = (i + 1) & mask;
        }
    }

    /// Removes `hash`, shifting later slots of its probe run back so
    /// lookups never stop early at the hole.
    pub fn remove(&mut self, hash: u64) {
        if self.slots.is_empty() {
            return;
        }
        let key = Self::key(hash);
        let mask = self.mask();
        let mut i = key as usize & mask;
        loop {
            if self.slots[i].key == key {
                break;
            }
            if self.slots[i].key == 0 {
                return;
            }
            i = (i + 1) & mask;
        }
        self.slots[i] = Slot::default();
        self.len -= 1;
        let mut hole = i;
        let mut j = (i + 1) & mask;
        while self.slots[j].key != 0 {
            let home = self.slots[j].key as usize & mask;
            // Move j into the hole if its home is not in (hole, j] cyclically.
            let between = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !between {
                self.slots[hole] = self.slots[j];
                self.slots[j] = Slot::default();
                hole = j;
            }
            j = (j + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let capacity = (self.slots.len() * 2).max(1024);
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); capacity]);
        self.len = 0;
        for slot in old.into_iter().filter(|s| s.key != 0) {
            self.insert(slot.key, slot.value);
        }
    }

    pub fn memory_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot>()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn behaves_like_a_hash_map(ops in prop::collection::vec((0u8..3, 0u64..64, any::<u32>()), 0..400)) {
            let mut table = RefTable::default();
            let mut model = HashMap::new();
            for (op, key, value) in ops {
                // Few distinct keys with clustered low bits make long probe runs.
                let hash = key << 3;
                match op {
                    0 => { table.insert(hash, value); model.insert(hash, value); }
                    1 => { table.remove(hash); model.remove(&hash); }
                    _ => {}
                }
                for k in 0..64u64 {
                    prop_assert_eq!(table.get(k << 3), model.get(&(k << 3)).copied());
                }
            }
        }
    }
}
