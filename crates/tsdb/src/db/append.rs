//! The write path: validate a whole batch, log it to the WAL, then apply it
//! to the head — all under the commit lock, so the WAL order is the order in
//! which samples reach the head and a batch lands whole or not at all.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use agentmon_model::{LabelRef, Labels, MetricMetadata, Sample, SeriesBatch};

use super::known::block_value_at;
use super::DbInner;
use crate::head::series::{judge, MemSeries, Verdict};
use crate::head::{hash_labels, LabelHash};
use crate::wal::RefSample;
use crate::TsdbError;

/// What an accepted batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct AppendSummary {
    pub series: usize,
    pub samples_appended: usize,
    /// Samples identical to one already stored (same time, same value):
    /// accepted without storing them twice, so retried requests succeed.
    pub samples_duplicate: usize,
    pub series_created: usize,
    /// Samples left out by [`super::Db::append_lenient`], counted by reason
    /// (always empty from [`super::Db::append`], where any is an error).
    pub samples_rejected: BTreeMap<&'static str, u64>,
}

/// What to do with a batch of which some samples cannot be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AppendMode {
    /// Refuse the whole batch: pushed writes, whose sender can fix and retry.
    Atomic,
    /// Store the rest and count the rejected samples, as Prometheus does
    /// for a scrape: one out-of-order sample must not cost a target's whole
    /// scrape.
    SkipRejected,
}

/// Why a batch was refused.
#[derive(Debug)]
pub enum AppendError {
    /// Some samples cannot be stored; nothing of the batch was written.
    Rejected(Rejection),
    /// The store could not write (disk full, closed, ...).
    Storage(TsdbError),
}

impl fmt::Display for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppendError::Rejected(r) => r.fmt(f),
            AppendError::Storage(e) => write!(f, "storage error: {e}"),
        }
    }
}

impl std::error::Error for AppendError {}

/// The samples of a batch that could not be stored, counted by reason.
#[derive(Debug, Default)]
pub struct Rejection {
    pub counts: BTreeMap<&'static str, u64>,
    /// The first rejected sample, described.
    pub first: String,
}

pub const REASON_OUT_OF_ORDER: &str = "out_of_order";
pub const REASON_DUPLICATE_TIMESTAMP: &str = "duplicate_timestamp";

impl Rejection {
    fn add(&mut self, reason: &'static str, labels: &[LabelRef<'_>], sample: Sample, newest: i64) {
        if self.counts.is_empty() {
            let series = Labels::from_refs(labels);
            self.first = match reason {
                REASON_OUT_OF_ORDER => format!(
                    "series {series}: sample at {} is older than the series' newest sample at {newest} (beyond the out-of-order window)",
                    sample.t
                ),
                _ => format!(
                    "series {series}: a different value is already stored at {}",
                    sample.t
                ),
            };
        }
        *self.counts.entry(reason).or_default() += 1;
    }

    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reasons: Vec<String> = self
            .counts
            .iter()
            .map(|(r, n)| format!("{r}: {n}"))
            .collect();
        write!(
            f,
            "{} samples rejected ({}), nothing of this request was written; first: {}",
            self.total(),
            reasons.join(", "),
            self.first
        )
    }
}

/// Where the samples of one batch entry go.
enum Target {
    Existing(u32, Arc<MemSeries>),
    /// Index into the batch's list of series to create.
    New(usize),
}

/// What validation decided for a batch so far.
struct Judged {
    /// (target index, sample, out of order?) for every sample to store.
    plan: Vec<(u32, Sample, bool)>,
    duplicates: usize,
    rejection: Rejection,
}

