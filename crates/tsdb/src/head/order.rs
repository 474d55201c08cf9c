//! The label order of the head's series, kept as a rank per series ref so a
//! query can return its selected series sorted by labels by comparing
//! integers instead of label strings.
//!
//! A [`SeriesOrder`] is a snapshot: the rank of every series that existed
//! when it was built, in the order of their label sets. Labels of a series
//! never change and refs are never reused for other labels, so a snapshot
//! stays true for the series it ranks; series created after it are
//! unranked and compared by their labels (through the symbol table, without
//! building owned labels). The head rebuilds the snapshot when the unranked
//! series grow past a share of the ranked ones, so the string comparisons
//! stay few and the rebuilds (a sort of every series) amortised.

use std::cmp::Ordering;
use std::sync::Arc;

use super::series::MemSeries;
use super::symbols::Symbols;

/// The rank of a series the snapshot does not know.
const UNRANKED: u32 = u32::MAX;

/// Ranks of the head's series by label order, indexed by series ref.
#[derive(Debug, Default)]
pub(crate) struct SeriesOrder {
    rank: Vec<u32>,
    /// How many series have a rank.
    ranked: usize,
}

impl SeriesOrder {
    /// Ranks the series of `table` (indexed by ref) by their labels.
    pub fn build(table: &[Option<Arc<MemSeries>>], symbols: &Symbols) -> SeriesOrder {
        let mut refs: Vec<u32> = table
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_some())
            .map(|(i, _)| i as u32)
            .collect();
        let labels_of =
            |r: u32| -> &[(u32, u32)] { table[r as usize].as_ref().map_or(&[], |s| &s.labels[..]) };
        refs.sort_unstable_by(|&a, &b| compare_labels(labels_of(a), labels_of(b), symbols));
        let mut rank = vec![UNRANKED; table.len()];
        for (i, &r) in refs.iter().enumerate() {
            rank[r as usize] = i as u32;
        }
        SeriesOrder {
            rank,
            ranked: refs.len(),
        }
    }

    /// How many series this snapshot ranks.
    pub fn ranked(&self) -> usize {
        self.ranked
    }

    /// How many refs the snapshot covers: series created later have refs
    /// at or past this.
    pub fn covered(&self) -> usize {
        self.rank.len()
    }

    /// Bytes held: 4 per series ref.
    pub fn memory_bytes(&self) -> usize {
        self.rank.capacity() * std::mem::size_of::<u32>()
    }

    fn rank_of(&self, series_ref: u32) -> u32 {
        self.rank
            .get(series_ref as usize)
            .copied()
            .unwrap_or(UNRANKED)
    }

    /// Sorts `series` (ref and series) by their label sets: by rank where
    /// every one is ranked, else ranked ones by rank and any pair involving
    /// an unranked one by labels, which is the same order because ranks
    /// follow label order.
    pub fn sort(&self, series: &mut [(u32, Arc<MemSeries>)], symbols: &Symbols) {
        if series.iter().all(|(r, _)| self.rank_of(*r) != UNRANKED) {
            series.sort_unstable_by_key(|(r, _)| self.rank_of(*r));
            return;
        }
        series.sort_unstable_by(
            |(ra, a), (rb, b)| match (self.rank_of(*ra), self.rank_of(*rb)) {
                (UNRANKED, _) | (_, UNRANKED) => compare_labels(&a.labels, &b.labels, symbols),
                (x, y) => x.cmp(&y),
            },
        );
    }
}

/// Compares two interned label sets as [`agentmon_model::Labels`] orders
/// them: pair by pair, name then value, a prefix first.
pub(crate) fn compare_labels(a: &[(u32, u32)], b: &[(u32, u32)], symbols: &Symbols) -> Ordering {
    for (&(an, av), &(bn, bv)) in a.iter().zip(b) {
        let by_name = if an == bn {
            Ordering::Equal
        } else {
            symbols.get(an).cmp(symbols.get(bn))
        };
        if by_name != Ordering::Equal {
            return by_name;
        }
        if av != bv {
            let by_value = symbols.get(av).cmp(symbols.get(bv));
            if by_value != Ordering::Equal {
                return by_value;
            }
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use agentmon_model::{LabelRef, Labels};
    use proptest::prelude::*;

    use super::*;

    fn interned(labels: &Labels, symbols: &mut Symbols) -> Box<[(u32, u32)]> {
        labels
            .iter()
            .map(|l| (symbols.intern(&l.name), symbols.intern(&l.value)))
            .collect()
    }

    fn label_set() -> impl Strategy<Value = Labels> {
        // Few names and values so equal prefixes and equal sets are common.
        prop::collection::btree_map("[a-c]{1,2}", "[x-z]{1,2}", 0..4).prop_map(|pairs| {
            let refs: Vec<LabelRef<'_>> = pairs
                .iter()
                .map(|(n, v)| LabelRef::new(n.as_str(), v.as_str()))
                .collect();
            Labels::from_refs(&refs)
        })
    }

    proptest! {
        /// Whatever mix of ranked and unranked series (distinct label sets,
        /// as in the head), the order is the order of their owned labels.
        #[test]
        fn sorts_as_owned_labels_do(
            sets in prop::collection::btree_set(label_set(), 1..40)
                .prop_map(|s| s.into_iter().collect::<Vec<_>>())
                .prop_shuffle(),
            ranked_prefix in 0usize..40,
        ) {
            let mut symbols = Symbols::default();
            let all: Vec<Arc<MemSeries>> = sets
                .iter()
                .map(|l| Arc::new(MemSeries::new(interned(l, &mut symbols), 0, 0)))
                .collect();
            let cut = ranked_prefix.min(all.len());
            // The snapshot knows only the first `cut` series.
            let known: Vec<Option<Arc<MemSeries>>> = all[..cut].iter().cloned().map(Some).collect();
            let order = SeriesOrder::build(&known, &symbols);
            prop_assert_eq!(order.ranked(), cut);
            let mut selected: Vec<(u32, Arc<MemSeries>)> =
                all.iter().cloned().enumerate().map(|(i, s)| (i as u32, s)).collect();
            order.sort(&mut selected, &symbols);
            let got: Vec<Labels> = selected.iter().map(|(_, s)| s.labels(&symbols)).collect();
            let mut want = sets.clone();
            want.sort();
            prop_assert_eq!(got, want);
        }
    }
}
