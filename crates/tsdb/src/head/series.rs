//! One series in the head: its interned labels and its recent samples in
//! compressed chunks, plus the out-of-order samples accepted within the
//! configured window.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use agentmon_model::{Label, Labels, Sample};
use parking_lot::Mutex;

use super::symbols::Symbols;
use crate::chunk::{XorChunk, MAX_SAMPLES_PER_CHUNK};

pub(crate) struct MemSeries {
    /// (name id, value id) pairs, sorted by name.
    pub labels: Box<[(u32, u32)]>,
    /// The upper half of the label hash, to confirm lookups.
    pub check: u64,
    pub data: Mutex<SeriesData>,
    /// Id of the last append batch that touched this series, so a batch can
    /// tell when it sees the series a second time.
    pub batch_stamp: AtomicU64,
    /// Newest time and value accepted so far by the batch in `batch_stamp`.
    pending_time: AtomicI64,
    pending_bits: AtomicU64,
}

pub(crate) struct SeriesData {
    /// Time-ordered chunks; the last one is open for appends.
    pub chunks: Vec<XorChunk>,
    /// Out-of-order samples, sorted by time, none at a time also in `chunks`.
    pub out_of_order: Vec<Sample>,
    /// Newest in-order sample ever appended (kept when chunks move to a block).
    pub max_time: i64,
    pub last_value_bits: u64,
    /// The WAL epoch in which this series' labels were last logged.
    pub wal_epoch: u64,
}

/// What to do with one incoming sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    InOrder,
    OutOfOrder,
    /// The same value at the same time is already stored: nothing to do.
    Duplicate,
    /// A different value at a time already stored.
    ConflictingDuplicate,
    /// Older than the newest sample by more than the out-of-order window.
    TooOld,
}

impl MemSeries {
    pub fn new(labels: Box<[(u32, u32)]>, check: u64, wal_epoch: u64) -> MemSeries {
        MemSeries {
            labels,
            check,
            data: Mutex::new(SeriesData {
                chunks: Vec::new(),
                out_of_order: Vec::new(),
                max_time: i64::MIN,
                last_value_bits: 0,
                wal_epoch,
            }),
            batch_stamp: AtomicU64::new(0),
            pending_time: AtomicI64::new(i64::MIN),
            pending_bits: AtomicU64::new(0),
        }
    }

    pub fn labels(&self, symbols: &Symbols) -> Labels {
        Labels::from_sorted_unchecked(
            self.labels
                .iter()
                .map(|&(n, v)| Label {
                    name: symbols.get(n).to_owned(),
                    value: symbols.get(v).to_owned(),
                })
                .collect(),
        )
    }

    /// The newest (time, value bits) as the batch `stamp` sees it: what this
    /// batch already accepted for the series, else the stored state.
    /// All callers hold the commit lock, so Relaxed ordering suffices.
    pub fn newest_for_batch(&self, stamp: u64, data: &SeriesData) -> (i64, u64) {
        if self.batch_stamp.load(Ordering::Relaxed) == stamp {
            (
                self.pending_time.load(Ordering::Relaxed),
                self.pending_bits.load(Ordering::Relaxed),
            )
        } else {
            (data.max_time, data.last_value_bits)
        }
    }

    /// Records what the batch `stamp` has accepted for the series so far.
    pub fn set_pending(&self, stamp: u64, newest: (i64, u64)) {
        self.batch_stamp.store(stamp, Ordering::Relaxed);
        self.pending_time.store(newest.0, Ordering::Relaxed);
        self.pending_bits.store(newest.1, Ordering::Relaxed);
    }
}

/// Judges a sample given the newest (time, value bits) of its series and a
/// way to look up a stored sample's value at an older time.
pub(crate) fn judge(
    t: i64,
    v: f64,
    newest: (i64, u64),
    window_ms: i64,
    stored_value_at: impl FnOnce(i64) -> Option<u64>,
) -> Verdict {
    let (max_time, last_bits) = newest;
    if max_time == i64::MIN || t > max_time {
        return Verdict::InOrder;
    }
    if t == max_time {
        return if v.to_bits() == last_bits {
            Verdict::Duplicate
        } else {
            Verdict::ConflictingDuplicate
        };
    }
    // An older sample: a retry of one already stored is fine whatever the
    // window, a different value at a stored time never is.
    match stored_value_at(t) {
        Some(bits) if bits == v.to_bits() => Verdict::Duplicate,
        Some(_) => Verdict::ConflictingDuplicate,
        None if window_ms == 0 || t < max_time.saturating_sub(window_ms) => Verdict::TooOld,
        None => Verdict::OutOfOrder,
    }
}

impl SeriesData {
    pub fn stored_value_at(&self, t: i64) -> Option<u64> {
        if let Ok(i) = self.out_of_order.binary_search_by_key(&t, |s| s.t) {
            return Some(self.out_of_order[i].v.to_bits());
        }
        self.chunks
            .iter()
            .filter(|c| c.min_time() <= t && t <= c.max_time())
            .flat_map(|c| c.iter())
            .find(|s| s.t == t)
            .map(|s| s.v.to_bits())
    }

