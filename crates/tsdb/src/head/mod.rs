//! The head: the in-memory part of the store that takes every write.
//!
//! Series are identified by a `u32` ref, stable for the life of the process
//! and recorded in the WAL. Label strings are interned ([`symbols`]), each
//! series keeps its samples in compressed chunks ([`series`]), and
//! [`postings`] index the series by label pair. Only the commit path of
//! [`crate::Db`] creates series, so it also owns the hash lookup from label
//! set to ref.

pub(crate) mod lookup;
pub(crate) mod order;
pub(crate) mod postings;
pub(crate) mod series;
pub(crate) mod symbols;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use agentmon_model::{LabelRef, Labels, Matcher, MetricMetadata, Sample};
use parking_lot::{Mutex, MutexGuard, RwLock, RwLockReadGuard};
use xxhash_rust::xxh3::Xxh3;

use crate::chunk::XorChunk;
use crate::index::{postings_for_matchers, IndexReader};
use crate::{Result, Series, TsdbError};
use order::SeriesOrder;
use postings::HeadPostings;
use series::MemSeries;
pub(crate) use series::MemoryPart;
use symbols::Symbols;

/// A 128-bit hash of a label set: `key` indexes the series lookup and
/// `check` confirms a match, so finding a series never compares strings
/// (two label sets agreeing on all 128 bits is not a practical concern).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct LabelHash {
    pub key: u64,
    pub check: u64,
}

/// Hashes `name 0xff value 0xff …` in one pass over a stack buffer when the
/// labels fit, which is much faster than feeding a streaming hasher.
pub(crate) fn hash_labels(labels: &[LabelRef<'_>]) -> LabelHash {
    let mut buf = [0u8; 512];
    let mut len = 0;
    for label in labels {
        let (n, v) = (label.name.as_bytes(), label.value.as_bytes());
        let end = len + n.len() + v.len() + 2;
        if end > buf.len() {
            return hash_labels_streaming(labels);
        }
        buf[len..len + n.len()].copy_from_slice(n);
        buf[len + n.len()] = 0xff;
        let at = len + n.len() + 1;
        buf[at..at + v.len()].copy_from_slice(v);
        buf[end - 1] = 0xff;
        len = end;
    }
    split(xxhash_rust::xxh3::xxh3_128(&buf[..len]))
}

fn hash_labels_streaming(labels: &[LabelRef<'_>]) -> LabelHash {
    let mut hasher = Xxh3::new();
    for label in labels {
        hasher.update(label.name.as_bytes());
        hasher.update(&[0xff]);
        hasher.update(label.value.as_bytes());
        hasher.update(&[0xff]);
    }
    split(hasher.digest128())
}

fn split(hash: u128) -> LabelHash {
    LabelHash {
        key: hash as u64,
        check: (hash >> 64) as u64,
    }
}

#[derive(Default)]
pub(crate) struct Head {
    pub symbols: RwLock<Symbols>,
    series: RwLock<Vec<Option<Arc<MemSeries>>>>,
    postings: RwLock<HeadPostings>,
    lookup: Mutex<SeriesLookup>,
    /// Newest (time, value bits) of series removed by garbage collection, by
    /// label hash, so a series that comes back is still checked for order.
    tombstones: Mutex<HashMap<LabelHash, (i64, u64)>>,
    pub metadata: RwLock<BTreeMap<String, MetricMetadata>>,
    /// The latest label-order snapshot of the series (see [`order`]).
    order: RwLock<Arc<SeriesOrder>>,
    /// Held while a snapshot is rebuilt, so concurrent queries do not
    /// rebuild it twice (they use the previous one meanwhile).
    order_rebuild: Mutex<()>,
}

/// Label-set hash → series ref; series whose `key` is taken by another
/// series go to a side table.
#[derive(Default)]
pub(crate) struct SeriesLookup {
    primary: lookup::RefTable,
    collisions: HashMap<u64, Vec<u32>>,
}

/// The head's lookup and series table held for a whole batch: one lock
/// acquisition per batch instead of per series.
pub(crate) struct LookupView<'a> {
    lookup: MutexGuard<'a, SeriesLookup>,
    series: RwLockReadGuard<'a, Vec<Option<Arc<MemSeries>>>>,
}

impl LookupView<'_> {
    /// Starts loading the lookup slot of a series that will be asked for soon.
    #[inline]
    pub fn prefetch(&self, hash: LabelHash) {
        self.lookup.primary.prefetch(hash.key);
    }

    /// The series with this label hash, and its ref.
    pub fn find(&self, hash: LabelHash) -> Option<(u32, Arc<MemSeries>)> {
        let matching = |r: u32| {
            self.series
                .get(r as usize)
                .and_then(Option::as_ref)
                .filter(|s| s.check == hash.check)
                .map(|s| (r, s.clone()))
        };
        let candidate = self.lookup.primary.get(hash.key)?;
        matching(candidate).or_else(|| {
            self.lookup
                .collisions
                .get(&hash.key)?
                .iter()
                .copied()
                .find_map(matching)
        })
    }
}

