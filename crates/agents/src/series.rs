//! One family's series: label values → value. A series is found from its
//! borrowed label values with one hash and no allocation (every event looks
//! up several); its key is allocated once, when the series is created.
//! [`Series::sorted`] lists the series in label order, for rendering.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use crate::registry::Value;

/// Label values (in the family's order, `agent` and `instance` first) →
/// value.
#[derive(Debug, Default)]
pub(crate) struct Series {
    entries: Vec<(Vec<String>, Value)>,
    /// Hash of the label values → indices into `entries` with that hash.
    index: HashMap<u64, Vec<usize>>,
    hasher: RandomState,
}

impl Series {
    /// How many series there are.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The value of the series whose label values are `head` then `tail`,
    /// created by `make` if there is none.
    pub(crate) fn value_mut(
        &mut self,
        head: &[&str],
        tail: &[&str],
        make: impl FnOnce() -> Value,
    ) -> &mut Value {
        let hash = self.hash(head, tail);
        let found = self
            .index
            .get(&hash)
            .and_then(|slots| slots.iter().copied().find(|&i| self.is(i, head, tail)));
        let slot = match found {
            Some(slot) => slot,
            None => {
                let key: Vec<String> = head
                    .iter()
                    .chain(tail)
                    .map(|s| (*s).to_owned())
                    .collect();
                self.entries.push((key, make()));
                let slot = self.entries.len() - 1;
                self.index.entry(hash).or_default().push(slot);
                slot
            }
        };
        &mut self.entries[slot].1
    }

    /// Whether the series with these label values exists.
    pub(crate) fn contains(&self, labels: &[&str]) -> bool {
        let hash = self.hash(labels, &[]);
        self.index
            .get(&hash)
            .is_some_and(|slots| slots.iter().any(|&i| self.is(i, labels, &[])))
    }

    /// Every series, by label values.
    pub(crate) fn sorted(&self) -> Vec<(&[String], &Value)> {
        let mut all: Vec<(&[String], &Value)> = self
            .entries
            .iter()
            .map(|(key, value)| (key.as_slice(), value))
            .collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all
    }

    fn hash(&self, head: &[&str], tail: &[&str]) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        for part in head.iter().chain(tail) {
            hasher.write(part.as_bytes());
            // A separator no UTF-8 text holds, so ["ab", "c"] ≠ ["a", "bc"].
            hasher.write_u8(0xff);
        }
        hasher.finish()
    }

    fn is(&self, slot: usize, head: &[&str], tail: &[&str]) -> bool {
        let key = &self.entries[slot].0;
        key.len() == head.len() + tail.len()
            && key
                .iter()
                .zip(head.iter().chain(tail))
                .all(|(have, want)| have == want)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_creates_and_sorts_series() {
        let mut series = Series::default();
        *series.value_mut(&["b", "x"], &["1"], || Value::Scalar(0.0)) = Value::Scalar(2.0);
        *series.value_mut(&["a"], &["x", "1"], || Value::Scalar(0.0)) = Value::Scalar(1.0);
        // The same label values split differently are the same series.
        let again = series.value_mut(&["b"], &["x", "1"], || Value::Scalar(-1.0));
        assert_eq!(*again, Value::Scalar(2.0));
        // Concatenations that agree as text are different series.
        series.value_mut(&["bx"], &["1"], || Value::Scalar(3.0));
        series.value_mut(&["b", "x1"], &[], || Value::Scalar(4.0));
        assert_eq!(series.len(), 4);
        assert!(series.contains(&["a", "x", "1"]));
        assert!(!series.contains(&["a", "x"]));
        let sorted: Vec<(Vec<&str>, f64)> = series
            .sorted()
            .into_iter()
            .map(|(key, value)| {
                let Value::Scalar(v) = value else {
                    panic!("not a scalar")
                };
                (key.iter().map(String::as_str).collect(), *v)
            })
            .collect();
        assert_eq!(
            sorted,
            vec![
                (vec!["a", "x", "1"], 1.0),
                (vec!["b", "x", "1"], 2.0),
                (vec!["b", "x1"], 4.0),
                (vec!["bx", "1"], 3.0),
            ]
        );
    }
}
