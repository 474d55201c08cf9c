//! The head's in-memory inverted index: for each label name, each value's
//! sorted list of series refs.

use std::collections::{HashMap, HashSet};

#[derive(Default)]
pub(crate) struct HeadPostings {
    by_name: HashMap<u32, HashMap<u32, Vec<u32>>>,
}

impl HeadPostings {
    /// Adds a series; refs must be added in increasing order per list, which
    /// holds because refs are handed out in increasing order.
    pub fn add(&mut self, series_ref: u32, labels: &[(u32, u32)]) {
        for &(name, value) in labels {
            let list = self
                .by_name
                .entry(name)
                .or_default()
                .entry(value)
                .or_default();
            match list.last() {
                Some(&last) if last >= series_ref => {
                    let at = list.partition_point(|&r| r < series_ref);
                    if list.get(at) != Some(&series_ref) {
                        list.insert(at, series_ref);
                    }
                }
                _ => list.push(series_ref),
            }
        }
    }

    /// Removes many series at once.
    pub fn remove(&mut self, removed: &HashSet<u32>) {
        for values in self.by_name.values_mut() {
            for list in values.values_mut() {
                list.retain(|r| !removed.contains(r));
            }
            values.retain(|_, list| !list.is_empty());
        }
        self.by_name.retain(|_, values| !values.is_empty());
    }

    pub fn get(&self, name: u32, value: u32) -> &[u32] {
        self.by_name
            .get(&name)
            .and_then(|v| v.get(&value))
            .map_or(&[], Vec::as_slice)
    }

    pub fn values(&self, name: u32) -> impl Iterator<Item = (u32, &[u32])> {
        self.by_name
            .get(&name)
            .into_iter()
            .flat_map(|v| v.iter().map(|(k, l)| (*k, l.as_slice())))
    }

    pub fn names(&self) -> impl Iterator<Item = u32> + '_ {
        self.by_name.keys().copied()
    }

    pub fn label_pair_count(&self) -> usize {
        self.by_name.values().map(HashMap::len).sum()
    }

    pub fn memory_bytes(&self) -> usize {
        self.by_name
            .values()
            .flat_map(|v| v.values())
            .map(|l| l.capacity() * 4 + 48)
            .sum()
    }
}
