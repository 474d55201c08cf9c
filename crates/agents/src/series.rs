//! One family's series: label values → value. A series is found from its
//! borrowed label values with one keyed hash and no allocation (every event
//! looks up several): the values are packed into a reused buffer, hashed in
//! one call and compared with the series' own packed values in one
//! comparison; its keys are allocated once, when the series is created,
//! and shared: [`Series::snapshot`] copies the values out (for rendering
//! outside the registry's lock) without copying a key.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::Arc;

use agentmon_model::FastHashState;

use crate::registry::Value;

/// Label values (in the family's order, `agent` and `instance` first) →
/// value.
#[derive(Debug, Default)]
pub(crate) struct Series {
    entries: Vec<Entry>,
    /// Keyed hash of the label values → the first entry with that hash.
    index: HashMap<u64, usize, BuildHasherDefault<Passthrough>>,
    hasher: FastHashState,
    /// The label values of the lookup under way, packed like
    /// [`Entry::packed`].
    scratch: Vec<u8>,
}

#[derive(Debug)]
struct Entry {
    key: Arc<[String]>,
    /// The label values each followed by 0xff (a byte UTF-8 never holds),
    /// in one allocation, for the comparison of a lookup.
    packed: Box<[u8]>,
    /// The next entry with the same hash.
    next: Option<usize>,
    value: Value,
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
        let slot = self.slot(head, tail, make);
        &mut self.entries[slot].value
    }

    /// The slot of the series whose label values are `head` then `tail`
    /// (created by `make` if there is none): its place, which stays its
    /// own until [`Series::truncate`] removes it.
    pub(crate) fn slot(
        &mut self,
        head: &[&str],
        tail: &[&str],
        make: impl FnOnce() -> Value,
    ) -> usize {
        pack(&mut self.scratch, head, tail);
        let hash = self.hasher.hash_one(self.scratch.as_slice());
        if let Some(slot) = self.find(&self.scratch, hash) {
            return slot;
        }
        let first = self.index.get(&hash).copied();
        let key: Arc<[String]> = head.iter().chain(tail).map(|s| (*s).to_owned()).collect();
        self.entries.push(Entry {
            key,
            packed: self.scratch.as_slice().into(),
            next: first,
            value: make(),
        });
        let slot = self.entries.len() - 1;
        self.index.insert(hash, slot);
        slot
    }

    /// The value in `slot` (from [`Series::slot`]).
    pub(crate) fn at_mut(&mut self, slot: usize) -> Option<&mut Value> {
        self.entries.get_mut(slot).map(|entry| &mut entry.value)
    }

    /// Removes the series created after there were `len`, newest first:
    /// each was the head of its hash's chain when made, so the chain goes
    /// back to what it was.
    pub(crate) fn truncate(&mut self, len: usize) {
        while self.entries.len() > len {
            let Some(entry) = self.entries.pop() else {
                break;
            };
            let hash = self.hasher.hash_one(&*entry.packed);
            match entry.next {
                Some(next) => {
                    self.index.insert(hash, next);
                }
                None => {
                    self.index.remove(&hash);
                }
            }
        }
    }

    /// Whether the series with these label values exists.
    pub(crate) fn contains(&self, labels: &[&str]) -> bool {
        let mut packed = Vec::new();
        pack(&mut packed, labels, &[]);
        self.find(&packed, self.hasher.hash_one(packed.as_slice()))
            .is_some()
    }

    /// The slot of the series with these packed label values (whose hash
    /// is `hash`), walking the chain of entries with that hash.
    fn find(&self, packed: &[u8], hash: u64) -> Option<usize> {
        let mut at = self.index.get(&hash).copied();
        while let Some(slot) = at {
            if *self.entries[slot].packed == *packed {
                return Some(slot);
            }
            at = self.entries[slot].next;
        }
        None
    }

    /// Every series' label values and value, in no order.
    pub(crate) fn snapshot(&self) -> Snapshot {
        self.entries
            .iter()
            .map(|entry| (Arc::clone(&entry.key), entry.value.clone()))
            .collect()
    }
}

/// A family's series as [`Series::snapshot`] copies them out.
pub(crate) type Snapshot = Vec<(Arc<[String]>, Value)>;

/// Packs label values into `out`: each followed by 0xff, a byte UTF-8
/// never holds, so ["ab", "c"] and ["a", "bc"] differ.
fn pack(out: &mut Vec<u8>, head: &[&str], tail: &[&str]) {
    out.clear();
    for part in head.iter().chain(tail) {
        out.extend_from_slice(part.as_bytes());
        out.push(0xff);
    }
}

/// The index's hasher: its keys are already keyed hash values.
#[derive(Debug, Default)]
struct Passthrough(u64);

impl Hasher for Passthrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_label_values_keep_their_boundaries() {
        let packed = |head: &[&str], tail: &[&str]| {
            let mut out = Vec::new();
            pack(&mut out, head, tail);
            out
        };
        assert_eq!(packed(&["ab"], &["c"]), b"ab\xffc\xff");
        assert_eq!(packed(&["ab"], &["c"]), packed(&["ab", "c"], &[]));
        assert_ne!(packed(&["a"], &["bc"]), packed(&["ab", "c"], &[]));
        assert_ne!(packed(&["ab", "c", ""], &[]), packed(&["ab", "c"], &[]));
        assert_eq!(packed(&[""], &[]), b"\xff");
        assert!(packed(&[], &[]).is_empty());
    }

    #[test]
    fn truncate_forgets_the_newest_series_and_keeps_the_rest_found() {
        let mut series = Series::default();
        let a = series.slot(&["a"], &[], || Value::Scalar(1.0));
        let kept = series.len();
        let b = series.slot(&["b"], &[], || Value::Scalar(2.0));
        assert_ne!(a, b);
        series.truncate(kept);
        assert_eq!(series.len(), 1);
        assert!(series.contains(&["a"]));
        assert!(!series.contains(&["b"]));
        assert_eq!(series.slot(&["a"], &[], || Value::Scalar(9.0)), a);
        // Made again, it starts from `make`, not from the forgotten value.
        let again = series.slot(&["b"], &[], || Value::Scalar(5.0));
        assert_eq!(series.at_mut(again), Some(&mut Value::Scalar(5.0)));
    }

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
        let mut snapshot = series.snapshot();
        snapshot.sort_by(|a, b| a.0.cmp(&b.0));
        let sorted: Vec<(Vec<&str>, f64)> = snapshot
            .iter()
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