    pub fn append_in_order(&mut self, t: i64, v: f64) {
        let needs_new = self
            .chunks
            .last()
            .is_none_or(|c| c.len() >= MAX_SAMPLES_PER_CHUNK);
        if needs_new {
            if let Some(full) = self.chunks.last_mut() {
                full.shrink_to_fit();
            }
            // Grow by half rather than Vec's default first capacity of four
            // 64-byte chunks: most series hold one or two chunks, and with a
            // million series the slack would cost ~200 bytes each.
            if self.chunks.len() == self.chunks.capacity() {
                self.chunks.reserve_exact((self.chunks.len() / 2).max(1));
            }
            self.chunks.push(XorChunk::new());
        }
        if let Some(open) = self.chunks.last_mut() {
            open.append(t, v);
        }
        self.max_time = t;
        self.last_value_bits = v.to_bits();
    }

    /// Keeps a sample older than the newest; one at an existing time replaces it.
    pub fn insert_out_of_order(&mut self, sample: Sample) {
        match self.out_of_order.binary_search_by_key(&sample.t, |s| s.t) {
            Ok(i) => self.out_of_order[i] = sample,
            Err(i) => self.out_of_order.insert(i, sample),
        }
    }

    /// The data overlapping [mint, maxt], copied still compressed.
    pub fn copy_range(&self, mint: i64, maxt: i64) -> MemoryPart {
        MemoryPart::copy(&self.chunks, &self.out_of_order, mint, maxt)
    }

    /// The samples in [mint, maxt], in time order, decoded in place (what
    /// [`SeriesData::copy_range`] then [`MemoryPart::samples`] give,
    /// without copying the chunks first).
    pub fn samples(&self, mint: i64, maxt: i64) -> Vec<Sample> {
        samples_in_range(&self.chunks, &self.out_of_order, mint, maxt)
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.iter().all(|c| c.is_empty()) && self.out_of_order.is_empty()
    }

    pub fn min_time(&self) -> Option<i64> {
        let chunk_min = self
            .chunks
            .iter()
            .filter(|c| !c.is_empty())
            .map(|c| c.min_time())
            .min();
        let ooo_min = self.out_of_order.first().map(|s| s.t);
        match (chunk_min, ooo_min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn sample_count(&self) -> usize {
        self.chunks.iter().map(|c| c.len()).sum::<usize>() + self.out_of_order.len()
    }

    pub fn memory_bytes(&self) -> usize {
        self.chunks.iter().map(|c| c.memory_bytes()).sum::<usize>()
            + self.out_of_order.capacity() * std::mem::size_of::<Sample>()
    }
}

/// The samples of time-ordered chunks plus sorted out-of-order samples that
/// fall in [mint, maxt], in time order.
/// A series' in-memory samples over a time range, still compressed: copied
/// out of the head under its lock and decoded later, so a query holds head
/// data at its compressed size until it reads the series.
#[derive(Debug, Clone, Default)]
pub(crate) struct MemoryPart {
    chunks: Vec<XorChunk>,
    out_of_order: Vec<Sample>,
}

impl MemoryPart {
    /// Copies the chunks and out-of-order samples that overlap [mint, maxt].
    pub fn copy(chunks: &[XorChunk], out_of_order: &[Sample], mint: i64, maxt: i64) -> MemoryPart {
        MemoryPart {
            chunks: chunks
                .iter()
                .filter(|c| !c.is_empty() && c.max_time() >= mint && c.min_time() <= maxt)
                .cloned()
                .collect(),
            out_of_order: out_of_order
                .iter()
                .filter(|s| s.t >= mint && s.t <= maxt)
                .copied()
                .collect(),
        }
    }

    /// Whether no sample of the range was copied (chunks may still hold
    /// none in range; [`MemoryPart::samples`] is exact).
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty() && self.out_of_order.is_empty()
    }

    /// The samples in [mint, maxt], in time order.
    pub fn samples(&self, mint: i64, maxt: i64) -> Vec<Sample> {
        samples_in_range(&self.chunks, &self.out_of_order, mint, maxt)
    }
}

pub(crate) fn samples_in_range(
    chunks: &[XorChunk],
    out_of_order: &[Sample],
    mint: i64,
    maxt: i64,
) -> Vec<Sample> {
    let overlapping = || {
        chunks
            .iter()
            .filter(|c| !c.is_empty() && c.max_time() >= mint && c.min_time() <= maxt)
    };
    let mut out: Vec<Sample> =
        Vec::with_capacity(overlapping().map(XorChunk::len).sum::<usize>() + out_of_order.len());
    for chunk in overlapping() {
        if chunk.min_time() >= mint && chunk.max_time() <= maxt {
            out.extend(chunk.iter());
        } else {
            out.extend(chunk.iter().filter(|s| s.t >= mint && s.t <= maxt));
        }
    }
    if !out_of_order.is_empty() {
        out.extend(out_of_order.iter().filter(|s| s.t >= mint && s.t <= maxt));
        out.sort_by_key(|s| s.t);
    }
    out
}
