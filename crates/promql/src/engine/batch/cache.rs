//! The rollup cache: batched aggregations' values per step, kept across
//! queries so a dashboard that asks the same range query again (or the same
//! query a little later) recomputes only the steps whose data changed.
//!
//! An entry is keyed by the aggregation's text, the step and the steps'
//! phase (start modulo step), and holds each step's per-group values with
//! the store's generation taken before they were read. Before an entry is
//! used, the store says the oldest sample time changed since that
//! generation (appends, deletions); a change at time `c` can alter only
//! steps at or after `c` (their windows end at the step time), so those are
//! dropped and recomputed, and everything before is exact. Only selectors
//! without `offset` or `@` are cached, so a step's window ends at the step.
//!
//! The cache holds at most [`crate::EngineOptions::rollup_cache_values`]
//! values; past that, the oldest entries go first.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use agentmon_model::Labels;
use rustc_hash::FxHashMap;

/// What an entry is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey {
    /// The aggregation expression as text.
    pub expr: String,
    pub step: i64,
    /// The step times modulo the step.
    pub phase: i64,
}

/// One aggregation's values at the steps computed so far.
#[derive(Debug, Default)]
pub(crate) struct Entry {
    /// The store's generation taken before the values were read.
    pub generation: u64,
    pub groups: Vec<Labels>,
    index: FxHashMap<Labels, u32>,
    /// Step time → (group, value) of the groups present at that step.
    pub steps: BTreeMap<i64, Vec<(u32, f64)>>,
    values: usize,
}

impl Entry {
    /// The group number of `labels`, adding it if new.
    pub fn group(&mut self, labels: &Labels) -> u32 {
        if let Some(&g) = self.index.get(labels) {
            return g;
        }
        let g = self.groups.len() as u32;
        self.groups.push(labels.clone());
        self.index.insert(labels.clone(), g);
        g
    }

    /// Records the values at step `t`, replacing what was there.
    pub fn set_step(&mut self, t: i64, values: Vec<(u32, f64)>) {
        self.values += values.len();
        if let Some(old) = self.steps.insert(t, values) {
            self.values -= old.len();
        }
    }

    /// Drops the steps at or after `t`.
    pub fn forget_from(&mut self, t: i64) {
        let dropped = self.steps.split_off(&t);
        self.values -= dropped.values().map(Vec::len).sum::<usize>();
    }
}

/// The cache shared by the queries of one engine.
#[derive(Debug, Default)]
pub(crate) struct RollupCache {
    /// Steps answered from the cache so far (for tests and diagnostics).
    pub reused_steps: u64,
    entries: HashMap<CacheKey, Entry>,
    /// Keys, oldest insertion first, for eviction.
    order: VecDeque<CacheKey>,
    values: usize,
}

impl RollupCache {
    /// Takes the entry for `key` out (the caller works on it without the
    /// lock and puts it back with [`RollupCache::put`]).
    pub fn take(&mut self, key: &CacheKey) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        self.values -= entry.values;
        self.order.retain(|k| k != key);
        Some(entry)
    }

    /// Stores `entry`, then evicts the oldest entries beyond `capacity`
    /// values (the new one included, if it alone is too big).
    pub fn put(&mut self, key: CacheKey, entry: Entry, capacity: usize) {
        if let Some(old) = self.entries.remove(&key) {
            self.values -= old.values;
            self.order.retain(|k| k != &key);
        }
        self.values += entry.values;
        self.entries.insert(key.clone(), entry);
        self.order.push_back(key);
        while self.values > capacity {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(gone) = self.entries.remove(&oldest) {
                self.values -= gone.values;
            }
        }
    }
}

/// A query's way to the engine's cache: the cache, the store's generation
/// taken when the query began (before it read anything) and the capacity.
#[derive(Debug, Clone)]
pub(crate) struct RollupHandle {
    pub cache: Arc<Mutex<RollupCache>>,
    pub generation: u64,
    pub capacity: usize,
}

impl RollupHandle {
    /// Takes the entry for `key` out of the cache, if there is one.
    pub fn take(&self, key: &CacheKey) -> Option<Entry> {
        self.cache.lock().ok()?.take(key)
    }

    /// Puts `entry` (back) into the cache, counting `reused` steps as
    /// answered from it.
    pub fn put(&self, key: CacheKey, entry: Entry, reused: usize) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.reused_steps += reused as u64;
            cache.put(key, entry, self.capacity);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(expr: &str) -> CacheKey {
        CacheKey {
            expr: expr.to_owned(),
            step: 15_000,
            phase: 0,
        }
    }

    #[test]
    fn entries_count_their_values_and_forget_later_steps() {
        let mut e = Entry::default();
        let g = e.group(&Labels::default());
        assert_eq!(e.group(&Labels::default()), g);
        e.set_step(0, vec![(g, 1.0)]);
        e.set_step(15_000, vec![(g, 2.0)]);
        e.set_step(30_000, vec![(g, 3.0)]);
        e.forget_from(15_000);
        assert_eq!(e.steps.keys().copied().collect::<Vec<_>>(), [0]);
        assert_eq!(e.values, 1);
    }

    #[test]
    fn the_oldest_entries_are_evicted_past_capacity() {
        let mut cache = RollupCache::default();
        for (i, name) in ["a", "b", "c"].into_iter().enumerate() {
            let mut e = Entry::default();
            e.set_step(i as i64, vec![(0, 1.0), (1, 2.0)]);
            cache.put(key(name), e, 4);
        }
        assert!(cache.take(&key("a")).is_none());
        assert!(cache.take(&key("b")).is_some());
        assert!(cache.take(&key("c")).is_some());
        assert_eq!(cache.values, 0);
    }
}