impl Judged {
    /// Records the verdict on one sample; `newest` follows accepted samples.
    fn record(
        &mut self,
        verdict: Verdict,
        target: u32,
        sample: Sample,
        newest: &mut (i64, u64),
        labels: &[LabelRef<'_>],
    ) {
        match verdict {
            Verdict::InOrder => {
                self.plan.push((target, sample, false));
                *newest = (sample.t, sample.v.to_bits());
            }
            Verdict::OutOfOrder => self.plan.push((target, sample, true)),
            Verdict::Duplicate => self.duplicates += 1,
            Verdict::ConflictingDuplicate => {
                self.rejection
                    .add(REASON_DUPLICATE_TIMESTAMP, labels, sample, newest.0)
            }
            Verdict::TooOld => self
                .rejection
                .add(REASON_OUT_OF_ORDER, labels, sample, newest.0),
        }
    }
}

struct NewSeries {
    entry: usize,
    hash: LabelHash,
    newest: (i64, u64),
}

impl DbInner {
    pub(super) fn append(
        &self,
        batch: &SeriesBatch<'_>,
        metadata: &[(&str, MetricMetadata)],
        mode: AppendMode,
    ) -> Result<AppendSummary, AppendError> {
        // Hashing needs no lock, so it happens before the commit lock.
        let hashes: Vec<LabelHash> = batch.iter().map(|s| hash_labels(s.labels)).collect();
        let oldest = batch
            .iter()
            .flat_map(|s| s.samples)
            .map(|s| s.t)
            .min()
            .unwrap_or(i64::MAX);
        let window = self.opts.out_of_order_window.as_millis() as i64;

        let mut commit = self.commit.lock();
        if commit.wal.is_none() {
            return Err(AppendError::Storage(TsdbError::Closed));
        }
        commit.stamp += 1;
        let stamp = commit.stamp;
        let epoch = commit.wal_epoch;
        // Taken before any series lock, see `known`. Blocks only matter to a
        // batch that reaches back into the time they cover; normal ingest
        // is newer than every block and skips the clone.
        let blocks = {
            let state = self.state.read();
            let reaches_blocks = state.blocks.iter().any(|b| b.meta().max_time >= oldest);
            if reaches_blocks {
                state.blocks.clone()
            } else {
                Vec::new()
            }
        };

        let mut targets = Vec::with_capacity(batch.series_count());
        let mut new_series: Vec<NewSeries> = Vec::new();
        let mut new_by_hash: HashMap<LabelHash, Vec<usize>> = HashMap::new();
        // How many series ahead to prefetch lookup slots: enough to cover a
        // memory access with the work on the series in between.
        const PREFETCH_AHEAD: usize = 8;
        let view = self.head.lookup_view();
        for &hash in hashes.iter().take(PREFETCH_AHEAD) {
            view.prefetch(hash);
        }
        let mut judged = Judged {
            plan: Vec::with_capacity(batch.sample_count()),
            duplicates: 0,
            rejection: Rejection::default(),
        };
        let mut relog: Vec<usize> = Vec::new();

        for (i, entry) in batch.iter().enumerate() {
            let hash = hashes[i];
            if let Some(&ahead) = hashes.get(i + PREFETCH_AHEAD) {
                view.prefetch(ahead);
            }
            let target = match view.find(hash) {
                Some((r, series)) => Target::Existing(r, series),
                None => {
                    let same = new_by_hash.get(&hash).and_then(|idxs| {
                        idxs.iter()
                            .copied()
                            .find(|&n| batch.get(new_series[n].entry).labels == entry.labels)
                    });
                    match same {
                        Some(n) => Target::New(n),
                        None => {
                            let newest = self.newest_outside_head(
                                &blocks,
                                hash,
                                entry.labels,
                                entry.samples,
                            );
                            new_series.push(NewSeries {
                                entry: i,
                                hash,
                                newest,
                            });
                            new_by_hash
                                .entry(hash)
                                .or_default()
                                .push(new_series.len() - 1);
                            Target::New(new_series.len() - 1)
                        }
                    }
                }
            };
            let target_index = targets.len() as u32;
            match &target {
                Target::Existing(_, series) => {
                    let data = series.data.lock();
                    let mut newest = series.newest_for_batch(stamp, &data);
                    if data.wal_epoch != epoch
                        && series.batch_stamp.load(Ordering::Relaxed) != stamp
                    {
                        relog.push(i);
                    }
                    for &s in entry.samples {
                        let stored = |t| {
                            data.stored_value_at(t)
                                .or_else(|| block_value_at(&blocks, entry.labels, t))
                        };
                        let verdict = judge(s.t, s.v, newest, window, stored);
                        judged.record(verdict, target_index, s, &mut newest, entry.labels);
                    }
                    series.set_pending(stamp, newest);
                }
                Target::New(n) => {
                    let mut newest = new_series[*n].newest;
                    for &s in entry.samples {
                        // An older sample of a new series can only collide with
                        // samples accepted earlier in this batch.
                        let stored = |t: i64| {
                            judged
                                .plan
                                .iter()
                                .find(|(ti, e, _)| {
                                    e.t == t
                                        && (*ti == target_index
                                            || matches!(targets.get(*ti as usize), Some(Target::New(m)) if m == n))
                                })
                                .map(|(_, e, _)| e.v.to_bits())
                                .or_else(|| block_value_at(&blocks, entry.labels, t))
                        };
                        let verdict = judge(s.t, s.v, newest, window, stored);
                        judged.record(verdict, target_index, s, &mut newest, entry.labels);
                    }
                    new_series[*n].newest = newest;
                }
            }
            targets.push(target);
        }

        drop(view);
        let Judged {
            plan,
            duplicates,
            rejection,
        } = judged;
        if !rejection.counts.is_empty() {
            for (reason, n) in &rejection.counts {
                self.metrics.add_rejected(reason, *n);
            }
            if mode == AppendMode::Atomic {
                return Err(AppendError::Rejected(rejection));
            }
        }

        // Log everything, then apply: a failed WAL write leaves the head untouched.
        let base_ref = self.head.next_ref();
        let changed_metadata: Vec<(&str, &MetricMetadata)> = {
            let known = self.head.metadata.read();
            metadata
                .iter()
                .filter(|(family, meta)| known.get(*family) != Some(meta))
                .map(|(family, meta)| (*family, meta))
                .collect()
        };
        {
            let wal = commit
                .wal
                .as_mut()
                .ok_or(AppendError::Storage(TsdbError::Closed))?;
            for (n, new) in new_series.iter().enumerate() {
                wal.add_series(base_ref + n as u32, batch.get(new.entry).labels);
            }
            for &i in &relog {
                if let Target::Existing(r, _) = &targets[i] {
                    wal.add_series(*r, batch.get(i).labels);
                }
            }
            let refs: Vec<RefSample> = plan
                .iter()
                .map(|&(t, s, _)| RefSample {
                    series_ref: match &targets[t as usize] {
                        Target::Existing(r, _) => *r,
                        Target::New(n) => base_ref + *n as u32,
                    },
                    t: s.t,
                    v: s.v,
                })
                .collect();
            if !refs.is_empty() {
                wal.add_samples(&refs);
            }
            for (family, meta) in &changed_metadata {
                wal.add_metadata(family, meta);
            }
            if let Err(e) = wal.commit() {
                wal.discard_pending();
                return Err(AppendError::Storage(e));
            }
        }

        let created: Vec<Arc<MemSeries>> = new_series
            .iter()
            .enumerate()
            .map(|(n, new)| {
                self.head.create(
                    base_ref + n as u32,
                    new.hash,
                    batch.get(new.entry).labels,
                    epoch,
                )
            })
            .collect();
        for &i in &relog {
            if let Target::Existing(_, series) = &targets[i] {
                series.data.lock().wal_epoch = epoch;
            }
        }
        let mut current: Option<(
            u32,
            parking_lot::MutexGuard<'_, crate::head::series::SeriesData>,
        )> = None;
        for &(t, s, out_of_order) in &plan {
            if current.as_ref().is_none_or(|(held, _)| *held != t) {
                drop(current.take());
                let series = match &targets[t as usize] {
                    Target::Existing(_, series) => series,
                    Target::New(n) => &created[*n],
                };
                current = Some((t, series.data.lock()));
            }
            if let Some((_, data)) = current.as_mut() {
                if out_of_order {
                    data.insert_out_of_order(s);
                } else {
                    data.append_in_order(s.t, s.v);
                }
            }
        }
        drop(current);
        if let (Some(min), Some(max)) = (
            plan.iter().map(|p| p.1.t).min(),
            plan.iter().map(|p| p.1.t).max(),
        ) {
            self.head_min_time.fetch_min(min, Ordering::Relaxed);
            self.head_max_time.fetch_max(max, Ordering::Relaxed);
            self.history.record(min);
        }
        if !changed_metadata.is_empty() {
            let mut known = self.head.metadata.write();
            for (family, meta) in changed_metadata {
                known.insert(family.to_owned(), meta.clone());
            }
        }
        drop(commit);

        self.metrics
            .samples_appended
            .fetch_add(plan.len() as u64, Ordering::Relaxed);
        self.metrics
            .samples_duplicate
            .fetch_add(duplicates as u64, Ordering::Relaxed);
        self.metrics
            .series_created
            .fetch_add(created.len() as u64, Ordering::Relaxed);
        Ok(AppendSummary {
            series: batch.series_count(),
            samples_appended: plan.len(),
            samples_duplicate: duplicates,
            series_created: created.len(),
            samples_rejected: rejection.counts,
        })
    }
}