/// The chunks of one series taken out of the head for a block.
pub(crate) struct FrozenSeries {
    pub series_ref: u32,
    pub chunks: Vec<XorChunk>,
    pub out_of_order: Vec<Sample>,
}

impl FrozenSeries {
    pub fn samples(&self, mint: i64, maxt: i64) -> Vec<Sample> {
        series::samples_in_range(&self.chunks, &self.out_of_order, mint, maxt)
    }

    /// The data overlapping [mint, maxt], copied still compressed.
    pub fn copy_range(&self, mint: i64, maxt: i64) -> MemoryPart {
        MemoryPart::copy(&self.chunks, &self.out_of_order, mint, maxt)
    }
}

impl Head {
    pub fn new() -> Head {
        Head::default()
    }

    /// A view for looking up many series; drop it before creating series.
    pub fn lookup_view(&self) -> LookupView<'_> {
        LookupView {
            lookup: self.lookup.lock(),
            series: self.series.read(),
        }
    }

    /// Creates a series under a ref chosen by the caller (the commit path or
    /// WAL replay). Returns the existing series if the ref is taken.
    pub fn create(
        &self,
        series_ref: u32,
        hash: LabelHash,
        labels: &[LabelRef<'_>],
        wal_epoch: u64,
    ) -> Arc<MemSeries> {
        if let Some(existing) = self.get(series_ref) {
            return existing;
        }
        let interned: Box<[(u32, u32)]> = {
            let mut symbols = self.symbols.write();
            labels
                .iter()
                .map(|l| (symbols.intern(l.name), symbols.intern(l.value)))
                .collect()
        };
        let series = Arc::new(MemSeries::new(interned, hash.check, wal_epoch));
        if let Some((max_time, bits)) = self.tombstones.lock().remove(&hash) {
            let mut data = series.data.lock();
            data.max_time = max_time;
            data.last_value_bits = bits;
        }
        {
            let mut table = self.series.write();
            let slot = series_ref as usize;
            if table.len() <= slot {
                table.resize(slot + 1, None);
            }
            table[slot] = Some(series.clone());
        }
        self.postings.write().add(series_ref, &series.labels);
        let mut lookup = self.lookup.lock();
        match lookup.primary.get(hash.key) {
            None => lookup.primary.insert(hash.key, series_ref),
            Some(_) => lookup
                .collisions
                .entry(hash.key)
                .or_default()
                .push(series_ref),
        }
        drop(lookup);
        series
    }

    /// The newest (time, value bits) of a removed series with this label hash.
    pub fn tombstone(&self, hash: LabelHash) -> Option<(i64, u64)> {
        self.tombstones.lock().get(&hash).copied()
    }

    /// Records the newest (time, value bits) of a series not in the head,
    /// learnt from the blocks.
    pub fn set_tombstone(&self, hash: LabelHash, newest: (i64, u64)) {
        self.tombstones.lock().insert(hash, newest);
    }

    /// Forgets tombstones older than `cutoff` (their data is past retention).
    pub fn prune_tombstones(&self, cutoff: i64) {
        self.tombstones.lock().retain(|_, (t, _)| *t >= cutoff);
    }

    pub fn get(&self, series_ref: u32) -> Option<Arc<MemSeries>> {
        self.series
            .read()
            .get(series_ref as usize)
            .cloned()
            .flatten()
    }

    /// The next free ref.
    pub fn next_ref(&self) -> u32 {
        self.series.read().len() as u32
    }

    pub fn labels_of(&self, series: &MemSeries) -> Labels {
        series.labels(&self.symbols.read())
    }

    /// Refs of the series selected by `matchers`.
    pub fn postings_for(&self, matchers: &[Matcher]) -> Result<Vec<u32>> {
        let view = HeadIndex {
            postings: self.postings.read(),
            symbols: self.symbols.read(),
            series: self.series.read(),
        };
        postings_for_matchers(&view, matchers)
    }

    /// The series selected by `matchers`, with their refs, in the order of
    /// their label sets.
    pub fn select_sorted(&self, matchers: &[Matcher]) -> Result<Vec<(u32, Arc<MemSeries>)>> {
        let refs = self.postings_for(matchers)?;
        let mut selected: Vec<(u32, Arc<MemSeries>)> = {
            let table = self.series.read();
            refs.into_iter()
                .filter_map(|r| Some((r, table.get(r as usize)?.clone()?)))
                .collect()
        };
        let order = self.order();
        order.sort(&mut selected, &self.symbols.read());
        Ok(selected)
    }

    /// The current label-order snapshot, rebuilt first when the series
    /// created since the last one exceed a sixteenth of those it ranks
    /// (so rebuilds cost O(log n) comparisons per new series over time).
    fn order(&self) -> Arc<SeriesOrder> {
        let current = self.order.read().clone();
        let created_since = (self.next_ref() as usize).saturating_sub(current.covered());
        if created_since == 0 || created_since * 16 <= current.ranked() {
            return current;
        }
        let Some(_rebuilding) = self.order_rebuild.try_lock() else {
            return current;
        };
        // Symbols before series, the order every reader takes them in.
        let symbols = self.symbols.read();
        let rebuilt = Arc::new(SeriesOrder::build(&self.series.read(), &symbols));
        drop(symbols);
        *self.order.write() = rebuilt.clone();
        rebuilt
    }

    /// The selected series' data overlapping [mint, maxt], copied still
    /// compressed (see [`MemoryPart`]), in label order.
    pub fn select_parts(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, MemoryPart)>> {
        let selected = self.select_sorted(matchers)?;
        let copied: Vec<(Arc<MemSeries>, MemoryPart)> = selected
            .into_iter()
            .filter_map(|(_, series)| {
                let part = series.data.lock().copy_range(mint, maxt);
                (!part.is_empty()).then_some((series, part))
            })
            .collect();
        let symbols = self.symbols.read();
        Ok(copied
            .into_iter()
            .map(|(series, part)| (series.labels(&symbols), part))
            .collect())
    }

    /// The selected series' samples in [mint, maxt], decoded under each
    /// series' lock, in label order; series without any are left out.
    /// [`TsdbError::TooManySamples`] as soon as the samples exceed
    /// `max_samples`. For reads that
    /// decode everything at once anyway; [`Head::select_parts`] holds the
    /// data compressed until each series is read.
    pub fn select_decoded(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        max_samples: usize,
    ) -> Result<Vec<Series>> {
        let selected = self.select_sorted(matchers)?;
        let mut decoded: Vec<(Arc<MemSeries>, Vec<Sample>)> = Vec::with_capacity(selected.len());
        let mut total = 0usize;
        for (_, series) in selected {
            let samples = series.data.lock().samples(mint, maxt);
            if samples.is_empty() {
                continue;
            }
            total = total.saturating_add(samples.len());
            if total > max_samples {
                return Err(TsdbError::TooManySamples { limit: max_samples });
            }
            decoded.push((series, samples));
        }
        let symbols = self.symbols.read();
        Ok(decoded
            .into_iter()
            .map(|(series, samples)| Series {
                labels: series.labels(&symbols),
                samples,
            })
            .collect())
    }

    /// Label sets of the selected series that have data overlapping [mint, maxt].
    pub fn series_labels(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Labels>> {
        let refs = self.postings_for(matchers)?;
        let mut out = Vec::new();
        for r in refs {
            let Some(series) = self.get(r) else { continue };
            let overlaps = {
                let data = series.data.lock();
                data.min_time()
                    .is_some_and(|min| min <= maxt && data.max_time >= mint)
            };
            if overlaps {
                out.push(self.labels_of(&series));
            }
        }
        Ok(out)
    }

    /// Takes every series' chunks out of the head (for a block), keeping the
    /// series, their newest time and value. Runs under the commit lock.
    pub fn freeze(&self) -> Vec<FrozenSeries> {
        let table = self.series.read();
        let mut frozen = Vec::new();
        for (i, slot) in table.iter().enumerate() {
            let Some(series) = slot else { continue };
            let mut data = series.data.lock();
            if data.is_empty() {
                continue;
            }
            let mut chunks = std::mem::take(&mut data.chunks);
            if let Some(open) = chunks.last_mut() {
                open.shrink_to_fit();
            }
            frozen.push(FrozenSeries {
                series_ref: i as u32,
                chunks,
                out_of_order: std::mem::take(&mut data.out_of_order),
            });
        }
        frozen
    }

    /// Drops series that hold no samples (their data is in blocks).
    /// Returns how many were removed.
    pub fn garbage_collect(&self) -> usize {
        // Locks are taken one after another, never nested, so queries that
        // hold several read locks cannot deadlock with this.
        let removed: Vec<(u32, Arc<MemSeries>)> = {
            let mut table = self.series.write();
            table
                .iter_mut()
                .enumerate()
                .filter(|(_, slot)| slot.as_ref().is_some_and(|s| s.data.lock().is_empty()))
                .filter_map(|(i, slot)| slot.take().map(|s| (i as u32, s)))
                .collect()
        };
        if removed.is_empty() {
            return 0;
        }
        let hashes: Vec<(u32, LabelHash)> = {
            let symbols = self.symbols.read();
            removed
                .iter()
                .map(|(r, series)| {
                    let refs: Vec<LabelRef<'_>> = series
                        .labels
                        .iter()
                        .map(|&(n, v)| LabelRef::new(symbols.get(n), symbols.get(v)))
                        .collect();
                    (*r, hash_labels(&refs))
                })
                .collect()
        };
        {
            let mut tombstones = self.tombstones.lock();
            for ((_, series), (_, hash)) in removed.iter().zip(&hashes) {
                let data = series.data.lock();
                tombstones.insert(*hash, (data.max_time, data.last_value_bits));
            }
        }
        {
            let mut lookup = self.lookup.lock();
            for (r, hash) in hashes {
                if lookup.primary.get(hash.key) == Some(r) {
                    lookup.primary.remove(hash.key);
                    if let Some(mut others) = lookup.collisions.remove(&hash.key) {
                        if let Some(first) = others.pop() {
                            lookup.primary.insert(hash.key, first);
                            if !others.is_empty() {
                                lookup.collisions.insert(hash.key, others);
                            }
                        }
                    }
                } else if let Some(others) = lookup.collisions.get_mut(&hash.key) {
                    others.retain(|&o| o != r);
                    if others.is_empty() {
                        lookup.collisions.remove(&hash.key);
                    }
                }
            }
        }
        let removed_refs: HashSet<u32> = removed.iter().map(|(r, _)| *r).collect();
        self.postings.write().remove(&removed_refs);
        removed_refs.len()
    }

    pub fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>> {
        let symbols = self.symbols.read();
        if matchers.is_empty() {
            let postings = self.postings.read();
            let mut names: Vec<String> = postings
                .names()
                .map(|n| symbols.get(n).to_owned())
                .collect();
            names.sort();
            return Ok(names);
        }
        drop(symbols);
        let refs = self.postings_for(matchers)?;
        let symbols = self.symbols.read();
        let mut names = std::collections::BTreeSet::new();
        for r in refs {
            if let Some(s) = self.get(r) {
                names.extend(s.labels.iter().map(|&(n, _)| symbols.get(n).to_owned()));
            }
        }
        Ok(names.into_iter().collect())
    }

    pub fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>> {
        let symbols = self.symbols.read();
        let Some(name_id) = symbols.id(name) else {
            return Ok(Vec::new());
        };
        if matchers.is_empty() {
            let postings = self.postings.read();
            let mut values: Vec<String> = postings
                .values(name_id)
                .map(|(v, _)| symbols.get(v).to_owned())
                .collect();
            values.sort();
            return Ok(values);
        }
        drop(symbols);
        let refs = self.postings_for(matchers)?;
        let symbols = self.symbols.read();
        let mut values = std::collections::BTreeSet::new();
        for r in refs {
            if let Some(s) = self.get(r) {
                if let Some(&(_, v)) = s.labels.iter().find(|&&(n, _)| n == name_id) {
                    values.insert(symbols.get(v).to_owned());
                }
            }
        }
        Ok(values.into_iter().collect())
    }

    pub fn stats(&self) -> HeadStats {
        let table = self.series.read();
        let mut stats = HeadStats {
            min_time: i64::MAX,
            max_time: i64::MIN,
            ..HeadStats::default()
        };
        for series in table.iter().flatten() {
            stats.series += 1;
            let data = series.data.lock();
            stats.chunks += data.chunks.len() as u64;
            stats.samples += data.sample_count() as u64;
            stats.memory_bytes += data.memory_bytes() as u64 + 96 + series.labels.len() as u64 * 8;
            if let Some(min) = data.min_time() {
                stats.min_time = stats.min_time.min(min);
                stats.max_time = stats.max_time.max(data.max_time);
            }
        }
        drop(table);
        stats.label_pairs = self.postings.read().label_pair_count() as u64;
        stats.memory_bytes += self.lookup.lock().primary.memory_bytes() as u64;
        stats.memory_bytes += self.order.read().memory_bytes() as u64;
        stats.memory_bytes +=
            self.postings.read().memory_bytes() as u64 + self.symbols.read().memory_bytes() as u64;
        stats
    }

    /// Series count per label pair and per name, for the TSDB status page.
    pub fn cardinality(&self) -> Cardinality {
        let symbols = self.symbols.read();
        let postings = self.postings.read();
        let mut c = Cardinality::default();
        for name in postings.names() {
            let name_str = symbols.get(name).to_owned();
            let mut value_count = 0u64;
            let mut memory = 0u64;
            for (value, list) in postings.values(name) {
                value_count += 1;
                let value_str = symbols.get(value);
                memory += value_str.len() as u64 * list.len() as u64;
                if name_str == agentmon_model::METRIC_NAME_LABEL {
                    c.series_by_metric
                        .push((value_str.to_owned(), list.len() as u64));
                }
                c.series_by_pair
                    .push((format!("{name_str}={value_str}"), list.len() as u64));
            }
            c.values_by_name.push((name_str.clone(), value_count));
            c.memory_by_name.push((name_str, memory));
        }
        c
    }
}

#[derive(Debug, Default, Clone)]
pub(crate) struct HeadStats {
    pub series: u64,
    pub chunks: u64,
    pub samples: u64,
    pub label_pairs: u64,
    pub memory_bytes: u64,
    pub min_time: i64,
    pub max_time: i64,
}

#[derive(Debug, Default)]
pub(crate) struct Cardinality {
    pub series_by_metric: Vec<(String, u64)>,
    pub values_by_name: Vec<(String, u64)>,
    pub memory_by_name: Vec<(String, u64)>,
    pub series_by_pair: Vec<(String, u64)>,
}

/// A consistent read view of the head's index.
struct HeadIndex<'a> {
    postings: RwLockReadGuard<'a, HeadPostings>,
    symbols: RwLockReadGuard<'a, Symbols>,
    series: RwLockReadGuard<'a, Vec<Option<Arc<MemSeries>>>>,
}

impl IndexReader for HeadIndex<'_> {
    fn label_values(&self, name: &str) -> Result<Vec<String>> {
        let Some(name_id) = self.symbols.id(name) else {
            return Ok(Vec::new());
        };
        let mut values: Vec<String> = self
            .postings
            .values(name_id)
            .map(|(v, _)| self.symbols.get(v).to_owned())
            .collect();
        values.sort();
        Ok(values)
    }

    fn postings(&self, name: &str, value: &str) -> Result<Vec<u32>> {
        match (self.symbols.id(name), self.symbols.id(value)) {
            (Some(n), Some(v)) => Ok(self.postings.get(n, v).to_vec()),
            _ => Ok(Vec::new()),
        }
    }

    fn all_postings(&self) -> Result<Vec<u32>> {
        Ok(self
            .series
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_some())
            .map(|(i, _)| i as u32)
            .collect())
    }
}
