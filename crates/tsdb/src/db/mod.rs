//! [`Db`]: the head, the WAL and the blocks behind one handle.
//!
//! Lock order, always taken in this order and never the other way round:
//! `maintenance` → `commit` → `state` → the head's own locks. The write path
//! takes only `commit` and head locks; queries take `state` (read) and head
//! locks; flushes, compactions and retention take `maintenance` first.

mod append;
mod flush;
mod history;
mod known;
mod maintenance;
mod metrics;
mod open;
mod status;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::thread::JoinHandle;

use agentmon_model::{MetricMetadata, SeriesBatch};
use parking_lot::{Mutex, RwLock};

use append::AppendMode;
pub use append::{
    AppendError, AppendSummary, Rejection, REASON_DUPLICATE_TIMESTAMP, REASON_OUT_OF_ORDER,
};
pub use flush::FlushSummary;
pub use metrics::TsdbMetrics;
pub use open::OpenReport;
pub use status::{BlockStatus, CountEntry, HeadStatus, TsdbStatus};

use crate::block::Block;
use crate::head::{FrozenSeries, Head};
use crate::querier::Querier;
use crate::wal::WalWriter;
use crate::{Options, Result};

/// The embedded time-series store. Cheap to share behind an `Arc`; every
/// method may block on disk I/O, so async callers use `spawn_blocking`.
pub struct Db {
    inner: Arc<DbInner>,
    background: Mutex<Option<Background>>,
}

pub(crate) struct DbInner {
    pub dir: PathBuf,
    pub opts: Options,
    pub head: Head,
    pub commit: Mutex<CommitState>,
    pub state: RwLock<DbState>,
    pub maintenance: Mutex<()>,
    pub metrics: TsdbMetrics,
    pub open_report: OpenReport,
    /// Oldest and newest sample time appended since the last flush, to
    /// decide when to cut the head and which windows are complete.
    pub head_min_time: AtomicI64,
    pub head_max_time: AtomicI64,
    /// Which sample times changed since a reader looked.
    pub history: history::History,
    /// Held for the life of the store so no second process opens the same dir.
    _lock_file: std::fs::File,
}

pub(crate) struct CommitState {
    /// `None` once the store is closed.
    pub wal: Option<WalWriter>,
    /// Id of the current append batch.
    pub stamp: u64,
    /// First WAL segment of the current epoch: every series with samples in
    /// this epoch has its labels logged in it, so older segments can go once
    /// their samples are in blocks.
    pub wal_epoch: u64,
}

/// What queries see besides the head.
#[derive(Default)]
pub(crate) struct DbState {
    /// Sorted by min time, then id.
    pub blocks: Vec<Arc<Block>>,
    /// Head chunks taken out for a block that is not written yet.
    pub frozen: Vec<Arc<Frozen>>,
}

/// Chunks taken out of the head, sorted by series ref.
pub(crate) struct Frozen {
    pub series: Vec<FrozenSeries>,
    pub min_time: i64,
    pub max_time: i64,
}

impl Frozen {
    pub fn get(&self, series_ref: u32) -> Option<&FrozenSeries> {
        self.series
            .binary_search_by_key(&series_ref, |s| s.series_ref)
            .ok()
            .map(|i| &self.series[i])
    }
}

struct Background {
    stop: std::sync::mpsc::Sender<()>,
    handle: JoinHandle<()>,
}

impl Db {
    /// Opens (or creates) the store in `dir`: loads the blocks, replays the
    /// WAL into the head, and starts background maintenance.
    pub fn open(dir: &Path, opts: Options) -> Result<Db> {
        let inner = Arc::new(DbInner::open(dir, opts)?);
        let background = inner
            .opts
            .background_compaction
            .then(|| maintenance::start(inner.clone()));
        Ok(Db {
            inner,
            background: Mutex::new(background),
        })
    }

    /// A token for the store's contents now: take it before reading, and
    /// [`Db::changed_since`] later says what changed after it.
    pub fn generation(&self) -> u64 {
        self.inner.history.generation()
    }

    /// The oldest sample time that appends or deletions changed after
    /// `generation`, or `None` if nothing changed. Results computed from
    /// data before that time (and taken after the generation) still hold.
    pub fn changed_since(&self, generation: u64) -> Option<i64> {
        self.inner.history.changed_since(generation)
    }

    /// Appends a batch atomically: every sample is stored (or recognised as
    /// an exact duplicate) or none is. The WAL has the batch before this
    /// returns `Ok`.
    pub fn append(
        &self,
        batch: &SeriesBatch<'_>,
        metadata: &[(&str, MetricMetadata)],
    ) -> std::result::Result<AppendSummary, AppendError> {
        self.inner.append(batch, metadata, AppendMode::Atomic)
    }

    /// Appends what can be stored of a batch and counts the rest in
    /// [`AppendSummary::samples_rejected`] (out of order beyond the window,
    /// or a different value at a stored timestamp), as a scrape needs.
    pub fn append_lenient(
        &self,
        batch: &SeriesBatch<'_>,
        metadata: &[(&str, MetricMetadata)],
    ) -> std::result::Result<AppendSummary, AppendError> {
        self.inner.append(batch, metadata, AppendMode::SkipRejected)
    }

    /// A reader over [mint, maxt] (inclusive, milliseconds).
    pub fn querier(&self, mint: i64, maxt: i64) -> Querier {
        Querier::new(self.inner.clone(), mint, maxt)
    }

    /// Writes everything in the head to blocks now, truncates the WAL, then
    /// runs compaction and retention.
    pub fn flush(&self) -> Result<FlushSummary> {
        self.inner.flush()
    }

    /// Runs one round of compaction and retention now.
    pub fn compact(&self) -> Result<usize> {
        let compacted = self.inner.compact_all()?;
        self.inner.apply_retention()?;
        Ok(compacted)
    }

    /// Metadata of every metric family seen, sorted by family.
    pub fn metadata(&self) -> Vec<(String, MetricMetadata)> {
        self.inner
            .head
            .metadata
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The data of Prometheus's `/api/v1/status/tsdb`, with `limit` entries per list.
    pub fn status(&self, limit: usize) -> TsdbStatus {
        self.inner.status(limit)
    }

    /// Appends the `agentmon_tsdb_*` metric families in the text format.
    pub fn write_metrics(&self, out: &mut String) {
        self.inner.write_metrics(out)
    }

    pub fn metrics(&self) -> &TsdbMetrics {
        &self.inner.metrics
    }

    /// What opening the store found: blocks, WAL replay, anything dropped.
    pub fn open_report(&self) -> &OpenReport {
        &self.inner.open_report
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Stops background work and closes the WAL cleanly (final fsync).
    /// Appends after this fail with [`crate::TsdbError::Closed`]. Idempotent.
    pub fn close(&self) -> Result<()> {
        if let Some(bg) = self.background.lock().take() {
            let _ = bg.stop.send(());
            let _ = bg.handle.join();
        }
        let _maintenance = self.inner.maintenance.lock();
        let wal = self.inner.commit.lock().wal.take();
        match wal {
            Some(wal) => wal.close(),
            None => Ok(()),
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::error!(error = %e, "closing the store failed");
        }
    }
}
